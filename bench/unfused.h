/*
 * unfused.h - attention the way users write it without a fused kernel:
 * S = scale * Q.K^T with a GEMM, the options as a separate pass over S,
 * a row softmax, O = P.V with a GEMM. The baselines of the benchmark suite.
 *
 * The unit of work is a key/value head group: the G = Hq / Hkv query heads
 * that share a key/value head are one [G * Sq, D] matrix (contiguous in the
 * BHSD layout) against one [Sk, D] key matrix, so a group's score matrix is
 * G * Sq * Sk floats. With per-batch lengths (G = 1 only) the GEMMs use the
 * valid sizes. Inputs are a fattn_ref_problem in the BHSD layout (K and V
 * may be a larger cache: unfused_reads_in_place); the output goes to its
 * output tensor.
 *
 * Each baseline is written as its library is best used (see each file):
 * OpenBLAS has no batched GEMM, so it runs group by group, and on T threads
 * each thread takes whole groups (its own score buffer, a single-threaded
 * OpenBLAS inside); oneDNN runs batched matmuls over several groups at once
 * and threads inside its primitives (OpenMP in Debian's build).
 */
#ifndef FATTN_BENCH_UNFUSED_H
#define FATTN_BENCH_UNFUSED_H

#include "problem.h"

#include <stddef.h>
#include <stdint.h>

/* Rows (M) and columns (N) of the score matrix of batch b's groups. */
void unfused_group_dims(const fattn_ref_problem *p, int64_t b, int64_t *m,
                        int64_t *n);

/* Bytes of the largest score matrix of one group. */
size_t unfused_scores_bytes(const fattn_ref_problem *p);

/* 1 if every batch has the same group dims (no per-batch lengths). */
int unfused_uniform(const fattn_ref_problem *p);

/* A 64-byte aligned buffer of `bytes` (at least 64), every page touched;
 * NULL without memory. Free with free(). */
float *unfused_alloc_scores(size_t bytes);

/* 1 if the baselines can read the problem's tensors where they are:
 * contiguous BHSD Q and O, K and V with packed rows per head and one
 * stride between heads (contiguous, or a cache larger than Sk). */
int unfused_reads_in_place(const fattn_ref_problem *p);

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
 * [Sk, D] keys, [Sk, Dv] values (rows D and Dv apart; the group's first
 * row at its head stride) and [G * Sq, Dv] output rows, each in its
 * tensor's dtype (f32 for OpenBLAS; bf16 too for oneDNN). */
typedef struct unfused_group {
    void *q, *k, *v, *o;
} unfused_group;
void unfused_group_data(const fattn_ref_problem *p, int64_t b, int64_t g,
                        unfused_group *grp);

/* After group (b, g) with an m x n score matrix: zero its m output rows if
 * it had no keys (n = 0), and the rows past q_lengths[b]. */
void unfused_finish_group(const fattn_ref_problem *p, int64_t b, int64_t g,
                          int64_t m, int64_t n);

/* ---- OpenBLAS (unfused_blas.c) ---------------------------------------- */

typedef struct unfused_blas unfused_blas;
struct bench_workers;

/* 1 if built with OpenBLAS. */
int unfused_blas_built(void);
/* 1 if the problem's precision is one OpenBLAS can compute here (f32;
 * bf16 would need cblas_sbgemm), else 0 and the reason in why. */
int unfused_blas_dtypes(const fattn_ref_problem *p, char *why, size_t size);
/* One thread; returns OpenBLAS's core name ("SkylakeX", ...) or NULL. */
const char *unfused_blas_setup(void);
/* The fattn_isa whose FMA peak applies to OpenBLAS's kernels here. */
int unfused_blas_isa(void);
/* The state for the problem on `threads` threads: `workers` (a pool of
 * that many threads, NULL for one thread) and a score buffer per thread,
 * allocated and touched now. NULL on failure, with the reason in why. */
unfused_blas *unfused_blas_create(const fattn_ref_problem *p, int threads,
                                  struct bench_workers *workers, char *why,
                                  size_t size);
/* One forward pass; 0 on success. */
int unfused_blas_run(unfused_blas *b);
/* Bytes of its score buffers. */
size_t unfused_blas_extra_bytes(const unfused_blas *b);
/* How it uses its threads, e.g. "2 threads over 8 groups". */
const char *unfused_blas_threading(const unfused_blas *b);
void unfused_blas_free(unfused_blas *b);

/* ---- oneDNN (unfused_dnnl.c) ------------------------------------------ */

typedef struct unfused_dnnl unfused_dnnl;

/* 1 if built with oneDNN. */
int unfused_dnnl_built(void);
/* "2.6.3, max ISA avx512_core, runtime OpenMP" or similar, for the
 * report's context. */
const char *unfused_dnnl_describe(void);
/* The fattn_isa whose FMA peak applies to oneDNN's kernels here. */
int unfused_dnnl_isa(void);
/* 1 if oneDNN's bf16 matmuls run in bf16 dot products here (its ISA has
 * AVX512_BF16), so their peak is the bf16 one; 0: emulated in f32. */
int unfused_dnnl_bf16_native(void);
/* Set oneDNN's thread count (its OpenMP runtime's); 0 on success, -1 if
 * this build's runtime cannot be told (then it runs as it likes). */
int unfused_dnnl_set_threads(int threads);
/* Primitives and a score buffer for the problem on `threads` threads
 * (created once: creating them is not timed). NULL on failure, with the
 * reason in why. */
unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, int threads,
                                  char *why, size_t size);
/* One forward pass; 0 on success. */
int unfused_dnnl_run(unfused_dnnl *d);
/* Bytes of its score buffer. */
size_t unfused_dnnl_extra_bytes(const unfused_dnnl *d);
/* The matmul implementation oneDNN chose and the groups per primitive
 * call, e.g. "brg:avx512_core, 8 groups per call". */
const char *unfused_dnnl_impl(const unfused_dnnl *d);
void unfused_dnnl_free(unfused_dnnl *d);

#endif /* FATTN_BENCH_UNFUSED_H */
