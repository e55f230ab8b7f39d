/* flow.c - load driver for the multi-step benchmark scenarios (bench/README.md):
 *   S4  the whole Klarna Pay Now flow as a shop's server and its customer's browser make it:
 *       create, confirm, every page of the simulator (bank, login, account, TAN, following
 *       each 303 like a browser), the return through Kassa to the shop's return_url; a flow
 *       is complete when this program's webhook receiver has the signed
 *       payment_intent.succeeded event for it.
 *   S5  capture and refund: first a pool of manual-capture payments is brought to
 *       requires_capture by the S4 flow, then each is captured and refunded in full. The
 *       pool holds at most --pool payments (30000): the simulator keeps its newest 32768
 *       orders (LIMIT_SIM_OBJECTS_MAX), and capturing an evicted one fails with "Order not
 *       found".
 *   seed  --count N creates exactly as S1 does (many at once), writing every --stride-th
 *       id to --ids-out: the stored payments S1-S3 are measured against.
 *   clone --count N more stored payments, fast: copies the rows the API wrote for one payment
 *       made by seed, with fresh ids, straight into Kassa's SQLite file (see "clone" below).
 * wrk's Lua cannot follow one flow across several requests on one connection, so this is a
 * small C program: libcurl's multi interface runs N flows at once in one thread (keep-alive
 * connections, redirects followed as a browser does), libmicrohttpd serves the merchant's
 * webhook receiver and return page, and the Stripe-Signature of every webhook is verified.
 * Prints one line `BENCH {json}` with the figures; exits 1 when a flow failed or a webhook
 * is missing. Loops and waits are bounded by --duration and --drain. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define FLOWS_MAX     256
#define BODY_MAX      (1 << 20) /* a page or an answer bigger than this is an error */
#define STEPS_MAX     12        /* simulator pages per flow before giving up */
#define TABLE_BITS    20        /* payments tracked by id: 1M slots */
#define SAMPLES_MAX   (1 << 22)
#define HOOK_BODY_MAX (256 * 1024)
#define ID_MAX        64
#define POOL_MAX      (1 << 20)

enum phase { P_CREATE, P_CONFIRM, P_PAGE, P_STEP, P_CAPTURE, P_REFUND };

typedef struct {
    CURL *h;
    enum phase phase;
    char id[ID_MAX];
    char *body;
    size_t len, cap;
    int steps;
    double t0;    /* flow start, seconds */
    int requests; /* HTTP requests the flow made (incl. followed redirects) */
    char *postdata;
    struct curl_slist *hdr;
    bool busy;
} flow;

typedef struct {
    char id[ID_MAX];
    uint8_t returned, hooked, done;
    double t0;
} slot;

