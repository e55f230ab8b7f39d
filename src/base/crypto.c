/*
 * crypto.c - Kassa's cryptography on OpenSSL 3 libcrypto and libsodium (see crypto.h).
 *
 * Only non-deprecated OpenSSL 3 interfaces: EVP_Digest, HMAC() one-shot,
 * EVP_DigestSign/Verify over PEM keys read through a memory BIO. Base64 is done
 * here (strict decoder: no whitespace, no stray characters) rather than with
 * EVP_DecodeBlock, which accepts whitespace and counts padding into its length.
 * Nothing here logs; key material never leaves these functions.
 */
#include "crypto.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

_Static_assert(crypto_pwhash_argon2id_STRBYTES <= 128, "argon2id string fits out[128]");

#define CRYPTO_RSA_SIG_MAX 1024 /* 8192-bit keys at most */

/* The server's master key (crypto_keyfile_load), and the pepper derived from
 * it. Until a key file is loaded (unit tests) the key is random per process. */
static uint8_t crypto_master[CRYPTO_KEY_LEN];
static uint8_t crypto_pepper[SHA256_LEN];
static uint8_t crypto_box_key[crypto_secretbox_KEYBYTES];
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_derive(void)
{
    static const char label[] = "kassa secret-key hash pepper v1";
    crypto_hmac_sha256(crypto_master, sizeof(crypto_master), label, sizeof(label) - 1,
                       crypto_pepper);
    static const char box_label[] = "kassa secrets-at-rest box key v1";
    _Static_assert(crypto_secretbox_KEYBYTES == SHA256_LEN, "an HMAC-SHA256 is a box key");
    crypto_hmac_sha256(crypto_master, sizeof(crypto_master), box_label, sizeof(box_label) - 1,
                       crypto_box_key);
}

static void crypto_ephemeral(void)
{
    randombytes_buf(crypto_master, sizeof(crypto_master));
    crypto_derive();
}

k_status crypto_init(void)
{
    if (sodium_init() < 0)
        return K_ERR;
    pthread_once(&crypto_once, crypto_ephemeral);
    return K_OK;
}

/* Reads 64 hex characters (and an optional newline) from fd into the master key. */
static k_status crypto_key_read(int fd, const char *path)
{
    char hex[2 * CRYPTO_KEY_LEN + 2];
    ssize_t n = read(fd, hex, sizeof(hex));
    size_t len = n > 0 ? (size_t)n : 0;
    while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
        len--;
    uint8_t key[CRYPTO_KEY_LEN];
    size_t got = 0;
    if (len != 2 * CRYPTO_KEY_LEN ||
        sodium_hex2bin(key, sizeof(key), hex, len, NULL, &got, NULL) != 0 || got != sizeof(key)) {
        log_error("crypto: key file '%s' must hold %d hex characters", path, 2 * CRYPTO_KEY_LEN);
        sodium_memzero(hex, sizeof(hex));
        return K_EINVAL;
    }
    memcpy(crypto_master, key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(hex, sizeof(hex));
    crypto_derive();
    return K_OK;
}

/* Creates path (0600, never over an existing file) with a new random key. */
static k_status crypto_key_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? K_ECONFLICT : K_EIO;
    uint8_t key[CRYPTO_KEY_LEN];
    char hex[2 * CRYPTO_KEY_LEN + 2];
    randombytes_buf(key, sizeof(key));
    sodium_bin2hex(hex, sizeof(hex) - 1, key, sizeof(key));
    size_t len = strlen(hex);
    hex[len++] = '\n';
    bool ok = write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0;
    ok &= close(fd) == 0;
    sodium_memzero(key, sizeof(key));
    sodium_memzero(hex, sizeof(hex));
    if (!ok) {
        unlink(path);
        return K_EIO;
    }
    log_info("crypto: created key file '%s' (mode 0600); back it up with the database", path);
    return K_OK;
}

