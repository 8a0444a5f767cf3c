/*
 * The public header compiled alone as C11 (-pedantic -Werror): fattn.h is the
 * first and only project include, and must bring everything it uses.
 */
#include "fattn.h"
#include "fattn.h" /* include guard */

#include <stdio.h>
#include <string.h>

int main(void)
{
    float data[2 * 3 * 4 * 5] = {0};
    fattn_tensor t;
    fattn_params params = {0};
    fattn_error err = {0, {0}};
    int failures = 0;

    fattn_tensor_contiguous(&t, data, FATTN_DTYPE_F32, 2, 3, 4, 5);
    if (t.shape[FATTN_DIM_HEAD_DIM] != 5 || t.stride[FATTN_DIM_BATCH] != 60 ||
        t.stride[FATTN_DIM_SEQ] != 5 || t.stride[FATTN_DIM_HEAD_DIM] != 1) {
        fprintf(stderr, "fattn_tensor_contiguous: unexpected shape/strides\n");
        failures++;
    }
    if (strcmp(fattn_status_name(FATTN_OK), "ok") != 0 ||
        strcmp(fattn_status_name(FATTN_ERR_SHAPE_MISMATCH), "shape_mismatch") != 0 ||
        strcmp(fattn_isa_name(FATTN_ISA_SCALAR), "scalar") != 0) {
        fprintf(stderr, "status or isa names differ from the header\n");
        failures++;
    }
    if (FATTN_VERSION_NUMBER != FATTN_VERSION_MAJOR * 10000 +
                                    FATTN_VERSION_MINOR * 100 +
                                    FATTN_VERSION_PATCH ||
        fattn_version_string() == NULL) {
        fprintf(stderr, "version macros or string broken\n");
        failures++;
    }
    params.version = FATTN_PARAMS_VERSION;
    params.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    params.window_left = FATTN_WINDOW_UNLIMITED;
    if (fattn_check(&t, &t, &t, NULL, &params, &err) == FATTN_OK ||
        err.status == FATTN_OK || err.message[0] == '\0') {
        fprintf(stderr, "fattn_check accepted a NULL output\n");
        failures++;
    }
    if (sizeof err.message != FATTN_ERROR_MESSAGE_SIZE) {
        fprintf(stderr, "fattn_error.message has the wrong size\n");
        failures++;
    }
    if (failures == 0)
        printf("header_c: ok (fattn %s)\n", fattn_version_string());
    return failures != 0;
}
