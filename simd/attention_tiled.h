/*
 * attention_tiled.h - the SIMD flash attention body, shared by the ISA files.
 *
 * Included once by each simd/attention_<isa>.c after its vec_<isa>.h and
 * vec_math.h, with these macros set:
 *   UK_MR, UK_NV   microkernel block: UK_MR broadcast rows x UK_NV vectors
 *   TILE_K         keys per key tile (a multiple of UK_MR)
 *   KERNEL_NAME    the path's name (variant names are "<name>_lanes", ...)
 *   KERNEL_TABLE   the name of the path's exported fattn_kernel table
 *   VEC_EXP, VEC_EXP2, VEC_TANH, FMA_PEAK   its vector math and peak meter
 *   TILED_BODY_ONLY  (optional) only the pieces: no rows variant, no table,
 *                    for a path that builds its own key tile on the masks,
 *                    workspace and write_rows here (attention_avx512bf16.c)
 * Everything here is static except the table: each ISA gets its own copy
 * compiled with its own flags, and nothing compiled for AVX-512 can leak
 * into the baseline.
 *
 * Work items (fattn_item): the lanes variant takes one query head and a
 * block of QGROUP query tiles; the rows variant (attention_rows.h) a whole
 * GQA group of few rows. The planner (src/plan.c) chooses and loops.
 *
 * Layout: queries live in vector lanes. A query tile of TQ = UK_NV * VW rows
 * is packed once, scaled (unless the soft-cap takes the scale, see
 * softcap_takes_scale) and transposed, as Qt[D][TQ]. For each key tile:
 *   St[c][q]  = sum_d K[c][d] * Qt[d][q]        (microkernel, K broadcast)
 *   softcap, then masks/ALiBi/visibility on tiles that need them (whole
 *   lanes where that is exact, else element by element),
 *   online softmax per lane, in base 2: m, l and the rescale factor are
 *   vectors, so the row max and row sum need no horizontal reduction;
 *   Ot[e][q] = Ot[e][q] * corr[q] + sum_c V[c][e] * P[c][q]   (same
 *   microkernel, V broadcast, the rescale fused into the accumulator load).
 * K and V are read in place through their strides (broadcasts need no
 * packing); bf16 or f16 K and V tiles are widened once into the workspace
 * (Kc, Vc) and shared by the query tiles that take them in turn. QGROUP query tiles take each key tile in turn (see QGROUP), so
 * the workspace is St + QGROUP * (Qt + Ot + row state): O(TQ * (TILE_K +
 * QGROUP * (D + Dv))), independent of sequence length.
 *
 * Rows past the query length or past the tile are "don't care" lanes: their
 * Q is packed as 0 (the padding is never read) and their results are never
 * stored; the output rows past q_lengths are written as 0.
 */
#include "internal.h"
#include "vec_dtype.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define TQ (UK_NV * VW)

/* Profiling builds (internal.h): PHASE_START() opens a timed stretch,
 * PHASE_END(ph) adds its cycles to phase ph and starts the next one,
 * PHASE_RESTART() drops the cycles since (counted elsewhere). */
#if FATTN_PHASE_TIMERS
#include <x86intrin.h>
#define PHASE_START() uint64_t phase_t0_ = __rdtsc()
#define PHASE_RESTART() (phase_t0_ = __rdtsc())
#define PHASE_END(ph)                                                          \
    do {                                                                       \
        uint64_t phase_t1_ = __rdtsc();                                        \
        fattn_phase_cycles[ph] += phase_t1_ - phase_t0_;                       \
        phase_t0_ = phase_t1_;                                                 \
    } while (0)
#else
#define PHASE_START() ((void)0)
#define PHASE_RESTART() ((void)0)
#define PHASE_END(ph) ((void)0)
#endif

typedef struct tile_ws {
    float *qt;        /* [D][TQ] q_pack_scale * Q, transposed */
    float *st;        /* [TILE_K][TQ] scores, then probabilities */
    float *ot;        /* [Dv][TQ] unnormalised output, transposed */
    float *m, *l;     /* [TQ] running max and sum */
    float *corr;      /* [TQ] rescale factor of the current key tile */
    float *tmax;      /* [TQ] max of the current key tile's scores */
    int64_t *lo, *hi; /* [TQ] visible key range per row */
    int32_t *midx;    /* [TQ] mask gather offsets: r * mask_stride[2] */
    /* bf16/f16 K or V only, else NULL: the widened key tile [TILE_K][D]
     * and value tile [TILE_K][Dv], shared, and which keys they hold. */
    float *kc, *vc;
    int64_t *conv; /* {j0, cols}: the tile in kc/vc, j0 = -1 for none */
} tile_ws;

static size_t round64(size_t n) { return (n + 63u) & ~(size_t)63u; }

