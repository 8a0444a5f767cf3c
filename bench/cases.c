/*
 * cases.c - the table of benchmark cases, their registration and the case
 * body: set-up (prepare.c), the timing loop, the counters.
 *
 * Threads: every case runs at one thread count (its level, machine.h); the
 * headline shapes run at 1 and at N threads (N = the CPUs this process may
 * use, or --fattn_threads), everything else at 1. A one-thread case is
 * timed in process CPU time (shim.h: on a shared machine the wall clock
 * also counts waiting for a core); an N-thread case in wall-clock time,
 * the only clock in which N threads are faster than one (its process CPU
 * time, N threads' worth, is in the JSON too, and cpu_util shows the
 * ratio).
 *
 * Counters (Google Benchmark's JSON and console):
 *   FLOPS       rate: FLOP per call / time (4*B*H*Sq*Sk*D; only the
 *               visible pairs for causal, window and ragged lengths)
 *   peak_pct    GFLOP/s as % of the peak the implementation's arithmetic
 *               runs at, measured at start-up on as many cores as the
 *               case has threads: the fp32 FMA peak of its vector width
 *               (none for the scalar path), or the bf16 dot-product peak
 *               (fattn_bf16_peak_gflops) for fattn's avx512bf16 path on
 *               bf16 Q, K and V and for oneDNN's bf16 matmuls on a CPU
 *               with AVX512_BF16 (the label then starts "% of bf16 dot
 *               peak"; none while that peak is unavailable)
 *   kv_read     decode: rate of K/V bytes read (2 bytes an element for a
 *               bf16/f16 cache); bw_pct: % of the read bandwidth
 *               measured with the case's thread count
 *   roof_pct    decode: FLOPS as % of the roofline at the case's thread
 *               count, min(peak, read bandwidth * 2r/E), r = (Hq/Hkv)*Sq
 *               query rows per K/V row, E bytes per K/V element (r/2
 *               FLOP per byte of f32 K/V, r of bf16/f16); none where
 *               peak_pct is none
 *   x_blas, x_onednn, x_scalar
 *               fattn cases: speed-up over that baseline on the same
 *               shape at the same thread count in the same run (baseline
 *               time / this time; the baseline's median when it ran,
 *               otherwise timed on demand)
 *   scaling     N-thread cases: the same implementation's wall time on
 *               one thread / its wall time on N (N = perfect)
 *   cpu_util    N-thread cases: process CPU time / wall time, the cores
 *               kept busy (spinning threads count too)
 *   time_vs_plain
 *               variant cases: this time / the plain case's time, same
 *               shape, same implementation (the variant's overhead)
 *   extra_mem   bytes beyond inputs and output: fattn's workspace,
 *               the baselines' score buffers
 */
#define _POSIX_C_SOURCE 200809L

#include "cases.h"

#include "dtypes.h"
#include "prepare.h"
#include "shim.h"
#include "unfused.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TIMES 64

/* Repeat an on-demand baseline timing at least this long and often. */
#define ON_DEMAND_SECONDS 0.3
#define ON_DEMAND_MIN_RUNS 3
#define ON_DEMAND_MAX_RUNS 20

typedef struct bench_case bench_case;

struct bench_case {
    const char *group;
    bench_shape shape;
    int impl;
    int level;      /* thread count: g_machine->threads[level] */
    char shape_key[160]; /* the problem alone: shared by every level */
    char key[192];  /* the name without the impl: one problem, one level */
    char name[224];
    /* The same key's other implementations (NULL: not registered), the
     * plain case of the same shape, level and implementation (variants),
     * and the same implementation on one thread (N-thread cases). */
    bench_case *peer[BENCH_IMPL_COUNT];
    bench_case *plain;
    bench_case *single;
    /* Measured seconds per call, one per body call: the case's clock
     * (times), and the wall clock and process CPU time (for scaling and
     * cpu_util). */
    double times[MAX_TIMES], wall[MAX_TIMES], cpu[MAX_TIMES];
    int ntimes;
};

static bench_case *g_cases;
static size_t g_ncases;
static const bench_machine *g_machine;

/* ---- The table ------------------------------------------------------- */

#define V(x) (1u << (x))

/* The precisions of a row: query and output, key and value. */
enum { DT_F32, DT_BF16, DT_F16, DT_KV_BF16, DT_KV_F16, DT_COUNT };
static const int dt_q[DT_COUNT] = {FATTN_DTYPE_F32, FATTN_DTYPE_BF16,
                                   FATTN_DTYPE_F16, FATTN_DTYPE_F32,
                                   FATTN_DTYPE_F32};
