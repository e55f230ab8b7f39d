/*
 * render.c - Kassa's records in Stripe's shapes: PaymentIntent, Charge,
 * Refund, Event, WebhookEndpoint, Checkout Session, lists and errors. Fields
 * Stripe has and Kassa does not use are present as null (clients read them),
 * Kassa's own additions sit under "kassa" where a client ignores them.
 */
#include <stdio.h>
#include <string.h>
#include "stripe_int.h"
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

static json_t *last_error(const gw_payment *p)
{
    if (p->last_error_code == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:s?,s:s,s:s?}", "type",
                     p->last_error_type != NULL ? p->last_error_type : "card_error", "code",
                     p->last_error_code, "message", p->last_error_message, "doc_url",
                     "https://docs.stripe.com/error-codes", "payment_method_type", p->method_type);
}

static json_t *next_action(const gw_payment *p)
{
    if (p->m.state != PS_REQUIRES_ACTION || p->next_action_url == NULL)
        return json_null();
    json_t *na = json_pack("{s:s,s:{s:s,s:o}}", "type", "redirect_to_url", "redirect_to_url", "url",
                           p->next_action_url, "return_url", str_or_null(p->return_url));
    if (p->qr_text != NULL)
        json_object_set_new(na, "kassa_qr_code", json_pack("{s:s}", "data", p->qr_text));
    return na;
}

json_t *stripe_render_charge(const gw_payment *p)
{
    char ch[LIMIT_ID_MAX];
    stripe_charge_id(p->id, ch);
    const char *status = p->m.authorized > 0 ? "succeeded" : "pending";
    return json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:b,s:b,s:s,s:I,s:s,s:b,s:o,s:s,s:s,s:o}", "id", ch, "object",
        "charge", "amount", (json_int_t)p->m.authorized, "amount_captured",
        (json_int_t)p->m.captured, "amount_refunded", (json_int_t)p->m.refunded, "captured",
        p->m.captured > 0, "refunded", p->m.captured > 0 && p->m.refunded == p->m.captured,
        "currency", p->currency, "created", (json_int_t)p->created, "payment_intent", p->id,
        "livemode", 0, "metadata", copy_or(p->metadata, false), "status", status, "object_kind",
        "charge", "payment_method_details",
        json_pack("{s:s}", "type", p->method_type != NULL ? p->method_type : "klarna"));
}

