/*
 * test_store_reports.c - the store's report additions on BOTH backends (the
 * test_store.c pattern): ordered keyset scans of documents and of the ledger
 * (with each row's payment currency and method), grouped sums per time slot,
 * and the report job queue (claim with a lease, a second claim passing by,
 * the lease running out, updates, listing by object). The PostgreSQL half
 * runs when KASSA_TEST_PG_URL names a server (tests/pg_server.sh start).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "store/store.h"

static char g_dir[64];
static char g_path[512];
static bool g_pg;
static const char *g_pg_base;
static char g_pg_db[64];
static int g_pg_seq;

static void pg_exec_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The base URL with its database name replaced by db (query string kept). */
static void pg_url_for(const char *db, char *out, size_t cap)
{
    const char *scheme = strstr(g_pg_base, "://");
    const char *path = scheme != NULL ? strchr(scheme + 3, '/') : NULL;
    const char *query = strchr(g_pg_base, '?');
    size_t head = path != NULL ? (size_t)(path - g_pg_base)
                               : (query != NULL ? (size_t)(query - g_pg_base) : strlen(g_pg_base));
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, g_pg_base, db, query != NULL ? query : "");
    assert_true(n > 0 && (size_t)n < cap);
}

static int setup(void **state)
{
    if (g_pg) {
        snprintf(g_pg_db, sizeof(g_pg_db), "kassa_r_%d_%d", (int)getpid(), ++g_pg_seq);
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        pg_url_for(g_pg_db, g_path, sizeof(g_path));
        return 0;
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/kassa-rstore-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_path, sizeof(g_path), "%s/kassa.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    if (g_pg) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        return 0;
    }
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s%s", g_path, suffix[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

static store *open_store(void)
{
    store *s = NULL;
    assert_int_equal(store_open(&s, g_path), K_OK);
    return s;
}

/* ---- seeding ---- */

typedef struct {
    int n;
} seed_arg;

static k_status fn_seed(store_tx *tx, void *arg)
{
    seed_arg *sa = arg;
    char id[32], body[128];
    /* 30 payments of acct_1 created at 1000 + i/2 (pairs share a second), and noise */
    for (int i = 0; i < sa->n; i++) {
        snprintf(id, sizeof(id), "pi_%02d", i);
        snprintf(body, sizeof(body), i % 3 == 0 ? "{\"method_type\":\"klarna\"}" : "{}");
        store_obj o = {.merchant_id = "acct_1",
                       .id = id,
                       .kind = "payment_intent",
                       .status = "succeeded",
                       .currency = i % 2 == 0 ? "eur" : "sek",
                       .amount = 100 + i,
                       .created = 1000 + i / 2,
                       .body = body};
        k_status st = store_obj_put(tx, &o);
        if (st != K_OK)
            return st;
        store_obj other = o;
        other.merchant_id = "acct_2";
        other.version = 0;
        if ((st = store_obj_put(tx, &other)) != K_OK)
            return st;
        store_obj refund = o;
        refund.kind = "refund";
        refund.version = 0;
        snprintf(id, sizeof(id), "re_%02d", i);
        refund.id = id;
        if ((st = store_obj_put(tx, &refund)) != K_OK)
            return st;
        char op_id[32];
        snprintf(op_id, sizeof(op_id), "op_%02d_a", i);
        snprintf(id, sizeof(id), "pi_%02d", i);
        store_op op = {.merchant_id = "acct_1",
                       .id = op_id,
                       .payment_id = id,
                       .kind = i % 4 == 0 ? "fail" : "sale",
                       .amount = 100 + i,
                       .status = i % 4 == 0 ? "failed" : "succeeded",
                       .code = i % 4 == 0 ? "payment_method_customer_decline" : NULL,
                       .created_ms = 1000000 + (int64_t)(i / 2) * 1000};
        if ((st = store_op_append(tx, &op)) != K_OK)
            return st;
        snprintf(op_id, sizeof(op_id), "op_%02d_b", i);
        store_op noise = op;
        noise.merchant_id = "acct_2";
        noise.id = op_id;
        if ((st = store_op_append(tx, &noise)) != K_OK)
            return st;
    }
    return K_OK;
}

/* ---- scans ---- */

static int atoi_like(const char *pi_id)
{
    return (int)strtol(pi_id + 3, NULL, 10);
}

typedef struct {
    int64_t gte, lt, after_c, after_s;
    size_t max;
    arena a;
    store_obj *objs;
    store_ledger_row *rows;
    size_t n;
} scan_arg;

static k_status fn_obj_scan(store_tx *tx, void *arg)
{
    scan_arg *q = arg;
    return store_obj_scan(tx, "acct_1", "payment_intent", q->gte, q->lt, q->after_c, q->after_s,
                          q->max, &q->a, &q->objs, &q->n);
}

static void test_obj_scan_pages_in_order(void **state)
{
    store *s = open_store();
    seed_arg sa = {30};
    assert_int_equal(store_write(s, fn_seed, &sa), K_OK);
    /* [1003, 1012): payments 6..23, in pages of 7, each once, in (created, seq) order */
    scan_arg q = {.gte = 1003, .lt = 1012, .max = 7};
    q.after_c = q.gte;
    arena_init(&q.a, 0);
    int seen = 0, expect = 6;
    int64_t last_c = 0, last_s = 0;
    for (;;) {
        assert_int_equal(store_read(s, fn_obj_scan, &q), K_OK);
        for (size_t i = 0; i < q.n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "pi_%02d", expect++);
            assert_string_equal(q.objs[i].id, want);
            assert_string_equal(q.objs[i].merchant_id, "acct_1");
            assert_true(q.objs[i].created > last_c ||
                        (q.objs[i].created == last_c && q.objs[i].seq > last_s));
            last_c = q.objs[i].created;
            last_s = q.objs[i].seq;
            seen++;
        }
        if (q.n < q.max)
            break;
        q.after_c = last_c;
        q.after_s = last_s;
        arena_release(&q.a);
    }
    assert_int_equal(seen, 18);
    /* bad arguments refused before the backend */
    q.after_c = q.gte - 1;
    assert_int_equal(store_read(s, fn_obj_scan, &q), K_EINVAL);
    q.after_c = q.gte;
    q.max = 0;
    assert_int_equal(store_read(s, fn_obj_scan, &q), K_EINVAL);
    arena_release(&q.a);
    store_close(s);
}

