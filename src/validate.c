/*
 * validate.c - the front end: every descriptor is checked before any kernel
 * runs, and each failure is one status plus one line naming the function, the
 * tensor, the dimension and both values.
 *
 * Order of checks (a call with several faults reports the first):
 *   1. required descriptors present; params version
 *   2. params enums
 *   3. each tensor alone: data, dtype, shape, strides, alignment, extent
 *   4. relations among query, key, value, output, mask, lse
 *   5. params values: scale, softcap, window, slopes, lengths, allocator
 *   6. overlap of output and lse with everything else and with themselves
 *   7. the kernel path
 * All size arithmetic is checked (no wrap, no UB): a fattn_problem that
 * leaves here addresses only memory the caller described.
 */
#include "internal.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum role { R_QUERY, R_KEY, R_VALUE, R_OUTPUT, R_MASK, R_LSE, R_COUNT };

static const char *const dims_query[4] = {"batch", "heads", "seq_q", "head_dim"};
static const char *const dims_key[4] = {"batch", "heads_kv", "seq_k", "head_dim"};
static const char *const dims_value[4] = {"batch", "heads_kv", "seq_k", "head_dim_v"};
static const char *const dims_output[4] = {"batch", "heads", "seq_q", "head_dim_v"};
static const char *const dims_mask[4] = {"batch", "heads", "seq_q", "seq_k"};
static const char *const dims_lse[4] = {"batch", "heads", "seq_q", "one"};

static const fattn_tensor_role roles[R_COUNT] = {
    [R_QUERY] = {"query", dims_query, 1, 0, 0},
    [R_KEY] = {"key", dims_key, 1, 0, 0},
    [R_VALUE] = {"value", dims_value, 1, 0, 0},
    [R_OUTPUT] = {"output", dims_output, 1, 0, 0},
    [R_MASK] = {"mask", dims_mask, 0, 1, 0},
    [R_LSE] = {"lse", dims_lse, 0, 0, FATTN_ERR_DTYPE_MISMATCH},
};

static const char *const dtype_name[] = {"f32", "bf16", "f16", "bool"};

typedef struct vctx {
    const char *fn;
    fattn_error *err;
} vctx;

typedef fattn_extent span;

#define dtype_size fattn_dtype_size