/*
 * Query tiles that walk the key tiles together, so a K/V tile read from
 * memory for the first is still in L2 for the others: one head's K and V
 * outgrow L2 at a few thousand keys, and streaming them from L3 once per
 * query tile cost 3-4% of the whole run at S=2048 D=128. The group shares St,
 * corr and tmax (used within one key tile) and holds QGROUP sets of the
 * rest: the workspace stays O(tile).
 */
#define QGROUP 4

static int64_t group_tiles(const fattn_problem *p)
{
    int64_t tiles = p->seq_q / TQ + (p->seq_q % TQ != 0);
    return tiles < QGROUP ? (tiles < 1 ? 1 : tiles) : QGROUP;
}

static size_t tile_private_bytes(const fattn_problem *p)
{
    return round64(sizeof(float) * TQ * (size_t)p->head_dim) +
           round64(sizeof(float) * TQ * (size_t)p->head_dim_v) +
           2 * round64(sizeof(float) * TQ) + 2 * round64(sizeof(int64_t) * TQ) +
           round64(sizeof(int32_t) * TQ);
}

/* K or V is half precision: key tiles are widened into the workspace. */
static int lanes_widens(const fattn_problem *p)
{
    return p->k_dtype != FATTN_DTYPE_F32 || p->v_dtype != FATTN_DTYPE_F32;
}

static size_t widen_bytes(const fattn_problem *p)
{
    if (!lanes_widens(p))
        return 0;
    return round64(sizeof(float) * TILE_K * (size_t)p->head_dim) +
           round64(sizeof(float) * TILE_K * (size_t)p->head_dim_v) + 64;
}

static size_t lanes_workspace(const fattn_problem *p)
{
    return round64(sizeof(float) * TQ * TILE_K) + 2 * round64(sizeof(float) * TQ) +
           widen_bytes(p) + (size_t)group_tiles(p) * tile_private_bytes(p);
}

/* t[0 .. group_tiles(p)): shared St, corr and tmax, the rest per tile. */
static void carve(const fattn_problem *p, void *workspace, tile_ws *t)
{
    char *w = workspace;
    float *st = (float *)w;
    w += round64(sizeof(float) * TQ * TILE_K);
    float *corr = (float *)w;
    w += round64(sizeof(float) * TQ);
    float *tmax = (float *)w;
    w += round64(sizeof(float) * TQ);
    float *kc = NULL, *vc = NULL;
    int64_t *conv = NULL;
    if (lanes_widens(p)) {
        kc = (float *)w;
        w += round64(sizeof(float) * TILE_K * (size_t)p->head_dim);
        vc = (float *)w;
        w += round64(sizeof(float) * TILE_K * (size_t)p->head_dim_v);
        conv = (int64_t *)w;
        w += 64;
    }
    for (int64_t g = 0; g < group_tiles(p); g++) {
        t[g].st = st;
        t[g].corr = corr;
        t[g].tmax = tmax;
        t[g].kc = kc;
        t[g].vc = vc;
        t[g].conv = conv;
        t[g].qt = (float *)w;
        w += round64(sizeof(float) * TQ * (size_t)p->head_dim);
        t[g].ot = (float *)w;
        w += round64(sizeof(float) * TQ * (size_t)p->head_dim_v);
        t[g].m = (float *)w;
        w += round64(sizeof(float) * TQ);
        t[g].l = (float *)w;
        w += round64(sizeof(float) * TQ);
        t[g].lo = (int64_t *)w;
        w += round64(sizeof(int64_t) * TQ);
        t[g].hi = (int64_t *)w;
        w += round64(sizeof(int64_t) * TQ);
        t[g].midx = (int32_t *)w;
        w += round64(sizeof(int32_t) * TQ);
    }
}

/*
 * The microkernel: C[m][0..TQ) = (scale ? C[m] * scale : 0) +
 * sum_k A(m, k) * B[k][0..TQ) for m < mvalid and kdim >= 1, where A(m, k) =
 * a[m * am + k * ak] and B's rows are TQ apart. Rows past mvalid read row mvalid - 1
 * (so every load stays inside the caller's tensor) and their results are
 * dropped. With colmax, colmax[q] = max(colmax[q], C[m][q]) over the block:
 * the softmax's tile max, taken while the block is in registers.
 *
 * uk_body is instantiated (always inlined, constant arguments folded) as one
 * function per hot case, each with a single loop, so the 24 accumulators
 * stay in registers from the first load to the last store; one generic
 * function with several loops made the compiler spill the whole block to
 * the stack around them on every call.
 */
