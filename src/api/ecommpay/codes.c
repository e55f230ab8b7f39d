/*
 * codes.c - the gateway's reasons (gw_why) in ECommPay's unified codes: one
 * table from reason to the Gate's answer (HTTP status, code, message), with a
 * column for purchase requests and one for refund requests, since ECommPay
 * has refund-specific codes (3283: more than what is left). A NULL message
 * passes the gateway's own message on.
 */
#include <stdio.h>
#include "ecp_int.h"

typedef struct {
    int http;
    const char *code;
    const char *message; /* NULL = the gateway's message */
} ecp_code;

typedef struct {
    ecp_code sale;
    ecp_code refund;
} ecp_code_row;

#define M_STATUS      "Current payment or operation status does not allow this action"
#define M_GENERAL     "General decline"
#define M_REFUND_MORE "Refund amount more than init amount"

/* The request was wrong: 2004 for a purchase, 3060 for a refund. */
#define BAD_REQUEST                                                                                \
    {                                                                                              \
        {400, "2004", NULL},                                                                       \
        {                                                                                          \
            400, "3060", M_STATUS                                                                  \
        }                                                                                          \
    }
/* The payment is in no state for it (or the provider refused). */
#define REFUSED                                                                                    \
    {                                                                                              \
        {400, "20000", NULL},                                                                      \
        {                                                                                          \
            500, "20000", M_GENERAL                                                                \
        }                                                                                          \
    }
/* Kassa or the provider could not do it now. */
#define FAILED                                                                                     \
    {                                                                                              \
        {500, "20000", NULL},                                                                      \
        {                                                                                          \
            500, "20000", M_GENERAL                                                                \
        }                                                                                          \
    }

static const ecp_code_row ROWS[] = {
    [GW_WHY_NONE] = FAILED,
    [GW_WHY_NOT_FOUND] = REFUSED,
    [GW_WHY_PARAM_MISSING] = BAD_REQUEST,
    [GW_WHY_PARAM_INVALID] = BAD_REQUEST,
    [GW_WHY_PARAM_EMPTY] = BAD_REQUEST,
    [GW_WHY_PARAM_UNACCEPTED] = BAD_REQUEST,
    [GW_WHY_PARAM_OUT_OF_RANGE] = BAD_REQUEST,
    [GW_WHY_URL_INVALID] = BAD_REQUEST,
    [GW_WHY_AMOUNT_TOO_SMALL] = BAD_REQUEST,
    [GW_WHY_AMOUNT_TOO_LARGE] = {{400, "2004", NULL}, {400, "3283", M_REFUND_MORE}},
    [GW_WHY_ALREADY_REFUNDED] = {{400, "2004", NULL}, {400, "3283", M_REFUND_MORE}},
    [GW_WHY_WRONG_STATE] = BAD_REQUEST,
    [GW_WHY_IN_PROGRESS] = REFUSED,
    [GW_WHY_SESSION_CLOSED] = BAD_REQUEST,
    [GW_WHY_AUTH_EXPIRED] = BAD_REQUEST,
    [GW_WHY_EXTENSION_LIMIT] = BAD_REQUEST,
    [GW_WHY_METHOD_INVALID] = BAD_REQUEST,
    [GW_WHY_METHOD_UNAVAILABLE] = BAD_REQUEST,
    [GW_WHY_ALREADY_EXISTS] = {{400, "3041", "Payment ID already exists"}, {400, "3060", M_STATUS}},
    [GW_WHY_TOO_MANY] = BAD_REQUEST,
    [GW_WHY_DECLINED] = REFUSED,
    [GW_WHY_PROVIDER_REFUSED] = REFUSED,
    [GW_WHY_CAPTURE_FAILED] = REFUSED,
    [GW_WHY_CANCEL_FAILED] = REFUSED,
    [GW_WHY_PROVIDER_UNAVAILABLE] = FAILED,
    [GW_WHY_CALLBACK_REFUSED] = BAD_REQUEST,
    [GW_WHY_UNAUTHENTICATED] = REFUSED,
    [GW_WHY_FORBIDDEN] = REFUSED,
    [GW_WHY_IDEM_MISMATCH] = BAD_REQUEST,
    [GW_WHY_IDEM_IN_USE] = REFUSED,
    [GW_WHY_BUSY] = FAILED,
    [GW_WHY_RATE_LIMITED] = FAILED,
    [GW_WHY_CONFLICT] = REFUSED,
    [GW_WHY_STORAGE] = FAILED,
    [GW_WHY_STORAGE_FULL] = FAILED,
};
_Static_assert(K_ARRAY_LEN(ROWS) == GW_WHY__COUNT, "one ECommPay row per gateway reason");

void ecp_fail_of(const gw_err *e, bool refund, ecp_fail *out)
{
    K_ASSERT(e->why >= GW_WHY_NONE);
    K_ASSERT(e->why < GW_WHY__COUNT);
    const ecp_code *c = refund ? &ROWS[e->why].refund : &ROWS[e->why].sale;
    K_ASSERT(c->code != NULL);
    out->http = c->http;
    out->code = c->code;
    const char *msg = c->message != NULL ? c->message : e->message;
    snprintf(out->message, sizeof(out->message), "%.*s", (int)sizeof(out->message) - 1, msg);
}
