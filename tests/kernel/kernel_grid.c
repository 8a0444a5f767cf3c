/*
 * kernel_grid.c - every kernel path against the fp64 reference over a grid of
 * tile edges, options and layouts, then random combinations.
 *
 *   kernel_grid [CATEGORY|all] [--seed=N] [--case=N] [--isa=NAME]
 *
 * Every case runs on every kernel path this build and CPU have (paths 1 ..
 * FATTN_ISA_COUNT - 1 by fattn_isa_name; the others print SKIP) and on
 * FATTN_ISA_AUTO; --isa=NAME runs only that path (and auto).
 * Categories: tiles, head_dim, causal, window, mask, options, layout, empty,
 * large, padding, nan, random, softcap, decode, split, dtype (grid_dtype.c).
 * Each case gets its own seed, derived
 * from the base seed and the case's index, so `--seed=S --case=N` replays
 * exactly one failing case.
 * The scalar kernel tiles 32 queries x 64 keys; the grid walks lengths
 * around multiples of both without relying on them.
 */
#include "harness.h"
#include "internal.h" /* fattn_kernel_for: why a path is missing */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const int64_t UNL = FATTN_WINDOW_UNLIMITED;

/* Causal mode, and the alignment a window or ALiBi must then share. */
static void set_causal(fattn_params *pr, int causal)
{
    pr->causal = causal;
    if (causal != FATTN_CAUSAL_NONE)
        pr->align = causal == FATTN_CAUSAL_BOTTOM_RIGHT
                        ? FATTN_ALIGN_BOTTOM_RIGHT
                        : FATTN_ALIGN_TOP_LEFT;
}

static void set_window(fattn_params *pr, int64_t left, int64_t right)
{
    pr->window_enabled = 1;
    pr->window_left = left;
    pr->window_right = right;
}

/* Tile edges of the sequence lengths: 1, tile - 1, tile, tile + 1, ... */
static void cat_tiles(kt_ctx *ctx)
{
    static const int64_t seqs[] = {1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129};
    static const int64_t dims[] = {1, 3, 16, 31, 64};
    static const int64_t longs[] = {191, 255, 256, 257, 383, 600};
    static const int64_t others[] = {1, 63, 257, 600};
    char label[128];
    int n = 0;

    for (size_t a = 0; a < COUNT(seqs); a++)
        for (size_t b = 0; b < COUNT(seqs); b++, n++) {
            fattn_ref_problem_config c =
                kt_config(1, 2, 1, seqs[a], seqs[b], dims[n % 5], dims[n % 5]);
            c.lse = 1;
            set_causal(&c.params, n % 3);
            snprintf(label, sizeof(label), "Sq=%" PRId64 " Sk=%" PRId64,
                     seqs[a], seqs[b]);
            kt_run(ctx, &c, label);
        }
    for (size_t a = 0; a < COUNT(longs); a++)
        for (size_t b = 0; b < COUNT(others); b++)
            for (int swap = 0; swap < 2; swap++, n++) {
                const int64_t sq = swap ? others[b] : longs[a];
                const int64_t sk = swap ? longs[a] : others[b];
                fattn_ref_problem_config c = kt_config(1, 1, 1, sq, sk, 16, 16);
                c.lse = 1;
                set_causal(&c.params, n % 3);
                snprintf(label, sizeof(label), "long Sq=%" PRId64 " Sk=%" PRId64,
                         sq, sk);
                kt_run(ctx, &c, label);
            }
}

/* Odd and tile-sized head dimensions, and D != Dv. */
static void cat_head_dim(kt_ctx *ctx)
{
    static const int64_t dims[] = {1, 3, 7, 16, 31, 64, 65, 80, 96, 127, 128, 129, 256};
    static const int64_t shapes[][2] = {{33, 65}, {64, 129}};
    static const int64_t dv[][2] = {{64, 128}, {128, 64}, {1, 256}, {256, 1},
                                    {31, 65}, {80, 96}, {3, 7}, {129, 127}};
    char label[128];
    int n = 0;

    for (size_t d = 0; d < COUNT(dims); d++)
        for (size_t s = 0; s < COUNT(shapes); s++, n++) {
            fattn_ref_problem_config c = kt_config(
                1, 2, 2, shapes[s][0], shapes[s][1], dims[d], dims[d]);
            c.lse = 1;
            set_causal(&c.params, n % 3);
            snprintf(label, sizeof(label), "D=%" PRId64, dims[d]);
            kt_run(ctx, &c, label);
        }
    for (size_t k = 0; k < COUNT(dv); k++, n++) {
        fattn_ref_problem_config c = kt_config(2, 2, 1, 65, 97, dv[k][0], dv[k][1]);
        c.lse = 1;
        set_causal(&c.params, n % 3);
        snprintf(label, sizeof(label), "D=%" PRId64 " Dv=%" PRId64, dv[k][0],
                 dv[k][1]);
        kt_run(ctx, &c, label);
    }
}

/* Both causal alignments with Sq < Sk, Sq = Sk and Sq > Sk. */
static void cat_causal(kt_ctx *ctx)
{
    static const int64_t shapes[][2] = {
        {1, 1},   {1, 65},   {65, 1},    {3, 5},     {5, 3},     {31, 97},   {97, 31},
        {64, 64}, {100, 300}, {300, 100}, {129, 129}, {33, 200}, {200, 33}};
    char label[128];

    for (size_t s = 0; s < COUNT(shapes); s++)
        for (int causal = FATTN_CAUSAL_TOP_LEFT; causal <= FATTN_CAUSAL_BOTTOM_RIGHT; causal++)
            for (int lengths = 0; lengths < 2; lengths++) {
                fattn_ref_problem_config c = kt_config(
                    lengths ? 4 : 2, 2, 1, shapes[s][0], shapes[s][1], 16, 16);
                c.lse = 1;
                c.q_lengths = c.kv_lengths = lengths;
                set_causal(&c.params, causal);
                snprintf(label, sizeof(label),
                         "causal=%d Sq=%" PRId64 " Sk=%" PRId64 " lengths=%d",
                         causal, shapes[s][0], shapes[s][1], lengths);
                kt_run(ctx, &c, label);
            }
}

