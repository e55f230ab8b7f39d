/*
 * payments.c - payment intent use cases: create, read, update, confirm (start
 * an attempt with the provider), capture, cancel, list, sync, and applying
 * what a provider says to the payment.
 *
 * Each mutation is: validate (nothing written on bad input) -> one store_write
 * closure that re-reads, folds the journal entry through the transition table,
 * writes snapshot + journal + events (+ idempotent answer) -> durable. Calls to
 * a provider sit between two such writes; a reservation written before the
 * call (an attempt in "starting", capture_pending) keeps concurrent requests
 * from doing the same thing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/crashpoint.h"
#include "../base/crypto.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../domain/money.h"

#define PI "payment_intent"

/* ---- small helpers ---- */

/* "requires_payment_method, requires_capture" - the states that allow op. */
static void allowed_states(pay_op op, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int s = 0; s < PS__COUNT && len < cap; s++) {
        if (pay_transition((pay_state)s, op) >= 0)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
                                    pay_state_name((pay_state)s));
    }
}

static k_status unexpected_state(gw_err *err, const gw_payment *p, const char *verb, pay_op op)
{
    char allowed[256];
    allowed_states(op, allowed, sizeof(allowed));
    gw_err_set(err, GW_WHY_WRONG_STATE, NULL,
               "You cannot %s this PaymentIntent because it has a status of %s. Only a "
               "PaymentIntent with one of the following statuses may be %s: %s.",
               verb, pay_state_name(p->m.state), verb, allowed);
    return K_ECONFLICT;
}

static const char *method_provider(gw *g, const char *method)
{
    const rule_method *r = rules_method_find(&g->rules, method);
    return r != NULL ? r->provider : NULL;
}

/* ---- create ---- */

typedef struct {
    gw_payment *p;
    const gw_pi_ready *ready; /* every row made before the write */
} pi_job;

/* The merchant's own id for a payment is unique per merchant: a small index
 * document whose ext_ref is "<merchant>:<external id>". */
static k_status external_claim(store_tx *tx, const gw_payment *p)
{
    if (p->external_id == NULL)
        return K_OK;
    char ref[LIMIT_ID_MAX + LIMIT_EXTERNAL_ID_MAX + 2];
    snprintf(ref, sizeof(ref), "%s:%s", p->merchant_id, p->external_id);
    char body[LIMIT_ID_MAX + 32];
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\"}", p->id);
    store_obj o = {.merchant_id = p->merchant_id,
                   .id = p->id,
                   .kind = "external_id",
                   .parent_id = p->id,
                   .created = p->created,
                   .ext_ref = ref,
                   .body = body};
    return store_obj_put(tx, &o);
}

static k_status pi_create_fn(store_tx *tx, void *arg)
{
    pi_job *j = arg;
    k_status st = external_claim(tx, j->p);
    if (st == K_ECONFLICT)
        return K_EEXIST_EXTERNAL;
    if (st == K_OK)
        st = gw_pi_ready_insert_in_tx(tx, j->p, j->ready);
    return st;
}

/* The create's write and how it ended; in the request's arena. */
struct gw_pi_pending {
    pi_job job;
    gw_pi_ready ready;
    const gw_pi_params *in;
    k_status status; /* the write's, set before done is called */
    void (*done)(void *arg);
    void *done_arg;
};

k_status gw_pi_create_prepare(gw *g, const char *merchant_id, const gw_pi_params *in, gw_idem *idem,
                              arena *a, gw_payment *out, gw_pi_pending **pending, gw_err *err)
{
    *pending = NULL;
    k_status st = gw_pi_prepare(g, merchant_id, in, a, out, err);
    if (st != K_OK)
        return st;
    gw_pi_pending *pd = arena_alloc(a, sizeof(*pd));
    if (pd == NULL)
        return gw_err_store(err, K_ENOMEM, PI, out->id);
    /* Stored form, event and answer are made here, on the caller's thread:
     * the single writer only inserts ready rows. */
    st = gw_pi_ready_make(out, in->amount, idem, a, &pd->ready);
    if (st != K_OK)
        return gw_err_store(err, st, PI, out->id);
    pd->job = (pi_job){out, &pd->ready};
    pd->in = in;
    *pending = pd;
    return K_OK;
}

static void pi_written(void *arg, k_status st)
{
    gw_pi_pending *pd = arg;
    pd->status = st;
    pd->done(pd->done_arg);
}

void gw_pi_create_submit(gw *g, gw_pi_pending *pd, void (*done)(void *arg), void *arg)
{
    K_ASSERT(pd != NULL);
    K_ASSERT(done != NULL);
    K_ASSERT(!pd->in->confirm);
    pd->done = done;
    pd->done_arg = arg;
    k_status st =
        store_write_async(g->st, g->cfg.create_wait_ms, pi_create_fn, &pd->job, pi_written, pd);
    if (st != K_OK)
        pi_written(pd, st); /* not queued: nothing written, answered here */
}

/* What a create's write came to, in the gateway's terms. */
static k_status pi_create_status(gw *g, const gw_payment *p, k_status st, gw_err *err)
{
    if (st == K_EEXIST_EXTERNAL) {
        gw_err_set(err, GW_WHY_ALREADY_EXISTS, "payment_id",
                   "A payment with id '%s' already exists.", p->external_id);
        return K_ECONFLICT;
    }
    if (st != K_OK)
        return gw_err_store(err, st, PI, p->id);
    gw_wake(g);
    return K_OK;
}

k_status gw_pi_create_end(gw *g, gw_pi_pending *pd, gw_err *err)
{
    K_ASSERT(pd != NULL);
    K_ASSERT(pd->done != NULL); /* submitted, and done has run */
    return pi_create_status(g, pd->job.p, pd->status, err);
}

k_status gw_pi_create(gw *g, const char *merchant_id, const gw_pi_params *in, gw_idem *idem,
                      arena *a, gw_payment *out, gw_err *err)
{
    gw_pi_pending *pd = NULL;
    k_status st = gw_pi_create_prepare(g, merchant_id, in, idem, a, out, &pd, err);
    if (st != K_OK)
        return st;
    st = store_write_fresh(g->st, g->cfg.create_wait_ms, pi_create_fn, &pd->job);
    st = pi_create_status(g, out, st, err);
    if (st == K_OK && in->confirm)
        return gw_pi_confirm(g, merchant_id, out->id, in, NULL, a, out, err);
    return st;
}

typedef struct {
    const char *secret;
    arena *a;
    gw_payment *out;
} secret_read;

static k_status secret_read_fn(store_tx *tx, void *arg)
{
    secret_read *r = arg;
    store_obj o;
    k_status st = store_obj_find_ref(tx, PI, r->secret, r->a, &o);
    if (st == K_OK)
        st = gw_load_payment(tx, o.merchant_id, o.id, r->a, r->out);
    return st;
}

/* The client secret is an unguessable capability (hosted pages use it). */
k_status gw_pi_by_secret(gw *g, const char *client_secret, arena *a, gw_payment *out, gw_err *err)
{
    secret_read r = {client_secret, a, out};
    k_status st = client_secret != NULL ? store_read(g->st, secret_read_fn, &r) : K_ENOTFOUND;
    if (st == K_OK && !crypto_streq(out->client_secret, client_secret))
        st = K_ENOTFOUND;
    if (st != K_OK)
        gw_err_set(err, GW_WHY_NOT_FOUND, "client_secret", "No such payment_intent.");
    return st;
}

typedef struct {
    const char *merchant_id;
    const char *ref;
    arena *a;
    gw_payment *out;
} external_read;

static k_status external_read_fn(store_tx *tx, void *arg)
{
    external_read *r = arg;
    store_obj o;
    k_status st = store_obj_find_ref(tx, "external_id", r->ref, r->a, &o);
    if (st == K_OK && strcmp(o.merchant_id, r->merchant_id) != 0)
        st = K_ENOTFOUND;
    return st == K_OK ? gw_load_payment(tx, r->merchant_id, o.parent_id, r->a, r->out) : st;
}

k_status gw_pi_by_external(gw *g, const char *merchant_id, const char *external_id, arena *a,
                           gw_payment *out, gw_err *err)
{
    external_read r = {merchant_id, arena_printf(a, "%s:%s", merchant_id, external_id), a, out};
    return gw_err_store(err, store_read(g->st, external_read_fn, &r), PI, external_id);
}

