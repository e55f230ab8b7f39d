/*
 * fault.c - the counting store wrapper behind fault.h: a backend whose every
 * function forwards to the real one, counting the operations made inside
 * writes and failing the armed one with K_EIO. The write closure's own end
 * counts too, so a failed commit is among the steps a test walks through.
 * The backend rolls a failed closure back, as it would any error.
 */
#include <pthread.h>
#include <stdlib.h>
#include "fault.h"
#include "store_int.h"

static const struct store_backend *inner;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t armed_at; /* 0 = disarmed */
static int64_t counted;
static bool fired;
static k_status fail_with = K_EIO;            /* store_fault_set_status */
static int64_t marks[STORE_FAULT_WRITES_MAX]; /* first operation of each write */
static size_t nmarks;

static k_status tick(store_tx *tx)
{
    if (!tx->writable)
        return K_OK;
    pthread_mutex_lock(&mu);
    counted++;
    bool fire = armed_at > 0 && counted == armed_at;
    if (fire) {
        armed_at = 0;
        fired = true;
    }
    pthread_mutex_unlock(&mu);
    return fire ? fail_with : K_OK;
}

void store_fault_set_status(k_status why)
{
    K_ASSERT(why == K_EIO || why == K_ENOSPC);
    pthread_mutex_lock(&mu);
    fail_with = why;
    pthread_mutex_unlock(&mu);
}

void store_fault_set(int64_t n)
{
    K_ASSERT(n >= 0);
    pthread_mutex_lock(&mu);
    armed_at = n;
    counted = 0;
    fired = false;
    nmarks = 0;
    pthread_mutex_unlock(&mu);
}

size_t store_fault_writes(int64_t *first_op, size_t cap)
{
    pthread_mutex_lock(&mu);
    size_t n = nmarks < cap ? nmarks : cap;
    for (size_t i = 0; i < n; i++)
        first_op[i] = marks[i];
    pthread_mutex_unlock(&mu);
    return n;
}

int64_t store_fault_count(void)
{
    pthread_mutex_lock(&mu);
    int64_t n = counted;
    pthread_mutex_unlock(&mu);
    return n;
}

bool store_fault_fired(void)
{
    pthread_mutex_lock(&mu);
    bool f = fired;
    pthread_mutex_unlock(&mu);
    return f;
}

/* ---- lifecycle, reads and writes ---- */

static k_status f_open(store *s, const char *path)
{
    return inner->open(s, path);
}

static void f_close(store *s)
{
    inner->close(s);
}

typedef struct {
    store_fn fn;
    void *arg;
} closure;

static k_status closure_run(store_tx *tx, void *p)
{
    closure *c = p;
    pthread_mutex_lock(&mu);
    if (nmarks < STORE_FAULT_WRITES_MAX)
        marks[nmarks++] = counted + 1;
    pthread_mutex_unlock(&mu);
    k_status st = c->fn(tx, c->arg);
    if (st == K_OK)
        st = tick(tx); /* the commit that follows is a step too */
    return st;
}

static k_status f_write(store *s, store_fn fn, void *arg)
{
    closure c = {fn, arg};
    return inner->write(s, closure_run, &c);
}

/* The asynchronous write's closure lives until its completion. */
typedef struct {
    closure c;
    store_done_fn done;
    void *done_arg;
} closure_async;

static void closure_async_done(void *p, k_status st)
{
    closure_async *a = p;
    store_done_fn done = a->done;
    void *arg = a->done_arg;
    free(a);
    done(arg, st);
}

static k_status f_write_async(store *s, store_fn fn, void *arg, int64_t deadline_ms,
                              store_done_fn done, void *done_arg)
{
    closure_async *a = malloc(sizeof(*a));
    if (a == NULL)
        return K_ENOMEM;
    *a = (closure_async){{fn, arg}, done, done_arg};
    k_status st = inner->write_async(s, closure_run, &a->c, deadline_ms, closure_async_done, a);
    if (st != K_OK)
        free(a);
    return st;
}

static k_status f_read(store *s, store_fn fn, void *arg)
{
    return inner->read(s, fn, arg);
}

static int f_schema_version(store *s)
{
    return inner->schema_version(s);
}

