/*
 * klarna.c - the Klarna connector (see klarna.h): pure translation between
 * provider.h and Klarna's Payments, HPP and Order Management APIs.
 *
 * Every write carries a Klarna-Idempotency-Key derived from our own ids
 * ("sess-<attempt>", "hpp-<attempt>", "order-<attempt>", the operation id for
 * captures, refunds and edits), so the retries here (5xx, 429, timeouts: 50,
 * 200, 800 ms) and a later retry by the gateway never act twice.
 *
 * HPP status mapping in sync(): WAITING, IN_PROGRESS and MANUAL_ID_CHECK are
 * PR_ACTION (the customer is still on Klarna's pages; a decoupled bank
 * confirmation is still IN_PROGRESS at Klarna, so we cannot tell it apart and
 * keep it PR_ACTION); COMPLETED creates the order from the authorisation
 * token, or reads it when the session already names one.
 */
#include "klarna.h"
#include "prov_stats.h"
#include "../base/buf.h"
#include "../base/crypto.h"
#include "../base/httpc.h"
#include "../base/log.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic long kc_timeout_ms;
static const int kc_backoff_ms[] = {50, 200, 800};
_Static_assert(sizeof(kc_backoff_ms) / sizeof(kc_backoff_ms[0]) >= LIMIT_PROVIDER_RETRIES,
               "a backoff step per retry");

void klarna_set_timeout_ms(long timeout_ms)
{
    K_ASSERT(timeout_ms >= 0);
    atomic_store(&kc_timeout_ms, timeout_ms);
}

/* One answered (or not) call. */
typedef struct {
    k_status st; /* K_OK: an HTTP answer; K_ETIMEOUT / K_EIO / K_ETOOBIG otherwise */
    long status;
    json_t *json; /* parsed body, NULL when empty or not JSON */
    const char *body;
    size_t body_len;
    const char *id_header; /* Capture-Id / Refund-Id when asked for */
    const char *error;
} kc_answer;

static const char *kc_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t kc_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* "2025-01-02T10:00:05Z" (or with .fff / +00:00) -> unix seconds; 0 when absent. */
static int64_t kc_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static void kc_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool kc_transient(const kc_answer *ans)
{
    if (ans->st == K_ETIMEOUT || ans->st == K_EIO)
        return true;
    return ans->st == K_OK && (ans->status >= 500 || ans->status == 429);
}

/* Performs one HTTP exchange with Klarna; answer strings live in `a`. */
static void kc_once(const httpc_req *req, const char *want_header, arena *a, kc_answer *ans)
{
    httpc_resp resp;
    memset(ans, 0, sizeof(*ans));
    ans->st = httpc_do(req, &resp);
    ans->status = resp.status;
    prov_stats_observe("klarna", ans->st, resp.status, resp.latency_ms);
    if (ans->st != K_OK) {
        ans->error = arena_strdup(a, resp.error[0] ? resp.error : k_status_str(ans->st));
        httpc_resp_free(&resp);
        return;
    }
    if (resp.body.len > 0) {
        ans->body = arena_strndup(a, resp.body.data, resp.body.len);
        ans->body_len = resp.body.len;
        json_error_t je;
        ans->json = json_loadb(resp.body.data, resp.body.len, 0, &je);
    }
    char hv[LIMIT_ID_MAX + 64];
    if (want_header && httpc_resp_header(&resp, want_header, hv, sizeof(hv)))
        ans->id_header = arena_strdup(a, hv);
    httpc_resp_free(&resp);
}

/* A call with Basic auth, JSON body and idempotency key, retried on 5xx, 429
 * and transport errors with the same key. The caller json_decref's ans->json. */