/* Sliding windows: one side, both, unlimited, 0, huge; with and without
 * causal, both alignments. */
static void cat_window(kt_ctx *ctx)
{
    static const int64_t wins[][2] = {
        {0, 0},   {1, 0},  {0, 1},   {5, -1},   {-1, 5},  {31, -1},
        {32, 0},  {63, 64}, {64, 64}, {100, 3},  {-1, -1}, {200, 0},
        {0, 200}, {-1, 0}, {0, -1},  {INT64_MAX, INT64_MAX}};
    static const int64_t shapes[][2] = {{65, 65}, {40, 150}, {150, 40}};
    char label[160];
    int n = 0;

    for (size_t w = 0; w < COUNT(wins); w++)
        for (size_t s = 0; s < COUNT(shapes); s++)
            for (int mode = 0; mode < 4; mode++, n++) {
                /* modes: no causal (top-left, bottom-right window), causal
                 * top-left, causal bottom-right */
                fattn_ref_problem_config c =
                    kt_config(1, 2, 1, shapes[s][0], shapes[s][1], 16, 16);
                c.lse = 1;
                if (mode < 2)
                    c.params.align = mode;
                else
                    set_causal(&c.params, mode - 1);
                set_window(&c.params, wins[w][0], wins[w][1]);
                if (n % 5 == 0) {
                    c.batch = 3;
                    c.q_lengths = c.kv_lengths = 1;
                }
                snprintf(label, sizeof(label),
                         "window=[%" PRId64 ",%" PRId64 "] mode=%d Sq=%" PRId64
                         " Sk=%" PRId64,
                         wins[w][0], wins[w][1], mode, shapes[s][0], shapes[s][1]);
                kt_run(ctx, &c, label);
            }
}

/* Additive and bool masks: every broadcast combination, stride-0
 * broadcasts, dropped keys and fully masked rows, with other options. */
static void cat_mask(kt_ctx *ctx)
{
    static const double drops[] = {0.0, 0.5, 0.95, 1.0};
    static const int64_t edges[][2] = {{1, 1}, {64, 64}, {65, 129}, {32, 63}};
    char label[160];
    int n = 0;

    for (int kind = FATTN_REF_MASK_ADDITIVE; kind <= FATTN_REF_MASK_BOOL; kind++) {
        for (unsigned bits = 0; bits < 16; bits++)
            for (int zero = 0; zero < 2; zero++, n++) {
                fattn_ref_problem_config c = kt_config(2, 2, 1, 33, 70, 16, 16);
                c.mask = kind;
                /* zero: the same dimensions broadcast by stride 0 instead */
                c.mask_size1 = zero ? 0 : bits;
                c.mask_stride0 = zero ? bits : 0;
                c.mask_drop = 0.2;
                c.mask_dead_rows = 0.15;
                c.lse = 1;
                set_causal(&c.params, n % 3);
                snprintf(label, sizeof(label), "%s mask %s=0x%x",
                         fattn_ref_mask_name(kind), zero ? "stride0" : "size1", bits);
                kt_run(ctx, &c, label);
            }
        for (size_t d = 0; d < COUNT(drops); d++)
            for (int dead = 0; dead < 2; dead++, n++) {
                fattn_ref_problem_config c = kt_config(2, 2, 2, 40, 90, 8, 8);
                c.mask = kind;
                c.mask_drop = drops[d];
                c.mask_dead_rows = dead ? 1.0 : 0.0;
                c.mask_size1 = n % 2 ? 0x6u : 0u; /* key padding [B,1,1,Sk] */
                c.lse = 1;
                snprintf(label, sizeof(label), "%s mask drop=%g dead=%d",
                         fattn_ref_mask_name(kind), drops[d], dead);
                kt_run(ctx, &c, label);
            }
        for (size_t e = 0; e < COUNT(edges); e++)
            for (int combo = 0; combo < 3; combo++, n++) {
                fattn_ref_problem_config c =
                    kt_config(3, 4, 2, edges[e][0], edges[e][1], 16, 24);
                c.mask = kind;
                c.mask_drop = 0.3;
                c.mask_dead_rows = 0.1;
                c.mask_size1 = (unsigned)(n % 16);
                c.lse = 1;
                set_causal(&c.params, combo);
                if (combo == 1)
                    set_window(&c.params, 7, 2);
                if (combo == 2) {
                    c.q_lengths = c.kv_lengths = 1;
                    c.alibi = 1;
                    c.params.softcap = 20.0f;
                }
                snprintf(label, sizeof(label), "%s mask combo=%d Sq=%" PRId64
                         " Sk=%" PRId64, fattn_ref_mask_name(kind), combo,
                         edges[e][0], edges[e][1]);
                kt_run(ctx, &c, label);
            }
    }
}

/* Chosen lengths per batch; -1 = full, -2 = full - 1. */
typedef struct chosen_lengths {
    const int64_t *q, *kv;
} chosen_lengths;

static void set_lengths(fattn_ref_problem *p, const void *arg)
{
    const chosen_lengths *len = arg;
    for (int64_t b = 0; b < p->config.batch; b++) {
        p->q_lengths[b] = len->q[b] < 0 ? p->config.seq_q + 1 + len->q[b] : len->q[b];
        p->kv_lengths[b] = len->kv[b] < 0 ? p->config.seq_k + 1 + len->kv[b] : len->kv[b];
    }
}

