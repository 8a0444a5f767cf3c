/*
 * test_determinism.c - fattn.h's "Determinism" promise: output and LSE are
 * the same bits on the calling thread, on pools of 1 to 8 threads (more
 * than this machine's cores), through an executor that runs tasks
 * concurrently on real threads (max_tasks 1..8) and through one that runs
 * them one after another in reverse order, with fattn_forward and with
 * fattn_plan_run, on every kernel path this build and CPU have. The
 * calling-thread result must also match the fp64 reference (the tolerance
 * of tests/reference/tolerance.h for the kernel that ran and the output
 * dtype), write every output element and leave the layout's gaps
 * untouched; the others equal it bit for bit (memcmp of the whole output
 * and LSE buffers, gaps included).
 *
 * Shapes walk the tile and block edges of every path (the planner's query
 * blocks and the kernels' tiles are multiples of 16 and 32 rows): prefill
 * Sq = Sk in {1, 47, 48, 49, 191, 192, 193, 500}, D in {8, 64, 100}; both
 * causal alignments with Sq != Sk; the GQA decode shapes that the SIMD paths
 * give to their rows kernel (fattn_plan_kernel says which kernel ran); and
 * LSE, bool and additive masks, lengths, ALiBi, soft-cap, windows, B > 1,
 * strided layouts; and bf16 and f16 tensors (mixed too, with half masks and
 * outputs) over prefill, decode and split-K shapes.
 *
 *   test_determinism [--quick] [--isa=NAME] [CATEGORY]
 * --quick: one thread count per kind of mode (always under TSan); --isa:
 * that path only;
 * CATEGORY: prefill, causal, decode, options or dtype (meson runs one test
 * per category).
 */
#include "plan_util.h"
#include "tolerance.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Under ThreadSanitizer (scripts/test.sh runs the 'threads' suite so) the
 * scalar kernel runs some 30 times slower: one thread count per kind of
 * mode there, as with --quick. TSan still sees every hand-over (pool,
 * executor, plan) with several threads; the bitwise comparison over every
 * count runs in the other builds. */
#if defined(__SANITIZE_THREAD__)
#define PU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PU_TSAN 1
#endif
#endif
#ifndef PU_TSAN
#define PU_TSAN 0
#endif

static const int pool_sizes[] = {1, 2, 3, 4, 5, 8};
static const int reverse_sizes[] = {1, 3, 8};
enum { MAX_EXEC = 8, MAX_REPORTS = 10 };

static fattn_pool *pools[PU_COUNT(pool_sizes)];
static pu_exec exec_thr[MAX_EXEC];            /* max_tasks = index + 1 */
static pu_exec exec_rev[PU_COUNT(reverse_sizes)];

typedef struct mode {
    char name[48];
    int plan;                /* fattn_plan_run instead of fattn_forward */
    fattn_pool *pool;
    pu_exec *exec;
    int threads;             /* pool threads or max_tasks; 1 without */
} mode;

static mode modes[64];
static int nmodes;

static void add_mode(int plan, fattn_pool *pool, pu_exec *exec)
{
    mode *m = &modes[nmodes++];
    memset(m, 0, sizeof *m);
    m->plan = plan;
    m->pool = pool;
    m->exec = exec;
    m->threads = pool ? fattn_pool_threads(pool) : exec ? exec->ex.max_tasks : 1;
    const char *fn = plan ? "plan_run" : "forward";
    if (pool)
        snprintf(m->name, sizeof m->name, "%s pool=%d", fn, m->threads);
    else if (exec)
        snprintf(m->name, sizeof m->name, "%s %s=%d", fn,
                 exec->threaded ? "threaded_exec" : "reverse_exec", m->threads);
    else
        snprintf(m->name, sizeof m->name, "%s calling-thread", fn);
}

