/*
 * store_sql.h - private to the store module: one parameterised statement in
 * SQL that both backends accept, for store modules that keep their SQL above
 * the backends (store_staff.c: staff users, sessions, the audit chain, saved
 * views, the back office's payment search).
 *
 * Placeholders are $1..$n (PostgreSQL's form; SQLite reads "$1" as a named
 * parameter and the backend binds by name). Every argument must be used by the
 * statement (PostgreSQL infers each parameter's type from its use). Rows come
 * back as text (NULL for SQL NULL), valid only during the callback.
 */
#ifndef KASSA_STORE_SQL_H
#define KASSA_STORE_SQL_H

#include "../base/common.h"

typedef struct store_tx store_tx;

typedef struct {
    char type;     /* 't' text (s == NULL binds NULL), 'i' 64-bit integer */
    const char *s; /* 't' */
    int64_t i;     /* 'i' */
} store_arg;

#define SA_T(v) ((store_arg){.type = 't', .s = (v)})
#define SA_I(v) ((store_arg){.type = 'i', .i = (v)})

/* Called once per row; a status other than K_OK stops the statement and is returned. */
typedef k_status (*store_row_fn)(void *ctx, int ncols, const char *const *vals);

/* Runs sql in tx. fn may be NULL (no rows wanted); changes (NULL allowed)
 * receives the rows a command changed. K_ECONFLICT on a unique violation. */
k_status store_sql(store_tx *tx, const char *sql, const store_arg *args, int nargs, store_row_fn fn,
                   void *ctx, int64_t *changes);
/* "sqlite" or "postgresql": the few expressions that differ (JSON fields). */
const char *store_sql_dialect(store_tx *tx);

#endif
