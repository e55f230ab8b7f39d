/*
 * http.c - Kassa's HTTP listener on libmicrohttpd (see http.h for the model).
 *
 * One request's life, all on MHD's I/O threads except the handler:
 *   uri log callback  : the per-request context is born (raw query kept, timer started)
 *   first access call : request id, route match, generic checks (414/431/404/405/413)
 *   body calls        : the body is accumulated into a buf capped at the route's body_max
 *   final access call : an HTTP_INLINE route is answered here and now; any other is
 *                       suspended and queued for a worker (queue full -> 503 at once)
 *   worker            : auth hook, then the handler fill an http_resp; resume
 *   deferred          : a handler that called http_defer leaves the connection
 *                       suspended; its work's completion calls http_resume and the
 *                       handler's continuation fills the answer on the next call
 *   call after resume : the response is queued with the common headers
 *   completed callback: metrics, one access-log line, the context freed
 * Errors the server finds itself go through cfg.error_fn so the dialect of the
 * path formats them. A request with a body that fails a check is answered before
 * its body is read (MHD then closes the connection); a bodyless one is answered on
 * its final call so the connection stays open.
 */
#include "http_int.h"
#include "ratelimit.h"
#include "../base/clock.h"
#include "../base/ids.h"
#include "../base/log.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HTTP_IO_THREADS_DEFAULT 2
#define HTTP_IO_THREADS_MAX     64
#define HTTP_WORKERS_DEFAULT    64
#define HTTP_REQ_ID_RANDOM      16
#define HTTP_STOP_WAIT_MS       30000 /* in-flight requests get this long after SIGTERM */
#define HTTP_CODE_SLOTS         16    /* distinct status codes counted per route */
#define HTTP_BUCKETS            12
#define HTTP_ROUTES_BUILTIN     2

/* MHD keeps the request line and every header in one per-connection pool and gives
 * half of what is free to the read buffer first: four times the header limit holds
 * a maximal URL plus maximal headers in that half, leaving room for MHD's header
 * list and the response headers. Larger requests get MHD's own 414/431. */
#define HTTP_CONN_MEMORY ((size_t)4 * LIMIT_HTTP_HEADER_MAX)
/* After a 413 found on the fly (chunked upload) this much more is read and dropped
 * so the client can see the answer; past it the connection is closed. */
#define HTTP_DISCARD_MAX ((size_t)LIMIT_HTTP_BODY_MAX)

_Static_assert(LIMIT_HTTP_URL_MAX + LIMIT_HTTP_HEADER_MAX < HTTP_CONN_MEMORY / 2,
               "URL and headers fit MHD's first read buffer");
_Static_assert(LIMIT_HTTP_BODY_MAX < LIMIT_HTTP_ARENA_MAX, "a body fits a request arena");

static const int64_t http_bucket_us[HTTP_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
static const char *const http_bucket_le[HTTP_BUCKETS] = {"0.0005", "0.001", "0.0025", "0.005",
                                                         "0.01",   "0.025", "0.05",   "0.1",
                                                         "0.25",   "0.5",   "1",      "2.5"};

/* Per-route series; status codes claim a slot with a CAS, so counting never locks. */
typedef struct {
    _Atomic int code[HTTP_CODE_SLOTS]; /* 0 = free slot */
    _Atomic uint64_t count[HTTP_CODE_SLOTS];
    _Atomic uint64_t other;                    /* codes beyond the slots */
    _Atomic uint64_t bucket[HTTP_BUCKETS + 1]; /* not cumulative; last is +Inf only */
    _Atomic uint64_t sum_us;
} http_route_stats;

typedef enum {
    RQ_NEW,    /* born in the uri log callback */
    RQ_BODY,   /* checked; reading the body */
    RQ_QUEUED, /* suspended, owned by the work queue or a worker */
    RQ_DONE,   /* worker finished: resp is ready */
    RQ_SENT,   /* response queued with MHD */
} http_rq_state;

typedef struct http_ctx {
    http_req req;
    http_resp resp;
    arena ar;
    http_server *srv;
    struct MHD_Connection *conn;
    http_rq_state state;
    size_t route;   /* index into srv->routes, SIZE_MAX when none matched */
    int err_status; /* an answer the server decided on; 0 = none */
    const char *err_code;
    const char *err_msg;
    char allow[ROUTER_ALLOW_MAX];
    buf body;
    size_t body_max;
    size_t body_seen; /* bytes received, kept or dropped */
    size_t raw_uri_len;
    int64_t t0_us;
    int64_t queued_us; /* when it entered the worker queue */
    bool counted;      /* in srv->in_flight */
    bool authed;       /* the route's auth passed (a handler sent on to a worker keeps it) */
    http_then then;    /* http_defer: fills the answer once http_resume was called */
    void *then_arg;
    int status; /* what was sent */
    size_t bytes;
} http_ctx;

struct http_server {
    struct MHD_Daemon *mhd;
    http_config cfg;
    http_route *routes;
    size_t nroutes;
    http_route_stats *stats; /* nroutes + 1: the last is "unmatched" */
    void *ctx;
    uint16_t port;

    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    http_ctx **ring;
    size_t qcap, qhead, qlen;
    int64_t wait_max_us; /* queue_wait_ms: queued longer -> 503, not run */
    bool stopping;       /* queued work is answered 503, new work refused */
    bool workers_exit;   /* the queue is empty and will stay so */
    pthread_t *workers;
    int nworkers;

    _Atomic int64_t in_flight;      /* first access call .. completion */
    _Atomic int64_t suspended;      /* suspended and not yet resumed */
    _Atomic int64_t deferred;       /* http_defer'd and not yet resumed */
    _Atomic bool quiescing;         /* answers carry Connection: close */
    _Atomic uint64_t shed_full;     /* 503: the worker queue was full */
    _Atomic uint64_t shed_deadline; /* 503: queued work older than queue_wait_ms */

    ratelimit *rl_rate;     /* requests per merchant */
    ratelimit *rl_authfail; /* failed authentications per client address */
    headguard *hg;          /* the request-head deadline */
};

static void http_healthz(http_req *req, http_resp *resp, void *ctx);
static void http_metrics(http_req *req, http_resp *resp, void *ctx);

/* What the handler running on this thread asked for (http_defer, http_to_worker):
 * read once it has returned. Thread-local, not in the context: a deferred
 * request's context may be resumed, answered and freed by another thread before
 * its handler has even returned. */
typedef enum {
    HANDLED_ANSWERED, /* resp is the answer */
    HANDLED_DEFERRED, /* http_defer: the work's completion resumes the connection */
    HANDLED_TO_WORKER /* http_to_worker: run it again on a worker */
} http_handled;
static _Thread_local http_handled handled;
static _Thread_local bool on_io_thread; /* an HTTP_INLINE handler runs here */

static const http_route http_builtin_routes[HTTP_ROUTES_BUILTIN] = {
    {"GET", "/healthz", http_healthz, AUTH_NONE, 0, "healthz", HTTP_INLINE},
    {"GET", "/metrics", http_metrics, AUTH_NONE, 0, "metrics", HTTP_INLINE},
};

size_t http_server_builtin_routes(const http_route **out)
{
    *out = http_builtin_routes;
    return HTTP_ROUTES_BUILTIN;
}

static int64_t http_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- small helpers ---- */

/* Appends s as a JSON string: quotes, \" \\, and every byte outside printable
 * ASCII as \u00XX, so the line stays valid whatever the client sent. */
static k_status http_json_str(buf *out, const char *s)
{
    k_status st = buf_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; st == K_OK && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            st = buf_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            st = buf_printf(out, "\\u%04x", *p);
        else
            st = buf_append(out, p, 1);
    }
    if (st == K_OK)
        st = buf_append(out, "\"", 1);
    return st;
}

