/*
 * store_staff.h - the back office's tables behind the one storage interface:
 * staff users, their server-side sessions, the hash-chained audit log, saved
 * views, and the searches the payments list needs (filters over payment
 * documents with keyset pagination, totals per currency, the journal after a
 * sequence number for live updates).
 *
 * Same rules as store.h: every row carries merchant_id and every query names
 * it (except the user lookup by e-mail at sign-in, and `kassa audit verify`
 * over all merchants); strings returned point into the arena passed in; write
 * functions need a store_write transaction. The SQL lives in store_staff.c,
 * once, above both backends (store_sql.h).
 */
#ifndef KASSA_STORE_STAFF_H
#define KASSA_STORE_STAFF_H

#include "store.h"

/* ---- staff users ---- */
typedef struct {
    const char *merchant_id;
    const char *id;          /* stf_... */
    const char *email;       /* unique over all merchants (sign-in asks for nothing else) */
    const char *role;        /* admin, operations, finance, developer, read_only */
    const char *pw_hash;     /* libsodium argon2id string */
    const char *totp_secret; /* base32 (RFC 4648, no padding) */
    const char *recovery;    /* JSON array of sha256 hex of the unused recovery codes */
    bool recovery_shown;     /* the codes were shown once, after the first sign-in */
    int32_t failed;          /* sign-in failures in a row */
    int64_t locked_until_ms; /* sign-in refused until then; 0 = not locked */
    int64_t totp_last_step;  /* last accepted TOTP time step (no code used twice) */
    int64_t created_ms;
    bool disabled;        /* signs in no more; its sessions were ended */
    int64_t refund_limit; /* minor units above which refunds re-authenticate; -1 = the role's */
} store_staff;

/* K_ECONFLICT when the e-mail is taken. */
k_status store_staff_insert(store_tx *tx, const store_staff *u);
k_status store_staff_by_email(store_tx *tx, const char *email, arena *a, store_staff *out);
k_status store_staff_get(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         store_staff *out);
/* Writes the sign-in state: failed, locked_until_ms, totp_last_step, recovery, recovery_shown. */
k_status store_staff_update_auth(store_tx *tx, const store_staff *u);
/* The merchant's staff users, by e-mail, at most max. */
k_status store_staff_list(store_tx *tx, const char *merchant_id, size_t max, arena *a,
                          store_staff **out, size_t *n);
/* Writes what an admin changes: role, refund_limit, disabled. */
k_status store_staff_update_admin(store_tx *tx, const store_staff *u);
/* A new TOTP secret (stored sealed); the recovery codes are minted again at the
 * next sign-in (reset two-factor authentication). */
k_status store_staff_set_totp(store_tx *tx, const char *merchant_id, const char *id,
                              const char *totp_secret);
/* Admins of the merchant who are not disabled. */
k_status store_staff_count_admins(store_tx *tx, const char *merchant_id, int64_t *out);
/* Seals the TOTP secrets of rows written before they were sealed (the rest of
 * migration 4, which SQL alone cannot do); store_open runs it, a no-op after
 * the first time. */
k_status store_staff_seal_old(store *s);

/* The id of the only merchant: K_ENOTFOUND when there is none, K_ECONFLICT
 * when there are several (the caller must then name one). */
k_status store_merchant_only(store_tx *tx, arena *a, const char **id);

/* ---- sessions (the cookie holds a random token; only its sha256 is stored) ---- */
typedef struct {
    const char *token_hash; /* sha256 hex of the cookie's token */
    const char *merchant_id;
    const char *user_id;
    const char *stage; /* "password" (code still to give) or "full" */
    int64_t created_ms, last_ms;
    const char *addr;
} store_staff_session;

k_status store_session_insert(store_tx *tx, const store_staff_session *s);
k_status store_session_get(store_tx *tx, const char *token_hash, arena *a,
                           store_staff_session *out);
k_status store_session_touch(store_tx *tx, const char *token_hash, const char *stage,
                             int64_t last_ms);
k_status store_session_delete(store_tx *tx, const char *token_hash);
/* Ends every session of a user (disabled, role changed, 2FA reset). */
k_status store_session_delete_user(store_tx *tx, const char *merchant_id, const char *user_id);

/* ---- the audit log (append-only, hash-chained per merchant) ---- */
typedef struct {
    int64_t seq; /* set by the store */
    const char *merchant_id;
    int64_t at_ms;
    const char *staff_id, *staff_email, *addr; /* NULL when nobody signed in (a failed sign-in) */
    const char *action;                        /* "signin", "payment.capture", ... */
    const char *object_id;                     /* pi_..., stf_..., NULL */
    const char *before_json, *after_json;      /* JSON text or NULL */
    const char *reason;                        /* what the person typed, NULL */
    const char *outcome;                       /* "ok" or "refused: ..." */
    const char *prev_hash;                     /* hash of the merchant's previous row (64 x '0') */
    const char *hash;
} store_audit;

