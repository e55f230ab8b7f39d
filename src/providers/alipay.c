/*
 * alipay.c - the Antom / Alipay+ connector (see alipay.h): pure translation
 * between provider.h and Antom's online payment API (providers.md §5).
 *
 * Every request is signed (§5.2) and every answer's Signature is verified
 * with Antom's public key before a word of it is believed: an answer that
 * fails verification is PR_UNKNOWN (ask again), never a result. Idempotency
 * is Antom's own: paymentRequestId = our attempt id, refundRequestId = our
 * refund id, so the retries here (transport errors, 5xx, 429 and the
 * UNKNOWN_EXCEPTION "U" answer: 50, 200, 800 ms) never charge twice.
 *
 * Result mapping: S -> final; F -> PR_FAILED (USER_BALANCE_NOT_ENOUGH,
 * RISK_REJECT, USER_PAYMENT_VERIFICATION_FAILED ... -> provider decline;
 * ORDER_IS_CLOSED -> attempt expired); U -> PR_UNKNOWN. A cashier payment
 * accepted by Antom (PAYMENT_IN_PROCESS with a code or URL) is PR_ACTION with
 * qr_text = orderCodeForm's codeValue and redirect_url = normalUrl.
 */
#include "alipay.h"
#include "../base/buf.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/form.h"
#include "../base/httpc.h"
#include "../base/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define AP_PEM_MAX (16 * 1024) /* a 4096-bit key in PEM is ~3.3 KB */
#define AP_SIG_MAX 1024        /* base64 of a 4096-bit signature is 684 chars */
#define AP_HDR_MAX (AP_SIG_MAX * 3 + 64)

static _Atomic long ap_timeout_ms;
static const int ap_backoff_ms[] = {50, 200, 800};
_Static_assert(sizeof(ap_backoff_ms) / sizeof(ap_backoff_ms[0]) >= LIMIT_PROVIDER_RETRIES,
               "a backoff step per retry");

void alipay_set_timeout_ms(long timeout_ms)
{
    K_ASSERT(timeout_ms >= 0);
    atomic_store(&ap_timeout_ms, timeout_ms);
}

/* ---------------------------------------------------------------- wallets */

static const alipay_wallet ap_wallets[] = {
    {"ALIPAY_CN", "Alipay", "CNY", "CN"},
    {"ALIPAY_HK", "AlipayHK", "HKD", "HK"},
    {"GCASH", "GCash", "PHP", "PH"},
    {"DANA", "DANA", "IDR", "ID"},
    {"TNG", "Touch 'n Go eWallet", "MYR", "MY"},
    {"TRUEMONEY", "TrueMoney", "THB", "TH"},
    {"KAKAOPAY", "KakaoPay", "KRW", "KR"},
};

size_t alipay_wallets(const char *currency, const alipay_wallet **out, size_t cap)
{
    K_ASSERT(out != NULL);
    size_t n = 0;
    bool home = false;
    for (size_t i = 0; currency && i < K_ARRAY_LEN(ap_wallets); i++)
        home |= strcasecmp(ap_wallets[i].currency, currency) == 0;
    for (size_t i = 0; i < K_ARRAY_LEN(ap_wallets) && n < cap; i++)
        if (!home || strcasecmp(ap_wallets[i].currency, currency) == 0)
            out[n++] = &ap_wallets[i];
    return n;
}

const alipay_wallet *alipay_wallet_find(const char *code)
{
    for (size_t i = 0; code && i < K_ARRAY_LEN(ap_wallets); i++)
        if (strcmp(ap_wallets[i].code, code) == 0)
            return &ap_wallets[i];
    return NULL;
}

/* ---------------------------------------------------------------- sandbox */

static pthread_mutex_t ap_sb_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ap_sb_url, *ap_sb_priv, *ap_sb_pub;

void alipay_sandbox_set(const char *base_url, const char *merchant_priv_pem,
                        const char *antom_pub_pem)
{
    K_ASSERT(base_url != NULL && merchant_priv_pem != NULL && antom_pub_pem != NULL);
    pthread_mutex_lock(&ap_sb_mu);
    free(ap_sb_url);
    free(ap_sb_priv);
    free(ap_sb_pub);
    ap_sb_url = strdup(base_url);
    ap_sb_priv = strdup(merchant_priv_pem);
    ap_sb_pub = strdup(antom_pub_pem);
    pthread_mutex_unlock(&ap_sb_mu);
}

