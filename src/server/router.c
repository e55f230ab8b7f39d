/*
 * router.c - matches "METHOD /decoded/path" against the route table (http.h).
 *
 * Patterns are literal segments, ":name" segments (one non-empty segment, its
 * value becomes a param) and an optional trailing "*" (any rest, added as the
 * last param). The first route in table order wins; when only other methods
 * match the path the caller answers 405 with the Allow list built here.
 * Matching walks pattern and path once, without recursion or allocation; values
 * are copied into the request arena only once a route has matched.
 */
#include "http_int.h"

#include <string.h>

typedef struct {
    const char *ptr[HTTP_PARAMS_MAX];
    size_t len[HTTP_PARAMS_MAX];
    int n;
} router_caps;

static bool router_at_segment_start(const char *pattern, const char *p)
{
    return p > pattern && p[-1] == '/';
}

/* Captures one :name segment: advances *p past the name and *s past the value. */
static bool router_take_param(const char **p, const char **s, router_caps *caps)
{
    const char *pe = strchr(*p, '/');
    const char *se = strchr(*s, '/');
    if (pe == NULL)
        pe = *p + strlen(*p);
    if (se == NULL)
        se = *s + strlen(*s);
    if (se == *s || caps->n >= HTTP_PARAMS_MAX)
        return false;
    caps->ptr[caps->n] = *s;
    caps->len[caps->n] = (size_t)(se - *s);
    caps->n++;
    *p = pe;
    *s = se;
    return true;
}

/* true when path matches pattern; caps receives the param values (views into path). */
static bool router_match_one(const char *pattern, const char *path, router_caps *caps)
{
    const char *p = pattern;
    const char *s = path;
    caps->n = 0;
    for (;;) {
        if (p[0] == '*' && p[1] == '\0' && router_at_segment_start(pattern, p)) {
            if (caps->n >= HTTP_PARAMS_MAX)
                return false;
            caps->ptr[caps->n] = s;
            caps->len[caps->n] = strlen(s);
            caps->n++;
            return true;
        }
        if (p[0] == ':' && router_at_segment_start(pattern, p)) {
            if (!router_take_param(&p, &s, caps))
                return false;
            continue;
        }
        if (*p != *s)
            return false;
        if (*p == '\0')
            return true;
        p++;
        s++;
    }
}

static bool router_method_eq(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* Adds method to the comma-separated allow list unless it is there already. */
static void router_allow_add(char allow[ROUTER_ALLOW_MAX], const char *method)
{
    size_t mlen = strlen(method);
    const char *hit = strstr(allow, method);
    while (hit != NULL) {
        bool starts = hit == allow || hit[-1] == ' ';
        bool ends = hit[mlen] == '\0' || hit[mlen] == ',';
        if (starts && ends)
            return;
        hit = strstr(hit + 1, method);
    }
    size_t used = strlen(allow);
    const char *sep = used > 0 ? ", " : "";
    if (used + strlen(sep) + mlen + 1 > ROUTER_ALLOW_MAX)
        return; /* a longer list than any table has: the first methods are enough */
    size_t slen = strlen(sep);
    memcpy(allow + used, sep, slen);
    memcpy(allow + used + slen, method, mlen + 1);
}

static k_status router_copy_params(const router_caps *caps, arena *a, http_req *req)
{
    req->nparams = 0;
    for (int i = 0; i < caps->n; i++) {
        char *v = arena_strndup(a, caps->ptr[i], caps->len[i]);
        if (v == NULL)
            return K_ENOMEM;
        req->params[i] = v;
        req->nparams = i + 1;
    }
    return K_OK;
}

router_result router_match(const http_route *routes, size_t nroutes, const char *method,
                           const char *path, arena *a, http_req *req, size_t *index,
                           char allow[ROUTER_ALLOW_MAX], k_status *st)
{
    K_ASSERT(routes != NULL || nroutes == 0);
    K_ASSERT(method != NULL && path != NULL);
    K_ASSERT(index != NULL && allow != NULL && st != NULL);
    allow[0] = '\0';
    *st = K_OK;
    bool path_seen = false;
    for (size_t i = 0; i < nroutes; i++) {
        router_caps caps;
        if (!router_match_one(routes[i].pattern, path, &caps))
            continue;
        if (!router_method_eq(routes[i].method, method)) {
            path_seen = true;
            router_allow_add(allow, routes[i].method);
            continue;
        }
        *index = i;
        *st = router_copy_params(&caps, a, req);
        return ROUTER_FOUND;
    }
    return path_seen ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}

bool router_pattern_valid(const char *pattern)
{
    if (pattern == NULL || pattern[0] != '/')
        return false;
    int nparams = 0;
    for (const char *p = pattern; *p != '\0'; p++) {
        bool seg_start = p == pattern || p[-1] == '/';
        if (*p == ':' && seg_start) {
            if (p[1] == '\0' || p[1] == '/')
                return false; /* a param needs a name */
            nparams++;
        }
        if (*p == '*' && (!seg_start || p[1] != '\0'))
            return false;
        if (*p == '*')
            nparams++;
    }
    return nparams <= HTTP_PARAMS_MAX;
}
