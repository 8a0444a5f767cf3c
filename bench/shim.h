/*
 * shim.h - write Google Benchmark cases in C.
 *
 * A thin C interface over Google Benchmark (shim.cc is the only C++ in
 * bench/): register a case by name with a C function and an argument
 * pointer, and from inside the case drive the timing loop, set counters and
 * report errors. A case is timed in the CPU time of the whole process
 * (Google Benchmark's MeasureProcessCPUTime), in milliseconds: on a shared,
 * noisy machine the wall clock also counts the time the process waits for a
 * core, while a per-thread CPU clock would miss helper threads of the
 * libraries measured. Rate counters divide by that time too. Multi-threaded
 * cases ask for the wall clock instead (fb_register).
 *
 * Everything else is Google Benchmark's own: its command-line flags
 * (--benchmark_filter, --benchmark_repetitions, --benchmark_out, ...), its
 * console and JSON reports, its aggregates (mean, median, stddev, cv).
 */
#ifndef FATTN_BENCH_SHIM_H
#define FATTN_BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A running case: wraps benchmark::State. */
typedef struct fb_state fb_state;

/* A case body. `arg` is the pointer given at registration. */
typedef void (*fb_case_fn)(fb_state *state, const void *arg);

/* How a counter is reported (a subset of benchmark::Counter::Flags). */
typedef enum fb_counter_kind {
    /* The value as given (averaged over repetitions by the aggregates). */
    FB_COUNTER_VALUE = 0,
    /* An amount per iteration (FLOP, bytes): reported per second of
     * measured (process CPU) time: value * iterations / seconds. */
    FB_COUNTER_RATE = 1,
    /* A size in bytes, shown with binary prefixes (Ki, Mi, Gi). */
    FB_COUNTER_BYTES = 2
} fb_counter_kind;

/*
 * benchmark::Initialize: consumes the --benchmark_* flags from argv
 * (--help prints `help` first, if not NULL, then Google Benchmark's help and
 * exits). Returns 0, or 1 after reporting arguments nobody recognised.
 */
int fb_init(int *argc, char **argv, void (*help)(void));

/* Register a case; the name is copied, `arg` must outlive fb_run().
 * real_time = 0: timed in process CPU time (see above); 1: in wall-clock
 * time (UseRealTime: the time, the iteration count and the rate counters
 * then follow the wall clock), for cases that run on several threads,
 * where process CPU time adds up every thread's. */
void fb_register(const char *name, fb_case_fn fn, const void *arg,
                 int real_time);

/* A key: value line in the report's context (console header, JSON). */
void fb_add_context(const char *key, const char *value);

/* Run the cases the flags select; returns how many ran. */
size_t fb_run(void);

void fb_shutdown(void);

/* The timing loop: `while (fb_keep_running(st)) { ...one iteration... }`. */
int fb_keep_running(fb_state *state);

/* Iterations of the current run (valid after the loop). */
int64_t fb_iterations(const fb_state *state);

/* Mark the case as failed with a message (shown instead of the timing);
 * the loop then ends: call it before the loop, or break right after. */
void fb_skip_with_error(fb_state *state, const char *message);

/* Set counter `name` of this run (see fb_counter_kind). */
void fb_counter(fb_state *state, const char *name, double value,
                fb_counter_kind kind);

/* A short free-form label printed at the end of the case's line. */
void fb_set_label(fb_state *state, const char *label);

#ifdef __cplusplus
}
#endif

#endif /* FATTN_BENCH_SHIM_H */
