/*
 * merge.c - fattn_merge: partial results of the same query rows over
 * disjoint key sets into the full result (fattn.h). Its tensors are judged
 * by validate.c's checks, with the rules and words of fattn_forward's
 * output and lse; the arithmetic is combine.c's, the one split-K plans use,
 * so a merge and a split plan combine alike.
 *
 * Order of checks (a call with several faults reports the first):
 *   1. outputs, lses and output present; parts in [1, FATTN_MAX_MERGE_PARTS]
 *   2. output alone, then lse alone and its shape
 *   3. for each part in order: outputs[k] and lses[k] alone, then their
 *      shapes against output
 *   4. output and lse without two elements at one address, apart from
 *      every part, apart from each other
 * Overlap comes last, as in fattn_forward: a second pass over the parts
 * recomputes their extents (they passed already) rather than keeping up
 * to 2 * FATTN_MAX_MERGE_PARTS of them.
 *
 * No allocation: the parts' row pointers, strides and LSEs of one row and
 * the accumulators of a block of MERGE_BLOCK columns are on the stack (22
 * KiB with FATTN_MAX_MERGE_PARTS parts).
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>

/* Columns per fattn_combine_row call, so that Dv up to FATTN_MAX_HEAD_DIM
 * needs no heap for the double accumulators. Each block of a row repeats
 * the row's maximum and weights (one exp per part), next to the parts *
 * MERGE_BLOCK values the block reads; the bits are those of one call over
 * the whole row, since every column is summed on its own. */
#define MERGE_BLOCK 256

static const char *const dims_out[4] = {"batch", "heads", "seq", "head_dim_v"};
static const char *const dims_lse[4] = {"batch", "heads", "seq", "one"};

/* As fattn_forward's output and lse: heads and head_dim_v >= 1, f32. */
static const fattn_tensor_role out_role = {"output", dims_out, 1, 0,
                                           FATTN_ERR_UNSUPPORTED_DTYPE};
static const fattn_tensor_role lse_role = {"lse", dims_lse, 0, 0,
                                           FATTN_ERR_UNSUPPORTED_DTYPE};

/* outputs[k] and lses[k]: the roles of output and lse under their own
 * names. */
typedef struct part_roles {
    fattn_tensor_role o, l;
    char o_name[24], l_name[24];
} part_roles;

static void part_roles_init(part_roles *pr, int32_t k)
{
    pr->o = out_role;
    pr->l = lse_role;
    snprintf(pr->o_name, sizeof pr->o_name, "outputs[%" PRId32 "]", k);
    snprintf(pr->l_name, sizeof pr->l_name, "lses[%" PRId32 "]", k);
    pr->o.name = pr->o_name;
    pr->l.name = pr->l_name;
}

/*
 * Part k: outputs[k] and lses[k] alone, then their shapes against output
 * (step 3). With `outs` (step 4: every tensor passed), their bytes apart
 * from output's and lse's instead.
 */
static fattn_status check_part(const char *fn, int32_t k,
                               const fattn_tensor *o, const fattn_tensor *l,
                               const fattn_tensor *output,
                               const fattn_extent *outs, fattn_error *err)
{
    part_roles pr;
    fattn_extent in[2];
    part_roles_init(&pr, k);
    FATTN_TRY(fattn_check_tensor(fn, &pr.o, o, &in[0], err));
    FATTN_TRY(fattn_check_tensor(fn, &pr.l, l, &in[1], err));
    if (outs)
        return fattn_check_apart(fn, outs, 2, in, 2,
                                 "output and lse must not share memory with the parts",
                                 err);
    for (int d = 0; d < 4; d++)
        FATTN_TRY(fattn_check_same_dim(fn, &pr.o, o, d, &out_role, output, d,
                                       "every part must have output's shape",
                                       err));
    return fattn_check_lse_shape(fn, &pr.l, l, &out_role, output,
                                 "lses[k] must be [batch, heads, seq, 1] of output",
                                 err);
}

/* Element (b, h, i, e) of an f32 tensor: inside the extent validation
 * bounded, for indices inside the shape. */
