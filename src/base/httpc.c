/*
 * httpc.c - Kassa's HTTP client (see httpc.h): one thread owns a curl multi
 * handle and drives every transfer; callers hand jobs over through a
 * mutex-protected submission list and wake the thread with curl_multi_wakeup.
 *
 * The multi handle's connection cache keeps connections alive between
 * transfers to the same host. Redirects are never followed (for webhooks a 3xx
 * is a failure). Answers past body_max abort the transfer with K_ETOOBIG.
 *
 * The SSRF guard (httpc.h): a public_only transfer opens its sockets through
 * httpc_open_socket, which refuses any address curl resolved that is not public
 * before connect() is called (curl then tries the name's next address), and
 * checks again in httpc_prereq for a connection taken from the cache, which an
 * unguarded transfer (a provider call to a loopback simulator) may have opened.
 */
#include "httpc.h"
#include "clock.h"
#include "log.h"
#include "../limits.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct httpc_job {
    struct httpc_job *next;
    struct httpc_job *rprev, *rnext; /* running list (owned by the httpc thread) */
    CURL *easy;
    struct curl_slist *hdrs;
    char *body_copy;
    httpc_resp resp;
    bool toobig;
    bool refused; /* the guard refused the address curl was about to use */
    int64_t t0_ms;
    httpc_cb cb;
    void *ctx;
} httpc_job;

static pthread_once_t httpc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t httpc_mu = PTHREAD_MUTEX_INITIALIZER;
static httpc_job *httpc_pending; /* submitted, not yet added to the multi */
static size_t httpc_npending;    /* pending + running jobs */
static CURLM *httpc_multi;
static httpc_job *httpc_active; /* transfers in the multi handle (httpc thread only) */
static pthread_t httpc_thread;
static pthread_t httpc_thread_id;
static bool httpc_running;
static bool httpc_stop;
static k_status httpc_init_status = K_ERR;
static atomic_bool httpc_loopback_ok;

void httpc_allow_loopback(bool on)
{
    atomic_store(&httpc_loopback_ok, on);
}

bool httpc_loopback_allowed(void)
{
    return atomic_load(&httpc_loopback_ok);
}

/* IPv4 ranges that are not global unicast (IANA special-purpose registry). */
static const struct {
    uint32_t net;
    int bits;
} httpc_v4_denied[] = {
    {0x00000000u, 8},  /* 0/8 "this network" (0.0.0.0 reaches the local host) */
    {0x0A000000u, 8},  /* 10/8 private */
    {0x64400000u, 10}, /* 100.64/10 carrier-grade NAT */
    {0xA9FE0000u, 16}, /* 169.254/16 link-local (cloud metadata) */
    {0xAC100000u, 12}, /* 172.16/12 private */
    {0xC0000000u, 24}, /* 192.0.0/24 IETF protocol assignments */
    {0xC0000200u, 24}, /* 192.0.2/24 documentation */
    {0xC0586300u, 24}, /* 192.88.99/24 6to4 relay anycast */
    {0xC0A80000u, 16}, /* 192.168/16 private */
    {0xC6120000u, 15}, /* 198.18/15 benchmarking */
    {0xC6336400u, 24}, /* 198.51.100/24 documentation */
    {0xCB007100u, 24}, /* 203.0.113/24 documentation */
    {0xE0000000u, 4},  /* 224/4 multicast */
    {0xF0000000u, 4},  /* 240/4 reserved, 255.255.255.255 broadcast */
};

static bool httpc_v4_public(const uint8_t b[4])
{
    uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (b[0] == 127)
        return httpc_loopback_allowed();
    for (size_t i = 0; i < K_ARRAY_LEN(httpc_v4_denied); i++) {
        uint32_t mask = 0xFFFFFFFFu << (32 - httpc_v4_denied[i].bits);
        if ((a & mask) == httpc_v4_denied[i].net)
            return false;
    }
    return true;
}

