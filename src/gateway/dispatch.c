/*
 * dispatch.c - the webhook dispatcher: reads due deliveries from the outbox,
 * has the endpoint's dialect format and sign them, posts them through httpc's
 * non-blocking multi interface, and records every attempt.
 *
 * At-least-once: a delivery is claimed with a lease (another worker or node
 * does not take it meanwhile), sent, and only marked delivered after a 2xx. A
 * failure (non-2xx, 3xx included, timeout, refused connection) is retried with
 * exponential backoff and jitter, up to LIMIT_WEBHOOK_HORIZON_S after the
 * event; then the delivery is marked failed (it can still be resent by hand).
 * The dispatcher never blocks a request thread: httpc's callback only queues
 * the outcome, and this thread writes outcomes in batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/crashpoint.h"
#include "../base/crypto.h"
#include "../base/httpc.h"
#include "../base/log.h"

#define DISPATCH_LEASE_MS 60000 /* > LIMIT_WEBHOOK_TIMEOUT_MS: a crashed sender's lease lapses */
#define DISPATCH_IDLE_MS  1000  /* poll at least this often (other nodes' writes) */
#define BACKOFF_BASE_S    10

_Static_assert(DISPATCH_LEASE_MS > LIMIT_WEBHOOK_TIMEOUT_MS, "lease outlives a send");

typedef struct outcome outcome;
struct outcome {
    outcome *next;
    store_delivery d;
    char merchant_id[LIMIT_ID_MAX], event_id[LIMIT_ID_MAX], endpoint_id[LIMIT_ID_MAX];
    int32_t http_status;
    int32_t latency_ms;
    char head[LIMIT_WEBHOOK_RESPONSE_KEEP + 1];
    char error[256];
    bool skipped; /* the dialect sends nothing for this event */
    gw *g;
};

static pthread_mutex_t g_out_mu = PTHREAD_MUTEX_INITIALIZER;
static outcome *g_done;   /* finished sends waiting to be recorded */
static size_t g_inflight; /* sends under way */

/* Milliseconds to wait after `attempts` failures: 10 s doubling to 6 h, +-10 % jitter. */
static int64_t backoff_ms(int32_t attempts)
{
    int64_t s = BACKOFF_BASE_S;
    for (int32_t i = 1; i < attempts && s < LIMIT_WEBHOOK_BACKOFF_MAX_S; i++)
        s *= 2;
    if (s > LIMIT_WEBHOOK_BACKOFF_MAX_S)
        s = LIMIT_WEBHOOK_BACKOFF_MAX_S;
    uint32_t r = 0;
    crypto_random(&r, sizeof(r));
    int64_t jitter = (int64_t)(r % 201) - 100; /* -100..100 per mille */
    return s * 1000 + s * jitter;
}

int64_t gw_delivery_next_ms(int64_t created_ms, int32_t attempts, int64_t now_ms)
{
    K_ASSERT(attempts >= 1);
    int64_t horizon_ms = created_ms + (int64_t)LIMIT_WEBHOOK_HORIZON_S * 1000;
    if (now_ms >= horizon_ms || attempts >= LIMIT_WEBHOOK_ATTEMPTS_MAX)
        return 0;
    int64_t next = now_ms + backoff_ms(attempts);
    /* The last attempt lands on the horizon itself, so a receiver that is back
     * within three days gets its events, as Stripe promises. */
    return next < horizon_ms ? next : horizon_ms;
}

static void on_sent(void *ctx, k_status st, httpc_resp *resp)
{
    outcome *o = ctx;
    o->http_status = st == K_OK ? (int32_t)resp->status : 0;
    o->latency_ms = (int32_t)resp->latency_ms;
    if (st == K_OK) {
        size_t n = resp->body.len < LIMIT_WEBHOOK_RESPONSE_KEEP ? resp->body.len
                                                                : LIMIT_WEBHOOK_RESPONSE_KEEP;
        if (n > 0)
            memcpy(o->head, resp->body.data, n);
        o->head[n] = '\0';
    } else {
        snprintf(o->error, sizeof(o->error), "%s", resp->error[0] ? resp->error : "no answer");
    }
    pthread_mutex_lock(&g_out_mu);
    o->next = g_done;
    g_done = o;
    g_inflight--;
    pthread_mutex_unlock(&g_out_mu);
    gw_wake(o->g);
}

