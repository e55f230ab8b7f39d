/*
 * klarna_sim.c - the Klarna simulator (see klarna_sim.h, docs/simulators.md).
 *
 * Serves the same endpoints Kassa's Klarna connector calls (Payments sessions
 * and create-order, HPP sessions, Order Management) with Klarna's validation
 * and business rules (providers.md §1-§3), the customer pages of the hosted
 * payment page, unsigned callbacks sent through httpc from a ticker thread
 * (never from inside a request handler), and fault switches for tests.
 *
 * All state is in memory under one mutex, in bounded tables whose oldest entry
 * is evicted when full. Dates follow clock_now_s() so a test clock moves
 * authorisation expiry; the "~2 s" timers (decoupled bank confirmation,
 * pending fraud review) follow the monotonic clock.
 */
#include "klarna_sim.h"
#include "sim_index.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/form.h"
#include "../base/httpc.h"
#include "../base/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define KS_ID_LEN          40
#define KS_AUTH_DAYS       28          /* standard authorisation period */
#define KS_AUTH_MAX_DAYS   180         /* extension ceiling after creation */
#define KS_TOKEN_TTL_S     3600        /* authorization_token valid 60 minutes */
#define KS_HPP_TTL_S       (47 * 3600) /* HPP = KP session (48 h) - 1 h */
#define KS_SETTLE_MS       2000        /* pending fraud review / decoupled confirmation */
#define KS_TRIES           3           /* wrong logins, TANs */
#define KS_FAULTS_MAX      8
#define KS_INBOX_MAX       64
#define KS_LINE_AMOUNT_MAX 200000000LL /* Klarna's per-line and per-op ceiling */

enum { CAT_PAY_NOW = 1, CAT_PAY_LATER = 2, CAT_PAY_OVER_TIME = 4 };

typedef enum {
    H_WAITING,
    H_IN_PROGRESS,
    H_COMPLETED,
    H_CANCELLED,
    H_FAILED,
    H_ERROR,
    H_DISABLED
} ks_hstatus;
/* Bounded copy between fields of records that may live in one array (gcc's
 * -Wrestrict cannot tell them apart through snprintf). */
static void ks_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

static const char *const ks_hstatus_name[] = {"WAITING", "IN_PROGRESS", "COMPLETED", "CANCELLED",
                                              "FAILED",  "ERROR",       "DISABLED"};

typedef enum {
    P_METHOD,
    P_BANK,
    P_LOGIN,
    P_DECOUPLED,
    P_ACCOUNT,
    P_TAN,
    P_OPTION,
    P_EMAIL,
    P_OTP
} ks_step;
static const char *const ks_step_name[] = {"method", "bank",   "login", "decoupled", "account",
                                           "tan",    "option", "email", "otp"};

typedef struct {
    char id[KS_ID_LEN];
    json_t *req; /* the create body (purchase data, merchant_urls) */
    bool complete;
    int64_t created_s;
} ks_kp;

typedef struct {
    char id[KS_ID_LEN];
    char kp_id[KS_ID_LEN];
    json_t *urls; /* merchant_urls */
    unsigned cats;
    ks_hstatus status;
    ks_step step;
    char locale[16];
    char country[3];
    char currency[4];
    int64_t amount;
    char token[KS_ID_LEN];
    int64_t token_exp_s;
    bool token_used;
    char order_id[KS_ID_LEN];
    char klarna_ref[12];
    int64_t created_s, updated_s, expires_s;
    char chosen[16]; /* pay_now, pay_later, pay_over_time */
    char bank[64];
    char account[64];
    int login_fails, tan_fails;
    int64_t decoupled_ms;
    bool single_account;
    bool pending;
    char msg[160];
    char merchant[128]; /* options.page_title: the shop's name, shown on every page */
    char logo[512];     /* options.logo_url (https:// only): the shop's logo beside it */
} ks_hpp;

typedef struct {
    char id[KS_ID_LEN];
    int64_t amount;
    int64_t at_s;
    int sendouts;
    json_t *lines; /* a refund's order_lines, when it named them */
} ks_op;

typedef struct {
    char id[KS_ID_LEN];
    char status[16];
    char fraud[16];
    int64_t order_amount, original_amount, captured, refunded;
    bool released;
    bool auto_capture;
    char country[3], currency[4], locale[16];
    json_t *lines;
    ks_op captures[LIMIT_SIM_OPS_MAX];
    int ncaptures;
    ks_op refunds[LIMIT_SIM_OPS_MAX];
    int nrefunds;
    int64_t created_s, expires_s;
    char pm_type[32];
    char klarna_ref[12];
    char hpp_id[KS_ID_LEN];
    char notification_url[LIMIT_URL_MAX];
    int64_t settle_at_ms;
} ks_order;

typedef struct {
    char key[LIMIT_IDEMPOTENCY_KEY_MAX + 1];
    char route[300];
    int status;
    int nheaders;
    char hname[2][32];
    char hvalue[2][LIMIT_URL_MAX + 256];
    char *body;
} ks_idem;

typedef struct {
    char prefix[128];
    int status;
    int count;
    int delay_ms;
    bool after;
} ks_fault;

typedef struct ks_out {
    struct ks_out *next;
    int64_t due_ms;
    char *url;
    char *body;
} ks_out;

typedef struct {
    char url[LIMIT_URL_MAX];
    char *body;
    int64_t at_s;
} ks_inbox_item;

typedef struct klarna_sim {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t ticker;
    bool ticking; /* the ticker thread runs (not on a local server) */
    bool stop;
    char base[128]; /* "http://127.0.0.1:port/klarna" */
    ks_kp kp[LIMIT_SIM_OBJECTS_MAX];
    size_t nkp;
    ks_hpp hpp[LIMIT_SIM_OBJECTS_MAX];
    size_t nhpp;
    ks_order orders[LIMIT_SIM_OBJECTS_MAX];
    size_t norders;
    ks_idem idem[LIMIT_SIM_OBJECTS_MAX];
    size_t nidem;
    /* hash indexes over the tables above (lookups stay O(1) at any size) */
    sim_index kp_ix, hpp_ix, token_ix, order_ix, idem_ix;
    ks_fault faults[KS_FAULTS_MAX];
    int cb_mode; /* 0 normal, 1 duplicate, 2 late */
    int cb_delay_ms;
    ks_out *outq;
    ks_inbox_item inbox[KS_INBOX_MAX];
    size_t ninbox;
    /* The Basic-auth username of the latest API call (GET /_sim/auth): a test
     * sees which credentials a connector used. The password is never kept. */
    char last_user[128];
    uint64_t api_calls;
} klarna_sim;

/* ---------------------------------------------------------------- helpers */

static void ks_uuid(char out[KS_ID_LEN])
{
    uint8_t r[16];
    if (crypto_random(r, sizeof(r)) != K_OK)
        K_ASSERT(!"crypto_random failed");
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    char hex[33];
    crypto_hex(r, 16, hex);
    snprintf(out, KS_ID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

static void ks_ref(char out[12])
{
    static const char alpha[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t r[7];
    if (crypto_random(r, sizeof(r)) != K_OK)
        K_ASSERT(!"crypto_random failed");
    for (int i = 0; i < 7; i++)
        out[i] = alpha[r[i] % (sizeof(alpha) - 1)];
    out[7] = '\0';
}

static void ks_iso(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ks_json(sim_response *r, int status, json_t *j)
{
    r->status = status;
    r->content_type = "application/json";
    buf_reset(&r->body);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s) {
        buf_append_str(&r->body, s);
        free(s);
    }
}

static void ks_error(sim_response *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ks_error(sim_response *r, int status, const char *code, const char *fmt, ...)
{
    char msg[256], cid[KS_ID_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ks_uuid(cid);
    r->nheaders = 0;
    ks_json(r, status,
            json_pack("{s:s, s:[s], s:s}", "error_code", code, "error_messages", msg,
                      "correlation_id", cid));
}

static void ks_empty(sim_response *r, int status)
{
    r->status = status;
    r->content_type = NULL;
    buf_reset(&r->body);
}

static const char *ks_jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool ks_alpha(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

/* Queues an outbound callback (sent by the ticker thread). Caller holds mu. */
static void ks_queue_cb(klarna_sim *ks, const char *url, json_t *body)
{
    if (!url || !*url) {
        json_decref(body);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return;
    int copies = ks->cb_mode == 1 ? 2 : 1;
    int64_t due = clock_mono_ms() + (ks->cb_mode == 2 ? ks->cb_delay_ms : 0);
    for (int i = 0; i < copies; i++) {
        ks_out *o = calloc(1, sizeof(*o));
        if (!o)
            break;
        o->due_ms = due;
        o->url = strdup(url);
        o->body = strdup(text);
        o->next = ks->outq;
        ks->outq = o;
    }
    free(text);
    pthread_cond_signal(&ks->cv);
}

/* ------------------------------------------------------------- lookups */

static bool ks_kp_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const klarna_sim *ks = ctx;
    return strcmp(ks->kp[slot].id, k1) == 0;
}

static bool ks_hpp_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const klarna_sim *ks = ctx;
    return strcmp(ks->hpp[slot].id, k1) == 0;
}

static bool ks_token_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const klarna_sim *ks = ctx;
    return strcmp(ks->hpp[slot].token, k1) == 0;
}

static bool ks_order_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const klarna_sim *ks = ctx;
    return strcmp(ks->orders[slot].id, k1) == 0;
}

static bool ks_idem_match(const void *ctx, uint32_t slot, const char *k1, const char *k2)
{
    const klarna_sim *ks = ctx;
    return strcmp(ks->idem[slot].key, k1) == 0 && strcmp(ks->idem[slot].route, k2) == 0;
}

static ks_kp *ks_kp_find(klarna_sim *ks, const char *id)
{
    int64_t i = sim_index_get(&ks->kp_ix, id, NULL, ks_kp_match, ks);
    return i < 0 ? NULL : &ks->kp[i];
}

static ks_hpp *ks_hpp_find(klarna_sim *ks, const char *id)
{
    int64_t i = sim_index_get(&ks->hpp_ix, id, NULL, ks_hpp_match, ks);
    return i < 0 ? NULL : &ks->hpp[i];
}

static ks_hpp *ks_hpp_by_token(klarna_sim *ks, const char *tok)
{
    int64_t i = sim_index_get(&ks->token_ix, tok, NULL, ks_token_match, ks);
    return i < 0 ? NULL : &ks->hpp[i];
}

static ks_order *ks_order_find(klarna_sim *ks, const char *id)
{
    int64_t i = sim_index_get(&ks->order_ix, id, NULL, ks_order_match, ks);
    return i < 0 ? NULL : &ks->orders[i];
}

/* A new object takes the oldest slot of its ring (the old keys leave the
 * index) and gets its id here, indexed at once. */
static ks_kp *ks_kp_new(klarna_sim *ks)
{
    uint32_t slot = (uint32_t)(ks->nkp++ % LIMIT_SIM_OBJECTS_MAX);
    ks_kp *k = &ks->kp[slot];
    sim_index_del(&ks->kp_ix, k->id, NULL, slot);
    json_decref(k->req);
    memset(k, 0, sizeof(*k));
    ks_uuid(k->id);
    sim_index_put(&ks->kp_ix, k->id, NULL, slot);
    return k;
}

static ks_hpp *ks_hpp_new(klarna_sim *ks)
{
    uint32_t slot = (uint32_t)(ks->nhpp++ % LIMIT_SIM_OBJECTS_MAX);
    ks_hpp *h = &ks->hpp[slot];
    sim_index_del(&ks->hpp_ix, h->id, NULL, slot);
    sim_index_del(&ks->token_ix, h->token, NULL, slot);
    json_decref(h->urls);
    memset(h, 0, sizeof(*h));
    ks_uuid(h->id);
    sim_index_put(&ks->hpp_ix, h->id, NULL, slot);
    return h;
}

/* Gives a completed HPP session its authorization token, indexed. */
static void ks_hpp_token(klarna_sim *ks, ks_hpp *h)
{
    uint32_t slot = (uint32_t)(h - ks->hpp);
    sim_index_del(&ks->token_ix, h->token, NULL, slot);
    ks_uuid(h->token);
    sim_index_put(&ks->token_ix, h->token, NULL, slot);
}

static void ks_order_free_json(ks_order *o)
{
    json_decref(o->lines);
    for (int k = 0; k < o->nrefunds; k++)
        json_decref(o->refunds[k].lines);
}

static ks_order *ks_order_new(klarna_sim *ks)
{
    uint32_t slot = (uint32_t)(ks->norders++ % LIMIT_SIM_OBJECTS_MAX);
    ks_order *o = &ks->orders[slot];
    sim_index_del(&ks->order_ix, o->id, NULL, slot);
    ks_order_free_json(o);
    memset(o, 0, sizeof(*o));
    ks_uuid(o->id);
    sim_index_put(&ks->order_ix, o->id, NULL, slot);
    return o;
}

/* Lazy time-driven transitions: HPP expiry, authorisation expiry. */
static void ks_hpp_touch(klarna_sim *ks, ks_hpp *h)
{
    (void)ks;
    if ((h->status == H_WAITING || h->status == H_IN_PROGRESS) && clock_now_s() > h->expires_s) {
        h->status = H_DISABLED;
        h->updated_s = clock_now_s();
    }
}

static void ks_order_touch(ks_order *o)
{
    if (strcmp(o->status, "AUTHORIZED") == 0 && clock_now_s() > o->expires_s)
        snprintf(o->status, sizeof(o->status), "EXPIRED");
}

static int64_t ks_remaining(const ks_order *o)
{
    if (o->released || strcmp(o->status, "CANCELLED") == 0 || strcmp(o->status, "EXPIRED") == 0)
        return 0;
    if (strcmp(o->status, "PART_CAPTURED") == 0 && clock_now_s() > o->expires_s)
        return 0;
    return o->order_amount - o->captured;
}

/* ----------------------------------------------------------- validation */

/* Klarna's purchase data rules: required fields, line arithmetic, sums.
 * Writes the error answer and returns false when something is wrong. */
static bool ks_check_lines(json_t *lines, int64_t order_amount, sim_response *r)
{
    if (!json_is_array(lines) || json_array_size(lines) == 0) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines");
        return false;
    }
    if (json_array_size(lines) > LIMIT_ORDER_LINES_MAX) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines (more than %d)",
                 LIMIT_ORDER_LINES_MAX);
        return false;
    }
    int64_t sum = 0;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        const char *name = ks_jstr(l, "name");
        json_t *q = json_object_get(l, "quantity"), *up = json_object_get(l, "unit_price");
        json_t *ta = json_object_get(l, "total_amount");
        json_t *td = json_object_get(l, "total_discount_amount");
        if (!name || !*name || strlen(name) > LIMIT_LINE_NAME_MAX) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines[%zu].name", i);
            return false;
        }
        if (!json_is_integer(q) || json_integer_value(q) < 0) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines[%zu].quantity", i);
            return false;
        }
        if (!json_is_integer(up) || json_integer_value(up) > KS_LINE_AMOUNT_MAX ||
            json_integer_value(up) < -KS_LINE_AMOUNT_MAX) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines[%zu].unit_price", i);
            return false;
        }
        int64_t disc = json_is_integer(td) ? json_integer_value(td) : 0;
        int64_t want = json_integer_value(q) * json_integer_value(up) - disc;
        if (!json_is_integer(ta) || json_integer_value(ta) != want || want > KS_LINE_AMOUNT_MAX ||
            want < -KS_LINE_AMOUNT_MAX) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: order_lines[%zu].total_amount", i);
            return false;
        }
        sum += want;
    }
    if (sum != order_amount) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: order_amount (%lld != sum of total_amount %lld)",
                 (long long)order_amount, (long long)sum);
        return false;
    }
    return true;
}

