/*
 * store_pg.c - the PostgreSQL backend of store.h (many stateless Kassa nodes
 * sharing one PostgreSQL primary). Same semantics as store_sqlite.c, so the same
 * test suite runs on both; the design notes are in reference/postgres.md.
 *
 * Connections. One writer connection owned by the writer thread, and a bounded
 * pool of read connections (LIMIT_PG_READ_CONNS_MAX) shared by all threads: a
 * store_read takes one for the length of its closure, so a PGconn is never used
 * by two threads at once. Statements are prepared once per connection (on first
 * use) and run with PQexecPrepared, parameters and results in text format.
 *
 * Group commit. The shared writer (writer.c) runs each batch in one READ
 * COMMITTED transaction, a SAVEPOINT per job, and COMMITs (the session has
 * synchronous_commit=on: the commit is flushed, and on a synchronous standby
 * too when configured) before waking the batch; this file gives it those
 * verbs (pg_hooks) on the writer connection, reconnecting it when lost. The
 * verbs are deferred (pg_defer) and go out in one libpq pipeline with the next
 * statement or the COMMIT, so a job costs only its own statements' round trips.
 *
 * Primary only. Every connection forces target_session_attrs=read-write and
 * checks pg_is_in_recovery(): money is never read from or written to a standby.
 *
 * Shared limits (store_limit_bucket, store_limit_window): UNLOGGED counters
 * taken with one conditional upsert in autocommit on a pool connection, so a
 * limit holds whichever node a request lands on.
 *
 * Several nodes. Closures run serially on one writer, but another node's writer
 * runs beside it, so reads that precede writes take row locks: store_obj_get
 * and the ref lookups inside a write transaction are SELECT ... FOR UPDATE,
 * store_idem_get takes a transaction advisory lock on the key (the row may not
 * exist yet), store_delivery_claim uses FOR UPDATE SKIP LOCKED. Inserts use
 * ON CONFLICT DO NOTHING so that a duplicate is a K_ECONFLICT answer, not an
 * aborted transaction.
 *
 * Failures. A statement error aborts the job's savepoint: the job's later
 * statements answer K_EIO and its savepoint is rolled back; the rest of the
 * batch goes on. A deadlock or serialization failure (40P01/40001) fails only
 * the job that hit it, with K_EBUSY (retry later): closures write their results
 * into their arguments (versions, ids), so re-running one is not safe. A lost
 * connection (08xxx, 57P01-57P03, or 25006 after a failover to a standby) fails
 * the whole batch with K_EIO - after a failed COMMIT the outcome is unknown and
 * callers' idempotency keys handle the retry - and the writer reconnects with
 * an exponential backoff.
 *
 * Wake-ups. A batch that added webhook deliveries sends one NOTIFY on
 * PG_CHANNEL before its COMMIT (one per batch, never per payment: NOTIFY takes
 * a cluster-wide lock at commit, reference/postgres.md d4). A listener thread
 * per store holds its own connection with LISTEN and calls the wake function
 * (store_set_wake), so another node's dispatcher sends at once instead of at its
 * next poll; the poll stays, since notifications sent while the listener was
 * reconnecting are lost (it also wakes once after each reconnect).
 *
 * Reads run in REPEATABLE READ READ ONLY transactions: one snapshot per closure.
 * Migrations are applied in order under pg_advisory_xact_lock, so nodes starting
 * together do not race; each one also records its number in schema_version.
 */
#include "store_int.h"
#include "writer.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "commit_stats.h"

#define PG_MIGRATE_LOCK_KEY  4242000001LL   /* pg_advisory_xact_lock key of migrations */
#define PG_BACKOFF_MIN_MS    100            /* first wait before reconnecting the writer */
#define PG_BACKOFF_MAX_MS    5000           /* longest wait between reconnect attempts */
#define PG_PARAMS_MAX        16             /* parameters of the widest statement */
#define PG_LISTEN_POLL_MS    200            /* the listener looks at its stop flag this often */
#define PG_CHANNEL           "kassa_outbox" /* NOTIFY channel: a batch added deliveries */
#define PG_OID_TEXT          25
#define PG_OID_INT8          20
#define PG_SQL_ARGS_MAX      24   /* arguments of the widest store_sql statement */
#define PG_SQL_COLS_MAX      32   /* columns of the widest store_sql row */
#define PG_LIMIT_PRUNE_EVERY 4096 /* shared-limit checks between two prunes of their tables */
#define PG_DEFER_MAX         16   /* transaction-control commands held back at most */

/* ---- migrations ---- */

/* The journal kinds analytics sums (the others move no money and count nothing). */
#define PG_L_KINDS                                                                                 \
    "'authorize', 'sale', 'fail', 'capture', 'release', 'cancel', 'expire', 'refund',"             \
    " 'refund_settle', 'refund_fail'"
/* The analytics rollup (migration 7, store_sqlite.c SQ_ROLL_* says what it keeps):
 * ledger_rollup_add upserts one key's delta (a NULL key part stored as '' with its
 * bit in `nulls`); one trigger keeps it for journal rows inserted or updated, one
 * for payments inserted or whose currency or method changed. */
#define PG_ROLL_MS "900000"
#define PG_ROLL_METHOD(R, BODY)                                                                    \
    "CASE WHEN " R ".kind IN ('sale', 'authorize') AND " R ".status = 'succeeded'"                 \
    " THEN (" BODY "::json ->> 'method_type') END"
/* every summed journal row of payment NEW keyed by currency CUR and body BODY */
#define PG_ROLL_PAY(CUR, BODY, SIGN)                                                               \
    "PERFORM ledger_rollup_add(NEW.merchant_id, g.slot, g.kind, g.status, g.code, " CUR            \
    ", " PG_ROLL_METHOD(                                                                           \
        "g", BODY) ", " SIGN "g.n, " SIGN "g.amount) FROM (SELECT o.created_ms / " PG_ROLL_MS      \
                   " AS slot, o.kind, o.status, o.code, count(*) AS n, sum(o.amount)::bigint AS"   \
                   " amount FROM operations o WHERE o.merchant_id = NEW.merchant_id"               \
                   " AND o.payment_id = NEW.id AND o.kind IN (" PG_L_KINDS                         \
                   ") GROUP BY 1, 2, 3, 4) g;"

#define PG_ROLL_TABLE                                                                              \
    "CREATE TABLE ledger_rollup("                                                                  \
    " merchant_id text NOT NULL,"                                                                  \
    " slot bigint NOT NULL,"                                                                       \
    " kind text NOT NULL,"                                                                         \
    " status text NOT NULL,"                                                                       \
    " code text NOT NULL,"                                                                         \
    " currency text NOT NULL,"                                                                     \
    " method text NOT NULL,"                                                                       \
    " nulls integer NOT NULL,"                                                                     \
    " n bigint NOT NULL,"                                                                          \
    " amount bigint NOT NULL,"                                                                     \
    " PRIMARY KEY(merchant_id, slot, kind, status, code, currency, method, nulls));"
#define PG_ROLL_FILL                                                                               \
    "INSERT INTO ledger_rollup SELECT merchant_id, created_ms / " PG_ROLL_MS ", kind, status,"     \
    " COALESCE(code, ''), COALESCE(c, ''), COALESCE(m, ''),"                                       \
    " (code IS NULL)::int + 2 * (c IS NULL)::int + 4 * (m IS NULL)::int, count(*), sum(amount)"    \
    " FROM (SELECT o.merchant_id, o.created_ms, o.kind, o.status, o.code, o.amount,"               \
    " p.currency AS c, " PG_ROLL_METHOD(                                                           \
        "o", "p.body") " AS m FROM operations o"                                                   \
                       " LEFT JOIN objects p ON p.merchant_id = o.merchant_id AND p.kind = "       \
                       "'payment_intent'"                                                          \
                       " AND p.id = o.payment_id WHERE o.kind IN (" PG_L_KINDS ")) j"              \
                       " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;"
#define PG_ROLL_F_ADD                                                                              \
    "CREATE FUNCTION ledger_rollup_add(m text, sl bigint, k text, st text, cd text, cur text,"     \
    " meth text, dn bigint, da bigint) RETURNS void LANGUAGE sql AS $$"                            \
    " INSERT INTO ledger_rollup VALUES(m, sl, k, st, COALESCE(cd, ''), COALESCE(cur, ''),"         \
    " COALESCE(meth, ''), (cd IS NULL)::int + 2 * (cur IS NULL)::int + 4 * (meth IS NULL)::int,"   \
    " dn, da) ON CONFLICT(merchant_id, slot, kind, status, code, currency, method, nulls)"         \
    " DO UPDATE SET n = ledger_rollup.n + excluded.n,"                                             \
    " amount = ledger_rollup.amount + excluded.amount $$;"
#define PG_ROLL_F_OP                                                                               \
    "CREATE FUNCTION ledger_rollup_op() RETURNS trigger LANGUAGE plpgsql AS $$"                    \
    " DECLARE c text; b text;"                                                                     \
    " BEGIN"                                                                                       \
    " IF TG_OP = 'UPDATE' AND OLD.kind IN (" PG_L_KINDS ") THEN"                                   \
    " SELECT currency, body INTO c, b FROM objects WHERE merchant_id = OLD.merchant_id"            \
    " AND kind = 'payment_intent' AND id = OLD.payment_id;"                                        \
    " PERFORM ledger_rollup_add(OLD.merchant_id, OLD.created_ms / " PG_ROLL_MS ", OLD.kind,"       \
    " OLD.status, OLD.code, c, " PG_ROLL_METHOD(                                                   \
        "OLD",                                                                                     \
        "b") ", -1, -OLD.amount);"                                                                 \
             " END IF;"                                                                            \
             " IF NEW.kind IN (" PG_L_KINDS ") THEN"                                               \
             " c := NULL; b := NULL;"                                                              \
             " SELECT currency, body INTO c, b FROM objects WHERE merchant_id = NEW.merchant_id"   \
             " AND kind = 'payment_intent' AND id = NEW.payment_id;"                               \
             " PERFORM ledger_rollup_add(NEW.merchant_id, NEW.created_ms / " PG_ROLL_MS            \
             ", NEW.kind,"                                                                         \
             " NEW.status, NEW.code, c, " PG_ROLL_METHOD("NEW", "b") ", 1, NEW.amount);"           \
                                                                     " END IF;"                    \
                                                                     " RETURN NULL;"               \
                                                                     " END $$;"
#define PG_ROLL_T_OP                                                                               \
    "CREATE TRIGGER ledger_rollup_op AFTER INSERT OR UPDATE OF merchant_id, payment_id, kind,"     \
    " amount, status, code, created_ms ON operations"                                              \
    " FOR EACH ROW EXECUTE PROCEDURE ledger_rollup_op();"
/* a payment update moves its rows' keys only when its currency or (where the key holds
 * it) its method changed: most updates read no JSON */
#define PG_ROLL_PAY_OLD  PG_ROLL_PAY("OLD.currency", "OLD.body", "-")
#define PG_ROLL_PAY_NONE PG_ROLL_PAY("NULL", "NULL::text", "-")
#define PG_ROLL_PAY_NEW  PG_ROLL_PAY("NEW.currency", "NEW.body", "")
/* a new payment moves rows only when its journal rows came first (rare) */
#define PG_ROLL_NO_ROWS                                                                            \
    "NOT EXISTS(SELECT 1 FROM operations x WHERE x.merchant_id = NEW.merchant_id"                  \
    " AND x.payment_id = NEW.id)"
#define PG_ROLL_SAME                                                                               \
    "OLD.currency IS NOT DISTINCT FROM NEW.currency AND (NOT EXISTS(SELECT 1"                      \
    " FROM operations x WHERE x.merchant_id = NEW.merchant_id AND x.payment_id = NEW.id"           \
    " AND x.kind IN ('sale', 'authorize') AND x.status = 'succeeded')"                             \
    " OR (OLD.body::json ->> 'method_type') IS NOT DISTINCT FROM"                                  \
    " (NEW.body::json ->> 'method_type'))"
#define PG_ROLL_F_PAY                                                                              \
    "CREATE FUNCTION ledger_rollup_pay() RETURNS trigger LANGUAGE plpgsql AS $$"                   \
    " BEGIN"                                                                                       \
    " IF TG_OP = 'UPDATE' THEN"                                                                    \
    " IF " PG_ROLL_SAME " THEN RETURN NULL; END IF; " PG_ROLL_PAY_OLD " ELSE"                      \
    " IF " PG_ROLL_NO_ROWS " THEN RETURN NULL; END IF; " PG_ROLL_PAY_NONE                          \
    " END IF; " PG_ROLL_PAY_NEW " RETURN NULL; END $$;"
#define PG_ROLL_T_PAY                                                                              \
    "CREATE TRIGGER ledger_rollup_pay AFTER INSERT OR UPDATE OF currency, body ON objects"         \
    " FOR EACH ROW WHEN (NEW.kind = 'payment_intent') EXECUTE PROCEDURE ledger_rollup_pay();"

