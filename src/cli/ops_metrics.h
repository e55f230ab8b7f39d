/*
 * ops_metrics.h - the operator's series on /metrics beyond the server's own
 * per-route counters and latency histograms (ops_metrics.c): group commit
 * batch sizes and COMMIT (fsync) time, the webhook backlog and the age of its
 * oldest delivery, provider calls by provider and outcome with their latency,
 * and the authorisations that expire within 24 hours. docs/operations.md lists
 * them with the alert rules in docs/kassa-alerts.yml.
 */
#ifndef KASSA_CLI_OPS_METRICS_H
#define KASSA_CLI_OPS_METRICS_H

#include "../store/store.h"

/* Registers the collector (once, at start); st must outlive the server. */
void ops_metrics_install(store *st);

#endif
