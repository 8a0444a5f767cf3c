/*
 * merge_util.c - splitting a problem's keys into parts and checking their
 * merge (see merge_util.h).
 */
#include "merge_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static int64_t R(fattn_ref_rng *rng, int64_t lo, int64_t hi)
{
    return fattn_ref_rng_range(rng, lo, hi);
}

const char *mu_split_name(int how)
{
    static const char *const names[MU_SPLITS] = {"views", "ranges", "scatter"};
    return how >= 0 && how < MU_SPLITS ? names[how] : "?";
}

void mu_split_init(mu_split *s, int32_t parts)
{
    s->parts = parts;
    s->out = xcalloc((size_t)parts, sizeof *s->out);
    s->lse = xcalloc((size_t)parts, sizeof *s->lse);
    s->out_buf = xcalloc((size_t)parts, sizeof *s->out_buf);
    s->lse_buf = xcalloc((size_t)parts, sizeof *s->lse_buf);
}

void mu_split_free(mu_split *s)
{
    for (int32_t k = 0; k < s->parts; k++) {
        free(s->out_buf[k]);
        free(s->lse_buf[k]);
    }
    free(s->out);
    free(s->lse);
    free(s->out_buf);
    free(s->lse_buf);
    memset(s, 0, sizeof *s);
}

void mu_part_buffers(mu_split *s, int32_t k, const fattn_ref_problem *p,
                     fattn_ref_rng *rng)
{
    const fattn_ref_problem_config *c = &p->config;
    const int64_t oshape[4] = {c->batch, c->heads_q, c->seq_q, c->head_dim_v};
    const int64_t lshape[4] = {c->batch, c->heads_q, c->seq_q, 1};
    size_t n;
    /* Layouts 0..3: BHSD, BSHD, padded, strided. */
    s->out_buf[k] = fattn_ref_tensor_alloc(
        &s->out[k], (int)R(rng, 0, 3), oshape, &n);
    s->lse_buf[k] = fattn_ref_tensor_alloc(
        &s->lse[k], (int)R(rng, 0, 3), lshape, &n);
    if (!s->out_buf[k] || !s->lse_buf[k]) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

int mu_positional(const fattn_ref_problem *p)
{
    const fattn_params *pr = &p->params;
    return pr->causal != FATTN_CAUSAL_NONE || pr->window_enabled ||
           pr->alibi_slopes;
}

float *mu_at(const fattn_tensor *t, int64_t b, int64_t h, int64_t i,
             int64_t e)
{
    return (float *)t->data + b * t->stride[0] + h * t->stride[1] +
           i * t->stride[2] + e * t->stride[3];
}

void mu_fill(const fattn_tensor *t, float x)
{
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t i = 0; i < t->shape[2]; i++)
                for (int64_t e = 0; e < t->shape[3]; e++)
                    *mu_at(t, b, h, i, e) = x;
}

int64_t mu_first_diff(const fattn_tensor *a, const fattn_tensor *b, int bits)
{
    int64_t n = 0;
    for (int64_t x = 0; x < a->shape[0]; x++)
        for (int64_t h = 0; h < a->shape[1]; h++)
            for (int64_t i = 0; i < a->shape[2]; i++)
                for (int64_t e = 0; e < a->shape[3]; e++, n++) {
                    const float *p = mu_at(a, x, h, i, e), *q = mu_at(b, x, h, i, e);
                    if (bits ? memcmp(p, q, sizeof *p) != 0
                             : !(*p == *q || (isnan(*p) && isnan(*q))))
                        return n;
                }
    return -1;
}

/* The problem's own mask at (b, h, i, j) as an additive value (a bool
 * mask or none: 0 or -inf); size-1 dimensions broadcast. */
static float mask_at(const fattn_ref_problem *p, int64_t b, int64_t h,
                     int64_t i, int64_t j)
{
    const fattn_tensor *m = p->params.mask;
    if (!m)
        return 0.0f;
    const int64_t c[4] = {b, h, i, j};
    int64_t off = 0;
    for (int d = 0; d < 4; d++)
        if (m->shape[d] != 1)
            off += c[d] * m->stride[d];
    if (m->dtype == FATTN_DTYPE_BOOL)
        return ((const uint8_t *)m->data)[off] ? 0.0f : -INFINITY;
    return ((const float *)m->data)[off];
}

