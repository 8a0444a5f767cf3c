#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
#   1. scripts/setup.sh (installs missing build dependencies)
#   2. gcc build with --werror in build-test/, then `meson test`, then the
#      suite again under each kernel path this machine can run
#      (`meson test --setup scalar|avx2|avx512`, i.e. FATTN_ISA forced)
#   3. gcc build with -Dsimd=disabled (scalar path only) in build-nosimd/,
#      then `meson test`
#   4. clang build with --werror, ASan + UBSan (every report fatal) in
#      build-san/, then `meson test`
#   5. clang build with --werror, ThreadSanitizer and the phase timers of
#      profiling builds in build-tsan/, then the multi-threaded tests
#      (`meson test --suite threads`) and `fattn bench` printing the phases
#   6. clang libFuzzer build with --werror (ASan + UBSan) in build-fuzz/, then
#      the fuzz corpus replay and a short real campaign per harness
#      (`meson test --suite fuzz --suite fuzz-smoke`, about a minute)
#   7. the Python package: the README's install command into a fresh
#      virtual environment (build-python/venv) made with Debian's python3
#      (PYTHON=... for another interpreter), then its pytest suite
# Every step runs even if an earlier one failed; the exit status is non-zero
# if anything failed. Existing build directories are reconfigured.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

JOBS=${JOBS:-2}
failed=0
passed_total=0
failed_total=0
skipped_total=0

# configure DIR OPTIONS...: set up DIR with the environment in ENVS, or
# reconfigure it if it exists (wiping it when reconfiguring is not enough,
# e.g. after a meson upgrade).
ENVS=()
configure() {
    local dir=$1
    shift
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        env "${ENVS[@]}" meson setup --reconfigure "$dir" "$@" ||
            env "${ENVS[@]}" meson setup --wipe "$dir" "$@"
    else
        env "${ENVS[@]}" meson setup "$dir" "$@"
    fi
}