static const char *const pg_migrations[] = {
    /* 1: the initial schema (SQLite's migration 1 with PostgreSQL types) */
    "CREATE TABLE merchants("
    " id text PRIMARY KEY,"
    " name text,"
    " secret_key_hash text UNIQUE,"
    " publishable_key text,"
    " ecp_project_id bigint UNIQUE,"
    " ecp_secret text,"
    " settings text NOT NULL DEFAULT '{}',"
    " created bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE objects("
    " merchant_id text NOT NULL,"
    " id text NOT NULL,"
    " kind text NOT NULL,"
    " parent_id text,"
    " status text,"
    " currency text,"
    " amount bigint NOT NULL DEFAULT 0,"
    " created bigint NOT NULL DEFAULT 0,"
    " due_at bigint NOT NULL DEFAULT 0,"
    " ext_ref text,"
    " seq bigserial PRIMARY KEY,"
    " version integer NOT NULL,"
    " body text,"
    " UNIQUE(merchant_id, kind, id));"
    "CREATE INDEX objects_list ON objects(merchant_id, kind, seq);"
    "CREATE INDEX objects_parent ON objects(merchant_id, kind, parent_id, seq);"
    "CREATE INDEX objects_due ON objects(due_at) WHERE due_at > 0;"
    "CREATE UNIQUE INDEX objects_ext_ref ON objects(kind, ext_ref) WHERE ext_ref IS NOT NULL;"
    "CREATE TABLE operations("
    " seq bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " id text NOT NULL UNIQUE,"
    " payment_id text NOT NULL,"
    " kind text NOT NULL,"
    " amount bigint NOT NULL CHECK (amount >= 0),"
    " status text NOT NULL,"
    " code text,"
    " message text,"
    " provider_ref text,"
    " ref_id text,"
    " body text,"
    " created_ms bigint NOT NULL);"
    "CREATE INDEX operations_payment ON operations(merchant_id, payment_id, seq);"
    "CREATE INDEX operations_created ON operations(created_ms);"
    /* The outbox churns: vacuum it early (reference/postgres.md, bloat). */
    "CREATE TABLE deliveries("
    " id bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " event_id text NOT NULL,"
    " endpoint_id text NOT NULL,"
    " state text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0,"
    " next_at_ms bigint NOT NULL,"
    " lease_until_ms bigint,"
    " last_status integer NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL,"
    " UNIQUE(event_id, endpoint_id))"
    " WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);"
    "CREATE INDEX deliveries_due ON deliveries(next_at_ms, id) WHERE state = 'pending';"
    "CREATE TABLE delivery_attempts("
    " id bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " delivery_id bigint NOT NULL REFERENCES deliveries(id),"
    " at_ms bigint NOT NULL,"
    " http_status integer NOT NULL DEFAULT 0,"
    " latency_ms integer NOT NULL DEFAULT 0,"
    " response_head text,"
    " error text);"
    "CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id);"
    "CREATE TABLE idempotency("
    " merchant_id text NOT NULL,"
    " key text NOT NULL,"
    " fingerprint text NOT NULL,"
    " status integer NOT NULL DEFAULT 0,"
    " body text,"
    " created_ms bigint NOT NULL,"
    " PRIMARY KEY(merchant_id, key));"
    "CREATE INDEX idempotency_created ON idempotency(created_ms);",
    /* 2: reports - the job queue, and the indexes ordered report scans walk */
    "CREATE TABLE report_jobs("
    " id bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " kind text NOT NULL,"
    " ref_id text NOT NULL,"
    " state text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0,"
    " next_at_ms bigint NOT NULL,"
    " lease_until_ms bigint,"
    " last_error text,"
    " body text,"
    " created_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL);"
    "CREATE INDEX report_jobs_due ON report_jobs(next_at_ms, id) WHERE state = 'pending';"
    "CREATE INDEX report_jobs_ref ON report_jobs(merchant_id, ref_id, id);"
    "CREATE INDEX objects_created ON objects(merchant_id, kind, created, seq);"
    "CREATE INDEX operations_ledger ON operations(merchant_id, created_ms, seq);",
    /* 3: the back office: staff users, their sessions, the audit chain, saved views */
    "CREATE TABLE staff_users("
    " merchant_id text NOT NULL,"
    " id text PRIMARY KEY,"
    " email text NOT NULL UNIQUE,"
    " role text NOT NULL,"
    " pw_hash text NOT NULL,"
    " totp_secret text NOT NULL,"
    " recovery text NOT NULL DEFAULT '[]',"
    " recovery_shown bigint NOT NULL DEFAULT 0,"
    " failed bigint NOT NULL DEFAULT 0,"
    " locked_until_ms bigint NOT NULL DEFAULT 0,"
    " totp_last_step bigint NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL);"
    "CREATE INDEX staff_users_merchant ON staff_users(merchant_id);"
    "CREATE TABLE staff_sessions("
    " token_hash text PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " user_id text NOT NULL,"
    " stage text NOT NULL,"
    " created_ms bigint NOT NULL,"
    " last_ms bigint NOT NULL,"
    " addr text);"
    "CREATE INDEX staff_sessions_user ON staff_sessions(merchant_id, user_id);"
    "CREATE TABLE audit_log("
    " seq bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " at_ms bigint NOT NULL,"
    " staff_id text,"
    " staff_email text,"
    " addr text,"
    " action text NOT NULL,"
    " object_id text,"
    " before_json text,"
    " after_json text,"
    " reason text,"
    " outcome text NOT NULL,"
    " prev_hash text NOT NULL,"
    " hash text NOT NULL,"
    " UNIQUE(merchant_id, prev_hash));"
    "CREATE INDEX audit_log_object ON audit_log(merchant_id, object_id, seq);"
    "CREATE TABLE staff_views("
    " merchant_id text NOT NULL,"
    " id text PRIMARY KEY,"
    " user_id text NOT NULL,"
    " name text NOT NULL,"
    " query text NOT NULL,"
    " created_ms bigint NOT NULL,"
    " UNIQUE(merchant_id, user_id, name));",
    /* 4: analytics reads only the journal kinds it sums (S_L_GROUPS: one range per kind),
     * not every operation of the interval (creations, attempts, requests) */
    "CREATE INDEX operations_kind ON operations(merchant_id, kind, created_ms);",
    /* 5: the limits every node shares (store_limit_bucket, store_limit_window).
     * UNLOGGED: counters need no WAL, no fsync and no standby; after a crash
     * PostgreSQL empties them, and every bucket starts full again. */
    "CREATE UNLOGGED TABLE rate_buckets("
    " key text PRIMARY KEY,"
    " units bigint NOT NULL,"
    " last_ms bigint NOT NULL,"
    " per_min bigint NOT NULL,"
    " cap bigint NOT NULL);"
    "CREATE UNLOGGED TABLE rate_windows("
    " key text NOT NULL,"
    " window_ms bigint NOT NULL,"
    " count bigint NOT NULL,"
    " PRIMARY KEY(key, window_ms));",
    /* 6: as SQLite's 6 (staff page columns, the payments list's search terms) */
    "ALTER TABLE staff_users ADD COLUMN disabled integer NOT NULL DEFAULT 0;"
    "ALTER TABLE staff_users ADD COLUMN refund_limit bigint NOT NULL DEFAULT -1;"
    "CREATE TABLE payment_terms("
    " merchant_id text NOT NULL,"
    " term text NOT NULL,"
    " payment_id text NOT NULL,"
    " PRIMARY KEY(merchant_id, term, payment_id));"
    "CREATE INDEX payment_terms_payment ON payment_terms(merchant_id, payment_id);"
    "INSERT INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'email:' || lower(body::jsonb->>'email'), id FROM objects"
    " WHERE kind = 'payment_intent' AND body::jsonb->>'email' IS NOT NULL"
    " ON CONFLICT DO NOTHING;"
    "INSERT INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT o.merchant_id, 'meta:' || m.key || '=' || (m.value #>> '{}'), o.id"
    " FROM objects o, jsonb_each(CASE WHEN jsonb_typeof(o.body::jsonb->'metadata') = 'object'"
    " THEN o.body::jsonb->'metadata' ELSE '{}'::jsonb END) m"
    " WHERE o.kind = 'payment_intent' AND jsonb_typeof(m.value) = 'string'"
    " ON CONFLICT DO NOTHING;"
    "INSERT INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'wallet:' || upper(body::jsonb->>'method_detail'), id FROM objects"
    " WHERE kind = 'payment_intent' AND body::jsonb->>'method_type' LIKE 'alipay%'"
    " AND body::jsonb->>'method_detail' IS NOT NULL ON CONFLICT DO NOTHING;"
    "INSERT INTO payment_terms(merchant_id, term, payment_id)"
    " SELECT merchant_id, 'order:' || (body::jsonb->>'order_ref'), id FROM objects"
    " WHERE kind = 'payment_intent' AND body::jsonb->>'order_ref' IS NOT NULL"
    " ON CONFLICT DO NOTHING;",
    /* 7: the analytics rollup (PG_ROLL_*), back-filled from the journal */
    PG_ROLL_TABLE PG_ROLL_FILL PG_ROLL_F_ADD PG_ROLL_F_OP PG_ROLL_T_OP PG_ROLL_F_PAY PG_ROLL_T_PAY,
    /* 8: API keys: several per merchant, each with its mode, expiry (a roll's
     * overlap) and revocation; the merchant's one key so far becomes the first;
     * the recent API request log */
    "CREATE TABLE api_keys("
    " merchant_id text NOT NULL,"
    " id text PRIMARY KEY,"
    " mode text NOT NULL,"
    " kind text NOT NULL,"
    " name text NOT NULL,"
    " key_hash text NOT NULL UNIQUE,"
    " last4 text NOT NULL,"
    " idem text,"
    " created_ms bigint NOT NULL,"
    " expires_ms bigint NOT NULL DEFAULT 0,"
    " revoked_ms bigint NOT NULL DEFAULT 0,"
    " last_used_ms bigint NOT NULL DEFAULT 0,"
    " UNIQUE(merchant_id, idem));"
    "CREATE INDEX api_keys_merchant ON api_keys(merchant_id, created_ms);"
    "INSERT INTO api_keys(merchant_id, id, mode, kind, name, key_hash, last4, created_ms)"
    " SELECT id, 'key_' || substr(id, 6), 'test', 'secret', 'Secret key', secret_key_hash, '',"
    " created * 1000 FROM merchants WHERE secret_key_hash IS NOT NULL;"
    /* the recent API requests (the developers' page), no bodies */
    "CREATE TABLE request_log("
    " seq bigserial PRIMARY KEY,"
    " merchant_id text NOT NULL,"
    " at_ms bigint NOT NULL,"
    " method text NOT NULL,"
    " path text NOT NULL,"
    " status bigint NOT NULL,"
    " dur_us bigint NOT NULL,"
    " idem_key text,"
    " error_code text,"
    " key_id text,"
    " request_id text NOT NULL);"
    "CREATE INDEX request_log_merchant ON request_log(merchant_id, seq);"
    "CREATE INDEX request_log_at ON request_log(at_ms);",
};

#define PG_SCHEMA_VERSION ((int)K_ARRAY_LEN(pg_migrations))

/* ---- statements, prepared once per connection ---- */

#define PG_M_COLS                                                                                  \
    "id, name, secret_key_hash, publishable_key, COALESCE(ecp_project_id, 0), ecp_secret, "        \
    "settings, created"
#define PG_O_COLS                                                                                  \
    "merchant_id, id, kind, parent_id, status, currency, amount, created, due_at, ext_ref, seq, "  \
    "version, body"
#define PG_OP_COLS                                                                                 \
    "merchant_id, id, payment_id, kind, amount, status, code, message, provider_ref, ref_id, "     \
    "body, created_ms, seq"
#define PG_D_COLS                                                                                  \
    "id, merchant_id, event_id, endpoint_id, state, attempts, next_at_ms, last_status, "           \
    "created_ms"
#define PG_I_COLS "merchant_id, key, fingerprint, status, body, created_ms"
#define PG_L_COLS                                                                                  \
    "o.merchant_id, o.id, o.payment_id, o.kind, o.amount, o.status, o.code, o.message,"            \
    " o.provider_ref, o.ref_id, o.body, o.created_ms, o.seq, p.currency,"                          \
    " (p.body::json ->> 'method_type')"
/* The journal kinds analytics sums (the others move no money and count nothing). */
#define PG_L_GROUP_SCAN(FROM, TO)                                                                  \
    "SELECT o.created_ms / $4, o.kind, o.status, o.code, p.currency, " PG_ROLL_METHOD(             \
        "o", "p.body") ", count(*), sum(o.amount)::bigint"                                         \
                       " FROM operations o LEFT JOIN objects p ON p.merchant_id = o.merchant_id"   \
                       " AND p.kind = 'payment_intent' AND p.id = o.payment_id"                    \
                       " WHERE o.merchant_id = $1 AND o.created_ms >= " FROM                       \
                       " AND o.created_ms < " TO " AND o.kind IN (" PG_L_KINDS                     \
                       ") GROUP BY 1, 2, 3, 4, 5, 6"
#define PG_J_COLS                                                                                  \
    "id, merchant_id, kind, ref_id, state, attempts, next_at_ms, last_error, body, created_ms,"    \
    " updated_ms"

/* The shared limits' clock and units (S_RB_*): ms since the epoch on the
 * database server, a token's units, a bucket's units refilled to time t. */
#define PG_NOW_MS  "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define PG_RL_UNIT "60000"
#define PG_RB_UNITS(t)                                                                             \
    "LEAST($3, b.units + LEAST(GREATEST(" t " - b.last_ms, 0), $3 / $2 + 1) * $2)"

enum pg_stmt_id {
    S_M_PUT,
    S_M_GET,
    S_M_BY_KEY,
    S_M_BY_PROJECT,
    S_M_COUNT,
    S_O_INSERT,
    S_O_UPDATE,
    S_O_GET,
    S_O_GET_LOCK,
    S_O_BY_REF,
    S_O_BY_REF_LOCK,
    S_O_FIND_REF,
    S_O_FIND_REF_LOCK,
    S_O_SEQ,
    S_O_DUE,
    S_O_CLAIM_DUE,
    S_OP_INSERT,
    S_OP_LIST,
    S_OP_RANGE_M,
    S_OP_RANGE_ALL,
    S_D_INSERT,
    S_D_CLAIM,
    S_D_UPDATE,
    S_DA_INSERT,
    S_D_LIST,
    S_D_GET,
    S_DA_LIST,
    S_D_NEXT_DUE,
    S_I_LOCK,
    S_I_GET,
    S_I_GET_LOCK,
    S_I_PUT,
    S_I_DEL,
    S_I_PRUNE,
    S_O_SCAN,
    S_L_SCAN,
    S_L_GROUPS,
    S_L_GROUPS_R,
    S_J_INSERT,
    S_J_CLAIM,
    S_J_UPDATE,
    S_J_LIST,
    S_J_RELEASE,
    S_RB_TAKE,
    S_RB_PEEK,
    S_RB_PRUNE,
    S_RW_TAKE,
    S_RW_PRUNE,
    S_COUNT
};

/* Each statement with its parameter types: 't' text, 'i' bigint. */
typedef struct {
    const char *sql;
    const char *types;
} pg_stmt_def;

