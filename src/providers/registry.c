/*
 * registry.c - which connectors are compiled in, by name (provider_find).
 * A table: Alipay+ joins with one line.
 */
#include "provider.h"
#include "klarna.h"
#include "alipay.h"

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
