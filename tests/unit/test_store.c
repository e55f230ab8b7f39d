/*
 * test_store.c - unit tests of the store through store.h only, run on BOTH
 * backends with the same test functions: migrations, documents and their
 * pagination, the journal, the webhook outbox, idempotency keys, group commit
 * (batching, per-job rollback), reads beside a long write, two stores on one
 * database (two nodes), reopen, and durability of acknowledged writes across
 * SIGKILL. The SQLite half runs on a fresh file in a mkdtemp directory per
 * test; the PostgreSQL half runs when KASSA_TEST_PG_URL names a server
 * (tests/pg_server.sh start prints one), on a fresh database per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/clock.h"
#include "store/store.h"

static char g_dir[64];
static char g_path[512];      /* what store_open gets: a file path or a postgresql:// URL */
static bool g_pg;             /* the PostgreSQL half is running */
static const char *g_pg_base; /* KASSA_TEST_PG_URL: a database we may CREATE DATABASE from */
static char g_pg_db[64];      /* this test's database */
static int g_pg_seq;

/* Runs one SQL command on url (a database of the test server); asserts success. */
static void pg_exec_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("'%s': %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* g_pg_base with its database name replaced by db (query string kept). */
static void pg_url_for(const char *db, char *out, size_t cap)
{
    const char *auth = strstr(g_pg_base, "://");
    assert_non_null(auth);
    const char *path = strchr(auth + 3, '/');
    const char *query = strchr(auth + 3, '?');
    size_t head = path != NULL ? (size_t)(path - g_pg_base)
                               : (query != NULL ? (size_t)(query - g_pg_base) : strlen(g_pg_base));
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, g_pg_base, db, query != NULL ? query : "");
    assert_true(n > 0 && (size_t)n < cap);
}

static int setup_dir(void **state)
{
    if (g_pg) {
        snprintf(g_pg_db, sizeof(g_pg_db), "kassa_t_%d_%d", (int)getpid(), ++g_pg_seq);
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        pg_url_for(g_pg_db, g_path, sizeof(g_path));
        return 0;
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/kassa-store-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_path, sizeof(g_path), "%s/kassa.db", g_dir);
    return 0;
}

static int teardown_dir(void **state)
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
    assert_non_null(s);
    return s;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first column of the first row of sql, read directly with libpq. */
static void pg_value(const char *sql, char *out, size_t cap)
{
    PGconn *c = PQconnectdb(g_path);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("'%s': %s", sql, PQerrorMessage(c));
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
}

/* A value read directly with sqlite3 or libpq, to check what the store wrote. */
static int64_t sql_int(const char *sql)
{
    if (g_pg) {
        char v[64];
        pg_value(sql, v, sizeof(v));
        return strtoll(v, NULL, 10);
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void sql_text(const char *sql, char *out, size_t cap)
{
    if (g_pg) {
        pg_value(sql, out, cap);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- generic closures ---- */

typedef struct {
    store_obj o;
    k_status fail_with; /* returned after the put succeeded, to test rollback */
} put_arg;

static k_status fn_put(store_tx *tx, void *arg)
{
    put_arg *p = arg;
    k_status st = store_obj_put(tx, &p->o);
    if (st != K_OK)
        return st;
    return p->fail_with;
}

static store_obj mk_obj(const char *merchant, const char *kind, const char *id)
{
    store_obj o = {0};
    o.merchant_id = merchant;
    o.kind = kind;
    o.id = id;
    o.status = "requires_payment_method";
    o.currency = "eur";
    o.amount = 1000;
    o.created = 1700000000;
    o.body = "{}";
    return o;
}

static k_status put_obj(store *s, store_obj *o)
{
    put_arg p = {*o, K_OK};
    k_status st = store_write(s, fn_put, &p);
    *o = p.o;
    return st;
}

typedef struct {
    const char *merchant, *kind, *id;
    arena a;
    store_obj out;
} get_arg;

static k_status fn_get(store_tx *tx, void *arg)
{
    get_arg *g = arg;
    return store_obj_get(tx, g->merchant, g->kind, g->id, &g->a, &g->out);
}

/* Reads one object; returns the status, fills *out (strings in g->a). */
static k_status get_obj(store *s, get_arg *g, const char *merchant, const char *kind,
                        const char *id)
{
    g->merchant = merchant;
    g->kind = kind;
    g->id = id;
    arena_init(&g->a, 0);
    return store_read(s, fn_get, g);
}

/* ---- migrations ---- */

/* Tables, and the partial unique index on ext_ref, as the backend's catalog has them. */
static int64_t count_tables(void)
{
    if (g_pg)
        return sql_int("SELECT count(*) FROM information_schema.tables WHERE table_schema ="
                       " current_schema() AND table_name IN ('merchants','objects','operations',"
                       "'deliveries','delivery_attempts','idempotency')");
    return sql_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                   " ('merchants','objects','operations','deliveries',"
                   "'delivery_attempts','idempotency')");
}

static int64_t count_ext_ref_index(void)
{
    if (g_pg)
        return sql_int("SELECT count(*) FROM pg_indexes WHERE indexname = 'objects_ext_ref'"
                       " AND indexdef LIKE '%UNIQUE%WHERE (ext_ref IS NOT NULL)%'");
    return sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'objects_ext_ref'");
}

static void test_open_migrates_and_reopens(void **state)
{
    store *s = NULL;
    /* Nothing listens on port 1: the PostgreSQL backend answers K_EIO, cleanly. */
    assert_int_equal(store_open(&s, "postgres://u@127.0.0.1:1/kassa?connect_timeout=2"), K_EIO);
    assert_null(s);
    assert_int_equal(store_open(&s, "postgresql://u@127.0.0.1:1/kassa?connect_timeout=2"), K_EIO);
    assert_null(s);
    assert_int_equal(store_open(&s, ":memory:"), K_EINVAL);

    s = open_store();
    /* 1: the initial schema, 2: reports, 3: the back office, 4: the journal by kind,
     * 5: the limits every node shares (on SQLite only the version: one node counts in memory),
     * 6: the staff page and the payments list's search terms,
     * 7: the analytics rollup,
     * 8: API keys and the request log */
    const int want = 8;
    assert_int_equal(store_schema_version(s), want);
    store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM schema_version"), want);
    assert_int_equal(count_tables(), 6);
    if (!g_pg) {
        char mode[16];
        sql_text("PRAGMA journal_mode", mode, sizeof(mode));
        assert_string_equal(mode, "wal");
    }

    s = open_store(); /* a second open applies nothing again */
    assert_int_equal(store_schema_version(s), want);
    store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM schema_version"), want);
    assert_int_equal(count_ext_ref_index(), 1);
}

typedef struct {
    store *s;
    k_status st;
} open_arg;

static void *open_thread(void *p)
{
    open_arg *o = p;
    o->st = store_open(&o->s, g_path);
    return NULL;
}

/* Several nodes starting at once on an empty database: each migration is
 * applied exactly once and every node opens. */
static void test_concurrent_open(void **state)
{
    enum { N = 4 };
    open_arg o[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        o[i] = (open_arg){NULL, K_ERR};
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(o[i].st, K_OK);
        assert_int_equal(store_schema_version(o[i].s), 8);
        store_close(o[i].s);
    }
    assert_int_equal(sql_int("SELECT count(*) FROM schema_version"), 8);
    assert_int_equal(count_tables(), 6);
}

/* ---- merchants ---- */

typedef struct {
    store_merchant m;
} mput_arg;

static k_status fn_mput(store_tx *tx, void *arg)
{
    return store_merchant_put(tx, &((mput_arg *)arg)->m);
}

typedef struct {
    arena a;
    k_status by_id, by_key, by_project, by_zero, missing;
    store_merchant m1, m2, m3;
    int64_t count;
} mget_arg;

static k_status fn_mget(store_tx *tx, void *arg)
{
    mget_arg *g = arg;
    store_merchant tmp;
    g->by_id = store_merchant_get(tx, "acct_1", &g->a, &g->m1);
    g->by_key = store_merchant_by_key(tx, "hash2", &g->a, &g->m2);
    g->by_project = store_merchant_by_project(tx, 4242, &g->a, &g->m3);
    g->by_zero = store_merchant_by_project(tx, 0, &g->a, &tmp);
    g->missing = store_merchant_get(tx, "acct_none", &g->a, &tmp);
    return store_merchant_count(tx, &g->count);
}

static void test_merchants(void **state)
{
    store *s = open_store();
    mput_arg p1 = {{"acct_1", "Shop One", "hash1", "pk_test_1", 4242, "ecpsecret", NULL, 17}};
    mput_arg p2 = {{"acct_2", "Shop Two", "hash2", "pk_test_2", 0, NULL, "{\"a\":1}", 18}};
    mput_arg p3 = {{"acct_3", "Shop Three", "hash3", "pk_test_3", 0, NULL, NULL, 19}};
    assert_int_equal(store_write(s, fn_mput, &p1), K_OK);
    assert_int_equal(store_write(s, fn_mput, &p2), K_OK);
    assert_int_equal(store_write(s, fn_mput, &p3), K_OK); /* two merchants without a project */
    /* Another merchant may not take acct_1's key hash or project id. */
    mput_arg dup = {{"acct_4", "Thief", "hash1", "pk", 0, NULL, NULL, 1}};
    assert_int_equal(store_write(s, fn_mput, &dup), K_ECONFLICT);
    mput_arg dup2 = {{"acct_4", "Thief", "hash4", "pk", 4242, NULL, NULL, 1}};
    assert_int_equal(store_write(s, fn_mput, &dup2), K_ECONFLICT);
    /* Replace keeps one row per id. */
    p1.m.name = "Shop One Renamed";
    assert_int_equal(store_write(s, fn_mput, &p1), K_OK);

    mget_arg g;
    memset(&g, 0, sizeof(g));
    arena_init(&g.a, 0);
    assert_int_equal(store_read(s, fn_mget, &g), K_OK);
    assert_int_equal(g.by_id, K_OK);
    assert_string_equal(g.m1.name, "Shop One Renamed");
    assert_string_equal(g.m1.ecp_secret, "ecpsecret");
    assert_string_equal(g.m1.settings, "{}"); /* NULL settings become the empty object */
    assert_int_equal(g.m1.ecp_project_id, 4242);
    assert_int_equal(g.m1.created, 17);
    assert_int_equal(g.by_key, K_OK);
    assert_string_equal(g.m2.id, "acct_2");
    assert_string_equal(g.m2.settings, "{\"a\":1}");
    assert_int_equal(g.m2.ecp_project_id, 0);
    assert_null(g.m2.ecp_secret);
    assert_int_equal(g.by_project, K_OK);
    assert_string_equal(g.m3.id, "acct_1");
    assert_int_equal(g.by_zero, K_ENOTFOUND);
    assert_int_equal(g.missing, K_ENOTFOUND);
    assert_int_equal(g.count, 3);
    arena_release(&g.a);
    store_close(s);
}

/* ---- documents ---- */

static void test_objects_put_get_conflicts(void **state)
{
    store *s = open_store();
    store_obj o = mk_obj("acct_1", "payment_intent", "pi_1");
    o.ext_ref = "pi_1_secret_abc";
    o.due_at = 1700003600;
    assert_int_equal(put_obj(s, &o), K_OK);
    assert_int_equal(o.version, 1);
    assert_true(o.seq > 0);
    int64_t seq = o.seq;

    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_1"), K_OK);
    assert_string_equal(g.out.id, "pi_1");
    assert_string_equal(g.out.ext_ref, "pi_1_secret_abc");
    assert_string_equal(g.out.currency, "eur");
    assert_null(g.out.parent_id);
    assert_int_equal(g.out.amount, 1000);
    assert_int_equal(g.out.due_at, 1700003600);
    assert_int_equal(g.out.version, 1);
    assert_int_equal(g.out.seq, seq);
    arena_release(&g.a);

    /* Update with the version read: ok, version 2, seq unchanged. */
    o.status = "succeeded";
    o.amount = 900;
    assert_int_equal(put_obj(s, &o), K_OK);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.seq, seq);
    /* A stale version conflicts and changes nothing. */
    store_obj stale = o;
    stale.version = 1;
    stale.status = "canceled";
    assert_int_equal(put_obj(s, &stale), K_ECONFLICT);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_1"), K_OK);
    assert_string_equal(g.out.status, "succeeded");
    assert_int_equal(g.out.amount, 900);
    assert_int_equal(g.out.version, 2);
    arena_release(&g.a);

    /* Duplicate id (same merchant and kind) and duplicate ext_ref conflict;
     * the same id under another kind or merchant does not. */
    store_obj dup = mk_obj("acct_1", "payment_intent", "pi_1");
    assert_int_equal(put_obj(s, &dup), K_ECONFLICT);
    store_obj dupref = mk_obj("acct_2", "payment_intent", "pi_2");
    dupref.ext_ref = "pi_1_secret_abc";
    assert_int_equal(put_obj(s, &dupref), K_ECONFLICT);
    store_obj other = mk_obj("acct_2", "payment_intent", "pi_1");
    assert_int_equal(put_obj(s, &other), K_OK);
    store_obj refund = mk_obj("acct_1", "refund", "pi_1");
    refund.ext_ref = "pi_1_secret_abc"; /* unique per kind */
    assert_int_equal(put_obj(s, &refund), K_OK);

    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_nope"), K_ENOTFOUND);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_3", "payment_intent", "pi_1"), K_ENOTFOUND);
    arena_release(&g.a);
    /* An update of a row that does not exist is a conflict too. */
    store_obj ghost = mk_obj("acct_1", "payment_intent", "pi_ghost");
    ghost.version = 1;
    assert_int_equal(put_obj(s, &ghost), K_ECONFLICT);
    store_close(s);
}

