/*
 * backup.c - `kassa backup`, `kassa restore` and the periodic backup of
 * `serve` (backup.h), over the SQLite file operations of store/backup.h.
 *
 * Backup: a VACUUM INTO copy (one snapshot, the server keeps writing), then
 * the copy is checked as restore would check it: integrity, schema, and every
 * payment's money through the domain's pay_check. Only then FILE.sha256 is
 * written, so a file without it is not a backup (restore refuses it).
 *
 * Restore: FILE's hash against FILE.sha256, the same checks, a schema no newer
 * than this binary's, and "<db>.lock" free (a running server holds it with
 * flock for its whole life; the kernel drops it when the process dies, even by
 * kill -9, so a stale lock file never blocks). The copy goes to a temporary
 * name beside the database and is renamed over it; the database it replaces
 * is kept as "<db>.before-restore-<time>" (with its -wal), never deleted.
 */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/crypto.h"
#include "../base/log.h"
#include "../domain/payment.h"
#include "../limits.h"
#include "../server/http.h"
#include "../store/backup.h"
#include "../store/store.h"

#define BK_ERR_MAX (4 * LIMIT_BACKUP_PATH_MAX + 512) /* two paths and a reason */

static bool bk_is_url(const char *db)
{
    return strstr(db, "://") != NULL;
}

/* ---- hashing ---- */

/* sha256 of a file as hex; false on I/O error. */
static bool bk_sha256_file(const char *path, char hex[SHA256_HEX_LEN], int64_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char chunk[64 * 1024];
    size_t n;
    int64_t total = 0;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        ok = EVP_DigestUpdate(md, chunk, n) == 1;
        total += (int64_t)n;
    }
    ok = ok && !ferror(f);
    unsigned char out[SHA256_LEN];
    unsigned int outlen = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &outlen) == 1 && outlen == SHA256_LEN;
    if (ok)
        crypto_hex(out, SHA256_LEN, hex);
    EVP_MD_CTX_free(md);
    fclose(f);
    if (bytes != NULL)
        *bytes = total;
    return ok;
}

/* Reads the first word of FILE.sha256 (sha256sum's "HEX  NAME" line). */
static bool bk_read_sha_file(const char *sha_path, char hex[SHA256_HEX_LEN])
{
    FILE *f = fopen(sha_path, "r");
    if (f == NULL)
        return false;
    char line[SHA256_HEX_LEN + LIMIT_BACKUP_PATH_MAX + 8];
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (!ok || strlen(line) < SHA256_HEX_LEN - 1)
        return false;
    for (size_t i = 0; i < SHA256_HEX_LEN - 1; i++) {
        char c = line[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    memcpy(hex, line, SHA256_HEX_LEN - 1);
    hex[SHA256_HEX_LEN - 1] = '\0';
    return true;
}

static bool bk_fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static bool bk_fsync_dir_of(const char *path)
{
    char dir[LIMIT_BACKUP_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    return bk_fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY);
}

/* Writes FILE.sha256 (O_EXCL) in sha256sum's format and fsyncs it. */
static bool bk_write_sha_file(const char *file, const char *hex, char *err, size_t cap)
{
    char sha_path[LIMIT_BACKUP_PATH_MAX + 8];
    snprintf(sha_path, sizeof(sha_path), "%s.sha256", file);
    int fd = open(sha_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, cap, "cannot create '%s': %s", sha_path, strerror(errno));
        return false;
    }
    char base[LIMIT_BACKUP_PATH_MAX];
    snprintf(base, sizeof(base), "%s", file);
    char line[SHA256_HEX_LEN + LIMIT_BACKUP_PATH_MAX + 8];
    int n = snprintf(line, sizeof(line), "%s  %s\n", hex, basename(base));
    bool ok =
        n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        snprintf(err, cap, "cannot write '%s': %s", sha_path, strerror(errno));
        unlink(sha_path);
        return false;
    }
    return bk_fsync_dir_of(sha_path);
}

/* ---- verification ---- */

typedef struct {
    int64_t payments;
    char *err;
    size_t cap;
} bk_verify;

static int64_t bk_jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* One payment's stored money, folded snapshot as the gateway writes it, must
 * satisfy the domain's invariants. */
