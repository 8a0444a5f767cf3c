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
    ctx->runs = 0;
    fattn_ref_report_init(&ctx->total);
    fattn_ref_report_init(&ctx->total_lse);
}

int64_t kt_end(kt_ctx *ctx)
{
    const fattn_ref_report *t = &ctx->total, *l = &ctx->total_lse;
    printf("%-8s %4" PRIu64 " cases %4" PRId64 " runs %3" PRId64
           " failed | output: max abs %.2g rel %.2g err/tol %.3f"
           " | LSE: max abs %.2g rel %.2g err/tol %.3f\n",
           ctx->category, ctx->case_index, ctx->runs, ctx->failures,
           t->max_abs_err, t->max_rel_err, t->max_ratio, l->max_abs_err,
           l->max_rel_err, l->max_ratio);
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
                            const fattn_ref_report *out,
                            const fattn_ref_report *lse, int64_t gaps)
{
    /* The worse of the two reports names the worst element. */
    const fattn_ref_report *r =
        lse->worst[0] >= 0 && lse->max_excess > out->max_excess ? lse : out;
    const int64_t *w = r->worst;
    char where[64] = "LSE";
    if (w[3] >= 0)
        snprintf(where, sizeof(where), "d=%" PRId64, w[3]);
    snprintf(buf, size,
             "isa=%s: %" PRId64 " of %" PRId64 " output and %" PRId64 " of %" PRId64
             " LSE elements outside |x-ref| <= %g + %g|ref| (0 for fully masked"
             " rows), worst at b=%" PRId64 " h=%" PRId64 " i=%" PRId64
             " %s: got %.9g ref %.9g; %" PRId64 " gap elements written",
             isa, out->violations, out->checked, lse->violations, lse->checked,
             KT_ATOL, KT_RTOL, w[0], w[1], w[2], where, r->worst_got,
             r->worst_ref, gaps);
}

static int run_isa(kt_ctx *ctx, fattn_ref_problem *p, const char *label,
                   int isa)
{
    char detail[1024];
    fattn_error err;
    fattn_ref_report rep, rep_lse;

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
    const int pass = fattn_ref_problem_compare(p, KT_ATOL, KT_RTOL, &rep, &rep_lse);
    const int64_t gaps = fattn_ref_problem_gaps_touched(p);
    fattn_ref_report_merge(&ctx->total, &rep);
    fattn_ref_report_merge(&ctx->total_lse, &rep_lse);
    if (!pass || gaps != 0) {
        describe_report(detail, sizeof(detail), fattn_isa_name(isa), &rep,
                        &rep_lse, gaps);
        return report_failure(ctx, p, label, "", detail);
    }
    return 1;
}

/* Elements where two paths' results differ beyond twice the tolerance; NaN
 * must meet NaN, and infinities must match exactly. */
static int64_t count_disagreements(const float *a, const float *b, size_t n)
{
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            bad += isnan(a[i]) != isnan(b[i]);
            continue;
        }
        if (isinf(a[i]) || isinf(b[i])) {
            bad += a[i] != b[i];
            continue;
        }
        double tol = 2.0 * (KT_ATOL + KT_RTOL * fabs((double)a[i]));
        bad += fabs((double)a[i] - (double)b[i]) > tol;
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
        float *first_out = malloc((p->out_elems + 1) * sizeof(float));
        float *first_lse = malloc((p->lse_elems + 1) * sizeof(float));
        for (int k = 0; k < ctx->n_isas; k++) {
            ok &= run_isa(ctx, p, label, ctx->isas[k]);
            if (!first_out || !first_lse)
                continue;
            if (k == 0) {
                memcpy(first_out, p->out_buf, p->out_elems * sizeof(float));
                if (p->lse_buf)
                    memcpy(first_lse, p->lse_buf, p->lse_elems * sizeof(float));
                continue;
            }
            int64_t bad = count_disagreements(first_out, p->out_buf, p->out_elems);
            if (p->lse_buf)
                bad += count_disagreements(first_lse, p->lse_buf, p->lse_elems);
            if (bad) {
                char detail[160];
                snprintf(detail, sizeof(detail), "isa=%s disagrees with isa=%s in %" PRId64
                         " elements (beyond 2 * tolerance)", fattn_isa_name(ctx->isas[k]),
                         fattn_isa_name(ctx->isas[0]), bad);
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
