/*
 * problem.c - what every kernel path derives from a validated problem the
 * same way: the visible key range of a row and where a head's data lives.
 * Compiled for baseline x86-64 and called from every path.
 */
#include "internal.h"

void fattn_visible_range(const fattn_problem *p, int64_t qlen, int64_t klen,
                         int64_t i, int64_t *lo_out, int64_t *hi_out)
{
    int64_t lo = 0, hi = klen;
    if (p->causal != FATTN_CAUSAL_NONE) {
        int64_t pos = fattn_query_pos(p->causal == FATTN_CAUSAL_BOTTOM_RIGHT,
                                      qlen, klen, i);
        if (pos + 1 < hi)
            hi = pos + 1;
    }
    if (p->window_enabled) {
        int64_t pos = fattn_query_pos(p->align == FATTN_ALIGN_BOTTOM_RIGHT,
                                      qlen, klen, i);
        /* Written so that no sum can overflow, whatever the window sizes. */
        if (p->window_left != FATTN_WINDOW_UNLIMITED && pos >= 0 &&
            pos - p->window_left > lo)
            lo = pos - p->window_left;
        if (p->window_right != FATTN_WINDOW_UNLIMITED &&
            (pos < 0 || p->window_right < klen - pos) &&
            pos + p->window_right + 1 < hi)
            hi = pos + p->window_right + 1;
    }
    if (hi < lo)
        hi = lo;
    *lo_out = lo;
    *hi_out = hi;
}

void fattn_head_init(const fattn_problem *p, const fattn_item *it, int64_t h,
                     fattn_head *hd)
{
    const int64_t b = it->b, g = h / (p->heads_q / p->heads_kv);
    const size_t mask_elem = fattn_mask_elem(p);
    hd->b = b;
    hd->h = h;
    hd->qlen = fattn_q_len(p, b);
    hd->klen = fattn_kv_len(p, b);
    hd->j0 = it->j0;
    hd->j1 = it->j1;
    hd->k = fattn_kv_view_of(p, FATTN_KV_KEY, b, g);
    hd->v = fattn_kv_view_of(p, FATTN_KV_VALUE, b, g);
    hd->mask = p->mask ? (const unsigned char *)p->mask +
                             (size_t)(b * p->mask_stride[0] +
                                      h * p->mask_stride[1]) *
                                 mask_elem
                       : NULL;
    hd->slope = p->alibi_slopes ? p->alibi_slopes[h] : 0.0f;
}

void fattn_row_ranges(const fattn_problem *p, const fattn_head *hd, int64_t i0,
                      int rows, int64_t *lo, int64_t *hi, fattn_span *span)
{
    span->lo = INT64_MAX;
    span->hi = 0;
    span->all_lo = 0;
    span->all_hi = INT64_MAX;
    for (int r = 0; r < rows; r++) {
        const int64_t i = i0 + r;
        lo[r] = hi[r] = 0;
        if (i >= hd->qlen)
            continue; /* past q_lengths: sees nothing, constrains nothing */
        fattn_visible_range(p, hd->qlen, hd->klen, i, &lo[r], &hi[r]);
        if (lo[r] < hd->j0)
            lo[r] = hd->j0;
        if (hi[r] > hd->j1)
            hi[r] = hd->j1;
        if (hi[r] < lo[r])
            hi[r] = lo[r];
        if (lo[r] > span->all_lo)
            span->all_lo = lo[r];
        if (hi[r] < span->all_hi)
            span->all_hi = hi[r];
        if (lo[r] < hi[r]) {
            if (lo[r] < span->lo)
                span->lo = lo[r];
            if (hi[r] > span->hi)
                span->hi = hi[r];
        }
    }
}
