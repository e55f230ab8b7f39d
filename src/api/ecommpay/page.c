/*
 * page.c - ECommPay's Payment Page on Kassa: GET /payment?project_id=...&
 * signature=... as the official package's Payment.getUrl() builds it. The
 * signature is checked first (nothing is created on a bad one), then the
 * required parameters; the purchase becomes an intent through
 * ecp_order_start. With force_payment_method the customer goes straight to
 * Klarna; without it a small method choice is shown (texts from the hosted
 * pages' i18n, chosen by language_code). After Klarna the customer lands on
 * /payment/result, which sends them to merchant_success_url / _fail_url /
 * _return_url, or shows the result itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ecp_int.h"
#include "../../gateway/settings.h"
#include "../checkout/i18n.h"
#include "../checkout/pages.h"
#include "../checkout/web.h"
#include "../../domain/money.h"

static void json_free_cb(void *p)
{
    json_decref((json_t *)p);
}

static void message_page(http_req *r, http_resp *resp, int status, i18n_lang lang, i18n_key title,
                         const char *detail, const char *link)
{
    pages_out o = web_html(r, resp, status);
    pages_begin(&o, lang, i18n_t(lang, title), 0, NULL, false);
    pages_raw(&o, "<main class=\"card\"><h1>");
    pages_text(&o, i18n_t(lang, title));
    pages_raw(&o, "</h1><p class=\"ecp-detail\">");
    pages_text(&o, detail);
    pages_raw(&o, "</p>");
    if (link != NULL && pages_url_ok(link)) {
        pages_raw(&o, "<p><a class=\"btn\" href=\"");
        pages_text(&o, link);
        pages_raw(&o, "\">");
        pages_text(&o, i18n_t(lang, T_BACK_TO_SHOP));
        pages_raw(&o, "</a></p>");
    }
    pages_raw(&o, "</main>");
    pages_end(&o, lang, NULL);
    web_finish(resp, &o);
}

static const char *qs(json_t *q, const char *key)
{
    const char *v = json_string_value(json_object_get(q, key));
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The methods the Payment Page offers this payment, as the hosted checkout
 * does: the method rules decide for its currency, amount and the customer's
 * country; Klarna is one entry (Pay now or Pay later chosen on Klarna's page)
 * wherever Klarna takes the payment whole, Pay now alone where only it does. */
static size_t choice_methods(api_ctx *c, http_req *r, const gw_payment *p, const char ***names)
{
    /* The intent's own types: all three, or the one force_payment_method named. */
    json_t *types = p->method_types != NULL
                        ? json_incref(p->method_types)
                        : json_pack("[sss]", "klarna", "klarna_pay_now", "alipay");
    arena_defer(r->arena, json_free_cb, types);
    gw_session s;
    memset(&s, 0, sizeof(s));
    s.amount_total = p->m.amount;
    s.merchant_id = p->merchant_id; /* the merchant's settings may hide a method */
    snprintf(s.currency, sizeof(s.currency), "%s", p->currency);
    s.method_types = types;
    size_t n = 0;
    if (gw_session_methods(c->g, &s, p->country, r->arena, names, &n) != K_OK) {
        return 0;
    }
    bool whole = false;
    for (size_t i = 0; i < n; i++) {
        whole = whole || strcmp((*names)[i], "klarna") == 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(whole && strcmp((*names)[i], "klarna_pay_now") == 0)) {
            (*names)[m++] = (*names)[i];
        }
    }
    return m;
}

/* The method choice; after a failed or cancelled attempt (why set) it says why
 * above the methods, so the customer may choose again. */