void alipay_sandbox_clear(const char *base_url)
{
    pthread_mutex_lock(&ap_sb_mu);
    if (ap_sb_url && base_url && strcmp(ap_sb_url, base_url) == 0) {
        free(ap_sb_url);
        free(ap_sb_priv);
        free(ap_sb_pub);
        ap_sb_url = ap_sb_priv = ap_sb_pub = NULL;
    }
    pthread_mutex_unlock(&ap_sb_mu);
}

k_status alipay_sandbox_fetch(const char *base_url)
{
    K_ASSERT(base_url != NULL);
    char url[LIMIT_URL_MAX];
    int n = snprintf(url, sizeof url, "%s/_sim/sandbox", base_url);
    if (n < 0 || (size_t)n >= sizeof url)
        return K_ETOOBIG;
    httpc_req req = {.method = "GET", .url = url, .timeout_ms = LIMIT_SIM_ATTACH_TIMEOUT_MS};
    req.headers[0] = "Accept: application/json";
    httpc_resp resp;
    k_status st = httpc_do(&req, &resp);
    if (st != K_OK || resp.status != 200) {
        log_error("alipay: the sandbox at '%s' did not answer (HTTP %ld%s%s)", url, resp.status,
                  resp.error[0] ? ": " : "", resp.error);
        httpc_resp_free(&resp);
        return K_EIO;
    }
    json_error_t je;
    json_t *j = json_loadb(resp.body.data, resp.body.len, 0, &je);
    const char *priv = json_string_value(json_object_get(j, "merchantPrivateKey"));
    const char *pub = json_string_value(json_object_get(j, "antomPublicKey"));
    bool ok =
        priv && pub && strncmp(priv, "-----BEGIN", 10) == 0 && strncmp(pub, "-----BEGIN", 10) == 0;
    if (ok)
        alipay_sandbox_set(base_url, priv, pub);
    else
        log_error("alipay: the sandbox at '%s' answered no keys", url);
    json_decref(j);
    httpc_resp_free(&resp);
    return ok ? K_OK : K_EINVAL;
}

