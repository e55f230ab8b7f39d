/*
 * http.h - Kassa's HTTP listener on libmicrohttpd, and its routing table.
 *
 * MHD runs in MHD_USE_POLL_INTERNAL_THREAD with a small thread pool (never its
 * epoll modes: they stall at exactly 128/256 ready connections) and
 * MHD_ALLOW_SUSPEND_RESUME. When a request is complete (headers + body within
 * its route's body_max) the connection is suspended and the request handed to a
 * pool of worker threads; a handler may block (on the store's group commit or a
 * provider call) without holding up the I/O threads. The worker fills an
 * http_resp, the connection is resumed and the answer queued. Routes flagged
 * HTTP_INLINE (reads) are answered on the I/O thread itself.
 *
 * Checked generically before any handler runs (Redis processCommand): method
 * and path from the table (404/405), URL, header and body size (414/431/413),
 * and the route's auth through the auth hook (401). Every request gets an id
 * ("req_..."), sent back as Request-Id and set as the log's request id; one
 * JSON access-log line per request. /healthz and /metrics are built in.
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests, then return.
 */
#ifndef KASSA_HTTP_H
#define KASSA_HTTP_H

#include "../base/common.h"
#include "../base/arena.h"
#include "../base/buf.h"
#include "../limits.h"

#define HTTP_PARAMS_MAX       4 /* :params in one route pattern */
#define HTTP_RESP_HEADERS_MAX 16

typedef struct http_req http_req;

typedef struct {
    const char *name;
    const char *value;
} http_header;

struct http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string, percent-decoded */
    const char *query;  /* raw query string without '?', "" when none */
    const char *body;   /* NUL-terminated copy, body_len bytes */
    size_t body_len;
    const char *remote_addr;             /* "127.0.0.1" */
    char request_id[40];                 /* req_... */
    const char *params[HTTP_PARAMS_MAX]; /* values of :name segments, in order */
    int nparams;
    const char *principal;  /* what the auth hook returned (merchant id), NULL if none */
    const char *credential; /* the auth hook may name what authenticated (an API key id) */
    arena *arena;           /* freed after the answer is sent */
    void *internal;         /* the server's; do not touch */
};

/* Request header by name, case-insensitive; NULL when absent. */
const char *http_req_header(const http_req *r, const char *name);
/* Cookie value by name; NULL when absent. */
const char *http_req_cookie(const http_req *r, const char *name);

typedef struct {
    int status;               /* default 200 */
    const char *content_type; /* default "application/json" */
    buf body;                 /* max LIMIT_RESPONSE_MAX */
    http_header headers[HTTP_RESP_HEADERS_MAX];
    int nheaders;
    /* When set (arena-owned path), the answer's body is this file, streamed
     * from disk (report files of any size) instead of `body`. */
    const char *file_path;
} http_resp;

/* Adds a header (name and value are copied into the request arena). */
void http_resp_header(http_req *r, http_resp *resp, const char *name, const char *value);
/* Sets status, content type and body in one call (body copied). */
void http_resp_set(http_resp *resp, int status, const char *content_type, const char *body,
                   size_t len);
/* 303 See Other to url. */
void http_resp_redirect(http_req *r, http_resp *resp, const char *url);

typedef void (*http_handler)(http_req *req, http_resp *resp, void *ctx);

/* Auth kinds a route may ask for; the auth hook decides what each means. */
typedef enum {
    AUTH_NONE = 0,
    AUTH_SECRET_KEY, /* Stripe dialect: sk_ key as Bearer or Basic user */
    AUTH_STAFF,      /* back office session cookie */
} http_auth;

/* Writes an error answer in the dialect that owns the route when auth fails;
 * returns the principal (merchant id, arena-owned) or NULL after filling resp. */
typedef const char *(*http_auth_fn)(http_req *req, http_resp *resp, http_auth kind, void *ctx);

/* Answering later. A handler that hands its work to something that finishes
 * on another thread (the store's writer) calls http_defer(req, then, arg)
 * BEFORE handing it over, and returns without an answer: the connection stays
 * suspended, holding no thread. Whoever finishes the work calls http_resume
 * exactly once, from any thread (quick: it only wakes the I/O thread, and the
 * request is not to be touched after it); then(req, resp, arg) runs on the
 * request's I/O thread and fills the answer, which is sent as usual.
 * http_server_stop waits for deferred requests like any other. */
typedef void (*http_then)(http_req *req, http_resp *resp, void *arg);
void http_defer(http_req *r, http_then then, void *arg);
void http_resume(http_req *r);
/* true when the handler runs on an I/O thread (an HTTP_INLINE route): it must
 * not wait there. A handler that finds it has to (a provider call) calls
 * http_to_worker before it answered or deferred anything, and returns: it is
 * run again from the start on a worker, its authentication kept. */
bool http_on_io_thread(const http_req *r);
void http_to_worker(http_req *r);

/* Route flags. HTTP_INLINE: the handler never waits (no store_write, no provider
 * call; its reads are the store's, which never wait for the writer on SQLite), so
 * when the server allows it (http_config.inline_reads) it runs on the I/O thread
 * that read the request: no hand-off to a worker and back, which cost more than
 * the handler itself (bench/RESULTS.md). */
#define HTTP_INLINE 1u
/* HTTP_SAME_ORIGIN: a form a person submits from Kassa's own pages (hosted
 * payment page, demo cart). A browser's cross-site POST (Sec-Fetch-Site other
 * than same-origin/none, or an Origin other than the Host) is refused 403
 * before the handler runs: another site cannot submit it for the customer. */
