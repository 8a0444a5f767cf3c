/*
 * harness.c - one problem through every kernel path vs the fp64 reference.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Detailed failure reports per category; later failures are only counted. */
#define KT_MAX_REPORTS 12

void kt_begin(kt_ctx *ctx, const char *category)
{
    ctx->category = category;
    ctx->case_index = 0;
    ctx->failures = 0;
    ctx->warnings = 0;
    ctx->runs = 0;
    fattn_tol_report_init(&ctx->total);
    memset(ctx->cells, 0, sizeof(ctx->cells));
    for (int a = 0; a < FATTN_ISA_COUNT; a++)
        for (int b = 0; b < KT_IN_CLASSES; b++)
            for (int c = 0; c < 3; c++)
                fattn_tol_report_init(&ctx->cells[a][b][c].rep);
}

static const char *const in_class_names[KT_IN_CLASSES] = {"f32", "bf16", "f16",
                                                          "mixed"};

static int in_class(const fattn_ref_problem *p)
{
    const int q = p->query.dtype;
    if (p->key.dtype != q || p->value.dtype != q)
        return KT_IN_MIXED;
    return q == FATTN_DTYPE_BF16 ? KT_IN_BF16 : q == FATTN_DTYPE_F16 ? KT_IN_F16 : KT_IN_F32;
}

int64_t kt_end(kt_ctx *ctx)
{
    const fattn_tol_report *t = &ctx->total;
    printf("%-8s %4" PRIu64 " cases %4" PRId64 " runs %3" PRId64 " failed %3" PRId64
           " warned | output: max err/vmax %.3g (%.1f u) | LSE: max abs %.2g |"
           " err/fail %.3f err/warn %.3f\n",
           ctx->category, ctx->case_index, ctx->runs, ctx->failures, ctx->warnings,
           t->max_err_v, t->max_err_v / 0x1p-24, t->lse_max_err, t->max_fail_ratio,
           t->max_warn_ratio);
    for (int a = 0; a < FATTN_ISA_COUNT; a++)
        for (int b = 0; b < KT_IN_CLASSES; b++)
            for (int c = 0; c < 3; c++) {
                const kt_cell *cl = &ctx->cells[a][b][c];
                if (cl->runs == 0)
                    continue;
                printf("  %-10s q,k,v %-5s out %-4s %5" PRId64 " runs: max %serr/vmax %.3g"
                       " (%.1f u)", fattn_isa_name(a), in_class_names[b],
                       fattn_ref_dtype_name(c), cl->runs,
                       c == FATTN_DTYPE_F32 ? "" : "implied f32 ", cl->rep.max_err_v,
                       cl->rep.max_err_v / 0x1p-24);
                if (c != FATTN_DTYPE_F32)
                    printf(", %.0f ulp from round(ref)", cl->rep.max_err_ulp);
                printf(", LSE %.2g, err/fail %.3f, err/warn %.3f\n", cl->rep.lse_max_err,
                       cl->rep.max_fail_ratio, cl->rep.max_warn_ratio);
            }
    fflush(stdout);
    return ctx->failures;
}

uint64_t kt_next_seed(const kt_ctx *ctx)
{
    fattn_ref_rng rng;
    fattn_ref_rng_seed(&rng, ctx->base_seed ^ (ctx->case_index * 0x2545f4914f6cdd1dull));
    return fattn_ref_rng_next(&rng);
}

fattn_ref_problem_config kt_config(int64_t batch, int64_t heads_q,
                                   int64_t heads_kv, int64_t seq_q,
                                   int64_t seq_k, int64_t head_dim,
                                   int64_t head_dim_v)
{
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, batch, heads_q, seq_q, seq_k, head_dim);
    c.heads_kv = heads_kv;
    c.head_dim_v = head_dim_v;
    return c;
}

static void print_case(const kt_ctx *ctx, const fattn_ref_problem *p,
                       const char *label)
{
    static char desc[8192];
    printf("  case: %s #%" PRIu64 " (%s), base seed %" PRIu64 "\n  %s\n",
           ctx->category, ctx->case_index, label, ctx->base_seed,
           fattn_ref_problem_describe(p, desc, sizeof(desc)));
    printf("  reproduce: %s %s --seed=%" PRIu64 " --case=%" PRIu64 "\n",
           ctx->program, ctx->category, ctx->base_seed, ctx->case_index);
}

static int report_failure(kt_ctx *ctx, const fattn_ref_problem *p,
                          const char *label, const char *what,
                          const char *detail)
{
    if (ctx->failures < KT_MAX_REPORTS) {
        printf("FAIL %s%s\n", what, detail);
        print_case(ctx, p, label);
    } else if (ctx->failures == KT_MAX_REPORTS) {
        printf("FAIL ... (more failures in %s, details omitted)\n",
               ctx->category);
    }
    return 0;
}

