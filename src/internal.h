/*
 * internal.h - the contract between the validation front end and the kernels.
 *
 * validate.c turns the public descriptors into one fattn_problem whose every
 * field has been checked: kernels may assert this contract but never
 * re-validate it. Nothing here is installed.
 */
#ifndef FATTN_INTERNAL_H
#define FATTN_INTERNAL_H

#include "cpu.h"
#include "fattn.h"
#include "half.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum fattn_mask_kind {
    FATTN_MASK_NONE = 0,
    FATTN_MASK_ADDITIVE = 1, /* f32, bf16 or f16 (mask_dtype), added */
    FATTN_MASK_KEEP = 2      /* const uint8_t *, nonzero keeps the key */
};

/* Bytes per element of a fattn_dtype (validated). */
static inline size_t fattn_dtype_size(int dtype)
{
    return dtype == FATTN_DTYPE_F32 ? 4 : dtype == FATTN_DTYPE_BOOL ? 1 : 2;
}

/* Element idx of a float tensor of dtype dt at base, as f32 (exact). */
static inline float fattn_load_elem(const void *base, int64_t idx, int dt)
{
    if (dt == FATTN_DTYPE_F32)
        return ((const float *)base)[idx];
    const uint16_t h = ((const uint16_t *)base)[idx];
    return dt == FATTN_DTYPE_BF16 ? fattn_bf16_to_f32(h) : fattn_f16_to_f32(h);
}

/* x rounded to dtype dt (fattn_dtype's rule) into element idx at base. */
static inline void fattn_store_elem(void *base, int64_t idx, int dt, float x)
{
    if (dt == FATTN_DTYPE_F32)
        ((float *)base)[idx] = x;
    else
        ((uint16_t *)base)[idx] = dt == FATTN_DTYPE_BF16 ? fattn_f32_to_bf16(x)
                                                         : fattn_f32_to_f16(x);
}

/*
 * A validated problem. Data pointers are untyped plus a dtype per tensor
 * (f32, bf16 or f16, in any combination): kernels reach rows only through
 * the accessors below, never by open-coded pointer arithmetic, so a new
 * K/V layout (a paged cache, a packed varlen batch) changes those, not
 * every kernel, and a kernel widens or narrows each element as it loads or
 * stores it (fattn_load_elem, fattn_store_elem, or simd/'s vector forms). Strides are in elements; a broadcast dimension (size 1 in the
 * descriptor) has stride 0 here, so element (b, h, i, j) of the mask is
 * always mask + b*s[0] + h*s[1] + i*s[2] + j*s[3]. Every stride of an empty
 * tensor (a dimension of size 0) is 0 too: pointer arithmetic with it stays
 * at its data pointer. Sizes are >= 0 and every addressed element lies
 * inside memory the caller described.
 */
typedef struct fattn_problem {
    const void *q, *k, *v;
    void *o;
    int q_dtype, k_dtype, v_dtype, o_dtype; /* fattn_dtype: F32, BF16, F16 */
    int64_t batch, heads_q, heads_kv, seq_q, seq_k, head_dim, head_dim_v;
    int64_t q_stride[4], k_stride[4], v_stride[4], o_stride[4];

    float scale;   /* > 0, finite */
    float softcap; /* 0 = off, else > 0 and finite */

    int causal; /* enum fattn_causal */
    int window_enabled;
    int64_t window_left, window_right; /* >= 0, or FATTN_WINDOW_UNLIMITED */
    int align; /* enum fattn_align for window and ALiBi, as resolved */

    int mask_kind;  /* enum fattn_mask_kind */
    int mask_dtype; /* its fattn_dtype: a float type, or BOOL for KEEP */
    const void *mask;
    int64_t mask_stride[4];

    const float *alibi_slopes;  /* heads_q entries, or NULL */
    const int64_t *q_lengths;   /* batch entries in [0, seq_q], or NULL */
    const int64_t *kv_lengths;  /* batch entries in [0, seq_k], or NULL */

    float *lse; /* NULL = not wanted */
    int64_t lse_stride[3];
    /* Split-K's partial results only (plan.c), else NULL: the row max m at
     * each LSE offset, with log(l) in lse. m + log(l) rounded to float
     * would weigh the chunks with an error of ulp(m): 1e-3 for logits of
     * 1e4, a relative error of 5e-4 in the combined row. */
    float *lse_max;
} fattn_problem;