static bool ks_check_purchase(json_t *b, sim_response *r)
{
    if (!json_is_object(b)) {
        ks_error(r, 400, "BAD_REQUEST", "Request body is not a JSON object");
        return false;
    }
    if (!ks_alpha(ks_jstr(b, "purchase_country"), 2)) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: purchase_country");
        return false;
    }
    if (!ks_alpha(ks_jstr(b, "purchase_currency"), 3)) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: purchase_currency");
        return false;
    }
    json_t *amt = json_object_get(b, "order_amount");
    if (!json_is_integer(amt) || json_integer_value(amt) < 0) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: order_amount");
        return false;
    }
    const char *loc = ks_jstr(b, "locale");
    if (json_object_get(b, "locale") && (!loc || strlen(loc) < 2 || strlen(loc) > 15)) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: locale");
        return false;
    }
    return ks_check_lines(json_object_get(b, "order_lines"), json_integer_value(amt), r);
}

/* ----------------------------------------------------------- API: KP + HPP */

typedef void (*ks_api_fn)(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r);

static void api_kp_create(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    if (!ks_check_purchase(b, r))
        return;
    ks_kp *k = ks_kp_new(ks);
    k->req = json_incref(b);
    k->created_s = clock_now_s();
    char tok[64];
    snprintf(tok, sizeof(tok), "sim-client-token.%s", k->id);
    ks_json(r, 200,
            json_pack("{s:s, s:s, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "session_id", k->id,
                      "client_token", tok, "payment_method_categories", "identifier", "pay_now",
                      "name", "Pay now", "identifier", "pay_later", "name", "Pay later",
                      "identifier", "pay_over_time", "name", "Financing"));
}

static void api_kp_read(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_kp *k = ks_kp_find(ks, cap[0]);
    if (!k || clock_now_s() > k->created_s + 48 * 3600) {
        ks_error(r, 404, "NOT_FOUND", "Session not found");
        return;
    }
    json_t *j = json_deep_copy(k->req);
    json_object_set_new(j, "status", json_string(k->complete ? "complete" : "incomplete"));
    char exp[32];
    ks_iso(k->created_s + 48 * 3600, exp);
    json_object_set_new(j, "expires_at", json_string(exp));
    ks_json(r, 200, j);
}

static unsigned ks_cat_bit(const char *s)
{
    if (!s)
        return 0;
    if (strcmp(s, "PAY_NOW") == 0 || strcmp(s, "DIRECT_BANK_TRANSFER") == 0)
        return CAT_PAY_NOW;
    if (strcmp(s, "PAY_LATER") == 0)
        return CAT_PAY_LATER;
    if (strcmp(s, "PAY_OVER_TIME") == 0)
        return CAT_PAY_OVER_TIME;
    if (strcmp(s, "KLARNA") == 0)
        return CAT_PAY_NOW | CAT_PAY_LATER | CAT_PAY_OVER_TIME;
    return 0;
}

/* options.payment_method_categories / payment_method_category -> bits; 0 = bad. */
static unsigned ks_hpp_cats(json_t *opts, sim_response *r)
{
    json_t *arr = json_object_get(opts, "payment_method_categories");
    const char *one = ks_jstr(opts, "payment_method_category");
    if (!arr && !one)
        return CAT_PAY_NOW | CAT_PAY_LATER | CAT_PAY_OVER_TIME;
    if (one) {
        unsigned bit = ks_cat_bit(one);
        if (!bit)
            ks_error(r, 400, "BAD_VALUE", "Bad value: options.payment_method_category");
        return bit;
    }
    unsigned bits = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: options.payment_method_categories");
        return 0;
    }
    json_array_foreach(arr, i, v)
    {
        unsigned bit = ks_cat_bit(json_string_value(v));
        if (!bit) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: options.payment_method_categories[%zu]", i);
            return 0;
        }
        bits |= bit;
    }
    return bits;
}

static void api_hpp_create(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    const char *psu = ks_jstr(b, "payment_session_url");
    const char *tail = psu ? strstr(psu, "/payments/v1/sessions/") : NULL;
    ks_kp *k = tail ? ks_kp_find(ks, tail + strlen("/payments/v1/sessions/")) : NULL;
    if (!psu) {
        ks_error(r, 400, "BAD_VALUE", "Missing field: payment_session_url");
        return;
    }
    if (!k || k->complete || clock_now_s() > k->created_s + 48 * 3600) {
        ks_error(r, 404, "NOT_FOUND", "The payment session has expired or does not exist");
        return;
    }
    json_t *urls = json_object_get(b, "merchant_urls");
    json_t *opts = json_object_get(b, "options");
    const char *mode = ks_jstr(opts, "place_order_mode");
    if (mode && strcmp(mode, "NONE") != 0) {
        ks_error(r, 400, "BAD_VALUE",
                 "Bad value: options.place_order_mode (the simulator supports NONE)");
        return;
    }
    const char *keys[] = {"success", "cancel", "back", "failure", "error", "status_update"};
    for (size_t i = 0; i < K_ARRAY_LEN(keys); i++) {
        const char *u = ks_jstr(urls, keys[i]);
        if (u && strlen(u) > LIMIT_URL_MAX) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: merchant_urls.%s", keys[i]);
            return;
        }
    }
    unsigned cats = ks_hpp_cats(opts, r);
    if (!cats)
        return;
    char kp_id[KS_ID_LEN];
    memcpy(kp_id, k->id,
           sizeof kp_id); /* first: GCC cannot tell k from h inside *ks (-Wrestrict) */
    ks_hpp *h = ks_hpp_new(ks);
    memcpy(h->kp_id, kp_id, sizeof h->kp_id);
    h->urls = urls ? json_deep_copy(urls) : json_object();
    h->cats = cats;
    h->status = H_WAITING;
    h->step = P_METHOD;
    snprintf(h->locale, sizeof(h->locale), "%s",
             ks_jstr(k->req, "locale") ? ks_jstr(k->req, "locale") : "en-GB");
    snprintf(h->merchant, sizeof(h->merchant), "%s",
             ks_jstr(opts, "page_title") ? ks_jstr(opts, "page_title") : "");
    const char *logo = ks_jstr(opts, "logo_url");
    snprintf(h->logo, sizeof(h->logo), "%s",
             logo != NULL && strncmp(logo, "https://", 8) == 0 && strlen(logo) < sizeof(h->logo)
                 ? logo
                 : "");
    snprintf(h->country, sizeof(h->country), "%s", ks_jstr(k->req, "purchase_country"));
    snprintf(h->currency, sizeof(h->currency), "%s", ks_jstr(k->req, "purchase_currency"));
    h->amount = json_integer_value(json_object_get(k->req, "order_amount"));
    h->created_s = h->updated_s = clock_now_s();
    h->expires_s = h->created_s + KS_HPP_TTL_S;
    ks_ref(h->klarna_ref);
    char session_url[256], redirect[256], qr[300], exp[32];
    snprintf(session_url, sizeof(session_url), "%s/hpp/v1/sessions/%s", ks->base, h->id);
    snprintf(redirect, sizeof(redirect), "%s/hpp/pay/%s", ks->base, h->id);
    snprintf(qr, sizeof(qr), "%s/hpp/pay/%s?qr=1", ks->base, h->id);
    ks_iso(h->expires_s, exp);
    ks_json(r, 201,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "session_id", h->id, "session_url",
                      session_url, "redirect_url", redirect, "qr_code_url", qr, "distribution_url",
                      session_url, "expires_at", exp));
}