/* Step 3 for one tensor. Fills *sp with the bytes it addresses. */
fattn_status fattn_check_tensor(const char *fn, const fattn_tensor_role *r,
                                const fattn_tensor *t, fattn_extent *sp,
                                fattn_error *err)
{
    const char *n = r->name;
    const char *const *dn = r->dims;
    if (!t->data)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "%s.data is NULL",
                          n);
    if (t->dtype < FATTN_DTYPE_F32 || t->dtype > FATTN_DTYPE_BOOL)
        return fattn_fail(err, FATTN_ERR_INVALID_ENUM, fn,
                          "%s.dtype = %" PRId32 ": not a fattn_dtype (0..3)", n,
                          t->dtype);
    if ((t->dtype == FATTN_DTYPE_BF16 || t->dtype == FATTN_DTYPE_F16) &&
        r->f32_only)
        return fattn_fail(err, (fattn_status)r->f32_only, fn,
                          "%s.dtype = %s: %s must be f32", n,
                          dtype_name[t->dtype], n);
    if (t->dtype == FATTN_DTYPE_BOOL && !r->bool_ok)
        return fattn_fail(err, FATTN_ERR_DTYPE_MISMATCH, fn,
                          "%s.dtype = bool: %s must be %s (bool is for masks)",
                          n, n, r->f32_only ? "f32" : "f32, bf16 or f16");
    for (int d = 0; d < 4; d++) {
        int64_t v = t->shape[d];
        int positive = (r->head_dims && (d == 1 || d == 3));
        if (v < 0 || (positive && v < 1))
            return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                              "%s.shape[%d] (%s) = %" PRId64 " < %d: %s must be >= %d",
                              n, d, dn[d], v, positive, dn[d], positive);
        if (v > FATTN_MAX_DIM)
            return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                              "%s.shape[%d] (%s) = %" PRId64 " > 2^40: dimensions must be at most FATTN_MAX_DIM",
                              n, d, dn[d], v);
        if (r->head_dims && d == 3 && v > FATTN_MAX_HEAD_DIM)
            return fattn_fail(err, FATTN_ERR_INVALID_DIMENSION, fn,
                              "%s.shape[3] (%s) = %" PRId64 " > %d: %s must be at most FATTN_MAX_HEAD_DIM",
                              n, dn[3], v, FATTN_MAX_HEAD_DIM, dn[3]);
    }
    for (int d = 0; d < 4; d++)
        if (t->stride[d] < 0)
            return fattn_fail(err, FATTN_ERR_INVALID_STRIDE, fn,
                              "%s.stride[%d] (%s) = %" PRId64 " < 0: strides must be >= 0",
                              n, d, dn[d], t->stride[d]);
    size_t es = dtype_size(t->dtype);
    uintptr_t base = (uintptr_t)t->data;
    if (base % es != 0)
        return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                          "%s.data = %p is not aligned to its element size (%zu bytes)",
                          n, t->data, es);

    sp->name = n;
    sp->begin = sp->end = base;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0)
            return FATTN_OK; /* empty: addresses nothing */
    int64_t last = 0; /* offset of the last element, in elements */
    for (int d = 0; d < 4; d++) {
        int64_t term;
        if (__builtin_mul_overflow(t->shape[d] - 1, t->stride[d], &term))
            return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                              "%s.stride[%d] (%s) = %" PRId64 " * (%s.shape[%d] - 1) = %" PRId64
                              " overflows int64",
                              n, d, dn[d], t->stride[d], n, d, t->shape[d] - 1);
        int64_t sum;
        if (__builtin_add_overflow(last, term, &sum))
            return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                              "%s: extent %" PRId64 " + stride[%d] (%s) = %" PRId64 " * (shape[%d] - 1) = %" PRId64
                              " overflows int64",
                              n, last, d, dn[d], t->stride[d], d,
                              t->shape[d] - 1);
        last = sum;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)last + 1u, (uint64_t)es, &bytes) ||
        bytes > (uint64_t)PTRDIFF_MAX || bytes > (uint64_t)(UINTPTR_MAX - base))
        return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                          "%s: %" PRIu64 " elements of %zu bytes from %p exceed the address space",
                          n, (uint64_t)last + 1u, es, t->data);
    sp->end = base + (uintptr_t)bytes;
    return FATTN_OK;
}

static fattn_status check_tensor(const vctx *c, enum role r,
                                 const fattn_tensor *t, span *sp)
{
    return fattn_check_tensor(c->fn, &roles[r], t, sp, c->err);
}

/* Step 4: a.shape[da] must equal b.shape[db]. */
fattn_status fattn_check_same_dim(const char *fn, const fattn_tensor_role *ra,
                                  const fattn_tensor *a, int da,
                                  const fattn_tensor_role *rb,
                                  const fattn_tensor *b, int db,
                                  const char *rule, fattn_error *err)
{
    if (a->shape[da] == b->shape[db])
        return FATTN_OK;
    return fattn_fail(err, FATTN_ERR_SHAPE_MISMATCH, fn,
                      "%s.shape[%d] (%s) = %" PRId64 " != %s.shape[%d] (%s) = %" PRId64 ": %s",
                      ra->name, da, ra->dims[da], a->shape[da], rb->name, db,
                      rb->dims[db], b->shape[db], rule);
}

static fattn_status same_dim(const vctx *c, enum role ra, const fattn_tensor *a,
                             int da, enum role rb, const fattn_tensor *b,
                             int db, const char *rule)
{
    return fattn_check_same_dim(c->fn, &roles[ra], a, da, &roles[rb], b, db,
                                rule, c->err);
}