static void choice_page(api_ctx *c, http_req *r, http_resp *resp, i18n_lang lang,
                        const gw_payment *p, const char *why)
{
    gw_brand brand;
    bool branded = gw_merchant_brand(c->g, p->merchant_id, r->arena, &brand) == K_OK;
    pages_out o = web_html(r, resp, 200);
    char money[64];
    pages_money(p->m.amount, p->currency, lang, money, sizeof(money));
    pages_begin(&o, lang, i18n_t(lang, T_CHECKOUT_TITLE), 0, NULL, false);
    pages_merchant(&o, lang, branded ? &brand : NULL); /* the shop's name and the test badge */
    pages_raw(&o, "<main class=\"card\"><h1>");
    pages_text(&o, i18n_t(lang, why != NULL ? T_FAILED_TITLE : T_PAYMENT_METHOD));
    pages_raw(&o, "</h1>");
    if (why != NULL) {
        pages_raw(&o, "<p class=\"alert\" role=\"alert\">");
        pages_text(&o, why);
        pages_raw(&o, "</p>");
    }
    pages_raw(&o, "<p>");
    pages_text(&o, i18n_t(lang, T_AMOUNT));
    pages_raw(&o, ": <strong>");
    pages_text(&o, money);
    pages_raw(&o, "</strong></p><form method=\"post\" action=\"/payment/choose\">"
                  "<input type=\"hidden\" name=\"cs\" value=\"");
    pages_text(&o, p->client_secret);
    pages_fmt(&o, "\"><input type=\"hidden\" name=\"locale\" value=\"%s\"><fieldset><legend>",
              i18n_code(lang));
    pages_text(&o, i18n_t(lang, T_PAYMENT_METHOD));
    pages_raw(&o, "</legend>");
    const char **names = NULL;
    size_t n = choice_methods(c, r, p, &names);
    for (size_t i = 0; i < n; i++) {
        i18n_key label = T__COUNT, hint = T__COUNT;
        (void)pages_method_keys(names[i], &label, &hint);
        pages_raw(&o, "<div class=\"option\"><input type=\"radio\" name=\"method\" id=\"m-");
        pages_text(&o, names[i]);
        pages_raw(&o, "\" value=\"");
        pages_text(&o, names[i]);
        pages_fmt(&o, "\"%s required><label for=\"m-", i == 0 ? " checked" : "");
        pages_text(&o, names[i]);
        pages_raw(&o, "\">");
        pages_text(&o, label != T__COUNT ? i18n_t(lang, label) : names[i]);
        if (hint != T__COUNT) {
            pages_raw(&o, "<span class=\"hint\">");
            pages_text(&o, i18n_t(lang, hint));
            pages_raw(&o, "</span>");
        }
        pages_raw(&o, "</label></div>");
    }
    if (n == 0) {
        pages_raw(&o, "<p class=\"alert\" role=\"alert\">");
        pages_text(&o, i18n_t(lang, T_R_NOT_AVAILABLE));
        pages_raw(&o, "</p></fieldset></form></main>");
    } else {
        pages_raw(&o, "</fieldset><button type=\"submit\" class=\"btn\">");
        pages_fill(&o, i18n_t(lang, T_PAY_BUTTON), money);
        pages_raw(&o, "</button></form></main>");
    }
    pages_end(&o, lang, NULL);
    web_finish(resp, &o);
}

static const char *md(const gw_payment *p, const char *key)
{
    return json_string_value(json_object_get(p->metadata, key));
}

/* After a start or confirmation: on to Klarna, or the decline page. */
static void after_start(api_ctx *c, http_req *r, http_resp *resp, i18n_lang lang,
                        const gw_payment *p, bool declined)
{
    if (!declined && p->m.state == PS_REQUIRES_ACTION && p->next_action_url != NULL) {
        http_resp_redirect(r, resp, p->next_action_url);
        return;
    }
    if (!declined && p->m.state == PS_REQUIRES_PAYMENT_METHOD) {
        choice_page(c, r, resp, lang, p, NULL);
        return;
    }
    const char *back = md(p, ECP_MD_FAIL) != NULL ? md(p, ECP_MD_FAIL) : md(p, ECP_MD_RETURN);
    message_page(r, resp, 402, lang, T_FAILED_TITLE,
                 "The payment was declined (code 20000, General decline).", back);
}

