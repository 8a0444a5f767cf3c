/*
 * bench.c - the options of `fattn bench`: parsing, defaults and --help.
 * Running the benchmark is bench_run.c; the parser is apart from it so the
 * fuzzer (fuzz/fuzz_cli.c) can link it with nothing but args.c and peak.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include "fattn.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *const cli_causal_names[3] = {"none", "top-left", "bottom-right"};
const char *const cli_align_names[2] = {"top-left", "bottom-right"};
const char *const cli_layout_names[CLI_LAYOUT_COUNT] = {"bhsd", "bshd"};
const char *const cli_dtype_names[CLI_DTYPE_COUNT] = {"f32", "bf16", "f16"};

/* The default of --threads: every CPU this process may run on. */
static int32_t default_threads(void)
{
    const int32_t cpus = fattn_usable_cpus();

    return cpus < FATTN_MAX_THREADS ? cpus : FATTN_MAX_THREADS;
}

void cli_bench_help(FILE *out)
{
    char isas[128];

    cli_isa_list(isas, sizeof isas, 1, " | ");
    fprintf(out,
        "usage: fattn bench [options]\n"
        "\n"
        "Time fattn_forward on random inputs (uniform in [-1, 1], seeded, in\n"
        "the --layout, rounded to nearest even to their --dtype/--kv-dtype):\n"
        "one warm-up call, then --repeat timed calls. Prints the kernel path\n"
        "used, the median and minimum time, GFLOP/s, the share of the peak of\n"
        "the cores used (fp32 FMA, or bf16 dot products on the avx512bf16\n"
        "path), the K/V read rate and its share of the read bandwidth, the\n"
        "share of the roofline, an FNV-1a digest of the output (and LSE),\n"
        "which is the same for every --threads, and the max abs/rel error of a\n"
        "sample of rows against the fp64 reference on the same (rounded)\n"
        "inputs; FAIL (exit 1) if any checked element is outside the bound\n"
        "(below).\n"
        "\n"
        "options:\n"
        "  --batch B          batch size (default 1)\n"
        "  --heads H          query heads (default 8)\n"
        "  --kv-heads HKV     key/value heads; H must be a multiple (GQA)\n"
        "                     (default: H)\n"
        "  --seq S            query length (default 2048)\n"
        "  --seq-k SK         key/value length (default: S)\n"
        "  --kv-capacity C    K and V are a cache of C >= SK tokens of which\n"
        "                     the first SK are used: their seq stride spans C\n"
        "                     rows (default: SK); the unused rows hold NaN, so\n"
        "                     a kernel reading past SK fails the check\n"
        "  --layout L         bhsd | bshd: memory layout of Q, K, V and the\n"
        "                     output (default bhsd, contiguous per head; bshd:\n"
        "                     token-major, heads interleaved, stride\n"
        "                     {S*H*D, D, H*D, 1}, S = C for K and V); the LSE\n"
        "                     is [B, H, Sq] either way\n"
        "  --dim D            head_dim of query, key and value (default 128)\n"
        "  --causal MODE      none | top-left | bottom-right (default none)\n"
        "  --window L,R       sliding window: row i sees keys pos(i)-L ..\n"
        "                     pos(i)+R; -1 = unlimited on that side\n"
        "                     (default: no window)\n"
        "  --align MODE       top-left | bottom-right: pos(i) for the window\n"
        "                     (default: as --causal, top-left when none)\n"
        "  --repeat R         timed calls after the warm-up (default 5)\n"
        "  --threads N        threads, 1 to %d: N > 1 runs on a fattn pool of\n"
        "                     N threads, 1 on the calling thread alone\n"
        "                     (default: the CPUs this process may run on, %d)\n"
        "  --lse              also compute the log-sum-exp (checked, and part\n"
        "                     of the digest)\n"
        "  --dtype T          f32 | bf16 | f16: query, key, value and output\n"
        "                     (default f32)\n"
        "  --kv-dtype T       f32 | bf16 | f16: key and value, e.g. a bf16 KV\n"
        "                     cache under an f32 query (default: --dtype)\n"
        "  --out-dtype T      f32 | bf16 | f16: output (default: --dtype); the\n"
        "                     LSE is f32 always\n"
        "  --isa PATH         %s (default auto)\n"
        "  --seed N           random seed (default 1)\n"
        "  --no-peaks         measure neither peak nor the read bandwidth\n"
        "                     (they take seconds and a buffer of hundreds of\n"
        "                     MiB): %% of peak, %% of BW and the roofline are\n"
        "                     not computed, the summary says peak=none; for\n"
        "                     tests and quick checks\n"
        "  -h, --help         show this help\n"
        "\n"
        "GFLOP/s counts 4*B*H*Sq*Sk*D per call for dense attention; with\n"
        "--causal or --window, only the visible (query, key) pairs, 2*(D+D)\n"
        "FLOP each.\n"
        "\n"
        "Peak: the fp32 FMA peak and the bf16 dot-product (vdpbf16ps) peak of\n"
        "the cores used, both measured now (the second is unavailable without\n"
        "the avx512bf16 path or AVX512_BF16). %% of peak divides by the bf16\n"
        "peak when the run takes the avx512bf16 path with bf16 query, key and\n"
        "value (its kernels then multiply in vdpbf16ps), else by the FMA peak\n"
        "(half inputs are widened to f32 and multiplied in FMAs).\n"
        "\n"
        "K/V GB/s: the bytes of K and V a call must read, B*HKV*Sk*(D+D)*E\n"
        "(E = 4 for an f32, 2 for a bf16/f16 --kv-dtype; Sk: the keys some\n"
        "row sees), over the median time; %% of BW divides by the read\n"
        "bandwidth of as many cores, measured now (a buffer far larger than\n"
        "the caches: K/V that fit in a cache can exceed 100%%). Roofline: with\n"
        "r = (H/HKV)*Sq query rows per K/V row a call does 2r/E FLOP per byte\n"
        "of K/V (r/2 for f32, r for half), so it cannot beat min(peak,\n"
        "BW * 2r/E) (Q and output traffic not counted); %% of roofline divides\n"
        "by that.\n"
        "\n"
        "Check: |x-ref| <= atol + rtol*|ref| with atol = rtol = 1e-5 for an\n"
        "f32 output; a bf16/f16 output adds its rounding to rtol (2^-8 for\n"
        "bf16, 2^-11 for f16), and the avx512bf16 path with bf16 Q, K and V\n"
        "adds its documented bound for P in bf16, 2^-8*max|V|, to atol. The\n"
        "reference reads the inputs as rounded, so only the kernel's own\n"
        "error is measured; the error is also printed over max|V|.\n"
        "\n"
        "Digest: FNV-1a 64 of the output's elements, as stored in its\n"
        "--out-dtype (then the LSE's floats), in (b, h, i, d) order: the same\n"
        "for every --threads. The same problem\n"
        "(same shape and seed) in another --layout or --kv-capacity holds the\n"
        "same values and mostly gives the same digest, but the schedule may\n"
        "follow the strides: decode with a BSHD cache groups several KV heads\n"
        "per work item, which can change split-K's chunks and so the bits.\n"
        "\n"
        "exit status: 0 PASS, 1 library error or FAIL, 2 usage error\n",
        FATTN_MAX_THREADS, default_threads(), isas);
}

