/*
 * prov_stats.h - calls to the providers (Klarna, Antom/Alipay+) as /metrics
 * shows them: count by provider and outcome, latency histogram by provider.
 * Connectors report each HTTP exchange (each retry is one); the counts are
 * process-wide atomics read at scrape time by the main layer's collector.
 */
#ifndef KASSA_PROV_STATS_H
#define KASSA_PROV_STATS_H

#include "../base/common.h"

#define PROV_STATS_PROVIDERS 4  /* klarna, alipay and room for two more */
#define PROV_LATENCY_BUCKETS 11 /* le 0.01 s ... 15 s (LIMIT_PROVIDER_TIMEOUT_MS) */

typedef enum {
    PROV_OK,           /* 2xx */
    PROV_CLIENT_ERROR, /* 4xx other than 429: the provider refused the request */
    PROV_SERVER_ERROR, /* 5xx or 429: the provider failed, retried */
    PROV_TRANSPORT,    /* no answer: timeout, connection refused */
    PROV__OUTCOMES
} prov_call_outcome;

typedef struct {
    const char *provider; /* NULL: slot unused */
    uint64_t outcome[PROV__OUTCOMES];
    uint64_t bucket[PROV_LATENCY_BUCKETS + 1]; /* not cumulative; last: +Inf */
    uint64_t sum_ms;
} prov_stats;

extern const char *const prov_latency_le[PROV_LATENCY_BUCKETS];
extern const char *const prov_call_outcome_name[PROV__OUTCOMES];

/* One exchange: st is httpc_do's status, http_status the answer's (0: none). */
void prov_stats_observe(const char *provider, k_status st, long http_status, int64_t latency_ms);
/* Fills out[0..PROV_STATS_PROVIDERS); returns how many providers have calls. */
size_t prov_stats_get(prov_stats out[PROV_STATS_PROVIDERS]);

#endif
