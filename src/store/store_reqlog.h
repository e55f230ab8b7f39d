/*
 * store_reqlog.h - the recent API requests of each merchant (table
 * request_log, migration 6): method, path, status, latency, idempotency key,
 * error code, the id of the key used and the request id; never a body. Rows
 * are written in batches (gateway/reqlog.c) and pruned by age and by count.
 * Same rules as store.h; the SQL is written once above both backends.
 */
#ifndef KASSA_STORE_REQLOG_H
#define KASSA_STORE_REQLOG_H

#include "store.h"

typedef struct {
    int64_t seq; /* set by the store */
    const char *merchant_id;
    int64_t at_ms;
    const char *method, *path;
    int64_t status, dur_us;
    const char *idem_key, *error_code, *key_id; /* NULL when none */
    const char *request_id;
} store_reqlog;

typedef struct {
    int64_t status_min, status_max; /* [min, max), 0 = unbounded */
    const char *method;             /* NULL or "" = any */
    const char *path_prefix;        /* NULL or "" = any */
    const char *key_id;             /* NULL or "" = any */
    int64_t before_seq;             /* 0 = from the newest */
    int limit;                      /* 1..100 */
} store_reqlog_q;

k_status store_reqlog_add(store_tx *tx, const store_reqlog *r);
/* Newest first. */
k_status store_reqlog_list(store_tx *tx, const char *merchant_id, const store_reqlog_q *q, arena *a,
                           store_reqlog **out, size_t *n);
/* Removes the merchant's rows beyond its newest keep, and every row older than before_ms. */
k_status store_reqlog_prune(store_tx *tx, const char *merchant_id, int64_t keep, int64_t before_ms);

#endif