static void f_get_stats(store *s, store_stats *out)
{
    inner->get_stats(s, out);
}

/* ---- the data functions: count, then forward ---- */

static k_status f_merchant_put(store_tx *tx, const store_merchant *m)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->merchant_put(tx, m);
}

static k_status f_merchant_get(store_tx *tx, const char *id, arena *a, store_merchant *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->merchant_get(tx, id, a, out);
}

static k_status f_merchant_by_key(store_tx *tx, const char *secret_key_hash, arena *a,
                                  store_merchant *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->merchant_by_key(tx, secret_key_hash, a, out);
}

static k_status f_merchant_by_project(store_tx *tx, int64_t project_id, arena *a,
                                      store_merchant *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->merchant_by_project(tx, project_id, a, out);
}

static k_status f_merchant_count(store_tx *tx, int64_t *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->merchant_count(tx, out);
}

static k_status f_obj_put(store_tx *tx, store_obj *o)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_put(tx, o);
}

static k_status f_obj_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                          arena *a, store_obj *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_get(tx, merchant_id, kind, id, a, out);
}

static k_status f_obj_by_ref(store_tx *tx, const char *merchant_id, const char *kind,
                             const char *ext_ref, arena *a, store_obj *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_by_ref(tx, merchant_id, kind, ext_ref, a, out);
}

static k_status f_obj_find_ref(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                               store_obj *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_find_ref(tx, kind, ext_ref, a, out);
}

static k_status f_obj_list(store_tx *tx, const char *merchant_id, const char *kind,
                           const store_list_q *q, arena *a, store_obj **out, size_t *n,
                           bool *has_more)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_list(tx, merchant_id, kind, q, a, out, n, has_more);
}

static k_status f_obj_due(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out,
                          size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_due(tx, now, max, a, out, n);
}

static k_status f_op_append(store_tx *tx, const store_op *op)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->op_append(tx, op);
}

static k_status f_op_list(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                          store_op **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->op_list(tx, merchant_id, payment_id, a, out, n);
}

static k_status f_op_range(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                           int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st
                      : inner->op_range(tx, merchant_id, from_ms, to_ms, after_seq, max, a, out, n);
}

static k_status f_delivery_add(store_tx *tx, store_delivery *d)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_add(tx, d);
}

static k_status f_delivery_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                                 arena *a, store_delivery **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_claim(tx, now_ms, lease_until_ms, max, a, out, n);
}

static k_status f_delivery_record(store_tx *tx, const store_delivery *d,
                                  const store_delivery_attempt *at)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_record(tx, d, at);
}

static k_status f_delivery_list(store_tx *tx, const char *merchant_id, const char *event_id,
                                arena *a, store_delivery **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_list(tx, merchant_id, event_id, a, out, n);
}

static k_status f_delivery_get(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                               store_delivery *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_get(tx, merchant_id, id, a, out);
}

static k_status f_delivery_attempts(store_tx *tx, int64_t delivery_id, arena *a,
                                    store_delivery_attempt **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_attempts(tx, delivery_id, a, out, n);
}

static k_status f_delivery_next_due(store_tx *tx, int64_t *next_at_ms)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->delivery_next_due(tx, next_at_ms);
}

static k_status f_idem_get(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                           store_idem *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->idem_get(tx, merchant_id, key, a, out);
}

static k_status f_idem_put(store_tx *tx, const store_idem *k)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->idem_put(tx, k);
}

static k_status f_idem_delete(store_tx *tx, const char *merchant_id, const char *key)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->idem_delete(tx, merchant_id, key);
}

static k_status f_idem_prune(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->idem_prune(tx, before_ms, max, deleted);
}

/* The rest of the backend (the scheduler's claim, gauges, scans, jobs, SQL):
 * counted like the others, so a simulation that runs the workers can fault
 * them too. */
static k_status f_obj_claim_due(store_tx *tx, int64_t now, int64_t lease_until, size_t max,
                                arena *a, store_obj **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->obj_claim_due(tx, now, lease_until, max, a, out, n);
}

static k_status f_gauges_get(store_tx *tx, int64_t now_s, store_gauges *out)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->gauges_get(tx, now_s, out);
}

