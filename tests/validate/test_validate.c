/*
 * test_validate.c - one table row per validation rule: the descriptor fault,
 * the expected status and the expected message (pinned exactly where the
 * message is part of the product's face). Every row runs through fattn_check
 * and fattn_forward; a failing call must leave output and LSE untouched and
 * fill the error record with one NUL-terminated line. At the end, every
 * status code must have been reached.
 *
 * `test_validate env-bogus` expects FATTN_ISA=bogus in the environment.
 */
#include "fattn.h"
#include "validate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, HQ = 4, HKV = 2, SQ = 5, SK = 7, D = 8, DV = 6 };
enum { WS_BYTES = 1 << 20 };
enum { NQ = B * HQ * SQ * D, NK = B * HKV * SK * D, NV = B * HKV * SK * DV,
       NO = B * HQ * SQ * DV, NM = B * SQ * SK, NL = B * HQ * SQ };

/* The fixture: a valid problem that each row breaks in one way. */
static struct fixture {
    float *qb, *kb, *vb, *ob, *mb, *lb;
    unsigned char *ws; /* WS_BYTES, 64-byte aligned */
    fattn_tensor q, k, v, o, mask, lse;
    const fattn_tensor *qp, *kp, *vp, *op;
    fattn_params p;
    int64_t q_lengths[B], kv_lengths[B];
    float slopes[HQ];
} F;

/* 64-byte aligned, so a buffer can also pose as a workspace. */
static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static void reset(void)
{
    fattn_tensor_contiguous(&F.q, F.qb, FATTN_DTYPE_F32, B, HQ, SQ, D);
    fattn_tensor_contiguous(&F.k, F.kb, FATTN_DTYPE_F32, B, HKV, SK, D);
    fattn_tensor_contiguous(&F.v, F.vb, FATTN_DTYPE_F32, B, HKV, SK, DV);
    fattn_tensor_contiguous(&F.o, F.ob, FATTN_DTYPE_F32, B, HQ, SQ, DV);
    fattn_tensor_contiguous(&F.mask, F.mb, FATTN_DTYPE_F32, B, 1, SQ, SK);
    fattn_tensor_contiguous(&F.lse, F.lb, FATTN_DTYPE_F32, B, HQ, SQ, 1);
    F.qp = &F.q;
    F.kp = &F.k;
    F.vp = &F.v;
    F.op = &F.o;
    memset(&F.p, 0, sizeof F.p);
    F.p.mask = &F.mask;
    F.p.lse = &F.lse;
    for (int b = 0; b < B; b++) {
        F.q_lengths[b] = SQ - b;
        F.kv_lengths[b] = SK - 2 * b;
    }
    for (int h = 0; h < HQ; h++)
        F.slopes[h] = 1.0f / (float)(2 << h);
}

