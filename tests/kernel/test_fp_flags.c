/*
 * test_fp_flags.c - fattn_forward on finite inputs raises none of the
 * floating-point exceptions FE_INVALID, FE_DIVBYZERO, FE_OVERFLOW, on every
 * kernel path this CPU has, with masking that produces -inf scores (causal,
 * windows, bool and -inf additive masks, lengths, fully masked rows),
 * soft-capping, ALiBi, LSE, and the decode shape. A caller that enables
 * traps for them (feenableexcept) must not get a SIGFPE from masked keys;
 * the AVX2 exp once computed inf - inf for each of them.
 */
#include "fattn.h"

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 2, H = 4, HKV = 2, S = 150, D = 40 };

static int failures;

typedef struct buffers {
    float q[B * H * S * D], k[B * HKV * S * D], v[B * HKV * S * D];
    float o[B * H * S * D], lse[B * H * S];
    unsigned char keep[S * S];
    float add[S * S];
} buffers;

enum { CAUSAL, WINDOW_BR, KEEP_MASK, ADD_MASK, SOFTCAP_ALIBI, LENGTHS, DECODE,
       MODES };
static const char *const mode_names[] = {"causal", "window bottom-right",
                                         "bool mask", "-inf additive mask",
                                         "softcap + alibi", "lengths", "decode"};

static void run(buffers *b, int isa, int mode)
{
    const int64_t sq = mode == DECODE ? 1 : S;
    fattn_tensor tq, tk, tv, to, tm, tl;
    fattn_tensor_contiguous(&tq, b->q, FATTN_DTYPE_F32, B, H, sq, D);
    fattn_tensor_contiguous(&tk, b->k, FATTN_DTYPE_F32, B, HKV, S, D);
    fattn_tensor_contiguous(&tv, b->v, FATTN_DTYPE_F32, B, HKV, S, D);
    fattn_tensor_contiguous(&to, b->o, FATTN_DTYPE_F32, B, H, sq, D);
    fattn_tensor_contiguous(&tl, b->lse, FATTN_DTYPE_F32, B, H, sq, 1);
    static const float slopes[H] = {0.5f, 0.25f, 0.125f, 0.0625f};
    static const int64_t qlen[B] = {S - 7, 0}, kvlen[B] = {0, S - 31};
    fattn_params p = {0};
    p.version = FATTN_PARAMS_VERSION;
    p.isa = isa;
    p.lse = &tl;
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
        fattn_tensor_contiguous(&tm, b->keep, FATTN_DTYPE_BOOL, 1, 1, S, S);
        p.mask = &tm;
        break;
    case ADD_MASK:
        fattn_tensor_contiguous(&tm, b->add, FATTN_DTYPE_F32, 1, 1, S, S);
        p.mask = &tm;
        break;
    case SOFTCAP_ALIBI:
        p.softcap = 5.0f;
        p.alibi_slopes = slopes;
        p.causal = FATTN_CAUSAL_TOP_LEFT;
        break;
    case LENGTHS:
        p.q_lengths = qlen;
        p.kv_lengths = kvlen;
        break;
    default: /* DECODE: one query, GQA, no mask */
        break;
    }
    fattn_error err;
    feclearexcept(FE_ALL_EXCEPT);
    fattn_status st = fattn_forward(&tq, &tk, &tv, &to, &p, &err);
    const int raised = fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
    if (st != FATTN_OK) {
        printf("FAIL %s %s: %s\n", fattn_isa_name(isa), mode_names[mode], err.message);
        failures++;
        return;
    }
    for (int64_t i = 0; i < B * H * sq * D; i++)
        if (!isfinite(b->o[i])) {
            printf("FAIL %s %s: output %g at %lld\n", fattn_isa_name(isa),
                   mode_names[mode], (double)b->o[i], (long long)i);
            failures++;
            return;
        }
    if (raised) {
        printf("FAIL %s %s: raised%s%s%s\n", fattn_isa_name(isa), mode_names[mode],
               raised & FE_INVALID ? " FE_INVALID" : "",
               raised & FE_DIVBYZERO ? " FE_DIVBYZERO" : "",
               raised & FE_OVERFLOW ? " FE_OVERFLOW" : "");
        failures++;
        return;
    }
    printf("ok   %-7s %s\n", fattn_isa_name(isa), mode_names[mode]);
}

int main(void)
{
    buffers *b = malloc(sizeof *b);
    if (!b)
        return 2;
    uint32_t x = 12345u;
#define NEXT() ((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f
    for (size_t i = 0; i < sizeof b->q / sizeof *b->q; i++)
        b->q[i] = 4.0f * NEXT();
    for (size_t i = 0; i < sizeof b->k / sizeof *b->k; i++) {
        b->k[i] = 4.0f * NEXT();
        b->v[i] = NEXT();
    }
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            /* Every third key dropped; row 5 fully masked. */
            int keep = (i * 7 + j * 3) % 3 != 0 && i != 5;
            b->keep[i * S + j] = (unsigned char)keep;
            b->add[i * S + j] = keep ? 0.25f * NEXT() : -INFINITY;
        }
    int tested = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++) {
        if (!fattn_isa_available(isa)) {
            printf("SKIP %s: not built in or not supported by this CPU\n",
                   fattn_isa_name(isa));
            continue;
        }
        for (int mode = 0; mode < MODES; mode++)
            run(b, isa, mode);
        tested++;
    }
    free(b);
    printf("%d paths tested, %d failures\n", tested, failures);
    return failures != 0;
}
