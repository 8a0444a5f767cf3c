/*
 * bench_run.c - `fattn bench`: time fattn_forward on seeded random f32,
 * bf16 or f16 inputs and check a sample of output rows against the fp64
 * reference on the same (rounded) inputs (the options are bench.c's, the
 * tensors tensors.c's).
 *
 * One warm-up call, then --repeat timed calls (CLOCK_MONOTONIC); the median
 * and the minimum are reported. FLOPs: 4*B*H*Sq*Sk*D for dense attention; with
 * causal masking or a window only the visible (query, key) pairs count,
 * 2*(D+Dv) each (Q.K^T and P.V), so masked work is never credited.
 *
 * Threads: --threads N > 1 runs every call on a fattn pool of N threads
 * (params.pool, layout 2); N = 1 runs on the calling thread, no pool. The
 * library's schedule does not depend on the thread count, so the output is
 * bitwise the same for every N: the FNV-1a digest printed after the runs
 * lets a user see that. "% of peak" divides by the peak of as many cores
 * as the run can use, measured now (peak.h): the bf16 dot-product peak
 * when the run takes the avx512bf16 path with bf16 query, key and value
 * (its kernels multiply in vdpbf16ps), the fp32 FMA peak otherwise (every
 * other kernel widens half inputs to f32 and multiplies in FMAs).
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "peak.h"
#include "tensors.h"

#include "fattn.h"
#include "internal.h" /* phase timers of profiling builds */
#include "reference.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Profiling builds (-Dphase_timers=true): the kernel's cycles per phase
 * over the timed calls, as shares of their sum. The counters are
 * per-thread (the library keeps no shared state for them), so this reads
 * the calling thread's: all of the work with --threads 1, and with a pool
 * only the work items the calling thread ran (it works as one of the
 * pool's threads). The shares are then a sample, and the line says so. */
#if FATTN_PHASE_TIMERS
static void phases_reset(void)
{
    memset(fattn_phase_cycles, 0, sizeof fattn_phase_cycles);
}

static void phases_print(int threads)
{
    uint64_t total = 0;
    for (int i = 0; i < FATTN_PHASE_COUNT; i++)
        total += fattn_phase_cycles[i];
    if (total == 0) {
        if (threads > 1)
            printf("phases: none timed on the calling thread (the timers "
                   "are per-thread; --threads 1 times every call)\n");
        else
            printf("phases: none timed (the scalar path has no phase timers)\n");
        return;
    }
    printf("phases (rdtsc, timed calls):");
    for (int i = 0; i < FATTN_PHASE_COUNT; i++)
        printf(" %s %.1f%%", fattn_phase_names[i],
               100.0 * (double)fattn_phase_cycles[i] / (double)total);
    if (threads > 1)
        printf(" (the calling thread's work items only, 1 of %d threads: "
               "the timers are per-thread)", threads);
    printf("\n");
}
#else
static void phases_reset(void) {}
static void phases_print(int threads) { (void)threads; }
#endif

/* The accuracy bound of the check: |x - ref| <= ATOL + RTOL * |ref| for
 * an f32 output of an f32 computation (check_bound adds what bf16/f16
 * outputs and the avx512bf16 path may cost). */
#define BENCH_ATOL 1e-5
#define BENCH_RTOL 1e-5

/* Budget for the reference check, in "reference work units" (about one
 * double multiply-add or 1/40 of an exp each): keeps it near a second. */
#define BENCH_REF_BUDGET 1e9

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int report_library_error(const fattn_error *err)
{
    fflush(stdout);
    fprintf(stderr, "fattn bench: error (%s): %s\n",
            fattn_status_name(err->status), err->message);
    return CLI_EXIT_ERROR;
}

/* Rows to skip between checked rows so the fp64 reference stays cheap. */
static int64_t choose_row_step(const bench_opts *o, int64_t pairs)
{
    double rows = (double)o->batch * (double)o->heads * (double)o->seq;
    double keys_per_row = rows > 0 ? (double)pairs / rows : 0.0;
    double row_cost = keys_per_row * (2.0 * (double)(o->dim + o->dim) + 40.0) +
                      (double)o->dim;
    double rows_affordable = BENCH_REF_BUDGET / (row_cost > 1.0 ? row_cost : 1.0);
    double step = ceil(rows / (rows_affordable > 1.0 ? rows_affordable : 1.0));

    if (step < 1.0)
        return 1;
    if (step > (double)o->seq)
        return o->seq; /* still one row (i = 0) of every (b, h) */
    return (int64_t)step;
}

static void print_shape(const bench_opts *o)
{
    printf("shape: B=%" PRId64 " H=%" PRId64 " HKV=%" PRId64 " Sq=%" PRId64
           " Sk=%" PRId64 " D=%" PRId64 " causal=%s",
           o->batch, o->heads, o->kv_heads, o->seq, o->seq_k, o->dim,
           cli_causal_names[o->causal]);
    if (o->window_enabled)
        printf(" window=%" PRId64 ",%" PRId64 " align=%s", o->window_left,
               o->window_right, cli_align_names[o->align]);
    printf("%s (", o->lse ? " +lse" : "");
    if (o->kv_dtype == o->dtype && o->out_dtype == o->dtype)
        printf("%s", cli_dtype_names[o->dtype]);
    else
        printf("query %s, key/value %s, output %s", cli_dtype_names[o->dtype],
               cli_dtype_names[o->kv_dtype], cli_dtype_names[o->out_dtype]);
    printf(", %s", o->layout == CLI_LAYOUT_BSHD ? "BSHD" : "BHSD");
    if (o->kv_capacity > o->seq_k)
        printf(", K/V in a cache of %" PRId64 " rows", o->kv_capacity);
    printf(", seed %" PRIu64 ")\n", o->seed);
}

/* The general automatic path into *general (FATTN_ISA's, or the best
 * available), before anything is allocated: a bad FATTN_ISA is reported
 * with the library's message. Returns 0 or an exit code. */
static int resolve_auto(const bench_opts *o, int *general)
{
    fattn_error err;
    fattn_isa chosen;

    *general = o->isa;
    if (o->isa != FATTN_ISA_AUTO)
        return 0; /* an unavailable forced path: fattn_check reports it */
    memset(&err, 0, sizeof err);
    chosen = fattn_isa_auto(&err);
    if (chosen == FATTN_ISA_AUTO)
        return report_library_error(&err);
    *general = chosen;
    return 0;
}

/* 1 if the run multiplies in bf16 dot products: the avx512bf16 path with
 * bf16 query, key and value (it runs avx512's kernels for anything else). */
static int bf16_dot(const bench_opts *o, int used)
{
    return used == FATTN_ISA_AVX512BF16 && o->dtype == FATTN_DTYPE_BF16 &&
           o->kv_dtype == FATTN_DTYPE_BF16;
}

/* "path: ...": `used` is the plan's, which AUTO may have chosen for this
 * problem's dtypes (avx512bf16 for all-bf16 inputs), `general` what AUTO
 * gives any problem. */
static void print_path(const bench_opts *o, int general, int used)
{
    const char *env = getenv("FATTN_ISA");

    if (o->isa != FATTN_ISA_AUTO)
        printf("path: %s (forced with --isa%s)\n", fattn_isa_name(used),
               used == FATTN_ISA_AVX512BF16 && !bf16_dot(o, used)
                   ? "; not all of query, key and value are bf16, so it runs "
                     "avx512's kernels"
                   : "");
    else if (env != NULL && env[0] != '\0' && strcmp(env, "auto") != 0)
        printf("path: %s (auto: FATTN_ISA=%s in the environment)\n",
               fattn_isa_name(used), env);
    else if (used != general)
        printf("path: %s (auto: chosen for bf16 query, key and value; %s "
               "for other dtypes)\n",
               fattn_isa_name(used), fattn_isa_name(general));
    else
        printf("path: %s (auto: best available)\n", fattn_isa_name(used));
}

/* About how long each peak is measured, in seconds. */
#define BENCH_PEAK_SECONDS 0.25

/* The tensors of one run. */
typedef struct bench_buffers {
    cli_tensor q, k, v, out, lse;
} bench_buffers;

/* "threads: ..." and, for N > 1, the pool into *pool. 0 or an exit code. */
static int make_pool(const bench_opts *o, fattn_pool **pool)
{
    fattn_error err;

    *pool = NULL;
    if (o->threads <= 1) {
        printf("threads: 1 (the calling thread, no pool)\n");
        return 0;
    }
    memset(&err, 0, sizeof err);
    if (fattn_pool_create(o->threads, pool, &err) != FATTN_OK)
        return report_library_error(&err);
    printf("threads: %d (a fattn pool: the calling thread and %d worker%s; "
           "%d CPUs usable)\n",
           (int)fattn_pool_threads(*pool), (int)fattn_pool_threads(*pool) - 1,
           fattn_pool_threads(*pool) == 2 ? "" : "s", (int)fattn_usable_cpus());
    return 0;
}

/* What the summary line reports besides the time; 0 = not measured. */
typedef struct bench_rates {
    double gflops;                 /* GFLOP/s of the median run */
    double fma_peak, bf16_peak;    /* GFLOP/s of the cores used */
    double peak;                   /* the one that applies (bf16_dot) */
    double kv_gbps, read_gbps;     /* GB/s: K/V over the median, machine */
    double roofline;               /* GFLOP/s */
    double err_over_v;             /* max abs err / max|V| of the check */
} bench_rates;

/* ": the median run reaches X% of it" after the peak that applies. */
static void print_reach(const bench_rates *r, int applies)
{
    if (applies)
        printf(": the median run reaches %.1f%% of it", 100.0 * r->gflops / r->peak);
    printf("\n");
}

/* Both peaks of the cores the run used, "peak: ...", "bf16 peak: ...", and
 * which one "% of peak" divides by. */
static void print_peak(const bench_opts *o, int used, bench_rates *r)
{
    /* avx512bf16's FMAs (its kernels for every other problem) are
     * avx512's: the same width, the same meter. */
    const int fma_isa = used == FATTN_ISA_AVX512BF16 ? FATTN_ISA_AVX512 : used;
    const int dot = bf16_dot(o, used);
    const char *more = "; more threads than CPUs add no FMA units";
    int cores = 1, bf16_cores = 1;

    if (o->no_peaks) {
        printf("peak: not measured (--no-peaks)\n"
               "bf16 peak: not measured (--no-peaks)\n"
               "%% of peak: not computed (--no-peaks)\n");
        return;
    }
    r->fma_peak = cli_fma_peak_gflops_threads(fma_isa, o->threads,
                                              BENCH_PEAK_SECONDS, &cores);
    r->bf16_peak = cli_bf16_peak_gflops_threads(o->threads, BENCH_PEAK_SECONDS,
                                                &bf16_cores);
    r->peak = dot ? r->bf16_peak : r->fma_peak;
    if (r->fma_peak > 0 && cores > 1)
        printf("peak: %.1f GFLOP/s (fp32 FMA, %d cores measured at once, %s "
               "width, measured now%s)",
               r->fma_peak, cores, fattn_isa_name(fma_isa),
               cores < o->threads ? more : "");
    else if (r->fma_peak > 0)
        printf("peak: %.1f GFLOP/s (fp32 FMA, one core, %s width, measured "
               "now%s)",
               r->fma_peak, fattn_isa_name(fma_isa), o->threads > 1 ? more : "");
    else
        printf("peak: not measured for the %s path (no FMA peak)",
               fattn_isa_name(used));
    print_reach(r, !dot && r->peak > 0);
    if (r->bf16_peak > 0) {
        if (bf16_cores > 1)
            printf("bf16 peak: %.1f GFLOP/s (bf16 dot products, vdpbf16ps, "
                   "%d cores measured at once, measured now)",
                   r->bf16_peak, bf16_cores);
        else
            printf("bf16 peak: %.1f GFLOP/s (bf16 dot products, vdpbf16ps, "
                   "one core, measured now)", r->bf16_peak);
        print_reach(r, dot && r->peak > 0);
    } else {
        printf("bf16 peak: unavailable (the avx512bf16 path is not built in, "
               "or this CPU lacks AVX512_BF16)\n");
    }
    if (r->peak <= 0)
        printf("%% of peak: not computed (no %s peak)\n",
               dot ? "bf16 dot-product" : "FMA");
    else if (dot)
        printf("%% of peak: of the bf16 dot-product peak (the avx512bf16 "
               "path multiplies bf16 query, key and value in vdpbf16ps)\n");
    else
        printf("%% of peak: of the fp32 FMA peak (the %s path multiplies in "
               "f32 FMAs%s)\n",
               fattn_isa_name(used),
               o->dtype != FATTN_DTYPE_F32 || o->kv_dtype != FATTN_DTYPE_F32
                   ? ", half inputs widened to f32 as loaded"
                   : "");
}

/* Keys that some query row sees (causal and window can hide keys from
 * every row, e.g. top-left causal with Sq < Sk): the ones a call must
 * read. The reference's own predicate; the bench has no lengths, so batch
 * 0 stands for every batch. Rows are tried from the last, which sees the
 * most keys under causal masking, so most keys cost one test. */
static int64_t visible_keys(const fattn_tensor *q, const fattn_tensor *k,
                            const fattn_params *params)
{
    const int64_t sq = q->shape[2], sk = k->shape[2];
    int64_t keys = 0;

    if (params->causal == FATTN_CAUSAL_NONE && !params->window_enabled)
        return sk;
    for (int64_t j = 0; j < sk; j++)
        for (int64_t i = sq - 1; i >= 0; i--)
            if (fattn_ref_visible(q, k, params, 0, i, j)) {
                keys++;
                break;
            }
    return keys;
}

/* K/V bytes per call and their rate, the machine's read bandwidth at the
 * run's thread count, and the roofline. */
static void print_memory_rates(const bench_opts *o, double ms_median,
                               int64_t keys, bench_rates *r)
{
    const size_t esize = cli_dtype_size(o->kv_dtype);
    const int half = esize < sizeof(float);
    const double kv_bytes = (double)esize * (double)o->batch *
                            (double)o->kv_heads * (double)keys *
                            (double)(o->dim + o->dim);
    const int64_t rows = o->heads / o->kv_heads * o->seq;
    /* r rows of 2*(D+Dv) FLOP per K/V row of (D+Dv)*E bytes: 2r/E FLOP
     * per byte, r/2 for f32, r for a bf16/f16 cache. */
    const double intensity = 2.0 * (double)rows / (double)esize;
    const char *per_byte = half ? "r" : "r/2";
    size_t buffer = 0;
    int readers = 1;
    double bound;

    r->kv_gbps = ms_median > 0 ? kv_bytes / (ms_median * 1e6) : 0.0;
    printf("K/V read: %.4g MB per call (B*HKV*Sk*(D+Dv)*%zu bytes%s%s%s, %" PRId64
           " of %" PRId64 " keys visible): %.2f GB/s (median)\n",
           kv_bytes * 1e-6, esize, half ? " (" : "",
           half ? cli_dtype_names[o->kv_dtype] : "", half ? ")" : "", keys,
           o->seq_k, r->kv_gbps);
    if (o->no_peaks)
        printf("read bandwidth: not measured (--no-peaks)\n");
    else if ((r->read_gbps = cli_read_gbps_threads(o->threads, &readers,
                                                   &buffer)) > 0)
        printf("read bandwidth: %.2f GB/s (%d thread%s reading %zu MiB at once, "
               "median of passes, measured now): the median run reaches "
               "%.1f%% of it\n",
               r->read_gbps, readers, readers == 1 ? "" : "s", buffer >> 20,
               100.0 * r->kv_gbps / r->read_gbps);
    else
        printf("read bandwidth: not measured (no memory for its %zu MiB "
               "buffer, or no thread)\n", buffer >> 20);
    if (r->peak <= 0 || r->read_gbps <= 0) {
        printf("roofline: not computed (needs the peak and the read "
               "bandwidth)\n");
        return;
    }
    bound = r->read_gbps * intensity;
    r->roofline = bound < r->peak ? bound : r->peak;
    printf("roofline: r = (H/HKV)*Sq = %" PRId64 " query rows per K/V row, "
           "%s = %.4g FLOP per byte%s; min(peak %.1f, BW*%s = %.1f) = %.1f "
           "GFLOP/s (%s-bound): the median run reaches %.1f%% of it\n",
           rows, per_byte, intensity, half ? " of 2-byte K/V" : "", r->peak,
           per_byte, bound, r->roofline,
           bound < r->peak ? "memory" : "compute",
           100.0 * r->gflops / r->roofline);
}

/* The last line, for scripts: fields after the first ':' are ", "
 * separated, the new ones appended at the end. */
static void print_summary(const bench_opts *o, int used, double ms_median,
                          const bench_rates *r, int pass)
{
    printf("bench: %s B=%" PRId64 " H=%" PRId64 " HKV=%" PRId64 " Sq=%" PRId64
           " Sk=%" PRId64 " D=%" PRId64 " causal=%s%s threads=%d: median "
           "%.3f ms, %.3f GFLOP/s",
           fattn_isa_name(used), o->batch, o->heads, o->kv_heads, o->seq,
           o->seq_k, o->dim, cli_causal_names[o->causal],
           o->window_enabled ? " +window" : "", (int)o->threads, ms_median,
           r->gflops);
    if (r->peak > 0)
        printf(" (%.1f%% of peak)", 100.0 * r->gflops / r->peak);
    printf(", %s, K/V %.2f GB/s", pass ? "PASS" : "FAIL", r->kv_gbps);
    if (r->read_gbps > 0)
        printf(" (%.1f%% of BW)", 100.0 * r->kv_gbps / r->read_gbps);
    if (r->roofline > 0)
        printf(", %.1f%% of roofline", 100.0 * r->gflops / r->roofline);
    printf(", layout=%s kv_capacity=%" PRId64, cli_layout_names[o->layout],
           o->kv_capacity);
    printf(", dtype=%s kv_dtype=%s out_dtype=%s, peak=%s, max_err/max|V|=%.3g\n",
           cli_dtype_names[o->dtype], cli_dtype_names[o->kv_dtype],
           cli_dtype_names[o->out_dtype],
           r->peak <= 0 ? "none" : bf16_dot(o, used) ? "bf16" : "fma",
           r->err_over_v);
}

/* The digest of the last call's output (and LSE), "digest: ..." */
static void print_digest(const bench_opts *o, const fattn_tensor *out,
                         const fattn_tensor *lse)
{
    const size_t out_bytes = (size_t)(o->batch * o->heads * o->seq * o->dim) *
                             cli_dtype_size(o->out_dtype);
    const char *dt = cli_dtype_names[o->out_dtype];
    const size_t lse_bytes = (size_t)(o->batch * o->heads * o->seq) * sizeof(float);
    uint64_t digest = cli_tensor_digest(CLI_FNV1A64_BASIS, out);

    if (o->lse) {
        digest = cli_tensor_digest(digest, lse);
        printf("digest: %016" PRIx64 " (FNV-1a 64 of the output's %zu bytes "
               "(%s), then the LSE's %zu: in (b, h, i, d) order, the same for "
               "every --threads)\n",
               digest, out_bytes, dt, lse_bytes);
    } else {
        printf("digest: %016" PRIx64 " (FNV-1a 64 of the output's %zu bytes "
               "(%s): in (b, h, i, d) order, the same for every --threads)\n",
               digest, out_bytes, dt);
    }
}

/* The check's bound for this run: an f32 computation's error (BENCH_ATOL,
 * BENCH_RTOL), plus a half output's one rounding, to nearest even, of at
 * most u*|x| (u = 2^-8 for bf16's 8 significant bits, 2^-11 for f16's
 * 11), plus on the avx512bf16 path with bf16 Q, K and V the documented
 * cost of P in bf16, 2^-8 * max|V| (fattn.h, fattn_dtype). The reference
 * reads the rounded inputs, so their rounding costs nothing here. */
static void check_bound(const bench_opts *o, int used, double max_v,
                        double *atol, double *rtol)
{
    *atol = BENCH_ATOL;
    *rtol = BENCH_RTOL;
    if (o->out_dtype == FATTN_DTYPE_BF16)
        *rtol += ldexp(1.0, -8);
    else if (o->out_dtype == FATTN_DTYPE_F16)
        *rtol += ldexp(1.0, -11);
    if (bf16_dot(o, used))
        *atol += ldexp(1.0, -8) * max_v;
}

/* The path the library takes for this very problem (AUTO may choose by
 * dtype): a plan says, without a run. With the workspace in params the
 * plan allocates nothing. FATTN_ISA_AUTO if it cannot be created. */
static int plan_path(const bench_buffers *buf, const fattn_params *params,
                     fattn_error *err)
{
    fattn_plan *plan = NULL;
    int isa;

    if (fattn_plan_create(&buf->q.view, &buf->k.view, &buf->v.view,
                          &buf->out.view, params, &plan, err) != FATTN_OK)
        return FATTN_ISA_AUTO;
    isa = fattn_plan_isa(plan);
    fattn_plan_destroy(plan);
    return isa;
}

static int run(const bench_opts *o, int general, const bench_buffers *buf)
{
    const fattn_tensor *tq = &buf->q.view, *tk = &buf->k.view,
                       *tv = &buf->v.view, *to = &buf->out.view;
    fattn_params params;
    fattn_error err;
    fattn_ref_report rep;
    fattn_pool *pool = NULL;
    bench_rates rates;
    double *times, flops, ms_median, ms_min, t_ref, atol, rtol, max_v;
    int64_t pairs, row_step, rows_total;
    int ok, rc, used;

    memset(&rates, 0, sizeof rates);
    memset(&params, 0, sizeof params);
    params.version = FATTN_PARAMS_VERSION;
    params.causal = o->causal;
    params.window_enabled = o->window_enabled;
    params.window_left = o->window_left;
    params.window_right = o->window_right;
    params.align = o->window_enabled ? o->align : FATTN_ALIGN_TOP_LEFT;
    params.isa = o->isa;
    params.lse = o->lse ? &buf->lse.view : NULL;

    memset(&err, 0, sizeof err);
    if (fattn_check(tq, tk, tv, to, &params, &err) != FATTN_OK)
        return report_library_error(&err);
    rc = make_pool(o, &pool);
    if (rc != 0)
        return rc;
    params.pool = pool;
    /* One workspace for every call, touched by the warm-up, as a hot loop
     * should do: a fresh allocation per call would time page faults. With
     * a pool it covers every task's share. */
    size_t ws_bytes = 0;
    if (fattn_workspace_size(tq, tk, tv, to, &params, &ws_bytes, &err) != FATTN_OK) {
        fattn_pool_destroy(pool);
        return report_library_error(&err);
    }
    void *workspace = aligned_alloc(64, ws_bytes > 0 ? (ws_bytes + 63) / 64 * 64 : 64);
    times = malloc((size_t)o->repeat * sizeof *times);
    if (workspace == NULL || times == NULL) {
        free(workspace);
        free(times);
        fattn_pool_destroy(pool);
        fprintf(stderr, "fattn bench: error: out of memory (workspace)\n");
        return CLI_EXIT_ERROR;
    }
    params.workspace = workspace;
    params.workspace_size = ws_bytes;
    used = plan_path(buf, &params, &err);
    if (used == FATTN_ISA_AUTO) {
        free(workspace);
        free(times);
        fattn_pool_destroy(pool);
        return report_library_error(&err);
    }
    print_path(o, general, used);
    printf("workspace: %zu bytes, allocated once\n", ws_bytes);

    pairs = fattn_ref_visible_pairs(tq, tk, &params);
    if (o->causal == FATTN_CAUSAL_NONE && !o->window_enabled) {
        flops = 4.0 * (double)o->batch * (double)o->heads * (double)o->seq *
                (double)o->seq_k * (double)o->dim;
        printf("flops: %.4g GFLOP per call (dense: 4*B*H*Sq*Sk*D)\n",
               flops * 1e-9);
    } else {
        flops = (double)pairs * 2.0 * (double)(o->dim + o->dim);
        printf("flops: %.4g GFLOP per call (counting only the %" PRId64
               " visible (query, key) pairs, 2*(D+Dv) FLOP each)\n",
               flops * 1e-9, pairs);
    }
    fflush(stdout);

    for (int64_t r = -1; r < o->repeat; r++) {
        double t0 = now_ms(), t1;
        fattn_status st = fattn_forward(tq, tk, tv, to, &params, &err);

        t1 = now_ms();
        if (st != FATTN_OK) {
            free(times);
            free(workspace);
            fattn_pool_destroy(pool);
            return report_library_error(&err);
        }
        if (r < 0) {
            printf("warm-up: %.3f ms\n", t1 - t0);
            phases_reset();
        } else {
            times[r] = t1 - t0;
            printf("run %" PRId64 "/%" PRId64 ": %.3f ms\n", r + 1, o->repeat,
                   times[r]);
        }
        fflush(stdout);
    }
    qsort(times, (size_t)o->repeat, sizeof *times, cmp_double);
    ms_min = times[0];
    ms_median = (o->repeat % 2) ? times[o->repeat / 2]
                                : 0.5 * (times[o->repeat / 2 - 1] +
                                         times[o->repeat / 2]);
    free(times);
    free(workspace);
    fattn_pool_destroy(pool); /* its workers would only sleep from here on */
    params.workspace = NULL; /* freed; the reference check below needs none */
    params.pool = NULL;
    printf("time: median %.3f ms, min %.3f ms over %" PRId64 " runs\n",
           ms_median, ms_min, o->repeat);
    rates.gflops = ms_median > 0 ? flops / (ms_median * 1e6) : 0.0;
    printf("GFLOP/s: %.3f (median), %.3f (best)\n", rates.gflops,
           ms_min > 0 ? flops / (ms_min * 1e6) : 0.0);
    phases_print(o->threads);

    /* Every call wrote the same bytes; the digest is of the last one's. */
    print_digest(o, to, &buf->lse.view);

    /* The same process, right after the kernel: comparable conditions. */
    print_peak(o, used, &rates);
    print_memory_rates(o, ms_median, visible_keys(tq, tk, &params), &rates);

    row_step = choose_row_step(o, pairs);
    rows_total = o->batch * o->heads * o->seq;
    max_v = cli_tensor_max_abs(tv);
    check_bound(o, used, max_v, &atol, &rtol);
    memset(&rep, 0, sizeof rep);
    t_ref = now_ms();
    ok = fattn_ref_compare(tq, tk, tv, to, &params, atol, rtol, row_step, &rep);
    t_ref = now_ms() - t_ref;
    rates.err_over_v = max_v > 0 ? rep.max_abs_err / max_v : rep.max_abs_err;
    printf("check vs fp64 reference on the same %s inputs: 1 row in %" PRId64
           " of %" PRId64 " rows (%" PRId64 " elements%s, %.2f s): max abs err "
           "%.3g, max rel err %.3g, max abs err / max|V| %.3g (max|V| = "
           "%.6g)\n",
           o->dtype == FATTN_DTYPE_F32 && o->kv_dtype == FATTN_DTYPE_F32
               ? "f32" : "rounded",
           row_step, rows_total, rep.checked, o->lse ? " with the LSE" : "",
           t_ref * 1e-3, rep.max_abs_err, rep.max_rel_err, rates.err_over_v,
           max_v);
    if (atol != BENCH_ATOL || rtol != BENCH_RTOL)
        printf("bound: atol %g%s, rtol %g%s\n", atol,
               bf16_dot(o, used) ? " (1e-5 + 2^-8*max|V|: P in bf16 on the "
                                   "avx512bf16 path)"
                                 : "",
               rtol,
               o->out_dtype != FATTN_DTYPE_F32
                   ? (o->out_dtype == FATTN_DTYPE_BF16
                          ? " (1e-5 + 2^-8: the bf16 output's rounding)"
                          : " (1e-5 + 2^-11: the f16 output's rounding)")
                   : "");
    if (ok && rep.violations == 0) {
        printf("PASS: |x-ref| <= %g + %g*|ref| for every checked element\n",
               atol, rtol);
        rc = CLI_EXIT_OK;
    } else {
        printf("FAIL: %" PRId64 " of %" PRId64 " checked elements exceed "
               "|x-ref| <= %g + %g*|ref|; worst at b=%" PRId64 " h=%" PRId64
               " i=%" PRId64 " d=%" PRId64 ": got %.9g, reference %.9g\n",
               rep.violations, rep.checked, atol, rtol,
               rep.worst[0], rep.worst[1], rep.worst[2], rep.worst[3],
               rep.worst_got, rep.worst_ref);
        rc = CLI_EXIT_ERROR;
    }
    print_summary(o, used, ms_median, &rates, rc == CLI_EXIT_OK);
    return rc;
}

/* Physical memory in bytes, or 0 if unknown. */
static uint64_t physical_memory(void)
{
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    if (pages > 0 && page > 0 &&
        (uint64_t)pages <= UINT64_MAX / (uint64_t)page)
        return (uint64_t)pages * (uint64_t)page;
#endif
    return 0;
}

/* Refuse shapes whose buffers cannot fit in memory, before allocating: an
 * overcommitting OS would otherwise accept the allocation and kill the
 * process while the inputs are filled. Returns 0 or an exit code. */
static int check_memory(const bench_opts *o)
{
    size_t parts[5] = {
        cli_tensor_bytes(o->dtype, o->batch, o->heads, o->seq, o->dim),
        cli_tensor_bytes(o->kv_dtype, o->batch, o->kv_heads, o->kv_capacity, o->dim),
        cli_tensor_bytes(o->kv_dtype, o->batch, o->kv_heads, o->kv_capacity, o->dim),
        cli_tensor_bytes(o->out_dtype, o->batch, o->heads, o->seq, o->dim),
        cli_tensor_bytes(FATTN_DTYPE_F32, o->batch, o->heads, o->seq, 1),
    };
    const int nparts = o->lse ? 5 : 4;
    uint64_t total = 0, phys = physical_memory();

    for (int k = 0; k < nparts; k++) {
        if (parts[k] == 0 || total > UINT64_MAX - parts[k]) {
            total = UINT64_MAX;
            break;
        }
        total += parts[k];
    }
    if (total == UINT64_MAX || (phys != 0 && total > phys)) {
        fflush(stdout);
        if (total == UINT64_MAX)
            fprintf(stderr, "fattn bench: error: the shape is too large: its "
                            "buffers overflow the address space\n");
        else
            fprintf(stderr,
                    "fattn bench: error: the shape is too large: its buffers "
                    "need %.1f GiB, more than this machine's %.1f GiB of "
                    "memory\n",
                    (double)total / 1073741824.0, (double)phys / 1073741824.0);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

int cli_bench(int argc, char **argv)
{
    bench_opts o;
    uint64_t rng;
    bench_buffers buf;
    int help = 0, rc, general = FATTN_ISA_SCALAR;

    rc = cli_bench_parse(argc, argv, &o, &help);
    if (rc != 0)
        return rc;
    if (help) {
        cli_bench_help(stdout);
        return CLI_EXIT_OK;
    }

    memset(&buf, 0, sizeof buf); /* freeing a tensor never allocated is a no-op */
    rc = resolve_auto(&o, &general);
    if (rc != 0)
        return rc;
    print_shape(&o);
    fflush(stdout);
    rc = check_memory(&o);
    if (rc != 0)
        return rc;

    rng = o.seed;
    rc = CLI_EXIT_ERROR;
    /* Q, K, V drawn in that order from one seed, as they always were; the
     * LSE tensor exists either way (its descriptor is only passed with
     * --lse): one code path, 64 bytes when unused. */
    if (cli_tensor_alloc(&buf.q, "query", o.dtype, o.layout, o.batch, o.heads,
                         o.seq, o.seq, o.dim, &rng) == 0 &&
        cli_tensor_alloc(&buf.k, "key", o.kv_dtype, o.layout, o.batch,
                         o.kv_heads, o.seq_k, o.kv_capacity, o.dim, &rng) == 0 &&
        cli_tensor_alloc(&buf.v, "value", o.kv_dtype, o.layout, o.batch,
                         o.kv_heads, o.seq_k, o.kv_capacity, o.dim, &rng) == 0 &&
        cli_tensor_alloc(&buf.out, "output", o.out_dtype, o.layout, o.batch,
                         o.heads, o.seq, o.seq, o.dim, NULL) == 0 &&
        cli_tensor_alloc(&buf.lse, "lse", FATTN_DTYPE_F32, CLI_LAYOUT_BHSD,
                         o.batch, o.heads, o.lse ? o.seq : 1, o.lse ? o.seq : 1,
                         1, NULL) == 0)
        rc = run(&o, general, &buf);
    cli_tensor_free(&buf.q);
    cli_tensor_free(&buf.k);
    cli_tensor_free(&buf.v);
    cli_tensor_free(&buf.out);
    cli_tensor_free(&buf.lse);
    return rc;
}
