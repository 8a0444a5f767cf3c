/*
 * attention_rows.h - the SIMD path for few query rows per KV head (decode,
 * speculative decoding, chunked verification), included by
 * attention_tiled.h.
 *
 * Decode is bound by reading K and V: each K and V row must be read from
 * memory once for every query row that attends to it. A work item here is
 * a block of up to ROWS_MAX rows of one KV head's group (or of several KV
 * heads, when a key's heads are neighbours in memory: BSHD), any group
 * size, any Sq (fattn_item). Per key tile of ROWS_TK keys, per KV head:
 *   scores: up to ROWS_DOT_LIMIT rows, dot products on K in place, row
 *     after row; more rows, a transposed copy of the tile (keys in lanes)
 *     through the lanes path's microkernel (UK_MR rows broadcast x TQ keys),
 *     which saves the horizontal sums;
 *   visibility, masks and ALiBi per score, online softmax per row;
 *   o[r][:] = o[r][:] * corr[r] + sum_c p[r][c] V[c][:]   (UK_MR rows x
 *     ROWS_NB vectors of accumulators, each V vector loaded once for them),
 *     the first block from V in place, the others from a dense copy.
 * Each key row is read from memory once per item, in order, and the row
 * the kernel reads next is prefetched on the way (the hardware prefetchers
 * fall behind when compute separates the loads, and stop at the 4 KiB
 * pages a BSHD cache puts each row on). Needs unit stride along head_dim
 * in K and V (vector loads); the planner uses the lanes path otherwise.
 * Tails of D and Dv use masked loads that never touch memory past the row.
 * bf16 and f16 K and V are widened as they are loaded, in registers (the
 * loops are instantiated per dtype), so a half-precision cache is read at
 * half the bytes and never copied whole.
 */

#define ROWS_MAX 64      /* query rows per work item */
#define ROWS_TK (2 * TQ) /* keys per key tile: two microkernel blocks */

#ifndef ROWS_NB
#define ROWS_NB 3 /* output vectors per row held in registers at once */
#endif
#ifndef ROWS_WIDE
#define ROWS_WIDE 0 /* 32 registers: whole rows of P.V for few rows */
#endif

/* CASE(R) with R = n for n < max, R = max for n >= max (max 4 or 8): one
 * register-allocated instantiation per row count. */
#define ROWS_CAP(r, max) ((r) < (max) ? (r) : (max))
#define ROWS_SWITCH(n, max, CASE)                                              \
    switch (n) {                                                               \
    case 1: CASE(1); break;                                                    \
    case 2: CASE(2); break;                                                    \
    case 3: CASE(3); break;                                                    \
    case 4: CASE(ROWS_CAP(4, max)); break;                                     \
    case 5: CASE(ROWS_CAP(5, max)); break;                                     \
    case 6: CASE(ROWS_CAP(6, max)); break;                                     \
    case 7: CASE(ROWS_CAP(7, max)); break;                                     \
    default: CASE(max); break;                                                 \
    }

/* One query row of the item. */
typedef struct row_info {
    int64_t g, h, i; /* KV head, query head, position */
    int active;                /* i < q_lengths[b] */
    int64_t lo, hi;            /* visible keys within the item's range */
    const unsigned char *mrow; /* mask at (b, h, i, 0) */
    float slope;
    double pos; /* pos(i) for ALiBi */
    float m, l, corr;
} row_info;

typedef struct rows_ws {
    float *q;  /* [ROWS_MAX][dq] q_pack_scale * Q, zero-padded to dq */
    float *o;  /* [ROWS_MAX][dvq] unnormalised output */
    float *s;  /* [2][ROWS_MAX][TQ] scores, then probabilities */
    float *kt; /* [2][D][TQ] the key tile, transposed */
    float *vt; /* [ROWS_TK][dvq] the value tile, copied, zero-padded */
    row_info *rows; /* [ROWS_MAX] */
    int64_t dq, dvq;
    /* What to prefetch while a key row is read: the row pf_k (pf_v) elements
     * on, the same key of the item's next KV head or the next tile's key. */
    int64_t pf_k, pf_v;
} rows_ws;

static int64_t round_vw(int64_t n) { return (n + VW - 1) / VW * VW; }

static size_t rows_workspace(const fattn_problem *p)
{
    return round64(sizeof(float) * ROWS_MAX *
                   (size_t)(round_vw(p->head_dim) + round_vw(p->head_dim_v) +
                            ROWS_TK)) +
           round64(sizeof(float) * 2 * TQ * (size_t)p->head_dim) +
           round64(sizeof(float) * ROWS_TK * (size_t)round_vw(p->head_dim_v)) +
           round64(sizeof(row_info) * ROWS_MAX);
}

