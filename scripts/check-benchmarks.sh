#!/usr/bin/env bash
# Allocation gates: builds Benchmarks/ (package-benchmark, release) and checks every benchmark's
# mallocCountTotal (p90 per iteration) against the thresholds committed for this toolchain in
# Benchmarks/Thresholds/swift-<major.minor>/. Wall-clock time is measured but never checked.
#
#   scripts/check-benchmarks.sh            build + check; exit 0 when every count equals its threshold
#                                          (exactly; the /metrics scrape, which reads /proc, within 4;
#                                          the epoll publish gates, real sockets and threads, within
#                                          10; the epoll connection lifecycle exactly, at 0)
#   scripts/check-benchmarks.sh --update   build + run + rewrite this toolchain's thresholds (then commit them,
#                                          saying in the commit message why the counts changed)
#
# Exit status: 0 equal; 2 a count went up (regression); 4 a count went down only (lower the threshold in
# the same commit: run with --update); 1 no thresholds for this toolchain or another failure.
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"

version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
if [[ -z "$version" ]]; then
    echo "check-benchmarks: cannot read the Swift version from 'swift --version'" >&2
    exit 1
fi
thresholds="Thresholds/swift-$version"

case "${1:-}" in
--update)
    mkdir -p "$thresholds"
    swift package --allow-writing-to-package-directory benchmark thresholds update \
        --path "$PWD/$thresholds" --no-progress
    # Keep only the allocation counts: wall-clock time varies from run to run and is informational.
    python3 - "$thresholds" <<'EOF'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.p90.json")):
    values = json.loads(path.read_text())
    kept = {k: v for k, v in values.items() if k == "mallocCountTotal"}
    path.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    print(f"{path.name}: {kept}")
EOF
    echo "check-benchmarks: wrote $PWD/$thresholds; commit it and explain the change in the commit message"
    ;;
"")
    if [[ ! -d "$thresholds" ]]; then
        echo "check-benchmarks: no thresholds for Swift $version in Benchmarks/$thresholds" >&2
        echo "  create them with: scripts/check-benchmarks.sh --update (and commit them)" >&2
        exit 1
    fi
    # `swift package` turns the tool's own exit codes (2 worse, 4 better) into 1: read its verdict instead.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    status=0
    swift package benchmark thresholds check --path "$PWD/$thresholds" --no-progress 2>&1 | tee "$log" ||
        status=$?
    if [[ $status -eq 0 ]]; then
        echo "check-benchmarks: every allocation count equals its threshold (Swift $version)"
        exit 0
    elif grep -q "is WORSE than the defined" "$log"; then
        echo "check-benchmarks: REGRESSION: allocations went up (see the table above)" >&2
        exit 2
    elif grep -q "is BETTER than the defined" "$log"; then
        echo "check-benchmarks: allocations went down: lower the thresholds in this commit (--update)" >&2
        exit 4
    fi
    echo "check-benchmarks: benchmark build or run failed (exit $status)" >&2
    exit 1
    ;;
*)
    echo "usage: $0 [--update]" >&2
    exit 1
    ;;
esac
