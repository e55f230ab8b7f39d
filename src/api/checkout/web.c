/*
 * web.c - HTML answer helpers shared by the hosted pages and the demo shop:
 * headers, decoding of queries and form bodies, language negotiation.
 */
#include "web.h"

#include <string.h>

#include "../../base/form.h"
#include "../../base/log.h"

pages_out web_html(http_req *req, http_resp *resp, int status)
{
    K_ASSERT(req != NULL && resp != NULL);
    if (resp->body.max == 0) {
        buf_init(&resp->body, LIMIT_RESPONSE_MAX);
    }
    buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    /* No inline script or style, nothing from elsewhere but the merchant's logo
     * (an https image). form-action is left open on purpose: Chrome applies it
     * to the 303 that follows the payment form, to the provider's page. */
    http_resp_header(req, resp, "Content-Security-Policy",
                     "default-src 'self'; img-src 'self' https:; base-uri 'none'; "
                     "frame-ancestors 'none'");
    http_resp_header(req, resp, "X-Content-Type-Options", "nosniff");
    /* The cs_ id in the URL is a capability: never leak it in a Referer. */
    http_resp_header(req, resp, "Referrer-Policy", "no-referrer");
    http_resp_header(req, resp, "Cache-Control", "no-store");
    http_resp_header(req, resp, "X-Frame-Options", "DENY");
    return (pages_out){.b = &resp->body, .st = K_OK};
}

void web_finish(http_resp *resp, const pages_out *o)
{
    if (o->st == K_OK) {
        return;
    }
    log_error("page rendering failed: %s", k_status_str(o->st));
    static const char msg[] = "Internal error: the page could not be built.\n";
    http_resp_set(resp, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

static void json_release(void *p)
{
    json_decref((json_t *)p);
}

static json_t *decode_into_arena(http_req *req, const char *s, size_t n)
{
    param_err perr;
    json_t *o = form_decode(s != NULL ? s : "", s != NULL ? n : 0, &perr);
    if (o == NULL) {
        o = json_object();
    }
    if (o == NULL || arena_defer(req->arena, json_release, o) != K_OK) {
        return NULL; /* arena_defer already released it */
    }
    return o;
}

json_t *web_query(http_req *req)
{
    return decode_into_arena(req, req->query, req->query != NULL ? strlen(req->query) : 0);
}

json_t *web_form(http_req *req)
{
    return decode_into_arena(req, req->body, req->body_len);
}

const char *web_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

i18n_lang web_lang(http_req *req, json_t *params, const char *preferred, char *region)
{
    const char *explicit_locales[2] = {web_str(params, "locale"), preferred};
    return i18n_pick(explicit_locales, 2, http_req_header(req, "Accept-Language"), region);
}

const char *web_terminal(http_req *req)
{
    const char *ua = http_req_header(req, "User-Agent");
    if (ua != NULL && (strstr(ua, "Mobile") != NULL || strstr(ua, "Android") != NULL ||
                       strstr(ua, "iPhone") != NULL)) {
        return "WAP";
    }
    return "WEB";
}
