/*
 * cases.c - the table of benchmark cases, their registration and the case
 * body: set-up (prepare.c), the timing loop, the counters.
 *
 * Counters (Google Benchmark's JSON and console):
 *   FLOPS       rate: FLOP per call / process CPU time (4*B*H*Sq*Sk*D; only the
 *               visible pairs for causal, window and ragged lengths)
 *   peak_pct    GFLOP/s as % of the FMA peak of the vector width the
 *               implementation runs at (measured at start-up; none for
 *               the scalar path)
 *   kv_read     decode: rate of K/V bytes read; bw_pct: % of the measured
 *               single-core read bandwidth
 *   x_blas, x_onednn, x_scalar
 *               fattn cases: speed-up over that baseline on the same
 *               shape in the same run (baseline time / this time; the
 *               baseline's median when it ran, otherwise timed on demand)
 *   time_vs_plain
 *               variant cases: this time / the plain case's time, same
 *               shape, same implementation (the variant's overhead)
 *   extra_mem   bytes beyond inputs and output: fattn's workspace,
 *               the baselines' score matrix
 */
#define _POSIX_C_SOURCE 200809L

#include "cases.h"

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
    char key[160];  /* the name without the impl: one problem */
    char name[192];
    /* The same key's other implementations (NULL: not registered), and the
     * plain case of the same shape and implementation (variants). */
    bench_case *peer[BENCH_IMPL_COUNT];
    bench_case *plain;
    /* Measured seconds per call, one per body call. */
    double times[MAX_TIMES];
    int ntimes;
};

static bench_case *g_cases;
static size_t g_ncases;
static const bench_machine *g_machine;

/* ---- The table ------------------------------------------------------- */

#define V(x) (1u << (x))

typedef struct shape_row {
    const char *group;
    int64_t batch, heads, kv_heads, seq_q, seq_k, dim;
    unsigned variants;
} shape_row;

static const unsigned all_variants =
    V(BENCH_PLAIN) | V(BENCH_MASK_F32) | V(BENCH_MASK_BOOL) | V(BENCH_WINDOW) |
    V(BENCH_ALIBI) | V(BENCH_SOFTCAP);

/* The sweep at B=1 H=8 D=128 is part of the prefill rows (S = 128 .. 8192);
 * S=2048 also runs causal. */
static const int64_t sweep[] = {128, 256, 512, 1024, 2048, 4096, 8192};

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
    ROW("prefill", 1, 8, 8, 128, 128, 64, V(BENCH_PLAIN));
    ROW("prefill", 1, 8, 8, 1024, 1024, 64, V(BENCH_PLAIN));
    for (size_t k = 0; k < sizeof sweep / sizeof *sweep; k++)
        ROW("prefill", 1, 8, 8, sweep[k], sweep[k], 128,
            sweep[k] == 2048 ? V(BENCH_PLAIN) | V(BENCH_CAUSAL) : V(BENCH_PLAIN));
    ROW("prefill", 4, 16, 16, 512, 512, 64, V(BENCH_PLAIN));
    ROW("variant", 4, 16, 16, 512, 512, 64, all_variants | V(BENCH_RAGGED));
    ROW("variant", 1, 8, 8, 2048, 2048, 128, all_variants);
    ROW("decode", 1, 32, 8, 1, 8192, 128, V(BENCH_PLAIN));
    ROW("decode", 1, 32, 8, 1, 65536, 128, V(BENCH_PLAIN));
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

static void make_key(char *key, size_t size, const char *group,
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
    snprintf(key + len, size - (size_t)len, "/D:%lld/%s", (long long)s->dim,
             bench_variant_name(s->variant));
}

/* ---- Timing records ------------------------------------------------- */

/* The clock of the measurements: this process's CPU time, as Google
 * Benchmark measures these cases (shim.h). */
