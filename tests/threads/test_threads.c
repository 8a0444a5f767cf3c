/*
 * test_threads.c - concurrent first use, concurrent calls, and the pool.
 *
 *   first_use     The library is not touched before the threads start
 *                 together (a barrier), so their first calls race on the
 *                 once-only state: the CPU flags and the choice of the
 *                 automatic path. Each thread then computes the same problem
 *                 on every path into its own outputs; every thread's result
 *                 must equal thread 0's bit for bit, and AUTO's must equal
 *                 the path it resolved to.
 *   shared_pool   Several caller threads run fattn_forward and fattn_plan_run
 *                 (one plan, each thread its own bindings.output and lse) on
 *                 ONE pool at the same time, many iterations: every result
 *                 equals the calling-thread result bit for bit.
 *   shared_plan   One plan without a pool run from several threads at once
 *                 without bindings.workspace: one run holds the plan's own
 *                 workspace, the others allocate temporaries (a counting
 *                 allocator sees them and the balance); all results correct.
 *   back_to_back  One caller, a pool of 8 threads (more than the CPUs),
 *                 calls of 2 and of 4 tasks back to back, from fattn_forward
 *                 and as plans, from different stack depths: a worker that
 *                 wakes for a call that has already ended must not join it
 *                 (it would take the next call's task indices and run them
 *                 with the ended call's fn and dead stack argument: the
 *                 SIGSEGV fixed in f6be2d5).
 *   lifecycle     Pools created and destroyed repeatedly, idle or after a
 *                 run: idle workers exit cleanly (TSan, and no hang).
 *
 * scripts/test.sh runs it under ThreadSanitizer as well.
 *   test_threads [SECTION]
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include "fattn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 6, B = 1, H = 4, S = 75, D = 40, N = B * H * S * D, NL = B * H * S };
enum { PATHS = FATTN_ISA_COUNT };

static float q[N], k[N], v[N];
static pthread_barrier_t start;
static int failures;

/* fattn_error messages are per thread; failures are counted atomically. */
static _Atomic int shared_failures;

static void tensors(fattn_tensor *tq, fattn_tensor *tk, fattn_tensor *tv,
                    fattn_tensor *to, float *out)
{
    fattn_tensor_contiguous(tq, q, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(tk, k, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(tv, v, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(to, out, FATTN_DTYPE_F32, B, H, S, D);
}

/* ---- first_use ------------------------------------------------------------ */

typedef struct job {
    float out[PATHS][N];
    int ran[PATHS];
    int resolved; /* what FATTN_ISA_AUTO resolved to in this thread */
    int failures;
} job;

static int run(float *out, int isa)
{
    fattn_tensor tq, tk, tv, to;
    tensors(&tq, &tk, &tv, &to, out);
    fattn_params p;
    memset(&p, 0, sizeof p);
    p.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    p.isa = isa;
    fattn_error err;
    fattn_status st = fattn_forward(&tq, &tk, &tv, &to, &p, &err);
    if (st != FATTN_OK)
        printf("FAIL isa %s: %s\n", fattn_isa_name(isa), err.message);
    return st != FATTN_OK;
}

static void *first_use_worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(&start);
    for (int isa = FATTN_ISA_AUTO; isa < PATHS; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        j->failures += run(j->out[isa], isa);
        j->ran[isa] = 1;
    }
    j->resolved = fattn_isa_auto(NULL);
    return NULL;
}

static void test_first_use(void)
{
    static job jobs[THREADS];
    pthread_t tid[THREADS];
    int before = failures;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, first_use_worker, &jobs[t]) != 0) {
            printf("FAIL: pthread_create\n");
            exit(1);
        }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        failures += jobs[t].failures;
    }
    pthread_barrier_destroy(&start);

    for (int t = 0; t < THREADS; t++) {
        if (jobs[t].resolved != jobs[0].resolved || jobs[t].resolved == FATTN_ISA_AUTO) {
            printf("FAIL thread %d: auto resolved to %s, thread 0 to %s\n", t,
                   fattn_isa_name(jobs[t].resolved), fattn_isa_name(jobs[0].resolved));
            failures++;
        }
        for (int isa = 0; isa < PATHS; isa++) {
            if (jobs[t].ran[isa] != jobs[0].ran[isa] ||
                (jobs[t].ran[isa] &&
                 memcmp(jobs[t].out[isa], jobs[0].out[isa], sizeof jobs[t].out[isa]) != 0)) {
                printf("FAIL thread %d, isa %s: result differs from thread 0's\n", t,
                       fattn_isa_name(isa));
                failures++;
            }
        }
    }
    if (memcmp(jobs[0].out[FATTN_ISA_AUTO], jobs[0].out[jobs[0].resolved],
               sizeof jobs[0].out[0]) != 0) {
        printf("FAIL: auto's result differs from %s's\n", fattn_isa_name(jobs[0].resolved));
        failures++;
    }
    printf("first_use: %d threads x every available path (auto = %s): %d failures\n",
           THREADS, fattn_isa_name(jobs[0].resolved), failures - before);
}