typedef struct {
    int64_t now_ms;
    size_t max;
    arena *a;
    store_delivery *ds;
    size_t n;
} claim_job;

static k_status claim_fn(store_tx *tx, void *arg)
{
    claim_job *j = arg;
    return store_delivery_claim(tx, j->now_ms, j->now_ms + DISPATCH_LEASE_MS, j->max, j->a, &j->ds,
                                &j->n);
}

typedef struct {
    const store_delivery *d;
    arena *a;
    store_obj ev;
    store_obj ep;
    bool have_ep;
    store_merchant m;
    bool have_m;
} load_job;

static bool is_callback(const char *endpoint_id)
{
    return strncmp(endpoint_id, "cb:", 3) == 0;
}

static k_status load_fn(store_tx *tx, void *arg)
{
    load_job *j = arg;
    k_status st = store_obj_get(tx, j->d->merchant_id, "event", j->d->event_id, j->a, &j->ev);
    if (st != K_OK)
        return st;
    if (is_callback(j->d->endpoint_id))
        j->have_m = store_merchant_get(tx, j->d->merchant_id, j->a, &j->m) == K_OK;
    else
        j->have_ep = store_obj_get(tx, j->d->merchant_id, "webhook_endpoint", j->d->endpoint_id,
                                   j->a, &j->ep) == K_OK;
    return K_OK;
}

/* The endpoint a delivery goes to: a webhook endpoint document, or the
 * payment's own callback URL signed with the merchant's ECommPay secret. */
static bool resolve_endpoint(load_job *lj, json_t *evdoc, arena *a, gw_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (is_callback(lj->d->endpoint_id)) {
        const char *url =
            json_string_value(json_object_get(json_object_get(evdoc, "object"), "callback_url"));
        if (url == NULL || !lj->have_m)
            return false;
        snprintf(ep->id, sizeof(ep->id), "%s", lj->d->endpoint_id);
        ep->url = arena_strdup(a, url);
        ep->secret = lj->m.ecp_secret;
        ep->status = "enabled";
        ep->dialect = "ecommpay";
        ep->project_id = lj->m.ecp_project_id;
        return true;
    }
    json_t *epdoc = lj->have_ep ? json_loads(lj->ep.body, 0, NULL) : NULL;
    bool ok = epdoc != NULL && gw_endpoint_from_json(epdoc, a, ep) == K_OK && ep->status != NULL &&
              strcmp(ep->status, "enabled") == 0;
    json_decref(epdoc);
    ep->dialect = "stripe";
    return ok;
}

static gw_formatter formatter_for(gw *g, const char *endpoint_id)
{
    const char *dialect = is_callback(endpoint_id) ? "ecommpay" : "stripe";
    for (size_t i = 0; i < GW_FORMATTERS_MAX; i++)
        if (g->fmts[i].fn != NULL && strcmp(g->fmts[i].dialect, dialect) == 0)
            return g->fmts[i].fn;
    return NULL;
}

static outcome *outcome_new(gw *g, const store_delivery *d)
{
    outcome *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->g = g;
    o->d = *d;
    snprintf(o->merchant_id, sizeof(o->merchant_id), "%s", d->merchant_id);
    snprintf(o->event_id, sizeof(o->event_id), "%s", d->event_id);
    snprintf(o->endpoint_id, sizeof(o->endpoint_id), "%s", d->endpoint_id);
    o->d.merchant_id = o->merchant_id;
    o->d.event_id = o->event_id;
    o->d.endpoint_id = o->endpoint_id;
    return o;
}

static void fail_now(outcome *o, const char *why)
{
    snprintf(o->error, sizeof(o->error), "%s", why);
    pthread_mutex_lock(&g_out_mu);
    o->next = g_done;
    g_done = o;
    pthread_mutex_unlock(&g_out_mu);
}

