/*
 * listen.c - `kassa listen --forward-to URL`: a shop developer's window onto a
 * Kassa (local or remote), like `stripe listen`. It polls GET /v1/events with
 * the merchant's secret key and forwards each new event, oldest first, to a
 * local URL as a webhook signed with a session secret it prints (whsec_...),
 * so the developer's handler verifies it exactly as it verifies Kassa's own.
 *
 * Why polling and not a temporary webhook endpoint: it works when Kassa cannot
 * reach the developer's machine (a remote Kassa, a laptop behind NAT), needs
 * nothing registered that a crash would leave behind, and the events list is
 * the record Kassa keeps anyway. The cursor is the newest event id seen:
 * `ending_before=<id>` pages forward through what arrived since, oldest page
 * first, so nothing is skipped however many events arrive between two polls.
 */
#include "listen.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/buf.h"
#include "../base/crypto.h"
#include "../limits.h"
#include "apiclient.h"

#define LISTEN_POLL_MS      500 /* how soon an event reaches the developer; one GET per poll */
#define LISTEN_SECRET_BYTES 24

typedef struct {
    cli_api api;
    const char *forward_to;
    const char *events; /* "a,b,c" or NULL for all */
    char secret[6 + 2 * LISTEN_SECRET_BYTES + 1];
    char cursor[LIMIT_ID_MAX + 1];
} listener;

/* --events a,b: exact types, or a prefix ending in '*'. */
static bool ls_wanted(const listener *l, const char *type)
{
    if (l->events == NULL)
        return true;
    const char *p = l->events;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n > 0 && p[n - 1] == '*' && strncmp(type, p, n - 1) == 0)
            return true;
        if (n == strlen(type) && strncmp(type, p, n) == 0)
            return true;
        p += n + (end != NULL ? 1 : 0);
    }
    return false;
}

static void ls_stamp(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* POSTs one event to the local URL, signed as Kassa signs webhooks:
 * Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. */
static void ls_forward(const listener *l, json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    char when[32];
    ls_stamp(when);
    printf("%s   --> %s [%s]\n", when, type != NULL ? type : "?", id != NULL ? id : "?");
    char *body = json_dumps(ev, JSON_COMPACT);
    if (body == NULL)
        return;
    long long t = (long long)time(NULL);
    buf signed_part;
    buf_init(&signed_part, LIMIT_RESPONSE_MAX);
    char hex[SHA256_HEX_LEN];
    char sig[64 + SHA256_HEX_LEN];
    if (buf_printf(&signed_part, "%lld.%s", t, body) == K_OK) {
        crypto_hmac_sha256_hex(l->secret, strlen(l->secret), signed_part.data, signed_part.len,
                               hex);
        snprintf(sig, sizeof(sig), "Stripe-Signature: t=%lld,v1=%s", t, hex);
    } else {
        snprintf(sig, sizeof(sig), "Stripe-Signature: t=%lld", t);
    }
    buf_free(&signed_part);
    httpc_req req = {.method = "POST",
                     .url = l->forward_to,
                     .headers = {"Content-Type: application/json; charset=utf-8", sig,
                                 "User-Agent: kassa-listen", NULL},
                     .body = body,
                     .body_len = strlen(body),
                     .timeout_ms = LIMIT_WEBHOOK_TIMEOUT_MS};
    httpc_resp resp;
    httpc_do(&req, &resp);
    ls_stamp(when);
    if (resp.status != 0)
        printf("%s  <--  [%ld] POST %s [%s]\n", when, resp.status, l->forward_to, id ? id : "?");
    else
        printf("%s  <--  [ERROR] POST %s [%s]: %s\n", when, l->forward_to, id ? id : "?",
               resp.error);
    fflush(stdout);
    httpc_resp_free(&resp);
    free(body);
}

/* One page of events newer than the cursor (all of them when there is none
 * yet), forwarded oldest first. *more when another page waits. */
static bool ls_poll_page(listener *l, bool *more)
{
    char path[128 + LIMIT_ID_MAX];
    if (l->cursor[0] != '\0')
        snprintf(path, sizeof(path), "/v1/events?limit=%d&ending_before=%s", LIMIT_LISTEN_PAGE,
                 l->cursor);
    else
        snprintf(path, sizeof(path), "/v1/events?limit=%d", LIMIT_LISTEN_PAGE);
    long status;
    json_t *page = cli_api_call(&l->api, "GET", path, NULL, &status);
    if (page == NULL)
        return status != 401; /* a refused key stops; an unreachable Kassa is polled again */
    json_t *data = json_object_get(page, "data");
    bool ok = status == 200 && json_is_array(data);
    if (!ok)
        fprintf(stderr, "kassa listen: GET %s answered %ld\n", path, status);
    size_t n = ok ? json_array_size(data) : 0;
    *more = ok && json_is_true(json_object_get(page, "has_more")) && l->cursor[0] != '\0';
    if (ok && n > 0 && l->cursor[0] == '\0' && json_is_true(json_object_get(page, "has_more")))
        fprintf(stderr,
                "kassa listen: more than %d events at once; the older ones are not "
                "forwarded\n",
                LIMIT_LISTEN_PAGE);
    for (size_t i = n; i-- > 0;) {
        json_t *ev = json_array_get(data, i);
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type != NULL && ls_wanted(l, type))
            ls_forward(l, ev);
    }
    if (n > 0) {
        const char *newest = json_string_value(json_object_get(json_array_get(data, 0), "id"));
        if (newest != NULL && strlen(newest) <= LIMIT_ID_MAX)
            snprintf(l->cursor, sizeof(l->cursor), "%s", newest);
    }
    json_decref(page);
    return true;
}

