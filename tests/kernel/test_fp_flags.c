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
 * is computed.
 */
#include "fattn.h"

#include <float.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, H = 4, HKV = 2, S = 150, D = 40 };

static int failures;

typedef struct buffers {
    float q[B * H * S * D], k[B * HKV * S * D], v[B * HKV * S * D];
    float o[B * H * S * D], lse[B * H * S];
    float ref_o[B * H * S * D], ref_lse[B * H * S]; /* the scalar path's */
    unsigned char keep[S * S];
    float add[S * S];     /* -inf where a key is removed */
    float add_min[S * S]; /* -FLT_MAX or -0.9 FLT_MAX instead */
} buffers;

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
}

/* The header's condition excludes it: score + mask overflows in the
 * definition itself (-3.2e38 + -3.4e38), not in the kernels. */
static int excluded(int data, int mode)
{
    return data == HUGE_SCORES && mode == ADD_MASK_MIN;
}

static const char *check_agree(const buffers *b, int64_t n_out, int64_t n_lse)
{
    for (int64_t i = 0; i < n_out; i++) {
        double got = b->o[i], want = b->ref_o[i];
        if (!(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want)))
            return "output differs from the scalar path";
    }
    for (int64_t i = 0; i < n_lse; i++) {
        double got = b->lse[i], want = b->ref_lse[i];
        if (isinf(want) ? got != want : !(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want)))
            return "LSE differs from the scalar path";
    }
    return NULL;
}

static void run(buffers *b, int isa, int mode, int data, int decode)
{
    const int64_t sq = decode ? 1 : S;
    fattn_tensor tq, tk, tv, to, tm, tl;
    fattn_tensor_contiguous(&tq, b->q, FATTN_DTYPE_F32, B, H, sq, D);
    fattn_tensor_contiguous(&tk, b->k, FATTN_DTYPE_F32, B, HKV, S, D);
    fattn_tensor_contiguous(&tv, b->v, FATTN_DTYPE_F32, B, HKV, S, D);
    fattn_tensor_contiguous(&to, b->o, FATTN_DTYPE_F32, B, H, sq, D);
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
    const float *add = mode == ADD_MASK_MIN ? b->add_min : b->add;
    if (decode) {
        fattn_tensor_contiguous(&tm, mode == KEEP_MASK ? (void *)(b->keep + 2 * S)
                                                       : (void *)(add + 2 * S),
                                mode == KEEP_MASK ? FATTN_DTYPE_BOOL : FATTN_DTYPE_F32,
                                1, H, 1, S);
    } else {
        fattn_tensor_contiguous(&tm, mode == KEEP_MASK ? (void *)b->keep : (void *)add,
                                mode == KEEP_MASK ? FATTN_DTYPE_BOOL : FATTN_DTYPE_F32,
                                1, 1, S, S);
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
    snprintf(what, sizeof what, "%-7s %-7s %-6s %s", fattn_isa_name(isa),
             decode ? "decode" : "prefill", data_names[data], mode_names[mode]);
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
        memcpy(b->ref_o, b->o, sizeof(float) * (size_t)n_out);
        memcpy(b->ref_lse, b->lse, sizeof(float) * (size_t)n_lse);
    }
    for (int64_t i = 0; i < n_out; i++)
        if (!isfinite(b->o[i])) {
            printf("FAIL %s: output %g at %lld\n", what, (double)b->o[i], (long long)i);
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
    const char *bad = isa == FATTN_ISA_SCALAR ? NULL : check_agree(b, n_out, n_lse);
    if (bad) {
        printf("FAIL %s: %s\n", what, bad);
        failures++;
        return;
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
        for (int decode = 0; decode < 2; decode++)
            for (int mode = 0; mode < MODES; mode++) {
                if (excluded(data, mode))
                    continue;
                run(b, FATTN_ISA_SCALAR, mode, data, decode);
                for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
                    if (isa != FATTN_ISA_SCALAR && fattn_isa_available(isa))
                        run(b, isa, mode, data, decode);
            }
    }
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
        tested += fattn_isa_available(isa);
    free(b);
    printf("%d paths tested, %d failures\n", tested, failures);
    return failures != 0;
}