static const char *http_ctype_or_default(const http_resp *resp)
{
    return resp->content_type != NULL ? resp->content_type : "application/json";
}

static bool http_is_html(const char *ctype)
{
    return strncasecmp(ctype, "text/html", 9) == 0;
}

/* ---- public request/response helpers ---- */

const char *http_req_header(const http_req *r, const char *name)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    K_ASSERT(name != NULL);
    const http_ctx *c = r->internal;
    return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

const char *http_req_cookie(const http_req *r, const char *name)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    K_ASSERT(name != NULL);
    const http_ctx *c = r->internal;
    return MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, name);
}

void http_resp_header(http_req *r, http_resp *resp, const char *name, const char *value)
{
    K_ASSERT(r != NULL && resp != NULL);
    K_ASSERT(name != NULL && value != NULL);
    K_ASSERT(resp->nheaders < HTTP_RESP_HEADERS_MAX);
    char *n = arena_strdup(r->arena, name);
    char *v = arena_strdup(r->arena, value);
    if (n == NULL || v == NULL) {
        log_error("http: request arena full, header '%s' dropped", name);
        return;
    }
    resp->headers[resp->nheaders].name = n;
    resp->headers[resp->nheaders].value = v;
    resp->nheaders++;
}

void http_resp_set(http_resp *resp, int status, const char *content_type, const char *body,
                   size_t len)
{
    K_ASSERT(resp != NULL);
    K_ASSERT(status >= 100 && status <= 599);
    K_ASSERT(body != NULL || len == 0);
    resp->status = status;
    resp->content_type = content_type;
    buf_reset(&resp->body);
    if (len > 0 && buf_append(&resp->body, body, len) != K_OK) {
        log_error("http: response body of %zu bytes over the limit", len);
        static const char err[] = "{\"error\":{\"type\":\"api_error\","
                                  "\"message\":\"Response too large.\"}}";
        resp->status = 500;
        resp->content_type = "application/json";
        buf_reset(&resp->body);
        buf_append(&resp->body, err, sizeof(err) - 1);
    }
}

void http_resp_redirect(http_req *r, http_resp *resp, const char *url)
{
    K_ASSERT(r != NULL && resp != NULL);
    K_ASSERT(url != NULL);
    http_resp_set(resp, 303, "text/plain; charset=utf-8", NULL, 0);
    http_resp_header(r, resp, "Location", url);
}

/* ---- metrics of the server itself ---- */

static void http_stats_record(http_route_stats *st, int status, int64_t dur_us)
{
    bool counted = false;
    for (int i = 0; i < HTTP_CODE_SLOTS && !counted; i++) {
        int code = atomic_load_explicit(&st->code[i], memory_order_acquire);
        if (code == 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&st->code[i], &expected, status);
            code = atomic_load_explicit(&st->code[i], memory_order_acquire);
        }
        if (code == status) {
            atomic_fetch_add_explicit(&st->count[i], 1, memory_order_relaxed);
            counted = true;
        }
    }
    if (!counted)
        atomic_fetch_add_explicit(&st->other, 1, memory_order_relaxed);
    int b = 0;
    while (b < HTTP_BUCKETS && dur_us > http_bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&st->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_us, (uint64_t)(dur_us < 0 ? 0 : dur_us),
                              memory_order_relaxed);
}

static const char *http_stats_name(const http_server *s, size_t i)
{
    return i < s->nroutes ? s->routes[i].name : "unmatched";
}

static void http_render_counters(const http_server *s, buf *out)
{
    buf_append_str(out, "# HELP http_requests_total Requests answered, by route and code.\n"
                        "# TYPE http_requests_total counter\n");
    for (size_t i = 0; i <= s->nroutes; i++) {
        const http_route_stats *st = &s->stats[i];
        const char *name = http_stats_name(s, i);
        for (int k = 0; k < HTTP_CODE_SLOTS; k++) {
            int code = atomic_load(&st->code[k]);
            if (code != 0)
                buf_printf(out, "http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", name, code,
                           (unsigned long long)atomic_load(&st->count[k]));
        }
        uint64_t other = atomic_load(&st->other);
        if (other > 0)
            buf_printf(out, "http_requests_total{route=\"%s\",code=\"other\"} %llu\n", name,
                       (unsigned long long)other);
    }
}

static void http_render_histograms(const http_server *s, buf *out)
{
    buf_append_str(out, "# HELP http_request_duration_seconds Time from request line to "
                        "answer sent, by route.\n"
                        "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= s->nroutes; i++) {
        const http_route_stats *st = &s->stats[i];
        const char *name = http_stats_name(s, i);
        uint64_t cum = 0;
        for (int b = 0; b < HTTP_BUCKETS; b++) {
            cum += atomic_load(&st->bucket[b]);
            buf_printf(out, "http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
                       name, http_bucket_le[b], (unsigned long long)cum);
        }
        cum += atomic_load(&st->bucket[HTTP_BUCKETS]);
        uint64_t sum_us = atomic_load(&st->sum_us);
        buf_printf(out,
                   "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                   "http_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n"
                   "http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   name, (unsigned long long)cum, name, (unsigned long long)(sum_us / 1000000),
                   (unsigned long long)(sum_us % 1000000), name, (unsigned long long)cum);
    }
}

