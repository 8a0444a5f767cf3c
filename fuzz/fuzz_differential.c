/*
 * fuzz_differential.c - every kernel path this CPU has, on the same valid
 * random problem, against the fp64 reference and against each other
 * (simdjson's differential fuzzers).
 *
 * The input decodes into a fattn_ref_problem_config (tests/reference/
 * problem.h): shape (tile edges are likely: 0, 1, 7, 8, 15..17, 31..33,
 * 63..65, 127..129), GQA group, memory layout, f32/bool mask with
 * broadcasting and stride-0 dimensions, dropped keys and dead rows, LSE,
 * per-batch lengths, ALiBi, large logits, scale, soft-cap, causal mode,
 * window and alignment, and (decoded last) the dtype of query, key, value,
 * output and an additive mask: f32, bf16 or f16 each. The builder fills the
 * data from a seed; results are judged by tests/reference/tolerance.h (per
 * path and dtype, relative to max|V|; a WARN line past its warn bound).
 *
 * Each available path (every fattn_isa the registry has) is forced through
 * params.isa, with the library's own workspace or (decoded) a caller
 * workspace of exactly fattn_workspace_size() bytes. Then (decoded last, so
 * older corpus files keep their meaning) the same path runs again on 2-8
 * threads, through a pool or through an executor that runs the tasks in
 * reverse order on the calling thread, and must give the same bits as the
 * calling-thread run (fattn.h's determinism promise). Last, a decode shape
 * may replace the one above: GQA groups up to 16, Sq up to 65, Sk of 1000
 * to 2200 keys (split-K), cache layouts. After it, the dtypes.
 * Properties: fattn_check accepts the problem; each path succeeds with an
 * empty error record, writes every output and LSE element, leaves the
 * layout's gaps alone and matches the reference (fully masked rows exactly
 * 0 and -inf); any two paths agree within the sum of their tolerances and
 * on NaN.
 * A violation prints the problem, each path's report and each path's value
 * at the worst element, then aborts: that input is a finding.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_common.h"
#include "fuzz_data_producer.h"
#include "problem.h"
#include "tolerance.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Multiply-adds per case, all paths and the reference together: keeps a
 * case around a millisecond (more under sanitizers). */
#define FD_WORK_LIMIT ((int64_t)1 << 19)

typedef struct path_result {
    int isa;
    fattn_tol tol;
    fattn_tol_report rep;
    unsigned char *out_copy; /* whole buffers, gaps included */
    float *lse_copy;
} path_result;

static fattn_ref_problem P;
static path_result R[FATTN_ISA_COUNT];
static int threads;  /* 1: no parallel rerun; 2..8: pool or executor */
static int executor; /* the rerun uses the reverse-order executor */
static int nresults;
static int use_workspace; /* caller workspace of exactly the size asked */

static void describe(void)
{
    char line[1024];
    fprintf(stderr, "problem: %s; %s workspace; rerun on %d threads (%s)\n",
            fattn_ref_problem_describe(&P, line, sizeof line),
            use_workspace ? "caller" : "library", threads,
            threads < 2 ? "none" : executor ? "executor" : "pool");
    for (int k = 0; k < nresults; k++) {
        const fattn_tol_report *r = &R[k].rep;
        fprintf(stderr,
                "  %-10s %" PRId64 " checked, %" PRId64 " beyond the tolerance, %" PRId64
                " beyond warn, max err/vmax %.3g, LSE max err %.3g; ",
                fattn_isa_name(R[k].isa), r->checked, r->fails, r->warns, r->max_err_v,
                r->lse_max_err);
        fattn_tol_print_worst(stderr, r);
        fputc('\n', stderr);
    }
}

/* Decoders for the config. */
static int64_t seq_len(fz_producer *in)
{
    static const int64_t edges[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32,
                                    33, 63, 64, 65, 127, 128, 129};
    return fz_bool(in) ? fz_range(in, 0, 140) : fz_pick(in, edges, 18);
}

