/*
 * commit_stats.c - see commit_stats.h. Relaxed atomics: each counter is
 * exact, a scrape may see one commit in the count and not yet in a bucket.
 */
#include "commit_stats.h"

#include <stdatomic.h>
#include <time.h>

#include "../limits.h"

static const uint64_t batch_ub[STORE_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const int64_t commit_ub_us[STORE_COMMIT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
const char *const store_batch_le[STORE_BATCH_BUCKETS] = {"1",  "2",  "4",   "8",  "16",
                                                         "32", "64", "128", "256"};
const char *const store_commit_le[STORE_COMMIT_BUCKETS] = {"0.0001", "0.00025", "0.0005", "0.001",
                                                           "0.0025", "0.005",   "0.01",   "0.025",
                                                           "0.05",   "0.1",     "0.25",   "1"};
_Static_assert(LIMIT_WRITE_BATCH_MAX == 256, "the last batch bucket is the batch maximum");

static _Atomic uint64_t cs_batch[STORE_BATCH_BUCKETS + 1];
static _Atomic uint64_t cs_commit[STORE_COMMIT_BUCKETS + 1];
static _Atomic uint64_t cs_batch_sum, cs_commit_sum_us, cs_count;

int64_t store_commit_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void store_commit_observe(size_t batch, int64_t commit_us)
{
    K_ASSERT(batch > 0);
    if (commit_us < 0)
        commit_us = 0;
    size_t b = 0;
    while (b < STORE_BATCH_BUCKETS && batch > batch_ub[b])
        b++;
    size_t c = 0;
    while (c < STORE_COMMIT_BUCKETS && commit_us > commit_ub_us[c])
        c++;
    atomic_fetch_add_explicit(&cs_batch[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&cs_commit[c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&cs_batch_sum, batch, memory_order_relaxed);
    atomic_fetch_add_explicit(&cs_commit_sum_us, (uint64_t)commit_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&cs_count, 1, memory_order_relaxed);
}

void store_commit_stats_get(store_commit_stats *out)
{
    K_ASSERT(out != NULL);
    for (size_t i = 0; i <= STORE_BATCH_BUCKETS; i++)
        out->batch_bucket[i] = atomic_load_explicit(&cs_batch[i], memory_order_relaxed);
    for (size_t i = 0; i <= STORE_COMMIT_BUCKETS; i++)
        out->commit_bucket[i] = atomic_load_explicit(&cs_commit[i], memory_order_relaxed);
    out->batch_sum = atomic_load_explicit(&cs_batch_sum, memory_order_relaxed);
    out->commit_sum_us = atomic_load_explicit(&cs_commit_sum_us, memory_order_relaxed);
    out->count = atomic_load_explicit(&cs_count, memory_order_relaxed);
}