/* ---- mutations that a (field, value) pair cannot express ---- */
static void null_query(void) { F.qp = NULL; }
static void null_key(void) { F.kp = NULL; }
static void null_value(void) { F.vp = NULL; }
static void null_output(void) { F.op = NULL; }
static void null_key_data(void) { F.k.data = NULL; }
static void null_mask_data(void) { F.mask.data = NULL; }
static void null_lse_data(void) { F.lse.data = NULL; }
static void causal_3(void) { F.p.causal = 3; }
static void align_2(void) { F.p.align = 2; }
static void window_flag_2(void) { F.p.window_enabled = 2; }
static void isa_9(void) { F.p.isa = 9; }
static void version_2(void) { F.p.version = FATTN_PARAMS_VERSION + 1; }
static void lse_bf16(void) { F.lse.dtype = FATTN_DTYPE_BF16; }
static void lse_f16(void) { F.lse.dtype = FATTN_DTYPE_F16; }
static void query_bool(void) { F.q.dtype = FATTN_DTYPE_BOOL; }
static void lse_bool(void) { F.lse.dtype = FATTN_DTYPE_BOOL; }
static void key_bool(void) { F.k.dtype = FATTN_DTYPE_BOOL; }
static void value_bool(void) { F.v.dtype = FATTN_DTYPE_BOOL; }
static void output_bool(void) { F.o.dtype = FATTN_DTYPE_BOOL; }
/* A bf16 query one byte off its element size; an f16 value too. */
static void query_bf16_misaligned(void)
{
    F.q.dtype = FATTN_DTYPE_BF16;
    F.q.data = (unsigned char *)F.qb + 1;
}
static void value_f16_misaligned(void)
{
    F.v.dtype = FATTN_DTYPE_F16;
    F.v.data = (unsigned char *)F.vb + 3;
}
static void mask_bf16_misaligned(void)
{
    F.mask.dtype = FATTN_DTYPE_BF16;
    F.mask.data = (unsigned char *)F.mb + 1;
}
static void query_dtype_7(void) { F.q.dtype = 7; }
static void query_dtype_neg(void) { F.q.dtype = -1; }
static void kv_heads_3(void)
{
    F.k.shape[1] = 3;
    F.v.shape[1] = 3;
}
static void scale_neg(void) { F.p.scale = -1.0f; }
static void scale_nan(void) { F.p.scale = NAN; }
static void scale_inf(void) { F.p.scale = INFINITY; }
static void softcap_neg(void) { F.p.softcap = -2.0f; }
static void softcap_nan(void) { F.p.softcap = NAN; }
static void softcap_subnormal(void) { F.p.softcap = 1e-39f; }
static void window_left_bad(void)
{
    F.p.window_enabled = 1;
    F.p.window_left = -2;
}
static void window_right_bad(void)
{
    F.p.window_enabled = 1;
    F.p.window_left = 3;
    F.p.window_right = -5;
}
static void slope_nan(void)
{
    F.slopes[2] = NAN;
    F.p.alibi_slopes = F.slopes;
}
static void q_len_big(void)
{
    F.q_lengths[1] = SQ + 1;
    F.p.q_lengths = F.q_lengths;
}
static void kv_len_neg(void)
{
    F.kv_lengths[0] = -1;
    F.p.kv_lengths = F.kv_lengths;
}
static void kv_lengths_misaligned(void)
{
    F.p.kv_lengths = (const int64_t *)((const char *)F.kv_lengths + 4);
}
static void output_on_key(void) { F.o.data = F.kb; }
static void output_on_mask(void) { F.o.data = F.mb + 3; }
static void lse_on_output(void) { F.lse.data = F.ob + 1; }
static void output_on_lengths(void)
{
    F.p.q_lengths = F.q_lengths;
    F.o.data = F.q_lengths;
}
static void output_self_overlap(void) { F.o.stride[2] = 0; }
static void output_interleaved(void) { F.o.stride[1] = 3; }
static void lse_self_overlap(void) { F.lse.stride[1] = 0; }
static void query_misaligned(void) { F.q.data = (char *)F.qb + 1; }
static void key_extent_overflow(void)
{
    F.k.stride[0] = INT64_MAX;
}
static void query_stride_mul_overflow(void)
{
    F.q.stride[2] = INT64_MAX / 2;
}
static void value_bytes_overflow(void)
{
    F.v.stride[0] = INT64_MAX / 2; /* elements fit int64, bytes do not */
}
static void value_last_offset_int64_max(void)
{
    /* The last element's offset is exactly INT64_MAX, so the element count
     * is 2^63 (fuzz_validate found its message overflowing int64 there). */
    F.v.stride[0] = INT64_MAX - ((HKV - 1) * SK * DV + (SK - 1) * DV + (DV - 1));
}
/* (Bottom-right causal with align left at 0 is valid: align follows.) */
static void window_with_other_alignment(void)
{
    F.p.causal = FATTN_CAUSAL_TOP_LEFT;
    F.p.window_enabled = 1;
    F.p.window_left = 2;
    F.p.window_right = 0;
    F.p.align = FATTN_ALIGN_BOTTOM_RIGHT;
}
static void alibi_with_other_alignment(void)
{
    F.p.causal = FATTN_CAUSAL_TOP_LEFT;
    F.p.alibi_slopes = F.slopes;
    F.p.align = FATTN_ALIGN_BOTTOM_RIGHT;
}

static void workspace_misaligned(void)
{
    F.p.workspace = F.ws + 32;
    F.p.workspace_size = WS_BYTES - 32;
}
static void workspace_too_small(void)
{
    F.p.workspace = F.ws;
    F.p.workspace_size = 64;
}
static void workspace_on_query(void)
{
    /* Query's buffer, 64-byte aligned as the check wants, of plenty size. */
    F.p.workspace = F.qb;
    F.p.workspace_size = WS_BYTES;
}
static void workspace_on_lse(void)
{
    F.p.workspace = F.ws;
    F.p.workspace_size = WS_BYTES;
    F.lse.data = F.ws + WS_BYTES - 64;
}

static int unavailable_isa(void)
{
    for (int isa = FATTN_ISA_COUNT - 1; isa > FATTN_ISA_SCALAR; isa--)
        if (!fattn_isa_available(isa))
            return isa;
    return -1;
}
static void isa_unavailable(void) { F.p.isa = unavailable_isa(); }

