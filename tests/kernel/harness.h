/*
 * harness.h - run one attention problem through every kernel path and check
 * it against the fp64 reference (tests/kernel).
 */
#ifndef FATTN_KERNEL_HARNESS_H
#define FATTN_KERNEL_HARNESS_H

#include "problem.h"
#include "tolerance.h"

#include <stdint.h>

/* Results are judged by tests/reference/tolerance.h (per path and dtype,
 * relative to max|V|, a warn threshold below the fail one). Statistics
 * are kept per path, class of input dtypes and output dtype. */
enum { KT_IN_F32, KT_IN_BF16, KT_IN_F16, KT_IN_MIXED, KT_IN_CLASSES };

typedef struct kt_cell {
    int64_t runs;
    fattn_tol_report rep;
} kt_cell;

typedef struct kt_ctx {
    const char *program;  /* argv[0], for the reproduction line */
    const char *category; /* current category */
    uint64_t base_seed;
    uint64_t case_index; /* cases seen so far in this category */
    int64_t only_case;   /* >= 0: run only the case with this index */
    int isas[FATTN_ISA_COUNT]; /* the paths every case runs on, then AUTO */
    int n_isas;
    int64_t failures;    /* failing cases in this category */
    int64_t warnings;    /* runs with elements beyond the warn bound */
    int64_t runs;        /* kernel calls checked in this category */
    fattn_tol_report total; /* output and LSE elements, every path */
    /* [isa][input class][output dtype] */
    kt_cell cells[FATTN_ISA_COUNT][KT_IN_CLASSES][3];
} kt_ctx;

/* Start a category: reset counters (case seeds restart from base_seed). */
void kt_begin(kt_ctx *ctx, const char *category);

/* Print the category's summary line and per path and dtype class the
 * largest errors reached; returns its number of failures. */
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
 * must succeed, reset the error record, match the reference within the
 * tolerance of the kernel that ran (fully masked rows and rows past
 * q_lengths exactly 0, LSE exactly -inf), leave the layout's gaps untouched
 * and agree with the first path within the sum of both tolerances. Prints
 * the full case on failure, a WARN line when an element passes the warn
 * bound. Returns 1 if it passed.
 */
int kt_run_problem(kt_ctx *ctx, fattn_ref_problem *p, const char *label);

/* A config of the given shape with everything else off (BHSD layout). */
fattn_ref_problem_config kt_config(int64_t batch, int64_t heads_q,
                                   int64_t heads_kv, int64_t seq_q,
                                   int64_t seq_k, int64_t head_dim,
                                   int64_t head_dim_v);

/* Categories defined outside kernel_grid.c. */
void kt_cat_dtype(kt_ctx *ctx); /* grid_dtype.c */

#endif /* FATTN_KERNEL_HARNESS_H */
