/*
 * validate.h - what test_validate.c and validate_misc.c share.
 */
#ifndef FATTN_TEST_VALIDATE_H
#define FATTN_TEST_VALIDATE_H

#include "fattn.h"

#include <stdio.h>

extern int failures;
extern int reached[FATTN_STATUS_COUNT]; /* statuses some check returned */

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                        \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* The record's promises: status, one NUL-terminated line starting with
 * "<fn>: ", the text after it msg exactly (NULL: any non-empty text). */
void check_record(const char *name, const fattn_error *e, fattn_status want,
                  const char *fn, const char *msg);

void test_peak(void);
void test_extremes(void);
void test_status_names(void);
void test_packed(void);

#endif /* FATTN_TEST_VALIDATE_H */
