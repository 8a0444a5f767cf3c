/*
 * workers.c - the fork/join pool of workers.h.
 *
 * A run bumps a generation counter; workers wait for a new generation,
 * spinning for a bounded time and then on a condition variable. The run is
 * over when the count of finished workers reaches threads - 1.
 */
#define _POSIX_C_SOURCE 200809L

#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Spinning as fattn's pool does (src/spin.h), so that neither side of the
 * comparison waits more cheaply than the other. */
#include "spin.h"

/* Poll `done(arg)` for up to FATTN_SPIN_NS; 1 if it became true. The clock is
 * read every 64 polls only. */
static int spin_until(int (*done)(void *), void *arg)
{
    const int64_t end = fattn_now_ns() + FATTN_SPIN_NS;

    for (unsigned k = 1;; k++) {
        if (done(arg))
            return 1;
        fattn_cpu_relax();
        if (k % 64 == 0 && fattn_now_ns() >= end)
            return 0;
    }
}

struct bench_workers {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mutex;
    pthread_cond_t wake, done_cond;
    atomic_uint generation;
    atomic_int done;
    atomic_int stop;
    void (*fn)(void *, int);
    void *arg;
};

typedef struct worker_start {
    bench_workers *w;
    int id;
} worker_start;

typedef struct gen_wait {
    bench_workers *w;
    unsigned seen;
} gen_wait;

static int new_generation(void *arg)
{
    const gen_wait *g = arg;

    return atomic_load_explicit(&g->w->generation, memory_order_acquire) !=
               g->seen ||
           atomic_load(&g->w->stop);
}

static int all_done(void *arg)
{
    bench_workers *w = arg;

    return atomic_load_explicit(&w->done, memory_order_acquire) == w->threads - 1;
}

/* Wait until the generation differs from `seen` (or stop); returns it. */
static unsigned wait_generation(bench_workers *w, unsigned seen)
{
    gen_wait gw = {w, seen};
    unsigned g;

    if (spin_until(new_generation, &gw))
        return atomic_load_explicit(&w->generation, memory_order_acquire);
    pthread_mutex_lock(&w->mutex);
    while ((g = atomic_load(&w->generation)) == seen && !atomic_load(&w->stop))
        pthread_cond_wait(&w->wake, &w->mutex);
    pthread_mutex_unlock(&w->mutex);
    return g;
}

static void *worker_main(void *arg)
{
    worker_start *s = arg;
    bench_workers *w = s->w;
    const int id = s->id;
    unsigned seen = 0;

    free(s);
    for (;;) {
        seen = wait_generation(w, seen);
        if (atomic_load(&w->stop))
            return NULL;
        w->fn(w->arg, id);
        if (atomic_fetch_add_explicit(&w->done, 1, memory_order_acq_rel) + 1 ==
            w->threads - 1) {
            pthread_mutex_lock(&w->mutex);
            pthread_cond_signal(&w->done_cond);
            pthread_mutex_unlock(&w->mutex);
        }
    }
}

bench_workers *bench_workers_create(int threads)
{
    bench_workers *w;

    if (threads < 1 || (w = calloc(1, sizeof *w)) == NULL)
        return NULL;
    w->threads = threads;
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done_cond, NULL);
    w->tids = calloc((size_t)threads, sizeof *w->tids);
    if (w->tids == NULL) {
        w->threads = 1;
        bench_workers_destroy(w);
        return NULL;
    }
    for (int k = 0; k < threads - 1; k++) {
        worker_start *s = malloc(sizeof *s);

        if (s != NULL) {
            s->w = w;
            s->id = k;
        }
        if (s == NULL || pthread_create(&w->tids[k], NULL, worker_main, s) != 0) {
            free(s);
            w->threads = k + 1; /* join the k started ones */
            bench_workers_destroy(w);
            return NULL;
        }
    }
    return w;
}

void bench_workers_run(bench_workers *w, void (*fn)(void *arg, int worker),
                       void *arg)
{
    if (w->threads == 1) {
        fn(arg, 0);
        return;
    }
    w->fn = fn;
    w->arg = arg;
    atomic_store(&w->done, 0);
    pthread_mutex_lock(&w->mutex);
    atomic_fetch_add_explicit(&w->generation, 1, memory_order_release);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mutex);
    fn(arg, w->threads - 1);
    if (spin_until(all_done, w))
        return;
    pthread_mutex_lock(&w->mutex);
    while (atomic_load(&w->done) != w->threads - 1)
        pthread_cond_wait(&w->done_cond, &w->mutex);
    pthread_mutex_unlock(&w->mutex);
}

int bench_workers_threads(const bench_workers *w)
{
    return w ? w->threads : 0;
}

void bench_workers_destroy(bench_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mutex);
    atomic_store(&w->stop, 1);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mutex);
    for (int k = 0; k < w->threads - 1; k++)
        pthread_join(w->tids[k], NULL);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done_cond);
    pthread_mutex_destroy(&w->mutex);
    free(w->tids);
    free(w);
}