#define UK_STEP(avals)                                                         \
    do {                                                                       \
        for (int n = 0; n < UK_NV; n++)                                        \
            bv[n] = vf_load(bk + n * VW);                                      \
        bk += TQ;                                                              \
        for (int m = 0; m < UK_MR; m++) {                                      \
            vf am_ = vf_set1(avals);                                           \
            for (int n = 0; n < UK_NV; n++)                                    \
                acc[m][n] = vf_fmadd(am_, bv[n], acc[m][n]);                   \
        }                                                                      \
    } while (0)

enum { UK_ANY, UK_ROWS_ADJACENT, UK_K_CONTIGUOUS };

static inline __attribute__((always_inline)) void
uk_body(int64_t kdim, const float *a, int64_t am, int64_t ak, const float *b,
        float *c, int mvalid, const float *scale, float *colmax, int layout)
{
    vf acc[UK_MR][UK_NV], bv[UK_NV];
    if (scale) {
        vf s[UK_NV];
        for (int n = 0; n < UK_NV; n++)
            s[n] = vf_load(scale + n * VW);
        for (int m = 0; m < UK_MR; m++)
            for (int n = 0; n < UK_NV; n++)
                acc[m][n] = m < mvalid ? vf_mul(vf_load(c + m * TQ + n * VW), s[n])
                                       : vf_zero();
    } else {
        for (int m = 0; m < UK_MR; m++)
            for (int n = 0; n < UK_NV; n++)
                acc[m][n] = vf_zero();
    }
    /* do-while, as kdim >= 1: a loop that may run zero times made gcc keep
     * acc[][] on the stack around it (spilled and reloaded on every call). */
    const float *bk = b;
    int64_t k = 0;
    if (layout == UK_ROWS_ADJACENT) { /* am == 1, mvalid == UK_MR */
        do
            UK_STEP(a[k * ak + m]);
        while (++k < kdim);
    } else {
        const float *ap[UK_MR];
        for (int m = 0; m < UK_MR; m++)
            ap[m] = a + (m < mvalid ? m : mvalid - 1) * am;
        if (layout == UK_K_CONTIGUOUS) { /* ak == 1: one index for all rows */
            do
                UK_STEP(ap[m][k]);
            while (++k < kdim);
        } else {
            do
                UK_STEP(ap[m][k * ak]);
            while (++k < kdim);
        }
    }
    /* A constant trip count keeps acc[][] in registers (a loop to mvalid
     * would spill the whole block to the stack first). */
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
#undef UK_STEP

/* Q.K^T on a full block of keys whose head_dim is contiguous. */
static __attribute__((noinline)) void
uk_scores(int64_t kdim, const float *a, int64_t am, const float *b, float *c)
{
    uk_body(kdim, a, am, 1, b, c, UK_MR, NULL, NULL, UK_K_CONTIGUOUS);
}

/* The same, folding the block into the tile max. */
static __attribute__((noinline)) void
uk_scores_max(int64_t kdim, const float *a, int64_t am, const float *b,
              float *c, float *colmax)
{
    uk_body(kdim, a, am, 1, b, c, UK_MR, NULL, colmax, UK_K_CONTIGUOUS);
}

/* P.V on a full block of V columns that are adjacent in memory. */
static __attribute__((noinline)) void
uk_values(int64_t kdim, const float *a, int64_t ak, const float *b, float *c,
          const float *scale)
{
    if (!scale) /* never: tells the compiler that only one branch exists */
        __builtin_unreachable();
    uk_body(kdim, a, 1, ak, b, c, UK_MR, scale, NULL, UK_ROWS_ADJACENT);
}

/* Every other case: partial blocks, strided head_dim. */
static void ukernel(int64_t kdim, const float *a, int64_t am, int64_t ak,
                    const float *b, float *c, int mvalid, const float *scale,
                    float *colmax)
{
    uk_body(kdim, a, am, ak, b, c, mvalid, scale, colmax,
            ak == 1 ? UK_K_CONTIGUOUS : UK_ANY);
}


/* The query tile: [i0, i0 + rows) with `active` rows below qlen. */
typedef struct qtile {
    int64_t i0;
    int rows, active;
    int64_t max_lo, min_hi; /* a key tile in [max_lo, min_hi) needs no masking */
    int mask_gather;        /* t->midx holds the mask's row offsets */
} qtile;

/* Additive mask, keep-mask and ALiBi for score x of key j; mrow is the
 * mask at (b, h, i, 0), pos is pos(i) for ALiBi. */
static inline float bias_score(const fattn_problem *p, const unsigned char *mrow,
                               float slope, double pos, int64_t j, float x)
{
    if (p->mask_kind == FATTN_MASK_KEEP) {
        if (mrow[j * p->mask_stride[3]] == 0)
            return -INFINITY;
    } else if (p->mask_kind == FATTN_MASK_ADDITIVE) {
        x += fattn_load_elem(mrow, j * p->mask_stride[3], p->mask_dtype);
    }
    if (slope != 0.0f)
        x -= slope * (float)fabs(pos - (double)j);
    return x;
}

/* Lane offsets 0, 1, 2, ... of a query tile, for ALiBi's distances. */
static const float lane_index[TQ] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
#if TQ > 16
    16, 17, 18, 19, 20, 21, 22, 23,
#endif
#if TQ > 24
    24, 25, 26, 27, 28, 29, 30, 31,
#endif
#if TQ > 32
    32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
#endif
};
_Static_assert(TQ <= 48, "lane_index covers 48 lanes");

