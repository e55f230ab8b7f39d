/*
 * gateway.h - Kassa's use cases, in one place: create, confirm, capture,
 * refund, cancel, expire ... Both merchant dialects (api/stripe, api/ecommpay)
 * and the hosted pages (api/checkout) are thin translations onto these
 * functions; none of them has business rules of its own.
 *
 * Every mutating use case validates first (bad input changes nothing), then
 * runs ONE store_write closure that re-reads the payment, applies the journal
 * entry through the transition table (domain/payment.h), asserts the money
 * invariants, writes the snapshot, the journal row, the events and their
 * webhook deliveries, and (when the caller passes an idempotency key) the
 * stored answer - all in one transaction, durable before the function returns.
 * Provider calls happen between two such writes, never inside one.
 *
 * Records returned are arena-owned: strings live in the arena, and jansson
 * trees they hold are released with it (arena_defer). Errors come back as gw_err: a
 * reason (gw_why), the parameter at fault and a message; each face maps the reason
 * to its own words.
 */
#ifndef KASSA_GATEWAY_H
#define KASSA_GATEWAY_H

#include <jansson.h>
#include "../base/common.h"
#include "../base/arena.h"
#include "../domain/payment.h"
#include "../providers/provider.h" /* prov_inbound: a provider callback handed down */
#include "../store/store.h"
#include "../limits.h"

typedef struct gw gw;

/* Configuration the gateway runs with (from main's config table). */
typedef struct {
    const char *public_url; /* "http://127.0.0.1:8080": base of the URLs customers open */
    const char *sim_url;    /* simulators' base URL, NULL when off */
    const char *rules_text; /* method rules override (domain/rules), NULL = built-in */
    int64_t attempt_ttl_s;  /* 0 = from the method's rule */
    int64_t session_ttl_s;  /* checkout sessions: default 24 h */
    int64_t auth_warn_days; /* warning webhook this many days before authorisation expiry */
    int64_t klarna_per_min; /* Klarna-backed calls per merchant and minute (budget.c), 0 = off */
    int64_t create_wait_ms; /* a create waiting longer for the writer: 503, not run; 0 = never */
    bool test_clock;
} gw_config;

/* Why a use case refused, in the gateway's own terms. Each face maps it to
 * its words with one table: api/stripe/errors.c (Stripe's error object),
 * api/ecommpay/codes.c (ECommPay's codes), api/checkout (the customer's
 * page). A new reason is added here and to each table (their sizes are
 * pinned to GW_WHY__COUNT). */
typedef enum {
    GW_WHY_NONE = 0,             /* no refusal (yet) */
    GW_WHY_NOT_FOUND,            /* no such object (param: what was looked up) */
    GW_WHY_PARAM_MISSING,        /* a required parameter is absent */
    GW_WHY_PARAM_INVALID,        /* a parameter's value is malformed */
    GW_WHY_PARAM_EMPTY,          /* a list that must hold something is empty */
    GW_WHY_PARAM_UNACCEPTED,     /* a string value this parameter does not accept */
    GW_WHY_PARAM_OUT_OF_RANGE,   /* an integer outside its bounds */
    GW_WHY_URL_INVALID,          /* not an absolute http(s) URL */
    GW_WHY_AMOUNT_TOO_SMALL,     /* below the minimum (or below what is already captured) */
    GW_WHY_AMOUNT_TOO_LARGE,     /* above the maximum or what is left */
    GW_WHY_ALREADY_REFUNDED,     /* nothing left to refund */
    GW_WHY_WRONG_STATE,          /* the payment's state does not allow the operation */
    GW_WHY_IN_PROGRESS,          /* another operation on the payment is under way */
    GW_WHY_SESSION_CLOSED,       /* the checkout session is no longer open */
    GW_WHY_AUTH_EXPIRED,         /* the authorisation has lapsed */
    GW_WHY_EXTENSION_LIMIT,      /* the authorisation cannot be extended further */
    GW_WHY_METHOD_INVALID,       /* a payment method type unknown or not allowed here */
    GW_WHY_METHOD_UNAVAILABLE,   /* the method's rules or configuration refuse this payment */
    GW_WHY_ALREADY_EXISTS,       /* the merchant's own id is taken */
    GW_WHY_TOO_MANY,             /* a per-merchant count limit is reached */
    GW_WHY_DECLINED,             /* the provider declined the payment (decline: its reason) */
    GW_WHY_PROVIDER_REFUSED,     /* the provider refused an order operation */
    GW_WHY_CAPTURE_FAILED,       /* the provider refused the capture */
    GW_WHY_CANCEL_FAILED,        /* the provider refused to release the authorisation */
    GW_WHY_PROVIDER_UNAVAILABLE, /* the provider gave no answer */
    GW_WHY_CALLBACK_REFUSED,     /* a provider callback failed its checks */
    GW_WHY_UNAUTHENTICATED,      /* a person's sign-in failed or lapsed (the back office) */
    GW_WHY_FORBIDDEN,            /* beyond the person's role, or re-authentication needed */
    GW_WHY_IDEM_MISMATCH,        /* idempotency key reused with other parameters */
    GW_WHY_IDEM_IN_USE,          /* idempotency key held by a request in flight */
    GW_WHY_BUSY,                 /* the store is saturated: retry shortly */
    GW_WHY_RATE_LIMITED,         /* past a provider's per-account call limit: retry later */
    GW_WHY_CONFLICT,             /* changed by another request meanwhile: retry */
    GW_WHY_STORAGE,              /* the store failed; nothing was changed */
    GW_WHY_STORAGE_FULL,         /* the store's disk is full; nothing was changed, retry later */
    GW_WHY__COUNT
} gw_why;

