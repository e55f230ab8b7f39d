/*
 * store_staff.c - the back office's tables (store_staff.h), written once above
 * both backends through store_sql(): the SQL here is the subset SQLite and
 * PostgreSQL share, with $n placeholders; the only expressions that differ
 * (reading a field of a JSON document) come from store_json_field().
 */
#include "store_staff.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/buf.h"
#include "../base/crypto.h"
#include "../base/log.h"

#define BE(tx) ((tx)->s->backend)

k_status store_sql(store_tx *tx, const char *sql, const store_arg *args, int nargs, store_row_fn fn,
                   void *ctx, int64_t *changes)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(sql != NULL);
    K_ASSERT(nargs >= 0);
    return BE(tx)->sql(tx, sql, args, nargs, fn, ctx, changes);
}

const char *store_sql_dialect(store_tx *tx)
{
    K_ASSERT(tx != NULL);
    return BE(tx)->name;
}

/* SQL for the text of field `name` of the payment document's JSON body. */
static void store_json_field(store_tx *tx, const char *name, char *out, size_t cap)
{
    bool pg = strcmp(store_sql_dialect(tx), "postgresql") == 0;
    if (pg)
        snprintf(out, cap, "(body::jsonb->>'%s')", name);
    else
        snprintf(out, cap, "json_extract(body, '$.%s')", name);
}

/* ---- row decoding ---- */

typedef struct {
    arena *a;
    bool oom;
} st_dec;

static const char *st_dup(st_dec *d, const char *v)
{
    if (v == NULL)
        return NULL;
    char *c = arena_strdup(d->a, v);
    if (c == NULL)
        d->oom = true;
    return c;
}

static int64_t st_int(const char *v)
{
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* Collects rows into a growing arena array of elem-sized records. */
typedef struct {
    st_dec d;
    void (*decode)(st_dec *d, const char *const *vals, void *out);
    size_t elem, n, cap, max;
    char *rows;
} st_many;

static k_status st_many_row(void *ctx, int ncols, const char *const *vals)
{
    st_many *m = ctx;
    (void)ncols;
    if (m->n >= m->max)
        return K_OK;
    if (m->n == m->cap) {
        size_t cap = m->cap != 0 ? m->cap * 2 : 16;
        char *grown = arena_alloc(m->d.a, cap * m->elem);
        if (grown == NULL)
            return K_ENOMEM;
        if (m->n > 0)
            memcpy(grown, m->rows, m->n * m->elem);
        m->rows = grown;
        m->cap = cap;
    }
    m->decode(&m->d, vals, m->rows + m->n * m->elem);
    m->n++;
    return m->d.oom ? K_ENOMEM : K_OK;
}

static k_status st_query(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                         st_many *m)
{
    return store_sql(tx, sql, args, nargs, st_many_row, m, NULL);
}

/* A query that must find exactly one row: K_ENOTFOUND otherwise. */
static k_status st_query_one(store_tx *tx, const char *sql, const store_arg *args, int nargs,
                             void (*decode)(st_dec *, const char *const *, void *), size_t elem,
                             arena *a, void *out)
{
    st_many m = {.d = {.a = a}, .decode = decode, .elem = elem, .max = 1};
    k_status ks = st_query(tx, sql, args, nargs, &m);
    if (ks != K_OK)
        return ks;
    if (m.n == 0)
        return K_ENOTFOUND;
    memcpy(out, m.rows, elem);
    return K_OK;
}

/* ---- staff users ---- */

#define ST_U_COLS                                                                                  \
    "merchant_id, id, email, role, pw_hash, totp_secret, recovery, recovery_shown, failed, "       \
    "locked_until_ms, totp_last_step, created_ms, disabled, refund_limit"

/* The TOTP secret is stored sealed (crypto_seal, docs/security.md) and opened
 * here on the way out; a box that does not open (another key file) gives NULL,
 * and then no code matches. */
static const char *st_open_secret(st_dec *d, const char *stored)
{
    if (stored == NULL)
        return NULL;
    char plain[CRYPTO_SEAL_PLAIN_MAX + 1];
    if (crypto_open(stored, plain, sizeof plain) != K_OK) {
        log_error("store: a staff user's TOTP secret does not open with this key file");
        return NULL;
    }
    return st_dup(d, plain);
}

static void st_dec_user(st_dec *d, const char *const *v, void *out)
{
    store_staff *u = out;
    *u = (store_staff){.merchant_id = st_dup(d, v[0]),
                       .id = st_dup(d, v[1]),
                       .email = st_dup(d, v[2]),
                       .role = st_dup(d, v[3]),
                       .pw_hash = st_dup(d, v[4]),
                       .totp_secret = st_open_secret(d, v[5]),
                       .recovery = st_dup(d, v[6]),
                       .recovery_shown = st_int(v[7]) != 0,
                       .failed = (int32_t)st_int(v[8]),
                       .locked_until_ms = st_int(v[9]),
                       .totp_last_step = st_int(v[10]),
                       .created_ms = st_int(v[11]),
                       .disabled = st_int(v[12]) != 0,
                       .refund_limit = v[13] != NULL ? st_int(v[13]) : -1};
}

k_status store_staff_insert(store_tx *tx, const store_staff *u)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(u->merchant_id != NULL);
    K_ASSERT(u->id != NULL);
    K_ASSERT(u->email != NULL);
    K_ASSERT(u->totp_secret != NULL);
    char box[CRYPTO_SEALED_MAX];
    if (crypto_seal(u->totp_secret, box) != K_OK)
        return K_ERR;
    store_arg args[] = {SA_T(u->merchant_id), SA_T(u->id), SA_T(u->email),    SA_T(u->role),
                        SA_T(u->pw_hash),     SA_T(box),   SA_T(u->recovery), SA_I(u->created_ms)};
    return store_sql(tx,
                     "INSERT INTO staff_users(merchant_id, id, email, role, pw_hash, totp_secret, "
                     "recovery, created_ms) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                     args, (int)K_ARRAY_LEN(args), NULL, NULL, NULL);
}

k_status store_staff_by_email(store_tx *tx, const char *email, arena *a, store_staff *out)
{
    K_ASSERT(tx != NULL && email != NULL);
    store_arg args[] = {SA_T(email)};
    return st_query_one(tx, "SELECT " ST_U_COLS " FROM staff_users WHERE email = $1", args, 1,
                        st_dec_user, sizeof *out, a, out);
}

k_status store_staff_get(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                         store_staff *out)
{
    K_ASSERT(tx != NULL && merchant_id != NULL && id != NULL);
    store_arg args[] = {SA_T(merchant_id), SA_T(id)};
    return st_query_one(tx,
                        "SELECT " ST_U_COLS " FROM staff_users WHERE merchant_id = $1 AND id = $2",
                        args, 2, st_dec_user, sizeof *out, a, out);
}

k_status store_staff_update_auth(store_tx *tx, const store_staff *u)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(u->failed >= 0);
    store_arg args[] = {SA_T(u->merchant_id),
                        SA_T(u->id),
                        SA_I(u->failed),
                        SA_I(u->locked_until_ms),
                        SA_I(u->totp_last_step),
                        SA_T(u->recovery),
                        SA_I(u->recovery_shown ? 1 : 0)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "UPDATE staff_users SET failed = $3, locked_until_ms = $4, "
                            "totp_last_step = $5, recovery = $6, recovery_shown = $7 "
                            "WHERE merchant_id = $1 AND id = $2",
                            args, (int)K_ARRAY_LEN(args), NULL, NULL, &changed);
    if (ks == K_OK && changed != 1)
        return K_ENOTFOUND;
    return ks;
}

