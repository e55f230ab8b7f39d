/*
 * budget.c - the per-merchant limit on calls that reach a provider which caps
 * them. Klarna limits the requests of one account to about 360 a minute and
 * answers more with HTTP 400 or 402 (seed 001, Stripe's Klarna documentation):
 * Kassa counts each merchant's Klarna-backed calls (confirm, capture, cancel,
 * refund, and the order actions) and refuses the one past the limit itself,
 * before anything is written or sent, with 400 `rate_limit` saying when to
 * retry, as Stripe answers it.
 *
 * A sliding window of two one-minute counters per (merchant, provider). On
 * PostgreSQL the counters are the store's (store_limit_window), shared by
 * every node, so the limit holds whichever node a call lands on; on SQLite (one
 * node), or while the database cannot be asked, they are a fixed table on this
 * node. Time is Kassa's clock, so a test clock jump opens a new minute. A slot
 * whose merchant was not seen for two minutes is free again; when the table is
 * full the oldest slot is reused (its merchant starts counting afresh).
 */
#include <pthread.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"

#define BUDGET_WINDOW_MS 60000

typedef struct {
    char key[LIMIT_ID_MAX + 24]; /* "budget:merchant:provider"; "" = free */
    int64_t window_ms;           /* start of the current minute */
    int64_t cur, prev;           /* calls in the current and the previous minute */
} budget_slot;

static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static budget_slot budget_slots[LIMIT_BUDGET_SLOTS];

/* The limit a provider's calls have per merchant and minute; 0 = none. */
static int64_t budget_limit(const gw *g, const char *pname)
{
    return pname != NULL && strcmp(pname, "klarna") == 0 ? g->cfg.klarna_per_min : 0;
}

static budget_slot *budget_find(const char *key, int64_t now)
{
    budget_slot *oldest = &budget_slots[0];
    for (size_t i = 0; i < LIMIT_BUDGET_SLOTS; i++) {
        budget_slot *s = &budget_slots[i];
        if (strcmp(s->key, key) == 0)
            return s;
        if (s->window_ms < oldest->window_ms)
            oldest = s;
    }
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->key, sizeof(oldest->key), "%s", key);
    oldest->window_ms = now;
    return oldest;
}

/* Takes one call from the merchant's minute; false with *retry_s when spent. */
static bool budget_take(const char *key, int64_t limit, int64_t *retry_s)
{
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&budget_mu);
    budget_slot *s = budget_find(key, now);
    int64_t passed = now - s->window_ms;
    if (passed >= 2 * BUDGET_WINDOW_MS) {
        s->prev = s->cur = 0;
        s->window_ms = now;
        passed = 0;
    } else if (passed >= BUDGET_WINDOW_MS) {
        s->prev = s->cur;
        s->cur = 0;
        s->window_ms += BUDGET_WINDOW_MS;
        passed -= BUDGET_WINDOW_MS;
    }
    K_ASSERT(passed >= 0);
    K_ASSERT(passed < BUDGET_WINDOW_MS);
    /* The previous minute weighs by how much of it the sliding window still covers. */
    int64_t used = s->cur + s->prev * (BUDGET_WINDOW_MS - passed) / BUDGET_WINDOW_MS;
    bool ok = used < limit;
    if (ok)
        s->cur++;
    *retry_s = (BUDGET_WINDOW_MS - passed + 999) / 1000;
    pthread_mutex_unlock(&budget_mu);
    return ok;
}

k_status gw_budget_take(gw *g, const char *merchant_id, const char *pname, gw_err *err)
{
    K_ASSERT(g != NULL);
    K_ASSERT(merchant_id != NULL);
    int64_t limit = budget_limit(g, pname);
    if (limit <= 0)
        return K_OK;
    char key[LIMIT_ID_MAX + 24];
    snprintf(key, sizeof(key), "budget:%s:%s", merchant_id, pname);
    int64_t retry_s = 0;
    bool ok = false;
    int64_t wait_ms = 0;
    if (store_limits_shared(g->st) &&
        store_limit_window(g->st, key, limit, clock_now_ms(), &ok, &wait_ms) == K_OK)
        retry_s = (wait_ms + 999) / 1000;
    else
        ok = budget_take(key, limit, &retry_s);
    if (ok)
        return K_OK;
    gw_err_set(err, GW_WHY_RATE_LIMITED, NULL,
               "Too many requests to %s for this account: at most %lld a minute (the "
               "provider's limit). Nothing was done; retry in %lld seconds.",
               strcmp(pname, "klarna") == 0 ? "Klarna" : pname, (long long)limit,
               (long long)retry_s);
    return K_EBUSY;
}

k_status gw_budget_take_for(gw *g, const char *merchant_id, const char *payment_id, arena *a,
                            gw_err *err)
{
    gw_payment p;
    gw_err ignored;
    memset(&ignored, 0, sizeof(ignored));
    if (payment_id == NULL || g->cfg.klarna_per_min <= 0 ||
        gw_pi_get(g, merchant_id, payment_id, a, &p, &ignored) != K_OK || p.method_type == NULL)
        return K_OK; /* the use case itself says what is wrong with the id */
    const rule_method *rm = rules_method_find(&g->rules, p.method_type);
    return gw_budget_take(g, merchant_id, rm != NULL ? rm->provider : NULL, err);
}
