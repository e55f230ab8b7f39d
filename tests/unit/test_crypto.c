/*
 * test_crypto.c - base/crypto.c against published and pinned vectors: the Stripe
 * webhook signature from the stripe-node probe, the ECommPay SDK's HMAC-SHA512
 * example, FIPS/RFC digests and base64, plus RSA and argon2id round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/crypto.h"

/* The exact payload stripe-node signed in reference/probes/stripe-client-probe.js
 * (JSON.stringify of the event, api_version 2026-10-28.endive, pi_mock1). */
static const char stripe_payload[] =
    "{\"id\":\"evt_probe_1\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\","
    "\"api_version\":\"2026-10-28.endive\",\"created\":1700000000,\"livemode\":false,"
    "\"pending_webhooks\":1,\"request\":{\"id\":null,\"idempotency_key\":null},"
    "\"data\":{\"object\":{\"id\":\"pi_mock1\",\"object\":\"payment_intent\","
    "\"status\":\"succeeded\"}}}";

static void test_stripe_webhook_vector(void **state)
{
    (void)state;
    char msg[1024];
    int n = snprintf(msg, sizeof(msg), "%d.%s", 1700000000, stripe_payload);
    assert_true(n > 0 && (size_t)n < sizeof(msg));
    const char *secret = "whsec_test_secret";
    char hex[SHA256_HEX_LEN];
    crypto_hmac_sha256_hex(secret, strlen(secret), msg, (size_t)n, hex);
    assert_string_equal(hex, "143ccb8881e7dd74d3ce699fa397efe2f1071228a431533793083ea8e7841118");

    /* Wrong secret or one changed byte: a different signature. */
    crypto_hmac_sha256_hex("whsec_other", 11, msg, (size_t)n, hex);
    assert_string_not_equal(hex,
                            "143ccb8881e7dd74d3ce699fa397efe2f1071228a431533793083ea8e7841118");
    msg[n - 2] = ']';
    crypto_hmac_sha256_hex(secret, strlen(secret), msg, (size_t)n, hex);
    assert_string_not_equal(hex,
                            "143ccb8881e7dd74d3ce699fa397efe2f1071228a431533793083ea8e7841118");
}

static void test_ecommpay_vector(void **state)
{
    (void)state;
    /* wire-formats.md A1 worked example (paymentpage-sdk-js __tests__/data/signed.js) */
    const char *s = "card:card_holder:John Smith;card:cvv:123;card:month:8;"
                    "card:pan:4242424242424242;card:save:1;card:year:2020;customer:id:sutm_id;"
                    "customer:project_id:0";
    char sig[SHA512_B64_LEN];
    crypto_hmac_sha512_b64("secret", 6, s, strlen(s), sig);
    assert_string_equal(sig, "lY0LTSAzpR7zGce5qfYGacOuYlHGWqkMcQlqmjlsDDZI2gVcE1qVeWANnkIR7mdOqRXJn"
                             "L1kO0lUmkQ0YYLWRg==");
    assert_int_equal(strlen(sig), SHA512_B64_LEN - 1);
}

static void test_digests(void **state)
{
    (void)state;
    char hex[SHA256_HEX_LEN];
    crypto_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 4231 test case 2 */
    const char *data = "what do ya want for nothing?";
    crypto_hmac_sha256_hex("Jefe", 4, data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t raw[SHA256_LEN];
    crypto_hmac_sha256("Jefe", 4, data, strlen(data), raw);
    assert_int_equal(raw[0], 0x5b);
    assert_int_equal(raw[31], 0x43);

    const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    char h[9];
    crypto_hex(bytes, sizeof(bytes), h);
    assert_string_equal(h, "000fa0ff");
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 section 10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = crypto_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);
        assert_int_equal(n, strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        uint8_t dec[16];
        long m = crypto_b64_decode(enc[i], strlen(enc[i]), dec, sizeof(dec));
        assert_int_equal(m, (long)strlen(plain[i]));
        assert_memory_equal(dec, plain[i], (size_t)m);
        /* unpadded input decodes the same */
        size_t unpadded = strcspn(enc[i], "=");
        m = crypto_b64_decode(enc[i], unpadded, dec, sizeof(dec));
        assert_int_equal(m, (long)strlen(plain[i]));
    }
    uint8_t dec[64];
    assert_int_equal(crypto_b64_decode("Zm9v!A==", 8, dec, sizeof(dec)), -1);
    assert_int_equal(crypto_b64_decode("Z", 1, dec, sizeof(dec)), -1);
    assert_int_equal(crypto_b64_decode("Zg=", 3, dec, sizeof(dec)), -1);
    assert_int_equal(crypto_b64_decode("Zm9v\nYmFy", 9, dec, sizeof(dec)), -1);
    assert_int_equal(crypto_b64_decode("=Zg=", 4, dec, sizeof(dec)), -1);
    assert_int_equal(crypto_b64_decode("Zm9vYmFy", 8, dec, 5), -1); /* cap too small */
    assert_int_equal(crypto_b64_decode("Zm9vYmFy", 8, dec, 6), 6);

    /* random round trips at every length up to 300 */
    for (size_t len = 0; len <= 300; len++) {
        uint8_t in[300], back[300];
        char out[4 * ((300 + 2) / 3) + 1];
        assert_int_equal(crypto_random(in, len), K_OK);
        size_t n = crypto_b64_encode(in, len, out);
        assert_int_equal(n, 4 * ((len + 2) / 3));
        assert_int_equal(crypto_b64_decode(out, n, back, sizeof(back)), (long)len);
        assert_memory_equal(in, back, len);
    }
}

