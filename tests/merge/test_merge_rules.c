/*
 * test_merge_rules.c - fattn_merge's per-row rules and promises (fattn.h,
 * "Merging partial results"), each on random problems split into parts
 * (merge_util.h), checked exactly rather than within a tolerance:
 *   identity    one part merges to itself: its values and LSE
 *   masked      a part whose LSE is -inf and whose output is NaN, at any
 *               place in the list, changes no bit (its rows are not read)
 *   all_masked  every part -inf: output +0 and LSE -inf
 *   nan         a NaN or +inf LSE in one part's row: that row's output and
 *               LSE NaN, every other bit as before
 *   twice       one part (one buffer) merged with itself: its values, its
 *               LSE + log 2 (the keys counted twice)
 *   broadcast   a part broadcast with stride 0 along any dimension merges
 *               to the bits of a copy of it
 *   order       the same parts in the same order give the same bits; in
 *               reverse order, the reference again
 *   empty       B = 0, Sq = 0, and 2^40 heads with Sq = 0: ok at once,
 *               nothing written
 *
 * `test_merge_rules [seed]` (default 1).
 */
#include "merge_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROBLEMS = 12 };

static int isas[FATTN_ISA_COUNT], n_isas;
static fattn_ref_rng rng;

static int64_t R(int64_t lo, int64_t hi)
{
    return fattn_ref_rng_range(&rng, lo, hi);
}

/* A random problem with rows to merge (B, Sq >= 1), Dv sometimes past the
 * merge's column block, split into `parts` parts; 0 if the split failed. */
static int make(fattn_ref_problem *p, mu_split *s, int32_t parts,
                const char *where)
{
    fattn_ref_problem_config c = mu_random_config(&rng, 1, 0);
    c.batch = R(1, 3);
    c.seq_q = R(1, 12);
    if (R(0, 3) == 0)
        c.head_dim_v = R(250, 300);
    if (c.layout == FATTN_REF_LAYOUT_FUSED_QKV)
        c.layout = FATTN_REF_LAYOUT_BHSD;
    pu_problem(p, &c);
    mu_split_init(s, parts);
    return mu_split_problem(s, p, (int)R(MU_RANGES, MU_SCATTER),
                            isas[R(0, n_isas - 1)], &rng, where);
}

/* Merge into p's output and LSE (reset to the sentinel first). */
static int merge(const char *where, fattn_ref_problem *p, int32_t parts,
                 const fattn_tensor *outs, const fattn_tensor *lses)
{
    fattn_error err;
    fattn_ref_problem_reset_output(p);
    const fattn_status st = fattn_merge(parts, outs, lses, &p->output, &p->lse, &err);
    return pu_expect(where, st, &err, FATTN_OK, NULL);
}

static float *snapshot(const float *buf, size_t n)
{
    float *c = pu_xalloc((n ? n : 1) * sizeof *c);
    memcpy(c, buf, (n ? n : 1) * sizeof *c);
    return c;
}

/* p's output and LSE buffers, gaps included, equal to the snapshots. */
static void expect_same(const char *where, const fattn_ref_problem *p,
                        const float *out, const float *lse)
{
    const int64_t od = pu_first_diff(out, p->out_buf, p->out_elems * sizeof *out);
    const int64_t ld = pu_first_diff(lse, p->lse_buf, p->lse_elems * sizeof *lse);
    if (od >= 0 || ld >= 0)
        pu_fail(where, "bits changed (first output byte %" PRId64 ", LSE byte %" PRId64
                ")\n  %s", od, ld, pu_describe(p));
}

/*
 * One rule's case: a random problem split into parts, merged once into the
 * problem's own output and LSE; out and lse hold that merge's bits, gaps
 * included, and so and sl view them in the output's and LSE's layouts.
 */
typedef struct rcase {
    fattn_ref_problem p;
    mu_split s;
    float *out, *lse;
    fattn_tensor so, sl;
    int n; /* the case's index in its rule */
} rcase;

