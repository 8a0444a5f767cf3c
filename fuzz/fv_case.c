/*
 * fv_case.c - decoding, placing and inspecting a fuzz_validate case.
 */
#define _POSIX_C_SOURCE 200809L

#include "fv_case.h"

#include "fuzz_common.h"
#include "problem.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const buffer_names[FV_BUFFERS] = {
    "query", "key", "value", "output", "mask", "lse",
    "q_lengths", "kv_lengths", "alibi_slopes", "workspace",
};

const char *fv_buffer_name(int buffer)
{
    return buffer >= 0 && buffer < FV_BUFFERS ? buffer_names[buffer] : "?";
}

/* ---- decoding ----------------------------------------------------------- */

/* Strides of `shape` stored with dims order[0] (innermost) .. order[3],
 * `pad` unused elements after each of the three inner dims. */
static void layout(fattn_tensor *t, const int order[4], int64_t pad)
{
    int64_t st = 1;
    for (int k = 0; k < 4; k++) {
        t->stride[order[k]] = st;
        st = st * (t->shape[order[k]] > 0 ? t->shape[order[k]] : 1) + pad;
    }
}

void fv_decode_tensor(fattn_tensor *t, fz_producer *in, int32_t dtype,
                      int64_t b, int64_t h, int64_t s, int64_t d)
{
    static const int orders[4][4] = {
        {3, 2, 1, 0}, /* BHSD */
        {3, 1, 2, 0}, /* BSHD */
        {3, 1, 0, 2}, /* SBHD */
        {2, 3, 1, 0}, /* D outermost inside a head: transposed rows */
    };
    t->dtype = dtype;
    t->shape[0] = b;
    t->shape[1] = h;
    t->shape[2] = s;
    t->shape[3] = d;
    const int order = (int)fz_range(in, 0, 3);
    const int64_t pad = fz_range(in, 0, 2);
    layout(t, orders[order], pad);
    if (order == 0 && pad == 0 && b > 0 && h > 0 && s > 0 && d > 0) {
        /* The public helper must describe the same contiguous BHSD. */
        fattn_tensor ct;
        fattn_tensor_contiguous(&ct, NULL, (fattn_dtype)dtype, b, h, s, d);
        fattn_tensor_contiguous(NULL, NULL, (fattn_dtype)dtype, b, h, s, d);
        if (memcmp(ct.shape, t->shape, sizeof ct.shape) != 0 ||
            memcmp(ct.stride, t->stride, sizeof ct.stride) != 0 ||
            ct.dtype != dtype)
            fz_finding("fuzz_validate",
                       "fattn_tensor_contiguous is not the contiguous BHSD layout");
    }
}

static void decode_packed(fv_packed *pk, fz_producer *in)
{
    static const int64_t dtypes[] = {FATTN_DTYPE_F32, FATTN_DTYPE_BOOL,
                                     FATTN_DTYPE_BF16, -1, 4};
    pk->used = 1;
    pk->null_data = fz_range(in, 0, 7) == 7;
    pk->dtype = (int32_t)fz_pick(in, dtypes, 5);
    pk->batch = fz_bool(in) ? fz_interesting_i64(in) : fz_range(in, 0, 3);
    pk->seq = fz_bool(in) ? fz_interesting_i64(in) : fz_range(in, 0, 9);
    pk->num_heads = fz_bool(in) ? fz_interesting_i64(in) : fz_range(in, 1, 4);
    /* A multiple of the heads, or anything. */
    const int64_t heads = pk->num_heads > 0 && pk->num_heads < 4096 ? pk->num_heads : 1;
    pk->embed_dim = fz_bool(in) ? fz_interesting_i64(in) : heads * fz_range(in, 1, 8);
    const int64_t embed = pk->embed_dim > 0 && pk->embed_dim < ((int64_t)1 << 40)
                              ? pk->embed_dim : 1;
    pk->token_stride = fz_bool(in) ? fz_interesting_i64(in) : fz_range(in, 0, 2) * embed;
}

