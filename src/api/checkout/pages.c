/*
 * pages.c - HTML templates of the hosted pages (Checkout Session page, result
 * page, simple message pages), the page shell shared with the demo shop, and
 * the stylesheet. Everything that comes from a merchant or a customer goes
 * through buf_append_html; URLs are only linked when pages_url_ok says so.
 */
#include "pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../domain/money.h"

/* ---- output helpers ---- */

static void keep(pages_out *o, k_status st)
{
    if (o->st == K_OK && st != K_OK) {
        o->st = st;
    }
}

void pages_raw(pages_out *o, const char *s)
{
    K_ASSERT(o != NULL && s != NULL);
    keep(o, buf_append_str(o->b, s));
}

void pages_text(pages_out *o, const char *s)
{
    K_ASSERT(o != NULL);
    keep(o, buf_append_html(o->b, s != NULL ? s : ""));
}

void pages_fmt(pages_out *o, const char *fmt, ...)
{
    K_ASSERT(o != NULL);
    va_list ap;
    va_start(ap, fmt);
    keep(o, buf_vprintf(o->b, fmt, ap));
    va_end(ap);
}

void pages_fill(pages_out *o, const char *tmpl, const char *value)
{
    K_ASSERT(tmpl != NULL);
    const char *at = strstr(tmpl, "{}");
    if (at == NULL) {
        pages_text(o, tmpl);
        return;
    }
    char head[512];
    size_t n = (size_t)(at - tmpl);
    K_ASSERT(n < sizeof head); /* templates are ours and short */
    memcpy(head, tmpl, n);
    head[n] = '\0';
    pages_text(o, head);
    pages_text(o, value);
    pages_text(o, at + 2);
}

/* ---- money and URLs ---- */

void pages_money(int64_t amount, const char *currency, i18n_lang lang, char *out, size_t cap)
{
    K_ASSERT(out != NULL && cap > 0);
    const currency_info *cur = currency_find(currency != NULL ? currency : "");
    if (cur == NULL) {
        snprintf(out, cap, "%lld %s", (long long)amount, currency != NULL ? currency : "");
        return;
    }
    money_format(amount, cur, i18n_code(lang), out, cap);
}

bool pages_url_ok(const char *url)
{
    if (url == NULL || url[0] == '\0') {
        return false;
    }
    if (url[0] == '/') {
        return url[1] != '/' && url[1] != '\\';
    }
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

k_status pages_subst_session(buf *out, const char *url, const char *cs_id)
{
    K_ASSERT(out != NULL && url != NULL && cs_id != NULL);
    static const char mark[] = "{CHECKOUT_SESSION_ID}";
    const char *p = url;
    for (;;) {
        const char *at = strstr(p, mark);
        if (at == NULL) {
            return buf_append_str(out, p);
        }
        k_status st = buf_append(out, p, (size_t)(at - p));
        if (st == K_OK) {
            st = buf_append_str(out, cs_id);
        }
        if (st != K_OK) {
            return st;
        }
        p = at + sizeof mark - 1;
    }
}

/* ---- shell ---- */

void pages_begin(pages_out *o, i18n_lang lang, const char *title, int refresh_s, const char *banner,
                 bool wide)
{
    pages_fmt(o, "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n",
              i18n_code(lang));
    pages_raw(o, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta name=\"referrer\" content=\"no-referrer\">\n");
    if (refresh_s > 0) {
        pages_fmt(o, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s);
    }
    pages_raw(o, "<title>");
    pages_text(o, title);
    pages_raw(o, " · Kassa</title>\n<link rel=\"stylesheet\" href=\"/assets/kassa.css\">\n"
                 "</head>\n<body>\n");
    if (banner != NULL) {
        pages_raw(o, "<p class=\"banner\" role=\"note\">");
        pages_text(o, banner);
        pages_raw(o, "</p>\n");
    }
    pages_raw(o, wide ? "<div class=\"wrap wide\">\n" : "<div class=\"wrap\">\n");
    pages_raw(o, "<main id=\"main\">\n");
}

void pages_end(pages_out *o, i18n_lang lang, const char *switch_path)
{
    pages_raw(o, "</main>\n<footer class=\"foot\">\n");
    if (switch_path != NULL) { /* Kassa's own pages; the demo shop plays the merchant */
        pages_raw(o, "<p>");
        pages_text(o, i18n_t(lang, T_PAID_BY));
        pages_raw(o, "</p>\n");
        pages_raw(o, "<nav class=\"langs\" aria-label=\"");
        pages_text(o, i18n_t(lang, T_LANGUAGE));
        pages_raw(o, "\"><ul>\n");
        for (int i = 0; i < LANG__COUNT; i++) {
            const char *code = i18n_code((i18n_lang)i);
            pages_fmt(o, "<li><a lang=\"%s\" hreflang=\"%s\" href=\"", code, code);
            pages_text(o, switch_path);
            pages_fmt(o, "?locale=%s\"%s>", code, i == (int)lang ? " aria-current=\"true\"" : "");
            pages_text(o, i18n_native_name((i18n_lang)i));
            pages_raw(o, "</a></li>\n");
        }
        pages_raw(o, "</ul></nav>\n");
    }
    pages_raw(o, "</footer>\n</div>\n</body>\n</html>\n");
}

/* ---- merchant header, dates ---- */

/* Is c "#rrggbb" (either case)? The brand stylesheet's URL carries the 6 digits. */
static bool brand_hex(const char *c)
{
    if (c == NULL || strlen(c) != 7 || c[0] != '#')
        return false;
    for (int i = 1; i < 7; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f') ||
              (c[i] >= 'A' && c[i] <= 'F')))
            return false;
    return true;
}