static bool httpc_v6_public(const uint8_t b[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[15] = {0};
    if (memcmp(b, zero, 15) == 0)
        return b[15] == 1 && httpc_loopback_allowed(); /* ::1 loopback, :: unspecified */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return httpc_v4_public(b + 12); /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d */
    if (b[0] == 0x20 && b[1] == 0x02)
        return httpc_v4_public(b + 2); /* 2002::/16 6to4 carries its IPv4 router */
    if ((b[0] & 0xE0) != 0x20)
        return false; /* outside 2000::/3: ::/8 (v4-compatible), fc00::/7, fe80::/10, ff00::/8 */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02)
        return false; /* 2001::/23 IETF assignments: Teredo, benchmarking, ORCHID */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return false; /* 2001:db8::/32 documentation */
    if (b[0] == 0x3f && b[1] == 0xff && b[2] < 0x10)
        return false; /* 3fff::/20 documentation */
    return true;
}

bool httpc_addr_public(const struct sockaddr *sa)
{
    K_ASSERT(sa != NULL);
    if (sa->sa_family == AF_INET)
        return httpc_v4_public(
            (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return httpc_v6_public(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return false; /* AF_UNIX and the rest are never a merchant's */
}

/* The IP text curl reports (conn_primary_ip) as a sockaddr; false when it is not one. */
static bool httpc_ip_parse(const char *ip, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static void httpc_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (inet_ntop(sa->sa_family, a, out, (socklen_t)cap) == NULL)
        snprintf(out, cap, "?");
}

/* Before connect(): curl hands over each address it resolved for the host. */
static curl_socket_t httpc_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    httpc_job *job = ud;
    if (purpose != CURLSOCKTYPE_IPCXN || !httpc_addr_public(&addr->addr)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (addr->family == AF_INET || addr->family == AF_INET6)
            httpc_addr_text(&addr->addr, ip, sizeof(ip));
        log_info("httpc: refused to connect to non-public address '%s'", ip);
        job->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Before the request is sent, on a new or a reused connection. */
static int httpc_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port,
                        int local_port)
{
    httpc_job *job = ud;
    struct sockaddr_storage ss;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    if (httpc_ip_parse(primary_ip, &ss) && httpc_addr_public((const struct sockaddr *)&ss))
        return CURL_PREREQFUNC_OK;
    log_info("httpc: refused a connection to non-public address '%s'", primary_ip);
    job->refused = true;
    return CURL_PREREQFUNC_ABORT;
}

static size_t httpc_on_body(char *p, size_t size, size_t n, void *ud)
{
    httpc_job *job = ud;
    size_t len = size * n;
    if (buf_append(&job->resp.body, p, len) != K_OK) {
        job->toobig = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t httpc_on_header(char *p, size_t size, size_t n, void *ud)
{
    httpc_job *job = ud;
    size_t len = size * n;
    /* A new status line (after 100 Continue, say) starts a new header block:
     * keep only the final answer's headers. */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        buf_reset(&job->resp.headers);
    if (buf_append(&job->resp.headers, p, len) != K_OK)
        return 0;
    return len;
}

static void httpc_job_free(httpc_job *job)
{
    if (job->easy)
        curl_easy_cleanup(job->easy);
    curl_slist_free_all(job->hdrs);
    free(job->body_copy);
    httpc_resp_free(&job->resp);
    free(job);
}

static k_status httpc_job_setup(httpc_job *job, const httpc_req *req)
{
    CURL *e = curl_easy_init();
    if (!e)
        return K_ENOMEM;
    job->easy = e;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : LIMIT_PROVIDER_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, httpc_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, job);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    if (req->public_only) {
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, httpc_open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, job);
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, httpc_prereq);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, job);
        curl_easy_setopt(e, CURLOPT_PROXY, ""); /* a proxy's address would escape the guard */
    }
    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
            size_t n = req->body ? req->body_len : 0;
            job->body_copy = malloc(n + 1);
            if (!job->body_copy)
                return K_ENOMEM;
            if (n)
                memcpy(job->body_copy, req->body, n);
            job->body_copy[n] = '\0';
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->body_copy);
        }
    }
    job->hdrs = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; i < HTTPC_HEADERS_MAX && req->headers[i]; i++) {
        struct curl_slist *h = curl_slist_append(job->hdrs, req->headers[i]);
        if (!h)
            return K_ENOMEM;
        job->hdrs = h;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->hdrs);
    return K_OK;
}

