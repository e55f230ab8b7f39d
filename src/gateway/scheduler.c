/*
 * scheduler.c - every timer Kassa has, driven by the one clock:
 *  - an attempt the customer abandoned (redirect or QR left open) expires after
 *    its method's period (Klarna 48 h): payment_intent_payment_attempt_expired;
 *  - an attempt stuck waiting on a provider is asked again (the janitor);
 *  - an authorisation warns N days before it expires, then expires (the
 *    uncaptured remainder is released);
 *  - a capture or refund begun at the provider whose request never came back
 *    (Kassa died) is sent again with its idempotency key and settled;
 *  - a checkout session past its expires_at expires;
 *  - idempotency keys older than LIMIT_IDEMPOTENCY_TTL_S are pruned.
 * Each tick handles at most LIMIT_TICK_ITEMS_MAX due objects (bounded work);
 * the provider is asked outside any transaction, then one write per object.
 */
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>
#include "reqlog.h"
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/log.h"

#define TICK_IDLE_MS      1000
#define PRUNE_EVERY_MS    60000 /* idempotency keys are pruned once a minute */
#define JANITOR_RECHECK_S 600   /* a payment still processing at its deadline is asked again then */

k_status gw_session_expire_due(store_tx *tx, const char *merchant_id, const char *id, arena *a);

typedef struct {
    int64_t now;
    arena *a;
    store_obj *objs;
    size_t n;
} due_job;

/* A write: the slice is claimed, so the other nodes' schedulers skip it. */
static k_status due_fn(store_tx *tx, void *arg)
{
    due_job *j = arg;
    return store_obj_claim_due(tx, j->now, j->now + LIMIT_TIMER_LEASE_S, LIMIT_TICK_ITEMS_MAX, j->a,
                               &j->objs, &j->n);
}

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    arena *a;
    bool unanswered; /* the provider was asked about the open attempt and did not answer */
} timer_job;

/* An open attempt past its deadline: expire it (the payment can be tried again). */
static k_status attempt_expire_fn(store_tx *tx, void *arg)
{
    timer_job *j = arg;
    gw_payment p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, &p);
    if (st != K_OK)
        return st;
    int64_t now = clock_now_s();
    if (p.attempt_expires_at == 0 || p.attempt_expires_at > now)
        return K_OK;
    if (p.m.state == PS_PROCESSING || j->unanswered) {
        /* The provider has the last word (the customer may have paid a moment
         * before the deadline, the callback late); ask again later. */
        p.attempt_expires_at = now + JANITOR_RECHECK_S;
        return gw_save_payment(tx, &p);
    }
    if (p.m.state != PS_REQUIRES_ACTION || p.latest_attempt == NULL)
        return K_OK;
    gw_attempt t;
    st = gw_load_attempt(tx, p.latest_attempt, j->a, &t);
    if (st != K_OK)
        return st;
    prov_result r = {.outcome = PR_FAILED,
                     .failure_code = "payment_intent_payment_attempt_expired",
                     .failure_message = "The customer did not complete the payment in time; "
                                        "the attempt expired."};
    return gw_apply_result(tx, j->g, &p, &t, &r, j->a);
}

static k_status auth_timer_fn(store_tx *tx, void *arg)
{
    timer_job *j = arg;
    gw_payment p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, &p);
    if (st != K_OK || pay_transition(p.m.state, OP_EXPIRE) < 0 || p.auth_expires_at == 0)
        return st;
    int64_t now = clock_now_s();
    if (p.auth_expires_at <= now) {
        if (p.capture_pending > 0)
            return K_OK; /* a capture is being answered; look again next tick */
        gw_act act = {.op = OP_EXPIRE,
                      .code = "authorization_expired",
                      .message = "The authorisation expired before it was captured."};
        st = gw_act_apply(tx, &p, &act);
        K_ASSERT(st != K_EREFUSED); /* the table was asked above */
        if (p.m.state == PS_CANCELED) {
            p.canceled_at = now;
            p.cancellation_reason = "automatic";
        }
        if (st == K_OK)
            st = gw_save_payment(tx, &p);
        if (st == K_OK)
            st = gw_emit_payment(tx, &p,
                                 p.m.state == PS_CANCELED ? "payment_intent.canceled"
                                                          : "payment_intent.succeeded");
        return st;
    }
    if (p.auth_warned == 0) {
        p.auth_warned = now;
        st = gw_save_payment(tx, &p);
        if (st == K_OK)
            st = gw_emit_payment(tx, &p, "payment_intent.authorization_expiring");
    }
    return st;
}