typedef struct {
    const char *merchant_id;
    int64_t from_ms, to_ms, after;
    size_t max;
    arena *a;
    store_op *ops;
    size_t n;
} ops_job;

static k_status ops_fn(store_tx *tx, void *arg)
{
    ops_job *j = arg;
    return store_op_range(tx, j->merchant_id, j->from_ms, j->to_ms, j->after, j->max, j->a, &j->ops,
                          &j->n);
}

k_status gw_ops_range(gw *g, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                      int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n,
                      gw_err *err)
{
    ops_job j = {merchant_id, from_ms, to_ms, after_seq, max, a, NULL, 0};
    k_status st = store_read(g->st, ops_fn, &j);
    *out = j.ops;
    *n = j.n;
    return gw_err_store(err, st, "operation", NULL);
}

/* ---- update ---- */

/* Choosing a method is a journal entry only where the table moves the payment
 * on with it (requires_payment_method -> requires_confirmation). */
static bool attach_moves(const gw_payment *p)
{
    int next = pay_transition(p->m.state, OP_ATTACH);
    return next >= 0 && next != (int)p->m.state;
}

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    const gw_pi_params *in;
    gw_idem *idem;
    arena *a;
    gw_payment *out;
    gw_err *err;
} pi_update_job;

static k_status pi_update_fn(store_tx *tx, void *arg)
{
    pi_update_job *j = arg;
    gw_payment *p = j->out;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return gw_err_store(j->err, st, PI, j->id);
    bool money = j->in->has_amount || j->in->has_currency || j->in->method_types != NULL ||
                 j->in->capture_manual >= 0 || j->in->method_type != NULL;
    if (money && pay_transition(p->m.state, OP_UPDATE) < 0)
        return unexpected_state(j->err, p, "update", OP_UPDATE);
    if (j->in->has_currency)
        currency_lower(j->in->currency, p->currency);
    if (j->in->method_types != NULL)
        p->method_types = gw_keep(j->a, j->in->method_types);
    if (j->in->capture_manual >= 0)
        p->manual_capture = j->in->capture_manual == 1;
    int64_t amount = j->in->has_amount ? j->in->amount : p->m.amount;
    json_t *settings = NULL;
    if (money) {
        st = gw_settings_load_tx(tx, j->merchant_id, j->a, &settings);
        if (st != K_OK)
            return gw_err_store(j->err, st, PI, j->id);
    }
    if (money && gw_check_types(j->g, settings, p->method_types, p->currency, amount,
                                p->manual_capture, j->err) != K_OK)
        return K_EINVAL;
    if (j->in->has_amount && j->in->amount != p->m.amount) {
        gw_act act = {.op = OP_UPDATE, .amount = j->in->amount};
        st = gw_act_apply(tx, p, &act);
        if (st == K_EREFUSED)
            return unexpected_state(j->err, p, "update", OP_UPDATE);
        if (st != K_OK)
            return st;
    }
    if (j->in->description != NULL)
        p->description = j->in->description[0] ? j->in->description : NULL;
    if (j->in->metadata != NULL) {
        p->metadata = gw_metadata_apply(p->metadata, j->in->metadata);
        arena_defer(j->a, (void (*)(void *))json_decref, p->metadata);
    }
    if (j->in->lines != NULL)
        p->lines = gw_keep(j->a, j->in->lines);
    gw_apply_billing(p, j->in, j->a);
    if (j->in->method_type != NULL && attach_moves(p)) {
        gw_act act = {.op = OP_ATTACH};
        st = gw_act_apply(tx, p, &act);
        K_ASSERT(st != K_EREFUSED); /* attach_moves looked it up in the table */
        if (st != K_OK)
            return st;
    }
    st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

k_status gw_pi_update(gw *g, const char *merchant_id, const char *id, const gw_pi_params *p,
                      gw_idem *idem, arena *a, gw_payment *out, gw_err *err)
{
    if (p->has_amount && gw_check_amount(p->amount, err) != K_OK)
        return K_EINVAL;
    if (p->has_currency && currency_find(p->currency) == NULL) {
        gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "currency", "Invalid currency: %s.", p->currency);
        return K_EINVAL;
    }
    err->why = GW_WHY_NONE;
    pi_update_job j = {g, merchant_id, id, p, idem, a, out, err};
    k_status st = store_write(g->st, pi_update_fn, &j);
    if (st != K_OK && err->why == GW_WHY_NONE)
        gw_err_store(err, st, PI, id);
    return st;
}

/* ---- applying what a provider said ---- */

/* A provider's news the table refuses (it came too late for the payment's
 * state) is a conflict: the write is rolled back and nothing changes. */
static k_status apply_op(store_tx *tx, gw_payment *p, const gw_act *act)
{
    k_status st = gw_act_apply(tx, p, act);
    return st == K_EREFUSED ? K_ECONFLICT : st;
}

static bool attempt_final(const gw_attempt *t)
{
    return strcmp(t->status, "succeeded") == 0 || strcmp(t->status, "failed") == 0 ||
           strcmp(t->status, "canceled") == 0;
}

static const char *fail_message(const char *code)
{
    if (code == NULL)
        return "The payment failed.";
    if (strcmp(code, "payment_method_customer_decline") == 0)
        return "The customer declined or canceled the payment.";
    if (strcmp(code, "payment_method_provider_decline") == 0)
        return "The payment was declined by the provider.";
    if (strcmp(code, "payment_intent_payment_attempt_expired") == 0)
        return "The customer did not complete the payment in time; the attempt expired.";
    if (strcmp(code, "payment_method_not_available") == 0)
        return "The payment method is not available right now (technical failure).";
    return "The payment failed.";
}

static k_status apply_success(store_tx *tx, gw *g, gw_payment *p, gw_attempt *t,
                              const prov_result *r, arena *a)
{
    bool sale = r->outcome == PR_CAPTURED;
    int64_t amount = p->m.amount;
    gw_act act = {.op = sale ? OP_SALE : OP_AUTHORIZE,
                  .amount = amount,
                  .provider_ref = r->order_ref,
                  .ref_id = t->id};
    k_status st = apply_op(tx, p, &act);
    if (st != K_OK)
        return st;
    t->status = "succeeded";
    p->next_action_url = NULL;
    p->qr_text = NULL;
    p->attempt_expires_at = 0;
    p->last_error_code = p->last_error_message = p->last_error_type = NULL;
    if (r->order_ref != NULL)
        p->order_ref = t->order_ref = arena_strdup(a, r->order_ref);
    if (r->method_detail != NULL)
        p->method_detail = arena_strdup(a, r->method_detail);
    if (!sale) {
        const rule_method *rm = rules_method_find(&g->rules, t->method);
        json_t *settings;
        st = gw_settings_load_tx(tx, p->merchant_id, a, &settings);
        if (st != K_OK)
            return st;
        int64_t ttl = gw_auth_ttl(settings, rm);
        p->auth_created_at = clock_now_s();
        p->auth_expires_at = r->expires_at > 0 ? r->expires_at : p->auth_created_at + ttl;
        /* The merchant's own period, when shorter than the provider's answer: Kassa
         * treats the authorisation as over then (a longer one is the provider's to
         * grant, by agreement with the merchant: its expires_at holds). */
        if (gw_auth_ttl_set(settings) && p->auth_created_at + ttl < p->auth_expires_at)
            p->auth_expires_at = p->auth_created_at + ttl;
    }
    st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_emit_payment(
            tx, p, sale ? "payment_intent.succeeded" : "payment_intent.amount_capturable_updated");
    if (st == K_OK && p->checkout_session != NULL)
        st = gw_session_paid_in_tx(tx, p, a);
    return st;
}

