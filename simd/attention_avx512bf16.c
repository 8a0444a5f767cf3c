/*
 * attention_avx512bf16.c - flash attention with vdpbf16ps, for all-bf16
 * prefill (query, key and value bf16; output, mask and LSE any dtype).
 *
 * Flags: the AVX-512 set (-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2
 * -mfma -mf16c) + -mavx512bf16, guarded by FATTN_CPU_AVX512BF16 (AVX-512 +
 * CPUID.(EAX=7,ECX=1):EAX bit 5, OS-enabled opmask and ZMM state). The
 * path's table lists one prefill variant, avx512bf16_lanes, for problems
 * whose q, k and v are bf16; the planner takes everything else (decode, the
 * other dtypes) from its fallback, fattn_kernel_avx512.
 *
 * Layout and tiles: those of attention_tiled.h (queries in lanes, query
 * tile TQ = 48 = 3 zmm, key tile 128, QGROUP query tiles per key tile), whose
 * workspace, masks, ALiBi, soft-cap and write_rows this file reuses; only
 * the two matrix products, the query packing and the softmax's output
 * format are its own. Microkernel 8 x 3 zmm as there: 24 accumulators + 3
 * loaded vectors + the broadcast pair of 32 registers, each vdpbf16ps
 * doing two multiply-adds per lane:
 *   Q.K^T  St[c][q] = s * sum_d2 K2[c][d2] . Q2[d2][q], where Q2[d2][q] is
 *          the dword (Q[q][2 d2], Q[q][2 d2 + 1]) packed once per query
 *          tile (Qt's space) and K2[c][d2] the same pair of key c, broadcast
 *          as 32 bits straight from K when K has unit head_dim stride and
 *          head_dim is even, else from a packed copy of the key tile (Kc's
 *          space) whose last pair is padded with 0 for an odd head_dim, so
 *          no read leaves a row. s = scale, or 1 where the soft-cap takes
 *          the scale (softcap_takes_scale), applied to the f32 sums.
 *   P.V    Ot[e][q] = Ot[e][q] * corr[q] + sum_c2 V2[c2][e] . P2[c2][q],
 *          V2[c2][e] = (V[2 c2][e], V[2 c2 + 1][e]) repacked once per key
 *          tile (Vc's space) and shared by the group's query tiles, P2 =
 *          the probabilities of keys 2 c2 and 2 c2 + 1 of each query as a
 *          bf16 pair, written by the softmax over St in place. An odd key
 *          count pads the tile with a zero key (V row 0 and P 0).
 * Tails: key blocks and value-column blocks under 8 rows repeat their last
 * row (dropped); query lanes past the active rows hold Q = 0 and are never
 * stored, as in attention_tiled.h.
 *
 * Numerics: Q and K are used exactly (bf16 products are exact in f32);
 * vdpbf16ps sums in f32 (with DAZ/FTZ: bf16 inputs below 2^-126 count as
 * 0, results below it flush to 0, whatever MXCSR says). Scores, masks, the
 * online softmax (base 2, vec_math.h), m, l and O's accumulator are f32 as
 * on the f32 path. P is rounded to bf16 to nearest even (vcvtne2ps2bf16)
 * for P.V only: the row sum l adds the f32 probabilities, so each weight
 * carries a relative error of at most 2^-8 and |O - O_exact| <= 2^-8
 * max|V| (usually far less). Fully masked rows give exactly 0 and LSE -inf
 * (write_rows); NaN in Q, K or V propagates as on the f32 path (a NaN P
 * stays NaN in bf16).
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, for fma_peak.h */
#include "vec_avx512.h"
#include "vec_math.h"

#define UK_MR 8
#define UK_NV 3
#define TILE_K 128

#define FMA_PEAK fattn_fma_peak_avx512bf16
#define PEAK_CHAINS 16
#include "fma_peak.h"

#define VEC_EXP fattn_exp_avx512bf16
#define VEC_EXP2 fattn_exp2_avx512bf16
#define VEC_TANH fattn_tanh_avx512bf16
#define VEC_WIDEN fattn_widen_avx512bf16
#define VEC_NARROW fattn_narrow_avx512bf16
#include "vec_hooks.h"

