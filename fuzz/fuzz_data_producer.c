/*
 * fuzz_data_producer.c - see fuzz_data_producer.h.
 */
#include "fuzz_data_producer.h"

#include <float.h>
#include <math.h>
#include <string.h>

void fz_init(fz_producer *p, const uint8_t *data, size_t size)
{
    p->data = data;
    p->size = data ? size : 0;
}

size_t fz_remaining(const fz_producer *p)
{
    return p->size;
}

uint64_t fz_bits(fz_producer *p, unsigned bytes)
{
    uint64_t v = 0;
    if (bytes > 8)
        bytes = 8;
    for (unsigned k = 0; k < bytes; k++) {
        v <<= 8;
        if (p->size > 0) {
            v |= p->data[0];
            p->data++;
            p->size--;
        }
    }
    return v;
}

int64_t fz_range(fz_producer *p, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo; /* count - 1 */
    unsigned bytes = 0;
    for (uint64_t s = span; s > 0; s >>= 8)
        bytes++;
    uint64_t v = fz_bits(p, bytes);
    if (span != UINT64_MAX)
        v %= span + 1u;
    return (int64_t)((uint64_t)lo + v);
}

int fz_bool(fz_producer *p)
{
    return (int)(fz_bits(p, 1) & 1u);
}

int64_t fz_pick(fz_producer *p, const int64_t *values, size_t count)
{
    return values[fz_range(p, 0, (int64_t)count - 1)];
}

int64_t fz_i64(fz_producer *p)
{
    return (int64_t)fz_bits(p, 8);
}

int64_t fz_interesting_i64(fz_producer *p)
{
    static const int64_t edges[] = {
        0, 1, -1, 2, -2, 3, 7, 8, 63, 64, 65, 127, 128, 4095, 4096, 4097,
        INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN, (int64_t)UINT32_MAX,
        (int64_t)UINT32_MAX + 1, INT64_MAX, INT64_MAX - 1, INT64_MIN,
        INT64_MIN + 1, INT64_MAX / 2, INT64_MAX / 4 + 1, INT64_MAX / 8,
        (int64_t)1 << 40, ((int64_t)1 << 61) - 1, (int64_t)1 << 62,
        -((int64_t)1 << 62),
    };
    switch (fz_range(p, 0, 3)) {
    case 0:
        return fz_pick(p, edges, sizeof edges / sizeof edges[0]);
    case 1:
        return fz_range(p, -3, 300);
    case 2: { /* 2^k + {-1, 0, 1} */
        int k = (int)fz_range(p, 0, 62);
        return ((int64_t)1 << k) + fz_range(p, -1, 1);
    }
    default:
        return fz_i64(p);
    }
}

float fz_interesting_float(fz_producer *p)
{
    static const float specials[] = {
        0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 0.125f, 2.0f, 1e-3f, 1e3f,
        FLT_MIN, FLT_MIN / 4, -FLT_MIN, FLT_MAX, -FLT_MAX, FLT_EPSILON,
        1e30f, 1e-30f,
    };
    switch (fz_range(p, 0, 4)) {
    case 0:
        return specials[fz_range(p, 0, sizeof specials / sizeof specials[0] - 1)];
    case 1:
        return fz_bool(p) ? NAN : -NAN;
    case 2:
        return fz_bool(p) ? INFINITY : -INFINITY;
    case 3:
        return (float)fz_range(p, -1000, 1000) / 64.0f;
    default: {
        uint32_t bits = (uint32_t)fz_bits(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    }
}
