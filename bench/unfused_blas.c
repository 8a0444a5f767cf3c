/*
 * unfused_blas.c - the unfused baseline on OpenBLAS: cblas_sgemm for
 * scale * Q.K^T, the option pass and the vectorised row softmax
 * (unfused.c), cblas_sgemm for P.V. One thread (openblas_set_num_threads).
 * Without OpenBLAS at configure time, unfused_blas_built() returns 0 and
 * the cases report that instead of a time.
 */
#include "unfused.h"

#include "fattn.h"

#include <math.h>
#include <string.h>

#if defined(BENCH_HAVE_OPENBLAS)
#include <cblas.h>

int unfused_blas_built(void)
{
    return 1;
}

const char *unfused_blas_setup(void)
{
    openblas_set_num_threads(1);
    return openblas_get_corename();
}

int unfused_blas_isa(void)
{
    static const char *const avx512_cores[] = {"skylakex", "cooperlake",
                                               "sapphirerapids"};
    static const char *const avx2_cores[] = {"haswell", "zen"};
    const char *core = openblas_get_corename();
    char lower[64];
    size_t k;

    for (k = 0; core != NULL && core[k] != '\0' && k + 1 < sizeof lower; k++)
        lower[k] = (char)(core[k] >= 'A' && core[k] <= 'Z' ? core[k] - 'A' + 'a'
                                                           : core[k]);
    lower[k] = '\0';
    for (k = 0; k < sizeof avx512_cores / sizeof *avx512_cores; k++)
        if (strcmp(lower, avx512_cores[k]) == 0)
            return FATTN_ISA_AVX512;
    for (k = 0; k < sizeof avx2_cores / sizeof *avx2_cores; k++)
        if (strcmp(lower, avx2_cores[k]) == 0)
            return FATTN_ISA_AVX2;
    return FATTN_ISA_SCALAR; /* no FMA peak to compare with */
}

void unfused_blas_run(const fattn_ref_problem *p, float *scores)
{
    const int64_t B = p->query.shape[0], Hkv = p->key.shape[1];
    const int64_t d = p->query.shape[3], dv = p->value.shape[3];
    const float scale = p->params.scale > 0.0f ? p->params.scale
                                               : 1.0f / sqrtf((float)d);
    const int mask_pass = unfused_needs_mask_pass(p) || p->params.softcap > 0.0f;

    for (int64_t b = 0; b < B; b++) {
        int64_t m, n;

        unfused_group_dims(p, b, &m, &n);
        for (int64_t g = 0; g < Hkv; g++) {
            unfused_group grp;

            unfused_group_data(p, b, g, &grp);
            if (m > 0 && n > 0) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m,
                            (int)n, (int)d, scale, grp.q, (int)d, grp.k, (int)d,
                            0.0f, scores, (int)n);
                if (mask_pass)
                    unfused_mask_pass(p, b, g, m, n, scores, 1);
                unfused_softmax_rows(scores, m, n, n);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                            (int)dv, (int)n, 1.0f, scores, (int)n, grp.v,
                            (int)dv, 0.0f, grp.o, (int)dv);
            }
            unfused_finish_group(p, b, g, m, n);
        }
    }
}

#else /* !BENCH_HAVE_OPENBLAS */

int unfused_blas_built(void)
{
    return 0;
}

const char *unfused_blas_setup(void)
{
    return NULL;
}

int unfused_blas_isa(void)
{
    return FATTN_ISA_SCALAR;
}

void unfused_blas_run(const fattn_ref_problem *p, float *scores)
{
    (void)p;
    (void)scores;
}

#endif
