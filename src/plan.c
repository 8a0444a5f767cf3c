/*
 * plan.c - the planner and the plan API: validation checks, the planner
 * decides, kernels compute.
 *
 * How a call is described (FlashInfer's plan/run split is the model): a
 * validated fattn_problem, a kernel variant chosen from the path's table
 * (decode rows up to the path's measured crossover in Sq, else prefill
 * lanes), and
 * work items (fattn_item: batch, head or KV head, query rows, key range)
 * numbered 0 .. items - 1 and decoded arithmetically, so a plan holds no
 * per-item array whatever the problem's size. Every item writes its own
 * output rows, so any number of workers may take items in any order: a run
 * hands `tasks` workers a shared counter, each takes the next item until
 * none is left, and each has its own slice of the workspace. What an item
 * computes never depends on who runs it, hence the bitwise determinism that
 * fattn.h promises. Split-K adds items over chunks of the keys whose
 * partial results are combined in a fixed order, keeping that promise.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static size_t round64(size_t n) { return (n + 63u) & ~(size_t)63u; }

static int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/* Prefill plans cut their row blocks finer until they have this many work
 * items (or blocks are one query tile); split-K cuts the keys of plans that
 * still have fewer. */
#define FATTN_MIN_ITEMS 32

/* Split-K: chunks of at least this many keys (a chunk's partial row costs a
 * write and a read of Dv floats per row, against 4 * D FLOP per key per row
 * computed), at most FATTN_MAX_CHUNKS of them, each a multiple of 64 keys. */
#define FATTN_CHUNK_MIN_KEYS 512
#define FATTN_MAX_CHUNKS 64
#define FATTN_SPLIT_MAX_BYTES (INT64_C(32) << 20)

/*
 * The decode kernel (rows of a KV head's group, head_dim in lanes) or the
 * prefill kernel (queries in lanes, tiles of TQ = its row_granule rows).
 * Decode while a prefill query tile would be mostly idle: Sq < TQ, or TQ <
 * Sq < 1.5 TQ (a second tile less than half full). Measured, one thread,
 * Hq=32, Sk=4096, D=128, GFLOP/s decode/prefill (Zen 5; crossover notes of
 * issue #10): AVX-512 (TQ 48) MHA Sq=32 116/82, 48 123/115, 64 133/104, 96
 * 134/145; group 4 Sq=32 127/101, 48 127/156, 64 142/123, 96 155/180; MQA
 * Sq=32 144/144, 48 158/209, 64 155/137. AVX2 (TQ 24) group 8 Sq=16 78/60,
 * 24 78/86, 32 83/66, 36 78/74, 40 84/83, 48 81/95. At Sq = TQ MHA is
 * slightly faster in the decode kernel and GQA clearly in prefill: prefill.
 */
static const fattn_variant *choose_variant(const fattn_kernel *k,
                                           const fattn_problem *p)
{
    /* The candidates: the path's variants that take the problem, then its
     * fallback's. The decode/prefill crossover is the first prefill
     * candidate's query tile. */
    const fattn_variant *cand[16];
    int n = 0;
    for (const fattn_kernel *t = k; t; t = t->fallback)
        for (int i = 0; i < t->nvariants && n < 16; i++)
            if (!t->variants[i].accepts || t->variants[i].accepts(p))
                cand[n++] = &t->variants[i];
    const fattn_variant *prefill = NULL;
    for (int i = 0; i < n && !prefill; i++)
        if (!cand[i]->decode)
            prefill = cand[i];
    const int unit = p->k_stride[3] == 1 && p->v_stride[3] == 1;
    const int64_t tq = prefill->row_granule;
    const int idle_tile = p->seq_q < tq || (p->seq_q > tq && 2 * p->seq_q < 3 * tq);
    for (int i = 0; i < n && idle_tile; i++)
        if (cand[i]->decode && (!cand[i]->unit_kv || unit))
            return cand[i];
    return prefill; /* every path has a prefill variant for every problem */
}

