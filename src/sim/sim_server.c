/*
 * sim_server.c - the simulators' HTTP listener (see sim_server.h): one
 * libmicrohttpd daemon with a thread per connection, a small prefix table and
 * a body collector capped at LIMIT_HTTP_BODY_MAX. Simulators may sleep in a
 * handler (fault injection delays) without holding up other connections.
 */
#include "sim_server.h"
#include "../base/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_PREFIXES_MAX 4

typedef struct {
    char prefix[32];
    sim_handler_fn fn;
    sim_stop_fn stop;
    void *ctx;
} sim_route;

struct sim_server {
    struct MHD_Daemon *d;
    uint16_t port;
    char url[64];
    pthread_mutex_t mu;
    sim_route routes[SIM_PREFIXES_MAX];
    int nroutes;
};

/* Per-connection request state: the body as it arrives. */
typedef struct {
    buf body;
    bool toobig;
} sim_conn;

static const sim_route *sim_find(sim_server *srv, const char *url, sim_route *copy)
{
    const sim_route *found = NULL;
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->nroutes; i++) {
        size_t n = strlen(srv->routes[i].prefix);
        if (strncmp(url, srv->routes[i].prefix, n) == 0 && (url[n] == '/' || url[n] == '\0')) {
            *copy = srv->routes[i];
            found = copy;
            break;
        }
    }
    pthread_mutex_unlock(&srv->mu);
    return found;
}

static enum MHD_Result sim_send(struct MHD_Connection *c, sim_response *r)
{
    struct MHD_Response *mr = MHD_create_response_from_buffer(
        r->body.len, r->body.data ? r->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(mr, "Content-Type", r->content_type);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(mr, r->hname[i], r->hvalue[i]);
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

static enum MHD_Result sim_plain(struct MHD_Connection *c, int status, const char *text)
{
    sim_response r = {.status = status, .content_type = "text/plain; charset=utf-8"};
    buf_init(&r.body, 1024);
    buf_append_str(&r.body, text);
    enum MHD_Result ok = sim_send(c, &r);
    buf_free(&r.body);
    return ok;
}

static enum MHD_Result sim_access(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    sim_server *srv = cls;
    sim_conn *sc = *con_cls;
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return MHD_NO;
        buf_init(&sc->body, LIMIT_HTTP_BODY_MAX);
        *con_cls = sc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&sc->body, upload, *upload_size) != K_OK)
            sc->toobig = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (sc->toobig)
        return sim_plain(c, 413, "request body too large\n");
    sim_route route;
    if (!sim_find(srv, url, &route))
        return sim_plain(c, 404, "no simulator here\n");
    sim_request req = {
        .method = method,
        .path = url + strlen(route.prefix),
        .body = sc->body.data ? sc->body.data : "",
        .body_len = sc->body.len,
        .conn = c,
    };
    sim_response resp = {.status = 500};
    buf_init(&resp.body, LIMIT_RESPONSE_MAX);
    route.fn(route.ctx, &req, &resp);
    enum MHD_Result ok = sim_send(c, &resp);
    buf_free(&resp.body);
    return ok;
}

static void sim_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    sim_conn *sc = *con_cls;
    if (!sc)
        return;
    buf_free(&sc->body);
    free(sc);
    *con_cls = NULL;
}

k_status sim_server_start(sim_server **out, const char *host, uint16_t port)
{
    K_ASSERT(out != NULL);
    sim_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return K_ENOMEM;
    pthread_mutex_init(&srv->mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1) {
        free(srv);
        return K_EINVAL;
    }
    srv->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, sim_access, srv, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
        sim_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_SIM_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_HTTP_TIMEOUT_S, MHD_OPTION_END);
    if (!srv->d) {
        log_error("sim_server: cannot listen on '%s:%u'", host ? host : "127.0.0.1", port);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        return K_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : port;
    snprintf(srv->url, sizeof(srv->url), "http://%s:%u", host ? host : "127.0.0.1", srv->port);
    *out = srv;
    return K_OK;
}

uint16_t sim_server_port(sim_server *srv)
{
    return srv->port;
}

const char *sim_server_url(sim_server *srv)
{
    return srv->url;
}

void sim_server_stop(sim_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->d);
    for (int i = 0; i < srv->nroutes; i++)
        if (srv->routes[i].stop)
            srv->routes[i].stop(srv->routes[i].ctx);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

k_status sim_server_register(sim_server *srv, const char *prefix, sim_handler_fn fn,
                             sim_stop_fn stop, void *ctx)
{
    K_ASSERT(srv != NULL && fn != NULL);
    K_ASSERT(prefix != NULL && prefix[0] == '/');
    if (strlen(prefix) >= sizeof(srv->routes[0].prefix))
        return K_EINVAL;
    k_status st = K_OK;
    pthread_mutex_lock(&srv->mu);
    if (srv->nroutes >= SIM_PREFIXES_MAX) {
        st = K_ETOOBIG;
    } else {
        sim_route *r = &srv->routes[srv->nroutes++];
        snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
        r->fn = fn;
        r->stop = stop;
        r->ctx = ctx;
    }
    pthread_mutex_unlock(&srv->mu);
    return st;
}

const char *sim_request_header(const sim_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *sim_request_query(const sim_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool sim_request_basic_auth(const sim_request *req, char **user, char **pass)
{
    *pass = NULL;
    *user = MHD_basic_auth_get_username_password(req->conn, pass);
    if (!*user || !*pass) {
        free(*user);
        free(*pass);
        *user = *pass = NULL;
        return false;
    }
    return true;
}

void sim_response_header(sim_response *resp, const char *name, const char *value)
{
    K_ASSERT(resp->nheaders < SIM_HEADERS_MAX);
    snprintf(resp->hname[resp->nheaders], sizeof(resp->hname[0]), "%s", name);
    snprintf(resp->hvalue[resp->nheaders], sizeof(resp->hvalue[0]), "%s", value);
    resp->nheaders++;
}
