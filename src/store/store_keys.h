/*
 * store_keys.h - the merchants' API keys (table api_keys, migration 6): several
 * per merchant, each with its mode (test), kind (secret), a name, the keyed
 * hash of the key (crypto_key_hash_hex; the key itself is never stored), its
 * last four characters, when it was created and last used, when it stops
 * working (expires_ms: a roll's overlap; 0 = never) and when it was revoked
 * (0 = not). Same rules as store.h; the SQL is written once above both
 * backends (store_sql.h).
 */
#ifndef KASSA_STORE_KEYS_H
#define KASSA_STORE_KEYS_H

#include "store.h"

typedef struct {
    const char *merchant_id;
    const char *id;       /* key_... */
    const char *mode;     /* "test" */
    const char *kind;     /* "secret" */
    const char *name;     /* what the staff called it */
    const char *key_hash; /* keyed hash hex of sk_test_... */
    const char *last4;    /* "" for a key stored before this table (only its hash was kept) */
    const char *idem;     /* the form's idempotency key that created it, NULL allowed */
    int64_t created_ms, expires_ms, revoked_ms, last_used_ms;
} store_api_key;

#define STORE_KEYS_MAX 100 /* keys listed per merchant */

/* K_ECONFLICT when the hash or (merchant, idem) is taken. */
k_status store_key_insert(store_tx *tx, const store_api_key *k);
k_status store_key_by_hash(store_tx *tx, const char *key_hash, arena *a, store_api_key *out);
k_status store_key_by_idem(store_tx *tx, const char *merchant_id, const char *idem, arena *a,
                           store_api_key *out);
k_status store_key_get(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                       store_api_key *out);
/* Newest first, at most STORE_KEYS_MAX. */
k_status store_key_list(store_tx *tx, const char *merchant_id, arena *a, store_api_key **out,
                        size_t *n);
/* Sets expires_ms and revoked_ms. K_ENOTFOUND when there is no such key. */
k_status store_key_end(store_tx *tx, const char *merchant_id, const char *id, int64_t expires_ms,
                       int64_t revoked_ms);
/* Replaces the stored hash (an old unsalted SHA-256 upgraded to the keyed hash). */
k_status store_key_rehash(store_tx *tx, const char *id, const char *key_hash);
/* last_used_ms = max(last_used_ms, at_ms). */
k_status store_key_touch(store_tx *tx, const char *id, int64_t at_ms);

#endif