static bool missing(http_req *r, http_resp *resp, i18n_lang lang, json_t *q)
{
    static const char *const REQUIRED[] = {
        "project_id",         "payment_id",     "payment_currency",
        "payment_amount",     "customer_id",    "customer_first_name",
        "customer_last_name", "customer_email", "customer_country"};
    for (size_t i = 0; i < K_ARRAY_LEN(REQUIRED); i++) {
        if (qs(q, REQUIRED[i]) == NULL) {
            char msg[128];
            snprintf(msg, sizeof(msg), "Required parameter missing: %s (code 2004).", REQUIRED[i]);
            message_page(r, resp, 400, lang, T_ERROR_TITLE, msg, NULL);
            return true;
        }
    }
    return false;
}

static int64_t positive(const char *s)
{
    char *end;
    long long v = s != NULL ? strtoll(s, &end, 10) : 0;
    return s != NULL && *end == '\0' && v > 0 && v <= LIMIT_AMOUNT_MAX ? (int64_t)v : 0;
}

/* The signed payment_id was used before: the same customer reopening the
 * page continues where they were; anything else is refused. */
static void resume(api_ctx *c, http_req *r, http_resp *resp, i18n_lang lang, const char *mid,
                   const char *payment_id)
{
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    bool open = gw_pi_by_external(c->g, mid, payment_id, r->arena, &p, &err) == K_OK &&
                (p.m.state == PS_REQUIRES_ACTION ||
                 (p.m.state == PS_REQUIRES_PAYMENT_METHOD && p.last_error_code == NULL));
    if (open) {
        after_start(c, r, resp, lang, &p, false);
        return;
    }
    message_page(r, resp, 409, lang, T_ERROR_TITLE,
                 "This payment_id was already used in this project (code 3041).", NULL);
}

void ecp_h_page(http_req *r, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *q = ecp_query_decode(r->query);
    const char *lc = q != NULL ? qs(q, "language_code") : NULL;
    i18n_lang lang =
        i18n_pick(&lc, lc != NULL ? 1 : 0, http_req_header(r, "Accept-Language"), NULL);
    if (q == NULL) {
        message_page(r, resp, 400, lang, T_ERROR_TITLE, "The request could not be read.", NULL);
        return;
    }
    arena_defer(r->arena, json_free_cb, q);
    gw_merchant_keys m;
    int64_t project = positive(qs(q, "project_id"));
    const char *sig = qs(q, "signature");
    if (project == 0 || sig == NULL ||
        gw_merchant_by_project(c->g, project, r->arena, &m) != K_OK ||
        !ecp_verify_query(m.ecp_secret, q)) {
        message_page(r, resp, 400, lang, T_ERROR_TITLE,
                     sig == NULL ? "The request is not signed (code 3262)."
                                 : "The signature does not match the request's parameters, or "
                                   "the project is unknown (code 3261).",
                     NULL);
        return;
    }
    if (missing(r, resp, lang, q))
        return;
    const char *force = qs(q, "force_payment_method");
    const char *method = force != NULL ? ecp_method_rule(force, false) : NULL;
    int64_t amount = positive(qs(q, "payment_amount"));
    char cur[4];
    currency_upper(qs(q, "payment_currency"), cur);
    if ((force != NULL && method == NULL) || amount == 0 || currency_find(cur) == NULL) {
        message_page(
            r, resp, 400, lang, T_ERROR_TITLE,
            force != NULL && method == NULL
                ? "This payment method is not available here: use sofort, klarna or alipay."
                : "payment_amount must be a positive integer in minor units and "
                  "payment_currency an ISO 4217 code (code 2004).",
            NULL);
        return;
    }
    ecp_order o = {.merchant_id = m.id,
                   .project_id = project,
                   .payment_id = qs(q, "payment_id"),
                   .amount = amount,
                   .currency = cur,
                   .method = method,
                   .customer_id = qs(q, "customer_id"),
                   .email = qs(q, "customer_email"),
                   .country = qs(q, "customer_country"),
                   .first_name = qs(q, "customer_first_name"),
                   .last_name = qs(q, "customer_last_name"),
                   .language = i18n_code(lang),
                   .description = qs(q, "payment_description"),
                   .callback_url = qs(q, "merchant_callback_url"),
                   .success_url = qs(q, "merchant_success_url"),
                   .fail_url = qs(q, "merchant_fail_url"),
                   .return_url = qs(q, "merchant_return_url")};
    if (strlen(o.payment_id) > LIMIT_EXTERNAL_ID_MAX) {
        message_page(r, resp, 400, lang, T_ERROR_TITLE, "payment_id is too long.", NULL);
        return;
    }
    gw_payment p;
    bool declined;
    ecp_fail f;
    memset(&f, 0, sizeof(f));
    if (ecp_order_start(c, &o, r->arena, &p, &declined, &f) != K_OK) {
        if (f.code != NULL && strcmp(f.code, "3041") == 0) {
            resume(c, r, resp, lang, m.id, o.payment_id);
            return;
        }
        message_page(r, resp, f.http ? f.http : 500, lang, T_ERROR_TITLE, f.message, NULL);
        return;
    }
    after_start(c, r, resp, lang, &p, declined);
}