static const int dt_kv[DT_COUNT] = {FATTN_DTYPE_F32, FATTN_DTYPE_BF16,
                                    FATTN_DTYPE_F16, FATTN_DTYPE_BF16,
                                    FATTN_DTYPE_F16};
#define D(x) (1u << (x))
#define HALF_ALL (D(DT_BF16) | D(DT_F16))
#define HALF_KV (D(DT_BF16) | D(DT_F16) | D(DT_KV_BF16) | D(DT_KV_F16))
#define F32 D(DT_F32)

typedef struct shape_row {
    const char *group;
    int64_t batch, heads, kv_heads, seq_q, seq_k, dim;
    unsigned variants;
    int threaded; /* 1: a headline shape, also run at N threads */
    /* 1: only with limits.decode_grid (--fattn_full), and without the
     * scalar path, whose calls there take seconds each. */
    int full_only;
    unsigned dtypes; /* D(DT_...) bits: the precisions registered */
} shape_row;

static const unsigned all_variants =
    V(BENCH_PLAIN) | V(BENCH_MASK_F32) | V(BENCH_MASK_BOOL) | V(BENCH_WINDOW) |
    V(BENCH_ALIBI) | V(BENCH_SOFTCAP);

/* The sweep at B=1 H=8 D=128 is part of the prefill rows (S = 128 .. 8192);
 * S=2048 also runs causal. */
static const int64_t sweep[] = {128, 256, 512, 1024, 2048, 4096, 8192};

/* The decode grid at H=32: GQA group sizes (Hkv = 32 / group), query rows
 * (a step, speculative decoding, chunked prefill), cache lengths. The
 * default rows are group 1, 4, 8, 32 at Sq=1, Sk=8192 and group 4 at
 * Sk=65536; the rest needs --fattn_full. */
static const int64_t decode_groups[] = {1, 2, 4, 8, 16, 32};
static const int64_t decode_sq[] = {1, 2, 4, 8, 16};
static const int64_t decode_sk[] = {1024, 4096, 8192, 16384, 65536};

/* The bf16/f16 decode rows (Hkv = 8); the first of each is the default. */
static const int64_t half_decode_sq[] = {1, 4, 16};
static const int64_t half_decode_sk[] = {8192, 65536};

#define COUNT(a) (sizeof a / sizeof *a)

static int decode_default(int64_t group, int64_t sq, int64_t sk)
{
    const int headline = group == 1 || group == 4 || group == 8 || group == 32;

    return sq == 1 && ((sk == 8192 && headline) || (sk == 65536 && group == 4));
}

/* Fills rows[0 .. cap-1] and returns how many rows there are (call with
 * cap 0 to count). */
