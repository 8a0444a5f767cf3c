/*
 * prepare.h - the per-shape state of the benchmark cases, built once and
 * shared by every implementation of that shape: the seeded problem (all
 * buffers allocated, 64-byte aligned and touched), the FLOP count, a sample
 * of fp64 reference rows, per thread count (level, machine.h) fattn's
 * workspaces and the baselines' states (score buffers, oneDNN primitives),
 * and each implementation's one-time verification per level.
 *
 * Google Benchmark calls a case body several times (growing iteration
 * counts, repetitions); only the first call of a shape pays for set-up.
 * One shape is held at a time.
 *
 * Precision: a shape has the dtype of its query and output (q_dtype) and
 * of its key and value (kv_dtype), f32, bf16 or f16; half tensors are the
 * f32 problem's values rounded to nearest even (dtypes.h), which the fp64
 * reference reads as they are.
 *
 * The baselines read contiguous BHSD rows: a strided cache they read in
 * place (their GEMMs take the head stride), a BSHD problem from a
 * contiguous BHSD copy with the same values, made on their first use
 * (their summary says so).
 */
#ifndef FATTN_BENCH_PREPARE_H
#define FATTN_BENCH_PREPARE_H

#include "machine.h"
#include "problem.h"

#include <stddef.h>
#include <stdint.h>

/* The implementations: the two baselines, then every fattn path of the
 * library's list (fattn_isa 1 .. FATTN_ISA_COUNT - 1, forced per call),
 * named by fattn_isa_name: a new path is benchmarked without an edit here. */
typedef enum bench_impl {
    BENCH_BLAS = 0,   /* unfused: OpenBLAS sgemm + softmax + sgemm (f32) */
    BENCH_ONEDNN = 1, /* unfused: oneDNN matmul + softmax + matmul (f32,
                       * bf16) */
    BENCH_FIRST_PATH = 2,
    /* The scalar path: its own size limit and the x_scalar counter. */
    BENCH_SCALAR = BENCH_FIRST_PATH + FATTN_ISA_SCALAR - 1,
    BENCH_IMPL_COUNT = BENCH_FIRST_PATH + FATTN_ISA_COUNT - 1
} bench_impl;

typedef enum bench_variant {
    BENCH_PLAIN = 0,
    BENCH_CAUSAL,    /* top-left causal */
    BENCH_MASK_F32,  /* additive [1, 1, Sq, Sk] mask, 10% -inf */
    BENCH_MASK_BOOL, /* bool keep-mask [1, 1, Sq, Sk], 10% removed */
    BENCH_WINDOW,    /* causal + sliding window of 256 keys (Mistral) */
    BENCH_ALIBI,     /* ALiBi slopes, non-causal */
    BENCH_SOFTCAP,   /* logit soft-cap 50 (Gemma 2) */
    BENCH_RAGGED,    /* per-batch q and kv lengths S, 3S/4, S/2, S/4, ... */
    /* Layouts of a decoder's K/V cache (Q and O as plain): */
    BENCH_STRIDED,   /* BHSD K/V in a cache of 2*Sk rows, the first Sk used */
    BENCH_BSHD,      /* Q, K, V, O token-major, heads interleaved */
    BENCH_VARIANT_COUNT
} bench_variant;

typedef struct bench_shape {
    int64_t batch, heads, kv_heads, seq_q, seq_k, dim;
    int variant; /* bench_variant */
    /* fattn_dtype of query and output, and of key and value (0 = f32). */
    int q_dtype, kv_dtype;
} bench_shape;

const char *bench_impl_name(int impl);
const char *bench_variant_name(int variant);

/* The fattn_isa of a fattn path's impl, else -1 (a baseline). */
int bench_impl_fattn_isa(int impl);

/* 1 if `impl` can run here (built, CPU and OS support it); else 0 and the
 * reason in why. */
int bench_impl_runnable(int impl, char *why, size_t size);

typedef struct bench_prepared bench_prepared;

/* The thread counts of the levels (set once, before any case runs). */
void bench_prepare_use(const bench_machine *machine);

/* The state for `shape` under `key` (reused while the key is the same).
 * NULL on failure with the reason in why. */
bench_prepared *bench_prepare(const char *key, const bench_shape *shape,
                              char *why, size_t size);

/* Run `impl` once on the level's threads (checked against the fp64 sample
 * on its first use of this shape and level: 0 if it matches, else -1 and
 * why). A fattn path on N threads must also give the very bits it gave on
 * one thread (the library's determinism promise). */
int bench_verify(bench_prepared *pp, int impl, int level, char *why,
                 size_t size);

/* One untimed-by-us call of `impl` on the level's threads: what the
 * timing loop repeats. 0 on success. */
int bench_run(bench_prepared *pp, int impl, int level);

/* FLOP per call: 4*B*H*Sq*Sk*D dense; with causal, window or lengths only
 * the visible pairs, 2*(D+Dv) each. */
double bench_flops(const bench_prepared *pp);

/* Bytes of K and V one call reads: B*Hkv*Sk*(D+Dv)*E, E the K/V element
 * size (4 for f32, 2 for bf16 and f16; Sk, not the cache's capacity). */
double bench_kv_bytes(const bench_prepared *pp);

/* Query rows per K/V row, r = (Hq/Hkv)*Sq. */
double bench_rows_per_kv(const bench_prepared *pp);

/* FLOP per byte of K/V a call does: r rows of 2*(D+Dv) FLOP per K/V row
 * of (D+Dv)*E bytes, 2r/E (r/2 for f32, r for a bf16/f16 cache). */
double bench_flop_per_kv_byte(const bench_prepared *pp);

/* Extra memory of `impl` at the level: fattn's workspace
 * (fattn_workspace_size, one buffer reused by every call, every task's
 * share with a pool), the baselines' score buffers. */
double bench_extra_bytes(const bench_prepared *pp, int impl, int level);

/* One-line verification summary of `impl` at the level (after
 * bench_verify). */
const char *bench_verify_summary(const bench_prepared *pp, int impl,
                                 int level);

/* How many implementations gave a wrong result or an error in their
 * verification (a missing ISA or baseline does not count). */
int bench_verify_failures(void);

/* Free the held state. */
void bench_prepare_release(void);

#endif /* FATTN_BENCH_PREPARE_H */
