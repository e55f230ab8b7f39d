/*
 * alipay_sim.c - the Antom / Alipay+ simulator (see alipay_sim.h and
 * docs/simulators.md).
 *
 * API: the endpoints the connector calls, each request's Signature verified
 * with the merchant's public key (the sandbox pair, or one registered through
 * /_sim/keys) and each answer signed with the simulator's own key. Business
 * rules follow providers.md §5: idempotent paymentRequestId/refundRequestId
 * (REPEAT_REQ_INCONSISTENT on other content), expiry closes a payment
 * (ORDER_IS_CLOSED), cancel until 00:15 UTC+8 the day after payment
 * (CANCEL_WINDOW_EXCEED), refunds while their sum <= paid (REFUND_AMOUNT_EXCEED).
 *
 * Outcomes (§5.12, our convention): amount ending 51 -> USER_BALANCE_NOT_ENOUGH,
 * 52 -> RISK_REJECT, 53 -> confirmed but stays PENDING until expiry, 54 -> the
 * first pay call answers UNKNOWN_EXCEPTION (U); three wrong PINs ->
 * USER_PAYMENT_VERIFICATION_FAILED; the valid PIN is 123456.
 *
 * Notifications are signed, sent by a ticker thread (never from a handler),
 * and re-sent on Antom's schedule (0 s, 2 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h,
 * on clock_now_s(), so a test clock moves them) until answered with the
 * SUCCESS acknowledgement. State is in memory under one mutex, bounded.
 */
#include "alipay_sim.h"
#include "sim_index.h"
#include "../base/arena.h"
#include "../base/buf.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/form.h"
#include "../base/httpc.h"
#include "../base/log.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define AS_ID_LEN      48
#define AS_TTL_S       (14 * 60)   /* Antom's default payment expiry */
#define AS_TTL_MAX_S   (48 * 3600) /* longest paymentExpiryTime accepted */
#define AS_PIN         "123456"
#define AS_PIN_TRIES   3
#define AS_REFUND_DAYS 365 /* refund window of the sandbox contract */
#define AS_NOTES_MAX   256 /* queued notifications */
#define AS_LOG_MAX     64  /* sent notifications kept for /_sim/notifications */
#define AS_KEYS_MAX    16  /* merchant public keys registered by tests */
#define AS_FAULTS_MAX  8
#define AS_KEY_BITS    2048
#define AS_SIG_MAX     1024 /* base64 of an RSA-2048 signature: 344 characters */
#define AS_SIG_HDR_MAX 2048 /* the Signature header, url-encoded */

static const int64_t as_schedule_s[] = {0, 120, 600, 600, 3600, 7200, 21600, 54000};
#define AS_TRIES ((int)K_ARRAY_LEN(as_schedule_s))

typedef enum { AS_PROCESSING, AS_PENDING, AS_SUCCESS, AS_FAIL, AS_CANCELLED } as_status;
static const char *const as_status_name[] = {"PROCESSING", "PENDING", "SUCCESS", "FAIL",
                                             "CANCELLED"};

typedef struct {
    char id[AS_ID_LEN];
    char request_id[LIMIT_ID_MAX + 1];
    int64_t amount;
    int64_t at_s;
} as_refund;

typedef struct {
    char id[AS_ID_LEN];
    char request_id[LIMIT_ID_MAX + 1];
    char client_id[LIMIT_ID_MAX + 1];
    char hash[SHA256_HEX_LEN];
    char currency[4];
    int64_t amount;
    char method_type[24];
    char wallet[24];
    char merchant[128];
    char description[128];
    as_status status;
    char rcode[40];
    int64_t created_s, expires_s, paid_s;
    char notify_url[LIMIT_URL_MAX + 1];
    char redirect_url[LIMIT_URL_MAX + 1];
    int pin_fails;
    bool unknown_sent;
    as_refund refunds[LIMIT_SIM_OPS_MAX];
    int nrefunds;
    int64_t refunded;
} as_pay;

typedef struct as_note {
    struct as_note *next;
    int64_t due_s;
    int tries;
    char *url;
    char *body;
    char client_id[LIMIT_ID_MAX + 1];
    char kind[16];
} as_note;

typedef struct {
    char url[LIMIT_URL_MAX + 1];
    char kind[16];
    int tries;
    bool acked;
    long last_status;
    int64_t at_s;
} as_log;

typedef struct {
    char endpoint[32];
    int status;         /* HTTP status to answer, 0 = 200 */
    char result[40];    /* resultCode to answer (U/F per code), "" = none */
    bool bad_signature; /* sign the answer with a wrong key */
    int count;
} as_fault;

typedef struct {
    char client_id[LIMIT_ID_MAX + 1];
    char *pem;
} as_key;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t ticker;
    bool ticking; /* a ticker thread runs (not on a local server) */
    bool stop;
    char base[128];      /* "http://127.0.0.1:port/alipay" */
    char *merchant_priv; /* sandbox merchant pair (private half handed to the connector) */
    char *merchant_pub;
    char *antom_priv; /* our own pair */
    char *antom_pub;
    char *rogue_priv; /* a third key: answers "signed by someone else" */
    as_pay *pays;     /* LIMIT_SIM_OBJECTS_MAX, oldest evicted */
    size_t npays;
    /* hash indexes: paymentId, paymentRequestId, and a refund's refundRequestId
     * and refundId to its payment's slot */
    sim_index pay_ix, payreq_ix, refreq_ix, refid_ix;
    as_note *notes;
    size_t nnotes;
    as_log log[AS_LOG_MAX];
    size_t nlog;
    as_key keys[AS_KEYS_MAX];
    size_t nkeys;
    as_fault faults[AS_FAULTS_MAX];
    int note_mode; /* 0 normal, 1 duplicate, 2 late */
    int64_t late_s;
} alipay_sim;

/* ---------------------------------------------------------------- helpers */

static void as_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memmove(dst, src, n);
    dst[n] = '\0';
}

static const char *as_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ------------------------------------------------------ wallets, signing */

/* Antom's side of the wallet list (what Alipay+ offers for a currency: a
 * wallet's home currency offers only that wallet, any other currency every
 * wallet). The connector keeps its own copy, as it would against the real
 * Antom: the simulator is reached over HTTP only. */
typedef struct {
    const char *code, *name, *currency, *region;
} as_wallet;

static const as_wallet as_wallet_table[] = {
    {"ALIPAY_CN", "Alipay", "CNY", "CN"},
    {"ALIPAY_HK", "AlipayHK", "HKD", "HK"},
    {"GCASH", "GCash", "PHP", "PH"},
    {"DANA", "DANA", "IDR", "ID"},
    {"TNG", "Touch 'n Go eWallet", "MYR", "MY"},
    {"TRUEMONEY", "TrueMoney", "THB", "TH"},
    {"KAKAOPAY", "KakaoPay", "KRW", "KR"},
};

static size_t as_wallets(const char *currency, const as_wallet **out, size_t cap)
{
    size_t n = 0;
    bool home = false;
    for (size_t i = 0; currency && i < K_ARRAY_LEN(as_wallet_table); i++)
        home |= strcasecmp(as_wallet_table[i].currency, currency) == 0;
    for (size_t i = 0; i < K_ARRAY_LEN(as_wallet_table) && n < cap; i++)
        if (!home || strcasecmp(as_wallet_table[i].currency, currency) == 0)
            out[n++] = &as_wallet_table[i];
    return n;
}

static const as_wallet *as_wallet_find(const char *code)
{
    for (size_t i = 0; code && i < K_ARRAY_LEN(as_wallet_table); i++)
        if (strcmp(as_wallet_table[i].code, code) == 0)
            return &as_wallet_table[i];
    return NULL;
}

/* Antom's content to sign (providers.md §5.2): "<METHOD> <uri>\n<client-id>.
 * <request-time>.<body>", written here from the specification rather than
 * shared with the connector, so that a connector bug is caught, not copied. */
static char *as_sign_input(arena *a, const char *method, const char *uri, const char *client_id,
                           const char *time, const char *body, size_t len, size_t *n)
{
    char *head = arena_printf(a, "%s %s\n%s.%s.", method, uri, client_id, time);
    if (!head)
        return NULL;
    size_t hl = strlen(head);
    char *msg = arena_alloc(a, hl + len + 1);
    if (!msg)
        return NULL;
    memcpy(msg, head, hl);
    if (len)
        memcpy(msg + hl, body, len);
    *n = hl + len;
    return msg;
}