static k_status apply_failure(store_tx *tx, gw_payment *p, gw_attempt *t, const prov_result *r,
                              arena *a)
{
    const char *code =
        r->failure_code != NULL ? r->failure_code : "payment_method_provider_decline";
    const char *msg = r->failure_message != NULL ? r->failure_message : fail_message(code);
    gw_act act = {.op = OP_FAIL,
                  .code = code,
                  .message = msg,
                  .provider_ref = r->provider_code,
                  .ref_id = t->id};
    k_status st = apply_op(tx, p, &act);
    if (st != K_OK)
        return st;
    t->status = "failed";
    t->failure_code = code;
    p->next_action_url = NULL;
    p->qr_text = NULL;
    p->attempt_expires_at = 0;
    p->last_error_code = arena_strdup(a, code);
    p->last_error_message = arena_strdup(a, msg);
    p->last_error_type = "card_error";
    st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_emit_payment(tx, p, "payment_intent.payment_failed");
    return st;
}

k_status gw_apply_result(store_tx *tx, gw *g, gw_payment *p, gw_attempt *t, const prov_result *r,
                         arena *a)
{
    if (attempt_final(t) || p->latest_attempt == NULL || strcmp(p->latest_attempt, t->id) != 0)
        return K_OK; /* late or duplicate news about an attempt already settled */
    if (r->provider_ref != NULL)
        t->provider_ref = arena_strdup(a, r->provider_ref);
    if (r->order_ref != NULL)
        t->order_ref = arena_strdup(a, r->order_ref);
    k_status st = K_OK;
    switch (r->outcome) {
    case PR_ACTION:
        if (p->m.state == PS_REQUIRES_ACTION)
            break;
        st = apply_op(tx, p,
                      &(gw_act){.op = OP_ACTION, .provider_ref = r->provider_ref, .ref_id = t->id});
        if (st != K_OK)
            return st;
        t->status = "action";
        p->qr_text = r->qr_text != NULL ? arena_strdup(a, r->qr_text) : NULL;
        /* A code to scan is shown on Kassa's own page (QR on a computer, the
         * wallet list on a phone); a redirect goes straight to the provider. */
        p->next_action_url = p->qr_text != NULL && g != NULL
                                 ? arena_printf(a, "%s/pay/qr/%s", g->public_url, t->id)
                             : r->redirect_url != NULL ? arena_strdup(a, r->redirect_url)
                                                       : NULL;
        p->provider_ref = t->provider_ref;
        p->attempt_expires_at = t->expires_at;
        st = gw_save_payment(tx, p);
        if (st == K_OK)
            st = gw_emit_payment(tx, p, "payment_intent.requires_action");
        break;
    case PR_PROCESSING:
        if (p->m.state == PS_PROCESSING)
            break;
        st = apply_op(tx, p,
                      &(gw_act){.op = OP_PROCESS, .provider_ref = r->order_ref, .ref_id = t->id});
        if (st != K_OK)
            return st;
        t->status = "processing";
        if (r->order_ref != NULL)
            p->order_ref = t->order_ref;
        st = gw_save_payment(tx, p);
        if (st == K_OK)
            st = gw_emit_payment(tx, p, "payment_intent.processing");
        break;
    case PR_AUTHORIZED:
    case PR_CAPTURED:
        st = apply_success(tx, g, p, t, r, a);
        break;
    case PR_FAILED:
    case PR_CANCELED:
        st = apply_failure(tx, p, t, r, a);
        break;
    case PR_UNKNOWN:
        return K_OK;
    }
    if (st == K_OK)
        st = gw_save_attempt(tx, t);
    return st;
}

/* ---- confirm ---- */

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    const gw_pi_params *in;
    const char *method;
    const char *provider;
    int64_t attempt_ttl_s;
    gw_idem *idem;
    arena *a;
    gw_payment *p;
    gw_attempt *t;
    const prov_result *res;
    gw_err *err;
} confirm_job;

static k_status confirm_begin_fn(store_tx *tx, void *arg)
{
    confirm_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return gw_err_store(j->err, st, PI, j->id);
    if (pay_transition(p->m.state, OP_ACTION) < 0)
        return unexpected_state(j->err, p, "confirm", OP_ACTION);
    if (p->latest_attempt != NULL) {
        gw_attempt prev;
        if (gw_load_attempt(tx, p->latest_attempt, j->a, &prev) == K_OK &&
            strcmp(prev.status, "starting") == 0 &&
            clock_now_s() - prev.created < LIMIT_PROVIDER_TIMEOUT_MS / 1000 * 4) {
            gw_err_set(j->err, GW_WHY_IN_PROGRESS, NULL,
                       "A confirmation of this PaymentIntent is already in progress.");
            return K_ECONFLICT;
        }
    }
    gw_apply_billing(p, j->in, j->a);
    p->method_type = j->method;
    if (attach_moves(p)) {
        st = apply_op(tx, p, &(gw_act){.op = OP_ATTACH});
        if (st != K_OK)
            return st;
    }
    gw_attempt *t = j->t;
    memset(t, 0, sizeof(*t));
    id_new(t->id, "att_");
    char token[LIMIT_ID_MAX];
    id_secret(token, "");
    t->merchant_id = j->merchant_id;
    t->payment_id = p->id;
    t->provider = j->provider;
    t->method = j->method;
    t->status = "starting";
    t->token = arena_strdup(j->a, token);
    t->created = clock_now_s();
    t->expires_at = t->created + j->attempt_ttl_s;
    p->latest_attempt = t->id;
    st = gw_save_attempt(tx, t);
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    return st;
}

static k_status confirm_end_fn(store_tx *tx, void *arg)
{
    confirm_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st == K_OK)
        st = gw_load_attempt(tx, j->t->id, j->a, j->t);
    if (st != K_OK)
        return st;
    st = gw_apply_result(tx, j->g, p, j->t, j->res, j->a);
    if (st == K_OK && j->res->outcome == PR_UNKNOWN) {
        /* The provider did not answer: the attempt stays "starting"; the janitor
         * asks again. */
        j->t->status = "starting";
    }
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

static void start_params(gw *g, const gw_payment *p, const gw_attempt *t, const char *terminal,
                         arena *a, prov_start *s)
{
    memset(s, 0, sizeof(*s));
    char cur[4];
    currency_upper(p->currency, cur);
    s->payment_id = p->id;
    s->attempt_id = t->id;
    s->method = t->method;
    s->currency = arena_strdup(a, cur);
    s->amount = p->m.amount;
    s->country = p->country;
    s->locale = p->locale;
    s->email = p->email;
    s->given_name = p->name;
    s->description = p->description;
    s->manual_capture = p->manual_capture;
    s->terminal = terminal != NULL ? terminal : "WEB";
    s->success_url = arena_printf(a, "%s/pay/return/%s?result=success", g->public_url, t->id);
    s->cancel_url = arena_printf(a, "%s/pay/return/%s?result=cancel", g->public_url, t->id);
    s->failure_url = arena_printf(a, "%s/pay/return/%s?result=failure", g->public_url, t->id);
    s->notify_url = arena_printf(a, "%s/providers/%s/notify/%s?token=%s", g->public_url,
                                 t->provider, t->id, t->token);
    s->expires_at = t->expires_at;
    prov_line *lines;
    size_t n;
    gw_prov_lines(p->lines, a, &lines, &n);
    s->lines = lines;
    s->nlines = n;
}

