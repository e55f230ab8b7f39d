/*
 * registry.c - which connectors are compiled in, by name (provider_find).
 * A table: Alipay+ joins with one line.
 */
#include "provider.h"
#include "klarna.h"
#include "alipay.h"
#include "../base/log.h"

#include <stdio.h>
#include <string.h>

static const provider *const registry_table[] = {
    &klarna_provider,
    &alipay_provider,
};

const provider *provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < K_ARRAY_LEN(registry_table); i++)
        if (strcmp(registry_table[i]->name, name) == 0)
            return registry_table[i];
    return NULL;
}

k_status provider_sandbox_attach(const char *sim_url)
{
    K_ASSERT(sim_url != NULL);
    k_status first = K_OK;
    for (size_t i = 0; i < K_ARRAY_LEN(registry_table); i++) {
        const provider *p = registry_table[i];
        if (p->sandbox == NULL)
            continue;
        char base[LIMIT_URL_MAX];
        int n = snprintf(base, sizeof(base), "%s/%s", sim_url, p->name);
        if (n < 0 || (size_t)n >= sizeof(base))
            return K_ETOOBIG;
        k_status st = p->sandbox(base);
        if (st != K_OK) {
            log_error("%s: cannot attach to the simulator at '%s': %s", p->name, base,
                      k_status_str(st));
            if (first == K_OK)
                first = st;
        }
    }
    return first;
}