static void *failing_alloc(size_t size, void *opaque)
{
    (void)size;
    (void)opaque;
    return NULL;
}
static void failing_free(void *ptr, void *opaque)
{
    (void)ptr;
    (void)opaque;
}
static void half_allocator(void) { F.p.allocator.free = failing_free; }
static void *misaligned_alloc(size_t size, void *opaque)
{
    (void)size;
    (void)opaque;
    return F.ws + 8; /* big enough for any workspace here, not 64-aligned */
}
static void allocator_misaligned(void)
{
    F.p.allocator.alloc = misaligned_alloc;
    F.p.allocator.free = failing_free;
}
static void allocator_fails(void)
{
    F.p.allocator.alloc = failing_alloc;
    F.p.allocator.free = failing_free;
}

typedef struct row {
    const char *name;
    int64_t *field; /* set *field = value, or ... */
    int64_t value;
    void (*mutate)(void); /* ... call this */
    fattn_status want;
    const char *msg; /* exact text after "<fn>: ", or NULL: non-empty only */
    int forward_only; /* OUT_OF_MEMORY: fattn_check allocates nothing */
} row;

#define SET(f, v) &F.f, (v), NULL
#define DO(fn) NULL, 0, fn

static const row rows[] = {
    {"query NULL", DO(null_query), FATTN_ERR_NULL_POINTER, "query is NULL", 0},
    {"key NULL", DO(null_key), FATTN_ERR_NULL_POINTER, "key is NULL", 0},
    {"value NULL", DO(null_value), FATTN_ERR_NULL_POINTER, "value is NULL", 0},
    {"output NULL", DO(null_output), FATTN_ERR_NULL_POINTER, "output is NULL", 0},
    {"key data NULL", DO(null_key_data), FATTN_ERR_NULL_POINTER, "key.data is NULL", 0},
    {"mask data NULL", DO(null_mask_data), FATTN_ERR_NULL_POINTER, "mask.data is NULL", 0},
    {"lse data NULL", DO(null_lse_data), FATTN_ERR_NULL_POINTER, "lse.data is NULL", 0},
    {"allocator half set", DO(half_allocator), FATTN_ERR_NULL_POINTER,
     "params.allocator.alloc is NULL but params.allocator.free is set: set both or neither", 0},

    {"params version", DO(version_2), FATTN_ERR_UNSUPPORTED_VERSION,
     "params.version = 3 > 2: this library knows params up to version 2", 0},

    {"causal enum", DO(causal_3), FATTN_ERR_INVALID_ENUM,
     "params.causal = 3: not a fattn_causal (0..2)", 0},
    {"align enum", DO(align_2), FATTN_ERR_INVALID_ENUM,
     "params.align = 2: not a fattn_align (0..1)", 0},
    {"window flag", DO(window_flag_2), FATTN_ERR_INVALID_ENUM,
     "params.window_enabled = 2: must be 0 or 1", 0},
    {"isa enum", DO(isa_9), FATTN_ERR_INVALID_ENUM, "params.isa = 9: not a fattn_isa (0..4)", 0},
    {"query dtype 7", DO(query_dtype_7), FATTN_ERR_INVALID_ENUM,
     "query.dtype = 7: not a fattn_dtype (0..3)", 0},
    {"query dtype -1", DO(query_dtype_neg), FATTN_ERR_INVALID_ENUM,
     "query.dtype = -1: not a fattn_dtype (0..3)", 0},

    {"lse bf16", DO(lse_bf16), FATTN_ERR_DTYPE_MISMATCH,
     "lse.dtype = bf16: lse must be f32", 0},
    {"lse f16", DO(lse_f16), FATTN_ERR_DTYPE_MISMATCH,
     "lse.dtype = f16: lse must be f32", 0},
    {"query bool", DO(query_bool), FATTN_ERR_DTYPE_MISMATCH,
     "query.dtype = bool: query must be f32, bf16 or f16 (bool is for masks)", 0},
    {"lse bool", DO(lse_bool), FATTN_ERR_DTYPE_MISMATCH,
     "lse.dtype = bool: lse must be f32 (bool is for masks)", 0},
    {"key bool", DO(key_bool), FATTN_ERR_DTYPE_MISMATCH,
     "key.dtype = bool: key must be f32, bf16 or f16 (bool is for masks)", 0},
    {"value bool", DO(value_bool), FATTN_ERR_DTYPE_MISMATCH,
     "value.dtype = bool: value must be f32, bf16 or f16 (bool is for masks)", 0},
    {"output bool", DO(output_bool), FATTN_ERR_DTYPE_MISMATCH,
     "output.dtype = bool: output must be f32, bf16 or f16 (bool is for masks)", 0},
    {"bf16 query misaligned", DO(query_bf16_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},
    {"f16 value misaligned", DO(value_f16_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},
    {"bf16 mask misaligned", DO(mask_bf16_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},

    {"negative batch", SET(q.shape[0], -1), FATTN_ERR_INVALID_DIMENSION,
     "query.shape[0] (batch) = -1 < 0: batch must be >= 0", 0},
    {"zero heads", SET(q.shape[1], 0), FATTN_ERR_INVALID_DIMENSION,
     "query.shape[1] (heads) = 0 < 1: heads must be >= 1", 0},
    {"zero kv heads", SET(k.shape[1], 0), FATTN_ERR_INVALID_DIMENSION,
     "key.shape[1] (heads_kv) = 0 < 1: heads_kv must be >= 1", 0},
    {"zero head_dim", SET(q.shape[3], 0), FATTN_ERR_INVALID_DIMENSION,
     "query.shape[3] (head_dim) = 0 < 1: head_dim must be >= 1", 0},
    {"negative seq_k", SET(k.shape[2], -3), FATTN_ERR_INVALID_DIMENSION,
     "key.shape[2] (seq_k) = -3 < 0: seq_k must be >= 0", 0},
    {"huge head_dim", SET(q.shape[3], 5000), FATTN_ERR_INVALID_DIMENSION,
     "query.shape[3] (head_dim) = 5000 > 4096: head_dim must be at most FATTN_MAX_HEAD_DIM", 0},
    {"negative mask dim", SET(mask.shape[2], -1), FATTN_ERR_INVALID_DIMENSION,
     "mask.shape[2] (seq_q) = -1 < 0: seq_q must be >= 0", 0},

    {"key head_dim", SET(k.shape[3], 16), FATTN_ERR_SHAPE_MISMATCH,
     "key.shape[3] (head_dim) = 16 != query.shape[3] (head_dim) = 8: query and key must have the same head_dim", 0},
    {"key batch", SET(k.shape[0], 3), FATTN_ERR_SHAPE_MISMATCH,
     "key.shape[0] (batch) = 3 != query.shape[0] (batch) = 2: query, key and value must have the same batch size", 0},
    {"value batch", SET(v.shape[0], 1), FATTN_ERR_SHAPE_MISMATCH,
     "value.shape[0] (batch) = 1 != query.shape[0] (batch) = 2: query, key and value must have the same batch size", 0},
    {"value heads", SET(v.shape[1], 1), FATTN_ERR_SHAPE_MISMATCH,
     "value.shape[1] (heads_kv) = 1 != key.shape[1] (heads_kv) = 2: key and value must have the same number of heads", 0},
    {"value seq", SET(v.shape[2], 6), FATTN_ERR_SHAPE_MISMATCH,
     "value.shape[2] (seq_k) = 6 != key.shape[2] (seq_k) = 7: key and value must have the same sequence length", 0},
    {"output batch", SET(o.shape[0], 1), FATTN_ERR_SHAPE_MISMATCH,
     "output.shape[0] (batch) = 1 != query.shape[0] (batch) = 2: output must have query's batch size", 0},
    {"output heads", SET(o.shape[1], 2), FATTN_ERR_SHAPE_MISMATCH,
     "output.shape[1] (heads) = 2 != query.shape[1] (heads) = 4: output must have query's number of heads", 0},
    {"output seq", SET(o.shape[2], 4), FATTN_ERR_SHAPE_MISMATCH,
     "output.shape[2] (seq_q) = 4 != query.shape[2] (seq_q) = 5: output must have query's sequence length", 0},
    {"output head_dim", SET(o.shape[3], 8), FATTN_ERR_SHAPE_MISMATCH,
     "output.shape[3] (head_dim_v) = 8 != value.shape[3] (head_dim_v) = 6: output must have value's head_dim", 0},
    {"mask batch", SET(mask.shape[0], 3), FATTN_ERR_SHAPE_MISMATCH,
     "mask.shape[0] (batch) = 3 != query.shape[0] (batch) = 2: each mask dimension must equal the attention size or 1", 0},
    {"mask heads", SET(mask.shape[1], 2), FATTN_ERR_SHAPE_MISMATCH,
     "mask.shape[1] (heads) = 2 != query.shape[1] (heads) = 4: each mask dimension must equal the attention size or 1", 0},
    {"mask seq_q", SET(mask.shape[2], 4), FATTN_ERR_SHAPE_MISMATCH,
     "mask.shape[2] (seq_q) = 4 != query.shape[2] (seq_q) = 5: each mask dimension must equal the attention size or 1", 0},
    {"mask seq_k too small", SET(mask.shape[3], 6), FATTN_ERR_SHAPE_MISMATCH,
     "mask.shape[3] (seq_k) = 6 != key.shape[2] (seq_k) = 7: each mask dimension must equal the attention size or 1", 0},
    {"lse seq", SET(lse.shape[2], 6), FATTN_ERR_SHAPE_MISMATCH,
     "lse.shape[2] (seq_q) = 6 != query.shape[2] (seq_q) = 5: lse must be [batch, heads, seq_q, 1] of query", 0},
    {"lse last dim", SET(lse.shape[3], 2), FATTN_ERR_SHAPE_MISMATCH,
     "lse.shape[3] (one) = 2 != 1: lse must be [batch, heads, seq_q, 1] of query", 0},

    {"gqa not divisible", DO(kv_heads_3), FATTN_ERR_NOT_DIVISIBLE,
     "query.shape[1] (heads) = 4 is not a multiple of key.shape[1] (heads_kv) = 3: query heads must be a multiple of key/value heads", 0},

    {"negative stride", SET(q.stride[2], -8), FATTN_ERR_INVALID_STRIDE,
     "query.stride[2] (seq_q) = -8 < 0: strides must be >= 0", 0},

    {"extent sum overflow", DO(key_extent_overflow), FATTN_ERR_SIZE_OVERFLOW,
     "key: extent 9223372036854775807 + stride[1] (heads_kv) = 56 * (shape[1] - 1) = 1 overflows int64", 0},
    {"stride product overflow", DO(query_stride_mul_overflow), FATTN_ERR_SIZE_OVERFLOW,
     "query.stride[2] (seq_q) = 4611686018427387903 * (query.shape[2] - 1) = 4 overflows int64", 0},
    {"byte extent overflow", DO(value_bytes_overflow), FATTN_ERR_SIZE_OVERFLOW, NULL, 0},
    {"last offset INT64_MAX", DO(value_last_offset_int64_max), FATTN_ERR_SIZE_OVERFLOW, NULL, 0},
    {"huge seq_q", SET(q.shape[2], INT64_MAX), FATTN_ERR_INVALID_DIMENSION,
     "query.shape[2] (seq_q) = 9223372036854775807 > 2^40: dimensions must be at most FATTN_MAX_DIM", 0},
    {"seq_k past FATTN_MAX_DIM", SET(k.shape[2], FATTN_MAX_DIM + 1), FATTN_ERR_INVALID_DIMENSION, NULL, 0},

    {"negative scale", DO(scale_neg), FATTN_ERR_INVALID_VALUE,
     "params.scale = -1: must be finite and > 0 (0 means 1/sqrt(head_dim))", 0},
    {"NaN scale", DO(scale_nan), FATTN_ERR_INVALID_VALUE,
     "params.scale = nan: must be finite and > 0 (0 means 1/sqrt(head_dim))", 0},
    {"inf scale", DO(scale_inf), FATTN_ERR_INVALID_VALUE,
     "params.scale = inf: must be finite and > 0 (0 means 1/sqrt(head_dim))", 0},
    {"negative softcap", DO(softcap_neg), FATTN_ERR_INVALID_VALUE,
     "params.softcap = -2: must be finite and > 0 (0 means no soft-cap)", 0},
    {"subnormal softcap", DO(softcap_subnormal), FATTN_ERR_INVALID_VALUE,
     "params.softcap = 1e-39 < FLT_MIN = 1.17549e-38: a subnormal cap is refused (1/cap overflows)", 0},
    {"NaN softcap", DO(softcap_nan), FATTN_ERR_INVALID_VALUE,
     "params.softcap = nan: must be finite and > 0 (0 means no soft-cap)", 0},
    {"window left", DO(window_left_bad), FATTN_ERR_INVALID_VALUE,
     "params.window_left = -2 < -1: must be >= 0 or FATTN_WINDOW_UNLIMITED (-1)", 0},
    {"window right", DO(window_right_bad), FATTN_ERR_INVALID_VALUE,
     "params.window_right = -5 < -1: must be >= 0 or FATTN_WINDOW_UNLIMITED (-1)", 0},
    {"alibi NaN", DO(slope_nan), FATTN_ERR_INVALID_VALUE,
     "params.alibi_slopes[2] = nan: slopes must be finite", 0},
    {"q length too long", DO(q_len_big), FATTN_ERR_INVALID_VALUE,
     "params.q_lengths[1] = 6 > query.shape[2] (seq_q) = 5: each length must be in [0, seq_q]", 0},
    {"kv length negative", DO(kv_len_neg), FATTN_ERR_INVALID_VALUE,
     "params.kv_lengths[0] = -1 < 0: each length must be in [0, seq_k]", 0},

    {"output is key", DO(output_on_key), FATTN_ERR_OVERLAP, NULL, 0},
    {"output in mask", DO(output_on_mask), FATTN_ERR_OVERLAP, NULL, 0},
    {"lse in output", DO(lse_on_output), FATTN_ERR_OVERLAP, NULL, 0},
    {"lengths in output", DO(output_on_lengths), FATTN_ERR_OVERLAP, NULL, 0},
    {"output stride 0", DO(output_self_overlap), FATTN_ERR_OVERLAP,
     "output.stride[2] (seq_q) = 0 <= 0 (extent of its smaller-stride dimensions) with output.shape[2] = 5: two output elements would share an address", 0},
    {"output interleaved", DO(output_interleaved), FATTN_ERR_OVERLAP, NULL, 0},
    {"lse stride 0", DO(lse_self_overlap), FATTN_ERR_OVERLAP, NULL, 0},

    {"query misaligned", DO(query_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},
    {"kv_lengths misaligned", DO(kv_lengths_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},

    {"window vs causal alignment", DO(window_with_other_alignment), FATTN_ERR_INCOMPATIBLE_OPTIONS,
     "params.align = bottom-right != params.causal = top-left: the window must use the causal alignment", 0},
    {"alibi vs causal alignment", DO(alibi_with_other_alignment), FATTN_ERR_INCOMPATIBLE_OPTIONS,
     "params.align = bottom-right != params.causal = top-left: the ALiBi bias must use the causal alignment", 0},

    {"workspace misaligned", DO(workspace_misaligned), FATTN_ERR_MISALIGNED, NULL, 0},
    {"workspace too small", DO(workspace_too_small), FATTN_ERR_INVALID_VALUE, NULL, 0},
    {"workspace is query", DO(workspace_on_query), FATTN_ERR_OVERLAP, NULL, 0},
    {"workspace holds lse", DO(workspace_on_lse), FATTN_ERR_OVERLAP, NULL, 0},

    {"isa unavailable", DO(isa_unavailable), FATTN_ERR_ISA_UNAVAILABLE, NULL, 0},
    {"allocation fails", DO(allocator_fails), FATTN_ERR_OUT_OF_MEMORY, NULL, 1},
    {"allocator misaligned", DO(allocator_misaligned), FATTN_ERR_MISALIGNED, NULL, 1},
};

int failures;
int reached[FATTN_STATUS_COUNT];

static void poison_outputs(void)
{
    memset(F.ob, 0xA5, NO * sizeof(float));
    memset(F.lb, 0x5A, NL * sizeof(float));
}

static int outputs_untouched(void)
{
    const unsigned char *o = (const unsigned char *)F.ob;
    const unsigned char *l = (const unsigned char *)F.lb;
    for (size_t i = 0; i < NO * sizeof(float); i++)
        if (o[i] != 0xA5)
            return 0;
    for (size_t i = 0; i < NL * sizeof(float); i++)
        if (l[i] != 0x5A)
            return 0;
    return 1;
}

/* The record's promises: status set, one NUL-terminated line, fn prefix. */
void check_record(const char *name, const fattn_error *e,
                         fattn_status want, const char *fn, const char *msg)
{
    CHECK(e->status == (int32_t)want, "%s: record status %d, want %d", name,
          (int)e->status, (int)want);
    CHECK(memchr(e->message, '\0', sizeof e->message) != NULL,
          "%s: message not NUL-terminated", name);
    CHECK(strchr(e->message, '\n') == NULL, "%s: message has a newline", name);
    size_t fl = strlen(fn);
    CHECK(strncmp(e->message, fn, fl) == 0 && strncmp(e->message + fl, ": ", 2) == 0,
          "%s: message '%s' does not start with '%s: '", name, e->message, fn);
    const char *text = e->message + fl + 2;
    CHECK(strlen(text) > 0, "%s: empty message", name);
    if (msg)
        CHECK(strcmp(text, msg) == 0, "%s: message\n   got  '%s'\n   want '%s'", name,
              text, msg);
}

static void run_row(const row *r)
{
    if (r->mutate == isa_unavailable && unavailable_isa() < 0) {
        printf("SKIP %s: every path is available on this CPU\n", r->name);
        return;
    }
    reset();
    if (r->field)
        *r->field = r->value;
    else
        r->mutate();

    fattn_error e;
    memset(&e, 0x7F, sizeof e);
    poison_outputs();
    fattn_status s = fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e);
    if (r->forward_only) {
        CHECK(s == FATTN_OK, "%s: fattn_check returned %s, want ok", r->name,
              fattn_status_name(s));
    } else {
        CHECK(s == r->want, "%s: fattn_check returned %s (%s), want %s", r->name,
              fattn_status_name(s), e.message, fattn_status_name(r->want));
        check_record(r->name, &e, r->want, "fattn_check", r->msg);
    }
    CHECK(outputs_untouched(), "%s: fattn_check wrote the output", r->name);

    memset(&e, 0x7F, sizeof e);
    s = fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e);
    CHECK(s == r->want, "%s: fattn_forward returned %s (%s), want %s", r->name,
          fattn_status_name(s), e.message, fattn_status_name(r->want));
    check_record(r->name, &e, r->want, "fattn_forward", r->msg);
    CHECK(outputs_untouched(), "%s: a failing fattn_forward wrote the output",
          r->name);
    /* A NULL record is allowed and changes nothing but the reporting. */
    CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, NULL) == r->want,
          "%s: status differs with a NULL error record", r->name);
    if (s == r->want)
        reached[s] = 1;
}

static void test_valid_calls(void)
{
    fattn_error e;
    reset();
    CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "base problem rejected: %s", e.message);
    CHECK(e.status == FATTN_OK && e.message[0] == '\0', "ok record not cleared");
    CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "base forward failed: %s", e.message);
    CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, NULL, &e) == FATTN_OK,
          "NULL params rejected: %s", e.message);
    reached[FATTN_OK] = 1;

    /* Every float dtype for query, key, value, output and the additive
     * mask, in any combination (the buffers are f32-sized: a half tensor
     * uses their first half); a half tensor 2 bytes off an f32 boundary is
     * aligned to its element size. */
    static const int32_t combos[][5] = {
        {FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16},
        {FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16},
        {FATTN_DTYPE_F32, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_F32, FATTN_DTYPE_F32},
        {FATTN_DTYPE_F16, FATTN_DTYPE_BF16, FATTN_DTYPE_F32, FATTN_DTYPE_BF16, FATTN_DTYPE_F16},
        {FATTN_DTYPE_BF16, FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F32, FATTN_DTYPE_BF16},
    };
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        reset();
        F.q.dtype = combos[c][0];
        F.k.dtype = combos[c][1];
        F.v.dtype = combos[c][2];
        F.o.dtype = combos[c][3];
        F.mask.dtype = combos[c][4];
        if (c == 1) {
            F.k.data = (unsigned char *)F.kb + 2;
            F.o.data = (unsigned char *)F.ob + 2;
        }
        CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
              "dtypes %d %d %d %d mask %d rejected: %s", combos[c][0], combos[c][1],
              combos[c][2], combos[c][3], combos[c][4], e.message);
        CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
              "dtypes %d %d %d %d mask %d: forward failed: %s", combos[c][0], combos[c][1],
              combos[c][2], combos[c][3], combos[c][4], e.message);
    }

    /* Broadcasts and zero sizes that must be accepted. */
    reset();
    F.mask.shape[0] = 1;
    F.mask.shape[2] = 1;
    CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "[1,1,1,Sk] mask rejected: %s", e.message);
    reset();
    F.k.stride[0] = 0; /* one key set shared by every batch */
    F.v.stride[0] = 0;
    CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "stride-0 key rejected: %s", e.message);
    reset();
    F.p.mask = NULL;
    F.k.shape[2] = F.v.shape[2] = 0;
    CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "Sk = 0 rejected: %s", e.message);
    reset();
    F.q.shape[0] = F.k.shape[0] = F.v.shape[0] = F.o.shape[0] = 0;
    F.lse.shape[0] = F.mask.shape[0] = 0;
    CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "B = 0 rejected: %s", e.message);
    reset();
    F.p.window_enabled = 1;
    F.p.window_left = INT64_MAX;
    F.p.window_right = INT64_MAX;
    F.p.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    F.p.align = FATTN_ALIGN_BOTTOM_RIGHT;
    F.p.alibi_slopes = F.slopes;
    F.p.softcap = 30.0f;
    F.p.q_lengths = F.q_lengths;
    F.p.kv_lengths = F.kv_lengths;
    CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "every option at once rejected: %s", e.message);
}

