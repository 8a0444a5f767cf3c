/*
 * test_simd_math.c - accuracy of each SIMD path's vector exp and tanh
 * (simd/vec_math.h) against double precision, on every path this CPU has.
 *
 * Bounds come from the analysis in vec_math.h, not from what was measured:
 * exp within 4 ulp relative (range reduction + degree-7 Taylor + scaling);
 * exactly 0 below -87.33 and for -inf; NaN stays NaN. exp2 within 2 ulp
 * (no range reduction error: a degree-6 fit to 2e-9 + Horner's roundings),
 * exact on integers, 0 below -126. tanh within 1.5 ulp of the result over
 * [2^-30, 9.5] (check_tanh), +-1 exactly beyond.
 */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1 << 20 }; /* a multiple of every vector width */

static int failures;

/* A dense sweep of [lo, hi] through fn against ref in double: fails (and
 * counts) if the max relative error exceeds max_ulp units of 2^-24. */
static void sweep_rel(const char *isa, const char *name,
                      void (*fn)(const float *, float *, size_t),
                      double (*ref)(double), float lo, float hi, double max_ulp,
                      float *in, float *out)
{
    double worst = 0.0;
    float worst_x = 0.0f;
    for (int i = 0; i < N; i++)
        in[i] = lo + (hi - lo) * (float)i / (float)(N - 1);
    fn(in, out, N);
    for (int i = 0; i < N; i++) {
        double r = ref((double)in[i]);
        double rel = fabs((double)out[i] - r) / r;
        if (rel > worst) {
            worst = rel;
            worst_x = in[i];
        }
    }
    const double ulp = 5.960464477539063e-8; /* 2^-24 */
    printf("%-7s %-4s: max rel err %.3g (%.2f ulp) at x = %.9g\n", isa, name,
           worst, worst / ulp, (double)worst_x);
    if (!(worst <= max_ulp * ulp)) {
        printf("FAIL %s %s: %.3g > %g ulp\n", isa, name, worst, max_ulp);
        failures++;
    }
}

static void check_exp(const char *isa, const fattn_kernel *k, float *in, float *out)
{
    /* The normal range. */
    sweep_rel(isa, "exp", k->vec_exp, exp, -87.3f, 88.0f, 4.0, in, out);

    /* Special values, padded to a whole number of vectors. */
    const float special[] = {-INFINITY, -1000.0f, -88.0f, -87.34f, 0.0f, NAN, -0.0f, 1.0f};
    const float expect[] = {0.0f, 0.0f, 0.0f, 0.0f, 1.0f, NAN, 1.0f, 2.718281828f};
    for (int i = 0; i < 64; i++)
        in[i] = special[i % 8];
    k->vec_exp(in, out, 64);
    for (int i = 0; i < 8; i++) {
        int ok = isnan(expect[i]) ? isnan(out[i])
                                  : fabsf(out[i] - expect[i]) <= 4e-7f * fabsf(expect[i]);
        if (!ok) {
            printf("FAIL %s exp(%g) = %.9g, want %.9g\n", isa, (double)special[i],
                   (double)out[i], (double)expect[i]);
            failures++;
        }
    }
}

/* 2^x: within 2 ulp over [-126, 127] (a 2e-9 polynomial and Horner's
 * roundings); integers exact; 0 below -126 and for -inf; NaN stays NaN. */
static void check_exp2(const char *isa, const fattn_kernel *k, float *in, float *out)
{
    sweep_rel(isa, "exp2", k->vec_exp2, exp2, -126.0f, 127.0f, 2.0, in, out);

    /* Integers, zeros and NaN must come out exact; 2^(+-0.5) within 2 ulp. */
    const float special[] = {-INFINITY, -1000.0f, -126.5f, -126.0f, 0.0f,
                             NAN,       -0.0f,    -1.0f,   1.0f,    10.0f,
                             127.0f,    -20.0f,   -1e30f,  3.0f,    0.5f,
                             -0.5f};
    const float expect[] = {0.0f, 0.0f,     0.0f,      0x1p-126f, 1.0f,
                            NAN,  1.0f,     0.5f,      2.0f,      1024.0f,
                            0x1p127f, 0x1p-20f, 0.0f, 8.0f,      1.414213562f,
                            0.707106781f};
    enum { NS = sizeof special / sizeof special[0], NEXACT = NS - 2 };
    for (int i = 0; i < 64; i++)
        in[i] = special[i % NS];
    k->vec_exp2(in, out, 64);
    for (int i = 0; i < NS; i++) {
        int ok = isnan(expect[i]) ? isnan(out[i])
                 : i < NEXACT     ? out[i] == expect[i]
                                  : fabsf(out[i] - expect[i]) <= 1.2e-7f * expect[i];
        if (!ok) {
            printf("FAIL %s exp2(%g) = %.9g, want %.9g\n", isa, (double)special[i],
                   (double)out[i], (double)expect[i]);
            failures++;
        }
    }
}