static long long http_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    long long size = 0;
    long long resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return resident * (long long)sysconf(_SC_PAGESIZE);
}

static void http_render_gauges(http_server *s, buf *out)
{
    pthread_mutex_lock(&s->qmu);
    size_t depth = s->qlen;
    pthread_mutex_unlock(&s->qmu);
    buf_printf(out,
               "# HELP http_requests_in_flight Requests received and not yet answered.\n"
               "# TYPE http_requests_in_flight gauge\n"
               "http_requests_in_flight %lld\n"
               "# HELP http_queue_depth Requests waiting for a worker.\n"
               "# TYPE http_queue_depth gauge\n"
               "http_queue_depth %zu\n"
               "# HELP http_requests_shed_total Requests answered 503 + Retry-After by "
               "admission, by reason.\n"
               "# TYPE http_requests_shed_total counter\n"
               "http_requests_shed_total{reason=\"queue_full\"} %llu\n"
               "http_requests_shed_total{reason=\"deadline\"} %llu\n"
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %lld\n",
               (long long)atomic_load(&s->in_flight), depth,
               (unsigned long long)atomic_load(&s->shed_full),
               (unsigned long long)atomic_load(&s->shed_deadline), http_rss_bytes());
}

static void http_healthz(http_req *req, http_resp *resp, void *ctx)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_resp_set(resp, 200, "application/json", ok, sizeof(ok) - 1);
}

static void http_metrics(http_req *req, http_resp *resp, void *ctx)
{
    http_ctx *c = req->internal;
    http_server *s = c->srv;
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&resp->body);
    http_render_counters(s, &resp->body);
    http_render_histograms(s, &resp->body);
    http_render_gauges(s, &resp->body);
    metrics_render(&resp->body);
}

/* ---- answering ---- */

static void http_add_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (MHD_add_response_header(r, name, value) != MHD_YES)
        log_warn("http: header '%s' refused by libmicrohttpd", name);
}

static void http_add_common_headers(http_ctx *c, struct MHD_Response *r, const char *ctype)
{
    http_add_header(r, "Content-Type", ctype);
    http_add_header(r, "Request-Id", c->req.request_id);
    http_add_header(r, "X-Content-Type-Options", "nosniff");
    http_add_header(r, "Referrer-Policy", "no-referrer");
    if (c->srv->cfg.hsts)
        http_add_header(r, "Strict-Transport-Security", "max-age=31536000");
    if (http_is_html(ctype))
        http_add_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    bool own_csp = false; /* a page with a stricter policy of its own sends only that one */
    for (int i = 0; i < c->resp.nheaders; i++)
        own_csp = own_csp || strcasecmp(c->resp.headers[i].name, "Content-Security-Policy") == 0;
    if (http_is_html(ctype) && !own_csp) {
        http_add_header(r, "X-Frame-Options", "DENY");
        http_add_header(r, "Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self' "
                        "'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors "
                        "'none'; form-action *");
    }
    for (int i = 0; i < c->resp.nheaders; i++)
        http_add_header(r, c->resp.headers[i].name, c->resp.headers[i].value);
    if (atomic_load(&c->srv->quiescing))
        http_add_header(r, "Connection", "close");
}

/* A response streaming a file from disk; MHD closes the descriptor. */
static struct MHD_Response *http_file_response(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (r == NULL)
        close(fd);
    *len = (size_t)st.st_size;
    return r;
}

/* Queues c->resp with MHD; the body's memory moves to the MHD response. */
static enum MHD_Result http_send(http_ctx *c)
{
    int status = c->resp.status == 0 ? 200 : c->resp.status;
    K_ASSERT(status >= 100 && status <= 599);
    K_ASSERT(c->state != RQ_SENT);
    const char *ctype = http_ctype_or_default(&c->resp);
    size_t len = 0;
    struct MHD_Response *r = NULL;
    const http_server *s = c->srv;
    if (s->cfg.on_done != NULL && c->req.principal != NULL) /* before the body moves to MHD */
        s->cfg.on_done(&c->req, &c->resp, status, http_now_us() - c->t0_us, s->cfg.on_done_ctx);
    if (c->resp.file_path != NULL) {
        r = http_file_response(c->resp.file_path, &len);
        if (r == NULL) /* vanished between the handler and here: say so */
            return MHD_NO;
    } else {
        char *data = buf_detach(&c->resp.body, &len);
        if (data == NULL)
            return MHD_NO;
        r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
        if (r == NULL) {
            free(data);
            return MHD_NO;
        }
    }
    http_add_common_headers(c, r, ctype);
    enum MHD_Result ret = MHD_queue_response(c->conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    c->state = RQ_SENT;
    c->status = status;
    c->bytes = len;
    return ret;
}

static void http_default_error(http_resp *resp, int status, const char *message)
{
    buf *b = &resp->body;
    buf_reset(b);
    buf_append_str(b, "{\"error\":{\"type\":\"invalid_request_error\",\"message\":");
    http_json_str(b, message);
    buf_append_str(b, "}}");
    resp->status = status;
    resp->content_type = "application/json";
}

/* Fills c->resp with an error the server decided on, in the dialect's format. */
static void http_fill_error(http_ctx *c, int status, const char *code, const char *message)
{
    http_server *s = c->srv;
    c->resp.status = status;
    c->resp.content_type = NULL;
    c->resp.nheaders = 0;
    c->resp.file_path = NULL;
    buf_reset(&c->resp.body);
    if (s->cfg.error_fn != NULL)
        s->cfg.error_fn(&c->req, &c->resp, status, code, message, s->cfg.error_ctx);
    else
        http_default_error(&c->resp, status, message);
    if (c->resp.status == 0)
        c->resp.status = status;
    if (status == 405)
        http_resp_header(&c->req, &c->resp, "Allow", c->allow);
    if (status == 503)
        http_resp_header(&c->req, &c->resp, "Retry-After", "1");
}

/* Answers at once with the pending (or given) error; runs on the I/O thread. */
static enum MHD_Result http_send_error(http_ctx *c)
{
    K_ASSERT(c->err_status != 0);
    log_set_request_id(c->req.request_id);
    http_fill_error(c, c->err_status, c->err_code, c->err_msg);
    log_set_request_id(NULL);
    return http_send(c);
}

static void http_set_error(http_ctx *c, int status, const char *code, const char *message)
{
    c->err_status = status;
    c->err_code = code;
    c->err_msg = message;
}

/* ---- the per-request context ---- */

static void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_server *s = cls;
    http_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL; /* the access handler closes the connection */
    arena_init(&c->ar, LIMIT_HTTP_ARENA_MAX);
    buf_init(&c->body, LIMIT_HTTP_BODY_MAX);
    buf_init(&c->resp.body, LIMIT_RESPONSE_MAX);
    c->srv = s;
    c->conn = conn;
    c->state = RQ_NEW;
    c->route = SIZE_MAX;
    c->t0_us = http_now_us();
    c->raw_uri_len = strlen(uri);
    const char *q = strchr(uri, '?');
    c->req.query = q != NULL ? arena_strdup(&c->ar, q + 1) : "";
    if (c->req.query == NULL)
        c->req.query = "";
    c->req.arena = &c->ar;
    c->req.internal = c;
    c->resp.status = 200;
    return c;
}