fattn_ref_problem_config mu_random_config(fattn_ref_rng *rng, int positional,
                                          int large)
{
    const int64_t hkv = R(rng, 1, 3), group = R(rng, 1, 3), d = R(rng, 1, 40);
    const int64_t batch = R(rng, 0, 7) ? R(rng, 1, 3) : 0;
    const int64_t seq_q = R(rng, 0, 9) ? R(rng, 1, 40) : 0;
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, batch, hkv * group, seq_q, R(rng, 0, 70), d);
    c.seed = fattn_ref_rng_next(rng);
    c.heads_kv = hkv;
    c.head_dim_v = R(rng, 0, 1) ? d : R(rng, 1, 40);
    c.layout = (int)R(rng, 0, FATTN_REF_LAYOUT_COUNT - 1);
    if (c.layout == FATTN_REF_LAYOUT_FUSED_QKV &&
        (c.seq_q != c.seq_k || group != 1 || c.head_dim_v != d))
        c.layout = FATTN_REF_LAYOUT_BSHD;
    c.mask = (int)R(rng, 0, 2);
    c.mask_size1 = (unsigned)R(rng, 0, 15);
    c.mask_stride0 = (unsigned)R(rng, 0, 15);
    c.mask_drop = 0.3;
    c.mask_dead_rows = 0.1;
    c.lse = 1;
    c.q_lengths = R(rng, 0, 3) == 0;
    c.kv_lengths = R(rng, 0, 2) == 0;
    c.large_logits = large;
    c.params.softcap = R(rng, 0, 4) == 0 ? 5.0f : 0.0f;
    if (positional) {
        c.params.causal = (int32_t)R(rng, 0, 2);
        if (c.params.causal == FATTN_CAUSAL_NONE)
            c.params.align = (int32_t)R(rng, 0, 1);
        if (R(rng, 0, 2) == 0) {
            c.params.window_enabled = 1;
            c.params.window_left = R(rng, -1, 8);
            c.params.window_right = R(rng, -1, 8);
        }
        c.alibi = R(rng, 0, 3) == 0;
    }
    return c;
}

/* parts + 1 sorted bounds from 0 to sk: contiguous ranges, some empty. */
static void random_bounds(int64_t *bounds, int32_t parts, int64_t sk,
                          fattn_ref_rng *rng)
{
    bounds[0] = 0;
    bounds[parts] = sk;
    for (int32_t k = 1; k < parts; k++)
        bounds[k] = R(rng, 0, sk);
    for (int32_t a = 1; a < parts; a++) /* insertion sort */
        for (int32_t b = a; b > 1 && bounds[b] < bounds[b - 1]; b--) {
            const int64_t t = bounds[b];
            bounds[b] = bounds[b - 1];
            bounds[b - 1] = t;
        }
}

static int run_part(const char *where, int32_t k, const fattn_ref_problem *p,
                    const fattn_tensor *key, const fattn_tensor *value,
                    const fattn_params *pp, const mu_split *s)
{
    fattn_error err;
    const fattn_status st = fattn_forward(&p->query, key, value, &s->out[k],
                                          pp, &err);
    if (st == FATTN_OK)
        return 1;
    pu_fail(where, "part %" PRId32 " of %" PRId32 ": fattn_forward: %s\n  %s", k,
            s->parts, err.message, pu_describe(p));
    return 0;
}

