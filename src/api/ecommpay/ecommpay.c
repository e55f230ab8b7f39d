/*
 * ecommpay.c - the ECommPay-compatible merchant API: routes, the Gate
 * (online-banking sale and refund, payment status), the Data API
 * (/operations/get), the Kassa extension that sets a project's callback URL,
 * and the one path every purchase takes onto the payment core
 * (ecp_order_start). Requests are signed with the project's secret
 * (ecp_sign.h); answers and callbacks use ECommPay's unified codes. No
 * business rule lives here: amounts, currencies and countries are judged by
 * the gateway's rules, and an unsupported currency is converted first (as
 * ECommPay does on its side) by the gateway, at the rate of its one rule set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "ecp_int.h"
#include "../../base/tz.h"
#include "../../gateway/reports.h"
#include "../../base/form.h"
#include "../../base/httpc.h"
#include "../../base/clock.h"
#include "../../base/log.h"
#include "../../domain/money.h"

const char *ecp_method_rule(const char *name, bool gate)
{
    static const struct {
        const char *name, *rule;
    } MAP[] = {{"sofort", "klarna_pay_now"},
               {"online-banking", "klarna_pay_now"},
               {"klarna-pay-now", "klarna_pay_now"},
               {"klarna_pay_now", "klarna_pay_now"},
               {"klarna-pay-later", "klarna"},
               {"klarna", "klarna"},
               {"alipay", "alipay"},
               {"alipay-plus", "alipay"}};
    if (name == NULL)
        return NULL;
    if (gate && strcmp(name, "klarna") == 0)
        return "klarna_pay_now";
    for (size_t i = 0; i < K_ARRAY_LEN(MAP); i++)
        if (strcmp(MAP[i].name, name) == 0)
            return MAP[i].rule;
    return NULL;
}

static void fail_set(ecp_fail *f, int http, const char *code, const char *msg)
{
    f->http = http;
    f->code = code;
    snprintf(f->message, sizeof(f->message), "%.*s", (int)sizeof(f->message) - 1, msg);
}

/* The project's default callback URL (merchant settings; the tree is arena-owned). */
static const char *project_callback(api_ctx *ctx, const char *merchant_id, arena *a)
{
    json_t *s = NULL;
    if (gw_merchant_settings(ctx->g, merchant_id, a, &s) != K_OK || s == NULL)
        return NULL;
    const char *v = json_string_value(json_object_get(s, ECP_SETTING_CALLBACK));
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool md_put(json_t *md, const char *key, const char *v, ecp_fail *fail)
{
    if (v == NULL || v[0] == '\0')
        return true;
    if (strlen(v) > LIMIT_METADATA_VALUE_MAX) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s is longer than %d characters", key + 4,
                 LIMIT_METADATA_VALUE_MAX);
        fail_set(fail, 400, "2004", msg);
        return false;
    }
    json_object_set_new(md, key, json_string(v));
    return true;
}

k_status ecp_order_confirm(api_ctx *ctx, const char *merchant_id, gw_payment *p, const char *method,
                           arena *a, bool *declined, ecp_fail *fail)
{
    gw_pi_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.capture_manual = -1;
    cp.method_type = method;
    gw_err err;
    memset(&err, 0, sizeof(err));
    char id[LIMIT_ID_MAX];
    snprintf(id, sizeof(id), "%s", p->id);
    k_status st = gw_pi_confirm(ctx->g, merchant_id, id, &cp, NULL, a, p, &err);
    if (st == K_OK)
        return K_OK;
    *declined = true;
    if (st == K_ERR) /* the attempt failed: payment_failed sends the decline */
        return K_OK;
    /* Refused before the provider (rules: amount, country ...): the intent is
     * unchanged; cancel it so the shop gets its decline callback. */
    log_info("ecommpay: payment '%s' declined: %s", id, err.message);
    gw_err cerr;
    memset(&cerr, 0, sizeof(cerr));
    st = gw_pi_cancel(ctx->g, merchant_id, id, "abandoned", NULL, a, p, &cerr);
    if (st != K_OK) {
        fail_set(fail, 500, "20000", "General decline");
        return st;
    }
    return K_OK;
}

