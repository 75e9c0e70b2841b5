#!/usr/bin/env bash
# Fuzzes the inbound frame decoder and the UTF-8 validator (Sources/FrameFuzz), the RESP parser of cluster mode
# (Sources/RESPFuzz), the epoll transport's request-head reader against NIO's HTTP/1 decoder (Sources/HeadFuzz),
# then the JSON scanner against a recursive-descent reference (Sources/JSONFuzz), with libFuzzer, each for the
# given time.
#
#   scripts/fuzz.sh [seconds] [extra libFuzzer flags...]      default: 60 seconds per target
#   FUZZ_TARGETS="RESPFuzz" scripts/fuzz.sh 600               only some targets
#
# Builds each target in release with -sanitize=fuzzer into its own scratch path (.build-fuzz, so the debug build is
# left alone), then runs it for a bounded time on a copy of its committed seed corpus (Fuzz/corpus,
# Fuzz/resp-corpus, Fuzz/head-corpus, Fuzz/json-corpus). Crash artifacts go to a temporary directory that is kept
# and named on failure; the exit status is non-zero on any crash, property violation, timeout or out-of-memory
# report.
#
# To fuzz for longer, pass the seconds (for example `scripts/fuzz.sh 3600`); add `-jobs=2 -workers=2` to use both
# cores. To replay a crash artifact or the corpus without the fuzzer runtime: `swift run FrameFuzz FILE...`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
extra=("$@")

scratch=".build-fuzz"
targets="${FUZZ_TARGETS:-FrameFuzz RESPFuzz HeadFuzz JSONFuzz}"

fuzz_target() {
    local target="$1" corpus="$2"
    echo "== fuzz: building $target (release, -sanitize=fuzzer) in $scratch"
    # lld, not the default gold: SwiftPM links executables with --defsym main=<Target>_main, and libFuzzer's
    # whole-archive runtime brings its own main; gold crashes on that clash, lld lets the --defsym win.
    swift build -c release --scratch-path "$scratch" --product "$target" \
        -Xswiftc -sanitize=fuzzer -Xswiftc -DCHORUS_FUZZER -Xswiftc -use-ld=lld
    binary="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/$target"

    workdir="$(mktemp -d -t chorus-fuzz.XXXXXX)"
    mkdir -p "$workdir/corpus" "$workdir/artifacts"
    cp "$corpus"/* "$workdir/corpus/"

    echo "== fuzz: $seconds s, corpus and artifacts in $workdir"
    set +e
    # The Swift runtime's backtracer would take the crash signal before libFuzzer, which then writes no artifact.
    SWIFT_BACKTRACE=enable=no "$binary" "$workdir/corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$workdir/artifacts/" "${extra[@]}" 2>&1 | tee "$workdir/fuzz.log" | grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)|Uses: [0-9]+$'
    status=${PIPESTATUS[0]}
    set -e

    if [[ $status -ne 0 ]] || compgen -G "$workdir/artifacts/*" >/dev/null; then
        echo "== fuzz: FAILED (exit $status); artifacts:" >&2
        ls -l "$workdir/artifacts" >&2
        echo "   replay one with: swift run $target $workdir/artifacts/<file>" >&2
        exit 1
    fi
    echo "== fuzz: no crash in $seconds s"
    rm -rf "$workdir"
}

for target in $targets; do
    case "$target" in
    FrameFuzz) fuzz_target FrameFuzz Fuzz/corpus ;;
    RESPFuzz) fuzz_target RESPFuzz Fuzz/resp-corpus ;;
    HeadFuzz) fuzz_target HeadFuzz Fuzz/head-corpus ;;
    JSONFuzz) fuzz_target JSONFuzz Fuzz/json-corpus ;;
    *) echo "unknown fuzz target $target" >&2; exit 2 ;;
    esac
done
