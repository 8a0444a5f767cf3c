/*
 * plan_util.h - shared pieces of the plan, pool and executor tests
 * (tests/plan): two executors that check the fattn_executor contract, a
 * counting allocator that can fail or misalign on demand, the kernel paths
 * of this build, and small checks that print the case on failure.
 */
#ifndef FATTN_PLAN_UTIL_H
#define FATTN_PLAN_UTIL_H

#include "problem.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PU_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* f32 tolerance of the kernel tests: |x - ref| <= atol + rtol * |ref|. */
#define PU_ATOL 1e-5
#define PU_RTOL 1e-5

/* ---- failures ------------------------------------------------------------ */

/* Failed checks so far (every test prints "FAIL ..." lines and exits 1 if
 * this is nonzero at the end). */
extern int pu_failures;

/* Count a failure and print "FAIL <case>: <printf message>". */
void pu_fail(const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Check that a call returned `want` and, if `msg` is not NULL, that the
 * error record holds exactly `msg` (status too). want = FATTN_OK also needs
 * the record reset (ok, empty message). Returns 1 on success. */
int pu_expect(const char *where, fattn_status got, const fattn_error *err,
              fattn_status want, const char *msg);

/* Print the summary line and return the process exit status. */
int pu_finish(const char *program);

/* ---- kernel paths -------------------------------------------------------- */

/* The paths this build and CPU have, from the registry (FATTN_ISA_COUNT),
 * printing "SKIP <name>: not available" for the others once. Returns how
 * many were stored in isas[] (at most max). */
int pu_paths(int *isas, int max);

/* ---- executors ----------------------------------------------------------- */

/*
 * An executor that checks the contract of fattn.h: tasks in [1, max_tasks],
 * fn not NULL, every task index called exactly once, no call back into it
 * while one runs (unless `nest` asks for it, see below). Violations are
 * counted in `violations` and described in `last_violation`.
 *
 * threaded: parallel_for runs task i on its own pthread for i >= 1 and task
 * 0 on the calling thread, all at once (real concurrency).
 * reverse: parallel_for runs the tasks one after another on the calling
 * thread, from the last index to the first.
 *
 * nest: if set, parallel_for calls nest(nest_arg) once before running the
 * tasks of its first (outermost) call: a test uses it to start a second run
 * of the same plan while the first holds the plan's own workspace.
 */
typedef struct pu_exec {
    fattn_executor ex; /* pass &ex as params.executor */
    int threaded;
    _Atomic int calls;      /* parallel_for calls */
    _Atomic int tasks_run;  /* fn calls */
    _Atomic int max_seen;   /* largest `tasks` seen */
    _Atomic int depth;      /* parallel_for calls in progress */
    _Atomic int violations;
    char last_violation[160];
    void (*nest)(void *arg);
    void *nest_arg;
} pu_exec;

void pu_exec_init(pu_exec *e, int threaded, int32_t max_tasks);
/* Zero the counters (keeps max_tasks, kind and nest). */
void pu_exec_reset(pu_exec *e);

/* ---- allocator ----------------------------------------------------------- */

/*
 * A counting allocator (thread-safe): 64-byte aligned blocks from
 * aligned_alloc. fail_at = n makes alloc call number n (counting from the
 * first, as `allocs` does) return NULL; misalign_at = n returns call n and
 * every later one 16 bytes past a 64-byte boundary (free undoes it); 0 =
 * never. Every block carries a header, so frees of pointers it did not hand
 * out are counted in bad_frees, not passed to free().
 */
typedef struct pu_alloc {
    fattn_allocator a; /* pass as params.allocator */
    _Atomic int64_t allocs, frees, failed, bad_frees;
    _Atomic int64_t live_bytes;
    _Atomic int64_t fail_at, misalign_at;
} pu_alloc;

void pu_alloc_init(pu_alloc *al);

/* ---- buffers ------------------------------------------------------------- */

/* 64-byte aligned, exits on failure. */
void *pu_xalloc(size_t bytes);

/* Elements of buf[0 .. n) whose bits are not the problem sentinel. */
int64_t pu_not_sentinel(const float *buf, size_t n);

/* Index of the first differing byte of two buffers, or -1 if equal. */
int64_t pu_first_diff(const void *a, const void *b, size_t bytes);

/* ---- problems ------------------------------------------------------------ */

/* Build a problem (seeded, version FATTN_PARAMS_VERSION params) or exit(2):
 * a config the test wrote must be possible. */
void pu_problem(fattn_ref_problem *p, const fattn_ref_problem_config *cfg);

/* One line describing the problem (a static buffer: one call at a time). */
const char *pu_describe(const fattn_ref_problem *p);

#endif /* FATTN_PLAN_UTIL_H */