/* A caller workspace gives the same result as the allocating path, bit
 * for bit, on every path, and no allocation happens (the allocator fails). */
static void test_workspace(void)
{
    fattn_error e;
    float *first = xmalloc(NO * sizeof(float));
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        reset();
        F.p.isa = isa;
        F.p.causal = FATTN_CAUSAL_TOP_LEFT;
        size_t need = 0;
        CHECK(fattn_workspace_size(F.qp, F.kp, F.vp, F.op, &F.p, &need, &e) == FATTN_OK,
              "fattn_workspace_size failed: %s", e.message);
        CHECK(need > 0 && need <= WS_BYTES, "workspace size %zu", need);
        CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
              "forward failed: %s", e.message);
        memcpy(first, F.ob, NO * sizeof(float));
        memset(F.ob, 0, NO * sizeof(float));
        F.p.workspace = F.ws;
        F.p.workspace_size = need;
        allocator_fails();
        CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
              "forward with a workspace of exactly %zu bytes failed (%s): %s", need,
              fattn_isa_name(isa), e.message);
        CHECK(memcmp(first, F.ob, NO * sizeof(float)) == 0,
              "%s: the workspace changed the result", fattn_isa_name(isa));
        F.p.workspace_size = need - 1;
        CHECK(fattn_check(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_ERR_INVALID_VALUE,
              "%s: a workspace one byte short was accepted", fattn_isa_name(isa));
        /* The size query ignores the workspace fields. */
        size_t again = 0;
        CHECK(fattn_workspace_size(F.qp, F.kp, F.vp, F.op, &F.p, &again, &e) == FATTN_OK &&
                  again == need,
              "fattn_workspace_size looked at params.workspace");
    }
    reset();
    size_t untouched = 12345;
    CHECK(fattn_workspace_size(F.qp, F.kp, F.vp, F.op, &F.p, NULL, &e) ==
              FATTN_ERR_NULL_POINTER,
          "fattn_workspace_size accepted bytes = NULL");
    check_record("workspace_size NULL", &e, FATTN_ERR_NULL_POINTER, "fattn_workspace_size",
                 "bytes is NULL");
    F.k.shape[3] = 16;
    CHECK(fattn_workspace_size(F.qp, F.kp, F.vp, F.op, &F.p, &untouched, &e) ==
                  FATTN_ERR_SHAPE_MISMATCH && untouched == 12345,
          "fattn_workspace_size: a bad call must fail and leave *bytes alone");
    free(first);
}

