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

#include <stddef.h>
#include <stdint.h>

enum fattn_mask_kind {
    FATTN_MASK_NONE = 0,
    FATTN_MASK_ADDITIVE = 1, /* const float *, added to the scores */
    FATTN_MASK_KEEP = 2      /* const uint8_t *, nonzero keeps the key */
};

/*
 * A validated problem. Strides are in elements; a broadcast dimension (size 1
 * in the descriptor) has stride 0 here, so element (b, h, i, j) of the mask is
 * always mask + b*s[0] + h*s[1] + i*s[2] + j*s[3]. Every stride of an empty
 * tensor (a dimension of size 0) is 0 too: pointer arithmetic with it stays
 * at its data pointer. Sizes are >= 0 and every
 * addressed element lies inside memory the caller described.
 */
typedef struct fattn_problem {
    const float *q, *k, *v;
    float *o;
    int64_t batch, heads_q, heads_kv, seq_q, seq_k, head_dim, head_dim_v;
    int64_t q_stride[4], k_stride[4], v_stride[4], o_stride[4];

    float scale;   /* > 0, finite */
    float softcap; /* 0 = off, else > 0 and finite */

    int causal; /* enum fattn_causal */
    int window_enabled;
    int64_t window_left, window_right; /* >= 0, or FATTN_WINDOW_UNLIMITED */
    int align;                         /* enum fattn_align, for window and ALiBi */

    int mask_kind; /* enum fattn_mask_kind */
    const void *mask;
    int64_t mask_stride[4];

    const float *alibi_slopes;  /* heads_q entries, or NULL */
    const int64_t *q_lengths;   /* batch entries in [0, seq_q], or NULL */
    const int64_t *kv_lengths;  /* batch entries in [0, seq_k], or NULL */

    float *lse; /* NULL = not wanted */
    int64_t lse_stride[3];

    fattn_allocator allocator; /* both NULL, or both set */
    void *workspace;           /* the caller's, checked; NULL = allocate */
    size_t workspace_bytes;    /* what the chosen path needs */
} fattn_problem;

/*
 * A kernel path. The front end asks for the workspace size, allocates it
 * (failure is a status, before anything is written), then runs the kernel,
 * which cannot fail. Workspace is O(tile): independent of sequence length.
 * vec_exp/vec_exp2/vec_tanh (SIMD paths only, else NULL) expose the path's
 * vector math to the accuracy tests; n must be a multiple of the vector
 * width.
 */
typedef struct fattn_kernel {
    fattn_isa isa;
    uint32_t cpu_flags; /* FATTN_CPU_* the path needs (cpu.h) */
    size_t (*workspace_size)(const fattn_problem *p);
    void (*run)(const fattn_problem *p, void *workspace);
    void (*vec_exp)(const float *in, float *out, size_t n);
    void (*vec_exp2)(const float *in, float *out, size_t n);
    void (*vec_tanh)(const float *in, float *out, size_t n);
    double (*fma_peak)(double seconds); /* GFLOP/s; NULL for scalar */
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

/* Where the rows of one (batch, query head) pair live, for every path. */
typedef struct fattn_head {
    int64_t b, h, qlen, klen;  /* klen/qlen: this batch's valid lengths */
    const float *q, *k, *v;     /* at row 0 of this head (k, v: its KV head) */
    float *o;
    const unsigned char *mask; /* at (b, h, 0, 0), or NULL without a mask */
    float slope;               /* ALiBi, 0 = none */
} fattn_head;

void fattn_head_init(const fattn_problem *p, int64_t b, int64_t h,
                     fattn_head *hd);

/*
 * Visible key ranges of rows [i0, i0 + rows) of one head into lo[], hi[]
 * (empty for rows past q_lengths). span gets their union [lo, hi) (lo >= hi
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

/* Kernels: src/kernels.inc lists them, once. */
#define FATTN_KERNEL(isa, flags, run, workspace, vexp, vexp2, vtanh, peak)     \
    size_t workspace(const fattn_problem *p);                                  \
    void run(const fattn_problem *p, void *ws);
#define FATTN_VECMATH(vexp, vexp2, vtanh, peak)                                \
    void vexp(const float *in, float *out, size_t n);                          \
    void vexp2(const float *in, float *out, size_t n);                         \
    void vtanh(const float *in, float *out, size_t n);                         \
    double peak(double seconds);
#include "kernels.inc"
#undef FATTN_KERNEL
#undef FATTN_VECMATH

/* Dispatch (dispatch.c): the registered kernel of `isa`, or NULL if it is
 * not built in. fattn_isa_available() adds the CPU/OS check. */
const fattn_kernel *fattn_kernel_for(fattn_isa isa);

/* Validation (validate.c): check everything and fill *p. `fn` names the
 * public entry point in messages. Resolves params->isa (AUTO included) into
 * *isa and sets p->workspace_bytes for it; with use_workspace, also checks
 * params->workspace (if set) and stores it in p->workspace. */
fattn_status fattn_validate(const char *fn, const fattn_tensor *query,
                            const fattn_tensor *key, const fattn_tensor *value,
                            const fattn_tensor *output,
                            const fattn_params *params, int use_workspace,
                            fattn_problem *p, fattn_isa *isa, fattn_error *err);

/* Error reporting (error.c). `err` may be NULL. Writes "<fn>: <message>"
 * (one line, truncated to fit) and returns code. */
fattn_status fattn_fail(fattn_error *err, fattn_status code, const char *fn,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void fattn_ok(fattn_error *err);

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
