/*
 * test_fp_flags.c - fattn_forward on finite inputs raises none of the
 * floating-point exceptions FE_INVALID, FE_DIVBYZERO, FE_OVERFLOW, on every
 * kernel path this CPU has (fattn.h, "Floating-point exception flags").
 *
 * Each option set runs on two shapes, prefill (Sq = 150: the SIMD lanes
 * path) and decode (Sq = 1 with GQA: the SIMD rows path), and two data sets:
 *   normal  scores of a few units, with masking that produces -inf scores
 *           (causal, windows, bool and -inf additive masks, lengths, fully
 *           masked rows); additive masks of -FLT_MAX and -0.9 FLT_MAX (as
 *           models write "masked" with torch.finfo(float).min); soft-caps of
 *           FLT_MIN (the smallest accepted: score / cap is far beyond
 *           FLT_MAX) and FLT_MAX
 *   huge    scale = 1 and scores of both signs up to 3.2e38, one term of
 *           the dot product each, so that score - max reaches -6.5e38
 * The AVX2 exp once computed inf - inf for every masked key (FE_INVALID);
 * the softmax's score - max, soft-cap's score / cap and the online rescale
 * overflowed on such inputs (FE_OVERFLOW). A caller that enables traps for
 * them (feenableexcept) must get no SIGFPE.
 *
 * Every path must also agree with the scalar path (the semantic reference)
 * on these inputs: a clamp that keeps the flags clear must not change what
 * is computed. On the normal data every path is also checked against the
 * fp64 reference with the shared tolerance (tests/reference/tolerance.h).
 *
 * Dtypes: every case runs with all-f32 tensors, all bf16, all f16 and two
 * mixes (each of query, key, value, output and the additive mask its own
 * dtype), the data rounded to them. f16 cannot hold the huge scores' 1.8e19
 * factors, so the huge data run where query and key are f32 or bf16; a
 * -FLT_MAX mask is -inf in f16 (still a valid mask).
 */
#include "fattn.h"
#include "reference.h"
#include "tolerance.h"

#include <float.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, H = 4, HKV = 2, S = 150, D = 40 };

static int failures;
static double worst_err_v; /* max err / max|V| against the reference */

typedef struct buffers {
    float q[B * H * S * D], k[B * HKV * S * D], v[B * HKV * S * D];
    float o[B * H * S * D], lse[B * H * S];
    float ref_o[B * H * S * D], ref_lse[B * H * S]; /* the scalar path's */
    unsigned char keep[S * S];
    float add[S * S];     /* -inf where a key is removed */
    float add_min[S * S]; /* -FLT_MAX or -0.9 FLT_MAX instead */
    /* The same data rounded to bf16 [0] and f16 [1]. */
    uint16_t qh[2][B * H * S * D], kh[2][B * HKV * S * D], vh[2][B * HKV * S * D];
    uint16_t addh[2][S * S], add_minh[2][S * S];
    uint16_t oh[B * H * S * D];
    /* The fp64 reference of the case (every ROW_STEP-th row), computed
     * with the scalar run. */
    double fp64_o[B * H * S * D], fp64_lse[B * H * S];
    fattn_ref_row_stats fp64_st[B * H * S];
} buffers;

enum { ROW_STEP = 3 };

/* The dtypes of query, key, value, output and additive mask of a run. */
typedef struct dtype_set {
    const char *name;
    int q, k, v, o, m;
} dtype_set;

static const dtype_set dtype_sets[] = {
    {"f32", FATTN_DTYPE_F32, FATTN_DTYPE_F32, FATTN_DTYPE_F32, FATTN_DTYPE_F32, FATTN_DTYPE_F32},
    {"bf16", FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_BF16},
    {"f16", FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16, FATTN_DTYPE_F16},
    {"f16/bf16/f32>f16 m:bf16", FATTN_DTYPE_F16, FATTN_DTYPE_BF16, FATTN_DTYPE_F32, FATTN_DTYPE_F16, FATTN_DTYPE_BF16},
    {"bf16/bf16/f16>bf16 m:f16", FATTN_DTYPE_BF16, FATTN_DTYPE_BF16, FATTN_DTYPE_F16, FATTN_DTYPE_BF16, FATTN_DTYPE_F16},
};
enum { DTYPE_SETS = sizeof dtype_sets / sizeof dtype_sets[0] };

/* The f32 data or its bf16 / f16 rounding. */
#define PICK(f32, half, dt) \
    ((dt) == FATTN_DTYPE_F32 ? (void *)(f32) : (void *)(half)[(dt) == FATTN_DTYPE_F16])

