/*
 * orders.c - what happens to an authorised order before it is fully captured
 * (Klarna Pay Later, the MyCashflow back-office actions): extend the
 * authorisation, edit the order lines with a new decision from the provider,
 * resend the payment instructions, and reconcile with changes made in the
 * provider's portal. Each asks the provider first and writes only what the
 * provider accepted, in one transaction with its journal row and event.
 */
#include <stdio.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../domain/money.h"

#define PI "payment_intent"

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    gw_idem *idem;
    arena *a;
    gw_payment *p;
    const prov_result *res;
    json_t *lines;
    int64_t amount;
    gw_err *err;
} order_job;

/* The provider, account and reference for a payment's order. */
static k_status order_ref(gw *g, const gw_payment *p, arena *a, const provider **prov,
                          prov_account *acct, prov_ref *ref, gw_err *err)
{
    const rule_method *rm =
        p->method_type != NULL ? rules_method_find(&g->rules, p->method_type) : NULL;
    *prov = rm != NULL ? provider_find(rm->provider) : NULL;
    if (*prov == NULL || p->order_ref == NULL ||
        !gw_account(g, p->merchant_id, rm->provider, a, acct)) {
        gw_err_set(err, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                   "This PaymentIntent has no order at a provider to act on.");
        return K_ECONFLICT;
    }
    if (gw_budget_take(g, p->merchant_id, rm->provider, err) != K_OK)
        return K_EBUSY;
    gw_prov_ref_of(p, a, ref);
    return K_OK;
}

static k_status need_capture_state(const gw_payment *p, const char *verb, gw_err *err)
{
    if (p->m.state == PS_REQUIRES_CAPTURE)
        return K_OK;
    gw_err_set(err, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
               "You cannot %s this PaymentIntent because it has a status of %s; only an "
               "authorised payment (requires_capture) can be.",
               verb, pay_state_name(p->m.state));
    return K_ECONFLICT;
}

static k_status provider_refused(gw_err *err, const char *what, const prov_result *r)
{
    gw_err_set(err, 402, "invalid_request_error", "provider_refused", NULL,
               "The provider refused to %s: %s%s%s", what,
               r->provider_code != NULL ? r->provider_code : "no answer",
               r->failure_message != NULL ? " - " : "",
               r->failure_message != NULL ? r->failure_message : "");
    return K_ERR;
}

/* ---- extend ---- */

