/*
 * test_plan.c - plans: validate once, run many times (fattn.h, "Plans").
 *
 *   reuse      On every path: a plan created on buffers A runs to
 *              fattn_forward's bits on A; with bindings to other buffers B
 *              (all of them, or some) it gives fattn_forward's bits on
 *              that memory; bindings do not stick (a run without them is
 *              A's result again); two runs give the same bits; a caller
 *              workspace given at creation or per run is used and enough.
 *   rebind     Each rebinding error: its status, its exact message, and
 *              output and LSE untouched (sentinel-filled before, checked
 *              after); the plan still runs correctly afterwards.
 *   create     fattn_plan_create's own errors: plan NULL, and every bad
 *              descriptor returns fattn_check's status and message (with
 *              the function name changed), leaves *plan NULL and allocates
 *              nothing; the getters on NULL.
 *   split      Split-K's schedule by the getters: chunks from the problem
 *              alone, none below 1024 keys or past the partials' cap.
 *
 * No thread is started here (suite 'plan').
 *   test_plan [SECTION]
 */
#include "plan_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Problems A and B: the same config (shapes, strides, options), other
 * seeds, so every buffer differs. */
static fattn_ref_problem_config fixture_config(void)
{
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, 2, 4, 37, 70, 24);
    c.heads_kv = 2;
    c.lse = 1;
    c.mask = FATTN_REF_MASK_BOOL;
    c.mask_drop = 0.2;
    c.alibi = 1;
    c.q_lengths = c.kv_lengths = 1;
    c.params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    c.params.align = FATTN_ALIGN_BOTTOM_RIGHT;
    return c;
}

static void make_pair(fattn_ref_problem *a, fattn_ref_problem *b, int isa)
{
    fattn_ref_problem_config c = fixture_config();
    c.seed = 101;
    pu_problem(a, &c);
    c.seed = 202;
    pu_problem(b, &c);
    a->params.isa = b->params.isa = isa;
    /* Full lengths in one batch, so that both have rows to compute. */
    a->q_lengths[0] = b->q_lengths[0] = c.seq_q;
    a->kv_lengths[0] = c.seq_k;
    b->kv_lengths[0] = c.seq_k - 3;
}

/*
 * What a plan created on A must compute with bindings bd: fattn_forward on
 * A's descriptors with the bound pointers swapped in, into out/lse (A's
 * sizes).
 */
static fattn_status expected_for(const fattn_ref_problem *a, const fattn_bindings *bd,
                                 float *out, float *lse, fattn_error *err)
{
    fattn_tensor q = a->query, k = a->key, v = a->value, o = a->output;
    fattn_tensor m = a->mask, l = a->lse;
    fattn_params p = a->params;
    if (bd->query)
        q.data = (void *)bd->query;
    if (bd->key)
        k.data = (void *)bd->key;
    if (bd->value)
        v.data = (void *)bd->value;
    if (bd->mask)
        m.data = (void *)bd->mask;
    if (bd->alibi_slopes)
        p.alibi_slopes = bd->alibi_slopes;
    if (bd->q_lengths)
        p.q_lengths = bd->q_lengths;
    if (bd->kv_lengths)
        p.kv_lengths = bd->kv_lengths;
    o.data = out;
    l.data = lse;
    /* Its own workspace and allocator: the plan's must see only the plan. */
    p.workspace = NULL;
    p.workspace_size = 0;
    memset(&p.allocator, 0, sizeof p.allocator);
    p.mask = a->params.mask ? &m : NULL;
    p.lse = a->params.lse ? &l : NULL;
    return fattn_forward(&q, &k, &v, &o, &p, err);
}

/* Run plan with bd and compare what it wrote with expected_for(). */
static void check_run(const char *where, const fattn_plan *plan, fattn_ref_problem *a,
                      const fattn_bindings *bd)
{
    const size_t ob = a->out_elems * sizeof(float), lb = a->lse_elems * sizeof(float);
    float *eo = pu_xalloc(ob), *el = pu_xalloc(lb);
    float *go = bd && bd->output ? bd->output : a->out_buf;
    float *gl = bd && bd->lse ? bd->lse : a->lse_buf;
    fattn_bindings none;
    memset(&none, 0, sizeof none);
    fattn_error err;
    fattn_status st = expected_for(a, bd ? bd : &none, eo, el, &err);
    if (st != FATTN_OK) {
        pu_fail(where, "fattn_forward for the expected result: %s", err.message);
    } else {
        memset(go, 0xff, ob);
        memset(gl, 0xff, lb);
        st = fattn_plan_run(plan, bd, &err);
        if (pu_expect(where, st, &err, FATTN_OK, NULL)) {
            int64_t od = pu_first_diff(go, eo, ob), ld = pu_first_diff(gl, el, lb);
            if (od >= 0 || ld >= 0)
                pu_fail(where, "not fattn_forward's bits on the bound memory (first "
                        "output difference at element %" PRId64 ", LSE %" PRId64 ")\n  %s",
                        od / 4, ld / 4, pu_describe(a));
        }
    }
    free(eo);
    free(el);
}

