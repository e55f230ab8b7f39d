/*
 * crypto.h - the cryptography Kassa needs, on OpenSSL libcrypto and libsodium:
 * HMACs for Stripe-Signature and ECommPay signatures, SHA-256 for key hashes and
 * request fingerprints, base64/hex, random bytes, constant-time comparison,
 * RSA-SHA256 (PKCS#1 v1.5) for Antom/Alipay+, argon2id for staff passwords.
 *
 * Output buffers are sized by the caller with the *_LEN constants; functions
 * return K_OK or K_ERR (and never log key material).
 */
#ifndef KASSA_CRYPTO_H
#define KASSA_CRYPTO_H

#include "common.h"

#define SHA256_LEN     32
#define SHA512_LEN     64
#define SHA256_HEX_LEN 65 /* 64 hex + NUL */
#define SHA512_B64_LEN 89 /* 88 base64 + NUL */

#define CRYPTO_KEY_LEN 32 /* the server's master key (key file: 64 hex characters) */

k_status crypto_init(void); /* once at start (libsodium) */

/* Loads the server's master key from path, creating the file (mode 0600, a new
 * random key) when it does not exist. Every command that opens the database
 * loads it first; nodes sharing a PostgreSQL database share the file. Until
 * it is loaded the key is random per process. K_OK, K_EINVAL (bad content) or
 * K_EIO, logged. */
k_status crypto_keyfile_load(const char *path);
/* The stored form of a secret API key: HMAC-SHA256 keyed with a pepper derived
 * from the master key, so a copy of the database alone cannot test guesses. */
void crypto_key_hash_hex(const char *secret, char out[SHA256_HEX_LEN]);

/* Secrets at rest (webhook signing secrets, ECommPay project secrets):
 * "enc1:" + base64(nonce || XSalsa20-Poly1305 box) under a key derived from the
 * master key (libsodium crypto_secretbox). Plain texts up to CRYPTO_SEAL_PLAIN_MAX
 * bytes; out needs CRYPTO_SEALED_MAX. */
#define CRYPTO_SEAL_PLAIN_MAX 512
#define CRYPTO_SEALED_MAX     (5 + 4 * ((24 + 16 + CRYPTO_SEAL_PLAIN_MAX + 2) / 3) + 1)
#define CRYPTO_SEAL_PREFIX    "enc1:"
k_status crypto_seal(const char *plain, char out[CRYPTO_SEALED_MAX]);
/* Opens what crypto_seal wrote into out (cap >= CRYPTO_SEAL_PLAIN_MAX + 1).
 * A text without the prefix (a row stored before encryption) is copied as is.
 * K_EINVAL when the box does not open (another key, tampered). */
k_status crypto_open(const char *stored, char *out, size_t cap);
bool crypto_is_sealed(const char *stored);
/* The same for texts of any length (stored idempotent answers): malloc'd
 * results the caller frees; NULL on no memory or, opening, a box that does not
 * open. A text without the prefix is returned as a copy. */
char *crypto_seal_alloc(const char *plain);
char *crypto_open_alloc(const char *stored);

void crypto_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
void crypto_sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                        uint8_t out[SHA256_LEN]);
void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t n,
                            char out[SHA256_HEX_LEN]);
void crypto_hmac_sha512_b64(const void *key, size_t keylen, const void *msg, size_t n,
                            char out[SHA512_B64_LEN]);

void crypto_hex(const uint8_t *p, size_t n, char *out); /* out: 2n+1 bytes */
/* Standard alphabet with padding; out needs 4*((n+2)/3)+1 bytes. Returns length. */
size_t crypto_b64_encode(const uint8_t *p, size_t n, char *out);
/* Returns decoded length, or -1 on bad input or when out (cap) is too small. */
long crypto_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

k_status crypto_random(void *out, size_t n);
/* Tests only (the deterministic simulation): crypto_random answers a seeded,
 * NOT random stream from now on. Never called by the server. */
void crypto_random_fake_seed(uint64_t seed);
bool crypto_eq(const void *a, const void *b, size_t n); /* constant time */
bool crypto_streq(const char *a, const char *b);        /* constant time in len(b) */

/* RSA-SHA256 PKCS#1 v1.5. Keys are PEM text (private: PKCS#8 or PKCS#1; public: SPKI).
 * sign writes base64 into out (cap bytes). verify takes base64. */
k_status crypto_rsa_sign_b64(const char *priv_pem, const void *msg, size_t n, char *out,
                             size_t cap);
bool crypto_rsa_verify_b64(const char *pub_pem, const void *msg, size_t n, const char *sig_b64);

/* argon2id (libsodium crypto_pwhash_str); out needs 128 bytes. */
k_status crypto_password_hash(const char *password, char out[128]);
bool crypto_password_verify(const char *hash, const char *password);

#endif
