/*
 * decode_loop.c - one attention layer of an autoregressive decoder, driven
 * the way an inference engine drives fattn: prompts are prefilled into a
 * preallocated half-precision KV cache, then every decode step appends one
 * token's key and value per sequence and attends one query per head
 * (Sq = 1) to everything cached so far. GQA: 32 query heads share 8
 * key/value heads of head_dim 128. Queries and outputs are f32 (they come
 * from and go to f32 activations); the cache is f16 or bf16, which halves
 * the bytes each step reads, and fattn widens it as it reads it.
 *
 *   decode_loop [--dtype f16|bf16] [--layout bshd|bhsd] [--batch B]
 *               [--capacity C] [--prefill P] [--steps N] [--threads T]
 *
 * Prints the attention's steps/s, then checks the last step; exits 1 on a
 * library error or a mismatch.
 */
#define _POSIX_C_SOURCE 200809L

#include <fattn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HQ = 32, HKV = 8, D = 128 };

/* xorshift64*: uniform in [-1, 1) with 24 random bits, exact in f32. */
static float rnd(void)
{
    static uint64_t s = 0x9e3779b97f4a7c15u;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (float)((s * 0x2545f4914f6cdd1du) >> 40) * 0x1p-23f - 1.0f;
}

/* The K/V projections are f32; the cache holds them rounded to nearest
 * even, as a framework's cast does. */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a quiet NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static uint16_t to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    if (u >= 0x47800000u) /* >= 65536, inf or NaN */
        return (uint16_t)(sign | (u > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (u < 0x38800000u) { /* below 2^-14: a subnormal f16 or 0 */
        /* + 0.5f puts f16's subnormal step (2^-24) in the float's last bit:
         * the FPU's own rounding (to nearest even) does the work. */
        float a;
        memcpy(&a, &u, sizeof a);
        a += 0.5f;
        memcpy(&u, &a, sizeof u);
        return (uint16_t)(sign | (u - 0x3f000000u));
    }
    /* Rebias the exponent (127 -> 15), round off 13 bits; a carry out of
     * the mantissa gives the right result, 65520 -> inf included. */
    u += 0xc8000fffu + ((u >> 13) & 1u);
    return (uint16_t)(sign | (u >> 13));
}

/* The cache: one buffer per K and V for `cap` tokens, allocated once. */
static struct {
    uint16_t *k, *v;
    int64_t sb, sh, ss; /* element strides of a sequence, a head, a token */
    uint16_t (*cvt)(float);
} cache;

/* Token t of sequence b: the K/V projections' output, into the cache. */
static void append(int64_t b, int64_t t)
{
    for (int64_t g = 0; g < HKV; g++)
        for (int64_t d = 0; d < D; d++) {
            const int64_t at = b * cache.sb + g * cache.sh + t * cache.ss + d;
            cache.k[at] = cache.cvt(rnd());
            cache.v[at] = cache.cvt(rnd());
        }
}

static void check(fattn_status st, const fattn_error *err)
{
    if (st != FATTN_OK) {
        fprintf(stderr, "decode_loop: %s\n", err->message);
        exit(1);
    }
}

static void *xalloc(int64_t count, size_t size)
{
    void *p = malloc((size_t)count * size);
    if (!p) {
        fprintf(stderr, "decode_loop: out of memory\n");
        exit(1);
    }
    return p;
}

static long arg(const char *name, const char *s, long lo, long hi)
{
    char *end;
    const long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "decode_loop: %s takes an integer in [%ld, %ld]\n",
                name, lo, hi);
        exit(2);
    }
    return v;
}

