/*
 * prepare.c - per-shape state, verification and the one-call runners of
 * the benchmark cases (prepare.h).
 */
#include "prepare.h"

#include "dtypes.h"
#include "fattn.h"
#include "reference.h"
#include "unfused.h"
#include "workers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Accuracy bound of the check, the same as `fattn bench`:
 * |x - ref| <= ATOL + RTOL * |ref| on every sampled element, for f32
 * computations with an f32 output (verify_bound adds what half outputs
 * and bf16 arithmetic may cost). */
#define VERIFY_ATOL 1e-5
#define VERIFY_RTOL 1e-5

/* Budget for the fp64 reference sample, in multiply-adds (about 0.1 s). */
#define REF_BUDGET 2e8

#define SUMMARY_SIZE 192

struct bench_prepared {
    char key[192];
    fattn_ref_problem p;
    /* The baselines' problem: &p, or &copy (contiguous BHSD, the same
     * values) when they cannot read p's layout; NULL until first used. */
    fattn_ref_problem copy;
    fattn_ref_problem *base;
    double flops;
    /* The fp64 sample: rows (flattened (b, h, i)), their outputs and LSE. */
    int64_t nrows;
    int64_t *rows;
    double *ref_out, *ref_lse;
    /* The baselines' states per level (score buffers, primitives), created
     * on first use. */
    unfused_blas *blas[BENCH_MAX_LEVELS];
    unfused_dnnl *dnnl[BENCH_MAX_LEVELS];
    /* fattn's workspace per path and level: sized by fattn_workspace_size,
     * allocated and touched once, reused by every call (as a hot loop
     * should). */
    void *workspace[BENCH_IMPL_COUNT][BENCH_MAX_LEVELS];
    size_t workspace_bytes[BENCH_IMPL_COUNT][BENCH_MAX_LEVELS];
    /* 0 not yet, 1 passed, -1 failed */
    int verified[BENCH_IMPL_COUNT][BENCH_MAX_LEVELS];
    char summary[BENCH_IMPL_COUNT][BENCH_MAX_LEVELS][SUMMARY_SIZE];
    /* FNV-1a of each fattn path's output on one thread (when verified). */
    uint64_t digest[BENCH_IMPL_COUNT];
    /* The half buffers of query, key, value and output (dtypes.h), NULL
     * for f32 ones; max|V| (the scale of bf16 arithmetic's error bound). */
    void *half[4];
    double max_v;
};

static bench_prepared *g_prepared;
static const bench_machine *g_machine;
static int g_failures;

void bench_prepare_use(const bench_machine *machine)
{
    g_machine = machine;
}

static int level_threads(int level)
{
    return g_machine != NULL && level >= 0 && level < g_machine->levels
               ? g_machine->threads[level]
               : 1;
}

int bench_verify_failures(void)
{
    return g_failures;
}

static const char *const variant_names[BENCH_VARIANT_COUNT] = {
    "plain", "causal", "mask_f32", "mask_bool", "window",
    "alibi", "softcap", "ragged", "strided", "bshd"};

const char *bench_impl_name(int impl)
{
    if (impl == BENCH_BLAS)
        return "blas";
    if (impl == BENCH_ONEDNN)
        return "onednn";
    return impl >= BENCH_FIRST_PATH && impl < BENCH_IMPL_COUNT
               ? fattn_isa_name(bench_impl_fattn_isa(impl))
               : "?";
}

const char *bench_variant_name(int variant)
{
    return variant >= 0 && variant < BENCH_VARIANT_COUNT ? variant_names[variant]
                                                         : "?";
}

int bench_impl_fattn_isa(int impl)
{
    return impl >= BENCH_FIRST_PATH && impl < BENCH_IMPL_COUNT
               ? FATTN_ISA_SCALAR + (impl - BENCH_FIRST_PATH)
               : -1;
}

int bench_impl_runnable(int impl, char *why, size_t size)
{
    const int isa = bench_impl_fattn_isa(impl);

    if (impl == BENCH_BLAS && !unfused_blas_built()) {
        snprintf(why, size, "blas: not built (libopenblas-dev was not found)");
        return 0;
    }
    if (impl == BENCH_ONEDNN && !unfused_dnnl_built()) {
        snprintf(why, size, "onednn: not built (libdnnl-dev was not found)");
        return 0;
    }
    if (isa >= 0 && !fattn_isa_available(isa)) {
        snprintf(why, size,
                 "%s: not supported by this CPU and OS, or not compiled in",
                 fattn_isa_name(isa));
        return 0;
    }
    return 1;
}

