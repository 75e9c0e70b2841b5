#!/bin/sh
# Builds the reference server: Benchmarks/Reference/build.sh [OUTPUT]   (default /tmp/reference-server)
# Needs only a C compiler and libc headers (Debian: apt-get install gcc libc6-dev); no other libraries.
set -eu
cc -O2 -Wall -Wextra -o "${1:-/tmp/reference-server}" "$(dirname "$0")/reference-server.c"
