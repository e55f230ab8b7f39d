/*
 * store_reqlog.c - the request_log table (store_reqlog.h), in the SQL both
 * backends share (store_sql.h).
 */
#include "store_reqlog.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    arena *a;
    bool oom;
    store_reqlog *rows;
    size_t n, cap, max;
} rl_rows;

static const char *rl_dup(rl_rows *r, const char *v)
{
    if (v == NULL)
        return NULL;
    char *c = arena_strdup(r->a, v);
    if (c == NULL)
        r->oom = true;
    return c;
}

static int64_t rl_int(const char *v)
{
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static k_status rl_row(void *ctx, int ncols, const char *const *v)
{
    rl_rows *r = ctx;
    if (ncols != 11)
        return K_EIO;
    if (r->n >= r->max)
        return K_OK;
    if (r->n == r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 16;
        store_reqlog *grown = arena_alloc(r->a, cap * sizeof *grown);
        if (grown == NULL)
            return K_ENOMEM;
        if (r->n > 0)
            memcpy(grown, r->rows, r->n * sizeof *grown);
        r->rows = grown;
        r->cap = cap;
    }
    r->rows[r->n++] = (store_reqlog){.seq = rl_int(v[0]),
                                     .merchant_id = rl_dup(r, v[1]),
                                     .at_ms = rl_int(v[2]),
                                     .method = rl_dup(r, v[3]),
                                     .path = rl_dup(r, v[4]),
                                     .status = rl_int(v[5]),
                                     .dur_us = rl_int(v[6]),
                                     .idem_key = rl_dup(r, v[7]),
                                     .error_code = rl_dup(r, v[8]),
                                     .key_id = rl_dup(r, v[9]),
                                     .request_id = rl_dup(r, v[10])};
    return r->oom ? K_ENOMEM : K_OK;
}

k_status store_reqlog_add(store_tx *tx, const store_reqlog *r)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(r->merchant_id != NULL && r->method != NULL && r->path != NULL);
    store_arg args[] = {SA_T(r->merchant_id), SA_I(r->at_ms),      SA_T(r->method),
                        SA_T(r->path),        SA_I(r->status),     SA_I(r->dur_us),
                        SA_T(r->idem_key),    SA_T(r->error_code), SA_T(r->key_id),
                        SA_T(r->request_id)};
    return store_sql(tx,
                     "INSERT INTO request_log(merchant_id, at_ms, method, path, status, dur_us, "
                     "idem_key, error_code, key_id, request_id) VALUES($1, $2, $3, $4, $5, $6, "
                     "$7, $8, $9, $10)",
                     args, (int)K_ARRAY_LEN(args), NULL, NULL, NULL);
}

k_status store_reqlog_list(store_tx *tx, const char *merchant_id, const store_reqlog_q *q, arena *a,
                           store_reqlog **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL && q != NULL);
    K_ASSERT(q->limit >= 1 && q->limit <= 100);
    const char *method = q->method != NULL ? q->method : "";
    const char *prefix = q->path_prefix != NULL ? q->path_prefix : "";
    const char *key = q->key_id != NULL ? q->key_id : "";
    store_arg args[] = {SA_T(merchant_id),   SA_I(q->status_min), SA_I(q->status_max),
                        SA_T(method),        SA_T(prefix),        SA_T(key),
                        SA_I(q->before_seq), SA_I(q->limit)};
    rl_rows r = {.a = a, .max = (size_t)q->limit};
    k_status ks = store_sql(
        tx,
        "SELECT seq, merchant_id, at_ms, method, path, status, dur_us, idem_key, error_code, "
        "key_id, request_id FROM request_log WHERE merchant_id = $1 "
        "AND ($2 = 0 OR status >= $2) AND ($3 = 0 OR status < $3) "
        "AND ($4 = '' OR method = $4) "
        "AND ($5 = '' OR substr(path, 1, length($5)) = $5) "
        "AND ($6 = '' OR key_id = $6) AND ($7 = 0 OR seq < $7) "
        "ORDER BY seq DESC LIMIT $8",
        args, (int)K_ARRAY_LEN(args), rl_row, &r, NULL);
    *out = r.rows;
    *n = r.n;
    return ks;
}

k_status store_reqlog_prune(store_tx *tx, const char *merchant_id, int64_t keep, int64_t before_ms)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(keep > 0);
    store_arg old[] = {SA_I(before_ms)};
    k_status ks =
        store_sql(tx, "DELETE FROM request_log WHERE at_ms < $1", old, 1, NULL, NULL, NULL);
    if (ks != K_OK)
        return ks;
    store_arg args[] = {SA_T(merchant_id), SA_I(keep)};
    return store_sql(tx,
                     "DELETE FROM request_log WHERE merchant_id = $1 AND seq <= (SELECT seq FROM "
                     "request_log WHERE merchant_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)",
                     args, 2, NULL, NULL, NULL);
}
