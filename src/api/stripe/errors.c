/*
 * errors.c - the gateway's reasons (gw_why) in Stripe's words: one table from
 * reason to HTTP status, error type and code, and the error object built from
 * it. The rest of the dialect never spells a status or a code for a gateway
 * refusal; request-shape errors the dialect finds itself (unknown parameter,
 * malformed form) use stripe_error_obj directly.
 */
#include <string.h>
#include "stripe_int.h"

typedef struct {
    int http;
    const char *type;
    const char *code; /* NULL = none; GW_WHY_DECLINED takes the decline reason */
} stripe_err_row;

#define IRE "invalid_request_error"

static const stripe_err_row ROWS[] = {
    [GW_WHY_NONE] = {500, "api_error", NULL},
    [GW_WHY_NOT_FOUND] = {404, IRE, "resource_missing"},
    [GW_WHY_PARAM_MISSING] = {400, IRE, "parameter_missing"},
    [GW_WHY_PARAM_INVALID] = {400, IRE, "parameter_invalid"},
    [GW_WHY_PARAM_EMPTY] = {400, IRE, "parameter_invalid_empty"},
    [GW_WHY_PARAM_UNACCEPTED] = {400, IRE, "parameter_invalid_string"},
    [GW_WHY_PARAM_OUT_OF_RANGE] = {400, IRE, "parameter_invalid_integer"},
    [GW_WHY_URL_INVALID] = {400, IRE, "url_invalid"},
    [GW_WHY_AMOUNT_TOO_SMALL] = {400, IRE, "amount_too_small"},
    [GW_WHY_AMOUNT_TOO_LARGE] = {400, IRE, "amount_too_large"},
    [GW_WHY_ALREADY_REFUNDED] = {400, IRE, "charge_already_refunded"},
    [GW_WHY_WRONG_STATE] = {400, IRE, "payment_intent_unexpected_state"},
    [GW_WHY_IN_PROGRESS] = {409, IRE, "payment_intent_unexpected_state"},
    [GW_WHY_SESSION_CLOSED] = {400, IRE, "checkout_session_unexpected_state"},
    [GW_WHY_AUTH_EXPIRED] = {400, IRE, "authorization_expired"},
    [GW_WHY_EXTENSION_LIMIT] = {400, IRE, "authorization_extension_limit"},
    [GW_WHY_METHOD_INVALID] = {400, IRE, "payment_method_invalid_parameter"},
    [GW_WHY_METHOD_UNAVAILABLE] = {400, IRE, "payment_method_not_available"},
    [GW_WHY_ALREADY_EXISTS] = {400, IRE, "resource_already_exists"},
    [GW_WHY_TOO_MANY] = {400, IRE, "webhook_endpoints_limit"},
    [GW_WHY_DECLINED] = {402, "card_error", NULL},
    [GW_WHY_PROVIDER_REFUSED] = {402, IRE, "provider_refused"},
    [GW_WHY_CAPTURE_FAILED] = {402, IRE, "capture_failed"},
    [GW_WHY_CANCEL_FAILED] = {402, IRE, "cancel_failed"},
    [GW_WHY_PROVIDER_UNAVAILABLE] = {502, "api_error", "provider_unavailable"},
    [GW_WHY_CALLBACK_REFUSED] = {400, IRE, NULL},
    [GW_WHY_UNAUTHENTICATED] = {401, IRE, NULL},
    [GW_WHY_FORBIDDEN] = {403, IRE, NULL},
    [GW_WHY_IDEM_MISMATCH] = {400, "idempotency_error", NULL},
    [GW_WHY_IDEM_IN_USE] = {409, "idempotency_error", "idempotency_key_in_use"},
    [GW_WHY_BUSY] = {503, "api_error", "rate_limit"},
    /* Klarna-backed calls past the account's limit: 400 rate_limit, as Stripe answers (seed 001) */
    [GW_WHY_RATE_LIMITED] = {400, IRE, "rate_limit"},
    [GW_WHY_CONFLICT] = {409, IRE, "lock_timeout"},
    [GW_WHY_STORAGE] = {500, "api_error", NULL},
    [GW_WHY_STORAGE_FULL] = {503, "api_error", NULL},
};
_Static_assert(K_ARRAY_LEN(ROWS) == GW_WHY__COUNT, "one Stripe row per gateway reason");

static const stripe_err_row *row_of(gw_why why)
{
    K_ASSERT(why >= GW_WHY_NONE);
    K_ASSERT(why < GW_WHY__COUNT);
    K_ASSERT(ROWS[why].type != NULL);
    return &ROWS[why];
}

json_t *stripe_error_obj(const char *type, const char *code, const char *param, const char *msg)
{
    json_t *e = json_object();
    json_object_set_new(e, "type", json_string(type != NULL ? type : IRE));
    if (code != NULL)
        json_object_set_new(e, "code", json_string(code));
    if (param != NULL && param[0] != '\0')
        json_object_set_new(e, "param", json_string(param));
    json_object_set_new(e, "message", json_string(msg));
    if (code != NULL)
        json_object_set_new(e, "doc_url",
                            json_sprintf("https://docs.stripe.com/error-codes/%s", code));
    return json_pack("{s:o}", "error", e);
}

int stripe_error_status(const gw_err *e)
{
    return row_of(e->why)->http;
}

json_t *stripe_error_body(const gw_err *e)
{
    const stripe_err_row *r = row_of(e->why);
    const char *code = e->why == GW_WHY_DECLINED ? e->decline : r->code;
    return stripe_error_obj(r->type, code, e->param,
                            e->message[0] ? e->message : "An error occurred.");
}
