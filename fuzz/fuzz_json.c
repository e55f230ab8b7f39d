/*
 * fuzz_json.c - libFuzzer target for form_decode_json (JSON API bodies: top-level
 * object, depth and size limits checked without recursion).
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_json -max_len=8192
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
    json_t *root = form_decode_json((const char *)data, size, &err);
    if (root == NULL) {
        K_ASSERT(err.status == K_EINVAL || err.status == K_ETOOBIG);
        K_ASSERT(memchr(err.param, '\0', sizeof(err.param)) != NULL);
        K_ASSERT(err.message[0] != '\0');
        return 0;
    }
    K_ASSERT(json_is_object(root));
    int64_t v;
    bool b;
    const char *s;
    param_int64(root, "general.project_id", &v, 0, INT64_MAX, &err);
    param_bool(root, "capture", &b, &err);
    param_str(root, "payment.currency", &s, 3, &err);
    json_decref(root);
    return 0;
}
