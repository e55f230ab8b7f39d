/*
 * store_sqlite.c - the SQLite backend of store.h (the default: one file, WAL).
 *
 * Connections. One writer connection, owned by the writer thread, and one read
 * connection per calling thread (thread-local, opened on first use, closed at
 * thread exit or at store_close). Every connection is opened NOMUTEX: it is only
 * ever used by one thread at a time, so SQLite's own mutexes would be waste.
 * Each connection prepares its statements once and resets them per use.
 *
 * Group commit. The shared writer (writer.c) runs each batch in one BEGIN
 * IMMEDIATE transaction, a savepoint per job, and COMMITs (fsync with
 * synchronous=FULL) before waking the batch; this file gives it those verbs
 * (sq_hooks) on the writer connection.
 *
 * Migrations are C strings below, applied in order, each in one transaction
 * that also records its number in schema_version.
 */
#include "store_int.h"
#include "writer.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "commit_stats.h"

#define SQ_BUSY_TIMEOUT_MS 5000 /* another process (kassa migrate) holding the lock */
/* WAL checkpoints run on their own thread and connection (sq_ckpt_main), so a
 * commit never pays for copying pages back into the database file (thresholds in
 * limits.h). The writer's page cache: the tops of the indexes it appends to and the pages
 * of recent rows (a read connection keeps 1 MiB, see sq_conn_open). Its
 * temp_store is memory: every job runs in a savepoint whose undo journal SQLite
 * otherwise spills to a temporary file past 64 KiB (thousands of pwrite calls a
 * second under load, bench/RESULTS.md). */

/* The journal kinds analytics sums (the others move no money and count nothing). */
#define SQ_L_KINDS                                                                                 \
    "'authorize', 'sale', 'fail', 'capture', 'release', 'cancel', 'expire', 'refund',"             \
    " 'refund_settle', 'refund_fail'"

/* The analytics rollup (migration 7): count and sum of the summed journal rows per
 * (merchant, 15-minute UTC slot, kind, status, code, currency, method), the key of
 * S_L_GROUPS, kept by triggers in the transaction of every write that moves a key:
 * a journal row inserted or updated, and a payment inserted or its currency or
 * method changed (the key reads the payment as it is now, like the scan's join).
 * A NULL key part is stored as '' with its bit in `nulls` (1 code, 2 currency,
 * 4 method) so the primary key, and the upsert, tell NULL from ''. */
#define SQ_ROLL_MS "900000"
#define SQ_ROLL_UPSERT                                                                             \
    " ON CONFLICT(merchant_id, slot, kind, status, code, currency, method, nulls)"                 \
    " DO UPDATE SET n = n + excluded.n, amount = amount + excluded.amount;"
#define SQ_ROLL_METHOD(R, BODY)                                                                    \
    "CASE WHEN " R ".kind IN ('sale', 'authorize') AND " R ".status = 'succeeded'"                 \
    " THEN json_extract(" BODY ", '$.method_type') END"
/* one journal row R (new or old) added with SIGN ("" or "-") when COND holds */
#define SQ_ROLL_OP(R, SIGN, COND)                                                                  \
    "INSERT INTO ledger_rollup SELECT " R ".merchant_id, " R ".created_ms / " SQ_ROLL_MS ", " R    \
    ".kind, " R ".status, COALESCE(" R ".code, ''), COALESCE(c, ''), COALESCE(m, ''),"             \
    " (" R ".code IS NULL) + 2 * (c IS NULL) + 4 * (m IS NULL), " SIGN "1, " SIGN R ".amount"      \
    " FROM (SELECT p.currency AS c, " SQ_ROLL_METHOD(                                              \
        R, "p.body") " AS m FROM (SELECT 1)"                                                       \
                     " LEFT JOIN objects p ON p.merchant_id = " R                                  \
                     ".merchant_id AND p.kind = 'payment_intent'"                                  \
                     " AND p.id = " R ".payment_id) WHERE " COND SQ_ROLL_UPSERT
/* every summed journal row of payment `new` keyed by currency CUR and body BODY */
#define SQ_ROLL_PAY(CUR, BODY, SIGN)                                                               \
    "INSERT INTO ledger_rollup SELECT o.merchant_id, o.created_ms / " SQ_ROLL_MS ", o.kind,"       \
    " o.status, COALESCE(o.code, ''), COALESCE(" CUR ", ''),"                                      \
    " COALESCE(" SQ_ROLL_METHOD(                                                                   \
        "o", BODY) ", ''), (o.code IS NULL) + 2 * (" CUR " IS NULL)"                               \
                   " + 4 * (" SQ_ROLL_METHOD(                                                      \
                       "o", BODY) " IS NULL), " SIGN "count(*), " SIGN "sum(o.amount)"             \
                                  " FROM operations o WHERE o.merchant_id = new.merchant_id AND "  \
                                  "o.payment_id = new.id"                                          \
                                  " AND o.kind IN (" SQ_L_KINDS                                    \
                                  ") GROUP BY 1, 2, 3, 4, 5, 6, 7, 8" SQ_ROLL_UPSERT

/* the payment `new` has a row whose key holds its method (its body is read only then) */
#define SQ_ROLL_SHOWN                                                                              \
    "EXISTS(SELECT 1 FROM operations x WHERE x.merchant_id = new.merchant_id"                      \
    " AND x.payment_id = new.id AND x.kind IN ('sale', 'authorize') AND x.status = 'succeeded')"
#define SQ_ROLL_TABLE                                                                              \
    "CREATE TABLE ledger_rollup("                                                                  \
    " merchant_id TEXT NOT NULL,"                                                                  \
    " slot INTEGER NOT NULL,"                                                                      \
    " kind TEXT NOT NULL,"                                                                         \
    " status TEXT NOT NULL,"                                                                       \
    " code TEXT NOT NULL,"                                                                         \
    " currency TEXT NOT NULL,"                                                                     \
    " method TEXT NOT NULL,"                                                                       \
    " nulls INTEGER NOT NULL,"                                                                     \
    " n INTEGER NOT NULL,"                                                                         \
    " amount INTEGER NOT NULL,"                                                                    \
    " PRIMARY KEY(merchant_id, slot, kind, status, code, currency, method, nulls))"                \
    " WITHOUT ROWID;"
#define SQ_ROLL_FILL                                                                               \
    "INSERT INTO ledger_rollup SELECT merchant_id, created_ms / " SQ_ROLL_MS ", kind, status,"     \
    " COALESCE(code, ''), COALESCE(c, ''), COALESCE(m, ''),"                                       \
    " (code IS NULL) + 2 * (c IS NULL) + 4 * (m IS NULL), count(*), sum(amount)"                   \
    " FROM (SELECT o.merchant_id, o.created_ms, o.kind, o.status, o.code, o.amount,"               \
    " p.currency AS c, " SQ_ROLL_METHOD(                                                           \
        "o", "p.body") " AS m FROM operations o"                                                   \
                       " LEFT JOIN objects p ON p.merchant_id = o.merchant_id AND p.kind = "       \
                       "'payment_intent'"                                                          \
                       " AND p.id = o.payment_id WHERE o.kind IN (" SQ_L_KINDS "))"                \
                       " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;"
#define SQ_ROLL_T_OP_INS                                                                           \
    "CREATE TRIGGER ledger_rollup_op_ins AFTER INSERT ON operations"                               \
    " WHEN new.kind IN (" SQ_L_KINDS ") BEGIN " SQ_ROLL_OP("new", "", "true") " END;"
#define SQ_ROLL_T_OP_UPD                                                                           \
    "CREATE TRIGGER ledger_rollup_op_upd AFTER UPDATE OF merchant_id, payment_id, kind, amount,"   \
    " status, code, created_ms ON operations"                                                      \
    " WHEN old.kind IN (" SQ_L_KINDS ") OR new.kind IN (" SQ_L_KINDS                               \
    ") BEGIN " SQ_ROLL_OP("old", "-", "old.kind IN (" SQ_L_KINDS ")")                              \
        SQ_ROLL_OP("new", "", "new.kind IN (" SQ_L_KINDS ")") " END;"
#define SQ_ROLL_T_PAY_INS                                                                          \
    "CREATE TRIGGER ledger_rollup_pay_ins AFTER INSERT ON objects"                                 \
    " WHEN new.kind = 'payment_intent' BEGIN " SQ_ROLL_PAY("NULL", "NULL", "-")                    \
        SQ_ROLL_PAY("new.currency", "new.body", "") " END;"
/* a payment update moves its rows' keys only when its currency or (where the key holds
 * it) its method changed: most updates read no JSON */
#define SQ_ROLL_T_PAY_UPD                                                                          \
    "CREATE TRIGGER ledger_rollup_pay_upd AFTER UPDATE OF currency, body ON objects"               \
    " WHEN new.kind = 'payment_intent' AND (old.currency IS NOT new.currency"                      \
    " OR (" SQ_ROLL_SHOWN " AND json_extract(old.body, '$.method_type')"                           \
    " IS NOT json_extract(new.body, '$.method_type')))"                                            \
    " BEGIN " SQ_ROLL_PAY("old.currency", "old.body", "-")                                         \
        SQ_ROLL_PAY("new.currency", "new.body", "") " END;"

/* ---- migrations ---- */

