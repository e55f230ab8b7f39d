/*
 * endpoints.c - events (read, list, resend, delivery log) and webhook
 * endpoints (create, read, update, delete, list).
 *
 * Events are immutable documents written by gw_emit in the same transaction
 * as the change they describe; an endpoint's secret is minted here and shown
 * only on create (the dialect decides what to render).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/httpc.h"
#include "../base/ids.h"

#define WE "webhook_endpoint"

/* ---- events ---- */

static k_status event_from_doc(json_t *doc, arena *a, gw_event *out)
{
    memset(out, 0, sizeof(*out));
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id == NULL)
        return K_EINVAL;
    snprintf(out->id, sizeof(out->id), "%s", id);
    out->type = gw_jstr(doc, "type", a);
    out->created = gw_jint(doc, "created");
    out->object_kind = gw_jstr(doc, "object_kind", a);
    out->object = gw_keep(a, json_object_get(doc, "object"));
    out->previous = gw_keep(a, json_object_get(doc, "previous"));
    out->request_id = gw_jstr(doc, "request_id", a);
    out->idempotency_key = gw_jstr(doc, "idempotency_key", a);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    const char *kind;
    arena *a;
    json_t *doc;
    int32_t version;
} doc_read;

static k_status doc_read_fn(store_tx *tx, void *arg)
{
    doc_read *r = arg;
    store_obj o;
    k_status st = store_obj_get(tx, r->merchant_id, r->kind, r->id, r->a, &o);
    if (st != K_OK)
        return st;
    r->doc = json_loads(o.body, 0, NULL);
    if (r->doc == NULL)
        return K_EIO;
    arena_defer(r->a, (void (*)(void *))json_decref, r->doc);
    r->version = o.version;
    return K_OK;
}

k_status gw_event_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_event *out,
                      gw_err *err)
{
    doc_read r = {merchant_id, id, "event", a, NULL, 0};
    k_status st = store_read(g->st, doc_read_fn, &r);
    if (st != K_OK)
        return gw_err_store(err, st, "event", id);
    return event_from_doc(r.doc, a, out);
}

k_status gw_event_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                       gw_event **out, size_t *n, bool *has_more, gw_err *err)
{
    json_t **docs;
    k_status st = gw_list_docs(g, merchant_id, "event", q, a, &docs, n, has_more, err);
    if (st != K_OK)
        return st;
    *out = *n ? arena_alloc(a, *n * sizeof(gw_event)) : NULL;
    for (size_t i = 0; i < *n; i++)
        event_from_doc(docs[i], a, &(*out)[i]);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    const char *type;
    gw_err *err;
} resend_job;

/* A fresh delivery per subscribed endpoint; an existing one for the same
 * (event, endpoint) pair is re-armed: pending again, due now. */
static k_status resend_fn(store_tx *tx, void *arg)
{
    resend_job *j = arg;
    arena a;
    arena_init(&a, 0);
    store_obj ev;
    k_status st = store_obj_get(tx, j->merchant_id, "event", j->id, &a, &ev);
    if (st != K_OK) {
        arena_release(&a);
        return gw_err_store(j->err, st, "event", j->id);
    }
    store_obj *eps;
    size_t n;
    bool more;
    store_list_q q = {.limit = LIMIT_WEBHOOK_ENDPOINTS_MAX};
    st = store_obj_list(tx, j->merchant_id, WE, &q, &a, &eps, &n, &more);
    store_delivery *ds = NULL;
    size_t nd = 0;
    if (st == K_OK)
        st = store_delivery_list(tx, j->merchant_id, j->id, &a, &ds, &nd);
    for (size_t i = 0; st == K_OK && i < n; i++) {
        json_t *ep = json_loads(eps[i].body, 0, NULL);
        bool want = strcmp(eps[i].status, "enabled") == 0 &&
                    gw_subscribed(json_object_get(ep, "enabled_events"), ev.status);
        json_decref(ep);
        if (!want)
            continue;
        store_delivery *found = NULL;
        for (size_t k = 0; k < nd; k++)
            if (strcmp(ds[k].endpoint_id, eps[i].id) == 0)
                found = &ds[k];
        if (found != NULL) {
            store_delivery d = *found;
            d.state = "pending";
            d.next_at_ms = clock_now_ms();
            store_delivery_attempt none = {
                .delivery_id = d.id, .at_ms = clock_now_ms(), .error = "redelivery requested"};
            st = store_delivery_record(tx, &d, &none);
        } else {
            store_delivery d = {.merchant_id = j->merchant_id,
                                .event_id = j->id,
                                .endpoint_id = eps[i].id,
                                .state = "pending",
                                .next_at_ms = clock_now_ms(),
                                .created_ms = clock_now_ms()};
            st = store_delivery_add(tx, &d);
        }
    }
    arena_release(&a);
    return st;
}