/* PEM text as is, or the contents of the file it names. */
static const char *ap_pem(const char *v, arena *a)
{
    if (!v || !*v)
        return NULL;
    if (strncmp(v, "-----BEGIN", 10) == 0)
        return v;
    FILE *f = fopen(v, "rb");
    if (!f) {
        log_warn("alipay: cannot open key file '%s'", v);
        return NULL;
    }
    char *text = arena_alloc(a, AP_PEM_MAX + 1);
    size_t n = text ? fread(text, 1, AP_PEM_MAX, f) : 0;
    bool more = text && fgetc(f) != EOF;
    fclose(f);
    if (!text || n == 0 || more) {
        log_warn("alipay: key file '%s' is empty or larger than %d bytes", v, AP_PEM_MAX);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The keys for an account: its own, else the sandbox's at its base URL. */
static bool ap_keys(const prov_account *acct, arena *a, const char **priv, const char **pub)
{
    *priv = ap_pem(acct->private_key, a);
    *pub = ap_pem(acct->public_key, a);
    if (*priv && *pub)
        return true;
    if (acct->private_key || acct->public_key)
        return false; /* configured but unreadable: never fall back silently */
    pthread_mutex_lock(&ap_sb_mu);
    bool sb =
        ap_sb_url && acct->base_url && strncmp(acct->base_url, ap_sb_url, strlen(ap_sb_url)) == 0;
    if (sb) {
        *priv = arena_strdup(a, ap_sb_priv);
        *pub = arena_strdup(a, ap_sb_pub);
    }
    pthread_mutex_unlock(&ap_sb_mu);
    return sb && *priv && *pub;
}

/* ---------------------------------------------------------------- signing */

static char *ap_sign_input(arena *a, const char *method, const char *uri, const char *client_id,
                           const char *time, const char *body, size_t len, size_t *n)
{
    char *head = arena_printf(a, "%s %s\n%s.%s.", method, uri, client_id, time);
    if (!head)
        return NULL;
    size_t hl = strlen(head);
    char *s = arena_alloc(a, hl + len + 1);
    if (!s)
        return NULL;
    memcpy(s, head, hl);
    if (len)
        memcpy(s + hl, body, len);
    *n = hl + len;
    return s;
}

const char *alipay_sign(const char *priv_pem, const char *method, const char *uri,
                        const char *client_id, const char *time, const char *body, size_t len,
                        arena *a)
{
    K_ASSERT(method != NULL && uri != NULL);
    K_ASSERT(client_id != NULL && time != NULL);
    size_t n;
    char *msg = ap_sign_input(a, method, uri, client_id, time, body, len, &n);
    char b64[AP_SIG_MAX];
    if (!msg || !priv_pem || crypto_rsa_sign_b64(priv_pem, msg, n, b64, sizeof b64) != K_OK)
        return NULL;
    buf h;
    buf_init(&h, AP_HDR_MAX);
    buf_append_str(&h, "algorithm=RSA256,keyVersion=1,signature=");
    k_status st = buf_append_urlenc(&h, b64);
    const char *out = st == K_OK ? arena_strdup(a, h.data) : NULL;
    buf_free(&h);
    return out;
}

bool alipay_verify(const char *pub_pem, const char *method, const char *uri, const char *client_id,
                   const char *time, const char *body, size_t len, const char *sig_header)
{
    if (!pub_pem || !method || !uri || !client_id || !time || !sig_header)
        return false;
    const char *p = strstr(sig_header, "signature=");
    if (!p)
        return false;
    p += strlen("signature=");
    size_t vlen = strcspn(p, ",");
    char b64[AP_SIG_MAX];
    long dn = form_unescape(p, vlen, b64, sizeof b64 - 1, false);
    if (dn <= 0)
        return false;
    b64[dn] = '\0';
    arena a;
    arena_init(&a, 0);
    size_t n;
    char *msg = ap_sign_input(&a, method, uri, client_id, time, body, len, &n);
    bool ok = msg && crypto_rsa_verify_b64(pub_pem, msg, n, b64);
    arena_release(&a);
    return ok;
}

/* ------------------------------------------------------------------ calls */

typedef struct {
    k_status st; /* K_OK: an HTTP answer; K_ETIMEOUT / K_EIO otherwise */
    long status;
    bool verified;
    json_t *json;                       /* parsed, verified body; NULL otherwise */
    const char *rstatus, *rcode, *rmsg; /* result.resultStatus / Code / Message */
    const char *error;
} ap_answer;

static const char *ap_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Antom sends amounts as strings; accept integers too. -1 when absent. */
static int64_t ap_amount_value(json_t *amt)
{
    json_t *v = json_object_get(amt, "value");
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s || !*s)
        return -1;
    char *end;
    long long x = strtoll(s, &end, 10);
    return *end == '\0' && x >= 0 ? (int64_t)x : -1;
}

/* "2024-05-01T12:10:00+08:00" / "...Z" -> unix seconds; 0 when absent. */
static int64_t ap_time(const char *s)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    if (*rest == '.')
        rest += 1 + strspn(rest + 1, "0123456789");
    if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) >= 6) {
        int64_t off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 +
                      ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
        t += rest[0] == '+' ? -off : off;
    }
    return t;
}

