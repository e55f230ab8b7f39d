/*
 * metrics.c - the process-wide metric registry rendered at /metrics (http.h).
 *
 * Modules register counters and gauges once at start (a fixed array under a
 * mutex); the hot path only does atomic adds on the handle. Collectors are
 * callbacks that append their own lines at scrape time. The server's own
 * per-route series (requests, durations) live in http.c and are rendered there
 * before these. Output is Prometheus text format 0.0.4: one HELP/TYPE pair per
 * metric name, then its series.
 */
#include "http_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define METRICS_MAX            256 /* registered series in one process */
#define METRICS_COLLECTORS_MAX 32
#define METRICS_NAME_MAX       96
#define METRICS_LABELS_MAX     160
#define METRICS_HELP_MAX       200

typedef enum { METRIC_COUNTER, METRIC_GAUGE } metric_kind;

struct metric {
    char name[METRICS_NAME_MAX];
    char labels[METRICS_LABELS_MAX]; /* text inside braces, "" for none */
    char help[METRICS_HELP_MAX];
    metric_kind kind;
    _Atomic int64_t value;
};

typedef struct {
    void (*fn)(buf *out, void *ctx);
    void *ctx;
} metrics_collector;

static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static metric metrics_table[METRICS_MAX];
static size_t metrics_n;
static metrics_collector metrics_collectors[METRICS_COLLECTORS_MAX];
static size_t metrics_ncollectors;

static bool metrics_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == ':';
        if (!ok)
            return false;
    }
    return true;
}

/* Registers (or finds, when name and labels are already there) one series. */
static metric *metrics_register(const char *name, const char *labels, const char *help,
                                metric_kind kind)
{
    K_ASSERT(metrics_name_valid(name));
    K_ASSERT(strlen(name) < METRICS_NAME_MAX);
    if (labels == NULL)
        labels = "";
    if (help == NULL)
        help = "";
    K_ASSERT(strlen(labels) < METRICS_LABELS_MAX);
    K_ASSERT(strchr(help, '\n') == NULL);
    pthread_mutex_lock(&metrics_mu);
    for (size_t i = 0; i < metrics_n; i++) {
        metric *m = &metrics_table[i];
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
            K_ASSERT(m->kind == kind); /* one name, one type */
            pthread_mutex_unlock(&metrics_mu);
            return m;
        }
    }
    K_ASSERT(metrics_n < METRICS_MAX); /* raise METRICS_MAX: series are fixed at start */
    metric *m = &metrics_table[metrics_n];
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->labels, sizeof(m->labels), "%s", labels);
    snprintf(m->help, sizeof(m->help), "%s", help);
    m->kind = kind;
    atomic_store(&m->value, 0);
    metrics_n++;
    pthread_mutex_unlock(&metrics_mu);
    return m;
}

metric *metric_counter(const char *name, const char *labels, const char *help)
{
    return metrics_register(name, labels, help, METRIC_COUNTER);
}

metric *metric_gauge(const char *name, const char *labels, const char *help)
{
    return metrics_register(name, labels, help, METRIC_GAUGE);
}

void metric_add(metric *m, int64_t n)
{
    K_ASSERT(m != NULL);
    K_ASSERT(m->kind == METRIC_GAUGE || n >= 0); /* counters only go up */
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void metric_set(metric *m, int64_t v)
{
    K_ASSERT(m != NULL);
    K_ASSERT(m->kind == METRIC_GAUGE);
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

void metric_add_collector(void (*fn)(buf *out, void *ctx), void *ctx)
{
    K_ASSERT(fn != NULL);
    pthread_mutex_lock(&metrics_mu);
    K_ASSERT(metrics_ncollectors < METRICS_COLLECTORS_MAX);
    metrics_collectors[metrics_ncollectors].fn = fn;
    metrics_collectors[metrics_ncollectors].ctx = ctx;
    metrics_ncollectors++;
    pthread_mutex_unlock(&metrics_mu);
}

/* Series of one name, HELP/TYPE first; n is the count of registered series. */
static void metrics_render_name(buf *out, size_t first, size_t n)
{
    const metric *m0 = &metrics_table[first];
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m0->name, m0->help, m0->name,
               m0->kind == METRIC_COUNTER ? "counter" : "gauge");
    for (size_t i = first; i < n; i++) {
        const metric *m = &metrics_table[i];
        if (strcmp(m->name, m0->name) != 0)
            continue;
        int64_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
        if (m->labels[0] != '\0')
            buf_printf(out, "%s{%s} %lld\n", m->name, m->labels, (long long)v);
        else
            buf_printf(out, "%s %lld\n", m->name, (long long)v);
    }
}

void metrics_render(buf *out)
{
    K_ASSERT(out != NULL);
    metrics_collector coll[METRICS_COLLECTORS_MAX];
    pthread_mutex_lock(&metrics_mu);
    size_t n = metrics_n;
    size_t ncoll = metrics_ncollectors;
    memcpy(coll, metrics_collectors, ncoll * sizeof(coll[0]));
    pthread_mutex_unlock(&metrics_mu);
    /* Entries below n never change once written (only their atomic value). */
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(metrics_table[j].name, metrics_table[i].name) == 0;
        if (!seen)
            metrics_render_name(out, i, n);
    }
    /* Outside the lock: a collector may register a metric. */
    for (size_t i = 0; i < ncoll; i++)
        coll[i].fn(out, coll[i].ctx);
}