/* The Signature header value "algorithm=RSA256,keyVersion=1,signature=<url-
 * encoded base64>" (arena-owned), NULL on a bad key. */
static const char *as_sign(const char *priv_pem, const char *method, const char *uri,
                           const char *client_id, const char *time, const char *body, size_t len,
                           arena *a)
{
    size_t n;
    char *msg = as_sign_input(a, method, uri, client_id, time, body, len, &n);
    char b64[AS_SIG_MAX];
    if (!msg || !priv_pem || crypto_rsa_sign_b64(priv_pem, msg, n, b64, sizeof b64) != K_OK)
        return NULL;
    buf h;
    buf_init(&h, AS_SIG_HDR_MAX);
    buf_append_str(&h, "algorithm=RSA256,keyVersion=1,signature=");
    k_status st = buf_append_urlenc(&h, b64);
    const char *out = st == K_OK ? arena_strdup(a, h.data) : NULL;
    buf_free(&h);
    return out;
}

static bool as_verify(const char *pub_pem, const char *method, const char *uri,
                      const char *client_id, const char *time, const char *body, size_t len,
                      const char *sig_header)
{
    if (!pub_pem || !method || !uri || !client_id || !time || !sig_header)
        return false;
    const char *p = strstr(sig_header, "signature=");
    if (!p)
        return false;
    p += strlen("signature=");
    char b64[AS_SIG_MAX];
    long dn = form_unescape(p, strcspn(p, ","), b64, sizeof b64 - 1, false);
    if (dn <= 0)
        return false;
    b64[dn] = '\0';
    arena a;
    arena_init(&a, 0);
    size_t n;
    char *msg = as_sign_input(&a, method, uri, client_id, time, body, len, &n);
    bool ok = msg && crypto_rsa_verify_b64(pub_pem, msg, n, b64);
    arena_release(&a);
    return ok;
}

static void as_iso(int64_t s, char out[32])
{
    time_t t = (time_t)(s + 8 * 3600); /* Antom answers in UTC+8 */
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static int64_t as_parse_time(const char *s)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) >= 6) {
        int64_t off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 +
                      ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
        t += rest[0] == '+' ? -off : off;
    }
    return t;
}

static void as_id(char out[AS_ID_LEN], const char *prefix)
{
    uint8_t r[10];
    if (crypto_random(r, sizeof r) != K_OK)
        K_ASSERT(!"crypto_random failed");
    char hex[21];
    crypto_hex(r, sizeof r, hex);
    time_t t = (time_t)clock_now_s();
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y%m%d", &tm);
    snprintf(out, AS_ID_LEN, "%s%s%s", prefix, day, hex);
}

/* Amounts: "value" is a string of digits (integers tolerated). -1 = invalid. */
static int64_t as_value(json_t *amt)
{
    json_t *v = json_object_get(amt, "value");
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s))
        return -1;
    return (int64_t)strtoll(s, NULL, 10);
}

static json_t *as_money(const char *cur, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return json_pack("{s:s, s:s}", "currency", cur, "value", s);
}

/* ------------------------------------------------------------- currencies */

typedef struct {
    const char *code;
    int exp;
    int64_t usd_micro; /* 1 unit in micro-USD: the sandbox's fixed rates */
} as_cur;

static const as_cur as_curs[] = {
    {"USD", 2, 1000000}, {"EUR", 2, 1080000}, {"GBP", 2, 1270000}, {"CHF", 2, 1120000},
    {"HKD", 2, 128000},  {"SGD", 2, 740000},  {"AUD", 2, 660000},  {"CNY", 2, 138000},
    {"JPY", 0, 6700},    {"KRW", 0, 740},     {"PHP", 2, 17500},   {"IDR", 2, 63},
    {"MYR", 2, 210000},  {"THB", 2, 28000},
};

static const as_cur *as_cur_find(const char *code)
{
    for (size_t i = 0; code && i < K_ARRAY_LEN(as_curs); i++)
        if (strcmp(as_curs[i].code, code) == 0)
            return &as_curs[i];
    return NULL;
}

/* amount (minor units of from) in minor units of to, half up, integers only. */
static int64_t as_convert(int64_t amount, const as_cur *from, const as_cur *to)
{
    K_ASSERT(amount >= 0 && amount <= LIMIT_AMOUNT_MAX);
    unsigned __int128 num = (unsigned __int128)amount * (uint64_t)from->usd_micro;
    unsigned __int128 den = (unsigned __int128)(uint64_t)to->usd_micro;
    for (int i = 0; i < to->exp; i++)
        num *= 10;
    for (int i = 0; i < from->exp; i++)
        den *= 10;
    return (int64_t)((num * 2 + den) / (den * 2));
}

static void as_fmt_money(int64_t v, const char *cur, char *out, size_t cap)
{
    const as_cur *c = as_cur_find(cur);
    if (!c || c->exp == 0) {
        snprintf(out, cap, "%s %lld", cur, (long long)v);
        return;
    }
    snprintf(out, cap, "%s %lld.%02lld", cur, (long long)(v / 100), (long long)(v % 100));
}

/* ------------------------------------------------------------------- keys */

static bool as_keypair(char **priv, char **pub)
{
    EVP_PKEY *k = EVP_RSA_gen(AS_KEY_BITS);
    BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
    bool ok = k && b1 && b2 && PEM_write_bio_PrivateKey(b1, k, NULL, NULL, 0, NULL, NULL) == 1 &&
              PEM_write_bio_PUBKEY(b2, k) == 1;
    if (ok) {
        char *p1, *p2;
        long n1 = BIO_get_mem_data(b1, &p1), n2 = BIO_get_mem_data(b2, &p2);
        *priv = strndup(p1, (size_t)n1);
        *pub = strndup(p2, (size_t)n2);
        ok = *priv && *pub;
    }
    BIO_free(b1);
    BIO_free(b2);
    EVP_PKEY_free(k);
    return ok;
}

static const char *as_client_key(alipay_sim *s, const char *client_id)
{
    for (size_t i = 0; client_id && i < s->nkeys; i++)
        if (strcmp(s->keys[i].client_id, client_id) == 0)
            return s->keys[i].pem;
    return s->merchant_pub;
}

/* ---------------------------------------------------------------- answers */

static void as_body(sim_response *r, int status, const char *ctype, const char *text)
{
    r->status = status;
    r->content_type = ctype;
    buf_reset(&r->body);
    if (text)
        buf_append_str(&r->body, text);
}

/* A signed API answer: Client-Id, Response-Time, Signature over the body. */
static void as_api_answer(alipay_sim *s, sim_response *r, const char *uri, const char *client_id,
                          json_t *j, bool rogue)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    as_body(r, 200, "application/json; charset=UTF-8", text ? text : "{}");
    free(text);
    char rt[32];
    snprintf(rt, sizeof rt, "%lld", (long long)clock_now_ms());
    arena a;
    arena_init(&a, 0);
    const char *sig = as_sign(rogue ? s->rogue_priv : s->antom_priv, "POST", uri, client_id, rt,
                              r->body.data, r->body.len, &a);
    r->nheaders = 0;
    sim_response_header(r, "Client-Id", client_id);
    sim_response_header(r, "Response-Time", rt);
    if (sig)
        sim_response_header(r, "Signature", sig);
    arena_release(&a);
}

static json_t *as_result(const char *code, const char *status, const char *msg)
{
    return json_pack("{s:s, s:s, s:s}", "resultCode", code, "resultStatus", status, "resultMessage",
                     msg);
}