static k_status order_params(const ecp_order *o, const char *method, const char *cur,
                             int64_t amount, arena *a, gw_pi_params *pp, ecp_fail *fail)
{
    json_t *md = json_object();
    arena_defer(a, (void (*)(void *))json_decref, md);
    bool ok = md_put(md, ECP_MD_CUSTOMER, o->customer_id, fail) &&
              md_put(md, ECP_MD_SUCCESS, o->success_url, fail) &&
              md_put(md, ECP_MD_FAIL, o->fail_url, fail) &&
              md_put(md, ECP_MD_RETURN, o->return_url, fail);
    if (!ok)
        return K_EINVAL;
    if (strcmp(cur, o->currency) != 0) {
        json_object_set_new(md, ECP_MD_INIT_AMOUNT, json_sprintf("%lld", (long long)o->amount));
        json_object_set_new(md, ECP_MD_INIT_CURRENCY, json_string(o->currency));
    }
    json_t *types = method != NULL ? json_pack("[s]", method)
                                   : json_pack("[s,s,s]", "klarna_pay_now", "klarna", "alipay");
    arena_defer(a, (void (*)(void *))json_decref, types);
    memset(pp, 0, sizeof(*pp));
    pp->amount = amount;
    pp->has_amount = true;
    pp->currency = cur;
    pp->has_currency = true;
    pp->capture_manual = -1;
    pp->method_types = types;
    pp->description = o->description;
    pp->metadata = md;
    pp->email = o->email;
    pp->country = o->country;
    pp->locale = o->language;
    if (o->first_name != NULL || o->last_name != NULL)
        pp->name = arena_printf(a, "%s%s%s", o->first_name != NULL ? o->first_name : "",
                                o->first_name != NULL && o->last_name != NULL ? " " : "",
                                o->last_name != NULL ? o->last_name : "");
    pp->channel = ECP_CHANNEL;
    pp->external_id = o->payment_id;
    return K_OK;
}

k_status ecp_order_start(api_ctx *ctx, const ecp_order *o, arena *a, gw_payment *out,
                         bool *declined, ecp_fail *fail)
{
    *declined = false;
    char cur[4];
    int64_t amount;
    const char *method = o->method != NULL ? o->method : "klarna_pay_now";
    if (gw_method_amount(ctx->g, method, o->currency, o->amount, cur, &amount) != K_OK) {
        fail_set(fail, 400, "20000", "General decline: no exchange rate for the currency");
        return K_EINVAL;
    }
    if (amount < 1) /* converted to nothing: still a payment the rules decline */
        amount = 1;
    gw_pi_params pp;
    if (order_params(o, o->method, cur, amount, a, &pp, fail) != K_OK)
        return K_EINVAL;
    pp.callback_url =
        o->callback_url != NULL ? o->callback_url : project_callback(ctx, o->merchant_id, a);
    char why[160];
    if (pp.callback_url != NULL && pp.callback_url[0] != '\0' &&
        httpc_url_check(pp.callback_url, why, sizeof(why)) != K_OK) {
        fail_set(fail, 400, "2004", arena_printf(a, "merchant_callback_url: %s", why));
        return K_EINVAL;
    }
    pp.return_url = arena_printf(a, "%s/payment/result", ctx->public_url);
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_create(ctx->g, o->merchant_id, &pp, NULL, a, out, &err);
    if (st != K_OK) {
        ecp_fail_of(&err, false, fail);
        return st;
    }
    if (o->method == NULL)
        return K_OK;
    return ecp_order_confirm(ctx, o->merchant_id, out, o->method, a, declined, fail);
}

/* ---- Gate ---- */

typedef struct {
    api_ctx *ctx;
    http_req *r;
    http_resp *resp;
    json_t *body;
    gw_merchant_keys m;
    int64_t project_id;
    const char *payment_id;
} gate;

static void json_free_cb(void *p)
{
    json_decref((json_t *)p);
}

static void send_doc(http_resp *resp, int status, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (s == NULL) {
        http_resp_set(resp, 500, "application/json", "{\"status\":\"error\"}", 18);
        return;
    }
    http_resp_set(resp, status, "application/json", s, strlen(s));
    free(s);
}

static void gate_error(gate *gt, int http, const char *code, const char *msg)
{
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "status", "error", "code", code, "message", msg,
                            "request_id", gt->r->request_id);
    if (gt->project_id > 0)
        json_object_set_new(doc, "project_id", json_integer(gt->project_id));
    if (gt->payment_id != NULL)
        json_object_set_new(doc, "payment_id", json_string(gt->payment_id));
    send_doc(gt->resp, http, doc);
}

static void gate_fail(gate *gt, const ecp_fail *f)
{
    gate_error(gt, f->http, f->code, f->message);
}