/* x[0 .. n-1] rounded into bf16 h[0] and f16 h[1]. */
static void round_both(uint16_t *bf, uint16_t *f16, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bf[i] = fattn_ref_double_to_half((double)x[i], FATTN_DTYPE_BF16);
        f16[i] = fattn_ref_double_to_half((double)x[i], FATTN_DTYPE_F16);
    }
}

enum { PLAIN, CAUSAL, WINDOW_BR, KEEP_MASK, ADD_MASK, ADD_MASK_MIN, ALIBI,
       SOFTCAP_ALIBI, SOFTCAP_MIN, SOFTCAP_MAX, LENGTHS, MODES };
static const char *const mode_names[] = {
    "plain", "causal", "window bottom-right", "bool mask", "-inf additive mask",
    "-FLT_MAX additive mask", "alibi", "softcap 5 + alibi", "softcap FLT_MIN",
    "softcap FLT_MAX", "lengths"};

enum { NORMAL, HUGE_SCORES, DATA_KINDS };
static const char *const data_names[] = {"normal", "huge"};

static uint32_t rng = 12345u;
static float next_unit(void) /* uniform in [-0.5, 0.5) */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f - 0.5f;
}

static void fill(buffers *b, int data)
{
    rng = 12345u;
    for (size_t i = 0; i < sizeof b->q / sizeof *b->q; i++)
        b->q[i] = 4.0f * next_unit();
    for (size_t i = 0; i < sizeof b->k / sizeof *b->k; i++) {
        b->k[i] = 4.0f * next_unit();
        b->v[i] = next_unit();
    }
    if (data == HUGE_SCORES) {
        /* q0 * k0 in +-[0.8e38, 3.24e38], both signs in every row; the
         * other terms are a few units, so every partial sum of the dot
         * product, in any order, stays finite (the header's condition). */
        for (size_t r = 0; r < sizeof b->q / sizeof *b->q / D; r++)
            b->q[r * D] = 1.8e19f * (next_unit() < 0.0f ? -1.0f : 1.0f) *
                          (0.75f + next_unit() * 0.5f);
        for (size_t r = 0; r < sizeof b->k / sizeof *b->k / D; r++)
            b->k[r * D] = 1.8e19f * (next_unit() < 0.0f ? -1.0f : 1.0f) *
                          (0.75f + next_unit() * 0.5f);
    }
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            /* A third of the keys dropped, which ones varying by row (j * 3
             * would drop every key of every third row instead); row 5 fully
             * masked. */
            int keep = (i * 7 + j * 5) % 3 != 0 && i != 5;
            float small = 0.25f * next_unit();
            b->keep[i * S + j] = (unsigned char)keep;
            b->add[i * S + j] = keep ? small : -INFINITY;
            b->add_min[i * S + j] = keep ? small : j % 2 ? -FLT_MAX : -0.9f * FLT_MAX;
        }
    round_both(b->qh[0], b->qh[1], b->q, sizeof b->q / sizeof *b->q);
    round_both(b->kh[0], b->kh[1], b->k, sizeof b->k / sizeof *b->k);
    round_both(b->vh[0], b->vh[1], b->v, sizeof b->v / sizeof *b->v);
    round_both(b->addh[0], b->addh[1], b->add, sizeof b->add / sizeof *b->add);
    round_both(b->add_minh[0], b->add_minh[1], b->add_min,
               sizeof b->add_min / sizeof *b->add_min);
}

/* The header's condition excludes it: score + mask overflows in the
 * definition itself (-3.2e38 + -3.4e38), not in the kernels. */
static int excluded(int data, int mode, const dtype_set *dt)
{
    if (data == HUGE_SCORES &&
        (dt->q == FATTN_DTYPE_F16 || dt->k == FATTN_DTYPE_F16))
        return 1; /* 1.8e19 is inf in f16: not finite data */
    return data == HUGE_SCORES && mode == ADD_MASK_MIN;
}

/* Output element i (f32 or the half output) as a double. */
static double out_at(const buffers *b, int dtype, int64_t i)
{
    return dtype == FATTN_DTYPE_F32 ? (double)b->o[i]
                                    : fattn_ref_half_to_double(b->oh[i], dtype);
}

/* Against the scalar path's result (ref_o, widened for a half output):
 * 1e-5 + 1e-5|x|, plus an output ulp for a half output (each path rounds
 * its own f32 result). */
/* extra: what the path's own precision adds (P rounded to bf16: its
 * tolerance's p times max|V|), 0 for the f32-accumulating kernels. */
static const char *check_agree(const buffers *b, int dtype, int64_t n_out,
                               int64_t n_lse, double extra)
{
    for (int64_t i = 0; i < n_out; i++) {
        double got = out_at(b, dtype, i), want = b->ref_o[i];
        const double ulp = 2.0 * fattn_tol_half_ulp(dtype, fabs(want));
        if (!(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want) + ulp + extra))
            return "output differs from the scalar path";
    }
    for (int64_t i = 0; i < n_lse; i++) {
        double got = b->lse[i], want = b->ref_lse[i];
        if (isinf(want) ? got != want : !(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want)))
            return "LSE differs from the scalar path";
    }
    return NULL;
}

