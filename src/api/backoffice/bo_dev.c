/*
 * bo_dev.c - the developers' page (role developer or admin): the merchant's
 * webhook endpoints (create, with the signing secret shown once; disable and
 * enable; delete), the recent events with their deliveries (state, attempts,
 * last HTTP status), resend one event, and replay every recent event whose
 * delivery has not succeeded. Each change is audited. The work is the
 * gateway's (gw_endpoint_*, gw_event_*), exactly as the Stripe dialect's
 * /v1/webhook_endpoints and /v1/events/:id/resend do it.
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../base/clock.h"

#include "../../base/log.h"

#define BO_DEV_EVENTS 20 /* recent events listed on the page */

/* Roll the signing secret: both signatures go during the overlap. */
static void endpoint_roll_form(bo_req *r, const gw_endpoint *e)
{
    static const struct {
        int64_t s;
        const char *label;
    } overlaps[] = {{0, "Now"}, {3600, "In 1 hour"}, {86400, "In 24 hours"}, {604800, "In 7 days"}};
    int64_t now = clock_now_s();
    if (e->old_secret != NULL && now < e->old_secret_until) {
        bo_fmt(r, "<p class=\"hint\" data-old-secret-until=\"%lld\">%s ",
               (long long)e->old_secret_until, T(r, "The previous secret signs too until"));
        bo_time(r, e->old_secret_until);
        bo_raw(r, "</p>");
    }
    bo_fmt(r,
           "<details><summary>%s</summary><form method=\"post\" class=\"stack\" "
           "action=\"/dashboard/developers/endpoints/%s/roll\">",
           T(r, "Roll the signing secret…"), e->id);
    bo_csrf_field(r);
    bo_idem_field(r);
    bo_fmt(r,
           "<label for=\"ep-overlap-%s\">%s</label><select id=\"ep-overlap-%s\" name=\"overlap\">",
           e->id, T(r, "The old secret stops signing"), e->id);
    for (size_t i = 0; i < K_ARRAY_LEN(overlaps); i++)
        bo_fmt(r, "<option value=\"%lld\"%s>%s</option>", (long long)overlaps[i].s,
               i == 2 ? " selected" : "", T(r, overlaps[i].label));
    bo_fmt(r, "</select><button type=\"submit\" class=\"small\">%s</button></form></details>",
           T(r, "Roll the secret"));
}

static void endpoint_roll(bo_req *r, const char *id)
{
    const char *ov = bo_f(r, "overlap");
    char *end = NULL;
    long long s = ov != NULL ? strtoll(ov, &end, 10) : -1;
    if (ov == NULL || end == ov || *end != '\0')
        s = -1;
    gw_endpoint ep;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_endpoint_roll_secret(r->api->g, r->s.merchant_id, id, s, bo_f(r, "idem"), r->req->arena,
                                &ep, &err) != K_OK) {
        bo_audit_action(r, "endpoint.roll_secret", id, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        bo_dev_render(r, bo_status(&err), err.message, NULL, NULL);
        return;
    }
    if (ep.replayed) {
        bo_dev_render(r, 200,
                      T(r, "Already done: this form was sent before. The secret was shown then."),
                      NULL, NULL);
        return;
    }
    bo_audit_action(
        r, "endpoint.roll_secret", id, NULL,
        arena_printf(r->req->arena, "{\"old_secret_until\":%lld}", (long long)ep.old_secret_until),
        "ok");
    bo_dev_render(r, 200, T(r, "Signing secret rolled."), T(r, "New signing secret"), ep.secret);
}

