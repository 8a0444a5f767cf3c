/*
 * cli.h - the pieces of the `fattn` command-line tool.
 *
 * Exit codes: 0 success, 1 a library error or a failed accuracy check,
 * 2 a usage error (bad option, bad number, unknown subcommand).
 */
#ifndef FATTN_CLI_H
#define FATTN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,
    CLI_EXIT_USAGE = 2
};

/* Subcommands; argv[0] is the subcommand's name. cli_bench is bench_run.c's,
 * its options (below) bench.c's. */
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);

/* --layout: the memory layout of Q, K, V and the output (tensors.h). */
typedef enum cli_layout {
    CLI_LAYOUT_BHSD = 0, /* contiguous per head: stride {H*S*D, S*D, D, 1} */
    CLI_LAYOUT_BSHD = 1, /* token-major, heads interleaved: {S*H*D, D, H*D, 1} */
    CLI_LAYOUT_COUNT = 2
} cli_layout;

/* The options of `fattn bench`, as parsed. */
typedef struct bench_opts {
    int64_t batch, heads, kv_heads, seq, seq_k, dim, repeat;
    int causal; /* fattn_causal */
    int window_enabled;
    int64_t window_left, window_right;
    int align; /* fattn_align; after parsing, --causal's when not given */
    int isa;   /* fattn_isa */
    uint64_t seed;
    /* 1 .. FATTN_MAX_THREADS; after parsing, fattn_usable_cpus() (capped at
     * FATTN_MAX_THREADS) when --threads is not given. */
    int32_t threads;
    int lse; /* 1: also compute the log-sum-exp (--lse) */
    /* 1: measure neither peak nor the read bandwidth (--no-peaks): seconds
     * and a buffer of hundreds of MiB per run that tests and quick checks
     * do not need. */
    int no_peaks;
    /* Rows of the K/V cache, >= seq_k (--kv-capacity; after parsing, seq_k
     * when not given): the seq stride of K and V spans this many rows. */
    int64_t kv_capacity;
    int layout; /* cli_layout */
    /* fattn_dtype of query (--dtype), key and value (--kv-dtype; after
     * parsing, --dtype's when not given) and output (--out-dtype; the same):
     * f32, bf16 or f16. The LSE is f32 whatever they are. */
    int dtype, kv_dtype, out_dtype;
} bench_opts;

/* The names of --causal, --align and --layout, by value. */
extern const char *const cli_causal_names[3];
extern const char *const cli_align_names[2];
extern const char *const cli_layout_names[CLI_LAYOUT_COUNT];
/* The names of --dtype, --kv-dtype and --out-dtype, indexed by fattn_dtype
 * (FATTN_DTYPE_F32 .. FATTN_DTYPE_F16; bool is for masks, which the bench
 * has none of). */
#define CLI_DTYPE_COUNT 3
extern const char *const cli_dtype_names[CLI_DTYPE_COUNT];

/* `fattn bench --help`. */
void cli_bench_help(FILE *out);

/*
 * Parse `fattn bench`'s arguments (argv[0] is "bench") into *o, defaults
 * filled in; *help = 1 if -h/--help comes before any bad argument. Returns
 * 0, or the exit code of a usage error after printing its message to
 * stderr. Runs nothing, so the fuzzer (fuzz/fuzz_cli.c) can call it.
 */
int cli_bench_parse(int argc, char **argv, bench_opts *o, int *help);

/* ---- args.c: strict option and number parsing ----------------------- */

/* 1 for "-h" or "--help". */
int cli_is_help(const char *arg);

/*
 * If argv[*i] is the option `name` ("--seq 12" or "--seq=12"), store its value
 * in *value, advance *i past it and return 1. Return 0 if argv[*i] is another
 * option, -1 (after printing a usage message naming `cmd` and the option) if
 * the value is missing.
 */
int cli_take_option(const char *cmd, int argc, char **argv, int *i,
                    const char *name, const char **value);

/*
 * Parse a whole decimal integer in [min, max]. "12x", "", " 1", overflow and
 * out-of-range values print a message naming `cmd` and `opt` to stderr and
 * return -1; success returns 0.
 */
int cli_parse_i64(const char *cmd, const char *opt, const char *text,
                  int64_t min, int64_t max, int64_t *out);

/* Same for an unsigned 64-bit value (no sign allowed). */
int cli_parse_u64(const char *cmd, const char *opt, const char *text,
                  uint64_t *out);

/* "L,R", each an integer >= -1 (-1 = unlimited). */
int cli_parse_window(const char *cmd, const char *opt, const char *text,
                     int64_t *left, int64_t *right);

/*
 * `text` must be one of names[0 .. count-1]; *out = its index. Otherwise a
 * message listing the choices, and -1.
 */
int cli_parse_choice(const char *cmd, const char *opt, const char *text,
                     const char *const *names, int count, int *out);

/*
 * The kernel path names, from the library's own list (fattn_isa_name over
 * 0 .. FATTN_ISA_COUNT - 1, so index = fattn_isa value): names[0] is "auto"
 * when with_auto, otherwise the paths from FATTN_ISA_SCALAR on. Returns how
 * many were stored (at most FATTN_ISA_COUNT; `names` must hold that many).
 */
int cli_isa_names(const char **names, int with_auto);

/* The same names joined by `sep` into buf (truncated to fit); returns buf. */
char *cli_isa_list(char *buf, size_t size, int with_auto, const char *sep);

/* Print "fattn <cmd>: <message>" and a hint to use --help; return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* FATTN_CLI_H */