static void setup_modes(int quick)
{
    for (size_t i = 0; i < PU_COUNT(pool_sizes); i++) {
        fattn_error err;
        fattn_status st = fattn_pool_create(pool_sizes[i], &pools[i], &err);
        if (st != FATTN_OK) {
            printf("FAIL fattn_pool_create(%d): %s\n", pool_sizes[i], err.message);
            exit(1);
        }
    }
    for (int i = 0; i < MAX_EXEC; i++)
        pu_exec_init(&exec_thr[i], 1, i + 1);
    for (size_t i = 0; i < PU_COUNT(reverse_sizes); i++)
        pu_exec_init(&exec_rev[i], 0, reverse_sizes[i]);

    for (size_t i = 0; i < PU_COUNT(pool_sizes); i++)
        if (!quick || pool_sizes[i] == 3)
            add_mode(0, pools[i], NULL);
    for (int i = 0; i < MAX_EXEC; i++)
        if (!quick || i == 4)
            add_mode(0, NULL, &exec_thr[i]);
    for (size_t i = 0; i < PU_COUNT(reverse_sizes); i++)
        if (!quick || reverse_sizes[i] == 8)
            add_mode(0, NULL, &exec_rev[i]);
    add_mode(1, NULL, NULL);
    add_mode(1, pools[1], NULL); /* 2 threads */
    add_mode(1, pools[5], NULL); /* 8 threads */
    add_mode(1, NULL, &exec_thr[2]);
    add_mode(1, NULL, &exec_rev[PU_COUNT(reverse_sizes) - 1]);
}

/* ---- one problem on one path in every mode ------------------------------ */

typedef struct stats {
    int64_t cases, runs, failed;
    double max_err_v; /* calling thread vs the reference, / max|V| */
    char kernels[512]; /* distinct kernel names seen */
} stats;

static void note_kernel(stats *s, const char *name)
{
    if (!name[0])
        name = "(none)";
    const char *k = s->kernels;
    size_t n = strlen(name);
    while ((k = strstr(k, name)) != NULL) {
        if ((k == s->kernels || k[-1] == ' ') && (k[n] == ' ' || k[n] == '\0'))
            return;
        k += n;
    }
    size_t len = strlen(s->kernels);
    snprintf(s->kernels + len, sizeof s->kernels - len, "%s%s", len ? " " : "", name);
}

static int reports;

static void case_fail(stats *s, const fattn_ref_problem *p, const char *label,
                      int isa, const char *mode_name, const char *detail)
{
    s->failed++;
    pu_failures++;
    if (reports++ < MAX_REPORTS)
        printf("FAIL %s, isa=%s, %s: %s\n  %s\n", label, fattn_isa_name(isa),
               mode_name, detail, pu_describe(p));
    else if (reports == MAX_REPORTS + 1)
        printf("FAIL ... (further failures counted, not described)\n");
}

/* Run p in mode m into p's output and LSE buffers (reset first). */
static fattn_status run_mode(fattn_ref_problem *p, const mode *m,
                             fattn_plan **plan_out, fattn_error *err)
{
    p->params.pool = m->pool;
    p->params.executor = m->exec ? &m->exec->ex : NULL;
    if (m->exec)
        pu_exec_reset(m->exec);
    fattn_ref_problem_reset_output(p);
    fattn_status st;
    if (!m->plan) {
        st = fattn_forward(&p->query, &p->key, &p->value, &p->output,
                           &p->params, err);
    } else {
        st = fattn_plan_create(&p->query, &p->key, &p->value, &p->output,
                               &p->params, plan_out, err);
        if (st == FATTN_OK)
            st = fattn_plan_run(*plan_out, NULL, err);
    }
    p->params.pool = NULL;
    p->params.executor = NULL;
    return st;
}

