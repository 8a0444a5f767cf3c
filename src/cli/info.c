/*
 * info.c - `fattn info`: the library version, what the CPU and OS offer (read
 * here with CPUID and XGETBV, for display only: the library does its own
 * detection), the CPUs this process may run on, which kernel paths the
 * library says are available, and the path FATTN_ISA_AUTO resolves to and
 * why. `fattn info --paths` prints only the path list, in a fixed format for
 * scripts and tests.
 *
 * The kernel paths are the library's list (1 .. FATTN_ISA_COUNT - 1 with
 * fattn_isa_name), never a list of our own.
 */
#include "cli.h"

#include "fattn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define CLI_HAVE_CPUID 1
#else
#define CLI_HAVE_CPUID 0
#endif

typedef struct cpu_info {
    int has_cpuid;
    char brand[49];
    int sse42, avx, avx2, fma, f16c;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512bf16;
    int osxsave;
    unsigned long long xcr0;
    int os_ymm; /* XCR0 bits 1 (SSE) and 2 (AVX): the OS saves YMM state */
    int os_zmm; /* XCR0 bits 5-7: opmask, ZMM_Hi256, Hi16_ZMM */
} cpu_info;

#if CLI_HAVE_CPUID
static unsigned long long read_xcr0(void)
{
    unsigned int lo, hi;

    /* The raw opcode form needs no -mxsave. Only called when OSXSAVE is set. */
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void read_brand(char *brand)
{
    unsigned int regs[12];
    unsigned int a, b, c, d;
    size_t start = 0, len;

    brand[0] = '\0';
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000004u)
        return;
    for (unsigned int k = 0; k < 3; k++) {
        __get_cpuid(0x80000002u + k, &regs[4 * k], &regs[4 * k + 1],
                    &regs[4 * k + 2], &regs[4 * k + 3]);
    }
    memcpy(brand, regs, 48);
    brand[48] = '\0';
    while (brand[start] == ' ')
        start++;
    memmove(brand, brand + start, strlen(brand + start) + 1);
    len = strlen(brand);
    while (len > 0 && brand[len - 1] == ' ')
        brand[--len] = '\0';
}
#endif

static void detect_cpu(cpu_info *ci)
{
    memset(ci, 0, sizeof *ci);
#if CLI_HAVE_CPUID
    unsigned int a, b, c, d, max_leaf;

    if (__get_cpuid(0, &max_leaf, &b, &c, &d) == 0)
        return;
    ci->has_cpuid = 1;
    read_brand(ci->brand);
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
        ci->sse42 = (c >> 20) & 1;
        ci->fma = (c >> 12) & 1;
        ci->osxsave = (c >> 27) & 1;
        ci->avx = (c >> 28) & 1;
        ci->f16c = (c >> 29) & 1;
    }
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        unsigned int subleaves = a;

        ci->avx2 = (b >> 5) & 1;
        ci->avx512f = (b >> 16) & 1;
        ci->avx512dq = (b >> 17) & 1;
        ci->avx512bw = (b >> 30) & 1;
        ci->avx512vl = (b >> 31) & 1;
        if (subleaves >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
            ci->avx512bf16 = (a >> 5) & 1;
    }
    if (ci->osxsave) {
        ci->xcr0 = read_xcr0();
        ci->os_ymm = (ci->xcr0 & 0x6u) == 0x6u;
        ci->os_zmm = ci->os_ymm && (ci->xcr0 & 0xe0u) == 0xe0u;
    }
#endif
}

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

static void print_cpu(const cpu_info *ci)
{
    printf("CPU (read with CPUID/XGETBV for display; the library detects on its own):\n");
    if (!ci->has_cpuid) {
        printf("  not an x86 CPU, or CPUID is unavailable\n");
        return;
    }
    if (ci->brand[0] != '\0')
        printf("  model              %s\n", ci->brand);
    printf("  sse4.2             %s\n", yes_no(ci->sse42));
    printf("  avx                %s\n", yes_no(ci->avx));
    printf("  avx2               %s\n", yes_no(ci->avx2));
    printf("  fma                %s\n", yes_no(ci->fma));
    printf("  f16c               %s\n", yes_no(ci->f16c));
    printf("  avx512f            %s\n", yes_no(ci->avx512f));
    printf("  avx512bw           %s\n", yes_no(ci->avx512bw));
    printf("  avx512dq           %s\n", yes_no(ci->avx512dq));
    printf("  avx512vl           %s\n", yes_no(ci->avx512vl));
    printf("  avx512_bf16        %s\n", yes_no(ci->avx512bf16));
    if (ci->osxsave)
        printf("  XCR0               0x%llx\n", ci->xcr0);
    else
        printf("  XCR0               unreadable (OSXSAVE not set)\n");
    printf("  os ymm state       %s (XCR0 bits 1-2)\n", yes_no(ci->os_ymm));
    printf("  os zmm/opmask      %s (XCR0 bits 5-7)\n", yes_no(ci->os_zmm));
}

/* What the CPU/OS reading above says about a path's requirements: 1, 0,
 * or -1 for a path this tool does not know (a newer library's). */