static void gate_accepted(gate *gt)
{
    json_t *doc =
        json_pack("{s:s,s:s,s:I,s:s}", "status", "success", "request_id", gt->r->request_id,
                  "project_id", (json_int_t)gt->project_id, "payment_id", gt->payment_id);
    send_doc(gt->resp, 200, doc);
}

static int64_t json_int_or_str(json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0')
        return 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    return *end == '\0' && n > 0 ? (int64_t)n : 0;
}

/* Parses, finds the project and checks general.signature. false when the
 * error answer was sent. */
/* The merchant's request rate (the server's per-merchant limit): ECommPay
 * publishes no code for it, so the answer is HTTP 429 with code "429" in the
 * Gate's error shape, and Retry-After (docs/security.md). */
static bool gate_rate(gate *gt)
{
    int64_t wait_s = 0;
    if (http_rate_take(gt->r, gt->m.id, &wait_s))
        return true;
    gate_error(gt, 429, "429", "Too many requests for this project; retry after Retry-After.");
    http_resp_retry_after(gt->r, gt->resp, wait_s);
    return false;
}

static bool gate_begin(gate *gt, void *ctx, http_req *r, http_resp *resp)
{
    memset(gt, 0, sizeof(*gt));
    gt->ctx = ctx;
    gt->r = r;
    gt->resp = resp;
    json_error_t je;
    gt->body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(gt->body)) {
        json_decref(gt->body);
        gate_error(gt, 400, "2003", "Invalid JSON string");
        return false;
    }
    arena_defer(r->arena, json_free_cb, gt->body);
    json_t *general = json_object_get(gt->body, "general");
    gt->project_id = json_int_or_str(json_object_get(general, "project_id"));
    gt->payment_id = json_string_value(json_object_get(general, "payment_id"));
    if (gt->project_id <= 0 || gt->payment_id == NULL || gt->payment_id[0] == '\0') {
        gate_error(gt, 400, "2004",
                   "Required field not provided: general.project_id and "
                   "general.payment_id");
        return false;
    }
    if (strlen(gt->payment_id) > LIMIT_EXTERNAL_ID_MAX) {
        gate_error(gt, 400, "2004", "general.payment_id is too long");
        return false;
    }
    const char *sig = json_string_value(json_object_get(general, "signature"));
    if (sig == NULL || sig[0] == '\0') {
        gate_error(gt, 400, "3262", "Empty signature");
        return false;
    }
    int64_t wait_s = 0;
    if (http_auth_blocked(r, &wait_s)) { /* too many forged signatures from here */
        gate_error(gt, 429, "429", "Too many requests with invalid signatures; retry later.");
        http_resp_retry_after(r, resp, wait_s);
        return false;
    }
    if (gw_merchant_by_project(gt->ctx->g, gt->project_id, r->arena, &gt->m) != K_OK) {
        gate_error(gt, 400, "3001", "Project not found");
        return false;
    }
    if (!ecp_verify(gt->m.ecp_secret, gt->body, sig)) {
        http_auth_failed(r);
        gate_error(gt, 400, "3261", "Invalid signature");
        return false;
    }
    return gate_rate(gt);
}

static const char *gstr(json_t *o, const char *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(o, obj), key));
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static void h_gate_sale(http_req *r, http_resp *resp, void *ctx)
{
    gate gt;
    if (!gate_begin(&gt, ctx, r, resp))
        return;
    const char *method = ecp_method_rule(r->params[0], true);
    if (method == NULL) {
        gate_error(&gt, 400, "2004",
                   "This online-banking method is not available; use sofort "
                   "or klarna");
        return;
    }
    json_t *b = gt.body;
    static const char *const CUSTOMER[] = {"id", "email", "first_name", "last_name", "country"};
    for (size_t i = 0; i < K_ARRAY_LEN(CUSTOMER); i++) {
        if (gstr(b, "customer", CUSTOMER[i]) == NULL) {
            char msg[96];
            snprintf(msg, sizeof(msg), "Required field not provided: customer.%s", CUSTOMER[i]);
            gate_error(&gt, 400, "2004", msg);
            return;
        }
    }
    json_t *amount = json_object_get(json_object_get(b, "payment"), "amount");
    const char *cur = gstr(b, "payment", "currency");
    if (!json_is_integer(amount) || json_integer_value(amount) < 1 || cur == NULL ||
        currency_find(cur) == NULL || json_integer_value(amount) > LIMIT_AMOUNT_MAX) {
        gate_error(&gt, 400, "2004",
                   "Required field not provided: payment.amount (minor units) "
                   "and payment.currency (ISO 4217)");
        return;
    }
    char up[4];
    currency_upper(cur, up);
    ecp_order o = {.merchant_id = gt.m.id,
                   .project_id = gt.project_id,
                   .payment_id = gt.payment_id,
                   .amount = (int64_t)json_integer_value(amount),
                   .currency = up,
                   .method = method,
                   .customer_id = gstr(b, "customer", "id"),
                   .email = gstr(b, "customer", "email"),
                   .country = gstr(b, "customer", "country"),
                   .first_name = gstr(b, "customer", "first_name"),
                   .last_name = gstr(b, "customer", "last_name"),
                   .language = gstr(b, "customer", "language"),
                   .description = gstr(b, "payment", "description"),
                   .callback_url = gstr(b, "general", "merchant_callback_url"),
                   .success_url = gstr(b, "return_url", "success"),
                   .fail_url = gstr(b, "return_url", "decline"),
                   .return_url = gstr(b, "return_url", "return")};
    gw_payment p;
    bool declined;
    ecp_fail f;
    if (ecp_order_start(gt.ctx, &o, r->arena, &p, &declined, &f) != K_OK) {
        gate_fail(&gt, &f);
        return;
    }
    gate_accepted(&gt);
}