static void ap_iso(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static void ap_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "/ams/api/v1/payments/pay" (live) or "/ams/sandbox/api/..." for SANDBOX_ ids. */
static const char *ap_endpoint(const prov_account *acct, const char *name, arena *a)
{
    bool sandbox = acct->username && strncmp(acct->username, "SANDBOX_", 8) == 0;
    return arena_printf(a, "/ams/%sapi/v1/payments/%s", sandbox ? "sandbox/" : "", name);
}

/* The path part of base_url ("http://h:p/alipay" -> "/alipay", "" when none). */
static const char *ap_base_path(const char *base_url, size_t *len)
{
    const char *p = strstr(base_url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p) {
        *len = 0;
        return "";
    }
    *len = strlen(p);
    while (*len > 0 && p[*len - 1] == '/')
        (*len)--;
    return p;
}

static void ap_once(const httpc_req *req, const char *uri, const char *client_id, const char *pub,
                    arena *a, ap_answer *ans)
{
    httpc_resp resp;
    memset(ans, 0, sizeof(*ans));
    ans->st = httpc_do(req, &resp);
    ans->status = resp.status;
    if (ans->st != K_OK) {
        ans->error = arena_strdup(a, resp.error[0] ? resp.error : k_status_str(ans->st));
        httpc_resp_free(&resp);
        return;
    }
    char sig[AP_HDR_MAX], rtime[64], rcid[LIMIT_ID_MAX + 64];
    bool have = httpc_resp_header(&resp, "Signature", sig, sizeof sig) &&
                httpc_resp_header(&resp, "Response-Time", rtime, sizeof rtime) &&
                httpc_resp_header(&resp, "Client-Id", rcid, sizeof rcid);
    ans->verified =
        have && strcmp(rcid, client_id) == 0 &&
        alipay_verify(pub, "POST", uri, rcid, rtime, resp.body.data, resp.body.len, sig);
    if (ans->verified && resp.body.len > 0) {
        json_error_t je;
        ans->json = json_loadb(resp.body.data, resp.body.len, 0, &je);
        json_t *r = json_object_get(ans->json, "result");
        ans->rstatus = arena_strdup(a, ap_str(r, "resultStatus"));
        ans->rcode = arena_strdup(a, ap_str(r, "resultCode"));
        ans->rmsg = arena_strdup(a, ap_str(r, "resultMessage"));
    }
    if (!ans->verified)
        log_warn("alipay: answer to '%s' (HTTP %ld) has no valid signature; not trusted", uri,
                 ans->status);
    httpc_resp_free(&resp);
}

static bool ap_transient(const ap_answer *ans)
{
    if (ans->st != K_OK)
        return true;
    if (ans->status >= 500 || ans->status == 429)
        return true;
    return ans->rcode && (strcmp(ans->rcode, "UNKNOWN_EXCEPTION") == 0 ||
                          strcmp(ans->rcode, "REQUEST_TRAFFIC_EXCEED_LIMIT") == 0);
}

/* A signed POST of body to endpoint `name`, retried on transient answers with
 * the same body (and so the same request id). Caller json_decref's ans->json. */
static k_status ap_call(const prov_account *acct, const char *name, json_t *body, arena *a,
                        ap_answer *ans)
{
    K_ASSERT(acct != NULL && name != NULL);
    K_ASSERT(body != NULL);
    memset(ans, 0, sizeof(*ans));
    const char *priv, *pub;
    if (!acct->base_url || !acct->username || !ap_keys(acct, a, &priv, &pub)) {
        log_warn("alipay: account without base URL, Client-Id or readable keys");
        return K_EINVAL;
    }
    size_t bl = strlen(acct->base_url), pl;
    while (bl > 0 && acct->base_url[bl - 1] == '/')
        bl--;
    const char *bpath = ap_base_path(acct->base_url, &pl);
    const char *ep = ap_endpoint(acct, name, a);
    char *url = ep ? arena_printf(a, "%.*s%s", (int)bl, acct->base_url, ep) : NULL;
    char *uri = ep ? arena_printf(a, "%.*s%s", (int)pl, bpath, ep) : NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    char *btext = text ? arena_strdup(a, text) : NULL;
    free(text);
    if (!url || !uri || !btext)
        return K_ENOMEM;
    size_t blen = strlen(btext);
    for (int attempt = 0;; attempt++) {
        char *rt = arena_printf(a, "%lld", (long long)clock_now_ms());
        const char *sig =
            rt ? alipay_sign(priv, "POST", uri, acct->username, rt, btext, blen, a) : NULL;
        if (!sig) {
            log_warn("alipay: cannot sign with the configured private key");
            return K_EINVAL;
        }
        httpc_req req = {.method = "POST",
                         .url = url,
                         .body = btext,
                         .body_len = blen,
                         .timeout_ms = atomic_load(&ap_timeout_ms)};
        req.headers[0] = "Content-Type: application/json; charset=UTF-8";
        req.headers[1] = arena_printf(a, "Client-Id: %s", acct->username);
        req.headers[2] = arena_printf(a, "Request-Time: %s", rt);
        req.headers[3] = arena_printf(a, "Signature: %s", sig);
        req.headers[4] = "User-Agent: Kassa";
        if (!req.headers[1] || !req.headers[2] || !req.headers[3])
            return K_ENOMEM;
        ap_once(&req, uri, acct->username, pub, a, ans);
        if (!ap_transient(ans) || attempt >= LIMIT_PROVIDER_RETRIES)
            break;
        log_info("alipay: '%s' answered %ld %s, retry %d with the same request id", name,
                 ans->status, ans->rcode ? ans->rcode : (ans->error ? ans->error : ""),
                 attempt + 1);
        json_decref(ans->json);
        ans->json = NULL;
        ap_sleep_ms(ap_backoff_ms[attempt]);
    }
    return K_OK;
}

/* ---------------------------------------------------------------- mapping */

static const char *ap_failure_code(const char *rcode)
{
    if (!rcode)
        return "payment_method_provider_decline";
    if (strcmp(rcode, "ORDER_IS_CLOSED") == 0)
        return "payment_intent_payment_attempt_expired";
    static const char *const unavailable[] = {
        "ACCESS_DENIED",           "INVALID_CLIENT",
        "INVALID_SIGNATURE",       "KEY_NOT_FOUND",
        "PARAM_ILLEGAL",           "CURRENCY_NOT_SUPPORT",
        "BUSINESS_NOT_SUPPORT",    "INVALID_CONTRACT",
        "MERCHANT_NOT_REGISTERED", "UNAVAILABLE_PAYMENT_METHOD",
        "NO_INTERFACE_DEF",        "ORDER_NOT_EXIST",
        "REPEAT_REQ_INCONSISTENT"};
    for (size_t i = 0; i < K_ARRAY_LEN(unavailable); i++)
        if (strcmp(rcode, unavailable[i]) == 0)
            return "payment_method_not_available";
    return "payment_method_provider_decline";
}

static void ap_fail(prov_result *out, const char *code, const char *msg, arena *a)
{
    out->outcome = PR_FAILED;
    out->provider_code = arena_strdup(a, code ? code : "PROCESS_FAIL");
    out->failure_code = ap_failure_code(code);
    out->failure_message =
        arena_printf(a, "Alipay+: %s (%s)", msg ? msg : "the payment failed", out->provider_code);
}

/* An answer that is not a verified S/F: PR_UNKNOWN, ask again. */
static k_status ap_unknown(const ap_answer *ans, arena *a, prov_result *out)
{
    out->outcome = PR_UNKNOWN;
    out->retryable = true;
    if (ans->st != K_OK) {
        out->provider_code = ans->st == K_ETIMEOUT ? "TIMEOUT" : "NETWORK";
        out->failure_message = arena_printf(a, "Antom did not answer: %s", ans->error);
    } else if (!ans->verified) {
        out->provider_code = "INVALID_SIGNATURE";
        out->failure_message = "Antom's answer failed signature verification";
    } else {
        out->provider_code = arena_strdup(a, ans->rcode ? ans->rcode : "UNKNOWN_EXCEPTION");
        out->failure_message =
            arena_printf(a, "Antom answered %s; asking again later", out->provider_code);
    }
    return out->failure_message ? K_OK : K_ENOMEM;
}

static bool ap_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

/* ------------------------------------------------------------------- pay */

static json_t *ap_money(const char *currency, int64_t amount)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)amount);
    return json_pack("{s:s, s:s}", "currency", currency ? currency : "", "value", v);
}

