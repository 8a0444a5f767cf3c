/*
 * fattn.h - flash-style tiled attention for x86 CPUs.
 *
 * The one public header of libfattn. It compiles on its own as C11 and as C++.
 *
 * What the library computes, for every batch b and query head h:
 *
 *     S[i][j] = scale * dot(Q[b,h,i,:], K[b,g,j,:])          g = h / (Hq / Hkv)
 *     S[i][j] = softcap * tanh(S[i][j] / softcap)             if softcap > 0
 *     S[i][j] += mask[b,h,i,j] - slope[h] * |pos(i) - j|      additive mask, ALiBi
 *     S[i][j] = -inf                                          where (i, j) is not visible
 *     P[i][j] = exp(S[i][j] - max_j S[i][j]) / sum_j exp(...)
 *     O[b,h,i,:] = sum_j P[i][j] * V[b,g,j,:]
 *     LSE[b,h,i] = log(sum_j exp(S[i][j]))                    natural log
 *
 * without ever materialising S: queries and keys are processed in tiles and the
 * softmax is computed online (running maximum and sum, rescaled per key tile),
 * as in FlashAttention. Extra memory is O(tile), independent of sequence length.
 *
 * Errors: every entry point validates all of its arguments before any kernel
 * runs. A failing call returns a status code other than FATTN_OK, fills the
 * optional caller-provided error record with a one-line message naming the
 * function, the tensor, the dimension and the values involved, and writes
 * nothing to the output or LSE tensors. The library never aborts, never prints,
 * keeps no global error state and reads no environment variable except the
 * documented ISA override (FATTN_ISA, see fattn_isa).
 *
 * Thread safety: all functions may be called concurrently from any number of
 * threads on distinct outputs. The only global state is the once-only choice of
 * the automatic kernel path, made thread-safely on first use. A call runs on
 * the calling thread unless its params name a pool or an executor; the
 * library starts threads only in fattn_pool_create, never behind a call.
 */
#ifndef FATTN_H
#define FATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Library version: major * 10000 + minor * 100 + patch. */
#define FATTN_VERSION_MAJOR 0
#define FATTN_VERSION_MINOR 1
#define FATTN_VERSION_PATCH 0
#define FATTN_VERSION_NUMBER \
    (FATTN_VERSION_MAJOR * 10000 + FATTN_VERSION_MINOR * 100 + FATTN_VERSION_PATCH)

/* "MAJOR.MINOR.PATCH" of the linked library (may differ from the header's). */
const char *fattn_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Stable numbers: codes are only ever appended, never renumbered or reused.
 */
typedef enum fattn_status {
    FATTN_OK = 0,
    /* A required pointer is NULL: a tensor descriptor, its data, the LSE data,
     * a lengths or slopes array that a field says is present, an allocator
     * with only one of its two functions, fattn_merge's part arrays. */
    FATTN_ERR_NULL_POINTER = 1,
    /* An enum-valued field holds a value outside its enum (dtype, causal mode,
     * alignment, ISA, window flag). */
    FATTN_ERR_INVALID_ENUM = 2,
    /* A valid dtype that this entry point does not take: fattn_merge's
     * tensors are f32 only (fattn_forward takes every float dtype). */
    FATTN_ERR_UNSUPPORTED_DTYPE = 3,
    /* A dtype that is valid in general but not for this tensor (a bool query,
     * an f32 LSE is required, ...). */
    FATTN_ERR_DTYPE_MISMATCH = 4,
    /* A dimension is negative, zero where it must be positive, or above the
     * documented maximum. */
    FATTN_ERR_INVALID_DIMENSION = 5,
    /* Two tensors disagree on a dimension they must share (batch, heads,
     * sequence length, head_dim), or a mask is neither full size nor 1. */
    FATTN_ERR_SHAPE_MISMATCH = 6,
    /* A count must divide another: query heads by key/value heads (GQA), an
     * embedding dimension by the number of heads. */
    FATTN_ERR_NOT_DIVISIBLE = 7,
    /* A stride is negative. */
    FATTN_ERR_INVALID_STRIDE = 8,
    /* A size, element count or byte extent does not fit in int64_t, size_t or
     * the address space. */
    FATTN_ERR_SIZE_OVERFLOW = 9,
    /* A scalar value is out of its range: scale or softcap negative, NaN or
     * infinite; a window size below -1; a per-batch length outside
     * [0, seq_len]; an ALiBi slope that is NaN or infinite; fattn_merge's
     * parts outside [1, FATTN_MAX_MERGE_PARTS]. */
    FATTN_ERR_INVALID_VALUE = 10,
    /* The output or LSE overlaps an input, each other, or itself (two output
     * elements at the same address), or a caller workspace overlaps any of
     * them. Judged conservatively: each tensor's bytes are taken as the
     * range from its lowest to its highest element, so layouts that
     * interleave without sharing an element are refused too; an output
     * passes the self-overlap test when, with its dimensions of size > 1
     * sorted by stride, each stride exceeds the extent of the smaller ones. */
    FATTN_ERR_OVERLAP = 11,
    /* The workspace allocation failed. */
    FATTN_ERR_OUT_OF_MEMORY = 12,
    /* fattn_params.version is newer than this library understands. */
    FATTN_ERR_UNSUPPORTED_VERSION = 13,
    /* The requested kernel path (fattn_params.isa, or FATTN_ISA in the
     * environment) is not compiled in or not supported by this CPU and OS. */
    FATTN_ERR_ISA_UNAVAILABLE = 14,
    /* A data pointer is not aligned to its element size. */
    FATTN_ERR_MISALIGNED = 15,
    /* Params fields that cannot be combined (e.g. window or ALiBi alignment
     * different from the causal alignment). */
    FATTN_ERR_INCOMPATIBLE_OPTIONS = 16
} fattn_status;

