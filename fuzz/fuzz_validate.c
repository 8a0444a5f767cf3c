/*
 * fuzz_validate.c - every argument fattn_check, fattn_forward and
 * fattn_merge can be given, and what they must do with it.
 *
 * The input decodes (fuzz_data_producer.h) into a small valid problem and
 * then up to 8 mutations: any shape or stride set to an edge value (zero,
 * negative, INT64 extremes, overflowing extents, stride 0), dtypes and enums
 * out of range, NaN/Inf/negative scale and soft-cap, bad windows, bad
 * per-batch lengths and ALiBi slopes, wrong mask and LSE shapes, NULL
 * descriptors and data, misaligned data, outputs aliasing inputs, a half-set
 * or failing allocator, a forced kernel path, a NULL params or error record;
 * then a pool, an executor (sequential, any max_tasks, or without its
 * function) or both, with params layout 2 or an older version that must
 * ignore them.
 * Sometimes query, key, value or output comes from fattn_tensor_from_packed
 * with fuzzed arguments instead. The bytes still left decode a fattn_merge
 * case (fv_merge.h), then the dtypes of query, key, value, output and mask
 * (fv_decode_dtypes: f32 when no byte is left, as in older corpus files).
 *
 * Buffers hold exactly the bytes the descriptors address (at most FV_CAP in
 * all; beyond that the data pointers are fake addresses, possibly near the
 * top of the address space, and only fattn_check runs), so AddressSanitizer
 * sees any access outside what validation accepted.
 *
 * Properties (a violation aborts with the case printed):
 *   - the status is a defined code; fattn_check never returns out_of_memory;
 *   - it is OK exactly when the harness's own reading of the rules in
 *     fattn.h (fv_oracle) finds no violation, and otherwise one of the codes
 *     of the violated rules;
 *   - the error record: status, a non-empty one-line message starting with
 *     the function's name (empty on success);
 *   - fattn_forward returns what fattn_check returned (or out_of_memory when
 *     the allocator fails), and a failing call writes nothing anywhere;
 *   - a successful call leaves the inputs and the gaps of the output layout
 *     untouched, gives no two output elements one address, balances the
 *     allocator's calls, and on a numerically tame small problem matches the
 *     fp64 reference within the tolerance of the kernel that ran and the
 *     output's dtype (tests/reference/tolerance.h; beyond its warn bound a
 *     WARN line, not a finding);
 *   - fattn_plan_create returns fattn_check's status (or the allocator's
 *     verdict once validation passed) and leaves *plan NULL on error; a plan
 *     runs to the bits fattn_forward wrote; rebinding it to a misaligned
 *     output, an lse it was made without, or a newer bindings version fails
 *     with that code and writes nothing; destroy balances the allocator;
 *   - with bytes left over, a fattn_merge case (fv_merge.c): its status is
 *     OK exactly when fv_merge_oracle finds no broken rule, else one of
 *     their codes; a failing call writes nothing; an accepted one leaves
 *     the parts and the layout gaps untouched, gives each row the formula
 *     of fattn.h (fully masked parts unread, NaN and +inf LSEs poisoning
 *     the row) and the same bits when called again.
 */
#include "fuzz_common.h"
#include "fuzz_data_producer.h"
#include "fv_case.h"
#include "fv_merge.h"
#include "reference.h"
#include "tolerance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static fv_case C; /* the current case, for the finding's description */
static fv_merge M; /* and its merge case, if the input has one */

/* ---- parallelism: params.pool and params.executor (layout 2) --------------
 * Decoded after the case, from the bytes it left, so that the corpus files
 * made before keep their meaning (they run out first: no pool, no
 * executor). */

enum { PAR_NONE, PAR_POOL, PAR_EXECUTOR, PAR_BOTH, PAR_NULL_FN, PAR_MODES };
static int par_mode, par_bump;
static fattn_executor par_ex;

/* The tasks one after another, on the calling thread. */
static void sequential_parallel_for(void *opaque, int32_t tasks, fattn_task_fn fn,
                                    void *arg)
{
    (void)opaque;
    for (int32_t t = 0; t < tasks; t++)
        fn(arg, t);
}

/* One pool for the whole campaign: threads per input would dominate. */
static fattn_pool *campaign_pool(void)
{
    static fattn_pool *pool;
    if (!pool && fattn_pool_create(2, &pool, NULL) != FATTN_OK)
        fz_finding("fuzz_validate", "fattn_pool_create(2) failed");
    return pool;
}