static const char *const sq_migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE merchants("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT,"
    " secret_key_hash TEXT UNIQUE,"
    " publishable_key TEXT,"
    " ecp_project_id INTEGER UNIQUE,"
    " ecp_secret TEXT,"
    " settings TEXT NOT NULL DEFAULT '{}',"
    " created INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE objects("
    " merchant_id TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " parent_id TEXT,"
    " status TEXT,"
    " currency TEXT,"
    " amount INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL DEFAULT 0,"
    " due_at INTEGER NOT NULL DEFAULT 0,"
    " ext_ref TEXT,"
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " version INTEGER NOT NULL,"
    " body TEXT,"
    " UNIQUE(merchant_id, kind, id));"
    "CREATE INDEX objects_list ON objects(merchant_id, kind, seq);"
    "CREATE INDEX objects_parent ON objects(merchant_id, kind, parent_id, seq);"
    "CREATE INDEX objects_due ON objects(due_at) WHERE due_at > 0;"
    "CREATE UNIQUE INDEX objects_ext_ref ON objects(kind, ext_ref) WHERE ext_ref IS NOT NULL;"
    "CREATE TABLE operations("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " merchant_id TEXT NOT NULL,"
    " id TEXT NOT NULL UNIQUE,"
    " payment_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK(amount >= 0),"
    " status TEXT NOT NULL,"
    " code TEXT,"
    " message TEXT,"
    " provider_ref TEXT,"
    " ref_id TEXT,"
    " body TEXT,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX operations_payment ON operations(merchant_id, payment_id, seq);"
    "CREATE INDEX operations_created ON operations(created_ms);"
    "CREATE TABLE deliveries("
    " id INTEGER PRIMARY KEY,"
    " merchant_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL,"
    " endpoint_id TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " UNIQUE(event_id, endpoint_id));"
    "CREATE INDEX deliveries_due ON deliveries(next_at_ms) WHERE state = 'pending';"
    "CREATE TABLE delivery_attempts("
    " id INTEGER PRIMARY KEY,"
    " delivery_id INTEGER NOT NULL REFERENCES deliveries(id),"
    " at_ms INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL DEFAULT 0,"
    " latency_ms INTEGER NOT NULL DEFAULT 0,"
    " response_head TEXT,"
    " error TEXT);"
    "CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id);"
    "CREATE TABLE idempotency("
    " merchant_id TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " body TEXT,"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(merchant_id, key));"
    "CREATE INDEX idempotency_created ON idempotency(created_ms);",
    /* 2: reports - the job queue, and the indexes ordered report scans walk */
    "CREATE TABLE report_jobs("
    " id INTEGER PRIMARY KEY,"
    " merchant_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " ref_id TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER,"
    " last_error TEXT,"
    " body TEXT,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX report_jobs_due ON report_jobs(next_at_ms, id) WHERE state = 'pending';"
    "CREATE INDEX report_jobs_ref ON report_jobs(merchant_id, ref_id, id);"
    "CREATE INDEX objects_created ON objects(merchant_id, kind, created, seq);"
    "CREATE INDEX operations_ledger ON operations(merchant_id, created_ms, seq);",
    /* 3: the back office: staff users, their sessions, the audit chain, saved views */
    "CREATE TABLE staff_users("
    " merchant_id TEXT NOT NULL,"
    " id TEXT PRIMARY KEY,"
    " email TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL,"
    " pw_hash TEXT NOT NULL,"
    " totp_secret TEXT NOT NULL,"
    " recovery TEXT NOT NULL DEFAULT '[]',"
    " recovery_shown INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0,"
    " locked_until_ms INTEGER NOT NULL DEFAULT 0,"
    " totp_last_step INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX staff_users_merchant ON staff_users(merchant_id);"
    "CREATE TABLE staff_sessions("
    " token_hash TEXT PRIMARY KEY,"
    " merchant_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " stage TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL,"
    " addr TEXT);"
    "CREATE INDEX staff_sessions_user ON staff_sessions(merchant_id, user_id);"
    "CREATE TABLE audit_log("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " merchant_id TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " staff_id TEXT,"
    " staff_email TEXT,"
    " addr TEXT,"
    " action TEXT NOT NULL,"
    " object_id TEXT,"
    " before_json TEXT,"
    " after_json TEXT,"
    " reason TEXT,"
    " outcome TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " UNIQUE(merchant_id, prev_hash));"
    "CREATE INDEX audit_log_object ON audit_log(merchant_id, object_id, seq);"
    "CREATE TABLE staff_views("
    " merchant_id TEXT NOT NULL,"
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " query TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " UNIQUE(merchant_id, user_id, name));",
    /* 4: analytics reads only the journal kinds it sums (S_L_GROUPS: one range per kind),
     * not every operation of the interval (creations, attempts, requests) */
    "CREATE INDEX operations_kind ON operations(merchant_id, kind, created_ms);",
    /* 5: PostgreSQL's limits every node shares; one SQLite node counts them in memory,
     * so here the version only moves on, and both engines keep one numbering */
    "SELECT 1;",
    /* 6: the back office's staff page (a user disabled, a refund limit of their own) and the
     * payments list's search terms (customer e-mail, metadata key=value, wallet, Klarna
     * order), one row each, written with the payment (gw_save_payment), back-filled here.
     * The TOTP secrets are sealed by store_staff_seal_old() after the migrations. */
    "ALTER TABLE staff_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE staff_users ADD COLUMN refund_limit INTEGER NOT NULL DEFAULT -1;"
    "CREATE TABLE payment_terms("
    " merchant_id TEXT NOT NULL,"
    " term TEXT NOT NULL,"
    " payment_id TEXT NOT NULL,"
    " PRIMARY KEY(merchant_id, term, payment_id)) WITHOUT ROWID;"
    "CREATE INDEX payment_terms_payment ON payment_terms(merchant_id, payment_id);"
    "INSERT OR IGNORE INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'email:' || lower(json_extract(body, '$.email')), id FROM objects"
    " WHERE kind = 'payment_intent' AND json_extract(body, '$.email') IS NOT NULL;"
    "INSERT OR IGNORE INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT o.merchant_id, 'meta:' || m.key || '=' || m.value, o.id"
    " FROM objects o, json_each(o.body, '$.metadata') m"
    " WHERE o.kind = 'payment_intent' AND m.type = 'text';"
    "INSERT OR IGNORE INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'wallet:' || upper(json_extract(body, '$.method_detail')), id"
    " FROM objects WHERE kind = 'payment_intent'"
    " AND json_extract(body, '$.method_type') LIKE 'alipay%'"
    " AND json_extract(body, '$.method_detail') IS NOT NULL;"
    "INSERT OR IGNORE INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'order:' || json_extract(body, '$.order_ref'), id FROM objects"
    " WHERE kind = 'payment_intent' AND json_extract(body, '$.order_ref') IS NOT NULL;",
    /* 7: the analytics rollup (SQ_ROLL_*), back-filled from the journal */
    SQ_ROLL_TABLE SQ_ROLL_FILL SQ_ROLL_T_OP_INS SQ_ROLL_T_OP_UPD SQ_ROLL_T_PAY_INS
        SQ_ROLL_T_PAY_UPD,
    /* 8: API keys: several per merchant, each with its mode, expiry (a roll's
     * overlap) and revocation; the merchant's one key so far becomes the first;
     * the recent API request log */
    "CREATE TABLE api_keys("
    " merchant_id TEXT NOT NULL,"
    " id TEXT PRIMARY KEY,"
    " mode TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " key_hash TEXT NOT NULL UNIQUE,"
    " last4 TEXT NOT NULL,"
    " idem TEXT,"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL DEFAULT 0,"
    " revoked_ms INTEGER NOT NULL DEFAULT 0,"
    " last_used_ms INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(merchant_id, idem));"
    "CREATE INDEX api_keys_merchant ON api_keys(merchant_id, created_ms);"
    "INSERT INTO api_keys(merchant_id, id, mode, kind, name, key_hash, last4, created_ms)"
    " SELECT id, 'key_' || substr(id, 6), 'test', 'secret', 'Secret key', secret_key_hash, '',"
    " created * 1000 FROM merchants WHERE secret_key_hash IS NOT NULL;"
    /* the recent API requests (the developers' page), no bodies */
    "CREATE TABLE request_log("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " merchant_id TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " method TEXT NOT NULL,"
    " path TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " dur_us INTEGER NOT NULL,"
    " idem_key TEXT,"
    " error_code TEXT,"
    " key_id TEXT,"
    " request_id TEXT NOT NULL);"
    "CREATE INDEX request_log_merchant ON request_log(merchant_id, seq);"
    "CREATE INDEX request_log_at ON request_log(at_ms);",
};

#define SQ_SCHEMA_VERSION ((int)K_ARRAY_LEN(sq_migrations))

/* ---- statements, prepared once per connection ---- */

#define SQ_M_COLS                                                                                  \
    "id, name, secret_key_hash, publishable_key, COALESCE(ecp_project_id, 0), ecp_secret, "        \
    "settings, created"
#define SQ_O_COLS                                                                                  \
    "merchant_id, id, kind, parent_id, status, currency, amount, created, due_at, ext_ref, seq, "  \
    "version, body"
#define SQ_OP_COLS                                                                                 \
    "merchant_id, id, payment_id, kind, amount, status, code, message, provider_ref, ref_id, "     \
    "body, created_ms, seq"
#define SQ_D_COLS                                                                                  \
    "id, merchant_id, event_id, endpoint_id, state, attempts, next_at_ms, last_status, "           \
    "created_ms"
#define SQ_I_COLS "merchant_id, key, fingerprint, status, body, created_ms"
#define SQ_L_COLS                                                                                  \
    "o.merchant_id, o.id, o.payment_id, o.kind, o.amount, o.status, o.code, o.message,"            \
    " o.provider_ref, o.ref_id, o.body, o.created_ms, o.seq, p.currency,"                          \
    " json_extract(p.body, '$.method_type')"
/* the method (JSON in the body) only where analytics shows it: successful attempts */
#define SQ_L_GROUP_SCAN(FROM, TO)                                                                  \
    "SELECT o.created_ms / ?4, o.kind, o.status, o.code, p.currency, " SQ_ROLL_METHOD(             \
        "o", "p.body") ", count(*), sum(o.amount)"                                                 \
                       " FROM operations o LEFT JOIN objects p ON p.merchant_id = o.merchant_id"   \
                       " AND p.kind = 'payment_intent' AND p.id = o.payment_id"                    \
                       " WHERE o.merchant_id = ?1 AND o.created_ms >= " FROM                       \
                       " AND o.created_ms < " TO " AND o.kind IN (" SQ_L_KINDS                     \
                       ") GROUP BY 1, 2, 3, 4, 5, 6"
#define SQ_J_COLS                                                                                  \
    "id, merchant_id, kind, ref_id, state, attempts, next_at_ms, last_error, body, created_ms,"    \
    " updated_ms"

enum sq_stmt_id {
    S_BEGIN,
    S_BEGIN_IMMEDIATE,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_M_PUT,
    S_M_GET,
    S_M_BY_KEY,
    S_M_BY_PROJECT,
    S_M_COUNT,
    S_O_INSERT,
    S_O_UPDATE,
    S_O_GET,
    S_O_BY_REF,
    S_O_FIND_REF,
    S_O_SEQ,
    S_O_DUE,
    S_O_CLAIM_DUE,
    S_OP_INSERT,
    S_OP_LIST,
    S_OP_RANGE_M,
    S_OP_RANGE_ALL,
    S_D_INSERT,
    S_D_CLAIM,
    S_D_LEASE,
    S_D_UPDATE,
    S_DA_INSERT,
    S_D_LIST,
    S_D_GET,
    S_DA_LIST,
    S_D_NEXT_DUE,
    S_I_GET,
    S_I_PUT,
    S_I_DEL,
    S_I_PRUNE,
    S_O_SCAN,
    S_L_SCAN,
    S_L_GROUPS,
    S_L_GROUPS_R,
    S_J_INSERT,
    S_J_CLAIM,
    S_J_LEASE,
    S_J_UPDATE,
    S_J_LIST,
    S_J_RELEASE,
    S_COUNT
};