static k_status kc_call(const prov_account *acct, const char *method, const char *path,
                        json_t *body, const char *idem, const char *want_header, arena *a,
                        kc_answer *ans)
{
    K_ASSERT(acct != NULL && acct->base_url != NULL);
    K_ASSERT(method != NULL && path != NULL && path[0] == '/');
    size_t blen = strlen(acct->base_url);
    while (blen > 0 && acct->base_url[blen - 1] == '/')
        blen--;
    char *url = arena_printf(a, "%.*s%s", (int)blen, acct->base_url, path);
    char *cred = arena_printf(a, "%s:%s", acct->username ? acct->username : "",
                              acct->password ? acct->password : "");
    if (!url || !cred)
        return K_ENOMEM;
    size_t clen = strlen(cred);
    char *b64 = arena_alloc(a, 4 * ((clen + 2) / 3) + 1);
    if (!b64)
        return K_ENOMEM;
    crypto_b64_encode((const uint8_t *)cred, clen, b64);
    httpc_req req = {.method = method, .url = url, .timeout_ms = atomic_load(&kc_timeout_ms)};
    int nh = 0;
    req.headers[nh++] = arena_printf(a, "Authorization: Basic %s", b64);
    req.headers[nh++] = "Accept: application/json";
    req.headers[nh++] = "User-Agent: Kassa";
    if (idem)
        req.headers[nh++] = arena_printf(a, "Klarna-Idempotency-Key: %s", idem);
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return K_ENOMEM;
        req.headers[nh++] = "Content-Type: application/json";
        req.body = arena_strdup(a, text);
        req.body_len = strlen(text);
        free(text);
        if (!req.body)
            return K_ENOMEM;
    }
    for (int i = 0; i < nh; i++)
        if (!req.headers[i])
            return K_ENOMEM;
    for (int attempt = 0;; attempt++) {
        kc_once(&req, want_header, a, ans);
        if (!kc_transient(ans) || attempt >= LIMIT_PROVIDER_RETRIES)
            break;
        log_info("klarna: %s '%s' answered %ld (%s), retry %d with the same key", method, path,
                 ans->status, ans->error ? ans->error : "http", attempt + 1);
        json_decref(ans->json);
        ans->json = NULL;
        kc_sleep_ms(kc_backoff_ms[attempt]);
    }
    return K_OK;
}

k_status klarna_parse_error(long http_status, const char *body, size_t len, arena *a,
                            prov_result *out)
{
    K_ASSERT(out != NULL && a != NULL);
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, 0, &je) : NULL;
    const char *code = kc_str(j, "error_code");
    buf msg;
    buf_init(&msg, 2048);
    json_t *arr = json_object_get(j, "error_messages");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if (!json_is_string(m))
            continue;
        if (msg.len)
            buf_append_str(&msg, "; ");
        buf_append_str(&msg, json_string_value(m));
    }
    if (!msg.len && kc_str(j, "error_message"))
        buf_append_str(&msg, kc_str(j, "error_message"));
    if (kc_str(j, "correlation_id"))
        buf_printf(&msg, "%s(correlation_id %s)", msg.len ? " " : "", kc_str(j, "correlation_id"));
    out->provider_code = code ? arena_strdup(a, code) : arena_printf(a, "HTTP_%ld", http_status);
    out->failure_message = msg.len ? arena_strdup(a, msg.data)
                                   : arena_printf(a, "Klarna answered HTTP %ld", http_status);
    buf_free(&msg);
    json_decref(j);
    if (!out->provider_code || !out->failure_message)
        return K_ENOMEM;
    out->retryable = http_status >= 500 || http_status == 429;
    out->outcome = out->retryable ? PR_UNKNOWN : PR_FAILED;
    if (out->retryable)
        out->failure_code = NULL;
    else if (http_status == 403)
        out->failure_code = "payment_method_provider_decline";
    else
        out->failure_code = "payment_method_not_available";
    return K_OK;
}

/* Fills out from an answer that is not the success we wanted. */
static k_status kc_fail(const kc_answer *ans, arena *a, prov_result *out)
{
    if (ans->st != K_OK) {
        out->outcome = PR_UNKNOWN;
        out->retryable = true;
        out->provider_code = ans->st == K_ETIMEOUT ? "TIMEOUT" : "NETWORK";
        out->failure_message = arena_printf(a, "Klarna did not answer: %s", ans->error);
        return out->failure_message ? K_OK : K_ENOMEM;
    }
    return klarna_parse_error(ans->status, ans->body, ans->body_len, a, out);
}

/* ------------------------------------------------------------ purchase data */