/* The f32 body's pieces without its table; its f32 microkernels, key tile
 * and query loop are not used here (and not emitted: they are static). */
#define TILED_BODY_ONLY
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "attention_tiled.h"
#pragma GCC diagnostic pop

#include <string.h>

typedef __m512i vi;

/* The bf16 pair at p (two elements, any alignment) in every dword lane. */
static inline vi bf_bcast(const uint16_t *p)
{
    uint32_t x;
    memcpy(&x, p, sizeof x);
    return _mm512_set1_epi32((int)x);
}

/* acc + a.lo * b.lo + a.hi * b.hi per dword lane (vdpbf16ps). */
static inline vf bf_dot(vf acc, vi a, vi b)
{
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

/* Lanes [0, n) of 32 words or 16 dwords, n >= 1 (all for n past them). */
static inline __mmask32 bf_mask32(int64_t n)
{
    return n >= 32 ? ~(__mmask32)0 : (__mmask32)((1u << n) - 1u);
}
static inline __mmask16 bf_mask16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

/*
 * The microkernel: C[m][0..TQ) = (corr ? C[m] * corr : 0) + sum_k A(m, k) .
 * B[k][0..TQ), times post when use_post, for m < mvalid and kdim >= 1 pairs,
 * where A(m, k) is the bf16 pair at a + m * am + k * ak (in bf16 elements)
 * and B's rows are TQ dwords apart. Rows past mvalid read row mvalid - 1
 * and are dropped. colmax as in attention_tiled.h's uk_body (after post).
 * Instantiated per hot case like uk_body, for the same reason (one loop,
 * accumulators in registers).
 */
#define BK_STEP(aptr)                                                          \
    do {                                                                       \
        for (int n = 0; n < UK_NV; n++)                                        \
            bv[n] = _mm512_loadu_si512((const void *)(bk + n * VW));           \
        bk += TQ;                                                              \
        for (int m = 0; m < UK_MR; m++) {                                      \
            const vi am_ = bf_bcast(aptr);                                     \
            for (int n = 0; n < UK_NV; n++)                                    \
                acc[m][n] = bf_dot(acc[m][n], am_, bv[n]);                     \
        }                                                                      \
    } while (0)

enum { BK_ANY, BK_ROWS_ADJACENT };

static inline __attribute__((always_inline)) void
bk_body(int64_t kdim, const uint16_t *a, int64_t am, int64_t ak,
        const uint32_t *b, float *c, int mvalid, const float *corr,
        float post, int use_post, float *colmax, int layout)
{
    vf acc[UK_MR][UK_NV];
    vi bv[UK_NV];
    if (corr) {
        vf s[UK_NV];
        for (int n = 0; n < UK_NV; n++)
            s[n] = vf_load(corr + n * VW);
        for (int m = 0; m < UK_MR; m++)
            for (int n = 0; n < UK_NV; n++)
                acc[m][n] = m < mvalid ? vf_mul(vf_load(c + m * TQ + n * VW), s[n])
                                       : vf_zero();
    } else {
        for (int m = 0; m < UK_MR; m++)
            for (int n = 0; n < UK_NV; n++)
                acc[m][n] = vf_zero();
    }
    const uint32_t *bk = b;
    int64_t k = 0;
    if (layout == BK_ROWS_ADJACENT) { /* am == 2, mvalid == UK_MR */
        do
            BK_STEP(a + k * ak + 2 * m);
        while (++k < kdim);
    } else {
        const uint16_t *ap[UK_MR];
        for (int m = 0; m < UK_MR; m++)
            ap[m] = a + (m < mvalid ? m : mvalid - 1) * am;
        do
            BK_STEP(ap[m] + k * ak);
        while (++k < kdim);
    }
    if (use_post) {
        const vf ps = vf_set1(post);
        for (int m = 0; m < UK_MR; m++)
            for (int n = 0; n < UK_NV; n++)
                acc[m][n] = vf_mul(acc[m][n], ps);
    }
    for (int m = 0; m < UK_MR; m++)
        if (m < mvalid)
            for (int n = 0; n < UK_NV; n++)
                vf_store(c + m * TQ + n * VW, acc[m][n]);
    if (colmax)
        for (int n = 0; n < UK_NV; n++) {
            vf mx = vf_load(colmax + n * VW);
            for (int m = 0; m < UK_MR; m++)
                if (m < mvalid)
                    mx = vf_max(mx, acc[m][n]);
            vf_store(colmax + n * VW, mx);
        }
}
#undef BK_STEP

/* Q.K^T on a full block of keys, pairs adjacent along head_dim. */
static __attribute__((noinline)) void
bk_scores(int64_t pairs, const uint16_t *a, int64_t am, const uint32_t *b,
          float *c, float post)
{
    bk_body(pairs, a, am, 2, b, c, UK_MR, NULL, post, 1, NULL, BK_ANY);
}

/* The same, folding the block into the tile max. */
static __attribute__((noinline)) void
bk_scores_max(int64_t pairs, const uint16_t *a, int64_t am, const uint32_t *b,
              float *c, float post, float *colmax)
{
    bk_body(pairs, a, am, 2, b, c, UK_MR, NULL, post, 1, colmax, BK_ANY);
}

/* P.V on a full block of 8 value columns of the packed V tile. */
static __attribute__((noinline)) void
bk_values(int64_t pairs, const uint16_t *a, int64_t ak, const uint32_t *b,
          float *c, const float *corr)
{
    if (!corr) /* never: tells the compiler that only one branch exists */
        __builtin_unreachable();
    bk_body(pairs, a, 2, ak, b, c, UK_MR, corr, 1.0f, 0, NULL, BK_ROWS_ADJACENT);
}

/* Partial blocks of either product. */
static void bk_any(int64_t pairs, const uint16_t *a, int64_t am, int64_t ak,
                   const uint32_t *b, float *c, int mvalid, const float *corr,
                   float post, int use_post, float *colmax)
{
    bk_body(pairs, a, am, ak, b, c, mvalid, corr, post, use_post, colmax,
            BK_ANY);
}

/* Q2[d2][r] = (Q[i0 + r][2 d2], Q[i0 + r][2 d2 + 1]) in Qt's space, the
 * element past an odd head_dim and lanes past the active rows 0. Q is
 * copied bit for bit: the scale is applied to the f32 scores. */
static void bf_pack_query(const fattn_problem *p, const fattn_head *hv,
                          const tile_ws *t, const qtile *qt)
{
    const int64_t *qs = p->q_stride;
    const int64_t dim = p->head_dim, pairs = (dim + 1) / 2;
    const uint16_t *q0 = fattn_q_row(p, hv->b, hv->h, qt->i0);
    uint32_t *q2 = (uint32_t *)(void *)t->qt;
    if (qs[3] == 1) {
        /* 16 rows x 16 pairs, transposed in registers (bits only). */
        for (int r0 = 0; r0 < TQ; r0 += VW) {
            int nr = qt->active - r0;
            nr = nr < 0 ? 0 : nr > VW ? VW : nr;
            for (int64_t d0 = 0; d0 < pairs; d0 += VW) {
                const int np = pairs - d0 < VW ? (int)(pairs - d0) : VW;
                const __mmask32 mk = bf_mask32(dim - 2 * d0);
                vf blk[VW];
                for (int j = 0; j < VW; j++)
                    blk[j] = j < nr ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(
                                          mk, q0 + (r0 + j) * qs[2] + 2 * d0))
                                    : vf_zero();
                vf_transpose(blk);
                for (int j = 0; j < np; j++)
                    vf_store((float *)(void *)(q2 + (d0 + j) * TQ + r0), blk[j]);
            }
        }
        return;
    }
    for (int64_t d2 = 0; d2 < pairs; d2++) {
        uint32_t *row = q2 + d2 * TQ;
        int r = 0;
        for (; r < qt->active; r++) {
            const uint16_t *qr = q0 + r * qs[2];
            const uint32_t lo = qr[2 * d2 * qs[3]];
            const uint32_t hi = 2 * d2 + 1 < dim ? qr[(2 * d2 + 1) * qs[3]] : 0;
            row[r] = lo | hi << 16;
        }
        for (; r < TQ; r++)
            row[r] = 0;
    }
}

