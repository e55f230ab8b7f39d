/*
 * keys.h - the merchants' API keys: several secret keys per merchant, each
 * created with a name (the key shown once, only its keyed hash kept), rolled
 * with an overlap (a new key at once; the old one keeps working until the
 * chosen expiry) or revoked at once. gw_merchant_auth (gateway.h) accepts any
 * key that is neither revoked nor past its expiry.
 *
 * Mode: test and live are kept apart as Stripe does it. A merchant account is
 * a test account; its live twin (created on demand, gw_merchant_live_twin) is
 * a merchant row of its own whose id is the test id + GW_LIVE_SUFFIX, so every
 * store query stays partitioned by merchant id and nothing can mix. Test keys
 * (sk_test_...) belong to the test account, live keys (sk_live_...) to the
 * twin; a key whose prefix does not match its merchant's mode never
 * authenticates (gw_key_routes). A live key is refused (GW_WHY_PARAM_UNACCEPTED,
 * param "mode") until the twin exists. Live payments never reach a simulator
 * (gw_account: only the twin's own credentials with a configured base URL).
 *
 * The lookup is cached per node (a key's row re-read at most every
 * GW_KEY_RECHECK_MS, and at once on this node after a roll or revoke), and a
 * key's last_used is written at most once per LIMIT_KEY_TOUCH_MS, so a request
 * pays for no write of its own.
 */
#ifndef KASSA_KEYS_H
#define KASSA_KEYS_H

#include "gateway.h"

#define GW_KEY_RECHECK_MS    2000   /* another node's revocation is seen within this */
#define GW_KEY_OVERLAP_MAX_S 604800 /* a roll keeps the old key for at most 7 days */
#define GW_KEYS_LIVE_MAX     50     /* keys usable at once per merchant */
#define GW_KEY_NAME_MAX      100

typedef struct {
    char id[LIMIT_ID_MAX];
    const char *mode, *kind, *name, *last4;
    int64_t created_ms, expires_ms, revoked_ms, last_used_ms;
    const char
        *secret;   /* sk_test_... or sk_live_...: only in create's and roll's answer, never again */
    bool replayed; /* the form's idempotency key was used before: no secret */
} gw_key;

/* "live" for sk_live_/pk_live_ keys, "test" for sk_test_/pk_test_, NULL for anything else. */
const char *gw_key_mode_of(const char *key);
/* May key authenticate as merchant_id: the key's mode is the merchant's? */
bool gw_key_routes(const char *key, const char *merchant_id);
/* Whether a key with these ends works at now_ms. */
bool gw_key_usable(int64_t expires_ms, int64_t revoked_ms, int64_t now_ms);
/* "active", "expiring" (works until expires_ms), "expired" or "revoked". */
const char *gw_key_state(const gw_key *k, int64_t now_ms);

/* idem: the caller's idempotency key (NULL = none): a second call with it
 * answers the first call's key, replayed, without the secret. mode "live"
 * (merchant_id a test account or its twin) makes a key of the live twin,
 * refused until the twin exists; "test" (or NULL) a key of merchant_id, which
 * must then be a test account. */
k_status gw_key_create(gw *g, const char *merchant_id, const char *mode, const char *name,
                       const char *idem, arena *a, gw_key *out, gw_err *err);
/* A new key like id's; id keeps working for overlap_s seconds (0 = it stops now). */
k_status gw_key_roll(gw *g, const char *merchant_id, const char *id, int64_t overlap_s,
                     const char *idem, arena *a, gw_key *out, gw_err *err);
k_status gw_key_revoke(gw *g, const char *merchant_id, const char *id, arena *a, gw_key *out,
                       gw_err *err);
k_status gw_key_list(gw *g, const char *merchant_id, arena *a, gw_key **out, size_t *n);

/* The id of the key sk authenticates as (after gw_merchant_auth), for logs: NULL when none. */
k_status gw_key_auth(gw *g, const char *secret_key, arena *a, const char **merchant_id,
                     const char **key_id);

#endif