/*
 * With a soft-cap, scale * Q.K^T is only ever multiplied by 1 / softcap, so
 * the scale joins that factor and Q is packed unscaled. Rounding scale *
 * q_d to f32 first adds an error to every term of the dot product, where
 * the scalar path rounds the dot product once; that error dominates the
 * capped scores' when the products are exact in f32 (bf16-valued data) and
 * 1/sqrt(D) is not a power of two. Not where scale / softcap would overflow.
 */
static int softcap_takes_scale(const fattn_problem *p)
{
    return p->softcap > 0.0f && (double)p->scale / p->softcap <= FLT_MAX;
}

/* What Q is packed with, and what multiplies Q.K^T inside the soft-cap. */
static float q_pack_scale(const fattn_problem *p)
{
    return softcap_takes_scale(p) ? 1.0f : p->scale;
}
static float softcap_inv(const fattn_problem *p)
{
    /* In double and capped at FLT_MAX, so that neither arm can overflow
     * (compilers may evaluate both). */
    const float folded = (float)fmin((double)p->scale / p->softcap, FLT_MAX);
    return softcap_takes_scale(p) ? folded : 1.0f / p->softcap;
}

/* Qt[d][r] = scale * Q[i0 + r][d] (q_pack_scale), and 0 for lanes past the
 * active rows. */
static void pack_query(const fattn_problem *p, const fattn_head *hv,
                       const tile_ws *t, const qtile *qt)
{
    const int64_t *qs = p->q_stride;
    const int64_t dim = p->head_dim;
    const void *q0 = fattn_q_row(p, hv->b, hv->h, qt->i0);
    const int qd = p->q_dtype;
    const float qscale = q_pack_scale(p);
    if (qs[3] == 1) {
        /* VW x VW blocks, transposed in registers: rows are read in order
         * and Qt is written whole vectors at a time. */
        const vf scale = vf_set1(qscale);
        for (int r0 = 0; r0 < TQ; r0 += VW) {
            int nr = qt->active - r0;
            nr = nr < 0 ? 0 : nr > VW ? VW : nr;
            for (int64_t d0 = 0; d0 < dim; d0 += VW) {
                int nd = dim - d0 < VW ? (int)(dim - d0) : VW;
                vf blk[VW];
                for (int j = 0; j < VW; j++) {
                    if (j >= nr) {
                        blk[j] = vf_zero();
                        continue;
                    }
                    blk[j] = vf_load_dt_upto(q0, (r0 + j) * qs[2] + d0, qd, nd);
                }
                vf_transpose(blk);
                for (int j = 0; j < nd; j++)
                    vf_store(t->qt + (d0 + j) * TQ + r0, vf_mul(scale, blk[j]));
            }
        }
        return;
    }
    for (int64_t d = 0; d < dim; d++) {
        float *row = t->qt + d * TQ;
        int r = 0;
        for (; r < qt->active; r++)
            row[r] = qscale * fattn_load_elem(q0, r * qs[2] + d * qs[3], qd);
        for (; r < TQ; r++)
            row[r] = 0.0f;
    }
}

/*
 * A mask with a row per query and contiguous keys (mask_stride[3] == 1),
 * VW rows x VW keys at a time: the rows are read in order, transposed in
 * registers and applied to whole lanes (a keep-mask's 0 gives -inf whatever
 * the score, as in bias_score). Lanes from the active rows on read nothing.
 */
static void mask_rows_lanes(const fattn_problem *p, const fattn_head *hv,
                            const tile_ws *t, const qtile *qt, int64_t j0,
                            int cols)
{
    const int keep = p->mask_kind == FATTN_MASK_KEEP;
    const int64_t rs = p->mask_stride[2];
    const vf neg_inf = vf_set1(-INFINITY);
    for (int r0 = 0; r0 < qt->active; r0 += VW) {
        int nr = qt->active - r0 < VW ? qt->active - r0 : VW;
        for (int c0 = 0; c0 < cols; c0 += VW) {
            int nc = cols - c0 < VW ? cols - c0 : VW;
            vf blk[VW];
            for (int j = 0; j < VW; j++) {
                if (j >= nr) {
                    blk[j] = vf_zero();
                    continue;
                }
                const int64_t off = (qt->i0 + r0 + j) * rs + j0 + c0;
                if (keep) {
                    const unsigned char *m = hv->mask + off;
                    blk[j] = nc == VW ? vf_load_u8(m) : vf_load_u8_n(m, nc);
                } else {
                    blk[j] = vf_load_dt_upto(hv->mask, off, p->mask_dtype, nc);
                }
            }
            vf_transpose(blk); /* blk[c]: key j0 + c0 + c over the rows */
            for (int c = 0; c < nc; c++) {
                float *s = t->st + (c0 + c) * TQ + r0;
                vf x = vf_load(s);
                vf_store(s, keep ? vf_select_zero_bits(blk[c], neg_inf, x)
                                 : vf_add(x, blk[c]));
            }
        }
    }
}