/* Split the keys when the row items alone are too few to keep a pool busy
 * (decode: B * Hkv items). The chunks are a function of the problem only,
 * never of the thread count, so the partial results and their fixed-order
 * combination are the same bits on any number of threads. */
static void plan_split(fattn_plan *pl, const fattn_problem *p)
{
    pl->chunks = 1;
    pl->chunk_keys = p->seq_k;
    if (pl->items >= FATTN_MIN_ITEMS || p->seq_k < 2 * FATTN_CHUNK_MIN_KEYS)
        return;
    int64_t chunks = ceil_div(FATTN_MIN_ITEMS, pl->items);
    if (chunks > p->seq_k / FATTN_CHUNK_MIN_KEYS)
        chunks = p->seq_k / FATTN_CHUNK_MIN_KEYS;
    if (chunks > FATTN_MAX_CHUNKS)
        chunks = FATTN_MAX_CHUNKS;
    /* The partials of one chunk: a float per output element and two per
     * row. At most FATTN_SPLIT_MAX_BYTES of them (up to 1984 rows of Dv =
     * 4096 would otherwise ask 2 GiB for 64 chunks). */
    const int64_t rows = p->batch * p->heads_q * p->seq_q;
    const int64_t per_chunk = rows * (p->head_dim_v + 2) * (int64_t)sizeof(float);
    if (chunks > FATTN_SPLIT_MAX_BYTES / per_chunk)
        chunks = FATTN_SPLIT_MAX_BYTES / per_chunk;
    if (chunks < 2)
        return;
    int64_t keys = ceil_div(ceil_div(p->seq_k, chunks), 64) * 64;
    chunks = ceil_div(p->seq_k, keys);
    if (chunks < 2)
        return;
    pl->chunks = chunks;
    pl->chunk_keys = keys;
    /* Partial outputs [chunk][B][Hq][Sq][Dv], LSEs as log(l) and m
     * ([chunk][B][Hq][Sq] each, fattn_problem.lse_max), then one counter
     * of finished chunks per row item. */
    pl->shared_bytes = round64(sizeof(float) * (size_t)(chunks * rows) *
                               (size_t)p->head_dim_v) +
                       2 * round64(sizeof(float) * (size_t)(chunks * rows)) +
                       round64(sizeof(_Atomic int32_t) * (size_t)pl->items);
    pl->items *= chunks;
}

