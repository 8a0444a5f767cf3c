/*
 * fuzz_cli.c - the `fattn bench` argument parser (src/cli), the tool's only
 * front end that reads untrusted text.
 *
 * The input is split at NUL bytes into up to 32 arguments (each in a buffer
 * of exactly its length, so AddressSanitizer sees any overread) and passed
 * as `fattn bench ARGS...` to cli_bench_parse(), with stderr captured.
 *
 * Properties (a violation aborts with the arguments printed):
 *   - the result is 0 (parsed) or 2 (usage error), nothing else;
 *   - a usage error prints "fattn bench: <message>" and the
 *     "(see 'fattn bench --help')" hint, and nothing else;
 *   - a parse prints nothing, and every option is within its documented
 *     range (sizes >= 1, repeat in [1, 1000000], threads in
 *     [1, FATTN_MAX_THREADS] and fattn_usable_cpus() when not given, window
 *     sides >= -1, lse and no_peaks 0 or 1, enums in range, isa among the library's
 *     FATTN_ISA_COUNT values, align following --causal when not given,
 *     dtypes among f32, bf16, f16 with --kv-dtype and --out-dtype
 *     following --dtype when not given);
 *   - the parsed options, written back as a canonical command line, parse
 *     again to the very same options (no value is misread or lost).
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "fuzz_common.h"

#include "fattn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32

static char *args[MAX_ARGS + 2];
static int nargs;

static void describe(void)
{
    fprintf(stderr, "arguments (%d): fattn", nargs - 1);
    for (int i = 0; i < nargs; i++) {
        fputs(" '", stderr);
        for (const unsigned char *p = (const unsigned char *)args[i]; *p; p++)
            fprintf(stderr, *p >= 0x20 && *p < 0x7f && *p != '\\' ? "%c" : "\\x%02x", *p);
        fputc('\'', stderr);
    }
    fputc('\n', stderr);
}

/* cli_bench_parse with stderr captured into *text (caller frees). */
static int parse_captured(int argc, char **argv, bench_opts *o, int *help,
                          char **text, size_t *len)
{
    FILE *saved = stderr, *mem = open_memstream(text, len);
    if (!mem)
        abort();
    stderr = mem; /* glibc: stderr is an assignable FILE * */
    const int rc = cli_bench_parse(argc, argv, o, help);
    stderr = saved;
    fclose(mem);
    return rc;
}

/* The arguments include a --threads option (the last one wins, as for
 * every option): the default applies only without one. The same for
 * --kv-dtype and --out-dtype, whose default is --dtype's value. */
static int threads_given, kv_dtype_given, out_dtype_given;