/* PROBLEMS cases of `rule`, with lo .. hi parts. */
static void each_case(const char *name, int32_t lo, int32_t hi,
                      void (*rule)(rcase *c))
{
    for (int n = 0; n < PROBLEMS; n++) {
        rcase c;
        c.n = n;
        if (make(&c.p, &c.s, (int32_t)R(lo, hi), name) &&
            merge(name, &c.p, c.s.parts, c.s.out, c.s.lse)) {
            c.out = snapshot(c.p.out_buf, c.p.out_elems);
            c.lse = snapshot(c.p.lse_buf, c.p.lse_elems);
            c.so = c.p.output;
            c.sl = c.p.lse;
            c.so.data = c.out;
            c.sl.data = c.lse;
            rule(&c);
            free(c.out);
            free(c.lse);
        }
        mu_split_free(&c.s);
        fattn_ref_problem_free(&c.p);
    }
}

/* One part merges to itself: its values (a -0 may come back +0). */
static void identity(rcase *c)
{
    const int64_t od = mu_first_diff(&c->p.output, &c->s.out[0], 0);
    const int64_t ld = mu_first_diff(&c->p.lse, &c->s.lse[0], 0);
    if (od >= 0 || ld >= 0)
        pu_fail("identity", "differs from the part (first output element %" PRId64
                ", LSE element %" PRId64 ")\n  %s", od, ld, pu_describe(&c->p));
}

/* Fully masked parts (NaN outputs, LSE -inf) inserted anywhere change no
 * bit; with only those, +0 and -inf. */
static void masked(rcase *c)
{
    fattn_ref_problem *p = &c->p;
    const int32_t parts = c->s.parts, extra = (int32_t)R(1, 3);
    mu_split t;
    mu_split_init(&t, parts + extra);
    int32_t from = 0;
    for (int32_t k = 0; k < t.parts; k++) {
        const int masked_here = t.parts - k > parts - from && (from == parts || R(0, 1));
        if (!masked_here) { /* borrowed: t does not own it */
            t.out[k] = c->s.out[from];
            t.lse[k] = c->s.lse[from++];
            continue;
        }
        mu_part_buffers(&t, k, p, &rng);
        mu_fill(&t.out[k], NAN);
        mu_fill(&t.lse[k], -INFINITY);
    }
    if (merge("masked", p, t.parts, t.out, t.lse))
        expect_same("masked: fully masked parts inserted", p, c->out, c->lse);
    int32_t m = 0; /* now the masked ones alone */
    for (int32_t k = 0; k < t.parts; k++)
        if (t.out_buf[k]) {
            t.out[m] = t.out[k];
            t.lse[m++] = t.lse[k];
        }
    if (merge("all_masked", p, m, t.out, t.lse)) {
        float z = 0.0f, l = -INFINITY;
        fattn_tensor zero = p->output, ninf = p->lse;
        zero.data = &z;
        ninf.data = &l;
        memset(zero.stride, 0, sizeof zero.stride);
        memset(ninf.stride, 0, sizeof ninf.stride);
        if (mu_first_diff(&p->output, &zero, 1) >= 0 || mu_first_diff(&p->lse, &ninf, 1) >= 0)
            pu_fail("all_masked", "not +0 and -inf\n  %s", pu_describe(p));
    }
    mu_split_free(&t); /* frees only what t owns */
}