static void run_case(stats *s, fattn_ref_problem *p, const char *label, int isa)
{
    char detail[512];
    fattn_error err;
    const size_t out_es = p->out_esize;
    const size_t out_bytes = p->out_elems * out_es;
    const size_t lse_bytes = p->lse_elems * sizeof(float);
    float *base_out = pu_xalloc(out_bytes + 4), *base_lse = pu_xalloc(lse_bytes + 4);

    s->cases++;
    p->params.isa = isa;

    /* The calling thread: against the reference. */
    mode calling = {"forward calling-thread", 0, NULL, NULL, 1};
    fattn_status st = run_mode(p, &calling, NULL, &err);
    s->runs++;
    if (st != FATTN_OK) {
        snprintf(detail, sizeof detail, "status %s: %s", fattn_status_name(st),
                 err.message);
        case_fail(s, p, label, isa, calling.name, detail);
        goto done;
    }
    fattn_tol_report rep;
    const fattn_tol tol = fattn_tol_of(&p->query, &p->key, &p->value, &p->output,
                                       &p->params);
    int pass = fattn_tol_check_problem(p, &tol, &rep);
    int64_t gaps = fattn_ref_problem_gaps_touched(p);
    int64_t unwritten = fattn_ref_problem_unwritten(p);
    if (rep.max_err_v > s->max_err_v)
        s->max_err_v = rep.max_err_v;
    if (!pass || gaps || unwritten) {
        snprintf(detail, sizeof detail,
                 "vs fp64 reference: %" PRId64 "/%" PRId64 " output and LSE elements"
                 " beyond the tolerance (worst b=%" PRId64 " h=%" PRId64
                 " i=%" PRId64 " d=%" PRId64 ": got %.9g ref %.9g), %" PRId64
                 " gap elements written, %" PRId64 " elements unwritten",
                 rep.fails, rep.checked, rep.worst[0], rep.worst[1], rep.worst[2],
                 rep.worst[3], rep.worst_got, rep.worst_ref, gaps, unwritten);
        case_fail(s, p, label, isa, calling.name, detail);
    } else if (rep.warns) {
        printf("WARN %s, isa=%s: %" PRId64 " elements beyond the warn bound, ", label,
               fattn_isa_name(isa), rep.warns);
        fattn_tol_print_worst(stdout, &rep);
        printf("\n");
    }
    memcpy(base_out, p->out_buf, out_bytes);
    if (lse_bytes)
        memcpy(base_lse, p->lse_buf, lse_bytes);

    /* The schedule of a plan on the calling thread: what every other mode
     * must share (it depends on the problem alone). */
    fattn_plan *ref_plan = NULL;
    st = fattn_plan_create(&p->query, &p->key, &p->value, &p->output,
                           &p->params, &ref_plan, &err);
    if (st != FATTN_OK) {
        snprintf(detail, sizeof detail, "fattn_plan_create: %s", err.message);
        case_fail(s, p, label, isa, "plan", detail);
        goto done;
    }
    const char *kernel = fattn_plan_kernel(ref_plan);
    const int64_t items = fattn_plan_work_items(ref_plan);
    note_kernel(s, kernel);
    size_t prefix = strlen(fattn_isa_name(isa));
    /* The path's own kernels, or for AVX512_BF16 (a path for all-bf16
     * prefill) the AVX-512 kernels it runs everything else on. */
    const int own = strncmp(kernel, fattn_isa_name(isa), prefix) == 0 && kernel[prefix] == '_';
    const int fallback = isa == FATTN_ISA_AVX512BF16 && strncmp(kernel, "avx512_", 7) == 0;
    if (fattn_plan_isa(ref_plan) != (fattn_isa)isa || fattn_plan_tasks(ref_plan) != 1 ||
        (items > 0 && !own && !fallback)) {
        snprintf(detail, sizeof detail, "plan: isa %s, tasks %d, kernel \"%s\"",
                 fattn_isa_name(fattn_plan_isa(ref_plan)), (int)fattn_plan_tasks(ref_plan),
                 kernel);
        case_fail(s, p, label, isa, "plan calling-thread", detail);
    }

    for (int k = 0; k < nmodes; k++) {
        const mode *m = &modes[k];
        fattn_plan *plan = NULL;
        st = run_mode(p, m, &plan, &err);
        s->runs++;
        if (st != FATTN_OK) {
            snprintf(detail, sizeof detail, "status %s: %s", fattn_status_name(st),
                     err.message);
            case_fail(s, p, label, isa, m->name, detail);
            fattn_plan_destroy(plan);
            continue;
        }
        int64_t od = pu_first_diff(base_out, p->out_buf, out_bytes);
        int64_t ld = lse_bytes ? pu_first_diff(base_lse, p->lse_buf, lse_bytes) : -1;
        if (od >= 0 || ld >= 0) {
            snprintf(detail, sizeof detail,
                     "not bitwise equal to the calling thread's result: first "
                     "output difference at buffer element %" PRId64 " (%s), "
                     "first LSE difference at element %" PRId64,
                     od >= 0 ? od / (int64_t)out_es : -1,
                     fattn_ref_dtype_name(p->output.dtype), ld >= 0 ? ld / 4 : -1);
            case_fail(s, p, label, isa, m->name, detail);
        }
        if (m->exec && atomic_load(&m->exec->violations)) {
            snprintf(detail, sizeof detail, "executor contract violated: %s",
                     m->exec->last_violation);
            case_fail(s, p, label, isa, m->name, detail);
        }
        if (plan) {
            const int64_t want_tasks = items < m->threads ? items : m->threads;
            if (strcmp(fattn_plan_kernel(plan), kernel) != 0 ||
                fattn_plan_work_items(plan) != items ||
                (items > 0 && fattn_plan_tasks(plan) != want_tasks)) {
                snprintf(detail, sizeof detail,
                         "schedule depends on the threads: kernel \"%s\" items %" PRId64
                         " tasks %d, calling thread: \"%s\" %" PRId64
                         " items, want min(%d, items) tasks",
                         fattn_plan_kernel(plan), fattn_plan_work_items(plan),
                         (int)fattn_plan_tasks(plan), kernel, items, m->threads);
                case_fail(s, p, label, isa, m->name, detail);
            }
            fattn_plan_destroy(plan);
        }
    }
    fattn_plan_destroy(ref_plan);
done:
    p->params.isa = FATTN_ISA_AUTO;
    free(base_out);
    free(base_lse);
}

