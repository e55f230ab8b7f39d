/*
 * store.c - the public face of the store: picks the backend from the URL,
 * checks arguments and preconditions once for every backend, and forwards to
 * s->backend (Redis ae.c over ae_epoll.c / ae_kqueue.c).
 *
 * Programmer errors (NULL where a value is required, a write on a read
 * transaction) crash through K_ASSERT; operating errors (bad page size, both
 * cursors) are returned as K_EINVAL so the API layer can answer 400.
 */
#include "store_int.h"
#include "store_staff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/log.h"

#include <sodium.h>

#define BE(tx) ((tx)->s->backend)

static bool store_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

k_status store_open(store **out, const char *url)
{
    K_ASSERT(out != NULL);
    K_ASSERT(url != NULL);
    *out = NULL;
    const struct store_backend *be = &store_sqlite_backend;
    const char *path = url;
    if (store_has_prefix(url, "postgres://") || store_has_prefix(url, "postgresql://")) {
        be = &store_pg_backend; /* libpq takes the URL as it is */
    } else {
        if (store_has_prefix(url, "sqlite://"))
            path = url + strlen("sqlite://");
        if (path[0] == '\0' || strcmp(path, ":memory:") == 0) {
            /* Reads use connections of their own, so the database must be a file. */
            log_error("store: '%s' is not a database file path", url);
            return K_EINVAL;
        }
    }
    store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return K_ENOMEM;
    s->backend = be;
    k_status st = s->backend->open(s, path);
    if (st != K_OK) {
        free(s);
        return st;
    }
    K_ASSERT(s->impl != NULL);
    st = store_staff_seal_old(s); /* the part of migration 4 SQL cannot do */
    if (st != K_OK) {
        log_error("store: the staff users' TOTP secrets could not be sealed");
        s->backend->close(s);
        free(s);
        return st;
    }
    *out = s;
    return K_OK;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    s->backend->close(s);
    free(s);
}

/* A write closure runs on the writer's thread with the caller's request id, so
 * its log lines and the events it records (request.id) name the request. */
typedef struct {
    store_fn fn;
    void *arg;
    const char *request_id; /* the caller's thread-local id: the caller waits meanwhile */
} store_call;

static k_status store_call_run(store_tx *tx, void *p)
{
    store_call *c = p;
    log_set_request_id(c->request_id);
    k_status st = c->fn(tx, c->arg);
    log_set_request_id(NULL);
    return st;
}

k_status store_write(store *s, store_fn fn, void *arg)
{
    K_ASSERT(s != NULL);
    K_ASSERT(fn != NULL);
    store_call c = {fn, arg, log_request_id()};
    return s->backend->write(s, store_call_run, &c);
}

k_status store_write_fresh(store *s, int64_t wait_ms, store_fn fn, void *arg)
{
    K_ASSERT(wait_ms >= 0);
    store_writer_next_deadline(wait_ms > 0 ? clock_mono_ms() + wait_ms : 0);
    k_status st = store_write(s, fn, arg);
    store_writer_next_deadline(0); /* in case the backend returned before submitting */
    return st;
}

/* An asynchronous write's closure and completion, owned by the writer from
 * submit until its done has run: the caller has moved on, so the request id
 * is a copy. */
typedef struct {
    store_call call;
    store_done_fn done;
    void *done_arg;
    char request_id[LIMIT_ID_MAX];
} store_async;

static void store_async_done(void *p, k_status st)
{
    store_async *a = p;
    store_done_fn done = a->done;
    void *arg = a->done_arg;
    free(a);
    done(arg, st);
}