static const pg_stmt_def pg_sql[S_COUNT] = {
    /* An upsert on id only: another merchant's key hash or project id is a
     * unique violation (K_ECONFLICT), never a silent takeover. */
    [S_M_PUT] = {"INSERT INTO merchants(id, name, secret_key_hash, publishable_key, ecp_project_id,"
                 " ecp_secret, settings, created)"
                 " VALUES($1, $2, $3, $4, NULLIF($5, 0), $6, COALESCE($7, '{}'), $8)"
                 " ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                 " secret_key_hash = excluded.secret_key_hash,"
                 " publishable_key = excluded.publishable_key,"
                 " ecp_project_id = excluded.ecp_project_id, ecp_secret = excluded.ecp_secret,"
                 " settings = excluded.settings, created = excluded.created",
                 "ttttitti"},
    [S_M_GET] = {"SELECT " PG_M_COLS " FROM merchants WHERE id = $1", "t"},
    [S_M_BY_KEY] = {"SELECT " PG_M_COLS " FROM merchants WHERE secret_key_hash = $1", "t"},
    [S_M_BY_PROJECT] = {"SELECT " PG_M_COLS " FROM merchants WHERE ecp_project_id = $1", "i"},
    [S_M_COUNT] = {"SELECT count(*) FROM merchants", ""},
    /* DO NOTHING without a target covers both unique keys (id, ext_ref). */
    [S_O_INSERT] =
        {"INSERT INTO objects(merchant_id, id, kind, parent_id, status, currency, amount,"
         " created, due_at, ext_ref, version, body)"
         " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)"
         " ON CONFLICT DO NOTHING RETURNING seq",
         "ttttttiiitt"},
    /* The NOT EXISTS makes a duplicate ext_ref a 0-row answer (K_ECONFLICT)
     * rather than an error that would abort the job. */
    [S_O_UPDATE] = {"UPDATE objects SET parent_id = $4, status = $5, currency = $6, amount = $7,"
                    " created = $8, due_at = $9, ext_ref = $10, body = $11,"
                    " version = version + 1"
                    " WHERE merchant_id = $1 AND kind = $3 AND id = $2 AND version = $12"
                    " AND ($10 IS NULL OR NOT EXISTS (SELECT 1 FROM objects x WHERE x.kind = $3"
                    " AND x.ext_ref = $10 AND NOT (x.merchant_id = $1 AND x.id = $2)))"
                    " RETURNING seq, version",
                    "ttttttiiitti"},
    [S_O_GET] = {"SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1 AND kind = $2"
                 " AND id = $3",
                 "ttt"},
    [S_O_GET_LOCK] = {"SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1 AND kind = $2"
                      " AND id = $3 FOR UPDATE",
                      "ttt"},
    [S_O_BY_REF] = {"SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1 AND kind = $2"
                    " AND ext_ref = $3",
                    "ttt"},
    [S_O_BY_REF_LOCK] = {"SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1 AND kind = $2"
                         " AND ext_ref = $3 FOR UPDATE",
                         "ttt"},
    [S_O_FIND_REF] = {"SELECT " PG_O_COLS " FROM objects WHERE kind = $1 AND ext_ref = $2", "tt"},
    [S_O_FIND_REF_LOCK] = {"SELECT " PG_O_COLS " FROM objects WHERE kind = $1 AND ext_ref = $2"
                           " FOR UPDATE",
                           "tt"},
    [S_O_SEQ] = {"SELECT seq FROM objects WHERE merchant_id = $1 AND kind = $2 AND id = $3", "ttt"},
    [S_O_DUE] = {"SELECT " PG_O_COLS " FROM objects WHERE due_at > 0 AND due_at <= $1"
                 " ORDER BY due_at, seq LIMIT $2",
                 "ii"},
    /* The schedulers' shared queue: claim a slice in one statement, lease it by
     * moving due_at; other nodes' claims skip the locked rows. */
    [S_O_CLAIM_DUE] = {"WITH c AS (SELECT seq FROM objects WHERE due_at > 0 AND due_at <= $1"
                       " ORDER BY due_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)"
                       " UPDATE objects o SET due_at = $2 FROM c WHERE o.seq = c.seq"
                       " RETURNING o.merchant_id, o.id, o.kind, o.parent_id, o.status,"
                       " o.currency, o.amount, o.created, o.due_at, o.ext_ref, o.seq, o.version,"
                       " o.body",
                       "iii"},
    [S_OP_INSERT] =
        {"INSERT INTO operations(merchant_id, id, payment_id, kind, amount, status, code,"
         " message, provider_ref, ref_id, body, created_ms)"
         " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
         " ON CONFLICT DO NOTHING",
         "ttttitttttti"},
    [S_OP_LIST] = {"SELECT " PG_OP_COLS " FROM operations WHERE merchant_id = $1"
                   " AND payment_id = $2 ORDER BY seq",
                   "tt"},
    [S_OP_RANGE_M] = {"SELECT " PG_OP_COLS " FROM operations WHERE merchant_id = $1"
                      " AND created_ms >= $2 AND created_ms < $3 AND seq > $4"
                      " ORDER BY seq LIMIT $5",
                      "tiiii"},
    [S_OP_RANGE_ALL] = {"SELECT " PG_OP_COLS " FROM operations WHERE created_ms >= $1"
                        " AND created_ms < $2 AND seq > $3 ORDER BY seq LIMIT $4",
                        "iiii"},
    [S_D_INSERT] = {"INSERT INTO deliveries(merchant_id, event_id, endpoint_id, state, attempts,"
                    " next_at_ms, last_status, created_ms)"
                    " VALUES($1, $2, $3, COALESCE($4, 'pending'), $5, $6, $7, $8)"
                    " ON CONFLICT DO NOTHING RETURNING id",
                    "ttttiiii"},
    /* Claim in one statement; SKIP LOCKED lets other nodes' claims pass by. */
    [S_D_CLAIM] = {"WITH c AS (SELECT id FROM deliveries WHERE state = 'pending'"
                   " AND next_at_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1)"
                   " ORDER BY next_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
                   " u AS (UPDATE deliveries d SET lease_until_ms = $3 FROM c WHERE d.id = c.id"
                   " RETURNING d.id, d.merchant_id, d.event_id, d.endpoint_id, d.state,"
                   " d.attempts, d.next_at_ms, d.last_status, d.created_ms)"
                   " SELECT * FROM u ORDER BY next_at_ms, id",
                   "iii"},
    [S_D_UPDATE] = {"UPDATE deliveries SET state = $3, attempts = $4, next_at_ms = $5,"
                    " last_status = $6, lease_until_ms = NULL WHERE merchant_id = $1 AND id = $2",
                    "titiii"},
    [S_DA_INSERT] = {"INSERT INTO delivery_attempts(merchant_id, delivery_id, at_ms, http_status,"
                     " latency_ms, response_head, error) VALUES($1, $2, $3, $4, $5, $6, $7)",
                     "tiiiitt"},
    [S_D_LIST] = {"SELECT " PG_D_COLS " FROM deliveries WHERE merchant_id = $1 AND event_id = $2"
                  " ORDER BY id",
                  "tt"},
    [S_D_GET] = {"SELECT " PG_D_COLS " FROM deliveries WHERE merchant_id = $1 AND id = $2", "ti"},
    [S_DA_LIST] = {"SELECT delivery_id, at_ms, http_status, latency_ms, response_head, error"
                   " FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
                   "i"},
    /* When the next pending delivery becomes claimable: due and not leased. */
    [S_D_NEXT_DUE] = {"SELECT COALESCE(MIN(GREATEST(next_at_ms, COALESCE(lease_until_ms, 0))), 0)"
                      " FROM deliveries WHERE state = 'pending'",
                      ""},
    /* The key's row may not exist yet, so FOR UPDATE alone cannot serialise
     * two nodes claiming it: a transaction advisory lock on the key does. */
    [S_I_LOCK] = {"SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2, 0))", "tt"},
    [S_I_GET] = {"SELECT " PG_I_COLS " FROM idempotency WHERE merchant_id = $1 AND key = $2", "tt"},
    [S_I_GET_LOCK] = {"SELECT " PG_I_COLS " FROM idempotency WHERE merchant_id = $1 AND key = $2"
                      " FOR UPDATE",
                      "tt"},
    [S_I_PUT] = {"INSERT INTO idempotency(" PG_I_COLS ") VALUES($1, $2, $3, $4, $5, $6)"
                 " ON CONFLICT(merchant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
                 " status = excluded.status, body = excluded.body,"
                 " created_ms = excluded.created_ms",
                 "tttiti"},
    [S_I_DEL] = {"DELETE FROM idempotency WHERE merchant_id = $1 AND key = $2", "tt"},
    [S_I_PRUNE] = {"DELETE FROM idempotency WHERE (merchant_id, key) IN (SELECT merchant_id, key"
                   " FROM idempotency WHERE created_ms < $1 ORDER BY created_ms LIMIT $2"
                   " FOR UPDATE SKIP LOCKED)",
                   "ii"},
    /* Keyset pages as two index seeks (see store_sqlite.c's S_O_SCAN). */
    [S_O_SCAN] = {"SELECT * FROM ((SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1"
                  " AND kind = $2 AND created = $5 AND seq > $6 AND created >= $3 AND created < $4"
                  " ORDER BY seq LIMIT $7) UNION ALL (SELECT " PG_O_COLS
                  " FROM objects WHERE merchant_id = $1 AND kind = $2 AND created > $5"
                  " AND created >= $3 AND created < $4 ORDER BY created, seq LIMIT $7)) s"
                  " ORDER BY 8, 11 LIMIT $7",
                  "ttiiiii"},
    [S_L_SCAN] = {"SELECT * FROM ((SELECT " PG_L_COLS " FROM operations o LEFT JOIN objects p"
                  " ON p.merchant_id = o.merchant_id AND p.kind = 'payment_intent'"
                  " AND p.id = o.payment_id WHERE o.merchant_id = $1 AND o.created_ms = $4"
                  " AND o.seq > $5 AND o.created_ms >= $2 AND o.created_ms < $3"
                  " ORDER BY o.seq LIMIT $6) UNION ALL (SELECT " PG_L_COLS
                  " FROM operations o LEFT JOIN objects p"
                  " ON p.merchant_id = o.merchant_id AND p.kind = 'payment_intent'"
                  " AND p.id = o.payment_id WHERE o.merchant_id = $1 AND o.created_ms > $4"
                  " AND o.created_ms >= $2 AND o.created_ms < $3"
                  " ORDER BY o.created_ms, o.seq LIMIT $6)) s ORDER BY 12, 13 LIMIT $6",
                  "tiiiii"},
    /* the method (JSON in the body) only where analytics shows it: successful attempts */
    [S_L_GROUPS] = {"SELECT * FROM (" PG_L_GROUP_SCAN("$2", "$3") ") s ORDER BY 1 LIMIT $5",
                    "tiiii"},
    /* the same from the rollup for the whole 15-minute slots in [$6, $7), the
     * journal for the partial slots at either end */
    [S_L_GROUPS_R] =
        {"SELECT * FROM (" PG_L_GROUP_SCAN(
             "$2",
             "$6") ") h UNION ALL"
                   " SELECT slot, kind, status, CASE WHEN nulls & 1 = 1 THEN NULL ELSE code END,"
                   " CASE WHEN nulls & 2 = 2 THEN NULL ELSE currency END,"
                   " CASE WHEN nulls & 4 = 4 THEN NULL ELSE method END, n, amount"
                   " FROM ledger_rollup WHERE merchant_id = $1 AND slot >= $6 / " PG_ROLL_MS
                   " AND slot < $7 / " PG_ROLL_MS " AND n <> 0"
                   " UNION ALL SELECT * FROM (" PG_L_GROUP_SCAN("$7", "$3") ") t"
                                                                            " ORDER BY 1 LIMIT $5",
         "tiiiiii"},
    [S_J_INSERT] = {"INSERT INTO report_jobs(merchant_id, kind, ref_id, state, attempts,"
                    " next_at_ms, last_error, body, created_ms, updated_ms)"
                    " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    "ttttiittii"},
    /* Claim in one statement; SKIP LOCKED lets other nodes' claims pass by. */
    [S_J_CLAIM] = {"WITH c AS (SELECT id FROM report_jobs WHERE state = 'pending'"
                   " AND next_at_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1)"
                   " ORDER BY next_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
                   " u AS (UPDATE report_jobs j SET lease_until_ms = $3 FROM c WHERE j.id = c.id"
                   " RETURNING j.id, j.merchant_id, j.kind, j.ref_id, j.state, j.attempts,"
                   " j.next_at_ms, j.last_error, j.body, j.created_ms, j.updated_ms)"
                   " SELECT * FROM u ORDER BY next_at_ms, id",
                   "iii"},
    [S_J_UPDATE] = {"UPDATE report_jobs SET state = $3, attempts = $4, next_at_ms = $5,"
                    " last_error = $6, body = $7, updated_ms = $8, lease_until_ms = NULL"
                    " WHERE merchant_id = $1 AND id = $2",
                    "titiitti"},
    [S_J_LIST] = {"SELECT " PG_J_COLS " FROM report_jobs WHERE merchant_id = $1 AND ref_id = $2"
                  " ORDER BY id LIMIT 10000",
                  "tt"},
    [S_J_RELEASE] = {"UPDATE report_jobs SET lease_until_ms = NULL WHERE state = 'pending'"
                     " AND lease_until_ms IS NOT NULL",
                     ""},
    /* Shared limits. A bucket holds `units` (60,000 a token) and gains per_min
     * a millisecond of the database's clock (the nodes' clocks may differ);
     * the take is one conditional upsert: the row lock orders the nodes, and
     * no row comes back when there is no token (nothing changes then). */
    [S_RB_TAKE] = {"INSERT INTO rate_buckets AS b(key, units, last_ms, per_min, cap)"
                   " SELECT $1, $3 - " PG_RL_UNIT ", " PG_NOW_MS ", $2, $3"
                   " ON CONFLICT(key) DO UPDATE SET units = " PG_RB_UNITS(
                       "excluded.last_ms") " - " PG_RL_UNIT
                                           ", last_ms = GREATEST(b.last_ms, excluded.last_ms),"
                                           " per_min = $2, cap = $3"
                                           " WHERE " PG_RB_UNITS(
                                               "excluded.last_ms") " >= " PG_RL_UNIT
                                                                   " RETURNING units",
                   "tii"},
    [S_RB_PEEK] = {"SELECT " PG_RB_UNITS(PG_NOW_MS) " FROM rate_buckets b WHERE key = $1", "tii"},
    /* a full bucket is the same as none */
    [S_RB_PRUNE] = {"DELETE FROM rate_buckets WHERE units + LEAST(GREATEST(" PG_NOW_MS
                    " - last_ms, 0), cap / per_min + 1) * per_min >= cap",
                    ""},
    /* One call of the minute starting at $2, $3 ms into it, under limit $4;
     * the previous minute's share is rounded up, so a minute boundary never
     * lets a call more through. */
    [S_RW_TAKE] = {"WITH p AS (SELECT COALESCE(MAX(count), 0) AS c FROM rate_windows"
                   " WHERE key = $1 AND window_ms = $2 - 60000)"
                   " INSERT INTO rate_windows AS w(key, window_ms, count)"
                   " SELECT $1, $2, 1 FROM p WHERE (p.c * (60000 - $3) + 59999) / 60000 < $4"
                   " ON CONFLICT(key, window_ms) DO UPDATE SET count = w.count + 1"
                   " WHERE w.count + ((SELECT c FROM p) * (60000 - $3) + 59999) / 60000 < $4"
                   " RETURNING count",
                   "tiii"},
    [S_RW_PRUNE] = {"DELETE FROM rate_windows WHERE window_ms < $1 - 120000", "i"},
};

/* store_obj_list's statement depends on which filters are present: 5 optional
 * filters x 3 cursor modes, each variant prepared once on first use. */
enum { PG_LF_PARENT = 1, PG_LF_STATUS = 2, PG_LF_PREFIX = 4, PG_LF_GTE = 8, PG_LF_LTE = 16 };
enum { PG_CUR_NONE, PG_CUR_AFTER, PG_CUR_BEFORE };
#define PG_LIST_VARIANTS (32 * 3)
#define PG_STMT_SLOTS    (S_COUNT + PG_LIST_VARIANTS)

/* ---- state ---- */

typedef struct pg_store pg_store;

typedef struct pg_conn {
    PGconn *db;
    bool prepared[PG_STMT_SLOTS];
    bool failed; /* a statement failed: the (sub)transaction is aborted until rolled back */
    bool full;   /* a statement failed because PostgreSQL's disk is full (53100) */
    bool broken; /* the connection is lost (or points at a read-only standby) */
    /* The writer's transaction control (BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO,
     * NOTIFY, COMMIT) waits here, unsent, and goes out in one pipeline with
     * the next statement (or the COMMIT): no round trip of its own. */
    const char *deferred[PG_DEFER_MAX];
    int ndeferred;
    bool ctl_failed; /* a deferred command failed: nothing of the batch can be trusted */
    struct pg_conn *next_free;
} pg_conn;

struct pg_store {
    store *pub;
    char *url;
    int schema_version;
    pg_conn writer;          /* used by the writer thread only (and open/close) */
    int64_t reconnect_at_ms; /* the writer tries again no earlier than this */
    int64_t backoff_ms;
    store_writer w; /* the group-commit writer (writer.c) */

    bool notify_due; /* the writer's batch added deliveries: NOTIFY before COMMIT */

    pthread_t listener; /* LISTEN PG_CHANNEL on a connection of its own */
    bool listener_started;
    atomic_bool listener_stop;
    pthread_mutex_t wake_mu; /* guards wake_fn/wake_arg; held while calling them */
    void (*wake_fn)(void *arg);
    void *wake_arg;

    pthread_mutex_t rd_mu; /* guards the read pool */
    pthread_cond_t rd_cv;
    pg_conn *rd_free;
    size_t rd_open; /* connections of the pool, free or in use */

    atomic_uint_fast64_t
        limit_calls; /* shared-limit checks: every PG_LIMIT_PRUNE_EVERY-th prunes */
};

static _Thread_local pg_store *pg_reader_of; /* nested store_read would hold two snapshots */

/* ---- parameters ---- */

typedef struct {
    const char *v[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][24];
    int n;
} pg_params;

static void pp_t(pg_params *p, const char *s)
{
    K_ASSERT(p->n < PG_PARAMS_MAX);
    p->v[p->n++] = s;
}

static void pp_i(pg_params *p, int64_t x)
{
    K_ASSERT(p->n < PG_PARAMS_MAX);
    snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

/* ---- errors and statement execution ---- */

static bool pg_state_is(const char *state, const char *want)
{
    return state != NULL && strncmp(state, want, strlen(want)) == 0;
}

static bool pg_conn_lost(const pg_conn *c, const char *state)
{
    if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK || state == NULL)
        return true;
    /* admin shutdown, crash shutdown, cannot connect now; 25006: the server
     * became (or is) a read-only standby after a failover */
    return pg_state_is(state, "08") || pg_state_is(state, "57P01") || pg_state_is(state, "57P02") ||
           pg_state_is(state, "57P03") || pg_state_is(state, "25006");
}

/* Maps a failed result to a status; marks the transaction aborted. */
static k_status pg_err(pg_conn *c, const PGresult *r, const char *what)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r != NULL ? PQresultErrorMessage(r) : "";
    if (msg == NULL || msg[0] == '\0')
        msg = c->db != NULL ? PQerrorMessage(c->db) : "no connection";
    c->failed = true;
    if (pg_conn_lost(c, state)) {
        c->broken = true;
        log_error("store: %s: PostgreSQL connection lost: %s", what, msg);
        return K_EIO;
    }
    if (pg_state_is(state, "23505"))
        return K_ECONFLICT;
    if (pg_state_is(state, "40001") || pg_state_is(state, "40P01")) {
        log_warn("store: %s: %s (%s), the job fails with K_EBUSY", what, msg, state);
        return K_EBUSY;
    }
    if (pg_state_is(state, "53100")) {
        c->full = true;
        log_error("store: %s: PostgreSQL's disk is full: %s", what, msg);
        return K_ENOSPC;
    }
    if (pg_state_is(state, "53"))
        return K_EBUSY;
    if (pg_state_is(state, "57014"))
        return K_ETIMEOUT;
    if (pg_state_is(state, "22001") || pg_state_is(state, "54"))
        return K_ETOOBIG;
    if (pg_state_is(state, "23") || pg_state_is(state, "22")) {
        log_warn("store: %s: %s", what, msg);
        return K_EINVAL;
    }
    log_error("store: %s: %s (%s)", what, msg, state);
    return K_EIO;
}