/* Units in the last place of the float nearest r (r > 0). */
static double ulp_of(double r)
{
    int e;
    frexp(r, &e);
    return ldexp(1.0, e - 24);
}

/* tanh: every 64th float of [2^-30, 9.5] (and its negative) within 1.5 ulp
 * of the result (a minimax polynomial with 1.5e-8 relative error below 0.7,
 * the exp form above it, as analysed in vec_math.h), so small arguments
 * keep their relative accuracy; +-1 exactly from 9.02 on (where tanhf gives
 * 1) and for +-inf; zeros and tiny values exact; NaN stays NaN. */
static void check_tanh(const char *isa, const fattn_kernel *k, float *in, float *out)
{
    double worst = 0.0;
    float worst_x = 0.0f;
    uint32_t u, end;
    const float lo = 0x1p-30f, hi = 9.5f;
    memcpy(&u, &lo, sizeof u);
    memcpy(&end, &hi, sizeof end);
    while (u < end) {
        int n = 0;
        for (; n < N && u < end; n++, u += 64) {
            memcpy(&in[n], &u, sizeof u);
            if (n % 2)
                in[n] = -in[n];
        }
        for (int i = n; i < N; i++)
            in[i] = 0.0f; /* padding of the last chunk */
        k->vec_tanh(in, out, N);
        for (int i = 0; i < n; i++) {
            const double r = tanh((double)in[i]);
            const double err = fabs((double)out[i] - r) / ulp_of(fabs(r));
            if (err > worst) {
                worst = err;
                worst_x = in[i];
            }
        }
    }
    printf("%-7s tanh: max err %.3f ulp at y = %.9g\n", isa, worst, (double)worst_x);
    if (!(worst <= 1.5)) {
        printf("FAIL %s tanh: %.3f > 1.5 ulp\n", isa, worst);
        failures++;
    }
    const float special[] = {-INFINITY, -1e30f, 1e30f, INFINITY, 0.0f, -0.0f, 1e-30f, -1e-30f,
                             9.02f, -9.5f, 16.0f, 1e-45f, NAN, -0x1p-126f, 20.0f, -1e5f};
    const float want[] = {-1.0f, -1.0f, 1.0f, 1.0f, 0.0f, -0.0f, 1e-30f, -1e-30f,
                          1.0f, -1.0f, 1.0f, 1e-45f, NAN, -0x1p-126f, 1.0f, -1.0f};
    enum { NS = sizeof special / sizeof special[0] };
    for (int i = 0; i < 64; i++)
        in[i] = special[i % NS];
    k->vec_tanh(in, out, 64);
    for (int i = 0; i < NS; i++) {
        const int ok = isnan(want[i]) ? isnan(out[i])
                                      : out[i] == want[i] && signbit(out[i]) == signbit(want[i]);
        if (!ok) {
            printf("FAIL %s tanh(%g) = %.9g, want %.9g\n", isa, (double)special[i],
                   (double)out[i], (double)want[i]);
            failures++;
        }
    }
}

int main(void)
{
    float *in = malloc(N * sizeof(float)), *out = malloc(N * sizeof(float));
    if (!in || !out)
        return 2;
    int tested = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++) {
        const fattn_kernel *k = fattn_kernel_for((fattn_isa)isa);
        if (!k || !fattn_isa_available(isa)) {
            printf("SKIP %s: not built in or not supported by this CPU\n",
                   fattn_isa_name(isa));
            continue;
        }
        if (!k->vec_exp || !k->vec_exp2 || !k->vec_tanh) {
            printf("SKIP %s: no vector math (not a SIMD path)\n", fattn_isa_name(isa));
            continue;
        }
        check_exp(fattn_isa_name(isa), k, in, out);
        check_exp2(fattn_isa_name(isa), k, in, out);
        check_tanh(fattn_isa_name(isa), k, in, out);
        tested++;
    }
    free(in);
    free(out);
    printf("%d SIMD paths tested, %d failures\n", tested, failures);
    return failures != 0;
}
