/*
 * test_checkout_pages.c - the hosted pages without a server: the string
 * table is complete in every language, language negotiation (explicit locale,
 * Accept-Language q-values), the templates (escaping, labels, amounts in the
 * page's locale, method choice, error with role=alert), outcome and reason
 * mapping, {CHECKOUT_SESSION_ID} substitution, and the demo shop's
 * Stripe-Signature check, webhook log and signed cart cookie.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/checkout/i18n.h"
#include "api/checkout/pages.h"
#include "api/demo/demo_int.h"

/* ---- i18n ---- */

static void test_table_complete(void **state)
{
    (void)state;
    for (int k = 0; k < T__COUNT; k++) {
        for (int l = 0; l < LANG__COUNT; l++) {
            const char *s = i18n_t((i18n_lang)l, (i18n_key)k);
            assert_non_null(s);
            assert_true(strlen(s) > 0);
        }
    }
    /* Real translations, not copies of English, for the sentences. */
    const i18n_key sentences[] = {T_EXPIRED_TITLE,      T_PAID_TITLE, T_FAILED_TITLE, T_TRY_AGAIN,
                                  T_R_PROVIDER_DECLINE, T_E_EMAIL,    T_PAY_BUTTON,   T_CANCEL};
    for (size_t i = 0; i < K_ARRAY_LEN(sentences); i++) {
        for (int l = 1; l < LANG__COUNT; l++) {
            assert_string_not_equal(i18n_t(LANG_EN, sentences[i]),
                                    i18n_t((i18n_lang)l, sentences[i]));
        }
    }
    assert_string_equal(i18n_t(LANG_DE, T_PAID_TITLE), "Zahlung erhalten");
    assert_string_equal(i18n_t(LANG_EN, T_EXPIRED_TITLE), "This payment link has expired");
    for (size_t i = 0; i < i18n_country_count(); i++) {
        for (int l = 0; l < LANG__COUNT; l++) {
            assert_true(strlen(i18n_country_name((i18n_lang)l, i)) > 0);
        }
    }
}

static void test_parse(void **state)
{
    (void)state;
    i18n_lang l = LANG_EN;
    char region[3];
    assert_true(i18n_parse("de", &l, region));
    assert_int_equal(l, LANG_DE);
    assert_string_equal(region, "");
    assert_true(i18n_parse("sv-se", &l, region));
    assert_int_equal(l, LANG_SV);
    assert_string_equal(region, "SE");
    assert_true(i18n_parse("de_AT", &l, region));
    assert_string_equal(region, "AT");
    assert_true(i18n_parse("FR-ch", &l, NULL));
    assert_int_equal(l, LANG_FR);
    assert_false(i18n_parse("auto", &l, region));
    assert_false(i18n_parse("", &l, region));
    assert_false(i18n_parse(NULL, &l, region));
    assert_false(i18n_parse("es", &l, region));
    assert_false(i18n_parse("deu", &l, region));
}

static void test_accept_language(void **state)
{
    (void)state;
    i18n_lang l = LANG_EN;
    char region[3];
    assert_true(i18n_accept("fi-FI,fi;q=0.9,en;q=0.8", &l, region));
    assert_int_equal(l, LANG_FI);
    assert_string_equal(region, "FI");
    /* q-values decide, not order */
    assert_true(i18n_accept("en;q=0.3, de-AT;q=0.7, sv;q=0.5", &l, region));
    assert_int_equal(l, LANG_DE);
    assert_string_equal(region, "AT");
    /* unsupported languages skipped; q=0 never chosen; * ignored */
    assert_true(i18n_accept("es-ES, pt;q=0.9, fr;q=0.2", &l, region));
    assert_int_equal(l, LANG_FR);
    assert_false(i18n_accept("de;q=0, *;q=0.5", &l, region));
    assert_false(i18n_accept("", &l, region));
    assert_false(i18n_accept(NULL, &l, region));
    /* ties go to the earlier entry */
    assert_true(i18n_accept("sv, de", &l, NULL));
    assert_int_equal(l, LANG_SV);
    assert_true(i18n_accept("de;q=1.0,fr;q=1", &l, NULL));
    assert_int_equal(l, LANG_DE);
}