static int split_views(mu_split *s, const fattn_ref_problem *p, int isa,
                       fattn_ref_rng *rng, const char *where)
{
    const fattn_ref_problem_config *c = &p->config;
    int64_t *bounds = xcalloc((size_t)s->parts + 1, sizeof *bounds);
    int64_t *len = xcalloc((size_t)c->batch, sizeof *len);
    int ok = 1;
    random_bounds(bounds, s->parts, c->seq_k, rng);
    for (int32_t k = 0; ok && k < s->parts; k++) {
        const int64_t a = bounds[k], n = bounds[k + 1] - a;
        fattn_tensor key = p->key, value = p->value, mask = p->mask;
        fattn_params pp = p->params;
        const int mask_keys = pp.mask && mask.shape[3] != 1;
        /* An empty range keeps the data pointers: a + 1 rows past the
         * start may lie past the buffer. */
        if (n > 0) {
            key.data = (float *)key.data + a * key.stride[2];
            value.data = (float *)value.data + a * value.stride[2];
            if (mask_keys)
                mask.data = (char *)mask.data +
                            a * mask.stride[3] * (mask.dtype == FATTN_DTYPE_BOOL ? 1 : 4);
        }
        key.shape[2] = value.shape[2] = n;
        if (mask_keys)
            mask.shape[3] = n;
        if (pp.kv_lengths) {
            for (int64_t b = 0; b < c->batch; b++) {
                const int64_t l = pp.kv_lengths[b] - a;
                len[b] = l < 0 ? 0 : l > n ? n : l;
            }
            pp.kv_lengths = len;
        }
        pp.mask = pp.mask ? &mask : NULL;
        pp.lse = &s->lse[k];
        pp.isa = isa;
        mu_part_buffers(s, k, p, rng);
        ok = run_part(where, k, p, &key, &value, &pp, s);
    }
    free(bounds);
    free(len);
    return ok;
}

static int split_masks(mu_split *s, const fattn_ref_problem *p, int scatter,
                       int isa, fattn_ref_rng *rng, const char *where)
{
    const fattn_ref_problem_config *c = &p->config;
    const int64_t B = c->batch, H = c->heads_q, Sq = c->seq_q, Sk = c->seq_k;
    const size_t n = (size_t)(B * H * Sq * Sk);
    int32_t *owner = xcalloc(n, sizeof *owner);
    int64_t *bounds = xcalloc((size_t)s->parts + 1, sizeof *bounds);
    random_bounds(bounds, s->parts, Sk, rng);
    for (size_t x = 0; x < n; x++) {
        const int64_t j = (int64_t)(x % (size_t)(Sk > 0 ? Sk : 1));
        int32_t k = 0;
        if (scatter)
            k = (int32_t)R(rng, 0, s->parts - 1);
        else
            while (j >= bounds[k + 1])
                k++;
        owner[x] = k;
    }
    /* An additive mask stays additive (its values, -inf outside the part);
     * otherwise a keep-mask of the part's keys that the problem keeps. */
    const int additive = p->params.mask && p->params.mask->dtype == FATTN_DTYPE_F32;
    void *buf = xcalloc(n, additive ? sizeof(float) : 1);
    fattn_tensor mask;
    fattn_tensor_contiguous(&mask, buf, additive ? FATTN_DTYPE_F32 : FATTN_DTYPE_BOOL,
                            B, H, Sq, Sk);
    int ok = 1;
    for (int32_t k = 0; ok && k < s->parts; k++) {
        size_t x = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < Sq; i++)
                    for (int64_t j = 0; j < Sk; j++, x++) {
                        const float m = mask_at(p, b, h, i, j);
                        if (additive)
                            ((float *)buf)[x] = owner[x] == k ? m : -INFINITY;
                        else
                            ((uint8_t *)buf)[x] = owner[x] == k && m == 0.0f;
                    }
        fattn_params pp = p->params;
        pp.mask = &mask;
        pp.lse = &s->lse[k];
        pp.isa = isa;
        mu_part_buffers(s, k, p, rng);
        ok = run_part(where, k, p, &p->key, &p->value, &pp, s);
    }
    free(owner);
    free(bounds);
    free(buf);
    return ok;
}

int mu_split_problem(mu_split *s, const fattn_ref_problem *p, int how, int isa,
                     fattn_ref_rng *rng, const char *where)
{
    if (how == MU_VIEWS)
        return split_views(s, p, isa, rng, where);
    return split_masks(s, p, how == MU_SCATTER, isa, rng, where);
}

