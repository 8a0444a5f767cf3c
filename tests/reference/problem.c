/*
 * problem.c - seeded random attention problems (see problem.h).
 */
#include "problem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* RNG                                                                      */
/* ------------------------------------------------------------------------ */

void fattn_ref_rng_seed(fattn_ref_rng *rng, uint64_t seed)
{
    rng->state = seed;
}

uint64_t fattn_ref_rng_next(fattn_ref_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double fattn_ref_rng_unit(fattn_ref_rng *rng)
{
    return (double)(fattn_ref_rng_next(rng) >> 11) * 0x1.0p-53;
}

int64_t fattn_ref_rng_range(fattn_ref_rng *rng, int64_t lo, int64_t hi)
{
    const uint64_t span = (uint64_t)hi - (uint64_t)lo + 1u;
    if (span == 0) /* the whole int64 range */
        return (int64_t)fattn_ref_rng_next(rng);
    return lo + (int64_t)(fattn_ref_rng_next(rng) % span);
}

int64_t fattn_ref_rng_pick(fattn_ref_rng *rng, const int64_t *values,
                           size_t count)
{
    return values[fattn_ref_rng_range(rng, 0, (int64_t)count - 1)];
}

/* ------------------------------------------------------------------------ */
/* Layouts                                                                  */
/* ------------------------------------------------------------------------ */

/* Number of elements from the first to one past the last addressed one. */
static size_t tensor_extent(const int64_t shape[4], const int64_t stride[4])
{
    int64_t last = 0;
    for (int d = 0; d < 4; d++) {
        if (shape[d] == 0)
            return 0;
        last += (shape[d] - 1) * stride[d];
    }
    return (size_t)last + 1;
}

/*
 * Strides for `shape` stored with dimension order[0] innermost (element step
 * `step`), then order[1], ..., each followed by pad[k] unused elements.
 */
static void layout_strides(const int64_t shape[4], const int order[4],
                           int64_t step, const int64_t pad[3],
                           int64_t stride[4])
{
    int64_t st = step;
    stride[order[0]] = st;
    for (int k = 1; k < 4; k++) {
        const int64_t inner = shape[order[k - 1]];
        st = st * (inner > 0 ? inner : 1) + pad[k - 1];
        stride[order[k]] = st;
    }
}

/* order[] is innermost first; dimension indices are FATTN_DIM_*. */
static void strides_for(int layout, const int64_t shape[4], int64_t stride[4])
{
    static const int bhsd[4] = {3, 2, 1, 0}, bshd[4] = {3, 1, 2, 0},
                     sbhd[4] = {3, 1, 0, 2};
    static const int64_t no_pad[3] = {0, 0, 0}, pad[3] = {3, 5, 7},
                         strided_pad[3] = {1, 3, 5};
    switch (layout) {
    case FATTN_REF_LAYOUT_BSHD:
    case FATTN_REF_LAYOUT_FUSED_QKV: /* output and LSE; q/k/v set apart */
        layout_strides(shape, bshd, 1, no_pad, stride);
        break;
    case FATTN_REF_LAYOUT_PADDED:
        layout_strides(shape, sbhd, 1, pad, stride);
        break;
    case FATTN_REF_LAYOUT_STRIDED:
        layout_strides(shape, bhsd, 2, strided_pad, stride);
        break;
    default:
        layout_strides(shape, bhsd, 1, no_pad, stride);
        break;
    }
}

size_t fattn_ref_dtype_size(int dtype)
{
    return dtype == FATTN_DTYPE_F32 ? 4 : dtype == FATTN_DTYPE_BOOL ? 1 : 2;
}

/* count elements of esize bytes (an f32 buffer when esize is 4); the
 * pointer type is float * for the f32 callers of problem.h. */
static float *alloc_elems(size_t count, size_t esize)
{
    /* Data pointers must be non-NULL even for empty tensors. */
    return malloc((count ? count : 1) * esize);
}

static void set_tensor(fattn_tensor *t, void *data, int32_t dtype,
                       const int64_t shape[4], const int64_t stride[4])
{
    t->data = data;
    t->dtype = dtype;
    memcpy(t->shape, shape, sizeof(t->shape));
    memcpy(t->stride, stride, sizeof(t->stride));
}

/* A tensor of `dtype` and `shape` in `layout`, storage owned by *buf. */
static int make_tensor(fattn_tensor *t, float **buf, size_t *elems, int layout,
                       const int64_t shape[4], int dtype)
{
    int64_t stride[4];
    strides_for(layout, shape, stride);
    *elems = tensor_extent(shape, stride);
    *buf = alloc_elems(*elems, fattn_ref_dtype_size(dtype));
    if (!*buf)
        return -1;
    set_tensor(t, *buf, dtype, shape, stride);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static float uniform(fattn_ref_rng *rng, double a)
{
    return (float)((2.0 * fattn_ref_rng_unit(rng) - 1.0) * a);
}

/* Element k of an f32, bf16 or f16 buffer set to x (rounded to the dtype). */
static void store_at(void *data, int dtype, int64_t k, double x)
{
    if (dtype == FATTN_DTYPE_F32)
        ((float *)data)[k] = (float)x;
    else
        ((uint16_t *)data)[k] = fattn_ref_double_to_half(x, dtype);
}

void fattn_ref_store(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                     int64_t d, double x)
{
    store_at(t->data, t->dtype,
             n * t->stride[0] + h * t->stride[1] + s * t->stride[2] +
                 d * t->stride[3],
             x);
}

/* Fill the addressed elements of t (not the gaps): the f32 value, rounded
 * to t's dtype (integers of the large-logits mode stay exact). */
static void fill_tensor(const fattn_tensor *t, fattn_ref_rng *rng, double a,
                        int integers)
{
    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++) {
                    const float x = integers ? (float)fattn_ref_rng_range(
                                                   rng, -(int64_t)a, (int64_t)a)
                                             : uniform(rng, a);
                    fattn_ref_store(t, n, h, s, d, (double)x);
                }
}

/* count elements of esize bytes (4: f32, 2: bf16/f16) set to the sentinel. */
static void fill_sentinel(void *buf, size_t count, size_t esize)
{
    const uint32_t bits = FATTN_REF_SENTINEL_BITS;
    const uint16_t half = FATTN_REF_SENTINEL_HALF;
    for (size_t k = 0; k < count; k++) {
        if (esize == 2)
            memcpy((unsigned char *)buf + 2 * k, &half, sizeof(half));
        else
            memcpy((unsigned char *)buf + 4 * k, &bits, sizeof(bits));
    }
}

static int is_sentinel(const void *buf, int64_t k, size_t esize)
{
    if (esize == 2) {
        uint16_t half;
        memcpy(&half, (const unsigned char *)buf + 2 * k, sizeof(half));
        return half == FATTN_REF_SENTINEL_HALF;
    }
    uint32_t bits;
    memcpy(&bits, (const unsigned char *)buf + 4 * k, sizeof(bits));
    return bits == FATTN_REF_SENTINEL_BITS;
}

/* Smallest e >= 0 with max_dist * 2^-e <= bound. */
static int slope_exponent(int64_t max_dist, double bound)
{
    int e = 0;
    while ((double)max_dist * ldexp(1.0, -e) > bound)
        e++;
    return e;
}

static int64_t random_length(fattn_ref_rng *rng, int64_t full)
{
    switch (fattn_ref_rng_range(rng, 0, 7)) {
    case 0: return 0;
    case 1:
    case 2: return full;
    case 3: return full > 0 ? 1 : 0;
    case 4: return full > 0 ? full - 1 : 0;
    default: return fattn_ref_rng_range(rng, 0, full);
    }
}

/* `batch` random lengths in [0, full] (at least one slot, never NULL unless
 * memory ran out). */
static int64_t *random_lengths(fattn_ref_rng *rng, int64_t batch, int64_t full)
{
    int64_t *len = malloc((size_t)(batch > 0 ? batch : 1) * sizeof(int64_t));
    if (len)
        for (int64_t b = 0; b < batch; b++)
            len[b] = random_length(rng, full);
    return len;
}

static int make_mask(fattn_ref_problem *p, fattn_ref_rng *rng)
{
    const fattn_ref_problem_config *c = &p->config;
    const int64_t full[4] = {c->batch, c->heads_q, c->seq_q, c->seq_k};
    const int large = c->large_logits;
    const int64_t int_range = c->params.softcap > 0.0f ? 4 : 64;
    const double a = c->value_range;
    int64_t shape[4], stored[4], stride[4];
    size_t count = 1;

    for (int d = 0; d < 4; d++) {
        const int size1 = (c->mask_size1 >> d) & 1u;
        const int zero = (c->mask_stride0 >> d) & 1u;
        shape[d] = size1 ? 1 : full[d];
        stored[d] = (size1 || zero) ? (shape[d] > 0 ? 1 : 0) : shape[d];
    }
    for (int d = 3; d >= 0; d--) {
        if ((c->mask_size1 >> d) & 1u)
            stride[d] = 1000003; /* never used: a size-1 dimension broadcasts */
        else if ((c->mask_stride0 >> d) & 1u)
            stride[d] = 0;
        else
            stride[d] = (int64_t)count;
        count *= (size_t)stored[d];
    }
    p->mask_elems = count;

    const int is_bool = c->mask == FATTN_REF_MASK_BOOL;
    const int dtype = is_bool ? FATTN_DTYPE_BOOL : c->dtype_mask;
    const size_t esize = fattn_ref_dtype_size(dtype);
    p->mask_esize = esize;
    p->mask_buf = malloc((count ? count : 1) * esize);
    if (!p->mask_buf)
        return -1;
    set_tensor(&p->mask, p->mask_buf, dtype, shape, stride);

    /* Stored elements are contiguous in (b, h, i, j) order. */
    const int64_t row_len = stored[3];
    const size_t rows = row_len ? count / (size_t)row_len : 0;
    for (size_t r = 0; r < rows; r++) {
        const int dead = fattn_ref_rng_unit(rng) < c->mask_dead_rows;
        for (int64_t j = 0; j < row_len; j++) {
            const size_t k = r * (size_t)row_len + (size_t)j;
            const int drop = dead || fattn_ref_rng_unit(rng) < c->mask_drop;
            if (is_bool) {
                /* Any nonzero byte keeps the key, not just 1. */
                ((uint8_t *)p->mask_buf)[k] =
                    drop ? 0 : (uint8_t)(fattn_ref_rng_range(rng, 0, 3) ? 1
                                                                        : fattn_ref_rng_range(rng, 2, 255));
            } else {
                float x;
                if (drop)
                    x = -INFINITY;
                else if (large)
                    x = (float)fattn_ref_rng_range(rng, -int_range, int_range);
                else
                    x = uniform(rng, a);
                store_at(p->mask_buf, dtype, (int64_t)k, (double)x);
            }
        }
    }
    p->params.mask = &p->mask;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Problem                                                                  */
/* ------------------------------------------------------------------------ */

void fattn_ref_config_init(fattn_ref_problem_config *cfg, int64_t batch,
                           int64_t heads, int64_t seq_q, int64_t seq_k,
                           int64_t head_dim)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->batch = batch;
    cfg->heads_q = cfg->heads_kv = heads;
    cfg->seq_q = seq_q;
    cfg->seq_k = seq_k;
    cfg->head_dim = cfg->head_dim_v = head_dim;
    cfg->layout = FATTN_REF_LAYOUT_BHSD;
}

static int config_valid(const fattn_ref_problem_config *c)
{
    if (c->batch < 0 || c->seq_q < 0 || c->seq_k < 0 || c->heads_q < 1 ||
        c->heads_kv < 1 || c->head_dim < 1 || c->head_dim_v < 1)
        return 0;
    if (c->heads_q % c->heads_kv != 0)
        return 0;
    if (c->layout < 0 || c->layout >= FATTN_REF_LAYOUT_COUNT)
        return 0;
    if (c->layout == FATTN_REF_LAYOUT_FUSED_QKV &&
        (c->seq_q != c->seq_k || c->heads_q != c->heads_kv ||
         c->head_dim != c->head_dim_v || c->dtype_k != c->dtype_q ||
         c->dtype_v != c->dtype_q))
        return 0;
    const int dtypes[5] = {c->dtype_q, c->dtype_k, c->dtype_v, c->dtype_o,
                           c->dtype_mask};
    for (int k = 0; k < 5; k++)
        if (dtypes[k] < FATTN_DTYPE_F32 || dtypes[k] > FATTN_DTYPE_F16)
            return 0;
    return c->mask >= FATTN_REF_MASK_NONE && c->mask <= FATTN_REF_MASK_BOOL;
}

/* Query, key and value as thirds of one [B, S, 3 * H * D] buffer. */
static int make_fused_qkv(fattn_ref_problem *p, const int64_t qshape[4])
{
    const int64_t H = qshape[1], S = qshape[2], D = qshape[3];
    const int64_t token = 3 * H * D;
    const int64_t stride[4] = {S * token, D, token, 1};
    fattn_tensor *views[3] = {&p->query, &p->key, &p->value};

    const int dtype = p->config.dtype_q;
    const size_t es = fattn_ref_dtype_size(dtype);
    p->q_elems = qshape[0] * S > 0 ? (size_t)(qshape[0] * S * token) : 0;
    p->q_buf = alloc_elems(p->q_elems, es); /* exactly the three views */
    if (!p->q_buf)
        return -1;
    for (int t = 0; t < 3; t++)
        set_tensor(views[t], (unsigned char *)p->q_buf + (size_t)(t * H * D) * es,
                   dtype, qshape, stride);
    return 0;
}

/* Large-logits mode: integer Q and K with |Q.K| <= 1e4 and a power-of-two
 * scale that puts the logits' standard deviation near 3000. */
static void large_logit_setup(const fattn_ref_problem_config *c, int64_t *a,
                              float *scale)
{
    const int64_t D = c->head_dim;
    int64_t ai = (int64_t)floor(sqrt(1e4 / (double)D));
    if (ai < 1)
        ai = 1;
    const double dot_std = sqrt((double)D) * (double)(ai * (ai + 1)) / 3.0;
    *a = ai;
    *scale = (float)ldexp(1.0, (int)lround(log2(3000.0 / dot_std)));
}

int fattn_ref_problem_init(fattn_ref_problem *p,
                           const fattn_ref_problem_config *cfg)
{
    memset(p, 0, sizeof(*p));
    if (!config_valid(cfg))
        return -1;
    p->config = *cfg;
    fattn_ref_problem_config *c = &p->config;
    if (c->value_range <= 0.0)
        c->value_range = 1.0;

    fattn_ref_rng rng;
    fattn_ref_rng_seed(&rng, c->seed);

    const int64_t B = c->batch, Hq = c->heads_q, Hkv = c->heads_kv;
    const int64_t qshape[4] = {B, Hq, c->seq_q, c->head_dim};
    const int64_t kshape[4] = {B, Hkv, c->seq_k, c->head_dim};
    const int64_t vshape[4] = {B, Hkv, c->seq_k, c->head_dim_v};
    const int64_t oshape[4] = {B, Hq, c->seq_q, c->head_dim_v};
    const int64_t lshape[4] = {B, Hq, c->seq_q, 1};

    p->params = c->params;
    p->params.mask = NULL;
    p->params.lse = NULL;
    p->params.alibi_slopes = NULL;
    p->params.q_lengths = NULL;
    p->params.kv_lengths = NULL;

    int rc = 0;
    if (c->layout == FATTN_REF_LAYOUT_FUSED_QKV) {
        rc |= make_fused_qkv(p, qshape);
    } else if (c->layout == FATTN_REF_LAYOUT_KV_BROADCAST) {
        const int64_t k1[4] = {B > 0 ? 1 : 0, Hkv, c->seq_k, c->head_dim};
        const int64_t v1[4] = {B > 0 ? 1 : 0, Hkv, c->seq_k, c->head_dim_v};
        rc |= make_tensor(&p->query, &p->q_buf, &p->q_elems, c->layout, qshape,
                          c->dtype_q);
        rc |= make_tensor(&p->key, &p->k_buf, &p->k_elems, c->layout, k1,
                          c->dtype_k);
        rc |= make_tensor(&p->value, &p->v_buf, &p->v_elems, c->layout, v1,
                          c->dtype_v);
        if (rc == 0) {
            p->key.shape[0] = p->value.shape[0] = B;
            p->key.stride[0] = p->value.stride[0] = 0;
        }
    } else {
        rc |= make_tensor(&p->query, &p->q_buf, &p->q_elems, c->layout, qshape,
                          c->dtype_q);
        rc |= make_tensor(&p->key, &p->k_buf, &p->k_elems, c->layout, kshape,
                          c->dtype_k);
        rc |= make_tensor(&p->value, &p->v_buf, &p->v_elems, c->layout, vshape,
                          c->dtype_v);
    }
    rc |= make_tensor(&p->output, &p->out_buf, &p->out_elems, c->layout, oshape,
                      c->dtype_o);
    p->q_esize = fattn_ref_dtype_size(c->dtype_q);
    p->k_esize = fattn_ref_dtype_size(c->dtype_k);
    p->v_esize = fattn_ref_dtype_size(c->dtype_v);
    p->out_esize = fattn_ref_dtype_size(c->dtype_o);
    if (rc != 0)
        goto fail;

    if (c->large_logits) {
        int64_t a;
        large_logit_setup(c, &a, &p->params.scale);
        fill_tensor(&p->query, &rng, (double)a, 1);
        fill_tensor(&p->key, &rng, (double)a, 1);
        fill_tensor(&p->value, &rng, 1.0, 0);
    } else {
        fill_tensor(&p->query, &rng, c->value_range, 0);
        fill_tensor(&p->key, &rng, c->value_range, 0);
        fill_tensor(&p->value, &rng, c->value_range, 0);
    }

    if (c->lse) {
        if (make_tensor(&p->lse, &p->lse_buf, &p->lse_elems, c->layout,
                        lshape, FATTN_DTYPE_F32) != 0)
            goto fail;
        p->params.lse = &p->lse;
    }

    if (c->mask != FATTN_REF_MASK_NONE && make_mask(p, &rng) != 0)
        goto fail;

    if (c->q_lengths &&
        !(p->params.q_lengths = p->q_lengths = random_lengths(&rng, B, c->seq_q)))
        goto fail;
    if (c->kv_lengths &&
        !(p->params.kv_lengths = p->kv_lengths = random_lengths(&rng, B, c->seq_k)))
        goto fail;

    if (c->alibi) {
        const int64_t max_dist = c->seq_q > c->seq_k ? c->seq_q : c->seq_k;
        const double bound =
            c->large_logits && c->params.softcap > 0.0f ? 4.0 : 16.0;
        const int e0 = slope_exponent(max_dist, bound);
        if (!(p->alibi_slopes = malloc((size_t)Hq * sizeof(float))))
            goto fail;
        for (int64_t h = 0; h < Hq; h++) {
            const int64_t kind = fattn_ref_rng_range(&rng, 0, 7);
            const float mag = (float)ldexp(1.0, -(e0 + (int)fattn_ref_rng_range(&rng, 0, 3)));
            p->alibi_slopes[h] = kind == 0 ? 0.0f : kind == 1 ? -mag : mag;
        }
        p->params.alibi_slopes = p->alibi_slopes;
    }

    fattn_ref_problem_reset_output(p);
    return 0;

fail:
    fattn_ref_problem_free(p);
    return -1;
}

void fattn_ref_problem_free(fattn_ref_problem *p)
{
    free(p->q_buf);
    free(p->k_buf);
    free(p->v_buf);
    free(p->out_buf);
    free(p->lse_buf);
    free(p->mask_buf);
    free(p->alibi_slopes);
    free(p->q_lengths);
    free(p->kv_lengths);
    free(p->ref_out);
    free(p->ref_lse);
    free(p->ref_stats);
    memset(p, 0, sizeof(*p));
}

float *fattn_ref_tensor_alloc(fattn_tensor *t, int layout,
                              const int64_t shape[4], size_t *elems)
{
    float *buf;
    if (make_tensor(t, &buf, elems, layout, shape, FATTN_DTYPE_F32) != 0)
        return NULL;
    fill_sentinel(buf, *elems ? *elems : 1, 4);
    return buf;
}

void fattn_ref_problem_reset_output(fattn_ref_problem *p)
{
    fill_sentinel(p->out_buf, p->out_elems ? p->out_elems : 1, p->out_esize);
    if (p->lse_buf)
        fill_sentinel(p->lse_buf, p->lse_elems ? p->lse_elems : 1, 4);
}

/* Visit every element of t inside buf: count the sentinels (tensor) and mark
 * the addressed slots in `seen`. */
static int64_t scan_tensor(const fattn_tensor *t, const void *buf,
                           unsigned char *seen)
{
    const size_t es = fattn_ref_dtype_size(t->dtype);
    int64_t unwritten = 0;
    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++) {
                    const int64_t off = n * t->stride[0] + h * t->stride[1] +
                                        s * t->stride[2] + d * t->stride[3];
                    if (seen)
                        seen[off] = 1;
                    unwritten += is_sentinel(buf, off, es);
                }
    return unwritten;
}

