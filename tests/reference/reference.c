/*
 * reference.c - plain fp64 attention, straight from the definition in fattn.h.
 *
 * Deliberately naive: one score row at a time, every key tested by its own
 * visibility predicate (no range arithmetic shared with the library), every
 * option applied in the order the header states. It reads the public
 * descriptors (strides in elements, stride 0 and size-1 mask dimensions
 * broadcast) and assumes fattn_check() accepted them.
 */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows up to this many keys keep their scores on the stack. */
#define REF_STACK_KEYS 2048

static int64_t ref_q_len(const fattn_tensor *query, const fattn_params *params,
                         int64_t b)
{
    if (params && params->q_lengths)
        return params->q_lengths[b];
    return query->shape[FATTN_DIM_SEQ];
}

static int64_t ref_kv_len(const fattn_tensor *key, const fattn_params *params,
                          int64_t b)
{
    if (params && params->kv_lengths)
        return params->kv_lengths[b];
    return key->shape[FATTN_DIM_SEQ];
}

/* pos(i) of the header: the key position query row i sits at. */
static int64_t ref_pos(int bottom_right, int64_t qlen, int64_t klen, int64_t i)
{
    return bottom_right ? i + klen - qlen : i;
}

/*
 * Half precision, written from the formats' definitions in double
 * arithmetic, independently of the library's bit tricks (src/half.h,
 * simd/), so that tests can check those against these.
 */
double fattn_ref_half_to_double(uint16_t h, int dtype)
{
    if (dtype == FATTN_DTYPE_BF16) {
        const uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        return (double)f;
    }
    const int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0x1f)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, -24);
    else
        v = ldexp((double)(m + 1024), e - 25);
    return sign ? -v : v;
}

uint16_t fattn_ref_double_to_half(double x, int dtype)
{
    /* bf16: 8 significant bits, exponents as f32; f16: 11 bits, normal
     * exponents -14 .. 15, subnormals down to 2^-24. */
    const int bits = dtype == FATTN_DTYPE_BF16 ? 8 : 11;
    const int emin = dtype == FATTN_DTYPE_BF16 ? -126 : -14;
    const double maxv = dtype == FATTN_DTYPE_BF16 ? ldexp(255.0, 120) : 65504.0;
    const uint16_t inf = dtype == FATTN_DTYPE_BF16 ? 0x7f80 : 0x7c00;
    const uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (isnan(x))
        return dtype == FATTN_DTYPE_BF16 ? 0x7fc0 : 0x7e00;
    double a = fabs(x);
    if (isinf(a))
        return sign | inf;
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1): a in [2^(e-1), 2^e) */
    int exp = e - 1 < emin ? emin : e - 1;
    /* The spacing of representable values at a's binade. */
    const double ulp = ldexp(1.0, exp - (bits - 1));
    double r = nearbyint(a / ulp) * ulp; /* the default mode: to even */
    if (r > maxv) {
        /* Rounds past the largest finite value: inf from halfway on. */
        const double half_ulp_max = ldexp(1.0, (dtype == FATTN_DTYPE_BF16 ? 127 : 15) - bits);
        if (a >= maxv + half_ulp_max)
            return sign | inf;
        r = maxv;
    }
    if (r == 0.0)
        return sign;
    /* Encode r. */
    int re;
    frexp(r, &re);
    int rexp = re - 1;
    const int mbits = bits - 1, bias = dtype == FATTN_DTYPE_BF16 ? 127 : 15;
    if (rexp < emin) { /* subnormal */
        const uint32_t mant = (uint32_t)ldexp(r, -(emin - mbits));
        return (uint16_t)(sign | mant);
    }
    const uint32_t mant = (uint32_t)(ldexp(r, -(rexp - mbits)) - ldexp(1.0, mbits));
    return (uint16_t)(sign | (uint32_t)(rexp + bias) << mbits | mant);
}