k_status store_write_async(store *s, int64_t wait_ms, store_fn fn, void *arg, store_done_fn done,
                           void *done_arg)
{
    K_ASSERT(s != NULL);
    K_ASSERT(fn != NULL);
    K_ASSERT(done != NULL);
    K_ASSERT(wait_ms >= 0);
    store_async *a = malloc(sizeof(*a));
    if (a == NULL)
        return K_ENOMEM;
    snprintf(a->request_id, sizeof(a->request_id), "%s", log_request_id());
    a->call = (store_call){fn, arg, a->request_id};
    a->done = done;
    a->done_arg = done_arg;
    int64_t deadline_ms = wait_ms > 0 ? clock_mono_ms() + wait_ms : 0;
    k_status st =
        s->backend->write_async(s, store_call_run, &a->call, deadline_ms, store_async_done, a);
    if (st != K_OK)
        free(a); /* nothing queued: done is never called */
    return st;
}

k_status store_read(store *s, store_fn fn, void *arg)
{
    K_ASSERT(s != NULL);
    K_ASSERT(fn != NULL);
    return s->backend->read(s, fn, arg);
}

bool store_reads_local(const store *s)
{
    K_ASSERT(s != NULL);
    return s->backend == &store_sqlite_backend;
}

bool store_limits_shared(const store *s)
{
    K_ASSERT(s != NULL);
    return s->backend->limit_bucket != NULL && s->backend->limit_window != NULL;
}

k_status store_limit_bucket(store *s, const char *key, int64_t per_minute, int64_t burst, bool take,
                            bool *ok, int64_t *retry_after_ms)
{
    K_ASSERT(s != NULL);
    K_ASSERT(key != NULL && ok != NULL && retry_after_ms != NULL);
    *ok = true;
    *retry_after_ms = 0;
    if (!store_limits_shared(s) || per_minute <= 0 || burst <= 0 ||
        per_minute > LIMIT_RATE_PER_MIN_MAX || burst > LIMIT_RATE_BURST_MAX ||
        strlen(key) > LIMIT_ID_MAX * 2)
        return K_EINVAL;
    return s->backend->limit_bucket(s, key, per_minute, burst, take, ok, retry_after_ms);
}

k_status store_limit_window(store *s, const char *key, int64_t limit, int64_t now_ms, bool *ok,
                            int64_t *retry_after_ms)
{
    K_ASSERT(s != NULL);
    K_ASSERT(key != NULL && ok != NULL && retry_after_ms != NULL);
    *ok = true;
    *retry_after_ms = 0;
    if (!store_limits_shared(s) || limit <= 0 || now_ms < 0 || strlen(key) > LIMIT_ID_MAX * 2)
        return K_EINVAL;
    return s->backend->limit_window(s, key, limit, now_ms, ok, retry_after_ms);
}

int store_schema_version(store *s)
{
    K_ASSERT(s != NULL);
    return s->backend->schema_version(s);
}

void store_get_stats(store *s, store_stats *out)
{
    K_ASSERT(s != NULL);
    K_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    s->backend->get_stats(s, out);
}

void store_set_wake(store *s, void (*fn)(void *arg), void *arg)
{
    K_ASSERT(s != NULL);
    K_ASSERT(fn != NULL || arg == NULL);
    s->backend->set_wake(s, fn, arg);
}

/* ---- merchants ---- */

/* The ECommPay project secret is stored sealed (crypto_seal) by both backends
 * alike: sealed here on the way in, opened on the way out (docs/security.md). */
k_status store_merchant_put(store_tx *tx, const store_merchant *m)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(m != NULL && m->id != NULL);
    store_merchant sealed = *m;
    char box[CRYPTO_SEALED_MAX];
    if (m->ecp_secret != NULL && !crypto_is_sealed(m->ecp_secret)) {
        k_status st = crypto_seal(m->ecp_secret, box);
        if (st != K_OK)
            return st;
        sealed.ecp_secret = box;
    }
    return BE(tx)->merchant_put(tx, &sealed);
}

static k_status merchant_opened(k_status st, arena *a, store_merchant *out)
{
    if (st != K_OK || out->ecp_secret == NULL)
        return st;
    char plain[CRYPTO_SEAL_PLAIN_MAX + 1];
    st = crypto_open(out->ecp_secret, plain, sizeof(plain));
    if (st != K_OK) {
        log_error("merchant '%s': the stored ECommPay secret does not open with this key file",
                  out->id != NULL ? out->id : "?");
        return K_EIO;
    }
    out->ecp_secret = arena_strdup(a, plain);
    sodium_memzero(plain, sizeof(plain));
    return out->ecp_secret != NULL ? K_OK : K_ENOMEM;
}

