/*
 * klarna.h - Kassa's Klarna connector: Klarna Payments sessions, the Hosted
 * Payment Page and Order Management over HTTP Basic auth and JSON (see
 * provider.h for the contract and providers.md §1-§3 for the wire format).
 *
 * Return values: K_OK whenever `out` describes what happened, including a
 * provider refusal (PR_FAILED with provider_code) and a call whose outcome is
 * unknown after LIMIT_PROVIDER_RETRIES retries (PR_UNKNOWN, retryable: the
 * same call with the same idempotency key is safe). K_EINVAL for a ref that
 * lacks what the call needs, K_ENOMEM when the arena is exhausted.
 */
#ifndef KASSA_KLARNA_H
#define KASSA_KLARNA_H

#include "provider.h"

extern const provider klarna_provider;

/* Reads Klarna's error body {error_code, error_messages[], correlation_id}
 * (or a singular error_message) answered with http_status into out:
 * provider_code, failure_message, failure_code, outcome (PR_FAILED for 4xx,
 * PR_UNKNOWN + retryable for 5xx and 429). Bodies that are not Klarna's
 * shape give provider_code "HTTP_<status>". Strings are arena-owned. */
k_status klarna_parse_error(long http_status, const char *body, size_t len, arena *a,
                            prov_result *out);

/* Per-call timeout for Klarna calls (0 = LIMIT_PROVIDER_TIMEOUT_MS); tests
 * and the sandbox set short ones. */
void klarna_set_timeout_ms(long timeout_ms);

#endif
