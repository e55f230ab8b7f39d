/*
 * apiclient.h - the merchant API as `kassa listen` and `kassa trigger` see it
 * from outside: HTTP to a Kassa (local or remote) with a secret key, over the
 * same libcurl client the server uses for providers (base/httpc.h).
 */
#ifndef KASSA_CLI_APICLIENT_H
#define KASSA_CLI_APICLIENT_H

#include <jansson.h>

#include "../base/common.h"
#include "../base/httpc.h"

typedef struct {
    const char *base; /* "http://127.0.0.1:8080", no trailing slash */
    const char *key;  /* sk_test_... */
    const char *cmd;  /* "listen", for messages */
} cli_api;

/* Reads --api-base and --api-key (or KASSA_API_BASE / KASSA_API_KEY) from
 * argv; false with a message when the key is missing. */
bool cli_api_from_args(cli_api *api, int argc, char **argv);

/* Calls METHOD base+path with the key (Bearer), form body or NULL. Returns the
 * answer's JSON (caller decrefs) and *status; NULL with a message printed when
 * Kassa cannot be reached, answers something else than JSON, or refuses the
 * key (*status 401: the message names the key problem). */
json_t *cli_api_call(const cli_api *api, const char *method, const char *path, const char *form,
                     long *status);

/* The value of "--name VALUE" in argv, or NULL. */
const char *cli_arg(int argc, char **argv, const char *name);

#endif
