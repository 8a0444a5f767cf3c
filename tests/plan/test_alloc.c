/*
 * test_alloc.c - who allocates what (fattn.h, "Plans" and fattn_allocator),
 * with a counting allocator in params.allocator:
 *
 *   counts     fattn_plan_create allocates the plan and its own workspace;
 *              runs allocate nothing; a run that finds the plan's own
 *              workspace busy allocates one temporary and frees it;
 *              fattn_plan_destroy frees everything (allocs == frees, no
 *              live bytes, no foreign pointer freed); fattn_forward
 *              allocates one workspace per call and frees it, none with
 *              params.workspace.
 *   failing    An allocator that fails the n-th call: out_of_memory with
 *              its message, *plan NULL, nothing leaked; for a run that
 *              needed a temporary, its output untouched.
 *   misaligned An allocator returning 16-byte-aligned blocks: misaligned,
 *              nothing leaked, output untouched.
 *
 * The "busy" case needs a second run of a plan while a first one holds the
 * plan's workspace, without threads: the executor of the plan starts the
 * second run from its parallel_for, before running the first run's tasks
 * (pu_exec.nest). So this test starts no thread (suite 'plan').
 */
#include "plan_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fattn_ref_problem P;
static pu_alloc AL;
static pu_exec EX;
static float *expect_out, *expect_lse; /* fattn_forward's bits on P */

/* The second run, started while the first holds the own workspace. */
typedef struct nested {
    const fattn_plan *plan;
    float *out, *lse;
    fattn_status st;
    fattn_error err;
    int64_t allocs_during, frees_during; /* counts during the nested run */
} nested;

static void nested_run(void *arg)
{
    nested *n = arg;
    fattn_bindings bd;
    memset(&bd, 0, sizeof bd);
    bd.output = n->out;
    bd.lse = n->lse;
    const int64_t a0 = atomic_load(&AL.allocs), f0 = atomic_load(&AL.frees);
    n->st = fattn_plan_run(n->plan, &bd, &n->err);
    n->allocs_during = atomic_load(&AL.allocs) - a0;
    n->frees_during = atomic_load(&AL.frees) - f0;
}

static void fill_sentinel(float *x, size_t n)
{
    const uint32_t bits = FATTN_REF_SENTINEL_BITS;
    for (size_t i = 0; i < n; i++)
        memcpy(&x[i], &bits, 4);
}

static void balanced(const char *where)
{
    if (atomic_load(&AL.allocs) - atomic_load(&AL.failed) != atomic_load(&AL.frees) ||
        atomic_load(&AL.live_bytes) != 0 || atomic_load(&AL.bad_frees) != 0)
        pu_fail(where, "%" PRId64 " allocations (%" PRId64 " failed), %" PRId64 " frees, %" PRId64
                " bytes live, %" PRId64 " foreign frees",
                atomic_load(&AL.allocs), atomic_load(&AL.failed), atomic_load(&AL.frees),
                atomic_load(&AL.live_bytes), atomic_load(&AL.bad_frees));
}

static void setup(void)
{
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, 2, 4, 40, 90, 32);
    c.heads_kv = 2;
    c.lse = 1;
    c.seed = 7;
    pu_problem(&P, &c);
    fattn_error err;
    expect_out = pu_xalloc(P.out_elems * 4);
    expect_lse = pu_xalloc(P.lse_elems * 4);
    if (fattn_forward(&P.query, &P.key, &P.value, &P.output, &P.params, &err) != FATTN_OK) {
        printf("FAIL setup: %s\n", err.message);
        exit(1);
    }
    memcpy(expect_out, P.out_buf, P.out_elems * 4);
    memcpy(expect_lse, P.lse_buf, P.lse_elems * 4);
    pu_exec_init(&EX, 0, 2); /* reverse order, 2 tasks */
}

static int same(const float *out, const float *lse)
{
    return memcmp(out, expect_out, P.out_elems * 4) == 0 &&
           memcmp(lse, expect_lse, P.lse_elems * 4) == 0;
}

