/*
 * test_merge.c - fattn_merge against the fp64 reference of the whole
 * problem (fattn.h, "Merging partial results").
 *
 * Random problems (tests/reference: GQA, f32 and bool masks with
 * broadcasting, lengths, soft-cap, ALiBi, causal modes, windows, every
 * layout, large logits) have their keys split into 1-8 parts, each computed
 * by fattn_forward on a random path into an output and LSE of its own
 * layout, and merged, with or without the LSE, into the problem's own
 * output; the result must match the reference of the whole problem
 * (merge_util.h: the splits, the tolerance). Categories:
 *   views    contiguous key ranges as sub-views (no positional options)
 *   ranges   contiguous key ranges as masks, any options
 *   scatter  every (row, key) to a random part, any options
 *   large    logits near 1e4 (the tolerance grows with the LSE: f32 LSEs)
 *   blocks   Dv around the merge's column blocks (1, 255, 256, 257, 600)
 *   parts    FATTN_MAX_MERGE_PARTS ranges of a few keys each
 *   prefix   a shared prefix (keys broadcast over the batch, no mask) plus
 *            ragged bottom-right causal suffixes, the serving use case
 *
 * `test_merge [seed]` (default 1): the seed of every random choice; a
 * failure prints the problem, its own seed included.
 */
#include "merge_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int isas[FATTN_ISA_COUNT], n_isas;

static int64_t R(fattn_ref_rng *rng, int64_t lo, int64_t hi)
{
    return fattn_ref_rng_range(rng, lo, hi);
}

/* Build, split `how` into `parts`, merge, check; free. */
static void run_case(const char *category, const fattn_ref_problem_config *cfg,
                     int how, int32_t parts, fattn_ref_rng *rng, mu_totals *t)
{
    char where[160];
    fattn_ref_problem p;
    mu_split s;
    const int isa = isas[R(rng, 0, n_isas - 1)];
    pu_problem(&p, cfg);
    mu_split_init(&s, parts);
    snprintf(where, sizeof where, "%s, %s split, %" PRId32 " parts, parts on %s",
             category, mu_split_name(how), parts, fattn_isa_name(isa));
    if (mu_split_problem(&s, &p, how, isa, rng, where))
        mu_merge_check(where, &p, &s, (int)R(rng, 0, 3) != 0, t);
    else
        t->failures++;
    mu_split_free(&s);
    fattn_ref_problem_free(&p);
}

static void test_random(const char *category, int how, int large, int cases,
                        fattn_ref_rng *rng)
{
    mu_totals t;
    mu_totals_init(&t);
    for (int n = 0; n < cases; n++) {
        const fattn_ref_problem_config c = mu_random_config(rng, how != MU_VIEWS, large);
        const int split = large ? (int)R(rng, MU_RANGES, MU_SCATTER) : how;
        run_case(category, &c, split, (int32_t)R(rng, 1, 8), rng, &t);
    }
    mu_totals_print(&t, category);
}

/* The merge combines Dv in blocks of columns: around their edges. */
static void test_blocks(fattn_ref_rng *rng)
{
    static const int64_t dvs[] = {1, 255, 256, 257, 600};
    mu_totals t;
    mu_totals_init(&t);
    for (size_t n = 0; n < PU_COUNT(dvs); n++) {
        fattn_ref_problem_config c = mu_random_config(rng, 1, 0);
        c.batch = 1;
        c.seq_q = R(rng, 1, 5);
        c.head_dim_v = dvs[n];
        if (c.layout == FATTN_REF_LAYOUT_FUSED_QKV)
            c.layout = FATTN_REF_LAYOUT_BHSD;
        run_case("blocks", &c, MU_SCATTER, (int32_t)R(rng, 2, 5), rng, &t);
    }
    mu_totals_print(&t, "blocks");
}

/* The most parts a call takes, each a range of a few keys. */
static void test_max_parts(fattn_ref_rng *rng)
{
    mu_totals t;
    mu_totals_init(&t);
    fattn_ref_problem_config c;
    fattn_ref_config_init(&c, 1, 2, 3, 2 * FATTN_MAX_MERGE_PARTS, 8);
    c.seed = fattn_ref_rng_next(rng);
    c.lse = 1;
    c.mask = FATTN_REF_MASK_BOOL;
    c.mask_drop = 0.2;
    run_case("parts", &c, MU_VIEWS, FATTN_MAX_MERGE_PARTS, rng, &t);
    mu_totals_print(&t, "parts");
}

/*
 * Serving with a shared prefix: B sequences share P prefix tokens (one
 * key/value block, broadcast over the batch with stride 0) and each has its
 * own suffix of kv_lengths[b] tokens, whose last Sq are the queries. The
 * prefix precedes every query, so it is attended without a mask; the
 * suffix with bottom-right causal masking, which lines its keys up with the
 * queries as in the whole sequence. Their merge must be the attention over
 * prefix + suffix, bottom-right causal, kv_lengths P + kv_lengths[b].
 */
