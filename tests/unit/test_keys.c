/*
 * test_keys.c - API keys (gateway/keys.h): the usable/state rules on their own,
 * then through the gateway on a real store (SQLite; PostgreSQL too when
 * KASSA_TEST_PG_URL names a server): the merchant's first key authenticates;
 * a second key works beside it; a roll with an overlap keeps the old key
 * working until the (test) clock passes the overlap, a roll never lengthens a
 * key's life, and a roll of an ended key is refused; a revoked key stops at
 * once; the form's idempotency key answers the first key again without its
 * secret; bad names, modes and overlaps are refused naming the parameter; a key
 * stored as unsalted SHA-256 authenticates and is upgraded; last_used is
 * written on first use, not on every request; migration 6 turns a merchant's
 * one key into its first row.
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

#include "base/clock.h"
#include "base/crypto.h"
#include "gateway/keys.h"
#include "store/store_keys.h"

static void test_usable_and_state(void **state)
{
    assert_true(gw_key_usable(0, 0, 1000));
    assert_true(gw_key_usable(2000, 0, 1999));
    assert_false(gw_key_usable(2000, 0, 2000)); /* the expiry itself is past */
    assert_false(gw_key_usable(0, 5, 1000));    /* revoked */
    assert_false(gw_key_usable(5000, 5, 1000)); /* revoked beats a future expiry */
    gw_key k = {.expires_ms = 0};
    assert_string_equal(gw_key_state(&k, 10), "active");
    k.expires_ms = 20;
    assert_string_equal(gw_key_state(&k, 10), "expiring");
    assert_string_equal(gw_key_state(&k, 20), "expired");
    k.revoked_ms = 5;
    assert_string_equal(gw_key_state(&k, 10), "revoked");
}

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
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("'%s': %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void pg_url_for(const char *db, char *out, size_t cap)
{
    const char *auth = strstr(g_pg_base, "://");
    assert_non_null(auth);
    const char *path = strchr(auth + 3, '/');
    const char *query = strchr(auth + 3, '?');
    size_t head = path != NULL ? (size_t)(path - g_pg_base)
                               : (query != NULL ? (size_t)(query - g_pg_base) : strlen(g_pg_base));
    snprintf(out, cap, "%.*s/%s%s", (int)head, g_pg_base, db, query != NULL ? query : "");
}

static void db_exec(const char *sql)
{
    if (g_pg) {
        pg_exec_on(g_path, sql);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("'%s': %s", sql, err);
    sqlite3_close(db);
}

typedef struct {
    store *st;
    gw *g;
    arena a;
    gw_merchant_keys m;
} fx;

static int fx_setup(void **state)
{
    if (g_pg) {
        snprintf(g_pg_db, sizeof g_pg_db, "kassa_keys_%d_%d", (int)getpid(), ++g_pg_seq);
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        pg_url_for(g_pg_db, g_path, sizeof g_path);
    } else {
        snprintf(g_dir, sizeof g_dir, "/tmp/kassa-keys-XXXXXX");
        if (mkdtemp(g_dir) == NULL)
            return -1;
        snprintf(g_path, sizeof g_path, "%s/kassa.db", g_dir);
    }
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(store_open(&f->st, g_path), K_OK);
    gw_config gc = {.public_url = "http://127.0.0.1"};
    assert_int_equal(gw_open(&f->g, f->st, &gc), K_OK);
    arena_init(&f->a, 0);
    assert_int_equal(gw_merchant_create(f->g, "Shop", &f->a, &f->m), K_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    gw_close(f->g);
    store_close(f->st);
    arena_release(&f->a);
    free(f);
    if (g_pg) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        return 0;
    }
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", g_path, suffix[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

/* K_OK and the merchant when sk authenticates. */
static k_status auth(fx *f, const char *sk)
{
    const char *m = NULL;
    k_status st = gw_merchant_auth(f->g, sk, &f->a, &m);
    if (st == K_OK)
        assert_string_equal(m, f->m.id);
    return st;
}

static const gw_key *find(const gw_key *ks, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ks[i].id, id) == 0)
            return &ks[i];
    fail_msg("key %s not listed", id);
    return NULL;
}

static void test_create_roll_revoke(void **state)
{
    fx *f = *state;
    gw_err err;
    memset(&err, 0, sizeof err);
    assert_int_equal(auth(f, f->m.secret_key), K_OK);
    gw_key *ks;
    size_t n;
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ks[0].mode, "test");
    assert_string_equal(ks[0].last4, f->m.secret_key + strlen(f->m.secret_key) - 4);

    gw_key k2;
    assert_int_equal(gw_key_create(f->g, f->m.id, "test", "server", "idem-1", &f->a, &k2, &err),
                     K_OK);
    assert_non_null(k2.secret);
    assert_true(strncmp(k2.secret, "sk_test_", 8) == 0);
    assert_false(k2.replayed);
    assert_int_equal(auth(f, k2.secret), K_OK);
    assert_int_equal(auth(f, f->m.secret_key), K_OK);
    /* the same form again: the same key, no secret */
    gw_key again;
    assert_int_equal(gw_key_create(f->g, f->m.id, "test", "server", "idem-1", &f->a, &again, &err),
                     K_OK);
    assert_true(again.replayed);
    assert_null(again.secret);
    assert_string_equal(again.id, k2.id);
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(n, 2);

    /* roll with an hour's overlap: both work, then only the new one */
    gw_key k3;
    assert_int_equal(gw_key_roll(f->g, f->m.id, k2.id, 3600, "idem-2", &f->a, &k3, &err), K_OK);
    assert_string_equal(k3.name, "server");
    assert_int_equal(auth(f, k2.secret), K_OK);
    assert_int_equal(auth(f, k3.secret), K_OK);
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    const gw_key *old = find(ks, n, k2.id);
    assert_string_equal(gw_key_state(old, clock_now_ms()), "expiring");
    int64_t until = old->expires_ms;
    /* a second roll of the old key with a longer overlap does not lengthen its life */
    gw_key k4;
    assert_int_equal(gw_key_roll(f->g, f->m.id, k2.id, 86400, NULL, &f->a, &k4, &err), K_OK);
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(find(ks, n, k2.id)->expires_ms, until);
    clock_advance_ms(3600 * 1000 + 1);
    assert_int_equal(auth(f, k2.secret), K_ENOTFOUND);
    assert_int_equal(auth(f, k3.secret), K_OK);
    assert_int_equal(auth(f, k4.secret), K_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_roll(f->g, f->m.id, k2.id, 60, NULL, &f->a, &k4, &err), K_EINVAL);
    assert_int_equal(err.why, GW_WHY_WRONG_STATE);

    /* revoke: at once, and again is the same answer */
    gw_key r;
    assert_int_equal(gw_key_revoke(f->g, f->m.id, k3.id, &f->a, &r, &err), K_OK);
    assert_true(r.revoked_ms > 0);
    assert_int_equal(auth(f, k3.secret), K_ENOTFOUND);
    assert_int_equal(gw_key_revoke(f->g, f->m.id, k3.id, &f->a, &r, &err), K_OK);
    assert_int_equal(auth(f, f->m.secret_key), K_OK);
    /* roll "now": the old key stops at once */
    gw_key k5;
    assert_int_equal(gw_key_roll(f->g, f->m.id, k4.id, 0, NULL, &f->a, &k5, &err), K_OK);
    assert_int_equal(auth(f, k4.secret), K_ENOTFOUND);
    assert_int_equal(auth(f, k5.secret), K_OK);
    /* another merchant's key id is not found */
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_revoke(f->g, "acct_other", k5.id, &f->a, &r, &err), K_ENOTFOUND);
    assert_int_equal(err.why, GW_WHY_NOT_FOUND);
    /* a wrong key is refused without a write (the writer is no amplifier for guesses) */
    store_stats before, after;
    store_get_stats(f->st, &before);
    assert_int_equal(auth(f, "sk_test_nosuchkeyatallXXXXXXXX"), K_ENOTFOUND);
    store_get_stats(f->st, &after);
    assert_int_equal(after.jobs, before.jobs);
}

