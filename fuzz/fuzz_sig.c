/*
 * fuzz_sig.c - libFuzzer target for the signature headers Kassa reads: a
 * Stripe-Signature header ("t=...,v1=...", demo_sig_verify) and an Alipay+
 * Signature header ("algorithm=RSA256,keyVersion=1,signature=...",
 * alipay_verify). The first line of the input is the header, the rest the body;
 * a forged header never verifies, and one Kassa signed itself always does
 * (checked for one input in 64: RSA signing is slow).
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_sig -max_len=4096
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "api/demo/demo_int.h"
#include "base/arena.h"
#include "base/crypto.h"
#include "providers/alipay.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *g_priv, *g_pub;

static char *pem_of(EVP_PKEY *k, bool priv)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok = priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PUBKEY(b, k);
    K_ASSERT(ok == 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    K_ASSERT(crypto_init() == K_OK);
    EVP_PKEY *k = EVP_RSA_gen(2048);
    K_ASSERT(k != NULL);
    g_priv = pem_of(k, true);
    g_pub = pem_of(k, false);
    EVP_PKEY_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
    char *header = malloc(hlen + 1);
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    const char *body = nl != NULL ? (const char *)nl + 1 : "";
    size_t blen = nl != NULL ? size - hlen - 1 : 0;
    /* a fuzzed header does not know the secret: it must never verify */
    K_ASSERT(
        !demo_sig_verify(header, body, blen, "whsec_fuzz_secret_never_in_input", 1700000000, 300) ||
        memmem(data, size, "whsec_fuzz_secret_never_in_input", 32) != NULL);
    (void)alipay_verify(g_pub, "POST", "/v1/payments/pay", "CLIENT", "2024-01-01T00:00:00Z", body,
                        blen, header);
    /* signing costs ~20 ms under ASan: the round trip runs for one input in 64 */
    if (size == 0 || data[0] % 64 != 0) {
        free(header);
        return 0;
    }
    arena a;
    arena_init(&a, 0);
    const char *sig = alipay_sign(g_priv, "POST", "/v1/payments/notify", "CLIENT",
                                  "2024-01-01T00:00:00Z", body, blen, &a);
    K_ASSERT(sig != NULL);
    K_ASSERT(alipay_verify(g_pub, "POST", "/v1/payments/notify", "CLIENT", "2024-01-01T00:00:00Z",
                           body, blen, sig));
    arena_release(&a);
    free(header);
    return 0;
}
