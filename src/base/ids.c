/*
 * ids.c - Stripe-style prefixed random ids (see ids.h).
 *
 * Characters are base62 drawn from crypto_random by rejection sampling: a byte
 * is used only when below 248 (= 4 * 62), so byte % 62 is uniform (no modulo bias).
 * '0'-'9' < 'A'-'Z' < 'a'-'z' in ASCII, so the alphabet's order is byte order and a
 * base62 timestamp of fixed width sorts like the number.
 */
#include "ids.h"
#include "clock.h"
#include "crypto.h"

#include <string.h>
#include <time.h>

static const char ids_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define IDS_ALPHA_LEN    62
#define IDS_ACCEPT_BELOW (256 - 256 % IDS_ALPHA_LEN) /* 248 */

_Static_assert(sizeof(ids_alphabet) - 1 == IDS_ALPHA_LEN, "base62 alphabet");

/* Random bytes are drawn from the CSPRNG IDS_POOL bytes at a time per thread: one
 * RAND_bytes call (locks, a getpid for fork detection) per id was 4 % of the
 * writer's time during durable creates. Kassa never forks after start. */
#define IDS_POOL 512

static _Thread_local uint8_t ids_pool[IDS_POOL];
static _Thread_local size_t ids_pool_left;

static uint8_t ids_byte(void)
{
    if (ids_pool_left == 0) {
        k_status st = crypto_random(ids_pool, sizeof(ids_pool));
        K_ASSERT(st == K_OK); /* no CSPRNG: nothing safe to mint ids with */
        ids_pool_left = sizeof(ids_pool);
    }
    uint8_t b = ids_pool[IDS_POOL - ids_pool_left];
    ids_pool[IDS_POOL - ids_pool_left] = 0; /* a used byte does not stay in memory */
    ids_pool_left--;
    return b;
}

void id_new_n(char out[LIMIT_ID_MAX], const char *prefix, size_t n)
{
    K_ASSERT(out != NULL);
    K_ASSERT(prefix != NULL);
    size_t plen = strlen(prefix);
    K_ASSERT(plen < LIMIT_ID_MAX);
    K_ASSERT(n < LIMIT_ID_MAX - plen);
    memcpy(out, prefix, plen);
    size_t filled = 0;
    while (filled < n) {
        uint8_t r = ids_byte();
        if (r >= IDS_ACCEPT_BELOW)
            continue;
        out[plen + filled] = ids_alphabet[r % IDS_ALPHA_LEN];
        filled++;
    }
    out[plen + n] = '\0';
}

void id_new(char out[LIMIT_ID_MAX], const char *prefix)
{
    size_t plen = strlen(prefix);
    id_new_n(out, prefix, ID_RANDOM_LEN);
    /* the real wall clock, not the test clock: ordering is about when the row was written */
    uint64_t ms = (uint64_t)clock_wall_ms();
    for (size_t i = ID_TIME_LEN; i > 0; i--) {
        out[plen + i - 1] = ids_alphabet[ms % IDS_ALPHA_LEN];
        ms /= IDS_ALPHA_LEN;
    }
}

void id_secret(char out[LIMIT_ID_MAX], const char *prefix)
{
    _Static_assert(ID_SECRET_LEN * 5954 >= 128 * 1000, "a secret holds 128 bits (5.954 each)");
    id_new_n(out, prefix, ID_SECRET_LEN);
}

static bool id_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool id_valid(const char *s, const char *prefix)
{
    if (s == NULL)
        return false;
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    if (plen > 0 && strncmp(s, prefix, plen) != 0)
        return false;
    size_t len = strnlen(s, LIMIT_ID_MAX);
    if (len >= LIMIT_ID_MAX || len <= plen)
        return false;
    for (size_t i = plen; i < len; i++) {
        if (!id_char_ok(s[i]))
            return false;
    }
    return true;
}
