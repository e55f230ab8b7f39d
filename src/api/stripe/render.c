/*
 * render.c - Kassa's records in Stripe's shapes: PaymentIntent, Charge,
 * Refund, Event, WebhookEndpoint, Checkout Session, lists and errors. Fields
 * Stripe has and Kassa does not use are present as null (clients read them),
 * Kassa's own additions sit under "kassa" where a client ignores them.
 */
#include <stdio.h>
#include <string.h>
#include "stripe_int.h"
#include "../../gateway/keys.h"
#include "../../base/crypto.h"
#include "../../domain/money.h"

#define API_VERSION "2026-10-28.endive"

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *copy_or(json_t *j, bool array)
{
    if (j != NULL)
        return json_deep_copy(j);
    return array ? json_array() : json_object();
}

void stripe_charge_id(const char *pi_id, char out[LIMIT_ID_MAX])
{
    const char *suffix = strncmp(pi_id, "pi_", 3) == 0 ? pi_id + 3 : pi_id;
    snprintf(out, LIMIT_ID_MAX, "ch_%.*s", LIMIT_ID_MAX - 4, suffix);
}

static void write_last_error(jsonw *w, const gw_payment *p)
{
    if (p->last_error_code == NULL) {
        jw_null(w, "last_payment_error");
        return;
    }
    jw_obj(w, "last_payment_error");
    jw_str(w, "type", p->last_error_type != NULL ? p->last_error_type : "card_error");
    jw_str(w, "code", p->last_error_code);
    if (p->last_error_message != NULL)
        jw_str(w, "message", p->last_error_message);
    jw_str(w, "doc_url", "https://docs.stripe.com/error-codes");
    if (p->method_type != NULL)
        jw_str(w, "payment_method_type", p->method_type);
    jw_obj_end(w);
}

static void write_next_action(jsonw *w, const gw_payment *p)
{
    if (p->m.state != PS_REQUIRES_ACTION || p->next_action_url == NULL) {
        jw_null(w, "next_action");
        return;
    }
    jw_obj(w, "next_action");
    jw_str(w, "type", "redirect_to_url");
    jw_obj(w, "redirect_to_url");
    jw_str(w, "url", p->next_action_url);
    jw_str(w, "return_url", p->return_url);
    jw_obj_end(w);
    if (p->qr_text != NULL) {
        jw_obj(w, "kassa_qr_code");
        jw_str(w, "data", p->qr_text);
        jw_obj_end(w);
    }
    jw_obj_end(w);
}

/* A jansson object or array of the record, or an empty one when it has none. */
static void write_or_empty(jsonw *w, const char *key, const json_t *j, bool array)
{
    if (j != NULL)
        jw_json(w, key, j);
    else
        jw_raw(w, key, array ? "[]" : "{}", 2);
}

void stripe_write_charge(jsonw *w, const char *key, const gw_payment *p)
{
    char ch[LIMIT_ID_MAX];
    stripe_charge_id(p->id, ch);
    jw_obj(w, key);
    jw_str(w, "id", ch);
    jw_str(w, "object", "charge");
    jw_int(w, "amount", p->m.authorized);
    jw_int(w, "amount_captured", p->m.captured);
    jw_int(w, "amount_refunded", p->m.refunded);
    jw_bool(w, "captured", p->m.captured > 0);
    jw_bool(w, "refunded", p->m.captured > 0 && p->m.refunded == p->m.captured);
    jw_str(w, "currency", p->currency);
    jw_int(w, "created", p->created);
    jw_str(w, "payment_intent", p->id);
    jw_bool(w, "livemode", gw_merchant_is_live(p->merchant_id));
    write_or_empty(w, "metadata", p->metadata, false);
    jw_str(w, "status", p->m.authorized > 0 ? "succeeded" : "pending");
    jw_str(w, "object_kind", "charge");
    jw_obj(w, "payment_method_details");
    jw_str(w, "type", p->method_type != NULL ? p->method_type : "klarna");
    jw_obj_end(w);
    jw_obj_end(w);
}

