/*
 * fv_oracle.c - the rules of fattn.h, read independently of src/validate.c.
 *
 * fv_oracle() returns the set of status codes of every rule a case breaks,
 * not the first one in validate.c's order: the harness then asserts that
 * fattn_check returns OK exactly when the set is empty and otherwise one of
 * its codes. Sizes are computed exactly in 128-bit arithmetic, so no
 * shortcut in the library's checked arithmetic goes unnoticed.
 */
#include "fv_case.h"
#include "fv_merge.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define BIT(code) (1u << (code))

static size_t elem_size(int32_t dtype)
{
    return dtype == FATTN_DTYPE_F32 ? 4 : dtype == FATTN_DTYPE_BOOL ? 1 : 2;
}

/* Bytes [begin, end) a tensor or array addresses; empty when begin == end. */
typedef struct span {
    unsigned __int128 begin, end;
} span;

static int intersect(const span *a, const span *b)
{
    return a->begin < a->end && b->begin < b->end && a->begin < b->end &&
           b->begin < a->end;
}

/* One tensor alone (role r; fattn_merge's with merge); *sp gets its bytes
 * when they are known. */
static uint32_t tensor_rules(const fattn_tensor *t, int r, int merge, span *sp)
{
    uint32_t v = 0;
    const uintptr_t base = (uintptr_t)t->data;
    sp->begin = sp->end = base;
    if (!t->data)
        v |= BIT(FATTN_ERR_NULL_POINTER);
    if (t->dtype < FATTN_DTYPE_F32 || t->dtype > FATTN_DTYPE_BOOL)
        return v | BIT(FATTN_ERR_INVALID_ENUM); /* no element size */
    /* fattn_forward takes every float dtype but for the LSE; fattn_merge
     * f32 only. */
    if ((t->dtype == FATTN_DTYPE_BF16 || t->dtype == FATTN_DTYPE_F16) &&
        (merge || r == FV_LSE))
        v |= BIT(merge ? FATTN_ERR_UNSUPPORTED_DTYPE : FATTN_ERR_DTYPE_MISMATCH);
    if (t->dtype == FATTN_DTYPE_BOOL && r != FV_MASK)
        v |= BIT(FATTN_ERR_DTYPE_MISMATCH);
    int bad = 0;
    for (int d = 0; d < 4; d++) {
        const int positive = r <= FV_O && (d == 1 || d == 3);
        if (t->shape[d] < positive || t->shape[d] > FATTN_MAX_DIM ||
            (r <= FV_O && d == 3 && t->shape[d] > FATTN_MAX_HEAD_DIM))
            v |= BIT(FATTN_ERR_INVALID_DIMENSION), bad = 1;
        if (t->stride[d] < 0)
            v |= BIT(FATTN_ERR_INVALID_STRIDE), bad = 1;
    }
    const size_t es = elem_size(t->dtype);
    if (base % es != 0)
        v |= BIT(FATTN_ERR_MISALIGNED);
    if (bad)
        return v;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0)
            return v; /* empty: addresses nothing */
    __int128 last = 0;
    for (int d = 0; d < 4; d++)
        last += (__int128)(t->shape[d] - 1) * t->stride[d];
    const unsigned __int128 bytes = (unsigned __int128)(last + 1) * es;
    if (last > INT64_MAX || bytes > PTRDIFF_MAX ||
        bytes > (unsigned __int128)(UINTPTR_MAX - base))
        return v | BIT(FATTN_ERR_SIZE_OVERFLOW);
    sp->end = base + bytes;
    return v;
}

/* Two dims that must agree. */
static uint32_t same(int64_t a, int64_t b)
{
    return a == b ? 0 : BIT(FATTN_ERR_SHAPE_MISMATCH);
}

/*
 * validate.c's documented sufficient test for "no two output elements at one
 * address": with the dimensions of size > 1 sorted by stride, each stride
 * exceeds the extent of the smaller ones. The harness checks the real
 * property (fv_output_layout_problem) on every accepted small output.
 */
static uint32_t self_overlap(const fattn_tensor *t)
{
    int idx[4], n = 0;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] == 0)
            return 0;
    for (int d = 0; d < 4; d++)
        if (t->shape[d] > 1)
            idx[n++] = d;
    for (int a = 0; a < n; a++) /* selection sort by stride */
        for (int b = a + 1; b < n; b++)
            if (t->stride[idx[b]] < t->stride[idx[a]]) {
                int tmp = idx[a];
                idx[a] = idx[b];
                idx[b] = tmp;
            }
    __int128 covered = 0;
    for (int a = 0; a < n; a++) {
        if (t->stride[idx[a]] <= covered)
            return BIT(FATTN_ERR_OVERLAP);
        covered += (__int128)(t->shape[idx[a]] - 1) * t->stride[idx[a]];
    }
    return 0;
}

static int bad_scalar(float x)
{
    return !(isfinite(x) && x >= 0.0f);
}