static void http_log_access(const http_ctx *c, int64_t dur_us)
{
    const http_server *s = c->srv;
    buf line;
    buf_init(&line, 0);
    buf_append_str(&line, "\"level\":\"info\",\"msg\":\"request\",\"req\":");
    http_json_str(&line, c->req.request_id);
    buf_append_str(&line, ",\"method\":");
    http_json_str(&line, c->req.method != NULL ? c->req.method : "");
    buf_append_str(&line, ",\"path\":");
    http_json_str(&line, c->req.path != NULL ? c->req.path : "");
    buf_printf(&line,
               ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%lld.%03lld,\"remote\":", c->status,
               c->bytes, (long long)(dur_us / 1000), (long long)(dur_us % 1000));
    http_json_str(&line, c->req.remote_addr != NULL ? c->req.remote_addr : "");
    buf_append_str(&line, ",\"route\":");
    http_json_str(&line, http_stats_name(s, c->route < s->nroutes ? c->route : s->nroutes));
    log_json_line(line.data);
    buf_free(&line);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    http_ctx *c = *con_cls;
    if (c == NULL)
        return;
    *con_cls = NULL;
    K_ASSERT(c->state != RQ_QUEUED); /* a worker still owns it: never stopped like this */
    if (c->status != 0) {
        int64_t dur_us = http_now_us() - c->t0_us;
        size_t idx = c->route < s->nroutes ? c->route : s->nroutes;
        http_stats_record(&s->stats[idx], c->status, dur_us);
        http_log_access(c, dur_us);
    }
    if (c->counted)
        atomic_fetch_sub(&s->in_flight, 1);
    hg_request_done(s->hg, conn);
    buf_free(&c->body);
    buf_free(&c->resp.body);
    arena_release(&c->ar);
    free(c);
}

/* ---- checks on the first call ---- */

/* What one pass over the request's headers found. */
typedef struct {
    size_t bytes;
    int content_lengths; /* Content-Length headers */
    bool cl_differ;      /* ... with different values */
    const char *cl_first;
    size_t cl_first_len;
} http_head_scan;

static enum MHD_Result http_scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                        size_t key_size, const char *value, size_t value_size)
{
    http_head_scan *h = cls;
    h->bytes += key_size + value_size + 4; /* ": " and CRLF */
    if (strcasecmp(key, "Content-Length") == 0) {
        if (h->content_lengths++ == 0) {
            h->cl_first = value;
            h->cl_first_len = value_size;
        } else {
            h->cl_differ |= value_size != h->cl_first_len ||
                            (value_size > 0 && memcmp(value, h->cl_first, value_size) != 0);
        }
    }
    return MHD_YES;
}

static void http_head_scan_run(struct MHD_Connection *conn, http_head_scan *h)
{
    memset(h, 0, sizeof(*h));
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, http_scan_header, h);
}

/* Forms and JSON are what the secret-key (Stripe-dialect) routes read; anything
 * else would be parsed as a form (Stripe refuses it too). */
static bool http_ctype_ok(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (ct == NULL)
        return false;
    size_t n = strcspn(ct, "; \t");
    return (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0) ||
           (n == 16 && strncasecmp(ct, "application/json", n) == 0);
}

/* true when the request announces a body (Content-Length > 0 or chunked). */
static bool http_has_body(struct MHD_Connection *conn, unsigned long long *declared)
{
    *declared = 0;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(cl, &end, 10);
        *declared = end != cl ? v : 0;
    }
    if (*declared > 0)
        return true;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
}

static void http_route_check(http_ctx *c)
{
    http_server *s = c->srv;
    size_t idx = SIZE_MAX;
    k_status st = K_OK;
    router_result rr = router_match(s->routes, s->nroutes, c->req.method, c->req.path, &c->ar,
                                    &c->req, &idx, c->allow, &st);
    if (rr == ROUTER_NO_PATH) {
        http_set_error(c, 404, "resource_missing", "Unrecognized request URL.");
        return;
    }
    if (rr == ROUTER_NO_METHOD) {
        http_set_error(c, 405, "method_not_allowed", "Method not allowed for this URL.");
        return;
    }
    c->route = idx;
    if (st != K_OK)
        http_set_error(c, 500, "api_error", "Request too large to process.");
    size_t max = s->routes[idx].body_max;
    c->body_max = max == 0 ? LIMIT_HTTP_BODY_MAX : max;
    buf_init(&c->body, c->body_max);
}

/* The generic checks of http.h, in order; the first failure is kept in c. */
/* false for a browser's cross-origin request (see HTTP_SAME_ORIGIN). The
 * browser's Sec-Fetch-Site decides when present; our pages' Referrer-Policy
 * no-referrer makes the browser send "Origin: null" even for their own forms,
 * so Origin only decides when it names a site. Requests with neither (not from
 * a browser) pass. */
static bool http_same_origin(struct MHD_Connection *conn)
{
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site != NULL)
        return strcmp(site, "same-origin") == 0 || strcmp(site, "none") == 0;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin == NULL || strcmp(origin, "null") == 0)
        return true;
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char *o = strstr(origin, "://");
    return host != NULL && o != NULL && strcasecmp(o + 3, host) == 0;
}

