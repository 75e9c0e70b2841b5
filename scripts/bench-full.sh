#!/usr/bin/env bash
# The full measurements of Benchmarks/README.md: a fresh release `chorus` per run, pinned to CPU 0 with one event
# loop, and `chorus-bench` pinned to CPU 1, both on loopback. Results go to Benchmarks/Results/*.json; then
# scripts/plot-bench.py draws the plots. Bounded: at most 18,000 connections, each run stops by itself.
#
#   scripts/bench-full.sh BIN_DIR ALLOCATOR SCENARIO...
#     ALLOCATOR  glibc | glibc-arena2 (MALLOC_ARENA_MAX=2) | jemalloc (LD_PRELOAD libjemalloc.so.2)
#     SCENARIO   idle-N (N idle connections, 4 source addresses) | broadcast-SUBSCRIBERSxRATE (64 B, 10 s)
#   e.g. scripts/bench-full.sh .build/release glibc idle-18000 broadcast-10000x10 broadcast-1000x100
#   TRANSPORT=epoll runs the server with --transport epoll (results get an -epoll suffix); default nio.
#   TRANSPORT=reference runs Benchmarks/Reference's minimal C server instead (built into BIN_DIR; -reference
#   suffix), the floor to compare with in the same sitting.
#   PROTOCOL=chorus.v1 has the subscribers speak chorus.v1 (results get a -chorus.v1 suffix); default raw.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${1:?usage: scripts/bench-full.sh BIN_DIR ALLOCATOR SCENARIO...}
ALLOCATOR=${2:?allocator: glibc, glibc-arena2 or jemalloc}
shift 2
RESULTS=Benchmarks/Results
TRANSPORT=${TRANSPORT:-nio}
SUFFIX=""
[ "$TRANSPORT" = nio ] || SUFFIX="-$TRANSPORT"
PROTOCOL=${PROTOCOL:-raw}
[ "$PROTOCOL" = raw ] || SUFFIX="$SUFFIX-$PROTOCOL"
mkdir -p "$RESULTS"

case "$ALLOCATOR" in
glibc) SERVER_ENV=() ;;
glibc-arena2) SERVER_ENV=(MALLOC_ARENA_MAX=2) ;;
jemalloc) SERVER_ENV=(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2) ;;
*) echo "unknown allocator $ALLOCATOR" >&2; exit 1 ;;
esac

for SCENARIO in "$@"; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if [ "$TRANSPORT" = reference ]; then
        [ -x "$BIN_DIR/reference-server" ] || Benchmarks/Reference/build.sh "$BIN_DIR/reference-server"
        env "${SERVER_ENV[@]}" taskset -c 0 "$BIN_DIR/reference-server" "$PORT" &
    else
        env "${SERVER_ENV[@]}" taskset -c 0 "$BIN_DIR/chorus" --port "$PORT" --event-loops 1 --transport "$TRANSPORT" \
            --log-level warning &
    fi
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    BENCH=(taskset -c 1 "$BIN_DIR/chorus-bench")
    PROTOCOL_OPTION=(--protocol "$PROTOCOL")
    COMMON=(--server-pid "$SERVER" --label "$ALLOCATOR$SUFFIX" --json "$RESULTS/$SCENARIO-$ALLOCATOR$SUFFIX.json")
    echo "== $SCENARIO, $ALLOCATOR, $TRANSPORT (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    case "$SCENARIO" in
    idle-*)
        "${BENCH[@]}" idle "${PROTOCOL_OPTION[@]}" --url "ws://127.0.0.1:$PORT/ws/idle" --connections "${SCENARIO#idle-}" \
            --source-addresses 4 "${COMMON[@]}"
        ;;
    broadcast-*)
        SHAPE=${SCENARIO#broadcast-}
        "${BENCH[@]}" broadcast "${PROTOCOL_OPTION[@]}" --url "ws://127.0.0.1:$PORT/ws/fanout" --subscribers "${SHAPE%x*}" \
            --rate "${SHAPE#*x}" --size 64 --duration 10 --warmup 2 --source-addresses 4 "${COMMON[@]}"
        ;;
    *) echo "unknown scenario $SCENARIO" >&2; exit 1 ;;
    esac
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
done
