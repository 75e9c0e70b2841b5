#!/usr/bin/env bash
# The whole test suite (unit and end-to-end over loopback) under AddressSanitizer. Swift Testing only:
# XCTest's own runner leaks a few bytes that LeakSanitizer would report (see shared TOOLING.md).
# Uses its own build folder so it does not replace the ThreadSanitizer build of README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
# One-off allocations outside Chorus's sources that live until exit are listed (and explained) here.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan-suppressions.txt}"
swift test --sanitize=address --disable-xctest --no-parallel --scratch-path .build-asan "$@"