void bench_prepare_release(void)
{
    bench_prepared *pp = g_prepared;

    if (pp == NULL)
        return;
    for (int level = 0; level < BENCH_MAX_LEVELS; level++) {
        unfused_blas_free(pp->blas[level]);
        unfused_dnnl_free(pp->dnnl[level]);
        for (int impl = 0; impl < BENCH_IMPL_COUNT; impl++)
            free(pp->workspace[impl][level]);
    }
    free(pp->rows);
    free(pp->ref_out);
    free(pp->ref_lse);
    for (int k = 0; k < 4; k++)
        free(pp->half[k]);
    fattn_ref_problem_free(&pp->copy);
    fattn_ref_problem_free(&pp->p);
    free(pp);
    g_prepared = NULL;
}

static void config_for(fattn_ref_problem_config *cfg, const bench_shape *s)
{
    fattn_ref_config_init(cfg, s->batch, s->heads, s->seq_q, s->seq_k, s->dim);
    cfg->heads_kv = s->kv_heads;
    cfg->seed = 1;
    cfg->params.version = FATTN_PARAMS_VERSION;
    switch (s->variant) {
    case BENCH_CAUSAL:
        cfg->params.causal = FATTN_CAUSAL_TOP_LEFT;
        break;
    case BENCH_MASK_F32:
    case BENCH_MASK_BOOL:
        /* One [Sq, Sk] mask broadcast over batch and heads, the usual
         * attn_mask; no row loses every key. */
        cfg->mask = s->variant == BENCH_MASK_F32 ? FATTN_REF_MASK_ADDITIVE
                                                 : FATTN_REF_MASK_BOOL;
        cfg->mask_size1 = 1u << FATTN_DIM_BATCH | 1u << FATTN_DIM_HEADS;
        cfg->mask_drop = 0.1;
        break;
    case BENCH_WINDOW:
        cfg->params.causal = FATTN_CAUSAL_TOP_LEFT;
        cfg->params.window_enabled = 1;
        cfg->params.window_left = 255;
        cfg->params.window_right = 0;
        cfg->params.align = FATTN_ALIGN_TOP_LEFT;
        break;
    case BENCH_ALIBI:
        cfg->alibi = 1;
        break;
    case BENCH_SOFTCAP:
        cfg->params.softcap = 50.0f;
        break;
    case BENCH_RAGGED:
        cfg->q_lengths = 1;
        cfg->kv_lengths = 1;
        break;
    case BENCH_BSHD:
        cfg->layout = FATTN_REF_LAYOUT_BSHD;
        break;
    default: /* BENCH_STRIDED: the cache is made after the problem */
        break;
    }
}

static double count_flops(const fattn_ref_problem *p)
{
    const fattn_params *pr = &p->params;
    const double d = (double)p->query.shape[3], dv = (double)p->value.shape[3];

    if (pr->causal == FATTN_CAUSAL_NONE && !pr->window_enabled &&
        pr->q_lengths == NULL && pr->kv_lengths == NULL)
        return 2.0 * (d + dv) * (double)p->query.shape[0] *
               (double)p->query.shape[1] * (double)p->query.shape[2] *
               (double)p->key.shape[2];
    return 2.0 * (d + dv) *
           (double)fattn_ref_visible_pairs(&p->query, &p->key, pr);
}

/* Move one buffer of the problem to a 64-byte aligned copy, keeping the
 * tensor's data pointer at the same offset into it. 0, or -1 (the problem
 * unchanged) without memory. */
static int align_buffer(void **buf, size_t bytes, fattn_tensor *t)
{
    const size_t size = bytes > 0 ? (bytes + 63) / 64 * 64 : 64;
    char *copy = aligned_alloc(64, size);

    if (copy == NULL)
        return -1;
    memset(copy + bytes, 0, size - bytes);
    memcpy(copy, *buf, bytes);
    if (t != NULL && t->data != NULL)
        t->data = copy + ((char *)t->data - (char *)*buf);
    free(*buf);
    *buf = copy;
    return 0;
}