static const char *const sq_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT j",
    [S_RELEASE] = "RELEASE j",
    [S_ROLLBACK_TO] = "ROLLBACK TO j",
    /* An upsert, not INSERT OR REPLACE: REPLACE would silently delete another
     * merchant that holds the same key hash or project id. */
    [S_M_PUT] = "INSERT INTO merchants(id, name, secret_key_hash, publishable_key, ecp_project_id,"
                " ecp_secret, settings, created)"
                " VALUES(?1, ?2, ?3, ?4, NULLIF(?5, 0), ?6, COALESCE(?7, '{}'), ?8)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                " secret_key_hash = excluded.secret_key_hash,"
                " publishable_key = excluded.publishable_key,"
                " ecp_project_id = excluded.ecp_project_id, ecp_secret = excluded.ecp_secret,"
                " settings = excluded.settings, created = excluded.created",
    [S_M_GET] = "SELECT " SQ_M_COLS " FROM merchants WHERE id = ?1",
    [S_M_BY_KEY] = "SELECT " SQ_M_COLS " FROM merchants WHERE secret_key_hash = ?1",
    [S_M_BY_PROJECT] = "SELECT " SQ_M_COLS " FROM merchants WHERE ecp_project_id = ?1",
    [S_M_COUNT] = "SELECT count(*) FROM merchants",
    [S_O_INSERT] = "INSERT INTO objects(merchant_id, id, kind, parent_id, status, currency, amount,"
                   " created, due_at, ext_ref, version, body)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11) RETURNING seq",
    [S_O_UPDATE] = "UPDATE objects SET parent_id = ?4, status = ?5, currency = ?6, amount = ?7,"
                   " created = ?8, due_at = ?9, ext_ref = ?10, body = ?11,"
                   " version = version + 1"
                   " WHERE merchant_id = ?1 AND kind = ?3 AND id = ?2 AND version = ?12"
                   " RETURNING seq, version",
    [S_O_GET] =
        "SELECT " SQ_O_COLS " FROM objects WHERE merchant_id = ?1 AND kind = ?2 AND id = ?3",
    [S_O_BY_REF] =
        "SELECT " SQ_O_COLS " FROM objects WHERE merchant_id = ?1 AND kind = ?2 AND ext_ref = ?3",
    [S_O_FIND_REF] = "SELECT " SQ_O_COLS " FROM objects WHERE kind = ?1 AND ext_ref = ?2",
    [S_O_SEQ] = "SELECT seq FROM objects WHERE merchant_id = ?1 AND kind = ?2 AND id = ?3",
    [S_O_DUE] = "SELECT " SQ_O_COLS " FROM objects WHERE due_at > 0 AND due_at <= ?1"
                " ORDER BY due_at, seq LIMIT ?2",
    /* One writer at a time: no row locks to skip, the lease is the moved due_at. */
    [S_O_CLAIM_DUE] = "UPDATE objects SET due_at = ?2 WHERE seq IN (SELECT seq FROM objects"
                      " WHERE due_at > 0 AND due_at <= ?1 ORDER BY due_at, seq LIMIT ?3)"
                      " RETURNING " SQ_O_COLS,
    [S_OP_INSERT] =
        "INSERT INTO operations(merchant_id, id, payment_id, kind, amount, status, code,"
        " message, provider_ref, ref_id, body, created_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_OP_LIST] = "SELECT " SQ_OP_COLS " FROM operations WHERE merchant_id = ?1 AND payment_id = ?2"
                  " ORDER BY seq",
    [S_OP_RANGE_M] = "SELECT " SQ_OP_COLS " FROM operations WHERE merchant_id = ?1"
                     " AND created_ms >= ?2 AND created_ms < ?3 AND seq > ?4 ORDER BY seq LIMIT ?5",
    [S_OP_RANGE_ALL] = "SELECT " SQ_OP_COLS " FROM operations WHERE ?1 IS NULL"
                       " AND created_ms >= ?2 AND created_ms < ?3 AND seq > ?4"
                       " ORDER BY seq LIMIT ?5",
    [S_D_INSERT] = "INSERT INTO deliveries(merchant_id, event_id, endpoint_id, state, attempts,"
                   " next_at_ms, last_status, created_ms)"
                   " VALUES(?1, ?2, ?3, COALESCE(?4, 'pending'), ?5, ?6, ?7, ?8) RETURNING id",
    [S_D_CLAIM] = "SELECT " SQ_D_COLS " FROM deliveries WHERE state = 'pending'"
                  " AND next_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms <= ?1)"
                  " ORDER BY next_at_ms, id LIMIT ?2",
    [S_D_LEASE] = "UPDATE deliveries SET lease_until_ms = ?3 WHERE merchant_id = ?1 AND id = ?2",
    [S_D_UPDATE] = "UPDATE deliveries SET state = ?3, attempts = ?4, next_at_ms = ?5,"
                   " last_status = ?6, lease_until_ms = NULL WHERE merchant_id = ?1 AND id = ?2",
    [S_DA_INSERT] = "INSERT INTO delivery_attempts(delivery_id, at_ms, http_status, latency_ms,"
                    " response_head, error) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_D_LIST] = "SELECT " SQ_D_COLS " FROM deliveries WHERE merchant_id = ?1 AND event_id = ?2"
                 " ORDER BY id",
    [S_D_GET] = "SELECT " SQ_D_COLS " FROM deliveries WHERE merchant_id = ?1 AND id = ?2",
    [S_DA_LIST] = "SELECT delivery_id, at_ms, http_status, latency_ms, response_head, error"
                  " FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY id",
    /* When the next pending delivery becomes claimable: due and not leased. */
    [S_D_NEXT_DUE] = "SELECT MIN(MAX(next_at_ms, COALESCE(lease_until_ms, 0)))"
                     " FROM deliveries WHERE state = 'pending'",
    [S_I_GET] = "SELECT " SQ_I_COLS " FROM idempotency WHERE merchant_id = ?1 AND key = ?2",
    [S_I_PUT] = "INSERT OR REPLACE INTO idempotency(" SQ_I_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_I_DEL] = "DELETE FROM idempotency WHERE merchant_id = ?1 AND key = ?2",
    [S_I_PRUNE] = "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency"
                  " WHERE created_ms < ?1 ORDER BY created_ms LIMIT ?2)",
    /* Keyset pages as two index seeks: the rest of the cursor's own timestamp by seq, then
     * the later timestamps (the cursor starts at the interval's start, so the lower bound
     * holds). A row-value (created, seq) > (?, ?) only seeks on created, and extra range
     * terms beside the equality make the planner drop it: either rescans a run of equal
     * timestamps per page. */
    [S_O_SCAN] =
        "SELECT * FROM (SELECT " SQ_O_COLS " FROM objects WHERE merchant_id = ?1"
        " AND kind = ?2 AND created = ?5 AND seq > ?6 ORDER BY seq LIMIT ?7)"
        " UNION ALL SELECT * FROM (SELECT " SQ_O_COLS " FROM objects WHERE merchant_id = ?1"
        " AND kind = ?2 AND created > ?5 AND created < ?4 ORDER BY created, seq LIMIT ?7)"
        " ORDER BY 8, 11 LIMIT ?7",
    [S_L_SCAN] =
        "SELECT * FROM (SELECT " SQ_L_COLS " FROM operations o LEFT JOIN objects p"
        " ON p.merchant_id = o.merchant_id AND p.kind = 'payment_intent'"
        " AND p.id = o.payment_id WHERE o.merchant_id = ?1 AND o.created_ms = ?4"
        " AND o.seq > ?5 ORDER BY o.seq LIMIT ?6) UNION ALL SELECT * FROM (SELECT " SQ_L_COLS
        " FROM operations o LEFT JOIN objects p"
        " ON p.merchant_id = o.merchant_id AND p.kind = 'payment_intent'"
        " AND p.id = o.payment_id WHERE o.merchant_id = ?1 AND o.created_ms > ?4"
        " AND o.created_ms < ?3 ORDER BY o.created_ms, o.seq LIMIT ?6) ORDER BY 12, 13"
        " LIMIT ?6",
    [S_L_GROUPS] = "SELECT * FROM (" SQ_L_GROUP_SCAN("?2", "?3") ") ORDER BY 1 LIMIT ?5",
    /* the same from the rollup for the whole 15-minute slots in [?6, ?7), the
     * journal for the partial slots at either end */
    [S_L_GROUPS_R] = "SELECT * FROM (" SQ_L_GROUP_SCAN(
        "?2", "?6") ") UNION ALL"
                    " SELECT slot, kind, status, CASE WHEN nulls & 1 THEN NULL ELSE code END,"
                    " CASE WHEN nulls & 2 THEN NULL ELSE currency END,"
                    " CASE WHEN nulls & 4 THEN NULL ELSE method END, n, amount"
                    " FROM ledger_rollup WHERE merchant_id = ?1 AND slot >= ?6 / " SQ_ROLL_MS
                    " AND slot < ?7 / " SQ_ROLL_MS " AND n <> 0"
                    " UNION ALL SELECT * FROM (" SQ_L_GROUP_SCAN("?7", "?3") ")"
                                                                             " ORDER BY 1 LIMIT ?5",
    [S_J_INSERT] = "INSERT INTO report_jobs(merchant_id, kind, ref_id, state, attempts, next_at_ms,"
                   " last_error, body, created_ms, updated_ms)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
    [S_J_CLAIM] = "SELECT " SQ_J_COLS " FROM report_jobs WHERE state = 'pending'"
                  " AND next_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms <= ?1)"
                  " ORDER BY next_at_ms, id LIMIT ?2",
    [S_J_LEASE] = "UPDATE report_jobs SET lease_until_ms = ?2 WHERE id = ?1",
    [S_J_UPDATE] = "UPDATE report_jobs SET state = ?3, attempts = ?4, next_at_ms = ?5,"
                   " last_error = ?6, body = ?7, updated_ms = ?8, lease_until_ms = NULL"
                   " WHERE merchant_id = ?1 AND id = ?2",
    [S_J_LIST] = "SELECT " SQ_J_COLS " FROM report_jobs WHERE merchant_id = ?1 AND ref_id = ?2"
                 " ORDER BY id LIMIT 10000",
    [S_J_RELEASE] = "UPDATE report_jobs SET lease_until_ms = NULL WHERE state = 'pending'"
                    " AND lease_until_ms IS NOT NULL",
};

/* store_obj_list's statement depends on which filters are present: 5 optional
 * filters x 3 cursor modes, each variant prepared once on first use. */
enum { SQ_LF_PARENT = 1, SQ_LF_STATUS = 2, SQ_LF_PREFIX = 4, SQ_LF_GTE = 8, SQ_LF_LTE = 16 };
enum { SQ_CUR_NONE, SQ_CUR_AFTER, SQ_CUR_BEFORE };
#define SQ_LIST_VARIANTS (32 * 3)

/* ---- state ---- */

typedef struct sq_store sq_store;

/* The statements of store_sql (store_sql.h) this connection prepared, kept for
 * the next run of the same text: the modules above the backends (staff, terms,
 * keys, request log) run a few fixed statements per request. Least recently
 * used out; dynamic SQL (the back office's search) only cycles through. */
#define SQ_SQL_CACHE 24

typedef struct {
    uint64_t hash; /* of sql; 0 = empty slot */
    char *sql;
    sqlite3_stmt *st;
    uint64_t used;
    bool busy; /* running: a row callback running the same text gets its own */
} sq_cached;

typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *list[SQ_LIST_VARIANTS];
    sq_cached sql[SQ_SQL_CACHE];
    uint64_t sql_tick;
    sq_store *owner;
    struct sq_conn *prev, *next; /* registry of read connections */
    bool in_tx;
} sq_conn;

struct sq_store {
    store *pub;
    char *path;
    int schema_version;
    sq_conn *writer; /* used by the writer thread only (and open/close) */
    store_writer w;  /* the group-commit writer (writer.c) */

    pthread_key_t read_key;
    pthread_mutex_t reg_mu; /* guards readers */
    sq_conn *readers;

    sq_conn *ckpt; /* the checkpointer's connection */
    pthread_t ckpt_thread;
    pthread_mutex_t ckpt_mu; /* guards ckpt_wanted and ckpt_stop */
    pthread_cond_t ckpt_cv;
    bool ckpt_wanted; /* a commit left the WAL past LIMIT_SQLITE_CKPT_FRAMES */
    bool ckpt_stop;
    _Atomic uint64_t checkpoints;
};

/* ---- small helpers ---- */

static k_status sq_err(sq_conn *c, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return K_ECONFLICT;
        log_warn("store: %s: constraint: %s", what, sqlite3_errmsg(c->db));
        return K_EINVAL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warn("store: %s: database busy: %s", what, sqlite3_errmsg(c->db));
        return K_EBUSY;
    case SQLITE_NOMEM:
        return K_ENOMEM;
    case SQLITE_TOOBIG:
        return K_ETOOBIG;
    case SQLITE_FULL:
        log_error("store: %s: the disk is full: %s", what, sqlite3_errmsg(c->db));
        return K_ENOSPC;
    default:
        log_error("store: %s: %s (%d)", what, sqlite3_errmsg(c->db), rc);
        return K_EIO;
    }
}