static uint32_t array_rules(const void *ptr, int64_t count, size_t size,
                            span *sp)
{
    const uintptr_t base = (uintptr_t)ptr;
    uint32_t v = base % size ? BIT(FATTN_ERR_MISALIGNED) : 0;
    const unsigned __int128 bytes = (unsigned __int128)count * size;
    sp->begin = sp->end = base;
    if (bytes > PTRDIFF_MAX || bytes > (unsigned __int128)(UINTPTR_MAX - base))
        return v | BIT(FATTN_ERR_SIZE_OVERFLOW);
    sp->end = base + bytes;
    return v;
}

static uint32_t params_rules(const fv_case *c, const fattn_params *p,
                             span *in, int *nin)
{
    uint32_t v = 0;
    const fattn_tensor *q = &c->t[FV_Q], *k = &c->t[FV_K];
    if (p->version > FATTN_PARAMS_VERSION)
        v |= BIT(FATTN_ERR_UNSUPPORTED_VERSION);
    if (p->causal < 0 || p->causal > 2 || p->align < 0 || p->align > 1 ||
        (p->window_enabled != 0 && p->window_enabled != 1) || p->isa < 0 ||
        p->isa >= FATTN_ISA_COUNT)
        v |= BIT(FATTN_ERR_INVALID_ENUM);
    if (bad_scalar(p->scale) || bad_scalar(p->softcap) ||
        (p->softcap > 0.0f && p->softcap < FLT_MIN))
        v |= BIT(FATTN_ERR_INVALID_VALUE);
    if (p->window_enabled &&
        (p->window_left < FATTN_WINDOW_UNLIMITED ||
         p->window_right < FATTN_WINDOW_UNLIMITED))
        v |= BIT(FATTN_ERR_INVALID_VALUE);
    /* align left at 0 follows the causal alignment; only bottom-right
     * against top-left causal contradicts it. */
    if (p->causal == FATTN_CAUSAL_TOP_LEFT && (p->window_enabled || p->alibi_slopes) &&
        p->align == FATTN_ALIGN_BOTTOM_RIGHT)
        v |= BIT(FATTN_ERR_INCOMPATIBLE_OPTIONS);
    if (p->alibi_slopes) {
        v |= array_rules(p->alibi_slopes, c->array_count[2], 4, &in[(*nin)++]);
        for (int64_t h = 0; !c->fake_array[2] && h < c->array_count[2]; h++) {
            float x;
            memcpy(&x, (const char *)p->alibi_slopes + 4 * h, sizeof x);
            if (!isfinite(x))
                v |= BIT(FATTN_ERR_INVALID_VALUE);
        }
    }
    const int64_t *lens[2] = {p->q_lengths, p->kv_lengths};
    const int64_t full[2] = {q->shape[2], k->shape[2]};
    for (int a = 0; a < 2; a++) {
        if (!lens[a])
            continue;
        v |= array_rules(lens[a], c->array_count[a], 8, &in[(*nin)++]);
        for (int64_t b = 0; !c->fake_array[a] && b < c->array_count[a]; b++) {
            int64_t x;
            memcpy(&x, (const char *)lens[a] + 8 * b, sizeof x);
            if (x < 0 || x > full[a])
                v |= BIT(FATTN_ERR_INVALID_VALUE);
        }
    }
    if (!p->allocator.alloc != !p->allocator.free)
        v |= BIT(FATTN_ERR_NULL_POINTER);
    if (p->isa == FATTN_ISA_AUTO ? fattn_isa_auto(NULL) == FATTN_ISA_AUTO
                                 : p->isa > FATTN_ISA_AUTO && p->isa < FATTN_ISA_COUNT &&
                                       !fattn_isa_available(p->isa))
        v |= BIT(FATTN_ERR_ISA_UNAVAILABLE);
    return v;
}

/* params.workspace against every tensor and array of the call. */
static uint32_t workspace_rules(const fv_case *c, const fattn_params *p,
                                const span *in, int nin, const span *out,
                                const span *lse)
{
    if (!p->workspace)
        return 0;
    const uintptr_t base = (uintptr_t)p->workspace;
    uint32_t v = base % 64 ? BIT(FATTN_ERR_MISALIGNED) : 0;
    if (p->workspace_size < c->ws_need)
        v |= BIT(FATTN_ERR_INVALID_VALUE);
    if (p->workspace_size > UINTPTR_MAX - base)
        return v | BIT(FATTN_ERR_SIZE_OVERFLOW);
    const span ws = {base, (unsigned __int128)base + p->workspace_size};
    for (int k = 0; k < nin; k++)
        if (intersect(&ws, &in[k]))
            v |= BIT(FATTN_ERR_OVERLAP);
    if (intersect(&ws, out) || intersect(&ws, lse))
        v |= BIT(FATTN_ERR_OVERLAP);
    return v;
}

