/*
 * cpu.h - what this CPU and OS can run (cpu_x86.c).
 */
#ifndef FATTN_CPU_H
#define FATTN_CPU_H

#include <stdint.h>

/* Each flag is a complete feature set a kernel path may assume: the CPUID
 * bits AND the OS-enabled register state (XCR0), never CPUID alone. */
enum {
    /* AVX2 + FMA3 + F16C, OSXSAVE, XCR0 bits 1-2 (SSE and YMM state).
     * Every CPU with AVX2 has F16C (it came a generation earlier). */
    FATTN_CPU_AVX2 = 1u << 0,
    /* FATTN_CPU_AVX2 + AVX-512 F, BW, DQ and VL, XCR0 bits 5-7 (opmask,
     * upper ZMM0-15, ZMM16-31). */
    FATTN_CPU_AVX512 = 1u << 1,
    /* FATTN_CPU_AVX512 + AVX512_BF16 (CPUID.(EAX=7,ECX=1):EAX bit 5):
     * vcvtne2ps2bf16, vcvtneps2bf16, vdpbf16ps. */
    FATTN_CPU_AVX512BF16 = 1u << 2
};

/* Reads CPUID/XGETBV on every call (dispatch.c calls it once per process
 * and keeps the result); 0 off x86. */
uint32_t fattn_cpu_detect(void);

#endif /* FATTN_CPU_H */