/* Formats and sends one delivery; the outcome arrives through on_sent. */
static void send_one(gw *g, const store_delivery *d)
{
    outcome *o = outcome_new(g, d);
    if (o == NULL)
        return; /* the lease lapses and the delivery is taken again */
    arena a;
    arena_init(&a, 0);
    load_job lj = {.d = d, .a = &a};
    gw_formatter fmt = formatter_for(g, d->endpoint_id);
    if (store_read(g->st, load_fn, &lj) != K_OK || fmt == NULL) {
        fail_now(o, "event or formatter missing");
        arena_release(&a);
        return;
    }
    json_t *evdoc = json_loads(lj.ev.body, 0, NULL);
    gw_event ev;
    gw_endpoint ep;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.id, sizeof(ev.id), "%s", d->event_id);
    ev.type = gw_jstr(evdoc, "type", &a);
    ev.created = gw_jint(evdoc, "created");
    ev.object_kind = gw_jstr(evdoc, "object_kind", &a);
    ev.object = json_object_get(evdoc, "object");
    ev.request_id = gw_jstr(evdoc, "request_id", &a);
    bool usable = resolve_endpoint(&lj, evdoc, &a, &ep);
    gw_delivery_req req;
    memset(&req, 0, sizeof(req));
    k_status fst = usable ? fmt(&ev, &ep, clock_now_s(), &a, &req) : K_ERR;
    if (!usable) {
        fail_now(o, "endpoint disabled or deleted");
    } else if (fst == K_ENOTFOUND) {
        o->skipped = true;
        fail_now(o, "not sent: this endpoint's dialect has no message for the event");
    } else if (fst != K_OK) {
        fail_now(o, "could not format the event");
    } else {
        httpc_req hr = {.method = "POST",
                        .url = req.url,
                        .body = req.body,
                        .body_len = req.body_len,
                        .timeout_ms = LIMIT_WEBHOOK_TIMEOUT_MS,
                        .body_max = 64 * 1024,
                        .public_only = true};
        for (size_t i = 0; i < 8 && req.headers[i] != NULL; i++)
            hr.headers[i] = req.headers[i];
        pthread_mutex_lock(&g_out_mu);
        g_inflight++;
        pthread_mutex_unlock(&g_out_mu);
        if (httpc_submit(&hr, on_sent, o) != K_OK) {
            pthread_mutex_lock(&g_out_mu);
            g_inflight--;
            pthread_mutex_unlock(&g_out_mu);
            fail_now(o, "could not start the request");
        }
    }
    json_decref(evdoc);
    arena_release(&a);
}

typedef struct {
    outcome *list;
    int64_t now_ms;
} record_job;