double fattn_ref_elem(const fattn_tensor *t, int64_t n, int64_t h, int64_t s,
                      int64_t d)
{
    const int64_t off = n * t->stride[0] + h * t->stride[1] + s * t->stride[2] +
                        d * t->stride[3];
    if (t->dtype == FATTN_DTYPE_BF16 || t->dtype == FATTN_DTYPE_F16)
        return fattn_ref_half_to_double(((const uint16_t *)t->data)[off], t->dtype);
    return (double)((const float *)t->data)[off];
}

/* Mask element (b, h, i, j): a dimension of size 1 broadcasts. */
static int64_t ref_mask_offset(const fattn_tensor *m, int64_t b, int64_t h,
                               int64_t i, int64_t j)
{
    const int64_t c[4] = {b, h, i, j};
    int64_t off = 0;
    for (int d = 0; d < 4; d++)
        if (m->shape[d] != 1)
            off += c[d] * m->stride[d];
    return off;
}

/* The alignment of window and ALiBi (fattn.h, `align`): the causal one
 * when causal masking is on, else `align` as given. */
static int ref_align_br(const fattn_params *params)
{
    if (params->causal != FATTN_CAUSAL_NONE)
        return params->causal == FATTN_CAUSAL_BOTTOM_RIGHT;
    return params->align == FATTN_ALIGN_BOTTOM_RIGHT;
}

int fattn_ref_visible(const fattn_tensor *query, const fattn_tensor *key,
                      const fattn_params *params, int64_t b, int64_t i,
                      int64_t j)
{
    const int64_t qlen = ref_q_len(query, params, b);
    const int64_t klen = ref_kv_len(key, params, b);

    if (j < 0 || j >= klen)
        return 0;
    if (!params)
        return 1;

    if (params->causal == FATTN_CAUSAL_TOP_LEFT && j > ref_pos(0, qlen, klen, i))
        return 0;
    if (params->causal == FATTN_CAUSAL_BOTTOM_RIGHT &&
        j > ref_pos(1, qlen, klen, i))
        return 0;

    if (params->window_enabled) {
        const int64_t pos = ref_pos(ref_align_br(params), qlen, klen, i);
        /* pos - left <= j <= pos + right, written so that a huge side
         * cannot overflow: pos - j and j - pos are small. */
        if (params->window_left != FATTN_WINDOW_UNLIMITED &&
            pos - j > params->window_left)
            return 0;
        if (params->window_right != FATTN_WINDOW_UNLIMITED &&
            j - pos > params->window_right)
            return 0;
    }
    return 1;
}

/*
 * One row with caller-provided scratch for Sk scores. A removed key keeps
 * the score -inf; after the exponentials, removed keys are marked -1 so the
 * P.V sum skips them (their V may be padding that must not be read, and
 * 0 * NaN would otherwise poison the row).
 */
/* 1 if x is a power of two (a positive normal or subnormal double). */
static int ref_pow2(double x)
{
    int e;
    return x > 0.0 && isfinite(x) && frexp(x, &e) == 0.5;
}

static int ref_integer(double x)
{
    return isfinite(x) && x == floor(x);
}

/* 1 if x is a float exactly (so an f32 sum that gives it is exact). */
static int ref_f32(double x)
{
    return !isfinite(x) || (double)(float)x == x;
}