/* One row of one part's LSE NaN or +inf: that row NaN, the rest as before. */
static void nan_row(rcase *c)
{
    fattn_ref_problem *p = &c->p;
    const fattn_ref_problem_config *g = &p->config;
    const int64_t b = R(0, g->batch - 1), h = R(0, g->heads_q - 1), i = R(0, g->seq_q - 1);
    float *l = mu_at(&c->s.lse[R(0, c->s.parts - 1)], b, h, i, 0);
    const float keep = *l;
    *l = c->n % 2 ? INFINITY : NAN;
    if (merge("nan", p, c->s.parts, c->s.out, c->s.lse)) {
        int all = isnan(*mu_at(&p->lse, b, h, i, 0)) != 0;
        /* The snapshot's bits back in the row, so that the rest compares
         * whole. */
        *mu_at(&p->lse, b, h, i, 0) = *mu_at(&c->sl, b, h, i, 0);
        for (int64_t e = 0; e < g->head_dim_v; e++) {
            all &= isnan(*mu_at(&p->output, b, h, i, e)) != 0;
            *mu_at(&p->output, b, h, i, e) = *mu_at(&c->so, b, h, i, e);
        }
        if (!all)
            pu_fail("nan", "a %s LSE at (%" PRId64 ", %" PRId64 ", %" PRId64
                    ") left its row not NaN\n  %s", c->n % 2 ? "+inf" : "NaN", b, h, i,
                    pu_describe(p));
        expect_same("nan: the other rows", p, c->out, c->lse);
    }
    *l = keep;
}

/* The one part merged with itself, one buffer read twice: its values, its
 * LSE + log 2 in double rounded once (the keys counted twice). */
static void twice(rcase *c)
{
    fattn_ref_problem *p = &c->p;
    const fattn_tensor outs[2] = {c->s.out[0], c->s.out[0]};
    const fattn_tensor lses[2] = {c->s.lse[0], c->s.lse[0]};
    if (!merge("twice", p, 2, outs, lses))
        return;
    fattn_tensor want = c->sl; /* the snapshot's buffer, rewritten */
    for (int64_t b = 0; b < want.shape[0]; b++)
        for (int64_t h = 0; h < want.shape[1]; h++)
            for (int64_t i = 0; i < want.shape[2]; i++)
                *mu_at(&want, b, h, i, 0) =
                    (float)((double)*mu_at(&c->s.lse[0], b, h, i, 0) + log(2.0));
    const int64_t od = mu_first_diff(&p->output, &c->s.out[0], 0);
    const int64_t ld = mu_first_diff(&p->lse, &want, 1);
    if (od >= 0 || ld >= 0)
        pu_fail("twice", "not the part's output and LSE + log 2 (first output element %"
                PRId64 ", LSE %" PRId64 ")\n  %s", od, ld, pu_describe(p));
}

/* A contiguous copy of t, stride 0 dimensions materialised. */
static float *copy_of(const fattn_tensor *t, fattn_tensor *c)
{
    const int64_t *n = t->shape;
    float *buf = pu_xalloc((size_t)(n[0] * n[1] * n[2] * n[3] + 1) * sizeof *buf);
    fattn_tensor_contiguous(c, buf, FATTN_DTYPE_F32, n[0], n[1], n[2], n[3]);
    for (int64_t b = 0; b < n[0]; b++)
        for (int64_t h = 0; h < n[1]; h++)
            for (int64_t i = 0; i < n[2]; i++)
                for (int64_t e = 0; e < n[3]; e++)
                    *mu_at(c, b, h, i, e) = *mu_at(t, b, h, i, e);
    return buf;
}

/* Part 0 broadcast along dimension n % 4 (stride 0: every index reads
 * index 0) merges to the bits of a materialised copy of that view. */
static void broadcast(rcase *c)
{
    fattn_ref_problem *p = &c->p;
    const int32_t parts = c->s.parts;
    const int d = c->n % 4;
    fattn_tensor bo[3], bl[3], co, cl;
    memcpy(bo, c->s.out, (size_t)parts * sizeof *bo);
    memcpy(bl, c->s.lse, (size_t)parts * sizeof *bl);
    bo[0].stride[d] = 0;
    if (d < 3) /* the LSE's last dimension has size 1 */
        bl[0].stride[d] = 0;
    float *ob = copy_of(&bo[0], &co), *lb = copy_of(&bl[0], &cl);
    if (merge("broadcast", p, parts, bo, bl)) {
        float *out = snapshot(p->out_buf, p->out_elems);
        float *lse = snapshot(p->lse_buf, p->lse_elems);
        bo[0] = co;
        bl[0] = cl;
        if (merge("broadcast: the copy", p, parts, bo, bl))
            expect_same("broadcast: stride 0 against a copy", p, out, lse);
        free(out);
        free(lse);
    }
    free(ob);
    free(lb);
}

