/*
 * unfused_dnnl.c - the strongest unfused baseline available on Debian:
 * oneDNN 2.6's matmul primitive for scale * Q.K^T and P.V and its softmax
 * primitive in between, each a batched call over several key/value head
 * groups at once (unfused.h), as oneDNN is meant to be used:
 *
 *   - Q.K^T: one 3-D matmul [c, M, D] x [c, D, N] -> [c, M, N] over c groups,
 *     K^T described by strides (no transpose pass), the scale as an output
 *     scale; a soft-cap becomes two eltwise post-ops (tanh, then linear by
 *     the cap).
 *   - softmax: in place on [c, M, N] over the last axis.
 *   - P.V: one 3-D matmul [c, M, N] x [c, N, Dv] -> [c, M, Dv] straight into
 *     the output.
 *
 * The c groups of one call share one score buffer of c * M * N floats. c is
 * as large as keeps each thread's part of that buffer within its core's L2
 * cache (score_block_bytes), so small groups (short contexts, decode) are
 * one call for the whole problem (the fewest calls and parallel regions,
 * the most work per call for the threads to share), while larger ones run
 * one group per call so the scores stay in cache between the three
 * primitives instead of streaming through memory three times. (Measured
 * on one thread: batching groups whose scores together overflow the L2 is
 * slower than one group per call, not faster.)
 *
 * Precision: f32 throughout, or with a bf16 (f16) K/V cache the way a
 * oneDNN user runs it: both matmuls in bf16 (f16) with f32 accumulation,
 * Q.K^T writing f32 scores, the softmax reading them in f32 and writing
 * the probabilities P in bf16 (f16) for the P.V matmul, which writes the
 * output in its dtype (f32 under an f32 query). An f32 query is first
 * converted by a reorder primitive into a scratch buffer, as oneDNN's
 * matmul needs both operands in one precision. f16 is asked for the same
 * way; Debian 12's oneDNN 2.6.3 creates no f16 matmul on an AVX-512 BF16
 * CPU (measured: max ISA avx512_core_bf16), so those cases report the
 * failed primitive creation instead of a time.
 *
 * Masks, ALiBi, causal and window are applied by the option pass
 * (unfused.c) as a step of their own between the matmul and the softmax:
 * oneDNN 2.6 falls back to a slow reference matmul when a mask is fused as
 * a broadcast binary post-op. With per-batch lengths the groups of one
 * batch share their (M, N) and are batched together.
 *
 * Primitives and memory descriptors are created once per distinct (M, N,
 * c), outside the timed loop. Threads: Debian's libdnnl is built with the
 * OpenMP runtime (libgomp; dnnl_version()->cpu_runtime is DNNL_RUNTIME_OMP),
 * so the thread count is omp_set_num_threads(T), set before the primitives
 * are created (oneDNN sizes a matmul's parallel split at creation) and
 * again before every run (the softmax reads it at execution).
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include "unfused.h"

#include "fattn.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(BENCH_HAVE_DNNL)
#include <oneapi/dnnl/dnnl.h>

/* The score buffer of one primitive call at most (one group's when that
 * is larger): one core's L2 per thread. 1 MiB when the C library cannot
 * tell the L2's size. */
static size_t score_block_bytes(int threads)
{
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);

    return (l2 > 0 ? (size_t)l2 : (size_t)1 << 20) * (size_t)(threads > 1 ? threads : 1);
}

/* Primitives and memory objects for c groups of one (M, N). */
typedef struct dnnl_set {
    int64_t m, n, c;
    dnnl_primitive_t qk, softmax, pv;
    dnnl_memory_t q, k, s, v, o;
    /* A half K/V cache: P in its dtype (p; s itself for f32), and for an
     * f32 query its reorder into the half scratch buffer (qh). */
    dnnl_primitive_t qcvt;
    dnnl_memory_t p, qh;
    char impl[64];
} dnnl_set;

/* One primitive call: c groups from flat group index f (b * Hkv + g). */
typedef struct dnnl_job {
    int64_t f, c, m, n;
    int set; /* index into sets, -1: nothing to compute (m or n is 0) */
} dnnl_job;

