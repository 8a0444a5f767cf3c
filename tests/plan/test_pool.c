/*
 * test_pool.c - validation and bookkeeping of pools and executors
 * (fattn.h, "Threads" and params layout 2).
 *
 *   pool_create   threads out of range and a NULL out-pointer: status,
 *                 message, *pool NULL; threads = 0 means fattn_usable_cpus();
 *                 the getters and destroy on NULL.
 *   params        pool and executor both set; an executor without
 *                 parallel_for; max_tasks 0 and FATTN_MAX_THREADS + 1: for
 *                 fattn_check, fattn_workspace_size, fattn_forward and
 *                 fattn_plan_create, output untouched, *plan NULL.
 *   version1      pool and executor in a version-1 struct are not read: the
 *                 call runs on the calling thread (one task, the one-task
 *                 workspace, the executor never called, even an invalid one).
 *   tasks         fattn_plan_tasks == min(threads, work items) for pools and
 *                 executors of several sizes and problems of 1 to many items;
 *                 the workspace for N tasks is N times the one-task size
 *                 (fattn_workspace_size and fattn_plan_workspace_size agree),
 *                 and a caller workspace of one task's share is too small.
 *   executor      the executor contract seen from the executor: a run calls
 *                 parallel_for once, with 1 <= tasks <= fattn_plan_tasks,
 *                 and every task index once.
 *
 * Pools start threads: suite 'threads' too (TSan in scripts/test.sh).
 *   test_pool [SECTION]
 */
#include "plan_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fattn_ref_problem P; /* B=2 Hq=4 Hkv=2 Sq=40 Sk=60 D=16, lse */

static void make_problem(fattn_ref_problem *p, int64_t b, int64_t hq, int64_t hkv,
                         int64_t sq, int64_t sk, int64_t d)
{
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, b, hq, sq, sk, d);
    c.heads_kv = hkv;
    c.lse = 1;
    c.seed = (uint64_t)(b * 1000 + hq * 100 + sq * 10 + sk);
    pu_problem(p, &c);
}

static void test_pool_create(void)
{
    int before = pu_failures;
    fattn_error err;
    char msg[FATTN_ERROR_MESSAGE_SIZE];
    static const int32_t bad[] = {-1, FATTN_MAX_THREADS + 1, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < PU_COUNT(bad); i++) {
        fattn_pool *pool = (fattn_pool *)&err;
        char where[64];
        snprintf(where, sizeof where, "pool_create(%d)", (int)bad[i]);
        snprintf(msg, sizeof msg, "fattn_pool_create: threads = %d: must be in [1, %d], or 0 "
                 "for the usable CPUs", (int)bad[i], FATTN_MAX_THREADS);
        pu_expect(where, fattn_pool_create(bad[i], &pool, &err), &err, FATTN_ERR_INVALID_VALUE,
                  msg);
        if (pool)
            pu_fail(where, "*pool not NULL on error");
    }
    pu_expect("pool_create(2, NULL)", fattn_pool_create(2, NULL, &err), &err,
              FATTN_ERR_NULL_POINTER, "fattn_pool_create: pool is NULL");
    pu_expect("pool_create(0, NULL)", fattn_pool_create(0, NULL, NULL), NULL,
              FATTN_ERR_NULL_POINTER, NULL);

    const int32_t cpus = fattn_usable_cpus();
    if (cpus < 1 || cpus > 1 << 20)
        pu_fail("fattn_usable_cpus", "%d", (int)cpus);
    fattn_pool *pool = NULL;
    if (pu_expect("pool_create(0)", fattn_pool_create(0, &pool, &err), &err, FATTN_OK, NULL)) {
        const int32_t want = cpus < FATTN_MAX_THREADS ? cpus : FATTN_MAX_THREADS;
        if (fattn_pool_threads(pool) != want)
            pu_fail("pool_create(0)", "fattn_pool_threads = %d, fattn_usable_cpus = %d",
                    (int)fattn_pool_threads(pool), (int)cpus);
        fattn_pool_destroy(pool);
    }
    static const int32_t good[] = {1, 2, 7, 16};
    for (size_t i = 0; i < PU_COUNT(good); i++) {
        pool = NULL;
        if (pu_expect("pool_create(n)", fattn_pool_create(good[i], &pool, NULL), NULL, FATTN_OK,
                      NULL) &&
            fattn_pool_threads(pool) != good[i])
            pu_fail("pool_create(n)", "fattn_pool_threads = %d, want %d",
                    (int)fattn_pool_threads(pool), (int)good[i]);
        fattn_pool_destroy(pool);
    }
    if (fattn_pool_threads(NULL) != 0)
        pu_fail("fattn_pool_threads(NULL)", "want 0");
    fattn_pool_destroy(NULL);
    printf("pool_create: %d failures\n", pu_failures - before);
}

