/*
 * test_simulation.c - a deterministic simulation of the gateway (TigerBeetle's
 * VOPR, FoundationDB's simulator, on a small scale): one thread, one seeded
 * PRNG, the real gateway, store (SQLite in a temporary file) and the Klarna
 * and Alipay+ simulators.
 *
 * Nothing here is a mock. The seams are inert in the server:
 *  - the clock stands still and moves only when the PRNG jumps it
 *    (clock_fake_start), the monotonic clock with it;
 *  - crypto_random answers a stream seeded from the seed
 *    (crypto_random_fake_seed), so ids and the simulator's references repeat;
 *  - httpc's transport is a function here (httpc_set_transport): Kassa's calls
 *    to Klarna and Antom go to the simulators' handlers in-process
 *    (sim_server_local), their callbacks and notifications to Kassa go into
 *    a "network" the PRNG delivers late, out of order, twice or not at all,
 *    and webhooks and ECommPay callbacks go to receivers that answer 2xx, 5xx
 *    or nothing (each ECommPay callback's signature checked);
 *  - the scheduler (gw_tick), the webhook dispatcher (gw_dispatch_step) and
 *    the simulator's ticker (sim_server_tick) run as steps the PRNG picks,
 *    instead of threads;
 *  - the store's Nth write operation fails with EIO or ENOSPC (store/fault.h);
 *  - a crash drops everything in memory on Kassa's side and reopens the store
 *    from its file (the simulator is another process: it keeps its state).
 *
 * The workload mixes four paths through the gateway (method_kind): Klarna
 * Pay Later (create, confirm, the customer's pages, the return, callbacks,
 * sync, partial and final captures, refunds, cancels, extensions), Klarna Pay
 * Now (the bank's steps, a sale captured at once, refunds), Alipay+ (the QR
 * code paid in a wallet with a PIN, Antom's signed notifications, cancels,
 * expiry after 14 minutes, refunds) and ECommPay's dialect (Pay Now with an
 * external id and the payment's own callback URL, no key on the sale, Gate
 * refunds keyed by merchant_refund_id, the Payment Page's signed callbacks
 * from the face's own formatter); with retries under the same key and clock
 * jumps. Invariants are checked after every step and, after a quiet phase
 * with the faults off, at the end (see check_* below): the provider's money
 * (Klarna's order, Antom's payment) equals Kassa's for every payment.
 *
 * Every step appends a line to the trace; its FNV-1a hash is printed per
 * seed. The test runs each seed twice (each run in a child process, so no
 * static state carries over) and asserts the same hash: exact replay.
 *   KASSA_SIM_SEED=N build-asan/tests/test_simulation      replays one seed
 *   KASSA_SIM_TRACE=file                                   writes its trace
 *   KASSA_SIM_SEEDS=N [KASSA_SIM_STEPS=M]                  a long run (make sim-long)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/httpc.h"
#include "base/log.h"
#include "api/api.h"
#include "api/ecommpay/ecp_sign.h"
#include "gateway/gateway.h"
#include "providers/provider.h"
#include "sim/alipay_sim.h"
#include "sim/klarna_sim.h"
#include "sim/sim_server.h"
#include "store/fault.h"
#include "store/store.h"

#define SIM_URL    "http://sim.test"
#define KASSA_URL  "http://kassa.test"
#define HOOK_URL   "http://merchant.test/hooks"
#define ECP_URL    "http://merchant.test/ecommpay" /* the Payment Page's callbacks */
#define PAY_MAX    24                              /* payments per run */
#define REFUND_MAX 96                              /* refunds per run */
#define NET_MAX    256                             /* callbacks in flight */
#define EVENTS_MAX 4096
#define RETRY_MAX  64 /* remembered calls to retry with their key */
#define STEPS_CI   300
#define START_MS   1767225600000LL /* 2026-01-01T00:00:00Z */

/* Seeds that once failed (see tests/SOAK.md) and the fixed set CI runs. */
/* 1007, 1021: events given up past the horizon (the invariant was too strict);
 * 1043: a read-back note left on a succeeded payment (too strict again); 1060:
 * a final capture beside an open one aborted the gateway (fixed in
 * payments.c, pinned by test_gateway's test_final_capture_while_one_is_open,
 * as a workload change gives a seed another history); 102: a cancel of an
 * Alipay+ payment the customer had just paid was answered canceled while Antom
 * kept the money (fixed in payments.c, pinned by test_gateway's
 * test_cancel_after_the_customer_paid); 2066: an Alipay+ attempt paid a moment
 * before its deadline expired because the janitor's read-back got no answer
 * (fixed in scheduler.c, pinned by test_expiry_waits_for_the_provider). */
static const uint64_t regression_seeds[] = {1, 2, 3, 102, 1007, 1021, 1043, 1060, 1337, 2066};

/* ------------------------------------------------------------ the PRNG */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n)
{
    return n == 0 ? 0 : rng_next() % n;
}

static bool rng_pct(unsigned pct)
{
    return rng_below(100) < pct;
}

/* ------------------------------------------------------------ the run's state */

typedef enum {
    F_TIMEOUT,   /* the provider never got the call */
    F_LOST,      /* the provider applied the call; its answer was lost */
    F_5XX,       /* the provider answered 503 without applying it */
    F_CB_DUP,    /* a callback delivered twice */
    F_CB_DROP,   /* a callback lost */
    F_CB_LATE,   /* a callback delivered out of order */
    F_HOOK_5XX,  /* the merchant's receiver answered 500 */
    F_HOOK_LOST, /* the receiver got nothing */
    F_EIO,       /* a store write failed with EIO */
    F_ENOSPC,    /* ... with ENOSPC */
    F_CRASH,     /* Kassa died between two steps */
    F_CRASH_MID, /* Kassa died while the provider applied its call */
    F__COUNT
} fault_kind;

static const char *const fault_names[F__COUNT] = {
    "provider_timeout", "provider_answer_lost", "provider_5xx", "callback_duplicate",
    "callback_lost",    "callback_reordered",   "webhook_5xx",  "webhook_lost",
    "disk_eio",         "disk_enospc",          "crash",        "crash_in_provider_call"};

/* The payment methods and the dialect the workload drives. ECommPay's is Pay
 * Now through the ECommPay face's path (an external id, the payment's own
 * callback URL, no idempotency key on the sale, Gate refunds keyed by
 * merchant_refund_id). */
typedef enum { M_PAY_LATER, M_PAY_NOW, M_ALIPAY, M_ECP, M__COUNT } method_kind;

static const char *const method_names[M__COUNT] = {"klarna_pay_later", "klarna_pay_now", "alipay",
                                                   "ecommpay_pay_now"};

typedef struct {
    char id[LIMIT_ID_MAX];
    method_kind method;
    bool acked;            /* its create was answered 2xx */
    int64_t ack_captured;  /* captures answered 2xx (amounts the answer showed) */
    int64_t ack_refunded;  /* refunds answered 2xx */
    bool ack_canceled;     /* a cancel answered 2xx with state canceled */
    char order_ref[64];    /* the Klarna order, once Kassa has one */
    char attempt_url[512]; /* the customer's page while requires_action */
    char qr[512];          /* the code to scan while requires_action (Alipay+) */
} pay_model;

typedef struct {
    char id[LIMIT_ID_MAX];
    char payment[LIMIT_ID_MAX];
} refund_model;

typedef enum { SOP_CREATE, SOP_CONFIRM, SOP_CAPTURE, SOP_REFUND, SOP_CANCEL, SOP_EXTEND } op_kind;

typedef struct {
    op_kind op;
    method_kind m;
    char key[64];
    int pay;        /* index into pays */
    int64_t amount; /* create, capture, refund */
    bool final;     /* capture */
    int64_t at_ms;  /* when first answered: keys are kept LIMIT_IDEMPOTENCY_TTL_S */
    char answer[512];
} retry_rec;

typedef struct {
    char path[512];
    char *body;
    char *headers[HTTPC_HEADERS_MAX]; /* "Name: value" as sent (Antom signs them) */
    int copies;                       /* times delivered so far */
} net_msg;

typedef struct {
    char id[LIMIT_ID_MAX];
    int ok;      /* 2xx answers the receiver gave for it */
    int unknown; /* of those, answers Kassa failed to record (a disk fault) */
    int step;    /* the step of the last 2xx */
} hook_rec;

typedef struct {
    uint64_t seed;
    int steps;
    uint64_t hash;
    int64_t faults[F__COUNT];
    int64_t calls; /* gateway calls made */
    int64_t events;
    int64_t method_calls[M__COUNT];  /* gateway calls per method */
    int64_t method_pays[M__COUNT];   /* payments acknowledged per method */
    int64_t method_faults[M__COUNT]; /* faults injected into a call of that method */
    int64_t ecp_callbacks;           /* Payment Page callbacks the shop answered 2xx */
    bool ok;
    char why[512];
} run_result;