static k_status bk_check_payment(const char *id, const char *body, void *ctx)
{
    bk_verify *v = ctx;
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    if (!json_is_object(doc)) {
        snprintf(v->err, v->cap, "payment '%s': its stored body is not JSON (%s)", id, jerr.text);
        json_decref(doc);
        return K_EINVAL;
    }
    int state = pay_state_from_name(json_string_value(json_object_get(doc, "status")));
    pay_money m = {.state = (pay_state)(state < 0 ? 0 : state),
                   .amount = bk_jint(doc, "amount"),
                   .authorized = bk_jint(doc, "authorized"),
                   .captured = bk_jint(doc, "captured"),
                   .released = bk_jint(doc, "released"),
                   .refunded = bk_jint(doc, "refunded"),
                   .refund_pending = bk_jint(doc, "refund_pending")};
    json_decref(doc);
    if (state < 0 || !pay_check(&m)) {
        snprintf(v->err, v->cap,
                 "payment '%s' breaks the money invariants (status %s, amount %lld, "
                 "authorized %lld, captured %lld, released %lld, refunded %lld, pending %lld)",
                 id, state < 0 ? "unknown" : pay_state_name(m.state), (long long)m.amount,
                 (long long)m.authorized, (long long)m.captured, (long long)m.released,
                 (long long)m.refunded, (long long)m.refund_pending);
        return K_EINVAL;
    }
    v->payments++;
    return K_OK;
}

/* The schema version this binary writes: a fresh store in a temporary
 * directory is migrated to it (the migration list is the store's own). */
static int bk_latest_schema_uncached(void)
{
    char dir[] = "/tmp/kassa-schema-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return -1;
    char path[sizeof(dir) + 16];
    snprintf(path, sizeof(path), "%s/s.db", dir);
    store *st = NULL;
    int v = -1;
    if (store_open(&st, path) == K_OK) {
        v = store_schema_version(st);
        store_close(st);
    }
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < K_ARRAY_LEN(sfx); i++) {
        char p[sizeof(path) + 8];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
    return v;
}

/* Once per process: the periodic backup asks at every run. Only one thread
 * ever calls this (the command's, or serve's backup thread). */
static int bk_latest_schema(void)
{
    static int latest = -1;
    if (latest < 0)
        latest = bk_latest_schema_uncached();
    return latest;
}

/* Integrity, schema no newer than ours, every payment's money. */
static bool bk_verify_file(const char *file, int *schema, int64_t *payments, char *err, size_t cap)
{
    bk_verify v = {0, err, cap};
    if (store_backup_check(file, schema, bk_check_payment, &v, err, cap) != K_OK)
        return false;
    int latest = bk_latest_schema();
    if (latest < 0) {
        snprintf(err, cap, "cannot tell this binary's schema version (temporary store failed)");
        return false;
    }
    if (*schema > latest) {
        snprintf(err, cap,
                 "'%s' has schema version %d, newer than this kassa's %d: restore it with the "
                 "kassa that made it",
                 file, *schema, latest);
        return false;
    }
    *payments = v.payments;
    return true;
}

/* ---- the served-database lock ---- */

static int bk_lock_open(const char *db, char *lock_path, size_t cap)
{
    snprintf(lock_path, cap, "%s.lock", db);
    return open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* The pid a holder wrote into the lock file ("?" when unreadable). */
static void bk_lock_holder(int fd, char *out, size_t cap)
{
    char b[32] = "";
    ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
    b[n > 0 ? n : 0] = '\0';
    b[strcspn(b, "\n")] = '\0';
    snprintf(out, cap, "%s", b[0] ? b : "?");
}

/* Takes the lock; returns the fd (kept open to hold it) or -1 with err set. */
static int bk_lock_take(const char *db, bool write_pid, char *err, size_t cap)
{
    char lock_path[LIMIT_BACKUP_PATH_MAX + 8];
    int fd = bk_lock_open(db, lock_path, sizeof(lock_path));
    if (fd < 0) {
        snprintf(err, cap, "cannot open the lock file '%s': %s", lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32];
        bk_lock_holder(fd, pid, sizeof(pid));
        snprintf(err, cap,
                 "the database '%s' is in use by a running kassa serve (pid %s, holding '%s'); "
                 "stop it first",
                 db, pid, lock_path);
        close(fd);
        return -1;
    }
    if (write_pid) {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
            log_warn("backup: cannot write the pid into '%s'", lock_path);
    }
    return fd;
}

bool backup_serve_lock(const char *db)
{
    K_ASSERT(db != NULL);
    if (bk_is_url(db))
        return true;
    char err[BK_ERR_MAX];
    int fd = bk_lock_take(db, true, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "kassa serve: %s\n", err);
        return false;
    }
    return true; /* fd stays open: the lock lives as long as the process */
}

/* ---- one backup ---- */

typedef struct {
    char sha[SHA256_HEX_LEN];
    int64_t bytes;
    int64_t payments;
    int schema;
} bk_result;