/* Number of status codes (one more than the largest). */
#define FATTN_STATUS_COUNT 17

/*
 * A stable, static, lower-case name for a status ("ok", "shape_mismatch", ...);
 * "unknown_status" for a value outside the enum. Never NULL.
 */
const char *fattn_status_name(int status);

#define FATTN_ERROR_MESSAGE_SIZE 256

/*
 * Optional error record filled by a failing call. On success `status` is set
 * to FATTN_OK and `message` to the empty string. The message is one line, at
 * most FATTN_ERROR_MESSAGE_SIZE - 1 bytes, always NUL-terminated, of the form
 *   fattn_forward: key.shape[3] (head_dim) = 128 != query.shape[3] (head_dim) = 64: query and key must have the same head_dim
 */
typedef struct fattn_error {
    int32_t status;
    char message[FATTN_ERROR_MESSAGE_SIZE];
} fattn_error;

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Element types. The float types are the dtypes of query, key, value,
 * output and an additive mask, in any combination: each tensor has its own
 * (an f32 query with a bf16 or f16 KV cache and an f32 output is as valid
 * as all bf16). The LSE is always f32; bool is for masks only.
 *
 * Numerics, whatever the dtypes: half-precision inputs are widened to f32
 * exactly as they are read; scores, the softmax, the LSE and the output
 * accumulator are f32 on every path, so a half-precision tensor costs only
 * its own rounding. A bf16 or f16 output is the f32 result rounded once,
 * to nearest even; NaN stays a (quiet) NaN; f16 overflows to +-inf past
 * 65504 (as IEEE rounding says: from 65520 on), and results below f16's
 * smallest normal become subnormals or 0.
 *
 * One exception, opted into by the path: FATTN_ISA_AVX512BF16 computes
 * with vdpbf16ps when query, key and value are all bf16. Its Q.K^T products
 * are exact (bf16 times bf16 fits f32) and summed in f32, the scale applied
 * to the f32 sums (Q is never rounded); vdpbf16ps reads subnormal bf16
 * inputs (below 2^-126) as 0 and flushes subnormal sums to 0. P.V
 * multiplies the probabilities rounded to bf16 (to nearest even, 8
 * significant bits, as PyTorch's and oneDNN's bf16 attention do) while the
 * row sum and the LSE keep them in f32: each weight carries a relative
 * error of up to 2^-8, so the output's error is at most 2^-8 * max|V|
 * (3.9e-3 * max|V|), usually far less as the errors average out.
 * FATTN_ISA_AUTO takes that path for all-bf16 inputs on CPUs that have it,
 * never for any other dtype combination; force FATTN_ISA_AVX512 to keep P
 * in f32.
 */
typedef enum fattn_dtype {
    FATTN_DTYPE_F32 = 0,  /* IEEE binary32 */
    FATTN_DTYPE_BF16 = 1, /* bfloat16: the top 16 bits of a binary32 */
    FATTN_DTYPE_F16 = 2,  /* IEEE binary16 */
    FATTN_DTYPE_BOOL = 3  /* uint8_t, 0 = false, anything else = true; masks only */
} fattn_dtype;

/* Dimension indices of the logical 4-D shape. */
enum {
    FATTN_DIM_BATCH = 0,
    FATTN_DIM_HEADS = 1,
    FATTN_DIM_SEQ = 2,
    FATTN_DIM_HEAD_DIM = 3 /* the last dimension: head_dim, or Sk for a mask */
};

/*
 * A strided view of a 4-D tensor. Element (n, h, s, d) lives at
 *     (T *)data + n * stride[0] + h * stride[1] + s * stride[2] + d * stride[3]
 * Strides are in elements, not bytes, and must be >= 0. Any permutation of the
 * dimensions in memory is just a choice of strides: BHSD (contiguous per head),
 * BSHD (the [batch, seq, heads * head_dim] layout of most models), a fused QKV
 * buffer, a KV cache larger than the sequence. A stride of 0 broadcasts one
 * slice along that dimension (inputs only; an output must not have two
 * elements at the same address).
 *
 * Shapes, by role (Hq query heads, Hkv key/value heads, D = head_dim of query
 * and key, Dv = head_dim of value and output):
 *     query  [B, Hq,  Sq, D ]     key    [B, Hkv, Sk, D ]
 *     value  [B, Hkv, Sk, Dv]     output [B, Hq,  Sq, Dv]
 *     mask   [B|1, Hq|1, Sq|1, Sk|1]  (additive f32/bf16/f16, or bool)
 *     lse    [B, Hq, Sq, 1]       (f32)
 * query, key, value and output may each be f32, bf16 or f16 (fattn_dtype).
 * B, Sq and Sk may be 0 (an empty problem: nothing to compute; with Sk = 0
 * every row is fully masked). Hq, Hkv, D, Dv must be >= 1, and D, Dv <=
 * FATTN_MAX_HEAD_DIM. Every dimension is at most FATTN_MAX_DIM (2^40), so
 * that no position arithmetic can overflow, even for a stride-0 broadcast
 * that describes a huge tensor in a few bytes. Data pointers must be
 * non-NULL and aligned to the element size even when the tensor is empty.
 *
 * Inputs are only read, never written, whatever `data`'s constness.
 */
