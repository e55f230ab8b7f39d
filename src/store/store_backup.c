/*
 * store_backup.c - the SQLite side of `kassa backup` and `kassa restore`
 * (backup.h): VACUUM INTO on a connection of its own, and a read-only check of
 * a copy (integrity_check, schema version, every payment intent's body).
 *
 * Why VACUUM INTO and not the backup API: it copies one read transaction's
 * snapshot in one statement, so in WAL mode the server's writer is never
 * blocked and never restarts the copy (the backup API restarts its page walk
 * whenever another connection writes), and the result is compact. The copy is
 * made into a file created O_EXCL and left empty, which VACUUM INTO accepts:
 * an existing backup is never overwritten, even by a second backup racing.
 */
#include "backup.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../limits.h"

static k_status bk_fail(char *err, size_t cap, k_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static k_status bk_fail(char *err, size_t cap, k_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return st;
}

/* fsync of a file and of the directory that names it: the copy survives a crash. */
static k_status bk_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return K_EIO;
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return K_EIO;
    char dir[LIMIT_BACKUP_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return K_EIO;
    rc = fsync(dfd);
    close(dfd);
    return rc == 0 ? K_OK : K_EIO;
}

static k_status bk_exec(sqlite3 *db, const char *sql, char *err, size_t cap, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return K_OK;
    bk_fail(err, cap, K_EIO, "%s: %s", what, msg != NULL ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return K_EIO;
}

/* Creates the empty target O_EXCL: refuses an existing file, even one made a
 * moment ago by another backup. */
static k_status bk_create_target(const char *to_path, char *err, size_t cap)
{
    int fd = open(to_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return K_OK;
    }
    if (errno == EEXIST)
        return bk_fail(err, cap, K_ECONFLICT,
                       "the target '%s' exists already: a backup never overwrites a file", to_path);
    return bk_fail(err, cap, K_EIO, "cannot create the target '%s': %s", to_path, strerror(errno));
}

static k_status bk_vacuum_into(const char *db_path, const char *to_path, char *err, size_t cap)
{
    sqlite3 *db = NULL;
    /* Read-write without CREATE: a read-only connection could not open a WAL
     * database whose -shm is missing (no server running). Nothing is written. */
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        k_status st = bk_fail(err, cap, K_EIO, "cannot open the database '%s': %s", db_path,
                              db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, LIMIT_BACKUP_BUSY_MS);
    sqlite3_stmt *st = NULL;
    k_status ks = K_OK;
    if (sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, to_path, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        ks = bk_fail(err, cap, K_EIO, "copying '%s' failed: %s", db_path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (ks != K_OK)
        return ks;
    /* One self-contained file: a copy in WAL mode would need its -wal beside it. */
    if (sqlite3_open_v2(to_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        ks = bk_fail(err, cap, K_EIO, "cannot reopen the copy '%s': %s", to_path,
                     db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return ks;
    }
    ks = bk_exec(db, "PRAGMA journal_mode=DELETE", err, cap, "setting the copy's journal mode");
    sqlite3_close(db);
    return ks;
}

k_status store_backup_copy(const char *db_path, const char *to_path, char *err, size_t cap)
{
    K_ASSERT(db_path != NULL);
    K_ASSERT(to_path != NULL);
    K_ASSERT(err != NULL && cap > 0);
    if (strlen(to_path) >= LIMIT_BACKUP_PATH_MAX || strlen(db_path) >= LIMIT_BACKUP_PATH_MAX)
        return bk_fail(err, cap, K_ETOOBIG, "path too long: '%s'", to_path);
    struct stat sb;
    if (stat(db_path, &sb) != 0)
        return bk_fail(err, cap, K_ENOTFOUND, "no database at '%s': %s", db_path, strerror(errno));
    k_status ks = bk_create_target(to_path, err, cap);
    if (ks != K_OK)
        return ks;
    ks = bk_vacuum_into(db_path, to_path, err, cap);
    if (ks == K_OK && bk_sync(to_path) != K_OK)
        ks = bk_fail(err, cap, K_EIO, "cannot fsync the copy '%s': %s", to_path, strerror(errno));
    if (ks != K_OK)
        unlink(to_path);
    return ks;
}

/* PRAGMA integrity_check answers one row "ok", or up to N rows of problems. */
static k_status bk_integrity(sqlite3 *db, const char *path, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return bk_fail(err, cap, K_EINVAL, "'%s' is not an SQLite database: %s", path,
                       sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    const char *first = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    k_status ks = K_OK;
    if (first == NULL)
        ks = bk_fail(err, cap, K_EINVAL, "'%s' is not a sound SQLite database: %s", path,
                     sqlite3_errmsg(db));
    else if (strcmp(first, "ok") != 0)
        ks = bk_fail(err, cap, K_EINVAL, "'%s' failed PRAGMA integrity_check: %s", path, first);
    sqlite3_finalize(st);
    return ks;
}

static k_status bk_schema(sqlite3 *db, const char *path, int *schema, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st,
                           NULL) != SQLITE_OK)
        return bk_fail(err, cap, K_EINVAL, "'%s' is not a Kassa database: %s", path,
                       sqlite3_errmsg(db));
    k_status ks = K_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *schema = sqlite3_column_int(st, 0);
    else
        ks = bk_fail(err, cap, K_EINVAL, "'%s': cannot read its schema version: %s", path,
                     sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ks;
}

static k_status bk_scan(sqlite3 *db, const char *path, store_backup_row_fn fn, void *ctx, char *err,
                        size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "SELECT id, body FROM objects WHERE kind = 'payment_intent' ORDER BY seq", -1, &st,
            NULL) != SQLITE_OK)
        return bk_fail(err, cap, K_EINVAL, "'%s' is not a Kassa database: %s", path,
                       sqlite3_errmsg(db));
    k_status ks = K_OK;
    int rc;
    while (ks == K_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *body = (const char *)sqlite3_column_text(st, 1);
        ks = fn(id != NULL ? id : "", body != NULL ? body : "", ctx);
    }
    if (ks == K_OK && rc != SQLITE_DONE)
        ks = bk_fail(err, cap, K_EINVAL, "'%s': reading its payments failed: %s", path,
                     sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ks;
}

k_status store_backup_check(const char *path, int *schema, store_backup_row_fn fn, void *ctx,
                            char *err, size_t cap)
{
    K_ASSERT(path != NULL);
    K_ASSERT(schema != NULL);
    K_ASSERT(fn != NULL);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        k_status st = bk_fail(err, cap, K_EINVAL, "cannot open '%s': %s", path,
                              db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    k_status ks = bk_integrity(db, path, err, cap);
    if (ks == K_OK)
        ks = bk_schema(db, path, schema, err, cap);
    if (ks == K_OK)
        ks = bk_scan(db, path, fn, ctx, err, cap);
    sqlite3_close(db);
    return ks;
}