/* The payment a Gate request names: the merchant's payment_id, or for a
 * payment made through the Stripe-compatible dialect (no payment_id of its
 * own) its intent id. */
static bool find_payment(gate *gt, gw_payment *p)
{
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_pi_by_external(gt->ctx->g, gt->m.id, gt->payment_id, gt->r->arena, p, &err) == K_OK)
        return true;
    return strncmp(gt->payment_id, "pi_", 3) == 0 &&
           gw_pi_get(gt->ctx->g, gt->m.id, gt->payment_id, gt->r->arena, p, &err) == K_OK &&
           p->external_id == NULL;
}

static char *render_gate_refund(gw_idem *self, const void *record, arena *a)
{
    (void)self;
    return arena_strdup(a, ((const gw_refund *)record)->id);
}

/* The idempotency of a Gate refund: key = merchant_refund_id, fingerprint =
 * the payment and amount it refunds. Answers as gw_idem_begin does. */
static k_status gate_refund_idem(gate *gt, const gw_payment *p, int64_t amount,
                                 const char *refund_id, gw_idem *idem, char fp[SHA256_HEX_LEN])
{
    const char *basis =
        arena_printf(gt->r->arena, "gate-refund\n%s\n%lld", p->id, (long long)amount);
    crypto_sha256_hex(basis, strlen(basis), fp);
    memset(idem, 0, sizeof(*idem));
    idem->key = arena_printf(gt->r->arena, "ecommpay-refund:%s", refund_id);
    idem->fingerprint = fp;
    idem->render = render_gate_refund;
    gw_err err;
    memset(&err, 0, sizeof(err));
    return gw_idem_begin(gt->ctx->g, gt->m.id, idem, gt->r->arena, &err);
}

