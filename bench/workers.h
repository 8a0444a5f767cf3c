/*
 * workers.h - a small fork/join pool for the OpenBLAS baseline's own
 * threading (unfused_blas.c): its threads each take whole key/value head
 * groups, with a single-threaded OpenBLAS inside.
 *
 * Like fattn's pool it keeps its threads between calls (a benchmark loop
 * would otherwise time thread creation), the calling thread works too, and
 * idle threads spin briefly before they sleep, so back-to-back calls wake
 * them fast without burning a core while a case of another implementation
 * runs.
 */
#ifndef FATTN_BENCH_WORKERS_H
#define FATTN_BENCH_WORKERS_H

typedef struct bench_workers bench_workers;

/* `threads` threads in all (threads - 1 started here, the caller is the
 * last); NULL if a thread cannot be started or threads < 1. */
bench_workers *bench_workers_create(int threads);

/* Call fn(arg, worker) once on each thread, worker in [0, threads), the
 * caller being threads - 1; return when every call has returned. One run
 * at a time. */
void bench_workers_run(bench_workers *w, void (*fn)(void *arg, int worker),
                       void *arg);

int bench_workers_threads(const bench_workers *w);

/* Stop and join the threads. NULL is a no-op. */
void bench_workers_destroy(bench_workers *w);

#endif /* FATTN_BENCH_WORKERS_H */
