/*
 * prov_stats.c - see prov_stats.h. A provider's slot is claimed once, by its
 * name (a string literal of the connector), with a compare-and-swap.
 */
#include "prov_stats.h"

#include <stdatomic.h>
#include <string.h>

#include "../limits.h"

static const int64_t prov_ub_ms[PROV_LATENCY_BUCKETS] = {10,   25,   50,   100,   250,  500,
                                                         1000, 2500, 5000, 10000, 15000};
const char *const prov_latency_le[PROV_LATENCY_BUCKETS] = {
    "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "15"};
const char *const prov_call_outcome_name[PROV__OUTCOMES] = {"ok", "client_error", "server_error",
                                                            "transport"};
_Static_assert(LIMIT_PROVIDER_TIMEOUT_MS == 15000, "the last latency bucket is the timeout");

typedef struct {
    _Atomic(const char *) provider;
    _Atomic uint64_t outcome[PROV__OUTCOMES];
    _Atomic uint64_t bucket[PROV_LATENCY_BUCKETS + 1];
    _Atomic uint64_t sum_ms;
} prov_slot;

static prov_slot prov_slots[PROV_STATS_PROVIDERS];

static prov_slot *prov_slot_for(const char *provider)
{
    for (size_t i = 0; i < PROV_STATS_PROVIDERS; i++) {
        const char *cur = atomic_load(&prov_slots[i].provider);
        if (cur == NULL) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&prov_slots[i].provider, &expected, provider))
                return &prov_slots[i];
            cur = expected;
        }
        if (strcmp(cur, provider) == 0)
            return &prov_slots[i];
    }
    return NULL; /* more providers than slots: raise PROV_STATS_PROVIDERS */
}

void prov_stats_observe(const char *provider, k_status st, long http_status, int64_t latency_ms)
{
    K_ASSERT(provider != NULL);
    prov_slot *s = prov_slot_for(provider);
    K_ASSERT(s != NULL);
    prov_call_outcome o = st != K_OK || http_status == 0             ? PROV_TRANSPORT
                          : http_status >= 500 || http_status == 429 ? PROV_SERVER_ERROR
                          : http_status >= 400                       ? PROV_CLIENT_ERROR
                                                                     : PROV_OK;
    if (latency_ms < 0)
        latency_ms = 0;
    size_t b = 0;
    while (b < PROV_LATENCY_BUCKETS && latency_ms > prov_ub_ms[b])
        b++;
    atomic_fetch_add_explicit(&s->outcome[o], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ms, (uint64_t)latency_ms, memory_order_relaxed);
}

size_t prov_stats_get(prov_stats out[PROV_STATS_PROVIDERS])
{
    size_t n = 0;
    for (size_t i = 0; i < PROV_STATS_PROVIDERS; i++) {
        const char *name = atomic_load(&prov_slots[i].provider);
        memset(&out[i], 0, sizeof(out[i]));
        out[i].provider = name;
        if (name == NULL)
            continue;
        n++;
        for (size_t k = 0; k < PROV__OUTCOMES; k++)
            out[i].outcome[k] =
                atomic_load_explicit(&prov_slots[i].outcome[k], memory_order_relaxed);
        for (size_t k = 0; k <= PROV_LATENCY_BUCKETS; k++)
            out[i].bucket[k] = atomic_load_explicit(&prov_slots[i].bucket[k], memory_order_relaxed);
        out[i].sum_ms = atomic_load_explicit(&prov_slots[i].sum_ms, memory_order_relaxed);
    }
    return n;
}