/* 1 / l, or 0 for l = 0 (a fully masked row), never dividing by 0: a
 * compiler may turn `l != 0 ? 1 / l : 0` into an unconditional division
 * (clang vectorises write_rows' loop that way), which raises
 * FE_DIVBYZERO; the empty asm hides the substituted divisor from it. */
static inline float fattn_inv_or_zero(float l)
{
    float d = l != 0.0f ? l : 1.0f;
    __asm__("" : "+g"(d));
    return l != 0.0f ? 1.0f / d : 0.0f;
}

/* The LSE entry of row (b, h, i) from the row's max m and sum l (l = 0:
 * fully masked, -inf; NaN stays NaN), or m and log(l) for split-K. */
static inline void fattn_store_lse(const fattn_problem *p, int64_t b,
                                   int64_t h, int64_t i, float m, float l)
{
    if (!p->lse)
        return;
    const int64_t off =
        b * p->lse_stride[0] + h * p->lse_stride[1] + i * p->lse_stride[2];
    float lse = -INFINITY, max = -INFINITY;
    if (l != 0.0f) { /* logf(0) would raise FE_DIVBYZERO */
        lse = p->lse_max ? logf(l) : m + logf(l);
        max = m;
    }
    p->lse[off] = lse;
    if (p->lse_max)
        p->lse_max[off] = max;
}

/* Row i of query head h of batch b, elements of p->q_dtype. */
static inline const void *fattn_q_row(const fattn_problem *p, int64_t b,
                                      int64_t h, int64_t i)
{
    return (const char *)p->q +
           (size_t)(b * p->q_stride[0] + h * p->q_stride[1] +
                    i * p->q_stride[2]) *
               fattn_dtype_size(p->q_dtype);
}

/* Row i of query head h of batch b in the output, elements of o_dtype. */
static inline void *fattn_o_row(const fattn_problem *p, int64_t b, int64_t h,
                                int64_t i)
{
    return (char *)p->o +
           (size_t)(b * p->o_stride[0] + h * p->o_stride[1] +
                    i * p->o_stride[2]) *
               fattn_dtype_size(p->o_dtype);
}

/* Bytes per element of the additive mask, or 1 for a keep-mask. */
static inline size_t fattn_mask_elem(const fattn_problem *p)
{
    return fattn_dtype_size(p->mask_dtype);
}

/*
 * The K/V row-addressing abstraction: where the keys (or values) of one
 * (batch, KV head) live. A kernel asks for the row of key j and walks a key
 * tile from it with `row` (the distance between consecutive keys) and
 * `elem` (between consecutive head_dim elements), in elements.
 *
 * Contract, for the layouts to come: a run of consecutive keys that starts
 * at a tile boundary of the kernel and stays inside one tile is addressed
 * by one fattn_kv_row() and the strides. Today's layouts are one strided
 * block, so any run is. A paged cache would return the page's row and
 * require pages to be a multiple of the key tile; a packed varlen batch
 * would add its sequence's offset in fattn_kv_view_of(). Elements are of
 * `dtype`, widened to f32 by the kernel as it loads them (exact), so a
 * half-precision cache is read once, in place, at half the bytes; a kernel
 * that wants f32 rows widens a tile into its workspace. Kernels never add
 * j * row to a pointer themselves except inside such a run.
 */
typedef struct fattn_kv_view {
    const void *base;  /* key 0 of this (batch, KV head) */
    int64_t row, elem; /* in elements */
    int dtype;         /* fattn_dtype: F32, BF16 or F16 */
} fattn_kv_view;