static void http_check(http_ctx *c, unsigned long long declared, bool has_body)
{
    http_head_scan h;
    http_head_scan_run(c->conn, &h);
    if (c->raw_uri_len > LIMIT_HTTP_URL_MAX) {
        http_set_error(c, 414, "url_too_long", "Request URL too long.");
        return;
    }
    if (h.bytes > LIMIT_HTTP_HEADER_MAX) {
        http_set_error(c, 431, "headers_too_large", "Request headers too large.");
        return;
    }
    if (h.cl_differ ||
        (h.content_lengths > 0 &&
         MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL)) {
        http_set_error(c, 400, "header_invalid",
                       "Conflicting Content-Length (or Content-Length with Transfer-Encoding).");
        return;
    }
    http_route_check(c);
    if (c->err_status == 0 && declared > c->body_max)
        http_set_error(c, 413, "body_too_large", "Request body too large.");
    if (c->err_status == 0 && (c->srv->routes[c->route].flags & HTTP_SAME_ORIGIN) != 0 &&
        !http_same_origin(c->conn))
        http_set_error(c, 403, "cross_site_request", "Cross-site form submissions are refused.");
    if (c->err_status == 0 && has_body && c->srv->routes[c->route].auth == AUTH_SECRET_KEY &&
        !http_ctype_ok(c->conn))
        http_set_error(c, 415, "content_type_invalid",
                       "Content-Type must be application/x-www-form-urlencoded or "
                       "application/json.");
}

static const char *http_remote(http_ctx *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char tmp[INET6_ADDRSTRLEN] = "";
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, tmp,
                      sizeof(tmp));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, tmp,
                      sizeof(tmp));
    }
    return arena_strdup(&c->ar, tmp);
}

static enum MHD_Result http_first_call(http_ctx *c, const char *url, const char *method)
{
    char id[LIMIT_ID_MAX];
    id_new_n(id, "req_", HTTP_REQ_ID_RANDOM);
    size_t idlen = strlen(id);
    K_ASSERT(idlen < sizeof(c->req.request_id));
    memcpy(c->req.request_id, id, idlen + 1);
    c->req.method = arena_strdup(&c->ar, method);
    c->req.path = arena_strdup(&c->ar, url);
    c->req.remote_addr = http_remote(c);
    if (c->req.method == NULL || c->req.path == NULL || c->req.remote_addr == NULL)
        return MHD_NO;
    atomic_fetch_add(&c->srv->in_flight, 1);
    c->counted = true;
    c->state = RQ_BODY;
    hg_head_done(c->srv->hg, c->conn);
    unsigned long long declared = 0;
    bool has_body = http_has_body(c->conn, &declared);
    http_check(c, declared, has_body);
    if (c->err_status != 0 && has_body)
        return http_send_error(c); /* before the body is read; MHD closes afterwards */
    return MHD_YES;
}

static enum MHD_Result http_take_body(http_ctx *c, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    c->body_seen += n;
    if (c->err_status == 0 && buf_append(&c->body, data, n) != K_OK) {
        http_set_error(c, 413, "body_too_large", "Request body too large.");
        buf_free(&c->body);
    }
    if (c->err_status != 0 && c->body_seen > c->body_max + HTTP_DISCARD_MAX)
        return MHD_NO; /* stop reading an endless body: close */
    return MHD_YES;
}

/* Runs the route's auth and handler for one request (or answers 503 when the
 * server is stopping). */
void http_resp_retry_after(http_req *r, http_resp *resp, int64_t seconds)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)(seconds > 0 ? seconds : 1));
    http_resp_header(r, resp, "Retry-After", v);
}

static void http_too_many(http_ctx *c, int64_t retry_after_s, const char *message)
{
    http_fill_error(c, 429, "rate_limit", message);
    http_resp_retry_after(&c->req, &c->resp, retry_after_s);
}

bool http_rate_take(http_req *r, const char *key, int64_t *retry_after_s)
{
    K_ASSERT(r != NULL);
    K_ASSERT(r->internal != NULL);
    const http_ctx *c = r->internal;
    return rl_take(c->srv->rl_rate, key, clock_mono_ms(), retry_after_s);
}

/* The failed-authentication bucket of a client: its IPv4 address, or its IPv6
 * /64 (one host usually holds a whole /64, so a /128 would be free to vary). */
static void http_client_key(const char *remote, char out[INET6_ADDRSTRLEN])
{
    struct in6_addr a6;
    snprintf(out, INET6_ADDRSTRLEN, "%s", remote);
    if (inet_pton(AF_INET6, remote, &a6) != 1 || IN6_IS_ADDR_V4MAPPED(&a6))
        return;
    memset(a6.s6_addr + 8, 0, 8);
    if (inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN) == NULL)
        snprintf(out, INET6_ADDRSTRLEN, "%s", remote);
}

bool http_auth_blocked(http_req *r, int64_t *retry_after_s)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    const http_ctx *c = r->internal;
    char client[INET6_ADDRSTRLEN];
    http_client_key(r->remote_addr, client);
    return !rl_peek(c->srv->rl_authfail, client, clock_mono_ms(), retry_after_s);
}

void http_auth_failed(http_req *r)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    const http_ctx *c = r->internal;
    char client[INET6_ADDRSTRLEN];
    int64_t wait_s;
    http_client_key(r->remote_addr, client);
    rl_take(c->srv->rl_authfail, client, clock_mono_ms(), &wait_s);
}

/* The route's auth with its two limits: an address past its failed
 * authentications is refused before its key is looked at (so a right key is
 * not confirmed either); a merchant past its request rate after. Returns true
 * when the handler may run. */
static bool http_authenticate(http_server *s, http_ctx *c, const http_route *rt)
{
    int64_t wait_s = 0;
    int64_t now = clock_mono_ms();
    char client[INET6_ADDRSTRLEN];
    http_client_key(c->req.remote_addr, client);
    if (!rl_peek(s->rl_authfail, client, now, &wait_s)) {
        http_too_many(c, wait_s,
                      "Too many requests with invalid credentials from this address; retry "
                      "after the time in Retry-After.");
        return false;
    }
    const char *who = s->cfg.auth(&c->req, &c->resp, rt->auth, s->cfg.auth_ctx);
    c->req.principal = who;
    if (who == NULL) {
        rl_take(s->rl_authfail, client, now, &wait_s);
        if (c->resp.status < 400)
            http_fill_error(c, 401, "unauthorized", "Invalid credentials.");
        return false;
    }
    if (!rl_take(s->rl_rate, who, now, &wait_s)) {
        c->req.principal = NULL;
        http_too_many(c, wait_s,
                      "Request rate limit exceeded; retry after the time in Retry-After.");
        return false;
    }
    return true;
}