static void mutate(fv_case *c, fz_producer *in)
{
    fattn_params *p = &c->params;
    const int r = (int)fz_range(in, 0, FV_TENSORS - 1);
    switch (fz_range(in, 0, 17)) {
    /* Reads are sequenced (value, then index) so that gcc and clang decode
     * an input alike. */
    case 0: {
        const int64_t v = fz_interesting_i64(in);
        c->t[r].shape[fz_range(in, 0, 3)] = v;
        break;
    }
    case 1: {
        const int64_t v = fz_interesting_i64(in);
        c->t[r].stride[fz_range(in, 0, 3)] = v;
        break;
    }
    case 2: {
        static const int64_t dtypes[] = {0, 1, 2, 3, -1, 4, INT32_MIN,
                                         INT32_MAX};
        c->t[r].dtype = (int32_t)fz_pick(in, dtypes, 8);
        break;
    }
    case 3:
        c->present[r] = !c->present[r];
        break;
    case 4:
        c->null_data[r] = 1;
        break;
    case 5:
    {
        const unsigned v = (unsigned)fz_range(in, 1, 7);
        c->misalign[fz_range(in, 0, FV_BUFFERS - 1)] = v;
        break;
    }
    case 6: { /* an output pointing into another buffer */
        const int who = fz_bool(in) ? FV_LSE : FV_O;
        int target = (int)fz_range(in, 0, FV_BUFFERS - 1);
        if (target == FV_LSE || target == FV_WS || (who == FV_O && target == FV_O))
            target = FV_Q;
        c->alias[who] = target;
        c->alias_off[who] = (uint32_t)fz_bits(in, 4);
        break;
    }
    case 7:
        p->scale = fz_interesting_float(in);
        break;
    case 8:
        p->softcap = fz_interesting_float(in);
        break;
    case 9:
        p->window_enabled = fz_range(in, 0, 3) == 3 ? (int32_t)fz_i64(in) : 1;
        p->window_left = fz_interesting_i64(in);
        p->window_right = fz_interesting_i64(in);
        break;
    case 10: {
        const int64_t v = fz_bool(in) ? fz_range(in, -1, 4) : fz_interesting_i64(in);
        switch (fz_range(in, 0, 3)) {
        case 0: p->causal = (int32_t)v; break;
        case 1: p->align = (int32_t)v; break;
        case 2: p->isa = (int32_t)v; break;
        default: p->version = (uint32_t)v; break;
        }
        break;
    }
    case 11: { /* a bad per-batch length or ALiBi slope */
        const int arr = (int)fz_range(in, 0, 2);
        if (c->n_over[arr] == FV_OVERRIDES)
            break;
        const int k = c->n_over[arr]++;
        c->has_array[arr] = 1;
        c->over_index[arr][k] = fz_range(in, 0, 7);
        if (arr == 2)
            c->over_slope[k] = fz_interesting_float(in);
        else
            c->over_len[arr][k] = fz_bool(in) ? fz_range(in, -2, 12)
                                              : fz_interesting_i64(in);
        break;
    }
    case 12: /* a mask or LSE dimension off by one */
    {
        int64_t *s = &c->t[r < 3 ? FV_MASK : FV_LSE].shape[fz_range(in, 0, 3)];
        const int64_t delta = fz_range(in, -1, 1);
        if (*s > INT64_MIN + 1 && *s < INT64_MAX - 1)
            *s += delta;
        break;
    }
    case 13:
        c->alloc_mode = (int)fz_range(in, 0, FV_ALLOC_MODES - 1);
        break;
    case 14:
        c->top_base[fz_range(in, 0, FV_BUFFERS - 1)] = 1;
        break;
    case 15:
        c->ws_mode = (int)fz_range(in, 0, 7);
        break;
    case 16: { /* batch, seq_q or seq_k changed in every tensor at once */
        static const int dims[3][6] = {
            /* dimension index per tensor q, k, v, o, mask, lse; -1 none */
            {0, 0, 0, 0, 0, 0}, {2, -1, -1, 2, 2, 2}, {-1, 2, 2, -1, 3, -1}};
        const int which = (int)fz_range(in, 0, 2);
        const int64_t v = fz_bool(in) ? fz_interesting_i64(in)
                                      : (int64_t)1 << fz_range(in, 10, 41);
        for (int t = 0; t < FV_TENSORS; t++)
            if (dims[which][t] >= 0 &&
                (t != FV_MASK || c->t[t].shape[dims[which][t]] != 1))
                c->t[t].shape[dims[which][t]] = v;
        break;
    }
    default:
        decode_packed(&c->packed[r % 4], in);
        break;
    }
}

