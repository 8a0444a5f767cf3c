#!/usr/bin/env bash
# Run fattn's benchmark suite (bench/) to JSON and draw the charts.
#
#   scripts/bench.sh [--quick] [GOOGLE_BENCHMARK_FLAGS...]
#
#   1. scripts/setup.sh (Google Benchmark, OpenBLAS, oneDNN, gnuplot, ...)
#   2. a release build in build-bench/ (BUILD_DIR to change) with
#      -Dbench=enabled, only the fattn_bench target
#   3. fattn_bench --fattn_full with 3 repetitions (medians), one thread
#      (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1; OPENBLAS_CORETYPE is left
#      as the environment has it and printed in the context)
#   4. bench/report.py: docs/perf.json (aggregates, no host name or paths),
#      docs/perf.md (tables); bench/perf.gp: docs/perf.png
#
# --quick: the default size limits and one repetition (as a smoke run).
# Other arguments go to fattn_bench, e.g. --benchmark_filter=decode.
# OUT_DIR (default docs) changes where the results go. Takes about 15
# minutes on a 2-core machine (5 with --quick).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-bench}
OUT_DIR=${OUT_DIR:-docs}
JOBS=${JOBS:-2}

run_args=(--fattn_full --benchmark_repetitions=3 --benchmark_min_time=0.2
          --benchmark_display_aggregates_only=true)
if [ "${1:-}" = "--quick" ]; then
    shift
    run_args=(--benchmark_min_time=0.1)
fi

scripts/setup.sh

if [ -f "$BUILD_DIR/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$BUILD_DIR" --buildtype=release -Dbench=enabled >/dev/null
else
    meson setup "$BUILD_DIR" --buildtype=release -Dbench=enabled >/dev/null
fi
meson compile -C "$BUILD_DIR" -j "$JOBS" fattn_bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT_DIR"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BUILD_DIR/bench/fattn_bench" \
    "${run_args[@]}" --benchmark_out="$tmp/bench.json" \
    --benchmark_out_format=json "$@"

python3 bench/report.py "$tmp/bench.json" "$OUT_DIR"
gnuplot -e "dat='$OUT_DIR/perf.dat'; out='$OUT_DIR/perf.png'" bench/perf.gp
rm -f "$OUT_DIR/perf.dat"
echo "bench.sh: wrote $OUT_DIR/perf.json, $OUT_DIR/perf.md, $OUT_DIR/perf.png"