typedef struct fattn_tensor {
    void *data;
    int32_t dtype; /* fattn_dtype */
    int64_t shape[4];
    int64_t stride[4];
} fattn_tensor;

#define FATTN_MAX_HEAD_DIM 4096
#define FATTN_MAX_DIM (INT64_C(1) << 40)

/*
 * Fill *t as a contiguous BHSD f32/bf16/f16 tensor of the given shape
 * (stride = {H*S*D, S*D, D, 1}). No validation beyond what fattn_check does
 * later; a convenience for the common case.
 */
void fattn_tensor_contiguous(fattn_tensor *t, void *data, fattn_dtype dtype,
                             int64_t batch, int64_t heads, int64_t seq,
                             int64_t head_dim);

/*
 * View a packed [batch, seq, embed_dim] buffer (token t of batch n starts at
 * element n * seq * token_stride + t * token_stride) as the 4-D tensor
 * [batch, num_heads, seq, embed_dim / num_heads]: heads split the embedding
 * dimension, the BSHD layout. token_stride = 0 means embed_dim; a larger one
 * views a slice of a wider row, e.g. the Q, K or V third of a fused QKV
 * projection with token_stride = 3 * embed_dim and data offset by 0, embed_dim
 * or 2 * embed_dim elements.
 *
 * Errors (nothing is written to *view): NULL view or data
 * (FATTN_ERR_NULL_POINTER), dtype out of range (FATTN_ERR_INVALID_ENUM),
 * batch or seq < 0, embed_dim or num_heads < 1 (FATTN_ERR_INVALID_DIMENSION),
 * embed_dim % num_heads != 0 (FATTN_ERR_NOT_DIVISIBLE), token_stride < 0 or
 * 0 < token_stride < embed_dim (FATTN_ERR_INVALID_STRIDE), a stride or extent
 * product that overflows int64_t (FATTN_ERR_SIZE_OVERFLOW).
 */
fattn_status fattn_tensor_from_packed(fattn_tensor *view, void *data,
                                      fattn_dtype dtype, int64_t batch,
                                      int64_t seq, int64_t embed_dim,
                                      int64_t num_heads, int64_t token_stride,
                                      fattn_error *err);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Causal masking and the alignment of the diagonal when Sq != Sk.
 *
 * Query row i sits at key position pos(i):
 *     top-left:     pos(i) = i                 (PyTorch is_causal, tril())
 *     bottom-right: pos(i) = i + Sk - Sq       (FlashAttention >= 2.1, ONNX,
 *                                               a KV cache: the last query
 *                                               sees the last key)
 * Causal keeps key j for row i iff j <= pos(i).
 *
 * Sq = 3, Sk = 5 (x = visible, . = masked):
 *
 *     top-left         bottom-right
 *     x . . . .        x x x . .
 *     x x . . .        x x x x .
 *     x x x . .        x x x x x
 *
 * Sq = 5, Sk = 3:
 *
 *     top-left         bottom-right
 *     x . .            . . .      <- rows with pos(i) < 0 are fully masked:
 *     x x .            . . .         output 0, LSE -inf
 *     x x x            x . .
 *     x x x            x x .
 *     x x x            x x x
 *
 * With per-batch lengths, Sq and Sk above are that batch's valid lengths.
 */
typedef enum fattn_causal {
    FATTN_CAUSAL_NONE = 0,
    FATTN_CAUSAL_TOP_LEFT = 1,
    FATTN_CAUSAL_BOTTOM_RIGHT = 2
} fattn_causal;

/* Which pos(i) (see fattn_causal) the window and ALiBi measure from. */
typedef enum fattn_align {
    FATTN_ALIGN_TOP_LEFT = 0,
    FATTN_ALIGN_BOTTOM_RIGHT = 1
} fattn_align;

/* Kernel paths. */
typedef enum fattn_isa {
    FATTN_ISA_AUTO = 0,   /* the best path this CPU and OS support */
    FATTN_ISA_SCALAR = 1, /* portable C, the semantic reference */
    FATTN_ISA_AVX2 = 2,   /* AVX2 + FMA */
    FATTN_ISA_AVX512 = 3, /* AVX-512 F + BW + DQ + VL */
    /* FATTN_ISA_AVX512 + AVX512_BF16 (Cooper Lake, Sapphire Rapids, Zen 4
     * and later): vdpbf16ps for all-bf16 query, key and value, with P
     * rounded to bf16 (fattn_dtype says what that costs); every other
     * problem runs FATTN_ISA_AVX512's kernels. */
    FATTN_ISA_AVX512BF16 = 4
} fattn_isa;

/* Number of fattn_isa values, AUTO included: every valid isa is in
 * [0, FATTN_ISA_COUNT). Iterate paths as 1 .. FATTN_ISA_COUNT - 1 with
 * fattn_isa_name() and fattn_isa_available(); no other list is needed. */
#define FATTN_ISA_COUNT 5

#define FATTN_WINDOW_UNLIMITED (-1)

/*
 * Optional allocator for the O(tile) workspace. Both NULL: malloc and free.
 * alloc(size, opaque) returns memory aligned to at least 64 bytes, or NULL
 * (the call then fails with FATTN_ERR_OUT_OF_MEMORY and writes nothing).
 */
typedef struct fattn_allocator {
    void *(*alloc)(size_t size, void *opaque);
    void (*free)(void *ptr, void *opaque);
    void *opaque;
} fattn_allocator;

typedef struct fattn_pool fattn_pool;
typedef struct fattn_executor fattn_executor;

