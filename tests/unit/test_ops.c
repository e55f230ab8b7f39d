/*
 * test_ops.c - unit tests of the operations pieces: the group-commit and
 * provider-call histograms (bucket edges, outcomes), the OpenAPI generator on
 * a small route table (path parameters, undocumented routes and unused table
 * rows counted, unique operation ids), and store_gauges_get on both backends
 * (SQLite always; PostgreSQL when KASSA_TEST_PG_URL names a server): pending
 * deliveries and their oldest age, authorisations expiring within 24 hours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/openapi.h"
#include "providers/prov_stats.h"
#include "store/commit_stats.h"
#include "store/store.h"

/* ---- histograms ---- */

static void test_commit_buckets(void **state)
{
    store_commit_stats a, b;
    store_commit_stats_get(&a);
    store_commit_observe(1, 100);       /* le 1, le 0.0001 */
    store_commit_observe(3, 101);       /* le 4, le 0.00025 */
    store_commit_observe(256, 2000000); /* le 256, +Inf */
    store_commit_stats_get(&b);
    assert_int_equal(b.count - a.count, 3);
    assert_int_equal(b.batch_bucket[0] - a.batch_bucket[0], 1);
    assert_int_equal(b.batch_bucket[2] - a.batch_bucket[2], 1);
    assert_int_equal(b.batch_bucket[8] - a.batch_bucket[8], 1);
    assert_int_equal(b.batch_bucket[STORE_BATCH_BUCKETS] - a.batch_bucket[STORE_BATCH_BUCKETS], 0);
    assert_int_equal(b.commit_bucket[0] - a.commit_bucket[0], 1);
    assert_int_equal(b.commit_bucket[1] - a.commit_bucket[1], 1);
    assert_int_equal(b.commit_bucket[STORE_COMMIT_BUCKETS] - a.commit_bucket[STORE_COMMIT_BUCKETS],
                     1);
    assert_int_equal(b.batch_sum - a.batch_sum, 260);
    assert_int_equal(b.commit_sum_us - a.commit_sum_us, 2000201);
}

static const prov_stats *find_provider(const prov_stats *ps, const char *name)
{
    for (size_t i = 0; i < PROV_STATS_PROVIDERS; i++)
        if (ps[i].provider != NULL && strcmp(ps[i].provider, name) == 0)
            return &ps[i];
    return NULL;
}

static void test_provider_outcomes(void **state)
{
    prov_stats_observe("unit-a", K_OK, 200, 5);
    prov_stats_observe("unit-a", K_OK, 404, 10);
    prov_stats_observe("unit-a", K_OK, 429, 30);
    prov_stats_observe("unit-a", K_OK, 503, 20000);
    prov_stats_observe("unit-a", K_ETIMEOUT, 0, 15000);
    prov_stats_observe("unit-b", K_OK, 201, 1);
    prov_stats ps[PROV_STATS_PROVIDERS];
    assert_true(prov_stats_get(ps) >= 2);
    const prov_stats *a = find_provider(ps, "unit-a");
    const prov_stats *b = find_provider(ps, "unit-b");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->outcome[PROV_OK], 1);
    assert_int_equal(a->outcome[PROV_CLIENT_ERROR], 1);
    assert_int_equal(a->outcome[PROV_SERVER_ERROR], 2); /* 429 is a provider failure: retried */
    assert_int_equal(a->outcome[PROV_TRANSPORT], 1);
    assert_int_equal(a->bucket[0], 2);                        /* 5 ms, 10 ms: le 0.01 */
    assert_int_equal(a->bucket[2], 1);                        /* 30 ms: le 0.05 */
    assert_int_equal(a->bucket[PROV_LATENCY_BUCKETS - 1], 1); /* 15 s: le 15 */
    assert_int_equal(a->bucket[PROV_LATENCY_BUCKETS], 1);     /* 20 s: +Inf */
    assert_int_equal(b->outcome[PROV_OK], 1);
}

/* ---- OpenAPI ---- */

static void h_none(http_req *req, http_resp *resp, void *ctx) {}

