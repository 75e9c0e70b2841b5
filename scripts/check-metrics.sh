#!/usr/bin/env bash
# Checks /metrics end to end against real tools: a running Chorus under a little load is scraped, the scrape
# must pass `promtool check metrics` with no findings, and a real Prometheus scraping it must see the values
# the load produced. Everything binds to 127.0.0.1 and stops on exit.
#
# usage: scripts/check-metrics.sh [path/to/chorus]
set -euo pipefail
cd "$(dirname "$0")/.."

CHORUS_BIN=${1:-$(swift build --show-bin-path)/chorus}
CLIENTS=20
MESSAGES=10
WORK=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

# Tools: promtool and prometheus from Debian, websockets from PyPI in a venv.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [ ! -x .venv-ci/bin/python ]; then
    python3 -m venv .venv-ci
    .venv-ci/bin/pip install -q websockets
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PORT=$(free_port)
"$CHORUS_BIN" --port "$PORT" --log-level warning > "$WORK/chorus.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || fail "chorus did not start: $(cat "$WORK/chorus.log")"

# Load: subscribers that stay connected while we scrape.
mkfifo "$WORK/hold"
.venv-ci/bin/python scripts/load_clients.py --port "$PORT" --clients $CLIENTS --messages $MESSAGES \
    < "$WORK/hold" > "$WORK/load.out" 2>&1 &
pids+=($!)
exec 3> "$WORK/hold"  # keeps the clients' stdin open until this script ends
for _ in $(seq 1 200); do grep -q '^ready' "$WORK/load.out" && break; sleep 0.1; done
grep -q '^ready' "$WORK/load.out" || fail "load did not complete: $(cat "$WORK/load.out")"
echo "PASS load: $CLIENTS subscribers, $MESSAGES publishes, every message received"

# 1. promtool on a live scrape: no errors and no lint findings.
curl -sf "http://127.0.0.1:$PORT/metrics" > "$WORK/scrape.txt"
if promtool check metrics < "$WORK/scrape.txt"; then
    echo "PASS promtool check metrics ($(grep -c '^# HELP' "$WORK/scrape.txt") families)"
else
    fail "promtool check metrics"
fi

# 2. A real Prometheus scrapes Chorus; its API must show what the load did.
PROM_PORT=$(free_port)
cat > "$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: chorus
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
promtool check config "$WORK/prometheus.yml" >/dev/null || fail "generated prometheus config"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
pids+=($!)

query() {
    curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
value=""
for _ in $(seq 1 60); do
    value=$(query chorus_connections 2>/dev/null || true)
    [ -n "$value" ] && break
    sleep 0.5
done
[ -n "$value" ] || fail "Prometheus never scraped chorus_connections: $(tail -5 "$WORK/prometheus.log")"

expect_equal() {
    local got; got=$(query "$1")
    python3 -c "import sys; sys.exit(0 if float('${got:-nan}') == float('$2') else 1)" \
        && echo "PASS prometheus: $1 = $got" || fail "prometheus: $1 = '${got}', expected $2"
}
expect_equal chorus_connections "$CLIENTS"
expect_equal chorus_deliveries_total "$((CLIENTS * MESSAGES))"
expect_equal chorus_frames_encoded_total "$MESSAGES"
expect_equal 'chorus_deliveries_total / chorus_frames_encoded_total' "$CLIENTS"
per_connection=$(query chorus_memory_per_connection_bytes)
python3 -c "import sys; v=float('${per_connection:-nan}'); sys.exit(0 if 0 <= v < 10_000_000 else 1)" \
    && echo "PASS prometheus: chorus_memory_per_connection_bytes = $per_connection" \
    || fail "prometheus: chorus_memory_per_connection_bytes = '$per_connection'"
expect_equal 'chorus_connection_memory_bytes_count' "$CLIENTS"
echo "PASS metrics checks"
