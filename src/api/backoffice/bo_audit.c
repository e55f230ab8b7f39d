/*
 * bo_audit.c - the audit log page: every sign-in and staff action, newest
 * first, filtered by object, action and person (filters in the URL), keyset
 * pages, and the chain's state (staff_audit_verify) at the top.
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void audit_filter(bo_req *r, const char *name, const char *label)
{
    bo_fmt(r, "<div class=\"field\"><label for=\"a-%s\">%s</label><input id=\"a-%s\" name=\"%s\"",
           name, label, name, name);
    bo_attr(r, "value", bo_q(r, name));
    bo_raw(r, "></div>");
}

static void audit_row(bo_req *r, const store_audit *a)
{
    bo_raw(r, "<tr><td>");
    bo_time(r, a->at_ms / 1000);
    bo_raw(r, "</td><td>");
    bo_esc(r, a->staff_email != NULL ? a->staff_email : "–");
    bo_raw(r, "</td><td>");
    bo_esc(r, a->addr);
    bo_raw(r, "</td><td>");
    bo_esc(r, a->action);
    bo_raw(r, "</td><td>");
    if (a->object_id != NULL && strncmp(a->object_id, "pi_", 3) == 0) {
        bo_fmt(r, "<a href=\"/dashboard/payments/");
        bo_esc(r, a->object_id);
        bo_raw(r, "\">");
        bo_esc(r, a->object_id);
        bo_raw(r, "</a>");
    } else {
        bo_esc(r, a->object_id != NULL ? a->object_id : "–");
    }
    bo_raw(r, "</td><td>");
    bo_esc(r, a->outcome);
    bo_raw(r, "</td><td><code>");
    bo_esc(r, a->before_json != NULL ? a->before_json : "");
    bo_raw(r, "</code> → <code>");
    bo_esc(r, a->after_json != NULL ? a->after_json : "");
    bo_raw(r, "</code></td><td>");
    bo_esc(r, a->reason != NULL ? a->reason : "");
    bo_raw(r, "</td></tr>");
}

void bo_audit_page(bo_req *r)
{
    const char *before = bo_q(r, "before");
    store_audit_q q = {.object_id = bo_q(r, "object"),
                       .action = bo_q(r, "action"),
                       .staff_email = bo_q(r, "who"),
                       .before_seq = before != NULL ? strtoll(before, NULL, 10) : 0,
                       .limit = LIMIT_BO_PAGE_ROWS};
    store_audit *rows = NULL;
    size_t n = 0;
    bool more = false;
    k_status ks =
        staff_audit_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &rows, &n, &more);
    staff_verify v;
    k_status vs = staff_audit_verify(r->api->g, r->s.merchant_id, &v);
    bo_html_start(r, ks == K_OK ? 200 : 503);
    bo_page_begin(r, T(r, "Audit log"), "audit");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Audit log"));
    if (vs == K_OK && v.bad_seq == 0)
        bo_fmt(r, "<p class=\"banner ok\" role=\"status\">%s (%lld)</p>",
               T(r, "The chain is intact: every row is as it was written."), (long long)v.rows);
    else
        bo_fmt(r, "<p class=\"banner bad\" role=\"alert\">%s %s</p>", T(r, "The chain is broken:"),
               vs == K_OK ? v.why : k_status_str(vs));
    bo_fmt(r,
           "<form class=\"filters\" method=\"get\" action=\"/dashboard/audit\" aria-label=\"%s\">",
           T(r, "Filters"));
    audit_filter(r, "object", T(r, "Object id"));
    audit_filter(r, "action", T(r, "Action"));
    audit_filter(r, "who", T(r, "Person (e-mail)"));
    bo_fmt(
        r,
        "<div class=\"actions\"><button type=\"submit\">%s</button> <a href=\"/dashboard/audit\">"
        "%s</a></div></form>",
        T(r, "Apply filters"), T(r, "Clear"));
    bo_fmt(r,
           "<div class=\"scroll\"><table class=\"list\"><thead><tr><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th></tr></thead><tbody>",
           T(r, "When"), T(r, "Who"), T(r, "Address"), T(r, "Action"), T(r, "Object"),
           T(r, "Outcome"), T(r, "Before → after"), T(r, "Reason"));
    for (size_t i = 0; i < n; i++)
        audit_row(r, &rows[i]);
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"8\">%s</td></tr>", T(r, "No entries."));
    bo_raw(r, "</tbody></table></div>");
    if (more && n > 0) {
        bo_fmt(r, "<p class=\"pager\"><a rel=\"next\" href=\"/dashboard/audit?before=%lld",
               (long long)rows[n - 1].seq);
        static const char *const keys[] = {"object", "action", "who"};
        for (size_t k = 0; k < K_ARRAY_LEN(keys); k++)
            if (bo_q(r, keys[k]) != NULL) {
                bo_fmt(r, "&amp;%s=", keys[k]);
                bo_esc(r, bo_q(r, keys[k]));
            }
        bo_fmt(r, "\">%s</a></p>", T(r, "Older entries"));
    }
    bo_page_end(r);
    bo_finish(r);
}