static json_t *kc_lines(const prov_line *lines, size_t n, int64_t amount, const char *desc)
{
    json_t *arr = json_array();
    if (n == 0) {
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:i, s:I, s:i, s:I, s:i}", "type", "physical",
                                        "name", desc && *desc ? desc : "Order", "quantity", 1,
                                        "unit_price", (json_int_t)amount, "tax_rate", 0,
                                        "total_amount", (json_int_t)amount, "total_tax_amount", 0));
        return arr;
    }
    for (size_t i = 0; i < n; i++) {
        const prov_line *l = &lines[i];
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", l->name ? l->name : "Item",
                              "quantity", (json_int_t)l->quantity, "unit_price",
                              (json_int_t)l->unit_price, "tax_rate", (json_int_t)l->tax_rate,
                              "total_amount", (json_int_t)l->total_amount, "total_tax_amount",
                              (json_int_t)l->total_tax_amount);
        if (l->type)
            json_object_set_new(o, "type", json_string(l->type));
        if (l->reference)
            json_object_set_new(o, "reference", json_string(l->reference));
        if (l->total_discount_amount)
            json_object_set_new(o, "total_discount_amount",
                                json_integer((json_int_t)l->total_discount_amount));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *kc_purchase(const char *country, const char *currency, const char *locale,
                           int64_t amount, const prov_line *lines, size_t n, const char *desc)
{
    int64_t tax = 0;
    for (size_t i = 0; i < n; i++)
        tax += lines[i].total_tax_amount;
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:o}", "purchase_country", country ? country : "",
                          "purchase_currency", currency ? currency : "", "order_amount",
                          (json_int_t)amount, "order_tax_amount", (json_int_t)tax, "order_lines",
                          kc_lines(lines, n, amount, desc));
    if (locale && *locale)
        json_object_set_new(j, "locale", json_string(locale));
    return j;
}

/* success_url + "sid={{session_id}}&authorization_token={{authorization_token}}". */
static char *kc_success_url(arena *a, const char *url)
{
    const char *sep = strchr(url, '?') ? "&" : "?";
    size_t n = strlen(url);
    if (n > 0 && (url[n - 1] == '?' || url[n - 1] == '&'))
        sep = "";
    return arena_printf(a, "%s%ssid={{session_id}}&authorization_token={{authorization_token}}",
                        url, sep);
}

static const char *kc_method_detail(const char *pm_type)
{
    if (!pm_type)
        return NULL;
    if (strcmp(pm_type, "direct_bank_transfer") == 0 || strcmp(pm_type, "direct_debit") == 0)
        return "pay_now";
    return strcmp(pm_type, "fixed_amount") == 0 ? "pay_over_time" : "pay_later";
}

/* ----------------------------------------------------------------- start */

static json_t *kc_categories(const char *method)
{
    if (method && strcmp(method, "klarna_pay_now") == 0)
        return json_pack("[s]", "PAY_NOW");
    if (method && strcmp(method, "klarna_pay_later") == 0)
        return json_pack("[s, s]", "PAY_LATER", "PAY_OVER_TIME");
    return json_pack("[s, s, s]", "PAY_NOW", "PAY_LATER", "PAY_OVER_TIME");
}