static void test_counts(void)
{
    int before = pu_failures;
    fattn_error err;
    fattn_params pr = P.params;
    pu_alloc_init(&AL);
    pr.allocator = AL.a;
    pr.executor = &EX.ex;

    fattn_plan *plan = NULL;
    if (!pu_expect("counts: create", fattn_plan_create(&P.query, &P.key, &P.value, &P.output,
                                                       &pr, &plan, &err),
                   &err, FATTN_OK, NULL))
        return;
    const size_t ws = fattn_plan_workspace_size(plan);
    const int64_t want = 1 + (ws > 0);
    if (fattn_plan_tasks(plan) != 2)
        pu_fail("counts: create", "fattn_plan_tasks = %d, want 2 (max_tasks 2, %" PRId64
                " items)", (int)fattn_plan_tasks(plan), fattn_plan_work_items(plan));
    if (atomic_load(&AL.allocs) != want || atomic_load(&AL.frees) != 0 ||
        atomic_load(&AL.live_bytes) < (int64_t)ws)
        pu_fail("counts: create", "%" PRId64 " allocations (want %" PRId64 ": the plan and its "
                "workspace of %zu bytes), %" PRId64 " frees, %" PRId64 " bytes live",
                atomic_load(&AL.allocs), want, ws, atomic_load(&AL.frees),
                atomic_load(&AL.live_bytes));

    /* Runs: nothing allocated. */
    for (int r = 0; r < 3; r++) {
        fattn_ref_problem_reset_output(&P);
        fattn_status st = fattn_plan_run(plan, NULL, &err);
        if (!pu_expect("counts: run", st, &err, FATTN_OK, NULL))
            break;
        if (!same(P.out_buf, P.lse_buf))
            pu_fail("counts: run", "not fattn_forward's bits");
    }
    if (atomic_load(&AL.allocs) != want || atomic_load(&AL.frees) != 0)
        pu_fail("counts: runs", "runs allocated %" PRId64 " and freed %" PRId64 " blocks, want 0",
                atomic_load(&AL.allocs) - want, atomic_load(&AL.frees));

    /* A run while another holds the own workspace: one temporary. */
    nested n = {plan, pu_xalloc(P.out_elems * 4), pu_xalloc(P.lse_elems * 4), FATTN_OK, {0},
                0, 0};
    EX.nest = nested_run;
    EX.nest_arg = &n;
    fattn_ref_problem_reset_output(&P);
    fattn_status st = fattn_plan_run(plan, NULL, &err);
    EX.nest = NULL;
    pu_expect("counts: busy: outer run", st, &err, FATTN_OK, NULL);
    pu_expect("counts: busy: nested run", n.st, &n.err, FATTN_OK, NULL);
    if (atomic_load(&EX.calls) == 0)
        pu_fail("counts: busy", "the executor was never called: no nested run happened");
    else if (ws > 0 && (n.allocs_during != 1 || n.frees_during != 1))
        pu_fail("counts: busy", "the nested run allocated %" PRId64 " and freed %" PRId64
                " blocks, want 1 and 1 (a temporary workspace)", n.allocs_during,
                n.frees_during);
    if (!same(P.out_buf, P.lse_buf) || !same(n.out, n.lse))
        pu_fail("counts: busy", "outer %s, nested %s", same(P.out_buf, P.lse_buf) ? "ok" : "wrong",
                same(n.out, n.lse) ? "ok" : "wrong");
    if (atomic_load(&EX.violations))
        pu_fail("counts: busy", "executor contract: %s", EX.last_violation);

    /* The temporary's allocator failing, then misaligning. */
    pu_exec_reset(&EX);
    EX.nest = nested_run;
    atomic_store(&AL.fail_at, atomic_load(&AL.allocs) + 1);
    fill_sentinel(n.out, P.out_elems);
    fill_sentinel(n.lse, P.lse_elems);
    char msg[FATTN_ERROR_MESSAGE_SIZE];
    snprintf(msg, sizeof msg,
             "fattn_plan_run: workspace allocation of %zu bytes failed (the plan's own workspace "
             "is in use by another run)", ws);
    st = fattn_plan_run(plan, NULL, &err);
    pu_expect("failing: busy temporary", n.st, &n.err, FATTN_ERR_OUT_OF_MEMORY, msg);
    pu_expect("failing: busy temporary, outer run", st, &err, FATTN_OK, NULL);
    if (pu_not_sentinel(n.out, P.out_elems) || pu_not_sentinel(n.lse, P.lse_elems))
        pu_fail("failing: busy temporary", "the failed run wrote its output");
    atomic_store(&AL.fail_at, 0);
    atomic_store(&AL.misalign_at, atomic_load(&AL.allocs) + 1);
    st = fattn_plan_run(plan, NULL, &err);
    atomic_store(&AL.misalign_at, 0);
    EX.nest = NULL;
    pu_expect("misaligned: busy temporary", n.st, &n.err, FATTN_ERR_MISALIGNED, NULL);
    if (n.st == FATTN_ERR_MISALIGNED &&
        (strncmp(n.err.message, "fattn_plan_run: params.allocator.alloc returned ", 48) != 0 ||
         !strstr(n.err.message, ", not 64-byte aligned")))
        pu_fail("misaligned: busy temporary", "message: %s", n.err.message);
    if (pu_not_sentinel(n.out, P.out_elems) || pu_not_sentinel(n.lse, P.lse_elems))
        pu_fail("misaligned: busy temporary", "the failed run wrote its output");

    fattn_plan_destroy(plan);
    balanced("counts: after destroy");
    free(n.out);
    free(n.lse);

    /* fattn_forward: one workspace per call, freed; none with a workspace. */
    pu_alloc_init(&AL);
    pr = P.params;
    pr.allocator = AL.a;
    fattn_ref_problem_reset_output(&P);
    pu_expect("counts: forward", fattn_forward(&P.query, &P.key, &P.value, &P.output, &pr, &err),
              &err, FATTN_OK, NULL);
    if (atomic_load(&AL.allocs) != (ws > 0) || !same(P.out_buf, P.lse_buf))
        pu_fail("counts: forward", "%" PRId64 " allocations, want %d", atomic_load(&AL.allocs),
                ws > 0);
    balanced("counts: forward");
    size_t need = 0;
    fattn_workspace_size(&P.query, &P.key, &P.value, &P.output, &pr, &need, NULL);
    void *w = pu_xalloc(need);
    pr.workspace = w;
    pr.workspace_size = need;
    pu_expect("counts: forward with params.workspace",
              fattn_forward(&P.query, &P.key, &P.value, &P.output, &pr, &err), &err, FATTN_OK,
              NULL);
    if (atomic_load(&AL.allocs) != (ws > 0))
        pu_fail("counts: forward with params.workspace", "it allocated");
    free(w);
    printf("counts: %d failures\n", pu_failures - before);
}

