/*
 * unfused.c - what both unfused baselines share: the group geometry, the
 * pass that applies the options to the score matrix, and the choice of the
 * vectorised softmax.
 */
#include "unfused.h"

#include "dtypes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t q_len(const fattn_ref_problem *p, int64_t b)
{
    return p->params.q_lengths ? p->params.q_lengths[b] : p->query.shape[2];
}

static int64_t kv_len(const fattn_ref_problem *p, int64_t b)
{
    return p->params.kv_lengths ? p->params.kv_lengths[b] : p->key.shape[2];
}

static int64_t group_size(const fattn_ref_problem *p)
{
    return p->query.shape[1] / p->key.shape[1];
}

void unfused_group_dims(const fattn_ref_problem *p, int64_t b, int64_t *m,
                        int64_t *n)
{
    /* Per-batch q lengths trim M only with one query head per group
     * (unfused_supported), where a group's rows are one head's rows. */
    *m = group_size(p) * q_len(p, b);
    *n = kv_len(p, b);
}

size_t unfused_scores_bytes(const fattn_ref_problem *p)
{
    size_t best = 0;

    for (int64_t b = 0; b < p->query.shape[0]; b++) {
        int64_t m, n;

        unfused_group_dims(p, b, &m, &n);
        if ((size_t)m * (size_t)n > best)
            best = (size_t)m * (size_t)n;
    }
    return best * sizeof(float);
}

int unfused_uniform(const fattn_ref_problem *p)
{
    return p->params.q_lengths == NULL && p->params.kv_lengths == NULL;
}

float *unfused_alloc_scores(size_t bytes)
{
    const size_t size = bytes > 0 ? (bytes + 63) / 64 * 64 : 64;
    float *s = aligned_alloc(64, size);

    if (s != NULL)
        memset(s, 0, size); /* touch every page now, not in a timed call */
    return s;
}

static int contiguous(const fattn_tensor *t)
{
    return t->stride[3] == 1 && t->stride[2] == t->shape[3] &&
           t->stride[1] == t->shape[2] * t->shape[3] &&
           t->stride[0] == t->shape[1] * t->stride[1];
}

/* Each head's rows packed, heads any distance apart as long as every
 * (batch, head) is the same distance from the next: one stride over the
 * flat group index, as the batched matmuls and the GEMMs' pointers need.
 * A K/V cache with room for more tokens than Sk is such a tensor. */
static int packed_rows(const fattn_tensor *t)
{
    return t->stride[3] == 1 && t->stride[2] == t->shape[3] &&
           t->stride[1] >= t->shape[2] * t->shape[3] &&
           t->stride[0] == t->shape[1] * t->stride[1];
}

int unfused_reads_in_place(const fattn_ref_problem *p)
{
    /* A group's G query heads are one [G * Sq, D] matrix only if they
     * follow each other. */
    return contiguous(&p->query) && contiguous(&p->output) &&
           packed_rows(&p->key) && packed_rows(&p->value);
}

int unfused_supported(const fattn_ref_problem *p, char *why, size_t size)
{
    if (!unfused_reads_in_place(p)) {
        snprintf(why, size, "unfused baseline: needs BHSD tensors (contiguous "
                            "Q and O, packed K and V rows)");
        return 0;
    }
    if (p->params.q_lengths && group_size(p) > 1) {
        snprintf(why, size,
                 "unfused baseline: per-batch q lengths with GQA are not "
                 "implemented");
        return 0;
    }
    if (p->params.lse) {
        snprintf(why, size, "unfused baseline: no LSE output");
        return 0;
    }
    return 1;
}

int unfused_needs_mask_pass(const fattn_ref_problem *p)
{
    return p->params.causal != FATTN_CAUSAL_NONE || p->params.window_enabled ||
           p->params.mask != NULL || p->params.alibi_slopes != NULL;
}

/* Element (b, h, i, j) of the mask, with size-1 dimensions broadcast. */
static int64_t mask_offset(const fattn_tensor *mask, int64_t b, int64_t h,
                           int64_t i)
{
    const int64_t idx[3] = {b, h, i};
    int64_t off = 0;

    for (int d = 0; d < 3; d++)
        if (mask->shape[d] != 1)
            off += idx[d] * mask->stride[d];
    return off;
}

