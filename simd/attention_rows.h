/*
 * attention_rows.h - the SIMD path for few query rows (decode), included by
 * attention_tiled.h.
 *
 * With queries in lanes, one decoding token fills 1 lane of VW. Here instead
 * head_dim is in the lanes: the up to ROWS_MAX query rows that share a KV
 * head (the GQA group's heads x Sq) are processed together, so each K and V
 * row is read once from memory for all of them, as decode is bound by
 * reading K and V. Per key tile of ROWS_TK keys:
 *   s[r][c] = dot(q[r], K[c])     D-wide FMAs, one horizontal sum per score
 *   visibility, masks and ALiBi per score; online softmax per row (vector
 *   exp over the row's scores)
 *   o[r][:] = o[r][:] * corr[r] + sum_c p[r][c] V[c][:]   (rows x ROWS_NB
 *   vectors of accumulators, V loaded once per key for all rows)
 * Needs unit stride along head_dim in K and V (vector loads); the caller
 * falls back to the lanes path otherwise. Tails of D and Dv use masked loads
 * that never touch memory past the row.
 */

#define ROWS_MAX 8
#define ROWS_TK 64

typedef struct rows_ws {
    float *q;  /* [ROWS_MAX][dq] q_pack_scale * Q, zero-padded to dq */
    float *o;  /* [ROWS_MAX][dvq] unnormalised output */
    float *s;  /* [ROWS_MAX][ROWS_TK] scores, then probabilities */
    int64_t dq, dvq;
} rows_ws;

/* One query row of the block. */
typedef struct row_info {
    int64_t h, i;
    int active;                /* i < q_lengths[b] */
    int64_t lo, hi;            /* visible keys */
    const unsigned char *mrow; /* mask at (b, h, i, 0) */
    float slope;
    double pos; /* pos(i) for ALiBi */
    float m, l, corr;
} row_info;

static int64_t round_vw(int64_t n) { return (n + VW - 1) / VW * VW; }

static size_t rows_workspace(const fattn_problem *p)
{
    return sizeof(float) * ROWS_MAX *
           (size_t)(round_vw(p->head_dim) + round_vw(p->head_dim_v) + ROWS_TK);
}

static rows_ws rows_carve(const fattn_problem *p, float *w)
{
    rows_ws rw;
    rw.dq = round_vw(p->head_dim);
    rw.dvq = round_vw(p->head_dim_v);
    rw.q = w;
    rw.o = rw.q + ROWS_MAX * rw.dq;
    rw.s = rw.o + ROWS_MAX * rw.dvq;
    return rw;
}

/* Scores of R rows against keys [j0, j0 + cols); R is a constant in each
 * instantiation so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
rows_scores_r(const int R, const fattn_problem *p, const rows_ws *rw,
              const fattn_kv_view *keys, const float *k, int cols)
{
    const int64_t d = p->head_dim, full = d / VW * VW;
    for (int c = 0; c < cols; c++) {
        const float *kr = k + c * keys->row;
        vf acc[ROWS_MAX];
        for (int r = 0; r < R; r++)
            acc[r] = vf_zero();
        int64_t e = 0;
        for (; e < full; e += VW) {
            vf kv = vf_load(kr + e);
            for (int r = 0; r < R; r++)
                acc[r] = vf_fmadd(vf_load(rw->q + r * rw->dq + e), kv, acc[r]);
        }
        if (e < d) {
            vf kv = vf_load_n(kr + e, (int)(d - e));
            for (int r = 0; r < R; r++)
                acc[r] = vf_fmadd(vf_load(rw->q + r * rw->dq + e), kv, acc[r]);
        }
        for (int r = 0; r < R; r++)
            rw->s[r * ROWS_TK + c] = vf_reduce_add(acc[r]);
    }
}

#ifndef ROWS_NB
#define ROWS_NB 3 /* output vectors per row held in registers at once */
#endif

