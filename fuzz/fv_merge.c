/*
 * fv_merge.c - fuzz_validate's fattn_merge cases (fv_merge.h): decoding,
 * placing, calling and checking.
 *
 * A case is a valid merge first (1-4 parts with descriptors of their own,
 * or FATTN_MAX_MERGE_PARTS repeating them, any layouts), then up to 6
 * faults: any shape or stride set to an edge value (stride 0, overflowing
 * extents), dtypes out of range, NULL arrays and data, misaligned data,
 * a tensor pointing into another's buffer (a part into a part is allowed,
 * output or lse into anything is not), fake addresses near the top of the
 * address space, lse dropped or added, parts out of range. Buffers hold
 * exactly the bytes the descriptors address, and the part arrays exactly
 * n_desc entries, so AddressSanitizer sees any read past them.
 */
#include "fv_merge.h"

#include "fuzz_common.h"
#include "fv_case.h"
#include "problem.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Calls whose parts * elements exceed this are only validated (refused
 * ones) or skipped (accepted ones): each input must stay fast. */
#define FVM_WORK ((double)(1 << 22))

static const char *tensor_name(int r, char *buf, size_t size)
{
    if (r == FVM_O)
        return "output";
    if (r == FVM_L)
        return "lse";
    snprintf(buf, size, "%s[%d]", r < FVM_LSE0 ? "outputs" : "lses", r % FV_MERGE_DRAWN);
    return buf;
}

/* ---- decoding ----------------------------------------------------------- */

static int pick_tensor(const fv_merge *m, fz_producer *in)
{
    const int which = (int)fz_range(in, 0, 3);
    const int k = (int)fz_range(in, 0, m->drawn - 1);
    static const int base[4] = {FVM_OUT0, FVM_LSE0, FVM_O, FVM_L};
    return which < 2 ? base[which] + k : base[which];
}

static void mutate(fv_merge *m, fz_producer *in)
{
    const int r = pick_tensor(m, in);
    fattn_tensor *t = &m->t[r];
    switch (fz_range(in, 0, 11)) {
    /* Reads are sequenced (value, then index), so gcc and clang agree. */
    case 0: {
        const int64_t v = fz_interesting_i64(in);
        t->shape[fz_range(in, 0, 3)] = v;
        break;
    }
    case 1: {
        const int64_t v = fz_interesting_i64(in);
        t->stride[fz_range(in, 0, 3)] = v;
        break;
    }
    case 2: {
        static const int64_t dtypes[] = {0, 1, 2, 3, -1, 4, INT32_MIN, INT32_MAX};
        t->dtype = (int32_t)fz_pick(in, dtypes, 8);
        break;
    }
    case 3:
        m->null_data[r] = 1;
        break;
    case 4:
        m->misalign[r] = (unsigned)fz_range(in, 1, 3);
        break;
    case 5: { /* into another tensor's buffer */
        const int target = pick_tensor(m, in);
        if (target != r) {
            m->alias[r] = target;
            m->alias_off[r] = (uint32_t)fz_bits(in, 4);
        }
        break;
    }
    case 6:
        m->null_array[fz_range(in, 0, FVM_NULLS - 1)] = 1;
        break;
    case 7: { /* a dimension off by one */
        int64_t *s = &t->shape[fz_range(in, 0, 3)];
        const int64_t delta = fz_range(in, -1, 1);
        if (*s > INT64_MIN + 1 && *s < INT64_MAX - 1)
            *s += delta;
        break;
    }
    case 8: /* broadcast: fine for a part, two elements at one address for
             * output and lse */
        t->stride[fz_range(in, 0, 3)] = 0;
        break;
    case 9:
        m->top[r] = 1;
        break;
    case 10:
        m->lse_present = !m->lse_present;
        break;
    default: {
        static const int64_t parts[] = {0, -1, 1, 2, 3, FATTN_MAX_MERGE_PARTS,
                                        FATTN_MAX_MERGE_PARTS + 1, INT32_MIN,
                                        INT32_MAX};
        m->parts = (int32_t)fz_pick(in, parts, sizeof parts / sizeof parts[0]);
        break;
    }
    }
}