static void describe_report(char *buf, size_t size, const char *isa,
                            const fattn_tol *tol, const fattn_tol_report *rep,
                            int64_t gaps)
{
    char tol_text[256];
    const int64_t *w = rep->worst;
    char where[64] = "LSE";
    if (w[3] >= 0)
        snprintf(where, sizeof(where), "d=%" PRId64, w[3]);
    snprintf(buf, size,
             "isa=%s: %" PRId64 " of %" PRId64 " output and LSE elements beyond %s"
             " (0 for fully masked rows), worst at b=%" PRId64 " h=%" PRId64 " i=%" PRId64
             " %s: got %.9g ref %.9g bound %.3g (err/bound %.3g); %" PRId64
             " gap elements written",
             isa, rep->fails, rep->checked, fattn_tol_describe(tol, tol_text, sizeof tol_text),
             w[0], w[1], w[2], where, rep->worst_got, rep->worst_ref, rep->worst_bound,
             rep->max_fail_ratio, gaps);
}

static int run_isa(kt_ctx *ctx, fattn_ref_problem *p, const char *label,
                   int isa, fattn_tol *tol_out)
{
    char detail[1024];
    fattn_error err;
    fattn_tol_report rep;

    p->params.isa = isa;
    fattn_ref_problem_reset_output(p);
    memset(&err, 0x55, sizeof(err)); /* success must reset the record */
    const fattn_status st = fattn_forward(&p->query, &p->key, &p->value,
                                          &p->output, &p->params, &err);
    ctx->runs++;
    if (st != FATTN_OK) {
        snprintf(detail, sizeof(detail), "isa=%s: status %s: %s",
                 fattn_isa_name(isa), fattn_status_name(st), err.message);
        return report_failure(ctx, p, label, "fattn_forward failed, ", detail);
    }
    if (err.status != FATTN_OK || err.message[0] != '\0') {
        snprintf(detail, sizeof(detail), "isa=%s: error record not reset on success",
                 fattn_isa_name(isa));
        return report_failure(ctx, p, label, "", detail);
    }
    const fattn_tol tol = fattn_tol_of(&p->query, &p->key, &p->value, &p->output,
                                       &p->params);
    *tol_out = tol;
    const int pass = fattn_tol_check_problem(p, &tol, &rep);
    const int64_t gaps = fattn_ref_problem_gaps_touched(p);
    fattn_tol_report_merge(&ctx->total, &rep);
    const int oc = p->output.dtype >= 0 && p->output.dtype < 3 ? p->output.dtype : 0;
    kt_cell *cell = &ctx->cells[isa][in_class(p)][oc];
    cell->runs++;
    fattn_tol_report_merge(&cell->rep, &rep);
    if (!pass || gaps != 0) {
        describe_report(detail, sizeof(detail), fattn_isa_name(isa), &tol, &rep, gaps);
        return report_failure(ctx, p, label, "", detail);
    }
    if (rep.warns > 0) {
        if (ctx->warnings < KT_MAX_REPORTS) {
            printf("WARN isa=%s: %" PRId64 " of %" PRId64 " elements beyond the warn bound"
                   " (err/warn %.3g, err/fail %.3g), ",
                   fattn_isa_name(isa), rep.warns, rep.checked, rep.max_warn_ratio,
                   rep.max_fail_ratio);
            fattn_tol_print_worst(stdout, &rep);
            printf("\n");
            print_case(ctx, p, label);
        }
        ctx->warnings++;
    }
    return 1;
}

/* Elements where the output (or LSE) of another path, in `o` and `l`
 * (copies of the buffers, laid out as the problem's), differs from the
 * first path's (`o0`, `l0`) beyond the sum of both tolerances. */
static int64_t count_disagreements(const fattn_ref_problem *p, const void *o0,
                                   const float *l0, const fattn_tol *t0,
                                   const void *o, const float *l,
                                   const fattn_tol *t)
{
    const fattn_ref_problem_config *c = &p->config;
    fattn_tensor a = p->output, b = p->output, la = p->lse, lb = p->lse;
    int64_t bad = 0;
    size_t row = 0;
    a.data = (void *)o0;
    b.data = (void *)o;
    la.data = (void *)l0;
    lb.data = (void *)l;
    for (int64_t n = 0; n < c->batch; n++)
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = 0; i < c->seq_q; i++, row++) {
                const fattn_ref_row_stats *st = &p->ref_stats[row];
                const int exact = p->ref_lse[row] == -INFINITY;
                for (int64_t d = 0; d < c->head_dim_v; d++) {
                    const double ref = p->ref_out[row * (size_t)c->head_dim_v + (size_t)d];
                    const double b0 = exact ? 0.0 : fattn_tol_out_bound(&t0->fail, a.dtype, st, ref);
                    const double b1 = exact ? 0.0 : fattn_tol_out_bound(&t->fail, a.dtype, st, ref);
                    bad += !fattn_tol_agree(fattn_ref_elem(&a, n, h, i, d),
                                            fattn_ref_elem(&b, n, h, i, d), b0, b1);
                }
                if (p->params.lse) {
                    const double ref = p->ref_lse[row];
                    bad += !fattn_tol_agree(fattn_ref_elem(&la, n, h, i, 0),
                                            fattn_ref_elem(&lb, n, h, i, 0),
                                            fattn_tol_lse_bound(&t0->fail, st, ref),
                                            fattn_tol_lse_bound(&t->fail, st, ref));
                }
            }
    return bad;
}