typedef struct {
    gw_why why;
    char param[LIMIT_PARAM_KEY_MAX]; /* the parameter at fault, "" = none */
    char message[512];               /* neutral English, for people */
    const char *decline;             /* GW_WHY_DECLINED: the payment's failure code */
} gw_err;

/* A short stable name for a reason ("amount_too_large"): logs and journal rows. */
const char *gw_why_name(gw_why why);

/* ---- records ---- */

/* A payment intent. `m` is the fold of its journal. */
typedef struct {
    char id[LIMIT_ID_MAX];
    char merchant_id[LIMIT_ID_MAX];
    int32_t version;
    pay_money m;
    int64_t capture_pending; /* captures sent to the provider, not yet answered */
    /* Those captures, one object each: {id, amount, key (the provider's
     * idempotency key), final, lines, retry_at}. Written in the transaction
     * that begins the capture, so a capture whose answer was lost (Kassa died)
     * is asked again with the same key and never lost nor done twice. */
    json_t *captures_open;
    /* An order action (cancel, extend, edit) was sent to the provider and its
     * answer may be lost with Kassa: the scheduler reads the order back then
     * and brings Kassa in line (gw_pi_sync). 0 = nothing outstanding. */
    int64_t reconcile_at;
    char currency[4]; /* lower-case */
    bool manual_capture;
    int64_t created;            /* unix s */
    int64_t canceled_at;        /* 0 = not canceled */
    int64_t auth_expires_at;    /* authorisation must be captured by then; 0 = none */
    int64_t auth_created_at;    /* when authorised (extension rule counts from here) */
    int64_t auth_warned;        /* when the expiry warning was sent, 0 = not yet */
    int64_t attempt_expires_at; /* the open attempt expires then; 0 = none */
    const char *client_secret;
    const char *description; /* NULL = none */
    const char *return_url;
    const char *method_type; /* chosen: "klarna", "klarna_pay_now" ...; NULL = none */
    json_t *method_types;    /* array of allowed types */
    json_t *metadata;        /* object */
    json_t *lines;           /* order lines (array), may be empty */
    const char *email, *country, *name, *locale; /* billing details given at confirm */
    const char *cancellation_reason;
    const char *latest_attempt;  /* att_... */
    const char *provider_ref;    /* provider's session/payment id of the latest attempt */
    const char *order_ref;       /* Klarna order id */
    const char *next_action_url; /* redirect URL while requires_action */
    const char *qr_text;         /* QR code text while requires_action (Alipay+) */
    const char *last_error_code, *last_error_message, *last_error_type;
    const char *checkout_session; /* cs_... when made by a Checkout Session */
    const char *channel;          /* "stripe", "ecommpay", "checkout" */
    const char *external_id;      /* ECommPay payment_id (unique per project) */
    const char *callback_url;     /* callbacks for this payment (ECommPay merchant_callback_url) */
    const char *method_detail;    /* "pay_now", "pay_later", wallet name ... */
    int64_t amount_initial;       /* asked amount in currency_initial (conversion), 0 = same */
    const char *currency_initial;
    int64_t rate_e9; /* rate used (currency_initial -> currency), 0 = none */
} gw_payment;

