/*
 * bo_settings.c - the Settings page (/dashboard/settings): which payment
 * methods are published or hidden per currency and country, the provider
 * credentials (entered here, sealed by the gateway, shown back as their last
 * 4 characters), the hosted pages' shop name, logo and button colours with a
 * preview (/dashboard/settings/preview, server-rendered with the hosted
 * pages' own stylesheet), and the expiry periods of new payments.
 *
 * Every signed-in person sees the page; credentials (usernames, last 4) only
 * with STAFF_SECRETS; changes need STAFF_SETTINGS (the admin role), the CSRF
 * token (bo.c) and, for credentials, the person's password or a current code
 * again. The work and the checks are the gateway's (gateway/settings.h); a
 * refusal is shown next to its field and changes nothing. Each change, done
 * or refused, is an audit row with the section before and after.
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/settings.h"

/* Which form a refusal belongs to, so its message lands next to the field. */
typedef struct {
    const char *form; /* "methods", "credentials-klarna", "branding", "expiry" */
    const gw_err *err;
} set_err;

static bool err_on(const set_err *e, const char *form, const char *field)
{
    return e != NULL && e->err != NULL && strcmp(e->form, form) == 0 &&
           strcmp(e->err->param, field) == 0;
}

/* A labelled input; its error (when any) below it, tied by aria-describedby. */
static void field(bo_req *r, const set_err *e, const char *form, const char *name,
                  const char *label, const char *type, const char *value, const char *extra)
{
    bool bad = err_on(e, form, name);
    bo_fmt(r, "<label for=\"%s-%s\">%s</label><input id=\"%s-%s\" name=\"%s\" type=\"%s\"", form,
           name, label, form, name, name, type);
    if (value != NULL)
        bo_attr(r, "value", value);
    if (extra != NULL)
        bo_raw(r, extra);
    if (bad)
        bo_fmt(r, " aria-invalid=\"true\" aria-describedby=\"%s-%s-err\"", form, name);
    bo_raw(r, ">");
    if (bad) {
        bo_fmt(r, "<p class=\"err\" id=\"%s-%s-err\">", form, name);
        bo_esc(r, T(r, e->err->message));
        bo_raw(r, "</p>");
    }
}

/* A refusal about no field of this form (storage, a method's limit) above its button. */
static void form_error(bo_req *r, const set_err *e, const char *form, const char *const *fields,
                       size_t n)
{
    if (e == NULL || e->err == NULL || strcmp(e->form, form) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e->err->param, fields[i]) == 0)
            return;
    bo_raw(r, "<p class=\"err\" role=\"alert\">");
    bo_esc(r, T(r, e->err->message));
    bo_raw(r, "</p>");
}

static void refusal(gw_err *e, gw_why why, const char *param, const char *message)
{
    e->why = why;
    snprintf(e->param, sizeof e->param, "%s", param);
    snprintf(e->message, sizeof e->message, "%s", message);
}

static const char *num_text(bo_req *r, int64_t v)
{
    return v > 0 ? arena_printf(r->req->arena, "%lld", (long long)v) : "";
}

/* ---- sections ---- */

static const struct {
    const char *name, *label;
} METHODS[] = {{"klarna_pay_now", "Klarna Pay Now"},
               {"klarna_pay_later", "Klarna Pay Later"},
               {"klarna", "Klarna (the customer chooses at Klarna)"},
               {"alipay", "Alipay+"}};

