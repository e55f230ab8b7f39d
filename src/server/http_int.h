/*
 * http_int.h - internals shared by the server module's files (http.c, router.c,
 * metrics.c); nothing outside src/server includes this.
 *
 * router.c matches a method and a decoded path against the route table;
 * metrics.c holds the process-wide registry that /metrics renders.
 */
#ifndef KASSA_HTTP_INT_H
#define KASSA_HTTP_INT_H

#include "http.h"

#include <microhttpd.h>

/* What router_match found. */
typedef enum {
    ROUTER_FOUND = 0, /* *index set, params filled */
    ROUTER_NO_PATH,   /* no pattern matches the path: 404 */
    ROUTER_NO_METHOD, /* a pattern matches with another method: 405, allow filled */
} router_result;

#define ROUTER_ALLOW_MAX 128 /* "GET, POST, DELETE" and the like */

/* Finds the first route (table order) whose method and pattern match; HEAD matches
 * GET routes. On ROUTER_FOUND, *index is the route and req->params/nparams hold the
 * values copied into a; *st is K_ENOMEM when a is past its maximum (then the
 * result is ROUTER_FOUND with no params: the caller answers 500). A trailing "*"
 * adds the rest of the path (possibly "") as one more param after the :names.
 * On ROUTER_NO_METHOD, allow receives "GET, POST" (the matching patterns' methods). */
router_result router_match(const http_route *routes, size_t nroutes, const char *method,
                           const char *path, arena *a, http_req *req, size_t *index,
                           char allow[ROUTER_ALLOW_MAX], k_status *st);

/* true when a pattern is well formed: starts with '/', at most HTTP_PARAMS_MAX
 * :params (HTTP_PARAMS_MAX - 1 with a trailing *), "*" only as the last segment. */
bool router_pattern_valid(const char *pattern);

/* The request-head deadline (headguard.c). hg_on_connection is MHD's
 * MHD_OPTION_NOTIFY_CONNECTION callback (cls = the headguard); the access
 * handler reports a complete head, the completion callback a finished request. */
typedef struct headguard headguard;
typedef struct hg_conn hg_conn;
headguard *hg_new(int deadline_s); /* starts the sweeper thread; NULL on failure */
void hg_free(headguard *g);        /* after MHD has stopped */
void hg_head_done(headguard *g, struct MHD_Connection *conn);
void hg_request_done(headguard *g, struct MHD_Connection *conn);
void hg_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* Appends the registered metrics and the collectors' lines (Prometheus text 0.0.4). */
void metrics_render(buf *out);

#endif
