/*
 * fuzz_common.h - what every harness in fuzz/ shares: the libFuzzer entry
 * point's prototype, how a finding is reported, and the error-record rules.
 *
 * A finding prints one block to stderr starting with "FINDING <harness>:"
 * and the property that failed, then the harness's description of the case,
 * and aborts, so libFuzzer (or the replay driver) stops and keeps the input.
 */
#ifndef FATTN_FUZZ_COMMON_H
#define FATTN_FUZZ_COMMON_H

#include "fattn.h"

#include <stddef.h>
#include <stdint.h>

/* Implemented by each harness; called by libFuzzer or by replay.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional per-harness description of the current case, printed after a
 * finding's first line (NULL: none). */
typedef void (*fz_describe_fn)(void);
void fz_set_describe(fz_describe_fn fn);

/* Report a finding and abort. */
void fz_finding(const char *harness, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

/* Fill an error record with junk (no NUL anywhere), so a record the library
 * failed to fill is visible. */
void fz_poison_error(fattn_error *err);

/*
 * The record contract of fattn.h: `status` equals the returned status; on
 * success the message is empty; on an error it is non-empty, NUL-terminated
 * inside the buffer, one line (no '\n' or '\r'), printable, and starts with
 * "<fn>: ". Returns NULL if it holds, else what is wrong (static text).
 */
const char *fz_record_problem(const fattn_error *err, fattn_status st,
                              const char *fn);

#endif /* FATTN_FUZZ_COMMON_H */