static void decode_parallel(fz_producer *in)
{
    static const int64_t tasks[] = {1, 2, 3, 8, 0, -1, FATTN_MAX_THREADS,
                                    FATTN_MAX_THREADS + 1};
    par_mode = (int)fz_range(in, 0, PAR_MODES - 1);
    par_bump = fz_bool(in);
    par_ex.parallel_for = par_mode == PAR_NULL_FN ? NULL : sequential_parallel_for;
    par_ex.opaque = NULL;
    par_ex.max_tasks = (int32_t)fz_pick(in, tasks, sizeof tasks / sizeof tasks[0]);
    if (par_mode == PAR_NONE)
        return;
    /* Layout 2 only when asked: with version 0 or 1 the fields must be
     * ignored, which is a property too. */
    if (par_bump)
        C.params.version = FATTN_PARAMS_VERSION;
    C.params.pool = par_mode == PAR_POOL || par_mode == PAR_BOTH ? campaign_pool() : NULL;
    C.params.executor = par_mode >= PAR_EXECUTOR ? &par_ex : NULL;
}

/* fattn.h's rules for the two fields, read only from layout 2 on. */
static uint32_t parallel_rules(void)
{
    const fattn_params *p = &C.params;
    if (C.params_null || p->version < 2 || p->version > FATTN_PARAMS_VERSION)
        return 0;
    uint32_t v = 0;
    if (p->pool && p->executor)
        v |= 1u << FATTN_ERR_INCOMPATIBLE_OPTIONS;
    if (p->executor && !p->executor->parallel_for)
        v |= 1u << FATTN_ERR_NULL_POINTER;
    if (p->executor && (p->executor->max_tasks < 1 ||
                        p->executor->max_tasks > FATTN_MAX_THREADS))
        v |= 1u << FATTN_ERR_INVALID_VALUE;
    return v;
}

static void describe(void)
{
    static const char *const modes[PAR_MODES] = {
        "none", "pool", "executor", "pool and executor", "executor without parallel_for"};
    fv_describe(&C, stderr);
    fprintf(stderr, "  parallel: %s, max_tasks %d, params version %s\n", modes[par_mode],
            (int)par_ex.max_tasks, par_bump ? "raised to the newest" : "as decoded");
    if (M.used)
        fv_merge_describe(&M, stderr);
}

/* ---- the allocator modes ------------------------------------------------ */

static int64_t alloc_calls, free_calls;

static void *counting_alloc(size_t size, void *opaque)
{
    (void)opaque;
    alloc_calls++;
    size_t rounded = (size + 63u) & ~(size_t)63u;
    return rounded < size ? NULL : aligned_alloc(64, rounded ? rounded : 64);
}

static void *failing_alloc(size_t size, void *opaque)
{
    (void)size;
    (void)opaque;
    alloc_calls++;
    return NULL;
}

static void counting_free(void *ptr, void *opaque)
{
    (void)opaque;
    if (ptr)
        free_calls++;
    free(ptr);
}

/* 16 bytes into a 64-byte aligned block: aligned to 16, not to 64. */
static void *misaligned_alloc(size_t size, void *opaque)
{
    unsigned char *p = counting_alloc(size + 64, opaque);
    return p ? p + 16 : NULL;
}

static void misaligned_free(void *ptr, void *opaque)
{
    counting_free(ptr ? (unsigned char *)ptr - 16 : NULL, opaque);
}

static void set_allocator(fattn_params *p, int mode)
{
    memset(&p->allocator, 0, sizeof p->allocator);
    switch (mode) {
    case FV_ALLOC_COUNTING:
        p->allocator.alloc = counting_alloc;
        p->allocator.free = counting_free;
        break;
    case FV_ALLOC_FAILING:
        p->allocator.alloc = failing_alloc;
        p->allocator.free = counting_free;
        break;
    case FV_ALLOC_ONLY_ALLOC:
        p->allocator.alloc = counting_alloc;
        break;
    case FV_ALLOC_ONLY_FREE:
        p->allocator.free = counting_free;
        break;
    case FV_ALLOC_MISALIGNED:
        p->allocator.alloc = misaligned_alloc;
        p->allocator.free = misaligned_free;
        break;
    default:
        break;
    }
}

/* ---- checks ------------------------------------------------------------- */