typedef struct {
    arena a;
    k_status by_ref, by_ref_other, find, find_missing;
    store_obj o1, o2, o3;
} ref_arg;

static k_status fn_refs(store_tx *tx, void *arg)
{
    ref_arg *r = arg;
    store_obj tmp;
    r->by_ref = store_obj_by_ref(tx, "acct_1", "attempt", "klarna_ord_1", &r->a, &r->o1);
    r->by_ref_other = store_obj_by_ref(tx, "acct_2", "attempt", "klarna_ord_1", &r->a, &tmp);
    r->find = store_obj_find_ref(tx, "attempt", "klarna_ord_1", &r->a, &r->o2);
    r->find_missing = store_obj_find_ref(tx, "attempt", "nope", &r->a, &tmp);
    return K_OK;
}

static void test_objects_refs(void **state)
{
    store *s = open_store();
    store_obj o = mk_obj("acct_1", "attempt", "att_1");
    o.ext_ref = "klarna_ord_1";
    o.parent_id = "pi_1";
    assert_int_equal(put_obj(s, &o), K_OK);
    ref_arg r;
    memset(&r, 0, sizeof(r));
    arena_init(&r.a, 0);
    assert_int_equal(store_read(s, fn_refs, &r), K_OK);
    assert_int_equal(r.by_ref, K_OK);
    assert_string_equal(r.o1.id, "att_1");
    assert_string_equal(r.o1.parent_id, "pi_1");
    assert_int_equal(r.by_ref_other, K_ENOTFOUND); /* names the merchant */
    assert_int_equal(r.find, K_OK);
    assert_string_equal(r.o2.merchant_id, "acct_1");
    assert_int_equal(r.find_missing, K_ENOTFOUND);
    arena_release(&r.a);
    store_close(s);
}

/* ---- lists ---- */

typedef struct {
    int count;
    const char *merchant, *kind;
} bulk_arg;

