/*
 * httpc.c - Kassa's HTTP client (see httpc.h): one thread owns a curl multi
 * handle and drives every transfer; callers hand jobs over through a
 * mutex-protected submission list and wake the thread with curl_multi_wakeup.
 *
 * The multi handle's connection cache keeps connections alive between
 * transfers to the same host. Redirects are never followed (for webhooks a 3xx
 * is a failure). Answers past body_max abort the transfer with K_ETOOBIG.
 */
#include "httpc.h"
#include "clock.h"
#include "../limits.h"

#include <curl/curl.h>
#include <pthread.h>
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
        if (job->toobig) {
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

k_status httpc_init(void)
{
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