enum { FATTN_KV_KEY = 0, FATTN_KV_VALUE = 1 };

static inline fattn_kv_view fattn_kv_view_of(const fattn_problem *p, int which,
                                             int64_t b, int64_t g)
{
    const int64_t *s = which == FATTN_KV_KEY ? p->k_stride : p->v_stride;
    const int dt = which == FATTN_KV_KEY ? p->k_dtype : p->v_dtype;
    const char *data = (const char *)(which == FATTN_KV_KEY ? p->k : p->v);
    fattn_kv_view v = {data + (size_t)(b * s[0] + g * s[1]) * fattn_dtype_size(dt),
                       s[2], s[3], dt};
    return v;
}

/* Key j's row: elements of v->dtype, v->elem apart. */
static inline const void *fattn_kv_row(const fattn_kv_view *v, int64_t j)
{
    return (const char *)v->base +
           (size_t)(j * v->row) * fattn_dtype_size(v->dtype);
}

/*
 * A work item: the unit the planner hands out and a kernel computes. It
 * names batch b, a block of rows [i0, i1) and a key range [j0, j1):
 *   - prefill kernels (queries in lanes): query rows i of query head h;
 *   - decode kernels (head_dim in lanes): rows m of the KV heads from h
 *     on, M = group * Sq rows per KV head: row m belongs to KV head g = h +
 *     m / M and is query position (m % M) / group of query head g * group
 *     + (m % M) % group (so a block holds any number of a group's heads
 *     and positions, and with BSHD caches several KV heads).
 * Items of one plan write disjoint output rows (and LSE entries), so they
 * run in any order on any thread and the result is the same bits. Keys
 * outside [j0, j1) are treated as masked, so an item over part of the keys
 * yields that part's softmax and LSE: split-K's chunks (plan.c).
 */
typedef struct fattn_item {
    int64_t b, h; /* h: the query head (prefill) or the KV head (decode) */
    int64_t i0, i1, j0, j1;
} fattn_item;

/*
 * A kernel variant of a path: computes one work item with its workspace
 * (64-byte aligned, workspace(p) bytes, only this item's scratch). The
 * planner chooses a variant per problem from the path's table:
 *   decode = 1: rows of one KV head's group, at most max_rows per item;
 *     chosen while a prefill query tile would be mostly idle (plan.c: the
 *     crossover, measured) and, with unit_kv, K and V have unit stride
 *     along head_dim;
 *   decode = 0: one query head and block_rows(p) query rows per item, or
 *     fewer (a multiple of row_granule, the kernel's query tile, so every
 *     tile and its result stay the same) when that gives too few items.
 * run() cannot fail and allocates nothing.
 */
typedef struct fattn_variant {
    const char *name; /* "<isa>_<variant>", as fattn_plan_kernel() shows */
    /* NULL: any problem; else the problems it computes (dtypes, strides). */
    int (*accepts)(const fattn_problem *p);
    int decode;
    int max_rows;
    int unit_kv;
    int64_t (*block_rows)(const fattn_problem *p);
    int64_t row_granule; /* prefill: block_rows is a multiple; the planner
                          * may cut blocks down to multiples of it */
    size_t (*workspace)(const fattn_problem *p);
    void (*run)(const fattn_problem *p, const fattn_item *it, void *ws);
} fattn_variant;

/*
 * A path's table (dav1d's DSP context): its variants in order of
 * preference (decode variants before prefill ones; each table, with its
 * fallback, has a prefill variant for every problem), and for SIMD paths
 * the vector math the accuracy tests read (n a multiple of the vector
 * width) and the FMA peak meter; NULL for the scalar path.
 */