static k_status fn_bulk(store_tx *tx, void *arg)
{
    bulk_arg *b = arg;
    for (int i = 0; i < b->count; i++) {
        char id[32], parent[32];
        snprintf(id, sizeof(id), "pi_%03d", i);
        snprintf(parent, sizeof(parent), "cus_%d", i % 5);
        store_obj o = mk_obj(b->merchant, b->kind, id);
        o.parent_id = parent;
        o.status = i % 2 == 0 ? "succeeded" : "canceled";
        o.created = 1000 + i;
        k_status st = store_obj_put(tx, &o);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

typedef struct {
    const char *merchant, *kind;
    store_list_q q;
    arena a;
    store_obj *rows;
    size_t n;
    bool has_more;
} list_arg;

static k_status fn_list(store_tx *tx, void *arg)
{
    list_arg *l = arg;
    return store_obj_list(tx, l->merchant, l->kind, &l->q, &l->a, &l->rows, &l->n, &l->has_more);
}

static k_status list(store *s, list_arg *l, const char *kind, store_list_q q)
{
    memset(l, 0, sizeof(*l));
    l->merchant = "acct_1";
    l->kind = kind;
    l->q = q;
    arena_init(&l->a, 0);
    return store_read(s, fn_list, l);
}

static int id_num(const char *id)
{
    return (int)strtol(id + 3, NULL, 10);
}

static void test_list_pagination(void **state)
{
    store *s = open_store();
    bulk_arg b = {250, "acct_1", "payment_intent"};
    assert_int_equal(store_write(s, fn_bulk, &b), K_OK);
    bulk_arg noise1 = {30, "acct_2", "payment_intent"};
    assert_int_equal(store_write(s, fn_bulk, &noise1), K_OK);
    bulk_arg noise2 = {30, "acct_1", "refund"};
    assert_int_equal(store_write(s, fn_bulk, &noise2), K_OK);

    /* Forwards: newest first, 100 + 100 + 50, has_more true, true, false. */
    char cursor[32] = "";
    int expect = 249;
    const size_t sizes[] = {100, 100, 50};
    for (int page = 0; page < 3; page++) {
        list_arg l;
        store_list_q q = {.limit = 100, .starting_after = page ? cursor : NULL};
        assert_int_equal(list(s, &l, "payment_intent", q), K_OK);
        assert_int_equal(l.n, sizes[page]);
        assert_int_equal(l.has_more, page < 2);
        for (size_t i = 0; i < l.n; i++) {
            assert_string_equal(l.rows[i].merchant_id, "acct_1");
            assert_int_equal(id_num(l.rows[i].id), expect--);
            if (i > 0)
                assert_true(l.rows[i].seq < l.rows[i - 1].seq);
        }
        snprintf(cursor, sizeof(cursor), "%s", l.rows[l.n - 1].id);
        arena_release(&l.a);
    }
    assert_int_equal(expect, -1);

    /* Backwards from the oldest: each page still newest first. */
    snprintf(cursor, sizeof(cursor), "pi_000");
    int lowest = 1;
    for (int page = 0; page < 3; page++) {
        list_arg l;
        store_list_q q = {.limit = 100, .ending_before = cursor};
        assert_int_equal(list(s, &l, "payment_intent", q), K_OK);
        size_t want = page < 2 ? 100 : 49;
        assert_int_equal(l.n, want);
        assert_int_equal(l.has_more, page < 2);
        for (size_t i = 0; i < l.n; i++)
            assert_int_equal(id_num(l.rows[i].id), lowest + (int)(l.n - 1 - i));
        lowest += (int)l.n;
        snprintf(cursor, sizeof(cursor), "%s", l.rows[0].id); /* the newest of the page */
        arena_release(&l.a);
    }
    assert_int_equal(lowest, 250);

    /* A small page right after a known id. */
    list_arg l;
    store_list_q qa = {.limit = 3, .starting_after = "pi_100"};
    assert_int_equal(list(s, &l, "payment_intent", qa), K_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.rows[0].id, "pi_099");
    assert_string_equal(l.rows[2].id, "pi_097");
    assert_true(l.has_more);
    arena_release(&l.a);
    store_list_q qb = {.limit = 3, .ending_before = "pi_100"};
    assert_int_equal(list(s, &l, "payment_intent", qb), K_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.rows[0].id, "pi_103");
    assert_string_equal(l.rows[2].id, "pi_101");
    assert_true(l.has_more);
    arena_release(&l.a);

    /* Errors: unknown cursor (also one of another kind), both cursors, bad limit. */
    store_list_q bad1 = {.limit = 10, .starting_after = "pi_999"};
    assert_int_equal(list(s, &l, "payment_intent", bad1), K_ENOTFOUND);
    arena_release(&l.a);
    store_list_q bad2 = {.limit = 10, .ending_before = "pi_000"};
    assert_int_equal(list(s, &l, "event", bad2), K_ENOTFOUND);
    arena_release(&l.a);
    store_list_q bad3 = {.limit = 10, .starting_after = "pi_001", .ending_before = "pi_000"};
    assert_int_equal(list(s, &l, "payment_intent", bad3), K_EINVAL);
    arena_release(&l.a);
    store_list_q bad4 = {.limit = 0};
    assert_int_equal(list(s, &l, "payment_intent", bad4), K_EINVAL);
    arena_release(&l.a);
    store_close(s);
}

static void test_list_filters(void **state)
{
    store *s = open_store();
    bulk_arg b = {250, "acct_1", "payment_intent"};
    assert_int_equal(store_write(s, fn_bulk, &b), K_OK);

    list_arg l;
    store_list_q qp = {.limit = 100, .parent_id = "cus_3"}; /* i % 5 == 3: 50 rows */
    assert_int_equal(list(s, &l, "payment_intent", qp), K_OK);
    assert_int_equal(l.n, 50);
    assert_false(l.has_more);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(id_num(l.rows[i].id) % 5, 3);
    assert_string_equal(l.rows[0].id, "pi_248");
    arena_release(&l.a);

    store_list_q qs = {.limit = 100, .parent_id = "cus_3", .status = "succeeded"};
    assert_int_equal(list(s, &l, "payment_intent", qs), K_OK);
    assert_int_equal(l.n, 25); /* i % 5 == 3 and even */
    for (size_t i = 0; i < l.n; i++)
        assert_string_equal(l.rows[i].status, "succeeded");
    arena_release(&l.a);

    store_list_q qc = {.limit = 100, .created_gte = 1010, .created_lte = 1019}; /* pi_010..019 */
    assert_int_equal(list(s, &l, "payment_intent", qc), K_OK);
    assert_int_equal(l.n, 10);
    assert_string_equal(l.rows[0].id, "pi_019");
    assert_string_equal(l.rows[9].id, "pi_010");
    arena_release(&l.a);

    store_list_q qc2 = {.limit = 5, .created_lte = 1019, .starting_after = "pi_012"};
    assert_int_equal(list(s, &l, "payment_intent", qc2), K_OK);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.rows[0].id, "pi_011");
    assert_true(l.has_more);
    arena_release(&l.a);

    /* Events keep their type in status; type_prefix is an exact prefix ('_'
     * is not a wildcard). */
    const char *types[] = {"payment_intent.succeeded", "payment_intent.canceled", "charge.refunded",
                           "paymentXintent.created"};
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "evt_%d", i);
        store_obj e = mk_obj("acct_1", "event", id);
        e.status = types[i];
        assert_int_equal(put_obj(s, &e), K_OK);
    }
    store_list_q qe = {.limit = 10, .type_prefix = "payment_intent."};
    assert_int_equal(list(s, &l, "event", qe), K_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.rows[0].id, "evt_1");
    assert_string_equal(l.rows[1].id, "evt_0");
    arena_release(&l.a);
    store_list_q qe2 = {.limit = 10, .type_prefix = "charge.refunded"};
    assert_int_equal(list(s, &l, "event", qe2), K_OK);
    assert_int_equal(l.n, 1);
    arena_release(&l.a);
    store_close(s);
}

/* ---- timers ---- */

typedef struct {
    int64_t now;
    size_t max;
    arena a;
    store_obj *rows;
    size_t n;
} due_arg;

static k_status fn_due(store_tx *tx, void *arg)
{
    due_arg *d = arg;
    return store_obj_due(tx, d->now, d->max, &d->a, &d->rows, &d->n);
}

static void test_due_scan(void **state)
{
    store *s = open_store();
    const int64_t due[] = {0, 100, 50, 200, 150};
    const char *merchants[] = {"acct_1", "acct_2", "acct_1", "acct_3", "acct_2"};
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "cs_%d", i);
        store_obj o = mk_obj(merchants[i], "checkout.session", id);
        o.due_at = due[i];
        assert_int_equal(put_obj(s, &o), K_OK);
    }
    due_arg d = {.now = 150, .max = 10};
    arena_init(&d.a, 0);
    assert_int_equal(store_read(s, fn_due, &d), K_OK);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.rows[0].id, "cs_2"); /* 50 */
    assert_string_equal(d.rows[1].id, "cs_1"); /* 100, another merchant */
    assert_string_equal(d.rows[2].id, "cs_4"); /* 150 */
    arena_release(&d.a);
    due_arg d2 = {.now = 1000, .max = 2};
    arena_init(&d2.a, 0);
    assert_int_equal(store_read(s, fn_due, &d2), K_OK);
    assert_int_equal(d2.n, 2);
    assert_int_equal(d2.rows[0].due_at, 50);
    arena_release(&d2.a);
    store_close(s);
}

typedef struct {
    int64_t now, lease_until;
    arena a;
    store_obj *rows;
    size_t n;
} due_claim_arg;

static k_status fn_due_claim(store_tx *tx, void *arg)
{
    due_claim_arg *d = arg;
    return store_obj_claim_due(tx, d->now, d->lease_until, 10, &d->a, &d->rows, &d->n);
}

/* Claims the objects due at now; returns how many, and whether `id` was among them. */
static size_t due_claim(store *s, int64_t now, int64_t lease_until, const char *id, bool *had)
{
    due_claim_arg d = {.now = now, .lease_until = lease_until};
    arena_init(&d.a, 0);
    assert_int_equal(store_write(s, fn_due_claim, &d), K_OK);
    *had = false;
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(d.rows[i].version, 1); /* a claim is not an edit */
        *had = *had || strcmp(d.rows[i].id, id) == 0;
    }
    size_t n = d.n;
    arena_release(&d.a);
    return n;
}

/* The schedulers' shared queue: a claim leases what it took (due_at moved), a
 * second claim before the lease ends gets nothing, the lease's end gives the
 * objects back (a node that died with them), and on PostgreSQL a row another
 * transaction holds is passed by rather than waited for. */
static void test_due_claim(void **state)
{
    store *s = open_store();
    const int64_t due[] = {0, 100, 50, 200, 150};
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "cs_%d", i);
        store_obj o = mk_obj("acct_1", "checkout.session", id);
        o.due_at = due[i];
        assert_int_equal(put_obj(s, &o), K_OK);
    }
    bool had = false;
    assert_int_equal(due_claim(s, 150, 160, "cs_1", &had), 3);
    assert_true(had);
    assert_int_equal(due_claim(s, 150, 160, "cs_1", &had), 0); /* leased */
    assert_int_equal(due_claim(s, 159, 170, "cs_1", &had), 0);
    assert_int_equal(due_claim(s, 160, 170, "cs_1", &had), 3); /* the lease ended */
    assert_true(had);
    assert_int_equal(sql_int("SELECT due_at FROM objects WHERE id = 'cs_3'"), 200);
    assert_int_equal(sql_int("SELECT due_at FROM objects WHERE id = 'cs_0'"), 0);
    if (g_pg) {
        PGconn *c = PQconnectdb(g_path);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, "BEGIN; SELECT 1 FROM objects WHERE id = 'cs_1' FOR UPDATE");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        PQclear(r);
        assert_int_equal(due_claim(s, 170, 180, "cs_1", &had), 2); /* cs_1 is held: skipped */
        assert_false(had);
        r = PQexec(c, "ROLLBACK");
        PQclear(r);
        PQfinish(c);
        assert_int_equal(due_claim(s, 170, 180, "cs_1", &had), 1);
        assert_true(had);
    }
    store_close(s);
}

/* ---- journal ---- */

static store_op mk_op(const char *merchant, const char *id, const char *payment, int64_t amount,
                      int64_t created_ms)
{
    store_op op = {0};
    op.merchant_id = merchant;
    op.id = id;
    op.payment_id = payment;
    op.kind = "capture";
    op.amount = amount;
    op.status = "succeeded";
    op.created_ms = created_ms;
    return op;
}

typedef struct {
    store_op ops[8];
    int n;
} ops_arg;