void fattn_plan_init(fattn_plan *pl, const fattn_problem *p, fattn_isa isa,
                     const fattn_checked *c)
{
    memset(pl, 0, sizeof *pl);
    pl->p = *p;
    pl->c = *c;
    pl->isa = isa;
    pl->pool = c->params.pool;
    pl->executor = c->params.executor;
    pl->allocator = fattn_allocator_or_default(&c->params.allocator);
    pl->tasks = 1;
    pl->chunks = 1;
    atomic_init(&pl->own_busy, 0);
    if (p->batch == 0 || p->seq_q == 0)
        return; /* no output row: nothing to compute */
    const fattn_variant *v = choose_variant(fattn_kernel_for(isa), p);
    pl->variant = v;
    if (v->decode) {
        /* Every row of a KV head's group reads its K/V: as few items per
         * head as max_rows allows, of even size. With the heads of a key
         * next to each other in memory (BSHD: head stride below the token
         * stride) an item takes the rows of several heads, so that it
         * reads each key's heads in order: one KV head per item read a
         * one-thread BSHD cache at 0.73x the speed of BHSD (Hkv = 8, a row
         * per 4 KiB page). */
        const int interleaved = p->k_stride[1] < p->k_stride[2] &&
                                p->v_stride[1] < p->v_stride[2];
        pl->heads = interleaved ? 1 : p->heads_kv;
        pl->rows = p->heads_q / pl->heads * p->seq_q;
        pl->blocks = ceil_div(pl->rows, v->max_rows);
        pl->block_rows = ceil_div(pl->rows, pl->blocks);
    } else {
        pl->heads = p->heads_q;
        pl->rows = p->seq_q;
        pl->block_rows = v->block_rows(p);
        /* Short problems: smaller blocks until there are enough items to
         * keep a pool's threads evenly busy (8 items on 2 threads left one
         * with 5, as the other joined a little late). A function of the
         * problem only, as determinism requires; each query tile, and so
         * each result, is the same whatever block it is in. */
        while (pl->block_rows > v->row_granule &&
               p->batch * p->heads_q * ceil_div(p->seq_q, pl->block_rows) <
                   FATTN_MIN_ITEMS)
            pl->block_rows -= v->row_granule;
        pl->blocks = ceil_div(p->seq_q, pl->block_rows);
        /* Causal rows see more keys the later they are: on several
         * workers each head's blocks go longest first, so the last items,
         * which decide when the slowest worker ends, are the shortest. (On
         * one they go in order, which measured ~5 % faster; the order of
         * items never changes what they compute.) */
        pl->descending = p->causal != FATTN_CAUSAL_NONE && pl->blocks > 1;
    }
    /* Cannot overflow: validation proved batch * heads_q * seq_q distinct
     * output elements exist in the address space. */
    pl->items = p->batch * pl->heads * pl->blocks;
    plan_split(pl, p);
    int64_t workers = pl->pool       ? fattn_pool_threads(pl->pool)
                      : pl->executor ? pl->executor->max_tasks
                                     : 1;
    pl->tasks = (int32_t)(workers < pl->items ? workers : pl->items);
    pl->task_bytes = round64(v->workspace(p));
    if (pl->chunks > 1) /* the combination's double accumulators */
        pl->task_bytes += round64(sizeof(double) * (size_t)p->head_dim_v);
    pl->workspace_bytes = pl->shared_bytes + (size_t)pl->tasks * pl->task_bytes;
}

/* Row item t (t < items / chunks). */
static void plan_row_item(const fattn_plan *pl, int64_t t, int parallel,
                          fattn_item *it)
{
    int64_t bh, blk;
    /* Head-major: a head's blocks one after another, so its K and V are
     * still in cache for the next (block-major order cost a one-thread
     * causal run 10-20 %). */
    blk = t % pl->blocks;
    bh = t / pl->blocks;
    if (pl->descending && parallel)
        blk = pl->blocks - 1 - blk;
    it->b = bh / pl->heads;
    it->h = bh % pl->heads;
    it->i0 = blk * pl->block_rows;
    it->i1 = pl->rows - it->i0 < pl->block_rows ? pl->rows : it->i0 + pl->block_rows;
    it->j0 = 0;
    it->j1 = pl->p.seq_k;
}

void fattn_plan_item(const fattn_plan *pl, int64_t t, int parallel,
                     fattn_item *it)
{
    plan_row_item(pl, t / pl->chunks, parallel, it);
    if (pl->chunks > 1) {
        it->j0 = t % pl->chunks * pl->chunk_keys;
        it->j1 = pl->p.seq_k - it->j0 < pl->chunk_keys ? pl->p.seq_k
                                                        : it->j0 + pl->chunk_keys;
    }
}

/* Split-K's partials in the workspace's shared part. */
typedef struct split_ws {
    float *o;   /* [chunk][B][Hq][Sq][Dv] */
    float *lse; /* [chunk][B][Hq][Sq]: log(l) */
    float *max; /* [chunk][B][Hq][Sq]: m */
    _Atomic int32_t *done; /* [row item]: chunks finished */
    int64_t rows;          /* B * Hq * Sq */
} split_ws;

