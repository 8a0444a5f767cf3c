/*
 * tensors.c - the tensors of `fattn bench` (tensors.h).
 */
#include "tensors.h"

#include "reference.h" /* the half conversions, fattn_ref_elem */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, seedable, identical on every platform. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1]: 24 random bits, exactly representable in float. */
static float rng_uniform(uint64_t *state)
{
    uint32_t bits = (uint32_t)(rng_next(state) >> 40);

    return (float)bits * (2.0f / 16777215.0f) - 1.0f;
}

size_t cli_dtype_size(int dtype)
{
    return dtype == FATTN_DTYPE_BF16 || dtype == FATTN_DTYPE_F16
               ? sizeof(uint16_t)
               : sizeof(float);
}

size_t cli_tensor_bytes(int dtype, int64_t batch, int64_t heads, int64_t rows,
                        int64_t dim)
{
    uint64_t dims[4] = {(uint64_t)batch, (uint64_t)heads, (uint64_t)rows,
                        (uint64_t)dim};
    uint64_t n = cli_dtype_size(dtype);

    for (int k = 0; k < 4; k++) {
        if (dims[k] != 0 && n > UINT64_MAX / dims[k])
            return 0;
        n *= dims[k];
    }
    /* Round up to 64 bytes for aligned_alloc; keep the size in size_t. */
    if (n > (uint64_t)SIZE_MAX - 63)
        return 0;
    return (size_t)((n + 63) & ~(uint64_t)63);
}

/* The view's strides in `layout`, `capacity` rows per (batch, head). The
 * caller checked that batch * heads * capacity * dim floats fit in size_t,
 * so no product here overflows. */
static void layout_strides(int layout, int64_t heads, int64_t capacity,
                           int64_t dim, int64_t stride[4])
{
    if (layout == CLI_LAYOUT_BSHD) {
        stride[0] = capacity * heads * dim;
        stride[1] = dim;
        stride[2] = heads * dim;
    } else {
        stride[0] = heads * capacity * dim;
        stride[1] = capacity * dim;
        stride[2] = dim;
    }
    stride[3] = 1;
}

/* Element (n, h, s, d)'s bytes. */
static unsigned char *at(const fattn_tensor *t, int64_t n, int64_t h,
                         int64_t s, int64_t d)
{
    return (unsigned char *)t->data +
           (size_t)(n * t->stride[0] + h * t->stride[1] + s * t->stride[2] +
                    d * t->stride[3]) *
               cli_dtype_size(t->dtype);
}

/* Store x in the tensor's dtype (rounded to nearest even for half). */
static void store(const fattn_tensor *t, unsigned char *p, float x)
{
    if (t->dtype == FATTN_DTYPE_F32) {
        memcpy(p, &x, sizeof x);
    } else {
        const uint16_t h = fattn_ref_double_to_half((double)x, t->dtype);

        memcpy(p, &h, sizeof h);
    }
}

static void fill_random(const fattn_tensor *t, uint64_t *rng)
{
    const uint64_t count = (uint64_t)t->shape[0] * (uint64_t)t->shape[1] *
                           (uint64_t)t->shape[2] * (uint64_t)t->shape[3];

    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++)
                    store(t, at(t, n, h, s, d), rng_uniform(rng));
    /* The padding draws of a contiguous f32 buffer, whatever the dtype:
     * the data of the default layout stay what they have always been for
     * a seed, and a half tensor holds the f32 one's values, rounded. */
    for (uint64_t k = count; k % 16 != 0; k++)
        (void)rng_uniform(rng);
}

int cli_tensor_alloc(cli_tensor *t, const char *what, int dtype, int layout,
                     int64_t batch, int64_t heads, int64_t seq,
                     int64_t capacity, int64_t dim, uint64_t *rng)
{
    const size_t bytes = cli_tensor_bytes(dtype, batch, heads, capacity, dim);

    t->buf = NULL;
    t->bytes = 0;
    if (bytes == 0) {
        fprintf(stderr,
                "fattn bench: error: the %s tensor [%" PRId64 ", %" PRId64
                ", %" PRId64 ", %" PRId64 "] is too large to allocate\n",
                what, batch, heads, capacity, dim);
        return -1;
    }
    t->buf = aligned_alloc(64, bytes);
    if (t->buf == NULL) {
        fprintf(stderr,
                "fattn bench: error: out of memory allocating %.1f MiB for "
                "the %s tensor\n",
                (double)bytes / (1024.0 * 1024.0), what);
        return -1;
    }
    t->bytes = bytes;
    t->view.data = t->buf;
    t->view.dtype = dtype;
    /* Every page touched now, not in a timed call: NaN around the inputs'
     * views, zero in the outputs. */
    if (rng == NULL) {
        memset(t->buf, 0, bytes);
    } else {
        /* One NaN's bytes, converted once, copied everywhere. */
        const size_t esize = cli_dtype_size(dtype);
        unsigned char nan[sizeof(float)];

        store(&t->view, nan, NAN);
        for (size_t k = 0; k < bytes; k += esize)
            memcpy((unsigned char *)t->buf + k, nan, esize);
    }
    t->view.shape[0] = batch;
    t->view.shape[1] = heads;
    t->view.shape[2] = seq;
    t->view.shape[3] = dim;
    layout_strides(layout, heads, capacity, dim, t->view.stride);
    if (rng != NULL)
        fill_random(&t->view, rng);
    return 0;
}

void cli_tensor_free(cli_tensor *t)
{
    free(t->buf);
    t->buf = NULL;
    t->bytes = 0;
}

uint64_t cli_tensor_digest(uint64_t h, const fattn_tensor *t)
{
    const size_t esize = cli_dtype_size(t->dtype);

    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t hd = 0; hd < t->shape[1]; hd++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++) {
                    const unsigned char *p = at(t, n, hd, s, d);

                    for (size_t k = 0; k < esize; k++) {
                        h ^= p[k];
                        h *= 0x100000001b3ull;
                    }
                }
    return h;
}

double cli_tensor_max_abs(const fattn_tensor *t)
{
    double m = 0.0;

    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++) {
                    const double x = fabs(fattn_ref_elem(t, n, h, s, d));

                    if (x > m)
                        m = x;
                }
    return m;
}