static sqlite3_stmt *sq_prepare(sq_conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot prepare '%.60s': %s", sql, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static sqlite3_stmt *sq_stmt(sq_conn *c, enum sq_stmt_id id)
{
    K_ASSERT(id < S_COUNT);
    if (c->st[id] == NULL)
        c->st[id] = sq_prepare(c, sq_sql[id]);
    return c->st[id];
}

static void sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binders that keep the first error in *rc, so a run of binds checks once. */
static void sq_bt(sqlite3_stmt *st, int i, const char *s, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    *rc = s == NULL ? sqlite3_bind_null(st, i) : sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void sq_btn(sqlite3_stmt *st, int i, const char *s, size_t n, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    if (s == NULL) {
        *rc = sqlite3_bind_null(st, i);
        return;
    }
    *rc = sqlite3_bind_text64(st, i, s, n, SQLITE_STATIC, SQLITE_UTF8);
}

static void sq_bi(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc != SQLITE_OK)
        return;
    *rc = sqlite3_bind_int64(st, i, v);
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
static k_status sq_run(sq_conn *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    k_status ks = rc == SQLITE_DONE ? K_OK : sq_err(c, rc, what);
    sq_done(st);
    return ks;
}

static k_status sq_exec(sq_conn *c, enum sq_stmt_id id)
{
    sqlite3_stmt *st = sq_stmt(c, id);
    if (st == NULL)
        return K_EIO;
    return sq_run(c, st, sq_sql[id]);
}

/* Column reader into an arena, with a sticky out-of-memory flag. */
typedef struct {
    sqlite3_stmt *st;
    arena *a;
    bool oom;
} sq_row;

static const char *sq_text(sq_row *r, int i)
{
    if (sqlite3_column_type(r->st, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(r->st, i);
    int n = sqlite3_column_bytes(r->st, i);
    char *copy = t == NULL ? NULL : arena_strndup(r->a, (const char *)t, (size_t)n);
    if (copy == NULL)
        r->oom = true;
    return copy;
}

static int64_t sq_int(sq_row *r, int i)
{
    return sqlite3_column_int64(r->st, i);
}

static int32_t sq_int32(sq_row *r, int i)
{
    return sqlite3_column_int(r->st, i);
}

typedef void (*sq_decode)(sq_row *r, void *out);

static void sq_dec_merchant(sq_row *r, void *out)
{
    store_merchant *m = out;
    m->id = sq_text(r, 0);
    m->name = sq_text(r, 1);
    m->secret_key_hash = sq_text(r, 2);
    m->publishable_key = sq_text(r, 3);
    m->ecp_project_id = sq_int(r, 4);
    m->ecp_secret = sq_text(r, 5);
    m->settings = sq_text(r, 6);
    m->created = sq_int(r, 7);
}

static void sq_dec_obj(sq_row *r, void *out)
{
    store_obj *o = out;
    o->merchant_id = sq_text(r, 0);
    o->id = sq_text(r, 1);
    o->kind = sq_text(r, 2);
    o->parent_id = sq_text(r, 3);
    o->status = sq_text(r, 4);
    o->currency = sq_text(r, 5);
    o->amount = sq_int(r, 6);
    o->created = sq_int(r, 7);
    o->due_at = sq_int(r, 8);
    o->ext_ref = sq_text(r, 9);
    o->seq = sq_int(r, 10);
    o->version = sq_int32(r, 11);
    o->body = sq_text(r, 12);
}

static void sq_dec_op(sq_row *r, void *out)
{
    store_op *op = out;
    op->merchant_id = sq_text(r, 0);
    op->id = sq_text(r, 1);
    op->payment_id = sq_text(r, 2);
    op->kind = sq_text(r, 3);
    op->amount = sq_int(r, 4);
    op->status = sq_text(r, 5);
    op->code = sq_text(r, 6);
    op->message = sq_text(r, 7);
    op->provider_ref = sq_text(r, 8);
    op->ref_id = sq_text(r, 9);
    op->body = sq_text(r, 10);
    op->created_ms = sq_int(r, 11);
    op->seq = sq_int(r, 12);
    K_ASSERT(op->amount >= 0); /* the schema's CHECK, read back */
}

static void sq_dec_delivery(sq_row *r, void *out)
{
    store_delivery *d = out;
    d->id = sq_int(r, 0);
    d->merchant_id = sq_text(r, 1);
    d->event_id = sq_text(r, 2);
    d->endpoint_id = sq_text(r, 3);
    d->state = sq_text(r, 4);
    d->attempts = sq_int32(r, 5);
    d->next_at_ms = sq_int(r, 6);
    d->last_status = sq_int32(r, 7);
    d->created_ms = sq_int(r, 8);
}

static void sq_dec_attempt(sq_row *r, void *out)
{
    store_delivery_attempt *at = out;
    at->delivery_id = sq_int(r, 0);
    at->at_ms = sq_int(r, 1);
    at->http_status = sq_int32(r, 2);
    at->latency_ms = sq_int32(r, 3);
    at->response_head = sq_text(r, 4);
    at->error = sq_text(r, 5);
}

static void sq_dec_idem(sq_row *r, void *out)
{
    store_idem *k = out;
    k->merchant_id = sq_text(r, 0);
    k->key = sq_text(r, 1);
    k->fingerprint = sq_text(r, 2);
    k->status = sq_int32(r, 3);
    k->body = sq_text(r, 4);
    k->created_ms = sq_int(r, 5);
}

/* Steps a bound statement expected to return at most one row; resets it. */
static k_status sq_one(sq_conn *c, sqlite3_stmt *st, sq_decode dec, arena *a, void *out)
{
    int rc = sqlite3_step(st);
    k_status ks = K_OK;
    if (rc == SQLITE_ROW) {
        sq_row r = {st, a, false};
        dec(&r, out);
        ks = r.oom ? K_ENOMEM : K_OK;
    } else if (rc == SQLITE_DONE) {
        ks = K_ENOTFOUND;
    } else {
        ks = sq_err(c, rc, "read row");
    }
    sq_done(st);
    return ks;
}

/* Steps a bound statement and decodes every row into an arena array that
 * doubles as it fills (the statement's LIMIT or the data bounds the count). */
static k_status sq_many(sq_conn *c, sqlite3_stmt *st, sq_decode dec, size_t elem, arena *a,
                        void **out, size_t *n)
{
    unsigned char *arr = NULL;
    size_t cap = 0, cnt = 0;
    k_status ks = K_OK;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            ks = sq_err(c, rc, "read rows");
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            unsigned char *grown = ncap > SIZE_MAX / elem ? NULL : arena_alloc(a, ncap * elem);
            if (grown == NULL) {
                ks = K_ENOMEM;
                break;
            }
            if (cnt > 0)
                memcpy(grown, arr, cnt * elem);
            arr = grown;
            cap = ncap;
        }
        sq_row r = {st, a, false};
        dec(&r, arr + cnt * elem);
        if (r.oom) {
            ks = K_ENOMEM;
            break;
        }
        cnt++;
    }
    sq_done(st);
    if (ks != K_OK)
        return ks;
    *out = arr;
    *n = cnt;
    return K_OK;
}

static sq_conn *sq_tx_conn(store_tx *tx)
{
    sq_conn *c = tx->conn;
    K_ASSERT(c != NULL);
    K_ASSERT(c->db != NULL);
    return c;
}

/* ---- connections ---- */

static void sq_conn_close(sq_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (size_t i = 0; i < SQ_LIST_VARIANTS; i++)
        sqlite3_finalize(c->list[i]);
    for (size_t i = 0; i < SQ_SQL_CACHE; i++) {
        sqlite3_finalize(c->sql[i].st);
        free(c->sql[i].sql);
    }
    int rc = sqlite3_close(c->db);
    if (rc != SQLITE_OK)
        log_error("store: closing '%s': %s", c->owner->path, sqlite3_errstr(rc));
    free(c);
}

static k_status sq_exec_sql(sq_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("store: '%.60s' on '%s': %s", sql, c->owner->path, msg ? msg : "?");
        sqlite3_free(msg);
        return K_EIO;
    }
    return K_OK;
}

__attribute__((format(printf, 2, 3))) static k_status sq_exec_sqlf(sq_conn *c, const char *fmt, ...)
{
    char sql[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    K_ASSERT(n > 0 && (size_t)n < sizeof(sql)); /* our own PRAGMA lines */
    return sq_exec_sql(c, sql);
}

/* The writer turns WAL on (a property of the file, so readers inherit it). */
static k_status sq_enable_wal(sq_conn *c)
{
    sqlite3_stmt *st = sq_prepare(c, "PRAGMA journal_mode=WAL");
    if (st == NULL)
        return K_EIO;
    int rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        log_error("store: cannot switch '%s' to WAL mode", c->owner->path);
        return K_EIO;
    }
    return K_OK;
}

typedef enum { SQ_WRITER, SQ_READER, SQ_CHECKPOINTER } sq_role;

static k_status sq_conn_open(sq_store *ss, sq_role role, sq_conn **out)
{
    bool writer = role == SQ_WRITER;
    sq_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return K_ENOMEM;
    c->owner = ss;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(ss->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot open '%s': %s", ss->path,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return K_EIO;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);
    k_status ks = sq_exec_sql(c, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL");
    if (ks == K_OK && writer)
        ks = sq_enable_wal(c);
    if (ks == K_OK && writer)
        ks = sq_exec_sqlf(c,
                          "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=%lld; "
                          "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY",
                          LIMIT_SQLITE_WAL_KEEP_BYTES, LIMIT_SQLITE_WRITER_CACHE_KIB);
    /* a write in store_read fails loudly; one page cache per thread stays small
     * (64 workers x the 2 MiB default was most of the RSS) */
    if (ks == K_OK && role == SQ_READER)
        ks = sq_exec_sqlf(c, "PRAGMA query_only=ON; PRAGMA cache_size=-%d",
                          LIMIT_SQLITE_READER_CACHE_KIB);
    if (ks != K_OK) {
        sq_conn_close(c);
        return ks;
    }
    *out = c;
    return K_OK;
}

/* ---- migrations ---- */

static k_status sq_read_version(sq_conn *c, int *out)
{
    sqlite3_stmt *st = sq_prepare(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (st == NULL)
        return K_EIO;
    int rc = sqlite3_step(st);
    k_status ks = rc == SQLITE_ROW ? K_OK : sq_err(c, rc, "schema version");
    if (ks == K_OK)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return ks;
}

/* Applies migration v (1-based) unless another process got there first. */
static k_status sq_migrate_one(sq_conn *c, int v)
{
    k_status ks = sq_exec_sql(c, "BEGIN IMMEDIATE");
    if (ks != K_OK)
        return ks;
    int cur = 0;
    ks = sq_read_version(c, &cur);
    if (ks == K_OK && cur < v) {
        ks = sq_exec_sql(c, sq_migrations[v - 1]);
        char ins[128];
        snprintf(ins, sizeof(ins),
                 "INSERT INTO schema_version(version, applied_ms) VALUES(%d, %lld)", v,
                 (long long)clock_now_ms());
        if (ks == K_OK)
            ks = sq_exec_sql(c, ins);
    }
    if (ks == K_OK)
        ks = sq_exec_sql(c, "COMMIT");
    if (ks != K_OK) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        log_error("store: migration %d on '%s' failed", v, c->owner->path);
        return ks;
    }
    log_info("store: applied migration %d to '%s'", v, c->owner->path);
    return K_OK;
}

static k_status sq_migrate(sq_conn *c, int *version)
{
    k_status ks = sq_exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_version("
                                 "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)");
    int cur = 0;
    if (ks == K_OK)
        ks = sq_read_version(c, &cur);
    if (ks != K_OK)
        return ks;
    if (cur > SQ_SCHEMA_VERSION) {
        log_error("store: '%s' has schema version %d, newer than this binary's %d", c->owner->path,
                  cur, SQ_SCHEMA_VERSION);
        return K_EINVAL;
    }
    for (int v = cur + 1; v <= SQ_SCHEMA_VERSION; v++) {
        ks = sq_migrate_one(c, v);
        if (ks != K_OK)
            return ks;
    }
    ks = sq_read_version(c, version);
    if (ks == K_OK)
        K_ASSERT(*version == SQ_SCHEMA_VERSION);
    return ks;
}

/* ---- the writer's verbs (writer.h) ---- */

static void *sq_begin(void *ctx)
{
    sq_store *ss = ctx;
    return sq_exec(ss->writer, S_BEGIN_IMMEDIATE) == K_OK ? ss->writer : NULL;
}

static bool sq_savepoint(void *ctx)
{
    sq_store *ss = ctx;
    return sq_exec(ss->writer, S_SAVEPOINT) == K_OK;
}

/* An I/O error or a full disk makes SQLite roll back the whole transaction. */
static bool sq_check(void *ctx, k_status *st)
{
    sq_store *ss = ctx;
    return !sqlite3_get_autocommit(ss->writer->db);
}

static bool sq_release(void *ctx)
{
    sq_store *ss = ctx;
    return sq_exec(ss->writer, S_RELEASE) == K_OK;
}

static bool sq_rollback_to(void *ctx)
{
    sq_store *ss = ctx;
    return sq_exec(ss->writer, S_ROLLBACK_TO) == K_OK;
}

static bool sq_commit(void *ctx, size_t jobs)
{
    sq_store *ss = ctx;
    if (sq_exec(ss->writer, S_COMMIT) != K_OK)
        return false;
    K_ASSERT(sqlite3_get_autocommit(ss->writer->db));
    return true;
}

static k_status sq_abort(void *ctx)
{
    sq_store *ss = ctx;
    bool full = (sqlite3_extended_errcode(ss->writer->db) & 0xff) == SQLITE_FULL;
    if (!sqlite3_get_autocommit(ss->writer->db))
        sqlite3_exec(ss->writer->db, "ROLLBACK", NULL, NULL, NULL);
    return full ? K_ENOSPC : K_EIO;
}

static const store_writer_hooks sq_hooks = {
    .begin = sq_begin,
    .savepoint = sq_savepoint,
    .check = sq_check,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .commit = sq_commit,
    .abort = sq_abort,
};

static k_status sq_write(store *s, store_fn fn, void *arg)
{
    sq_store *ss = s->impl;
    return store_writer_submit(&ss->w, fn, arg);
}

static k_status sq_write_async(store *s, store_fn fn, void *arg, int64_t deadline_ms,
                               store_done_fn done, void *done_arg)
{
    sq_store *ss = s->impl;
    return store_writer_submit_async(&ss->w, fn, arg, deadline_ms, done, done_arg);
}

/* ---- checkpoints ---- */

/* SQLite calls this on the writer's thread after every commit with the WAL's
 * length in frames. Past LIMIT_SQLITE_CKPT_FRAMES the checkpointer copies the committed
 * pages into the database file while the writer goes on committing; only if it
 * falls far behind does the writer checkpoint itself (SQLite's own default). */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sq_store *ss = arg;
    if (frames >= LIMIT_SQLITE_CKPT_FORCE_FRAMES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_fetch_add(&ss->checkpoints, 1);
        return SQLITE_OK;
    }
    if (frames >= LIMIT_SQLITE_CKPT_FRAMES) {
        pthread_mutex_lock(&ss->ckpt_mu);
        if (!ss->ckpt_wanted)
            pthread_cond_signal(&ss->ckpt_cv);
        ss->ckpt_wanted = true;
        pthread_mutex_unlock(&ss->ckpt_mu);
    }
    return SQLITE_OK;
}

static void *sq_ckpt_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sqlite-ckpt"); /* top -H, perf */
    sq_store *ss = arg;
    pthread_mutex_lock(&ss->ckpt_mu);
    for (;;) {
        while (!ss->ckpt_wanted && !ss->ckpt_stop)
            pthread_cond_wait(&ss->ckpt_cv, &ss->ckpt_mu);
        if (ss->ckpt_stop)
            break;
        ss->ckpt_wanted = false;
        pthread_mutex_unlock(&ss->ckpt_mu);
        /* PASSIVE: copies what no reader still needs, never blocks the writer or
         * readers; the writer starts the WAL over once it was copied whole. */
        int rc =
            sqlite3_wal_checkpoint_v2(ss->ckpt->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warn("store: checkpoint of '%s': %s", ss->path, sqlite3_errmsg(ss->ckpt->db));
        atomic_fetch_add(&ss->checkpoints, 1);
        pthread_mutex_lock(&ss->ckpt_mu);
    }
    pthread_mutex_unlock(&ss->ckpt_mu);
    return NULL;
}

static k_status sq_ckpt_start(sq_store *ss)
{
    k_status ks = sq_conn_open(ss, SQ_CHECKPOINTER, &ss->ckpt);
    if (ks != K_OK)
        return ks;
    if (pthread_create(&ss->ckpt_thread, NULL, sq_ckpt_main, ss) != 0) {
        sq_conn_close(ss->ckpt);
        ss->ckpt = NULL;
        return K_ERR;
    }
    sqlite3_wal_hook(ss->writer->db, sq_wal_hook, ss);
    return K_OK;
}

static void sq_ckpt_stop(sq_store *ss)
{
    if (ss->ckpt == NULL)
        return;
    pthread_mutex_lock(&ss->ckpt_mu);
    ss->ckpt_stop = true;
    pthread_cond_signal(&ss->ckpt_cv);
    pthread_mutex_unlock(&ss->ckpt_mu);
    pthread_join(ss->ckpt_thread, NULL);
    sqlite3_wal_hook(ss->writer->db, NULL, NULL);
    sq_conn_close(ss->ckpt);
    ss->ckpt = NULL;
}

/* ---- reads ---- */

static void sq_reader_unlink(sq_store *ss, sq_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ss->readers = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* pthread key destructor: a thread that read from the store exits. */
static void sq_reader_dtor(void *p)
{
    sq_conn *c = p;
    sq_store *ss = c->owner;
    pthread_mutex_lock(&ss->reg_mu);
    sq_reader_unlink(ss, c);
    pthread_mutex_unlock(&ss->reg_mu);
    sq_conn_close(c);
}

static k_status sq_reader_get(sq_store *ss, sq_conn **out)
{
    sq_conn *c = pthread_getspecific(ss->read_key);
    if (c == NULL) {
        k_status ks = sq_conn_open(ss, SQ_READER, &c);
        if (ks != K_OK)
            return ks;
        if (pthread_setspecific(ss->read_key, c) != 0) {
            sq_conn_close(c);
            return K_ENOMEM;
        }
        pthread_mutex_lock(&ss->reg_mu);
        c->next = ss->readers;
        if (ss->readers != NULL)
            ss->readers->prev = c;
        ss->readers = c;
        pthread_mutex_unlock(&ss->reg_mu);
    }
    *out = c;
    return K_OK;
}

static k_status sq_read(store *s, store_fn fn, void *arg)
{
    sq_store *ss = s->impl;
    sq_conn *c = NULL;
    k_status ks = sq_reader_get(ss, &c);
    if (ks != K_OK)
        return ks;
    K_ASSERT(!c->in_tx); /* store_read inside a read closure */
    ks = sq_exec(c, S_BEGIN);
    if (ks != K_OK)
        return ks;
    c->in_tx = true;
    store_tx tx = {s, c, false};
    k_status st = fn(&tx, arg);
    c->in_tx = false;
    if (sq_exec(c, S_COMMIT) != K_OK) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return st == K_OK ? K_EIO : st;
    }
    return st;
}

/* ---- lifecycle ---- */

static void sq_store_free(sq_store *ss)
{
    pthread_mutex_destroy(&ss->reg_mu);
    pthread_mutex_destroy(&ss->ckpt_mu);
    pthread_cond_destroy(&ss->ckpt_cv);
    free(ss->path);
    free(ss);
}

static k_status sq_open(store *s, const char *path)
{
    sq_store *ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        return K_ENOMEM;
    ss->pub = s;
    ss->path = strdup(path);
    pthread_mutex_init(&ss->reg_mu, NULL);
    pthread_mutex_init(&ss->ckpt_mu, NULL);
    pthread_cond_init(&ss->ckpt_cv, NULL);
    if (ss->path == NULL) {
        sq_store_free(ss);
        return K_ENOMEM;
    }
    k_status ks = sq_conn_open(ss, SQ_WRITER, &ss->writer);
    if (ks == K_OK)
        ks = sq_migrate(ss->writer, &ss->schema_version);
    if (ks == K_OK)
        ks = sq_ckpt_start(ss);
    if (ks == K_OK && pthread_key_create(&ss->read_key, sq_reader_dtor) != 0)
        ks = K_ERR;
    else if (ks == K_OK) {
        ks = store_writer_start(&ss->w, s, &sq_hooks, ss, "sqlite-writer");
        if (ks != K_OK)
            pthread_key_delete(ss->read_key);
    }
    if (ks != K_OK) {
        log_error("store: cannot open '%s': %s", path, k_status_str(ks));
        sq_ckpt_stop(ss);
        sq_conn_close(ss->writer);
        sq_store_free(ss);
        return ks;
    }
    s->impl = ss;
    return K_OK;
}

static void sq_close(store *s)
{
    sq_store *ss = s->impl;
    store_writer_stop(&ss->w); /* drains the queue first */
    sq_ckpt_stop(ss);

    /* No destructor runs for this key after this; close what threads left open. */
    pthread_key_delete(ss->read_key);
    pthread_mutex_lock(&ss->reg_mu);
    while (ss->readers != NULL) {
        sq_conn *c = ss->readers;
        sq_reader_unlink(ss, c);
        sq_conn_close(c);
    }
    pthread_mutex_unlock(&ss->reg_mu);
    sq_conn_close(ss->writer);
    sq_store_free(ss);
    s->impl = NULL;
}

static int sq_schema_version(store *s)
{
    sq_store *ss = s->impl;
    return ss->schema_version;
}

static void sq_get_stats(store *s, store_stats *out)
{
    sq_store *ss = s->impl;
    store_writer_stats(&ss->w, out);
    out->checkpoints = atomic_load(&ss->checkpoints);
}

/* ---- merchants ---- */

static k_status sq_merchant_put(store_tx *tx, const store_merchant *m)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_M_PUT);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, m->id, &rc);
    sq_bt(st, 2, m->name, &rc);
    sq_bt(st, 3, m->secret_key_hash, &rc);
    sq_bt(st, 4, m->publishable_key, &rc);
    sq_bi(st, 5, m->ecp_project_id, &rc);
    sq_bt(st, 6, m->ecp_secret, &rc);
    sq_bt(st, 7, m->settings, &rc);
    sq_bi(st, 8, m->created, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind merchant");
    }
    return sq_run(c, st, "merchant put");
}