/* o[r] = o[r] * corr[r] + P[r] V for R rows (constant per instantiation). */
static inline __attribute__((always_inline)) void
rows_pv_r(const int R, const fattn_problem *p, const rows_ws *rw,
          const row_info *rows, const fattn_kv_view *vals, const float *v,
          int cols)
{
    const int64_t dv = p->head_dim_v;
    for (int64_t e0 = 0; e0 < dv; e0 += ROWS_NB * VW) {
        vf acc[ROWS_MAX][ROWS_NB];
        for (int r = 0; r < R; r++) {
            vf cr = vf_set1(rows[r].corr);
            for (int n = 0; n < ROWS_NB; n++)
                acc[r][n] = e0 + n * VW < dv
                                ? vf_mul(vf_load(rw->o + r * rw->dvq + e0 + n * VW), cr)
                                : vf_zero();
        }
        for (int c = 0; c < cols; c++) {
            const float *vr = v + c * vals->row + e0;
            vf vv[ROWS_NB];
            for (int n = 0; n < ROWS_NB; n++) {
                int64_t left = dv - e0 - n * VW;
                vv[n] = left >= VW ? vf_load(vr + n * VW)
                        : left > 0 ? vf_load_n(vr + n * VW, (int)left)
                                   : vf_zero();
            }
            for (int r = 0; r < R; r++) {
                vf pr = vf_set1(rw->s[r * ROWS_TK + c]);
                for (int n = 0; n < ROWS_NB; n++)
                    acc[r][n] = vf_fmadd(pr, vv[n], acc[r][n]);
            }
        }
        for (int r = 0; r < R; r++)
            for (int n = 0; n < ROWS_NB; n++)
                if (e0 + n * VW < dv)
                    vf_store(rw->o + r * rw->dvq + e0 + n * VW, acc[r][n]);
    }
}

/* The switch makes one register-allocated instantiation per row count. */
#define ROWS_DISPATCH(fn, R, ...)                                              \
    switch (R) {                                                               \
    case 1: fn(1, __VA_ARGS__); break;                                         \
    case 2: fn(2, __VA_ARGS__); break;                                         \
    case 3: fn(3, __VA_ARGS__); break;                                         \
    case 4: fn(4, __VA_ARGS__); break;                                         \
    case 5: fn(5, __VA_ARGS__); break;                                         \
    case 6: fn(6, __VA_ARGS__); break;                                         \
    case 7: fn(7, __VA_ARGS__); break;                                         \
    default: fn(ROWS_MAX, __VA_ARGS__); break;                                 \
    }