k_status store_merchant_get(store_tx *tx, const char *id, arena *a, store_merchant *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(id != NULL && a != NULL && out != NULL);
    return merchant_opened(BE(tx)->merchant_get(tx, id, a, out), a, out);
}

k_status store_merchant_by_key(store_tx *tx, const char *secret_key_hash, arena *a,
                               store_merchant *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(secret_key_hash != NULL && a != NULL && out != NULL);
    return merchant_opened(BE(tx)->merchant_by_key(tx, secret_key_hash, a, out), a, out);
}

k_status store_merchant_by_project(store_tx *tx, int64_t project_id, arena *a, store_merchant *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(a != NULL && out != NULL);
    return merchant_opened(BE(tx)->merchant_by_project(tx, project_id, a, out), a, out);
}

k_status store_merchant_count(store_tx *tx, int64_t *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(out != NULL);
    return BE(tx)->merchant_count(tx, out);
}

/* ---- documents ---- */

k_status store_obj_put(store_tx *tx, store_obj *o)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(o != NULL);
    K_ASSERT(o->merchant_id != NULL && o->id != NULL && o->kind != NULL);
    K_ASSERT(o->version >= 0);
    return BE(tx)->obj_put(tx, o);
}

k_status store_obj_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                       arena *a, store_obj *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && kind != NULL && id != NULL);
    K_ASSERT(a != NULL && out != NULL);
    return BE(tx)->obj_get(tx, merchant_id, kind, id, a, out);
}

k_status store_obj_by_ref(store_tx *tx, const char *merchant_id, const char *kind,
                          const char *ext_ref, arena *a, store_obj *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && kind != NULL && ext_ref != NULL);
    K_ASSERT(a != NULL && out != NULL);
    return BE(tx)->obj_by_ref(tx, merchant_id, kind, ext_ref, a, out);
}

k_status store_obj_find_ref(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                            store_obj *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(kind != NULL && ext_ref != NULL);
    K_ASSERT(a != NULL && out != NULL);
    return BE(tx)->obj_find_ref(tx, kind, ext_ref, a, out);
}

k_status store_obj_list(store_tx *tx, const char *merchant_id, const char *kind,
                        const store_list_q *q, arena *a, store_obj **out, size_t *n, bool *has_more)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && kind != NULL && q != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL && has_more != NULL);
    *out = NULL;
    *n = 0;
    *has_more = false;
    if (q->limit < 1 || q->limit > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    if (q->starting_after != NULL && q->ending_before != NULL)
        return K_EINVAL; /* Stripe refuses both cursors at once */
    return BE(tx)->obj_list(tx, merchant_id, kind, q, a, out, n, has_more);
}

k_status store_obj_due(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    return BE(tx)->obj_due(tx, now, max, a, out, n);
}

k_status store_obj_claim_due(store_tx *tx, int64_t now, int64_t lease_until, size_t max, arena *a,
                             store_obj **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(tx->writable);
    K_ASSERT(a != NULL);
    K_ASSERT(out != NULL);
    K_ASSERT(n != NULL);
    K_ASSERT(lease_until > now); /* a claim that ends at once claims nothing */
    *out = NULL;
    *n = 0;
    if (max > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    return BE(tx)->obj_claim_due(tx, now, lease_until, max, a, out, n);
}

/* ---- journal ---- */

k_status store_op_append(store_tx *tx, const store_op *op)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(op != NULL);
    K_ASSERT(op->merchant_id != NULL && op->id != NULL && op->payment_id != NULL);
    K_ASSERT(op->kind != NULL && op->status != NULL);
    K_ASSERT(op->amount >= 0); /* money invariant, also a CHECK in the schema */
    return BE(tx)->op_append(tx, op);
}

k_status store_op_list(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                       store_op **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && payment_id != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    return BE(tx)->op_list(tx, merchant_id, payment_id, a, out, n);
}

