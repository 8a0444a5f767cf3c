/*
 * context_parallel_mpi.c - attention over a context too long for one
 * process: the keys and values are sharded across MPI ranks (context
 * parallelism), every rank holds the same queries (the newest Sq tokens),
 * attends them to its own shard with fattn_forward, and sends its partial
 * output and LSE to rank 0, which combines them with fattn_merge. Rank 0
 * then checks the merged result against one fattn_forward over all keys.
 *
 *   mpirun -n R context_parallel_mpi [--queries Sq] [--keys Sk] [--seed S]
 *
 * Exits 1 if the merged result is off by more than the tolerance derived
 * below; a library error on any rank aborts the job (MPI_Abort).
 */
#include <fattn.h>
#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H = 8, D = 64 };
enum { TENSOR_Q = 1, TENSOR_K, TENSOR_V };

/* Element `index` of a tensor, uniform in [-1, 1): a hash of (seed, tensor,
 * index) rather than a sequential generator, so that every rank computes
 * the elements of its shard, the same ones, without computing the rest. */
static float element(uint64_t seed, uint64_t tensor, uint64_t index)
{
    uint64_t z = (seed << 8 | tensor) * 0xd1b54a32d192ed03u +
                 index * 0x9e3779b97f4a7c15u; /* then splitmix64's mix */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (float)(z >> 40) * 0x1p-23f - 1.0f;
}

/* An f32 [1, H, rows, cols] view of p, contiguous. */
static fattn_tensor f32(float *p, int64_t rows, int64_t cols)
{
    fattn_tensor t;
    fattn_tensor_contiguous(&t, p, FATTN_DTYPE_F32, 1, H, rows, cols);
    return t;
}

/* Positions [lo, lo + n) of the [1, H, len, D] tensor `which`, as their
 * own tensor. n may be 0; the data pointer must not be NULL even then. */
static fattn_tensor slice(uint64_t seed, uint64_t which, int64_t len,
                          int64_t lo, int64_t n)
{
    float *p = malloc(sizeof(float) * (size_t)(H * (n ? n : 1) * D));
    if (!p)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (int64_t h = 0; h < H; h++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t d = 0; d < D; d++) {
                const int64_t at = (h * len + lo + j) * D + d;
                p[(h * n + j) * D + d] = element(seed, which, (uint64_t)at);
            }
    return f32(p, n, D);
}

