/*
 * test_half.c - the library's bf16 and f16 conversions against the
 * reference's (tests/reference/reference.c, written from the formats'
 * definitions): src/half.h, used by the scalar path and outside simd/, and
 * each SIMD path's vec_widen / vec_narrow hooks (the kernels' own loads and
 * stores, simd/vec_hooks.h), reached through the kernel registry.
 *
 *   widening   every one of the 65536 bit patterns of each format: exact;
 *              NaN to a NaN (src/half.h: bf16's bits kept, f16's made
 *              quiet with its sign)
 *   narrowing  for every sign and f32 exponent, mantissas whose dropped
 *              bits sit at and around the rounding boundaries (0, 1,
 *              half - 1, half, half + 1, all ones) for every number of
 *              dropped bits the formats use (16 for bf16; 13 for f16's
 *              normals, 14 to 24 for its subnormals), under a few random
 *              upper mantissas; 2^22 random floats; NaNs (quiet and
 *              signalling, both signs, payloads), infinities, zeros,
 *              subnormals, f16's 65504 / 65519.99 / 65520 and bf16's
 *              largest finite and its rounding to inf. Round to nearest
 *              even, bit for bit; NaN to a quiet NaN of the same sign.
 *   tails      the SIMD hooks at every length 1 .. 48 (three AVX-512
 *              vectors), from every offset of a buffer, writing nothing
 *              past n.
 *   flags      src/half.h raises no floating-point exception flag
 *              (integer arithmetic only, as its header says).
 */
#include "internal.h"
#include "half.h"
#include "reference.h"

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static int reported;

