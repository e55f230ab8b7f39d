/*
 * provider.h - what a payment provider connector offers the gateway.
 *
 * Designed for both shapes Kassa serves:
 *  - Klarna: redirect to a hosted page, bank steps or e-mail + code, an
 *    unsigned status callback that only says "go and read", an order created
 *    from an authorisation token, then captures/refunds/cancel/extend/edit.
 *  - Alipay+ (Antom): a QR code (desktop) or a wallet deep link (phone), RSA
 *    signed requests and notifications with an acknowledgement body, S/F/U
 *    results where U means "ask again later", cancel and refunds.
 *
 * Connectors speak the provider's real HTTP API through httpc (libcurl) at the
 * base URL of the merchant's provider account; by default that is the local
 * simulator. Every write carries an idempotency key derived from our own ids,
 * so a retried or resumed call can never charge twice. Connectors are pure
 * translation: no storage, no business rules (those are in gateway/ and
 * domain/). They never call api/ or gateway/.
 */
#ifndef KASSA_PROVIDER_H
#define KASSA_PROVIDER_H

#include "../base/common.h"
#include "../base/arena.h"
#include "../limits.h"

/* A merchant's account at one provider (from configuration / merchant settings). */
typedef struct {
    const char *provider;    /* "klarna", "alipay" */
    const char *base_url;    /* "http://127.0.0.1:8081" (simulator) or "https://api.klarna.com" */
    const char *username;    /* Klarna: API username (MID) ; Antom: Client-Id */
    const char *password;    /* Klarna: API password */
    const char *private_key; /* Antom: our RSA private key (PEM) */
    const char *public_key;  /* Antom: Antom's RSA public key (PEM) */
    const char *merchant_name;
    const char *merchant_logo_url; /* https:// from the merchant's branding, or NULL */
} prov_account;

/* An order line as Klarna wants it (Alipay+ maps them to goods). */
typedef struct {
    const char *type; /* "physical", "shipping_fee", "discount", ... */
    const char *reference;
    const char *name;
    int64_t quantity;
    int64_t unit_price;
    int64_t tax_rate; /* 2500 = 25% */
    int64_t total_amount;
    int64_t total_tax_amount;
    int64_t total_discount_amount;
} prov_line;

/* What the gateway asks for when an attempt starts. */
typedef struct {
    const char *payment_id; /* pi_... */
    const char *attempt_id; /* att_...: idempotency key root and callback key */
    const char *method;     /* "klarna", "klarna_pay_now", "klarna_pay_later", "alipay" */
    const char *currency;   /* upper-case */
    int64_t amount;         /* minor units, in `currency` */
    const char *country;    /* purchase country, upper-case alpha-2 */
    const char *locale;     /* "de-DE" */
    const char *email;      /* customer's e-mail */
    const char *given_name, *family_name;
    const char *description;
    const prov_line *lines;
    size_t nlines;
    bool manual_capture;
    const char *terminal; /* "WEB" (desktop) or "WAP" (phone) */
    /* Where the provider sends the customer and its callbacks: Kassa's own URLs. */
    const char *success_url;
    const char *cancel_url;
    const char *failure_url;
    const char *notify_url;
    int64_t expires_at; /* unix s: when the attempt must be over */
} prov_start;

typedef enum {
    PR_ACTION,     /* the customer must act: redirect_url and/or qr_text set */
    PR_PROCESSING, /* the customer is done; the provider decides later (poll/notify) */
    PR_AUTHORIZED, /* amount authorised, capture later */
    PR_CAPTURED,   /* amount authorised and captured */
    PR_FAILED,     /* final failure: failure_code says why */
    PR_CANCELED,   /* canceled at the provider */
    PR_UNKNOWN,    /* the provider did not say (U, timeout): ask again, never assume */
} prov_outcome;

