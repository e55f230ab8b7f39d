/*
 * apiclient.c - see apiclient.h. Errors are printed here, once, in the words
 * an integrator needs: which URL, which status, Kassa's own message.
 */
#include "apiclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../limits.h"

const char *cli_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0)
            return argv[i + 1];
    return NULL;
}

bool cli_api_from_args(cli_api *api, int argc, char **argv)
{
    api->base = cli_arg(argc, argv, "api-base");
    if (api->base == NULL)
        api->base = getenv("KASSA_API_BASE");
    if (api->base == NULL)
        api->base = "http://127.0.0.1:8080";
    api->key = cli_arg(argc, argv, "api-key");
    if (api->key == NULL)
        api->key = getenv("KASSA_API_KEY");
    if (api->key == NULL || strncmp(api->key, "sk_", 3) != 0) {
        fprintf(stderr,
                "kassa %s: --api-key sk_... (or KASSA_API_KEY) is required: a secret key of the "
                "merchant, as kassa merchant create prints it\n",
                api->cmd);
        return false;
    }
    size_t n = strlen(api->base);
    if (n == 0 || n >= LIMIT_URL_MAX || api->base[n - 1] == '/' ||
        (strncmp(api->base, "http://", 7) != 0 && strncmp(api->base, "https://", 8) != 0)) {
        fprintf(stderr,
                "kassa %s: --api-base must be http(s)://HOST[:PORT] without a trailing "
                "slash, not '%s'\n",
                api->cmd, api->base);
        return false;
    }
    return true;
}

static const char *cli_err_message(json_t *j)
{
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    return m != NULL ? m : "(no message)";
}

json_t *cli_api_call(const cli_api *api, const char *method, const char *path, const char *form,
                     long *status)
{
    K_ASSERT(api != NULL && path != NULL);
    K_ASSERT(status != NULL);
    char url[LIMIT_URL_MAX * 2];
    snprintf(url, sizeof(url), "%s%s", api->base, path);
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api->key);
    httpc_req req = {.method = method,
                     .url = url,
                     .headers = {auth, "Content-Type: application/x-www-form-urlencoded",
                                 "User-Agent: kassa-cli", NULL},
                     .body = form,
                     .body_len = form != NULL ? strlen(form) : 0,
                     .timeout_ms = LIMIT_PROVIDER_TIMEOUT_MS};
    httpc_resp resp;
    k_status st = httpc_do(&req, &resp);
    *status = resp.status;
    if (st != K_OK || resp.status == 0) {
        fprintf(stderr, "kassa %s: cannot reach %s: %s\n", api->cmd, url,
                resp.error[0] ? resp.error : k_status_str(st));
        httpc_resp_free(&resp);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, &je);
    httpc_resp_free(&resp);
    if (j == NULL) {
        fprintf(stderr, "kassa %s: %s %s answered %ld without JSON: is --api-base a Kassa?\n",
                api->cmd, method, url, *status);
        return NULL;
    }
    if (*status == 401) {
        fprintf(stderr, "kassa %s: %s refused the API key: %s\n", api->cmd, api->base,
                cli_err_message(j));
        json_decref(j);
        return NULL;
    }
    return j;
}
