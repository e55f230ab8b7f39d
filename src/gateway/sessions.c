/*
 * sessions.c - Checkout Sessions: the "session token + redirect URL" flow.
 * A session wraps one payment intent (written in the same transaction) and a
 * hosted page where the customer picks a method; it completes when the intent
 * is paid (or authorised) and expires after its time unless paid.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/ids.h"
#include "../domain/money.h"

#define CS "checkout.session"

/* line_items[] -> Klarna-style order lines and the total. */
static k_status session_lines(const gw_session_params *p, arena *a, json_t **lines, int64_t *total,
                              char cur[4], gw_err *err)
{
    size_t n = json_array_size(p->line_items);
    if (n == 0 || n > LIMIT_ORDER_LINES_MAX) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "line_items", "line_items must hold 1 to %d items.",
                   LIMIT_ORDER_LINES_MAX);
        return K_EINVAL;
    }
    *lines = json_array();
    arena_defer(a, (void (*)(void *))json_decref, *lines);
    *total = 0;
    cur[0] = '\0';
    if (p->currency != NULL)
        currency_lower(p->currency, cur);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(p->line_items, i);
        json_t *pd = json_object_get(it, "price_data");
        const char *name =
            json_string_value(json_object_get(json_object_get(pd, "product_data"), "name"));
        const char *c = json_string_value(json_object_get(pd, "currency"));
        json_t *ua = json_object_get(pd, "unit_amount");
        json_t *q = json_object_get(it, "quantity");
        int64_t unit = json_is_integer(ua) ? json_integer_value(ua) : -1;
        int64_t qty = json_is_integer(q) ? json_integer_value(q) : -1;
        char param[64];
        snprintf(param, sizeof(param), "line_items[%zu]", i);
        if (name == NULL || c == NULL || currency_find(c) == NULL || unit < 0 || qty < 1 ||
            qty > 999999) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, param,
                       "Each line item needs price_data[currency], price_data[unit_amount] (>= 0),"
                       " price_data[product_data][name] and quantity (>= 1).");
            return K_EINVAL;
        }
        char lc[4];
        currency_lower(c, lc);
        if (cur[0] == '\0')
            memcpy(cur, lc, 4);
        if (strcmp(cur, lc) != 0) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, param,
                       "All line items must use the same currency (%s).", cur);
            return K_EINVAL;
        }
        int64_t line_total;
        if (!money_mul(unit, qty, &line_total) || !money_add(*total, line_total, total) ||
            *total > 99999999) {
            gw_err_set(err, GW_WHY_AMOUNT_TOO_LARGE, "line_items",
                       "The total of the line items is too large.");
            return K_EINVAL;
        }
        json_array_append_new(*lines,
                              json_pack("{s:s,s:s,s:I,s:I,s:I,s:i,s:i}", "type", "physical", "name",
                                        name, "quantity", (json_int_t)qty, "unit_price",
                                        (json_int_t)unit, "total_amount", (json_int_t)line_total,
                                        "tax_rate", 0, "total_tax_amount", 0));
    }
    return K_OK;
}

/* The methods the rules take and the merchant has not hidden in every country. */
static json_t *default_types(gw *g, json_t *settings, const char *cur, int64_t amount, arena *a)
{
    const rule_method *ms[LIMIT_RULE_METHODS_MAX];
    char up[4];
    currency_upper(cur, up);
    size_t n = rules_available(&g->rules, up, NULL, amount, ms, LIMIT_RULE_METHODS_MAX);
    json_t *t = json_array();
    arena_defer(a, (void (*)(void *))json_decref, t);
    for (size_t i = 0; i < n && i < LIMIT_RULE_METHODS_MAX; i++)
        if (!gw_method_hidden(g, settings, ms[i]->name, up, NULL))
            json_array_append_new(t, json_string(ms[i]->name));
    return t;
}

typedef struct {
    gw *g;
    gw_payment *p;
    gw_session *s;
    gw_idem *idem;
    arena *a;
    const char *merchant_id;
    const char *id;
    gw_err *err;
} cs_job;

static k_status cs_create_fn(store_tx *tx, void *arg)
{
    cs_job *j = arg;
    k_status st = gw_pi_insert_in_tx(tx, j->p, j->s->amount_total);
    if (st == K_OK)
        st = gw_save_session(tx, j->s);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->s->merchant_id, j->idem, j->s, j->a);
    return st;
}

