/*
 * keys.c - API keys (keys.h): create, roll with an overlap, revoke, list, and
 * the secret-key lookup every Stripe-dialect request makes (gw_merchant_auth).
 */
#include "keys.h"
#include "gw_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../store/store_keys.h"

const char *gw_key_mode_of(const char *key)
{
    if (key == NULL)
        return NULL;
    if (strncmp(key, "sk_live_", 8) == 0 || strncmp(key, "pk_live_", 8) == 0)
        return "live";
    if (strncmp(key, "sk_test_", 8) == 0 || strncmp(key, "pk_test_", 8) == 0)
        return "test";
    return NULL;
}

bool gw_key_routes(const char *key, const char *merchant_id)
{
    const char *mode = gw_key_mode_of(key);
    if (mode == NULL || merchant_id == NULL || merchant_id[0] == '\0')
        return false;
    return (strcmp(mode, "live") == 0) == gw_merchant_is_live(merchant_id);
}

bool gw_key_usable(int64_t expires_ms, int64_t revoked_ms, int64_t now_ms)
{
    return revoked_ms == 0 && (expires_ms == 0 || now_ms < expires_ms);
}

const char *gw_key_state(const gw_key *k, int64_t now_ms)
{
    if (k->revoked_ms != 0)
        return "revoked";
    if (k->expires_ms != 0)
        return now_ms < k->expires_ms ? "expiring" : "expired";
    return "active";
}

static void key_from_row(const store_api_key *r, gw_key *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", r->id);
    out->mode = r->mode;
    out->kind = r->kind;
    out->name = r->name;
    out->last4 = r->last4;
    out->created_ms = r->created_ms;
    out->expires_ms = r->expires_ms;
    out->revoked_ms = r->revoked_ms;
    out->last_used_ms = r->last_used_ms;
}

/* ---- the lookup cache ---- */

#define KEY_CACHE_SLOTS 256
typedef struct {
    char hash[SHA256_HEX_LEN];
    char merchant[LIMIT_ID_MAX];
    char key_id[LIMIT_ID_MAX];
    int64_t expires_ms, revoked_ms, last_used_ms;
    int64_t read_mono_ms; /* when the row was read */
} key_slot;
static key_slot g_key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t g_key_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t key_slot_of(const char *hash)
{
    return (size_t)strtoul(hash + 56, NULL, 16) % KEY_CACHE_SLOTS;
}

static void key_cache_forget(const char *hash)
{
    pthread_mutex_lock(&g_key_mu);
    key_slot *s = &g_key_cache[key_slot_of(hash)];
    if (strcmp(s->hash, hash) == 0)
        s->hash[0] = '\0';
    pthread_mutex_unlock(&g_key_mu);
}

typedef struct {
    const char *hash, *legacy;
    arena *a;
    store_api_key k;
    bool upgraded;
} key_read;

static k_status key_by_hash_fn(store_tx *tx, void *arg)
{
    key_read *r = arg;
    return store_key_by_hash(tx, r->hash, r->a, &r->k);
}

/* A key stored before keyed hashes (unsalted SHA-256): found by its old hash,
 * then stored keyed, so each such row is upgraded by its first request. */
static k_status key_upgrade_fn(store_tx *tx, void *arg)
{
    key_read *r = arg;
    k_status st = store_key_by_hash(tx, r->legacy, r->a, &r->k);
    if (st != K_OK)
        return st;
    r->upgraded = true;
    return store_key_rehash(tx, r->k.id, r->hash);
}

static k_status key_touch_fn(store_tx *tx, void *arg)
{
    const key_slot *s = arg;
    return store_key_touch(tx, s->key_id, s->last_used_ms);
}

