/*
 * demo_int.h - what the demo shop's files share: Stripe-Signature checking,
 * the in-memory webhook log, and the signed cart cookie. demo.c holds the
 * routes; demo_hooks.c the parts that need no HTTP and no gateway (and so are
 * unit-tested on their own).
 */
#ifndef KASSA_DEMO_INT_H
#define KASSA_DEMO_INT_H

#include "../../base/common.h"
#include "../../limits.h"

#define DEMO_SIG_TOLERANCE_S 300 /* Stripe's default webhook tolerance */
#define DEMO_EVENT_TYPE_MAX  64

/* Stripe-Signature "t=...,v1=...[,v1=...]": true when one v1 is the
 * HMAC-SHA256 hex of "t.body" under secret (constant-time compare) and
 * |now - t| <= tolerance_s. */
bool demo_sig_verify(const char *header, const char *body, size_t body_len, const char *secret,
                     int64_t now_s, int64_t tolerance_s);

/* One webhook event as the demo shop keeps it. */
typedef struct {
    char id[LIMIT_ID_MAX];
    char type[DEMO_EVENT_TYPE_MAX];
    int64_t created;
    char object_id[LIMIT_ID_MAX];      /* data.object.id */
    char payment_intent[LIMIT_ID_MAX]; /* the intent it concerns ("" when none) */
} demo_event;

/* Parses an event body and keeps it (last LIMIT_DEMO_EVENTS_MAX, duplicates by
 * id ignored). K_EINVAL when the body is not an event. Thread-safe. */
k_status demo_log_add(const char *body, size_t len);
/* Events concerning the intent or the session (either may be NULL), oldest
 * first, at most cap. Thread-safe. */
size_t demo_log_find(const char *payment_intent, const char *session, demo_event *out, size_t cap);
void demo_log_clear(void);

/* The cart: product index and quantity per line. */
typedef struct {
    int product;
    int qty;
} demo_line;

/* Encodes lines as "0:2-3:1~<mac>" (cookie-safe) into out (cap). */
void demo_cart_encode(const demo_line *lines, size_t n, char *out, size_t cap);
/* Decodes and checks the MAC; 0 lines when absent, forged or malformed.
 * Product indices must be < nproducts and quantities 1..LIMIT_DEMO_QTY_MAX. */
size_t demo_cart_decode(const char *cookie, size_t nproducts, demo_line *lines, size_t cap);

#endif
