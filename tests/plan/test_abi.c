/*
 * test_abi.c - the params growth rule and the align rule.
 *
 *   layout1    fattn.h's promise to callers compiled against an older
 *              header: a fattn_params of exactly FATTN_PARAMS_V1_SIZE bytes
 *              (version 0 or 1) is never read past its end. The struct is
 *              placed at the end of a page followed by a PROT_NONE page, so
 *              a read of one byte more is a SIGSEGV; fattn_check,
 *              fattn_workspace_size, fattn_forward and fattn_plan_create
 *              (and runs of that plan) must work and give the results of a
 *              full version-2 struct with the same fields. Garbage in the
 *              layout-2 bytes of a version-1 struct is ignored. A
 *              fattn_bindings at the end of a page (its full size) works.
 *              A version above FATTN_PARAMS_VERSION is unsupported_version.
 *   align      align left at 0 follows the causal alignment: causal
 *              bottom-right with a window (or ALiBi) and align 0 is the
 *              same bits as with align = FATTN_ALIGN_BOTTOM_RIGHT and
 *              matches the fp64 reference (given the explicit alignment);
 *              causal top-left with align bottom-right and a window or
 *              ALiBi is incompatible_options.
 *
 * No thread is started here (suite 'plan').
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "plan_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* `bytes` at the end of a readable page, a PROT_NONE page after it. */
typedef struct guarded {
    void *map;
    size_t page;
    void *at;
} guarded;

static void *guard_end(guarded *g, size_t bytes)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED || mprotect((char *)g->map + g->page, g->page, PROT_NONE) != 0) {
        perror("mmap");
        exit(2);
    }
    g->at = (char *)g->map + g->page - bytes;
    memset(g->at, 0, bytes);
    return g->at;
}

static void guard_free(guarded *g)
{
    munmap(g->map, 2 * g->page);
}

/* What a layout-1 caller sets: causal, a window, lse, lengths, the path. */
static void fill_layout1(fattn_params *p, const fattn_ref_problem *src, uint32_t version)
{
    p->version = version;
    p->causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    p->window_enabled = 1;
    p->window_left = 17;
    p->window_right = 0;
    p->align = FATTN_ALIGN_BOTTOM_RIGHT;
    p->lse = src->params.lse;
    p->kv_lengths = src->params.kv_lengths;
    p->isa = src->params.isa;
}

/* Run everything with params *pv (whatever its size) and compare with the
 * full struct's results. */
static void compare_with_full(const char *where, fattn_ref_problem *p, const fattn_params *pv,
                              const float *full_out, const float *full_lse, size_t full_ws)
{
    fattn_error err;
    size_t ws = 0;
    pu_expect(where, fattn_check(&p->query, &p->key, &p->value, &p->output, pv, &err), &err,
              FATTN_OK, NULL);
    if (pu_expect(where, fattn_workspace_size(&p->query, &p->key, &p->value, &p->output, pv,
                                              &ws, &err),
                  &err, FATTN_OK, NULL) &&
        ws != full_ws)
        pu_fail(where, "fattn_workspace_size = %zu, full struct %zu", ws, full_ws);
    fattn_ref_problem_reset_output(p);
    if (pu_expect(where, fattn_forward(&p->query, &p->key, &p->value, &p->output, pv, &err),
                  &err, FATTN_OK, NULL) &&
        (memcmp(p->out_buf, full_out, p->out_elems * 4) != 0 ||
         memcmp(p->lse_buf, full_lse, p->lse_elems * 4) != 0))
        pu_fail(where, "fattn_forward: not the full struct's bits");
    fattn_plan *plan = NULL;
    if (pu_expect(where, fattn_plan_create(&p->query, &p->key, &p->value, &p->output, pv, &plan,
                                           &err),
                  &err, FATTN_OK, NULL)) {
        fattn_ref_problem_reset_output(p);
        if (pu_expect(where, fattn_plan_run(plan, NULL, &err), &err, FATTN_OK, NULL) &&
            (memcmp(p->out_buf, full_out, p->out_elems * 4) != 0 ||
             memcmp(p->lse_buf, full_lse, p->lse_elems * 4) != 0))
            pu_fail(where, "fattn_plan_run: not the full struct's bits");
        if (fattn_plan_tasks(plan) != 1)
            pu_fail(where, "a layout-1 plan has %d tasks, want 1", (int)fattn_plan_tasks(plan));
        fattn_plan_destroy(plan);
    }
}

