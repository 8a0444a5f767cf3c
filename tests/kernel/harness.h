/*
 * harness.h - run one attention problem through every kernel path and check
 * it against the fp64 reference (tests/kernel).
 */
#ifndef FATTN_KERNEL_HARNESS_H
#define FATTN_KERNEL_HARNESS_H

#include "problem.h"

#include <stdint.h>

/* f32 tolerance: |x - ref| <= KT_ATOL + KT_RTOL * |ref|. */
#define KT_ATOL 1e-5
#define KT_RTOL 1e-5

typedef struct kt_ctx {
    const char *program;  /* argv[0], for the reproduction line */
    const char *category; /* current category */
    uint64_t base_seed;
    uint64_t case_index; /* cases seen so far in this category */
    int64_t only_case;   /* >= 0: run only the case with this index */
    int isas[FATTN_ISA_COUNT]; /* the paths every case runs on, then AUTO */
    int n_isas;
    int64_t failures;    /* failing cases in this category */
    int64_t runs;        /* kernel calls checked in this category */
    fattn_ref_report total;     /* output elements */
    fattn_ref_report total_lse; /* LSE elements */
} kt_ctx;

/* Start a category: reset counters (case seeds restart from base_seed). */
void kt_begin(kt_ctx *ctx, const char *category);

/* Print the category's summary line; returns its number of failures. */
int64_t kt_end(kt_ctx *ctx);

/* The seed of the next case (depends on base seed and case index only). */
uint64_t kt_next_seed(const kt_ctx *ctx);

/*
 * Build the problem described by cfg (its seed is replaced by
 * kt_next_seed()), run it, free it. Returns 1 if it passed.
 */
int kt_run(kt_ctx *ctx, fattn_ref_problem_config *cfg, const char *label);

/* The same, with edit(p, arg) changing the built problem (lengths, data)
 * before it runs. */
typedef void (*kt_edit_fn)(fattn_ref_problem *p, const void *arg);
int kt_run_edited(kt_ctx *ctx, fattn_ref_problem_config *cfg, kt_edit_fn edit,
                  const void *arg, const char *label);

/*
 * Check an already-built problem (so a category can edit lengths or data
 * after fattn_ref_problem_init; its seed should come from kt_next_seed()):
 * fattn_check must accept it; then for every path in ctx->isas, fattn_forward
 * must succeed, reset the error record, match the reference (fully masked
 * rows and rows past q_lengths exactly 0, LSE exactly -inf) and leave the
 * layout's gaps untouched. Prints the full case on failure. Returns 1 if it
 * passed.
 */
int kt_run_problem(kt_ctx *ctx, fattn_ref_problem *p, const char *label);

/* A config of the given shape with everything else off (BHSD layout). */
fattn_ref_problem_config kt_config(int64_t batch, int64_t heads_q,
                                   int64_t heads_kv, int64_t seq_q,
                                   int64_t seq_k, int64_t head_dim,
                                   int64_t head_dim_v);

#endif /* FATTN_KERNEL_HARNESS_H */