static bool bk_take(const char *db, const char *to, bk_result *r, char *err, size_t cap)
{
    if (store_backup_copy(db, to, err, cap) != K_OK)
        return false;
    if (!bk_verify_file(to, &r->schema, &r->payments, err, cap)) {
        size_t used = strlen(err);
        snprintf(err + used, cap - used,
                 " (the copy is kept at '%s' for inspection; no .sha256 was written, so it "
                 "is not a backup)",
                 to);
        return false;
    }
    if (!bk_sha256_file(to, r->sha, &r->bytes)) {
        snprintf(err, cap, "cannot read back '%s': %s", to, strerror(errno));
        return false;
    }
    return bk_write_sha_file(to, r->sha, err, cap);
}

/* ---- options ---- */

/* Finds "--name VALUE" in argv (skipping --db/--config, handled by main). */
static const char *bk_opt(int argc, char **argv, const char *name, bool *bad)
{
    const char *found = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            continue;
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "kassa %s: unexpected argument '%s'\n", argv[0], a);
            *bad = true;
            return NULL;
        }
        if (strcmp(a + 2, name) == 0)
            found = argv[i + 1];
        else if (strcmp(a, "--db") != 0 && strcmp(a, "--config") != 0) {
            fprintf(stderr, "kassa %s: unknown option '%s' (see kassa %s --help)\n", argv[0], a,
                    argv[0]);
            *bad = true;
            return NULL;
        }
        i++;
    }
    return found;
}

static bool bk_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int cli_backup(int argc, char **argv, const char *db)
{
    K_ASSERT(argc >= 1);
    K_ASSERT(db != NULL);
    if (bk_wants_help(argc, argv)) {
        printf("kassa backup --to FILE [--db PATH]\n"
               "Copies the SQLite database while Kassa serves (one consistent snapshot), checks\n"
               "the copy (PRAGMA integrity_check, the money invariants of every payment) and\n"
               "writes FILE.sha256 beside it. FILE must not exist. For PostgreSQL use\n"
               "pg_basebackup and WAL archiving (docs/operations.md).\n");
        return 0;
    }
    bool bad = false;
    const char *to = bk_opt(argc, argv, "to", &bad);
    if (bad)
        return 2;
    if (to == NULL || to[0] == '\0') {
        fprintf(stderr, "kassa backup: --to FILE is required\n");
        return 2;
    }
    if (bk_is_url(db)) {
        fprintf(stderr,
                "kassa backup: '%s' is PostgreSQL: back it up with pg_basebackup and WAL "
                "archiving (docs/operations.md)\n",
                db);
        return 2;
    }
    char err[BK_ERR_MAX];
    bk_result r;
    if (!bk_take(db, to, &r, err, sizeof(err))) {
        fprintf(stderr, "kassa backup: %s\n", err);
        return 1;
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:i}", "backup", to, "db", db, "sha256", r.sha,
                          "bytes", (json_int_t)r.bytes, "payments", (json_int_t)r.payments,
                          "schema_version", r.schema);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    return 0;
}

/* ---- restore ---- */

static bool bk_copy_file(const char *from, const char *to, char *err, size_t cap)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, cap, "cannot open '%s': %s", from, strerror(errno));
        return false;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        snprintf(err, cap, "cannot create '%s': %s", to, strerror(errno));
        close(in);
        return false;
    }
    char chunk[64 * 1024];
    ssize_t n;
    bool ok = true;
    while (ok && (n = read(in, chunk, sizeof(chunk))) > 0)
        ok = write(out, chunk, (size_t)n) == n;
    ok = ok && n == 0 && fsync(out) == 0;
    if (!ok)
        snprintf(err, cap, "copying '%s' to '%s' failed: %s", from, to, strerror(errno));
    close(in);
    close(out);
    if (!ok)
        unlink(to);
    return ok;
}

/* Moves db and its -wal/-shm aside to "<db>.before-restore-<stamp>"; kept[]
 * receives the new name of the database ("" when there was none). */
static bool bk_move_aside(const char *db, char *kept, size_t cap, char *err, size_t ecap)
{
    kept[0] = '\0';
    struct stat sb;
    if (stat(db, &sb) != 0)
        return true;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(kept, cap, "%s.before-restore-%s", db, stamp);
    static const char *const sfx[] = {"-wal", "-shm", ""}; /* the database last */
    for (size_t i = 0; i < K_ARRAY_LEN(sfx); i++) {
        char from[LIMIT_BACKUP_PATH_MAX + 8], to[LIMIT_BACKUP_PATH_MAX + 64];
        snprintf(from, sizeof(from), "%s%s", db, sfx[i]);
        snprintf(to, sizeof(to), "%s%s", kept, sfx[i]);
        if (rename(from, to) != 0 && errno != ENOENT) {
            snprintf(err, ecap, "cannot move '%s' aside: %s", from, strerror(errno));
            return false;
        }
    }
    return true;
}