static void test_layout1(void)
{
    int before = pu_failures;
    int isas[FATTN_ISA_COUNT];
    const int n = pu_paths(isas, FATTN_ISA_COUNT);
    if ((size_t)FATTN_PARAMS_V1_SIZE >= sizeof(fattn_params) || FATTN_PARAMS_V1_SIZE % 8 != 0)
        pu_fail("layout1", "FATTN_PARAMS_V1_SIZE = %zu, sizeof(fattn_params) = %zu",
                (size_t)FATTN_PARAMS_V1_SIZE, sizeof(fattn_params));
    for (int k = 0; k < n; k++) {
        char where[96];
        fattn_ref_problem_config c;
        fattn_ref_config_init(&c, 2, 4, 33, 80, 24);
        c.heads_kv = 2;
        c.lse = 1;
        c.kv_lengths = 1;
        c.seed = 500 + (uint64_t)k;
        c.params.isa = isas[k];
        fattn_ref_problem p;
        pu_problem(&p, &c);
        const size_t ob = p.out_elems * 4, lb = p.lse_elems * 4;
        float *full_out = pu_xalloc(ob), *full_lse = pu_xalloc(lb);

        /* The full struct, version 2, same fields. */
        fattn_params full;
        memset(&full, 0, sizeof full);
        fill_layout1(&full, &p, FATTN_PARAMS_VERSION);
        fattn_error err;
        size_t full_ws = 0;
        fattn_workspace_size(&p.query, &p.key, &p.value, &p.output, &full, &full_ws, NULL);
        if (fattn_forward(&p.query, &p.key, &p.value, &p.output, &full, &err) != FATTN_OK) {
            pu_fail("layout1", "full struct: %s", err.message);
            goto next;
        }
        memcpy(full_out, p.out_buf, ob);
        memcpy(full_lse, p.lse_buf, lb);

        for (uint32_t version = 0; version <= 1; version++) {
            guarded g;
            fattn_params *pv = guard_end(&g, FATTN_PARAMS_V1_SIZE);
            fill_layout1(pv, &p, version);
            snprintf(where, sizeof where, "layout1 %s: version %u at a page end",
                     fattn_isa_name(isas[k]), version);
            compare_with_full(where, &p, pv, full_out, full_lse, full_ws);
            guard_free(&g);
        }

        /* Version 1 with garbage where layout 2 would be: never read. */
        {
            unsigned char buf[sizeof(fattn_params)] __attribute__((aligned(16)));
            memset(buf, 0xa5, sizeof buf);
            fattn_params *pv = (fattn_params *)buf;
            memset(pv, 0, FATTN_PARAMS_V1_SIZE);
            fill_layout1(pv, &p, 1);
            snprintf(where, sizeof where, "layout1 %s: version 1, garbage past it",
                     fattn_isa_name(isas[k]));
            compare_with_full(where, &p, pv, full_out, full_lse, full_ws);
        }

        /* Version 2 at a page end: its full size, no more. */
        {
            guarded g;
            fattn_params *pv = guard_end(&g, sizeof(fattn_params));
            fill_layout1(pv, &p, FATTN_PARAMS_VERSION);
            snprintf(where, sizeof where, "layout1 %s: version 2 at a page end",
                     fattn_isa_name(isas[k]));
            compare_with_full(where, &p, pv, full_out, full_lse, full_ws);
            guard_free(&g);
        }

        /* Bindings at a page end (versions 0 and 1), rebinding the output. */
        fattn_plan *plan = NULL;
        if (fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &full, &plan, &err) ==
            FATTN_OK) {
            float *o2 = pu_xalloc(ob);
            for (uint32_t version = 0; version <= FATTN_BINDINGS_VERSION; version++) {
                guarded g;
                fattn_bindings *bd = guard_end(&g, sizeof(fattn_bindings));
                bd->version = version;
                bd->output = o2;
                memset(o2, 0xff, ob);
                fattn_ref_problem_reset_output(&p);
                snprintf(where, sizeof where, "layout1 %s: bindings version %u at a page end",
                         fattn_isa_name(isas[k]), version);
                if (pu_expect(where, fattn_plan_run(plan, bd, &err), &err, FATTN_OK, NULL) &&
                    (memcmp(o2, full_out, ob) != 0 || memcmp(p.lse_buf, full_lse, lb) != 0 ||
                     pu_not_sentinel(p.out_buf, p.out_elems) != 0))
                    pu_fail(where, "not the output rebound with the full struct's bits");
                guard_free(&g);
            }
            free(o2);
            fattn_plan_destroy(plan);
        } else {
            pu_fail("layout1", "fattn_plan_create: %s", err.message);
        }

        /* A version from the future. */
        {
            fattn_params pv = full;
            pv.version = FATTN_PARAMS_VERSION + 1;
            char msg[FATTN_ERROR_MESSAGE_SIZE];
            static const char *const fns[] = {"fattn_check", "fattn_workspace_size",
                                              "fattn_forward", "fattn_plan_create"};
            for (int f = 0; f < 4; f++) {
                snprintf(msg, sizeof msg,
                         "%s: params.version = %d > %d: this library knows params up to version %d",
                         fns[f], FATTN_PARAMS_VERSION + 1, FATTN_PARAMS_VERSION,
                         FATTN_PARAMS_VERSION);
                snprintf(where, sizeof where, "layout1 %s: version + 1, %s",
                         fattn_isa_name(isas[k]), fns[f]);
                size_t ws = 12345;
                fattn_plan *pl = (fattn_plan *)&ws;
                fattn_status st =
                    f == 0 ? fattn_check(&p.query, &p.key, &p.value, &p.output, &pv, &err)
                    : f == 1 ? fattn_workspace_size(&p.query, &p.key, &p.value, &p.output, &pv,
                                                    &ws, &err)
                    : f == 2 ? fattn_forward(&p.query, &p.key, &p.value, &p.output, &pv, &err)
                             : fattn_plan_create(&p.query, &p.key, &p.value, &p.output, &pv,
                                                 &pl, &err);
                pu_expect(where, st, &err, FATTN_ERR_UNSUPPORTED_VERSION, msg);
                if ((f == 1 && ws != 12345) || (f == 3 && pl != NULL))
                    pu_fail(where, "an output argument was written on error");
            }
        }
    next:
        free(full_out);
        free(full_lse);
        fattn_ref_problem_free(&p);
    }
    printf("layout1: %d paths: %d failures\n", n, pu_failures - before);
}

