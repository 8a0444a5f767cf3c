/*
 * test_bf16_path.c - the AVX512_BF16 path (vdpbf16ps, P rounded to bf16) on
 * all-bf16 query, key and value against the fp64 reference on the same
 * bf16 inputs, over shapes around its tiles, every layout and the options
 * (split-K included).
 *
 *   test_bf16_path [--seed=N] [--case=N] [--verbose]
 *
 * fattn.h's promise for this path: |O - ref| <= 2^-8 max|V| (P's rounding),
 * plus the output's own rounding for a bf16/f16 output. The test fails
 * above FAIL_FRAC * max|V| + the output's half ulp, warns above WARN_FRAC
 * (typical errors are an order of magnitude below the bound, so a 10x
 * regression shows up as a warning long before it fails), and prints the
 * worst ratio seen. Fully masked rows must be exactly 0 with LSE -inf; NaN
 * only where the reference has NaN; finite inputs raise no FE_INVALID,
 * FE_DIVBYZERO or FE_OVERFLOW. Each case also names the kernel its
 * plan uses: prefill shapes must run avx512bf16_lanes, and FATTN_ISA_AUTO
 * must give the same bits as the forced path. SKIP (exit 77) without the
 * path.
 */
#include "problem.h"
#include "reference.h"

#include <fenv.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_FRAC 4e-3 /* the bound: 2^-8 = 3.9e-3, and a margin */
#define WARN_FRAC 2.5e-3

static uint16_t to_bf16(float x) { return fattn_ref_double_to_half(x, FATTN_DTYPE_BF16); }

/* A bf16 copy of n floats (at least one element allocated). */
static uint16_t *bf16_copy(const float *src, size_t n)
{
    uint16_t *d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = to_bf16(src[i]);
    return d;
}

typedef struct result {
    double worst; /* max err / max|V| over the cases */
    double worst_lse;
    int64_t cases, failures, warnings;
} result;

/* max |V| over the value tensor's elements (through its strides). */
static double max_abs_v(const fattn_tensor *v)
{
    double m = 0.0;
    for (int64_t b = 0; b < v->shape[0]; b++)
        for (int64_t h = 0; h < v->shape[1]; h++)
            for (int64_t s = 0; s < v->shape[2]; s++)
                for (int64_t d = 0; d < v->shape[3]; d++) {
                    double x = fabs(fattn_ref_elem(v, b, h, s, d));
                    if (x > m && !isinf(x))
                        m = x;
                }
    return m;
}

typedef struct opts {
    int causal, window, mask, mask_bf16, lengths, alibi, softcap, lse,
        large, out_dtype, poison;
} opts;

#define BF16_NAN 0x7fc0u

/* Element (n, h, s, d) of a bf16 tensor. */
static uint16_t *bf16_at(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                         int64_t d)
{
    return (uint16_t *)t->data + n * t->stride[0] + h * t->stride[1] +
           s * t->stride[2] + d * t->stride[3];
}

/* NaN in every row past the valid lengths (the kernel must not read them:
 * the reference does not) and, with o->poison, in one query element, one
 * key element and (only where nothing masks keys, as a masked key's P = 0
 * times NaN is NaN on every path) one value element. */
