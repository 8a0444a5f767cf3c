/*
 * cases.h - the benchmark cases: shapes x variants x implementations.
 *
 * Names follow Google Benchmark's habit of slash-separated parameters:
 *     <group>/B:1/H:8/S:2048/D:128/<variant>/threads:<T>/<impl>
 *     decode/B:1/H:32/Hkv:8/Sq:1/Sk:8192/D:128/plain/threads:<T>/<impl>
 *     decode/B:1/H:32/Hkv:8/Sq:1/Sk:8192/D:128/kv:bf16/plain/threads:<T>/<impl>
 * group: prefill (incl. the sequence-length sweep at B=1 H=8 D=128),
 * variant (each option next to a plain run of the same shape), decode
 * (H=32, GQA groups 1..32, Sq 1..16, Sk 1K..64K; the K/V cache layouts
 * strided and bshd as variants of a plain row; Hkv is left out of the name
 * when it is H; q:<dt> and kv:<dt> name a bf16 or f16 query and output,
 * key and value, each left out when f32). T: 1, and N for the headline
 * shapes and every decode shape (machine.h). impl: blas and onednn
 * (unfused baselines), then fattn's kernel paths from the library's list
 * (scalar, avx2, avx512, avx512bf16; forced per call). Within a shape one
 * thread runs first, and at each thread count the baselines first, so each fattn case
 * can report its speed-up over them, and each N-thread case its scaling,
 * from the same run.
 */
#ifndef FATTN_BENCH_CASES_H
#define FATTN_BENCH_CASES_H

#include "machine.h"

/* Largest dense work per iteration (GFLOP, 4*B*H*Sq*Sk*D) for which each
 * kind of implementation is registered: the scalar path, the unfused
 * baselines, the SIMD paths; and whether the whole decode grid is (1), or
 * only its default rows (0). */
typedef struct bench_limits {
    double scalar_gflop;
    double baseline_gflop;
    double simd_gflop;
    int decode_grid;
} bench_limits;

/* Register every case within the limits; `machine` must outlive the run. */
void bench_cases_register(const bench_machine *machine,
                          const bench_limits *limits);

/* Free what the cases hold (the cached problem, the case table). */
void bench_cases_free(void);

#endif /* FATTN_BENCH_CASES_H */