/* Build with lengths, then overwrite them with chosen values. */
static void run_with_lengths(kt_ctx *ctx, fattn_ref_problem_config *c,
                             const int64_t *q_len, const int64_t *kv_len,
                             const char *label)
{
    const chosen_lengths len = {q_len, kv_len};
    c->q_lengths = c->kv_lengths = 1;
    kt_run_edited(ctx, c, set_lengths, &len, label);
}

/* ALiBi, soft-cap, explicit scale, per-batch lengths, GQA and MQA. */
static void cat_options(kt_ctx *ctx)
{
    static const int64_t shapes[][2] = {{50, 50}, {30, 90}, {90, 30}};
    static const float caps[] = {0.5f, 5.0f, 30.0f, 50.0f};
    static const float scales[] = {0.01f, 0.125f, 1.0f, 2.0f};
    /* -1 = full length, -2 = full - 1 */
    static const int64_t q_len[6] = {0, -1, 1, -2, 17, -1};
    static const int64_t kv_len[6] = {-1, 0, 1, -2, 33, 5};
    static const int64_t heads[][2] = {{8, 2}, {8, 1}, {6, 3}, {4, 4}};
    char label[160];
    int n = 0;

    for (size_t s = 0; s < COUNT(shapes); s++)
        for (int mode = 0; mode < 4; mode++, n++) {
            fattn_ref_problem_config c =
                kt_config(2, 4, 2, shapes[s][0], shapes[s][1], 32, 32);
            c.alibi = 1;
            c.lse = 1;
            if (mode < 2)
                c.params.align = mode;
            else
                set_causal(&c.params, mode - 1);
            snprintf(label, sizeof(label), "alibi mode=%d Sq=%" PRId64 " Sk=%" PRId64,
                     mode, shapes[s][0], shapes[s][1]);
            kt_run(ctx, &c, label);
        }
    for (size_t k = 0; k < COUNT(caps); k++)
        for (int combo = 0; combo < 3; combo++, n++) {
            fattn_ref_problem_config c = kt_config(1, 2, 1, 70, 70, 64, 64);
            c.params.softcap = caps[k];
            c.params.scale = combo == 2 ? 1.0f : 0.0f;
            c.lse = 1;
            set_causal(&c.params, combo == 1 ? FATTN_CAUSAL_BOTTOM_RIGHT : 0);
            if (combo >= 1) {
                c.mask = FATTN_REF_MASK_ADDITIVE;
                c.mask_drop = 0.1;
                c.alibi = 1;
            }
            snprintf(label, sizeof(label), "softcap=%g combo=%d", (double)caps[k], combo);
            kt_run(ctx, &c, label);
        }
    for (size_t k = 0; k < COUNT(scales); k++, n++) {
        fattn_ref_problem_config c = kt_config(1, 2, 2, 45, 77, 32, 32);
        c.params.scale = scales[k];
        c.lse = 1;
        set_causal(&c.params, n % 3);
        snprintf(label, sizeof(label), "scale=%g", (double)scales[k]);
        kt_run(ctx, &c, label);
    }
    for (size_t s = 0; s < 2; s++)
        for (int combo = 0; combo < 6; combo++, n++) {
            const int64_t sq = s ? 130 : 70, sk = s ? 70 : 130;
            fattn_ref_problem_config c = kt_config(6, 2, 1, sq, sk, 16, 16);
            c.lse = 1;
            set_causal(&c.params, combo % 3);
            if (combo >= 3) {
                set_window(&c.params, combo == 5 ? UNL : 9, combo == 4 ? UNL : 4);
                c.mask = combo == 5 ? FATTN_REF_MASK_BOOL : FATTN_REF_MASK_ADDITIVE;
                c.mask_drop = 0.2;
                c.alibi = combo == 4;
            }
            snprintf(label, sizeof(label), "lengths combo=%d Sq=%" PRId64 " Sk=%" PRId64,
                     combo, sq, sk);
            run_with_lengths(ctx, &c, q_len, kv_len, label);
        }
    for (size_t h = 0; h < COUNT(heads); h++)
        for (int combo = 0; combo < 3; combo++, n++) {
            fattn_ref_problem_config c =
                kt_config(2, heads[h][0], heads[h][1], 40, 75, 32, 48);
            c.lse = 1;
            set_causal(&c.params, combo);
            if (combo == 1) {
                c.mask = FATTN_REF_MASK_ADDITIVE;
                c.mask_size1 = 0x1u; /* per-head mask, shared over batch */
                c.mask_drop = 0.2;
            }
            if (combo == 2) {
                c.alibi = 1;
                c.kv_lengths = 1;
            }
            snprintf(label, sizeof(label), "heads Hq=%" PRId64 " Hkv=%" PRId64 " combo=%d",
                     heads[h][0], heads[h][1], combo);
            kt_run(ctx, &c, label);
        }
}

/* Every layout, with and without other options. */
static void cat_layout(kt_ctx *ctx)
{
    char label[160];
    int n = 0;

    for (int layout = 0; layout < FATTN_REF_LAYOUT_COUNT; layout++)
        for (int combo = 0; combo < 4; combo++, n++) {
            const int fused = layout == FATTN_REF_LAYOUT_FUSED_QKV;
            fattn_ref_problem_config c =
                fused ? kt_config(2, 3, 3, 70, 70, 24, 24)
                      : kt_config(3, 4, 2, combo % 2 ? 33 : 70, combo % 2 ? 97 : 65,
                                  24, combo == 3 ? 40 : 24);
            c.layout = layout;
            c.lse = 1;
            set_causal(&c.params, combo % 3);
            if (combo >= 2) {
                c.mask = combo == 2 ? FATTN_REF_MASK_ADDITIVE : FATTN_REF_MASK_BOOL;
                c.mask_drop = 0.2;
                c.mask_dead_rows = 0.1;
                c.q_lengths = c.kv_lengths = 1;
            }
            if (combo == 3) {
                c.alibi = 1;
                c.params.softcap = 10.0f;
                set_window(&c.params, 20, 3);
            }
            snprintf(label, sizeof(label), "layout=%s combo=%d",
                     fattn_ref_layout_name(layout), combo);
            kt_run(ctx, &c, label);
        }
}