/*
 * Masks and ALiBi on whole lanes, for the tiles where that is exact: a
 * per-row mask over contiguous keys (mask_rows_lanes), an additive mask
 * with strided keys whose row offsets fit the gather's int32 indices, a
 * mask that is the same for every row; ALiBi distances below 2^24 (exact
 * in float, as in the element-wise pass). Returns 0 if the element-wise
 * pass must do it. Lanes past the active rows read row i0's mask (midx =
 * 0) or nothing, and are never stored, so no read leaves the mask.
 */
static int bias_lanes(const fattn_problem *p, const fattn_head *hv,
                      const tile_ws *t, const qtile *qt, int64_t j0, int cols,
                      int mask_gather)
{
    const int64_t *ms = p->mask_stride;
    const int align_br = p->align == FATTN_ALIGN_BOTTOM_RIGHT;
    if (p->mask_kind == FATTN_MASK_KEEP && ms[2] != 0 && ms[3] != 1)
        return 0; /* strided byte masks per row: element by element */
    if (p->mask_kind == FATTN_MASK_ADDITIVE && ms[2] != 0 && ms[3] != 1 &&
        !mask_gather)
        return 0; /* row offsets beyond the gather's int32 indices */
    double d0 = 0.0;
    if (hv->slope != 0.0f) {
        int64_t pos0 = fattn_query_pos(align_br, hv->qlen, hv->klen, qt->i0);
        int64_t near = pos0 - (j0 + cols - 1), far = pos0 + TQ - j0;
        if (near < -(INT64_C(1) << 24) + TQ || far > (INT64_C(1) << 24))
            return 0;
        d0 = (double)(pos0 - j0);
    }
    const vf neg_slope = vf_set1(-hv->slope);
    const unsigned char *mrow =
        hv->mask ? hv->mask + (size_t)(qt->i0 * ms[2]) * fattn_mask_elem(p)
                 : NULL;
    /* Per-row masks over contiguous keys: transposed blocks; the loop below
     * is left with the broadcast and strided masks, and ALiBi. */
    const int rows_done = hv->mask && ms[2] != 0 && ms[3] == 1;
    if (rows_done) {
        mask_rows_lanes(p, hv, t, qt, j0, cols);
        if (hv->slope == 0.0f)
            return 1;
    }
    for (int c = 0; c < cols; c++) {
        float *s = t->st + c * TQ;
        const int64_t j = j0 + c;
        if (p->mask_kind == FATTN_MASK_KEEP && !rows_done && mrow[j * ms[3]] == 0) {
            for (int n = 0; n < UK_NV; n++)
                vf_store(s + n * VW, vf_set1(-INFINITY));
            continue;
        }
        /* An additive mask left here is the same for every row or, f32
         * only (mask_gather), gathered. */
        const int add = p->mask_kind == FATTN_MASK_ADDITIVE && !rows_done;
        const vf mrow_x = add && ms[2] == 0
                              ? vf_set1(fattn_load_elem(mrow, j * ms[3], p->mask_dtype))
                              : vf_zero();
        const float *mcol = add && ms[2] != 0
                                ? (const float *)(const void *)mrow + j * ms[3]
                                : NULL;
        const vf dist0 = vf_set1((float)(d0 - (double)c));
        for (int n = 0; n < UK_NV; n++) {
            vf x = vf_load(s + n * VW);
            if (add)
                x = vf_add(x, mcol ? vf_gather(mcol, t->midx + n * VW) : mrow_x);
            if (hv->slope != 0.0f)
                x = vf_fmadd(neg_slope,
                             vf_abs(vf_add(dist0, vf_load(lane_index + n * VW))), x);
            vf_store(s + n * VW, x);
        }
    }
    return 1;
}

/*
 * Masks, ALiBi and visibility for one key tile, element by element. Without
 * a mask or ALiBi only the columns that some row cannot see need a look:
 * those outside [max_lo, min_hi), a narrow band along a causal diagonal or
 * a window's edges.
 */