static int64_t gaps_of(const fattn_tensor *t, const void *buf, size_t elems)
{
    const size_t es = fattn_ref_dtype_size(t->dtype);
    const size_t n = elems ? elems : 1;
    unsigned char *seen = calloc(n, 1);
    int64_t touched = 0;
    if (!seen)
        return -1;
    scan_tensor(t, buf, seen);
    for (size_t k = 0; k < n; k++)
        touched += !seen[k] && !is_sentinel(buf, (int64_t)k, es);
    free(seen);
    return touched;
}

int64_t fattn_ref_problem_gaps_touched(const fattn_ref_problem *p)
{
    int64_t touched = gaps_of(&p->output, p->out_buf, p->out_elems);
    if (p->lse_buf && touched >= 0) {
        const int64_t lse_touched = gaps_of(&p->lse, p->lse_buf, p->lse_elems);
        touched = lse_touched < 0 ? -1 : touched + lse_touched;
    }
    return touched;
}

int64_t fattn_ref_problem_unwritten(const fattn_ref_problem *p)
{
    int64_t n = scan_tensor(&p->output, p->out_buf, NULL);
    if (p->lse_buf)
        n += scan_tensor(&p->lse, p->lse_buf, NULL);
    return n;
}

int fattn_ref_problem_reference(fattn_ref_problem *p)
{
    const fattn_ref_problem_config *c = &p->config;
    const size_t rows = (size_t)(c->batch * c->heads_q * c->seq_q);

    free(p->ref_out);
    free(p->ref_lse);
    free(p->ref_stats);
    p->ref_out = malloc((rows * (size_t)c->head_dim_v + 1) * sizeof(double));
    p->ref_lse = malloc((rows + 1) * sizeof(double));
    p->ref_stats = malloc((rows + 1) * sizeof(*p->ref_stats));
    if (!p->ref_out || !p->ref_lse || !p->ref_stats) {
        free(p->ref_out);
        free(p->ref_lse);
        free(p->ref_stats);
        p->ref_out = p->ref_lse = NULL;
        p->ref_stats = NULL;
        return -1;
    }
    size_t r = 0;
    for (int64_t b = 0; b < c->batch; b++)
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = 0; i < c->seq_q; i++, r++)
                fattn_ref_row_stats_of(&p->query, &p->key, &p->value,
                                       &p->params, b, h, i,
                                       p->ref_out + r * (size_t)c->head_dim_v,
                                       &p->ref_lse[r], &p->ref_stats[r]);
    return 0;
}

