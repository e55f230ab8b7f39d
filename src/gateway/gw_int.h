/*
 * gw_int.h - what the gateway's files share and nobody else sees: the gw
 * struct, the attempt record, event emission inside a write, and small helpers.
 */
#ifndef KASSA_GW_INT_H
#define KASSA_GW_INT_H

#include <pthread.h>
#include "gateway.h"
#include "../domain/rules.h"
#include "../providers/provider.h"

#define GW_FORMATTERS_MAX 4
#define K_EEXIST_EXTERNAL (-100) /* a closure's own status: the external id is taken */
/* A closure's own status: the Idempotency-Key was claimed or answered by another request
 * (on this node or another) after gw_idem_begin looked; gw_err_store maps it to
 * GW_WHY_IDEM_IN_USE, so the loser of a same-key race is told to retry with the key. */
#define K_EIDEM_TAKEN (-102)

typedef struct {
    char dialect[16];
    gw_formatter fn;
} gw_fmt_slot;

struct gw {
    store *st;
    gw_config cfg;
    char *public_url, *sim_url;
    rules_table rules;
    gw_fmt_slot fmts[GW_FORMATTERS_MAX];
    /* idempotency keys in flight on this node: "merchant\x1fkey" */
    pthread_mutex_t idem_mu;
    char *inflight[LIMIT_IDEMPOTENCY_INFLIGHT_MAX];
    size_t ninflight;
    /* workers */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;
    bool workers_started;
    pthread_t scheduler, dispatcher;
    uint64_t wake_gen; /* dispatcher: outbox has news */
    uint64_t tick_gen; /* scheduler: the clock jumped */
};

/* An attempt: one confirmation with a provider. Stored as a document of kind
 * "attempt" whose ext_ref is its own id (callbacks find it across merchants). */
typedef struct {
    char id[LIMIT_ID_MAX];
    const char *merchant_id;
    const char *payment_id;
    const char *provider;
    const char *method;
    const char *status; /* starting, action, processing, succeeded, failed, canceled */
    const char *token;  /* secret in the provider's callback URL */
    const char *provider_ref;
    const char *order_ref;
    const char *failure_code;
    int64_t created;
    int64_t expires_at;
    int32_t version;
} gw_attempt;

json_t *gw_attempt_to_json(const gw_attempt *t);
k_status gw_attempt_from_json(json_t *doc, arena *a, gw_attempt *out);
json_t *gw_endpoint_to_json(const gw_endpoint *e);
k_status gw_endpoint_from_json(json_t *doc, arena *a, gw_endpoint *out);

/* Documents: load/save through the store with the codec. */
k_status gw_load_payment(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         gw_payment *out);
k_status gw_save_payment(store_tx *tx, gw_payment *p);
k_status gw_load_attempt(store_tx *tx, const char *attempt_id, arena *a, gw_attempt *out);
k_status gw_save_attempt(store_tx *tx, gw_attempt *t);
k_status gw_load_refund(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                        gw_refund *out);
k_status gw_save_refund(store_tx *tx, gw_refund *r);
/* merchant_id NULL: found by its id alone (the hosted page's capability). */
k_status gw_load_session(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         gw_session *out);
k_status gw_save_session(store_tx *tx, gw_session *s);

/* One operation on a payment as one act: the journal entry folded into the
 * payment's money and the journal row written from the same fields. The row's
 * status follows from the op (refund: "pending", refund failure: "failed",
 * else "succeeded"); `failed` records an operation the provider refused: its
 * row ("failed") only, the money does not move. */
typedef struct {
    pay_op op;
    int64_t amount; /* as in pay_entry: new amount, authorised, captured, refund's */
    bool final;     /* OP_CAPTURE: the rest is released in the same step */
    bool failed;    /* refused at the provider: a row, no money */
    const char *code;
    const char *message;
    const char *provider_ref;
    const char *ref_id; /* the attempt, refund or session it belongs to */
    json_t *body;       /* borrowed: lines captured or edited */
} gw_act;

/* Applies act to p inside the caller's write: folds it through the transition
 * table (domain/payment.h), then appends its journal row; a final capture also
 * writes the release of the rest, and a cancel or expiry row carries the
 * amount it released. K_EREFUSED when the table refuses: p's money and the
 * journal are untouched. Other errors are the store's. */
#define K_EREFUSED (-101) /* a closure's own status: the transition table said no */
k_status gw_act_apply(store_tx *tx, gw_payment *p, const gw_act *act);

/* Writes an event (snapshot of `doc`, a borrowed internal document) and one
 * delivery per subscribed, enabled endpoint - inside the caller's write. */
/* An event made ready before the write: its id, time and body (the document
 * doc of the object it is about, as gw_emit would write it). */