/* The newest event now: events before it are not forwarded. false when the
 * key is refused or Kassa cannot be reached (the message is printed). */
static bool ls_start(listener *l)
{
    long status;
    json_t *page = cli_api_call(&l->api, "GET", "/v1/events?limit=1", NULL, &status);
    if (page == NULL)
        return false;
    bool ok = status == 200;
    if (!ok)
        fprintf(stderr, "kassa listen: GET %s/v1/events answered %ld\n", l->api.base, status);
    const char *newest =
        json_string_value(json_object_get(json_array_get(json_object_get(page, "data"), 0), "id"));
    if (ok && newest != NULL && strlen(newest) <= LIMIT_ID_MAX)
        snprintf(l->cursor, sizeof(l->cursor), "%s", newest);
    json_decref(page);
    return ok;
}

/* Sleeps one poll interval; true when SIGINT or SIGTERM asked to stop (main
 * blocked them in every thread, so they wait here to be taken). */
static bool ls_stop_requested(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec ts = {LISTEN_POLL_MS / 1000, (LISTEN_POLL_MS % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig == SIGINT || sig == SIGTERM;
}

static void ls_usage(FILE *out)
{
    fprintf(
        out,
        "kassa listen --forward-to URL [--events TYPE,TYPE*] [--api-base URL] --api-key sk_...\n"
        "Forwards each new event of the merchant (polled from GET /v1/events) to URL, signed\n"
        "with Stripe-Signature by a session secret it prints (whsec_...). --events takes\n"
        "types or prefixes ending in '*'. --api-base defaults to http://127.0.0.1:8080;\n"
        "the key may also come from KASSA_API_KEY. Stops on Ctrl-C.\n");
}

int cli_listen(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ls_usage(stdout);
            return 0;
        }
    static const char *const known[] = {"--forward-to", "--events", "--api-base", "--api-key",
                                        NULL};
    for (int i = 1; i < argc; i += 2) {
        bool ok = false;
        for (size_t k = 0; known[k] != NULL; k++)
            ok |= strcmp(argv[i], known[k]) == 0;
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "kassa listen: unexpected argument '%s' (see kassa listen --help)\n",
                    argv[i]);
            return 2;
        }
    }
    listener l = {.api = {.cmd = "listen"}};
    l.forward_to = cli_arg(argc, argv, "forward-to");
    l.events = cli_arg(argc, argv, "events");
    if (l.forward_to == NULL ||
        (strncmp(l.forward_to, "http://", 7) != 0 && strncmp(l.forward_to, "https://", 8) != 0)) {
        fprintf(stderr, "kassa listen: --forward-to http(s)://HOST:PORT/PATH is required\n");
        return 2;
    }
    if (!cli_api_from_args(&l.api, argc, argv))
        return 2;
    uint8_t raw[LISTEN_SECRET_BYTES];
    if (crypto_random(raw, sizeof(raw)) != K_OK || httpc_init() != K_OK) {
        fprintf(stderr, "kassa listen: cannot start (random source or HTTP client)\n");
        return 1;
    }
    memcpy(l.secret, "whsec_", 6);
    crypto_hex(raw, sizeof(raw), l.secret + 6);
    int rc = 0;
    if (!ls_start(&l)) {
        rc = 2;
    } else {
        printf("Ready! Forwarding events of %s to %s. Your webhook signing secret is %s "
               "(^C to quit)\n",
               l.api.base, l.forward_to, l.secret);
        fflush(stdout);
        while (!ls_stop_requested()) {
            bool more = true;
            for (int pages = 0; more && pages < LIMIT_LISTEN_POLL_EVENTS_MAX / LIMIT_LISTEN_PAGE;
                 pages++)
                if (!ls_poll_page(&l, &more)) {
                    rc = 1;
                    break;
                }
            if (rc != 0)
                break;
        }
    }
    httpc_shutdown();
    return rc;
}