static k_status fn_ops(store_tx *tx, void *arg)
{
    ops_arg *o = arg;
    for (int i = 0; i < o->n; i++) {
        k_status st = store_op_append(tx, &o->ops[i]);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

typedef struct {
    const char *merchant;
    int64_t from, to, after;
    size_t max;
    arena a;
    store_op *list, *range;
    size_t nlist, nrange;
} opq_arg;

static k_status fn_opq(store_tx *tx, void *arg)
{
    opq_arg *q = arg;
    k_status st = store_op_list(tx, "acct_1", "pi_1", &q->a, &q->list, &q->nlist);
    if (st != K_OK)
        return st;
    return store_op_range(tx, q->merchant, q->from, q->to, q->after, q->max, &q->a, &q->range,
                          &q->nrange);
}

static void test_journal(void **state)
{
    store *s = open_store();
    ops_arg a = {.n = 5};
    a.ops[0] = mk_op("acct_1", "op_1", "pi_1", 1000, 100);
    a.ops[0].kind = "authorize";
    a.ops[0].provider_ref = "kl_auth_1";
    a.ops[0].body = "{\"lines\":[]}";
    a.ops[1] = mk_op("acct_2", "op_2", "pi_9", 300, 150);
    a.ops[2] = mk_op("acct_1", "op_3", "pi_1", 400, 200);
    a.ops[2].code = "0";
    a.ops[2].message = "ok";
    a.ops[2].ref_id = "re_1";
    a.ops[3] = mk_op("acct_1", "op_4", "pi_2", 50, 250);
    a.ops[4] = mk_op("acct_1", "op_5", "pi_1", 0, 300);
    a.ops[4].kind = "cancel";
    assert_int_equal(store_write(s, fn_ops, &a), K_OK);
    ops_arg dup = {.n = 1};
    dup.ops[0] = mk_op("acct_1", "op_1", "pi_1", 1, 400);
    assert_int_equal(store_write(s, fn_ops, &dup), K_ECONFLICT);

    opq_arg q = {.merchant = "acct_1", .from = 0, .to = 1000, .max = 2};
    arena_init(&q.a, 0);
    assert_int_equal(store_read(s, fn_opq, &q), K_OK);
    assert_int_equal(q.nlist, 3);
    assert_string_equal(q.list[0].id, "op_1");
    assert_string_equal(q.list[0].kind, "authorize");
    assert_string_equal(q.list[0].provider_ref, "kl_auth_1");
    assert_string_equal(q.list[0].body, "{\"lines\":[]}");
    assert_null(q.list[0].code);
    assert_int_equal(q.list[0].amount, 1000);
    assert_string_equal(q.list[1].id, "op_3");
    assert_string_equal(q.list[1].ref_id, "re_1");
    assert_string_equal(q.list[2].id, "op_5");
    assert_true(q.list[0].seq < q.list[1].seq && q.list[1].seq < q.list[2].seq);
    /* Range for acct_1, two at a time. */
    assert_int_equal(q.nrange, 2);
    assert_string_equal(q.range[0].id, "op_1");
    assert_string_equal(q.range[1].id, "op_3");
    int64_t after = q.range[1].seq;
    arena_release(&q.a);

    opq_arg q2 = {.merchant = "acct_1", .from = 0, .to = 1000, .after = after, .max = 2};
    arena_init(&q2.a, 0);
    assert_int_equal(store_read(s, fn_opq, &q2), K_OK);
    assert_int_equal(q2.nrange, 2);
    assert_string_equal(q2.range[0].id, "op_4");
    assert_string_equal(q2.range[1].id, "op_5");
    arena_release(&q2.a);

    /* All merchants, time window [150, 300): op_2, op_3, op_4. */
    opq_arg q3 = {.merchant = NULL, .from = 150, .to = 300, .max = 100};
    arena_init(&q3.a, 0);
    assert_int_equal(store_read(s, fn_opq, &q3), K_OK);
    assert_int_equal(q3.nrange, 3);
    assert_string_equal(q3.range[0].id, "op_2");
    assert_string_equal(q3.range[0].merchant_id, "acct_2");
    assert_string_equal(q3.range[2].id, "op_4");
    arena_release(&q3.a);
    store_close(s);
}

/* ---- webhook outbox ---- */

typedef struct {
    store_delivery d[4];
    int n;
} dadd_arg;

static k_status fn_dadd(store_tx *tx, void *arg)
{
    dadd_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        k_status st = store_delivery_add(tx, &a->d[i]);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

static store_delivery mk_delivery(const char *merchant, const char *event, const char *endpoint,
                                  int64_t next_at)
{
    store_delivery d = {0};
    d.merchant_id = merchant;
    d.event_id = event;
    d.endpoint_id = endpoint;
    d.state = "pending";
    d.next_at_ms = next_at;
    d.created_ms = 10;
    return d;
}

typedef struct {
    int64_t now, lease;
    size_t max;
    arena a;
    store_delivery *rows;
    size_t n;
} claim_arg;

static k_status fn_claim(store_tx *tx, void *arg)
{
    claim_arg *c = arg;
    return store_delivery_claim(tx, c->now, c->lease, c->max, &c->a, &c->rows, &c->n);
}

static size_t claim(store *s, claim_arg *c, int64_t now, int64_t lease)
{
    memset(c, 0, sizeof(*c));
    c->now = now;
    c->lease = lease;
    c->max = 10;
    arena_init(&c->a, 0);
    assert_int_equal(store_write(s, fn_claim, c), K_OK);
    return c->n;
}

typedef struct {
    store_delivery d;
    store_delivery_attempt at;
} record_arg;

static k_status fn_record(store_tx *tx, void *arg)
{
    record_arg *r = arg;
    return store_delivery_record(tx, &r->d, &r->at);
}

typedef struct {
    int64_t id;
    arena a;
    store_delivery one, *list;
    store_delivery_attempt *att;
    size_t nlist, natt;
    int64_t next_due;
    k_status other_merchant;
} dq_arg;

static k_status fn_dq(store_tx *tx, void *arg)
{
    dq_arg *q = arg;
    store_delivery tmp;
    k_status st = store_delivery_get(tx, "acct_1", q->id, &q->a, &q->one);
    if (st != K_OK)
        return st;
    q->other_merchant = store_delivery_get(tx, "acct_2", q->id, &q->a, &tmp);
    st = store_delivery_list(tx, "acct_1", "evt_1", &q->a, &q->list, &q->nlist);
    if (st != K_OK)
        return st;
    st = store_delivery_attempts(tx, q->id, &q->a, &q->att, &q->natt);
    if (st != K_OK)
        return st;
    return store_delivery_next_due(tx, &q->next_due);
}

static void test_deliveries(void **state)
{
    store *s = open_store();
    dadd_arg a = {.n = 3};
    a.d[0] = mk_delivery("acct_1", "evt_1", "we_1", 100);
    a.d[1] = mk_delivery("acct_1", "evt_1", "we_2", 200);
    a.d[2] = mk_delivery("acct_2", "evt_2", "ecp:callback", 300);
    assert_int_equal(store_write(s, fn_dadd, &a), K_OK);
    assert_true(a.d[0].id > 0 && a.d[1].id > a.d[0].id && a.d[2].id > a.d[1].id);
    dadd_arg dup = {.n = 1};
    dup.d[0] = mk_delivery("acct_1", "evt_1", "we_1", 100);
    assert_int_equal(store_write(s, fn_dadd, &dup), K_ECONFLICT);

    claim_arg c;
    assert_int_equal(claim(s, &c, 250, 1000), 2);
    assert_int_equal(c.rows[0].id, a.d[0].id);
    assert_int_equal(c.rows[1].id, a.d[1].id);
    assert_string_equal(c.rows[0].endpoint_id, "we_1");
    arena_release(&c.a);
    /* Leased: nobody else gets them until the lease runs out. */
    assert_int_equal(claim(s, &c, 400, 1000), 1); /* only the third, due at 300 */
    assert_int_equal(c.rows[0].id, a.d[2].id);
    arena_release(&c.a);
    assert_int_equal(claim(s, &c, 999, 2000), 0);
    arena_release(&c.a);

    /* The first succeeds; the second fails and is retried at 5000. */
    char head[400];
    memset(head, 'x', sizeof(head) - 1);
    head[sizeof(head) - 1] = '\0';
    record_arg r1 = {a.d[0], {a.d[0].id, 1001, 200, 35, head, NULL}};
    r1.d.state = "delivered";
    r1.d.attempts = 1;
    r1.d.last_status = 200;
    assert_int_equal(store_write(s, fn_record, &r1), K_OK);
    record_arg r2 = {a.d[1], {a.d[1].id, 1002, 0, 10000, NULL, "timeout"}};
    r2.d.attempts = 1;
    r2.d.next_at_ms = 5000;
    assert_int_equal(store_write(s, fn_record, &r2), K_OK);
    record_arg ghost = {a.d[0], {a.d[0].id, 1, 0, 0, NULL, NULL}};
    ghost.d.merchant_id = "acct_2"; /* not that merchant's delivery */
    assert_int_equal(store_write(s, fn_record, &ghost), K_ENOTFOUND);

    dq_arg q = {.id = a.d[0].id};
    arena_init(&q.a, 0);
    assert_int_equal(store_read(s, fn_dq, &q), K_OK);
    assert_string_equal(q.one.state, "delivered");
    assert_int_equal(q.one.attempts, 1);
    assert_int_equal(q.one.last_status, 200);
    assert_int_equal(q.other_merchant, K_ENOTFOUND);
    assert_int_equal(q.nlist, 2);
    assert_string_equal(q.list[1].endpoint_id, "we_2");
    assert_int_equal(q.list[1].next_at_ms, 5000);
    assert_int_equal(q.natt, 1);
    assert_int_equal(q.att[0].http_status, 200);
    assert_int_equal(q.att[0].latency_ms, 35);
    assert_int_equal(strlen(q.att[0].response_head), LIMIT_WEBHOOK_RESPONSE_KEEP);
    assert_null(q.att[0].error);
    /* Pending: d2 at 5000 (lease cleared by record), d3 at 300 leased until 1000
     * (the claim at 999 took nothing, so its lease of 2000 was never set). */
    assert_int_equal(q.next_due, 1000);
    arena_release(&q.a);

    /* The lease of d3 ran out: claimable again; d2 comes at 5000, not before. */
    assert_int_equal(claim(s, &c, 2000, 3000), 1);
    assert_int_equal(c.rows[0].id, a.d[2].id);
    arena_release(&c.a);
    assert_int_equal(claim(s, &c, 5000, 6000), 2);
    arena_release(&c.a);
    record_arg r3 = {a.d[2], {a.d[2].id, 5001, 500, 3, "oops", NULL}};
    r3.d.state = "failed";
    r3.d.attempts = 20;
    r3.d.last_status = 500;
    assert_int_equal(store_write(s, fn_record, &r3), K_OK);
    record_arg r4 = {a.d[1], {a.d[1].id, 5002, 204, 3, "", NULL}};
    r4.d.state = "delivered";
    r4.d.attempts = 2;
    assert_int_equal(store_write(s, fn_record, &r4), K_OK);
    dq_arg q2 = {.id = a.d[1].id};
    arena_init(&q2.a, 0);
    assert_int_equal(store_read(s, fn_dq, &q2), K_OK);
    assert_int_equal(q2.natt, 2);
    assert_string_equal(q2.att[0].error, "timeout");
    assert_int_equal(q2.att[1].http_status, 204);
    assert_int_equal(q2.next_due, 0); /* nothing pending */
    arena_release(&q2.a);
    store_close(s);
}

/* ---- idempotency ---- */

typedef struct {
    store_idem k[4];
    int n;
    const char *del_key;
    int64_t prune_before;
    size_t prune_max, pruned;
} iw_arg;

static k_status fn_iw(store_tx *tx, void *arg)
{
    iw_arg *w = arg;
    for (int i = 0; i < w->n; i++) {
        k_status st = store_idem_put(tx, &w->k[i]);
        if (st != K_OK)
            return st;
    }
    if (w->del_key != NULL) {
        k_status st = store_idem_delete(tx, "acct_1", w->del_key);
        if (st != K_OK)
            return st;
    }
    if (w->prune_max > 0)
        return store_idem_prune(tx, w->prune_before, w->prune_max, &w->pruned);
    return K_OK;
}

typedef struct {
    const char *merchant, *key;
    arena a;
    store_idem out;
} ig_arg;

static k_status fn_ig(store_tx *tx, void *arg)
{
    ig_arg *g = arg;
    return store_idem_get(tx, g->merchant, g->key, &g->a, &g->out);
}

static k_status idem_get(store *s, ig_arg *g, const char *merchant, const char *key)
{
    memset(g, 0, sizeof(*g));
    g->merchant = merchant;
    g->key = key;
    arena_init(&g->a, 0);
    return store_read(s, fn_ig, g);
}

static void test_idempotency(void **state)
{
    store *s = open_store();
    iw_arg w = {.n = 4};
    w.k[0] = (store_idem){"acct_1", "key-a", "fp1", 0, NULL, 100};
    w.k[1] = (store_idem){"acct_1", "key-b", "fp2", 200, "{\"id\":\"pi_1\"}", 200};
    w.k[2] = (store_idem){"acct_2", "key-a", "fp3", 200, "{}", 300};
    w.k[3] = (store_idem){"acct_1", "key-c", "fp4", 402, "{}", 400};
    assert_int_equal(store_write(s, fn_iw, &w), K_OK);

    ig_arg g;
    assert_int_equal(idem_get(s, &g, "acct_1", "key-a"), K_OK);
    assert_int_equal(g.out.status, 0); /* in flight */
    assert_null(g.out.body);
    assert_string_equal(g.out.fingerprint, "fp1");
    arena_release(&g.a);
    assert_int_equal(idem_get(s, &g, "acct_2", "key-a"), K_OK);
    assert_string_equal(g.out.fingerprint, "fp3");
    arena_release(&g.a);
    assert_int_equal(idem_get(s, &g, "acct_3", "key-a"), K_ENOTFOUND);
    arena_release(&g.a);

    /* The answer replaces the in-flight record. */
    iw_arg w2 = {.n = 1};
    w2.k[0] = (store_idem){"acct_1", "key-a", "fp1", 200, "{\"done\":true}", 100};
    assert_int_equal(store_write(s, fn_iw, &w2), K_OK);
    assert_int_equal(idem_get(s, &g, "acct_1", "key-a"), K_OK);
    assert_int_equal(g.out.status, 200);
    assert_string_equal(g.out.body, "{\"done\":true}");
    arena_release(&g.a);

    iw_arg del = {.del_key = "key-c"};
    assert_int_equal(store_write(s, fn_iw, &del), K_OK);
    assert_int_equal(idem_get(s, &g, "acct_1", "key-c"), K_ENOTFOUND);
    arena_release(&g.a);

    /* Prune before 350: three candidates (100, 200, 300), at most two per call. */
    iw_arg p1 = {.prune_before = 350, .prune_max = 2};
    assert_int_equal(store_write(s, fn_iw, &p1), K_OK);
    assert_int_equal(p1.pruned, 2);
    iw_arg p2 = {.prune_before = 350, .prune_max = 2};
    assert_int_equal(store_write(s, fn_iw, &p2), K_OK);
    assert_int_equal(p2.pruned, 1);
    assert_int_equal(idem_get(s, &g, "acct_2", "key-a"), K_ENOTFOUND);
    arena_release(&g.a);
    store_close(s);
}

/* ---- group commit ---- */

typedef struct {
    store *s;
    atomic_int in;
} gate_arg;

/* Holds the writer until three more jobs are queued behind it, so that those
 * three are certain to share the next batch. */
static k_status fn_gate(store_tx *tx, void *arg)
{
    gate_arg *g = arg;
    atomic_store(&g->in, 1);
    int64_t deadline = clock_mono_ms() + 10000;
    for (;;) {
        store_stats st;
        store_get_stats(g->s, &st);
        if (st.queue_depth >= 3 || clock_mono_ms() > deadline)
            break;
        sleep_ms(1);
    }
    return K_OK;
}

typedef struct {
    store *s;
    store_fn fn;
    void *arg;
    k_status status;
} write_thread_arg;

static void *write_thread(void *p)
{
    write_thread_arg *w = p;
    w->status = store_write(w->s, w->fn, w->arg);
    return NULL;
}

typedef struct {
    store_obj o1, o2;
} two_arg;

/* Writes two rows, then fails: both must vanish. */
static k_status fn_two_then_fail(store_tx *tx, void *arg)
{
    two_arg *t = arg;
    k_status st = store_obj_put(tx, &t->o1);
    if (st == K_OK)
        st = store_obj_put(tx, &t->o2);
    return st == K_OK ? K_EINVAL : st;
}

static void test_failing_job_rolls_back_alone(void **state)
{
    store *s = open_store();
    store_stats before;
    store_get_stats(s, &before);

    gate_arg gate = {s, 0};
    write_thread_arg wg = {s, fn_gate, &gate, K_ERR};
    pthread_t tg;
    assert_int_equal(pthread_create(&tg, NULL, write_thread, &wg), 0);
    while (!atomic_load(&gate.in))
        sleep_ms(1);

    put_arg ok1 = {mk_obj("acct_1", "payment_intent", "pi_ok1"), K_OK};
    two_arg bad = {mk_obj("acct_1", "payment_intent", "pi_bad1"),
                   mk_obj("acct_1", "payment_intent", "pi_bad2")};
    put_arg ok2 = {mk_obj("acct_1", "payment_intent", "pi_ok2"), K_OK};
    write_thread_arg w[3] = {
        {s, fn_put, &ok1, K_ERR}, {s, fn_two_then_fail, &bad, K_ERR}, {s, fn_put, &ok2, K_ERR}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, write_thread, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    pthread_join(tg, NULL);

    assert_int_equal(wg.status, K_OK);
    assert_int_equal(w[0].status, K_OK);
    assert_int_equal(w[1].status, K_EINVAL);
    assert_int_equal(w[2].status, K_OK);
    store_stats after;
    store_get_stats(s, &after);
    assert_int_equal(after.commits - before.commits, 2); /* the gate's, then the trio's */
    assert_int_equal(after.jobs - before.jobs, 4);
    assert_int_equal(after.jobs_failed - before.jobs_failed, 1);
    assert_true(after.batch_max >= 3);

    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_ok1"), K_OK);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_ok2"), K_OK);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_bad1"), K_ENOTFOUND);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_bad2"), K_ENOTFOUND);
    arena_release(&g.a);
    store_close(s);
}