static void check_record(const fattn_error *err, fattn_status st,
                         const char *fn)
{
    const char *why = fz_record_problem(err, st, fn);
    if (why)
        fz_finding("fuzz_validate", "%s: %s (status %d %s, message '%.*s')",
                   fn, why, (int)st, fattn_status_name(st),
                   (int)sizeof err->message, err->message);
}

/* The status against the oracle's verdict. */
static void check_status(const char *fn, fattn_status st, uint32_t violated,
                         const fattn_error *err)
{
    if ((int)st < 0 || (int)st >= FATTN_STATUS_COUNT)
        fz_finding("fuzz_validate", "%s returned %d, not a fattn_status", fn,
                   (int)st);
    if (violated == 0 && st != FATTN_OK)
        fz_finding("fuzz_validate",
                   "%s refused arguments that break no rule: %s (%s)", fn,
                   fattn_status_name(st), err ? err->message : "no record");
    if (violated != 0 && st == FATTN_OK)
        fz_finding("fuzz_validate",
                   "%s accepted arguments that break a rule (expected one of: %s)",
                   fn, fv_codes_text(violated));
    if (violated != 0 && !(violated & (1u << st)))
        fz_finding("fuzz_validate",
                   "%s returned %s, not a code of a broken rule (expected one of: %s): %s",
                   fn, fattn_status_name(st), fv_codes_text(violated),
                   err ? err->message : "no record");
}

static void check_untouched(const char *what)
{
    int which = fv_changed_buffer(&C);
    if (which >= 0)
        fz_finding("fuzz_validate", "%s changed buffer %s", what,
                   fv_buffer_name(which));
}

/* After a successful forward: inputs as they were, gaps untouched, no two
 * output elements at one address, the reference matched if tame. */
static void check_success(void)
{
    const char *why = fv_output_layout_problem(&C);
    if (why)
        fz_finding("fuzz_validate", "fattn_forward succeeded but %s", why);
    if (fv_inputs_changed(&C) >= 0)
        fz_finding("fuzz_validate",
                   "fattn_forward succeeded but wrote input buffer %s",
                   fv_buffer_name(fv_inputs_changed(&C)));
    if (!fv_tame(&C))
        return;
    fattn_tol_report rep;
    char text[320];
    const fattn_params *pr = C.params_null ? NULL : &C.params;
    const fattn_tol tol = fattn_tol_of(C.desc[FV_Q], C.desc[FV_K], C.desc[FV_V],
                                       C.desc[FV_O], pr);
    if (!fattn_tol_check(C.desc[FV_Q], C.desc[FV_K], C.desc[FV_V], C.desc[FV_O],
                         pr, &tol, &rep)) {
        fprintf(stderr, "  ");
        fattn_tol_print_worst(stderr, &rep);
        fprintf(stderr, "\n");
        fz_finding("fuzz_validate",
                   "output differs from the fp64 reference: %lld of %lld elements beyond %s",
                   (long long)rep.fails, (long long)rep.checked,
                   fattn_tol_describe(&tol, text, sizeof text));
    }
    static int warned;
    if (rep.warns > 0 && warned++ < 8) {
        fprintf(stderr, "WARN fuzz_validate: %lld elements beyond the warn bound, ",
                (long long)rep.warns);
        fattn_tol_print_worst(stderr, &rep);
        fprintf(stderr, "\n");
    }
}

/*
 * fattn_workspace_size: the checks of fattn_check minus the workspace's own
 * (`base` = the codes of the other broken rules), *bytes written only on
 * success, a NULL `bytes` refused.
 */
static void check_workspace_size(const fattn_params *pr, fattn_error *errp,
                                 uint32_t base)
{
    fattn_error err;
    size_t bytes = (size_t)0x5eed;
    fz_poison_error(&err);
    fattn_status st = fattn_workspace_size(C.desc[FV_Q], C.desc[FV_K],
                                           C.desc[FV_V], C.desc[FV_O], pr,
                                           &bytes, errp ? &err : NULL);
    if (errp)
        check_record(&err, st, "fattn_workspace_size");
    check_status("fattn_workspace_size", st, base, errp ? &err : NULL);
    if (st != FATTN_OK && bytes != (size_t)0x5eed)
        fz_finding("fuzz_validate", "a failing fattn_workspace_size wrote *bytes");
    if (st == FATTN_OK && !C.params_null && bytes != C.ws_need)
        fz_finding("fuzz_validate", "fattn_workspace_size gave %zu, then %zu",
                   C.ws_need, bytes);
    st = fattn_workspace_size(C.desc[FV_Q], C.desc[FV_K], C.desc[FV_V],
                              C.desc[FV_O], pr, NULL, NULL);
    if (st != FATTN_ERR_NULL_POINTER)
        fz_finding("fuzz_validate", "fattn_workspace_size(bytes = NULL) returned %s",
                   fattn_status_name(st));
}