void fv_decode(fv_case *c, fz_producer *in)
{
    memset(c, 0, sizeof *c);
    for (int r = 0; r < FV_TENSORS; r++)
        c->alias[r] = -1;
    /* A valid small problem first; an exhausted input reads as the
     * smallest one (B = 0, plain attention). */
    const int64_t B = fz_range(in, 0, 3), Hkv = fz_range(in, 1, 3);
    const int64_t Hq = Hkv * fz_range(in, 1, 3);
    const int64_t Sq = fz_range(in, 0, 9), Sk = fz_range(in, 0, 9);
    const int64_t D = fz_range(in, 1, 9);
    const int64_t Dv = fz_bool(in) ? fz_range(in, 1, 9) : D;
    fv_decode_tensor(&c->t[FV_Q], in, FATTN_DTYPE_F32, B, Hq, Sq, D);
    fv_decode_tensor(&c->t[FV_K], in, FATTN_DTYPE_F32, B, Hkv, Sk, D);
    fv_decode_tensor(&c->t[FV_V], in, FATTN_DTYPE_F32, B, Hkv, Sk, Dv);
    fv_decode_tensor(&c->t[FV_O], in, FATTN_DTYPE_F32, B, Hq, Sq, Dv);
    for (int r = FV_Q; r <= FV_O; r++)
        c->present[r] = 1;

    const int mask = (int)fz_range(in, 0, 2); /* none, f32, bool */
    const unsigned size1 = (unsigned)fz_range(in, 0, 15);
    fv_decode_tensor(&c->t[FV_MASK], in,
                  mask == 2 ? FATTN_DTYPE_BOOL : FATTN_DTYPE_F32,
                  size1 & 1 ? 1 : B, size1 & 2 ? 1 : Hq, size1 & 4 ? 1 : Sq,
                  size1 & 8 ? 1 : Sk);
    c->present[FV_MASK] = mask != 0;
    fv_decode_tensor(&c->t[FV_LSE], in, FATTN_DTYPE_F32, B, Hq, Sq, 1);
    c->present[FV_LSE] = fz_bool(in);
    for (int a = 0; a < 3; a++)
        c->has_array[a] = fz_bool(in);

    fattn_params *p = &c->params;
    p->version = (uint32_t)fz_range(in, 0, 1);
    static const float scales[] = {0.0f, 0.25f, 0.125f, 0.5f};
    p->scale = scales[fz_range(in, 0, 3)];
    static const float caps[] = {0.0f, 5.0f, 0.5f, 30.0f};
    p->softcap = caps[fz_range(in, 0, 3)];
    p->causal = (int32_t)fz_range(in, 0, 2);
    p->window_enabled = fz_bool(in);
    p->window_left = fz_range(in, -1, 10);
    p->window_right = fz_range(in, -1, 10);
    p->align = p->causal ? p->causal - 1 : (int32_t)fz_range(in, 0, 1);
    p->isa = (int32_t)fz_range(in, 0, 3);
    c->alloc_mode = (int)fz_range(in, 0, 1);
    c->params_null = fz_range(in, 0, 15) == 15;
    c->err_null = fz_range(in, 0, 15) == 15;
    c->seed = fz_bits(in, 2);

    const int64_t n = fz_range(in, 0, 8);
    for (int64_t k = 0; k < n; k++)
        mutate(c, in);
}

void fv_decode_dtypes(fv_case *c, fz_producer *in)
{
    static const int64_t floats[] = {FATTN_DTYPE_F32, FATTN_DTYPE_BF16,
                                     FATTN_DTYPE_F16};
    if (!fz_bool(in))
        return;
    /* Every float dtype for query, key, value, output and an additive
     * mask, in any combination; a mutated dtype stays as it is. */
    for (int r = FV_Q; r <= FV_MASK; r++) {
        const int32_t d = (int32_t)fz_pick(in, floats, 3);
        if (c->t[r].dtype == FATTN_DTYPE_F32)
            c->t[r].dtype = d;
    }
    /* Rarely a half LSE, which must be refused. */
    if (fz_range(in, 0, 7) == 7 && c->t[FV_LSE].dtype == FATTN_DTYPE_F32)
        c->t[FV_LSE].dtype = fz_bool(in) ? FATTN_DTYPE_F16 : FATTN_DTYPE_BF16;
}