static void write_pi_kassa(jsonw *w, const gw_payment *p)
{
    jw_obj(w, "kassa");
    jw_int(w, "amount_refunded", p->m.refunded);
    jw_int(w, "amount_released", p->m.released);
    if (p->auth_expires_at)
        jw_int(w, "authorization_expires_at", p->auth_expires_at);
    else
        jw_null(w, "authorization_expires_at");
    jw_str(w, "payment_method_type", p->method_type);
    jw_str(w, "payment_method_detail", p->method_detail);
    jw_str(w, "provider_order", p->order_ref);
    jw_str(w, "checkout_session", p->checkout_session);
    jw_str(w, "channel", p->channel);
    write_or_empty(w, "order_lines", p->lines, true);
    if (p->rate_e9 > 0) {
        char rate[32];
        snprintf(rate, sizeof(rate), "%lld.%09lld", (long long)(p->rate_e9 / 1000000000),
                 (long long)(p->rate_e9 % 1000000000));
        for (size_t n = strlen(rate); n > 0 && rate[n - 1] == '0' && rate[n - 2] != '.'; n--)
            rate[n - 1] = '\0';
        jw_str(w, "exchange_rate_to_eur", rate);
    }
    jw_obj_end(w);
}

void stripe_write_pi(jsonw *w, const char *key, const gw_payment *p, bool expand_charge)
{
    jw_obj(w, key);
    jw_str(w, "id", p->id);
    jw_str(w, "object", "payment_intent");
    jw_int(w, "amount", p->m.amount);
    jw_int(w, "amount_capturable", pay_capturable(&p->m));
    jw_int(w, "amount_received", p->m.captured);
    jw_null(w, "application");
    jw_null(w, "application_fee_amount");
    jw_null(w, "automatic_payment_methods");
    if (p->canceled_at)
        jw_int(w, "canceled_at", p->canceled_at);
    else
        jw_null(w, "canceled_at");
    jw_str(w, "cancellation_reason", p->cancellation_reason);
    jw_str(w, "capture_method", p->manual_capture ? "manual" : "automatic");
    jw_str(w, "client_secret", p->client_secret);
    jw_str(w, "confirmation_method", "automatic");
    jw_int(w, "created", p->created);
    jw_str(w, "currency", p->currency);
    jw_null(w, "customer");
    jw_str(w, "description", p->description);
    write_last_error(w, p);
    if (p->m.authorized > 0 && expand_charge) {
        stripe_write_charge(w, "latest_charge", p);
    } else if (p->m.authorized > 0) {
        char ch[LIMIT_ID_MAX];
        stripe_charge_id(p->id, ch);
        jw_str(w, "latest_charge", ch);
    } else {
        jw_null(w, "latest_charge");
    }
    jw_bool(w, "livemode", gw_merchant_is_live(p->merchant_id));
    write_or_empty(w, "metadata", p->metadata, false);
    write_next_action(w, p);
    /* Kassa keeps no PaymentMethod objects; the attempt stands for one. */
    if (p->latest_attempt != NULL && strncmp(p->latest_attempt, "att_", 4) == 0) {
        char pm[LIMIT_ID_MAX + 4];
        snprintf(pm, sizeof(pm), "pm_%s", p->latest_attempt + 4);
        jw_str(w, "payment_method", pm);
    } else {
        jw_null(w, "payment_method");
    }
    jw_raw(w, "payment_method_options", "{}", 2);
    write_or_empty(w, "payment_method_types", p->method_types, true);
    jw_null(w, "processing");
    jw_str(w, "receipt_email", p->email);
    jw_null(w, "review");
    jw_null(w, "setup_future_usage");
    jw_null(w, "shipping");
    jw_null(w, "statement_descriptor");
    jw_null(w, "statement_descriptor_suffix");
    jw_str(w, "status", pay_state_name(p->m.state));
    jw_null(w, "transfer_data");
    jw_null(w, "transfer_group");
    write_pi_kassa(w, p);
    jw_obj_end(w);
}