void fv_merge_decode(fv_merge *m, fz_producer *in)
{
    memset(m, 0, sizeof *m);
    for (int r = 0; r < FVM_TENSORS; r++)
        m->alias[r] = -1;
    m->used = fz_bool(in);
    if (!m->used)
        return;
    const int64_t B = fz_range(in, 0, 3), H = fz_range(in, 1, 3);
    const int64_t S = fz_range(in, 0, 5), Dv = fz_range(in, 1, 9);
    const int64_t choice = fz_range(in, 0, 5);
    m->parts = choice < 4 ? (int32_t)choice + 1
               : choice == 4 ? FATTN_MAX_MERGE_PARTS
                             : (int32_t)fz_range(in, 0, 8);
    m->drawn = m->parts >= 1 && m->parts <= FV_MERGE_DRAWN
                   ? (int)m->parts : (int)fz_range(in, 1, FV_MERGE_DRAWN);
    for (int k = 0; k < m->drawn; k++) {
        fv_decode_tensor(&m->t[FVM_OUT0 + k], in, FATTN_DTYPE_F32, B, H, S, Dv);
        fv_decode_tensor(&m->t[FVM_LSE0 + k], in, FATTN_DTYPE_F32, B, H, S, 1);
    }
    fv_decode_tensor(&m->t[FVM_O], in, FATTN_DTYPE_F32, B, H, S, Dv);
    fv_decode_tensor(&m->t[FVM_L], in, FATTN_DTYPE_F32, B, H, S, 1);
    m->lse_present = fz_range(in, 0, 3) != 0;
    m->err_null = fz_range(in, 0, 15) == 15;
    m->specials = (int)fz_range(in, 0, 3);
    m->seed = fz_bits(in, 2);
    const int64_t n = fz_range(in, 0, 6);
    for (int64_t k = 0; k < n; k++)
        mutate(m, in);
}

/* ---- placement ---------------------------------------------------------- */

/* Whether tensor r reaches fattn_merge: parts up to n_desc. */
static int in_use(const fv_merge *m, int r)
{
    if (r == FVM_L)
        return m->lse_present;
    if (r == FVM_O)
        return 1;
    const int k = r % FV_MERGE_DRAWN;
    return k < m->drawn && k < m->n_desc;
}

static float unit(fattn_ref_rng *rng)
{
    return (float)(fattn_ref_rng_next(rng) >> 40) * (2.0f / 16777215.0f) - 1.0f;
}

/* A part's LSE value: moderate, or (more with `specials`) -inf, NaN, +inf
 * and magnitudes whose differences overflow or underflow exp. */
static float lse_value(int specials, fattn_ref_rng *rng)
{
    const uint64_t u = fattn_ref_rng_next(rng) % 32;
    if (specials >= 1 && u < 8)
        return -INFINITY;
    if (specials >= 2 && u < 10)
        return u == 8 ? NAN : INFINITY;
    if (specials >= 3 && u < 14)
        return (u % 2 ? -1.0f : 1.0f) * (u < 12 ? 1e30f : FLT_MAX);
    return 8.0f * unit(rng);
}

static void fill(fv_merge *m, int r, fattn_ref_rng *rng)
{
    unsigned char *p = m->buf[r];
    const size_t n = m->buf_size[r];
    if (r >= FVM_O) { /* output and lse: the sentinel, so writes show */
        memset(p, 0x3c, n);
        return;
    }
    for (size_t k = 0; k + 4 <= n; k += 4) {
        float x = r >= FVM_LSE0 ? lse_value(m->specials, rng) : unit(rng);
        if (r < FVM_LSE0 && m->specials >= 2 && fattn_ref_rng_next(rng) % 16 == 0)
            x = fattn_ref_rng_next(rng) % 2 ? NAN : INFINITY;
        memcpy(p + k, &x, sizeof x);
    }
}

/* A fake address (check-only cases): 1 TiB apart, or near the top. */
static uintptr_t fake(const fv_merge *m, int r)
{
    if (m->top[r])
        return (UINTPTR_MAX - ((uintptr_t)8192 << r)) & ~(uintptr_t)63;
    return (uintptr_t)(r + 1) << 40;
}

static void own(fv_merge *m, int r, int valid, fattn_ref_rng *rng)
{
    if (!m->real) {
        m->t[r].data = (void *)(fake(m, r) + m->misalign[r]);
        return;
    }
    /* An invalid descriptor gets a token buffer: it must be refused. */
    m->buf_size[r] = m->misalign[r] + (valid ? m->bytes[r] : 4);
    m->buf[r] = fv_xmalloc(m->buf_size[r]);
    fill(m, r, rng);
    m->t[r].data = m->buf[r] + m->misalign[r];
}