k_status gw_event_resend(gw *g, const char *merchant_id, const char *id, gw_err *err)
{
    err->why = GW_WHY_NONE;
    resend_job j = {merchant_id, id, NULL, err};
    k_status st = store_write(g->st, resend_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, "event", id);
    gw_wake(g);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const gw_replay_q *q;
    const char *idem;
    int64_t events, deliveries;
    bool replayed;
} replay_job;

static bool delivery_failed(const store_delivery *d)
{
    return strcmp(d->state, "delivered") != 0 && strcmp(d->state, "skipped") != 0;
}

/* Re-arms the matching deliveries of one event; *hit when any matched. */
static k_status replay_event(store_tx *tx, replay_job *j, const char *event_id, arena *a, bool *hit)
{
    store_delivery *ds = NULL;
    size_t nd = 0;
    k_status st = store_delivery_list(tx, j->merchant_id, event_id, a, &ds, &nd);
    *hit = false;
    for (size_t k = 0; st == K_OK && k < nd; k++) {
        if (strncmp(ds[k].endpoint_id, "we_", 3) != 0)
            continue; /* a payment's own callback URL: not an endpoint of this page */
        if (j->q->endpoint_id != NULL && strcmp(ds[k].endpoint_id, j->q->endpoint_id) != 0)
            continue;
        if (j->q->failed_only && !delivery_failed(&ds[k]))
            continue;
        store_delivery d = ds[k];
        d.state = "pending";
        d.next_at_ms = clock_now_ms();
        store_delivery_attempt none = {
            .delivery_id = d.id, .at_ms = clock_now_ms(), .error = "replay requested"};
        st = store_delivery_record(tx, &d, &none);
        j->deliveries++;
        *hit = true;
    }
    return st;
}

static k_status replay_fn(store_tx *tx, void *arg)
{
    replay_job *j = arg;
    arena a;
    arena_init(&a, 0);
    char key[LIMIT_ID_MAX * 3] = "";
    k_status st = K_OK;
    if (j->idem != NULL) {
        snprintf(key, sizeof key, "replay:%s", j->idem);
        store_idem prev;
        st = store_idem_get(tx, j->merchant_id, key, &a, &prev);
        if (st == K_OK) {
            long long e = 0, d = 0;
            if (prev.body != NULL &&
                sscanf(prev.body, "{\"events\":%lld,\"deliveries\":%lld}", &e, &d) == 2) {
                j->events = e;
                j->deliveries = d;
            }
            j->replayed = true;
            arena_release(&a);
            return K_OK;
        }
        if (st != K_ENOTFOUND) {
            arena_release(&a);
            return st;
        }
        st = K_OK;
    }
    store_list_q q = {.type_prefix = j->q->type,
                      .created_gte = j->q->created_gte,
                      .created_lte = j->q->created_lte,
                      .limit = LIMIT_LIST_PAGE_MAX};
    size_t seen = 0;
    for (bool more = true; st == K_OK && more && seen < GW_REPLAY_MAX;) {
        store_obj *evs = NULL;
        size_t n = 0;
        st = store_obj_list(tx, j->merchant_id, "event", &q, &a, &evs, &n, &more);
        for (size_t i = 0; st == K_OK && i < n && seen < GW_REPLAY_MAX; i++, seen++) {
            bool hit = false;
            st = replay_event(tx, j, evs[i].id, &a, &hit);
            j->events += hit ? 1 : 0;
        }
        if (n == 0)
            break;
        q.starting_after = evs[n - 1].id;
    }
    if (st == K_OK && j->idem != NULL) {
        char body[96];
        snprintf(body, sizeof body, "{\"events\":%lld,\"deliveries\":%lld}", (long long)j->events,
                 (long long)j->deliveries);
        store_idem k = {.merchant_id = j->merchant_id,
                        .key = key,
                        .fingerprint = "replay",
                        .status = 200,
                        .body = body,
                        .created_ms = clock_now_ms()};
        st = store_idem_put(tx, &k);
    }
    arena_release(&a);
    return st;
}