static void test_openapi_small_table(void **state)
{
    const http_route routes[] = {
        {"GET", "/v1/payment_intents/:id", h_none, AUTH_SECRET_KEY, 0, "pi_get", 0},
        {"POST", "/v1/payment_intents", h_none, AUTH_SECRET_KEY, 0, "pi_create", 0},
        {"GET", "/healthz", h_none, AUTH_NONE, 0, "healthz", 0},
        {"GET", "/not/documented/:thing", h_none, AUTH_NONE, 0, "mystery", 0},
        {"GET", "/healthz", h_none, AUTH_NONE, 0, "healthz", 0}, /* shadowed: first one wins */
    };
    int undocumented = -1, unused = -1;
    char *text = openapi_document(routes, 5, "9.9.9", &undocumented, &unused, NULL);
    assert_non_null(text);
    assert_int_equal(undocumented, 1);
    assert_true(unused > 40); /* every other row of OA_DOCS */
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    free(text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "info"), "version")),
                        "9.9.9");
    json_t *paths = json_object_get(doc, "paths");
    assert_int_equal(json_object_size(paths), 4);
    json_t *get = json_object_get(json_object_get(paths, "/v1/payment_intents/{id}"), "get");
    assert_non_null(get);
    json_t *p0 = json_array_get(json_object_get(get, "parameters"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "id");
    assert_string_equal(json_string_value(json_object_get(p0, "in")), "path");
    assert_true(json_array_size(json_object_get(get, "security")) == 2);
    json_t *create = json_object_get(json_object_get(paths, "/v1/payment_intents"), "post");
    json_t *form =
        json_object_get(json_object_get(json_object_get(create, "requestBody"), "content"),
                        "application/x-www-form-urlencoded");
    json_t *req = json_object_get(json_object_get(form, "schema"), "required");
    assert_string_equal(json_string_value(json_array_get(req, 0)), "amount");
    assert_string_equal(json_string_value(json_array_get(req, 1)), "currency");
    json_t *mystery = json_object_get(json_object_get(paths, "/not/documented/{thing}"), "get");
    assert_true(json_is_true(json_object_get(mystery, "x-kassa-undocumented")));
    assert_string_equal(json_string_value(json_object_get(mystery, "summary")), "mystery");
    json_decref(doc);
}

/* ---- store_gauges_get on both backends ---- */

typedef struct {
    int64_t now_s;
    store_gauges g;
} gauges_job;

static k_status gauges_fn(store_tx *tx, void *arg)
{
    gauges_job *j = arg;
    return store_gauges_get(tx, j->now_s, &j->g);
}

static k_status seed_fn(store_tx *tx, void *arg)
{
    int64_t now = *(int64_t *)arg;
    /* Authorised payments: one expires in 12 h, one in 3 days, one already expired; a captured
     * one whose old authorisation time is within 24 h does not count. */
    static const struct {
        const char *id, *status;
        int64_t expires_in;
    } pays[] = {{"pi_soon", "requires_capture", 12 * 3600},
                {"pi_later", "requires_capture", 3 * 86400},
                {"pi_past", "requires_capture", -60},
                {"pi_done", "succeeded", 3600}};
    for (size_t i = 0; i < sizeof(pays) / sizeof(pays[0]); i++) {
        char body[160];
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"auth_expires_at\":%lld}", pays[i].id,
                 (long long)(now + pays[i].expires_in));
        store_obj o = {.merchant_id = "acct_1",
                       .id = pays[i].id,
                       .kind = "payment_intent",
                       .status = pays[i].status,
                       .currency = "eur",
                       .amount = 100,
                       .created = now,
                       .due_at = now + pays[i].expires_in - 3600,
                       .body = body};
        k_status st = store_obj_put(tx, &o);
        if (st != K_OK)
            return st;
    }
    static const char *const states[] = {"pending", "pending", "delivered"};
    for (int i = 0; i < 3; i++) {
        char evt[32], we[32];
        snprintf(evt, sizeof(evt), "evt_%d", i);
        snprintf(we, sizeof(we), "we_%d", i);
        store_delivery d = {.merchant_id = "acct_1",
                            .event_id = evt,
                            .endpoint_id = we,
                            .state = states[i],
                            .next_at_ms = now * 1000,
                            .created_ms = (now - 300 + i * 100) * 1000};
        k_status st = store_delivery_add(tx, &d);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

static void check_gauges(const char *url)
{
    store *st = NULL;
    assert_int_equal(store_open(&st, url), K_OK);
    int64_t now = 1800000000;
    gauges_job empty = {.now_s = now};
    assert_int_equal(store_read(st, gauges_fn, &empty), K_OK);
    assert_int_equal(empty.g.deliveries_pending, 0);
    assert_int_equal(empty.g.oldest_pending_ms, 0);
    assert_int_equal(empty.g.auth_expiring_24h, 0);
    assert_int_equal(store_write(st, seed_fn, &now), K_OK);
    gauges_job j = {.now_s = now};
    assert_int_equal(store_read(st, gauges_fn, &j), K_OK);
    assert_int_equal(j.g.deliveries_pending, 2);
    assert_int_equal(j.g.oldest_pending_ms, (now - 300) * 1000);
    assert_int_equal(j.g.auth_expiring_24h, 1);
    store_close(st);
}

static void test_gauges_sqlite(void **state)
{
    char dir[] = "/tmp/kassa-ops-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/g.db", dir);
    check_gauges(path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_gauges_pg(void **state)
{
    const char *base = getenv("KASSA_TEST_PG_URL");
    if (base == NULL || base[0] == '\0') {
        skip();
        return;
    }
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char db[64], sql[128];
    snprintf(db, sizeof(db), "kassa_ops_%ld", (long)getpid());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    /* base is postgresql://user@host:port/db: the same server, our database. */
    char url[512];
    const char *slash = strrchr(base, '/');
    assert_non_null(slash);
    snprintf(url, sizeof(url), "%.*s/%s", (int)(slash - base), base, db);
    check_gauges(url);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", db);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_buckets),      cmocka_unit_test(test_provider_outcomes),
        cmocka_unit_test(test_openapi_small_table), cmocka_unit_test(test_gauges_sqlite),
        cmocka_unit_test(test_gauges_pg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
