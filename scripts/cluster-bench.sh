#!/usr/bin/env bash
# Usage: [RATE=2] scripts/cluster-bench.sh [BIN_DIR]. Needs redis-server. Both nodes on CPU 0, the load generator on CPU 1.
# 2 nodes x 5,000 subscribers through a real redis-server; latency measured on node B's subscribers for
# messages published on node A (every message crosses Redis).
set -euo pipefail
BIN=${1:-.build/release}   # holding chorus and chorus-bench (swift build -c release --product chorus / chorus-bench)
W=$(mktemp -d)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(freeport); PA=$(freeport); PB=$(freeport)
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --daemonize no > $W/redis.log 2>&1 & R=$!
sleep 0.5
taskset -c 0 $BIN/chorus --port $PA --event-loops 1 --redis redis://127.0.0.1:$RP --log-level warning --ping-interval 60m > $W/a.log 2>&1 & A=$!
taskset -c 0 $BIN/chorus --port $PB --event-loops 1 --redis redis://127.0.0.1:$RP --log-level warning --ping-interval 60m > $W/b.log 2>&1 & B=$!
trap 'kill $A $B $R 2>/dev/null; wait 2>/dev/null; rm -rf $W' EXIT
for p in $PA $PB; do for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$p/readyz >/dev/null && break; sleep 0.1; done; done
taskset -c 1 $BIN/chorus-bench idle --url ws://127.0.0.1:$PA/ws/x --connections 5000 --source-addresses 2 --hold 45 --settle 1 --quiet --json $W/idle.json &
I=$!
# wait until node A holds the 5,000 subscribers and the idle client's one message has gone round
for _ in $(seq 1 600); do
  n=$(curl -s http://127.0.0.1:$PA/metrics | awk '/^chorus_connections /{print int($2)}')
  [ "${n:-0}" -ge 5000 ] && break; sleep 0.1
done
sleep 4
echo "node A connections: $n"
taskset -c 1 $BIN/chorus-bench broadcast --url ws://127.0.0.1:$PB/ws/x --publish-url ws://127.0.0.1:$PA --subscribers 5000 \
  --rate ${RATE:-10} --size 64 --duration 10 --warmup 2 --source-addresses 2 --server-pid $B --quiet --json $W/b.json
python3 - $W/b.json <<'PY'
import json,sys
d=json.load(open(sys.argv[1])); l=d["latency_us"]
print(f'cross-node: {d["connected"]}/{d["subscribers"]} on B, expected {d["expected"]}, received {d["received"]}, lost {d["lost"]}; '
      f'{d["deliveries_per_second"]:.0f} deliveries/s on B; latency ms p50 {l["p50"]/1000:.1f} p90 {l["p90"]/1000:.1f} p99 {l["p99"]/1000:.1f} max {l["max"]/1000:.1f}')
PY
kill $I 2>/dev/null || true
curl -s http://127.0.0.1:$PA/metrics | grep -E '^chorus_(deliveries_total|frames_encoded_total|cluster_messages_total)'
echo B; curl -s http://127.0.0.1:$PB/metrics | grep -E '^chorus_(deliveries_total|frames_encoded_total|cluster_messages_total)'