void ecp_h_choose(http_req *r, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *f = web_form(r);
    i18n_lang lang = web_lang(r, f, NULL, NULL);
    const char *method = web_str(f, "method");
    const char *rule = ecp_method_rule(method, false);
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_pi_by_secret(c->g, web_str(f, "cs"), r->arena, &p, &err) != K_OK || p.channel == NULL ||
        strcmp(p.channel, ECP_CHANNEL) != 0) {
        message_page(r, resp, 404, lang, T_NOTFOUND_TITLE, i18n_t(lang, T_NOTFOUND_BODY), NULL);
        return;
    }
    if (rule == NULL || p.m.state != PS_REQUIRES_PAYMENT_METHOD) {
        after_start(c, r, resp, lang, &p,
                    p.m.state != PS_REQUIRES_PAYMENT_METHOD && p.m.state != PS_REQUIRES_ACTION);
        return;
    }
    bool declined = false;
    ecp_fail fail;
    memset(&fail, 0, sizeof(fail));
    if (ecp_order_confirm(c, p.merchant_id, &p, rule, r->arena, &declined, &fail) != K_OK) {
        message_page(r, resp, 500, lang, T_ERROR_TITLE, i18n_t(lang, T_ERROR_BODY), NULL);
        return;
    }
    after_start(c, r, resp, lang, &p, declined);
}

void ecp_h_result(http_req *r, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *q = web_query(r);
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_pi_by_secret(c->g, web_str(q, "payment_intent_client_secret"), r->arena, &p, &err) !=
        K_OK) {
        i18n_lang lang = web_lang(r, q, NULL, NULL);
        message_page(r, resp, 404, lang, T_NOTFOUND_TITLE, i18n_t(lang, T_NOTFOUND_BODY), NULL);
        return;
    }
    i18n_lang lang = web_lang(r, q, p.locale, NULL);
    bool paid =
        p.m.state == PS_SUCCEEDED || p.m.state == PS_REQUIRES_CAPTURE || p.m.state == PS_PROCESSING;
    const char *url = md(&p, paid ? ECP_MD_SUCCESS : ECP_MD_FAIL);
    if (url == NULL)
        url = md(&p, ECP_MD_RETURN);
    if (url != NULL && pages_url_ok(url)) {
        http_resp_redirect(r, resp, url);
        return;
    }
    if (!paid && p.m.state == PS_REQUIRES_PAYMENT_METHOD) {
        /* No shop URL to go back to: the Payment Page's choice again, saying why. */
        choice_page(c, r, resp, lang, &p, i18n_t(lang, pages_reason(p.last_error_code)));
        return;
    }
    message_page(r, resp, 200, lang, paid ? T_PAID_TITLE : T_FAILED_TITLE,
                 paid ? "payment.status: success" : "payment.status: decline", NULL);
}