typedef struct {
    const char *from;
    const char *db;
    char sha[SHA256_HEX_LEN];
    int schema;
    int64_t payments;
    char kept[LIMIT_BACKUP_PATH_MAX + 64];
} bk_restore;

/* Everything that can refuse before anything is touched. */
static bool bk_restore_check(bk_restore *r, char *err, size_t cap)
{
    char sha_path[LIMIT_BACKUP_PATH_MAX + 8];
    snprintf(sha_path, sizeof(sha_path), "%s.sha256", r->from);
    char want[SHA256_HEX_LEN];
    if (!bk_read_sha_file(sha_path, want)) {
        snprintf(err, cap,
                 "no readable '%s' beside the backup: only files written by kassa backup (which "
                 "checks them before it writes their .sha256) are restored",
                 sha_path);
        return false;
    }
    if (!bk_sha256_file(r->from, r->sha, NULL)) {
        snprintf(err, cap, "cannot read '%s': %s", r->from, strerror(errno));
        return false;
    }
    if (strcmp(want, r->sha) != 0) {
        snprintf(err, cap, "'%s' does not match '%s' (sha256 %s, expected %s): the file changed",
                 r->from, sha_path, r->sha, want);
        return false;
    }
    return bk_verify_file(r->from, &r->schema, &r->payments, err, cap);
}

static bool bk_restore_swap(bk_restore *r, char *err, size_t cap)
{
    char tmp[LIMIT_BACKUP_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.restoring", r->db);
    unlink(tmp); /* left by a restore that crashed; we hold the lock */
    if (!bk_copy_file(r->from, tmp, err, cap))
        return false;
    char got[SHA256_HEX_LEN];
    if (!bk_sha256_file(tmp, got, NULL) || strcmp(got, r->sha) != 0) {
        snprintf(err, cap, "the copy '%s' does not read back as written", tmp);
        unlink(tmp);
        return false;
    }
    if (!bk_move_aside(r->db, r->kept, sizeof(r->kept), err, cap)) {
        unlink(tmp);
        return false;
    }
    if (rename(tmp, r->db) != 0) {
        snprintf(err, cap, "cannot rename '%s' to '%s': %s", tmp, r->db, strerror(errno));
        return false;
    }
    bk_fsync_dir_of(r->db);
    return true;
}

int cli_restore(int argc, char **argv, const char *db)
{
    K_ASSERT(argc >= 1);
    K_ASSERT(db != NULL);
    if (bk_wants_help(argc, argv)) {
        printf("kassa restore --from FILE [--db PATH]\n"
               "Puts a backup made by kassa backup in place of the database. Refuses a file\n"
               "whose FILE.sha256 is missing or differs, a file that fails PRAGMA\n"
               "integrity_check or the money invariants, a schema newer than this kassa's, and\n"
               "a database a running kassa serve holds. The database it replaces is kept as\n"
               "PATH.before-restore-<time>.\n");
        return 0;
    }
    bool bad = false;
    bk_restore r = {.from = bk_opt(argc, argv, "from", &bad), .db = db};
    if (bad)
        return 2;
    if (r.from == NULL || r.from[0] == '\0') {
        fprintf(stderr, "kassa restore: --from FILE is required\n");
        return 2;
    }
    if (bk_is_url(db)) {
        fprintf(stderr,
                "kassa restore: '%s' is PostgreSQL: restore it with its own tools "
                "(docs/operations.md)\n",
                db);
        return 2;
    }
    char err[BK_ERR_MAX];
    int lock = bk_lock_take(db, false, err, sizeof(err));
    if (lock < 0 || !bk_restore_check(&r, err, sizeof(err)) ||
        !bk_restore_swap(&r, err, sizeof(err))) {
        fprintf(stderr, "kassa restore: %s; nothing was changed\n", err);
        if (lock >= 0)
            close(lock);
        return 1;
    }
    close(lock);
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:s?}", "restored", r.from, "db", db, "sha256",
                          r.sha, "payments", (json_int_t)r.payments, "schema_version", r.schema,
                          "previous", r.kept[0] ? r.kept : NULL);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    return 0;
}

/* ---- the periodic backup of serve ---- */