/*
 * Tensor r inside target's buffer. A part lies wholly inside it (parts may
 * share memory, and must stay readable); output and lse start inside it,
 * so that if not empty they overlap it and must be refused.
 */
static int place_alias(fv_merge *m, int r, const int *valid)
{
    const int target = m->alias[r];
    if (!in_use(m, target) || !valid[target] || m->bytes[target] == 0 ||
        m->alias[target] >= 0)
        return 0;
    const uintptr_t base = m->real ? (uintptr_t)(m->buf[target] + m->misalign[target])
                                   : fake(m, target) + m->misalign[target];
    uint64_t off;
    if (r < FVM_O) {
        if (!valid[r] || m->bytes[r] > m->bytes[target])
            return 0;
        off = (m->alias_off[r] % (m->bytes[target] - m->bytes[r] + 1)) & ~(uint64_t)3;
    } else {
        off = m->alias_off[r] % m->bytes[target];
    }
    /* In integers: a fake address near the top may wrap. */
    m->t[r].data = (void *)(base + (uintptr_t)off + m->misalign[r]);
    return 1;
}

void fv_merge_place(fv_merge *m)
{
    const int in_range = m->parts >= 1 && m->parts <= FATTN_MAX_MERGE_PARTS;
    m->n_desc = in_range ? m->parts : m->drawn;
    int valid[FVM_TENSORS] = {0}, top = 0;
    uint64_t total = 0;
    for (int r = 0; r < FVM_TENSORS; r++) {
        uint64_t b = 0;
        valid[r] = fv_tensor_bytes(&m->t[r], &b) == 0;
        m->bytes[r] = valid[r] && b <= FV_CAP ? (size_t)b : 0;
        if (in_use(m, r)) {
            total += valid[r] ? (b > FV_CAP ? FV_CAP + 1 : b) : 4;
            top |= m->top[r];
        }
    }
    m->real = total <= FV_CAP && !top;

    fattn_ref_rng rng;
    fattn_ref_rng_seed(&rng, m->seed);
    for (int r = 0; r < FVM_TENSORS; r++)
        if (in_use(m, r) && m->alias[r] < 0)
            own(m, r, valid[r], &rng);
    for (int r = 0; r < FVM_TENSORS; r++)
        if (in_use(m, r) && m->alias[r] >= 0 && !place_alias(m, r, valid)) {
            m->alias[r] = -1;
            own(m, r, valid[r], &rng);
        }
    for (int r = 0; r < FVM_TENSORS; r++)
        if (m->null_data[r])
            m->t[r].data = NULL;

    m->outs = fv_xmalloc((size_t)m->n_desc * sizeof *m->outs);
    m->lses = fv_xmalloc((size_t)m->n_desc * sizeof *m->lses);
    for (int32_t k = 0; k < m->n_desc; k++) {
        m->outs[k] = m->t[FVM_OUT0 + k % m->drawn];
        m->lses[k] = m->t[FVM_LSE0 + k % m->drawn];
    }
    fv_snapshot(m->buf, m->snap, m->buf_size, FVM_TENSORS);
}

void fv_merge_free(fv_merge *m)
{
    fv_free_buffers(m->buf, m->snap, FVM_TENSORS);
    free(m->outs);
    free(m->lses);
    m->outs = m->lses = NULL;
}

/* ---- the call and its checks -------------------------------------------- */

static float *at(const fattn_tensor *t, int64_t b, int64_t h, int64_t i, int64_t e)
{
    return (float *)t->data + b * t->stride[0] + h * t->stride[1] +
           i * t->stride[2] + e * t->stride[3];
}

static void row_finding(int64_t b, int64_t h, int64_t i, int64_t e, double got,
                        double want, const char *rule)
{
    fz_finding("fuzz_validate",
               "fattn_merge row (%" PRId64 ", %" PRId64 ", %" PRId64 ") %s %" PRId64
               ": got %.9g, want %.9g (%s)",
               b, h, i, e < 0 ? "lse" : "element", e < 0 ? 0 : e, got, want, rule);
}

/* Row (b, h, i) against the harness's reading of fattn.h: M, weights,
 * the weighted mean in double; -inf parts skipped; NaN and +inf poison. */