static json_t *ap_goods(const prov_start *in)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < in->nlines; i++) {
        const prov_line *l = &in->lines[i];
        if (l->unit_price < 0)
            continue; /* discounts are not goods */
        char q[24];
        snprintf(q, sizeof q, "%lld", (long long)l->quantity);
        json_t *g =
            json_pack("{s:s, s:o, s:s}", "goodsName", l->name ? l->name : "Item", "goodsUnitAmount",
                      ap_money(in->currency, l->unit_price), "goodsQuantity", q);
        if (l->reference)
            json_object_set_new(g, "referenceGoodsId", json_string(l->reference));
        json_array_append_new(arr, g);
    }
    return arr;
}

static json_t *ap_pay_body(const prov_account *acct, const prov_start *in)
{
    const char *terminal = in->terminal && strcmp(in->terminal, "WAP") == 0 ? "WAP" : "WEB";
    const char *desc = in->description && *in->description ? in->description : "Order";
    char exp[32];
    json_t *order =
        json_pack("{s:s, s:s%, s:o, s:o, s:{s:s}, s:{s:s}}", "referenceOrderId",
                  in->payment_id ? in->payment_id : in->attempt_id, "orderDescription", desc,
                  strnlen(desc, 256), "orderAmount", ap_money(in->currency, in->amount), "goods",
                  ap_goods(in), "env", "terminalType", terminal, "merchant", "merchantName",
                  acct->merchant_name ? acct->merchant_name : "Kassa merchant");
    if (in->email)
        json_object_set_new(order, "buyer", json_pack("{s:s}", "buyerEmail", in->email));
    const alipay_wallet *w = in->method ? alipay_wallet_find(in->method) : NULL;
    json_t *b = json_pack("{s:s, s:s, s:o, s:o, s:{s:s}, s:{s:s}, s:s, s:s, s:{s:s}}",
                          "productCode", "CASHIER_PAYMENT", "paymentRequestId", in->attempt_id,
                          "paymentAmount", ap_money(in->currency, in->amount), "order", order,
                          "paymentMethod", "paymentMethodType", w ? w->code : "CONNECT_WALLET",
                          "env", "terminalType", terminal, "paymentRedirectUrl", in->success_url,
                          "paymentNotifyUrl", in->notify_url, "settlementStrategy",
                          "settlementCurrency", in->currency ? in->currency : "USD");
    if (in->expires_at > 0) {
        ap_iso(in->expires_at, exp);
        json_object_set_new(b, "paymentExpiryTime", json_string(exp));
    }
    if (in->country && *in->country)
        json_object_set_new(b, "userRegion", json_string(in->country));
    return b;
}

