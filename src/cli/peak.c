/*
 * peak.c - the FMA peak and the read bandwidth of several cores at once
 * (peak.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "peak.h"

#include "fattn.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct start_gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int open;  /* 1: measure now */
    int abort; /* 1: a helper could not be started; measure nothing */
} start_gate;

/* fn(copy k) for k < n: copies 0 .. n - 2 on new threads (tids has n - 1
 * slots), the last on the calling thread, all released by the gate at
 * once, or with gate->abort set when a thread could not be started (so
 * none measures). Returns when every copy has. */
static void run_gated(start_gate *gate, pthread_t *tids, int n,
                      void *(*fn)(void *), void *copies, size_t size)
{
    char *c = copies;
    int started = 0;
    for (; started < n - 1; started++)
        if (pthread_create(&tids[started], NULL, fn, c + (size_t)started * size) != 0)
            break;
    pthread_mutex_lock(&gate->mutex);
    gate->open = 1;
    gate->abort = started < n - 1;
    pthread_cond_broadcast(&gate->cond);
    pthread_mutex_unlock(&gate->mutex);
    fn(c + (size_t)(n - 1) * size);
    for (int k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
}

typedef struct meter {
    start_gate *gate;
    int isa; /* the FMA meter's width; -1: the bf16 dot-product meter */
    double seconds;
    double gflops;
} meter;

/* One copy of a meter on the calling thread. */
static double one_core(int isa, double seconds)
{
    return isa < 0 ? fattn_bf16_peak_gflops(seconds)
                   : fattn_fma_peak_gflops(isa, seconds);
}

static void *run_meter(void *arg)
{
    meter *m = arg;
    int abort;

    /* Every copy starts at once, so their measuring chunks overlap: a copy
     * that ran while the others had not started would see an idle machine
     * (a higher clock, a free core) and overstate the sum. */
    pthread_mutex_lock(&m->gate->mutex);
    while (!m->gate->open)
        pthread_cond_wait(&m->gate->cond, &m->gate->mutex);
    abort = m->gate->abort;
    pthread_mutex_unlock(&m->gate->mutex);
    if (!abort)
        m->gflops = one_core(m->isa, m->seconds);
    return NULL;
}

/* Copies of a meter for `threads` threads: more threads than usable CPUs
 * add no FMA units and no memory channels. At least 1. */
static int meter_threads(int threads)
{
    const int cpus = fattn_usable_cpus();
    const int n = threads < cpus ? threads : cpus;

    return n > 1 ? n : 1;
}

/* `threads` copies of meter `isa` (-1: bf16) at once, summed. */
static double peak_threads(int isa, int threads, double seconds, int *used)
{
    const int n = meter_threads(threads);
    start_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       0, 0};
    pthread_t *tids;
    meter *meters;
    double sum = 0.0;

    if (used != NULL)
        *used = n;
    if (n == 1)
        return one_core(isa, seconds);
    /* Unavailable (0 at once on one core): no threads for nothing. */
    if (isa < 0 && fattn_bf16_peak_gflops(1e-3) <= 0.0)
        return 0.0;
    tids = malloc((size_t)n * sizeof *tids);
    meters = malloc((size_t)n * sizeof *meters);
    if (tids == NULL || meters == NULL) {
        free(tids);
        free(meters);
        return 0.0;
    }
    for (int k = 0; k < n; k++) {
        meters[k].gate = &gate;
        meters[k].isa = isa;
        meters[k].seconds = seconds;
        meters[k].gflops = 0.0;
    }
    run_gated(&gate, tids, n, run_meter, meters, sizeof *meters);
    for (int k = 0; k < n && !gate.abort; k++) {
        if (meters[k].gflops <= 0.0) {
            sum = 0.0; /* one copy failed: no N-core figure */
            break;
        }
        sum += meters[k].gflops;
    }
    free(tids);
    free(meters);
    return sum;
}

double cli_fma_peak_gflops_threads(int isa, int threads, double seconds,
                                   int *used)
{
    return peak_threads(isa < 0 ? FATTN_ISA_COUNT : isa, threads, seconds,
                        used);
}

double cli_bf16_peak_gflops_threads(int threads, double seconds, int *used)
{
    return peak_threads(-1, threads, seconds, used);
}

/* ---- Read bandwidth ------------------------------------------------- */

#define READ_MIN_BYTES ((size_t)256 << 20)
#define READ_CACHE_FACTOR 8
#define READ_PASSES 7

/* The largest cache CPU 0 reports, bytes, 0 if unknown. Linux's sysfs
 * describes the cache the CPU shares (a VM's own L3); glibc's sysconf can
 * report a whole host's, which would make the buffer needlessly huge, so
 * it is only the fallback. */
