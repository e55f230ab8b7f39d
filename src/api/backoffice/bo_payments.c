/*
 * bo_payments.c - the payments list (filters in the URL, keyset pages, totals
 * per currency, saved views, the "expiring soon" queue), its live updates
 * (server-sent events whose ids are journal sequence numbers), and the
 * payment page (summary, order lines, one timeline, the actions its state
 * allows). Every action is a form with the session's CSRF token, a fresh
 * idempotency key and a confirmation box; it calls the gateway's use case
 * exactly as the Stripe dialect does, and is audited with before and after.
 */
#include "bo_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../base/clock.h"
#include "../../base/crypto.h"
#include "../../base/log.h"
#include "../../domain/money.h"

/* ---- filters ---- */

typedef struct {
    store_pay_q q;
    const char *bad_param; /* the field whose value was refused, NULL when fine */
    const char *bad_msg;
} bo_filter;

static bool bo_day(const char *s, int tz_min, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0')
        return false;
    *out = (int64_t)timegm(&tm) - (int64_t)tz_min * 60;
    return true;
}

static void filter_bad(bo_filter *f, const char *param, const char *msg)
{
    if (f->bad_param == NULL) {
        f->bad_param = param;
        f->bad_msg = msg;
    }
}

static void filter_amount(bo_req *r, bo_filter *f, const char *key, int64_t *out)
{
    const char *v = bo_q(r, key);
    *out = -1;
    if (v == NULL)
        return;
    const currency_info *cur = currency_find(f->q.currency != NULL ? f->q.currency : "eur");
    if (cur == NULL || money_parse_decimal(v, cur, out) != K_OK || *out < 0) {
        *out = -1;
        filter_bad(f, key, T(r, "Give an amount such as 25.00."));
    }
}

static bool bo_code_ok(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return true;
}

static void filter_parse(bo_req *r, bo_filter *f)
{
    memset(f, 0, sizeof *f);
    store_pay_q *q = &f->q;
    q->status = bo_q(r, "status");
    q->method = bo_q(r, "method");
    q->channel = bo_q(r, "channel");
    q->email = bo_q(r, "email");
    q->order_ref = bo_q(r, "order");
    q->any_id = bo_q(r, "q");
    q->wallet = bo_q(r, "wallet");
    const char *meta = bo_q(r, "meta");
    const char *colon = meta != NULL ? strchr(meta, ':') : NULL;
    if (meta != NULL && (colon == NULL || colon == meta || colon[1] == '\0' ||
                         colon - meta > LIMIT_METADATA_KEY_MAX)) {
        filter_bad(f, "meta", T(r, "Give the metadata as key:value."));
    } else if (meta != NULL) { /* the search term's form: key=value */
        char *kv = arena_strdup(r->req->arena, meta);
        if (kv != NULL)
            kv[colon - meta] = '=';
        q->meta = kv;
    }
    q->limit = LIMIT_BO_PAGE_ROWS;
    const char *cur = bo_q(r, "currency");
    if (cur != NULL && !(bo_code_ok(cur, 3) && currency_find(cur) != NULL))
        filter_bad(f, "currency", T(r, "Give a currency code such as EUR."));
    else if (cur != NULL) {
        char *low = arena_alloc(r->req->arena, 4);
        currency_lower(cur, low);
        q->currency = low;
    }
    const char *country = bo_q(r, "country");
    if (country != NULL && !bo_code_ok(country, 2))
        filter_bad(f, "country", T(r, "Give a two-letter country code such as DE."));
    q->country = country;
    int tz = bo_tz_offset_min(r);
    const char *from = bo_q(r, "from"), *to = bo_q(r, "to");
    if (from != NULL && !bo_day(from, tz, &q->created_gte))
        filter_bad(f, "from", T(r, "Give a date such as 2026-12-01."));
    if (to != NULL && !bo_day(to, tz, &q->created_lt))
        filter_bad(f, "to", T(r, "Give a date such as 2026-12-01."));
    if (to != NULL && q->created_lt > 0)
        q->created_lt += 86400; /* the whole last day */
    filter_amount(r, f, "amount_min", &q->amount_gte);
    filter_amount(r, f, "amount_max", &q->amount_lte);
    const char *before = bo_q(r, "before");
    q->before_seq = before != NULL ? strtoll(before, NULL, 10) : 0;
    const char *after = bo_q(r, "after_seq");
    q->after_seq = after != NULL ? strtoll(after, NULL, 10) : 0;
    if (q->before_seq < 0 || q->after_seq < 0)
        q->before_seq = q->after_seq = 0;
}