static k_status extend_fn(store_tx *tx, void *arg)
{
    order_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK || need_capture_state(p, "extend", j->err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    int64_t now = clock_now_s();
    const rule_method *rm = rules_method_find(&j->g->rules, p->method_type);
    int64_t ttl = rm != NULL && rm->auth_ttl_s > 0 ? rm->auth_ttl_s : 28 * 86400;
    int64_t max = rm != NULL && rm->auth_max_s > 0 ? rm->auth_max_s : 180 * 86400;
    int64_t want = j->res->expires_at > 0 ? j->res->expires_at : now + ttl;
    int64_t cap = p->created + max;
    if (want > cap)
        want = cap;
    pay_entry e = {.op = OP_EXTEND};
    K_ASSERT(pay_apply(&p->m, &e) == PAY_OK);
    if (want > p->auth_expires_at) {
        p->auth_expires_at = want;
        p->auth_warned = 0; /* a new warning before the new date */
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "authorisation now expires at %lld", (long long)p->auth_expires_at);
    st = gw_journal(tx, p, OP_EXTEND, 0, "succeeded", NULL, msg, p->order_ref, NULL, NULL);
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_emit_payment(tx, p, "payment_intent.authorization_extended");
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

k_status gw_pi_extend(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                      gw_payment *out, gw_err *err)
{
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK || need_capture_state(out, "extend", err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    int64_t now = clock_now_s();
    if (out->auth_expires_at <= now) {
        gw_err_set(err, 400, "invalid_request_error", "authorization_expired", NULL,
                   "The authorisation has expired; it can no longer be extended.");
        return K_ECONFLICT;
    }
    const rule_method *rm = rules_method_find(&g->rules, out->method_type);
    int64_t max = rm != NULL && rm->auth_max_s > 0 ? rm->auth_max_s : 180 * 86400;
    if (out->auth_expires_at >= out->created + max) {
        gw_err_set(err, 400, "invalid_request_error", "authorization_extension_limit", NULL,
                   "The authorisation already runs to %lld days after the payment was created, "
                   "the most it can.",
                   (long long)(max / 86400));
        return K_ECONFLICT;
    }
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (order_ref(g, out, a, &prov, &acct, &ref, err) != K_OK)
        return K_ECONFLICT;
    /* Each extension is a new operation at the provider: a key of its own (a
     * fixed per-attempt key would make every later extension a replay of the first). */
    char key[LIMIT_ID_MAX];
    id_new(key, "ext_");
    ref.idem_key = idem != NULL && idem->key != NULL ? idem->key : arena_strdup(a, key);
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->extend == NULL || prov->extend(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(err, "extend the authorisation", &res);
    err->http = 0;
    order_job j = {.g = g,
                   .merchant_id = merchant_id,
                   .id = id,
                   .idem = idem,
                   .a = a,
                   .p = out,
                   .res = &res,
                   .err = err};
    st = store_write(g->st, extend_fn, &j);
    if (st != K_OK)
        return err->http ? st : gw_err_store(err, st, PI, id);
    gw_wake(g);
    return K_OK;
}

/* ---- edit the order lines ---- */

static k_status lines_total(json_t *lines, int64_t *total, gw_err *err)
{
    *total = 0;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (!money_add(*total, gw_jint(l, "total_amount"), total)) {
            gw_err_set(err, 400, "invalid_request_error", "amount_too_large", "order_lines",
                       "The order lines add up to more than Kassa can hold.");
            return K_EINVAL;
        }
    }
    if (*total < 1) {
        gw_err_set(err, 400, "invalid_request_error", "amount_too_small", "order_lines",
                   "The order lines must add up to at least 1.");
        return K_EINVAL;
    }
    return K_OK;
}

static k_status edit_fn(store_tx *tx, void *arg)
{
    order_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK || need_capture_state(p, "edit", j->err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    if (p->capture_pending > 0) {
        gw_err_set(j->err, 409, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                   "A capture is in progress; edit the order after it.");
        return K_ECONFLICT;
    }
    int64_t old = p->m.authorized;
    if (j->amount != old) {
        pay_entry e = {.op = OP_ADJUST, .amount = j->amount};
        if (pay_apply(&p->m, &e) != PAY_OK) {
            gw_err_set(j->err, 400, "invalid_request_error", "amount_too_small", "order_lines",
                       "The new order total (%lld) is below what was already captured (%lld).",
                       (long long)j->amount, (long long)p->m.captured);
            return K_EINVAL;
        }
    }
    p->lines = j->lines;
    char msg[96];
    snprintf(msg, sizeof(msg), "order edited: %lld -> %lld", (long long)old, (long long)j->amount);
    st = gw_journal(tx, p, OP_ADJUST, j->amount, "succeeded", NULL, msg, p->order_ref, NULL,
                    j->lines);
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = gw_emit_payment(tx, p,
                             p->m.state == PS_SUCCEEDED
                                 ? "payment_intent.succeeded"
                                 : "payment_intent.amount_capturable_updated");
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, p, j->a);
    return st;
}

k_status gw_pi_edit(gw *g, const char *merchant_id, const char *id, json_t *lines, gw_idem *idem,
                    arena *a, gw_payment *out, gw_err *err)
{
    int64_t total;
    if (json_array_size(lines) == 0) {
        gw_err_set(err, 400, "invalid_request_error", "parameter_missing", "order_lines",
                   "Missing required param: order_lines.");
        return K_EINVAL;
    }
    if (lines_total(lines, &total, err) != K_OK)
        return K_EINVAL;
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK || need_capture_state(out, "edit", err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    if (total < out->m.captured) {
        gw_err_set(err, 400, "invalid_request_error", "amount_too_small", "order_lines",
                   "The new order total (%lld) is below what was already captured (%lld).",
                   (long long)total, (long long)out->m.captured);
        return K_EINVAL;
    }
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (order_ref(g, out, a, &prov, &acct, &ref, err) != K_OK)
        return K_ECONFLICT;
    ref.amount = total;
    prov_line *pl;
    size_t n;
    gw_prov_lines(lines, a, &pl, &n);
    ref.lines = pl;
    ref.nlines = n;
    char key[LIMIT_ID_MAX];
    id_new(key, "edit_");
    ref.idem_key = idem != NULL && idem->key != NULL ? idem->key : arena_strdup(a, key);
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->update == NULL || prov->update(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(err, "accept the changed order", &res);
    err->http = 0;
    order_job j = {.g = g,
                   .merchant_id = merchant_id,
                   .id = id,
                   .idem = idem,
                   .a = a,
                   .p = out,
                   .res = &res,
                   .lines = lines,
                   .amount = total,
                   .err = err};
    st = store_write(g->st, edit_fn, &j);
    if (st != K_OK)
        return err->http ? st : gw_err_store(err, st, PI, id);
    gw_wake(g);
    return K_OK;
}

/* ---- resend the payment instructions ---- */

k_status gw_pi_resend(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                      gw_err *err)
{
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK)
        return st;
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (order_ref(g, out, a, &prov, &acct, &ref, err) != K_OK)
        return K_ECONFLICT;
    char key[LIMIT_ID_MAX];
    id_new(key, "resend_");
    ref.idem_key = arena_strdup(a, key); /* every resend is a new send-out */
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->resend == NULL || prov->resend(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(err, "resend the payment instructions", &res);
    log_info("payment '%s': payment instructions resent", id);
    return K_OK;
}

/* ---- reconcile with the provider's portal ---- */

static k_status reconcile_fn(store_tx *tx, void *arg)
{
    order_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK || p->m.state != PS_REQUIRES_CAPTURE || p->capture_pending > 0)
        return st;
    const prov_result *r = j->res;
    const char *type = NULL;
    if (r->outcome == PR_CANCELED) {
        bool expired = r->provider_code != NULL && strcmp(r->provider_code, "EXPIRED") == 0;
        int64_t rest = pay_capturable(&p->m);
        pay_entry e = {.op = expired ? OP_EXPIRE : OP_CANCEL};
        K_ASSERT(pay_apply(&p->m, &e) == PAY_OK);
        if (p->m.state == PS_CANCELED) {
            p->canceled_at = clock_now_s();
            p->cancellation_reason = expired ? "automatic" : "requested_by_customer";
        }
        st = gw_journal(tx, p, e.op, rest, "succeeded", r->provider_code,
                        "changed at the provider (status sync)", p->order_ref, NULL, NULL);
        type = p->m.state == PS_CANCELED ? "payment_intent.canceled" : "payment_intent.succeeded";
    } else if (r->outcome == PR_AUTHORIZED && r->amount > 0 && r->amount != p->m.authorized) {
        pay_entry e = {.op = OP_ADJUST, .amount = r->amount};
        if (pay_apply(&p->m, &e) != PAY_OK)
            return K_OK; /* below what we captured: leave it for a person to look at */
        st = gw_journal(tx, p, OP_ADJUST, r->amount, "succeeded", NULL,
                        "order amount changed at the provider (status sync)", p->order_ref, NULL,
                        NULL);
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

k_status gw_pi_reconcile(gw *g, gw_payment *p, arena *a, gw_err *err)
{
    if (p->m.state != PS_REQUIRES_CAPTURE)
        return K_OK;
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (order_ref(g, p, a, &prov, &acct, &ref, err) != K_OK || prov->sync == NULL)
        return K_OK;
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->sync(&acct, &ref, a, &res) != K_OK || res.outcome == PR_UNKNOWN)
        return K_OK; /* the provider did not answer: nothing learned */
    char merchant[LIMIT_ID_MAX], id[LIMIT_ID_MAX];
    snprintf(merchant, sizeof(merchant), "%s", p->merchant_id);
    snprintf(id, sizeof(id), "%s", p->id);
    order_job j = {
        .g = g, .merchant_id = merchant, .id = id, .a = a, .p = p, .res = &res, .err = err};
    k_status st = store_write(g->st, reconcile_fn, &j);
    gw_wake(g);
    return gw_err_store(err, st, PI, id);
}
