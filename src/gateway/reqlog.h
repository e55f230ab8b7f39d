/*
 * reqlog.h - the recent API request log of each merchant. The server hands
 * each authenticated request to gw_reqlog_note() once its answer is sent (an
 * I/O thread: a copy into this node's in-memory ring, no store call). The
 * scheduler's tick (every second) writes what the ring holds in one writer
 * transaction and prunes: rows older than LIMIT_REQLOG_DAYS, and beyond the
 * newest LIMIT_REQLOG_KEEP of each merchant written to. With PostgreSQL the table
 * is shared, so the page shows every node's requests (each within a tick of
 * its answer). A ring that fills between two ticks drops its oldest entries
 * (counted in gw_reqlog_dropped). Bodies are never kept; the key is its id.
 */
#ifndef KASSA_REQLOG_H
#define KASSA_REQLOG_H

#include "gateway.h"
#include "../store/store_reqlog.h"

typedef struct {
    const char *merchant_id, *method, *path, *idem_key, *error_code, *key_id, *request_id;
    int status;
    int64_t dur_us;
} gw_reqlog_entry;

/* Copies e into the ring (long strings cut). Never blocks on the store. */
void gw_reqlog_note(gw *g, const gw_reqlog_entry *e);
/* Writes the ring's entries (one transaction) and prunes; the scheduler's tick. */
void gw_reqlog_flush(gw *g);
/* The merchant's requests, newest first (this node's ring flushed first). */
k_status gw_reqlog_list(gw *g, const char *merchant_id, const store_reqlog_q *q, arena *a,
                        store_reqlog **out, size_t *n);
uint64_t gw_reqlog_dropped(void);

#endif