static struct {
    const char *url, *key, *mode, *ids_out;
    int flows;
    long count, stride, pool_max;
    FILE *ids;
    double duration, drain, prepare;
    int hook_port;
    char secret[128];
    char return_url[128];
    /* shared with the webhook thread, under mu */
    pthread_mutex_t mu;
    slot *table;
    double *lat;
    size_t nlat;
    long completed, completed_in_window, hooks, hooks_bad, hooks_dup;
    double window_end;
    double t_start, t_last_done;
    /* main thread only */
    long started, returned, failed, http_requests;
    char (*pool)[ID_MAX];
    size_t npool, pool_next;
    char last_error[512];
} G;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Finds or inserts id (caller holds mu). NULL when the table is full. */
static slot *table_get(const char *id)
{
    size_t mask = ((size_t)1 << TABLE_BITS) - 1;
    for (size_t i = hash_id(id) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
        slot *s = &G.table[i];
        if (s->id[0] == '\0') {
            snprintf(s->id, sizeof(s->id), "%s", id);
            return s;
        }
        if (strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

/* Counts a flow complete once it has returned and its webhook arrived (caller holds mu). */
static void maybe_complete(slot *s)
{
    if (s->done || !s->returned || !s->hooked)
        return;
    s->done = 1;
    double t = now_s();
    G.completed++;
    if (t <= G.window_end)
        G.completed_in_window++;
    G.t_last_done = t;
    if (G.nlat < SAMPLES_MAX)
        G.lat[G.nlat++] = t - s->t0;
}

static void fail(flow *f, const char *what)
{
    G.failed++;
    snprintf(G.last_error, sizeof(G.last_error), "%s %s: %.300s", f->id, what,
             f->body != NULL ? f->body : "");
}

/* ---- webhook receiver and return page (libmicrohttpd thread) ---- */

typedef struct {
    char *buf;
    size_t len;
    bool toobig;
} hook_req;

static bool signature_ok(const char *header, const char *body, size_t len)
{
    if (header == NULL || G.secret[0] == '\0')
        return false;
    const char *t = strstr(header, "t=");
    const char *v = strstr(header, "v1=");
    if (t == NULL || v == NULL)
        return false;
    const char *tend = strchr(t, ',');
    size_t tlen = tend != NULL ? (size_t)(tend - t - 2) : strlen(t + 2);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t mlen = tlen + 1 + len;
    char *msg = malloc(mlen);
    if (msg == NULL)
        return false;
    memcpy(msg, t + 2, tlen);
    msg[tlen] = '.';
    memcpy(msg + tlen + 1, body, len);
    HMAC(EVP_sha256(), G.secret, (int)strlen(G.secret), (unsigned char *)msg, mlen, mac, &maclen);
    free(msg);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < maclen; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return strncmp(v + 3, hex, 2 * maclen) == 0;
}

static void on_hook(const char *body, size_t len, const char *sig)
{
    bool ok = signature_ok(sig, body, len);
    json_t *ev = ok ? json_loadb(body, len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *id = json_string_value(
        json_object_get(json_object_get(json_object_get(ev, "data"), "object"), "id"));
    pthread_mutex_lock(&G.mu);
    if (ev == NULL || type == NULL || id == NULL) {
        G.hooks_bad++;
    } else if (strcmp(type, "payment_intent.succeeded") == 0 ||
               strcmp(type, "payment_intent.amount_capturable_updated") == 0) {
        G.hooks++;
        slot *s = table_get(id);
        if (s != NULL && s->hooked)
            G.hooks_dup++;
        if (s != NULL) {
            s->hooked = 1;
            maybe_complete(s);
        }
    }
    pthread_mutex_unlock(&G.mu);
    json_decref(ev);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result hook_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **ctx)
{
    (void)cls;
    (void)version;
    if (strcmp(method, "POST") != 0)
        return answer(c, 200, "<!doctype html><title>Thanks</title><p>Thank you.</p>");
    hook_req *hr = *ctx;
    if (hr == NULL) {
        hr = calloc(1, sizeof(*hr));
        if (hr == NULL)
            return MHD_NO;
        *ctx = hr;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (hr->len + *upload_size > HOOK_BODY_MAX) {
            hr->toobig = true;
        } else {
            char *nb = realloc(hr->buf, hr->len + *upload_size + 1);
            if (nb == NULL)
                return MHD_NO;
            hr->buf = nb;
            memcpy(hr->buf + hr->len, upload, *upload_size);
            hr->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/hook") != 0 || hr->toobig || hr->buf == NULL)
        return answer(c, 400, "bad");
    on_hook(hr->buf, hr->len, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Stripe-Signature"));
    return answer(c, 200, "{\"received\":true}");
}

static void hook_done(void *cls, struct MHD_Connection *c, void **ctx,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    hook_req *hr = *ctx;
    if (hr != NULL) {
        free(hr->buf);
        free(hr);
    }
    *ctx = NULL;
}

/* ---- flows (main thread, curl multi) ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    flow *f = arg;
    size_t len = size * n;
    if (f->len + len + 1 > BODY_MAX)
        return 0;
    if (f->len + len + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + len + 1)
            cap *= 2;
        char *nb = realloc(f->body, cap);
        if (nb == NULL)
            return 0;
        f->body = nb;
        f->cap = cap;
    }
    memcpy(f->body + f->len, p, len);
    f->len += len;
    f->body[f->len] = '\0';
    return len;
}

/* Sets up the next request of f; post == NULL means GET. api: with the secret key. */
static void request(CURLM *m, flow *f, const char *url, const char *post, bool api)
{
    CURL *h = f->h;
    f->len = 0;
    if (f->body != NULL)
        f->body[0] = '\0';
    curl_slist_free_all(f->hdr);
    f->hdr = NULL;
    if (api) {
        char auth[256], idem[128];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", G.key);
        f->hdr = curl_slist_append(f->hdr, auth);
        if (post != NULL) { /* stripe-node sends one on every POST */
            static unsigned long seq;
            snprintf(idem, sizeof(idem), "Idempotency-Key: bench-%ld-%lu-%d", (long)G.t_start,
                     ++seq, rand());
            f->hdr = curl_slist_append(f->hdr, idem);
        }
    }
    f->hdr = curl_slist_append(f->hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, f->hdr);
    if (post != NULL) {
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, post);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_multi_add_handle(m, h);
    f->busy = true;
}

static char *json_id_field(flow *f, const char *k1, const char *k2, const char *k3)
{
    json_t *j = json_loads(f->body != NULL ? f->body : "", 0, NULL);
    json_t *v = json_object_get(j, k1);
    if (k2 != NULL)
        v = json_object_get(v, k2);
    if (k3 != NULL)
        v = json_object_get(v, k3);
    char *out = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    json_decref(j);
    return out;
}

/* The value of attribute `name="..."` after position p in html, HTML-unescaped; NULL if none. */
static char *attr_after(const char *p, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "%s=\"", name);
    const char *s = strstr(p, key);
    if (s == NULL)
        return NULL;
    s += strlen(key);
    const char *e = strchr(s, '"');
    if (e == NULL)
        return NULL;
    char *out = malloc((size_t)(e - s) + 1);
    size_t n = 0;
    for (const char *q = s; q < e; q++) {
        if (strncmp(q, "&amp;", 5) == 0) {
            out[n++] = '&';
            q += 4;
        } else {
            out[n++] = *q;
        }
    }
    out[n] = '\0';
    return out;
}

static bool start_flow(CURLM *m, flow *f)
{
    if (G.count > 0 && G.started >= G.count)
        return false;
    memset(f->id, 0, sizeof(f->id));
    f->phase = P_CREATE;
    f->steps = 0;
    f->requests = 0;
    f->t0 = now_s();
    G.started++;
    const char *manual = strcmp(G.mode, "s5") == 0 ? "&capture_method=manual" : "";
    char post[256];
    snprintf(post, sizeof(post),
             "amount=2500&currency=eur&payment_method_types[0]=klarna"
             "&description=Order%%20%%2342&metadata[order_id]=42%s",
             manual);
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/payment_intents", G.url);
    request(m, f, url, post, true);
    return true;
}

/* Answers the simulator page in f->body: posts the current step's form. */
static bool post_step(CURLM *m, flow *f)
{
    const char *form = strstr(f->body, "<form");
    char *action = form != NULL ? attr_after(form, "action") : NULL;
    const char *st = form != NULL ? strstr(form, "name=\"step\"") : NULL;
    char *step = st != NULL ? attr_after(st, "value") : NULL;
    bool ok = action != NULL && step != NULL && ++f->steps <= STEPS_MAX;
    char post[512] = "";
    if (ok && strcmp(step, "method") == 0) {
        snprintf(post, sizeof(post), "step=method&action=next&category=pay_now");
    } else if (ok && strcmp(step, "bank") == 0) {
        snprintf(post, sizeof(post), "step=bank&action=next&bank=de");
    } else if (ok && strcmp(step, "login") == 0) {
        snprintf(post, sizeof(post), "step=login&action=next&username=demo&pin=1234");
    } else if (ok && strcmp(step, "tan") == 0) {
        snprintf(post, sizeof(post), "step=tan&action=next&tan=12345");
    } else if (ok && strcmp(step, "account") == 0) {
        const char *r = strstr(form, "name=\"account\"");
        char *acct = r != NULL ? attr_after(r, "value") : NULL;
        char *esc = acct != NULL ? curl_easy_escape(f->h, acct, 0) : NULL;
        ok = esc != NULL;
        if (ok)
            snprintf(post, sizeof(post), "step=account&action=next&account=%s", esc);
        curl_free(esc);
        free(acct);
    } else {
        ok = false;
    }
    if (ok)
        request(m, f, action, post, false);
    free(action);
    free(step);
    return ok;
}

static void flow_returned(flow *f, double t)
{
    G.returned++;
    pthread_mutex_lock(&G.mu);
    slot *s = table_get(f->id);
    if (s != NULL) {
        s->t0 = f->t0;
        s->returned = 1;
        maybe_complete(s);
    }
    pthread_mutex_unlock(&G.mu);
    (void)t;
}

/* S5 measured phase: capture then refund one prepared payment. */
static bool start_capture(CURLM *m, flow *f)
{
    if (G.pool_next >= G.npool)
        return false;
    snprintf(f->id, sizeof(f->id), "%s", G.pool[G.pool_next++]);
    f->phase = P_CAPTURE;
    f->t0 = now_s();
    f->requests = 0;
    G.started++;
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/payment_intents/%s/capture", G.url, f->id);
    request(m, f, url, "", true);
    return true;
}

static bool status_is(flow *f, const char *want)
{
    char *s = json_id_field(f, "status", NULL, NULL);
    bool ok = s != NULL && strcmp(s, want) == 0;
    free(s);
    return ok;
}

/* One request of f finished; returns false when the flow ended (done or failed). */
static bool advance(CURLM *m, flow *f, long code, const char *eff)
{
    char url[512];
    f->requests++;
    switch (f->phase) {
    case P_CREATE: {
        char *id = code == 200 ? json_id_field(f, "id", NULL, NULL) : NULL;
        if (id == NULL)
            return fail(f, "create"), false;
        snprintf(f->id, sizeof(f->id), "%s", id);
        free(id);
        if (G.ids != NULL) { /* seeding: done */
            G.completed++;
            if (G.completed % G.stride == 0)
                fprintf(G.ids, "%s\n", f->id);
            return false;
        }
        f->phase = P_CONFIRM;
        snprintf(url, sizeof(url), "%s/v1/payment_intents/%s/confirm", G.url, f->id);
        char post[512];
        snprintf(post, sizeof(post),
                 "payment_method_data[type]=klarna"
                 "&payment_method_data[billing_details][email]=customer%%40email.de"
                 "&payment_method_data[billing_details][address][country]=DE&return_url=%s",
                 G.return_url);
        request(m, f, url, post, true);
        return true;
    }
    case P_CONFIRM: {
        char *to = code == 200 ? json_id_field(f, "next_action", "redirect_to_url", "url") : NULL;
        if (to == NULL)
            return fail(f, "confirm"), false;
        f->phase = P_PAGE;
        request(m, f, to, NULL, false);
        free(to);
        return true;
    }
    case P_PAGE:
    case P_STEP:
        if (code == 200 && eff != NULL && strncmp(eff, G.return_url, strlen(G.return_url)) == 0) {
            if (strstr(eff, "redirect_status=succeeded") == NULL)
                return fail(f, "return not succeeded"), false;
            flow_returned(f, now_s());
            if (strcmp(G.mode, "s5") == 0 && G.npool < POOL_MAX)
                snprintf(G.pool[G.npool++], ID_MAX, "%s", f->id);
            return false;
        }
        if (code != 200 || !post_step(m, f))
            return fail(f, "simulator page"), false;
        f->phase = P_STEP;
        return true;
    case P_CAPTURE:
        if (code != 200 || !status_is(f, "succeeded"))
            return fail(f, "capture"), false;
        f->phase = P_REFUND;
        snprintf(url, sizeof(url), "%s/v1/refunds", G.url);
        char post[128];
        snprintf(post, sizeof(post), "payment_intent=%s", f->id);
        request(m, f, url, post, true);
        return true;
    case P_REFUND:
        if (code != 200 || !status_is(f, "succeeded"))
            return fail(f, "refund"), false;
        pthread_mutex_lock(&G.mu);
        double t = now_s();
        G.completed++;
        if (t <= G.window_end)
            G.completed_in_window++;
        G.t_last_done = t;
        if (G.nlat < SAMPLES_MAX)
            G.lat[G.nlat++] = t - f->t0;
        pthread_mutex_unlock(&G.mu);
        return false;
    }
    return false;
}

/* Runs flows until `until` (no new flow after it) and all in flight ended; capture: S5's
 * measured phase. */
static void run(CURLM *m, flow *fl, int n, double until, bool capture)
{
    int busy = 0;
    for (int i = 0; i < n; i++) {
        if (capture ? start_capture(m, &fl[i]) : start_flow(m, &fl[i]))
            busy++;
    }
    while (busy > 0) {
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            flow *f = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            CURLcode res = msg->data.result;
            long code = 0, redirects = 0;
            char *eff = NULL;
            curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(f->h, CURLINFO_REDIRECT_COUNT, &redirects);
            curl_easy_getinfo(f->h, CURLINFO_EFFECTIVE_URL, &eff);
            curl_multi_remove_handle(m, f->h);
            f->busy = false;
            G.http_requests += 1 + redirects;
            bool more;
            if (res != CURLE_OK) {
                snprintf(G.last_error, sizeof(G.last_error), "%s: curl: %s", f->id,
                         curl_easy_strerror(res));
                G.failed++;
                more = false;
            } else {
                more = advance(m, f, code, eff);
            }
            if (!more) {
                bool again = now_s() < until && (capture ? start_capture(m, f) : start_flow(m, f));
                if (!again)
                    busy--;
            }
        }
        if (busy > 0)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (G.nlat == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(G.nlat - 1) + 0.5);
    return G.lat[i] * 1e6;
}

/* Registers the webhook endpoint; keeps its secret for verification. */
static bool make_endpoint(const char *events)
{
    CURL *h = curl_easy_init();
    flow f = {.h = h};
    char url[256], post[512], auth[256];
    snprintf(url, sizeof(url), "%s/v1/webhook_endpoints", G.url);
    snprintf(post, sizeof(post), "url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fhook&%s", G.hook_port,
             events);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", G.key);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, post);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    CURLcode rc = curl_easy_perform(h);
    char *secret = rc == CURLE_OK ? json_id_field(&f, "secret", NULL, NULL) : NULL;
    if (secret != NULL)
        snprintf(G.secret, sizeof(G.secret), "%s", secret);
    else
        fprintf(stderr, "flow: creating the webhook endpoint failed: %s\n",
                f.body != NULL ? f.body : curl_easy_strerror(rc));
    free(secret);
    free(f.body);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return G.secret[0] != '\0';
}

/* ---- clone: stored payments by copying API-written rows (bench/README.md "Seeding") ----
 * Opens Kassa's SQLite file beside the running server (WAL; Kassa's writer waits at most one
 * transaction of --batch payments) and copies one template payment, created through the API,
 * --count times: its payment_intent row, every object whose parent it is (its event), its
 * journal rows (operations) and its idempotency record. Every id the template's rows hold is
 * minted afresh in Kassa's format (prefix + 7 base62 chars of the wall clock in ms + 17
 * random; the client secret is "<new pi>_secret_<fresh>"), inside the JSON bodies too; the
 * request id in the event is a new random "req_" one and the Idempotency-Key a new one;
 * timestamps move to now, keeping their offsets; seq is left to SQLite. A template row that
 * holds an id which is not the payment's own (nor the merchant's), a delivery of its event,
 * a child object with children of its own, or a table this code does not know, makes it
 * refuse: the copies must be what the API would have written. */

#define CL_ROWS_MAX  16
#define CL_KINDS_MAX 32
#define CL_SLOTS_MAX 64
#define CL_TAIL      24 /* base62 characters after an id's prefix */
#define CL_TIME      7  /* of which the wall clock in ms */

/* SL_ID: one of the payment's own ids (Kassa's id_new: time-ordered); SL_SECRET: its client
 * secret; SL_REQ: the id of the request that made it (http.c: "req_" + random characters,
 * one per request, so one per copy); SL_KEY: its Idempotency-Key (a new one per copy, as
 * flow --mode seed sends); SL_SEC, SL_MS: a timestamp. */
enum { SL_ID, SL_SECRET, SL_REQ, SL_KEY, SL_SEC, SL_MS };

typedef struct {
    int kind;
    char old[ID_MAX * 2]; /* SL_ID/SL_SECRET/SL_REQ: the template's id; else its number */
    size_t oldlen;
    char prefix[ID_MAX];  /* SL_ID, SL_REQ: e.g. "evt_" */
    size_t tail;          /* SL_REQ: random characters after it */
    long long told, tnew; /* SL_SEC/SL_MS */
    char val[ID_MAX * 2]; /* this copy's value */
    size_t vlen;
} cl_slot;

typedef struct {
    size_t off, len; /* literal: bytes of the template's text */
    int slot;        /* >= 0: the slot's value instead */
} cl_seg;

typedef struct {
    char name[64];
    int type;
    sqlite3_int64 i;
    int tslot; /* INTEGER timestamp: the slot with its new value; -1 when copied as is */
    double f;
    char *text; /* TEXT or BLOB */
    int tlen;
    cl_seg *segs;
    size_t nsegs;
    bool fresh_key; /* idempotency.key: a new key, as a new request would send */
    char *buf;
    size_t cap;
} cl_col;

typedef struct {
    char table[32];
    cl_col *cols;
    int ncols;
    sqlite3_stmt *ins;
} cl_row;

static struct {
    const char *db_path, *merchant, *template_id;
    long batch;
    sqlite3 *db;
    cl_row rows[CL_ROWS_MAX];
    int nrows;
    cl_slot slots[CL_SLOTS_MAX];
    int nslots, pi_slot, key_slot;
    long long base_s, base_ms;
    char err[512];
    uint8_t rnd[4096];
    size_t rpos, rlen;
} C;

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

__attribute__((format(printf, 1, 2))) static bool cl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(C.err, sizeof(C.err), fmt, ap);
    va_end(ap);
    return false;
}

/* A uniform base62 character from the kernel's CSPRNG (rejection sampling as src/base/ids.c). */
static char cl_rand62(void)
{
    for (;;) {
        if (C.rpos >= C.rlen) {
            size_t got = 0;
            while (got < sizeof(C.rnd)) {
                ssize_t n = getrandom(C.rnd + got, sizeof(C.rnd) - got, 0);
                if (n < 0 && errno != EINTR) {
                    perror("flow: getrandom");
                    exit(1);
                }
                got += n > 0 ? (size_t)n : 0;
            }
            C.rpos = 0;
            C.rlen = sizeof(C.rnd);
        }
        uint8_t b = C.rnd[C.rpos++];
        if (b < 248)
            return b62[b % 62];
    }
}

static uint32_t cl_rand31(void)
{
    uint32_t v = 0;
    for (int i = 0; i < 6; i++) /* 6 x 62 > 2^31 possibilities */
        v = v * 62 + (uint32_t)(strchr(b62, cl_rand62()) - b62);
    return v & 0x7fffffff;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends Kassa's id tail (id_new: 7 chars of the clock in ms, then 17 random) at out. */
static size_t cl_tail(char *out, long long ms)
{
    unsigned long long t = (unsigned long long)ms;
    for (int i = CL_TIME; i > 0; i--) {
        out[i - 1] = b62[t % 62];
        t /= 62;
    }
    for (int i = CL_TIME; i < CL_TAIL; i++)
        out[i] = cl_rand62();
    return CL_TAIL;
}

static bool is_b62(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

static int cl_find(int kind, const char *s, size_t n)
{
    for (int i = 0; i < C.nslots; i++) {
        if (C.slots[i].kind == kind && C.slots[i].oldlen == n && memcmp(C.slots[i].old, s, n) == 0)
            return i;
    }
    return -1;
}

static int cl_add(int kind, const char *s, size_t n)
{
    int i = cl_find(kind, s, n);
    if (i >= 0)
        return i;
    if (C.nslots == CL_SLOTS_MAX || n >= sizeof(C.slots[0].old))
        return -1;
    cl_slot *sl = &C.slots[C.nslots];
    memset(sl, 0, sizeof(*sl));
    sl->kind = kind;
    memcpy(sl->old, s, n);
    sl->oldlen = n;
    return C.nslots++;
}

/* A slot for one of the payment's own ids: prefix + 24 base62 characters. */
static bool cl_add_id(const char *id)
{
    size_t n = strlen(id);
    if (n <= CL_TAIL + 1 || id[n - CL_TAIL - 1] != '_' || !is_b62(id + n - CL_TAIL, CL_TAIL) ||
        n - CL_TAIL >= ID_MAX)
        return cl_fail("template id '%s' is not prefix + 24 base62 characters", id);
    int i = cl_add(SL_ID, id, n);
    if (i < 0)
        return cl_fail("too many ids in the template");
    memcpy(C.slots[i].prefix, id, n - CL_TAIL);
    C.slots[i].prefix[n - CL_TAIL] = '\0';
    return true;
}

static bool cl_add_time(int kind, long long v)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "%lld", v);
    int i = cl_add(kind, s, (size_t)n);
    if (i < 0)
        return cl_fail("too many timestamps in the template");
    C.slots[i].told = v;
    return true;
}

/* Reads the rows of `sql` (bound to up to three texts) into C.rows; returns how many. */
static int cl_load(const char *table, const char *sql, const char *a, const char *b, const char *c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(C.db, sql, -1, &st, NULL) != SQLITE_OK) {
        cl_fail("%s: %s", sql, sqlite3_errmsg(C.db));
        return -1;
    }
    const char *args[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (args[i] != NULL)
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
    }
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (C.nrows == CL_ROWS_MAX) {
            sqlite3_finalize(st);
            cl_fail("the template has too many rows");
            return -1;
        }
        cl_row *r = &C.rows[C.nrows++];
        snprintf(r->table, sizeof(r->table), "%s", table);
        r->ncols = sqlite3_column_count(st);
        r->cols = calloc((size_t)r->ncols, sizeof(cl_col));
        for (int k = 0; k < r->ncols; k++) {
            cl_col *col = &r->cols[k];
            snprintf(col->name, sizeof(col->name), "%s", sqlite3_column_name(st, k));
            col->type = sqlite3_column_type(st, k);
            col->tslot = -1;
            if (col->type == SQLITE_INTEGER) {
                col->i = sqlite3_column_int64(st, k);
            } else if (col->type == SQLITE_FLOAT) {
                col->f = sqlite3_column_double(st, k);
            } else if (col->type == SQLITE_TEXT || col->type == SQLITE_BLOB) {
                const void *p = col->type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, k)
                                                         : sqlite3_column_blob(st, k);
                col->tlen = sqlite3_column_bytes(st, k);
                col->text = malloc((size_t)col->tlen + 1);
                if (col->tlen > 0)
                    memcpy(col->text, p, (size_t)col->tlen);
                col->text[col->tlen] = '\0';
            }
        }
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cl_fail("reading %s: %s", table, sqlite3_errmsg(C.db));
        return -1;
    }
    return n;
}

static cl_col *cl_col_get(cl_row *r, const char *name)
{
    for (int k = 0; k < r->ncols; k++) {
        if (strcmp(r->cols[k].name, name) == 0)
            return &r->cols[k];
    }
    return NULL;
}

static const char *cl_text(cl_row *r, const char *name)
{
    cl_col *c = cl_col_get(r, name);
    return c != NULL && c->type == SQLITE_TEXT ? c->text : NULL;
}

/* The column SQLite numbers itself (INTEGER PRIMARY KEY: objects.seq, operations.seq). */
static bool cl_rowid_alias(const char *table, const char *col)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT name, type, pk FROM pragma_table_info('%s')", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(C.db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    int pks = 0;
    bool mine = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 2) > 0) {
            pks++;
            mine = strcmp((const char *)sqlite3_column_text(st, 0), col) == 0 &&
                   strcasecmp((const char *)sqlite3_column_text(st, 1), "INTEGER") == 0;
        }
    }
    sqlite3_finalize(st);
    return pks == 1 && mine;
}

