// The public header compiled alone as C++11 (-pedantic -Werror): extern "C"
// linkage, no C-only constructs, usable from C++ callers.
#include "fattn.h"

#include <cstdio>
#include <cstring>

static_assert(FATTN_STATUS_COUNT == FATTN_ERR_INCOMPATIBLE_OPTIONS + 1,
              "FATTN_STATUS_COUNT is one more than the largest code");
static_assert(sizeof(fattn_error::message) == FATTN_ERROR_MESSAGE_SIZE,
              "error message buffer size");

int main()
{
    float data[1 * 2 * 3 * 4] = {};
    fattn_tensor t;
    fattn_params params = fattn_params();
    fattn_error err = fattn_error();
    int failures = 0;

    fattn_tensor_contiguous(&t, data, FATTN_DTYPE_F32, 1, 2, 3, 4);
    if (t.stride[FATTN_DIM_HEADS] != 12 || t.shape[FATTN_DIM_SEQ] != 3) {
        std::fprintf(stderr, "fattn_tensor_contiguous: unexpected strides\n");
        failures++;
    }
    if (std::strcmp(fattn_status_name(FATTN_ERR_NOT_DIVISIBLE),
                    "not_divisible") != 0 ||
        std::strcmp(fattn_status_name(-1), "unknown_status") != 0) {
        std::fprintf(stderr, "fattn_status_name differs from the header\n");
        failures++;
    }
    if (!fattn_isa_available(FATTN_ISA_AUTO)) {
        std::fprintf(stderr, "FATTN_ISA_AUTO must always be available\n");
        failures++;
    }
    params.version = FATTN_PARAMS_VERSION;
    params.isa = FATTN_ISA_SCALAR;
    if (fattn_check(&t, &t, &t, nullptr, &params, &err) == FATTN_OK ||
        err.message[0] == '\0') {
        std::fprintf(stderr, "fattn_check accepted a NULL output\n");
        failures++;
    }
    if (failures == 0)
        std::printf("header_cpp: ok (fattn %s)\n", fattn_version_string());
    return failures != 0;
}
