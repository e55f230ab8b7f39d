/*
 * bo_html.c - the back office's HTML writer: escaping, the page frame with
 * its navigation and language switch, messages, the hidden fields every form
 * carries (CSRF token, idempotency key), money and times for the person's
 * locale and time zone. Everything goes into the response body buffer; the
 * first write error is kept in r->st and turned into a 500 by bo_finish.
 */
#include "bo_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../base/crypto.h"
#include "../../base/log.h"
#include "../../domain/money.h"
#include "../../gateway/settings.h"

void bo_raw(bo_req *r, const char *s)
{
    if (r->st == K_OK && s != NULL)
        r->st = buf_append_str(r->out, s);
}

void bo_esc(bo_req *r, const char *s)
{
    if (r->st == K_OK && s != NULL)
        r->st = buf_append_html(r->out, s);
}

void bo_fmt(bo_req *r, const char *fmt, ...)
{
    if (r->st != K_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    r->st = buf_vprintf(r->out, fmt, ap);
    va_end(ap);
}

void bo_attr(bo_req *r, const char *name, const char *value)
{
    bo_fmt(r, " %s=\"", name);
    bo_esc(r, value != NULL ? value : "");
    bo_raw(r, "\"");
}

void bo_html_start(bo_req *r, int status)
{
    if (r->resp->body.max == 0)
        buf_init(&r->resp->body, LIMIT_RESPONSE_MAX);
    buf_reset(&r->resp->body);
    r->out = &r->resp->body;
    r->resp->status = status;
    r->resp->content_type = "text/html; charset=utf-8";
}

void bo_finish(bo_req *r)
{
    if (r->st == K_OK)
        return;
    log_error("backoffice: page '%s' could not be built: %s", r->req->path, k_status_str(r->st));
    static const char msg[] = "Internal error: the page could not be built.\n";
    http_resp_set(r->resp, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

static void bo_nav_item(bo_req *r, const char *href, const char *label, const char *key,
                        const char *nav)
{
    bool on = nav != NULL && strcmp(nav, key) == 0;
    bo_fmt(r, "<li><a href=\"%s\"%s>%s</a></li>", href, on ? " aria-current=\"page\"" : "", label);
}

static void bo_lang_switch(bo_req *r)
{
    static const char *const codes[] = {"en", "de", "fr", "fi", "sv"};
    static const char *const names[] = {"English", "Deutsch", "Français", "Suomi", "Svenska"};
    bo_fmt(r, "<nav class=\"langs\" aria-label=\"%s\"><ul>", T(r, "Language"));
    for (size_t i = 0; i < K_ARRAY_LEN(codes); i++) {
        bool on = strcmp(codes[i], r->locale) == 0;
        bo_fmt(r, "<li><a href=\"?lang=%s\" lang=\"%s\"%s>%s</a></li>", codes[i], codes[i],
               on ? " aria-current=\"true\"" : "", names[i]);
    }
    bo_raw(r, "</ul></nav>");
}

void bo_page_begin(bo_req *r, const char *title, const char *nav)
{
    bo_fmt(r, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">", r->locale);
    bo_raw(r, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    bo_raw(r, "<title>");
    bo_esc(r, title);
    bo_raw(r, " · Kassa</title><link rel=\"stylesheet\" href=\"/dashboard/static/bo.css\">"
              "<script src=\"/dashboard/static/bo.js\" defer></script></head><body>");
    bo_fmt(r, "<a class=\"skip\" href=\"#main\">%s</a><header class=\"top\">",
           T(r, "Skip to content"));
    bo_raw(r, "<a class=\"brand\" href=\"/dashboard\">Kassa</a>");
    if (r->signed_in) {
        bo_fmt(r, "<nav aria-label=\"%s\"><ul>", T(r, "Main"));
        bo_nav_item(r, "/dashboard/payments", T(r, "Payments"), "payments", nav);
        if (staff_can(&r->s, STAFF_ACT))
            bo_nav_item(r, "/dashboard/payments?queue=expiring", T(r, "Expiring soon"), "expiring",
                        nav);
        bo_nav_item(r, "/dashboard/reports", T(r, "Reports"), "reports", nav);
        if (staff_can(&r->s, STAFF_AUDIT))
            bo_nav_item(r, "/dashboard/audit", T(r, "Audit log"), "audit", nav);
        if (staff_can(&r->s, STAFF_DEV))
            bo_nav_item(r, "/dashboard/developers", T(r, "Developers"), "developers", nav);
        bo_nav_item(r, "/dashboard/settings", T(r, "Settings"), "settings", nav);
        if (staff_can(&r->s, STAFF_USERS))
            bo_nav_item(r, "/dashboard/staff", T(r, "Staff"), "staff", nav);
        bo_raw(r, "</ul></nav>");
        if (r->live_id != NULL) { /* the Test/Live switch, once the live account exists */
            bo_fmt(r,
                   "<form method=\"post\" action=\"/dashboard/mode\" class=\"mode\" "
                   "role=\"group\" aria-label=\"%s\">",
                   T(r, "Mode"));
            bo_csrf_field(r);
            bo_fmt(r,
                   "<button type=\"submit\" name=\"mode\" value=\"test\" class=\"small%s\" "
                   "aria-pressed=\"%s\">%s</button><button type=\"submit\" name=\"mode\" "
                   "value=\"live\" class=\"small%s\" aria-pressed=\"%s\">%s</button></form>",
                   r->live ? "" : " on", r->live ? "false" : "true", T(r, "Test data"),
                   r->live ? " on" : "", r->live ? "true" : "false", T(r, "Live data"));
        }
        bo_raw(r, "<div class=\"who\"><span>");
        bo_esc(r, r->s.email);
        bo_fmt(r, " · %s</span>", T(r, r->s.role->name));
        bo_raw(r, "<form method=\"post\" action=\"/dashboard/signout\">");
        bo_csrf_field(r);
        bo_fmt(r, "<button type=\"submit\" class=\"link\">%s</button></form></div>",
               T(r, "Sign out"));
    }
    bo_lang_switch(r);
    bo_raw(r, "</header>");
    /* Every page while the merchant is in test mode (and the sandbox's sign-in pages); never
     * in live mode, which says so instead. */
    if (r->live)
        bo_fmt(r, "<p class=\"banner live\" role=\"note\">%s</p>",
               T(r, "Live mode: real payments, real money."));
    else if (r->api->sandbox ||
             (r->signed_in && gw_merchant_test_mode(r->api->g, r->s.merchant_id)))
        bo_fmt(r, "<p class=\"banner test\" role=\"note\">%s</p>",
               T(r, "Test mode: sandbox data, no real money moves."));
    bo_raw(r, "<main id=\"main\" tabindex=\"-1\">");
}

void bo_page_end(bo_req *r)
{
    bo_raw(r, "</main></body></html>");
}

void bo_message(bo_req *r, int status, const char *title, const char *text, const char *back)
{
    bo_html_start(r, status);
    bo_page_begin(r, title, NULL);
    bo_raw(r, "<section class=\"card narrow\" role=\"alert\"><h1>");
    bo_esc(r, title);
    bo_raw(r, "</h1><p>");
    bo_esc(r, text);
    bo_raw(r, "</p>");
    if (back != NULL) {
        bo_raw(r, "<p><a");
        bo_attr(r, "href", back);
        bo_fmt(r, ">%s</a></p>", T(r, "Back"));
    }
    bo_raw(r, "</section>");
    bo_page_end(r);
    bo_finish(r);
}

void bo_csrf_field(bo_req *r)
{
    if (r->signed_in)
        bo_fmt(r, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->s.csrf);
}

void bo_idem_field(bo_req *r)
{
    uint8_t raw[16];
    char hex[33];
    if (crypto_random(raw, sizeof raw) != K_OK) {
        r->st = K_ERR;
        return;
    }
    crypto_hex(raw, sizeof raw, hex);
    bo_fmt(r, "<input type=\"hidden\" name=\"idem\" value=\"%s\">", hex);
}

void bo_money(bo_req *r, int64_t amount, const char *currency)
{
    const currency_info *cur = currency_find(currency);
    char out[64];
    if (cur == NULL) {
        snprintf(out, sizeof out, "%lld %s", (long long)amount, currency != NULL ? currency : "");
    } else {
        money_format(amount, cur, r->locale, out, sizeof out);
    }
    bo_esc(r, out);
}

int bo_tz_offset_min(bo_req *r)
{
    const char *v = bo_q(r, "tz");
    if (v == NULL)
        v = http_req_cookie(r->req, "kassa_tz");
    if (v == NULL)
        return 0;
    char *end;
    long m = strtol(v, &end, 10);
    if (*end != '\0' || m < -840 || m > 840)
        return 0;
    return (int)m;
}

void bo_time(bo_req *r, int64_t unix_s)
{
    if (unix_s <= 0) {
        bo_raw(r, "–");
        return;
    }
    time_t t = (time_t)(unix_s + (int64_t)bo_tz_offset_min(r) * 60);
    struct tm tm;
    gmtime_r(&t, &tm);
    char out[32];
    strftime(out, sizeof out, r->lang == BO_EN ? "%Y-%m-%d %H:%M" : "%d.%m.%Y %H:%M", &tm);
    bo_fmt(r, "<time datetime=\"%lld\">%s</time>", (long long)unix_s, out);
}

static const char *bo_nonempty(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL && v[0] != '\0' ? v : NULL;
}

const char *bo_q(bo_req *r, const char *key)
{
    return bo_nonempty(r->query, key);
}

const char *bo_f(bo_req *r, const char *key)
{
    return bo_nonempty(r->form, key);
}

const char *bo_status_label(bo_req *r, const char *status)
{
    static const char *const map[][2] = {
        {"requires_payment_method", "Awaiting payment"},
        {"requires_confirmation", "Awaiting confirmation"},
        {"requires_action", "Customer acting"},
        {"processing", "Processing"},
        {"requires_capture", "Authorised"},
        {"succeeded", "Succeeded"},
        {"canceled", "Canceled"},
    };
    for (size_t i = 0; status != NULL && i < K_ARRAY_LEN(map); i++)
        if (strcmp(map[i][0], status) == 0)
            return T(r, map[i][1]);
    return status != NULL ? status : "";
}
