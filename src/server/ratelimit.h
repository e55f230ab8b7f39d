/*
 * ratelimit.h - token buckets keyed by a string (a merchant id, a client
 * address), for the server's per-merchant request limit and its limit on
 * failed authentications per source address.
 *
 * A bucket holds up to `burst` tokens and gains `per_minute` tokens a minute;
 * a request takes one. Buckets live in a fixed table (LIMIT_RATELIMIT_KEYS_MAX
 * keys, 4-way set-associative, least recently used replaced), so memory is
 * bounded whatever the number of keys; keys are hashed with a random SipHash
 * key so nobody can aim collisions at a bucket. Thread-safe (striped locks).
 * Several nodes share one count when the limiter is given shared buckets
 * (rl_share); the table is then the fallback while they cannot be reached.
 */
#ifndef KASSA_RATELIMIT_H
#define KASSA_RATELIMIT_H

#include "../base/common.h"

typedef struct ratelimit ratelimit;

/* NULL when per_minute or burst is 0 (the limit is off) or on no memory. */
ratelimit *rl_new(int64_t per_minute, int64_t burst);
void rl_free(ratelimit *rl);

/* Takes one token for key at now_ms: true when there was one. When there was
 * none, *retry_after_s is the wait in whole seconds (>= 1) until there is.
 * A NULL rl always allows. */
bool rl_take(ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_after_s);
/* Like rl_take without taking: is there a token now? */
bool rl_peek(ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_after_s);

/* A bucket kept elsewhere, shared by every node (the store on PostgreSQL):
 * takes (take) or looks for a token of bucket key with the limiter's rate and
 * burst; K_OK with *ok (and *retry_after_ms when not); any other status and
 * the limiter counts this request in its own table instead. */
typedef k_status (*rl_shared_fn)(void *ctx, const char *key, int64_t per_minute, int64_t burst,
                                 bool take, bool *ok, int64_t *retry_after_ms);
/* From now on rl counts in fn's buckets, keyed "<prefix>:<key>". Call before
 * the limiter is used by other threads. A NULL rl is left off. */
void rl_share(ratelimit *rl, const char *prefix, rl_shared_fn fn, void *ctx);

#endif
