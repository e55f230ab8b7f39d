/*
 * demo_hooks.c - the demo shop's receiving side, written as a merchant would:
 * Stripe-Signature verification (HMAC-SHA256 of "t.body", 300 s tolerance),
 * a bounded in-memory log of the events received (mutex, newest 200 kept),
 * and the cart cookie signed with a per-process random key (no server-side
 * session table; a restart simply empties carts).
 */
#include "demo_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/crypto.h"

/* ---- Stripe-Signature ---- */

bool demo_sig_verify(const char *header, const char *body, size_t body_len, const char *secret,
                     int64_t now_s, int64_t tolerance_s)
{
    if (header == NULL || secret == NULL || body == NULL) {
        return false;
    }
    int64_t t = -1;
    char v1s[8][SHA256_HEX_LEN];
    size_t nv1 = 0;
    const char *p = header;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (len > 2 && p[0] == 't' && p[1] == '=') {
            char num[24];
            if (len - 2 < sizeof num) {
                memcpy(num, p + 2, len - 2);
                num[len - 2] = '\0';
                char *e = NULL;
                long long v = strtoll(num, &e, 10);
                t = (e != NULL && *e == '\0' && v > 0) ? (int64_t)v : -1;
            }
        } else if (len == 3 + 64 && strncmp(p, "v1=", 3) == 0 && nv1 < K_ARRAY_LEN(v1s)) {
            memcpy(v1s[nv1], p + 3, 64);
            v1s[nv1][64] = '\0';
            nv1++;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    if (t < 0 || nv1 == 0) {
        return false;
    }
    char prefix[32];
    int np = snprintf(prefix, sizeof prefix, "%lld.", (long long)t);
    K_ASSERT(np > 0 && (size_t)np < sizeof prefix);
    size_t n = (size_t)np + body_len;
    char *msg = malloc(n + 1);
    if (msg == NULL) {
        return false;
    }
    memcpy(msg, prefix, (size_t)np);
    memcpy(msg + np, body, body_len);
    char want[SHA256_HEX_LEN];
    crypto_hmac_sha256_hex(secret, strlen(secret), msg, n, want);
    free(msg);
    bool ok = false;
    for (size_t i = 0; i < nv1; i++) {
        ok = crypto_eq(want, v1s[i], 64) || ok;
    }
    int64_t age = now_s - t;
    return ok && age <= tolerance_s && age >= -tolerance_s;
}

/* ---- the event log ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static demo_event log_ring[LIMIT_DEMO_EVENTS_MAX];
static size_t log_next; /* next slot to write */
static size_t log_count;

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Which intent an event object concerns: a payment_intent's own id, else its
 * `payment_intent` field (checkout sessions, refunds, charges). */
static const char *event_intent(json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "object"));
    if (kind != NULL && strcmp(kind, "payment_intent") == 0) {
        return json_string_value(json_object_get(obj, "id"));
    }
    return json_string_value(json_object_get(obj, "payment_intent"));
}

k_status demo_log_add(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *ev = json_loadb(body, len, 0, &jerr);
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    if (id == NULL || type == NULL || !json_is_object(obj)) {
        json_decref(ev);
        return K_EINVAL;
    }
    demo_event e;
    memset(&e, 0, sizeof e);
    copy_str(e.id, sizeof e.id, id);
    copy_str(e.type, sizeof e.type, type);
    e.created = json_integer_value(json_object_get(ev, "created"));
    copy_str(e.object_id, sizeof e.object_id, json_string_value(json_object_get(obj, "id")));
    copy_str(e.payment_intent, sizeof e.payment_intent, event_intent(obj));
    json_decref(ev);

    pthread_mutex_lock(&log_mu);
    bool dup = false;
    for (size_t i = 0; i < log_count && !dup; i++) {
        dup = strcmp(log_ring[i].id, e.id) == 0;
    }
    if (!dup) {
        log_ring[log_next] = e;
        log_next = (log_next + 1) % LIMIT_DEMO_EVENTS_MAX;
        if (log_count < LIMIT_DEMO_EVENTS_MAX) {
            log_count++;
        }
    }
    K_ASSERT(log_count <= LIMIT_DEMO_EVENTS_MAX);
    pthread_mutex_unlock(&log_mu);
    return K_OK;
}

