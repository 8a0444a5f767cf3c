/*
 * test_threads.c - concurrent first use and concurrent calls.
 *
 * The library is not touched before the threads start together (a barrier),
 * so their first calls race on the once-only state: the CPU flags and the
 * choice of the automatic path. Each thread then computes the same problem
 * on every path into its own outputs; afterwards every thread's result must
 * equal thread 0's bit for bit, and AUTO's must equal the path it resolved
 * to. scripts/test.sh runs it under ThreadSanitizer as well.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include "fattn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 6, B = 1, H = 4, S = 75, D = 40, N = B * H * S * D, PATHS = 4 };

static float q[N], k[N], v[N];
static pthread_barrier_t start;

typedef struct job {
    float out[PATHS][N];
    int ran[PATHS];
    int resolved; /* what FATTN_ISA_AUTO resolved to in this thread */
    int failures;
} job;

static int run(float *out, int isa)
{
    fattn_tensor tq, tk, tv, to;
    fattn_tensor_contiguous(&tq, q, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(&tk, k, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(&tv, v, FATTN_DTYPE_F32, B, H, S, D);
    fattn_tensor_contiguous(&to, out, FATTN_DTYPE_F32, B, H, S, D);
    fattn_params p;
    memset(&p, 0, sizeof p);
    p.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
    p.isa = isa;
    fattn_error err;
    fattn_status st = fattn_forward(&tq, &tk, &tv, &to, &p, &err);
    if (st != FATTN_OK)
        printf("FAIL isa %s: %s\n", fattn_isa_name(isa), err.message);
    return st != FATTN_OK;
}

static void *worker(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(&start);
    for (int isa = FATTN_ISA_AUTO; isa < PATHS; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        j->failures += run(j->out[isa], isa);
        j->ran[isa] = 1;
    }
    j->resolved = fattn_isa_auto(NULL);
    return NULL;
}

int main(void)
{
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        q[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
        k[i] = q[(i * 7) % N];
        v[i] = q[(i * 13) % N];
    }
    static job jobs[THREADS];
    pthread_t tid[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) {
            printf("FAIL: pthread_create\n");
            return 1;
        }
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        failures += jobs[t].failures;
    }
    pthread_barrier_destroy(&start);

    for (int t = 0; t < THREADS; t++) {
        if (jobs[t].resolved != jobs[0].resolved || jobs[t].resolved == FATTN_ISA_AUTO) {
            printf("FAIL thread %d: auto resolved to %s, thread 0 to %s\n", t,
                   fattn_isa_name(jobs[t].resolved), fattn_isa_name(jobs[0].resolved));
            failures++;
        }
        for (int isa = 0; isa < PATHS; isa++) {
            if (jobs[t].ran[isa] != jobs[0].ran[isa] ||
                (jobs[t].ran[isa] &&
                 memcmp(jobs[t].out[isa], jobs[0].out[isa], sizeof jobs[t].out[isa]) != 0)) {
                printf("FAIL thread %d, isa %s: result differs from thread 0's\n", t,
                       fattn_isa_name(isa));
                failures++;
            }
        }
    }
    if (memcmp(jobs[0].out[FATTN_ISA_AUTO], jobs[0].out[jobs[0].resolved],
               sizeof jobs[0].out[0]) != 0) {
        printf("FAIL: auto's result differs from %s's\n", fattn_isa_name(jobs[0].resolved));
        failures++;
    }
    printf("%d threads x every available path (auto = %s): %d failures\n", THREADS,
           fattn_isa_name(jobs[0].resolved), failures);
    return failures != 0;
}
