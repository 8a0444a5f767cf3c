/*
 * peak.h - the fp32 FMA peak, the bf16 dot-product peak and the memory read
 * bandwidth of several cores at once, for "% of peak", "% of read
 * bandwidth" and the roofline at a thread count. Shared by `fattn bench` (src/cli) and the benchmark suite
 * (bench/), so both divide by the same measurements.
 */
#ifndef FATTN_CLI_PEAK_H
#define FATTN_CLI_PEAK_H

#include <stddef.h>

/*
 * The FMA peak of `threads` threads at the vector width of `isa`, GFLOP/s:
 * fattn_fma_peak_gflops(isa, seconds) run on min(threads, usable CPUs)
 * threads at the same time (released together by a barrier), summed.
 *
 * Why that is the N-thread peak: the meter is a register-resident chain of
 * independent FMAs with no memory traffic, so each copy is bound only by
 * the FMA units of the core it runs on; N copies on N cores measure what N
 * cores deliver together, including what a one-core figure times N would
 * miss: the lower all-core clock when every core runs wide vectors, and a
 * core that the host (a shared VM) gives to someone else meanwhile. More
 * threads than usable CPUs add no FMA units, so the meter never runs more
 * copies than there are CPUs; *used (if not NULL) gets how many ran.
 *
 * 0 if the path has no FMA peak (scalar, unavailable) or a thread could not
 * be started; threads <= 1 is the one-core meter itself.
 */
double cli_fma_peak_gflops_threads(int isa, int threads, double seconds,
                                   int *used);

/*
 * The same for bf16 dot products: fattn_bf16_peak_gflops(seconds) on
 * min(threads, usable CPUs) threads at once, summed (vdpbf16ps, each
 * instruction counted as 4 FLOP per f32 lane, as two FMAs would be): the
 * peak of the avx512bf16 path's kernels. 0 when that path is not built in
 * or the CPU lacks AVX512_BF16 (callers say "unavailable", not 0 %).
 */
double cli_bf16_peak_gflops_threads(int threads, double seconds, int *used);

/*
 * The memory read bandwidth of `threads` threads at once, GB/s (1e9 bytes
 * per second): one buffer split into min(threads, usable CPUs) slices, each
 * written first by the thread that reads it (first touch, so every page is
 * mapped, and local to that thread's node, before anything is timed), then
 * all slices read at the same time (released together by a barrier; a pass
 * lasts until the slowest is done), the median of several passes.
 *
 * The buffer is 8 times the largest cache CPU 0 reports, at least 256 MiB
 * (at most a quarter of physical memory), so the passes stream from
 * memory, not from a cache. The loop is plain C with
 * independent add chains: bound by memory, not by the adds.
 *
 * *used (if not NULL) gets the threads that read, *bytes (if not NULL) the
 * buffer's size. 0 if the buffer cannot be allocated or a thread started.
 */
double cli_read_gbps_threads(int threads, int *used, size_t *bytes);

#endif /* FATTN_CLI_PEAK_H */
