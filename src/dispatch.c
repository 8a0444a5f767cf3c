/*
 * dispatch.c - which kernel path runs.
 *
 * One registry (kernels.inc, as paths[]) names every path; params.isa forces one per call
 * (no global state), and FATTN_ISA_AUTO resolves once, thread-safely, to the
 * FATTN_ISA environment override or the best available path. A bad override
 * is an error on every AUTO call, never a silent fallback (simdjson's rule).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kernels.inc as a table indexed by fattn_isa; "auto" is index 0. */
typedef struct fattn_path {
    const char *name;
    uint32_t cpu_flags; /* FATTN_CPU_* the path needs (cpu.h) */
    const fattn_kernel *kernel; /* NULL: not built in */
} fattn_path;

static const fattn_path paths[] = {
    [FATTN_ISA_AUTO] = {"auto", 0, NULL},
#define FATTN_PATH(isa, name, flags, table) [isa] = {name, flags, &table},
#define FATTN_PATH_MISSING(isa, name, flags) [isa] = {name, flags, NULL},
#include "kernels.inc"
#undef FATTN_PATH
#undef FATTN_PATH_MISSING
};

_Static_assert(sizeof paths / sizeof paths[0] == FATTN_ISA_COUNT,
               "kernels.inc names every fattn_isa and FATTN_ISA_COUNT counts them");

static int is_path(int isa) { return isa > FATTN_ISA_AUTO && isa < FATTN_ISA_COUNT; }

const char *fattn_isa_name(int isa)
{
    if (isa < FATTN_ISA_AUTO || isa >= FATTN_ISA_COUNT || !paths[isa].name)
        return "unknown_isa";
    return paths[isa].name;
}

const fattn_kernel *fattn_kernel_for(int isa)
{
    return is_path(isa) ? paths[isa].kernel : NULL;
}

#if FATTN_PHASE_TIMERS
/* Profiling builds only: per-thread counters, so no thread shares them. */
_Thread_local uint64_t fattn_phase_cycles[FATTN_PHASE_COUNT];
const char *const fattn_phase_names[FATTN_PHASE_COUNT] = {
    "scores", "masks", "softmax", "values", "edges", "rows"};
#endif

/* The once-only state: written inside pthread_once, read-only after. */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static uint32_t cpu_flags;

static void detect_cpu(void)
{
    cpu_flags = fattn_cpu_detect();
}

int fattn_isa_available(int isa)
{
    if (isa == FATTN_ISA_AUTO)
        return fattn_isa_auto(NULL) != FATTN_ISA_AUTO;
    if (!fattn_kernel_for(isa))
        return 0;
    pthread_once(&cpu_once, detect_cpu);
    return (cpu_flags & paths[isa].cpu_flags) == paths[isa].cpu_flags;
}

static pthread_once_t auto_once = PTHREAD_ONCE_INIT;
static fattn_isa auto_isa;
static int auto_forced; /* FATTN_ISA named the path */
static char auto_error[FATTN_ERROR_MESSAGE_SIZE];

