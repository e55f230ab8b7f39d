/*
 * httpc.h - Kassa's HTTP client on libcurl's multi interface.
 *
 * One thread owns a curl multi handle and drives every transfer without
 * blocking on any one of them. httpc_submit() is asynchronous: the callback
 * runs on that thread when the transfer ends (webhook deliveries use it and
 * never block a request thread). httpc_do() is the synchronous facade for
 * callers that must wait (a connector inside a request worker): it submits and
 * waits on a condition variable. Answers are capped at body_max bytes.
 */
#ifndef KASSA_HTTPC_H
#define KASSA_HTTPC_H

#include "common.h"
#include "buf.h"

#include <sys/socket.h>

#define HTTPC_HEADERS_MAX 16

typedef struct {
    const char *method; /* "GET", "POST", "PATCH", "DELETE" */
    const char *url;
    const char *headers[HTTPC_HEADERS_MAX + 1]; /* "Name: value", NULL-terminated */
    const char *body;                           /* NULL for none */
    size_t body_len;
    long timeout_ms; /* 0 = LIMIT_PROVIDER_TIMEOUT_MS */
    size_t body_max; /* 0 = LIMIT_PROVIDER_BODY_MAX */
    /* true for URLs a merchant chose (webhooks, callbacks, delivery URLs): every
     * address curl is about to connect to, and every reused connection, must be
     * public (httpc_addr_public); no proxy is used. Provider base URLs are the
     * operator's and leave it false. */
    bool public_only;
} httpc_req;

typedef struct {
    long status; /* HTTP status; 0 when no answer (see error) */
    buf body;
    buf headers; /* raw header block of the final answer */
    int64_t latency_ms;
    char error[256]; /* transport error text when status == 0 */
} httpc_resp;

k_status httpc_init(void); /* starts the thread (idempotent) */
void httpc_shutdown(void); /* ends transfers, joins the thread */

/* Blocking: K_OK when an HTTP answer arrived (any status), K_ETIMEOUT, K_EIO. */
k_status httpc_do(const httpc_req *req, httpc_resp *resp);

typedef void (*httpc_cb)(void *ctx, k_status st, httpc_resp *resp);
/* Asynchronous: cb(ctx, st, resp) runs on the httpc thread; resp is freed after cb returns. */
k_status httpc_submit(const httpc_req *req, httpc_cb cb, void *ctx);

/* Tests only (the deterministic simulation): every request goes to fn on the
 * calling thread instead of the network; httpc_submit calls its callback
 * before it returns and httpc_init starts no thread. fn fills resp (status,
 * body, raw "Name: value\r\n" headers) and answers K_OK, or K_ETIMEOUT/K_EIO
 * for no answer. NULL (the server's setting) restores the network. */
typedef k_status (*httpc_transport_fn)(void *ctx, const httpc_req *req, httpc_resp *resp);
void httpc_set_transport(httpc_transport_fn fn, void *ctx);

/* Header value from resp->headers, case-insensitive, copied into out (cap). */
bool httpc_resp_header(const httpc_resp *resp, const char *name, char *out, size_t cap);
void httpc_resp_free(httpc_resp *resp);

/* ---- the SSRF guard for merchant-chosen URLs ---- */

/* Development switch (config dev_allow_loopback; the sandbox and the tests set
 * it): loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x) count as public.
 * Private, link-local and every other non-public range stay refused. */
void httpc_allow_loopback(bool on);
bool httpc_loopback_allowed(void);

/* true when sa (AF_INET or AF_INET6) is a global unicast address a merchant's
 * URL may reach: not loopback (unless allowed), unspecified, private (10/8,
 * 172.16/12, 192.168/16, fc00::/7), shared (100.64/10), link-local (169.254/16,
 * fe80::/10), multicast, documentation, benchmarking or reserved; IPv4 inside
 * IPv6 (::ffff:a.b.c.d, 64:ff9b::/96, 2002::/16) is judged by its IPv4 part. */
bool httpc_addr_public(const struct sockaddr *sa);

/* Checks a merchant-chosen URL before it is stored: http or https, a host, no
 * user or password, at most LIMIT_URL_MAX bytes, and a host that is not a
 * non-public IP literal in any spelling curl accepts (2130706433, 0x7f000001,
 * 127.1, 0177.0.0.1, [::ffff:127.0.0.1]) nor localhost. Names are resolved
 * only at connect time, where the guard checks again. K_OK, or K_EINVAL with
 * a sentence for the caller in why. */
k_status httpc_url_check(const char *url, char *why, size_t cap);

#endif