k_status gw_event_replay(gw *g, const char *merchant_id, const gw_replay_q *q, const char *idem,
                         int64_t *events, int64_t *deliveries, bool *replayed, gw_err *err)
{
    err->why = GW_WHY_NONE;
    if (q->created_gte > 0 && q->created_lte > 0 && q->created_lte < q->created_gte) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "to", "The end of the range is before its start.");
        return K_EINVAL;
    }
    if (idem != NULL && (idem[0] == '\0' || strlen(idem) > 2 * LIMIT_ID_MAX)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "idem", "The form's idempotency key is malformed.");
        return K_EINVAL;
    }
    replay_job j = {.merchant_id = merchant_id, .q = q, .idem = idem};
    k_status st = store_write(g->st, replay_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, "event", NULL);
    gw_wake(g);
    *events = j.events;
    *deliveries = j.deliveries;
    *replayed = j.replayed;
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    arena *a;
    json_t *out;
} deliveries_job;

static k_status deliveries_fn(store_tx *tx, void *arg)
{
    deliveries_job *j = arg;
    store_obj ev;
    k_status st = store_obj_get(tx, j->merchant_id, "event", j->id, j->a, &ev);
    store_delivery *ds;
    size_t n = 0;
    if (st == K_OK)
        st = store_delivery_list(tx, j->merchant_id, j->id, j->a, &ds, &n);
    for (size_t i = 0; st == K_OK && i < n; i++) {
        store_delivery_attempt *at;
        size_t na;
        st = store_delivery_attempts(tx, ds[i].id, j->a, &at, &na);
        if (st != K_OK)
            break;
        json_t *log = json_array();
        for (size_t k = 0; k < na; k++)
            json_array_append_new(
                log, json_pack("{s:I,s:i,s:i,s:s?,s:s?}", "at", (json_int_t)(at[k].at_ms / 1000),
                               "http_status", at[k].http_status, "latency_ms", at[k].latency_ms,
                               "response_head", at[k].response_head, "error", at[k].error));
        json_array_append_new(
            j->out, json_pack("{s:I,s:s,s:s,s:i,s:i,s:I,s:o}", "id", (json_int_t)ds[i].id,
                              "endpoint", ds[i].endpoint_id, "state", ds[i].state, "attempts",
                              ds[i].attempts, "last_status", ds[i].last_status, "next_attempt",
                              (json_int_t)(ds[i].next_at_ms / 1000), "attempts_log", log));
    }
    return st;
}

k_status gw_event_deliveries(gw *g, const char *merchant_id, const char *id, arena *a, json_t **out,
                             gw_err *err)
{
    deliveries_job j = {merchant_id, id, a, json_array()};
    arena_defer(a, (void (*)(void *))json_decref, j.out);
    k_status st = store_read(g->st, deliveries_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "event", id);
    *out = j.out;
    return K_OK;
}

/* ---- webhook endpoints ---- */

static k_status save_endpoint(store_tx *tx, const char *merchant_id, gw_endpoint *e)
{
    json_t *doc = gw_endpoint_to_json(e);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    store_obj o = {.merchant_id = merchant_id,
                   .id = e->id,
                   .kind = WE,
                   .status = e->status,
                   .created = e->created,
                   .version = e->version,
                   .body = body};
    k_status st = body != NULL ? store_obj_put(tx, &o) : K_ENOMEM;
    free(body);
    if (st == K_OK)
        e->version = o.version;
    return st;
}