k_status gw_key_auth(gw *g, const char *secret_key, arena *a, const char **merchant_id,
                     const char **key_id)
{
    char hash[SHA256_HEX_LEN];
    crypto_key_hash_hex(secret_key, hash);
    size_t slot = key_slot_of(hash);
    int64_t mono = clock_mono_ms();
    key_slot k;
    pthread_mutex_lock(&g_key_mu);
    bool hit = strcmp(g_key_cache[slot].hash, hash) == 0 &&
               mono - g_key_cache[slot].read_mono_ms < GW_KEY_RECHECK_MS;
    if (hit)
        k = g_key_cache[slot];
    pthread_mutex_unlock(&g_key_mu);
    if (!hit) {
        key_read r = {.hash = hash, .a = a};
        k_status st = store_read(g->st, key_by_hash_fn, &r);
        char old[SHA256_HEX_LEN];
        if (st == K_ENOTFOUND) { /* a read first: a wrong key costs no write */
            crypto_sha256_hex(secret_key, strlen(secret_key), old);
            key_read lr = {.hash = old, .a = a};
            st = store_read(g->st, key_by_hash_fn, &lr);
            if (st == K_OK) {
                r.legacy = old;
                st = store_write(g->st, key_upgrade_fn, &r);
            }
        }
        if (st != K_OK)
            return st;
        memset(&k, 0, sizeof k);
        snprintf(k.hash, sizeof k.hash, "%s", hash);
        snprintf(k.merchant, sizeof k.merchant, "%s", r.k.merchant_id);
        snprintf(k.key_id, sizeof k.key_id, "%s", r.k.id);
        k.expires_ms = r.k.expires_ms;
        k.revoked_ms = r.k.revoked_ms;
        k.last_used_ms = r.k.last_used_ms;
        k.read_mono_ms = mono;
        pthread_mutex_lock(&g_key_mu);
        /* keep a fresher last_used this node wrote meanwhile */
        if (strcmp(g_key_cache[slot].hash, hash) == 0 &&
            g_key_cache[slot].last_used_ms > k.last_used_ms)
            k.last_used_ms = g_key_cache[slot].last_used_ms;
        g_key_cache[slot] = k;
        pthread_mutex_unlock(&g_key_mu);
    }
    int64_t now = clock_now_ms();
    if (!gw_key_usable(k.expires_ms, k.revoked_ms, now) || !gw_key_routes(secret_key, k.merchant))
        return K_ENOTFOUND;
    /* last_used: at most once per LIMIT_KEY_TOUCH_MS per key and node */
    bool touch = false;
    pthread_mutex_lock(&g_key_mu);
    if (strcmp(g_key_cache[slot].hash, hash) == 0 &&
        now - g_key_cache[slot].last_used_ms >= LIMIT_KEY_TOUCH_MS) {
        g_key_cache[slot].last_used_ms = now;
        k.last_used_ms = now;
        touch = true;
    }
    pthread_mutex_unlock(&g_key_mu);
    if (touch && store_write(g->st, key_touch_fn, &k) != K_OK)
        log_warn("key '%s': last use not recorded", k.key_id);
    *merchant_id = arena_strdup(a, k.merchant);
    if (key_id != NULL)
        *key_id = arena_strdup(a, k.key_id);
    return *merchant_id != NULL ? K_OK : K_ENOMEM;
}

k_status gw_merchant_auth(gw *g, const char *secret_key, arena *a, const char **merchant_id)
{
    return gw_key_auth(g, secret_key, a, merchant_id, NULL);
}

/* ---- create, roll, revoke ---- */

static void key_last4(const char *sk, char out[5])
{
    size_t n = strlen(sk), k = n > 4 ? 4 : n;
    memcpy(out, sk + n - k, k);
    out[k] = '\0';
}

typedef struct {
    const char *merchant_id, *id, *idem;
    int64_t overlap_s;
    bool revoke;
    store_api_key nk; /* the new key (create, roll) */
    store_api_key old;
    arena *a;
    gw_err *err;
    bool replayed;
} key_job;

