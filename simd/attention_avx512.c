/*
 * attention_avx512.c - flash attention, AVX-512 path.
 *
 * Flags: -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma, guarded by
 * FATTN_CPU_AVX512 (CPUID F/BW/DQ/VL + OS-enabled opmask and ZMM state).
 * Microkernel 8 x 3 zmm: 24 accumulators + 3 loaded vectors + 1 broadcast of
 * 32 registers; query tile 48 rows; key tile 128. 8 divides head_dim 64, 80,
 * 96, 128 and 256, so those need no tail block. Body, tails and numerics:
 * attention_tiled.h and vec_math.h.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, for fma_peak.h */
#include "vec_avx512.h"
#include "vec_math.h"

#define UK_MR 8
#define UK_NV 3
#define TILE_K 128
#define ROWS_WIDE 1

#define FMA_PEAK fattn_fma_peak_avx512
#define PEAK_CHAINS 16 /* 16 chains + 2 constants of 32 zmm registers */
#include "fma_peak.h"

#define VEC_EXP fattn_exp_avx512
#define VEC_EXP2 fattn_exp2_avx512
#define VEC_TANH fattn_tanh_avx512
#define VEC_WIDEN fattn_widen_avx512
#define VEC_NARROW fattn_narrow_avx512
#include "vec_hooks.h"

#define KERNEL_NAME avx512
#define KERNEL_TABLE fattn_kernel_avx512
#include "attention_tiled.h"