/* 0 if s is w0, 1 if it is w1. */
static int word(const char *name, const char *s, const char *w0,
                const char *w1)
{
    if (strcmp(s, w0) && strcmp(s, w1)) {
        fprintf(stderr, "decode_loop: %s takes %s or %s\n", name, w0, w1);
        exit(2);
    }
    return !strcmp(s, w1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long batch = 2, cap = 4096, prefill = 512, steps = 128, threads = 0;
    int bf16 = 0, bhsd = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--dtype"))
            bf16 = word(a, v, "f16", "bf16");
        else if (!strcmp(a, "--layout"))
            bhsd = word(a, v, "bshd", "bhsd");
        else if (!strcmp(a, "--batch"))
            batch = arg(a, v, 1, 64);
        else if (!strcmp(a, "--capacity"))
            cap = arg(a, v, 2, 1 << 20);
        else if (!strcmp(a, "--prefill"))
            prefill = arg(a, v, 1, 1 << 20);
        else if (!strcmp(a, "--steps"))
            steps = arg(a, v, 1, 1 << 20);
        else if (!strcmp(a, "--threads")) /* 0 = fattn_usable_cpus() */
            threads = arg(a, v, 0, FATTN_MAX_THREADS);
        else {
            fprintf(stderr, "usage: decode_loop [--dtype f16|bf16] [--layout "
                            "bshd|bhsd] [--batch B] [--capacity C]\n"
                            "  [--prefill P] [--steps N] [--threads T]\n");
            return 2;
        }
    }
    if (prefill + steps > cap) {
        fprintf(stderr, "decode_loop: prefill + steps = %ld > capacity %ld\n",
                prefill + steps, cap);
        return 2;
    }
    fattn_error err;
    fattn_pool *pool; /* one per process; its threads sleep between steps */
    check(fattn_pool_create((int32_t)threads, &pool, &err), &err);

    /* The tensors describe the full capacity with the buffer's strides;
     * which rows hold tokens is said by kv_lengths, per sequence, since
     * batched requests have different lengths. */
    const int64_t n = batch * HKV * cap * D, nq = batch * HQ * D;
    cache.k = xalloc(n, sizeof *cache.k);
    cache.v = xalloc(n, sizeof *cache.v);
    cache.sb = HKV * cap * D;
    cache.sh = bhsd ? cap * D : D;
    cache.ss = bhsd ? D : HKV * D;
    cache.cvt = bf16 ? to_bf16 : to_f16;
    const int32_t kv_dtype = bf16 ? FATTN_DTYPE_BF16 : FATTN_DTYPE_F16;
    const fattn_tensor k = {cache.k, kv_dtype, {batch, HKV, cap, D},
                            {cache.sb, cache.sh, cache.ss, 1}};
    fattn_tensor v = k;
    v.data = cache.v;
    int64_t *kv_len = xalloc(batch, sizeof *kv_len);
    int64_t *prompt = xalloc(batch, sizeof *prompt);

    /* Prefill: each prompt token attends causally to the prompt, aligned
     * bottom-right (the last query sees the last key). That shape occurs
     * once, so a plain fattn_forward; q_lengths pads the shorter prompts. */
    float *pq = xalloc(nq * prefill, sizeof(float));
    float *po = xalloc(nq * prefill, sizeof(float));
    for (int64_t i = 0; i < nq * prefill; i++)
        pq[i] = rnd();
    for (long b = 0; b < batch; b++) {
        prompt[b] = kv_len[b] = prefill - b * prefill / (2 * batch);
        for (int64_t t = 0; t < prompt[b]; t++)
            append(b, t);
    }
    fattn_tensor q, o;
    fattn_tensor_contiguous(&q, pq, FATTN_DTYPE_F32, batch, HQ, prefill, D);
    fattn_tensor_contiguous(&o, po, FATTN_DTYPE_F32, batch, HQ, prefill, D);
    fattn_params params = {0};
    params.version = FATTN_PARAMS_VERSION; /* layout 2: the pool field */
    params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    params.q_lengths = prompt;
    params.kv_lengths = kv_len;
    params.pool = pool;
    check(fattn_forward(&q, &k, &v, &o, &params, &err), &err);

    /* Decode: Sk grows every step but a plan fixes shapes. So one plan for
     * the capacity, run every step: its kernels stop at kv_lengths[b], whose
     * contents each run re-reads (and re-checks); validation, the schedule
     * and the workspace are paid once, not per token. The price: the
     * schedule (split-K's key chunks) is cut for `cap` keys, so the chunks
     * past the valid length idle; an engine that cares about short contexts
     * keeps a few such plans, one per capacity bucket. */
    float *dq[2] = {xalloc(nq, sizeof(float)), xalloc(nq, sizeof(float))};
    float *dout[2] = {xalloc(nq, sizeof(float)), xalloc(nq, sizeof(float))};
    fattn_tensor_contiguous(&q, dq[0], FATTN_DTYPE_F32, batch, HQ, 1, D);
    fattn_tensor_contiguous(&o, dout[0], FATTN_DTYPE_F32, batch, HQ, 1, D);
    params.q_lengths = NULL;
    fattn_plan *plan;
    check(fattn_plan_create(&q, &k, &v, &o, &params, &plan, &err), &err);
    double seconds = 0;
    for (long step = 0; step < steps; step++) {
        for (long b = 0; b < batch; b++)
            append(b, kv_len[b]++);
        /* Engines ping-pong activation buffers: bind this step's query and
         * output to the plan rather than make a new one. */
        for (int64_t i = 0; i < nq; i++)
            dq[step & 1][i] = rnd();
        fattn_bindings bind = {0};
        bind.query = dq[step & 1];
        bind.output = dout[step & 1];
        const double t0 = now();
        check(fattn_plan_run(plan, &bind, &err), &err);
        seconds += now() - t0;
    }
    printf("decode_loop: %s %s cache, batch %ld, Hq %d, Hkv %d, D %d, "
           "capacity %ld, prefill %ld, %ld steps, %d threads, %s\n",
           bf16 ? "bf16" : "f16", bhsd ? "BHSD" : "BSHD", batch, HQ, HKV, D,
           cap, prefill, steps, (int)fattn_pool_threads(pool),
           fattn_plan_kernel(plan));
    printf("decode_loop: %.1f steps/s, %.3f ms/step (attention only)\n",
           (double)steps / seconds, 1e3 * seconds / (double)steps);

    /* Check 1 (fattn.h, "Determinism"): a fresh fattn_forward with the same
     * description, on the calling thread, gives the same bits. */
    const float *last = dout[(steps - 1) & 1];
    float *ref = xalloc(nq, sizeof(float));
    q.data = dq[(steps - 1) & 1];
    o.data = ref;
    params.pool = NULL;
    check(fattn_forward(&q, &k, &v, &o, &params, &err), &err);
    const int same = !memcmp(ref, last, sizeof(float) * (size_t)nq);
    printf("decode_loop: last step vs one call on the same tensors: %s\n",
           same ? "bitwise equal" : "DIFFERENT");

    /* Check 2: each sequence alone at its exact length (Sk = kv_len[b], no
     * lengths). Same inputs, f32 arithmetic, another schedule: split-K cuts
     * Sk elsewhere, so sums run in another order and rescale at other
     * maxima. Reordering a sum of L terms moves it by at most about
     * L * 2^-24 of their magnitudes, once in the numerator and once in the
     * denominator of each output (a convex combination of V rows), plus a
     * few ulps per exp: hence (2 L + 64) * 2^-24 * max|V|, with max|V| <= 1.
     * That bound is loose; the paths reach about 1 ulp, so the warning
     * catches an accuracy regression (or a key missed at long lengths: one
     * moves an output by about max|V| / L) that the bound lets through. */
    double max_err = 0, tol = 0;
    const double warn = 16 * 0x1p-24;
    params.kv_lengths = NULL;
    for (long b = 0; b < batch; b++) {
        fattn_tensor kb = k, vb = v, qb = q, ob = o;
        kb.data = cache.k + b * cache.sb;
        vb.data = cache.v + b * cache.sb;
        kb.shape[0] = vb.shape[0] = qb.shape[0] = ob.shape[0] = 1;
        kb.shape[2] = vb.shape[2] = kv_len[b];
        qb.data = (float *)q.data + b * HQ * D;
        ob.data = ref + b * HQ * D;
        check(fattn_forward(&qb, &kb, &vb, &ob, &params, &err), &err);
        tol = fmax(tol, (double)(2 * kv_len[b] + 64) * 0x1p-24);
    }
    for (int64_t i = 0; i < nq; i++)
        max_err = fmax(max_err, fabs((double)ref[i] - (double)last[i]));
    printf("decode_loop: last step vs one call per sequence at its exact "
           "length: max abs error %.3g (warning above %.3g, failure above "
           "%.3g): %s\n", max_err, warn, tol, max_err > tol ? "FAILED"
           : max_err > warn ? "WARNING: far above rounding" : "ok");

    fattn_plan_destroy(plan);
    fattn_pool_destroy(pool);
    free(dq[0]), free(dq[1]), free(dout[0]), free(dout[1]), free(ref);
    free(pq), free(po);
    free(prompt), free(kv_len), free(cache.v), free(cache.k);
    return same && max_err <= tol ? 0 : 1;
}
