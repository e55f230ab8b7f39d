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
#include "../base/crashpoint.h"
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

/* The table says whether op may follow in p's state (authorised orders only). */
static k_status need_capture_state(const gw_payment *p, pay_op op, const char *verb, gw_err *err)
{
    if (pay_transition(p->m.state, op) >= 0)
        return K_OK;
    gw_err_set(err, GW_WHY_WRONG_STATE, NULL,
               "You cannot %s this PaymentIntent because it has a status of %s; only an "
               "authorised payment (requires_capture) can be.",
               verb, pay_state_name(p->m.state));
    return K_ECONFLICT;
}

/* The provider said no: nothing changed, and the key claimed for the action is
 * given back, so a retry with it is a new attempt (Stripe keeps no answer of a
 * request that failed at the provider either). */
static k_status provider_refused(gw *g, const char *merchant_id, gw_idem *idem, gw_err *err,
                                 const char *what, const prov_result *r)
{
    gw_idem_release(g, merchant_id, idem);
    gw_err_set(err, GW_WHY_PROVIDER_REFUSED, NULL, "The provider refused to %s: %s%s%s", what,
               r->provider_code != NULL ? r->provider_code : "no answer",
               r->failure_message != NULL ? " - " : "",
               r->failure_message != NULL ? r->failure_message : "");
    return K_ERR;
}

/* ---- an order action whose answer may be lost ---- */

/* ---- extend ---- */

static k_status extend_fn(store_tx *tx, void *arg)
{
    order_job *j = arg;
    gw_payment *p = j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, p);
    if (st != K_OK || need_capture_state(p, OP_EXTEND, "extend", j->err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    int64_t now = clock_now_s();
    const rule_method *rm = rules_method_find(&j->g->rules, p->method_type);
    json_t *settings;
    st = gw_settings_load_tx(tx, j->merchant_id, j->a, &settings);
    if (st != K_OK)
        return st;
    int64_t ttl = gw_auth_ttl(settings, rm);
    int64_t max = rm != NULL && rm->auth_max_s > 0 ? rm->auth_max_s : 180 * 86400;
    int64_t want = j->res->expires_at > 0 ? j->res->expires_at : now + ttl;
    int64_t cap = p->created + max;
    if (want > cap)
        want = cap;
    p->reconcile_at = 0;
    if (want > p->auth_expires_at) {
        p->auth_expires_at = want;
        p->auth_warned = 0; /* a new warning before the new date */
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "authorisation now expires at %lld", (long long)p->auth_expires_at);
    gw_act act = {.op = OP_EXTEND, .message = msg, .provider_ref = p->order_ref};
    st = gw_act_apply(tx, p, &act);
    K_ASSERT(st != K_EREFUSED); /* need_capture_state looked it up above */
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
    if (st != K_OK || need_capture_state(out, OP_EXTEND, "extend", err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    int64_t now = clock_now_s();
    if (out->auth_expires_at <= now) {
        gw_err_set(err, GW_WHY_AUTH_EXPIRED, NULL,
                   "The authorisation has expired; it can no longer be extended.");
        return K_ECONFLICT;
    }
    const rule_method *rm = rules_method_find(&g->rules, out->method_type);
    int64_t max = rm != NULL && rm->auth_max_s > 0 ? rm->auth_max_s : 180 * 86400;
    if (out->auth_expires_at >= out->created + max) {
        gw_err_set(err, GW_WHY_EXTENSION_LIMIT, NULL,
                   "The authorisation already runs to %lld days after the payment was created, "
                   "the most it can.",
                   (long long)(max / 86400));
        return K_ECONFLICT;
    }
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (gw_target(g, out, a, &prov, &acct, &ref, err) != K_OK)
        return K_ECONFLICT;
    /* Each extension is a new operation at the provider: a key of its own (a
     * fixed per-attempt key would make every later extension a replay of the first). */
    char key[LIMIT_ID_MAX];
    id_new(key, "ext_");
    ref.idem_key = idem != NULL && idem->key != NULL ? idem->key : arena_strdup(a, key);
    st = gw_order_action_begins(g, merchant_id, id, idem, a);
    if (st != K_OK)
        return gw_err_store(err, st, PI, id);
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->extend == NULL || prov->extend(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(g, merchant_id, idem, err, "extend the authorisation", &res);
    crash_point("extend.answered");
    err->why = GW_WHY_NONE;
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
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, PI, id);
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
            gw_err_set(err, GW_WHY_AMOUNT_TOO_LARGE, "order_lines",
                       "The order lines add up to more than Kassa can hold.");
            return K_EINVAL;
        }
    }
    if (*total < 1) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_SMALL, "order_lines",
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
    if (st != K_OK || need_capture_state(p, OP_ADJUST, "edit", j->err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    if (p->capture_pending > 0) {
        gw_err_set(j->err, GW_WHY_IN_PROGRESS, NULL,
                   "A capture is in progress; edit the order after it.");
        return K_ECONFLICT;
    }
    p->reconcile_at = 0;
    int64_t old = p->m.authorized;
    char msg[96];
    snprintf(msg, sizeof(msg), "order edited: %lld -> %lld", (long long)old, (long long)j->amount);
    gw_act act = {.op = OP_ADJUST,
                  .amount = j->amount,
                  .message = msg,
                  .provider_ref = p->order_ref,
                  .body = j->lines};
    st = gw_act_apply(tx, p, &act);
    if (st == K_EREFUSED) {
        gw_err_set(j->err, GW_WHY_AMOUNT_TOO_SMALL, "order_lines",
                   "The new order total (%lld) is below what was already captured (%lld).",
                   (long long)j->amount, (long long)p->m.captured);
        return K_EINVAL;
    }
    p->lines = j->lines;
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
        gw_err_set(err, GW_WHY_PARAM_MISSING, "order_lines",
                   "Missing required param: order_lines.");
        return K_EINVAL;
    }
    if (lines_total(lines, &total, err) != K_OK)
        return K_EINVAL;
    k_status st = gw_pi_get(g, merchant_id, id, a, out, err);
    if (st != K_OK || need_capture_state(out, OP_ADJUST, "edit", err) != K_OK)
        return st != K_OK ? st : K_ECONFLICT;
    if (total < out->m.captured) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_SMALL, "order_lines",
                   "The new order total (%lld) is below what was already captured (%lld).",
                   (long long)total, (long long)out->m.captured);
        return K_EINVAL;
    }
    const provider *prov;
    prov_account acct;
    prov_ref ref;
    if (gw_target(g, out, a, &prov, &acct, &ref, err) != K_OK)
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
    st = gw_order_action_begins(g, merchant_id, id, idem, a);
    if (st != K_OK)
        return gw_err_store(err, st, PI, id);
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->update == NULL || prov->update(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(g, merchant_id, idem, err, "accept the changed order", &res);
    crash_point("edit.answered");
    err->why = GW_WHY_NONE;
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
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, PI, id);
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
    if (gw_target(g, out, a, &prov, &acct, &ref, err) != K_OK)
        return K_ECONFLICT;
    char key[LIMIT_ID_MAX];
    id_new(key, "resend_");
    ref.idem_key = arena_strdup(a, key); /* every resend is a new send-out */
    prov_result res;
    memset(&res, 0, sizeof(res));
    if (prov->resend == NULL || prov->resend(&acct, &ref, a, &res) != K_OK ||
        res.outcome == PR_FAILED || res.outcome == PR_UNKNOWN)
        return provider_refused(g, merchant_id, NULL, err, "resend the payment instructions", &res);
    log_info("payment '%s': payment instructions resent", id);
    return K_OK;
}
