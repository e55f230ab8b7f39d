/*
 * sim_server.c - the simulators' HTTP listener (see sim_server.h): one
 * libmicrohttpd daemon with a thread per connection, a small prefix table and
 * a body collector capped at LIMIT_HTTP_BODY_MAX. Simulators may sleep in a
 * handler (fault injection delays) without holding up other connections.
 */
#include "sim_server.h"
#include "../base/crypto.h"
#include "../base/favicon.h"
#include "../base/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    bool local; /* sim_server_local: no daemon */
    struct {
        sim_tick_fn fn;
        void *ctx;
    } ticks[SIM_PREFIXES_MAX];
    int nticks;
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
    if (strcmp(url, "/favicon.ico") == 0) { /* browsers ask for it on every page */
        sim_response fav = {.status = 200, .content_type = FAVICON_CONTENT_TYPE};
        size_t n;
        const char *icon = favicon_svg(&n);
        buf_init(&fav.body, n + 1);
        buf_append(&fav.body, icon, n);
        enum MHD_Result ok = sim_send(c, &fav);
        buf_free(&fav.body);
        return ok;
    }
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
    /* poll(), not select(): with LIMIT_SIM_CONNECTIONS_MAX connections, and inside a Kassa
     * that has as many of its own, descriptors pass FD_SETSIZE. */
    srv->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, sim_access, srv, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
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

k_status sim_server_local(sim_server **out, const char *url)
{
    K_ASSERT(out != NULL && url != NULL);
    sim_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return K_ENOMEM;
    pthread_mutex_init(&srv->mu, NULL);
    srv->local = true;
    snprintf(srv->url, sizeof(srv->url), "%s", url);
    *out = srv;
    return K_OK;
}

bool sim_server_is_local(const sim_server *srv)
{
    return srv->local;
}

void sim_server_call(sim_server *srv, const char *method, const char *path,
                     const char *const *headers, const char *const *query, const char *body,
                     size_t body_len, sim_response *resp)
{
    K_ASSERT(srv != NULL && srv->local);
    sim_route route;
    if (!sim_find(srv, path, &route)) {
        resp->status = 404;
        resp->content_type = "text/plain";
        buf_append_str(&resp->body, "no simulator here\n");
        return;
    }
    sim_request req = {.method = method,
                       .path = path + strlen(route.prefix),
                       .body = body ? body : "",
                       .body_len = body ? body_len : 0,
                       .headers = headers,
                       .query = query};
    route.fn(route.ctx, &req, resp);
}

k_status sim_server_set_tick(sim_server *srv, sim_tick_fn fn, void *ctx)
{
    K_ASSERT(srv != NULL && srv->local && fn != NULL);
    if (srv->nticks >= SIM_PREFIXES_MAX)
        return K_ETOOBIG;
    srv->ticks[srv->nticks].fn = fn;
    srv->ticks[srv->nticks].ctx = ctx;
    srv->nticks++;
    return K_OK;
}

void sim_server_tick(sim_server *srv)
{
    for (int i = 0; i < srv->nticks; i++)
        srv->ticks[i].fn(srv->ticks[i].ctx);
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
    if (srv->d)
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

static const char *sim_pair(const char *const *pairs, const char *name, bool nocase)
{
    for (size_t i = 0; pairs != NULL && pairs[i] != NULL && pairs[i + 1] != NULL; i += 2)
        if (nocase ? strcasecmp(pairs[i], name) == 0 : strcmp(pairs[i], name) == 0)
            return pairs[i + 1];
    return NULL;
}

const char *sim_request_header(const sim_request *req, const char *name)
{
    if (req->conn == NULL)
        return sim_pair(req->headers, name, true);
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *sim_request_query(const sim_request *req, const char *name)
{
    if (req->conn == NULL)
        return sim_pair(req->query, name, false);
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* "Basic base64(user:pass)" of an in-process call. */
static bool sim_local_auth(const sim_request *req, char **user, char **pass)
{
    const char *h = sim_request_header(req, "Authorization");
    if (h == NULL || strncmp(h, "Basic ", 6) != 0)
        return false;
    uint8_t dec[512];
    long n = crypto_b64_decode(h + 6, strlen(h + 6), dec, sizeof(dec) - 1);
    if (n <= 0)
        return false;
    dec[n] = '\0';
    char *colon = strchr((char *)dec, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    *user = strdup((char *)dec);
    *pass = strdup(colon + 1);
    return true;
}

bool sim_request_basic_auth(const sim_request *req, char **user, char **pass)
{
    *pass = NULL;
    *user = NULL;
    if (req->conn == NULL)
        sim_local_auth(req, user, pass);
    else
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

void sim_tick_wait(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += SIM_TICK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}