static void test_refusals(void **state)
{
    fx *f = *state;
    gw_err err;
    gw_key k;
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_create(f->g, f->m.id, "live", "x", NULL, &f->a, &k, &err), K_EINVAL);
    assert_string_equal(err.param, "mode");
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_create(f->g, f->m.id, "test", "", NULL, &f->a, &k, &err), K_EINVAL);
    assert_string_equal(err.param, "name");
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_create(f->g, f->m.id, "test", "a\nb", NULL, &f->a, &k, &err), K_EINVAL);
    assert_string_equal(err.param, "name");
    gw_key *ks;
    size_t n;
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_roll(f->g, f->m.id, ks[0].id, -1, NULL, &f->a, &k, &err), K_EINVAL);
    assert_string_equal(err.param, "overlap");
    memset(&err, 0, sizeof err);
    assert_int_equal(
        gw_key_roll(f->g, f->m.id, ks[0].id, GW_KEY_OVERLAP_MAX_S + 1, NULL, &f->a, &k, &err),
        K_EINVAL);
    assert_string_equal(err.param, "overlap");
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(n, 1); /* nothing was made */
    assert_int_equal(ks[0].expires_ms, 0);
}

typedef struct {
    const char *hash;
    arena *a;
    store_api_key k;
} kh_read;

