/*
 * reference.h - plain fp64 attention, straight from the definition in fattn.h.
 *
 * Used only by tests, fuzzers and benchmarks (the CLI's `bench` too). It reads
 * the public descriptors directly (not the library's internal problem), tests
 * visibility key by key with its own predicate, and materialises one score
 * row at a time in double. It assumes fattn_check() accepted the arguments.
 */
#ifndef FATTN_REFERENCE_H
#define FATTN_REFERENCE_H

#include "fattn.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if causal, window and kv length leave key j visible to row i of batch b
 * (masks and q length not considered). */
int fattn_ref_visible(const fattn_tensor *query, const fattn_tensor *key,
                      const fattn_params *params, int64_t b, int64_t i,
                      int64_t j);

/*
 * Row i of batch b, query head h, in double: out_row[0 .. Dv-1] and *lse
 * (-INFINITY for a fully masked row or a row past q_lengths[b], with a zero
 * output row). `params` may be NULL. `lse` may be NULL.
 */
void fattn_ref_row(const fattn_tensor *query, const fattn_tensor *key,
                   const fattn_tensor *value, const fattn_params *params,
                   int64_t b, int64_t h, int64_t i, double *out_row,
                   double *lse);

/*
 * What the accuracy of row i depends on (tests/reference/tolerance.h):
 *   vmax  max |V[j][e]| over the keys the row sees (the output is a convex
 *         combination of those rows); 0 for a fully masked row;
 *   cond  max over those keys of the magnitude at which a float32 kernel
 *         rounds the score: 0 where every term and every sum of them is a
 *         float (integer Q and K with |Q.K| summed below 2^24 and a
 *         power-of-two scale, integer mask values, power-of-two ALiBi
 *         slopes, each partial score a float: the large-logits mode of
 *         problem.h, mostly), else scale * sum_d |q_d k_d| + |mask| +
 *         |ALiBi bias|, plus twice the capped score with a soft-cap.
 * fattn_ref_row, with these too (stats may be NULL).
 */
typedef struct fattn_ref_row_stats {
    double vmax, cond;
} fattn_ref_row_stats;

void fattn_ref_row_stats_of(const fattn_tensor *query, const fattn_tensor *key,
                            const fattn_tensor *value,
                            const fattn_params *params, int64_t b, int64_t h,
                            int64_t i, double *out_row, double *lse,
                            fattn_ref_row_stats *stats);

/* Element (n, h, s, d) of an f32, bf16 or f16 tensor, in double (exact). */
double fattn_ref_elem(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                      int64_t d);

/* bf16 or f16 bits to double (exact; NaN for any NaN), and double to the
 * nearest bf16 or f16, ties to even (NaN to the canonical quiet NaN),
 * written from the formats' definitions, apart from the library's code. */
double fattn_ref_half_to_double(uint16_t h, int dtype);
uint16_t fattn_ref_double_to_half(double x, int dtype);

/* Result of comparing a computed output (and LSE) with the reference. */
typedef struct fattn_ref_report {
    double max_abs_err;    /* max |x - ref| over checked elements */
    double max_rel_err;    /* max |x - ref| / |ref| where |ref| > 0 */
    double max_excess;     /* max (|x - ref| - (atol + rtol*|ref|)); <= 0 passes */
    int64_t checked;       /* elements compared */
    int64_t violations;    /* elements outside atol + rtol*|ref| (NaN counts) */
    int64_t worst[4];      /* b, h, i, d of the worst element (d = -1: LSE;
                            * worst[0] = -1: nothing checked) */
    double worst_got, worst_ref;
    double max_ratio;      /* max |x - ref| / (atol + rtol*|ref|) over finite
                            * pairs with a nonzero bound: how close to the
                            * tolerance the data came (<= 1 passes) */
} fattn_ref_report;

/*
 * Compare `output` (and params->lse if set) with the reference, using
 * |x - ref| <= atol + rtol * |ref|. row_step > 1 checks every row_step-th
 * row of each (b, h) only (a sample for big problems; 1 = all rows). LSE
 * entries equal to -inf must be exactly -inf, and the output of a row whose
 * reference LSE is -inf (fully masked, or past q_lengths) must be exactly 0
 * (atol = rtol = 0 there). A NaN is a violation unless the reference is NaN
 * too (NaN inputs propagate). Returns 1 if every checked element passes,
 * else 0 (also when the scratch row cannot be allocated: checked = -1).
 * `report` may be NULL.
 */
int fattn_ref_compare(const fattn_tensor *query, const fattn_tensor *key,
                      const fattn_tensor *value, const fattn_tensor *output,
                      const fattn_params *params, double atol, double rtol,
                      int64_t row_step, fattn_ref_report *report);

/*
 * Building blocks of fattn_ref_compare, for callers that cache the reference
 * (tests/reference/problem.h) or compare other data.
 *
 * report_init: zero counts, max_excess = -inf, worst[0] = -1 (nothing yet).
 * report_add: one element, (b, h, i, d) its coordinates (d = -1 for LSE), by
 * the rules of fattn_ref_compare; returns 1 if it passes.
 * report_merge: fold `from` into `into` (maxima, counts, the worse worst).
 * compare_row: row i of (b, h) of `output` (and of `lse` unless NULL) against
 * a reference row and LSE, with the exact-zero rule for fully masked rows;
 * output elements go to `report`, the LSE to `lse_report` (NULL: `report`).
 */
void fattn_ref_report_init(fattn_ref_report *report);
int fattn_ref_report_add(fattn_ref_report *report, double got, double ref,
                         double atol, double rtol, int64_t b, int64_t h,
                         int64_t i, int64_t d);
void fattn_ref_report_merge(fattn_ref_report *into,
                            const fattn_ref_report *from);
void fattn_ref_compare_row(fattn_ref_report *report,
                           fattn_ref_report *lse_report,
                           const fattn_tensor *output, const fattn_tensor *lse,
                           int64_t b, int64_t h, int64_t i,
                           const double *ref_row, double ref_lse, double atol,
                           double rtol);

/* Number of (b, h, i, j) pairs that causal, window and lengths leave
 * visible (masks not considered): the FLOP convention counts 4*D per pair
 * (2*D for Q.K^T, 2*Dv for P.V when D == Dv). Rows past q_lengths count 0. */
int64_t fattn_ref_visible_pairs(const fattn_tensor *query,
                                const fattn_tensor *key,
                                const fattn_params *params);

#ifdef __cplusplus
}
#endif

#endif /* FATTN_REFERENCE_H */
