/*
 * unfused_blas.c - the unfused baseline on OpenBLAS: cblas_sgemm for
 * scale * Q.K^T, the option pass and the vectorised row softmax
 * (unfused.c), cblas_sgemm for P.V, one key/value head group at a time.
 *
 * Threads: OpenBLAS has no batched GEMM, so on T > 1 threads the groups are
 * shared out among T threads of our own (workers.h), each taking the next
 * group until none is left, with its own score buffer and a
 * single-threaded OpenBLAS (openblas_set_num_threads(1)): the GEMMs, the
 * option pass and the softmax all run in parallel, with one fork/join per
 * call instead of one per GEMM, and no thread waits on another's GEMM.
 * With fewer groups than threads that would leave threads idle; then the
 * groups run one after another and OpenBLAS threads each GEMM itself
 * (openblas_set_num_threads(T)), the softmax on the calling thread.
 *
 * Precision: f32 only. OpenBLAS's one bf16 GEMM is cblas_sbgemm (bf16
 * inputs, f32 output), which exists only in builds with BUILD_BFLOAT16;
 * Debian 12's libopenblas 0.3.21 is not one (`nm -D` shows no sbgemm, only
 * its support_avx512_bf16 helper), though cblas.h declares it, and
 * OpenBLAS has no f16 GEMM at all. So bf16 and f16 cases report why they
 * have no OpenBLAS time (unfused_blas_dtypes), looked up at run time: a
 * link-time reference to cblas_sbgemm would not even load here. A library
 * that does export it is named in the reason, but this baseline does not
 * call it: it could not be tested on the Debian build it is made for.
 *
 * Without OpenBLAS at configure time, unfused_blas_built() returns 0 and
 * the cases report that instead of a time.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include "unfused.h"

#include "fattn.h"
#include "workers.h"

#include <dlfcn.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_HAVE_OPENBLAS)
#include <cblas.h>

struct unfused_blas {
    const fattn_ref_problem *p;
    int threads;
    bench_workers *workers; /* NULL: one thread, or OpenBLAS's threads */
    int nscores;
    float **scores;         /* one per worker */
    size_t scores_bytes;    /* each */
    atomic_llong next;      /* the next group a worker takes */
    char threading[96];
};

int unfused_blas_built(void)
{
    return 1;
}

int unfused_blas_dtypes(const fattn_ref_problem *p, char *why, size_t size)
{
    const int bf16 = p->query.dtype == FATTN_DTYPE_BF16 ||
                     p->key.dtype == FATTN_DTYPE_BF16;

    if (p->query.dtype == FATTN_DTYPE_F32 && p->key.dtype == FATTN_DTYPE_F32 &&
        p->output.dtype == FATTN_DTYPE_F32)
        return 1;
    if (!bf16)
        snprintf(why, size, "blas: OpenBLAS has no f16 GEMM (f32 and, with "
                            "BUILD_BFLOAT16, bf16 cblas_sbgemm only)");
    else if (dlsym(RTLD_DEFAULT, "cblas_sbgemm") == NULL)
        snprintf(why, size, "blas: this libopenblas (%s) does not export "
                            "cblas_sbgemm, its only bf16 GEMM (built without "
                            "BUILD_BFLOAT16, as Debian 12's 0.3.21 is)",
                 openblas_get_config());
    else
        snprintf(why, size, "blas: this libopenblas exports cblas_sbgemm, but "
                            "the baseline has no bf16 version (Debian 12's "
                            "build, which it is made for, lacks sbgemm)");
    return 0;
}

const char *unfused_blas_setup(void)
{
    openblas_set_num_threads(1);
    return openblas_get_corename();
}

int unfused_blas_isa(void)
{
    static const char *const avx512_cores[] = {"skylakex", "cooperlake",
                                               "sapphirerapids"};
    static const char *const avx2_cores[] = {"haswell", "zen"};
    const char *core = openblas_get_corename();
    char lower[64];
    size_t k;

    for (k = 0; core != NULL && core[k] != '\0' && k + 1 < sizeof lower; k++)
        lower[k] = (char)(core[k] >= 'A' && core[k] <= 'Z' ? core[k] - 'A' + 'a'
                                                           : core[k]);
    lower[k] = '\0';
    for (k = 0; k < sizeof avx512_cores / sizeof *avx512_cores; k++)
        if (strcmp(lower, avx512_cores[k]) == 0)
            return FATTN_ISA_AVX512;
    for (k = 0; k < sizeof avx2_cores / sizeof *avx2_cores; k++)
        if (strcmp(lower, avx2_cores[k]) == 0)
            return FATTN_ISA_AVX2;
    return FATTN_ISA_SCALAR; /* no FMA peak to compare with */
}

static int64_t groups_of(const fattn_ref_problem *p)
{
    return p->query.shape[0] * p->key.shape[1];
}

