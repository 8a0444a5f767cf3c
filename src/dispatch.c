/*
 * dispatch.c - which kernel path runs.
 *
 * One registry (kernels[]) names every path; params.isa forces one per call
 * (no global state), and FATTN_ISA_AUTO resolves once, thread-safely, to the
 * FATTN_ISA environment override or the best available path. A bad override
 * is an error on every AUTO call, never a silent fallback (simdjson's rule).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fattn_kernel kernels[] = {
#define FATTN_VECMATH(vexp, vexp2, vtanh, peak)
#define FATTN_KERNEL(isa, flags, run, workspace, vexp, vexp2, vtanh, peak)     \
    {isa, flags, workspace, run, vexp, vexp2, vtanh, peak},
#include "kernels.inc"
#undef FATTN_KERNEL
#undef FATTN_VECMATH
};

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512"};

const char *fattn_isa_name(int isa)
{
    if (isa < FATTN_ISA_AUTO || isa > FATTN_ISA_AVX512)
        return "unknown_isa";
    return isa_names[isa];
}

const fattn_kernel *fattn_kernel_for(fattn_isa isa)
{
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (kernels[i].isa == isa)
            return &kernels[i];
    return NULL;
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
    if (isa < FATTN_ISA_AUTO || isa > FATTN_ISA_AVX512)
        return 0;
    const fattn_kernel *k = fattn_kernel_for((fattn_isa)isa);
    if (!k)
        return 0;
    pthread_once(&cpu_once, detect_cpu);
    return (cpu_flags & k->cpu_flags) == k->cpu_flags;
}

static pthread_once_t auto_once = PTHREAD_ONCE_INIT;
static fattn_isa auto_isa;
static char auto_error[FATTN_ERROR_MESSAGE_SIZE];

static void choose_auto(void)
{
    const char *env = getenv("FATTN_ISA");
    if (env && *env) {
        for (int isa = FATTN_ISA_AUTO; isa <= FATTN_ISA_AVX512; isa++) {
            if (strcmp(env, isa_names[isa]) != 0)
                continue;
            if (isa != FATTN_ISA_AUTO && !fattn_isa_available(isa)) {
                snprintf(auto_error, sizeof auto_error,
                         "FATTN_ISA = %s: this path is not available (not built in, or not supported by this CPU and OS)",
                         isa_names[isa]);
                auto_isa = FATTN_ISA_AUTO;
                return;
            }
            if (isa != FATTN_ISA_AUTO) {
                auto_isa = (fattn_isa)isa;
                return;
            }
            break; /* "auto": the best available */
        }
        if (strcmp(env, "auto") != 0) {
            snprintf(auto_error, sizeof auto_error,
                     "FATTN_ISA = '%.64s': unknown path (expected auto, scalar, avx2 or avx512)",
                     env);
            auto_isa = FATTN_ISA_AUTO;
            return;
        }
    }
    auto_isa = FATTN_ISA_SCALAR;
    for (int isa = FATTN_ISA_AVX512; isa > FATTN_ISA_SCALAR; isa--)
        if (fattn_isa_available(isa)) {
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
    const fattn_kernel *k = fattn_kernel_for((fattn_isa)isa);
    return k && k->fma_peak ? k->fma_peak(seconds) : 0.0;
}