int cli_bench_parse(int argc, char **argv, bench_opts *o, int *help)
{
    int64_t kv_heads = -1, seq_k = -1, threads = -1, capacity = -1;
    int kv_dtype = -1, out_dtype = -1;
    const char *isa_names[FATTN_ISA_COUNT];
    const int isa_count = cli_isa_names(isa_names, 1);
    const char *v;
    int r;

    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->heads = 8;
    o->seq = 2048;
    o->dim = 128;
    o->repeat = 5;
    o->causal = FATTN_CAUSAL_NONE;
    o->align = -1;
    o->isa = FATTN_ISA_AUTO;
    o->seed = 1;
    o->layout = CLI_LAYOUT_BHSD;
    o->dtype = FATTN_DTYPE_F32;
    *help = 0;

#define INT_OPT(name, min, max, field)                                        \
    if ((r = cli_take_option("bench", argc, argv, &i, name, &v)) != 0) {      \
        if (r < 0 || cli_parse_i64("bench", name, v, min, max, field) != 0)   \
            return CLI_EXIT_USAGE;                                            \
        continue;                                                             \
    }
#define CHOICE_OPT(name, names, count, field)                                 \
    if ((r = cli_take_option("bench", argc, argv, &i, name, &v)) != 0) {      \
        if (r < 0 ||                                                          \
            cli_parse_choice("bench", name, v, names, count, &choice) != 0)   \
            return CLI_EXIT_USAGE;                                            \
        field = choice;                                                       \
        continue;                                                             \
    }

#define FLAG_OPT(name, field)                                                 \
    if (strncmp(argv[i], name, sizeof name - 1) == 0 &&                       \
        (argv[i][sizeof name - 1] == '\0' ||                                  \
         argv[i][sizeof name - 1] == '=')) {                                  \
        if (argv[i][sizeof name - 1] == '=')                                  \
            return cli_usage_error("bench",                                   \
                                   "option " name " takes no value");         \
        field = 1;                                                            \
        continue;                                                             \
    }

    for (int i = 1; i < argc; i++) {
        int choice;

        if (cli_is_help(argv[i])) {
            *help = 1;
            return 0;
        }
        INT_OPT("--batch", 1, INT64_MAX, &o->batch)
        INT_OPT("--heads", 1, INT64_MAX, &o->heads)
        INT_OPT("--kv-heads", 1, INT64_MAX, &kv_heads)
        INT_OPT("--seq", 1, INT64_MAX, &o->seq)
        INT_OPT("--seq-k", 1, INT64_MAX, &seq_k)
        INT_OPT("--kv-capacity", 1, INT64_MAX, &capacity)
        INT_OPT("--dim", 1, INT64_MAX, &o->dim)
        INT_OPT("--repeat", 1, 1000000, &o->repeat)
        INT_OPT("--threads", 1, FATTN_MAX_THREADS, &threads)
        FLAG_OPT("--lse", o->lse)
        FLAG_OPT("--no-peaks", o->no_peaks)
        CHOICE_OPT("--causal", cli_causal_names, 3, o->causal)
        CHOICE_OPT("--align", cli_align_names, 2, o->align)
        if ((r = cli_take_option("bench", argc, argv, &i, "--window", &v))) {
            if (r < 0 || cli_parse_window("bench", "--window", v,
                                          &o->window_left,
                                          &o->window_right) != 0)
                return CLI_EXIT_USAGE;
            o->window_enabled = 1;
            continue;
        }
        CHOICE_OPT("--isa", isa_names, isa_count, o->isa)
        CHOICE_OPT("--layout", cli_layout_names, CLI_LAYOUT_COUNT, o->layout)
        CHOICE_OPT("--dtype", cli_dtype_names, CLI_DTYPE_COUNT, o->dtype)
        CHOICE_OPT("--kv-dtype", cli_dtype_names, CLI_DTYPE_COUNT, kv_dtype)
        CHOICE_OPT("--out-dtype", cli_dtype_names, CLI_DTYPE_COUNT, out_dtype)
        if ((r = cli_take_option("bench", argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_u64("bench", "--seed", v, &o->seed) != 0)
                return CLI_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("bench", "unknown option '%s'", argv[i]);
        return cli_usage_error("bench", "unexpected argument '%s'", argv[i]);
    }
#undef INT_OPT
#undef CHOICE_OPT
#undef FLAG_OPT

    o->kv_heads = kv_heads > 0 ? kv_heads : o->heads;
    o->seq_k = seq_k > 0 ? seq_k : o->seq;
    o->kv_capacity = capacity > 0 ? capacity : o->seq_k;
    if (o->kv_capacity < o->seq_k)
        return cli_usage_error("bench",
                               "--kv-capacity = %" PRId64 " < Sk = %" PRId64
                               " (--seq-k, default --seq): the K/V cache must "
                               "hold every key",
                               o->kv_capacity, o->seq_k);
    o->threads = threads > 0 ? (int32_t)threads : default_threads();
    /* Given in any order: --kv-dtype and --out-dtype follow --dtype only
     * where they are not given themselves. */
    o->kv_dtype = kv_dtype >= 0 ? kv_dtype : o->dtype;
    o->out_dtype = out_dtype >= 0 ? out_dtype : o->dtype;
    if (o->align < 0)
        o->align = o->causal == FATTN_CAUSAL_BOTTOM_RIGHT
                       ? FATTN_ALIGN_BOTTOM_RIGHT
                       : FATTN_ALIGN_TOP_LEFT;
    return 0;
}