typedef struct fattn_kernel {
    const fattn_variant *variants;
    int nvariants;
    /* Variants tried after these (NULL: none): a path made for some
     * dtypes runs the others through its base path's kernels. */
    const struct fattn_kernel *fallback;
    /* NULL: a general path, which FATTN_ISA_AUTO takes when it is the
     * best available. Else AUTO takes this path only for the problems it
     * accepts (and fattn_isa_auto() never names it). */
    int (*auto_for)(const fattn_problem *p);
    void (*vec_exp)(const float *in, float *out, size_t n);
    void (*vec_exp2)(const float *in, float *out, size_t n);
    void (*vec_tanh)(const float *in, float *out, size_t n);
    double (*fma_peak)(double seconds); /* GFLOP/s */
    /* n bf16/f16 elements (dtype) to f32 and back, as the kernels load and
     * store them, any n: for the conversion tests. NULL for scalar. */
    void (*vec_widen)(int dtype, const uint16_t *in, float *out, size_t n);
    void (*vec_narrow)(int dtype, const float *in, uint16_t *out, size_t n);
    /* bf16 dot-product (vdpbf16ps) throughput meter, GFLOP/s counting a
     * product and its sum as 2; NULL where the path has none. */
    double (*bf16_peak)(double seconds);
} fattn_kernel;

/* Valid lengths of batch b. */
static inline int64_t fattn_q_len(const fattn_problem *p, int64_t b)
{
    return p->q_lengths ? p->q_lengths[b] : p->seq_q;
}

static inline int64_t fattn_kv_len(const fattn_problem *p, int64_t b)
{
    return p->kv_lengths ? p->kv_lengths[b] : p->seq_k;
}

/*
 * The contiguous range [*lo, *hi) of keys that causal, window and kv length
 * leave visible to query row i (of a batch with valid lengths qlen, klen).
 * Empty (*lo >= *hi) for a fully masked row. Masks may remove more keys
 * inside the range; they never add any.
 */
void fattn_visible_range(const fattn_problem *p, int64_t qlen, int64_t klen,
                         int64_t i, int64_t *lo, int64_t *hi);

/* Where the rows of one (batch, query head) pair live, for every path, and
 * the key range of the work item computing them. */
typedef struct fattn_head {
    int64_t b, h, qlen, klen;  /* klen/qlen: this batch's valid lengths */
    int64_t j0, j1;            /* the work item's key range */
    fattn_kv_view k, v;        /* its KV head */
    const unsigned char *mask; /* at (b, h, 0, 0), or NULL without a mask */
    float slope;               /* ALiBi, 0 = none */
} fattn_head;

void fattn_head_init(const fattn_problem *p, const fattn_item *it, int64_t h,
                     fattn_head *hd);

/*
 * Visible key ranges of rows [i0, i0 + rows) of one head into lo[], hi[]
 * (empty for rows past q_lengths), within the item's [j0, j1). span gets their union [lo, hi) (lo >= hi
 * when no row sees anything): consecutive rows' ranges are intervals that
 * move monotonically with i, so the key tiles in it are exactly those some
 * row can see. [all_lo, all_hi) is what every row below q_lengths sees: a
 * key tile inside it needs no masking.
 */
typedef struct fattn_span {
    int64_t lo, hi, all_lo, all_hi;
} fattn_span;

void fattn_row_ranges(const fattn_problem *p, const fattn_head *hd, int64_t i0,
                      int rows, int64_t *lo, int64_t *hi, fattn_span *span);

/* pos(i) of the header, for the given alignment. */
static inline int64_t fattn_query_pos(int align_bottom_right, int64_t qlen,
                                      int64_t klen, int64_t i)
{
    /* i < qlen, so i - qlen + klen cannot overflow (i + klen could). */
    return align_bottom_right ? i - qlen + klen : i;
}

/* The paths' tables: src/kernels.inc lists them, once. */
#define FATTN_PATH(isa, name, flags, table) extern const fattn_kernel table;
#define FATTN_PATH_MISSING(isa, name, flags)
#include "kernels.inc"
#undef FATTN_PATH
#undef FATTN_PATH_MISSING