static char dir[256], dbpath[300];
static sim_server *srv;
static store *st;
static gw *g;
static arena A; /* per step */
static char merchant[LIMIT_ID_MAX];
static pay_model pays[PAY_MAX];
static int npays;
static refund_model refunds[REFUND_MAX];
static int nrefunds;
static retry_rec retries[RETRY_MAX];
static int nretries;
static net_msg net[NET_MAX];
static int nnet;
static hook_rec hooks[EVENTS_MAX];
static int nhooks;
static bool faults_on;
static int key_seq;
static int64_t record_failures; /* dispatcher writes that failed: each may repeat a 2xx */
static run_result R;
static FILE *trace_file;
static int step_no;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    uint64_t h = R.hash;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)line[i];
        h *= 0x100000001b3ULL;
    }
    h ^= '\n';
    h *= 0x100000001b3ULL;
    R.hash = h;
    if (trace_file != NULL)
        fprintf(trace_file, "%d %s\n", step_no, line);
}

/* A broken invariant ends the run: the child reports it and exits. */
static void sim_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void report(void);
static void sim_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[400];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(R.why, sizeof(R.why), "step %d: %s", step_no, msg);
    R.ok = false;
    trace("FAIL %s", msg);
    report();
    _exit(1);
}

/* The method of the payment the current step works on (-1: none): faults are
 * counted per kind and per method. */
static int cur_method = -1;

static void fault(fault_kind k)
{
    R.faults[k]++;
    if (cur_method >= 0)
        R.method_faults[cur_method]++;
}

/* ------------------------------------------------------------ crashes mid-call */

/* A crash inside a provider call: the transport lets the simulator apply the
 * call, then jumps back here past everything Kassa had on its stack (what it
 * held in memory is lost, as with kill -9). Only the caller's thread runs
 * Kassa's code, and it holds no lock while it waits on a provider. */
static jmp_buf crash_at;
static bool crash_armed;
static bool crashed_mid_call; /* the dead stack's allocations are leaked: no leak check */

typedef void (*guarded_fn)(void *arg);

static void crash_reopen(const char *why);

/* Runs fn(arg); answers false when Kassa "died" inside it. */
static bool guarded(guarded_fn fn, void *arg)
{
    crash_armed = true;
    if (setjmp(crash_at) != 0) {
        crash_armed = false;
        crashed_mid_call = true;
        store_fault_set(0);
        crash_reopen("crash in a provider call, reopened");
        return false;
    }
    fn(arg);
    crash_armed = false;
    return true;
}

/* ------------------------------------------------------------ the network */