size_t demo_log_find(const char *payment_intent, const char *session, demo_event *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&log_mu);
    size_t start = (log_next + LIMIT_DEMO_EVENTS_MAX - log_count) % LIMIT_DEMO_EVENTS_MAX;
    for (size_t k = 0; k < log_count && n < cap; k++) {
        const demo_event *e = &log_ring[(start + k) % LIMIT_DEMO_EVENTS_MAX];
        bool hit = (payment_intent != NULL && payment_intent[0] != '\0' &&
                    strcmp(e->payment_intent, payment_intent) == 0) ||
                   (session != NULL && session[0] != '\0' && strcmp(e->object_id, session) == 0);
        if (hit) {
            out[n++] = *e;
        }
    }
    pthread_mutex_unlock(&log_mu);
    return n;
}

void demo_log_clear(void)
{
    pthread_mutex_lock(&log_mu);
    log_next = 0;
    log_count = 0;
    pthread_mutex_unlock(&log_mu);
}

/* ---- the cart cookie ---- */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint8_t cart_key[32];

static void key_init(void)
{
    if (crypto_random(cart_key, sizeof cart_key) != K_OK) {
        k_assert_fail("crypto_random for the demo cart key", __FILE__, __LINE__);
    }
}

#define CART_MAC_HEX 32 /* 128 bits of HMAC-SHA256, hex */

static void cart_mac(const char *items, size_t n, char out[CART_MAC_HEX + 1])
{
    pthread_once(&key_once, key_init);
    char hex[SHA256_HEX_LEN];
    crypto_hmac_sha256_hex(cart_key, sizeof cart_key, items, n, hex);
    memcpy(out, hex, CART_MAC_HEX);
    out[CART_MAC_HEX] = '\0';
}

void demo_cart_encode(const demo_line *lines, size_t n, char *out, size_t cap)
{
    K_ASSERT(out != NULL && cap > CART_MAC_HEX + 2);
    K_ASSERT(n <= LIMIT_DEMO_CART_LINES_MAX);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%d:%d", i > 0 ? "-" : "", lines[i].product,
                         lines[i].qty);
        K_ASSERT(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
    char mac[CART_MAC_HEX + 1];
    cart_mac(out, len, mac);
    int w = snprintf(out + len, cap - len, "~%s", mac);
    K_ASSERT(w > 0 && (size_t)w < cap - len);
}

/* Reads a decimal in [lo, hi] from *p, advancing it. */
static bool read_int(const char **p, int lo, int hi, int *out)
{
    int v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9' && digits < 4) {
        v = v * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    *out = v;
    return digits > 0 && v >= lo && v <= hi;
}

size_t demo_cart_decode(const char *cookie, size_t nproducts, demo_line *lines, size_t cap)
{
    if (cookie == NULL) {
        return 0;
    }
    const char *tilde = strchr(cookie, '~');
    if (tilde == NULL || strlen(tilde + 1) != CART_MAC_HEX) {
        return 0;
    }
    char mac[CART_MAC_HEX + 1];
    cart_mac(cookie, (size_t)(tilde - cookie), mac);
    if (!crypto_eq(mac, tilde + 1, CART_MAC_HEX)) {
        return 0;
    }
    size_t n = 0;
    const char *p = cookie;
    while (p < tilde) {
        int prod, qty;
        if (n >= cap || !read_int(&p, 0, (int)nproducts - 1, &prod) || *p++ != ':' ||
            !read_int(&p, 1, LIMIT_DEMO_QTY_MAX, &qty)) {
            return 0;
        }
        lines[n++] = (demo_line){prod, qty};
        if (*p == '-') {
            p++;
        } else if (p != tilde) {
            return 0;
        }
    }
    return n;
}