/* ---- align ------------------------------------------------------------------ */

static void test_align(void)
{
    int before = pu_failures;
    int isas[FATTN_ISA_COUNT];
    const int n = pu_paths(isas, FATTN_ISA_COUNT);
    static const struct {
        int64_t b, sq, sk, left, right;
        int alibi, kv_lengths;
    } cases[] = {
        {1, 20, 45, 6, 0, 0, 0},  {2, 45, 20, 3, FATTN_WINDOW_UNLIMITED, 0, 1},
        {2, 64, 64, 10, 2, 0, 1}, {1, 1, 300, 31, 0, 0, 0},
        {1, 30, 77, -2, -2, 1, 0}, /* ALiBi, no window */
        {2, 50, 35, 7, 0, 1, 1},  /* ALiBi and a window */
    };
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < PU_COUNT(cases); i++) {
            char where[160];
            fattn_ref_problem_config c;
            fattn_ref_config_init(&c, cases[i].b, 2, cases[i].sq, cases[i].sk, 16);
            c.lse = 1;
            c.alibi = cases[i].alibi;
            c.kv_lengths = cases[i].kv_lengths;
            c.seed = 900 + i;
            c.params.isa = isas[k];
            c.params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
            if (cases[i].left >= -1) {
                c.params.window_enabled = 1;
                c.params.window_left = cases[i].left;
                c.params.window_right = cases[i].right;
            }
            fattn_ref_problem p;
            pu_problem(&p, &c);
            snprintf(where, sizeof where, "align %s: causal bottom-right, align 0, Sq=%" PRId64
                     " Sk=%" PRId64 " window=%d [%" PRId64 ", %" PRId64 "] alibi=%d",
                     fattn_isa_name(isas[k]), cases[i].sq, cases[i].sk,
                     (int)c.params.window_enabled, cases[i].left, cases[i].right, cases[i].alibi);
            const size_t ob = p.out_elems * 4, lb = p.lse_elems * 4;
            float *o0 = pu_xalloc(ob), *l0 = pu_xalloc(lb);
            fattn_error err;
            p.params.align = FATTN_ALIGN_TOP_LEFT; /* 0: follows causal */
            if (pu_expect(where, fattn_forward(&p.query, &p.key, &p.value, &p.output, &p.params,
                                               &err),
                          &err, FATTN_OK, NULL)) {
                memcpy(o0, p.out_buf, ob);
                memcpy(l0, p.lse_buf, lb);
                p.params.align = FATTN_ALIGN_BOTTOM_RIGHT;
                fattn_ref_problem_reset_output(&p);
                fattn_status st = fattn_forward(&p.query, &p.key, &p.value, &p.output,
                                                &p.params, &err);
                if (pu_expect(where, st, &err, FATTN_OK, NULL) &&
                    (memcmp(o0, p.out_buf, ob) != 0 || memcmp(l0, p.lse_buf, lb) != 0))
                    pu_fail(where, "not the bits of align = bottom-right");
                /* The reference reads align as given: give it explicitly. */
                fattn_ref_report rep, rep_lse;
                if (!fattn_ref_problem_compare(&p, PU_ATOL, PU_RTOL, &rep, &rep_lse))
                    pu_fail(where, "vs fp64 reference: %" PRId64 " output and %" PRId64
                            " LSE elements outside tolerance\n  %s",
                            rep.violations, rep_lse.violations, pu_describe(&p));
            }
            /* Top-left causal with a bottom-right window or ALiBi. */
            p.params.causal = FATTN_CAUSAL_TOP_LEFT;
            p.params.align = FATTN_ALIGN_BOTTOM_RIGHT;
            const char *what = c.params.window_enabled ? "window" : "ALiBi bias";
            static const char *const fns[] = {"fattn_check", "fattn_forward",
                                              "fattn_plan_create"};
            for (int f = 0; f < 3; f++) {
                char msg[FATTN_ERROR_MESSAGE_SIZE], w2[200];
                snprintf(msg, sizeof msg,
                         "%s: params.align = bottom-right != params.causal = top-left: the %s "
                         "must use the causal alignment", fns[f], what);
                snprintf(w2, sizeof w2, "%s; top-left causal + align bottom-right, %s", where,
                         fns[f]);
                fattn_plan *plan = NULL;
                fattn_ref_problem_reset_output(&p);
                fattn_status st =
                    f == 0 ? fattn_check(&p.query, &p.key, &p.value, &p.output, &p.params, &err)
                    : f == 1 ? fattn_forward(&p.query, &p.key, &p.value, &p.output, &p.params,
                                             &err)
                             : fattn_plan_create(&p.query, &p.key, &p.value, &p.output,
                                                 &p.params, &plan, &err);
                pu_expect(w2, st, &err, FATTN_ERR_INCOMPATIBLE_OPTIONS, msg);
                if (pu_not_sentinel(p.out_buf, p.out_elems) || plan)
                    pu_fail(w2, "output written or plan returned on error");
            }
            /* Top-left both ways is fine. */
            p.params.align = FATTN_ALIGN_TOP_LEFT;
            pu_expect(where, fattn_check(&p.query, &p.key, &p.value, &p.output, &p.params, &err),
                      &err, FATTN_OK, NULL);
            free(o0);
            free(l0);
            fattn_ref_problem_free(&p);
        }
    printf("align: %d paths x %zu cases: %d failures\n", n, PU_COUNT(cases),
           pu_failures - before);
}

int main(void)
{
    test_layout1();
    test_align();
    return pu_finish("test_abi");
}
