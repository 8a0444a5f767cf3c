/*
 * peak.c - the FMA peak of several cores at once (peak.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "peak.h"

#include "fattn.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct start_gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int open;  /* 1: measure now */
    int abort; /* 1: a helper could not be started; measure nothing */
} start_gate;

typedef struct meter {
    start_gate *gate;
    int isa;
    double seconds;
    double gflops;
} meter;

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
        m->gflops = fattn_fma_peak_gflops(m->isa, m->seconds);
    return NULL;
}

double cli_fma_peak_gflops_threads(int isa, int threads, double seconds,
                                   int *used)
{
    const int cpus = fattn_usable_cpus();
    const int n = threads < cpus ? threads : cpus;
    start_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       0, 0};
    pthread_t *tids;
    meter *meters;
    double sum = 0.0;
    int started = 0;

    if (used != NULL)
        *used = n > 1 ? n : 1;
    if (n <= 1)
        return fattn_fma_peak_gflops(isa, seconds);
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
    /* n - 1 helpers; the calling thread is the last copy. */
    for (; started < n - 1; started++)
        if (pthread_create(&tids[started], NULL, run_meter, &meters[started]) != 0)
            break;
    pthread_mutex_lock(&gate.mutex);
    gate.open = 1;
    gate.abort = started < n - 1;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.mutex);
    run_meter(&meters[n - 1]);
    for (int k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
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
