/*
 * totp.c - RFC 4226 HOTP, RFC 6238 TOTP and RFC 4648 base32 (see totp.h).
 */
#include "totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "crypto.h"

static const uint32_t totp_pow10[] = {1,      10,      100,      1000,     10000,
                                      100000, 1000000, 10000000, 100000000};

uint32_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits)
{
    K_ASSERT(key != NULL);
    K_ASSERT(digits >= 6 && digits <= 8);
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    uint8_t *ok = HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof msg, mac, &maclen);
    K_ASSERT(ok != NULL);
    K_ASSERT(maclen == 20);
    int off = mac[19] & 0x0f; /* dynamic truncation */
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    return bin % totp_pow10[digits];
}

uint32_t totp_at(const uint8_t *key, size_t keylen, int64_t unix_s, int digits)
{
    K_ASSERT(unix_s >= 0);
    return totp_hotp(key, keylen, (uint64_t)(unix_s / TOTP_STEP_S), digits);
}

/* The typed code as a number; false unless exactly six digits. */
static bool totp_parse(const char *code, uint32_t *out)
{
    if (code == NULL || strlen(code) != TOTP_DIGITS)
        return false;
    uint32_t v = 0;
    for (const char *p = code; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint32_t)(*p - '0');
    }
    *out = v;
    return true;
}

bool totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t unix_s, int window,
                int64_t last_step, int64_t *step_out)
{
    K_ASSERT(window >= 0 && window <= 10);
    uint32_t want;
    if (!totp_parse(code, &want))
        return false;
    int64_t now_step = unix_s / TOTP_STEP_S;
    bool hit = false;
    /* Every candidate is computed (no early exit): the time taken says nothing. */
    for (int64_t s = now_step - window; s <= now_step + window; s++) {
        uint32_t v = totp_hotp(key, keylen, (uint64_t)s, TOTP_DIGITS);
        bool eq = crypto_eq(&v, &want, sizeof v);
        if (eq && s > last_step && !hit) {
            hit = true;
            *step_out = s;
        }
    }
    return hit;
}

static const char totp_b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t totp_b32_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
    K_ASSERT(cap >= (n * 8 + 4) / 5 + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = totp_b32_alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = totp_b32_alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return o;
}

static int totp_b32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    const char *hit = c != '\0' ? strchr(totp_b32_alphabet, c) : NULL;
    return hit != NULL ? (int)(hit - totp_b32_alphabet) : -1;
}

long totp_b32_decode(const char *s, uint8_t *out, size_t cap)
{
    K_ASSERT(s != NULL && out != NULL);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '=' || *p == ' ')
            continue;
        int v = totp_b32_value(*p);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)((acc >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return (long)o;
}