static void poison(const fattn_ref_problem *p, const fattn_tensor *q,
                   const fattn_tensor *k, const fattn_tensor *v, const opts *o)
{
    for (int64_t b = 0; b < q->shape[0]; b++) {
        const int64_t ql = p->q_lengths ? p->q_lengths[b] : q->shape[2];
        const int64_t kl = p->kv_lengths ? p->kv_lengths[b] : k->shape[2];
        if (k->stride[0] == 0 && b > 0)
            continue; /* a broadcast K/V: its rows belong to every batch */
        for (int64_t h = 0; h < q->shape[1]; h++)
            for (int64_t i = ql; i < q->shape[2]; i++)
                for (int64_t d = 0; d < q->shape[3]; d++)
                    *bf16_at(q, b, h, i, d) = BF16_NAN;
        if (p->kv_lengths && k->stride[0] == 0)
            continue;
        for (int64_t h = 0; h < k->shape[1]; h++)
            for (int64_t j = kl; j < k->shape[2]; j++) {
                for (int64_t d = 0; d < k->shape[3]; d++)
                    *bf16_at(k, b, h, j, d) = BF16_NAN;
                for (int64_t d = 0; d < v->shape[3]; d++)
                    *bf16_at(v, b, h, j, d) = BF16_NAN;
            }
    }
    if (!o->poison || q->shape[0] == 0 || q->shape[2] < 6 || k->shape[2] < 21)
        return;
    const int64_t b = q->shape[0] - 1;
    if (!p->q_lengths || p->q_lengths[b] > 5)
        *bf16_at(q, b, q->shape[1] - 1, 5, q->shape[3] > 3 ? 3 : 0) = BF16_NAN;
    if (!p->kv_lengths || p->kv_lengths[b] > 20)
        *bf16_at(k, b, 0, 20, 0) = BF16_NAN;
    if (!o->causal && !o->window && !o->mask && !p->kv_lengths)
        *bf16_at(v, b, 0, k->shape[2] - 1, v->shape[3] - 1) = BF16_NAN;
}

static void describe(char *buf, size_t n, const fattn_ref_problem_config *c,
                     const opts *o)
{
    snprintf(buf, n,
             "B=%" PRId64 " Hq=%" PRId64 " Hkv=%" PRId64 " Sq=%" PRId64
             " Sk=%" PRId64 " D=%" PRId64 " Dv=%" PRId64
             " layout=%s causal=%d window=%d mask=%s%s lengths=%d alibi=%d"
             " softcap=%d lse=%d large=%d poison=%d out=%s",
             c->batch, c->heads_q, c->heads_kv, c->seq_q, c->seq_k, c->head_dim,
             c->head_dim_v, fattn_ref_layout_name(c->layout), o->causal, o->window,
             fattn_ref_mask_name(c->mask), o->mask_bf16 ? "(bf16)" : "",
             o->lengths, o->alibi, o->softcap, o->lse, o->large, o->poison,
             o->out_dtype == FATTN_DTYPE_F32 ? "f32"
             : o->out_dtype == FATTN_DTYPE_BF16 ? "bf16" : "f16");
}