/* The event types Kassa emits (gw_emit's callers), and "*" for all of them. */
static const char *const ep_event_types[] = {"*",
                                             "charge.refunded",
                                             "checkout.session.completed",
                                             "checkout.session.expired",
                                             "payment_intent.amount_capturable_updated",
                                             "payment_intent.authorization_expiring",
                                             "payment_intent.authorization_extended",
                                             "payment_intent.canceled",
                                             "payment_intent.created",
                                             "payment_intent.payment_failed",
                                             "payment_intent.processing",
                                             "payment_intent.requires_action",
                                             "payment_intent.succeeded",
                                             "refund.created",
                                             "refund.failed",
                                             "refund.updated"};

/* Index of the first enabled_events entry that is not a known type, or -1. */
static long ep_unknown_event(json_t *events)
{
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v)
    {
        const char *t = json_string_value(v);
        bool known = false;
        for (size_t k = 0; t != NULL && k < K_ARRAY_LEN(ep_event_types); k++)
            known |= strcmp(t, ep_event_types[k]) == 0;
        if (!known)
            return (long)i;
    }
    return -1;
}

static k_status validate_endpoint(const gw_endpoint_params *p, bool create, gw_err *err)
{
    if (create && p->url == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "url", "Missing required param: url.");
        return K_EINVAL;
    }
    char why[160];
    if (p->url != NULL && httpc_url_check(p->url, why, sizeof(why)) != K_OK) {
        gw_err_set(err, GW_WHY_URL_INVALID, "url", "Invalid URL: %s", why);
        return K_EINVAL;
    }
    if (create && p->enabled_events == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "enabled_events",
                   "Missing required param: enabled_events.");
        return K_EINVAL;
    }
    if (p->enabled_events != NULL &&
        (!json_is_array(p->enabled_events) || json_array_size(p->enabled_events) == 0 ||
         json_array_size(p->enabled_events) > LIMIT_EVENT_TYPES_MAX)) {
        gw_err_set(err, GW_WHY_PARAM_EMPTY, "enabled_events",
                   "enabled_events must list 1 to %d event types (or '*').", LIMIT_EVENT_TYPES_MAX);
        return K_EINVAL;
    }
    long bad = p->enabled_events != NULL ? ep_unknown_event(p->enabled_events) : -1;
    if (bad >= 0) {
        const char *t = json_string_value(json_array_get(p->enabled_events, (size_t)bad));
        gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "enabled_events",
                   "Invalid enabled_events[%ld]: '%.64s' is not an event type "
                   "Kassa sends (see docs/api.md).",
                   bad, t != NULL ? t : "");
        return K_EINVAL;
    }
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    const gw_endpoint_params *p;
    gw_idem *idem;
    arena *a;
    gw_endpoint *out;
    gw_err *err;
    bool del;
} ep_job;

/* Endpoints that count toward the limit: enabled and disabled ones; deleted
 * endpoints keep a row (their id stays taken) but no longer count. */
static k_status ep_count_live(store_tx *tx, const char *merchant_id, size_t *live)
{
    static const char *const counted[] = {"enabled", "disabled"};
    *live = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(counted); i++) {
        arena a;
        arena_init(&a, 0);
        store_obj *eps;
        size_t n;
        bool more;
        store_list_q q = {.status = counted[i], .limit = LIMIT_WEBHOOK_ENDPOINTS_MAX};
        k_status st = store_obj_list(tx, merchant_id, WE, &q, &a, &eps, &n, &more);
        arena_release(&a);
        if (st != K_OK)
            return st;
        *live += n;
    }
    return K_OK;
}