json_t *stripe_render_pi(const gw_payment *p, bool expand_charge)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "object", json_string("payment_intent"));
    json_object_set_new(o, "amount", json_integer(p->m.amount));
    json_object_set_new(o, "amount_capturable", json_integer(pay_capturable(&p->m)));
    json_object_set_new(o, "amount_received", json_integer(p->m.captured));
    json_object_set_new(o, "application", json_null());
    json_object_set_new(o, "application_fee_amount", json_null());
    json_object_set_new(o, "automatic_payment_methods", json_null());
    json_object_set_new(o, "canceled_at",
                        p->canceled_at ? json_integer(p->canceled_at) : json_null());
    json_object_set_new(o, "cancellation_reason", str_or_null(p->cancellation_reason));
    json_object_set_new(o, "capture_method",
                        json_string(p->manual_capture ? "manual" : "automatic"));
    json_object_set_new(o, "client_secret", json_string(p->client_secret));
    json_object_set_new(o, "confirmation_method", json_string("automatic"));
    json_object_set_new(o, "created", json_integer(p->created));
    json_object_set_new(o, "currency", json_string(p->currency));
    json_object_set_new(o, "customer", json_null());
    json_object_set_new(o, "description", str_or_null(p->description));
    json_object_set_new(o, "last_payment_error", last_error(p));
    if (p->m.authorized > 0) {
        char ch[LIMIT_ID_MAX];
        stripe_charge_id(p->id, ch);
        json_object_set_new(o, "latest_charge",
                            expand_charge ? stripe_render_charge(p) : json_string(ch));
    } else {
        json_object_set_new(o, "latest_charge", json_null());
    }
    json_object_set_new(o, "livemode", json_false());
    json_object_set_new(o, "metadata", copy_or(p->metadata, false));
    json_object_set_new(o, "next_action", next_action(p));
    /* Kassa keeps no PaymentMethod objects; the attempt stands for one. */
    if (p->latest_attempt != NULL && strncmp(p->latest_attempt, "att_", 4) == 0)
        json_object_set_new(o, "payment_method", json_sprintf("pm_%s", p->latest_attempt + 4));
    else
        json_object_set_new(o, "payment_method", json_null());
    json_object_set_new(o, "payment_method_options", json_object());
    json_object_set_new(o, "payment_method_types", copy_or(p->method_types, true));
    json_object_set_new(o, "processing", json_null());
    json_object_set_new(o, "receipt_email", str_or_null(p->email));
    json_object_set_new(o, "review", json_null());
    json_object_set_new(o, "setup_future_usage", json_null());
    json_object_set_new(o, "shipping", json_null());
    json_object_set_new(o, "statement_descriptor", json_null());
    json_object_set_new(o, "statement_descriptor_suffix", json_null());
    json_object_set_new(o, "status", json_string(pay_state_name(p->m.state)));
    json_object_set_new(o, "transfer_data", json_null());
    json_object_set_new(o, "transfer_group", json_null());
    json_t *k = json_object();
    json_object_set_new(k, "amount_refunded", json_integer(p->m.refunded));
    json_object_set_new(k, "amount_released", json_integer(p->m.released));
    json_object_set_new(k, "authorization_expires_at",
                        p->auth_expires_at ? json_integer(p->auth_expires_at) : json_null());
    json_object_set_new(k, "payment_method_type", str_or_null(p->method_type));
    json_object_set_new(k, "payment_method_detail", str_or_null(p->method_detail));
    json_object_set_new(k, "provider_order", str_or_null(p->order_ref));
    json_object_set_new(k, "checkout_session", str_or_null(p->checkout_session));
    json_object_set_new(k, "channel", str_or_null(p->channel));
    json_object_set_new(k, "order_lines", copy_or(p->lines, true));
    if (p->rate_e9 > 0) {
        char rate[32];
        snprintf(rate, sizeof(rate), "%lld.%09lld", (long long)(p->rate_e9 / 1000000000),
                 (long long)(p->rate_e9 % 1000000000));
        for (size_t n = strlen(rate); n > 0 && rate[n - 1] == '0' && rate[n - 2] != '.'; n--)
            rate[n - 1] = '\0';
        json_object_set_new(k, "exchange_rate_to_eur", json_string(rate));
    }
    json_object_set_new(o, "kassa", k);
    return o;
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
    return json_pack(
        "{s:s,s:s,s:I,s:I,s:o,s:o,s:I,s:s,s:o,s:I,s:b,s:o,s:o,s:s,s:s,s:o,s:s,s:s,"
        "s:s,s:o}",
        "id", s->id, "object", "checkout.session", "amount_subtotal", (json_int_t)s->amount_total,
        "amount_total", (json_int_t)s->amount_total, "cancel_url", str_or_null(s->cancel_url),
        "client_reference_id", str_or_null(s->client_reference_id), "created",
        (json_int_t)s->created, "currency", s->currency, "customer_email",
        str_or_null(s->customer_email), "expires_at", (json_int_t)s->expires_at, "livemode", 0,
        "locale", str_or_null(s->locale), "metadata", copy_or(s->metadata, false), "mode",
        "payment", "payment_intent", s->payment_id, "payment_method_types",
        copy_or(s->method_types, true), "payment_status", s->payment_status, "status", s->status,
        "success_url", s->success_url, "url", open ? json_string(s->url) : json_null());
}

/* An event's data.object: the stored internal snapshot, rendered now. */
json_t *stripe_render_event_object(const gw_event *ev, arena *a)
{
    const char *kind = ev->object_kind != NULL ? ev->object_kind : "";
    if (strcmp(kind, "payment_intent") == 0 || strcmp(kind, "charge") == 0) {
        gw_payment p;
        if (gw_payment_from_json(ev->object, a, &p) != K_OK)
            return json_object();
        return strcmp(kind, "charge") == 0 ? stripe_render_charge(&p) : stripe_render_pi(&p, false);
    }
    if (strcmp(kind, "refund") == 0) {
        gw_refund r;
        gw_refund_from_json(ev->object, a, &r);
        return stripe_render_refund(&r);
    }
    if (strcmp(kind, "checkout.session") == 0) {
        gw_session s;
        gw_session_from_json(ev->object, a, &s);
        return stripe_render_session(&s);
    }
    return json_deep_copy(ev->object);
}

json_t *stripe_render_event(const gw_event *ev, arena *a)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:{s:o},s:b,s:i,s:{s:o,s:o},s:s}", "id", ev->id, "object",
                     "event", "api_version", API_VERSION, "created", (json_int_t)ev->created,
                     "data", "object", stripe_render_event_object(ev, a), "livemode", 0,
                     "pending_webhooks", 0, "request", "id", str_or_null(ev->request_id),
                     "idempotency_key", str_or_null(ev->idempotency_key), "type", ev->type);
}
