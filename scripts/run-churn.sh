#!/usr/bin/env bash
# Starts a Chorus (argument: its binary) on a free loopback port and runs scripts/churn.py against it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: scripts/run-churn.sh path/to/chorus [churn.py options]}
shift
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$BIN" --port "$PORT" --log-level warning > "$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
python3 scripts/churn.py --port "$PORT" "$@"