struct unfused_dnnl {
    const fattn_ref_problem *p;
    int threads;
    float *scores;
    size_t scores_bytes;
    /* oneDNN data types: of Q as the matmul reads it, of K and V, of P,
     * of the output; the half scratch buffers of P and of a converted Q. */
    dnnl_data_type_t qdt, kvdt, pdt, odt;
    void *probs, *qh;
    size_t probs_bytes, qh_bytes;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int64_t nsets, njobs;
    dnnl_set *sets;
    dnnl_job *jobs;
    char impl[96];
};

int unfused_dnnl_built(void)
{
    return 1;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static const char *runtime_name(unsigned runtime)
{
    switch (runtime) {
    case DNNL_RUNTIME_SEQ: return "sequential";
    case DNNL_RUNTIME_OMP: return "OpenMP";
    case DNNL_RUNTIME_TBB: return "TBB";
    case DNNL_RUNTIME_THREADPOOL: return "threadpool";
    default: return "other";
    }
}

const char *unfused_dnnl_describe(void)
{
    static char text[128];
    const dnnl_version_t *v = dnnl_version();

    snprintf(text, sizeof text, "%d.%d.%d, max ISA %s, runtime %s", v->major,
             v->minor, v->patch, isa_name(dnnl_get_effective_cpu_isa()),
             runtime_name(v->cpu_runtime));
    return text;
}

int unfused_dnnl_isa(void)
{
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    const unsigned avx512 = (unsigned)dnnl_cpu_isa_avx512_core;
    const unsigned avx2 = (unsigned)dnnl_cpu_isa_avx2;

    if ((isa & avx512) == avx512)
        return FATTN_ISA_AVX512;
    if ((isa & avx2) == avx2)
        return FATTN_ISA_AVX2;
    return FATTN_ISA_SCALAR;
}

int unfused_dnnl_bf16_native(void)
{
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    const unsigned bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16;

    return (isa & bf16) == bf16;
}

static dnnl_data_type_t dnnl_dt(int dtype)
{
    return dtype == FATTN_DTYPE_BF16 ? dnnl_bf16
           : dtype == FATTN_DTYPE_F16 ? dnnl_f16
                                      : dnnl_f32;
}

static size_t dt_size(dnnl_data_type_t dt)
{
    return dt == dnnl_f32 ? 4 : 2;
}

int unfused_dnnl_set_threads(int threads)
{
    static void (*omp_set)(int);
    static int looked_up;

    if (dnnl_version()->cpu_runtime == DNNL_RUNTIME_SEQ)
        return threads == 1 ? 0 : -1;
    if (dnnl_version()->cpu_runtime != DNNL_RUNTIME_OMP)
        return -1;
    /* Looked up at run time: libdnnl brings its OpenMP runtime (libgomp)
     * in, and linking OpenMP here could pull a second, different one
     * (clang's libomp). The cases run on one thread, so the static is not
     * raced. */
    if (!looked_up) {
        *(void **)&omp_set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
        looked_up = 1;
    }
    if (omp_set == NULL)
        return -1;
    omp_set(threads);
    return 0;
}

/* Create `prim` from an op descriptor; 0 on success. */
static int make_primitive(dnnl_primitive_t *prim, const void *op_desc,
                          const_dnnl_primitive_attr_t attr, dnnl_engine_t engine,
                          char *impl, size_t impl_size)
{
    dnnl_primitive_desc_t pd;
    const char *info = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, op_desc, attr, engine, NULL);

    if (st != dnnl_success)
        return -1;
    if (impl != NULL &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) ==
            dnnl_success && info != NULL)
        snprintf(impl, impl_size, "%s", info);
    st = dnnl_primitive_create(prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success ? 0 : -1;
}

/* A [c, rows, cols] descriptor of type dt with the given strides. */
static int md3(dnnl_memory_desc_t *md, dnnl_data_type_t dt, int64_t c,
               int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t s2)
{
    const dnnl_dims_t dims = {c, rows, cols};
    const dnnl_dims_t strides = {s0, s1, s2};

    return dnnl_memory_desc_init_by_strides(md, 3, dims, dt, strides) ==
                   dnnl_success
               ? 0
               : -1;
}