/* ---- the cases ------------------------------------------------------------ */

static int isas[FATTN_ISA_COUNT];
static int nisas;
static uint64_t case_seed = 20261201;

static void run_config(stats *s, fattn_ref_problem_config *c, const char *label)
{
    fattn_ref_problem p;
    c->seed = case_seed++;
    pu_problem(&p, c);
    if (fattn_ref_problem_reference(&p) != 0) {
        printf("out of memory (reference)\n");
        exit(2);
    }
    for (int k = 0; k < nisas; k++)
        run_case(s, &p, label, isas[k]);
    fattn_ref_problem_free(&p);
}

static fattn_ref_problem_config config(int64_t b, int64_t hq, int64_t hkv,
                                       int64_t sq, int64_t sk, int64_t d)
{
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, b, hq, sq, sk, d);
    c.heads_kv = hkv;
    c.lse = 1;
    return c;
}

static void end_category(const char *name, stats *s)
{
    printf("%-8s %3" PRId64 " cases %5" PRId64 " runs %3" PRId64 " failed | max err/max|V|"
           " %.3g | kernels: %s\n",
           name, s->cases, s->runs, s->failed, s->max_err_v, s->kernels);
    fflush(stdout);
}

static void cat_prefill(void)
{
    static const int64_t seqs[] = {1, 47, 48, 49, 191, 192, 193, 500};
    static const int64_t dims[] = {8, 64, 100};
    stats s = {0};
    char label[96];
    /* The long ones with one head_dim each (they cost the most, above all
     * on the scalar path under ThreadSanitizer). */
    static const int64_t long_dim[][2] = {{191, 100}, {192, 64}, {193, 8}, {500, 8}};
    for (size_t a = 0; a < PU_COUNT(seqs); a++)
        for (size_t d = 0; d < PU_COUNT(dims); d++) {
            int skip = 0;
            for (size_t l = 0; l < PU_COUNT(long_dim); l++)
                skip |= seqs[a] == long_dim[l][0] && dims[d] != long_dim[l][1];
            if (skip)
                continue;
            int64_t heads = seqs[a] >= 191 ? 1 : 2;
            fattn_ref_problem_config c = config(1, heads, heads, seqs[a], seqs[a], dims[d]);
            snprintf(label, sizeof label, "prefill S=%" PRId64 " D=%" PRId64, seqs[a], dims[d]);
            run_config(&s, &c, label);
        }
    end_category("prefill", &s);
}

static void cat_causal(void)
{
    static const int64_t shapes[][2] = {{47, 193}, {193, 47}, {1, 65}, {65, 1},
                                        {49, 49}, {100, 31}};
    stats s = {0};
    char label[96];
    int n = 0;
    for (size_t k = 0; k < PU_COUNT(shapes); k++)
        for (int causal = FATTN_CAUSAL_TOP_LEFT; causal <= FATTN_CAUSAL_BOTTOM_RIGHT;
             causal++, n++) {
            fattn_ref_problem_config c = config(2, 4, 2, shapes[k][0], shapes[k][1],
                                                n % 2 ? 64 : 24);
            c.params.causal = causal;
            c.q_lengths = c.kv_lengths = n % 3 == 0;
            snprintf(label, sizeof label, "causal %s Sq=%" PRId64 " Sk=%" PRId64 "%s",
                     causal == FATTN_CAUSAL_TOP_LEFT ? "top-left" : "bottom-right",
                     shapes[k][0], shapes[k][1], c.q_lengths ? " lengths" : "");
            run_config(&s, &c, label);
        }
    end_category("causal", &s);
}