static fattn_status check_relations(const vctx *c, const fattn_tensor *q,
                                    const fattn_tensor *k, const fattn_tensor *v,
                                    const fattn_tensor *o)
{
    FATTN_TRY(same_dim(c, R_KEY, k, 0, R_QUERY, q, 0,
                 "query, key and value must have the same batch size"));
    FATTN_TRY(same_dim(c, R_VALUE, v, 0, R_QUERY, q, 0,
                 "query, key and value must have the same batch size"));
    FATTN_TRY(same_dim(c, R_KEY, k, 3, R_QUERY, q, 3,
                 "query and key must have the same head_dim"));
    FATTN_TRY(same_dim(c, R_VALUE, v, 1, R_KEY, k, 1,
                 "key and value must have the same number of heads"));
    FATTN_TRY(same_dim(c, R_VALUE, v, 2, R_KEY, k, 2,
                 "key and value must have the same sequence length"));
    if (q->shape[1] % k->shape[1] != 0)
        return fattn_fail(c->err, FATTN_ERR_NOT_DIVISIBLE, c->fn,
                          "query.shape[1] (heads) = %" PRId64 " is not a multiple of key.shape[1] (heads_kv) = %" PRId64
                          ": query heads must be a multiple of key/value heads",
                          q->shape[1], k->shape[1]);
    FATTN_TRY(same_dim(c, R_OUTPUT, o, 0, R_QUERY, q, 0,
                 "output must have query's batch size"));
    FATTN_TRY(same_dim(c, R_OUTPUT, o, 1, R_QUERY, q, 1,
                 "output must have query's number of heads"));
    FATTN_TRY(same_dim(c, R_OUTPUT, o, 2, R_QUERY, q, 2,
                 "output must have query's sequence length"));
    FATTN_TRY(same_dim(c, R_OUTPUT, o, 3, R_VALUE, v, 3,
                 "output must have value's head_dim"));
    return FATTN_OK;
}

static fattn_status check_mask(const vctx *c, const fattn_tensor *m,
                               const fattn_tensor *q, const fattn_tensor *k)
{
    /* The attention size each mask dimension must match or broadcast to. */
    const fattn_tensor *ref[4] = {q, q, q, k};
    const enum role rr[4] = {R_QUERY, R_QUERY, R_QUERY, R_KEY};
    const int rd[4] = {0, 1, 2, 2};
    for (int d = 0; d < 4; d++) {
        int64_t want = ref[d]->shape[rd[d]];
        if (m->shape[d] != want && m->shape[d] != 1)
            return fattn_fail(c->err, FATTN_ERR_SHAPE_MISMATCH, c->fn,
                              "mask.shape[%d] (%s) = %" PRId64 " != %s.shape[%d] (%s) = %" PRId64
                              ": each mask dimension must equal the attention size or 1",
                              d, dims_mask[d], m->shape[d], roles[rr[d]].name,
                              rd[d], roles[rr[d]].dims[rd[d]], want);
    }
    return FATTN_OK;
}

fattn_status fattn_check_lse_shape(const char *fn, const fattn_tensor_role *rl,
                                   const fattn_tensor *l,
                                   const fattn_tensor_role *rref,
                                   const fattn_tensor *ref, const char *rule,
                                   fattn_error *err)
{
    for (int d = 0; d < 3; d++)
        FATTN_TRY(fattn_check_same_dim(fn, rl, l, d, rref, ref, d, rule, err));
    if (l->shape[3] != 1)
        return fattn_fail(err, FATTN_ERR_SHAPE_MISMATCH, fn,
                          "%s.shape[3] (%s) = %" PRId64 " != 1: %s", rl->name,
                          rl->dims[3], l->shape[3], rule);
    return FATTN_OK;
}

/*
 * An output must not have two elements at one address. Sufficient test (so
 * exotic interleaved layouts are refused): with the dimensions of size > 1
 * sorted by stride, each stride exceeds the extent of all smaller ones.
 */
