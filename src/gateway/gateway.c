/*
 * gateway.c - the gateway's frame: opening and closing, errors, idempotency
 * keys, merchants and their provider accounts, loading and saving records,
 * the journal, and events with their webhook deliveries (the outbox). The use
 * cases themselves live in payments.c, refunds.c, sessions.c, endpoints.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_int.h"
#include "../store/store_keys.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../domain/money.h"
#include "../store/store_staff.h"

/* Days before authorisation expiry when the warning webhook goes out: set once
 * by gw_open from the configuration, read by gw_save_payment (due times). */
static int64_t g_warn_days;

/* ---- lifecycle ---- */

k_status gw_open(gw **out, store *st, const gw_config *cfg)
{
    K_ASSERT(out != NULL && st != NULL && cfg != NULL);
    gw *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return K_ENOMEM;
    g->st = st;
    g->cfg = *cfg;
    g->public_url = strdup(cfg->public_url != NULL ? cfg->public_url : "http://127.0.0.1:8080");
    g->sim_url = cfg->sim_url != NULL ? strdup(cfg->sim_url) : NULL;
    g->cfg.public_url = g->public_url;
    g->cfg.sim_url = g->sim_url;
    g->cfg.rules_text = NULL; /* not kept: read into g->rules below, the one rule set every face
                                 reaches through the gateway (gw_method_amount ...) */
    g_warn_days = cfg->auth_warn_days;
    if (g->cfg.session_ttl_s <= 0)
        g->cfg.session_ttl_s = 24 * 3600;
    rules_init_default(&g->rules);
    if (cfg->rules_text != NULL) {
        char err[LIMIT_RULE_MESSAGE_MAX];
        if (rules_load(&g->rules, cfg->rules_text, strlen(cfg->rules_text), err) != K_OK) {
            log_error("method rules: %s", err);
            gw_close(g);
            return K_EINVAL;
        }
    }
    pthread_mutex_init(&g->idem_mu, NULL);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->wake, NULL);
    *out = g;
    return K_OK;
}

void gw_close(gw *g)
{
    if (g == NULL)
        return;
    if (g->workers_started) {
        store_set_wake(g->st, NULL, NULL);
        pthread_mutex_lock(&g->mu);
        g->stop = true;
        pthread_cond_broadcast(&g->wake);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->scheduler, NULL);
        pthread_join(g->dispatcher, NULL);
    }
    for (size_t i = 0; i < g->ninflight; i++)
        free(g->inflight[i]);
    free(g->public_url);
    free(g->sim_url);
    free(g);
}

void gw_wake(gw *g)
{
    pthread_mutex_lock(&g->mu);
    g->wake_gen++;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->mu);
}

void gw_clock_jumped(gw *g)
{
    pthread_mutex_lock(&g->mu);
    g->tick_gen++;
    g->wake_gen++;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->mu);
}

void gw_set_public_url(gw *g, const char *url)
{
    char *copy = strdup(url);
    K_ASSERT(copy != NULL);
    free(g->public_url);
    g->public_url = copy;
    g->cfg.public_url = copy;
}

const gw_config *gw_cfg(const gw *g)
{
    return &g->cfg;
}

store *gw_store(gw *g)
{
    return g->st;
}

void gw_set_formatter(gw *g, const char *dialect, gw_formatter fn)
{
    for (size_t i = 0; i < GW_FORMATTERS_MAX; i++) {
        if (g->fmts[i].fn == NULL || strcmp(g->fmts[i].dialect, dialect) == 0) {
            snprintf(g->fmts[i].dialect, sizeof(g->fmts[i].dialect), "%s", dialect);
            g->fmts[i].fn = fn;
            return;
        }
    }
    K_ASSERT(!"too many formatters");
}

/* ---- method rules ---- */

static bool method_takes(const rule_method *m, const char *cur)
{
    if (m->any_currency)
        return true;
    for (size_t i = 0; i < m->currencies_len; i++)
        if (strcmp(m->currencies[i], cur) == 0)
            return true;
    return false;
}

k_status gw_method_amount(gw *g, const char *method, const char *currency, int64_t amount,
                          char out_currency[4], int64_t *out_amount)
{
    K_ASSERT(amount >= 0);
    const rule_method *m = rules_method_find(&g->rules, method);
    currency_upper(currency, out_currency);
    *out_amount = amount;
    if (m == NULL || method_takes(m, out_currency))
        return K_OK; /* as asked: the method's rules judge it at creation */
    const char *to = m->currencies_len > 0 ? m->currencies[0] : m->limit_currency;
    if (method_takes(m, m->limit_currency))
        to = m->limit_currency;
    int64_t rate;
    const currency_info *fi = currency_find(out_currency), *ti = currency_find(to);
    if (fi == NULL || ti == NULL || rules_rate(&g->rules, fi->code, ti->code, &rate) != K_OK ||
        money_convert(amount, fi, ti, rate, out_amount) != K_OK)
        return K_ENOTFOUND;
    snprintf(out_currency, 4, "%s", ti->code);
    return K_OK;
}

/* ---- errors ---- */

static const char *const WHY_NAMES[GW_WHY__COUNT] = {
    [GW_WHY_NONE] = "none",
    [GW_WHY_NOT_FOUND] = "not_found",
    [GW_WHY_PARAM_MISSING] = "parameter_missing",
    [GW_WHY_PARAM_INVALID] = "parameter_invalid",
    [GW_WHY_PARAM_EMPTY] = "parameter_empty",
    [GW_WHY_PARAM_UNACCEPTED] = "parameter_unaccepted",
    [GW_WHY_PARAM_OUT_OF_RANGE] = "parameter_out_of_range",
    [GW_WHY_URL_INVALID] = "url_invalid",
    [GW_WHY_AMOUNT_TOO_SMALL] = "amount_too_small",
    [GW_WHY_AMOUNT_TOO_LARGE] = "amount_too_large",
    [GW_WHY_ALREADY_REFUNDED] = "already_refunded",
    [GW_WHY_WRONG_STATE] = "wrong_state",
    [GW_WHY_IN_PROGRESS] = "in_progress",
    [GW_WHY_SESSION_CLOSED] = "session_closed",
    [GW_WHY_AUTH_EXPIRED] = "authorization_expired",
    [GW_WHY_EXTENSION_LIMIT] = "extension_limit",
    [GW_WHY_METHOD_INVALID] = "method_invalid",
    [GW_WHY_METHOD_UNAVAILABLE] = "method_unavailable",
    [GW_WHY_ALREADY_EXISTS] = "already_exists",
    [GW_WHY_TOO_MANY] = "too_many",
    [GW_WHY_DECLINED] = "declined",
    [GW_WHY_PROVIDER_REFUSED] = "provider_refused",
    [GW_WHY_CAPTURE_FAILED] = "capture_failed",
    [GW_WHY_CANCEL_FAILED] = "cancel_failed",
    [GW_WHY_PROVIDER_UNAVAILABLE] = "provider_unavailable",
    [GW_WHY_CALLBACK_REFUSED] = "callback_refused",
    [GW_WHY_UNAUTHENTICATED] = "unauthenticated",
    [GW_WHY_FORBIDDEN] = "forbidden",
    [GW_WHY_IDEM_MISMATCH] = "idempotency_mismatch",
    [GW_WHY_IDEM_IN_USE] = "idempotency_in_use",
    [GW_WHY_BUSY] = "busy",
    [GW_WHY_RATE_LIMITED] = "rate_limit",
    [GW_WHY_CONFLICT] = "conflict",
    [GW_WHY_STORAGE] = "storage_error",
    [GW_WHY_STORAGE_FULL] = "storage_full",
};