static float rows_max_nan(float a, float b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

/* Visibility, bias and the online softmax of each row over one key tile. */
static void rows_softmax(const fattn_problem *p, const rows_ws *rw,
                         row_info *rows, int R, int64_t j0, int cols)
{
    const int has_bias = p->mask_kind != FATTN_MASK_NONE;
    const int padded = (int)round_vw(cols);
    for (int r = 0; r < R; r++) {
        row_info *ri = &rows[r];
        float *s = rw->s + r * ROWS_TK;
        const int partial = j0 < ri->lo || j0 + cols > ri->hi;
        if (partial || has_bias || ri->slope != 0.0f)
            for (int c = 0; c < cols; c++) {
                int64_t j = j0 + c;
                if (j < ri->lo || j >= ri->hi)
                    s[c] = -INFINITY;
                else
                    s[c] = bias_score(p, ri->mrow, ri->slope, ri->pos, j, s[c]);
            }
        for (int c = cols; c < padded; c++)
            s[c] = -INFINITY;
        float lanes[VW], tile_max = -INFINITY;
        vf mt = vf_set1(-INFINITY);
        for (int c = 0; c < padded; c += VW)
            mt = vf_max(mt, vf_load(s + c));
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
        for (int c = 0; c < padded; c += VW) {
            vf h = vf_half_sub(vf_load(s + c), nhm);
            vf e = vf_exp(vf_add(h, h));
            vf_store(s + c, e);
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

static void rows_write(const fattn_problem *p, const rows_ws *rw,
                       const row_info *rows, int R, int64_t b)
{
    const int64_t *os = p->o_stride;
    for (int r = 0; r < R; r++) {
        const row_info *ri = &rows[r];
        float *orow = fattn_o_row(p, b, ri->h, ri->i);
        float l = ri->active ? ri->l : 0.0f; /* 0: fully masked or padding */
        float inv = l != 0.0f ? 1.0f / l : 0.0f;
        for (int64_t e = 0; e < p->head_dim_v; e++)
            orow[e * os[3]] = l != 0.0f ? rw->o[r * rw->dvq + e] * inv : 0.0f;
        if (p->lse)
            p->lse[b * p->lse_stride[0] + ri->h * p->lse_stride[1] +
                   ri->i * p->lse_stride[2]] =
                l != 0.0f ? ri->m + logf(l) : -INFINITY;
    }
}

/* Rows rows[0..R) of batch b, all attending to KV head g, over the keys
 * [kj0, kj1) of the work item. */
static void rows_block(const fattn_problem *p, const rows_ws *rw,
                       row_info *rows, int R, int64_t b, int64_t g,
                       int64_t kj0, int64_t kj1)
{
    const int64_t qlen = fattn_q_len(p, b), klen = fattn_kv_len(p, b);
    const size_t mask_elem = p->mask_kind == FATTN_MASK_KEEP ? 1 : 4;
    const int align_br = p->align == FATTN_ALIGN_BOTTOM_RIGHT;
    const float qscale = q_pack_scale(p); /* the soft-cap may take the scale */
    int64_t tile_lo = INT64_MAX, tile_hi = 0;
    memset(rw->q, 0, sizeof(float) * ROWS_MAX * (size_t)rw->dq);
    memset(rw->o, 0, sizeof(float) * ROWS_MAX * (size_t)rw->dvq);
    for (int r = 0; r < R; r++) {
        row_info *ri = &rows[r];
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
            tile_lo = ri->lo < tile_lo ? ri->lo : tile_lo;
            tile_hi = ri->hi > tile_hi ? ri->hi : tile_hi;
        }
        const float *qr = fattn_q_row(p, b, ri->h, ri->i);
        for (int64_t d = 0; d < p->head_dim; d++)
            rw->q[r * rw->dq + d] = qscale * qr[d * p->q_stride[3]];
    }
    const fattn_kv_view kv = fattn_kv_view_of(p, FATTN_KV_KEY, b, g);
    const fattn_kv_view vv = fattn_kv_view_of(p, FATTN_KV_VALUE, b, g);
    for (int64_t j0 = tile_lo; j0 < tile_hi; j0 += ROWS_TK) {
        int cols = tile_hi - j0 < ROWS_TK ? (int)(tile_hi - j0) : ROWS_TK;
        ROWS_DISPATCH(rows_scores_r, R, p, rw, &kv, fattn_kv_row(&kv, j0), cols)
        for (int r = 0; r < R; r++) /* the vector passes read whole vectors */
            for (int c = cols; c < round_vw(cols); c++)
                rw->s[r * ROWS_TK + c] = 0.0f;
        if (p->softcap > 0.0f) {
            const float inv_s = softcap_inv(p);
            const vf cap = vf_set1(p->softcap), inv = vf_set1(inv_s);
            const vf amax = vf_set1(vf_softcap_arg_max(inv_s));
            for (int r = 0; r < R; r++)
                for (int c = 0; c < cols; c += VW) {
                    float *s = rw->s + r * ROWS_TK + c;
                    vf_store(s, vf_softcap(vf_load(s), cap, inv, amax));
                }
        }
        rows_softmax(p, rw, rows, R, j0, cols);
        ROWS_DISPATCH(rows_pv_r, R, p, rw, rows, &vv, fattn_kv_row(&vv, j0), cols)
    }
    rows_write(p, rw, rows, R, b);
}

/* One work item: every query head of KV head it->h of batch it->b, rows
 * [i0, i1) of each (the planner checked group * rows <= ROWS_MAX and unit
 * stride along head_dim in K and V). */
static void rows_run_item(const fattn_problem *p, const fattn_item *it,
                          void *workspace)
{
    PHASE_START();
    const rows_ws rw = rows_carve(p, workspace);
    const int64_t group = p->heads_q / p->heads_kv, g = it->h;
    row_info rows[ROWS_MAX];
    int R = 0;
    for (int64_t hh = 0; hh < group; hh++)
        for (int64_t i = it->i0; i < it->i1; i++) {
            rows[R].h = g * group + hh;
            rows[R].i = i;
            R++;
        }
    if (R > 0)
        rows_block(p, &rw, rows, R, it->b, g, it->j0, it->j1);
    PHASE_END(FATTN_PHASE_ROWS);
}