static void h_gate_refund(http_req *r, http_resp *resp, void *ctx)
{
    gate gt;
    if (!gate_begin(&gt, ctx, r, resp))
        return;
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (!find_payment(&gt, &p)) {
        gate_error(&gt, 400, "3061", "Transaction not found");
        return;
    }
    json_t *pay = json_object_get(gt.body, "payment");
    json_t *amount = json_object_get(pay, "amount");
    const char *cur = gstr(gt.body, "payment", "currency");
    if (amount != NULL && (!json_is_integer(amount) || json_integer_value(amount) < 1)) {
        gate_error(&gt, 400, "2004", "payment.amount must be a positive integer (minor units)");
        return;
    }
    if ((amount != NULL && cur == NULL) || (cur != NULL && strcasecmp(cur, p.currency) != 0)) {
        gate_error(&gt, 400, "3284", "Refund currency mismatched or empty");
        return;
    }
    const char *refund_id = gstr(gt.body, "payment", "merchant_refund_id");
    json_t *md = json_object();
    arena_defer(r->arena, json_free_cb, md);
    const char *desc = gstr(gt.body, "payment", "description");
    if (desc != NULL && strlen(desc) <= LIMIT_METADATA_VALUE_MAX)
        json_object_set_new(md, "description", json_string(desc));
    /* The refund callback repeats the payment's description and customer, as
     * ECommPay's (and paymentpage-sdk-php's fixtures) do. */
    if (p.description != NULL && strlen(p.description) <= LIMIT_METADATA_VALUE_MAX)
        json_object_set_new(md, ECP_MD_PAY_DESCRIPTION, json_string(p.description));
    json_t *cust = json_object_get(p.metadata, ECP_MD_CUSTOMER);
    if (json_is_string(cust))
        json_object_set_new(md, ECP_MD_CUSTOMER, json_copy(cust));
    gw_refund_params rp = {.payment_id = p.id,
                           .amount = amount != NULL ? (int64_t)json_integer_value(amount) : 0,
                           .external_id = refund_id,
                           .metadata = md};
    /* A Gate refund is retried with the same merchant_refund_id (ECommPay's own
     * idempotency): the gateway begins it once, even across a crash. */
    gw_idem idem;
    char fp[SHA256_HEX_LEN];
    gw_idem *idemp = NULL;
    if (refund_id != NULL) {
        k_status ist = gate_refund_idem(&gt, &p, rp.amount, refund_id, &idem, fp);
        if (ist == K_OK && idem.replayed) {
            gate_accepted(&gt);
            return;
        }
        if (ist == K_ECONFLICT) {
            gate_error(&gt, 400, "3041", "merchant_refund_id was already used for another refund");
            return;
        }
        if (ist != K_ENOTFOUND) {
            gate_error(&gt, 503, "20000",
                       "Another request with this merchant_refund_id is in "
                       "progress; try again later");
            return;
        }
        idemp = &idem;
    }
    gw_refund rf;
    k_status st = gw_refund_create(gt.ctx->g, gt.m.id, &rp, idemp, r->arena, &rf, &err);
    if (idemp != NULL)
        gw_idem_end(gt.ctx->g, gt.m.id, idemp);
    if (st != K_OK) {
        ecp_fail f;
        ecp_fail_of(&err, true, &f);
        gate_fail(&gt, &f);
        return;
    }
    gate_accepted(&gt);
}

static void h_gate_status(http_req *r, http_resp *resp, void *ctx)
{
    gate gt;
    if (!gate_begin(&gt, ctx, r, resp))
        return;
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (!find_payment(&gt, &p)) {
        gate_error(&gt, 400, "3061", "Transaction not found");
        return;
    }
    json_t *doc = ecp_payment_doc(gt.project_id, &p, r->request_id, clock_now_s(), "status");
    ecp_sign_doc(gt.m.ecp_secret, doc);
    send_doc(resp, 200, doc);
}

/* ---- Kassa extension: the project's default callback URL ---- */

static void h_settings(http_req *r, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    param_err pe;
    memset(&pe, 0, sizeof(pe));
    json_t *in = NULL;
    if (strcmp(r->method, "POST") == 0) {
        const char *ct = http_req_header(r, "Content-Type");
        in = ct != NULL && strstr(ct, "json") != NULL ? form_decode_json(r->body, r->body_len, &pe)
                                                      : form_decode(r->body, r->body_len, &pe);
        if (in == NULL) {
            send_doc(resp, 400,
                     json_pack("{s:{s:s,s:s}}", "error", "type", "invalid_request_error", "message",
                               pe.message));
            return;
        }
        arena_defer(r->arena, json_free_cb, in);
    }
    json_t *s = NULL;
    if (gw_merchant_settings(c->g, r->principal, r->arena, &s) != K_OK || s == NULL) {
        s = json_object(); /* gw_merchant_settings' tree is arena-owned; so is this one */
        arena_defer(r->arena, json_free_cb, s);
    }
    const char *url = json_string_value(json_object_get(in, "callback_url"));
    if (url != NULL) {
        char why[160];
        bool ok = url[0] == '\0' || httpc_url_check(url, why, sizeof(why)) == K_OK;
        if (!ok) {
            send_doc(resp, 400,
                     json_pack("{s:{s:s,s:s,s:s}}", "error", "type", "invalid_request_error",
                               "param", "callback_url", "message",
                               arena_printf(r->arena,
                                            "callback_url must be a public http(s) URL of at "
                                            "most 2048 characters, or empty to remove it: %s",
                                            why)));
            return;
        }
        json_object_set_new(s, ECP_SETTING_CALLBACK, json_string(url));
        if (gw_merchant_set_settings(c->g, r->principal, s) != K_OK) {
            send_doc(resp, 500,
                     json_pack("{s:{s:s,s:s}}", "error", "type", "api_error", "message",
                               "The settings could not be stored."));
            return;
        }
    }
    const char *cur = json_string_value(json_object_get(s, ECP_SETTING_CALLBACK));
    send_doc(resp, 200,
             json_pack("{s:s,s:s}", "object", "ecommpay_settings", "callback_url",
                       cur != NULL ? cur : ""));
}