static k_status kc_start(const prov_account *acct, const prov_start *in, arena *a, prov_result *out)
{
    K_ASSERT(in != NULL && out != NULL);
    K_ASSERT(in->amount >= 0 && in->amount <= LIMIT_AMOUNT_MAX);
    memset(out, 0, sizeof(*out));
    if (!in->attempt_id || !in->success_url || !in->notify_url)
        return K_EINVAL;
    json_t *kp = kc_purchase(in->country, in->currency, in->locale, in->amount, in->lines,
                             in->nlines, in->description);
    json_object_set_new(
        kp, "merchant_urls",
        json_pack("{s:s, s:s}", "authorization", in->notify_url, "notification", in->notify_url));
    json_object_set_new(kp, "merchant_reference1",
                        json_string(in->payment_id ? in->payment_id : in->attempt_id));
    if (in->email || in->given_name || in->family_name) {
        json_t *addr = json_object();
        if (in->email)
            json_object_set_new(addr, "email", json_string(in->email));
        if (in->given_name)
            json_object_set_new(addr, "given_name", json_string(in->given_name));
        if (in->family_name)
            json_object_set_new(addr, "family_name", json_string(in->family_name));
        if (in->country)
            json_object_set_new(addr, "country", json_string(in->country));
        json_object_set_new(kp, "billing_address", addr);
    }
    kc_answer ans;
    k_status st = kc_call(acct, "POST", "/payments/v1/sessions", kp,
                          arena_printf(a, "sess-%s", in->attempt_id), NULL, a, &ans);
    json_decref(kp);
    if (st != K_OK)
        return st;
    const char *kp_id = kc_str(ans.json, "session_id");
    if (ans.st != K_OK || ans.status != 200 || !kp_id) {
        st = kc_fail(&ans, a, out);
        json_decref(ans.json);
        return st;
    }
    char *psu = arena_printf(a, "%s/payments/v1/sessions/%s", acct->base_url, kp_id);
    json_decref(ans.json);
    const char *cancel = in->cancel_url ? in->cancel_url : in->failure_url;
    const char *failure = in->failure_url ? in->failure_url : in->cancel_url;
    json_t *urls = json_pack("{s:s, s:s}", "success", kc_success_url(a, in->success_url),
                             "status_update", in->notify_url);
    if (cancel) {
        json_object_set_new(urls, "cancel", json_string(cancel));
        json_object_set_new(urls, "back", json_string(cancel));
    }
    if (failure) {
        json_object_set_new(urls, "failure", json_string(failure));
        json_object_set_new(urls, "error", json_string(failure));
    }
    json_t *hpp = json_pack("{s:s, s:o, s:{s:s, s:o}}", "payment_session_url", psu, "merchant_urls",
                            urls, "options", "place_order_mode", "NONE",
                            "payment_method_categories", kc_categories(in->method));
    /* Klarna's HPP shows the shop's name as the page title (options.page_title)
     * and its logo (options.logo_url). */
    if (acct->merchant_name != NULL)
        json_object_set_new(json_object_get(hpp, "options"), "page_title",
                            json_string(acct->merchant_name));
    if (acct->merchant_logo_url != NULL)
        json_object_set_new(json_object_get(hpp, "options"), "logo_url",
                            json_string(acct->merchant_logo_url));
    st = kc_call(acct, "POST", "/hpp/v1/sessions", hpp, arena_printf(a, "hpp-%s", in->attempt_id),
                 NULL, a, &ans);
    json_decref(hpp);
    if (st != K_OK)
        return st;
    const char *sid = kc_str(ans.json, "session_id");
    const char *redirect = kc_str(ans.json, "redirect_url");
    if (ans.st != K_OK || ans.status != 201 || !sid || !redirect) {
        st = kc_fail(&ans, a, out);
        json_decref(ans.json);
        return st;
    }
    out->outcome = PR_ACTION;
    out->provider_ref = arena_strdup(a, sid);
    out->redirect_url = arena_strdup(a, redirect);
    out->expires_at = kc_time(kc_str(ans.json, "expires_at"));
    out->amount = in->amount;
    if (in->method && strcmp(in->method, "klarna_pay_now") == 0)
        out->method_detail = "pay_now";
    else if (in->method && strcmp(in->method, "klarna_pay_later") == 0)
        out->method_detail = "pay_later";
    json_decref(ans.json);
    return out->provider_ref && out->redirect_url ? K_OK : K_ENOMEM;
}

/* ---------------------------------------------------------------- orders */