/* forward: sends the writer's deferred commands (see pg_defer) */
typedef struct pg_stmt pg_stmt;
static k_status pg_run(pg_conn *c, const pg_stmt *st, PGresult **out);

/* Runs a command without parameters (transaction control), after what the
 * writer deferred. */
static k_status pg_cmd(pg_conn *c, const char *sql)
{
    if (c->broken || c->db == NULL)
        return K_EIO;
    if (c->ndeferred > 0 && (pg_run(c, NULL, NULL) != K_OK || c->ctl_failed))
        return K_EIO;
    PGresult *r = PQexec(c->db, sql);
    k_status ks = PQresultStatus(r) == PGRES_COMMAND_OK ? K_OK : pg_err(c, r, sql);
    /* COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK. */
    if (ks == K_OK && strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        log_error("store: COMMIT answered '%s'", PQcmdStatus(r));
        ks = K_EIO;
    }
    PQclear(r);
    return ks;
}

static bool pg_prepare(pg_conn *c, int slot, const char *sql, const char *types)
{
    K_ASSERT(slot >= 0 && slot < PG_STMT_SLOTS);
    if (c->prepared[slot])
        return true;
    Oid oids[PG_PARAMS_MAX];
    int n = (int)strlen(types);
    K_ASSERT(n <= PG_PARAMS_MAX);
    for (int i = 0; i < n; i++)
        oids[i] = types[i] == 'i' ? PG_OID_INT8 : PG_OID_TEXT;
    char name[16];
    snprintf(name, sizeof(name), "k%d", slot);
    PGresult *r = PQprepare(c->db, name, sql, n, oids);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_err(c, r, "prepare");
    PQclear(r);
    c->prepared[slot] = ok;
    return ok;
}

/* One statement for pg_run: prepared (name) or not (sql with its types). */
struct pg_stmt {
    const char *name;
    const char *sql;
    int n;
    const Oid *oids;
    const char *const *vals;
    const char *what;
};

/* The deferred commands' results, in order: one failed makes the batch
 * untrustworthy (ctl_failed; the writer's check fails it whole). */
static void pg_deferred_results(pg_conn *c, int nd)
{
    for (int i = 0; i < nd; i++) {
        PGresult *r = PQgetResult(c->db);
        if (r == NULL) {
            c->broken = c->ctl_failed = c->failed = true;
            return;
        }
        ExecStatusType es = PQresultStatus(r);
        if (es != PGRES_COMMAND_OK) {
            if (!c->ctl_failed && es != PGRES_PIPELINE_ABORTED)
                pg_err(c, r, c->deferred[i]);
            c->ctl_failed = c->failed = true;
        } else if (strcmp(c->deferred[i], "COMMIT") == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
            /* COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK */
            log_error("store: COMMIT answered '%s'", PQcmdStatus(r));
            c->ctl_failed = c->failed = true;
        }
        PQclear(r);
        r = PQgetResult(c->db); /* the NULL that ends this command's results */
        if (r != NULL) {
            PQclear(r);
            c->broken = c->ctl_failed = c->failed = true;
            return;
        }
    }
}

/* Runs st (NULL: only what is deferred). Nothing deferred: one plain
 * exchange. Else libpq's pipeline mode: the deferred commands, st and a sync
 * are sent together and their results read in order, one round trip in all.
 * *out is st's result (PQclear it) on K_OK. */
static k_status pg_run(pg_conn *c, const pg_stmt *st, PGresult **out)
{
    if (out != NULL)
        *out = NULL;
    if (c->ndeferred == 0) {
        if (st == NULL)
            return K_OK;
        PGresult *r = st->name != NULL
                          ? PQexecPrepared(c->db, st->name, st->n, st->vals, NULL, NULL, 0)
                          : PQexecParams(c->db, st->sql, st->n, st->oids, st->vals, NULL, NULL, 0);
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
            *out = r;
            return K_OK;
        }
        k_status ks = pg_err(c, r, st->what);
        PQclear(r);
        return ks;
    }
    int nd = c->ndeferred;
    c->ndeferred = 0;
    bool sent = PQenterPipelineMode(c->db) == 1;
    for (int i = 0; i < nd && sent; i++)
        sent = PQsendQueryParams(c->db, c->deferred[i], 0, NULL, NULL, NULL, NULL, 0) == 1;
    if (sent && st != NULL)
        sent =
            (st->name != NULL ? PQsendQueryPrepared(c->db, st->name, st->n, st->vals, NULL, NULL, 0)
                              : PQsendQueryParams(c->db, st->sql, st->n, st->oids, st->vals, NULL,
                                                  NULL, 0)) == 1;
    if (sent)
        sent = PQpipelineSync(c->db) == 1;
    if (!sent) {
        log_error("store: PostgreSQL connection lost sending a pipeline: %s",
                  PQerrorMessage(c->db));
        c->broken = c->ctl_failed = c->failed = true;
        return K_EIO;
    }
    pg_deferred_results(c, nd);
    if (c->broken)
        return K_EIO;
    k_status ks = c->ctl_failed ? K_EIO : K_OK;
    if (st != NULL) {
        PGresult *r = PQgetResult(c->db);
        ExecStatusType es = PQresultStatus(r);
        if (r != NULL && (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) && ks == K_OK) {
            *out = r;
        } else {
            if (ks == K_OK)
                ks = r == NULL ? K_EIO : pg_err(c, r, st->what);
            c->failed = true;
            PQclear(r);
        }
        PGresult *end = r != NULL ? PQgetResult(c->db) : NULL;
        if (end != NULL) {
            PQclear(end);
            c->broken = true;
        }
    }
    PGresult *sync = PQgetResult(c->db);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        c->broken = true;
    PQclear(sync);
    if (c->broken || PQexitPipelineMode(c->db) != 1) {
        c->broken = c->failed = true;
        if (out != NULL && *out != NULL) {
            PQclear(*out);
            *out = NULL;
        }
        log_error("store: PostgreSQL pipeline ended badly: %s", PQerrorMessage(c->db));
        return K_EIO;
    }
    return ks;
}

/* Holds a transaction-control command back until the next statement or the
 * COMMIT (writer only). */
static void pg_defer(pg_conn *c, const char *sql)
{
    if (c->ndeferred == PG_DEFER_MAX)
        pg_run(c, NULL, NULL); /* a failure is in ctl_failed */
    c->deferred[c->ndeferred++] = sql;
}

/* Runs prepared statement `slot`; *out is the result (PQclear it) on K_OK. */
static k_status pg_exec_slot(pg_conn *c, int slot, const char *sql, const char *types,
                             const pg_params *p, PGresult **out, const char *what)
{
    *out = NULL;
    if (c->broken || c->failed || c->db == NULL)
        return K_EIO; /* the job's transaction is already aborted */
    /* A first use prepares synchronously; what is deferred goes first (it may
     * be the ROLLBACK TO that makes the transaction usable again). */
    if (!c->prepared[slot] && c->ndeferred > 0 && (pg_run(c, NULL, NULL) != K_OK || c->failed))
        return K_EIO;
    if (!pg_prepare(c, slot, sql, types))
        return c->broken ? K_EIO : K_ERR;
    K_ASSERT(p->n == (int)strlen(types));
    char name[16];
    snprintf(name, sizeof(name), "k%d", slot);
    pg_stmt st = {.name = name, .n = p->n, .vals = p->v, .what = what};
    return pg_run(c, &st, out);
}

static k_status pg_exec(pg_conn *c, enum pg_stmt_id id, const pg_params *p, PGresult **out)
{
    K_ASSERT(id < S_COUNT);
    return pg_exec_slot(c, (int)id, pg_sql[id].sql, pg_sql[id].types, p, out, pg_sql[id].sql);
}

/* Rows changed by a command. */
static int64_t pg_changes(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    return t[0] == '\0' ? 0 : strtoll(t, NULL, 10);
}

/* ---- rows ---- */

typedef struct {
    PGresult *r;
    int row;
    arena *a;
    bool oom;
} pg_row;

static const char *pg_text(pg_row *w, int i)
{
    if (PQgetisnull(w->r, w->row, i))
        return NULL;
    const char *t = PQgetvalue(w->r, w->row, i);
    char *copy = arena_strndup(w->a, t, (size_t)PQgetlength(w->r, w->row, i));
    if (copy == NULL)
        w->oom = true;
    return copy;
}

