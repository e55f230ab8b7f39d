/*
 * ops_metrics.c - see ops_metrics.h. Everything here is read at scrape time:
 * the store's and the connectors' atomic counters, and one read transaction
 * for the gauges (store_gauges_get reads only rows with a pending timer or
 * delivery). Prometheus text format 0.0.4; histograms are cumulative.
 */
#include "ops_metrics.h"

#include <stdio.h>

#include "../base/buf.h"
#include "../base/clock.h"
#include "../providers/prov_stats.h"
#include "../server/http.h"
#include "../store/commit_stats.h"

static void om_histogram(buf *out, const char *name, const char *labels, const char *const *le,
                         const uint64_t *bucket, size_t nb, double sum)
{
    const char *sep = labels[0] != '\0' ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += bucket[i];
        buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le[i],
                   (unsigned long long)cum);
    }
    cum += bucket[nb];
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
               (unsigned long long)cum);
    if (labels[0] != '\0') {
        buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, sum, name, labels,
                   (unsigned long long)cum);
    } else {
        buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
    }
}

static void om_commits(buf *out)
{
    store_commit_stats cs;
    store_commit_stats_get(&cs);
    buf_append_str(out, "# HELP kassa_store_batch_size Jobs committed together by one group "
                        "commit.\n# TYPE kassa_store_batch_size histogram\n");
    om_histogram(out, "kassa_store_batch_size", "", store_batch_le, cs.batch_bucket,
                 STORE_BATCH_BUCKETS, (double)cs.batch_sum);
    buf_append_str(out, "# HELP kassa_store_commit_seconds Time of one group commit's COMMIT "
                        "(the WAL fsync).\n# TYPE kassa_store_commit_seconds histogram\n");
    om_histogram(out, "kassa_store_commit_seconds", "", store_commit_le, cs.commit_bucket,
                 STORE_COMMIT_BUCKETS, (double)cs.commit_sum_us / 1e6);
}

static void om_providers(buf *out)
{
    prov_stats ps[PROV_STATS_PROVIDERS];
    prov_stats_get(ps);
    buf_append_str(out, "# HELP kassa_provider_requests_total Calls to the providers, by "
                        "provider and outcome.\n# TYPE kassa_provider_requests_total counter\n");
    for (size_t i = 0; i < PROV_STATS_PROVIDERS; i++)
        for (size_t k = 0; ps[i].provider != NULL && k < PROV__OUTCOMES; k++)
            buf_printf(out, "kassa_provider_requests_total{provider=\"%s\",outcome=\"%s\"} %llu\n",
                       ps[i].provider, prov_call_outcome_name[k],
                       (unsigned long long)ps[i].outcome[k]);
    buf_append_str(out, "# HELP kassa_provider_request_duration_seconds Latency of calls to the "
                        "providers.\n# TYPE kassa_provider_request_duration_seconds histogram\n");
    for (size_t i = 0; i < PROV_STATS_PROVIDERS; i++) {
        if (ps[i].provider == NULL)
            continue;
        char labels[64];
        snprintf(labels, sizeof(labels), "provider=\"%s\"", ps[i].provider);
        om_histogram(out, "kassa_provider_request_duration_seconds", labels, prov_latency_le,
                     ps[i].bucket, PROV_LATENCY_BUCKETS, (double)ps[i].sum_ms / 1e3);
    }
}

typedef struct {
    int64_t now_s;
    store_gauges g;
} om_gauges_job;

static k_status om_gauges_fn(store_tx *tx, void *arg)
{
    om_gauges_job *j = arg;
    return store_gauges_get(tx, j->now_s, &j->g);
}

static void om_gauges(buf *out, store *st)
{
    om_gauges_job j = {.now_s = clock_now_s()};
    bool ok = store_read(st, om_gauges_fn, &j) == K_OK;
    int64_t age_s =
        ok && j.g.oldest_pending_ms > 0 ? (clock_now_ms() - j.g.oldest_pending_ms) / 1000 : 0;
    buf_printf(out,
               "# HELP kassa_gauges_up 1 when the gauges below were read from the store.\n"
               "# TYPE kassa_gauges_up gauge\nkassa_gauges_up %d\n"
               "# HELP kassa_webhook_backlog Deliveries (webhooks, callbacks) not yet delivered.\n"
               "# TYPE kassa_webhook_backlog gauge\nkassa_webhook_backlog %lld\n"
               "# HELP kassa_webhook_oldest_pending_age_seconds Age of the oldest undelivered "
               "delivery.\n"
               "# TYPE kassa_webhook_oldest_pending_age_seconds gauge\n"
               "kassa_webhook_oldest_pending_age_seconds %lld\n"
               "# HELP kassa_authorizations_expiring_24h Authorised payments whose authorisation "
               "expires within 24 hours.\n"
               "# TYPE kassa_authorizations_expiring_24h gauge\n"
               "kassa_authorizations_expiring_24h %lld\n",
               ok ? 1 : 0, (long long)j.g.deliveries_pending, (long long)(age_s < 0 ? 0 : age_s),
               (long long)j.g.auth_expiring_24h);
}

static void om_collect(buf *out, void *ctx)
{
    om_commits(out);
    om_providers(out);
    om_gauges(out, ctx);
}

void ops_metrics_install(store *st)
{
    K_ASSERT(st != NULL);
    metric_add_collector(om_collect, st);
}
