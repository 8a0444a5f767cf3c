/*
 * tensors.h - the tensors of `fattn bench`, f32, bf16 or f16: allocated in
 * a memory layout (--layout) with room for a K/V cache (--kv-capacity),
 * filled with seeded values in logical order and hashed in logical order,
 * so the same problem has the same values and the same digest whatever its
 * layout.
 */
#ifndef FATTN_CLI_TENSORS_H
#define FATTN_CLI_TENSORS_H

#include "cli.h"

#include "fattn.h"

#include <stddef.h>
#include <stdint.h>

/* One tensor and the buffer it owns. */
typedef struct cli_tensor {
    void *buf;         /* 64-byte aligned, every page touched */
    size_t bytes;      /* of buf */
    fattn_tensor view; /* [batch, heads, seq, dim] in the layout */
} cli_tensor;

/* Bytes of one element of an f32, bf16 or f16 tensor. */
size_t cli_dtype_size(int dtype);

/* Bytes of a buffer of batch * heads * rows * dim elements of `dtype`,
 * rounded up to 64; 0 if that overflows. */
size_t cli_tensor_bytes(int dtype, int64_t batch, int64_t heads, int64_t rows,
                        int64_t dim);

/*
 * Allocate *t as a [batch, heads, seq, dim] view of `dtype` (f32, bf16 or
 * f16) into a buffer with room for `capacity` >= seq rows per (batch,
 * head), in `layout` (for BSHD the token stride spans heads * dim, the
 * batch stride capacity tokens).
 *
 * With rng: the view's elements get uniform f32 values in [-1, 1] drawn in
 * (b, h, s, d) order, each rounded to nearest even for a bf16 or f16
 * tensor (the reference's conversion, fattn_ref_double_to_half: the same
 * seed gives the same values in every dtype, up to that rounding), then
 * as many draws as pad the count to a multiple of 16 are skipped (the
 * 64-byte rounding of a contiguous f32 buffer, so the default layout
 * draws exactly what `fattn bench` always drew, and a half tensor draws
 * what an f32 one would), and every element outside the view (unused
 * cache rows, padding) is a quiet NaN: a kernel that reads past Sk turns
 * the output into NaN and fails the check. Without rng: all zero. Returns
 * 0, or -1 after printing why (too large, out of memory) to stderr; *t is
 * then empty.
 */
int cli_tensor_alloc(cli_tensor *t, const char *what, int dtype, int layout,
                     int64_t batch, int64_t heads, int64_t seq,
                     int64_t capacity, int64_t dim, uint64_t *rng);

/* max |x| over the view's elements (0 for an empty view). */
double cli_tensor_max_abs(const fattn_tensor *t);

void cli_tensor_free(cli_tensor *t);

/* 64-bit FNV-1a, continuing from `h`, over the view's elements (4 bytes for
 * f32, 2 for bf16 and f16) in (b, h, s, d) order, each byte by byte in
 * memory order: for a contiguous BHSD tensor that is its bytes as they
 * lie, whatever the layout it is the same. */
#define CLI_FNV1A64_BASIS 0xcbf29ce484222325ull
uint64_t cli_tensor_digest(uint64_t h, const fattn_tensor *t);

#endif /* FATTN_CLI_TENSORS_H */