static k_status sq_merchant_where(store_tx *tx, enum sq_stmt_id id, const char *key, int64_t num,
                                  arena *a, store_merchant *out)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, id);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    if (key != NULL)
        sq_bt(st, 1, key, &rc);
    else
        sq_bi(st, 1, num, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind merchant key");
    }
    return sq_one(c, st, sq_dec_merchant, a, out);
}

static k_status sq_merchant_get(store_tx *tx, const char *id, arena *a, store_merchant *out)
{
    return sq_merchant_where(tx, S_M_GET, id, 0, a, out);
}

static k_status sq_merchant_by_key(store_tx *tx, const char *secret_key_hash, arena *a,
                                   store_merchant *out)
{
    return sq_merchant_where(tx, S_M_BY_KEY, secret_key_hash, 0, a, out);
}

static k_status sq_merchant_by_project(store_tx *tx, int64_t project_id, arena *a,
                                       store_merchant *out)
{
    if (project_id == 0)
        return K_ENOTFOUND; /* 0 is stored as NULL: "no ECommPay project" */
    return sq_merchant_where(tx, S_M_BY_PROJECT, NULL, project_id, a, out);
}

static k_status sq_merchant_count(store_tx *tx, int64_t *out)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_M_COUNT);
    if (st == NULL)
        return K_EIO;
    int rc = sqlite3_step(st);
    k_status ks = rc == SQLITE_ROW ? K_OK : sq_err(c, rc, "merchant count");
    if (ks == K_OK)
        *out = sqlite3_column_int64(st, 0);
    sq_done(st);
    return ks;
}

/* ---- documents ---- */

static k_status sq_obj_put(store_tx *tx, store_obj *o)
{
    sq_conn *c = sq_tx_conn(tx);
    bool insert = o->version == 0;
    sqlite3_stmt *st = sq_stmt(c, insert ? S_O_INSERT : S_O_UPDATE);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, o->merchant_id, &rc);
    sq_bt(st, 2, o->id, &rc);
    sq_bt(st, 3, o->kind, &rc);
    sq_bt(st, 4, o->parent_id, &rc);
    sq_bt(st, 5, o->status, &rc);
    sq_bt(st, 6, o->currency, &rc);
    sq_bi(st, 7, o->amount, &rc);
    sq_bi(st, 8, o->created, &rc);
    sq_bi(st, 9, o->due_at, &rc);
    sq_bt(st, 10, o->ext_ref, &rc);
    sq_bt(st, 11, o->body, &rc);
    if (!insert)
        sq_bi(st, 12, o->version, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind object");
    }
    rc = sqlite3_step(st);
    k_status ks = K_OK;
    if (rc == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        int32_t version = insert ? 1 : sqlite3_column_int(st, 1);
        K_ASSERT(seq > 0);
        K_ASSERT(version == o->version + 1);
        o->seq = seq;
        o->version = version;
    } else if (rc == SQLITE_DONE) {
        K_ASSERT(!insert);
        ks = K_ECONFLICT; /* changed (or gone) since it was read */
    } else {
        ks = sq_err(c, rc, "object put");
    }
    sq_done(st);
    return ks;
}

static k_status sq_obj_key3(store_tx *tx, enum sq_stmt_id id, const char *k1, const char *k2,
                            const char *k3, arena *a, store_obj *out)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, id);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, k1, &rc);
    sq_bt(st, 2, k2, &rc);
    if (k3 != NULL)
        sq_bt(st, 3, k3, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind object key");
    }
    return sq_one(c, st, sq_dec_obj, a, out);
}

static k_status sq_obj_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                           arena *a, store_obj *out)
{
    return sq_obj_key3(tx, S_O_GET, merchant_id, kind, id, a, out);
}

static k_status sq_obj_by_ref(store_tx *tx, const char *merchant_id, const char *kind,
                              const char *ext_ref, arena *a, store_obj *out)
{
    return sq_obj_key3(tx, S_O_BY_REF, merchant_id, kind, ext_ref, a, out);
}

static k_status sq_obj_find_ref(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                                store_obj *out)
{
    return sq_obj_key3(tx, S_O_FIND_REF, kind, ext_ref, NULL, a, out);
}

static k_status sq_obj_seq(sq_conn *c, const char *merchant_id, const char *kind, const char *id,
                           int64_t *seq)
{
    sqlite3_stmt *st = sq_stmt(c, S_O_SEQ);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, kind, &rc);
    sq_bt(st, 3, id, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    k_status ks = K_OK;
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        ks = K_ENOTFOUND;
    else
        ks = sq_err(c, rc, "object cursor");
    sq_done(st);
    return ks;
}

/* The list statement for one combination of filters, prepared on first use.
 * Parameters: ?1 merchant, ?2 kind, ?3 parent, ?4 status, ?5 type prefix,
 * ?6 created_gte, ?7 created_lte, ?8 cursor seq, ?9 limit. */
static sqlite3_stmt *sq_list_stmt(sq_conn *c, unsigned mask, int cursor)
{
    size_t idx = (size_t)mask * 3 + (size_t)cursor;
    K_ASSERT(idx < SQ_LIST_VARIANTS);
    if (c->list[idx] != NULL)
        return c->list[idx];
    char sql[1024];
    int len = snprintf(
        sql, sizeof(sql),
        "SELECT " SQ_O_COLS " FROM objects WHERE merchant_id = ?1 AND kind = ?2%s%s%s%s%s%s"
        " ORDER BY seq %s LIMIT ?9",
        (mask & SQ_LF_PARENT) ? " AND parent_id = ?3" : "",
        (mask & SQ_LF_STATUS) ? " AND status = ?4" : "",
        /* an exact prefix test: LIKE would treat '_' in event types as a wildcard */
        (mask & SQ_LF_PREFIX) ? " AND substr(status, 1, length(?5)) = ?5" : "",
        (mask & SQ_LF_GTE) ? " AND created >= ?6" : "",
        (mask & SQ_LF_LTE) ? " AND created <= ?7" : "",
        cursor == SQ_CUR_AFTER ? " AND seq < ?8" : (cursor == SQ_CUR_BEFORE ? " AND seq > ?8" : ""),
        cursor == SQ_CUR_BEFORE ? "ASC" : "DESC");
    K_ASSERT(len > 0 && (size_t)len < sizeof(sql));
    c->list[idx] = sq_prepare(c, sql);
    return c->list[idx];
}

static void sq_reverse(store_obj *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        store_obj t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

static k_status sq_obj_list(store_tx *tx, const char *merchant_id, const char *kind,
                            const store_list_q *q, arena *a, store_obj **out, size_t *n,
                            bool *has_more)
{
    sq_conn *c = sq_tx_conn(tx);
    int cursor = SQ_CUR_NONE;
    int64_t cursor_seq = 0;
    if (q->starting_after != NULL || q->ending_before != NULL) {
        cursor = q->starting_after != NULL ? SQ_CUR_AFTER : SQ_CUR_BEFORE;
        const char *cid = q->starting_after != NULL ? q->starting_after : q->ending_before;
        k_status ks = sq_obj_seq(c, merchant_id, kind, cid, &cursor_seq);
        if (ks != K_OK)
            return ks;
    }
    unsigned mask = (q->parent_id ? SQ_LF_PARENT : 0) | (q->status ? SQ_LF_STATUS : 0) |
                    (q->type_prefix ? SQ_LF_PREFIX : 0) | (q->created_gte ? SQ_LF_GTE : 0) |
                    (q->created_lte ? SQ_LF_LTE : 0);
    sqlite3_stmt *st = sq_list_stmt(c, mask, cursor);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, kind, &rc);
    sq_bt(st, 3, q->parent_id, &rc);
    sq_bt(st, 4, q->status, &rc);
    sq_bt(st, 5, q->type_prefix, &rc);
    sq_bi(st, 6, q->created_gte, &rc);
    sq_bi(st, 7, q->created_lte, &rc);
    sq_bi(st, 8, cursor_seq, &rc);
    sq_bi(st, 9, (int64_t)q->limit + 1, &rc); /* one more than asked says has_more */
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind list");
    }
    void *rows = NULL;
    size_t cnt = 0;
    k_status ks = sq_many(c, st, sq_dec_obj, sizeof(store_obj), a, &rows, &cnt);
    if (ks != K_OK)
        return ks;
    K_ASSERT(cnt <= (size_t)q->limit + 1);
    *has_more = cnt > (size_t)q->limit;
    if (*has_more)
        cnt = (size_t)q->limit; /* drops the furthest row in the direction of paging */
    if (cursor == SQ_CUR_BEFORE)
        sq_reverse(rows, cnt);
    *out = rows;
    *n = cnt;
    return K_OK;
}