static int64_t pg_int(pg_row *w, int i)
{
    if (PQgetisnull(w->r, w->row, i))
        return 0;
    return strtoll(PQgetvalue(w->r, w->row, i), NULL, 10);
}

static int32_t pg_int32(pg_row *w, int i)
{
    return (int32_t)pg_int(w, i);
}

typedef void (*pg_decode)(pg_row *w, void *out);

static void pg_dec_merchant(pg_row *w, void *out)
{
    store_merchant *m = out;
    m->id = pg_text(w, 0);
    m->name = pg_text(w, 1);
    m->secret_key_hash = pg_text(w, 2);
    m->publishable_key = pg_text(w, 3);
    m->ecp_project_id = pg_int(w, 4);
    m->ecp_secret = pg_text(w, 5);
    m->settings = pg_text(w, 6);
    m->created = pg_int(w, 7);
}

static void pg_dec_obj(pg_row *w, void *out)
{
    store_obj *o = out;
    o->merchant_id = pg_text(w, 0);
    o->id = pg_text(w, 1);
    o->kind = pg_text(w, 2);
    o->parent_id = pg_text(w, 3);
    o->status = pg_text(w, 4);
    o->currency = pg_text(w, 5);
    o->amount = pg_int(w, 6);
    o->created = pg_int(w, 7);
    o->due_at = pg_int(w, 8);
    o->ext_ref = pg_text(w, 9);
    o->seq = pg_int(w, 10);
    o->version = pg_int32(w, 11);
    o->body = pg_text(w, 12);
}

static void pg_dec_op(pg_row *w, void *out)
{
    store_op *op = out;
    op->merchant_id = pg_text(w, 0);
    op->id = pg_text(w, 1);
    op->payment_id = pg_text(w, 2);
    op->kind = pg_text(w, 3);
    op->amount = pg_int(w, 4);
    op->status = pg_text(w, 5);
    op->code = pg_text(w, 6);
    op->message = pg_text(w, 7);
    op->provider_ref = pg_text(w, 8);
    op->ref_id = pg_text(w, 9);
    op->body = pg_text(w, 10);
    op->created_ms = pg_int(w, 11);
    op->seq = pg_int(w, 12);
    K_ASSERT(op->amount >= 0); /* the schema's CHECK, read back */
}

static void pg_dec_delivery(pg_row *w, void *out)
{
    store_delivery *d = out;
    d->id = pg_int(w, 0);
    d->merchant_id = pg_text(w, 1);
    d->event_id = pg_text(w, 2);
    d->endpoint_id = pg_text(w, 3);
    d->state = pg_text(w, 4);
    d->attempts = pg_int32(w, 5);
    d->next_at_ms = pg_int(w, 6);
    d->last_status = pg_int32(w, 7);
    d->created_ms = pg_int(w, 8);
}

static void pg_dec_attempt(pg_row *w, void *out)
{
    store_delivery_attempt *at = out;
    at->delivery_id = pg_int(w, 0);
    at->at_ms = pg_int(w, 1);
    at->http_status = pg_int32(w, 2);
    at->latency_ms = pg_int32(w, 3);
    at->response_head = pg_text(w, 4);
    at->error = pg_text(w, 5);
}

static void pg_dec_idem(pg_row *w, void *out)
{
    store_idem *k = out;
    k->merchant_id = pg_text(w, 0);
    k->key = pg_text(w, 1);
    k->fingerprint = pg_text(w, 2);
    k->status = pg_int32(w, 3);
    k->body = pg_text(w, 4);
    k->created_ms = pg_int(w, 5);
}

/* Decodes the first row of r into out (K_ENOTFOUND when none); clears r. */
static k_status pg_one(PGresult *r, pg_decode dec, arena *a, void *out)
{
    k_status ks = K_ENOTFOUND;
    if (PQntuples(r) > 0) {
        pg_row w = {r, 0, a, false};
        dec(&w, out);
        ks = w.oom ? K_ENOMEM : K_OK;
    }
    PQclear(r);
    return ks;
}

/* Decodes every row of r into an arena array; clears r. */
static k_status pg_many(PGresult *r, pg_decode dec, size_t elem, arena *a, void **out, size_t *n)
{
    size_t cnt = (size_t)PQntuples(r);
    K_ASSERT(cnt <= LIMIT_STORE_ROWS_MAX + 1);
    unsigned char *arr = NULL;
    k_status ks = K_OK;
    if (cnt > 0) {
        arr = arena_alloc(a, cnt * elem);
        if (arr == NULL)
            ks = K_ENOMEM;
    }
    for (size_t i = 0; ks == K_OK && i < cnt; i++) {
        pg_row w = {r, (int)i, a, false};
        dec(&w, arr + i * elem);
        if (w.oom)
            ks = K_ENOMEM;
    }
    PQclear(r);
    if (ks != K_OK)
        return ks;
    *out = arr;
    *n = cnt;
    return K_OK;
}

static k_status pg_query_one(store_tx *tx, enum pg_stmt_id id, const pg_params *p, pg_decode dec,
                             arena *a, void *out)
{
    PGresult *r = NULL;
    k_status ks = pg_exec(tx->conn, id, p, &r);
    return ks != K_OK ? ks : pg_one(r, dec, a, out);
}

static k_status pg_query_many(store_tx *tx, enum pg_stmt_id id, const pg_params *p, pg_decode dec,
                              size_t elem, arena *a, void **out, size_t *n)
{
    PGresult *r = NULL;
    k_status ks = pg_exec(tx->conn, id, p, &r);
    return ks != K_OK ? ks : pg_many(r, dec, elem, a, out, n);
}

/* Runs a statement whose rows are not needed; *changed gets the row count. */
static k_status pg_command(store_tx *tx, enum pg_stmt_id id, const pg_params *p, int64_t *changed)
{
    PGresult *r = NULL;
    k_status ks = pg_exec(tx->conn, id, p, &r);
    if (ks != K_OK)
        return ks;
    if (changed != NULL)
        *changed = pg_changes(r);
    PQclear(r);
    return K_OK;
}

/* ---- connections ---- */

static void pg_notice(void *arg, const char *message)
{
    log_debug("store: PostgreSQL notice: %s", message);
}

static void pg_disconnect(pg_conn *c)
{
    if (c->db != NULL)
        PQfinish(c->db);
    c->db = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
    c->failed = false;
    c->broken = false;
    c->ndeferred = 0;
    c->ctl_failed = false;
}

/* Money is read and written on the primary only (Jepsen; docs/scaling.md):
 * true when the server c is connected to is a primary taking writes, else a
 * clear log line. libpq's target_session_attrs=read-write already skips a
 * standby among several hosts; this also refuses a lone server that is in
 * recovery or read-only by configuration (default_transaction_read_only). */