/* Keys [j0, j0 + cols) as rows of `pairs` dwords (K2), the pair past an
 * odd head_dim padded with 0. */
static void bf_pack_keys(uint32_t *dst, const uint16_t *src, int64_t row,
                         int64_t el, int cols, int64_t dim)
{
    const int64_t pairs = (dim + 1) / 2;
    for (int c = 0; c < cols; c++) {
        uint32_t *d = dst + c * pairs;
        const uint16_t *s = src + c * row;
        if (el == 1) {
            for (int64_t d0 = 0; d0 < pairs; d0 += VW) {
                const int np = pairs - d0 < VW ? (int)(pairs - d0) : VW;
                const vi x = _mm512_maskz_loadu_epi16(bf_mask32(dim - 2 * d0),
                                                      s + 2 * d0);
                _mm512_mask_storeu_epi32(d + d0, bf_mask16(np), x);
            }
        } else {
            for (int64_t d2 = 0; d2 < pairs; d2++) {
                const uint32_t lo = s[2 * d2 * el];
                const uint32_t hi = 2 * d2 + 1 < dim ? s[(2 * d2 + 1) * el] : 0;
                d[d2] = lo | hi << 16;
            }
        }
    }
}

/* Word indices that interleave two vectors' words 0-15 (lo) or 16-31 (hi):
 * vpermt2w of rows a and b gives the dwords (a[e], b[e]). */