/*
 * Every buffer on a 64-byte boundary, as a framework's allocator gives
 * (PyTorch's CPU allocator aligns to 64). The problem builder uses plain
 * malloc, and glibc serves a large malloc from mmap 16 bytes past a page
 * start: then every 64-byte vector load or store of a row straddles two
 * cache lines, which slows oneDNN's matmuls visibly (the commit that added
 * this has the numbers); no implementation should be measured with a
 * layout no framework would give it. The buffers are owned by the problem,
 * which frees them
 * with free(): aligned_alloc memory may be.
 */
static int align_problem(fattn_ref_problem *p)
{
    void **bufs[5] = {(void **)&p->q_buf, (void **)&p->k_buf,
                      (void **)&p->v_buf, (void **)&p->out_buf, &p->mask_buf};
    const size_t esize = p->mask.dtype == FATTN_DTYPE_BOOL ? 1 : sizeof(float);
    const size_t bytes[5] = {p->q_elems * sizeof(float), p->k_elems * sizeof(float),
                             p->v_elems * sizeof(float), p->out_elems * sizeof(float),
                             p->mask_elems * esize};
    fattn_tensor *tensors[5] = {&p->query, &p->key, &p->value, &p->output, &p->mask};

    for (int k = 0; k < 5; k++)
        if (*bufs[k] != NULL && align_buffer(bufs[k], bytes[k], tensors[k]) != 0)
            return -1;
    return 0;
}

/* Move a contiguous BHSD key or value tensor into a cache of `capacity`
 * rows per head (stride {Hkv*C*D, C*D, D, 1}), its first Sk rows the
 * tensor's, the others NaN: an implementation that reads past Sk fails its
 * check. 0, or -1 (unchanged) without memory. */
static int make_cache(fattn_tensor *t, float **buf, size_t *elems,
                      int64_t capacity)
{
    const int64_t B = t->shape[0], H = t->shape[1], sk = t->shape[2],
                  d = t->shape[3];
    const size_t count = (size_t)(B * H * capacity * d);
    float *cache = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);

    if (cache == NULL)
        return -1;
    for (size_t k = 0; k < count; k++)
        cache[k] = NAN;
    for (int64_t bh = 0; bh < B * H; bh++)
        memcpy(cache + bh * capacity * d, *buf + bh * sk * d,
               (size_t)(sk * d) * sizeof(float));
    free(*buf);
    *buf = cache;
    *elems = count;
    t->data = cache;
    t->stride[2] = d;
    t->stride[1] = capacity * d;
    t->stride[0] = H * capacity * d;
    return 0;
}

/* Choose the sampled rows and compute their fp64 reference. */
static int sample_reference(bench_prepared *pp)
{
    const fattn_ref_problem *p = &pp->p;
    const int64_t H = p->query.shape[1], sq = p->query.shape[2];
    const int64_t total = p->query.shape[0] * H * sq;
    const int64_t dv = p->value.shape[3];
    const double per_row =
        (total > 0 ? pp->flops / 2.0 / (double)total : 0.0) + 40.0 * (double)p->key.shape[2];
    int64_t want = (int64_t)(REF_BUDGET / (per_row > 1.0 ? per_row : 1.0));
    int64_t step;

    if (want < 1)
        want = 1;
    if (want > total)
        want = total;
    step = total / (want > 0 ? want : 1);
    if (step > 1)
        step |= 1; /* odd: the sample walks every residue of a tile */
    pp->nrows = step > 0 ? (total + step - 1) / step : 0;
    pp->rows = malloc((size_t)(pp->nrows > 0 ? pp->nrows : 1) * sizeof *pp->rows);
    pp->ref_out = malloc((size_t)(pp->nrows > 0 ? pp->nrows : 1) * (size_t)dv *
                         sizeof *pp->ref_out);
    pp->ref_lse = malloc((size_t)(pp->nrows > 0 ? pp->nrows : 1) * sizeof *pp->ref_lse);
    if (pp->rows == NULL || pp->ref_out == NULL || pp->ref_lse == NULL)
        return -1;
    for (int64_t k = 0; k < pp->nrows; k++) {
        const int64_t r = k * step;

        pp->rows[k] = r;
        fattn_ref_row(&p->query, &p->key, &p->value, &p->params, r / (H * sq),
                      (r / sq) % H, r % sq, pp->ref_out + k * dv, &pp->ref_lse[k]);
    }
    return 0;
}