static const char *as_code_msg(const char *code)
{
    static const char *const m[][2] = {
        {"SUCCESS", "Success"},
        {"PAYMENT_IN_PROCESS", "The payment is being processed"},
        {"UNKNOWN_EXCEPTION", "An API calling is failed, which is caused by unknown reasons"},
        {"INVALID_SIGNATURE", "The signature is invalid"},
        {"PARAM_ILLEGAL", "Illegal parameters exist"},
        {"CURRENCY_NOT_SUPPORT", "The currency is not supported"},
        {"REPEAT_REQ_INCONSISTENT", "Repeated requests are inconsistent"},
        {"ORDER_IS_CLOSED", "The order is closed"},
        {"ORDER_NOT_EXIST", "The order doesn't exist"},
        {"USER_BALANCE_NOT_ENOUGH", "The user balance is not enough for the payment"},
        {"USER_PAYMENT_VERIFICATION_FAILED", "The user payment verification failed"},
        {"RISK_REJECT", "The payment is rejected by risk control"},
        {"UNAVAILABLE_PAYMENT_METHOD", "The payment method is unavailable"},
        {"CANCEL_WINDOW_EXCEED", "The cancellation window has passed"},
        {"REFUND_AMOUNT_EXCEED", "The total refund amount exceeds the payment amount"},
        {"REFUND_WINDOW_EXCEED", "The refund window has passed"},
        {"ORDER_STATUS_INVALID", "The order status is invalid for this operation"},
        {"NO_INTERFACE_DEF", "API is not defined"},
    };
    for (size_t i = 0; i < K_ARRAY_LEN(m); i++)
        if (strcmp(m[i][0], code) == 0)
            return m[i][1];
    return code;
}

static const char *as_code_status(const char *code)
{
    if (strcmp(code, "SUCCESS") == 0)
        return "S";
    if (strcmp(code, "PAYMENT_IN_PROCESS") == 0 || strcmp(code, "UNKNOWN_EXCEPTION") == 0 ||
        strcmp(code, "REQUEST_TRAFFIC_EXCEED_LIMIT") == 0 || strcmp(code, "REFUND_IN_PROCESS") == 0)
        return "U";
    return "F";
}

static json_t *as_only_result(const char *code)
{
    return json_pack("{s:o}", "result", as_result(code, as_code_status(code), as_code_msg(code)));
}

/* ------------------------------------------------------------------ state */

static bool as_pay_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const alipay_sim *s = ctx;
    return strcmp(s->pays[slot].id, k1) == 0;
}

static bool as_payreq_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const alipay_sim *s = ctx;
    return strcmp(s->pays[slot].request_id, k1) == 0;
}

static as_refund *as_pay_refund(as_pay *p, const char *req_id, const char *id)
{
    for (int k = 0; k < p->nrefunds; k++) {
        as_refund *r = &p->refunds[k];
        if ((req_id && strcmp(r->request_id, req_id) == 0) || (id && strcmp(r->id, id) == 0))
            return r;
    }
    return NULL;
}

static bool as_refreq_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const alipay_sim *s = ctx;
    return as_pay_refund(&s->pays[slot], k1, NULL) != NULL;
}

static bool as_refid_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const alipay_sim *s = ctx;
    return as_pay_refund(&s->pays[slot], NULL, k1) != NULL;
}

/* By paymentId, else by paymentRequestId. */
static as_pay *as_find(alipay_sim *s, const char *pid, const char *req_id)
{
    int64_t i = pid ? sim_index_get(&s->pay_ix, pid, NULL, as_pay_match, s)
                    : sim_index_get(&s->payreq_ix, req_id, NULL, as_payreq_match, s);
    return i < 0 ? NULL : &s->pays[i];
}

/* A new payment for paymentRequestId req_id in the oldest slot (whose keys
 * leave the indexes), with its paymentId. */
static as_pay *as_new(alipay_sim *s, const char *req_id)
{
    uint32_t slot = (uint32_t)(s->npays % LIMIT_SIM_OBJECTS_MAX);
    as_pay *p = &s->pays[slot];
    s->npays++;
    sim_index_del(&s->pay_ix, p->id, NULL, slot);
    sim_index_del(&s->payreq_ix, p->request_id, NULL, slot);
    for (int k = 0; k < p->nrefunds; k++) {
        sim_index_del(&s->refreq_ix, p->refunds[k].request_id, NULL, slot);
        sim_index_del(&s->refid_ix, p->refunds[k].id, NULL, slot);
    }
    memset(p, 0, sizeof(*p));
    as_id(p->id, "2024");
    as_copy(p->request_id, sizeof p->request_id, req_id);
    sim_index_put(&s->pay_ix, p->id, NULL, slot);
    sim_index_put(&s->payreq_ix, p->request_id, NULL, slot);
    return p;
}

static int as_ending(int64_t amount)
{
    return (int)(amount % 100);
}

/* Queues a signed notification to url (sent by the ticker). Caller holds mu. */
static void as_queue(alipay_sim *s, const char *url, const char *client_id, const char *kind,
                     json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text || !url || !*url || s->nnotes >= AS_NOTES_MAX) {
        if (text)
            log_warn("alipay_sim: notification queue full or no URL; '%s' dropped", kind);
        free(text);
        return;
    }
    int copies = s->note_mode == 1 ? 2 : 1;
    int64_t due = clock_now_s() + (s->note_mode == 2 ? s->late_s : 0);
    for (int i = 0; i < copies; i++) {
        as_note *n = calloc(1, sizeof(*n));
        if (!n)
            break;
        n->due_s = due;
        n->url = strdup(url);
        n->body = strdup(text);
        as_copy(n->client_id, sizeof n->client_id, client_id);
        as_copy(n->kind, sizeof n->kind, kind);
        n->next = s->notes;
        s->notes = n;
        s->nnotes++;
    }
    free(text);
    pthread_cond_signal(&s->cv);
}

static void as_notify_payment(alipay_sim *s, const as_pay *p)
{
    char created[32], paid[32];
    as_iso(p->created_s, created);
    const char *code = p->rcode[0] ? p->rcode : "SUCCESS";
    bool pending = p->status == AS_PENDING;
    json_t *b =
        json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:s}", "notifyType",
                  pending ? "PAYMENT_PENDING" : "PAYMENT_RESULT", "result",
                  pending ? as_result("PAYMENT_IN_PROCESS", "U", as_code_msg("PAYMENT_IN_PROCESS"))
                          : as_result(code, as_code_status(code), as_code_msg(code)),
                  "paymentRequestId", p->request_id, "paymentId", p->id, "paymentAmount",
                  as_money(p->currency, p->amount), "paymentCreateTime", created,
                  "paymentMethodType", p->wallet[0] ? p->wallet : p->method_type);
    if (p->status == AS_SUCCESS) {
        as_iso(p->paid_s, paid);
        json_object_set_new(b, "paymentTime", json_string(paid));
    }
    as_queue(s, p->notify_url, p->client_id, "payment", b);
}

/* Closes an open payment past its expiry. Caller holds mu. */
static void as_touch(alipay_sim *s, as_pay *p)
{
    if ((p->status == AS_PROCESSING || p->status == AS_PENDING) && clock_now_s() >= p->expires_s) {
        p->status = AS_FAIL;
        as_copy(p->rcode, sizeof p->rcode, "ORDER_IS_CLOSED");
        as_notify_payment(s, p);
    }
}

/* The customer confirmed with the right PIN: the outcome by amount ending. */
static void as_confirm(alipay_sim *s, as_pay *p)
{
    int end = as_ending(p->amount);
    if (end == 51 || end == 52) {
        p->status = AS_FAIL;
        as_copy(p->rcode, sizeof p->rcode, end == 51 ? "USER_BALANCE_NOT_ENOUGH" : "RISK_REJECT");
    } else if (end == 53) {
        p->status = AS_PENDING; /* stays so until it expires */
    } else {
        p->status = AS_SUCCESS;
        p->paid_s = clock_now_s();
        as_copy(p->rcode, sizeof p->rcode, "SUCCESS");
    }
    as_notify_payment(s, p);
}

/* ---------------------------------------------------------------- the API */

typedef struct {
    alipay_sim *s;
    json_t *b;
    const char *client_id;
    json_t *out; /* the answer */
} as_call;