/* Maps a Klarna order (GET order) onto the result. */
static k_status kc_map_order(json_t *o, arena *a, prov_result *out)
{
    const char *status = kc_str(o, "status");
    const char *fraud = kc_str(o, "fraud_status");
    int64_t order_amount = kc_int(o, "order_amount");
    int64_t captured = kc_int(o, "captured_amount");
    out->order_ref = arena_strdup(a, kc_str(o, "order_id"));
    out->expires_at = kc_time(kc_str(o, "expires_at"));
    out->method_detail =
        kc_method_detail(kc_str(json_object_get(o, "initial_payment_method"), "type"));
    out->amount = order_amount;
    if (!status) {
        out->outcome = PR_UNKNOWN;
        out->retryable = true;
        out->failure_message = "Klarna order without status";
        return K_OK;
    }
    if (fraud && strcmp(fraud, "REJECTED") == 0) {
        out->outcome = PR_FAILED;
        out->failure_code = "payment_method_provider_decline";
        out->provider_code = "REJECTED";
        out->failure_message = "Klarna rejected the order (fraud review)";
    } else if (fraud && strcmp(fraud, "PENDING") == 0) {
        out->outcome = PR_PROCESSING;
    } else if (strcmp(status, "AUTHORIZED") == 0 || strcmp(status, "PART_CAPTURED") == 0) {
        out->outcome = PR_AUTHORIZED;
    } else if (strcmp(status, "CAPTURED") == 0) {
        out->outcome = PR_CAPTURED;
        out->amount = captured;
    } else if (strcmp(status, "CANCELLED") == 0 || strcmp(status, "EXPIRED") == 0) {
        out->outcome = PR_CANCELED;
        out->provider_code = arena_strdup(a, status);
    } else if (strcmp(status, "CLOSED") == 0) {
        out->outcome = captured > 0 ? PR_CAPTURED : PR_CANCELED;
        out->amount = captured > 0 ? captured : order_amount;
        out->provider_code = "CLOSED";
    } else {
        out->outcome = PR_FAILED;
        out->provider_code = arena_strdup(a, status);
        out->failure_code = "payment_method_provider_decline";
    }
    return K_OK;
}

static k_status kc_order_read(const prov_account *acct, const char *order_id, arena *a,
                              prov_result *out)
{
    kc_answer ans;
    char *path = arena_printf(a, "/ordermanagement/v1/orders/%s", order_id);
    if (!path)
        return K_ENOMEM;
    k_status st = kc_call(acct, "GET", path, NULL, NULL, NULL, a, &ans);
    if (st != K_OK)
        return st;
    if (ans.st == K_OK && ans.status == 200 && json_is_object(ans.json))
        st = kc_map_order(ans.json, a, out);
    else
        st = kc_fail(&ans, a, out);
    json_decref(ans.json);
    return st;
}

static k_status kc_order_create(const prov_account *acct, const prov_ref *ref, const char *token,
                                arena *a, prov_result *out, bool *token_gone)
{
    json_t *body = kc_purchase(ref->country, ref->currency, ref->locale, ref->amount, ref->lines,
                               ref->nlines, ref->description);
    json_object_set_new(body, "auto_capture", json_boolean(!ref->manual_capture));
    if (ref->notify_url)
        json_object_set_new(body, "merchant_urls",
                            json_pack("{s:s}", "notification", ref->notify_url));
    kc_answer ans;
    char *path = arena_printf(a, "/payments/v1/authorizations/%s/order", token);
    char *key = arena_printf(a, "order-%s", ref->attempt_id);
    k_status st = path && key ? kc_call(acct, "POST", path, body, key, NULL, a, &ans) : K_ENOMEM;
    json_decref(body);
    if (st != K_OK)
        return st;
    const char *order_id = kc_str(ans.json, "order_id");
    *token_gone = ans.st == K_OK && ans.status == 404;
    if (ans.st != K_OK || ans.status != 200 || !order_id) {
        st = kc_fail(&ans, a, out);
        json_decref(ans.json);
        return st;
    }
    /* Read the order back for its expiry and capture state; if that read
     * fails, the create answer alone still says enough. */
    char *oid = arena_strdup(a, order_id);
    const char *fraud = kc_str(ans.json, "fraud_status");
    prov_result rd = {0};
    if (oid && kc_order_read(acct, oid, a, &rd) == K_OK && rd.outcome != PR_UNKNOWN &&
        rd.order_ref) {
        *out = rd;
    } else {
        out->order_ref = oid;
        out->amount = ref->amount;
        out->method_detail = kc_method_detail(
            kc_str(json_object_get(ans.json, "authorized_payment_method"), "type"));
        if (fraud && strcmp(fraud, "ACCEPTED") == 0)
            out->outcome = ref->manual_capture ? PR_AUTHORIZED : PR_CAPTURED;
        else if (fraud && strcmp(fraud, "PENDING") == 0)
            out->outcome = PR_PROCESSING;
        else {
            out->outcome = PR_FAILED;
            out->failure_code = "payment_method_provider_decline";
            out->provider_code = "REJECTED";
        }
    }
    json_decref(ans.json);
    return out->order_ref ? K_OK : K_ENOMEM;
}

/* ------------------------------------------------------------------ sync */