/* ---- Data API: POST /operations/get ---- */

/* "2025-01-02 10:00:00", "2025-01-02T10:00:00" (local time in the request's
 * time_zone, UTC by default) or unix seconds. */
static bool parse_time(json_t *v, const tz *zone, int64_t *out_ms)
{
    if (json_is_integer(v)) {
        *out_ms = (int64_t)json_integer_value(v) * 1000;
        return true;
    }
    const char *s = json_string_value(v);
    int y, mo, d, h, mi, sec;
    char sep;
    if (s == NULL || sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &sec) != 7 ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int64_t local = tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *out_ms = tz_to_utc(zone, local) * 1000;
    return true;
}

/* "2025-01-02T10:00:00+0100": the instant in the request's time zone. */
static void fmt_time(const tz *zone, int64_t ms, char out[40])
{
    tz_fields f;
    tz_local(zone, ms / 1000, &f);
    int32_t off = f.offset_s < 0 ? -f.offset_s : f.offset_s;
    snprintf(out, 40, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d%02d", (long long)f.year, f.month,
             f.day, f.hour, f.minute, f.second, f.offset_s < 0 ? '-' : '+', (int)(off / 3600),
             (int)(off / 60 % 60));
}

/* The operation fields in the fixed order answers use; `fields` selects among them. */
static const char *const DATA_FIELDS[] = {"operation_id",
                                          "operation_type",
                                          "operation_status",
                                          "payment_id",
                                          "project_id",
                                          "sum",
                                          "code",
                                          "message",
                                          "operation_created_at",
                                          "operation_completed_at",
                                          NULL};

/* ECommPay's type and status of a journal entry; false for entries it does
 * not list (creation, updates, pending refunds ...). */
static bool op_kind(const store_op *op, const char **type, const char **status)
{
    static const struct {
        const char *kind, *type, *status;
    } MAP[] = {{"sale", "sale", "success"},          {"fail", "sale", "decline"},
               {"authorize", "auth", "success"},     {"capture", "capture", "success"},
               {"cancel", "cancel", "success"},      {"refund_settle", "refund", "success"},
               {"refund_fail", "refund", "decline"}, {"expire", "cancel", "success"}};
    for (size_t i = 0; i < K_ARRAY_LEN(MAP); i++) {
        if (strcmp(MAP[i].kind, op->kind) == 0) {
            *type = MAP[i].type;
            *status = MAP[i].status;
            return true;
        }
    }
    return false;
}

static bool in_filter(json_t *f, const char *v)
{
    if (f == NULL)
        return true;
    if (json_is_string(f))
        return strcmp(json_string_value(f), v) == 0;
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x) if (json_is_string(x) &&
                                    strcmp(json_string_value(x), v) == 0) return true;
    return false;
}

typedef struct {
    gate *gt;
    json_t *cache;  /* payment id -> {currency, id} */
    const tz *zone; /* time_zone: the interval and the printed times */
    json_t *fields; /* names to keep, NULL = all */
} data_ctx;

static json_t *payment_info(data_ctx *d, const char *pid)
{
    json_t *c = json_object_get(d->cache, pid);
    if (c != NULL)
        return c;
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    char cur[4] = "";
    const char *ext = pid;
    if (gw_pi_get(d->gt->ctx->g, d->gt->m.id, pid, d->gt->r->arena, &p, &err) == K_OK) {
        currency_upper(p.currency, cur);
        ext = p.external_id != NULL ? p.external_id : p.id;
    }
    c = json_pack("{s:s,s:s}", "currency", cur, "id", ext);
    json_object_set_new(d->cache, pid, c);
    return c;
}

static json_t *op_row(data_ctx *d, const store_op *op, const char *type, const char *status)
{
    json_t *pi = payment_info(d, op->payment_id);
    char when[40];
    fmt_time(d->zone, op->created_ms, when);
    bool ok = strcmp(status, "success") == 0;
    json_t *row =
        json_pack("{s:I,s:s,s:s,s:s,s:I,s:{s:I,s:s},s:s,s:s,s:s,s:s}", "operation_id",
                  (json_int_t)ecp_numeric_id(op->id), "operation_type", type, "operation_status",
                  status, "payment_id", json_string_value(json_object_get(pi, "id")), "project_id",
                  (json_int_t)d->gt->project_id, "sum", "amount", (json_int_t)op->amount,
                  "currency", json_string_value(json_object_get(pi, "currency")), "code",
                  ok ? "0" : "20000", "message", ok ? "Success" : "General decline",
                  "operation_created_at", when, "operation_completed_at", when);
    for (size_t i = 0; d->fields != NULL && DATA_FIELDS[i] != NULL; i++)
        if (!in_filter(d->fields, DATA_FIELDS[i]))
            json_object_del(row, DATA_FIELDS[i]);
    return row;
}

