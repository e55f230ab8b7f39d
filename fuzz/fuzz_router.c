/*
 * fuzz_router.c - libFuzzer target for the router: the input is "METHOD PATH"
 * matched against Kassa's real route tables (Stripe, ECommPay, hosted pages).
 * A match fills at most HTTP_PARAMS_MAX params, each inside the path.
 * Built by `make fuzz`; run: build-fuzz/bin/fuzz_router -max_len=1024
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "server/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static http_route g_routes[256];
static size_t g_n;

static void routes_once(void)
{
    size_t (*tables[])(const http_route **) = {stripe_routes, checkout_routes, ecommpay_routes,
                                               demo_routes};
    for (size_t t = 0; t < K_ARRAY_LEN(tables); t++) {
        const http_route *part;
        size_t m = tables[t](&part);
        K_ASSERT(g_n + m <= K_ARRAY_LEN(g_routes));
        memcpy(g_routes + g_n, part, m * sizeof(*part));
        g_n += m;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_n == 0)
        routes_once();
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *sp = strchr(text, ' ');
    const char *method = sp != NULL ? text : "GET";
    const char *path = sp != NULL ? sp + 1 : text;
    if (sp != NULL)
        *sp = '\0';
    arena a;
    arena_init(&a, 64 * 1024);
    http_req req;
    memset(&req, 0, sizeof(req));
    size_t idx = SIZE_MAX;
    char allow[ROUTER_ALLOW_MAX];
    k_status st = K_OK;
    router_result rr = router_match(g_routes, g_n, method, path, &a, &req, &idx, allow, &st);
    if (rr == ROUTER_FOUND && st == K_OK) {
        K_ASSERT(idx < g_n);
        K_ASSERT(req.nparams >= 0 && req.nparams <= HTTP_PARAMS_MAX);
        for (int i = 0; i < req.nparams; i++)
            K_ASSERT(strlen(req.params[i]) <= strlen(path));
    }
    arena_release(&a);
    free(text);
    return 0;
}
