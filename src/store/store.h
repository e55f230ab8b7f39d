/*
 * store.h - the one storage interface. Handlers and the gateway never see
 * sqlite3_* or PQ*; backends (store_sqlite.c, store_pg.c) implement the
 * same function set behind struct store_backend.
 *
 * Model. Stripe-shaped objects (payment intents, refunds, checkout sessions,
 * events, webhook endpoints, attempts) are documents: a JSON body plus the few
 * columns queries need (kind, status, amount, currency, due_at, ext_ref,
 * parent_id, seq). The money journal (operations), the webhook outbox
 * (deliveries and their attempts), idempotency keys and merchants have tables
 * of their own. Every row carries merchant_id and every query names it (except
 * the scheduler's and the delivery worker's cross-merchant scans).
 *
 * Writes. store_write() hands a closure to the single writer. The writer runs
 * queued closures one after another inside ONE transaction (group commit: each
 * in its own savepoint, so a closure that fails rolls back only itself), commits
 * with an fsync, and only then wakes the callers. So when store_write returns
 * K_OK the closure's changes are durable; a 2xx may be sent. Closures run
 * serially, so a read-check-write inside one closure is atomic. Closures must
 * not do network I/O or sleep.
 *
 * Reads. store_read() runs a closure on the calling thread's own read
 * connection (WAL snapshot): reads never wait behind writes.
 *
 * Strings in returned records point into the arena passed in; they live until
 * the arena is released.
 */
#ifndef KASSA_STORE_H
#define KASSA_STORE_H

#include "../base/common.h"
#include "../base/arena.h"
#include "../limits.h"

typedef struct store store;
typedef struct store_tx store_tx;
typedef k_status (*store_fn)(store_tx *tx, void *arg);

/* Opens (creating and migrating as needed). url: a file path for SQLite, or
 * "postgres://..." / "postgresql://..." for PostgreSQL. */
k_status store_open(store **out, const char *url);
void store_close(store *s); /* drains the write queue first */

/* Runs fn in the writer's transaction; returns fn's status when fn failed (its
 * changes rolled back), K_EIO when the commit failed (nothing of it is kept),
 * K_EBUSY when the queue is full, K_OK when committed durably. */
k_status store_write(store *s, store_fn fn, void *arg);
/* store_write for a write that begins something new and has done nothing yet
 * (a create): when the writer comes to it more than wait_ms after this call it
 * is not run and K_EBUSY comes back, so that under overload the caller answers
 * 503 at once rather than after the queue's whole backlog. wait_ms 0 = never. */
k_status store_write_fresh(store *s, int64_t wait_ms, store_fn fn, void *arg);
/* How an asynchronous write ended: what store_write_fresh would have returned.
 * Called on the writer's thread: it must be quick, must not call the store and
 * must not touch what belongs to the submitting thread (its arena). */
typedef void (*store_done_fn)(void *arg, k_status st);
/* store_write_fresh without a sleeping caller: queues fn and returns. K_OK:
 * done(done_arg, st) is called exactly once, after the commit is durable (st
 * K_OK) or once the write failed (fn's status, K_EIO, K_ENOSPC, K_EBUSY when
 * the writer came to it more than wait_ms after this call); until then fn and
 * arg must stay valid. K_EBUSY (queue full) or K_ENOMEM: done is never called,
 * nothing was queued. */
k_status store_write_async(store *s, int64_t wait_ms, store_fn fn, void *arg, store_done_fn done,
                           void *done_arg);
/* Runs fn on this thread's read connection, in one read transaction. */
k_status store_read(store *s, store_fn fn, void *arg);
/* true when store_read never waits on the network (SQLite: a local file in WAL
 * mode, where readers never wait for the writer either); false on PostgreSQL. */
bool store_reads_local(const store *s);

/* Schema version applied (for `kassa migrate` and /healthz). */
int store_schema_version(store *s);
/* Commits, batches and jobs so far (for /metrics). */
typedef struct {
    uint64_t commits, jobs, jobs_failed, batch_max;
    uint64_t jobs_late; /* store_write_fresh jobs refused K_EBUSY past their wait */
    uint64_t queue_depth;
    uint64_t checkpoints; /* WAL checkpoints run (SQLite; 0 on PostgreSQL) */
} store_stats;
void store_get_stats(store *s, store_stats *out);
/* fn(arg) is called, on a thread of the store's, when another node may have
 * committed work for this node's workers (webhook deliveries): on PostgreSQL a
 * NOTIFY sent by any node's writer, on SQLite never (one node). It must be quick
 * and must not call the store. fn NULL stops the calls: once store_set_wake
 * returns, the previous fn is not running and is not called again. */