#define GC_THREADS 32
#define GC_WRITES  50

typedef struct {
    store *s;
    int thread;
    int failures;
} gc_arg;

static void *gc_thread(void *p)
{
    gc_arg *g = p;
    for (int i = 0; i < GC_WRITES; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pi_t%02d_%03d", g->thread, i);
        store_obj o = mk_obj("acct_1", "gc", id);
        if (put_obj(g->s, &o) != K_OK || o.version != 1)
            g->failures++;
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    store *s = open_store();
    gc_arg args[GC_THREADS];
    pthread_t t[GC_THREADS];
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < GC_THREADS; i++) {
        args[i] = (gc_arg){s, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, gc_thread, &args[i]), 0);
    }
    for (int i = 0; i < GC_THREADS; i++)
        pthread_join(t[i], NULL);
    int64_t elapsed = clock_mono_ms() - t0;
    for (int i = 0; i < GC_THREADS; i++)
        assert_int_equal(args[i].failures, 0);

    store_stats st;
    store_get_stats(s, &st);
    printf("group commit: %d threads x %d writes: %llu jobs in %llu commits (%.1f jobs/commit, "
           "largest batch %llu) in %lld ms\n",
           GC_THREADS, GC_WRITES, (unsigned long long)st.jobs, (unsigned long long)st.commits,
           st.commits ? (double)st.jobs / (double)st.commits : 0.0,
           (unsigned long long)st.batch_max, (long long)elapsed);
    assert_int_equal(st.jobs, GC_THREADS * GC_WRITES);
    assert_int_equal(st.jobs_failed, 0);
    assert_int_equal(st.queue_depth, 0);
    assert_true(st.commits < st.jobs);
    assert_true(st.batch_max > 1);

    list_arg l;
    store_list_q q = {.limit = 10000};
    assert_int_equal(list(s, &l, "gc", q), K_OK);
    assert_int_equal(l.n, GC_THREADS * GC_WRITES);
    assert_false(l.has_more);
    arena_release(&l.a);
    store_close(s);
    assert_int_equal(sql_int("SELECT count(DISTINCT id) FROM objects WHERE kind = 'gc'"),
                     GC_THREADS * GC_WRITES);
}

