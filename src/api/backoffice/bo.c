/*
 * bo.c - the back office's routes under /dashboard, the checks every one of
 * them passes before its handler runs (bo_run), sign-in and sign-out, and the
 * two static files (stylesheet, the live-update script).
 *
 * Checked generically, in this order: security headers on every answer; a
 * POST whose Origin (or Referer) is not this site is refused; the session
 * cookie must name a signed-in session (else GET goes to the sign-in page and
 * POST is refused); the person's role must have the route's permission; a
 * POST must carry the session's CSRF token. Only then the handler runs.
 */
#include "bo_int.h"

#include <stdio.h>
#include <string.h>

#include "../../base/form.h"
#include "../../base/log.h"

#define BO_COOKIE "kassa_staff"
/* Static files: no session is read (they run inline on the I/O thread, where a
 * session touch, a store write, must not happen). */
#define BO_STATIC         (BO_PUBLIC | BO_RAW)
#define BO_PENDING_COOKIE "kassa_pending"
#define BO_MODE_COOKIE    "kassa_mode" /* the Test/Live switch: "live" or "test" */

/* ---- answers ---- */

static bool bo_https(const bo_req *r)
{
    const char *u = r->api->public_url;
    return u != NULL && strncmp(u, "https://", 8) == 0;
}

static void bo_headers(bo_req *r, unsigned flags)
{
    http_req *q = r->req;
    http_resp *p = r->resp;
    /* BO_IMG_HTTPS: the branding preview shows the merchant's logo (an https URL). */
    http_resp_header(q, p, "Content-Security-Policy",
                     (flags & BO_IMG_HTTPS) != 0
                         ? "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
                           "'self' data: https:; connect-src 'self'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
                         : "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
                           "'self' data:; connect-src 'self'; base-uri 'none'; form-action "
                           "'self'; frame-ancestors 'none'; object-src 'none'");
    /* nosniff and X-Frame-Options come from the server (http.c) on every answer. Its
     * generic CSP allows inline code for other pages; a browser enforces every policy
     * it is sent, so this stricter one holds. Its Referrer-Policy is no-referrer, under
     * which Chromium sends "Origin: null" with a form POST, and the Origin check below
     * could not tell our forms from anyone's: same-origin comes after it and wins (a
     * browser uses the last policy it knows). */
    http_resp_header(q, p, "Referrer-Policy", "same-origin");
    http_resp_header(q, p, "Cache-Control", "no-store");
    if (bo_https(r))
        http_resp_header(q, p, "Strict-Transport-Security", "max-age=31536000");
}

static void bo_cookie(bo_req *r, const char *name, const char *value, int max_age_s)
{
    char c[256];
    snprintf(c, sizeof c, "%s=%s; Path=/dashboard; HttpOnly; SameSite=Strict%s", name, value,
             bo_https(r) ? "; Secure" : "");
    if (max_age_s >= 0) {
        size_t n = strlen(c);
        snprintf(c + n, sizeof c - n, "; Max-Age=%d", max_age_s);
    }
    http_resp_header(r->req, r->resp, "Set-Cookie", c);
}

/* ---- the generic checks ---- */

static json_t *bo_decode(bo_req *r, const char *s, size_t n)
{
    param_err perr;
    json_t *o = form_decode(s != NULL ? s : "", s != NULL ? n : 0, &perr);
    if (o == NULL)
        o = json_object();
    if (o == NULL || arena_defer(r->req->arena, (void (*)(void *))json_decref, o) != K_OK)
        return NULL;
    return o;
}

/* The origin this site is reached at: the public URL's, or the Host header's. */
static bool bo_origin_is_ours(bo_req *r, const char *origin, size_t len)
{
    const char *pub = r->api->public_url;
    if (pub != NULL && strlen(pub) == len && strncmp(pub, origin, len) == 0)
        return true;
    const char *host = http_req_header(r->req, "Host");
    if (host == NULL)
        return false;
    char own[300];
    snprintf(own, sizeof own, "%s://%s", bo_https(r) ? "https" : "http", host);
    return strlen(own) == len && strncmp(own, origin, len) == 0;
}

/* A change must come from a page of this site (OWASP: verify the origin). */
static bool bo_same_origin(bo_req *r)
{
    const char *origin = http_req_header(r->req, "Origin");
    if (origin != NULL)
        return strcmp(origin, "null") != 0 && bo_origin_is_ours(r, origin, strlen(origin));
    const char *ref = http_req_header(r->req, "Referer");
    if (ref == NULL)
        return false;
    const char *p = strstr(ref, "://");
    const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;
    size_t len = slash != NULL ? (size_t)(slash - ref) : strlen(ref);
    return bo_origin_is_ours(r, ref, len);
}

