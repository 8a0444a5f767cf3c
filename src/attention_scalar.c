/*
 * attention_scalar.c - the portable flash attention kernel.
 *
 * The semantic reference for the SIMD paths, written for clarity: the same
 * algorithm they use, in plain C, without intrinsics and without -ffast-math.
 *
 * One work item is one (batch, query head) and a block of query rows
 * (fattn_item); the planner owns the loops over batches, heads and blocks.
 *
 * Algorithm (FlashAttention's online softmax):
 *   for each tile of TILE_Q query rows of the item:
 *     find each row's visible key range [lo, hi) (causal, window, kv length);
 *     walk only the key tiles of TILE_K keys that meet the union of those
 *     ranges (tiles that are masked out entirely are never touched);
 *     per key tile: S = scale * Q K^T, soft-cap, + mask + ALiBi, -inf outside
 *     the row's range; new row max m' = max(m, max S); rescale the running
 *     sum l and accumulator by exp(m - m'); add exp(S - m') and P V.
 *   finally O = acc / l and LSE = m + log(l); a row that saw no key (l = 0)
 *   gets O = 0 and LSE = -inf, never 0/0.
 * A key tile in which a row sees nothing leaves that row untouched, so no
 * exp(-inf - -inf) = NaN can arise. Workspace: TILE_Q x (Dv + TILE_K) floats
 * plus per-row state, independent of sequence length.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { TILE_Q = 32, TILE_K = 64 };

/* Per-call workspace, carved from one allocation. */
typedef struct tile_state {
    int64_t *lo, *hi; /* [TILE_Q] visible key range per row */
    float *m, *l;     /* [TILE_Q] running max and sum */
    float *s;         /* [TILE_Q][TILE_K] scores, then probabilities */
    float *acc;       /* [TILE_Q][Dv] unnormalised output */
} tile_state;

static size_t scalar_workspace(const fattn_problem *p)
{
    return sizeof(int64_t) * 2 * TILE_Q +
           sizeof(float) * (2 * TILE_Q + TILE_Q * TILE_K +
                            TILE_Q * (size_t)p->head_dim_v);
}

static tile_state carve(const fattn_problem *p, void *workspace)
{
    tile_state t;
    t.lo = workspace;
    t.hi = t.lo + TILE_Q;
    t.m = (float *)(t.hi + TILE_Q);
    t.l = t.m + TILE_Q;
    t.s = t.l + TILE_Q;
    t.acc = t.s + TILE_Q * TILE_K;
    (void)p;
    return t;
}

/* sum_d a[d * sa] * b[d * sb] in f32, a and b of dtypes ta and tb. */
static float dot(const void *a, int ta, int64_t sa, const void *b, int tb,
                 int64_t sb, int64_t n)
{
    float sum = 0.0f;
    if (ta == FATTN_DTYPE_F32 && tb == FATTN_DTYPE_F32) {
        const float *x = a, *y = b;
        for (int64_t d = 0; d < n; d++)
            sum += x[d * sa] * y[d * sb];
        return sum;
    }
    for (int64_t d = 0; d < n; d++)
        sum += fattn_load_elem(a, d * sa, ta) * fattn_load_elem(b, d * sb, tb);
    return sum;
}

/* S for rows [0, rows) of the query tile starting at i0, keys [j0, j0+cols). */
static void tile_scores(const fattn_problem *p, const fattn_head *hv,
                        const tile_state *t, int64_t i0, int rows, int64_t j0,
                        int cols)
{
    const int64_t *qs = p->q_stride, *ms = p->mask_stride;
    const size_t mask_elem = fattn_mask_elem(p);
    const int align_br = p->align == FATTN_ALIGN_BOTTOM_RIGHT;
    /* |x| beyond it has tanh(x / softcap) = 1 in float (it is from 9.02 on);
     * FLT_MAX for a cap so large that x / softcap cannot overflow (no
     * branch: clang computes both arms of a select, 16 * FLT_MAX included). */
    const float cap_arg_max = 16.0f * fminf(p->softcap, FLT_MAX / 16.0f);
    for (int r = 0; r < rows; r++) {
        float *s = t->s + r * TILE_K;
        int64_t i = i0 + r;
        const void *qrow = fattn_q_row(p, hv->b, hv->h, i);
        double pos = (double)fattn_query_pos(align_br, hv->qlen, hv->klen, i);
        for (int c = 0; c < cols; c++) {
            int64_t j = j0 + c;
            if (j < t->lo[r] || j >= t->hi[r]) {
                s[c] = -INFINITY;
                continue;
            }
            float x = p->scale * dot(qrow, p->q_dtype, qs[3],
                                     fattn_kv_row(&hv->k, j), hv->k.dtype,
                                     hv->k.elem, p->head_dim);
            if (p->softcap > 0.0f) {
                /* x / softcap overflows for a small cap; tanh is 1 long
                 * before the clamp, so the result is the same. */
                x = x > cap_arg_max ? cap_arg_max : x < -cap_arg_max ? -cap_arg_max : x;
                x = p->softcap * tanhf(x / p->softcap);
            }
            if (p->mask_kind != FATTN_MASK_NONE) {
                const unsigned char *mp =
                    hv->mask + (size_t)(i * ms[2] + j * ms[3]) * mask_elem;
                if (p->mask_kind == FATTN_MASK_KEEP) {
                    if (*mp == 0)
                        x = -INFINITY;
                } else {
                    x += fattn_load_elem(mp, 0, p->mask_dtype);
                }
            }
            if (hv->slope != 0.0f)
                x -= hv->slope * (float)fabs(pos - (double)j);
            s[c] = x;
        }
    }
}

