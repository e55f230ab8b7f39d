/*
 * fuzz_url.c - libFuzzer target for the SSRF guard's URL check
 * (httpc_url_check): any input either passes with an http(s) scheme, a host and
 * no userinfo, or is refused with a sentence; never a crash.
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_url -max_len=2100
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size) != NULL)
        return 0; /* callers hand over C strings: a NUL ends the URL before it gets here */
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char why[160];
    httpc_allow_loopback(size % 2 == 0);
    k_status st = httpc_url_check(url, why, sizeof(why));
    if (st == K_OK) {
        K_ASSERT(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
    } else {
        K_ASSERT(st == K_EINVAL || st == K_ENOMEM);
        K_ASSERT(st != K_EINVAL || why[0] != '\0');
    }
    free(url);
    return 0;
}