/* The query string of the current filters (without the paging cursor). */
static const char *filter_query(bo_req *r)
{
    static const char *const keys[] = {"status",     "currency",   "method", "channel", "country",
                                       "email",      "order",      "q",      "from",    "to",
                                       "amount_min", "amount_max", "tz",     "meta",    "wallet"};
    buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < K_ARRAY_LEN(keys); i++) {
        const char *v = bo_q(r, keys[i]);
        if (v == NULL)
            continue;
        buf_printf(&b, "%s%s=", b.len > 0 ? "&" : "", keys[i]);
        buf_append_urlenc(&b, v);
    }
    char *s = arena_strndup(r->req->arena, b.data != NULL ? b.data : "", b.len);
    buf_free(&b);
    return s != NULL ? s : "";
}

/* ---- the list ---- */

static bool bo_secrets(bo_req *r)
{
    return staff_can(&r->s, STAFF_SECRETS);
}

/* A customer's e-mail as the role may see it: j***@example.com without STAFF_SECRETS. */
static void bo_email(bo_req *r, const char *email)
{
    if (email == NULL) {
        bo_raw(r, "–");
        return;
    }
    const char *at = strchr(email, '@');
    if (bo_secrets(r) || at == NULL || at == email) {
        bo_esc(r, email);
        return;
    }
    char masked[LIMIT_EMAIL_MAX + 8];
    snprintf(masked, sizeof masked, "%c***%s", email[0], at);
    bo_esc(r, masked);
}

static void row_html(bo_req *r, const gw_payment *p, int64_t seq)
{
    bo_fmt(r, "<tr data-id=\"%s\" data-seq=\"%lld\"><td>", p->id, (long long)seq);
    bo_time(r, p->created);
    bo_fmt(r, "</td><td><a href=\"/dashboard/payments/%s\">%s</a></td><td class=\"num\">", p->id,
           p->id);
    bo_money(r, p->m.amount, p->currency);
    bo_fmt(r, "</td><td data-col=\"status\"><span class=\"st st-%s\">%s</span></td><td>",
           pay_state_name(p->m.state), bo_status_label(r, pay_state_name(p->m.state)));
    bo_esc(r, p->method_type != NULL ? p->method_type : "–");
    bo_raw(r, "</td><td>");
    bo_email(r, p->email);
    bo_raw(r, "</td><td>");
    bo_esc(r,
           p->order_ref != NULL ? p->order_ref : (p->external_id != NULL ? p->external_id : "–"));
    bo_raw(r, "</td></tr>");
}

static void field_text(bo_req *r, const bo_filter *f, const char *name, const char *label,
                       const char *type, const char *hint)
{
    bool bad = f->bad_param != NULL && strcmp(f->bad_param, name) == 0;
    bo_fmt(r,
           "<div class=\"field\"><label for=\"f-%s\">%s</label><input id=\"f-%s\" name=\"%s\" "
           "type=\"%s\"",
           name, label, name, name, type);
    bo_attr(r, "value", bo_q(r, name));
    if (hint != NULL)
        bo_attr(r, "placeholder", hint);
    if (bad)
        bo_fmt(r, " aria-invalid=\"true\" aria-describedby=\"f-%s-err\"", name);
    bo_raw(r, ">");
    if (bad) {
        bo_fmt(r, "<p class=\"err\" id=\"f-%s-err\">", name);
        bo_esc(r, f->bad_msg);
        bo_raw(r, "</p>");
    }
    bo_raw(r, "</div>");
}