/* Dispatch (dispatch.c): the table of `isa`, or NULL if it is not built in
 * (or not a path). fattn_isa_available() adds the CPU/OS check. */
const fattn_kernel *fattn_kernel_for(int isa);

/* Resolve a requested isa (AUTO included) to an available path for
 * problem *p (its dtypes are read: fattn_kernel.auto_for), or fail with
 * FATTN_ERR_ISA_UNAVAILABLE naming `fn`. */
fattn_status fattn_resolve_isa(const char *fn, int want,
                               const fattn_problem *p, fattn_isa *isa,
                               fattn_error *err);

/*
 * Bytes [begin, end) a tensor or array may touch; begin == end when empty.
 * validate.c fills one per role; rebinding a plan moves them.
 */
typedef struct fattn_extent {
    uintptr_t begin, end;
    const char *name;
} fattn_extent;

enum fattn_role {
    FATTN_R_QUERY, FATTN_R_KEY, FATTN_R_VALUE, FATTN_R_MASK, FATTN_R_SLOPES,
    FATTN_R_QLEN, FATTN_R_KVLEN, /* the inputs */
    FATTN_R_OUTPUT, FATTN_R_LSE, /* the outputs */
    FATTN_R_COUNT
};

/* What validation learned beyond the problem: each role's bytes (all zero
 * for an absent one), its element size, and the params as read (layout 2,
 * zero-filled past the caller's version). */
typedef struct fattn_checked {
    fattn_extent span[FATTN_R_COUNT];
    size_t elem[FATTN_R_COUNT];
    fattn_params params;
} fattn_checked;

/* Validation (validate.c): check everything and fill *p, *isa and *c.
 * `fn` names the public entry point in messages. The workspace is not
 * checked here (its size depends on the plan): see fattn_check_workspace. */
fattn_status fattn_validate(const char *fn, const fattn_tensor *query,
                            const fattn_tensor *key, const fattn_tensor *value,
                            const fattn_tensor *output,
                            const fattn_params *params, fattn_problem *p,
                            fattn_isa *isa, fattn_checked *c,
                            fattn_error *err);

/* fattn.h's growth rule for a versioned struct: the first field is a
 * uint32_t version; version v has bytes[v] bytes (0 means layout 1); a
 * version above `newest` is FATTN_ERR_UNSUPPORTED_VERSION. Copies exactly
 * the caller's layout into dst and zeroes the rest of dst. */
fattn_status fattn_read_layout(const char *fn, const char *what,
                               const void *src, uint32_t newest,
                               const size_t *bytes, void *dst, size_t dst_size,
                               fattn_error *err);

/* A caller's workspace of `size` bytes at `ws`: 64-byte aligned, at least
 * `need`, apart from every span of *c. `what` names it in messages. */
fattn_status fattn_check_workspace(const char *fn, const char *what,
                                   const void *ws, size_t size, size_t need,
                                   fattn_isa isa, const fattn_checked *c,
                                   fattn_error *err);

/* Output and LSE apart from every input, from each other (spans of *c). */
fattn_status fattn_check_overlaps(const char *fn, const fattn_checked *c,
                                  fattn_error *err);

/*
 * The tensor checks every entry point shares (validate.c), so that
 * fattn_forward and fattn_merge judge a tensor alike and say so in the same
 * words. A role names the tensor in messages ("query", "outputs[2]") and
 * its four dimensions, and says what it allows: head_dims, shape[1] and
 * shape[3] >= 1 and shape[3] <= FATTN_MAX_HEAD_DIM (query, key, value,
 * output); bool_ok, a bool dtype (masks); f32_only, no bf16 or f16 (an
 * LSE, fattn_merge's tensors).
 */
typedef struct fattn_tensor_role {
    const char *name;
    const char *const *dims; /* 4 names */
    int head_dims, bool_ok;
    int f32_only; /* 0, or the status a bf16/f16 tensor gets */
} fattn_tensor_role;