/* "Name: value" request headers as name, value pairs (storage in a). */
static const char **header_pairs(const httpc_req *req, arena *a)
{
    const char **out = arena_alloc(a, sizeof(char *) * (2 * HTTPC_HEADERS_MAX + 2));
    size_t n = 0;
    for (size_t i = 0; i < HTTPC_HEADERS_MAX && req->headers[i] != NULL; i++) {
        const char *colon = strchr(req->headers[i], ':');
        if (colon == NULL)
            continue;
        out[n++] = arena_strndup(a, req->headers[i], (size_t)(colon - req->headers[i]));
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        out[n++] = arena_strdup(a, v);
    }
    out[n] = NULL;
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *url_decode(const char *s, size_t n, arena *a)
{
    char *out = arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* "a=1&b=2" as decoded pairs. */
static const char **query_pairs(const char *q, arena *a)
{
    size_t cap = 2;
    for (const char *p = q; p != NULL && *p; p++)
        cap += *p == '&' ? 2 : 0;
    const char **out = arena_alloc(a, sizeof(char *) * (cap + 3));
    size_t n = 0;
    while (q != NULL && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        out[n++] = url_decode(q, klen, a);
        out[n++] = eq ? url_decode(eq + 1, len - klen - 1, a) : "";
        q = amp ? amp + 1 : NULL;
    }
    out[n] = NULL;
    return out;
}

/* One call to the simulator, in-process; the answer into an httpc_resp. */
static void call_sim(const char *method, const char *url, const char *const *headers,
                     const char *body, size_t body_len, httpc_resp *resp, arena *a)
{
    const char *path = url + strlen(SIM_URL);
    const char *q = strchr(path, '?');
    const char *p = q ? arena_strndup(a, path, (size_t)(q - path)) : path;
    sim_response sr = {.status = 500};
    buf_init(&sr.body, LIMIT_RESPONSE_MAX);
    sim_server_call(srv, method, p, headers, query_pairs(q ? q + 1 : NULL, a), body, body_len, &sr);
    resp->status = sr.status;
    buf_append(&resp->body, sr.body.data ? sr.body.data : "", sr.body.len);
    if (sr.content_type != NULL) {
        char line[128];
        snprintf(line, sizeof(line), "Content-Type: %s\r\n", sr.content_type);
        buf_append_str(&resp->headers, line);
    }
    for (int i = 0; i < sr.nheaders; i++) {
        buf_append_str(&resp->headers, sr.hname[i]);
        buf_append_str(&resp->headers, ": ");
        buf_append_str(&resp->headers, sr.hvalue[i]);
        buf_append_str(&resp->headers, "\r\n");
    }
    buf_free(&sr.body);
}

/* The merchant's webhook receiver: counts 2xx answers per event. */
static k_status receive_hook(const httpc_req *req, httpc_resp *resp)
{
    if (faults_on && rng_pct(4)) {
        fault(F_HOOK_LOST);
        return K_ETIMEOUT;
    }
    if (faults_on && rng_pct(8)) {
        fault(F_HOOK_5XX);
        resp->status = 500;
        return K_OK;
    }
    json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id == NULL)
        sim_fail("a webhook without an event id");
    int i = 0;
    while (i < nhooks && strcmp(hooks[i].id, id) != 0)
        i++;
    if (i == nhooks) {
        if (nhooks == EVENTS_MAX)
            sim_fail("too many events for the receiver");
        snprintf(hooks[nhooks++].id, LIMIT_ID_MAX, "%s", id);
    }
    hooks[i].ok++;
    hooks[i].step = step_no;
    trace("hook %s %s #%d", id, json_string_value(json_object_get(doc, "type")), hooks[i].ok);
    json_decref(doc);
    resp->status = 200;
    return K_OK;
}

static char ecp_secret[128]; /* the merchant's ECommPay project secret */

/* The shop's ECommPay callback receiver: each callback signed with the
 * project's secret (as the official package checks it), answered 2xx or not. */
static k_status receive_ecp(const httpc_req *req, httpc_resp *resp)
{
    if (faults_on && rng_pct(4)) {
        fault(F_HOOK_LOST);
        return K_ETIMEOUT;
    }
    if (faults_on && rng_pct(8)) {
        fault(F_HOOK_5XX);
        resp->status = 500;
        return K_OK;
    }
    json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
    json_t *sig = json_object_get(doc, "signature");
    if (!json_is_string(sig))
        sim_fail("an ECommPay callback without a signature");
    if (!ecp_verify(ecp_secret, doc, json_string_value(sig)))
        sim_fail("an ECommPay callback whose signature does not verify");
    json_t *pay = json_object_get(doc, "payment");
    json_t *op = json_object_get(doc, "operation");
    trace("ecp callback %s %s %s %s", json_string_value(json_object_get(pay, "id")),
          json_string_value(json_object_get(pay, "status")),
          json_string_value(json_object_get(op, "type")),
          json_string_value(json_object_get(op, "status")));
    R.ecp_callbacks++;
    json_decref(doc);
    resp->status = 200;
    return K_OK;
}

static k_status transport(void *ctx, const httpc_req *req, httpc_resp *resp)
{
    (void)ctx;
    arena a;
    arena_init(&a, 0);
    k_status rc = K_OK;
    if (strncmp(req->url, SIM_URL "/", strlen(SIM_URL) + 1) == 0) {
        /* Kassa calls Klarna. */
        unsigned r = (unsigned)(faults_on ? rng_below(100) : 100);
        if (r < 3) {
            fault(F_TIMEOUT);
            trace("net %s %s timeout", req->method, req->url + strlen(SIM_URL));
            rc = K_ETIMEOUT;
        } else if (r < 5) {
            fault(F_5XX);
            resp->status = 503;
            buf_append_str(&resp->body, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\"}");
            buf_append_str(&resp->headers, "Content-Type: application/json\r\n");
        } else {
            call_sim(req->method, req->url, header_pairs(req, &a), req->body,
                     req->body ? req->body_len : 0, resp, &a);
            if (crash_armed && faults_on && rng_pct(3)) {
                fault(F_CRASH_MID);
                trace("net %s %s applied, Kassa dies", req->method, req->url + strlen(SIM_URL));
                arena_release(&a);
                crash_armed = false;
                longjmp(crash_at, 1);
            }
            if (r < 8) {
                fault(F_LOST);
                trace("net %s %s applied, answer lost", req->method, req->url + strlen(SIM_URL));
                httpc_resp_free(resp);
                memset(resp, 0, sizeof(*resp));
                rc = K_ETIMEOUT;
            }
        }
    } else if (strncmp(req->url, KASSA_URL "/providers/", strlen(KASSA_URL "/providers/")) == 0) {
        /* Klarna calls Kassa back: the network holds it. */
        if (nnet == NET_MAX || (faults_on && rng_pct(5))) {
            fault(F_CB_DROP);
            trace("callback lost");
        } else {
            net_msg *m = &net[nnet++];
            snprintf(m->path, sizeof(m->path), "%s", req->url + strlen(KASSA_URL));
            m->body = strndup(req->body ? req->body : "", req->body ? req->body_len : 0);
            for (size_t h = 0; h < HTTPC_HEADERS_MAX; h++)
                m->headers[h] = req->headers[h] != NULL ? strdup(req->headers[h]) : NULL;
            m->copies = 0;
        }
        resp->status = 200;
    } else if (strncmp(req->url, HOOK_URL, strlen(HOOK_URL)) == 0) {
        rc = receive_hook(req, resp);
    } else if (strcmp(req->url, ECP_URL) == 0) {
        rc = receive_ecp(req, resp);
    } else {
        sim_fail("a request to an unknown host: %s", req->url);
    }
    arena_release(&a);
    return rc;
}

/* ------------------------------------------------------------ Kassa's side */

/* What the answers render: a payment, a refund, or (a Gate refund) the refund's id. */
#define RENDER_REFUND ((void *)1)
#define RENDER_GATE   ((void *)2)

static char *render(gw_idem *self, const void *record, arena *a)
{
    if (self->ctx == RENDER_GATE)
        return arena_strdup(a, ((const gw_refund *)record)->id);
    if (self->ctx != NULL) {
        const gw_refund *r = record;
        return arena_printf(a, "refund %s %s %lld", r->id, r->status, (long long)r->amount);
    }
    const gw_payment *p = record;
    return arena_printf(a, "pi %s %s %lld/%lld/%lld/%lld", p->id, pay_state_name(p->m.state),
                        (long long)p->m.amount, (long long)p->m.authorized,
                        (long long)p->m.captured, (long long)p->m.refunded);
}

static k_status format_hook(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                            gw_delivery_req *out)
{
    (void)now_s;
    memset(out, 0, sizeof(*out));
    out->url = ep->url;
    out->body = arena_printf(a, "{\"id\":\"%s\",\"type\":\"%s\"}", ev->id, ev->type);
    out->body_len = strlen(out->body);
    out->headers[0] = "Content-Type: application/json";
    return K_OK;
}

static void open_kassa(void)
{
    if (store_open(&st, dbpath) != K_OK)
        sim_fail("the store does not open");
    store_fault_install(st);
    gw_config cfg = {.public_url = KASSA_URL, .sim_url = SIM_URL};
    if (gw_open(&g, st, &cfg) != K_OK)
        sim_fail("the gateway does not open");
    gw_set_formatter(g, "stripe", format_hook);
    ecommpay_install(g); /* the Payment Page's callbacks, formatted and signed by the face */
}

static void close_kassa(void)
{
    gw_close(g);
    store_close(st);
    g = NULL;
    st = NULL;
}

static bool disk_full; /* the armed fault is ENOSPC, not EIO */

/* Arms a disk fault for the next gateway call (or none): the store's Nth
 * operation from now fails. */
static void disk_arm(void)
{
    if (faults_on && rng_pct(6)) {
        disk_full = rng_pct(30);
        store_fault_set_status(disk_full ? K_ENOSPC : K_EIO);
        store_fault_set((int64_t)(1 + rng_below(6)));
    } else {
        store_fault_set(0);
    }
}

/* Whether the armed fault fired (counted by kind); disarms. */
static bool disk_done(void)
{
    bool fired = store_fault_fired();
    if (fired) {
        fault(disk_full ? F_ENOSPC : F_EIO);
        trace("disk fault %s", disk_full ? "ENOSPC" : "EIO");
    }
    store_fault_set(0);
    return fired;
}

static k_status idem_begin(gw_idem *idem, const char *key, bool refund, gw_err *err)
{
    *idem = (gw_idem){.key = key,
                      .fingerprint = "f1ngerpr1nt",
                      .render = render,
                      .ctx = refund ? RENDER_REFUND : NULL};
    memset(err, 0, sizeof(*err));
    return gw_idem_begin(g, merchant, idem, &A, err);
}

/* A Gate refund's idempotency as the ECommPay face claims it: the key is the
 * merchant_refund_id, the fingerprint the payment and the amount. */
static k_status idem_begin_gate(gw_idem *idem, const char *refund_id, const char *payment_id,
                                int64_t amount, gw_err *err)
{
    const char *basis = arena_printf(&A, "gate-refund\n%s\n%lld", payment_id, (long long)amount);
    char *fp = arena_alloc(&A, SHA256_HEX_LEN);
    crypto_sha256_hex(basis, strlen(basis), fp);
    *idem = (gw_idem){.key = arena_printf(&A, "ecommpay-refund:%s", refund_id),
                      .fingerprint = fp,
                      .render = render,
                      .ctx = RENDER_GATE};
    memset(err, 0, sizeof(*err));
    return gw_idem_begin(g, merchant, idem, &A, err);
}

static void key_new(char key[64])
{
    snprintf(key, 64, "sim-key-%d", ++key_seq);
}

/* Whether a call carries an idempotency key: every one in the Stripe dialect;
 * in ECommPay's, only the Gate refund (merchant_refund_id). */
static bool keyed(op_kind op, method_kind m)
{
    return m != M_ECP || op == SOP_REFUND;
}

static void remember(op_kind op, method_kind m, const char *key, int pay, int64_t amount,
                     bool final, const char *answer)
{
    if (!keyed(op, m))
        return; /* nothing to retry it with */
    retry_rec *r = nretries < RETRY_MAX ? &retries[nretries++] : &retries[rng_below(RETRY_MAX)];
    r->op = op;
    r->m = m;
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->pay = pay;
    r->amount = amount;
    r->final = final;
    r->at_ms = clock_now_ms();
    snprintf(r->answer, sizeof(r->answer), "%s", answer);
}

static const char *method_rule(method_kind m)
{
    return m == M_PAY_LATER ? "klarna_pay_later" : m == M_ALIPAY ? "alipay" : "klarna_pay_now";
}

/* A create as each face makes it: the Stripe dialect's for three methods, the
 * ECommPay Gate sale's (ecp_order_start: the external id, the payment's own
 * callback URL, the customer's data on the payment) for the fourth. */
static gw_pi_params create_params(int64_t amount, method_kind m, const char *key)
{
    json_t *types = json_pack("[s]", method_rule(m));
    arena_defer(&A, (void (*)(void *))json_decref, types);
    gw_pi_params in = {.amount = amount,
                       .currency = "eur",
                       .has_amount = true,
                       .has_currency = true,
                       .capture_manual = m == M_PAY_LATER ? 1 : -1,
                       .method_types = types,
                       .return_url = "http://shop.test/back"};
    if (m == M_ECP) {
        in.channel = "ecommpay";
        in.external_id = arena_printf(&A, "ecp-%s", key);
        in.callback_url = ECP_URL;
        in.email = "customer@email.de";
        in.country = "DE";
        in.locale = "de";
        in.return_url = KASSA_URL "/payment/result";
    }
    return in;
}

static gw_pi_params confirm_params(method_kind m)
{
    gw_pi_params in = {.capture_manual = -1, .method_type = method_rule(m)};
    if (m == M_PAY_LATER || m == M_PAY_NOW) {
        in.email = "customer@email.de";
        in.country = "DE";
        in.locale = m == M_PAY_NOW ? "de-DE" : "en-GB";
    }
    return in;
}

/* Runs one mutating call with its key, as a face does: a replay answers the
 * stored body; otherwise the use case runs. Answers the status and, on
 * success, the rendered answer. A disk fault may be armed around it. */
typedef struct {
    k_status st;
    bool replayed;
    const char *answer; /* rendered (or replayed) on success */
    gw_payment p;
    gw_refund r;
    gw_err err;
} call_out;

static call_out do_call_run(op_kind op, method_kind m, const char *key, int pay, int64_t amount,
                            bool final);

typedef struct {
    op_kind op;
    method_kind m;
    const char *key;
    int pay;
    int64_t amount;
    bool final;
    call_out out;
} call_job;

static void call_job_run(void *arg)
{
    call_job *j = arg;
    j->out = do_call_run(j->op, j->m, j->key, j->pay, j->amount, j->final);
}

/* A call during which Kassa may die: then it has no answer (the caller saw
 * the connection drop). */
static call_out do_call(op_kind op, method_kind m, const char *key, int pay, int64_t amount,
                        bool final)
{
    static call_job j; /* static: not on the stack a crash jumps over */
    memset(&j, 0, sizeof(j));
    j.op = op;
    j.m = m;
    j.key = key;
    j.pay = pay;
    j.amount = amount;
    j.final = final;
    cur_method = (int)m;
    R.method_calls[m]++;
    if (!guarded(call_job_run, &j)) {
        memset(&j.out, 0, sizeof(j.out));
        j.out.st = K_EIO;
    }
    cur_method = -1;
    return j.out;
}

static call_out do_call_run(op_kind op, method_kind m, const char *key, int pay, int64_t amount,
                            bool final)
{
    call_out o;
    memset(&o, 0, sizeof(o));
    gw_idem idem;
    R.calls++;
    disk_arm();
    if (!keyed(op, m)) {
        memset(&idem, 0, sizeof(idem));
        o.st = K_ENOTFOUND; /* no claim: the use case runs */
    } else if (m == M_ECP) {
        o.st = idem_begin_gate(&idem, key, pays[pay].id, amount, &o.err);
    } else {
        o.st = idem_begin(&idem, key, op == SOP_REFUND, &o.err);
    }
    gw_idem *ip = keyed(op, m) ? &idem : NULL;
    if (o.st == K_OK && idem.replayed) {
        o.replayed = true;
        o.answer = idem.replay_status == 200 ? idem.replay_body : NULL;
        if (o.answer == NULL)
            o.st = K_ERR;
        disk_done();
        return o;
    }
    if (o.st != K_ENOTFOUND) {
        disk_done();
        return o;
    }
    memset(&o.err, 0, sizeof(o.err));
    const char *id = pay >= 0 ? pays[pay].id : NULL;
    switch (op) {
    case SOP_CREATE: {
        gw_pi_params in = create_params(amount, m, key);
        o.st = gw_pi_create(g, merchant, &in, ip, &A, &o.p, &o.err);
        break;
    }
    case SOP_CONFIRM: {
        gw_pi_params in = confirm_params(m);
        o.st = gw_pi_confirm(g, merchant, id, &in, ip, &A, &o.p, &o.err);
        break;
    }
    case SOP_CAPTURE:
        o.st = gw_pi_capture(g, merchant, id, amount, final, NULL, ip, &A, &o.p, &o.err);
        break;
    case SOP_REFUND: {
        gw_refund_params in = {.payment_id = id, .amount = amount};
        if (m == M_ECP)
            in.external_id = key;
        o.st = gw_refund_create(g, merchant, &in, ip, &A, &o.r, &o.err);
        break;
    }
    case SOP_CANCEL:
        o.st = gw_pi_cancel(g, merchant, id, m == M_ECP ? "abandoned" : "requested_by_customer", ip,
                            &A, &o.p, &o.err);
        break;
    case SOP_EXTEND:
        o.st = gw_pi_extend(g, merchant, id, ip, &A, &o.p, &o.err);
        break;
    }
    disk_done();
    if (ip != NULL)
        gw_idem_end(g, merchant, ip);
    if (o.st == K_OK)
        o.answer = render(&idem, op == SOP_REFUND ? (const void *)&o.r : (const void *)&o.p, &A);
    return o;
}

/* ------------------------------------------------------------ reads */

typedef struct {
    const char *kind, *id;
    arena *a;
    store_obj o;
} obj_job;

static k_status obj_fn(store_tx *tx, void *arg)
{
    obj_job *j = arg;
    return store_obj_get(tx, merchant, j->kind, j->id, j->a, &j->o);
}

static bool get_payment(int i, gw_payment *p)
{
    gw_err err;
    memset(&err, 0, sizeof(err));
    return gw_pi_get(g, merchant, pays[i].id, &A, p, &err) == K_OK;
}

/* ------------------------------------------------------------ invariants */

static void check_payment(int i, bool after_crash)
{
    gw_payment p;
    if (!get_payment(i, &p)) {
        if (pays[i].acked)
            sim_fail("payment %s was acknowledged and is gone", pays[i].id);
        return;
    }
    const pay_money *m = &p.m;
    if (m->captured > m->authorized)
        sim_fail("%s: captured %lld > authorised %lld", p.id, (long long)m->captured,
                 (long long)m->authorized);
    if (m->captured + m->released > m->authorized)
        sim_fail("%s: captured %lld + released %lld > authorised %lld", p.id,
                 (long long)m->captured, (long long)m->released, (long long)m->authorized);
    if (m->refunded + m->refund_pending > m->captured)
        sim_fail("%s: refunded %lld + pending %lld > captured %lld", p.id, (long long)m->refunded,
                 (long long)m->refund_pending, (long long)m->captured);
    if (m->captured + p.capture_pending > m->authorized && m->authorized > 0)
        sim_fail("%s: captured %lld + capture pending %lld > authorised %lld", p.id,
                 (long long)m->captured, (long long)p.capture_pending, (long long)m->authorized);
    if (m->captured < pays[i].ack_captured)
        sim_fail("%s: captured %lld < %lld acknowledged%s", p.id, (long long)m->captured,
                 (long long)pays[i].ack_captured, after_crash ? " (after a crash)" : "");
    if (m->refunded + m->refund_pending < pays[i].ack_refunded)
        sim_fail("%s: refunds %lld < %lld acknowledged%s", p.id,
                 (long long)(m->refunded + m->refund_pending), (long long)pays[i].ack_refunded,
                 after_crash ? " (after a crash)" : "");
    if (pays[i].ack_canceled && m->state != PS_CANCELED)
        sim_fail("%s: acknowledged canceled, now %s", p.id, pay_state_name(m->state));
    /* No operation without a retry time: whatever waits on the provider has a timer. */
    /* (A read-back note matters only while the order is authorised: after a
     * final capture or a cancel there is nothing left to read back.) */
    bool reconcile = p.reconcile_at > 0 && m->state == PS_REQUIRES_CAPTURE;
    bool waits = p.capture_pending > 0 || reconcile || m->state == PS_PROCESSING ||
                 m->state == PS_REQUIRES_ACTION;
    if (waits) {
        obj_job j = {.kind = "payment_intent", .id = p.id, .a = &A};
        if (store_read(st, obj_fn, &j) != K_OK)
            sim_fail("%s: cannot read its row", p.id);
        if (j.o.due_at == 0)
            sim_fail("%s: %s with capture_pending %lld reconcile_at %lld and no timer", p.id,
                     pay_state_name(m->state), (long long)p.capture_pending,
                     (long long)p.reconcile_at);
    }
}

static void check_refund(int i)
{
    gw_refund r;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_refund_get(g, merchant, refunds[i].id, &A, &r, &err) != K_OK)
        sim_fail("refund %s was acknowledged and is gone", refunds[i].id);
    if (strcmp(r.status, "pending") == 0) {
        obj_job j = {.kind = "refund", .id = r.id, .a = &A};
        if (store_read(st, obj_fn, &j) != K_OK || j.o.due_at == 0)
            sim_fail("refund %s pending without a timer", r.id);
    }
}