/*
 * The newest fattn_params layout this header describes.
 *
 * Growth rule (the ABI promise): fields are only ever appended, in groups,
 * and each group raises FATTN_PARAMS_VERSION. The library reads exactly the
 * fields of the version the caller wrote in `version`, never a byte past
 * them: version 0 and 1 both mean layout 1 (every field up to and including
 * workspace_size, FATTN_PARAMS_V1_SIZE bytes), forever, so a zero-initialised
 * struct compiled against an older header stays valid and is never read past
 * its end. Fields of a newer group are used only when `version` is at least
 * that group's version; set version = FATTN_PARAMS_VERSION to use them.
 */
#define FATTN_PARAMS_VERSION 2

/*
 * Attention options. A zero-initialised struct (`fattn_params p = {0};`) or a
 * NULL pointer means: plain attention, scale 1/sqrt(D), no mask, automatic
 * kernel path. Every field's zero value is its default.
 *
 * Combination rules (a key is visible only if every active rule keeps it):
 *   - causal, window, per-batch lengths and a bool mask each remove keys; an
 *     additive mask of -inf removes a key too.
 *   - A row whose keys are all removed ("fully masked") gets output 0 and LSE
 *     -inf, never NaN, whatever removed them. So does a row i >= q_lengths[b],
 *     and every row when Sk (or kv_lengths[b]) is 0.
 *   - Order: softcap applies to scale * Q.K^T first, then the additive mask
 *     and the ALiBi bias are added (as in Gemma-2 and FlashAttention).
 *   - Data is not scanned for NaN or Inf. A NaN score that a row can see
 *     (from query, key, or the additive mask) makes that row's output and
 *     LSE NaN on every path; it never makes the row look fully masked. A
 *     +inf score does the same unless softcap maps it to the cap. An
 *     additive -inf does not hide a NaN or +inf score (NaN + -inf is NaN);
 *     causal, window, lengths and a bool mask do. NaN or Inf in a value row
 *     reaches the rows that see that key, and on the SIMD paths may also
 *     reach rows of the same tiles that do not (0 * NaN). Additive mask
 *     values should be finite or -inf.
 *   - Floating-point exception flags: no path raises FE_INVALID,
 *     FE_DIVBYZERO or FE_OVERFLOW, masked keys included, so callers that
 *     trap on them (feenableexcept) are safe, when the data are finite (an
 *     additive mask may hold -inf) and the caller's parts of the formulas
 *     above stay within float range: each score however its dot product is
 *     evaluated (paths multiply and add in different orders, so scale *
 *     |q_d|, sum_d |q_d * k_d| and scale * sum_d |q_d * k_d| at most
 *     FLT_MAX), the score plus the mask and the ALiBi bias (slope * |pos(i)
 *     - j| included), and sum_j |V[j][e]| for every column e (the output is
 *     accumulated before it is divided by the row's sum). Within that, any
 *     values are fine, scores near +-FLT_MAX, masks of -FLT_MAX and
 *     soft-caps from FLT_MIN to FLT_MAX included: the kernels' own steps
 *     (score - max, the online rescale, score / softcap, tanh, the row sum,
 *     LSE, 1 / sum) never overflow. FE_INEXACT and FE_UNDERFLOW are raised
 *     as any float code does.
 */
typedef struct fattn_params {
    /* 0 or FATTN_PARAMS_VERSION (= the layout in this header). A newer value
     * than the library knows is FATTN_ERR_UNSUPPORTED_VERSION. */
    uint32_t version;

    /* Multiplies Q.K^T. 0 = 1/sqrt(D). Otherwise finite and > 0. */
    float scale;

    /* fattn_causal. */
    int32_t causal;

    /* Sliding window: when window_enabled = 1 (0 = off, other values are
     * FATTN_ERR_INVALID_ENUM), row i sees key j only if
     *     pos(i) - window_left <= j <= pos(i) + window_right
     * with pos(i) from `align`. Each side is >= 0, or FATTN_WINDOW_UNLIMITED.
     * window_left = W - 1, window_right = 0 with causal is Mistral's window
     * of W keys. */
    int32_t window_enabled;
    int64_t window_left;
    int64_t window_right;

    /* fattn_align for window and ALiBi. Without causal masking it is used as
     * given. With causal masking the window and ALiBi use the causal
     * alignment: the zero value (FATTN_ALIGN_TOP_LEFT) follows `causal`, so
     * FATTN_CAUSAL_BOTTOM_RIGHT with align left at 0 gives a bottom-right
     * window; FATTN_ALIGN_BOTTOM_RIGHT with FATTN_CAUSAL_TOP_LEFT and a
     * window or ALiBi is FATTN_ERR_INCOMPATIBLE_OPTIONS. */
    int32_t align;

    /* Logit soft-capping: 0 = off, otherwise finite and >= FLT_MIN (a
     * subnormal cap is FATTN_ERR_INVALID_VALUE: 1/cap would overflow). */
    float softcap;

    /* Optional mask, NULL = none. dtype F32, BF16 or F16: added to the
     * scores (-inf removes a key). dtype BOOL: a keep-mask, nonzero keeps the key (as
     * PyTorch's boolean attn_mask), 0 removes it. Shape [B|1, Hq|1, Sq|1,
     * Sk|1]: each dimension equals the attention size or 1 (broadcast); a
     * stride of 0 broadcasts too. A [B, 1, 1, Sk] mask is key padding. */
    const fattn_tensor *mask;

    /* Optional ALiBi slopes, NULL = none: Hq finite floats (any sign; 0
     * disables the bias for that head); the bias of key j for row i of head h
     * is -alibi_slopes[h] * |pos(i) - j|. */
    const float *alibi_slopes;

    /* Optional per-batch valid lengths, NULL = all full. q_lengths[b] in
     * [0, Sq], kv_lengths[b] in [0, Sk]. Keys j >= kv_lengths[b] are never
     * seen; output rows i >= q_lengths[b] are written as 0 (LSE -inf). The
     * padding's contents are never read. */
    const int64_t *q_lengths;
    const int64_t *kv_lengths;

    /* Optional output: log-sum-exp per row, shape [B, Hq, Sq, 1], f32. NULL =
     * not computed. Fully masked rows get -inf. */
    const fattn_tensor *lse;

    /* fattn_isa: AUTO, or force one path (FATTN_ERR_ISA_UNAVAILABLE if this
     * build, CPU or OS lacks it). A per-call choice: no global state. */
    int32_t isa;

    /* Optional workspace allocator; NULL functions = malloc/free. Used only
     * when `workspace` is NULL. */
    fattn_allocator allocator;

    /* Optional caller-owned workspace, NULL = allocate per call. When set,
     * it must hold at least fattn_workspace_size() bytes for this call
     * (FATTN_ERR_INVALID_VALUE otherwise), be 64-byte aligned
     * (FATTN_ERR_MISALIGNED) and share no byte with any tensor or array of
     * the call (FATTN_ERR_OVERLAP); fattn_forward then allocates nothing.
     * Its contents are scratch: overwritten, never read before written. Use
     * one per thread. Reusing a workspace matters in hot loops: a fresh
     * allocation can cost a page fault per 4 KiB on every call. */
    void *workspace;
    size_t workspace_size;

    /* ---- layout 2 (read only when version >= 2) ---------------------- */

    /* Optional parallelism, both NULL = the calling thread runs everything
     * (as with version 0 or 1). At most one of the two may be set
     * (FATTN_ERR_INCOMPATIBLE_OPTIONS). `pool`: run the call's work items on
     * the pool's threads (fattn_pool_create), the calling thread included.
     * `executor`: hand them to the caller's own thread pool (OpenMP, TBB,
     * ggml's, ...) as independent tasks; the library then creates no
     * thread. Either one must stay valid while a call or plan uses it.
     * Results are the same bits either way (see "Determinism" below). The
     * workspace (fattn_workspace_size, fattn_plan_workspace_size) covers
     * every task. */
    fattn_pool *pool;
    const fattn_executor *executor;
} fattn_params;