static k_status kc_hpp_read(const prov_account *acct, const char *sid, arena *a, kc_answer *ans)
{
    char *path = arena_printf(a, "/hpp/v1/sessions/%s", sid);
    if (!path)
        return K_ENOMEM;
    return kc_call(acct, "GET", path, NULL, NULL, NULL, a, ans);
}

static void kc_map_hpp_final(const char *status, prov_result *out)
{
    out->outcome = PR_FAILED;
    out->provider_code = status;
    if (strcmp(status, "BACK") == 0 || strcmp(status, "CANCELLED") == 0) {
        out->failure_code = "payment_method_customer_decline";
        out->failure_message = "The customer cancelled the payment at Klarna";
    } else if (strcmp(status, "FAILED") == 0) {
        out->failure_code = "payment_method_provider_decline";
        out->failure_message = "Klarna declined the payment";
    } else if (strcmp(status, "ERROR") == 0) {
        out->failure_code = "payment_method_not_available";
        out->failure_message = "Klarna or the bank reported an error";
    } else if (strcmp(status, "DISABLED") == 0) {
        out->failure_code = "payment_intent_payment_attempt_expired";
        out->failure_message = "The Klarna session expired";
    } else {
        out->failure_code = "payment_method_provider_decline";
        out->failure_message = "Unexpected Klarna session status";
    }
}

static k_status kc_sync(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    if (ref->order_ref)
        return kc_order_read(acct, ref->order_ref, a, out);
    if (!ref->provider_ref || !ref->attempt_id)
        return K_EINVAL;
    kc_answer ans;
    k_status st = kc_hpp_read(acct, ref->provider_ref, a, &ans);
    if (st != K_OK)
        return st;
    if (ans.st != K_OK || ans.status != 200 || !kc_str(ans.json, "status")) {
        st = kc_fail(&ans, a, out);
        json_decref(ans.json);
        return st;
    }
    const char *status = arena_strdup(a, kc_str(ans.json, "status"));
    const char *token = arena_strdup(a, kc_str(ans.json, "authorization_token"));
    const char *order_id = arena_strdup(a, kc_str(ans.json, "order_id"));
    out->expires_at = kc_time(kc_str(ans.json, "expires_at"));
    json_decref(ans.json);
    if (!status)
        return K_ENOMEM;
    if (strcmp(status, "WAITING") == 0 || strcmp(status, "IN_PROGRESS") == 0 ||
        strcmp(status, "MANUAL_ID_CHECK") == 0) {
        out->outcome = PR_ACTION;
        return K_OK;
    }
    if (strcmp(status, "COMPLETED") != 0) {
        kc_map_hpp_final(status, out);
        return K_OK;
    }
    if (order_id)
        st = kc_order_read(acct, order_id, a, out);
    else if (!token) {
        out->outcome = PR_UNKNOWN;
        out->retryable = true;
        out->failure_message = "Klarna session completed without an authorization token";
        return K_OK;
    } else {
        bool gone = false;
        st = kc_order_create(acct, ref, token, a, out, &gone);
        if (st == K_OK && gone) {
            /* The token was used already (an earlier sync created the order):
             * the session now names the order. */
            st = kc_hpp_read(acct, ref->provider_ref, a, &ans);
            const char *oid = st == K_OK ? kc_str(ans.json, "order_id") : NULL;
            char *copy = oid ? arena_strdup(a, oid) : NULL;
            json_decref(st == K_OK ? ans.json : NULL);
            if (copy) {
                memset(out, 0, sizeof(*out));
                st = kc_order_read(acct, copy, a, out);
            }
        }
    }
    out->provider_ref = ref->provider_ref;
    return st;
}

/* ------------------------------------------------------ order management */

static const char *kc_key(const prov_ref *ref, arena *a, const char *op)
{
    if (ref->idem_key)
        return ref->idem_key;
    return arena_printf(a, "%s-%s", op, ref->attempt_id ? ref->attempt_id : ref->order_ref);
}

/* POST/PATCH on an order sub-path; on success runs `then` (read back) or
 * fills the given outcome. */