/* ---- a fresh write that waited too long is refused, not run ---- */

static k_status slow_fn(store_tx *tx, void *arg)
{
    sleep_ms(300); /* holds the writer */
    return K_OK;
}

static void *slow_thread(void *p)
{
    store *s = p;
    store_write(s, slow_fn, NULL);
    return NULL;
}

static k_status count_fn(store_tx *tx, void *arg)
{
    (*(int *)arg)++;
    return K_OK;
}

static void test_write_fresh_deadline(void **state)
{
    store *s = open_store();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_thread, s), 0);
    sleep_ms(50); /* the slow job is running */
    int ran = 0;
    /* queued behind 250 ms more of the slow job: past a 20 ms wait, not run */
    assert_int_equal(store_write_fresh(s, 20, count_fn, &ran), K_EBUSY);
    assert_int_equal(ran, 0);
    pthread_join(t, NULL);
    /* an idle writer takes it at once; 0 = no deadline; plain writes never have one */
    assert_int_equal(store_write_fresh(s, 60000, count_fn, &ran), K_OK);
    assert_int_equal(store_write_fresh(s, 0, count_fn, &ran), K_OK);
    assert_int_equal(store_write(s, count_fn, &ran), K_OK);
    assert_int_equal(ran, 3);
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.jobs_late, 1);
    store_close(s);
}

/* ---- an asynchronous write: told after the commit, on the writer's thread ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    k_status st;
    pthread_t thread;
    bool durable; /* the object was in the database file when done ran */
    const char *check_id;
} async_done;

static void async_done_init(async_done *d, const char *check_id)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->check_id = check_id;
}

static void async_done_fn(void *arg, k_status st)
{
    async_done *d = arg;
    bool durable = false;
    if (d->check_id != NULL) { /* another connection sees the row: committed */
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM objects WHERE id = '%s'", d->check_id);
        durable = sql_int(sql) == 1;
    }
    pthread_mutex_lock(&d->mu);
    d->calls++;
    d->st = st;
    d->thread = pthread_self();
    d->durable = durable;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void async_done_wait(async_done *d)
{
    pthread_mutex_lock(&d->mu);
    while (d->calls == 0)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

static void async_done_free(async_done *d)
{
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

static void test_write_async(void **state)
{
    store *s = open_store();
    /* committed, then told once, on another thread */
    put_arg p = {mk_obj("acct_1", "pi", "pi_async1"), K_OK};
    async_done d;
    async_done_init(&d, "pi_async1");
    assert_int_equal(store_write_async(s, 0, fn_put, &p, async_done_fn, &d), K_OK);
    async_done_wait(&d);
    sleep_ms(20);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.st, K_OK);
    assert_false(pthread_equal(d.thread, pthread_self()));
    assert_true(d.durable);
    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "pi", "pi_async1"), K_OK);
    arena_release(&g.a);
    async_done_free(&d);

    /* the closure's own failure is what done hears; its changes rolled back */
    put_arg bad = {mk_obj("acct_1", "pi", "pi_async2"), K_ECONFLICT};
    async_done_init(&d, NULL);
    assert_int_equal(store_write_async(s, 0, fn_put, &bad, async_done_fn, &d), K_OK);
    async_done_wait(&d);
    assert_int_equal(d.st, K_ECONFLICT);
    assert_int_equal(get_obj(s, &g, "acct_1", "pi", "pi_async2"), K_ENOTFOUND);
    arena_release(&g.a);
    async_done_free(&d);

    /* reached past its wait: K_EBUSY, not run */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_thread, s), 0);
    sleep_ms(50); /* the slow job is running */
    int ran = 0;
    async_done_init(&d, NULL);
    assert_int_equal(store_write_async(s, 20, count_fn, &ran, async_done_fn, &d), K_OK);
    async_done_wait(&d);
    assert_int_equal(d.st, K_EBUSY);
    assert_int_equal(ran, 0);
    pthread_join(t, NULL);
    async_done_free(&d);

    /* store_close drains what is queued and tells it before returning */
    assert_int_equal(pthread_create(&t, NULL, slow_thread, s), 0);
    sleep_ms(50);
    async_done_init(&d, NULL);
    assert_int_equal(store_write_async(s, 0, count_fn, &ran, async_done_fn, &d), K_OK);
    pthread_join(t, NULL);
    store_close(s);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.st, K_OK);
    assert_int_equal(ran, 1);
    async_done_free(&d);
}

/* ---- WAL checkpoints (SQLite): on their own thread, never losing a row ---- */

#define CK_ROWS 600

static void test_checkpoints_run_beside_the_writer(void **state)
{
    if (g_pg) {
        skip(); /* PostgreSQL has no WAL file of ours to checkpoint */
    }
    store *s = open_store();
    /* 600 rows of 8 KiB are ~1,800 WAL pages: past the checkpointer's threshold */
    static char body[8192];
    memset(body, 'x', sizeof(body) - 32);
    memcpy(body, "{\"pad\":\"", 8);
    memcpy(body + sizeof(body) - 33, "\"}", 3);
    for (int i = 0; i < CK_ROWS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pi_ck%04d", i);
        store_obj o = mk_obj("acct_1", "ck", id);
        o.body = body;
        assert_int_equal(put_obj(s, &o), K_OK);
    }
    store_stats st;
    for (int i = 0; i < 200; i++) { /* the checkpointer runs on its own thread */
        store_get_stats(s, &st);
        if (st.checkpoints > 0)
            break;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_true(st.checkpoints > 0);
    /* writes go on while and after it ran */
    store_obj o = mk_obj("acct_1", "ck", "pi_after");
    assert_int_equal(put_obj(s, &o), K_OK);
    list_arg l;
    store_list_q q = {.limit = 10000};
    assert_int_equal(list(s, &l, "ck", q), K_OK);
    assert_int_equal(l.n, CK_ROWS + 1);
    arena_release(&l.a);
    store_close(s);
    assert_int_equal(sql_int("SELECT count(*) FROM objects WHERE kind = 'ck'"), CK_ROWS + 1);
}

/* ---- reads beside a long write ---- */

typedef struct {
    atomic_int writer_in, read_done;
    int saw_read_done;
} slow_arg;

static k_status fn_slow_update(store_tx *tx, void *arg)
{
    slow_arg *a = arg;
    store_obj o = mk_obj("acct_1", "payment_intent", "pi_r");
    o.version = 1;
    o.body = "{\"v\":2}";
    k_status st = store_obj_put(tx, &o);
    if (st != K_OK)
        return st;
    atomic_store(&a->writer_in, 1);
    /* Hold the writer at least 300 ms, and until the reader is through (at
     * most 10 s: a reader stuck behind us would make the test fail, not hang). */
    int64_t start = clock_mono_ms();
    while (clock_mono_ms() - start < 300 ||
           (!atomic_load(&a->read_done) && clock_mono_ms() - start < 10000))
        sleep_ms(5);
    a->saw_read_done = atomic_load(&a->read_done);
    return K_OK;
}

static void test_reads_do_not_wait_for_writes(void **state)
{
    store *s = open_store();
    store_obj o = mk_obj("acct_1", "payment_intent", "pi_r");
    o.body = "{\"v\":1}";
    assert_int_equal(put_obj(s, &o), K_OK);

    slow_arg sa = {0};
    write_thread_arg w = {s, fn_slow_update, &sa, K_ERR};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_thread, &w), 0);
    while (!atomic_load(&sa.writer_in))
        sleep_ms(1);
    int64_t t0 = clock_mono_ms();
    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_r"), K_OK);
    int64_t read_ms = clock_mono_ms() - t0;
    assert_string_equal(g.out.body, "{\"v\":1}"); /* the uncommitted update is not visible */
    arena_release(&g.a);
    atomic_store(&sa.read_done, 1);
    pthread_join(t, NULL);
    printf("read during a held write batch took %lld ms\n", (long long)read_ms);
    assert_int_equal(w.status, K_OK);
    assert_true(sa.saw_read_done); /* the read finished while the write was still open */

    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_r"), K_OK);
    assert_string_equal(g.out.body, "{\"v\":2}");
    assert_int_equal(g.out.version, 2);
    arena_release(&g.a);
    store_close(s);
}

/* ---- two nodes on one database ---- */

#define NODE_THREADS 4
#define NODE_INCS    25

typedef struct {
    k_status get;
} inc_arg;

/* Read-check-write of a counter: correct across nodes only if the read locks. */
static k_status fn_inc(store_tx *tx, void *arg)
{
    inc_arg *ia = arg;
    arena a;
    arena_init(&a, 0);
    store_obj o;
    k_status st = store_obj_get(tx, "acct_1", "counter", "ctr_1", &a, &o);
    ia->get = st;
    if (st == K_OK) {
        o.amount++;
        st = store_obj_put(tx, &o);
    }
    arena_release(&a);
    return st;
}

typedef struct {
    store *s;
    int failures;
} node_arg;

static void *inc_thread(void *p)
{
    node_arg *n = p;
    for (int i = 0; i < NODE_INCS; i++) {
        inc_arg ia = {K_ERR};
        if (store_write(n->s, fn_inc, &ia) != K_OK)
            n->failures++;
    }
    return NULL;
}