static void check_all(bool after_crash)
{
    for (int i = 0; i < npays; i++)
        check_payment(i, after_crash);
    for (int i = 0; i < nrefunds; i++)
        check_refund(i);
}

/* ------------------------------------------------------------ the customer */

/* One page of the customer's at the simulator: GET (form NULL) or POST. */
static long page(const char *url, const char *form, char *location, size_t cap)
{
    sim_response sr = {.status = 500};
    buf_init(&sr.body, LIMIT_RESPONSE_MAX);
    const char *path = url + strlen(SIM_URL);
    const char *q = strchr(path, '?');
    const char *p = q ? arena_strndup(&A, path, (size_t)(q - path)) : path;
    const char *const hdrs[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
    sim_server_call(srv, form ? "POST" : "GET", p, hdrs, query_pairs(q ? q + 1 : NULL, &A), form,
                    form ? strlen(form) : 0, &sr);
    if (location != NULL) {
        location[0] = '\0';
        for (int i = 0; i < sr.nheaders; i++)
            if (strcasecmp(sr.hname[i], "Location") == 0)
                snprintf(location, cap, "%s", sr.hvalue[i]);
    }
    buf_free(&sr.body);
    return sr.status;
}

/* The browser follows the provider's redirect back to Kassa (loc). */
static void customer_returns(int i, const char *loc)
{
    if (strncmp(loc, KASSA_URL "/pay/return/", 23) != 0)
        return;
    char att[LIMIT_ID_MAX];
    const char *a0 = loc + strlen(KASSA_URL "/pay/return/");
    size_t alen = strcspn(a0, "?");
    snprintf(att, sizeof(att), "%.*s", (int)alen, a0);
    const char *res = strstr(a0, "result=");
    const char *redirect = NULL;
    gw_err err;
    memset(&err, 0, sizeof(err));
    disk_arm();
    k_status rs = gw_attempt_return(g, att, res ? res + 7 : "success", &A, &redirect, &err);
    disk_done();
    trace("return %s %s", pays[i].id, k_status_str(rs));
}

/* The customer's steps at the provider's pages, by method: Pay Later's
 * option, e-mail and code; Pay Now's bank, login, account and TAN (now and
 * then a login the bank refuses or a wrong TAN); Alipay+'s wallet scanning
 * the code and the PIN (now and then a wrong one). */
static void customer(int i)
{
    const pay_model *pm = &pays[i];
    char url[640];
    const char *steps[4];
    size_t nsteps = 0;
    if (pm->method == M_ALIPAY) {
        const char *pid = strstr(pm->qr, "/qr/");
        if (pid == NULL || strncmp(pm->qr, SIM_URL, strlen(SIM_URL)) != 0)
            return;
        snprintf(url, sizeof(url), "%s/alipay/wallet/GCASH/pay/%s", SIM_URL, pid + 4);
        steps[nsteps++] = rng_pct(10) ? "pin=000000&return=1" : "pin=123456&return=1";
    } else {
        if (pm->attempt_url[0] == '\0' || strncmp(pm->attempt_url, SIM_URL, 15) != 0)
            return;
        snprintf(url, sizeof(url), "%s", pm->attempt_url);
        if (pm->method == M_PAY_LATER) {
            steps[nsteps++] = "step=option&option=pay_in_30&action=next";
            steps[nsteps++] = "step=email&email=customer%40email.de&action=next";
            steps[nsteps++] = "step=otp&code=123456&action=next";
        } else {
            unsigned r = (unsigned)rng_below(100);
            steps[nsteps++] = "step=bank&bank=de&action=next";
            steps[nsteps++] = r < 4   ? "step=login&username=technical&pin=1234&action=next"
                              : r < 8 ? "step=login&username=wrong&pin=1234&action=next"
                                      : "step=login&username=max&pin=1234&action=next";
            steps[nsteps++] = "step=account&account=DE89+3704&action=next";
            steps[nsteps++] =
                rng_pct(5) ? "step=tan&tan=99999&action=next" : "step=tan&tan=12345&action=next";
        }
    }
    char loc[1024] = "";
    long s = page(url, NULL, NULL, 0);
    /* some of the steps, or all and the return: mostly to the end */
    size_t n = rng_pct(25) ? 1 + rng_below(nsteps) : nsteps + rng_below(2);
    size_t k = 0;
    for (; k < nsteps && k < n && s < 500; k++)
        s = page(url, steps[k], loc, sizeof(loc));
    trace("customer %s %s steps %zu status %ld", pm->id, method_names[pm->method], k, s);
    if (k == nsteps && n > nsteps)
        customer_returns(i, loc);
}

/* ------------------------------------------------------------ steps */

static int pick_pay(void)
{
    return npays == 0 ? -1 : (int)rng_below((uint64_t)npays);
}

static void note_payment(int i, const gw_payment *p)
{
    if (p->order_ref != NULL)
        snprintf(pays[i].order_ref, sizeof(pays[i].order_ref), "%s", p->order_ref);
    if (p->m.state == PS_REQUIRES_ACTION && p->next_action_url != NULL)
        snprintf(pays[i].attempt_url, sizeof(pays[i].attempt_url), "%s", p->next_action_url);
    if (p->m.state == PS_REQUIRES_ACTION && p->qr_text != NULL)
        snprintf(pays[i].qr, sizeof(pays[i].qr), "%s", p->qr_text);
}

static void answer_trace(const char *what, int i, const call_out *o)
{
    trace("%s %s -> %s%s %s %s", what, i >= 0 ? pays[i].id : "-", k_status_str(o->st),
          o->replayed ? " replayed" : "", o->answer ? o->answer : "",
          o->err.why ? gw_why_name(o->err.why) : "");
}

static void step_create(void)
{
    if (npays == PAY_MAX)
        return;
    char key[64];
    key_new(key);
    /* Pay Later most (the most operations), then Pay Now, Alipay+, ECommPay */
    static const method_kind mix[] = {M_PAY_LATER, M_PAY_LATER, M_PAY_LATER, M_PAY_NOW,
                                      M_PAY_NOW,   M_ALIPAY,    M_ALIPAY,    M_ECP};
    method_kind mk = mix[rng_below(K_ARRAY_LEN(mix))];
    int64_t amount = 100 + (int64_t)rng_below(50000);
    call_out o = do_call(SOP_CREATE, mk, key, -1, amount, false);
    answer_trace("create", -1, &o);
    trace("  method %s", method_names[mk]);
    if (o.st == K_OK) {
        pay_model *m = &pays[npays];
        memset(m, 0, sizeof(*m));
        snprintf(m->id, sizeof(m->id), "%s", o.p.id);
        m->method = mk;
        m->acked = true;
        R.method_pays[mk]++;
        remember(SOP_CREATE, mk, key, npays, amount, false, o.answer);
        npays++;
    }
}

/* Whether the operation makes sense in the payment's state (mostly the
 * workload asks for those; sometimes for anything, to be refused). */
static bool fits(op_kind op, method_kind m, const gw_payment *p)
{
    switch (op) {
    case SOP_CONFIRM:
        return p->m.state == PS_REQUIRES_PAYMENT_METHOD;
    case SOP_CANCEL:
        if (m == M_PAY_NOW || m == M_ALIPAY) /* the customer gave up at the provider */
            return p->m.state == PS_REQUIRES_ACTION || p->m.state == PS_REQUIRES_PAYMENT_METHOD;
        return m == M_PAY_LATER && p->m.state == PS_REQUIRES_CAPTURE;
    case SOP_CAPTURE:
    case SOP_EXTEND:
        return m == M_PAY_LATER && p->m.state == PS_REQUIRES_CAPTURE;
    case SOP_REFUND:
        return p->m.captured > p->m.refunded + p->m.refund_pending;
    case SOP_CREATE:
        break;
    }
    return true;
}

static int pick_for(op_kind op)
{
    int cand[PAY_MAX], n = 0;
    for (int i = 0; i < npays; i++) {
        gw_payment p;
        if (get_payment(i, &p) && fits(op, pays[i].method, &p))
            cand[n++] = i;
    }
    if (n == 0 && rng_pct(80))
        return -1;
    if (n == 0 || rng_pct(10)) {
        /* anything, to be refused; never an act the ECommPay face has no call for */
        int i = pick_pay();
        if (i < 0)
            return -1;
        bool face = pays[i].method != M_ECP || op == SOP_CONFIRM || op == SOP_REFUND;
        return face ? i : -1;
    }
    return cand[rng_below((uint64_t)n)];
}

static void step_op(op_kind op)
{
    int i = pick_for(op);
    if (i < 0)
        return;
    gw_payment p;
    if (!get_payment(i, &p))
        return;
    int64_t amount = 0;
    bool final = rng_pct(50);
    if (op == SOP_CAPTURE) {
        int64_t left = p.m.authorized - p.m.captured - p.m.released - p.capture_pending;
        amount = left > 0 && rng_pct(70) ? 1 + (int64_t)rng_below((uint64_t)left) : 0;
        if (rng_pct(5))
            amount = left + 1; /* too much: refused, nothing changes */
    } else if (op == SOP_REFUND) {
        int64_t left = p.m.captured - p.m.refunded - p.m.refund_pending;
        amount = left > 0 && rng_pct(70) ? 1 + (int64_t)rng_below((uint64_t)left) : 0;
    }
    char key[64];
    key_new(key);
    call_out o = do_call(op, pays[i].method, key, i, amount, final);
    static const char *const names[] = {"create", "confirm", "capture",
                                        "refund", "cancel",  "extend"};
    answer_trace(names[op], i, &o);
    if (o.st != K_OK)
        return;
    remember(op, pays[i].method, key, i, amount, final, o.answer);
    if (op == SOP_REFUND) {
        if (nrefunds < REFUND_MAX) {
            snprintf(refunds[nrefunds].id, LIMIT_ID_MAX, "%s", o.r.id);
            snprintf(refunds[nrefunds].payment, LIMIT_ID_MAX, "%s", pays[i].id);
            nrefunds++;
        }
        if (strcmp(o.r.status, "failed") != 0 && strcmp(o.r.status, "canceled") != 0)
            pays[i].ack_refunded += o.r.amount;
        return;
    }
    note_payment(i, &o.p);
    /* Most customers go to the provider's pages at once (Alipay+'s code
     * lives 14 minutes, and the clock jumps further). */
    if (op == SOP_CONFIRM && o.p.m.state == PS_REQUIRES_ACTION && rng_pct(60)) {
        cur_method = (int)pays[i].method;
        customer(i);
        cur_method = -1;
    }
    if (op == SOP_CAPTURE && o.p.m.captured > pays[i].ack_captured)
        pays[i].ack_captured = o.p.m.captured;
    if (op == SOP_CANCEL && o.p.m.state == PS_CANCELED)
        pays[i].ack_canceled = true;
}

/* A call made again with its key and its parameters answers what it answered. */
static void step_retry(void)
{
    if (nretries == 0)
        return;
    retry_rec *r = &retries[rng_below((uint64_t)nretries)];
    if (clock_now_ms() - r->at_ms >= (int64_t)LIMIT_IDEMPOTENCY_TTL_S * 1000)
        return; /* the key may be pruned: a retry would be a new request */
    call_out o = do_call(r->op, r->m, r->key, r->pay, r->amount, r->final);
    answer_trace("retry", r->pay, &o);
    if (o.st == K_OK && !o.replayed)
        sim_fail("retry with key %s ran the operation again: %s", r->key, o.answer);
    if (o.st == K_OK && strcmp(o.answer, r->answer) != 0)
        sim_fail("retry with key %s answered '%s', first '%s'", r->key, o.answer, r->answer);
}

static void step_sync(void)
{
    int i = pick_pay();
    if (i < 0)
        return;
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    disk_arm();
    k_status s = gw_pi_sync(g, merchant, pays[i].id, &A, &p, &err);
    disk_done();
    trace("sync %s -> %s %s", pays[i].id, k_status_str(s),
          s == K_OK ? pay_state_name(p.m.state) : "");
    if (s == K_OK)
        note_payment(i, &p);
}

static const char *net_header(void *ctx, const char *name)
{
    const net_msg *m = ctx;
    size_t n = strlen(name);
    for (size_t h = 0; h < HTTPC_HEADERS_MAX && m->headers[h] != NULL; h++)
        if (strncasecmp(m->headers[h], name, n) == 0 && m->headers[h][n] == ':') {
            const char *v = m->headers[h] + n + 1;
            while (*v == ' ')
                v++;
            return v;
        }
    return NULL;
}

static void net_free(net_msg *m)
{
    free(m->body);
    for (size_t h = 0; h < HTTPC_HEADERS_MAX; h++)
        free(m->headers[h]);
}

/* The network hands Kassa one callback: any of those in flight (reordered),
 * sometimes keeping a copy to hand over again (duplicated). */
static void deliver_one(void)
{
    if (nnet == 0)
        return;
    int k = faults_on ? (int)rng_below((uint64_t)nnet) : 0;
    if (k != 0)
        fault(F_CB_LATE);
    net_msg m = net[k];
    bool dup = faults_on && m.copies == 0 && rng_pct(20);
    if (dup) {
        fault(F_CB_DUP);
        net[k].copies++;
        net[k].body = strdup(m.body);
        for (size_t h = 0; h < HTTPC_HEADERS_MAX; h++)
            net[k].headers[h] = m.headers[h] != NULL ? strdup(m.headers[h]) : NULL;
    } else {
        memmove(&net[k], &net[k + 1], sizeof(net[0]) * (size_t)(nnet - k - 1));
        nnet--;
    }
    /* "/providers/klarna/notify/att_...?token=..." */
    const char *rest = m.path + strlen("/providers/");
    const char *slash = strchr(rest, '/');
    char prov_name[32], att[LIMIT_ID_MAX];
    snprintf(prov_name, sizeof(prov_name), "%.*s", slash ? (int)(slash - rest) : 0, rest);
    const char *a0 = slash ? strstr(slash, "/notify/") : NULL;
    if (a0 == NULL)
        sim_fail("a callback to an unexpected path: %s", m.path);
    a0 += strlen("/notify/");
    size_t alen = strcspn(a0, "?");
    snprintf(att, sizeof(att), "%.*s", (int)alen, a0);
    const char *q = strchr(m.path, '?');
    const char **qp = query_pairs(q ? q + 1 : NULL, &A);
    const char *token = NULL;
    for (size_t i = 0; qp[i] != NULL; i += 2)
        if (strcmp(qp[i], "token") == 0)
            token = qp[i + 1];
    prov_inbound in = {.method = "POST",
                       .path = arena_strndup(&A, m.path, q ? (size_t)(q - m.path) : strlen(m.path)),
                       .query = q ? q + 1 : "",
                       .body = m.body,
                       .body_len = strlen(m.body),
                       .header = net_header,
                       .header_ctx = &m};
    int ack = 0;
    const char *ack_body = NULL;
    gw_err err;
    memset(&err, 0, sizeof(err));
    disk_arm();
    k_status s = gw_provider_notice(g, prov_name, att, token, &in, &A, &ack, &ack_body, &err);
    disk_done();
    trace("callback %s %s%s -> %s %d", prov_name, att, dup ? " (kept a copy)" : "", k_status_str(s),
          ack);
    net_free(&m);
}

static void tick_run(void *arg)
{
    (void)arg;
    gw_tick(g);
}

static void step_tick(void)
{
    disk_arm();
    if (guarded(tick_run, NULL))
        disk_done();
    trace("tick");
}

static void step_dispatch(void)
{
    disk_arm();
    gw_dispatch_step(g);  /* claims and sends (the transport answers at once) */
    gw_dispatch_flush(g); /* records the outcomes */
    if (disk_done()) {
        /* The 2xx answers of this round may be unrecorded: they may go again. */
        record_failures++;
        for (int i = 0; i < nhooks; i++)
            if (hooks[i].step == step_no)
                hooks[i].unknown++;
    }
    trace("dispatch");
}

static void step_jump(void)
{
    static const int64_t spans[] = {1000, 30000, 30000, 600000, 600000, 3600000, 3600000, 86400000};
    int64_t ms = spans[rng_below(K_ARRAY_LEN(spans))];
    ms += (int64_t)rng_below((uint64_t)ms);
    clock_advance_ms(ms);
    trace("clock +%lld ms", (long long)ms);
}

static void crash_reopen(const char *why)
{
    close_kassa();
    open_kassa();
    trace("%s", why);
    check_all(true);
}

static void step_crash(void)
{
    fault(F_CRASH);
    crash_reopen("crash, reopened");
}

static void one_step(void)
{
    unsigned r = (unsigned)rng_below(100);
    if (r < 8)
        step_create();
    else if (r < 16)
        step_op(SOP_CONFIRM);
    else if (r < 26) {
        int i = pick_pay();
        gw_payment p;
        if (i >= 0 && get_payment(i, &p)) {
            note_payment(i, &p);
            cur_method = (int)pays[i].method;
            customer(i);
            cur_method = -1;
        }
    } else if (r < 34) {
        sim_server_tick(srv);
        trace("provider tick");
    } else if (r < 44)
        deliver_one();
    else if (r < 48)
        step_sync();
    else if (r < 57)
        step_op(SOP_CAPTURE);
    else if (r < 64)
        step_op(SOP_REFUND);
    else if (r < 67)
        step_op(SOP_CANCEL);
    else if (r < 70)
        step_op(SOP_EXTEND);
    else if (r < 76)
        step_retry();
    else if (r < 82)
        step_jump();
    else if (r < 89)
        step_tick();
    else if (r < 97)
        step_dispatch();
    else if (faults_on)
        step_crash();
}

/* ------------------------------------------------------------ the end */

/* The provider's view of one order: captured and refunded, to the cent. */
static void provider_order(const char *order_ref, int64_t *captured, int64_t *refunded,
                           const char **status)
{
    httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    buf_init(&resp.body, LIMIT_RESPONSE_MAX);
    buf_init(&resp.headers, LIMIT_HTTP_HEADER_MAX);
    char url[256];
    snprintf(url, sizeof(url), "%s/klarna/ordermanagement/v1/orders/%s", SIM_URL, order_ref);
    const char *const hdrs[] = {"Authorization", "Basic c2ltOnNpbQ==", NULL}; /* sim:sim */
    call_sim("GET", url, hdrs, NULL, 0, &resp, &A);
    json_t *doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    if (resp.status != 200 || doc == NULL)
        sim_fail("the provider does not know order %s (%ld)", order_ref, resp.status);
    *captured = json_integer_value(json_object_get(doc, "captured_amount"));
    *refunded = json_integer_value(json_object_get(doc, "refunded_amount"));
    *status = arena_strdup(&A, json_string_value(json_object_get(doc, "status")));
    json_decref(doc);
    httpc_resp_free(&resp);
}

/* Antom's view of one payment: what the customer is out (paid less refunded). */
static int64_t provider_alipay_net(const char *payment_ref, const char **status)
{
    char path[256];
    snprintf(path, sizeof(path), "/alipay/_sim/payments/%s", payment_ref);
    sim_response sr = {.status = 500};
    buf_init(&sr.body, LIMIT_RESPONSE_MAX);
    sim_server_call(srv, "GET", path, NULL, NULL, NULL, 0, &sr);
    json_t *doc = json_loadb(sr.body.data ? sr.body.data : "", sr.body.len, 0, NULL);
    buf_free(&sr.body);
    if (sr.status != 200 || doc == NULL)
        sim_fail("Antom does not know payment %s (%d)", payment_ref, sr.status);
    const char *st_ = json_string_value(json_object_get(doc, "status"));
    *status = arena_strdup(&A, st_ != NULL ? st_ : "?");
    /* CANCELLED gave a paid amount back in full, FAIL never took it */
    int64_t net_ = strcmp(*status, "SUCCESS") == 0
                       ? json_integer_value(json_object_get(doc, "amount")) -
                             json_integer_value(json_object_get(doc, "refunded"))
                       : 0;
    json_decref(doc);
    return net_;
}

/* Kassa and the provider agree on a payment's money, to the cent. */
static void check_provider(int i, const gw_payment *p)
{
    if (pays[i].method == M_ALIPAY) {
        if (p->provider_ref == NULL)
            return; /* never reached Antom */
        const char *status = NULL;
        int64_t net_ = provider_alipay_net(p->provider_ref, &status);
        trace("final %s %s kassa %lld/%lld antom net %lld %s", p->id, pay_state_name(p->m.state),
              (long long)p->m.captured, (long long)p->m.refunded, (long long)net_, status);
        if (net_ != p->m.captured - p->m.refunded)
            sim_fail("%s: Kassa captured %lld refunded %lld, Antom %s with %lld paid net", p->id,
                     (long long)p->m.captured, (long long)p->m.refunded, status, (long long)net_);
        return;
    }
    if (p->order_ref == NULL)
        return;
    int64_t cap = 0, ref = 0;
    const char *status = NULL;
    provider_order(p->order_ref, &cap, &ref, &status);
    trace("final %s %s kassa %lld/%lld klarna %lld/%lld %s", p->id, pay_state_name(p->m.state),
          (long long)p->m.captured, (long long)p->m.refunded, (long long)cap, (long long)ref,
          status ? status : "?");
    if (cap != p->m.captured || ref != p->m.refunded)
        sim_fail("%s: Kassa captured %lld refunded %lld, Klarna captured %lld refunded %lld", p->id,
                 (long long)p->m.captured, (long long)p->m.refunded, (long long)cap,
                 (long long)ref);
}

/* An event the dispatcher gave up on by the rules: every delivery failed,
 * its last attempt at or past the horizon (Kassa's clock jumped past three
 * days while the receiver failed) or the attempts used up. */
static bool gave_up(const gw_event *ev)
{
    json_t *ds = NULL;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_event_deliveries(g, merchant, ev->id, &A, &ds, &err) != K_OK)
        return false;
    bool all = json_array_size(ds) > 0;
    for (size_t i = 0; i < json_array_size(ds); i++) {
        json_t *d = json_array_get(ds, i);
        json_t *log = json_object_get(d, "attempts_log");
        json_t *last = json_array_get(log, json_array_size(log) - 1);
        int64_t at = json_integer_value(json_object_get(last, "at"));
        int64_t attempts = json_integer_value(json_object_get(d, "attempts"));
        const char *state = json_string_value(json_object_get(d, "state"));
        bool horizon = at >= ev->created + LIMIT_WEBHOOK_HORIZON_S;
        if (state == NULL || strcmp(state, "failed") != 0 ||
            !(horizon || attempts >= LIMIT_WEBHOOK_ATTEMPTS_MAX))
            all = false;
    }
    return all; /* ds belongs to the arena */
}