/* ---- the calling-thread result, per path ---------------------------------- */

static float base_out[PATHS][N], base_lse[PATHS][NL];

static void lse_tensor(fattn_tensor *tl, float *lse)
{
    fattn_tensor_contiguous(tl, lse, FATTN_DTYPE_F32, B, H, S, 1);
}

/* Params of every threaded section: causal bottom-right + LSE on `isa`. */
static void params_for(fattn_params *p, const fattn_tensor *tl, int isa,
                       fattn_pool *pool)
{
    memset(p, 0, sizeof *p);
    p->version = FATTN_PARAMS_VERSION;
    p->causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    p->lse = tl;
    p->isa = isa;
    p->pool = pool;
}

static void baselines(void)
{
    for (int isa = 1; isa < PATHS; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        fattn_tensor tq, tk, tv, to, tl;
        fattn_params p;
        tensors(&tq, &tk, &tv, &to, base_out[isa]);
        lse_tensor(&tl, base_lse[isa]);
        params_for(&p, &tl, isa, NULL);
        fattn_error err;
        if (fattn_forward(&tq, &tk, &tv, &to, &p, &err) != FATTN_OK) {
            printf("FAIL baseline on %s: %s\n", fattn_isa_name(isa), err.message);
            exit(1);
        }
    }
}

static int same_as_base(int isa, const float *out, const float *lse)
{
    return memcmp(out, base_out[isa], sizeof base_out[isa]) == 0 &&
           memcmp(lse, base_lse[isa], sizeof base_lse[isa]) == 0;
}

/* ---- shared_pool ------------------------------------------------------------ */

enum { CALLERS = 4, ITERATIONS = 25 };

typedef struct caller {
    fattn_pool *pool;
    const fattn_plan *plan; /* on the same pool */
    int isa, id;
    float out[N], lse[NL];
} caller;

/* CALLERS threads start together (the `start` barrier) on the same plan
 * and pool, each on its own callers[t], and are joined. */
static void run_callers(caller *callers, fattn_pool *pool, const fattn_plan *plan,
                        int isa, void *(*body)(void *))
{
    pthread_t tid[CALLERS];
    pthread_barrier_init(&start, NULL, CALLERS);
    for (int t = 0; t < CALLERS; t++) {
        callers[t].pool = pool;
        callers[t].plan = plan;
        callers[t].isa = isa;
        callers[t].id = t;
        if (pthread_create(&tid[t], NULL, body, &callers[t]) != 0) {
            printf("FAIL: pthread_create\n");
            exit(1);
        }
    }
    for (int t = 0; t < CALLERS; t++)
        pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&start);
}