static void test_pick_and_country(void **state)
{
    (void)state;
    char region[3];
    const char *ex1[] = {NULL, "de"};
    assert_int_equal(i18n_pick(ex1, 2, "fr-FR", region), LANG_DE);
    const char *ex2[] = {"sv", "de"};
    assert_int_equal(i18n_pick(ex2, 2, "fr-FR", region), LANG_SV);
    const char *ex3[] = {"auto", NULL};
    assert_int_equal(i18n_pick(ex3, 2, "fr-BE;q=0.8", region), LANG_FR);
    assert_string_equal(region, "BE");
    assert_int_equal(i18n_pick(ex3, 2, NULL, region), LANG_EN);
    assert_int_equal(i18n_pick(NULL, 0, "xx", region), LANG_EN);

    assert_string_equal(i18n_default_country(LANG_DE, "AT", "eur"), "AT");
    assert_string_equal(i18n_default_country(LANG_DE, "", "EUR"), "DE");
    assert_string_equal(i18n_default_country(LANG_EN, "", "EUR"), "DE"); /* GB takes GBP */
    assert_string_equal(i18n_default_country(LANG_EN, "", "gbp"), "GB");
    assert_string_equal(i18n_default_country(LANG_SV, "", "SEK"), "SE");
    assert_string_equal(i18n_default_country(LANG_SV, "", "EUR"), "SE"); /* docs/pages.md */
    assert_string_equal(i18n_default_country(LANG_FI, NULL, NULL), "FI");
    assert_int_equal(i18n_country_find("se"), i18n_country_find("SE"));
    assert_int_equal(i18n_country_find("US"), -1);
}

/* ---- templates ---- */

typedef struct {
    gw_session s;
    json_t *lines;
    buf b;
} page_fixture;

static int fixture_up(void **state)
{
    page_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->s.id, sizeof f->s.id, "cs_test123");
    snprintf(f->s.currency, sizeof f->s.currency, "eur");
    f->s.status = "open";
    f->s.payment_status = "unpaid";
    f->s.payment_id = "pi_abc";
    f->s.amount_total = 1234;
    f->s.success_url = "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}&x=1";
    f->s.cancel_url = "https://shop.example/cart";
    f->s.customer_email = "anna@example.de";
    f->lines = json_pack("[{s:s, s:I, s:I, s:I}, {s:s, s:I, s:I}]", "name",
                         "Mug <b>\"big\"</b> & co", "quantity", (json_int_t)2, "unit_amount",
                         (json_int_t)500, "amount_total", (json_int_t)1000, "name", "Sticker",
                         "quantity", (json_int_t)1, "unit_amount", (json_int_t)234);
    assert_non_null(f->lines);
    f->s.line_items = f->lines;
    buf_init(&f->b, LIMIT_RESPONSE_MAX);
    *state = f;
    return 0;
}

static int fixture_down(void **state)
{
    page_fixture *f = *state;
    json_decref(f->lines);
    buf_free(&f->b);
    free(f);
    return 0;
}

static const char *render_pay(page_fixture *f, pages_pay_view *v)
{
    buf_reset(&f->b);
    pages_out o = {.b = &f->b, .st = K_OK};
    pages_begin(&o, v->lang, i18n_t(v->lang, T_CHECKOUT_TITLE), 0, NULL, false);
    pages_pay(&o, v);
    pages_end(&o, v->lang, "/c/pay/cs_test123");
    assert_int_equal(o.st, K_OK);
    return f->b.data;
}

