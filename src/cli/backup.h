/*
 * backup.h - `kassa backup`, `kassa restore`, the periodic backup that `serve`
 * runs, and the lock that says a database is served (src/cli/backup.c).
 *
 * A backup is FILE (one SQLite file, a consistent snapshot taken while Kassa
 * serves) and FILE.sha256 beside it (sha256sum's format), written only once
 * FILE passed PRAGMA integrity_check and the money invariants of every payment
 * (domain pay_check). Restore refuses anything else.
 */
#ifndef KASSA_CLI_BACKUP_H
#define KASSA_CLI_BACKUP_H

#include "../base/common.h"

/* kassa backup --to FILE, on the database db (a path; PostgreSQL is refused
 * with the pointer to pg_basebackup). argv[0] is "backup". Returns the exit code. */
int cli_backup(int argc, char **argv, const char *db);
/* kassa restore --from FILE, onto db. Returns the exit code. */
int cli_restore(int argc, char **argv, const char *db);

/* Takes "<db>.lock" (flock, exclusive, held until the process ends) so that
 * restore and a second `serve` can tell the database is served. A no-op for
 * PostgreSQL URLs. false with a message on stderr when another process holds it. */
bool backup_serve_lock(const char *db);

/* Starts the periodic backup of db into dir every interval_s seconds, keeping
 * the newest `keep` verified backups. dir "" = off (returns true). false with a
 * message on stderr when it cannot start (PostgreSQL, dir not creatable). */
bool backup_schedule_start(const char *db, const char *dir, int64_t interval_s, int64_t keep);
/* Stops it (waits for a backup under way). Safe when never started. */
void backup_schedule_stop(void);

#endif