k_status store_staff_list(store_tx *tx, const char *merchant_id, size_t max, arena *a,
                          store_staff **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(max >= 1 && max <= LIMIT_STORE_ROWS_MAX);
    store_arg args[] = {SA_T(merchant_id), SA_I((int64_t)max)};
    st_many m = {.d = {.a = a}, .decode = st_dec_user, .elem = sizeof(store_staff), .max = max};
    k_status ks = st_query(
        tx, "SELECT " ST_U_COLS " FROM staff_users WHERE merchant_id = $1 ORDER BY email LIMIT $2",
        args, 2, &m);
    *out = (store_staff *)m.rows;
    *n = m.n;
    return ks;
}

k_status store_staff_update_admin(store_tx *tx, const store_staff *u)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(u->role != NULL);
    K_ASSERT(u->refund_limit >= -1);
    store_arg args[] = {SA_T(u->merchant_id), SA_T(u->id), SA_T(u->role), SA_I(u->refund_limit),
                        SA_I(u->disabled ? 1 : 0)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "UPDATE staff_users SET role = $3, refund_limit = $4, disabled = $5 "
                            "WHERE merchant_id = $1 AND id = $2",
                            args, 5, NULL, NULL, &changed);
    return ks == K_OK && changed != 1 ? K_ENOTFOUND : ks;
}

k_status store_staff_set_totp(store_tx *tx, const char *merchant_id, const char *id,
                              const char *totp_secret)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(totp_secret != NULL);
    char box[CRYPTO_SEALED_MAX];
    if (crypto_seal(totp_secret, box) != K_OK)
        return K_ERR;
    store_arg args[] = {SA_T(merchant_id), SA_T(id), SA_T(box)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "UPDATE staff_users SET totp_secret = $3, totp_last_step = 0, "
                            "recovery = '[]', recovery_shown = 0, failed = 0, "
                            "locked_until_ms = 0 WHERE merchant_id = $1 AND id = $2",
                            args, 3, NULL, NULL, &changed);
    return ks == K_OK && changed != 1 ? K_ENOTFOUND : ks;
}