/* The shape's dtypes: half buffers for query and output (q_dtype), key
 * and value (kv_dtype); and max|V| over the f32 values (NaN cache rows
 * skipped), which rounding to half moves by at most 2^-8 of itself. 0 or
 * -1 without memory. */
static int make_dtypes(bench_prepared *pp, const bench_shape *shape)
{
    fattn_ref_problem *p = &pp->p;

    pp->max_v = 0.0;
    for (size_t k = 0; k < p->v_elems; k++)
        if (fabsf(p->v_buf[k]) > pp->max_v) /* false for NaN */
            pp->max_v = fabsf(p->v_buf[k]);
    return bench_to_half(&p->query, p->q_buf, p->q_elems, shape->q_dtype,
                         &pp->half[0]) != 0 ||
                   bench_to_half(&p->key, p->k_buf, p->k_elems, shape->kv_dtype,
                                 &pp->half[1]) != 0 ||
                   bench_to_half(&p->value, p->v_buf, p->v_elems,
                                 shape->kv_dtype, &pp->half[2]) != 0 ||
                   bench_to_half(&p->output, p->out_buf, p->out_elems,
                                 shape->q_dtype, &pp->half[3]) != 0
               ? -1
               : 0;
}

/* Back to "nothing written": the builder's sentinel, NaN in a half
 * output. */
static void reset_output(bench_prepared *pp, fattn_ref_problem *p)
{
    fattn_ref_problem_reset_output(p);
    if (p == &pp->p && pp->half[3] != NULL)
        bench_half_fill_nan(pp->half[3], p->out_elems, p->output.dtype);
}

bench_prepared *bench_prepare(const char *key, const bench_shape *shape,
                              char *why, size_t size)
{
    fattn_ref_problem_config cfg;
    bench_prepared *pp;

    if (g_prepared != NULL && strcmp(g_prepared->key, key) == 0)
        return g_prepared;
    bench_prepare_release();
    pp = calloc(1, sizeof *pp);
    if (pp == NULL) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    snprintf(pp->key, sizeof pp->key, "%s", key);
    config_for(&cfg, shape);
    if (fattn_ref_problem_init(&pp->p, &cfg) != 0) {
        free(pp);
        snprintf(why, size, "cannot build the problem (out of memory?)");
        return NULL;
    }
    if (align_problem(&pp->p) != 0 ||
        (shape->variant == BENCH_STRIDED &&
         (make_cache(&pp->p.key, &pp->p.k_buf, &pp->p.k_elems, 2 * shape->seq_k) != 0 ||
          make_cache(&pp->p.value, &pp->p.v_buf, &pp->p.v_elems, 2 * shape->seq_k) != 0))) {
        fattn_ref_problem_free(&pp->p);
        free(pp);
        snprintf(why, size, "out of memory for the aligned buffers");
        return NULL;
    }
    if (shape->variant == BENCH_RAGGED)
        for (int64_t b = 0; b < shape->batch; b++) {
            /* S, 3S/4, S/2, S/4, S, ...: a packed batch of unequal
             * sequences, none empty. */
            const int64_t part = 4 - b % 4;

            pp->p.q_lengths[b] = shape->seq_q * part / 4;
            pp->p.kv_lengths[b] = shape->seq_k * part / 4;
        }
    pp->flops = count_flops(&pp->p);
    g_prepared = pp;
    if (make_dtypes(pp, shape) != 0) {
        bench_prepare_release();
        snprintf(why, size, "out of memory for the bf16/f16 buffers");
        return NULL;
    }
    if (sample_reference(pp) != 0) {
        bench_prepare_release();
        snprintf(why, size, "out of memory for the reference sample");
        return NULL;
    }
    return pp;
}

double bench_flops(const bench_prepared *pp)
{
    return pp->flops;
}

double bench_kv_bytes(const bench_prepared *pp)
{
    const fattn_ref_problem *p = &pp->p;

    return (double)bench_dtype_size(p->key.dtype) * (double)p->key.shape[0] *
           (double)p->key.shape[1] * (double)p->key.shape[2] *
           (double)(p->key.shape[3] + p->value.shape[3]);
}