/* Bytes of layout 1: what a caller using version 0 or 1 must provide. */
#define FATTN_PARAMS_V1_SIZE offsetof(fattn_params, pool)

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Validate a forward call without computing anything. Same arguments and same
 * checks as fattn_forward (except allocation), so it returns exactly the
 * status fattn_forward would return before running a kernel. `err` may be
 * NULL; `params` may be NULL (all defaults).
 */
fattn_status fattn_check(const fattn_tensor *query, const fattn_tensor *key,
                         const fattn_tensor *value, const fattn_tensor *output,
                         const fattn_params *params, fattn_error *err);

/*
 * Attention forward: validate, then compute output (and params->lse if
 * given). On any error the output and LSE are left untouched. The same as
 * creating a plan, running it once and destroying it, without the plan's
 * allocation: the workspace is params->workspace or allocated for the call.
 */
fattn_status fattn_forward(const fattn_tensor *query, const fattn_tensor *key,
                           const fattn_tensor *value,
                           const fattn_tensor *output,
                           const fattn_params *params, fattn_error *err);

/*
 * The workspace fattn_forward needs for these arguments, in bytes, through
 * *bytes: the same checks as fattn_check (params->workspace and
 * workspace_size are ignored), then the size for the path the call would
 * run. It depends on the path, head_dim, head_dim_v, Sq, the heads ratio,
 * whether key and value have unit stride along head_dim (which decides
 * between a path's two kernels) and the number of tasks (params->pool or
 * params->executor: each task has its own share), never on the key length. *bytes is set
 * only on success; `bytes` NULL is FATTN_ERR_NULL_POINTER.
 */
fattn_status fattn_workspace_size(const fattn_tensor *query,
                                  const fattn_tensor *key,
                                  const fattn_tensor *value,
                                  const fattn_tensor *output,
                                  const fattn_params *params, size_t *bytes,
                                  fattn_error *err);

/* ------------------------------------------------------------------------ */
/* Merging partial results                                                  */
/* ------------------------------------------------------------------------ */

/* The most parts one fattn_merge call takes. More can be merged in groups:
 * a merge's output and lse are a partial result themselves. */
#define FATTN_MAX_MERGE_PARTS 1024

