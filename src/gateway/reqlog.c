/*
 * reqlog.c - the recent API request log (reqlog.h): a fixed ring per node,
 * written in batches by the scheduler's tick.
 */
#include "reqlog.h"
#include "gw_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/clock.h"
#include "../base/log.h"

typedef struct {
    char merchant_id[LIMIT_ID_MAX];
    char method[8];
    char path[160];
    char idem_key[LIMIT_ID_MAX * 2];
    char error_code[48];
    char key_id[LIMIT_ID_MAX];
    char request_id[40];
    int status;
    int64_t dur_us, at_ms;
} rl_slot;

static rl_slot g_ring[LIMIT_REQLOG_RING];
static size_t g_head, g_count; /* next write, entries held */
static pthread_mutex_t g_ring_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_flush_mu = PTHREAD_MUTEX_INITIALIZER; /* one flush at a time */
static _Atomic uint64_t g_dropped;

#define RL_COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) != NULL ? (src) : "")

void gw_reqlog_note(gw *g, const gw_reqlog_entry *e)
{
    (void)g;
    if (e->merchant_id == NULL || e->method == NULL || e->path == NULL)
        return;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&g_ring_mu);
    rl_slot *s = &g_ring[g_head];
    g_head = (g_head + 1) % LIMIT_REQLOG_RING;
    if (g_count == LIMIT_REQLOG_RING)
        atomic_fetch_add(&g_dropped, 1); /* the oldest entry is overwritten */
    else
        g_count++;
    RL_COPY(s->merchant_id, e->merchant_id);
    RL_COPY(s->method, e->method);
    RL_COPY(s->path, e->path);
    RL_COPY(s->idem_key, e->idem_key);
    RL_COPY(s->error_code, e->error_code);
    RL_COPY(s->key_id, e->key_id);
    RL_COPY(s->request_id, e->request_id);
    s->status = e->status;
    s->dur_us = e->dur_us;
    s->at_ms = now;
    pthread_mutex_unlock(&g_ring_mu);
}

uint64_t gw_reqlog_dropped(void)
{
    return atomic_load(&g_dropped);
}

typedef struct {
    rl_slot *rows;
    size_t n;
} rl_batch;

static const char *rl_or_null(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

static k_status rl_flush_fn(store_tx *tx, void *arg)
{
    rl_batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        const rl_slot *s = &b->rows[i];
        store_reqlog r = {.merchant_id = s->merchant_id,
                          .at_ms = s->at_ms,
                          .method = s->method,
                          .path = s->path,
                          .status = s->status,
                          .dur_us = s->dur_us,
                          .idem_key = rl_or_null(s->idem_key),
                          .error_code = rl_or_null(s->error_code),
                          .key_id = rl_or_null(s->key_id),
                          .request_id = s->request_id};
        k_status st = store_reqlog_add(tx, &r);
        if (st != K_OK)
            return st;
    }
    /* prune each merchant written to (once per batch) */
    int64_t before = clock_now_ms() - (int64_t)LIMIT_REQLOG_DAYS * 86400 * 1000;
    for (size_t i = 0; i < b->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(b->rows[j].merchant_id, b->rows[i].merchant_id) == 0;
        if (seen)
            continue;
        k_status st = store_reqlog_prune(tx, b->rows[i].merchant_id, LIMIT_REQLOG_KEEP, before);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

void gw_reqlog_flush(gw *g)
{
    pthread_mutex_lock(&g_flush_mu);
    rl_batch b = {0};
    pthread_mutex_lock(&g_ring_mu);
    if (g_count > 0) {
        b.rows = malloc(g_count * sizeof *b.rows);
        if (b.rows != NULL) {
            size_t start = (g_head + LIMIT_REQLOG_RING - g_count) % LIMIT_REQLOG_RING;
            for (size_t i = 0; i < g_count; i++)
                b.rows[i] = g_ring[(start + i) % LIMIT_REQLOG_RING];
            b.n = g_count;
            g_count = 0;
        }
    }
    pthread_mutex_unlock(&g_ring_mu);
    if (b.n > 0 && store_write(g->st, rl_flush_fn, &b) != K_OK) {
        atomic_fetch_add(&g_dropped, b.n);
        log_warn("request log: %zu entries not written", b.n);
    }
    free(b.rows);
    pthread_mutex_unlock(&g_flush_mu);
}

typedef struct {
    const char *merchant_id;
    const store_reqlog_q *q;
    arena *a;
    store_reqlog *rows;
    size_t n;
} rl_list_job;

static k_status rl_list_fn(store_tx *tx, void *arg)
{
    rl_list_job *j = arg;
    return store_reqlog_list(tx, j->merchant_id, j->q, j->a, &j->rows, &j->n);
}

k_status gw_reqlog_list(gw *g, const char *merchant_id, const store_reqlog_q *q, arena *a,
                        store_reqlog **out, size_t *n)
{
    gw_reqlog_flush(g);
    rl_list_job j = {.merchant_id = merchant_id, .q = q, .a = a};
    k_status st = store_read(g->st, rl_list_fn, &j);
    *out = j.rows;
    *n = j.n;
    return st;
}