#define NODE_DELIVERIES 200

typedef struct {
    store *s;
    int64_t ids[NODE_DELIVERIES];
    size_t n;
    int failures;
} claim_node_arg;

typedef struct {
    int64_t now;
    arena a;
    store_delivery *rows;
    size_t n;
} claim_once_arg;

static k_status fn_claim_once(store_tx *tx, void *arg)
{
    claim_once_arg *c = arg;
    return store_delivery_claim(tx, c->now, c->now + 60000, 7, &c->a, &c->rows, &c->n);
}

static void *claim_thread(void *p)
{
    claim_node_arg *c = p;
    for (;;) {
        claim_once_arg one = {.now = 1000};
        arena_init(&one.a, 0);
        if (store_write(c->s, fn_claim_once, &one) != K_OK) {
            c->failures++;
            arena_release(&one.a);
            break;
        }
        size_t got = one.n;
        for (size_t i = 0; i < got && c->n < NODE_DELIVERIES; i++)
            c->ids[c->n++] = one.rows[i].id;
        arena_release(&one.a);
        if (got == 0)
            break;
    }
    return NULL;
}

typedef struct {
    int n;
} dmany_arg;

static k_status fn_dmany(store_tx *tx, void *arg)
{
    dmany_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        char ev[32];
        snprintf(ev, sizeof(ev), "evt_n%03d", i);
        store_delivery d = {0};
        d.merchant_id = "acct_1";
        d.event_id = ev;
        d.endpoint_id = "we_1";
        d.state = "pending";
        d.next_at_ms = 500;
        d.created_ms = 1;
        k_status st = store_delivery_add(tx, &d);
        if (st != K_OK)
            return st;
    }
    return K_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static atomic_int g_wakes;

static void count_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_wakes, 1);
}

/* A delivery written by one node wakes the other node's workers at once
 * (PostgreSQL: one NOTIFY per batch, a LISTEN thread per store); after
 * store_set_wake(NULL) nothing is called. SQLite has one node: never called. */
static void test_other_nodes_wake(void **state)
{
    store *n1 = open_store();
    store *n2 = open_store();
    atomic_store(&g_wakes, 0);
    store_set_wake(n1, count_wake, NULL);
    sleep_ms(500); /* the listener is connected (it wakes once when it is) */
    int before = atomic_load(&g_wakes);
    dadd_arg a = {.n = 1};
    a.d[0] = mk_delivery("acct_1", "evt_wake", "we_1", 0);
    assert_int_equal(store_write(n2, fn_dadd, &a), K_OK);
    if (g_pg) {
        for (int i = 0; i < 100 && atomic_load(&g_wakes) == before; i++)
            sleep_ms(20);
        assert_true(atomic_load(&g_wakes) > before);
    } else {
        sleep_ms(200);
        assert_int_equal(atomic_load(&g_wakes), before);
    }
    store_set_wake(n1, NULL, NULL);
    int after = atomic_load(&g_wakes);
    a.d[0] = mk_delivery("acct_1", "evt_wake2", "we_1", 0);
    assert_int_equal(store_write(n2, fn_dadd, &a), K_OK);
    sleep_ms(300);
    assert_int_equal(atomic_load(&g_wakes), after);
    store_close(n2);
    store_close(n1);
}

/* Two stores on one database stand for two Kassa nodes: a read-check-write in
 * write closures loses no update, and concurrent claims never hand the same
 * delivery to both. */
static void test_two_nodes(void **state)
{
    store *n1 = open_store();
    store *n2 = open_store();
    store_obj ctr = mk_obj("acct_1", "counter", "ctr_1");
    ctr.amount = 0;
    assert_int_equal(put_obj(n1, &ctr), K_OK);

    node_arg na[2 * NODE_THREADS];
    pthread_t t[2 * NODE_THREADS];
    for (int i = 0; i < 2 * NODE_THREADS; i++) {
        na[i] = (node_arg){i % 2 ? n2 : n1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, inc_thread, &na[i]), 0);
    }
    for (int i = 0; i < 2 * NODE_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2 * NODE_THREADS; i++)
        assert_int_equal(na[i].failures, 0);
    get_arg g;
    assert_int_equal(get_obj(n2, &g, "acct_1", "counter", "ctr_1"), K_OK);
    assert_int_equal(g.out.amount, 2 * NODE_THREADS * NODE_INCS);
    assert_int_equal(g.out.version, 1 + 2 * NODE_THREADS * NODE_INCS);
    arena_release(&g.a);

    dmany_arg dm = {NODE_DELIVERIES};
    assert_int_equal(store_write(n1, fn_dmany, &dm), K_OK);
    static claim_node_arg ca[2];
    memset(ca, 0, sizeof(ca));
    ca[0].s = n1;
    ca[1].s = n2;
    pthread_t tc[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tc[i], NULL, claim_thread, &ca[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tc[i], NULL);
    assert_int_equal(ca[0].failures + ca[1].failures, 0);
    assert_int_equal(ca[0].n + ca[1].n, NODE_DELIVERIES);
    int64_t all[NODE_DELIVERIES];
    memcpy(all, ca[0].ids, ca[0].n * sizeof(int64_t));
    memcpy(all + ca[0].n, ca[1].ids, ca[1].n * sizeof(int64_t));
    qsort(all, NODE_DELIVERIES, sizeof(int64_t), cmp_i64);
    for (size_t i = 1; i < NODE_DELIVERIES; i++)
        assert_true(all[i] != all[i - 1]); /* nobody got a delivery twice */
    printf("two nodes: counter %d, claims %zu + %zu\n", 2 * NODE_THREADS * NODE_INCS, ca[0].n,
           ca[1].n);
    store_close(n1);
    store_close(n2);
}

/* ---- PostgreSQL: connection loss ---- */

/* The server drops every connection of this database (as in a failover): the
 * batch in flight answers K_EIO, then the writer and the read pool reconnect. */
static void test_reconnect_after_connection_loss(void **state)
{
    if (!g_pg) {
        printf("reconnect: PostgreSQL only (SQLite has no connection to lose)\n");
        return;
    }
    store *s = open_store();
    store_obj a = mk_obj("acct_1", "payment_intent", "pi_before");
    assert_int_equal(put_obj(s, &a), K_OK);
    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_before"), K_OK);
    arena_release(&g.a);
    assert_int_equal(sql_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()") >=
                         2,
                     1);
    sleep_ms(100);
    store_obj b = mk_obj("acct_1", "payment_intent", "pi_lost");
    assert_int_equal(put_obj(s, &b), K_EIO); /* the writer learns of the loss here */
    k_status st = K_ERR;
    for (int i = 0; i < 50 && st != K_OK; i++) {
        store_obj c = mk_obj("acct_1", "payment_intent", "pi_after");
        st = put_obj(s, &c);
        if (st != K_OK)
            sleep_ms(100);
    }
    assert_int_equal(st, K_OK);
    st = K_ERR;
    for (int i = 0; i < 3 && st != K_OK; i++) {
        st = get_obj(s, &g, "acct_1", "payment_intent", "pi_after");
        arena_release(&g.a);
    }
    assert_int_equal(st, K_OK);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_before"), K_OK);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_lost"), K_ENOTFOUND);
    arena_release(&g.a);
    store_close(s);
}

/* ---- reopen ---- */

