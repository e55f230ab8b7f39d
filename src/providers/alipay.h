/*
 * alipay.h - Kassa's Antom / Alipay+ connector: pay (CASHIER_PAYMENT with
 * CONNECT_WALLET or a single wallet), inquiryPayment, cancel, refund,
 * inquiryRefund and the notifyPayment / notifyRefund callbacks, every request
 * signed and every answer verified with RSA-SHA256 (providers.md §5.2).
 *
 * Keys: the account's private_key (ours) and public_key (Antom's) are PEM text
 * or the path of a PEM file. An account without keys whose base_url is a
 * registered sandbox (the local simulator registers itself at start, with a
 * key pair it generated for the process) uses the sandbox's keys; nothing is
 * ever written to disk.
 *
 * Return values as in klarna.h: K_OK whenever `out` says what happened
 * (F -> PR_FAILED with provider_code, U -> PR_UNKNOWN: ask again, never
 * assume), K_EINVAL for a ref lacking what the call needs or missing keys,
 * K_ENOMEM when the arena is exhausted.
 */
#ifndef KASSA_ALIPAY_H
#define KASSA_ALIPAY_H

#include "provider.h"

extern const provider alipay_provider;

/* The fixed acknowledgement Antom expects for notifications (§5.5). */
#define ALIPAY_ACK                                                                                 \
    "{\"result\":{\"resultCode\":\"SUCCESS\",\"resultStatus\":\"S\",\"resultMessage\":"            \
    "\"success\"}}"

/* Registers (or replaces) the sandbox at base_url ("http://127.0.0.1:p/alipay"):
 * merchant_priv signs our requests, antom_pub verifies its answers. Copied. */
void alipay_sandbox_set(const char *base_url, const char *merchant_priv_pem,
                        const char *antom_pub_pem);
/* Forgets the sandbox at base_url (the simulator stops). */
void alipay_sandbox_clear(const char *base_url);
/* alipay_provider.sandbox: GET <base_url>/_sim/sandbox (the simulator's
 * test merchant key and its own public key, docs/simulators.md), then
 * alipay_sandbox_set. K_EIO when unreachable, K_EINVAL on a bad answer. */
k_status alipay_sandbox_fetch(const char *base_url);

/* "POST <uri>\n<client_id>.<time>.<body>" signed with priv_pem (PEM text),
 * written as the Signature header value "algorithm=RSA256,keyVersion=1,
 * signature=<url-encoded base64>" (arena-owned). NULL on a bad key. */
const char *alipay_sign(const char *priv_pem, const char *method, const char *uri,
                        const char *client_id, const char *time, const char *body, size_t len,
                        arena *a);
/* Verifies a Signature header value against the same string; false when any
 * part is missing or the signature does not match. */
bool alipay_verify(const char *pub_pem, const char *method, const char *uri, const char *client_id,
                   const char *time, const char *body, size_t len, const char *sig_header);

/* One Alipay+ wallet (Mobile Payment Provider); the gateway sees them as
 * alipay_provider.wallets. */
typedef prov_wallet alipay_wallet;

/* The wallets Alipay+ offers for an order currency: a wallet's home currency
 * offers only the wallets of that currency (HKD: AlipayHK); any other
 * currency (EUR, GBP, CHF, USD ...) offers every wallet, which converts.
 * Writes up to cap pointers into out; returns how many. */
size_t alipay_wallets(const char *currency, const alipay_wallet **out, size_t cap);
const alipay_wallet *alipay_wallet_find(const char *code);

/* Per-call timeout (0 = LIMIT_PROVIDER_TIMEOUT_MS); tests set short ones. */
void alipay_set_timeout_ms(long timeout_ms);

#endif