static int env_bogus(void)
{
    fattn_error e;
    reset();
    fattn_status s = fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e);
    CHECK(s == FATTN_ERR_ISA_UNAVAILABLE, "FATTN_ISA=bogus: got %s",
          fattn_status_name(s));
    check_record("FATTN_ISA=bogus", &e, FATTN_ERR_ISA_UNAVAILABLE, "fattn_forward",
                 "FATTN_ISA = 'bogus': unknown path (expected auto, scalar, avx2, avx512 or avx512bf16)");
    CHECK(fattn_isa_auto(&e) == FATTN_ISA_AUTO, "fattn_isa_auto resolved a bogus FATTN_ISA");
    CHECK(!fattn_isa_available(FATTN_ISA_AUTO), "auto available under a bogus FATTN_ISA");
    CHECK(fattn_fma_peak_gflops(FATTN_ISA_AUTO, 0.01) == 0.0,
          "the peak of an unresolvable auto path was measured");
    /* A forced path does not depend on the override. */
    F.p.isa = FATTN_ISA_SCALAR;
    CHECK(fattn_forward(F.qp, F.kp, F.vp, F.op, &F.p, &e) == FATTN_OK,
          "forced scalar failed under FATTN_ISA=bogus: %s", e.message);
    printf("%s\n", failures ? "FAILED" : "ok: FATTN_ISA=bogus fails clearly");
    return failures != 0;
}