/* A reorder primitive from src to dst (both on d's engine); 0 or -1. */
static int make_reorder(unfused_dnnl *d, dnnl_primitive_t *prim,
                        const dnnl_memory_desc_t *src,
                        const dnnl_memory_desc_t *dst)
{
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, src, d->engine,
                                                          dst, d->engine, NULL);

    if (st != dnnl_success)
        return -1;
    st = dnnl_primitive_create(prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success ? 0 : -1;
}

static int make_set(unfused_dnnl *d, dnnl_set *set, int64_t m, int64_t n,
                    int64_t c)
{
    const fattn_ref_problem *p = d->p;
    const int64_t dim = p->query.shape[3], dv = p->value.shape[3];
    const int64_t G = p->query.shape[1] / p->key.shape[1];
    const int64_t sq = p->query.shape[2];
    const float cap = p->params.softcap;
    float scale = p->params.scale > 0.0f ? p->params.scale
                                         : 1.0f / sqrtf((float)dim);
    const int f32_query = p->query.dtype == FATTN_DTYPE_F32 && d->qdt != dnnl_f32;
    dnnl_memory_desc_t q_md, qh_md, k_md, s_md, p_md, v_md, o_md;
    dnnl_matmul_desc_t qk_desc, pv_desc;
    dnnl_softmax_v2_desc_t sm_desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    int rc = -1;

    set->m = m;
    set->n = n;
    set->c = c;
    /* Group strides are the full buffer's (G * Sq rows of Q and O; K and V
     * their head stride, Sk rows or a larger cache's); per-batch lengths
     * use the leading m rows and n keys of each. K is [n, dim] row-major
     * per group: K^T by strides. */
    if (md3(&q_md, f32_query ? dnnl_f32 : d->qdt, c, m, dim, G * sq * dim, dim,
            1) != 0 ||
        md3(&qh_md, d->qdt, c, m, dim, m * dim, dim, 1) != 0 ||
        md3(&k_md, d->kvdt, c, dim, n, p->key.stride[1], 1, dim) != 0 ||
        md3(&s_md, dnnl_f32, c, m, n, m * n, n, 1) != 0 ||
        md3(&p_md, d->pdt, c, m, n, m * n, n, 1) != 0 ||
        md3(&v_md, d->kvdt, c, n, dv, p->value.stride[1], dv, 1) != 0 ||
        md3(&o_md, d->odt, c, m, dv, G * sq * dv, dv, 1) != 0)
        return -1;
    if (f32_query && make_reorder(d, &set->qcvt, &q_md, &qh_md) != 0)
        return -1;

    if (dnnl_primitive_attr_create(&attr) != dnnl_success)
        goto done;
    if (cap > 0.0f) {
        /* cap * tanh(scale * QK^T / cap) */
        scale /= cap;
        if (dnnl_post_ops_create(&ops) != dnnl_success ||
            dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_tanh, 0.0f,
                                         0.0f) != dnnl_success ||
            dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_linear, cap,
                                         0.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, ops) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) != dnnl_success)
        goto done;
    if (dnnl_matmul_desc_init(&qk_desc, f32_query ? &qh_md : &q_md, &k_md, NULL,
                              &s_md) != dnnl_success ||
        make_primitive(&set->qk, &qk_desc, attr, d->engine, set->impl,
                       sizeof set->impl) != 0)
        goto done;
    /* f32 scores in, P out in the matmul's precision (in place for f32). */
    if (dnnl_softmax_v2_forward_desc_init(&sm_desc, dnnl_forward_inference,
                                          dnnl_softmax_accurate, &s_md, &p_md,
                                          2) != dnnl_success ||
        make_primitive(&set->softmax, &sm_desc, NULL, d->engine, NULL, 0) != 0)
        goto done;
    if (dnnl_matmul_desc_init(&pv_desc, &p_md, &v_md, NULL, &o_md) != dnnl_success ||
        make_primitive(&set->pv, &pv_desc, NULL, d->engine, NULL, 0) != 0)
        goto done;
    if (dnnl_memory_create(&set->q, &q_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->k, &k_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->s, &s_md, d->engine, d->scores) != dnnl_success ||
        dnnl_memory_create(&set->v, &v_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->o, &o_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        (d->pdt != dnnl_f32 &&
         dnnl_memory_create(&set->p, &p_md, d->engine, d->probs) != dnnl_success) ||
        (f32_query &&
         dnnl_memory_create(&set->qh, &qh_md, d->engine, d->qh) != dnnl_success))
        goto done;
    rc = 0;
done:
    if (ops != NULL)
        dnnl_post_ops_destroy(ops);
    if (attr != NULL)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

static void free_set(dnnl_set *set)
{
    dnnl_primitive_t prims[4] = {set->qk, set->softmax, set->pv, set->qcvt};
    dnnl_memory_t mems[7] = {set->q, set->k, set->s, set->v, set->o, set->p,
                             set->qh};

    for (int k = 0; k < 4; k++)
        if (prims[k] != NULL)
            dnnl_primitive_destroy(prims[k]);
    for (int k = 0; k < 7; k++)
        if (mems[k] != NULL)
            dnnl_memory_destroy(mems[k]);
}

void unfused_dnnl_free(unfused_dnnl *d)
{
    if (d == NULL)
        return;
    for (int64_t k = 0; k < d->nsets; k++)
        free_set(&d->sets[k]);
    free(d->sets);
    free(d->jobs);
    free(d->scores);
    free(d->probs);
    free(d->qh);
    if (d->stream != NULL)
        dnnl_stream_destroy(d->stream);
    if (d->engine != NULL)
        dnnl_engine_destroy(d->engine);
    free(d);
}

/* Groups per call for an m x n score matrix: as many as fit the block. */
static int64_t chunk_for(int64_t m, int64_t n, int64_t available, int threads)
{
    const size_t one = (size_t)m * (size_t)n * sizeof(float);
    int64_t c = one > 0 ? (int64_t)(score_block_bytes(threads) / one) : available;

    if (c < 1)
        c = 1;
    return c < available ? c : available;
}

/* The calls: over every group when all batches share (M, N), else batch by
 * batch. Fills d->jobs (without sets) and returns how many, or -1. */
static int64_t plan_jobs(unfused_dnnl *d)
{
    const fattn_ref_problem *p = d->p;
    const int64_t B = p->query.shape[0], Hkv = p->key.shape[1];
    const int uniform = unfused_uniform(p);
    const int64_t spans = uniform ? 1 : B, per_span = uniform ? B * Hkv : Hkv;
    int64_t n_jobs = 0;

    /* At most one job per group. */
    d->jobs = calloc((size_t)(B * Hkv > 0 ? B * Hkv : 1), sizeof *d->jobs);
    if (d->jobs == NULL)
        return -1;
    for (int64_t s = 0; s < spans; s++) {
        int64_t m, n;

        unfused_group_dims(p, s, &m, &n);
        for (int64_t f = s * per_span; f < (s + 1) * per_span;) {
            const int64_t c = chunk_for(m, n, (s + 1) * per_span - f, d->threads);
            dnnl_job *j = &d->jobs[n_jobs++];

            j->f = f;
            j->c = c;
            j->m = m;
            j->n = n;
            j->set = -1;
            f += c;
        }
    }
    return n_jobs;
}

unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, int threads,
                                  char *why, size_t size)
{
    unfused_dnnl *d = calloc(1, sizeof *d);

    if (d == NULL) {
        snprintf(why, size, "onednn: out of memory");
        return NULL;
    }
    d->p = p;
    d->threads = threads;
    /* One precision per matmul: Q in K's (converted if f32), P in V's. */
    d->kvdt = dnnl_dt(p->key.dtype);
    d->qdt = d->kvdt;
    d->pdt = d->kvdt;
    d->odt = dnnl_dt(p->output.dtype);
    if (p->key.dtype != p->value.dtype ||
        (p->query.dtype != FATTN_DTYPE_F32 && p->query.dtype != p->key.dtype)) {
        snprintf(why, size, "onednn: a %s query with a %s/%s K/V cache is not "
                            "a combination this baseline runs",
                 p->query.dtype == FATTN_DTYPE_BF16 ? "bf16" : "f16",
                 p->key.dtype == FATTN_DTYPE_BF16 ? "bf16" : "other",
                 p->value.dtype == FATTN_DTYPE_BF16 ? "bf16" : "other");
        unfused_dnnl_free(d);
        return NULL;
    }
    if (unfused_dnnl_set_threads(threads) != 0) {
        snprintf(why, size, "onednn: cannot set %d threads (runtime %s)", threads,
                 runtime_name(dnnl_version()->cpu_runtime));
        unfused_dnnl_free(d);
        return NULL;
    }
    if ((d->njobs = plan_jobs(d)) < 0 ||
        (d->sets = calloc((size_t)(d->njobs > 0 ? d->njobs : 1), sizeof *d->sets)) == NULL) {
        snprintf(why, size, "onednn: out of memory");
        unfused_dnnl_free(d);
        return NULL;
    }
    for (int64_t k = 0; k < d->njobs; k++) {
        const size_t bytes = (size_t)(d->jobs[k].c * d->jobs[k].m * d->jobs[k].n) *
                             sizeof(float);
        if (bytes > d->scores_bytes)
            d->scores_bytes = bytes;
    }
    if (d->pdt != dnnl_f32)
        d->probs_bytes = d->scores_bytes / sizeof(float) * dt_size(d->pdt);
    if (p->query.dtype == FATTN_DTYPE_F32 && d->qdt != dnnl_f32)
        /* Every group's converted query rows of one call: at most all. */
        d->qh_bytes = (size_t)(p->query.shape[0] * p->query.shape[1] *
                               p->query.shape[2] * p->query.shape[3]) *
                      dt_size(d->qdt);
    d->scores = unfused_alloc_scores(d->scores_bytes);
    if (d->probs_bytes > 0)
        d->probs = unfused_alloc_scores(d->probs_bytes);
    if (d->qh_bytes > 0)
        d->qh = unfused_alloc_scores(d->qh_bytes);
    if (d->scores == NULL || (d->probs_bytes > 0 && d->probs == NULL) ||
        (d->qh_bytes > 0 && d->qh == NULL)) {
        snprintf(why, size, "onednn: out of memory for the %zu-byte score "
                            "buffers", d->scores_bytes + d->probs_bytes + d->qh_bytes);
        unfused_dnnl_free(d);
        return NULL;
    }
    if (dnnl_engine_create(&d->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags) !=
            dnnl_success) {
        snprintf(why, size, "onednn: cannot create a CPU engine and stream");
        unfused_dnnl_free(d);
        return NULL;
    }
    for (int64_t k = 0; k < d->njobs; k++) {
        dnnl_job *j = &d->jobs[k];
        int64_t s;

        if (j->m == 0 || j->n == 0)
            continue;
        for (s = 0; s < d->nsets; s++)
            if (d->sets[s].m == j->m && d->sets[s].n == j->n && d->sets[s].c == j->c)
                break;
        if (s == d->nsets) {
            d->nsets++;
            if (make_set(d, &d->sets[s], j->m, j->n, j->c) != 0) {
                /* f16 on a CPU where oneDNN has no f16 matmul: say what
                 * was asked for and which oneDNN and ISA refused. */
                snprintf(why, size,
                         "onednn: cannot create the %s matmul/softmax "
                         "primitives for %lld groups of M=%lld N=%lld (%s)",
                         d->kvdt == dnnl_f32 ? "f32"
                         : d->kvdt == dnnl_bf16 ? "bf16" : "f16",
                         (long long)j->c, (long long)j->m, (long long)j->n,
                         unfused_dnnl_describe());
                unfused_dnnl_free(d);
                return NULL;
            }
        }
        j->set = (int)s;
    }
    snprintf(d->impl, sizeof d->impl, "%s, %lld group%s per call",
             d->nsets > 0 ? d->sets[0].impl : "none",
             (long long)(d->njobs > 0 ? d->jobs[0].c : 0),
             d->njobs > 0 && d->jobs[0].c == 1 ? "" : "s");
    return d;
}