/*
 * Combine `parts` partial results of the same query rows, each computed
 * over its own set of keys, into the result over all of them: what a
 * split-K plan does inside (the same arithmetic), and what a caller needs
 *   - for a shared prefix and per-sequence suffixes: one call attends
 *     every sequence's queries to the prefix (its keys and values
 *     broadcast over the batch with stride 0; no causal mask, the prefix
 *     preceding every query), another to the suffixes (bottom-right
 *     causal: the suffix's keys line up with the queries as in the whole
 *     sequence), then one merge;
 *   - for context parallelism: each process or machine attends the same
 *     queries to its shard of the keys and sends its output and LSE; one
 *     merge gives the full result (merges nest, so a tree of merges works
 *     too, rounding aside).
 *
 * Part k is outputs[k] [B, H, S, Dv] and lses[k] [B, H, S, 1], the output
 * and params.lse that fattn_forward writes for a subset K_k of the keys.
 * For each row (b, h, i), with l_k = lses[k][b, h, i, 0] and o_k its
 * output row:
 *
 *     M          = max_k l_k
 *     w_k        = exp(l_k - M)
 *     output row = sum_k w_k o_k / sum_k w_k
 *     lse        = M + log(sum_k w_k)
 *
 * which is the attention over the union of the K_k (the softmax over
 * disjoint sets, recombined), up to rounding, when the K_k are disjoint
 * and every part scored its keys as the whole problem does: the same query
 * rows, scale, soft-cap, mask values and ALiBi bias (the rules that only
 * decide which keys a part sees may differ, as in the prefix case above).
 * That is the caller's to ensure: a key in two parts counts twice. Rows are
 * merged independently, so each row may split its keys its own way.
 *
 * Per row:
 *   - a part with l_k = -inf (it saw no key: fully masked) contributes
 *     nothing, and its output row is not read (it may hold anything);
 *   - every part -inf: output 0 and lse -inf, a fully masked row, as
 *     fattn_forward writes it;
 *   - any l_k NaN or +inf (no sum of exponentials gives +inf): output and
 *     lse NaN, as a NaN score poisons a row. Output rows are not scanned:
 *     a NaN or Inf in the output row of a contributing part reaches the
 *     merged row.
 *
 * Tensors: every outputs[k] and output have one shape [B, H, S, Dv], every
 * lses[k] and lse are [B, H, S, 1], all f32, with the rules of
 * fattn_forward's output and lse: H >= 1, 1 <= Dv <= FATTN_MAX_HEAD_DIM, B
 * and S may be 0 (nothing to do), any strides (BHSD, BSHD, a slice of a
 * larger buffer), data non-NULL and 4-byte aligned even when empty. The
 * parts may broadcast (stride 0) and may share memory with each other
 * (merging one part twice is allowed); output and lse may not (no two
 * elements at one address) and must not overlap any part or each other
 * (FATTN_ERR_OVERLAP, judged as for fattn_forward). lse may be NULL (not
 * wanted); lses may not. The part arrays are read for `parts` entries.
 *
 * Errors, checked in this order before anything is written (a call with
 * several faults reports the first):
 *   1. outputs, lses or output NULL (FATTN_ERR_NULL_POINTER); parts
 *      outside [1, FATTN_MAX_MERGE_PARTS] (FATTN_ERR_INVALID_VALUE);
 *   2. output alone, then lse alone and its shape against output's;
 *   3. for each k in order, outputs[k] and lses[k] alone, then their
 *      shapes against output's (FATTN_ERR_SHAPE_MISMATCH);
 *   4. output and lse: no two elements at one address, apart from every
 *      part, apart from each other (FATTN_ERR_OVERLAP).
 * "Alone" is what fattn_forward checks of a tensor: data NULL
 * (FATTN_ERR_NULL_POINTER), dtype out of range (FATTN_ERR_INVALID_ENUM),
 * bf16 or f16 (FATTN_ERR_UNSUPPORTED_DTYPE: parts, output and lse are f32
 * only), bool (FATTN_ERR_DTYPE_MISMATCH), dimensions (FATTN_ERR_INVALID_DIMENSION),
 * negative strides (FATTN_ERR_INVALID_STRIDE), alignment
 * (FATTN_ERR_MISALIGNED), extents (FATTN_ERR_SIZE_OVERFLOW). No other
 * status is returned. Messages name the part: "fattn_merge:
 * outputs[2].shape[2] (seq) = 5 != output.shape[2] (seq) = 4: every part
 * must have output's shape". A failing call writes nothing to output or
 * lse. `err` may be NULL.
 *
 * Accuracy: the LSEs are f32, so each weight w_k carries l_k's rounding
 * (about |l_k| * 2^-24 relative) into the output, times the spread of the
 * parts' rows: nothing to see at the LSEs of usual logits (tens), about
 * 1e-3 * max|V| when LSEs near 1e4 meet. (Split-K inside plans keeps each
 * chunk's row max and log-sum apart and has no such limit.)
 *
 * Cost: one pass over the parts and the output, memory-bound, on the
 * calling thread; no allocation (about 30 KiB of stack). It uses no kernel
 * path and ignores FATTN_ISA.
 *
 * Determinism: the sums run in double in part order, so the same inputs in
 * the same order give the same bits, whatever the kernel path, the thread
 * or the caller (the C library's exp and log are the only outside
 * ingredient); another order may differ in the last bits.
 */
fattn_status fattn_merge(int32_t parts, const fattn_tensor *outputs,
                         const fattn_tensor *lses, const fattn_tensor *output,
                         const fattn_tensor *lse, fattn_error *err);


/* ------------------------------------------------------------------------ */
/* Plans: validate once, run many times                                     */
/* ------------------------------------------------------------------------ */