static k_status confirm_checks(gw *g, const gw_payment *p, const gw_pi_params *in,
                               const char **method, gw_err *err)
{
    const char *m = in->method_type != NULL ? in->method_type : p->method_type;
    if (m == NULL && json_array_size(p->method_types) == 1)
        m = json_string_value(json_array_get(p->method_types, 0));
    if (m == NULL) {
        gw_err_set(err, GW_WHY_WRONG_STATE, "payment_method_data",
                   "You cannot confirm this PaymentIntent because it's missing a payment "
                   "method. Provide payment_method_data[type].");
        return K_EINVAL;
    }
    bool allowed = false;
    size_t i;
    json_t *v;
    json_array_foreach(p->method_types, i, v)
    {
        const char *t = json_string_value(v);
        allowed |= t != NULL && strcmp(t, m) == 0;
    }
    if (!allowed) {
        gw_err_set(err, GW_WHY_METHOD_INVALID, "payment_method_data[type]",
                   "The payment method type provided: %s is invalid. This PaymentIntent accepts "
                   "the types in its payment_method_types.",
                   m);
        return K_EINVAL;
    }
    const char *ret = in->return_url != NULL ? in->return_url : p->return_url;
    if (ret == NULL && p->checkout_session == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "return_url",
                   "A return_url must be provided: %s redirects the customer.", m);
        return K_EINVAL;
    }
    const char *country = in->country != NULL ? in->country : p->country;
    const char *email = in->email != NULL ? in->email : p->email;
    const char *pname = method_provider(g, m);
    if (pname != NULL && strcmp(pname, "klarna") == 0) {
        if (country == NULL || country[0] == '\0') {
            gw_err_set(err, GW_WHY_PARAM_MISSING,
                       "payment_method_data[billing_details][address][country]",
                       "Klarna needs the customer's country: "
                       "payment_method_data[billing_details][address][country].");
            return K_EINVAL;
        }
        if (email == NULL || email[0] == '\0') {
            gw_err_set(err, GW_WHY_PARAM_MISSING, "payment_method_data[billing_details][email]",
                       "Klarna needs the customer's e-mail: "
                       "payment_method_data[billing_details][email].");
            return K_EINVAL;
        }
    }
    char cur[4], ctry[3] = {0};
    currency_upper(p->currency, cur);
    for (int k = 0; country != NULL && k < 2 && country[k]; k++)
        ctry[k] = (char)(country[k] >= 'a' && country[k] <= 'z' ? country[k] - 32 : country[k]);
    rule_refusal why;
    rule_param rp = rules_check(&g->rules, m, cur, ctry, p->m.amount, &why);
    if (rp != RULE_OK)
        return gw_rule_refusal(err, rp, &why,
                               "payment_method_data[billing_details][address][country]");
    arena a;
    arena_init(&a, 0);
    json_t *settings = gw_settings_load(g, p->merchant_id, &a);
    bool hidden = settings == NULL || gw_method_hidden(g, settings, m, cur, ctry);
    arena_release(&a);
    if (settings == NULL) { /* fail closed: a hidden method is never let through */
        gw_err_set(err, GW_WHY_STORAGE, NULL, "The merchant's settings could not be read.");
        return K_EIO;
    }
    if (hidden) {
        const rule_method *rm = rules_method_find(&g->rules, m);
        gw_err_set(err, GW_WHY_METHOD_UNAVAILABLE,
                   in->method_type != NULL ? "payment_method_data[type]" : "payment_method_types",
                   "The payment method type \"%s\" is not available: %s is not offered for "
                   "payments in %s from %s.",
                   m, rm->label, cur, ctry[0] != '\0' ? ctry : "this country");
        return K_EINVAL;
    }
    *method = m;
    return K_OK;
}

static void result_error(const gw_payment *p, gw_err *err)
{
    gw_err_set(err, GW_WHY_DECLINED, NULL, "%s",
               p->last_error_message != NULL ? p->last_error_message : "The payment failed.");
    err->decline = p->last_error_code;
}

k_status gw_pi_confirm(gw *g, const char *merchant_id, const char *id, const gw_pi_params *in,
                       gw_idem *idem, arena *a, gw_payment *out, gw_err *err)
{
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK)
        return st;
    if (pay_transition(out->m.state, OP_ACTION) < 0)
        return unexpected_state(err, out, "confirm", OP_ACTION);
    const char *method = NULL;
    if (confirm_checks(g, out, in, &method, err) != K_OK)
        return K_EINVAL;
    const rule_method *rule = rules_method_find(&g->rules, method);
    const provider *prov = provider_find(rule->provider);
    if (gw_budget_take(g, merchant_id, rule->provider, err) != K_OK)
        return K_EBUSY;
    prov_account acct;
    if (prov == NULL || !gw_account(g, merchant_id, rule->provider, a, &acct)) {
        gw_err_set(err, GW_WHY_METHOD_UNAVAILABLE, "payment_method_data[type]",
                   "The payment method %s is not available: no %s account is configured for "
                   "this merchant.",
                   method, rule->provider);
        return K_EINVAL;
    }
    gw_attempt t;
    err->why = GW_WHY_NONE;
    confirm_job j = {.g = g,
                     .merchant_id = merchant_id,
                     .id = id,
                     .in = in,
                     .method = method,
                     .provider = rule->provider,
                     .attempt_ttl_s = gw_attempt_ttl(g, gw_settings_load(g, merchant_id, a), rule),
                     .idem = idem,
                     .a = a,
                     .p = out,
                     .t = &t,
                     .err = err};
    st = store_write(g->st, confirm_begin_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, PI, id);
    crash_point("confirm.begun");

    prov_start ps;
    start_params(g, out, &t, in->terminal, a, &ps);
    prov_result res;
    memset(&res, 0, sizeof(res));
    k_status pst = prov->start(&acct, &ps, a, &res);
    if (pst != K_OK && res.outcome != PR_FAILED) {
        res.outcome = res.retryable || pst == K_ETIMEOUT ? PR_UNKNOWN : PR_FAILED;
        if (res.outcome == PR_FAILED) {
            res.failure_code = "payment_method_not_available";
            res.failure_message = "The provider could not start the payment.";
        }
    }
    if (res.outcome == PR_UNKNOWN) {
        /* Never started, as far as we know: fail the attempt as unavailable. A
         * provider session that was created after all expires on its own. */
        res.outcome = PR_FAILED;
        res.failure_code = "payment_method_not_available";
        res.failure_message = "The provider did not answer; try again.";
    }
    j.res = &res;
    crash_point("confirm.answered");
    st = store_write(g->st, confirm_end_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, PI, id);
    gw_wake(g);
    if (out->m.state == PS_REQUIRES_PAYMENT_METHOD && out->last_error_code != NULL) {
        result_error(out, err);
        return K_ERR;
    }
    return K_OK;
}

/* ---- reconcile with the provider's portal ----
 * Part of sync: once the attempt is settled, the order itself may change at
 * the provider (a merchant portal): amount, cancellation, expiry. */

typedef struct {
    const char *merchant_id;
    const char *id;
    arena *a;
    gw_payment *p;
    const prov_result *res;
} reconcile_job;

static k_status reconcile_fn(store_tx *tx, void *arg)
{
    reconcile_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return st;
    if (pay_transition(p->m.state, OP_ADJUST) < 0 || p->capture_pending > 0) {
        /* Only an authorised order changes at the provider. A note to read it
         * back (an order action's answer lost) is done with, or, while a
         * capture is being answered, comes again after it. */
        if (p->reconcile_at == 0)
            return K_OK;
        p->reconcile_at = p->capture_pending > 0 ? clock_now_s() + 60 : 0;
        return gw_save_payment(tx, p);
    }
    p->reconcile_at = 0;
    const prov_result *r = j->res;
    const char *type = NULL;
    if (r->outcome == PR_CANCELED) {
        bool expired = r->provider_code != NULL && strcmp(r->provider_code, "EXPIRED") == 0;
        gw_act act = {.op = expired ? OP_EXPIRE : OP_CANCEL,
                      .code = r->provider_code,
                      .message = "changed at the provider (status sync)",
                      .provider_ref = p->order_ref};
        st = gw_act_apply(tx, p, &act);
        K_ASSERT(st != K_EREFUSED); /* requires_capture was looked up above */
        if (p->m.state == PS_CANCELED) {
            p->canceled_at = clock_now_s();
            p->cancellation_reason = expired ? "automatic" : "requested_by_customer";
        }
        type = p->m.state == PS_CANCELED ? "payment_intent.canceled" : "payment_intent.succeeded";
    } else if (r->outcome == PR_AUTHORIZED && r->amount > 0 && r->amount != p->m.authorized) {
        gw_act act = {.op = OP_ADJUST,
                      .amount = r->amount,
                      .message = "order amount changed at the provider (status sync)",
                      .provider_ref = p->order_ref};
        st = gw_act_apply(tx, p, &act);
        if (st == K_EREFUSED)
            return K_OK; /* below what we captured: leave it for a person to look at */
        type = p->m.state == PS_SUCCEEDED ? "payment_intent.succeeded"
                                          : "payment_intent.amount_capturable_updated";
    }
    if (r->expires_at > 0 && r->expires_at != p->auth_expires_at &&
        p->m.state == PS_REQUIRES_CAPTURE)
        p->auth_expires_at = r->expires_at;
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK && type != NULL)
        st = gw_emit_payment(tx, p, type);
    return st;
}