static void field_select(bo_req *r, const char *name, const char *label, const char *const *values,
                         const char *const *labels, size_t n)
{
    const char *cur = bo_q(r, name);
    bo_fmt(r,
           "<div class=\"field\"><label for=\"f-%s\">%s</label><select id=\"f-%s\" name=\"%s\">"
           "<option value=\"\">%s</option>",
           name, label, name, name, T(r, "Any"));
    for (size_t i = 0; i < n; i++) {
        bool on = cur != NULL && strcmp(cur, values[i]) == 0;
        bo_fmt(r, "<option value=\"%s\"%s>%s</option>", values[i], on ? " selected" : "",
               labels != NULL ? labels[i] : values[i]);
    }
    bo_raw(r, "</select></div>");
}

static void filter_form(bo_req *r, const bo_filter *f)
{
    static const char *const states[] = {"requires_payment_method", "requires_action", "processing",
                                         "requires_capture",        "succeeded",       "canceled"};
    const char *state_labels[K_ARRAY_LEN(states)];
    for (size_t i = 0; i < K_ARRAY_LEN(states); i++)
        state_labels[i] = bo_status_label(r, states[i]);
    static const char *const methods[] = {"klarna", "klarna_pay_now", "klarna_pay_later", "alipay"};
    static const char *const channels[] = {"stripe", "ecommpay", "checkout"};
    bo_fmt(r,
           "<form class=\"filters\" method=\"get\" action=\"/dashboard/payments\" "
           "aria-label=\"%s\">",
           T(r, "Filters"));
    field_text(r, f, "q", T(r, "Search by any id"), "search",
               T(r, "pi_…, ECommPay payment_id, Klarna order id, Alipay+ id"));
    static const char *const more[] = {"status",     "method", "channel", "currency", "country",
                                       "email",      "order",  "from",    "to",       "amount_min",
                                       "amount_max", "meta",   "wallet"};
    bool open = f->bad_param != NULL;
    for (size_t i = 0; i < K_ARRAY_LEN(more); i++)
        open |= bo_q(r, more[i]) != NULL;
    bo_fmt(r, "<details class=\"more\"%s><summary>%s</summary><div class=\"grid\">",
           open ? " open" : "", T(r, "More filters"));
    field_select(r, "status", T(r, "Status"), states, state_labels, K_ARRAY_LEN(states));
    field_select(r, "method", T(r, "Method"), methods, NULL, K_ARRAY_LEN(methods));
    field_select(r, "channel", T(r, "Dialect"), channels, NULL, K_ARRAY_LEN(channels));
    field_text(r, f, "currency", T(r, "Currency"), "text", "EUR");
    field_text(r, f, "country", T(r, "Country"), "text", "DE");
    field_text(r, f, "email", T(r, "Customer e-mail"), "email", NULL);
    field_text(r, f, "order", T(r, "Order reference"), "text", NULL);
    field_text(r, f, "meta", T(r, "Metadata (key:value)"), "text", "order_id:1234");
    field_text(r, f, "wallet", T(r, "Wallet"), "text", "ALIPAY_CN");
    field_text(r, f, "from", T(r, "Created from"), "date", NULL);
    field_text(r, f, "to", T(r, "Created until"), "date", NULL);
    field_text(r, f, "amount_min", T(r, "Amount from"), "text", "0.00");
    field_text(r, f, "amount_max", T(r, "Amount up to"), "text", "0.00");
    bo_raw(r, "</div></details>");
    bo_fmt(r, "<input type=\"hidden\" name=\"tz\" id=\"f-tz\" value=\"%d\">", bo_tz_offset_min(r));
    bo_fmt(r,
           "<div class=\"actions\"><button type=\"submit\">%s</button> "
           "<a href=\"/dashboard/payments\">%s</a></div></form>",
           T(r, "Apply filters"), T(r, "Clear"));
}

