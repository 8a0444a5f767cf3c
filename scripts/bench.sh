#!/usr/bin/env bash
# Run fattn's benchmark suite (bench/) to JSON and draw the charts.
#
#   scripts/bench.sh [--quick] [GOOGLE_BENCHMARK_FLAGS...]
#
#   1. scripts/setup.sh (Google Benchmark, OpenBLAS, oneDNN, gnuplot, ...)
#   2. a release build in build-bench/ (BUILD_DIR to change) with
#      -Dbench=enabled, only the fattn_bench target
#   3. fattn_bench --fattn_full with 3 repetitions (medians): every case on
#      one thread (with the whole decode grid, cases.c), and the headline
#      and decode shapes again on THREADS threads (default:
#      the CPUs this process may run on), fattn through a fattn pool and the
#      baselines at the same count (the suite sets each library's threads
#      per case; OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 are only the
#      start-up values). OPENBLAS_CORETYPE is left as the environment has it
#      and printed in the context, with a warning here when it makes
#      OpenBLAS use narrower kernels than the CPU runs.
#   4. bench/report.py: docs/perf.json (aggregates, no host name or paths),
#      docs/perf.md (tables per thread count, the thread scaling, the decode
#      grid per thread count);
#      bench/perf.gp: docs/perf.png (the one-thread sweep)
#
# --quick: the default size limits and one repetition (as a smoke run).
# Other arguments go to fattn_bench, e.g. --benchmark_filter=decode.
# OUT_DIR (default docs) changes where the results go; THREADS=1 runs
# everything on one thread. Run it on an otherwise idle machine: an
# N-thread case on N CPUs waits for every thread at each fork/join, so
# another process on one core slows it by far more than its share. Took
# about 20 minutes on a 2-core machine (6 with --quick) before the decode
# grid, which adds some 1250 cases of about a second each (an estimate:
# not timed yet) to the full run and some 55 to --quick.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-bench}
OUT_DIR=${OUT_DIR:-docs}
JOBS=${JOBS:-2}
THREADS=${THREADS:-}

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
if [ -n "$THREADS" ]; then
    run_args+=("--fattn_threads=$THREADS")
fi
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BUILD_DIR/bench/fattn_bench" \
    "${run_args[@]}" --benchmark_out="$tmp/bench.json" \
    --benchmark_out_format=json "$@"

# The context says when OpenBLAS ran narrower kernels than the CPU has
# (e.g. OPENBLAS_CORETYPE=Haswell on an AVX-512 machine): repeat it last,
# where it is seen, since it makes every x_blas ratio flatter than it is.
if python3 -c 'import json, sys; sys.exit("WEAKER" not in json.load(open(sys.argv[1]))["context"].get("openblas", ""))' "$tmp/bench.json"; then
    echo "bench.sh: WARNING: OpenBLAS ran narrower kernels than this CPU runs" \
         "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-?}); unset it or set the core" \
         "type of this CPU for a fair OpenBLAS baseline" >&2
fi

python3 bench/report.py "$tmp/bench.json" "$OUT_DIR"
gnuplot -e "dat='$OUT_DIR/perf.dat'; out='$OUT_DIR/perf.png'" bench/perf.gp
rm -f "$OUT_DIR/perf.dat"
echo "bench.sh: wrote $OUT_DIR/perf.json, $OUT_DIR/perf.md, $OUT_DIR/perf.png"