static void methods_section(bo_req *r, const gw_settings_view *v, const set_err *e, bool can)
{
    bo_fmt(r,
           "<section class=\"card\" aria-labelledby=\"m-h\"><h2 id=\"m-h\">%s</h2><p>%s</p>"
           "<div class=\"scroll\"><table class=\"list\" id=\"hidden-methods\"><caption>%s"
           "</caption><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
           T(r, "Payment methods"),
           T(r, "Every method the rules allow is published. A hidden method is refused through "
                "both APIs and left out of the hosted pages for that currency and country."),
           T(r, "Hidden methods"), T(r, "Method"), T(r, "Currency"), T(r, "Country"),
           T(r, "Actions"));
    for (size_t i = 0; i < v->nhidden; i++) {
        const gw_hidden *h = &v->hidden[i];
        bo_raw(r, "<tr data-hidden=\"");
        bo_esc(r, h->method);
        bo_raw(r, "\"><td>");
        bo_esc(r, h->method);
        bo_raw(r, "</td><td>");
        bo_esc(r, strcmp(h->currency, "*") == 0 ? T(r, "every currency") : h->currency);
        bo_raw(r, "</td><td>");
        bo_esc(r, strcmp(h->country, "*") == 0 ? T(r, "every country") : h->country);
        bo_raw(r, "</td><td>");
        if (can) {
            bo_raw(
                r,
                "<form method=\"post\" class=\"inline\" action=\"/dashboard/settings/methods\">");
            bo_csrf_field(r);
            bo_raw(r, "<input type=\"hidden\" name=\"action\" value=\"publish\">");
            bo_raw(r, "<input type=\"hidden\" name=\"method\"");
            bo_attr(r, "value", h->method);
            bo_raw(r, "><input type=\"hidden\" name=\"currency\"");
            bo_attr(r, "value", h->currency);
            bo_raw(r, "><input type=\"hidden\" name=\"country\"");
            bo_attr(r, "value", h->country);
            bo_fmt(r, "><button type=\"submit\" class=\"small\">%s</button></form>",
                   T(r, "Publish again"));
        }
        bo_raw(r, "</td></tr>");
    }
    if (v->nhidden == 0)
        bo_fmt(r, "<tr><td colspan=\"4\">%s</td></tr>", T(r, "No method is hidden."));
    bo_raw(r, "</tbody></table></div>");
    if (!can) {
        bo_raw(r, "</section>");
        return;
    }
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/settings/methods\" novalidate>");
    bo_csrf_field(r);
    bo_fmt(r, "<h3>%s</h3><input type=\"hidden\" name=\"action\" value=\"hide\">",
           T(r, "Hide a method"));
    bool bad = err_on(e, "methods", "method");
    bo_fmt(
        r,
        "<label for=\"methods-method\">%s</label><select id=\"methods-method\" name=\"method\"%s>",
        T(r, "Method"),
        bad ? " aria-invalid=\"true\" aria-describedby=\"methods-method-err\"" : "");
    for (size_t i = 0; i < K_ARRAY_LEN(METHODS); i++)
        bo_fmt(r, "<option value=\"%s\">%s</option>", METHODS[i].name, T(r, METHODS[i].label));
    bo_raw(r, "</select>");
    if (bad) {
        bo_raw(r, "<p class=\"err\" id=\"methods-method-err\">");
        bo_esc(r, T(r, e->err->message));
        bo_raw(r, "</p>");
    }
    field(r, e, "methods", "currency", T(r, "Currency (ISO code, * = every currency)"), "text",
          bo_f(r, "currency"), " maxlength=\"3\" autocomplete=\"off\" required");
    field(r, e, "methods", "country", T(r, "Country (ISO code, * = every country)"), "text",
          bo_f(r, "country"), " maxlength=\"2\" autocomplete=\"off\" required");
    static const char *const F[] = {"method", "currency", "country"};
    form_error(r, e, "methods", F, K_ARRAY_LEN(F));
    bo_fmt(r, "<button type=\"submit\">%s</button></form></section>", T(r, "Hide"));
}

static void creds_form(bo_req *r, const gw_creds_view *c, const set_err *e, bool can, bool secrets)
{
    bool klarna = strcmp(c->provider, "klarna") == 0;
    const char *form = klarna ? "credentials-klarna" : "credentials-alipay";
    bo_fmt(r, "<div class=\"creds\" id=\"%s\"><h3>%s</h3><p>", form, klarna ? "Klarna" : "Alipay+");
    if (c->username == NULL) {
        bo_esc(r, T(r, "Not set: the sandbox account of the simulator is used."));
    } else if (!secrets) {
        bo_esc(r, T(r, "Set (shown to roles that may see secrets)."));
    } else {
        bo_fmt(r, "%s: <code>", klarna ? T(r, "API username") : T(r, "Client ID"));
        bo_esc(r, c->username);
        bo_fmt(r, "</code>. %s: ", klarna ? T(r, "Password") : T(r, "Private key"));
        if (c->secret_last4 != NULL) {
            bo_raw(r, "<code class=\"last4\">••••");
            bo_esc(r, c->secret_last4);
            bo_raw(r, "</code>");
        } else {
            bo_esc(r, T(r, "not set"));
        }
    }
    bo_raw(r, "</p>");
    if (!can) {
        bo_raw(r, "</div>");
        return;
    }
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/settings/credentials\" novalidate>");
    bo_csrf_field(r);
    bo_fmt(r, "<input type=\"hidden\" name=\"provider\" value=\"%s\">", c->provider);
    field(r, e, form, "username", klarna ? T(r, "API username") : T(r, "Client ID"), "text",
          c->username, " autocomplete=\"off\" required");
    field(r, e, form, "secret",
          klarna ? T(r, "API password (empty: unchanged)")
                 : T(r, "Private key (PEM; empty: unchanged)"),
          "password", NULL, " autocomplete=\"new-password\"");
    if (!klarna)
        field(r, e, form, "public_key", T(r, "Alipay+ public key (PEM; empty: unchanged)"), "text",
              NULL, " autocomplete=\"off\"");
    field(r, e, form, "reauth", T(r, "Your password or a current authentication code"), "password",
          NULL, " autocomplete=\"current-password\" required");
    static const char *const F[] = {"username", "secret", "public_key", "reauth"};
    form_error(r, e, form, F, K_ARRAY_LEN(F));
    bo_fmt(r, "<button type=\"submit\">%s</button></form></div>", T(r, "Save credentials"));
}