fattn_status fattn_check_self_overlap(const char *fn,
                                      const fattn_tensor_role *r,
                                      const fattn_tensor *t, fattn_error *err)
{
    int idx[4], n = 0;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0)
            return FATTN_OK;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] > 1)
            idx[n++] = d;
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && t->stride[idx[b]] < t->stride[idx[b - 1]]; b--) {
            int tmp = idx[b];
            idx[b] = idx[b - 1];
            idx[b - 1] = tmp;
        }
    int64_t covered = 0; /* largest offset reached by the smaller dims */
    for (int a = 0; a < n; a++) {
        int d = idx[a];
        if (t->stride[d] <= covered)
            return fattn_fail(err, FATTN_ERR_OVERLAP, fn,
                              "%s.stride[%d] (%s) = %" PRId64 " <= %" PRId64
                              " (extent of its smaller-stride dimensions) with %s.shape[%d] = %" PRId64
                              ": two %s elements would share an address",
                              r->name, d, r->dims[d], t->stride[d], covered,
                              r->name, d, t->shape[d], r->name);
        covered += (t->shape[d] - 1) * t->stride[d]; /* bounded by the extent */
    }
    return FATTN_OK;
}

static int spans_intersect(const span *a, const span *b)
{
    return a->begin < a->end && b->begin < b->end && a->begin < b->end &&
           b->begin < a->end;
}

/* A params array of `count` items of `size` bytes: alignment and extent. */
static fattn_status check_array(const vctx *c, const void *ptr, int64_t count,
                                size_t size, const char *name, span *sp)
{
    uintptr_t base = (uintptr_t)ptr;
    if (base % size != 0)
        return fattn_fail(c->err, FATTN_ERR_MISALIGNED, c->fn,
                          "%s = %p is not aligned to its element size (%zu bytes)",
                          name, ptr, size);
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)count, (uint64_t)size, &bytes) ||
        bytes > (uint64_t)PTRDIFF_MAX || bytes > (uint64_t)(UINTPTR_MAX - base))
        return fattn_fail(c->err, FATTN_ERR_SIZE_OVERFLOW, c->fn,
                          "%s: %" PRId64 " entries of %zu bytes exceed the address space",
                          name, count, size);
    sp->name = name;
    sp->begin = base;
    sp->end = base + (uintptr_t)bytes;
    return FATTN_OK;
}

static fattn_status check_lengths(const vctx *c, const int64_t *len,
                                  int64_t batch, const char *name,
                                  const char *tensor, int64_t seq,
                                  const char *seq_name)
{
    for (int64_t b = 0; b < batch; b++) {
        if (len[b] < 0)
            return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                              "params.%s[%" PRId64 "] = %" PRId64 " < 0: each length must be in [0, %s]",
                              name, b, len[b], seq_name);
        if (len[b] > seq)
            return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                              "params.%s[%" PRId64 "] = %" PRId64 " > %s.shape[2] (%s) = %" PRId64
                              ": each length must be in [0, %s]",
                              name, b, len[b], tensor, seq_name, seq, seq_name);
    }
    return FATTN_OK;
}

static fattn_status check_positive_or_zero(const vctx *c, const char *name,
                                           float x, const char *zero_means)
{
    if (isfinite(x) && x >= 0.0f)
        return FATTN_OK;
    return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                      "params.%s = %g: must be finite and > 0 (0 means %s)",
                      name, (double)x, zero_means);
}