typedef struct {
    char id[LIMIT_ID_MAX]; /* re_... */
    const char *merchant_id;
    const char *payment_id;
    int64_t amount;
    char currency[4];
    const char *status; /* pending, succeeded, failed, canceled */
    const char *reason;
    const char *failure_reason;
    const char *provider_ref;
    const char *callback_url;        /* copied from the payment: where refund callbacks go */
    int64_t retry_at;                /* pending without a provider answer: ask again then, 0 = no */
    const char *external_id;         /* the merchant's refund id (ECommPay merchant_refund_id) */
    const char *payment_external_id; /* the payment's own merchant id (ECommPay payment_id) */
    int64_t payment_amount;          /* the payment's captured amount, for callbacks */
    int64_t payment_refunded;        /* refunded on the payment after this refund settled */
    json_t *metadata;
    json_t *lines; /* refunded order lines as sent to the provider; NULL = by amount */
    int64_t created;
    int32_t version;
} gw_refund;

typedef struct {
    char id[LIMIT_ID_MAX]; /* evt_... */
    const char *type;      /* payment_intent.succeeded ... */
    int64_t created;
    const char *object_kind; /* "payment_intent", "refund", "checkout.session" */
    json_t *object;          /* the internal document snapshot at event time */
    json_t *previous;        /* previous attributes, may be NULL */
    const char *request_id;
    const char *idempotency_key;
} gw_event;

typedef struct {
    char id[LIMIT_ID_MAX]; /* we_... */
    const char *url;
    const char *secret; /* whsec_... */
    /* After a roll of the secret: the previous one, still signing until old_secret_until. */
    const char *old_secret;
    int64_t old_secret_until; /* unix s; 0 = no overlap */
    const char *roll_idem;    /* the idempotency key of the last roll */
    bool replayed;            /* gw_endpoint_roll_secret: the roll was done before */
    const char *status;       /* enabled, disabled */
    const char *description;
    json_t *enabled_events; /* array of types, ["*"] = all */
    json_t *metadata;
    const char *api_version;
    int64_t created;
    int32_t version;
    /* Set for the virtual endpoint of a payment's own callback URL: */
    const char *dialect; /* "stripe" for we_ endpoints, "ecommpay" for callbacks */
    int64_t project_id;  /* the merchant's ECommPay project */
} gw_endpoint;

typedef struct {
    char id[LIMIT_ID_MAX]; /* cs_... */
    const char *merchant_id;
    const char *payment_id;     /* the intent behind it */
    const char *status;         /* open, complete, expired */
    const char *payment_status; /* unpaid, paid, no_payment_required */
    const char *success_url, *cancel_url;
    const char *locale; /* auto, en, de, fr, fi, sv */
    const char *customer_email;
    const char *client_reference_id;
    int64_t amount_total;
    char currency[4];
    json_t *line_items; /* [{name, quantity, unit_amount, amount_total, tax_rate...}] */
    json_t *method_types;
    json_t *metadata;
    int64_t created, expires_at;
    const char *url; /* the hosted page */
    int32_t version;
} gw_session;

/* ---- lifecycle ---- */
k_status gw_open(gw **out, store *st, const gw_config *cfg);
void gw_close(gw *g);
/* Starts the scheduler (expiries, janitor) and the webhook dispatcher threads. */
k_status gw_start_workers(gw *g);
/* Wakes the webhook dispatcher (the outbox has news). */
void gw_wake(gw *g);
/* The clock was moved forward (test clock): run due timers now. */
void gw_clock_jumped(gw *g);
const gw_config *gw_cfg(const gw *g);
/* Sets the public base URL once the listener's port is known (before serving). */
void gw_set_public_url(gw *g, const char *url);
store *gw_store(gw *g);