static void test_reuse(void)
{
    int isas[FATTN_ISA_COUNT];
    const int n = pu_paths(isas, FATTN_ISA_COUNT);
    int before = pu_failures;
    for (int k = 0; k < n; k++) {
        char where[128];
        fattn_ref_problem a, b;
        fattn_error err;
        make_pair(&a, &b, isas[k]);
        const char *isa = fattn_isa_name(isas[k]);
        fattn_plan *plan = NULL;
        fattn_status st = fattn_plan_create(&a.query, &a.key, &a.value, &a.output,
                                            &a.params, &plan, &err);
        snprintf(where, sizeof where, "reuse %s: fattn_plan_create", isa);
        if (!pu_expect(where, st, &err, FATTN_OK, NULL)) {
            fattn_ref_problem_free(&a);
            fattn_ref_problem_free(&b);
            continue;
        }
        size_t ws_need = 0;
        fattn_workspace_size(&a.query, &a.key, &a.value, &a.output, &a.params, &ws_need, NULL);
        if (fattn_plan_isa(plan) != (fattn_isa)isas[k] ||
            fattn_plan_workspace_size(plan) != ws_need || fattn_plan_tasks(plan) != 1 ||
            fattn_plan_work_items(plan) < 1)
            pu_fail(where, "getters: isa %s (want %s), workspace %zu (fattn_workspace_size "
                    "%zu), tasks %d (want 1), items %" PRId64,
                    fattn_isa_name(fattn_plan_isa(plan)), isa, fattn_plan_workspace_size(plan),
                    ws_need, (int)fattn_plan_tasks(plan), fattn_plan_work_items(plan));

        fattn_bindings bd;
        snprintf(where, sizeof where, "reuse %s: run on A, no bindings", isa);
        check_run(where, plan, &a, NULL);
        snprintf(where, sizeof where, "reuse %s: run on A again (same bits)", isa);
        check_run(where, plan, &a, NULL);

        memset(&bd, 0, sizeof bd);
        bd.version = FATTN_BINDINGS_VERSION;
        bd.query = b.q_buf;
        bd.key = b.k_buf;
        bd.value = b.v_buf;
        bd.output = b.out_buf;
        bd.lse = b.lse_buf;
        bd.mask = b.mask_buf;
        bd.alibi_slopes = b.alibi_slopes;
        bd.q_lengths = b.q_lengths;
        bd.kv_lengths = b.kv_lengths;
        snprintf(where, sizeof where, "reuse %s: every pointer bound to B", isa);
        check_run(where, plan, &a, &bd);
        /* ... which is fattn_forward on B itself. */
        {
            float *got = pu_xalloc(b.out_elems * 4);
            memcpy(got, b.out_buf, b.out_elems * 4);
            fattn_ref_problem_reset_output(&b);
            st = fattn_forward(&b.query, &b.key, &b.value, &b.output, &b.params, &err);
            if (st != FATTN_OK || memcmp(got, b.out_buf, b.out_elems * 4) != 0)
                pu_fail(where, "not fattn_forward's bits on B (%s)", err.message);
            free(got);
        }

        /* Some of them: the others keep the plan's. */
        float *x = pu_xalloc(a.out_elems * 4), *xl = pu_xalloc(a.lse_elems * 4);
        memset(&bd, 0, sizeof bd);
        bd.query = b.q_buf;
        bd.output = x;
        snprintf(where, sizeof where, "reuse %s: query and output bound", isa);
        check_run(where, plan, &a, &bd);
        memset(&bd, 0, sizeof bd);
        bd.key = b.k_buf;
        bd.value = b.v_buf;
        bd.kv_lengths = b.kv_lengths;
        bd.lse = xl;
        snprintf(where, sizeof where, "reuse %s: key, value, kv_lengths and lse bound", isa);
        check_run(where, plan, &a, &bd);
        memset(&bd, 0, sizeof bd);
        bd.mask = b.mask_buf;
        bd.alibi_slopes = b.alibi_slopes;
        bd.q_lengths = b.q_lengths;
        snprintf(where, sizeof where, "reuse %s: mask, slopes and q_lengths bound", isa);
        check_run(where, plan, &a, &bd);
        snprintf(where, sizeof where, "reuse %s: no bindings after bindings (A again)", isa);
        check_run(where, plan, &a, NULL);

        /* A caller workspace per run, of exactly fattn_plan_workspace_size()
         * bytes: used (its bytes change) and enough. */
        const size_t need = fattn_plan_workspace_size(plan);
        unsigned char *ws = pu_xalloc(need + 64);
        memset(ws, 0xa5, need + 64);
        memset(&bd, 0, sizeof bd);
        bd.workspace = ws;
        bd.workspace_size = need;
        snprintf(where, sizeof where, "reuse %s: bindings.workspace of %zu bytes", isa, need);
        check_run(where, plan, &a, &bd);
        size_t changed = 0;
        for (size_t i = 0; i < need; i++)
            changed += ws[i] != 0xa5;
        if (need > 0 && changed == 0)
            pu_fail(where, "the run did not use bindings.workspace");
        for (size_t i = need; i < need + 64; i++)
            if (ws[i] != 0xa5) {
                pu_fail(where, "the run wrote past bindings.workspace_size (byte %zu)", i);
                break;
            }
        fattn_plan_destroy(plan);

        /* A plan created with params.workspace runs on it by default. */
        memset(ws, 0xa5, need + 64);
        fattn_params pw = a.params;
        pw.workspace = ws;
        pw.workspace_size = need;
        pu_alloc al;
        pu_alloc_init(&al);
        pw.allocator = al.a;
        fattn_ref_problem aw = a; /* same buffers, params with the workspace */
        aw.params = pw;
        st = fattn_plan_create(&a.query, &a.key, &a.value, &a.output, &pw, &plan, &err);
        snprintf(where, sizeof where, "reuse %s: plan on params.workspace", isa);
        if (pu_expect(where, st, &err, FATTN_OK, NULL)) {
            if (atomic_load(&al.allocs) != 1)
                pu_fail(where, "fattn_plan_create allocated %" PRId64 " blocks, want 1 (the "
                        "plan; the workspace is the caller's)", atomic_load(&al.allocs));
            check_run(where, plan, &aw, NULL);
            changed = 0;
            for (size_t i = 0; i < need; i++)
                changed += ws[i] != 0xa5;
            if (need > 0 && changed == 0)
                pu_fail(where, "the run did not use params.workspace");
            fattn_plan_destroy(plan);
            if (atomic_load(&al.frees) != 1 || atomic_load(&al.bad_frees) != 0)
                pu_fail(where, "destroy freed %" PRId64 " blocks (want 1, the plan) and %" PRId64
                        " pointers the allocator never gave", atomic_load(&al.frees),
                        atomic_load(&al.bad_frees));
        }
        free(ws);
        free(x);
        free(xl);
        fattn_ref_problem_free(&a);
        fattn_ref_problem_free(&b);
    }
    printf("reuse: %d paths: %d failures\n", n, pu_failures - before);
}