static void test_reopen_keeps_everything(void **state)
{
    store *s = open_store();
    mput_arg m = {{"acct_1", "Shop", "hash1", "pk_test_1", 7, "sec", "{}", 1}};
    assert_int_equal(store_write(s, fn_mput, &m), K_OK);
    store_obj o = mk_obj("acct_1", "payment_intent", "pi_keep");
    o.ext_ref = "secret_keep";
    assert_int_equal(put_obj(s, &o), K_OK);
    ops_arg ops = {.n = 1};
    ops.ops[0] = mk_op("acct_1", "op_keep", "pi_1", 10, 5);
    assert_int_equal(store_write(s, fn_ops, &ops), K_OK);
    dadd_arg d = {.n = 1};
    d.d[0] = mk_delivery("acct_1", "evt_1", "we_1", 100);
    assert_int_equal(store_write(s, fn_dadd, &d), K_OK);
    iw_arg w = {.n = 1};
    w.k[0] = (store_idem){"acct_1", "key-keep", "fp", 200, "{}", 1};
    assert_int_equal(store_write(s, fn_iw, &w), K_OK);
    /* A read from this thread leaves a read connection open: close handles it. */
    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_keep"), K_OK);
    arena_release(&g.a);
    store_close(s);

    s = open_store();
    mget_arg mg;
    memset(&mg, 0, sizeof(mg));
    arena_init(&mg.a, 0);
    assert_int_equal(store_read(s, fn_mget, &mg), K_OK);
    assert_int_equal(mg.by_id, K_OK);
    assert_int_equal(mg.count, 1);
    arena_release(&mg.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_keep"), K_OK);
    assert_string_equal(g.out.ext_ref, "secret_keep");
    arena_release(&g.a);
    opq_arg q = {.merchant = "acct_1", .from = 0, .to = 100, .max = 10};
    arena_init(&q.a, 0);
    assert_int_equal(store_read(s, fn_opq, &q), K_OK);
    assert_int_equal(q.nlist, 1);
    arena_release(&q.a);
    dq_arg dq = {.id = d.d[0].id};
    arena_init(&dq.a, 0);
    assert_int_equal(store_read(s, fn_dq, &dq), K_OK);
    assert_string_equal(dq.one.state, "pending");
    assert_int_equal(dq.next_due, 100);
    arena_release(&dq.a);
    ig_arg ig;
    assert_int_equal(idem_get(s, &ig, "acct_1", "key-keep"), K_OK);
    arena_release(&ig.a);
    /* The update path still works on the reopened file. */
    assert_int_equal(put_obj(s, &o), K_OK);
    assert_int_equal(o.version, 2);
    store_close(s);
}

/* ---- durability across SIGKILL ---- */

#define CRASH_WRITES     100000 /* far more than happen before the kill */
#define CRASH_KILL_AFTER 150

static void crash_child(int fd)
{
    store *s = NULL;
    if (store_open(&s, g_path) != K_OK)
        _exit(3);
    for (int i = 0; i < CRASH_WRITES; i++) {
        char id[32], line[40];
        snprintf(id, sizeof(id), "pi_c%06d", i);
        store_obj o = mk_obj("acct_1", "payment_intent", id);
        if (put_obj(s, &o) != K_OK)
            _exit(4);
        int n = snprintf(line, sizeof(line), "%s\n", id);
        if (write(fd, line, (size_t)n) != n)
            _exit(5);
    }
    _exit(0);
}

static void test_acknowledged_writes_survive_sigkill(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(fds[1]);
    }
    close(fds[1]);

    static char acked[CRASH_WRITES / 10][32];
    size_t nacked = 0;
    char buf[4096], line[32];
    size_t ll = 0;
    bool killed = false;
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] != '\n') {
                assert_true(ll < sizeof(line) - 1);
                line[ll++] = buf[i];
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            assert_true(nacked < K_ARRAY_LEN(acked));
            snprintf(acked[nacked++], sizeof(acked[0]), "%s", line);
        }
        if (!killed && nacked >= CRASH_KILL_AFTER) {
            kill(pid, SIGKILL); /* mid-way: more writes are queued and in flight */
            killed = true;
        }
    }
    close(fds[0]);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst));
    assert_int_equal(WTERMSIG(wst), SIGKILL);
    assert_true(nacked >= CRASH_KILL_AFTER);

    store *s = open_store();
    for (size_t i = 0; i < nacked; i++) {
        get_arg g;
        assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", acked[i]), K_OK);
        arena_release(&g.a);
    }
    store_close(s);
    printf("crash (%s): %zu acknowledged writes, all present after SIGKILL\n",
           g_pg ? "postgresql" : "sqlite", nacked);
    assert_true(sql_int("SELECT count(*) FROM objects WHERE id LIKE 'pi_c%'") >= (int64_t)nacked);
    if (!g_pg) {
        char ok[16];
        sql_text("PRAGMA integrity_check", ok, sizeof(ok));
        assert_string_equal(ok, "ok");
    }
}

/* ---- limits shared by every node ---- */

enum { LIMIT_THREADS = 8, LIMIT_TRIES = 25 };

typedef struct {
    store *s;
    const char *key;
    bool window;
    int allowed, failures;
} limit_arg;

static void *limit_thread(void *p)
{
    limit_arg *a = p;
    for (int i = 0; i < LIMIT_TRIES; i++) {
        bool ok = false;
        int64_t wait_ms = 0;
        k_status st = a->window ? store_limit_window(a->s, a->key, 30, 90000, &ok, &wait_ms)
                                : store_limit_bucket(a->s, a->key, 1, 40, true, &ok, &wait_ms);
        if (st != K_OK || (!ok && wait_ms <= 0))
            a->failures++;
        else if (ok)
            a->allowed++;
    }
    return NULL;
}

/* Two stores on one database are two nodes: 8 threads over both take 200
 * tokens of a bucket of 40 (one a minute) and 200 calls of a window of 30 a
 * minute; exactly 40 and 30 get through. On SQLite there is nothing to share. */
static void test_shared_limits(void **state)
{
    store *n1 = open_store();
    store *n2 = open_store();
    bool ok = false;
    int64_t wait_ms = 0;
    if (!g_pg) {
        assert_false(store_limits_shared(n1));
        assert_int_equal(store_limit_bucket(n1, "k", 60, 10, true, &ok, &wait_ms), K_EINVAL);
        assert_true(ok); /* the caller counts in memory */
        store_close(n1);
        store_close(n2);
        return;
    }
    assert_true(store_limits_shared(n1));
    for (int w = 0; w < 2; w++) {
        limit_arg la[LIMIT_THREADS];
        pthread_t t[LIMIT_THREADS];
        for (int i = 0; i < LIMIT_THREADS; i++) {
            la[i] = (limit_arg){i % 2 ? n2 : n1, w ? "window:acct_1" : "rate:acct_1", w == 1, 0, 0};
            assert_int_equal(pthread_create(&t[i], NULL, limit_thread, &la[i]), 0);
        }
        int allowed = 0;
        for (int i = 0; i < LIMIT_THREADS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(la[i].failures, 0);
            allowed += la[i].allowed;
        }
        assert_int_equal(allowed, w ? 30 : 40);
    }
    /* a look takes nothing; another key has its own bucket */
    assert_int_equal(store_limit_bucket(n2, "rate:acct_1", 1, 40, false, &ok, &wait_ms), K_OK);
    assert_false(ok);
    assert_true(wait_ms > 0 && wait_ms <= 60000);
    assert_int_equal(store_limit_bucket(n2, "rate:acct_2", 1, 40, false, &ok, &wait_ms), K_OK);
    assert_true(ok);
    assert_int_equal(store_limit_bucket(n2, "rate:acct_2", 1, 40, true, &ok, &wait_ms), K_OK);
    assert_true(ok);
    /* the window: the next minute still carries most of this one (30 used,
     * 1 s into the next: 29.5 rounded up to 30 weigh), two minutes on it is free */
    assert_int_equal(store_limit_window(n1, "window:acct_1", 30, 121000, &ok, &wait_ms), K_OK);
    assert_false(ok);
    assert_int_equal(wait_ms, 59000);
    assert_int_equal(store_limit_window(n1, "window:acct_1", 30, 181000, &ok, &wait_ms), K_OK);
    assert_true(ok);
    store_close(n1);
    store_close(n2);
}

/* Money only from the primary: a server that takes no writes (here the
 * database made read-only by configuration, as a standby is) is refused,
 * at open and when the store's connections come back after a loss (a
 * failover): no read is answered from it, no write is tried on it. */
static void test_read_only_server_refused(void **state)
{
    if (!g_pg)
        return;
    char on[160], off[160];
    snprintf(on, sizeof(on), "ALTER DATABASE %s SET default_transaction_read_only = on", g_pg_db);
    snprintf(off, sizeof(off), "ALTER DATABASE %s RESET default_transaction_read_only", g_pg_db);
    store *s = open_store();
    store_obj a = mk_obj("acct_1", "payment_intent", "pi_primary");
    assert_int_equal(put_obj(s, &a), K_OK);
    get_arg g;
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_primary"), K_OK);
    arena_release(&g.a);

    pg_exec_on(g_pg_base, on);
    assert_true(sql_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()") >= 2);
    sleep_ms(100);
    for (int i = 0; i < 3; i++) { /* the lost pooled connection, then new ones */
        assert_int_not_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_primary"), K_OK);
        arena_release(&g.a);
    }
    store_obj b = mk_obj("acct_1", "payment_intent", "pi_standby");
    assert_int_not_equal(put_obj(s, &b), K_OK);
    store *s2 = NULL;
    assert_int_equal(store_open(&s2, g_path), K_EIO);
    assert_null(s2);

    pg_exec_on(g_pg_base, off);
    k_status st = K_ERR;
    for (int i = 0; i < 60 && st != K_OK; i++) {
        store_obj c = mk_obj("acct_1", "payment_intent", "pi_back");
        st = put_obj(s, &c);
        if (st != K_OK)
            sleep_ms(100);
    }
    assert_int_equal(st, K_OK);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_back"), K_OK);
    arena_release(&g.a);
    assert_int_equal(get_obj(s, &g, "acct_1", "payment_intent", "pi_standby"), K_ENOTFOUND);
    arena_release(&g.a);
    store_close(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_migrates_and_reopens),
        T(test_concurrent_open),
        T(test_merchants),
        T(test_objects_put_get_conflicts),
        T(test_objects_refs),
        T(test_list_pagination),
        T(test_list_filters),
        T(test_due_scan),
        T(test_due_claim),
        T(test_journal),
        T(test_deliveries),
        T(test_idempotency),
        T(test_failing_job_rolls_back_alone),
        T(test_group_commit),
        T(test_write_fresh_deadline),
        T(test_write_async),
        T(test_checkpoints_run_beside_the_writer),
        T(test_reads_do_not_wait_for_writes),
        T(test_two_nodes),
        T(test_other_nodes_wake),
        T(test_reconnect_after_connection_loss),
        T(test_reopen_keeps_everything),
        T(test_acknowledged_writes_survive_sigkill),
        T(test_shared_limits),
        T(test_read_only_server_refused),
    };
    const char *filter = getenv("TEST_FILTER"); /* e.g. TEST_FILTER='*sigkill*' */
    if (filter != NULL)
        cmocka_set_test_filter(filter);
    int failed = cmocka_run_group_tests_name("store on sqlite", tests, NULL, NULL);

    g_pg_base = getenv("KASSA_TEST_PG_URL"); /* e.g. from tests/pg_server.sh start */
    if (g_pg_base == NULL || g_pg_base[0] == '\0') {
        printf("store on postgresql: NOT RUN (KASSA_TEST_PG_URL is not set)\n");
        return failed;
    }
    g_pg = true;
    printf("store on postgresql: running the same tests on %s\n", g_pg_base);
    fflush(stdout);
    int pg_failed = cmocka_run_group_tests_name("store on postgresql", tests, NULL, NULL);
    printf("store on postgresql: the PostgreSQL half RAN: %s\n",
           pg_failed == 0 ? "all passed" : "FAILURES");
    return failed + pg_failed;
}