static void test_pay_page_en(void **state)
{
    page_fixture *f = *state;
    const char *methods[] = {"klarna_pay_now", "klarna_pay_later", "klarna"};
    pages_pay_view v = {.lang = LANG_EN, .s = &f->s, .methods = methods, .nmethods = 3};
    const char *h = render_pay(f, &v);
    assert_non_null(strstr(h, "<html lang=\"en\">"));
    assert_non_null(strstr(h, "name=\"viewport\""));
    assert_non_null(strstr(h, "href=\"/assets/kassa.css\""));
    /* CSP default-src 'self': one same-origin script file, no inline script or style */
    assert_non_null(strstr(h, "<script src=\"/assets/kassa.js\" defer></script>"));
    assert_null(strstr(h, "<script>"));
    assert_null(strstr(h, "style="));
    /* the test-mode badge even without a known merchant */
    assert_non_null(strstr(h, "<span class=\"badge test\">Test mode</span>"));
    /* escaped merchant text */
    assert_non_null(strstr(h, "Mug &lt;b&gt;&quot;big&quot;&lt;/b&gt; &amp; co"));
    assert_null(strstr(h, "<b>\"big\""));
    /* amounts: unit, line total, computed line total, total */
    assert_non_null(strstr(h, "€5.00"));
    assert_non_null(strstr(h, "€10.00"));
    assert_non_null(strstr(h, "€2.34"));
    assert_non_null(strstr(h, "Pay €12.34</button>"));
    /* methods, first checked, each with a label */
    assert_non_null(strstr(h, "id=\"m-klarna_pay_now\" value=\"klarna_pay_now\" checked"));
    assert_non_null(strstr(h, "<label for=\"m-klarna_pay_now\">Klarna — Pay now (online banking)"));
    assert_non_null(strstr(h, "<label for=\"m-klarna_pay_later\">Klarna — Pay later"));
    assert_non_null(strstr(h, "<label for=\"m-klarna\">Klarna<span class=\"hint\">"));
    assert_null(strstr(h, "alipay"));
    /* e-mail prefilled, labelled; country preselected for EUR + English */
    assert_non_null(strstr(h, "<label for=\"email\">E-mail</label>"));
    assert_non_null(strstr(h, "value=\"anna@example.de\""));
    assert_non_null(strstr(h, "<label for=\"country\">Country</label>"));
    assert_non_null(strstr(h, "<option value=\"DE\" selected>Germany</option>"));
    assert_non_null(strstr(h, "href=\"https://shop.example/cart\">Cancel"));
    assert_non_null(strstr(h, "action=\"/c/pay/cs_test123\""));
    assert_null(strstr(h, "role=\"alert\""));
    assert_non_null(strstr(h, "href=\"/c/pay/cs_test123?locale=de\""));
}

static void test_pay_page_de_with_error(void **state)
{
    page_fixture *f = *state;
    const char *methods[] = {"klarna_pay_now", "klarna"};
    pages_pay_view v = {.lang = LANG_DE,
                        .s = &f->s,
                        .methods = methods,
                        .nmethods = 2,
                        .method = "klarna",
                        .email = "x<y",
                        .country = "AT",
                        .error = i18n_t(LANG_DE, T_E_EMAIL),
                        .error_field = "email"};
    const char *h = render_pay(f, &v);
    assert_non_null(strstr(h, "<html lang=\"de\">"));
    assert_non_null(strstr(h, "12,34\xc2\xa0€ bezahlen</button>"));
    assert_non_null(strstr(h, "5,00\xc2\xa0€"));
    assert_non_null(strstr(h, "role=\"alert\" id=\"form-error\">Bitte geben Sie eine gültige"));
    assert_non_null(strstr(h, "value=\"x&lt;y\""));
    assert_non_null(strstr(h, "aria-invalid=\"true\""));
    assert_non_null(strstr(h, "value=\"klarna\" checked"));
    assert_null(strstr(h, "value=\"klarna_pay_now\" checked"));
    assert_non_null(strstr(h, "<option value=\"AT\" selected>Österreich</option>"));
    assert_non_null(strstr(h, "Sofort bezahlen (Online-Banking)"));
    assert_non_null(strstr(h, "name=\"locale\" value=\"de\""));
}