static k_status st_count_row(void *ctx, int ncols, const char *const *vals)
{
    (void)ncols;
    *(int64_t *)ctx = st_int(vals[0]);
    return K_OK;
}

k_status store_staff_count_admins(store_tx *tx, const char *merchant_id, int64_t *out)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    *out = 0;
    store_arg args[] = {SA_T(merchant_id)};
    return store_sql(tx,
                     "SELECT COUNT(*) FROM staff_users WHERE merchant_id = $1 AND role = 'admin' "
                     "AND disabled = 0",
                     args, 1, st_count_row, out, NULL);
}

/* The rows whose secret is still plain text: merchant, id, secret. */
typedef struct {
    const char *merchant_id, *id, *secret;
} st_plain;

static void st_dec_plain(st_dec *d, const char *const *v, void *out)
{
    *(st_plain *)out = (st_plain){
        .merchant_id = st_dup(d, v[0]), .id = st_dup(d, v[1]), .secret = st_dup(d, v[2])};
}

static k_status st_seal_fn(store_tx *tx, void *arg)
{
    int64_t *sealed = arg;
    arena a;
    arena_init(&a, 0);
    store_arg none[] = {SA_I(LIMIT_STORE_ROWS_MAX)};
    st_many m = {.d = {.a = &a},
                 .decode = st_dec_plain,
                 .elem = sizeof(st_plain),
                 .max = LIMIT_STORE_ROWS_MAX};
    k_status ks = st_query(tx,
                           "SELECT merchant_id, id, totp_secret FROM staff_users WHERE "
                           "substr(totp_secret, 1, 5) <> 'enc1:' LIMIT $1",
                           none, 1, &m);
    for (size_t i = 0; ks == K_OK && i < m.n; i++) {
        const st_plain *row = (const st_plain *)(m.rows + i * sizeof(st_plain));
        char box[CRYPTO_SEALED_MAX];
        ks = crypto_seal(row->secret, box);
        store_arg args[] = {SA_T(row->merchant_id), SA_T(row->id), SA_T(box)};
        if (ks == K_OK)
            ks = store_sql(tx,
                           "UPDATE staff_users SET totp_secret = $3 WHERE merchant_id = $1 AND "
                           "id = $2",
                           args, 3, NULL, NULL, NULL);
    }
    *sealed = (int64_t)m.n;
    arena_release(&a);
    return ks;
}

static k_status st_unsealed_fn(store_tx *tx, void *arg)
{
    store_arg none[] = {SA_I(1)};
    return store_sql(tx,
                     "SELECT COUNT(*) FROM (SELECT 1 FROM staff_users WHERE "
                     "substr(totp_secret, 1, 5) <> 'enc1:' LIMIT $1) AS t",
                     none, 1, st_count_row, arg, NULL);
}

k_status store_staff_seal_old(store *s)
{
    int64_t plain = 0; /* read first: an open with nothing to seal writes nothing */
    k_status ks = store_read(s, st_unsealed_fn, &plain);
    if (ks != K_OK || plain == 0)
        return ks;
    for (;;) {
        int64_t sealed = 0;
        ks = store_write(s, st_seal_fn, &sealed);
        if (ks != K_OK)
            return ks;
        if (sealed > 0)
            log_info("store: sealed the TOTP secrets of %lld staff users", (long long)sealed);
        if (sealed < LIMIT_STORE_ROWS_MAX)
            return K_OK;
    }
}

typedef struct {
    st_dec d;
    const char *id;
    int n;
} st_only;

static k_status st_only_row(void *ctx, int ncols, const char *const *vals)
{
    st_only *o = ctx;
    (void)ncols;
    o->n++;
    o->id = st_dup(&o->d, vals[0]);
    return o->d.oom ? K_ENOMEM : K_OK;
}

k_status store_merchant_only(store_tx *tx, arena *a, const char **id)
{
    K_ASSERT(tx != NULL && id != NULL);
    st_only o = {.d = {.a = a}};
    store_arg args[] = {SA_I(2)};
    k_status ks = store_sql(tx, "SELECT id FROM merchants ORDER BY created LIMIT $1", args, 1,
                            st_only_row, &o, NULL);
    if (ks != K_OK)
        return ks;
    if (o.n == 0)
        return K_ENOTFOUND;
    if (o.n > 1)
        return K_ECONFLICT;
    *id = o.id;
    return K_OK;
}

/* ---- sessions ---- */

static void st_dec_session(st_dec *d, const char *const *v, void *out)
{
    store_staff_session *s = out;
    *s = (store_staff_session){.token_hash = st_dup(d, v[0]),
                               .merchant_id = st_dup(d, v[1]),
                               .user_id = st_dup(d, v[2]),
                               .stage = st_dup(d, v[3]),
                               .created_ms = st_int(v[4]),
                               .last_ms = st_int(v[5]),
                               .addr = st_dup(d, v[6])};
}

