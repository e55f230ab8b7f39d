/*
 * test_http.c - the HTTP server layer (src/server) driven over loopback with libcurl.
 *
 * One shared server (port 0) carries most routes; the graceful-stop and
 * queue-overflow cases start their own. Checks: routing with params and "*",
 * 404/405, auth hook, body/header/URL limits, raw query and decoded path, exact
 * bodies, keep-alive, parallel slow handlers, 128 and 256 concurrent keep-alive
 * connections (the epoll stall regression), /healthz, /metrics, stop, 503.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/http.h"
#include "base/log.h"

static http_server *g_srv;
static uint16_t g_port;
static atomic_int g_small_calls;
static atomic_int g_auth_calls;
static metric *g_sales;

/* ---- handlers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void h_params(http_req *req, http_resp *resp, void *ctx)
{
    buf_printf(&resp->body, "%d", req->nparams);
    for (int i = 0; i < req->nparams; i++)
        buf_printf(&resp->body, "|%s", req->params[i]);
    resp->content_type = "text/plain";
}

static void h_info(http_req *req, http_resp *resp, void *ctx)
{
    buf_printf(&resp->body, "%s|%s|%s|%s", req->method, req->path, req->query,
               req->nparams > 0 ? req->params[0] : "-");
    resp->content_type = "text/plain";
}

static void h_echo(http_req *req, http_resp *resp, void *ctx)
{
    const char *ct = http_req_header(req, "content-type");
    K_ASSERT(req->body[req->body_len] == '\0');
    http_resp_set(resp, 200, "application/octet-stream", req->body, req->body_len);
    char n[32];
    snprintf(n, sizeof(n), "%zu", req->body_len);
    http_resp_header(req, resp, "X-Body-Len", n);
    http_resp_header(req, resp, "X-Req-Type", ct != NULL ? ct : "");
}

static void h_small(http_req *req, http_resp *resp, void *ctx)
{
    atomic_fetch_add(&g_small_calls, 1);
    http_resp_set(resp, 200, "text/plain", "ok", 2);
}

static void h_secret(http_req *req, http_resp *resp, void *ctx)
{
    buf_printf(&resp->body, "principal=%s", req->principal != NULL ? req->principal : "(null)");
    resp->content_type = "text/plain";
}

static void h_slow(http_req *req, http_resp *resp, void *ctx)
{
    sleep_ms(200);
    http_resp_set(resp, 200, "text/plain", "slow", 4);
}

static void h_page(http_req *req, http_resp *resp, void *ctx)
{
    static const char html[] = "<!doctype html><p>hi</p>";
    http_resp_set(resp, 200, "text/html; charset=utf-8", html, sizeof(html) - 1);
}

static void h_hdr(http_req *req, http_resp *resp, void *ctx)
{
    const char *x = http_req_header(req, "x-test");
    const char *cookie = http_req_cookie(req, "sess");
    buf_printf(&resp->body, "%s|%s", x != NULL ? x : "-", cookie != NULL ? cookie : "-");
    resp->content_type = "text/plain";
}

static void h_go(http_req *req, http_resp *resp, void *ctx)
{
    http_resp_redirect(req, resp, "/page?x=1");
}

static void h_ok(http_req *req, http_resp *resp, void *ctx)
{
    http_resp_set(resp, 200, "text/plain", "ok", 2);
}

/* Names the thread the handler ran on: HTTP_INLINE routes run on MHD's. */
static void h_where(http_req *req, http_resp *resp, void *ctx)
{
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof(name));
    http_resp_set(resp, 200, "text/plain", name, strlen(name));
}

/* ---- answered later (http_defer): the work finishes on a thread of its own ---- */

static void then_where(http_req *req, http_resp *resp, void *arg)
{
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof(name));
    buf_printf(&resp->body, "%s then %s", (const char *)arg, name);
    resp->content_type = "text/plain";
}

static void *resume_later(void *arg)
{
    sleep_ms(150);
    http_resume(arg);
    return NULL;
}

