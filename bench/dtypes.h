/*
 * dtypes.h - bf16 and f16 tensors for the benchmark cases.
 *
 * The problem builder (tests/reference/problem.h) makes f32 problems; a
 * case in another precision takes such a problem and gives its query,
 * key, value or output tensor a half-precision buffer of its own: the same
 * layout and element count, every element the f32 one rounded to nearest
 * even (the reference's conversion, fattn_ref_double_to_half), NaN where
 * the f32 buffer had NaN (unused cache rows) or the output sentinel. The
 * descriptor then points into the half buffer; the f32 buffer stays the
 * problem's (freed with it), the half one is the caller's.
 *
 * The fp64 reference reads the half tensors themselves (fattn_ref_elem),
 * so every implementation is checked against the exact result of the very
 * inputs it was given.
 */
#ifndef FATTN_BENCH_DTYPES_H
#define FATTN_BENCH_DTYPES_H

#include "fattn.h"

#include <stddef.h>
#include <stdint.h>

/* "f32", "bf16", "f16" (fattn_dtype), "?" otherwise. */
const char *bench_dtype_name(int dtype);

/* Bytes of one element: 4 for f32, 2 for bf16 and f16 (1 for bool). */
size_t bench_dtype_size(int dtype);

/*
 * Give *t (whose data lie in f32_buf, `elems` floats) a `dtype` buffer of
 * its own (bf16 or f16; f32 leaves *t alone and *half NULL): *half gets a
 * 64-byte aligned buffer of elems elements, converted, every page
 * touched. 0, or -1 without memory (*t unchanged).
 */
int bench_to_half(fattn_tensor *t, const float *f32_buf, size_t elems,
                  int dtype, void **half);

/* Fill `elems` elements of a half buffer with NaN (an output's "not yet
 * written" state, as the builder's sentinel is for f32). */
void bench_half_fill_nan(void *buf, size_t elems, int dtype);

/* f32 to bf16, rounded to nearest even (finite inputs; NaN stays NaN):
 * the cast a caller does to hand f32 data to a bf16 GEMM. */
void bench_f32_to_bf16(const float *src, uint16_t *dst, size_t n);

/* bf16 to f32 (exact). */
void bench_bf16_to_f32(const uint16_t *src, float *dst, size_t n);

#endif /* FATTN_BENCH_DTYPES_H */