static void check_row(const fv_merge *m, int64_t b, int64_t h, int64_t i,
                      double *acc)
{
    const fattn_tensor *o = &m->t[FVM_O], *l = m->lse_present ? &m->t[FVM_L] : NULL;
    const int64_t dv = o->shape[3];
    double top = -INFINITY;
    int poisoned = 0;
    for (int32_t k = 0; k < m->n_desc; k++) {
        const float x = *at(&m->lses[k], b, h, i, 0);
        poisoned |= isnan(x) || x == INFINITY;
        if (!isnan(x) && x != INFINITY && x > top)
            top = x;
    }
    if (poisoned || top == -INFINITY) {
        for (int64_t e = 0; e < dv; e++) {
            const float x = *at(o, b, h, i, e);
            if (poisoned ? !isnan(x) : x != 0.0f)
                row_finding(b, h, i, e, x, poisoned ? NAN : 0.0, poisoned
                            ? "a NaN or +inf LSE makes the row NaN"
                            : "every part fully masked gives 0");
        }
        const float x = l ? *at(l, b, h, i, 0) : 0.0f;
        if (l && (poisoned ? !isnan(x) : x != -INFINITY))
            row_finding(b, h, i, -1, x, poisoned ? NAN : -INFINITY, "the LSE of that row");
        return;
    }
    double wsum = 0.0;
    for (int64_t e = 0; e < dv; e++)
        acc[2 * e] = acc[2 * e + 1] = 0.0; /* sum, scale */
    for (int32_t k = 0; k < m->n_desc; k++) {
        const float x = *at(&m->lses[k], b, h, i, 0);
        if (x == -INFINITY)
            continue; /* its output row is not read */
        const double w = exp((double)x - top);
        wsum += w;
        for (int64_t e = 0; e < dv; e++) {
            const double v = *at(&m->outs[k], b, h, i, e);
            acc[2 * e] += w * v;
            if (w > 0.0 && fabs(v) > acc[2 * e + 1])
                acc[2 * e + 1] = fabs(v);
        }
    }
    for (int64_t e = 0; e < dv; e++) {
        const double want = acc[2 * e] / wsum, got = *at(o, b, h, i, e);
        const int ok = isnan(want) ? isnan(got)
                       : isinf(want) ? got == want
                                     : fabs(got - want) <= 1e-6 * acc[2 * e + 1] + 1e-37;
        if (!ok)
            row_finding(b, h, i, e, got, want, "sum_k w_k o_k / sum_k w_k");
    }
    if (l) {
        const double want = top + log(wsum), got = *at(l, b, h, i, 0);
        if (!(fabs(got - want) <= 1e-6 * fabs(want) + 1e-6))
            row_finding(b, h, i, -1, got, want, "M + log(sum_k w_k)");
    }
}

static fattn_status call(const fv_merge *m, fattn_error *err)
{
    return fattn_merge(m->parts, m->null_array[FVM_NULL_OUTPUTS] ? NULL : m->outs,
                       m->null_array[FVM_NULL_LSES] ? NULL : m->lses,
                       m->null_array[FVM_NULL_OUTPUT] ? NULL : &m->t[FVM_O],
                       m->lse_present ? &m->t[FVM_L] : NULL, err);
}

static int changed(const fv_merge *m, int r)
{
    return m->buf[r] && memcmp(m->buf[r], m->snap[r], m->buf_size[r]) != 0;
}

/* After a success: inputs as they were, output and lse written only at
 * their elements, every row as the formula says, the same bits again. */