/*
 * A plan is a validated problem and its fixed schedule. fattn_plan_create
 * runs every check of fattn_forward once, then splits the call into work
 * items and chooses the kernel of each. Running it costs no validation
 * beyond what can change between runs: serving engines run the same shapes
 * every step with new data pointers.
 *
 * Work items. Prefill (Sq at or above the path's query tile of 48 rows on
 * AVX-512, 24 on AVX2, unless below 1.5 tiles; or K/V not unit-stride along
 * head_dim): a batch, a query head and a block of query rows. Decode (Sq
 * below one query tile, or between one and 1.5, where a second tile would
 * be mostly idle): a batch, a key/value head and up to 64 of the rows of
 * its whole GQA group (group x Sq rows; with BSHD caches, of several
 * key/value heads), so each K/V row is read from memory once for all the
 * query heads that share it, whatever the group (MQA included). Split-K
 * (flash-decoding): when those items number fewer than 32 and Sk >= 1024,
 * the keys are cut into chunks (at least 512 keys, a multiple of 64, at
 * most 64 chunks and 32 MiB of partial results), each item computes a
 * partial output and LSE over one chunk into the workspace, and the chunks
 * of a row block are combined in chunk order (what fattn_merge computes,
 * with each chunk's row max kept apart from its log-sum). The scalar path
 * has no decode kernel (its prefill items serve every shape) but splits
 * the keys too.
 *
 * Determinism: the work items (split-K's chunks included), the kernel of
 * each and the order of every reduction depend on the problem alone
 * (shapes, strides, options, path), never on the thread count, the pool,
 * the executor or timing, and no two items write the same output element.
 * So output and LSE are bitwise identical for every thread count, with a
 * pool, with an executor, on the calling thread, and with fattn_forward.
 * (Different paths, scalar, AVX2 and AVX-512, round differently and are not
 * bitwise equal to each other.)
 *
 * The plan copies the descriptors and params; it keeps the pointers in them
 * (data, mask, lse, alibi_slopes, q_lengths, kv_lengths, pool, executor),
 * which must stay valid while the plan is run with them. A plan is immutable
 * after creation: any number of threads may run one plan at once, each with
 * its own output (and lse) and workspace.
 *
 * Workspace: with params->workspace set, the plan checks it once (size for
 * every task, 64-byte alignment, no overlap) and runs use it by default.
 * Otherwise the plan allocates its own (params->allocator) at creation and
 * touches it once, so runs neither allocate nor page-fault. A run that
 * passes no workspace while another run is using the plan's own allocates a
 * temporary one for itself (correct, but slower: give concurrent runs their
 * own bindings.workspace).
 *
 * Errors: as fattn_forward's; `plan` NULL is FATTN_ERR_NULL_POINTER; on any
 * error *plan is set to NULL (if `plan` is not NULL) and nothing is
 * allocated. The plan struct itself comes from params->allocator (or malloc);
 * its failure is FATTN_ERR_OUT_OF_MEMORY.
 */
typedef struct fattn_plan fattn_plan;

fattn_status fattn_plan_create(const fattn_tensor *query,
                               const fattn_tensor *key,
                               const fattn_tensor *value,
                               const fattn_tensor *output,
                               const fattn_params *params, fattn_plan **plan,
                               fattn_error *err);

/* Frees the plan and its own workspace (not a caller's). NULL is a no-op.
 * Must not be called while a run of the plan is in progress. */
void fattn_plan_destroy(fattn_plan *plan);

#define FATTN_BINDINGS_VERSION 1

/*
 * New data for one run of a plan: the same shapes, strides, dtypes and
 * options, other memory. Every pointer left NULL keeps the plan's. The
 * struct follows fattn_params' growth rule: version 0 and 1 mean this
 * layout. A zero-initialised struct (or a NULL bindings pointer) runs the
 * plan on the memory it was created with.
 *
 * Checked on every run, since it can change: alignment of each new pointer
 * to its element size (FATTN_ERR_MISALIGNED), that the tensor's extent from
 * it fits the address space (FATTN_ERR_SIZE_OVERFLOW), that output and lse
 * overlap no input, each other, the arrays or the workspace
 * (FATTN_ERR_OVERLAP), the values of q_lengths, kv_lengths and alibi_slopes
 * (the plan's or the new ones: their contents may have changed,
 * FATTN_ERR_INVALID_VALUE), the workspace's size and alignment. A pointer
 * for something the plan does not have (lse, mask, slopes or lengths that
 * were NULL at creation) is FATTN_ERR_INCOMPATIBLE_OPTIONS: shapes and
 * options are fixed by the plan.
 */
typedef struct fattn_bindings {
    uint32_t version; /* 0 or FATTN_BINDINGS_VERSION */
    const void *query, *key, *value;
    void *output;
    void *lse;
    const void *mask;
    const float *alibi_slopes;
    const int64_t *q_lengths, *kv_lengths;
    /* At least fattn_plan_workspace_size() bytes, 64-byte aligned; NULL =
     * the plan's (see fattn_plan_create). */
    void *workspace;
    size_t workspace_size;
} fattn_bindings;

/*
 * Run the plan: compute output (and lse) for the bound memory, on the
 * plan's pool or executor if it has one, else on the calling thread.
 * `bindings` may be NULL. On any error the output and lse are left
 * untouched. `plan` NULL is FATTN_ERR_NULL_POINTER.
 */
fattn_status fattn_plan_run(const fattn_plan *plan,
                            const fattn_bindings *bindings, fattn_error *err);

/* Bytes a bindings.workspace must hold for this plan (every task's share,
 * and split-K's partial results: chunks x B x Hq x Sq x (Dv + 2) floats);
 * 0 for a NULL plan. */
size_t fattn_plan_workspace_size(const fattn_plan *plan);

/* The path the plan runs (never FATTN_ISA_AUTO); FATTN_ISA_AUTO for NULL. */
fattn_isa fattn_plan_isa(const fattn_plan *plan);

/* Number of work items of a run (split-K's chunks counted), and the most
 * tasks a run hands to the pool or executor (1 without either); 0 for
 * NULL. */
int64_t fattn_plan_work_items(const fattn_plan *plan);
int32_t fattn_plan_tasks(const fattn_plan *plan);

/* Static name of the kernel the plan's work items use, "<isa>_<variant>"
 * (e.g. "avx512_lanes" for prefill tiles, "avx512_rows" for decode); ""
 * for an empty problem, "" for NULL. */