/* Defers, and a thread of its own resumes it 150 ms later (as the writer would). */
static void h_defer(http_req *req, http_resp *resp, void *ctx)
{
    char *where = arena_alloc(req->arena, 32);
    pthread_getname_np(pthread_self(), where, 32);
    http_defer(req, then_where, where);
    pthread_t t;
    K_ASSERT(pthread_create(&t, NULL, resume_later, req) == 0);
    pthread_detach(t);
}

/* Defers and resumes before returning (work that could not be handed over). */
static void h_defer_now(http_req *req, http_resp *resp, void *ctx)
{
    http_defer(req, then_where, "now");
    http_resume(req);
}

/* Sent on to a worker from the I/O thread; answers where it finally ran. */
static void h_to_worker(http_req *req, http_resp *resp, void *ctx)
{
    if (http_on_io_thread(req)) {
        http_resp_set(resp, 500, "text/plain", "dropped", 7); /* cleared by the server */
        http_to_worker(req);
        return;
    }
    h_where(req, resp, ctx);
}

static const char *auth_hook(http_req *req, http_resp *resp, http_auth kind, void *ctx)
{
    atomic_fetch_add(&g_auth_calls, 1);
    const char *h = http_req_header(req, "Authorization");
    if (kind == AUTH_SECRET_KEY && h != NULL && strcmp(h, "Bearer sk_test_good") == 0)
        return arena_strdup(req->arena, "acct_1");
    static const char err[] = "{\"error\":{\"type\":\"invalid_request_error\","
                              "\"message\":\"bad key\"}}";
    http_resp_set(resp, 401, "application/json", err, sizeof(err) - 1);
    return NULL;
}

static const http_route routes[] = {
    {"GET", "/p/:a/:b", h_params, AUTH_NONE, 0, "params", 0},
    {"GET", "/files/*", h_params, AUTH_NONE, 0, "files", 0},
    {"GET", "/info/:id", h_info, AUTH_NONE, 0, "info", 0},
    {"POST", "/echo", h_echo, AUTH_NONE, 0, "echo", 0},
    {"POST", "/small", h_small, AUTH_NONE, 16, "small", 0},
    {"GET", "/secret", h_secret, AUTH_SECRET_KEY, 0, "secret", 0},
    {"GET", "/slow", h_slow, AUTH_NONE, 0, "slow", 0},
    {"GET", "/page", h_page, AUTH_NONE, 0, "page", 0},
    {"GET", "/hdr", h_hdr, AUTH_NONE, 0, "hdr", 0},
    {"GET", "/go", h_go, AUTH_NONE, 0, "go", 0},
    {"GET", "/only", h_ok, AUTH_NONE, 0, "only", 0},
    {"GET", "/two", h_ok, AUTH_NONE, 0, "two_get", 0},
    {"POST", "/two", h_ok, AUTH_NONE, 0, "two_post", 0},
    {"GET", "/ok", h_ok, AUTH_NONE, 0, "ok", 0},
    {"GET", "/where/inline", h_where, AUTH_SECRET_KEY, 0, "where_inline", HTTP_INLINE},
    {"GET", "/where/worker", h_where, AUTH_SECRET_KEY, 0, "where_worker", 0},
    {"GET", "/defer", h_defer, AUTH_NONE, 0, "defer", HTTP_INLINE | HTTP_DEFERS},
    {"GET", "/defer/worker", h_defer, AUTH_NONE, 0, "defer_worker", HTTP_DEFERS},
    {"GET", "/defer/now", h_defer_now, AUTH_NONE, 0, "defer_now", HTTP_INLINE | HTTP_DEFERS},
    {"GET", "/to-worker", h_to_worker, AUTH_SECRET_KEY, 0, "to_worker", HTTP_INLINE},
};

static void collector(buf *out, void *ctx)
{
    buf_printf(out, "kassa_test_collector %d\n", *(const int *)ctx);
}

/* ---- client helpers ---- */

typedef struct {
    long status;
    buf body;
    buf headers;
    long connects;
    CURLcode rc;
} result;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_append(ud, p, size * n);
    return size * n;
}

static void result_init(result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, 0);
    buf_init(&r->headers, 0);
}