static fattn_status check_params(const vctx *c, const fattn_params *pr,
                                 const fattn_tensor *q, const fattn_tensor *k,
                                 fattn_problem *p, span *spans)
{
    FATTN_TRY(check_positive_or_zero(c, "scale", pr->scale, "1/sqrt(head_dim)"));
    FATTN_TRY(check_positive_or_zero(c, "softcap", pr->softcap, "no soft-cap"));
    if (pr->softcap > 0.0f && pr->softcap < FLT_MIN)
        return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                          "params.softcap = %g < FLT_MIN = %g: a subnormal cap is refused (1/cap overflows)",
                          (double)pr->softcap, (double)FLT_MIN);
    if (pr->window_enabled) {
        if (pr->window_left < FATTN_WINDOW_UNLIMITED)
            return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                              "params.window_left = %" PRId64 " < -1: must be >= 0 or FATTN_WINDOW_UNLIMITED (-1)",
                              pr->window_left);
        if (pr->window_right < FATTN_WINDOW_UNLIMITED)
            return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                              "params.window_right = %" PRId64 " < -1: must be >= 0 or FATTN_WINDOW_UNLIMITED (-1)",
                              pr->window_right);
    }
    /* With causal masking, align's zero value follows the causal
     * alignment; only an explicit bottom-right against a top-left causal
     * contradicts it. */
    if (pr->causal == FATTN_CAUSAL_TOP_LEFT &&
        pr->align == FATTN_ALIGN_BOTTOM_RIGHT &&
        (pr->window_enabled || pr->alibi_slopes))
        return fattn_fail(c->err, FATTN_ERR_INCOMPATIBLE_OPTIONS, c->fn,
                          "params.align = bottom-right != params.causal = top-left: the %s must use the causal alignment",
                          pr->window_enabled ? "window" : "ALiBi bias");
    if (pr->pool && pr->executor)
        return fattn_fail(c->err, FATTN_ERR_INCOMPATIBLE_OPTIONS, c->fn,
                          "params.pool and params.executor are both set: choose one way to run in parallel");
    if (pr->executor) {
        if (!pr->executor->parallel_for)
            return fattn_fail(c->err, FATTN_ERR_NULL_POINTER, c->fn,
                              "params.executor->parallel_for is NULL");
        if (pr->executor->max_tasks < 1 ||
            pr->executor->max_tasks > FATTN_MAX_THREADS)
            return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                              "params.executor->max_tasks = %" PRId32 ": must be in [1, %d]",
                              pr->executor->max_tasks, FATTN_MAX_THREADS);
    }
    if (pr->alibi_slopes) {
        FATTN_TRY(check_array(c, pr->alibi_slopes, q->shape[1], sizeof(float),
                        "params.alibi_slopes", &spans[FATTN_R_SLOPES]));
        for (int64_t h = 0; h < q->shape[1]; h++)
            if (!isfinite(pr->alibi_slopes[h]))
                return fattn_fail(c->err, FATTN_ERR_INVALID_VALUE, c->fn,
                                  "params.alibi_slopes[%" PRId64 "] = %g: slopes must be finite",
                                  h, (double)pr->alibi_slopes[h]);
    }
    if (pr->q_lengths) {
        FATTN_TRY(check_array(c, pr->q_lengths, q->shape[0], sizeof(int64_t),
                        "params.q_lengths", &spans[FATTN_R_QLEN]));
        FATTN_TRY(check_lengths(c, pr->q_lengths, q->shape[0], "q_lengths", "query",
                          q->shape[2], "seq_q"));
    }
    if (pr->kv_lengths) {
        FATTN_TRY(check_array(c, pr->kv_lengths, q->shape[0], sizeof(int64_t),
                        "params.kv_lengths", &spans[FATTN_R_KVLEN]));
        FATTN_TRY(check_lengths(c, pr->kv_lengths, q->shape[0], "kv_lengths", "key",
                          k->shape[2], "seq_k"));
    }
    if (!pr->allocator.alloc != !pr->allocator.free)
        return fattn_fail(c->err, FATTN_ERR_NULL_POINTER, c->fn,
                          "params.allocator.%s is NULL but params.allocator.%s is set: set both or neither",
                          pr->allocator.alloc ? "free" : "alloc",
                          pr->allocator.alloc ? "alloc" : "free");

    p->scale = pr->scale != 0.0f ? pr->scale
                                 : (float)(1.0 / sqrt((double)q->shape[3]));
    p->softcap = pr->softcap;
    p->causal = pr->causal;
    p->window_enabled = pr->window_enabled != 0;
    p->window_left = p->window_enabled ? pr->window_left : FATTN_WINDOW_UNLIMITED;
    p->window_right = p->window_enabled ? pr->window_right : FATTN_WINDOW_UNLIMITED;
    p->align = pr->causal == FATTN_CAUSAL_BOTTOM_RIGHT ? FATTN_ALIGN_BOTTOM_RIGHT
               : pr->causal == FATTN_CAUSAL_TOP_LEFT   ? FATTN_ALIGN_TOP_LEFT
                                                       : pr->align;
    p->alibi_slopes = pr->alibi_slopes;
    p->q_lengths = pr->q_lengths;
    p->kv_lengths = pr->kv_lengths;
    return FATTN_OK;
}