double mu_atol(fattn_ref_problem *p)
{
    const fattn_ref_problem_config *c = &p->config;
    if (!p->ref_out && fattn_ref_problem_reference(p) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    double lmax = 0.0;
    for (int64_t r = 0; r < c->batch * c->heads_q * c->seq_q; r++)
        if (isfinite(p->ref_lse[r]) && fabs(p->ref_lse[r]) > lmax)
            lmax = fabs(p->ref_lse[r]);
    /* 2^-24 |l| per part's rounding, doubled for the kernel's own error in
     * l, times a spread of 2 max|V|. */
    return PU_ATOL + 2.0 * 0x1p-24 * lmax * 2.0 * c->value_range;
}

void mu_totals_init(mu_totals *t)
{
    fattn_ref_report_init(&t->out);
    fattn_ref_report_init(&t->lse);
    t->merges = t->failures = 0;
}

int64_t mu_totals_print(const mu_totals *t, const char *category)
{
    printf("%-10s %4" PRId64 " merges %3" PRId64 " failed | output: max abs %.2g err/tol %.3f"
           " | LSE: max abs %.2g err/tol %.3f\n",
           category, t->merges, t->failures, t->out.max_abs_err, t->out.max_ratio,
           t->lse.max_abs_err, t->lse.max_ratio);
    fflush(stdout);
    return t->failures;
}

int mu_merge_check(const char *where, fattn_ref_problem *p, const mu_split *s,
                   int with_lse, mu_totals *t)
{
    const fattn_ref_problem_config *c = &p->config;
    const int64_t rows = c->batch * c->heads_q * c->seq_q;
    const double atol = mu_atol(p);
    const int before = pu_failures;
    fattn_error err;
    t->merges++;
    fattn_ref_problem_reset_output(p);
    fattn_status st = fattn_merge(s->parts, s->out, s->lse, &p->output,
                                  with_lse ? &p->lse : NULL, &err);
    if (!pu_expect(where, st, &err, FATTN_OK, NULL)) {
        t->failures++;
        return 0;
    }
    const fattn_tensor *lse = p->params.lse;
    fattn_ref_report ro, rl;
    if (!with_lse)
        p->params.lse = NULL; /* compare the output alone */
    const int ok = fattn_ref_problem_compare(p, atol, PU_RTOL, &ro, &rl);
    p->params.lse = lse;
    fattn_ref_report_merge(&t->out, &ro);
    fattn_ref_report_merge(&t->lse, &rl);
    if (!ok) {
        const fattn_ref_report *w = ro.violations ? &ro : &rl;
        pu_fail(where, "%" PRId32 " parts: %" PRId64 " output and %" PRId64
                " LSE elements beyond %.3g + %.3g |ref|, worst at b=%" PRId64 " h=%" PRId64
                " i=%" PRId64 " d=%" PRId64 ": got %.9g, reference %.9g\n  %s",
                s->parts, ro.violations, rl.violations, atol, PU_RTOL, w->worst[0],
                w->worst[1], w->worst[2], w->worst[3], w->worst_got, w->worst_ref,
                pu_describe(p));
    }
    const int64_t written = pu_not_sentinel(p->out_buf, p->out_elems);
    if (written != rows * c->head_dim_v || fattn_ref_problem_gaps_touched(p) != 0)
        pu_fail(where, "wrote %" PRId64 " output elements of %" PRId64 ", %" PRId64
                " layout gaps\n  %s", written, rows * c->head_dim_v,
                fattn_ref_problem_gaps_touched(p), pu_describe(p));
    const int64_t lse_written = pu_not_sentinel(p->lse_buf, p->lse_elems);
    if (lse_written != (with_lse ? rows : 0))
        pu_fail(where, "wrote %" PRId64 " LSE elements, want %" PRId64 "\n  %s",
                lse_written, with_lse ? rows : 0, pu_describe(p));
    if (pu_failures != before)
        t->failures++;
    return pu_failures == before;
}
