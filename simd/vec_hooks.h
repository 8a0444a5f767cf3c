/*
 * vec_hooks.h - a path's vector math as plain functions, for the accuracy
 * test (tests/kernel/test_simd_math.c) through the kernel registry.
 *
 * Included by each simd/attention_<isa>.c after vec_math.h, with VEC_EXP,
 * VEC_EXP2 and VEC_TANH set to the entry points' names. n must be a multiple
 * of the vector width.
 */
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