static bool cl_seg_add(cl_col *col, size_t off, size_t len, int slot)
{
    if (slot < 0 && col->nsegs > 0 && col->segs[col->nsegs - 1].slot < 0 &&
        col->segs[col->nsegs - 1].off + col->segs[col->nsegs - 1].len == off) {
        col->segs[col->nsegs - 1].len += len;
        return true;
    }
    cl_seg *ns = realloc(col->segs, (col->nsegs + 1) * sizeof(cl_seg));
    if (ns == NULL)
        return false;
    col->segs = ns;
    col->segs[col->nsegs++] = (cl_seg){off, len, slot};
    return true;
}

/* An id as Kassa and Stripe write them: prefix, '_', then 12 or more base62 characters of
 * which at least one is a digit or a capital (words such as "requires_confirmation" are not). */
static bool cl_id_like(const char *w, size_t wl, size_t *tail)
{
    const char *us = memrchr(w, '_', wl);
    size_t n = us != NULL ? (size_t)(w + wl - us - 1) : 0;
    bool mixed = false;
    for (size_t k = wl - n; k < wl && !mixed; k++)
        mixed = (w[k] >= '0' && w[k] <= '9') || (w[k] >= 'A' && w[k] <= 'Z');
    *tail = n;
    return n >= 12 && mixed;
}