static float *at(const fattn_tensor *t, int64_t b, int64_t h, int64_t i,
                 int64_t e)
{
    return (float *)t->data + b * t->stride[0] + h * t->stride[1] +
           i * t->stride[2] + e * t->stride[3];
}

static void merge_rows(int32_t parts, const fattn_tensor *outputs,
                       const fattn_tensor *lses, const fattn_tensor *output,
                       const fattn_tensor *lse)
{
    const float *o[FATTN_MAX_MERGE_PARTS];
    int64_t elem[FATTN_MAX_MERGE_PARTS];
    double l[FATTN_MAX_MERGE_PARTS]; /* as fattn_combine_row takes them */
    double acc[MERGE_BLOCK];
    const int64_t dv = output->shape[3], out_elem = output->stride[3];
    /* An empty batch or sequence may come with 2^40 heads: no loop over
     * them. */
    if (output->shape[0] == 0 || output->shape[2] == 0)
        return;
    for (int32_t k = 0; k < parts; k++)
        elem[k] = outputs[k].stride[3];
    for (int64_t b = 0; b < output->shape[0]; b++)
        for (int64_t h = 0; h < output->shape[1]; h++)
            for (int64_t i = 0; i < output->shape[2]; i++) {
                for (int32_t k = 0; k < parts; k++)
                    l[k] = (double)*at(&lses[k], b, h, i, 0);
                float *out = at(output, b, h, i, 0);
                float *lse_out = lse ? at(lse, b, h, i, 0) : NULL;
                for (int64_t e0 = 0; e0 < dv; e0 += MERGE_BLOCK) {
                    const int64_t n = dv - e0 < MERGE_BLOCK ? dv - e0 : MERGE_BLOCK;
                    for (int32_t k = 0; k < parts; k++)
                        o[k] = at(&outputs[k], b, h, i, e0);
                    fattn_combine_row(parts, o, elem, l, n, acc,
                                      out + e0 * out_elem, FATTN_DTYPE_F32,
                                      out_elem,
                                      e0 == 0 ? lse_out : NULL);
                }
            }
}

fattn_status fattn_merge(int32_t parts, const fattn_tensor *outputs,
                         const fattn_tensor *lses, const fattn_tensor *output,
                         const fattn_tensor *lse, fattn_error *err)
{
    static const char fn[] = "fattn_merge";
    static const char *const names[3] = {"outputs", "lses", "output"};
    const void *const required[3] = {outputs, lses, output};
    for (int r = 0; r < 3; r++)
        if (!required[r])
            return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "%s is NULL",
                              names[r]);
    if (parts < 1 || parts > FATTN_MAX_MERGE_PARTS)
        return fattn_fail(err, FATTN_ERR_INVALID_VALUE, fn,
                          "parts = %" PRId32 ": must be in [1, %d] (FATTN_MAX_MERGE_PARTS)",
                          parts, FATTN_MAX_MERGE_PARTS);

    fattn_extent outs[2] = {{0, 0, "output"}, {0, 0, "lse"}};
    FATTN_TRY(fattn_check_tensor(fn, &out_role, output, &outs[0], err));
    if (lse) {
        FATTN_TRY(fattn_check_tensor(fn, &lse_role, lse, &outs[1], err));
        FATTN_TRY(fattn_check_lse_shape(fn, &lse_role, lse, &out_role, output,
                                        "lse must be [batch, heads, seq, 1] of output",
                                        err));
    }
    for (int32_t k = 0; k < parts; k++)
        FATTN_TRY(check_part(fn, k, &outputs[k], &lses[k], output, NULL, err));

    FATTN_TRY(fattn_check_self_overlap(fn, &out_role, output, err));
    if (lse)
        FATTN_TRY(fattn_check_self_overlap(fn, &lse_role, lse, err));
    for (int32_t k = 0; k < parts; k++)
        FATTN_TRY(check_part(fn, k, &outputs[k], &lses[k], output, outs, err));
    FATTN_TRY(fattn_check_output_lse(fn, &outs[0], &outs[1], err));

    merge_rows(parts, outputs, lses, output, lse);
    fattn_ok(err);
    return FATTN_OK;
}
