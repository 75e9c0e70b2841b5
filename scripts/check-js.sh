#!/usr/bin/env bash
# chorus.js (clients/js): its unit tests, then the end-to-end tests against a real Chorus (argument: its binary),
# with Node's built-in test runner; nothing to install. Node 20 needs --experimental-websocket for a global
# WebSocket. The browser test runs when Chromium is installed (or CHORUS_CHROMIUM names it), else says it skipped.
#
# First its size (issue 22's target: under 8 KiB minified), measured with rjsmin from PyPI in .venv-js (comments
# and whitespace removed, no renaming) and gzip -9. `scripts/check-js.sh --size` checks only that and fails above
# 8,192 bytes; the full run prints the figures and, until chorus.js meets the target, does not fail on them
# (CHORUS_JS_SIZE_GATE=1 makes it fail there too).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_MINIFIED=8192
size_check() {
    [ -x .venv-js/bin/python ] || python3 -m venv .venv-js
    .venv-js/bin/pip install -q --disable-pip-version-check rjsmin==1.3.0
    .venv-js/bin/python - "$MAX_MINIFIED" <<'PY'
import gzip, sys
import rjsmin
limit = int(sys.argv[1])
source = open("clients/js/chorus.js", "rb").read()
minified = rjsmin.jsmin(source.decode()).encode()
packed = len(gzip.compress(minified, 9))
verdict = "ok" if len(minified) <= limit else f"OVER the {limit}-byte target"
print(f"chorus.js: {len(source)} bytes, {len(minified)} minified (rjsmin), {packed} minified+gzip: {verdict}")
sys.exit(0 if len(minified) <= limit else 1)
PY
}
if [ "${1:-}" = "--size" ]; then
    size_check
    exit
fi
BIN=${1:?usage: scripts/check-js.sh path/to/chorus | scripts/check-js.sh --size}
if ! size_check && [ "${CHORUS_JS_SIZE_GATE:-0}" = 1 ]; then
    echo "FAIL: chorus.js is over $MAX_MINIFIED bytes minified"
    exit 1
fi
command -v node >/dev/null || { echo "FAIL: node (20 or later) is not installed"; exit 1; }
FLAGS=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || FLAGS=(--experimental-websocket)
# The embedded copy served at GET /chorus.js must be this file (the Swift tests check it too).
scripts/generate-chorus-js.sh --check
CHORUS_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" node "${FLAGS[@]}" --test clients/js/test/