uint32_t fv_oracle(const fv_case *c, uint32_t *others)
{
    static const fattn_params defaults;
    const fattn_params *p = c->params_null ? &defaults : &c->params;
    const fattn_tensor *q = &c->t[FV_Q], *k = &c->t[FV_K], *v = &c->t[FV_V],
                       *o = &c->t[FV_O], *m = &c->t[FV_MASK], *l = &c->t[FV_LSE];
    uint32_t bad = 0;
    span in[8], out = {0, 0}, lse = {0, 0};
    int nin = 0;

    for (int r = FV_Q; r <= FV_O; r++)
        if (!c->desc[r])
            bad |= BIT(FATTN_ERR_NULL_POINTER);
    *others = bad;
    if (bad)
        return bad; /* nothing else can be judged without the descriptors */

    for (int r = FV_Q; r <= FV_V; r++)
        bad |= tensor_rules(&c->t[r], r, 0, &in[nin++]);
    bad |= tensor_rules(o, FV_O, 0, &out);
    bad |= same(k->shape[0], q->shape[0]) | same(v->shape[0], q->shape[0]) |
           same(k->shape[3], q->shape[3]) | same(v->shape[1], k->shape[1]) |
           same(v->shape[2], k->shape[2]) | same(o->shape[0], q->shape[0]) |
           same(o->shape[1], q->shape[1]) | same(o->shape[2], q->shape[2]) |
           same(o->shape[3], v->shape[3]);
    if (q->shape[1] >= 1 && k->shape[1] >= 1 && q->shape[1] % k->shape[1] != 0)
        bad |= BIT(FATTN_ERR_NOT_DIVISIBLE);
    if (p->mask) {
        const int64_t want[4] = {q->shape[0], q->shape[1], q->shape[2],
                                 k->shape[2]};
        bad |= tensor_rules(m, FV_MASK, 0, &in[nin++]);
        for (int d = 0; d < 4; d++)
            if (m->shape[d] != want[d] && m->shape[d] != 1)
                bad |= BIT(FATTN_ERR_SHAPE_MISMATCH);
    }
    if (p->lse) {
        bad |= tensor_rules(l, FV_LSE, 0, &lse);
        bad |= same(l->shape[0], q->shape[0]) | same(l->shape[1], q->shape[1]) |
               same(l->shape[2], q->shape[2]) | same(l->shape[3], 1);
    }
    bad |= params_rules(c, p, in, &nin);

    bad |= self_overlap(o);
    if (p->lse)
        bad |= self_overlap(l);
    for (int k2 = 0; k2 < nin; k2++)
        if (intersect(&out, &in[k2]) || intersect(&lse, &in[k2]))
            bad |= BIT(FATTN_ERR_OVERLAP);
    if (intersect(&out, &lse))
        bad |= BIT(FATTN_ERR_OVERLAP);
    *others = bad;
    return bad | workspace_rules(c, p, in, nin, &out, &lse);
}

/*
 * fattn_merge (fattn.h, "Merging partial results"): the arrays and parts
 * first, nothing else judged without them; then every tensor with the
 * rules of fattn_forward's output (outputs[k], output) and lse (lses[k],
 * lse), one shape for all, [B, H, S, 1] for the LSEs; output and lse
 * without two elements at one address, apart from every part and from each
 * other. The parts may share memory.
 */
uint32_t fv_merge_oracle(const fv_merge *m)
{
    uint32_t bad = 0;
    for (int a = 0; a < FVM_NULLS; a++)
        if (m->null_array[a])
            bad |= BIT(FATTN_ERR_NULL_POINTER);
    if (m->parts < 1 || m->parts > FATTN_MAX_MERGE_PARTS)
        bad |= BIT(FATTN_ERR_INVALID_VALUE);
    if (bad)
        return bad;
    const fattn_tensor *o = &m->t[FVM_O], *l = &m->t[FVM_L];
    span out = {0, 0}, lse = {0, 0}, in[2];
    bad |= tensor_rules(o, FV_O, 1, &out) | self_overlap(o);
    if (m->lse_present) {
        bad |= tensor_rules(l, FV_LSE, 1, &lse) | self_overlap(l) | same(l->shape[3], 1);
        for (int d = 0; d < 3; d++)
            bad |= same(l->shape[d], o->shape[d]);
    }
    for (int32_t k = 0; k < m->parts; k++) {
        const fattn_tensor *po = &m->outs[k], *pl = &m->lses[k];
        bad |= tensor_rules(po, FV_O, 1, &in[0]) | tensor_rules(pl, FV_LSE, 1, &in[1]);
        for (int d = 0; d < 4; d++)
            bad |= same(po->shape[d], o->shape[d]) |
                   same(pl->shape[d], d < 3 ? o->shape[d] : 1);
        for (int j = 0; j < 2; j++)
            if (intersect(&out, &in[j]) || intersect(&lse, &in[j]))
                bad |= BIT(FATTN_ERR_OVERLAP);
    }
    if (intersect(&out, &lse))
        bad |= BIT(FATTN_ERR_OVERLAP);
    return bad;
}

const char *fv_codes_text(uint32_t codes)
{
    static char text[512];
    size_t used = 0;
    text[0] = '\0';
    for (int s = 0; s < FATTN_STATUS_COUNT; s++) {
        if (!(codes & BIT(s)))
            continue;
        const char *name = fattn_status_name(s);
        const size_t n = strlen(name);
        if (used + n + 3 >= sizeof text)
            break;
        if (used) {
            memcpy(text + used, ", ", 2);
            used += 2;
        }
        memcpy(text + used, name, n + 1);
        used += n;
    }
    return text;
}