/* ---- rebind ------------------------------------------------------------------ */

static fattn_ref_problem A, Bp; /* the rebind fixture */
static float *X;                /* a spare output-sized buffer, 64-byte aligned */
static size_t x_bytes;

/* Fill every output-like buffer with the sentinel. */
static void sentinel_all(void)
{
    fattn_ref_problem_reset_output(&A);
    fattn_ref_problem_reset_output(&Bp);
    const uint32_t bits = FATTN_REF_SENTINEL_BITS;
    for (size_t i = 0; i < x_bytes / 4; i++)
        memcpy(&X[i], &bits, 4);
}

static void untouched(const char *where)
{
    int64_t w = pu_not_sentinel(A.out_buf, A.out_elems) + pu_not_sentinel(A.lse_buf, A.lse_elems) +
                pu_not_sentinel(Bp.out_buf, Bp.out_elems) +
                pu_not_sentinel(Bp.lse_buf, Bp.lse_elems) + pu_not_sentinel(X, x_bytes / 4);
    if (w)
        pu_fail(where, "a failing run wrote %" PRId64 " output or LSE elements", w);
}

/* Run with bd; it must fail with `want` and `msg`, writing nothing. */
static void expect_run(const char *where, const fattn_plan *plan, const fattn_bindings *bd,
                       fattn_status want, const char *msg)
{
    fattn_error err;
    sentinel_all();
    memset(&err, 0x55, sizeof err);
    pu_expect(where, fattn_plan_run(plan, bd, &err), &err, want, msg);
    untouched(where);
}