/* GQA decode: group * Sq query rows per KV head, the rows kernel's shapes,
 * and split-K. */
static void cat_decode(void)
{
    static const struct {
        int64_t b, hq, hkv, sq, sk, d;
        int kv_lengths, causal;
    } cases[] = {
        {1, 8, 2, 1, 300, 64, 0, 0},   {2, 8, 2, 2, 257, 100, 1, 2},
        {1, 8, 2, 3, 130, 64, 0, 2},   {2, 8, 2, 4, 200, 8, 1, 0},
        {1, 8, 1, 1, 1031, 64, 0, 0},  {3, 8, 1, 1, 129, 100, 1, 0},
        /* Split-K (fewer than 32 row items, Sk >= 1024): chunks of one
         * and of many workers, past kv_lengths, causal, group > 8, Sq
         * past the decode rows, a prefill-sized item. */
        {1, 4, 1, 3, 4097, 16, 1, 2},  {2, 8, 2, 1, 2048, 64, 0, 0},
        {1, 16, 1, 5, 1600, 24, 0, 2}, {1, 2, 2, 49, 1536, 32, 0, 1},
        {1, 1, 1, 100, 3000, 16, 1, 2},
    };
    stats s = {0};
    char label[96];
    for (size_t k = 0; k < PU_COUNT(cases); k++) {
        fattn_ref_problem_config c = config(cases[k].b, cases[k].hq, cases[k].hkv,
                                            cases[k].sq, cases[k].sk, cases[k].d);
        c.kv_lengths = cases[k].kv_lengths;
        c.params.causal = cases[k].causal;
        snprintf(label, sizeof label, "decode Hq=%" PRId64 " Hkv=%" PRId64 " Sq=%" PRId64
                 " Sk=%" PRId64, cases[k].hq, cases[k].hkv, cases[k].sq, cases[k].sk);
        run_config(&s, &c, label);
    }
    end_category("decode", &s);
}

static void cat_options(void)
{
    stats s = {0};
    fattn_ref_problem_config c;

    c = config(2, 4, 2, 49, 130, 32);
    c.mask = FATTN_REF_MASK_BOOL;
    c.mask_drop = 0.3;
    c.mask_dead_rows = 0.1;
    run_config(&s, &c, "bool mask");

    c = config(2, 4, 2, 33, 97, 40);
    c.mask = FATTN_REF_MASK_ADDITIVE;
    c.mask_size1 = 1u << 1; /* broadcast over heads */
    c.alibi = 1;
    c.params.softcap = 20.0f;
    run_config(&s, &c, "additive mask + alibi + softcap");

    c = config(3, 2, 1, 70, 90, 16);
    c.q_lengths = c.kv_lengths = 1;
    c.params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    c.params.window_enabled = 1;
    c.params.window_left = 20;
    c.params.window_right = 0;
    /* Explicit: tests/reference reads align as given (test_plan checks that
     * the library's align = 0 means the same). */
    c.params.align = FATTN_ALIGN_BOTTOM_RIGHT;
    run_config(&s, &c, "lengths + causal window");

    c = config(2, 8, 2, 2, 150, 64);
    c.mask = FATTN_REF_MASK_BOOL;
    c.mask_drop = 0.2;
    c.kv_lengths = 1;
    run_config(&s, &c, "decode + bool mask + kv_lengths");

    c = config(2, 4, 4, 65, 65, 48);
    c.layout = FATTN_REF_LAYOUT_STRIDED;
    run_config(&s, &c, "strided layout");

    c = config(2, 8, 2, 1, 100, 64);
    c.layout = FATTN_REF_LAYOUT_PADDED;
    run_config(&s, &c, "decode, padded layout");

    c = config(0, 2, 2, 5, 5, 8);
    run_config(&s, &c, "empty batch");
    end_category("options", &s);
}

