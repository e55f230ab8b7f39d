/*
 * intent.c - part of the gateway's frame: the checks and the build of a new
 * payment intent (amount, currency, method types against the rules, billing
 * details), shared by the use cases that make intents (payments.c: create,
 * update, confirm; sessions.c: a checkout session's intent). Nothing here
 * writes except gw_pi_insert_in_tx, inside the caller's write (its rows are
 * made ready by gw_pi_ready_make, which a create calls before its write).
 */
#include <stdio.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/ids.h"
#include "../domain/money.h"

k_status gw_rule_refusal(gw_err *err, rule_param rp, const rule_refusal *refusal,
                         const char *country_param)
{
    const char *param = rp == RULE_E_CURRENCY  ? "currency"
                        : rp == RULE_E_COUNTRY ? country_param
                        : rp == RULE_E_AMOUNT  ? "amount"
                                               : "payment_method_types";
    gw_why why = rp != RULE_E_AMOUNT                           ? GW_WHY_METHOD_UNAVAILABLE
                 : strstr(refusal->message, "at most") != NULL ? GW_WHY_AMOUNT_TOO_LARGE
                                                               : GW_WHY_AMOUNT_TOO_SMALL;
    gw_err_set(err, why, param, "%s", refusal->message);
    return K_EINVAL;
}

k_status gw_check_amount(int64_t amount, gw_err *err)
{
    if (amount < 1) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_SMALL, "amount",
                   "Amount must be at least 1 (in the currency's smallest unit).");
        return K_EINVAL;
    }
    if (amount > 99999999) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_LARGE, "amount",
                   "Amount must be no more than 99999999 (in the currency's smallest unit).");
        return K_EINVAL;
    }
    return K_OK;
}

k_status gw_check_types(gw *g, json_t *settings, json_t *types, const char *currency,
                        int64_t amount, bool manual, gw_err *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(types, i, v)
    {
        const char *t = json_string_value(v);
        if (t != NULL && settings != NULL && gw_method_hidden(g, settings, t, currency, NULL)) {
            const rule_method *r = rules_method_find(&g->rules, t);
            char cur[4];
            currency_upper(currency, cur);
            gw_err_set(err, GW_WHY_METHOD_UNAVAILABLE, "payment_method_types",
                       "The payment method type \"%s\" is not available: %s is not offered for "
                       "payments in %s.",
                       t, r->label, cur);
            return K_EINVAL;
        }
    }
    if (json_array_size(types) == 0) {
        gw_err_set(err, GW_WHY_PARAM_EMPTY, "payment_method_types",
                   "payment_method_types must not be empty.");
        return K_EINVAL;
    }
    json_array_foreach(types, i, v)
    {
        const char *t = json_string_value(v);
        const rule_method *r = t != NULL ? rules_method_find(&g->rules, t) : NULL;
        if (r == NULL || !r->enabled) {
            gw_err_set(err, GW_WHY_METHOD_INVALID, "payment_method_types",
                       "The payment method type \"%s\" is invalid. Kassa accepts: klarna, "
                       "klarna_pay_now, klarna_pay_later, alipay.",
                       t != NULL ? t : "");
            return K_EINVAL;
        }
        rule_refusal why;
        char cur[4];
        currency_upper(currency, cur);
        rule_param rp = rules_check(&g->rules, t, cur, NULL, amount, &why);
        /* Amount limits are checked at confirmation, as Stripe does: an intent's
         * amount may still change before then. */
        if (rp != RULE_OK && rp != RULE_E_AMOUNT)
            return gw_rule_refusal(err, rp, &why,
                                   "payment_method_data[billing_details]"
                                   "[address][country]");
        if (manual && !r->manual_capture) {
            gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "capture_method",
                       "%s does not support capture_method=manual: its payments are captured "
                       "at once.",
                       r->label);
            return K_EINVAL;
        }
    }
    return K_OK;
}

void gw_apply_billing(gw_payment *p, const gw_pi_params *in, arena *a)
{
    if (in->method_type != NULL)
        p->method_type = arena_strdup(a, in->method_type);
    if (in->email != NULL)
        p->email = arena_strdup(a, in->email);
    if (in->country != NULL) {
        char c[3] = {0};
        for (int i = 0; i < 2 && in->country[i]; i++)
            c[i] = (char)(in->country[i] >= 'a' && in->country[i] <= 'z' ? in->country[i] - 32
                                                                         : in->country[i]);
        p->country = arena_strdup(a, c);
    }
    if (in->name != NULL)
        p->name = arena_strdup(a, in->name);
    if (in->locale != NULL)
        p->locale = arena_strdup(a, in->locale);
    if (in->return_url != NULL)
        p->return_url = arena_strdup(a, in->return_url);
}

