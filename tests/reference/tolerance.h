/*
 * tolerance.h - how close a kernel's result must be to the fp64 reference,
 * per path and dtype, scale-aware, with a warn threshold below the fail one
 * (BLIS's habit): one place for the kernel grid, the fp-flags and
 * determinism tests and the fuzzers.
 *
 * Per output row (fattn_ref_row_stats: vmax = max |V| over the keys the
 * row sees, cond = the magnitude at which f32 rounds its scores, 0 when
 * they are exact), with u = 2^-24:
 *
 *   output   |x - ref| <= e = vmax * (p + u * (a + b * cond))
 *   LSE      |x - ref| <= u * (la + lb * cond + lr * |ref|)
 *
 * - a, b, la, lb, lr: the f32 computation. The output is a convex
 *   combination of V rows, so its error is relative to vmax: the
 *   exponentials and sums (a, a few u), and the scores' own rounding (b *
 *   cond: a score off by delta moves the weights by a factor 1 + delta).
 *   The LSE carries the scores' errors directly (lb) and its own rounding
 *   relative to itself (lr).
 * - p: the weights' own precision, 0 on the f32-accumulating paths; 4e-3
 *   (fattn.h: 2^-8 * max|V| plus margin) where the AVX512_BF16 kernels ran
 *   (fattn_plan_kernel() named "avx512bf16_..."), which round P to bf16.
 * - A bf16 or f16 output is the f32 result rounded once, to nearest: x
 *   must be the rounding of some value within e of ref, round(ref - e) <=
 *   x <= round(ref + e) (rounding is monotonic). Its error is the distance
 *   from ref to the interval of values that round to x, the f32 error the
 *   output implies, and e bounds it as for an f32 output. So f16's
 *   overflow to inf from 65520 and its subnormals need no rule of their
 *   own, and the half-ulp rounding itself is exact, not tolerated.
 *
 * Fully masked rows (reference LSE -inf) must be exactly 0 and -inf; NaN
 * must meet NaN. The fail coefficients are a few times what the paths
 * reach over the kernel grid and fuzzing campaigns, the warn ones about
 * what they reach (the measurements are in tolerance.c): a result between
 * the two is printed as a WARN line, not a failure.
 */
#ifndef FATTN_REF_TOLERANCE_H
#define FATTN_REF_TOLERANCE_H

#include "fattn.h"
#include "problem.h"
#include "reference.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The accuracy promise that applies to a call. */
typedef enum fattn_tol_kind {
    FATTN_TOL_F32 = 0,  /* scores, softmax and P.V in f32 */
    FATTN_TOL_BF16P = 1 /* P rounded to bf16 (the AVX512_BF16 kernels) */
} fattn_tol_kind;

/* One threshold: the coefficients of the bounds above. */
typedef struct fattn_tol_bound {
    double p, a, b, la, lb, lr;
} fattn_tol_bound;

typedef struct fattn_tol {
    int kind;     /* fattn_tol_kind */
    int out_dtype; /* the output's fattn_dtype */
    fattn_tol_bound fail, warn;
} fattn_tol;

/* The tolerance of a kind of path for an output dtype. */
fattn_tol fattn_tol_for(int kind, int out_dtype);

/* The kind of path that runs this call: a plan is made (not run) and its
 * kernel's name read (fattn_plan_kernel), so AUTO and the fallbacks of the
 * AVX512_BF16 path are judged by what actually runs. FATTN_TOL_F32 if the
 * plan cannot be made (the caller's own call then fails anyway). */
int fattn_tol_kind_of(const fattn_tensor *query, const fattn_tensor *key,
                      const fattn_tensor *value, const fattn_tensor *output,
                      const fattn_params *params);

/* The tolerance for the call (kind and output dtype). */
fattn_tol fattn_tol_of(const fattn_tensor *query, const fattn_tensor *key,
                       const fattn_tensor *value, const fattn_tensor *output,
                       const fattn_params *params);