/* Splits a text value into literal bytes and the places where an id or a timestamp of the
 * template stands (whole words of [A-Za-z0-9_]); any other id but the merchant's makes it
 * refuse. */
static bool cl_split(cl_row *r, cl_col *col)
{
    const char *s = col->text;
    const char *pi = C.slots[C.pi_slot].old;
    size_t pilen = C.slots[C.pi_slot].oldlen;
    size_t n = (size_t)col->tlen, i = 0;
    const cl_slot *key = &C.slots[C.key_slot];
    while (i < n) {
        if (i > 0 && s[i - 1] == '"' && n - i > key->oldlen && s[i + key->oldlen] == '"' &&
            memcmp(s + i, key->old, key->oldlen) == 0) { /* "<the template's key>" */
            if (!cl_seg_add(col, i, key->oldlen, C.key_slot))
                return false;
            i += key->oldlen;
            continue;
        }
        size_t j = i;
        while (j < n && (s[j] == '_' || is_b62(s + j, 1)))
            j++;
        if (j == i) {
            if (!cl_seg_add(col, i, 1, -1))
                return false;
            i++;
            continue;
        }
        const char *w = s + i;
        size_t wl = j - i;
        int slot = -1;
        bool digits = true;
        for (size_t k = 0; k < wl && digits; k++)
            digits = w[k] >= '0' && w[k] <= '9';
        size_t tail = 0;
        if (digits) {
            slot = cl_find(SL_SEC, w, wl);
            if (slot < 0)
                slot = cl_find(SL_MS, w, wl);
        } else if (cl_id_like(w, wl, &tail) &&
                   !(wl == strlen(C.merchant) && memcmp(w, C.merchant, wl) == 0)) {
            slot = cl_find(SL_ID, w, wl);
            if (slot < 0 && wl == pilen + 8 + CL_TAIL && memcmp(w, pi, pilen) == 0 &&
                memcmp(w + pilen, "_secret_", 8) == 0 && is_b62(w + pilen + 8, CL_TAIL))
                slot = cl_add(SL_SECRET, w, wl);
            if (slot < 0 && wl > 4 && memcmp(w, "req_", 4) == 0 && tail == wl - 4 &&
                (slot = cl_add(SL_REQ, w, wl)) >= 0) {
                memcpy(C.slots[slot].prefix, "req_", 5);
                C.slots[slot].tail = tail;
            }
            if (slot < 0) {
                char word[128];
                snprintf(word, sizeof(word), "%.*s", (int)(wl < 100 ? wl : 100), w);
                char where[128];
                snprintf(where, sizeof(where), "%s.%s", r->table, col->name);
                return cl_fail("template row %s holds '%s', an id that is not the payment's own",
                               where, word);
            }
        }
        if (!cl_seg_add(col, i, wl, slot))
            return false;
        i = j;
    }
    return true;
}