static void test_failing(void)
{
    int before = pu_failures;
    fattn_error err;
    char msg[FATTN_ERROR_MESSAGE_SIZE];
    fattn_params pr = P.params;
    fattn_plan *plan;

    /* The plan struct. */
    pu_alloc_init(&AL);
    atomic_store(&AL.fail_at, 1);
    pr.allocator = AL.a;
    plan = (fattn_plan *)&pr;
    fattn_status st = fattn_plan_create(&P.query, &P.key, &P.value, &P.output, &pr, &plan, &err);
    if (pu_expect("failing: the plan", st, &err, FATTN_ERR_OUT_OF_MEMORY, NULL) &&
        (strncmp(err.message, "fattn_plan_create: allocation of ", 33) != 0 ||
         !strstr(err.message, " bytes for the plan failed")))
        pu_fail("failing: the plan", "message: %s", err.message);
    if (plan)
        pu_fail("failing: the plan", "*plan not NULL");
    balanced("failing: the plan");

    /* Its workspace. */
    pu_alloc_init(&AL);
    pr.allocator = AL.a;
    size_t ws = 0;
    fattn_workspace_size(&P.query, &P.key, &P.value, &P.output, &pr, &ws, NULL);
    atomic_store(&AL.fail_at, 2);
    plan = (fattn_plan *)&pr;
    st = fattn_plan_create(&P.query, &P.key, &P.value, &P.output, &pr, &plan, &err);
    snprintf(msg, sizeof msg, "fattn_plan_create: workspace allocation of %zu bytes failed "
             "(path %s, 1 tasks)", ws, fattn_isa_name(fattn_isa_auto(NULL)));
    pu_expect("failing: the workspace", st, &err, FATTN_ERR_OUT_OF_MEMORY, msg);
    if (plan)
        pu_fail("failing: the workspace", "*plan not NULL");
    balanced("failing: the workspace");

    /* fattn_forward's workspace. */
    pu_alloc_init(&AL);
    atomic_store(&AL.fail_at, 1);
    pr.allocator = AL.a;
    fattn_ref_problem_reset_output(&P);
    st = fattn_forward(&P.query, &P.key, &P.value, &P.output, &pr, &err);
    snprintf(msg, sizeof msg, "fattn_forward: workspace allocation of %zu bytes failed "
             "(path %s, 1 tasks)", ws, fattn_isa_name(fattn_isa_auto(NULL)));
    pu_expect("failing: fattn_forward", st, &err, FATTN_ERR_OUT_OF_MEMORY, msg);
    if (pu_not_sentinel(P.out_buf, P.out_elems) || pu_not_sentinel(P.lse_buf, P.lse_elems))
        pu_fail("failing: fattn_forward", "output or LSE written");
    balanced("failing: fattn_forward");
    printf("failing: %d failures\n", pu_failures - before);
}