static void result_free(result *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

/* Value of a response header (last occurrence) into out; false when absent. */
static bool result_header(const result *r, const char *name, char *out, size_t outlen)
{
    bool found = false;
    size_t nlen = strlen(name);
    const char *line = r->headers.data;
    while (line != NULL && *line != '\0') {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        if (len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(len - (size_t)(v - line)), v);
            found = true;
        }
        line = eol != NULL ? eol + 2 : NULL;
    }
    return found;
}

static void easy_setup(CURL *e, uint16_t port, const char *path, result *r)
{
    char url[16384];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
}

static void easy_finish(CURL *e, CURLcode rc, result *r)
{
    r->rc = rc;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    long c = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &c);
    r->connects += c;
}

/* One request on a fresh handle. method NULL = GET (or POST when body given). */
static void request(uint16_t port, const char *method, const char *path, const char *body,
                    size_t body_len, struct curl_slist *hdrs, result *r)
{
    result_init(r);
    CURL *e = curl_easy_init();
    assert_non_null(e);
    easy_setup(e, port, path, r);
    if (body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    if (method != NULL)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (hdrs != NULL)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    easy_finish(e, curl_easy_perform(e), r);
    curl_easy_cleanup(e);
}

static void get(const char *path, result *r)
{
    request(g_port, NULL, path, NULL, 0, NULL, r);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_sales = metric_counter("kassa_test_sales_total", "kind=\"sale\"", "Test sales.");
    static int coll_value = 42;
    metric_add_collector(collector, &coll_value);
    /* queue_wait_ms: a loaded test machine must not shed these tests' requests */
    http_config cfg = {.host = "127.0.0.1",
                       .port = 0,
                       .auth = auth_hook,
                       .inline_reads = true,
                       .queue_wait_ms = 60000};
    k_status st = http_server_start(&g_srv, &cfg, routes, K_ARRAY_LEN(routes), NULL);
    if (st != K_OK)
        return -1;
    g_port = http_server_port(g_srv);
    return g_port != 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    http_server_stop(g_srv);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

static void test_routing_params(void **state)
{
    result r;
    get("/p/abc/d-e", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "2|abc|d-e");
    result_free(&r);

    get("/files/a/b/c.css", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "1|a/b/c.css");
    result_free(&r);

    get("/files/", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "1|");
    result_free(&r);

    get("/p/abc", &r); /* one segment short */
    assert_int_equal(r.status, 404);
    result_free(&r);

    get("/p/abc/d/e", &r); /* one segment too many */
    assert_int_equal(r.status, 404);
    result_free(&r);
}

static void test_404_405(void **state)
{
    result r;
    char v[256];
    get("/nope", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.data, "\"type\":\"invalid_request_error\""));
    assert_true(result_header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    assert_true(result_header(&r, "Request-Id", v, sizeof(v)));
    assert_int_equal(strlen(v), 20);
    assert_memory_equal(v, "req_", 4);
    assert_true(result_header(&r, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    assert_true(result_header(&r, "Referrer-Policy", v, sizeof(v)));
    assert_string_equal(v, "no-referrer");
    result_free(&r);

    request(g_port, "POST", "/only", "x=1", 3, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_true(result_header(&r, "Allow", v, sizeof(v)));
    assert_string_equal(v, "GET");
    result_free(&r);

    request(g_port, "DELETE", "/two", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_true(result_header(&r, "Allow", v, sizeof(v)));
    assert_string_equal(v, "GET, POST");
    result_free(&r);

    request(g_port, "POST", "/two", "", 0, NULL, &r);
    assert_int_equal(r.status, 200);
    result_free(&r);
}

static void test_auth(void **state)
{
    result r;
    int before = atomic_load(&g_auth_calls);
    get("/secret", &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.data, "bad key"));
    result_free(&r);

    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer sk_test_good");
    request(g_port, NULL, "/secret", NULL, 0, h, &r);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "principal=acct_1");
    result_free(&r);
    assert_int_equal(atomic_load(&g_auth_calls) - before, 2);

    get("/ok", &r); /* AUTH_NONE: the hook is not asked */
    assert_int_equal(r.status, 200);
    result_free(&r);
    assert_int_equal(atomic_load(&g_auth_calls) - before, 2);
}

static size_t read_cb(char *out, size_t size, size_t n, void *ud)
{
    size_t *left = ud;
    size_t k = size * n < *left ? size * n : *left;
    memset(out, 'z', k);
    *left -= k;
    return k;
}

static void test_body_too_large(void **state)
{
    result r;
    char big[100];
    memset(big, 'a', sizeof(big));
    int before = atomic_load(&g_small_calls);
    request(g_port, NULL, "/small", big, sizeof(big), NULL, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body.data, "invalid_request_error"));
    result_free(&r);
    assert_int_equal(atomic_load(&g_small_calls), before);

    /* chunked: no Content-Length, so the limit is found while reading */
    result_init(&r);
    CURL *e = curl_easy_init();
    easy_setup(e, g_port, "/small", &r);
    size_t left = 100;
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, &left);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    easy_finish(e, curl_easy_perform(e), &r);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    result_free(&r);
    assert_int_equal(atomic_load(&g_small_calls), before);

    request(g_port, NULL, "/small", big, 16, NULL, &r); /* exactly the maximum */
    assert_int_equal(r.status, 200);
    result_free(&r);
    assert_int_equal(atomic_load(&g_small_calls), before + 1);
}

static void test_header_and_url_limits(void **state)
{
    result r;
    size_t n = 20 * 1024;
    char *hv = malloc(n + 32);
    memcpy(hv, "X-Big: ", 7);
    memset(hv + 7, 'h', n);
    hv[7 + n] = '\0';
    struct curl_slist *h = curl_slist_append(NULL, hv);
    request(g_port, NULL, "/ok", NULL, 0, h, &r);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 431);
    result_free(&r);
    free(hv);

    /* far past MHD's connection memory: MHD answers by itself */
    n = 100 * 1024;
    hv = malloc(n + 32);
    memcpy(hv, "X-Huge: ", 8);
    memset(hv + 8, 'h', n);
    hv[8 + n] = '\0';
    h = curl_slist_append(NULL, hv);
    request(g_port, NULL, "/ok", NULL, 0, h, &r);
    curl_slist_free_all(h);
    assert_true(r.status == 431 || r.status == 413);
    result_free(&r);
    free(hv);

    char path[LIMIT_HTTP_URL_MAX + 64];
    memcpy(path, "/info/x?q=", 10);
    memset(path + 10, 'u', LIMIT_HTTP_URL_MAX);
    path[10 + LIMIT_HTTP_URL_MAX] = '\0';
    get(path, &r);
    assert_int_equal(r.status, 414);
    result_free(&r);

    path[LIMIT_HTTP_URL_MAX - 100] = '\0'; /* under the limit */
    get(path, &r);
    assert_int_equal(r.status, 200);
    result_free(&r);

    get("/ok", &r); /* the server is fine afterwards */
    assert_int_equal(r.status, 200);
    result_free(&r);
}

static void test_query_raw_path_decoded(void **state)
{
    result r;
    get("/info/a%20b%C3%A9%3F?x=1%202&y=%2F+z&flag&e=%E2%82%AC", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data,
                        "GET|/info/a b\xc3\xa9?|x=1%202&y=%2F+z&flag&e=%E2%82%AC|a b\xc3\xa9?");
    result_free(&r);

    get("/info/plain", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "GET|/info/plain||plain");
    result_free(&r);
}

static void check_echo(const char *body, size_t len, const char *ctype)
{
    result r;
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    request(g_port, NULL, "/echo", body, len, h, &r);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, len);
    assert_memory_equal(r.body.data, body, len);
    char v[128];
    assert_true(result_header(&r, "X-Body-Len", v, sizeof(v)));
    assert_int_equal(strtoll(v, NULL, 10), (long long)len);
    assert_true(result_header(&r, "X-Req-Type", v, sizeof(v)));
    assert_string_equal(v, ctype);
    result_free(&r);
}