static rows_ws rows_carve(const fattn_problem *p, void *w)
{
    rows_ws rw;
    rw.pf_k = rw.pf_v = 0;
    rw.dq = round_vw(p->head_dim);
    rw.dvq = round_vw(p->head_dim_v);
    rw.q = w;
    rw.o = rw.q + ROWS_MAX * rw.dq;
    rw.s = rw.o + ROWS_MAX * rw.dvq;
    char *c = (char *)w + round64(sizeof(float) * ROWS_MAX *
                                  (size_t)(rw.dq + rw.dvq + ROWS_TK));
    rw.kt = (float *)c;
    c += round64(sizeof(float) * 2 * TQ * (size_t)p->head_dim);
    rw.vt = (float *)c;
    c += round64(sizeof(float) * ROWS_TK * (size_t)rw.dvq);
    rw.rows = (row_info *)c;
    return rw;
}

/* Score of row r and tile column c, c < ROWS_TK. */
static inline float *rows_score(const rows_ws *rw, int r, int c)
{
    return rw->s + (c / TQ) * (ROWS_MAX * TQ) + r * TQ + c % TQ;
}

/* The n elements of `es` bytes that start `ahead` elements after row. */
static inline void prefetch_row(const void *row, int64_t ahead, int64_t n,
                                size_t es)
{
    const char *b = (const char *)row + (size_t)ahead * es, *e = b + (size_t)n * es;
    for (; b < e; b += 64)
        __builtin_prefetch(b, 0, 3); /* T0: T1, T2 and NTA measured no better */
}

/* Kt[sb][d][c] = K[j0 + sb * TQ + c][d] for the tile's cols keys, 0 past
 * them. The next tile's first pf keys are prefetched a key per key packed:
 * spread like this, a tile ahead, software prefetches took a one-core
 * K-then-V stream from 18 to 31-37 GB/s here (the hardware prefetchers
 * alone do not keep up with two streams and compute between the loads). */
static void rows_pack_keys(const fattn_problem *p, const rows_ws *rw,
                           const fattn_kv_view *keys, int64_t j0, int cols,
                           int pf)
{
    const int64_t dim = p->head_dim;
    const int blocks = (cols + TQ - 1) / TQ;
    for (int sb = 0; sb < blocks; sb++) {
        float *kt = rw->kt + sb * TQ * dim;
        for (int c0 = 0; c0 < TQ; c0 += VW) {
            const int base = sb * TQ + c0;
            int nc = cols - base;
            nc = nc < 0 ? 0 : nc > VW ? VW : nc;
            if (nc == 0) {
                for (int64_t d = 0; d < dim; d++)
                    vf_store(kt + d * TQ + c0, vf_zero());
                continue;
            }
            const void *k0 = fattn_kv_row(keys, j0 + base);
            for (int64_t d0 = 0; d0 < dim; d0 += VW) {
                int nd = dim - d0 < VW ? (int)(dim - d0) : VW;
                vf blk[VW];
                for (int c = 0; c < VW; c++) {
                    if (c >= nc) {
                        blk[c] = vf_zero();
                        continue;
                    }
                    blk[c] = vf_load_dt_upto(k0, c * keys->row + d0, keys->dtype, nd);
                }
                vf_transpose(blk);
                for (int d = 0; d < nd; d++)
                    vf_store(kt + (d0 + d) * TQ + c0, blk[d]);
            }
            for (int c = base; c < base + nc && c < pf; c++)
                prefetch_row(fattn_kv_row(keys, j0 + c), rw->pf_k, dim,
                             fattn_dtype_size(keys->dtype));
        }
    }
}

/* Vt[c] = V[j0 + c], zero past Dv, row after row: the P.V passes below
 * take a few vectors of every row at a time, and reading V in place that
 * way (3 lines of each 512-byte row, then the next 3) streamed at 17 GB/s
 * where whole rows in order reach 30-35 here; the copy also gives the
 * passes a dense tile (a 512-byte row stride puts the tile's lines in few
 * L1 sets). The next tile's first pf rows are prefetched on the way. */
static void rows_copy_values(const fattn_problem *p, const rows_ws *rw,
                             const fattn_kv_view *vals, int64_t j0, int cols,
                             int pf)
{
    const int64_t dv = p->head_dim_v, full = dv / VW * VW;
    const int dt = vals->dtype;
    const size_t es = fattn_dtype_size(dt);
    const void *v0 = fattn_kv_row(vals, j0);
    for (int c = 0; c < cols; c++) {
        const int64_t row = c * vals->row;
        float *dst = rw->vt + c * rw->dvq;
        int64_t e = 0;
        for (; e < full; e += VW)
            vf_store(dst + e, vf_load_dt(v0, row + e, dt));
        if (e < dv)
            vf_store(dst + e, vf_load_dt_n(v0, row + e, dt, (int)(dv - e)));
        if (c < pf)
            prefetch_row(v0, row + rw->pf_v, dv, es);
    }
}

/* S[r][0 .. TQ) = sum_d q[r][d] Kt[d][0 .. TQ) for R rows (R constant per
 * instantiation: the lanes path's microkernel computes all UK_MR rows
 * whatever mvalid, twice the work for a group of 4). */