static void run(buffers *b, int isa, int mode, int data, int decode, const dtype_set *dt)
{
    const int64_t sq = decode ? 1 : S;
    fattn_tensor tq, tk, tv, to, tm, tl;
    fattn_tensor_contiguous(&tq, PICK(b->q, b->qh, dt->q), (fattn_dtype)dt->q, B, H, sq, D);
    fattn_tensor_contiguous(&tk, PICK(b->k, b->kh, dt->k), (fattn_dtype)dt->k, B, HKV, S, D);
    fattn_tensor_contiguous(&tv, PICK(b->v, b->vh, dt->v), (fattn_dtype)dt->v, B, HKV, S, D);
    fattn_tensor_contiguous(&to, dt->o == FATTN_DTYPE_F32 ? (void *)b->o : (void *)b->oh,
                            (fattn_dtype)dt->o, B, H, sq, D);
    fattn_tensor_contiguous(&tl, b->lse, FATTN_DTYPE_F32, B, H, sq, 1);
    static const float slopes[H] = {0.5f, 0.25f, 0.125f, 0.0625f};
    /* Batch 0: every row fully masked (no keys); batch 1 computes. */
    static const int64_t qlen[B] = {S - 7, 29}, kvlen[B] = {0, S - 31};
    static const int64_t qlen_decode[B] = {1, 1};
    fattn_params p = {0};
    p.version = FATTN_PARAMS_VERSION;
    p.isa = isa;
    p.lse = &tl;
    if (data == HUGE_SCORES)
        p.scale = 1.0f;
    /* Prefill: one [S, S] mask for every head. Decode: head h reads mask
     * row 2 + h (row 5, fully masked, included) as [1, H, 1, S]. */
    unsigned char *add = mode == ADD_MASK_MIN ? PICK(b->add_min, b->add_minh, dt->m)
                                              : PICK(b->add, b->addh, dt->m);
    const size_t mes = dt->m == FATTN_DTYPE_F32 ? 4 : 2;
    const fattn_dtype mdt = mode == KEEP_MASK ? FATTN_DTYPE_BOOL : (fattn_dtype)dt->m;
    if (decode) {
        fattn_tensor_contiguous(&tm, mode == KEEP_MASK ? (void *)(b->keep + 2 * S)
                                                       : (void *)(add + 2 * S * mes),
                                mdt, 1, H, 1, S);
    } else {
        fattn_tensor_contiguous(&tm, mode == KEEP_MASK ? (void *)b->keep : (void *)add,
                                mdt, 1, 1, S, S);
    }
    switch (mode) {
    case CAUSAL:
        p.causal = FATTN_CAUSAL_TOP_LEFT;
        break;
    case WINDOW_BR:
        p.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
        p.align = FATTN_ALIGN_BOTTOM_RIGHT;
        p.window_enabled = 1;
        p.window_left = 17;
        p.window_right = 0;
        break;
    case KEEP_MASK:
    case ADD_MASK:
    case ADD_MASK_MIN:
        p.mask = &tm;
        break;
    case ALIBI:
        p.alibi_slopes = slopes;
        break;
    case SOFTCAP_ALIBI:
        p.softcap = 5.0f;
        p.alibi_slopes = slopes;
        p.causal = FATTN_CAUSAL_TOP_LEFT;
        break;
    case SOFTCAP_MIN:
        p.softcap = FLT_MIN;
        break;
    case SOFTCAP_MAX:
        p.softcap = FLT_MAX;
        break;
    case LENGTHS:
        p.q_lengths = decode ? qlen_decode : qlen;
        p.kv_lengths = kvlen;
        break;
    default: /* PLAIN */
        break;
    }
    char what[160];
    snprintf(what, sizeof what, "%-7s %-7s %-6s %-24s %s", fattn_isa_name(isa),
             decode ? "decode" : "prefill", data_names[data], dt->name, mode_names[mode]);
    fattn_error err;
    feclearexcept(FE_ALL_EXCEPT);
    fattn_status st = fattn_forward(&tq, &tk, &tv, &to, &p, &err);
    const int raised = fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
    if (st != FATTN_OK) {
        printf("FAIL %s: %s\n", what, err.message);
        failures++;
        return;
    }
    const int64_t n_out = B * H * sq * D, n_lse = B * H * sq;
    if (isa == FATTN_ISA_SCALAR) {
        for (int64_t i = 0; i < n_out; i++)
            b->ref_o[i] = (float)out_at(b, dt->o, i);
        memcpy(b->ref_lse, b->lse, sizeof(float) * (size_t)n_lse);
    }
    for (int64_t i = 0; i < n_out; i++)
        if (!isfinite(out_at(b, dt->o, i))) {
            printf("FAIL %s: output %g at %lld\n", what, out_at(b, dt->o, i), (long long)i);
            failures++;
            return;
        }
    for (int64_t i = 0; i < n_lse; i++)
        if (isnan(b->lse[i]) || b->lse[i] == INFINITY) {
            printf("FAIL %s: LSE %g at %lld\n", what, (double)b->lse[i], (long long)i);
            failures++;
            return;
        }
    if (raised) {
        printf("FAIL %s: raised%s%s%s\n", what,
               raised & FE_INVALID ? " FE_INVALID" : "",
               raised & FE_DIVBYZERO ? " FE_DIVBYZERO" : "",
               raised & FE_OVERFLOW ? " FE_OVERFLOW" : "");
        failures++;
        return;
    }
    double extra = 0.0;
    if (fattn_tol_kind_of(&tq, &tk, &tv, &to, &p) == FATTN_TOL_BF16P) {
        double vmax = 0.0;
        for (int64_t n = 0; n < tv.shape[0]; n++)
            for (int64_t h = 0; h < tv.shape[1]; h++)
                for (int64_t j = 0; j < tv.shape[2]; j++)
                    for (int64_t d = 0; d < tv.shape[3]; d++)
                        vmax = fmax(vmax, fabs(fattn_ref_elem(&tv, n, h, j, d)));
        extra = fattn_tol_for(FATTN_TOL_BF16P, dt->o).fail.p * vmax;
    }
    const char *bad = isa == FATTN_ISA_SCALAR ? NULL
                                              : check_agree(b, dt->o, n_out, n_lse, extra);
    if (bad) {
        printf("FAIL %s: %s\n", what, bad);
        failures++;
        return;
    }
    if (data == NORMAL) {
        /* The fp64 reference (every ROW_STEP-th row, once per case), with
         * the shared tolerance. */
        fattn_tol_report rep;
        const fattn_tol tol = fattn_tol_of(&tq, &tk, &tv, &to, &p);
        fattn_tol_report_init(&rep);
        for (int64_t r = 0; r < n_lse; r += ROW_STEP) {
            const int64_t bb = r / (H * sq), hh = r / sq % H, ii = r % sq;
            if (isa == FATTN_ISA_SCALAR)
                fattn_ref_row_stats_of(&tq, &tk, &tv, &p, bb, hh, ii, b->fp64_o + r * D,
                                       &b->fp64_lse[r], &b->fp64_st[r]);
            fattn_tol_check_row(&rep, &tol, &to, &tl, bb, hh, ii, b->fp64_o + r * D,
                                b->fp64_lse[r], &b->fp64_st[r]);
        }
        if (rep.fails) {
            printf("FAIL %s: %lld elements beyond the tolerance, ", what, (long long)rep.fails);
            fattn_tol_print_worst(stdout, &rep);
            printf("\n");
            failures++;
            return;
        }
        if (rep.warns) {
            printf("WARN %s: %lld elements beyond the warn bound, ", what, (long long)rep.warns);
            fattn_tol_print_worst(stdout, &rep);
            printf("\n");
        }
        if (rep.max_err_v > worst_err_v)
            worst_err_v = rep.max_err_v;
    }
    printf("ok   %s\n", what);
}