static void test_bodies_exact(void **state)
{
    static const char json[] =
        "{\"amount\":2000,\"currency\":\"eur\",\"metadata\":{\"k\":\"v \\u00e9\"}}";
    check_echo(json, sizeof(json) - 1, "application/json");
    static const char form[] = "amount=2000&currency=eur&metadata[order]=%23%2042&x=a+b&empty=";
    check_echo(form, sizeof(form) - 1, "application/x-www-form-urlencoded");
    static const char bin[] = {'a', '\0', 'b', '\r', '\n', (char)0xff, '\0'};
    check_echo(bin, sizeof(bin), "application/octet-stream");
    size_t n = 200 * 1024; /* larger than one read buffer, under the route maximum */
    char *large = malloc(n);
    for (size_t i = 0; i < n; i++)
        large[i] = (char)('a' + i % 26);
    check_echo(large, n, "application/json");
    free(large);
}

static void test_headers_cookies_redirect_html(void **state)
{
    result r;
    char v[512];
    struct curl_slist *h = curl_slist_append(NULL, "x-TEST: hello");
    h = curl_slist_append(h, "Cookie: a=1; sess=xyz; b=2");
    request(g_port, NULL, "/hdr", NULL, 0, h, &r);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "hello|xyz");
    assert_false(result_header(&r, "X-Frame-Options", v, sizeof(v))); /* not HTML */
    result_free(&r);

    get("/go", &r);
    assert_int_equal(r.status, 303);
    assert_true(result_header(&r, "Location", v, sizeof(v)));
    assert_string_equal(v, "/page?x=1");
    result_free(&r);

    get("/page", &r);
    assert_int_equal(r.status, 200);
    assert_true(result_header(&r, "X-Frame-Options", v, sizeof(v)));
    assert_string_equal(v, "DENY");
    assert_true(result_header(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_true(result_header(&r, "X-Content-Type-Options", v, sizeof(v)));
    result_free(&r);
}

static void test_keepalive(void **state)
{
    result r;
    result_init(&r);
    CURL *e = curl_easy_init();
    easy_setup(e, g_port, "/ok", &r);
    long connects = 0;
    for (int i = 0; i < 100; i++) {
        buf_reset(&r.body);
        r.connects = 0;
        easy_finish(e, curl_easy_perform(e), &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.data, "ok");
        connects += r.connects;
    }
    curl_easy_cleanup(e);
    result_free(&r);
    assert_int_equal(connects, 1);
}

/* n handles on one multi, each doing rounds requests to path in turn (keep-alive).
 * Returns the number of 200 answers; *connects the connections opened. */
static int multi_run(uint16_t port, const char *path, int n, int rounds, long *connects,
                     int *status_503)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)n + 8);
    CURL **e = calloc((size_t)n, sizeof(CURL *));
    result *r = calloc((size_t)n, sizeof(result));
    int *left = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        result_init(&r[i]);
        e[i] = curl_easy_init();
        easy_setup(e[i], port, path, &r[i]);
        curl_easy_setopt(e[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
        left[i] = rounds;
        curl_multi_add_handle(m, e[i]);
    }
    int ok = 0;
    int running = n;
    *connects = 0;
    while (running > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            void *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            int i = (int)(intptr_t)priv;
            r[i].connects = 0;
            easy_finish(e[i], msg->data.result, &r[i]);
            *connects += r[i].connects;
            ok += r[i].rc == CURLE_OK && r[i].status == 200;
            if (status_503 != NULL && r[i].status == 503) {
                char v[16];
                if (result_header(&r[i], "Retry-After", v, sizeof(v)) && strcmp(v, "1") == 0)
                    (*status_503)++;
            }
            curl_multi_remove_handle(m, e[i]);
            if (--left[i] > 0) {
                buf_reset(&r[i].body);
                buf_reset(&r[i].headers);
                curl_multi_add_handle(m, e[i]);
                running++;
            }
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < n; i++) {
        curl_easy_cleanup(e[i]);
        result_free(&r[i]);
    }
    free(e);
    free(r);
    free(left);
    curl_multi_cleanup(m);
    return ok;
}