static inline __attribute__((always_inline)) void
rows_scores_r(const int R, int64_t dim, const float *q, int64_t dq,
              const float *kt, float *s)
{
    vf acc[UK_MR][UK_NV];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < UK_NV; n++)
            acc[r][n] = vf_zero();
    int64_t d = 0;
    do { /* dim >= 1; see uk_body on why do-while */
        vf kv[UK_NV];
        for (int n = 0; n < UK_NV; n++)
            kv[n] = vf_load(kt + d * TQ + n * VW);
        for (int r = 0; r < R; r++) {
            const vf qr = vf_set1(q[r * dq + d]);
            for (int n = 0; n < UK_NV; n++)
                acc[r][n] = vf_fmadd(qr, kv[n], acc[r][n]);
        }
    } while (++d < dim);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < UK_NV; n++)
            vf_store(s + r * TQ + n * VW, acc[r][n]);
}

/*
 * S for R <= ROWS_DOT_MAX rows from r0, one dot product per (row, key) on
 * K in place, row after row: for few rows, transposing the tile (32
 * shuffles per key at D = 128) cost more than the horizontal sums it saves,
 * and its reads, 16 rows at a time a line of each, streamed from DRAM at
 * about half the speed (one-thread decode, 8 rows per KV head: 12.5 -> 20
 * GB/s). The next tile's
 * first pf key rows are prefetched a row per row read.
 */
#define ROWS_DOT_MAX 8
/* Rows per KV head up to which the scores are dot products (in passes of
 * ROWS_DOT_MAX rows, K re-read from L1): measured on AVX-512, one thread,
 * Sk=16384, 16 rows 95 GFLOP/s this way against 79 with the transposed
 * tile, 32 rows about the same either way. */
#define ROWS_DOT_LIMIT 16



/* Keys per block of the dot products: R rows x KB keys of accumulators
 * (at most 16), so each Q vector loaded serves KB keys and each K vector
 * R rows, and one reduction tree (vf_reduce_add4) sums four of them. Row
 * after row with a key at a time, the Q loads and the horizontal sums cost
 * more than the FMAs once a bf16 cache halved the bytes. */
#define ROWS_KB(R) ((R) == 1 ? 8 : (R) <= 4 ? 4 : 2)

static inline __attribute__((always_inline)) void
rows_dots_block(const int R, const int KB, const int KD, const fattn_problem *p,
                const rows_ws *rw, int r0, const void *k0, int64_t krow,
                const fattn_kv_view *vals, int c, int pf)
{
    const int64_t dim = p->head_dim, full = dim / VW * VW;
    const float *q = rw->q + r0 * rw->dq;
    vf acc[ROWS_DOT_MAX * 2];
    for (int a = 0; a < R * KB; a++)
        acc[a] = vf_zero();
    int64_t e = 0;
    for (; e < full; e += VW) {
        vf kv[8];
        for (int kb = 0; kb < KB; kb++)
            kv[kb] = vf_load_dt(k0, (c + kb) * krow + e, KD);
        for (int r = 0; r < R; r++) {
            const vf qv = vf_load(q + r * rw->dq + e);
            for (int kb = 0; kb < KB; kb++)
                acc[r * KB + kb] = vf_fmadd(qv, kv[kb], acc[r * KB + kb]);
        }
    }
    if (e < dim) { /* q is zero-padded to dq */
        vf kv[8];
        for (int kb = 0; kb < KB; kb++)
            kv[kb] = vf_load_dt_n(k0, (c + kb) * krow + e, KD, (int)(dim - e));
        for (int r = 0; r < R; r++) {
            const vf qv = vf_load(q + r * rw->dq + e);
            for (int kb = 0; kb < KB; kb++)
                acc[r * KB + kb] = vf_fmadd(qv, kv[kb], acc[r * KB + kb]);
        }
    }
    /* c is a multiple of KB, which divides TQ: the block's keys are
     * consecutive in each row's scores. */
    float *srow = rows_score(rw, r0, c);
    if (KB % 4 == 0) {
        for (int r = 0; r < R; r++)
            for (int kb = 0; kb < KB; kb += 4)
                vf_reduce_add4(acc[r * KB + kb], acc[r * KB + kb + 1],
                               acc[r * KB + kb + 2], acc[r * KB + kb + 3],
                               srow + r * TQ + kb);
    } else {
        float sums[ROWS_DOT_MAX * 2 + 4];
        int a = 0;
        for (; a + 4 <= R * KB; a += 4)
            vf_reduce_add4(acc[a], acc[a + 1], acc[a + 2], acc[a + 3], sums + a);
        for (; a < R * KB; a++)
            sums[a] = vf_reduce_add(acc[a]);
        for (int r = 0; r < R; r++)
            for (int kb = 0; kb < KB; kb++)
                srow[r * TQ + kb] = sums[r * KB + kb];
    }
    const size_t es = fattn_dtype_size(KD);
    for (int kb = 0; kb < KB; kb++)
        if (c + kb < pf) {
            prefetch_row(k0, (c + kb) * krow + rw->pf_k, dim, es);
            if (vals) /* the P.V pass has no loop to spare for it */
                prefetch_row(vals->base, (c + kb) * vals->row + rw->pf_v,
                             p->head_dim_v, fattn_dtype_size(vals->dtype));
        }
}