/* Collects the page [offset, offset+limit) of matching operations. */
static k_status data_collect(data_ctx *d, int64_t from_ms, int64_t to_ms, json_t *types,
                             json_t *statuses, int64_t offset, int64_t limit, json_t *rows,
                             bool *more)
{
    int64_t after = 0, seen = 0;
    *more = false;
    for (int page = 0; page < LIMIT_ECP_DATA_SCAN_MAX; page++) {
        store_op *ops;
        size_t n;
        gw_err err;
        memset(&err, 0, sizeof(err));
        k_status st = gw_ops_range(d->gt->ctx->g, d->gt->m.id, from_ms, to_ms, after,
                                   LIMIT_STORE_ROWS_MAX / 10, d->gt->r->arena, &ops, &n, &err);
        if (st != K_OK)
            return st;
        for (size_t i = 0; i < n; i++) {
            const char *type, *status;
            after = ops[i].seq;
            if (!op_kind(&ops[i], &type, &status) || !in_filter(types, type) ||
                !in_filter(statuses, status))
                continue;
            if (seen++ < offset)
                continue;
            if ((int64_t)json_array_size(rows) == limit) {
                *more = true;
                return K_OK;
            }
            json_array_append_new(rows, op_row(d, &ops[i], type, status));
        }
        if (n < LIMIT_STORE_ROWS_MAX / 10)
            return K_OK;
    }
    *more = true;
    return K_OK;
}