static void views_box(bo_req *r, const char *query)
{
    store_view *vs;
    size_t n = 0;
    if (staff_view_list(r->api->g, &r->s, r->req->arena, &vs, &n) != K_OK)
        n = 0;
    bo_fmt(r, "<section class=\"views\" aria-labelledby=\"views-h\"><h2 id=\"views-h\">%s</h2>",
           T(r, "Saved views"));
    if (n > 0) {
        bo_raw(r, "<ul>");
        for (size_t i = 0; i < n; i++) {
            bo_raw(r, "<li><a");
            char *href = arena_printf(r->req->arena, "/dashboard/payments?%s", vs[i].query);
            bo_attr(r, "href", href);
            bo_raw(r, ">");
            bo_esc(r, vs[i].name);
            bo_fmt(r,
                   "</a> <form method=\"post\" action=\"/dashboard/views/%s/delete\" "
                   "class=\"inline\">",
                   vs[i].id);
            bo_csrf_field(r);
            bo_fmt(r, "<button type=\"submit\" class=\"link\" aria-label=\"%s ",
                   T(r, "Delete view"));
            bo_esc(r, vs[i].name);
            bo_fmt(r, "\">%s</button></form></li>", T(r, "Delete"));
        }
        bo_raw(r, "</ul>");
    }
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/views\" class=\"row\">");
    bo_csrf_field(r);
    bo_raw(r, "<input type=\"hidden\" name=\"query\"");
    bo_attr(r, "value", query);
    bo_fmt(r,
           "><label for=\"view-name\">%s</label><input id=\"view-name\" name=\"view_name\" "
           "maxlength=\"80\" required><button type=\"submit\">%s</button></form></section>",
           T(r, "Name for these filters"), T(r, "Save view"));
}

/* true when a filter narrows the list (the totals then read only what it matches) */
static bool filter_narrows(const store_pay_q *q)
{
    return q->status != NULL || q->currency != NULL || q->method != NULL || q->country != NULL ||
           q->email != NULL || q->order_ref != NULL || q->channel != NULL || q->any_id != NULL ||
           q->meta != NULL || q->wallet != NULL || q->created_gte > 0 || q->created_lt > 0 ||
           q->amount_gte >= 0 || q->amount_lte >= 0;
}

static void totals_line(bo_req *r, const bo_filter *f)
{
    /* Totals read every row the filters match: over all of a merchant's payments that
     * grows with the table, so without a filter they are computed only when asked. */
    if (!filter_narrows(&f->q) && bo_q(r, "totals") == NULL) {
        bo_fmt(r, "<p class=\"totals\"><a href=\"/dashboard/payments?totals=1\">%s</a></p>",
               T(r, "Show the totals of all payments"));
        return;
    }
    store_pay_total *t;
    size_t n = 0;
    if (staff_pay_totals(r->api->g, r->s.merchant_id, &f->q, r->req->arena, &t, &n) != K_OK)
        return;
    bo_fmt(r, "<section aria-labelledby=\"tot-h\" class=\"totals\"><h2 id=\"tot-h\">%s</h2><ul>",
           T(r, "Totals for these filters"));
    for (size_t i = 0; i < n; i++) {
        bo_raw(r, "<li>");
        bo_money(r, t[i].amount, t[i].currency);
        bo_fmt(r, " <span class=\"muted\">(%lld %s)</span></li>", (long long)t[i].count,
               T(r, "payments"));
    }
    if (n == 0)
        bo_fmt(r, "<li>%s</li>", T(r, "No payments match."));
    bo_raw(r, "</ul></section>");
}

static void table_head(bo_req *r)
{
    bo_fmt(r,
           "<table class=\"list\"><caption class=\"sr\">%s</caption><thead><tr>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th></tr></thead>",
           T(r, "Payments, newest first"), T(r, "Created"), T(r, "Payment"), T(r, "Amount"),
           T(r, "Status"), T(r, "Method"), T(r, "Customer"), T(r, "Order"));
}