/* vals: also prefetch the value rows (pf_v on), else NULL. */
static inline __attribute__((always_inline)) void
rows_dots_r(const int R, const int KD, const fattn_problem *p,
            const rows_ws *rw, int r0, const fattn_kv_view *keys,
            const fattn_kv_view *vals, int64_t j0, int cols, int pf)
{
    const void *k0 = fattn_kv_row(keys, j0);
    fattn_kv_view v = vals ? *vals : *keys;
    v.base = vals ? fattn_kv_row(vals, j0) : NULL;
    const fattn_kv_view *vp = vals ? &v : NULL;
    const int KB = ROWS_KB(R);
    int c = 0;
    for (; c + KB <= cols; c += KB)
        rows_dots_block(R, KB, KD, p, rw, r0, k0, keys->row, vp, c, pf);
    for (; c < cols; c++)
        rows_dots_block(R, 1, KD, p, rw, r0, k0, keys->row, vp, c, pf);
}

/* One instantiation per row count and K dtype. */
#define ROWS_DT_SWITCH(dt, CASE)                                               \
    switch (dt) {                                                              \
    case FATTN_DTYPE_BF16: CASE(FATTN_DTYPE_BF16); break;                      \
    case FATTN_DTYPE_F16: CASE(FATTN_DTYPE_F16); break;                        \
    default: CASE(FATTN_DTYPE_F32); break;                                     \
    }

static void rows_dots(const fattn_problem *p, const rows_ws *rw, int r0, int n,
                      const fattn_kv_view *keys, const fattn_kv_view *vals,
                      int64_t j0, int cols, int pf)
{
#define ROWS_DOTS_CASE(R) rows_dots_r(R, KD_, p, rw, r0, keys, vals, j0, cols, pf)
#define ROWS_DOTS_DT(KD) { enum { KD_ = KD }; ROWS_SWITCH(n, ROWS_DOT_MAX, ROWS_DOTS_CASE) }
    ROWS_DT_SWITCH(keys->dtype, ROWS_DOTS_DT)
#undef ROWS_DOTS_DT
#undef ROWS_DOTS_CASE
}

/* S for rows [r0, r0 + n) against the tile (n <= UK_MR). */
static void rows_scores(const fattn_problem *p, const rows_ws *rw, int r0,
                        int n, int cols)
{
    const int blocks = (cols + TQ - 1) / TQ;
    for (int sb = 0; sb < blocks; sb++) {
        const float *a = rw->q + r0 * rw->dq;
        const float *b = rw->kt + sb * TQ * p->head_dim;
        float *c = rw->s + sb * (ROWS_MAX * TQ) + r0 * TQ;
        if (n == UK_MR) {
            uk_scores(p->head_dim, a, rw->dq, b, c);
            continue;
        }
#define ROWS_SCORES_CASE(R) rows_scores_r(R, p->head_dim, a, rw->dq, b, c)
        ROWS_SWITCH(n, UK_MR, ROWS_SCORES_CASE)
#undef ROWS_SCORES_CASE
    }
}

/* The accumulators acc[r][n] of rows r0 + r, output vectors e0 / VW + n:
 * loaded from o with the tile's rescale (corr), and stored back. */
#define ROWS_ACC_LOAD(R, NV, e0)                                               \
    for (int r = 0; r < (R); r++) {                                            \
        const vf cr_ = vf_set1(rw->rows[r0 + r].corr);                         \
        const float *o_ = rw->o + (r0 + r) * rw->dvq + (e0);                   \
        for (int n = 0; n < (NV); n++)                                         \
            acc[r][n] = vf_mul(vf_load(o_ + n * VW), cr_);                     \
    }
#define ROWS_ACC_STORE(R, NV, e0)                                              \
    for (int r = 0; r < (R); r++)                                              \
        for (int n = 0; n < (NV); n++)                                         \
            vf_store(rw->o + (r0 + r) * rw->dvq + (e0) + n * VW, acc[r][n])

/* o[r][e0 .. e0 + NV * VW) = o[r][...] * corr[r] + P[r] Vt[:, ...] for R
 * rows from r0 (R and NV constant per instantiation, so the accumulators
 * stay in registers; o and Vt are zero-padded to whole vectors). */
static inline __attribute__((always_inline)) void
rows_pv_block(const int R, const int NV, const rows_ws *rw, int r0, int cols,
              int64_t e0)
{
    vf acc[UK_MR][ROWS_NB];
    ROWS_ACC_LOAD(R, NV, e0);
    for (int c0 = 0; c0 < cols; c0 += TQ) {
        const float *pc = rw->s + (c0 / TQ) * (ROWS_MAX * TQ) + r0 * TQ;
        const float *vr = rw->vt + c0 * rw->dvq + e0;
        const int n_c = cols - c0 < TQ ? cols - c0 : TQ;
        for (int c = 0; c < n_c; c++, vr += rw->dvq) {
            vf vv[ROWS_NB];
            for (int n = 0; n < NV; n++)
                vv[n] = vf_load(vr + n * VW);
            for (int r = 0; r < R; r++) {
                const vf pr = vf_set1(pc[r * TQ + c]);
                for (int n = 0; n < NV; n++)
                    acc[r][n] = vf_fmadd(pr, vv[n], acc[r][n]);
            }
        }
    }
    ROWS_ACC_STORE(R, NV, e0);
}

