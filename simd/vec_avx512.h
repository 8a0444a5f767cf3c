/*
 * vec_avx512.h - the vector vocabulary of the AVX-512 kernels.
 *
 * Included only by files compiled with -mavx512f -mavx512bw -mavx512dq
 * -mavx512vl -mavx2 -mfma (FATTN_CPU_AVX512). Everything is static inline
 * and stays in the including translation unit.
 */
#ifndef FATTN_VEC_AVX512_H
#define FATTN_VEC_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#define VW 16 /* floats per vector */
typedef __m512 vf;

static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf x) { _mm512_storeu_ps(p, x); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* max(a, b); if either is NaN the result is b, so pass data as b. */
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
/* a with the sign of s. */
static inline vf vf_copysign(vf a, vf s)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_andnot_si512(sign, _mm512_castps_si512(a)),
        _mm512_and_si512(sign, _mm512_castps_si512(s))));
}
/* lt ? a : b, with lt = (x < y). */
static inline vf vf_select_lt(vf x, vf y, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_LT_OQ), b, a);
}
/* eq ? a : b, with eq = (x == y). */
static inline vf vf_select_eq(vf x, vf y, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_EQ_OQ), b, a);
}
static inline vf vf_round(vf x)
{
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* x - round(x) (to nearest even), in [-0.5, 0.5]; one instruction. */
static inline vf vf_frac_nearest(vf x)
{
    return _mm512_reduce_ps(x, _MM_FROUND_TO_NEAREST_INT);
}
/* p * 2^n for integral n in [-126, 127]. */
static inline vf vf_ldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }
/* x < lo ? 0 : p * 2^n (n integral, in [-126, 127] where x >= lo); NaN x
 * keeps p * 2^n. One masked scalef: the zeroing costs nothing. */
static inline vf vf_ldexp_unless_lt(vf p, vf n, vf x, vf lo)
{
    return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), p, n);
}

/* Lanes [0, n) of p, 0 < n < VW; the others are 0 and never touched. */
static inline vf vf_load_n(const float *p, int n)
{
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
}
/* Stores lanes [0, n) of x to p, 0 < n < VW; memory past them untouched. */
static inline void vf_store_n(float *p, vf x, int n)
{
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), x);
}
static inline float vf_reduce_add(vf x) { return _mm512_reduce_add_ps(x); }
/* out[k] = the sum of x[k]'s lanes, k < 4: one reduction tree for four
 * vectors (13 shuffles and adds instead of 4 x 8). */
static inline void vf_reduce_add4(vf a, vf b, vf c, vf d, float *out)
{
    /* 256-bit halves, then 128-bit quarters: chunk k holds x[k]'s partial
     * sums, then sums within the chunks. */
    const vf ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),
                                _mm512_shuffle_f32x4(a, b, 0xee));
    const vf cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44),
                                _mm512_shuffle_f32x4(c, d, 0xee));
    vf x = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88),
                         _mm512_shuffle_f32x4(ab, cd, 0xdd));
    x = _mm512_add_ps(x, _mm512_permute_ps(x, 0x4e));
    x = _mm512_add_ps(x, _mm512_permute_ps(x, 0xb1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm_storeu_ps(out, _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, x)));
}

/*
 * bf16 and f16 lanes (n of them, 0 < n < VW, for _n; memory past them is
 * never touched): widening is exact; narrowing rounds to nearest even and
 * keeps NaN a quiet NaN, as src/half.h does element by element (bf16 in
 * integer arithmetic, f16 by vcvtps2ph, which raises no flag here).
 */
static inline __mmask16 vf_mask_n(int n) { return (__mmask16)((1u << n) - 1u); }
static inline vf vf_widen_bf16(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline vf vf_load_bf16(const uint16_t *p)
{
    return vf_widen_bf16(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
static inline vf vf_load_bf16_n(const uint16_t *p, int n)
{
    return vf_widen_bf16(_mm256_maskz_loadu_epi16(vf_mask_n(n), p));
}
static inline vf vf_load_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}
static inline vf vf_load_f16_n(const uint16_t *p, int n)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(vf_mask_n(n), p));
}
/* The bf16 bits of x in the low half of each 32-bit lane. */
static inline __m512i vf_bf16_bits(vf x)
{
    const __m512i b = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7fff)), lsb);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_srli_epi32(
        _mm512_mask_or_epi32(r, nan, b, _mm512_set1_epi32(0x400000)), 16);
}
static inline void vf_store_bf16(uint16_t *p, vf x)
{
    _mm256_storeu_si256((__m256i *)(void *)p, _mm512_cvtepi32_epi16(vf_bf16_bits(x)));
}
static inline void vf_store_bf16_n(uint16_t *p, vf x, int n)
{
    _mm512_mask_cvtepi32_storeu_epi16(p, vf_mask_n(n), vf_bf16_bits(x));
}
static inline void vf_store_f16(uint16_t *p, vf x)
{
    _mm256_storeu_si256((__m256i *)(void *)p,
                        _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
static inline void vf_store_f16_n(uint16_t *p, vf x, int n)
{
    _mm256_mask_storeu_epi16(p, vf_mask_n(n),
                             _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* VW bytes (n of them, 0 < n < VW, for _n), zero-extended into the lanes'
 * bits: a keep-mask row as lanes. */
static inline vf vf_load_u8(const unsigned char *p)
{
    return _mm512_castsi512_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)));
}
static inline vf vf_load_u8_n(const unsigned char *p, int n)
{
    return _mm512_castsi512_ps(
        _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1u), p)));
}
/* Lanes whose bits are all zero in m take a, the others b. */
static inline vf vf_select_zero_bits(vf m, vf a, vf b)
{
    const __m512i mi = _mm512_castps_si512(m);
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(mi, mi), a, b);
}

/* base[idx[k]] for each lane k (int32 element offsets). */
static inline vf vf_gather(const float *base, const int32_t *idx)
{
    return _mm512_i32gather_ps(_mm512_loadu_si512((const void *)idx), base, 4);
}

/* r[j] lane i <- r[i] lane j: a 16 x 16 transpose in registers (three
 * rounds of in-lane unpacks and 128-bit lane shuffles, 64 shuffles). */
static inline void vf_transpose(vf r[VW])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + k], lane L: column 4L + k of rows 4g .. 4g + 3 */
    for (int g = 0; g < 16; g += 4) {
        __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 2]);
        __m512d c = _mm512_castps_pd(t[g + 1]), d = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int k = 0; k < 4; k++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
        __m512 v1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        __m512 w1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
        r[k] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
        r[12 + k] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    }
}

#endif /* FATTN_VEC_AVX512_H */