static void test_rebind(void)
{
    int before = pu_failures;
    char msg[FATTN_ERROR_MESSAGE_SIZE];
    fattn_error err;
    make_pair(&A, &Bp, FATTN_ISA_AUTO);
    x_bytes = (A.out_elems + A.lse_elems + 64) * sizeof(float);
    X = pu_xalloc(x_bytes);
    fattn_plan *plan = NULL;
    if (!pu_expect("rebind: fattn_plan_create",
                   fattn_plan_create(&A.query, &A.key, &A.value, &A.output, &A.params,
                                     &plan, &err),
                   &err, FATTN_OK, NULL))
        return;
    const char *isa = fattn_isa_name(fattn_plan_isa(plan));
    const size_t need = fattn_plan_workspace_size(plan);
    const size_t out_b = A.out_elems * 4, lse_b = A.lse_elems * 4, q_b = A.q_elems * 4;
    fattn_bindings bd;

#define RESET() (memset(&bd, 0, sizeof bd), bd.version = FATTN_BINDINGS_VERSION)

    /* Alignment of each new pointer to its element size. */
    static const struct {
        const char *name;
        size_t off; /* fattn_bindings member */
        int elem;
    } ptrs[] = {
        {"query", offsetof(fattn_bindings, query), 4},
        {"key", offsetof(fattn_bindings, key), 4},
        {"value", offsetof(fattn_bindings, value), 4},
        {"output", offsetof(fattn_bindings, output), 4},
        {"lse", offsetof(fattn_bindings, lse), 4},
        {"alibi_slopes", offsetof(fattn_bindings, alibi_slopes), 4},
        {"q_lengths", offsetof(fattn_bindings, q_lengths), 8},
        {"kv_lengths", offsetof(fattn_bindings, kv_lengths), 8},
    };
    for (size_t i = 0; i < PU_COUNT(ptrs); i++) {
        RESET();
        void *p = (char *)X + 64 + (ptrs[i].elem == 8 ? 4 : 1);
        memcpy((char *)&bd + ptrs[i].off, &p, sizeof p);
        snprintf(msg, sizeof msg,
                 "fattn_plan_run: bindings.%s = %p is not aligned to its element size (%d bytes)",
                 ptrs[i].name, p, ptrs[i].elem);
        char where[64];
        snprintf(where, sizeof where, "rebind: misaligned %s", ptrs[i].name);
        expect_run(where, plan, &bd, FATTN_ERR_MISALIGNED, msg);
    }

    /* A new pointer whose extent passes the end of the address space. */
    RESET();
    bd.query = (const void *)(UINTPTR_MAX & ~(uintptr_t)63);
    snprintf(msg, sizeof msg,
             "fattn_plan_run: bindings.query: %zu bytes from %p exceed the address space",
             q_b, bd.query);
    expect_run("rebind: query at the top of the address space", plan, &bd,
               FATTN_ERR_SIZE_OVERFLOW, msg);

    /* Overlaps. */
    RESET();
    bd.output = A.q_buf;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: output bytes [%p, %p) overlap query bytes [%p, %p): outputs must "
             "not share memory with inputs",
             (void *)A.q_buf, (void *)((char *)A.q_buf + out_b), (void *)A.q_buf,
             (void *)((char *)A.q_buf + q_b));
    expect_run("rebind: output onto the query buffer", plan, &bd, FATTN_ERR_OVERLAP, msg);
    RESET();
    bd.lse = A.k_buf;
    expect_run("rebind: lse onto the key buffer", plan, &bd, FATTN_ERR_OVERLAP, NULL);
    RESET();
    bd.query = A.out_buf;
    expect_run("rebind: query onto the plan's output", plan, &bd, FATTN_ERR_OVERLAP, NULL);
    RESET();
    bd.output = X;
    bd.lse = X + 4;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: output bytes [%p, %p) overlap lse bytes [%p, %p): output and lse "
             "must not share memory",
             (void *)X, (void *)((char *)X + out_b), (void *)(X + 4),
             (void *)((char *)(X + 4) + lse_b));
    expect_run("rebind: output and lse overlapping", plan, &bd, FATTN_ERR_OVERLAP, msg);
    RESET();
    bd.lse = A.out_buf + 1;
    expect_run("rebind: lse onto the plan's output", plan, &bd, FATTN_ERR_OVERLAP, NULL);
    RESET();
    bd.output = (float *)A.kv_lengths;
    expect_run("rebind: output onto kv_lengths", plan, &bd, FATTN_ERR_OVERLAP, NULL);

    /* Version. */
    RESET();
    bd.version = FATTN_BINDINGS_VERSION + 1;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: bindings.version = %d > %d: this library knows bindings up to "
             "version %d",
             FATTN_BINDINGS_VERSION + 1, FATTN_BINDINGS_VERSION, FATTN_BINDINGS_VERSION);
    expect_run("rebind: bindings.version + 1", plan, &bd, FATTN_ERR_UNSUPPORTED_VERSION, msg);
    RESET();
    bd.version = 0; /* 0 means this layout too */
    sentinel_all();
    pu_expect("rebind: bindings.version = 0", fattn_plan_run(plan, &bd, &err), &err,
              FATTN_OK, NULL);

    /* Values that can change between runs: the plan's arrays edited in
     * place, and new arrays. */
    const int64_t Sq = A.query.shape[2], Sk = A.key.shape[2];
    const int64_t saved_kv = A.kv_lengths[1], saved_q = A.q_lengths[1];
    A.kv_lengths[1] = Sk + 1;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: params.kv_lengths[1] = %" PRId64 " > key.shape[2] (seq_k) = %" PRId64
             ": each length must be in [0, seq_k]", Sk + 1, Sk);
    expect_run("rebind: kv_lengths edited to Sk + 1", plan, NULL, FATTN_ERR_INVALID_VALUE, msg);
    A.kv_lengths[1] = -1;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: params.kv_lengths[1] = -1 < 0: each length must be in [0, seq_k]");
    expect_run("rebind: kv_lengths edited to -1", plan, NULL, FATTN_ERR_INVALID_VALUE, msg);
    A.kv_lengths[1] = saved_kv;
    A.q_lengths[1] = Sq + 5;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: params.q_lengths[1] = %" PRId64 " > query.shape[2] (seq_q) = %" PRId64
             ": each length must be in [0, seq_q]", Sq + 5, Sq);
    expect_run("rebind: q_lengths edited to Sq + 5", plan, NULL, FATTN_ERR_INVALID_VALUE, msg);
    A.q_lengths[1] = saved_q;
    int64_t bad_len[2] = {Sk, INT64_MIN};
    RESET();
    bd.kv_lengths = bad_len;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: params.kv_lengths[1] = %" PRId64 " < 0: each length must be in "
             "[0, seq_k]", INT64_MIN);
    expect_run("rebind: new kv_lengths with INT64_MIN", plan, &bd, FATTN_ERR_INVALID_VALUE, msg);
    float slopes[4];
    memcpy(slopes, A.alibi_slopes, sizeof slopes);
    slopes[1] = NAN;
    RESET();
    bd.alibi_slopes = slopes;
    expect_run("rebind: NaN slope", plan, &bd, FATTN_ERR_INVALID_VALUE,
               "fattn_plan_run: params.alibi_slopes[1] = nan: slopes must be finite");
    slopes[1] = 0.5f;
    slopes[3] = -INFINITY;
    expect_run("rebind: -inf slope", plan, &bd, FATTN_ERR_INVALID_VALUE,
               "fattn_plan_run: params.alibi_slopes[3] = -inf: slopes must be finite");
    A.alibi_slopes[0] = INFINITY;
    expect_run("rebind: the plan's slopes edited to inf", plan, NULL, FATTN_ERR_INVALID_VALUE,
               "fattn_plan_run: params.alibi_slopes[0] = inf: slopes must be finite");
    A.alibi_slopes[0] = 0.25f;

    /* Workspace. */
    /* Big enough for an output too (a run that should fail must not
     * overflow it if it wrongly wrote). */
    unsigned char *ws = pu_xalloc((need > out_b ? need : out_b) + 128);
    RESET();
    bd.workspace = ws;
    bd.workspace_size = need - 1;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: bindings.workspace_size = %zu < %zu bytes needed by the %s path: "
             "size it with fattn_workspace_size or fattn_plan_workspace_size",
             need - 1, need, isa);
    expect_run("rebind: workspace one byte short", plan, &bd, FATTN_ERR_INVALID_VALUE, msg);
    bd.workspace = ws + 32;
    bd.workspace_size = need;
    snprintf(msg, sizeof msg, "fattn_plan_run: bindings.workspace = %p is not 64-byte aligned",
             (void *)(ws + 32));
    expect_run("rebind: workspace misaligned", plan, &bd, FATTN_ERR_MISALIGNED, msg);
    RESET();
    bd.output = X;
    bd.workspace = X;
    bd.workspace_size = need;
    snprintf(msg, sizeof msg,
             "fattn_plan_run: bindings.workspace bytes [%p, %p) overlap output bytes [%p, %p): "
             "the workspace must not share memory with tensors",
             (void *)X, (void *)((char *)X + need), (void *)X, (void *)((char *)X + out_b));
    expect_run("rebind: workspace overlapping the output", plan, &bd, FATTN_ERR_OVERLAP, msg);
    RESET();
    bd.workspace = (void *)(((uintptr_t)A.k_buf + 63) & ~(uintptr_t)63);
    bd.workspace_size = need;
    expect_run("rebind: workspace overlapping the key", plan, &bd, FATTN_ERR_OVERLAP, NULL);
    RESET();
    bd.workspace = ws;
    bd.workspace_size = need;
    sentinel_all();
    pu_expect("rebind: workspace of exactly the size", fattn_plan_run(plan, &bd, &err), &err,
              FATTN_OK, NULL);

    /* Something the plan was created without. */
    fattn_params bare = A.params;
    bare.lse = NULL;
    bare.mask = NULL;
    bare.alibi_slopes = NULL;
    bare.q_lengths = bare.kv_lengths = NULL;
    fattn_plan *plain = NULL;
    pu_expect("rebind: bare plan", fattn_plan_create(&A.query, &A.key, &A.value, &A.output,
                                                     &bare, &plain, &err),
              &err, FATTN_OK, NULL);
    static const struct {
        const char *name;
        size_t off;
    } absent[] = {
        {"lse", offsetof(fattn_bindings, lse)},
        {"mask", offsetof(fattn_bindings, mask)},
        {"alibi_slopes", offsetof(fattn_bindings, alibi_slopes)},
        {"q_lengths", offsetof(fattn_bindings, q_lengths)},
        {"kv_lengths", offsetof(fattn_bindings, kv_lengths)},
    };
    for (size_t i = 0; plain && i < PU_COUNT(absent); i++) {
        RESET();
        void *p = (char *)X + 64;
        memcpy((char *)&bd + absent[i].off, &p, sizeof p);
        snprintf(msg, sizeof msg,
                 "fattn_plan_run: bindings.%s is set but the plan was created without params.%s: "
                 "a plan's options are fixed", absent[i].name, absent[i].name);
        char where[64];
        snprintf(where, sizeof where, "rebind: %s for a plan without it", absent[i].name);
        expect_run(where, plain, &bd, FATTN_ERR_INCOMPATIBLE_OPTIONS, msg);
    }
    fattn_plan_destroy(plain);

    /* A plan created on params.workspace: a run whose output lands on it. */
    fattn_params pw = A.params;
    pw.workspace = ws;
    pw.workspace_size = need;
    fattn_plan *onws = NULL;
    if (pu_expect("rebind: plan on params.workspace",
                  fattn_plan_create(&A.query, &A.key, &A.value, &A.output, &pw, &onws, &err),
                  &err, FATTN_OK, NULL)) {
        RESET();
        bd.output = (float *)ws;
        snprintf(msg, sizeof msg,
                 "fattn_plan_run: params.workspace bytes [%p, %p) overlap output bytes [%p, %p): "
                 "the workspace must not share memory with tensors",
                 (void *)ws, (void *)(ws + need), (void *)ws, (void *)(ws + out_b));
        /* The sentinel check covers A, B and X, not ws: that is the point. */
        expect_run("rebind: output onto the plan's params.workspace", onws, &bd,
                   FATTN_ERR_OVERLAP, msg);
        fattn_plan_destroy(onws);
    }

    /* NULL plan; and the plan still runs correctly after all that. */
    pu_expect("rebind: NULL plan", fattn_plan_run(NULL, NULL, &err), &err,
              FATTN_ERR_NULL_POINTER, "fattn_plan_run: plan is NULL");
    pu_expect("rebind: NULL plan, NULL err", fattn_plan_run(NULL, &bd, NULL), NULL,
              FATTN_ERR_NULL_POINTER, NULL);
    check_run("rebind: a good run after the failures", plan, &A, NULL);