static void fix_scores(const fattn_problem *p, const fattn_head *hv,
                       const tile_ws *t, const qtile *qt, int64_t j0, int cols,
                       int need_range, int has_bias)
{
    const size_t mask_elem = fattn_mask_elem(p);
    const int align_br = p->align == FATTN_ALIGN_BOTTOM_RIGHT;
    int skip_lo = cols, skip_hi = cols; /* columns every row sees */
    if (!has_bias) {
        int64_t a = qt->max_lo - j0, b = qt->min_hi - j0;
        skip_lo = a < 0 ? 0 : a > cols ? cols : (int)a;
        skip_hi = b < 0 ? 0 : b > cols ? cols : (int)b;
    }
    for (int c = 0; c < cols; c++) {
        if (c >= skip_lo && c < skip_hi)
            continue;
        const int64_t j = j0 + c;
        float *s = t->st + c * TQ;
        for (int r = 0; r < qt->active; r++) {
            const int64_t i = qt->i0 + r;
            if (need_range && (j < t->lo[r] || j >= t->hi[r]))
                s[r] = -INFINITY;
            else if (has_bias)
                s[r] = bias_score(
                    p,
                    hv->mask ? hv->mask + (size_t)(i * p->mask_stride[2]) * mask_elem
                             : NULL, /* no arithmetic on NULL, not even + 0 */
                    hv->slope,
                    (double)fattn_query_pos(align_br, hv->qlen, hv->klen, i), j,
                    s[r]);
        }
    }
}

static void softcap_scores(const fattn_problem *p, const tile_ws *t, int cols)
{
    const float inv_s = softcap_inv(p);
    const vf cap = vf_set1(p->softcap), inv = vf_set1(inv_s);
    const vf amax = vf_set1(vf_softcap_arg_max(inv_s));
    for (int c = 0; c < cols; c++)
        for (int n = 0; n < UK_NV; n++) {
            float *s = t->st + c * TQ + n * VW;
            vf_store(s, vf_softcap(vf_load(s), cap, inv, amax));
        }
}

/* Online softmax over the tile: St becomes P, m/l/corr are updated. With
 * have_max, t->tmax already holds the tile's column max. exp(s - m) is
 * computed as 2^((s - m) * log2(e)): vf_exp2 needs no range reduction, and
 * the multiply rounds relative to s - m; vf_exp_sub forms s - m so that it
 * cannot overflow for finite scores near +-FLT_MAX (vec_math.h). */
static void softmax_tile(const tile_ws *t, int cols, int have_max)
{
    const vf neg_inf = vf_set1(-INFINITY);
    for (int n = 0; n < UK_NV; n++) {
        vf mt = neg_inf;
        if (have_max)
            mt = vf_load(t->tmax + n * VW);
        else
            for (int c = 0; c < cols; c++)
                mt = vf_max(mt, vf_load(t->st + c * TQ + n * VW));
        vf m_old = vf_load(t->m + n * VW);
        vf m_new = vf_max(m_old, mt);
        /* A lane that has seen nothing yet keeps m = -inf; subtracting 0
         * instead gives p = exp(-inf) = 0 rather than exp(-inf + inf). */
        vf m_sub = vf_select_eq(m_new, neg_inf, vf_zero(), m_new);
        vf nhm = vf_mul(m_sub, vf_set1(-0.5f));
        vf corr = vf_exp_sub(m_old, nhm);
        vf sum = vf_zero();
        for (int c = 0; c < cols; c++) {
            float *s = t->st + c * TQ + n * VW;
            vf e = vf_exp_sub(vf_load(s), nhm);
            vf_store(s, e);
            sum = vf_add(sum, e);
        }
        vf_store(t->l + n * VW, vf_fmadd(vf_load(t->l + n * VW), corr, sum));
        vf_store(t->m + n * VW, m_new);
        vf_store(t->corr + n * VW, corr);
    }
}

/* Keys [j0, j0 + cols) of K and V as f32 rows from key j0 on, walked with
 * their row and element strides: in place, or widened into Kc and Vc
 * unless they hold that tile already (the query tiles of a group take the
 * same key tiles in turn). */
typedef struct tile_rows {
    const float *k, *v;
    int64_t krow, kel, vrow, vel;
} tile_rows;