/* An empty tensor addresses nothing, so validation never bounds its strides:
 * give the empty inputs (query when Sq = 0, key and value when Sk = 0, an
 * empty mask) strides of 2^62. The kernels must not do arithmetic with them
 * (fuzz_validate found value + b * stride[0] wrapping the address space). */
static void huge_empty_strides(fattn_ref_problem *p, const void *arg)
{
    fattn_tensor *inputs[4] = {&p->query, &p->key, &p->value, &p->mask};
    (void)arg;
    for (int t = 0; t < 4; t++) {
        int empty = 0;
        for (int d = 0; d < 4; d++)
            empty |= inputs[t]->shape[d] == 0;
        for (int d = 0; d < 4 && empty; d++)
            if (inputs[t]->shape[d] != 1)
                inputs[t]->stride[d] = (int64_t)1 << 62;
    }
}

/* Empty problems: B = 0, Sq = 0, Sk = 0 (every row fully masked), all
 * lengths 0. Also checks that nothing outside the tensors is written. */
static void cat_empty(kt_ctx *ctx)
{
    static const int64_t shapes[][3] = {/* B, Sq, Sk */
                                        {0, 5, 7}, {2, 0, 7}, {2, 5, 0},
                                        {2, 0, 0}, {0, 0, 0}, {3, 33, 0}};
    static const int64_t zeros[4] = {0, 0, 0, 0};
    static const int64_t fulls[4] = {-1, -1, -1, -1};
    char label[160];
    int n = 0;

    for (size_t s = 0; s < COUNT(shapes); s++)
        for (int combo = 0; combo < 6; combo++, n++) {
            fattn_ref_problem_config c = kt_config(
                shapes[s][0], 4, 2, shapes[s][1], shapes[s][2], 16, 8);
            c.layout = combo % 5; /* fused needs Sq == Sk, D == Dv */
            c.lse = combo != 0;
            set_causal(&c.params, combo % 3);
            if (combo >= 2) {
                c.mask = combo % 2 ? FATTN_REF_MASK_BOOL : FATTN_REF_MASK_ADDITIVE;
                c.mask_size1 = (unsigned)(combo * 5 % 16);
            }
            if (combo >= 3)
                c.q_lengths = c.kv_lengths = 1;
            if (combo == 4) {
                c.alibi = 1;
                set_window(&c.params, 3, 1);
            }
            snprintf(label, sizeof(label),
                     "empty B=%" PRId64 " Sq=%" PRId64 " Sk=%" PRId64 " combo=%d",
                     shapes[s][0], shapes[s][1], shapes[s][2], combo);
            kt_run(ctx, &c, label);
            if (c.layout == FATTN_REF_LAYOUT_FUSED_QKV)
                continue; /* q, k, v share one buffer and its strides */
            snprintf(label, sizeof(label),
                     "empty B=%" PRId64 " Sq=%" PRId64 " Sk=%" PRId64
                     " combo=%d, strides 2^62 on empty inputs",
                     shapes[s][0], shapes[s][1], shapes[s][2], combo);
            kt_run_edited(ctx, &c, huge_empty_strides, NULL, label);
        }
    for (int which = 0; which < 3; which++, n++) {
        /* every q length 0, every kv length 0, or both */
        fattn_ref_problem_config c = kt_config(4, 2, 1, 40, 70, 16, 16);
        c.lse = 1;
        set_causal(&c.params, n % 3);
        snprintf(label, sizeof(label), "zero lengths which=%d", which);
        run_with_lengths(ctx, &c, which == 1 ? fulls : zeros,
                         which == 0 ? fulls : zeros, label);
    }
}

/* Logits up to about +-1e4, exact in float32 (see problem.h). */
static void cat_large(kt_ctx *ctx)
{
    static const int64_t dims[] = {1, 16, 64, 128, 256};
    char label[160];
    int n = 0;

    for (size_t d = 0; d < COUNT(dims); d++)
        for (int combo = 0; combo < 6; combo++, n++) {
            fattn_ref_problem_config c =
                kt_config(2, 2, 1, combo % 2 ? 65 : 33, combo % 2 ? 130 : 97,
                          dims[d], dims[d]);
            c.large_logits = 1;
            c.lse = 1;
            set_causal(&c.params, combo % 3);
            if (combo == 2) {
                c.mask = FATTN_REF_MASK_ADDITIVE;
                c.mask_drop = 0.2;
                c.mask_dead_rows = 0.1;
            }
            if (combo == 3)
                c.alibi = 1;
            if (combo == 4) {
                c.params.softcap = 50.0f;
                c.mask = FATTN_REF_MASK_ADDITIVE;
                c.alibi = 1;
            }
            if (combo == 5) {
                c.q_lengths = c.kv_lengths = 1;
                set_window(&c.params, 40, UNL);
            }
            snprintf(label, sizeof(label), "large D=%" PRId64 " combo=%d",
                     dims[d], combo);
            kt_run(ctx, &c, label);
        }
}