static k_status sq_obj_due(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out,
                           size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_O_DUE);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, now, &rc);
    sq_bi(st, 2, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind due");
    }
    return sq_many(c, st, sq_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

static k_status sq_obj_claim_due(store_tx *tx, int64_t now, int64_t lease_until, size_t max,
                                 arena *a, store_obj **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_O_CLAIM_DUE);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, now, &rc);
    sq_bi(st, 2, lease_until, &rc);
    sq_bi(st, 3, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind claim due");
    }
    return sq_many(c, st, sq_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

/* ---- journal ---- */

static k_status sq_op_append(store_tx *tx, const store_op *op)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_OP_INSERT);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, op->merchant_id, &rc);
    sq_bt(st, 2, op->id, &rc);
    sq_bt(st, 3, op->payment_id, &rc);
    sq_bt(st, 4, op->kind, &rc);
    sq_bi(st, 5, op->amount, &rc);
    sq_bt(st, 6, op->status, &rc);
    sq_bt(st, 7, op->code, &rc);
    sq_bt(st, 8, op->message, &rc);
    sq_bt(st, 9, op->provider_ref, &rc);
    sq_bt(st, 10, op->ref_id, &rc);
    sq_bt(st, 11, op->body, &rc);
    sq_bi(st, 12, op->created_ms, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind operation");
    }
    return sq_run(c, st, "operation append");
}

static k_status sq_op_list(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                           store_op **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_OP_LIST);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, payment_id, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind operations");
    }
    return sq_many(c, st, sq_dec_op, sizeof(store_op), a, (void **)out, n);
}

static k_status sq_op_range(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                            int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, merchant_id != NULL ? S_OP_RANGE_M : S_OP_RANGE_ALL);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bi(st, 2, from_ms, &rc);
    sq_bi(st, 3, to_ms, &rc);
    sq_bi(st, 4, after_seq, &rc);
    sq_bi(st, 5, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind operation range");
    }
    return sq_many(c, st, sq_dec_op, sizeof(store_op), a, (void **)out, n);
}

/* ---- webhook outbox ---- */

static k_status sq_delivery_add(store_tx *tx, store_delivery *d)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_D_INSERT);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, d->merchant_id, &rc);
    sq_bt(st, 2, d->event_id, &rc);
    sq_bt(st, 3, d->endpoint_id, &rc);
    sq_bt(st, 4, d->state, &rc);
    sq_bi(st, 5, d->attempts, &rc);
    sq_bi(st, 6, d->next_at_ms, &rc);
    sq_bi(st, 7, d->last_status, &rc);
    sq_bi(st, 8, d->created_ms, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    k_status ks = K_OK;
    if (rc == SQLITE_ROW) {
        d->id = sqlite3_column_int64(st, 0);
        K_ASSERT(d->id > 0);
    } else {
        ks = sq_err(c, rc, "delivery add");
    }
    sq_done(st);
    return ks;
}

static k_status sq_delivery_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                                  arena *a, store_delivery **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_D_CLAIM);
    sqlite3_stmt *lease = sq_stmt(c, S_D_LEASE);
    if (st == NULL || lease == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, now_ms, &rc);
    sq_bi(st, 2, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind claim");
    }
    store_delivery *rows = NULL;
    size_t cnt = 0;
    k_status ks = sq_many(c, st, sq_dec_delivery, sizeof(store_delivery), a, (void **)&rows, &cnt);
    for (size_t i = 0; ks == K_OK && i < cnt; i++) {
        sq_bt(lease, 1, rows[i].merchant_id, &rc);
        sq_bi(lease, 2, rows[i].id, &rc);
        sq_bi(lease, 3, lease_until_ms, &rc);
        if (rc != SQLITE_OK) {
            sq_done(lease);
            return sq_err(c, rc, "bind lease");
        }
        ks = sq_run(c, lease, "delivery lease");
    }
    if (ks != K_OK)
        return ks;
    *out = rows;
    *n = cnt;
    return K_OK;
}

/* Length of at most max bytes of s, not cutting a UTF-8 sequence in two. */
static size_t sq_utf8_prefix(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return len;
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

static k_status sq_delivery_record(store_tx *tx, const store_delivery *d,
                                   const store_delivery_attempt *at)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *up = sq_stmt(c, S_D_UPDATE);
    sqlite3_stmt *ins = sq_stmt(c, S_DA_INSERT);
    if (up == NULL || ins == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(up, 1, d->merchant_id, &rc);
    sq_bi(up, 2, d->id, &rc);
    sq_bt(up, 3, d->state, &rc);
    sq_bi(up, 4, d->attempts, &rc);
    sq_bi(up, 5, d->next_at_ms, &rc);
    sq_bi(up, 6, d->last_status, &rc);
    if (rc != SQLITE_OK) {
        sq_done(up);
        return sq_err(c, rc, "bind delivery");
    }
    k_status ks = sq_run(c, up, "delivery update");
    if (ks != K_OK)
        return ks;
    if (sqlite3_changes(c->db) == 0)
        return K_ENOTFOUND;
    sq_bi(ins, 1, at->delivery_id, &rc);
    sq_bi(ins, 2, at->at_ms, &rc);
    sq_bi(ins, 3, at->http_status, &rc);
    sq_bi(ins, 4, at->latency_ms, &rc);
    if (at->response_head != NULL)
        sq_btn(ins, 5, at->response_head,
               sq_utf8_prefix(at->response_head, LIMIT_WEBHOOK_RESPONSE_KEEP), &rc);
    sq_bt(ins, 6, at->error, &rc);
    if (rc != SQLITE_OK) {
        sq_done(ins);
        return sq_err(c, rc, "bind attempt");
    }
    return sq_run(c, ins, "delivery attempt");
}

static k_status sq_delivery_list(store_tx *tx, const char *merchant_id, const char *event_id,
                                 arena *a, store_delivery **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_D_LIST);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, event_id, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind deliveries");
    }
    return sq_many(c, st, sq_dec_delivery, sizeof(store_delivery), a, (void **)out, n);
}

static k_status sq_delivery_get(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                                store_delivery *out)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_D_GET);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bi(st, 2, id, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind delivery");
    }
    return sq_one(c, st, sq_dec_delivery, a, out);
}

static k_status sq_delivery_attempts(store_tx *tx, int64_t delivery_id, arena *a,
                                     store_delivery_attempt **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_DA_LIST);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, delivery_id, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind attempts");
    }
    return sq_many(c, st, sq_dec_attempt, sizeof(store_delivery_attempt), a, (void **)out, n);
}

static k_status sq_delivery_next_due(store_tx *tx, int64_t *next_at_ms)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_D_NEXT_DUE);
    if (st == NULL)
        return K_EIO;
    int rc = sqlite3_step(st);
    k_status ks = rc == SQLITE_ROW ? K_OK : sq_err(c, rc, "next due");
    if (ks == K_OK)
        *next_at_ms = sqlite3_column_int64(st, 0); /* NULL (none pending) reads as 0 */
    sq_done(st);
    return ks;
}

/* Not a prepared statement of the connection: run once a scrape, not per request. */
static k_status sq_gauges_get(store_tx *tx, int64_t now_s, store_gauges *out)
{
    sq_conn *c = sq_tx_conn(tx);
    static const char sql[] =
        "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),"
        " (SELECT COALESCE(MIN(created_ms), 0) FROM deliveries WHERE state = 'pending'),"
        " (SELECT COUNT(*) FROM objects WHERE due_at > 0 AND due_at <= ?1 + 86400"
        "  AND kind = 'payment_intent' AND status = 'requires_capture'"
        "  AND json_extract(body, '$.auth_expires_at') > ?1"
        "  AND json_extract(body, '$.auth_expires_at') <= ?1 + 86400)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_err(c, SQLITE_ERROR, "gauges");
    sqlite3_bind_int64(st, 1, now_s);
    int rc = sqlite3_step(st);
    k_status ks = rc == SQLITE_ROW ? K_OK : sq_err(c, rc, "gauges");
    if (ks == K_OK) {
        out->deliveries_pending = sqlite3_column_int64(st, 0);
        out->oldest_pending_ms = sqlite3_column_int64(st, 1);
        out->auth_expiring_24h = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return ks;
}

/* ---- idempotency keys ---- */

static k_status sq_idem_get(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                            store_idem *out)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_I_GET);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, key, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind idempotency key");
    }
    return sq_one(c, st, sq_dec_idem, a, out);
}

static k_status sq_idem_put(store_tx *tx, const store_idem *k)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_I_PUT);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, k->merchant_id, &rc);
    sq_bt(st, 2, k->key, &rc);
    sq_bt(st, 3, k->fingerprint, &rc);
    sq_bi(st, 4, k->status, &rc);
    sq_bt(st, 5, k->body, &rc);
    sq_bi(st, 6, k->created_ms, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind idempotency key");
    }
    return sq_run(c, st, "idempotency put");
}

static k_status sq_idem_delete(store_tx *tx, const char *merchant_id, const char *key)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_I_DEL);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, key, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind idempotency key");
    }
    return sq_run(c, st, "idempotency delete");
}

static k_status sq_idem_prune(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_I_PRUNE);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, before_ms, &rc);
    sq_bi(st, 2, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind prune");
    }
    k_status ks = sq_run(c, st, "idempotency prune");
    if (ks == K_OK)
        *deleted = (size_t)sqlite3_changes(c->db);
    K_ASSERT(*deleted <= max);
    return ks;
}

/* ---- one parameterised statement (store_sql.h) ---- */

#define SQ_SQL_COLS_MAX 32 /* columns of the widest row store_staff.c reads */

static int sq_sql_bind(sqlite3_stmt *st, const store_arg *args, int nargs)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < nargs && rc == SQLITE_OK; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            continue;
        if (args[i].type == 'i')
            sq_bi(st, idx, args[i].i, &rc);
        else
            sq_bt(st, idx, args[i].s, &rc);
    }
    return rc;
}

static k_status sq_sql_rows(sq_conn *c, sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int n = sqlite3_column_count(st);
        K_ASSERT(n <= SQ_SQL_COLS_MAX);
        const char *vals[SQ_SQL_COLS_MAX];
        for (int i = 0; i < n; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        if (fn == NULL)
            continue;
        k_status ks = fn(ctx, n, vals);
        if (ks != K_OK)
            return ks;
    }
    return rc == SQLITE_DONE ? K_OK : sq_err(c, rc, "statement");
}

