/*
 * abandon.c - the customer left the provider's page without finishing it
 * (browser Back from Klarna's bank page, "choose another method" on the QR
 * page) and picks again on the hosted page, as Stripe Checkout allows.
 *
 * The open attempt is read back from the provider first (a payment finished
 * in another tab must win), then closed at the provider (Klarna: the HPP
 * session disabled; Alipay+: the payment cancelled), and only then failed in
 * one transaction with its events, so the intent is requires_payment_method
 * again and the next confirmation starts a fresh attempt. An attempt the
 * provider would not close stays as it is and the caller is told so.
 */
#include <string.h>
#include "gw_int.h"
#include "../base/log.h"

#define ABANDON_CODE    "payment_method_customer_decline"
#define ABANDON_MESSAGE "The customer left the provider's page and chose again."

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *payment_id;
    const char *attempt_id;
    const prov_result *res;
    arena *a;
    gw_payment *p;
} abandon_job;

static k_status abandon_fn(store_tx *tx, void *arg)
{
    abandon_job *j = arg;
    gw_attempt t;
    k_status st = gw_load_payment(tx, j->merchant_id, j->payment_id, j->a, j->p);
    if (st == K_OK)
        st = gw_load_attempt(tx, j->attempt_id, j->a, &t);
    if (st != K_OK)
        return st;
    /* Something moved since we looked (a callback, another tab): leave it. */
    if (j->p->m.state != PS_REQUIRES_ACTION || j->p->latest_attempt == NULL ||
        strcmp(j->p->latest_attempt, j->attempt_id) != 0)
        return K_OK;
    return gw_apply_result(tx, j->g, j->p, &t, j->res, j->a);
}

/* Closes the attempt at its provider; true when the provider says it is closed. */
static bool abandon_at_provider(gw *g, const gw_payment *p, const gw_attempt *t, arena *a)
{
    const provider *prov = provider_find(t->provider);
    prov_account acct;
    if (prov == NULL || prov->cancel == NULL ||
        !gw_account(g, p->merchant_id, t->provider, a, &acct))
        return false;
    prov_ref ref;
    gw_prov_ref_of(p, a, &ref);
    ref.attempt_id = t->id;
    ref.provider_ref = t->provider_ref;
    ref.order_ref = t->order_ref;
    ref.amount = p->m.amount;
    ref.idem_key = t->id;
    prov_result res;
    memset(&res, 0, sizeof(res));
    k_status st = prov->cancel(&acct, &ref, a, &res);
    return st == K_OK && res.outcome == PR_CANCELED;
}

/* Reads back, closes at the provider and fails p's open attempt (what names
 * the page it was left from, for the log). */
static k_status abandon_open(gw *g, const char *mid, gw_payment *p, const char *what, arena *a,
                             gw_err *err)
{
    gw_attempt t;
    const char *attempt_id = arena_strdup(a, p->latest_attempt);
    k_status st = gw_sync_attempt_id(g, attempt_id, a, p, &t);
    if (st != K_OK)
        return gw_err_store(err, st, "payment attempt", attempt_id);
    if (p->m.state != PS_REQUIRES_ACTION || strcmp(t.status, "starting") == 0)
        return K_OK; /* paid, processing or failed meanwhile; or not started: nothing to close */
    if (!abandon_at_provider(g, p, &t, a)) {
        /* Maybe it just finished: read once more before refusing. */
        if (gw_sync_attempt_id(g, attempt_id, a, p, &t) == K_OK && p->m.state != PS_REQUIRES_ACTION)
            return K_OK;
        log_warn("checkout: attempt '%s' of %s could not be closed at %s", attempt_id, what,
                 t.provider);
        gw_err_set(err, GW_WHY_IN_PROGRESS, NULL,
                   "The open payment at %s could not be closed; try again in a moment.",
                   t.provider);
        return K_ECONFLICT;
    }
    prov_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = PR_FAILED;
    res.provider_ref = t.provider_ref;
    res.failure_code = ABANDON_CODE;
    res.failure_message = ABANDON_MESSAGE;
    abandon_job j = {g, mid, p->id, attempt_id, &res, a, p};
    st = store_write(g->st, abandon_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "payment intent", p->id);
    gw_wake(g);
    return K_OK;
}

k_status gw_session_reopen(gw *g, const char *session_id, arena *a, gw_err *err)
{
    K_ASSERT(g != NULL);
    K_ASSERT(session_id != NULL);
    gw_session s;
    char mid[LIMIT_ID_MAX];
    k_status st = gw_session_find(g, session_id, a, &s, mid, err);
    if (st != K_OK)
        return st;
    gw_payment p;
    st = gw_pi_get(g, mid, s.payment_id, a, &p, err);
    if (st != K_OK || p.m.state != PS_REQUIRES_ACTION || p.latest_attempt == NULL)
        return st;
    return abandon_open(g, mid, &p, arena_printf(a, "session '%s'", session_id), a, err);
}

k_status gw_attempt_abandon(gw *g, const char *attempt_id, arena *a, gw_err *err)
{
    K_ASSERT(g != NULL);
    K_ASSERT(attempt_id != NULL);
    gw_payment p;
    k_status st = gw_attempt_payment(g, attempt_id, false, a, &p, err);
    if (st != K_OK || p.m.state != PS_REQUIRES_ACTION || p.latest_attempt == NULL ||
        strcmp(p.latest_attempt, attempt_id) != 0)
        return st;
    const char *mid = arena_strdup(a, p.merchant_id);
    return abandon_open(g, mid, &p, arena_printf(a, "payment '%s'", p.id), a, err);
}