/* ---- idempotency (every mutating call) ----
 * The dialect computes a fingerprint of the request and passes the key; the
 * gateway stores the dialect's rendered answer in the same transaction as the
 * change. render() is called inside the write with the resulting object. */
typedef struct gw_idem gw_idem;
struct gw_idem {
    const char *key;         /* NULL = no idempotency */
    const char *fingerprint; /* sha256 hex */
    /* Renders the success answer (status 200) for the stored record. */
    char *(*render)(gw_idem *self, const void *record, arena *a);
    void *ctx;
    /* Out: set when the key was already used. */
    bool replayed;
    int replay_status;
    const char *replay_body;
    /* Out: the request that first used the key began an operation that reaches
     * a provider (a refund), claimed the key in the same transaction and died
     * before answering; this is the id of what it began. The use case carries
     * that object on (same provider key) instead of beginning a second one. */
    const char *resume_id;
    /* Optional: runs inside the transaction that stores the success answer, the
     * one that records the action's change, after the answer is put. The back
     * office appends its audit row here (staff_audit_attach), so the change and
     * the row that records it commit together or not at all; an error aborts
     * the action's transaction. */
    k_status (*in_tx)(gw_idem *self, store_tx *tx, const void *record, arena *a);
    void *in_tx_ctx;
};
/* Looks up a key before doing any work: K_OK + replay fields when a finished
 * answer exists with the same fingerprint; K_ECONFLICT (GW_WHY_IDEM_MISMATCH)
 * on another fingerprint; K_EBUSY (GW_WHY_IDEM_IN_USE) while a request with
 * the key is in flight on this node, or its durable claim is within
 * LIMIT_IDEMPOTENCY_LEASE_S (another node may still be working on it);
 * K_ENOTFOUND when fresh or when the claim's lease lapsed (resume_id set) -
 * the key is then marked in flight until gw_idem_end. */
k_status gw_idem_begin(gw *g, const char *merchant_id, gw_idem *idem, arena *a, gw_err *err);
void gw_idem_end(gw *g, const char *merchant_id, gw_idem *idem);
/* Stores an error answer for the key (Stripe stores 4xx/5xx answers after work began). */
k_status gw_idem_store_error(gw *g, const char *merchant_id, gw_idem *idem, int status,
                             const char *body);

/* ---- payment intents ---- */
/* A metadata object holding this key replaces instead of merging ("metadata=" clears). */
#define GW_METADATA_CLEAR "\x1f"

typedef struct {
    int64_t amount;       /* required on create */
    const char *currency; /* required on create */
    bool has_amount, has_currency;
    int capture_manual;      /* -1 = unspecified */
    json_t *method_types;    /* borrowed; NULL = default ["klarna"] on create */
    const char *description; /* NULL = unchanged; "" = unset */
    json_t *metadata;        /* borrowed; values "" unset keys; NULL = unchanged */
    json_t *lines;           /* borrowed order lines; NULL = unchanged */
    const char *return_url;
    const char *method_type;                     /* payment_method_data[type] */
    const char *email, *country, *name, *locale; /* billing details */
    const char *channel;                         /* "stripe" (default), "ecommpay", "checkout" */
    const char *external_id;                     /* ECommPay payment_id */
    const char *callback_url;                    /* where this payment's callbacks go (ECommPay) */
    const char *checkout_session;
    const char *terminal; /* "WEB"/"WAP" for wallets; NULL = WEB */
    bool confirm;         /* create and confirm at once */
} gw_pi_params;

k_status gw_pi_create(gw *g, const char *merchant_id, const gw_pi_params *p, gw_idem *idem,
                      arena *a, gw_payment *out, gw_err *err);
