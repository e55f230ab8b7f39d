/*
 * bo_dev_requests.c - the recent API requests of the merchant
 * (/dashboard/developers/requests, role developer or admin): when, method,
 * path, status, latency, idempotency key, error code, the key used (its id and
 * last four characters, never the key) and the request id, newest first,
 * filtered by status class, method, path prefix and key (filters in the URL).
 * No bodies are kept. The rows are the gateway's (gw_reqlog_list).
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/keys.h"
#include "../../gateway/reqlog.h"

#define BO_REQ_ROWS 100

static const struct {
    const char *value, *label;
    int64_t min, max;
} req_classes[] = {
    {"", "Any status", 0, 0},
    {"2xx", "Succeeded (2xx)", 200, 300},
    {"4xx", "Failed (4xx)", 400, 500},
    {"5xx", "Server errors (5xx)", 500, 600},
    {"err", "Failed (4xx and 5xx)", 400, 600},
};

static const char *key_label(bo_req *r, const gw_key *ks, size_t n, const char *id)
{
    for (size_t i = 0; id != NULL && i < n; i++)
        if (strcmp(ks[i].id, id) == 0)
            return arena_printf(r->req->arena, "%s (…%s)", id,
                                ks[i].last4[0] != '\0' ? ks[i].last4 : "????");
    return id != NULL ? id : "–";
}

static void req_filter(bo_req *r, const char *name, const char *label)
{
    bo_fmt(r, "<div class=\"field\"><label for=\"rq-%s\">%s</label><input id=\"rq-%s\" name=\"%s\"",
           name, label, name, name);
    bo_attr(r, "value", bo_q(r, name));
    bo_raw(r, "></div>");
}

void bo_dev_requests_page(bo_req *r)
{
    const char *cls = bo_q(r, "status");
    store_reqlog_q q = {.method = bo_q(r, "method"),
                        .path_prefix = bo_q(r, "path"),
                        .key_id = bo_q(r, "key"),
                        .limit = BO_REQ_ROWS};
    const char *before = bo_q(r, "before");
    q.before_seq = before != NULL ? strtoll(before, NULL, 10) : 0;
    for (size_t i = 0; cls != NULL && i < K_ARRAY_LEN(req_classes); i++)
        if (strcmp(cls, req_classes[i].value) == 0) {
            q.status_min = req_classes[i].min;
            q.status_max = req_classes[i].max;
        }
    store_reqlog *rows = NULL;
    size_t n = 0;
    k_status ks = gw_reqlog_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &rows, &n);
    gw_key *keys = NULL;
    size_t nk = 0;
    if (gw_key_list(r->api->g, r->s.merchant_id, r->req->arena, &keys, &nk) != K_OK)
        nk = 0;
    bo_html_start(r, ks == K_OK ? 200 : 503);
    bo_page_begin(r, T(r, "Recent API requests"), "developers");
    bo_fmt(r, "<p><a href=\"/dashboard/developers\">%s</a></p><h1>%s</h1><p>%s</p>",
           T(r, "Developers"), T(r, "Recent API requests"),
           T(r, "The last 10,000 requests of the past 7 days made with your keys; bodies are not "
                "kept."));
    bo_fmt(r,
           "<form class=\"filters\" method=\"get\" action=\"/dashboard/developers/requests\" "
           "aria-label=\"%s\"><div class=\"field\"><label for=\"rq-status\">%s</label>"
           "<select id=\"rq-status\" name=\"status\">",
           T(r, "Filters"), T(r, "Status"));
    for (size_t i = 0; i < K_ARRAY_LEN(req_classes); i++)
        bo_fmt(r, "<option value=\"%s\"%s>%s</option>", req_classes[i].value,
               cls != NULL && strcmp(cls, req_classes[i].value) == 0 ? " selected" : "",
               T(r, req_classes[i].label));
    bo_raw(r, "</select></div>");
    req_filter(r, "method", T(r, "Method"));
    req_filter(r, "path", T(r, "Path starts with"));
    req_filter(r, "key", T(r, "Key id"));
    bo_fmt(r,
           "<div class=\"actions\"><button type=\"submit\">%s</button> <a "
           "href=\"/dashboard/developers/requests\">%s</a></div></form>",
           T(r, "Apply filters"), T(r, "Clear"));
    bo_fmt(r,
           "<div class=\"scroll\"><table class=\"list wide\" id=\"requests\"><thead><tr>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "</tr></thead><tbody>",
           T(r, "When"), T(r, "Method"), T(r, "Path"), T(r, "Status"), T(r, "Latency"),
           T(r, "Idempotency key"), T(r, "Error"), T(r, "Key"), T(r, "Request id"));
    for (size_t i = 0; i < n; i++) {
        const store_reqlog *x = &rows[i];
        bo_fmt(r, "<tr data-status=\"%lld\"><td>", (long long)x->status);
        bo_time(r, x->at_ms / 1000);
        bo_raw(r, "</td><td>");
        bo_esc(r, x->method);
        bo_raw(r, "</td><td><code>");
        bo_esc(r, x->path);
        bo_fmt(r, "</code></td><td>%lld</td><td>%lld.%lld ms</td><td><code>", (long long)x->status,
               (long long)(x->dur_us / 1000), (long long)(x->dur_us % 1000 / 100));
        bo_esc(r, x->idem_key != NULL ? x->idem_key : "–");
        bo_raw(r, "</code></td><td data-col=\"error\">");
        bo_esc(r, x->error_code != NULL ? x->error_code : "–");
        bo_raw(r, "</td><td data-col=\"key\"><code>");
        bo_esc(r, key_label(r, keys, nk, x->key_id));
        bo_raw(r, "</code></td><td><code>");
        bo_esc(r, x->request_id);
        bo_raw(r, "</code></td></tr>");
    }
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"9\">%s</td></tr>", T(r, "No requests."));
    bo_raw(r, "</tbody></table></div>");
    if (n == BO_REQ_ROWS) {
        bo_fmt(r,
               "<p class=\"pager\"><a rel=\"next\" href=\"/dashboard/developers/requests?before="
               "%lld",
               (long long)rows[n - 1].seq);
        static const char *const fk[] = {"status", "method", "path", "key"};
        for (size_t k = 0; k < K_ARRAY_LEN(fk); k++)
            if (bo_q(r, fk[k]) != NULL) {
                bo_fmt(r, "&amp;%s=", fk[k]);
                bo_esc(r, bo_q(r, fk[k]));
            }
        bo_fmt(r, "\">%s</a></p>", T(r, "Older entries"));
    }
    bo_page_end(r);
    bo_finish(r);
}