k_status crypto_keyfile_load(const char *path)
{
    K_ASSERT(path != NULL);
    k_status st = crypto_init();
    if (st != K_OK)
        return st;
    st = crypto_key_create(path);
    if (st != K_OK && st != K_ECONFLICT) {
        log_error("crypto: cannot create key file '%s': %s", path, strerror(errno));
        return st;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        log_error("crypto: cannot open key file '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return K_EIO;
    }
    if ((sb.st_mode & 077) != 0)
        log_warn("crypto: key file '%s' is readable by others (mode %03o); chmod 600 it", path,
                 (unsigned)(sb.st_mode & 0777));
    st = crypto_key_read(fd, path);
    close(fd);
    return st;
}

void crypto_key_hash_hex(const char *secret, char out[SHA256_HEX_LEN])
{
    K_ASSERT(secret != NULL);
    K_ASSERT(out != NULL);
    pthread_once(&crypto_once, crypto_ephemeral);
    crypto_hmac_sha256_hex(crypto_pepper, sizeof(crypto_pepper), secret, strlen(secret), out);
}

void crypto_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
    K_ASSERT(p != NULL || n == 0);
    unsigned int len = 0;
    int ok = EVP_Digest(n > 0 ? p : "", n, out, &len, EVP_sha256(), NULL);
    K_ASSERT(ok == 1);
    K_ASSERT(len == SHA256_LEN);
}

void crypto_sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN])
{
    uint8_t md[SHA256_LEN];
    crypto_sha256(p, n, md);
    crypto_hex(md, sizeof(md), out);
}

/* One-shot HMAC; an empty key or message is passed as a valid pointer. */
static void crypto_hmac(const EVP_MD *md, const void *key, size_t keylen, const void *msg, size_t n,
                        uint8_t *out, unsigned int expect)
{
    K_ASSERT(key != NULL || keylen == 0);
    K_ASSERT(msg != NULL || n == 0);
    K_ASSERT(keylen <= INT32_MAX);
    unsigned int len = 0;
    unsigned char *r =
        HMAC(md, keylen > 0 ? key : "", (int)keylen,
             n > 0 ? (const unsigned char *)msg : (const unsigned char *)"", n, out, &len);
    K_ASSERT(r != NULL);
    K_ASSERT(len == expect);
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                        uint8_t out[SHA256_LEN])
{
    crypto_hmac(EVP_sha256(), key, keylen, msg, n, out, SHA256_LEN);
}

void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t n,
                            char out[SHA256_HEX_LEN])
{
    uint8_t mac[SHA256_LEN];
    crypto_hmac_sha256(key, keylen, msg, n, mac);
    crypto_hex(mac, sizeof(mac), out);
}

void crypto_hmac_sha512_b64(const void *key, size_t keylen, const void *msg, size_t n,
                            char out[SHA512_B64_LEN])
{
    uint8_t mac[SHA512_LEN];
    crypto_hmac(EVP_sha512(), key, keylen, msg, n, mac, SHA512_LEN);
    size_t len = crypto_b64_encode(mac, sizeof(mac), out);
    K_ASSERT(len == SHA512_B64_LEN - 1);
}