/* The create (without confirm) in three steps, for a caller that must not
 * sleep while the writer commits (an I/O thread):
 *   gw_pi_create_prepare validates and makes every row, the stored answer of
 *     the idempotency key included; nothing is written. K_OK: *pending (in a)
 *     is ready to submit; else err says why, as gw_pi_create would.
 *   gw_pi_create_submit queues the write and returns at once. done(arg) is
 *     called exactly once: on the writer's thread after the commit is durable
 *     or the write failed, or on this thread before submit returns when it
 *     could not be queued. done must be quick and must not touch a.
 *   gw_pi_create_end, back on a thread of the caller's, says how it ended:
 *     gw_pi_create's status and err, *out the created intent.
 * in->confirm must be false. */
typedef struct gw_pi_pending gw_pi_pending;
k_status gw_pi_create_prepare(gw *g, const char *merchant_id, const gw_pi_params *in, gw_idem *idem,
                              arena *a, gw_payment *out, gw_pi_pending **pending, gw_err *err);
void gw_pi_create_submit(gw *g, gw_pi_pending *pending, void (*done)(void *arg), void *arg);
k_status gw_pi_create_end(gw *g, gw_pi_pending *pending, gw_err *err);
k_status gw_pi_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                   gw_err *err);
/* By client secret (hosted pages, publishable-key reads). */
k_status gw_pi_by_secret(gw *g, const char *client_secret, arena *a, gw_payment *out, gw_err *err);
k_status gw_pi_update(gw *g, const char *merchant_id, const char *id, const gw_pi_params *p,
                      gw_idem *idem, arena *a, gw_payment *out, gw_err *err);
/* Starts an attempt with the provider of p->method_type (or the intent's
 * method). The answer is requires_action with next_action_url, or a final
 * state, or an error (GW_WHY_METHOD_UNAVAILABLE when no provider is
 * configured for the method; the intent is unchanged then; GW_WHY_DECLINED
 * with K_ERR when the provider declined the attempt). */
k_status gw_pi_confirm(gw *g, const char *merchant_id, const char *id, const gw_pi_params *p,
                       gw_idem *idem, arena *a, gw_payment *out, gw_err *err);
/* amount 0 = everything capturable. final=false keeps the rest capturable. */
k_status gw_pi_capture(gw *g, const char *merchant_id, const char *id, int64_t amount, bool final,
                       json_t *lines, gw_idem *idem, arena *a, gw_payment *out, gw_err *err);
k_status gw_pi_cancel(gw *g, const char *merchant_id, const char *id, const char *reason,
                      gw_idem *idem, arena *a, gw_payment *out, gw_err *err);
k_status gw_pi_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                    gw_payment **out, size_t *n, bool *has_more, gw_err *err);
/* By the merchant's own id for it (ECommPay payment_id). */
k_status gw_pi_by_external(gw *g, const char *merchant_id, const char *external_id, arena *a,
                           gw_payment *out, gw_err *err);
/* Operations of a merchant in [from_ms, to_ms), oldest first, after seq (Data API, reports). */
k_status gw_ops_range(gw *g, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                      int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n,
                      gw_err *err);
/* Journal of a payment, oldest first (back office, reports, tests). */
k_status gw_pi_journal(gw *g, const char *merchant_id, const char *id, arena *a, store_op **out,
                       size_t *n, gw_err *err);
/* Reads the latest attempt back from the provider and applies what it says
 * (the customer came back, a provider callback arrived, a staff "sync"). */
k_status gw_pi_sync(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                    gw_err *err);

/* ---- orders after authorisation (Klarna Pay Later) ---- */
/* Extends the authorisation (Klarna's rule: now + the period, never beyond
 * 180 days after creation, never after expiry). */
k_status gw_pi_extend(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                      gw_payment *out, gw_err *err);
/* Replaces the order lines before full capture; the new total is the sum of
 * total_amount. Decreases are accepted; an increase needs the provider's new
 * decision, and when refused nothing changes. */
k_status gw_pi_edit(gw *g, const char *merchant_id, const char *id, json_t *lines, gw_idem *idem,
                    arena *a, gw_payment *out, gw_err *err);
/* Asks the provider to send the customer the payment instructions again. */
k_status gw_pi_resend(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                      gw_err *err);

/* ---- the customer's way back from the provider ----
 * /pay/return/:attempt?result=... : syncs the attempt, then says where to send
 * the browser: the intent's return_url with payment_intent,
 * payment_intent_client_secret and redirect_status, or the checkout session's
 * success/cancel page. *redirect is arena-owned. */