static k_status kc_order_op(const prov_account *acct, const prov_ref *ref, const char *method,
                            const char *sub, json_t *body, const char *op, const char *want,
                            int ok_status, arena *a, prov_result *out, kc_answer *ans)
{
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    out->order_ref = ref->order_ref;
    char *path = arena_printf(a, "/ordermanagement/v1/orders/%s%s", ref->order_ref, sub);
    const char *key = strcmp(method, "GET") == 0 ? NULL : kc_key(ref, a, op);
    k_status st = path ? kc_call(acct, method, path, body, key, want, a, ans) : K_ENOMEM;
    json_decref(body);
    if (st != K_OK)
        return st;
    if (ans->st != K_OK || ans->status != ok_status) {
        st = kc_fail(ans, a, out);
        json_decref(ans->json);
        ans->json = NULL;
        return st == K_OK ? K_ERR : st; /* K_ERR: out is a failure, stop here */
    }
    return K_OK;
}

static k_status kc_done(k_status st)
{
    return st == K_ERR ? K_OK : st;
}

static k_status kc_capture(const prov_account *acct, const prov_ref *ref, arena *a,
                           prov_result *out)
{
    K_ASSERT(ref != NULL && ref->amount >= 0);
    if (!ref->order_ref)
        return K_EINVAL;
    json_t *body = json_pack("{s:I}", "captured_amount", (json_int_t)ref->amount);
    if (ref->description)
        json_object_set_new(body, "description", json_string(ref->description));
    if (ref->nlines)
        json_object_set_new(body, "order_lines",
                            kc_lines(ref->lines, ref->nlines, ref->amount, ref->description));
    kc_answer ans;
    k_status st = kc_order_op(acct, ref, "POST", "/captures", body, "capture", "Capture-Id", 201, a,
                              out, &ans);
    if (st != K_OK)
        return kc_done(st);
    json_decref(ans.json);
    out->outcome = PR_CAPTURED;
    out->amount = ref->amount;
    out->op_ref = ans.id_header;
    return K_OK;
}

static k_status kc_refund(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && ref->amount >= 0);
    if (!ref->order_ref)
        return K_EINVAL;
    json_t *body = json_pack("{s:I}", "refunded_amount", (json_int_t)ref->amount);
    if (ref->description)
        json_object_set_new(body, "description", json_string(ref->description));
    if (ref->nlines)
        json_object_set_new(body, "order_lines",
                            kc_lines(ref->lines, ref->nlines, ref->amount, ref->description));
    kc_answer ans;
    k_status st =
        kc_order_op(acct, ref, "POST", "/refunds", body, "refund", "Refund-Id", 201, a, out, &ans);
    if (st != K_OK)
        return kc_done(st);
    json_decref(ans.json);
    /* Klarna records the refund at once; the payment stays captured. */
    out->outcome = PR_CAPTURED;
    out->amount = ref->amount;
    out->op_ref = ans.id_header;
    return K_OK;
}

static k_status kc_cancel(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && out != NULL);
    kc_answer ans;
    if (ref->order_ref) {
        k_status st =
            kc_order_op(acct, ref, "POST", "/cancel", NULL, "cancel", NULL, 204, a, out, &ans);
        if (st != K_OK)
            return kc_done(st);
        json_decref(ans.json);
        out->outcome = PR_CANCELED;
        return K_OK;
    }
    if (!ref->provider_ref)
        return K_EINVAL;
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    char *path = arena_printf(a, "/hpp/v1/sessions/%s", ref->provider_ref);
    k_status st =
        path ? kc_call(acct, "DELETE", path, NULL, kc_key(ref, a, "disable"), NULL, a, &ans)
             : K_ENOMEM;
    if (st != K_OK)
        return st;
    if (ans.st == K_OK && ans.status == 204)
        out->outcome = PR_CANCELED;
    else
        st = kc_fail(&ans, a, out);
    json_decref(ans.json);
    return st;
}

/* An operation answered 204 whose result is the order as read back. */
static k_status kc_op_then_read(const prov_account *acct, const prov_ref *ref, const char *method,
                                const char *sub, json_t *body, const char *op, arena *a,
                                prov_result *out)
{
    if (!ref->order_ref) {
        json_decref(body);
        return K_EINVAL;
    }
    kc_answer ans;
    k_status st = kc_order_op(acct, ref, method, sub, body, op, NULL, 204, a, out, &ans);
    if (st != K_OK)
        return kc_done(st);
    json_decref(ans.json);
    st = kc_order_read(acct, ref->order_ref, a, out);
    out->provider_ref = ref->provider_ref;
    return st;
}