static split_ws split_carve(const fattn_plan *pl, void *ws)
{
    const fattn_problem *p = &pl->p;
    split_ws s;
    s.rows = p->batch * p->heads_q * p->seq_q;
    char *w = ws;
    s.o = (float *)w;
    w += round64(sizeof(float) * (size_t)(pl->chunks * s.rows * p->head_dim_v));
    s.lse = (float *)w;
    w += round64(sizeof(float) * (size_t)(pl->chunks * s.rows));
    s.max = (float *)w;
    w += round64(sizeof(float) * (size_t)(pl->chunks * s.rows));
    s.done = (_Atomic int32_t *)(void *)w;
    return s;
}

/* Query head and position of row r of an item (fattn_item). */
static void item_row(const fattn_plan *pl, const fattn_item *it, int64_t r,
                     int64_t *h, int64_t *i)
{
    if (pl->variant->decode) {
        const int64_t group = pl->p.heads_q / pl->p.heads_kv;
        const int64_t m = group * pl->p.seq_q, g = it->h + r / m;
        *h = g * group + r % m % group;
        *i = r % m / group;
    } else {
        *h = it->h;
        *i = r;
    }
}

/* The item's rows from its chunks' partials, in chunk order. */
static void split_combine(const fattn_plan *pl, const fattn_problem *p,
                          const split_ws *s, const fattn_item *it, double *acc)
{
    const float *o[FATTN_MAX_CHUNKS];
    int64_t elem[FATTN_MAX_CHUNKS];
    double lse[FATTN_MAX_CHUNKS];
    const int64_t dv = p->head_dim_v;
    for (int64_t r = it->i0; r < it->i1; r++) {
        int64_t h, i;
        item_row(pl, it, r, &h, &i);
        const int64_t row = (it->b * p->heads_q + h) * p->seq_q + i;
        for (int64_t k = 0; k < pl->chunks; k++) {
            o[k] = s->o + (k * s->rows + row) * dv;
            elem[k] = 1;
            lse[k] = (double)s->max[k * s->rows + row] +
                     (double)s->lse[k * s->rows + row];
        }
        float *lse_out = p->lse ? p->lse + it->b * p->lse_stride[0] +
                                      h * p->lse_stride[1] + i * p->lse_stride[2]
                                : NULL;
        fattn_combine_row(pl->chunks, o, elem, lse, dv, acc,
                          fattn_o_row(p, it->b, h, i), p->o_dtype,
                          p->o_stride[3], lse_out);
    }
}

/* Work item t of the plan on problem p; the last chunk of a row item to
 * finish combines the row item's partials. */
static void run_item(const fattn_plan *pl, const fattn_problem *p, char *ws,
                     void *task_ws, int64_t t, int parallel)
{
    fattn_item it;
    fattn_plan_item(pl, t, parallel, &it);
    if (pl->chunks == 1) {
        pl->variant->run(p, &it, task_ws);
        return;
    }
    const split_ws s = split_carve(pl, ws);
    const int64_t chunk = t % pl->chunks;
    fattn_problem part = *p;
    part.o = s.o + chunk * s.rows * p->head_dim_v;
    part.o_dtype = FATTN_DTYPE_F32; /* partials stay f32 until combined */
    part.o_stride[0] = p->heads_q * p->seq_q * p->head_dim_v;
    part.o_stride[1] = p->seq_q * p->head_dim_v;
    part.o_stride[2] = p->head_dim_v;
    part.o_stride[3] = 1;
    part.lse = s.lse + chunk * s.rows;
    part.lse_max = s.max + chunk * s.rows;
    part.lse_stride[0] = p->heads_q * p->seq_q;
    part.lse_stride[1] = p->seq_q;
    part.lse_stride[2] = 1;
    pl->variant->run(&part, &it, task_ws);
    /* acq_rel: the last one sees every other chunk's partials. */
    if (atomic_fetch_add_explicit(&s.done[t / pl->chunks], 1,
                                  memory_order_acq_rel) == pl->chunks - 1)
        split_combine(pl, p, &s, &it,
                      (double *)(void *)((char *)task_ws + pl->task_bytes -
                                         round64(sizeof(double) *
                                                 (size_t)p->head_dim_v)));
}