k_status gw_attempt_return(gw *g, const char *attempt_id, const char *result, arena *a,
                           const char **redirect, gw_err *err);
/* The payment an attempt belongs to (the hosted QR/wallet page shows it);
 * with sync, the provider is asked first when the attempt is still open. */
k_status gw_attempt_payment(gw *g, const char *attempt_id, bool sync, arena *a, gw_payment *out,
                            gw_err *err);
/* A wallet the customer may pay a QR-code payment with (Alipay+). */
typedef struct {
    const char *code; /* the provider's method type: "GCASH" */
    const char *name; /* "GCash" */
} gw_wallet;
/* The wallets offered for a payment in `currency` (any case), at most cap. */
size_t gw_wallets(const char *currency, gw_wallet *out, size_t cap);

/* A provider callback for an attempt (URL carries attempt id and token). */
k_status gw_provider_notice(gw *g, const char *provider, const char *attempt_id, const char *token,
                            const prov_inbound *inbound, arena *a, int *ack_status,
                            const char **ack_body, gw_err *err);

/* ---- refunds ---- */
typedef struct {
    const char *payment_id;
    int64_t amount; /* 0 = all that remains */
    const char *reason;
    const char *external_id; /* ECommPay merchant_refund_id */
    json_t *metadata;
    /* Borrowed; NULL = by amount. A refund of order lines: [{"line": index into the
     * payment's lines, "quantity": n}]; the amount is the lines' (amount must be 0),
     * computed here and sent to the provider with the lines (Klarna's order_lines). A
     * line is refunded at most its quantity over all refunds. */
    json_t *lines;
} gw_refund_params;

/* The amount a refund of `lines` (gw_refund_params.lines) of p comes to, and the
 * provider's refund lines (into *out, arena-owned, when out is not NULL): what
 * gw_refund_create computes. K_EINVAL with err (param "lines") when a line or a
 * quantity is not refundable. */
k_status gw_refund_lines_amount(const gw_payment *p, json_t *lines, arena *a, int64_t *amount,
                                json_t **out, gw_err *err);

k_status gw_refund_create(gw *g, const char *merchant_id, const gw_refund_params *p, gw_idem *idem,
                          arena *a, gw_refund *out, gw_err *err);
k_status gw_refund_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_refund *out,
                       gw_err *err);
k_status gw_refund_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                        gw_refund **out, size_t *n, bool *has_more, gw_err *err);

/* ---- events and webhook endpoints ---- */
k_status gw_event_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_event *out,
                      gw_err *err);
k_status gw_event_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                       gw_event **out, size_t *n, bool *has_more, gw_err *err);
k_status gw_event_resend(gw *g, const char *merchant_id, const char *id, gw_err *err);
/* Replays the deliveries of the events matching q (newest first, at most
 * GW_REPLAY_MAX events): each matching delivery is pending again, due now.
 * idem (NULL = none): the same key again does nothing and answers the first
 * call's counts with *replayed true. */
#define GW_REPLAY_MAX 1000
typedef struct {
    const char *type;                 /* event type or prefix ("payment_intent."), NULL = any */
    int64_t created_gte, created_lte; /* unix s, 0 = unbounded */
    bool failed_only;                 /* only deliveries that have not succeeded */
    const char *endpoint_id;          /* we_..., NULL = every endpoint */
} gw_replay_q;
k_status gw_event_replay(gw *g, const char *merchant_id, const gw_replay_q *q, const char *idem,
                         int64_t *events, int64_t *deliveries, bool *replayed, gw_err *err);
k_status gw_event_deliveries(gw *g, const char *merchant_id, const char *id, arena *a, json_t **out,
                             gw_err *err);

typedef struct {
    const char *url;        /* NULL = unchanged */
    json_t *enabled_events; /* NULL = unchanged */
    const char *description;
    json_t *metadata;
    int disabled; /* -1 unchanged, 0 enable, 1 disable */
    const char *api_version;
} gw_endpoint_params;

k_status gw_endpoint_create(gw *g, const char *merchant_id, const gw_endpoint_params *p,
                            gw_idem *idem, arena *a, gw_endpoint *out, gw_err *err);