#undef RESET
    free(ws);
    fattn_plan_destroy(plan);
    free(X);
    fattn_ref_problem_free(&A);
    fattn_ref_problem_free(&Bp);
    printf("rebind: %d failures\n", pu_failures - before);
}

/* ---- create ------------------------------------------------------------------ */

typedef void (*breaker)(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t);

static void b_null_query(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)pr; t[0] = NULL; }
static void b_head_dim(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->key.shape[3] = 25; }
static void b_dtype(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->value.dtype = FATTN_DTYPE_BOOL; }
static void b_stride(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->query.stride[1] = -1; }
static void b_overlap(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->output.data = p->v_buf; }
static void b_lengths(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->kv_lengths[1] = 1000; }
static void b_version(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)t; pr->version = FATTN_PARAMS_VERSION + 1; }
static void b_align(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)t; pr->causal = FATTN_CAUSAL_TOP_LEFT; }
static void b_isa(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)t; pr->isa = FATTN_ISA_COUNT; }
static void b_half_allocator(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)t; pr->allocator.free = NULL; }
static unsigned char small_ws[256] __attribute__((aligned(64)));
static void b_small_ws(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)p; (void)t; pr->workspace = small_ws; pr->workspace_size = sizeof small_ws; }
static void b_lse_shape(fattn_ref_problem *p, fattn_params *pr, fattn_tensor **t)
{ (void)pr; (void)t; p->lse.shape[3] = 2; }