static void h_operations_get(http_req *r, http_resp *resp, void *ctx)
{
    gate gt;
    /* The Data API signs at the top level: move it where gate_begin looks. */
    memset(&gt, 0, sizeof(gt));
    gt.ctx = ctx;
    gt.r = r;
    gt.resp = resp;
    json_t *b = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(b)) {
        json_decref(b);
        gate_error(&gt, 400, "2003", "Invalid JSON string");
        return;
    }
    arena_defer(r->arena, json_free_cb, b);
    json_t *pid = json_object_get(b, "project_id");
    if (json_is_array(pid) && json_array_size(pid) == 1)
        pid = json_array_get(pid, 0);
    gt.project_id = json_int_or_str(pid);
    const char *sig = json_string_value(json_object_get(b, "signature"));
    json_t *interval = json_object_get(b, "interval");
    const char *zone_name = json_string_value(json_object_get(b, "time_zone"));
    const tz *zone;
    if (tz_load(zone_name != NULL ? zone_name : "UTC", &zone) != K_OK) {
        gate_error(&gt, 400, "2004", "time_zone is not an IANA time zone (e.g. Europe/Berlin)");
        return;
    }
    json_t *fields = json_object_get(b, "fields");
    size_t fi;
    json_t *fv;
    bool fields_ok = fields == NULL || json_is_array(fields);
    json_array_foreach(fields, fi, fv)
    {
        bool known = false;
        for (size_t k = 0; json_is_string(fv) && DATA_FIELDS[k] != NULL; k++)
            known |= strcmp(DATA_FIELDS[k], json_string_value(fv)) == 0;
        fields_ok &= known;
    }
    if (!fields_ok) {
        gate_error(&gt, 400, "2004", "fields must be a list of operation field names");
        return;
    }
    int64_t from_ms, to_ms;
    if (gt.project_id <= 0 || !parse_time(json_object_get(interval, "from"), zone, &from_ms) ||
        !parse_time(json_object_get(interval, "to"), zone, &to_ms) || to_ms <= from_ms) {
        gate_error(&gt, 400, "2004",
                   "Required field not provided: project_id (one project) and "
                   "interval {from, to} (\"YYYY-MM-DD HH:MM:SS\" UTC)");
        return;
    }
    if (sig == NULL || sig[0] == '\0') {
        gate_error(&gt, 400, "3262", "Empty signature");
        return;
    }
    if (gw_merchant_by_project(gt.ctx->g, gt.project_id, r->arena, &gt.m) != K_OK) {
        gate_error(&gt, 400, "3001", "Project not found");
        return;
    }
    if (!ecp_verify(gt.m.ecp_secret, b, sig)) {
        gate_error(&gt, 400, "3261", "Invalid signature");
        return;
    }
    if (!gate_rate(&gt))
        return;
    json_t *lim = json_object_get(b, "limit"), *off = json_object_get(b, "offset");
    int64_t limit =
        json_is_integer(lim) ? (int64_t)json_integer_value(lim) : LIMIT_ECP_DATA_PAGE_MAX;
    int64_t offset = json_is_integer(off) ? (int64_t)json_integer_value(off) : 0;
    if (limit < 1 || limit > LIMIT_ECP_DATA_PAGE_MAX || offset < 0) {
        gate_error(&gt, 400, "2004", "limit must be 1 to 1000 and offset 0 or more");
        return;
    }
    data_ctx d = {.gt = &gt, .cache = json_object(), .zone = zone, .fields = fields};
    arena_defer(r->arena, json_free_cb, d.cache);
    json_t *rows = json_array();
    bool more;
    if (data_collect(&d, from_ms, to_ms, json_object_get(b, "type"), json_object_get(b, "status"),
                     offset, limit, rows, &more) != K_OK) {
        json_decref(rows);
        gate_error(&gt, 500, "20000", "The operations could not be read");
        return;
    }
    json_t *doc =
        json_pack("{s:I,s:o,s:I,s:I,s:b}", "project_id", (json_int_t)gt.project_id, "operations",
                  rows, "limit", (json_int_t)limit, "offset", (json_int_t)offset, "has_more", more);
    ecp_sign_doc(gt.m.ecp_secret, doc);
    const char *url = json_string_value(json_object_get(b, "delivery_url"));
    if (url == NULL || url[0] == '\0') {
        send_doc(resp, 200, doc);
        return;
    }
    char why[160];
    if (httpc_url_check(url, why, sizeof(why)) != K_OK) {
        json_decref(doc);
        gate_error(&gt, 400, "2004", arena_printf(r->arena, "delivery_url: %s", why));
        return;
    }
    /* The export is a durable job, POSTed and retried with backoff until the
     * receiver answers 2xx (like webhooks); the answer says it is queued. */
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int64_t job = 0;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        body != NULL ? rep_push(gt.ctx->reports, gt.m.id, url, body, &job, &err) : K_ENOMEM;
    free(body);
    if (st != K_OK) {
        gate_error(&gt, st == K_EINVAL ? 400 : 500, st == K_EINVAL ? "2004" : "20000",
                   st == K_EINVAL ? "delivery_url must be an http(s) URL"
                                  : "The export could not be queued");
        return;
    }
    json_t *ans = json_pack("{s:s,s:s,s:I,s:s,s:{s:I,s:s}}", "status", "success", "request_id",
                            r->request_id, "project_id", (json_int_t)gt.project_id, "delivery_url",
                            url, "delivery", "id", (json_int_t)job, "state", "queued");
    send_doc(resp, 200, ans);
}

/* ---- routes ---- */

static const http_route ROUTES[] = {
    {"GET", "/payment", ecp_h_page, AUTH_NONE, 0, "ecp_page", 0},
    {"POST", "/payment/choose", ecp_h_choose, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "ecp_choose", 0},
    {"GET", "/payment/result", ecp_h_result, AUTH_NONE, 0, "ecp_result", 0},
    {"POST", "/v2/payment/online-banking/:method/sale", h_gate_sale, AUTH_NONE, 0, "ecp_sale", 0},
    {"POST", "/v2/payment/online-banking/:method/refund", h_gate_refund, AUTH_NONE, 0, "ecp_refund",
     0},
    {"POST", "/v2/payment/refund", h_gate_refund, AUTH_NONE, 0, "ecp_refund", 0},
    {"POST", "/v2/payment/status", h_gate_status, AUTH_NONE, 0, "ecp_status", 0},
    {"POST", "/operations/get", h_operations_get, AUTH_NONE, 0, "ecp_operations", 0},
    {"GET", "/v1/kassa/ecommpay/settings", h_settings, AUTH_SECRET_KEY, 0, "ecp_settings", 0},
    {"POST", "/v1/kassa/ecommpay/settings", h_settings, AUTH_SECRET_KEY, 0, "ecp_settings", 0},
};

size_t ecommpay_routes(const http_route **out)
{
    *out = ROUTES;
    return K_ARRAY_LEN(ROUTES);
}

void ecommpay_install(gw *g)
{
    gw_set_formatter(g, "ecommpay", ecp_format_delivery);
}