k_status store_session_insert(store_tx *tx, const store_staff_session *s)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(s->token_hash != NULL && strlen(s->token_hash) == 64);
    store_arg args[] = {SA_T(s->token_hash), SA_T(s->merchant_id), SA_T(s->user_id), SA_T(s->stage),
                        SA_I(s->created_ms), SA_I(s->last_ms),     SA_T(s->addr)};
    return store_sql(tx,
                     "INSERT INTO staff_sessions(token_hash, merchant_id, user_id, stage, "
                     "created_ms, last_ms, addr) VALUES($1, $2, $3, $4, $5, $6, $7)",
                     args, (int)K_ARRAY_LEN(args), NULL, NULL, NULL);
}

k_status store_session_get(store_tx *tx, const char *token_hash, arena *a, store_staff_session *out)
{
    K_ASSERT(tx != NULL && token_hash != NULL);
    store_arg args[] = {SA_T(token_hash)};
    return st_query_one(tx,
                        "SELECT token_hash, merchant_id, user_id, stage, created_ms, last_ms, addr "
                        "FROM staff_sessions WHERE token_hash = $1",
                        args, 1, st_dec_session, sizeof *out, a, out);
}

k_status store_session_touch(store_tx *tx, const char *token_hash, const char *stage,
                             int64_t last_ms)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(stage != NULL);
    store_arg args[] = {SA_T(token_hash), SA_T(stage), SA_I(last_ms)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "UPDATE staff_sessions SET stage = $2, last_ms = $3 "
                            "WHERE token_hash = $1",
                            args, 3, NULL, NULL, &changed);
    return ks == K_OK && changed != 1 ? K_ENOTFOUND : ks;
}

k_status store_session_delete(store_tx *tx, const char *token_hash)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(token_hash)};
    return store_sql(tx, "DELETE FROM staff_sessions WHERE token_hash = $1", args, 1, NULL, NULL,
                     NULL);
}

k_status store_session_delete_user(store_tx *tx, const char *merchant_id, const char *user_id)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(merchant_id), SA_T(user_id)};
    return store_sql(tx, "DELETE FROM staff_sessions WHERE merchant_id = $1 AND user_id = $2", args,
                     2, NULL, NULL, NULL);
}

/* ---- the audit log ---- */

#define ST_A_COLS                                                                                  \
    "seq, merchant_id, at_ms, staff_id, staff_email, addr, action, object_id, before_json, "       \
    "after_json, reason, outcome, prev_hash, hash"

static void st_dec_audit(st_dec *d, const char *const *v, void *out)
{
    store_audit *r = out;
    *r = (store_audit){.seq = st_int(v[0]),
                       .merchant_id = st_dup(d, v[1]),
                       .at_ms = st_int(v[2]),
                       .staff_id = st_dup(d, v[3]),
                       .staff_email = st_dup(d, v[4]),
                       .addr = st_dup(d, v[5]),
                       .action = st_dup(d, v[6]),
                       .object_id = st_dup(d, v[7]),
                       .before_json = st_dup(d, v[8]),
                       .after_json = st_dup(d, v[9]),
                       .reason = st_dup(d, v[10]),
                       .outcome = st_dup(d, v[11]),
                       .prev_hash = st_dup(d, v[12]),
                       .hash = st_dup(d, v[13])};
}

static k_status st_hash_row(void *ctx, int ncols, const char *const *vals)
{
    (void)ncols;
    if (vals[0] != NULL)
        snprintf(ctx, 65, "%s", vals[0]);
    return K_OK;
}

k_status store_audit_last_hash(store_tx *tx, const char *merchant_id, char out[65])
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    snprintf(out, 65, "%s", STORE_AUDIT_GENESIS);
    store_arg args[] = {SA_T(merchant_id)};
    return store_sql(tx,
                     "SELECT hash FROM audit_log WHERE merchant_id = $1 ORDER BY seq DESC LIMIT 1",
                     args, 1, st_hash_row, out, NULL);
}

k_status store_audit_append(store_tx *tx, const store_audit *r)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(r->prev_hash != NULL && strlen(r->prev_hash) == 64);
    K_ASSERT(r->hash != NULL && strlen(r->hash) == 64);
    K_ASSERT(r->action != NULL && r->outcome != NULL);
    store_arg args[] = {SA_T(r->merchant_id), SA_I(r->at_ms),       SA_T(r->staff_id),
                        SA_T(r->staff_email), SA_T(r->addr),        SA_T(r->action),
                        SA_T(r->object_id),   SA_T(r->before_json), SA_T(r->after_json),
                        SA_T(r->reason),      SA_T(r->outcome),     SA_T(r->prev_hash),
                        SA_T(r->hash)};
    return store_sql(tx,
                     "INSERT INTO audit_log(merchant_id, at_ms, staff_id, staff_email, addr, "
                     "action, object_id, before_json, after_json, reason, outcome, prev_hash, "
                     "hash) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                     args, (int)K_ARRAY_LEN(args), NULL, NULL, NULL);
}