static void check(fattn_status st, const fattn_error *err, int rank)
{
    if (st != FATTN_OK) {
        fprintf(stderr, "context_parallel_mpi: rank %d: %s\n", rank,
                err->message);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    long sq = 16, sk = 4096;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        char *end = NULL, *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(argv[i], "--queries"))
            sq = strtol(v, &end, 10);
        else if (v && !strcmp(argv[i], "--keys"))
            sk = strtol(v, &end, 10);
        else if (v && !strcmp(argv[i], "--seed"))
            seed = strtoull(v, &end, 10);
        i++;
        if (!end || *end || end == v || sq < 1 || sq > 4096 || sk < 1 ||
            sk > (1L << 24)) {
            if (rank == 0)
                fprintf(stderr, "usage: context_parallel_mpi [--queries "
                                "1..4096] [--keys 1..2^24] [--seed S]\n");
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    /* Near-equal contiguous shards; with more ranks than keys some are
     * empty, which needs nothing special: fattn_forward over 0 keys gives
     * output 0 and LSE -inf, a part that fattn_merge skips. */
    const int64_t lo = sk * rank / ranks, n = sk * (rank + 1) / ranks - lo;
    /* The queries are the last Sq tokens, so causal masking concerns only
     * the shard that holds their positions: the last one, aligned
     * bottom-right (its last key is the last query's own). Earlier shards
     * are wholly in the past (no mask) if the last holds >= Sq keys. */
    const int64_t last_n = sk - sk * (ranks - 1) / ranks;
    if (last_n < sq || ranks > FATTN_MAX_MERGE_PARTS) {
        if (rank == 0)
            fprintf(stderr, "context_parallel_mpi: the last shard (%lld "
                            "keys) must hold the %ld queries, and ranks <= "
                            "%d (one merge)\n", (long long)last_n, sq,
                    FATTN_MAX_MERGE_PARTS);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    /* The same queries on every rank; this rank's keys and values. */
    fattn_tensor q = slice(seed, TENSOR_Q, sq, 0, sq);
    fattn_tensor k = slice(seed, TENSOR_K, sk, lo, n);
    fattn_tensor v = slice(seed, TENSOR_V, sk, lo, n);
    /* A part as sent: output [1, H, Sq, D], then LSE [1, H, Sq, 1]. */
    const int64_t n_out = H * sq * D, part = n_out + H * sq;
    float *send = malloc(sizeof(float) * (size_t)part);
    float *recv = malloc(sizeof(float) * (size_t)(rank ? 1 : part * ranks));
    if (!send || !recv)
        MPI_Abort(MPI_COMM_WORLD, 1);
    fattn_tensor o = f32(send, sq, D), lse = f32(send + n_out, sq, 1);
    fattn_params params = {0};
    params.causal = rank == ranks - 1 ? FATTN_CAUSAL_BOTTOM_RIGHT
                                      : FATTN_CAUSAL_NONE;
    params.lse = &lse; /* the LSE is what makes partial outputs mergeable */
    fattn_error err;
    check(fattn_forward(&q, &k, &v, &o, &params, &err), &err, rank);
    MPI_Gather(send, (int)part, MPI_FLOAT, recv, (int)part, MPI_FLOAT, 0,
               MPI_COMM_WORLD);

    int failed = 0;
    if (rank == 0) {
        fattn_tensor *outs = malloc(sizeof *outs * (size_t)ranks);
        fattn_tensor *lses = malloc(sizeof *lses * (size_t)ranks);
        float *merged = malloc(sizeof(float) * (size_t)part);
        float *whole = malloc(sizeof(float) * (size_t)part);
        if (!outs || !lses || !merged || !whole)
            MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 0; r < ranks; r++) {
            outs[r] = f32(recv + r * part, sq, D);
            lses[r] = f32(recv + r * part + n_out, sq, 1);
        }
        o = f32(merged, sq, D);
        lse = f32(merged + n_out, sq, 1);
        check(fattn_merge(ranks, outs, lses, &o, &lse, &err), &err, rank);

        /* One process over all keys, bottom-right causal. */
        fattn_tensor fk = slice(seed, TENSOR_K, sk, 0, sk);
        fattn_tensor fv = slice(seed, TENSOR_V, sk, 0, sk);
        o = f32(whole, sq, D);
        lse = f32(whole + n_out, sq, 1);
        params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
        check(fattn_forward(&q, &fk, &fv, &o, &params, &err), &err, rank);

        /* Tolerance. Both results sum the same f32 products of each row in
         * other groupings; reordering a sum of Sk terms moves it by at most
         * about Sk * 2^-24 of their magnitudes, in the numerator and in the
         * denominator of each output (a convex combination of V rows):
         * (2 Sk + 64) * 2^-24 * max|V|, 64 for the exps. The merge adds its
         * own (fattn.h, fattn_merge, "Accuracy"): each part's weight carries
         * its LSE's rounding, |lse| * 2^-24, into the output, times the
         * spread of the parts' rows, at most 2 max|V|. The LSE, the log of
         * the same sums, is off by their relative error plus its rounding.
         * That bound is loose; the paths reach about 1 ulp, so a warning
         * at 16 ulps shows an accuracy regression the bound lets through. */
        double max_v = 0, max_lse = 0, err_o = 0, err_l = 0;
        for (int64_t i = 0; i < H * sk * D; i++)
            max_v = fmax(max_v, fabs(((const float *)fv.data)[i]));
        for (int64_t i = 0; i < H * sq; i++) {
            for (int r = 0; r < ranks; r++) /* -inf: an empty part */
                if (isfinite(recv[r * part + n_out + i]))
                    max_lse = fmax(max_lse, fabs(recv[r * part + n_out + i]));
            max_lse = fmax(max_lse, fabs(whole[n_out + i]));
            err_l = fmax(err_l, fabs(merged[n_out + i] - whole[n_out + i]));
        }
        for (int64_t i = 0; i < n_out; i++)
            err_o = fmax(err_o, fabs(merged[i] - whole[i]));
        const double u = 0x1p-24, lse_term = 2 * max_lse * u * max_v;
        const double tol_o = (double)(2 * sk + 64) * u * max_v + lse_term;
        const double warn_o = 16 * u * max_v + lse_term;
        const double tol_l = ((double)(sk + 64) + 4 * max_lse) * u;
        const double warn_l = (16 + 4 * max_lse) * u;
        failed = !(err_o <= tol_o && err_l <= tol_l);
        const char *verdict = failed ? "FAILED"
                              : err_o > warn_o || err_l > warn_l
                                  ? "WARNING: far above rounding"
                                  : "ok";
        printf("context_parallel_mpi: %d ranks, H %d, Sq %ld, Sk %ld, D %d,"
               " shards of %lld..%lld keys\n", ranks, H, sq, sk, D,
               (long long)(sk / ranks), (long long)((sk + ranks - 1) / ranks));
        printf("context_parallel_mpi: merged vs one process: output max abs "
               "error %.3g = %.3g max|V| (warning above %.3g, failure above "
               "%.3g); LSE max abs error %.3g (%.3g, %.3g): %s\n", err_o,
               err_o / max_v, warn_o, tol_o, err_l, warn_l, tol_l, verdict);
        free(fk.data), free(fv.data), free(whole), free(merged);
        free(lses), free(outs);
    }
    free(recv), free(send), free(q.data), free(k.data), free(v.data);
    /* Every rank returns rank 0's verdict. */
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return failed;
}