static void *shared_pool_caller(void *arg)
{
    caller *c = arg;
    fattn_tensor tq, tk, tv, to, tl;
    fattn_params p;
    fattn_error err;
    tensors(&tq, &tk, &tv, &to, c->out);
    lse_tensor(&tl, c->lse);
    params_for(&p, &tl, c->isa, c->pool);
    fattn_bindings bd;
    memset(&bd, 0, sizeof bd);
    bd.output = c->out;
    bd.lse = c->lse;
    pthread_barrier_wait(&start);
    for (int it = 0; it < ITERATIONS; it++) {
        const int use_plan = (it + c->id) % 2;
        memset(c->out, 0xff, sizeof c->out);
        memset(c->lse, 0xff, sizeof c->lse);
        fattn_status st = use_plan ? fattn_plan_run(c->plan, &bd, &err)
                                   : fattn_forward(&tq, &tk, &tv, &to, &p, &err);
        if (st != FATTN_OK || !same_as_base(c->isa, c->out, c->lse)) {
            printf("FAIL shared_pool: isa %s, caller %d, iteration %d, %s: %s\n",
                   fattn_isa_name(c->isa), c->id, it,
                   use_plan ? "fattn_plan_run" : "fattn_forward",
                   st != FATTN_OK ? err.message : "not the calling-thread bits");
            atomic_fetch_add(&shared_failures, 1);
            break;
        }
    }
    return NULL;
}

static void test_shared_pool(void)
{
    int before = atomic_load(&shared_failures);
    fattn_pool *pool;
    fattn_error err;
    if (fattn_pool_create(3, &pool, &err) != FATTN_OK) {
        printf("FAIL fattn_pool_create: %s\n", err.message);
        failures++;
        return;
    }
    static caller callers[CALLERS];
    for (int isa = 1; isa < PATHS; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        fattn_tensor tq, tk, tv, to, tl;
        fattn_params p;
        static float plan_out[N], plan_lse[NL];
        tensors(&tq, &tk, &tv, &to, plan_out);
        lse_tensor(&tl, plan_lse);
        params_for(&p, &tl, isa, pool);
        fattn_plan *plan;
        if (fattn_plan_create(&tq, &tk, &tv, &to, &p, &plan, &err) != FATTN_OK) {
            printf("FAIL shared_pool: fattn_plan_create: %s\n", err.message);
            failures++;
            continue;
        }
        run_callers(callers, pool, plan, isa, shared_pool_caller);
        fattn_plan_destroy(plan);
    }
    fattn_pool_destroy(pool);
    int n = atomic_load(&shared_failures) - before;
    failures += n;
    printf("shared_pool: %d callers x %d calls on one pool of 3 threads, every path: %d failures\n",
           CALLERS, ITERATIONS, n);
}

/* ---- shared_plan ------------------------------------------------------------ */

/* A thread-safe counting allocator (64-byte aligned blocks). */
static _Atomic long allocs, frees;

static void *count_alloc(size_t size, void *opaque)
{
    (void)opaque;
    atomic_fetch_add(&allocs, 1);
    return aligned_alloc(64, (size + 63) / 64 * 64);
}

static void count_free(void *ptr, void *opaque)
{
    (void)opaque;
    if (ptr)
        atomic_fetch_add(&frees, 1);
    free(ptr);
}

static void *shared_plan_caller(void *arg)
{
    caller *c = arg;
    fattn_bindings bd;
    fattn_error err;
    memset(&bd, 0, sizeof bd);
    bd.output = c->out;
    bd.lse = c->lse;
    pthread_barrier_wait(&start);
    for (int it = 0; it < ITERATIONS; it++) {
        memset(c->out, 0xff, sizeof c->out);
        memset(c->lse, 0xff, sizeof c->lse);
        fattn_status st = fattn_plan_run(c->plan, &bd, &err);
        if (st != FATTN_OK || !same_as_base(c->isa, c->out, c->lse)) {
            printf("FAIL shared_plan: isa %s, caller %d, iteration %d: %s\n",
                   fattn_isa_name(c->isa), c->id, it,
                   st != FATTN_OK ? err.message : "not the calling-thread bits");
            atomic_fetch_add(&shared_failures, 1);
            break;
        }
    }
    return NULL;
}