/* One case: build, convert to bf16, run forced and AUTO, compare. */
static int run_case(fattn_ref_problem_config *c, const opts *o, uint64_t seed,
                    int verbose, result *res)
{
    fattn_ref_problem p;
    char label[512];
    describe(label, sizeof label, c, o);
    c->seed = seed;
    if (fattn_ref_problem_init(&p, c) != 0) {
        printf("FAIL cannot build: %s\n", label);
        return 0;
    }
    /* q/k/v as bf16 at the same element offsets (the fused layout's three
     * views share q_buf). */
    uint16_t *qb = bf16_copy(p.q_buf, p.q_elems);
    uint16_t *kb = p.k_buf ? bf16_copy(p.k_buf, p.k_elems) : NULL;
    uint16_t *vb = p.v_buf ? bf16_copy(p.v_buf, p.v_elems) : NULL;
    uint16_t *mb = NULL;
    size_t out_n = p.out_elems ? p.out_elems : 1;
    void *ob = malloc(out_n * 4), *ob2 = malloc(out_n * 4);
    int ok = qb && (!p.k_buf || kb) && (!p.v_buf || vb) && ob && ob2;
    if (ob)
        memset(ob, 0, out_n * 4);
    fattn_tensor q = p.query, k = p.key, v = p.value, out = p.output, mask = p.mask;
    q.dtype = k.dtype = v.dtype = FATTN_DTYPE_BF16;
    q.data = qb + ((float *)p.query.data - p.q_buf);
    if (p.k_buf) {
        k.data = kb + ((float *)p.key.data - p.k_buf);
        v.data = vb + ((float *)p.value.data - p.v_buf);
    } else {
        k.data = qb + ((float *)p.key.data - p.q_buf);
        v.data = qb + ((float *)p.value.data - p.q_buf);
    }
    out.dtype = o->out_dtype;
    out.data = (char *)ob + ((char *)p.output.data - (char *)p.out_buf) /
                                4 * (o->out_dtype == FATTN_DTYPE_F32 ? 4 : 2);
    if (ok)
        poison(&p, &q, &k, &v, o);
    fattn_params prm = p.params;
    if (o->mask_bf16 && c->mask == FATTN_REF_MASK_ADDITIVE && ok) {
        mb = bf16_copy(p.mask_buf, p.mask_elems);
        ok = mb != NULL;
        mask.dtype = FATTN_DTYPE_BF16;
        mask.data = mb + ((float *)p.mask.data - (float *)p.mask_buf);
        prm.mask = &mask;
    }
    int pass = ok;
    if (!ok)
        printf("FAIL out of memory: %s\n", label);
    double vmax = ok ? max_abs_v(&v) : 0.0;
    if (vmax == 0.0)
        vmax = 1.0;
    /* The output's own rounding: half an ulp of the largest |O| <= vmax. */
    const double out_ulp = o->out_dtype == FATTN_DTYPE_BF16 ? ldexp(1.0, -8)
                           : o->out_dtype == FATTN_DTYPE_F16 ? ldexp(1.0, -11)
                                                              : 0.0;
    const double atol = FAIL_FRAC * vmax + out_ulp * vmax;
    fattn_ref_report rep;
    if (ok) {
        prm.isa = FATTN_ISA_AVX512BF16;
        fattn_plan *plan = NULL;
        fattn_error err;
        fattn_status st = fattn_plan_create(&q, &k, &v, &out, &prm, &plan, &err);
        const char *kname = st == FATTN_OK ? fattn_plan_kernel(plan) : "";
        const int prefill = c->seq_q >= 72 && c->batch > 0 && c->seq_k > 0;
        if (st == FATTN_OK && prefill && strcmp(kname, "avx512bf16_lanes") != 0) {
            printf("FAIL plan runs %s, not avx512bf16_lanes: %s\n", kname, label);
            pass = 0;
        }
        if (st == FATTN_OK) {
            /* Finite inputs raise no invalid, divide-by-zero or overflow
             * flag (masked keys, extreme logits; test_fp_flags' rule). */
            feclearexcept(FE_ALL_EXCEPT);
            st = fattn_plan_run(plan, NULL, &err);
            const int raised = fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
            if (st == FATTN_OK && raised && !o->poison) {
                printf("FAIL raised%s%s%s: %s\n", raised & FE_INVALID ? " FE_INVALID" : "",
                       raised & FE_DIVBYZERO ? " FE_DIVBYZERO" : "",
                       raised & FE_OVERFLOW ? " FE_OVERFLOW" : "", label);
                pass = 0;
            }
        }
        fattn_plan_destroy(plan);
        if (st != FATTN_OK) {
            printf("FAIL %s: %s: %s\n", fattn_status_name(st), err.message, label);
            pass = 0;
        } else {
            const size_t lse_n = p.lse_elems;
            float *lse1 = lse_n ? malloc(lse_n * 4) : NULL;
            if (lse1)
                memcpy(lse1, p.lse_buf, lse_n * 4);
            memcpy(ob2, ob, out_n * 4);
            /* AUTO takes the same path for all-bf16 inputs: same bits,
             * unless FATTN_ISA forces another path for every problem (the
             * suite's per-path setups). */
            const char *env = getenv("FATTN_ISA");
            const int auto_here = !env || !*env || strcmp(env, "auto") == 0 ||
                                  strcmp(env, "avx512bf16") == 0;
            prm.isa = auto_here ? FATTN_ISA_AUTO : FATTN_ISA_AVX512BF16;
            st = fattn_forward(&q, &k, &v, &out, &prm, &err);
            if (st != FATTN_OK || memcmp(ob, ob2, out_n * 4) != 0 ||
                (lse1 && memcmp(lse1, p.lse_buf, lse_n * 4) != 0)) {
                printf("FAIL auto differs from avx512bf16 (%s): %s\n",
                       fattn_status_name(st), label);
                pass = 0;
            }
            free(lse1);
            const int cmp = fattn_ref_compare(&q, &k, &v, &out, &prm, atol, 0.0, 1,
                                              &rep);
            if (!cmp) {
                printf("FAIL %" PRId64 " of %" PRId64 " elements, max abs %.3g"
                       " (%.3g max|V|, limit %.3g) at b=%" PRId64 " h=%" PRId64
                       " i=%" PRId64 " d=%" PRId64 " got %.9g ref %.9g: %s seed=%" PRIu64 "\n",
                       rep.violations, rep.checked, rep.max_abs_err,
                       rep.max_abs_err / vmax, atol / vmax, rep.worst[0],
                       rep.worst[1], rep.worst[2], rep.worst[3], rep.worst_got,
                       rep.worst_ref, label, seed);
                pass = 0;
            } else {
                const double frac = (rep.max_abs_err - out_ulp * vmax) / vmax;
                if (frac > res->worst)
                    res->worst = frac;
                if (frac > WARN_FRAC) {
                    printf("WARN max abs err %.3g max|V| above %.3g: %s seed=%" PRIu64 "\n",
                           frac, WARN_FRAC, label, seed);
                    res->warnings++;
                }
                if (verbose)
                    printf("ok   %.3g max|V| (%s): %s\n", rep.max_abs_err / vmax,
                           kname, label);
            }
        }
    }
    res->cases++;
    res->failures += !pass;
    free(qb);
    free(kb);
    free(vb);
    free(mb);
    free(ob);
    free(ob2);
    fattn_ref_problem_free(&p);
    return pass;
}