double bench_flop_per_kv_byte(const bench_prepared *pp)
{
    return 2.0 * bench_rows_per_kv(pp) /
           (double)bench_dtype_size(pp->p.key.dtype);
}

double bench_rows_per_kv(const bench_prepared *pp)
{
    const fattn_ref_problem *p = &pp->p;

    return (double)(p->query.shape[1] / p->key.shape[1]) * (double)p->query.shape[2];
}

double bench_extra_bytes(const bench_prepared *pp, int impl, int level)
{
    if (bench_impl_fattn_isa(impl) >= 0)
        return (double)pp->workspace_bytes[impl][level];
    if (impl == BENCH_BLAS && pp->blas[level] != NULL)
        return (double)unfused_blas_extra_bytes(pp->blas[level]);
    if (impl == BENCH_ONEDNN && pp->dnnl[level] != NULL)
        return (double)unfused_dnnl_extra_bytes(pp->dnnl[level]);
    return 0.0;
}

const char *bench_verify_summary(const bench_prepared *pp, int impl, int level)
{
    return pp->summary[impl][level];
}

/* The problem the baselines compute: the case's own, or (a layout they
 * cannot read in place) a contiguous BHSD problem from the same config,
 * which the builder fills with the same values in the same (logical)
 * order. NULL without memory. */
static fattn_ref_problem *baseline_problem(bench_prepared *pp)
{
    fattn_ref_problem_config cfg = pp->p.config;

    if (pp->base != NULL)
        return pp->base;
    if (unfused_reads_in_place(&pp->p)) {
        pp->base = &pp->p;
        return pp->base;
    }
    /* The copy is built in f32 from the config: a half problem has no
     * such copy (its cases are BHSD, read in place). */
    if (pp->p.query.dtype != FATTN_DTYPE_F32 || pp->p.key.dtype != FATTN_DTYPE_F32)
        return NULL;
    cfg.layout = FATTN_REF_LAYOUT_BHSD;
    if (fattn_ref_problem_init(&pp->copy, &cfg) != 0 ||
        align_problem(&pp->copy) != 0) {
        fattn_ref_problem_free(&pp->copy);
        return NULL;
    }
    if (pp->p.q_lengths != NULL) /* set after init (BENCH_RAGGED) */
        memcpy(pp->copy.q_lengths, pp->p.q_lengths,
               (size_t)pp->p.query.shape[0] * sizeof *pp->p.q_lengths);
    if (pp->p.kv_lengths != NULL)
        memcpy(pp->copy.kv_lengths, pp->p.kv_lengths,
               (size_t)pp->p.query.shape[0] * sizeof *pp->p.kv_lengths);
    pp->base = &pp->copy;
    return pp->base;
}

/* The baselines' state at the level, created on first use. */
static int unfused_ready(bench_prepared *pp, int impl, int level, char *why,
                         size_t size)
{
    const fattn_ref_problem *base = baseline_problem(pp);

    if (base == NULL) {
        snprintf(why, size, "%s: out of memory for a contiguous BHSD copy",
                 bench_impl_name(impl));
        return -1;
    }
    if (!unfused_supported(base, why, size))
        return -1;
    if (impl == BENCH_BLAS && pp->blas[level] == NULL)
        pp->blas[level] = unfused_blas_create(base, level_threads(level),
                                              bench_machine_workers(level), why,
                                              size);
    if (impl == BENCH_ONEDNN && pp->dnnl[level] == NULL)
        pp->dnnl[level] = unfused_dnnl_create(base, level_threads(level), why,
                                              size);
    return (impl == BENCH_BLAS ? (void *)pp->blas[level] : (void *)pp->dnnl[level])
               ? 0
               : -1;
}

