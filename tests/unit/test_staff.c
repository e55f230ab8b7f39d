/*
 * test_staff.c - the back office's security code: RFC 4226 HOTP and RFC 6238
 * TOTP against the RFCs' test vectors, RFC 4648 base32 vectors, one-use codes
 * and the skew window, CSRF tokens, argon2id passwords, the audit row hash;
 * then through gateway/staff.h on a real store (SQLite; PostgreSQL too when
 * KASSA_TEST_PG_URL names a server, as test_store.c does): user creation and
 * its refusals, sign-in with password then TOTP (recovery codes once, a code
 * used twice refused), lock-out after repeated failures, idle and absolute
 * session timeouts on the injectable clock, sign-out, re-authentication, the
 * audit chain verified and then broken by an edited and by a removed row, the
 * payments search and saved views.
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
#include "base/totp.h"
#include "gateway/staff.h"
#include "api/backoffice/bo_int.h"

/* ---- pure functions ---- */

static const uint8_t RFC_KEY[] = "12345678901234567890"; /* RFC 4226 / 6238 SHA-1 secret */

static void test_hotp_rfc4226_vectors(void **state)
{
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++)
        assert_int_equal(totp_hotp(RFC_KEY, 20, c, 6), want[c]);
}

static void test_totp_rfc6238_vectors(void **state)
{
    static const struct {
        int64_t t;
        uint32_t code;
    } v[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
             {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(totp_at(RFC_KEY, 20, v[i].t, 8), v[i].code);
}

static void test_totp_check_window_and_replay(void **state)
{
    char code[8];
    int64_t now = 1111111111, step = 0;
    snprintf(code, sizeof code, "%06u", totp_at(RFC_KEY, 20, now, 6));
    assert_true(totp_check(RFC_KEY, 20, code, now, 1, 0, &step));
    assert_int_equal(step, now / 30);
    /* the same code again (its step is the last used): refused */
    assert_false(totp_check(RFC_KEY, 20, code, now, 1, step, &step));
    /* one step of skew either way is accepted, two are not */
    snprintf(code, sizeof code, "%06u", totp_at(RFC_KEY, 20, now - 30, 6));
    assert_true(totp_check(RFC_KEY, 20, code, now, 1, 0, &step));
    snprintf(code, sizeof code, "%06u", totp_at(RFC_KEY, 20, now + 61, 6));
    assert_false(totp_check(RFC_KEY, 20, code, now, 1, 0, &step));
    /* not six digits */
    assert_false(totp_check(RFC_KEY, 20, "12345", now, 1, 0, &step));
    assert_false(totp_check(RFC_KEY, 20, "12345a", now, 1, 0, &step));
    assert_false(totp_check(RFC_KEY, 20, NULL, now, 1, 0, &step));
}

static void test_base32_rfc4648_vectors(void **state)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                      "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (size_t i = 0; i < 7; i++) {
        char enc[32];
        totp_b32_encode((const uint8_t *)in[i], strlen(in[i]), enc, sizeof enc);
        assert_string_equal(enc, out[i]);
        uint8_t dec[32];
        long n = totp_b32_decode(out[i], dec, sizeof dec);
        assert_int_equal(n, (long)strlen(in[i]));
        assert_memory_equal(dec, in[i], (size_t)n);
    }
    uint8_t dec[4];
    assert_int_equal(totp_b32_decode("mzxw6===", dec, sizeof dec), 3); /* case, padding */
    assert_int_equal(totp_b32_decode("MZ1W", dec, sizeof dec), -1);    /* '1' is no digit */
    assert_int_equal(totp_b32_decode("MZXW6YTBOI", dec, 4), -1);       /* would not fit */
}

static void test_csrf_tokens(void **state)
{
    const char *tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *other = "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char csrf[65];
    staff_csrf_token(tok, csrf);
    assert_int_equal(strlen(csrf), 64);
    assert_true(staff_csrf_ok(tok, csrf));
    assert_false(staff_csrf_ok(other, csrf)); /* another session's token */
    csrf[10] = csrf[10] == 'a' ? 'b' : 'a';
    assert_false(staff_csrf_ok(tok, csrf));
    assert_false(staff_csrf_ok(tok, NULL));
    assert_false(staff_csrf_ok(tok, "abc"));
    assert_false(staff_csrf_ok(NULL, csrf));
}

static void test_password_argon2id(void **state)
{
    char h[128];
    assert_int_equal(crypto_password_hash("correct horse battery", h), K_OK);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_true(crypto_password_verify(h, "correct horse battery"));
    assert_false(crypto_password_verify(h, "correct horse batterY"));
    char h2[128];
    assert_int_equal(crypto_password_hash("correct horse battery", h2), K_OK);
    assert_string_not_equal(h, h2); /* salted */
}