static k_status ap_start(const prov_account *acct, const prov_start *in, arena *a, prov_result *out)
{
    K_ASSERT(in != NULL && out != NULL);
    K_ASSERT(in->amount >= 0 && in->amount <= LIMIT_AMOUNT_MAX);
    memset(out, 0, sizeof(*out));
    if (!in->attempt_id || !in->success_url || !in->notify_url || !in->currency)
        return K_EINVAL;
    json_t *body = ap_pay_body(acct, in);
    ap_answer ans;
    k_status st = ap_call(acct, "pay", body, a, &ans);
    json_decref(body);
    if (st != K_OK)
        return st;
    out->amount = in->amount;
    if (!ans.verified || !ans.rstatus) {
        st = ap_unknown(&ans, a, out);
        json_decref(ans.json);
        return st;
    }
    out->provider_ref = arena_strdup(a, ap_str(ans.json, "paymentId"));
    json_t *form = json_object_get(ans.json, "orderCodeForm");
    json_t *code = json_array_get(json_object_get(form, "codeDetails"), 0);
    const char *qr = ap_str(code, "codeValue");
    const char *normal = ap_str(ans.json, "normalUrl");
    if (ap_is(ans.rstatus, "S")) {
        out->outcome = PR_CAPTURED;
    } else if (ap_is(ans.rstatus, "F")) {
        ap_fail(out, ans.rcode, ans.rmsg, a);
    } else if (ap_is(ans.rcode, "PAYMENT_IN_PROCESS") && (qr || normal)) {
        out->outcome = PR_ACTION;
        out->qr_text = arena_strdup(a, qr);
        out->redirect_url = arena_strdup(a, normal);
        out->expires_at = ap_time(ap_str(form, "expireTime"));
        out->method_detail = arena_strdup(a, ap_str(form, "paymentMethodType"));
    } else {
        st = ap_unknown(&ans, a, out);
    }
    json_decref(ans.json);
    return st;
}

/* --------------------------------------------------------------- inquiry */

static void ap_map_status(json_t *j, arena *a, prov_result *out)
{
    const char *ps = ap_str(j, "paymentStatus");
    const char *rc = ap_str(j, "paymentResultCode");
    const char *rm = ap_str(j, "paymentResultMessage");
    int64_t amt = ap_amount_value(json_object_get(j, "paymentAmount"));
    if (amt >= 0)
        out->amount = amt;
    out->method_detail = arena_strdup(a, ap_str(j, "paymentMethodType"));
    if (ap_is(ps, "SUCCESS")) {
        out->outcome = PR_CAPTURED;
    } else if (ap_is(ps, "FAIL")) {
        ap_fail(out, rc, rm, a);
    } else if (ap_is(ps, "CANCELLED")) {
        out->outcome = PR_CANCELED;
        out->provider_code = "CANCELLED";
        out->failure_code = "payment_method_customer_decline";
        out->failure_message = "The payment was cancelled at Alipay+";
    } else if (ap_is(ps, "PENDING")) {
        out->outcome = PR_PROCESSING;
    } else if (ap_is(ps, "PROCESSING")) {
        out->outcome = PR_ACTION; /* the code is still open to scan */
    } else {
        out->outcome = PR_UNKNOWN;
        out->retryable = true;
        out->provider_code = arena_strdup(a, ps ? ps : "NO_STATUS");
    }
}