static void creds_section(bo_req *r, const gw_settings_view *v, const set_err *e, bool can)
{
    bool secrets = staff_can(&r->s, STAFF_SECRETS);
    bo_fmt(r, "<section class=\"card\" aria-labelledby=\"c-h\"><h2 id=\"c-h\">%s</h2><p>%s</p>",
           T(r, "Provider credentials"),
           T(r, "Stored encrypted; only the last 4 characters are ever shown again."));
    for (size_t i = 0; i < K_ARRAY_LEN(v->creds); i++)
        creds_form(r, &v->creds[i], e, can, secrets);
    bo_raw(r, "</section>");
}

static void brand_section(bo_req *r, const gw_branding *b, const set_err *e, bool can)
{
    bo_fmt(r, "<section class=\"card\" aria-labelledby=\"b-h\"><h2 id=\"b-h\">%s</h2>",
           T(r, "Hosted page branding"));
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/settings/branding\" novalidate>");
    bo_csrf_field(r);
    const char *ro = can ? "" : " readonly";
    field(r, e, "branding", "shop_name", T(r, "Shop name (empty: the merchant's name)"), "text",
          b->shop_name,
          arena_printf(r->req->arena, " maxlength=\"%d\"%s", LIMIT_SETTINGS_SHOP_NAME_MAX, ro));
    field(r, e, "branding", "logo_url", T(r, "Logo URL (https only)"), "url", b->logo_url, ro);
    field(r, e, "branding", "accent", T(r, "Button colour (#rrggbb)"), "text", b->accent,
          arena_printf(r->req->arena, " maxlength=\"7\" placeholder=\"#3730a3\"%s", ro));
    field(r, e, "branding", "accent_text", T(r, "Button text colour (#rrggbb)"), "text",
          b->accent_text,
          arena_printf(r->req->arena, " maxlength=\"7\" placeholder=\"#ffffff\"%s", ro));
    static const char *const F[] = {"shop_name", "logo_url", "accent", "accent_text"};
    form_error(r, e, "branding", F, K_ARRAY_LEN(F));
    bo_fmt(r,
           "<p class=\"note\">%s</p><button type=\"submit\" formmethod=\"get\" "
           "formaction=\"/dashboard/settings/preview\" formnovalidate class=\"secondary\">%s"
           "</button> ",
           T(r, "The text colour needs a contrast of at least 4.5:1 with the button colour "
                "(WCAG AA)."),
           T(r, "Preview"));
    if (can)
        bo_fmt(r, "<button type=\"submit\">%s</button>", T(r, "Save branding"));
    bo_raw(r, "</form></section>");
}

static void expiry_section(bo_req *r, const gw_expiry *x, const set_err *e, bool can)
{
    bo_fmt(r, "<section class=\"card\" aria-labelledby=\"x-h\"><h2 id=\"x-h\">%s</h2><p>%s</p>",
           T(r, "Expiry periods"),
           T(r, "For new payments. Empty: the provider's or Kassa's default."));
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/settings/expiry\" novalidate>");
    bo_csrf_field(r);
    const char *ro = can ? "" : " readonly";
    field(r, e, "expiry", "auth_days",
          T(r, "Klarna authorisation period in days (1-180; Klarna's standard: 28)"), "number",
          num_text(r, x->auth_days), arena_printf(r->req->arena, " min=\"1\" max=\"180\"%s", ro));
    field(r, e, "expiry", "attempt_minutes", T(r, "Payment attempt lifetime in minutes (5-2880)"),
          "number", num_text(r, x->attempt_minutes),
          arena_printf(r->req->arena, " min=\"5\" max=\"2880\"%s", ro));
    field(r, e, "expiry", "session_minutes", T(r, "Checkout session lifetime in minutes (30-1440)"),
          "number", num_text(r, x->session_minutes),
          arena_printf(r->req->arena, " min=\"30\" max=\"1440\"%s", ro));
    static const char *const F[] = {"auth_days", "attempt_minutes", "session_minutes"};
    form_error(r, e, "expiry", F, K_ARRAY_LEN(F));
    if (can)
        bo_fmt(r, "<button type=\"submit\">%s</button>", T(r, "Save expiry periods"));
    bo_raw(r, "</form></section>");
}

