/*
 * fuzz_ecp.c - libFuzzer target for ECommPay's signature canonicaliser and query
 * decoding: the input is read as a Payment Page query string (ecp_query_decode,
 * ecp_verify_query) and as a JSON Gate/callback body (ecp_canon, ecp_sign,
 * ecp_verify). A body that signs must verify with its own signature.
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_ecp -max_len=8192
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/ecommpay/ecp_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *q = ecp_query_decode(text);
    if (q != NULL) {
        K_ASSERT(json_is_object(q));
        (void)ecp_verify_query("secret", q);
        json_decref(q);
    }
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (doc != NULL) {
        buf canon;
        buf_init(&canon, 1024 * 1024);
        (void)ecp_canon(doc, true, &canon);
        buf_free(&canon);
        char sig[SHA512_B64_LEN];
        if (json_is_object(doc) && ecp_sign("secret", doc, sig) == K_OK) {
            json_object_set_new(doc, "signature", json_string(sig));
            K_ASSERT(ecp_verify("secret", doc, sig));
            K_ASSERT(!ecp_verify("other", doc, sig));
        }
        json_decref(doc);
    }
    free(text);
    return 0;
}
