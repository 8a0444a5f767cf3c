/*
 * args.c - strict parsing of the command line: every number must be a whole
 * decimal integer in range, every error names the option it is about.
 */
#include "cli.h"

#include "fattn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fattn %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'fattn %s --help')\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_take_option(const char *cmd, int argc, char **argv, int *i,
                    const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);

    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0; /* a longer option sharing the prefix, e.g. --seq-k */
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "option %s needs a value", name);
        return -1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits only after an optional sign: strtoll alone would accept leading
 * blanks and a "0x" prefix is not decimal either. */
static int is_decimal(const char *text, int allow_sign)
{
    const char *p = text;

    if (allow_sign && (*p == '-' || *p == '+'))
        p++;
    if (*p == '\0')
        return 0;
    for (; *p != '\0'; p++) {
        if (!is_digit(*p))
            return 0;
    }
    return 1;
}

/* After strto(u)ll of a string that is_decimal accepted: 0, or -1 after
 * reporting an overflow. */
static int check_range(const char *cmd, const char *opt, const char *text,
                       const char *end)
{
    if (errno == ERANGE || *end != '\0') {
        cli_usage_error(cmd, "%s: '%s' is out of range", opt, text);
        return -1;
    }
    return 0;
}

int cli_parse_i64(const char *cmd, const char *opt, const char *text,
                  int64_t min, int64_t max, int64_t *out)
{
    long long v;
    char *end;

    if (!is_decimal(text, 1)) {
        cli_usage_error(cmd, "%s: '%s' is not an integer", opt, text);
        return -1;
    }
    errno = 0;
    v = strtoll(text, &end, 10);
    if (check_range(cmd, opt, text, end) != 0)
        return -1;
    if ((int64_t)v < min || (int64_t)v > max) {
        if (max == INT64_MAX)
            cli_usage_error(cmd, "%s must be >= %" PRId64 " (got %lld)", opt,
                            min, v);
        else
            cli_usage_error(cmd,
                            "%s must be between %" PRId64 " and %" PRId64
                            " (got %lld)",
                            opt, min, max, v);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *text,
                  uint64_t *out)
{
    unsigned long long v;
    char *end;

    /* No sign: strtoull would silently wrap "-1" to 2^64 - 1. */
    if (!is_decimal(text, 0)) {
        cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", opt,
                        text);
        return -1;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (check_range(cmd, opt, text, end) != 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_window(const char *cmd, const char *opt, const char *text,
                     int64_t *left, int64_t *right)
{
    char buf[64];
    const char *comma = strchr(text, ',');
    size_t n;

    if (comma == NULL || strchr(comma + 1, ',') != NULL) {
        cli_usage_error(cmd, "%s: '%s' is not of the form LEFT,RIGHT", opt,
                        text);
        return -1;
    }
    n = (size_t)(comma - text);
    if (n >= sizeof buf) {
        cli_usage_error(cmd, "%s: '%s' is out of range", opt, text);
        return -1;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    /* -1 = FATTN_WINDOW_UNLIMITED on that side. */
    if (cli_parse_i64(cmd, opt, buf, -1, INT64_MAX, left) != 0)
        return -1;
    if (cli_parse_i64(cmd, opt, comma + 1, -1, INT64_MAX, right) != 0)
        return -1;
    return 0;
}

int cli_parse_choice(const char *cmd, const char *opt, const char *text,
                     const char *const *names, int count, int *out)
{
    char list[256];
    size_t used = 0;

    for (int k = 0; k < count; k++) {
        if (strcmp(text, names[k]) == 0) {
            *out = k;
            return 0;
        }
    }
    list[0] = '\0';
    for (int k = 0; k < count; k++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s",
                         k ? ", " : "", names[k]);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    cli_usage_error(cmd, "%s: '%s' is not one of: %s", opt, text, list);
    return -1;
}

int cli_isa_names(const char **names, int with_auto)
{
    int n = 0;

    /* The library's list is the only one: a new path appears here, in
     * --isa and in `fattn info` without an edit to the tool. */
    for (int isa = with_auto ? FATTN_ISA_AUTO : FATTN_ISA_SCALAR;
         isa < FATTN_ISA_COUNT; isa++)
        names[n++] = fattn_isa_name(isa);
    return n;
}

char *cli_isa_list(char *buf, size_t size, int with_auto, const char *sep)
{
    const char *names[FATTN_ISA_COUNT];
    const int n = cli_isa_names(names, with_auto);
    size_t used = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (int k = 0; k < n; k++) {
        int w = snprintf(buf + used, size - used, "%s%s", k ? sep : "", names[k]);

        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    return buf;
}
