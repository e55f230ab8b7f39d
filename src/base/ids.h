/*
 * ids.h - prefixed random ids as Stripe mints them: pi_, re_, evt_, cs_, we_,
 * whsec_, sk_test_, pk_test_, acct_ ... followed by 24 base62 characters.
 *
 * id_new's first ID_TIME_LEN characters are the wall clock in milliseconds
 * (base62, most significant first) and the other 17 come from the CSPRNG
 * (101 bits: collisions are not a concern). Ids minted later sort after earlier
 * ones, so the store's unique indexes grow at their right edge: a commit of 30
 * new payments dirties a handful of index pages instead of 30 random ones (the
 * WAL writes were most of a durable create's cost; bench/RESULTS.md). Stripe's
 * own ids are time-ordered in the same way. id_new_n stays fully random (secrets
 * and request ids must not reveal when they were made).
 */
#ifndef KASSA_IDS_H
#define KASSA_IDS_H

#include "common.h"
#include "../limits.h"

#define ID_RANDOM_LEN 24
#define ID_TIME_LEN   7 /* 62^7 ms = 111 years from 1970 */

/* out must hold LIMIT_ID_MAX bytes; prefix includes its underscore ("pi_").
 * Time-ordered as above: for object ids, never for secrets. */
void id_new(char out[LIMIT_ID_MAX], const char *prefix);
/* Same with n random characters (n < LIMIT_ID_MAX - strlen(prefix)). */
void id_new_n(char out[LIMIT_ID_MAX], const char *prefix, size_t n);
/* A secret (sk_, pk_, whsec_, client_secret, attempt tokens): ID_SECRET_LEN
 * characters from the CSPRNG (142 bits), no timestamp: the same length as an
 * object id, so every place that holds one still fits. */
#define ID_SECRET_LEN 24
void id_secret(char out[LIMIT_ID_MAX], const char *prefix);
/* true when s is prefix + 1..LIMIT_ID_MAX-1 characters of [A-Za-z0-9_]. */
bool id_valid(const char *s, const char *prefix);

#endif