typedef enum {
    HANDLE_RUN,
    HANDLE_STOPPING, /* 503: the server is stopping */
    HANDLE_LATE,     /* 503: waited in the queue past the deadline, nothing done */
} http_handle_how;

static void http_handle(http_server *s, http_ctx *c, http_handle_how how)
{
    K_ASSERT(c->route < s->nroutes);
    const http_route *rt = &s->routes[c->route];
    log_set_request_id(c->req.request_id);
    bool run = how == HANDLE_RUN;
    if (how == HANDLE_STOPPING)
        http_fill_error(c, 503, "server_busy", "Server shutting down, retry later.");
    else if (how == HANDLE_LATE)
        http_fill_error(c, 503, "server_busy", "Server busy, retry later.");
    else if (rt->auth != AUTH_NONE && !c->authed)
        run = http_authenticate(s, c, rt);
    c->authed = run;
    handled = HANDLED_ANSWERED;
    if (run)
        rt->fn(&c->req, &c->resp, s->ctx);
    log_set_request_id(NULL);
}

void http_defer(http_req *r, http_then then, void *arg)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    K_ASSERT(then != NULL);
    K_ASSERT(handled == HANDLED_ANSWERED); /* once, from the handler */
    http_ctx *c = r->internal;
    c->then = then;
    c->then_arg = arg;
    atomic_fetch_add(&c->srv->deferred, 1);
    if (c->state == RQ_BODY) { /* on the I/O thread: suspended here */
        MHD_suspend_connection(c->conn);
        atomic_fetch_add(&c->srv->suspended, 1);
        c->state = RQ_QUEUED;
    }
    K_ASSERT(c->state == RQ_QUEUED);
    handled = HANDLED_DEFERRED;
}

void http_resume(http_req *r)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    http_ctx *c = r->internal;
    K_ASSERT(c->state == RQ_QUEUED);
    K_ASSERT(c->then != NULL);
    http_server *s = c->srv;
    struct MHD_Connection *conn = c->conn;
    c->state = RQ_DONE;
    /* From here c belongs to the I/O thread again and may be freed at any moment. */
    MHD_resume_connection(conn);
    atomic_fetch_sub(&s->deferred, 1);
    atomic_fetch_sub(&s->suspended, 1);
}

bool http_on_io_thread(const http_req *r)
{
    K_ASSERT(r != NULL);
    return on_io_thread;
}

void http_to_worker(http_req *r)
{
    K_ASSERT(r != NULL && r->internal != NULL);
    K_ASSERT(on_io_thread);
    K_ASSERT(handled == HANDLED_ANSWERED);
    handled = HANDLED_TO_WORKER;
}

/* The answer of a deferred request, on the I/O thread after http_resume. */
static void http_run_then(http_ctx *c)
{
    log_set_request_id(c->req.request_id);
    http_then then = c->then;
    c->then = NULL;
    then(&c->req, &c->resp, c->then_arg);
    log_set_request_id(NULL);
}

static enum MHD_Result http_enqueue(http_ctx *c);

/* Drops what a handler put in resp before it sent the request on to a worker. */
static void http_resp_clear(http_resp *resp)
{
    resp->status = 0;
    resp->content_type = NULL;
    resp->nheaders = 0;
    resp->file_path = NULL;
    buf_reset(&resp->body);
}

/* Final call: answer an inline route here, else hand the request to a worker, or
 * answer 503 when the queue is full. */
static enum MHD_Result http_dispatch(http_ctx *c)
{
    http_server *s = c->srv;
    if (c->err_status != 0)
        return http_send_error(c);
    c->req.body = c->body.data;
    c->req.body_len = c->body.len;
    unsigned flags = s->routes[c->route].flags;
    if ((flags & HTTP_DEFERS) != 0 && atomic_load(&s->deferred) >= (int64_t)s->qcap) {
        /* As many answers are pending as a worker queue may hold: refused at
         * the door, before any work, as a full queue refuses. */
        atomic_fetch_add(&s->shed_full, 1);
        http_set_error(c, 503, "server_busy", "Server busy, retry later.");
        return http_send_error(c);
    }
    if (s->cfg.inline_reads && (flags & HTTP_INLINE) != 0) {
        on_io_thread = true;
        http_handle(s, c, HANDLE_RUN);
        on_io_thread = false;
        if (handled == HANDLED_DEFERRED)
            return MHD_YES; /* suspended; the completion resumes it */
        if (handled == HANDLED_ANSWERED)
            return http_send(c);
        http_resp_clear(&c->resp); /* HANDLED_TO_WORKER: nothing was answered yet */
    }
    return http_enqueue(c);
}

/* Hands the request to a worker, or answers 503 when the queue is full or its
 * head is late. */
static enum MHD_Result http_enqueue(http_ctx *c)
{
    http_server *s = c->srv;
    int64_t now = http_now_us();
    pthread_mutex_lock(&s->qmu);
    /* Admission: refused here, at once, when the queue is full or when the work
     * at its head has already waited past the deadline (what joins behind it
     * would wait as long, and be shed by the worker after that wait). */
    bool full = s->qlen >= s->qcap;
    bool late = !full && s->qlen > 0 && now - s->ring[s->qhead]->queued_us > s->wait_max_us;
    if (s->stopping || full || late) {
        pthread_mutex_unlock(&s->qmu);
        if (full || late)
            atomic_fetch_add(full ? &s->shed_full : &s->shed_deadline, 1);
        http_set_error(c, 503, "server_busy", "Server busy, retry later.");
        return http_send_error(c);
    }
    c->queued_us = now;
    /* Suspended before it is visible to workers, so a fast worker's resume always
     * finds a suspended connection. */
    MHD_suspend_connection(c->conn);
    atomic_fetch_add(&s->suspended, 1);
    c->state = RQ_QUEUED;
    s->ring[(s->qhead + s->qlen) % s->qcap] = c;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return MHD_YES;
}

static enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    http_ctx *c = *con_cls;
    if (c == NULL)
        return MHD_NO; /* no memory for a context */
    K_ASSERT(c->conn == conn);
    switch (c->state) {
    case RQ_NEW:
        return http_first_call(c, url, method);
    case RQ_BODY:
        if (*upload_data_size > 0)
            return http_take_body(c, upload_data, upload_data_size);
        return http_dispatch(c);
    case RQ_DONE:
        if (c->then != NULL)
            http_run_then(c);
        return http_send(c);
    case RQ_QUEUED:
    case RQ_SENT:
        break;
    }
    return MHD_YES;
}