static void test_parallel_slow(void **state)
{
    long connects = 0;
    int64_t t0 = now_ms();
    int ok = multi_run(g_port, "/slow", 8, 1, &connects, NULL);
    int64_t took = now_ms() - t0;
    assert_int_equal(ok, 8);
    assert_true(took < 1200); /* serial would be 1600 ms */
}

static void check_concurrent_on(uint16_t port, int n)
{
    long connects = 0;
    int64_t t0 = now_ms();
    int ok = multi_run(port, "/ok", n, 4, &connects, NULL);
    int64_t took = now_ms() - t0;
    assert_int_equal(ok, n * 4);
    assert_int_equal(connects, n); /* each handle its own connection, then reused */
    assert_true(took < 10000);     /* a stall would wait for a timeout */
}

/* On the shared server (2 I/O threads) and on one I/O thread, where MHD's epoll
 * stall at exactly 128/256 ready connections showed deterministically. */
static void check_concurrent(int n)
{
    check_concurrent_on(g_port, n);
    http_server *s = NULL;
    http_config cfg = {
        .host = "127.0.0.1", .io_threads = 1, .auth = auth_hook, .queue_wait_ms = 60000};
    assert_int_equal(http_server_start(&s, &cfg, routes, K_ARRAY_LEN(routes), NULL), K_OK);
    check_concurrent_on(http_server_port(s), n);
    http_server_stop(s);
}