/* An ECommPay payment's event went to its own callback URL ("cb:" delivery):
 * delivered, skipped (ECommPay sends nothing for that event) or given up by
 * the rules. */
static void check_callback_delivered(const gw_event *ev)
{
    json_t *ds = NULL;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_event_deliveries(g, merchant, ev->id, &A, &ds, &err) != K_OK)
        sim_fail("event %s: its deliveries cannot be read", ev->id);
    for (size_t i = 0; i < json_array_size(ds); i++) {
        json_t *d = json_array_get(ds, i);
        const char *ep = json_string_value(json_object_get(d, "endpoint"));
        const char *state = json_string_value(json_object_get(d, "state"));
        if (ep == NULL || strncmp(ep, "cb:", 3) != 0 || state == NULL)
            continue;
        if (strcmp(state, "delivered") != 0 && strcmp(state, "skipped") != 0 && !gave_up(ev))
            sim_fail("event %s (%s): its ECommPay callback is %s", ev->id, ev->type, state);
    }
}

/* Faults off, time passes, every timer and callback runs out: then Kassa and
 * the provider agree, and every event reached the receiver. */
static void settle(void)
{
    faults_on = false;
    for (int round = 0; round < 40; round++) {
        step_no++;
        clock_advance_ms(11 * 60 * 1000); /* past the janitor's recheck and the leases */
        sim_server_tick(srv);
        while (nnet > 0)
            deliver_one();
        gw_tick(g);
        gw_dispatch_step(g);
        gw_dispatch_flush(g);
        arena_release(&A);
        arena_init(&A, 0);
    }
    trace("settled");
    check_all(false);
    for (int i = 0; i < npays; i++) {
        gw_payment p;
        if (!get_payment(i, &p))
            continue;
        if (p.capture_pending != 0 || p.m.refund_pending != 0 ||
            (p.reconcile_at != 0 && p.m.state == PS_REQUIRES_CAPTURE))
            sim_fail(
                "%s still waits after the quiet phase: capture %lld refund %lld reconcile %lld",
                p.id, (long long)p.capture_pending, (long long)p.m.refund_pending,
                (long long)p.reconcile_at);
        check_provider(i, &p);
    }
    /* Every event of the merchant reached the receiver with a 2xx, once; a
     * second time only where the dispatcher's record of a 2xx failed. */
    store_list_q q = {.limit = 100};
    int64_t dups = 0, events = 0, expired = 0;
    for (;;) {
        gw_event *evs;
        size_t n;
        bool more;
        gw_err err;
        memset(&err, 0, sizeof(err));
        if (gw_event_list(g, merchant, &q, &A, &evs, &n, &more, &err) != K_OK)
            sim_fail("events cannot be listed");
        for (size_t k = 0; k < n; k++) {
            events++;
            check_callback_delivered(&evs[k]);
            int h = 0;
            while (h < nhooks && strcmp(hooks[h].id, evs[k].id) != 0)
                h++;
            if (h == nhooks || hooks[h].ok == 0) {
                if (gave_up(&evs[k])) {
                    expired++;
                    continue;
                }
                sim_fail("event %s (%s) never reached the receiver", evs[k].id, evs[k].type);
            }
            dups += hooks[h].ok - 1;
            if (hooks[h].ok - 1 > hooks[h].unknown)
                sim_fail("event %s reached the receiver %d times, %d of them unrecorded", evs[k].id,
                         hooks[h].ok, hooks[h].unknown);
        }
        if (!more || n == 0)
            break;
        q.starting_after = arena_strdup(&A, evs[n - 1].id);
    }
    R.events = events;
    trace("events %lld duplicates %lld given up %lld unrecorded rounds %lld", (long long)events,
          (long long)dups, (long long)expired, (long long)record_failures);
}

