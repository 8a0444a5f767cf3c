/*
 * machine.c - peak, bandwidth and thread set-up for the benchmark suite.
 *
 * Peak: fattn_fma_peak_gflops (a register-resident FMA loop at the path's
 * vector width, one core). Bandwidth: a plain C read of a 256 MiB buffer,
 * far larger than the last-level cache, the best of a few passes.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include "machine.h"

#include "shim.h"
#include "unfused.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_BUFFER_BYTES ((size_t)256 << 20)
#define READ_PASSES 5

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sum n4 blocks of four words with four independent chains, so the loop is
 * bound by memory, not by the latency of one addition chain. */
static uint64_t read_all(const uint64_t *p, size_t n4)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

    for (size_t k = 0; k < n4; k++, p += 4) {
        s0 += p[0];
        s1 += p[1];
        s2 += p[2];
        s3 += p[3];
    }
    return s0 + s1 + s2 + s3;
}

static double measure_read_gbps(void)
{
    const size_t n = READ_BUFFER_BYTES / sizeof(uint64_t);
    uint64_t *buf = malloc(READ_BUFFER_BYTES);
    volatile uint64_t sink = 0;
    double best = 0.0;

    if (buf == NULL)
        return 0.0;
    for (size_t k = 0; k < n; k++) /* touch every page before timing */
        buf[k] = k;
    for (int pass = 0; pass < READ_PASSES; pass++) {
        double t = now_seconds(), gbps;

        sink += read_all(buf, n / 4);
        t = now_seconds() - t;
        gbps = t > 0.0 ? (double)READ_BUFFER_BYTES / t * 1e-9 : 0.0;
        if (gbps > best)
            best = gbps;
    }
    (void)sink;
    free(buf);
    return best;
}

void bench_machine_measure(bench_machine *m, double seconds)
{
    memset(m, 0, sizeof *m);
    for (int isa = FATTN_ISA_AVX2; isa <= FATTN_ISA_AVX512; isa++)
        if (fattn_isa_available(isa))
            m->peak_gflops[isa] = fattn_fma_peak_gflops(isa, seconds);
    m->read_gbps = measure_read_gbps();
}

void bench_machine_report(const bench_machine *m)
{
    char text[64];

    for (int isa = FATTN_ISA_AVX2; isa <= FATTN_ISA_AVX512; isa++) {
        char key[64];

        snprintf(key, sizeof key, "fma_peak_gflops_%s", fattn_isa_name(isa));
        if (m->peak_gflops[isa] > 0.0)
            snprintf(text, sizeof text, "%.1f", m->peak_gflops[isa]);
        else
            snprintf(text, sizeof text, "n/a (path not available)");
        fb_add_context(key, text);
    }
    snprintf(text, sizeof text, "%.2f", m->read_gbps);
    fb_add_context("mem_read_gbps", text);
}

/* OpenMP's thread controls, looked up at run time: oneDNN (Debian's build
 * uses libgomp) brings the runtime in, and linking OpenMP here could pull a
 * second, different runtime (clang's libomp). NULL without it. */
static void *omp_symbol(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

void bench_machine_pin_threads(int threads)
{
    char text[160];
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    void (*omp_set)(int);
    int (*omp_get)(void);
    const char *core;

    core = unfused_blas_built() ? unfused_blas_setup() : NULL;
    *(void **)&omp_set = omp_symbol("omp_set_num_threads");
    *(void **)&omp_get = omp_symbol("omp_get_max_threads");
    if (omp_set != NULL)
        omp_set(threads);

    snprintf(text, sizeof text, "%d", threads);
    fb_add_context("threads", text);
    if (unfused_blas_built()) {
        snprintf(text, sizeof text, "core %s, 1 thread; OPENBLAS_CORETYPE=%s",
                 core ? core : "?",
                 coretype && *coretype ? coretype : "(unset: OpenBLAS's own detection)");
        fb_add_context("openblas", text);
    } else {
        fb_add_context("openblas", "not built (libopenblas-dev not found)");
    }
    if (unfused_dnnl_built()) {
        snprintf(text, sizeof text, "%s, OpenMP threads %d",
                 unfused_dnnl_describe(), omp_get ? omp_get() : -1);
        fb_add_context("onednn", text);
    } else {
        fb_add_context("onednn", "not built (libdnnl-dev not found)");
    }
    fb_add_context("softmax_of_blas_baseline", unfused_softmax_isa());
}