/* ---- workers ---- */

/* A worker's turn: handle, then give the connection back to MHD. */
static void http_run(http_server *s, http_ctx *c, http_handle_how how)
{
    K_ASSERT(c->state == RQ_QUEUED);
    http_handle(s, c, how);
    K_ASSERT(handled != HANDLED_TO_WORKER);
    if (handled == HANDLED_DEFERRED)
        return; /* c is the completion's now (and may be gone already) */
    struct MHD_Connection *conn = c->conn;
    c->state = RQ_DONE;
    /* From here c belongs to the I/O thread again and may be freed at any moment. */
    MHD_resume_connection(conn);
    atomic_fetch_sub(&s->suspended, 1);
}

static void *http_worker_main(void *arg)
{
    pthread_setname_np(pthread_self(), "kassa-handler"); /* top -H, perf */
    http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (s->qlen == 0 && !s->workers_exit)
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (s->qlen == 0) {
            pthread_mutex_unlock(&s->qmu);
            return NULL;
        }
        http_ctx *c = s->ring[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        http_handle_how how = HANDLE_RUN;
        if (s->stopping)
            how = HANDLE_STOPPING;
        else if (http_now_us() - c->queued_us > s->wait_max_us)
            how = HANDLE_LATE;
        pthread_mutex_unlock(&s->qmu);
        if (how == HANDLE_LATE)
            atomic_fetch_add(&s->shed_deadline, 1);
        http_run(s, c, how);
    }
}

static void http_workers_join(http_server *s)
{
    pthread_mutex_lock(&s->qmu);
    s->workers_exit = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
}

static k_status http_workers_start(http_server *s, int n)
{
    s->workers = calloc((size_t)n, sizeof(pthread_t));
    if (s->workers == NULL)
        return K_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i], NULL, http_worker_main, s) != 0) {
            log_error("http: cannot start worker thread %d of %d", i + 1, n);
            http_workers_join(s);
            return K_ERR;
        }
        s->nworkers = i + 1;
    }
    return K_OK;
}

/* ---- start and stop ---- */

__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("libmicrohttpd: %s", msg);
}

static void http_server_free(http_server *s)
{
    hg_free(s->hg);
    rl_free(s->rl_rate);
    rl_free(s->rl_authfail);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
    free(s->workers);
    free(s->ring);
    free(s->stats);
    free(s->routes);
    free(s);
}

/* Fills the config's defaults and checks its ranges. */
static k_status http_config_fill(http_config *cfg)
{
    if (cfg->host == NULL)
        cfg->host = "127.0.0.1";
    if (cfg->io_threads == 0)
        cfg->io_threads = HTTP_IO_THREADS_DEFAULT;
    if (cfg->workers == 0)
        cfg->workers = HTTP_WORKERS_DEFAULT;
    if (cfg->queue_max == 0)
        cfg->queue_max = LIMIT_HTTP_QUEUE_MAX;
    if (cfg->queue_wait_ms == 0)
        cfg->queue_wait_ms = LIMIT_HTTP_QUEUE_WAIT_MS;
    if (cfg->io_threads < 1 || cfg->io_threads > HTTP_IO_THREADS_MAX) {
        log_error("http: io_threads %d out of range 1..%d", cfg->io_threads, HTTP_IO_THREADS_MAX);
        return K_EINVAL;
    }
    if (cfg->workers < 1 || cfg->workers > LIMIT_HTTP_WORKERS_MAX) {
        log_error("http: workers %d out of range 1..%d", cfg->workers, LIMIT_HTTP_WORKERS_MAX);
        return K_EINVAL;
    }
    if (cfg->queue_wait_ms < 1 || cfg->queue_wait_ms > LIMIT_HTTP_QUEUE_WAIT_MAX_MS) {
        log_error("http: queue_wait_ms %d out of range 1..%d", cfg->queue_wait_ms,
                  LIMIT_HTTP_QUEUE_WAIT_MAX_MS);
        return K_EINVAL;
    }
    if (cfg->queue_max < 1 || cfg->queue_max > LIMIT_HTTP_QUEUE_MAX) {
        log_error("http: queue_max %d out of range 1..%d", cfg->queue_max, LIMIT_HTTP_QUEUE_MAX);
        return K_EINVAL;
    }
    if (cfg->per_ip_connections == 0)
        cfg->per_ip_connections = LIMIT_HTTP_PER_IP_MAX;
    if (cfg->head_deadline_s == 0)
        cfg->head_deadline_s = LIMIT_HTTP_HEAD_DEADLINE_S;
    if (cfg->per_ip_connections < 1 || cfg->per_ip_connections > LIMIT_HTTP_PER_IP_MAX ||
        cfg->head_deadline_s < 1 || cfg->head_deadline_s > LIMIT_HTTP_HEAD_DEADLINE_S) {
        log_error("http: per_ip_connections %d (1..%d) or head_deadline_s %d (1..%d) out of range",
                  cfg->per_ip_connections, LIMIT_HTTP_PER_IP_MAX, cfg->head_deadline_s,
                  LIMIT_HTTP_HEAD_DEADLINE_S);
        return K_EINVAL;
    }
    if (cfg->rate_per_s < 0 || cfg->rate_per_s * 60 > LIMIT_RATE_PER_MIN_MAX ||
        cfg->rate_burst < 0 || cfg->rate_burst > LIMIT_RATE_BURST_MAX ||
        cfg->auth_fail_per_min < 0 || cfg->auth_fail_per_min > LIMIT_RATE_PER_MIN_MAX ||
        cfg->auth_fail_burst < 0 || cfg->auth_fail_burst > LIMIT_RATE_BURST_MAX) {
        log_error("http: a rate limit is out of range");
        return K_EINVAL;
    }
    return K_OK;
}

/* Copies the built-in routes then the caller's; a malformed table is a programmer error. */
static k_status http_routes_copy(http_server *s, const http_route *routes, size_t nroutes)
{
    K_ASSERT(routes != NULL || nroutes == 0);
    s->nroutes = HTTP_ROUTES_BUILTIN + nroutes;
    s->routes = calloc(s->nroutes, sizeof(http_route));
    s->stats = calloc(s->nroutes + 1, sizeof(http_route_stats));
    if (s->routes == NULL || s->stats == NULL)
        return K_ENOMEM;
    memcpy(s->routes, http_builtin_routes, sizeof(http_builtin_routes));
    if (nroutes > 0)
        memcpy(s->routes + HTTP_ROUTES_BUILTIN, routes, nroutes * sizeof(http_route));
    for (size_t i = 0; i < s->nroutes; i++) {
        const http_route *r = &s->routes[i];
        K_ASSERT(r->method != NULL && r->fn != NULL && r->name != NULL);
        K_ASSERT(router_pattern_valid(r->pattern));
        K_ASSERT(r->auth == AUTH_NONE || s->cfg.auth != NULL); /* auth needs the hook */
        K_ASSERT(r->body_max <= LIMIT_HTTP_BODY_MAX);
    }
    return K_OK;
}

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} http_sockaddr;