static tile_rows tile_kv(const fattn_problem *p, const fattn_head *hv,
                         const tile_ws *t, int64_t j0, int cols)
{
    tile_rows r = {NULL, NULL, hv->k.row, hv->k.elem, hv->v.row, hv->v.elem};
    if (hv->k.dtype == FATTN_DTYPE_F32)
        r.k = fattn_kv_row(&hv->k, j0);
    if (hv->v.dtype == FATTN_DTYPE_F32)
        r.v = fattn_kv_row(&hv->v, j0);
    if (!t->kc)
        return r;
    if (t->conv[0] != j0 || t->conv[1] != cols) {
        if (!r.k)
            vf_widen_tile(t->kc, p->head_dim, fattn_kv_row(&hv->k, j0),
                          hv->k.row, hv->k.elem, hv->k.dtype, cols, p->head_dim);
        if (!r.v)
            vf_widen_tile(t->vc, p->head_dim_v, fattn_kv_row(&hv->v, j0),
                          hv->v.row, hv->v.elem, hv->v.dtype, cols,
                          p->head_dim_v);
        t->conv[0] = j0;
        t->conv[1] = cols;
    }
    if (!r.k) {
        r.k = t->kc;
        r.krow = p->head_dim;
        r.kel = 1;
    }
    if (!r.v) {
        r.v = t->vc;
        r.vrow = p->head_dim_v;
        r.vel = 1;
    }
    return r;
}