const char *fattn_plan_kernel(const fattn_plan *plan);

/* ------------------------------------------------------------------------ */
/* Threads: a pool the caller owns, or the caller's own executor            */
/* ------------------------------------------------------------------------ */

/* The most threads a pool may have. */
#define FATTN_MAX_THREADS 1024

/*
 * Create a pool of `threads` threads (1 .. FATTN_MAX_THREADS; 0 = the CPUs
 * this process may run on, fattn_usable_cpus()). It starts threads - 1
 * worker threads; the thread that runs a call or plan on the pool is the
 * last one and works too. Idle workers sleep (after a short bounded spin
 * that catches back-to-back calls); they never spin while idle for longer.
 *
 * Concurrent use: any number of threads may run calls and plans on one pool
 * at once. Runs are serialised: each waits until the pool is free, then
 * uses all of its threads; the results do not depend on it (see
 * "Determinism"). A run's work never waits for another run's.
 *
 * Errors: `pool` NULL (FATTN_ERR_NULL_POINTER), threads out of range
 * (FATTN_ERR_INVALID_VALUE), memory or a thread that the system refuses
 * (FATTN_ERR_OUT_OF_MEMORY; threads already started are stopped and
 * joined). On error *pool is NULL.
 */
fattn_status fattn_pool_create(int32_t threads, fattn_pool **pool,
                               fattn_error *err);

/* Stops and joins the workers and frees the pool. NULL is a no-op. Must not
 * be called while a call or plan is running on it. */
void fattn_pool_destroy(fattn_pool *pool);

/* The pool's thread count, the calling thread included; 0 for NULL. */
int32_t fattn_pool_threads(const fattn_pool *pool);

/* CPUs this process may run on (sched_getaffinity), at least 1. */
int32_t fattn_usable_cpus(void);

/*
 * Task `task` of a run, in [0, tasks): the function an executor calls.
 */
typedef void (*fattn_task_fn)(void *task_arg, int32_t task);

/*
 * The caller's thread pool. A run calls parallel_for(opaque, tasks, fn,
 * task_arg) once with 1 <= tasks <= max_tasks; parallel_for must call
 * fn(task_arg, i) exactly once for each i in [0, tasks), from any threads,
 * in any order, concurrently or one after another, and return only when
 * every call has returned. Each task takes work items until none is left,
 * so tasks run one after another still compute everything, and any
 * concurrency up to `tasks` is used. Every task has its own share of the
 * workspace, so tasks need no worker index. The tasks never block on each
 * other and never call back into the executor.
 *
 * max_tasks (1 .. FATTN_MAX_THREADS, else FATTN_ERR_INVALID_VALUE) is the
 * most tasks per run, normally the executor's thread count; parallel_for
 * NULL is FATTN_ERR_NULL_POINTER.
 */
struct fattn_executor {
    void (*parallel_for)(void *opaque, int32_t tasks, fattn_task_fn fn,
                         void *task_arg);
    void *opaque;
    int32_t max_tasks;
};

/* ------------------------------------------------------------------------ */
/* Kernel paths                                                             */
/* ------------------------------------------------------------------------ */

/* Static lower-case name: "auto", "scalar", "avx2", "avx512",
 * "avx512bf16"; "unknown_isa" otherwise. */
const char *fattn_isa_name(int isa);

/* 1 if `isa` is compiled in and supported by this CPU and OS, else 0.
 * FATTN_ISA_AUTO is available unless FATTN_ISA in the environment names an
 * unknown or unavailable path (see fattn_isa_auto). */
int fattn_isa_available(int isa);

/*
 * The path FATTN_ISA_AUTO resolves to: the FATTN_ISA environment variable
 * ("scalar", "avx2", "avx512", "avx512bf16") if set and non-empty, else the
 * best available general path (never FATTN_ISA_AVX512BF16, which AUTO takes
 * on its own only for all-bf16 query, key and value; FATTN_ISA set to a
 * path makes AUTO take that path for every problem). Decided once, thread-safely, on first use. If FATTN_ISA names an
 * unknown or unavailable path, this returns FATTN_ISA_AUTO and every call
 * with isa = AUTO fails with FATTN_ERR_ISA_UNAVAILABLE (never a silent
 * fallback); `err` (may be NULL) gets the reason.
 */
fattn_isa fattn_isa_auto(fattn_error *err);

/*
 * Diagnostics for benchmarks: this core's fp32 FMA throughput at the vector
 * width of `isa` (FATTN_ISA_AUTO: the automatic path), measured by a
 * register-resident loop of independent FMAs that runs for about `seconds`
 * (0 < seconds <= 60); the best chunk's GFLOP/s, counting an FMA as 2 FLOP.
 * Returns 0 for the scalar path (no FMA), an unavailable path or a bad
 * `seconds`. Kernel GFLOP/s divided by this is the "% of peak" that
 * `fattn bench` prints; measure both in the same process and run.
 */
double fattn_fma_peak_gflops(int isa, double seconds);

/*
 * The same for bf16 dot products: this core's vdpbf16ps throughput (each
 * instruction 2 products and a sum per f32 lane, counted as 4 FLOP, as
 * two FMAs would be), the peak of FATTN_ISA_AVX512BF16's kernels. 0 when
 * that path is not built in or the CPU lacks AVX512_BF16, or for a bad
 * `seconds`.
 */
double fattn_bf16_peak_gflops(double seconds);

#ifdef __cplusplus
}
#endif

#endif /* FATTN_H */