static json_t *as_pay_json(const as_pay *p, bool inquiry)
{
    char created[32];
    as_iso(p->created_s, created);
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:s}", "paymentRequestId", p->request_id, "paymentId", p->id,
                  "paymentAmount", as_money(p->currency, p->amount), "paymentCreateTime", created);
    if (!inquiry)
        return j;
    const char *code = p->status == AS_PROCESSING || p->status == AS_PENDING ? "PAYMENT_IN_PROCESS"
                       : p->status == AS_CANCELLED                           ? "ORDER_IS_CLOSED"
                                                                             : p->rcode;
    json_object_set_new(j, "result", as_result("SUCCESS", "S", "Success"));
    json_object_set_new(j, "paymentStatus", json_string(as_status_name[p->status]));
    json_object_set_new(j, "paymentResultCode", json_string(code));
    json_object_set_new(j, "paymentResultMessage", json_string(as_code_msg(code)));
    json_object_set_new(j, "paymentMethodType",
                        json_string(p->wallet[0] ? p->wallet : p->method_type));
    if (p->status == AS_SUCCESS || (p->status == AS_CANCELLED && p->paid_s)) {
        char paid[32];
        as_iso(p->paid_s, paid);
        json_object_set_new(j, "paymentTime", json_string(paid));
    }
    json_t *tx = json_array();
    for (int i = 0; i < p->nrefunds; i++) {
        char at[32];
        as_iso(p->refunds[i].at_s, at);
        json_array_append_new(
            tx, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "transactionType", "REFUND",
                          "transactionStatus", "SUCCESS", "transactionAmount",
                          as_money(p->currency, p->refunds[i].amount), "transactionId",
                          p->refunds[i].id, "transactionRequestId", p->refunds[i].request_id,
                          "transactionTime", at));
    }
    json_object_set_new(j, "transactions", tx);
    return j;
}

static json_t *as_pay_answer(alipay_sim *s, const as_pay *p)
{
    char exp[32];
    as_iso(p->expires_s, exp);
    json_t *j = as_pay_json(p, false);
    if (p->status == AS_SUCCESS) {
        json_object_set_new(j, "result", as_result("SUCCESS", "S", "Success"));
        return j;
    }
    if (p->status == AS_FAIL || p->status == AS_CANCELLED) {
        const char *code = p->status == AS_CANCELLED ? "ORDER_IS_CLOSED" : p->rcode;
        json_object_set_new(j, "result", as_result(code, "F", as_code_msg(code)));
        return j;
    }
    json_object_set_new(j, "result",
                        as_result("PAYMENT_IN_PROCESS", "U", as_code_msg("PAYMENT_IN_PROCESS")));
    char *normal = NULL, *qr = NULL;
    if (asprintf(&normal, "%s/cashier/%s", s->base, p->id) < 0)
        normal = NULL;
    if (asprintf(&qr, "%s/qr/%s", s->base, p->id) < 0)
        qr = NULL;
    json_object_set_new(j, "normalUrl", json_string(normal ? normal : ""));
    json_object_set_new(j, "orderCodeForm",
                        json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "paymentMethodType",
                                  p->method_type, "expireTime", exp, "codeDetails", "codeValueType",
                                  "QRCODE", "displayType", "TEXT", "codeValue", qr ? qr : ""));
    free(normal);
    free(qr);
    return j;
}