/* The same order again: the same bits. Reversed: the reference again. */
static mu_totals order_totals;

static void order(rcase *c)
{
    fattn_ref_problem *p = &c->p;
    mu_split *s = &c->s;
    const int32_t parts = s->parts;
    if (merge("order: again", p, parts, s->out, s->lse))
        expect_same("order: the same order again", p, c->out, c->lse);
    for (int32_t k = 0; k < parts / 2; k++) {
        const int32_t j = parts - 1 - k;
        const fattn_tensor o = s->out[k], l = s->lse[k];
        float *ob = s->out_buf[k], *lb = s->lse_buf[k];
        s->out[k] = s->out[j];
        s->lse[k] = s->lse[j];
        s->out_buf[k] = s->out_buf[j];
        s->lse_buf[k] = s->lse_buf[j];
        s->out[j] = o;
        s->lse[j] = l;
        s->out_buf[j] = ob;
        s->lse_buf[j] = lb;
    }
    mu_merge_check("order: reversed", p, s, 1, &order_totals);
}

/* Nothing to merge: ok, nothing written, no loop over 2^40 heads. */
static void test_empty(void)
{
    for (int n = 0; n < 4; n++) {
        fattn_ref_problem p;
        mu_split s;
        fattn_ref_problem_config c = mu_random_config(&rng, 1, 0);
        if (n % 2)
            c.batch = 0;
        else
            c.seq_q = 0;
        pu_problem(&p, &c);
        mu_split_init(&s, (int32_t)R(1, 4));
        if (mu_split_problem(&s, &p, MU_SCATTER, isas[0], &rng, "empty") &&
            merge("empty", &p, s.parts, s.out, s.lse) &&
            (pu_not_sentinel(p.out_buf, p.out_elems ? p.out_elems : 1) != 0 ||
             pu_not_sentinel(p.lse_buf, p.lse_elems ? p.lse_elems : 1) != 0))
            pu_fail("empty", "an empty merge wrote\n  %s", pu_describe(&p));
        mu_split_free(&s);
        fattn_ref_problem_free(&p);
    }
    static float four[4];
    fattn_tensor o[2], l[2], out, lse;
    fattn_error err;
    for (int k = 0; k < 2; k++) {
        fattn_tensor_contiguous(&o[k], four, FATTN_DTYPE_F32, FATTN_MAX_DIM,
                                FATTN_MAX_DIM, 0, 4);
        fattn_tensor_contiguous(&l[k], four, FATTN_DTYPE_F32, FATTN_MAX_DIM,
                                FATTN_MAX_DIM, 0, 1);
    }
    fattn_tensor_contiguous(&out, four, FATTN_DTYPE_F32, FATTN_MAX_DIM,
                            FATTN_MAX_DIM, 0, 4);
    lse = l[0];
    pu_expect("empty: 2^40 x 2^40 heads, Sq = 0",
              fattn_merge(2, o, l, &out, &lse, &err), &err, FATTN_OK, NULL);
}

int main(int argc, char **argv)
{
    fattn_ref_rng_seed(&rng, argc > 1 ? strtoull(argv[1], NULL, 0) : 1);
    n_isas = pu_paths(isas, FATTN_ISA_COUNT);
    mu_totals_init(&order_totals);
    each_case("identity", 1, 1, identity);
    each_case("masked", 1, 4, masked);
    each_case("nan", 1, 4, nan_row);
    each_case("twice", 1, 1, twice);
    each_case("broadcast", 1, 3, broadcast);
    each_case("order", 3, 8, order);
    mu_totals_print(&order_totals, "reversed");
    test_empty();
    return pu_finish("test_merge_rules");
}
