/*
 * main.c - fattn's benchmark suite (Google Benchmark, cases in C).
 *
 *   fattn_bench [--fattn_full] [--fattn_threads=N] [Google Benchmark flags]
 *
 * Exit status 1 if any implementation's output failed its check against
 * the fp64 reference (the case then shows ERROR OCCURRED), or a fattn path
 * gave other bits on N threads than on one; a kernel path this CPU lacks
 * or a baseline not built is reported but is no failure.
 *
 * At start-up, in this process: the thread counts of the run (1, and N =
 * --fattn_threads, default the CPUs this process may run on; N = 1 runs
 * everything on one thread) with their fattn pool and worker threads; each
 * kernel path's FMA peak, the bf16 dot-product peak and the memory read
 * bandwidth at each count; the
 * libraries' thread settings; all of it goes into the report's context.
 * --fattn_full raises the size limits (cases.h): by default one call of
 * the scalar path stays under about 2 s and one of the others under about
 * 1.5 s; with --fattn_full under about 6 s. It also adds the whole decode
 * grid (cases.c) to the few decode rows of the default run, and the
 * bf16/f16 grid to the default run's half-precision rows.
 */
#include "cases.h"
#include "machine.h"
#include "prepare.h"
#include "shim.h"

#include "fattn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds spent measuring each FMA peak. */
#define PEAK_SECONDS 0.25

/* Default: S <= 1024 at D=128 for the scalar path, S <= 4096 for the
 * others (the sweep's S=8192 takes 3 to 6 s per call on the SIMD paths),
 * the default decode rows. Full: scalar S <= 2048, everything else to
 * S = 8192, the decode grid. */
static const bench_limits default_limits = {5.0, 70.0, 70.0, 0};
static const bench_limits full_limits = {20.0, 300.0, 300.0, 1};

static void help(void)
{
    printf("fattn_bench: fattn's kernels against unfused attention "
           "(OpenBLAS, oneDNN)\n"
           "  --fattn_full   run the scalar path up to %.0f GFLOP per call and "
           "the others up to\n"
           "                 %.0f (default: %.0f and %.0f): scalar S=2048 and the "
           "S=8192 sweep point;\n"
           "                 and the whole decode grid (groups 1..32, Sq 1..16, "
           "Sk 1K..64K,\n"
           "                 D 64/256, cache layouts) besides its default rows, and\n"
           "                 the bf16/f16 grid (the other headline prefill shapes,\n"
           "                 causal, S=4096; decode Sq 4/16, Sk=65536) besides\n"
           "                 prefill S=2048 D=128 and decode Sq=1 Sk=8192\n\n",
           full_limits.scalar_gflop, full_limits.baseline_gflop,
           default_limits.scalar_gflop, default_limits.baseline_gflop);
    printf("  --fattn_threads=N\n"
           "                 run the headline and decode shapes at 1 and N threads,\n"
           "                 N in 1..%d\n"
           "                 (default: the %d CPUs this process may run on; 1: one\n"
           "                 thread only)\n\n",
           FATTN_MAX_THREADS, (int)fattn_usable_cpus());
}

/* --fattn_threads=N out of argv: N, 0 if absent, -1 if malformed. */
static int take_threads(int *argc, char **argv)
{
    static const char flag[] = "--fattn_threads=";
    int threads = 0, out = 1;

    for (int k = 1; k < *argc; k++) {
        if (strncmp(argv[k], flag, sizeof flag - 1) == 0) {
            const char *text = argv[k] + sizeof flag - 1;
            char *end;
            long v = strtol(text, &end, 10);

            threads = (*text >= '0' && *text <= '9' && *end == '\0' && v >= 1 &&
                       v <= FATTN_MAX_THREADS)
                          ? (int)v
                          : -1;
        } else {
            argv[out++] = argv[k];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return threads;
}

/* Remove our own flags from argv before Google Benchmark sees it. */
static int take_flag(int *argc, char **argv, const char *flag)
{
    int found = 0, out = 1;

    for (int k = 1; k < *argc; k++) {
        if (strcmp(argv[k], flag) == 0)
            found = 1;
        else
            argv[out++] = argv[k];
    }
    *argc = out;
    argv[out] = NULL;
    return found;
}

/* Listing needs no measurements: keep --benchmark_list_tests instant. */
static int listing_only(int argc, char **argv)
{
    for (int k = 1; k < argc; k++)
        if (strcmp(argv[k], "--benchmark_list_tests") == 0 ||
            strcmp(argv[k], "--benchmark_list_tests=true") == 0 ||
            strcmp(argv[k], "--benchmark_list_tests=1") == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const int full = take_flag(&argc, argv, "--fattn_full");
    int threads = take_threads(&argc, argv);
    const int list = listing_only(argc, argv);
    bench_machine machine;
    fattn_error err;
    char text[64];
    int failures;

    if (threads < 0) {
        fprintf(stderr, "fattn_bench: --fattn_threads=N needs N in 1..%d\n",
                FATTN_MAX_THREADS);
        return 1;
    }
    if (threads == 0)
        threads = fattn_usable_cpus();
    if (fb_init(&argc, argv, help) != 0)
        return 1;
    /* Listing only names the cases: no pools, no measurements. */
    if (bench_machine_threads(&machine, threads, !list) != 0)
        return 1;
    if (!list) {
        bench_machine_pin_threads(&machine);
        bench_machine_measure(&machine, PEAK_SECONDS);
        bench_machine_report(&machine);
        memset(&err, 0, sizeof err);
        fb_add_context("fattn_version", fattn_version_string());
        fb_add_context("fattn_auto_path", fattn_isa_name(fattn_isa_auto(&err)));
        snprintf(text, sizeof text, "%s", full ? "full (--fattn_full)" : "default");
        fb_add_context("fattn_case_limits", text);
    }
    bench_cases_register(&machine, full ? &full_limits : &default_limits);
    fb_run();
    fb_shutdown();
    failures = bench_verify_failures();
    bench_cases_free();
    bench_machine_free();
    if (failures > 0) {
        fprintf(stderr,
                "fattn_bench: %d implementation(s) gave a wrong result or an "
                "error (see ERROR OCCURRED above)\n",
                failures);
        return 1;
    }
    return 0;
}