static size_t table(shape_row *rows, size_t cap)
{
    size_t n = 0;

#define ROW(...)                                                              \
    do {                                                                      \
        const shape_row r = {__VA_ARGS__};                                    \
        if (n < cap)                                                          \
            rows[n] = r;                                                      \
        n++;                                                                  \
    } while (0)

    /* Short context, where CPU flash kernels often lose to unfused. */
    ROW("prefill", 1, 8, 8, 128, 128, 64, V(BENCH_PLAIN), 1, 0, F32);
    ROW("prefill", 1, 8, 8, 1024, 1024, 64, V(BENCH_PLAIN), 1, 0, F32);
    for (size_t k = 0; k < COUNT(sweep); k++)
        ROW("prefill", 1, 8, 8, sweep[k], sweep[k], 128,
            sweep[k] == 2048 ? V(BENCH_PLAIN) | V(BENCH_CAUSAL) : V(BENCH_PLAIN),
            sweep[k] == 2048, 0, F32);
    ROW("prefill", 4, 16, 16, 512, 512, 64, V(BENCH_PLAIN), 1, 0, F32);
    ROW("variant", 4, 16, 16, 512, 512, 64, all_variants | V(BENCH_RAGGED), 0, 0, F32);
    ROW("variant", 1, 8, 8, 2048, 2048, 128, all_variants, 0, 0, F32);
    for (size_t g = 0; g < COUNT(decode_groups); g++)
        for (size_t q = 0; q < COUNT(decode_sq); q++)
            for (size_t k = 0; k < COUNT(decode_sk); k++) {
                const int64_t group = decode_groups[g], sq = decode_sq[q],
                              sk = decode_sk[k];

                ROW("decode", 1, 32, 32 / group, sq, sk, 128, V(BENCH_PLAIN), 1,
                    !decode_default(group, sq, sk), F32);
            }
    ROW("decode", 1, 32, 8, 1, 8192, 64, V(BENCH_PLAIN), 1, 1, F32);
    ROW("decode", 1, 32, 8, 1, 8192, 256, V(BENCH_PLAIN), 1, 1, F32);
    /* The cache layouts, next to the plain rows above (time_vs_plain). */
    ROW("decode", 1, 32, 8, 1, 8192, 128, V(BENCH_STRIDED) | V(BENCH_BSHD), 1, 0, F32);
    ROW("decode", 1, 32, 8, 1, 65536, 128, V(BENCH_STRIDED) | V(BENCH_BSHD), 1, 1, F32);
    /* bf16 and f16 beside the f32 rows above (their keys add q: and kv:).
     * Prefill: all-half Q, K, V and output; the default run has the
     * headline S=2048 D=128, --fattn_full the other headline shapes, the
     * causal one and S=4096. Decode: a half K/V cache under an f32 query
     * (f32 output) and all-half, at the headline Hkv=8; the default run
     * has Sq=1 Sk=8192, --fattn_full Sq 4 and 16 and Sk=65536. */
    ROW("prefill", 1, 8, 8, 2048, 2048, 128, V(BENCH_PLAIN), 1, 0, HALF_ALL);
    ROW("prefill", 1, 8, 8, 2048, 2048, 128, V(BENCH_CAUSAL), 1, 1, HALF_ALL);
    ROW("prefill", 1, 8, 8, 128, 128, 64, V(BENCH_PLAIN), 1, 1, HALF_ALL);
    ROW("prefill", 1, 8, 8, 1024, 1024, 64, V(BENCH_PLAIN), 1, 1, HALF_ALL);
    ROW("prefill", 4, 16, 16, 512, 512, 64, V(BENCH_PLAIN), 1, 1, HALF_ALL);
    ROW("prefill", 1, 8, 8, 4096, 4096, 128, V(BENCH_PLAIN), 0, 1, HALF_ALL);
    for (size_t q = 0; q < COUNT(half_decode_sq); q++)
        for (size_t k = 0; k < COUNT(half_decode_sk); k++)
            ROW("decode", 1, 32, 8, half_decode_sq[q], half_decode_sk[k], 128,
                V(BENCH_PLAIN), 1, q != 0 || k != 0, HALF_KV);
#undef ROW
    return n;
}

static double dense_gflop(const bench_shape *s)
{
    return 4.0 * (double)s->batch * (double)s->heads * (double)s->seq_q *
           (double)s->seq_k * (double)s->dim * 1e-9;
}

static int within_limits(int impl, const bench_shape *s,
                         const bench_limits *limits)
{
    const double work = dense_gflop(s);

    if (impl == BENCH_SCALAR)
        return work <= limits->scalar_gflop;
    if (impl == BENCH_BLAS || impl == BENCH_ONEDNN)
        return work <= limits->baseline_gflop;
    return work <= limits->simd_gflop;
}

/* <group>/B:../H:..[/Hkv:..]/S:..|Sq:../Sk:../D:..[/q:..][/kv:..]/<variant> */
static void make_shape_key(char *key, size_t size, const char *group,
                           const bench_shape *s)
{
    int len = snprintf(key, size, "%s/B:%lld/H:%lld", group,
                       (long long)s->batch, (long long)s->heads);

    if (s->kv_heads != s->heads)
        len += snprintf(key + len, size - (size_t)len, "/Hkv:%lld",
                        (long long)s->kv_heads);
    if (s->seq_q == s->seq_k)
        len += snprintf(key + len, size - (size_t)len, "/S:%lld",
                        (long long)s->seq_q);
    else
        len += snprintf(key + len, size - (size_t)len, "/Sq:%lld/Sk:%lld",
                        (long long)s->seq_q, (long long)s->seq_k);
    len += snprintf(key + len, size - (size_t)len, "/D:%lld", (long long)s->dim);
    /* The precisions, left out for f32 (as Hkv is when it is H). */
    if (s->q_dtype != FATTN_DTYPE_F32)
        len += snprintf(key + len, size - (size_t)len, "/q:%s",
                        bench_dtype_name(s->q_dtype));
    if (s->kv_dtype != FATTN_DTYPE_F32)
        len += snprintf(key + len, size - (size_t)len, "/kv:%s",
                        bench_dtype_name(s->kv_dtype));
    snprintf(key + len, size - (size_t)len, "/%s", bench_variant_name(s->variant));
}