static k_status pi_reconcile(gw *g, gw_payment *p, arena *a, gw_err *err)
{
    if (pay_transition(p->m.state, OP_ADJUST) < 0 && p->reconcile_at == 0)
        return K_OK; /* only an authorised order changes at the provider */
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (gw_target(g, p, a, &prov, &acct, &ref, err) != K_OK || prov->sync == NULL)
        return K_OK;
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->sync(&acct, &ref, a, &res) != K_OK || res.outcome == PR_UNKNOWN)
        return K_OK; /* the provider did not answer: nothing learned */
    char merchant[LIMIT_ID_MAX], id[LIMIT_ID_MAX];
    snprintf(merchant, sizeof(merchant), "%s", p->merchant_id);
    snprintf(id, sizeof(id), "%s", p->id);
    reconcile_job j = {.merchant_id = merchant, .id = id, .a = a, .p = p, .res = &res};
    k_status st = store_write(g->st, reconcile_fn, &j);
    gw_wake(g);
    return gw_err_store(err, st, PI, id);
}

/* ---- sync: ask the provider about the latest attempt ---- */

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *payment_id;
    const char *attempt_id;
    const prov_result *res;
    arena *a;
    gw_payment *p;
} sync_job;

static k_status sync_apply_fn(store_tx *tx, void *arg)
{
    sync_job *j = arg;
    gw_attempt t;
    k_status st = gw_load_payment(tx, j->merchant_id, j->payment_id, j->a, j->p);
    if (st == K_OK)
        st = gw_load_attempt(tx, j->attempt_id, j->a, &t);
    if (st == K_OK)
        st = gw_apply_result(tx, j->g, j->p, &t, j->res, j->a);
    return st;
}

/* Reads attempt t back from its provider and applies the answer. *said (when
 * not NULL) tells whether the provider said what became of it: an answer that
 * is not PR_UNKNOWN, applied. */
static k_status sync_attempt(gw *g, gw_payment *p, const gw_attempt *t, arena *a, bool *said)
{
    if (said != NULL)
        *said = false;
    const provider *prov = provider_find(t->provider);
    prov_account acct;
    if (prov == NULL || prov->sync == NULL || !gw_account(g, p->merchant_id, t->provider, a, &acct))
        return K_ENOTFOUND;
    char cur[4];
    currency_upper(p->currency, cur);
    prov_ref ref = {.attempt_id = t->id,
                    .provider_ref = t->provider_ref,
                    .order_ref = t->order_ref,
                    .currency = cur,
                    .country = p->country,
                    .locale = p->locale,
                    .manual_capture = p->manual_capture,
                    .amount = p->m.amount,
                    .idem_key = t->id};
    prov_line *lines;
    size_t n;
    gw_prov_lines(p->lines, a, &lines, &n);
    ref.lines = lines;
    ref.nlines = n;
    prov_result res;
    memset(&res, 0, sizeof(res));
    k_status st = prov->sync(&acct, &ref, a, &res);
    if (st != K_OK)
        return st;
    sync_job j = {g, p->merchant_id, p->id, t->id, &res, a, p};
    st = store_write(g->st, sync_apply_fn, &j);
    gw_wake(g);
    if (said != NULL)
        *said = st == K_OK && res.outcome != PR_UNKNOWN;
    return st;
}

typedef struct {
    const char *attempt_id;
    arena *a;
    gw_attempt *t;
    gw_payment *p;
} attempt_read;

static k_status attempt_read_fn(store_tx *tx, void *arg)
{
    attempt_read *r = arg;
    k_status st = gw_load_attempt(tx, r->attempt_id, r->a, r->t);
    if (st == K_OK && r->p != NULL)
        st = gw_load_payment(tx, r->t->merchant_id, r->t->payment_id, r->a, r->p);
    return st;
}

k_status gw_pi_sync(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                    gw_err *err)
{
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK || out->latest_attempt == NULL)
        return st;
    gw_attempt t;
    attempt_read r = {out->latest_attempt, a, &t, NULL};
    if (store_read(g->st, attempt_read_fn, &r) != K_OK)
        return K_OK;
    if (!attempt_final(&t) && sync_attempt(g, out, &t, a, NULL) == K_OK)
        return gw_pi_get(g, merchant_id, id, a, out, err);
    if (attempt_final(&t) && out->order_ref != NULL)
        return pi_reconcile(g, out, a, err);
    return K_OK;
}

k_status gw_attempt_read_back(gw *g, const char *merchant_id, const char *id, arena *a)
{
    K_ASSERT(g != NULL);
    K_ASSERT(id != NULL);
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_get(g, merchant_id, id, a, &p, &err);
    if (st != K_OK || p.latest_attempt == NULL)
        return st;
    gw_attempt t;
    attempt_read r = {p.latest_attempt, a, &t, NULL};
    st = store_read(g->st, attempt_read_fn, &r);
    if (st != K_OK || attempt_final(&t))
        return st;
    bool said = false;
    st = sync_attempt(g, &p, &t, a, &said);
    if (st == K_ENOTFOUND)
        return K_OK;                                   /* no connector or account: nobody to ask */
    return st != K_OK ? st : said ? K_OK : K_ETIMEOUT; /* it did not say */
}

/* Used by the janitor and by returns/notices: sync one attempt by id. */
k_status gw_sync_attempt_id(gw *g, const char *attempt_id, arena *a, gw_payment *p, gw_attempt *t)
{
    attempt_read r = {attempt_id, a, t, p};
    k_status st = store_read(g->st, attempt_read_fn, &r);
    if (st != K_OK)
        return st;
    if (attempt_final(t) || strcmp(t->status, "starting") == 0)
        return K_OK; /* nothing asked of the provider: what was read stands */
    sync_attempt(g, p, t, a, NULL);
    return store_read(g->st, attempt_read_fn, &r);
}

/* ---- the hosted page: the customer picked a method ---- */

typedef struct {
    const char *id;
    arena *a;
    gw_session *out;
} session_read;

static k_status session_read_fn(store_tx *tx, void *arg)
{
    session_read *r = arg;
    return gw_load_session(tx, NULL, r->id, r->a, r->out);
}

/* The session behind the hosted page (its cs_ id is the capability). */
static k_status session_open(gw *g, const char *id, arena *a, gw_session *s, char *merchant_id,
                             gw_err *err)
{
    session_read r = {id, a, s};
    k_status st = store_read(g->st, session_read_fn, &r);
    if (st == K_OK)
        snprintf(merchant_id, LIMIT_ID_MAX, "%s", s->merchant_id);
    return gw_err_store(err, st, "checkout.session", id);
}

k_status gw_session_pay(gw *g, const char *id, const char *method_type, const char *email,
                        const char *country, const char *locale, const char *terminal, arena *a,
                        const char **redirect, gw_err *err)
{
    gw_session s;
    char merchant[LIMIT_ID_MAX];
    k_status st = session_open(g, id, a, &s, merchant, err);
    if (st != K_OK)
        return st;
    if (strcmp(s.status, "open") != 0 || s.expires_at <= clock_now_s()) {
        gw_err_set(err, GW_WHY_SESSION_CLOSED, NULL, "This payment page is no longer open (%s).",
                   s.status);
        return K_ECONFLICT;
    }
    gw_pi_params pp = {.capture_manual = -1,
                       .method_type = method_type,
                       .email = email,
                       .country = country,
                       .locale = locale,
                       .terminal = terminal,
                       .return_url = arena_printf(a, "%s/c/done/%s", g->public_url, s.id)};
    gw_payment p;
    st = gw_pi_confirm(g, merchant, s.payment_id, &pp, NULL, a, &p, err);
    if (st != K_OK)
        return st;
    *redirect = p.next_action_url != NULL ? p.next_action_url
                                          : arena_printf(a, "%s/c/done/%s", g->public_url, s.id);
    return K_OK;
}

/* ---- return from the provider, provider callbacks ---- */

size_t gw_wallets(const char *currency, gw_wallet *out, size_t cap)
{
    char cur[4];
    currency_upper(currency, cur);
    const provider *pv = provider_find("alipay");
    if (pv == NULL || pv->wallets == NULL)
        return 0;
    const prov_wallet *w[LIMIT_WALLETS_MAX];
    size_t n = pv->wallets(cur, w, cap < LIMIT_WALLETS_MAX ? cap : LIMIT_WALLETS_MAX);
    for (size_t i = 0; i < n; i++)
        out[i] = (gw_wallet){w[i]->code, w[i]->name};
    return n;
}