static void endpoints_table(bo_req *r)
{
    store_list_q q = {.limit = LIMIT_LIST_PAGE_MAX};
    gw_endpoint *eps = NULL;
    size_t n = 0;
    bool more = false;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_endpoint_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &eps, &n, &more, &err) !=
        K_OK)
        n = 0;
    bo_fmt(r,
           "<section aria-labelledby=\"ep-h\"><h2 id=\"ep-h\">%s</h2><div class=\"scroll\">"
           "<table class=\"list\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
           T(r, "Webhook endpoints"), T(r, "URL"), T(r, "Status"), T(r, "Created"),
           T(r, "Actions"));
    for (size_t i = 0; i < n; i++) {
        bool on = eps[i].status == NULL || strcmp(eps[i].status, "enabled") == 0;
        bo_fmt(r, "<tr data-endpoint=\"%s\"><td><code>", eps[i].id);
        bo_esc(r, eps[i].url);
        bo_fmt(r, "</code></td><td>%s</td><td>", on ? T(r, "enabled") : T(r, "disabled"));
        bo_time(r, eps[i].created);
        bo_fmt(r,
               "</td><td><form method=\"post\" class=\"inline\" "
               "action=\"/dashboard/developers/endpoints/%s/%s\">",
               eps[i].id, on ? "disable" : "enable");
        bo_csrf_field(r);
        bo_fmt(r, "<button type=\"submit\" class=\"small\">%s</button></form> ",
               on ? T(r, "Disable") : T(r, "Enable"));
        bo_fmt(r,
               "<form method=\"post\" class=\"inline\" "
               "action=\"/dashboard/developers/endpoints/%s/delete\">",
               eps[i].id);
        bo_csrf_field(r);
        bo_fmt(r, "<button type=\"submit\" class=\"small\">%s</button></form>", T(r, "Delete"));
        bo_fmt(r,
               " <a href=\"/dashboard/developers?endpoint=%s#ev-h\" data-deliveries-of=\"%s\" "
               "aria-label=\"%s %s\">%s</a>",
               eps[i].id, eps[i].id, T(r, "Deliveries"), eps[i].id, T(r, "Deliveries"));
        endpoint_roll_form(r, &eps[i]);
        bo_raw(r, "</td></tr>");
    }
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"4\">%s</td></tr>", T(r, "No endpoints yet."));
    bo_raw(r, "</tbody></table></div>");
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/developers/endpoints\" class=\"card\">");
    bo_csrf_field(r);
    bo_fmt(r,
           "<h3>%s</h3><label for=\"ep-url\">%s</label><input id=\"ep-url\" name=\"url\" "
           "type=\"url\" required placeholder=\"https://shop.example/hooks/kassa\">"
           "<button type=\"submit\">%s</button></form></section>",
           T(r, "Add an endpoint (every event)"), T(r, "URL"), T(r, "Add endpoint"));
}

/* "delivered 1/1, HTTP 200" style summary; *ok false when a delivery has not succeeded. */
static const char *delivery_summary(bo_req *r, const char *event_id, const char *only, bool *ok)
{
    json_t *ds = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    *ok = true;
    if (gw_event_deliveries(r->api->g, r->s.merchant_id, event_id, r->req->arena, &ds, &err) !=
        K_OK)
        return "";
    buf b;
    buf_init(&b, 2048);
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d)
    {
        const char *state = json_string_value(json_object_get(d, "state"));
        const char *to = json_string_value(json_object_get(d, "endpoint"));
        if (only != NULL && (to == NULL || strcmp(to, only) != 0))
            continue; /* the page shows one endpoint's deliveries */
        *ok &= state != NULL && (strcmp(state, "delivered") == 0 || strcmp(state, "skipped") == 0);
        buf_printf(&b, "%s%s %s, %lld %s, HTTP %lld", b.len > 0 ? "; " : "", to,
                   state != NULL ? state : "",
                   (long long)json_integer_value(json_object_get(d, "attempts")), T(r, "attempts"),
                   (long long)json_integer_value(json_object_get(d, "last_status")));
    }
    char *s = arena_strndup(r->req->arena, b.data != NULL ? b.data : "", b.len);
    buf_free(&b);
    return s != NULL ? s : "";
}

/* Replay by filter: event type, creation range, failed deliveries only, one endpoint. */
static void replay_form(bo_req *r)
{
    static const char *const types[] = {"payment_intent.",
                                        "charge.refunded",
                                        "checkout.session.",
                                        "payment_intent.succeeded",
                                        "payment_intent.payment_failed",
                                        "payment_intent.amount_capturable_updated"};
    bo_fmt(r,
           "<form method=\"post\" action=\"/dashboard/developers/replay\" class=\"card\" "
           "id=\"replay-filter\"><h3>%s</h3>",
           T(r, "Replay the deliveries of matching events"));
    bo_csrf_field(r);
    bo_idem_field(r);
    bo_fmt(r,
           "<input type=\"hidden\" name=\"filter\" value=\"1\"><input type=\"hidden\" "
           "name=\"tz\" value=\"%d\"><label for=\"rp-type\">%s</label><select id=\"rp-type\" "
           "name=\"type\"><option value=\"\">%s</option>",
           bo_tz_offset_min(r), T(r, "Event type"), T(r, "Any type"));
    for (size_t i = 0; i < K_ARRAY_LEN(types); i++)
        bo_fmt(r, "<option value=\"%s\">%s%s</option>", types[i], types[i],
               types[i][strlen(types[i]) - 1] == '.' ? "*" : "");
    bo_fmt(r,
           "</select><label for=\"rp-from\">%s</label><input id=\"rp-from\" name=\"from\" "
           "type=\"date\"><label for=\"rp-to\">%s</label><input id=\"rp-to\" name=\"to\" "
           "type=\"date\"><label for=\"rp-ep\">%s</label><select id=\"rp-ep\" "
           "name=\"endpoint\"><option value=\"\">%s</option>",
           T(r, "Created from"), T(r, "Created until"), T(r, "Endpoint"), T(r, "Every endpoint"));
    store_list_q q = {.limit = LIMIT_LIST_PAGE_MAX};
    gw_endpoint *eps = NULL;
    size_t n = 0;
    bool more = false;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_endpoint_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &eps, &n, &more, &err) !=
        K_OK)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        bo_fmt(r, "<option value=\"%s\">", eps[i].id);
        bo_esc(r, eps[i].url);
        bo_raw(r, "</option>");
    }
    bo_fmt(r,
           "</select><label class=\"check\"><input type=\"checkbox\" name=\"failed\" "
           "value=\"1\" checked> %s</label><label class=\"check\"><input type=\"checkbox\" "
           "name=\"confirm\" value=\"1\" required> %s</label><button type=\"submit\">%s</button>"
           "</form>",
           T(r, "Only deliveries that have not succeeded"),
           T(r, "Yes, send these events to the endpoints again"), T(r, "Replay matching events"));
}