static void test_128_connections(void **state)
{
    check_concurrent(128);
}

static void test_256_connections(void **state)
{
    check_concurrent(256);
}

/* An HTTP_INLINE route is answered on the I/O thread, auth included; others on a
 * handler thread. */
static void test_inline_routes(void **state)
{
    struct curl_slist *auth = curl_slist_append(NULL, "Authorization: Bearer sk_test_good");
    result r;
    for (int i = 0; i < 3; i++) {
        request(g_port, "GET", "/where/inline", NULL, 0, auth, &r);
        assert_int_equal(r.status, 200);
        assert_string_not_equal(r.body.data, "kassa-handler");
        result_free(&r);
    }
    request(g_port, "GET", "/where/worker", NULL, 0, auth, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "kassa-handler");
    result_free(&r);
    curl_slist_free_all(auth);
    get("/where/inline", &r); /* no key: the auth hook's answer, on the I/O thread */
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.data, "bad key"));
    result_free(&r);
}

static void test_healthz(void **state)
{
    result r;
    get("/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"status\":\"ok\"}");
    char v[64];
    assert_true(result_header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    result_free(&r);
}

static void test_metrics(void **state)
{
    result r;
    for (int i = 0; i < 3; i++) {
        get("/p/m/n", &r);
        assert_int_equal(r.status, 200);
        result_free(&r);
    }
    get("/nope-for-metrics", &r);
    result_free(&r);
    metric_add(g_sales, 5);
    get("/metrics", &r);
    assert_int_equal(r.status, 200);
    const char *m = r.body.data;
    char v[128];
    assert_true(result_header(&r, "Content-Type", v, sizeof(v)));
    assert_non_null(strstr(v, "text/plain; version=0.0.4"));
    assert_non_null(strstr(m, "# TYPE http_requests_total counter\n"));
    const char *line = strstr(m, "http_requests_total{route=\"params\",code=\"200\"} ");
    assert_non_null(line);
    assert_true(strtoll(line + strlen("http_requests_total{route=\"params\",code=\"200\"} "), NULL,
                        10) >= 3);
    assert_non_null(strstr(m, "http_requests_total{route=\"unmatched\",code=\"404\"} "));
    assert_non_null(strstr(m, "# TYPE http_request_duration_seconds histogram\n"));
    assert_non_null(
        strstr(m, "http_request_duration_seconds_bucket{route=\"params\",le=\"0.0005\"} "));
    assert_non_null(
        strstr(m, "http_request_duration_seconds_bucket{route=\"params\",le=\"+Inf\"} "));
    assert_non_null(strstr(m, "http_request_duration_seconds_sum{route=\"params\"} "));
    line = strstr(m, "http_request_duration_seconds_count{route=\"params\"} ");
    assert_non_null(line);
    assert_true(strtoll(strchr(line, '}') + 2, NULL, 10) >= 3);
    /* this scrape itself, and maybe the previous request: MHD reports a request
     * complete (and it leaves the gauge) only after its answer was sent */
    line = strstr(m, "\nhttp_requests_in_flight ");
    assert_non_null(line);
    assert_true(strtoll(line + strlen("\nhttp_requests_in_flight "), NULL, 10) >= 1);
    assert_non_null(strstr(m, "\nhttp_queue_depth "));
    line = strstr(m, "\nprocess_resident_memory_bytes ");
    assert_non_null(line);
    assert_true(strtoll(line + strlen("\nprocess_resident_memory_bytes "), NULL, 10) > 0);
    assert_non_null(strstr(m, "# TYPE kassa_test_sales_total counter\n"));
    assert_non_null(strstr(m, "\nkassa_test_sales_total{kind=\"sale\"} 5\n"));
    assert_non_null(strstr(m, "\nkassa_test_collector 42\n"));
    result_free(&r);
}

/* ---- servers of their own ---- */

typedef struct {
    uint16_t port;
    result r;
} bg_req;

static void *bg_get_slow(void *arg)
{
    bg_req *b = arg;
    request(b->port, NULL, "/slow", NULL, 0, NULL, &b->r);
    return NULL;
}

static void *bg_get_defer(void *arg)
{
    bg_req *b = arg;
    request(b->port, NULL, "/defer", NULL, 0, NULL, &b->r);
    return NULL;
}

static void test_graceful_stop(void **state)
{
    http_server *s = NULL;
    http_config cfg = {.host = "127.0.0.1", .auth = auth_hook};
    assert_int_equal(http_server_start(&s, &cfg, routes, K_ARRAY_LEN(routes), NULL), K_OK);
    bg_req b = {.port = http_server_port(s)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bg_get_slow, &b), 0);
    sleep_ms(60); /* the request is in its handler */
    int64_t t0 = now_ms();
    http_server_stop(s);
    int64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(b.r.rc, CURLE_OK);
    assert_int_equal(b.r.status, 200);
    assert_string_equal(b.r.body.data, "slow");
    assert_true(took >= 100); /* it waited for the handler */
    result_free(&b.r);
}