/* ---- placement ---------------------------------------------------------- */

static size_t elem_size(int32_t dtype)
{
    return dtype == FATTN_DTYPE_F32 ? 4 : dtype == FATTN_DTYPE_BOOL ? 1 : 2;
}

int fv_tensor_bytes(const fattn_tensor *t, uint64_t *bytes)
{
    __int128 last = 0;
    *bytes = 0;
    if (t->dtype < FATTN_DTYPE_F32 || t->dtype > FATTN_DTYPE_BOOL)
        return -1;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] < 0 || t->stride[d] < 0)
            return -1;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0)
            return 0;
    for (int d = 0; d < 4; d++)
        last += (__int128)(t->shape[d] - 1) * t->stride[d];
    if (last > INT64_MAX)
        return -1;
    const __int128 b = (last + 1) * (__int128)elem_size(t->dtype);
    if (b > PTRDIFF_MAX)
        return -1;
    *bytes = (uint64_t)b;
    return 0;
}

static void put_f32(unsigned char *p, float x)
{
    memcpy(p, &x, sizeof x);
}

/* Uniform in [-1, 1], exactly a float (tests/reference's splitmix64). */
static float rand_unit(fattn_ref_rng *rng)
{
    return (float)(fattn_ref_rng_next(rng) >> 40) * (2.0f / 16777215.0f) - 1.0f;
}

static void fill_buffer(fv_case *c, int id, fattn_ref_rng *rng)
{
    unsigned char *p = c->buf[id];
    const size_t n = c->buf_size[id];
    if (id == FV_O || id == FV_LSE) {
        const uint32_t sentinel = 0x7fc5e1f1u;
        for (size_t k = 0; k < n; k++)
            p[k] = (unsigned char)(sentinel >> (8 * (k % 4)));
        return;
    }
    if (id == FV_MASK && c->t[FV_MASK].dtype == FATTN_DTYPE_BOOL) {
        for (size_t k = 0; k < n; k++)
            p[k] = fattn_ref_rng_next(rng) % 4 ? (unsigned char)(fattn_ref_rng_next(rng) | 1u) : 0;
        return;
    }
    const int32_t dt = id < FV_TENSORS ? c->t[id].dtype : FATTN_DTYPE_F32;
    if (dt == FATTN_DTYPE_BF16 || dt == FATTN_DTYPE_F16) { /* the same values, rounded */
        for (size_t k = 0; k + 2 <= n; k += 2) {
            const float x = id == FV_MASK && fattn_ref_rng_next(rng) % 5 == 0 ? -INFINITY
                                                                            : rand_unit(rng);
            const uint16_t h = fattn_ref_double_to_half((double)x, dt);
            memcpy(p + k, &h, sizeof h);
        }
        return;
    }
    for (size_t k = 0; k + 4 <= n; k += 4)
        put_f32(p + k, id == FV_MASK && fattn_ref_rng_next(rng) % 5 == 0 ? -INFINITY
                                                               : rand_unit(rng));
}

/* The generated array: valid values, then the decoded overrides. */
static void fill_array(fv_case *c, int a, fattn_ref_rng *rng)
{
    const int64_t n = c->array_count[a];
    unsigned char *p = c->buf[FV_QLEN + a] + c->misalign[FV_QLEN + a];
    for (int64_t k = 0; k < n; k++) {
        if (a == 2) {
            put_f32(p + 4 * k, rand_unit(rng) / 8.0f);
        } else {
            const int64_t full = c->t[a == 0 ? FV_Q : FV_K].shape[2];
            const int64_t v = full > 0 ? (int64_t)(fattn_ref_rng_next(rng) % ((uint64_t)full + 1u)) : 0;
            memcpy(p + 8 * k, &v, sizeof v);
        }
    }
    for (int k = 0; k < c->n_over[a] && n > 0; k++) {
        const int64_t at = c->over_index[a][k] % n;
        if (a == 2)
            put_f32(p + 4 * at, c->over_slope[k]);
        else
            memcpy(p + 8 * at, &c->over_len[a][k], sizeof(int64_t));
    }
}