static void events_table(bo_req *r)
{
    store_list_q q = {.limit = BO_DEV_EVENTS};
    gw_event *evs = NULL;
    size_t n = 0;
    bool more = false;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &evs, &n, &more, &err) !=
        K_OK)
        n = 0;
    /* ?endpoint=we_...: only the events delivered to that endpoint, with its deliveries */
    const char *only = bo_q(r, "endpoint");
    if (only != NULL && only[0] == '\0')
        only = NULL;
    bo_fmt(r, "<section aria-labelledby=\"ev-h\"><h2 id=\"ev-h\">%s</h2>", T(r, "Recent events"));
    if (only != NULL) {
        bo_fmt(r, "<p data-only-endpoint>%s: <code>", T(r, "Endpoint"));
        bo_esc(r, only);
        bo_fmt(r, "</code> · <a href=\"/dashboard/developers#ev-h\">%s</a></p>",
               T(r, "Every endpoint"));
    }
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/developers/replay\">");
    bo_csrf_field(r);
    bo_fmt(r,
           "<button type=\"submit\">%s</button></form><div class=\"scroll\"><table "
           "class=\"list\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "</tr></thead><tbody>",
           T(r, "Replay every event below that was not delivered"), T(r, "Created"), T(r, "Event"),
           T(r, "Type"), T(r, "Deliveries"), T(r, "Actions"));
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        const char *sum = delivery_summary(r, evs[i].id, only, &ok);
        if (only != NULL && sum[0] == '\0')
            continue; /* not delivered to that endpoint */
        bo_fmt(r, "<tr data-event=\"%s\" data-delivered=\"%s\"><td>", evs[i].id, ok ? "yes" : "no");
        bo_time(r, evs[i].created);
        bo_fmt(r, "</td><td><code>%s</code></td><td>", evs[i].id);
        bo_esc(r, evs[i].type);
        bo_raw(r, "</td><td>");
        bo_esc(r, sum[0] != '\0' ? sum : "–");
        bo_fmt(r,
               "</td><td><form method=\"post\" class=\"inline\" "
               "action=\"/dashboard/developers/events/%s/resend\">",
               evs[i].id);
        bo_csrf_field(r);
        bo_fmt(r,
               "<button type=\"submit\" class=\"small\" aria-label=\"%s %s\">%s</button>"
               "</form></td></tr>",
               T(r, "Resend"), evs[i].id, T(r, "Resend"));
    }
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"5\">%s</td></tr>", T(r, "No events yet."));
    bo_raw(r, "</tbody></table></div>");
    replay_form(r);
    bo_raw(r, "</section>");
}

/* The ECommPay project's callback URL (merchant setting "ecp_callback_url",
 * set with POST /v1/kassa/ecommpay/settings). */