static fattn_status run_fattn(bench_prepared *pp, int impl, int level,
                              fattn_error *err)
{
    fattn_params params = pp->p.params;

    params.version = FATTN_PARAMS_VERSION; /* layout 2: the pool field */
    params.isa = bench_impl_fattn_isa(impl);
    params.pool = bench_machine_pool(level);
    if (pp->workspace[impl][level] == NULL) {
        size_t bytes = 0;
        fattn_status st = fattn_workspace_size(&pp->p.query, &pp->p.key, &pp->p.value,
                                               &pp->p.output, &params, &bytes, err);
        if (st != FATTN_OK)
            return st;
        pp->workspace[impl][level] =
            aligned_alloc(64, bytes > 0 ? (bytes + 63) / 64 * 64 : 64);
        if (pp->workspace[impl][level] == NULL) {
            if (err != NULL) {
                snprintf(err->message, sizeof err->message,
                         "bench: workspace of %zu bytes: out of memory", bytes);
                err->status = FATTN_ERR_OUT_OF_MEMORY;
            }
            return FATTN_ERR_OUT_OF_MEMORY;
        }
        memset(pp->workspace[impl][level], 0, bytes); /* touch every page now */
        pp->workspace_bytes[impl][level] = bytes;
    }
    params.workspace = pp->workspace[impl][level];
    params.workspace_size = pp->workspace_bytes[impl][level];
    return fattn_forward(&pp->p.query, &pp->p.key, &pp->p.value, &pp->p.output,
                         &params, err);
}

int bench_run(bench_prepared *pp, int impl, int level)
{
    switch (impl) {
    case BENCH_BLAS:
        return unfused_blas_run(pp->blas[level]);
    case BENCH_ONEDNN:
        return unfused_dnnl_run(pp->dnnl[level]);
    default:
        return run_fattn(pp, impl, level, NULL) == FATTN_OK ? 0 : -1;
    }
}

/* 64-bit FNV-1a of the whole output buffer (the half one for a half
 * output). */