static k_status fn_ledger_scan(store_tx *tx, void *arg)
{
    scan_arg *q = arg;
    return store_ledger_scan(tx, "acct_1", q->gte, q->lt, q->after_c, q->after_s, q->max, &q->a,
                             &q->rows, &q->n);
}

static void test_ledger_scan_joins_payment(void **state)
{
    store *s = open_store();
    seed_arg sa = {30};
    assert_int_equal(store_write(s, fn_seed, &sa), K_OK);
    scan_arg q = {.gte = 1000000, .lt = 1000000 + 15 * 1000, .max = 4};
    q.after_c = q.gte;
    arena_init(&q.a, 0);
    int seen = 0;
    int64_t sum = 0;
    for (;;) {
        assert_int_equal(store_read(s, fn_ledger_scan, &q), K_OK);
        for (size_t i = 0; i < q.n; i++) {
            const store_ledger_row *r = &q.rows[i];
            int num = atoi_like(r->op.payment_id);
            assert_string_equal(r->op.merchant_id, "acct_1");
            assert_string_equal(r->currency, num % 2 == 0 ? "eur" : "sek");
            if (num % 3 == 0)
                assert_string_equal(r->method, "klarna");
            else
                assert_null(r->method);
            sum += r->op.amount;
            seen++;
            q.after_c = r->op.created_ms;
            q.after_s = r->op.seq;
        }
        if (q.n < q.max)
            break;
        arena_release(&q.a);
    }
    assert_int_equal(seen, 30); /* pairs per second: 15 s hold all 30 */
    assert_int_equal(sum, 30 * 100 + 29 * 30 / 2);
    arena_release(&q.a);
    store_close(s);
}