json_t *stripe_render_pi(const gw_payment *p, bool expand_charge)
{
    buf b;
    buf_init(&b, LIMIT_RESPONSE_MAX);
    jsonw w;
    jw_init(&w, &b);
    stripe_write_pi(&w, NULL, p, expand_charge);
    json_t *o = jw_status(&w) == K_OK ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    buf_free(&b);
    return o != NULL ? o : json_object();
}

json_t *stripe_render_refund(const gw_refund *r)
{
    char ch[LIMIT_ID_MAX];
    stripe_charge_id(r->payment_id, ch);
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:o,s:s,s:I,s:s,s:o,s:s,s:o,s:o,s:s,s:o}", "id", r->id, "object",
                  "refund", "amount", (json_int_t)r->amount, "balance_transaction", json_null(),
                  "charge", ch, "created", (json_int_t)r->created, "currency", r->currency,
                  "metadata", copy_or(r->metadata, false), "payment_intent", r->payment_id,
                  "reason", str_or_null(r->reason), "receipt_number", json_null(), "status",
                  r->status, "failure_reason", str_or_null(r->failure_reason));
    return o;
}

json_t *stripe_render_endpoint(const gw_endpoint *e, bool with_secret)
{
    json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:I,s:o,s:o,s:b,s:o,s:s,s:s}", "id", e->id, "object",
                          "webhook_endpoint", "api_version", str_or_null(e->api_version),
                          "application", json_null(), "created", (json_int_t)e->created,
                          "description", str_or_null(e->description), "enabled_events",
                          copy_or(e->enabled_events, true), "livemode", 0, "metadata",
                          copy_or(e->metadata, false), "status", e->status, "url", e->url);
    if (with_secret)
        json_object_set_new(o, "secret", json_string(e->secret));
    return o;
}

json_t *stripe_render_deleted(const char *id, const char *object)
{
    return json_pack("{s:s,s:s,s:b}", "id", id, "object", object, "deleted", 1);
}

json_t *stripe_render_session(const gw_session *s)
{
    bool open = strcmp(s->status, "open") == 0;
    return json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:I,s:s,s:o,s:I,s:b,s:o,s:o,s:s,s:s,s:o,s:s,s:s,"
                     "s:s,s:o}",
                     "id", s->id, "object", "checkout.session", "amount_subtotal",
                     (json_int_t)s->amount_total, "amount_total", (json_int_t)s->amount_total,
                     "cancel_url", str_or_null(s->cancel_url), "client_reference_id",
                     str_or_null(s->client_reference_id), "created", (json_int_t)s->created,
                     "currency", s->currency, "customer_email", str_or_null(s->customer_email),
                     "expires_at", (json_int_t)s->expires_at, "livemode",
                     gw_merchant_is_live(s->merchant_id), "locale", str_or_null(s->locale),
                     "metadata", copy_or(s->metadata, false), "mode", "payment", "payment_intent",
                     s->payment_id, "payment_method_types", copy_or(s->method_types, true),
                     "payment_status", s->payment_status, "status", s->status, "success_url",
                     s->success_url, "url", open ? json_string(s->url) : json_null());
}

void stripe_line_item_id(const gw_session *s, size_t index, char out[LIMIT_ID_MAX])
{
    char seed[LIMIT_ID_MAX + 24];
    snprintf(seed, sizeof(seed), "%s:%zu", s->id, index);
    char hex[SHA256_HEX_LEN];
    crypto_sha256_hex(seed, strlen(seed), hex);
    snprintf(out, LIMIT_ID_MAX, "li_%.24s", hex);
}

/* One line item as Stripe's "item": the session keeps what the merchant sent
 * (price_data with unit_amount and product_data[name], quantity); price and
 * product ids are derived from the line item's id, so they are stable. */