void store_set_wake(store *s, void (*fn)(void *arg), void *arg);

/* ---- limits shared by every node (PostgreSQL) ----
 * The per-merchant request limit, the failed-authentication limit per address
 * and the per-merchant provider budget must hold whichever node a request
 * lands on. On PostgreSQL they are counted in the database: UNLOGGED tables,
 * one conditional upsert per check on a read-pool connection in autocommit,
 * outside the writer (a counter is not the gateway's state: it needs no
 * durability and must not wait for a group commit). On SQLite (one node)
 * store_limits_shared is false and callers count in memory. Any status but
 * K_OK (the database unreachable, the pool busy) tells the caller to count in
 * memory for that request. */
bool store_limits_shared(const store *s);
/* Token bucket `key`: up to burst tokens, gaining per_minute a minute on the
 * database's clock (one clock for every node); a key never seen starts full.
 * take: takes a token when there is one. *ok: there was one; when not,
 * *retry_after_ms is the wait until there is. */
k_status store_limit_bucket(store *s, const char *key, int64_t per_minute, int64_t burst, bool take,
                            bool *ok, int64_t *retry_after_ms);
/* Sliding window of two one-minute counters (aligned to the minute of now_ms,
 * Kassa's clock): takes one of `key`'s calls unless `limit` are used in the
 * last minute (the previous minute weighs by the part the window still
 * covers). *ok; *retry_after_ms until the current minute ends. */
k_status store_limit_window(store *s, const char *key, int64_t limit, int64_t now_ms, bool *ok,
                            int64_t *retry_after_ms);

/* ---- merchants ---- */
typedef struct {
    const char *id; /* acct_... */
    const char *name;
    const char *secret_key_hash; /* sha256 hex of sk_test_... (the key itself is never stored) */
    const char *publishable_key; /* pk_test_... */
    int64_t ecp_project_id;      /* ECommPay-style project id, unique */
    const char *ecp_secret;      /* HMAC key for ECommPay signatures (needed in clear) */
    const char *settings;        /* JSON object text: callback URL, provider accounts, ... */
    int64_t created;             /* unix s */
} store_merchant;

k_status store_merchant_put(store_tx *tx, const store_merchant *m); /* insert or replace */
k_status store_merchant_get(store_tx *tx, const char *id, arena *a, store_merchant *out);
k_status store_merchant_by_key(store_tx *tx, const char *secret_key_hash, arena *a,
                               store_merchant *out);
k_status store_merchant_by_project(store_tx *tx, int64_t project_id, arena *a, store_merchant *out);
k_status store_merchant_count(store_tx *tx, int64_t *out);

/* ---- documents ---- */
typedef struct {
    const char *merchant_id;
    const char *id;        /* pi_..., re_..., cs_..., evt_..., we_..., att_... */
    const char *kind;      /* "payment_intent", "refund", "checkout.session", "event", ... */
    const char *parent_id; /* payment id for refunds/attempts; NULL otherwise */
    const char *status;    /* NULL allowed */
    const char *currency;  /* NULL allowed */
    int64_t amount;
    int64_t created; /* unix s (Stripe's created) */
    int64_t due_at;  /* unix s of the next timer (expiry...), 0 = none */
    const char
        *ext_ref;     /* unique per (merchant, kind) when not NULL: client secret, provider ref */
    int64_t seq;      /* set by the store on insert: insertion order, for lists */
    int32_t version;  /* set by the store: 1 on insert, +1 per update */
    const char *body; /* JSON text */
} store_obj;

/* Insert (o->version == 0) or update. An update must carry the version it read;
 * K_ECONFLICT if the row changed since (cannot happen inside one closure, but
 * guards code that read outside). K_ECONFLICT also on a duplicate ext_ref. */
k_status store_obj_put(store_tx *tx, store_obj *o);
k_status store_obj_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                       arena *a, store_obj *out);
k_status store_obj_by_ref(store_tx *tx, const char *merchant_id, const char *kind,
                          const char *ext_ref, arena *a, store_obj *out);
/* Same, across merchants (provider callbacks find their attempt by provider ref). */
k_status store_obj_find_ref(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                            store_obj *out);