/* ------------------------------------------------------------ one run */

static int report_fd = -1;

static void report(void)
{
    if (report_fd >= 0) {
        ssize_t w = write(report_fd, &R, sizeof(R));
        (void)w;
    }
}

static void run(uint64_t seed, int steps)
{
    memset(&R, 0, sizeof(R));
    R.seed = seed;
    R.steps = steps;
    R.hash = 0xcbf29ce484222325ULL;
    rng_state = seed;
    log_set_level(LOG_ERROR);
    clock_fake_start(START_MS);
    crypto_random_fake_seed(seed ^ 0x5ca1ab1eULL);
    httpc_set_transport(transport, NULL);
    /* tmpfs when there is one: a run commits thousands of times, and fsync on a
     * disk would be most of its time (durability across a crash is about the
     * file, which the reopen reads back either way). */
    snprintf(dir, sizeof(dir), "%s/kassa-sim-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL)
        sim_fail("no temporary directory");
    snprintf(dbpath, sizeof(dbpath), "%s/kassa.db", dir);
    if (sim_server_local(&srv, SIM_URL) != K_OK || klarna_sim_register(srv) != K_OK ||
        alipay_sim_register(srv) != K_OK)
        sim_fail("the simulators do not start");
    /* the connectors fetch the sandbox accounts (Antom's keys) over the network */
    if (provider_sandbox_attach(SIM_URL) != K_OK)
        sim_fail("the connectors do not attach to the simulators");
    arena_init(&A, 0);
    open_kassa();
    gw_merchant_keys keys;
    if (gw_merchant_create(g, "Sim shop", &A, &keys) != K_OK)
        sim_fail("no merchant");
    snprintf(merchant, sizeof(merchant), "%s", keys.id);
    snprintf(ecp_secret, sizeof(ecp_secret), "%s", keys.ecp_secret ? keys.ecp_secret : "");
    json_t *all = json_pack("[s]", "*");
    gw_endpoint_params ep = {.url = HOOK_URL, .enabled_events = all, .disabled = -1};
    gw_endpoint out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_endpoint_create(g, merchant, &ep, NULL, &A, &out, &err) != K_OK)
        sim_fail("no webhook endpoint: %s", err.message);
    json_decref(all);
    const char *tf = getenv("KASSA_SIM_TRACE");
    trace_file = tf != NULL ? fopen(tf, "w") : NULL;
    if (trace_file != NULL)
        setvbuf(trace_file, NULL, _IOLBF, 0);
    trace("seed %llu merchant %s", (unsigned long long)seed, merchant);
    faults_on = true;
    for (step_no = 1; step_no <= steps; step_no++) {
        one_step();
        check_all(false);
        arena_release(&A);
        arena_init(&A, 0);
    }
    settle();
    R.ok = true;
    if (trace_file != NULL)
        fclose(trace_file);
    arena_release(&A);
    close_kassa();
    sim_server_stop(srv);
    for (int i = 0; i < nnet; i++)
        net_free(&net[i]);
    const char *const files[] = {"kassa.db", "kassa.db-wal", "kassa.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Runs a seed in a child process (fresh statics everywhere) and reads its result. */
static run_result run_child(uint64_t seed, int steps)
{
    int fds[2];
    run_result res;
    memset(&res, 0, sizeof(res));
    res.seed = seed;
    if (pipe(fds) != 0) {
        snprintf(res.why, sizeof(res.why), "pipe failed");
        return res;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(300); /* a run that hangs (a deadlock) dies and fails */
        report_fd = fds[1];
        run(seed, steps);
        report();
        close(fds[1]);
        if (crashed_mid_call)
            _exit(0); /* a dead stack's memory is lost by design: no leak check */
        exit(0);      /* LeakSanitizer looks at the child too */
    }
    close(fds[1]);
    ssize_t n = read(fds[0], &res, sizeof(res));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n != (ssize_t)sizeof(res)) {
        memset(&res, 0, sizeof(res));
        res.seed = seed;
        snprintf(res.why, sizeof(res.why), "the run died (status %d)", status);
    } else if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && res.ok)) {
        res.ok = false;
        snprintf(res.why, sizeof(res.why), "the run exited with status %d", status);
    }
    return res;
}