typedef struct {
    int64_t from, to, slot;
    arena a;
    store_ledger_group *g;
    size_t n;
} groups_arg;

static k_status fn_groups(store_tx *tx, void *arg)
{
    groups_arg *q = arg;
    return store_ledger_groups(tx, "acct_1", q->from, q->to, q->slot, 1000, &q->a, &q->g, &q->n);
}

static void test_ledger_groups(void **state)
{
    store *s = open_store();
    seed_arg sa = {30};
    assert_int_equal(store_write(s, fn_seed, &sa), K_OK);
    /* 5-second slots over the first 10 s: payments 0..19 in slots 200 and 201 */
    groups_arg q = {.from = 1000000, .to = 1010000, .slot = 5000};
    arena_init(&q.a, 0);
    assert_int_equal(store_read(s, fn_groups, &q), K_OK);
    int64_t count = 0, sale_sum = 0, fail_count = 0, last_slot = 0;
    for (size_t i = 0; i < q.n; i++) {
        const store_ledger_group *g = &q.g[i];
        assert_true(g->slot == 200 || g->slot == 201);
        assert_true(g->slot >= last_slot); /* ordered by slot */
        last_slot = g->slot;
        count += g->count;
        if (strcmp(g->kind, "sale") == 0)
            sale_sum += g->amount;
        if (strcmp(g->kind, "fail") == 0) {
            fail_count += g->count;
            assert_string_equal(g->code, "payment_method_customer_decline");
            assert_string_equal(g->status, "failed");
        }
        assert_non_null(g->currency);
    }
    assert_int_equal(count, 20);
    assert_int_equal(fail_count, 5); /* 0, 4, 8, 12, 16 */
    int64_t want = 0;
    for (int i = 0; i < 20; i++)
        want += i % 4 == 0 ? 0 : 100 + i;
    assert_int_equal(sale_sum, want);
    arena_release(&q.a);
    store_close(s);
}

/* ---- the analytics rollup against the journal ---- */

#define QUARTER_MS (15 * 60 * 1000)
#define ROLL_T0    ((int64_t)1796000000000) /* a 15-minute mark */

/* A mixed history over ~10 hours: every summed kind and one that is not, codes
 * NULL and '' and set, two currencies, methods set and not, a journal row whose
 * payment does not exist and one whose payment is stored after it. */
static k_status fn_roll_seed(store_tx *tx, void *arg)
{
    static const char *const kinds[] = {"sale",   "fail",    "authorize", "capture",
                                        "refund", "release", "create",    "expire"};
    char id[32], op_id[32];
    for (int i = 0; i < 24; i++) {
        snprintf(id, sizeof(id), "pi_%02d", i);
        store_obj o = {.merchant_id = "acct_1",
                       .id = id,
                       .kind = "payment_intent",
                       .status = "succeeded",
                       .currency = i % 3 == 0 ? "sek" : "eur",
                       .amount = 1000 + i,
                       .created = 1796000000 + i,
                       .body = i % 2 == 0 ? "{\"method_type\":\"klarna\"}" : "{\"x\":1}"};
        if (i == 23) /* stored after its journal rows, below */
            continue;
        k_status st = store_obj_put(tx, &o);
        if (st != K_OK)
            return st;
    }
    for (int i = 0; i < 200; i++) {
        const char *kind = kinds[i % 8];
        bool failed = strcmp(kind, "fail") == 0 || i % 11 == 0;
        snprintf(id, sizeof(id), i % 37 == 5 ? "pi_gone_%02d" : "pi_%02d", i % 24);
        snprintf(op_id, sizeof(op_id), "op_r_%03d", i);
        store_op op = {.merchant_id = i % 13 == 0 ? "acct_2" : "acct_1",
                       .id = op_id,
                       .payment_id = id,
                       .kind = kind,
                       .amount = 100 + i,
                       .status = failed ? "failed" : "succeeded",
                       .code = i % 5 == 0 ? NULL : (i % 5 == 1 ? "" : "card_declined"),
                       .created_ms = ROLL_T0 + (int64_t)i * 3 * 60 * 1000 + i * 7};
        k_status st = store_op_append(tx, &op);
        if (st != K_OK)
            return st;
    }
    store_obj late = {.merchant_id = "acct_1",
                      .id = "pi_23",
                      .kind = "payment_intent",
                      .status = "succeeded",
                      .currency = "eur",
                      .amount = 1,
                      .created = 1796000000,
                      .body = "{\"method_type\":\"card\"}"};
    return store_obj_put(tx, &late);
}