static int64_t head_dim(fz_producer *in)
{
    static const int64_t edges[] = {1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32,
                                    33, 63, 64, 65, 80, 96, 128};
    return fz_bool(in) ? fz_range(in, 1, 130) : fz_pick(in, edges, 18);
}

static int64_t work(const fattn_ref_problem_config *c)
{
    return c->batch * c->heads_q * (c->seq_q + 1) * (c->seq_k + 1) *
           (c->head_dim + c->head_dim_v);
}

static void decode(fattn_ref_problem_config *c, fz_producer *in)
{
    memset(c, 0, sizeof *c);
    c->seed = fz_bits(in, 4);
    c->batch = fz_range(in, 1, 3);
    c->heads_kv = fz_range(in, 1, 3);
    c->heads_q = c->heads_kv * fz_range(in, 1, 4);
    c->seq_q = seq_len(in);
    c->seq_k = fz_bool(in) ? c->seq_q : seq_len(in);
    c->head_dim = head_dim(in);
    c->head_dim_v = fz_bool(in) ? c->head_dim : head_dim(in);
    c->layout = (int)fz_range(in, 0, FATTN_REF_LAYOUT_COUNT - 1);
    c->mask = (int)fz_range(in, 0, 2);
    c->mask_size1 = (unsigned)fz_range(in, 0, 15);
    c->mask_stride0 = (unsigned)fz_range(in, 0, 15);
    static const double drops[] = {0.0, 0.1, 0.5, 0.9, 1.0};
    c->mask_drop = drops[fz_range(in, 0, 4)];
    static const double dead[] = {0.0, 0.25, 1.0};
    c->mask_dead_rows = dead[fz_range(in, 0, 2)];
    c->lse = fz_bool(in);
    c->q_lengths = fz_bool(in);
    c->kv_lengths = fz_bool(in);
    c->alibi = fz_bool(in);
    c->large_logits = fz_range(in, 0, 3) == 3;
    c->value_range = fz_bool(in) ? 0.25 : 1.0;

    fattn_params *p = &c->params;
    static const float scales[] = {0.0f, 0.0625f, 0.25f, 0.03125f};
    p->scale = scales[fz_range(in, 0, 3)];
    static const float caps[] = {0.0f, 1.0f, 5.0f, 30.0f};
    p->softcap = caps[fz_range(in, 0, 3)];
    p->causal = (int32_t)fz_range(in, 0, 2);
    p->window_enabled = fz_bool(in);
    p->window_left = fz_range(in, -1, 140);
    p->window_right = fz_range(in, -1, 140);
    p->align = p->causal ? p->causal - 1 : (int32_t)fz_range(in, 0, 1);
    use_workspace = fz_bool(in);

    if (c->layout == FATTN_REF_LAYOUT_FUSED_QKV) {
        c->seq_k = c->seq_q;
        c->heads_q = c->heads_kv;
        c->head_dim_v = c->head_dim;
    }
    /* Shrink what costs most until the case is cheap. */
    while (work(c) > FD_WORK_LIMIT) {
        if (c->batch > 1)
            c->batch = 1;
        else if (c->heads_q > c->heads_kv)
            c->heads_q = c->heads_kv;
        else if (c->heads_kv > 1)
            c->heads_q = c->heads_kv = 1;
        else if (c->head_dim + c->head_dim_v > 40)
            c->head_dim = c->head_dim_v = 16;
        else
            c->seq_q = c->seq_k = c->seq_q / 2;
    }
    threads = (int)fz_range(in, 1, 8);
    executor = fz_bool(in);
    /* Decoded last, so older corpus files keep their meaning: a decode
     * shape (any GQA group up to 16, Sq up to past AVX-512's 48-row query
     * tile) against a KV cache long enough for split-K (1024+ keys with
     * fewer than 32 row items), in a cache layout (BHSD, BSHD, strided with
     * capacity > Sk, or nothing unit-stride). */
    if (fz_bool(in) && c->layout != FATTN_REF_LAYOUT_FUSED_QKV) {
        static const int64_t layouts[] = {
            FATTN_REF_LAYOUT_BHSD, FATTN_REF_LAYOUT_BSHD,
            FATTN_REF_LAYOUT_PADDED, FATTN_REF_LAYOUT_STRIDED};
        c->batch = 1;
        c->heads_kv = fz_range(in, 1, 2);
        c->heads_q = c->heads_kv * fz_range(in, 1, 16);
        c->seq_q = fz_range(in, 1, 65);
        c->seq_k = fz_range(in, 1000, 2200);
        c->head_dim = fz_range(in, 1, 8);
        c->head_dim_v = fz_range(in, 1, 8);
        c->layout = (int)fz_pick(in, layouts, 4);
        while (work(c) > 4 * FD_WORK_LIMIT) {
            if (c->seq_q > 4)
                c->seq_q = 1 + c->seq_q % 4;
            else if (c->heads_q > c->heads_kv)
                c->heads_q -= c->heads_kv;
            else
                c->seq_k /= 2;
        }
    }
    /* Decoded last too (older corpus files stay all f32): every dtype
     * combination; one buffer for a fused QKV layout, so one dtype. */
    static const int64_t floats[] = {FATTN_DTYPE_F32, FATTN_DTYPE_BF16, FATTN_DTYPE_F16};
    c->dtype_q = (int)fz_pick(in, floats, 3);
    c->dtype_k = (int)fz_pick(in, floats, 3);
    c->dtype_v = (int)fz_pick(in, floats, 3);
    c->dtype_o = (int)fz_pick(in, floats, 3);
    c->dtype_mask = (int)fz_pick(in, floats, 3);
    if (c->layout == FATTN_REF_LAYOUT_FUSED_QKV)
        c->dtype_k = c->dtype_v = c->dtype_q;
}