static size_t largest_cache(void)
{
    size_t best = 0;

    for (int k = 0; k < 8; k++) {
        char path[96], unit = 0;
        unsigned long size = 0;
        FILE *f;

        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/size", k);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fscanf(f, "%lu%c", &size, &unit) >= 1) {
            size_t bytes = (size_t)size;

            if (unit == 'K')
                bytes <<= 10;
            else if (unit == 'M')
                bytes <<= 20;
            if (bytes > best)
                best = bytes;
        }
        fclose(f);
    }
#if defined(_SC_LEVEL3_CACHE_SIZE)
    if (best == 0) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);

        best = l3 > 0 ? (size_t)l3 : 0;
    }
#endif
    return best;
}

static size_t read_buffer_bytes(void)
{
    size_t bytes = READ_MIN_BYTES;
    const size_t cache = largest_cache();
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    if (cache > 0 && cache <= SIZE_MAX / READ_CACHE_FACTOR &&
        cache * READ_CACHE_FACTOR > bytes)
        bytes = cache * READ_CACHE_FACTOR;
    if (pages > 0 && page > 0 &&
        (uint64_t)pages / 4 <= (uint64_t)SIZE_MAX / (uint64_t)page) {
        const size_t quarter = (size_t)pages / 4 * (size_t)page;

        if (bytes > quarter)
            bytes = quarter;
    }
    return bytes;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct reader {
    start_gate *gate;
    pthread_barrier_t *barrier;
    uint64_t *p;
    size_t n4; /* blocks of four words */
    uint64_t sum;
    double seconds[READ_PASSES]; /* the calling thread's record */
} reader;

/* Sum n4 blocks of four words with four independent chains, so the loop is
 * bound by memory, not by the latency of one addition chain. */
static uint64_t read_all(const uint64_t *p, size_t n4)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

    for (size_t k = 0; k < n4; k++, p += 4) {
        s0 += p[0];
        s1 += p[1];
        s2 += p[2];
        s3 += p[3];
    }
    return s0 + s1 + s2 + s3;
}

/* One slice: touch it, then read it once per pass between two barriers.
 * Every copy times the passes; the calling thread's record is used (the
 * barrier releases every copy at once, and the second one only when the
 * slowest is done). */
static void *run_reader(void *arg)
{
    reader *r = arg;
    int abort;

    pthread_mutex_lock(&r->gate->mutex);
    while (!r->gate->open)
        pthread_cond_wait(&r->gate->cond, &r->gate->mutex);
    abort = r->gate->abort;
    pthread_mutex_unlock(&r->gate->mutex);
    if (abort)
        return NULL;
    for (size_t k = 0; k < r->n4 * 4; k++)
        r->p[k] = k;
    for (int pass = 0; pass < READ_PASSES; pass++) {
        double t;

        pthread_barrier_wait(r->barrier);
        t = now_seconds();
        r->sum += read_all(r->p, r->n4);
        pthread_barrier_wait(r->barrier);
        r->seconds[pass] = now_seconds() - t;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double cli_read_gbps_threads(int threads, int *used, size_t *bytes_out)
{
    const int n = meter_threads(threads);
    const size_t bytes = read_buffer_bytes();
    const size_t words = bytes / sizeof(uint64_t), per = words / 4 / (size_t)n;
    start_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       0, 0};
    pthread_barrier_t barrier;
    pthread_t *tids;
    reader *readers;
    uint64_t *buf;
    volatile uint64_t sink = 0;
    double gbps = 0.0;

    if (used != NULL)
        *used = n;
    if (bytes_out != NULL)
        *bytes_out = bytes;
    buf = malloc(bytes);
    tids = malloc((size_t)n * sizeof *tids);
    readers = calloc((size_t)n, sizeof *readers);
    if (buf == NULL || tids == NULL || readers == NULL ||
        pthread_barrier_init(&barrier, NULL, (unsigned)n) != 0) {
        free(buf);
        free(tids);
        free(readers);
        return 0.0;
    }
    for (int k = 0; k < n; k++) {
        readers[k].gate = &gate;
        readers[k].barrier = &barrier;
        readers[k].p = buf + (size_t)k * per * 4;
        readers[k].n4 = k == n - 1 ? words / 4 - (size_t)k * per : per;
    }
    /* The gate lets no reader reach the barrier unless all n started. */
    run_gated(&gate, tids, n, run_reader, readers, sizeof *readers);
    if (!gate.abort) {
        double *t = readers[n - 1].seconds;

        for (int k = 0; k < n; k++)
            sink += readers[k].sum;
        qsort(t, READ_PASSES, sizeof *t, cmp_double);
        if (t[READ_PASSES / 2] > 0.0)
            gbps = (double)(words / 4 * 4 * sizeof(uint64_t)) /
                   t[READ_PASSES / 2] * 1e-9;
    }
    (void)sink;
    pthread_barrier_destroy(&barrier);
    free(buf);
    free(tids);
    free(readers);
    return gbps;
}