static bool pg_is_primary(pg_conn *c)
{
    PGresult *r = PQexec(c->db, "SELECT pg_is_in_recovery()::text,"
                                " current_setting('transaction_read_only')");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (!ok)
        log_error("store: cannot ask PostgreSQL whether it is a primary: %s",
                  PQerrorMessage(c->db));
    else if (strcmp(PQgetvalue(r, 0, 0), "false") != 0 || strcmp(PQgetvalue(r, 0, 1), "off") != 0) {
        log_error("store: refusing PostgreSQL server %s:%s: it is not a primary taking writes "
                  "(in recovery: %s, read-only: %s); Kassa reads and writes money only on "
                  "the primary",
                  PQhost(c->db), PQport(c->db), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        ok = false;
    }
    PQclear(r);
    return ok;
}

/* Connects c (its statements are prepared again on first use). The URL's own
 * parameters win over these defaults (they come after them), except
 * target_session_attrs, which comes last: a standby is never connected to. */
static k_status pg_connect(pg_store *ps, pg_conn *c)
{
    pg_disconnect(c);
    const char *const keys[] = {
        "connect_timeout",      "keepalives", "tcp_user_timeout", "application_name", "dbname",
        "target_session_attrs", NULL};
    const char *const vals[] = {"5", "1", "5000", "kassa", ps->url, "read-write", NULL};
    c->db = PQconnectdbParams(keys, vals, 1);
    if (c->db == NULL)
        return K_ENOMEM;
    if (PQstatus(c->db) != CONNECTION_OK) {
        /* The message names host and port, never the password. */
        const char *msg = PQerrorMessage(c->db);
        if (strstr(msg, "read-only") != NULL || strstr(msg, "hot standby") != NULL)
            log_error("store: refusing PostgreSQL: no server of the URL is a primary taking "
                      "writes (Kassa reads and writes money only on the primary): %s",
                      msg);
        else
            log_error("store: cannot connect to PostgreSQL: %s", msg);
        pg_disconnect(c);
        return K_EIO;
    }
    if (!pg_is_primary(c)) {
        pg_disconnect(c);
        return K_EIO;
    }
    PQsetNoticeProcessor(c->db, pg_notice, NULL);
    /* synchronous_commit=on is what makes a K_OK from store_write durable;
     * a session idle inside a transaction (a stuck closure) is cut off. */
    k_status ks = pg_cmd(c, "SET synchronous_commit = on;"
                            " SET idle_in_transaction_session_timeout = '60s';"
                            " SET default_transaction_isolation = 'read committed'");
    if (ks != K_OK) {
        pg_disconnect(c);
        return K_EIO;
    }
    return K_OK;
}

/* ---- migrations ---- */

static k_status pg_read_version(pg_conn *c, int *out)
{
    PGresult *r = PQexec(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    k_status ks = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                      ? K_OK
                      : pg_err(c, r, "schema version");
    if (ks == K_OK)
        *out = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ks;
}

/* Applies migration v (1-based) unless another node got there first: the
 * advisory lock makes concurrent starters take turns. */
static k_status pg_migrate_one(pg_conn *c, int v, int *cur)
{
    char lock[160];
    snprintf(lock, sizeof(lock),
             "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
             " CREATE TABLE IF NOT EXISTS schema_version("
             "version integer PRIMARY KEY, applied_ms bigint NOT NULL)",
             (long long)PG_MIGRATE_LOCK_KEY);
    k_status ks = pg_cmd(c, lock);
    if (ks == K_OK)
        ks = pg_read_version(c, cur);
    if (ks == K_OK && *cur > PG_SCHEMA_VERSION) {
        log_error("store: the database has schema version %d, newer than this binary's %d", *cur,
                  PG_SCHEMA_VERSION);
        ks = K_EINVAL;
    }
    bool applied = false;
    if (ks == K_OK && *cur < v) {
        ks = pg_cmd(c, pg_migrations[v - 1]);
        char ins[128];
        snprintf(ins, sizeof(ins),
                 "INSERT INTO schema_version(version, applied_ms) VALUES(%d, %lld)", v,
                 (long long)clock_now_ms());
        if (ks == K_OK)
            ks = pg_cmd(c, ins);
        applied = ks == K_OK;
    }
    if (ks == K_OK)
        ks = pg_cmd(c, "COMMIT");
    if (ks != K_OK) {
        if (!c->broken) {
            PGresult *r = PQexec(c->db, "ROLLBACK");
            PQclear(r);
        }
        c->failed = false;
        log_error("store: PostgreSQL migration %d failed", v);
        return ks;
    }
    if (applied)
        log_info("store: applied PostgreSQL migration %d", v);
    return K_OK;
}

static k_status pg_migrate(pg_conn *c, int *version)
{
    for (int v = 1; v <= PG_SCHEMA_VERSION; v++) {
        int cur = 0;
        k_status ks = pg_migrate_one(c, v, &cur);
        if (ks != K_OK)
            return ks;
    }
    k_status ks = pg_read_version(c, version);
    if (ks == K_OK)
        K_ASSERT(*version == PG_SCHEMA_VERSION);
    return ks;
}

/* ---- the writer ---- */

/* Connects the writer when needed, at most once per backoff period. */
static bool pg_writer_ready(pg_store *ps)
{
    pg_conn *c = &ps->writer;
    if (c->db != NULL && !c->broken && PQstatus(c->db) == CONNECTION_OK)
        return true;
    int64_t now = clock_mono_ms();
    if (now < ps->reconnect_at_ms)
        return false;
    if (pg_connect(ps, c) == K_OK) {
        log_info("store: PostgreSQL writer connection re-established");
        ps->backoff_ms = PG_BACKOFF_MIN_MS;
        return true;
    }
    /* exponential backoff with jitter, so nodes do not reconnect in step */
    int64_t jitter = (int64_t)(clock_mono_ms() % (ps->backoff_ms / 4 + 1));
    ps->reconnect_at_ms = now + ps->backoff_ms + jitter;
    ps->backoff_ms =
        ps->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : ps->backoff_ms * 2;
    return false;
}

/* The writer's verbs are deferred (pg_defer): a job costs the round trips of
 * its own statements, its SAVEPOINT and RELEASE ride along with them, and the
 * batch's BEGIN with its first statement. */
static void *pg_begin(void *ctx)
{
    pg_store *ps = ctx;
    if (!pg_writer_ready(ps))
        return NULL;
    K_ASSERT(ps->writer.ndeferred == 0);
    pg_defer(&ps->writer, "BEGIN ISOLATION LEVEL READ COMMITTED");
    return &ps->writer;
}

static bool pg_savepoint(void *ctx)
{
    pg_store *ps = ctx;
    pg_defer(&ps->writer, "SAVEPOINT j");
    return !ps->writer.broken && !ps->writer.ctl_failed;
}

static bool pg_check(void *ctx, k_status *st)
{
    pg_store *ps = ctx;
    pg_conn *c = &ps->writer;
    if (c->broken || c->ctl_failed)
        return false;
    if (c->failed && *st == K_OK)
        *st = K_EIO; /* a statement failed but the closure carried on: keep none of it */
    return true;
}

static bool pg_release(void *ctx)
{
    pg_store *ps = ctx;
    pg_defer(&ps->writer, "RELEASE j");
    return !ps->writer.broken && !ps->writer.ctl_failed;
}

static bool pg_rollback_to(void *ctx)
{
    pg_store *ps = ctx;
    ps->writer.failed = false;
    pg_defer(&ps->writer, "ROLLBACK TO j");
    return !ps->writer.broken && !ps->writer.ctl_failed;
}

static bool pg_commit(void *ctx, size_t jobs)
{
    pg_store *ps = ctx;
    pg_conn *c = &ps->writer;
    bool notify = ps->notify_due;
    ps->notify_due = false;
    if (notify)
        pg_defer(c, "NOTIFY " PG_CHANNEL);
    pg_defer(c, "COMMIT");
    if (pg_run(c, NULL, NULL) != K_OK || c->ctl_failed || c->broken) {
        log_error("store: COMMIT of a batch of %zu failed: outcome unknown, answering K_EIO", jobs);
        return false;
    }
    K_ASSERT(PQtransactionStatus(c->db) == PQTRANS_IDLE);
    return true;
}

/* The batch failed: the transaction is gone (or its COMMIT's outcome is
 * unknown). A lost connection is dropped, to be re-made by the next begin. */
static k_status pg_abort(void *ctx)
{
    pg_store *ps = ctx;
    pg_conn *c = &ps->writer;
    k_status why = c->full ? K_ENOSPC : K_EIO;
    c->full = false;
    ps->notify_due = false;
    c->ndeferred = 0;
    c->ctl_failed = false;
    if (c->db != NULL && PQpipelineStatus(c->db) != PQ_PIPELINE_OFF)
        c->broken = true; /* results still unread: start over on a new connection */
    if (c->db != NULL && !c->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->db, "ROLLBACK");
        PQclear(r);
    }
    c->failed = false;
    if (c->broken) {
        pg_disconnect(c);
        ps->reconnect_at_ms = 0; /* the first reconnect is immediate, then backoff */
    }
    return why;
}

static const store_writer_hooks pg_hooks = {
    .begin = pg_begin,
    .savepoint = pg_savepoint,
    .check = pg_check,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .commit = pg_commit,
    .abort = pg_abort,
};

static k_status pg_write(store *s, store_fn fn, void *arg)
{
    pg_store *ps = s->impl;
    return store_writer_submit(&ps->w, fn, arg);
}

static k_status pg_write_async(store *s, store_fn fn, void *arg, int64_t deadline_ms,
                               store_done_fn done, void *done_arg)
{
    pg_store *ps = s->impl;
    return store_writer_submit_async(&ps->w, fn, arg, deadline_ms, done, done_arg);
}

/* ---- reads ---- */

static void pg_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Takes a free pool connection, opens one while under the limit, or waits. */
static k_status pg_reader_take(pg_store *ps, pg_conn **out)
{
    struct timespec until;
    pg_deadline(&until, LIMIT_PG_READ_WAIT_MS);
    pthread_mutex_lock(&ps->rd_mu);
    while (ps->rd_free == NULL && ps->rd_open >= LIMIT_PG_READ_CONNS_MAX) {
        if (pthread_cond_timedwait(&ps->rd_cv, &ps->rd_mu, &until) == ETIMEDOUT &&
            ps->rd_free == NULL) {
            pthread_mutex_unlock(&ps->rd_mu);
            log_warn("store: all %d PostgreSQL read connections busy", LIMIT_PG_READ_CONNS_MAX);
            return K_EBUSY;
        }
    }
    pg_conn *c = ps->rd_free;
    if (c != NULL) {
        ps->rd_free = c->next_free;
        c->next_free = NULL;
        pthread_mutex_unlock(&ps->rd_mu);
        *out = c;
        return K_OK;
    }
    ps->rd_open++; /* reserved: connect outside the lock */
    pthread_mutex_unlock(&ps->rd_mu);
    c = calloc(1, sizeof(*c));
    k_status ks = c == NULL ? K_ENOMEM : pg_connect(ps, c);
    if (ks != K_OK) {
        free(c);
        pthread_mutex_lock(&ps->rd_mu);
        ps->rd_open--;
        pthread_cond_signal(&ps->rd_cv);
        pthread_mutex_unlock(&ps->rd_mu);
        return ks;
    }
    *out = c;
    return K_OK;
}

/* Returns a connection to the pool; a lost one is closed instead. */
static void pg_reader_give(pg_store *ps, pg_conn *c)
{
    bool lost = c->broken || c->db == NULL || PQstatus(c->db) != CONNECTION_OK;
    if (lost) {
        pg_disconnect(c);
        free(c);
    }
    pthread_mutex_lock(&ps->rd_mu);
    if (lost) {
        K_ASSERT(ps->rd_open > 0);
        ps->rd_open--;
    } else {
        c->next_free = ps->rd_free;
        ps->rd_free = c;
    }
    pthread_cond_signal(&ps->rd_cv);
    pthread_mutex_unlock(&ps->rd_mu);
}

static k_status pg_read(store *s, store_fn fn, void *arg)
{
    pg_store *ps = s->impl;
    K_ASSERT(pg_reader_of != ps); /* store_read inside a read closure */
    pg_conn *c = NULL;
    k_status ks = pg_reader_take(ps, &c);
    if (ks != K_OK)
        return ks;
    ks = pg_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (ks != K_OK) {
        c->failed = false;
        pg_reader_give(ps, c);
        return K_EIO;
    }
    store_tx tx = {s, c, false};
    pg_reader_of = ps;
    k_status st = fn(&tx, arg);
    pg_reader_of = NULL;
    if (c->failed && !c->broken) {
        c->failed = false;
        pg_cmd(c, "ROLLBACK");
        if (st == K_OK)
            st = K_EIO;
    } else if (pg_cmd(c, "COMMIT") != K_OK && st == K_OK) {
        st = K_EIO;
    }
    c->failed = false;
    pg_reader_give(ps, c);
    return st;
}

/* ---- limits shared by every node ---- */

/* Runs one shared-limit statement in autocommit on a pool connection; *out
 * is its result (PQclear it) on K_OK. Every PG_LIMIT_PRUNE_EVERY-th call also
 * deletes what no longer counts (full buckets, minutes before the last two). */
static k_status pg_limit_exec(pg_store *ps, enum pg_stmt_id id, const pg_params *p, int64_t now_ms,
                              PGresult **out)
{
    K_ASSERT(pg_reader_of != ps); /* a read closure holds a pool connection already */
    pg_conn *c = NULL;
    k_status ks = pg_reader_take(ps, &c);
    if (ks != K_OK)
        return ks;
    ks = pg_exec(c, id, p, out);
    if (ks == K_OK && atomic_fetch_add(&ps->limit_calls, 1) % PG_LIMIT_PRUNE_EVERY == 0) {
        PGresult *r = NULL;
        pg_params none = {0};
        if (pg_exec(c, S_RB_PRUNE, &none, &r) == K_OK)
            PQclear(r);
        c->failed = false;
        pg_params w = {0};
        pp_i(&w, now_ms);
        if (pg_exec(c, S_RW_PRUNE, &w, &r) == K_OK)
            PQclear(r);
    }
    c->failed = false; /* autocommit: a failed statement leaves no transaction behind */
    pg_reader_give(ps, c);
    return ks;
}

static k_status pg_limit_bucket(store *s, const char *key, int64_t per_minute, int64_t burst,
                                bool take, bool *ok, int64_t *retry_after_ms)
{
    pg_store *ps = s->impl;
    const int64_t unit = 60000;
    pg_params p = {0};
    pp_t(&p, key);
    pp_i(&p, per_minute);
    pp_i(&p, burst * unit);
    PGresult *r = NULL;
    k_status ks = K_OK;
    if (take) {
        ks = pg_limit_exec(ps, S_RB_TAKE, &p, 0, &r);
        if (ks != K_OK)
            return ks;
        *ok = PQntuples(r) == 1;
        PQclear(r);
        if (*ok)
            return K_OK;
    }
    /* no token taken (or a look only): how many units are there now? */
    ks = pg_limit_exec(ps, S_RB_PEEK, &p, 0, &r);
    if (ks != K_OK)
        return ks;
    int64_t units = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : burst * unit;
    PQclear(r);
    if (!take)
        *ok = units >= unit;
    int64_t missing = units >= unit ? 0 : unit - units;
    if (!*ok)
        *retry_after_ms = missing > 0 ? (missing + per_minute - 1) / per_minute : 1;
    return K_OK;
}

static k_status pg_limit_window(store *s, const char *key, int64_t limit, int64_t now_ms, bool *ok,
                                int64_t *retry_after_ms)
{
    pg_store *ps = s->impl;
    int64_t passed = now_ms % 60000;
    pg_params p = {0};
    pp_t(&p, key);
    pp_i(&p, now_ms - passed);
    pp_i(&p, passed);
    pp_i(&p, limit);
    PGresult *r = NULL;
    k_status ks = pg_limit_exec(ps, S_RW_TAKE, &p, now_ms, &r);
    if (ks != K_OK)
        return ks;
    *ok = PQntuples(r) == 1;
    PQclear(r);
    *retry_after_ms = 60000 - passed;
    return K_OK;
}

/* ---- wake-ups from other nodes ---- */

static void pg_wake(pg_store *ps)
{
    pthread_mutex_lock(&ps->wake_mu);
    if (ps->wake_fn != NULL)
        ps->wake_fn(ps->wake_arg);
    pthread_mutex_unlock(&ps->wake_mu);
}

/* Sleeps ms in PG_LISTEN_POLL_MS slices; false when asked to stop. */
static bool pg_listener_sleep(pg_store *ps, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += PG_LISTEN_POLL_MS) {
        if (atomic_load(&ps->listener_stop))
            return false;
        struct timespec ts = {0, PG_LISTEN_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !atomic_load(&ps->listener_stop);
}

/* Reads what arrived on the LISTEN connection; false when it is lost. */
static bool pg_listener_read(pg_store *ps, pg_conn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c->db), .events = POLLIN};
    int rc = poll(&pfd, 1, PG_LISTEN_POLL_MS);
    if (rc < 0)
        return errno == EINTR;
    if (rc == 0)
        return true;
    if (!PQconsumeInput(c->db)) {
        log_warn("store: the PostgreSQL LISTEN connection was lost: %s", PQerrorMessage(c->db));
        return false;
    }
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(c->db)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    if (any)
        pg_wake(ps);
    return PQstatus(c->db) == CONNECTION_OK;
}

static void *pg_listener_main(void *arg)
{
    pg_store *ps = arg;
    pthread_setname_np(pthread_self(), "pg-listen");
    pg_conn c = {0};
    int64_t backoff_ms = PG_BACKOFF_MIN_MS;
    while (!atomic_load(&ps->listener_stop)) {
        if (c.db == NULL) {
            if (pg_connect(ps, &c) != K_OK || pg_cmd(&c, "LISTEN " PG_CHANNEL) != K_OK) {
                pg_disconnect(&c);
                if (!pg_listener_sleep(ps, backoff_ms))
                    break;
                backoff_ms =
                    backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : backoff_ms * 2;
                continue;
            }
            backoff_ms = PG_BACKOFF_MIN_MS;
            pg_wake(ps); /* what was notified while no one listened */
        }
        if (!pg_listener_read(ps, &c))
            pg_disconnect(&c);
    }
    pg_disconnect(&c);
    return NULL;
}

static void pg_set_wake(store *s, void (*fn)(void *arg), void *arg)
{
    pg_store *ps = s->impl;
    pthread_mutex_lock(&ps->wake_mu);
    ps->wake_fn = fn;
    ps->wake_arg = arg;
    pthread_mutex_unlock(&ps->wake_mu);
}

/* ---- lifecycle ---- */

static void pg_store_free(pg_store *ps)
{
    pthread_mutex_destroy(&ps->wake_mu);
    pthread_mutex_destroy(&ps->rd_mu);
    pthread_cond_destroy(&ps->rd_cv);
    free(ps->url);
    free(ps);
}

static k_status pg_open(store *s, const char *url)
{
    pg_store *ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return K_ENOMEM;
    ps->pub = s;
    ps->url = strdup(url);
    ps->backoff_ms = PG_BACKOFF_MIN_MS;
    pthread_mutex_init(&ps->rd_mu, NULL);
    pthread_cond_init(&ps->rd_cv, NULL);
    pthread_mutex_init(&ps->wake_mu, NULL);
    atomic_init(&ps->listener_stop, false);
    atomic_init(&ps->limit_calls, 0);
    if (ps->url == NULL) {
        pg_store_free(ps);
        return K_ENOMEM;
    }
    k_status ks = pg_connect(ps, &ps->writer);
    if (ks == K_OK)
        ks = pg_migrate(&ps->writer, &ps->schema_version);
    if (ks == K_OK)
        ks = store_writer_start(&ps->w, s, &pg_hooks, ps, "pg-writer");
    if (ks != K_OK) {
        log_error("store: cannot open the PostgreSQL database: %s", k_status_str(ks));
        pg_disconnect(&ps->writer);
        pg_store_free(ps);
        return ks;
    }
    log_info("store: PostgreSQL database '%s' on %s:%s, schema version %d", PQdb(ps->writer.db),
             PQhost(ps->writer.db), PQport(ps->writer.db), ps->schema_version);
    /* Without the listener, other nodes' deliveries wait for the poll: a
     * slower start, not a failure. */
    ps->listener_started = pthread_create(&ps->listener, NULL, pg_listener_main, ps) == 0;
    if (!ps->listener_started)
        log_warn("store: no PostgreSQL listener thread; other nodes' work is found by polling");
    s->impl = ps;
    return K_OK;
}

static void pg_close(store *s)
{
    pg_store *ps = s->impl;
    if (ps->listener_started) {
        atomic_store(&ps->listener_stop, true);
        pthread_join(ps->listener, NULL);
    }
    store_writer_stop(&ps->w); /* drains the queue first */

    pthread_mutex_lock(&ps->rd_mu);
    while (ps->rd_free != NULL) {
        pg_conn *c = ps->rd_free;
        ps->rd_free = c->next_free;
        pg_disconnect(c);
        free(c);
        ps->rd_open--;
    }
    K_ASSERT(ps->rd_open == 0); /* no read may still run at close */
    pthread_mutex_unlock(&ps->rd_mu);
    pg_disconnect(&ps->writer);
    pg_store_free(ps);
    s->impl = NULL;
}

static int pg_schema_version(store *s)
{
    pg_store *ps = s->impl;
    return ps->schema_version;
}

static void pg_get_stats(store *s, store_stats *out)
{
    pg_store *ps = s->impl;
    store_writer_stats(&ps->w, out);
}

static pg_conn *pg_tx_conn(store_tx *tx)
{
    pg_conn *c = tx->conn;
    K_ASSERT(c != NULL);
    K_ASSERT(c->db != NULL);
    return c;
}

/* ---- merchants ---- */