/* One pool per thread count, made on first use and kept: starting threads
 * for every input would dominate the campaign. */
static fattn_pool *pool_of(int n)
{
    static fattn_pool *pools[9];
    if (!pools[n]) {
        fattn_error err;
        if (fattn_pool_create(n, &pools[n], &err) != FATTN_OK)
            fz_finding("fuzz_differential", "fattn_pool_create(%d): %s", n,
                       err.message);
    }
    return pools[n];
}

/* Runs the tasks one after another, last first: any order must do. */
static void reverse_parallel_for(void *opaque, int32_t tasks, fattn_task_fn fn,
                                 void *arg)
{
    (void)opaque;
    for (int32_t t = tasks - 1; t >= 0; t--)
        fn(arg, t);
}

/* A parallel rerun's buffer against the calling-thread copy, bit for bit
 * (n elements of es bytes). */
static void same_bits(const path_result *r, const char *what, const void *got,
                      const void *want, size_t n, size_t es)
{
    const unsigned char *g = got, *w = want;
    for (size_t e = 0; e < n; e++)
        if (memcmp(g + e * es, w + e * es, es) != 0)
            fz_finding("fuzz_differential",
                       "path %s on %d threads (%s) differs from its calling-thread run at %s buffer element %zu",
                       fattn_isa_name(r->isa), threads, executor ? "executor" : "pool",
                       what, e);
}

/* The path again on `threads` workers: the same bits as the calling
 * thread's run (whole buffers, gaps included). */
static void rerun_parallel(const path_result *r)
{
    fattn_error err;
    fattn_executor ex = {reverse_parallel_for, NULL, threads};
    fattn_ref_problem_reset_output(&P);
    P.params.version = FATTN_PARAMS_VERSION;
    P.params.pool = executor ? NULL : pool_of(threads);
    P.params.executor = executor ? &ex : NULL;
    fz_poison_error(&err);
    const fattn_status st = fattn_forward(&P.query, &P.key, &P.value,
                                          &P.output, &P.params, &err);
    P.params.pool = NULL;
    P.params.executor = NULL;
    if (st != FATTN_OK)
        fz_finding("fuzz_differential", "path %s on %d threads (%s): %s",
                   fattn_isa_name(r->isa), threads, executor ? "executor" : "pool",
                   err.message);
    same_bits(r, "output", P.out_buf, r->out_copy, P.out_elems, P.out_esize);
    same_bits(r, "lse", P.lse_buf, r->lse_copy, P.lse_elems, sizeof(float));
}