int main(int argc, char **argv)
{
    F.qb = xmalloc(NQ * sizeof(float));
    F.kb = xmalloc(NK * sizeof(float));
    F.vb = xmalloc(NV * sizeof(float));
    F.ob = xmalloc(NO * sizeof(float));
    F.mb = xmalloc(NM * sizeof(float));
    F.lb = xmalloc(NL * sizeof(float));
    F.ws = aligned_alloc(64, WS_BYTES);
    if (!F.ws)
        return 2;
    fill(F.qb, NQ, 1);
    fill(F.kb, NK, 2);
    fill(F.vb, NV, 3);
    fill(F.mb, NM, 4);

    int rc;
    if (argc > 1 && strcmp(argv[1], "env-bogus") == 0) {
        rc = env_bogus();
    } else {
        test_status_names();
        test_valid_calls();
        test_packed();
        test_workspace();
        test_peak();
        test_extremes();
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            run_row(&rows[i]);
        for (int s = 0; s < FATTN_STATUS_COUNT; s++) {
            if (s == FATTN_ERR_ISA_UNAVAILABLE && unavailable_isa() < 0)
                continue;
            /* fattn_forward takes every dtype it can name: only fattn_merge
             * returns it (tests/merge/test_merge_errors.c). */
            if (s == FATTN_ERR_UNSUPPORTED_DTYPE)
                continue;
            CHECK(reached[s], "status %d (%s) never reached", s, fattn_status_name(s));
        }
        printf("%zu validation rows, %d failures\n", sizeof rows / sizeof rows[0],
               failures);
        rc = failures != 0;
    }
    free(F.qb);
    free(F.kb);
    free(F.vb);
    free(F.ob);
    free(F.mb);
    free(F.lb);
    free(F.ws);
    return rc;
}
