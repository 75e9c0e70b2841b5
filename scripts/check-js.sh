#!/usr/bin/env bash
# chorus.js (clients/js): its unit tests, then the end-to-end tests against a real Chorus (argument: its binary),
# with Node's built-in test runner; nothing to install. Node 20 needs --experimental-websocket for a global
# WebSocket. The browser test runs when Chromium is installed (or CHORUS_CHROMIUM names it), else says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: scripts/check-js.sh path/to/chorus}
command -v node >/dev/null || { echo "FAIL: node (20 or later) is not installed"; exit 1; }
FLAGS=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || FLAGS=(--experimental-websocket)
# The embedded copy served at GET /chorus.js must be this file (the Swift tests check it too).
scripts/generate-chorus-js.sh --check
CHORUS_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" node "${FLAGS[@]}" --test clients/js/test/