const char *gw_why_name(gw_why why)
{
    K_ASSERT(why >= GW_WHY_NONE);
    K_ASSERT(why < GW_WHY__COUNT);
    K_ASSERT(WHY_NAMES[why] != NULL);
    return WHY_NAMES[why];
}

void gw_err_set(gw_err *e, gw_why why, const char *param, const char *fmt, ...)
{
    K_ASSERT(why > GW_WHY_NONE);
    K_ASSERT(why < GW_WHY__COUNT);
    if (e == NULL)
        return;
    e->why = why;
    e->decline = NULL;
    snprintf(e->param, sizeof(e->param), "%s", param != NULL ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

/* Maps a storage status onto a reason: not found, busy, conflict, storage. */
k_status gw_err_store(gw_err *e, k_status st, const char *what, const char *id)
{
    if ((int)st == K_EIDEM_TAKEN) {
        gw_err_set(e, GW_WHY_IDEM_IN_USE, NULL,
                   "There is currently another in-progress request using this Idempotency "
                   "Key (that probably means you submitted twice, and the other request is "
                   "still going through). Nothing was changed; please try again later.");
        return st;
    }
    switch (st) {
    case K_OK:
        return K_OK;
    case K_ENOTFOUND:
        gw_err_set(e, GW_WHY_NOT_FOUND, "id", "No such %s: '%s'", what, id != NULL ? id : "");
        break;
    case K_EBUSY:
        gw_err_set(e, GW_WHY_BUSY, NULL, "Kassa is busy; retry the request shortly.");
        break;
    case K_ENOSPC:
        gw_err_set(e, GW_WHY_STORAGE_FULL, NULL,
                   "Kassa cannot store the %s right now: its storage is full. Nothing was "
                   "changed; retry the request later with the same Idempotency-Key.",
                   what);
        break;
    case K_ECONFLICT:
        gw_err_set(e, GW_WHY_CONFLICT, NULL, "The %s was changed by another request; retry.", what);
        break;
    default:
        gw_err_set(e, GW_WHY_STORAGE, NULL,
                   "An error occurred while storing the %s; nothing was changed.", what);
        break;
    }
    return st;
}

/* ---- idempotency ---- */

static char *inflight_key(const char *merchant_id, const char *key)
{
    size_t n = strlen(merchant_id) + strlen(key) + 2;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s\x1f%s", merchant_id, key);
    return s;
}

typedef struct {
    const char *merchant_id;
    const char *key;
    arena *a;
    store_idem row;
} idem_read;

static k_status idem_read_fn(store_tx *tx, void *arg)
{
    idem_read *r = arg;
    return store_idem_get(tx, r->merchant_id, r->key, r->a, &r->row);
}

static k_status idem_in_use(gw_err *err, const char *key)
{
    gw_err_set(err, GW_WHY_IDEM_IN_USE, NULL,
               "There is currently another in-progress request using this Idempotency "
               "Key (that probably means you submitted twice, and the other request is "
               "still going through): %s. Please try again later.",
               key);
    return K_EBUSY;
}

/* What a stored row says about a request with this key: K_OK + replay fields
 * (a finished answer), K_ECONFLICT (another request's key), K_EBUSY (claimed
 * by a request still within its lease), or K_ENOTFOUND with resume_id set (a
 * claim whose request died: the caller carries on with the object it began). */
static k_status idem_found(gw_idem *idem, const store_idem *row, gw_err *err)
{
    if (strcmp(row->fingerprint, idem->fingerprint) != 0) {
        gw_err_set(err, GW_WHY_IDEM_MISMATCH, NULL,
                   "Keys for idempotent requests can only be used with the same parameters "
                   "they were first used with. Try using a key other than '%s' if you meant "
                   "to execute a different request.",
                   idem->key);
        return K_ECONFLICT;
    }
    if (row->status != 0) {
        idem->replayed = true;
        idem->replay_status = row->status;
        idem->replay_body = row->body;
        return K_OK;
    }
    K_ASSERT(row->body != NULL);
    if (clock_now_ms() - row->created_ms < (int64_t)LIMIT_IDEMPOTENCY_LEASE_S * 1000)
        return idem_in_use(err, idem->key);
    idem->resume_id = row->body;
    return K_ENOTFOUND;
}

k_status gw_idem_begin(gw *g, const char *merchant_id, gw_idem *idem, arena *a, gw_err *err)
{
    K_ASSERT(idem != NULL);
    K_ASSERT(idem->key != NULL);
    K_ASSERT(idem->fingerprint != NULL);
    idem->replayed = false;
    idem->resume_id = NULL;
    idem_read r = {.merchant_id = merchant_id, .key = idem->key, .a = a};
    k_status st = store_read(g->st, idem_read_fn, &r);
    if (st == K_OK) {
        k_status found = idem_found(idem, &r.row, err);
        if (found != K_ENOTFOUND)
            return found;
    } else if (st != K_ENOTFOUND) {
        return gw_err_store(err, st, "idempotency key", idem->key);
    }
    char *k = inflight_key(merchant_id, idem->key);
    if (k == NULL)
        return gw_err_store(err, K_ENOMEM, "idempotency key", idem->key);
    pthread_mutex_lock(&g->idem_mu);
    bool busy = false;
    for (size_t i = 0; i < g->ninflight && !busy; i++)
        busy = strcmp(g->inflight[i], k) == 0;
    bool full = g->ninflight == LIMIT_IDEMPOTENCY_INFLIGHT_MAX;
    if (!busy && !full)
        g->inflight[g->ninflight++] = k;
    pthread_mutex_unlock(&g->idem_mu);
    if (busy || full) {
        free(k);
        return idem_in_use(err, idem->key);
    }
    /* The request that held the key may have stored its answer and left
     * between our read and our claim: look once more, now that no one
     * else on this node can be working on the key. */
    idem_read again = {.merchant_id = merchant_id, .key = idem->key, .a = a};
    if (store_read(g->st, idem_read_fn, &again) == K_OK) {
        idem->resume_id = NULL;
        k_status found = idem_found(idem, &again.row, err);
        if (found != K_ENOTFOUND) {
            gw_idem_end(g, merchant_id, idem);
            return found;
        }
    }
    return K_ENOTFOUND;
}

void gw_idem_end(gw *g, const char *merchant_id, gw_idem *idem)
{
    char *k = inflight_key(merchant_id, idem->key);
    if (k == NULL)
        return;
    pthread_mutex_lock(&g->idem_mu);
    for (size_t i = 0; i < g->ninflight; i++) {
        if (strcmp(g->inflight[i], k) == 0) {
            free(g->inflight[i]);
            g->inflight[i] = g->inflight[--g->ninflight];
            break;
        }
    }
    pthread_mutex_unlock(&g->idem_mu);
    free(k);
}

static k_status idem_put(store_tx *tx, const char *merchant_id, gw_idem *idem, int status,
                         const char *body)
{
    store_idem existing;
    arena a;
    arena_init(&a, 0);
    k_status st = store_idem_get(tx, merchant_id, idem->key, &a, &existing);
    /* Only a claim of this very request (same fingerprint, still unanswered)
     * gives way to its answer; anything else is another request's key. */
    bool own_claim =
        st == K_OK && existing.status == 0 && strcmp(existing.fingerprint, idem->fingerprint) == 0;
    arena_release(&a);
    if (st == K_OK && !own_claim)
        return K_EIDEM_TAKEN; /* another request (maybe another node's) got there first */
    if (st != K_OK && st != K_ENOTFOUND)
        return st;
    store_idem row = {.merchant_id = merchant_id,
                      .key = idem->key,
                      .fingerprint = idem->fingerprint,
                      .status = status,
                      .body = body,
                      .created_ms = clock_now_ms()};
    return store_idem_put(tx, &row);
}

typedef struct {
    const char *merchant_id;
    gw_idem *idem;
    int status;
    const char *body;
} idem_err_job;

static k_status idem_release_fn(store_tx *tx, void *arg)
{
    idem_err_job *j = arg;
    store_idem row;
    arena a;
    arena_init(&a, 0);
    k_status st = store_idem_get(tx, j->merchant_id, j->idem->key, &a, &row);
    bool own_claim =
        st == K_OK && row.status == 0 && strcmp(row.fingerprint, j->idem->fingerprint) == 0;
    arena_release(&a);
    if (st == K_ENOTFOUND || (st == K_OK && !own_claim))
        return K_OK;
    return st == K_OK ? store_idem_delete(tx, j->merchant_id, j->idem->key) : st;
}

void gw_idem_release(gw *g, const char *merchant_id, gw_idem *idem)
{
    if (idem == NULL || idem->key == NULL)
        return;
    idem_err_job j = {merchant_id, idem, 0, NULL};
    if (store_write(g->st, idem_release_fn, &j) != K_OK)
        log_warn("idempotency key '%s' could not be given back; it lapses after its lease",
                 idem->key);
}

/* ---- an order action whose answer may be lost ---- */

typedef struct {
    const char *merchant_id;
    const char *id;
    gw_idem *idem;
    arena *a;
} mark_job;

static k_status mark_fn(store_tx *tx, void *arg)
{
    mark_job *j = arg;
    gw_payment p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->id, j->a, &p);
    if (st != K_OK)
        return st;
    p.reconcile_at = clock_now_s() + LIMIT_IDEMPOTENCY_LEASE_S;
    st = gw_save_payment(tx, &p);
    return st == K_OK ? gw_idem_claim_in_tx(tx, j->merchant_id, j->idem, j->id) : st;
}

k_status gw_order_action_begins(gw *g, const char *merchant_id, const char *id, gw_idem *idem,
                                arena *a)
{
    mark_job j = {merchant_id, id, idem, a};
    return store_write(g->st, mark_fn, &j);
}

k_status gw_idem_claim_in_tx(store_tx *tx, const char *merchant_id, gw_idem *idem,
                             const char *object_id)
{
    if (idem == NULL || idem->key == NULL)
        return K_OK;
    K_ASSERT(object_id != NULL);
    return idem_put(tx, merchant_id, idem, 0, object_id);
}

k_status gw_idem_store_in_tx(store_tx *tx, const char *merchant_id, gw_idem *idem,
                             const void *record, arena *a)
{
    if (idem == NULL || idem->key == NULL || idem->render == NULL)
        return K_OK;
    char *body = idem->render(idem, record, a);
    if (body == NULL)
        return K_ENOMEM;
    k_status st = idem_put(tx, merchant_id, idem, 200, body);
    if (st == K_OK && idem->in_tx != NULL)
        st = idem->in_tx(idem, tx, record, a);
    return st;
}

static k_status idem_err_fn(store_tx *tx, void *arg)
{
    idem_err_job *j = arg;
    return idem_put(tx, j->merchant_id, j->idem, j->status, j->body);
}

k_status gw_idem_store_error(gw *g, const char *merchant_id, gw_idem *idem, int status,
                             const char *body)
{
    if (idem == NULL || idem->key == NULL)
        return K_OK;
    idem_err_job j = {merchant_id, idem, status, body};
    return store_write(g->st, idem_err_fn, &j);
}

/* ---- merchants ---- */

typedef struct {
    store_merchant m;
    const char *sk;      /* the first API key */
    const char *twin_of; /* set: the live twin of this test account (created when missing) */
    bool exists;         /* twin_of's twin was there already: nothing written */
    arena *a;
} merchant_job;

static k_status merchant_put_fn(store_tx *tx, void *arg)
{
    merchant_job *j = arg;
    if (j->twin_of != NULL) {
        store_merchant t, live;
        k_status st = store_merchant_get(tx, j->twin_of, j->a, &t);
        if (st != K_OK)
            return st;
        st = store_merchant_get(tx, j->m.id, j->a, &live);
        if (st == K_OK) {
            j->m = live;
            j->exists = true;
            return K_OK;
        }
        if (st != K_ENOTFOUND)
            return st;
        j->m.name = t.name; /* the twin carries the test account's name */
    }
    k_status st = store_merchant_put(tx, &j->m);
    if (st != K_OK)
        return st;
    /* its first API key (keys.c manages it from then on) */
    char id[LIMIT_ID_MAX], last4[5];
    id_new(id, "key_");
    size_t n = strlen(j->sk);
    snprintf(last4, sizeof last4, "%s", j->sk + (n > 4 ? n - 4 : 0));
    store_api_key k = {.merchant_id = j->m.id,
                       .id = id,
                       .mode = j->twin_of != NULL ? "live" : "test",
                       .kind = "secret",
                       .name = "Secret key",
                       .key_hash = j->m.secret_key_hash,
                       .last4 = last4,
                       .created_ms = j->m.created * 1000};
    return store_key_insert(tx, &k);
}

k_status gw_merchant_create(gw *g, const char *name, arena *a, gw_merchant_keys *out)
{
    char id[LIMIT_ID_MAX], sk[LIMIT_ID_MAX], pk[LIMIT_ID_MAX], ecp[LIMIT_ID_MAX];
    id_new_n(id, "acct_", 16);
    id_secret(sk, "sk_test_");
    id_secret(pk, "pk_test_");
    id_new_n(ecp, "", 32);
    uint32_t r;
    if (crypto_random(&r, sizeof(r)) != K_OK)
        return K_ERR;
    char hash[SHA256_HEX_LEN];
    crypto_key_hash_hex(sk, hash);
    merchant_job j = {.m = {.id = id,
                            .name = name,
                            .secret_key_hash = hash,
                            .publishable_key = pk,
                            .ecp_project_id = 100000 + (int64_t)(r % 900000000u),
                            .ecp_secret = ecp,
                            .settings = "{}",
                            .created = clock_now_s()},
                      .sk = sk};
    k_status st = store_write(g->st, merchant_put_fn, &j);
    if (st != K_OK)
        return st;
    out->id = arena_strdup(a, id);
    out->name = arena_strdup(a, name);
    out->secret_key = arena_strdup(a, sk);
    out->publishable_key = arena_strdup(a, pk);
    out->ecp_secret = arena_strdup(a, ecp);
    out->ecp_project_id = j.m.ecp_project_id;
    return K_OK;
}

bool gw_merchant_is_live(const char *merchant_id)
{
    size_t n = merchant_id != NULL ? strlen(merchant_id) : 0, k = strlen(GW_LIVE_SUFFIX);
    return n > k && strcmp(merchant_id + n - k, GW_LIVE_SUFFIX) == 0;
}

bool gw_live_id_of(const char *test_id, char out[LIMIT_ID_MAX])
{
    out[0] = '\0';
    if (test_id == NULL || test_id[0] == '\0' || gw_merchant_is_live(test_id))
        return false;
    int n = snprintf(out, LIMIT_ID_MAX, "%s%s", test_id, GW_LIVE_SUFFIX);
    if (n < 0 || n >= LIMIT_ID_MAX) {
        out[0] = '\0';
        return false;
    }
    return true;
}

k_status gw_merchant_live_twin(gw *g, const char *test_id, arena *a, gw_merchant_keys *out,
                               bool *created)
{
    char id[LIMIT_ID_MAX], sk[LIMIT_ID_MAX], pk[LIMIT_ID_MAX], ecp[LIMIT_ID_MAX];
    *created = false;
    if (!gw_live_id_of(test_id, id))
        return K_ENOTFOUND;
    id_secret(sk, "sk_live_");
    id_secret(pk, "pk_live_");
    id_new_n(ecp, "", 32);
    uint32_t r;
    if (crypto_random(&r, sizeof(r)) != K_OK)
        return K_ERR;
    char hash[SHA256_HEX_LEN];
    crypto_key_hash_hex(sk, hash);
    merchant_job j = {.m = {.id = id,
                            .name = "",
                            .secret_key_hash = hash,
                            .publishable_key = pk,
                            .ecp_project_id = 100000 + (int64_t)(r % 900000000u),
                            .ecp_secret = ecp,
                            .settings = "{}",
                            .created = clock_now_s()},
                      .sk = sk,
                      .twin_of = test_id,
                      .a = a};
    k_status st = store_write(g->st, merchant_put_fn, &j);
    if (st == K_OK && !j.exists)
        out->secret_key = arena_strdup(a, sk); /* its first live key, shown once */
    explicit_bzero(sk, sizeof sk);
    if (st != K_OK)
        return st;
    const char *secret = j.exists ? NULL : out->secret_key;
    memset(out, 0, sizeof *out);
    out->secret_key = secret;
    *created = !j.exists;
    out->id = arena_strdup(a, j.m.id);
    out->name = arena_strdup(a, j.m.name);
    out->publishable_key = arena_strdup(a, j.m.publishable_key);
    out->ecp_secret = arena_strdup(a, j.m.ecp_secret);
    out->ecp_project_id = j.m.ecp_project_id;
    return out->id != NULL && out->name != NULL ? K_OK : K_ENOMEM;
}

/* The key lookup of every request: keys.c (several keys per merchant, rolled and revoked). */

typedef struct {
    const char *id;
    int64_t project;
    arena *a;
    store_merchant m;
    json_t *settings;
} merchant_get;

static k_status merchant_get_fn(store_tx *tx, void *arg)
{
    merchant_get *r = arg;
    if (r->id == NULL)
        return store_merchant_by_project(tx, r->project, r->a, &r->m);
    return store_merchant_get(tx, r->id, r->a, &r->m);
}

k_status gw_merchant_by_project(gw *g, int64_t project_id, arena *a, gw_merchant_keys *out)
{
    merchant_get r = {.project = project_id, .a = a};
    k_status st = store_read(g->st, merchant_get_fn, &r);
    if (st != K_OK)
        return st;
    memset(out, 0, sizeof(*out));
    out->id = r.m.id;
    out->name = r.m.name;
    out->publishable_key = r.m.publishable_key;
    out->ecp_secret = r.m.ecp_secret;
    out->ecp_project_id = r.m.ecp_project_id;
    return K_OK;
}

const char *gw_merchant_live_of(gw *g, const char *test_id, arena *a)
{
    char id[LIMIT_ID_MAX];
    if (!gw_live_id_of(test_id, id))
        return NULL;
    merchant_get r = {.id = id, .a = a};
    return store_read(g->st, merchant_get_fn, &r) == K_OK ? arena_strdup(a, id) : NULL;
}

k_status gw_merchant_settings(gw *g, const char *merchant_id, arena *a, json_t **out)
{
    merchant_get r = {.id = merchant_id, .a = a};
    k_status st = store_read(g->st, merchant_get_fn, &r);
    if (st != K_OK)
        return st;
    *out = json_loads(r.m.settings != NULL ? r.m.settings : "{}", 0, NULL);
    if (*out == NULL)
        *out = json_object();
    arena_defer(a, (void (*)(void *))json_decref, *out);
    return K_OK;
}

static k_status settings_put_fn(store_tx *tx, void *arg)
{
    merchant_get *r = arg;
    k_status st = store_merchant_get(tx, r->id, r->a, &r->m);
    if (st != K_OK)
        return st;
    char *text = json_dumps(r->settings, JSON_COMPACT);
    if (text == NULL)
        return K_ENOMEM;
    r->m.settings = arena_strdup(r->a, text);
    free(text);
    return store_merchant_put(tx, &r->m);
}

k_status gw_merchant_set_settings(gw *g, const char *merchant_id, json_t *settings)
{
    arena a;
    arena_init(&a, 0);
    merchant_get r = {.id = merchant_id, .a = &a, .settings = settings};
    k_status st = json_is_object(settings) ? store_write(g->st, settings_put_fn, &r) : K_EINVAL;
    arena_release(&a);
    return st;
}

/* A secret of the merchant's provider settings, opened (settings.c seals them:
 * crypto_seal; a value written before sealing is taken as it is). */
static const char *account_secret(json_t *acct, const char *key, arena *a)
{
    const char *stored = json_string_value(json_object_get(acct, key));
    if (stored == NULL)
        return NULL;
    char plain[CRYPTO_SEAL_PLAIN_MAX + 1];
    if (crypto_open(stored, plain, sizeof plain) != K_OK) {
        log_error("gateway: a sealed provider secret '%s' does not open (another key file?)", key);
        return NULL;
    }
    const char *out = arena_strdup(a, plain);
    explicit_bzero(plain, sizeof plain);
    return out;
}

/* Merchant settings may carry {"providers":{"klarna":{"base_url","username","password"}}}
 * (the back office's Settings page writes username and the sealed password or
 * private key); without a base_url the account talks to the local simulator,
 * with the merchant's own credentials when it set them, else sandbox ones. */
bool gw_account(gw *g, const char *merchant_id, const char *pname, arena *a, prov_account *out)
{
    memset(out, 0, sizeof(*out));
    out->provider = pname;
    merchant_get r = {.id = merchant_id, .a = a};
    if (store_read(g->st, merchant_get_fn, &r) != K_OK)
        return false;
    out->merchant_name = r.m.name;
    json_t *settings = json_loads(r.m.settings != NULL ? r.m.settings : "{}", 0, NULL);
    out->merchant_logo_url = gw_jstr(json_object_get(settings, "branding"), "logo_url", a);
    json_t *acct = json_object_get(json_object_get(settings, "providers"), pname);
    if (json_is_object(acct)) {
        out->base_url = gw_jstr(acct, "base_url", a);
        out->username = gw_jstr(acct, "username", a);
        out->password = account_secret(acct, "password", a);
        out->private_key = account_secret(acct, "private_key", a);
        out->public_key = gw_jstr(acct, "public_key", a);
    }
    json_decref(settings);
    if (gw_merchant_is_live(merchant_id)) {
        /* A live payment never reaches a simulator: only the twin's own
         * credentials with a configured base URL, never the local one. */
        size_t sl = g->sim_url != NULL ? strlen(g->sim_url) : 0;
        bool sim = out->base_url != NULL && sl > 0 && strncmp(out->base_url, g->sim_url, sl) == 0;
        return out->base_url != NULL && !sim && out->username != NULL &&
               (out->password != NULL || out->private_key != NULL);
    }
    if (out->base_url == NULL && g->sim_url != NULL) {
        out->base_url = arena_printf(a, "%s/%s", g->sim_url, pname);
        if (out->username == NULL || (out->password == NULL && out->private_key == NULL)) {
            out->username = merchant_id;
            out->password = "sandbox";
            out->private_key = out->public_key = NULL;
        }
    }
    return out->base_url != NULL;
}

/* ---- a payment's provider ---- */

bool gw_provider_of(gw *g, const gw_payment *p, arena *a, const provider **prov, prov_account *acct)
{
    const rule_method *rm =
        p->method_type != NULL ? rules_method_find(&g->rules, p->method_type) : NULL;
    *prov = rm != NULL ? provider_find(rm->provider) : NULL;
    return *prov != NULL && gw_account(g, p->merchant_id, rm->provider, a, acct);
}

k_status gw_target(gw *g, const gw_payment *p, arena *a, const provider **prov, prov_account *acct,
                   prov_ref *ref, gw_err *err)
{
    if (!gw_provider_of(g, p, a, prov, acct) || p->order_ref == NULL) {
        gw_err_set(err, GW_WHY_WRONG_STATE, NULL,
                   "This PaymentIntent has no order at a provider to act on.");
        return K_ECONFLICT;
    }
    if (gw_budget_take(g, p->merchant_id, (*prov)->name, err) != K_OK)
        return K_EBUSY;
    gw_prov_ref_of(p, a, ref);
    return K_OK;
}

/* ---- documents ---- */

static k_status load_doc(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                         arena *a, json_t **doc, int32_t *version)
{
    store_obj o;
    k_status st = store_obj_get(tx, merchant_id, kind, id, a, &o);
    if (st != K_OK)
        return st;
    *doc = json_loads(o.body, 0, NULL);
    if (*doc == NULL)
        return K_EIO;
    arena_defer(a, (void (*)(void *))json_decref, *doc);
    *version = o.version;
    return K_OK;
}

static k_status save_doc(store_tx *tx, store_obj *o, json_t *doc, int32_t *version)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (body == NULL)
        return K_ENOMEM;
    o->body = body;
    o->version = *version;
    k_status st = store_obj_put(tx, o);
    free(body);
    if (st == K_OK)
        *version = o->version;
    return st;
}

