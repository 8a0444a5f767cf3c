/*
 * grid_dtype.c - the kernel grid's dtype category: every combination of
 * query, key, value and output dtype (f32, bf16, f16: 81) on every path,
 * over prefill, decode and split-K shapes, with the options each dtype
 * meets in a model: masks in f32, bf16, f16 and bool, causal, windows,
 * lengths that leave rows fully masked, soft-cap, ALiBi, BSHD, strided and
 * padded layouts, large logits (exact in every dtype, problem.h). Then the
 * output's rounding bit for bit: one key, so the f32 result is V itself,
 * and the bf16/f16 output must be V rounded once to nearest even (f16's
 * overflow from 65520, its subnormals, ties both ways, NaN).
 */
#include "harness.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const int dtypes[3] = {FATTN_DTYPE_F32, FATTN_DTYPE_BF16, FATTN_DTYPE_F16};

static void set_causal(fattn_params *pr, int causal)
{
    pr->causal = causal;
    if (causal != FATTN_CAUSAL_NONE)
        pr->align = causal == FATTN_CAUSAL_BOTTOM_RIGHT ? FATTN_ALIGN_BOTTOM_RIGHT
                                                        : FATTN_ALIGN_TOP_LEFT;
}

/* Mask kinds in turn: none, additive f32, bf16, f16, bool. */
static void set_mask(fattn_ref_problem_config *c, int which)
{
    c->mask = which == 0 ? FATTN_REF_MASK_NONE
              : which == 4 ? FATTN_REF_MASK_BOOL
                           : FATTN_REF_MASK_ADDITIVE;
    c->dtype_mask = which >= 1 && which <= 3 ? dtypes[which - 1] : FATTN_DTYPE_F32;
    c->mask_drop = 0.2;
    c->mask_dead_rows = 0.1;
}

static const char *mask_text(const fattn_ref_problem_config *c)
{
    if (c->mask == FATTN_REF_MASK_NONE)
        return "none";
    if (c->mask == FATTN_REF_MASK_BOOL)
        return "bool";
    return fattn_ref_dtype_name(c->dtype_mask);
}

static void run(kt_ctx *ctx, fattn_ref_problem_config *c, const int dt[4],
                const char *what)
{
    char label[200];
    c->dtype_q = dt[0];
    c->dtype_k = dt[1];
    c->dtype_v = dt[2];
    c->dtype_o = dt[3];
    snprintf(label, sizeof(label), "%s q=%s k=%s v=%s out=%s mask=%s", what,
             fattn_ref_dtype_name(dt[0]), fattn_ref_dtype_name(dt[1]),
             fattn_ref_dtype_name(dt[2]), fattn_ref_dtype_name(dt[3]), mask_text(c));
    kt_run(ctx, c, label);
}

/* One of the option sets, in turn over the combinations. */
static void run_options(kt_ctx *ctx, const int dt[4], int n)
{
    fattn_ref_problem_config c;
    switch (n % 6) {
    case 0: /* Gemma-2's soft-cap and ALiBi, nothing unit-stride */
        c = kt_config(1, 2, 1, 49, 70, 65, 33);
        c.layout = FATTN_REF_LAYOUT_STRIDED;
        c.params.softcap = 30.0f;
        c.alibi = 1;
        set_causal(&c.params, FATTN_CAUSAL_TOP_LEFT);
        set_mask(&c, n % 5);
        c.lse = 1;
        run(ctx, &c, dt, "softcap+alibi strided");
        break;
    case 1: /* logits near 1e4, exact in every dtype */
        c = kt_config(1, 2, 2, 80, 129, 16, 16);
        c.large_logits = 1;
        c.lse = 1;
        set_mask(&c, n % 4); /* integer additive masks: exact too */
        run(ctx, &c, dt, "large logits");
        break;
    case 2: /* lengths and dead mask rows: fully masked rows */
        c = kt_config(3, 2, 1, 40, 100, 24, 24);
        c.layout = FATTN_REF_LAYOUT_PADDED;
        c.q_lengths = c.kv_lengths = 1;
        set_mask(&c, 4);
        c.mask_dead_rows = 0.3;
        c.lse = 1;
        run(ctx, &c, dt, "lengths+dead rows padded");
        break;
    case 3: /* a Mistral-style window, BSHD */
        c = kt_config(1, 4, 2, 100, 100, 32, 32);
        c.layout = FATTN_REF_LAYOUT_BSHD;
        set_causal(&c.params, FATTN_CAUSAL_BOTTOM_RIGHT);
        c.params.window_enabled = 1;
        c.params.window_left = 20;
        c.params.window_right = 0;
        set_mask(&c, 1 + n % 3);
        c.lse = 1;
        run(ctx, &c, dt, "window BSHD");
        break;
    case 4: /* one KV batch broadcast; values of +-4 and +-1/4 */
        c = kt_config(2, 3, 3, 60, 77, 7, 9);
        c.layout = FATTN_REF_LAYOUT_KV_BROADCAST;
        c.value_range = n % 2 ? 4.0 : 0.25;
        set_mask(&c, n % 5);
        c.lse = 1;
        run(ctx, &c, dt, "kv broadcast, value range");
        break;
    default: /* large logits at decode, soft-capped */
        c = kt_config(1, 6, 3, 1, 300, 64, 64);
        c.large_logits = 1;
        c.params.softcap = 50.0f;
        set_mask(&c, n % 4);
        c.lse = 1;
        run(ctx, &c, dt, "large logits decode softcap");
        break;
    }
}

/* The bits a bf16 or f16 output must hold for an f32 result x. */
static uint16_t expect_bits(float x, int dtype)
{
    return fattn_ref_double_to_half((double)x, dtype);
}