/* The merchant header, the error box by its field, the methods' countries. */
static void test_pay_page_merchant_and_errors(void **state)
{
    page_fixture *f = *state;
    const char *methods[] = {"klarna_pay_now", "alipay"};
    const char *countries[] = {"AT DE NL", "DE FR SE"};
    gw_brand brand = {.name = "Café <Kassa>", .logo_url = "https://shop.example/logo.png"};
    pages_pay_view v = {.lang = LANG_EN,
                        .s = &f->s,
                        .brand = &brand,
                        .methods = methods,
                        .method_countries = countries,
                        .nmethods = 2,
                        .country = "FR",
                        .error = "This payment method is not offered in France.",
                        .error_field = "method"};
    const char *h = render_pay(f, &v);
    assert_non_null(strstr(h, "<header class=\"merchant\"><img class=\"logo\" alt=\"\" "
                              "src=\"https://shop.example/logo.png\"><span class=\"merchant-name\">"
                              "Café &lt;Kassa&gt;</span>"));
    /* the method error sits under the legend, not at the top of the form */
    assert_non_null(strstr(h, "<legend>Payment method</legend>\n<div class=\"alert\" "
                              "role=\"alert\" id=\"form-error\">This payment method is not "
                              "offered in France.</div>"));
    assert_non_null(strstr(h, "<fieldset aria-describedby=\"form-error\">"));
    /* France: Pay Now hidden, Alipay+ shown and checked; both carry their countries */
    assert_non_null(strstr(h, "<div class=\"option\" hidden data-countries=\"AT DE NL\">"));
    assert_non_null(strstr(h, "<div class=\"option\" data-countries=\"DE FR SE\">"
                              "<input type=\"radio\" name=\"method\" id=\"m-alipay\" "
                              "value=\"alipay\" checked"));
    /* an e-mail error goes in the e-mail field's box */
    v.error = "Please enter a valid e-mail address.";
    v.error_field = "email";
    h = render_pay(f, &v);
    const char *field = strstr(h, "<label for=\"email\">");
    const char *alert = strstr(h, "role=\"alert\"");
    const char *country = strstr(h, "<label for=\"country\">");
    assert_non_null(field);
    assert_non_null(alert);
    assert_true(field < alert);
    assert_true(alert < country);
}

static void test_dates_and_pay_later(void **state)
{
    page_fixture *f = *state;
    char d[32];
    pages_date(1798848000, LANG_DE, d, sizeof d); /* 2027-01-02 */
    assert_string_equal(d, "2.1.2027");
    pages_date(1798848000, LANG_EN, d, sizeof d);
    assert_string_equal(d, "02/01/2027");
    pages_date(1798848000, LANG_SV, d, sizeof d);
    assert_string_equal(d, "2027-01-02");
    gw_payment p;
    memset(&p, 0, sizeof p);
    p.m.state = PS_REQUIRES_CAPTURE;
    p.method_type = "klarna_pay_later";
    p.method_detail = "pay_later";
    p.auth_created_at = 1798848000 - 30 * 86400;
    buf_reset(&f->b);
    pages_out o = {.b = &f->b, .st = K_OK};
    pages_done(&o, LANG_EN, &f->s, &p);
    assert_int_equal(o.st, K_OK);
    assert_non_null(strstr(f->b.data, "you pay €12.34 to Klarna within 30 days"));
    assert_non_null(strstr(f->b.data, "<dt>Pay by</dt><dd>02/01/2027</dd>"));
    assert_null(strstr(f->b.data, "has been received"));
    p.method_detail = "pay_over_time";
    buf_reset(&f->b);
    o = (pages_out){.b = &f->b, .st = K_OK};
    pages_done(&o, LANG_EN, &f->s, &p);
    /* 12.34 in three: the first instalment carries the rounding */
    assert_non_null(strstr(f->b.data, "in 3 interest-free instalments"));
    assert_non_null(strstr(f->b.data, "<li>€4.12 · "));
    assert_non_null(strstr(f->b.data, "<li>€4.11 · 02/01/2027</li>"));
    p.method_type = "klarna_pay_now";
    p.method_detail = "pay_now";
    buf_reset(&f->b);
    o = (pages_out){.b = &f->b, .st = K_OK};
    pages_done(&o, LANG_EN, &f->s, &p);
    assert_non_null(strstr(f->b.data, "Your payment of €12.34 has been received"));
    assert_int_equal(pages_reason("payment_intent_authentication_failure"), T_R_AUTH_FAILED);
}