/* ---- Timing records ------------------------------------------------- */

/* The two clocks of the measurements: this process's CPU time (one-thread
 * cases, as Google Benchmark measures them, shim.h) and the wall clock
 * (N-thread cases). */
static double clock_seconds(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct stamp {
    double cpu, wall;
} stamp;

static stamp now_stamp(void)
{
    const stamp s = {clock_seconds(CLOCK_PROCESS_CPUTIME_ID),
                     clock_seconds(CLOCK_MONOTONIC)};
    return s;
}

/* One measurement of `calls` calls since `start`. */
static void record(bench_case *c, stamp start, int64_t calls)
{
    const stamp end = now_stamp();
    const double n = calls > 0 ? (double)calls : 1.0;
    const double cpu = (end.cpu - start.cpu) / n, wall = (end.wall - start.wall) / n;
    const int k = c->ntimes < MAX_TIMES ? c->ntimes++ : MAX_TIMES - 1;

    c->cpu[k] = cpu;
    c->wall[k] = wall;
    c->times[k] = c->level > 0 ? wall : cpu;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median_of(const double *v, int n)
{
    double sorted[MAX_TIMES];

    if (n == 0)
        return 0.0;
    memcpy(sorted, v, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

/* Median of a case's recorded times in its own clock, 0 if none. */
static double median_time(const bench_case *c)
{
    return c == NULL ? 0.0 : median_of(c->times, c->ntimes);
}

static double median_wall(const bench_case *c)
{
    return c == NULL ? 0.0 : median_of(c->wall, c->ntimes);
}

/* Make sure `other` (a baseline, or the same implementation on one thread)
 * has times on the prepared shape: its medians from this run, or timed now
 * if its case was filtered out. 0 if it cannot run, else 1. */
static int ensure_timed(bench_case *other, bench_prepared *pp)
{
    char why[512];
    double start;
    int runs = 0;

    if (other == NULL)
        return 0;
    if (other->ntimes > 0)
        return 1;
    if (!bench_impl_runnable(other->impl, why, sizeof why) ||
        bench_verify(pp, other->impl, other->level, why, sizeof why) != 0)
        return 0;
    start = clock_seconds(CLOCK_MONOTONIC);
    do {
        const stamp t = now_stamp();

        if (bench_run(pp, other->impl, other->level) != 0)
            return 0;
        record(other, t, 1);
        runs++;
    } while (runs < ON_DEMAND_MAX_RUNS &&
             (runs < ON_DEMAND_MIN_RUNS ||
              clock_seconds(CLOCK_MONOTONIC) - start < ON_DEMAND_SECONDS));
    return 1;
}

/* The fattn_isa whose FMA peak applies to an implementation. */
static int peak_isa(int impl)
{
    switch (impl) {
    case BENCH_BLAS: return unfused_blas_isa();
    case BENCH_ONEDNN: return unfused_dnnl_isa();
    default: return bench_impl_fattn_isa(impl);
    }
}

/* 1 if the case's arithmetic is bf16 dot products, whose peak applies:
 * fattn's avx512bf16 path on bf16 Q, K and V (it runs avx512's kernels on
 * anything else), oneDNN's bf16 matmuls where its ISA has AVX512_BF16
 * (elsewhere it emulates them in f32 FMAs). */
static int bf16_dot(const bench_case *c)
{
    const int bf16 = c->shape.kv_dtype == FATTN_DTYPE_BF16;

    if (c->impl == BENCH_ONEDNN)
        return bf16 && unfused_dnnl_bf16_native();
    return bf16 && c->shape.q_dtype == FATTN_DTYPE_BF16 &&
           bench_impl_fattn_isa(c->impl) == FATTN_ISA_AVX512BF16;
}

/* The peak of a case's arithmetic at its thread count, GFLOP/s, 0 if none
 * (or not measurable here: an unavailable bf16 peak gives no peak_pct,
 * not 0 %). */
static double case_peak(const bench_case *c)
{
    int isa;

    if (bf16_dot(c))
        return g_machine->bf16_peak_gflops[c->level];
    isa = peak_isa(c->impl);
    /* avx512bf16's FMAs are avx512's: the same width, the same meter. */
    if (isa == FATTN_ISA_AVX512BF16)
        isa = FATTN_ISA_AVX512;
    return isa >= 0 ? g_machine->peak_gflops[c->level][isa] : 0.0;
}

/* ---- The case body -------------------------------------------------- */

static void set_counters(fb_state *st, bench_case *c, bench_prepared *pp,
                         double seconds)
{
    static const int baselines[] = {BENCH_BLAS, BENCH_ONEDNN, BENCH_SCALAR};
    const double flops = bench_flops(pp);
    const double peak = case_peak(c);
    const double read_gbps = g_machine->read_gbps[c->level];
    char label[320];

    fb_counter(st, "FLOPS", flops, FB_COUNTER_RATE);
    if (peak > 0.0 && seconds > 0.0)
        fb_counter(st, "peak_pct", 100.0 * flops / seconds * 1e-9 / peak,
                   FB_COUNTER_VALUE);
    if (strcmp(c->group, "decode") == 0) {
        const double bytes = bench_kv_bytes(pp);

        fb_counter(st, "kv_read", bytes, FB_COUNTER_RATE);
        if (read_gbps > 0.0 && seconds > 0.0)
            fb_counter(st, "bw_pct", 100.0 * bytes / seconds * 1e-9 / read_gbps,
                       FB_COUNTER_VALUE);
        if (peak > 0.0 && read_gbps > 0.0 && seconds > 0.0) {
            /* Each K/V row, E * (D + Dv) bytes, serves r query rows of
             * 2 * (D + Dv) FLOP each: 2r/E FLOP per byte. */
            const double memory = read_gbps * bench_flop_per_kv_byte(pp);
            const double roof = memory < peak ? memory : peak;

            fb_counter(st, "roof_pct", 100.0 * flops / seconds * 1e-9 / roof,
                       FB_COUNTER_VALUE);
        }
    }
    if (bench_impl_fattn_isa(c->impl) >= 0) {
        for (size_t k = 0; k < sizeof baselines / sizeof *baselines; k++) {
            const int b = baselines[k];
            char name[32];
            double tb;

            if (b == c->impl)
                continue;
            tb = ensure_timed(c->peer[b], pp) ? median_time(c->peer[b]) : 0.0;
            snprintf(name, sizeof name, "x_%s", bench_impl_name(b));
            if (tb > 0.0 && seconds > 0.0)
                fb_counter(st, name, tb / seconds, FB_COUNTER_VALUE);
        }
    }
    if (c->level > 0) {
        const double wall = median_wall(c), cpu = median_of(c->cpu, c->ntimes);

        /* Wall over wall: the one clock both thread counts share. */
        if (ensure_timed(c->single, pp) && wall > 0.0)
            fb_counter(st, "scaling", median_wall(c->single) / wall,
                       FB_COUNTER_VALUE);
        if (wall > 0.0)
            fb_counter(st, "cpu_util", cpu / wall, FB_COUNTER_VALUE);
    }
    if (c->plain != NULL && c->plain->ntimes > 0 && seconds > 0.0)
        fb_counter(st, "time_vs_plain", seconds / median_time(c->plain),
                   FB_COUNTER_VALUE);
    fb_counter(st, "extra_mem", bench_extra_bytes(pp, c->impl, c->level),
               FB_COUNTER_BYTES);
    /* Say which peak peak_pct is of where it is not the FMA peak. */
    snprintf(label, sizeof label, "%s%s",
             !bf16_dot(c) ? ""
             : peak > 0.0 ? "% of bf16 dot peak; "
                          : "bf16 dot peak unavailable; ",
             bench_verify_summary(pp, c->impl, c->level));
    fb_set_label(st, label);
}

static void run_case(fb_state *st, const void *arg)
{
    /* The table is ours and mutable: the const is the shim's signature. */
    bench_case *c = &g_cases[(const bench_case *)arg - g_cases];
    char why[512] = "";
    bench_prepared *pp;
    stamp start;

    if (!bench_impl_runnable(c->impl, why, sizeof why)) {
        fb_skip_with_error(st, why);
        return;
    }
    /* One prepared problem for every level of a shape. */
    pp = bench_prepare(c->shape_key, &c->shape, why, sizeof why);
    if (pp == NULL || bench_verify(pp, c->impl, c->level, why, sizeof why) != 0) {
        fb_skip_with_error(st, why);
        return;
    }
    start = now_stamp();
    while (fb_keep_running(st)) {
        if (bench_run(pp, c->impl, c->level) != 0) {
            fb_skip_with_error(st, "the call failed after passing verification");
            return;
        }
    }
    record(c, start, fb_iterations(st));
    set_counters(st, c, pp, c->times[c->ntimes - 1]);
}

/* ---- Registration --------------------------------------------------- */

static bench_case *find_case(size_t upto, const char *key, int impl)
{
    for (size_t k = 0; k < upto; k++)
        if (g_cases[k].impl == impl && strcmp(g_cases[k].key, key) == 0)
            return &g_cases[k];
    return NULL;
}

/* <shape key>/threads:<T> */
static void level_key(char *key, size_t size, const char *shape_key, int level)
{
    snprintf(key, size, "%s/threads:%d", shape_key, g_machine->threads[level]);
}

static int count_bits(unsigned x)
{
    int n = 0;

    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

void bench_cases_register(const bench_machine *machine,
                          const bench_limits *limits)
{
    const size_t nrows = table(NULL, 0);
    shape_row *rows = calloc(nrows, sizeof *rows);
    size_t cap = 0;

    g_machine = machine;
    bench_prepare_use(machine);
    if (rows == NULL)
        return;
    table(rows, nrows);
    for (size_t r = 0; r < nrows; r++)
        cap += (size_t)count_bits(rows[r].variants) *
               (size_t)count_bits(rows[r].dtypes) *
               BENCH_IMPL_COUNT * BENCH_MAX_LEVELS;
    g_cases = calloc(cap, sizeof *g_cases);
    if (g_cases == NULL) {
        free(rows);
        return;
    }
    for (size_t r = 0; r < nrows; r++) {
        if (rows[r].full_only && !limits->decode_grid)
            continue;
        /* Every variant in every precision of the row. */
        for (int v = 0; v < BENCH_VARIANT_COUNT; v++)
        for (int dt = 0; dt < DT_COUNT; dt++) {
            const unsigned dtypes = rows[r].dtypes;
            const bench_shape s = {rows[r].batch, rows[r].heads, rows[r].kv_heads,
                                   rows[r].seq_q, rows[r].seq_k, rows[r].dim, v,
                                   dt_q[dt], dt_kv[dt]};
            char shape_key[160], plain_shape[160];
            bench_shape plain = s;

            if (!(rows[r].variants & V(v)) || !(dtypes & D(dt)))
                continue;
            plain.variant = BENCH_PLAIN;
            make_shape_key(shape_key, sizeof shape_key, rows[r].group, &s);
            make_shape_key(plain_shape, sizeof plain_shape, rows[r].group, &plain);
            /* One thread, then N; within each, baselines first, then
             * scalar, AVX2, AVX-512: each fattn case finds its baselines
             * and its one-thread self already timed. */
            for (int level = 0; level < machine->levels; level++) {
                char key[192], plain_key[192];

                if (level > 0 && !rows[r].threaded)
                    break;
                level_key(key, sizeof key, shape_key, level);
                level_key(plain_key, sizeof plain_key, plain_shape, level);
                for (int impl = 0; impl < BENCH_IMPL_COUNT; impl++) {
                    bench_case *c;

                    if (!within_limits(impl, &s, limits) ||
                        (impl == BENCH_SCALAR && rows[r].full_only))
                        continue;
                    c = &g_cases[g_ncases++];
                    c->group = rows[r].group;
                    c->shape = s;
                    c->impl = impl;
                    c->level = level;
                    snprintf(c->shape_key, sizeof c->shape_key, "%s", shape_key);
                    snprintf(c->key, sizeof c->key, "%s", key);
                    snprintf(c->name, sizeof c->name, "%s/%s", key,
                             bench_impl_name(impl));
                    if (v != BENCH_PLAIN)
                        c->plain = find_case(g_ncases, plain_key, impl);
                }
            }
        }
    }
    for (size_t k = 0; k < g_ncases; k++) {
        bench_case *c = &g_cases[k];

        for (int impl = 0; impl < BENCH_IMPL_COUNT; impl++)
            c->peer[impl] = find_case(g_ncases, c->key, impl);
        if (c->level > 0) {
            char key[192];

            level_key(key, sizeof key, c->shape_key, 0);
            c->single = find_case(g_ncases, key, c->impl);
        }
        fb_register(c->name, run_case, c, c->level > 0);
    }
    free(rows);
}

void bench_cases_free(void)
{
    bench_prepare_release();
    free(g_cases);
    g_cases = NULL;
    g_ncases = 0;
}
