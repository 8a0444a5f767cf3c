/*
 * fv_packed.c - fuzz_validate's fattn_tensor_from_packed views: each call's
 * own contract, then the view replaces the decoded tensor.
 */
#include "fv_case.h"

#include "fuzz_common.h"

#include <inttypes.h>
#include <string.h>

/* ---- fattn_tensor_from_packed ------------------------------------------- */

/* The codes its documented errors allow for these arguments (0 = valid). */
static uint32_t packed_oracle(const fv_packed *pk)
{
    uint32_t v = 0;
    if (pk->null_data)
        v |= 1u << FATTN_ERR_NULL_POINTER;
    if (pk->dtype < FATTN_DTYPE_F32 || pk->dtype > FATTN_DTYPE_BOOL)
        v |= 1u << FATTN_ERR_INVALID_ENUM;
    if (pk->batch < 0 || pk->seq < 0 || pk->embed_dim < 1 || pk->num_heads < 1)
        v |= 1u << FATTN_ERR_INVALID_DIMENSION;
    if (pk->embed_dim >= 1 && pk->num_heads >= 1 &&
        pk->embed_dim % pk->num_heads != 0)
        v |= 1u << FATTN_ERR_NOT_DIVISIBLE;
    if (pk->token_stride < 0 ||
        (pk->token_stride > 0 && pk->token_stride < pk->embed_dim))
        v |= 1u << FATTN_ERR_INVALID_STRIDE;
    const int64_t ts = pk->token_stride ? pk->token_stride : pk->embed_dim;
    const __int128 bs = (__int128)pk->seq * ts;
    if (pk->batch >= 0 && pk->seq >= 0 && ts >= 0 &&
        (bs > INT64_MAX || (__int128)pk->batch * bs > INT64_MAX))
        v |= 1u << FATTN_ERR_SIZE_OVERFLOW;
    return v;
}

void fv_packed_views(fv_case *c)
{
    static float dummy[16];
    for (int r = FV_Q; r <= FV_O; r++) {
        const fv_packed *pk = &c->packed[r];
        if (!pk->used)
            continue;
        fattn_tensor view, before;
        fattn_error err;
        memset(&view, 0xa5, sizeof view);
        before = view;
        fz_poison_error(&err);
        const fattn_status st = fattn_tensor_from_packed(
            &view, pk->null_data ? NULL : dummy, (fattn_dtype)pk->dtype,
            pk->batch, pk->seq, pk->embed_dim, pk->num_heads, pk->token_stride,
            &err);
        const uint32_t violated = packed_oracle(pk);
        if (fattn_tensor_from_packed(NULL, dummy, (fattn_dtype)pk->dtype, pk->batch,
                                     pk->seq, pk->embed_dim, pk->num_heads,
                                     pk->token_stride, NULL) != FATTN_ERR_NULL_POINTER)
            fz_finding("fuzz_validate", "fattn_tensor_from_packed(view = NULL) is not null_pointer");
        const char *why = fz_record_problem(&err, st, "fattn_tensor_from_packed");
        if (why)
            fz_finding("fuzz_validate", "fattn_tensor_from_packed: %s: '%.*s'",
                       why, (int)sizeof err.message, err.message);
        if ((int)st < 0 || (int)st >= FATTN_STATUS_COUNT ||
            (violated == 0) != (st == FATTN_OK) ||
            (st != FATTN_OK && !(violated & (1u << st))))
            fz_finding("fuzz_validate",
                       "fattn_tensor_from_packed(dtype %" PRId32 ", batch %" PRId64
                       ", seq %" PRId64 ", embed_dim %" PRId64 ", num_heads %" PRId64
                       ", token_stride %" PRId64 ") returned %s, rules allow: %s",
                       pk->dtype, pk->batch, pk->seq, pk->embed_dim,
                       pk->num_heads, pk->token_stride, fattn_status_name(st),
                       violated ? fv_codes_text(violated) : "ok");
        if (st != FATTN_OK) {
            if (memcmp(&view, &before, sizeof view) != 0)
                fz_finding("fuzz_validate",
                           "a failing fattn_tensor_from_packed wrote its view");
            continue;
        }
        const int64_t hd = pk->embed_dim / pk->num_heads;
        const int64_t ts = pk->token_stride ? pk->token_stride : pk->embed_dim;
        const int64_t want_shape[4] = {pk->batch, pk->num_heads, pk->seq, hd};
        const int64_t want_stride[4] = {pk->seq * ts, hd, ts, 1};
        if (view.data != dummy || view.dtype != pk->dtype ||
            memcmp(view.shape, want_shape, sizeof want_shape) != 0 ||
            memcmp(view.stride, want_stride, sizeof want_stride) != 0)
            fz_finding("fuzz_validate",
                       "fattn_tensor_from_packed: the view is not the documented "
                       "[batch, heads, seq, embed_dim / heads] BSHD view");
        c->t[r] = view;
    }
}