/* Random combinations of everything, a few hundred, from the base seed. */
static void cat_random(kt_ctx *ctx)
{
    static const int64_t seqs[] = {0,  1,  2,  3,   7,   31,  32,  33, 63,
                                   64, 65, 100, 127, 128, 129, 200, 257};
    static const int64_t dims[] = {1, 3, 7, 16, 31, 64, 65, 80, 96, 127, 128, 129, 256};
    static const int64_t groups[] = {1, 2, 4};
    static const int64_t win[] = {-1, 0, 1, 5, 31, 64, 200};
    static const int64_t caps[] = {1, 5, 20, 50};
    static const int64_t scales[] = {1, 8, 32, 128}; /* scale = x / 64 */
    static const double drops[] = {0.0, 0.1, 0.5, 1.0};
    fattn_ref_rng r;
    char label[64];

    fattn_ref_rng_seed(&r, ctx->base_seed ^ 0x7a3d1c55e0f2b649ull);
    for (int k = 0; k < 300; k++) {
        fattn_ref_problem_config c;
        const int64_t hkv = fattn_ref_rng_range(&r, 1, 3);
        const int64_t sq = fattn_ref_rng_range(&r, 0, 3) ? fattn_ref_rng_pick(&r, seqs, COUNT(seqs))
                                                         : fattn_ref_rng_range(&r, 1, 300);
        const int64_t sk = fattn_ref_rng_range(&r, 0, 3) ? fattn_ref_rng_pick(&r, seqs, COUNT(seqs))
                                                         : fattn_ref_rng_range(&r, 1, 300);
        int64_t d = fattn_ref_rng_pick(&r, dims, COUNT(dims));
        int64_t dv = fattn_ref_rng_range(&r, 0, 2) ? d : fattn_ref_rng_pick(&r, dims, COUNT(dims));
        /* One draw per statement: argument evaluation order is unspecified. */
        const int64_t batch = fattn_ref_rng_range(&r, 0, 19) ? fattn_ref_rng_range(&r, 1, 3) : 0;
        const int64_t hq = hkv * fattn_ref_rng_pick(&r, groups, COUNT(groups));
        c = kt_config(batch, hq, hkv, sq, sk, d, dv);
        /* Keep each case near 2M multiply-adds: shrink head dims, then heads. */
        while (c.batch * c.heads_q * sq * sk * (c.head_dim + c.head_dim_v) > 4000000) {
            if (c.head_dim + c.head_dim_v > 64) {
                c.head_dim = (c.head_dim + 1) / 2;
                c.head_dim_v = (c.head_dim_v + 1) / 2;
            } else if (c.heads_q > c.heads_kv) {
                c.heads_q = c.heads_kv;
            } else if (c.batch > 1) {
                c.batch--;
            } else {
                c.heads_q = c.heads_kv = 1;
                break;
            }
        }
        c.layout = (int)fattn_ref_rng_range(&r, 0, FATTN_REF_LAYOUT_COUNT - 1);
        if (c.layout == FATTN_REF_LAYOUT_FUSED_QKV &&
            (sq != sk || c.heads_q != c.heads_kv || c.head_dim != c.head_dim_v))
            c.layout = FATTN_REF_LAYOUT_BSHD;
        c.mask = (int)fattn_ref_rng_range(&r, 0, 2);
        c.mask_size1 = (unsigned)fattn_ref_rng_range(&r, 0, 15);
        c.mask_stride0 = (unsigned)fattn_ref_rng_range(&r, 0, 15) & ~c.mask_size1;
        if (fattn_ref_rng_range(&r, 0, 1))
            c.mask_stride0 = 0;
        c.mask_drop = drops[fattn_ref_rng_range(&r, 0, 3)];
        if (c.mask_drop == 1.0 && fattn_ref_rng_range(&r, 0, 3))
            c.mask_drop = 0.2; /* all-masked problems: rarely */
        c.mask_dead_rows = fattn_ref_rng_range(&r, 0, 3) ? 0.0 : 0.2;
        c.lse = fattn_ref_rng_range(&r, 0, 9) < 7;
        c.q_lengths = fattn_ref_rng_range(&r, 0, 9) < 3;
        c.kv_lengths = fattn_ref_rng_range(&r, 0, 9) < 3;
        c.alibi = fattn_ref_rng_range(&r, 0, 9) < 3;
        c.large_logits = fattn_ref_rng_range(&r, 0, 9) < 2;
        if (fattn_ref_rng_range(&r, 0, 9) < 3)
            c.params.softcap = (float)fattn_ref_rng_pick(&r, caps, COUNT(caps));
        if (fattn_ref_rng_range(&r, 0, 9) < 3)
            c.params.scale = (float)fattn_ref_rng_pick(&r, scales, COUNT(scales)) / 64.0f;
        c.params.causal = (int32_t)fattn_ref_rng_range(&r, 0, 2);
        c.params.align = (int32_t)fattn_ref_rng_range(&r, 0, 1);
        if (fattn_ref_rng_range(&r, 0, 9) < 4)
            set_window(&c.params, fattn_ref_rng_pick(&r, win, COUNT(win)),
                       fattn_ref_rng_pick(&r, win, COUNT(win)));
        if (c.params.causal != FATTN_CAUSAL_NONE && (c.params.window_enabled || c.alibi))
            set_causal(&c.params, c.params.causal);
        snprintf(label, sizeof(label), "random #%d", k);
        kt_run(ctx, &c, label);
    }
}

static float *element(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                      int64_t d)
{
    return (float *)t->data + n * t->stride[0] + h * t->stride[1] +
           s * t->stride[2] + d * t->stride[3];
}

/* NaN into every query row past q_lengths and key/value row past
 * kv_lengths: the header says padding is never read. */
