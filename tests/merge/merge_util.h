/*
 * merge_util.h - partial results of one problem for the fattn_merge tests
 * (tests/merge): the problem's keys split into parts, each part computed by
 * fattn_forward into an output and LSE of its own layout, and the check of
 * a merge of them against the fp64 reference of the whole problem.
 */
#ifndef FATTN_MERGE_UTIL_H
#define FATTN_MERGE_UTIL_H

#include "plan_util.h"

#include <stdint.h>

/* How the keys are split. */
enum {
    /* Contiguous key ranges as key, value and mask sub-views with their own
     * kv_lengths: only for problems without causal masking, window or
     * ALiBi (a sub-view moves the key positions they measure from). */
    MU_VIEWS,
    /* Contiguous key ranges as masks over every key (any options). */
    MU_RANGES,
    /* Each (row, key) to a part of its own, by masks (any options): every
     * row splits its keys differently. */
    MU_SCATTER,
    MU_SPLITS
};

const char *mu_split_name(int how);

/*
 * K partial results. out[k] and lse[k] are what fattn_merge reads; a part
 * whose buffers the split owns has them in out_buf[k] and lse_buf[k] (NULL
 * for a descriptor borrowed from another split).
 */
typedef struct mu_split {
    int32_t parts;
    fattn_tensor *out, *lse;
    float **out_buf, **lse_buf;
} mu_split;

/* Room for `parts` parts, none computed yet (exits if memory runs out). */
void mu_split_init(mu_split *s, int32_t parts);
void mu_split_free(mu_split *s);

/* Part k's output [B, Hq, Sq, Dv] and LSE [B, Hq, Sq, 1] of problem p, each
 * in a random layout (BHSD, BSHD, padded, strided), sentinel-filled. */
void mu_part_buffers(mu_split *s, int32_t k, const fattn_ref_problem *p,
                     fattn_ref_rng *rng);

/* 1 if the problem's options measure key positions (causal, window, ALiBi):
 * MU_VIEWS cannot split it. */
int mu_positional(const fattn_ref_problem *p);

/* Split p's keys `how` into s->parts parts (mu_split_init first) and compute
 * each with fattn_forward on path `isa`. Returns 1, or 0 after a pu_fail. */
int mu_split_problem(mu_split *s, const fattn_ref_problem *p, int how, int isa,
                     fattn_ref_rng *rng, const char *where);

/* A random problem (GQA, masks, lengths, soft-cap, every layout, LSE on)
 * with causal masking, windows and ALiBi only if `positional`; logits near
 * 1e4 with `large`. */
fattn_ref_problem_config mu_random_config(fattn_ref_rng *rng, int positional,
                                          int large);

/* Element (b, h, i, e) of an f32 tensor. */
float *mu_at(const fattn_tensor *t, int64_t b, int64_t h, int64_t i,
             int64_t e);

/* Every element of t set to x. */
void mu_fill(const fattn_tensor *t, float x);

/* Index (b, h, i, e flattened in that order) of the first element that
 * differs between two tensors of one shape, or -1: in its bits, or (bits
 * = 0) in value (NaN equal to NaN, -0 to +0). */
int64_t mu_first_diff(const fattn_tensor *a, const fattn_tensor *b, int bits);

/*
 * The tolerance of a merged output: the kernel tests' |x - ref| <= atol +
 * PU_RTOL |ref| with atol = PU_ATOL plus what the parts' f32 LSEs cost.
 * Weight w_k = exp(l_k - M) inherits l_k's rounding, about |l_k| 2^-24
 * relative, and moves the output by that times the spread of the parts'
 * rows (at most 2 max|V|): negligible for logits of a few units, 1e-3 at
 * the 1e4 of the large-logits mode.
 */
double mu_atol(fattn_ref_problem *p);

/* Worst error over tolerance of the merges checked so far, output and LSE. */
typedef struct mu_totals {
    fattn_ref_report out, lse;
    int64_t merges, failures;
} mu_totals;

void mu_totals_init(mu_totals *t);

/* Print "<category> <merges> merges <failures> failed | output ... | LSE
 * ..." and return the failures. */
int64_t mu_totals_print(const mu_totals *t, const char *category);

/*
 * Merge s into p's own output (and LSE, with with_lse; else lse NULL) and
 * check: status ok, the reference of the whole problem matched within
 * mu_atol(p) + PU_RTOL |ref| (fully masked rows exactly 0 and -inf),
 * every output element written, no layout gap touched, the LSE buffer
 * untouched without with_lse. Returns 1 if all held.
 */
int mu_merge_check(const char *where, fattn_ref_problem *p, const mu_split *s,
                   int with_lse, mu_totals *t);

#endif /* FATTN_MERGE_UTIL_H */