static void expiring_page(bo_req *r)
{
    gw_payment *ps;
    size_t n = 0;
    int64_t until = clock_now_s() + LIMIT_BO_EXPIRING_DAYS * 86400;
    k_status ks = staff_pay_expiring(r->api->g, r->s.merchant_id, until, r->req->arena, &ps, &n);
    bo_html_start(r, ks == K_OK ? 200 : 503);
    bo_page_begin(r, T(r, "Expiring soon"), "expiring");
    bo_fmt(r, "<h1>%s</h1><p>%s</p>", T(r, "Expiring soon"),
           T(r, "Authorisations that expire within 7 days unless captured or extended."));
    bo_fmt(r,
           "<table class=\"list\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
           T(r, "Expires"), T(r, "Payment"), T(r, "Still to capture"), T(r, "Customer"));
    for (size_t i = 0; i < n; i++) {
        bo_raw(r, "<tr><td>");
        bo_time(r, ps[i].auth_expires_at);
        bo_fmt(r, "</td><td><a href=\"/dashboard/payments/%s\">%s</a></td><td class=\"num\">",
               ps[i].id, ps[i].id);
        bo_money(r, pay_capturable(&ps[i].m), ps[i].currency);
        bo_raw(r, "</td><td>");
        bo_email(r, ps[i].email);
        bo_raw(r, "</td></tr>");
    }
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"4\">%s</td></tr>", T(r, "Nothing expires soon."));
    bo_raw(r, "</tbody></table>");
    bo_page_end(r);
    bo_finish(r);
}

void bo_payments_list(bo_req *r)
{
    const char *queue = bo_q(r, "queue");
    if (queue != NULL && strcmp(queue, "expiring") == 0) {
        expiring_page(r);
        return;
    }
    bo_filter f;
    filter_parse(r, &f);
    gw_payment *ps = NULL;
    int64_t *seqs = NULL;
    size_t n = 0;
    bool more = false;
    k_status ks = K_OK;
    if (f.bad_param == NULL)
        ks = staff_pay_search(r->api->g, r->s.merchant_id, &f.q, r->req->arena, &ps, &seqs, &n,
                              &more);
    int64_t last_op = 0;
    staff_op_last_seq(r->api->g, r->s.merchant_id, &last_op);
    const char *query = filter_query(r);
    bo_html_start(r, f.bad_param != NULL ? 400 : (ks == K_OK ? 200 : 503));
    bo_page_begin(r, T(r, "Payments"), "payments");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Payments"));
    filter_form(r, &f);
    if (f.bad_param == NULL)
        totals_line(r, &f);
    bo_fmt(r,
           "<p class=\"banner new\" id=\"new-banner\" hidden><button type=\"button\" "
           "id=\"new-show\" data-label=\"%s\"></button></p>",
           T(r, "%d new payments: show them"));
    bo_fmt(r, "<p class=\"sr\" aria-live=\"polite\" id=\"live-note\"></p>");
    bo_fmt(r,
           "<div class=\"scroll\" id=\"list\" data-live=\"/dashboard/live?after=%lld\" "
           "data-rows=\"/dashboard/payments/rows?",
           (long long)last_op);
    bo_esc(r, query);
    bo_raw(r, "\">");
    table_head(r);
    bo_raw(r, "<tbody id=\"rows\">");
    for (size_t i = 0; i < n; i++)
        row_html(r, &ps[i], seqs[i]);
    if (n == 0)
        bo_fmt(r, "<tr class=\"empty\"><td colspan=\"7\">%s</td></tr>",
               f.bad_param != NULL ? T(r, "Correct the filter above.")
                                   : T(r, "No payments match."));
    bo_raw(r, "</tbody></table></div>");
    if (more && n > 0) {
        bo_raw(r, "<p class=\"pager\"><a");
        char *href = arena_printf(r->req->arena, "/dashboard/payments?%s%sbefore=%lld", query,
                                  query[0] != '\0' ? "&" : "", (long long)seqs[n - 1]);
        bo_attr(r, "href", href);
        bo_fmt(r, " rel=\"next\">%s</a></p>", T(r, "Older payments"));
    }
    views_box(r, query);
    bo_page_end(r);
    bo_finish(r);
}