static void ref_row_scratch(const fattn_tensor *query, const fattn_tensor *key,
                            const fattn_tensor *value,
                            const fattn_params *params, int64_t b, int64_t h,
                            int64_t i, double *out_row, double *lse_out,
                            double *s, fattn_ref_row_stats *stats)
{
    const int64_t D = query->shape[FATTN_DIM_HEAD_DIM];
    const int64_t Dv = value->shape[FATTN_DIM_HEAD_DIM];
    const int64_t Sk = key->shape[FATTN_DIM_SEQ];
    const int64_t Hq = query->shape[FATTN_DIM_HEADS];
    const int64_t Hkv = key->shape[FATTN_DIM_HEADS];
    const int64_t g = h / (Hq / Hkv);
    const int64_t qlen = ref_q_len(query, params, b);
    const int64_t klen = ref_kv_len(key, params, b);
    double lse = -INFINITY;

    for (int64_t d = 0; d < Dv; d++)
        out_row[d] = 0.0;
    if (stats)
        stats->vmax = stats->cond = 0.0;
    if (i >= qlen || klen == 0) {
        if (lse_out)
            *lse_out = lse;
        return;
    }

    const double scale = (params && params->scale != 0.0f)
                             ? (double)params->scale
                             : 1.0 / sqrt((double)D);
    const double softcap = params ? (double)params->softcap : 0.0;
    const fattn_tensor *mask = params ? params->mask : NULL;
    const float *slopes = params ? params->alibi_slopes : NULL;
    const int64_t pos_align = ref_pos(params && ref_align_br(params), qlen, klen, i);

    double max = -INFINITY, cond = 0.0;
    int any_nan = 0;
    const int scale_exact = ref_pow2(scale);
    for (int64_t j = 0; j < Sk; j++) {
        s[j] = -INFINITY;
        if (!fattn_ref_visible(query, key, params, b, i, j))
            continue;
        if (mask && mask->dtype == FATTN_DTYPE_BOOL &&
            ((const uint8_t *)mask->data)[ref_mask_offset(mask, b, h, i, j)] == 0)
            continue;

        double dot = 0.0, dot_abs = 0.0;
        int exact = scale_exact;
        for (int64_t d = 0; d < D; d++) {
            const double qd = fattn_ref_elem(query, b, h, i, d);
            const double kd = fattn_ref_elem(key, b, g, j, d);
            dot += qd * kd;
            dot_abs += fabs(qd * kd);
            if (exact)
                exact = ref_integer(qd) && ref_integer(kd);
        }
        exact &= dot_abs < 0x1p24;
        double x = scale * dot, terms = scale * dot_abs;
        exact &= ref_f32(x);
        if (softcap > 0.0) {
            x = softcap * tanh(x / softcap);
            exact = 0;
            terms += 2.0 * fabs(x);
        }
        if (mask && mask->dtype != FATTN_DTYPE_BOOL) {
            const int64_t off = ref_mask_offset(mask, b, h, i, j);
            const double mv = mask->dtype == FATTN_DTYPE_F32
                                  ? (double)((const float *)mask->data)[off]
                                  : fattn_ref_half_to_double(((const uint16_t *)mask->data)[off],
                                                             mask->dtype);
            x += mv;
            if (isfinite(mv)) {
                exact &= ref_integer(mv) && ref_f32(x);
                terms += fabs(mv);
            }
        }
        if (slopes) {
            const int64_t dist = pos_align > j ? pos_align - j : j - pos_align;
            const double bias = (double)slopes[h] * (double)dist;
            x -= bias;
            exact &= (slopes[h] == 0.0f || ref_pow2(fabs((double)slopes[h]))) &&
                     ref_f32(bias) && ref_f32(x);
            terms += fabs(bias);
        }
        if (!exact && isfinite(x) && terms > cond)
            cond = terms;
        s[j] = x;
        if (isnan(x))
            any_nan = 1;
        else if (x > max)
            max = x;
    }

    if (any_nan) {
        /* NaN from the data (or +inf + -inf) propagates, as the header says. */
        for (int64_t d = 0; d < Dv; d++)
            out_row[d] = NAN;
        if (lse_out)
            *lse_out = NAN;
        return;
    }
    if (max == -INFINITY) { /* fully masked: output 0, LSE -inf */
        if (lse_out)
            *lse_out = lse;
        return;
    }

    double sum = 0.0;
    for (int64_t j = 0; j < Sk; j++) {
        if (s[j] == -INFINITY) {
            s[j] = -1.0;
        } else {
            s[j] = exp(s[j] - max);
            sum += s[j];
        }
    }
    double vmax = 0.0;
    for (int64_t j = 0; j < Sk; j++) {
        if (s[j] < 0.0)
            continue;
        const double p = s[j] / sum;
        for (int64_t d = 0; d < Dv; d++) {
            const double vd = fattn_ref_elem(value, b, g, j, d);
            out_row[d] += p * vd;
            if (fabs(vd) > vmax)
                vmax = fabs(vd);
        }
    }
    if (stats) {
        stats->vmax = vmax;
        stats->cond = cond;
    }
    lse = max + log(sum);
    if (lse_out)
        *lse_out = lse;
}