/* A deterministic option set from case number n. */
static opts options_of(uint64_t n, fattn_ref_rng *rng)
{
    opts o;
    memset(&o, 0, sizeof o);
    if (n == 0)
        return o; /* plain */
    o.causal = (int)fattn_ref_rng_range(rng, 0, 2);
    o.window = fattn_ref_rng_range(rng, 0, 3) == 0;
    o.mask = (int)fattn_ref_rng_range(rng, 0, 2);
    o.mask_bf16 = fattn_ref_rng_range(rng, 0, 1) != 0;
    o.lengths = fattn_ref_rng_range(rng, 0, 2) == 0;
    o.alibi = fattn_ref_rng_range(rng, 0, 3) == 0;
    o.softcap = fattn_ref_rng_range(rng, 0, 3) == 0;
    o.lse = fattn_ref_rng_range(rng, 0, 1) != 0;
    o.large = fattn_ref_rng_range(rng, 0, 5) == 0;
    o.out_dtype = (int)fattn_ref_rng_range(rng, 0, 2);
    o.poison = n == 2 && fattn_ref_rng_range(rng, 0, 1) != 0;
    return o;
}

int main(int argc, char **argv)
{
    uint64_t base = 0xbf16bf16u;
    int64_t only = -1;
    int verbose = 0;
    for (int a = 1; a < argc; a++) {
        if (strncmp(argv[a], "--seed=", 7) == 0)
            base = strtoull(argv[a] + 7, NULL, 0);
        else if (strncmp(argv[a], "--case=", 7) == 0)
            only = strtoll(argv[a] + 7, NULL, 0);
        else if (strcmp(argv[a], "--verbose") == 0)
            verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--seed=N] [--case=N] [--verbose]\n", argv[0]);
            return 2;
        }
    }
    if (!fattn_isa_available(FATTN_ISA_AVX512BF16)) {
        printf("SKIP avx512bf16: not compiled in or not supported by this CPU/OS\n");
        return 77;
    }
    /* B, Hq, Hkv, Sq, Sk, D, Dv: tile edges (TQ 48, QGROUP 4 = 192 rows,
     * key tile 128, microkernel 8 rows), odd D/Dv, Sq != Sk. */
    static const int64_t shapes[][7] = {
        {1, 1, 1, 1, 1, 1, 1},       {1, 2, 1, 5, 3, 2, 3},
        {1, 1, 1, 72, 1, 1, 1},      {1, 1, 1, 72, 2, 3, 5},
        {1, 2, 2, 96, 128, 64, 64},  {1, 2, 1, 97, 129, 63, 65},
        {2, 4, 2, 200, 300, 128, 128}, {1, 1, 1, 193, 257, 127, 128},
        {1, 2, 1, 144, 127, 80, 80}, {1, 1, 1, 100, 640, 256, 256},
        {1, 3, 3, 240, 240, 96, 96}, {2, 2, 1, 130, 7, 16, 24},
        {1, 1, 1, 385, 385, 32, 32}, {1, 2, 2, 73, 1000, 65, 63},
        {1, 1, 1, 49, 50, 9, 7},     {0, 1, 1, 72, 72, 8, 8},
        {1, 1, 1, 72, 0, 8, 8},
        /* Few row items and long keys: the planner splits the keys
         * (split-K's partial rows, combined afterwards). */
        {1, 1, 1, 96, 3000, 64, 64}, {1, 2, 1, 200, 2100, 128, 128},
    };
    const size_t nshapes = sizeof shapes / sizeof shapes[0];
    result res;
    memset(&res, 0, sizeof res);
    int64_t n = 0;
    for (size_t s = 0; s < nshapes; s++)
        for (int layout = 0; layout < FATTN_REF_LAYOUT_COUNT; layout++)
            for (int rep = 0; rep < 3; rep++, n++) {
                if (only >= 0 && n != only)
                    continue;
                const int64_t *sh = shapes[s];
                if (layout == FATTN_REF_LAYOUT_FUSED_QKV &&
                    (sh[3] != sh[4] || sh[1] != sh[2] || sh[5] != sh[6]))
                    continue;
                const uint64_t seed = base * 0x9e3779b97f4a7c15ull + (uint64_t)n;
                fattn_ref_rng rng;
                fattn_ref_rng_seed(&rng, seed);
                opts o = options_of((uint64_t)rep, &rng);
                fattn_ref_problem_config c;
                fattn_ref_config_init(&c, sh[0], sh[1], sh[3], sh[4], sh[5]);
                c.heads_kv = sh[2];
                c.head_dim_v = sh[6];
                c.layout = layout;
                c.mask = o.mask;
                if (o.mask) {
                    c.mask_size1 = (unsigned)fattn_ref_rng_range(&rng, 0, 15) & 3u;
                    c.mask_drop = 0.2;
                    c.mask_dead_rows = 0.1;
                }
                if (layout == FATTN_REF_LAYOUT_KV_BROADCAST)
                    o.lengths = 0; /* kv lengths per batch still fine, keep simple */
                c.q_lengths = o.lengths;
                c.kv_lengths = o.lengths;
                c.alibi = o.alibi;
                c.lse = o.lse;
                c.large_logits = o.large;
                c.params.causal = o.causal;
                if (o.causal)
                    c.params.align = o.causal == FATTN_CAUSAL_BOTTOM_RIGHT
                                         ? FATTN_ALIGN_BOTTOM_RIGHT
                                         : FATTN_ALIGN_TOP_LEFT;
                if (o.window) {
                    c.params.window_enabled = 1;
                    c.params.window_left = fattn_ref_rng_range(&rng, 0, 150);
                    c.params.window_right =
                        o.causal ? 0 : fattn_ref_rng_range(&rng, 0, 150);
                }
                if (o.softcap)
                    c.params.softcap = (float)fattn_ref_rng_range(&rng, 1, 50);
                run_case(&c, &o, seed, verbose, &res);
            }
    printf("test_bf16_path: %" PRId64 " cases, %" PRId64 " failures, %" PRId64
           " warnings; worst max abs err %.3g max|V| (fail above %.3g, warn above %.3g)\n",
           res.cases, res.failures, res.warnings, res.worst, FAIL_FRAC, WARN_FRAC);
    return res.failures ? 1 : 0;
}
