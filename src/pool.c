/*
 * pool.c - a thread pool the caller owns (fattn_pool_create), and the
 * usable CPU count.
 *
 * A pool of N threads starts N - 1 workers; the thread that runs a job is
 * the N-th and takes tasks too, so a job never waits for a worker to wake
 * before work starts. A job is (tasks, fn, arg): every participant takes
 * the next task index from an atomic counter until none is left. Jobs are
 * serialised: a caller waits while the pool is busy with another caller's
 * job (fattn.h: "Concurrent use").
 *
 * Sleeping: between jobs a worker spins on the job generation for a short,
 * bounded time (back-to-back calls, e.g. one per layer, then find it awake),
 * then sleeps on a condition variable; an idle pool uses no CPU.
 * Correctness never depends on the spin: every hand-over goes through the
 * mutex, so ThreadSanitizer sees each happens-before edge. A worker joins a
 * job only while it is busy (under the mutex), and its caller does not
 * return, nor can the next job start, before every joined worker has left
 * it: a late worker never takes the next job's tasks with this one's fn.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spin.h"

struct fattn_pool {
    int32_t threads; /* workers + the calling thread */
    pthread_t *workers;
    int32_t started;

    pthread_mutex_t lock;
    pthread_cond_t wake;  /* workers: a new job or stop */
    pthread_cond_t done;  /* the job's caller: the last worker left it */
    pthread_cond_t idle;  /* waiting callers: the pool is free */

    /* The current job, written under `lock` before `generation` moves. */
    fattn_task_fn fn;
    void *arg;
    int32_t tasks;
    _Atomic int32_t next;  /* next task index to take */
    /* Workers inside the current job: changed under `lock`; the job's
     * caller also reads it without the lock while it spins. */
    _Atomic int32_t inside;
    _Atomic uint64_t generation;
    int busy;
    int stop;
};

static void take_tasks(fattn_pool *pool, fattn_task_fn fn, void *arg,
                       int32_t tasks)
{
    for (;;) {
        int32_t t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
        if (t >= tasks)
            return;
        fn(arg, t);
    }
}

/* Spin until the generation moves past `seen` or FATTN_SPIN_NS pass. */
static void spin_wait(fattn_pool *pool, uint64_t seen)
{
    const int64_t until = fattn_now_ns() + FATTN_SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&pool->generation, memory_order_relaxed) != seen)
                return;
            fattn_cpu_relax();
        }
        if (fattn_now_ns() > until)
            return;
    }
}

static void *worker_main(void *opaque)
{
    fattn_pool *pool = opaque;
    uint64_t seen = 0;
    for (;;) {
        /* A short spin catches the next job without a futex round trip. */
        spin_wait(pool, seen);
        pthread_mutex_lock(&pool->lock);
        while (!pool->stop && atomic_load_explicit(&pool->generation,
                                                   memory_order_relaxed) == seen)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->stop) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        seen = atomic_load_explicit(&pool->generation, memory_order_relaxed);
        if (!pool->busy) {
            /* Woken for a job that has ended: its tasks were all taken and
             * its caller has returned (its arg is gone). Joining it would
             * take task indices of the next job with this one's fn. */
            pthread_mutex_unlock(&pool->lock);
            continue;
        }
        fattn_task_fn fn = pool->fn;
        void *arg = pool->arg;
        int32_t tasks = pool->tasks;
        atomic_fetch_add_explicit(&pool->inside, 1, memory_order_relaxed);
        pthread_mutex_unlock(&pool->lock);

        take_tasks(pool, fn, arg, tasks);

        pthread_mutex_lock(&pool->lock);
        if (atomic_fetch_sub_explicit(&pool->inside, 1, memory_order_release) == 1)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

void fattn_pool_run(fattn_pool *pool, int32_t tasks, fattn_task_fn fn,
                    void *arg)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->busy)
        pthread_cond_wait(&pool->idle, &pool->lock);
    pool->busy = 1;
    pool->fn = fn;
    pool->arg = arg;
    pool->tasks = tasks;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_relaxed);
    if (tasks > 1)
        pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    take_tasks(pool, fn, arg, tasks);

    /* Every task has been taken; wait for the workers still running one. A
     * worker that joins late finds no task left and leaves at once. */
    /* The workers still inside finish their last task about when the caller
     * does: a short spin saves the futex sleep and wake-up, which is a
     * sizeable part of a call of a few hundred microseconds. */
    const int64_t until = fattn_now_ns() + FATTN_SPIN_NS;
    while (atomic_load_explicit(&pool->inside, memory_order_acquire) > 0 &&
           fattn_now_ns() < until)
        for (int i = 0; i < 16; i++)
            fattn_cpu_relax();
    pthread_mutex_lock(&pool->lock);
    while (atomic_load_explicit(&pool->inside, memory_order_relaxed) > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pool->busy = 0;
    pthread_cond_signal(&pool->idle);
    pthread_mutex_unlock(&pool->lock);
}

static void stop_workers(fattn_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int32_t i = 0; i < pool->started; i++)
        pthread_join(pool->workers[i], NULL);
}

static void free_pool(fattn_pool *pool)
{
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

int32_t fattn_usable_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n < 1 ? 1 : n;
}

fattn_status fattn_pool_create(int32_t threads, fattn_pool **pool,
                               fattn_error *err)
{
    static const char fn[] = "fattn_pool_create";
    if (!pool)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "pool is NULL");
    *pool = NULL;
    if (threads < 0 || threads > FATTN_MAX_THREADS)
        return fattn_fail(err, FATTN_ERR_INVALID_VALUE, fn,
                          "threads = %" PRId32 ": must be in [1, %d], or 0 for the usable CPUs",
                          threads, FATTN_MAX_THREADS);
    if (threads == 0) {
        threads = fattn_usable_cpus();
        if (threads > FATTN_MAX_THREADS)
            threads = FATTN_MAX_THREADS;
    }
    fattn_pool *p = calloc(1, sizeof *p);
    pthread_t *workers = threads > 1 ? calloc((size_t)threads - 1, sizeof *workers)
                                     : NULL;
    if (!p || (threads > 1 && !workers)) {
        free(p);
        free(workers);
        return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                          "allocation for a pool of %" PRId32 " threads failed",
                          threads);
    }
    p->threads = threads;
    p->workers = workers;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_cond_init(&p->idle, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->inside, 0);
    atomic_init(&p->generation, 0);
    for (int32_t i = 0; i + 1 < threads; i++) {
        int rc = pthread_create(&p->workers[i], NULL, worker_main, p);
        if (rc != 0) {
            stop_workers(p);
            free_pool(p);
            return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                              "starting worker thread %" PRId32 " of %" PRId32 " failed (pthread_create returned %d)",
                              i + 1, threads - 1, rc);
        }
        p->started++;
    }
    fattn_ok(err);
    *pool = p;
    return FATTN_OK;
}

void fattn_pool_destroy(fattn_pool *pool)
{
    if (!pool)
        return;
    stop_workers(pool);
    free_pool(pool);
}

int32_t fattn_pool_threads(const fattn_pool *pool)
{
    return pool ? pool->threads : 0;
}