/* fattn_check, fattn_workspace_size, fattn_forward, fattn_plan_create with
 * pr: each must fail with `want` and `rule` ("<fn>: " + rule). */
static void expect_all(const char *where, fattn_ref_problem *p, const fattn_params *pr,
                       fattn_status want, const char *rule)
{
    static const char *const fns[] = {"fattn_check", "fattn_workspace_size", "fattn_forward",
                                      "fattn_plan_create"};
    for (int f = 0; f < 4; f++) {
        char msg[FATTN_ERROR_MESSAGE_SIZE], w[160];
        fattn_error err;
        size_t ws = 777;
        fattn_plan *plan = (fattn_plan *)&ws;
        snprintf(msg, sizeof msg, "%s: %s", fns[f], rule);
        snprintf(w, sizeof w, "%s, %s", where, fns[f]);
        fattn_ref_problem_reset_output(p);
        fattn_status st =
            f == 0 ? fattn_check(&p->query, &p->key, &p->value, &p->output, pr, &err)
            : f == 1 ? fattn_workspace_size(&p->query, &p->key, &p->value, &p->output, pr, &ws,
                                            &err)
            : f == 2 ? fattn_forward(&p->query, &p->key, &p->value, &p->output, pr, &err)
                     : fattn_plan_create(&p->query, &p->key, &p->value, &p->output, pr, &plan,
                                         &err);
        pu_expect(w, st, &err, want, rule ? msg : NULL);
        if (pu_not_sentinel(p->out_buf, p->out_elems) || pu_not_sentinel(p->lse_buf, p->lse_elems))
            pu_fail(w, "output or LSE written on error");
        if ((f == 1 && ws != 777) || (f == 3 && plan != NULL))
            pu_fail(w, "an output argument was written on error");
    }
}

static void test_params(void)
{
    int before = pu_failures;
    fattn_pool *pool = NULL;
    if (fattn_pool_create(2, &pool, NULL) != FATTN_OK) {
        pu_fail("params", "fattn_pool_create(2) failed");
        return;
    }
    pu_exec ex;
    pu_exec_init(&ex, 1, 4);
    fattn_params pr = P.params;
    pr.pool = pool;
    pr.executor = &ex.ex;
    expect_all("params: pool and executor", &P, &pr, FATTN_ERR_INCOMPATIBLE_OPTIONS,
               "params.pool and params.executor are both set: choose one way to run in parallel");
    pr.pool = NULL;
    fattn_executor bad = ex.ex;
    pr.executor = &bad;
    bad.parallel_for = NULL;
    expect_all("params: parallel_for NULL", &P, &pr, FATTN_ERR_NULL_POINTER,
               "params.executor->parallel_for is NULL");
    bad = ex.ex;
    static const int32_t tasks[] = {0, -1, FATTN_MAX_THREADS + 1};
    for (size_t i = 0; i < PU_COUNT(tasks); i++) {
        char rule[128], where[64];
        bad.max_tasks = tasks[i];
        snprintf(rule, sizeof rule, "params.executor->max_tasks = %d: must be in [1, %d]",
                 (int)tasks[i], FATTN_MAX_THREADS);
        snprintf(where, sizeof where, "params: max_tasks %d", (int)tasks[i]);
        expect_all(where, &P, &pr, FATTN_ERR_INVALID_VALUE, rule);
    }
    if (atomic_load(&ex.calls) != 0)
        pu_fail("params", "the executor was called by an invalid call");
    /* The limits themselves are fine. */
    bad.max_tasks = FATTN_MAX_THREADS;
    pu_expect("params: max_tasks FATTN_MAX_THREADS",
              fattn_check(&P.query, &P.key, &P.value, &P.output, &pr, NULL), NULL, FATTN_OK, NULL);
    fattn_pool_destroy(pool);
    printf("params: %d failures\n", pu_failures - before);
}