k_status gw_session_create(gw *g, const char *merchant_id, const gw_session_params *p,
                           gw_idem *idem, arena *a, gw_session *out, gw_err *err)
{
    if (p->success_url == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "success_url",
                   "Missing required param: success_url.");
        return K_EINVAL;
    }
    /* the hosted page links to these: javascript: and data: would run in its origin */
    const char *urls[2][2] = {{"success_url", p->success_url}, {"cancel_url", p->cancel_url}};
    for (size_t i = 0; i < 2; i++) {
        const char *u = urls[i][1];
        if (u != NULL && strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
            gw_err_set(err, GW_WHY_URL_INVALID, urls[i][0],
                       "Invalid URL: %s must start with http:// or https://.", urls[i][0]);
            return K_EINVAL;
        }
    }
    json_t *lines;
    int64_t total;
    char cur[4];
    if (session_lines(p, a, &lines, &total, cur, err) != K_OK)
        return K_EINVAL;
    int64_t now = clock_now_s();
    if (p->expires_at != 0 && (p->expires_at < now + 1800 || p->expires_at > now + 86400)) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "expires_at",
                   "expires_at must be between 30 minutes and 24 hours from now.");
        return K_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    id_new_n(out->id, "cs_test_", 40);
    json_t *settings = gw_settings_load(g, merchant_id, a);
    if (settings == NULL) {
        gw_err_set(err, GW_WHY_STORAGE, NULL, "The merchant's settings could not be read.");
        return K_EIO;
    }
    json_t *types =
        p->method_types != NULL ? p->method_types : default_types(g, settings, cur, total, a);
    if (json_array_size(types) == 0) {
        gw_err_set(err, GW_WHY_METHOD_UNAVAILABLE, "currency", "No payment method accepts %lld %s.",
                   (long long)total, cur);
        return K_EINVAL;
    }
    gw_pi_params pp = {.amount = total,
                       .has_amount = true,
                       .currency = cur,
                       .has_currency = true,
                       .capture_manual = p->capture_manual,
                       .method_types = types,
                       .lines = lines,
                       .email = p->customer_email,
                       .channel = "checkout",
                       .checkout_session = out->id,
                       .metadata = p->metadata};
    gw_payment pi;
    k_status st = gw_pi_prepare(g, merchant_id, &pp, a, &pi, err);
    if (st != K_OK)
        return st;
    out->merchant_id = merchant_id;
    out->payment_id = arena_strdup(a, pi.id);
    out->status = "open";
    out->payment_status = "unpaid";
    out->success_url = p->success_url;
    out->cancel_url = p->cancel_url;
    out->locale = p->locale != NULL ? p->locale : "auto";
    out->customer_email = p->customer_email;
    out->client_reference_id = p->client_reference_id;
    out->amount_total = total;
    memcpy(out->currency, cur, 4);
    out->line_items = p->line_items;
    out->method_types = types;
    out->metadata = pi.metadata;
    out->created = now;
    out->expires_at = p->expires_at != 0 ? p->expires_at : now + gw_session_ttl(g, settings);
    out->url = arena_printf(a, "%s/c/pay/%s", g->public_url, out->id);
    cs_job j = {g, &pi, out, idem, a, merchant_id, out->id, err};
    st = store_write(g->st, cs_create_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, CS, out->id);
    gw_wake(g);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    arena *a;
    gw_session *out;
} cs_read;

static k_status cs_read_fn(store_tx *tx, void *arg)
{
    cs_read *r = arg;
    return gw_load_session(tx, r->merchant_id, r->id, r->a, r->out);
}

k_status gw_session_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_session *out,
                        gw_err *err)
{
    cs_read r = {merchant_id, id, a, out};
    return gw_err_store(err, store_read(g->st, cs_read_fn, &r), CS, id);
}

k_status gw_session_find(gw *g, const char *id, arena *a, gw_session *out, char *merchant_id,
                         gw_err *err)
{
    cs_read r = {NULL, id, a, out};
    k_status st = store_read(g->st, cs_read_fn, &r);
    if (st == K_OK)
        snprintf(merchant_id, LIMIT_ID_MAX, "%s", out->merchant_id);
    return gw_err_store(err, st, CS, id);
}

k_status gw_session_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                         gw_session **out, size_t *n, bool *has_more, gw_err *err)
{
    json_t **docs;
    k_status st = gw_list_docs(g, merchant_id, CS, q, a, &docs, n, has_more, err);
    if (st != K_OK)
        return st;
    *out = *n ? arena_alloc(a, *n * sizeof(gw_session)) : NULL;
    for (size_t i = 0; i < *n; i++)
        gw_session_from_json(docs[i], a, &(*out)[i]);
    return K_OK;
}