static void test_shared_plan(void)
{
    int before = atomic_load(&shared_failures);
    static caller callers[CALLERS];
    long temporaries = 0;
    for (int isa = 1; isa < PATHS; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        fattn_tensor tq, tk, tv, to, tl;
        fattn_params p;
        static float plan_out[N], plan_lse[NL];
        fattn_error err;
        tensors(&tq, &tk, &tv, &to, plan_out);
        lse_tensor(&tl, plan_lse);
        params_for(&p, &tl, isa, NULL);
        p.allocator.alloc = count_alloc;
        p.allocator.free = count_free;
        atomic_store(&allocs, 0);
        atomic_store(&frees, 0);
        fattn_plan *plan;
        if (fattn_plan_create(&tq, &tk, &tv, &to, &p, &plan, &err) != FATTN_OK) {
            printf("FAIL shared_plan: fattn_plan_create: %s\n", err.message);
            failures++;
            continue;
        }
        const long created = atomic_load(&allocs);
        run_callers(callers, NULL, plan, isa, shared_plan_caller);
        /* Runs allocate only temporaries, each freed by its run. */
        const long during = atomic_load(&allocs) - created;
        if (atomic_load(&frees) != during) {
            printf("FAIL shared_plan: isa %s: runs allocated %ld and freed %ld blocks\n",
                   fattn_isa_name(isa), during, (long)atomic_load(&frees));
            atomic_fetch_add(&shared_failures, 1);
        }
        temporaries += during;
        fattn_plan_destroy(plan);
        if (atomic_load(&allocs) != atomic_load(&frees)) {
            printf("FAIL shared_plan: isa %s: %ld allocations, %ld frees after destroy\n",
                   fattn_isa_name(isa), (long)atomic_load(&allocs),
                   (long)atomic_load(&frees));
            atomic_fetch_add(&shared_failures, 1);
        }
    }
    int n = atomic_load(&shared_failures) - before;
    failures += n;
    printf("shared_plan: %d callers x %d runs of one plan (own workspace busy: %ld temporary "
           "workspaces): %d failures\n", CALLERS, ITERATIONS, temporaries, n);
}

/* ---- back_to_back ----------------------------------------------------------- */

enum { ROUNDS = 400 };

typedef struct call {
    fattn_tensor q, k, v, o;
    fattn_params p;
    fattn_plan *plan;
    float out[4 * 16 * 16], base[4 * 16 * 16];
    size_t n;
} call;

/* Run the call (as a plan or not) `depth` frames deeper, each with a live
 * stack buffer: the library's per-call state then sits at a different
 * address in each call, as in a program that calls from several places. */
static fattn_status at_depth(int depth, const call *c, int as_plan, fattn_error *err)
{
    volatile char pad[192];
    pad[0] = (char)depth;
    if (depth > 0) {
        fattn_status st = at_depth(depth - 1, c, as_plan, err);
        return st + pad[0] - (char)depth;
    }
    return as_plan ? fattn_plan_run(c->plan, NULL, err)
                   : fattn_forward(&c->q, &c->k, &c->v, &c->o, &c->p, err);
}

/* heads x 16 x 16 from the shared data: `heads` work items on every path. */
static int setup_call(call *c, int heads, int isa, fattn_pool *pool, fattn_error *err)
{
    fattn_tensor_contiguous(&c->q, q, FATTN_DTYPE_F32, 1, heads, 16, 16);
    fattn_tensor_contiguous(&c->k, k, FATTN_DTYPE_F32, 1, heads, 16, 16);
    fattn_tensor_contiguous(&c->v, v, FATTN_DTYPE_F32, 1, heads, 16, 16);
    fattn_tensor_contiguous(&c->o, c->base, FATTN_DTYPE_F32, 1, heads, 16, 16);
    memset(&c->p, 0, sizeof c->p);
    c->p.version = FATTN_PARAMS_VERSION;
    c->p.isa = isa;
    c->n = (size_t)heads * 16 * 16;
    if (fattn_forward(&c->q, &c->k, &c->v, &c->o, &c->p, err) != FATTN_OK)
        return 0;
    c->o.data = c->out;
    c->p.pool = pool;
    return fattn_plan_create(&c->q, &c->k, &c->v, &c->o, &c->p, &c->plan, err) == FATTN_OK;
}