void pages_merchant(pages_out *o, i18n_lang l, const gw_brand *b)
{
    /* The merchant's button colours: a stylesheet of their own (the pages' CSP
     * allows no inline style); a <link> in the body is valid HTML. */
    if (b != NULL && brand_hex(b->accent) && brand_hex(b->accent_text))
        pages_fmt(o, "<link rel=\"stylesheet\" href=\"/assets/brand.css?a=%s&amp;t=%s\">",
                  b->accent + 1, b->accent_text + 1);
    pages_raw(o, "<header class=\"merchant\">");
    if (b != NULL && b->logo_url != NULL) {
        pages_raw(o, "<img class=\"logo\" alt=\"\" src=\"");
        pages_text(o, b->logo_url);
        pages_raw(o, "\">");
    }
    if (b != NULL && b->name != NULL) {
        pages_raw(o, "<span class=\"merchant-name\">");
        pages_text(o, b->name);
        pages_raw(o, "</span>");
    }
    pages_raw(o, "<span class=\"badge test\">");
    pages_text(o, i18n_t(l, T_TEST_MODE));
    pages_raw(o, "</span></header>\n");
}

void pages_date(int64_t unix_s, i18n_lang lang, char *out, size_t cap)
{
    K_ASSERT(out != NULL && cap > 0);
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;
    if (lang == LANG_DE || lang == LANG_FI) {
        snprintf(out, cap, "%d.%d.%d", d, m, y);
    } else if (lang == LANG_SV) {
        snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
    } else {
        snprintf(out, cap, "%02d/%02d/%d", d, m, y);
    }
}

/* ---- the Checkout Session page ---- */

static const struct {
    const char *name;
    i18n_key label, hint;
} method_labels[] = {
    {"klarna_pay_now", T_M_KLARNA_PAY_NOW, T__COUNT},
    {"klarna_pay_later", T_M_KLARNA_PAY_LATER, T__COUNT},
    {"klarna", T_M_KLARNA, T_M_KLARNA_HINT},
    {"alipay", T_M_ALIPAY, T_M_ALIPAY_HINT},
};