/* Validates and builds a new intent in *out without writing it. */
/* A live payment is refused up front, nothing written, unless every method it
 * allows has the live account's own provider credentials and base URL. */
static k_status gw_live_ready(gw *g, const char *merchant_id, json_t *types, arena *a, gw_err *err)
{
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        const char *method = json_string_value(t);
        const rule_method *rm = method != NULL ? rules_method_find(&g->rules, method) : NULL;
        prov_account acct;
        if (rm == NULL || !gw_account(g, merchant_id, rm->provider, a, &acct)) {
            gw_err_set(err, GW_WHY_METHOD_UNAVAILABLE, "payment_method_types",
                       "The payment method %s is not available in live mode: the live account "
                       "has no %s credentials with a provider base URL (live payments never go "
                       "to a simulator).",
                       method != NULL ? method : "?", rm != NULL ? rm->provider : "provider");
            return K_EINVAL;
        }
    }
    return K_OK;
}

k_status gw_pi_prepare(gw *g, const char *merchant_id, const gw_pi_params *in, arena *a,
                       gw_payment *out, gw_err *err)
{
    if (!in->has_amount) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "amount", "Missing required param: amount.");
        return K_EINVAL;
    }
    if (!in->has_currency) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "currency", "Missing required param: currency.");
        return K_EINVAL;
    }
    const currency_info *cur = currency_find(in->currency);
    if (cur == NULL) {
        gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "currency",
                   "Invalid currency: %s. Kassa supports ISO 4217 currency codes.", in->currency);
        return K_EINVAL;
    }
    if (gw_check_amount(in->amount, err) != K_OK)
        return K_EINVAL;
    gw_payment *p = out;
    memset(p, 0, sizeof(*p));
    p->method_types = in->method_types != NULL ? gw_keep(a, in->method_types) : NULL;
    if (p->method_types == NULL) {
        p->method_types = json_pack("[s]", "klarna");
        arena_defer(a, (void (*)(void *))json_decref, p->method_types);
    }
    p->manual_capture = in->capture_manual == 1;
    currency_lower(cur->code, p->currency);
    json_t *settings = gw_settings_load(g, merchant_id, a);
    if (settings == NULL) { /* fail closed: a hidden method is never let through */
        gw_err_set(err, GW_WHY_STORAGE, NULL, "The merchant's settings could not be read.");
        return K_EIO;
    }
    if (gw_check_types(g, settings, p->method_types, p->currency, in->amount, p->manual_capture,
                       err) != K_OK)
        return K_EINVAL;
    if (gw_merchant_is_live(merchant_id) &&
        gw_live_ready(g, merchant_id, p->method_types, a, err) != K_OK)
        return K_EINVAL;
    id_new(p->id, "pi_");
    snprintf(p->merchant_id, sizeof(p->merchant_id), "%s", merchant_id);
    char secret[LIMIT_ID_MAX];
    id_secret(secret, "");
    p->client_secret = arena_printf(a, "%s_secret_%s", p->id, secret);
    p->created = clock_now_s();
    p->description = in->description != NULL && in->description[0] ? in->description : NULL;
    p->metadata = gw_metadata_apply(NULL, in->metadata);
    arena_defer(a, (void (*)(void *))json_decref, p->metadata);
    p->lines = in->lines != NULL ? gw_keep(a, in->lines) : NULL;
    if (p->lines == NULL) {
        p->lines = json_array();
        arena_defer(a, (void (*)(void *))json_decref, p->lines);
    }
    p->channel = in->channel != NULL ? in->channel : "stripe";
    p->external_id = in->external_id;
    p->callback_url = in->callback_url;
    p->checkout_session = in->checkout_session;
    gw_apply_billing(p, in, a);
    /* Non-EUR payments record the exchange rate to EUR at creation (the
     * back office and reports show it; MyCashflow does the same). */
    if (strcmp(p->currency, "eur") != 0) {
        int64_t rate;
        if (rules_rate(&g->rules, cur->code, "EUR", &rate) == K_OK)
            p->rate_e9 = rate;
    }
    return K_OK;
}

/* Writes a prepared intent of `amount`, its journal row and its event (inside
 * a write). */
k_status gw_pi_insert_in_tx(store_tx *tx, gw_payment *p, int64_t amount)
{
    arena a;
    arena_init(&a, 0);
    gw_pi_ready r;
    k_status st = gw_pi_ready_make(p, amount, NULL, &a, &r);
    if (st == K_OK)
        st = gw_pi_ready_insert_in_tx(tx, p, &r);
    arena_release(&a);
    return st;
}