k_status gw_load_payment(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         gw_payment *out)
{
    json_t *doc;
    int32_t version;
    k_status st = load_doc(tx, merchant_id, "payment_intent", id, a, &doc, &version);
    if (st != K_OK)
        return st;
    st = gw_payment_from_json(doc, a, out);
    K_ASSERT(st == K_OK); /* a stored payment always satisfies the invariants */
    out->version = version;
    return K_OK;
}

/* The earliest time an open capture is asked about again, 0 = none. */
static int64_t captures_due(const gw_payment *p)
{
    int64_t due = 0;
    size_t i;
    json_t *c;
    json_array_foreach(p->captures_open, i, c)
    {
        int64_t at = gw_jint(c, "retry_at");
        if (due == 0 || at < due)
            due = at;
    }
    return due;
}

static int64_t timers_due(const gw_payment *p, int64_t warn_days)
{
    if (p->m.state == PS_REQUIRES_ACTION || p->m.state == PS_PROCESSING)
        return p->attempt_expires_at;
    if (p->m.state != PS_REQUIRES_CAPTURE || p->auth_expires_at == 0)
        return 0;
    int64_t warn = p->auth_expires_at - warn_days * 86400;
    if (warn_days > 0 && p->auth_warned == 0 && warn < p->auth_expires_at)
        return warn;
    return p->auth_expires_at;
}