static void test_outcomes(void **state)
{
    page_fixture *f = *state;
    gw_payment p;
    memset(&p, 0, sizeof p);
    p.m.state = PS_REQUIRES_PAYMENT_METHOD;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_OPEN);
    p.last_error_code = "payment_method_customer_decline";
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_FAILED);
    p.m.state = PS_REQUIRES_ACTION;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_PROCESSING);
    p.m.state = PS_PROCESSING;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_PROCESSING);
    p.m.state = PS_REQUIRES_CAPTURE;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_PAID);
    p.m.state = PS_SUCCEEDED;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_PAID);
    p.m.state = PS_CANCELED;
    assert_int_equal(pages_outcome_of(&f->s, &p), PAGES_CANCELED);
    f->s.payment_status = "paid";
    assert_int_equal(pages_outcome_of(&f->s, NULL), PAGES_PAID);
    f->s.payment_status = "unpaid";
    f->s.status = "expired";
    assert_int_equal(pages_outcome_of(&f->s, NULL), PAGES_CANCELED);

    assert_int_equal(pages_reason("payment_method_customer_decline"), T_R_CUSTOMER_DECLINE);
    assert_int_equal(pages_reason("payment_method_provider_decline"), T_R_PROVIDER_DECLINE);
    assert_int_equal(pages_reason("payment_intent_payment_attempt_expired"), T_R_EXPIRED);
    assert_int_equal(pages_reason("payment_method_not_available"), T_R_NOT_AVAILABLE);
    assert_int_equal(pages_reason("something_else"), T_R_GENERIC);
    assert_int_equal(pages_reason(NULL), T_R_GENERIC);
}

static void test_done_pages(void **state)
{
    page_fixture *f = *state;
    gw_payment p;
    memset(&p, 0, sizeof p);
    pages_out o = {.b = &f->b, .st = K_OK};

    p.m.state = PS_SUCCEEDED;
    f->s.client_reference_id = "order-42";
    buf_reset(&f->b);
    pages_done(&o, LANG_FR, &f->s, &p);
    assert_non_null(strstr(f->b.data, "Paiement reçu"));
    assert_non_null(strstr(f->b.data, "order-42"));
    assert_non_null(strstr(f->b.data, "href=\"https://shop.example/ok?cs=cs_test123&amp;x=1\""));
    assert_non_null(strstr(f->b.data, "Retour à la boutique"));

    p.m.state = PS_REQUIRES_PAYMENT_METHOD;
    p.last_error_code = "payment_method_provider_decline";
    buf_reset(&f->b);
    pages_done(&o, LANG_FI, &f->s, &p);
    assert_non_null(strstr(f->b.data, "Maksu ei onnistunut"));
    assert_non_null(strstr(f->b.data, "role=\"alert\">Maksupalvelu hylkäsi maksun"));
    assert_non_null(strstr(f->b.data, "href=\"/c/pay/cs_test123\">Yritä uudelleen"));

    p.m.state = PS_PROCESSING;
    buf_reset(&f->b);
    pages_done(&o, LANG_SV, &f->s, &p);
    assert_non_null(strstr(f->b.data, "Din betalning behandlas"));
    assert_int_equal(o.st, K_OK);

    /* a javascript: URL from a merchant is never linked */
    f->s.success_url = "javascript:alert(1)";
    p.m.state = PS_SUCCEEDED;
    buf_reset(&f->b);
    pages_done(&o, LANG_EN, &f->s, &p);
    assert_null(strstr(f->b.data, "javascript:"));
    assert_false(pages_url_ok("//evil.example/x"));
    assert_true(pages_url_ok("/c/pay/cs_1"));

    buf u;
    buf_init(&u, 1024);
    assert_int_equal(
        pages_subst_session(&u, "a{CHECKOUT_SESSION_ID}b{CHECKOUT_SESSION_ID}", "cs_9"), K_OK);
    assert_string_equal(u.data, "acs_9bcs_9");
    buf_free(&u);
}

