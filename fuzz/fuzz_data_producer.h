/*
 * fuzz_data_producer.h - read typed values from a fuzz input, never failing
 * (zstd's tests/fuzz/fuzz_data_producer.c habit).
 *
 * Every read succeeds: once the input is used up, reads return the smallest
 * value of their range (0, lo, the first choice), so any input, even an
 * empty one, decodes to a complete problem. Integers are read big-endian
 * from the front of the input, so a one-byte change near the front changes
 * one field, which keeps libFuzzer's mutations local.
 */
#ifndef FATTN_FUZZ_DATA_PRODUCER_H
#define FATTN_FUZZ_DATA_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_producer {
    const uint8_t *data;
    size_t size;
} fz_producer;

void fz_init(fz_producer *p, const uint8_t *data, size_t size);

/* Bytes left to read. */
size_t fz_remaining(const fz_producer *p);

/* The next `bytes` bytes (<= 8) as an unsigned big-endian number; missing
 * bytes read as 0. */
uint64_t fz_bits(fz_producer *p, unsigned bytes);

/* Uniform-ish integer in [lo, hi] (lo <= hi), consuming only as many bytes
 * as the range needs. */
int64_t fz_range(fz_producer *p, int64_t lo, int64_t hi);

/* 0 or 1 (one byte). */
int fz_bool(fz_producer *p);

/* One of values[0 .. count-1] (count >= 1). */
int64_t fz_pick(fz_producer *p, const int64_t *values, size_t count);

/* A raw 64-bit value (8 bytes). */
int64_t fz_i64(fz_producer *p);

/* An int64 that hits the edges often: 0, +-1, small values, powers of two
 * and their neighbours, INT32/INT64 extremes, or a raw 64-bit value. */
int64_t fz_interesting_i64(fz_producer *p);

/* A float that hits the specials often: 0, -0, NaN, +-Inf, denormals,
 * FLT_MAX, negatives, small normal values, or raw bits. */
float fz_interesting_float(fz_producer *p);

#endif /* FATTN_FUZZ_DATA_PRODUCER_H */