static void key_tile(const fattn_problem *p, const fattn_head *hv,
                     const tile_ws *t, const qtile *qt, int64_t j0, int cols)
{
    PHASE_START();
    const tile_rows kv = tile_kv(p, hv, t, j0, cols);
    PHASE_END(FATTN_PHASE_EDGES);
    const int64_t krow = kv.krow, kel = kv.kel;
    const int64_t vrow_s = kv.vrow, vel = kv.vel;
    const int interior = j0 >= qt->max_lo && j0 + cols <= qt->min_hi;
    const int has_bias = p->mask_kind != FATTN_MASK_NONE || hv->slope != 0.0f;
    /* The max can be taken in the microkernel when nothing edits the scores
     * after it. */
    const int fused_max = interior && !has_bias && p->softcap == 0.0f;
    if (fused_max)
        for (int n = 0; n < UK_NV; n++)
            vf_store(t->tmax + n * VW, vf_set1(-INFINITY));
    for (int c0 = 0; c0 < cols; c0 += UK_MR) {
        int mvalid = cols - c0 < UK_MR ? cols - c0 : UK_MR;
        const float *kb = kv.k + c0 * krow;
        if (mvalid == UK_MR && kel == 1) {
            if (fused_max)
                uk_scores_max(p->head_dim, kb, krow, t->qt, t->st + c0 * TQ,
                              t->tmax);
            else
                uk_scores(p->head_dim, kb, krow, t->qt, t->st + c0 * TQ);
        } else {
            ukernel(p->head_dim, kb, krow, kel, t->qt, t->st + c0 * TQ,
                    mvalid, NULL, fused_max ? t->tmax : NULL);
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
    softmax_tile(t, cols, fused_max);
    PHASE_END(FATTN_PHASE_SOFTMAX);
    const float *vrow = kv.v;
    for (int64_t e0 = 0; e0 < p->head_dim_v; e0 += UK_MR) {
        int64_t left = p->head_dim_v - e0;
        int mvalid = left < UK_MR ? (int)left : UK_MR;
        if (mvalid == UK_MR && vel == 1)
            uk_values(cols, vrow + e0, vrow_s, t->st, t->ot + e0 * TQ, t->corr);
        else
            ukernel(cols, vrow + e0 * vel, vel, vrow_s, t->st,
                    t->ot + e0 * TQ, mvalid, t->corr, NULL);
    }
    PHASE_END(FATTN_PHASE_VALUES);
}

/* O[i0 + r] = Ot[.][r] / l[r]; 0 for rows that saw no key (l = 0: fully
 * masked) or lie past q_lengths, whatever their lanes hold. */
static void write_rows(const fattn_problem *p, const fattn_head *hv,
                       const tile_ws *t, const qtile *qt)
{
    const int64_t *os = p->o_stride;
    const int64_t dv = p->head_dim_v;
    float inv[TQ];
    unsigned char zero[TQ];
    for (int r = 0; r < qt->rows; r++) {
        /* l = 0: fully masked or past q_lengths; NaN: a NaN input. */
        float l = r < qt->active ? t->l[r] : 0.0f;
        zero[r] = l == 0.0f;
        inv[r] = fattn_inv_or_zero(l);
        fattn_store_lse(p, hv->b, hv->h, qt->i0 + r, t->m[r], l);
    }
    if (os[3] == 1) {
        /* VW x VW blocks of Ot transposed in registers, whole rows out. */
        for (int r0 = 0; r0 < qt->rows; r0 += VW) {
            int nr = qt->rows - r0 < VW ? qt->rows - r0 : VW;
            for (int64_t e0 = 0; e0 < dv; e0 += VW) {
                int ne = dv - e0 < VW ? (int)(dv - e0) : VW;
                vf blk[VW];
                for (int j = 0; j < VW; j++)
                    blk[j] = j < ne ? vf_load(t->ot + (e0 + j) * TQ + r0) : vf_zero();
                vf_transpose(blk);
                for (int j = 0; j < nr; j++) {
                    void *orow = fattn_o_row(p, hv->b, hv->h, qt->i0 + r0 + j);
                    vf x = zero[r0 + j] ? vf_zero() : vf_mul(blk[j], vf_set1(inv[r0 + j]));
                    vf_store_dt_upto(orow, e0, p->o_dtype, x, ne);
                }
            }
        }
        return;
    }
    for (int r = 0; r < qt->rows; r++) {
        void *orow = fattn_o_row(p, hv->b, hv->h, qt->i0 + r);
        for (int64_t e = 0; e < dv; e++)
            fattn_store_elem(orow, e * os[3], p->o_dtype,
                             zero[r] ? 0.0f : t->ot[e * TQ + r] * inv[r]);
    }
}

/* Sets up query tile qt: visible ranges, row state, packed Q; span gets the
 * key range [span->lo, span->hi) some row of it can see. */
static void query_begin(const fattn_problem *p, const fattn_head *hv,
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
    /* Gather offsets of the mask rows, when int32 holds them all; only an
     * additive per-row mask with strided keys is gathered (bias_lanes). */
    const int64_t *ms = p->mask_stride;
    qt->mask_gather = p->mask_kind == FATTN_MASK_ADDITIVE &&
                      p->mask_dtype == FATTN_DTYPE_F32 && ms[2] != 0 &&
                      ms[3] != 1 && ms[2] <= INT32_MAX / TQ;
    if (qt->mask_gather)
        for (int r = 0; r < TQ; r++)
            t->midx[r] = r < qt->active ? (int32_t)(r * ms[2]) : 0;
    if (span->lo < span->hi)
        pack_query(p, hv, t, qt);
}

/* Query tiles [i0, i0 + ng * TQ) of one head. Each tile visits only the key
 * tiles some row of it can see (fattn_row_ranges), in increasing order; the
 * tiles of the group take their k-th key tile one after the other. */
static void query_group(const fattn_problem *p, const fattn_head *hv,
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
        query_begin(p, hv, &t[g], &qt[g], &span[g]);
    }
    PHASE_END(FATTN_PHASE_EDGES);
    for (int64_t off = 0;; off += TILE_K) {
        int busy = 0;
        for (int64_t g = 0; g < ng; g++) {
            if (off >= span[g].hi - span[g].lo)
                continue;
            int64_t j0 = span[g].lo + off;
            int cols = span[g].hi - j0 < TILE_K ? (int)(span[g].hi - j0) : TILE_K;
            key_tile(p, hv, &t[g], &qt[g], j0, cols);
            busy = 1;
        }
        if (!busy)
            break;
    }
    PHASE_RESTART(); /* key_tile timed itself */
    for (int64_t g = 0; g < ng; g++)
        write_rows(p, hv, &t[g], &qt[g]);
    PHASE_END(FATTN_PHASE_EDGES);
}

/* Query rows per work item: one group of query tiles. */
static int64_t lanes_block_rows(const fattn_problem *p)
{
    return group_tiles(p) * TQ;
}

/* One work item: query head it->h of batch it->b, rows [i0, i1), in groups
 * of up to QGROUP query tiles. */
static void lanes_run(const fattn_problem *p, const fattn_item *it,
                      void *workspace)
{
    tile_ws t[QGROUP];
    carve(p, workspace, t);
    const int64_t ng = group_tiles(p);
    fattn_head hv;
    fattn_head_init(p, it, it->h, &hv);
    if (t[0].conv)
        t[0].conv[0] = -1; /* a new head: nothing widened yet */
    for (int64_t i0 = it->i0; i0 < it->i1; i0 += ng * TQ) {
        int64_t left = (it->i1 - i0 + TQ - 1) / TQ;
        query_group(p, &hv, t, i0, left < ng ? left : ng);
    }
}

#ifndef TILED_BODY_ONLY
#include "attention_rows.h"

#define FATTN_STR2_(x) #x
#define FATTN_STR_(x) FATTN_STR2_(x)

/* The path's variants, decode first: the planner takes the first that fits
 * (fattn_variant). */
static const fattn_variant variants[] = {
    {FATTN_STR_(KERNEL_NAME) "_rows", NULL, 1, ROWS_MAX, 1, NULL, 0,
     rows_workspace, rows_run_item},
    {FATTN_STR_(KERNEL_NAME) "_lanes", NULL, 0, 0, 0, lanes_block_rows, TQ,
     lanes_workspace, lanes_run},
};

const fattn_kernel KERNEL_TABLE = {
    variants, (int)(sizeof variants / sizeof variants[0]), NULL, NULL,
    VEC_EXP, VEC_EXP2, VEC_TANH, FMA_PEAK, VEC_WIDEN, VEC_NARROW, NULL,
};
#endif /* TILED_BODY_ONLY */
