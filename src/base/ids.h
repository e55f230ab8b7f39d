/*
 * ids.h - prefixed random ids as Stripe mints them: pi_, re_, evt_, cs_, we_,
 * whsec_, sk_test_, pk_test_, acct_ ... followed by 24 base62 characters from
 * the system CSPRNG (143 bits: collisions are not a concern).
 */
#ifndef KASSA_IDS_H
#define KASSA_IDS_H

#include "common.h"
#include "../limits.h"

#define ID_RANDOM_LEN 24

/* out must hold LIMIT_ID_MAX bytes; prefix includes its underscore ("pi_"). */
void id_new(char out[LIMIT_ID_MAX], const char *prefix);
/* Same with n random characters (n < LIMIT_ID_MAX - strlen(prefix)). */
void id_new_n(char out[LIMIT_ID_MAX], const char *prefix, size_t n);
/* true when s is prefix + 1..LIMIT_ID_MAX-1 characters of [A-Za-z0-9_]. */
bool id_valid(const char *s, const char *prefix);

#endif
