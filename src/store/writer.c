/*
 * writer.c - the group-commit writer (see writer.h): one bounded queue, one
 * thread, one transaction per batch with a savepoint per job, callers woken
 * only after COMMIT. Both backends run on it; they supply the verbs.
 */
#include "writer.h"

#include <stdlib.h>
#include <string.h>
#include "commit_stats.h"
#include "../base/clock.h"
#include "../base/crashpoint.h"

struct writer_job {
    store_fn fn;
    void *arg;
    k_status status;
    int64_t deadline_ms; /* refused K_EBUSY, not run, when taken later; 0 = never */
    bool done;           /* set by the writer under store_writer.mu */
    pthread_cond_t cv;   /* the caller sleeps on its own job: no herd on wake-up */
    /* An asynchronous job (store_writer_submit_async): nobody sleeps on cv; the
     * writer calls on_done once, outside mu, then frees the job. */
    store_done_fn on_done;
    void *done_arg;
};

/* The writer whose thread this is: a nested store_write would wait for itself. */
static _Thread_local store_writer *writer_of;
/* The deadline of this thread's next submit (store_writer_next_deadline). */
static _Thread_local int64_t next_deadline_ms;

void store_writer_next_deadline(int64_t deadline_ms)
{
    next_deadline_ms = deadline_ms;
}

/* Every job of the batch fails: the transaction is gone (or its COMMIT's
 * outcome is unknown). K_ENOSPC when the backend says its disk is full (the
 * caller may come back later), else K_EIO. */
static void batch_fail(store_writer *w, writer_job **batch, size_t n)
{
    k_status why = w->hooks->abort(w->ctx);
    K_ASSERT(why == K_EIO || why == K_ENOSPC);
    for (size_t i = 0; i < n; i++)
        batch[i]->status = why;
}

/* Runs one job in its savepoint. Returns false when the transaction itself
 * broke (the backend rolled it back, or a savepoint command failed). */
static bool job_run(store_writer *w, store_tx *tx, writer_job *job)
{
    const store_writer_hooks *h = w->hooks;
    if (!h->savepoint(w->ctx))
        return false;
    k_status st = job->fn(tx, job->arg);
    if (!h->check(w->ctx, &st))
        return false;
    job->status = st;
    if (st == K_OK)
        return h->release(w->ctx);
    if (!h->rollback_to(w->ctx))
        return false;
    return h->release(w->ctx);
}

/* Returns whether the batch committed. */
static bool batch_run(store_writer *w, writer_job **batch, size_t n)
{
    K_ASSERT(n > 0);
    K_ASSERT(n <= LIMIT_WRITE_BATCH_MAX);
    void *conn = w->hooks->begin(w->ctx);
    if (conn == NULL) {
        batch_fail(w, batch, n);
        return false;
    }
    store_tx tx = {w->pub, conn, true};
    for (size_t i = 0; i < n; i++) {
        if (!job_run(w, &tx, batch[i])) {
            batch_fail(w, batch, n);
            return false;
        }
    }
    int64_t commit_t0 = store_commit_now_us();
    if (!w->hooks->commit(w->ctx, n)) {
        batch_fail(w, batch, n);
        return false;
    }
    store_commit_observe(n,
                         store_commit_now_us() - commit_t0); /* /metrics: batch sizes, fsync time */
    crash_point("store.committed");                          /* durable, nobody told yet */
    return true;
}

/* Called with w->mu held: an asynchronous job is kept in *later for its
 * on_done (called once mu is released); a waiting caller is woken. */
static void job_finish(writer_job *j, writer_job **later, size_t *nlater)
{
    j->done = true;
    if (j->on_done != NULL) {
        later[(*nlater)++] = j;
        return;
    }
    /* Signalled under mu: the caller cannot see done, return and destroy the
     * condition variable before this call is over. */
    pthread_cond_signal(&j->cv);
}

/* Without mu: tells each asynchronous job how it ended, then frees it. */
static void jobs_call_back(writer_job **later, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        writer_job *j = later[i];
        K_ASSERT(j->done);
        j->on_done(j->done_arg, j->status);
        free(j);
    }
}

/* Called with w->mu held: wakes the batch and counts it. */
static void batch_finish(store_writer *w, writer_job **batch, size_t n, bool committed,
                         writer_job **later, size_t *nlater)
{
    for (size_t i = 0; i < n; i++) {
        if (batch[i]->status != K_OK)
            w->stats.jobs_failed++;
        job_finish(batch[i], later, nlater);
    }
    w->stats.jobs += n;
    if (committed)
        w->stats.commits++;
    if (n > w->stats.batch_max)
        w->stats.batch_max = n;
}