static json_t *ks_hpp_json(const ks_hpp *h)
{
    char upd[32], exp[32];
    ks_iso(h->updated_s, upd);
    ks_iso(h->expires_s, exp);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "session_id", h->id, "status",
                          ks_hstatus_name[h->status], "klarna_reference", h->klarna_ref,
                          "updated_at", upd, "expires_at", exp);
    if (h->status == H_COMPLETED && h->token[0])
        json_object_set_new(j, "authorization_token", json_string(h->token));
    if (h->order_id[0])
        json_object_set_new(j, "order_id", json_string(h->order_id));
    return j;
}

static void api_hpp_read(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_hpp *h = ks_hpp_find(ks, cap[0]);
    if (!h) {
        ks_error(r, 404, "NOT_FOUND", "Session not found");
        return;
    }
    ks_hpp_touch(ks, h);
    ks_json(r, 200, ks_hpp_json(h));
}

static void api_hpp_delete(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_hpp *h = ks_hpp_find(ks, cap[0]);
    if (!h) {
        ks_error(r, 404, "NOT_FOUND", "Session not found");
        return;
    }
    if (h->status == H_COMPLETED) {
        ks_error(r, 400, "BAD_REQUEST", "Session is already completed");
        return;
    }
    h->status = H_DISABLED;
    h->updated_s = clock_now_s();
    ks_empty(r, 204);
}

/* ------------------------------------------------------------ API: orders */

static json_t *ks_order_json(ks_order *o)
{
    ks_order_touch(o);
    char created[32], exp[32], at[32];
    ks_iso(o->created_s, created);
    ks_iso(o->expires_s, exp);
    json_t *caps = json_array(), *refs = json_array();
    for (int i = 0; i < o->ncaptures; i++) {
        ks_iso(o->captures[i].at_s, at);
        json_array_append_new(caps, json_pack("{s:s, s:I, s:s}", "capture_id", o->captures[i].id,
                                              "captured_amount", (json_int_t)o->captures[i].amount,
                                              "captured_at", at));
    }
    for (int i = 0; i < o->nrefunds; i++) {
        ks_iso(o->refunds[i].at_s, at);
        json_t *ref = json_pack("{s:s, s:I, s:s}", "refund_id", o->refunds[i].id, "refunded_amount",
                                (json_int_t)o->refunds[i].amount, "refunded_at", at);
        if (o->refunds[i].lines != NULL)
            json_object_set(ref, "order_lines", o->refunds[i].lines);
        json_array_append_new(refs, ref);
    }
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:O, s:o, s:o, "
        "s:s, s:s, s:s, s:{s:s}}",
        "order_id", o->id, "status", o->status, "fraud_status", o->fraud, "order_amount",
        (json_int_t)o->order_amount, "original_order_amount", (json_int_t)o->original_amount,
        "captured_amount", (json_int_t)o->captured, "refunded_amount", (json_int_t)o->refunded,
        "remaining_authorized_amount", (json_int_t)ks_remaining(o), "purchase_country", o->country,
        "purchase_currency", o->currency, "locale", o->locale, "order_lines", o->lines, "captures",
        caps, "refunds", refs, "klarna_reference", o->klarna_ref, "created_at", created,
        "expires_at", exp, "initial_payment_method", "type", o->pm_type);
}

static void ks_capture_now(ks_order *o, int64_t amount)
{
    K_ASSERT(amount > 0 && amount <= o->order_amount - o->captured);
    K_ASSERT(o->ncaptures < LIMIT_SIM_OPS_MAX);
    ks_op *c = &o->captures[o->ncaptures++];
    ks_uuid(c->id);
    c->amount = amount;
    c->at_s = clock_now_s();
    o->captured += amount;
    snprintf(o->status, sizeof(o->status), "%s",
             o->captured == o->order_amount ? "CAPTURED" : "PART_CAPTURED");
    K_ASSERT(o->captured <= o->order_amount);
}

static void api_order_create(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_hpp *h = ks_hpp_by_token(ks, cap[0]);
    ks_kp *k = h ? ks_kp_find(ks, h->kp_id) : NULL;
    if (!h || !k || h->token_used || clock_now_s() > h->token_exp_s) {
        ks_error(r, 404, "NOT_FOUND", "Invalid authorization token");
        return;
    }
    if (!ks_check_purchase(b, r))
        return;
    int64_t amount = json_integer_value(json_object_get(b, "order_amount"));
    if (amount != h->amount || strcasecmp(ks_jstr(b, "purchase_currency"), h->currency) != 0) {
        ks_error(r, 409, "BAD_VALUE",
                 "Bad value: order_amount (does not match the authorized session)");
        return;
    }
    ks_order *o = ks_order_new(ks);
    snprintf(o->status, sizeof(o->status), "AUTHORIZED");
    snprintf(o->fraud, sizeof(o->fraud), "%s", h->pending ? "PENDING" : "ACCEPTED");
    o->order_amount = o->original_amount = amount;
    snprintf(o->country, sizeof(o->country), "%s", ks_jstr(b, "purchase_country"));
    snprintf(o->currency, sizeof(o->currency), "%s", ks_jstr(b, "purchase_currency"));
    ks_copy(o->locale, sizeof(o->locale), h->locale);
    o->lines = json_deep_copy(json_object_get(b, "order_lines"));
    o->created_s = clock_now_s();
    o->expires_s = o->created_s + KS_AUTH_DAYS * 86400;
    bool now = strcmp(h->chosen, "pay_now") == 0;
    bool inst = strcmp(h->chosen, "pay_over_time") == 0;
    snprintf(o->pm_type, sizeof(o->pm_type), "%s",
             now    ? "direct_bank_transfer"
             : inst ? "fixed_amount"
                    : "invoice");
    _Static_assert(sizeof(o->klarna_ref) == sizeof(h->klarna_ref), "same size");
    _Static_assert(sizeof(o->hpp_id) == sizeof(h->id), "same size");
    memcpy(o->klarna_ref, h->klarna_ref, sizeof(o->klarna_ref));
    memcpy(o->hpp_id, h->id, sizeof(o->hpp_id));
    json_t *mu = json_object_get(b, "merchant_urls");
    const char *notif = ks_jstr(mu, "notification");
    if (!notif)
        notif = ks_jstr(json_object_get(k->req, "merchant_urls"), "notification");
    snprintf(o->notification_url, sizeof(o->notification_url), "%s", notif ? notif : "");
    json_t *ac = json_object_get(b, "auto_capture");
    o->auto_capture = json_is_true(ac);
    if (h->pending)
        o->settle_at_ms = clock_mono_ms() + KS_SETTLE_MS;
    else if (o->auto_capture && amount > 0)
        ks_capture_now(o, amount);
    h->token_used = true;
    k->complete = true;
    ks_copy(h->order_id, sizeof(h->order_id), o->id);
    h->updated_s = clock_now_s();
    char redirect[256];
    snprintf(redirect, sizeof(redirect), "%s/hpp/pay/%s", ks->base, h->id);
    json_t *apm = json_pack("{s:s}", "type", o->pm_type);
    if (inst)
        json_object_set_new(apm, "number_of_installments", json_integer(3));
    else if (!now)
        json_object_set_new(apm, "number_of_days", json_integer(30));
    ks_json(r, 200,
            json_pack("{s:s, s:s, s:s, s:o}", "order_id", o->id, "redirect_url", redirect,
                      "fraud_status", o->fraud, "authorized_payment_method", apm));
}

static ks_order *ks_order_or_404(klarna_sim *ks, const char *id, sim_response *r)
{
    ks_order *o = ks_order_find(ks, id);
    if (!o) {
        ks_error(r, 404, "NO_SUCH_ORDER", "Order not found");
        return NULL;
    }
    ks_order_touch(o);
    return o;
}

static void api_order_get(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    if (o)
        ks_json(r, 200, ks_order_json(o));
}

/* Reads a required amount field in [1, KS_LINE_AMOUNT_MAX]. */
static bool ks_amount(json_t *b, const char *key, int64_t *out, sim_response *r)
{
    json_t *v = json_object_get(b, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > KS_LINE_AMOUNT_MAX) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: %s", key);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static void ks_op_created(ks_order *o, const ks_op *op, const char *kind, const char *hdr,
                          klarna_sim *ks, sim_response *r)
{
    char loc[300];
    snprintf(loc, sizeof(loc), "%s/ordermanagement/v1/orders/%s/%s/%s", ks->base, o->id, kind,
             op->id);
    ks_empty(r, 201);
    sim_response_header(r, "Location", loc);
    sim_response_header(r, hdr, op->id);
}

static void api_capture(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    int64_t amount;
    if (!o || !ks_amount(b, "captured_amount", &amount, r))
        return;
    bool open = strcmp(o->status, "AUTHORIZED") == 0 || strcmp(o->status, "PART_CAPTURED") == 0;
    if (!open || strcmp(o->fraud, "ACCEPTED") != 0) {
        ks_error(r, 403, "CAPTURE_NOT_ALLOWED", "Capture not allowed: order is %s (fraud %s)",
                 o->status, o->fraud);
        return;
    }
    if (amount == 0 || amount > ks_remaining(o)) {
        ks_error(r, 403, "CAPTURE_NOT_ALLOWED",
                 "Captured amount is higher than the remaining authorized amount");
        return;
    }
    if (o->ncaptures >= LIMIT_SIM_OPS_MAX) {
        ks_error(r, 403, "CAPTURE_NOT_ALLOWED", "Too many captures on this order");
        return;
    }
    ks_capture_now(o, amount);
    ks_op_created(o, &o->captures[o->ncaptures - 1], "captures", "Capture-Id", ks, r);
}

static void api_refund(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    int64_t amount;
    if (!o || !ks_amount(b, "refunded_amount", &amount, r))
        return;
    if (amount == 0 || amount > o->captured - o->refunded) {
        ks_error(r, 403, "REFUND_NOT_ALLOWED",
                 "Refunded amount is higher than the captured amount not yet refunded");
        return;
    }
    if (o->nrefunds >= LIMIT_SIM_OPS_MAX) {
        ks_error(r, 403, "REFUND_NOT_ALLOWED", "Too many refunds on this order");
        return;
    }
    /* Klarna: order lines, when given, must add up to the refunded amount */
    json_t *lines = json_object_get(b, "order_lines");
    if (lines != NULL && !ks_check_lines(lines, amount, r))
        return;
    ks_op *op = &o->refunds[o->nrefunds++];
    ks_uuid(op->id);
    op->lines = lines != NULL ? json_deep_copy(lines) : NULL;
    op->amount = amount;
    op->at_s = clock_now_s();
    o->refunded += amount;
    K_ASSERT(o->refunded <= o->captured);
    ks_op_created(o, op, "refunds", "Refund-Id", ks, r);
}