/* The notes a redirect may ask for (?done=...): never text from the URL itself. */
static const char *const set_notes[][2] = {
    {"methods", "Payment methods changed."},
    {"credentials", "Credentials saved."},
    {"branding", "Branding saved."},
    {"expiry", "Expiry periods saved."},
};

static void settings_page(bo_req *r, int status, const set_err *e, const gw_branding *brand_in)
{
    gw_settings_view v;
    if (gw_settings_get(r->api->g, r->s.merchant_id, r->req->arena, &v) != K_OK) {
        bo_message(r, 500, T(r, "Error"), T(r, "The settings could not be read."),
                   "/dashboard/payments");
        return;
    }
    bool can = staff_can(&r->s, STAFF_SETTINGS);
    bo_html_start(r, status);
    bo_page_begin(r, T(r, "Settings"), "settings");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Settings"));
    const char *done = bo_q(r, "done");
    for (size_t i = 0; done != NULL && i < K_ARRAY_LEN(set_notes); i++)
        if (strcmp(set_notes[i][0], done) == 0)
            bo_fmt(r, "<p class=\"banner ok\" role=\"status\">%s</p>", T(r, set_notes[i][1]));
    if (e != NULL)
        bo_fmt(r, "<p class=\"banner bad\" role=\"alert\">%s</p>",
               T(r, "Nothing was changed: see the message next to the field."));
    if (!can)
        bo_fmt(r, "<p class=\"note\">%s</p>",
               T(r, "Your role may see the settings; only an admin may change them."));
    methods_section(r, &v, e, can);
    creds_section(r, &v, e, can);
    brand_section(r, brand_in != NULL ? brand_in : &v.brand, e, can);
    expiry_section(r, &v.expiry, e, can);
    bo_page_end(r);
    bo_finish(r);
}

void bo_settings_page(bo_req *r)
{
    settings_page(r, 200, NULL, NULL);
}

static void set_done(bo_req *r, const char *what)
{
    http_resp_redirect(r->req, r->resp,
                       arena_printf(r->req->arena, "/dashboard/settings?done=%s", what));
}

/* Audits the outcome; on a refusal shows the page again with the message by its field. */
static void set_finish(bo_req *r, k_status st, const char *action, const char *form,
                       const char *what, const char *before, const char *after, gw_err *err,
                       const gw_branding *brand_in)
{
    if (st != K_OK) {
        bo_audit_action(r, action, r->s.merchant_id, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err->message));
        set_err e = {.form = form, .err = err};
        settings_page(r, bo_status(err), &e, brand_in);
        return;
    }
    bo_audit_action(r, action, r->s.merchant_id, before, after, "ok");
    set_done(r, what);
}

void bo_settings_methods(bo_req *r)
{
    const char *action = bo_f(r, "action");
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *before = NULL, *after = NULL;
    k_status st;
    if (action == NULL || (strcmp(action, "hide") != 0 && strcmp(action, "publish") != 0)) {
        refusal(&err, GW_WHY_PARAM_INVALID, "method", "Choose hide or publish.");
        st = K_EINVAL;
    } else {
        st = gw_settings_method_set(
            r->api->g, r->s.merchant_id, bo_f(r, "method"), bo_f(r, "currency"), bo_f(r, "country"),
            strcmp(action, "hide") == 0, r->req->arena, &before, &after, &err);
    }
    set_finish(r, st,
               action != NULL && strcmp(action, "publish") == 0 ? "settings.method_publish"
                                                                : "settings.method_hide",
               "methods", "methods", before, after, &err, NULL);
}

void bo_settings_credentials(bo_req *r)
{
    const char *prov = bo_f(r, "provider");
    const char *form =
        prov != NULL && strcmp(prov, "alipay") == 0 ? "credentials-alipay" : "credentials-klarna";
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *before = NULL, *after = NULL;
    k_status st;
    if (!staff_reauth(r->api->g, &r->s, bo_f(r, "reauth"), r->req->arena)) {
        refusal(&err, GW_WHY_FORBIDDEN, "reauth",
                "Changing credentials needs your password or a current authentication "
                "code.");
        st = K_EINVAL;
    } else {
        st = gw_settings_creds_set(r->api->g, r->s.merchant_id, prov, bo_f(r, "username"),
                                   bo_f(r, "secret"), bo_f(r, "public_key"), r->req->arena, &before,
                                   &after, &err);
    }
    set_finish(r, st, "settings.credentials", form, "credentials", before, after, &err, NULL);
}