typedef struct {
    char id[LIMIT_ID_MAX];
    const char *type;
    int64_t created;
    const char *body;         /* in the arena */
    const char *callback_url; /* the object's own callback URL, NULL = none */
} gw_event_ready;
k_status gw_event_prepare(const char *type, const char *kind, json_t *doc, arena *a,
                          gw_event_ready *out);
/* Writes a prepared event and its deliveries (the merchant's endpoints then). */
k_status gw_event_insert_in_tx(store_tx *tx, const char *merchant_id, const char *object_id,
                               const gw_event_ready *e);
k_status gw_emit(store_tx *tx, const char *merchant_id, const char *type, const char *kind,
                 const char *object_id, json_t *doc);

/* Does an endpoint's enabled_events include this type (or "*")? */
bool gw_subscribed(json_t *enabled, const char *type);

/* Emits the payment's current document as an event of `type` (inside a write). */
k_status gw_emit_payment(store_tx *tx, const gw_payment *p, const char *type);
/* The provider reference for a payment's latest attempt and order: ids,
 * upper-case currency (arena), country, locale, capture mode; amount = the
 * authorised amount. Callers set the operation's amount and idempotency key. */
void gw_prov_ref_of(const gw_payment *p, arena *a, prov_ref *ref);

/* Claims the key durably for an operation that reaches a provider, inside the
 * write that begins it (no-op without a key): a retry after a crash finds the
 * object (idem->resume_id) instead of beginning the operation again.
 * K_ECONFLICT when the key was taken meanwhile (another node). */
k_status gw_idem_claim_in_tx(store_tx *tx, const char *merchant_id, gw_idem *idem,
                             const char *object_id);
/* Gives back a claim of this request whose operation the provider refused
 * (no-op without a key, or when the row is not this request's claim). */
void gw_idem_release(gw *g, const char *merchant_id, gw_idem *idem);
/* Stores the idempotent answer inside the write (no-op without a key).
 * K_ECONFLICT when the key was taken meanwhile (another node). */
k_status gw_idem_store_in_tx(store_tx *tx, const char *merchant_id, gw_idem *idem,
                             const void *record, arena *a);