/* Output vectors from e0 on: blocks of ROWS_NB vectors, then the rest. */
static inline __attribute__((always_inline)) void
rows_pv_from(const int R, const rows_ws *rw, int r0, int cols, int64_t e0)
{
    for (; e0 + ROWS_NB * VW <= rw->dvq; e0 += ROWS_NB * VW)
        rows_pv_block(R, ROWS_NB, rw, r0, cols, e0);
    switch ((rw->dvq - e0) / VW) {
    case 0: break;
    case 1: rows_pv_block(R, 1, rw, r0, cols, e0); break;
#if ROWS_NB > 2
    case 2: rows_pv_block(R, 2, rw, r0, cols, e0); break;
#endif
    default: __builtin_unreachable();
    }
}

/* n <= UK_MR rows from r0, every vector from Vt. */
static void rows_pv(const rows_ws *rw, int r0, int n, int cols)
{
#define ROWS_PV_CASE(R) rows_pv_from(R, rw, r0, cols, 0)
    ROWS_SWITCH(n, UK_MR, ROWS_PV_CASE)
#undef ROWS_PV_CASE
}

/*
 * A single row chunk (R <= UK_MR): its first block of output vectors reads
 * V in place, each row whole and in order, and copies the rest of the row
 * to Vt for the later blocks; a separate copy pass stored every vector and
 * cost a one-thread decode a quarter of its time.
 */
static inline __attribute__((always_inline)) void
rows_pv_first(const int R, const int NV, const int VD, const fattn_problem *p,
              const rows_ws *rw, int r0, const fattn_kv_view *vals,
              int64_t j0, int cols)
{
    const int64_t dv = p->head_dim_v;
    const int nvec = (int)(rw->dvq / VW), tail = (int)(dv % VW);
    vf acc[UK_MR][8];
    ROWS_ACC_LOAD(R, NV, 0);
    const void *v0 = fattn_kv_row(vals, j0);
    for (int c = 0; c < cols; c++) {
        const int64_t row = c * vals->row;
        vf vv[8];
        for (int n = 0; n < NV; n++)
            vv[n] = n == nvec - 1 && tail ? vf_load_dt_n(v0, row + n * VW, VD, tail)
                                          : vf_load_dt(v0, row + n * VW, VD);
        float *dst = rw->vt + c * rw->dvq;
        for (int n = NV; n < nvec; n++)
            vf_store(dst + n * VW, n == nvec - 1 && tail
                                       ? vf_load_dt_n(v0, row + n * VW, VD, tail)
                                       : vf_load_dt(v0, row + n * VW, VD));
        const float *pc = rows_score(rw, r0, c);
        for (int r = 0; r < R; r++) {
            const vf pr = vf_set1(pc[r * TQ]);
            for (int n = 0; n < NV; n++)
                acc[r][n] = vf_fmadd(pr, vv[n], acc[r][n]);
        }
    }
    ROWS_ACC_STORE(R, NV, 0);
}

/*
 * The same for Dv a multiple of VW, NVEC vectors: NV of them accumulate in
 * registers, the next NC (= NVEC - NV) are copied to Vt, all counts
 * constant. No loop or branch of a runtime count inside the key loop (the
 * generic form above has the tail and copy loops there, and its 24
 * accumulators went through the stack on every key: half the decode time
 * once a bf16 cache made it compute-bound); V's prefetch is in the dot
 * products for that reason.
 */
static inline __attribute__((always_inline)) void
rows_pv_first_full(const int R, const int NV, const int NC, const int VD,
                   const rows_ws *rw, int r0, const fattn_kv_view *vals,
                   int64_t j0, int cols)
{
    vf acc[UK_MR][8];
    ROWS_ACC_LOAD(R, NV, 0);
    const void *v0 = fattn_kv_row(vals, j0);
    const int64_t vrow = vals->row;
    for (int c0 = 0; c0 < cols; c0 += TQ) {
        const float *pc = rw->s + (c0 / TQ) * (ROWS_MAX * TQ) + r0 * TQ;
        const int n_c = cols - c0 < TQ ? cols - c0 : TQ;
        for (int c = 0; c < n_c; c++) {
            const int64_t row = (c0 + c) * vrow;
            float *dst = rw->vt + (c0 + c) * rw->dvq + NV * VW;
            for (int n = 0; n < NC; n++)
                vf_store(dst + n * VW, vf_load_dt(v0, row + (NV + n) * VW, VD));
            vf vv[8];
            for (int n = 0; n < NV; n++)
                vv[n] = vf_load_dt(v0, row + n * VW, VD);
            for (int r = 0; r < R; r++) {
                const vf pr = vf_set1(pc[r * TQ + c]);
                for (int n = 0; n < NV; n++)
                    acc[r][n] = vf_fmadd(pr, vv[n], acc[r][n]);
            }
        }
    }
    ROWS_ACC_STORE(R, NV, 0);
}

