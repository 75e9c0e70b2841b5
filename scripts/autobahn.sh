#!/usr/bin/env bash
# Runs the Autobahn|Testsuite cases (kosoku, from PyPI) against Chorus's echo endpoint: 1.* to 10.*, and a
# subset of the permessage-deflate cases 12.* and 13.* (AUTOBAHN_COMPRESSION=all runs every one of them), then a
# round trip with PyPI's `websockets` client (scripts/compression_roundtrip.py).
#
#   scripts/autobahn.sh [path/to/chorus]
#   AUTOBAHN_COMPRESSION=all scripts/autobahn.sh .build/debug/chorus     # all 216 compression cases
#
# Without an argument it uses the `chorus` that `swift build` produced (debug). It creates .venv-autobahn/ and
# installs kosoku there, starts the server on a free loopback port with the echo endpoint, runs the cases
# serially, prints the counts by outcome and every case that is not OK, and fails if any case is FAILED or
# ERROR, if the server died, or if a sanitizer reported in its log. The report goes to $AUTOBAHN_OUTDIR
# (default .build-autobahn/report; not committed).
#
# Server limits for the run: the 9.* cases send messages up to 16 MiB (9.1.6 and 9.2.6: one 16 MiB frame;
# 9.3.*/9.4.*: 4 MiB in fragments of 64 B to 4 MiB), so --max-message-bytes is 16777216. The default 1 MiB
# --max-pending-bytes stays: a 16 MiB echo is queued whole (the channel then reads as unwritable until it drains)
# and each case waits for its echo before sending more, so no case meets the slow-consumer policy. Liveness pings are
# moved out of the way (--ping-interval 60m): a server ping is an unsolicited event to the Autobahn cases, and one
# landing mid-case ends it early (their onPing calls finishWhenDone; seen on 9.7.1/9.8.1 with the default 30 s).
# Compression: each 12.*/13.* case echoes 1,000 messages (16 B to 128 KiB), so all 216 take several minutes; CI runs
# COMPRESSION_SUBSET (24 cases; see below and docs/conformance.md), which covers every data set and
# every offer variant of 13.* at small sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-}"
if [[ -z "$binary" ]]; then
    binary="$(swift build --show-bin-path)/chorus"
fi
if [[ ! -x "$binary" ]]; then
    echo "autobahn: no executable at $binary (run swift build first, or pass the binary's path)" >&2
    exit 2
fi
outdir="${AUTOBAHN_OUTDIR:-.build-autobahn/report}"
venv=".venv-autobahn"

if [[ ! -x "$venv/bin/kosoku" ]] || ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kosoku==0.1.0 websockets==17.4
fi
python="$venv/bin/python"

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp -t chorus-autobahn.XXXXXX.log)"
"$binary" --host 127.0.0.1 --port "$port" --echo-path /echo \
    --max-message-bytes 16777216 --ping-interval 60m --log-level warning >"$log" 2>&1 &
server=$!
stop_server() {
    if kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap stop_server EXIT

# Wait (up to ~10 s) for the listener.
"$python" - "$port" <<'EOF' || { cat "$log" >&2; exit 1; }
import sys, time, urllib.request
port = sys.argv[1]
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("autobahn: chorus did not start listening")
EOF

# The compression cases CI runs. 12.N.M: data set N (1 JSON, 2 bitmap, 3 German text, 4 HTML, 5 PDF) at size
# M (1-10: 16 B to 128 KiB whole; 11-15: 8-128 KiB in 256 B fragments; 16-18: 128 KiB in 1-32 KiB fragments);
# 13.N.M: offer/accept variant N (1 default, 2 no context takeover, 3 window 9, 4 window 15, 5-6 both, 7 three
# offers to choose from) at the same sizes. Every case echoes 1,000 messages, so time grows with M: the subset
# keeps every data set and every offer variant at small sizes plus one fragmented case, about a tenth of the
# full set's time. The large sizes run with AUTOBAHN_COMPRESSION=all (see docs/conformance.md for the last full result).
COMPRESSION_SUBSET=(
    -i '12.1.1' -i '12.1.2' -i '12.1.3' -i '12.1.4' -i '12.1.5' -i '12.1.11'
    -i '12.2.3' -i '12.3.3' -i '12.4.3' -i '12.5.3'
    -i 13.1.1 -i 13.2.1 -i 13.3.1 -i 13.4.1 -i 13.5.1 -i 13.6.1 -i 13.7.1
    -i 13.1.4 -i 13.2.4 -i 13.3.4 -i 13.4.4 -i 13.5.4 -i 13.6.4 -i 13.7.4
)
# (Exact ids: kosoku matches a pattern at the start of a case id, so '13.*.1' would also take 13.*.10-18.)
if [[ "${AUTOBAHN_COMPRESSION:-subset}" == "all" ]]; then
    compression=(-i '12.*' -i '13.*')
else
    compression=("${COMPRESSION_SUBSET[@]}")
fi

echo "== autobahn: $binary on port $port, cases 1.* to 10.* and ${AUTOBAHN_COMPRESSION:-subset} of 12.*/13.*, report in $outdir"
rm -rf "$outdir"
mkdir -p "$outdir"
start=$SECONDS
set +e
"$venv/bin/kosoku" \
    -i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '9.*' -i '10.*' \
    "${compression[@]}" \
    -o "$outdir" "ws://127.0.0.1:$port/echo" >"$outdir/kosoku.log" 2>&1
kosoku_status=$?
set -e
elapsed=$((SECONDS - start))

# A dead server, or a sanitizer report in its log (for a binary built with --sanitize), fails the run.
server_alive=1
if ! kill -0 "$server" 2>/dev/null; then
    server_alive=0
    echo "autobahn: chorus exited during the run; its log:" >&2
    cat "$log" >&2
elif grep -qE 'Sanitizer|runtime error:' "$log"; then
    server_alive=0
    echo "autobahn: sanitizer report in the chorus log:" >&2
    cat "$log" >&2
fi

"$python" - "$outdir/index.json" "$elapsed" "$kosoku_status" "$server_alive" <<'EOF'
import collections, json, sys

path, elapsed, kosoku_status, server_alive = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
try:
    with open(path) as f:
        index = json.load(f)
except (OSError, ValueError) as error:
    sys.exit(f"autobahn: no report at {path} ({error}); kosoku exited {kosoku_status}")

def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))

counts = collections.Counter()
not_ok = []
for agent, cases in index.items():
    for case_id, result in cases.items():
        behavior = result.get("behavior", "?")
        counts[behavior] += 1
        if behavior != "OK":
            not_ok.append((case_id, behavior, result.get("behaviorClose", "?"), result.get("remoteCloseCode")))

order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]
summary = ", ".join(f"{name} {counts[name]}" for name in order if counts[name]) or "no cases"
others = sorted(set(counts) - set(order))
if others:
    summary += ", " + ", ".join(f"{name} {counts[name]}" for name in others)
print(f"== autobahn: {sum(counts.values())} cases in {elapsed} s: {summary}")
for case_id, behavior, close, code in sorted(not_ok, key=lambda item: case_key(item[0])):
    print(f"   {case_id:<10} {behavior:<14} close: {close}, server close code {code}")

failed = counts["FAILED"] + counts["ERROR"]
if failed or not server_alive or sum(counts.values()) == 0:
    problem = "" if server_alive else "; the server died or a sanitizer reported"
    sys.exit(f"autobahn: {failed} case(s) FAILED or ERROR{problem}")
EOF

"$python" scripts/compression_roundtrip.py "$port"