static k_status key_count_live(store_tx *tx, key_job *j, int64_t now)
{
    store_api_key *ks;
    size_t n, live = 0;
    k_status st = store_key_list(tx, j->merchant_id, j->a, &ks, &n);
    if (st != K_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        live += gw_key_usable(ks[i].expires_ms, ks[i].revoked_ms, now) ? 1 : 0;
    if (live >= GW_KEYS_LIVE_MAX) {
        gw_err_set(j->err, GW_WHY_TOO_MANY, NULL,
                   "You have reached the maximum of %d working API keys: revoke one first.",
                   GW_KEYS_LIVE_MAX);
        return K_ETOOBIG;
    }
    return K_OK;
}

/* The form was sent before: answer the key it made. */
static bool key_replay(store_tx *tx, key_job *j, k_status *st)
{
    if (j->idem == NULL)
        return false;
    *st = store_key_by_idem(tx, j->merchant_id, j->idem, j->a, &j->nk);
    if (*st == K_ENOTFOUND)
        return false;
    j->replayed = *st == K_OK;
    return true;
}

static k_status key_create_fn(store_tx *tx, void *arg)
{
    key_job *j = arg;
    k_status st;
    if (key_replay(tx, j, &st))
        return st;
    st = key_count_live(tx, j, clock_now_ms());
    return st == K_OK ? store_key_insert(tx, &j->nk) : st;
}

static k_status key_roll_fn(store_tx *tx, void *arg)
{
    key_job *j = arg;
    k_status st;
    if (key_replay(tx, j, &st))
        return st;
    st = store_key_get(tx, j->merchant_id, j->id, j->a, &j->old);
    if (st != K_OK)
        return gw_err_store(j->err, st, "api_key", j->id);
    int64_t now = clock_now_ms();
    if (!gw_key_usable(j->old.expires_ms, j->old.revoked_ms, now)) {
        gw_err_set(j->err, GW_WHY_WRONG_STATE, "key",
                   "This key no longer works (revoked or expired): create a new one instead.");
        return K_EINVAL;
    }
    st = key_count_live(tx, j, now);
    if (st != K_OK)
        return st;
    int64_t until = now + j->overlap_s * 1000;
    if (j->old.expires_ms != 0 && j->old.expires_ms < until)
        until = j->old.expires_ms; /* a roll never lengthens a key's life */
    st = store_key_end(tx, j->merchant_id, j->id, until, 0);
    if (st != K_OK)
        return st;
    j->old.expires_ms = until;
    j->nk.name = j->old.name;
    j->nk.mode = j->old.mode;
    j->nk.kind = j->old.kind;
    return store_key_insert(tx, &j->nk);
}

static k_status key_revoke_fn(store_tx *tx, void *arg)
{
    key_job *j = arg;
    k_status st = store_key_get(tx, j->merchant_id, j->id, j->a, &j->old);
    if (st != K_OK)
        return gw_err_store(j->err, st, "api_key", j->id);
    if (j->old.revoked_ms != 0)
        return K_OK; /* revoked already: the same answer again */
    j->old.revoked_ms = clock_now_ms();
    return store_key_end(tx, j->merchant_id, j->id, j->old.expires_ms, j->old.revoked_ms);
}

static bool key_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > GW_KEY_NAME_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        if (*p < ' ' || *p == 0x7f)
            return false;
    return true;
}

static bool key_idem_ok(const char *idem, gw_err *err)
{
    if (idem == NULL || (idem[0] != '\0' && strlen(idem) <= LIMIT_ID_MAX * 2))
        return true;
    gw_err_set(err, GW_WHY_PARAM_INVALID, "idem", "The form's idempotency key is malformed.");
    return false;
}

/* Mints the new key's secret and row into j->nk; the secret into *sk. */
static void key_mint(key_job *j, const char *mode, const char *name, char sk[LIMIT_ID_MAX],
                     char id[LIMIT_ID_MAX], char hash[SHA256_HEX_LEN], char last4[5])
{
    id_secret(sk, strcmp(mode, "live") == 0 ? "sk_live_" : "sk_test_");
    id_new(id, "key_");
    crypto_key_hash_hex(sk, hash);
    key_last4(sk, last4);
    j->nk = (store_api_key){.merchant_id = j->merchant_id,
                            .id = id,
                            .mode = mode,
                            .kind = "secret",
                            .name = name,
                            .key_hash = hash,
                            .last4 = last4,
                            .idem = j->idem,
                            .created_ms = clock_now_ms()};
}

static k_status key_answer(key_job *j, k_status st, const char *sk, gw_key *out)
{
    if (st != K_OK)
        return j->err->why != GW_WHY_NONE ? st : gw_err_store(j->err, st, "api_key", j->id);
    key_from_row(&j->nk, out);
    out->last4 = arena_strdup(j->a, j->nk.last4); /* the minted one is on the caller's stack */
    out->name = arena_strdup(j->a, j->nk.name);
    if (out->last4 == NULL || out->name == NULL)
        return K_ENOMEM;
    out->replayed = j->replayed;
    out->secret = j->replayed ? NULL : arena_strdup(j->a, sk);
    return K_OK;
}