static uint64_t output_digest(const bench_prepared *pp)
{
    const fattn_ref_problem *p = &pp->p;
    const unsigned char *b = pp->half[3] != NULL
                                 ? (const unsigned char *)pp->half[3]
                                 : (const unsigned char *)p->out_buf;
    const size_t bytes = p->out_elems * bench_dtype_size(p->output.dtype);
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t k = 0; k < bytes; k++) {
        h ^= b[k];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The problem whose output `impl` writes. */
static fattn_ref_problem *problem_of(bench_prepared *pp, int impl)
{
    return bench_impl_fattn_isa(impl) < 0 && pp->base != NULL ? pp->base : &pp->p;
}

/* The check's bound for `impl` on this problem: BENCH's f32 bound, plus
 *   - a bf16 or f16 output's one rounding, at most u*|x| (u = 2^-8 for
 *     bf16's 8 significant bits, 2^-11 for f16's 11), to rtol;
 *   - fattn's avx512bf16 path with bf16 Q, K and V: its documented cost
 *     of P in bf16, 2^-8 * max|V| (fattn.h), to atol;
 *   - oneDNN in bf16 (a bf16 K/V cache): P in bf16 the same way, and with
 *     an f32 query that it must round to bf16 for its matmul, that
 *     rounding too, which the reference (reading the f32 query) does not
 *     see: 2^-6 * max|V| then, a sanity bound, not a tight one. */
static void verify_bound(const bench_prepared *pp, int impl, double *atol,
                         double *rtol)
{
    const fattn_ref_problem *p = &pp->p;
    const int q = p->query.dtype, kv = p->key.dtype, out = p->output.dtype;

    *atol = VERIFY_ATOL;
    *rtol = VERIFY_RTOL;
    if (out == FATTN_DTYPE_BF16)
        *rtol += ldexp(1.0, -8);
    else if (out == FATTN_DTYPE_F16)
        *rtol += ldexp(1.0, -11);
    if (bench_impl_fattn_isa(impl) == FATTN_ISA_AVX512BF16 &&
        q == FATTN_DTYPE_BF16 && kv == FATTN_DTYPE_BF16)
        *atol += ldexp(1.0, -8) * pp->max_v;
    if (impl == BENCH_ONEDNN && kv != FATTN_DTYPE_F32)
        *atol += ldexp(1.0, q == kv ? -8 : -6) * pp->max_v;
}

static int compare_sample(bench_prepared *pp, int impl, int level, char *why,
                          size_t size)
{
    const fattn_ref_problem *p = problem_of(pp, impl);
    const int copy = p == &pp->copy;
    const int64_t H = p->query.shape[1], sq = p->query.shape[2];
    const int64_t dv = p->value.shape[3];
    fattn_ref_report rep;
    double atol, rtol;

    verify_bound(pp, impl, &atol, &rtol);
    fattn_ref_report_init(&rep);
    for (int64_t k = 0; k < pp->nrows; k++) {
        const int64_t r = pp->rows[k];

        fattn_ref_compare_row(&rep, NULL, &p->output, NULL, r / (H * sq),
                              (r / sq) % H, r % sq, pp->ref_out + k * dv,
                              pp->ref_lse[k], atol, rtol);
    }
    snprintf(pp->summary[impl][level], SUMMARY_SIZE,
             "%s%s%smax err %.1e vs fp64 (%lld of %lld rows)",
             impl == BENCH_ONEDNN ? unfused_dnnl_impl(pp->dnnl[level])
             : impl == BENCH_BLAS && level > 0 ? unfused_blas_threading(pp->blas[level])
                                                : "",
             impl == BENCH_ONEDNN || (impl == BENCH_BLAS && level > 0) ? "; " : "",
             copy ? "on a contiguous BHSD copy; " : "",
             rep.max_abs_err, (long long)pp->nrows,
             (long long)(p->query.shape[0] * H * sq));
    if (rep.violations == 0)
        return 0;
    snprintf(why, size,
             "%s: wrong result: %lld of %lld sampled elements exceed "
             "|x-ref| <= %g + %g*|ref|; worst at b=%lld h=%lld i=%lld d=%lld: "
             "got %.9g, fp64 reference %.9g",
             bench_impl_name(impl), (long long)rep.violations,
             (long long)rep.checked, atol, rtol,
             (long long)rep.worst[0], (long long)rep.worst[1],
             (long long)rep.worst[2], (long long)rep.worst[3], rep.worst_got,
             rep.worst_ref);
    return -1;
}

/* A fattn path's output on N threads against its one-thread bits. */
static int same_bits(bench_prepared *pp, int impl, int level, char *why,
                     size_t size)
{
    const uint64_t h = output_digest(pp);

    if (h == pp->digest[impl])
        return 0;
    snprintf(why, size,
             "%s: %d threads gave other bits than 1 thread (output FNV-1a "
             "%016llx vs %016llx): the result depends on the thread count",
             bench_impl_name(impl), level_threads(level), (unsigned long long)h,
             (unsigned long long)pp->digest[impl]);
    return -1;
}

int bench_verify(bench_prepared *pp, int impl, int level, char *why, size_t size)
{
    const int fattn = bench_impl_fattn_isa(impl) >= 0;
    char *summary = pp->summary[impl][level];
    fattn_error err;

    if (pp->verified[impl][level] > 0)
        return 0;
    if (pp->verified[impl][level] < 0) {
        snprintf(why, size, "%s", summary);
        return -1;
    }
    /* The one-thread bits first: what N threads must reproduce. */
    if (fattn && level > 0 && bench_verify(pp, impl, 0, why, size) != 0) {
        pp->verified[impl][level] = -1;
        snprintf(summary, SUMMARY_SIZE, "%s", why);
        return -1;
    }
    pp->verified[impl][level] = -1;
    why[0] = '\0';
    reset_output(pp, &pp->p);
    if (pp->base == &pp->copy)
        reset_output(pp, &pp->copy);
    if (fattn) {
        memset(&err, 0, sizeof err);
        if (run_fattn(pp, impl, level, &err) != FATTN_OK) {
            snprintf(why, size, "%s: fattn_forward failed (%s): %s",
                     bench_impl_name(impl), fattn_status_name(err.status),
                     err.message);
            g_failures++;
            snprintf(summary, SUMMARY_SIZE, "%s", why);
            return -1;
        }
    } else {
        if (unfused_ready(pp, impl, level, why, size) != 0 ||
            bench_run(pp, impl, level) != 0) {
            if (why[0] == '\0')
                snprintf(why, size, "%s: the baseline failed", bench_impl_name(impl));
            snprintf(summary, SUMMARY_SIZE, "%s", why);
            return -1;
        }
    }
    if (compare_sample(pp, impl, level, why, size) != 0 ||
        (fattn && level > 0 && same_bits(pp, impl, level, why, size) != 0)) {
        snprintf(summary, SUMMARY_SIZE, "%s", why);
        g_failures++;
        return -1;
    }
    if (fattn && level == 0)
        pp->digest[impl] = output_digest(pp);
    pp->verified[impl][level] = 1;
    return 0;
}
