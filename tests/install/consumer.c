/*
 * A program built against the *installed* libfattn (headers and flags from
 * fattn.pc), as a user of the library would build it.
 */
#include <fattn.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    /* One head, 2 queries, 3 keys, head_dim 2. Q = 0, so every visible key
     * gets the same weight and the output is the mean of the visible V rows. */
    float q[2 * 2] = {0};
    float k[3 * 2] = {0};
    float v[3 * 2] = {1, 10, 2, 20, 6, 60};
    float o[2 * 2];
    fattn_tensor tq, tk, tv, to;
    fattn_params params = {0};
    fattn_error err;
    fattn_status st;

    fattn_tensor_contiguous(&tq, q, FATTN_DTYPE_F32, 1, 1, 2, 2);
    fattn_tensor_contiguous(&tk, k, FATTN_DTYPE_F32, 1, 1, 3, 2);
    fattn_tensor_contiguous(&tv, v, FATTN_DTYPE_F32, 1, 1, 3, 2);
    fattn_tensor_contiguous(&to, o, FATTN_DTYPE_F32, 1, 1, 2, 2);
    params.causal = FATTN_CAUSAL_BOTTOM_RIGHT; /* row 0 sees keys 0-1 */
    st = fattn_forward(&tq, &tk, &tv, &to, &params, &err);
    if (st != FATTN_OK) {
        fprintf(stderr, "fattn_forward: %s: %s\n", fattn_status_name(st),
                err.message);
        return 1;
    }
    if (fabsf(o[0] - 1.5f) > 1e-6f || fabsf(o[1] - 15.0f) > 1e-5f ||
        fabsf(o[2] - 3.0f) > 1e-6f || fabsf(o[3] - 30.0f) > 1e-5f) {
        fprintf(stderr, "unexpected output %g %g %g %g\n", o[0], o[1], o[2],
                o[3]);
        return 1;
    }
    if (strcmp(fattn_version_string(), "") == 0)
        return 1;
    printf("installed fattn %s works\n", fattn_version_string());
    return 0;
}
