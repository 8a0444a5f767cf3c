/*
 * peak.h - the fp32 FMA peak of several cores at once, for "% of peak" at a
 * thread count. Shared by `fattn bench` (src/cli) and the benchmark suite
 * (bench/), so both divide by the same measurement.
 */
#ifndef FATTN_CLI_PEAK_H
#define FATTN_CLI_PEAK_H

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

#endif /* FATTN_CLI_PEAK_H */