static void test_back_to_back(void)
{
    int bad = 0;
    fattn_error err;
    fattn_pool *pool;
    if (fattn_pool_create(8, &pool, &err) != FATTN_OK) {
        printf("FAIL fattn_pool_create: %s\n", err.message);
        failures++;
        return;
    }
    for (int isa = 1; isa < PATHS && !bad; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        /* Calls of 2 and of 4 tasks, each from fattn_forward and as a plan. */
        static call two, four;
        if (!setup_call(&two, 2, isa, pool, &err) || !setup_call(&four, 4, isa, pool, &err)) {
            printf("FAIL back_to_back: %s\n", err.message);
            bad++;
        }
        for (int r = 0; r < ROUNDS && !bad; r++) {
            call *c[2] = {&two, &four};
            for (int j = 0; j < 2 && !bad; j++) {
                const int as_plan = (r + j) % 2;
                memset(c[j]->out, 0xff, sizeof c[j]->out);
                fattn_status st = at_depth((r / 2 + j) % 4, c[j], as_plan, &err);
                if (st != FATTN_OK || memcmp(c[j]->out, c[j]->base, c[j]->n * 4) != 0) {
                    printf("FAIL back_to_back: isa %s, round %d, %d-task %s: %s (a call on "
                           "the pool returned before its work items were computed, or "
                           "computed them wrongly)\n", fattn_isa_name(isa), r, j ? 4 : 2,
                           as_plan ? "fattn_plan_run" : "fattn_forward",
                           st != FATTN_OK ? err.message : "not the calling-thread bits");
                    bad++;
                }
            }
        }
        fattn_plan_destroy(two.plan);
        fattn_plan_destroy(four.plan);
        two.plan = four.plan = NULL;
    }
    fattn_pool_destroy(pool);
    failures += bad;
    printf("back_to_back: %d rounds of a 2-task and a 4-task call on a pool of 8 threads, "
           "every path: %d failures\n", ROUNDS, bad);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void test_lifecycle(void)
{
    int bad = 0;
    static float out[N], lse[NL];
    const int isa = fattn_isa_auto(NULL);
    for (int r = 0; r < 30 && !bad; r++) {
        const int threads = 1 + r % 9;
        fattn_pool *pool = NULL;
        fattn_error err;
        if (fattn_pool_create(threads, &pool, &err) != FATTN_OK ||
            fattn_pool_threads(pool) != threads) {
            printf("FAIL lifecycle: fattn_pool_create(%d): %s\n", threads, err.message);
            bad++;
            break;
        }
        if (r % 3 == 0 && isa != FATTN_ISA_AUTO) {
            fattn_tensor tq, tk, tv, to, tl;
            fattn_params p;
            tensors(&tq, &tk, &tv, &to, out);
            lse_tensor(&tl, lse);
            params_for(&p, &tl, isa, pool);
            if (fattn_forward(&tq, &tk, &tv, &to, &p, &err) != FATTN_OK ||
                !same_as_base(isa, out, lse)) {
                printf("FAIL lifecycle: run on a pool of %d: %s\n", threads, err.message);
                bad++;
            }
        }
        fattn_pool_destroy(pool); /* idle, or right after a run */
    }
    failures += bad;
    printf("lifecycle: 30 pools of 1-9 threads created and destroyed: %d failures\n", bad);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        q[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
        k[i] = q[(i * 7) % N];
        v[i] = q[(i * 13) % N];
    }
    /* first_use must be the first call into the library. */
    if (!only || strcmp(only, "first_use") == 0)
        test_first_use();
    baselines();
    if (!only || strcmp(only, "shared_pool") == 0)
        test_shared_pool();
    if (!only || strcmp(only, "shared_plan") == 0)
        test_shared_plan();
    if (!only || strcmp(only, "back_to_back") == 0)
        test_back_to_back();
    if (!only || strcmp(only, "lifecycle") == 0)
        test_lifecycle();
    printf("test_threads: %d failures\n", failures);
    return failures != 0;
}