static fattn_status check_enums(const vctx *c, const fattn_params *pr)
{
    if (pr->causal < FATTN_CAUSAL_NONE || pr->causal > FATTN_CAUSAL_BOTTOM_RIGHT)
        return fattn_fail(c->err, FATTN_ERR_INVALID_ENUM, c->fn,
                          "params.causal = %" PRId32 ": not a fattn_causal (0..2)",
                          pr->causal);
    if (pr->align < FATTN_ALIGN_TOP_LEFT || pr->align > FATTN_ALIGN_BOTTOM_RIGHT)
        return fattn_fail(c->err, FATTN_ERR_INVALID_ENUM, c->fn,
                          "params.align = %" PRId32 ": not a fattn_align (0..1)",
                          pr->align);
    if (pr->window_enabled != 0 && pr->window_enabled != 1)
        return fattn_fail(c->err, FATTN_ERR_INVALID_ENUM, c->fn,
                          "params.window_enabled = %" PRId32 ": must be 0 or 1",
                          pr->window_enabled);
    if (pr->isa < FATTN_ISA_AUTO || pr->isa >= FATTN_ISA_COUNT)
        return fattn_fail(c->err, FATTN_ERR_INVALID_ENUM, c->fn,
                          "params.isa = %" PRId32 ": not a fattn_isa (0..%d)",
                          pr->isa, FATTN_ISA_COUNT - 1);
    return FATTN_OK;
}

/* The strides kernels use: 0 along a broadcast (size-1) dimension, and 0
 * along every dimension of an empty tensor, which addresses nothing, so its
 * strides were never bounded (check_tensor skips its extent) and must not
 * reach the kernels' pointer arithmetic (a fuzz_validate finding). */
static void copy_strides(int64_t *dst, const fattn_tensor *t)
{
    int empty = 0;
    for (int d = 0; d < 4; d++)
        empty |= t->shape[d] == 0;
    for (int d = 0; d < 4; d++)
        dst[d] = t->shape[d] == 1 || empty ? 0 : t->stride[d];
}

fattn_status fattn_check_apart(const char *fn, const fattn_extent *outs,
                               int nouts, const fattn_extent *in, int64_t nin,
                               const char *rule, fattn_error *err)
{
    for (int a = 0; a < nouts; a++)
        for (int64_t b = 0; b < nin; b++) {
            const span *x = &outs[a], *y = &in[b];
            if (spans_intersect(x, y))
                return fattn_fail(err, FATTN_ERR_OVERLAP, fn,
                                  "%s bytes [%p, %p) overlap %s bytes [%p, %p): %s",
                                  x->name, (void *)x->begin, (void *)x->end,
                                  y->name, (void *)y->begin, (void *)y->end,
                                  rule);
        }
    return FATTN_OK;
}

fattn_status fattn_check_output_lse(const char *fn, const fattn_extent *out,
                                    const fattn_extent *lse, fattn_error *err)
{
    if (spans_intersect(out, lse))
        return fattn_fail(err, FATTN_ERR_OVERLAP, fn,
                          "output bytes [%p, %p) overlap lse bytes [%p, %p): output and lse must not share memory",
                          (void *)out->begin, (void *)out->end,
                          (void *)lse->begin, (void *)lse->end);
    return FATTN_OK;
}