void *fv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz_validate: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* A fake address for buffer `id` in check-only mode. */
static uintptr_t fake_base(const fv_case *c, int id)
{
    if (c->top_base[id])
        return (UINTPTR_MAX - ((uintptr_t)4096 << id)) & ~(uintptr_t)63;
    return (uintptr_t)(id + 1) << 44;
}

/* Whether buffer id is handed to the library at all. */
static int in_use(const fv_case *c, int id)
{
    if (id >= FV_MASK && c->params_null)
        return 0; /* the library sees only query, key, value, output */
    if (id == FV_WS)
        return c->ws_mode != 0 && !c->params_null;
    if (id >= FV_QLEN)
        return c->has_array[id - FV_QLEN] && !c->fake_array[id - FV_QLEN];
    return id < FV_MASK || c->present[id];
}

/* Allocate, fill and place buffer id (real mode), or give it a fake
 * address (tensors in check-only mode). */
static void own_buffer(fv_case *c, int id, int valid, fattn_ref_rng *rng)
{
    const int is_array = id >= FV_QLEN;
    if (!is_array && !c->real) {
        c->t[id].data = (void *)(fake_base(c, id) + c->misalign[id]);
        return;
    }
    if (!valid)
        c->bytes[id] = 0;
    /* An invalid descriptor gets a token buffer: it must be refused. */
    c->buf_size[id] = c->misalign[id] + c->bytes[id] + (valid ? 0 : 4);
    c->buf[id] = fv_xmalloc(c->buf_size[id]);
    if (is_array)
        fill_array(c, id - FV_QLEN, rng);
    else {
        fill_buffer(c, id, rng);
        c->t[id].data = c->buf[id] + c->misalign[id];
    }
}

static void set_params_pointers(fv_case *c)
{
    for (int r = FV_Q; r <= FV_O; r++)
        c->desc[r] = c->present[r] ? &c->t[r] : NULL;
    fattn_params *p = &c->params;
    p->mask = c->present[FV_MASK] ? &c->t[FV_MASK] : NULL;
    p->lse = c->present[FV_LSE] ? &c->t[FV_LSE] : NULL;
    void *arr[3];
    for (int a = 0; a < 3; a++)
        arr[a] = !c->has_array[a] ? NULL
                 : c->fake_array[a]
                     ? (void *)(fake_base(c, FV_QLEN + a) + c->misalign[FV_QLEN + a])
                     : c->buf[FV_QLEN + a] + c->misalign[FV_QLEN + a];
    p->q_lengths = arr[0];
    p->kv_lengths = arr[1];
    p->alibi_slopes = arr[2];
}

/*
 * params.workspace by ws_mode: 1 exactly fattn_workspace_size() bytes,
 * 2 one byte short, 3 100 bytes more, 4 none (size 0), 5 a size that runs
 * past the address space, 6 a size of 2^40 (overlapping whatever lies
 * after it), 7 inside an input tensor. The buffer holds exactly the
 * bytes the call may honestly use; with top_base in check-only mode, a fake
 * address near the top of the address space.
 */