static k_status kh_fn(store_tx *tx, void *arg)
{
    kh_read *r = arg;
    return store_key_by_hash(tx, r->hash, r->a, &r->k);
}

static void test_legacy_hash_upgraded_and_last_used(void **state)
{
    fx *f = *state;
    char plain[SHA256_HEX_LEN], keyed[SHA256_HEX_LEN];
    gw_key k;
    gw_err err;
    memset(&err, 0, sizeof err);
    assert_int_equal(gw_key_create(f->g, f->m.id, "test", "legacy", NULL, &f->a, &k, &err), K_OK);
    crypto_sha256_hex(k.secret, strlen(k.secret), plain);
    crypto_key_hash_hex(k.secret, keyed);
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE api_keys SET key_hash = '%s' WHERE id = '%s'", plain, k.id);
    db_exec(sql);
    assert_int_equal(auth(f, k.secret), K_OK);
    gw_key *ks;
    size_t n;
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    const gw_key *row = find(ks, n, k.id);
    assert_true(row->last_used_ms > 0); /* the first use is written */
    int64_t first = row->last_used_ms;
    clock_advance_ms(1000);
    assert_int_equal(auth(f, k.secret), K_OK);
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(find(ks, n, k.id)->last_used_ms, first); /* not again within a minute */
    clock_advance_ms(LIMIT_KEY_TOUCH_MS);
    assert_int_equal(auth(f, k.secret), K_OK);
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_true(find(ks, n, k.id)->last_used_ms > first);
    /* the row now holds the keyed hash */
    kh_read r = {.hash = keyed, .a = &f->a};
    assert_int_equal(store_read(f->st, kh_fn, &r), K_OK);
    assert_string_equal(r.k.id, k.id);
    r.hash = plain;
    assert_int_equal(store_read(f->st, kh_fn, &r), K_ENOTFOUND);
}

/* A database from before migration 8 (the last): the merchant's one key becomes its first api_keys
 * row. */
static void test_migration_keeps_the_merchants_key(void **state)
{
    fx *f = *state;
    gw_close(f->g);
    f->g = NULL;
    store_close(f->st);
    f->st = NULL;
    db_exec("DROP TABLE api_keys");
    db_exec("DROP TABLE request_log");
    db_exec("DELETE FROM schema_version WHERE version = 8");
    assert_int_equal(store_open(&f->st, g_path), K_OK);
    gw_config gc = {.public_url = "http://127.0.0.1"};
    assert_int_equal(gw_open(&f->g, f->st, &gc), K_OK);
    assert_int_equal(auth(f, f->m.secret_key), K_OK);
    gw_key *ks;
    size_t n;
    assert_int_equal(gw_key_list(f->g, f->m.id, &f->a, &ks, &n), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ks[0].last4, ""); /* only the hash was kept before */
    assert_string_equal(ks[0].mode, "test");
    assert_int_equal(ks[0].expires_ms, 0);
}

/* Key -> mode routing on its own: a key's prefix names its mode, and a key
 * authenticates only as a merchant of the same mode. */