k_status store_audit_list(store_tx *tx, const char *merchant_id, const store_audit_q *q, arena *a,
                          store_audit **out, size_t *n, bool *has_more)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(q->limit >= 1 && q->limit <= LIMIT_LIST_PAGE_MAX);
    /* Unused filters compare a constant with itself so every $n is used. */
    store_arg args[] = {SA_T(merchant_id),
                        SA_T(q->object_id != NULL ? q->object_id : ""),
                        SA_T(q->action != NULL ? q->action : ""),
                        SA_T(q->staff_email != NULL ? q->staff_email : ""),
                        SA_I(q->before_seq > 0 ? q->before_seq : INT64_MAX),
                        SA_I(q->limit + 1)};
    st_many m = {.d = {.a = a},
                 .decode = st_dec_audit,
                 .elem = sizeof(store_audit),
                 .max = (size_t)q->limit + 1};
    k_status ks = st_query(tx,
                           "SELECT " ST_A_COLS " FROM audit_log WHERE merchant_id = $1"
                           " AND ($2 = '' OR object_id = $2)"
                           " AND ($3 = '' OR substr(action, 1, length($3)) = $3)"
                           " AND ($4 = '' OR staff_email = $4)"
                           " AND seq < $5 ORDER BY seq DESC LIMIT $6",
                           args, (int)K_ARRAY_LEN(args), &m);
    if (ks != K_OK)
        return ks;
    *has_more = m.n > (size_t)q->limit;
    *n = *has_more ? (size_t)q->limit : m.n;
    *out = (store_audit *)m.rows;
    return K_OK;
}

k_status store_audit_scan(store_tx *tx, const char *merchant_id, int64_t after_seq, size_t max,
                          arena *a, store_audit **out, size_t *n)
{
    K_ASSERT(tx != NULL);
    K_ASSERT(max >= 1 && max <= LIMIT_STORE_ROWS_MAX);
    store_arg args[] = {SA_T(merchant_id != NULL ? merchant_id : ""), SA_I(after_seq),
                        SA_I((int64_t)max)};
    st_many m = {.d = {.a = a}, .decode = st_dec_audit, .elem = sizeof(store_audit), .max = max};
    k_status ks = st_query(tx,
                           "SELECT " ST_A_COLS " FROM audit_log WHERE ($1 = '' OR merchant_id = $1)"
                           " AND seq > $2 ORDER BY seq LIMIT $3",
                           args, 3, &m);
    *out = (store_audit *)m.rows;
    *n = m.n;
    return ks;
}

/* ---- saved views ---- */

static void st_dec_view(st_dec *d, const char *const *v, void *out)
{
    store_view *w = out;
    *w = (store_view){.merchant_id = st_dup(d, v[0]),
                      .id = st_dup(d, v[1]),
                      .user_id = st_dup(d, v[2]),
                      .name = st_dup(d, v[3]),
                      .query = st_dup(d, v[4]),
                      .created_ms = st_int(v[5])};
}

k_status store_view_put(store_tx *tx, const store_view *v)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(v->name != NULL && v->query != NULL);
    store_arg del[] = {SA_T(v->merchant_id), SA_T(v->user_id), SA_T(v->name)};
    k_status ks = store_sql(tx,
                            "DELETE FROM staff_views WHERE merchant_id = $1 AND user_id = $2 "
                            "AND name = $3",
                            del, 3, NULL, NULL, NULL);
    if (ks != K_OK)
        return ks;
    store_arg args[] = {SA_T(v->merchant_id), SA_T(v->id),    SA_T(v->user_id),
                        SA_T(v->name),        SA_T(v->query), SA_I(v->created_ms)};
    return store_sql(tx,
                     "INSERT INTO staff_views(merchant_id, id, user_id, name, query, created_ms) "
                     "VALUES($1, $2, $3, $4, $5, $6)",
                     args, 6, NULL, NULL, NULL);
}

k_status store_view_list(store_tx *tx, const char *merchant_id, const char *user_id, arena *a,
                         store_view **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL && user_id != NULL);
    store_arg args[] = {SA_T(merchant_id), SA_T(user_id), SA_I(LIMIT_BO_VIEWS_MAX)};
    st_many m = {.d = {.a = a},
                 .decode = st_dec_view,
                 .elem = sizeof(store_view),
                 .max = LIMIT_BO_VIEWS_MAX};
    k_status ks = st_query(tx,
                           "SELECT merchant_id, id, user_id, name, query, created_ms FROM "
                           "staff_views WHERE merchant_id = $1 AND user_id = $2 ORDER BY name "
                           "LIMIT $3",
                           args, 3, &m);
    *out = (store_view *)m.rows;
    *n = m.n;
    return ks;
}