/* Expires an open session and cancels its unpaid intent (inside a write). */
static k_status expire_in_tx(store_tx *tx, gw_session *s, arena *a, gw_err *err)
{
    if (strcmp(s->status, "open") != 0) {
        gw_err_set(err, GW_WHY_SESSION_CLOSED, NULL,
                   "Only Checkout Sessions with a status of open can be expired; this one is "
                   "%s.",
                   s->status);
        return K_ECONFLICT;
    }
    gw_payment p;
    k_status st = gw_load_payment(tx, s->merchant_id, s->payment_id, a, &p);
    if (st != K_OK)
        return st;
    /* Not a question for the transition table (a cancel is allowed in some of
     * these states): once the provider has the customer's money or decision,
     * the page is past expiring. */
    if (p.m.state == PS_PROCESSING || p.m.state == PS_SUCCEEDED ||
        p.m.state == PS_REQUIRES_CAPTURE) {
        gw_err_set(err, GW_WHY_SESSION_CLOSED, NULL,
                   "This Checkout Session's payment is already under way.");
        return K_ECONFLICT;
    }
    s->status = "expired";
    st = gw_save_session(tx, s);
    if (st == K_OK)
        st = gw_emit_session(tx, s, "checkout.session.expired");
    if (st != K_OK)
        return st;
    /* The unpaid intent goes with it, where the table still lets it. */
    gw_act act = {.op = OP_CANCEL, .message = "abandoned", .ref_id = s->id};
    st = gw_act_apply(tx, &p, &act);
    if (st == K_EREFUSED)
        return K_OK;
    p.canceled_at = clock_now_s();
    p.cancellation_reason = "abandoned";
    p.next_action_url = NULL;
    p.attempt_expires_at = 0;
    if (st == K_OK)
        st = gw_save_payment(tx, &p);
    if (st == K_OK)
        st = gw_emit_payment(tx, &p, "payment_intent.canceled");
    return st;
}

static k_status cs_expire_fn(store_tx *tx, void *arg)
{
    cs_job *j = arg;
    k_status st = gw_load_session(tx, j->merchant_id, j->id, j->a, j->s);
    if (st != K_OK)
        return gw_err_store(j->err, st, CS, j->id);
    st = expire_in_tx(tx, j->s, j->a, j->err);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, j->s, j->a);
    return st;
}

k_status gw_session_expire(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                           gw_session *out, gw_err *err)
{
    err->why = GW_WHY_NONE;
    cs_job j = {g, NULL, out, idem, a, merchant_id, id, err};
    k_status st = store_write(g->st, cs_expire_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, CS, id);
    gw_wake(g);
    return K_OK;
}

/* The scheduler: a session whose time ran out. */
k_status gw_session_expire_due(store_tx *tx, const char *merchant_id, const char *id, arena *a);
k_status gw_session_expire_due(store_tx *tx, const char *merchant_id, const char *id, arena *a)
{
    gw_session s;
    gw_err err;
    k_status st = gw_load_session(tx, merchant_id, id, a, &s);
    if (st != K_OK || strcmp(s.status, "open") != 0 || s.expires_at > clock_now_s())
        return st;
    st = expire_in_tx(tx, &s, a, &err);
    return st == K_ECONFLICT ? K_OK : st;
}

k_status gw_session_methods(gw *g, const gw_session *s, const char *country, arena *a,
                            const char ***names, size_t *n)
{
    const rule_method *ms[LIMIT_RULE_METHODS_MAX];
    char up[4];
    currency_upper(s->currency, up);
    size_t total =
        rules_available(&g->rules, up, country, s->amount_total, ms, LIMIT_RULE_METHODS_MAX);
    if (total > LIMIT_RULE_METHODS_MAX)
        total = LIMIT_RULE_METHODS_MAX;
    json_t *settings = gw_settings_load(g, s->merchant_id, a);
    *names = total ? arena_alloc(a, total * sizeof(char *)) : NULL;
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        if (settings == NULL || gw_method_hidden(g, settings, ms[i]->name, up, country))
            continue; /* the merchant hid it here */
        size_t k;
        json_t *v;
        json_array_foreach(s->method_types, k, v)
        {
            const char *t = json_string_value(v);
            if (t != NULL && strcmp(t, ms[i]->name) == 0) {
                (*names)[(*n)++] = ms[i]->name;
                break;
            }
        }
    }
    return K_OK;
}