/* What a provider call tells the gateway. Strings are arena-owned. */
typedef struct {
    prov_outcome outcome;
    const char *provider_ref; /* session/order/payment id at the provider */
    const char *order_ref;    /* Klarna order id once an order exists */
    const char *op_ref;       /* capture/refund id at the provider */
    const char *redirect_url; /* where to send the customer */
    const char *qr_text;      /* text of the QR code to show (Alipay+) */
    int64_t amount;           /* amount the provider reports (authorised, captured...) */
    int64_t expires_at;       /* authorisation/attempt expiry the provider reports, 0 = none */
    const char *failure_code; /* Stripe code: payment_method_customer_decline,
                                 payment_method_provider_decline,
                                 payment_intent_payment_attempt_expired,
                                 payment_method_not_available */
    const char *failure_message;
    const char *provider_code; /* provider's own code (Klarna error_code, Antom resultCode) */
    const char *method_detail; /* e.g. "pay_now", "pay_later", "GCASH" */
    bool retryable;            /* a 5xx/429/timeout: same call with the same key may be retried */
} prov_result;

/* A reference to an existing attempt/order at the provider. */
typedef struct {
    const char *attempt_id;
    const char *provider_ref;
    const char *order_ref;
    const char *currency; /* upper-case */
    const char *country;  /* purchase country (Klarna needs it again to create the order) */
    const char *locale;
    bool manual_capture;    /* Klarna: auto_capture = !manual_capture when creating the order */
    int64_t amount;         /* the operation's amount (capture, refund, new order amount) */
    const char *idem_key;   /* our operation id: Klarna-Idempotency-Key / refundRequestId */
    const prov_line *lines; /* captured lines / edited order lines */
    size_t nlines;
    const char *description;
    const char *notify_url;
} prov_ref;

/* A provider callback as received by Kassa. */
typedef struct {
    const char *method;
    const char *path; /* path as received (Antom signs it) */
    const char *query;
    const char *body;
    size_t body_len;
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
} prov_inbound;

/* What a callback says. For Klarna it only names what to re-read; for Antom
 * it carries a verified result. */
typedef struct {
    const char *attempt_id; /* when the callback URL names it */
    const char *provider_ref;
    bool refund;          /* a refund notification */
    prov_result result;   /* outcome when the callback carries one; PR_UNKNOWN = go read */
    int ack_status;       /* HTTP status to answer the provider */
    const char *ack_body; /* body to answer (Antom's fixed acknowledgement) */
} prov_notice;

/* A wallet (Alipay+'s Mobile Payment Providers) the customer picks on the
 * hosted page. Static data of the connector. */
typedef struct {
    const char *code;     /* paymentMethodType: "ALIPAY_HK" */
    const char *name;     /* "AlipayHK" */
    const char *currency; /* the wallet's own currency: "HKD" */
    const char *region;   /* "HK" */
} prov_wallet;

typedef struct provider {
    const char *name;
    /* The wallets offered for an order currency (NULL: the provider has no
     * wallet choice). Writes up to cap pointers into out; returns how many. */
    size_t (*wallets)(const char *currency, const prov_wallet **out, size_t cap);
    /* Makes accounts whose base URL starts with base_url (a sandbox: the
     * local simulator, in this process or another) usable without configured
     * credentials, by asking the sandbox over HTTP for its test credentials.
     * NULL: nothing to fetch. K_EIO when the sandbox cannot be reached. */
    k_status (*sandbox)(const char *base_url);
    /* Begins an attempt: a session at the provider and where the customer goes. */
    k_status (*start)(const prov_account *acct, const prov_start *in, arena *a, prov_result *out);
    /* Reads the attempt back and finishes it when the provider is ready (Klarna:
     * creates the order from the authorisation token). Used after the customer
     * returns, on callbacks, by status sync and by the janitor. */
    k_status (*sync)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*capture)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*refund)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    /* Voids an authorisation / closes an unpaid attempt. */
    k_status (*cancel)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*release)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*extend)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*update)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    k_status (*resend)(const prov_account *acct, const prov_ref *ref, arena *a, prov_result *out);
    /* Verifies and reads a callback (NULL fields: not supported by this provider). */
    k_status (*notice)(const prov_account *acct, const prov_inbound *in, arena *a,
                       prov_notice *out);
} provider;

/* The registry: NULL when no such provider is compiled in. */
const provider *provider_find(const char *name);
/* Attaches every connector to the simulators at sim_url ("http://host:port",
 * each provider under "/<name>"): the first error, after trying them all. */
k_status provider_sandbox_attach(const char *sim_url);

#endif