static void test_random_and_compare(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(crypto_random(a, sizeof(a)), K_OK);
    assert_int_equal(crypto_random(b, sizeof(b)), K_OK);
    assert_false(crypto_eq(a, zero, sizeof(a)));
    assert_false(crypto_eq(a, b, sizeof(a)));
    assert_true(crypto_eq(a, a, sizeof(a)));
    assert_true(crypto_eq(a, b, 0));

    assert_true(crypto_streq("sk_test_abc", "sk_test_abc"));
    assert_false(crypto_streq("sk_test_abc", "sk_test_abd"));
    assert_false(crypto_streq("sk_test_ab", "sk_test_abc"));
    assert_false(crypto_streq("sk_test_abcd", "sk_test_abc"));
    assert_false(crypto_streq("", "x"));
    assert_true(crypto_streq("", ""));
}

/* PEM text of key, written by writer into a fresh string (caller frees). */
static char *pem_of(EVP_PKEY *key, int kind)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    int ok = 0;
    if (kind == 0)
        ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL); /* PKCS#8 */
    else if (kind == 1)
        ok = PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_bio_PUBKEY(bio, key);
    assert_int_equal(ok, 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

static void test_rsa_sign_verify(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(key);
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(other);
    char *priv8 = pem_of(key, 0);
    char *priv1 = pem_of(key, 1);
    char *pub = pem_of(key, 2);
    char *other_pub = pem_of(other, 2);
    assert_non_null(strstr(priv8, "BEGIN PRIVATE KEY"));
    assert_non_null(strstr(priv1, "BEGIN RSA PRIVATE KEY"));

    const char *msg = "POST /ams/api/v1/payments/pay\nclient-id.2024-01-01T00:00:00Z.{}";
    char sig[512], sig1[512];
    assert_int_equal(crypto_rsa_sign_b64(priv8, msg, strlen(msg), sig, sizeof(sig)), K_OK);
    assert_int_equal(strlen(sig), 344); /* 256 bytes of signature */
    assert_int_equal(crypto_rsa_sign_b64(priv1, msg, strlen(msg), sig1, sizeof(sig1)), K_OK);
    assert_string_equal(sig, sig1); /* PKCS#1 v1.5 is deterministic */
    assert_true(crypto_rsa_verify_b64(pub, msg, strlen(msg), sig));

    /* tampered message, tampered signature, wrong key, garbage */
    char bad[128];
    snprintf(bad, sizeof(bad), "%s", msg);
    bad[5] ^= 1;
    assert_false(crypto_rsa_verify_b64(pub, bad, strlen(bad), sig));
    char badsig[512];
    snprintf(badsig, sizeof(badsig), "%s", sig);
    badsig[10] = badsig[10] == 'A' ? 'B' : 'A';
    assert_false(crypto_rsa_verify_b64(pub, msg, strlen(msg), badsig));
    assert_false(crypto_rsa_verify_b64(other_pub, msg, strlen(msg), sig));
    assert_false(crypto_rsa_verify_b64(pub, msg, strlen(msg), "not base64!"));
    assert_false(crypto_rsa_verify_b64("garbage", msg, strlen(msg), sig));
    assert_false(crypto_rsa_verify_b64(priv8, msg, strlen(msg), sig)); /* not SPKI */
    assert_int_equal(crypto_rsa_sign_b64("garbage", msg, strlen(msg), sig, sizeof(sig)), K_ERR);
    assert_int_equal(crypto_rsa_sign_b64(pub, msg, strlen(msg), sig, sizeof(sig)), K_ERR);
    assert_int_equal(crypto_rsa_sign_b64(priv8, msg, strlen(msg), sig, 100), K_ERR);

    /* a non-RSA key is refused */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    char *ec_priv = pem_of(ec, 0);
    assert_int_equal(crypto_rsa_sign_b64(ec_priv, msg, strlen(msg), sig, sizeof(sig)), K_ERR);

    free(ec_priv);
    free(priv8);
    free(priv1);
    free(pub);
    free(other_pub);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_password_hash(void **state)
{
    (void)state;
    char hash[128], hash2[128];
    assert_int_equal(crypto_password_hash("correct horse battery staple", hash), K_OK);
    assert_memory_equal(hash, "$argon2id$", 10);
    assert_true(crypto_password_verify(hash, "correct horse battery staple"));
    assert_false(crypto_password_verify(hash, "correct horse battery stapler"));
    assert_false(crypto_password_verify(hash, ""));
    assert_int_equal(crypto_password_hash("correct horse battery staple", hash2), K_OK);
    assert_string_not_equal(hash, hash2); /* salted */
    assert_false(crypto_password_verify("$argon2id$garbage", "x"));
}

int main(void)
{
    assert_int_equal(crypto_init(), K_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stripe_webhook_vector),
        cmocka_unit_test(test_ecommpay_vector),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_random_and_compare),
        cmocka_unit_test(test_rsa_sign_verify),
        cmocka_unit_test(test_password_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