static void fail(const char *fmt_what, const char *who, uint32_t in, uint32_t got,
                 uint32_t want)
{
    failures++;
    if (reported++ < 20)
        printf("FAIL %s %s: input 0x%08x gave 0x%04x, want 0x%04x\n", who, fmt_what,
               in, got, want);
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int half_is_nan(uint16_t h, int dtype)
{
    return dtype == FATTN_DTYPE_BF16 ? (h & 0x7f80u) == 0x7f80u && (h & 0x7fu)
                                     : (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
}

static int half_is_quiet(uint16_t h, int dtype)
{
    return dtype == FATTN_DTYPE_BF16 ? (h & 0x40u) != 0 : (h & 0x200u) != 0;
}

/* got for f32 input x against the reference: bit for bit, or for a NaN a
 * quiet NaN of x's sign. */
static void check_narrow(const char *who, int dtype, uint32_t x, uint16_t got)
{
    const float f = bits_f32(x);
    if (isnan(f)) {
        if (!half_is_nan(got, dtype) || !half_is_quiet(got, dtype) ||
            (got >> 15) != (x >> 31))
            fail(dtype == FATTN_DTYPE_BF16 ? "bf16 narrowing (NaN)" : "f16 narrowing (NaN)",
                 who, x, got, dtype == FATTN_DTYPE_BF16 ? 0x7fc0u : 0x7e00u);
        return;
    }
    const uint16_t want = fattn_ref_double_to_half((double)f, dtype);
    if (got != want)
        fail(dtype == FATTN_DTYPE_BF16 ? "bf16 narrowing" : "f16 narrowing", who, x, got,
             want);
}

/* The narrowing inputs. */
static uint32_t *narrow_inputs(size_t *count)
{
    static const uint32_t specials[] = {
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fa00000u, 0x7fffffffu,
        0xffffffffu, 0x7fc0ffffu, 0x7f80ffffu, 0x7f812345u, 0x7f800000u, 0xff800000u,
        0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007fffffu, 0x00800000u,
        0x477fe000u, /* 65504 */ 0x477fefffu, /* 65519.996 */ 0x477ff000u, /* 65520 */
        0xc77ff000u, 0x477ff001u, 0x47800000u, 0x7f7fffffu, 0xff7fffffu,
        0x7f7f8000u, 0x7f7f7fffu, 0x7f7f8001u, 0x7f7effffu, 0x33000000u, /* 2^-25 */
        0x33000001u, 0x32ffffffu, 0x33400000u, 0x38800000u, /* 2^-14 */ 0x387fffffu,
        0x387fe000u, 0x387ff000u, 0x3f800000u, 0x3f801000u, 0x3f803000u, 0x3f808000u,
        0x3f818000u, 0x3f808001u};
    enum { NSPECIAL = sizeof specials / sizeof specials[0] };
    static const int dropped[] = {16, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24};
    enum { NDROP = sizeof dropped / sizeof dropped[0], UPPER = 6, LOWS = 7, RANDOM = 1 << 22 };
    const size_t n = NSPECIAL + (size_t)512 * UPPER * NDROP * LOWS + RANDOM;
    uint32_t *v = malloc(n * sizeof *v);
    size_t k = 0;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    if (!v)
        return NULL;
    for (int i = 0; i < NSPECIAL; i++)
        v[k++] = specials[i];
    for (uint32_t se = 0; se < 512; se++)
        for (int up = 0; up < UPPER; up++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const uint32_t upper = (uint32_t)(s >> 41) & 0x7fffffu;
            for (int d = 0; d < NDROP; d++) {
                const int kd = dropped[d] > 23 ? 23 : dropped[d];
                const uint32_t mask = (1u << kd) - 1u, half = 1u << (kd - 1);
                const uint32_t lows[LOWS] = {0, 1, half - 1, half, half + 1, mask - 1, mask};
                for (int l = 0; l < LOWS; l++)
                    v[k++] = se << 23 | (upper & ~mask) | (lows[l] & mask);
            }
        }
    for (int i = 0; i < RANDOM; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[k++] = (uint32_t)(s >> 32);
    }
    *count = k;
    return v;
}

static void check_half_h(const uint32_t *in, size_t n)
{
    /* Widening: all patterns. */
    for (uint32_t h = 0; h < 65536; h++)
        for (int f = 0; f < 2; f++) {
            const int dtype = f ? FATTN_DTYPE_F16 : FATTN_DTYPE_BF16;
            const float got = f ? fattn_f16_to_f32((uint16_t)h) : fattn_bf16_to_f32((uint16_t)h);
            const double want = fattn_ref_half_to_double((uint16_t)h, dtype);
            /* bf16 NaNs keep their bits (the top half of an f32), f16
             * NaNs become quiet NaNs of the same sign. */
            const int ok = !isnan(want) ? (double)got == want && !signbit(got) == !signbit(want)
                           : f == 0     ? f32_bits(got) == h << 16
                                        : isnan(got) && (f32_bits(got) & 0x400000u) &&
                                              (f32_bits(got) >> 31) == (h >> 15);
            if (!ok)
                fail(f ? "f16 widening" : "bf16 widening", "src/half.h", h,
                     f32_bits(got) >> 16, 0);
        }
    /* Narrowing: flags first, over the whole sample, then the values. */
    uint16_t *b = malloc(n * sizeof *b), *h16 = malloc(n * sizeof *h16);
    if (!b || !h16) {
        printf("FAIL out of memory\n");
        failures++;
        free(b);
        free(h16);
        return;
    }
    feclearexcept(FE_ALL_EXCEPT);
    for (size_t k = 0; k < n; k++) {
        const float f = bits_f32(in[k]);
        b[k] = fattn_f32_to_bf16(f);
        h16[k] = fattn_f32_to_f16(f);
    }
    const int raised = fetestexcept(FE_ALL_EXCEPT);
    if (raised) {
        printf("FAIL src/half.h raised floating-point flags 0x%x converting\n", raised);
        failures++;
    }
    for (size_t k = 0; k < n; k++) {
        check_narrow("src/half.h", FATTN_DTYPE_BF16, in[k], b[k]);
        check_narrow("src/half.h", FATTN_DTYPE_F16, in[k], h16[k]);
    }
    free(b);
    free(h16);
}

enum { CHUNK = 4096, GUARD = 64, MAXN = 48 };

static void check_simd(const char *isa, const fattn_kernel *k, const uint32_t *in,
                       size_t n)
{
    static uint16_t hin[CHUNK + GUARD], hout[CHUNK + GUARD];
    static float fin[CHUNK + GUARD], fout[CHUNK + GUARD];
    for (int f = 0; f < 2; f++) {
        const int dtype = f ? FATTN_DTYPE_F16 : FATTN_DTYPE_BF16;
        char who[64];
        snprintf(who, sizeof who, "%s vec_%s", isa, "widen");
        /* Widening: all patterns, CHUNK at a time. */
        for (uint32_t base = 0; base < 65536; base += CHUNK) {
            for (uint32_t i = 0; i < CHUNK; i++)
                hin[i] = (uint16_t)(base + i);
            k->vec_widen(dtype, hin, fout, CHUNK);
            for (uint32_t i = 0; i < CHUNK; i++) {
                const double want = fattn_ref_half_to_double(hin[i], dtype);
                const int ok = isnan(want) ? isnan(fout[i])
                                           : (double)fout[i] == want &&
                                                 !signbit(fout[i]) == !signbit(want);
                if (!ok)
                    fail(f ? "f16 widening" : "bf16 widening", who, hin[i],
                         f32_bits(fout[i]) >> 16, 0);
            }
        }
        /* Narrowing: the sample, CHUNK at a time, the last call a tail. */
        snprintf(who, sizeof who, "%s vec_narrow", isa);
        for (size_t base = 0; base < n; base += CHUNK) {
            const size_t m = n - base < CHUNK ? n - base : CHUNK;
            for (size_t i = 0; i < m; i++)
                fin[i] = bits_f32(in[base + i]);
            k->vec_narrow(dtype, fin, hout, m);
            for (size_t i = 0; i < m; i++)
                check_narrow(who, dtype, in[base + i], hout[i]);
        }
        /* Tails: every length to three AVX-512 vectors, every offset of a
         * vector; nothing written past n. */
        snprintf(who, sizeof who, "%s tails", isa);
        for (int len = 1; len <= MAXN; len++)
            for (int off = 0; off < 16; off++) {
                for (int i = 0; i < MAXN + GUARD; i++) {
                    hin[i] = (uint16_t)(0x3c00u + 37u * (unsigned)i);
                    fin[i] = bits_f32(in[(size_t)(i * 7919 + len) % n]);
                    hout[i] = 0xa5a5u;
                    fout[i] = -12345.0f;
                }
                k->vec_widen(dtype, hin + off, fout + off, (size_t)len);
                k->vec_narrow(dtype, fin + off, hout + off, (size_t)len);
                for (int i = 0; i < MAXN + GUARD; i++) {
                    const int inside = i >= off && i < off + len;
                    if (!inside) {
                        if (hout[i] != 0xa5a5u || fout[i] != -12345.0f) {
                            printf("FAIL %s: n=%d at offset %d wrote element %d\n", who,
                                   len, off, i);
                            failures++;
                            i = MAXN + GUARD;
                        }
                        continue;
                    }
                    check_narrow(who, dtype, f32_bits(fin[i]), hout[i]);
                    const double want = fattn_ref_half_to_double(hin[i], dtype);
                    if (!isnan(want) && (double)fout[i] != want)
                        fail(f ? "f16 widening" : "bf16 widening", who, hin[i],
                             f32_bits(fout[i]) >> 16, 0);
                }
            }
    }
}

int main(void)
{
    size_t n = 0;
    uint32_t *in = narrow_inputs(&n);
    if (!in)
        return 2;
    check_half_h(in, n);
    printf("src/half.h: 2 x 65536 widenings, 2 x %zu narrowings: %d failures\n", n,
           failures);
    int tested = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++) {
        const fattn_kernel *k = fattn_kernel_for(isa);
        if (!k || !fattn_isa_available(isa)) {
            printf("SKIP %s: not built in or not supported by this CPU\n",
                   fattn_isa_name(isa));
            continue;
        }
        if (!k->vec_widen || !k->vec_narrow) {
            printf("SKIP %s: no vector conversions (the scalar path uses src/half.h)\n",
                   fattn_isa_name(isa));
            continue;
        }
        const int before = failures;
        check_simd(fattn_isa_name(isa), k, in, n);
        printf("%s: vec_widen and vec_narrow on the same inputs, tails 1..%d: %d failures\n",
               fattn_isa_name(isa), MAXN, failures - before);
        tested++;
    }
    free(in);
    printf("%d SIMD paths tested, %d failures\n", tested, failures);
    return failures != 0;
}
