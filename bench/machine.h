/*
 * machine.h - what the benchmark measures about the machine once, at
 * start-up, in the same process as the cases: the fp32 FMA peak of each
 * kernel path's vector width and the single-core memory read bandwidth.
 * Also pins the baselines' libraries to one thread.
 */
#ifndef FATTN_BENCH_MACHINE_H
#define FATTN_BENCH_MACHINE_H

#include "fattn.h"

typedef struct bench_machine {
    /* GFLOP/s by fattn_isa (0: no peak, e.g. scalar or unavailable). */
    double peak_gflops[4];
    /* Single-core streaming read, GB/s (1e9 bytes per second). */
    double read_gbps;
} bench_machine;

/* Measure peaks (about `seconds` each) and bandwidth; fill *m. */
void bench_machine_measure(bench_machine *m, double seconds);

/* Pin OpenBLAS and oneDNN's OpenMP runtime to `threads` threads; put the
 * thread counts and library details into the report's context. */
void bench_machine_pin_threads(int threads);

/* Add the measured numbers to the report's context. */
void bench_machine_report(const bench_machine *m);

#endif /* FATTN_BENCH_MACHINE_H */