int main(void)
{
    buffers *b = malloc(sizeof *b);
    if (!b)
        return 2;
    int tested = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
        if (!fattn_isa_available(isa))
            printf("SKIP %s: not built in or not supported by this CPU\n",
                   fattn_isa_name(isa));
    if (!fattn_isa_available(FATTN_ISA_SCALAR)) {
        printf("FAIL the scalar path, the reference here, is not available\n");
        free(b);
        return 1;
    }
    /* The scalar path first in each case: the others are compared with it. */
    for (int data = 0; data < DATA_KINDS; data++) {
        fill(b, data);
        for (int d = 0; d < DTYPE_SETS; d++)
            for (int decode = 0; decode < 2; decode++)
                for (int mode = 0; mode < MODES; mode++) {
                    if (excluded(data, mode, &dtype_sets[d]))
                        continue;
                    run(b, FATTN_ISA_SCALAR, mode, data, decode, &dtype_sets[d]);
                    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
                        if (isa != FATTN_ISA_SCALAR && fattn_isa_available(isa))
                            run(b, isa, mode, data, decode, &dtype_sets[d]);
                }
    }
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
        tested += fattn_isa_available(isa);
    free(b);
    printf("%d paths tested, %d failures; normal data: max err/max|V| %.3g against the"
           " fp64 reference\n", tested, failures, worst_err_v);
    return failures != 0;
}