/* One tensor alone: data, dtype, shape, strides, alignment, extent; *sp
 * gets its bytes (named r->name). */
fattn_status fattn_check_tensor(const char *fn, const fattn_tensor_role *r,
                                const fattn_tensor *t, fattn_extent *sp,
                                fattn_error *err);

/* a.shape[da] == b.shape[db], else FATTN_ERR_SHAPE_MISMATCH ending in `rule`. */
fattn_status fattn_check_same_dim(const char *fn, const fattn_tensor_role *ra,
                                  const fattn_tensor *a, int da,
                                  const fattn_tensor_role *rb,
                                  const fattn_tensor *b, int db,
                                  const char *rule, fattn_error *err);

/* An LSE l of shape [ref.shape[0..2], 1]. */
fattn_status fattn_check_lse_shape(const char *fn, const fattn_tensor_role *rl,
                                   const fattn_tensor *l,
                                   const fattn_tensor_role *rref,
                                   const fattn_tensor *ref, const char *rule,
                                   fattn_error *err);

/* No two elements of the output t at one address (fattn.h's test). */
fattn_status fattn_check_self_overlap(const char *fn,
                                      const fattn_tensor_role *r,
                                      const fattn_tensor *t, fattn_error *err);

/* Each of outs[0 .. nouts) apart from each of in[0 .. nin), else
 * FATTN_ERR_OVERLAP ending in `rule`; then output apart from lse. */
fattn_status fattn_check_apart(const char *fn, const fattn_extent *outs,
                               int nouts, const fattn_extent *in, int64_t nin,
                               const char *rule, fattn_error *err);
fattn_status fattn_check_output_lse(const char *fn, const fattn_extent *out,
                                    const fattn_extent *lse, fattn_error *err);

/* Values a caller may change between runs of a plan: lengths in range,
 * slopes finite. */
fattn_status fattn_check_values(const char *fn, const fattn_problem *p,
                                fattn_error *err);

/*
 * A plan (plan.c): the problem, what validation learned, and the schedule.
 * The schedule is a function of the problem alone: the variant, the work
 * items (enumerated arithmetically by fattn_plan_item, so a plan holds no
 * per-item array) and the task count (from the pool or executor, which only
 * decides how many workers take items, never what an item computes).
 */
struct fattn_plan {
    fattn_problem p;
    fattn_checked c;
    fattn_isa isa;
    const fattn_variant *variant; /* NULL: nothing to compute */
    int64_t items;        /* row items * chunks */
    int64_t block_rows;   /* rows per item */
    int64_t blocks;       /* row blocks per (batch, head) of an item */
    int64_t heads;        /* heads per batch an item kind walks: Hq or Hkv */
    int64_t rows;         /* rows per (batch, head): Sq, or group * Sq */
    int64_t chunks;       /* split-K: key chunks per row item (1 = none) */
    int64_t chunk_keys;   /* keys per chunk (the last may be shorter) */
    size_t shared_bytes;  /* split-K's partials and counters, before the
                           * tasks' slices in the workspace */
    int descending;       /* causal: on several workers, each head's blocks
                           * from the last (the longest) */
    int32_t tasks;        /* 1 .. pool threads or executor max_tasks */
    size_t task_bytes;    /* one task's workspace, a multiple of 64 */
    size_t workspace_bytes; /* shared_bytes + tasks * task_bytes */
    fattn_pool *pool;
    const fattn_executor *executor;
    fattn_allocator allocator; /* both set (malloc/free if none given) */
    void *workspace;           /* runs' default: the caller's or own */
    size_t workspace_size;
    void *own;                 /* the plan's own workspace, or NULL */
    int heap;                  /* made by fattn_plan_create */
    _Atomic int own_busy;      /* a run is using `own` */
};

/* Fix the schedule of a validated problem (no allocation). */
void fattn_plan_init(fattn_plan *pl, const fattn_problem *p, fattn_isa isa,
                     const fattn_checked *c);