static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void record(bench_case *c, double seconds)
{
    if (c->ntimes < MAX_TIMES)
        c->times[c->ntimes++] = seconds;
    else
        c->times[MAX_TIMES - 1] = seconds;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median of a case's recorded times, 0 if none. */
static double median_time(const bench_case *c)
{
    double sorted[MAX_TIMES];

    if (c == NULL || c->ntimes == 0)
        return 0.0;
    memcpy(sorted, c->times, (size_t)c->ntimes * sizeof *sorted);
    qsort(sorted, (size_t)c->ntimes, sizeof *sorted, cmp_double);
    return c->ntimes % 2 ? sorted[c->ntimes / 2]
                         : 0.5 * (sorted[c->ntimes / 2 - 1] + sorted[c->ntimes / 2]);
}

/* The baseline's time on the prepared shape: its median from this run, or
 * timed now if its case was filtered out. 0 if it cannot run. */
static double baseline_time(bench_case *base, bench_prepared *pp)
{
    char why[256];
    double start, t;
    int runs = 0;

    if (base == NULL)
        return 0.0;
    if (base->ntimes > 0)
        return median_time(base);
    if (!bench_impl_runnable(base->impl, why, sizeof why) ||
        bench_verify(pp, base->impl, why, sizeof why) != 0)
        return 0.0;
    start = now_seconds();
    do {
        t = now_seconds();
        if (bench_run(pp, base->impl) != 0)
            return 0.0;
        record(base, now_seconds() - t);
        runs++;
    } while (runs < ON_DEMAND_MAX_RUNS &&
             (runs < ON_DEMAND_MIN_RUNS ||
              now_seconds() - start < ON_DEMAND_SECONDS));
    return median_time(base);
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

/* ---- The case body -------------------------------------------------- */

static void set_counters(fb_state *st, bench_case *c, bench_prepared *pp,
                         double seconds)
{
    static const int baselines[] = {BENCH_BLAS, BENCH_ONEDNN, BENCH_SCALAR};
    const double flops = bench_flops(pp);
    const int isa = peak_isa(c->impl);
    const double peak = isa >= 0 ? g_machine->peak_gflops[isa] : 0.0;

    fb_counter(st, "FLOPS", flops, FB_COUNTER_RATE);
    if (peak > 0.0 && seconds > 0.0)
        fb_counter(st, "peak_pct", 100.0 * flops / seconds * 1e-9 / peak,
                   FB_COUNTER_VALUE);
    if (strcmp(c->group, "decode") == 0) {
        const double bytes = bench_kv_bytes(pp);

        fb_counter(st, "kv_read", bytes, FB_COUNTER_RATE);
        if (g_machine->read_gbps > 0.0 && seconds > 0.0)
            fb_counter(st, "bw_pct",
                       100.0 * bytes / seconds * 1e-9 / g_machine->read_gbps,
                       FB_COUNTER_VALUE);
    }
    if (bench_impl_fattn_isa(c->impl) >= 0) {
        for (size_t k = 0; k < sizeof baselines / sizeof *baselines; k++) {
            const int b = baselines[k];
            char name[32];
            double tb;

            if (b == c->impl)
                continue;
            tb = baseline_time(c->peer[b], pp);
            snprintf(name, sizeof name, "x_%s", bench_impl_name(b));
            if (tb > 0.0 && seconds > 0.0)
                fb_counter(st, name, tb / seconds, FB_COUNTER_VALUE);
        }
    }
    if (c->plain != NULL && c->plain->ntimes > 0 && seconds > 0.0)
        fb_counter(st, "time_vs_plain", seconds / median_time(c->plain),
                   FB_COUNTER_VALUE);
    fb_counter(st, "extra_mem", bench_extra_bytes(pp, c->impl), FB_COUNTER_BYTES);
    fb_set_label(st, bench_verify_summary(pp, c->impl));
}

static void run_case(fb_state *st, const void *arg)
{
    /* The table is ours and mutable: the const is the shim's signature. */
    bench_case *c = &g_cases[(const bench_case *)arg - g_cases];
    char why[512] = "";
    bench_prepared *pp;
    double start, seconds;
    int64_t iters;

    if (!bench_impl_runnable(c->impl, why, sizeof why)) {
        fb_skip_with_error(st, why);
        return;
    }
    pp = bench_prepare(c->key, &c->shape, why, sizeof why);
    if (pp == NULL || bench_verify(pp, c->impl, why, sizeof why) != 0) {
        fb_skip_with_error(st, why);
        return;
    }
    start = now_seconds();
    while (fb_keep_running(st)) {
        if (bench_run(pp, c->impl) != 0) {
            fb_skip_with_error(st, "the call failed after passing verification");
            return;
        }
    }
    seconds = now_seconds() - start;
    iters = fb_iterations(st);
    seconds = iters > 0 ? seconds / (double)iters : 0.0;
    record(c, seconds);
    set_counters(st, c, pp, seconds);
}

/* ---- Registration --------------------------------------------------- */

static bench_case *find_case(size_t upto, const char *key, int impl)
{
    for (size_t k = 0; k < upto; k++)
        if (g_cases[k].impl == impl && strcmp(g_cases[k].key, key) == 0)
            return &g_cases[k];
    return NULL;
}

void bench_cases_register(const bench_machine *machine,
                          const bench_limits *limits)
{
    shape_row rows[32];
    const size_t nrows = table(rows, sizeof rows / sizeof *rows);
    size_t cap = 0;

    g_machine = machine;
    for (size_t r = 0; r < nrows; r++)
        cap += (size_t)BENCH_VARIANT_COUNT * BENCH_IMPL_COUNT;
    g_cases = calloc(cap, sizeof *g_cases);
    if (g_cases == NULL)
        return;
    for (size_t r = 0; r < nrows; r++) {
        for (int v = 0; v < BENCH_VARIANT_COUNT; v++) {
            const bench_shape s = {rows[r].batch, rows[r].heads, rows[r].kv_heads,
                                   rows[r].seq_q, rows[r].seq_k, rows[r].dim, v};
            char key[160], plain_key[160];
            bench_shape plain = s;

            if (!(rows[r].variants & V(v)))
                continue;
            plain.variant = BENCH_PLAIN;
            make_key(key, sizeof key, rows[r].group, &s);
            make_key(plain_key, sizeof plain_key, rows[r].group, &plain);
            /* Baselines first, then scalar, AVX2, AVX-512. */
            for (int impl = 0; impl < BENCH_IMPL_COUNT; impl++) {
                bench_case *c;

                if (!within_limits(impl, &s, limits))
                    continue;
                c = &g_cases[g_ncases++];
                c->group = rows[r].group;
                c->shape = s;
                c->impl = impl;
                snprintf(c->key, sizeof c->key, "%s", key);
                snprintf(c->name, sizeof c->name, "%s/%s", key,
                         bench_impl_name(impl));
                if (v != BENCH_PLAIN)
                    c->plain = find_case(g_ncases, plain_key, impl);
            }
        }
    }
    for (size_t k = 0; k < g_ncases; k++) {
        for (int impl = 0; impl < BENCH_IMPL_COUNT; impl++)
            g_cases[k].peer[impl] = find_case(g_ncases, g_cases[k].key, impl);
        fb_register(g_cases[k].name, run_case, &g_cases[k]);
    }
}

void bench_cases_free(void)
{
    bench_prepare_release();
    free(g_cases);
    g_cases = NULL;
    g_ncases = 0;
}