static void test_misaligned(void)
{
    int before = pu_failures;
    fattn_error err;
    fattn_params pr = P.params;
    static const char *const what[] = {"the plan", "the workspace"};
    for (int at = 1; at <= 2; at++) {
        char where[64];
        snprintf(where, sizeof where, "misaligned: %s", what[at - 1]);
        pu_alloc_init(&AL);
        atomic_store(&AL.misalign_at, at);
        pr.allocator = AL.a;
        fattn_plan *plan = (fattn_plan *)&pr;
        fattn_status st = fattn_plan_create(&P.query, &P.key, &P.value, &P.output, &pr, &plan,
                                            &err);
        if (pu_expect(where, st, &err, FATTN_ERR_MISALIGNED, NULL) &&
            (strncmp(err.message, "fattn_plan_create: params.allocator.alloc returned ", 51) != 0 ||
             !strstr(err.message, ", not 64-byte aligned")))
            pu_fail(where, "message: %s", err.message);
        if (plan)
            pu_fail(where, "*plan not NULL");
        if (atomic_load(&AL.allocs) != at)
            pu_fail(where, "%" PRId64 " allocations, want %d", atomic_load(&AL.allocs), at);
        balanced(where);
    }
    pu_alloc_init(&AL);
    atomic_store(&AL.misalign_at, 1);
    pr.allocator = AL.a;
    fattn_ref_problem_reset_output(&P);
    fattn_status st = fattn_forward(&P.query, &P.key, &P.value, &P.output, &pr, &err);
    if (pu_expect("misaligned: fattn_forward", st, &err, FATTN_ERR_MISALIGNED, NULL) &&
        strncmp(err.message, "fattn_forward: params.allocator.alloc returned ", 47) != 0)
        pu_fail("misaligned: fattn_forward", "message: %s", err.message);
    if (pu_not_sentinel(P.out_buf, P.out_elems) || pu_not_sentinel(P.lse_buf, P.lse_elems))
        pu_fail("misaligned: fattn_forward", "output or LSE written");
    balanced("misaligned: fattn_forward");
    printf("misaligned: %d failures\n", pu_failures - before);
}

int main(void)
{
    setup();
    test_counts();
    test_failing();
    test_misaligned();
    fattn_ref_problem_free(&P);
    free(expect_out);
    free(expect_lse);
    return pu_finish("test_alloc");
}