/* Errors. */
void gw_err_set(gw_err *e, gw_why why, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
k_status gw_err_store(gw_err *e, k_status st, const char *what, const char *id);

/* The provider account a merchant uses for `provider` (merchant settings,
 * else global configuration, else the local simulator). false when none. */
bool gw_account(gw *g, const char *merchant_id, const char *provider, arena *a, prov_account *out);

/* Applies a provider result to payment + attempt inside a write. */
k_status gw_apply_result(store_tx *tx, gw *g, gw_payment *p, gw_attempt *t, const prov_result *r,
                         arena *a);

json_t *gw_metadata_apply(json_t *base, json_t *changes);
/* Order lines (internal JSON) as the provider interface wants them. */
void gw_prov_lines(json_t *lines, arena *a, prov_line **out, size_t *n);

/* Keep a jansson reference alive until the arena is released. */
json_t *gw_keep(arena *a, json_t *j);
const char *gw_jstr(json_t *o, const char *key, arena *a); /* NULL when absent */
int64_t gw_jint(json_t *o, const char *key);

/* A new intent (intent.c, part of the frame): the checks shared by create,
 * update, confirm and checkout sessions, and creation in two steps, so a
 * checkout session and its intent can be written in one transaction. */
k_status gw_check_amount(int64_t amount, gw_err *err);
/* settings: the merchant's (gw_settings_load), whose hidden methods are refused; NULL = none. */
k_status gw_check_types(gw *g, json_t *settings, json_t *types, const char *currency,
                        int64_t amount, bool manual, gw_err *err);
/* A method rule's refusal as the gateway's reason; country_param names the
 * caller's country parameter. K_EINVAL. */
k_status gw_rule_refusal(gw_err *err, rule_param rp, const rule_refusal *refusal,
                         const char *country_param);
/* Copies the billing details and return URL given (arena-owned). */
void gw_apply_billing(gw_payment *p, const gw_pi_params *in, arena *a);
k_status gw_pi_prepare(gw *g, const char *merchant_id, const gw_pi_params *in, arena *a,
                       gw_payment *out, gw_err *err);
k_status gw_pi_insert_in_tx(store_tx *tx, gw_payment *p, int64_t amount);
/* The rows of a new intent made ready before its write, so that the writer only
 * inserts them: the create applied to p's money state, its stored form, its
 * payment_intent.created event and, with a key, the idempotency answer rendered
 * for p. gw_pi_ready_insert_in_tx writes them (journal row, intent, event and
 * deliveries, answer); gw_pi_insert_in_tx is the two in one. */
typedef struct {
    int64_t amount;
    const char *body;
    gw_event_ready created_event;
    gw_idem *idem;
    const char *answer; /* NULL = no idempotency answer to store */
} gw_pi_ready;
k_status gw_pi_ready_make(gw_payment *p, int64_t amount, gw_idem *idem, arena *a, gw_pi_ready *out);
k_status gw_pi_ready_insert_in_tx(store_tx *tx, gw_payment *p, const gw_pi_ready *r);
/* A checkout session's event (snapshot of the session) inside a write. */
k_status gw_emit_session(store_tx *tx, const gw_session *s, const char *type);
/* The provider, account and reference for a payment's order: the one place
 * that finds a payment's provider target. K_ECONFLICT (GW_WHY_WRONG_STATE)
 * when the payment has no order at a configured provider. */
k_status gw_target(gw *g, const gw_payment *p, arena *a, const provider **prov, prov_account *acct,
                   prov_ref *ref, gw_err *err);
/* The provider of the payment's method and the merchant's account there (what
 * gw_target builds on, for operations that need no order: refunds of a sale,
 * closing an open attempt). false when the method has no configured provider. */
bool gw_provider_of(gw *g, const gw_payment *p, arena *a, const provider **prov,
                    prov_account *acct);
/* Marks the payment's checkout session complete (inside a write). */
k_status gw_session_paid_in_tx(store_tx *tx, const gw_payment *p, arena *a);

/* Before an order action (cancel, extend, edit) is sent to the provider: a
 * durable note that the order is to be read back if its answer is lost, and
 * the request's key claimed for it, in one write. The action's own write
 * clears the note (gateway.c, the frame). */
k_status gw_order_action_begins(gw *g, const char *merchant_id, const char *id, gw_idem *idem,
                                arena *a);
/* Sends again the captures of a payment whose request died before the
 * provider's answer was written (payments.c). */
k_status gw_capture_retry(gw *g, const char *merchant_id, const char *id, arena *a);
/* Asks the provider again about a pending refund it did not confirm (refunds.c). */
k_status gw_refund_retry(gw *g, const char *merchant_id, const char *id, arena *a);

/* The merchant's own settings as the use cases read them (settings.c): the
 * settings object (arena-owned, NULL when the merchant is unknown), whether the
 * merchant hid a method for (currency, country) - country NULL or "": hidden in
 * every country the method serves in that currency - and the lifetimes of new
 * payments (the merchant's period, else the method's rule or the configuration). */
json_t *gw_settings_load(gw *g, const char *merchant_id, arena *a);
/* Inside a write: the store's error when the row cannot be read (the write fails with it). */
k_status gw_settings_load_tx(store_tx *tx, const char *merchant_id, arena *a, json_t **out);
bool gw_method_hidden(gw *g, json_t *settings, const char *method, const char *currency,
                      const char *country);
int64_t gw_auth_ttl(json_t *settings, const rule_method *rm);
bool gw_auth_ttl_set(json_t *settings); /* the merchant chose an authorisation period */
int64_t gw_attempt_ttl(gw *g, json_t *settings, const rule_method *rm);
int64_t gw_session_ttl(gw *g, json_t *settings);

/* Lists documents of a kind, decoded (arena-owned). */
k_status gw_list_docs(gw *g, const char *merchant_id, const char *kind, const store_list_q *q,
                      arena *a, json_t ***docs, size_t *n, bool *has_more, gw_err *err);
/* Reads an attempt and its payment, syncs it with the provider when still
 * open, and reads both again. */
/* The per-merchant limit on calls a provider caps (budget.c): takes one call of
 * merchant_id's minute at provider, or fills err (400 rate_limit, when to retry)
 * and returns K_EBUSY. _for: the provider of payment_id's method (no payment or
 * no method: K_OK, the use case reports it). Nothing else is changed. */
k_status gw_budget_take(gw *g, const char *merchant_id, const char *pname, gw_err *err);
k_status gw_budget_take_for(gw *g, const char *merchant_id, const char *payment_id, arena *a,
                            gw_err *err);
k_status gw_sync_attempt_id(gw *g, const char *attempt_id, arena *a, gw_payment *p, gw_attempt *t);
/* The scheduler, before it expires an open attempt: reads the payment's open
 * attempt back from its provider and applies the answer. K_OK when the
 * provider answered (or there is no open attempt, or nobody to ask); an error
 * when it did not: the customer may have paid, so nothing may expire yet. */
k_status gw_attempt_read_back(gw *g, const char *merchant_id, const char *id, arena *a);

/* When a delivery that failed its `attempts`-th try goes again (unix ms, with
 * jitter): never past the horizon of LIMIT_WEBHOOK_HORIZON_S after the event,
 * the last try on it; 0 = give up (dispatch.c). */
int64_t gw_delivery_next_ms(int64_t created_ms, int32_t attempts, int64_t now_ms);

/* The dispatcher and scheduler threads (dispatch.c, scheduler.c). */
void *gw_dispatcher_main(void *arg);
void *gw_scheduler_main(void *arg);

#endif