/* Half an ulp of a bf16 or f16 number of magnitude mag (0 for f32). */
double fattn_tol_half_ulp(int dtype, double mag);

/* The f32 error a bf16 or f16 output x implies: the distance from ref to
 * the values that round to x (0 if ref itself rounds to x); |x - ref| for
 * f32. */
double fattn_tol_implied_error(double x, double ref, int dtype);

/* e above for one row (the output bound), and a coarser bound of |x - ref|
 * for one element (e plus half an output ulp, for comparing two paths),
 * and the LSE bound of one row. */
double fattn_tol_f32_bound(const fattn_tol_bound *b,
                           const fattn_ref_row_stats *st);
double fattn_tol_out_bound(const fattn_tol_bound *b, int out_dtype,
                           const fattn_ref_row_stats *st, double ref);
double fattn_tol_lse_bound(const fattn_tol_bound *b,
                           const fattn_ref_row_stats *st, double ref);

/* What a comparison found. Output errors are kept relative to each row's
 * vmax (err_v: the f32 error, implied for half outputs) and, for a half
 * output, as the distance from the correctly rounded reference in output
 * ulps (consecutive values of the format). */
typedef struct fattn_tol_report {
    int64_t checked;           /* output and LSE elements */
    int64_t fails, warns;      /* beyond fail; between warn and fail */
    double max_err_v;          /* max f32 error / vmax (output; implied for half) */
    double max_err_ulp;        /* max ulps from round(ref), half outputs */
    double max_fail_ratio;     /* max error / fail bound (<= 1 passes) */
    double max_warn_ratio;     /* max error / warn bound */
    double lse_max_err;        /* max |x - ref| (LSE) */
    double lse_max_fail_ratio; /* max |x - ref| / LSE fail bound */
    int64_t worst[4];          /* b, h, i, d of the worst (fail ratio); d = -1: LSE */
    double worst_got, worst_ref, worst_bound;
} fattn_tol_report;

void fattn_tol_report_init(fattn_tol_report *r);
void fattn_tol_report_merge(fattn_tol_report *into,
                            const fattn_tol_report *from);

/* Row i of (b, h) of output (and lse unless NULL) against a reference row,
 * its LSE and its stats. Returns 1 if nothing fails. */
int fattn_tol_check_row(fattn_tol_report *r, const fattn_tol *tol,
                        const fattn_tensor *output, const fattn_tensor *lse,
                        int64_t b, int64_t h, int64_t i, const double *ref_row,
                        double ref_lse, const fattn_ref_row_stats *st);

/* A built problem's output and LSE against its cached reference (computed
 * now if absent). Returns 1 if nothing fails (checked = -1: no memory). */
int fattn_tol_check_problem(fattn_ref_problem *p, const fattn_tol *tol,
                            fattn_tol_report *r);

/* Any accepted call's output (and params->lse) against the reference
 * computed here, row by row. Returns 1 if nothing fails. */
int fattn_tol_check(const fattn_tensor *query, const fattn_tensor *key,
                    const fattn_tensor *value, const fattn_tensor *output,
                    const fattn_params *params, const fattn_tol *tol,
                    fattn_tol_report *r);

/* Two paths' results a and b at one element (widened to double) agree:
 * |a - b| <= bound_a + bound_b, their bounds around the reference
 * (fattn_tol_out_bound, fattn_tol_lse_bound), NaN with NaN, infinities
 * exactly. */
int fattn_tol_agree(double a, double b, double bound_a, double bound_b);

/* "fail |x-ref| <= vmax*(...)" text of a tolerance, for messages. */
const char *fattn_tol_describe(const fattn_tol *tol, char *buf, size_t size);

/* The worst element of a report, one line. */
void fattn_tol_print_worst(FILE *out, const fattn_tol_report *r);

#ifdef __cplusplus
}
#endif

#endif /* FATTN_REF_TOLERANCE_H */