static void test_create(void)
{
    static const struct {
        const char *name;
        breaker fn;
    } cases[] = {
        {"NULL query", b_null_query},  {"key head_dim", b_head_dim},
        {"bool value", b_dtype},        {"negative stride", b_stride},
        {"output on value", b_overlap}, {"kv_lengths > Sk", b_lengths},
        {"params.version + 1", b_version}, {"bottom-right ALiBi, top-left causal", b_align},
        {"isa out of range", b_isa},    {"half an allocator", b_half_allocator},
        {"workspace too small", b_small_ws}, {"lse shape", b_lse_shape},
    };
    int before = pu_failures;
    for (size_t i = 0; i < PU_COUNT(cases); i++) {
        char where[96];
        fattn_ref_problem p;
        fattn_ref_problem_config c = fixture_config();
        snprintf(where, sizeof where, "create: %s", cases[i].name);
        pu_problem(&p, &c);
        pu_alloc al;
        pu_alloc_init(&al);
        fattn_params pr = p.params;
        pr.allocator = al.a;
        fattn_tensor *t[4] = {&p.query, &p.key, &p.value, &p.output};
        cases[i].fn(&p, &pr, t);
        fattn_error check_err, err;
        fattn_status want = fattn_check(t[0], t[1], t[2], t[3], &pr, &check_err);
        fattn_plan *plan = (fattn_plan *)&al; /* must become NULL */
        fattn_status st = fattn_plan_create(t[0], t[1], t[2], t[3], &pr, &plan, &err);
        char msg[FATTN_ERROR_MESSAGE_SIZE + 16];
        const char *rest = strchr(check_err.message, ':');
        snprintf(msg, sizeof msg, "fattn_plan_create%s", rest ? rest : "");
        if (want == FATTN_OK)
            pu_fail(where, "the test's fault was accepted by fattn_check");
        pu_expect(where, st, &err, want, msg);
        if (plan != NULL)
            pu_fail(where, "*plan = %p after an error, want NULL", (void *)plan);
        if (atomic_load(&al.allocs) != 0)
            pu_fail(where, "%" PRId64 " allocations on an invalid call",
                    atomic_load(&al.allocs));
        if (st == FATTN_OK)
            fattn_plan_destroy(plan);
        fattn_ref_problem_free(&p);
    }

    fattn_ref_problem p;
    fattn_ref_problem_config c = fixture_config();
    fattn_error err;
    pu_problem(&p, &c);
    pu_expect("create: plan NULL",
              fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &p.params, NULL, &err),
              &err, FATTN_ERR_NULL_POINTER, "fattn_plan_create: plan is NULL");
    fattn_ref_problem_free(&p);

    fattn_plan_destroy(NULL);
    if (fattn_plan_workspace_size(NULL) != 0 || fattn_plan_isa(NULL) != FATTN_ISA_AUTO ||
        fattn_plan_work_items(NULL) != 0 || fattn_plan_tasks(NULL) != 0 ||
        fattn_plan_kernel(NULL) == NULL || fattn_plan_kernel(NULL)[0] != '\0')
        pu_fail("create: getters on NULL", "want 0, auto, 0, 0 and \"\"");

    /* An empty problem: a plan with no work item and no kernel. */
    c = fixture_config();
    c.batch = 0;
    pu_problem(&p, &c);
    fattn_plan *plan = NULL;
    if (pu_expect("create: empty problem",
                  fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &p.params, &plan,
                                    &err),
                  &err, FATTN_OK, NULL)) {
        if (fattn_plan_work_items(plan) != 0 || strcmp(fattn_plan_kernel(plan), "") != 0)
            pu_fail("create: empty problem", "%" PRId64 " work items, kernel \"%s\"",
                    fattn_plan_work_items(plan), fattn_plan_kernel(plan));
        pu_expect("create: empty problem run", fattn_plan_run(plan, NULL, &err), &err,
                  FATTN_OK, NULL);
        fattn_plan_destroy(plan);
    }
    fattn_ref_problem_free(&p);
    printf("create: %zu bad descriptors: %d failures\n", PU_COUNT(cases), pu_failures - before);
}

