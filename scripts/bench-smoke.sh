#!/usr/bin/env bash
# CI smoke run of chorus-bench, so the load generator cannot rot: starts the release `chorus` from BIN_DIR on a
# free loopback port, runs a small idle and a small broadcast scenario, and fails unless every connection
# upgraded and nothing was lost. Full measurements are documented in Benchmarks/README.md, not timed here.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${1:?usage: scripts/bench-smoke.sh BIN_DIR (holding chorus and chorus-bench)}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
"$BIN_DIR/chorus" --port "$PORT" --log-level warning > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

URL="ws://127.0.0.1:$PORT/ws/smoke"
timeout 60 "$BIN_DIR/chorus-bench" idle --url "$URL" --connections 200 --settle 1 --quiet \
    --server-pid "$SERVER" --json "$WORK/idle.json"
timeout 60 "$BIN_DIR/chorus-bench" broadcast --url "$URL" --subscribers 100 --rate 20 --duration 2 --warmup 1 \
    --quiet --server-pid "$SERVER" --json "$WORK/broadcast.json"

python3 - "$WORK/idle.json" "$WORK/broadcast.json" <<'PY'
import json, sys
failures = []
for path in sys.argv[1:]:
    result = json.load(open(path))
    name = result["scenario"]
    wanted = result.get("connections", result.get("subscribers"))
    if result["connected"] != wanted or result["failed"] != 0:
        failures.append(f"{name}: {result['connected']}/{wanted} connected, {result['failed']} failed")
    if result["lost"] != 0 or result["expected"] <= 0:
        failures.append(f"{name}: lost {result['lost']} of {result['expected']}")
    if name == "broadcast" and result["server"]["buffer_reuse"] < wanted:
        failures.append(f"broadcast: buffer reuse {result['server']['buffer_reuse']} < {wanted} subscribers")
if failures:
    print("FAIL: " + "; ".join(failures))
    sys.exit(1)
print("bench smoke: all connected, zero loss")
PY