static void poison_padding(fattn_ref_problem *p, const void *unused)
{
    (void)unused;
    const fattn_ref_problem_config *c = &p->config;
    for (int64_t b = 0; b < c->batch; b++) {
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = p->q_lengths[b]; i < c->seq_q; i++)
                for (int64_t d = 0; d < c->head_dim; d++)
                    *element(&p->query, b, h, i, d) = NAN;
        for (int64_t g = 0; g < c->heads_kv; g++)
            for (int64_t j = p->kv_lengths[b]; j < c->seq_k; j++) {
                for (int64_t d = 0; d < c->head_dim; d++)
                    *element(&p->key, b, g, j, d) = NAN;
                for (int64_t d = 0; d < c->head_dim_v; d++)
                    *element(&p->value, b, g, j, d) = NAN;
            }
    }
}

/* One NaN in a query row and one in a key that causal hides from the
 * earlier rows: the NaN reaches exactly the rows that use it. */
/* `with_value` (non-NULL): also a NaN in V, which every row must see. */
static void poison_one(fattn_ref_problem *p, const void *with_value)
{
    *element(&p->query, 0, 1, 5, 3) = NAN;
    *element(&p->key, 1, 0, 20, 0) = NAN;
    if (with_value)
        *element(&p->value, 1, 0, 30, 1) = NAN;
}

/* Padding past the lengths holds NaN and must not be read. */
static void cat_padding(kt_ctx *ctx)
{
    char label[160];

    for (int combo = 0; combo < 12; combo++) {
        int layout = combo % FATTN_REF_LAYOUT_COUNT;
        if (layout == FATTN_REF_LAYOUT_KV_BROADCAST) /* padding differs per batch */
            layout = FATTN_REF_LAYOUT_BHSD;
        fattn_ref_problem_config c =
            layout == FATTN_REF_LAYOUT_FUSED_QKV ? kt_config(3, 2, 2, 70, 70, 16, 16)
                                                 : kt_config(4, 4, 2, 45, 100, 16, 24);
        c.layout = layout;
        c.q_lengths = c.kv_lengths = 1;
        c.lse = 1;
        set_causal(&c.params, combo % 3);
        if (combo >= 6) {
            c.mask = FATTN_REF_MASK_ADDITIVE;
            c.mask_drop = 0.1;
            c.alibi = 1;
            set_window(&c.params, 30, 2);
        }
        snprintf(label, sizeof(label), "NaN padding layout=%s combo=%d",
                 fattn_ref_layout_name(layout), combo);
        kt_run_edited(ctx, &c, poison_padding, NULL, label);
    }
}

/* NaN in the data propagates (fattn.h, "Data is not scanned"): a NaN score
 * a row can see makes that row's output and LSE NaN, and never turns the row
 * into a "fully masked" one (0, -inf); rows that cannot see it stay exact. A
 * NaN in V reaches its column in the rows that see the key; the header
 * leaves open whether it also reaches rows of the same tile that do not
 * (0 * NaN on the SIMD paths), so V is poisoned only without causal, where
 * every row sees every key. */
static void cat_nan(kt_ctx *ctx)
{
    char label[64];

    for (int causal = 0; causal < 3; causal++) {
        fattn_ref_problem_config c = kt_config(2, 2, 1, 40, 70, 16, 16);
        c.lse = 1;
        set_causal(&c.params, causal);
        snprintf(label, sizeof(label), "NaN in data causal=%d", causal);
        kt_run_edited(ctx, &c, poison_one, causal == 0 ? &c : NULL, label);
    }
}

/* x rounded to bfloat16 (8 significant bits, to nearest even), kept as f32. */
static float round_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The data of one soft-cap case. */
typedef struct softcap_data {
    float qscale, vscale;
} softcap_data;

/* FlashAttention's soft-cap test data: N(0, 1) (Box-Muller from the
 * problem's seed), the query times qscale (FA3 scales it by softcap / 4,
 * FA2 by softcap, so that the scores reach the cap's bend), every value
 * rounded to bfloat16 as those tests draw them, so the products of the
 * dot products are exact in f32. */
static void gaussian_data(fattn_ref_problem *p, const void *arg)
{
    const softcap_data *sd = arg;
    const fattn_ref_problem_config *c = &p->config;
    fattn_ref_rng r;
    fattn_ref_rng_seed(&r, c->seed ^ 0x9e3779b97f4a7c15ull);
    /* One normal deviate per use (the second of the pair is dropped). */
#define GAUSS() (float)(sqrt(-2.0 * log(1.0 - fattn_ref_rng_unit(&r))) * \
                        cos(6.283185307179586 * fattn_ref_rng_unit(&r)))
    for (int64_t b = 0; b < c->batch; b++) {
        for (int64_t h = 0; h < c->heads_q; h++)
            for (int64_t i = 0; i < c->seq_q; i++)
                for (int64_t d = 0; d < c->head_dim; d++)
                    *element(&p->query, b, h, i, d) = round_bf16(sd->qscale * GAUSS());
        for (int64_t g = 0; g < c->heads_kv; g++)
            for (int64_t j = 0; j < c->seq_k; j++) {
                for (int64_t d = 0; d < c->head_dim; d++)
                    *element(&p->key, b, g, j, d) = round_bf16(GAUSS());
                for (int64_t d = 0; d < c->head_dim_v; d++)
                    *element(&p->value, b, g, j, d) = round_bf16(sd->vscale * GAUSS());
            }
    }
#undef GAUSS
}

/*
 * Gemma-2's soft-cap of 50 on FlashAttention's test shapes and data:
 * prefill (the lanes path) and decode (the rows path, GQA), with and without
 * causal masking. V is N(0, 1) / 4: with unit V the f32 rounding of the
 * capped scores themselves (ulp(32) = 3.8e-6) puts even the scalar path at
 * up to 1.3x the tolerance on some seeds. Correct paths stay below 0.33 of
 * it here (measured on 7 seeds); the SIMD paths reached 0.40-0.57 when they
 * packed scale * Q in f32 (now the soft-cap takes the scale), hence the
 * warning above 0.4.
 */
