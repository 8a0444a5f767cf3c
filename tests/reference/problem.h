/*
 * problem.h - seeded random attention problems for tests, fuzzers and
 * benchmarks.
 *
 * A fattn_ref_problem owns every buffer of one fattn_forward call (query,
 * key, value, output, optional mask, LSE, lengths, ALiBi slopes) and the
 * descriptors and params that point into them, in a chosen memory layout.
 * The same config and seed always give the same problem (splitmix64, no
 * rand()). Output and LSE buffers cover the whole layout, gaps included, and
 * are filled with a NaN sentinel, so a test can see what a kernel wrote and
 * what it must not have.
 *
 * Numerics: the data are chosen so that a correct float32 kernel meets
 * |x - ref| <= 1e-5 + 1e-5 |ref|. Normal values are uniform in [-a, a]
 * (a = value_range, default 1) and ALiBi slopes are powers of two small
 * enough that slope * distance <= 16: logits stay small, where float32
 * rounding is far below the tolerance. The large-logits mode makes logits
 * reach about +-1e4 and keeps them exact in float32 instead: query and key
 * are small integers (|Q.K| <= 1e4 < 2^24), the scale is a power of two,
 * additive masks are integers and ALiBi slopes powers of two, so only the
 * exponentials and sums round. With a soft-cap the capped score is inexact,
 * so masks and ALiBi stay small in that mode (|bias| <= ~8).
 *
 * Dtypes: query, key, value, output and an additive mask each have their
 * own (config dtype_*, FATTN_DTYPE_F32 = 0 by default). Data are generated
 * as above, then rounded to the tensor's dtype (to nearest even), so the
 * reference reads exactly what the kernels read. The large-logits mode
 * stays exact in every dtype: its integers are at most 100 in magnitude
 * (|Q.K| <= 1e4 with D >= 1) and its mask integers at most 64, all within
 * bf16's 8 significant bits (every integer up to 256 is a bf16) and f16's
 * 11. Half-precision buffers hold uint16_t bit patterns (the *_buf
 * pointers keep their float * type for the f32 callers: cast them), the
 * *_elems counts are elements and the *_esize fields their sizes in bytes.
 * The sentinel of a bf16 or f16 output is FATTN_REF_SENTINEL_HALF, a NaN in
 * both formats.
 */
#ifndef FATTN_REF_PROBLEM_H
#define FATTN_REF_PROBLEM_H

#include "fattn.h"
#include "reference.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Deterministic RNG (splitmix64)                                           */
/* ------------------------------------------------------------------------ */

typedef struct fattn_ref_rng {
    uint64_t state;
} fattn_ref_rng;

void fattn_ref_rng_seed(fattn_ref_rng *rng, uint64_t seed);
uint64_t fattn_ref_rng_next(fattn_ref_rng *rng);
/* Uniform double in [0, 1). */
double fattn_ref_rng_unit(fattn_ref_rng *rng);
/* Uniform integer in [lo, hi] (lo <= hi). */
int64_t fattn_ref_rng_range(fattn_ref_rng *rng, int64_t lo, int64_t hi);
/* Uniform element of values[0 .. count-1]. */
int64_t fattn_ref_rng_pick(fattn_ref_rng *rng, const int64_t *values,
                           size_t count);

/* ------------------------------------------------------------------------ */
/* Problem                                                                  */
/* ------------------------------------------------------------------------ */

/* Memory layout of query, key, value, output and LSE. */
typedef enum fattn_ref_layout {
    /* Contiguous [B, H, S, D]. */
    FATTN_REF_LAYOUT_BHSD = 0,
    /* [B, S, H, D]: packed [B, S, H * D] rows, the layout of most models. */
    FATTN_REF_LAYOUT_BSHD = 1,
    /* Permuted [S, B, H, D] in memory with gaps after every dimension (a
     * KV-cache-like view): stride[3] = 1, larger outer strides. */
    FATTN_REF_LAYOUT_PADDED = 2,
    /* [B, H, S, D] order with an element step of 2 along D and gaps after
     * every dimension: nothing is unit-stride. */
    FATTN_REF_LAYOUT_STRIDED = 3,
    /* Contiguous BHSD, but key and value hold one batch, broadcast over B
     * with stride[0] = 0. */
    FATTN_REF_LAYOUT_KV_BROADCAST = 4,
    /* Query, key and value are the thirds of one fused [B, S, 3 * H * D]
     * QKV buffer. Needs Sq == Sk, Hq == Hkv and D == Dv. */
    FATTN_REF_LAYOUT_FUSED_QKV = 5,
    FATTN_REF_LAYOUT_COUNT = 6
} fattn_ref_layout;

typedef enum fattn_ref_mask_kind {
    FATTN_REF_MASK_NONE = 0,
    FATTN_REF_MASK_ADDITIVE = 1, /* f32, uniform values, some -inf */
    FATTN_REF_MASK_BOOL = 2      /* uint8 keep-mask, some zeros */
} fattn_ref_mask_kind;

