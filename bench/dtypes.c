/*
 * dtypes.c - bf16 and f16 tensors for the benchmark cases (dtypes.h).
 */
#include "dtypes.h"

#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *bench_dtype_name(int dtype)
{
    switch (dtype) {
    case FATTN_DTYPE_F32: return "f32";
    case FATTN_DTYPE_BF16: return "bf16";
    case FATTN_DTYPE_F16: return "f16";
    default: return "?";
    }
}

size_t bench_dtype_size(int dtype)
{
    switch (dtype) {
    case FATTN_DTYPE_BF16:
    case FATTN_DTYPE_F16: return 2;
    case FATTN_DTYPE_BOOL: return 1;
    default: return 4;
    }
}

int bench_to_half(fattn_tensor *t, const float *f32_buf, size_t elems,
                  int dtype, void **half)
{
    const size_t bytes = elems * sizeof(uint16_t);
    uint16_t *h;

    *half = NULL;
    if (dtype != FATTN_DTYPE_BF16 && dtype != FATTN_DTYPE_F16)
        return 0;
    h = aligned_alloc(64, bytes > 0 ? (bytes + 63) / 64 * 64 : 64);
    if (h == NULL)
        return -1;
    /* The reference's own rounding, element by element (set-up, untimed):
     * NaN (the cache's unused rows, the output sentinel) stays NaN. */
    for (size_t k = 0; k < elems; k++)
        h[k] = fattn_ref_double_to_half((double)f32_buf[k], dtype);
    t->data = h + ((const float *)t->data - f32_buf);
    t->dtype = dtype;
    *half = h;
    return 0;
}

void bench_half_fill_nan(void *buf, size_t elems, int dtype)
{
    const uint16_t nan = fattn_ref_double_to_half(NAN, dtype);
    uint16_t *h = buf;

    for (size_t k = 0; k < elems; k++)
        h[k] = nan;
}

void bench_f32_to_bf16(const float *src, uint16_t *dst, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint32_t u;

        memcpy(&u, &src[k], sizeof u);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            dst[k] = (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
        else /* ties to even: add 0x7fff plus the kept LSB, truncate */
            dst[k] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

void bench_bf16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const uint32_t u = (uint32_t)src[k] << 16;

        memcpy(&dst[k], &u, sizeof u);
    }
}
