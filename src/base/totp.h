/*
 * totp.h - one-time passwords for staff sign-in: RFC 4226 HOTP and RFC 6238
 * TOTP (HMAC-SHA1, 30-second steps, 6 digits: what every authenticator app
 * reads from an otpauth:// URI), and the RFC 4648 base32 the URI carries.
 * Pure functions over OpenSSL's HMAC; the caller owns every buffer.
 */
#ifndef KASSA_TOTP_H
#define KASSA_TOTP_H

#include "common.h"

#define TOTP_STEP_S     30
#define TOTP_DIGITS     6
#define TOTP_SECRET_LEN 20 /* bytes: RFC 4226's recommended 160 bits */
#define TOTP_SECRET_B32 33 /* base32 of 20 bytes (32 chars) + NUL */

/* HOTP value of counter (digits 6..8), RFC 4226 section 5.3. */
uint32_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits);
/* The code of the step containing unix_s, with a SHA-1 key (RFC 6238). */
uint32_t totp_at(const uint8_t *key, size_t keylen, int64_t unix_s, int digits);
/* Checks a 6-digit code typed by a person against the steps now-window..now+window,
 * refusing steps <= last_step (a code is used once). On success *step_out is the
 * step that matched. */
bool totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t unix_s, int window,
                int64_t last_step, int64_t *step_out);

/* base32 without padding; out needs 8*ceil(n/5)+1 bytes. Returns the length. */
size_t totp_b32_encode(const uint8_t *p, size_t n, char *out, size_t cap);
/* Decodes base32 (case-insensitive, '=' and spaces ignored); -1 on a bad character
 * or when the result would not fit cap. */
long totp_b32_decode(const char *s, uint8_t *out, size_t cap);

#endif