/* bf16 and f16 tensors, mixed, with half masks and outputs: prefill tiles,
 * the rows kernel, split-K (its chunks combined per row block). */
static void cat_dtype(void)
{
    static const struct {
        int64_t b, hq, hkv, sq, sk, d;
        int q, k, v, o, mask, causal;
    } cases[] = {
#define BF FATTN_DTYPE_BF16
#define F16 FATTN_DTYPE_F16
#define F32 FATTN_DTYPE_F32
        {1, 2, 2, 193, 193, 64, BF, BF, BF, BF, 0, 1},
        {1, 2, 1, 100, 130, 40, F16, F16, F16, F16, 2, 2},
        {2, 4, 2, 49, 97, 24, F32, BF, F16, BF, 1, 0},
        {1, 8, 2, 1, 300, 64, BF, BF, BF, F32, 0, 2},
        {2, 8, 2, 3, 257, 100, F16, BF, BF, F16, 2, 2},
        /* Split-K */
        {1, 4, 1, 3, 4097, 16, BF, BF, BF, BF, 1, 2},
        {2, 8, 2, 1, 2048, 64, F16, F16, F16, F32, 2, 0},
        {1, 16, 1, 5, 1600, 24, F32, F16, BF, F16, 0, 2},
        {1, 2, 2, 49, 1536, 32, BF, F32, F16, BF, 1, 1},
#undef BF
#undef F16
#undef F32
    };
    stats s = {0};
    char label[128];
    for (size_t k = 0; k < PU_COUNT(cases); k++) {
        fattn_ref_problem_config c = config(cases[k].b, cases[k].hq, cases[k].hkv,
                                            cases[k].sq, cases[k].sk, cases[k].d);
        c.dtype_q = cases[k].q;
        c.dtype_k = cases[k].k;
        c.dtype_v = cases[k].v;
        c.dtype_o = cases[k].o;
        c.params.causal = cases[k].causal;
        if (cases[k].mask) { /* 1: additive bf16, 2: additive f16 */
            c.mask = FATTN_REF_MASK_ADDITIVE;
            c.dtype_mask = cases[k].mask == 1 ? FATTN_DTYPE_BF16 : FATTN_DTYPE_F16;
            c.mask_drop = 0.2;
            c.mask_size1 = 1u << 1;
        }
        c.kv_lengths = k % 2;
        snprintf(label, sizeof label, "dtype q=%s k=%s v=%s out=%s Sq=%" PRId64 " Sk=%" PRId64,
                 fattn_ref_dtype_name(c.dtype_q), fattn_ref_dtype_name(c.dtype_k),
                 fattn_ref_dtype_name(c.dtype_v), fattn_ref_dtype_name(c.dtype_o),
                 cases[k].sq, cases[k].sk);
        run_config(&s, &c, label);
    }
    end_category("dtype", &s);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cats[] = {{"prefill", cat_prefill}, {"causal", cat_causal},
                {"decode", cat_decode},   {"options", cat_options},
                {"dtype", cat_dtype}};
    int quick = PU_TSAN;
    const char *only = NULL, *only_isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strncmp(argv[i], "--isa=", 6) == 0)
            only_isa = argv[i] + 6;
        else
            only = argv[i];
    }
    int found = only == NULL;
    for (size_t i = 0; i < PU_COUNT(cats); i++)
        found |= only && strcmp(only, cats[i].name) == 0;
    if (!found) {
        printf("usage: test_determinism [--quick] [--isa=NAME] [prefill|causal|decode|options|dtype]\n");
        return 2;
    }
    nisas = pu_paths(isas, FATTN_ISA_COUNT);
    if (only_isa) {
        int kept = 0;
        for (int k = 0; k < nisas; k++)
            if (strcmp(fattn_isa_name(isas[k]), only_isa) == 0)
                isas[kept++] = isas[k];
        nisas = kept;
    }
    setup_modes(quick);
    printf("%d paths x %d modes besides the calling thread\n", nisas, nmodes);
    for (size_t i = 0; i < PU_COUNT(cats); i++)
        if (!only || strcmp(only, cats[i].name) == 0)
            cats[i].fn();
    for (size_t i = 0; i < PU_COUNT(pools); i++)
        fattn_pool_destroy(pools[i]);
    return pu_finish("test_determinism");
}
