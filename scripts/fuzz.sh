#!/usr/bin/env bash
# Fuzzes the inbound frame decoder and the UTF-8 validator with libFuzzer (Sources/FrameFuzz).
#
#   scripts/fuzz.sh [seconds] [extra libFuzzer flags...]      default: 60 seconds
#
# Builds FrameFuzz in release with -sanitize=fuzzer into its own scratch path (.build-fuzz, so the debug build is
# left alone), then runs it for a bounded time on a copy of the committed seed corpus (Fuzz/corpus). Crash
# artifacts go to a temporary directory that is kept and named on failure; the exit status is non-zero on any
# crash, property violation, timeout or out-of-memory report.
#
# To fuzz for longer, pass the seconds (for example `scripts/fuzz.sh 3600`); add `-jobs=2 -workers=2` to use both
# cores. To replay a crash artifact or the corpus without the fuzzer runtime: `swift run FrameFuzz FILE...`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true

scratch=".build-fuzz"
echo "== fuzz: building FrameFuzz (release, -sanitize=fuzzer) in $scratch"
# lld, not the default gold: SwiftPM links executables with --defsym main=FrameFuzz_main, and libFuzzer's
# whole-archive runtime brings its own main; gold crashes on that clash, lld lets the --defsym win.
swift build -c release --scratch-path "$scratch" --product FrameFuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DCHORUS_FUZZER -Xswiftc -use-ld=lld
binary="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/FrameFuzz"

workdir="$(mktemp -d -t chorus-fuzz.XXXXXX)"
mkdir -p "$workdir/corpus" "$workdir/artifacts"
cp Fuzz/corpus/* "$workdir/corpus/"

echo "== fuzz: $seconds s, corpus and artifacts in $workdir"
set +e
"$binary" "$workdir/corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$workdir/artifacts/" "$@" 2>&1 | tee "$workdir/fuzz.log" | grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)|Uses: [0-9]+$'
status=${PIPESTATUS[0]}
set -e

if [[ $status -ne 0 ]] || compgen -G "$workdir/artifacts/*" >/dev/null; then
    echo "== fuzz: FAILED (exit $status); artifacts:" >&2
    ls -l "$workdir/artifacts" >&2
    echo "   replay one with: swift run FrameFuzz $workdir/artifacts/<file>" >&2
    exit 1
fi
echo "== fuzz: no crash in $seconds s"
rm -rf "$workdir"