/* A copy of a buffer (NULL for none), to compare a later call's bytes. */
static unsigned char *copy_buffer(int which)
{
    if (!C.buf[which])
        return NULL;
    unsigned char *p = malloc(C.buf_size[which] ? C.buf_size[which] : 1);
    if (!p)
        abort();
    memcpy(p, C.buf[which], C.buf_size[which]);
    return p;
}

static int same_buffer(int which, const unsigned char *copy)
{
    return !C.buf[which] || memcmp(C.buf[which], copy, C.buf_size[which]) == 0;
}

/* One rebinding that must fail with `want` and write nothing. */
static void check_bad_run(const fattn_plan *plan, const fattn_bindings *bd,
                          fattn_status want, const char *what,
                          const unsigned char *out, const unsigned char *lse)
{
    fattn_error err;
    fz_poison_error(&err);
    fattn_status st = fattn_plan_run(plan, bd, &err);
    check_record(&err, st, "fattn_plan_run");
    if (st != want)
        fz_finding("fuzz_validate", "fattn_plan_run with %s returned %s, want %s: %s",
                   what, fattn_status_name(st), fattn_status_name(want), err.message);
    if (!same_buffer(FV_O, out) || !same_buffer(FV_LSE, lse))
        fz_finding("fuzz_validate", "a failing fattn_plan_run (%s) wrote the output", what);
}

/* fattn_plan_create and fattn_plan_run against fattn_check and
 * fattn_forward (`ran`: forward succeeded on this case's real buffers). */