static const uint16_t interleave_lo[32] = {
    0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
    8,  40, 9,  41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
static const uint16_t interleave_hi[32] = {
    16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
    24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
/* Within one vector: words i and 16 + i side by side (vcvtne2ps2bf16's
 * halves into pairs). */
static const uint16_t interleave_halves[32] = {
    0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
    8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

/* V2[c2][e] = (V[2 c2][e], V[2 c2 + 1][e]) for keys [j0, j0 + cols), rows
 * of dv dwords; the key past an odd cols is 0. */
static void bf_pack_values(uint32_t *dst, const uint16_t *src, int64_t row,
                           int64_t el, int cols, int64_t dv)
{
    const vi lo_idx = _mm512_loadu_si512((const void *)interleave_lo);
    const vi hi_idx = _mm512_loadu_si512((const void *)interleave_hi);
    for (int c = 0; c < cols; c += 2) {
        const uint16_t *a = src + c * row;
        const int has_b = c + 1 < cols;
        uint32_t *d = dst + (c / 2) * dv;
        if (el == 1) {
            const uint16_t *b = has_b ? a + row : a;
            for (int64_t e = 0; e < dv; e += 32) {
                const int64_t ne = dv - e < 32 ? dv - e : 32;
                const __mmask32 mk = bf_mask32(ne);
                const vi va = _mm512_maskz_loadu_epi16(mk, a + e);
                const vi vb = has_b ? _mm512_maskz_loadu_epi16(mk, b + e)
                                    : _mm512_setzero_si512();
                const vi lo = _mm512_permutex2var_epi16(va, lo_idx, vb);
                const vi hi = _mm512_permutex2var_epi16(va, hi_idx, vb);
                if (ne == 32) {
                    _mm512_storeu_si512((void *)(d + e), lo);
                    _mm512_storeu_si512((void *)(d + e + 16), hi);
                } else {
                    _mm512_mask_storeu_epi32(d + e, bf_mask16(ne), lo);
                    if (ne > 16)
                        _mm512_mask_storeu_epi32(d + e + 16, bf_mask16(ne - 16), hi);
                }
            }
        } else {
            for (int64_t e = 0; e < dv; e++) {
                const uint32_t lo = a[e * el];
                const uint32_t hi = has_b ? a[row + e * el] : 0;
                d[e] = lo | hi << 16;
            }
        }
    }
}

/* K head_dim pairs can be broadcast in place. */
static int bf_keys_in_place(const fattn_problem *p, const fattn_head *hv)
{
    return hv->k.elem == 1 && p->head_dim % 2 == 0;
}

/* The key tile's K2 rows (in place or packed) and V2, packed unless the
 * shared workspace holds that tile already (conv, as tile_kv). */
typedef struct bf_rows {
    const uint16_t *k;
    int64_t krow; /* bf16 elements between keys */
    const uint32_t *v2;
} bf_rows;

static bf_rows bf_tile_kv(const fattn_problem *p, const fattn_head *hv,
                          const tile_ws *t, int64_t j0, int cols)
{
    const int in_place = bf_keys_in_place(p, hv);
    bf_rows r = {fattn_kv_row(&hv->k, j0), hv->k.row,
                 (const uint32_t *)(const void *)t->vc};
    if (t->conv[0] != j0 || t->conv[1] != cols) {
        if (!in_place)
            bf_pack_keys((uint32_t *)(void *)t->kc, r.k, hv->k.row, hv->k.elem,
                         cols, p->head_dim);
        bf_pack_values((uint32_t *)(void *)t->vc, fattn_kv_row(&hv->v, j0),
                       hv->v.row, hv->v.elem, cols, p->head_dim_v);
        t->conv[0] = j0;
        t->conv[1] = cols;
    }
    if (!in_place) {
        r.k = (const uint16_t *)(const void *)t->kc;
        r.krow = 2 * ((p->head_dim + 1) / 2);
    }
    return r;
}

/*
 * Online softmax over the tile, as attention_tiled.h's softmax_tile (same
 * m, l, corr and the same f32 sums in the same order), but P leaves as
 * bf16 pairs of keys (2 c2, 2 c2 + 1) per query lane, written over St in
 * place: row c2 of P2 takes the bytes of St's row c2 <= 2 c2, whose vector
 * n has been read when vector n of row c2 is written.
 */
static void bf_softmax_pairs(const tile_ws *t, int cols, int have_max)
{
    const vf neg_inf = vf_set1(-INFINITY);
    const vi halves = _mm512_loadu_si512((const void *)interleave_halves);
    for (int n = 0; n < UK_NV; n++) {
        vf mt = neg_inf;
        if (have_max)
            mt = vf_load(t->tmax + n * VW);
        else
            for (int c = 0; c < cols; c++)
                mt = vf_max(mt, vf_load(t->st + c * TQ + n * VW));
        vf m_old = vf_load(t->m + n * VW);
        vf m_new = vf_max(m_old, mt);
        vf m_sub = vf_select_eq(m_new, neg_inf, vf_zero(), m_new);
        vf nhm = vf_mul(m_sub, vf_set1(-0.5f));
        vf corr = vf_exp_sub(m_old, nhm);
        vf sum = vf_zero();
        for (int c = 0; c < cols; c += 2) {
            const float *s = t->st + c * TQ + n * VW;
            vf e0 = vf_exp_sub(vf_load(s), nhm);
            sum = vf_add(sum, e0);
            vf e1 = vf_zero();
            if (c + 1 < cols) {
                e1 = vf_exp_sub(vf_load(s + TQ), nhm);
                sum = vf_add(sum, e1);
            }
            const vi h = (vi)_mm512_cvtne2ps_pbh(e1, e0); /* e0 in words 0-15 */
            _mm512_storeu_si512((void *)(t->st + (c / 2) * TQ + n * VW),
                                _mm512_permutexvar_epi16(halves, h));
        }
        vf_store(t->l + n * VW, vf_fmadd(vf_load(t->l + n * VW), corr, sum));
        vf_store(t->m + n * VW, m_new);
        vf_store(t->corr + n * VW, corr);
    }
}

static void bf_key_tile(const fattn_problem *p, const fattn_head *hv,
                        const tile_ws *t, const qtile *qt, int64_t j0, int cols)
{
    PHASE_START();
    const bf_rows kv = bf_tile_kv(p, hv, t, j0, cols);
    PHASE_END(FATTN_PHASE_EDGES);
    const int64_t pairs = (p->head_dim + 1) / 2, dv = p->head_dim_v;
    const uint32_t *q2 = (const uint32_t *)(const void *)t->qt;
    const float post = q_pack_scale(p); /* the scale, unless softcap has it */
    const int interior = j0 >= qt->max_lo && j0 + cols <= qt->min_hi;
    const int has_bias = p->mask_kind != FATTN_MASK_NONE || hv->slope != 0.0f;
    const int fused_max = interior && !has_bias && p->softcap == 0.0f;
    if (fused_max)
        for (int n = 0; n < UK_NV; n++)
            vf_store(t->tmax + n * VW, vf_set1(-INFINITY));
    for (int c0 = 0; c0 < cols; c0 += UK_MR) {
        const int mvalid = cols - c0 < UK_MR ? cols - c0 : UK_MR;
        const uint16_t *kb = kv.k + c0 * kv.krow;
        float *s = t->st + c0 * TQ;
        if (mvalid == UK_MR) {
            if (fused_max)
                bk_scores_max(pairs, kb, kv.krow, q2, s, post, t->tmax);
            else
                bk_scores(pairs, kb, kv.krow, q2, s, post);
        } else {
            bk_any(pairs, kb, kv.krow, 2, q2, s, mvalid, NULL, post, 1,
                   fused_max ? t->tmax : NULL);
        }
    }
    PHASE_END(FATTN_PHASE_SCORES);
    if (p->softcap > 0.0f)
        softcap_scores(p, t, cols);
    int bias_left = has_bias;
    if (has_bias && bias_lanes(p, hv, t, qt, j0, cols, qt->mask_gather))
        bias_left = 0;
    if (!interior || bias_left)
        fix_scores(p, hv, t, qt, j0, cols, !interior, bias_left);
    PHASE_END(FATTN_PHASE_MASKS);
    bf_softmax_pairs(t, cols, fused_max);
    PHASE_END(FATTN_PHASE_SOFTMAX);
    const int64_t kpairs = (cols + 1) / 2;
    const uint16_t *v2 = (const uint16_t *)(const void *)kv.v2;
    const uint32_t *p2 = (const uint32_t *)(const void *)t->st;
    for (int64_t e0 = 0; e0 < dv; e0 += UK_MR) {
        const int64_t left = dv - e0;
        const int mvalid = left < UK_MR ? (int)left : UK_MR;
        if (mvalid == UK_MR)
            bk_values(kpairs, v2 + 2 * e0, 2 * dv, p2, t->ot + e0 * TQ, t->corr);
        else
            bk_any(kpairs, v2 + 2 * e0, 2, 2 * dv, p2, t->ot + e0 * TQ, mvalid,
                   t->corr, 1.0f, 0, NULL);
    }
    PHASE_END(FATTN_PHASE_VALUES);
}

/* attention_tiled.h's query_begin with the bf16 pair packing. */
static void bf_query_begin(const fattn_problem *p, const fattn_head *hv,
                           const tile_ws *t, qtile *qt, fattn_span *span)
{
    fattn_row_ranges(p, hv, qt->i0, TQ, t->lo, t->hi, span);
    qt->max_lo = span->all_lo;
    qt->min_hi = span->all_hi;
    for (int r = 0; r < TQ; r++) {
        t->m[r] = -INFINITY;
        t->l[r] = 0.0f;
    }
    memset(t->ot, 0, sizeof(float) * TQ * (size_t)p->head_dim_v);
    const int64_t *ms = p->mask_stride;
    qt->mask_gather = p->mask_kind == FATTN_MASK_ADDITIVE &&
                      p->mask_dtype == FATTN_DTYPE_F32 && ms[2] != 0 &&
                      ms[3] != 1 && ms[2] <= INT32_MAX / TQ;
    if (qt->mask_gather)
        for (int r = 0; r < TQ; r++)
            t->midx[r] = r < qt->active ? (int32_t)(r * ms[2]) : 0;
    if (span->lo < span->hi)
        bf_pack_query(p, hv, t, qt);
}

/* attention_tiled.h's query_group with this file's key tile. */
static void bf_query_group(const fattn_problem *p, const fattn_head *hv,
                           const tile_ws *t, int64_t i0, int64_t ng)
{
    qtile qt[QGROUP];
    fattn_span span[QGROUP];
    PHASE_START();
    for (int64_t g = 0; g < ng; g++) {
        qt[g].i0 = i0 + g * TQ;
        qt[g].rows = p->seq_q - qt[g].i0 < TQ ? (int)(p->seq_q - qt[g].i0) : TQ;
        int64_t act = hv->qlen - qt[g].i0;
        qt[g].active = act <= 0 ? 0 : act < qt[g].rows ? (int)act : qt[g].rows;
        bf_query_begin(p, hv, &t[g], &qt[g], &span[g]);
    }
    PHASE_END(FATTN_PHASE_EDGES);
    for (int64_t off = 0;; off += TILE_K) {
        int busy = 0;
        for (int64_t g = 0; g < ng; g++) {
            if (off >= span[g].hi - span[g].lo)
                continue;
            int64_t j0 = span[g].lo + off;
            int cols = span[g].hi - j0 < TILE_K ? (int)(span[g].hi - j0) : TILE_K;
            bf_key_tile(p, hv, &t[g], &qt[g], j0, cols);
            busy = 1;
        }
        if (!busy)
            break;
    }
    PHASE_RESTART();
    for (int64_t g = 0; g < ng; g++)
        write_rows(p, hv, &t[g], &qt[g]);
    PHASE_END(FATTN_PHASE_EDGES);
}

static void bf_lanes_run(const fattn_problem *p, const fattn_item *it,
                         void *workspace)
{
    tile_ws t[QGROUP];
    carve(p, workspace, t); /* bf16 K: Kc, Vc and conv exist (lanes_widens) */
    const int64_t ng = group_tiles(p);
    fattn_head hv;
    fattn_head_init(p, it, it->h, &hv);
    t[0].conv[0] = -1;
    for (int64_t i0 = it->i0; i0 < it->i1; i0 += ng * TQ) {
        int64_t left = (it->i1 - i0 + TQ - 1) / TQ;
        bf_query_group(p, &hv, t, i0, left < ng ? left : ng);
    }
}

/* Query, key and value all bf16: any strides, output, mask and options. */
static int bf_all_bf16(const fattn_problem *p)
{
    return p->q_dtype == FATTN_DTYPE_BF16 && p->k_dtype == FATTN_DTYPE_BF16 &&
           p->v_dtype == FATTN_DTYPE_BF16;
}

/*
 * vdpbf16ps throughput: PEAK_CHAINS independent accumulators on two
 * register constants, counted as 4 FLOP per f32 lane (two products, two
 * sums), like fma_peak.h's loop for FMAs.
 */
static double bf16_peak_chunk(long iterations, float *sink)
{
    enum { CHAINS = PEAK_CHAINS };
    vf acc[CHAINS];
    const vi one = _mm512_set1_epi32(0x3f803f80);   /* bf16 (1, 1) */
    const vi small = _mm512_set1_epi32(0x35803580); /* bf16 (2^-20, 2^-20) */
    for (int c = 0; c < CHAINS; c++)
        acc[c] = vf_set1((float)c);
    double t0 = peak_now();
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = bf_dot(acc[c], one, small);
    double t = peak_now() - t0;
    vf sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = vf_add(sum, acc[c]);
    float lanes[VW];
    vf_store(lanes, sum);
    *sink += lanes[0];
    return t > 0.0 ? 4.0 * VW * CHAINS * (double)iterations / t * 1e-9 : 0.0;
}

static double bf16_peak(double seconds)
{
    return peak_best(seconds, bf16_peak_chunk);
}

static const fattn_variant bf_variants[] = {
    {"avx512bf16_lanes", bf_all_bf16, 0, 0, 0, lanes_block_rows, TQ,
     lanes_workspace, bf_lanes_run},
};

const fattn_kernel fattn_kernel_avx512bf16 = {
    bf_variants, (int)(sizeof bf_variants / sizeof bf_variants[0]),
    &fattn_kernel_avx512, bf_all_bf16,
    VEC_EXP, VEC_EXP2, VEC_TANH, FMA_PEAK, VEC_WIDEN, VEC_NARROW, bf16_peak,
};