static k_status f_obj_scan(store_tx *tx, const char *merchant_id, const char *kind,
                           int64_t created_gte, int64_t created_lt, int64_t after_created,
                           int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st
                      : inner->obj_scan(tx, merchant_id, kind, created_gte, created_lt,
                                        after_created, after_seq, max, a, out, n);
}

static k_status f_ledger_scan(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                              int64_t after_ms, int64_t after_seq, size_t max, arena *a,
                              store_ledger_row **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st
                      : inner->ledger_scan(tx, merchant_id, from_ms, to_ms, after_ms, after_seq,
                                           max, a, out, n);
}

static k_status f_ledger_groups(store_tx *tx, const char *merchant_id, int64_t from_ms,
                                int64_t to_ms, int64_t slot_ms, size_t max, arena *a,
                                store_ledger_group **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK
               ? st
               : inner->ledger_groups(tx, merchant_id, from_ms, to_ms, slot_ms, max, a, out, n);
}

static k_status f_job_add(store_tx *tx, store_job *j)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->job_add(tx, j);
}

static k_status f_job_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                            arena *a, store_job **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->job_claim(tx, now_ms, lease_until_ms, max, a, out, n);
}

static k_status f_job_update(store_tx *tx, const store_job *j)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->job_update(tx, j);
}

static k_status f_job_list(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                           store_job **out, size_t *n)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->job_list(tx, merchant_id, ref_id, a, out, n);
}

static k_status f_sql(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                      store_row_fn fn, void *ctx, int64_t *changes)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->sql(tx, sql, args, nargs, fn, ctx, changes);
}

static k_status f_job_release(store_tx *tx, int64_t *released)
{
    k_status st = tick(tx);
    return st != K_OK ? st : inner->job_release(tx, released);
}

static void f_set_wake(store *s, void (*fn)(void *arg), void *arg)
{
    if (inner->set_wake != NULL)
        inner->set_wake(s, fn, arg);
}

/* limit_bucket and limit_window stay NULL: a faulted store's rate limits are
 * the node's own (store_limits_shared answers false). */
static const struct store_backend fault_backend = {
    .name = "fault",
    .open = f_open,
    .close = f_close,
    .set_wake = f_set_wake,
    .write = f_write,
    .write_async = f_write_async,
    .read = f_read,
    .schema_version = f_schema_version,
    .get_stats = f_get_stats,
    .merchant_put = f_merchant_put,
    .merchant_get = f_merchant_get,
    .merchant_by_key = f_merchant_by_key,
    .merchant_by_project = f_merchant_by_project,
    .merchant_count = f_merchant_count,
    .obj_put = f_obj_put,
    .obj_get = f_obj_get,
    .obj_by_ref = f_obj_by_ref,
    .obj_find_ref = f_obj_find_ref,
    .obj_list = f_obj_list,
    .obj_due = f_obj_due,
    .obj_claim_due = f_obj_claim_due,
    .gauges_get = f_gauges_get,
    .obj_scan = f_obj_scan,
    .ledger_scan = f_ledger_scan,
    .ledger_groups = f_ledger_groups,
    .job_add = f_job_add,
    .job_claim = f_job_claim,
    .job_update = f_job_update,
    .job_list = f_job_list,
    .job_release = f_job_release,
    .op_append = f_op_append,
    .op_list = f_op_list,
    .op_range = f_op_range,
    .delivery_add = f_delivery_add,
    .delivery_claim = f_delivery_claim,
    .delivery_record = f_delivery_record,
    .delivery_list = f_delivery_list,
    .delivery_get = f_delivery_get,
    .delivery_attempts = f_delivery_attempts,
    .delivery_next_due = f_delivery_next_due,
    .idem_get = f_idem_get,
    .idem_put = f_idem_put,
    .idem_delete = f_idem_delete,
    .idem_prune = f_idem_prune,
    .sql = f_sql, /* the statements written above the backends (store_keys.c, store_staff.c) */
};

void store_fault_install(store *s)
{
    K_ASSERT(s != NULL);
    if (s->backend == &fault_backend)
        return;
    inner = s->backend; /* one faulted store at a time: the last one installed */
    s->backend = &fault_backend;
}
