/*
 * callback.c - ECommPay callbacks: the internal events of an ECommPay-channel
 * payment turned into the signed callback documents ECommPay sends
 * (wire-formats.md §A3, the seed's examples). The dispatcher delivers them
 * through the outbox and retries until the shop answers 2xx.
 *
 *   payment_intent.requires_action -> status "awaiting redirect result" + redirect_data
 *   payment_intent.succeeded       -> payment success, operation sale success, code 0
 *   payment_intent.payment_failed  -> decline, code 20000 / 20100 / 20301 / 20602
 *   payment_intent.canceled        -> decline, code 20000 (e.g. below the minimum)
 *   refund.updated / refund.failed -> operation refund success / decline (payment carries
 *                                     the payment's description and merchant_refund_id)
 *   anything else                  -> K_ENOTFOUND (ECommPay sends nothing)
 *
 * Documents never hold null (the official package's Callback throws on it):
 * absent strings are "" and absent objects are left out. Numbers are integers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ecp_int.h"
#include "../../base/clock.h"
#include "../../base/crypto.h"
#include "../../domain/money.h"

static json_t *str(const char *s)
{
    return json_string(s != NULL ? s : "");
}

static json_t *sum(int64_t amount, const char *currency)
{
    char up[4];
    currency_upper(currency != NULL ? currency : "", up);
    return json_pack("{s:I,s:s}", "amount", (json_int_t)amount, "currency", up);
}

static const char *iso(int64_t s, char out[32])
{
    clock_fmt_iso(s, out);
    return out;
}

int64_t ecp_numeric_id(const char *key)
{
    uint8_t h[SHA256_LEN];
    crypto_sha256(key, strlen(key), h);
    int64_t v = 0;
    for (int i = 0; i < 6; i++)
        v = (v << 8) | h[i];
    return v + 1; /* < 2^48 + 1: safe in JavaScript */
}

/* ECommPay code and message for a Kassa failure code. */
static void decline_code(const char *code, const char **ecp, const char **msg)
{
    if (code != NULL && strstr(code, "expired") != NULL) {
        *ecp = "20602";
        *msg = "Time-out";
    } else if (code != NULL && (strstr(code, "authentication") != NULL ||
                                strstr(code, "customer") != NULL || strstr(code, "cancel"))) {
        *ecp = "20301";
        *msg = "Account owner cancelled operation";
    } else if (code != NULL && strstr(code, "provider") != NULL) {
        *ecp = "20100";
        *msg = "Declined by external provider";
    } else {
        *ecp = "20000";
        *msg = "General decline";
    }
}

static const char *md(const gw_payment *p, const char *key)
{
    return json_string_value(json_object_get(p->metadata, key));
}

static const char *pay_status(const gw_payment *p)
{
    switch (p->m.state) {
    case PS_REQUIRES_ACTION:
        return "awaiting redirect result";
    case PS_SUCCEEDED:
    case PS_REQUIRES_CAPTURE:
        if (p->m.refunded > 0)
            return p->m.refunded >= p->m.captured ? "refunded" : "partially refunded";
        return p->m.state == PS_SUCCEEDED ? "success" : "awaiting capture";
    case PS_CANCELED:
        return "decline";
    case PS_REQUIRES_PAYMENT_METHOD:
        return p->last_error_code != NULL ? "decline" : "awaiting customer";
    default:
        return "processing";
    }
}

static const char *method_name(const char *rule)
{
    if (rule != NULL && strcmp(rule, "alipay") == 0)
        return "alipay";
    return rule != NULL && strcmp(rule, "klarna") == 0 ? "klarna" : "sofort";
}

json_t *ecp_payment_doc(int64_t project_id, const gw_payment *p, const char *request_id,
                        int64_t now_s, const char *op_key)
{
    char d1[32], d2[32];
    const char *status = pay_status(p);
    const char *op_status = strcmp(status, "decline") == 0             ? "decline"
                            : p->m.state == PS_REQUIRES_ACTION         ? "awaiting redirect result"
                            : p->m.captured > 0 || p->m.authorized > 0 ? "success"
                                                                       : "processing";
    const char *code = "0", *msg = "Success";
    if (strcmp(op_status, "decline") == 0)
        decline_code(p->last_error_code, &code, &msg);
    else if (strcmp(op_status, "success") != 0)
        msg = "Awaiting processing";
    json_t *init_amount = NULL;
    const char *ia = md(p, ECP_MD_INIT_AMOUNT), *ic = md(p, ECP_MD_INIT_CURRENCY);
    int64_t asked = p->m.amount;
    if (ia != NULL && ic != NULL) {
        char *end;
        long long v = strtoll(ia, &end, 10);
        if (*end == '\0' && v > 0)
            asked = v;
    }
    init_amount = sum(asked, ic != NULL ? ic : p->currency);
    json_t *payment = json_pack("{s:o,s:s,s:s,s:o,s:s,s:o,s:o}", "id",
                                str(p->external_id != NULL ? p->external_id : p->id), "type",
                                "purchase", "status", status, "date", str(iso(now_s, d1)), "method",
                                method_name(p->method_type), "sum", json_deep_copy(init_amount),
                                "description", str(p->description));
    json_t *prov_obj =
        json_pack("{s:i,s:o,s:s,s:o}", "id", 1169, "payment_id", str(p->provider_ref), "auth_code",
                  "", "date", str(iso(now_s, d1)));
    char key[LIMIT_ID_MAX * 2 + 40];
    snprintf(key, sizeof(key), "%s:%s", p->id, op_key != NULL ? op_key : "sale");
    json_t *op = json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s}", "id",
                           (json_int_t)ecp_numeric_id(key), "type", "sale", "status", op_status,
                           "date", str(iso(now_s, d1)), "created_date", str(iso(p->created, d2)),
                           "request_id", str(request_id), "sum_initial", init_amount,
                           "sum_converted", sum(p->m.amount, p->currency), "provider", prov_obj,
                           "code", code, "message", msg);
    json_t *doc = json_pack("{s:I,s:o,s:o}", "project_id", (json_int_t)project_id, "payment",
                            payment, "operation", op);
    const char *cust = md(p, ECP_MD_CUSTOMER);
    if (cust != NULL)
        json_object_set_new(doc, "customer", json_pack("{s:s}", "id", cust));
    if (p->m.state == PS_REQUIRES_ACTION && p->next_action_url != NULL)
        json_object_set_new(doc, "redirect_data",
                            json_pack("{s:[],s:s,s:s,s:[]}", "body", "method", "GET", "url",
                                      p->next_action_url, "encrypted"));
    return doc;
}

