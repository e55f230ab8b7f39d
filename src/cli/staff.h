/*
 * cli_staff.h - `kassa user ...`, `kassa audit ...` and the sandbox admin
 * (cli_staff.c). Part of main's layer: it composes the gateway, nothing else
 * calls it.
 */
#ifndef KASSA_CLI_STAFF_H
#define KASSA_CLI_STAFF_H

#include "../gateway/gateway.h"

int cli_user(int argc, char **argv); /* argv[0] = "user" */
/* Loads the server's master key: key_file when not empty, else kassa.key beside
 * the SQLite database; with PostgreSQL ~/.config/kassa/kassa.key, the same for
 * every command of this user whatever its working directory (nodes on other
 * machines set key_file). 0, or 1 after a message on stderr. */
int cli_key_load(const char *key_file, const char *db);
int cli_audit(int argc, char **argv); /* argv[0] = "audit" */

typedef struct {
    const char *email, *password, *totp_secret;
} cli_sandbox_staff;
/* The sandbox's admin: read from path (0600) or created there on first start. */
bool cli_sandbox_admin(gw *g, const char *merchant_id, const char *path, arena *a,
                       cli_sandbox_staff *out);

#endif
