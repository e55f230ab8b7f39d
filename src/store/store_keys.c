/*
 * store_keys.c - the api_keys table (store_keys.h), in the SQL both backends
 * share (store_sql.h).
 */
#include "store_keys.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#define SK_COLS                                                                                    \
    "merchant_id, id, mode, kind, name, key_hash, last4, idem, created_ms, expires_ms, "           \
    "revoked_ms, last_used_ms"
#define SK_NCOLS 12

typedef struct {
    arena *a;
    bool oom;
    store_api_key *rows;
    size_t n, cap, max;
} sk_rows;

static const char *sk_dup(sk_rows *r, const char *v)
{
    if (v == NULL)
        return NULL;
    char *c = arena_strdup(r->a, v);
    if (c == NULL)
        r->oom = true;
    return c;
}

static int64_t sk_int(const char *v)
{
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static k_status sk_row(void *ctx, int ncols, const char *const *v)
{
    sk_rows *r = ctx;
    if (ncols != SK_NCOLS)
        return K_EIO;
    if (r->n >= r->max)
        return K_OK;
    if (r->n == r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 8;
        store_api_key *grown = arena_alloc(r->a, cap * sizeof *grown);
        if (grown == NULL)
            return K_ENOMEM;
        if (r->n > 0)
            memcpy(grown, r->rows, r->n * sizeof *grown);
        r->rows = grown;
        r->cap = cap;
    }
    r->rows[r->n++] = (store_api_key){.merchant_id = sk_dup(r, v[0]),
                                      .id = sk_dup(r, v[1]),
                                      .mode = sk_dup(r, v[2]),
                                      .kind = sk_dup(r, v[3]),
                                      .name = sk_dup(r, v[4]),
                                      .key_hash = sk_dup(r, v[5]),
                                      .last4 = sk_dup(r, v[6]),
                                      .idem = sk_dup(r, v[7]),
                                      .created_ms = sk_int(v[8]),
                                      .expires_ms = sk_int(v[9]),
                                      .revoked_ms = sk_int(v[10]),
                                      .last_used_ms = sk_int(v[11])};
    return r->oom ? K_ENOMEM : K_OK;
}

static k_status sk_one(store_tx *tx, const char *sql, const store_arg *args, int nargs, arena *a,
                       store_api_key *out)
{
    sk_rows r = {.a = a, .max = 1};
    k_status ks = store_sql(tx, sql, args, nargs, sk_row, &r, NULL);
    if (ks != K_OK)
        return ks;
    if (r.n == 0)
        return K_ENOTFOUND;
    *out = r.rows[0];
    return K_OK;
}

k_status store_key_insert(store_tx *tx, const store_api_key *k)
{
    K_ASSERT(tx != NULL && tx->writable);
    K_ASSERT(k->merchant_id != NULL && k->id != NULL && k->key_hash != NULL);
    store_arg args[] = {SA_T(k->merchant_id), SA_T(k->id),         SA_T(k->mode),
                        SA_T(k->kind),        SA_T(k->name),       SA_T(k->key_hash),
                        SA_T(k->last4),       SA_T(k->idem),       SA_I(k->created_ms),
                        SA_I(k->expires_ms),  SA_I(k->revoked_ms), SA_I(k->last_used_ms)};
    return store_sql(tx,
                     "INSERT INTO api_keys(" SK_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                     "$10, $11, $12)",
                     args, (int)K_ARRAY_LEN(args), NULL, NULL, NULL);
}

k_status store_key_by_hash(store_tx *tx, const char *key_hash, arena *a, store_api_key *out)
{
    K_ASSERT(tx != NULL && key_hash != NULL);
    store_arg args[] = {SA_T(key_hash)};
    return sk_one(tx, "SELECT " SK_COLS " FROM api_keys WHERE key_hash = $1", args, 1, a, out);
}

k_status store_key_by_idem(store_tx *tx, const char *merchant_id, const char *idem, arena *a,
                           store_api_key *out)
{
    K_ASSERT(tx != NULL && merchant_id != NULL && idem != NULL);
    store_arg args[] = {SA_T(merchant_id), SA_T(idem)};
    return sk_one(tx, "SELECT " SK_COLS " FROM api_keys WHERE merchant_id = $1 AND idem = $2", args,
                  2, a, out);
}

k_status store_key_get(store_tx *tx, const char *merchant_id, const char *id, arena *a,
                       store_api_key *out)
{
    K_ASSERT(tx != NULL && merchant_id != NULL && id != NULL);
    store_arg args[] = {SA_T(merchant_id), SA_T(id)};
    return sk_one(tx, "SELECT " SK_COLS " FROM api_keys WHERE merchant_id = $1 AND id = $2", args,
                  2, a, out);
}

k_status store_key_list(store_tx *tx, const char *merchant_id, arena *a, store_api_key **out,
                        size_t *n)
{
    K_ASSERT(tx != NULL && merchant_id != NULL);
    store_arg args[] = {SA_T(merchant_id), SA_I(STORE_KEYS_MAX)};
    sk_rows r = {.a = a, .max = STORE_KEYS_MAX};
    k_status ks = store_sql(tx,
                            "SELECT " SK_COLS " FROM api_keys WHERE merchant_id = $1 "
                            "ORDER BY created_ms DESC, id DESC LIMIT $2",
                            args, 2, sk_row, &r, NULL);
    *out = r.rows;
    *n = r.n;
    return ks;
}

k_status store_key_end(store_tx *tx, const char *merchant_id, const char *id, int64_t expires_ms,
                       int64_t revoked_ms)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(merchant_id), SA_T(id), SA_I(expires_ms), SA_I(revoked_ms)};
    int64_t changed = 0;
    k_status ks = store_sql(tx,
                            "UPDATE api_keys SET expires_ms = $3, revoked_ms = $4 "
                            "WHERE merchant_id = $1 AND id = $2",
                            args, 4, NULL, NULL, &changed);
    return ks == K_OK && changed != 1 ? K_ENOTFOUND : ks;
}

k_status store_key_rehash(store_tx *tx, const char *id, const char *key_hash)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(id), SA_T(key_hash)};
    return store_sql(tx, "UPDATE api_keys SET key_hash = $2 WHERE id = $1", args, 2, NULL, NULL,
                     NULL);
}

k_status store_key_touch(store_tx *tx, const char *id, int64_t at_ms)
{
    K_ASSERT(tx != NULL && tx->writable);
    store_arg args[] = {SA_T(id), SA_I(at_ms)};
    return store_sql(tx,
                     "UPDATE api_keys SET last_used_ms = $2 WHERE id = $1 AND last_used_ms < $2",
                     args, 2, NULL, NULL, NULL);
}