static void test_refresh_and_limits(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 64); /* far too small for a page */
    pages_out o = {.b = &b, .st = K_OK};
    pages_begin(&o, LANG_EN, "x", 2, "Sandbox", false);
    pages_end(&o, LANG_EN, NULL);
    assert_int_equal(o.st, K_ETOOBIG); /* reported, not silently cut */
    buf_free(&b);
    buf_init(&b, 1 << 16);
    o = (pages_out){.b = &b, .st = K_OK};
    pages_begin(&o, LANG_EN, "x", 2, "Sandbox <test>", false);
    assert_non_null(strstr(b.data, "<meta http-equiv=\"refresh\" content=\"2\">"));
    assert_non_null(strstr(b.data, "Sandbox &lt;test&gt;"));
    buf_free(&b);
    size_t n = 0;
    assert_non_null(pages_css(&n));
    assert_true(n > 1000);
    assert_non_null(strstr(pages_css(NULL), ":focus-visible"));
}

/* ---- demo shop hooks ---- */

static const char probe_payload[] =
    "{\"id\":\"evt_probe_1\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\","
    "\"api_version\":\"2026-10-28.endive\",\"created\":1700000000,\"livemode\":false,"
    "\"pending_webhooks\":1,\"request\":{\"id\":null,\"idempotency_key\":null},\"data\":{"
    "\"object\":{\"id\":\"pi_mock1\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}}}";
static const char probe_header[] =
    "t=1700000000,v1=143ccb8881e7dd74d3ce699fa397efe2f1071228a431533793083ea8e7841118";

static void test_signature(void **state)
{
    (void)state;
    size_t n = strlen(probe_payload);
    /* the vector stripe-node itself produces (reference/wire-formats.md) */
    assert_true(
        demo_sig_verify(probe_header, probe_payload, n, "whsec_test_secret", 1700000000, 300));
    assert_true(demo_sig_verify(probe_header, probe_payload, n, "whsec_test_secret",
                                1700000000 + 300, 300));
    assert_false(demo_sig_verify(probe_header, probe_payload, n, "whsec_test_secret",
                                 1700000000 + 301, 300));
    assert_false(demo_sig_verify(probe_header, probe_payload, n, "whsec_other", 1700000000, 300));
    assert_false(
        demo_sig_verify(probe_header, probe_payload, n - 1, "whsec_test_secret", 1700000000, 300));
    /* extra v1 entries are fine; a missing t is not */
    char two[256];
    snprintf(
        two, sizeof two,
        "t=1700000000,v1=%064d,v1=143ccb8881e7dd74d3ce699fa397efe2f1071228a431533793083ea8e7841118",
        0);
    assert_true(demo_sig_verify(two, probe_payload, n, "whsec_test_secret", 1700000000, 300));
    assert_false(
        demo_sig_verify(probe_header + 13, probe_payload, n, "whsec_test_secret", 1700000000, 300));
    assert_false(demo_sig_verify(NULL, probe_payload, n, "whsec_test_secret", 1700000000, 300));
    assert_false(demo_sig_verify("", probe_payload, n, "whsec_test_secret", 1700000000, 300));
}

