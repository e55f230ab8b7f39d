/*
 * backup.h - file-level operations on an SQLite database for `kassa backup`
 * and `kassa restore` (src/cli/backup.c): an online, consistent copy; a check
 * of a copy that changes nothing in it; a copy put in place of a database.
 *
 * These work on files, not on an open store: each opens its own connection, so
 * a backup runs while a server writes (WAL: the copy reads one snapshot, the
 * writer goes on). PostgreSQL is not handled here: its own tools
 * (pg_basebackup, WAL archiving) are the way (docs/operations.md).
 *
 * Every function fills err (a sentence naming the file) when it fails.
 */
#ifndef KASSA_STORE_BACKUP_H
#define KASSA_STORE_BACKUP_H

#include "../base/common.h"

/* Copies the database at db_path into to_path, which must not exist (created
 * O_EXCL, so a concurrent second backup to the same name fails too). The copy
 * is one read snapshot (VACUUM INTO), in rollback-journal mode (one
 * self-contained file), fsynced with its directory. On failure to_path is
 * removed. K_ECONFLICT when to_path exists, K_ENOTFOUND when db_path does not. */
k_status store_backup_copy(const char *db_path, const char *to_path, char *err, size_t cap);

/* Called once per payment intent found by store_backup_check; a status other
 * than K_OK stops the scan and is returned. */
typedef k_status (*store_backup_row_fn)(const char *id, const char *body, void *ctx);

/* Checks a database file read-only: PRAGMA integrity_check must say "ok", then
 * *schema receives its schema version and fn is called for every payment
 * intent (any merchant). K_EINVAL when the file is not a sound Kassa database. */
k_status store_backup_check(const char *path, int *schema, store_backup_row_fn fn, void *ctx,
                            char *err, size_t cap);

#endif