int pages_method_label(const char *method)
{
    for (size_t i = 0; method != NULL && i < K_ARRAY_LEN(method_labels); i++) {
        if (strcmp(method, method_labels[i].name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool pages_method_keys(const char *method, i18n_key *label, i18n_key *hint)
{
    int k = pages_method_label(method);
    if (k < 0) {
        return false;
    }
    *label = method_labels[k].label;
    *hint = method_labels[k].hint;
    return true;
}

static const char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* Integers may arrive as numbers or (form-decoded) strings. */
static int64_t json_i64(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        return (int64_t)json_integer_value(v);
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0') {
        return dflt;
    }
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    return (end != NULL && *end == '\0') ? (int64_t)n : dflt;
}

/* The name of a line: flat {name} or Stripe's {price_data:{product_data:{name}}}. */
static const char *line_name(json_t *li)
{
    const char *n = json_str(li, "name");
    if (n[0] == '\0') {
        n = json_str(json_object_get(json_object_get(li, "price_data"), "product_data"), "name");
    }
    if (n[0] == '\0') {
        n = json_str(li, "description");
    }
    return n;
}

static void line_row(pages_out *o, const pages_pay_view *v, json_t *li)
{
    int64_t qty = json_i64(li, "quantity", 1);
    int64_t unit = json_i64(li, "unit_amount", -1);
    if (unit < 0) {
        unit = json_i64(json_object_get(li, "price_data"), "unit_amount", 0);
    }
    int64_t total = json_i64(li, "amount_total", -1);
    if (total < 0 && !money_mul(unit, qty, &total)) {
        total = 0;
    }
    char unit_s[64], total_s[64];
    pages_money(unit, v->s->currency, v->lang, unit_s, sizeof unit_s);
    pages_money(total, v->s->currency, v->lang, total_s, sizeof total_s);
    pages_raw(o, "<tr><td>");
    pages_text(o, line_name(li));
    pages_fmt(o, "</td><td class=\"num\">%lld</td><td class=\"num\">", (long long)qty);
    pages_text(o, unit_s);
    pages_raw(o, "</td><td class=\"num\">");
    pages_text(o, total_s);
    pages_raw(o, "</td></tr>\n");
}

static void order_table(pages_out *o, const pages_pay_view *v, const char *total_s)
{
    i18n_lang l = v->lang;
    pages_raw(o, "<section aria-labelledby=\"summary\">\n<h2 id=\"summary\">");
    pages_text(o, i18n_t(l, T_ORDER_SUMMARY));
    pages_raw(o, "</h2>\n<table class=\"lines\">\n<thead><tr><th scope=\"col\">");
    pages_text(o, i18n_t(l, T_COL_ITEM));
    pages_raw(o, "</th><th scope=\"col\" class=\"num\">");
    pages_text(o, i18n_t(l, T_COL_QTY));
    pages_raw(o, "</th><th scope=\"col\" class=\"num\">");
    pages_text(o, i18n_t(l, T_COL_UNIT));
    pages_raw(o, "</th><th scope=\"col\" class=\"num\">");
    pages_text(o, i18n_t(l, T_COL_TOTAL));
    pages_raw(o, "</th></tr></thead>\n<tbody>\n");
    size_t i;
    json_t *li;
    json_array_foreach(v->s->line_items, i, li)
    {
        line_row(o, v, li);
    }
    pages_raw(o, "</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"3\">");
    pages_text(o, i18n_t(l, T_TOTAL));
    pages_raw(o, "</th><td class=\"num\" id=\"total\">");
    pages_text(o, total_s);
    pages_raw(o, "</td></tr></tfoot>\n</table>\n</section>\n");
}

/* Is method i offered for the selected country (its data-countries list)? */
static bool method_shown(const pages_pay_view *v, size_t i)
{
    if (v->method_countries == NULL || v->method_countries[i] == NULL || v->country == NULL) {
        return true;
    }
    const char *list = v->method_countries[i];
    for (const char *at = strstr(list, v->country); at != NULL; at = strstr(at + 1, v->country)) {
        bool start = at == list || at[-1] == ' ';
        bool end = at[2] == ' ' || at[2] == '\0';
        if (start && end && strlen(v->country) == 2) {
            return true;
        }
    }
    return false;
}

/* The error box, where it belongs: next to its field, or at the top of the
 * form when it is about no field (field NULL). */
static void error_box(pages_out *o, const pages_pay_view *v, const char *field)
{
    bool mine = field == NULL ? v->error_field == NULL
                              : v->error_field != NULL && strcmp(v->error_field, field) == 0;
    if (v->error == NULL || !mine) {
        return;
    }
    pages_raw(o, "<div class=\"alert\" role=\"alert\" id=\"form-error\">");
    pages_text(o, v->error);
    pages_raw(o, "</div>\n");
}

static void method_options(pages_out *o, const pages_pay_view *v)
{
    i18n_lang l = v->lang;
    bool bad = v->error_field != NULL && strcmp(v->error_field, "method") == 0;
    pages_fmt(o, "<fieldset%s>\n<legend>", bad ? " aria-describedby=\"form-error\"" : "");
    pages_text(o, i18n_t(l, T_PAYMENT_METHOD));
    pages_raw(o, "</legend>\n");
    error_box(o, v, "method");
    bool any_selected = false;
    size_t first_shown = v->nmethods;
    for (size_t i = 0; i < v->nmethods; i++) {
        any_selected = any_selected || (v->method != NULL && strcmp(v->method, v->methods[i]) == 0);
        if (first_shown == v->nmethods && method_shown(v, i)) {
            first_shown = i;
        }
    }
    for (size_t i = 0; i < v->nmethods; i++) {
        const char *m = v->methods[i];
        bool checked = any_selected ? strcmp(v->method, m) == 0 : i == first_shown;
        int k = pages_method_label(m);
        pages_raw(o, method_shown(v, i) || checked ? "<div class=\"option\""
                                                   : "<div class=\"option\" hidden");
        if (v->method_countries != NULL && v->method_countries[i] != NULL) {
            pages_raw(o, " data-countries=\"");
            pages_text(o, v->method_countries[i]);
            pages_raw(o, "\"");
        }
        pages_raw(o, "><input type=\"radio\" name=\"method\" id=\"m-");
        pages_text(o, m);
        pages_raw(o, "\" value=\"");
        pages_text(o, m);
        pages_fmt(o, "\"%s required><label for=\"m-", checked ? " checked" : "");
        pages_text(o, m);
        pages_raw(o, "\">");
        pages_text(o, k >= 0 ? i18n_t(l, method_labels[k].label) : m);
        if (k >= 0 && method_labels[k].hint != T__COUNT) {
            pages_raw(o, "<span class=\"hint\">");
            pages_text(o, i18n_t(l, method_labels[k].hint));
            pages_raw(o, "</span>");
        }
        pages_raw(o, "</label></div>\n");
    }
    pages_raw(o, "</fieldset>\n");
}

static void email_field(pages_out *o, const pages_pay_view *v)
{
    bool bad = v->error_field != NULL && strcmp(v->error_field, "email") == 0;
    const char *email = v->email != NULL ? v->email : v->s->customer_email;
    pages_raw(o, "<div class=\"field\"><label for=\"email\">");
    pages_text(o, i18n_t(v->lang, T_EMAIL));
    pages_raw(o, "</label><input type=\"email\" id=\"email\" name=\"email\" autocomplete=\"email\" "
                 "required maxlength=\"254\" value=\"");
    pages_text(o, email);
    pages_fmt(o, "\" aria-describedby=\"email-hint%s\"%s><span class=\"hint\" id=\"email-hint\">",
              bad ? " form-error" : "", bad ? " aria-invalid=\"true\"" : "");
    pages_text(o, i18n_t(v->lang, T_EMAIL_HINT));
    pages_raw(o, "</span>");
    error_box(o, v, "email");
    pages_raw(o, "</div>\n");
}

static void country_field(pages_out *o, const pages_pay_view *v, const char *selected)
{
    bool bad = v->error_field != NULL && strcmp(v->error_field, "country") == 0;
    pages_raw(o, "<div class=\"field\"><label for=\"country\">");
    pages_text(o, i18n_t(v->lang, T_COUNTRY));
    pages_fmt(
        o, "</label><select id=\"country\" name=\"country\" autocomplete=\"country\" required%s>\n",
        bad ? " aria-invalid=\"true\" aria-describedby=\"form-error\"" : "");
    for (size_t i = 0; i < i18n_country_count(); i++) {
        const char *cc = i18n_country_code(i);
        pages_fmt(o, "<option value=\"%s\"%s>", cc,
                  selected != NULL && strcmp(selected, cc) == 0 ? " selected" : "");
        pages_text(o, i18n_country_name(v->lang, i));
        pages_raw(o, "</option>\n");
    }
    pages_raw(o, "</select>");
    error_box(o, v, "country");
    pages_raw(o, "</div>\n");
}

void pages_pay(pages_out *o, const pages_pay_view *v)
{
    K_ASSERT(v != NULL && v->s != NULL);
    K_ASSERT(v->nmethods == 0 || v->methods != NULL);
    i18n_lang l = v->lang;
    char total_s[64];
    pages_money(v->s->amount_total, v->s->currency, l, total_s, sizeof total_s);
    const char *country = v->country;
    if (i18n_country_find(country) < 0) {
        country = i18n_default_country(l, NULL, v->s->currency);
    }

    pages_merchant(o, l, v->brand);
    pages_raw(o, "<h1>");
    pages_text(o, i18n_t(l, T_CHECKOUT_TITLE));
    pages_raw(o, "</h1>\n");
    order_table(o, v, total_s);
    pages_raw(o, "<form method=\"post\" class=\"pay\" action=\"/c/pay/");
    pages_text(o, v->s->id);
    pages_raw(o, "\" data-paying=\"");
    pages_text(o, i18n_t(l, T_PAYING));
    pages_raw(o, "\">\n");
    error_box(o, v, NULL);
    if (v->nmethods > 0) {
        method_options(o, v);
    } else {
        error_box(o, v, "method");
    }
    email_field(o, v);
    country_field(o, v, country);
    pages_fmt(o, "<input type=\"hidden\" name=\"locale\" value=\"%s\">\n", i18n_code(l));
    if (v->nmethods > 0) {
        pages_raw(o, "<button type=\"submit\" class=\"btn\">");
        pages_fill(o, i18n_t(l, T_PAY_BUTTON), total_s);
        pages_raw(o, "</button>\n<p class=\"note\">");
        pages_text(o, i18n_t(l, T_REDIRECT_NOTE));
        pages_raw(o, "</p>\n");
    }
    pages_raw(o, "</form>\n<script src=\"/assets/kassa.js\" defer></script>\n");
    if (pages_url_ok(v->s->cancel_url)) {
        pages_raw(o, "<p class=\"center\"><a class=\"link\" href=\"");
        pages_text(o, v->s->cancel_url);
        pages_raw(o, "\">");
        pages_text(o, i18n_t(l, T_CANCEL));
        pages_raw(o, "</a></p>\n");
    }
}

/* ---- the result page ---- */

pages_outcome pages_outcome_of(const gw_session *s, const gw_payment *p)
{
    K_ASSERT(s != NULL);
    if (s->payment_status != NULL && strcmp(s->payment_status, "paid") == 0) {
        return PAGES_PAID;
    }
    if (p == NULL) {
        return s->status != NULL && strcmp(s->status, "expired") == 0 ? PAGES_CANCELED : PAGES_OPEN;
    }
    switch (p->m.state) {
    case PS_SUCCEEDED:
    case PS_REQUIRES_CAPTURE:
        return PAGES_PAID;
    case PS_CANCELED:
        return PAGES_CANCELED;
    case PS_PROCESSING:
    case PS_REQUIRES_ACTION:
        return PAGES_PROCESSING;
    case PS_REQUIRES_PAYMENT_METHOD:
    case PS_REQUIRES_CONFIRMATION:
    case PS__COUNT:
        break;
    }
    if (s->status != NULL && strcmp(s->status, "expired") == 0) {
        return PAGES_CANCELED;
    }
    if (p->last_error_code != NULL && p->last_error_code[0] != '\0') {
        return PAGES_FAILED;
    }
    return PAGES_OPEN;
}

i18n_key pages_reason(const char *code)
{
    static const struct {
        const char *code;
        i18n_key key;
    } map[] = {
        {"payment_method_customer_decline", T_R_CUSTOMER_DECLINE},
        {"payment_method_provider_decline", T_R_PROVIDER_DECLINE},
        {"payment_intent_payment_attempt_expired", T_R_EXPIRED},
        {"payment_intent_payment_attempt_failed", T_R_GENERIC},
        {"payment_method_not_available", T_R_NOT_AVAILABLE},
        {"payment_intent_authentication_failure", T_R_AUTH_FAILED},
        {"canceled", T_R_CANCELED},
    };
    for (size_t i = 0; code != NULL && i < K_ARRAY_LEN(map); i++) {
        if (strcmp(code, map[i].code) == 0) {
            return map[i].key;
        }
    }
    return T_R_GENERIC;
}

static void link_button(pages_out *o, const char *href, const char *text, bool primary)
{
    pages_fmt(o, "<a class=\"btn%s\" href=\"", primary ? "" : " secondary");
    pages_text(o, href);
    pages_raw(o, "\">");
    pages_text(o, text);
    pages_raw(o, "</a>\n");
}

static void status_head(pages_out *o, const char *cls, const char *mark, const char *title)
{
    pages_fmt(o, "<div class=\"status %s\" aria-hidden=\"true\">%s</div>\n<h1>", cls, mark);
    pages_text(o, title);
    pages_raw(o, "</h1>\n");
}

/* Pay Later tells when and how much, as Klarna's own pages do: the invoice
 * within 30 days, or three instalments (the first one carries the rounding). */
static void done_pay_later(pages_out *o, i18n_lang l, const gw_session *s, const gw_payment *p,
                           const char *amount)
{
    bool instalments = strcmp(p->method_detail, "pay_over_time") == 0;
    int64_t from = p->auth_created_at > 0 ? p->auth_created_at : p->created;
    pages_raw(o, "<p>");
    pages_fill(o, i18n_t(l, instalments ? T_PAID_INSTALMENTS_BODY : T_PAID_LATER_BODY), amount);
    pages_raw(o, "</p>\n<dl class=\"kv\"><dt>");
    if (!instalments) {
        char due[32];
        pages_date(from + PAGES_PAY_LATER_DAYS * 86400, l, due, sizeof due);
        pages_text(o, i18n_t(l, T_DUE_BY));
        pages_raw(o, "</dt><dd>");
        pages_text(o, due);
        pages_raw(o, "</dd><dt>");
        return;
    }
    pages_text(o, i18n_t(l, T_INSTALMENTS));
    pages_raw(o, "</dt><dd><ol class=\"instalments\">");
    int64_t part = s->amount_total / 3, first = s->amount_total - 2 * part;
    for (int i = 0; i < 3; i++) {
        char money[64], due[32];
        pages_money(i == 0 ? first : part, s->currency, l, money, sizeof money);
        pages_date(from + (int64_t)i * PAGES_PAY_LATER_DAYS * 86400, l, due, sizeof due);
        pages_raw(o, "<li>");
        pages_text(o, money);
        pages_raw(o, " · ");
        pages_text(o, due);
        pages_raw(o, "</li>");
    }
    pages_raw(o, "</ol></dd><dt>");
}

static void done_paid(pages_out *o, i18n_lang l, const gw_session *s, const gw_payment *p,
                      const char *amount)
{
    status_head(o, "ok", "&#10003;", i18n_t(l, T_PAID_TITLE));
    bool later = p != NULL && p->method_detail != NULL &&
                 strcmp(p->method_detail, "pay_now") != 0 && p->method_type != NULL &&
                 strncmp(p->method_type, "klarna", 6) == 0;
    if (later) {
        done_pay_later(o, l, s, p, amount);
    } else {
        pages_raw(o, "<p>");
        pages_fill(o, i18n_t(l, T_PAID_BODY), amount);
        pages_raw(o, "</p>\n<dl class=\"kv\"><dt>");
    }
    pages_text(o, i18n_t(l, T_AMOUNT));
    pages_raw(o, "</dt><dd>");
    pages_text(o, amount);
    pages_raw(o, "</dd><dt>");
    pages_text(o, i18n_t(l, T_ORDER_REF));
    pages_raw(o, "</dt><dd>");
    const char *ref = s->client_reference_id;
    pages_text(o, ref != NULL && ref[0] != '\0' ? ref : s->payment_id);
    pages_raw(o, "</dd></dl>\n");
    if (pages_url_ok(s->success_url)) {
        buf u;
        buf_init(&u, LIMIT_URL_MAX * 4);
        keep(o, pages_subst_session(&u, s->success_url, s->id));
        link_button(o, u.data != NULL ? u.data : "", i18n_t(l, T_BACK_TO_SHOP), true);
        buf_free(&u);
    }
}

void pages_done(pages_out *o, i18n_lang l, const gw_session *s, const gw_payment *p)
{
    K_ASSERT(s != NULL);
    char amount[64];
    pages_money(s->amount_total, s->currency, l, amount, sizeof amount);
    pages_outcome oc = pages_outcome_of(s, p);
    char again[LIMIT_ID_MAX + 16];
    snprintf(again, sizeof again, "/c/pay/%s", s->id);
    bool cancel_ok = pages_url_ok(s->cancel_url);
    switch (oc) {
    case PAGES_PAID:
        done_paid(o, l, s, p, amount);
        break;
    case PAGES_PROCESSING:
        status_head(o, "wait", "<span class=\"spin\"></span>", i18n_t(l, T_PROCESSING_TITLE));
        pages_raw(o, "<p role=\"status\">");
        pages_text(o, i18n_t(l, T_PROCESSING_BODY));
        pages_raw(o, "</p>\n");
        link_button(o, "", i18n_t(l, T_CHECK_NOW), false);
        break;
    case PAGES_FAILED:
    case PAGES_OPEN:
        status_head(o, "bad", "!", i18n_t(l, T_FAILED_TITLE));
        pages_raw(o, "<p class=\"alert\" role=\"alert\">");
        pages_text(o, i18n_t(l, pages_reason(p != NULL ? p->last_error_code : NULL)));
        pages_raw(o, "</p>\n");
        link_button(o, again, i18n_t(l, T_TRY_AGAIN), true);
        if (cancel_ok) {
            link_button(o, s->cancel_url, i18n_t(l, T_BACK_TO_SHOP), false);
        }
        break;
    case PAGES_CANCELED: {
        bool expired = s->status != NULL && strcmp(s->status, "expired") == 0;
        status_head(o, "bad", "!", i18n_t(l, expired ? T_EXPIRED_TITLE : T_CANCELED_TITLE));
        pages_raw(o, "<p>");
        pages_text(o, i18n_t(l, expired ? T_EXPIRED_BODY : T_R_CANCELED));
        pages_raw(o, "</p>\n");
        if (cancel_ok) {
            link_button(o, s->cancel_url, i18n_t(l, T_BACK_TO_SHOP), true);
        }
        break;
    }
    }
}

void pages_message(pages_out *o, i18n_lang l, i18n_key title, i18n_key body, const char *link,
                   i18n_key link_text)
{
    status_head(o, "bad", "!", i18n_t(l, title));
    pages_raw(o, "<p>");
    pages_text(o, i18n_t(l, body));
    pages_raw(o, "</p>\n");
    if (pages_url_ok(link)) {
        link_button(o, link, i18n_t(l, link_text), true);
    }
}

/* ---- stylesheet ---- */

static const char css[] =
    ":root{--accent:#3730a3;--accent-dark:#2a2480;--text:#1b1f27;--muted:#4b5563;"
    "--line:#dde1e8;--bg:#f3f4f7;--ok:#146c2e;--bad:#b42318}\n"
    "*{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
    "body{margin:0;background:var(--bg);color:var(--text);"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
    "\"Noto Sans\",sans-serif}\n"
    ".wrap{max-width:34rem;margin:0 auto;padding:1.5rem 1rem 2rem}\n"
    ".wrap.wide{max-width:60rem}\n"
    "main{background:#fff;border:1px solid var(--line);border-radius:12px;padding:1.5rem;"
    "box-shadow:0 1px 3px rgba(16,24,40,.06)}\n"
    "@media (max-width:30rem){.wrap{padding:.75rem .5rem 1.5rem}main{padding:1.1rem}"
    "th,td{padding:.5rem .2rem}thead th{font-size:.7rem;letter-spacing:0}}\n"
    "h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}\n"
    "h2{font-size:1.05rem;margin:1.25rem 0 .5rem}\n"
    "p{margin:.5rem 0}\n"
    "a{color:var(--accent)}\n"
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}\n"
    "table{width:100%;border-collapse:collapse;font-size:.95rem}\n"
    "th,td{padding:.5rem .3rem;text-align:left;border-bottom:1px solid var(--line);"
    "vertical-align:top}\n"
    "thead th{font-weight:600;color:var(--muted);font-size:.8rem;text-transform:uppercase;"
    "letter-spacing:.03em}\n"
    ".num{text-align:right;white-space:nowrap}\n"
    "td:first-child{overflow-wrap:anywhere;hyphens:auto}\n"
    "tfoot th,tfoot td{border-bottom:0;font-size:1.1rem;font-weight:700;padding-top:.75rem}\n"
    "fieldset{border:0;padding:0;margin:1.5rem 0 0;min-width:0}\n"
    "legend{font-weight:600;padding:0;margin-bottom:.5rem}\n"
    ".option{display:flex;gap:.75rem;align-items:flex-start;border:1px solid var(--line);"
    "border-radius:8px;padding:.75rem;margin-bottom:.5rem;background:#fff}\n"
    ".option:has(input:checked){border-color:var(--accent);box-shadow:0 0 0 1px var(--accent);"
    "background:#f5f5ff}\n"
    ".option input{margin:.2rem 0 0;width:1.15rem;height:1.15rem;accent-color:var(--accent);"
    "flex:none}\n"
    ".option label{flex:1;cursor:pointer;font-weight:500}\n"
    ".hint{display:block;color:var(--muted);font-size:.875rem;font-weight:400}\n"
    ".field{margin-top:1.25rem}\n"
    ".field label{display:block;font-weight:600;margin-bottom:.35rem}\n"
    ".field .hint{margin-top:.3rem}\n"
    "input[type=email],input[type=text],input[type=number],select{width:100%;font:inherit;"
    "padding:.6rem .75rem;border:1px solid #7b8494;border-radius:8px;background:#fff;"
    "color:var(--text)}\n"
    "input[aria-invalid=true],select[aria-invalid=true]{border-color:var(--bad);"
    "box-shadow:0 0 0 1px var(--bad)}\n"
    ".btn{display:block;width:100%;text-align:center;font:inherit;font-weight:600;"
    "font-size:1.05rem;padding:.8rem 1rem;border-radius:8px;border:1px solid var(--accent);"
    "background:var(--accent);color:#fff;text-decoration:none;cursor:pointer;margin-top:1.25rem}\n"
    ".btn:hover{background:var(--accent-dark)}\n"
    ".btn.secondary{background:#fff;color:var(--accent);margin-top:.75rem}\n"
    ".btn.secondary:hover{background:#f0f0fb}\n"
    ".btn.inline{display:inline-block;width:auto;margin:0;font-size:.95rem;padding:.5rem .9rem}\n"
    ".note{color:var(--muted);font-size:.875rem;text-align:center;margin-top:.75rem}\n"
    ".center{text-align:center}\n"
    ".link{display:inline-block;margin-top:.75rem}\n"
    ".alert{border:1px solid var(--bad);background:#fdeceb;color:#7a1a12;border-radius:8px;"
    "padding:.75rem 1rem;margin:0 0 1rem}\n"
    ".status{width:3rem;height:3rem;border-radius:50%;display:flex;align-items:center;"
    "justify-content:center;font-size:1.5rem;font-weight:700;margin:0 0 1rem}\n"
    ".status.ok{background:#e3f4e8;color:var(--ok)}\n"
    ".status.bad{background:#fdeceb;color:var(--bad)}\n"
    ".status.wait{background:#eef0ff;color:var(--accent)}\n"
    ".spin{width:1.4rem;height:1.4rem;border:3px solid currentColor;border-right-color:"
    "transparent;border-radius:50%;animation:spin 1s linear infinite}\n"
    "@keyframes spin{to{transform:rotate(360deg)}}\n"
    "@media (prefers-reduced-motion:reduce){.spin{animation:none}}\n"
    "dl.kv{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:1rem 0}\n"
    "dl.kv dt{color:var(--muted)}\n"
    "dl.kv dd{margin:0;font-weight:600;overflow-wrap:anywhere}\n"
    ".foot{text-align:center;color:var(--muted);font-size:.85rem;margin-top:1rem}\n"
    ".langs ul{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;"
    "justify-content:center;gap:.25rem 1rem}\n"
    ".langs a[aria-current]{font-weight:700;color:var(--text);text-decoration:none}\n"
    ".banner{margin:0;background:#fff4cc;color:#4a3800;border-bottom:1px solid #e6cf7a;"
    "padding:.6rem 1rem;text-align:center;font-size:.9rem}\n"
    ".sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);"
    "white-space:nowrap}\n"
    ".shop-head{display:flex;justify-content:space-between;align-items:center;gap:1rem;"
    "flex-wrap:wrap;margin-bottom:1rem}\n"
    ".shop-head h1{margin:0}\n"
    ".products{list-style:none;padding:0;margin:0;display:grid;"
    "grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem}\n"
    ".product{border:1px solid var(--line);border-radius:10px;padding:1rem;display:flex;"
    "flex-direction:column;gap:.4rem}\n"
    ".product h2{margin:0;font-size:1.05rem}\n"
    ".product .price{font-weight:700;font-size:1.1rem}\n"
    ".product form{margin-top:auto}\n"
    "td input[type=number]{width:4.5rem}\n"
    ".cart td{vertical-align:middle}\n"
    ".events{font-size:.9rem}\n"
    /* the demo's webhook log: fixed columns that wrap, never wider than a phone */
    "table.events{table-layout:fixed}\n"
    ".events td,.events th{overflow-wrap:anywhere}\n"
    ".events code{font-size:.85rem;overflow-wrap:anywhere}\n"
    ".badge{display:inline-block;padding:.1rem .6rem;border-radius:999px;font-size:.85rem;"
    "font-weight:600;background:#eef0ff;color:var(--accent)}\n"
    ".badge.ok{background:#e3f4e8;color:var(--ok)}\n"
    ".badge.bad{background:#fdeceb;color:var(--bad)}\n"
    ".merchant{display:flex;align-items:center;gap:.6rem;flex-wrap:wrap;margin:0 0 1rem;"
    "padding-bottom:.75rem;border-bottom:1px solid var(--line)}\n"
    ".merchant .logo{max-height:2.5rem;max-width:8rem}\n"
    ".merchant-name{font-weight:700;font-size:1.05rem}\n"
    ".badge.test{margin-left:auto;background:#fff4cc;color:#4a3800;border:1px solid #c9a227}\n"
    "ol.instalments{margin:0;padding-left:1.2rem;font-weight:600}\n"
    ".option[hidden]{display:none}\n"
    ".btn[aria-busy=true]{opacity:.75;cursor:progress}\n"
    /* The demo cart on a phone: each line a small grid (name above; quantity, line
     * total and Remove below), the unit price left out, so nothing is cut off. */
    "@media (max-width:30rem){.cart thead{position:absolute;width:1px;height:1px;"
    "overflow:hidden;clip:rect(0 0 0 0)}"
    ".cart tbody tr{display:grid;grid-template-columns:auto 1fr auto;gap:.35rem .75rem;"
    "align-items:center;padding:.6rem 0;border-bottom:1px solid var(--line)}"
    ".cart tbody td{border:0;padding:0}"
    ".cart tbody td:first-child{grid-column:1/-1;font-weight:600;overflow-wrap:normal}"
    ".cart tbody td:nth-child(3){display:none}"
    ".cart tfoot tr{display:flex;justify-content:space-between}"
    ".cart tfoot td:empty{display:none}}\n";

size_t pages_brand_css(const char *accent, const char *text, char *out, size_t cap)
{
    char a[8], t[8];
    snprintf(a, sizeof a, "#%.6s", accent != NULL ? accent : "");
    snprintf(t, sizeof t, "#%.6s", text != NULL ? text : "");
    if (accent == NULL || text == NULL || strlen(accent) != 6 || strlen(text) != 6 ||
        !brand_hex(a) || !brand_hex(t))
        return 0;
    int n = snprintf(out, cap,
                     ".btn,.btn:hover{background:%s;border-color:%s;color:%s}\n"
                     ".btn:hover{filter:brightness(.92)}\n",
                     a, a, t);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

const char *pages_css(size_t *len)
{
    if (len != NULL) {
        *len = sizeof css - 1;
    }
    return css;
}