static void check_ranges(const bench_opts *o)
{
    const int32_t cpus = fattn_usable_cpus();

    const int64_t sizes[6] = {o->batch, o->heads, o->kv_heads,
                              o->seq, o->seq_k, o->dim};
    for (int k = 0; k < 6; k++)
        if (sizes[k] < 1)
            fz_finding("fuzz_cli", "a parsed size is %" PRId64 " < 1", sizes[k]);
    if (o->repeat < 1 || o->repeat > 1000000)
        fz_finding("fuzz_cli", "repeat = %" PRId64 " outside [1, 1000000]", o->repeat);
    if (o->threads < 1 || o->threads > FATTN_MAX_THREADS)
        fz_finding("fuzz_cli", "threads = %d outside [1, %d]", (int)o->threads,
                   FATTN_MAX_THREADS);
    if (!threads_given &&
        o->threads != (cpus < FATTN_MAX_THREADS ? cpus : FATTN_MAX_THREADS))
        fz_finding("fuzz_cli", "threads = %d without --threads, not the %d usable CPUs",
                   (int)o->threads, (int)cpus);
    if (o->lse != 0 && o->lse != 1)
        fz_finding("fuzz_cli", "lse = %d, not 0 or 1", o->lse);
    if (o->no_peaks != 0 && o->no_peaks != 1)
        fz_finding("fuzz_cli", "no_peaks = %d, not 0 or 1", o->no_peaks);
    if (o->causal < 0 || o->causal > 2 || o->align < 0 || o->align > 1 ||
        o->isa < 0 || o->isa >= FATTN_ISA_COUNT ||
        (o->window_enabled != 0 && o->window_enabled != 1))
        fz_finding("fuzz_cli", "an enum out of range: causal %d align %d isa %d window %d",
                   o->causal, o->align, o->isa, o->window_enabled);
    if (o->kv_capacity < o->seq_k)
        fz_finding("fuzz_cli", "kv_capacity = %" PRId64 " < seq_k = %" PRId64,
                   o->kv_capacity, o->seq_k);
    if (o->layout < 0 || o->layout >= CLI_LAYOUT_COUNT)
        fz_finding("fuzz_cli", "layout = %d outside [0, %d)", o->layout,
                   CLI_LAYOUT_COUNT);
    if (o->dtype < 0 || o->dtype >= CLI_DTYPE_COUNT || o->kv_dtype < 0 ||
        o->kv_dtype >= CLI_DTYPE_COUNT || o->out_dtype < 0 ||
        o->out_dtype >= CLI_DTYPE_COUNT)
        fz_finding("fuzz_cli", "a dtype outside [0, %d): dtype %d kv %d out %d",
                   CLI_DTYPE_COUNT, o->dtype, o->kv_dtype, o->out_dtype);
    if ((!kv_dtype_given && o->kv_dtype != o->dtype) ||
        (!out_dtype_given && o->out_dtype != o->dtype))
        fz_finding("fuzz_cli", "kv_dtype %d / out_dtype %d without their "
                   "options, not --dtype's %d", o->kv_dtype, o->out_dtype,
                   o->dtype);
    if (o->window_enabled && (o->window_left < -1 || o->window_right < -1))
        fz_finding("fuzz_cli", "window %" PRId64 ",%" PRId64 " has a side below -1",
                   o->window_left, o->window_right);
}

/* Write o back as a canonical command line and parse it again. */
static void check_round_trip(const bench_opts *o)
{
    static const char *const causal[] = {"none", "top-left", "bottom-right"};
    static const char *const align[] = {"top-left", "bottom-right"};
    char text[24][48];
    char *argv[2 * 24 + 3];
    int n = 0, k = 0;
    argv[n++] = "bench";
#define OPT(name, fmt, ...)                                                    \
    do {                                                                       \
        snprintf(text[k], sizeof text[0], fmt, __VA_ARGS__);                   \
        argv[n++] = name;                                                      \
        argv[n++] = text[k++];                                                 \
    } while (0)
    OPT("--batch", "%" PRId64, o->batch);
    OPT("--heads", "%" PRId64, o->heads);
    OPT("--kv-heads", "%" PRId64, o->kv_heads);
    OPT("--seq", "%" PRId64, o->seq);
    OPT("--seq-k", "%" PRId64, o->seq_k);
    OPT("--dim", "%" PRId64, o->dim);
    OPT("--repeat", "%" PRId64, o->repeat);
    OPT("--causal", "%s", causal[o->causal]);
    OPT("--align", "%s", align[o->align]);
    OPT("--isa", "%s", fattn_isa_name(o->isa));
    OPT("--seed", "%" PRIu64, o->seed);
    OPT("--threads", "%d", (int)o->threads);
    OPT("--kv-capacity", "%" PRId64, o->kv_capacity);
    OPT("--layout", "%s", cli_layout_names[o->layout]);
    /* --kv-dtype and --out-dtype before --dtype: their values must
     * survive a --dtype that comes after them. */
    OPT("--kv-dtype", "%s", cli_dtype_names[o->kv_dtype]);
    OPT("--out-dtype", "%s", cli_dtype_names[o->out_dtype]);
    OPT("--dtype", "%s", cli_dtype_names[o->dtype]);
    if (o->window_enabled)
        OPT("--window", "%" PRId64 ",%" PRId64, o->window_left, o->window_right);
#undef OPT
    if (o->lse)
        argv[n++] = "--lse";
    if (o->no_peaks)
        argv[n++] = "--no-peaks";
    argv[n] = NULL;
    bench_opts again;
    int help = 0;
    char *err = NULL;
    size_t len = 0;
    const int rc = parse_captured(n, argv, &again, &help, &err, &len);
    if (rc != 0 || help || len != 0)
        fz_finding("fuzz_cli", "the canonical form of parsed options is refused (%d): %s",
                   rc, err ? err : "");
    free(err);
    if (memcmp(&again, o, sizeof again) != 0)
        fz_finding("fuzz_cli", "parsed options differ after a round trip "
                   "(seq %" PRId64 " vs %" PRId64 ", window %" PRId64 ",%" PRId64
                   " vs %" PRId64 ",%" PRId64 ", seed %" PRIu64 " vs %" PRIu64
                   ", dtypes %d,%d,%d vs %d,%d,%d, lse %d vs %d, no_peaks %d "
                   "vs %d)",
                   o->seq, again.seq, o->window_left, o->window_right,
                   again.window_left, again.window_right, o->seed, again.seed,
                   o->dtype, o->kv_dtype, o->out_dtype, again.dtype,
                   again.kv_dtype, again.out_dtype, o->lse, again.lse,
                   o->no_peaks, again.no_peaks);
}

