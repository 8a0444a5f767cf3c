/*
 * fma_peak.h - a register-resident FMA loop that measures one core's fp32
 * FMA throughput at this path's vector width (for "% of peak" figures).
 *
 * Included by each simd/attention_<isa>.c after its vec_<isa>.h, with
 * FMA_PEAK set to the entry point's name, and PEAK_CHAINS to the number of
 * independent accumulator chains: at least the FMA latency x throughput of
 * current x86 cores (4-5 cycles x 2 pipes), and with the two constants no
 * more than the ISA's vector registers, so nothing but the FMAs runs inside
 * the timed loop (16 chains on 16 ymm registers spilled two of them and
 * read the AVX2 peak ~20% low).
 */
#include <time.h> /* needs _POSIX_C_SOURCE from the including file */

static double peak_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One timed chunk; the result feeds a sum so no FMA is dead code. */
static double peak_chunk(long iterations, float *sink)
{
    enum { CHAINS = PEAK_CHAINS };
    vf acc[CHAINS];
    const vf mul = vf_set1(0.9999999f), add = vf_set1(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = vf_set1((float)c);
    double t0 = peak_now();
    for (long i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = vf_fmadd(acc[c], mul, add);
    double t = peak_now() - t0;
    vf sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = vf_add(sum, acc[c]);
    float lanes[VW];
    vf_store(lanes, sum);
    *sink += lanes[0];
    return t > 0.0 ? 2.0 * VW * CHAINS * (double)iterations / t * 1e-9 : 0.0;
}

/* The best GFLOP/s of chunk() over about `seconds`, chunks growing to
 * 2^22 iterations: a meter's driver, for the FMA loop above or another
 * instruction's (the AVX512_BF16 path's vdpbf16ps). */
static double peak_best(double seconds, double (*chunk)(long, float *))
{
    float sink = 0.0f;
    double best = 0.0, start = peak_now();
    long iterations = 1L << 16;
    do {
        double g = chunk(iterations, &sink);
        if (g > best)
            best = g;
        if (iterations < (1L << 22))
            iterations *= 2;
    } while (peak_now() - start < seconds);
    /* The sink is finite; this comparison only keeps it alive. */
    return sink == 12345.678f ? best + 0.0 : best;
}

static double FMA_PEAK(double seconds)
{
    return peak_best(seconds, peak_chunk);
}