/* Element w (d = -1: LSE) of a copy of the output or LSE buffer. */
static double at(const void *buf, const fattn_tensor *t, const int64_t w[4])
{
    fattn_tensor view = *t;
    view.data = (void *)buf;
    return fattn_ref_elem(&view, w[0], w[1], w[2], w[3] < 0 ? 0 : w[3]);
}

/* Every path's value at the worst element of path k. */
static void print_values_at(int k)
{
    const int64_t *w = R[k].rep.worst;
    if (w[0] < 0)
        return;
    fprintf(stderr, "  values at b=%" PRId64 " h=%" PRId64 " i=%" PRId64 " d=%" PRId64 ":",
            w[0], w[1], w[2], w[3]);
    for (int j = 0; j < nresults; j++)
        fprintf(stderr, " %s %.9g", fattn_isa_name(R[j].isa),
                w[3] < 0 ? at(R[j].lse_copy, &P.lse, w)
                         : at(R[j].out_copy, &P.output, w));
    fputc('\n', stderr);
}

/* Paths a and b agree at every output and LSE element within the sum of
 * their fail bounds (NaN with NaN); else the first element that does not
 * (w, d = -1 for LSE). */
static int disagreement(const path_result *a, const path_result *b, int64_t w[4])
{
    const fattn_ref_problem_config *c = &P.config;
    size_t row = 0;
    for (int64_t n = 0; n < c->batch; n++)
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = 0; i < c->seq_q; i++, row++) {
                const fattn_ref_row_stats *st = &P.ref_stats[row];
                const int exact = P.ref_lse[row] == -INFINITY;
                w[0] = n;
                w[1] = h;
                w[2] = i;
                for (w[3] = 0; w[3] < c->head_dim_v; w[3]++) {
                    const double ref = P.ref_out[row * (size_t)c->head_dim_v + (size_t)w[3]];
                    const int dt = P.output.dtype;
                    if (!fattn_tol_agree(at(a->out_copy, &P.output, w), at(b->out_copy, &P.output, w),
                                         exact ? 0.0 : fattn_tol_out_bound(&a->tol.fail, dt, st, ref),
                                         exact ? 0.0 : fattn_tol_out_bound(&b->tol.fail, dt, st, ref)))
                        return 1;
                }
                w[3] = -1;
                if (P.params.lse &&
                    !fattn_tol_agree(at(a->lse_copy, &P.lse, w), at(b->lse_copy, &P.lse, w),
                                     fattn_tol_lse_bound(&a->tol.fail, st, P.ref_lse[row]),
                                     fattn_tol_lse_bound(&b->tol.fail, st, P.ref_lse[row])))
                    return 1;
            }
    return 0;
}

static void *copy_bytes(const void *src, size_t n)
{
    void *dst = malloc(n ? n : 1);
    if (!dst)
        abort();
    if (n)
        memcpy(dst, src, n);
    return dst;
}