/* A plan over contiguous f32 buffers that are allocated but never touched
 * (only the schedule is looked at, nothing runs). */
typedef struct split_case {
    const char *what;
    int64_t hq, hkv, sq, sk, d, dv;
    int64_t items_decode, items_scalar; /* expected work items */
} split_case;

static void split_schedule(const split_case *k, int isa)
{
    const int64_t q_n = k->hq * k->sq * k->d, kv_n = k->hkv * k->sk;
    float *q = malloc(sizeof(float) * (size_t)q_n);
    float *key = malloc(sizeof(float) * (size_t)(kv_n * k->d));
    float *val = malloc(sizeof(float) * (size_t)(kv_n * k->dv));
    float *out = malloc(sizeof(float) * (size_t)(k->hq * k->sq * k->dv));
    if (!q || !key || !val || !out) {
        pu_fail("split", "%s: out of memory", k->what);
        goto done;
    }
    fattn_tensor tq, tk, tv, to;
    fattn_tensor_contiguous(&tq, q, FATTN_DTYPE_F32, 1, k->hq, k->sq, k->d);
    fattn_tensor_contiguous(&tk, key, FATTN_DTYPE_F32, 1, k->hkv, k->sk, k->d);
    fattn_tensor_contiguous(&tv, val, FATTN_DTYPE_F32, 1, k->hkv, k->sk, k->dv);
    fattn_tensor_contiguous(&to, out, FATTN_DTYPE_F32, 1, k->hq, k->sq, k->dv);
    fattn_params pr;
    memset(&pr, 0, sizeof pr);
    pr.version = FATTN_PARAMS_VERSION;
    pr.isa = isa;
    fattn_error err;
    size_t one = 0, eight = 0;
    pu_exec exec;
    pu_exec_init(&exec, 0, 8); /* sequential: nothing runs here anyway */
    if (!pu_expect("split: workspace size", fattn_workspace_size(&tq, &tk, &tv, &to, &pr, &one, &err),
                   &err, FATTN_OK, NULL))
        goto done;
    pr.executor = &exec.ex;
    if (!pu_expect("split: workspace size, 8 tasks",
                   fattn_workspace_size(&tq, &tk, &tv, &to, &pr, &eight, &err), &err,
                   FATTN_OK, NULL))
        goto done;
    /* Split-K's partials are shared by the tasks: 8 tasks add 7 task
     * slices, never more partials. */
    if (eight < one || (one > (size_t)48 << 20 && strcmp(k->what, "memory cap") == 0))
        pu_fail("split", "%s on %s: workspace %zu bytes on 1 task, %zu on 8", k->what,
                fattn_isa_name(isa), one, eight);
    fattn_plan *plan = NULL;
    pr.executor = NULL;
    if (pu_expect("split: create", fattn_plan_create(&tq, &tk, &tv, &to, &pr, &plan, &err),
                  &err, FATTN_OK, NULL)) {
        const int decode = strstr(fattn_plan_kernel(plan), "_rows") != NULL;
        const int64_t want = decode ? k->items_decode : k->items_scalar;
        if (fattn_plan_work_items(plan) != want)
            pu_fail("split", "%s on %s (%s): %" PRId64 " work items, want %" PRId64,
                    k->what, fattn_isa_name(isa), fattn_plan_kernel(plan),
                    fattn_plan_work_items(plan), want);
        fattn_plan_destroy(plan);
    }
done:
    free(q);
    free(key);
    free(val);
    free(out);
}