void crypto_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    K_ASSERT(out != NULL);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t crypto_b64_encode(const uint8_t *p, size_t n, char *out)
{
    K_ASSERT(out != NULL);
    K_ASSERT(p != NULL || n == 0);
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long crypto_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    K_ASSERT(s != NULL || n == 0);
    /* Padding is optional, but if present it must complete the last quantum. */
    size_t pad = 0;
    while (pad < 2 && n > 0 && s[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad > 0 && (n + pad) % 4 != 0)
        return -1;
    if (n % 4 == 1)
        return -1;
    size_t outlen = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (outlen > cap || outlen > LONG_MAX)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    K_ASSERT(o == outlen);
    return (long)o;
}

/* Test seam (crypto_random_fake_seed): ids and simulator references from a
 * seeded splitmix64 so the deterministic simulation replays a seed exactly.
 * Off (0) unless a test program turns it on; the server never does. */
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool fake_on;
static uint64_t fake_state;

void crypto_random_fake_seed(uint64_t seed)
{
    pthread_mutex_lock(&fake_mu);
    fake_on = true;
    fake_state = seed;
    pthread_mutex_unlock(&fake_mu);
}

static bool fake_fill(uint8_t *out, size_t n)
{
    if (!atomic_load(&fake_on))
        return false; /* the server: no lock taken */
    pthread_mutex_lock(&fake_mu);
    bool on = fake_on;
    for (size_t i = 0; on && i < n; i += 8) {
        uint64_t z = (fake_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(out + i, &z, k);
    }
    pthread_mutex_unlock(&fake_mu);
    return on;
}

k_status crypto_random(void *out, size_t n)
{
    K_ASSERT(out != NULL || n == 0);
    if (fake_fill(out, n))
        return K_OK;
    while (n > 0) {
        int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
        if (RAND_bytes(out, chunk) != 1)
            return K_ERR;
        out = (uint8_t *)out + chunk;
        n -= (size_t)chunk;
    }
    return K_OK;
}

bool crypto_eq(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}

bool crypto_streq(const char *a, const char *b)
{
    K_ASSERT(a != NULL);
    K_ASSERT(b != NULL);
    size_t la = strlen(a);
    size_t lb = strlen(b);
    unsigned char diff = la != lb;
    /* Walk all of b whatever a holds; past the end of a compare against 0. */
    for (size_t i = 0; i < lb; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        diff |= ca ^ (unsigned char)b[i];
    }
    return diff == 0;
}

static EVP_PKEY *crypto_read_key(const char *pem, bool private_key)
{
    if (pem == NULL)
        return NULL;
    size_t len = strlen(pem);
    if (len == 0 || len > INT32_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    EVP_PKEY *key = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                                : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key != NULL && !EVP_PKEY_is_a(key, "RSA")) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

k_status crypto_rsa_sign_b64(const char *priv_pem, const void *msg, size_t n, char *out, size_t cap)
{
    K_ASSERT(msg != NULL || n == 0);
    K_ASSERT(out != NULL);
    EVP_PKEY *key = crypto_read_key(priv_pem, true);
    if (key == NULL)
        return K_ERR;
    k_status st = K_ERR;
    uint8_t sig[CRYPTO_RSA_SIG_MAX];
    size_t siglen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto done;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
        goto done;
    if (EVP_DigestSign(ctx, NULL, &siglen, n > 0 ? msg : "", n) != 1 || siglen > sizeof(sig))
        goto done;
    if (EVP_DigestSign(ctx, sig, &siglen, n > 0 ? msg : "", n) != 1)
        goto done;
    if (4 * ((siglen + 2) / 3) + 1 > cap)
        goto done;
    crypto_b64_encode(sig, siglen, out);
    st = K_OK;
done:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return st;
}

bool crypto_rsa_verify_b64(const char *pub_pem, const void *msg, size_t n, const char *sig_b64)
{
    K_ASSERT(msg != NULL || n == 0);
    if (sig_b64 == NULL)
        return false;
    uint8_t sig[CRYPTO_RSA_SIG_MAX];
    long siglen = crypto_b64_decode(sig_b64, strlen(sig_b64), sig, sizeof(sig));
    if (siglen <= 0)
        return false;
    EVP_PKEY *key = crypto_read_key(pub_pem, false);
    if (key == NULL)
        return false;
    bool ok = false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1)
        ok = EVP_DigestVerify(ctx, sig, (size_t)siglen, n > 0 ? msg : "", n) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

k_status crypto_password_hash(const char *password, char out[128])
{
    K_ASSERT(password != NULL);
    K_ASSERT(out != NULL);
    memset(out, 0, 128);
    if (crypto_pwhash_argon2id_str(out, password, strlen(password),
                                   crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0)
        return K_ERR;
    return K_OK;
}

bool crypto_password_verify(const char *hash, const char *password)
{
    if (hash == NULL || password == NULL)
        return false;
    if (strnlen(hash, 128) >= 128)
        return false;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

bool crypto_is_sealed(const char *stored)
{
    return stored != NULL && strncmp(stored, CRYPTO_SEAL_PREFIX, 5) == 0;
}

k_status crypto_seal(const char *plain, char out[CRYPTO_SEALED_MAX])
{
    K_ASSERT(plain != NULL);
    K_ASSERT(out != NULL);
    size_t n = strlen(plain);
    if (n > CRYPTO_SEAL_PLAIN_MAX)
        return K_ETOOBIG;
    pthread_once(&crypto_once, crypto_ephemeral);
    uint8_t box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + CRYPTO_SEAL_PLAIN_MAX];
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const uint8_t *)plain, n, box,
                          crypto_box_key);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    memcpy(out, CRYPTO_SEAL_PREFIX, 5);
    size_t w = crypto_b64_encode(box, blen, out + 5);
    K_ASSERT(5 + w < CRYPTO_SEALED_MAX);
    sodium_memzero(box, sizeof(box));
    return K_OK;
}

k_status crypto_open(const char *stored, char *out, size_t cap)
{
    K_ASSERT(stored != NULL);
    K_ASSERT(out != NULL && cap > CRYPTO_SEAL_PLAIN_MAX);
    if (!crypto_is_sealed(stored)) {
        if (strlen(stored) >= cap)
            return K_ETOOBIG;
        memcpy(out, stored, strlen(stored) + 1);
        return K_OK;
    }
    pthread_once(&crypto_once, crypto_ephemeral);
    uint8_t box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + CRYPTO_SEAL_PLAIN_MAX];
    long blen = crypto_b64_decode(stored + 5, strlen(stored + 5), box, sizeof(box));
    long min = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    if (blen < min)
        return K_EINVAL;
    size_t n = (size_t)(blen - min);
    if (crypto_secretbox_open_easy((uint8_t *)out, box + crypto_secretbox_NONCEBYTES,
                                   (unsigned long long)(blen - crypto_secretbox_NONCEBYTES), box,
                                   crypto_box_key) != 0)
        return K_EINVAL;
    out[n] = '\0';
    return K_OK;
}

char *crypto_seal_alloc(const char *plain)
{
    K_ASSERT(plain != NULL);
    pthread_once(&crypto_once, crypto_ephemeral);
    size_t n = strlen(plain);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    uint8_t *box = malloc(blen);
    char *out = malloc(5 + 4 * ((blen + 2) / 3) + 1);
    if (box == NULL || out == NULL) {
        free(box);
        free(out);
        return NULL;
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const uint8_t *)plain, n, box,
                          crypto_box_key);
    memcpy(out, CRYPTO_SEAL_PREFIX, 5);
    crypto_b64_encode(box, blen, out + 5);
    free(box);
    return out;
}

char *crypto_open_alloc(const char *stored)
{
    K_ASSERT(stored != NULL);
    if (!crypto_is_sealed(stored))
        return strdup(stored);
    pthread_once(&crypto_once, crypto_ephemeral);
    size_t slen = strlen(stored + 5);
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *box = malloc(cap);
    long blen = box != NULL ? crypto_b64_decode(stored + 5, slen, box, cap) : -1;
    long min = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    char *out = blen >= min ? malloc((size_t)(blen - min) + 1) : NULL;
    bool ok = out != NULL &&
              crypto_secretbox_open_easy((uint8_t *)out, box + crypto_secretbox_NONCEBYTES,
                                         (unsigned long long)(blen - crypto_secretbox_NONCEBYTES),
                                         box, crypto_box_key) == 0;
    free(box);
    if (!ok) {
        free(out);
        return NULL;
    }
    out[blen - min] = '\0';
    return out;
}
