/*
 * fuzz_common.c - see fuzz_common.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define FZ_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FZ_SANITIZER 1
#endif

#ifdef FZ_SANITIZER
/* The sanitizer runtime's hook: called before it aborts on a report. */
void __sanitizer_set_death_callback(void (*callback)(void));
#endif

static fz_describe_fn describe;

static void describe_on_death(void)
{
    if (describe) {
        fprintf(stderr, "The case that led to this report:\n");
        describe();
    }
}

/*
 * Under libFuzzer the death callback is libFuzzer's own (it saves the
 * input), so the case is described on a sanitizer report only when
 * FUZZ_DESCRIBE is set, as when reproducing a finding; the replay driver
 * always describes it.
 */
void fz_set_describe(fz_describe_fn fn)
{
    describe = fn;
#ifdef FZ_SANITIZER
    static int hooked;
#ifdef FZ_LIBFUZZER
    const int want = getenv("FUZZ_DESCRIBE") != NULL;
#else
    const int want = 1;
#endif
    if (!hooked && want) {
        __sanitizer_set_death_callback(describe_on_death);
        hooked = 1;
    }
#else
    (void)describe_on_death;
#endif
}

void fz_finding(const char *harness, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FINDING %s: ", harness);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (describe)
        describe();
    fflush(stderr);
    abort();
}

void fz_poison_error(fattn_error *err)
{
    err->status = -12345;
    memset(err->message, 'Z', sizeof err->message);
}

const char *fz_record_problem(const fattn_error *err, fattn_status st,
                              const char *fn)
{
    const size_t cap = sizeof err->message;
    const size_t len = strnlen(err->message, cap);
    if (err->status != (int32_t)st)
        return "error record status differs from the returned status";
    if (len == cap)
        return "error message is not NUL-terminated";
    if (st == FATTN_OK)
        return len == 0 ? NULL : "success left a non-empty message";
    if (len == 0)
        return "error without a message";
    for (size_t k = 0; k < len; k++) {
        const unsigned char c = (unsigned char)err->message[k];
        if (c == '\n' || c == '\r')
            return "error message is more than one line";
        if (c < 0x20 || c == 0x7f)
            return "error message has a control character";
    }
    const size_t fl = strlen(fn);
    if (len < fl + 2 || strncmp(err->message, fn, fl) != 0 ||
        err->message[fl] != ':' || err->message[fl + 1] != ' ')
        return "error message does not start with \"<function>: \"";
    return NULL;
}