/* Split-K's schedule through the public getters: the chunk count from the
 * problem alone (and the same for any number of tasks), none below 1024
 * keys, none past its memory cap. */
static void test_split(void)
{
    static const split_case cases[] = {
        /* decode: 2 KV-head items, 8 chunks of 512 keys; the scalar
         * path's 8 head items, 4 chunks */
        {"Sk=4096", 8, 2, 1, 4096, 16, 16, 16, 32},
        {"Sk=1023: no split", 8, 2, 1, 1023, 16, 16, 2, 8},
        /* 1024 rows of Dv = 4096 per chunk: 16.8 MB, over half the cap */
        {"memory cap", 64, 1, 16, 1024, 16, 4096, 16, 64},
    };
    int isas[FATTN_ISA_COUNT];
    const int n = pu_paths(isas, FATTN_ISA_COUNT);
    const int before = pu_failures;
    for (size_t c = 0; c < PU_COUNT(cases); c++)
        for (int i = 0; i < n; i++)
            split_schedule(&cases[c], isas[i]);
    printf("split: %zu schedules on %d paths: %d failures\n", PU_COUNT(cases), n,
           pu_failures - before);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || strcmp(only, "reuse") == 0)
        test_reuse();
    if (!only || strcmp(only, "rebind") == 0)
        test_rebind();
    if (!only || strcmp(only, "create") == 0)
        test_create();
    if (!only || strcmp(only, "split") == 0)
        test_split();
    return pu_finish("test_plan");
}
