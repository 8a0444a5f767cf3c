/*
 * combine.c - one output row from partial results over disjoint key sets:
 * what split-K does after its chunks (plan.c) and what the public merge
 * does for its caller. Baseline x86-64, shared by every path, so a split
 * plan's result does not depend on the kernel path's vector math here.
 *
 * Part k holds o_k = softmax over its keys . V and lse_k = log of its sum of
 * exp(scores). With M = max_k lse_k and w_k = exp(lse_k - M), the full row
 * is sum_k w_k o_k / sum_k w_k and its LSE M + log(sum_k w_k). The sums run
 * in double, in the parts' order, which is fixed by the caller: the bits do
 * not depend on who combines or when.
 */
#include "internal.h"

#include <math.h>

void fattn_combine_row(int64_t parts, const float *const *o,
                       const int64_t *elem, const double *lse, int64_t dv,
                       double *acc, void *out, int out_dtype, int64_t out_elem,
                       float *lse_out)
{
    double m = -INFINITY;
    int bad = 0;
    for (int64_t k = 0; k < parts; k++) {
        /* NaN, or +inf, which no finite sum of exponentials produces. */
        if (isnan(lse[k]) || lse[k] == INFINITY)
            bad = 1;
        else if (lse[k] > m)
            m = lse[k];
    }
    if (bad || m == -INFINITY) {
        /* Every part fully masked: the row is too (0, -inf), as a kernel
         * writes it. A NaN LSE poisons the row, as a NaN score would. */
        const float fill = bad ? NAN : 0.0f;
        for (int64_t e = 0; e < dv; e++)
            fattn_store_elem(out, e * out_elem, out_dtype, fill);
        if (lse_out)
            *lse_out = bad ? NAN : -INFINITY;
        return;
    }
    for (int64_t e = 0; e < dv; e++)
        acc[e] = 0.0;
    double wsum = 0.0;
    for (int64_t k = 0; k < parts; k++) {
        if (lse[k] == -INFINITY)
            continue; /* a fully masked part contributes nothing: o unread */
        const double w = exp(lse[k] - m);
        const float *ok = o[k];
        wsum += w;
        for (int64_t e = 0; e < dv; e++)
            acc[e] += w * (double)ok[e * elem[k]];
    }
    for (int64_t e = 0; e < dv; e++)
        fattn_store_elem(out, e * out_elem, out_dtype, (float)(acc[e] / wsum));
    if (lse_out)
        *lse_out = (float)(m + log(wsum));
}