json_t *ecp_refund_doc(int64_t project_id, const gw_refund *r, const char *request_id,
                       int64_t now_s)
{
    char d1[32], d2[32];
    bool ok = r->status != NULL && strcmp(r->status, "succeeded") == 0;
    const char *pstatus = !ok                                        ? "success"
                          : r->payment_refunded >= r->payment_amount ? "refunded"
                                                                     : "partially refunded";
    const char *pdesc = json_string_value(json_object_get(r->metadata, ECP_MD_PAY_DESCRIPTION));
    json_t *payment =
        json_pack("{s:o,s:s,s:s,s:o,s:s,s:o,s:o}", "id",
                  str(r->payment_external_id != NULL ? r->payment_external_id : r->payment_id),
                  "type", "purchase", "status", pstatus, "date", str(iso(now_s, d1)), "method",
                  "sofort", "sum", sum(r->payment_amount, r->currency), "description", str(pdesc));
    /* Where paymentpage-sdk-php's callback fixtures carry it: payment.merchant_refund_id. */
    if (r->external_id != NULL)
        json_object_set_new(payment, "merchant_refund_id", json_string(r->external_id));
    json_t *prov_obj =
        json_pack("{s:i,s:o,s:s,s:o}", "id", 1169, "payment_id", str(r->provider_ref), "auth_code",
                  "", "date", str(iso(now_s, d1)));
    json_t *op = json_pack(
        "{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s}", "id", (json_int_t)ecp_numeric_id(r->id),
        "type", "refund", "status", ok ? "success" : "decline", "date", str(iso(now_s, d1)),
        "created_date", str(iso(r->created, d2)), "request_id", str(request_id), "sum_initial",
        sum(r->amount, r->currency), "sum_converted", sum(r->amount, r->currency), "provider",
        prov_obj, "code", ok ? "0" : "20000", "message", ok ? "Success" : "General decline");
    json_t *doc = json_pack("{s:I,s:o,s:o}", "project_id", (json_int_t)project_id, "payment",
                            payment, "operation", op);
    const char *cust = json_string_value(json_object_get(r->metadata, ECP_MD_CUSTOMER));
    if (cust != NULL)
        json_object_set_new(doc, "customer", json_pack("{s:s}", "id", cust));
    return doc;
}

k_status ecp_sign_doc(const char *secret, json_t *doc)
{
    char sig[SHA512_B64_LEN];
    k_status st = ecp_sign(secret, doc, sig);
    if (st == K_OK)
        json_object_set_new(doc, "signature", json_string(sig));
    return st;
}

static json_t *event_doc(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a)
{
    const char *t = ev->type;
    if (strcmp(t, "refund.updated") == 0 || strcmp(t, "refund.failed") == 0) {
        gw_refund r;
        if (gw_refund_from_json(ev->object, a, &r) != K_OK)
            return NULL;
        if (strcmp(t, "refund.updated") == 0 && strcmp(r.status, "succeeded") != 0)
            return NULL;
        return ecp_refund_doc(ep->project_id, &r, ev->request_id, now_s);
    }
    static const char *const PI_EVENTS[] = {
        "payment_intent.requires_action", "payment_intent.succeeded",
        "payment_intent.payment_failed", "payment_intent.canceled"};
    for (size_t i = 0; i < K_ARRAY_LEN(PI_EVENTS); i++) {
        if (strcmp(t, PI_EVENTS[i]) != 0)
            continue;
        gw_payment p;
        if (gw_payment_from_json(ev->object, a, &p) != K_OK)
            return NULL;
        return ecp_payment_doc(ep->project_id, &p, ev->request_id, now_s, ev->id);
    }
    return NULL;
}

k_status ecp_format_delivery(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                             gw_delivery_req *out)
{
    K_ASSERT(ev != NULL && ep != NULL && out != NULL);
    if (ev->type == NULL || ev->object == NULL)
        return K_ENOTFOUND;
    json_t *doc = event_doc(ev, ep, now_s, a);
    if (doc == NULL)
        return K_ENOTFOUND;
    k_status st = ep->secret != NULL ? ecp_sign_doc(ep->secret, doc) : K_EINVAL;
    char *body = st == K_OK ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (body == NULL)
        return st != K_OK ? st : K_ENOMEM;
    out->body = arena_strdup(a, body);
    free(body);
    if (out->body == NULL)
        return K_ENOMEM;
    out->body_len = strlen(out->body);
    out->url = ep->url;
    out->headers[0] = "Content-Type: application/json; charset=utf-8";
    out->headers[1] = "User-Agent: Kassa/1.0 (+ecommpay-callbacks)";
    out->headers[2] = NULL;
    return K_OK;
}