static void error_fn(http_req *req, http_resp *resp, int status, const char *code,
                     const char *message, void *ctx)
{
    buf_printf(&resp->body, "E:%d:%s:%s", status, code, req->path);
    resp->content_type = "text/plain";
    resp->status = status;
}

static void test_queue_overflow_and_error_fn(void **state)
{
    http_server *s = NULL;
    http_config cfg = {.host = "127.0.0.1",
                       .workers = 1,
                       .queue_max = 1,
                       .queue_wait_ms = 60000,
                       .auth = auth_hook,
                       .error_fn = error_fn};
    assert_int_equal(http_server_start(&s, &cfg, routes, K_ARRAY_LEN(routes), NULL), K_OK);
    uint16_t port = http_server_port(s);

    result r;
    request(port, NULL, "/missing", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "E:404:resource_missing:/missing");
    result_free(&r);

    long connects = 0;
    int n503 = 0;
    int ok = multi_run(port, "/slow", 5, 1, &connects, &n503);
    assert_true(ok >= 1);
    assert_true(ok <= 2); /* one running, one queued */
    assert_true(n503 >= 3);
    assert_int_equal(ok + n503, 5);
    http_server_stop(s);
}

static long long metric_value(const char *m, const char *series)
{
    const char *line = strstr(m, series);
    assert_non_null(line);
    return strtoll(line + strlen(series), NULL, 10);
}

/* Admission by age: with one worker busy for 200 ms and a 20 ms deadline, the
 * requests behind it are answered 503 + Retry-After (refused at the door once
 * the queue's oldest is late, or shed by the worker without running), though
 * the queue has room for all of them. */