static bool as_url_ok(const char *u)
{
    return u && strlen(u) <= LIMIT_URL_MAX &&
           (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

static void api_pay(as_call *c)
{
    alipay_sim *s = c->s;
    json_t *b = c->b;
    const char *rid = as_str(b, "paymentRequestId");
    json_t *amt = json_object_get(b, "paymentAmount");
    const char *cur = as_str(amt, "currency");
    int64_t value = as_value(amt);
    const char *pmt = as_str(json_object_get(b, "paymentMethod"), "paymentMethodType");
    const char *redirect = as_str(b, "paymentRedirectUrl");
    const char *notify = as_str(b, "paymentNotifyUrl");
    json_t *order = json_object_get(b, "order");
    if (!rid || strlen(rid) > LIMIT_ID_MAX || !as_str(b, "productCode") || value < 0 || !cur ||
        !pmt || !as_url_ok(redirect) || (notify && !as_url_ok(notify)) || !json_is_object(order)) {
        c->out = as_only_result("PARAM_ILLEGAL");
        return;
    }
    if (!as_cur_find(cur)) {
        c->out = as_only_result("CURRENCY_NOT_SUPPORT");
        return;
    }
    const as_wallet *offered[16];
    size_t nw = as_wallets(cur, offered, K_ARRAY_LEN(offered));
    bool method_ok = strcmp(pmt, "CONNECT_WALLET") == 0;
    for (size_t i = 0; i < nw; i++)
        method_ok |= strcmp(offered[i]->code, pmt) == 0;
    if (!method_ok) {
        c->out = as_only_result("UNAVAILABLE_PAYMENT_METHOD");
        return;
    }
    char hash[SHA256_HEX_LEN];
    char *canon = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    crypto_sha256_hex(canon ? canon : "", canon ? strlen(canon) : 0, hash);
    free(canon);
    as_pay *p = as_find(s, NULL, rid);
    if (p && (strcmp(p->hash, hash) != 0 || strcmp(p->client_id, c->client_id) != 0)) {
        c->out = as_only_result("REPEAT_REQ_INCONSISTENT");
        return;
    }
    if (p) {
        as_touch(s, p);
        c->out = as_pay_answer(s, p);
        return;
    }
    p = as_new(s, rid);
    as_copy(p->client_id, sizeof p->client_id, c->client_id);
    as_copy(p->hash, sizeof p->hash, hash);
    as_copy(p->currency, sizeof p->currency, cur);
    as_copy(p->method_type, sizeof p->method_type, pmt);
    if (strcmp(pmt, "CONNECT_WALLET") != 0)
        as_copy(p->wallet, sizeof p->wallet, pmt);
    const char *mname = as_str(json_object_get(order, "merchant"), "merchantName");
    as_copy(p->merchant, sizeof p->merchant, mname ? mname : "Merchant");
    as_copy(p->description, sizeof p->description, as_str(order, "orderDescription"));
    as_copy(p->redirect_url, sizeof p->redirect_url, redirect);
    as_copy(p->notify_url, sizeof p->notify_url, notify);
    p->amount = value;
    p->status = AS_PROCESSING;
    p->created_s = clock_now_s();
    int64_t exp = as_parse_time(as_str(b, "paymentExpiryTime"));
    p->expires_s =
        exp > p->created_s && exp <= p->created_s + AS_TTL_MAX_S ? exp : p->created_s + AS_TTL_S;
    if (as_ending(value) == 54) {
        p->unknown_sent = true;
        c->out = as_only_result("UNKNOWN_EXCEPTION");
        return;
    }
    c->out = as_pay_answer(s, p);
}

static as_pay *as_lookup(as_call *c)
{
    const char *pid = as_str(c->b, "paymentId");
    as_pay *p = as_find(c->s, pid, pid ? NULL : as_str(c->b, "paymentRequestId"));
    if (p && strcmp(p->client_id, c->client_id) != 0)
        p = NULL; /* another merchant's payment does not exist for this one */
    if (!p)
        c->out = as_only_result("ORDER_NOT_EXIST");
    else
        as_touch(c->s, p);
    return p;
}

static void api_inquiry(as_call *c)
{
    as_pay *p = as_lookup(c);
    if (p)
        c->out = as_pay_json(p, true);
}

/* Cancel window: until 00:15 (UTC+8) on the day after payment. */
static int64_t as_cancel_until(int64_t paid_s)
{
    int64_t local = paid_s + 8 * 3600;
    int64_t next_day = (local / 86400 + 1) * 86400;
    return next_day + 15 * 60 - 8 * 3600;
}

static void api_cancel(as_call *c)
{
    as_pay *p = as_lookup(c);
    if (!p)
        return;
    if (p->status == AS_FAIL) {
        c->out = as_only_result("ORDER_IS_CLOSED");
        return;
    }
    if (p->status == AS_SUCCESS && clock_now_s() > as_cancel_until(p->paid_s)) {
        c->out = as_only_result("CANCEL_WINDOW_EXCEED");
        return;
    }
    if (p->status == AS_SUCCESS)
        p->refunded = p->amount; /* paid -> refunded in full */
    p->status = AS_CANCELLED;
    char now[32];
    as_iso(clock_now_s(), now);
    c->out = json_pack("{s:o, s:s, s:s, s:s}", "result", as_result("SUCCESS", "S", "Success"),
                       "paymentId", p->id, "paymentRequestId", p->request_id, "cancelTime", now);
}

static as_refund *as_refund_find(alipay_sim *s, const char *req_id, const char *id, as_pay **pp)
{
    int64_t i = sim_index_get(&s->refreq_ix, req_id, NULL, as_refreq_match, s);
    if (i < 0)
        i = sim_index_get(&s->refid_ix, id, NULL, as_refid_match, s);
    if (i < 0)
        return NULL;
    *pp = &s->pays[i];
    return as_pay_refund(&s->pays[i], req_id, id);
}

static json_t *as_refund_json(const as_pay *p, const as_refund *r, bool inquiry)
{
    char at[32];
    as_iso(r->at_s, at);
    json_t *j =
        json_pack("{s:o, s:s, s:s, s:s, s:o, s:s}", "result", as_result("SUCCESS", "S", "Success"),
                  "refundRequestId", r->request_id, "refundId", r->id, "paymentId", p->id,
                  "refundAmount", as_money(p->currency, r->amount), "refundTime", at);
    if (inquiry)
        json_object_set_new(j, "refundStatus", json_string("SUCCESS"));
    return j;
}

static void api_refund(as_call *c)
{
    alipay_sim *s = c->s;
    const char *rrid = as_str(c->b, "refundRequestId");
    json_t *amt = json_object_get(c->b, "refundAmount");
    int64_t value = as_value(amt);
    const char *pid = as_str(c->b, "paymentId");
    if (!rrid || strlen(rrid) > LIMIT_ID_MAX || !pid || value <= 0 || !as_str(amt, "currency")) {
        c->out = as_only_result("PARAM_ILLEGAL");
        return;
    }
    as_pay *owner = NULL;
    as_refund *prev = as_refund_find(s, rrid, NULL, &owner);
    if (prev) {
        c->out = strcmp(owner->id, pid) == 0 && prev->amount == value
                     ? as_refund_json(owner, prev, false)
                     : as_only_result("REPEAT_REQ_INCONSISTENT");
        return;
    }
    as_pay *p = as_lookup(c);
    if (!p)
        return;
    if (strcmp(as_str(amt, "currency"), p->currency) != 0) {
        c->out = as_only_result("CURRENCY_NOT_SUPPORT");
        return;
    }
    if (p->status != AS_SUCCESS) {
        c->out = as_only_result("ORDER_STATUS_INVALID");
        return;
    }
    if (clock_now_s() > p->paid_s + (int64_t)AS_REFUND_DAYS * 86400) {
        c->out = as_only_result("REFUND_WINDOW_EXCEED");
        return;
    }
    if (value > p->amount - p->refunded || p->nrefunds >= LIMIT_SIM_OPS_MAX) {
        c->out = as_only_result("REFUND_AMOUNT_EXCEED");
        return;
    }
    as_refund *r = &p->refunds[p->nrefunds++];
    as_id(r->id, "9024");
    as_copy(r->request_id, sizeof r->request_id, rrid);
    uint32_t slot = (uint32_t)(p - s->pays);
    sim_index_put(&s->refreq_ix, r->request_id, NULL, slot);
    sim_index_put(&s->refid_ix, r->id, NULL, slot);
    r->amount = value;
    r->at_s = clock_now_s();
    p->refunded += value;
    K_ASSERT(p->refunded <= p->amount);
    c->out = as_refund_json(p, r, false);
    const char *nurl = as_str(c->b, "refundNotifyUrl");
    if (nurl && as_url_ok(nurl)) {
        json_t *n = as_refund_json(p, r, true);
        json_object_set_new(n, "notifyType", json_string("REFUND_RESULT"));
        as_queue(s, nurl, p->client_id, "refund", n);
    }
}

static void api_inquiry_refund(as_call *c)
{
    as_pay *p = NULL;
    as_refund *r =
        as_refund_find(c->s, as_str(c->b, "refundRequestId"), as_str(c->b, "refundId"), &p);
    if (!r || strcmp(p->client_id, c->client_id) != 0)
        c->out = as_only_result("ORDER_NOT_EXIST");
    else
        c->out = as_refund_json(p, r, true);
}

typedef struct {
    const char *name;
    void (*fn)(as_call *c);
} as_api_route;

static const as_api_route as_api_routes[] = {
    {"pay", api_pay},       {"inquiryPayment", api_inquiry},       {"cancel", api_cancel},
    {"refund", api_refund}, {"inquiryRefund", api_inquiry_refund},
};

static bool as_take_fault(alipay_sim *s, const char *endpoint, as_fault *out)
{
    for (size_t i = 0; i < AS_FAULTS_MAX; i++) {
        as_fault *f = &s->faults[i];
        if (f->count > 0 && strcmp(f->endpoint, endpoint) == 0) {
            *out = *f;
            f->count--;
            return true;
        }
    }
    return false;
}

/* "/ams/api/v1/payments/<name>" or "/ams/sandbox/api/v1/payments/<name>". */
static const char *as_api_name(const char *path)
{
    static const char *const prefixes[] = {"/ams/api/v1/payments/",
                                           "/ams/sandbox/api/v1/payments/"};
    for (size_t i = 0; i < K_ARRAY_LEN(prefixes); i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            return path + strlen(prefixes[i]);
    return NULL;
}

static void as_api(alipay_sim *s, const sim_request *req, const char *name, sim_response *r)
{
    char uri[256];
    snprintf(uri, sizeof uri, "/alipay%s", req->path);
    const char *cid = sim_request_header(req, "Client-Id");
    const char *rt = sim_request_header(req, "Request-Time");
    const char *sig = sim_request_header(req, "Signature");
    const char *client = cid && *cid && strlen(cid) <= LIMIT_ID_MAX ? cid : "unknown";
    if (strcmp(req->method, "POST") != 0) {
        as_api_answer(s, r, uri, client, as_only_result("NO_INTERFACE_DEF"), false);
        return;
    }
    pthread_mutex_lock(&s->mu);
    bool valid = cid && as_verify(as_client_key(s, cid), "POST", uri, cid, rt, req->body,
                                  req->body_len, sig);
    pthread_mutex_unlock(&s->mu);
    if (!valid) {
        as_api_answer(s, r, uri, client, as_only_result("INVALID_SIGNATURE"), false);
        return;
    }
    json_error_t je;
    json_t *b = json_loadb(req->body, req->body_len, 0, &je);
    if (!json_is_object(b)) {
        json_decref(b);
        as_api_answer(s, r, uri, client, as_only_result("PARAM_ILLEGAL"), false);
        return;
    }
    const as_api_route *route = NULL;
    for (size_t i = 0; i < K_ARRAY_LEN(as_api_routes); i++)
        if (strcmp(as_api_routes[i].name, name) == 0)
            route = &as_api_routes[i];
    as_fault f = {0};
    pthread_mutex_lock(&s->mu);
    bool faulted = as_take_fault(s, name, &f);
    as_call c = {.s = s, .b = b, .client_id = client};
    if (!route)
        c.out = as_only_result("NO_INTERFACE_DEF");
    else if (faulted && f.result[0])
        c.out = as_only_result(f.result);
    else if (!faulted || f.status == 0)
        route->fn(&c);
    pthread_mutex_unlock(&s->mu);
    json_decref(b);
    if (faulted && f.status >= 400) {
        json_decref(c.out);
        as_body(r, f.status, "text/plain; charset=utf-8", "simulated fault\n");
        return;
    }
    as_api_answer(s, r, uri, client, c.out ? c.out : as_only_result("UNKNOWN_EXCEPTION"),
                  faulted && f.bad_signature);
}

/* ------------------------------------------------------------ wallet pages */

static const char as_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#eef2f7;color:#111}"
    "main{max-width:420px;margin:0 auto;padding:16px}"
    ".app{background:#fff;border-radius:12px;padding:16px;box-shadow:0 1px 4px #0002}"
    "h1{font-size:1.3rem}.amt{font-size:1.6rem;font-weight:bold}.muted{color:#555}"
    "a.w{display:block;padding:12px;margin:8px 0;border:1px solid #ccd;border-radius:8px;"
    "text-decoration:none;color:#114}"
    "button,input{font-size:1.1rem;padding:10px;width:100%;box-sizing:border-box;margin:6px 0}"
    "button{background:#0958d9;color:#fff;border:0;border-radius:8px;min-height:44px}"
    ":focus-visible{outline:3px solid #111;outline-offset:3px}"
    ".err{color:#b00020}.ok{color:#087f23}";

static void pg_begin(buf *b, const char *title, const char *wallet_name)
{
    buf_printf(b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                  "<title>");
    buf_append_html(b, title);
    buf_printf(b, "</title><style>%s</style></head><body><main><div class=\"app\">", as_css);
    if (wallet_name) {
        buf_append_str(b, "<p class=\"muted\" data-wallet>");
        buf_append_html(b, wallet_name);
        buf_append_str(b, " &middot; Alipay+ sandbox</p>");
    }
}

static void pg_end(buf *b)
{
    buf_append_str(b, "</div></main></body></html>");
}

static void pg_send(sim_response *r, int status, buf *b)
{
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    buf_reset(&r->body);
    buf_append(&r->body, b->data, b->len);
}

static void pg_redirect(sim_response *r, const char *url)
{
    as_body(r, 303, "text/plain; charset=utf-8", "See Other\n");
    sim_response_header(r, "Location", url);
}

/* The code's page (what any scanner opens): which wallet app opens it. */
static void pg_choose(alipay_sim *s, const as_pay *p, bool ret, buf *b)
{
    pg_begin(b, "Alipay+", NULL);
    buf_append_str(b, "<h1>Pay with Alipay+</h1><p>");
    buf_append_html(b, p->merchant);
    char amt[64];
    as_fmt_money(p->amount, p->currency, amt, sizeof amt);
    buf_append_str(b, "</p><p class=\"amt\">");
    buf_append_html(b, amt);
    buf_append_str(b, "</p><p>Open with your wallet app:</p><nav aria-label=\"Wallets\">");
    const as_wallet *w[16];
    size_t n = as_wallets(p->currency, w, K_ARRAY_LEN(w));
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "<a class=\"w\" data-wallet=\"%s\" href=\"%s/wallet/%s/pay/%s%s\">",
                   w[i]->code, s->base, w[i]->code, p->id, ret ? "?return=1" : "");
        buf_append_html(b, w[i]->name);
        buf_append_str(b, "</a>");
    }
    buf_append_str(b, "</nav>");
    pg_end(b);
}

static void pg_wallet_pay(alipay_sim *s, const as_pay *p, const as_wallet *w, bool ret,
                          const char *msg, buf *b)
{
    pg_begin(b, w->name, w->name);
    char amt[64], local[64];
    as_fmt_money(p->amount, p->currency, amt, sizeof amt);
    const as_cur *from = as_cur_find(p->currency), *to = as_cur_find(w->currency);
    int64_t conv = from && to ? as_convert(p->amount, from, to) : p->amount;
    as_fmt_money(conv, w->currency, local, sizeof local);
    buf_append_str(b, "<h1 data-merchant>");
    buf_append_html(b, p->merchant);
    buf_append_str(b, "</h1>");
    if (p->description[0]) {
        buf_append_str(b, "<p class=\"muted\">");
        buf_append_html(b, p->description);
        buf_append_str(b, "</p>");
    }
    buf_append_str(b, "<p class=\"amt\" data-amount>");
    buf_append_html(b, amt);
    buf_append_str(b, "</p>");
    if (strcmp(w->currency, p->currency) != 0) {
        buf_append_str(b, "<p data-local-amount>&asymp; ");
        buf_append_html(b, local);
        buf_append_str(b, " <span class=\"muted\">(converted by your wallet)</span></p>");
    }
    if (msg) {
        buf_append_str(b, "<p role=\"alert\" class=\"err\">");
        buf_append_html(b, msg);
        buf_append_str(b, "</p>");
    }
    if (p->status == AS_PROCESSING) {
        buf_printf(b,
                   "<form method=\"post\" action=\"%s/wallet/%s/pay/%s\">"
                   "<input type=\"hidden\" name=\"return\" value=\"%d\">"
                   "<label for=\"pin\">Payment PIN</label>"
                   "<input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" "
                   "autocomplete=\"off\" maxlength=\"12\">"
                   "<button type=\"submit\">Confirm payment</button></form>",
                   s->base, w->code, p->id, ret ? 1 : 0);
        /* A way out: on the paying phone back to the shop's page (which offers the
         * other methods again); on a phone that scanned, back to the wallet list. */
        buf_append_str(b, "<p><a class=\"w back\" href=\"");
        if (ret && p->redirect_url[0])
            buf_append_html(b, p->redirect_url);
        else
            buf_printf(b, "%s/qr/%s", s->base, p->id);
        buf_append_str(b, ret ? "\">Cancel and go back to the shop</a></p>"
                              : "\">Cancel and go back</a></p>");
    } else {
        const char *what = p->status == AS_SUCCESS     ? "Payment successful"
                           : p->status == AS_PENDING   ? "Payment processing"
                           : p->status == AS_CANCELLED ? "Payment cancelled"
                                                       : "Payment failed";
        buf_printf(b, "<h2 data-status=\"%s\" class=\"%s\">%s</h2>", as_status_name[p->status],
                   p->status == AS_SUCCESS ? "ok" : "err", what);
        if (p->status == AS_FAIL) {
            buf_append_str(b, "<p data-code>");
            buf_append_html(b, p->rcode);
            buf_append_str(b, "</p>");
        }
        if (p->status == AS_SUCCESS)
            buf_printf(b, "<p class=\"muted\">Receipt: %s</p>", p->id);
        buf_append_str(b, "<p><a class=\"w\" href=\"");
        buf_append_html(b, p->redirect_url);
        buf_append_str(b, "\">Back to the shop</a></p>");
    }
    pg_end(b);
}

/* A wallet app's home: "scan" a code by opening (or pasting) its URL. */
static void pg_wallet_home(alipay_sim *s, const as_wallet *w, const char *msg, buf *b)
{
    pg_begin(b, w->name, w->name);
    buf_printf(b,
               "<h1>Scan</h1><form method=\"post\" action=\"%s/wallet/%s\">"
               "<label for=\"code\">Code (the text of the QR code)</label>"
               "<input id=\"code\" name=\"code\" type=\"url\">"
               "<button type=\"submit\">Scan</button></form>",
               s->base, w->code);
    if (msg) {
        buf_append_str(b, "<p role=\"alert\" class=\"err\">");
        buf_append_html(b, msg);
        buf_append_str(b, "</p>");
    }
    pg_end(b);
}

/* Whether a wallet may pay p (the currency's wallets, or any for CONNECT_WALLET). */
static bool as_wallet_ok(const as_pay *p, const as_wallet *w)
{
    if (p->wallet[0])
        return strcmp(p->wallet, w->code) == 0;
    const as_wallet *offered[16];
    size_t n = as_wallets(p->currency, offered, K_ARRAY_LEN(offered));
    for (size_t i = 0; i < n; i++)
        if (offered[i] == w)
            return true;
    return false;
}

static void pg_pin(alipay_sim *s, as_pay *p, const as_wallet *w, json_t *f, sim_response *r, buf *b)
{
    const char *pin = as_str(f, "pin");
    bool ret = as_str(f, "return") && strcmp(as_str(f, "return"), "1") == 0;
    const char *msg = NULL;
    char tmp[96];
    if (p->status != AS_PROCESSING) {
        msg = NULL;
    } else if (pin && strcmp(pin, AS_PIN) == 0) {
        as_copy(p->wallet, sizeof p->wallet, w->code);
        as_confirm(s, p);
    } else if (++p->pin_fails >= AS_PIN_TRIES) {
        as_copy(p->wallet, sizeof p->wallet, w->code);
        p->status = AS_FAIL;
        as_copy(p->rcode, sizeof p->rcode, "USER_PAYMENT_VERIFICATION_FAILED");
        as_notify_payment(s, p);
    } else {
        snprintf(tmp, sizeof tmp, "Wrong PIN. %d tries left.", AS_PIN_TRIES - p->pin_fails);
        msg = tmp;
    }
    if (ret && p->status != AS_PROCESSING && p->redirect_url[0]) {
        pg_redirect(r, p->redirect_url);
        return;
    }
    pg_wallet_pay(s, p, w, ret, msg, b);
    pg_send(r, msg ? 400 : 200, b);
}

/* "/qr/<pid>", "/cashier/<pid>", "/wallet/<W>", "/wallet/<W>/pay/<pid>". */
static void as_pages(alipay_sim *s, const sim_request *req, sim_response *r)
{
    buf b;
    buf_init(&b, 256 * 1024);
    char w_code[32] = "", pid[AS_ID_LEN] = "";
    const char *path = req->path;
    bool post = strcmp(req->method, "POST") == 0;
    json_t *f = NULL;
    if (post) {
        param_err pe;
        f = form_decode(req->body, req->body_len, &pe);
    }
    pthread_mutex_lock(&s->mu);
    if (strncmp(path, "/qr/", 4) == 0 || strncmp(path, "/cashier/", 9) == 0) {
        as_copy(pid, sizeof pid, strchr(path + 1, '/') + 1);
        as_pay *p = as_find(s, pid, NULL);
        const char *wq = sim_request_query(req, "wallet");
        const char *rq = sim_request_query(req, "return");
        bool ret = rq && strcmp(rq, "1") == 0;
        if (!p) {
            as_body(r, 404, "text/plain; charset=utf-8", "No such payment code\n");
        } else if (wq && as_wallet_find(wq)) {
            char *url = NULL;
            if (asprintf(&url, "%s/wallet/%s/pay/%s%s", s->base, wq, p->id,
                         ret ? "?return=1" : "") >= 0) {
                pg_redirect(r, url);
                free(url);
            }
        } else {
            as_touch(s, p);
            pg_choose(s, p, ret, &b);
            pg_send(r, 200, &b);
        }
    } else if (sscanf(path, "/wallet/%31[A-Z_]/pay/%47[0-9a-f]", w_code, pid) == 2) {
        const as_wallet *w = as_wallet_find(w_code);
        as_pay *p = as_find(s, pid, NULL);
        const char *rq = sim_request_query(req, "return");
        if (!w || !p) {
            as_body(r, 404, "text/plain; charset=utf-8", "No such wallet or payment\n");
        } else if (!as_wallet_ok(p, w)) {
            pg_begin(&b, w->name, w->name);
            buf_append_str(&b, "<h1 role=\"alert\" class=\"err\">This code cannot be paid with "
                               "this wallet.</h1>");
            pg_end(&b);
            pg_send(r, 400, &b);
        } else {
            as_touch(s, p);
            if (post && f) {
                pg_pin(s, p, w, f, r, &b);
            } else {
                pg_wallet_pay(s, p, w, rq && strcmp(rq, "1") == 0, NULL, &b);
                pg_send(r, 200, &b);
            }
        }
    } else if (sscanf(path, "/wallet/%31[A-Z_]", w_code) == 1 && as_wallet_find(w_code)) {
        const as_wallet *w = as_wallet_find(w_code);
        const char *code = post && f ? as_str(f, "code") : NULL;
        const char *at = code ? strstr(code, "/qr/") : NULL;
        if (at && strncmp(code, s->base, strlen(s->base)) == 0) {
            char *url = NULL;
            if (asprintf(&url, "%s/wallet/%s/pay/%.47s", s->base, w->code, at + 4) >= 0) {
                pg_redirect(r, url);
                free(url);
            }
        } else {
            pg_wallet_home(s, w, code ? "This is not an Alipay+ payment code." : NULL, &b);
            pg_send(r, code ? 400 : 200, &b);
        }
    } else {
        as_body(r, 404, "text/plain; charset=utf-8", "Not found\n");
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(f);
    buf_free(&b);
}

/* ------------------------------------------------------------------ admin */

static void adm_json(sim_response *r, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    as_body(r, status, "application/json", text ? text : "{}");
    free(text);
}

static void as_reset(alipay_sim *s)
{
    s->npays = 0;
    sim_index_clear(&s->pay_ix);
    sim_index_clear(&s->payreq_ix);
    sim_index_clear(&s->refreq_ix);
    sim_index_clear(&s->refid_ix);
    memset(s->faults, 0, sizeof s->faults);
    s->note_mode = 0;
    s->late_s = 0;
    s->nlog = 0;
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i].pem);
    s->nkeys = 0;
}