static k_status ep_create_fn(store_tx *tx, void *arg)
{
    ep_job *j = arg;
    size_t n;
    k_status st = ep_count_live(tx, j->merchant_id, &n);
    if (st != K_OK)
        return st;
    if (n >= LIMIT_WEBHOOK_ENDPOINTS_MAX) {
        gw_err_set(j->err, GW_WHY_TOO_MANY, NULL,
                   "You have reached the maximum of %d webhook endpoints.",
                   LIMIT_WEBHOOK_ENDPOINTS_MAX);
        return K_ETOOBIG;
    }
    st = save_endpoint(tx, j->merchant_id, j->out);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, j->out, j->a);
    return st;
}

k_status gw_endpoint_create(gw *g, const char *merchant_id, const gw_endpoint_params *p,
                            gw_idem *idem, arena *a, gw_endpoint *out, gw_err *err)
{
    if (validate_endpoint(p, true, err) != K_OK)
        return K_EINVAL;
    memset(out, 0, sizeof(*out));
    id_new(out->id, "we_");
    char secret[LIMIT_ID_MAX];
    id_new_n(secret, "whsec_", 32);
    out->url = p->url;
    out->secret = arena_strdup(a, secret);
    out->status = p->disabled == 1 ? "disabled" : "enabled";
    out->description = p->description;
    out->enabled_events = p->enabled_events;
    out->metadata = gw_metadata_apply(NULL, p->metadata);
    arena_defer(a, (void (*)(void *))json_decref, out->metadata);
    out->api_version = p->api_version;
    out->created = clock_now_s();
    err->why = GW_WHY_NONE;
    ep_job j = {merchant_id, out->id, p, idem, a, out, err, false};
    k_status st = store_write(g->st, ep_create_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, WE, out->id);
    return K_OK;
}

static k_status ep_load(store_tx *tx, ep_job *j)
{
    store_obj o;
    k_status st = store_obj_get(tx, j->merchant_id, WE, j->id, j->a, &o);
    if (st != K_OK)
        return gw_err_store(j->err, st, WE, j->id);
    json_t *doc = json_loads(o.body, 0, NULL);
    if (doc == NULL)
        return K_EIO;
    st = gw_endpoint_from_json(doc, j->a, j->out);
    json_decref(doc);
    j->out->version = o.version;
    return st;
}

static k_status ep_update_fn(store_tx *tx, void *arg)
{
    ep_job *j = arg;
    k_status st = ep_load(tx, j);
    if (st != K_OK)
        return st;
    gw_endpoint *e = j->out;
    if (j->del) {
        st = store_obj_put(tx, &(store_obj){.merchant_id = j->merchant_id,
                                            .id = e->id,
                                            .kind = WE,
                                            .status = "deleted",
                                            .created = e->created,
                                            .version = e->version,
                                            .body = "{}"});
        return st == K_OK ? gw_idem_store_in_tx(tx, j->merchant_id, j->idem, e, j->a) : st;
    }
    const gw_endpoint_params *p = j->p;
    if (p->url != NULL)
        e->url = p->url;
    if (p->enabled_events != NULL)
        e->enabled_events = p->enabled_events;
    if (p->description != NULL)
        e->description = p->description[0] ? p->description : NULL;
    if (p->metadata != NULL) {
        e->metadata = gw_metadata_apply(e->metadata, p->metadata);
        arena_defer(j->a, (void (*)(void *))json_decref, e->metadata);
    }
    if (p->disabled >= 0)
        e->status = p->disabled ? "disabled" : "enabled";
    st = save_endpoint(tx, j->merchant_id, e);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, e, j->a);
    return st;
}

typedef struct {
    const char *merchant_id, *id, *idem, *secret;
    int64_t overlap_s;
    arena *a;
    gw_endpoint *out;
    gw_err *err;
} ep_roll_job;

static k_status ep_roll_fn(store_tx *tx, void *arg)
{
    ep_roll_job *j = arg;
    ep_job lj = {
        .merchant_id = j->merchant_id, .id = j->id, .a = j->a, .out = j->out, .err = j->err};
    k_status st = ep_load(tx, &lj);
    if (st != K_OK)
        return st;
    gw_endpoint *e = j->out;
    if (e->url == NULL)
        return gw_err_store(j->err, K_ENOTFOUND, WE, j->id);
    if (j->idem != NULL && e->roll_idem != NULL && strcmp(e->roll_idem, j->idem) == 0) {
        e->replayed = true;
        return K_OK;
    }
    int64_t now = clock_now_s();
    e->old_secret = j->overlap_s > 0 ? e->secret : NULL;
    e->old_secret_until = j->overlap_s > 0 ? now + j->overlap_s : 0;
    e->secret = j->secret;
    e->roll_idem = j->idem;
    return save_endpoint(tx, j->merchant_id, e);
}