static void test_version1(void)
{
    int before = pu_failures;
    fattn_error err;
    fattn_pool *pool = NULL;
    if (fattn_pool_create(4, &pool, NULL) != FATTN_OK) {
        pu_fail("version1", "fattn_pool_create(4) failed");
        return;
    }
    const size_t ob = P.out_elems * 4, lb = P.lse_elems * 4;
    float *o1 = pu_xalloc(ob), *l1 = pu_xalloc(lb);
    fattn_params base = P.params;
    base.version = 1;
    size_t ws1 = 0;
    fattn_ref_problem_reset_output(&P);
    if (fattn_workspace_size(&P.query, &P.key, &P.value, &P.output, &base, &ws1, &err) !=
            FATTN_OK ||
        fattn_forward(&P.query, &P.key, &P.value, &P.output, &base, &err) != FATTN_OK) {
        pu_fail("version1", "%s", err.message);
        goto done;
    }
    memcpy(o1, P.out_buf, ob);
    memcpy(l1, P.lse_buf, lb);

    pu_exec ex, invalid;
    pu_exec_init(&ex, 1, 4);
    pu_exec_init(&invalid, 1, 4);
    invalid.ex.parallel_for = NULL;
    invalid.ex.max_tasks = 0;
    const struct {
        const char *name;
        fattn_pool *pool;
        const fattn_executor *exec;
    } cases[] = {
        {"pool", pool, NULL},
        {"executor", NULL, &ex.ex},
        {"pool and executor", pool, &ex.ex},
        {"an invalid executor", NULL, &invalid.ex},
    };
    for (uint32_t version = 0; version <= 1; version++)
        for (size_t i = 0; i < PU_COUNT(cases); i++) {
            char where[96];
            snprintf(where, sizeof where, "version1: version %u with %s", version, cases[i].name);
            fattn_params pr = base;
            pr.version = version;
            pr.pool = cases[i].pool;
            pr.executor = cases[i].exec;
            size_t ws = 0;
            if (pu_expect(where, fattn_workspace_size(&P.query, &P.key, &P.value, &P.output, &pr,
                                                      &ws, &err),
                          &err, FATTN_OK, NULL) &&
                ws != ws1)
                pu_fail(where, "workspace %zu bytes, the one-task size is %zu: the pool or "
                        "executor was read", ws, ws1);
            fattn_ref_problem_reset_output(&P);
            if (pu_expect(where, fattn_forward(&P.query, &P.key, &P.value, &P.output, &pr, &err),
                          &err, FATTN_OK, NULL) &&
                (memcmp(P.out_buf, o1, ob) != 0 || memcmp(P.lse_buf, l1, lb) != 0))
                pu_fail(where, "not the calling-thread bits");
            fattn_plan *plan = NULL;
            if (pu_expect(where, fattn_plan_create(&P.query, &P.key, &P.value, &P.output, &pr,
                                                   &plan, &err),
                          &err, FATTN_OK, NULL)) {
                if (fattn_plan_tasks(plan) != 1)
                    pu_fail(where, "fattn_plan_tasks = %d, want 1", (int)fattn_plan_tasks(plan));
                fattn_ref_problem_reset_output(&P);
                if (pu_expect(where, fattn_plan_run(plan, NULL, &err), &err, FATTN_OK, NULL) &&
                    memcmp(P.out_buf, o1, ob) != 0)
                    pu_fail(where, "plan: not the calling-thread bits");
                fattn_plan_destroy(plan);
            }
        }
    if (atomic_load(&ex.calls) != 0)
        pu_fail("version1", "the executor of a version-1 struct was called %d times",
                atomic_load(&ex.calls));
done:
    free(o1);
    free(l1);
    fattn_pool_destroy(pool);
    printf("version1: %d failures\n", pu_failures - before);
}