/* The Test/Live switch: the choice is a cookie of the session's browser (it
 * only picks between the two accounts the person's own account already has). */
void bo_mode_set(bo_req *r)
{
    const char *mode = bo_f(r, "mode");
    bool live = mode != NULL && strcmp(mode, "live") == 0;
    if (live && r->live_id == NULL) {
        bo_message(r, 409, T(r, "Live mode"),
                   T(r, "There is no live account yet: an admin creates it on the Developers "
                        "page. Nothing was changed."),
                   "/dashboard/developers");
        return;
    }
    bo_cookie(r, BO_MODE_COOKIE, live ? "live" : "test", 365 * 86400);
    http_resp_redirect(r->req, r->resp, "/dashboard/payments");
}

static void bo_refuse(bo_req *r, int status, const char *title, const char *text)
{
    bo_message(r, status, title, text, "/dashboard/payments");
}

static bool bo_signin_needed(bo_req *r, const bo_spec *spec)
{
    if ((spec->flags & BO_STATIC) == BO_STATIC)
        return false;
    r->token = http_req_cookie(r->req, BO_COOKIE);
    if (r->token != NULL && staff_session_check(r->api->g, r->token, r->req->remote_addr,
                                                r->req->arena, &r->s) == K_OK) {
        r->signed_in = true;
        return false;
    }
    if (spec->flags & BO_PUBLIC)
        return false;
    if (strcmp(r->req->method, "GET") == 0 && !(spec->flags & BO_RAW)) {
        http_resp_redirect(r->req, r->resp, "/dashboard/signin");
        return true;
    }
    bo_refuse(r, 401, T(r, "Signed out"),
              T(r, "Your session has ended. Sign in again; nothing was changed."));
    return true;
}