static k_status pg_merchant_put(store_tx *tx, const store_merchant *m)
{
    pg_conn *c = pg_tx_conn(tx);
    pg_params p = {0};
    pp_t(&p, m->id);
    pp_t(&p, m->name);
    pp_t(&p, m->secret_key_hash);
    pp_t(&p, m->publishable_key);
    pp_i(&p, m->ecp_project_id);
    pp_t(&p, m->ecp_secret);
    pp_t(&p, m->settings);
    pp_i(&p, m->created);
    /* Its own savepoint: a taken key hash or project id is an answer
     * (K_ECONFLICT) that the closure may act on, not an aborted job. */
    k_status ks = pg_cmd(c, "SAVEPOINT m");
    if (ks != K_OK)
        return ks;
    ks = pg_command(tx, S_M_PUT, &p, NULL);
    if (ks == K_OK)
        return pg_cmd(c, "RELEASE m");
    if (c->broken)
        return ks;
    c->failed = false;
    if (pg_cmd(c, "ROLLBACK TO m") != K_OK || pg_cmd(c, "RELEASE m") != K_OK)
        return K_EIO;
    return ks;
}

static k_status pg_merchant_get(store_tx *tx, const char *id, arena *a, store_merchant *out)
{
    pg_params p = {0};
    pp_t(&p, id);
    return pg_query_one(tx, S_M_GET, &p, pg_dec_merchant, a, out);
}

static k_status pg_merchant_by_key(store_tx *tx, const char *secret_key_hash, arena *a,
                                   store_merchant *out)
{
    pg_params p = {0};
    pp_t(&p, secret_key_hash);
    return pg_query_one(tx, S_M_BY_KEY, &p, pg_dec_merchant, a, out);
}

static k_status pg_merchant_by_project(store_tx *tx, int64_t project_id, arena *a,
                                       store_merchant *out)
{
    if (project_id == 0)
        return K_ENOTFOUND; /* 0 is stored as NULL: "no ECommPay project" */
    pg_params p = {0};
    pp_i(&p, project_id);
    return pg_query_one(tx, S_M_BY_PROJECT, &p, pg_dec_merchant, a, out);
}

static k_status pg_merchant_count(store_tx *tx, int64_t *out)
{
    pg_params p = {0};
    PGresult *r = NULL;
    k_status ks = pg_exec(pg_tx_conn(tx), S_M_COUNT, &p, &r);
    if (ks != K_OK)
        return ks;
    K_ASSERT(PQntuples(r) == 1);
    *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return K_OK;
}

/* ---- documents ---- */

static k_status pg_obj_put(store_tx *tx, store_obj *o)
{
    pg_conn *c = pg_tx_conn(tx);
    bool insert = o->version == 0;
    pg_params p = {0};
    pp_t(&p, o->merchant_id);
    pp_t(&p, o->id);
    pp_t(&p, o->kind);
    pp_t(&p, o->parent_id);
    pp_t(&p, o->status);
    pp_t(&p, o->currency);
    pp_i(&p, o->amount);
    pp_i(&p, o->created);
    pp_i(&p, o->due_at);
    pp_t(&p, o->ext_ref);
    pp_t(&p, o->body);
    if (!insert)
        pp_i(&p, o->version);
    PGresult *r = NULL;
    k_status ks = pg_exec(c, insert ? S_O_INSERT : S_O_UPDATE, &p, &r);
    if (ks != K_OK)
        return ks;
    if (PQntuples(r) == 0) {
        PQclear(r);
        /* insert: the id or ext_ref is taken; update: changed or gone since read */
        return K_ECONFLICT;
    }
    int64_t seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int32_t version = insert ? 1 : (int32_t)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    K_ASSERT(seq > 0);
    K_ASSERT(version == o->version + 1);
    o->seq = seq;
    o->version = version;
    return K_OK;
}

/* Lookups inside a write transaction lock the row: another node's writer
 * doing the same read-check-write waits for our commit. */
static k_status pg_obj_key(store_tx *tx, enum pg_stmt_id plain, enum pg_stmt_id locking,
                           const char *k1, const char *k2, const char *k3, arena *a, store_obj *out)
{
    pg_params p = {0};
    pp_t(&p, k1);
    pp_t(&p, k2);
    if (k3 != NULL)
        pp_t(&p, k3);
    return pg_query_one(tx, tx->writable ? locking : plain, &p, pg_dec_obj, a, out);
}

static k_status pg_obj_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                           arena *a, store_obj *out)
{
    return pg_obj_key(tx, S_O_GET, S_O_GET_LOCK, merchant_id, kind, id, a, out);
}

static k_status pg_obj_by_ref(store_tx *tx, const char *merchant_id, const char *kind,
                              const char *ext_ref, arena *a, store_obj *out)
{
    return pg_obj_key(tx, S_O_BY_REF, S_O_BY_REF_LOCK, merchant_id, kind, ext_ref, a, out);
}

static k_status pg_obj_find_ref(store_tx *tx, const char *kind, const char *ext_ref, arena *a,
                                store_obj *out)
{
    return pg_obj_key(tx, S_O_FIND_REF, S_O_FIND_REF_LOCK, kind, ext_ref, NULL, a, out);
}

static k_status pg_obj_seq(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                           int64_t *seq)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, kind);
    pp_t(&p, id);
    PGresult *r = NULL;
    k_status ks = pg_exec(pg_tx_conn(tx), S_O_SEQ, &p, &r);
    if (ks != K_OK)
        return ks;
    if (PQntuples(r) == 0)
        ks = K_ENOTFOUND;
    else
        *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ks;
}

/* The list statement's text for one combination of filters. Parameters: $1
 * merchant, $2 kind, $3 parent, $4 status, $5 type prefix, $6 created_gte, $7
 * created_lte, $8 cursor seq, $9 limit (all typed, so unused ones are fine). */
static void pg_list_sql(char *sql, size_t cap, unsigned mask, int cursor)
{
    int len = snprintf(
        sql, cap,
        "SELECT " PG_O_COLS " FROM objects WHERE merchant_id = $1 AND kind = $2%s%s%s%s%s%s"
        " ORDER BY seq %s LIMIT $9",
        (mask & PG_LF_PARENT) ? " AND parent_id = $3" : "",
        (mask & PG_LF_STATUS) ? " AND status = $4" : "",
        /* an exact prefix test: LIKE would treat '_' in event types as a wildcard */
        (mask & PG_LF_PREFIX) ? " AND starts_with(status, $5)" : "",
        (mask & PG_LF_GTE) ? " AND created >= $6" : "",
        (mask & PG_LF_LTE) ? " AND created <= $7" : "",
        cursor == PG_CUR_AFTER ? " AND seq < $8" : (cursor == PG_CUR_BEFORE ? " AND seq > $8" : ""),
        cursor == PG_CUR_BEFORE ? "ASC" : "DESC");
    K_ASSERT(len > 0 && (size_t)len < cap);
}

static void pg_reverse(store_obj *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        store_obj t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

static k_status pg_obj_list(store_tx *tx, const char *merchant_id, const char *kind,
                            const store_list_q *q, arena *a, store_obj **out, size_t *n,
                            bool *has_more)
{
    int cursor = PG_CUR_NONE;
    int64_t cursor_seq = 0;
    if (q->starting_after != NULL || q->ending_before != NULL) {
        cursor = q->starting_after != NULL ? PG_CUR_AFTER : PG_CUR_BEFORE;
        const char *cid = q->starting_after != NULL ? q->starting_after : q->ending_before;
        k_status ks = pg_obj_seq(tx, merchant_id, kind, cid, &cursor_seq);
        if (ks != K_OK)
            return ks;
    }
    unsigned mask = (q->parent_id ? PG_LF_PARENT : 0) | (q->status ? PG_LF_STATUS : 0) |
                    (q->type_prefix ? PG_LF_PREFIX : 0) | (q->created_gte ? PG_LF_GTE : 0) |
                    (q->created_lte ? PG_LF_LTE : 0);
    int variant = (int)mask * 3 + cursor;
    K_ASSERT(variant < PG_LIST_VARIANTS);
    char sql[1024];
    pg_list_sql(sql, sizeof(sql), mask, cursor);
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, kind);
    pp_t(&p, q->parent_id);
    pp_t(&p, q->status);
    pp_t(&p, q->type_prefix);
    pp_i(&p, q->created_gte);
    pp_i(&p, q->created_lte);
    pp_i(&p, cursor_seq);
    pp_i(&p, (int64_t)q->limit + 1); /* one more than asked says has_more */
    PGresult *r = NULL;
    k_status ks =
        pg_exec_slot(pg_tx_conn(tx), S_COUNT + variant, sql, "tttttiiii", &p, &r, "object list");
    if (ks != K_OK)
        return ks;
    void *rows = NULL;
    size_t cnt = 0;
    ks = pg_many(r, pg_dec_obj, sizeof(store_obj), a, &rows, &cnt);
    if (ks != K_OK)
        return ks;
    K_ASSERT(cnt <= (size_t)q->limit + 1);
    *has_more = cnt > (size_t)q->limit;
    if (*has_more)
        cnt = (size_t)q->limit; /* drops the furthest row in the direction of paging */
    if (cursor == PG_CUR_BEFORE)
        pg_reverse(rows, cnt);
    *out = rows;
    *n = cnt;
    return K_OK;
}

static k_status pg_obj_due(store_tx *tx, int64_t now, size_t max, arena *a, store_obj **out,
                           size_t *n)
{
    pg_params p = {0};
    pp_i(&p, now);
    pp_i(&p, (int64_t)max);
    return pg_query_many(tx, S_O_DUE, &p, pg_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

static k_status pg_obj_claim_due(store_tx *tx, int64_t now, int64_t lease_until, size_t max,
                                 arena *a, store_obj **out, size_t *n)
{
    pg_params p = {0};
    pp_i(&p, now);
    pp_i(&p, lease_until);
    pp_i(&p, (int64_t)max);
    return pg_query_many(tx, S_O_CLAIM_DUE, &p, pg_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

/* ---- journal ---- */

static k_status pg_op_append(store_tx *tx, const store_op *op)
{
    pg_params p = {0};
    pp_t(&p, op->merchant_id);
    pp_t(&p, op->id);
    pp_t(&p, op->payment_id);
    pp_t(&p, op->kind);
    pp_i(&p, op->amount);
    pp_t(&p, op->status);
    pp_t(&p, op->code);
    pp_t(&p, op->message);
    pp_t(&p, op->provider_ref);
    pp_t(&p, op->ref_id);
    pp_t(&p, op->body);
    pp_i(&p, op->created_ms);
    int64_t changed = 0;
    k_status ks = pg_command(tx, S_OP_INSERT, &p, &changed);
    if (ks != K_OK)
        return ks;
    K_ASSERT(changed <= 1);
    return changed == 1 ? K_OK : K_ECONFLICT; /* the operation id exists */
}

static k_status pg_op_list(store_tx *tx, const char *merchant_id, const char *payment_id, arena *a,
                           store_op **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, payment_id);
    return pg_query_many(tx, S_OP_LIST, &p, pg_dec_op, sizeof(store_op), a, (void **)out, n);
}

static k_status pg_op_range(store_tx *tx, const char *merchant_id, int64_t from_ms, int64_t to_ms,
                            int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n)
{
    pg_params p = {0};
    if (merchant_id != NULL)
        pp_t(&p, merchant_id);
    pp_i(&p, from_ms);
    pp_i(&p, to_ms);
    pp_i(&p, after_seq);
    pp_i(&p, (int64_t)max);
    enum pg_stmt_id id = merchant_id != NULL ? S_OP_RANGE_M : S_OP_RANGE_ALL;
    return pg_query_many(tx, id, &p, pg_dec_op, sizeof(store_op), a, (void **)out, n);
}

/* ---- webhook outbox ---- */

static k_status pg_delivery_add(store_tx *tx, store_delivery *d)
{
    pg_params p = {0};
    pp_t(&p, d->merchant_id);
    pp_t(&p, d->event_id);
    pp_t(&p, d->endpoint_id);
    pp_t(&p, d->state);
    pp_i(&p, d->attempts);
    pp_i(&p, d->next_at_ms);
    pp_i(&p, d->last_status);
    pp_i(&p, d->created_ms);
    PGresult *r = NULL;
    k_status ks = pg_exec(pg_tx_conn(tx), S_D_INSERT, &p, &r);
    if (ks != K_OK)
        return ks;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return K_ECONFLICT; /* this event already goes to this endpoint */
    }
    d->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    K_ASSERT(d->id > 0);
    ((pg_store *)tx->s->impl)->notify_due = true; /* the other nodes' dispatchers */
    return K_OK;
}

static k_status pg_delivery_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                                  arena *a, store_delivery **out, size_t *n)
{
    pg_params p = {0};
    pp_i(&p, now_ms);
    pp_i(&p, (int64_t)max);
    pp_i(&p, lease_until_ms);
    return pg_query_many(tx, S_D_CLAIM, &p, pg_dec_delivery, sizeof(store_delivery), a,
                         (void **)out, n);
}

/* Copies at most max bytes of s into buf (cap > max), not cutting a UTF-8
 * sequence in two and replacing bytes that are not UTF-8 with '?': a receiver
 * may answer anything, and PostgreSQL text refuses invalid UTF-8. */
static const char *pg_utf8_clean(const char *s, size_t max, char *buf, size_t cap)
{
    K_ASSERT(cap > max);
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (u[i] != '\0') {
        size_t len = u[i] < 0x80         ? 1
                     : (u[i] >> 5) == 6  ? 2
                     : (u[i] >> 4) == 14 ? 3
                     : (u[i] >> 3) == 30 ? 4
                                         : 0;
        bool ok = len > 0;
        for (size_t k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (!ok)
            len = 1;
        if (o + len > max)
            break;
        if (ok) {
            memcpy(buf + o, s + i, len);
        } else {
            buf[o] = '?';
        }
        o += len;
        i += len;
    }
    buf[o] = '\0';
    return buf;
}

static k_status pg_delivery_record(store_tx *tx, const store_delivery *d,
                                   const store_delivery_attempt *at)
{
    pg_params p = {0};
    pp_t(&p, d->merchant_id);
    pp_i(&p, d->id);
    pp_t(&p, d->state);
    pp_i(&p, d->attempts);
    pp_i(&p, d->next_at_ms);
    pp_i(&p, d->last_status);
    int64_t changed = 0;
    k_status ks = pg_command(tx, S_D_UPDATE, &p, &changed);
    if (ks != K_OK)
        return ks;
    if (changed == 0)
        return K_ENOTFOUND;
    char head[LIMIT_WEBHOOK_RESPONSE_KEEP + 1], err[1024];
    pg_params pa = {0};
    pp_t(&pa, d->merchant_id);
    pp_i(&pa, at->delivery_id);
    pp_i(&pa, at->at_ms);
    pp_i(&pa, at->http_status);
    pp_i(&pa, at->latency_ms);
    pp_t(&pa,
         at->response_head == NULL
             ? NULL
             : pg_utf8_clean(at->response_head, LIMIT_WEBHOOK_RESPONSE_KEEP, head, sizeof(head)));
    pp_t(&pa,
         at->error == NULL ? NULL : pg_utf8_clean(at->error, sizeof(err) - 1, err, sizeof(err)));
    return pg_command(tx, S_DA_INSERT, &pa, NULL);
}

static k_status pg_delivery_list(store_tx *tx, const char *merchant_id, const char *event_id,
                                 arena *a, store_delivery **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, event_id);
    return pg_query_many(tx, S_D_LIST, &p, pg_dec_delivery, sizeof(store_delivery), a, (void **)out,
                         n);
}

static k_status pg_delivery_get(store_tx *tx, const char *merchant_id, int64_t id, arena *a,
                                store_delivery *out)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_i(&p, id);
    return pg_query_one(tx, S_D_GET, &p, pg_dec_delivery, a, out);
}