/* Ends one transfer: fills status/latency/error and runs the callback. */
static void httpc_job_finish(httpc_job *job, CURLcode rc)
{
    k_status st = K_OK;
    job->resp.latency_ms = clock_mono_ms() - job->t0_ms;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &job->resp.status);
    } else {
        job->resp.status = 0;
        if (job->refused) {
            st = K_EINVAL;
            snprintf(job->resp.error, sizeof(job->resp.error),
                     "refused: the URL's host is not a public address");
        } else if (job->toobig) {
            st = K_ETOOBIG;
            snprintf(job->resp.error, sizeof(job->resp.error), "answer larger than %zu bytes",
                     job->resp.body.max);
        } else {
            st = rc == CURLE_OPERATION_TIMEDOUT ? K_ETIMEOUT : K_EIO;
            snprintf(job->resp.error, sizeof(job->resp.error), "%s", curl_easy_strerror(rc));
        }
    }
    job->cb(job->ctx, st, &job->resp);
    httpc_job_free(job);
    pthread_mutex_lock(&httpc_mu);
    K_ASSERT(httpc_npending > 0);
    httpc_npending--;
    pthread_mutex_unlock(&httpc_mu);
}

/* Moves submitted jobs into the multi handle. */
static void httpc_take_pending(void)
{
    pthread_mutex_lock(&httpc_mu);
    httpc_job *list = httpc_pending;
    httpc_pending = NULL;
    pthread_mutex_unlock(&httpc_mu);
    /* The list is LIFO; reverse it so transfers start in submission order. */
    httpc_job *rev = NULL;
    while (list) {
        httpc_job *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    for (httpc_job *j = rev; j;) {
        httpc_job *next = j->next;
        j->next = NULL;
        j->t0_ms = clock_mono_ms();
        if (curl_multi_add_handle(httpc_multi, j->easy) != CURLM_OK) {
            httpc_job_finish(j, CURLE_FAILED_INIT);
        } else {
            j->rnext = httpc_active;
            if (httpc_active)
                httpc_active->rprev = j;
            httpc_active = j;
        }
        j = next;
    }
}

static void httpc_unlink(httpc_job *job)
{
    if (job->rprev)
        job->rprev->rnext = job->rnext;
    else
        httpc_active = job->rnext;
    if (job->rnext)
        job->rnext->rprev = job->rprev;
    job->rprev = job->rnext = NULL;
}

static void httpc_reap(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(httpc_multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        httpc_job *job = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&job);
        K_ASSERT(job != NULL);
        curl_multi_remove_handle(httpc_multi, e);
        httpc_unlink(job);
        httpc_job_finish(job, rc);
    }
}

static void *httpc_main(void *arg)
{
    pthread_setname_np(pthread_self(), "httpc"); /* top -H, perf */
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&httpc_mu);
        bool stop = httpc_stop;
        pthread_mutex_unlock(&httpc_mu);
        if (stop)
            break;
        httpc_take_pending();
        int running = 0;
        curl_multi_perform(httpc_multi, &running);
        httpc_reap();
        curl_multi_poll(httpc_multi, NULL, 0, 1000, NULL);
    }
    /* Shutdown: every job still here ends with K_EIO. */
    httpc_take_pending();
    while (httpc_active) {
        httpc_job *job = httpc_active;
        curl_multi_remove_handle(httpc_multi, job->easy);
        httpc_unlink(job);
        httpc_job_finish(job, CURLE_ABORTED_BY_CALLBACK);
    }
    return NULL;
}

static void httpc_init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return;
    httpc_multi = curl_multi_init();
    if (!httpc_multi)
        return;
    curl_multi_setopt(httpc_multi, CURLMOPT_MAXCONNECTS, (long)LIMIT_HTTPC_CONNECTIONS_MAX);
    if (pthread_create(&httpc_thread, NULL, httpc_main, NULL) != 0)
        return;
    httpc_thread_id = httpc_thread;
    httpc_running = true;
    httpc_init_status = K_OK;
}