static gw_branding brand_from(bo_req *r, bool query)
{
    const char *(*get)(bo_req *, const char *) = query ? bo_q : bo_f;
    return (gw_branding){get(r, "shop_name"), get(r, "logo_url"), get(r, "accent"),
                         get(r, "accent_text")};
}

void bo_settings_branding(bo_req *r)
{
    gw_branding b = brand_from(r, false);
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *before = NULL, *after = NULL;
    k_status st = gw_settings_brand_set(r->api->g, r->s.merchant_id, &b, r->req->arena, &before,
                                        &after, &err);
    set_finish(r, st, "settings.branding", "branding", "branding", before, after, &err, &b);
}

static int64_t num_field(bo_req *r, const char *key, bool *ok)
{
    const char *v = bo_f(r, key);
    if (v == NULL)
        return 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || n <= 0 || n > 1000000) {
        *ok = false;
        return -1;
    }
    return (int64_t)n;
}

void bo_settings_expiry(bo_req *r)
{
    bool ok = true;
    gw_expiry x = {num_field(r, "auth_days", &ok), num_field(r, "attempt_minutes", &ok),
                   num_field(r, "session_minutes", &ok)};
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *before = NULL, *after = NULL;
    k_status st = K_EINVAL;
    if (x.auth_days < 0)
        refusal(&err, GW_WHY_PARAM_INVALID, "auth_days", "Enter a whole number of days.");
    else if (x.attempt_minutes < 0)
        refusal(&err, GW_WHY_PARAM_INVALID, "attempt_minutes", "Enter a whole number of minutes.");
    else if (x.session_minutes < 0)
        refusal(&err, GW_WHY_PARAM_INVALID, "session_minutes", "Enter a whole number of minutes.");
    else
        st = gw_settings_expiry_set(r->api->g, r->s.merchant_id, &x, r->req->arena, &before, &after,
                                    &err);
    (void)ok;
    set_finish(r, st, "settings.expiry", "expiry", "expiry", before, after, &err, NULL);
}

/* ---- the preview: the hosted checkout page's look with the branding asked ---- */

void bo_settings_preview(bo_req *r)
{
    gw_branding b = brand_from(r, true);
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_settings_brand_check(&b, &err) != K_OK) {
        set_err e = {.form = "branding", .err = &err};
        settings_page(r, bo_status(&err), &e, &b);
        return;
    }
    gw_brand now;
    const char *name = b.shop_name;
    if (name == NULL && gw_merchant_brand(r->api->g, r->s.merchant_id, r->req->arena, &now) == K_OK)
        name = now.name;
    bo_html_start(r, 200);
    bo_fmt(r, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">", r->locale);
    bo_raw(r, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    bo_esc(r, T(r, "Preview"));
    bo_raw(r, " · Kassa</title><link rel=\"stylesheet\" href=\"/assets/kassa.css\">");
    if (b.accent != NULL)
        bo_fmt(r, "<link rel=\"stylesheet\" href=\"/assets/brand.css?a=%s&amp;t=%s\">",
               b.accent + 1, b.accent_text + 1);
    bo_raw(r, "</head><body>");
    bo_fmt(r, "<p class=\"banner\" role=\"note\">%s <a href=\"/dashboard/settings\">%s</a></p>",
           T(r, "Preview of the hosted checkout page: nothing here can be paid."),
           T(r, "Back to the settings"));
    bo_raw(r, "<div class=\"wrap\"><main id=\"main\"><header class=\"merchant\">");
    if (b.logo_url != NULL) {
        bo_raw(r, "<img class=\"logo\" alt=\"\"");
        bo_attr(r, "src", b.logo_url);
        bo_raw(r, ">");
    }
    bo_raw(r, "<span class=\"merchant-name\" id=\"preview-name\">");
    bo_esc(r, name != NULL ? name : "");
    bo_fmt(r, "</span><span class=\"badge test\">%s</span></header>", T(r, "Test mode"));
    bo_fmt(r, "<h1>%s</h1><p>%s: <strong>", T(r, "Checkout"), T(r, "Amount"));
    bo_money(r, 2500, "eur");
    bo_fmt(r, "</strong></p><button type=\"button\" class=\"btn\" id=\"preview-pay\">%s</button>",
           T(r, "Pay"));
    bo_raw(r, "</main></div></body></html>");
    bo_finish(r);
}