static void cat_softcap(kt_ctx *ctx)
{
    static const int64_t shapes[][2] = {{113, 113}, {256, 256}, {113, 203}, {108, 256}, {1, 256}};
    static const int64_t dims[] = {64, 128};
    static const softcap_data data[] = {{50.0f / 4.0f, 0.25f}, {50.0f, 0.25f}};
    char label[160];

    for (size_t s = 0; s < COUNT(shapes); s++)
        for (size_t d = 0; d < COUNT(dims); d++)
            for (size_t q = 0; q < COUNT(data); q++)
                for (int causal = 0; causal < 2; causal++) {
                    const int decode = shapes[s][0] == 1;
                    fattn_ref_problem_config c =
                        kt_config(2, decode ? 8 : 4, 2, shapes[s][0], shapes[s][1],
                                  dims[d], dims[d]);
                    c.params.softcap = 50.0f;
                    c.lse = 1;
                    set_causal(&c.params, causal ? FATTN_CAUSAL_BOTTOM_RIGHT
                                                 : FATTN_CAUSAL_NONE);
                    snprintf(label, sizeof(label),
                             "softcap 50 Sq=%" PRId64 " Sk=%" PRId64 " D=%" PRId64
                             " q*%g causal=%d",
                             shapes[s][0], shapes[s][1], dims[d],
                             (double)data[q].qscale, causal);
                    kt_run_edited(ctx, &c, gaussian_data, &data[q], label);
                }
}

typedef struct category {
    const char *name;
    void (*run)(kt_ctx *ctx);
} category;

/*
 * Decode and the shapes between decode and prefill: every GQA group of a
 * few head counts, Sq 1 .. 17 and around the paths' tiles and crossovers
 * (AVX2's query tile is 24 rows, AVX-512's 48, the decode kernel runs below
 * one tile and between one and 1.5; its items hold up to 64 rows of a KV
 * head), KV caches in BHSD, BSHD and strided (padded) layouts,
 * with the options a cache needs: bottom-right causal, windows, masks,
 * lengths, soft-cap, ALiBi, LSE.
 */
static void cat_decode(kt_ctx *ctx)
{
    static const int64_t heads[][2] = {{8, 8}, {8, 4}, {8, 2}, {8, 1}, {6, 3},
                                       {6, 2}, {6, 1}, {12, 1}, {16, 1}, {3, 1}};
    static const int64_t seqs[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                   13, 14, 15, 16, 17, 23, 24, 25, 31, 32, 33, 35,
                                   36, 37, 47, 48, 49, 63, 64, 65, 71, 72, 73};
    static const int64_t dims[][2] = {{16, 16}, {64, 64}, {128, 128}, {80, 96},
                                      {3, 17}, {33, 31}, {576, 512}, {256, 256}};
    char label[160];
    int n = 0;

    for (size_t h = 0; h < COUNT(heads); h++)
        for (size_t q = 0; q < COUNT(seqs); q++, n++) {
            /* Long Sq only on two head counts: the grid stays quick. */
            if (seqs[q] > 17 && h % 4 != 1)
                continue;
            const int64_t *d = dims[n % COUNT(dims)];
            fattn_ref_problem_config c =
                kt_config(n % 4 == 0 ? 2 : 1, heads[h][0], heads[h][1], seqs[q],
                          seqs[q] > 17 ? 150 : 70 + n % 130, d[0], d[1]);
            c.lse = 1;
            c.layout = n % 3 == 0   ? FATTN_REF_LAYOUT_BHSD
                       : n % 3 == 1 ? FATTN_REF_LAYOUT_BSHD
                                    : FATTN_REF_LAYOUT_PADDED;
            const int combo = n % 6;
            if (combo >= 1)
                set_causal(&c.params, FATTN_CAUSAL_BOTTOM_RIGHT);
            if (combo == 2)
                set_window(&c.params, 40, 0);
            if (combo == 3) {
                c.mask = n % 2 ? FATTN_REF_MASK_BOOL : FATTN_REF_MASK_ADDITIVE;
                c.mask_drop = 0.2;
                c.mask_dead_rows = 0.1;
                c.mask_size1 = (unsigned)(n % 16);
            }
            if (combo == 4) {
                c.batch = 3;
                c.q_lengths = c.kv_lengths = 1;
                c.alibi = 1;
            }
            if (combo == 5)
                c.params.softcap = 30.0f;
            snprintf(label, sizeof(label),
                     "decode Hq=%" PRId64 " Hkv=%" PRId64 " Sq=%" PRId64 " combo=%d",
                     heads[h][0], heads[h][1], seqs[q], combo);
            kt_run(ctx, &c, label);
        }
}

/*
 * Split-K: plans with fewer than 32 row items cut the keys into chunks of
 * at least 512 keys (multiples of 64). Key lengths around one and several
 * chunks, with lengths that leave whole chunks empty, causal rows that see
 * only the first chunks, windows inside one chunk, masks and LSE.
 */