static void print_result(const run_result *r)
{
    printf("seed %llu: %s hash %016llx steps %d calls %lld events %lld",
           (unsigned long long)r->seed, r->ok ? "ok" : "FAILED", (unsigned long long)r->hash,
           r->steps, (long long)r->calls, (long long)r->events);
    for (int k = 0; k < F__COUNT; k++)
        printf(" %s=%lld", fault_names[k], (long long)r->faults[k]);
    printf("\n  per method (payments/calls/faults):");
    for (int k = 0; k < M__COUNT; k++)
        printf(" %s=%lld/%lld/%lld", method_names[k], (long long)r->method_pays[k],
               (long long)r->method_calls[k], (long long)r->method_faults[k]);
    printf(" ecommpay_callbacks=%lld\n", (long long)r->ecp_callbacks);
    if (!r->ok)
        printf("  %s\n  replay: KASSA_SIM_SEED=%llu build-asan/tests/test_simulation\n", r->why,
               (unsigned long long)r->seed);
}

/* Two runs of a seed: both pass and give one trace hash. */
static bool seed_twice(uint64_t seed, int steps)
{
    run_result a = run_child(seed, steps);
    print_result(&a);
    if (!a.ok)
        return false;
    run_result b = run_child(seed, steps);
    if (b.hash != a.hash || !b.ok) {
        print_result(&b);
        printf("  seed %llu did not replay: hash %016llx then %016llx\n", (unsigned long long)seed,
               (unsigned long long)a.hash, (unsigned long long)b.hash);
        return false;
    }
    return true;
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v ? atoi(v) : dflt;
}

