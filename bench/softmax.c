/*
 * softmax.c - the row softmax of the unfused baselines, vectorised by the
 * compiler (`#pragma omp simd` with -fopenmp-simd, no OpenMP runtime, and
 * a lane-split maximum).
 *
 * Built once per instruction set (bench/meson.build): baseline x86-64,
 * AVX2 + FMA, and AVX-512; BENCH_SOFTMAX_NAME names each copy and
 * unfused.c calls the widest one the CPU runs. exp is a branch-free
 * Cephes-style polynomial (about 2 ulp on the range used here, [-87, 0]),
 * so the loops vectorise; arguments below -87 (masked keys, -inf) give
 * exactly 0. A row whose scores are all -inf becomes all 0.
 */
#include "unfused.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef BENCH_SOFTMAX_NAME
#error "BENCH_SOFTMAX_NAME must name this copy (see bench/meson.build)"
#endif

static inline float exp_poly(float x)
{
    const float xc = x < -87.0f ? -87.0f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick, r = x - n ln 2 in two
     * parts (Cody-Waite), e^r by a degree-6 polynomial, 2^n by the
     * exponent bits. */
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f;
    float p;
    int32_t bits;
    float scale;

    r = r - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits = ((int32_t)n + 127) * (1 << 23);
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}

/* Maximum of x[0 .. n-1] in LANES independent lanes: both compilers
 * vectorise this form (clang does not vectorise a float max reduction
 * without -ffast-math, even under `omp simd`). */
#define LANES 16
static float row_max(const float *x, int64_t n)
{
    float part[LANES], m = -INFINITY;
    int64_t j = 0;

    for (int k = 0; k < LANES; k++)
        part[k] = -INFINITY;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++)
            part[k] = x[j + k] > part[k] ? x[j + k] : part[k];
    for (; j < n; j++)
        m = x[j] > m ? x[j] : m;
    for (int k = 0; k < LANES; k++)
        m = part[k] > m ? part[k] : m;
    return m;
}

void BENCH_SOFTMAX_NAME(float *scores, int64_t rows, int64_t n, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++) {
        float *x = scores + r * ld;
        float m, sum = 0.0f, inv;

        m = row_max(x, n);
        if (m == -INFINITY) {
            memset(x, 0, (size_t)n * sizeof *x);
            continue;
        }
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < n; j++) {
            const float e = exp_poly(x[j] - m);

            x[j] = e;
            sum += e;
        }
        inv = 1.0f / sum;
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            x[j] *= inv;
    }
}
