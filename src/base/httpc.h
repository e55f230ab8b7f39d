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

#define HTTPC_HEADERS_MAX 16

typedef struct {
    const char *method; /* "GET", "POST", "PATCH", "DELETE" */
    const char *url;
    const char *headers[HTTPC_HEADERS_MAX + 1]; /* "Name: value", NULL-terminated */
    const char *body;                           /* NULL for none */
    size_t body_len;
    long timeout_ms; /* 0 = LIMIT_PROVIDER_TIMEOUT_MS */
    size_t body_max; /* 0 = LIMIT_PROVIDER_BODY_MAX */
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

/* Header value from resp->headers, case-insensitive, copied into out (cap). */
bool httpc_resp_header(const httpc_resp *resp, const char *name, char *out, size_t cap);
void httpc_resp_free(httpc_resp *resp);

#endif