typedef struct run_ctx {
    const fattn_plan *pl;
    const fattn_problem *p;
    char *ws;
    _Atomic int64_t next;
} run_ctx;

static void run_task(void *arg, int32_t task)
{
    run_ctx *rc = arg;
    const fattn_plan *pl = rc->pl;
    void *task_ws = rc->ws + pl->shared_bytes + (size_t)task * pl->task_bytes;
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&rc->next, 1, memory_order_relaxed);
        if (t >= pl->items)
            break;
        run_item(pl, rc->p, rc->ws, task_ws, t, 1);
    }
}

void fattn_plan_execute(const fattn_plan *pl, const fattn_problem *p, void *ws)
{
    if (pl->items == 0)
        return;
    if (pl->chunks > 1) {
        const split_ws s = split_carve(pl, ws);
        for (int64_t t = 0; t < pl->items / pl->chunks; t++)
            atomic_init(&s.done[t], 0);
    }
    /* An executor is always called (fattn.h: once per run), even for one
     * task: the caller may need the work on its own threads. */
    if (pl->tasks == 1 && !pl->executor) {
        for (int64_t t = 0; t < pl->items; t++)
            run_item(pl, p, ws, (char *)ws + pl->shared_bytes, t, 0);
        return;
    }
    run_ctx rc = {pl, p, ws, 0};
    atomic_init(&rc.next, 0);
    if (pl->pool)
        fattn_pool_run(pl->pool, pl->tasks, run_task, &rc);
    else
        pl->executor->parallel_for(pl->executor->opaque, pl->tasks, run_task,
                                   &rc);
}

/* Validation, the schedule and (with use_workspace) the caller's
 * workspace: everything fattn_forward does before it computes. */
fattn_status fattn_plan_prepare(const char *fn, const fattn_tensor *query,
                                const fattn_tensor *key,
                                const fattn_tensor *value,
                                const fattn_tensor *output,
                                const fattn_params *params, int use_workspace,
                                fattn_plan *pl, fattn_error *err)
{
    fattn_problem p;
    fattn_isa isa;
    fattn_checked c;
    fattn_status st = fattn_validate(fn, query, key, value, output, params, &p,
                                     &isa, &c, err);
    if (st != FATTN_OK)
        return st;
    fattn_plan_init(pl, &p, isa, &c);
    if (use_workspace && c.params.workspace) {
        st = fattn_check_workspace(fn, "params.workspace", c.params.workspace,
                                   c.params.workspace_size,
                                   pl->workspace_bytes, isa, &c, err);
        if (st != FATTN_OK)
            return st;
        pl->workspace = c.params.workspace;
        pl->workspace_size = c.params.workspace_size;
    }
    fattn_ok(err);
    return FATTN_OK;
}

/* ------------------------------------------------------------------------ */
/* The public plan API                                                      */
/* ------------------------------------------------------------------------ */

fattn_status fattn_plan_create(const fattn_tensor *query,
                               const fattn_tensor *key,
                               const fattn_tensor *value,
                               const fattn_tensor *output,
                               const fattn_params *params, fattn_plan **plan,
                               fattn_error *err)
{
    static const char fn[] = "fattn_plan_create";
    if (!plan)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "plan is NULL");
    *plan = NULL;
    /* The schedule and the caller's workspace first, so that every error
     * fattn_check reports comes before any allocation. */
    fattn_plan tmp;
    fattn_status st = fattn_plan_prepare(fn, query, key, value, output, params,
                                         1, &tmp, err);
    if (st != FATTN_OK)
        return st;
    const fattn_allocator a = tmp.allocator;
    fattn_plan *pl = a.alloc(sizeof *pl, a.opaque);
    if (!pl)
        return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                          "allocation of %zu bytes for the plan failed",
                          sizeof *pl);
    if ((uintptr_t)pl % 64 != 0) {
        a.free(pl, a.opaque);
        return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                          "params.allocator.alloc returned %p, not 64-byte aligned",
                          (void *)pl);
    }
    memcpy(pl, &tmp, sizeof *pl);
    atomic_init(&pl->own_busy, 0);
    pl->heap = 1;
    if (!pl->workspace && pl->workspace_bytes > 0) {
        void *ws = a.alloc(pl->workspace_bytes, a.opaque);
        if (!ws || (uintptr_t)ws % 64 != 0) {
            if (ws)
                a.free(ws, a.opaque);
            a.free(pl, a.opaque);
            if (ws)
                return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                                  "params.allocator.alloc returned %p, not 64-byte aligned",
                                  ws);
            return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                              "workspace allocation of %zu bytes failed (path %s, %" PRId32 " tasks)",
                              tmp.workspace_bytes, fattn_isa_name(tmp.isa), tmp.tasks);
        }
        /* Touched once here, so that no run page-faults on it. */
        memset(ws, 0, pl->workspace_bytes);
        pl->own = pl->workspace = ws;
        pl->workspace_size = pl->workspace_bytes;
    }
    fattn_ok(err);
    *plan = pl;
    return FATTN_OK;
}