static void api_cancel(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    if (!o)
        return;
    if (o->ncaptures > 0) {
        ks_error(r, 403, "CANCEL_NOT_ALLOWED", "Order has previous captures. Cancel not possible");
        return;
    }
    if (strcmp(o->status, "AUTHORIZED") != 0) {
        ks_error(r, 403, "CANCEL_NOT_ALLOWED", "Cancel not possible: order is %s", o->status);
        return;
    }
    snprintf(o->status, sizeof(o->status), "CANCELLED");
    ks_empty(r, 204);
}

static void api_release(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    if (!o)
        return;
    if (o->ncaptures == 0 || strcmp(o->status, "PART_CAPTURED") != 0) {
        ks_error(r, 403, "NOT_ALLOWED", "Release not possible: order is %s with %d captures",
                 o->status, o->ncaptures);
        return;
    }
    o->released = true;
    snprintf(o->status, sizeof(o->status), "CAPTURED");
    ks_empty(r, 204);
}

/* Extension: the standard period counted from now, never more than 180 days
 * after creation, never for an expired or closed authorisation. */
static void api_extend(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    if (!o)
        return;
    int64_t now = clock_now_s();
    bool open = strcmp(o->status, "AUTHORIZED") == 0 || strcmp(o->status, "PART_CAPTURED") == 0;
    if (!open || now > o->expires_s) {
        ks_error(r, 403, "NOT_ALLOWED", "Authorization cannot be extended: order is %s",
                 now > o->expires_s && open ? "EXPIRED" : o->status);
        return;
    }
    int64_t limit = o->created_s + (int64_t)KS_AUTH_MAX_DAYS * 86400;
    int64_t want = now + (int64_t)KS_AUTH_DAYS * 86400;
    if (want > limit)
        want = limit;
    if (want <= o->expires_s && o->expires_s >= limit) {
        ks_error(r, 403, "NOT_ALLOWED",
                 "Authorization cannot be extended beyond 180 days after creation");
        return;
    }
    if (want > o->expires_s)
        o->expires_s = want;
    ks_empty(r, 204);
}

/* Amount/lines change: decreases down to the captured amount always pass;
 * increases above the original amount are approved up to +10% for pay-later
 * methods and refused for Pay Now (the bank transfer is done). */
static void api_update(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    int64_t amount;
    if (!o || !ks_amount(b, "order_amount", &amount, r))
        return;
    json_t *lines = json_object_get(b, "order_lines");
    if (lines && !ks_check_lines(lines, amount, r))
        return;
    bool open = strcmp(o->status, "AUTHORIZED") == 0 || strcmp(o->status, "PART_CAPTURED") == 0;
    if (!open || strcmp(o->fraud, "ACCEPTED") != 0) {
        ks_error(r, 403, "NOT_ALLOWED", "Order is %s and cannot be updated", o->status);
        return;
    }
    if (amount < o->captured) {
        ks_error(r, 403, "NOT_ALLOWED", "New order amount is lower than the captured amount");
        return;
    }
    bool paynow = strcmp(o->pm_type, "direct_bank_transfer") == 0;
    if (amount > o->original_amount &&
        (paynow || amount > o->original_amount + o->original_amount / 10)) {
        ks_error(r, 403, "NOT_ALLOWED", "Order amount increase was not approved");
        return;
    }
    o->order_amount = amount;
    if (lines) {
        json_decref(o->lines);
        o->lines = json_deep_copy(lines);
    }
    if (o->captured == o->order_amount && o->captured > 0)
        snprintf(o->status, sizeof(o->status), "CAPTURED");
    ks_empty(r, 204);
}

static void api_sendout(klarna_sim *ks, char cap[2][KS_ID_LEN + 8], json_t *b, sim_response *r)
{
    ks_order *o = ks_order_or_404(ks, cap[0], r);
    if (!o)
        return;
    for (int i = 0; i < o->ncaptures; i++) {
        if (strcmp(o->captures[i].id, cap[1]) == 0) {
            o->captures[i].sendouts++;
            ks_empty(r, 204);
            return;
        }
    }
    if (o->ncaptures == 0)
        ks_error(r, 403, "NOT_ALLOWED", "Order has no captures");
    else
        ks_error(r, 404, "NO_SUCH_CAPTURE", "Capture not found");
}

typedef struct {
    const char *method;
    const char *pattern; /* '*' = one path segment, captured */
    ks_api_fn fn;
} ks_route;

static const ks_route ks_routes[] = {
    {"POST", "/payments/v1/sessions", api_kp_create},
    {"GET", "/payments/v1/sessions/*", api_kp_read},
    {"POST", "/hpp/v1/sessions", api_hpp_create},
    {"GET", "/hpp/v1/sessions/*", api_hpp_read},
    {"DELETE", "/hpp/v1/sessions/*", api_hpp_delete},
    {"POST", "/payments/v1/authorizations/*/order", api_order_create},
    {"GET", "/ordermanagement/v1/orders/*", api_order_get},
    {"POST", "/ordermanagement/v1/orders/*/captures", api_capture},
    {"POST", "/ordermanagement/v1/orders/*/refunds", api_refund},
    {"POST", "/ordermanagement/v1/orders/*/cancel", api_cancel},
    {"POST", "/ordermanagement/v1/orders/*/release-remaining-authorization", api_release},
    {"POST", "/ordermanagement/v1/orders/*/extend-authorization-time", api_extend},
    {"PATCH", "/ordermanagement/v1/orders/*/authorization", api_update},
    {"POST", "/ordermanagement/v1/orders/*/captures/*/trigger-send-out", api_sendout},
};

/* Matches path against pattern; fills up to two '*' segments. */
static bool ks_match(const char *pattern, const char *path, char cap[2][KS_ID_LEN + 8])
{
    int ncap = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= KS_ID_LEN + 8 || ncap >= 2)
                return false;
            memcpy(cap[ncap], path, n);
            cap[ncap][n] = '\0';
            ncap++;
            path += n;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* ------------------------------------------------ API dispatch: auth, faults, idempotency */

/* The first armed fault whose prefix starts path; its count is used up. */
static bool ks_take_fault(klarna_sim *ks, const char *path, ks_fault *out)
{
    for (int i = 0; i < KS_FAULTS_MAX; i++) {
        ks_fault *f = &ks->faults[i];
        if (f->count > 0 && strncmp(path, f->prefix, strlen(f->prefix)) == 0) {
            f->count--;
            *out = *f;
            return true;
        }
    }
    return false;
}

static void ks_fault_answer(sim_response *r, int status)
{
    const char *code = status == 429   ? "TOO_MANY_REQUESTS"
                       : status >= 502 ? "TEMPORARILY_UNAVAILABLE"
                       : status >= 500 ? "INTERNAL_SERVER_ERROR"
                                       : "BAD_REQUEST";
    ks_error(r, status, code, "Simulated fault (%d)", status);
}

static ks_idem *ks_idem_find(klarna_sim *ks, const char *key, const char *route)
{
    int64_t i = sim_index_get(&ks->idem_ix, key, route, ks_idem_match, ks);
    return i < 0 ? NULL : &ks->idem[i];
}

static void ks_idem_replay(const ks_idem *e, sim_response *r)
{
    r->status = e->status;
    r->content_type = e->body && *e->body ? "application/json" : NULL;
    buf_reset(&r->body);
    if (e->body)
        buf_append_str(&r->body, e->body);
    r->nheaders = 0;
    for (int i = 0; i < e->nheaders; i++)
        sim_response_header(r, e->hname[i], e->hvalue[i]);
}

static void ks_idem_store(klarna_sim *ks, const char *key, const char *route, const sim_response *r)
{
    if (r->status >= 500 || r->status == 429)
        return; /* nothing happened: a retry must run again */
    uint32_t slot = (uint32_t)(ks->nidem++ % LIMIT_SIM_OBJECTS_MAX);
    ks_idem *e = &ks->idem[slot];
    sim_index_del(&ks->idem_ix, e->key, e->route, slot);
    free(e->body);
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->route, sizeof(e->route), "%s", route);
    sim_index_put(&ks->idem_ix, e->key, e->route, slot);
    e->status = r->status;
    e->body = strdup(r->body.data ? r->body.data : "");
    for (int i = 0; i < r->nheaders && i < 2; i++) {
        snprintf(e->hname[i], sizeof(e->hname[i]), "%s", r->hname[i]);
        snprintf(e->hvalue[i], sizeof(e->hvalue[i]), "%s", r->hvalue[i]);
        e->nheaders++;
    }
}

/* Runs one API call under the lock (route lookup, idempotency, handler). */
static void ks_api_locked(klarna_sim *ks, const sim_request *req, json_t *body, sim_response *r)
{
    char cap[2][KS_ID_LEN + 8] = {{0}};
    const ks_route *rt = NULL;
    bool path_known = false;
    for (size_t i = 0; i < K_ARRAY_LEN(ks_routes); i++) {
        if (ks_match(ks_routes[i].pattern, req->path, cap)) {
            path_known = true;
            if (strcmp(ks_routes[i].method, req->method) == 0) {
                rt = &ks_routes[i];
                break;
            }
        }
    }
    if (!rt) {
        if (path_known)
            ks_error(r, 405, "BAD_REQUEST", "Method %s not allowed here", req->method);
        else
            ks_error(r, 404, "NOT_FOUND", "No such endpoint");
        return;
    }
    const char *key = sim_request_header(req, "Klarna-Idempotency-Key");
    char route[300];
    snprintf(route, sizeof(route), "%s %s", req->method, req->path);
    bool write = strcmp(req->method, "GET") != 0;
    if (write && key && strlen(key) > LIMIT_IDEMPOTENCY_KEY_MAX) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: Klarna-Idempotency-Key");
        return;
    }
    ks_idem *seen = write && key ? ks_idem_find(ks, key, route) : NULL;
    if (seen) {
        ks_idem_replay(seen, r);
        return;
    }
    rt->fn(ks, cap, body, r);
    if (write && key)
        ks_idem_store(ks, key, route, r);
}

static void ks_api(klarna_sim *ks, const sim_request *req, sim_response *r)
{
    char *user = NULL, *pass = NULL;
    if (!sim_request_basic_auth(req, &user, &pass) || !*user || !*pass) {
        free(user);
        free(pass);
        ks_error(r, 401, "UNAUTHORIZED", "Missing or bad Basic authorization");
        sim_response_header(r, "WWW-Authenticate", "Basic realm=\"Klarna simulator\"");
        return;
    }
    pthread_mutex_lock(&ks->mu);
    snprintf(ks->last_user, sizeof ks->last_user, "%s", user);
    ks->api_calls++;
    pthread_mutex_unlock(&ks->mu);
    free(user);
    free(pass);
    ks_fault fault = {0};
    pthread_mutex_lock(&ks->mu);
    bool faulted = ks_take_fault(ks, req->path, &fault);
    pthread_mutex_unlock(&ks->mu);
    if (faulted && fault.delay_ms > 0)
        usleep((useconds_t)fault.delay_ms * 1000);
    if (faulted && fault.status && !fault.after) {
        ks_fault_answer(r, fault.status);
        return;
    }
    json_t *body = NULL;
    if (req->body_len > 0) {
        json_error_t je;
        body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(body)) {
            json_decref(body);
            ks_error(r, 400, "BAD_REQUEST", "Request body is not a JSON object");
            return;
        }
    } else {
        body = json_object();
    }
    pthread_mutex_lock(&ks->mu);
    ks_api_locked(ks, req, body, r);
    pthread_mutex_unlock(&ks->mu);
    json_decref(body);
    if (faulted && fault.status && fault.after)
        ks_fault_answer(r, fault.status); /* the effect happened, the answer is lost */
}