static uint64_t sq_sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h != 0 ? h : 1;
}

/* A prepared statement for sql from c's cache (*slot set, marked busy), or
 * prepared now and cached; *slot NULL when every slot is busy: the caller
 * finalizes the statement itself. */
static sqlite3_stmt *sq_sql_stmt(sq_conn *c, const char *sql, sq_cached **slot)
{
    uint64_t h = sq_sql_hash(sql);
    sq_cached *victim = NULL;
    *slot = NULL;
    for (size_t i = 0; i < SQ_SQL_CACHE; i++) {
        sq_cached *e = &c->sql[i];
        if (e->busy)
            continue;
        if (e->hash == h && strcmp(e->sql, sql) == 0) {
            e->used = ++c->sql_tick;
            e->busy = true;
            *slot = e;
            return e->st;
        }
        if (victim == NULL || e->used < victim->used)
            victim = e;
    }
    sqlite3_stmt *st = sq_prepare(c, sql);
    char *copy = st != NULL && victim != NULL ? strdup(sql) : NULL;
    if (copy == NULL)
        return st; /* uncached (NULL if it did not prepare) */
    sqlite3_finalize(victim->st);
    free(victim->sql);
    *victim = (sq_cached){.hash = h, .sql = copy, .st = st, .used = ++c->sql_tick, .busy = true};
    *slot = victim;
    return st;
}

static k_status sq_sql_run(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                           store_row_fn fn, void *ctx, int64_t *changes)
{
    sq_conn *c = sq_tx_conn(tx);
    sq_cached *slot;
    sqlite3_stmt *st = sq_sql_stmt(c, sql, &slot);
    if (st == NULL)
        return K_EIO;
    int rc = sq_sql_bind(st, args, nargs);
    k_status ks = rc == SQLITE_OK ? sq_sql_rows(c, st, fn, ctx) : sq_err(c, rc, "bind");
    if (ks == K_OK && changes != NULL)
        *changes = sqlite3_changes(c->db);
    if (slot == NULL) {
        sqlite3_finalize(st);
    } else {
        sq_done(st);
        slot->busy = false;
    }
    return ks;
}

/* ---- the vtable ---- */

/* ---- reports ---- */

static k_status sq_obj_scan(store_tx *tx, const char *merchant_id, const char *kind,
                            int64_t created_gte, int64_t created_lt, int64_t after_created,
                            int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_O_SCAN);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, kind, &rc);
    sq_bi(st, 3, created_gte, &rc);
    sq_bi(st, 4, created_lt, &rc);
    sq_bi(st, 5, after_created, &rc);
    sq_bi(st, 6, after_seq, &rc);
    sq_bi(st, 7, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind object scan");
    }
    return sq_many(c, st, sq_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

static void sq_dec_ledger(sq_row *r, void *out)
{
    store_ledger_row *l = out;
    sq_dec_op(r, &l->op);
    l->currency = sq_text(r, 13);
    l->method = sq_text(r, 14);
}

static k_status sq_ledger_scan(store_tx *tx, const char *merchant_id, int64_t from_ms,
                               int64_t to_ms, int64_t after_ms, int64_t after_seq, size_t max,
                               arena *a, store_ledger_row **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_L_SCAN);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bi(st, 2, from_ms, &rc);
    sq_bi(st, 3, to_ms, &rc);
    sq_bi(st, 4, after_ms, &rc);
    sq_bi(st, 5, after_seq, &rc);
    sq_bi(st, 6, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind ledger scan");
    }
    return sq_many(c, st, sq_dec_ledger, sizeof(store_ledger_row), a, (void **)out, n);
}

static void sq_dec_group(sq_row *r, void *out)
{
    store_ledger_group *g = out;
    g->slot = sq_int(r, 0);
    g->kind = sq_text(r, 1);
    g->status = sq_text(r, 2);
    g->code = sq_text(r, 3);
    g->currency = sq_text(r, 4);
    g->method = sq_text(r, 5);
    g->count = sq_int(r, 6);
    g->amount = sq_int(r, 7);
}

static k_status sq_ledger_groups(store_tx *tx, const char *merchant_id, int64_t from_ms,
                                 int64_t to_ms, int64_t slot_ms, size_t max, arena *a,
                                 store_ledger_group **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    int64_t whole_from, whole_to;
    bool roll = store_rollup_span(from_ms, to_ms, slot_ms, &whole_from, &whole_to);
    sqlite3_stmt *st = sq_stmt(c, roll ? S_L_GROUPS_R : S_L_GROUPS);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bi(st, 2, from_ms, &rc);
    sq_bi(st, 3, to_ms, &rc);
    sq_bi(st, 4, slot_ms, &rc);
    sq_bi(st, 5, (int64_t)max, &rc);
    if (roll) {
        sq_bi(st, 6, whole_from, &rc);
        sq_bi(st, 7, whole_to, &rc);
    }
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind ledger groups");
    }
    return sq_many(c, st, sq_dec_group, sizeof(store_ledger_group), a, (void **)out, n);
}

static void sq_dec_job(sq_row *r, void *out)
{
    store_job *j = out;
    j->id = sq_int(r, 0);
    j->merchant_id = sq_text(r, 1);
    j->kind = sq_text(r, 2);
    j->ref_id = sq_text(r, 3);
    j->state = sq_text(r, 4);
    j->attempts = sq_int32(r, 5);
    j->next_at_ms = sq_int(r, 6);
    j->last_error = sq_text(r, 7);
    j->body = sq_text(r, 8);
    j->created_ms = sq_int(r, 9);
    j->updated_ms = sq_int(r, 10);
}

static k_status sq_job_add(store_tx *tx, store_job *j)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_J_INSERT);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, j->merchant_id, &rc);
    sq_bt(st, 2, j->kind, &rc);
    sq_bt(st, 3, j->ref_id, &rc);
    sq_bt(st, 4, j->state, &rc);
    sq_bi(st, 5, j->attempts, &rc);
    sq_bi(st, 6, j->next_at_ms, &rc);
    sq_bt(st, 7, j->last_error, &rc);
    sq_bt(st, 8, j->body, &rc);
    sq_bi(st, 9, j->created_ms, &rc);
    sq_bi(st, 10, j->updated_ms, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    k_status ks = K_OK;
    if (rc == SQLITE_ROW) {
        j->id = sqlite3_column_int64(st, 0);
        K_ASSERT(j->id > 0);
    } else {
        ks = sq_err(c, rc, "report job add");
    }
    sq_done(st);
    return ks;
}

static k_status sq_job_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                             arena *a, store_job **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_J_CLAIM);
    sqlite3_stmt *lease = sq_stmt(c, S_J_LEASE);
    if (st == NULL || lease == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bi(st, 1, now_ms, &rc);
    sq_bi(st, 2, (int64_t)max, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind job claim");
    }
    store_job *rows = NULL;
    size_t cnt = 0;
    k_status ks = sq_many(c, st, sq_dec_job, sizeof(store_job), a, (void **)&rows, &cnt);
    for (size_t i = 0; ks == K_OK && i < cnt; i++) {
        sq_bi(lease, 1, rows[i].id, &rc);
        sq_bi(lease, 2, lease_until_ms, &rc);
        if (rc != SQLITE_OK) {
            sq_done(lease);
            return sq_err(c, rc, "bind job lease");
        }
        ks = sq_run(c, lease, "report job lease");
    }
    if (ks != K_OK)
        return ks;
    *out = rows;
    *n = cnt;
    return K_OK;
}

static k_status sq_job_update(store_tx *tx, const store_job *j)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_J_UPDATE);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, j->merchant_id, &rc);
    sq_bi(st, 2, j->id, &rc);
    sq_bt(st, 3, j->state, &rc);
    sq_bi(st, 4, j->attempts, &rc);
    sq_bi(st, 5, j->next_at_ms, &rc);
    sq_bt(st, 6, j->last_error, &rc);
    sq_bt(st, 7, j->body, &rc);
    sq_bi(st, 8, j->updated_ms, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind job update");
    }
    k_status ks = sq_run(c, st, "report job update");
    if (ks == K_OK && sqlite3_changes(c->db) == 0)
        return K_ENOTFOUND;
    return ks;
}

static k_status sq_job_list(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                            store_job **out, size_t *n)
{
    sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, S_J_LIST);
    if (st == NULL)
        return K_EIO;
    int rc = SQLITE_OK;
    sq_bt(st, 1, merchant_id, &rc);
    sq_bt(st, 2, ref_id, &rc);
    if (rc != SQLITE_OK) {
        sq_done(st);
        return sq_err(c, rc, "bind job list");
    }
    return sq_many(c, st, sq_dec_job, sizeof(store_job), a, (void **)out, n);
}

static k_status sq_job_release(store_tx *tx, int64_t *released)
{
    sq_conn *c = sq_tx_conn(tx);
    k_status ks = sq_exec(c, S_J_RELEASE);
    if (ks == K_OK)
        *released = sqlite3_changes(c->db);
    return ks;
}

/* One node, whose own commits wake its workers: nothing else to wait for. */
static void sq_set_wake(store *s, void (*fn)(void *arg), void *arg)
{
    (void)s;
    (void)fn;
    (void)arg;
}

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .write = sq_write,
    .write_async = sq_write_async,
    .read = sq_read,
    .schema_version = sq_schema_version,
    .get_stats = sq_get_stats,
    .set_wake = sq_set_wake,
    .merchant_put = sq_merchant_put,
    .merchant_get = sq_merchant_get,
    .merchant_by_key = sq_merchant_by_key,
    .merchant_by_project = sq_merchant_by_project,
    .merchant_count = sq_merchant_count,
    .obj_put = sq_obj_put,
    .obj_get = sq_obj_get,
    .obj_by_ref = sq_obj_by_ref,
    .obj_find_ref = sq_obj_find_ref,
    .obj_list = sq_obj_list,
    .obj_due = sq_obj_due,
    .obj_claim_due = sq_obj_claim_due,
    .op_append = sq_op_append,
    .op_list = sq_op_list,
    .op_range = sq_op_range,
    .delivery_add = sq_delivery_add,
    .delivery_claim = sq_delivery_claim,
    .delivery_record = sq_delivery_record,
    .delivery_list = sq_delivery_list,
    .delivery_get = sq_delivery_get,
    .delivery_attempts = sq_delivery_attempts,
    .delivery_next_due = sq_delivery_next_due,
    .gauges_get = sq_gauges_get,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_delete = sq_idem_delete,
    .idem_prune = sq_idem_prune,
    .obj_scan = sq_obj_scan,
    .ledger_scan = sq_ledger_scan,
    .ledger_groups = sq_ledger_groups,
    .job_add = sq_job_add,
    .job_claim = sq_job_claim,
    .job_update = sq_job_update,
    .job_list = sq_job_list,
    .sql = sq_sql_run,
    .job_release = sq_job_release,
};
