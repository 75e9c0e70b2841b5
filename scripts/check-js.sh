#!/usr/bin/env bash
# chorus.js (clients/js): its unit tests, then the end-to-end tests against a real Chorus (argument: its binary),
# with Node's built-in test runner; nothing to install. Node 20 needs --experimental-websocket for a global
# WebSocket. The browser test runs when Chromium is installed (or CHORUS_CHROMIUM names it), else says it skipped.
#
# First its size (issue 22's target: under 8 KiB minified), measured with esbuild (Debian's `esbuild` package, a
# maintained minifier; .ci/run installs it) and gzip -9: above 8,192 bytes minified it fails. `scripts/check-js.sh
# --size` checks only that.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_MINIFIED=8192
size_check() {
    command -v esbuild >/dev/null || { echo "FAIL: esbuild is not installed (apt-get install esbuild)"; return 1; }
    local source minified packed
    source=$(wc -c < clients/js/chorus.js)
    minified=$(esbuild --minify --format=esm --log-level=warning clients/js/chorus.js | wc -c)
    packed=$(esbuild --minify --format=esm --log-level=warning clients/js/chorus.js | gzip -9 | wc -c)
    echo "chorus.js: $source bytes, $minified minified (esbuild $(esbuild --version)), $packed minified+gzip"
    [ "$minified" -le "$MAX_MINIFIED" ] || { echo "FAIL: chorus.js is over $MAX_MINIFIED bytes minified"; return 1; }
}
if [ "${1:-}" = "--size" ]; then
    size_check
    exit
fi
BIN=${1:?usage: scripts/check-js.sh path/to/chorus | scripts/check-js.sh --size}
size_check
command -v node >/dev/null || { echo "FAIL: node (20 or later) is not installed"; exit 1; }
FLAGS=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || FLAGS=(--experimental-websocket)
# The embedded copy served at GET /chorus.js must be this file (the Swift tests check it too).
scripts/generate-chorus-js.sh --check
CHORUS_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" node "${FLAGS[@]}" --test clients/js/test/