/* ------------------------------------------------------- customer pages */

typedef struct {
    const char *value;
    const char *country;
    const char *code;
    const char *name;
} ks_bank;

/* Klarna Open Banking playground banks (providers.md §4); PL and CH are ours. */
static const ks_bank ks_banks[] = {
    {"demo", "", "", "Demo Bank"},
    {"de", "DE", "88888888", "Demo Bank PSD2"},
    {"at", "AT", "00000", "Testbank Austria"},
    {"be", "BE", "999", "Testbank Belgium"},
    {"es", "ES", "9999", "Testbank Spain"},
    {"gb", "GB", "000000", "Testbank United Kingdom"},
    {"it", "IT", "00000", "Testbank Italy"},
    {"nl", "NL", "TEST", "Testbank Netherlands"},
    {"pl", "PL", "0000", "Demo Bank PL"},
    {"ch", "CH", "00000", "Demo Bank CH"},
};

#define T(en, de) (de_ ? (de) : (en))

static const char ks_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f7f3f0;color:#17120f}"
    "main{max-width:30rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem}"
    ".sim{background:#ffb3c7;padding:.3rem .6rem;border-radius:.3rem;font-size:.85rem}"
    "label{display:block;margin:.6rem 0}input[type=text],input[type=password],input[type=email]"
    "{display:block;width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}"
    "button,.btn{display:block;width:100%;margin:.8rem 0;padding:.8rem;font-size:1rem;"
    "border-radius:.4rem;border:1px solid #17120f;background:#17120f;color:#fff;"
    "text-align:center;text-decoration:none}button.secondary{background:#fff;color:#17120f}"
    "p[role=alert]{background:#fde2e2;padding:.6rem;border-radius:.3rem}"
    "fieldset{border:0;padding:0}legend{font-weight:600}"
    ":focus-visible{outline:3px solid #0b57d0;outline-offset:3px}"
    "label:has(input[type=radio]){display:flex;align-items:center;gap:.6rem;min-height:2.75rem}"
    "input[type=radio]{width:1.5rem;height:1.5rem;margin:0;flex:none}"
    ".shop{font-size:1.05rem}.logo img{max-height:3rem;max-width:12rem}";

static void pg_begin(buf *b, bool de_, const char *title, const ks_hpp *h)
{
    buf_printf(b,
               "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>",
               de_ ? "de" : "en");
    buf_append_html(b, title);
    buf_printf(b, " - Klarna</title><style>%s</style></head><body><main>", ks_css);
    buf_printf(b, "<p class=\"sim\">%s</p>",
               T("Klarna simulator - test mode, no real money moves",
                 "Klarna-Simulator - Testmodus, es wird kein echtes Geld bewegt"));
    if (h->logo[0]) {
        /* Decorative: the shop's name follows in text. */
        buf_append_str(b, "<p class=\"logo\"><img alt=\"\" src=\"");
        buf_append_html(b, h->logo);
        buf_append_str(b, "\"></p>");
    }
    if (h->merchant[0]) {
        buf_printf(b, "<p class=\"shop\">%s <strong>", T("Paying", "Zahlung an"));
        buf_append_html(b, h->merchant);
        buf_append_str(b, "</strong></p>");
    }
    buf_printf(b, "<p>%s <strong>%lld.%02lld %s</strong></p><h1>", T("Amount:", "Betrag:"),
               (long long)(h->amount / 100), (long long)(h->amount % 100), h->currency);
    buf_append_html(b, title);
    buf_append_str(b, "</h1>");
    if (h->msg[0]) {
        buf_append_str(b, "<p role=\"alert\">");
        buf_append_html(b, h->msg);
        buf_append_str(b, "</p>");
    }
}

static void pg_form(buf *b, const klarna_sim *ks, const ks_hpp *h)
{
    buf_printf(b,
               "<form method=\"post\" action=\"%s/hpp/pay/%s\">"
               "<input type=\"hidden\" name=\"step\" value=\"%s\">",
               ks->base, h->id, ks_step_name[h->step]);
}

static void pg_submit(buf *b, const char *label)
{
    buf_printf(b, "<button type=\"submit\" name=\"action\" value=\"next\">%s</button></form>",
               label);
}

static void pg_end(buf *b, const klarna_sim *ks, const ks_hpp *h, bool de_, bool cancel)
{
    if (cancel)
        buf_printf(b,
                   "<form method=\"post\" action=\"%s/hpp/pay/%s\">"
                   "<input type=\"hidden\" name=\"step\" value=\"%s\">"
                   "<button type=\"submit\" class=\"secondary\" name=\"action\" "
                   "value=\"cancel\">%s</button></form>",
                   ks->base, h->id, ks_step_name[h->step],
                   T("Cancel payment", "Zahlung abbrechen"));
    buf_append_str(b, "</main></body></html>");
}

static void pg_radio(buf *b, const char *name, const char *value, const char *label, bool first)
{
    buf_printf(b, "<label><input type=\"radio\" name=\"%s\" value=\"%s\"%s> ", name, value,
               first ? " required checked" : " required");
    buf_append_html(b, label);
    buf_append_str(b, "</label>");
}

static void pg_input(buf *b, const char *type, const char *name, const char *label,
                     const char *extra)
{
    buf_printf(b, "<label for=\"%s\">%s</label><input type=\"%s\" id=\"%s\" name=\"%s\" %s>", name,
               label, type, name, name, extra);
}

static const char *ks_url(const ks_hpp *h, const char *key, const char *fallback)
{
    const char *u = ks_jstr(h->urls, key);
    if (!u && fallback)
        u = ks_jstr(h->urls, fallback);
    return u;
}

/* The page shown once the session is over (failed, error, expired, done). */
static void pg_final(klarna_sim *ks, ks_hpp *h, bool de_, buf *b)
{
    const char *title = T("Payment not completed", "Zahlung nicht abgeschlossen");
    const char *url = ks_url(h, "failure", "error");
    if (h->status == H_ERROR) {
        title =
            T("Your bank reported a technical error", "Ihre Bank meldet einen technischen Fehler");
        url = ks_url(h, "error", "failure");
    } else if (h->status == H_COMPLETED) {
        title = T("Payment confirmed", "Zahlung bestätigt");
        url = NULL;
    } else if (h->status == H_CANCELLED) {
        title = T("Payment cancelled", "Zahlung abgebrochen");
        url = ks_url(h, "cancel", "back");
    } else if (h->status == H_DISABLED) {
        title = T("This payment session has expired", "Diese Zahlungssitzung ist abgelaufen");
    }
    pg_begin(b, de_, title, h);
    if (url) {
        buf_append_str(b, "<a class=\"btn\" href=\"");
        buf_append_html(b, url);
        buf_printf(b, "\">%s</a>", T("Back to the shop", "Zurück zum Shop"));
    }
    pg_end(b, ks, h, de_, false);
}