static void place_workspace(fv_case *c)
{
    fattn_params *p = &c->params;
    size_t need = 0;
    p->workspace = NULL;
    p->workspace_size = 0;
    c->ws_need = fattn_workspace_size(c->desc[FV_Q], c->desc[FV_K], c->desc[FV_V],
                                      c->desc[FV_O], p, &need, NULL) == FATTN_OK
                     ? need : 0;
    if (!in_use(c, FV_WS))
        return;
    need = c->ws_need ? c->ws_need : 64;
    const size_t sizes[8] = {0, need, need - 1, need + 100, 0, need, need, need};
    size_t claim = sizes[c->ws_mode];
    if (c->ws_mode == 5)
        claim = SIZE_MAX - 8;
    if (c->ws_mode == 6)
        claim = (size_t)1 << 40;
    if (c->ws_mode == 7) { /* the first 64-byte aligned address in an input */
        for (int r = FV_Q; r <= FV_V; r++) {
            const uintptr_t begin = (uintptr_t)c->t[r].data;
            const uintptr_t at = (begin + 63u) & ~(uintptr_t)63u;
            if (c->t[r].data && c->real && at < begin + c->bytes[r]) {
                p->workspace = (void *)at;
                p->workspace_size = claim;
                return;
            }
        }
    }
    if (c->top_base[FV_WS] && !c->real) {
        p->workspace = (void *)(fake_base(c, FV_WS) + c->misalign[FV_WS]);
        p->workspace_size = claim;
        return;
    }
    const size_t have = sizes[c->ws_mode];
    c->buf_size[FV_WS] = c->misalign[FV_WS] + have;
    void *mem = NULL;
    /* Exactly buf_size bytes, 64-byte aligned: ASan guards the end. */
    if (posix_memalign(&mem, 64, c->buf_size[FV_WS] ? c->buf_size[FV_WS] : 1) != 0)
        abort();
    c->buf[FV_WS] = mem;
    memset(mem, 0x3c, c->buf_size[FV_WS]);
    p->workspace = c->buf[FV_WS] + c->misalign[FV_WS];
    p->workspace_size = claim;
}

void fv_place(fv_case *c)
{
    if (c->params_null) { /* the library sees only query, key, value, output */
        c->present[FV_MASK] = c->present[FV_LSE] = 0;
        c->has_array[0] = c->has_array[1] = c->has_array[2] = 0;
        c->ws_mode = 0;
    }
    int valid[FV_BUFFERS];
    uint64_t total = 0;
    for (int r = 0; r < FV_TENSORS; r++) {
        uint64_t b;
        valid[r] = fv_tensor_bytes(&c->t[r], &b) == 0;
        c->bytes[r] = valid[r] && b <= FV_CAP ? (size_t)b : 0;
        if (valid[r] && in_use(c, r))
            total += b > FV_CAP ? FV_CAP + 1 : b;
    }
    /* Arrays: q_lengths and kv_lengths have batch entries, slopes heads. An
     * array too large to allocate cannot be given honestly: dropped. */
    const int64_t counts[3] = {c->t[FV_Q].shape[0], c->t[FV_Q].shape[0],
                               c->t[FV_Q].shape[1]};
    const size_t isz[3] = {8, 8, 4};
    for (int a = 0; a < 3; a++) {
        c->array_count[a] = counts[a] > 0 ? counts[a] : 0;
        const __int128 b = (__int128)c->array_count[a] * isz[a];
        valid[FV_QLEN + a] = 1;
        /* With top_base, an array that would run past the address space is
         * a fake address: the check must refuse it before reading it. */
        const uintptr_t fake = fake_base(c, FV_QLEN + a) + c->misalign[FV_QLEN + a];
        c->fake_array[a] = c->has_array[a] && c->top_base[FV_QLEN + a] &&
                           b > (__int128)(UINTPTR_MAX - fake);
        if (b > (__int128)FV_CAP || c->fake_array[a])
            c->has_array[a] = c->fake_array[a];
        if (c->fake_array[a])
            continue;
        c->bytes[FV_QLEN + a] = c->has_array[a] ? (size_t)b : 0;
        total += c->bytes[FV_QLEN + a];
    }
    c->real = total <= FV_CAP;

    fattn_ref_rng rng;
    fattn_ref_rng_seed(&rng, c->seed);
    for (int id = 0; id < FV_WS; id++)
        if (in_use(c, id) && (id >= FV_TENSORS || c->alias[id] < 0))
            own_buffer(c, id, valid[id], &rng);

    /* An output pointing into another buffer starts inside it, so if it is
     * non-empty it overlaps that input and must be refused. */
    for (int r = FV_O; r <= FV_LSE; r++) {
        const int target = c->alias[r];
        if (target < 0 || !in_use(c, r))
            continue;
        unsigned char *base = NULL;
        if (in_use(c, target) && valid[target] && c->bytes[target] > 0)
            base = target < FV_TENSORS ? (unsigned char *)c->t[target].data
                                       : c->buf[target] + c->misalign[target];
        if (!base) {
            c->alias[r] = -1;
            own_buffer(c, r, valid[r], &rng);
            continue;
        }
        /* In integers: a fake address near the top may wrap. */
        c->t[r].data = (void *)((uintptr_t)base + c->alias_off[r] % c->bytes[target]);
    }
    for (int r = 0; r < FV_TENSORS; r++)
        if (c->null_data[r])
            c->t[r].data = NULL;
    set_params_pointers(c);
    place_workspace(c);

    fv_snapshot(c->buf, c->snap, c->buf_size, FV_BUFFERS);
}