typedef struct {
    char db[LIMIT_BACKUP_PATH_MAX];
    char dir[LIMIT_BACKUP_PATH_MAX];
    int64_t interval_s;
    int64_t keep;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running;
    bool stopping;
    metric *ok_total, *failed_total, *last_ok_s, *last_bytes;
} bk_schedule;

static bk_schedule bk_sched = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int bk_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes the oldest verified backups beyond keep (names sort by time). */
static void bk_prune(const bk_schedule *s)
{
    DIR *d = opendir(s->dir);
    if (d == NULL)
        return;
    static char names[LIMIT_BACKUP_DIR_FILES_MAX][256];
    char *sorted[LIMIT_BACKUP_DIR_FILES_MAX];
    size_t n = 0;
    struct dirent *e;
    while (n < LIMIT_BACKUP_DIR_FILES_MAX && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "kassa-", 6) != 0 || len < 10 || len >= sizeof(names[0]) ||
            strcmp(e->d_name + len - 10, ".db.sha256") != 0)
            continue;
        snprintf(names[n], sizeof(names[n]), "%.*s", (int)(len - 7), e->d_name);
        sorted[n] = names[n];
        n++;
    }
    closedir(d);
    qsort(sorted, n, sizeof(sorted[0]), bk_name_cmp);
    for (size_t i = 0; i + (size_t)s->keep < n; i++) {
        char p[LIMIT_BACKUP_PATH_MAX + 300];
        snprintf(p, sizeof(p), "%s/%s.sha256", s->dir, sorted[i]);
        unlink(p); /* the hash first: a file without it is no longer a backup */
        snprintf(p, sizeof(p), "%s/%s", s->dir, sorted[i]);
        unlink(p);
        log_info("backup: removed '%s' (keeping the newest %lld)", p, (long long)s->keep);
    }
}

static void bk_run_once(bk_schedule *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    char to[LIMIT_BACKUP_PATH_MAX + 64];
    snprintf(to, sizeof(to), "%s/kassa-%s.%03ldZ.db", s->dir, stamp, ts.tv_nsec / 1000000);
    char err[BK_ERR_MAX];
    bk_result r;
    if (!bk_take(s->db, to, &r, err, sizeof(err))) {
        log_error("backup: %s", err);
        metric_add(s->failed_total, 1);
        return;
    }
    log_info("backup: '%s' written (%lld bytes, %lld payments, sha256 %s)", to, (long long)r.bytes,
             (long long)r.payments, r.sha);
    metric_add(s->ok_total, 1);
    metric_set(s->last_ok_s, (int64_t)ts.tv_sec);
    metric_set(s->last_bytes, r.bytes);
    bk_prune(s);
}

static void *bk_main(void *arg)
{
    bk_schedule *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)s->interval_s;
        while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT) {
        }
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mu);
        bk_run_once(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

bool backup_schedule_start(const char *db, const char *dir, int64_t interval_s, int64_t keep)
{
    K_ASSERT(db != NULL && dir != NULL);
    K_ASSERT(!bk_sched.running);
    if (dir[0] == '\0')
        return true;
    K_ASSERT(interval_s > 0);
    K_ASSERT(keep >= 1 && keep <= LIMIT_BACKUP_KEEP_MAX);
    if (bk_is_url(db)) {
        fprintf(stderr, "kassa serve: backup_dir works on SQLite only; back PostgreSQL up with "
                        "pg_basebackup and WAL archiving (docs/operations.md)\n");
        return false;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kassa serve: cannot create backup_dir '%s': %s\n", dir, strerror(errno));
        return false;
    }
    bk_schedule *s = &bk_sched;
    snprintf(s->db, sizeof(s->db), "%s", db);
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    s->interval_s = interval_s;
    s->keep = keep;
    s->stopping = false;
    s->ok_total = metric_counter("kassa_backup_total", "result=\"ok\"", "Periodic backups.");
    s->failed_total =
        metric_counter("kassa_backup_total", "result=\"failed\"", "Periodic backups.");
    s->last_ok_s = metric_gauge("kassa_backup_last_success_timestamp_seconds", NULL,
                                "Unix time of the last verified periodic backup.");
    s->last_bytes =
        metric_gauge("kassa_backup_last_size_bytes", NULL, "Size of the last verified backup.");
    if (pthread_create(&s->thread, NULL, bk_main, s) != 0) {
        fprintf(stderr, "kassa serve: cannot start the backup thread\n");
        return false;
    }
    s->running = true;
    log_info("backup: every %lld s into '%s', keeping %lld", (long long)interval_s, dir,
             (long long)keep);
    return true;
}

void backup_schedule_stop(void)
{
    bk_schedule *s = &bk_sched;
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
}