static k_status ap_sync(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    if (!ref->provider_ref && !ref->attempt_id)
        return K_EINVAL;
    json_t *body = ref->provider_ref ? json_pack("{s:s}", "paymentId", ref->provider_ref)
                                     : json_pack("{s:s}", "paymentRequestId", ref->attempt_id);
    ap_answer ans;
    k_status st = ap_call(acct, "inquiryPayment", body, a, &ans);
    json_decref(body);
    if (st != K_OK)
        return st;
    if (ans.verified && ap_is(ans.rstatus, "S"))
        ap_map_status(ans.json, a, out);
    else if (ans.verified && ap_is(ans.rstatus, "F") && ap_is(ans.rcode, "ORDER_NOT_EXIST"))
        ap_fail(out, ans.rcode, ans.rmsg, a);
    else
        st = ap_unknown(&ans, a, out);
    json_decref(ans.json);
    return st;
}

/* ---------------------------------------------------------------- cancel */

static k_status ap_cancel(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    if (!ref->provider_ref && !ref->attempt_id)
        return K_EINVAL;
    json_t *body = ref->provider_ref ? json_pack("{s:s}", "paymentId", ref->provider_ref)
                                     : json_pack("{s:s}", "paymentRequestId", ref->attempt_id);
    ap_answer ans;
    k_status st = ap_call(acct, "cancel", body, a, &ans);
    json_decref(body);
    if (st != K_OK)
        return st;
    if (ans.verified && ap_is(ans.rstatus, "S")) {
        out->outcome = PR_CANCELED;
        out->provider_code = "CANCELLED";
    } else if (ans.verified && ap_is(ans.rstatus, "F")) {
        ap_fail(out, ans.rcode, ans.rmsg, a);
    } else {
        st = ap_unknown(&ans, a, out);
    }
    json_decref(ans.json);
    return st;
}

/* ---------------------------------------------------------------- refund */

static k_status ap_inquiry_refund(const prov_account *acct, const char *refund_request_id, arena *a,
                                  prov_result *out)
{
    json_t *body = json_pack("{s:s}", "refundRequestId", refund_request_id);
    ap_answer ans;
    k_status st = ap_call(acct, "inquiryRefund", body, a, &ans);
    json_decref(body);
    if (st != K_OK)
        return st;
    const char *rs = ap_str(ans.json, "refundStatus");
    if (ans.verified && ap_is(ans.rstatus, "S") && ap_is(rs, "SUCCESS")) {
        out->outcome = PR_CAPTURED;
        out->op_ref = arena_strdup(a, ap_str(ans.json, "refundId"));
    } else if (ans.verified && ap_is(ans.rstatus, "S") && ap_is(rs, "FAIL")) {
        ap_fail(out, "REFUND_FAILED", "the refund failed", a);
    } else {
        st = ap_unknown(&ans, a, out);
    }
    json_decref(ans.json);
    return st;
}