fattn_status fattn_check_overlaps(const char *fn, const fattn_checked *c,
                                  fattn_error *err)
{
    FATTN_TRY(fattn_check_apart(fn, &c->span[FATTN_R_OUTPUT],
                                FATTN_R_COUNT - FATTN_R_OUTPUT, c->span,
                                FATTN_R_OUTPUT,
                                "outputs must not share memory with inputs", err));
    return fattn_check_output_lse(fn, &c->span[FATTN_R_OUTPUT],
                                  &c->span[FATTN_R_LSE], err);
}

fattn_status fattn_check_values(const char *fn, const fattn_problem *p,
                                fattn_error *err)
{
    const vctx cx = {fn, err};
    if (p->alibi_slopes)
        for (int64_t h = 0; h < p->heads_q; h++)
            if (!isfinite(p->alibi_slopes[h]))
                return fattn_fail(err, FATTN_ERR_INVALID_VALUE, fn,
                                  "params.alibi_slopes[%" PRId64 "] = %g: slopes must be finite",
                                  h, (double)p->alibi_slopes[h]);
    if (p->q_lengths)
        FATTN_TRY(check_lengths(&cx, p->q_lengths, p->batch, "q_lengths", "query",
                          p->seq_q, "seq_q"));
    if (p->kv_lengths)
        FATTN_TRY(check_lengths(&cx, p->kv_lengths, p->batch, "kv_lengths", "key",
                          p->seq_k, "seq_k"));
    return FATTN_OK;
}

fattn_status fattn_check_workspace(const char *fn, const char *what,
                                   const void *ws, size_t size, size_t need,
                                   fattn_isa isa, const fattn_checked *c,
                                   fattn_error *err)
{
    uintptr_t base = (uintptr_t)ws;
    if (base % 64 != 0)
        return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                          "%s = %p is not 64-byte aligned", what, ws);
    if (size < need)
        return fattn_fail(err, FATTN_ERR_INVALID_VALUE, fn,
                          "%s_size = %zu < %zu bytes needed by the %s path: size it with fattn_workspace_size or fattn_plan_workspace_size",
                          what, size, need, fattn_isa_name(isa));
    if (size > UINTPTR_MAX - base)
        return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                          "%s_size = %zu from %p exceeds the address space",
                          what, size, ws);
    const span w = {base, base + size, what};
    for (int b = 0; b < FATTN_R_COUNT; b++)
        if (spans_intersect(&w, &c->span[b]))
            return fattn_fail(err, FATTN_ERR_OVERLAP, fn,
                              "%s bytes [%p, %p) overlap %s bytes [%p, %p): the workspace must not share memory with tensors",
                              what, (void *)w.begin, (void *)w.end,
                              c->span[b].name, (void *)c->span[b].begin,
                              (void *)c->span[b].end);
    return FATTN_OK;
}

fattn_status fattn_read_layout(const char *fn, const char *what,
                               const void *src, uint32_t newest,
                               const size_t *bytes, void *dst, size_t dst_size,
                               fattn_error *err)
{
    uint32_t version;
    memset(dst, 0, dst_size);
    memcpy(&version, src, sizeof version);
    if (version > newest)
        return fattn_fail(err, FATTN_ERR_UNSUPPORTED_VERSION, fn,
                          "%s.version = %" PRIu32 " > %" PRIu32 ": this library knows %s up to version %" PRIu32,
                          what, version, newest, what, newest);
    memcpy(dst, src, bytes[version]);
    return FATTN_OK;
}