static k_status pg_delivery_attempts(store_tx *tx, int64_t delivery_id, arena *a,
                                     store_delivery_attempt **out, size_t *n)
{
    pg_params p = {0};
    pp_i(&p, delivery_id);
    return pg_query_many(tx, S_DA_LIST, &p, pg_dec_attempt, sizeof(store_delivery_attempt), a,
                         (void **)out, n);
}

static k_status pg_delivery_next_due(store_tx *tx, int64_t *next_at_ms)
{
    pg_params p = {0};
    PGresult *r = NULL;
    k_status ks = pg_exec(pg_tx_conn(tx), S_D_NEXT_DUE, &p, &r);
    if (ks != K_OK)
        return ks;
    K_ASSERT(PQntuples(r) == 1);
    *next_at_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return K_OK;
}

/* Not a prepared statement of the connection: run once a scrape, not per request. */
static k_status pg_gauges_get(store_tx *tx, int64_t now_s, store_gauges *out)
{
    pg_conn *c = pg_tx_conn(tx);
    static const char sql[] =
        "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),"
        " (SELECT COALESCE(MIN(created_ms), 0) FROM deliveries WHERE state = 'pending'),"
        " (SELECT COUNT(*) FROM objects WHERE due_at > 0 AND due_at <= $1::bigint + 86400"
        "  AND kind = 'payment_intent' AND status = 'requires_capture'"
        "  AND (body::jsonb->>'auth_expires_at')::bigint > $1::bigint"
        "  AND (body::jsonb->>'auth_expires_at')::bigint <= $1::bigint + 86400)";
    char now[32];
    snprintf(now, sizeof(now), "%lld", (long long)now_s);
    const char *vals[1] = {now};
    PGresult *r = PQexecParams(c->db, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        log_error("store: gauges query failed: %s", PQerrorMessage(c->db));
        PQclear(r);
        return K_EIO;
    }
    out->deliveries_pending = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->oldest_pending_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->auth_expiring_24h = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    return K_OK;
}

/* ---- idempotency keys ---- */

static k_status pg_idem_get(store_tx *tx, const char *merchant_id, const char *key, arena *a,
                            store_idem *out)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, key);
    if (tx->writable) {
        k_status ks = pg_command(tx, S_I_LOCK, &p, NULL);
        if (ks != K_OK)
            return ks;
    }
    return pg_query_one(tx, tx->writable ? S_I_GET_LOCK : S_I_GET, &p, pg_dec_idem, a, out);
}

static k_status pg_idem_put(store_tx *tx, const store_idem *k)
{
    pg_params p = {0};
    pp_t(&p, k->merchant_id);
    pp_t(&p, k->key);
    pp_t(&p, k->fingerprint);
    pp_i(&p, k->status);
    pp_t(&p, k->body);
    pp_i(&p, k->created_ms);
    return pg_command(tx, S_I_PUT, &p, NULL);
}

static k_status pg_idem_delete(store_tx *tx, const char *merchant_id, const char *key)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, key);
    return pg_command(tx, S_I_DEL, &p, NULL);
}

static k_status pg_idem_prune(store_tx *tx, int64_t before_ms, size_t max, size_t *deleted)
{
    pg_params p = {0};
    pp_i(&p, before_ms);
    pp_i(&p, (int64_t)max);
    int64_t changed = 0;
    k_status ks = pg_command(tx, S_I_PRUNE, &p, &changed);
    if (ks != K_OK)
        return ks;
    *deleted = (size_t)changed;
    K_ASSERT(*deleted <= max);
    return K_OK;
}

/* ---- one parameterised statement (store_sql.h) ---- */

static k_status pg_sql_rows(PGresult *r, store_row_fn fn, void *ctx)
{
    int rows = PQntuples(r), cols = PQnfields(r);
    K_ASSERT(cols <= PG_SQL_COLS_MAX);
    for (int i = 0; i < rows && fn != NULL; i++) {
        const char *vals[PG_SQL_COLS_MAX];
        for (int j = 0; j < cols; j++)
            vals[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
        k_status ks = fn(ctx, cols, vals);
        if (ks != K_OK)
            return ks;
    }
    return K_OK;
}

static k_status pg_sql_run(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                           store_row_fn fn, void *ctx, int64_t *changes)
{
    pg_conn *c = pg_tx_conn(tx);
    if (c->broken || c->failed)
        return K_EIO; /* the job's transaction is already aborted */
    K_ASSERT(nargs <= PG_SQL_ARGS_MAX);
    Oid oids[PG_SQL_ARGS_MAX];
    const char *vals[PG_SQL_ARGS_MAX];
    char num[PG_SQL_ARGS_MAX][24];
    for (int i = 0; i < nargs; i++) {
        oids[i] = args[i].type == 'i' ? PG_OID_INT8 : PG_OID_TEXT;
        vals[i] = args[i].s;
        if (args[i].type == 'i') {
            snprintf(num[i], sizeof(num[i]), "%lld", (long long)args[i].i);
            vals[i] = num[i];
        }
    }
    pg_stmt st = {.sql = sql, .n = nargs, .oids = oids, .vals = vals, .what = "statement"};
    PGresult *r = NULL;
    k_status ks = pg_run(c, &st, &r);
    if (ks != K_OK)
        return ks;
    ks = pg_sql_rows(r, fn, ctx);
    if (ks == K_OK && changes != NULL)
        *changes = pg_changes(r);
    PQclear(r);
    return ks;
}

/* ---- the vtable ---- */

/* ---- reports ---- */

static k_status pg_obj_scan(store_tx *tx, const char *merchant_id, const char *kind,
                            int64_t created_gte, int64_t created_lt, int64_t after_created,
                            int64_t after_seq, size_t max, arena *a, store_obj **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, kind);
    pp_i(&p, created_gte);
    pp_i(&p, created_lt);
    pp_i(&p, after_created);
    pp_i(&p, after_seq);
    pp_i(&p, (int64_t)max);
    return pg_query_many(tx, S_O_SCAN, &p, pg_dec_obj, sizeof(store_obj), a, (void **)out, n);
}

static void pg_dec_ledger(pg_row *w, void *out)
{
    store_ledger_row *l = out;
    pg_dec_op(w, &l->op);
    l->currency = pg_text(w, 13);
    l->method = pg_text(w, 14);
}

static k_status pg_ledger_scan(store_tx *tx, const char *merchant_id, int64_t from_ms,
                               int64_t to_ms, int64_t after_ms, int64_t after_seq, size_t max,
                               arena *a, store_ledger_row **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_i(&p, from_ms);
    pp_i(&p, to_ms);
    pp_i(&p, after_ms);
    pp_i(&p, after_seq);
    pp_i(&p, (int64_t)max);
    return pg_query_many(tx, S_L_SCAN, &p, pg_dec_ledger, sizeof(store_ledger_row), a, (void **)out,
                         n);
}

static void pg_dec_group(pg_row *w, void *out)
{
    store_ledger_group *g = out;
    g->slot = pg_int(w, 0);
    g->kind = pg_text(w, 1);
    g->status = pg_text(w, 2);
    g->code = pg_text(w, 3);
    g->currency = pg_text(w, 4);
    g->method = pg_text(w, 5);
    g->count = pg_int(w, 6);
    g->amount = pg_int(w, 7);
}

static k_status pg_ledger_groups(store_tx *tx, const char *merchant_id, int64_t from_ms,
                                 int64_t to_ms, int64_t slot_ms, size_t max, arena *a,
                                 store_ledger_group **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_i(&p, from_ms);
    pp_i(&p, to_ms);
    pp_i(&p, slot_ms);
    pp_i(&p, (int64_t)max);
    int64_t whole_from, whole_to;
    bool roll = store_rollup_span(from_ms, to_ms, slot_ms, &whole_from, &whole_to);
    if (roll) {
        pp_i(&p, whole_from);
        pp_i(&p, whole_to);
    }
    return pg_query_many(tx, roll ? S_L_GROUPS_R : S_L_GROUPS, &p, pg_dec_group,
                         sizeof(store_ledger_group), a, (void **)out, n);
}

static void pg_dec_job(pg_row *w, void *out)
{
    store_job *j = out;
    j->id = pg_int(w, 0);
    j->merchant_id = pg_text(w, 1);
    j->kind = pg_text(w, 2);
    j->ref_id = pg_text(w, 3);
    j->state = pg_text(w, 4);
    j->attempts = pg_int32(w, 5);
    j->next_at_ms = pg_int(w, 6);
    j->last_error = pg_text(w, 7);
    j->body = pg_text(w, 8);
    j->created_ms = pg_int(w, 9);
    j->updated_ms = pg_int(w, 10);
}

static k_status pg_job_add(store_tx *tx, store_job *j)
{
    pg_params p = {0};
    pp_t(&p, j->merchant_id);
    pp_t(&p, j->kind);
    pp_t(&p, j->ref_id);
    pp_t(&p, j->state);
    pp_i(&p, j->attempts);
    pp_i(&p, j->next_at_ms);
    pp_t(&p, j->last_error);
    pp_t(&p, j->body);
    pp_i(&p, j->created_ms);
    pp_i(&p, j->updated_ms);
    PGresult *r = NULL;
    k_status ks = pg_exec(pg_tx_conn(tx), S_J_INSERT, &p, &r);
    if (ks != K_OK)
        return ks;
    K_ASSERT(PQntuples(r) == 1);
    j->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    K_ASSERT(j->id > 0);
    return K_OK;
}

static k_status pg_job_claim(store_tx *tx, int64_t now_ms, int64_t lease_until_ms, size_t max,
                             arena *a, store_job **out, size_t *n)
{
    pg_params p = {0};
    pp_i(&p, now_ms);
    pp_i(&p, (int64_t)max);
    pp_i(&p, lease_until_ms);
    return pg_query_many(tx, S_J_CLAIM, &p, pg_dec_job, sizeof(store_job), a, (void **)out, n);
}

static k_status pg_job_update(store_tx *tx, const store_job *j)
{
    pg_params p = {0};
    pp_t(&p, j->merchant_id);
    pp_i(&p, j->id);
    pp_t(&p, j->state);
    pp_i(&p, j->attempts);
    pp_i(&p, j->next_at_ms);
    pp_t(&p, j->last_error);
    pp_t(&p, j->body);
    pp_i(&p, j->updated_ms);
    int64_t changed = 0;
    k_status ks = pg_command(tx, S_J_UPDATE, &p, &changed);
    if (ks == K_OK && changed == 0)
        return K_ENOTFOUND;
    return ks;
}

static k_status pg_job_list(store_tx *tx, const char *merchant_id, const char *ref_id, arena *a,
                            store_job **out, size_t *n)
{
    pg_params p = {0};
    pp_t(&p, merchant_id);
    pp_t(&p, ref_id);
    return pg_query_many(tx, S_J_LIST, &p, pg_dec_job, sizeof(store_job), a, (void **)out, n);
}

static k_status pg_job_release(store_tx *tx, int64_t *released)
{
    pg_params p = {0};
    return pg_command(tx, S_J_RELEASE, &p, released);
}

const struct store_backend store_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .write = pg_write,
    .write_async = pg_write_async,
    .read = pg_read,
    .schema_version = pg_schema_version,
    .get_stats = pg_get_stats,
    .set_wake = pg_set_wake,
    .merchant_put = pg_merchant_put,
    .merchant_get = pg_merchant_get,
    .merchant_by_key = pg_merchant_by_key,
    .merchant_by_project = pg_merchant_by_project,
    .merchant_count = pg_merchant_count,
    .obj_put = pg_obj_put,
    .obj_get = pg_obj_get,
    .obj_by_ref = pg_obj_by_ref,
    .obj_find_ref = pg_obj_find_ref,
    .obj_list = pg_obj_list,
    .obj_due = pg_obj_due,
    .obj_claim_due = pg_obj_claim_due,
    .op_append = pg_op_append,
    .op_list = pg_op_list,
    .op_range = pg_op_range,
    .delivery_add = pg_delivery_add,
    .delivery_claim = pg_delivery_claim,
    .delivery_record = pg_delivery_record,
    .delivery_list = pg_delivery_list,
    .delivery_get = pg_delivery_get,
    .delivery_attempts = pg_delivery_attempts,
    .delivery_next_due = pg_delivery_next_due,
    .gauges_get = pg_gauges_get,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_delete = pg_idem_delete,
    .idem_prune = pg_idem_prune,
    .obj_scan = pg_obj_scan,
    .ledger_scan = pg_ledger_scan,
    .ledger_groups = pg_ledger_groups,
    .job_add = pg_job_add,
    .job_claim = pg_job_claim,
    .job_update = pg_job_update,
    .job_list = pg_job_list,
    .sql = pg_sql_run,
    .job_release = pg_job_release,
    .limit_bucket = pg_limit_bucket,
    .limit_window = pg_limit_window,
};
