/*
 * vec_avx2.h - the vector vocabulary of the AVX2 kernels.
 *
 * Included only by files compiled with -mavx2 -mfma (FATTN_CPU_AVX2).
 * Everything is static inline and stays in the including translation unit.
 */
#ifndef FATTN_VEC_AVX2_H
#define FATTN_VEC_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define VW 8 /* floats per vector */
typedef __m256 vf;

static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf x) { _mm256_storeu_ps(p, x); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
/* max(a, b); if either is NaN the result is b, so pass data as b. */
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_abs(vf a)
{
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}
/* a with the sign of s. */
static inline vf vf_copysign(vf a, vf s)
{
    const vf sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    return _mm256_or_ps(_mm256_andnot_ps(sign, a), _mm256_and_ps(sign, s));
}
/* lt ? a : b, with lt = (x < y). */
static inline vf vf_select_lt(vf x, vf y, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, y, _CMP_LT_OQ));
}
/* eq ? a : b, with eq = (x == y). */
static inline vf vf_select_eq(vf x, vf y, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, y, _CMP_EQ_OQ));
}
static inline vf vf_round(vf x)
{
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* x - round(x) (to nearest even), in [-0.5, 0.5]. */
static inline vf vf_frac_nearest(vf x) { return vf_sub(x, vf_round(x)); }
/* p * 2^n for integral n in [-126, 127]: n goes straight into the exponent. */
static inline vf vf_ldexp(vf p, vf n)
{
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
/* x < lo ? 0 : p * 2^n (n integral, in [-126, 127] where x >= lo); NaN x
 * keeps p * 2^n. Lanes below lo may hold any n: they are discarded. */
static inline vf vf_ldexp_unless_lt(vf p, vf n, vf x, vf lo)
{
    return vf_select_lt(x, lo, vf_zero(), vf_ldexp(p, n));
}

/* Lanes [0, n) of p, 0 < n < VW; the others are 0 and never touched. */
static inline vf vf_load_n(const float *p, int n)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}
/* Stores lanes [0, n) of x to p, 0 < n < VW; memory past them untouched. */
static inline void vf_store_n(float *p, vf x, int n)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), x);
}
static inline float vf_reduce_add(vf x)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/*
 * bf16 and f16 lanes (n of them, 0 < n < VW, for _n; memory past them is
 * never touched, through a copy on the stack: AVX2 has no 16-bit masked
 * loads, and tails are rare): widening is exact; narrowing rounds to
 * nearest even and keeps NaN a quiet NaN, as src/half.h does element by
 * element (bf16 in integer arithmetic, f16 by F16C's vcvtps2ph).
 */
static inline vf vf_widen_bf16(__m128i h)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
static inline __m128i vf_load_u16_n(const uint16_t *p, int n)
{
    uint16_t b[VW] = {0};
    memcpy(b, p, sizeof(uint16_t) * (size_t)n);
    return _mm_loadu_si128((const __m128i *)(const void *)b);
}
static inline vf vf_load_bf16(const uint16_t *p)
{
    return vf_widen_bf16(_mm_loadu_si128((const __m128i *)(const void *)p));
}
static inline vf vf_load_bf16_n(const uint16_t *p, int n)
{
    return vf_widen_bf16(vf_load_u16_n(p, n));
}
static inline vf vf_load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}
static inline vf vf_load_f16_n(const uint16_t *p, int n)
{
    return _mm256_cvtph_ps(vf_load_u16_n(p, n));
}
/* x's bf16 bits as 8 uint16 lanes. */
static inline __m128i vf_bf16_bits(vf x)
{
    const __m256i b = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), lsb);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    const __m256i q = _mm256_or_si256(b, _mm256_set1_epi32(0x400000));
    const __m256i h = _mm256_srli_epi32(_mm256_blendv_epi8(r, q, nan), 16);
    /* packus works per 128-bit lane: pack, then take qwords 0 and 2. */
    return _mm256_castsi256_si128(
        _mm256_permute4x64_epi64(_mm256_packus_epi32(h, h), 0x08));
}
static inline __m128i vf_f16_bits(vf x)
{
    return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline void vf_store_u16_n(uint16_t *p, __m128i h, int n)
{
    uint16_t b[VW];
    _mm_storeu_si128((__m128i *)(void *)b, h);
    memcpy(p, b, sizeof(uint16_t) * (size_t)n);
}
static inline void vf_store_bf16(uint16_t *p, vf x)
{
    _mm_storeu_si128((__m128i *)(void *)p, vf_bf16_bits(x));
}
static inline void vf_store_bf16_n(uint16_t *p, vf x, int n)
{
    vf_store_u16_n(p, vf_bf16_bits(x), n);
}
static inline void vf_store_f16(uint16_t *p, vf x)
{
    _mm_storeu_si128((__m128i *)(void *)p, vf_f16_bits(x));
}
static inline void vf_store_f16_n(uint16_t *p, vf x, int n)
{
    vf_store_u16_n(p, vf_f16_bits(x), n);
}

/* out[k] = the sum of x[k]'s lanes, k < 4: one reduction tree for four
 * vectors. */
static inline void vf_reduce_add4(vf a, vf b, vf c, vf d, float *out)
{
    const __m256 x = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1)));
}

/* VW bytes (n of them, 0 < n < VW, for _n), zero-extended into the lanes'
 * bits: a keep-mask row as lanes. */
static inline vf vf_load_u8(const unsigned char *p)
{
    return _mm256_castsi256_ps(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)));
}
static inline vf vf_load_u8_n(const unsigned char *p, int n)
{
    unsigned char b[VW] = {0};
    memcpy(b, p, (size_t)n);
    return vf_load_u8(b);
}
/* Lanes whose bits are all zero in m take a, the others b. */
static inline vf vf_select_zero_bits(vf m, vf a, vf b)
{
    const __m256i z = _mm256_cmpeq_epi32(_mm256_castps_si256(m), _mm256_setzero_si256());
    return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(z));
}

/* base[idx[k]] for each lane k (int32 element offsets). */
static inline vf vf_gather(const float *base, const int32_t *idx)
{
    return _mm256_i32gather_ps(base, _mm256_loadu_si256((const __m256i *)(const void *)idx), 4);
}

/* r[j] lane i <- r[i] lane j: an 8 x 8 transpose in registers (in-lane
 * unpacks and shuffles, then 128-bit lane swaps, 24 shuffles). */
static inline void vf_transpose(vf r[VW])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[g + k], lane L: column 4L + k of rows g .. g + 3 */
    for (int g = 0; g < 8; g += 4) {
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

#endif /* FATTN_VEC_AVX2_H */
