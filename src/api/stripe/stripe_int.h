/*
 * stripe_int.h - shared inside the Stripe-compatible dialect: renderers from
 * Kassa's records to Stripe's objects, and the request plumbing.
 */
#ifndef KASSA_STRIPE_INT_H
#define KASSA_STRIPE_INT_H

#include <jansson.h>
#include "../api.h"
#include "../../base/form.h"
#include "../../base/jsonw.h"

void stripe_charge_id(const char *pi_id, char out[LIMIT_ID_MAX]);
/* The hot objects are written as text (jsonw.h); key NULL at the top or in an array. */
void stripe_write_pi(jsonw *w, const char *key, const gw_payment *p, bool expand_charge);
void stripe_write_charge(jsonw *w, const char *key, const gw_payment *p);
void stripe_write_event(jsonw *w, const char *key, const gw_event *ev, arena *a);
/* The same PaymentIntent as a jansson tree, where one is embedded (402 errors). */
json_t *stripe_render_pi(const gw_payment *p, bool expand_charge);
json_t *stripe_render_refund(const gw_refund *r);
json_t *stripe_render_endpoint(const gw_endpoint *e, bool with_secret);
json_t *stripe_render_deleted(const char *id, const char *object);
json_t *stripe_render_session(const gw_session *s);
/* Checkout line items (GET /v1/checkout/sessions/:id/line_items): item i of the
 * session and its stable id li_<24 hex of sha256("cs_...:i")>. */
void stripe_line_item_id(const gw_session *s, size_t index, char out[LIMIT_ID_MAX]);
json_t *stripe_render_line_item(const gw_session *s, size_t index);

/* Errors (errors.c): the gateway's reason as Stripe's status and error object
 * {"error":{type, code, param, message, doc_url}}; stripe_error_obj for errors
 * the dialect finds itself. Trees are the caller's. */
json_t *stripe_error_obj(const char *type, const char *code, const char *param, const char *msg);
int stripe_error_status(const gw_err *e);
json_t *stripe_error_body(const gw_err *e);

/* The idempotency fingerprint of a request (see stripe.c). */
k_status stripe_fingerprint(const char *method, const char *path, json_t *params, char out[65]);

/* Webhook deliveries of the Stripe dialect: event JSON + Stripe-Signature. */
k_status stripe_format_delivery(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                                gw_delivery_req *out);

#endif