/* Group f = b * Hkv + g, with `scores` as its score buffer. */
static void run_group(const fattn_ref_problem *p, int64_t f, float *scores)
{
    const int64_t Hkv = p->key.shape[1], b = f / Hkv, g = f % Hkv;
    const int64_t d = p->query.shape[3], dv = p->value.shape[3];
    const float scale = p->params.scale > 0.0f ? p->params.scale
                                               : 1.0f / sqrtf((float)d);
    const int mask_pass = unfused_needs_mask_pass(p) || p->params.softcap > 0.0f;
    unfused_group grp;
    int64_t m, n;

    unfused_group_dims(p, b, &m, &n);
    unfused_group_data(p, b, g, &grp);
    if (m > 0 && n > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
                    (int)d, scale, grp.q, (int)d, grp.k, (int)d, 0.0f, scores,
                    (int)n);
        if (mask_pass)
            unfused_mask_pass(p, b, g, m, n, scores, 1);
        unfused_softmax_rows(scores, m, n, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)dv,
                    (int)n, 1.0f, scores, (int)n, grp.v, (int)dv, 0.0f, grp.o,
                    (int)dv);
    }
    unfused_finish_group(p, b, g, m, n);
}

static void worker(void *arg, int id)
{
    unfused_blas *u = arg;
    const int64_t total = groups_of(u->p);
    int64_t f;

    while ((f = atomic_fetch_add(&u->next, 1)) < total)
        run_group(u->p, f, u->scores[id]);
}

void unfused_blas_free(unfused_blas *u)
{
    if (u == NULL)
        return;
    for (int k = 0; k < u->nscores; k++)
        free(u->scores[k]);
    free(u->scores);
    free(u);
}

unfused_blas *unfused_blas_create(const fattn_ref_problem *p, int threads,
                                  bench_workers *workers, char *why,
                                  size_t size)
{
    const int64_t groups = groups_of(p);
    unfused_blas *u;

    if (!unfused_blas_dtypes(p, why, size))
        return NULL;
    u = calloc(1, sizeof *u);
    if (u == NULL) {
        snprintf(why, size, "blas: out of memory");
        return NULL;
    }
    u->p = p;
    u->threads = threads > 1 ? threads : 1;
    if (u->threads > 1 && groups >= u->threads &&
        bench_workers_threads(workers) == u->threads) {
        u->workers = workers;
        u->nscores = u->threads;
        snprintf(u->threading, sizeof u->threading,
                 "%d threads over %lld groups", u->threads, (long long)groups);
    } else {
        u->nscores = 1;
        if (u->threads > 1)
            snprintf(u->threading, sizeof u->threading,
                     "OpenBLAS's %d threads per GEMM (%lld groups)", u->threads,
                     (long long)groups);
        else
            snprintf(u->threading, sizeof u->threading, "1 thread");
    }
    u->scores_bytes = unfused_scores_bytes(p);
    u->scores = calloc((size_t)u->nscores, sizeof *u->scores);
    for (int k = 0; u->scores != NULL && k < u->nscores; k++)
        if ((u->scores[k] = unfused_alloc_scores(u->scores_bytes)) == NULL)
            break;
    if (u->scores == NULL || u->scores[u->nscores - 1] == NULL) {
        snprintf(why, size, "blas: out of memory for %d score buffers of %zu bytes",
                 u->nscores, u->scores_bytes);
        unfused_blas_free(u);
        return NULL;
    }
    return u;
}

int unfused_blas_run(unfused_blas *u)
{
    const int64_t groups = groups_of(u->p);

    /* Set on every call: the suite's cases run at different counts. */
    openblas_set_num_threads(u->workers != NULL ? 1 : u->threads);
    if (u->workers != NULL) {
        atomic_store(&u->next, 0);
        bench_workers_run(u->workers, worker, u);
    } else {
        for (int64_t f = 0; f < groups; f++)
            run_group(u->p, f, u->scores[0]);
    }
    return 0;
}

size_t unfused_blas_extra_bytes(const unfused_blas *u)
{
    return (size_t)u->nscores * u->scores_bytes;
}

const char *unfused_blas_threading(const unfused_blas *u)
{
    return u->threading;
}

#else /* !BENCH_HAVE_OPENBLAS */

struct unfused_blas {
    int unused;
};

int unfused_blas_built(void)
{
    return 0;
}

int unfused_blas_dtypes(const fattn_ref_problem *p, char *why, size_t size)
{
    (void)p;
    snprintf(why, size, "blas: not built (libopenblas-dev was not found)");
    return 0;
}

const char *unfused_blas_setup(void)
{
    return NULL;
}

int unfused_blas_isa(void)
{
    return FATTN_ISA_SCALAR;
}

unfused_blas *unfused_blas_create(const fattn_ref_problem *p, int threads,
                                  bench_workers *workers, char *why,
                                  size_t size)
{
    (void)p;
    (void)threads;
    (void)workers;
    snprintf(why, size, "blas: not built (libopenblas-dev was not found)");
    return NULL;
}

int unfused_blas_run(unfused_blas *u)
{
    (void)u;
    return -1;
}

size_t unfused_blas_extra_bytes(const unfused_blas *u)
{
    (void)u;
    return 0;
}

const char *unfused_blas_threading(const unfused_blas *u)
{
    (void)u;
    return "not built";
}

void unfused_blas_free(unfused_blas *u)
{
    (void)u;
}

#endif