void bo_payments_rows(bo_req *r)
{
    bo_filter f;
    filter_parse(r, &f);
    gw_payment *ps = NULL;
    int64_t *seqs = NULL;
    size_t n = 0;
    bool more = false;
    bo_html_start(r, 200);
    if (f.bad_param != NULL || staff_pay_search(r->api->g, r->s.merchant_id, &f.q, r->req->arena,
                                                &ps, &seqs, &n, &more) != K_OK)
        n = 0;
    for (size_t i = 0; i < n; i++)
        row_html(r, &ps[i], seqs[i]);
    bo_finish(r);
}

/* ---- live updates ---- */

static atomic_int bo_live_active;

static void live_sleep(void)
{
    struct timespec ts = {0, LIMIT_BO_LIVE_POLL_MS * 1000000L};
    nanosleep(&ts, NULL);
}

static void live_event(bo_req *r, const store_op *op)
{
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof err);
    bool have =
        gw_pi_get(r->api->g, r->s.merchant_id, op->payment_id, r->req->arena, &p, &err) == K_OK;
    json_t *d = json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)op->seq, "payment",
                          op->payment_id, "op", op->kind, "op_status", op->status);
    if (have) {
        const char *st = pay_state_name(p.m.state);
        json_object_set_new(d, "status", json_string(st));
        json_object_set_new(d, "status_label", json_string(bo_status_label(r, st)));
    }
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    bo_fmt(r, "id: %lld\nevent: op\ndata: %s\n\n", (long long)op->seq, s != NULL ? s : "{}");
    free(s);
}

void bo_live(bo_req *r)
{
    const char *last = http_req_header(r->req, "Last-Event-ID");
    const char *after_q = bo_q(r, "after");
    int64_t after = after_q != NULL ? strtoll(after_q, NULL, 10) : 0;
    int64_t last_id = last != NULL ? strtoll(last, NULL, 10) : 0;
    if (last_id > after)
        after = last_id;
    const char *payment = bo_q(r, "payment");
    bo_html_start(r, 200);
    r->resp->content_type = "text/event-stream; charset=utf-8";
    if (atomic_fetch_add(&bo_live_active, 1) >= LIMIT_BO_LIVE_MAX) {
        atomic_fetch_sub(&bo_live_active, 1);
        bo_raw(r, "retry: 3000\n: busy\n\n");
        return;
    }
    store_op *ops = NULL;
    size_t n = 0;
    int64_t deadline = clock_mono_ms() + LIMIT_BO_LIVE_WAIT_MS;
    for (;;) {
        if (staff_ops_after(r->api->g, r->s.merchant_id, payment, after, r->req->arena, &ops, &n) !=
                K_OK ||
            n > 0 || clock_mono_ms() >= deadline)
            break;
        live_sleep();
    }
    atomic_fetch_sub(&bo_live_active, 1);
    /* The answer ends here and EventSource comes back after `retry` ms with
     * Last-Event-ID: a long poll in SSE's own format, so no handler thread is
     * held for longer than one wait. */
    bo_raw(r, "retry: 250\n");
    for (size_t i = 0; i < n; i++)
        live_event(r, &ops[i]);
    if (n == 0)
        bo_raw(r, ": nothing new\n\n");
    bo_finish(r);
}

/* ---- saved views ---- */

void bo_view_save(bo_req *r)
{
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *query = bo_f(r, "query");
    if (staff_view_save(r->api->g, &r->s, bo_f(r, "view_name"), query != NULL ? query : "", &err) !=
        K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not saved"), T(r, err.message), "/dashboard/payments");
        return;
    }
    char *to = arena_printf(r->req->arena, "/dashboard/payments?%s", query != NULL ? query : "");
    http_resp_redirect(r->req, r->resp, to);
}

void bo_view_delete(bo_req *r)
{
    staff_view_delete(r->api->g, &r->s, r->req->params[0]);
    http_resp_redirect(r->req, r->resp, "/dashboard/payments");
}
