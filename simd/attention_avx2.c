/*
 * attention_avx2.c - flash attention, AVX2 path.
 *
 * Flags: -mavx2 -mfma, guarded by FATTN_CPU_AVX2 (CPUID AVX2 + FMA and
 * OS-enabled YMM state). Microkernel 4 x 3 ymm: 12 accumulators + 3 loaded
 * vectors + 1 broadcast = all 16 registers; query tile 24 rows; key tile 64.
 * Body, tails and numerics: attention_tiled.h and vec_math.h.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, for fma_peak.h */
#include "vec_avx2.h"
#include "vec_math.h"

#define UK_MR 4
#define UK_NV 3
#define TILE_K 64
#define ROWS_NB 2 /* 4 rows x 2 vectors + 2 + 1: 11 of 16 registers */

#define FMA_PEAK fattn_fma_peak_avx2
#define PEAK_CHAINS 12 /* 12 chains + 2 constants of 16 ymm registers */
#include "fma_peak.h"

#define VEC_EXP fattn_exp_avx2
#define VEC_EXP2 fattn_exp2_avx2
#define VEC_TANH fattn_tanh_avx2
#define VEC_WIDEN fattn_widen_avx2
#define VEC_NARROW fattn_narrow_avx2
#include "vec_hooks.h"

#define KERNEL_NAME avx2
#define KERNEL_TABLE fattn_kernel_avx2
#include "attention_tiled.h"