static k_status ap_refund(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out)
{
    K_ASSERT(ref != NULL && out != NULL);
    K_ASSERT(ref->amount >= 0);
    memset(out, 0, sizeof(*out));
    out->provider_ref = ref->provider_ref;
    if (!ref->provider_ref || !ref->idem_key || !ref->currency)
        return K_EINVAL;
    json_t *body =
        json_pack("{s:s, s:s, s:o}", "refundRequestId", ref->idem_key, "paymentId",
                  ref->provider_ref, "refundAmount", ap_money(ref->currency, ref->amount));
    if (ref->description && *ref->description)
        json_object_set_new(body, "refundReason", json_string(ref->description));
    if (ref->notify_url)
        json_object_set_new(body, "refundNotifyUrl", json_string(ref->notify_url));
    ap_answer ans;
    k_status st = ap_call(acct, "refund", body, a, &ans);
    json_decref(body);
    if (st != K_OK)
        return st;
    out->amount = ref->amount;
    if (ans.verified && ap_is(ans.rstatus, "S")) {
        out->outcome = PR_CAPTURED; /* the payment stays captured; the refund is recorded */
        out->op_ref = arena_strdup(a, ap_str(ans.json, "refundId"));
    } else if (ans.verified && ap_is(ans.rstatus, "F")) {
        ap_fail(out, ans.rcode, ans.rmsg, a);
    } else {
        /* U (REFUND_IN_PROCESS) or no answer: ask once what became of it. */
        json_decref(ans.json);
        ans.json = NULL;
        st = ap_inquiry_refund(acct, ref->idem_key, a, out);
        out->amount = ref->amount;
    }
    json_decref(ans.json);
    return st;
}

/* ---------------------------------------------------------------- notice */

static k_status ap_notice(const prov_account *acct, const prov_inbound *in, arena *a,
                          prov_notice *out)
{
    K_ASSERT(in != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->result.outcome = PR_UNKNOWN;
    out->ack_status = 401;
    out->ack_body = "{\"result\":{\"resultCode\":\"INVALID_SIGNATURE\",\"resultStatus\":\"F\","
                    "\"resultMessage\":\"The signature is invalid\"}}";
    const char *priv, *pub;
    if (!ap_keys(acct, a, &priv, &pub))
        return K_EINVAL;
    const char *uri =
        in->query && *in->query ? arena_printf(a, "%s?%s", in->path, in->query) : in->path;
    const char *cid = in->header(in->header_ctx, "Client-Id");
    const char *rt = in->header(in->header_ctx, "Request-Time");
    const char *sig = in->header(in->header_ctx, "Signature");
    if (!uri ||
        !alipay_verify(pub, in->method ? in->method : "POST", uri, cid, rt, in->body, in->body_len,
                       sig) ||
        (acct->username && cid && strcmp(cid, acct->username) != 0)) {
        log_warn("alipay: notification with a missing or invalid signature refused");
        return K_EINVAL;
    }
    json_error_t je;
    json_t *j = in->body && in->body_len ? json_loadb(in->body, in->body_len, 0, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        out->ack_status = 400;
        out->ack_body = "{\"result\":{\"resultCode\":\"PARAM_ILLEGAL\",\"resultStatus\":\"F\","
                        "\"resultMessage\":\"Illegal parameters\"}}";
        return K_EINVAL;
    }
    const char *type = ap_str(j, "notifyType");
    json_t *r = json_object_get(j, "result");
    out->refund = ap_is(type, "REFUND_RESULT");
    out->provider_ref = arena_strdup(a, ap_str(j, "paymentId"));
    out->attempt_id = arena_strdup(a, ap_str(j, "paymentRequestId"));
    out->result.provider_ref = out->provider_ref;
    if (out->refund) {
        out->result.op_ref = arena_strdup(a, ap_str(j, "refundId"));
        out->result.amount = ap_amount_value(json_object_get(j, "refundAmount"));
        out->result.outcome = ap_is(ap_str(j, "refundStatus"), "SUCCESS") ? PR_CAPTURED : PR_FAILED;
    } else if (ap_is(type, "PAYMENT_PENDING")) {
        out->result.outcome = PR_PROCESSING;
    } else if (ap_is(ap_str(r, "resultStatus"), "S")) {
        out->result.outcome = PR_CAPTURED;
        out->result.amount = ap_amount_value(json_object_get(j, "paymentAmount"));
    } else if (ap_is(ap_str(r, "resultStatus"), "F")) {
        ap_fail(&out->result, ap_str(r, "resultCode"), ap_str(r, "resultMessage"), a);
    }
    json_decref(j);
    out->ack_status = 200;
    out->ack_body = ALIPAY_ACK;
    return K_OK;
}

const provider alipay_provider = {
    .name = "alipay",
    .wallets = alipay_wallets,
    .sandbox = alipay_sandbox_fetch,
    .start = ap_start,
    .sync = ap_sync,
    .refund = ap_refund,
    .cancel = ap_cancel,
    .notice = ap_notice,
};
