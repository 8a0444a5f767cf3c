#!/usr/bin/env bash
# A libFuzzer campaign per harness, then line coverage from the corpus.
#
#   scripts/fuzz.sh [SECONDS]          # default 60 seconds per harness
#   HARNESSES="fuzz_validate" scripts/fuzz.sh 1800
#   MERGE=1 scripts/fuzz.sh 600        # then minimise new inputs into fuzz/corpus
#
# 1. Configures and builds build-fuzz/ (clang, -Dfuzzing=libfuzzer: every
#    target with fuzzer-no-link, ASan and UBSan; the harnesses link libFuzzer).
# 2. Runs each harness in turn, on one core, for SECONDS: its working corpus
#    build-fuzz/campaign/<harness>/ (kept between runs) starts from the seed
#    corpus fuzz/corpus/<harness>/, with the dictionary fuzz/dict/<harness>.dict.
#    A finding (crash, sanitizer report, failed property, timeout) is saved
#    as build-fuzz/artifacts/<harness>-crash-<sha1>; the report is printed and
#    the script exits non-zero after the remaining steps.
# 3. With MERGE=1, minimises the working corpus into fuzz/corpus/<harness>/
#    (libFuzzer -merge=1: only inputs that add coverage are copied).
# 4. Builds build-fuzz-cov/ (clang, replay driver, source-based coverage),
#    replays seed and working corpora and prints llvm-cov's line coverage of
#    src/ and simd/, then the lines of the validation code (src/validate.c,
#    src/tensor.c, src/merge.c) that no input reached.
# Prints per harness: execs, exec/s, new corpus inputs, coverage before/after.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER=${1:-60}
JOBS=${JOBS:-2}
HARNESSES=${HARNESSES:-"fuzz_validate fuzz_differential fuzz_cli"}
BUILD=build-fuzz
COV=build-fuzz-cov
LLVM_PROFDATA=$(command -v llvm-profdata || command -v llvm-profdata-14)
LLVM_COV=$(command -v llvm-cov || command -v llvm-cov-14)

configure() {
    local dir=$1
    shift
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null ||
            meson setup --wipe "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

echo "=== fuzz: building $BUILD/ (clang, libFuzzer, ASan+UBSan)"
CC=clang CXX=clang++ configure "$BUILD" --werror --buildtype=debugoptimized \
    -Dfuzzing=libfuzzer -Dtests=false -Dbench=disabled
meson compile -C "$BUILD" -j "$JOBS" >/dev/null

mkdir -p "$BUILD/artifacts"
found=0
summary=()
for h in $HARNESSES; do
    work="$BUILD/campaign/$h"
    log="$BUILD/campaign/$h.log"
    mkdir -p "$work"
    echo
    echo "=== fuzz: $h for ${SECONDS_PER}s (log: $log)"
    rc=0
    "$BUILD/fuzz/$h" -max_total_time="$SECONDS_PER" -max_len=1024 \
        -dict="fuzz/dict/$h.dict" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$h-" \
        "$work" "fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
    start=$(sed -n 's/.*INITED cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \/ \2/p' "$log" | head -n 1)
    end=$( (grep -o 'cov: [0-9]* ft: [0-9]*' "$log" || true) | tail -n 1 |
          sed 's/cov: \([0-9]*\) ft: \([0-9]*\)/\1 \/ \2/')
    line="$h: ${execs:-?} execs, ${rate:-?} exec/s, ${added:-0} new inputs, coverage (edges / features) ${start:-?} -> ${end:-?}"
    if [ "$rc" -ne 0 ]; then
        found=1
        line="$line, FINDING (exit $rc)"
        echo "--- report:"
        grep -n -m 1 -A 40 -E '^(FINDING|==[0-9]+==ERROR|.*runtime error)' "$log" || tail -n 40 "$log"
        crash=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$log" | tail -n 1)
        echo "--- reproduce: $BUILD/fuzz/$h ${crash:-$BUILD/artifacts/$h-crash-...}"
    fi
    echo "$line"
    summary+=("$line")
    if [ "${MERGE:-0}" = 1 ]; then
        before=$(find "fuzz/corpus/$h" -type f | wc -l)
        "$BUILD/fuzz/$h" -merge=1 -max_len=1024 "fuzz/corpus/$h" "$work" \
            >"$BUILD/campaign/$h.merge.log" 2>&1
        after=$(find "fuzz/corpus/$h" -type f | wc -l)
        echo "merged into fuzz/corpus/$h: $before -> $after files"
    fi
done

echo
echo "=== fuzz: coverage from the corpora ($COV/)"
CC=clang CXX=clang++ configure "$COV" --buildtype=debug -Dfuzzing=none \
    -Dtests=false -Dbench=disabled \
    "-Dc_args=-fprofile-instr-generate -fcoverage-mapping" \
    "-Dc_link_args=-fprofile-instr-generate"
meson compile -C "$COV" -j "$JOBS" >/dev/null
rm -f "$COV"/*.profraw
objects=()
for h in $HARNESSES; do
    LLVM_PROFILE_FILE="$COV/$h.profraw" "$COV/fuzz/$h" \
        "fuzz/corpus/$h" "$BUILD/campaign/$h" >/dev/null
    objects+=(-object "$COV/fuzz/$h")
done
# The automatic path under a bad FATTN_ISA, as meson test replays it too.
case " $HARNESSES " in *" fuzz_validate "*)
    FATTN_ISA=bogus LLVM_PROFILE_FILE="$COV/fuzz_validate-env.profraw" \
        "$COV/fuzz/fuzz_validate" "fuzz/corpus/fuzz_validate" >/dev/null ;;
esac
"$LLVM_PROFDATA" merge -o "$COV/fuzz.profdata" "$COV"/*.profraw
# llvm-cov names files as the compiler saw them (relative to $COV), so the
# library's rows are picked out of the whole report by path.
echo "line coverage of the library (file, lines, missed, cover):"
"$LLVM_COV" report "${objects[@]:1}" -instr-profile="$COV/fuzz.profdata" |
    awk 'NF >= 13 && $1 ~ /(^|\/)(src|simd)\// && $1 !~ /\/cli\// {
             printf "  %-28s %6s %6s %8s\n", $1, $8, $9, $10; n += $8; m += $9 }
         END { if (n) printf "  %-28s %6d %6d %7.2f%%\n", "src/ + simd/", n, m, 100 * (n - m) / n }'
"$LLVM_COV" show "${objects[@]:1}" -instr-profile="$COV/fuzz.profdata" >"$COV/fuzz-coverage.txt"
for f in src/validate.c src/tensor.c src/merge.c; do
    echo
    echo "--- $f: lines no input reached"
    awk -v want="/$f:" '/^\/.*:$/ { on = substr($0, length($0) - length(want) + 1) == want }
                        on && /^ *[0-9]+\| *0\|/ { print; n++ }
                        END { if (!n) print "(none)" }' "$COV/fuzz-coverage.txt"
done
echo "(annotated sources: $COV/fuzz-coverage.txt)"

echo
for line in "${summary[@]}"; do
    echo "$line"
done
if [ "$found" -ne 0 ]; then
    echo "fuzz.sh: FINDINGS (inputs in $BUILD/artifacts/)"
    exit 1
fi
echo "fuzz.sh: no finding"