static void test_audit_hash_covers_every_field(void **state)
{
    store_audit r = {.merchant_id = "acct_1",
                     .at_ms = 1000,
                     .staff_id = "stf_1",
                     .staff_email = "a@b.c",
                     .addr = "127.0.0.1",
                     .action = "payment.capture",
                     .object_id = "pi_1",
                     .before_json = "{}",
                     .after_json = "{\"captured\":1}",
                     .reason = "shipped",
                     .outcome = "ok",
                     .prev_hash = STORE_AUDIT_GENESIS};
    char base[65], h[65];
    staff_audit_hash(&r, base);
    const char **fields[] = {&r.merchant_id, &r.staff_id,  &r.staff_email, &r.addr,
                             &r.action,      &r.object_id, &r.before_json, &r.after_json,
                             &r.reason,      &r.outcome,   &r.prev_hash};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *keep = *fields[i];
        *fields[i] = "0000000000000000000000000000000000000000000000000000000000000001";
        staff_audit_hash(&r, h);
        assert_string_not_equal(h, base);
        *fields[i] = NULL;
        staff_audit_hash(&r, h);
        assert_string_not_equal(h, base);
        *fields[i] = keep;
    }
    r.at_ms++;
    staff_audit_hash(&r, h);
    assert_string_not_equal(h, base);
    r.at_ms--;
    staff_audit_hash(&r, h);
    assert_string_equal(h, base);
}

static void test_roles_table(void **state)
{
    const staff_role *ro = staff_role_find("read_only");
    assert_non_null(ro);
    assert_true(ro->perms & STAFF_VIEW);
    assert_false(ro->perms & (STAFF_ACT | STAFF_REFUND | STAFF_SECRETS | STAFF_DEV | STAFF_USERS));
    const staff_role *ops = staff_role_find("operations");
    assert_true(ops->perms & STAFF_ACT);
    assert_false(ops->perms & STAFF_USERS);
    assert_true(staff_role_find("admin")->perms & STAFF_USERS);
    assert_true(staff_role_find("developer")->perms & STAFF_DEV);
    assert_false(staff_role_find("developer")->perms & STAFF_ACT);
    assert_null(staff_role_find("root"));
    const staff_role *all;
    assert_int_equal(staff_roles(&all), 5);
}

static void test_i18n_table_complete_and_language_pick(void **state)
{
    for (int l = BO_DE; l < BO_LANG__COUNT; l++)
        assert_int_equal(bo_i18n_missing((bo_lang)l), 0);
    assert_string_equal(bo_t(BO_DE, "Payments"), "Zahlungen");
    assert_string_equal(bo_t(BO_SV, "Payments"), "Betalningar");
    assert_string_equal(bo_t(BO_FI, "not in the table"), "not in the table");
    assert_int_equal(bo_lang_pick(NULL, NULL, "fi-FI,fi;q=0.9,en;q=0.8"), BO_FI);
    assert_int_equal(bo_lang_pick(NULL, NULL, "nl-NL, de;q=0.5"), BO_DE);
    assert_int_equal(bo_lang_pick(NULL, NULL, "ja"), BO_EN);
    assert_int_equal(bo_lang_pick(NULL, "sv", "de"), BO_SV); /* the cookie beats the header */
    assert_int_equal(bo_lang_pick("fr", "sv", "de"), BO_FR); /* ?lang= beats both */
    assert_int_equal(bo_lang_pick("xx", NULL, NULL), BO_EN);
    assert_string_equal(bo_lang_code(BO_FI), "fi");
}

/* ---- through the gateway, on a real store ---- */

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

/* Runs one statement straight on the database (what an intruder with file access does). */
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

/* The first column of the first row of a query, straight from the database. */
static int db_text_cb(void *ctx, int n, char **vals, char **cols)
{
    (void)cols;
    char *out = ctx;
    if (n > 0 && out[0] == '\0')
        snprintf(out, 512, "%s", vals[0] != NULL ? vals[0] : "");
    return 0;
}

static void db_text(const char *sql, char out[512])
{
    out[0] = '\0';
    if (g_pg) {
        PGconn *c = PQconnectdb(g_path);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        if (PQntuples(r) > 0)
            snprintf(out, 512, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, db_text_cb, out, NULL), SQLITE_OK);
    sqlite3_close(db);
}

typedef struct {
    store *st;
    gw *g;
    arena a;
    const char *merchant;
} fx;