void unfused_mask_pass(const fattn_ref_problem *p, int64_t b, int64_t g,
                       int64_t m, int64_t n, float *scores, int apply_softcap)
{
    const fattn_params *pr = &p->params;
    const int64_t G = group_size(p), sq = m / G, sk = n;
    /* pos(i) = i + shift for bottom-right alignment (valid lengths). */
    const int64_t shift = sk - sq;
    const float cap = pr->softcap, inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    const fattn_tensor *mask = pr->mask;
    const int64_t mask_j = mask && mask->shape[3] != 1 ? mask->stride[3] : 0;

    for (int64_t r = 0; r < m; r++) {
        const int64_t h = g * G + r / sq, i = r % sq;
        float *row = scores + r * n;
        int64_t lo = 0, hi = n - 1;

        if (apply_softcap && cap > 0.0f)
            for (int64_t j = 0; j < n; j++)
                row[j] = cap * tanhf(row[j] * inv_cap);
        if (mask && mask->dtype == FATTN_DTYPE_F32) {
            const float *mrow = (const float *)mask->data + mask_offset(mask, b, h, i);
            for (int64_t j = 0; j < n; j++)
                row[j] += mrow[j * mask_j];
        } else if (mask) {
            const uint8_t *mrow = (const uint8_t *)mask->data + mask_offset(mask, b, h, i);
            for (int64_t j = 0; j < n; j++)
                row[j] = mrow[j * mask_j] ? row[j] : -INFINITY;
        }
        if (pr->alibi_slopes) {
            const float slope = pr->alibi_slopes[h];
            const int64_t pos = pr->align == FATTN_ALIGN_BOTTOM_RIGHT ? i + shift : i;
            for (int64_t j = 0; j < n; j++)
                row[j] -= slope * (float)(j > pos ? j - pos : pos - j);
        }
        if (pr->causal != FATTN_CAUSAL_NONE) {
            const int64_t pos = pr->causal == FATTN_CAUSAL_BOTTOM_RIGHT ? i + shift : i;
            hi = pos < hi ? pos : hi;
        }
        if (pr->window_enabled) {
            const int64_t pos = pr->align == FATTN_ALIGN_BOTTOM_RIGHT ? i + shift : i;
            if (pr->window_left >= 0 && pos - pr->window_left > lo)
                lo = pos - pr->window_left;
            if (pr->window_right >= 0 && pos + pr->window_right < hi)
                hi = pos + pr->window_right;
        }
        for (int64_t j = 0; j < n; j++)
            if (j < lo || j > hi)
                row[j] = -INFINITY;
    }
}

void unfused_group_data(const fattn_ref_problem *p, int64_t b, int64_t g,
                        unfused_group *grp)
{
    const int64_t Hq = p->query.shape[1], Hkv = p->key.shape[1];
    const int64_t sq = p->query.shape[2];
    const int64_t d = p->query.shape[3], dv = p->value.shape[3];
    const int64_t first_head = b * Hq + g * group_size(p);

    /* Offsets in elements of each tensor's own size. */
    grp->q = (char *)p->query.data +
             (size_t)(first_head * sq * d) * bench_dtype_size(p->query.dtype);
    grp->k = (char *)p->key.data +
             (size_t)((b * Hkv + g) * p->key.stride[1]) * bench_dtype_size(p->key.dtype);
    grp->v = (char *)p->value.data + (size_t)((b * Hkv + g) * p->value.stride[1]) *
                                         bench_dtype_size(p->value.dtype);
    grp->o = (char *)p->output.data +
             (size_t)(first_head * sq * dv) * bench_dtype_size(p->output.dtype);
}

void unfused_finish_group(const fattn_ref_problem *p, int64_t b, int64_t g,
                          int64_t m, int64_t n)
{
    const int64_t sq = p->query.shape[2], dv = p->value.shape[3];
    const size_t es = bench_dtype_size(p->output.dtype);
    unfused_group grp;

    unfused_group_data(p, b, g, &grp);
    /* Zero bits are +0 in f32, bf16 and f16 alike. */
    if (n == 0 && m > 0) /* no keys: every row is fully masked */
        memset(grp.o, 0, (size_t)(m * dv) * es);
    /* Rows past q_lengths[b]: only with one query head per group
     * (unfused_supported), where the group's rows are one head's. */
    if (m < sq)
        memset((char *)grp.o + (size_t)(m * dv) * es, 0,
               (size_t)((sq - m) * dv) * es);
}

typedef void (*softmax_fn)(float *, int64_t, int64_t, int64_t);

static softmax_fn pick_softmax(const char **name)
{
#if defined(BENCH_HAVE_SOFTMAX_AVX512)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        *name = "avx512";
        return bench_softmax_rows_avx512;
    }
#endif
#if defined(BENCH_HAVE_SOFTMAX_AVX2)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *name = "avx2";
        return bench_softmax_rows_avx2;
    }
#endif
    *name = "base";
    return bench_softmax_rows_base;
}

void unfused_softmax_rows(float *scores, int64_t rows, int64_t n, int64_t ld)
{
    const char *name;

    pick_softmax(&name)(scores, rows, n, ld);
}

const char *unfused_softmax_isa(void)
{
    const char *name;

    pick_softmax(&name);
    return name;
}