k_status store_view_delete(store_tx *tx, const char *merchant_id, const char *user_id,
                           const char *id)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(merchant_id), SA_T(user_id), SA_T(id)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "DELETE FROM staff_views WHERE merchant_id = $1 AND user_id = $2 "
                            "AND id = $3",
                            args, 3, NULL, NULL, &changed);
    return ks == K_OK && changed == 0 ? K_ENOTFOUND : ks;
}

/* ---- the payments list ---- */

k_status store_pay_terms_put(store_tx *tx, const char *merchant_id, const char *payment_id,
                             const char *const *terms, size_t n, bool fresh)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(merchant_id != NULL && payment_id != NULL);
    store_arg key[] = {SA_T(merchant_id), SA_T(payment_id)};
    k_status ks = K_OK;
    if (!fresh)
        ks = store_sql(tx, "DELETE FROM payment_terms WHERE merchant_id = $1 AND payment_id = $2",
                       key, 2, NULL, NULL, NULL);
    for (size_t i = 0; ks == K_OK && i < n; i++) {
        store_arg args[] = {SA_T(merchant_id), SA_T(terms[i]), SA_T(payment_id)};
        /* a term given twice (two metadata keys cannot, but be safe): one row */
        ks = store_sql(tx,
                       "INSERT INTO payment_terms(merchant_id, term, payment_id) "
                       "VALUES($1, $2, $3) ON CONFLICT DO NOTHING",
                       args, 3, NULL, NULL, NULL);
    }
    return ks;
}

#define ST_O_COLS                                                                                  \
    "merchant_id, id, kind, parent_id, status, currency, amount, created, due_at, ext_ref, seq, "  \
    "version, body"

static void st_dec_obj(st_dec *d, const char *const *v, void *out)
{
    store_obj *o = out;
    *o = (store_obj){.merchant_id = st_dup(d, v[0]),
                     .id = st_dup(d, v[1]),
                     .kind = st_dup(d, v[2]),
                     .parent_id = st_dup(d, v[3]),
                     .status = st_dup(d, v[4]),
                     .currency = st_dup(d, v[5]),
                     .amount = st_int(v[6]),
                     .created = st_int(v[7]),
                     .due_at = st_int(v[8]),
                     .ext_ref = st_dup(d, v[9]),
                     .seq = st_int(v[10]),
                     .version = (int32_t)st_int(v[11]),
                     .body = st_dup(d, v[12])};
}

#define ST_PAY_ARGS_MAX 20

/* The WHERE clause of a payments query, its arguments appended to args. */
typedef struct {
    buf sql;
    store_arg args[ST_PAY_ARGS_MAX];
    int n;
    k_status st;
    char *terms[ST_PAY_ARGS_MAX]; /* malloc'd texts the args point at */
    int nterms;
} st_where;

static void st_where_free(st_where *w)
{
    buf_free(&w->sql);
    for (int i = 0; i < w->nterms; i++)
        free(w->terms[i]);
    w->nterms = 0;
}

/* Appends piece with every "$?" replaced by this argument's placeholder. */
static void st_cond(st_where *w, const char *piece, store_arg arg)
{
    K_ASSERT(w->n < ST_PAY_ARGS_MAX);
    w->args[w->n++] = arg;
    char num[16];
    snprintf(num, sizeof(num), "$%d", w->n);
    for (const char *p = piece; *p != '\0' && w->st == K_OK; p++) {
        if (p[0] == '$' && p[1] == '?') {
            w->st = buf_append_str(&w->sql, num);
            p++;
            continue;
        }
        w->st = buf_append(&w->sql, p, 1);
    }
}

static void st_json_cond(store_tx *tx, st_where *w, const char *field, const char *value,
                         bool fold_case)
{
    if (value == NULL)
        return;
    char expr[96], fmt[200];
    store_json_field(tx, field, expr, sizeof(expr));
    if (fold_case)
        snprintf(fmt, sizeof(fmt), " AND lower(%s) = lower($?)", expr);
    else
        snprintf(fmt, sizeof(fmt), " AND %s = $?", expr);
    st_cond(w, fmt, SA_T(value));
}

/* A filter on a search term: the payment_terms index (merchant, term) gives the
 * ids, each a lookup in objects' unique index; no document is read. */