static void adm_fault(alipay_sim *s, json_t *b, sim_response *r)
{
    const char *ep = as_str(b, "endpoint");
    json_t *cnt = json_object_get(b, "count");
    for (size_t i = 0; ep && i < AS_FAULTS_MAX; i++) {
        as_fault *f = &s->faults[i];
        if (f->count > 0)
            continue;
        memset(f, 0, sizeof(*f));
        as_copy(f->endpoint, sizeof f->endpoint, ep);
        as_copy(f->result, sizeof f->result, as_str(b, "result"));
        f->status = (int)json_integer_value(json_object_get(b, "status"));
        f->bad_signature = json_is_true(json_object_get(b, "bad_signature"));
        f->count = json_is_integer(cnt) ? (int)json_integer_value(cnt) : 1;
        adm_json(r, 200, json_pack("{s:b}", "ok", 1));
        return;
    }
    adm_json(r, 400, json_pack("{s:s}", "error", "endpoint missing or too many faults"));
}

static json_t *adm_pay_json(const as_pay *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:i, s:s, s:s}", "paymentId",
                     p->id, "paymentRequestId", p->request_id, "status", as_status_name[p->status],
                     "resultCode", p->rcode, "amount", (json_int_t)p->amount, "currency",
                     p->currency, "refunded", (json_int_t)p->refunded, "expires",
                     (json_int_t)p->expires_s, "created", (json_int_t)p->created_s, "pin_fails",
                     p->pin_fails, "wallet", p->wallet, "notifyUrl", p->notify_url);
}