/* Vectors per row the first pass holds, of NVEC: R * NV accumulators. */
#if ROWS_WIDE
#define ROWS_FIRST_NV(R, NVEC) ((R) <= 3 ? 8 : (R) == 4 ? 6 : (R) <= 6 ? 4 : 3)
#else /* 16 registers */
#define ROWS_FIRST_NV(R, NVEC) ((R) <= 2 ? 4 : ROWS_NB)
#endif
#define ROWS_MIN(a, b) ((a) < (b) ? (a) : (b))

static inline __attribute__((always_inline)) void
rows_pv_small_r(const int R, const int VD, const fattn_problem *p,
                const rows_ws *rw, int r0, const fattn_kv_view *vals,
                int64_t j0, int cols)
{
    const int64_t nvec = rw->dvq / VW;
    if (p->head_dim_v % VW == 0 && (nvec == 4 || nvec == 8 || nvec == 16)) {
#define ROWS_FULL(NVEC)                                                        \
    do {                                                                       \
        const int NV_ = ROWS_MIN(NVEC, ROWS_FIRST_NV(R, NVEC));                \
        rows_pv_first_full(R, NV_, NVEC - NV_, VD, rw, r0, vals, j0, cols);    \
        if (NV_ < NVEC)                                                        \
            rows_pv_from(R, rw, r0, cols, NV_ * VW);                           \
    } while (0)
        if (nvec == 4)
            ROWS_FULL(4);
        else if (nvec == 8)
            ROWS_FULL(8);
        else
            ROWS_FULL(16);
#undef ROWS_FULL
        return;
    }
    switch (nvec < ROWS_NB ? nvec : ROWS_NB) {
    case 1: rows_pv_first(R, 1, VD, p, rw, r0, vals, j0, cols); break;
#if ROWS_NB > 2
    case 2: rows_pv_first(R, 2, VD, p, rw, r0, vals, j0, cols); break;
#endif
    default: rows_pv_first(R, ROWS_NB, VD, p, rw, r0, vals, j0, cols); break;
    }
    if (nvec > ROWS_NB)
        rows_pv_from(R, rw, r0, cols, ROWS_NB * VW);
}

static void rows_pv_small(const fattn_problem *p, const rows_ws *rw, int r0,
                          int n, const fattn_kv_view *vals, int64_t j0,
                          int cols)
{
#define ROWS_PV_CASE(R) rows_pv_small_r(R, VD_, p, rw, r0, vals, j0, cols)
#define ROWS_PV_DT(VD) { enum { VD_ = VD }; ROWS_SWITCH(n, UK_MR, ROWS_PV_CASE) }
    ROWS_DT_SWITCH(vals->dtype, ROWS_PV_DT)
#undef ROWS_PV_DT
#undef ROWS_PV_CASE
}