/*
 * Sk = 1: the weight is exactly 1 (exp(0), row sum 1), so the f32 output
 * is V exactly and a half output is V rounded once. Edge values of both
 * formats: f16's largest finite, the last value below its overflow
 * threshold and the threshold itself (65520 is inf), its subnormals, ties
 * to even either way, bf16's ties and its largest finite, NaN.
 */
static void output_rounding(kt_ctx *ctx)
{
    static const float edges[] = {
        65504.0f, 65519.99609375f, 65520.0f, -65520.0f, 65536.0f, 1e30f,
        0x1p-24f, 0x1.8p-24f, 0x1p-25f, 0x1.0000002p-25f, 0x1p-26f, -0x1.4p-20f,
        0x1p-14f, 0x1.ffcp-15f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f,
        1.0f + 0x1p-8f, 1.0f + 0x3p-8f, 1.0f + 0x1.0002p-8f, 0x1.fep127f,
        0x1.ff8p127f, -0x1.ffp127f, 0x1p-133f, 0x1p-134f, 1e-45f, 0.0f, NAN,
        3.14159265f, -2.71828183f, 0x1.555556p-2f, 1e4f};
    enum { N = COUNT(edges) };
    float q[1] = {1.0f}, k[1] = {1.0f}, v[N];
    uint16_t out[N];
    fattn_tensor tq, tk, tv, to;
    memcpy(v, edges, sizeof v);
    /* [1, 1, 1, 1] query and key, value [1, 1, 1, N]: one key. */
    fattn_tensor_contiguous(&tq, q, FATTN_DTYPE_F32, 1, 1, 1, 1);
    fattn_tensor_contiguous(&tk, k, FATTN_DTYPE_F32, 1, 1, 1, 1);
    fattn_tensor_contiguous(&tv, v, FATTN_DTYPE_F32, 1, 1, 1, N);
    for (int o = 1; o < 3; o++) {
        fattn_tensor_contiguous(&to, out, (fattn_dtype)dtypes[o], 1, 1, 1, N);
        for (int k2 = 0; k2 < ctx->n_isas; k2++) {
            fattn_params p = {0};
            fattn_error err;
            p.isa = ctx->isas[k2];
            memset(out, 0xa5, sizeof out);
            ctx->runs++;
            const fattn_status st = fattn_forward(&tq, &tk, &tv, &to, &p, &err);
            int bad = st != FATTN_OK;
            for (int e = 0; e < N && !bad; e++) {
                const uint16_t want = expect_bits(edges[e], dtypes[o]);
                const int nan_ok = isnan(edges[e]) &&
                                   fattn_ref_half_to_double(out[e], dtypes[o]) !=
                                       fattn_ref_half_to_double(out[e], dtypes[o]);
                if (out[e] != want && !nan_ok) {
                    printf("FAIL output rounding isa=%s out=%s: V = %a (f32) gave 0x%04x,"
                           " want 0x%04x (rounded once to nearest even)\n",
                           fattn_isa_name(ctx->isas[k2]), fattn_ref_dtype_name(dtypes[o]),
                           (double)edges[e], out[e], want);
                    bad = 1;
                }
            }
            if (st != FATTN_OK)
                printf("FAIL output rounding isa=%s: %s\n", fattn_isa_name(ctx->isas[k2]),
                       err.message);
            ctx->failures += bad;
        }
    }
    ctx->case_index++;
}

void kt_cat_dtype(kt_ctx *ctx)
{
    static const int64_t dims[][2] = {{31, 17}, {64, 64}, {3, 5}, {80, 96}, {128, 128}, {17, 31}};
    static const int layouts[] = {FATTN_REF_LAYOUT_BHSD, FATTN_REF_LAYOUT_BSHD,
                                  FATTN_REF_LAYOUT_PADDED, FATTN_REF_LAYOUT_STRIDED};
    static const int64_t decode_sq[] = {1, 3, 5, 16};

    for (int n = 0; n < 81; n++) {
        const int dt[4] = {dtypes[n / 27], dtypes[n / 9 % 3], dtypes[n / 3 % 3],
                           dtypes[n % 3]};
        const int64_t *d = dims[n % COUNT(dims)];

        /* Prefill: 97 rows, past 1.5 query tiles of every path. */
        fattn_ref_problem_config c = kt_config(1, 2, 1, 97, 130, d[0], d[1]);
        c.layout = layouts[n % COUNT(layouts)];
        set_causal(&c.params, n % 3);
        set_mask(&c, n % 5);
        c.lse = 1;
        run(ctx, &c, dt, "prefill");

        /* Decode: GQA groups of 4, a cache with lengths (some 0). */
        c = kt_config(2, 8, 2, decode_sq[n % COUNT(decode_sq)], 150, d[1], d[0]);
        c.layout = layouts[(n + 1) % 3];
        set_causal(&c.params, FATTN_CAUSAL_BOTTOM_RIGHT);
        set_mask(&c, (n + 2) % 5);
        c.kv_lengths = n % 2;
        c.lse = 1;
        run(ctx, &c, dt, "decode");

        /* Split-K: 1100 keys, one row item (4 heads of one KV head). */
        c = kt_config(1, 4, 1, 1 + n % 2, 1100, 16, 24);
        c.layout = n % 2 ? FATTN_REF_LAYOUT_BSHD : FATTN_REF_LAYOUT_BHSD;
        set_causal(&c.params, FATTN_CAUSAL_BOTTOM_RIGHT);
        if (n % 3 == 0) {
            c.params.window_enabled = 1;
            c.params.window_left = 700;
            c.params.window_right = 0;
        }
        set_mask(&c, (n + 3) % 5);
        c.lse = 1;
        run(ctx, &c, dt, "split-K");

        run_options(ctx, dt, n);
    }
    output_rounding(ctx);
}