void bo_run(http_req *req, http_resp *resp, void *ctx, const bo_spec *spec)
{
    bo_req r = {.api = ctx, .req = req, .resp = resp, .out = &resp->body};
    bo_headers(&r, spec->flags);
    r.query = bo_decode(&r, req->query, req->query != NULL ? strlen(req->query) : 0);
    bool post = strcmp(req->method, "POST") == 0;
    r.form = post ? bo_decode(&r, req->body, req->body_len) : json_object();
    if (!post && r.form != NULL)
        arena_defer(req->arena, (void (*)(void *))json_decref, r.form);
    r.lang = bo_lang_pick(bo_q(&r, "lang"), http_req_cookie(req, "kassa_lang"),
                          http_req_header(req, "Accept-Language"));
    r.locale = bo_lang_code(r.lang);
    if (r.query == NULL || r.form == NULL) {
        http_resp_set(resp, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    if (bo_q(&r, "lang") != NULL)
        bo_cookie(&r, "kassa_lang", r.locale, 365 * 86400);
    if (post && !bo_same_origin(&r)) {
        log_warn("backoffice: cross-site POST to '%s' refused", req->path);
        bo_refuse(&r, 403, T(&r, "Refused"),
                  T(&r, "This form was sent from another site. Nothing was changed."));
        return;
    }
    if (bo_signin_needed(&r, spec))
        return;
    if (r.signed_in) {
        /* Test or live: the pages show the merchant id of the chosen mode; staff
         * accounts and roles stay with the test account, shared by both. */
        r.test_id = r.s.merchant_id;
        r.live_id = gw_merchant_live_of(r.api->g, r.test_id, req->arena);
        const char *mode = http_req_cookie(req, BO_MODE_COOKIE);
        r.live = r.live_id != NULL && mode != NULL && strcmp(mode, "live") == 0;
        if (r.live && !(spec->perm & STAFF_USERS))
            r.s.merchant_id = r.live_id;
    }
    if (spec->perm != 0 && !staff_can(&r.s, (staff_perm)spec->perm)) {
        bo_refuse(&r, 403, T(&r, "Not allowed"),
                  T(&r, "Your role may not do this. Nothing was changed."));
        return;
    }
    if (post && !(spec->flags & BO_PUBLIC) && !staff_csrf_ok(r.token, bo_f(&r, "csrf"))) {
        bo_refuse(&r, 403, T(&r, "Refused"),
                  T(&r, "This form is stale (or not from this site). Reload the page and try "
                        "again; nothing was changed."));
        return;
    }
    spec->fn(&r);
}

/* ---- sign-in ---- */

static void signin_form(bo_req *r, int status, const char *email, const gw_err *err)
{
    bo_html_start(r, status);
    bo_page_begin(r, T(r, "Sign in"), NULL);
    bo_fmt(r, "<section class=\"card narrow\"><h1>%s</h1>", T(r, "Sign in to the back office"));
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/signin\" novalidate>");
    bo_fmt(r, "<label for=\"email\">%s</label>", T(r, "E-mail address"));
    bo_raw(r, "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" "
              "required");
    bo_attr(r, "value", email != NULL ? email : "");
    if (err != NULL && strcmp(err->param, "email") == 0)
        bo_raw(r, " aria-invalid=\"true\" aria-describedby=\"email-err\"");
    bo_raw(r, ">");
    if (err != NULL && strcmp(err->param, "email") == 0) {
        bo_raw(r, "<p class=\"err\" id=\"email-err\">");
        bo_esc(r, T(r, err->message));
        bo_raw(r, "</p>");
    }
    bo_fmt(r, "<label for=\"password\">%s</label>", T(r, "Password"));
    bo_raw(r, "<input id=\"password\" name=\"password\" type=\"password\" "
              "autocomplete=\"current-password\" required");
    if (err != NULL && strcmp(err->param, "email") != 0)
        bo_raw(r, " aria-invalid=\"true\" aria-describedby=\"password-err\"");
    bo_raw(r, ">");
    if (err != NULL && strcmp(err->param, "email") != 0) {
        bo_raw(r, "<p class=\"err\" id=\"password-err\">");
        bo_esc(r, T(r, err->message));
        bo_raw(r, "</p>");
    }
    bo_fmt(r, "<button type=\"submit\">%s</button></form></section>", T(r, "Continue"));
    bo_page_end(r);
    bo_finish(r);
}

static void h_signin_get(bo_req *r)
{
    if (r->signed_in) {
        http_resp_redirect(r->req, r->resp, "/dashboard/payments");
        return;
    }
    signin_form(r, 200, NULL, NULL);
}

static void h_signin_post(bo_req *r)
{
    const char *email = bo_f(r, "email");
    const char *token = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (staff_signin_password(r->api->g, email, bo_f(r, "password"), r->req->remote_addr,
                              r->req->arena, &token, &err) != K_OK) {
        signin_form(r, bo_status(&err) == 401 ? 401 : 400, email, &err);
        return;
    }
    bo_cookie(r, BO_PENDING_COOKIE, token, LIMIT_BO_PENDING_MS / 1000);
    http_resp_redirect(r->req, r->resp, "/dashboard/signin/code");
}

static void code_form(bo_req *r, int status, const gw_err *err)
{
    bo_html_start(r, status);
    bo_page_begin(r, T(r, "Authentication code"), NULL);
    bo_fmt(r, "<section class=\"card narrow\"><h1>%s</h1>", T(r, "Authentication code"));
    bo_fmt(r, "<p>%s</p>",
           T(r, "Enter the 6-digit code your authenticator app shows for Kassa, or one of your "
                "recovery codes."));
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/signin/code\" novalidate>");
    bo_fmt(r, "<label for=\"code\">%s</label>", T(r, "Code"));
    bo_raw(r, "<input id=\"code\" name=\"code\" inputmode=\"numeric\" "
              "autocomplete=\"one-time-code\" maxlength=\"16\" required autofocus");
    if (err != NULL)
        bo_raw(r, " aria-invalid=\"true\" aria-describedby=\"code-err\"");
    bo_raw(r, ">");
    if (err != NULL) {
        bo_raw(r, "<p class=\"err\" id=\"code-err\">");
        bo_esc(r, T(r, err->message));
        bo_raw(r, "</p>");
    }
    bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, "Sign in"));
    bo_fmt(r, "<p><a href=\"/dashboard/signin\">%s</a></p></section>", T(r, "Start again"));
    bo_page_end(r);
    bo_finish(r);
}

static void h_code_get(bo_req *r)
{
    if (http_req_cookie(r->req, BO_PENDING_COOKIE) == NULL) {
        http_resp_redirect(r->req, r->resp, "/dashboard/signin");
        return;
    }
    code_form(r, 200, NULL);
}