static void test_event_log(void **state)
{
    (void)state;
    demo_log_clear();
    assert_int_equal(demo_log_add(probe_payload, strlen(probe_payload)), K_OK);
    assert_int_equal(demo_log_add(probe_payload, strlen(probe_payload)), K_OK); /* duplicate */
    assert_int_equal(demo_log_add("{}", 2), K_EINVAL);
    assert_int_equal(demo_log_add("nope", 4), K_EINVAL);
    const char cs_ev[] = "{\"id\":\"evt_2\",\"type\":\"checkout.session.completed\",\"created\":5,"
                         "\"data\":{\"object\":{\"id\":\"cs_1\",\"object\":\"checkout.session\","
                         "\"payment_intent\":\"pi_mock1\"}}}";
    assert_int_equal(demo_log_add(cs_ev, strlen(cs_ev)), K_OK);
    demo_event ev[8];
    size_t n = demo_log_find("pi_mock1", NULL, ev, 8);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].id, "evt_probe_1");
    assert_string_equal(ev[0].type, "payment_intent.succeeded");
    assert_int_equal(ev[0].created, 1700000000);
    assert_string_equal(ev[1].type, "checkout.session.completed");
    assert_int_equal(demo_log_find("pi_other", NULL, ev, 8), 0);
    assert_int_equal(demo_log_find(NULL, "cs_1", ev, 8), 1);
    /* bounded: the oldest fall out */
    for (int i = 0; i < LIMIT_DEMO_EVENTS_MAX + 5; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"id\":\"evt_n%d\",\"type\":\"payment_intent.processing\",\"created\":%d,"
                 "\"data\":{\"object\":{\"id\":\"pi_many\",\"object\":\"payment_intent\"}}}",
                 i, i);
        assert_int_equal(demo_log_add(body, strlen(body)), K_OK);
    }
    static demo_event many[LIMIT_DEMO_EVENTS_MAX + 10];
    assert_int_equal(demo_log_find("pi_many", NULL, many, K_ARRAY_LEN(many)),
                     LIMIT_DEMO_EVENTS_MAX);
    assert_string_equal(many[0].id, "evt_n5");
    assert_int_equal(demo_log_find("pi_mock1", NULL, ev, 8), 0);
    demo_log_clear();
}

static void test_cart_cookie(void **state)
{
    (void)state;
    demo_line in[3] = {{0, 2}, {3, 1}, {1, 99}};
    char c[512];
    demo_cart_encode(in, 3, c, sizeof c);
    assert_non_null(strstr(c, "0:2-3:1-1:99~"));
    demo_line out[16];
    assert_int_equal(demo_cart_decode(c, 4, out, 16), 3);
    assert_int_equal(out[1].product, 3);
    assert_int_equal(out[2].qty, 99);
    /* tampering breaks the MAC */
    char forged[512];
    snprintf(forged, sizeof forged, "%s", c);
    forged[2] = '9';
    assert_int_equal(demo_cart_decode(forged, 4, out, 16), 0);
    /* a product index past the catalogue, or no room, is refused */
    assert_int_equal(demo_cart_decode(c, 3, out, 16), 0);
    assert_int_equal(demo_cart_decode(c, 4, out, 2), 0);
    assert_int_equal(demo_cart_decode(NULL, 4, out, 16), 0);
    assert_int_equal(demo_cart_decode("0:1~short", 4, out, 16), 0);
    demo_cart_encode(in, 0, c, sizeof c);
    assert_int_equal(demo_cart_decode(c, 4, out, 16), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_accept_language),
        cmocka_unit_test(test_pick_and_country),
        cmocka_unit_test_setup_teardown(test_pay_page_en, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_pay_page_de_with_error, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_pay_page_merchant_and_errors, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_dates_and_pay_later, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_outcomes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_done_pages, fixture_up, fixture_down),
        cmocka_unit_test(test_refresh_and_limits),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_event_log),
        cmocka_unit_test(test_cart_cookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