static void pg_step(klarna_sim *ks, ks_hpp *h, bool de_, buf *b)
{
    switch (h->step) {
    case P_METHOD:
        pg_begin(b, de_, T("How do you want to pay?", "Wie möchten Sie bezahlen?"), h);
        pg_form(b, ks, h);
        buf_printf(b, "<fieldset><legend>%s</legend>", T("Payment method", "Zahlungsart"));
        if (h->cats & CAT_PAY_NOW)
            pg_radio(b, "category", "pay_now",
                     T("Pay now (bank transfer)", "Sofort bezahlen (Überweisung)"), true);
        if (h->cats & CAT_PAY_LATER)
            pg_radio(b, "category", "pay_later", T("Pay later", "Später bezahlen"),
                     !(h->cats & CAT_PAY_NOW));
        if (h->cats & CAT_PAY_OVER_TIME)
            pg_radio(b, "category", "pay_over_time", T("Pay in instalments", "In Raten bezahlen"),
                     !(h->cats & (CAT_PAY_NOW | CAT_PAY_LATER)));
        buf_append_str(b, "</fieldset>");
        pg_submit(b, T("Continue", "Weiter"));
        break;
    case P_BANK:
        pg_begin(b, de_, T("Choose your bank", "Wählen Sie Ihre Bank"), h);
        pg_form(b, ks, h);
        buf_printf(b, "<fieldset><legend>%s</legend>", T("Bank", "Bank"));
        for (size_t i = 0; i < K_ARRAY_LEN(ks_banks); i++) {
            char label[128];
            if (ks_banks[i].country[0])
                snprintf(label, sizeof(label), "%s (%s %s)", ks_banks[i].name, ks_banks[i].country,
                         ks_banks[i].code);
            else
                snprintf(label, sizeof(label), "%s", ks_banks[i].name);
            pg_radio(b, "bank", ks_banks[i].value, label, i == 0);
        }
        buf_append_str(b, "</fieldset>");
        pg_submit(b, T("Continue", "Weiter"));
        break;
    case P_LOGIN:
        pg_begin(b, de_, T("Log in to your bank", "Bei Ihrer Bank anmelden"), h);
        buf_append_str(b, "<p>");
        buf_append_html(b, h->bank);
        buf_append_str(b, "</p>");
        pg_form(b, ks, h);
        pg_input(b, "text", "username", T("Username", "Benutzername"),
                 "autocomplete=\"username\" required");
        pg_input(b, "password", "pin", T("PIN or password", "PIN oder Passwort"),
                 "autocomplete=\"current-password\" required");
        pg_submit(b, T("Log in", "Anmelden"));
        break;
    case P_DECOUPLED:
        pg_begin(b, de_, T("Confirm in your banking app", "Bestätigen Sie in Ihrer Banking-App"),
                 h);
        buf_printf(b, "<p aria-live=\"polite\">%s</p>",
                   T("Open your banking app and confirm the login. This page continues by itself.",
                     "Öffnen Sie Ihre Banking-App und bestätigen Sie die Anmeldung. Diese Seite "
                     "geht von selbst weiter."));
        buf_printf(b,
                   "<script>setInterval(function(){fetch('%s/hpp/pay/%s/status')"
                   ".then(function(r){return r.json()}).then(function(j){"
                   "if(j.step!=='decoupled')location.reload()})},700)</script>",
                   ks->base, h->id);
        pg_form(b, ks, h);
        pg_submit(b, T("I have confirmed", "Ich habe bestätigt"));
        break;
    case P_ACCOUNT:
        pg_begin(b, de_, T("Choose your account", "Wählen Sie Ihr Konto"), h);
        pg_form(b, ks, h);
        buf_printf(b, "<fieldset><legend>%s</legend>", T("Account", "Konto"));
        pg_radio(b, "account", "DE89 3704 0044 0532 0130 00",
                 T("Current account DE89 3704 0044 0532 0130 00",
                   "Girokonto DE89 3704 0044 0532 0130 00"),
                 true);
        pg_radio(b, "account", "DE02 1203 0000 0000 2020 51",
                 T("Savings account DE02 1203 0000 0000 2020 51",
                   "Tagesgeldkonto DE02 1203 0000 0000 2020 51"),
                 false);
        buf_append_str(b, "</fieldset>");
        pg_submit(b, T("Continue", "Weiter"));
        break;
    case P_TAN:
        pg_begin(b, de_, T("Confirm the transfer", "Überweisung bestätigen"), h);
        buf_printf(b, "<p>%s ", T("From account", "Vom Konto"));
        buf_append_html(b, h->account);
        buf_printf(
            b, "</p><p>%s</p>",
            T("Enter the TAN your bank sent you (test TAN: 12345).",
              "Geben Sie die TAN ein, die Ihre Bank Ihnen geschickt hat (Test-TAN: 12345)."));
        pg_form(b, ks, h);
        pg_input(b, "text", "tan", "TAN",
                 "inputmode=\"numeric\" autocomplete=\"one-time-code\" required");
        pg_submit(b, T("Confirm payment", "Zahlung bestätigen"));
        break;
    case P_OPTION:
        pg_begin(b, de_, T("When do you want to pay?", "Wann möchten Sie bezahlen?"), h);
        pg_form(b, ks, h);
        buf_printf(b, "<fieldset><legend>%s</legend>", T("Option", "Option"));
        if (h->cats & CAT_PAY_LATER)
            pg_radio(b, "option", "pay_in_30", T("Pay in 30 days", "In 30 Tagen bezahlen"), true);
        if (h->cats & CAT_PAY_OVER_TIME)
            pg_radio(b, "option", "instalments_3",
                     T("3 interest-free instalments", "3 zinsfreie Raten"),
                     !(h->cats & CAT_PAY_LATER));
        buf_append_str(b, "</fieldset>");
        pg_submit(b, T("Continue", "Weiter"));
        break;
    case P_EMAIL:
        pg_begin(b, de_, T("Your e-mail address", "Ihre E-Mail-Adresse"), h);
        pg_form(b, ks, h);
        pg_input(b, "email", "email", T("E-mail", "E-Mail"), "autocomplete=\"email\" required");
        pg_submit(b, T("Continue", "Weiter"));
        break;
    case P_OTP:
        pg_begin(b, de_,
                 T("Enter the code we sent you",
                   "Geben Sie den Code ein, den wir Ihnen geschickt haben"),
                 h);
        pg_form(b, ks, h);
        pg_input(
            b, "text", "code", T("6-digit code", "6-stelliger Code"),
            "inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" required");
        pg_submit(b, T("Confirm", "Bestätigen"));
        break;
    }
    pg_end(b, ks, h, de_, true);
}

/* ----------------------------------------------- page flow: transitions */

static void ks_status_cb(klarna_sim *ks, ks_hpp *h)
{
    char eid[KS_ID_LEN];
    ks_uuid(eid);
    ks_queue_cb(ks, ks_url(h, "status_update", NULL),
                json_pack("{s:s, s:o}", "event_id", eid, "session", ks_hpp_json(h)));
}

static void ks_finish(klarna_sim *ks, ks_hpp *h, ks_hstatus st, const char *msg)
{
    K_ASSERT(st != H_WAITING && st != H_IN_PROGRESS);
    h->status = st;
    h->updated_s = clock_now_s();
    snprintf(h->msg, sizeof(h->msg), "%s", msg ? msg : "");
    ks_status_cb(ks, h);
}

static void ks_complete(klarna_sim *ks, ks_hpp *h)
{
    ks_hpp_token(ks, h);
    h->token_exp_s = clock_now_s() + KS_TOKEN_TTL_S;
    ks_kp *k = ks_kp_find(ks, h->kp_id);
    ks_finish(ks, h, H_COMPLETED, NULL);
    if (k) {
        k->complete = true;
        ks_queue_cb(ks, ks_jstr(json_object_get(k->req, "merchant_urls"), "authorization"),
                    json_pack("{s:s, s:s}", "authorization_token", h->token, "session_id", k->id));
    }
}

/* Appends src to b with {{session_id}} and {{authorization_token}} substituted. */
static void ks_subst(buf *b, const char *src, const ks_hpp *h)
{
    while (*src) {
        if (strncmp(src, "{{session_id}}", 14) == 0) {
            buf_append_str(b, h->id);
            src += 14;
        } else if (strncmp(src, "{{authorization_token}}", 23) == 0) {
            buf_append_str(b, h->token);
            src += 23;
        } else {
            buf_append(b, src, 1);
            src++;
        }
    }
}

static void ks_redirect(sim_response *r, const char *url)
{
    ks_empty(r, 303);
    sim_response_header(r, "Location", url);
}

static void ks_redirect_page(klarna_sim *ks, ks_hpp *h, sim_response *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/hpp/pay/%s", ks->base, h->id);
    ks_redirect(r, url);
}

/* Where the customer goes after a POST: the merchant for COMPLETED and
 * CANCELLED, otherwise our own page (the final page explains failures). */
static void ks_after_post(klarna_sim *ks, ks_hpp *h, sim_response *r)
{
    const char *u = NULL;
    if (h->status == H_COMPLETED)
        u = ks_url(h, "success", NULL);
    else if (h->status == H_CANCELLED)
        u = ks_url(h, "cancel", "back");
    if (!u) {
        ks_redirect_page(ks, h, r);
        return;
    }
    buf out;
    buf_init(&out, LIMIT_URL_MAX + 256);
    ks_subst(&out, u, h);
    ks_redirect(r, out.data ? out.data : "");
    buf_free(&out);
}

static void ks_decoupled_tick(ks_hpp *h)
{
    if (h->status == H_IN_PROGRESS && h->step == P_DECOUPLED &&
        clock_mono_ms() - h->decoupled_ms >= KS_SETTLE_MS)
        h->step = h->single_account ? P_TAN : P_ACCOUNT;
}

static bool ks_is_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void ks_post_login(klarna_sim *ks, ks_hpp *h, bool de_, const char *user, const char *pin)
{
    if (!*user || !*pin) {
        snprintf(h->msg, sizeof(h->msg), "%s",
                 T("Enter your username and PIN.", "Geben Sie Benutzername und PIN ein."));
        return;
    }
    if (strcmp(user, "wrong") == 0) {
        if (++h->login_fails >= KS_TRIES) {
            ks_finish(ks, h, H_FAILED,
                      T("Login failed three times. The payment was not completed.",
                        "Die Anmeldung ist dreimal fehlgeschlagen. Die Zahlung wurde nicht "
                        "abgeschlossen."));
            return;
        }
        snprintf(h->msg, sizeof(h->msg), "%s",
                 T("Your bank refused these credentials. Please try again.",
                   "Ihre Bank hat die Zugangsdaten abgelehnt. Bitte versuchen Sie es erneut."));
        return;
    }
    if (strcmp(user, "technical") == 0) {
        ks_finish(ks, h, H_ERROR,
                  T("Your bank reported a technical error.",
                    "Ihre Bank meldet einen technischen Fehler."));
        return;
    }
    h->single_account = strcmp(user, "single") == 0;
    if (strcmp(user, "decoupled") == 0) {
        h->step = P_DECOUPLED;
        h->decoupled_ms = clock_mono_ms();
        return;
    }
    h->step = h->single_account ? P_TAN : P_ACCOUNT;
    if (h->single_account)
        snprintf(h->account, sizeof(h->account), "DE89 3704 0044 0532 0130 00");
}

static void ks_post_tan(klarna_sim *ks, ks_hpp *h, bool de_, const char *tan)
{
    if (strcmp(tan, "12345") == 0) {
        ks_complete(ks, h);
        return;
    }
    if (++h->tan_fails >= KS_TRIES) {
        ks_finish(ks, h, H_FAILED,
                  T("Wrong TAN entered three times. The payment was not completed.",
                    "Dreimal falsche TAN. Die Zahlung wurde nicht abgeschlossen."));
        return;
    }
    snprintf(h->msg, sizeof(h->msg),
             T("Wrong TAN, %d tries left.", "Falsche TAN, noch %d Versuche."),
             KS_TRIES - h->tan_fails);
}

/* Klarna's playground decides by the e-mail address (seed 001, Stripe's Klarna
 * test data): customer+denied@email.<cc> is refused in every category. Pay Now
 * has no e-mail step, so there the address the shop sent in billing_address
 * decides; Pay Later and Pay over time use the one typed at the e-mail step. */
static bool ks_email_denied(const char *email)
{
    const char *at = email != NULL ? strchr(email, '@') : NULL;
    return at != NULL && at - email == 15 && strncmp(email, "customer+denied", 15) == 0;
}

static const char *ks_billing_email(klarna_sim *ks, const ks_hpp *h)
{
    ks_kp *k = ks_kp_find(ks, h->kp_id);
    return k != NULL ? ks_jstr(json_object_get(k->req, "billing_address"), "email") : NULL;
}

static void ks_refuse(klarna_sim *ks, ks_hpp *h, bool de_)
{
    ks_finish(ks, h, H_FAILED,
              T("Your purchase can not be accepted. Please choose another payment method.",
                "Ihr Kauf kann nicht akzeptiert werden. Bitte wählen Sie eine andere "
                "Zahlungsart."));
}

/* Pay Now chosen (or the only category): refused up front for a denied e-mail. */
static void ks_start_pay_now(klarna_sim *ks, ks_hpp *h, bool de_)
{
    snprintf(h->chosen, sizeof(h->chosen), "pay_now");
    h->step = P_BANK;
    if (ks_email_denied(ks_billing_email(ks, h)))
        ks_refuse(ks, h, de_);
}

static void ks_post_email(klarna_sim *ks, ks_hpp *h, bool de_, const char *email)
{
    const char *at = strchr(email, '@');
    if (!at || at == email || !strchr(at, '.') || strlen(email) > LIMIT_EMAIL_MAX) {
        snprintf(h->msg, sizeof(h->msg), "%s",
                 T("Enter a valid e-mail address.", "Geben Sie eine gültige E-Mail-Adresse ein."));
        return;
    }
    size_t local = (size_t)(at - email);
    if (ks_email_denied(email)) {
        ks_refuse(ks, h, de_);
        return;
    }
    h->pending = local == 16 && strncmp(email, "customer+pending", 16) == 0;
    h->step = P_OTP;
}

static void ks_post_step(klarna_sim *ks, ks_hpp *h, bool de_, json_t *f)
{
    const char *v;
    h->msg[0] = '\0';
    switch (h->step) {
    case P_METHOD:
        v = ks_jstr(f, "category");
        if (v && strcmp(v, "pay_now") == 0 && (h->cats & CAT_PAY_NOW)) {
            ks_start_pay_now(ks, h, de_);
            return;
        } else if (v && strcmp(v, "pay_later") == 0 && (h->cats & CAT_PAY_LATER))
            h->step = P_OPTION;
        else if (v && strcmp(v, "pay_over_time") == 0 && (h->cats & CAT_PAY_OVER_TIME))
            h->step = P_OPTION;
        else
            return;
        snprintf(h->chosen, sizeof(h->chosen), "%s", v);
        break;
    case P_BANK:
        v = ks_jstr(f, "bank");
        for (size_t i = 0; v && i < K_ARRAY_LEN(ks_banks); i++) {
            if (strcmp(v, ks_banks[i].value) == 0) {
                snprintf(h->bank, sizeof(h->bank), "%s", ks_banks[i].name);
                h->step = P_LOGIN;
            }
        }
        break;
    case P_LOGIN:
        ks_post_login(ks, h, de_, ks_jstr(f, "username") ? ks_jstr(f, "username") : "",
                      ks_jstr(f, "pin") ? ks_jstr(f, "pin") : "");
        break;
    case P_DECOUPLED:
        ks_decoupled_tick(h);
        if (h->step == P_DECOUPLED)
            snprintf(h->msg, sizeof(h->msg), "%s",
                     T("Not confirmed yet. Please confirm in your banking app.",
                       "Noch nicht bestätigt. Bitte bestätigen Sie in Ihrer Banking-App."));
        break;
    case P_ACCOUNT:
        v = ks_jstr(f, "account");
        if (v && *v) {
            snprintf(h->account, sizeof(h->account), "%s", v);
            h->step = P_TAN;
        }
        break;
    case P_TAN:
        ks_post_tan(ks, h, de_, ks_jstr(f, "tan") ? ks_jstr(f, "tan") : "");
        break;
    case P_OPTION:
        v = ks_jstr(f, "option");
        if (v && strcmp(v, "pay_in_30") == 0 && (h->cats & CAT_PAY_LATER)) {
            snprintf(h->chosen, sizeof(h->chosen), "pay_later");
            h->step = P_EMAIL;
        } else if (v && strcmp(v, "instalments_3") == 0 && (h->cats & CAT_PAY_OVER_TIME)) {
            snprintf(h->chosen, sizeof(h->chosen), "pay_over_time");
            h->step = P_EMAIL;
        }
        break;
    case P_EMAIL:
        ks_post_email(ks, h, de_, ks_jstr(f, "email") ? ks_jstr(f, "email") : "");
        break;
    case P_OTP:
        v = ks_jstr(f, "code") ? ks_jstr(f, "code") : "";
        if (!ks_is_digits(v, 6))
            snprintf(h->msg, sizeof(h->msg), "%s",
                     T("Enter the 6-digit code.", "Geben Sie den 6-stelligen Code ein."));
        else if (strcmp(v, "999999") == 0)
            ks_finish(ks, h, H_FAILED,
                      T("The code could not be verified. The payment was not completed.",
                        "Der Code konnte nicht bestätigt werden. Die Zahlung wurde nicht "
                        "abgeschlossen."));
        else
            ks_complete(ks, h);
        break;
    }
}

/* First visit: the session is IN_PROGRESS; one allowed category skips the choice. */
static void ks_open(klarna_sim *ks, ks_hpp *h)
{
    if (h->status != H_WAITING)
        return;
    h->status = H_IN_PROGRESS;
    h->updated_s = clock_now_s();
    if (h->cats == CAT_PAY_NOW) {
        ks_start_pay_now(ks, h, strncmp(h->locale, "de", 2) == 0);
        if (h->status != H_IN_PROGRESS)
            return; /* refused: ks_finish reported it */
    } else if (!(h->cats & CAT_PAY_NOW)) {
        snprintf(h->chosen, sizeof(h->chosen), "%s",
                 h->cats & CAT_PAY_LATER ? "pay_later" : "pay_over_time");
        h->step = P_OPTION;
    }
    ks_status_cb(ks, h);
}

static void ks_pages_locked(klarna_sim *ks, const sim_request *req, sim_response *r)
{
    const char *rest = req->path + strlen("/hpp/pay/");
    char id[KS_ID_LEN];
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof(id)) {
        ks_error(r, 404, "NOT_FOUND", "No such page");
        return;
    }
    memcpy(id, rest, n);
    id[n] = '\0';
    ks_hpp *h = ks_hpp_find(ks, id);
    if (!h) {
        ks_error(r, 404, "NOT_FOUND", "Session not found");
        return;
    }
    ks_hpp_touch(ks, h);
    ks_decoupled_tick(h);
    bool de_ = strncmp(h->locale, "de", 2) == 0;
    bool open = h->status == H_WAITING || h->status == H_IN_PROGRESS;
    if (strcmp(rest + n, "/status") == 0 && strcmp(req->method, "GET") == 0) {
        ks_json(r, 200,
                json_pack("{s:s, s:s}", "status", ks_hstatus_name[h->status], "step",
                          open ? ks_step_name[h->step] : "done"));
        return;
    }
    if (rest[n] != '\0') {
        ks_error(r, 404, "NOT_FOUND", "No such page");
        return;
    }
    if (strcmp(req->method, "POST") == 0 && open) {
        param_err pe;
        json_t *f = form_decode(req->body, req->body_len, &pe);
        if (!f) {
            ks_error(r, 400, "BAD_REQUEST", "Bad form: %s", pe.message);
            return;
        }
        ks_open(ks, h);
        const char *step = ks_jstr(f, "step");
        const char *action = ks_jstr(f, "action");
        if (action && strcmp(action, "cancel") == 0)
            ks_finish(ks, h, H_CANCELLED, NULL);
        else if (step && strcmp(step, ks_step_name[h->step]) == 0)
            ks_post_step(ks, h, de_, f);
        json_decref(f); /* a stale form (other step) just shows the current page */
        ks_after_post(ks, h, r);
        return;
    }
    if (strcmp(req->method, "POST") == 0) {
        ks_after_post(ks, h, r);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        ks_error(r, 405, "BAD_REQUEST", "Method not allowed");
        return;
    }
    ks_open(ks, h);
    r->status = 200;
    r->content_type = "text/html; charset=utf-8";
    buf_reset(&r->body);
    if (h->status == H_IN_PROGRESS)
        pg_step(ks, h, de_, &r->body);
    else
        pg_final(ks, h, de_, &r->body);
}

