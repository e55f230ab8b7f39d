/*
 * ratelimit.c - fixed-size token-bucket table (see ratelimit.h).
 *
 * Amounts are kept in "units" so that refilling is integer arithmetic: one
 * token is 60,000 units and a bucket gains per_minute units every millisecond
 * (per_minute tokens a minute). A key never seen, or evicted, starts full.
 */
#include "ratelimit.h"
#include "../limits.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_WAYS    4
#define RL_SETS    (LIMIT_RATELIMIT_KEYS_MAX / RL_WAYS)
#define RL_STRIPES 64
#define RL_TOKEN_UNITS                                                                             \
    60000 /* ms in a minute: per_minute units a ms is per_minute tokens a minute */

_Static_assert(LIMIT_RATELIMIT_KEYS_MAX % (RL_WAYS * RL_STRIPES) == 0, "sets split into stripes");

typedef struct {
    uint64_t hash; /* 0 = free */
    int64_t units;
    int64_t last_ms;
} rl_bucket;

struct ratelimit {
    rl_shared_fn shared; /* NULL: this table only */
    void *shared_ctx;
    char prefix[16];
    int64_t per_minute;
    int64_t burst;
    int64_t cap_units;
    unsigned char key[crypto_shorthash_KEYBYTES];
    pthread_mutex_t mu[RL_STRIPES];
    rl_bucket b[RL_SETS][RL_WAYS];
};

ratelimit *rl_new(int64_t per_minute, int64_t burst)
{
    if (per_minute <= 0 || burst <= 0)
        return NULL;
    K_ASSERT(burst <= LIMIT_RATE_BURST_MAX);
    K_ASSERT(per_minute <= LIMIT_RATE_PER_MIN_MAX);
    ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->per_minute = per_minute;
    rl->burst = burst;
    rl->cap_units = burst * RL_TOKEN_UNITS;
    randombytes_buf(rl->key, sizeof(rl->key));
    for (size_t i = 0; i < RL_STRIPES; i++)
        pthread_mutex_init(&rl->mu[i], NULL);
    return rl;
}

void rl_share(ratelimit *rl, const char *prefix, rl_shared_fn fn, void *ctx)
{
    K_ASSERT(prefix != NULL);
    if (rl == NULL)
        return;
    snprintf(rl->prefix, sizeof(rl->prefix), "%s", prefix);
    rl->shared_ctx = ctx;
    rl->shared = fn;
}

/* The shared bucket's answer; false when it could not be had (count here). */
static bool rl_shared_step(ratelimit *rl, const char *key, bool take, bool *ok,
                           int64_t *retry_after_s)
{
    char k[LIMIT_ID_MAX * 2];
    int n = snprintf(k, sizeof(k), "%s:%s", rl->prefix, key);
    if (n < 0 || (size_t)n >= sizeof(k))
        return false;
    int64_t wait_ms = 0;
    if (rl->shared(rl->shared_ctx, k, rl->per_minute, rl->burst, take, ok, &wait_ms) != K_OK)
        return false;
    if (!*ok)
        *retry_after_s = wait_ms > 1000 ? (wait_ms + 999) / 1000 : 1;
    return true;
}

void rl_free(ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < RL_STRIPES; i++)
        pthread_mutex_destroy(&rl->mu[i]);
    free(rl);
}

static uint64_t rl_hash(const ratelimit *rl, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), rl->key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h == 0 ? 1 : h;
}

/* The key's bucket in its set, refilled to now; a new or evicted key starts full.
 * Called with the set's stripe locked. */
static rl_bucket *rl_find(ratelimit *rl, uint64_t h, int64_t now_ms)
{
    rl_bucket *set = rl->b[h % RL_SETS];
    rl_bucket *victim = &set[0];
    for (size_t i = 0; i < RL_WAYS; i++) {
        if (set[i].hash == h) {
            rl_bucket *b = &set[i];
            int64_t dt = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
            /* dt * per_minute cannot overflow before the bucket is full */
            if (dt >= rl->cap_units / rl->per_minute + 1)
                b->units = rl->cap_units;
            else
                b->units = b->units + dt * rl->per_minute > rl->cap_units
                               ? rl->cap_units
                               : b->units + dt * rl->per_minute;
            b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
            return b;
        }
        if (set[i].hash == 0 || set[i].last_ms < victim->last_ms)
            victim = &set[i];
        if (set[i].hash == 0)
            break;
    }
    victim->hash = h;
    victim->units = rl->cap_units;
    victim->last_ms = now_ms;
    return victim;
}

static bool rl_step(ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_after_s,
                    bool take)
{
    K_ASSERT(key != NULL);
    K_ASSERT(retry_after_s != NULL);
    *retry_after_s = 0;
    if (rl == NULL)
        return true;
    bool shared_ok = true;
    if (rl->shared != NULL && rl_shared_step(rl, key, take, &shared_ok, retry_after_s))
        return shared_ok;
    uint64_t h = rl_hash(rl, key);
    pthread_mutex_t *mu = &rl->mu[(h % RL_SETS) % RL_STRIPES];
    pthread_mutex_lock(mu);
    rl_bucket *b = rl_find(rl, h, now_ms);
    bool ok = b->units >= RL_TOKEN_UNITS;
    if (ok && take)
        b->units -= RL_TOKEN_UNITS;
    int64_t missing = ok ? 0 : RL_TOKEN_UNITS - b->units;
    pthread_mutex_unlock(mu);
    K_ASSERT(missing >= 0);
    if (!ok) {
        int64_t wait_ms = (missing + rl->per_minute - 1) / rl->per_minute;
        *retry_after_s = wait_ms > 1000 ? (wait_ms + 999) / 1000 : 1;
    }
    return ok;
}

bool rl_take(ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_after_s)
{
    return rl_step(rl, key, now_ms, retry_after_s, true);
}

bool rl_peek(ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_after_s)
{
    return rl_step(rl, key, now_ms, retry_after_s, false);
}