k_status store_op_range(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                        int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max > LIMIT_STORE_ROWS_MAX || from_ms > to_ms)
        return K_EINVAL;
    return BE(tx)->op_range(tx, merchant_id, from_ms, to_ms, after_seq, max, a, out, n);
}

/* ---- webhook outbox ---- */

k_status store_delivery_add(store_tx *tx, store_delivery *d)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(d != NULL);
    K_ASSERT(d->merchant_id != NULL && d->event_id != NULL && d->endpoint_id != NULL);
    K_ASSERT(d->attempts >= 0);
    return BE(tx)->delivery_add(tx, d);
}

k_status store_delivery_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                              arena *a, store_delivery **out, size_t *n)
{
    K_ASSERT(tx != NULL && tx->writable); /* a claim writes the lease */
    K_ASSERT(lease_until_ms > now_ms);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    return BE(tx)->delivery_claim(tx, now_ms, lease_until_ms, max, a, out, n);
}

k_status store_delivery_record(store_tx *tx, const store_delivery *d,
                               const store_delivery_attempt *at)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(d != NULL && at != NULL);
    K_ASSERT(d->merchant_id != NULL && d->state != NULL);
    K_ASSERT(d->id > 0 && at->delivery_id == d->id);
    return BE(tx)->delivery_record(tx, d, at);
}

k_status store_delivery_list(store_tx *tx, const char *merchant_id, const char *event_id, arena *a,
                             store_delivery **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && event_id != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    return BE(tx)->delivery_list(tx, merchant_id, event_id, a, out, n);
}

k_status store_delivery_get(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                            store_delivery *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && a != NULL && out != NULL);
    return BE(tx)->delivery_get(tx, merchant_id, id, a, out);
}

k_status store_delivery_attempts(store_tx *tx, int64_t delivery_id, arena *a,
                                 store_delivery_attempt **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    return BE(tx)->delivery_attempts(tx, delivery_id, a, out, n);
}

k_status store_delivery_next_due(store_tx *tx, int64_t *next_at_ms)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(next_at_ms != NULL);
    *next_at_ms = 0;
    return BE(tx)->delivery_next_due(tx, next_at_ms);
}

k_status store_gauges_get(store_tx *tx, int64_t now_s, store_gauges *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    return BE(tx)->gauges_get(tx, now_s, out);
}

/* ---- idempotency keys ---- */

k_status store_idem_get(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                        store_idem *out)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && key != NULL);
    K_ASSERT(a != NULL && out != NULL);
    k_status st = BE(tx)->idem_get(tx, merchant_id, key, a, out);
    if (st != K_OK || out->body == NULL || !crypto_is_sealed(out->body))
        return st;
    char *plain = crypto_open_alloc(out->body);
    if (plain == NULL) {
        log_error("idempotency key of '%s': the stored answer does not open with this key file",
                  merchant_id);
        return K_EIO;
    }
    out->body = arena_strdup(a, plain);
    free(plain);
    return out->body != NULL ? K_OK : K_ENOMEM;
}

/* A stored answer that carries a webhook signing secret (the answer to an
 * endpoint's create, replayed for 24 hours) is sealed like the secret's own
 * row. Other answers stay plain: what they hold is in their object's row too,
 * and the benchmark's cloner reads them (bench/flow.c). */
k_status store_idem_put(store_tx *tx, const store_idem *k)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(k != NULL);
    K_ASSERT(k->merchant_id != NULL && k->key != NULL && k->fingerprint != NULL);
    if (k->body == NULL || strstr(k->body, "\"whsec_") == NULL)
        return BE(tx)->idem_put(tx, k);
    store_idem sealed = *k;
    char *box = crypto_seal_alloc(k->body);
    if (box == NULL)
        return K_ENOMEM;
    sealed.body = box;
    k_status st = BE(tx)->idem_put(tx, &sealed);
    free(box);
    return st;
}

