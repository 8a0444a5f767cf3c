/*
 * machine.c - peaks, bandwidth and threads of the benchmark suite.
 *
 * Peak: fattn_fma_peak_gflops (a register-resident FMA loop at the path's
 * vector width, one core), run on N threads at once and summed for N
 * threads (src/cli/peak.h explains why that is the N-core peak).
 * Bandwidth: cli_read_gbps_threads (src/cli/peak.h), the meter `fattn
 * bench` divides by too: a buffer of 8x the last-level cache (at least
 * 256 MiB) split into N slices read at the same time, each pass lasting
 * until the slowest slice is done, the median of the passes.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include "machine.h"

#include "peak.h"
#include "shim.h"
#include "unfused.h"
#include "workers.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fattn_pool *g_pools[BENCH_MAX_LEVELS];
static bench_workers *g_workers[BENCH_MAX_LEVELS];

int bench_machine_threads(bench_machine *m, int threads, int start_pools)
{
    fattn_error err;

    memset(m, 0, sizeof *m);
    m->levels = 1;
    m->threads[0] = 1;
    if (threads <= 1)
        return 0;
    if (!start_pools) {
        m->levels = 2;
        m->threads[1] = threads;
        return 0;
    }
    memset(&err, 0, sizeof err);
    if (fattn_pool_create(threads, &g_pools[1], &err) != FATTN_OK) {
        fprintf(stderr, "fattn_bench: a fattn pool of %d threads: %s\n", threads,
                err.message);
        return -1;
    }
    g_workers[1] = bench_workers_create(threads);
    if (g_workers[1] == NULL) {
        fprintf(stderr, "fattn_bench: cannot start %d worker threads\n", threads);
        bench_machine_free();
        return -1;
    }
    m->levels = 2;
    m->threads[1] = threads;
    return 0;
}

fattn_pool *bench_machine_pool(int level)
{
    return level > 0 && level < BENCH_MAX_LEVELS ? g_pools[level] : NULL;
}

bench_workers *bench_machine_workers(int level)
{
    return level > 0 && level < BENCH_MAX_LEVELS ? g_workers[level] : NULL;
}

void bench_machine_free(void)
{
    for (int k = 0; k < BENCH_MAX_LEVELS; k++) {
        fattn_pool_destroy(g_pools[k]);
        bench_workers_destroy(g_workers[k]);
        g_pools[k] = NULL;
        g_workers[k] = NULL;
    }
}

void bench_machine_measure(bench_machine *m, double seconds)
{
    for (int level = 0; level < m->levels; level++) {
        for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++)
            if (fattn_isa_available(isa))
                m->peak_gflops[level][isa] = cli_fma_peak_gflops_threads(
                    isa, m->threads[level], seconds, NULL);
        m->bf16_peak_gflops[level] = cli_bf16_peak_gflops_threads(
            m->threads[level], seconds, NULL);
        m->read_gbps[level] = cli_read_gbps_threads(m->threads[level], NULL, NULL);
    }
}

void bench_machine_report(const bench_machine *m)
{
    char text[64], key[64];

    for (int level = 0; level < m->levels; level++) {
        /* Level 0 keeps the keys of one-thread runs; level 1 adds the
         * thread count. */
        char suffix[32] = "";

        if (level > 0)
            snprintf(suffix, sizeof suffix, "_threads%d", m->threads[level]);
        for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++) {
            if (m->peak_gflops[0][isa] <= 0.0 && isa == FATTN_ISA_SCALAR)
                continue; /* no FMA peak by design */
            snprintf(key, sizeof key, "fma_peak_gflops_%s%s", fattn_isa_name(isa),
                     suffix);
            if (m->peak_gflops[level][isa] > 0.0)
                snprintf(text, sizeof text, "%.1f", m->peak_gflops[level][isa]);
            else
                snprintf(text, sizeof text, "n/a (path not available)");
            fb_add_context(key, text);
        }
        snprintf(key, sizeof key, "bf16_peak_gflops%s", suffix);
        if (m->bf16_peak_gflops[level] > 0.0)
            snprintf(text, sizeof text, "%.1f", m->bf16_peak_gflops[level]);
        else
            snprintf(text, sizeof text, "n/a (no avx512bf16 path or AVX512_BF16)");
        fb_add_context(key, text);
        snprintf(key, sizeof key, "mem_read_gbps%s", suffix);
        snprintf(text, sizeof text, "%.2f", m->read_gbps[level]);
        fb_add_context(key, text);
    }
}

void bench_machine_pin_threads(const bench_machine *m)
{
    char text[256];
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    int (*omp_get)(void);
    const char *core;
    int len;

    core = unfused_blas_built() ? unfused_blas_setup() : NULL;
    if (unfused_dnnl_built())
        unfused_dnnl_set_threads(1);
    *(void **)&omp_get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");

    len = snprintf(text, sizeof text, "%d", m->threads[0]);
    for (int level = 1; level < m->levels; level++)
        len += snprintf(text + len, sizeof text - (size_t)len, ",%d",
                        m->threads[level]);
    fb_add_context("threads", text);
    fb_add_context("threads_how",
                   "fattn: a fattn pool (params.pool), none for 1; blas: our "
                   "threads over head groups, 1-thread OpenBLAS inside; onednn: "
                   "omp_set_num_threads");
    if (unfused_blas_built()) {
        const int isa = unfused_blas_isa();
        int widest = FATTN_ISA_SCALAR;

        for (int k = FATTN_ISA_SCALAR; k < FATTN_ISA_COUNT; k++)
            if (fattn_isa_available(k))
                widest = k;
        len = snprintf(text, sizeof text, "core %s; OPENBLAS_CORETYPE=%s",
                       core ? core : "?",
                       coretype && *coretype ? coretype
                                             : "(unset: OpenBLAS's own detection)");
        /* A core type forced narrower than the CPU (OPENBLAS_CORETYPE=Haswell
         * on an AVX-512 machine) makes the baseline weaker than OpenBLAS
         * can be here: say so next to every number that uses it. */
        if (isa < widest)
            snprintf(text + len, sizeof text - (size_t)len,
                     "; WEAKER THAN IT CAN BE: its kernels are %s, the CPU runs %s",
                     fattn_isa_name(isa), fattn_isa_name(widest));
        fb_add_context("openblas", text);
    } else {
        fb_add_context("openblas", "not built (libopenblas-dev not found)");
    }
    if (unfused_dnnl_built()) {
        snprintf(text, sizeof text, "%s, OpenMP threads at start %d",
                 unfused_dnnl_describe(), omp_get ? omp_get() : -1);
        fb_add_context("onednn", text);
    } else {
        fb_add_context("onednn", "not built (libdnnl-dev not found)");
    }
    fb_add_context("softmax_of_blas_baseline", unfused_softmax_isa());
}