int fattn_ref_problem_compare(fattn_ref_problem *p, double atol, double rtol,
                              fattn_ref_report *report,
                              fattn_ref_report *lse_report)
{
    const fattn_ref_problem_config *c = &p->config;
    fattn_ref_report local, local_lse;
    fattn_ref_report *r = report ? report : &local;
    fattn_ref_report *rl = lse_report ? lse_report : report ? NULL : &local_lse;

    fattn_ref_report_init(r);
    if (rl)
        fattn_ref_report_init(rl);
    if (!p->ref_out && fattn_ref_problem_reference(p) != 0) {
        r->checked = -1;
        return 0;
    }
    size_t row = 0;
    for (int64_t b = 0; b < c->batch; b++)
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = 0; i < c->seq_q; i++, row++)
                fattn_ref_compare_row(r, rl, &p->output, p->params.lse, b, h, i,
                                      p->ref_out + row * (size_t)c->head_dim_v,
                                      p->ref_lse[row], atol, rtol);
    return r->violations == 0 && (!rl || rl->violations == 0);
}

/* ------------------------------------------------------------------------ */
/* Description                                                              */
/* ------------------------------------------------------------------------ */

const char *fattn_ref_dtype_name(int dtype)
{
    static const char *const names[4] = {"f32", "bf16", "f16", "bool"};
    return dtype >= 0 && dtype <= 3 ? names[dtype] : "unknown_dtype";
}