#define HTTP_SAME_ORIGIN 2u

/* HTTP_DEFERS: the handler may answer later (http_defer). Such answers pending
 * count against queue_max like requests waiting for a worker: past it the
 * route is refused 503 + Retry-After before its handler runs. */
#define HTTP_DEFERS 4u

typedef struct {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/v1/payment_intents/:id/capture"; a trailing "*" matches any rest */
    http_handler fn;
    http_auth auth;
    size_t body_max;  /* 0 = LIMIT_HTTP_BODY_MAX */
    const char *name; /* for metrics labels: "pi_capture" */
    unsigned flags;   /* HTTP_INLINE, HTTP_SAME_ORIGIN, HTTP_DEFERS or 0 */
} http_route;

typedef struct http_server http_server;

typedef struct {
    const char *host; /* "127.0.0.1" */
    uint16_t port;    /* 0 = pick a free one (see http_server_port) */
    int io_threads;   /* MHD thread pool, default 2 */
    int workers;      /* handler threads, default 64, <= LIMIT_HTTP_WORKERS_MAX */
    http_auth_fn auth;
    void *auth_ctx;
    /* Written when a route is not found / a limit is hit: lets the dialect of
     * the path format the error (Stripe JSON for /v1, HTML for pages...). */
    void (*error_fn)(http_req *req, http_resp *resp, int status, const char *code,
                     const char *message, void *ctx);
    void *error_ctx;
    int queue_max; /* requests waiting for a worker, 0 = LIMIT_HTTP_QUEUE_MAX */
    /* A request that waited longer than this for a worker is answered 503 +
     * Retry-After without being run, and while the queue's oldest has waited
     * that long new requests are refused at once (0 = LIMIT_HTTP_QUEUE_WAIT_MS). */
    int queue_wait_ms;
    /* HTTP_INLINE routes run on the I/O threads. Off when reads may wait on the
     * network (PostgreSQL): a slow database would then stall every connection of
     * an I/O thread, not one worker. */
    bool inline_reads;
    /* Abuse limits (0 = off, except where said). Requests of one authenticated
     * merchant: rate_per_s with bursts of rate_burst, past it 429 + Retry-After.
     * Failed authentications from one address: auth_fail_burst, then
     * auth_fail_per_min; past it every authenticated route answers that address
     * 429 before checking its key. Connections from one address (MHD's cap,
     * 0 = LIMIT_HTTP_PER_IP_MAX); a request head must arrive within
     * head_deadline_s (0 = LIMIT_HTTP_HEAD_DEADLINE_S) or the connection is cut. */
    /* Called once per authenticated request (principal set) when its answer is
     * handed to libmicrohttpd (dur_us: from the request's start until then), on
     * the thread that answers: must be quick and must not call the store. NULL = none. */
    void (*on_done)(const http_req *req, const http_resp *resp, int status, int64_t dur_us,
                    void *ctx);
    void *on_done_ctx;
    int64_t rate_per_s, rate_burst;
    int64_t auth_fail_per_min, auth_fail_burst;
    /* Optional buckets shared by every node (the store on PostgreSQL): both
     * limits above are then counted there, so they hold whichever node a
     * request lands on (ratelimit.h rl_share). NULL: counted on this node. */
    k_status (*limits_fn)(void *ctx, const char *key, int64_t per_minute, int64_t burst, bool take,
                          bool *ok, int64_t *retry_after_ms);
    void *limits_ctx;
    int per_ip_connections;
    int head_deadline_s;
    /* Every answer carries Strict-Transport-Security (the public URL is https). */
    bool hsts;
} http_config;

/* Creates and starts listening. Routes are copied; ctx is passed to every handler. */
k_status http_server_start(http_server **out, const http_config *cfg, const http_route *routes,
                           size_t nroutes, void *ctx);
uint16_t http_server_port(const http_server *s);
/* The routes every server has before the given ones (/healthz, /metrics). */
size_t http_server_builtin_routes(const http_route **out);
/* Stops accepting, waits for in-flight requests, frees. */
void http_server_stop(http_server *s);

/* Charges one request to key (a merchant id) in the server's per-merchant
 * limit, for routes whose merchant is known only inside the handler (ECommPay's
 * signed requests). false when the limit is reached: *retry_after_s says how
 * long to wait, and the caller answers 429 in its dialect with
 * http_resp_retry_after. Always true when the limit is off. */
bool http_rate_take(http_req *r, const char *key, int64_t *retry_after_s);
/* The failed-authentication limit for routes that authenticate inside the
 * handler (ECommPay's signatures): http_auth_blocked is true when the client's
 * address is past it (answer 429 with *retry_after_s), http_auth_failed counts
 * one more failure (a bad signature). */
bool http_auth_blocked(http_req *r, int64_t *retry_after_s);
void http_auth_failed(http_req *r);
/* Adds "Retry-After: <seconds>". */
void http_resp_retry_after(http_req *r, http_resp *resp, int64_t seconds);

/* Blocks until SIGTERM or SIGINT (installed once by the caller of this). */
void http_wait_for_signal(void);

/* ---- metrics (Prometheus text at /metrics) ---- */
/* A counter or gauge named once at start; labels fixed per handle. */
typedef struct metric metric;
metric *metric_counter(const char *name, const char *labels, const char *help);
metric *metric_gauge(const char *name, const char *labels, const char *help);
void metric_add(metric *m, int64_t n);
void metric_set(metric *m, int64_t v);
/* A callback that appends extra lines at scrape time (store stats, queue depths). */
void metric_add_collector(void (*fn)(buf *out, void *ctx), void *ctx);

#endif