static void test_tasks(void)
{
    int before = pu_failures;
    static const int32_t sizes[] = {1, 2, 3, 5, 8, 64};
    fattn_pool *pools[PU_COUNT(sizes)];
    for (size_t i = 0; i < PU_COUNT(sizes); i++)
        if (fattn_pool_create(sizes[i], &pools[i], NULL) != FATTN_OK) {
            pu_fail("tasks", "fattn_pool_create(%d) failed", (int)sizes[i]);
            return;
        }
    /* From one work item (decode on one KV head) to many. */
    static const int64_t shapes[][6] = {
        {1, 1, 1, 1, 50, 16}, {1, 2, 2, 3, 40, 16}, {1, 8, 2, 1, 100, 64},
        {2, 4, 2, 40, 60, 16}, {3, 4, 4, 200, 50, 32},
    };
    int isas[FATTN_ISA_COUNT];
    const int n = pu_paths(isas, FATTN_ISA_COUNT);
    for (int k = 0; k < n; k++)
        for (size_t s = 0; s < PU_COUNT(shapes); s++) {
            fattn_ref_problem p;
            const int64_t *sh = shapes[s];
            make_problem(&p, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]);
            p.params.isa = isas[k];
            fattn_error err;
            size_t ws1 = 0;
            fattn_plan *one = NULL;
            if (fattn_workspace_size(&p.query, &p.key, &p.value, &p.output, &p.params, &ws1,
                                     &err) != FATTN_OK ||
                fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &p.params, &one,
                                  &err) != FATTN_OK) {
                pu_fail("tasks", "%s", err.message);
                fattn_ref_problem_free(&p);
                continue;
            }
            const int64_t items = fattn_plan_work_items(one);
            if (fattn_plan_tasks(one) != 1 || fattn_plan_workspace_size(one) != ws1)
                pu_fail("tasks", "one task: tasks %d, workspace %zu vs %zu",
                        (int)fattn_plan_tasks(one), fattn_plan_workspace_size(one), ws1);
            fattn_plan_destroy(one);
            for (size_t i = 0; i < 2 * PU_COUNT(sizes); i++) {
                const int32_t threads = sizes[i % PU_COUNT(sizes)];
                const int use_exec = i >= PU_COUNT(sizes);
                pu_exec ex;
                pu_exec_init(&ex, 0, threads);
                fattn_params pr = p.params;
                pr.pool = use_exec ? NULL : pools[i % PU_COUNT(sizes)];
                pr.executor = use_exec ? &ex.ex : NULL;
                char where[160];
                snprintf(where, sizeof where,
                         "tasks %s: B=%" PRId64 " Hq=%" PRId64 " Hkv=%" PRId64 " Sq=%" PRId64
                         " with %s of %d", fattn_isa_name(isas[k]), sh[0], sh[1], sh[2], sh[3],
                         use_exec ? "an executor" : "a pool", (int)threads);
                size_t ws = 0;
                fattn_plan *plan = NULL;
                if (!pu_expect(where, fattn_workspace_size(&p.query, &p.key, &p.value, &p.output,
                                                           &pr, &ws, &err),
                               &err, FATTN_OK, NULL) ||
                    !pu_expect(where, fattn_plan_create(&p.query, &p.key, &p.value, &p.output,
                                                        &pr, &plan, &err),
                               &err, FATTN_OK, NULL))
                    continue;
                const int64_t want = items < threads ? items : threads;
                if (fattn_plan_tasks(plan) != want || fattn_plan_work_items(plan) != items)
                    pu_fail(where, "fattn_plan_tasks = %d, work items %" PRId64 ": want "
                            "min(%d, %" PRId64 ") = %" PRId64, (int)fattn_plan_tasks(plan),
                            fattn_plan_work_items(plan), (int)threads, items, want);
                if (ws != (size_t)want * ws1 || fattn_plan_workspace_size(plan) != ws)
                    pu_fail(where, "workspace %zu (plan %zu), want %" PRId64 " tasks x %zu",
                            ws, fattn_plan_workspace_size(plan), want, ws1);
                if (items >= threads && ws != (size_t)threads * ws1)
                    pu_fail(where, "workspace %zu, want %d x %zu", ws, (int)threads, ws1);
                /* A caller workspace must cover every task: one task's share
                 * is too small for more. */
                if (want > 1 && ws1 > 0) {
                    unsigned char *w = pu_xalloc(ws);
                    char msg[FATTN_ERROR_MESSAGE_SIZE];
                    pr.workspace = w;
                    pr.workspace_size = ws1;
                    snprintf(msg, sizeof msg,
                             "fattn_check: params.workspace_size = %zu < %zu bytes needed by the "
                             "%s path: size it with fattn_workspace_size or "
                             "fattn_plan_workspace_size", ws1, ws, fattn_isa_name(isas[k]));
                    pu_expect(where, fattn_check(&p.query, &p.key, &p.value, &p.output, &pr, &err),
                              &err, FATTN_ERR_INVALID_VALUE, msg);
                    pr.workspace_size = ws;
                    pu_expect(where, fattn_check(&p.query, &p.key, &p.value, &p.output, &pr, &err),
                              &err, FATTN_OK, NULL);
                    free(w);
                }
                fattn_plan_destroy(plan);
            }
            fattn_ref_problem_free(&p);
        }
    for (size_t i = 0; i < PU_COUNT(sizes); i++)
        fattn_pool_destroy(pools[i]);
    printf("tasks: %d failures\n", pu_failures - before);
}