static void ecp_callback(bo_req *r)
{
    json_t *s = NULL;
    const char *url = NULL;
    if (gw_merchant_settings(r->api->g, r->s.merchant_id, r->req->arena, &s) == K_OK && s != NULL)
        url = json_string_value(json_object_get(s, "ecp_callback_url"));
    bo_fmt(r, "<section aria-labelledby=\"ecp-h\"><h2 id=\"ecp-h\">%s</h2><p>",
           T(r, "ECommPay callback URL"));
    if (url != NULL && url[0] != '\0') {
        bo_raw(r, "<code data-ecp-callback>");
        bo_esc(r, url);
        bo_raw(r, "</code>");
    } else {
        bo_raw(r, T(r, "None: callbacks go only to each payment's merchant_callback_url."));
    }
    bo_fmt(r, "</p><p>%s <code>POST /v1/kassa/ecommpay/settings</code></p></section>",
           T(r, "Set it with"));
}

void bo_dev_render(bo_req *r, int status, const char *note, const char *secret_title,
                   const char *secret)
{
    bo_html_start(r, status);
    bo_page_begin(r, T(r, "Developers"), "developers");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Developers"));
    if (note != NULL) {
        bo_fmt(r, "<p class=\"banner %s\" role=\"status\">", status < 400 ? "ok" : "bad");
        bo_esc(r, note);
        bo_raw(r, "</p>");
    }
    if (secret != NULL) {
        bo_fmt(r,
               "<section class=\"card\" role=\"alert\"><h2>%s</h2><p>%s</p><p><code "
               "data-secret>",
               secret_title != NULL ? secret_title : T(r, "Signing secret"),
               T(r, "Copy it now into your shop's configuration: it is shown only once."));
        bo_esc(r, secret);
        bo_raw(r, "</code></p></section>");
    }
    bo_fmt(r, "<p><a href=\"/dashboard/developers/requests\">%s</a></p>",
           T(r, "Recent API requests"));
    bo_dev_keys_section(r);
    endpoints_table(r);
    events_table(r);
    ecp_callback(r);
    bo_page_end(r);
    bo_finish(r);
}

/* The notes a redirect may ask for (?done=...): never text from the URL itself. */
static const char *const dev_notes[][2] = {
    {"deleted", "Endpoint deleted."},
    {"changed", "Endpoint changed."},
    {"resent", "Event sent again."},
    {"replayed", "Undelivered events sent again."},
};

void bo_dev_page(bo_req *r)
{
    const char *done = bo_q(r, "done");
    const char *note = NULL;
    for (size_t i = 0; done != NULL && i < K_ARRAY_LEN(dev_notes); i++)
        if (strcmp(dev_notes[i][0], done) == 0)
            note = T(r, dev_notes[i][1]);
    bo_dev_render(r, 200, note, NULL, NULL);
}

static void dev_done(bo_req *r, const char *what)
{
    char *to = arena_printf(r->req->arena, "/dashboard/developers?done=%s", what);
    http_resp_redirect(r->req, r->resp, to);
}

void bo_dev_endpoint_create(bo_req *r)
{
    json_t *all = json_pack("[s]", "*");
    arena_defer(r->req->arena, (void (*)(void *))json_decref, all);
    gw_endpoint_params p = {.url = bo_f(r, "url"), .enabled_events = all, .disabled = -1};
    gw_endpoint ep;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_endpoint_create(r->api->g, r->s.merchant_id, &p, NULL, r->req->arena, &ep, &err) !=
        K_OK) {
        bo_audit_action(r, "endpoint.create", NULL, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        bo_dev_render(r, bo_status(&err), err.message, NULL, NULL);
        return;
    }
    bo_audit_action(r, "endpoint.create", ep.id, NULL, NULL, "ok");
    bo_dev_render(r, 200, T(r, "Endpoint added."), NULL, ep.secret);
}

void bo_dev_endpoint_change(bo_req *r)
{
    const char *id = r->req->params[0], *what = r->req->params[1];
    gw_err err;
    memset(&err, 0, sizeof err);
    gw_endpoint ep;
    k_status ks;
    if (strcmp(what, "roll") == 0) {
        endpoint_roll(r, id);
        return;
    }
    if (strcmp(what, "delete") == 0) {
        ks = gw_endpoint_delete(r->api->g, r->s.merchant_id, id, NULL, r->req->arena, &ep, &err);
    } else if (strcmp(what, "disable") == 0 || strcmp(what, "enable") == 0) {
        gw_endpoint_params p = {.disabled = strcmp(what, "disable") == 0 ? 1 : 0};
        ks =
            gw_endpoint_update(r->api->g, r->s.merchant_id, id, &p, NULL, r->req->arena, &ep, &err);
    } else {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such action."),
                   "/dashboard/developers");
        return;
    }
    char *action = arena_printf(r->req->arena, "endpoint.%s", what);
    if (ks != K_OK) {
        bo_audit_action(r, action, id, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        bo_dev_render(r, bo_status(&err), err.message, NULL, NULL);
        return;
    }
    bo_audit_action(r, action, id, NULL, NULL, "ok");
    dev_done(r, strcmp(what, "delete") == 0 ? "deleted" : "changed");
}