k_status gw_attempt_payment(gw *g, const char *attempt_id, bool sync, arena *a, gw_payment *out,
                            gw_err *err)
{
    gw_attempt t;
    attempt_read r = {attempt_id, a, &t, out};
    k_status st = sync ? gw_sync_attempt_id(g, attempt_id, a, out, &t)
                       : store_read(g->st, attempt_read_fn, &r);
    return gw_err_store(err, st, "payment attempt", attempt_id);
}

k_status gw_attempt_return(gw *g, const char *attempt_id, const char *result, arena *a,
                           const char **redirect, gw_err *err)
{
    gw_payment p;
    gw_attempt t;
    k_status st = gw_sync_attempt_id(g, attempt_id, a, &p, &t);
    if (st != K_OK)
        return gw_err_store(err, st, "payment attempt", attempt_id);
    (void)result; /* the provider's word is what counts, not the browser's */
    if (p.checkout_session != NULL) {
        *redirect = arena_printf(a, "%s/c/done/%s", g->public_url, p.checkout_session);
        return K_OK;
    }
    const char *status = p.m.state == PS_SUCCEEDED || p.m.state == PS_REQUIRES_CAPTURE ? "succeeded"
                         : p.m.state == PS_PROCESSING || p.m.state == PS_REQUIRES_ACTION
                             ? "processing"
                             : "failed";
    const char *ret = p.return_url != NULL ? p.return_url : g->public_url;
    *redirect = arena_printf(a,
                             "%s%cpayment_intent=%s&payment_intent_client_secret=%s"
                             "&redirect_status=%s",
                             ret, strchr(ret, '?') ? '&' : '?', p.id, p.client_secret, status);
    return K_OK;
}

k_status gw_provider_notice(gw *g, const char *provider_name, const char *attempt_id,
                            const char *token, const prov_inbound *inbound, arena *a,
                            int *ack_status, const char **ack_body, gw_err *err)
{
    *ack_status = 200;
    *ack_body = "{}";
    gw_payment p;
    gw_attempt t;
    attempt_read r = {attempt_id, a, &t, &p};
    k_status st = store_read(g->st, attempt_read_fn, &r);
    if (st != K_OK || token == NULL || !crypto_streq(t.token, token) ||
        strcmp(t.provider, provider_name) != 0) {
        gw_err_set(err, GW_WHY_NOT_FOUND, NULL, "No such payment attempt.");
        *ack_status = 404;
        return K_ENOTFOUND;
    }
    const provider *prov = provider_find(provider_name);
    prov_account acct;
    if (prov != NULL && prov->notice != NULL &&
        gw_account(g, t.merchant_id, provider_name, a, &acct)) {
        prov_notice n;
        memset(&n, 0, sizeof(n));
        st = prov->notice(&acct, inbound, a, &n);
        if (st != K_OK) {
            *ack_status = n.ack_status ? n.ack_status : 400;
            *ack_body = n.ack_body ? n.ack_body : "{}";
            gw_err_set(err, GW_WHY_CALLBACK_REFUSED, NULL, "Callback refused.");
            return st;
        }
        if (n.ack_status)
            *ack_status = n.ack_status;
        if (n.ack_body)
            *ack_body = n.ack_body;
    }
    crash_point("notice.received");
    /* Whatever the callback says, read the truth back from the provider. */
    if (!attempt_final(&t))
        sync_attempt(g, &p, &t, a, NULL);
    crash_point("notice.applied");
    return K_OK;
}

/* ---- capture ----
 *
 * A capture is begun in one write (the amount reserved in capture_pending and
 * the capture recorded in captures_open with the provider's idempotency key,
 * the request's key claimed for it), sent to the provider, and settled in a
 * second write. When Kassa dies in between, the scheduler asks the provider
 * again with the same key once the capture's retry_at passes, and a retry of
 * the request carries the same capture on (gw_idem.resume_id): a capture is
 * never lost with the provider holding it, nor sent as a second one. */

/* A begun capture is asked about after this when its request never came back. */
#define CAPTURE_BEGUN_RETRY_S LIMIT_IDEMPOTENCY_LEASE_S

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    int64_t amount;
    bool final;
    json_t *lines;
    gw_idem *idem;
    arena *a;
    gw_payment *p;
    gw_err *err;
    char opid[LIMIT_ID_MAX]; /* cap_...: the open capture */
    const char *prov_key;    /* the provider's idempotency key */
    bool ok;
    bool unknown;
    const char *op_ref;
    const char *failure;
} capture_job;

static bool line_is_shipping(json_t *l)
{
    const char *t = json_string_value(json_object_get(l, "type"));
    return t != NULL && strcmp(t, "shipping_fee") == 0;
}

/* Captured lines: which items shipped. The first capture carries the whole
 * shipping fee of the order (added when the caller left it out); without an
 * explicit amount_to_capture the lines' total is captured. */
static k_status capture_lines(capture_job *j, const gw_payment *p)
{
    json_t *lines = json_deep_copy(j->lines);
    arena_defer(j->a, (void (*)(void *))json_decref, lines);
    bool first = p->m.captured == 0 && p->capture_pending == 0;
    bool has_ship = false;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) has_ship |= line_is_shipping(l);
    if (first && !has_ship) {
        json_array_foreach(p->lines, i, l) if (line_is_shipping(l)) json_array_append(lines, l);
    }
    int64_t total = 0;
    json_array_foreach(lines, i, l)
    {
        if (!money_add(total, gw_jint(l, "total_amount"), &total)) {
            gw_err_set(j->err, GW_WHY_AMOUNT_TOO_LARGE, "order_lines",
                       "The captured lines add up to more than Kassa can hold.");
            return K_EINVAL;
        }
    }
    if (j->amount == 0)
        j->amount = total;
    j->lines = lines;
    return K_OK;
}

/* The open capture `opid` of p, or NULL (settled meanwhile); *at = its index. */
static json_t *capture_open_find(const gw_payment *p, const char *opid, size_t *at)
{
    size_t i;
    json_t *c;
    json_array_foreach(p->captures_open, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (id != NULL && strcmp(id, opid) == 0) {
            *at = i;
            return c;
        }
    }
    return NULL;
}

/* Fills the job from a recorded open capture (a retry or the scheduler). */
static void capture_job_from(capture_job *j, json_t *c)
{
    snprintf(j->opid, sizeof(j->opid), "%s", json_string_value(json_object_get(c, "id")));
    j->amount = gw_jint(c, "amount");
    j->final = json_is_true(json_object_get(c, "final"));
    j->prov_key = gw_jstr(c, "key", j->a);
    json_t *lines = json_object_get(c, "lines");
    j->lines = json_is_array(lines) ? gw_keep(j->a, lines) : NULL;
}

