#!/bin/bash
# Container health check for Chorus: GET /healthz on the local port, healthy on HTTP 200.
# Uses only bash's /dev/tcp, so the runtime image needs no curl or wget (fewer packages, fewer CVEs).
# Usage: healthcheck.sh [PORT]   (default: $CHORUS_PORT, else 8080)
set -euo pipefail
port="${1:-${CHORUS_PORT:-8080}}"
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 3 status <&3
exec 3<&-
case "$status" in
"HTTP/1."[01]" 200"*) exit 0 ;;
*)
    echo "unhealthy: ${status:-no answer}" >&2
    exit 1
    ;;
esac