typedef struct {
    const char *parent_id;   /* filter, NULL = any */
    const char *status;      /* filter, NULL = any */
    const char *type_prefix; /* events: kind is "event", filter body type by status column prefix */
    const char *starting_after;       /* id; newest first, so: older than this */
    const char *ending_before;        /* id; newer than this */
    int64_t created_gte, created_lte; /* 0 = unbounded */
    int limit;                        /* 1..LIMIT_LIST_PAGE_MAX (exports may pass up to 10000) */
} store_list_q;

/* Newest first (seq descending). *has_more says whether another page exists.
 * K_ENOTFOUND when starting_after/ending_before names no object of this kind. */
k_status store_obj_list(store_tx *tx, const char *merchant_id, const char *kind,
                        const store_list_q *q, arena *a, store_obj **out, size_t *n,
                        bool *has_more);
/* Objects of any merchant with 0 < due_at <= now, oldest due first, at most max. */
k_status store_obj_due(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out, size_t *n);
/* The scheduler's claim (a write): like store_obj_due, but each object returned
 * has its due_at moved to lease_until in the same transaction, and objects another
 * transaction holds are passed by (FOR UPDATE SKIP LOCKED on PostgreSQL). So the
 * schedulers of several nodes share the timers: a node takes a slice, the others
 * skip it until the lease ends, and a node that dies with it loses nothing (the
 * objects come due again at lease_until). Saving an object sets its own due_at
 * again; the version is not bumped, so no request's optimistic write is refused. */
k_status store_obj_claim_due(store_tx *tx, int64_t now, int64_t lease_until, size_t max, arena *a,
                             store_obj **out, size_t *n);

/* ---- the journal of operations (append-only) ---- */
typedef struct {
    const char *merchant_id;
    const char *id; /* op_... */
    const char *payment_id;
    const char *kind; /* pay_op_name(): "create", "capture", ... */
    int64_t amount;
    const char *status; /* "succeeded", "pending", "failed" */
    const char *code;   /* Stripe or provider code, NULL allowed */
    const char *message;
    const char *provider_ref; /* provider's id for this operation (Klarna capture id ...) */
    const char *ref_id;       /* our related object (re_..., att_...), NULL allowed */
    const char *body;         /* JSON: lines, extra details; NULL allowed */
    int64_t created_ms;
    int64_t seq; /* set by the store */
} store_op;

k_status store_op_append(store_tx *tx, const store_op *op);
k_status store_op_list(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                       store_op **out, size_t *n);
/* Operations of a merchant (or all when NULL) created in [from_ms, to_ms), oldest first,
 * after seq `after_seq`, at most max: for reports and the ECommPay Data API. */
k_status store_op_range(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                        int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n);

/* ---- webhook outbox ---- */
typedef struct {
    int64_t id; /* set by the store */
    const char *merchant_id;
    const char *event_id;    /* evt_... */
    const char *endpoint_id; /* we_... (or "ecp:callback" for ECommPay callbacks) */
    const char *state;       /* "pending", "delivered", "failed" */
    int32_t attempts;
    int64_t next_at_ms;
    int32_t last_status; /* HTTP status of the last attempt, 0 = none */
    int64_t created_ms;
} store_delivery;

typedef struct {
    int64_t delivery_id;
    int64_t at_ms;
    int32_t http_status; /* 0 when no answer */
    int32_t latency_ms;
    const char *response_head; /* first bytes of the answer (LIMIT_WEBHOOK_RESPONSE_KEEP) */
    const char *error;         /* transport error text, NULL when answered */
} store_delivery_attempt;

k_status store_delivery_add(store_tx *tx, store_delivery *d);
/* Pending deliveries with next_at_ms <= now_ms, oldest first; marks them leased
 * until lease_until_ms so another node/worker does not take them meanwhile. */
k_status store_delivery_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                              arena *a, store_delivery **out, size_t *n);
/* Records an attempt and the delivery's new state/attempts/next_at/last_status. */
k_status store_delivery_record(store_tx *tx, const store_delivery *d,
                               const store_delivery_attempt *at);
k_status store_delivery_list(store_tx *tx, const char *merchant_id, const char *event_id, arena *a,
                             store_delivery **out, size_t *n);
k_status store_delivery_get(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                            store_delivery *out);
k_status store_delivery_attempts(store_tx *tx, int64_t delivery_id, arena *a,
                                 store_delivery_attempt **out, size_t *n);
/* Earliest next_at_ms of pending deliveries (0 when none): the worker's sleep. */
k_status store_delivery_next_due(store_tx *tx, int64_t *next_at_ms);

