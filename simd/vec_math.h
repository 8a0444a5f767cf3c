/*
 * vec_math.h - exp and tanh on the vocabulary of vec_<isa>.h.
 *
 * Include after one vec_<isa>.h; everything is static inline, so each ISA's
 * translation unit gets its own copy compiled with its own flags.
 *
 * vf_exp: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split
 * in a 9-bit-exact high part and a low part), exp(r) by its Taylor series to
 * r^7 (truncation <= 5.2e-9 relative), then scaling by 2^n. Max relative
 * error against double exp over [-87.3, 88], measured by
 * tests/kernel/test_simd_math.c on a 2^20-point sweep: 7.5e-8 (1.25 ulp);
 * the test fails above 4 ulp. Inputs below -87.33 (where results would be
 * subnormal) and -inf give exactly 0, so masked scores weigh exactly
 * nothing; inputs are clamped at 88 (softcap's tanh needs no more); NaN
 * propagates.
 *
 * vf_exp2: 2^x for x <= 127, the softmax's exponential (scores are turned
 * into base 2 by one multiply, (s - m) * log2(e), whose rounding is
 * relative to s - m, the same size as the rounding of s itself). No range
 * reduction error: x = n + f exactly, f = x - round(x) in [-0.5, 0.5], then
 * a degree-6 polynomial for 2^f (Chebyshev fit, 2e-9 absolute on the
 * interval) and scaling by 2^n. Measured max relative error over [-126,
 * 127]: see tests/kernel/test_simd_math.c, which fails above 2 ulp. Integers
 * give exact powers of two; inputs below -126 (subnormal results) and -inf
 * give exactly 0; NaN propagates; above 127 the result is not defined (and
 * differs between paths). Three operations fewer than vf_exp. Neither
 * function raises FE_INVALID for an input that is not NaN.
 *
 * vf_tanh: a + a^3 P(a^2) for |y| < 0.7 (P a degree-4 minimax fit for
 * relative error, 1.5e-8 on the interval), 1 - 2/(exp(2|y|) + 1) with the
 * sign restored above, where the subtraction loses less than a bit; |y| is
 * clamped at 16, where tanh is 1. Max error over every float in [2^-30,
 * 9.5], measured once: 1.06 ulp of the result (glibc's tanhf: 2.19), so
 * small results keep their relative accuracy; below 2^-30 the result is y.
 * tests/kernel/test_simd_math.c samples every 64th of those floats and
 * fails above 1.5 ulp. vf_softcap builds cap * tanh(x / cap) on it.
 */
#ifndef FATTN_VEC_MATH_H
#define FATTN_VEC_MATH_H

#include <float.h>
#include <math.h>

static inline vf vf_exp(vf x)
{
    /* Clamped on both sides so that no lane computes inf - inf (an
     * FE_INVALID for every masked score); lanes below lo are zeroed by the
     * final scaling. */
    const vf lo = vf_set1(-87.33654f);
    vf xc = vf_min(vf_set1(88.0f), vf_max(lo, x)); /* NaN stays NaN */
    vf n = vf_round(vf_mul(xc, vf_set1(1.44269504088896341f)));
    vf r = vf_fmadd(n, vf_set1(-0.693359375f), xc);
    r = vf_fmadd(n, vf_set1(2.12194440e-4f), r);
    vf p = vf_set1(1.0f / 5040.0f);
    p = vf_fmadd(p, r, vf_set1(1.0f / 720.0f));
    p = vf_fmadd(p, r, vf_set1(1.0f / 120.0f));
    p = vf_fmadd(p, r, vf_set1(1.0f / 24.0f));
    p = vf_fmadd(p, r, vf_set1(1.0f / 6.0f));
    p = vf_fmadd(p, r, vf_set1(0.5f));
    p = vf_fmadd(p, r, vf_set1(1.0f));
    p = vf_fmadd(p, r, vf_set1(1.0f));
    return vf_ldexp_unless_lt(p, n, x, lo);
}

/* vf_exp2's body: 2^xc for xc >= -127 (or NaN), 0 where x < -126. */
static inline vf vf_exp2_body(vf xc, vf x)
{
    vf f = vf_frac_nearest(xc);
    vf n = vf_sub(xc, f); /* exact: round(xc) */
    vf p = vf_set1(1.546144470e-04f);
    p = vf_fmadd(p, f, vf_set1(1.340042818e-03f));
    p = vf_fmadd(p, f, vf_set1(9.618056679e-03f));
    p = vf_fmadd(p, f, vf_set1(5.550327227e-02f));
    p = vf_fmadd(p, f, vf_set1(2.402265092e-01f));
    p = vf_fmadd(p, f, vf_set1(6.931472067e-01f));
    p = vf_fmadd(p, f, vf_set1(1.0f));
    return vf_ldexp_unless_lt(p, n, x, vf_set1(-126.0f));
}