fattn_status fattn_validate(const char *fn, const fattn_tensor *q,
                            const fattn_tensor *k, const fattn_tensor *v,
                            const fattn_tensor *o, const fattn_params *params,
                            fattn_problem *p, fattn_isa *isa, fattn_checked *ck,
                            fattn_error *err)
{
    const vctx cx = {fn, err}, *c = &cx;
    const fattn_tensor *const req[4] = {q, k, v, o};
    for (int r = R_QUERY; r <= R_OUTPUT; r++)
        if (!req[r])
            return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "%s is NULL",
                              roles[r].name);

    /* Read exactly the caller's layout (fattn.h's growth rule): version is
     * the first field of every layout, the rest stays zero. */
    memset(ck, 0, sizeof *ck);
    fattn_params *pr = &ck->params;
    static const size_t params_bytes[FATTN_PARAMS_VERSION + 1] = {
        FATTN_PARAMS_V1_SIZE, FATTN_PARAMS_V1_SIZE, sizeof(fattn_params)};
    if (params)
        FATTN_TRY(fattn_read_layout(fn, "params", params, FATTN_PARAMS_VERSION,
                                    params_bytes, pr, sizeof *pr, err));
    FATTN_TRY(check_enums(c, pr));

    span *spans = ck->span;
    static const int tensor_slot[4] = {FATTN_R_QUERY, FATTN_R_KEY,
                                       FATTN_R_VALUE, FATTN_R_OUTPUT};
    for (int r = R_QUERY; r <= R_OUTPUT; r++) {
        FATTN_TRY(check_tensor(c, (enum role)r, req[r], &spans[tensor_slot[r]]));
        ck->elem[tensor_slot[r]] = dtype_size(req[r]->dtype);
    }
    FATTN_TRY(check_relations(c, q, k, v, o));
    if (pr->mask) {
        FATTN_TRY(check_tensor(c, R_MASK, pr->mask, &spans[FATTN_R_MASK]));
        FATTN_TRY(check_mask(c, pr->mask, q, k));
        ck->elem[FATTN_R_MASK] = dtype_size(pr->mask->dtype);
    }
    if (pr->lse) {
        FATTN_TRY(check_tensor(c, R_LSE, pr->lse, &spans[FATTN_R_LSE]));
        FATTN_TRY(fattn_check_lse_shape(fn, &roles[R_LSE], pr->lse,
                                        &roles[R_QUERY], q,
                                        "lse must be [batch, heads, seq_q, 1] of query",
                                        err));
        ck->elem[FATTN_R_LSE] = sizeof(float);
    }

    memset(p, 0, sizeof *p);
    FATTN_TRY(check_params(c, pr, q, k, p, spans));
    ck->elem[FATTN_R_SLOPES] = sizeof(float);
    ck->elem[FATTN_R_QLEN] = ck->elem[FATTN_R_KVLEN] = sizeof(int64_t);

    FATTN_TRY(fattn_check_self_overlap(fn, &roles[R_OUTPUT], o, err));
    if (pr->lse)
        FATTN_TRY(fattn_check_self_overlap(fn, &roles[R_LSE], pr->lse, err));
    FATTN_TRY(fattn_check_overlaps(fn, ck, err));

    p->q = q->data;
    p->k = k->data;
    p->v = v->data;
    p->o = o->data;
    p->q_dtype = q->dtype;
    p->k_dtype = k->dtype;
    p->v_dtype = v->dtype;
    p->o_dtype = o->dtype;
    p->batch = q->shape[0];
    p->heads_q = q->shape[1];
    p->heads_kv = k->shape[1];
    p->seq_q = q->shape[2];
    p->seq_k = k->shape[2];
    p->head_dim = q->shape[3];
    p->head_dim_v = v->shape[3];
    copy_strides(p->q_stride, q);
    copy_strides(p->k_stride, k);
    copy_strides(p->v_stride, v);
    copy_strides(p->o_stride, o);
    if (pr->mask) {
        p->mask_kind = pr->mask->dtype == FATTN_DTYPE_BOOL ? FATTN_MASK_KEEP
                                                           : FATTN_MASK_ADDITIVE;
        p->mask = pr->mask->data;
        p->mask_dtype = pr->mask->dtype;
        copy_strides(p->mask_stride, pr->mask);
    }
    if (pr->lse) {
        int64_t ls[4];
        copy_strides(ls, pr->lse);
        p->lse = pr->lse->data;
        memcpy(p->lse_stride, ls, sizeof p->lse_stride);
    }
    FATTN_TRY(fattn_resolve_isa(fn, pr->isa, p, isa, err));
    fattn_ok(err);
    return FATTN_OK;
}