static void adm_payment(alipay_sim *s, const sim_request *req, const char *rest, sim_response *r)
{
    char pid[AS_ID_LEN];
    size_t n = strcspn(rest, "/");
    as_copy(pid, n + 1 < sizeof pid ? n + 1 : sizeof pid, rest);
    as_pay *p = as_find(s, pid, NULL);
    if (!p)
        p = as_find(s, NULL, pid); /* by paymentRequestId (our attempt id) */
    if (!p) {
        adm_json(r, 404, json_pack("{s:s}", "error", "no such payment"));
        return;
    }
    as_touch(s, p);
    if (strcmp(rest + n, "/notify") == 0 && strcmp(req->method, "POST") == 0) {
        as_notify_payment(s, p); /* a late or duplicate notification, on demand */
        adm_json(r, 200, json_pack("{s:b}", "ok", 1));
        return;
    }
    adm_json(r, 200, adm_pay_json(p));
}

static void adm_keys(alipay_sim *s, const sim_request *req, json_t *b, sim_response *r)
{
    if (strcmp(req->method, "POST") == 0) {
        const char *cid = as_str(b, "clientId"), *pem = as_str(b, "publicKey");
        if (!cid || !pem || strlen(cid) > LIMIT_ID_MAX || s->nkeys >= AS_KEYS_MAX ||
            strncmp(pem, "-----BEGIN", 10) != 0) {
            adm_json(r, 400, json_pack("{s:s}", "error", "clientId and publicKey (PEM) needed"));
            return;
        }
        as_copy(s->keys[s->nkeys].client_id, sizeof s->keys[0].client_id, cid);
        s->keys[s->nkeys].pem = strdup(pem);
        s->nkeys++;
    }
    adm_json(r, 200, json_pack("{s:s}", "antomPublicKey", s->antom_pub));
}

static void adm_notifications(alipay_sim *s, sim_response *r)
{
    json_t *arr = json_array();
    size_t lim = s->nlog < AS_LOG_MAX ? s->nlog : AS_LOG_MAX;
    for (size_t i = 0; i < lim; i++) {
        const as_log *l = &s->log[i];
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:i, s:b, s:I, s:I}", "url", l->url, "kind",
                                        l->kind, "tries", l->tries, "acked", l->acked, "lastStatus",
                                        (json_int_t)l->last_status, "at", (json_int_t)l->at_s));
    }
    adm_json(r, 200, json_pack("{s:o, s:I}", "data", arr, "queued", (json_int_t)s->nnotes));
}

