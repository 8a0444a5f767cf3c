/*
 * unfused.h - attention the way users write it without a fused kernel:
 * S = scale * Q.K^T with a GEMM, the options as a separate pass over S,
 * a row softmax, O = P.V with a GEMM. The baselines of the benchmark suite.
 *
 * Both baselines (OpenBLAS cblas_sgemm, oneDNN matmul + softmax primitives)
 * work on one key/value head group at a time: the G = Hq / Hkv query heads
 * that share a key/value head are one [G * Sq, D] matrix (contiguous in the
 * BHSD layout), so the score buffer is G * Sq * Sk floats, reused for every
 * group. With per-batch lengths (G = 1 only) the GEMMs use the valid sizes.
 * Inputs are a fattn_ref_problem in the BHSD layout; the output goes to its
 * output tensor.
 */
#ifndef FATTN_BENCH_UNFUSED_H
#define FATTN_BENCH_UNFUSED_H

#include "problem.h"

#include <stddef.h>
#include <stdint.h>

/* Rows (M) and columns (N) of the score matrix of batch b's groups. */
void unfused_group_dims(const fattn_ref_problem *p, int64_t b, int64_t *m,
                        int64_t *n);

/* Bytes of the largest score matrix: the baselines' extra memory. */
size_t unfused_scores_bytes(const fattn_ref_problem *p);

/* 1 if the baselines can compute this problem, else 0 with the reason in
 * why[0 .. size-1]. */
int unfused_supported(const fattn_ref_problem *p, char *why, size_t size);

/* 1 if the problem needs the pass over S (causal, window, mask, ALiBi). */
int unfused_needs_mask_pass(const fattn_ref_problem *p);

/* The pass over the m x n scores of group (b, g), already scaled: soft-cap
 * (if apply_softcap), additive/bool mask, ALiBi, then -inf outside the
 * causal/window range. */
void unfused_mask_pass(const fattn_ref_problem *p, int64_t b, int64_t g,
                       int64_t m, int64_t n, float *scores, int apply_softcap);

/* Softmax of `rows` rows of n floats, ld apart, in place. */
void unfused_softmax_rows(float *scores, int64_t rows, int64_t n, int64_t ld);
/* Its per-ISA copies (softmax.c); unfused_softmax_rows picks one. */
void bench_softmax_rows_base(float *scores, int64_t rows, int64_t n, int64_t ld);
void bench_softmax_rows_avx2(float *scores, int64_t rows, int64_t n, int64_t ld);
void bench_softmax_rows_avx512(float *scores, int64_t rows, int64_t n,
                               int64_t ld);
/* Name of the copy unfused_softmax_rows uses: "avx512", "avx2", "base". */
const char *unfused_softmax_isa(void);

/* Group (b, g)'s data in the BHSD buffers: its [G * Sq, D] query rows,
 * [Sk, D] keys, [Sk, Dv] values and [G * Sq, Dv] output rows. */
typedef struct unfused_group {
    float *q, *k, *v, *o;
} unfused_group;
void unfused_group_data(const fattn_ref_problem *p, int64_t b, int64_t g,
                        unfused_group *grp);

/* After group (b, g) with an m x n score matrix: zero its m output rows if
 * it had no keys (n = 0), and the rows past q_lengths[b]. */
void unfused_finish_group(const fattn_ref_problem *p, int64_t b, int64_t g,
                          int64_t m, int64_t n);

/* ---- OpenBLAS (unfused_blas.c) ---------------------------------------- */

/* 1 if built with OpenBLAS. */
int unfused_blas_built(void);
/* One thread; returns OpenBLAS's core name ("SkylakeX", ...) or NULL. */
const char *unfused_blas_setup(void);
/* The fattn_isa whose FMA peak applies to OpenBLAS's kernels here. */
int unfused_blas_isa(void);
/* Compute the problem with scores as the score buffer. */
void unfused_blas_run(const fattn_ref_problem *p, float *scores);

/* ---- oneDNN (unfused_dnnl.c) ------------------------------------------ */

typedef struct unfused_dnnl unfused_dnnl;

/* 1 if built with oneDNN. */
int unfused_dnnl_built(void);
/* "2.6.3, avx512_core" or similar, for the report's context. */
const char *unfused_dnnl_describe(void);
/* The fattn_isa whose FMA peak applies to oneDNN's kernels here. */
int unfused_dnnl_isa(void);
/* Primitives for the problem (created once: creating them is not timed).
 * NULL on failure, with the reason in why. */
unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, float *scores,
                                  char *why, size_t size);
/* One forward pass; 0 on success. */
int unfused_dnnl_run(unfused_dnnl *d);
/* The matmul implementation oneDNN chose, e.g. "brg:avx512_core". */
const char *unfused_dnnl_impl(const unfused_dnnl *d);
void unfused_dnnl_free(unfused_dnnl *d);

#endif /* FATTN_BENCH_UNFUSED_H */