static int fx_setup(void **state)
{
    if (g_pg) {
        snprintf(g_pg_db, sizeof g_pg_db, "kassa_staff_%d_%d", (int)getpid(), ++g_pg_seq);
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", g_pg_db);
        pg_exec_on(g_pg_base, sql);
        pg_url_for(g_pg_db, g_path, sizeof g_path);
    } else {
        snprintf(g_dir, sizeof g_dir, "/tmp/kassa-staff-XXXXXX");
        if (mkdtemp(g_dir) == NULL)
            return -1;
        snprintf(g_path, sizeof g_path, "%s/kassa.db", g_dir);
    }
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(store_open(&f->st, g_path), K_OK);
    gw_config gc = {.public_url = "http://127.0.0.1"};
    assert_int_equal(gw_open(&f->g, f->st, &gc), K_OK);
    arena_init(&f->a, 0);
    gw_merchant_keys k;
    assert_int_equal(gw_merchant_create(f->g, "Shop", &f->a, &k), K_OK);
    f->merchant = k.id;
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

/* The current code of a user, for a step after last_step. */
static void code_for(const staff_new *u, int64_t offset_steps, char out[8])
{
    uint8_t key[64];
    long n = totp_b32_decode(u->totp_secret, key, sizeof key);
    assert_true(n > 0);
    snprintf(out, 8, "%06u", totp_at(key, (size_t)n, clock_now_s() + offset_steps * 30, 6));
}

static void signin(fx *f, const char *email, const char *password, const staff_new *u, int64_t step,
                   staff_session *s, const char **token)
{
    gw_err err;
    assert_int_equal(staff_signin_password(f->g, email, password, "127.0.0.1", &f->a, token, &err),
                     K_OK);
    char code[8];
    code_for(u, step, code);
    const char *const *rec = NULL;
    assert_int_equal(staff_signin_code(f->g, *token, code, "127.0.0.1", &f->a, s, &rec, &err),
                     K_OK);
    *token = s->token; /* the signed-in session's own token */
}

static void test_user_create_and_refusals(void **state)
{
    fx *f = *state;
    staff_new u;
    gw_err err;
    assert_int_equal(
        staff_user_create(f->g, NULL, "Ann@Shop.test", "operations", NULL, &f->a, &u, &err), K_OK);
    assert_non_null(strstr(u.totp_uri, "otpauth://totp/Kassa:ann@shop.test?secret="));
    assert_true(strlen(u.password) >= 20);
    assert_int_equal(staff_user_create(f->g, NULL, "ann@shop.TEST", "admin", NULL, &f->a, &u, &err),
                     K_ECONFLICT);
    assert_string_equal(err.param, "email");
    assert_int_equal(staff_user_create(f->g, NULL, "b@shop.test", "boss", NULL, &f->a, &u, &err),
                     K_EINVAL);
    assert_string_equal(err.param, "role");
    assert_int_equal(staff_user_create(f->g, NULL, "not-an-email", "admin", NULL, &f->a, &u, &err),
                     K_EINVAL);
    assert_string_equal(err.param, "email");
    assert_int_equal(
        staff_user_create(f->g, NULL, "c@shop.test", "admin", "short", &f->a, &u, &err), K_EINVAL);
    assert_string_equal(err.param, "password");
    assert_int_equal(
        staff_user_create(f->g, "acct_none", "d@shop.test", "admin", NULL, &f->a, &u, &err),
        K_ENOTFOUND);
}

static void test_signin_totp_recovery_and_sessions(void **state)
{
    fx *f = *state;
    staff_new u;
    gw_err err;
    assert_int_equal(staff_user_create(f->g, NULL, "ann@shop.test", "admin",
                                       "a long enough password", &f->a, &u, &err),
                     K_OK);
    const char *token;
    assert_int_equal(staff_signin_password(f->g, "ANN@shop.test", "a long enough password",
                                           "10.0.0.1", &f->a, &token, &err),
                     K_OK);
    staff_session s;
    /* a password-only session is no session yet */
    assert_int_equal(staff_session_check(f->g, token, "10.0.0.1", &f->a, &s), K_ENOTFOUND);
    char code[8];
    code_for(&u, 0, code);
    const char *const *rec = NULL;
    assert_int_equal(staff_signin_code(f->g, token, code, "10.0.0.1", &f->a, &s, &rec, &err), K_OK);
    /* session fixation: the signed-in session has a new token, the password step's is dead */
    const char *pending = token;
    token = s.token;
    assert_non_null(token);
    assert_string_not_equal(token, pending);
    staff_session dead;
    assert_int_equal(staff_session_check(f->g, pending, "10.0.0.1", &f->a, &dead), K_ENOTFOUND);
    assert_non_null(rec); /* first sign-in: the recovery codes, once */
    size_t nrec = 0;
    while (rec[nrec] != NULL)
        nrec++;
    assert_int_equal(nrec, LIMIT_BO_RECOVERY_CODES);
    char recovery[16];
    snprintf(recovery, sizeof recovery, "%s", rec[0]);
    assert_int_equal(staff_session_check(f->g, token, "10.0.0.1", &f->a, &s), K_OK);
    assert_string_equal(s.email, "ann@shop.test");
    assert_true(staff_can(&s, STAFF_USERS));
    assert_true(staff_csrf_ok(token, s.csrf));

    /* second sign-in: the same code again is refused; a recovery code works once */
    const char *t2;
    assert_int_equal(staff_signin_password(f->g, "ann@shop.test", "a long enough password",
                                           "10.0.0.1", &f->a, &t2, &err),
                     K_OK);
    assert_int_equal(staff_signin_code(f->g, t2, code, "10.0.0.1", &f->a, &s, &rec, &err),
                     K_ECONFLICT);
    assert_int_equal(staff_signin_code(f->g, t2, recovery, "10.0.0.1", &f->a, &s, &rec, &err),
                     K_OK);
    t2 = s.token;
    assert_null(rec); /* shown once only */
    const char *t3;
    assert_int_equal(staff_signin_password(f->g, "ann@shop.test", "a long enough password",
                                           "10.0.0.1", &f->a, &t3, &err),
                     K_OK);
    assert_int_equal(staff_signin_code(f->g, t3, recovery, "10.0.0.1", &f->a, &s, &rec, &err),
                     K_ECONFLICT);

    /* idle timeout: 31 minutes without a request ends the session */
    assert_int_equal(staff_session_check(f->g, t2, "10.0.0.1", &f->a, &s), K_OK);
    clock_advance_ms(LIMIT_BO_SESSION_IDLE_MS + 60000);
    assert_int_equal(staff_session_check(f->g, t2, "10.0.0.1", &f->a, &s), K_ENOTFOUND);

    /* absolute timeout: used every 20 minutes, still over after 12 hours */
    const char *t4;
    signin(f, "ann@shop.test", "a long enough password", &u, 0, &s, &t4);
    for (int i = 0; i < 40; i++) {
        if (staff_session_check(f->g, t4, "10.0.0.1", &f->a, &s) != K_OK)
            break;
        clock_advance_ms(20 * 60000);
    }
    assert_int_equal(staff_session_check(f->g, t4, "10.0.0.1", &f->a, &s), K_ENOTFOUND);

    /* sign-out ends it at once */
    const char *t5;
    signin(f, "ann@shop.test", "a long enough password", &u, 0, &s, &t5);
    assert_int_equal(staff_session_check(f->g, t5, "10.0.0.1", &f->a, &s), K_OK);
    assert_true(staff_reauth(f->g, &s, "a long enough password", &f->a));
    assert_false(staff_reauth(f->g, &s, "wrong", &f->a));
    assert_int_equal(staff_signout(f->g, &s), K_OK);
    assert_int_equal(staff_session_check(f->g, t5, "10.0.0.1", &f->a, &s), K_ENOTFOUND);
    /* junk tokens */
    assert_int_equal(staff_session_check(f->g, "x", "10.0.0.1", &f->a, &s), K_ENOTFOUND);
    assert_int_equal(staff_session_check(f->g, NULL, "10.0.0.1", &f->a, &s), K_ENOTFOUND);
}

static void test_lockout_after_failures(void **state)
{
    fx *f = *state;
    staff_new u;
    gw_err err;
    assert_int_equal(staff_user_create(f->g, NULL, "bob@shop.test", "finance", "bobs long password",
                                       &f->a, &u, &err),
                     K_OK);
    const char *token;
    for (int i = 0; i < LIMIT_BO_FAILS_BEFORE_LOCK; i++)
        assert_int_equal(
            staff_signin_password(f->g, "bob@shop.test", "guess", "10.0.0.9", &f->a, &token, &err),
            K_ECONFLICT);
    /* now even the right password is refused, with a message that says why */
    assert_int_equal(staff_signin_password(f->g, "bob@shop.test", "bobs long password", "10.0.0.9",
                                           &f->a, &token, &err),
                     K_ECONFLICT);
    assert_non_null(strstr(err.message, "locked"));
    clock_advance_ms(LIMIT_BO_LOCK_MS + 1000);
    assert_int_equal(staff_signin_password(f->g, "bob@shop.test", "bobs long password", "10.0.0.9",
                                           &f->a, &token, &err),
                     K_OK);
    /* every failure is in the audit log, and the chain holds */
    staff_verify v;
    assert_int_equal(staff_audit_verify(f->g, f->merchant, &v), K_OK);
    assert_int_equal(v.bad_seq, 0);
    assert_true(v.rows >= LIMIT_BO_FAILS_BEFORE_LOCK + 1);
}

static void test_audit_chain_detects_edits_and_removals(void **state)
{
    fx *f = *state;
    staff_new u;
    gw_err err;
    assert_int_equal(staff_user_create(f->g, NULL, "cy@shop.test", "admin", "cys long password",
                                       &f->a, &u, &err),
                     K_OK);
    staff_session s;
    const char *token;
    signin(f, "cy@shop.test", "cys long password", &u, 0, &s, &token);
    for (int i = 0; i < 5; i++) {
        char obj[16];
        snprintf(obj, sizeof obj, "pi_%d", i);
        staff_audit_entry e = {.action = "payment.capture", .object_id = obj, .reason = "r"};
        assert_int_equal(staff_audit(f->g, &s, NULL, NULL, "10.0.0.1", &e), K_OK);
    }
    staff_verify v;
    assert_int_equal(staff_audit_verify(f->g, NULL, &v), K_OK);
    assert_int_equal(v.bad_seq, 0);
    assert_int_equal(v.rows, 6); /* the sign-in and five actions */
    store_audit_q q = {.object_id = "pi_3", .limit = 10};
    store_audit *rows;
    size_t n;
    bool more;
    assert_int_equal(staff_audit_list(f->g, f->merchant, &q, &f->a, &rows, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].staff_email, "cy@shop.test");

    db_exec("UPDATE audit_log SET reason = 'other' WHERE object_id = 'pi_2'");
    assert_int_equal(staff_audit_verify(f->g, NULL, &v), K_OK);
    assert_int_not_equal(v.bad_seq, 0);
    assert_non_null(strstr(v.why, "changed"));
    db_exec("UPDATE audit_log SET reason = 'r' WHERE object_id = 'pi_2'");
    assert_int_equal(staff_audit_verify(f->g, NULL, &v), K_OK);
    assert_int_equal(v.bad_seq, 0);
    db_exec("DELETE FROM audit_log WHERE object_id = 'pi_1'");
    assert_int_equal(staff_audit_verify(f->g, NULL, &v), K_OK);
    assert_int_not_equal(v.bad_seq, 0);
    assert_non_null(strstr(v.why, "does not follow"));
}

static void test_search_and_views(void **state)
{
    fx *f = *state;
    const char *mid = f->merchant;
    gw_err err;
    gw_payment p;
    const char *ids[3];
    for (int i = 0; i < 3; i++) {
        gw_pi_params pp = {.amount = 1000 * (i + 1),
                           .currency = i == 2 ? "sek" : "eur",
                           .has_amount = true,
                           .has_currency = true,
                           .capture_manual = -1,
                           .email = i == 1 ? "Kim@Example.com" : NULL,
                           .external_id = i == 0 ? "shop-order-7" : NULL};
        assert_int_equal(gw_pi_create(f->g, mid, &pp, NULL, &f->a, &p, &err), K_OK);
        ids[i] = arena_strdup(&f->a, p.id);
    }
    gw_payment *ps;
    int64_t *seqs;
    size_t n;
    bool more;
    store_pay_q q = {.amount_gte = -1, .amount_lte = -1, .limit = 2};
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(ps[0].id, ids[2]); /* newest first */
    q.before_seq = seqs[1];                /* the keyset cursor */
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_string_equal(ps[0].id, ids[0]);

    store_pay_q by_ext = {
        .any_id = "shop-order-7", .amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &by_ext, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, ids[0]);
    store_pay_q by_mail = {
        .email = "kim@example.COM", .amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &by_mail, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, ids[1]);
    store_pay_q range = {.amount_gte = 1500, .amount_lte = 2500, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &range, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, ids[1]);
    store_pay_q other_merchant = {.amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(
        staff_pay_search(f->g, "acct_other", &other_merchant, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 0);

    store_pay_total *t;
    store_pay_q all = {.amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_totals(f->g, mid, &all, &f->a, &t, &n), K_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].currency, "eur");
    assert_int_equal(t[0].amount, 3000);
    assert_int_equal(t[0].count, 2);
    assert_string_equal(t[1].currency, "sek");
    assert_int_equal(t[1].amount, 3000);

    int64_t last = 0;
    assert_int_equal(staff_op_last_seq(f->g, mid, &last), K_OK);
    assert_true(last > 0);
    store_op *ops;
    assert_int_equal(staff_ops_after(f->g, mid, NULL, 0, &f->a, &ops, &n), K_OK);
    assert_int_equal(n, 3); /* three creates */
    assert_int_equal(staff_ops_after(f->g, mid, ids[1], 0, &f->a, &ops, &n), K_OK);
    assert_int_equal(n, 1);
    assert_int_equal(staff_ops_after(f->g, mid, NULL, last, &f->a, &ops, &n), K_OK);
    assert_int_equal(n, 0);

    staff_new u;
    assert_int_equal(
        staff_user_create(f->g, NULL, "v@shop.test", "read_only", NULL, &f->a, &u, &err), K_OK);
    staff_session s = {.id = u.id, .merchant_id = mid, .email = "v@shop.test"};
    assert_int_equal(staff_view_save(f->g, &s, "Swedish", "currency=sek", &err), K_OK);
    assert_int_equal(staff_view_save(f->g, &s, "Swedish", "currency=sek&status=succeeded", &err),
                     K_OK); /* same name: replaced */
    assert_int_equal(staff_view_save(f->g, &s, "", "x=1", &err), K_EINVAL);
    store_view *vs;
    assert_int_equal(staff_view_list(f->g, &s, &f->a, &vs, &n), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(vs[0].query, "currency=sek&status=succeeded");
    assert_int_equal(staff_view_delete(f->g, &s, vs[0].id), K_OK);
    assert_int_equal(staff_view_list(f->g, &s, &f->a, &vs, &n), K_OK);
    assert_int_equal(n, 0);
}

/* TOTP secrets are sealed at rest, open again on the way out, and a row written
 * in clear before (an older database) is sealed when the store is opened. */
static void test_totp_sealed_round_trip(void **state)
{
    fx *f = *state;
    staff_new u;
    gw_err err;
    assert_int_equal(staff_user_create(f->g, NULL, "seal@shop.test", "admin",
                                       "a long enough password", &f->a, &u, &err),
                     K_OK);
    char raw[512];
    db_text("SELECT totp_secret FROM staff_users WHERE email = 'seal@shop.test'", raw);
    assert_true(strncmp(raw, "enc1:", 5) == 0);
    assert_null(strstr(raw, u.totp_secret));
    staff_session s;
    const char *token;
    signin(f, "seal@shop.test", "a long enough password", &u, 0, &s, &token); /* opens it */

    /* an old row in clear: sealed at the next open, and codes still match */
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE staff_users SET totp_secret = '%s', totp_last_step = 0 WHERE email = "
             "'seal@shop.test'",
             u.totp_secret);
    db_exec(sql);
    db_text("SELECT totp_secret FROM staff_users WHERE email = 'seal@shop.test'", raw);
    assert_string_equal(raw, u.totp_secret);
    gw_close(f->g);
    store_close(f->st);
    assert_int_equal(store_open(&f->st, g_path), K_OK);
    gw_config gc = {.public_url = "http://127.0.0.1"};
    assert_int_equal(gw_open(&f->g, f->st, &gc), K_OK);
    db_text("SELECT totp_secret FROM staff_users WHERE email = 'seal@shop.test'", raw);
    assert_true(strncmp(raw, "enc1:", 5) == 0);
    signin(f, "seal@shop.test", "a long enough password", &u, 1, &s, &token);
    assert_int_equal(staff_session_check(f->g, token, "127.0.0.1", &f->a, &s), K_OK);
}

static char *render_ok(gw_idem *self, const void *record, arena *a)
{
    (void)self;
    (void)record;
    return arena_strdup(a, "{}");
}

static const char *after_meta(void *ctx, const void *record, arena *a)
{
    (void)ctx;
    const gw_payment *p = record;
    const char *v = json_string_value(json_object_get(p->metadata, "note"));
    return arena_printf(a, "{\"note\":\"%s\"}", v != NULL ? v : "");
}

static size_t audit_rows_of(fx *f, const char *object_id, store_audit **rows)
{
    store_audit_q q = {.object_id = object_id, .limit = 10};
    size_t n = 0;
    bool more = false;
    assert_int_equal(staff_audit_list(f->g, f->merchant, &q, &f->a, rows, &n, &more), K_OK);
    return n;
}

/* The audit row of an action is written in the action's own transaction: when
 * the row cannot be appended the action does not happen either, and when it
 * can, both are there. */
static void test_audit_in_the_action_transaction(void **state)
{
    fx *f = *state;
    gw_err err;
    gw_payment p;
    gw_pi_params pp = {.amount = 1000,
                       .currency = "eur",
                       .has_amount = true,
                       .has_currency = true,
                       .capture_manual = -1};
    assert_int_equal(gw_pi_create(f->g, f->merchant, &pp, NULL, &f->a, &p, &err), K_OK);
    const char *pid = arena_strdup(&f->a, p.id);
    staff_new u;
    assert_int_equal(
        staff_user_create(f->g, NULL, "ops@shop.test", "operations", NULL, &f->a, &u, &err), K_OK);
    staff_session s = {.id = u.id,
                       .merchant_id = f->merchant,
                       .email = "ops@shop.test",
                       .role = staff_role_find("operations"),
                       .addr = "10.0.0.9"};

    /* the audit table refuses every row: the action's change is rolled back with it */
    if (g_pg)
        db_exec("CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit down'; END $$;"
                "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW "
                "EXECUTE FUNCTION audit_down();");
    else
        db_exec("CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit down'); END;");
    json_t *meta = json_pack("{s:s}", "note", "first");
    gw_pi_params up = {.capture_manual = -1, .metadata = meta};
    gw_idem idem = {.key = "bo:test:1", .fingerprint = "f1", .render = render_ok};
    staff_audit_hook h = {.s = &s,
                          .e = {.action = "payment.update", .object_id = pid, .reason = "test"},
                          .after_of = after_meta};
    staff_audit_attach(&h, &idem);
    assert_int_not_equal(gw_pi_update(f->g, f->merchant, pid, &up, &idem, &f->a, &p, &err), K_OK);
    assert_false(h.written);
    assert_int_equal(gw_pi_get(f->g, f->merchant, pid, &f->a, &p, &err), K_OK);
    assert_null(json_object_get(p.metadata, "note")); /* nothing changed */
    store_audit *rows;
    assert_int_equal(audit_rows_of(f, pid, &rows), 0);

    /* the audit table works again: the change and its row commit together */
    db_exec(g_pg ? "DROP TRIGGER audit_down ON audit_log" : "DROP TRIGGER audit_down");
    gw_idem idem2 = {.key = "bo:test:2", .fingerprint = "f2", .render = render_ok};
    staff_audit_attach(&h, &idem2);
    assert_int_equal(gw_pi_update(f->g, f->merchant, pid, &up, &idem2, &f->a, &p, &err), K_OK);
    json_decref(meta);
    assert_true(h.written);
    assert_int_equal(gw_pi_get(f->g, f->merchant, pid, &f->a, &p, &err), K_OK);
    assert_string_equal(json_string_value(json_object_get(p.metadata, "note")), "first");
    assert_int_equal(audit_rows_of(f, pid, &rows), 1);
    assert_string_equal(rows[0].action, "payment.update");
    assert_string_equal(rows[0].staff_email, "ops@shop.test");
    assert_string_equal(rows[0].after_json, "{\"note\":\"first\"}");
    assert_string_equal(rows[0].outcome, "ok");
    staff_verify v;
    assert_int_equal(staff_audit_verify(f->g, f->merchant, &v), K_OK);
    assert_int_equal(v.bad_seq, 0); /* the row chains onto the one before */
}

/* The staff page's rules: role and limit changes, disable (sessions end, no
 * sign-in), the last admin kept, 2FA reset; each change an audit row. */
static void test_staff_management(void **state)
{
    fx *f = *state;
    gw_err err;
    staff_new boss, ops;
    assert_int_equal(staff_user_create(f->g, NULL, "boss@shop.test", "admin",
                                       "a long enough password", &f->a, &boss, &err),
                     K_OK);
    staff_session s;
    const char *tok;
    signin(f, "boss@shop.test", "a long enough password", &boss, 0, &s, &tok);
    assert_int_equal(
        staff_user_add(f->g, &s, "ops@shop.test", "operations", "new hire", &f->a, &ops, &err),
        K_OK);
    assert_true(strlen(ops.password) >= 20);
    assert_non_null(strstr(ops.totp_uri, "otpauth://totp/Kassa:ops@shop.test?secret="));
    store_staff *us;
    size_t n;
    assert_int_equal(staff_user_list(f->g, &s, &f->a, &us, &n), K_OK);
    assert_int_equal(n, 2);

    /* the only admin cannot demote or disable themselves */
    staff_change demote = {.role = "finance", .refund_limit = -2, .disabled = -1};
    assert_int_equal(staff_user_change(f->g, &s, boss.id, &demote, &f->a, &err), K_ECONFLICT);
    assert_string_equal(err.param, "role");
    staff_change off = {.refund_limit = -2, .disabled = 1};
    assert_int_equal(staff_user_change(f->g, &s, boss.id, &off, &f->a, &err), K_ECONFLICT);
    assert_int_equal(staff_session_check(f->g, tok, "127.0.0.1", &f->a, &s), K_OK);

    /* a person's own refund limit replaces the role's */
    staff_change lim = {.refund_limit = 5000, .disabled = -1, .reason = "trainee"};
    assert_int_equal(staff_user_change(f->g, &s, ops.id, &lim, &f->a, &err), K_OK);
    staff_session os;
    const char *otok;
    signin(f, "ops@shop.test", ops.password, &ops, 0, &os, &otok);
    assert_int_equal(staff_session_check(f->g, otok, "127.0.0.1", &f->a, &os), K_OK);
    assert_int_equal(os.refund_reauth_above, 5000);
    /* a non-admin manages nobody */
    assert_int_equal(staff_user_change(f->g, &os, boss.id, &off, &f->a, &err), K_EINVAL);
    assert_int_equal(err.why, GW_WHY_FORBIDDEN);

    /* disabled: the session ends and the password no longer signs in */
    assert_int_equal(staff_user_change(f->g, &s, ops.id, &off, &f->a, &err), K_OK);
    assert_int_equal(staff_session_check(f->g, otok, "127.0.0.1", &f->a, &os), K_ENOTFOUND);
    const char *t2;
    assert_int_equal(
        staff_signin_password(f->g, "ops@shop.test", ops.password, "127.0.0.1", &f->a, &t2, &err),
        K_ECONFLICT);
    staff_change on = {.refund_limit = -2, .disabled = 0};
    assert_int_equal(staff_user_change(f->g, &s, ops.id, &on, &f->a, &err), K_OK);

    /* with a second admin, the first may step down */
    staff_change promote = {.role = "admin", .refund_limit = -1, .disabled = -1};
    assert_int_equal(staff_user_change(f->g, &s, ops.id, &promote, &f->a, &err), K_OK);
    assert_int_equal(staff_user_change(f->g, &s, boss.id, &demote, &f->a, &err), K_OK);
    assert_int_equal(staff_session_check(f->g, tok, "127.0.0.1", &f->a, &s), K_ENOTFOUND);

    /* reset 2FA: a new secret; the old one's codes no longer sign in */
    signin(f, "ops@shop.test", ops.password, &ops, 1, &os, &otok);
    staff_new fresh;
    assert_int_equal(staff_user_reset_2fa(f->g, &os, boss.id, "lost phone", &f->a, &fresh, &err),
                     K_OK);
    assert_string_not_equal(fresh.totp_secret, boss.totp_secret);
    const char *t3;
    assert_int_equal(staff_signin_password(f->g, "boss@shop.test", "a long enough password",
                                           "127.0.0.1", &f->a, &t3, &err),
                     K_OK);
    char code[8];
    code_for(&boss, 0, code); /* the lost authenticator's */
    const char *const *rec = NULL;
    staff_session bs;
    assert_int_equal(staff_signin_code(f->g, t3, code, "127.0.0.1", &f->a, &bs, &rec, &err),
                     K_ECONFLICT);
    code_for(&fresh, 0, code);
    assert_int_equal(staff_signin_code(f->g, t3, code, "127.0.0.1", &f->a, &bs, &rec, &err), K_OK);
    assert_non_null(rec); /* new recovery codes, shown once */

    store_audit *rows;
    assert_true(audit_rows_of(f, ops.id, &rows) >= 4); /* create, limit, disable, enable, ... */
    assert_int_equal(audit_rows_of(f, boss.id, &rows) >= 3, true);
    staff_verify v;
    assert_int_equal(staff_audit_verify(f->g, f->merchant, &v), K_OK);
    assert_int_equal(v.bad_seq, 0);
}

/* The indexed filters: metadata key=value, wallet, e-mail (also after an update). */
static void test_search_terms(void **state)
{
    fx *f = *state;
    const char *mid = f->merchant;
    gw_err err;
    gw_payment p;
    json_t *meta = json_pack("{s:s,s:s}", "order_id", "A-17", "shop", "north");
    gw_pi_params pp = {.amount = 500,
                       .currency = "eur",
                       .has_amount = true,
                       .has_currency = true,
                       .capture_manual = -1,
                       .metadata = meta};
    assert_int_equal(gw_pi_create(f->g, mid, &pp, NULL, &f->a, &p, &err), K_OK);
    json_decref(meta);
    const char *a_id = arena_strdup(&f->a, p.id);
    gw_pi_params other = {.amount = 700,
                          .currency = "eur",
                          .has_amount = true,
                          .has_currency = true,
                          .capture_manual = -1};
    assert_int_equal(gw_pi_create(f->g, mid, &other, NULL, &f->a, &p, &err), K_OK);
    const char *b_id = arena_strdup(&f->a, p.id);
    gw_payment *ps;
    int64_t *seqs;
    size_t n;
    bool more;
    store_pay_q q = {.meta = "order_id=A-17", .amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, a_id);
    q.meta = "order_id=A-1";
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 0);
    /* the customer's e-mail given later, by an update: found by it, in any case */
    gw_pi_params up = {.capture_manual = -1, .email = "Late@Example.com"};
    assert_int_equal(gw_pi_update(f->g, mid, b_id, &up, NULL, &f->a, &p, &err), K_OK);
    store_pay_q m = {.email = "late@EXAMPLE.com", .amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &m, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, b_id);
    /* a metadata entry removed is no longer found */
    json_t *clear = json_pack("{s:s}", "order_id", "");
    gw_pi_params up2 = {.capture_manual = -1, .metadata = clear};
    assert_int_equal(gw_pi_update(f->g, mid, a_id, &up2, NULL, &f->a, &p, &err), K_OK);
    json_decref(clear);
    q.meta = "order_id=A-17";
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 0);
    q.meta = "shop=north";
    assert_int_equal(staff_pay_search(f->g, mid, &q, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    /* a wallet term (Alipay+ payments): written like the gateway writes it */
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO payment_terms(merchant_id, term, payment_id) VALUES('%s', "
             "'wallet:GCASH', '%s')",
             mid, b_id);
    db_exec(sql);
    store_pay_q w = {.wallet = "gcash", .amount_gte = -1, .amount_lte = -1, .limit = 10};
    assert_int_equal(staff_pay_search(f->g, mid, &w, &f->a, &ps, &seqs, &n, &more), K_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ps[0].id, b_id);
    store_pay_total *t;
    assert_int_equal(staff_pay_totals(f->g, mid, &w, &f->a, &t, &n), K_OK);
    assert_int_equal(n, 1);
    assert_int_equal(t[0].amount, 700);
}

#define TS(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    if (crypto_init() != K_OK)
        return 1;
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_hotp_rfc4226_vectors),
        cmocka_unit_test(test_totp_rfc6238_vectors),
        cmocka_unit_test(test_totp_check_window_and_replay),
        cmocka_unit_test(test_base32_rfc4648_vectors),
        cmocka_unit_test(test_csrf_tokens),
        cmocka_unit_test(test_password_argon2id),
        cmocka_unit_test(test_audit_hash_covers_every_field),
        cmocka_unit_test(test_roles_table),
        cmocka_unit_test(test_i18n_table_complete_and_language_pick),
    };
    const struct CMUnitTest stored[] = {
        TS(test_user_create_and_refusals),
        TS(test_signin_totp_recovery_and_sessions),
        TS(test_lockout_after_failures),
        TS(test_audit_chain_detects_edits_and_removals),
        TS(test_search_and_views),
        TS(test_totp_sealed_round_trip),
        TS(test_audit_in_the_action_transaction),
        TS(test_staff_management),
        TS(test_search_terms),
    };
    int failed =
        cmocka_run_group_tests_name("staff: TOTP, CSRF, passwords, audit hash", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("staff on sqlite", stored, NULL, NULL);
    g_pg_base = getenv("KASSA_TEST_PG_URL");
    if (g_pg_base == NULL || g_pg_base[0] == '\0') {
        printf("staff on postgresql: NOT RUN (KASSA_TEST_PG_URL is not set)\n");
        return failed;
    }
    g_pg = true;
    failed += cmocka_run_group_tests_name("staff on postgresql", stored, NULL, NULL);
    return failed;
}