/* ------------------------------------------------------- admin endpoints */

static void ks_settle(klarna_sim *ks, ks_order *o, const char *decision)
{
    o->settle_at_ms = 0;
    if (strcmp(decision, "ACCEPTED") == 0) {
        snprintf(o->fraud, sizeof(o->fraud), "ACCEPTED");
        if (o->auto_capture && o->order_amount > o->captured && ks_remaining(o) > 0)
            ks_capture_now(o, o->order_amount - o->captured);
    } else {
        snprintf(o->fraud, sizeof(o->fraud), "REJECTED");
        snprintf(o->status, sizeof(o->status), "CLOSED");
    }
    char ev[40];
    snprintf(ev, sizeof(ev), "FRAUD_RISK_%s", decision);
    ks_queue_cb(ks, o->notification_url,
                json_pack("{s:s, s:s}", "order_id", o->id, "event_type", ev));
}

/* The used part of a ring of n_ ever-made objects. */
#define KS_USED(n_) ((n_) < LIMIT_SIM_OBJECTS_MAX ? (n_) : LIMIT_SIM_OBJECTS_MAX)

/* Forgets everything; touches only the slots that were used, so the large
 * rings (LIMIT_SIM_OBJECTS_MAX) cost memory only as far as they were filled. */
static void ks_reset(klarna_sim *ks)
{
    for (size_t i = 0; i < KS_USED(ks->nkp); i++) {
        json_decref(ks->kp[i].req);
        memset(&ks->kp[i], 0, sizeof(ks->kp[i]));
    }
    for (size_t i = 0; i < KS_USED(ks->nhpp); i++) {
        json_decref(ks->hpp[i].urls);
        memset(&ks->hpp[i], 0, sizeof(ks->hpp[i]));
    }
    for (size_t i = 0; i < KS_USED(ks->norders); i++) {
        ks_order_free_json(&ks->orders[i]);
        memset(&ks->orders[i], 0, sizeof(ks->orders[i]));
    }
    for (size_t i = 0; i < KS_USED(ks->nidem); i++) {
        free(ks->idem[i].body);
        memset(&ks->idem[i], 0, sizeof(ks->idem[i]));
    }
    sim_index_clear(&ks->kp_ix);
    sim_index_clear(&ks->hpp_ix);
    sim_index_clear(&ks->token_ix);
    sim_index_clear(&ks->order_ix);
    sim_index_clear(&ks->idem_ix);
    for (size_t i = 0; i < KS_INBOX_MAX; i++)
        free(ks->inbox[i].body);
    memset(ks->faults, 0, sizeof(ks->faults));
    memset(ks->inbox, 0, sizeof(ks->inbox));
    ks->nkp = ks->nhpp = ks->norders = ks->nidem = ks->ninbox = 0;
    ks->cb_mode = 0;
    ks->cb_delay_ms = 0;
}

static void adm_fault(klarna_sim *ks, json_t *b, sim_response *r)
{
    const char *path = ks_jstr(b, "path");
    json_t *st = json_object_get(b, "status"), *cnt = json_object_get(b, "count");
    json_t *dl = json_object_get(b, "delay_ms");
    int status = json_is_integer(st) ? (int)json_integer_value(st) : 0;
    int count = json_is_integer(cnt) ? (int)json_integer_value(cnt) : 1;
    int delay = json_is_integer(dl) ? (int)json_integer_value(dl) : 0;
    if (!path || strlen(path) >= sizeof(ks->faults[0].prefix) ||
        (status && (status < 400 || status > 599)) || count < 0 || count > 1000 || delay < 0 ||
        delay > 60000 || (!status && !delay)) {
        ks_error(r, 400, "BAD_VALUE",
                 "Bad fault: need path, status 400..599 and/or delay_ms 1..60000, count 0..1000");
        return;
    }
    for (int i = 0; i < KS_FAULTS_MAX; i++) {
        ks_fault *f = &ks->faults[i];
        if (f->count == 0 || strcmp(f->prefix, path) == 0) {
            snprintf(f->prefix, sizeof(f->prefix), "%s", path);
            f->status = status;
            f->count = count;
            f->delay_ms = delay;
            f->after = json_is_true(json_object_get(b, "after"));
            ks_json(r, 200,
                    json_pack("{s:s, s:i, s:i, s:i}", "path", path, "status", status, "count",
                              count, "delay_ms", delay));
            return;
        }
    }
    ks_error(r, 409, "CONFLICT", "All %d fault slots are armed", KS_FAULTS_MAX);
}

static void adm_callbacks(klarna_sim *ks, json_t *b, sim_response *r)
{
    const char *mode = ks_jstr(b, "mode");
    json_t *dl = json_object_get(b, "delay_ms");
    int m = !mode                            ? -1
            : strcmp(mode, "normal") == 0    ? 0
            : strcmp(mode, "duplicate") == 0 ? 1
            : strcmp(mode, "late") == 0      ? 2
                                             : -1;
    int delay = json_is_integer(dl) ? (int)json_integer_value(dl) : 5000;
    if (m < 0 || delay < 0 || delay > 3600 * 1000) {
        ks_error(r, 400, "BAD_VALUE", "Bad value: mode (normal, duplicate, late) or delay_ms");
        return;
    }
    ks->cb_mode = m;
    ks->cb_delay_ms = delay;
    ks_json(r, 200, json_pack("{s:s, s:i}", "mode", mode, "delay_ms", delay));
}