void bo_dev_event_resend(bo_req *r)
{
    const char *id = r->req->params[0];
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_resend(r->api->g, r->s.merchant_id, id, &err) != K_OK) {
        bo_audit_action(r, "event.resend", id, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        bo_dev_render(r, bo_status(&err), err.message, NULL, NULL);
        return;
    }
    bo_audit_action(r, "event.resend", id, NULL, NULL, "ok");
    dev_done(r, "resent");
}

/* YYYY-MM-DD in the person's time zone (minutes east of UTC): unix s of its start. */
static bool dev_day(const char *s, int tz_min, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0')
        return false;
    *out = (int64_t)timegm(&tm) - (int64_t)tz_min * 60;
    return true;
}

static void dev_replay_filtered(bo_req *r)
{
    gw_replay_q q = {.failed_only = bo_f(r, "failed") != NULL};
    const char *type = bo_f(r, "type"), *ep = bo_f(r, "endpoint");
    const char *from = bo_f(r, "from"), *to = bo_f(r, "to"), *tzs = bo_f(r, "tz");
    q.type = type != NULL && type[0] != '\0' ? type : NULL;
    q.endpoint_id = ep != NULL && ep[0] != '\0' ? ep : NULL;
    int tz = tzs != NULL ? (int)strtol(tzs, NULL, 10) : 0;
    if (tz < -840 || tz > 840)
        tz = 0;
    const char *bad = NULL;
    if (bo_f(r, "confirm") == NULL)
        bad = T(r, "Tick the confirmation box to replay the events.");
    else if (from != NULL && from[0] != '\0' && !dev_day(from, tz, &q.created_gte))
        bad = T(r, "Created from: give a date such as 2026-12-01.");
    else if (to != NULL && to[0] != '\0' && !dev_day(to, tz, &q.created_lte))
        bad = T(r, "Created until: give a date such as 2026-12-01.");
    if (q.created_lte > 0)
        q.created_lte += 86399; /* until the end of that day */
    if (bad != NULL) {
        bo_audit_action(r, "event.replay_filter", NULL, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", bad));
        bo_dev_render(r, 400, bad, NULL, NULL);
        return;
    }
    int64_t events = 0, deliveries = 0;
    bool replayed = false;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_replay(r->api->g, r->s.merchant_id, &q, bo_f(r, "idem"), &events, &deliveries,
                        &replayed, &err) != K_OK) {
        bo_audit_action(r, "event.replay_filter", NULL, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        bo_dev_render(r, bo_status(&err), err.message, NULL, NULL);
        return;
    }
    json_t *aj =
        json_pack("{s:s,s:I,s:I,s:b,s:s,s:I,s:I}", "type", q.type != NULL ? q.type : "", "from",
                  (json_int_t)q.created_gte, "to", (json_int_t)q.created_lte, "failed_only",
                  q.failed_only, "endpoint", q.endpoint_id != NULL ? q.endpoint_id : "", "events",
                  (json_int_t)events, "deliveries", (json_int_t)deliveries);
    char *after = aj != NULL ? json_dumps(aj, JSON_COMPACT) : NULL;
    json_decref(aj);
    arena_defer(r->req->arena, free, after);
    if (!replayed)
        bo_audit_action(r, "event.replay_filter", NULL, NULL, after, "ok");
    char *note = arena_printf(
        r->req->arena, "%s %lld / %lld%s", T(r, "Events replayed / deliveries:"), (long long)events,
        (long long)deliveries, replayed ? T(r, " (already done: this form was sent before)") : "");
    bo_dev_render(r, 200, note, NULL, NULL);
}

void bo_dev_replay(bo_req *r)
{
    if (bo_f(r, "filter") != NULL) {
        dev_replay_filtered(r);
        return;
    }
    store_list_q q = {.limit = BO_DEV_EVENTS};
    gw_event *evs = NULL;
    size_t n = 0, sent = 0;
    bool more = false;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &evs, &n, &more, &err) !=
        K_OK)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        delivery_summary(r, evs[i].id, NULL, &ok);
        if (ok || gw_event_resend(r->api->g, r->s.merchant_id, evs[i].id, &err) != K_OK)
            continue;
        sent++;
    }
    bo_audit_action(r, "event.replay", NULL, NULL,
                    arena_printf(r->req->arena, "{\"events_resent\":%zu}", sent), "ok");
    dev_done(r, "replayed");
}
