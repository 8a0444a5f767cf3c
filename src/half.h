/*
 * half.h - bf16 and f16 to and from f32 in portable C, for the scalar
 * path, the combine step and every place outside simd/.
 *
 * Widening is exact. Narrowing rounds to nearest even, keeps NaN a quiet
 * NaN (with the top payload bits that fit) and, for f16, overflows to
 * +-inf from 65520 on and rounds into the subnormals below 2^-14, as IEEE
 * 754 rounding does. Integer arithmetic only: no floating-point flag is
 * raised. simd/ has vector versions of the same rules.
 */
#ifndef FATTN_HALF_H
#define FATTN_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t fattn_f32_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

static inline float fattn_bits_f32(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static inline float fattn_bf16_to_f32(uint16_t h)
{
    return fattn_bits_f32((uint32_t)h << 16);
}

static inline uint16_t fattn_f32_to_bf16(float f)
{
    const uint32_t x = fattn_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

static inline float fattn_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    if (e == 0x1f) /* inf, or NaN made quiet (as vcvtph2ps does) */
        return fattn_bits_f32(sign | 0x7f800000u | (m << 13) |
                              (m ? 0x400000u : 0u));
    if (e != 0)
        return fattn_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
    /* 0 or a subnormal m * 2^-24: normalise the mantissa. */
    if (m == 0)
        return fattn_bits_f32(sign);
    uint32_t shift = 0;
    while (!(m & 0x400u)) {
        m <<= 1;
        shift++;
    }
    return fattn_bits_f32(sign | ((113u - shift) << 23) | ((m & 0x3ffu) << 13));
}

static inline uint16_t fattn_f32_to_f16(float f)
{
    const uint32_t x = fattn_f32_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, top payload bits */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (inf included) rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal in f16: rebias, round 13 bits off */
        const uint32_t r = ax - 0x38000000u;
        return (uint16_t)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
    }
    if (ax <= 0x33000000u) /* <= 2^-25: half the smallest subnormal, even */
        return sign;
    /* A subnormal: the value in units of 2^-24, rounded to nearest even
     * (1024 units is the smallest normal, and the bits say so). */
    const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t s = 126u - (ax >> 23); /* 14 .. 24 */
    uint32_t q = mant >> s;
    const uint32_t rem = mant & ((1u << s) - 1u), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

#endif /* FATTN_HALF_H */