/* 1 if some argument is the option `name` ("--name" or "--name=..."). An
 * argument that is another option's value ("--seed --threads") counts
 * too, but then that parse fails and the ranges are not checked. */
static int has_option(const char *name)
{
    const size_t len = strlen(name);

    for (int i = 1; i < nargs; i++)
        if (strncmp(args[i], name, len) == 0 &&
            (args[i][len] == '\0' || args[i][len] == '='))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char hint[] = "(see 'fattn bench --help')\n";
    static const char prefix[] = "fattn bench: ";
    size_t start = 0;

    fz_set_describe(describe);
    nargs = 0;
    args[nargs] = malloc(sizeof "bench");
    memcpy(args[nargs++], "bench", sizeof "bench");
    while (start < size && nargs <= MAX_ARGS) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        const size_t len = nul ? (size_t)(nul - (data + start)) : size - start;
        args[nargs] = malloc(len + 1);
        if (!args[nargs])
            abort();
        memcpy(args[nargs], data + start, len);
        args[nargs++][len] = '\0';
        start += len + 1;
    }
    args[nargs] = NULL;
    threads_given = has_option("--threads");
    kv_dtype_given = has_option("--kv-dtype");
    out_dtype_given = has_option("--out-dtype");

    bench_opts o;
    int help = 0;
    char *err = NULL;
    size_t len = 0;
    memset(&o, 0x5a, sizeof o);
    const int rc = parse_captured(nargs, args, &o, &help, &err, &len);
    if (rc != CLI_EXIT_OK && rc != CLI_EXIT_USAGE)
        fz_finding("fuzz_cli", "cli_bench_parse returned %d, not 0 or 2", rc);
    if (rc == CLI_EXIT_USAGE) {
        if (len < sizeof prefix + sizeof hint ||
            strncmp(err, prefix, sizeof prefix - 1) != 0 ||
            strcmp(err + len - (sizeof hint - 1), hint) != 0 ||
            err[len - sizeof hint] != '\n')
            fz_finding("fuzz_cli", "a usage error printed '%s', not "
                       "\"fattn bench: <message>\" and the --help hint", err);
    } else if (len != 0) {
        fz_finding("fuzz_cli", "a successful parse printed '%s'", err);
    } else if (!help) {
        check_ranges(&o);
        check_round_trip(&o);
    }
    free(err);
    for (int i = 0; i < nargs; i++)
        free(args[i]);
    return 0;
}