static inline vf vf_exp2(vf x)
{
    /* The clamp keeps -inf (every masked score) from computing inf - inf,
     * which would raise FE_INVALID, and keeps n in the range vf_ldexp
     * can build (AVX2 builds 2^n in the exponent bits); lanes below -126
     * are zeroed at the end. */
    return vf_exp2_body(vf_max(vf_set1(-127.0f), x), x); /* NaN stays NaN */
}

/*
 * (s - m) / 2, for the softmax's exp(s - m) with m the running max (s <= m,
 * or NaN), given nhm = -m / 2. s - m overflows when s and m are finite
 * scores of opposite signs near FLT_MAX, and (s - m) * log2(e) does from
 * s - m < -FLT_MAX / log2(e) on; half of it cannot. The fma rounds once, so
 * the result is exactly half the rounded s - m, and twice it is the rounded
 * s - m, bit for bit. The clamp at -44 changes no exponential: exp(-88) and
 * 2^(-88 log2(e)) are below the flush-to-zero thresholds of vf_exp (-87.33)
 * and vf_exp2 (-126), so those lanes give 0 either way, -inf (a masked key)
 * included. NaN propagates.
 */
static inline vf vf_half_sub(vf s, vf nhm)
{
    return vf_max(vf_set1(-44.0f), vf_fmadd(s, vf_set1(0.5f), nhm));
}

/* exp(s - m) = 2^((s - m) log2(e)) without overflow (vf_half_sub; nhm =
 * -m / 2): the same bits as vf_exp2 of the rounded (s - m) * log2(e), since
 * half of s - m times twice log2(e) is the same product. The argument is >=
 * -126.96, so vf_exp2's clamp is not needed: as many instructions as the
 * subtraction, multiply and vf_exp2 it stands for. */
static inline vf vf_exp_sub(vf s, vf nhm)
{
    vf x = vf_mul(vf_half_sub(s, nhm), vf_set1(2.0f * 1.44269504088896341f));
    return vf_exp2_body(x, x);
}

/* tanh(a) for a in [0, 44] (or NaN): vf_tanh's body, without the sign. */
static inline vf vf_tanh_abs(vf a)
{
    /* Below 0.7: a + a^3 P(a^2), P of degree 4 fitted for the relative
     * error of tanh (scripts/fit_tanh.py: minimax by Lawson's iteration,
     * 1.5e-8 on [0, 0.7]), so small arguments keep their relative
     * accuracy down to a = tanh(a). */
    vf a2 = vf_mul(a, a);
    vf p = vf_set1(-0.0051386388022226343f);
    p = vf_fmadd(p, a2, vf_set1(0.020091941271389211f));
    p = vf_fmadd(p, a2, vf_set1(-0.053558848938523508f));
    p = vf_fmadd(p, a2, vf_set1(0.13329110524360686f));
    p = vf_fmadd(p, a2, vf_set1(-0.33333189888125035f));
    vf small = vf_fmadd(vf_mul(p, a2), a, a);
    /* From 0.7 on: 1 - 2 / (exp(2a) + 1), where 2 / (exp(2a) + 1) <= 0.4,
     * so the subtraction loses less than a bit. */
    vf e = vf_exp(vf_add(a, a));
    vf big = vf_sub(vf_set1(1.0f),
                    vf_div(vf_set1(2.0f), vf_add(e, vf_set1(1.0f))));
    return vf_select_lt(a, vf_set1(0.7f), small, big);
}

/* tanh(y); |y| is clamped at 16 (tanh is 1 in float from 9.02 on), so
 * that no lane computes y^2 or exp(2|y|) out of range. */
static inline vf vf_tanh(vf y)
{
    return vf_copysign(vf_tanh_abs(vf_min(vf_set1(16.0f), vf_abs(y))), y);
}

/* The largest |x| vf_softcap needs to see for the multiplier inv (1 / cap,
 * or scale / cap): beyond it x * inv >= 16, where tanh is 1 in float.
 * Infinite for an inv so small that x * inv < 32 for every finite x (so an
 * infinite x still gives the cap). Both arms of the select are computed
 * without an exception (clang evaluates both: a plain 16 / inv raised
 * FE_OVERFLOW or FE_DIVBYZERO for a tiny or zero inv). */
static inline float vf_softcap_arg_max(float inv)
{
    const float lim = 32.0f / FLT_MAX;
    const float amax = 16.0f / fmaxf(inv, lim);
    return inv >= lim ? amax : INFINITY;
}

/*
 * cap * tanh(x * inv), inv = 1 / cap or scale / cap, amax =
 * vf_softcap_arg_max(inv): x * inv overflows for a small cap (with cap =
 * FLT_MIN and inv = 1 / cap, for any |x| > 4), so |x| is clamped at amax
 * first, which changes no result. NaN propagates.
 */
static inline vf vf_softcap(vf x, vf cap, vf inv, vf amax)
{
    vf a = vf_min(amax, vf_abs(x));
    return vf_copysign(vf_mul(cap, vf_tanh_abs(vf_mul(a, inv))), x);
}

#endif /* FATTN_VEC_MATH_H */
