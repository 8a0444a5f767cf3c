/*
 * tensor.c - helpers that build tensor descriptors.
 */
#include "internal.h"

#include <inttypes.h>

void fattn_tensor_contiguous(fattn_tensor *t, void *data, fattn_dtype dtype,
                             int64_t batch, int64_t heads, int64_t seq,
                             int64_t head_dim)
{
    if (!t)
        return;
    t->data = data;
    t->dtype = (int32_t)dtype;
    t->shape[0] = batch;
    t->shape[1] = heads;
    t->shape[2] = seq;
    t->shape[3] = head_dim;
    /* Unchecked products on purpose: fattn_check reports any overflow of the
     * extent these strides describe. */
    t->stride[3] = 1;
    t->stride[2] = head_dim;
    t->stride[1] = (int64_t)((uint64_t)seq * (uint64_t)head_dim);
    t->stride[0] = (int64_t)((uint64_t)heads * (uint64_t)t->stride[1]);
}

fattn_status fattn_tensor_from_packed(fattn_tensor *view, void *data,
                                      fattn_dtype dtype, int64_t batch,
                                      int64_t seq, int64_t embed_dim,
                                      int64_t num_heads, int64_t token_stride,
                                      fattn_error *err)
{
    static const char fn[] = "fattn_tensor_from_packed";
    if (!view)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "view is NULL");
    if (!data)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "data is NULL");
    if ((int)dtype < FATTN_DTYPE_F32 || (int)dtype > FATTN_DTYPE_BOOL)
        return fattn_fail(err, FATTN_ERR_INVALID_ENUM, fn,
                          "dtype = %d: not a fattn_dtype (0..3)", (int)dtype);
    if (batch < 0)
        return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                          "batch = %" PRId64 " < 0: batch must be >= 0", batch);
    if (seq < 0)
        return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                          "seq = %" PRId64 " < 0: seq must be >= 0", seq);
    if (num_heads < 1)
        return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                          "num_heads = %" PRId64 " < 1: num_heads must be >= 1",
                          num_heads);
    if (embed_dim < 1)
        return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                          "embed_dim = %" PRId64 " < 1: embed_dim must be >= 1",
                          embed_dim);
    if (embed_dim % num_heads != 0)
        return fattn_fail(err, FATTN_ERR_NOT_DIVISIBLE, fn,
                          "embed_dim = %" PRId64 " is not divisible by num_heads = %" PRId64
                          ": embed_dim must be a multiple of num_heads",
                          embed_dim, num_heads);
    if (token_stride < 0 || (token_stride > 0 && token_stride < embed_dim))
        return fattn_fail(err, FATTN_ERR_INVALID_STRIDE, fn,
                          "token_stride = %" PRId64 " < embed_dim = %" PRId64
                          ": tokens would overlap (0 means embed_dim)",
                          token_stride, embed_dim);
    int64_t ts = token_stride ? token_stride : embed_dim;
    int64_t batch_stride;
    if (__builtin_mul_overflow(seq, ts, &batch_stride))
        return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                          "seq = %" PRId64 " * token_stride = %" PRId64
                          " overflows int64",
                          seq, ts);
    int64_t last;
    if (batch > 0 && __builtin_mul_overflow(batch, batch_stride, &last))
        return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                          "batch = %" PRId64 " * seq * token_stride = %" PRId64
                          " overflows int64",
                          batch, batch_stride);
    int64_t head_dim = embed_dim / num_heads;
    view->data = data;
    view->dtype = (int32_t)dtype;
    view->shape[0] = batch;
    view->shape[1] = num_heads;
    view->shape[2] = seq;
    view->shape[3] = head_dim;
    view->stride[0] = batch_stride;
    view->stride[1] = head_dim;
    view->stride[2] = ts;
    view->stride[3] = 1;
    fattn_ok(err);
    return FATTN_OK;
}
