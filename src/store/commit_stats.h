/*
 * commit_stats.h - what the group commit does, for /metrics: how many jobs
 * each commit carried (the batch size) and how long its COMMIT took (on SQLite
 * with synchronous=FULL that is the WAL fsync; on PostgreSQL the round trip
 * that waits for the server's WAL flush). Both backends' writers report every
 * commit here; the counts are process-wide atomics read at scrape time.
 */
#ifndef KASSA_STORE_COMMIT_STATS_H
#define KASSA_STORE_COMMIT_STATS_H

#include "../base/common.h"

#define STORE_BATCH_BUCKETS  9  /* le 1, 2, 4 ... 256 (LIMIT_WRITE_BATCH_MAX) */
#define STORE_COMMIT_BUCKETS 12 /* le 0.1 ms ... 1 s */

typedef struct {
    uint64_t batch_bucket[STORE_BATCH_BUCKETS + 1]; /* last: +Inf */
    uint64_t batch_sum;
    uint64_t commit_bucket[STORE_COMMIT_BUCKETS + 1];
    uint64_t commit_sum_us;
    uint64_t count;
} store_commit_stats;

/* Upper bounds of the buckets, as Prometheus "le" labels. */
extern const char *const store_batch_le[STORE_BATCH_BUCKETS];
extern const char *const store_commit_le[STORE_COMMIT_BUCKETS];

/* A monotonic clock in microseconds, to time a COMMIT. */
int64_t store_commit_now_us(void);
/* One commit of `batch` jobs whose COMMIT took commit_us. */
void store_commit_observe(size_t batch, int64_t commit_us);
/* Counts so far (not cumulative per bucket: the renderer sums). */
void store_commit_stats_get(store_commit_stats *out);

#endif