/* The executor's side of the contract, with fattn_forward and plans. */
static void test_executor(void)
{
    int before = pu_failures;
    static const int32_t maxes[] = {1, 2, 5};
    int not_once = 0; /* runs that did not call parallel_for exactly once */
    static const int64_t shapes[][6] = {{1, 1, 1, 1, 50, 16}, {2, 4, 2, 40, 60, 16}};
    for (size_t s = 0; s < PU_COUNT(shapes); s++) {
        fattn_ref_problem p;
        const int64_t *sh = shapes[s];
        make_problem(&p, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]);
        for (size_t m = 0; m < PU_COUNT(maxes); m++)
            for (int threaded = 0; threaded <= 1; threaded++)
                for (int use_plan = 0; use_plan <= 1; use_plan++) {
                    char where[160];
                    pu_exec ex;
                    pu_exec_init(&ex, threaded, maxes[m]);
                    fattn_params pr = p.params;
                    pr.executor = &ex.ex;
                    fattn_error err;
                    fattn_plan *plan = NULL;
                    if (fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &pr, &plan,
                                          &err) != FATTN_OK) {
                        pu_fail("executor", "%s", err.message);
                        continue;
                    }
                    const int32_t plan_tasks = fattn_plan_tasks(plan);
                    snprintf(where, sizeof where,
                             "executor_called_once: %s, %s, max_tasks %d, %" PRId64
                             " work items (fattn_plan_tasks %d)",
                             use_plan ? "fattn_plan_run" : "fattn_forward",
                             threaded ? "threaded" : "reverse", (int)maxes[m],
                             fattn_plan_work_items(plan), (int)plan_tasks);
                    pu_exec_reset(&ex);
                    fattn_status st =
                        use_plan ? fattn_plan_run(plan, NULL, &err)
                                 : fattn_forward(&p.query, &p.key, &p.value, &p.output, &pr, &err);
                    fattn_plan_destroy(plan);
                    if (!pu_expect(where, st, &err, FATTN_OK, NULL))
                        continue;
                    /* fattn.h: "A run calls parallel_for(opaque, tasks, fn,
                     * task_arg) once with 1 <= tasks <= max_tasks". */
                    if (atomic_load(&ex.calls) != 1 && not_once++ < 3)
                        pu_fail(where, "parallel_for called %d times per run, want once",
                                atomic_load(&ex.calls));
                    if (atomic_load(&ex.max_seen) > plan_tasks)
                        pu_fail(where, "parallel_for got %d tasks > fattn_plan_tasks",
                                atomic_load(&ex.max_seen));
                    if (atomic_load(&ex.violations))
                        pu_fail(where, "%s", ex.last_violation);
                }
        fattn_ref_problem_free(&p);
    }
    if (not_once > 3) {
        printf("FAIL executor_called_once: %d more runs (%d in all) did not call "
               "parallel_for exactly once\n", not_once - 3, not_once);
        pu_failures += not_once - 3;
    }
    printf("executor: %d failures\n", pu_failures - before);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    make_problem(&P, 2, 4, 2, 40, 60, 16);
    if (!only || strcmp(only, "pool_create") == 0)
        test_pool_create();
    if (!only || strcmp(only, "params") == 0)
        test_params();
    if (!only || strcmp(only, "version1") == 0)
        test_version1();
    if (!only || strcmp(only, "tasks") == 0)
        test_tasks();
    if (!only || strcmp(only, "executor") == 0)
        test_executor();
    fattn_ref_problem_free(&P);
    return pu_finish("test_pool");
}
