/*
 * plan_util.c - executors, allocator and checks shared by tests/plan (see
 * plan_util.h).
 */
#include "plan_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pu_failures;

void pu_fail(const char *where, const char *fmt, ...)
{
    va_list ap;
    pu_failures++;
    printf("FAIL %s: ", where);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int pu_expect(const char *where, fattn_status got, const fattn_error *err,
              fattn_status want, const char *msg)
{
    if (got != want) {
        pu_fail(where, "status %s, want %s (message: %s)",
                fattn_status_name(got), fattn_status_name(want),
                err ? err->message : "-");
        return 0;
    }
    if (!err)
        return 1;
    if (err->status != (int32_t)want) {
        pu_fail(where, "error record status %s, want %s",
                fattn_status_name(err->status), fattn_status_name(want));
        return 0;
    }
    if (want == FATTN_OK && err->message[0] != '\0') {
        pu_fail(where, "success left a message: %s", err->message);
        return 0;
    }
    if (want != FATTN_OK && msg && strcmp(err->message, msg) != 0) {
        pu_fail(where, "message\n    got:  %s\n    want: %s", err->message, msg);
        return 0;
    }
    if (want != FATTN_OK && !msg && err->message[0] == '\0') {
        pu_fail(where, "empty error message");
        return 0;
    }
    return 1;
}

int pu_finish(const char *program)
{
    printf("%s: %d failures\n", program, pu_failures);
    return pu_failures != 0;
}

int pu_paths(int *isas, int max)
{
    static int reported;
    int n = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++) {
        if (!fattn_isa_available(isa)) {
            if (!reported)
                printf("SKIP %s: not available\n", fattn_isa_name(isa));
            continue;
        }
        if (n < max)
            isas[n++] = isa;
    }
    reported = 1;
    return n;
}

/* ---- executors ----------------------------------------------------------- */

typedef struct task_call {
    pu_exec *e;
    fattn_task_fn fn;
    void *arg;
    int32_t task;
    _Atomic int *seen;
} task_call;

static void run_one(task_call *c)
{
    atomic_fetch_add(&c->seen[c->task], 1);
    atomic_fetch_add(&c->e->tasks_run, 1);
    c->fn(c->arg, c->task);
}

static void *task_thread(void *arg)
{
    run_one(arg);
    return NULL;
}

static void violation(pu_exec *e, const char *fmt, ...)
{
    va_list ap;
    /* Only the first is described: written once, read after the run. */
    if (atomic_fetch_add(&e->violations, 1) == 0) {
        va_start(ap, fmt);
        vsnprintf(e->last_violation, sizeof e->last_violation, fmt, ap);
        va_end(ap);
    }
}

static void parallel_for(void *opaque, int32_t tasks, fattn_task_fn fn,
                         void *task_arg)
{
    pu_exec *e = opaque;
    const int depth = atomic_fetch_add(&e->depth, 1);
    atomic_fetch_add(&e->calls, 1);
    if (depth == 0 && e->nest)
        e->nest(e->nest_arg); /* may call parallel_for again: depth 1 */
    else if (depth > 0 && !e->nest)
        violation(e, "parallel_for re-entered (depth %d)", depth);
    if (tasks < 1 || tasks > e->ex.max_tasks || !fn) {
        violation(e, "parallel_for(tasks = %d, fn = %p) with max_tasks %d",
                  (int)tasks, (void *)(uintptr_t)fn, (int)e->ex.max_tasks);
        atomic_fetch_sub(&e->depth, 1);
        return;
    }
    int prev = atomic_load(&e->max_seen);
    while (tasks > prev && !atomic_compare_exchange_weak(&e->max_seen, &prev, tasks))
        ;
    _Atomic int *seen = calloc((size_t)tasks, sizeof *seen);
    task_call *calls = calloc((size_t)tasks, sizeof *calls);
    pthread_t *tid = calloc((size_t)tasks, sizeof *tid);
    if (!seen || !calls || !tid) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int32_t i = 0; i < tasks; i++) {
        calls[i].e = e;
        calls[i].fn = fn;
        calls[i].arg = task_arg;
        calls[i].task = i;
        calls[i].seen = seen;
    }
    if (e->threaded) {
        int32_t started = 1;
        for (int32_t i = 1; i < tasks; i++, started++)
            if (pthread_create(&tid[i], NULL, task_thread, &calls[i]) != 0)
                break;
        /* Tasks a thread could not start for run here, after task 0. */
        run_one(&calls[0]);
        for (int32_t i = started; i < tasks; i++)
            run_one(&calls[i]);
        for (int32_t i = 1; i < started; i++)
            pthread_join(tid[i], NULL);
    } else {
        for (int32_t i = tasks - 1; i >= 0; i--)
            run_one(&calls[i]);
    }
    for (int32_t i = 0; i < tasks; i++)
        if (atomic_load(&seen[i]) != 1)
            violation(e, "task %d of %d ran %d times", (int)i, (int)tasks,
                      atomic_load(&seen[i]));
    free(seen);
    free(calls);
    free(tid);
    atomic_fetch_sub(&e->depth, 1);
}