static void test_prefix(fattn_ref_rng *rng, int cases)
{
    mu_totals t;
    mu_totals_init(&t);
    for (int n = 0; n < cases; n++) {
        const int64_t B = R(rng, 1, 3), hkv = R(rng, 1, 2), hq = hkv * R(rng, 1, 3);
        const int64_t P = R(rng, 0, 50), Sq = R(rng, 1, 8), Ssuf = Sq + R(rng, 0, 30);
        const int64_t D = R(rng, 1, 32);
        const int isa = isas[R(rng, 0, n_isas - 1)];
        fattn_ref_problem_config c;
        fattn_ref_config_init(&c, B, hq, Sq, Ssuf, D);
        c.seed = fattn_ref_rng_next(rng);
        c.heads_kv = hkv;
        c.layout = (int)R(rng, 0, FATTN_REF_LAYOUT_STRIDED);
        c.lse = 1;
        c.kv_lengths = 1;
        c.params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
        fattn_ref_problem sfx, pre;
        pu_problem(&sfx, &c);
        for (int64_t b = 0; b < B; b++) /* the queries are the suffix's last */
            sfx.kv_lengths[b] = R(rng, Sq, Ssuf);
        fattn_ref_config_init(&c, 1, hkv, 1, P, D);
        c.seed = fattn_ref_rng_next(rng);
        pu_problem(&pre, &c);
        fattn_tensor pk = pre.key, pv = pre.value;
        pk.shape[0] = pv.shape[0] = B;
        pk.stride[0] = pv.stride[0] = 0;

        /* The whole sequences, for the reference. */
        const int64_t S = P + Ssuf;
        fattn_tensor fk, fv;
        float *kbuf = pu_xalloc((size_t)(B * hkv * S * D) * sizeof(float));
        float *vbuf = pu_xalloc((size_t)(B * hkv * S * D) * sizeof(float));
        fattn_tensor_contiguous(&fk, kbuf, FATTN_DTYPE_F32, B, hkv, S, D);
        fattn_tensor_contiguous(&fv, vbuf, FATTN_DTYPE_F32, B, hkv, S, D);
        for (int64_t b = 0; b < B; b++)
            for (int64_t g = 0; g < hkv; g++)
                for (int64_t j = 0; j < S; j++)
                    for (int64_t d = 0; d < D; d++) {
                        const int in_prefix = j < P;
                        const int64_t jj = in_prefix ? j : j - P;
                        *mu_at(&fk, b, g, j, d) = *mu_at(in_prefix ? &pk : &sfx.key, b, g, jj, d);
                        *mu_at(&fv, b, g, j, d) = *mu_at(in_prefix ? &pv : &sfx.value, b, g, jj, d);
                    }
        int64_t full_len[3];
        for (int64_t b = 0; b < B; b++)
            full_len[b] = P + sfx.kv_lengths[b];

        mu_split s;
        fattn_error err;
        char where[160];
        snprintf(where, sizeof where, "prefix %" PRId64 " + suffix on %s", P,
                 fattn_isa_name(isa));
        mu_split_init(&s, 2);
        mu_part_buffers(&s, 0, &sfx, rng);
        mu_part_buffers(&s, 1, &sfx, rng);
        fattn_params pp;
        memset(&pp, 0, sizeof pp);
        pp.isa = isa;
        pp.lse = &s.lse[0];
        fattn_status st = fattn_forward(&sfx.query, &pk, &pv, &s.out[0], &pp, &err);
        pu_expect(where, st, &err, FATTN_OK, NULL);
        pp = sfx.params;
        pp.isa = isa;
        pp.lse = &s.lse[1];
        st = fattn_forward(&sfx.query, &sfx.key, &sfx.value, &s.out[1], &pp, &err);
        pu_expect(where, st, &err, FATTN_OK, NULL);
        st = fattn_merge(2, s.out, s.lse, &sfx.output, &sfx.lse, &err);
        t.merges++;
        if (pu_expect(where, st, &err, FATTN_OK, NULL)) {
            fattn_params full = sfx.params;
            full.kv_lengths = full_len;
            fattn_ref_report ro, rl;
            double ref_row[32], ref_lse;
            fattn_ref_report_init(&ro);
            fattn_ref_report_init(&rl);
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < hq; h++)
                    for (int64_t i = 0; i < Sq; i++) {
                        fattn_ref_row(&sfx.query, &fk, &fv, &full, b, h, i, ref_row, &ref_lse);
                        fattn_ref_compare_row(&ro, &rl, &sfx.output, &sfx.lse, b, h, i,
                                              ref_row, ref_lse, PU_ATOL, PU_RTOL);
                    }
            if (ro.violations || rl.violations) {
                const fattn_ref_report *w = ro.violations ? &ro : &rl;
                t.failures++;
                pu_fail(where, "%" PRId64 " output and %" PRId64 " LSE elements beyond the "
                        "tolerance, worst at b=%" PRId64 " h=%" PRId64 " i=%" PRId64 " d=%" PRId64
                        ": got %.9g, reference %.9g\n  %s",
                        ro.violations, rl.violations, w->worst[0], w->worst[1], w->worst[2],
                        w->worst[3], w->worst_got, w->worst_ref, pu_describe(&sfx));
            }
            fattn_ref_report_merge(&t.out, &ro);
            fattn_ref_report_merge(&t.lse, &rl);
            if (fattn_ref_problem_gaps_touched(&sfx) != 0 ||
                fattn_ref_problem_unwritten(&sfx) != 0)
                pu_fail(where, "a layout gap written or an element left\n  %s",
                        pu_describe(&sfx));
        }
        mu_split_free(&s);
        free(kbuf);
        free(vbuf);
        fattn_ref_problem_free(&sfx);
        fattn_ref_problem_free(&pre);
    }
    mu_totals_print(&t, "prefix");
}

int main(int argc, char **argv)
{
    const uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    fattn_ref_rng rng;
    fattn_ref_rng_seed(&rng, seed);
    n_isas = pu_paths(isas, FATTN_ISA_COUNT);
    printf("seed %" PRIu64 " (test_merge SEED reruns with another)\n", seed);
    test_random("views", MU_VIEWS, 0, 60, &rng);
    test_random("ranges", MU_RANGES, 0, 60, &rng);
    test_random("scatter", MU_SCATTER, 0, 60, &rng);
    test_random("large", MU_SCATTER, 1, 30, &rng);
    test_blocks(&rng);
    test_max_parts(&rng);
    test_prefix(&rng, 30);
    return pu_finish("test_merge");
}