static void check_success(fv_merge *m)
{
    char name[32];
    for (int r = 0; r < FVM_O; r++)
        if (changed(m, r))
            fz_finding("fuzz_validate", "fattn_merge wrote input %s",
                       tensor_name(r, name, sizeof name));
    for (int r = FVM_O; r < FVM_TENSORS; r++) {
        const char *why = in_use(m, r) && m->buf[r]
                              ? fv_layout_problem(&m->t[r], m->buf[r], m->snap[r], m->buf_size[r])
                              : NULL;
        if (why)
            fz_finding("fuzz_validate", "fattn_merge succeeded but in %s %s",
                       tensor_name(r, name, sizeof name), why);
    }
    const fattn_tensor *o = &m->t[FVM_O];
    double *acc = fv_xmalloc(2 * (size_t)o->shape[3] * sizeof *acc);
    for (int64_t b = 0; b < o->shape[0]; b++)
        for (int64_t h = 0; h < o->shape[1]; h++)
            for (int64_t i = 0; i < o->shape[2]; i++)
                check_row(m, b, h, i, acc);
    free(acc);
    unsigned char *first[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (m->buf[FVM_O + k]) {
            first[k] = fv_xmalloc(m->buf_size[FVM_O + k]);
            memcpy(first[k], m->buf[FVM_O + k], m->buf_size[FVM_O + k]);
        }
    if (call(m, NULL) != FATTN_OK)
        fz_finding("fuzz_validate", "fattn_merge refused what it accepted a moment ago");
    for (int k = 0; k < 2; k++) {
        if (first[k] && memcmp(first[k], m->buf[FVM_O + k], m->buf_size[FVM_O + k]) != 0)
            fz_finding("fuzz_validate", "fattn_merge gave other bits the second time");
        free(first[k]);
    }
}

void fv_merge_check(fv_merge *m)
{
    const uint32_t violated = fv_merge_oracle(m);
    const fattn_tensor *o = &m->t[FVM_O];
    const double work = (double)m->n_desc * (double)o->shape[0] * (double)o->shape[1] *
                        (double)o->shape[2] * (double)o->shape[3];
    /* An accepted call computes: real memory only, and not too much. */
    if (violated == 0 && (!m->real || work > FVM_WORK))
        return;
    fattn_error err;
    fz_poison_error(&err);
    const fattn_status st = call(m, m->err_null ? NULL : &err);
    const char *msg = m->err_null ? "no record" : err.message;
    if (!m->err_null) {
        const char *why = fz_record_problem(&err, st, "fattn_merge");
        if (why)
            fz_finding("fuzz_validate", "fattn_merge: %s (status %d %s, message '%.*s')", why,
                       (int)st, fattn_status_name(st), (int)sizeof err.message, err.message);
    }
    const int defined = (int)st >= 0 && (int)st < FATTN_STATUS_COUNT;
    if (!defined || (violated ? st == FATTN_OK || !(violated & (1u << st)) : st != FATTN_OK))
        fz_finding("fuzz_validate", "fattn_merge returned %d (%s), the rules allow: %s (%.*s)",
                   (int)st, fattn_status_name(st), violated ? fv_codes_text(violated) : "ok",
                   (int)sizeof err.message, msg);
    if (st == FATTN_OK) {
        check_success(m);
        return;
    }
    for (int r = 0; r < FVM_TENSORS; r++)
        if (changed(m, r)) {
            char name[32];
            fz_finding("fuzz_validate", "a failing fattn_merge changed the buffer of %s",
                       tensor_name(r, name, sizeof name));
        }
}

void fv_merge_describe(const fv_merge *m, FILE *out)
{
    char name[32];
    fprintf(out, "merge case (%s, error record %s, seed %" PRIu64 ", specials %d): parts %"
            PRId32 ", %d drawn, %" PRId32 " descriptors; NULL outputs %d, lses %d, output %d\n",
            m->real ? "exact-size buffers" : "fake addresses", m->err_null ? "NULL" : "given",
            m->seed, m->specials, m->parts, m->drawn, m->n_desc,
            m->null_array[FVM_NULL_OUTPUTS], m->null_array[FVM_NULL_LSES],
            m->null_array[FVM_NULL_OUTPUT]);
    for (int r = 0; r < FVM_TENSORS; r++) {
        const fattn_tensor *t = &m->t[r];
        if (!in_use(m, r))
            continue;
        fprintf(out, "  %-10s data=%p dtype=%" PRId32 " shape=[%" PRId64 ", %" PRId64 ", %"
                PRId64 ", %" PRId64 "] stride=[%" PRId64 ", %" PRId64 ", %" PRId64 ", %"
                PRId64 "] buffer=%zu bytes misalign=%u alias=%d top=%d\n",
                tensor_name(r, name, sizeof name), t->data, t->dtype, t->shape[0],
                t->shape[1], t->shape[2], t->shape[3], t->stride[0], t->stride[1],
                t->stride[2], t->stride[3], m->buf_size[r], m->misalign[r], m->alias[r],
                m->top[r]);
    }
}