/* max that propagates NaN (fmaxf drops it): a NaN score must reach the
 * row's output and LSE, never make the row look fully masked. */
static float max_nan(float a, float b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

/* Fold the tile's scores into each row's running max, sum and accumulator. */
static void tile_update(const fattn_problem *p, const fattn_head *hv,
                        const tile_state *t, int rows, int64_t j0, int cols)
{
    const int64_t dv = p->head_dim_v, ve = hv->v.elem;
    for (int r = 0; r < rows; r++) {
        float *s = t->s + r * TILE_K;
        float tile_max = -INFINITY;
        for (int c = 0; c < cols; c++)
            tile_max = max_nan(tile_max, s[c]);
        if (tile_max == -INFINITY)
            continue; /* nothing visible to this row in this tile */
        float m_new = max_nan(t->m[r], tile_max);
        /* expf(score - m_new) as expf(2 * half): score - m_new overflows for
         * finite scores of opposite signs near FLT_MAX, half of it cannot
         * (0.5 * score - 0.5 * m_new rounds once, to exactly half the
         * rounded difference). Below -64, expf(2 * half) is 0 anyway; the
         * comparison keeps NaN. No arm of a branch holds the subtraction,
         * so a compiler that evaluates both arms cannot raise FE_OVERFLOW
         * either. correction is 0 on the first tile (m = -inf). */
        const float nhm = -0.5f * m_new;
        float h = 0.5f * t->m[r] + nhm;
        float correction = expf(2.0f * (h < -64.0f ? -64.0f : h));
        float sum = 0.0f;
        for (int c = 0; c < cols; c++) {
            h = 0.5f * s[c] + nhm;
            s[c] = expf(2.0f * (h < -64.0f ? -64.0f : h));
            sum += s[c];
        }
        t->l[r] = t->l[r] * correction + sum;
        t->m[r] = m_new;
        float *acc = t->acc + r * dv;
        if (correction != 1.0f)
            for (int64_t d = 0; d < dv; d++)
                acc[d] *= correction;
        for (int c = 0; c < cols; c++) {
            if (s[c] == 0.0f)
                continue;
            const void *vrow = fattn_kv_row(&hv->v, j0 + c);
            if (hv->v.dtype == FATTN_DTYPE_F32) {
                const float *vf = vrow;
                for (int64_t d = 0; d < dv; d++)
                    acc[d] += s[c] * vf[d * ve];
            } else {
                for (int64_t d = 0; d < dv; d++)
                    acc[d] += s[c] * fattn_load_elem(vrow, d * ve, hv->v.dtype);
            }
        }
    }
}

static void write_rows(const fattn_problem *p, const fattn_head *hv,
                       const tile_state *t, int64_t i0, int rows)
{
    const int64_t *os = p->o_stride;
    const int64_t dv = p->head_dim_v;
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        void *orow = fattn_o_row(p, hv->b, hv->h, i);
        float l = t->l[r]; /* 0: a fully masked row; NaN: a NaN input */
        float inv = fattn_inv_or_zero(l);
        const float *acc = t->acc + r * dv;
        for (int64_t d = 0; d < dv; d++)
            fattn_store_elem(orow, d * os[3], p->o_dtype, acc[d] * inv);
        fattn_store_lse(p, hv->b, hv->h, i, t->m[r], l);
    }
}

static void query_tile(const fattn_problem *p, const fattn_head *hv,
                       const tile_state *t, int64_t i0, int rows)
{
    fattn_span span;
    fattn_row_ranges(p, hv, i0, rows, t->lo, t->hi, &span);
    for (int r = 0; r < rows; r++) {
        t->m[r] = -INFINITY;
        t->l[r] = 0.0f;
        memset(t->acc + r * p->head_dim_v, 0,
               sizeof(float) * (size_t)p->head_dim_v);
    }
    /* Only the key tiles some row can see (fattn_row_ranges). */
    for (int64_t j0 = span.lo; j0 < span.hi; j0 += TILE_K) {
        int cols = span.hi - j0 < TILE_K ? (int)(span.hi - j0) : TILE_K;
        tile_scores(p, hv, t, i0, rows, j0, cols);
        tile_update(p, hv, t, rows, j0, cols);
    }
    write_rows(p, hv, t, i0, rows);
}

/* Query rows per work item: a few tiles, so that short problems still
 * split into several items and long ones do not pay per-item overhead. */
static int64_t scalar_block_rows(const fattn_problem *p)
{
    (void)p;
    return 2 * TILE_Q;
}

static void scalar_run(const fattn_problem *p, const fattn_item *it,
                       void *workspace)
{
    tile_state t = carve(p, workspace);
    fattn_head hv;
    fattn_head_init(p, it, it->h, &hv);
    for (int64_t i0 = it->i0; i0 < it->i1; i0 += TILE_Q) {
        int rows = it->i1 - i0 < TILE_Q ? (int)(it->i1 - i0) : TILE_Q;
        query_tile(p, &hv, &t, i0, rows);
    }
}

static const fattn_variant scalar_variants[] = {
    {"scalar_tiles", NULL, 0, 0, 0, scalar_block_rows, TILE_Q,
     scalar_workspace, scalar_run},
};

const fattn_kernel fattn_kernel_scalar = {
    scalar_variants, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};