static void test_key_mode_routing(void **state)
{
    (void)state;
    assert_string_equal(gw_key_mode_of("sk_live_abc"), "live");
    assert_string_equal(gw_key_mode_of("pk_live_abc"), "live");
    assert_string_equal(gw_key_mode_of("sk_test_abc"), "test");
    assert_null(gw_key_mode_of("rk_live_abc"));
    assert_null(gw_key_mode_of(NULL));
    assert_true(gw_merchant_is_live("acct_1" GW_LIVE_SUFFIX));
    assert_false(gw_merchant_is_live("acct_1"));
    assert_false(gw_merchant_is_live(GW_LIVE_SUFFIX)); /* a suffix alone is no id */
    char id[LIMIT_ID_MAX];
    assert_true(gw_live_id_of("acct_1", id));
    assert_string_equal(id, "acct_1_live");
    assert_false(gw_live_id_of("acct_1_live", id)); /* a twin has no twin */
    assert_false(gw_live_id_of("", id));
    assert_true(gw_key_routes("sk_live_x", "acct_1_live"));
    assert_true(gw_key_routes("sk_test_x", "acct_1"));
    assert_false(gw_key_routes("sk_live_x", "acct_1"));      /* a live key on a test account */
    assert_false(gw_key_routes("sk_test_x", "acct_1_live")); /* a test key on the live twin */
    assert_false(gw_key_routes("whatever", "acct_1"));
}

/* The live twin: created once (the second call reads it, no new key), its
 * first key and new keys are live keys that authenticate as the twin only. */
static void test_live_twin(void **state)
{
    fx *f = *state;
    gw_key k;
    gw_err err;
    gw_merchant_keys tw, again;
    bool created = false;
    assert_null(gw_merchant_live_of(f->g, f->m.id, &f->a));
    assert_int_equal(gw_merchant_live_twin(f->g, f->m.id, &f->a, &tw, &created), K_OK);
    assert_true(created);
    assert_true(gw_merchant_is_live(tw.id));
    assert_non_null(tw.secret_key);
    assert_memory_equal(tw.secret_key, "sk_live_", 8);
    assert_memory_equal(tw.publishable_key, "pk_live_", 8);
    assert_int_equal(gw_merchant_live_twin(f->g, f->m.id, &f->a, &again, &created), K_OK);
    assert_false(created);
    assert_null(again.secret_key);
    assert_string_equal(again.id, tw.id);
    assert_int_equal(gw_merchant_live_twin(f->g, tw.id, &f->a, &again, &created), K_ENOTFOUND);
    const char *mid = NULL;
    assert_int_equal(gw_merchant_auth(f->g, tw.secret_key, &f->a, &mid), K_OK);
    assert_string_equal(mid, tw.id);
    /* a live key asked for on the test account belongs to the twin */
    assert_int_equal(gw_key_create(f->g, f->m.id, "live", "Shop live", NULL, &f->a, &k, &err),
                     K_OK);
    assert_string_equal(k.mode, "live");
    assert_memory_equal(k.secret, "sk_live_", 8);
    assert_int_equal(gw_merchant_auth(f->g, k.secret, &f->a, &mid), K_OK);
    assert_string_equal(mid, tw.id);
    /* the twin makes no test keys */
    assert_int_equal(gw_key_create(f->g, tw.id, "test", "x", NULL, &f->a, &k, &err), K_EINVAL);
    assert_string_equal(err.param, "mode");
    /* the test account's key still authenticates as the test account */
    assert_int_equal(gw_merchant_auth(f->g, f->m.secret_key, &f->a, &mid), K_OK);
    assert_string_equal(mid, f->m.id);
}

#define TS(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    if (crypto_init() != K_OK)
        return 1;
    const struct CMUnitTest pure[] = {cmocka_unit_test(test_usable_and_state),
                                      cmocka_unit_test(test_key_mode_routing)};
    const struct CMUnitTest stored[] = {TS(test_create_roll_revoke),
                                        TS(test_refusals),
                                        TS(test_live_twin),
                                        TS(test_legacy_hash_upgraded_and_last_used),
                                        TS(test_migration_keeps_the_merchants_key),
                                        TS(test_live_twin)};
    int failed = cmocka_run_group_tests_name("keys: rules", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("keys on sqlite", stored, NULL, NULL);
    g_pg_base = getenv("KASSA_TEST_PG_URL");
    if (g_pg_base == NULL || g_pg_base[0] == '\0') {
        printf("keys on postgresql: NOT RUN (KASSA_TEST_PG_URL is not set)\n");
        return failed;
    }
    g_pg = true;
    failed += cmocka_run_group_tests_name("keys on postgresql", stored, NULL, NULL);
    return failed;
}