int kt_run_problem(kt_ctx *ctx, fattn_ref_problem *p, const char *label)
{
    int ok = 1;

    if (ctx->only_case >= 0 && ctx->case_index != (uint64_t)ctx->only_case) {
        ctx->case_index++;
        return 1;
    }

    fattn_error err;
    const int saved_isa = p->params.isa;
    const fattn_status st = fattn_check(&p->query, &p->key, &p->value,
                                        &p->output, &p->params, &err);
    if (st != FATTN_OK) {
        char detail[FATTN_ERROR_MESSAGE_SIZE + 64];
        snprintf(detail, sizeof(detail), "%s: %s", fattn_status_name(st),
                 err.message);
        ok = report_failure(ctx, p, label,
                            "fattn_check rejected a valid case: ", detail);
    } else if (fattn_ref_problem_reference(p) != 0) {
        ok = report_failure(ctx, p, label, "", "out of memory (reference)");
    } else {
        /* Each path against the reference, then against the first path:
         * the paths must agree with each other as well (checkasm's habit),
         * to twice the reference tolerance, NaN where the first has NaN. */
        unsigned char *first_out = malloc((p->out_elems + 1) * p->out_esize);
        float *first_lse = malloc((p->lse_elems + 1) * sizeof(float));
        fattn_tol first_tol = fattn_tol_for(FATTN_TOL_F32, FATTN_DTYPE_F32), tol;
        int have_first = 0;
        for (int k = 0; k < ctx->n_isas; k++) {
            const int run_ok = run_isa(ctx, p, label, ctx->isas[k], &tol);
            ok &= run_ok;
            if (!first_out || !first_lse || !run_ok)
                continue;
            if (!have_first) {
                have_first = 1;
                first_tol = tol;
                memcpy(first_out, p->out_buf, p->out_elems * p->out_esize);
                if (p->lse_buf)
                    memcpy(first_lse, p->lse_buf, p->lse_elems * sizeof(float));
                continue;
            }
            const int64_t bad = count_disagreements(p, first_out, first_lse, &first_tol,
                                                    p->out_buf, p->lse_buf, &tol);
            if (bad) {
                char detail[200];
                snprintf(detail, sizeof(detail), "isa=%s disagrees with isa=%s in %" PRId64
                         " elements (beyond the sum of their tolerances)",
                         fattn_isa_name(ctx->isas[k]), fattn_isa_name(ctx->isas[0]), bad);
                ok &= report_failure(ctx, p, label, "", detail);
            }
        }
        free(first_out);
        free(first_lse);
    }
    p->params.isa = saved_isa;

    ctx->failures += !ok;
    ctx->case_index++;
    return ok;
}

int kt_run(kt_ctx *ctx, fattn_ref_problem_config *cfg, const char *label)
{
    return kt_run_edited(ctx, cfg, NULL, NULL, label);
}

int kt_run_edited(kt_ctx *ctx, fattn_ref_problem_config *cfg, kt_edit_fn edit,
                  const void *arg, const char *label)
{
    fattn_ref_problem p;

    if (ctx->only_case >= 0 && ctx->case_index != (uint64_t)ctx->only_case) {
        ctx->case_index++;
        return 1;
    }
    cfg->seed = kt_next_seed(ctx);
    if (fattn_ref_problem_init(&p, cfg) != 0) {
        printf("FAIL %s #%" PRIu64 " (%s): the test built an impossible or "
               "too large config (B=%" PRId64 " Hq=%" PRId64 " Hkv=%" PRId64
               " Sq=%" PRId64 " Sk=%" PRId64 " D=%" PRId64 " Dv=%" PRId64
               " layout=%s)\n",
               ctx->category, ctx->case_index, label, cfg->batch, cfg->heads_q,
               cfg->heads_kv, cfg->seq_q, cfg->seq_k, cfg->head_dim,
               cfg->head_dim_v, fattn_ref_layout_name(cfg->layout));
        ctx->failures++;
        ctx->case_index++;
        return 0;
    }
    if (edit)
        edit(&p, arg);
    const int ok = kt_run_problem(ctx, &p, label);
    fattn_ref_problem_free(&p);
    return ok;
}