static float rows_max_nan(float a, float b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

/* Visibility, bias and the online softmax of rows [r0, r1) over one key
 * tile. */
static void rows_softmax(const fattn_problem *p, const rows_ws *rw, int r0,
                         int r1, int64_t j0, int cols)
{
    const int has_bias = p->mask_kind != FATTN_MASK_NONE;
    const int blocks = (cols + TQ - 1) / TQ;
    for (int r = r0; r < r1; r++) {
        row_info *ri = &rw->rows[r];
        const int partial = j0 < ri->lo || j0 + cols > ri->hi;
        if (partial || has_bias || ri->slope != 0.0f)
            for (int c = 0; c < cols; c++) {
                int64_t j = j0 + c;
                float *s = rows_score(rw, r, c);
                if (j < ri->lo || j >= ri->hi)
                    *s = -INFINITY;
                else
                    *s = bias_score(p, ri->mrow, ri->slope, ri->pos, j, *s);
            }
        for (int c = cols; c < blocks * TQ; c++)
            *rows_score(rw, r, c) = -INFINITY;
        float lanes[VW], tile_max = -INFINITY;
        vf mt = vf_set1(-INFINITY);
        for (int sb = 0; sb < blocks; sb++)
            for (int c = 0; c < TQ; c += VW)
                mt = vf_max(mt, vf_load(rows_score(rw, r, sb * TQ + c)));
        vf_store(lanes, mt);
        for (int x = 0; x < VW; x++)
            tile_max = rows_max_nan(tile_max, lanes[x]);
        /* As in the lanes path: a row that has seen nothing keeps m = -inf
         * and subtracts 0, so its p are exp(-inf) = 0, never NaN. */
        float m_new = rows_max_nan(ri->m, tile_max);
        float m_sub = m_new == -INFINITY ? 0.0f : m_new;
        /* s - m as twice vf_half_sub's half: the same bits, never an
         * overflow for finite scores near +-FLT_MAX (vec_math.h). */
        vf nhm = vf_set1(-0.5f * m_sub), sum = vf_zero();
        for (int sb = 0; sb < blocks; sb++)
            for (int c = 0; c < TQ; c += VW) {
                float *s = rows_score(rw, r, sb * TQ + c);
                vf h = vf_half_sub(vf_load(s), nhm);
                vf e = vf_exp(vf_add(h, h));
                vf_store(s, e);
                sum = vf_add(sum, e);
            }
        /* m - m_sub can overflow the same way: halved too, clamped where
         * expf is 0 (from -103.98 on; NaN compares false). */
        float hm = 0.5f * ri->m - 0.5f * m_sub;
        ri->corr = expf(2.0f * (hm < -64.0f ? -64.0f : hm));
        ri->l = ri->l * ri->corr + vf_reduce_add(sum);
        ri->m = m_new;
    }
}

static void rows_write(const fattn_problem *p, const rows_ws *rw, int R,
                       int64_t b)
{
    const int64_t *os = p->o_stride;
    for (int r = 0; r < R; r++) {
        const row_info *ri = &rw->rows[r];
        void *orow = fattn_o_row(p, b, ri->h, ri->i);
        const int od = p->o_dtype;
        float l = ri->active ? ri->l : 0.0f; /* 0: fully masked or padding */
        float inv = fattn_inv_or_zero(l);
        const float *src = rw->o + r * rw->dvq;
        if (os[3] == 1) {
            const vf vinv = vf_set1(inv);
            int64_t e = 0;
            for (; e < p->head_dim_v; e += VW) {
                const int n = p->head_dim_v - e < VW ? (int)(p->head_dim_v - e) : VW;
                vf_store_dt_upto(orow, e, od,
                                 l != 0.0f ? vf_mul(vf_load(src + e), vinv) : vf_zero(),
                                 n);
            }
        } else {
            for (int64_t e = 0; e < p->head_dim_v; e++)
                fattn_store_elem(orow, e * os[3], od, l != 0.0f ? src[e] * inv : 0.0f);
        }
        fattn_store_lse(p, b, ri->h, ri->i, ri->m, l);
    }
}

/* The rows of the item: state, visible ranges, packed Q; [*lo, *hi) gets
 * the union of the ranges. */
static void rows_begin(const fattn_problem *p, const rows_ws *rw, int R,
                       int64_t b, int64_t kj0, int64_t kj1, int64_t *lo,
                       int64_t *hi)
{
    const int64_t qlen = fattn_q_len(p, b), klen = fattn_kv_len(p, b);
    const size_t mask_elem = fattn_mask_elem(p);
    const int align_br = p->align == FATTN_ALIGN_BOTTOM_RIGHT;
    const float qscale = q_pack_scale(p); /* the soft-cap may take the scale */
    *lo = INT64_MAX;
    *hi = 0;
    memset(rw->q, 0, sizeof(float) * (size_t)(R * rw->dq));
    memset(rw->o, 0, sizeof(float) * (size_t)(R * rw->dvq));
    for (int r = 0; r < R; r++) {
        row_info *ri = &rw->rows[r];
        ri->active = ri->i < qlen;
        ri->lo = ri->hi = 0;
        ri->m = -INFINITY;
        ri->l = 0.0f;
        ri->corr = 0.0f;
        ri->mrow = p->mask ? (const unsigned char *)p->mask +
                                 (size_t)(b * p->mask_stride[0] +
                                          ri->h * p->mask_stride[1] +
                                          ri->i * p->mask_stride[2]) *
                                     mask_elem
                           : NULL;
        ri->slope = p->alibi_slopes ? p->alibi_slopes[ri->h] : 0.0f;
        ri->pos = 0.0;
        if (!ri->active)
            continue; /* the padding's Q is never read */
        ri->pos = (double)fattn_query_pos(align_br, qlen, klen, ri->i);
        fattn_visible_range(p, qlen, klen, ri->i, &ri->lo, &ri->hi);
        ri->lo = ri->lo > kj0 ? ri->lo : kj0;
        ri->hi = ri->hi < kj1 ? ri->hi : kj1;
        ri->hi = ri->hi > ri->lo ? ri->hi : ri->lo;
        if (ri->lo < ri->hi) {
            *lo = ri->lo < *lo ? ri->lo : *lo;
            *hi = ri->hi > *hi ? ri->hi : *hi;
        }
        const void *qr = fattn_q_row(p, b, ri->h, ri->i);
        const int qd = p->q_dtype;
        const vf vs = vf_set1(qscale);
        float *dst = rw->q + r * rw->dq;
        int64_t d = 0;
        if (p->q_stride[3] == 1) {
            for (; d < p->head_dim; d += VW) {
                const int n = p->head_dim - d < VW ? (int)(p->head_dim - d) : VW;
                vf_store(dst + d, vf_mul(vs, vf_load_dt_upto(qr, d, qd, n)));
            }
        } else {
            for (; d < p->head_dim; d++)
                dst[d] = qscale * fattn_load_elem(qr, d * p->q_stride[3], qd);
        }
    }
}

/* One key tile for the rows [r0, r1) of rw->rows, all of KV head g. */
static void rows_tile(const fattn_problem *p, const rows_ws *rw, int r0,
                      int r1, int64_t b, int64_t g, int64_t j0, int cols,
                      int pf)
{
    const fattn_kv_view kv = fattn_kv_view_of(p, FATTN_KV_KEY, b, g);
    const fattn_kv_view vv = fattn_kv_view_of(p, FATTN_KV_VALUE, b, g);
    PHASE_START();
    if (r1 - r0 <= ROWS_DOT_LIMIT) {
        for (int r = r0; r < r1; r += ROWS_DOT_MAX)
            rows_dots(p, rw, r, r1 - r < ROWS_DOT_MAX ? r1 - r : ROWS_DOT_MAX,
                      &kv, r1 - r0 <= UK_MR ? &vv : NULL, j0, cols,
                      r == r0 ? pf : 0);
    } else {
        rows_pack_keys(p, rw, &kv, j0, cols, pf);
        PHASE_END(FATTN_PHASE_EDGES);
        for (int r = r0; r < r1; r += UK_MR)
            rows_scores(p, rw, r, r1 - r < UK_MR ? r1 - r : UK_MR, cols);
    }
    PHASE_END(FATTN_PHASE_SCORES);
    if (p->softcap > 0.0f) {
        const float inv_s = softcap_inv(p);
        const vf cap = vf_set1(p->softcap), inv = vf_set1(inv_s);
        const vf amax = vf_set1(vf_softcap_arg_max(inv_s));
        const int blocks = (cols + TQ - 1) / TQ;
        for (int r = r0; r < r1; r++)
            for (int c = 0; c < blocks * TQ; c += VW) {
                float *s = rows_score(rw, r, c);
                vf_store(s, vf_softcap(vf_load(s), cap, inv, amax));
            }
    }
    rows_softmax(p, rw, r0, r1, j0, cols);
    PHASE_END(FATTN_PHASE_SOFTMAX);
    if (r1 - r0 <= UK_MR) {
        rows_pv_small(p, rw, r0, r1 - r0, &vv, j0, cols);
    } else {
        rows_copy_values(p, rw, &vv, j0, cols, pf);
        for (int r = r0; r < r1; r += UK_MR)
            rows_pv(rw, r, r1 - r < UK_MR ? r1 - r : UK_MR, cols);
    }
    PHASE_END(FATTN_PHASE_VALUES);
}

/* The rows rw->rows[0..R) of batch b, ordered by KV head, over the keys
 * [kj0, kj1) of the work item: each key tile for every head's rows in
 * turn (with heads interleaved in memory, a BSHD cache, the heads' rows of
 * a key are neighbours, so the tile is read in order). */
static void rows_block(const fattn_problem *p, rows_ws *rw, int R, int64_t b,
                       int64_t kj0, int64_t kj1)
{
    int64_t tile_lo, tile_hi;
    rows_begin(p, rw, R, b, kj0, kj1, &tile_lo, &tile_hi);
    const int64_t g_first = rw->rows[0].g;
    for (int64_t j0 = tile_lo; j0 < tile_hi; j0 += ROWS_TK) {
        int cols = tile_hi - j0 < ROWS_TK ? (int)(tile_hi - j0) : ROWS_TK;
        /* Keys of the next tile to prefetch (none past the last). */
        const int64_t ahead = tile_hi - (j0 + ROWS_TK);
        const int pf_next = ahead <= 0 ? 0 : ahead < cols ? (int)ahead : cols;
        for (int r0 = 0, r1; r0 < R; r0 = r1) {
            const int64_t g = rw->rows[r0].g;
            for (r1 = r0 + 1; r1 < R && rw->rows[r1].g == g; r1++)
                ;
            /* Next: the same keys of the next head, with BSHD in the same
             * pages (a tile ahead is a page per key there, further than
             * the prefetches reach); after the last head, the next tile. */
            int pf = cols;
            if (r1 < R) {
                const int64_t dg = rw->rows[r1].g - g;
                rw->pf_k = dg * p->k_stride[1];
                rw->pf_v = dg * p->v_stride[1];
            } else {
                pf = pf_next;
                rw->pf_k = ROWS_TK * p->k_stride[2] - (g - g_first) * p->k_stride[1];
                rw->pf_v = ROWS_TK * p->v_stride[2] - (g - g_first) * p->v_stride[1];
            }
            rows_tile(p, rw, r0, r1, b, g, j0, cols, pf);
        }
    }
    rows_write(p, rw, R, b);
}

/* One work item: rows m in [i0, i1) of batch it->b from KV head it->h
 * on, row m being head it->h + m / M's row m % M (M = group * Sq rows per
 * KV head; plan.c), which is position (m % M) / group of its query head
 * number (m % M) % group (the planner keeps i1 - i0 <= ROWS_MAX and checked
 * unit strides along head_dim). */
static void rows_run_item(const fattn_problem *p, const fattn_item *it,
                          void *workspace)
{
    rows_ws rw = rows_carve(p, workspace);
    const int64_t group = p->heads_q / p->heads_kv, M = group * p->seq_q;
    int R = 0;
    for (int64_t m = it->i0; m < it->i1; m++, R++) {
        const int64_t g = it->h + m / M, r = m % M;
        rw.rows[R].g = g;
        rw.rows[R].h = g * group + r % group;
        rw.rows[R].i = r / group;
    }
    if (R > 0)
        rows_block(p, &rw, R, it->b, it->j0, it->j1);
}