static int cpu_supports(const cpu_info *ci, int isa)
{
    switch (isa) {
    case FATTN_ISA_SCALAR:
        return 1;
    case FATTN_ISA_AVX2:
        return ci->avx2 && ci->fma && ci->f16c && ci->os_ymm;
    case FATTN_ISA_AVX512:
        return cpu_supports(ci, FATTN_ISA_AVX2) && ci->avx512f && ci->avx512bw &&
               ci->avx512dq && ci->avx512vl && ci->os_zmm;
    case FATTN_ISA_AVX512BF16:
        return cpu_supports(ci, FATTN_ISA_AVX512) && ci->avx512bf16;
    default:
        return -1;
    }
}

/* What a path needs, for display; NULL for a path this tool does not know
 * (it is still listed, from the library's own list). */
static const char *path_needs(int isa)
{
    switch (isa) {
    case FATTN_ISA_SCALAR: return "portable C";
    case FATTN_ISA_AVX2: return "AVX2 + FMA + F16C, OS ymm state";
    case FATTN_ISA_AVX512: return "AVX-512 F/BW/DQ/VL, OS zmm state";
    case FATTN_ISA_AVX512BF16: return "AVX-512 + AVX512_BF16, OS zmm state";
    default: return NULL;
    }
}

/* "  <name> available|not available (needs ...)", for people; scripts
 * read print_path_list's lines. */
static void print_paths(const cpu_info *ci)
{
    printf("kernel paths (fattn_isa_available):\n");
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++) {
        const int avail = fattn_isa_available(isa);
        const int cpu = ci->has_cpuid ? cpu_supports(ci, isa) : -1;
        const char *needs = path_needs(isa);
        const char *note = "";

        if (!avail && cpu == 1)
            note = "; the CPU and OS have the features: the path is not "
                   "built into this library";
        else if (!avail && cpu == 0)
            note = "; the CPU or OS lacks the features";
        printf("  %-10s %-14s (needs %s%s)\n", fattn_isa_name(isa),
               avail ? "available" : "not available",
               needs ? needs : "see the library's fattn.h", note);
    }
}

/* The machine-readable list: one "<name> available" or "<name>
 * unavailable" line per kernel path, in the library's order, nothing else. */
static void print_path_list(void)
{
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++)
        printf("%s %s\n", fattn_isa_name(isa),
               fattn_isa_available(isa) ? "available" : "unavailable");
}

static void print_help(FILE *out)
{
    char isas[128];

    cli_isa_list(isas, sizeof isas, 0, " | ");
    fprintf(out,
          "usage: fattn info [--paths]\n"
          "\n"
          "Print the library version, the CPU features seen (CPUID leaf 1/7,\n"
          "XCR0), the CPUs this process may run on (the default of\n"
          "'fattn bench --threads'), which kernel paths the library reports\n"
          "available, and the path FATTN_ISA_AUTO resolves to, with the reason.\n"
          "\n"
          "options:\n"
          "  --paths     print only the kernel paths, one '<name> available' or\n"
          "              '<name> unavailable' line each (a stable format for\n"
          "              scripts; FATTN_ISA does not change it)\n"
          "\n"
          "environment:\n"
          "  FATTN_ISA   %s: force the automatic path; an\n"
          "              unknown or unavailable value makes this command fail\n"
          "\n"
          "exit status: 0 success, 1 the automatic path cannot be chosen,\n"
          "2 usage error\n",
          isas);
}

int cli_info(int argc, char **argv)
{
    cpu_info ci;
    fattn_error err;
    fattn_isa chosen;
    const char *env;

    int paths_only = 0;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            print_help(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--paths") == 0) {
            paths_only = 1;
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
    }

    if (paths_only) {
        print_path_list();
        return CLI_EXIT_OK;
    }
    printf("fattn %s (header %d.%d.%d)\n\n", fattn_version_string(),
           FATTN_VERSION_MAJOR, FATTN_VERSION_MINOR, FATTN_VERSION_PATCH);
    detect_cpu(&ci);
    print_cpu(&ci);
    printf("\n");
    printf("usable CPUs: %d (sched_getaffinity; the default of 'fattn bench "
           "--threads')\n\n",
           (int)fattn_usable_cpus());
    print_paths(&ci);
    printf("\n");

    memset(&err, 0, sizeof err);
    chosen = fattn_isa_auto(&err);
    env = getenv("FATTN_ISA");
    if (chosen == FATTN_ISA_AUTO) {
        printf("auto path: none (error)\n");
        fflush(stdout);
        fprintf(stderr, "fattn info: error (%s): %s\n",
                fattn_status_name(err.status),
                err.message[0] ? err.message
                               : "fattn_isa_auto gave no path and no reason");
        return CLI_EXIT_ERROR;
    }
    if (env != NULL && env[0] != '\0' && strcmp(env, "auto") != 0)
        printf("auto path: %s (FATTN_ISA=%s in the environment)\n",
               fattn_isa_name(chosen), env);
    else
        printf("auto path: %s (best available)\n", fattn_isa_name(chosen));
    return CLI_EXIT_OK;
}