static k_status http_parse_addr(const char *host, uint16_t port, http_sockaddr *addr, bool *ipv6)
{
    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, host, &addr->in4.sin_addr) == 1) {
        addr->in4.sin_family = AF_INET;
        addr->in4.sin_port = htons(port);
        *ipv6 = false;
        return K_OK;
    }
    if (inet_pton(AF_INET6, host, &addr->in6.sin6_addr) == 1) {
        addr->in6.sin6_family = AF_INET6;
        addr->in6.sin6_port = htons(port);
        *ipv6 = true;
        return K_OK;
    }
    log_error("http: host '%s' is not an IPv4 or IPv6 address", host);
    return K_EINVAL;
}

static k_status http_mhd_start(http_server *s)
{
    http_sockaddr addr;
    bool ipv6 = false;
    k_status st = http_parse_addr(s->cfg.host, s->cfg.port, &addr, &ipv6);
    if (st != K_OK)
        return st;
    /* a pool of one is no pool (MHD warns about "1") */
    struct MHD_OptionItem pool[2] = {
        {MHD_OPTION_THREAD_POOL_SIZE, s->cfg.io_threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (s->cfg.io_threads == 1)
        pool[0].option = MHD_OPTION_END;
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(
        flags, s->cfg.port, NULL, NULL, http_on_access, s,
        /* the logger first, so that MHD's messages about later options reach it */
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s, MHD_OPTION_SOCK_ADDR, &addr.sa,
        MHD_OPTION_ARRAY, pool, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)LIMIT_HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)LIMIT_HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, http_on_completed,
        s, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)s->cfg.per_ip_connections,
        MHD_OPTION_NOTIFY_CONNECTION, hg_on_connection, s->hg, MHD_OPTION_END);
    if (s->mhd == NULL) {
        log_error("http: cannot listen on '%s' port %u", s->cfg.host, (unsigned)s->cfg.port);
        return K_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    K_ASSERT(di != NULL);
    s->port = di->port;
    return K_OK;
}

k_status http_server_start(http_server **out, const http_config *cfg, const http_route *routes,
                           size_t nroutes, void *ctx)
{
    K_ASSERT(out != NULL && cfg != NULL);
    *out = NULL;
    http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return K_ENOMEM;
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->cfg = *cfg;
    s->ctx = ctx;
    k_status st = http_config_fill(&s->cfg);
    if (st == K_OK)
        st = http_routes_copy(s, routes, nroutes);
    if (st == K_OK) {
        s->qcap = (size_t)s->cfg.queue_max;
        s->wait_max_us = (int64_t)s->cfg.queue_wait_ms * 1000;
        s->ring = calloc(s->qcap, sizeof(http_ctx *));
        st = s->ring != NULL ? K_OK : K_ENOMEM;
    }
    if (st == K_OK) {
        /* a limit of 0 is off: rl_new returns NULL and rl_take always allows */
        s->rl_rate = rl_new(s->cfg.rate_per_s * 60, s->cfg.rate_burst);
        s->rl_authfail = rl_new(s->cfg.auth_fail_per_min, s->cfg.auth_fail_burst);
        if (s->cfg.limits_fn != NULL) {
            rl_share(s->rl_rate, "rate", s->cfg.limits_fn, s->cfg.limits_ctx);
            rl_share(s->rl_authfail, "authfail", s->cfg.limits_fn, s->cfg.limits_ctx);
        }
        s->hg = hg_new(s->cfg.head_deadline_s);
        bool rate_ok = s->rl_rate != NULL || s->cfg.rate_per_s == 0 || s->cfg.rate_burst == 0;
        bool fail_ok =
            s->rl_authfail != NULL || s->cfg.auth_fail_per_min == 0 || s->cfg.auth_fail_burst == 0;
        st = rate_ok && fail_ok && s->hg != NULL ? K_OK : K_ENOMEM;
    }
    if (st == K_OK)
        st = http_workers_start(s, s->cfg.workers);
    if (st == K_OK) {
        st = http_mhd_start(s);
        if (st != K_OK)
            http_workers_join(s);
    }
    if (st != K_OK) {
        http_server_free(s);
        return st;
    }
    log_info("http: listening on %s port %u (%d I/O threads, %d workers)", s->cfg.host,
             (unsigned)s->port, s->cfg.io_threads, s->cfg.workers);
    *out = s;
    return K_OK;
}

uint16_t http_server_port(const http_server *s)
{
    K_ASSERT(s != NULL);
    return s->port;
}

/* Waits until *counter is 0 or max_ms passed; true when it reached 0. */
static bool http_wait_zero(_Atomic int64_t *counter, int64_t max_ms)
{
    int64_t deadline = http_now_us() + max_ms * 1000;
    while (atomic_load(counter) > 0) {
        if (max_ms >= 0 && http_now_us() >= deadline)
            return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

void http_server_stop(http_server *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->quiescing, true);
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    if (!http_wait_zero(&s->in_flight, HTTP_STOP_WAIT_MS))
        log_warn("http: %lld requests still in flight after %d ms, stopping",
                 (long long)atomic_load(&s->in_flight), HTTP_STOP_WAIT_MS);
    pthread_mutex_lock(&s->qmu);
    s->stopping = true; /* what is still queued is answered 503 */
    pthread_mutex_unlock(&s->qmu);
    /* MHD must not stop with a suspended connection; running handlers are bounded by
     * their own timeouts (store, provider calls), so this wait ends. */
    http_wait_zero(&s->suspended, -1);
    MHD_stop_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    http_workers_join(s);
    log_info("http: stopped");
    http_server_free(s);
}

void http_wait_for_signal(void)
{
    /* main blocks SIGTERM and SIGINT before it creates any thread, so every thread
     * inherits the mask and the signal is delivered here, not to a random thread
     * (which would take the default action and kill the process). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    log_info("http: signal %d received, shutting down", sig);
}