static k_status record_fn(store_tx *tx, void *arg)
{
    record_job *j = arg;
    for (outcome *o = j->list; o != NULL; o = o->next) {
        store_delivery d = o->d;
        d.attempts++;
        d.last_status = o->http_status;
        bool ok = o->http_status >= 200 && o->http_status < 300;
        int64_t next =
            ok || o->skipped ? 0 : gw_delivery_next_ms(d.created_ms, d.attempts, j->now_ms);
        d.state = ok ? "delivered" : o->skipped ? "skipped" : next == 0 ? "failed" : "pending";
        d.next_at_ms = next;
        store_delivery_attempt at = {.delivery_id = d.id,
                                     .at_ms = j->now_ms,
                                     .http_status = o->http_status,
                                     .latency_ms = o->latency_ms,
                                     .response_head = o->head[0] ? o->head : NULL,
                                     .error = o->error[0] ? o->error : NULL};
        k_status st = store_delivery_record(tx, &d, &at);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

static void record_outcomes(gw *g)
{
    pthread_mutex_lock(&g_out_mu);
    outcome *list = g_done;
    g_done = NULL;
    pthread_mutex_unlock(&g_out_mu);
    if (list == NULL)
        return;
    crash_point("webhook.answered"); /* the receiver has it; Kassa has not written so */
    record_job j = {list, clock_now_ms()};
    k_status st = store_write(g->st, record_fn, &j);
    if (st != K_OK)
        log_error("webhook outcomes not recorded (%s); their leases will lapse and they go "
                  "again",
                  k_status_str(st));
    while (list != NULL) {
        outcome *next = list->next;
        free(list);
        list = next;
    }
}

typedef struct {
    int64_t next;
} next_job;

static k_status next_fn(store_tx *tx, void *arg)
{
    next_job *j = arg;
    return store_delivery_next_due(tx, &j->next);
}

/* The dispatcher's loop does one "next due" read per wake-up: what it read
 * before deciding not to claim is what the wait that follows needs. */
enum { NEXT_UNKNOWN = -1, NEXT_ERROR = -2 };

/* Claims what is due and sends it. Returns when the next pending delivery
 * becomes claimable (ms, 0: none pending) as read before deciding not to
 * claim, or NEXT_UNKNOWN after a claim (more may be due: look again at once),
 * or NEXT_ERROR when the read failed. */
static int64_t claim_and_send(gw *g)
{
    pthread_mutex_lock(&g_out_mu);
    size_t room =
        LIMIT_WEBHOOK_INFLIGHT_MAX > g_inflight ? LIMIT_WEBHOOK_INFLIGHT_MAX - g_inflight : 0;
    pthread_mutex_unlock(&g_out_mu);
    /* With no room, the sends under way end in on_sent, which wakes this
     * thread: nothing to read until then (at most DISPATCH_IDLE_MS). */
    if (room == 0)
        return clock_now_ms() + DISPATCH_IDLE_MS;
    /* A cheap read first: claiming is a write, and most wake-ups (every
     * committed change wakes the dispatcher) find nothing due. */
    next_job nj = {0};
    if (store_read(g->st, next_fn, &nj) != K_OK)
        return NEXT_ERROR;
    if (nj.next == 0 || nj.next > clock_now_ms())
        return nj.next;
    arena a;
    arena_init(&a, 0);
    claim_job cj = {.now_ms = clock_now_ms(), .max = room, .a = &a};
    if (store_write(g->st, claim_fn, &cj) == K_OK) {
        if (cj.n > 0)
            crash_point("webhook.claimed");
        for (size_t i = 0; i < cj.n; i++)
            send_one(g, &cj.ds[i]);
    }
    arena_release(&a);
    return NEXT_UNKNOWN;
}

static int64_t dispatch_step(gw *g)
{
    record_outcomes(g);
    return claim_and_send(g);
}

void gw_dispatch_step(gw *g)
{
    (void)dispatch_step(g);
}

void gw_dispatch_flush(gw *g)
{
    record_outcomes(g);
}

/* Sleeps until a wake-up, the next due time `next` (as claim_and_send
 * returned it) or DISPATCH_IDLE_MS, whichever comes first; returns at once
 * after a claim or while outcomes wait to be recorded. */
static void wait_for_work(gw *g, int64_t next)
{
    if (next == NEXT_UNKNOWN)
        return;
    int64_t now = clock_now_ms();
    int64_t wait = DISPATCH_IDLE_MS;
    if (next > 0 && next - now < wait)
        wait = next - now > 0 ? next - now : 0;
    pthread_mutex_lock(&g_out_mu);
    bool pending = g_done != NULL;
    pthread_mutex_unlock(&g_out_mu);
    if (wait == 0 || pending)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait / 1000;
    ts.tv_nsec += (wait % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&g->mu);
    uint64_t gen = g->wake_gen;
    while (!g->stop && gen == g->wake_gen) {
        if (pthread_cond_timedwait(&g->wake, &g->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&g->mu);
}

void *gw_dispatcher_main(void *arg)
{
    gw *g = arg;
    log_set_request_id("dispatcher");
    pthread_setname_np(pthread_self(), "dispatcher");
    for (;;) {
        pthread_mutex_lock(&g->mu);
        bool stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop) {
            record_outcomes(g);
            break;
        }
        wait_for_work(g, dispatch_step(g));
    }
    /* Let sends under way finish (bounded by their timeout) and record them. */
    for (int i = 0; i < LIMIT_WEBHOOK_TIMEOUT_MS / 50; i++) {
        pthread_mutex_lock(&g_out_mu);
        size_t busy = g_inflight;
        pthread_mutex_unlock(&g_out_mu);
        if (busy == 0)
            break;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    record_outcomes(g);
    return NULL;
}