static void adm_order(klarna_sim *ks, const char *rest, const char *method, json_t *b,
                      sim_response *r)
{
    char id[KS_ID_LEN];
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof(id)) {
        ks_error(r, 404, "NOT_FOUND", "No such order");
        return;
    }
    memcpy(id, rest, n);
    id[n] = '\0';
    ks_order *o = ks_order_or_404(ks, id, r);
    if (!o)
        return;
    const char *what = rest + n;
    if (strcmp(method, "GET") == 0 && *what == '\0') {
        ks_json(r, 200, ks_order_json(o));
    } else if (strcmp(method, "POST") == 0 && strcmp(what, "/amount") == 0) {
        int64_t amount;
        if (!ks_amount(b, "order_amount", &amount, r))
            return;
        if (amount < o->captured) {
            ks_error(r, 403, "NOT_ALLOWED", "Order amount below the captured amount");
            return;
        }
        o->order_amount = amount;
        if (o->captured == amount && amount > 0)
            snprintf(o->status, sizeof(o->status), "CAPTURED");
        ks_json(r, 200, ks_order_json(o));
    } else if (strcmp(method, "POST") == 0 && strcmp(what, "/fraud") == 0) {
        const char *d = ks_jstr(b, "decision");
        if (!d || (strcmp(d, "ACCEPTED") && strcmp(d, "REJECTED") && strcmp(d, "STOPPED"))) {
            ks_error(r, 400, "BAD_VALUE", "Bad value: decision (ACCEPTED, REJECTED, STOPPED)");
            return;
        }
        if (strcmp(o->fraud, "PENDING") != 0) {
            ks_error(r, 403, "NOT_ALLOWED", "Order is not pending");
            return;
        }
        ks_settle(ks, o, d);
        ks_json(r, 200, ks_order_json(o));
    } else {
        ks_error(r, 404, "NOT_FOUND", "No such admin endpoint");
    }
}

static void adm_list(klarna_sim *ks, sim_response *r)
{
    json_t *arr = json_array();
    size_t lim = ks->norders < LIMIT_SIM_OBJECTS_MAX ? ks->norders : LIMIT_SIM_OBJECTS_MAX;
    for (size_t i = 0; i < lim; i++) {
        ks_order *o = &ks->orders[i];
        ks_order_touch(o);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "order_id", o->id,
                                             "hpp_session_id", o->hpp_id, "status", o->status,
                                             "order_amount", (json_int_t)o->order_amount,
                                             "captured_amount", (json_int_t)o->captured,
                                             "refunded_amount", (json_int_t)o->refunded));
    }
    ks_json(r, 200, json_pack("{s:o}", "orders", arr));
}

static void adm_inbox(klarna_sim *ks, const sim_request *req, sim_response *r)
{
    if (strcmp(req->method, "POST") == 0) {
        ks_inbox_item *it = &ks->inbox[ks->ninbox++ % KS_INBOX_MAX];
        free(it->body);
        snprintf(it->url, sizeof(it->url), "%s", req->path);
        it->body = strndup(req->body, req->body_len < 4096 ? req->body_len : 4096);
        it->at_s = clock_now_s();
        ks_json(r, 200, json_object());
        return;
    }
    json_t *arr = json_array();
    size_t lim = ks->ninbox < KS_INBOX_MAX ? ks->ninbox : KS_INBOX_MAX;
    size_t start = ks->ninbox - lim;
    for (size_t i = start; i < ks->ninbox; i++) {
        ks_inbox_item *it = &ks->inbox[i % KS_INBOX_MAX];
        json_array_append_new(
            arr, json_pack("{s:s, s:s}", "path", it->url, "body", it->body ? it->body : ""));
    }
    ks_json(r, 200, json_pack("{s:o}", "received", arr));
}

static void ks_admin_locked(klarna_sim *ks, const sim_request *req, json_t *b, sim_response *r)
{
    const char *p = req->path + strlen("/_sim/");
    bool post = strcmp(req->method, "POST") == 0;
    if (post && strcmp(p, "faults") == 0)
        adm_fault(ks, b, r);
    else if (post && strcmp(p, "callbacks") == 0)
        adm_callbacks(ks, b, r);
    else if (post && strcmp(p, "reset") == 0) {
        ks_reset(ks);
        ks_json(r, 200, json_object());
    } else if (strcmp(req->method, "GET") == 0 && strcmp(p, "orders") == 0)
        adm_list(ks, r);
    else if (strcmp(req->method, "GET") == 0 && strcmp(p, "auth") == 0)
        ks_json(r, 200,
                json_pack("{s:s, s:I}", "last_username", ks->last_user, "api_calls",
                          (json_int_t)ks->api_calls));
    else if (strncmp(p, "orders/", 7) == 0)
        adm_order(ks, p + 7, req->method, b, r);
    else if (strncmp(p, "inbox", 5) == 0 && (p[5] == '\0' || p[5] == '/'))
        adm_inbox(ks, req, r);
    else
        ks_error(r, 404, "NOT_FOUND", "No such admin endpoint");
}

static void ks_admin(klarna_sim *ks, const sim_request *req, sim_response *r)
{
    json_t *b = NULL;
    bool inbox = strncmp(req->path, "/_sim/inbox", 11) == 0;
    if (req->body_len > 0 && !inbox) {
        json_error_t je;
        b = json_loadb(req->body, req->body_len, 0, &je);
        if (!json_is_object(b)) {
            json_decref(b);
            ks_error(r, 400, "BAD_REQUEST", "Body is not a JSON object");
            return;
        }
    }
    if (!b)
        b = json_object();
    pthread_mutex_lock(&ks->mu);
    ks_admin_locked(ks, req, b, r);
    pthread_mutex_unlock(&ks->mu);
    json_decref(b);
}

/* ------------------------------------------------ dispatch, ticker, life */

static void ks_handle(void *ctx, const sim_request *req, sim_response *r)
{
    klarna_sim *ks = ctx;
    if (strncmp(req->path, "/_sim/", 6) == 0) {
        ks_admin(ks, req, r);
    } else if (strncmp(req->path, "/hpp/pay/", 9) == 0) {
        pthread_mutex_lock(&ks->mu);
        ks_pages_locked(ks, req, r);
        pthread_mutex_unlock(&ks->mu);
    } else {
        ks_api(ks, req, r);
    }
}

static void ks_sent(void *ctx, k_status st, httpc_resp *resp)
{
    char *url = ctx;
    if (st != K_OK || resp->status < 200 || resp->status >= 300)
        log_warn("klarna_sim: callback to '%s' failed: %s status %ld", url, k_status_str(st),
                 resp->status);
    free(url);
}

static void ks_send(ks_out *o)
{
    httpc_req req = {.method = "POST",
                     .url = o->url,
                     .body = o->body,
                     .body_len = strlen(o->body),
                     .timeout_ms = 5000};
    req.headers[0] = "Content-Type: application/json";
    req.headers[1] = "User-Agent: Klarna-Simulator/1";
    char *url = o->url;
    if (httpc_submit(&req, ks_sent, url) != K_OK) {
        log_warn("klarna_sim: cannot queue callback to '%s'", url);
        free(url);
    }
    free(o->body);
    free(o);
}

/* One round, called with mu held (returns with it held): settles the orders
 * whose time came and sends the callbacks that are due. */
static void ks_round(klarna_sim *ks)
{
    int64_t now = clock_mono_ms();
    size_t lim = ks->norders < LIMIT_SIM_OBJECTS_MAX ? ks->norders : LIMIT_SIM_OBJECTS_MAX;
    for (size_t i = 0; i < lim; i++)
        if (ks->orders[i].settle_at_ms && now >= ks->orders[i].settle_at_ms)
            ks_settle(ks, &ks->orders[i], "ACCEPTED");
    ks_out *due = NULL, **pp = &ks->outq;
    while (*pp) {
        ks_out *o = *pp;
        if (o->due_ms <= now) {
            *pp = o->next;
            o->next = due;
            due = o;
        } else {
            pp = &o->next;
        }
    }
    pthread_mutex_unlock(&ks->mu);
    while (due) {
        ks_out *next = due->next;
        ks_send(due);
        due = next;
    }
    pthread_mutex_lock(&ks->mu);
}

/* A local server's tick (sim_server_tick): the ticker's round, in place. */
static void ks_tick(void *ctx)
{
    klarna_sim *ks = ctx;
    pthread_mutex_lock(&ks->mu);
    ks_round(ks);
    pthread_mutex_unlock(&ks->mu);
}

/* Sends due callbacks and settles pending orders; wakes every SIM_TICK_MS. */
static void *ks_ticker(void *arg)
{
    klarna_sim *ks = arg;
    pthread_mutex_lock(&ks->mu);
    while (!ks->stop) {
        ks_round(ks);
        if (ks->stop)
            break;
        sim_tick_wait(&ks->cv, &ks->mu);
    }
    pthread_mutex_unlock(&ks->mu);
    return NULL;
}

static void ks_free(klarna_sim *ks)
{
    sim_index_free(&ks->kp_ix);
    sim_index_free(&ks->hpp_ix);
    sim_index_free(&ks->token_ix);
    sim_index_free(&ks->order_ix);
    sim_index_free(&ks->idem_ix);
    pthread_cond_destroy(&ks->cv);
    pthread_mutex_destroy(&ks->mu);
    free(ks);
}

static void ks_stop(void *ctx)
{
    klarna_sim *ks = ctx;
    pthread_mutex_lock(&ks->mu);
    ks->stop = true;
    pthread_cond_signal(&ks->cv);
    pthread_mutex_unlock(&ks->mu);
    if (ks->ticking)
        pthread_join(ks->ticker, NULL);
    ks_reset(ks);
    while (ks->outq) {
        ks_out *o = ks->outq;
        ks->outq = o->next;
        free(o->url);
        free(o->body);
        free(o);
    }
    ks_free(ks);
}

k_status klarna_sim_register(sim_server *srv)
{
    K_ASSERT(srv != NULL);
    k_status st = httpc_init();
    if (st != K_OK)
        return st;
    klarna_sim *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return K_ENOMEM;
    pthread_mutex_init(&ks->mu, NULL);
    pthread_cond_init(&ks->cv, NULL);
    snprintf(ks->base, sizeof(ks->base), "%s/klarna", sim_server_url(srv));
    sim_index *ixs[] = {&ks->kp_ix, &ks->hpp_ix, &ks->token_ix, &ks->order_ix, &ks->idem_ix};
    st = K_OK;
    for (size_t i = 0; i < K_ARRAY_LEN(ixs) && st == K_OK; i++)
        st = sim_index_init(ixs[i], LIMIT_SIM_OBJECTS_MAX);
    if (st == K_OK && sim_server_is_local(srv))
        st = sim_server_set_tick(srv, ks_tick, ks);
    else if (st == K_OK && pthread_create(&ks->ticker, NULL, ks_ticker, ks) != 0)
        st = K_ERR;
    else if (st == K_OK)
        ks->ticking = true;
    if (st != K_OK) {
        ks_free(ks);
        return st;
    }
    st = sim_server_register(srv, "/klarna", ks_handle, ks_stop, ks);
    if (st != K_OK)
        ks_stop(ks);
    return st;
}