static k_status capture_begin_fn(store_tx *tx, void *arg)
{
    capture_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return gw_err_store(j->err, st, PI, j->id);
    if (pay_transition(p->m.state, OP_CAPTURE) < 0)
        return unexpected_state(j->err, p, "capture", OP_CAPTURE);
    if (j->lines != NULL && capture_lines(j, p) != K_OK)
        return K_EINVAL;
    int64_t avail = pay_capturable(&p->m) - p->capture_pending;
    if (j->amount == 0)
        j->amount = avail;
    if (j->amount < 1 || j->amount > avail) {
        gw_err_set(j->err, GW_WHY_AMOUNT_TOO_LARGE, "amount_to_capture",
                   "amount_to_capture (%lld) must be between 1 and the amount that can still be "
                   "captured (%lld).",
                   (long long)j->amount, (long long)avail);
        return K_EINVAL;
    }
    /* A final capture releases what is left, so it cannot overlap another
     * capture still open (its amount would be released under it); nor can a
     * capture begin while a final one is open. */
    bool final_open = false;
    size_t ci;
    json_t *oc;
    json_array_foreach(p->captures_open, ci, oc)
    {
        if (json_is_true(json_object_get(oc, "final")))
            final_open = true;
    }
    if (json_array_size(p->captures_open) > 0 && (j->final || final_open)) {
        gw_err_set(j->err, GW_WHY_IN_PROGRESS, NULL,
                   "A capture of this PaymentIntent is in progress; a final capture can follow "
                   "once it is answered.");
        return K_ECONFLICT;
    }
    if (json_array_size(p->captures_open) >= LIMIT_CAPTURES_OPEN_MAX) {
        gw_err_set(j->err, GW_WHY_IN_PROGRESS, NULL,
                   "%d captures of this PaymentIntent are in progress; retry after them.",
                   LIMIT_CAPTURES_OPEN_MAX);
        return K_ECONFLICT;
    }
    json_t *c = json_pack("{s:s,s:I,s:s,s:b,s:I}", "id", j->opid, "amount", (json_int_t)j->amount,
                          "key", j->prov_key, "final", j->final, "retry_at",
                          (json_int_t)(clock_now_s() + CAPTURE_BEGUN_RETRY_S));
    if (j->lines != NULL)
        json_object_set(c, "lines", j->lines);
    json_array_append_new(p->captures_open, c);
    p->capture_pending += j->amount;
    st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_idem_claim_in_tx(tx, j->merchant_id, j->idem, j->opid);
    if (st == K_EIDEM_TAKEN)
        gw_err_set(j->err, GW_WHY_IDEM_IN_USE, NULL,
                   "There is currently another in-progress request using this Idempotency Key. "
                   "Please try again later.");
    return st;
}

static k_status capture_end_fn(store_tx *tx, void *arg)
{
    capture_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return st;
    size_t at;
    if (capture_open_find(p, j->opid, &at) == NULL) /* settled meanwhile (the scheduler) */
        return j->ok ? gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a) : K_OK;
    K_ASSERT(p->capture_pending >= j->amount);
    json_array_remove(p->captures_open, at);
    p->capture_pending -= j->amount;
    gw_act act = {.op = OP_CAPTURE,
                  .amount = j->amount,
                  .final = j->final,
                  .failed = !j->ok,
                  .code = j->ok ? NULL : gw_why_name(j->err->why),
                  .message = j->ok ? NULL : j->err->message,
                  .provider_ref = j->ok ? j->op_ref : NULL,
                  .body = j->ok ? j->lines : NULL};
    st = gw_act_apply(tx, p, &act);
    K_ASSERT(st != K_EREFUSED); /* the reservation held the amount since the begin write */
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st != K_OK)
        return st;
    if (!j->ok) {
        /* Refused, or no answer after the connector's retries: not a capture.
         * The key is given back, so the caller's retry with it begins anew -
         * with the same provider key, which cannot capture twice. */
        bool keyed = j->idem != NULL && j->idem->key != NULL;
        return keyed ? store_idem_delete(tx, j->merchant_id, j->idem->key) : K_OK;
    }
    if (st == K_OK)
        st = gw_emit_payment(tx, p,
                             p->m.state == PS_SUCCEEDED
                                 ? "payment_intent.succeeded"
                                 : "payment_intent.amount_capturable_updated");
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

/* Sends the open capture in j to the provider and fills j's outcome. */
static void capture_call(capture_job *j)
{
    gw *g = j->g;
    arena *a = j->a;
    const gw_payment *p = j->p;
    const provider *prov;
    prov_account acct;
    bool have_acct = gw_provider_of(g, p, a, &prov, &acct) && prov->capture != NULL;
    prov_result res;
    memset(&res, 0, sizeof(res));
    prov_ref ref;
    gw_prov_ref_of(p, a, &ref);
    ref.amount = j->amount;
    ref.idem_key = j->prov_key;
    prov_line *plines = NULL;
    size_t nlines = 0;
    if (j->lines != NULL)
        gw_prov_lines(j->lines, a, &plines, &nlines);
    ref.lines = plines;
    ref.nlines = nlines;
    k_status pst = K_ERR;
    if (have_acct)
        pst = prov->capture(&acct, &ref, a, &res);
    /* Only an answer the provider gave counts: "unknown" (no answer after the
     * connector's retries) is not a capture. */
    j->unknown = pst == K_OK && res.outcome == PR_UNKNOWN;
    j->ok = pst == K_OK && res.outcome != PR_FAILED && !j->unknown;
    j->op_ref = res.op_ref;
    j->failure = res.failure_message != NULL ? res.failure_message : "no answer";
    if (j->ok && j->final && pay_capturable(&p->m) - j->amount > 0 && prov->release != NULL) {
        prov_result rel;
        memset(&rel, 0, sizeof(rel));
        prov->release(&acct, &ref, a, &rel); /* best effort: the authorisation lapses anyway */
    }
}

static k_status capture_send_and_settle(capture_job *j)
{
    crash_point("capture.begun");
    capture_call(j);
    crash_point("capture.answered");
    if (j->unknown)
        gw_err_set(j->err, GW_WHY_PROVIDER_UNAVAILABLE, NULL,
                   "The provider did not confirm the capture. Retry the request with the same "
                   "Idempotency-Key; it will not capture twice.");
    else if (!j->ok)
        gw_err_set(j->err, GW_WHY_CAPTURE_FAILED, NULL, "The provider refused the capture: %s",
                   j->failure);
    k_status st = store_write(j->g->st, capture_end_fn, j);
    if (st != K_OK)
        return gw_err_store(j->err, st, PI, j->id);
    gw_wake(j->g);
    return j->ok ? K_OK : K_ERR;
}

/* A retried request whose first try began capture `opid` and died. */
static k_status capture_resume(capture_job *j, const char *opid)
{
    k_status st = gw_pi_get(j->g, j->merchant_id, j->id, j->a, j->p, j->err);
    if (st != K_OK)
        return st;
    size_t at;
    json_t *c = capture_open_find(j->p, opid, &at);
    snprintf(j->opid, sizeof(j->opid), "%s", opid);
    if (c == NULL) {
        /* Settled meanwhile by the scheduler: answer with the payment as it is. */
        j->ok = true;
        st = store_write(j->g->st, capture_end_fn, j);
        return st == K_OK ? K_OK : gw_err_store(j->err, st, PI, j->id);
    }
    log_info("capture '%s' of '%s': carried on for the retried request", opid, j->id);
    capture_job_from(j, c);
    return capture_send_and_settle(j);
}

k_status gw_pi_capture(gw *g, const char *merchant_id, const char *id, int64_t amount, bool final,
                       json_t *lines, gw_idem *idem, arena *a, gw_payment *out, gw_err *err)
{
    if (gw_budget_take_for(g, merchant_id, id, a, err) != K_OK)
        return K_EBUSY;
    err->why = GW_WHY_NONE;
    capture_job j = {.g = g,
                     .merchant_id = merchant_id,
                     .id = id,
                     .amount = amount,
                     .final = final,
                     .lines = lines,
                     .idem = idem,
                     .a = a,
                     .p = out,
                     .err = err};
    if (idem != NULL && idem->resume_id != NULL)
        return capture_resume(&j, idem->resume_id);
    id_new(j.opid, "cap_");
    /* The request's Idempotency-Key is the provider's too: a retry of a request
     * whose capture was released after no answer cannot capture twice. */
    j.prov_key = idem != NULL && idem->key != NULL ? idem->key : arena_strdup(a, j.opid);
    k_status st = store_write(g->st, capture_begin_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, PI, id);
    return capture_send_and_settle(&j);
}

/* The scheduler: open captures of payment `id` past their retry time (their
 * request died). Each is sent again with its key and settled. */
k_status gw_capture_retry(gw *g, const char *merchant_id, const char *id, arena *a)
{
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_get(g, merchant_id, id, a, &p, &err);
    if (st != K_OK)
        return st;
    int64_t now = clock_now_s();
    json_t *open = json_deep_copy(p.captures_open);
    arena_defer(a, (void (*)(void *))json_decref, open);
    size_t i;
    json_t *c;
    json_array_foreach(open, i, c)
    {
        if (gw_jint(c, "retry_at") > now)
            continue;
        capture_job j = {.g = g, .merchant_id = merchant_id, .id = id, .a = a, .err = &err};
        gw_payment cur;
        j.p = &cur;
        if (gw_pi_get(g, merchant_id, id, a, &cur, &err) != K_OK)
            return K_ERR;
        capture_job_from(&j, c);
        log_info("capture '%s' of '%s': asking the provider again", j.opid, id);
        capture_send_and_settle(&j);
    }
    return K_OK;
}