k_status gw_key_create(gw *g, const char *merchant_id, const char *mode, const char *name,
                       const char *idem, arena *a, gw_key *out, gw_err *err)
{
    err->why = GW_WHY_NONE;
    bool live = mode != NULL && strcmp(mode, "live") == 0;
    if (mode != NULL && mode[0] != '\0' && !live && strcmp(mode, "test") != 0) {
        gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "mode", "The mode must be test or live.");
        return K_EINVAL;
    }
    if (!live && gw_merchant_is_live(merchant_id)) {
        gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "mode",
                   "This is the live account: its keys are live keys.");
        return K_EINVAL;
    }
    if (live && !gw_merchant_is_live(merchant_id)) {
        merchant_id = gw_merchant_live_of(g, merchant_id, a);
        if (merchant_id == NULL) {
            gw_err_set(err, GW_WHY_PARAM_UNACCEPTED, "mode",
                       "Live keys need the live account: an admin creates it first (API keys, "
                       "\"Create the live account\", or kassa merchant live ACCT).");
            return K_EINVAL;
        }
    }
    if (!key_name_ok(name)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "name", "Give the key a name of 1 to %d characters.",
                   GW_KEY_NAME_MAX);
        return K_EINVAL;
    }
    if (!key_idem_ok(idem, err))
        return K_EINVAL;
    key_job j = {.merchant_id = merchant_id, .idem = idem, .a = a, .err = err};
    char sk[LIMIT_ID_MAX], id[LIMIT_ID_MAX], hash[SHA256_HEX_LEN], last4[5];
    key_mint(&j, live ? "live" : "test", name, sk, id, hash, last4);
    return key_answer(&j, store_write(g->st, key_create_fn, &j), sk, out);
}

k_status gw_key_roll(gw *g, const char *merchant_id, const char *id, int64_t overlap_s,
                     const char *idem, arena *a, gw_key *out, gw_err *err)
{
    err->why = GW_WHY_NONE;
    if (overlap_s < 0 || overlap_s > GW_KEY_OVERLAP_MAX_S) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "overlap",
                   "The old key may keep working for 0 seconds to 7 days.");
        return K_EINVAL;
    }
    if (!key_idem_ok(idem, err))
        return K_EINVAL;
    key_job j = {.merchant_id = merchant_id,
                 .id = id,
                 .idem = idem,
                 .overlap_s = overlap_s,
                 .a = a,
                 .err = err};
    char sk[LIMIT_ID_MAX], nid[LIMIT_ID_MAX], hash[SHA256_HEX_LEN], last4[5];
    key_mint(&j, gw_merchant_is_live(merchant_id) ? "live" : "test", "", sk, nid, hash, last4);
    k_status st = store_write(g->st, key_roll_fn, &j);
    if (st == K_OK && !j.replayed)
        key_cache_forget(j.old.key_hash);
    return key_answer(&j, st, sk, out);
}

k_status gw_key_revoke(gw *g, const char *merchant_id, const char *id, arena *a, gw_key *out,
                       gw_err *err)
{
    err->why = GW_WHY_NONE;
    key_job j = {.merchant_id = merchant_id, .id = id, .revoke = true, .a = a, .err = err};
    k_status st = store_write(g->st, key_revoke_fn, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, "api_key", id);
    key_cache_forget(j.old.key_hash);
    key_from_row(&j.old, out);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    arena *a;
    store_api_key *rows;
    size_t n;
} key_list_job;

static k_status key_list_fn(store_tx *tx, void *arg)
{
    key_list_job *j = arg;
    return store_key_list(tx, j->merchant_id, j->a, &j->rows, &j->n);
}

k_status gw_key_list(gw *g, const char *merchant_id, arena *a, gw_key **out, size_t *n)
{
    key_list_job j = {.merchant_id = merchant_id, .a = a};
    *out = NULL;
    *n = 0;
    k_status st = store_read(g->st, key_list_fn, &j);
    if (st != K_OK)
        return st;
    gw_key *ks = j.n > 0 ? arena_alloc(a, j.n * sizeof *ks) : NULL;
    if (j.n > 0 && ks == NULL)
        return K_ENOMEM;
    for (size_t i = 0; i < j.n; i++)
        key_from_row(&j.rows[i], &ks[i]);
    *out = ks;
    *n = j.n;
    return K_OK;
}