k_status gw_endpoint_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_endpoint *out,
                         gw_err *err);
k_status gw_endpoint_update(gw *g, const char *merchant_id, const char *id,
                            const gw_endpoint_params *p, gw_idem *idem, arena *a, gw_endpoint *out,
                            gw_err *err);
k_status gw_endpoint_delete(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                            gw_endpoint *out, gw_err *err);
k_status gw_endpoint_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                          gw_endpoint **out, size_t *n, bool *has_more, gw_err *err);
/* A new signing secret for the endpoint (out->secret, shown once); deliveries
 * are signed with both the new and the old secret for overlap_s seconds (0 to
 * 7 days), then with the new one only. idem (NULL = none): the same key again
 * answers the endpoint with replayed set and no secret. */
k_status gw_endpoint_roll_secret(gw *g, const char *merchant_id, const char *id, int64_t overlap_s,
                                 const char *idem, arena *a, gw_endpoint *out, gw_err *err);

/* How a dialect turns an event into a delivery for one of its endpoints.
 * Registered at start by each dialect ("stripe" for we_ endpoints, "ecommpay"
 * for payments' own callback URLs). A formatter answers K_ENOTFOUND for an
 * event its dialect does not send: the delivery is then marked skipped. */
typedef struct {
    const char *url;
    const char *headers[8]; /* "Name: value", NULL-terminated */
    const char *body;
    size_t body_len;
} gw_delivery_req;
typedef k_status (*gw_formatter)(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                                 gw_delivery_req *out);
void gw_set_formatter(gw *g, const char *dialect, gw_formatter fn);

/* ---- checkout sessions ---- */
typedef struct {
    json_t *line_items; /* borrowed: [{price_data:{currency, unit_amount, product_data:{name}},
                           quantity}] */
    const char *currency;
    const char *success_url, *cancel_url;
    const char *locale;
    const char *customer_email;
    const char *client_reference_id;
    json_t *method_types;
    json_t *metadata;
    int capture_manual; /* payment_intent_data[capture_method] */
    int64_t expires_at; /* 0 = default */
} gw_session_params;

k_status gw_session_create(gw *g, const char *merchant_id, const gw_session_params *p,
                           gw_idem *idem, arena *a, gw_session *out, gw_err *err);
k_status gw_session_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_session *out,
                        gw_err *err);
/* For the hosted page (no merchant key: the cs_ id is the capability). */
k_status gw_session_find(gw *g, const char *id, arena *a, gw_session *out, char *merchant_id,
                         gw_err *err);
k_status gw_session_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                         gw_session **out, size_t *n, bool *has_more, gw_err *err);
k_status gw_session_expire(gw *g, const char *merchant_id, const char *id, gw_idem *idem, arena *a,
                           gw_session *out, gw_err *err);
/* The customer picked a method on the hosted page: confirms the intent behind
 * the session and returns where to send the browser (the provider's page). */
k_status gw_session_pay(gw *g, const char *id, const char *method_type, const char *email,
                        const char *country, const char *locale, const char *terminal, arena *a,
                        const char **redirect, gw_err *err);
/* The customer came back to the hosted page from an unfinished provider page
 * (Back, "choose another method"): the open attempt is read back, closed at the
 * provider and failed, so the session can be paid anew (abandon.c). K_OK when
 * there was nothing open (or it finished meanwhile); K_ECONFLICT with err when
 * the provider would not close it. */
k_status gw_session_reopen(gw *g, const char *session_id, arena *a, gw_err *err);
/* The same for the open attempt of any payment (a bare PaymentIntent, an
 * ECommPay Payment Page): the customer cancelled on Kassa's QR page. K_OK
 * when the attempt is not (or no longer) the payment's open one. */
k_status gw_attempt_abandon(gw *g, const char *attempt_id, arena *a, gw_err *err);
/* Methods the hosted page may offer for this session (rules: currency, country, amount). */
k_status gw_session_methods(gw *g, const gw_session *s, const char *country, arena *a,
                            const char ***names, size_t *n);