static void as_admin(alipay_sim *s, const sim_request *req, sim_response *r)
{
    json_error_t je;
    json_t *b = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : json_object();
    if (!json_is_object(b)) {
        json_decref(b);
        adm_json(r, 400, json_pack("{s:s}", "error", "body is not a JSON object"));
        return;
    }
    const char *p = req->path + strlen("/_sim");
    pthread_mutex_lock(&s->mu);
    if (strcmp(p, "/fault") == 0) {
        adm_fault(s, b, r);
    } else if (strcmp(p, "/notify_mode") == 0) {
        const char *m = as_str(b, "mode");
        s->note_mode = m && strcmp(m, "duplicate") == 0 ? 1 : m && strcmp(m, "late") == 0 ? 2 : 0;
        s->late_s = json_integer_value(json_object_get(b, "delay_s"));
        adm_json(r, 200, json_pack("{s:i}", "mode", s->note_mode));
    } else if (strcmp(p, "/notifications") == 0) {
        adm_notifications(s, r);
    } else if (strcmp(p, "/sandbox") == 0) {
        /* The sandbox merchant's key pair is test data of this process: a
         * Kassa without configured keys fetches it at start (alipay.h). */
        adm_json(r, 200,
                 json_pack("{s:s, s:s, s:s}", "merchantPrivateKey", s->merchant_priv,
                           "merchantPublicKey", s->merchant_pub, "antomPublicKey", s->antom_pub));
    } else if (strcmp(p, "/keys") == 0) {
        adm_keys(s, req, b, r);
    } else if (strcmp(p, "/reset") == 0) {
        as_reset(s);
        adm_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strncmp(p, "/payments/", 10) == 0) {
        adm_payment(s, req, p + 10, r);
    } else {
        adm_json(r, 404, json_pack("{s:s}", "error", "no such admin endpoint"));
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(b);
}

/* ----------------------------------------------------- dispatch and ticker */

static void as_handle(void *ctx, const sim_request *req, sim_response *r)
{
    alipay_sim *s = ctx;
    const char *name = as_api_name(req->path);
    if (name)
        as_api(s, req, name, r);
    else if (strncmp(req->path, "/_sim/", 6) == 0)
        as_admin(s, req, r);
    else
        as_pages(s, req, r);
}

/* The path (+query) of a URL: what Antom signs for a notification. */
static const char *as_url_uri(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "/";
}

static void as_log_send(alipay_sim *s, const as_note *n, bool acked, long status)
{
    as_log *l = NULL;
    size_t lim = s->nlog < AS_LOG_MAX ? s->nlog : AS_LOG_MAX;
    for (size_t i = 0; i < lim && !l; i++)
        if (strcmp(s->log[i].url, n->url) == 0 && strcmp(s->log[i].kind, n->kind) == 0 &&
            !s->log[i].acked)
            l = &s->log[i];
    if (!l) {
        l = &s->log[s->nlog % AS_LOG_MAX];
        s->nlog++;
        memset(l, 0, sizeof(*l));
        as_copy(l->url, sizeof l->url, n->url);
        as_copy(l->kind, sizeof l->kind, n->kind);
    }
    l->tries++;
    l->acked = acked;
    l->last_status = status;
    l->at_s = clock_now_s();
}

/* Sends one notification; true when acknowledged with the SUCCESS body. */
static bool as_send(alipay_sim *s, const as_note *n, long *status)
{
    arena a;
    arena_init(&a, 0);
    char rt[32];
    snprintf(rt, sizeof rt, "%lld", (long long)clock_now_ms());
    const char *sig = as_sign(s->antom_priv, "POST", as_url_uri(n->url), n->client_id, rt, n->body,
                              strlen(n->body), &a);
    httpc_req req = {.method = "POST",
                     .url = n->url,
                     .body = n->body,
                     .body_len = strlen(n->body),
                     .timeout_ms = 5000};
    req.headers[0] = "Content-Type: application/json; charset=UTF-8";
    req.headers[1] = arena_printf(&a, "Client-Id: %s", n->client_id);
    req.headers[2] = arena_printf(&a, "Request-Time: %s", rt);
    req.headers[3] = sig ? arena_printf(&a, "Signature: %s", sig) : "X-Unsigned: 1";
    httpc_resp resp;
    bool ok = false;
    if (httpc_do(&req, &resp) == K_OK) {
        *status = resp.status;
        json_error_t je;
        json_t *j = resp.status == 200 ? json_loadb(resp.body.data, resp.body.len, 0, &je) : NULL;
        json_t *res = json_object_get(j, "result");
        ok = json_is_object(res) && as_str(res, "resultStatus") &&
             strcmp(as_str(res, "resultStatus"), "S") == 0;
        json_decref(j);
    } else {
        *status = 0;
    }
    httpc_resp_free(&resp);
    arena_release(&a);
    return ok;
}

static void as_tick(alipay_sim *s)
{
    int64_t now = clock_now_s();
    size_t lim = s->npays < LIMIT_SIM_OBJECTS_MAX ? s->npays : LIMIT_SIM_OBJECTS_MAX;
    for (size_t i = 0; i < lim; i++)
        as_touch(s, &s->pays[i]);
    as_note *due = NULL, **pp = &s->notes;
    while (*pp) {
        as_note *n = *pp;
        if (n->due_s <= now) {
            *pp = n->next;
            n->next = due;
            due = n;
            s->nnotes--;
        } else {
            pp = &n->next;
        }
    }
    while (due) {
        as_note *n = due;
        due = n->next;
        pthread_mutex_unlock(&s->mu);
        long status = 0;
        bool ok = as_send(s, n, &status);
        pthread_mutex_lock(&s->mu);
        as_log_send(s, n, ok, status);
        n->tries++;
        if (!ok && n->tries < AS_TRIES && !s->stop) {
            log_info("alipay_sim: notification to '%s' not acknowledged (HTTP %ld), try %d of %d",
                     n->url, status, n->tries, AS_TRIES);
            n->due_s = clock_now_s() + as_schedule_s[n->tries];
            n->next = s->notes;
            s->notes = n;
            s->nnotes++;
        } else {
            free(n->url);
            free(n->body);
            free(n);
        }
    }
}

static void *as_ticker(void *arg)
{
    alipay_sim *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        as_tick(s);
        if (s->stop)
            break;
        sim_tick_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* A local server's round (the deterministic simulation): what one wake-up of
 * the ticker does, on the caller's thread. */
static void as_tick_local(void *ctx)
{
    alipay_sim *s = ctx;
    pthread_mutex_lock(&s->mu);
    as_tick(s);
    pthread_mutex_unlock(&s->mu);
}

static void as_free(alipay_sim *s)
{
    as_reset(s);
    while (s->notes) {
        as_note *n = s->notes;
        s->notes = n->next;
        free(n->url);
        free(n->body);
        free(n);
    }
    free(s->merchant_priv);
    free(s->merchant_pub);
    free(s->antom_priv);
    free(s->antom_pub);
    free(s->rogue_priv);
    free(s->pays);
    sim_index_free(&s->pay_ix);
    sim_index_free(&s->payreq_ix);
    sim_index_free(&s->refreq_ix);
    sim_index_free(&s->refid_ix);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void as_stop(void *ctx)
{
    alipay_sim *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->ticking)
        pthread_join(s->ticker, NULL);
    as_free(s);
}

k_status alipay_sim_register(sim_server *srv)
{
    K_ASSERT(srv != NULL);
    k_status st = httpc_init();
    if (st != K_OK)
        return st;
    alipay_sim *s = calloc(1, sizeof(*s));
    if (!s)
        return K_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->pays = calloc(LIMIT_SIM_OBJECTS_MAX, sizeof(as_pay));
    /* every payment may hold LIMIT_SIM_OPS_MAX refunds, each with two keys */
    bool ixs_ok =
        sim_index_init(&s->pay_ix, LIMIT_SIM_OBJECTS_MAX) == K_OK &&
        sim_index_init(&s->payreq_ix, LIMIT_SIM_OBJECTS_MAX) == K_OK &&
        sim_index_init(&s->refreq_ix, LIMIT_SIM_OBJECTS_MAX * LIMIT_SIM_OPS_MAX) == K_OK &&
        sim_index_init(&s->refid_ix, LIMIT_SIM_OBJECTS_MAX * LIMIT_SIM_OPS_MAX) == K_OK;
    char *rogue_pub = NULL;
    bool keys = s->pays && ixs_ok && as_keypair(&s->merchant_priv, &s->merchant_pub) &&
                as_keypair(&s->antom_priv, &s->antom_pub) && as_keypair(&s->rogue_priv, &rogue_pub);
    free(rogue_pub);
    if (!keys) {
        log_error("alipay_sim: cannot generate the sandbox RSA keys");
        as_free(s);
        return K_ERR;
    }
    snprintf(s->base, sizeof(s->base), "%s/alipay", sim_server_url(srv));
    if (sim_server_is_local(srv)) {
        st = sim_server_set_tick(srv, as_tick_local, s);
    } else if (pthread_create(&s->ticker, NULL, as_ticker, s) != 0) {
        st = K_ERR;
    } else {
        s->ticking = true;
    }
    if (st != K_OK) {
        as_free(s);
        return st;
    }
    st = sim_server_register(srv, "/alipay", as_handle, as_stop, s);
    if (st != K_OK)
        as_stop(s);
    return st;
}