static int64_t earliest(int64_t a, int64_t b) /* of two due times, 0 = none */
{
    if (a == 0 || (b != 0 && b < a))
        return b;
    return a;
}

static int64_t payment_due(const gw_payment *p, int64_t warn_days)
{
    /* Only an authorised order has anything to read back at the provider. */
    int64_t reconcile = p->m.state == PS_REQUIRES_CAPTURE ? p->reconcile_at : 0;
    return earliest(earliest(timers_due(p, warn_days), captures_due(p)), reconcile);
}

static int64_t captures_open_sum(const gw_payment *p)
{
    int64_t sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach(p->captures_open, i, c)
    {
        bool fits = money_add(sum, gw_jint(c, "amount"), &sum);
        K_ASSERT(fits);
    }
    return sum;
}

/* The payment's search terms (store_pay_terms_put): its customer's e-mail in
 * lower case, each metadata entry with a text value, the Alipay+ wallet, the
 * Klarna order id. Texts in a; at most cap. */
static size_t payment_terms(const gw_payment *p, arena *a, const char **out, size_t cap)
{
    size_t n = 0;
    if (p->email != NULL && p->email[0] != '\0' && n < cap) {
        char *t = arena_printf(a, "email:%s", p->email);
        for (char *c = t != NULL ? t + 6 : NULL; c != NULL && *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (t != NULL)
            out[n++] = t;
    }
    const char *key;
    json_t *v;
    json_object_foreach(p->metadata, key, v)
    {
        if (!json_is_string(v) || n >= cap)
            continue;
        const char *t = arena_printf(a, "meta:%s=%s", key, json_string_value(v));
        if (t != NULL)
            out[n++] = t;
    }
    if (p->method_type != NULL && strncmp(p->method_type, "alipay", 6) == 0 &&
        p->method_detail != NULL && n < cap) {
        char *t = arena_printf(a, "wallet:%s", p->method_detail);
        for (char *c = t != NULL ? t + 7 : NULL; c != NULL && *c != '\0'; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        if (t != NULL)
            out[n++] = t;
    }
    if (p->order_ref != NULL && n < cap) {
        const char *t = arena_printf(a, "order:%s", p->order_ref);
        if (t != NULL)
            out[n++] = t;
    }
    return n;
}

/* The payment's row without its body, its invariants checked. */
static store_obj payment_obj(const gw_payment *p)
{
    K_ASSERT(pay_check(&p->m));
    K_ASSERT(p->capture_pending >= 0);
    K_ASSERT(p->capture_pending <= pay_capturable(&p->m));
    K_ASSERT(p->capture_pending == captures_open_sum(p));
    store_obj o = {.merchant_id = p->merchant_id,
                   .id = p->id,
                   .kind = "payment_intent",
                   .status = pay_state_name(p->m.state),
                   .currency = p->currency,
                   .amount = p->m.amount,
                   .created = p->created,
                   .due_at = payment_due(p, g_warn_days),
                   .ext_ref = p->client_secret};
    return o;
}

/* The payment's search terms in its own transaction (the list's indexed filters). */
static k_status payment_terms_put(store_tx *tx, const gw_payment *p, bool fresh)
{
    const char *terms[LIMIT_METADATA_KEYS_MAX + 3];
    arena a;
    arena_init(&a, 0);
    size_t n = payment_terms(p, &a, terms, K_ARRAY_LEN(terms));
    k_status st = store_pay_terms_put(tx, p->merchant_id, p->id, terms, n, fresh);
    arena_release(&a);
    return st;
}

k_status gw_save_payment(store_tx *tx, gw_payment *p)
{
    store_obj o = payment_obj(p);
    bool fresh = p->version == 0;
    k_status st = save_doc(tx, &o, gw_payment_to_json(p), &p->version);
    return st == K_OK ? payment_terms_put(tx, p, fresh) : st;
}

k_status gw_load_attempt(store_tx *tx, const char *attempt_id, arena *a, gw_attempt *out)
{
    store_obj o;
    k_status st = store_obj_find_ref(tx, "attempt", attempt_id, a, &o);
    if (st != K_OK)
        return st;
    json_t *doc = json_loads(o.body, 0, NULL);
    if (doc == NULL)
        return K_EIO;
    st = gw_attempt_from_json(doc, a, out);
    json_decref(doc);
    out->version = o.version;
    return st;
}

k_status gw_save_attempt(store_tx *tx, gw_attempt *t)
{
    store_obj o = {.merchant_id = t->merchant_id,
                   .id = t->id,
                   .kind = "attempt",
                   .parent_id = t->payment_id,
                   .status = t->status,
                   .created = t->created,
                   .ext_ref = t->id};
    return save_doc(tx, &o, gw_attempt_to_json(t), &t->version);
}

k_status gw_load_refund(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                        gw_refund *out)
{
    json_t *doc;
    int32_t version;
    k_status st = load_doc(tx, merchant_id, "refund", id, a, &doc, &version);
    if (st != K_OK)
        return st;
    st = gw_refund_from_json(doc, a, out);
    out->version = version;
    return st;
}

k_status gw_save_refund(store_tx *tx, gw_refund *r)
{
    store_obj o = {.merchant_id = r->merchant_id,
                   .id = r->id,
                   .kind = "refund",
                   .parent_id = r->payment_id,
                   .status = r->status,
                   .currency = r->currency,
                   .amount = r->amount,
                   .created = r->created,
                   .due_at = r->retry_at};
    return save_doc(tx, &o, gw_refund_to_json(r), &r->version);
}

k_status gw_load_session(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         gw_session *out)
{
    if (merchant_id == NULL) {
        /* The hosted page has no merchant key: the cs_ id is the capability. */
        store_obj o;
        k_status st = store_obj_find_ref(tx, "checkout.session", id, a, &o);
        if (st != K_OK)
            return st;
        merchant_id = o.merchant_id;
    }
    json_t *doc;
    int32_t version;
    k_status st = load_doc(tx, merchant_id, "checkout.session", id, a, &doc, &version);
    if (st != K_OK)
        return st;
    st = gw_session_from_json(doc, a, out);
    out->version = version;
    return st;
}

k_status gw_save_session(store_tx *tx, gw_session *s)
{
    K_ASSERT(s->merchant_id != NULL);
    store_obj o = {.merchant_id = s->merchant_id,
                   .id = s->id,
                   .kind = "checkout.session",
                   .parent_id = s->payment_id,
                   .status = s->status,
                   .currency = s->currency,
                   .amount = s->amount_total,
                   .created = s->created,
                   .due_at = strcmp(s->status, "open") == 0 ? s->expires_at : 0,
                   .ext_ref = s->id};
    return save_doc(tx, &o, gw_session_to_json(s), &s->version);
}

/* ---- reading records ---- */

typedef struct {
    gw *g;
    const char *merchant_id;
    const char *id;
    arena *a;
    gw_payment *out;
} pi_read;

static k_status pi_read_fn(store_tx *tx, void *arg)
{
    pi_read *r = arg;
    return gw_load_payment(tx, r->merchant_id, r->id, r->a, r->out);
}

k_status gw_pi_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_payment *out,
                   gw_err *err)
{
    pi_read r = {g, merchant_id, id, a, out};
    return gw_err_store(err, store_read(g->st, pi_read_fn, &r), "payment_intent", id);
}

typedef struct {
    const char *merchant_id;
    const store_list_q *q;
    arena *a;
    store_obj *objs;
    size_t n;
    bool more;
    const char *kind;
} list_job;

static k_status list_fn(store_tx *tx, void *arg)
{
    list_job *j = arg;
    return store_obj_list(tx, j->merchant_id, j->kind, j->q, j->a, &j->objs, &j->n, &j->more);
}

k_status gw_list_docs(gw *g, const char *merchant_id, const char *kind, const store_list_q *q,
                      arena *a, json_t ***docs, size_t *n, bool *has_more, gw_err *err)
{
    list_job j = {.merchant_id = merchant_id, .q = q, .a = a, .kind = kind};
    k_status st = store_read(g->st, list_fn, &j);
    if (st == K_ENOTFOUND) {
        const char *cur = q->starting_after != NULL ? q->starting_after : q->ending_before;
        gw_err_set(err, GW_WHY_NOT_FOUND,
                   q->starting_after != NULL ? "starting_after" : "ending_before",
                   "No such object: '%s'", cur != NULL ? cur : "");
        return st;
    }
    if (st != K_OK)
        return gw_err_store(err, st, kind, NULL);
    *docs = j.n ? arena_alloc(a, j.n * sizeof(json_t *)) : NULL;
    for (size_t i = 0; i < j.n; i++) {
        (*docs)[i] = json_loads(j.objs[i].body, 0, NULL);
        K_ASSERT((*docs)[i] != NULL);
        arena_defer(a, (void (*)(void *))json_decref, (*docs)[i]);
    }
    *n = j.n;
    *has_more = j.more;
    return K_OK;
}

/* ---- journal ---- */

static const char *act_status(const gw_act *act)
{
    if (act->failed || act->op == OP_REFUND_FAIL)
        return "failed";
    return act->op == OP_REFUND ? "pending" : "succeeded";
}

static k_status journal_row(store_tx *tx, const gw_payment *p, pay_op op, int64_t amount,
                            const gw_act *act)
{
    char id[LIMIT_ID_MAX];
    id_new(id, "op_");
    char *text = act->body != NULL ? json_dumps(act->body, JSON_COMPACT) : NULL;
    store_op row = {.merchant_id = p->merchant_id,
                    .id = id,
                    .payment_id = p->id,
                    .kind = pay_op_name(op),
                    .amount = amount,
                    .status = act_status(act),
                    .code = act->code,
                    .message = act->message,
                    .provider_ref = act->provider_ref,
                    .ref_id = act->ref_id,
                    .body = text,
                    .created_ms = clock_now_ms()};
    k_status st = store_op_append(tx, &row);
    free(text);
    return st;
}

k_status gw_act_apply(store_tx *tx, gw_payment *p, const gw_act *act)
{
    K_ASSERT(p != NULL);
    K_ASSERT(act != NULL);
    K_ASSERT(act->amount >= 0);
    if (act->failed)
        return journal_row(tx, p, act->op, act->amount, act);
    int64_t capturable = pay_capturable(&p->m);
    pay_entry e = {.op = act->op, .amount = act->amount, .final = act->final};
    pay_refusal r = pay_apply(&p->m, &e);
    if (r != PAY_OK) {
        log_info("payment '%s': %s refused in %s: %s", p->id, pay_op_name(act->op),
                 pay_state_name(p->m.state), pay_refusal_message(r));
        return K_EREFUSED;
    }
    K_ASSERT(pay_check(&p->m));
    /* A cancel or expiry row says what it released; a final capture releases
     * the rest in the same step and the journal says so in a row of its own. */
    bool releases = act->op == OP_CANCEL || act->op == OP_EXPIRE;
    int64_t rest = capturable - (act->op == OP_CAPTURE ? act->amount : 0);
    k_status st = journal_row(tx, p, act->op, releases ? capturable : act->amount, act);
    if (st == K_OK && act->op == OP_CAPTURE && act->final && rest > 0) {
        gw_act release = {.op = OP_RELEASE};
        st = journal_row(tx, p, OP_RELEASE, rest, &release);
    }
    return st;
}

k_status gw_pi_ready_make(gw_payment *p, int64_t amount, gw_idem *idem, arena *a, gw_pi_ready *out)
{
    memset(out, 0, sizeof(*out));
    pay_entry e = {.op = OP_CREATE, .amount = amount};
    pay_refusal r = pay_apply(&p->m, &e);
    K_ASSERT(r == PAY_OK); /* a prepared intent is new: create is its first entry */
    K_ASSERT(pay_check(&p->m));
    out->amount = amount;
    json_t *doc = gw_payment_to_json(p);
    char *body = json_dumps(doc, JSON_COMPACT);
    if (body == NULL || arena_defer(a, free, body) != K_OK) {
        free(body);
        json_decref(doc);
        return K_ENOMEM;
    }
    out->body = body;
    k_status st =
        gw_event_prepare("payment_intent.created", "payment_intent", doc, a, &out->created_event);
    json_decref(doc);
    if (st == K_OK && idem != NULL && idem->key != NULL && idem->render != NULL) {
        out->idem = idem;
        out->answer = idem->render(idem, p, a);
        if (out->answer == NULL)
            st = K_ENOMEM;
    }
    return st;
}

k_status gw_pi_ready_insert_in_tx(store_tx *tx, gw_payment *p, const gw_pi_ready *r)
{
    gw_act act = {.op = OP_CREATE, .amount = r->amount};
    k_status st = journal_row(tx, p, OP_CREATE, r->amount, &act);
    if (st == K_OK) {
        store_obj o = payment_obj(p);
        o.body = r->body;
        o.version = p->version;
        st = store_obj_put(tx, &o);
        if (st == K_OK)
            p->version = o.version;
        if (st == K_OK)
            st = payment_terms_put(tx, p, true);
    }
    if (st == K_OK)
        st = gw_event_insert_in_tx(tx, p->merchant_id, p->id, &r->created_event);
    if (st == K_OK && r->answer != NULL)
        st = idem_put(tx, p->merchant_id, r->idem, 200, r->answer);
    return st;
}

/* ---- events and the outbox ---- */

k_status gw_emit_session(store_tx *tx, const gw_session *s, const char *type)
{
    json_t *doc = gw_session_to_json(s);
    k_status st = gw_emit(tx, s->merchant_id, type, "checkout.session", s->id, doc);
    json_decref(doc);
    return st;
}

k_status gw_session_paid_in_tx(store_tx *tx, const gw_payment *p, arena *a)
{
    gw_session s;
    k_status st = gw_load_session(tx, p->merchant_id, p->checkout_session, a, &s);
    if (st != K_OK || strcmp(s.status, "open") != 0)
        return st == K_ENOTFOUND ? K_OK : st;
    s.status = "complete";
    s.payment_status = p->m.state == PS_SUCCEEDED ? "paid" : "unpaid";
    s.customer_email = p->email;
    st = gw_save_session(tx, &s);
    return st == K_OK ? gw_emit_session(tx, &s, "checkout.session.completed") : st;
}

k_status gw_emit_payment(store_tx *tx, const gw_payment *p, const char *type)
{
    json_t *doc = gw_payment_to_json(p);
    k_status st = gw_emit(tx, p->merchant_id, type, "payment_intent", p->id, doc);
    json_decref(doc);
    return st;
}

void gw_prov_ref_of(const gw_payment *p, arena *a, prov_ref *ref)
{
    char cur[4];
    currency_upper(p->currency, cur);
    memset(ref, 0, sizeof(*ref));
    ref->attempt_id = p->latest_attempt;
    ref->provider_ref = p->provider_ref;
    ref->order_ref = p->order_ref;
    ref->currency = arena_strdup(a, cur);
    ref->country = p->country;
    ref->locale = p->locale;
    ref->manual_capture = p->manual_capture;
    ref->amount = p->m.authorized;
}

/* Does an endpoint's enabled_events include this type (or "*")? */
bool gw_subscribed(json_t *enabled, const char *type)
{
    size_t i;
    json_t *v;
    json_array_foreach(enabled, i, v)
    {
        const char *s = json_string_value(v);
        if (s != NULL && (strcmp(s, "*") == 0 || strcmp(s, type) == 0))
            return true;
    }
    return false;
}

k_status gw_event_prepare(const char *type, const char *kind, json_t *doc, arena *a,
                          gw_event_ready *out)
{
    memset(out, 0, sizeof(*out));
    id_new(out->id, "evt_");
    out->type = type;
    out->created = clock_now_s();
    json_t *ev = json_object();
    json_object_set_new(ev, "id", json_string(out->id));
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "created", json_integer(out->created));
    json_object_set_new(ev, "object_kind", json_string(kind));
    json_object_set(ev, "object", doc);
    const char *req = log_request_id();
    if (req[0] != '\0')
        json_object_set_new(ev, "request_id", json_string(req));
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (body == NULL || arena_defer(a, free, body) != K_OK) {
        free(body);
        return K_ENOMEM;
    }
    out->body = body;
    const char *cb = json_string_value(json_object_get(doc, "callback_url"));
    if (cb != NULL && cb[0] != '\0' && (out->callback_url = arena_strdup(a, cb)) == NULL)
        return K_ENOMEM;
    return K_OK;
}

