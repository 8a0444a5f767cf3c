/*
 * cpu_x86.c - CPUID + XGETBV feature detection.
 *
 * A path is usable only if the CPU has the instructions (CPUID) and the OS
 * saves and restores the registers they use (XCR0): a kernel that checks
 * CPUID alone crashes with #UD on an OS that has not enabled ZMM state.
 */
#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <stddef.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv via asm: the _xgetbv intrinsic needs -mxsave on this file,
     * which must stay baseline x86-64. */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t fattn_cpu_detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
              f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return 0;
    const uint64_t xcr0 = read_xcr0();
    const int ymm_state = (xcr0 & 0x6) == 0x6;
    const int zmm_state = (xcr0 & 0xE6) == 0xE6;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1,
              vl = (b >> 31) & 1;
    const unsigned max_sub7 = a; /* leaf 7's highest subleaf */
    int bf16 = 0;
    if (max_sub7 >= 1) {
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        bf16 = (a1 >> 5) & 1;
    }

    uint32_t flags = 0;
    if (ymm_state && avx2 && fma && f16c)
        flags |= FATTN_CPU_AVX2;
    if ((flags & FATTN_CPU_AVX2) && zmm_state && f && bw && dq && vl)
        flags |= FATTN_CPU_AVX512;
    if ((flags & FATTN_CPU_AVX512) && bf16)
        flags |= FATTN_CPU_AVX512BF16;
    return flags;
}
#else
uint32_t fattn_cpu_detect(void)
{
    return 0;
}
#endif