/* ---- cancel ---- */

typedef struct {
    const char *merchant_id;
    const char *id;
    const char *reason;
    gw_idem *idem;
    arena *a;
    gw_payment *p;
    gw_err *err;
} cancel_job;

static k_status cancel_fn(store_tx *tx, void *arg)
{
    cancel_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK)
        return gw_err_store(j->err, st, PI, j->id);
    if (p->capture_pending > 0) {
        gw_err_set(j->err, GW_WHY_IN_PROGRESS, NULL,
                   "A capture of this PaymentIntent is in progress; retry the cancel after it.");
        return K_ECONFLICT;
    }
    bool resumed = j->idem != NULL && j->idem->resume_id != NULL;
    if (resumed && pay_transition(p->m.state, OP_CANCEL) < 0) /* read back meanwhile */
        return gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    gw_act act = {.op = OP_CANCEL, .message = j->reason};
    st = gw_act_apply(tx, p, &act);
    if (st == K_EREFUSED)
        return unexpected_state(j->err, p, "cancel", OP_CANCEL);
    p->reconcile_at = 0;
    if (p->m.state == PS_CANCELED) {
        p->canceled_at = clock_now_s();
        p->cancellation_reason = j->reason;
    }
    p->next_action_url = NULL;
    p->qr_text = NULL;
    p->attempt_expires_at = 0;
    if (st == K_OK && p->latest_attempt != NULL) {
        gw_attempt t;
        if (gw_load_attempt(tx, p->latest_attempt, j->a, &t) == K_OK && !attempt_final(&t)) {
            t.status = "canceled";
            st = gw_save_attempt(tx, &t);
        }
    }
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_emit_payment(tx, p,
                             p->m.state == PS_CANCELED ? "payment_intent.canceled"
                                                       : "payment_intent.succeeded");
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

static k_status answer_fn(store_tx *tx, void *arg)
{
    cancel_job *j = arg;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, j->p);
    return st == K_OK ? gw_idem_store_in_tx(tx, j->merchant_id, j->idem, j->p, j->a) : st;
}

/* Whether a payment in this state has an attempt the customer may still pay. */
static bool cancel_open_attempt(pay_state s)
{
    return s == PS_REQUIRES_ACTION || s == PS_PROCESSING;
}

/* The provider did not say it closed the open attempt (it refused: the
 * customer paid at Klarna's page or in the wallet just now, before the
 * callback came; or it did not answer). Cancelling here would leave the
 * customer's money at the provider under a cancelled payment: read the
 * attempt back, and cancel only when it is closed (failed, expired) now. */
static k_status cancel_unclosed(gw *g, const char *merchant_id, gw_payment *p,
                                const prov_result *res, arena *a, gw_err *err)
{
    K_ASSERT(p->latest_attempt != NULL);
    K_ASSERT(cancel_open_attempt(p->m.state));
    const char *id = arena_strdup(a, p->id);
    const char *attempt_id = arena_strdup(a, p->latest_attempt);
    gw_attempt t;
    k_status st = gw_sync_attempt_id(g, attempt_id, a, p, &t);
    if (st != K_OK)
        return gw_err_store(err, st, PI, id);
    if (pay_transition(p->m.state, OP_CANCEL) < 0)
        return unexpected_state(err, p, "cancel", OP_CANCEL);
    if (!cancel_open_attempt(p->m.state))
        return K_OK; /* the attempt failed or expired: nothing was taken */
    log_warn("gateway: the open attempt '%s' of '%s' could not be closed at '%s'", attempt_id, id,
             t.provider);
    gw_err_set(err, GW_WHY_CANCEL_FAILED, NULL,
               "The provider did not close the open payment attempt (%s); it may have been "
               "paid. Try again in a moment.",
               res->failure_message != NULL ? res->failure_message : "no answer");
    return K_ERR;
}

k_status gw_pi_cancel(gw *g, const char *merchant_id, const char *id, const char *reason,
                      gw_idem *idem, arena *a, gw_payment *out, gw_err *err)
{
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK)
        return st;
    bool resumed = idem != NULL && idem->resume_id != NULL;
    if (resumed && pay_transition(out->m.state, OP_CANCEL) < 0) {
        /* The first request with this key cancelled at the provider and died;
         * the scheduler has read the order back since. Answer as it would have. */
        cancel_job j = {merchant_id, id, reason, idem, a, out, err};
        st = store_write(g->st, answer_fn, &j);
        return st == K_OK ? K_OK : gw_err_store(err, st, PI, id);
    }
    if (pay_transition(out->m.state, OP_CANCEL) < 0)
        return unexpected_state(err, out, "cancel", OP_CANCEL);
    if (out->latest_attempt != NULL && gw_budget_take_for(g, merchant_id, id, a, err) != K_OK)
        return K_EBUSY;
    /* Tell the provider first: void the authorisation / close the open attempt. */
    const provider *prov;
    prov_account acct;
    if (out->latest_attempt != NULL && gw_provider_of(g, out, a, &prov, &acct)) {
        prov_ref ref;
        gw_prov_ref_of(out, a, &ref);
        ref.amount = pay_capturable(&out->m);
        ref.idem_key = out->latest_attempt;
        prov_result res;
        memset(&res, 0, sizeof(res));
        bool partly = out->m.captured > 0;
        k_status pst = K_OK;
        if (out->m.state == PS_REQUIRES_CAPTURE) {
            /* The provider's key is the attempt's: a second cancel replays the first. */
            st = gw_order_action_begins(g, merchant_id, id, idem, a);
            if (st != K_OK)
                return gw_err_store(err, st, PI, id);
        }
        if (partly && prov->release != NULL)
            pst = prov->release(&acct, &ref, a, &res);
        else if (!partly && prov->cancel != NULL)
            pst = prov->cancel(&acct, &ref, a, &res);
        if (out->m.state == PS_REQUIRES_CAPTURE && (pst != K_OK || res.outcome == PR_FAILED)) {
            gw_idem_release(g, merchant_id, idem);
            gw_err_set(err, GW_WHY_CANCEL_FAILED, NULL,
                       "The provider refused to release the authorisation: %s",
                       res.failure_message != NULL ? res.failure_message : "no answer");
            return K_ERR;
        }
        if (cancel_open_attempt(out->m.state) && (pst != K_OK || res.outcome != PR_CANCELED)) {
            st = cancel_unclosed(g, merchant_id, out, &res, a, err);
            if (st != K_OK) {
                gw_idem_release(g, merchant_id, idem);
                return st;
            }
        }
    }
    crash_point("cancel.answered");
    err->why = GW_WHY_NONE;
    cancel_job j = {merchant_id, id, reason, idem, a, out, err};
    st = store_write(g->st, cancel_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, PI, id);
    gw_wake(g);
    return K_OK;
}

/* ---- list and journal ---- */

k_status gw_pi_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                    gw_payment **out, size_t *n, bool *has_more, gw_err *err)
{
    json_t **docs;
    k_status st = gw_list_docs(g, merchant_id, PI, q, a, &docs, n, has_more, err);
    if (st != K_OK)
        return st;
    *out = *n ? arena_alloc(a, *n * sizeof(gw_payment)) : NULL;
    for (size_t i = 0; i < *n; i++) {
        k_status dst = gw_payment_from_json(docs[i], a, &(*out)[i]);
        K_ASSERT(dst == K_OK); /* a stored payment always satisfies the invariants */
    }
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    arena *a;
    store_op *ops;
    size_t n;
} journal_job;

static k_status journal_fn(store_tx *tx, void *arg)
{
    journal_job *j = arg;
    return store_op_list(tx, j->merchant_id, j->id, j->a, &j->ops, &j->n);
}

k_status gw_pi_journal(gw *g, const char *merchant_id, const char *id, arena *a, store_op **out,
                       size_t *n, gw_err *err)
{
    journal_job j = {merchant_id, id, a, NULL, 0};
    k_status st = store_read(g->st, journal_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, PI, id);
    *out = j.ops;
    *n = j.n;
    return K_OK;
}