void pu_exec_init(pu_exec *e, int threaded, int32_t max_tasks)
{
    memset(e, 0, sizeof *e);
    e->ex.parallel_for = parallel_for;
    e->ex.opaque = e;
    e->ex.max_tasks = max_tasks;
    e->threaded = threaded;
    pu_exec_reset(e);
}

void pu_exec_reset(pu_exec *e)
{
    atomic_store(&e->calls, 0);
    atomic_store(&e->tasks_run, 0);
    atomic_store(&e->max_seen, 0);
    atomic_store(&e->depth, 0);
    atomic_store(&e->violations, 0);
    e->last_violation[0] = '\0';
}

/* ---- allocator ----------------------------------------------------------- */

#define PU_MAGIC 0x70755f616c6c6f63ull /* "pu_alloc" */

typedef struct block_head {
    uint64_t magic;
    size_t size;
    void *base;
    uint64_t pad[5]; /* 64 bytes: the block after it stays aligned */
} block_head;

static void *count_alloc(size_t size, void *opaque)
{
    pu_alloc *al = opaque;
    int64_t n = atomic_fetch_add(&al->allocs, 1) + 1;
    int64_t fail_at = atomic_load(&al->fail_at);
    int64_t misalign_at = atomic_load(&al->misalign_at);
    if (fail_at > 0 && n == fail_at) {
        atomic_fetch_add(&al->failed, 1);
        return NULL;
    }
    const size_t total = sizeof(block_head) + 64 + ((size + 63) / 64) * 64;
    unsigned char *base = aligned_alloc(64, total);
    if (!base) {
        atomic_fetch_add(&al->failed, 1);
        return NULL;
    }
    unsigned char *user = base + sizeof(block_head) +
                          (misalign_at > 0 && n >= misalign_at ? 16 : 0);
    block_head h = {PU_MAGIC, size, base, {0}};
    memcpy(user - sizeof h, &h, sizeof h);
    atomic_fetch_add(&al->live_bytes, (int64_t)size);
    return user;
}

static void count_free(void *ptr, void *opaque)
{
    pu_alloc *al = opaque;
    if (!ptr)
        return;
    block_head h;
    memcpy(&h, (unsigned char *)ptr - sizeof h, sizeof h);
    if (h.magic != PU_MAGIC) {
        atomic_fetch_add(&al->bad_frees, 1);
        return;
    }
    h.magic = 0;
    memcpy((unsigned char *)ptr - sizeof h, &h, sizeof h);
    atomic_fetch_add(&al->frees, 1);
    atomic_fetch_sub(&al->live_bytes, (int64_t)h.size);
    free(h.base);
}

void pu_alloc_init(pu_alloc *al)
{
    memset(al, 0, sizeof *al);
    al->a.alloc = count_alloc;
    al->a.free = count_free;
    al->a.opaque = al;
}

/* ---- buffers ------------------------------------------------------------- */

void *pu_xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

int64_t pu_not_sentinel(const float *buf, size_t n)
{
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &buf[i], sizeof bits);
        bad += bits != FATTN_REF_SENTINEL_BITS;
    }
    return bad;
}

int64_t pu_first_diff(const void *a, const void *b, size_t bytes)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < bytes; i++)
        if (x[i] != y[i])
            return (int64_t)i;
    return -1;
}

/* ---- problems ------------------------------------------------------------ */

void pu_problem(fattn_ref_problem *p, const fattn_ref_problem_config *cfg)
{
    fattn_ref_problem_config c = *cfg;
    c.params.version = FATTN_PARAMS_VERSION;
    if (fattn_ref_problem_init(p, &c) != 0) {
        fprintf(stderr, "impossible test problem (B=%" PRId64 " Hq=%" PRId64
                " Hkv=%" PRId64 " Sq=%" PRId64 " Sk=%" PRId64 ")\n",
                c.batch, c.heads_q, c.heads_kv, c.seq_q, c.seq_k);
        exit(2);
    }
}

const char *pu_describe(const fattn_ref_problem *p)
{
    static char buf[8192];
    return fattn_ref_problem_describe(p, buf, sizeof buf);
}
