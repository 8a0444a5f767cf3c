/*
 * vec_dtype.h - f32, bf16 and f16 elements as f32 lanes, on the vocabulary
 * of one vec_<isa>.h (include after it).
 *
 * base points at elements of dtype dt, idx counts elements. The kernels
 * call these with dt fixed per loop (a branch the predictor always gets
 * right, or a constant in an instantiation), so an f32 tensor costs what a
 * plain vf_load costs. _n: lanes [0, n), 0 < n < VW, memory past them
 * untouched, the other lanes 0.
 */
#ifndef FATTN_VEC_DTYPE_H
#define FATTN_VEC_DTYPE_H

static inline __attribute__((always_inline)) vf
vf_load_dt(const void *base, int64_t idx, int dt)
{
    if (dt == FATTN_DTYPE_BF16)
        return vf_load_bf16((const uint16_t *)base + idx);
    if (dt == FATTN_DTYPE_F16)
        return vf_load_f16((const uint16_t *)base + idx);
    return vf_load((const float *)base + idx);
}

static inline __attribute__((always_inline)) vf
vf_load_dt_n(const void *base, int64_t idx, int dt, int n)
{
    if (dt == FATTN_DTYPE_BF16)
        return vf_load_bf16_n((const uint16_t *)base + idx, n);
    if (dt == FATTN_DTYPE_F16)
        return vf_load_f16_n((const uint16_t *)base + idx, n);
    return vf_load_n((const float *)base + idx, n);
}

/* Lanes [0, n) for n in (0, VW], whole vectors included. */
static inline __attribute__((always_inline)) vf
vf_load_dt_upto(const void *base, int64_t idx, int dt, int n)
{
    return n == VW ? vf_load_dt(base, idx, dt) : vf_load_dt_n(base, idx, dt, n);
}

static inline __attribute__((always_inline)) void
vf_store_dt(void *base, int64_t idx, int dt, vf x)
{
    if (dt == FATTN_DTYPE_BF16)
        vf_store_bf16((uint16_t *)base + idx, x);
    else if (dt == FATTN_DTYPE_F16)
        vf_store_f16((uint16_t *)base + idx, x);
    else
        vf_store((float *)base + idx, x);
}

static inline __attribute__((always_inline)) void
vf_store_dt_n(void *base, int64_t idx, int dt, vf x, int n)
{
    if (dt == FATTN_DTYPE_BF16)
        vf_store_bf16_n((uint16_t *)base + idx, x, n);
    else if (dt == FATTN_DTYPE_F16)
        vf_store_f16_n((uint16_t *)base + idx, x, n);
    else
        vf_store_n((float *)base + idx, x, n);
}

/* Lanes [0, n) for n in (0, VW]. */
static inline __attribute__((always_inline)) void
vf_store_dt_upto(void *base, int64_t idx, int dt, vf x, int n)
{
    if (n == VW)
        vf_store_dt(base, idx, dt, x);
    else
        vf_store_dt_n(base, idx, dt, x, n);
}

/*
 * rows rows of n elements (src: dtype dt, rows src_row apart, elements
 * src_elem apart) into dense f32 rows dst_row apart: a half-precision K
 * or V tile widened once for kernels that read f32 many times.
 */
static void vf_widen_tile(float *dst, int64_t dst_row, const void *src,
                          int64_t src_row, int64_t src_elem, int dt, int rows,
                          int64_t n)
{
    for (int r = 0; r < rows; r++) {
        float *d = dst + r * dst_row;
        const int64_t base = r * src_row;
        if (src_elem == 1) {
            int64_t e = 0;
            for (; e + VW <= n; e += VW)
                vf_store(d + e, vf_load_dt(src, base + e, dt));
            if (e < n)
                vf_store_n(d + e, vf_load_dt_n(src, base + e, dt, (int)(n - e)),
                           (int)(n - e));
        } else {
            for (int64_t e = 0; e < n; e++)
                d[e] = fattn_load_elem(src, base + e * src_elem, dt);
        }
    }
}

#endif /* FATTN_VEC_DTYPE_H */