const char *unfused_dnnl_impl(const unfused_dnnl *d)
{
    return d->impl;
}

size_t unfused_dnnl_extra_bytes(const unfused_dnnl *d)
{
    return d->scores_bytes + d->probs_bytes + d->qh_bytes;
}

int unfused_dnnl_run(unfused_dnnl *d)
{
    const fattn_ref_problem *p = d->p;
    const int64_t Hkv = p->key.shape[1];
    const int mask_pass = unfused_needs_mask_pass(p);

    /* Set on every call: the suite's cases run at different counts. */
    if (unfused_dnnl_set_threads(d->threads) != 0)
        return -1;
    for (int64_t k = 0; k < d->njobs; k++) {
        const dnnl_job *j = &d->jobs[k];

        if (j->set >= 0) {
            dnnl_set *set = &d->sets[j->set];
            dnnl_memory_t probs = set->p != NULL ? set->p : set->s;
            const dnnl_exec_arg_t cvt_args[2] = {{DNNL_ARG_FROM, set->q},
                                                 {DNNL_ARG_TO, set->qh}};
            const dnnl_exec_arg_t qk_args[3] = {
                {DNNL_ARG_SRC, set->qh != NULL ? set->qh : set->q},
                {DNNL_ARG_WEIGHTS, set->k},
                {DNNL_ARG_DST, set->s}};
            const dnnl_exec_arg_t sm_args[2] = {{DNNL_ARG_SRC, set->s},
                                                {DNNL_ARG_DST, probs}};
            const dnnl_exec_arg_t pv_args[3] = {{DNNL_ARG_SRC, probs},
                                                {DNNL_ARG_WEIGHTS, set->v},
                                                {DNNL_ARG_DST, set->o}};
            unfused_group grp;

            unfused_group_data(p, j->f / Hkv, j->f % Hkv, &grp);
            if (dnnl_memory_set_data_handle(set->q, grp.q) != dnnl_success ||
                dnnl_memory_set_data_handle(set->k, grp.k) != dnnl_success ||
                dnnl_memory_set_data_handle(set->v, grp.v) != dnnl_success ||
                dnnl_memory_set_data_handle(set->o, grp.o) != dnnl_success ||
                (set->qcvt != NULL &&
                 dnnl_primitive_execute(set->qcvt, d->stream, 2, cvt_args) !=
                     dnnl_success) ||
                dnnl_primitive_execute(set->qk, d->stream, 3, qk_args) !=
                    dnnl_success)
                return -1;
            if (mask_pass) {
                if (dnnl_stream_wait(d->stream) != dnnl_success)
                    return -1;
                for (int64_t i = 0; i < j->c; i++)
                    unfused_mask_pass(p, (j->f + i) / Hkv, (j->f + i) % Hkv,
                                      j->m, j->n, d->scores + i * j->m * j->n, 0);
            }
            if (dnnl_primitive_execute(set->softmax, d->stream, 2, sm_args) !=
                    dnnl_success ||
                dnnl_primitive_execute(set->pv, d->stream, 3, pv_args) !=
                    dnnl_success ||
                dnnl_stream_wait(d->stream) != dnnl_success)
                return -1;
        }
        for (int64_t i = 0; i < j->c; i++)
            unfused_finish_group(p, (j->f + i) / Hkv, (j->f + i) % Hkv, j->m, j->n);
    }
    return 0;
}

#else /* !BENCH_HAVE_DNNL */

struct unfused_dnnl {
    int unused;
};

int unfused_dnnl_built(void)
{
    return 0;
}

const char *unfused_dnnl_describe(void)
{
    return "not built";
}

int unfused_dnnl_isa(void)
{
    return FATTN_ISA_SCALAR;
}

int unfused_dnnl_bf16_native(void)
{
    return 0;
}

int unfused_dnnl_set_threads(int threads)
{
    (void)threads;
    return -1;
}

size_t unfused_dnnl_extra_bytes(const unfused_dnnl *d)
{
    (void)d;
    return 0;
}

unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, int threads,
                                  char *why, size_t size)
{
    (void)p;
    (void)threads;
    snprintf(why, size, "onednn: not built (libdnnl-dev was not found)");
    return NULL;
}

int unfused_dnnl_run(unfused_dnnl *d)
{
    (void)d;
    return -1;
}

const char *unfused_dnnl_impl(const unfused_dnnl *d)
{
    (void)d;
    return "none";
}

void unfused_dnnl_free(unfused_dnnl *d)
{
    (void)d;
}

#endif