void fattn_ref_row(const fattn_tensor *query, const fattn_tensor *key,
                   const fattn_tensor *value, const fattn_params *params,
                   int64_t b, int64_t h, int64_t i, double *out_row,
                   double *lse)
{
    fattn_ref_row_stats_of(query, key, value, params, b, h, i, out_row, lse,
                           NULL);
}

void fattn_ref_row_stats_of(const fattn_tensor *query, const fattn_tensor *key,
                            const fattn_tensor *value,
                            const fattn_params *params, int64_t b, int64_t h,
                            int64_t i, double *out_row, double *lse,
                            fattn_ref_row_stats *stats)
{
    const int64_t Sk = key->shape[FATTN_DIM_SEQ];
    double stack[REF_STACK_KEYS];
    double *s = stack;

    if (Sk > REF_STACK_KEYS) {
        s = malloc((size_t)Sk * sizeof(double));
        if (!s) { /* cannot compute: a NaN row fails any comparison */
            for (int64_t d = 0; d < value->shape[FATTN_DIM_HEAD_DIM]; d++)
                out_row[d] = NAN;
            if (lse)
                *lse = NAN;
            if (stats)
                stats->vmax = stats->cond = NAN;
            return;
        }
    }
    ref_row_scratch(query, key, value, params, b, h, i, out_row, lse, s, stats);
    if (s != stack)
        free(s);
}

void fattn_ref_report_init(fattn_ref_report *report)
{
    memset(report, 0, sizeof(*report));
    report->max_excess = -INFINITY;
    for (int d = 0; d < 4; d++)
        report->worst[d] = -1;
}

int fattn_ref_report_add(fattn_ref_report *r, double got, double ref,
                         double atol, double rtol, int64_t b, int64_t h,
                         int64_t i, int64_t d)
{
    double err, excess;

    if (isnan(got) || isnan(ref)) {
        const int both = isnan(got) && isnan(ref);
        err = both ? 0.0 : INFINITY;
        excess = both ? -INFINITY : INFINITY;
    } else if (isinf(got) || isinf(ref)) {
        /* Infinities (LSE -inf of a fully masked row) must match exactly. */
        err = got == ref ? 0.0 : INFINITY;
        excess = got == ref ? -INFINITY : INFINITY;
    } else {
        err = fabs(got - ref);
        const double bound = atol + rtol * fabs(ref);
        excess = err - bound;
        if (bound > 0.0 && err / bound > r->max_ratio)
            r->max_ratio = err / bound;
        if (ref != 0.0 && err / fabs(ref) > r->max_rel_err)
            r->max_rel_err = err / fabs(ref);
    }

    r->checked++;
    if (err > r->max_abs_err)
        r->max_abs_err = err;
    if (excess > 0.0)
        r->violations++;
    if (excess > r->max_excess || r->worst[0] < 0) {
        if (excess > r->max_excess)
            r->max_excess = excess;
        r->worst[0] = b;
        r->worst[1] = h;
        r->worst[2] = i;
        r->worst[3] = d;
        r->worst_got = got;
        r->worst_ref = ref;
    }
    return excess <= 0.0;
}

