/*
 * One attention call through fattn built as a Meson subproject, checked
 * against a hand computation.
 */
#include <fattn.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    /* One head, 2 queries, 2 keys, head_dim 4; params NULL: scale
     * 1/sqrt(4) = 1/2. Query 0 scores the keys 0 and ln 3, so their
     * weights are 1/4 and 3/4; query 1 scores both 0: 1/2 and 1/2. */
    const float ln3 = 1.0986123f;
    float q[2 * 4] = {2, 0, 0, 0, 0, 0, 0, 0};
    float k[2 * 4] = {0, 0, 0, 0, ln3, 0, 0, 0};
    float v[2 * 4] = {4, 0, 1, -2, 8, 4, 1, 2};
    const float want[2 * 4] = {7, 3, 1, 1, 6, 2, 1, 0};
    float o[2 * 4];
    char version[32];
    fattn_tensor tq, tk, tv, to;
    fattn_error err;
    fattn_status st;
    int i;

    fattn_tensor_contiguous(&tq, q, FATTN_DTYPE_F32, 1, 1, 2, 4);
    fattn_tensor_contiguous(&tk, k, FATTN_DTYPE_F32, 1, 1, 2, 4);
    fattn_tensor_contiguous(&tv, v, FATTN_DTYPE_F32, 1, 1, 2, 4);
    fattn_tensor_contiguous(&to, o, FATTN_DTYPE_F32, 1, 1, 2, 4);
    st = fattn_forward(&tq, &tk, &tv, &to, NULL, &err);
    if (st != FATTN_OK) {
        fprintf(stderr, "fattn_forward: %s: %s\n", fattn_status_name(st),
                err.message);
        return 1;
    }
    for (i = 0; i < 2 * 4; i++) {
        if (fabsf(o[i] - want[i]) > 1e-5f) {
            fprintf(stderr, "o[%d] = %.9g, expected %g\n", i, o[i], want[i]);
            return 1;
        }
    }
    /* The header and the library come from the same tree. */
    snprintf(version, sizeof version, "%d.%d.%d", FATTN_VERSION_MAJOR,
             FATTN_VERSION_MINOR, FATTN_VERSION_PATCH);
    if (strcmp(fattn_version_string(), version) != 0) {
        fprintf(stderr, "library %s, header %s\n", fattn_version_string(),
                version);
        return 1;
    }
    printf("fattn %s as a subproject works\n", version);
    return 0;
}