static void st_term_cond(st_where *w, const char *prefix, const char *value, bool lower, bool upper)
{
    if (value == NULL || w->st != K_OK)
        return;
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *term = malloc(n);
    if (term == NULL) {
        w->st = K_ENOMEM;
        return;
    }
    snprintf(term, n, "%s%s", prefix, value);
    for (char *p = term + strlen(prefix); *p != '\0'; p++) {
        if (lower && *p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        if (upper && *p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    }
    K_ASSERT(w->nterms < ST_PAY_ARGS_MAX);
    w->terms[w->nterms++] = term;
    st_cond(
        w, " AND id IN (SELECT payment_id FROM payment_terms WHERE merchant_id = $1 AND term = $?)",
        SA_T(term));
}

static void st_any_id(store_tx *tx, st_where *w, const char *v)
{
    if (strncmp(v, "pi_", 3) == 0) { /* Kassa's own id: the unique index, no document read */
        st_cond(w, " AND id = $?", SA_T(v));
        return;
    }
    char ext[96], order[96], prov[96], fmt[480];
    store_json_field(tx, "external_id", ext, sizeof(ext));
    store_json_field(tx, "order_ref", order, sizeof(order));
    store_json_field(tx, "provider_ref", prov, sizeof(prov));
    snprintf(fmt, sizeof(fmt), " AND (id = $? OR %s = $? OR %s = $? OR %s = $?)", ext, order, prov);
    st_cond(w, fmt, SA_T(v));
}

static void st_pay_where(store_tx *tx, const char *merchant_id, const store_pay_q *q, st_where *w)
{
    buf_init(&w->sql, 8192);
    w->n = 0;
    w->nterms = 0;
    w->st = K_OK;
    st_cond(w, " WHERE merchant_id = $? AND kind = 'payment_intent'", SA_T(merchant_id));
    if (q->status != NULL)
        st_cond(w, " AND status = $?", SA_T(q->status));
    if (q->currency != NULL)
        st_cond(w, " AND currency = $?", SA_T(q->currency));
    if (q->created_gte > 0)
        st_cond(w, " AND created >= $?", SA_I(q->created_gte));
    if (q->created_lt > 0)
        st_cond(w, " AND created < $?", SA_I(q->created_lt));
    if (q->amount_gte >= 0)
        st_cond(w, " AND amount >= $?", SA_I(q->amount_gte));
    if (q->amount_lte >= 0)
        st_cond(w, " AND amount <= $?", SA_I(q->amount_lte));
    st_json_cond(tx, w, "method_type", q->method, false);
    st_json_cond(tx, w, "country", q->country, true);
    st_term_cond(w, "email:", q->email, true, false);
    st_term_cond(w, "meta:", q->meta, false, false);
    st_term_cond(w, "wallet:", q->wallet, false, true);
    st_term_cond(w, "order:", q->order_ref, false, false);
    st_json_cond(tx, w, "channel", q->channel, false);
    if (q->any_id != NULL)
        st_any_id(tx, w, q->any_id);
}

k_status store_pay_search(store_tx *tx, const char *merchant_id, const store_pay_q *q, arena *a,
                          store_obj **out, size_t *n, bool *has_more)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(q->limit >= 1 && q->limit <= LIMIT_LIST_PAGE_MAX);
    st_where w;
    st_pay_where(tx, merchant_id, q, &w);
    if (q->before_seq > 0)
        st_cond(&w, " AND seq < $?", SA_I(q->before_seq));
    if (q->after_seq > 0)
        st_cond(&w, " AND seq > $?", SA_I(q->after_seq));
    /* With a search term the few matching ids lead (payment_terms, then objects' unique
     * index) and are sorted; "seq + 0" keeps the planner from walking the whole list in
     * seq order instead, testing each row against the terms. */
    st_cond(&w, w.nterms > 0 ? " ORDER BY seq + 0 DESC LIMIT $?" : " ORDER BY seq DESC LIMIT $?",
            SA_I(q->limit + 1));
    k_status ks = w.st;
    char *sql = NULL;
    if (ks == K_OK)
        sql = arena_printf(a, "SELECT " ST_O_COLS " FROM objects%.*s", (int)w.sql.len, w.sql.data);
    if (ks != K_OK || sql == NULL) {
        st_where_free(&w);
        return ks != K_OK ? ks : K_ENOMEM;
    }
    st_many m = {.d = {.a = a},
                 .decode = st_dec_obj,
                 .elem = sizeof(store_obj),
                 .max = (size_t)q->limit + 1};
    ks = st_query(tx, sql, w.args, w.n, &m);
    st_where_free(&w);
    if (ks != K_OK)
        return ks;
    *has_more = m.n > (size_t)q->limit;
    *n = *has_more ? (size_t)q->limit : m.n;
    *out = (store_obj *)m.rows;
    return K_OK;
}

static void st_dec_total(st_dec *d, const char *const *v, void *out)
{
    store_pay_total *t = out;
    *t = (store_pay_total){.currency = st_dup(d, v[0] != NULL ? v[0] : ""),
                           .count = st_int(v[1]),
                           .amount = st_int(v[2])};
}

k_status store_pay_totals(store_tx *tx, const char *merchant_id, const store_pay_q *q, size_t max,
                          arena *a, store_pay_total **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(max >= 1 && max <= LIMIT_STORE_ROWS_MAX);
    st_where w;
    st_pay_where(tx, merchant_id, q, &w);
    st_cond(&w, " GROUP BY currency ORDER BY currency LIMIT $?", SA_I((int64_t)max));
    k_status ks = w.st;
    char *sql = NULL;
    if (ks == K_OK)
        sql = arena_printf(a, "SELECT currency, COUNT(*), SUM(amount) FROM objects%.*s",
                           (int)w.sql.len, w.sql.data);
    if (ks != K_OK || sql == NULL) {
        st_where_free(&w);
        return ks != K_OK ? ks : K_ENOMEM;
    }
    st_many m = {
        .d = {.a = a}, .decode = st_dec_total, .elem = sizeof(store_pay_total), .max = max};
    ks = st_query(tx, sql, w.args, w.n, &m);
    st_where_free(&w);
    *out = (store_pay_total *)m.rows;
    *n = m.n;
    return ks;
}

k_status store_pay_expiring(store_tx *tx, const char *merchant_id, int64_t until_s, size_t max,
                            arena *a, store_obj **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(max >= 1 && max <= LIMIT_STORE_ROWS_MAX);
    char expr[96];
    store_json_field(tx, "auth_expires_at", expr, sizeof(expr));
    char *sql = arena_printf(a,
                             "SELECT " ST_O_COLS " FROM objects WHERE merchant_id = $1 AND "
                             "kind = 'payment_intent' AND status = 'requires_capture' AND "
                             "CAST(%s AS BIGINT) > 0 AND CAST(%s AS BIGINT) < $2 "
                             "ORDER BY CAST(%s AS BIGINT) LIMIT $3",
                             expr, expr, expr);
    if (sql == NULL)
        return K_ENOMEM;
    store_arg args[] = {SA_T(merchant_id), SA_I(until_s), SA_I((int64_t)max)};
    st_many m = {.d = {.a = a}, .decode = st_dec_obj, .elem = sizeof(store_obj), .max = max};
    k_status ks = st_query(tx, sql, args, 3, &m);
    *out = (store_obj *)m.rows;
    *n = m.n;
    return ks;
}

static void st_dec_op(st_dec *d, const char *const *v, void *out)
{
    store_op *o = out;
    *o = (store_op){.merchant_id = st_dup(d, v[0]),
                    .id = st_dup(d, v[1]),
                    .payment_id = st_dup(d, v[2]),
                    .kind = st_dup(d, v[3]),
                    .amount = st_int(v[4]),
                    .status = st_dup(d, v[5]),
                    .code = st_dup(d, v[6]),
                    .message = st_dup(d, v[7]),
                    .provider_ref = st_dup(d, v[8]),
                    .ref_id = st_dup(d, v[9]),
                    .body = st_dup(d, v[10]),
                    .created_ms = st_int(v[11]),
                    .seq = st_int(v[12])};
}

k_status store_op_after(store_tx *tx, const char *merchant_id, const char *payment_id,
                        int64_t after_seq, size_t max, arena *a, store_op **out, size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    K_ASSERT(max >= 1 && max <= LIMIT_STORE_ROWS_MAX);
    /* seq > $2 first: the primary key's range, however long the journal is. */
    store_arg args[] = {SA_T(merchant_id), SA_I(after_seq),
                        SA_T(payment_id != NULL ? payment_id : ""), SA_I((int64_t)max)};
    st_many m = {.d = {.a = a}, .decode = st_dec_op, .elem = sizeof(store_op), .max = max};
    k_status ks = st_query(tx,
                           "SELECT merchant_id, id, payment_id, kind, amount, status, code, "
                           "message, provider_ref, ref_id, body, created_ms, seq FROM operations "
                           "WHERE seq > $2 AND merchant_id = $1 AND ($3 = '' OR payment_id = $3) "
                           "ORDER BY seq LIMIT $4",
                           args, 4, &m);
    *out = (store_op *)m.rows;
    *n = m.n;
    return ks;
}

static k_status st_int_row(void *ctx, int ncols, const char *const *vals)
{
    (void)ncols;
    *(int64_t *)ctx = st_int(vals[0]);
    return K_OK;
}

k_status store_op_last_seq(store_tx *tx, const char *merchant_id, int64_t *out)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    *out = 0;
    store_arg args[] = {SA_T(merchant_id)};
    /* newest first along the primary key: stops at the merchant's newest row instead
     * of reading all of them (no row: *out stays 0) */
    return store_sql(tx,
                     "SELECT seq FROM operations WHERE merchant_id = $1 ORDER BY seq DESC LIMIT 1",
                     args, 1, st_int_row, out, NULL);
}