/* ------------------------------------------------------------ tests */

static void test_regression_seeds(void **state)
{
    (void)state;
    int steps = env_int("KASSA_SIM_STEPS", STEPS_CI);
    bool ok = true;
    for (size_t i = 0; i < K_ARRAY_LEN(regression_seeds); i++)
        ok = seed_twice(regression_seeds[i], steps) && ok;
    assert_true(ok);
}

static void test_random_seeds(void **state)
{
    (void)state;
    int steps = env_int("KASSA_SIM_STEPS", STEPS_CI);
    uint64_t base = (uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid();
    bool ok = true;
    for (int i = 0; i < 1; i++) /* one new seed per run; a failure prints its replay */
        ok = seed_twice((base + (uint64_t)i * 7919ULL) % 1000000000ULL, steps) && ok;
    assert_true(ok);
}

/* A different seed gives a different history (the hash says something). */
static void test_seeds_differ(void **state)
{
    (void)state;
    run_result a = run_child(11, 60), b = run_child(12, 60);
    assert_true(a.ok && b.ok);
    assert_true(a.hash != b.hash);
}

/* KASSA_SIM_SEEDS=N: N seeds from KASSA_SIM_BASE (default 1000), figures at the end. */
static int long_run(int seeds, int steps)
{
    uint64_t base = (uint64_t)env_int("KASSA_SIM_BASE", 1000);
    run_result total;
    memset(&total, 0, sizeof(total));
    int failed = 0;
    time_t t0 = time(NULL);
    for (int i = 0; i < seeds; i++) {
        run_result r = run_child(base + (uint64_t)i, steps);
        if (!r.ok) {
            print_result(&r);
            failed++;
        }
        total.steps += r.steps;
        total.calls += r.calls;
        total.events += r.events;
        total.ecp_callbacks += r.ecp_callbacks;
        for (int k = 0; k < F__COUNT; k++)
            total.faults[k] += r.faults[k];
        for (int k = 0; k < M__COUNT; k++) {
            total.method_pays[k] += r.method_pays[k];
            total.method_calls[k] += r.method_calls[k];
            total.method_faults[k] += r.method_faults[k];
        }
    }
    printf("sim-long: %d seeds from %llu, %d steps each, %lld steps, %lld gateway calls, %lld "
           "events, %d failed, %lld s\n",
           seeds, (unsigned long long)base, steps, (long long)total.steps, (long long)total.calls,
           (long long)total.events, failed, (long long)(time(NULL) - t0));
    printf("faults:");
    for (int k = 0; k < F__COUNT; k++)
        printf(" %s=%lld", fault_names[k], (long long)total.faults[k]);
    printf("\nper method (payments/calls/faults):");
    for (int k = 0; k < M__COUNT; k++)
        printf(" %s=%lld/%lld/%lld", method_names[k], (long long)total.method_pays[k],
               (long long)total.method_calls[k], (long long)total.method_faults[k]);
    printf(" ecommpay_callbacks=%lld", (long long)total.ecp_callbacks);
    printf("\n%d passed, %d failed\n", seeds - failed, failed);
    return failed == 0 ? 0 : 1;
}

int main(void)
{
    int steps = env_int("KASSA_SIM_STEPS", STEPS_CI);
    const char *one = getenv("KASSA_SIM_SEED");
    if (one != NULL && *one) {
        uint64_t seed = strtoull(one, NULL, 10);
        run_result r = run_child(seed, steps);
        print_result(&r);
        return r.ok ? 0 : 1;
    }
    int seeds = env_int("KASSA_SIM_SEEDS", 0);
    if (seeds > 0)
        return long_run(seeds, steps);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_seeds),
        cmocka_unit_test(test_seeds_differ),
        cmocka_unit_test(test_random_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