/* Test seam (httpc_set_transport): NULL in the server. */
static _Atomic(httpc_transport_fn) httpc_transport;
static void *_Atomic httpc_transport_ctx;

void httpc_set_transport(httpc_transport_fn fn, void *ctx)
{
    atomic_store(&httpc_transport_ctx, ctx);
    atomic_store(&httpc_transport, fn);
}

/* The transport answers on the caller's thread, before httpc_submit returns. */
static k_status httpc_submit_fake(httpc_transport_fn fn, const httpc_req *req, httpc_cb cb,
                                  void *ctx)
{
    httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    buf_init(&resp.body, req->body_max ? req->body_max : LIMIT_PROVIDER_BODY_MAX);
    buf_init(&resp.headers, LIMIT_HTTP_HEADER_MAX);
    k_status st = fn(atomic_load(&httpc_transport_ctx), req, &resp);
    if (st != K_OK && resp.error[0] == '\0')
        snprintf(resp.error, sizeof(resp.error), "%s", k_status_str(st));
    cb(ctx, st, &resp);
    httpc_resp_free(&resp);
    return K_OK;
}

k_status httpc_init(void)
{
    if (atomic_load(&httpc_transport) != NULL)
        return K_OK; /* no thread: the transport answers in place */
    pthread_once(&httpc_once, httpc_init_once);
    return httpc_init_status;
}

void httpc_shutdown(void)
{
    pthread_mutex_lock(&httpc_mu);
    bool running = httpc_running;
    httpc_stop = true;
    httpc_running = false;
    pthread_mutex_unlock(&httpc_mu);
    if (!running)
        return;
    curl_multi_wakeup(httpc_multi);
    pthread_join(httpc_thread, NULL);
    curl_multi_cleanup(httpc_multi);
    httpc_multi = NULL;
}

k_status httpc_submit(const httpc_req *req, httpc_cb cb, void *ctx)
{
    K_ASSERT(req != NULL && req->url != NULL);
    K_ASSERT(cb != NULL);
    httpc_transport_fn fake = atomic_load(&httpc_transport);
    if (fake != NULL)
        return httpc_submit_fake(fake, req, cb, ctx);
    k_status st = httpc_init();
    if (st != K_OK)
        return st;
    httpc_job *job = calloc(1, sizeof(*job));
    if (!job)
        return K_ENOMEM;
    buf_init(&job->resp.body, req->body_max ? req->body_max : LIMIT_PROVIDER_BODY_MAX);
    buf_init(&job->resp.headers, LIMIT_HTTP_HEADER_MAX);
    job->cb = cb;
    job->ctx = ctx;
    st = httpc_job_setup(job, req);
    if (st != K_OK) {
        httpc_job_free(job);
        return st;
    }
    pthread_mutex_lock(&httpc_mu);
    if (httpc_stop || httpc_npending >= LIMIT_HTTPC_PENDING_MAX) {
        st = httpc_stop ? K_EIO : K_EBUSY;
    } else {
        job->next = httpc_pending;
        httpc_pending = job;
        httpc_npending++;
    }
    pthread_mutex_unlock(&httpc_mu);
    if (st != K_OK) {
        httpc_job_free(job);
        return st;
    }
    curl_multi_wakeup(httpc_multi);
    return K_OK;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    k_status st;
    httpc_resp *out;
} httpc_wait;