static bool cl_known_tables(void)
{
    static const char *const known[] = {
        "schema_version", "merchants", "objects", "operations", "deliveries", "delivery_attempts",
        "idempotency", "sqlite_sequence",
        /* reports' and the back office's: nothing in them belongs to a payment */
        "report_jobs", "staff_users", "staff_sessions", "audit_log", "staff_views", "api_keys",
        "request_log",
        /* the payment's search terms: copied with it (cl_plan) */
        "payment_terms",

        /* analytics' sums: Kassa's own triggers keep it for every journal row copied here */
        "ledger_rollup"};
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(C.db,
                           "SELECT name FROM sqlite_master WHERE type = 'table'"
                           " AND name NOT LIKE 'sqlite_stat%'",
                           -1, &st, NULL) != SQLITE_OK)
        return cl_fail("listing tables: %s", sqlite3_errmsg(C.db));
    bool ok = true;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !found; i++)
            found = strcmp(known[i], t) == 0;
        if (!found)
            ok = cl_fail("the database has a table '%s' that flow --mode clone does not know: "
                         "teach it which of its rows the API writes for a payment",
                         t);
    }
    sqlite3_finalize(st);
    return ok;
}

/* count(*) of sql with ?1 the merchant, ?2 a, ?3 b (NULL: unbound); -1 on an error. */
static long long cl_count(const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(C.db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, C.merchant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, a, -1, SQLITE_TRANSIENT);
        if (b != NULL)
            sqlite3_bind_text(st, 3, b, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Loads the template payment's rows and plans every copy. */
static bool cl_plan(void)
{
    if (!cl_known_tables())
        return false;
    char first[ID_MAX] = "";
    if (C.template_id == NULL) { /* the merchant's oldest payment */
        if (cl_load("objects",
                    "SELECT * FROM objects WHERE merchant_id = ?1 AND kind = 'payment_intent'"
                    " ORDER BY seq LIMIT 1",
                    C.merchant, NULL, NULL) != 1)
            return C.err[0] ? false : cl_fail("merchant %s has no payment to clone", C.merchant);
        snprintf(first, sizeof(first), "%s", cl_text(&C.rows[0], "id"));
        C.template_id = first;
        for (int k = 0; k < C.rows[0].ncols; k++) {
            free(C.rows[0].cols[k].text);
        }
        free(C.rows[0].cols);
        C.nrows = 0;
    }
    const char *pid = C.template_id;
    if (cl_load("objects",
                "SELECT * FROM objects WHERE merchant_id = ?1 AND kind = 'payment_intent'"
                " AND id = ?2",
                C.merchant, pid, NULL) != 1)
        return C.err[0] ? false : cl_fail("no payment %s of merchant %s", pid, C.merchant);
    cl_row *pr = &C.rows[0];
    const char *status = cl_text(pr, "status");
    cl_col *ver = cl_col_get(pr, "version");
    if (status == NULL || strcmp(status, "requires_payment_method") != 0 || ver == NULL ||
        ver->i != 1)
        return cl_fail("template %s is not a payment as created (requires_payment_method, "
                       "version 1): %s",
                       pid, status);
    if (!cl_add_id(pid))
        return false;
    C.pi_slot = 0;
    int nops = cl_load("operations",
                       "SELECT * FROM operations WHERE merchant_id = ?1 AND payment_id = ?2"
                       " ORDER BY seq",
                       C.merchant, pid, NULL);
    if (nops < 1)
        return nops < 0 ? false : cl_fail("template %s has no journal row", pid);
    /* its child objects (the event), kind by kind along the objects_parent index */
    char kinds[CL_KINDS_MAX][64];
    int nkinds = 0;
    for (;;) {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(C.db,
                           "SELECT kind FROM objects WHERE merchant_id = ?1 AND kind > ?2"
                           " ORDER BY kind LIMIT 1",
                           -1, &st, NULL);
        sqlite3_bind_text(st, 1, C.merchant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, nkinds > 0 ? kinds[nkinds - 1] : "", -1, SQLITE_TRANSIENT);
        bool more = st != NULL && sqlite3_step(st) == SQLITE_ROW && nkinds < CL_KINDS_MAX;
        if (more)
            snprintf(kinds[nkinds++], sizeof(kinds[0]), "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!more)
            break;
    }
    int first_child = C.nrows;
    for (int k = 0; k < nkinds; k++) {
        if (cl_load("objects",
                    "SELECT * FROM objects WHERE merchant_id = ?1 AND kind = ?2"
                    " AND parent_id = ?3 ORDER BY seq",
                    C.merchant, kinds[k], pid) < 0)
            return false;
    }
    int nchildren = C.nrows - first_child;
    for (int i = 0; i < C.nrows; i++) {
        const char *id = cl_text(&C.rows[i], "id");
        if (id == NULL || !cl_add_id(id))
            return C.err[0] ? false : cl_fail("a template row in %s has no id", C.rows[i].table);
    }
    for (int i = first_child; i < first_child + nchildren; i++) {
        const char *cid = cl_text(&C.rows[i], "id");
        for (int k = 0; k < nkinds; k++) {
            if (cl_count("SELECT count(*) FROM objects WHERE merchant_id = ?1 AND kind = ?2"
                         " AND parent_id = ?3",
                         kinds[k], cid) != 0)
                return cl_fail("template object %s has children of its own", cid);
        }
        if (cl_count("SELECT count(*) FROM deliveries WHERE merchant_id = ?1 AND event_id = ?2",
                     cid, NULL) != 0)
            return cl_fail("template event %s has webhook deliveries (clone a merchant's payment "
                           "without webhook endpoints)",
                           cid);
    }
    char quoted[ID_MAX + 2];
    snprintf(quoted, sizeof(quoted), "\"%s\"", pid);
    /* the record is written in the same transaction as the journal row: look 10 s either
     * side of it along idempotency_created rather than through every record */
    int nidem = cl_load("idempotency",
                        "SELECT * FROM idempotency WHERE created_ms BETWEEN"
                        " (SELECT min(created_ms) - 10000 FROM operations"
                        "  WHERE merchant_id = ?1 AND payment_id = ?3)"
                        " AND (SELECT max(created_ms) + 10000 FROM operations"
                        "  WHERE merchant_id = ?1 AND payment_id = ?3)"
                        " AND +merchant_id = ?1 AND instr(body, ?2) > 0 LIMIT 2",
                        C.merchant, quoted, pid);
    if (nidem != 1)
        return nidem < 0 ? false
                         : cl_fail("template %s has no single idempotency record (made without an "
                                   "Idempotency-Key?)",
                                   pid);
    const char *oldkey = cl_text(&C.rows[C.nrows - 1], "key");
    if (oldkey == NULL || (C.key_slot = cl_add(SL_KEY, oldkey, strlen(oldkey))) < 0)
        return cl_fail("template %s: its idempotency record's key is missing or too long", pid);
    /* its search terms (the payments list's indexed filters), written with it */
    if (cl_load("payment_terms",
                "SELECT * FROM payment_terms WHERE merchant_id = ?1 AND payment_id = ?2",
                C.merchant, pid, NULL) < 0)
        return false;
    /* timestamps: seconds (created, due_at) and milliseconds (*_ms) move to now */
    cl_col *created = cl_col_get(pr, "created");
    if (created == NULL || created->type != SQLITE_INTEGER)
        return cl_fail("template %s has no created", pid);
    C.base_s = created->i;
    C.base_ms = 0;
    for (int i = 0; i < C.nrows; i++) {
        for (int k = 0; k < C.rows[i].ncols; k++) {
            cl_col *c = &C.rows[i].cols[k];
            size_t nl = strlen(c->name);
            if (c->type != SQLITE_INTEGER || c->i <= 0)
                continue;
            int kind_t = strcmp(c->name, "created") == 0 || strcmp(c->name, "due_at") == 0 ? SL_SEC
                         : nl > 3 && strcmp(c->name + nl - 3, "_ms") == 0                  ? SL_MS
                                                                                           : -1;
            if (kind_t < 0)
                continue;
            if (!cl_add_time(kind_t, c->i))
                return false;
            char s[32];
            int sl = snprintf(s, sizeof(s), "%lld", (long long)c->i);
            c->tslot = cl_find(kind_t, s, (size_t)sl);
            if (kind_t == SL_MS && (C.base_ms == 0 || c->i < C.base_ms))
                C.base_ms = c->i;
        }
    }
    /* texts, and the statements that insert a copy of each row */
    for (int i = 0; i < C.nrows; i++) {
        cl_row *r = &C.rows[i];
        char sql[2048], vals[512];
        size_t sl = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s(", r->table);
        size_t vl = 0;
        int bound = 0;
        for (int k = 0; k < r->ncols; k++) {
            cl_col *c = &r->cols[k];
            if (cl_rowid_alias(r->table, c->name)) {
                c->type = -1; /* SQLite assigns it */
                continue;
            }
            c->fresh_key = strcmp(r->table, "idempotency") == 0 && strcmp(c->name, "key") == 0;
            if (c->type == SQLITE_TEXT && !c->fresh_key && !cl_split(r, c))
                return C.err[0] ? false : cl_fail("out of memory");
            sl += (size_t)snprintf(sql + sl, sizeof(sql) - sl, "%s\"%s\"", bound ? ", " : "",
                                   c->name);
            vl += (size_t)snprintf(vals + vl, sizeof(vals) - vl, "%s?", bound ? ", " : "");
            bound++;
            if (sl >= sizeof(sql) || vl >= sizeof(vals))
                return cl_fail("too many columns in %s", r->table);
        }
        snprintf(sql + sl, sizeof(sql) - sl, ") VALUES(%s)", vals);
        if (sqlite3_prepare_v2(C.db, sql, -1, &r->ins, NULL) != SQLITE_OK)
            return cl_fail("%s: %s", sql, sqlite3_errmsg(C.db));
    }
    return true;
}

static const char *cl_assemble(cl_col *c, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nsegs; i++)
        n += c->segs[i].slot >= 0 ? C.slots[c->segs[i].slot].vlen : c->segs[i].len;
    if (n + 1 > c->cap) {
        c->cap = 2 * (n + 1);
        c->buf = realloc(c->buf, c->cap);
        if (c->buf == NULL) {
            perror("flow");
            exit(1);
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < c->nsegs; i++) {
        const cl_seg *s = &c->segs[i];
        if (s->slot >= 0) {
            memcpy(c->buf + o, C.slots[s->slot].val, C.slots[s->slot].vlen);
            o += C.slots[s->slot].vlen;
        } else {
            memcpy(c->buf + o, c->text + s->off, s->len);
            o += s->len;
        }
    }
    c->buf[o] = '\0';
    *len = o;
    return c->buf;
}

/* Inserts one copy of the template; its payment id is left in C.slots[C.pi_slot].val. */
static bool cl_one(long n, long long run_s)
{
    long long ms = wall_ms();
    for (int i = 0; i < C.nslots; i++) {
        cl_slot *s = &C.slots[i];
        if (s->kind == SL_ID) {
            size_t p = strlen(s->prefix);
            memcpy(s->val, s->prefix, p);
            s->vlen = p + cl_tail(s->val + p, ms);
        } else if (s->kind == SL_REQ && s->tail < sizeof(s->val) - 5) {
            memcpy(s->val, s->prefix, 4);
            for (size_t k = 0; k < s->tail; k++)
                s->val[4 + k] = cl_rand62();
            s->vlen = 4 + s->tail;
        } else if (s->kind == SL_SEC || s->kind == SL_MS) {
            s->tnew =
                s->kind == SL_SEC ? ms / 1000 + (s->told - C.base_s) : ms + (s->told - C.base_ms);
            s->vlen = (size_t)snprintf(s->val, sizeof(s->val), "%lld", s->tnew);
        }
    }
    for (int i = 0; i < C.nslots; i++) { /* after the ids: it holds the new payment id */
        cl_slot *s = &C.slots[i];
        if (s->kind != SL_SECRET)
            continue;
        const cl_slot *pi = &C.slots[C.pi_slot];
        memcpy(s->val, pi->val, pi->vlen);
        memcpy(s->val + pi->vlen, "_secret_", 8);
        s->vlen = pi->vlen + 8 + cl_tail(s->val + pi->vlen + 8, ms);
    }
    cl_slot *key = &C.slots[C.key_slot];
    key->vlen = (size_t)snprintf(key->val, sizeof(key->val), "bench-%lld-%ld-%u", run_s, n,
                                 (unsigned)cl_rand31());
    for (int i = 0; i < C.nrows; i++) {
        cl_row *r = &C.rows[i];
        int b = 0;
        for (int k = 0; k < r->ncols; k++) {
            cl_col *c = &r->cols[k];
            if (c->type < 0)
                continue;
            b++;
            if (c->type == SQLITE_NULL) {
                sqlite3_bind_null(r->ins, b);
            } else if (c->type == SQLITE_INTEGER) {
                sqlite3_bind_int64(r->ins, b, c->tslot >= 0 ? C.slots[c->tslot].tnew : c->i);
            } else if (c->type == SQLITE_FLOAT) {
                sqlite3_bind_double(r->ins, b, c->f);
            } else if (c->type == SQLITE_BLOB) {
                sqlite3_bind_blob(r->ins, b, c->text, c->tlen, SQLITE_STATIC);
            } else if (c->fresh_key) {
                sqlite3_bind_text(r->ins, b, key->val, (int)key->vlen, SQLITE_STATIC);
            } else {
                size_t len;
                const char *t = cl_assemble(c, &len);
                sqlite3_bind_text(r->ins, b, t, (int)len, SQLITE_STATIC);
            }
        }
        int rc = sqlite3_step(r->ins);
        sqlite3_reset(r->ins);
        if (rc != SQLITE_DONE)
            return cl_fail("inserting into %s: %s", r->table, sqlite3_errmsg(C.db));
    }
    return true;
}

static bool cl_exec(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(C.db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return true;
    cl_fail("%s: %s", sql, msg != NULL ? msg : sqlite3_errmsg(C.db));
    sqlite3_free(msg);
    return false;
}

static int clone_main(void)
{
    double t0 = now_s();
    bool ok = sqlite3_open_v2(C.db_path, &C.db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK;
    if (!ok)
        cl_fail("cannot open %s: %s", C.db_path, sqlite3_errmsg(C.db));
    if (ok) {
        sqlite3_busy_timeout(C.db, 10000);
        /* WAL as Kassa left it; a large page cache for the index pages; the WAL is
         * checkpointed after each transaction and cut back to 64 MiB */
        ok = cl_exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
                     " PRAGMA journal_size_limit=67108864") &&
             cl_plan();
    }
    FILE *ids = ok ? fopen(G.ids_out, "a") : NULL;
    if (ok && ids == NULL)
        ok = cl_fail("%s: %s", G.ids_out, strerror(errno));
    long done = 0;
    long long run_s = wall_ms() / 1000;
    char(*batch_ids)[ID_MAX] = ok ? malloc((size_t)C.batch * ID_MAX) : NULL;
    if (ok && batch_ids == NULL)
        ok = cl_fail("out of memory for %ld ids", C.batch);
    double t_plan = now_s() - t0;
    double t1 = now_s();
    while (ok && done < G.count) {
        long n = G.count - done < C.batch ? G.count - done : C.batch;
        long nids = 0;
        ok = cl_exec("BEGIN IMMEDIATE");
        for (long i = 0; ok && i < n; i++) {
            ok = cl_one(done + i + 1, run_s);
            if (ok && (done + i + 1) % G.stride == 0)
                snprintf(batch_ids[nids++], ID_MAX, "%s", C.slots[C.pi_slot].val);
        }
        if (ok) {
            ok = cl_exec("COMMIT");
        } else {
            char keep[sizeof(C.err)];
            snprintf(keep, sizeof(keep), "%s", C.err);
            cl_exec("ROLLBACK");
            snprintf(C.err, sizeof(C.err), "%s", keep);
        }
        if (ok) {
            done += n;
            for (long i = 0; i < nids; i++)
                fprintf(ids, "%s\n", batch_ids[i]);
        }
    }
    double secs = now_s() - t1;
    if (ids != NULL && fclose(ids) != 0)
        ok = cl_fail("%s: %s", G.ids_out, strerror(errno));
    free(batch_ids);
    for (int i = 0; i < C.nrows; i++)
        sqlite3_finalize(C.rows[i].ins);
    if (C.db != NULL) {
        sqlite3_wal_checkpoint_v2(C.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        sqlite3_close(C.db);
    }
    int rows_per = C.nrows;
    printf("BENCH {\"scenario\":\"clone\",\"count\":%ld,\"started\":%ld,\"completed\":%ld,"
           "\"seconds\":%.3f,\"rps\":%.1f,\"plan_seconds\":%.3f,\"rows_per_payment\":%d,"
           "\"template\":\"%s\",\"batch\":%ld,\"failed\":%d,\"last_error\":\"",
           G.count, G.count, done, secs, secs > 0 ? (double)done / secs : 0, t_plan, rows_per,
           C.template_id != NULL ? C.template_id : "", C.batch, ok ? 0 : 1);
    for (const char *p = C.err; *p; p++)
        if (*p >= ' ' && *p != '"' && *p != '\\')
            putchar(*p);
    printf("\"}\n");
    if (!ok)
        fprintf(stderr, "flow clone: %s\n", C.err);
    return ok ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: flow --url URL --key SK --mode s4|s5 [--flows N] [--duration S]\n"
            "            [--prepare S] [--drain S] [--pool N]\n"
            "       flow --url URL --key SK --mode seed --count N --ids-out FILE\n"
            "            [--stride K] [--flows N]\n"
            "       flow --mode clone --db KASSA.db --merchant ACCT --count N --ids-out FILE\n"
            "            [--template PI] [--stride K] [--batch N]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    G.flows = 32;
    G.duration = 10;
    G.drain = 30;
    G.prepare = 10;
    G.mode = "s4";
    G.stride = 1;
    G.pool_max = 30000; /* below the simulator's LIMIT_SIM_OBJECTS_MAX (32768) */
    C.batch = 5000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0)
            G.url = v;
        else if (strcmp(k, "--key") == 0)
            G.key = v;
        else if (strcmp(k, "--mode") == 0)
            G.mode = v;
        else if (strcmp(k, "--flows") == 0)
            G.flows = (int)strtol(v, NULL, 10);
        else if (strcmp(k, "--duration") == 0)
            G.duration = strtod(v, NULL);
        else if (strcmp(k, "--prepare") == 0)
            G.prepare = strtod(v, NULL);
        else if (strcmp(k, "--count") == 0)
            G.count = strtol(v, NULL, 10);
        else if (strcmp(k, "--pool") == 0)
            G.pool_max = strtol(v, NULL, 10);
        else if (strcmp(k, "--stride") == 0)
            G.stride = strtol(v, NULL, 10);
        else if (strcmp(k, "--ids-out") == 0)
            G.ids_out = v;
        else if (strcmp(k, "--drain") == 0)
            G.drain = strtod(v, NULL);
        else if (strcmp(k, "--db") == 0)
            C.db_path = v;
        else if (strcmp(k, "--merchant") == 0)
            C.merchant = v;
        else if (strcmp(k, "--template") == 0)
            C.template_id = v;
        else if (strcmp(k, "--batch") == 0)
            C.batch = strtol(v, NULL, 10);
        else
            usage();
    }
    if (strcmp(G.mode, "clone") == 0) {
        if (C.db_path == NULL || C.merchant == NULL || G.count < 1 || G.ids_out == NULL ||
            G.stride < 1 || C.batch < 1 || (argc - 1) % 2 != 0)
            usage();
        return;
    }
    if (G.url == NULL || G.key == NULL || G.flows < 1 || G.flows > FLOWS_MAX || G.duration <= 0 ||
        G.stride < 1 ||
        (strcmp(G.mode, "s4") != 0 && strcmp(G.mode, "s5") != 0 && strcmp(G.mode, "seed") != 0) ||
        (strcmp(G.mode, "seed") == 0 && (G.count < 1 || G.ids_out == NULL)))
        usage();
}

/* Waits (bounded by --drain) until every returned flow has its webhook. */
static long drain_hooks(void)
{
    double end = now_s() + G.drain;
    for (;;) {
        pthread_mutex_lock(&G.mu);
        long missing = G.returned - G.completed;
        pthread_mutex_unlock(&G.mu);
        if (missing <= 0 || now_s() > end)
            return missing;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void reset_counts(void)
{
    pthread_mutex_lock(&G.mu);
    G.completed = G.completed_in_window = 0;
    G.nlat = 0;
    pthread_mutex_unlock(&G.mu);
    G.started = G.returned = G.http_requests = 0;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (strcmp(G.mode, "clone") == 0)
        return clone_main();
    srand((unsigned)time(NULL));
    pthread_mutex_init(&G.mu, NULL);
    G.table = calloc((size_t)1 << TABLE_BITS, sizeof(slot));
    G.lat = malloc(SAMPLES_MAX * sizeof(double));
    G.pool = malloc((size_t)POOL_MAX * ID_MAX);
    if (G.table == NULL || G.lat == NULL || G.pool == NULL)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, hook_handler, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, hook_done, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2,
        MHD_OPTION_CONNECTION_LIMIT, 1000, MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "flow: cannot start the webhook receiver\n");
        return 1;
    }
    G.hook_port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(G.return_url, sizeof(G.return_url), "http://127.0.0.1:%d/return", G.hook_port);
    const char *events = strcmp(G.mode, "s5") == 0
                             ? "enabled_events[0]=payment_intent.amount_capturable_updated"
                             : "enabled_events[0]=payment_intent.succeeded";
    bool seed = strcmp(G.mode, "seed") == 0;
    if (seed) {
        G.ids = fopen(G.ids_out, "a");
        if (G.ids == NULL) {
            perror(G.ids_out);
            return 1;
        }
        G.duration = 1e9; /* bounded by --count */
    } else if (!make_endpoint(events)) {
        return 1;
    }

    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(4 * G.flows));
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)G.flows);
    flow fl[FLOWS_MAX];
    memset(fl, 0, sizeof(fl));
    for (int i = 0; i < G.flows; i++) {
        fl[i].h = curl_easy_init();
        curl_easy_setopt(fl[i].h, CURLOPT_PRIVATE, &fl[i]);
        curl_easy_setopt(fl[i].h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(fl[i].h, CURLOPT_WRITEDATA, &fl[i]);
        curl_easy_setopt(fl[i].h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(fl[i].h, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(fl[i].h, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(fl[i].h, CURLOPT_TCP_NODELAY, 1L);
    }

    bool s5 = strcmp(G.mode, "s5") == 0;
    long prepared = 0, prep_missing = 0;
    double prep_secs = 0;
    if (s5) { /* bring a pool of payments to requires_capture (not measured) */
        double t = now_s();
        G.count = G.pool_max; /* the simulator keeps its newest 32768 orders */
        G.window_end = t + G.prepare;
        run(m, fl, G.flows, t + G.prepare, false);
        prep_missing = drain_hooks();
        prep_secs = now_s() - t;
        prepared = (long)G.npool;
        reset_counts();
        G.count = 0;
    }
    G.t_start = now_s();
    G.window_end = G.t_start + G.duration;
    run(m, fl, G.flows, G.window_end, s5);
    double t_end_flows = now_s();
    long missing = s5 || seed ? 0 : drain_hooks();
    if (seed) {
        fclose(G.ids);
        G.window_end = t_end_flows;
        G.completed_in_window = G.completed;
        G.returned = G.completed;
    }
    double elapsed = (s5 || seed ? t_end_flows : G.window_end) - G.t_start;
    if (elapsed > G.duration && !s5 && !seed)
        elapsed = G.duration;

    pthread_mutex_lock(&G.mu);
    qsort(G.lat, G.nlat, sizeof(double), cmp_d);
    long in_window = s5 || seed ? G.completed : G.completed_in_window;
    double rate = elapsed > 0 ? (double)in_window / elapsed : 0;
    printf("BENCH {\"scenario\":\"%s\",\"flows\":%d,\"seconds\":%.3f,\"started\":%ld,"
           "\"completed\":%ld,\"completed_in_window\":%ld,\"rps\":%.1f,\"http_requests\":%ld,"
           "\"http_rps\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"failed\":%ld,"
           "\"webhooks\":%ld,\"webhooks_bad\":%ld,\"webhooks_dup\":%ld,"
           "\"webhooks_missing\":%ld,\"prepared\":%ld,\"prepare_seconds\":%.1f,"
           "\"prepare_webhooks_missing\":%ld,\"last_error\":\"",
           G.mode, G.flows, elapsed, G.started, G.completed, in_window, rate, G.http_requests,
           elapsed > 0 ? (double)G.http_requests / (t_end_flows - G.t_start) : 0, pct(50), pct(99),
           pct(99.9), G.failed, G.hooks, G.hooks_bad, G.hooks_dup, missing, prepared, prep_secs,
           prep_missing);
    for (const char *p = G.last_error; *p; p++)
        if (*p >= ' ' && *p != '"' && *p != '\\')
            putchar(*p);
    printf("\"}\n");
    pthread_mutex_unlock(&G.mu);

    for (int i = 0; i < G.flows; i++) {
        curl_slist_free_all(fl[i].hdr);
        free(fl[i].body);
        curl_easy_cleanup(fl[i].h);
    }
    curl_multi_cleanup(m);
    MHD_stop_daemon(d);
    curl_global_cleanup();
    bool ok =
        G.failed == 0 && missing == 0 && prep_missing == 0 && G.hooks_bad == 0 && G.completed > 0;
    return ok ? 0 : 1;
}
