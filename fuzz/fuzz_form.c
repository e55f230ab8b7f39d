/*
 * fuzz_form.c - libFuzzer target for form_decode (bracket-notation bodies and
 * query strings) and the param readers run over whatever tree comes out.
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_form -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    param_err err;
    memset(&err, 0, sizeof(err));
    json_t *root = form_decode((const char *)data, size, &err);
    if (root == NULL) {
        K_ASSERT(err.status == K_EINVAL || err.status == K_ETOOBIG);
        K_ASSERT(memchr(err.param, '\0', sizeof(err.param)) != NULL);
        K_ASSERT(err.message[0] != '\0');
        return 0;
    }
    K_ASSERT(json_is_object(root));
    static const char *const paths[] = {"amount",
                                        "a",
                                        "a.0",
                                        "a.b",
                                        "metadata.order_id",
                                        "payment_method_types.0",
                                        "payment_method_data.billing_details.email"};
    static const char *const known[] = {"amount", "currency", NULL};
    for (size_t i = 0; i < K_ARRAY_LEN(paths); i++) {
        int64_t v;
        bool b;
        const char *s;
        int e;
        param_int64(root, paths[i], &v, INT64_MIN, INT64_MAX, &err);
        param_bool(root, paths[i], &b, &err);
        param_str(root, paths[i], &s, 100, &err);
        param_enum(root, paths[i], known, &e, &err);
        (void)param_node(root, paths[i]);
    }
    (void)param_first_unknown(root, known);
    char *dump = json_dumps(root, JSON_COMPACT);
    K_ASSERT(dump != NULL);
    free(dump);
    json_decref(root);
    return 0;
}
