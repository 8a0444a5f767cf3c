/*
 * spin.h - bounded spinning before a sleep: fattn's pool (pool.c) and the
 * benchmark's threads for the OpenBLAS baseline (bench/workers.c), which
 * must wait the same way for the comparison to be fair. The includer
 * defines _POSIX_C_SOURCE (clock_gettime).
 */
#ifndef FATTN_SPIN_H
#define FATTN_SPIN_H

#include <stdint.h>
#include <time.h>

/* How long a waiting thread spins before it sleeps, in nanoseconds: long
 * enough to catch back-to-back calls (a decode step's attention layers, a
 * timing loop), short enough that other work between calls barely notices.
 * Measured in time, not in pause instructions, whose cost differs tenfold
 * between cores. */
#define FATTN_SPIN_NS 50000

/* A pause between polls (the compiler builtin: no intrinsics outside
 * simd/); nothing off x86. */
static inline void fattn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline int64_t fattn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif /* FATTN_SPIN_H */