k_status gw_endpoint_roll_secret(gw *g, const char *merchant_id, const char *id, int64_t overlap_s,
                                 const char *idem, arena *a, gw_endpoint *out, gw_err *err)
{
    err->why = GW_WHY_NONE;
    if (overlap_s < 0 || overlap_s > 7 * 86400) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "overlap",
                   "The old secret may keep signing for 0 seconds to 7 days.");
        return K_EINVAL;
    }
    if (idem != NULL && (idem[0] == '\0' || strlen(idem) > 2 * LIMIT_ID_MAX)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "idem", "The form's idempotency key is malformed.");
        return K_EINVAL;
    }
    char secret[LIMIT_ID_MAX];
    id_new_n(secret, "whsec_", 32);
    memset(out, 0, sizeof(*out));
    ep_roll_job j = {merchant_id, id, idem, secret, overlap_s, a, out, err};
    k_status st = store_write(g->st, ep_roll_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, WE, id);
    out->secret = out->replayed ? NULL : arena_strdup(a, secret);
    return K_OK;
}

static bool ep_deleted(const gw_endpoint *e)
{
    return e->url == NULL;
}

k_status gw_endpoint_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_endpoint *out,
                         gw_err *err)
{
    doc_read r = {merchant_id, id, WE, a, NULL, 0};
    k_status st = store_read(g->st, doc_read_fn, &r);
    if (st == K_OK)
        st = gw_endpoint_from_json(r.doc, a, out);
    if (st == K_OK && ep_deleted(out))
        st = K_ENOTFOUND;
    if (st == K_OK)
        out->version = r.version;
    return gw_err_store(err, st, WE, id);
}

k_status gw_endpoint_update(gw *g, const char *merchant_id, const char *id,
                            const gw_endpoint_params *p, gw_idem *idem, arena *a, gw_endpoint *out,
                            gw_err *err)
{
    if (validate_endpoint(p, false, err) != K_OK)
        return K_EINVAL;
    k_status st = gw_endpoint_get(g, merchant_id, id, a, out, err);
    if (st != K_OK)
        return st;
    err->why = GW_WHY_NONE;
    ep_job j = {merchant_id, id, p, idem, a, out, err, false};
    st = store_write(g->st, ep_update_fn, &j);
    return st == K_OK || err->why != GW_WHY_NONE ? st : gw_err_store(err, st, WE, id);
}

k_status gw_endpoint_delete(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                            gw_endpoint *out, gw_err *err)
{
    k_status st = gw_endpoint_get(g, merchant_id, id, a, out, err);
    if (st != K_OK)
        return st;
    err->why = GW_WHY_NONE;
    ep_job j = {merchant_id, id, NULL, idem, a, out, err, true};
    st = store_write(g->st, ep_update_fn, &j);
    return st == K_OK || err->why != GW_WHY_NONE ? st : gw_err_store(err, st, WE, id);
}

k_status gw_endpoint_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                          gw_endpoint **out, size_t *n, bool *has_more, gw_err *err)
{
    store_list_q q2 = *q;
    q2.status = NULL;
    json_t **docs;
    size_t total;
    k_status st = gw_list_docs(g, merchant_id, WE, &q2, a, &docs, &total, has_more, err);
    if (st != K_OK)
        return st;
    *out = total ? arena_alloc(a, total * sizeof(gw_endpoint)) : NULL;
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        gw_endpoint e;
        if (gw_endpoint_from_json(docs[i], a, &e) == K_OK && !ep_deleted(&e))
            (*out)[(*n)++] = e;
    }
    return K_OK;
}