/* Moves the answer into the waiting caller's httpc_resp. */
static void httpc_do_cb(void *ctx, k_status st, httpc_resp *resp)
{
    httpc_wait *w = ctx;
    pthread_mutex_lock(&w->mu);
    *w->out = *resp;
    memset(&resp->body, 0, sizeof(resp->body));
    memset(&resp->headers, 0, sizeof(resp->headers));
    w->st = st;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

k_status httpc_do(const httpc_req *req, httpc_resp *resp)
{
    K_ASSERT(resp != NULL);
    memset(resp, 0, sizeof(*resp));
    k_status st = httpc_init();
    if (st != K_OK)
        return st;
    /* Waiting on the httpc thread itself would never end. */
    K_ASSERT(!pthread_equal(pthread_self(), httpc_thread_id));
    httpc_wait w = {.done = false, .st = K_ERR, .out = resp};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    st = httpc_submit(req, httpc_do_cb, &w);
    if (st == K_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        st = w.st;
        pthread_mutex_unlock(&w.mu);
    } else {
        snprintf(resp->error, sizeof(resp->error), "%s", k_status_str(st));
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return st;
}

bool httpc_resp_header(const httpc_resp *resp, const char *name, char *out, size_t cap)
{
    K_ASSERT(name != NULL && out != NULL && cap > 0);
    const char *p = resp->headers.data;
    size_t nlen = strlen(name);
    if (!p)
        return false;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
        if (linelen > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            const char *end = p + linelen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
            size_t vlen = (size_t)(end - v);
            if (vlen >= cap)
                return false;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    return false;
}

void httpc_resp_free(httpc_resp *resp)
{
    if (!resp)
        return;
    buf_free(&resp->body);
    buf_free(&resp->headers);
}

/* "localhost" and names under it (RFC 6761), with or without the final dot. */
static bool httpc_is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
        return true;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

/* The host curl will use (IPv4 already normalised by curl's URL parser). */
static k_status httpc_host_check(const char *host, char *why, size_t cap)
{
    char lit[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    struct sockaddr_storage ss;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(lit)) {
        memcpy(lit, host + 1, n - 2);
        lit[n - 2] = '\0';
    } else {
        snprintf(lit, sizeof(lit), "%s", n < sizeof(lit) ? host : "");
    }
    if (httpc_ip_parse(lit, &ss)) {
        if (httpc_addr_public((const struct sockaddr *)&ss))
            return K_OK;
        snprintf(why, cap, "The URL's host %s is not a public address.", lit);
        return K_EINVAL;
    }
    if (httpc_is_localhost(host) && !httpc_loopback_allowed()) {
        snprintf(why, cap, "The URL's host must not be localhost.");
        return K_EINVAL;
    }
    return K_OK;
}

/* The text between "http(s)://" and the path, as the merchant wrote it; 0 when
 * the URL does not start that way. curl is more lenient: it reads "http:///x"
 * as host "x" and "https:/h" as host "h" (found by fuzz_url). */
static size_t httpc_authority(const char *url, const char **start)
{
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    *start = url + skip;
    return skip > 0 ? strcspn(*start, "/?#") : 0;
}

/* '@' in the authority: userinfo, however curl would split it. */
static bool httpc_authority_has_at(const char *url)
{
    const char *a;
    size_t n = httpc_authority(url, &a);
    return memchr(a, '@', n) != NULL;
}

static k_status httpc_url_parts(CURLU *u, const char *url, char *why, size_t cap)
{
    char *scheme = NULL, *host = NULL, *user = NULL, *zone = NULL;
    const char *authority;
    k_status st = K_EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(why, cap, "The URL is not a valid absolute http:// or https:// URL.");
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(why, cap, "The URL must start with http:// or https://.");
    } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
               httpc_authority_has_at(url)) {
        snprintf(why, cap, "The URL must not contain a user name or password.");
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
               httpc_authority(url, &authority) == 0) {
        snprintf(why, cap, "The URL must name a host.");
    } else if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
        snprintf(why, cap, "The URL must not carry an IPv6 zone id.");
    } else {
        st = httpc_host_check(host, why, cap);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(zone);
    return st;
}

k_status httpc_url_check(const char *url, char *why, size_t cap)
{
    K_ASSERT(why != NULL);
    K_ASSERT(cap > 0);
    why[0] = '\0';
    if (url == NULL || strlen(url) > LIMIT_URL_MAX) {
        snprintf(why, cap, "The URL must be at most %d characters.", LIMIT_URL_MAX);
        return K_EINVAL;
    }
    CURLU *u = curl_url();
    if (u == NULL)
        return K_ENOMEM;
    k_status st = httpc_url_parts(u, url, why, cap);
    curl_url_cleanup(u);
    return st;
}