void fv_snapshot(unsigned char *const *buf, unsigned char **snap,
                 const size_t *size, int n)
{
    for (int id = 0; id < n; id++)
        if (buf[id]) {
            snap[id] = fv_xmalloc(size[id]);
            memcpy(snap[id], buf[id], size[id]);
        }
}

void fv_free_buffers(unsigned char **buf, unsigned char **snap, int n)
{
    for (int id = 0; id < n; id++) {
        free(buf[id]);
        free(snap[id]);
        buf[id] = snap[id] = NULL;
    }
}

void fv_free(fv_case *c)
{
    fv_free_buffers(c->buf, c->snap, FV_BUFFERS);
}

/* ---- inspection --------------------------------------------------------- */

int fv_small(const fv_case *c)
{
    /* In double: stride-0 inputs can have huge valid shapes. */
    const fattn_tensor *q = &c->t[FV_Q], *k = &c->t[FV_K], *v = &c->t[FV_V];
    const double heads = (double)q->shape[0] * (double)q->shape[1];
    const double work = heads * (double)(q->shape[2] + 1) *
                        ((double)k->shape[2] + 1) *
                        ((double)q->shape[3] + (double)v->shape[3]);
    return heads <= 4096 && work <= (double)(1 << 21);
}

int fv_tame(const fv_case *c)
{
    /* The reference keeps a row of Sk scores: an empty problem may still
     * describe 2^40 keys. */
    if (c->t[FV_K].shape[2] > (1 << 16))
        return 0;
    if (c->params_null)
        return 1;
    const fattn_params *p = &c->params;
    const double d = (double)c->t[FV_Q].shape[3];
    const double scale = p->scale != 0.0f ? (double)p->scale : 1.0 / sqrt(d);
    if (scale * sqrt(d) > 2.0)
        return 0;
    if (p->softcap != 0.0f && (p->softcap < 1e-3f || p->softcap > 1e6f))
        return 0;
    if (p->alibi_slopes) {
        const int64_t sq = c->t[FV_Q].shape[2], sk = c->t[FV_K].shape[2];
        const double dist = (double)(sq > sk ? sq : sk);
        for (int64_t h = 0; h < c->t[FV_Q].shape[1]; h++)
            if (fabs((double)p->alibi_slopes[h]) * dist > 16.0)
                return 0;
    }
    return 1;
}

static int changed(const fv_case *c, int id)
{ return c->buf[id] && memcmp(c->buf[id], c->snap[id], c->buf_size[id]) != 0; }

int fv_inputs_changed(const fv_case *c)
{
    for (int id = 0; id < FV_BUFFERS; id++)
        if (id != FV_O && id != FV_LSE && id != FV_WS && changed(c, id))
            return id;
    return -1;
}

int fv_changed_buffer(const fv_case *c)
{
    for (int id = 0; id < FV_BUFFERS; id++)
        if (changed(c, id))
            return id;
    return -1;
}

/* Mark every element of t in `seen` (one byte per byte of its buffer);
 * NULL if fine, else what is wrong. */
static const char *walk_elements(const fattn_tensor *t, size_t es,
                                 unsigned char *seen)
{
    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++) {
                    const int64_t off = n * t->stride[0] + h * t->stride[1] +
                                        s * t->stride[2] + d * t->stride[3];
                    unsigned char *m = seen + (size_t)off * es;
                    if (*m)
                        return "two elements of an output share an address";
                    memset(m, 1, es);
                }
    return NULL;
}