k_status gw_emit(store_tx *tx, const char *merchant_id, const char *type, const char *kind,
                 const char *object_id, json_t *doc)
{
    arena a;
    arena_init(&a, 0);
    gw_event_ready e;
    k_status st = gw_event_prepare(type, kind, doc, &a, &e);
    if (st == K_OK)
        st = gw_event_insert_in_tx(tx, merchant_id, object_id, &e);
    arena_release(&a);
    return st;
}

k_status gw_event_insert_in_tx(store_tx *tx, const char *merchant_id, const char *object_id,
                               const gw_event_ready *e)
{
    const char *id = e->id;
    const char *type = e->type;
    store_obj o = {.merchant_id = merchant_id,
                   .id = id,
                   .kind = "event",
                   .parent_id = object_id,
                   .status = type,
                   .created = e->created,
                   .body = e->body};
    k_status st = store_obj_put(tx, &o);
    if (st != K_OK)
        return st;

    arena a;
    arena_init(&a, 0);
    store_obj *eps;
    size_t n;
    bool more;
    store_list_q q = {.limit = LIMIT_WEBHOOK_ENDPOINTS_MAX};
    st = store_obj_list(tx, merchant_id, "webhook_endpoint", &q, &a, &eps, &n, &more);
    for (size_t i = 0; st == K_OK && i < n; i++) {
        if (eps[i].status == NULL || strcmp(eps[i].status, "enabled") != 0)
            continue;
        json_t *ep = json_loads(eps[i].body, 0, NULL);
        bool want = gw_subscribed(json_object_get(ep, "enabled_events"), type);
        json_decref(ep);
        if (!want)
            continue;
        store_delivery d = {.merchant_id = merchant_id,
                            .event_id = id,
                            .endpoint_id = eps[i].id,
                            .state = "pending",
                            .next_at_ms = clock_now_ms(),
                            .created_ms = clock_now_ms()};
        st = store_delivery_add(tx, &d);
    }
    /* A payment with its own callback URL (ECommPay) gets its events there too,
     * through a virtual endpoint "cb:<object id>" the dispatcher resolves. */
    if (st == K_OK && e->callback_url != NULL) {
        char ep[LIMIT_ID_MAX + 4];
        snprintf(ep, sizeof(ep), "cb:%s", object_id);
        store_delivery d = {.merchant_id = merchant_id,
                            .event_id = id,
                            .endpoint_id = ep,
                            .state = "pending",
                            .next_at_ms = clock_now_ms(),
                            .created_ms = clock_now_ms()};
        st = store_delivery_add(tx, &d);
    }
    arena_release(&a);
    return st;
}