typedef struct fattn_ref_problem_config {
    uint64_t seed;
    int64_t batch, heads_q, heads_kv, seq_q, seq_k, head_dim, head_dim_v;
    int layout; /* fattn_ref_layout */

    int mask;              /* fattn_ref_mask_kind */
    unsigned mask_size1;   /* bit d set: mask.shape[d] = 1 (broadcast) */
    unsigned mask_stride0; /* bit d set: full size but stride[d] = 0 */
    double mask_drop;      /* fraction of entries that remove their key */
    double mask_dead_rows; /* fraction of mask rows that remove every key */

    int lse;        /* nonzero: allocate an LSE tensor and set params.lse */
    int q_lengths;  /* nonzero: random q_lengths (0, full and between) */
    int kv_lengths; /* nonzero: random kv_lengths (0, full and between) */
    int alibi;      /* nonzero: ALiBi slopes (some 0 and some negative) */
    int large_logits;
    double value_range; /* a in [-a, a]; 0 means 1 (normal mode only) */

    /* fattn_dtype of each tensor (F32, BF16 or F16; 0 = F32). dtype_mask
     * applies to an additive mask (FATTN_REF_MASK_ADDITIVE) only. */
    int dtype_q, dtype_k, dtype_v, dtype_o, dtype_mask;

    /* Scalar options copied into the problem's params: version, scale,
     * causal, window_*, align, softcap, isa, allocator. Pointer fields are
     * ignored (the builder sets them). In large-logits mode the scale is
     * replaced by a power of two. */
    fattn_params params;
} fattn_ref_problem_config;

typedef struct fattn_ref_problem {
    fattn_ref_problem_config config; /* as given (after defaults) */
    fattn_tensor query, key, value, output, mask, lse;
    fattn_params params; /* ready to pass: pointers into this struct */

    /* Owned storage. For FATTN_REF_LAYOUT_FUSED_QKV, q_buf holds all three
     * and k_buf, v_buf are NULL. Element counts are exact extents. */
    float *q_buf, *k_buf, *v_buf, *out_buf, *lse_buf;
    void *mask_buf;
    size_t q_elems, k_elems, v_elems, out_elems, lse_elems, mask_elems;
    size_t q_esize, k_esize, v_esize, out_esize, mask_esize; /* bytes */
    float *alibi_slopes;
    int64_t *q_lengths, *kv_lengths;

    /* Cached reference (fattn_ref_problem_reference): [B, Hq, Sq, Dv] and
     * [B, Hq, Sq], contiguous, and each row's accuracy statistics. */
    double *ref_out, *ref_lse;
    fattn_ref_row_stats *ref_stats;
} fattn_ref_problem;

/* A config for a plain [batch, heads, seq, seq, head_dim] problem: BHSD, no
 * mask, no lengths, no LSE, seed 1. */
void fattn_ref_config_init(fattn_ref_problem_config *cfg, int64_t batch,
                           int64_t heads, int64_t seq_q, int64_t seq_k,
                           int64_t head_dim);

/*
 * Allocate and fill a problem. Returns 0, or -1 if the config is impossible
 * (negative size, Hq % Hkv != 0, a fused layout with unequal shapes, ...) or
 * memory ran out; *p is then freed and zeroed. The output and LSE are filled
 * with the sentinel.
 */
int fattn_ref_problem_init(fattn_ref_problem *p,
                           const fattn_ref_problem_config *cfg);

/* Free everything the problem owns and zero it. Safe on a zeroed struct. */
void fattn_ref_problem_free(fattn_ref_problem *p);

/* The sentinel bit pattern (a quiet NaN with a payload); for bf16 and f16
 * outputs a 16-bit pattern that is a NaN in both formats. */
#define FATTN_REF_SENTINEL_BITS 0x7fc5e1f1u
#define FATTN_REF_SENTINEL_HALF 0x7fd1u

/* Store x, rounded to t's dtype (f32, bf16 or f16), at element (n, h, s, d)
 * of t: for tests that edit a built problem's data. */
void fattn_ref_store(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                     int64_t d, double x);

/* Bytes per element of a dtype (bool 1, bf16 and f16 2, f32 4). */
size_t fattn_ref_dtype_size(int dtype);

/*
 * An f32 tensor of `shape` in `layout`, with the strides the builder gives
 * output and LSE in that layout, in a new buffer of exactly its extent
 * (*elems elements; at least one is allocated) filled with the sentinel:
 * e.g. a second output of a problem. Returns the buffer, for the caller
 * to free, or NULL if memory ran out.
 */
float *fattn_ref_tensor_alloc(fattn_tensor *t, int layout,
                              const int64_t shape[4], size_t *elems);

/* Refill the whole output and LSE buffers (gaps too) with the sentinel. */
void fattn_ref_problem_reset_output(fattn_ref_problem *p);

/* Number of output and LSE buffer elements outside the described tensors
 * (layout gaps) that no longer hold the sentinel bits. */
int64_t fattn_ref_problem_gaps_touched(const fattn_ref_problem *p);

/* Number of output and LSE tensor elements that still hold the sentinel
 * (never written). */
int64_t fattn_ref_problem_unwritten(const fattn_ref_problem *p);

/* (Re)compute the cached fp64 reference from the current params. Returns 0,
 * or -1 if memory ran out. Call again after changing params or data. */
int fattn_ref_problem_reference(fattn_ref_problem *p);

/* Compare output (and LSE if requested) with the cached reference (computed
 * now if absent), by the rules of fattn_ref_compare. LSE entries go to
 * lse_report, or to report if lse_report is NULL; both may be NULL. Returns
 * 1 if all pass. */
int fattn_ref_problem_compare(fattn_ref_problem *p, double atol, double rtol,
                              fattn_ref_report *report,
                              fattn_ref_report *lse_report);

/* One line naming every parameter of the problem (shapes, layout, strides,
 * mask, lengths, options, seed), for failure messages. Returns buf. */
char *fattn_ref_problem_describe(const fattn_ref_problem *p, char *buf,
                                 size_t size);

/* Names for messages. */
const char *fattn_ref_dtype_name(int dtype); /* "f32", "bf16", "f16", "bool" */
const char *fattn_ref_layout_name(int layout);
const char *fattn_ref_mask_name(int mask_kind);

#ifdef __cplusplus
}
#endif

#endif /* FATTN_REF_PROBLEM_H */