static void choose_auto(void)
{
    const char *env = getenv("FATTN_ISA");
    if (env && *env) {
        for (int isa = FATTN_ISA_AUTO; isa < FATTN_ISA_COUNT; isa++) {
            if (strcmp(env, paths[isa].name) != 0)
                continue;
            if (isa != FATTN_ISA_AUTO && !fattn_isa_available(isa)) {
                snprintf(auto_error, sizeof auto_error,
                         "FATTN_ISA = %s: this path is not available (not built in, or not supported by this CPU and OS)",
                         paths[isa].name);
                auto_isa = FATTN_ISA_AUTO;
                return;
            }
            if (isa != FATTN_ISA_AUTO) {
                auto_isa = (fattn_isa)isa;
                auto_forced = 1;
                return;
            }
            break; /* "auto": the best available */
        }
        if (strcmp(env, "auto") != 0) {
            char expected[96] = "auto";
            for (int isa = FATTN_ISA_AUTO + 1; isa < FATTN_ISA_COUNT; isa++) {
                size_t n = strlen(expected);
                snprintf(expected + n, sizeof expected - n, "%s%s",
                         isa + 1 < FATTN_ISA_COUNT ? ", " : " or ",
                         paths[isa].name);
            }
            snprintf(auto_error, sizeof auto_error,
                     "FATTN_ISA = '%.64s': unknown path (expected %s)", env,
                     expected);
            auto_isa = FATTN_ISA_AUTO;
            return;
        }
    }
    /* The table lists paths from the most portable to the fastest; a path
     * for some dtypes only (auto_for) is not the general choice. */
    auto_isa = FATTN_ISA_SCALAR;
    for (int isa = FATTN_ISA_COUNT - 1; isa > FATTN_ISA_SCALAR; isa--)
        if (fattn_isa_available(isa) && !paths[isa].kernel->auto_for) {
            auto_isa = (fattn_isa)isa;
            break;
        }
}

fattn_isa fattn_isa_auto(fattn_error *err)
{
    pthread_once(&auto_once, choose_auto);
    if (auto_isa == FATTN_ISA_AUTO)
        return (fattn_fail(err, FATTN_ERR_ISA_UNAVAILABLE, "fattn_isa_auto", "%s",
                           auto_error),
                FATTN_ISA_AUTO);
    fattn_ok(err);
    return auto_isa;
}

double fattn_fma_peak_gflops(int isa, double seconds)
{
    if (isa == FATTN_ISA_AUTO)
        isa = fattn_isa_auto(NULL); /* stays AUTO if FATTN_ISA is bad */
    if (isa == FATTN_ISA_AUTO || !fattn_isa_available(isa) ||
        !(seconds > 0.0) || seconds > 60.0)
        return 0.0;
    const fattn_kernel *k = fattn_kernel_for(isa);
    return k && k->fma_peak ? k->fma_peak(seconds) : 0.0;
}

double fattn_bf16_peak_gflops(double seconds)
{
    if (!(seconds > 0.0) || seconds > 60.0)
        return 0.0;
    for (int isa = FATTN_ISA_COUNT - 1; isa > FATTN_ISA_AUTO; isa--) {
        const fattn_kernel *k = fattn_kernel_for(isa);
        if (k && k->bf16_peak && fattn_isa_available(isa))
            return k->bf16_peak(seconds);
    }
    return 0.0;
}

fattn_status fattn_resolve_isa(const char *fn, int want,
                               const fattn_problem *p, fattn_isa *isa,
                               fattn_error *err)
{
    if (want == FATTN_ISA_AUTO) {
        fattn_error why;
        fattn_isa got = fattn_isa_auto(&why);
        if (got == FATTN_ISA_AUTO) {
            /* Re-prefix the reason with this entry point's name. */
            const char *reason = strchr(why.message, ' ');
            return fattn_fail(err, FATTN_ERR_ISA_UNAVAILABLE, fn, "%s",
                              reason ? reason + 1 : why.message);
        }
        *isa = got;
        /* Unless FATTN_ISA forced one: a faster path made for this
         * problem's dtypes (auto_for) wins over the general one. */
        for (int i = FATTN_ISA_COUNT - 1; i > (int)got && !auto_forced; i--)
            if (fattn_isa_available(i) && paths[i].kernel->auto_for &&
                paths[i].kernel->auto_for(p)) {
                *isa = (fattn_isa)i;
                break;
            }
        return FATTN_OK;
    }
    if (!fattn_isa_available(want))
        return fattn_fail(err, FATTN_ERR_ISA_UNAVAILABLE, fn,
                          "params.isa = %s: this path is not available (not built in, or not supported by this CPU and OS)",
                          fattn_isa_name(want));
    *isa = (fattn_isa)want;
    return FATTN_OK;
}
