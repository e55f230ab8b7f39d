/*
 * ecp_sign.h - ECommPay's signature, byte for byte as the official `ecommpay`
 * npm package computes it (wire-formats.md §A1): the parameters flattened to
 * "path:value" leaves joined by ';', integer-like keys first in numeric order
 * then the rest in UTF-16 order, frame_mode skipped at every depth, null as
 * "", true/false as 1/0, numbers as JavaScript prints them; then
 * Base64(HMAC-SHA512(secret, string)).
 *
 * Verification removes every key named "signature" at any depth (as the
 * package's Callback does) and compares in constant time. Pure: no I/O.
 */
#ifndef KASSA_ECP_SIGN_H
#define KASSA_ECP_SIGN_H

#include <jansson.h>
#include "../../base/buf.h"
#include "../../base/common.h"
#include "../../base/crypto.h"

/* Appends the string-to-sign of params to out. drop_signature: skip every
 * "signature" key (verification). K_ETOOBIG past LIMIT_NESTING_MAX levels or
 * out's maximum; K_EINVAL when params is not an object or array. */
k_status ecp_canon(json_t *params, bool drop_signature, buf *out);

/* The string-to-sign as paymentpage-sdk-php's SignatureHandler builds it:
 * whole flattened paths (':' inside a key doubled), sorted once by PHP's
 * ksort(SORT_NATURAL), floats as PHP prints them. Differs from ecp_canon only
 * in corner cases ("item2" < "item10", "a-x" < "a:b", keys holding ':'). */
k_status ecp_canon_php(json_t *params, bool drop_signature, buf *out);

/* PHP's strnatcmp over byte ranges (case-sensitive, leading zeros and
 * whitespace as PHP 8 treats them). */
int ecp_natcmp(const char *a, size_t an, const char *b, size_t bn);

/* Signs params (its own "signature" keys are skipped) into out. */
k_status ecp_sign(const char *secret, json_t *params, char out[SHA512_B64_LEN]);

/* true when signature matches params signed with secret (every "signature"
 * key in params ignored), canonicalised as the npm package or as
 * paymentpage-sdk-php does. A NULL or empty signature never matches. */
bool ecp_verify(const char *secret, json_t *params, const char *signature);

/* A Payment Page query string as a flat object of strings (caller decrefs):
 * '+' and %20 both decode to a space; a repeated key keeps its last value.
 * NULL on a malformed escape or past LIMIT_PARAMS_MAX / value limits. */
json_t *ecp_query_decode(const char *query);

/* Verifies Payment Page parameters as the package signed them: the
 * "signature" value against the others, with "true"/"True" read as 1 and
 * "false"/"False" as 0, and "_"-prefixed keys (unsigned plugin markers)
 * left out. */
bool ecp_verify_query(const char *secret, json_t *query);

/* JavaScript's Number#toString of a double, for canonicalisation. */
void ecp_js_number(double v, char *out, size_t cap);

#endif
