/*
 * machine.h - what the benchmark measures about the machine once, at
 * start-up, in the same process as the cases, at each thread count of the
 * suite: the fp32 FMA peak of each kernel path's vector width, the bf16
 * dot-product peak and the memory read bandwidth. Also the threads themselves: a fattn pool and a
 * worker pool for the OpenBLAS baseline per thread count above one, and
 * the libraries' thread settings in the report's context.
 */
#ifndef FATTN_BENCH_MACHINE_H
#define FATTN_BENCH_MACHINE_H

#include "fattn.h"

/* Thread counts ("levels") of one run: level 0 is always one thread, level
 * 1 (if any) N > 1, normally the CPUs this process may use. */
#define BENCH_MAX_LEVELS 2

struct bench_workers;

typedef struct bench_machine {
    int levels;                    /* 1 or 2 */
    int threads[BENCH_MAX_LEVELS]; /* 1, N */
    /* GFLOP/s by level and fattn_isa, N cores at once for level 1
     * (src/cli/peak.h); 0: no peak (scalar, unavailable). */
    double peak_gflops[BENCH_MAX_LEVELS][FATTN_ISA_COUNT];
    /* bf16 dot products (vdpbf16ps) by level, the same way
     * (cli_bf16_peak_gflops_threads); 0: unavailable (the avx512bf16 path
     * not built in, or no AVX512_BF16). */
    double bf16_peak_gflops[BENCH_MAX_LEVELS];
    /* Streaming read of one buffer split among the level's threads
     * (cli_read_gbps_threads, the meter of `fattn bench`), GB/s
     * (1e9 bytes per second). */
    double read_gbps[BENCH_MAX_LEVELS];
} bench_machine;

/* Levels for 1 and `threads` threads (only level 0 if threads <= 1); with
 * start_pools, create their pools (a listing of the cases needs none). 0,
 * or -1 with the reason printed to stderr. */
int bench_machine_threads(bench_machine *m, int threads, int start_pools);

/* Measure peaks (about `seconds` each) and bandwidth at every level. */
void bench_machine_measure(bench_machine *m, double seconds);

/* The level's fattn pool (NULL for one thread: the calling thread runs
 * every call) and the OpenBLAS baseline's workers (NULL for one thread). */
fattn_pool *bench_machine_pool(int level);
struct bench_workers *bench_machine_workers(int level);

/* Pin OpenBLAS and oneDNN to one thread until a case says otherwise; put
 * the thread counts and library details into the report's context. */
void bench_machine_pin_threads(const bench_machine *m);

/* Add the measured numbers to the report's context. */
void bench_machine_report(const bench_machine *m);

/* Destroy the pools. */
void bench_machine_free(void);

#endif /* FATTN_BENCH_MACHINE_H */