void fattn_plan_destroy(fattn_plan *plan)
{
    if (!plan || !plan->heap)
        return;
    const fattn_allocator a = plan->allocator;
    if (plan->own)
        a.free(plan->own, a.opaque);
    a.free(plan, a.opaque);
}

/* Rebind role r to `ptr` (not NULL): same extent, new base. */
static fattn_status rebind(const char *fn, fattn_checked *c, int r,
                           const void *ptr, const char *name, fattn_error *err)
{
    fattn_extent *sp = &c->span[r];
    uintptr_t base = (uintptr_t)ptr, len = sp->end - sp->begin;
    if (base % c->elem[r] != 0)
        return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                          "bindings.%s = %p is not aligned to its element size (%zu bytes)",
                          name, ptr, c->elem[r]);
    if (len > UINTPTR_MAX - base)
        return fattn_fail(err, FATTN_ERR_SIZE_OVERFLOW, fn,
                          "bindings.%s: %" PRIuPTR " bytes from %p exceed the address space",
                          name, len, ptr);
    sp->begin = base;
    sp->end = base + len;
    return FATTN_OK;
}

/* Apply the bindings to a copy of the plan's problem and spans. */
static fattn_status apply_bindings(const char *fn, const fattn_bindings *bd,
                                   fattn_problem *p, fattn_checked *c,
                                   fattn_error *err)
{
    struct {
        const void *ptr;
        int role;
        const char *name;
        int present; /* the plan has it */
    } b[] = {
        {bd->query, FATTN_R_QUERY, "query", 1},
        {bd->key, FATTN_R_KEY, "key", 1},
        {bd->value, FATTN_R_VALUE, "value", 1},
        {bd->output, FATTN_R_OUTPUT, "output", 1},
        {bd->lse, FATTN_R_LSE, "lse", p->lse != NULL},
        {bd->mask, FATTN_R_MASK, "mask", p->mask != NULL},
        {bd->alibi_slopes, FATTN_R_SLOPES, "alibi_slopes", p->alibi_slopes != NULL},
        {bd->q_lengths, FATTN_R_QLEN, "q_lengths", p->q_lengths != NULL},
        {bd->kv_lengths, FATTN_R_KVLEN, "kv_lengths", p->kv_lengths != NULL},
    };
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        if (!b[i].ptr)
            continue;
        if (!b[i].present)
            return fattn_fail(err, FATTN_ERR_INCOMPATIBLE_OPTIONS, fn,
                              "bindings.%s is set but the plan was created without params.%s: a plan's options are fixed",
                              b[i].name, b[i].name);
        FATTN_TRY(rebind(fn, c, b[i].role, b[i].ptr, b[i].name, err));
    }
    if (bd->query)
        p->q = bd->query;
    if (bd->key)
        p->k = bd->key;
    if (bd->value)
        p->v = bd->value;
    if (bd->output)
        p->o = bd->output;
    if (bd->lse)
        p->lse = bd->lse;
    if (bd->mask)
        p->mask = bd->mask;
    if (bd->alibi_slopes)
        p->alibi_slopes = bd->alibi_slopes;
    if (bd->q_lengths)
        p->q_lengths = bd->q_lengths;
    if (bd->kv_lengths)
        p->kv_lengths = bd->kv_lengths;
    return FATTN_OK;
}