k_status store_idem_delete(store_tx *tx, const char *merchant_id, const char *key)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(merchant_id != NULL && key != NULL);
    return BE(tx)->idem_delete(tx, merchant_id, key);
}

k_status store_idem_prune(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(deleted != NULL);
    *deleted = 0;
    if (max > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    return BE(tx)->idem_prune(tx, before_ms, max, deleted);
}

/* ---- reports ---- */

k_status store_obj_scan(store_tx *tx, const char *merchant_id, const char *kind,
                        int64_t created_gte, int64_t created_lt, int64_t after_created,
                        int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && kind != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max == 0 || max > LIMIT_STORE_ROWS_MAX || created_gte > created_lt ||
        after_created < created_gte)
        return K_EINVAL;
    if (created_gte == created_lt)
        return K_OK; /* an empty interval (the scan's first seek would read created_gte) */
    return BE(tx)->obj_scan(tx, merchant_id, kind, created_gte, created_lt, after_created,
                            after_seq, max, a, out, n);
}

k_status store_ledger_scan(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                           int64_t after_ms, int64_t after_seq, size_t max, arena *a,
                           store_ledger_row **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max == 0 || max > LIMIT_STORE_ROWS_MAX || from_ms > to_ms || after_ms < from_ms)
        return K_EINVAL;
    if (from_ms == to_ms)
        return K_OK; /* an empty interval */
    k_status st =
        BE(tx)->ledger_scan(tx, merchant_id, from_ms, to_ms, after_ms, after_seq, max, a, out, n);
    for (size_t i = 0; st == K_OK && i < *n; i++)
        K_ASSERT((*out)[i].op.amount >= 0); /* money read back: never negative in the journal */
    return st;
}

bool store_rollup_span(int64_t from_ms, int64_t to_ms, int64_t slot_ms, int64_t *whole_from,
                       int64_t *whole_to)
{
    const int64_t q = STORE_ROLLUP_SLOT_MS;
    if (slot_ms != q || from_ms < 0 || to_ms <= from_ms || from_ms > INT64_MAX - q)
        return false;
    *whole_from = (from_ms + q - 1) / q * q;
    *whole_to = to_ms / q * q;
    return *whole_to > *whole_from;
}

k_status store_ledger_groups(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                             int64_t slot_ms, size_t max, arena *a, store_ledger_group **out,
                             size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max == 0 || max > LIMIT_STORE_ROWS_MAX || from_ms > to_ms || slot_ms <= 0)
        return K_EINVAL;
    return BE(tx)->ledger_groups(tx, merchant_id, from_ms, to_ms, slot_ms, max, a, out, n);
}

k_status store_job_add(store_tx *tx, store_job *j)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(j != NULL);
    K_ASSERT(j->merchant_id != NULL && j->kind != NULL && j->ref_id != NULL);
    K_ASSERT(j->state != NULL);
    K_ASSERT(j->attempts >= 0);
    return BE(tx)->job_add(tx, j);
}

k_status store_job_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max, arena *a,
                         store_job **out, size_t *n)
{
    K_ASSERT(tx != NULL && tx->writable); /* a claim writes the lease */
    K_ASSERT(lease_until_ms > now_ms);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    if (max == 0 || max > LIMIT_STORE_ROWS_MAX)
        return K_EINVAL;
    return BE(tx)->job_claim(tx, now_ms, lease_until_ms, max, a, out, n);
}

k_status store_job_update(store_tx *tx, const store_job *j)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(j != NULL);
    K_ASSERT(j->id > 0);
    K_ASSERT(j->merchant_id != NULL && j->state != NULL);
    return BE(tx)->job_update(tx, j);
}

k_status store_job_list(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                        store_job **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(merchant_id != NULL && ref_id != NULL);
    K_ASSERT(a != NULL && out != NULL && n != NULL);
    *out = NULL;
    *n = 0;
    return BE(tx)->job_list(tx, merchant_id, ref_id, a, out, n);
}

k_status store_job_release(store_tx *tx, int64_t *released)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(released != NULL);
    *released = 0;
    return BE(tx)->job_release(tx, released);
}
