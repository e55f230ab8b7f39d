/*
 * writer.h - private to the store module: the group-commit writer both
 * backends share (Redis keeps ae.c once over ae_epoll.c / ae_kqueue.c; this
 * is store's ae.c).
 *
 * store_write() queues a job on a bounded ring and sleeps on the job's own
 * condition variable. One writer thread takes everything queued (at most
 * LIMIT_WRITE_BATCH_MAX), opens ONE transaction, runs each job's closure in
 * its own savepoint (a closure that fails rolls back only itself), commits,
 * and only then wakes the batch: when store_write returns K_OK the closure's
 * changes are durable. Jobs that arrive meanwhile form the next batch, so
 * under load one fsync serves many requests.
 *
 * A backend supplies only the transaction verbs below (its own SQL and its
 * own notion of "the transaction broke"); the queue, the batch, the thread,
 * the wake-up and the counters live once, in writer.c.
 */
#ifndef KASSA_STORE_WRITER_H
#define KASSA_STORE_WRITER_H

#include <pthread.h>

#include "store_int.h"

/* The transaction verbs of one backend, all run on the writer thread with
 * the backend's writer connection. `ctx` is the backend's state. A hook that
 * returns false says the transaction is gone: the writer then calls `abort`
 * and fails the whole batch with what it answers (K_EIO, or K_ENOSPC). */
typedef struct {
    /* Opens the batch's transaction (connecting first if the backend needs
     * to) and returns the connection closures get as store_tx.conn, or NULL. */
    void *(*begin)(void *ctx);
    bool (*savepoint)(void *ctx);
    /* After a closure returned *st: false when the transaction itself broke
     * under it; may turn *st into an error (a statement failed but the
     * closure carried on). */
    bool (*check)(void *ctx, k_status *st);
    bool (*release)(void *ctx);     /* keeps the closure's changes */
    bool (*rollback_to)(void *ctx); /* undoes the closure's changes */
    bool (*commit)(void *ctx, size_t jobs);
    /* Rolls back whatever is open; the batch has failed. Says why: K_ENOSPC
     * when the disk is full, else K_EIO. */
    k_status (*abort)(void *ctx);
} store_writer_hooks;

typedef struct writer_job writer_job;

typedef struct {
    store *pub;
    const store_writer_hooks *hooks;
    void *ctx;
    const char *thread_name; /* static */
    pthread_t thread;
    pthread_mutex_t mu; /* guards the queue, stopping, stats and every job's done */
    pthread_cond_t work_cv;
    writer_job *queue[LIMIT_WRITE_QUEUE_MAX]; /* ring */
    size_t q_head, q_count;
    bool stopping;
    store_stats stats; /* commits, jobs, jobs_failed, batch_max */
} store_writer;

/* Starts the writer thread (named `thread_name` for top -H and perf). K_ERR
 * when the thread cannot start; nothing is left to free then. */
k_status store_writer_start(store_writer *w, store *pub, const store_writer_hooks *hooks, void *ctx,
                            const char *thread_name);
/* Lets the writer drain the queue, joins it and frees what start made. Not
 * from inside a write closure. */
void store_writer_stop(store_writer *w);
/* store_write: fn's status, K_EIO (K_ENOSPC: disk full) when the batch did not commit, K_EBUSY when
 * the queue is full or the writer is stopping. */
k_status store_writer_submit(store_writer *w, store_fn fn, void *arg);
/* store_write_async: queues fn without waiting. K_OK: on_done(done_arg, st)
 * is called exactly once, on the writer's thread, with what store_writer_submit
 * would have returned (after COMMIT's fsync, or once the batch failed, or
 * K_EBUSY when the writer reached it after deadline_ms, 0 = never). K_EBUSY
 * (queue full, stopping) or K_ENOMEM: on_done is never called. */
k_status store_writer_submit_async(store_writer *w, store_fn fn, void *arg, int64_t deadline_ms,
                                   store_done_fn on_done, void *done_arg);
/* The next store_writer_submit on this thread may be refused K_EBUSY, without
 * running, when the writer reaches it after deadline_ms (clock_mono_ms); 0 =
 * never. Set by store_write_fresh around one submit. */
void store_writer_next_deadline(int64_t deadline_ms);
/* Copies the counters and the queue depth. */
void store_writer_stats(store_writer *w, store_stats *out);

#endif
