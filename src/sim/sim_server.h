/*
 * sim_server.h - the provider simulators' own HTTP listener.
 *
 * One libmicrohttpd daemon (a thread per connection) that dispatches by path
 * prefix to registered simulators: the Klarna simulator under "/klarna", later
 * Alipay+ under "/alipay". It never uses server/ (providers sit below api and
 * server in the layering); it is what the sandbox and the tests talk to.
 */
#ifndef KASSA_SIM_SERVER_H
#define KASSA_SIM_SERVER_H

#include <pthread.h>

#include "../base/common.h"
#include "../base/buf.h"
#include "../limits.h"

typedef struct sim_server sim_server;

/* One request as a simulator sees it. `path` is what follows the prefix
 * ("/payments/v1/sessions"); body is NUL-terminated. */
typedef struct sim_request {
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    void *conn; /* struct MHD_Connection *; NULL for a call made in-process */
    /* In-process calls (sim_server_call): NULL-terminated name, value pairs,
     * the query's already decoded. */
    const char *const *headers;
    const char *const *query;
} sim_request;

#define SIM_HEADERS_MAX 4

/* What a simulator answers. The handler fills status, content_type, body and
 * up to SIM_HEADERS_MAX extra headers (name, value pairs, copied). */
typedef struct sim_response {
    int status;
    const char *content_type; /* static string; NULL = none */
    buf body;
    char hname[SIM_HEADERS_MAX][32];
    char hvalue[SIM_HEADERS_MAX][LIMIT_URL_MAX + 256];
    int nheaders;
} sim_response;

typedef void (*sim_handler_fn)(void *ctx, const sim_request *req, sim_response *resp);
typedef void (*sim_stop_fn)(void *ctx);

/* Listens on host:port (port 0 = any free port). */
k_status sim_server_start(sim_server **out, const char *host, uint16_t port);
uint16_t sim_server_port(sim_server *srv);
const char *sim_server_url(sim_server *srv); /* "http://127.0.0.1:port", no slash */
/* Stops the daemon, then calls every simulator's stop function. */
void sim_server_stop(sim_server *srv);

/* Tests only (the deterministic simulation): a server with no listener and
 * no threads, reached with sim_server_call; `url` ("http://sim.test") is
 * what the simulators put in the links they hand out. Its simulators start no
 * ticker thread: sim_server_tick runs one round of each. */
k_status sim_server_local(sim_server **out, const char *url);
bool sim_server_is_local(const sim_server *srv);
/* One request to the simulator whose prefix starts `path` ("/klarna/..."),
 * on the caller's thread; resp->body must be initialised. 404 when no
 * simulator has that prefix. */
void sim_server_call(sim_server *srv, const char *method, const char *path,
                     const char *const *headers, const char *const *query, const char *body,
                     size_t body_len, sim_response *resp);
/* A local server's round of due work (callbacks, settlements): fn(ctx). */
typedef void (*sim_tick_fn)(void *ctx);
k_status sim_server_set_tick(sim_server *srv, sim_tick_fn fn, void *ctx);
void sim_server_tick(sim_server *srv);

/* Adds a simulator under `prefix` ("/klarna"); stop(ctx) runs at sim_server_stop.
 * K_ETOOBIG when SIM_PREFIXES_MAX simulators are registered already. */
k_status sim_server_register(sim_server *srv, const char *prefix, sim_handler_fn fn,
                             sim_stop_fn stop, void *ctx);

/* Request helpers (values owned by the server, valid during the handler). */
const char *sim_request_header(const sim_request *req, const char *name);
const char *sim_request_query(const sim_request *req, const char *name);
/* Basic auth credentials; false when absent. Caller frees both with free(). */
bool sim_request_basic_auth(const sim_request *req, char **user, char **pass);

/* Response helpers. */
void sim_response_header(sim_response *resp, const char *name, const char *value);

/* The simulators' shared tick: each simulator's ticker thread (due callbacks,
 * settling orders, notification retries) sleeps here between rounds, on its
 * own cv with its own mu held, until signalled or SIM_TICK_MS pass. */
#define SIM_TICK_MS 100
void sim_tick_wait(pthread_cond_t *cv, pthread_mutex_t *mu);

#endif