#define STORE_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* The hash of the merchant's newest row, or STORE_AUDIT_GENESIS (out: 65 bytes). */
k_status store_audit_last_hash(store_tx *tx, const char *merchant_id, char out[65]);
/* K_ECONFLICT when another row already follows prev_hash (two nodes raced). */
k_status store_audit_append(store_tx *tx, const store_audit *row);

typedef struct {
    const char *object_id;   /* NULL = any */
    const char *action;      /* prefix, NULL = any */
    const char *staff_email; /* NULL = any */
    int64_t before_seq;      /* keyset: older than this, 0 = newest */
    int limit;               /* 1..LIMIT_LIST_PAGE_MAX */
} store_audit_q;

/* Newest first. */
k_status store_audit_list(store_tx *tx, const char *merchant_id, const store_audit_q *q, arena *a,
                          store_audit **out, size_t *n, bool *has_more);
/* Oldest first after seq, at most max; merchant_id NULL = every merchant (verify). */
k_status store_audit_scan(store_tx *tx, const char *merchant_id, int64_t after_seq, size_t max,
                          arena *a, store_audit **out, size_t *n);

/* ---- saved views ---- */
typedef struct {
    const char *merchant_id, *id, *user_id, *name;
    const char *query; /* the list's query string */
    int64_t created_ms;
} store_view;

k_status store_view_put(store_tx *tx, const store_view *v); /* replaces one of the same name */
k_status store_view_list(store_tx *tx, const char *merchant_id, const char *user_id, arena *a,
                         store_view **out, size_t *n);
k_status store_view_delete(store_tx *tx, const char *merchant_id, const char *user_id,
                           const char *id);

/* ---- the payments list ---- */
typedef struct {
    const char *status, *currency, *method, *country, *email, *order_ref, *channel;
    const char *any_id; /* Kassa's id, ECommPay payment_id, Klarna order id, provider's id */
    const char *meta;   /* "key=value": a metadata entry (the search terms' index) */
    const char *wallet; /* Alipay+ wallet: ALIPAY_CN, GCASH, ... (any case) */
    int64_t created_gte, created_lt; /* unix s, 0 = unbounded */
    int64_t amount_gte, amount_lte;  /* minor units, -1 = unbounded */
    int64_t before_seq;              /* keyset: older than this, 0 = newest */
    int64_t after_seq;               /* only newer than this (the "N new" rows), 0 = off */
    int limit;                       /* 1..LIMIT_LIST_PAGE_MAX */
} store_pay_q;

typedef struct {
    const char *currency;
    int64_t count;
    int64_t amount; /* sum of amounts, minor units */
} store_pay_total;

/* The payment's search terms ("email:<lower-case address>", "meta:<key>=<value>",
 * "wallet:<WALLET>", "order:<Klarna order id>"), replacing those it had; written
 * in the transaction that writes the payment, so the list's indexed filters
 * (e-mail, metadata, wallet, order) read one index instead of every document.
 * fresh: the payment is new (nothing to replace). */
k_status store_pay_terms_put(store_tx *tx, const char *merchant_id, const char *payment_id,
                             const char *const *terms, size_t n, bool fresh);

/* Payment documents matching q, newest first. */
k_status store_pay_search(store_tx *tx, const char *merchant_id, const store_pay_q *q, arena *a,
                          store_obj **out, size_t *n, bool *has_more);
/* Totals per currency of everything q matches (paging fields ignored), at most max. */
k_status store_pay_totals(store_tx *tx, const char *merchant_id, const store_pay_q *q, size_t max,
                          arena *a, store_pay_total **out, size_t *n);
/* Authorised payments whose authorisation expires before until_s, soonest first. */
k_status store_pay_expiring(store_tx *tx, const char *merchant_id, int64_t until_s, size_t max,
                            arena *a, store_obj **out, size_t *n);
/* Journal rows of the merchant after seq (payment_id NULL = any), oldest first,
 * at most max; the live list's event ids are their seq. */
k_status store_op_after(store_tx *tx, const char *merchant_id, const char *payment_id,
                        int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n);
/* The newest journal seq of the merchant (0 when none). */
k_status store_op_last_seq(store_tx *tx, const char *merchant_id, int64_t *out);

#endif