const char *fv_layout_problem(const fattn_tensor *t, const unsigned char *buf,
                              const unsigned char *snap, size_t size)
{
    unsigned char *seen = calloc(size ? size : 1, 1);
    if (!seen)
        abort();
    const size_t es = t->dtype == FATTN_DTYPE_F32 ? 4 : 2; /* succeeded: a float */
    const char *why = walk_elements(t, es, seen + ((const unsigned char *)t->data - buf));
    for (size_t b = 0; !why && b < size; b++)
        if (!seen[b] && buf[b] != snap[b])
            why = "a byte outside the output's elements (a layout gap) was written";
    free(seen);
    return why;
}

const char *fv_output_layout_problem(const fv_case *c)
{
    static const int outs[2] = {FV_O, FV_LSE};
    for (int k = 0; k < 2; k++) {
        const int r = outs[k];
        if ((r == FV_LSE && (c->params_null || !c->present[FV_LSE])) || !c->buf[r])
            continue;
        const char *why = fv_layout_problem(&c->t[r], c->buf[r], c->snap[r], c->buf_size[r]);
        if (why)
            return why;
    }
    return NULL;
}

static void describe_tensor(const fv_case *c, int r, FILE *out)
{
    const fattn_tensor *t = &c->t[r];
    fprintf(out, "  %-6s %s data=%p dtype=%" PRId32 " shape=[%" PRId64 ", %" PRId64
            ", %" PRId64 ", %" PRId64 "] stride=[%" PRId64 ", %" PRId64 ", %" PRId64
            ", %" PRId64 "] buffer=%zu bytes misalign=%u alias=%s\n",
            buffer_names[r], c->present[r] ? "present" : "ABSENT", t->data,
            t->dtype, t->shape[0], t->shape[1], t->shape[2], t->shape[3],
            t->stride[0], t->stride[1], t->stride[2], t->stride[3],
            c->buf_size[r], c->misalign[r],
            c->alias[r] >= 0 ? buffer_names[c->alias[r]] : "-");
}

void fv_describe(const fv_case *c, FILE *out)
{
    const fattn_params *p = &c->params;
    fprintf(out, "case (%s, params %s, error record %s, seed %" PRIu64 "):\n",
            c->real ? "exact-size buffers" : "check only, fake addresses",
            c->params_null ? "NULL" : "given", c->err_null ? "NULL" : "given",
            c->seed);
    for (int r = 0; r < FV_TENSORS; r++)
        describe_tensor(c, r, out);
    fprintf(out, "  params: version=%" PRIu32 " scale=%a softcap=%a causal=%" PRId32
            " window_enabled=%" PRId32 " window=[%" PRId64 ", %" PRId64 "] align=%" PRId32
            " isa=%" PRId32 " allocator mode=%d\n",
            p->version, (double)p->scale, (double)p->softcap, p->causal,
            p->window_enabled, p->window_left, p->window_right, p->align, p->isa,
            c->alloc_mode);
    fprintf(out, "  workspace: mode %d, %p, size %zu (fattn_workspace_size %zu, buffer %zu bytes)\n",
            c->ws_mode, p->workspace, p->workspace_size, c->ws_need,
            c->buf_size[FV_WS]);
    for (int a = 0; a < 3; a++) {
        const int id = FV_QLEN + a;
        fprintf(out, "  %s:", buffer_names[id]);
        if (!c->has_array[a] || c->fake_array[a]) {
            fprintf(out, c->has_array[a] ? " %" PRId64 " entries at a fake address\n"
                                         : " none\n", c->array_count[a]);
            continue;
        }
        const unsigned char *base = c->buf[id] + c->misalign[id];
        for (int64_t k = 0; k < c->array_count[a] && k < 16; k++) {
            if (a == 2) {
                float x;
                memcpy(&x, base + 4 * k, 4);
                fprintf(out, " %a", (double)x);
            } else {
                int64_t x;
                memcpy(&x, base + 8 * k, 8);
                fprintf(out, " %" PRId64, x);
            }
        }
        fprintf(out, "%s (misalign %u)\n", c->array_count[a] > 16 ? " ..." : "",
                c->misalign[id]);
    }
}