fattn_status fattn_plan_run(const fattn_plan *plan,
                            const fattn_bindings *bindings, fattn_error *err)
{
    static const char fn[] = "fattn_plan_run";
    if (!plan)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "plan is NULL");
    fattn_problem p = plan->p;
    fattn_checked c = plan->c;
    fattn_bindings bd;
    memset(&bd, 0, sizeof bd);
    if (bindings) {
        static const size_t bindings_bytes[FATTN_BINDINGS_VERSION + 1] = {
            sizeof(fattn_bindings), sizeof(fattn_bindings)};
        FATTN_TRY(fattn_read_layout(fn, "bindings", bindings,
                                    FATTN_BINDINGS_VERSION, bindings_bytes, &bd,
                                    sizeof bd, err));
        FATTN_TRY(apply_bindings(fn, &bd, &p, &c, err));
    }
    FATTN_TRY(fattn_check_values(fn, &p, err));
    FATTN_TRY(fattn_check_overlaps(fn, &c, err));

    /* The workspace: the run's own, else the plan's default unless another
     * run holds it, else a temporary one. */
    void *ws = NULL, *temp = NULL;
    fattn_plan *mut = (fattn_plan *)plan; /* own_busy is the one mutable field */
    int holds_default = 0;
    if (bd.workspace) {
        FATTN_TRY(fattn_check_workspace(fn, "bindings.workspace", bd.workspace,
                                  bd.workspace_size, plan->workspace_bytes,
                                  plan->isa, &c, err));
        ws = bd.workspace;
    } else if (plan->workspace_bytes > 0) {
        if (plan->workspace) {
            FATTN_TRY(fattn_check_workspace(fn, "params.workspace", plan->workspace,
                                      plan->workspace_size,
                                      plan->workspace_bytes, plan->isa, &c,
                                      err));
            holds_default = !atomic_exchange_explicit(&mut->own_busy, 1,
                                                      memory_order_acquire);
        }
        if (holds_default) {
            ws = plan->workspace;
        } else {
            const fattn_allocator *a = &plan->allocator;
            temp = a->alloc(plan->workspace_bytes, a->opaque);
            if (!temp)
                return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                                  "workspace allocation of %zu bytes failed (the plan's own workspace is in use by another run)",
                                  plan->workspace_bytes);
            if ((uintptr_t)temp % 64 != 0) {
                a->free(temp, a->opaque);
                return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                                  "params.allocator.alloc returned %p, not 64-byte aligned",
                                  temp);
            }
            ws = temp;
        }
    }
    fattn_plan_execute(plan, &p, ws);
    if (holds_default)
        atomic_store_explicit(&mut->own_busy, 0, memory_order_release);
    if (temp)
        plan->allocator.free(temp, plan->allocator.opaque);
    fattn_ok(err);
    return FATTN_OK;
}

size_t fattn_plan_workspace_size(const fattn_plan *plan)
{
    return plan ? plan->workspace_bytes : 0;
}

fattn_isa fattn_plan_isa(const fattn_plan *plan)
{
    return plan ? plan->isa : FATTN_ISA_AUTO;
}

int64_t fattn_plan_work_items(const fattn_plan *plan)
{
    return plan ? plan->items : 0;
}

int32_t fattn_plan_tasks(const fattn_plan *plan)
{
    return plan ? plan->tasks : 0;
}

const char *fattn_plan_kernel(const fattn_plan *plan)
{
    return plan && plan->variant ? plan->variant->name : "";
}
