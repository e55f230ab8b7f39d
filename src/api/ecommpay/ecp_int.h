/*
 * ecp_int.h - what the ECommPay dialect's files share: the order a Payment
 * Page or Gate request describes, how it becomes (and starts) an intent,
 * ECommPay's error codes, and the callback document built from an intent or
 * a refund (callback.c), which the status endpoint answers with too.
 */
#ifndef KASSA_ECP_INT_H
#define KASSA_ECP_INT_H

#include "../api.h"
#include "ecp_sign.h"

#define ECP_CHANNEL "ecommpay"
/* Metadata keys the dialect keeps on the intent (values <= LIMIT_METADATA_VALUE_MAX). */
#define ECP_MD_CUSTOMER      "ecp_customer_id"
#define ECP_MD_SUCCESS       "ecp_success_url"
#define ECP_MD_FAIL          "ecp_fail_url"
#define ECP_MD_RETURN        "ecp_return_url"
#define ECP_MD_INIT_AMOUNT   "ecp_sum_initial_amount"
#define ECP_MD_INIT_CURRENCY "ecp_sum_initial_currency"
/* Kept on a refund made through the Gate, for its callback's payment.description. */
#define ECP_MD_PAY_DESCRIPTION "ecp_payment_description"
/* The merchant setting holding the project's default callback URL. */
#define ECP_SETTING_CALLBACK "ecp_callback_url"

/* A refusal in ECommPay's terms: HTTP status, unified code, message. */
typedef struct {
    int http;
    const char *code;
    char message[256];
} ecp_fail;

/* The gateway's refusal as the Gate's answer (codes.c, one table); refund:
 * the refund request's codes (3283 ...) instead of a purchase's. */
void ecp_fail_of(const gw_err *e, bool refund, ecp_fail *out);

typedef struct {
    const char *merchant_id;
    int64_t project_id;
    const char *payment_id; /* the merchant's, unique per project */
    int64_t amount;         /* minor units of currency, as asked */
    const char *currency;   /* upper-case as asked */
    const char *method;     /* rule name: klarna_pay_now, klarna; NULL = let the customer pick */
    const char *customer_id, *email, *country, *first_name, *last_name, *language;
    const char *description;
    const char *callback_url; /* NULL = the project's default */
    const char *success_url, *fail_url, *return_url;
} ecp_order;

/* Rule name for an ECommPay method name ("sofort", "online-banking",
 * "klarna-pay-now" -> klarna_pay_now; "klarna" -> klarna); NULL if unknown.
 * gate: the Gate's online-banking group, where "klarna" is Pay Now too. */
const char *ecp_method_rule(const char *name, bool gate);

/* Converts (when the method does not take the currency), creates the intent
 * (channel ecommpay) and, when o->method is set, confirms it. A confirmation
 * the rules or the provider refuse cancels the intent: the shop gets a decline
 * callback and *declined is set. K_OK with out filled; else fail is set. */
k_status ecp_order_start(api_ctx *ctx, const ecp_order *o, arena *a, gw_payment *out,
                         bool *declined, ecp_fail *fail);
/* Confirms an existing intent with method (the customer chose on the page). */
k_status ecp_order_confirm(api_ctx *ctx, const char *merchant_id, gw_payment *p, const char *method,
                           arena *a, bool *declined, ecp_fail *fail);

/* The callback document of an intent's current state (no signature). */
json_t *ecp_payment_doc(int64_t project_id, const gw_payment *p, const char *request_id,
                        int64_t now_s, const char *op_key);
/* The callback document of a refund (no signature). */
json_t *ecp_refund_doc(int64_t project_id, const gw_refund *r, const char *request_id,
                       int64_t now_s);
/* Signs doc in place (top-level "signature"). */
k_status ecp_sign_doc(const char *secret, json_t *doc);
/* A stable JSON-safe (< 2^53) numeric id for an operation key. */
int64_t ecp_numeric_id(const char *key);
/* The formatter registered for "ecommpay" deliveries. */
k_status ecp_format_delivery(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                             gw_delivery_req *out);

/* Payment Page handlers (page.c). */
void ecp_h_page(http_req *r, http_resp *resp, void *ctx);
void ecp_h_choose(http_req *r, http_resp *resp, void *ctx);
void ecp_h_result(http_req *r, http_resp *resp, void *ctx);

#endif