static void check_plan(const fattn_params *pr, fattn_error *errp,
                       fattn_status st_check, int ran)
{
    fattn_error err;
    fattn_plan *plan = (fattn_plan *)(void *)&err; /* must become NULL or a plan */
    alloc_calls = free_calls = 0;
    fz_poison_error(&err);
    fattn_status st = fattn_plan_create(C.desc[FV_Q], C.desc[FV_K], C.desc[FV_V],
                                        C.desc[FV_O], pr, &plan, errp ? &err : NULL);
    if (errp)
        check_record(&err, st, "fattn_plan_create");
    const int called = !C.params_null && alloc_calls > 0;
    const fattn_status want =
        st_check != FATTN_OK                            ? st_check
        : called && C.alloc_mode == FV_ALLOC_FAILING    ? FATTN_ERR_OUT_OF_MEMORY
        : called && C.alloc_mode == FV_ALLOC_MISALIGNED ? FATTN_ERR_MISALIGNED
                                                        : FATTN_OK;
    if (st != want)
        fz_finding("fuzz_validate", "fattn_plan_create returned %s but fattn_check %s (allocator calls %lld)",
                   fattn_status_name(st), fattn_status_name(st_check), (long long)alloc_calls);
    if (st != FATTN_OK) {
        if (plan)
            fz_finding("fuzz_validate", "a failing fattn_plan_create left *plan set");
        if (alloc_calls != free_calls && C.alloc_mode != FV_ALLOC_FAILING)
            fz_finding("fuzz_validate", "a failing fattn_plan_create leaked (%lld allocations, %lld frees)",
                       (long long)alloc_calls, (long long)free_calls);
        return;
    }
    if (ran) {
        unsigned char *out = copy_buffer(FV_O), *lse = copy_buffer(FV_LSE);
        fz_poison_error(&err);
        st = fattn_plan_run(plan, NULL, &err);
        check_record(&err, st, "fattn_plan_run");
        if (st != FATTN_OK)
            fz_finding("fuzz_validate", "fattn_plan_run refused what fattn_forward ran: %s",
                       err.message);
        if (!same_buffer(FV_O, out) || !same_buffer(FV_LSE, lse))
            fz_finding("fuzz_validate", "fattn_plan_run and fattn_forward gave different bits");
        fattn_bindings bd;
        memset(&bd, 0, sizeof bd);
        /* One byte off: misaligned for a 4- or a 2-byte output. */
        bd.output = (unsigned char *)C.desc[FV_O]->data + 1;
        check_bad_run(plan, &bd, FATTN_ERR_MISALIGNED, "a misaligned output", out, lse);
        memset(&bd, 0, sizeof bd);
        bd.version = FATTN_BINDINGS_VERSION + 1;
        check_bad_run(plan, &bd, FATTN_ERR_UNSUPPORTED_VERSION, "a newer bindings version",
                      out, lse);
        if (!pr || !pr->lse) {
            memset(&bd, 0, sizeof bd);
            bd.lse = C.buf[FV_O] ? (void *)C.buf[FV_O] : (void *)&err;
            check_bad_run(plan, &bd, FATTN_ERR_INCOMPATIBLE_OPTIONS,
                          "an lse the plan lacks", out, lse);
        }
        free(out);
        free(lse);
    }
    fattn_plan_destroy(plan);
    if (alloc_calls != free_calls)
        fz_finding("fuzz_validate", "a plan made %lld allocations but %lld frees",
                   (long long)alloc_calls, (long long)free_calls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_producer in;
    fattn_error err;
    fattn_error *errp;

    fz_set_describe(describe);
    fz_init(&in, data, size);
    fv_decode(&C, &in);
    decode_parallel(&in);
    fv_merge_decode(&M, &in); /* from what is left: none for older inputs */
    fv_decode_dtypes(&C, &in); /* and then: f32 for older inputs */
    fv_packed_views(&C);
    set_allocator(&C.params, C.alloc_mode);
    fv_place(&C);
    uint32_t others;
    const uint32_t par = parallel_rules();
    const uint32_t violated = fv_oracle(&C, &others) | par;
    others |= par;
    const fattn_params *pr = C.params_null ? NULL : &C.params;
    errp = C.err_null ? NULL : &err;

    int ran = 0;
    fz_poison_error(&err);
    fattn_status st = fattn_check(C.desc[FV_Q], C.desc[FV_K], C.desc[FV_V],
                                  C.desc[FV_O], pr, errp);
    if (errp)
        check_record(&err, st, "fattn_check");
    check_status("fattn_check", st, violated, errp);
    check_untouched("fattn_check");
    check_workspace_size(pr, errp, others);

    /* A refused call returns at once; an accepted one must be cheap. */
    if (C.real && (st != FATTN_OK || fv_small(&C))) {
        alloc_calls = free_calls = 0;
        fz_poison_error(&err);
        fattn_status st2 = fattn_forward(C.desc[FV_Q], C.desc[FV_K],
                                         C.desc[FV_V], C.desc[FV_O], pr, errp);
        if (errp)
            check_record(&err, st2, "fattn_forward");
        /* A failing or misaligning allocator, once called, decides. */
        const int called = !C.params_null && alloc_calls > 0;
        const fattn_status want =
            called && C.alloc_mode == FV_ALLOC_FAILING      ? FATTN_ERR_OUT_OF_MEMORY
            : called && C.alloc_mode == FV_ALLOC_MISALIGNED ? FATTN_ERR_MISALIGNED
                                                            : st;
        if (called && C.params.workspace)
            fz_finding("fuzz_validate",
                       "fattn_forward called the allocator despite params.workspace");
        if (st2 != want || (called && st != FATTN_OK))
            fz_finding("fuzz_validate",
                       "fattn_forward returned %s but fattn_check %s (allocator calls %lld)",
                       fattn_status_name(st2), fattn_status_name(st),
                       (long long)alloc_calls);
        const int failed_alloc = called && C.alloc_mode == FV_ALLOC_FAILING;
        if (alloc_calls != free_calls && !failed_alloc)
            fz_finding("fuzz_validate",
                       "fattn_forward made %lld allocator calls but %lld frees",
                       (long long)alloc_calls, (long long)free_calls);
        if (st2 != FATTN_OK)
            check_untouched("a failing fattn_forward");
        else
            check_success();
        ran = st2 == FATTN_OK && st == FATTN_OK;
    }
    /* A plan of a case too big to compute would allocate its workspace
     * for nothing: only the small ones and the refused ones. */
    if (st != FATTN_OK || fv_small(&C))
        check_plan(pr, errp, st, ran && C.real);
    fv_free(&C);
    if (M.used) {
        fv_merge_place(&M);
        fv_merge_check(&M);
        fv_merge_free(&M);
    }
    return 0;
}