static k_status kc_release(const prov_account *acct, const prov_ref *ref, arena *a,
                           prov_result *out)
{
    return kc_op_then_read(acct, ref, "POST", "/release-remaining-authorization", NULL, "release",
                           a, out);
}

static k_status kc_extend(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    return kc_op_then_read(acct, ref, "POST", "/extend-authorization-time", NULL, "extend", a, out);
}

static k_status kc_update(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && ref->amount >= 0);
    json_t *body = json_pack("{s:I}", "order_amount", (json_int_t)ref->amount);
    if (ref->description)
        json_object_set_new(body, "description", json_string(ref->description));
    if (ref->nlines)
        json_object_set_new(body, "order_lines",
                            kc_lines(ref->lines, ref->nlines, ref->amount, ref->description));
    k_status st = kc_op_then_read(acct, ref, "PATCH", "/authorization", body, "update", a, out);
    if (st == K_OK && out->outcome == PR_FAILED && out->provider_code)
        out->failure_code = "payment_method_provider_decline";
    return st;
}

static k_status kc_resend(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    if (!ref->order_ref)
        return K_EINVAL;
    kc_answer ans;
    k_status st = kc_order_op(acct, ref, "GET", "", NULL, "read", NULL, 200, a, out, &ans);
    if (st != K_OK)
        return kc_done(st);
    json_t *first = json_array_get(json_object_get(ans.json, "captures"), 0);
    const char *cid = kc_str(first, "capture_id");
    char *sub = cid ? arena_printf(a, "/captures/%s/trigger-send-out", cid) : NULL;
    json_decref(ans.json);
    if (!cid) {
        out->outcome = PR_FAILED;
        out->provider_code = "NO_CAPTURES";
        out->failure_message = "The order has no capture to resend instructions for";
        return K_OK;
    }
    if (!sub)
        return K_ENOMEM;
    return kc_op_then_read(acct, ref, "POST", sub, NULL, "resend", a, out);
}

/* ---------------------------------------------------------------- notice */

/* Copies the value of `name` from a query string ("a=1&b=2"). */
static const char *kc_query_param(const char *q, const char *name, arena *a)
{
    size_t n = strlen(name);
    for (const char *p = q; p && *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            return arena_strndup(a, v, strcspn(v, "&"));
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return NULL;
}

static k_status kc_notice(const prov_account *acct, const prov_inbound *in, arena *a,
                          prov_notice *out)
{
    K_ASSERT(in != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->result.outcome = PR_UNKNOWN;
    out->attempt_id = kc_query_param(in->query, "attempt", a);
    if (!out->attempt_id)
        out->attempt_id = kc_query_param(in->query, "attempt_id", a);
    json_error_t je;
    json_t *j = in->body && in->body_len ? json_loadb(in->body, in->body_len, 0, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        out->ack_status = 400;
        out->ack_body = "{}";
        return K_EINVAL;
    }
    json_t *session = json_object_get(j, "session");
    const char *ref = NULL;
    if (json_is_object(session))
        ref = kc_str(session, "session_id"); /* HPP status_update */
    else if (kc_str(j, "order_id"))
        ref = kc_str(j, "order_id"); /* FRAUD_RISK_* notification */
    else if (kc_str(j, "authorization_token"))
        ref = kc_str(j, "session_id"); /* KP authorization callback */
    out->provider_ref = ref ? arena_strdup(a, ref) : NULL;
    out->result.provider_ref = out->provider_ref;
    const char *ev = kc_str(j, "event_type");
    out->result.provider_code = ev ? arena_strdup(a, ev) : NULL;
    json_decref(j);
    out->ack_status = 200;
    out->ack_body = "{}";
    return K_OK;
}

const provider klarna_provider = {
    .name = "klarna",
    .start = kc_start,
    .sync = kc_sync,
    .capture = kc_capture,
    .refund = kc_refund,
    .cancel = kc_cancel,
    .release = kc_release,
    .extend = kc_extend,
    .update = kc_update,
    .resend = kc_resend,
    .notice = kc_notice,
};