const char *fattn_ref_layout_name(int layout)
{
    static const char *const names[FATTN_REF_LAYOUT_COUNT] = {
        "bhsd", "bshd", "padded", "strided", "kv_broadcast", "fused_qkv"};
    return layout >= 0 && layout < FATTN_REF_LAYOUT_COUNT ? names[layout]
                                                           : "unknown_layout";
}

const char *fattn_ref_mask_name(int mask_kind)
{
    static const char *const names[3] = {"none", "additive", "bool"};
    return mask_kind >= 0 && mask_kind <= 2 ? names[mask_kind]
                                            : "unknown_mask";
}

typedef struct text {
    char *buf;
    size_t size, len;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(text *t, const char *fmt, ...)
{
    if (t->len >= t->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

static void put_strides(text *t, const char *name, const fattn_tensor *x)
{
    put(t, " %s.shape={%lld,%lld,%lld,%lld} stride={%lld,%lld,%lld,%lld}",
        name, (long long)x->shape[0], (long long)x->shape[1],
        (long long)x->shape[2], (long long)x->shape[3],
        (long long)x->stride[0], (long long)x->stride[1],
        (long long)x->stride[2], (long long)x->stride[3]);
}

static void put_lengths(text *t, const char *name, const int64_t *len,
                        int64_t n)
{
    if (!len)
        return;
    put(t, " %s=[", name);
    for (int64_t b = 0; b < n; b++)
        put(t, "%s%lld", b ? "," : "", (long long)len[b]);
    put(t, "]");
}

char *fattn_ref_problem_describe(const fattn_ref_problem *p, char *buf,
                                 size_t size)
{
    const fattn_ref_problem_config *c = &p->config;
    const fattn_params *pr = &p->params;
    text t = {buf, size, 0};

    if (size == 0)
        return buf;
    buf[0] = '\0';
    put(&t, "seed=%llu B=%lld Hq=%lld Hkv=%lld Sq=%lld Sk=%lld D=%lld Dv=%lld "
            "layout=%s large_logits=%d value_range=%g",
        (unsigned long long)c->seed, (long long)c->batch,
        (long long)c->heads_q, (long long)c->heads_kv, (long long)c->seq_q,
        (long long)c->seq_k, (long long)c->head_dim, (long long)c->head_dim_v,
        fattn_ref_layout_name(c->layout), c->large_logits, c->value_range);
    put(&t, " dtypes q=%s k=%s v=%s out=%s", fattn_ref_dtype_name(p->query.dtype),
        fattn_ref_dtype_name(p->key.dtype), fattn_ref_dtype_name(p->value.dtype),
        fattn_ref_dtype_name(p->output.dtype));
    put_strides(&t, "q", &p->query);
    put_strides(&t, "k", &p->key);
    put_strides(&t, "v", &p->value);
    put_strides(&t, "out", &p->output);
    put(&t, " scale=%.9g softcap=%.9g causal=%d", (double)pr->scale,
        (double)pr->softcap, pr->causal);
    if (pr->window_enabled)
        put(&t, " window=[%lld,%lld]", (long long)pr->window_left,
            (long long)pr->window_right);
    put(&t, " align=%d isa=%d mask=%s", pr->align, pr->isa,
        fattn_ref_mask_name(c->mask));
    if (pr->mask)
        put(&t, " mask.dtype=%s", fattn_ref_dtype_name(pr->mask->dtype));
    if (pr->mask) {
        put(&t, " (size1=0x%x stride0=0x%x drop=%g dead_rows=%g)",
            c->mask_size1, c->mask_stride0, c->mask_drop, c->mask_dead_rows);
        put_strides(&t, "mask", pr->mask);
    }
    if (pr->lse)
        put_strides(&t, "lse", pr->lse);
    put_lengths(&t, "q_lengths", pr->q_lengths, c->batch);
    put_lengths(&t, "kv_lengths", pr->kv_lengths, c->batch);
    if (pr->alibi_slopes) {
        put(&t, " alibi=[");
        for (int64_t h = 0; h < c->heads_q; h++)
            put(&t, "%s%g", h ? "," : "", (double)pr->alibi_slopes[h]);
        put(&t, "]");
    }
    return buf;
}