static void run_path(int isa)
{
    path_result *r = &R[nresults++];
    fattn_error err;
    r->isa = isa;
    fattn_ref_problem_reset_output(&P);
    P.params.isa = isa;
    void *ws = NULL;
    size_t ws_bytes = 0;
    if (use_workspace) {
        /* Exactly what fattn_workspace_size asks: ASan guards the end. */
        if (fattn_workspace_size(&P.query, &P.key, &P.value, &P.output,
                                 &P.params, &ws_bytes, &err) != FATTN_OK)
            fz_finding("fuzz_differential", "path %s: fattn_workspace_size: %s",
                       fattn_isa_name(isa), err.message);
        if (posix_memalign(&ws, 64, ws_bytes ? ws_bytes : 1) != 0)
            abort();
    }
    P.params.workspace = ws;
    P.params.workspace_size = ws_bytes;
    fz_poison_error(&err);
    const fattn_status st = fattn_forward(&P.query, &P.key, &P.value,
                                          &P.output, &P.params, &err);
    P.params.workspace = NULL;
    P.params.workspace_size = 0;
    free(ws);
    r->out_copy = copy_bytes(P.out_buf, P.out_elems * P.out_esize);
    r->lse_copy = copy_bytes(P.lse_buf, P.lse_elems * sizeof(float));
    const char *why = fz_record_problem(&err, st, "fattn_forward");
    if (st != FATTN_OK || why)
        fz_finding("fuzz_differential", "path %s: fattn_forward returned %s (%s): %s",
                   fattn_isa_name(isa), fattn_status_name(st),
                   why ? why : "record fine", err.message);
    r->tol = fattn_tol_of(&P.query, &P.key, &P.value, &P.output, &P.params);
    const int ok = fattn_tol_check_problem(&P, &r->tol, &r->rep);
    const int64_t gaps = fattn_ref_problem_gaps_touched(&P);
    const int64_t unwritten = fattn_ref_problem_unwritten(&P);
    if (!ok) {
        char text[320];
        print_values_at(nresults - 1);
        fz_finding("fuzz_differential", "path %s differs from the fp64 reference beyond %s",
                   fattn_isa_name(isa), fattn_tol_describe(&r->tol, text, sizeof text));
    }
    static int warned;
    if (r->rep.warns > 0 && warned++ < 8) {
        fprintf(stderr, "WARN fuzz_differential: path %s, %" PRId64 " elements beyond the warn bound, ",
                fattn_isa_name(isa), r->rep.warns);
        fattn_tol_print_worst(stderr, &r->rep);
        fputc('\n', stderr);
    }
    if (gaps || unwritten)
        fz_finding("fuzz_differential",
                   "path %s wrote %" PRId64 " layout gap elements and left %" PRId64
                   " elements unwritten",
                   fattn_isa_name(isa), gaps, unwritten);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fattn_ref_problem_config cfg;
    fz_producer in;
    fattn_error err;

    fz_set_describe(describe);
    fz_init(&in, data, size);
    decode(&cfg, &in);
    if (fattn_ref_problem_init(&P, &cfg) != 0)
        fz_finding("fuzz_differential", "the problem builder refused the config");
    nresults = 0;
    if (fattn_check(&P.query, &P.key, &P.value, &P.output, &P.params, &err) != FATTN_OK)
        fz_finding("fuzz_differential", "fattn_check refused a valid problem: %s",
                   err.message);
    if (fattn_ref_problem_reference(&P) != 0)
        abort();
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++)
        if (fattn_isa_available(isa)) {
            run_path(isa);
            if (threads > 1)
                rerun_parallel(&R[nresults - 1]);
        }
    for (int a = 0; a < nresults; a++)
        for (int b = a + 1; b < nresults; b++) {
            int64_t w[4];
            if (disagreement(&R[a], &R[b], w))
                fz_finding("fuzz_differential",
                           "paths %s and %s disagree at b=%" PRId64 " h=%" PRId64 " i=%" PRId64
                           " %s%" PRId64 ": %.9g vs %.9g",
                           fattn_isa_name(R[a].isa), fattn_isa_name(R[b].isa), w[0], w[1],
                           w[2], w[3] < 0 ? "LSE" : "d=", w[3] < 0 ? (int64_t)0 : w[3],
                           w[3] < 0 ? at(R[a].lse_copy, &P.lse, w) : at(R[a].out_copy, &P.output, w),
                           w[3] < 0 ? at(R[b].lse_copy, &P.lse, w) : at(R[b].out_copy, &P.output, w));
        }
    for (int k = 0; k < nresults; k++) {
        free(R[k].out_copy);
        free(R[k].lse_copy);
    }
    nresults = 0;
    fattn_ref_problem_free(&P);
    return 0;
}