/* ---- merchants ---- */
typedef struct {
    const char *id, *name, *secret_key, *publishable_key, *ecp_secret;
    int64_t ecp_project_id;
} gw_merchant_keys;
/* Creates a merchant and mints its keys (the secret key is returned once; only
 * its hash is stored). */
k_status gw_merchant_create(gw *g, const char *name, arena *a, gw_merchant_keys *out);
/* Live mode (keys.h tells the design): a test account's live twin. */
#define GW_LIVE_SUFFIX "_live"

/* Is merchant_id a live twin (its id ends in GW_LIVE_SUFFIX)? */
bool gw_merchant_is_live(const char *merchant_id);
/* The live twin's id of the test account test_id into out; false when test_id
 * is itself live, empty or too long. */
bool gw_live_id_of(const char *test_id, char out[LIMIT_ID_MAX]);
/* Creates (or, when it exists, reads) the live twin of the test account
 * test_id; *created tells which. out->secret_key is its first live key, set
 * only when created (shown once); K_ENOTFOUND when test_id is no test account. */
k_status gw_merchant_live_twin(gw *g, const char *test_id, arena *a, gw_merchant_keys *out,
                               bool *created);
/* The twin's id of test_id when the twin exists (NULL otherwise). */
const char *gw_merchant_live_of(gw *g, const char *test_id, arena *a);

/* Finds a merchant by its ECommPay project id (id, name, ecp secret, project id;
 * the secret key is NULL). */
k_status gw_merchant_by_project(gw *g, int64_t project_id, arena *a, gw_merchant_keys *out);
/* Merchant settings (JSON object text) and replacing them. */
k_status gw_merchant_settings(gw *g, const char *merchant_id, arena *a, json_t **out);
k_status gw_merchant_set_settings(gw *g, const char *merchant_id, json_t *settings);
/* What the customer's pages show of a merchant (brand.c): its name and, when
 * set in settings.branding.logo_url (https only), its logo. Arena-owned. */
typedef struct {
    const char *name;
    const char *logo_url;    /* NULL = none */
    const char *accent;      /* the pay button's colour, "#rrggbb" (settings.c); NULL = Kassa's */
    const char *accent_text; /* its text colour (WCAG AA against accent), set with accent */
} gw_brand;
k_status gw_merchant_brand(gw *g, const char *merchant_id, arena *a, gw_brand *out);
/* Sets (or with "" removes) the logo; K_EINVAL with err unless https://, no spaces or quotes. */
k_status gw_merchant_set_logo(gw *g, const char *merchant_id, const char *logo_url, arena *a,
                              gw_err *err);
/* Resolves a secret key to a merchant id (arena-owned), K_ENOTFOUND when unknown. */
k_status gw_merchant_auth(gw *g, const char *secret_key, arena *a, const char **merchant_id);

/* ---- method rules ---- */
/* The currency and amount a payment asked in `currency` (any case) is made in
 * with `method`: as asked when the method takes the currency, else converted
 * into the method's limit currency (or its first currency) at the rate of the
 * gateway's rule set (the operator's rules file included). out_currency is
 * upper case. An unknown method leaves it as asked (its rules refuse it
 * later). K_ENOTFOUND: conversion needed but no rate or unknown currency. */
k_status gw_method_amount(gw *g, const char *method, const char *currency, int64_t amount,
                          char out_currency[4], int64_t *out_amount);

/* ---- time ---- */
/* Runs due timers now (the scheduler calls it; tests call it after a clock jump). */
void gw_tick(gw *g);
/* One round of the webhook dispatcher (its thread loops on it): records the
 * finished sends, then claims and sends what is due. gw_dispatch_flush only
 * records. The deterministic simulation calls them as steps. */
void gw_dispatch_step(gw *g);
void gw_dispatch_flush(gw *g);

/* Internal document codec, shared by dialects that render records. */
json_t *gw_payment_to_json(const gw_payment *p);
k_status gw_payment_from_json(json_t *doc, arena *a, gw_payment *out);
json_t *gw_refund_to_json(const gw_refund *r);
k_status gw_refund_from_json(json_t *doc, arena *a, gw_refund *out);
json_t *gw_session_to_json(const gw_session *s);
k_status gw_session_from_json(json_t *doc, arena *a, gw_session *out);

#endif