static void test_queue_deadline(void **state)
{
    http_server *s = NULL;
    http_config cfg = {.host = "127.0.0.1",
                       .workers = 1,
                       .queue_max = 64,
                       .queue_wait_ms = 20,
                       .inline_reads = true,
                       .auth = auth_hook};
    assert_int_equal(http_server_start(&s, &cfg, routes, K_ARRAY_LEN(routes), NULL), K_OK);
    uint16_t port = http_server_port(s);
    long connects = 0;
    int n503 = 0;
    int ok = multi_run(port, "/slow", 6, 1, &connects, &n503);
    assert_true(ok >= 1);
    assert_true(n503 >= 3); /* at most one more ran: one that came after the first was done */
    assert_int_equal(ok + n503, 6);
    result r;
    request(port, NULL, "/metrics", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(metric_value(r.body.data, "http_requests_shed_total{reason=\"deadline\"} "),
                     n503);
    assert_int_equal(metric_value(r.body.data, "http_requests_shed_total{reason=\"queue_full\"} "),
                     0);
    result_free(&r);
    http_server_stop(s);
}

static void test_deferred_answers(void **state)
{
    result r;
    get("/defer", &r); /* prepared on the I/O thread, answered there after the resume */
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "MHD"));
    assert_null(strstr(r.body.data, "kassa-handler"));
    result_free(&r);
    get("/defer/worker", &r); /* deferred from a worker: the worker is let go */
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body.data, "kassa-handler then MHD", 22) == 0);
    result_free(&r);
    get("/defer/now", &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body.data, "now then MHD", 12) == 0);
    result_free(&r);
    long connects = 0;
    assert_int_equal(multi_run(g_port, "/defer", 8, 3, &connects, NULL), 24);
}

static void test_to_worker_keeps_auth(void **state)
{
    struct curl_slist *auth = curl_slist_append(NULL, "Authorization: Bearer sk_test_good");
    int before = atomic_load(&g_auth_calls);
    result r;
    request(g_port, "GET", "/to-worker", NULL, 0, auth, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "kassa-handler");
    assert_int_equal(atomic_load(&g_auth_calls) - before, 1); /* authenticated once */
    result_free(&r);
    curl_slist_free_all(auth);
}

/* Answers pending count against queue_max: with one allowed, requests that
 * come while one is pending are refused 503 + Retry-After at the door. */
static void test_deferred_admission(void **state)
{
    http_server *s = NULL;
    http_config cfg = {.host = "127.0.0.1",
                       .queue_max = 1,
                       .queue_wait_ms = 60000,
                       .inline_reads = true,
                       .auth = auth_hook};
    assert_int_equal(http_server_start(&s, &cfg, routes, K_ARRAY_LEN(routes), NULL), K_OK);
    uint16_t port = http_server_port(s);
    long connects = 0;
    int n503 = 0;
    int ok = multi_run(port, "/defer", 5, 1, &connects, &n503);
    assert_true(ok >= 1);
    assert_true(n503 >= 1);
    assert_int_equal(ok + n503, 5);
    result r;
    request(port, NULL, "/metrics", NULL, 0, NULL, &r);
    assert_int_equal(metric_value(r.body.data, "http_requests_shed_total{reason=\"queue_full\"} "),
                     n503);
    result_free(&r);
    /* a pending answer holds the stop until it is sent */
    bg_req b = {.port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bg_get_defer, &b), 0);
    sleep_ms(60);
    http_server_stop(s);
    pthread_join(t, NULL);
    assert_int_equal(b.r.rc, CURLE_OK);
    assert_int_equal(b.r.status, 200);
    result_free(&b.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_params),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_header_and_url_limits),
        cmocka_unit_test(test_query_raw_path_decoded),
        cmocka_unit_test(test_bodies_exact),
        cmocka_unit_test(test_headers_cookies_redirect_html),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_parallel_slow),
        cmocka_unit_test(test_128_connections),
        cmocka_unit_test(test_256_connections),
        cmocka_unit_test(test_inline_routes),
        cmocka_unit_test(test_deferred_answers),
        cmocka_unit_test(test_to_worker_keeps_auth),
        cmocka_unit_test(test_deferred_admission),
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_queue_overflow_and_error_fn),
        cmocka_unit_test(test_queue_deadline),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