static void show_recovery(bo_req *r, const char *const *codes)
{
    bo_html_start(r, 200);
    bo_page_begin(r, T(r, "Recovery codes"), NULL);
    bo_fmt(r, "<section class=\"card narrow\"><h1>%s</h1><p>%s</p><ul class=\"codes\">",
           T(r, "Your recovery codes"),
           T(r, "Each code signs you in once when your authenticator app is not at hand. They "
                "are shown only now: write them down or print them."));
    for (size_t i = 0; codes[i] != NULL; i++) {
        bo_raw(r, "<li><code>");
        bo_esc(r, codes[i]);
        bo_raw(r, "</code></li>");
    }
    bo_fmt(r, "</ul><p><a class=\"button\" href=\"/dashboard/payments\">%s</a></p></section>",
           T(r, "Continue to the payments"));
    bo_page_end(r);
    bo_finish(r);
}

static void h_code_post(bo_req *r)
{
    const char *token = http_req_cookie(r->req, BO_PENDING_COOKIE);
    staff_session s;
    const char *const *recovery = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (staff_signin_code(r->api->g, token, bo_f(r, "code"), r->req->remote_addr, r->req->arena, &s,
                          &recovery, &err) != K_OK) {
        if (err.why == GW_WHY_UNAUTHENTICATED && strstr(err.message, "expired") != NULL) {
            gw_err e2 = err;
            snprintf(e2.param, sizeof e2.param, "password");
            signin_form(r, 401, NULL, &e2);
            return;
        }
        code_form(r, bo_status(&err) == 400 ? 400 : 401, &err);
        return;
    }
    bo_cookie(r, BO_PENDING_COOKIE, "", 0);
    bo_cookie(r, BO_COOKIE, s.token, -1); /* a new token: the pending one is dead */
    if (recovery != NULL) {
        show_recovery(r, recovery);
        return;
    }
    http_resp_redirect(r->req, r->resp, "/dashboard/payments");
}

static void h_signout(bo_req *r)
{
    staff_signout(r->api->g, &r->s);
    bo_cookie(r, BO_COOKIE, "", 0);
    http_resp_redirect(r->req, r->resp, "/dashboard/signin");
}

static void h_home(bo_req *r)
{
    http_resp_redirect(r->req, r->resp, r->signed_in ? "/dashboard/payments" : "/dashboard/signin");
}

/* ---- static files ---- */

#include "bo_static.inc"

static void h_css(bo_req *r)
{
    http_resp_set(r->resp, 200, "text/css; charset=utf-8", bo_css, sizeof bo_css - 1);
    http_resp_header(r->req, r->resp, "Cache-Control", "public, max-age=300");
}

static void h_reports_js(bo_req *r)
{
    http_resp_set(r->resp, 200, "text/javascript; charset=utf-8", bo_reports_js,
                  sizeof bo_reports_js - 1);
    http_resp_header(r->req, r->resp, "Cache-Control", "public, max-age=300");
}

static void h_js(bo_req *r)
{
    http_resp_set(r->resp, 200, "text/javascript; charset=utf-8", bo_js, sizeof bo_js - 1);
    http_resp_header(r->req, r->resp, "Cache-Control", "public, max-age=300");
}

/* ---- the table ---- */

