/*
 * vec_hooks.h - a path's vector math as plain functions, for the accuracy
 * test (tests/kernel/test_simd_math.c) through the kernel registry.
 *
 * Included by each simd/attention_<isa>.c after vec_math.h, with VEC_EXP,
 * VEC_EXP2, VEC_TANH, VEC_WIDEN and VEC_NARROW set to the entry points'
 * names. n must be a multiple of the vector width, but for the conversions,
 * which take any n (their tails go through the _n forms).
 */
#include "fattn.h"

static void VEC_EXP(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i + VW <= n; i += VW)
        vf_store(out + i, vf_exp(vf_load(in + i)));
}

static void VEC_EXP2(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i + VW <= n; i += VW)
        vf_store(out + i, vf_exp2(vf_load(in + i)));
}

static void VEC_TANH(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i + VW <= n; i += VW)
        vf_store(out + i, vf_tanh(vf_load(in + i)));
}

/* n bf16 or f16 elements to f32 and back (dtype FATTN_DTYPE_BF16/F16), as
 * the kernels load and store them (vec_<isa>.h). */
static void VEC_WIDEN(int dtype, const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        vf_store(out + i, dtype == FATTN_DTYPE_BF16 ? vf_load_bf16(in + i)
                                                    : vf_load_f16(in + i));
    if (i < n)
        vf_store_n(out + i,
                   dtype == FATTN_DTYPE_BF16 ? vf_load_bf16_n(in + i, (int)(n - i))
                                             : vf_load_f16_n(in + i, (int)(n - i)),
                   (int)(n - i));
}

static void VEC_NARROW(int dtype, const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        if (dtype == FATTN_DTYPE_BF16)
            vf_store_bf16(out + i, vf_load(in + i));
        else
            vf_store_f16(out + i, vf_load(in + i));
    }
    if (i < n) {
        const vf x = vf_load_n(in + i, (int)(n - i));
        if (dtype == FATTN_DTYPE_BF16)
            vf_store_bf16_n(out + i, x, (int)(n - i));
        else
            vf_store_f16_n(out + i, x, (int)(n - i));
    }
}