/* ---- idempotency keys ---- */
typedef struct {
    const char *merchant_id;
    const char *key;
    const char *fingerprint; /* sha256 hex of method, path and canonical params */
    int32_t status;          /* HTTP status of the stored answer; 0 = in flight */
    const char *body;        /* stored answer */
    int64_t created_ms;
} store_idem;

k_status store_idem_get(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                        store_idem *out);
k_status store_idem_put(store_tx *tx, const store_idem *k); /* insert or replace */
k_status store_idem_delete(store_tx *tx, const char *merchant_id, const char *key);
/* Deletes keys created before before_ms; at most max per call (bounded work). */
k_status store_idem_prune(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted);

/* ---- operating gauges (for /metrics) ---- */
typedef struct {
    int64_t deliveries_pending; /* webhook/callback deliveries not yet delivered or given up */
    int64_t oldest_pending_ms;  /* created_ms of the oldest of them, 0 when none */
    int64_t auth_expiring_24h;  /* authorisations (requires_capture) expiring in (now, now+24h] */
} store_gauges;

/* Across merchants; reads only the rows that hold a pending timer or delivery
 * (the partial indexes objects_due and deliveries_due), not the history. */
k_status store_gauges_get(store_tx *tx, int64_t now_s, store_gauges *out);

/* ---- reports: ordered scans for files, grouped sums for analytics, the job queue ---- */

/* Objects of a kind created in [created_gte, created_lt) (unix s), in (created, seq)
 * order after the keyset cursor (after_created, after_seq): start with
 * (created_gte, 0), then pass the last row's (created, seq). At most max. */
k_status store_obj_scan(store_tx *tx, const char *merchant_id, const char *kind,
                        int64_t created_gte, int64_t created_lt, int64_t after_created,
                        int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n);

/* A journal row with what the ledger reports need of its payment. */
typedef struct {
    store_op op;
    const char *currency; /* the payment's (lower-case) */
    const char *method;   /* the payment's method_type, NULL when none was chosen */
} store_ledger_row;
/* Journal rows of a merchant created in [from_ms, to_ms), in (created_ms, seq)
 * order after the cursor (start with (from_ms, 0)), at most max. */
k_status store_ledger_scan(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                           int64_t after_ms, int64_t after_seq, size_t max, arena *a,
                           store_ledger_row **out, size_t *n);

/* Count and sum of journal rows per (slot, kind, status, code, currency, method),
 * slot = created_ms / slot_ms, for rows created in [from_ms, to_ms); ordered by
 * slot; at most max groups (callers page by moving from_ms past the last slot).
 * With slot_ms of 15 minutes the whole slots come from the rollup (migration 6),
 * the same sums kept by triggers; other slot lengths read the journal. */
typedef struct {
    int64_t slot;
    const char *kind, *status, *code, *currency, *method;
    int64_t count, amount;
} store_ledger_group;
k_status store_ledger_groups(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                             int64_t slot_ms, size_t max, arena *a, store_ledger_group **out,
                             size_t *n);

/* Report jobs: runs to compute, schedules to fire, files to deliver. Claimed
 * with a lease (another node takes a job whose lease ran out: a crash mid-run
 * resumes), then updated with the outcome. */
typedef struct {
    int64_t id; /* set by the store */
    const char *merchant_id;
    const char *kind;   /* "run", "schedule", "deliver", "ecp_push" */
    const char *ref_id; /* frr_..., rsch_..., file_... */
    const char *state;  /* "pending", "done", "failed", "canceled" */
    int32_t attempts;
    int64_t next_at_ms;
    const char *last_error; /* NULL when none */
    const char *body;       /* JSON: what the job needs; NULL allowed */
    int64_t created_ms, updated_ms;
} store_job;

k_status store_job_add(store_tx *tx, store_job *j);
/* Pending jobs with next_at_ms <= now_ms and no live lease, oldest due first,
 * leased until lease_until_ms. */
k_status store_job_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max, arena *a,
                         store_job **out, size_t *n);
/* Writes state, attempts, next_at_ms, last_error, body and updated_ms; clears
 * the lease. K_ENOTFOUND when no such job. */
k_status store_job_update(store_tx *tx, const store_job *j);
/* Clears every pending job's lease (*released says how many): the one node that
 * serves an SQLite file calls it at start, so work a crashed predecessor had
 * claimed resumes at once instead of when its lease runs out. */
k_status store_job_release(store_tx *tx, int64_t *released);
/* Jobs of a merchant for one object, oldest first (at most LIMIT_STORE_ROWS_MAX). */
k_status store_job_list(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                        store_job **out, size_t *n);

#endif