static void cat_split(kt_ctx *ctx)
{
    static const int64_t keys[] = {1023, 1024, 1025, 1087, 1088, 1089,
                                   1535, 1536, 1537, 2049, 4097};
    static const int64_t heads[][2] = {{1, 1}, {4, 1}, {8, 2}, {2, 2}};
    static const int64_t seqs[] = {1, 3, 17, 49};
    char label[160];
    int n = 0;

    for (size_t k = 0; k < COUNT(keys); k++)
        for (size_t h = 0; h < COUNT(heads); h++, n++) {
            const int64_t sq = seqs[n % COUNT(seqs)];
            fattn_ref_problem_config c =
                kt_config(1, heads[h][0], heads[h][1], sq, keys[k], 16, 24);
            c.lse = n % 5 != 0;
            c.layout = n % 2 ? FATTN_REF_LAYOUT_PADDED : FATTN_REF_LAYOUT_BSHD;
            const int combo = n % 5;
            /* Logits near 1e4: the chunks' weights need m and log(l)
             * apart (fattn_problem.lse_max), not m + log(l) in float. */
            c.large_logits = combo == 0 || n % 7 == 1;
            if (combo == 1)
                set_causal(&c.params, n % 2 ? FATTN_CAUSAL_BOTTOM_RIGHT
                                            : FATTN_CAUSAL_TOP_LEFT);
            if (combo == 2) {
                set_causal(&c.params, FATTN_CAUSAL_BOTTOM_RIGHT);
                set_window(&c.params, 100, 0);
            }
            if (combo == 3) {
                c.batch = 2;
                c.q_lengths = c.kv_lengths = 1; /* chunks past a length */
                c.mask = FATTN_REF_MASK_BOOL;
                c.mask_drop = 0.5;
                c.mask_dead_rows = 0.2;
            }
            if (combo == 4) {
                c.alibi = 1;
                c.params.softcap = 20.0f;
            }
            snprintf(label, sizeof(label),
                     "split Sk=%" PRId64 " Hq=%" PRId64 " Hkv=%" PRId64 " Sq=%" PRId64
                     " combo=%d",
                     keys[k], heads[h][0], heads[h][1], sq, combo);
            kt_run(ctx, &c, label);
        }
}

static const category categories[] = {
    {"tiles", cat_tiles},     {"head_dim", cat_head_dim}, {"causal", cat_causal},
    {"window", cat_window},   {"mask", cat_mask},         {"options", cat_options},
    {"layout", cat_layout},   {"empty", cat_empty},       {"large", cat_large},
    {"padding", cat_padding}, {"nan", cat_nan},           {"random", cat_random},
    {"softcap", cat_softcap}, {"decode", cat_decode},   {"split", cat_split},
    {"dtype", kt_cat_dtype},
};

static int usage(const char *program)
{
    fprintf(stderr, "usage: %s [all", program);
    for (size_t k = 0; k < COUNT(categories); k++)
        fprintf(stderr, "|%s", categories[k].name);
    fprintf(stderr, "] [--seed=N] [--case=N] [--isa=");
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++)
        fprintf(stderr, "%s%s", isa > 1 ? "|" : "", fattn_isa_name(isa));
    fprintf(stderr, "]\n");
    return 2;
}

int main(int argc, char **argv)
{
    kt_ctx ctx;
    const char *which = "all", *only_isa = NULL;
    int64_t failures = 0, ran = 0;

    memset(&ctx, 0, sizeof(ctx));
    ctx.program = argv[0];
    ctx.base_seed = 0x5eedf00dull;
    ctx.only_case = -1;
    for (int k = 1; k < argc; k++) {
        if (strncmp(argv[k], "--seed=", 7) == 0)
            ctx.base_seed = strtoull(argv[k] + 7, NULL, 0);
        else if (strncmp(argv[k], "--case=", 7) == 0)
            ctx.only_case = strtoll(argv[k] + 7, NULL, 0);
        else if (strncmp(argv[k], "--isa=", 6) == 0)
            only_isa = argv[k] + 6;
        else if (argv[k][0] == '-')
            return usage(argv[0]);
        else
            which = argv[k];
    }

    int named = 0;
    for (int isa = 1; isa < FATTN_ISA_COUNT; isa++) {
        if (only_isa && strcmp(only_isa, fattn_isa_name(isa)) != 0)
            continue;
        named = 1;
        if (fattn_isa_available(isa))
            ctx.isas[ctx.n_isas++] = isa;
        else if (!fattn_kernel_for(isa))
            printf("SKIP %s: not built in (this build has no kernels for it)\n",
                   fattn_isa_name(isa));
        else
            printf("SKIP %s: built in, but this CPU or OS does not support it\n",
                   fattn_isa_name(isa));
    }
    if (!named)
        return usage(argv[0]);
    ctx.isas[ctx.n_isas++] = FATTN_ISA_AUTO;

    fattn_error err;
    const fattn_isa auto_isa = fattn_isa_auto(&err);
    printf("kernel_grid: base seed %" PRIu64 ", paths", ctx.base_seed);
    for (int k = 0; k < ctx.n_isas; k++)
        printf(" %s", fattn_isa_name(ctx.isas[k]));
    printf(" (auto = %s%s%s)\n", fattn_isa_name(auto_isa),
           auto_isa == FATTN_ISA_AUTO ? ": " : "",
           auto_isa == FATTN_ISA_AUTO ? err.message : "");

    for (size_t k = 0; k < COUNT(categories); k++) {
        if (strcmp(which, "all") != 0 && strcmp(which, categories[k].name) != 0)
            continue;
        const clock_t t0 = clock();
        kt_begin(&ctx, categories[k].name);
        categories[k].run(&ctx);
        failures += kt_end(&ctx);
        printf("         (%.2f s)\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
        ran++;
    }
    if (ran == 0)
        return usage(argv[0]);
    char tol_text[256];
    const fattn_tol tol = fattn_tol_for(FATTN_TOL_F32, FATTN_DTYPE_F32);
    printf("kernel_grid: %s (f32 tolerance: %s)\n", failures ? "FAILED" : "all passed",
           fattn_tol_describe(&tol, tol_text, sizeof tol_text));
    return failures ? 1 : 0;
}