# add_counts LOG: add meson's summary ("Ok:", "Fail:", ...) to the totals.
add_counts() {
    local log=$1 n key
    for key in "Ok" "Expected Fail"; do
        n=$(sed -n "s/^$key: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
        passed_total=$((passed_total + ${n:-0}))
    done
    for key in "Fail" "Unexpected Pass" "Timeout"; do
        n=$(sed -n "s/^$key: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
        failed_total=$((failed_total + ${n:-0}))
    done
    n=$(sed -n "s/^Skipped: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
    skipped_total=$((skipped_total + ${n:-0}))
}

# run_tests LABEL DIR [MESON_TEST_OPTIONS...]: meson test, summary counted.
run_tests() {
    local label=$1 dir=$2
    shift 2
    local log="$dir/test-summary.txt" rc=0
    echo
    echo "=== $label: meson test $*"
    env "${ENVS[@]}" meson test -C "$dir" --num-processes "$JOBS" \
        --print-errorlogs "$@" 2>&1 | tee "$log" || rc=$?
    add_counts "$log"
    if [ "$rc" -ne 0 ] || ! grep -q "^Fail: *0" "$log" ||
            ! grep -q "^Ok: *[1-9]" "$log"; then
        echo "=== $label: tests FAILED"
        failed=1
    fi
}

# build LABEL DIR ENV... -- SETUP_OPTIONS...: configure and compile; sets
# ENVS for the tests that follow. Returns non-zero if the build failed.
build() {
    local label=$1 dir=$2
    shift 2
    ENVS=()
    while [ "$1" != "--" ]; do
        ENVS+=("$1")
        shift
    done
    shift
    echo
    echo "=== $label: $dir"
    if ! configure "$dir" "$@"; then
        echo "=== $label: configure FAILED"
        failed=1
        return 1
    fi
    if ! meson compile -C "$dir" -j "$JOBS"; then
        echo "=== $label: build FAILED"
        failed=1
        return 1
    fi
}

if build "gcc --werror" build-test CC=gcc CXX=g++ -- \
        --werror --buildtype=debugoptimized -Dmpi=enabled; then
    run_tests "gcc --werror" build-test
    # The kernel paths available here, from the registry
    # (tests/paths/list_paths); a path this CPU lacks would only fail.
    if ! paths=$(build-test/tests/paths/list_paths); then
        echo "=== gcc --werror: list_paths FAILED"
        failed=1
        paths=
    fi
    for isa in $paths; do
        run_tests "gcc --werror, FATTN_ISA=$isa" build-test --setup "$isa"
    done
fi

# The library without its SIMD paths: baseline x86-64 only, so forcing AVX2
# or AVX-512 must fail with isa_unavailable (the validation test checks it).
if build "gcc --werror, -Dsimd=disabled" build-nosimd CC=gcc CXX=g++ -- \
        --werror --buildtype=debugoptimized -Dsimd=disabled; then
    run_tests "gcc --werror, -Dsimd=disabled" build-nosimd
fi

SAN_FLAGS=-fno-sanitize-recover=all
if build "clang --werror, ASan+UBSan" build-san \
        CC=clang CXX=clang++ \
        "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1" \
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" -- \
        --werror --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=$SAN_FLAGS -Dcpp_args=$SAN_FLAGS; then
    run_tests "clang --werror, ASan+UBSan" build-san
fi

# Only the threads suite starts threads; the rest gains nothing under TSan.
# This build also has the phase timers of profiling builds on
# (-Dphase_timers=true: per-thread counters, so TSan checks them too), and
# `fattn bench` must print their shares.
if build "clang --werror, TSan, phase timers" build-tsan \
        CC=clang CXX=clang++ \
        "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1" -- \
        --werror --buildtype=debugoptimized \
        -Db_sanitize=thread -Db_lundef=false -Dphase_timers=true; then
    run_tests "clang --werror, TSan, phase timers" build-tsan --suite threads
    echo
    # One thread: the phases cover every call (on a pool the calling thread
    # may take no work item at all). Then 3 threads on a pool under TSan:
    # the same digest as one thread.
    echo "=== phase timers: fattn bench --seq 256 --repeat 1 --no-peaks --threads 1, then --threads 3"
    if env TSAN_OPTIONS=halt_on_error=1 build-tsan/src/cli/fattn bench \
            --seq 256 --repeat 1 --no-peaks --threads 1 | tee build-tsan/phases.txt &&
            grep -q "^phases (rdtsc, timed calls): scores" build-tsan/phases.txt &&
            env TSAN_OPTIONS=halt_on_error=1 build-tsan/src/cli/fattn bench \
            --seq 256 --repeat 1 --no-peaks --threads 3 | tee build-tsan/phases3.txt &&
            [ "$(grep "^digest:" build-tsan/phases.txt | cut -d' ' -f2)" = \
              "$(grep "^digest:" build-tsan/phases3.txt | cut -d' ' -f2)" ]; then
        passed_total=$((passed_total + 1))
    else
        echo "=== phase timers: FAILED (no phases line, or 1 and 3 threads gave different digests)"
        failed_total=$((failed_total + 1))
        failed=1
    fi
fi

# Fuzzing on every run: each harness replays its corpus, then fuzzes for
# fuzz_smoke_seconds (fuzz/meson.build). scripts/fuzz.sh runs long campaigns.
if build "clang --werror, libFuzzer smoke" build-fuzz CC=clang CXX=clang++ -- \
        --werror --buildtype=debugoptimized -Dfuzzing=libfuzzer \
        -Dtests=false -Dbench=disabled; then
    run_tests "clang --werror, libFuzzer smoke" build-fuzz \
        --suite fuzz --suite fuzz-smoke
fi

# pytest_count LINE WORD: the number before WORD ("passed", "failed",
# "skipped", "error" also matching "errors") in pytest's summary LINE, 0 if
# absent.
pytest_count() {
    awk -v w="$2" '{
        for (i = 2; i <= NF; i++) {
            f = $i; sub(/,$/, "", f)
            if (f == w || f == w "s") s += $(i - 1)
        }
    } END { print s + 0 }' <<<"$1"
}

# The Python package, installed with the README's command (section
# "Python", the block after `<!-- test: python-install -->`) into a fresh
# venv of Debian's interpreter, which sees the python3-* packages that
# scripts/setup.sh installed: nothing is downloaded. PYTHON=... replaces
# /usr/bin/python3 in it, build-python/venv replaces .venv.
PYTHON=${PYTHON:-/usr/bin/python3}
echo
echo "=== Python package: $PYTHON, build-python/venv"
rm -rf build-python
mkdir -p build-python
pylog=build-python/pytest.txt
if python3 scripts/extract_readme_example.py README.md python-install \
            build-python/install.sh &&
        sed -i -e "s|/usr/bin/python3|$PYTHON|g" \
            -e "s|\.venv|build-python/venv|g" build-python/install.sh &&
        cat build-python/install.sh && bash -e build-python/install.sh; then
    # From build-python/, so that `import fattn` is the installed package,
    # not python/fattn (which has no compiled module).
    rc=0
    (cd build-python && venv/bin/python -m pytest -p no:cacheprovider -rs \
        ../python/tests) 2>&1 | tee "$pylog" || rc=$?
    # pytest's last line: "== N failed, M passed, K skipped, E errors in T s ==".
    # awk, not grep: under pipefail a grep that matches nothing (no
    # "failed" on a green run) would end this script.
    summary=$(tail -n 1 "$pylog")
    n=$(pytest_count "$summary" passed)
    passed_total=$((passed_total + n))
    n=$(( $(pytest_count "$summary" failed) + $(pytest_count "$summary" error) ))
    failed_total=$((failed_total + n))
    n=$(pytest_count "$summary" skipped)
    skipped_total=$((skipped_total + n))
    if [ "$rc" -eq 0 ] && [ "$(pytest_count "$summary" passed)" -eq 0 ]; then
        echo "=== Python package: pytest reported no passed test"
        rc=1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "=== Python package: tests FAILED"
        failed=1
    fi
else
    echo "=== Python package: install FAILED"
    failed_total=$((failed_total + 1))
    failed=1
fi

echo
echo "test.sh: $passed_total passed, $failed_total failed, $skipped_total skipped"
if [ "$failed" -ne 0 ]; then
    echo "test.sh: FAILED"
    exit 1
fi
echo "test.sh: all configurations passed"