/* Validate, fix the schedule into *pl and, with use_workspace, check
 * params->workspace and make it the plan's default: everything fattn_forward
 * and fattn_plan_create do before they allocate or compute. */
fattn_status fattn_plan_prepare(const char *fn, const fattn_tensor *query,
                                const fattn_tensor *key,
                                const fattn_tensor *value,
                                const fattn_tensor *output,
                                const fattn_params *params, int use_workspace,
                                fattn_plan *pl, fattn_error *err);

/* Work item t of the plan, t in [0, pl->items), numbered for one worker
 * (parallel = 0) or several: the same set of items either way, in another
 * order. */
void fattn_plan_item(const fattn_plan *pl, int64_t t, int parallel,
                     fattn_item *it);

/* Run every item of the plan on problem *p (the plan's, or the same with
 * rebound pointers), with ws holding pl->workspace_bytes. */
void fattn_plan_execute(const fattn_plan *pl, const fattn_problem *p,
                        void *ws);

/*
 * combine.c: row `out` (dv elements out_elem apart) and *lse_out (unless
 * NULL) from `parts` partial rows over disjoint key sets, part k being o[k]
 * (elements elem[k] apart) with LSE lse[k] (double: split-K's are m + log l
 * of two floats, see lse_max). A part with LSE -inf (fully masked)
 * contributes nothing and its row is not read; all of them -inf gives 0
 * and -inf; a NaN or +inf LSE gives NaN. acc: dv doubles of scratch. The
 * sums run in the parts' order, in double; out holds out_dtype elements
 * (rounded once, fattn_store_elem).
 */
void fattn_combine_row(int64_t parts, const float *const *o,
                       const int64_t *elem, const double *lse, int64_t dv,
                       double *acc, void *out, int out_dtype, int64_t out_elem,
                       float *lse_out);

/* Pool (pool.c): run fn(arg, i) for i in [0, tasks) on the pool's threads
 * and the calling thread; returns when all have returned. */
void fattn_pool_run(fattn_pool *pool, int32_t tasks, fattn_task_fn fn,
                    void *arg);

/* The allocator's functions, or malloc-based defaults (64-byte aligned). */
fattn_allocator fattn_allocator_or_default(const fattn_allocator *a);

/* Error reporting (error.c). `err` may be NULL. Writes "<fn>: <message>"
 * (one line, truncated to fit) and returns code. */
fattn_status fattn_fail(fattn_error *err, fattn_status code, const char *fn,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void fattn_ok(fattn_error *err);

/* Return the status of `expr` from the calling function unless it is OK. */
#define FATTN_TRY(expr)                                                        \
    do {                                                                       \
        fattn_status try_status_ = (expr);                                     \
        if (try_status_ != FATTN_OK)                                           \
            return try_status_;                                                \
    } while (0)

/*
 * Phase timers, only in profiling builds (-Dphase_timers=true, which defines
 * FATTN_PHASE_TIMERS): the SIMD kernels add rdtsc cycles per phase to the
 * calling thread's counters (dispatch.c), which `fattn bench` resets and
 * prints. The lanes path splits a key tile into scores (Q.K^T), masks
 * (soft-cap, masks, ALiBi, visibility), softmax and values (P.V); edges is
 * packing Q and writing O; rows is the whole decode (rows) path.
 */
enum {
    FATTN_PHASE_SCORES,
    FATTN_PHASE_MASKS,
    FATTN_PHASE_SOFTMAX,
    FATTN_PHASE_VALUES,
    FATTN_PHASE_EDGES,
    FATTN_PHASE_ROWS,
    FATTN_PHASE_COUNT
};
#if FATTN_PHASE_TIMERS
extern _Thread_local uint64_t fattn_phase_cycles[FATTN_PHASE_COUNT];
extern const char *const fattn_phase_names[FATTN_PHASE_COUNT];
#endif

#endif /* FATTN_INTERNAL_H */