/* Payments whose currency or method change after their journal rows. */
static k_status fn_roll_change(store_tx *tx, void *arg)
{
    arena a;
    arena_init(&a, 0);
    k_status st = K_OK;
    for (int i = 0; st == K_OK && i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "pi_%02d", i);
        store_obj o;
        st = store_obj_get(tx, "acct_1", "payment_intent", id, &a, &o);
        if (st != K_OK)
            break;
        if (i % 2 == 0)
            o.body = "{\"method_type\":\"alipay_plus\"}";
        else
            o.currency = "nok";
        st = store_obj_put(tx, &o);
    }
    arena_release(&a);
    return st;
}

static void exec_sql(const char *sql)
{
    if (g_pg) {
        pg_exec_on(g_path, sql);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

typedef struct {
    char key[160];
    int64_t count, amount;
} roll_key;

static int roll_cmp(const void *x, const void *y)
{
    return strcmp(((const roll_key *)x)->key, ((const roll_key *)y)->key);
}

static void roll_add(roll_key *k, size_t *n, size_t cap, int64_t slot, const char *kind,
                     const char *status, const char *code, const char *cur, const char *method,
                     int64_t count, int64_t amount)
{
    char key[160];
    snprintf(key, sizeof(key), "%lld|%s|%s|%s|%s|%s", (long long)slot, kind, status,
             code != NULL ? code : "(null)", cur != NULL ? cur : "(null)",
             method != NULL ? method : "(null)");
    for (size_t i = 0; i < *n; i++)
        if (strcmp(k[i].key, key) == 0) {
            k[i].count += count;
            k[i].amount += amount;
            return;
        }
    assert_true(*n < cap);
    snprintf(k[*n].key, sizeof(k[0].key), "%s", key);
    k[*n].count = count;
    k[(*n)++].amount = amount;
}

static bool summed_kind(const char *k)
{
    static const char *const sums[] = {"authorize",     "sale",       "fail",   "capture",
                                       "release",       "cancel",     "expire", "refund",
                                       "refund_settle", "refund_fail"};
    for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
        if (strcmp(k, sums[i]) == 0)
            return true;
    return false;
}

/* The same interval two ways: store_ledger_groups (rollup for the whole slots,
 * journal for the ends) and the journal's rows summed here. */
static void roll_compare(store *s, int64_t from, int64_t to, int64_t *total_out)
{
    enum { CAP = 512 };
    static roll_key got[CAP], want[CAP];
    size_t ngot = 0, nwant = 0;
    groups_arg q = {.from = from, .to = to, .slot = QUARTER_MS};
    arena_init(&q.a, 0);
    assert_int_equal(store_read(s, fn_groups, &q), K_OK);
    for (size_t i = 0; i < q.n; i++) {
        const store_ledger_group *g = &q.g[i];
        assert_true(g->count > 0);
        roll_add(got, &ngot, CAP, g->slot, g->kind, g->status, g->code, g->currency, g->method,
                 g->count, g->amount);
    }
    assert_int_equal(ngot, q.n); /* each key once */
    arena_release(&q.a);
    scan_arg sc = {.gte = from, .lt = to, .max = 1000};
    sc.after_c = from;
    arena_init(&sc.a, 0);
    assert_int_equal(store_read(s, fn_ledger_scan, &sc), K_OK);
    assert_true(sc.n < sc.max);
    int64_t total = 0;
    for (size_t i = 0; i < sc.n; i++) {
        const store_ledger_row *r = &sc.rows[i];
        if (!summed_kind(r->op.kind))
            continue;
        bool ok = strcmp(r->op.status, "succeeded") == 0;
        bool shows =
            ok && (strcmp(r->op.kind, "sale") == 0 || strcmp(r->op.kind, "authorize") == 0);
        roll_add(want, &nwant, CAP, r->op.created_ms / QUARTER_MS, r->op.kind, r->op.status,
                 r->op.code, r->currency, shows ? r->method : NULL, 1, r->op.amount);
        total += r->op.amount;
    }
    arena_release(&sc.a);
    qsort(got, ngot, sizeof(got[0]), roll_cmp);
    qsort(want, nwant, sizeof(want[0]), roll_cmp);
    assert_int_equal(ngot, nwant);
    for (size_t i = 0; i < ngot; i++) {
        assert_string_equal(got[i].key, want[i].key);
        assert_int_equal(got[i].count, want[i].count);
        assert_int_equal(got[i].amount, want[i].amount);
    }
    *total_out = total;
}

static void roll_compare_all(store *s)
{
    int64_t total = 0;
    /* unaligned ends (partial slots from the journal), aligned ends, one slot, the lot */
    roll_compare(s, ROLL_T0 + 5 * 60 * 1000 + 3, ROLL_T0 + 9 * 3600 * 1000 + 17, &total);
    assert_true(total > 0);
    roll_compare(s, ROLL_T0, ROLL_T0 + 10 * 3600 * 1000, &total);
    roll_compare(s, ROLL_T0 + QUARTER_MS, ROLL_T0 + 2 * QUARTER_MS, &total);
    roll_compare(s, ROLL_T0 + 100, ROLL_T0 + 200000, &total);
    roll_compare(s, 0, ROLL_T0 + 24 * 3600 * 1000, &total);
}

static void test_rollup_equals_scan(void **state)
{
    store *s = open_store();
    assert_int_equal(store_write(s, fn_roll_seed, NULL), K_OK);
    roll_compare_all(s);
    /* a status and an amount moved under the journal (the triggers' update half) */
    exec_sql("UPDATE operations SET status = 'failed', code = 'expired_card'"
             " WHERE id IN ('op_r_008', 'op_r_016', 'op_r_024')");
    exec_sql("UPDATE operations SET kind = 'sale', amount = 7777 WHERE id = 'op_r_006'");
    exec_sql("UPDATE operations SET kind = 'create' WHERE id = 'op_r_010'");
    roll_compare_all(s);
    /* payments' method and currency changed after their rows */
    assert_int_equal(store_write(s, fn_roll_change, NULL), K_OK);
    roll_compare_all(s);
    store_close(s);
    /* a reopened store (migrations already applied) answers the same */
    s = open_store();
    roll_compare_all(s);
    store_close(s);
}

/* ---- jobs ---- */

typedef struct {
    store_job j;
    int64_t now, lease;
    arena a;
    store_job *got;
    size_t n;
    const char *ref;
} job_arg;

static k_status fn_job_add(store_tx *tx, void *arg)
{
    job_arg *q = arg;
    return store_job_add(tx, &q->j);
}

static k_status fn_job_claim(store_tx *tx, void *arg)
{
    job_arg *q = arg;
    return store_job_claim(tx, q->now, q->lease, 10, &q->a, &q->got, &q->n);
}

static k_status fn_job_update(store_tx *tx, void *arg)
{
    job_arg *q = arg;
    return store_job_update(tx, &q->j);
}

static k_status fn_job_list(store_tx *tx, void *arg)
{
    job_arg *q = arg;
    return store_job_list(tx, "acct_1", q->ref, &q->a, &q->got, &q->n);
}

static k_status fn_job_release(store_tx *tx, void *arg)
{
    return store_job_release(tx, arg);
}

static void test_jobs_claim_lease_update(void **state)
{
    store *s = open_store();
    job_arg q = {0};
    arena_init(&q.a, 0);
    q.j = (store_job){.merchant_id = "acct_1",
                      .kind = "run",
                      .ref_id = "frr_1",
                      .state = "pending",
                      .next_at_ms = 5000,
                      .body = "{\"x\":1}",
                      .created_ms = 4000,
                      .updated_ms = 4000};
    assert_int_equal(store_write(s, fn_job_add, &q), K_OK);
    int64_t id1 = q.j.id;
    assert_true(id1 > 0);
    q.j.ref_id = "frr_2";
    q.j.next_at_ms = 9000;
    q.j.id = 0;
    assert_int_equal(store_write(s, fn_job_add, &q), K_OK);
    assert_true(q.j.id > id1);

    /* not due yet */
    q.now = 4999;
    q.lease = 10000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 0);
    /* due: one claimed, leased until 10000 */
    q.now = 6000;
    q.lease = 10000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.got[0].id, id1);
    assert_string_equal(q.got[0].kind, "run");
    assert_string_equal(q.got[0].body, "{\"x\":1}");
    /* a second claimer (another node) passes by the leased one */
    q.now = 9500;
    q.lease = 20000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1);
    assert_string_equal(q.got[0].ref_id, "frr_2");
    /* the first lease runs out (a crash mid-run): the job is claimable again */
    q.now = 10001;
    q.lease = 30000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.got[0].id, id1);
    /* done: never claimed again */
    store_job done = q.got[0];
    done.state = "done";
    done.attempts = 1;
    done.last_error = NULL;
    done.updated_ms = 10002;
    q.j = done;
    assert_int_equal(store_write(s, fn_job_update, &q), K_OK);
    q.now = 99999;
    q.lease = 199999;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1); /* only frr_2, its lease over */
    assert_string_equal(q.got[0].ref_id, "frr_2");
    /* retried: pending again later with the error kept */
    store_job retry = q.got[0];
    retry.attempts = 1;
    retry.next_at_ms = 500000;
    retry.last_error = "connection refused";
    retry.updated_ms = 100000;
    q.j = retry;
    assert_int_equal(store_write(s, fn_job_update, &q), K_OK);
    q.ref = "frr_2";
    assert_int_equal(store_read(s, fn_job_list, &q), K_OK);
    assert_int_equal(q.n, 1);
    assert_string_equal(q.got[0].state, "pending");
    assert_int_equal(q.got[0].attempts, 1);
    assert_int_equal(q.got[0].next_at_ms, 500000);
    assert_string_equal(q.got[0].last_error, "connection refused");
    q.now = 400000;
    q.lease = 600000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 0); /* its retry is not due yet */
    /* a restart on SQLite releases live leases: the leased job is claimable at once */
    q.now = 600000;
    q.lease = 700000;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1);
    q.now = 600001;
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 0); /* leased */
    int64_t released = 0;
    assert_int_equal(store_write(s, fn_job_release, &released), K_OK);
    assert_int_equal(released, 1);
    assert_int_equal(store_write(s, fn_job_claim, &q), K_OK);
    assert_int_equal(q.n, 1);
    /* an unknown job or another merchant's: not found */
    store_job ghost = retry;
    ghost.id = 987654;
    q.j = ghost;
    assert_int_equal(store_write(s, fn_job_update, &q), K_ENOTFOUND);
    ghost = retry;
    ghost.merchant_id = "acct_2";
    q.j = ghost;
    assert_int_equal(store_write(s, fn_job_update, &q), K_ENOTFOUND);
    arena_release(&q.a);
    store_close(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_obj_scan_pages_in_order), T(test_ledger_scan_joins_payment), T(test_ledger_groups),
        T(test_rollup_equals_scan),      T(test_jobs_claim_lease_update),
    };
    int failed = cmocka_run_group_tests_name("report store on sqlite", tests, NULL, NULL);
    g_pg_base = getenv("KASSA_TEST_PG_URL");
    if (g_pg_base == NULL || g_pg_base[0] == '\0') {
        printf("report store on postgresql: NOT RUN (KASSA_TEST_PG_URL is not set)\n");
        return failed;
    }
    g_pg = true;
    int pg_failed = cmocka_run_group_tests_name("report store on postgresql", tests, NULL, NULL);
    return failed + pg_failed;
}
