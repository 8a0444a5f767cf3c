/*
 * error.c - status names and the error record.
 *
 * One static table of names (zstd's ZSTD_getErrorName habit); messages go only
 * into the caller's record, never to a global or thread-local.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[FATTN_STATUS_COUNT] = {
    [FATTN_OK] = "ok",
    [FATTN_ERR_NULL_POINTER] = "null_pointer",
    [FATTN_ERR_INVALID_ENUM] = "invalid_enum",
    [FATTN_ERR_UNSUPPORTED_DTYPE] = "unsupported_dtype",
    [FATTN_ERR_DTYPE_MISMATCH] = "dtype_mismatch",
    [FATTN_ERR_INVALID_DIMENSION] = "invalid_dimension",
    [FATTN_ERR_SHAPE_MISMATCH] = "shape_mismatch",
    [FATTN_ERR_NOT_DIVISIBLE] = "not_divisible",
    [FATTN_ERR_INVALID_STRIDE] = "invalid_stride",
    [FATTN_ERR_SIZE_OVERFLOW] = "size_overflow",
    [FATTN_ERR_INVALID_VALUE] = "invalid_value",
    [FATTN_ERR_OVERLAP] = "overlap",
    [FATTN_ERR_OUT_OF_MEMORY] = "out_of_memory",
    [FATTN_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [FATTN_ERR_ISA_UNAVAILABLE] = "isa_unavailable",
    [FATTN_ERR_MISALIGNED] = "misaligned",
    [FATTN_ERR_INCOMPATIBLE_OPTIONS] = "incompatible_options",
};

const char *fattn_status_name(int status)
{
    if (status < 0 || status >= FATTN_STATUS_COUNT || !status_names[status])
        return "unknown_status";
    return status_names[status];
}

const char *fattn_version_string(void)
{
#define FATTN_STR2(x) #x
#define FATTN_STR(x) FATTN_STR2(x)
    return FATTN_STR(FATTN_VERSION_MAJOR) "." FATTN_STR(
        FATTN_VERSION_MINOR) "." FATTN_STR(FATTN_VERSION_PATCH);
}

void fattn_ok(fattn_error *err)
{
    if (err) {
        err->status = FATTN_OK;
        err->message[0] = '\0';
    }
}

fattn_status fattn_fail(fattn_error *err, fattn_status code, const char *fn,
                        const char *fmt, ...)
{
    if (!err)
        return code;
    err->status = (int32_t)code;
    int n = snprintf(err->message, sizeof err->message, "%s: ", fn);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof err->message) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* The record promises one line: no caller-supplied text can break it. */
    for (char *c = err->message; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return code;
}