void fattn_ref_report_merge(fattn_ref_report *into, const fattn_ref_report *from)
{
    if (from->max_abs_err > into->max_abs_err)
        into->max_abs_err = from->max_abs_err;
    if (from->max_rel_err > into->max_rel_err)
        into->max_rel_err = from->max_rel_err;
    if (from->max_ratio > into->max_ratio)
        into->max_ratio = from->max_ratio;
    if (from->worst[0] >= 0 &&
        (from->max_excess > into->max_excess || into->worst[0] < 0)) {
        into->max_excess = from->max_excess;
        memcpy(into->worst, from->worst, sizeof(into->worst));
        into->worst_got = from->worst_got;
        into->worst_ref = from->worst_ref;
    }
    into->checked += from->checked;
    into->violations += from->violations;
}

void fattn_ref_compare_row(fattn_ref_report *r, fattn_ref_report *lse_report,
                           const fattn_tensor *output,
                           const fattn_tensor *lse, int64_t b, int64_t h,
                           int64_t i, const double *ref_row, double ref_lse,
                           double atol, double rtol)
{
    const int64_t Dv = output->shape[FATTN_DIM_HEAD_DIM];
    /* A fully masked row (or one past q_lengths) must be exactly 0. */
    const int exact = ref_lse == -INFINITY;

    for (int64_t d = 0; d < Dv; d++)
        fattn_ref_report_add(r, fattn_ref_elem(output, b, h, i, d),
                             ref_row[d], exact ? 0.0 : atol,
                             exact ? 0.0 : rtol, b, h, i, d);
    if (lse)
        fattn_ref_report_add(lse_report ? lse_report : r,
                             fattn_ref_elem(lse, b, h, i, 0), ref_lse,
                             atol, rtol, b, h, i, -1);
}

int fattn_ref_compare(const fattn_tensor *query, const fattn_tensor *key,
                      const fattn_tensor *value, const fattn_tensor *output,
                      const fattn_params *params, double atol, double rtol,
                      int64_t row_step, fattn_ref_report *report)
{
    fattn_ref_report local;
    fattn_ref_report *r = report ? report : &local;
    const int64_t B = query->shape[FATTN_DIM_BATCH];
    const int64_t Hq = query->shape[FATTN_DIM_HEADS];
    const int64_t Sq = query->shape[FATTN_DIM_SEQ];
    const int64_t Sk = key->shape[FATTN_DIM_SEQ];
    const int64_t Dv = value->shape[FATTN_DIM_HEAD_DIM];
    const fattn_tensor *lse = params ? params->lse : NULL;
    const int64_t step = row_step > 1 ? row_step : 1;

    fattn_ref_report_init(r);
    double *row = malloc((size_t)(Dv + (Sk > 0 ? Sk : 1)) * sizeof(double));
    if (!row) {
        r->checked = -1;
        return 0;
    }
    double *scores = row + Dv;

    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Sq; i += step) {
                double ref_lse;
                ref_row_scratch(query, key, value, params, b, h, i, row,
                                &ref_lse, scores, NULL);
                fattn_ref_compare_row(r, NULL, output, lse, b, h, i, row, ref_lse,
                                      atol, rtol);
            }
    free(row);
    return r->violations == 0;
}

int64_t fattn_ref_visible_pairs(const fattn_tensor *query,
                                const fattn_tensor *key,
                                const fattn_params *params)
{
    const int64_t B = query->shape[FATTN_DIM_BATCH];
    const int64_t Hq = query->shape[FATTN_DIM_HEADS];
    const int64_t Sk = key->shape[FATTN_DIM_SEQ];
    int64_t pairs = 0;

    for (int64_t b = 0; b < B; b++) {
        const int64_t qlen = ref_q_len(query, params, b);
        int64_t per_head = 0;
        for (int64_t i = 0; i < qlen; i++)
            for (int64_t j = 0; j < Sk; j++)
                per_head += fattn_ref_visible(query, key, params, b, i, j);
        pairs += per_head * Hq;
    }
    return pairs;
}