BO_ENTRY(e_home, h_home, 0, BO_PUBLIC)
BO_ENTRY(e_signin_get, h_signin_get, 0, BO_PUBLIC)
BO_ENTRY(e_signin_post, h_signin_post, 0, BO_PUBLIC)
BO_ENTRY(e_code_get, h_code_get, 0, BO_PUBLIC)
BO_ENTRY(e_code_post, h_code_post, 0, BO_PUBLIC)
BO_ENTRY(e_signout, h_signout, 0, 0)
BO_ENTRY(e_css, h_css, 0, BO_STATIC)
BO_ENTRY(e_js, h_js, 0, BO_STATIC)
BO_ENTRY(e_reports_js, h_reports_js, 0, BO_STATIC)
BO_ENTRY(e_chart_js, bo_chartjs_serve, 0, BO_STATIC)
BO_ENTRY(e_reports, bo_reports_page, STAFF_VIEW, 0)
BO_ENTRY(e_reports_csv, bo_reports_csv, STAFF_VIEW, BO_RAW)
BO_ENTRY(e_reports_run, bo_reports_run, STAFF_REPORTS, 0)
BO_ENTRY(e_reports_file, bo_reports_file, STAFF_REPORTS, BO_RAW)
BO_ENTRY(e_reports_view, bo_reports_view_export, STAFF_REPORTS, 0)
BO_ENTRY(e_reports_sched, bo_reports_schedule_create, STAFF_REPORTS, 0)
BO_ENTRY(e_reports_sched_del, bo_reports_schedule_delete, STAFF_REPORTS, 0)
BO_ENTRY(e_list, bo_payments_list, STAFF_VIEW, 0)
BO_ENTRY(e_rows, bo_payments_rows, STAFF_VIEW, BO_RAW)
BO_ENTRY(e_live, bo_live, STAFF_VIEW, BO_RAW)
BO_ENTRY(e_payment, bo_payment_page, STAFF_VIEW, 0)
BO_ENTRY(e_action, bo_payment_action, STAFF_VIEW, 0) /* each action checks its own permission */
BO_ENTRY(e_view_save, bo_view_save, STAFF_VIEW, 0)
BO_ENTRY(e_view_delete, bo_view_delete, STAFF_VIEW, 0)
BO_ENTRY(e_audit, bo_audit_page, STAFF_AUDIT, 0)
BO_ENTRY(e_dev, bo_dev_page, STAFF_DEV, 0)
BO_ENTRY(e_dev_ep_create, bo_dev_endpoint_create, STAFF_DEV, 0)
BO_ENTRY(e_dev_ep_change, bo_dev_endpoint_change, STAFF_DEV, 0)
BO_ENTRY(e_dev_resend, bo_dev_event_resend, STAFF_DEV, 0)
BO_ENTRY(e_dev_replay, bo_dev_replay, STAFF_DEV, 0)
BO_ENTRY(e_staff, bo_staff_page, STAFF_USERS, 0)
BO_ENTRY(e_staff_create, bo_staff_create, STAFF_USERS, 0)
BO_ENTRY(e_staff_change, bo_staff_change, STAFF_USERS, 0)
BO_ENTRY(e_settings, bo_settings_page, STAFF_VIEW, 0)
BO_ENTRY(e_settings_preview, bo_settings_preview, STAFF_VIEW, BO_IMG_HTTPS)
BO_ENTRY(e_settings_methods, bo_settings_methods, STAFF_SETTINGS, 0)
BO_ENTRY(e_settings_creds, bo_settings_credentials, STAFF_SETTINGS, 0)
BO_ENTRY(e_settings_brand, bo_settings_branding, STAFF_SETTINGS, 0)
BO_ENTRY(e_settings_expiry, bo_settings_expiry, STAFF_SETTINGS, 0)
BO_ENTRY(e_dev_key_create, bo_dev_key_create, STAFF_DEV, 0)
BO_ENTRY(e_dev_live_create, bo_dev_live_create, STAFF_DEV, 0)
BO_ENTRY(e_mode, bo_mode_set, 0, 0)
BO_ENTRY(e_dev_key_change, bo_dev_key_change, STAFF_DEV, 0)
BO_ENTRY(e_dev_requests, bo_dev_requests_page, STAFF_DEV, 0)

#define BOF LIMIT_BO_FORM_MAX