static void *writer_main(void *arg)
{
    store_writer *w = arg;
    pthread_setname_np(pthread_self(), w->thread_name); /* top -H, perf */
    writer_of = w;
    writer_job *batch[LIMIT_WRITE_BATCH_MAX];
    writer_job *later[LIMIT_WRITE_BATCH_MAX]; /* asynchronous jobs to call back */
    size_t nlater = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (nlater > 0) {
            pthread_mutex_unlock(&w->mu);
            jobs_call_back(later, nlater);
            nlater = 0;
            pthread_mutex_lock(&w->mu);
        }
        while (w->q_count == 0 && !w->stopping)
            pthread_cond_wait(&w->work_cv, &w->mu);
        if (w->q_count == 0)
            break; /* stopping, and the queue is drained */
        size_t n = w->q_count < LIMIT_WRITE_BATCH_MAX ? w->q_count : LIMIT_WRITE_BATCH_MAX;
        size_t late = 0;
        int64_t now = clock_mono_ms();
        for (size_t i = 0; i < n; i++) {
            writer_job *j = w->queue[w->q_head];
            w->q_head = (w->q_head + 1) % LIMIT_WRITE_QUEUE_MAX;
            if (j->deadline_ms != 0 && now > j->deadline_ms) {
                /* Nothing of it ran: the caller answers 503 and may retry. */
                j->status = K_EBUSY;
                job_finish(j, later, &nlater);
                late++;
                continue;
            }
            batch[i - late] = j;
        }
        w->q_count -= n;
        w->stats.jobs_late += late;
        n -= late;
        if (n == 0)
            continue;
        pthread_mutex_unlock(&w->mu);
        bool committed = batch_run(w, batch, n);
        pthread_mutex_lock(&w->mu);
        batch_finish(w, batch, n, committed, later, &nlater);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

k_status store_writer_start(store_writer *w, store *pub, const store_writer_hooks *hooks, void *ctx,
                            const char *thread_name)
{
    K_ASSERT(w != NULL);
    K_ASSERT(hooks != NULL);
    memset(w, 0, sizeof(*w));
    w->pub = pub;
    w->hooks = hooks;
    w->ctx = ctx;
    w->thread_name = thread_name;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work_cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->work_cv);
        pthread_mutex_destroy(&w->mu);
        return K_ERR;
    }
    return K_OK;
}

void store_writer_stop(store_writer *w)
{
    K_ASSERT(writer_of != w); /* store_close inside a write closure */
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* the writer drains the queue first */
    K_ASSERT(w->q_count == 0);
    pthread_cond_destroy(&w->work_cv);
    pthread_mutex_destroy(&w->mu);
}

k_status store_writer_submit(store_writer *w, store_fn fn, void *arg)
{
    K_ASSERT(fn != NULL);
    K_ASSERT(writer_of != w); /* store_write inside a write closure would deadlock */
    writer_job job = {
        .fn = fn, .arg = arg, .status = K_OK, .deadline_ms = next_deadline_ms, .done = false};
    next_deadline_ms = 0;
    pthread_mutex_lock(&w->mu);
    if (w->stopping || w->q_count == LIMIT_WRITE_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        return K_EBUSY;
    }
    pthread_cond_init(&job.cv, NULL);
    w->queue[(w->q_head + w->q_count) % LIMIT_WRITE_QUEUE_MAX] = &job;
    w->q_count++;
    pthread_cond_signal(&w->work_cv);
    while (!job.done)
        pthread_cond_wait(&job.cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&job.cv);
    return job.status;
}

k_status store_writer_submit_async(store_writer *w, store_fn fn, void *arg, int64_t deadline_ms,
                                   store_done_fn on_done, void *done_arg)
{
    K_ASSERT(fn != NULL);
    K_ASSERT(on_done != NULL);
    K_ASSERT(deadline_ms >= 0);
    writer_job *job = malloc(sizeof(*job));
    if (job == NULL)
        return K_ENOMEM;
    *job = (writer_job){.fn = fn,
                        .arg = arg,
                        .status = K_OK,
                        .deadline_ms = deadline_ms,
                        .done = false,
                        .on_done = on_done,
                        .done_arg = done_arg};
    pthread_mutex_lock(&w->mu);
    if (w->stopping || w->q_count == LIMIT_WRITE_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        free(job);
        return K_EBUSY;
    }
    w->queue[(w->q_head + w->q_count) % LIMIT_WRITE_QUEUE_MAX] = job;
    w->q_count++;
    pthread_cond_signal(&w->work_cv);
    pthread_mutex_unlock(&w->mu);
    return K_OK;
}

void store_writer_stats(store_writer *w, store_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    out->queue_depth = w->q_count;
    pthread_mutex_unlock(&w->mu);
}
