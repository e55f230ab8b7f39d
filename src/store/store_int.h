/*
 * store_int.h - private to the store module: the backend vtable and the two
 * handles every backend shares (SQLite btree.h/btreeInt.h split).
 *
 * store.c owns the public functions: it checks arguments and preconditions
 * once, generically, then forwards to s->backend. A backend (store_sqlite.c,
 * store_pg.c) fills one struct store_backend with a function per store.h
 * function and keeps its own state behind store.impl / store_tx.conn. The
 * group-commit writer is shared (writer.h): a backend's write forwards to it
 * and gives it only its transaction verbs.
 */
#ifndef KASSA_STORE_INT_H
#define KASSA_STORE_INT_H

#include "store.h"
#include "store_sql.h"

struct store_backend {
    const char *name;
    /* Lifecycle: open fills s->impl; close drains writes and frees everything. */
    k_status (*open)(store *s, const char *path);
    void (*close)(store *s);
    k_status (*write)(store *s, store_fn fn, void *arg);
    k_status (*write_async)(store *s, store_fn fn, void *arg, int64_t deadline_ms,
                            store_done_fn done, void *done_arg);
    k_status (*read)(store *s, store_fn fn, void *arg);
    int (*schema_version)(store *s);
    void (*get_stats)(store *s, store_stats *out);
    void (*set_wake)(store *s, void (*fn)(void *arg), void *arg);

    k_status (*merchant_put)(store_tx *tx, const store_merchant *m);
    k_status (*merchant_get)(store_tx *tx, const char *id, arena *a, store_merchant *out);
    k_status (*merchant_by_key)(store_tx *tx, const char *secret_key_hash, arena *a,
                                store_merchant *out);
    k_status (*merchant_by_project)(store_tx *tx, int64_t project_id, arena *a,
                                    store_merchant *out);
    k_status (*merchant_count)(store_tx *tx, int64_t *out);

    k_status (*obj_put)(store_tx *tx, store_obj *o);
    k_status (*obj_get)(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                        arena *a, store_obj *out);
    k_status (*obj_by_ref)(store_tx *tx, const char *merchant_id, const char *kind,
                           const char *ext_ref, arena *a, store_obj *out);
    k_status (*obj_find_ref)(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                             store_obj *out);
    k_status (*obj_list)(store_tx *tx, const char *merchant_id, const char *kind,
                         const store_list_q *q, arena *a, store_obj **out, size_t *n,
                         bool *has_more);
    k_status (*obj_due)(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out,
                        size_t *n);
    k_status (*obj_claim_due)(store_tx *tx, int64_t now, int64_t lease_until, size_t max, arena *a,
                              store_obj **out, size_t *n);

    k_status (*op_append)(store_tx *tx, const store_op *op);
    k_status (*op_list)(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                        store_op **out, size_t *n);
    k_status (*op_range)(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                         int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n);

    k_status (*delivery_add)(store_tx *tx, store_delivery *d);
    k_status (*delivery_claim)(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                               arena *a, store_delivery **out, size_t *n);
    k_status (*delivery_record)(store_tx *tx, const store_delivery *d,
                                const store_delivery_attempt *at);
    k_status (*delivery_list)(store_tx *tx, const char *merchant_id, const char *event_id, arena *a,
                              store_delivery **out, size_t *n);
    k_status (*delivery_get)(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                             store_delivery *out);
    k_status (*delivery_attempts)(store_tx *tx, int64_t delivery_id, arena *a,
                                  store_delivery_attempt **out, size_t *n);
    k_status (*delivery_next_due)(store_tx *tx, int64_t *next_at_ms);
    k_status (*gauges_get)(store_tx *tx, int64_t now_s, store_gauges *out);

    k_status (*idem_get)(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                         store_idem *out);
    k_status (*idem_put)(store_tx *tx, const store_idem *k);
    k_status (*idem_delete)(store_tx *tx, const char *merchant_id, const char *key);
    k_status (*idem_prune)(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted);
    k_status (*obj_scan)(store_tx *tx, const char *merchant_id, const char *kind,
                         int64_t created_gte, int64_t created_lt, int64_t after_created,
                         int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n);
    k_status (*ledger_scan)(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                            int64_t after_ms, int64_t after_seq, size_t max, arena *a,
                            store_ledger_row **out, size_t *n);
    k_status (*ledger_groups)(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                              int64_t slot_ms, size_t max, arena *a, store_ledger_group **out,
                              size_t *n);
    k_status (*job_add)(store_tx *tx, store_job *j);
    k_status (*job_claim)(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                          arena *a, store_job **out, size_t *n);
    k_status (*job_update)(store_tx *tx, const store_job *j);
    k_status (*job_list)(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                         store_job **out, size_t *n);

    /* One parameterised statement (store_sql.h) for the modules that keep their SQL
     * above the backends (store_staff.c). */
    k_status (*sql)(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                    store_row_fn fn, void *ctx, int64_t *changes);
    k_status (*job_release)(store_tx *tx, int64_t *released);
    /* Shared limits (store.h); NULL when the engine has one node (SQLite). */
    k_status (*limit_bucket)(store *s, const char *key, int64_t per_minute, int64_t burst,
                             bool take, bool *ok, int64_t *retry_after_ms);
    k_status (*limit_window)(store *s, const char *key, int64_t limit, int64_t now_ms, bool *ok,
                             int64_t *retry_after_ms);
};

struct store {
    const struct store_backend *backend;
    void *impl; /* the backend's state */
};

/* One per closure run; lives on the stack of whoever runs the closure. */
struct store_tx {
    store *s;
    void *conn;    /* the backend's connection for this closure */
    bool writable; /* false inside store_read: write functions assert on it */
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

/* The analytics rollup (migration 6) keeps 15-minute UTC slots. For a GROUP BY
 * per slot_ms over [from_ms, to_ms): true when slot_ms is the rollup's slot and
 * at least one whole slot lies inside; then [*whole_from, *whole_to) is the span
 * of whole slots (the rollup's), the rest the journal's. */
#define STORE_ROLLUP_SLOT_MS ((int64_t)15 * 60 * 1000)
bool store_rollup_span(int64_t from_ms, int64_t to_ms, int64_t slot_ms, int64_t *whole_from,
                       int64_t *whole_to);

#endif