static k_status session_timer_fn(store_tx *tx, void *arg)
{
    timer_job *j = arg;
    return gw_session_expire_due(tx, j->merchant_id, j->id, j->a);
}

/* An order action (cancel, extend, edit) whose answer was lost with Kassa:
 * read the order back once its note is due. */
static k_status order_recheck(gw *g, const char *merchant_id, const char *id, arena *a)
{
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_get(g, merchant_id, id, a, &p, &err);
    if (st != K_OK || p.reconcile_at == 0 || p.reconcile_at > clock_now_s())
        return st;
    log_info("payment '%s': reading the order back after an action whose answer was lost", id);
    return gw_pi_sync(g, merchant_id, id, a, &p, &err); /* reads the order back (reconcile) */
}

/* Before expiring an open attempt, ask the provider: the customer may have
 * finished a moment ago and the callback be late. */
static void payment_due(gw *g, const store_obj *o, arena *a)
{
    timer_job j = {g, o->merchant_id, o->id, a, false};
    if (o->status != NULL &&
        (strcmp(o->status, "requires_action") == 0 || strcmp(o->status, "processing") == 0)) {
        j.unanswered = gw_attempt_read_back(g, o->merchant_id, o->id, a) != K_OK;
        store_write(g->st, attempt_expire_fn, &j);
        return;
    }
    if (o->status != NULL && strcmp(o->status, "requires_capture") == 0) {
        gw_capture_retry(g, o->merchant_id, o->id, a); /* captures whose request died */
        order_recheck(g, o->merchant_id, o->id, a);    /* order actions whose answer was lost */
    }
    store_write(g->st, auth_timer_fn, &j);
}

typedef struct {
    int64_t before_ms;
    size_t deleted;
} prune_job;

static k_status prune_fn(store_tx *tx, void *arg)
{
    prune_job *j = arg;
    return store_idem_prune(tx, j->before_ms, 1000, &j->deleted);
}

void gw_tick(gw *g)
{
    gw_reqlog_flush(g); /* the API requests of the last second, in one write */
    arena a;
    arena_init(&a, 0);
    due_job dj = {.now = clock_now_s(), .a = &a};
    if (store_write(g->st, due_fn, &dj) == K_OK) {
        for (size_t i = 0; i < dj.n; i++) {
            const store_obj *o = &dj.objs[i];
            if (strcmp(o->kind, "payment_intent") == 0)
                payment_due(g, o, &a);
            else if (strcmp(o->kind, "refund") == 0)
                gw_refund_retry(g, o->merchant_id, o->id, &a);
            else if (strcmp(o->kind, "checkout.session") == 0) {
                timer_job j = {g, o->merchant_id, o->id, &a, false};
                store_write(g->st, session_timer_fn, &j);
            }
        }
    }
    arena_release(&a);
    static _Atomic int64_t last_prune_ms;
    int64_t now_ms = clock_now_ms();
    if (now_ms - last_prune_ms >= PRUNE_EVERY_MS) {
        last_prune_ms = now_ms;
        prune_job pj = {now_ms - (int64_t)LIMIT_IDEMPOTENCY_TTL_S * 1000 - 3600 * 1000, 0};
        store_write(g->st, prune_fn, &pj);
    }
}

void *gw_scheduler_main(void *arg)
{
    gw *g = arg;
    log_set_request_id("scheduler");
    pthread_setname_np(pthread_self(), "scheduler");
    for (;;) {
        gw_tick(g);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += TICK_IDLE_MS / 1000;
        pthread_mutex_lock(&g->mu);
        uint64_t gen = g->tick_gen;
        while (!g->stop && gen == g->tick_gen) {
            if (pthread_cond_timedwait(&g->wake, &g->mu, &ts) != 0)
                break;
        }
        bool stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
    }
    return NULL;
}

/* The workers start from here, not from the frame: the frame never names a
 * worker (scripts/check-layers.sh). */
static void wake_from_store(void *arg)
{
    gw_wake(arg);
}

k_status gw_start_workers(gw *g)
{
    K_ASSERT(!g->workers_started);
    if (pthread_create(&g->scheduler, NULL, gw_scheduler_main, g) != 0)
        return K_ERR;
    if (pthread_create(&g->dispatcher, NULL, gw_dispatcher_main, g) != 0) {
        pthread_mutex_lock(&g->mu);
        g->stop = true;
        pthread_cond_broadcast(&g->wake);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->scheduler, NULL);
        return K_ERR;
    }
    g->workers_started = true;
    store_set_wake(g->st, wake_from_store, g); /* other nodes' new deliveries (PostgreSQL NOTIFY) */
    return K_OK;
}