json_t *stripe_render_line_item(const gw_session *s, size_t index)
{
    json_t *it = json_array_get(s->line_items, index);
    K_ASSERT(it != NULL);
    json_t *pd = json_object_get(it, "price_data");
    const char *name =
        json_string_value(json_object_get(json_object_get(pd, "product_data"), "name"));
    int64_t unit = (int64_t)json_integer_value(json_object_get(pd, "unit_amount"));
    int64_t qty = (int64_t)json_integer_value(json_object_get(it, "quantity"));
    int64_t total = 0;
    K_ASSERT(unit >= 0);
    K_ASSERT(qty >= 1);
    bool fits = money_mul(unit, qty, &total); /* the session's total was checked the same way */
    K_ASSERT(fits);
    char id[LIMIT_ID_MAX];
    stripe_line_item_id(s, index, id);
    char dec[24];
    snprintf(dec, sizeof(dec), "%lld", (long long)unit);
    json_t *price = json_pack(
        "{s:s+,s:s,s:b,s:s,s:I,s:s,s:b,s:o,s:s+,s:s,s:s,s:I,s:s}", "id", "price_", id + 3, "object",
        "price", "active", 0, "billing_scheme", "per_unit", "created", (json_int_t)s->created,
        "currency", s->currency, "livemode", gw_merchant_is_live(s->merchant_id), "metadata",
        json_object(), "product", "prod_", id + 3, "tax_behavior", "unspecified", "type",
        "one_time", "unit_amount", (json_int_t)unit, "unit_amount_decimal", dec);
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:I}", "id", id, "object", "item",
                     "amount_discount", (json_int_t)0, "amount_subtotal", (json_int_t)total,
                     "amount_tax", (json_int_t)0, "amount_total", (json_int_t)total, "currency",
                     s->currency, "description", name != NULL ? name : "", "price", price,
                     "quantity", (json_int_t)qty);
}

/* An event's data.object: the stored internal snapshot, rendered now. */
static void write_event_object(jsonw *w, const gw_event *ev, arena *a)
{
    const char *kind = ev->object_kind != NULL ? ev->object_kind : "";
    json_t *other = NULL;
    if (strcmp(kind, "payment_intent") == 0 || strcmp(kind, "charge") == 0) {
        gw_payment p;
        if (gw_payment_from_json(ev->object, a, &p) != K_OK)
            jw_raw(w, "object", "{}", 2);
        else if (strcmp(kind, "charge") == 0)
            stripe_write_charge(w, "object", &p);
        else
            stripe_write_pi(w, "object", &p, false);
        return;
    }
    if (strcmp(kind, "refund") == 0) {
        gw_refund r;
        gw_refund_from_json(ev->object, a, &r);
        other = stripe_render_refund(&r);
    } else if (strcmp(kind, "checkout.session") == 0) {
        gw_session s;
        gw_session_from_json(ev->object, a, &s);
        other = stripe_render_session(&s);
    } else {
        other = json_incref(ev->object);
    }
    write_or_empty(w, "object", other, false);
    json_decref(other);
}

void stripe_write_event(jsonw *w, const char *key, const gw_event *ev, arena *a)
{
    jw_obj(w, key);
    jw_str(w, "id", ev->id);
    jw_str(w, "object", "event");
    jw_str(w, "api_version", API_VERSION);
    jw_int(w, "created", ev->created);
    jw_obj(w, "data");
    write_event_object(w, ev, a);
    jw_obj_end(w);
    /* the snapshot names its merchant: a live twin's events are live */
    jw_bool(w, "livemode",
            gw_merchant_is_live(json_string_value(json_object_get(ev->object, "merchant_id"))));
    jw_int(w, "pending_webhooks", 0);
    jw_obj(w, "request");
    jw_str(w, "id", ev->request_id);
    jw_str(w, "idempotency_key", ev->idempotency_key);
    jw_obj_end(w);
    jw_str(w, "type", ev->type);
    jw_obj_end(w);
}