static const http_route bo_routes[] = {
    {"GET", "/dashboard", e_home, AUTH_NONE, 0, "bo_home", 0},
    {"GET", "/dashboard/signin", e_signin_get, AUTH_NONE, 0, "bo_signin", 0},
    {"POST", "/dashboard/signin", e_signin_post, AUTH_NONE, BOF, "bo_signin", 0},
    {"GET", "/dashboard/signin/code", e_code_get, AUTH_NONE, 0, "bo_code", 0},
    {"POST", "/dashboard/signin/code", e_code_post, AUTH_NONE, BOF, "bo_code", 0},
    {"POST", "/dashboard/signout", e_signout, AUTH_NONE, BOF, "bo_signout", 0},
    {"GET", "/dashboard/static/bo.css", e_css, AUTH_NONE, 0, "bo_static", HTTP_INLINE},
    {"GET", "/dashboard/static/bo.js", e_js, AUTH_NONE, 0, "bo_static", HTTP_INLINE},
    {"GET", "/dashboard/static/reports.js", e_reports_js, AUTH_NONE, 0, "bo_static", HTTP_INLINE},
    {"GET", "/dashboard/static/chart.js", e_chart_js, AUTH_NONE, 0, "bo_static", HTTP_INLINE},
    {"GET", "/dashboard/reports", e_reports, AUTH_NONE, 0, "bo_reports", 0},
    {"GET", "/dashboard/reports/figures.csv", e_reports_csv, AUTH_NONE, 0, "bo_reports", 0},
    {"POST", "/dashboard/reports/runs", e_reports_run, AUTH_NONE, BOF, "bo_reports", 0},
    {"GET", "/dashboard/reports/files/:id", e_reports_file, AUTH_NONE, 0, "bo_reports", 0},
    {"POST", "/dashboard/reports/views/:id/export", e_reports_view, AUTH_NONE, BOF, "bo_reports",
     0},
    {"POST", "/dashboard/reports/schedules", e_reports_sched, AUTH_NONE, BOF, "bo_reports", 0},
    {"POST", "/dashboard/reports/schedules/:id/delete", e_reports_sched_del, AUTH_NONE, BOF,
     "bo_reports", 0},
    {"GET", "/dashboard/payments", e_list, AUTH_NONE, 0, "bo_payments", 0},
    {"GET", "/dashboard/payments/rows", e_rows, AUTH_NONE, 0, "bo_rows", 0},
    {"GET", "/dashboard/live", e_live, AUTH_NONE, 0, "bo_live", 0},
    {"GET", "/dashboard/payments/:id", e_payment, AUTH_NONE, 0, "bo_payment", 0},
    {"POST", "/dashboard/payments/:id/:action", e_action, AUTH_NONE, BOF, "bo_action", 0},
    {"POST", "/dashboard/views", e_view_save, AUTH_NONE, BOF, "bo_view", 0},
    {"POST", "/dashboard/views/:id/delete", e_view_delete, AUTH_NONE, BOF, "bo_view", 0},
    {"GET", "/dashboard/audit", e_audit, AUTH_NONE, 0, "bo_audit", 0},
    {"GET", "/dashboard/developers", e_dev, AUTH_NONE, 0, "bo_dev", 0},
    {"POST", "/dashboard/developers/endpoints", e_dev_ep_create, AUTH_NONE, BOF, "bo_dev", 0},
    {"POST", "/dashboard/developers/endpoints/:id/:what", e_dev_ep_change, AUTH_NONE, BOF, "bo_dev",
     0},
    {"POST", "/dashboard/developers/events/:id/resend", e_dev_resend, AUTH_NONE, BOF, "bo_dev", 0},
    {"POST", "/dashboard/developers/replay", e_dev_replay, AUTH_NONE, BOF, "bo_dev", 0},
    {"GET", "/dashboard/staff", e_staff, AUTH_NONE, 0, "bo_staff", 0},
    {"POST", "/dashboard/staff", e_staff_create, AUTH_NONE, BOF, "bo_staff", 0},
    {"POST", "/dashboard/staff/:id/:what", e_staff_change, AUTH_NONE, BOF, "bo_staff", 0},
    {"GET", "/dashboard/settings", e_settings, AUTH_NONE, 0, "bo_settings", 0},
    {"GET", "/dashboard/settings/preview", e_settings_preview, AUTH_NONE, 0, "bo_settings", 0},
    {"POST", "/dashboard/settings/methods", e_settings_methods, AUTH_NONE, BOF, "bo_settings", 0},
    {"POST", "/dashboard/settings/credentials", e_settings_creds, AUTH_NONE, BOF, "bo_settings", 0},
    {"POST", "/dashboard/settings/branding", e_settings_brand, AUTH_NONE, BOF, "bo_settings", 0},
    {"POST", "/dashboard/settings/expiry", e_settings_expiry, AUTH_NONE, BOF, "bo_settings", 0},
    {"GET", "/dashboard/developers/requests", e_dev_requests, AUTH_NONE, 0, "bo_dev", 0},
    {"POST", "/dashboard/developers/keys", e_dev_key_create, AUTH_NONE, BOF, "bo_dev", 0},
    {"POST", "/dashboard/developers/live", e_dev_live_create, AUTH_NONE, BOF, "bo_dev", 0},
    {"POST", "/dashboard/mode", e_mode, AUTH_NONE, BOF, "bo_mode", 0},
    {"POST", "/dashboard/developers/keys/:id/:what", e_dev_key_change, AUTH_NONE, BOF, "bo_dev", 0},
};

size_t backoffice_routes(const http_route **out)
{
    bo_chartjs_load(); /* at start: the reports page knows whether it can draw charts */
    *out = bo_routes;
    return K_ARRAY_LEN(bo_routes);
}
