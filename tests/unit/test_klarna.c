/*
 * test_klarna.c - the Klarna connector against the Klarna simulator over real
 * HTTP on loopback: start, the customer's pages walked like a browser would
 * (GET pages, POST forms, 303s followed by hand), sync, order management,
 * business rules, fault injection and error-body parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/httpc.h"
#include "providers/klarna.h"
#include "sim/klarna_sim.h"
#include "providers/provider.h"
#include "sim/sim_server.h"

static sim_server *srv;
static char base[128]; /* <sim>/klarna */
static prov_account kacct;
static arena A;
static int att_seq;

/* ------------------------------------------------------------ a browser */

typedef struct {
    long status;
    char *body;
    char location[2048];
} page;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    buf *b = ud;
    buf_append(b, p, s * n);
    return s * n;
}

static size_t on_hdr(char *p, size_t s, size_t n, void *ud)
{
    page *pg = ud;
    size_t len = s * n;
    if (len > 10 && strncasecmp(p, "Location:", 9) == 0) {
        const char *v = p + 9;
        while (*v == ' ')
            v++;
        size_t vl = (size_t)(p + len - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        if (vl < sizeof(pg->location)) {
            memcpy(pg->location, v, vl);
            pg->location[vl] = '\0';
        }
    }
    return len;
}

/* GET (form == NULL) or POST a form; redirects are not followed. */
static page web(const char *url, const char *form, const char *json)
{
    page pg = {0};
    buf b;
    buf_init(&b, 1 << 20);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &pg);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    } else if (json) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &pg.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    pg.body = strdup(b.data ? b.data : "");
    buf_free(&b);
    return pg;
}

static void page_free(page *p)
{
    free(p->body);
    p->body = NULL;
}

/* GETs url, asserts 200 and that the page contains every needle. */
static void expect_page(const char *url, const char *needle, const char *needle2)
{
    page p = web(url, NULL, NULL);
    assert_int_equal(p.status, 200);
    if (!strstr(p.body, needle) || (needle2 && !strstr(p.body, needle2)))
        fail_msg("page %s lacks '%s'/'%s':\n%s", url, needle, needle2 ? needle2 : "", p.body);
    assert_non_null(strstr(p.body, "name=\"viewport\""));
    page_free(&p);
}

/* POSTs a form on the page url; returns where the 303 goes (static buffer). */
static const char *post(const char *url, const char *form)
{
    static char loc[2048];
    page p = web(url, form, NULL);
    assert_int_equal(p.status, 303);
    snprintf(loc, sizeof(loc), "%s", p.location);
    page_free(&p);
    return loc;
}

static void admin(const char *path, const char *json)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/_sim/%s", base, path);
    page p = web(url, NULL, json);
    if (p.status != 200)
        fail_msg("admin %s: %ld %s", path, p.status, p.body);
    page_free(&p);
}

static char *admin_get(const char *path)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/_sim/%s", base, path);
    page p = web(url, NULL, NULL);
    assert_int_equal(p.status, 200);
    return p.body;
}

/* Waits up to 4 s until the inbox holds a body containing needle. */
static bool inbox_has(const char *needle)
{
    for (int i = 0; i < 40; i++) {
        char *b = admin_get("inbox");
        bool ok = strstr(b, needle) != NULL;
        free(b);
        if (ok)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* ------------------------------------------------------------ fixtures */

typedef struct {
    char attempt[64];
    char notify[256];
    prov_start in;
    prov_result res;
    char page_url[512];
} flow;

static void flow_start(flow *f, const char *method, const char *locale, int64_t amount)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->attempt, sizeof(f->attempt), "att_test%d_%ld", ++att_seq, (long)getpid());
    snprintf(f->notify, sizeof(f->notify), "%s/_sim/inbox/%s?secret=s3", base, f->attempt);
    f->in = (prov_start){
        .payment_id = "pi_test",
        .attempt_id = f->attempt,
        .method = method,
        .currency = "EUR",
        .amount = amount,
        .country = "DE",
        .locale = locale,
        .email = "customer@email.de",
        .description = "Order 1002",
        .success_url = "http://shop.test/ok?order=1002",
        .cancel_url = "http://shop.test/cancel",
        .failure_url = "http://shop.test/fail",
        .notify_url = f->notify,
    };
    assert_int_equal(klarna_provider.start(&kacct, &f->in, &A, &f->res), K_OK);
    assert_int_equal(f->res.outcome, PR_ACTION);
    assert_non_null(f->res.provider_ref);
    assert_non_null(strstr(f->res.redirect_url, "/klarna/hpp/pay/"));
    snprintf(f->page_url, sizeof(f->page_url), "%s", f->res.redirect_url);
}

static prov_result flow_sync(flow *f, bool manual, const char *order_ref)
{
    prov_ref ref = {.attempt_id = f->attempt,
                    .provider_ref = f->res.provider_ref,
                    .order_ref = order_ref,
                    .currency = "EUR",
                    .country = "DE",
                    .locale = f->in.locale,
                    .manual_capture = manual,
                    .amount = f->in.amount,
                    .description = f->in.description,
                    .notify_url = f->notify};
    prov_result r;
    assert_int_equal(klarna_provider.sync(&kacct, &ref, &A, &r), K_OK);
    return r;
}

/* Pay Now up to the TAN page (bank, login). */
static void paynow_to_login(flow *f)
{
    flow_start(f, "klarna_pay_now", "de-DE", 2500);
    expect_page(f->page_url, "Wählen Sie Ihre Bank", "Demo Bank PSD2");
    expect_page(f->page_url, "Zahlung abbrechen", "<label");
    assert_string_equal(post(f->page_url, "step=bank&bank=de&action=next"), f->page_url);
    expect_page(f->page_url, "Benutzername", "type=\"password\"");
}

static void paynow_login(flow *f, const char *user)
{
    char form[128];
    snprintf(form, sizeof(form), "step=login&username=%s&pin=1234&action=next", user);
    assert_string_equal(post(f->page_url, form), f->page_url);
}

/* A completed Pay Now attempt through to the merchant's success URL. */
static void paynow_complete(flow *f)
{
    paynow_to_login(f);
    paynow_login(f, "max");
    expect_page(f->page_url, "Girokonto", NULL);
    post(f->page_url, "step=account&account=DE89+3704&action=next");
    expect_page(f->page_url, "TAN", NULL);
    const char *loc = post(f->page_url, "step=tan&tan=12345&action=next");
    assert_non_null(strstr(loc, "http://shop.test/ok?order=1002&sid="));
    assert_non_null(strstr(loc, "&authorization_token="));
    assert_null(strstr(loc, "{{"));
}

/* Pay Later: option, e-mail, code. */
static const char *paylater_walk(flow *f, const char *email, const char *code, bool manual)
{
    flow_start(f, "klarna_pay_later", "en-GB", 2500);
    (void)manual;
    expect_page(f->page_url, "Pay in 30 days", "3 interest-free instalments");
    post(f->page_url, "step=option&option=pay_in_30&action=next");
    expect_page(f->page_url, "Your e-mail address", "type=\"email\"");
    char form[256];
    snprintf(form, sizeof(form), "step=email&email=%s&action=next", email);
    const char *loc = post(f->page_url, form);
    if (strcmp(loc, f->page_url) != 0)
        return loc;
    page p = web(f->page_url, NULL, NULL);
    bool otp = strstr(p.body, "6-digit code") != NULL;
    page_free(&p);
    if (!otp)
        return f->page_url;
    snprintf(form, sizeof(form), "step=otp&code=%s&action=next", code);
    return post(f->page_url, form);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), K_OK);
    assert_int_equal(httpc_init(), K_OK);
    assert_int_equal(sim_server_start(&srv, "127.0.0.1", 0), K_OK);
    assert_true(sim_server_port(srv) > 0);
    assert_int_equal(klarna_sim_register(srv), K_OK);
    snprintf(base, sizeof(base), "%s/klarna", sim_server_url(srv));
    kacct = (prov_account){.provider = "klarna",
                           .base_url = base,
                           .username = "K123_test",
                           .password = "sharedsecret"};
    arena_init(&A, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_release(&A);
    sim_server_stop(srv);
    httpc_shutdown();
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(provider_find("klarna"), &klarna_provider);
    assert_null(provider_find("paypal"));
    assert_null(provider_find(NULL));
}

static void test_paynow_happy(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    paynow_login(&f, "max");
    expect_page(f.page_url, "Girokonto", "Tagesgeldkonto");
    post(f.page_url, "step=account&account=DE89+3704&action=next");
    expect_page(f.page_url, "Überweisung bestätigen", "12345");
    assert_string_equal(post(f.page_url, "step=tan&tan=99999&action=next"), f.page_url);
    expect_page(f.page_url, "Falsche TAN, noch 2 Versuche", NULL);
    prov_result mid = flow_sync(&f, false, NULL);
    assert_int_equal(mid.outcome, PR_ACTION);
    const char *loc = post(f.page_url, "step=tan&tan=12345&action=next");
    assert_non_null(strstr(loc, "http://shop.test/ok?order=1002&sid="));
    assert_non_null(strstr(loc, f.res.provider_ref));
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_CAPTURED);
    assert_non_null(r.order_ref);
    assert_int_equal(r.amount, 2500);
    assert_string_equal(r.method_detail, "pay_now");
    assert_true(r.expires_at > clock_now_s() + 27 * 86400);
    /* Sync again without the order ref: the same order, no second one. */
    prov_result again = flow_sync(&f, false, NULL);
    assert_int_equal(again.outcome, PR_CAPTURED);
    assert_string_equal(again.order_ref, r.order_ref);
    prov_result byref = flow_sync(&f, false, r.order_ref);
    assert_int_equal(byref.outcome, PR_CAPTURED);
    assert_true(inbox_has("COMPLETED"));
    assert_true(inbox_has("authorization_token"));
}

static void test_paynow_wrong_login(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    paynow_login(&f, "wrong");
    expect_page(f.page_url, "Zugangsdaten abgelehnt", "Benutzername");
    paynow_login(&f, "wrong");
    paynow_login(&f, "wrong");
    expect_page(f.page_url, "dreimal fehlgeschlagen", "http://shop.test/fail");
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.failure_code, "payment_method_provider_decline");
}

static void test_paynow_technical(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    paynow_login(&f, "technical");
    expect_page(f.page_url, "technischen Fehler", NULL);
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.failure_code, "payment_method_not_available");
    assert_string_equal(r.provider_code, "ERROR");
}

static void test_paynow_three_wrong_tans(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    paynow_login(&f, "single"); /* one account: straight to the TAN */
    expect_page(f.page_url, "TAN", NULL);
    post(f.page_url, "step=tan&tan=1&action=next");
    post(f.page_url, "step=tan&tan=2&action=next");
    expect_page(f.page_url, "noch 1 Versuche", NULL);
    post(f.page_url, "step=tan&tan=3&action=next");
    expect_page(f.page_url, "Dreimal falsche TAN", NULL);
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.failure_code, "payment_method_provider_decline");
}

static void test_paynow_decoupled(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    paynow_login(&f, "decoupled");
    expect_page(f.page_url, "Banking-App", "/status");
    char url[600];
    snprintf(url, sizeof(url), "%s/status", f.page_url);
    bool moved = false;
    for (int i = 0; i < 40 && !moved; i++) {
        page p = web(url, NULL, NULL);
        assert_int_equal(p.status, 200);
        moved = strstr(p.body, "\"step\":\"account\"") != NULL;
        page_free(&p);
        if (!moved)
            usleep(100 * 1000);
    }
    assert_true(moved);
    expect_page(f.page_url, "Girokonto", NULL);
}

static void test_cancel(void **state)
{
    (void)state;
    flow f;
    paynow_to_login(&f);
    assert_string_equal(post(f.page_url, "step=login&action=cancel"), "http://shop.test/cancel");
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.failure_code, "payment_method_customer_decline");
    /* Cancel of an unfinished attempt: the HPP session is disabled. */
    flow g;
    flow_start(&g, "klarna", "en-GB", 1000);
    expect_page(g.page_url, "How do you want to pay?", "Pay now");
    prov_ref ref = {.attempt_id = g.attempt, .provider_ref = g.res.provider_ref};
    prov_result c;
    assert_int_equal(klarna_provider.cancel(&kacct, &ref, &A, &c), K_OK);
    assert_int_equal(c.outcome, PR_CANCELED);
    prov_result s = flow_sync(&g, false, NULL);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.failure_code, "payment_intent_payment_attempt_expired");
}

static void test_paylater_outcomes(void **state)
{
    (void)state;
    flow f;
    const char *loc = paylater_walk(&f, "customer%40email.de", "123456", true);
    assert_non_null(strstr(loc, "http://shop.test/ok"));
    prov_result r = flow_sync(&f, true, NULL);
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    assert_string_equal(r.method_detail, "pay_later");
    assert_true(r.expires_at >= clock_now_s() + 28 * 86400 - 5);

    flow d;
    paylater_walk(&d, "customer%2Bdenied%40email.de", "123456", true);
    expect_page(d.page_url, "Your purchase can not be accepted", "http://shop.test/fail");
    r = flow_sync(&d, true, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.failure_code, "payment_method_provider_decline");

    flow o;
    loc = paylater_walk(&o, "customer%40email.de", "999999", true);
    assert_string_equal(loc, o.page_url);
    expect_page(o.page_url, "could not be verified", NULL);
    r = flow_sync(&o, true, NULL);
    assert_int_equal(r.outcome, PR_FAILED);
}

static void test_paylater_pending(void **state)
{
    (void)state;
    flow f;
    const char *loc = paylater_walk(&f, "customer%2Bpending%40email.de", "123456", true);
    assert_non_null(strstr(loc, "http://shop.test/ok"));
    prov_result r = flow_sync(&f, true, NULL);
    assert_int_equal(r.outcome, PR_PROCESSING);
    assert_non_null(r.order_ref);
    const char *order = r.order_ref;
    assert_true(inbox_has("FRAUD_RISK_ACCEPTED"));
    r = flow_sync(&f, true, order);
    assert_int_equal(r.outcome, PR_AUTHORIZED);
}

/* An authorised (manual capture) Pay Later order of 2500. */
static const char *authorized_order(flow *f)
{
    paylater_walk(f, "customer%40email.de", "123456", true);
    prov_result r = flow_sync(f, true, NULL);
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    return r.order_ref;
}

static prov_result op(k_status (*fn)(const prov_account *, const prov_ref *, arena *,
                                     prov_result *),
                      flow *f, const char *order, int64_t amount, const char *key)
{
    prov_ref ref = {.attempt_id = f->attempt,
                    .provider_ref = f->res.provider_ref,
                    .order_ref = order,
                    .currency = "EUR",
                    .amount = amount,
                    .idem_key = key,
                    .description = "op"};
    prov_result r;
    assert_int_equal(fn(&kacct, &ref, &A, &r), K_OK);
    return r;
}

static void test_capture_refund_rules(void **state)
{
    (void)state;
    flow f;
    const char *order = authorized_order(&f);
    prov_result r = op(klarna_provider.capture, &f, order, 1000, "op_cap1");
    assert_int_equal(r.outcome, PR_CAPTURED);
    assert_non_null(r.op_ref);
    const char *cap1 = r.op_ref;
    /* The same key again: the same capture, no second effect. */
    r = op(klarna_provider.capture, &f, order, 1000, "op_cap1");
    assert_string_equal(r.op_ref, cap1);
    r = op(klarna_provider.sync, &f, order, 0, NULL);
    assert_int_equal(r.outcome, PR_AUTHORIZED); /* PART_CAPTURED */
    r = op(klarna_provider.capture, &f, order, 2000, "op_cap2");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "CAPTURE_NOT_ALLOWED");
    r = op(klarna_provider.refund, &f, order, 500, "op_ref1");
    assert_int_equal(r.outcome, PR_CAPTURED);
    assert_non_null(r.op_ref);
    r = op(klarna_provider.refund, &f, order, 600, "op_ref2");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "REFUND_NOT_ALLOWED");
    assert_non_null(strstr(r.failure_message, "correlation_id"));
    r = op(klarna_provider.cancel, &f, order, 0, "op_cancel");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "CANCEL_NOT_ALLOWED");
    r = op(klarna_provider.resend, &f, order, 0, "op_resend");
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    r = op(klarna_provider.release, &f, order, 0, "op_release");
    assert_int_equal(r.outcome, PR_CAPTURED);
    assert_int_equal(r.amount, 1000);

    flow g;
    order = authorized_order(&g);
    r = op(klarna_provider.update, &g, order, 2000, "op_upd1");
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    assert_int_equal(r.amount, 2000);
    r = op(klarna_provider.update, &g, order, 5000, "op_upd2");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "NOT_ALLOWED");
    assert_string_equal(r.failure_code, "payment_method_provider_decline");
    r = op(klarna_provider.cancel, &g, order, 0, "op_cancel");
    assert_int_equal(r.outcome, PR_CANCELED);
    /* Portal change of the amount flows back through sync. */
    flow h;
    order = authorized_order(&h);
    char path[128];
    snprintf(path, sizeof(path), "orders/%s/amount", order);
    admin(path, "{\"order_amount\":1800}");
    r = op(klarna_provider.sync, &h, order, 0, NULL);
    assert_int_equal(r.amount, 1800);
}

static void test_extension_rule(void **state)
{
    (void)state;
    flow f;
    const char *order = authorized_order(&f);
    int64_t t0 = clock_now_s();
    clock_advance_ms(20LL * 86400 * 1000);
    prov_result r = op(klarna_provider.extend, &f, order, 0, "op_ext1");
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    assert_in_range(r.expires_at, t0 + 48 * 86400 - 5, t0 + 48 * 86400 + 5);
    clock_advance_ms(30LL * 86400 * 1000); /* past the extended expiry */
    r = op(klarna_provider.extend, &f, order, 0, "op_ext2");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "NOT_ALLOWED");
    r = op(klarna_provider.sync, &f, order, 0, NULL);
    assert_int_equal(r.outcome, PR_CANCELED);
    assert_string_equal(r.provider_code, "EXPIRED");

    flow g;
    order = authorized_order(&g);
    int64_t c = clock_now_s();
    char key[32];
    for (int i = 0; i < 6; i++) {
        clock_advance_ms(27LL * 86400 * 1000);
        snprintf(key, sizeof(key), "op_ext_%d", i);
        r = op(klarna_provider.extend, &g, order, 0, key);
        assert_int_equal(r.outcome, PR_AUTHORIZED);
    }
    assert_in_range(r.expires_at, c + 180 * 86400 - 5, c + 180 * 86400 + 5);
    clock_advance_ms(10LL * 86400 * 1000);
    r = op(klarna_provider.extend, &g, order, 0, "op_ext_last");
    assert_int_equal(r.outcome, PR_FAILED);
    assert_non_null(strstr(r.failure_message, "180 days"));
}

static int count_orders(const char *sid)
{
    char *b = admin_get("orders");
    json_error_t je;
    json_t *j = json_loads(b, 0, &je);
    free(b);
    int n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(j, "orders"), i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "hpp_session_id")), sid) == 0)
            n++;
    }
    json_decref(j);
    return n;
}

static void test_faults_create_order(void **state)
{
    (void)state;
    flow f;
    paynow_complete(&f);
    admin("faults", "{\"path\":\"/payments/v1/authorizations\",\"status\":500,\"count\":2}");
    prov_result r = flow_sync(&f, false, NULL);
    assert_int_equal(r.outcome, PR_CAPTURED);
    assert_int_equal(count_orders(f.res.provider_ref), 1);
    /* The order is made but the answer is lost: the retry replays it. */
    flow g;
    paynow_complete(&g);
    admin("faults",
          "{\"path\":\"/payments/v1/authorizations\",\"status\":503,\"count\":1,\"after\":true}");
    r = flow_sync(&g, true, NULL);
    assert_int_equal(r.outcome, PR_AUTHORIZED);
    assert_int_equal(count_orders(g.res.provider_ref), 1);
    r = flow_sync(&g, true, NULL);
    assert_int_equal(count_orders(g.res.provider_ref), 1);
}

static void test_faults_429_and_timeout(void **state)
{
    (void)state;
    flow f;
    const char *order = authorized_order(&f);
    admin("faults", "{\"path\":\"/ordermanagement/v1/orders\",\"status\":429,\"count\":1}");
    prov_result r = op(klarna_provider.capture, &f, order, 500, "op_c429");
    assert_int_equal(r.outcome, PR_CAPTURED);
    admin("faults", "{\"path\":\"/ordermanagement/v1/orders\",\"status\":429,\"count\":4}");
    r = op(klarna_provider.capture, &f, order, 500, "op_c429b");
    assert_int_equal(r.outcome, PR_UNKNOWN);
    assert_true(r.retryable);
    assert_string_equal(r.provider_code, "TOO_MANY_REQUESTS");
    /* The gateway retries later with the same key: exactly one capture. */
    r = op(klarna_provider.capture, &f, order, 500, "op_c429b");
    assert_int_equal(r.outcome, PR_CAPTURED);
    r = op(klarna_provider.sync, &f, order, 0, NULL);
    assert_int_equal(r.outcome, PR_AUTHORIZED);

    klarna_set_timeout_ms(300);
    admin("faults", "{\"path\":\"/hpp/v1/sessions\",\"delay_ms\":800,\"count\":1}");
    flow g;
    flow_start(&g, "klarna_pay_now", "de-DE", 700); /* HPP create times out once */
    assert_int_equal(g.res.outcome, PR_ACTION);
    admin("faults", "{\"path\":\"/hpp/v1/sessions\",\"delay_ms\":800,\"count\":4}");
    r = flow_sync(&g, false, NULL);
    assert_int_equal(r.outcome, PR_UNKNOWN);
    assert_true(r.retryable);
    assert_string_equal(r.provider_code, "TIMEOUT");
    klarna_set_timeout_ms(0);
    usleep(900 * 1000); /* let the delayed handlers finish */
    r = flow_sync(&g, false, NULL);
    assert_int_equal(r.outcome, PR_ACTION);
}

static void test_validation_and_auth(void **state)
{
    (void)state;
    prov_line line = {.name = "Shoe", .quantity = 2, .unit_price = 1000, .total_amount = 2000};
    prov_start in = {.attempt_id = "att_val",
                     .method = "klarna",
                     .currency = "EUR",
                     .amount = 2500,
                     .country = "DE",
                     .locale = "de-DE",
                     .lines = &line,
                     .nlines = 1,
                     .success_url = "http://shop.test/ok",
                     .notify_url = "http://shop.test/n"};
    prov_result r;
    assert_int_equal(klarna_provider.start(&kacct, &in, &A, &r), K_OK);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "BAD_VALUE");
    assert_non_null(strstr(r.failure_message, "order_amount"));
    prov_account bad = kacct;
    bad.password = "";
    in.amount = 2000;
    assert_int_equal(klarna_provider.start(&bad, &in, &A, &r), K_OK);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "UNAUTHORIZED");
}

static void test_parse_error_bodies(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *body;
        const char *code;
        const char *msg;
        prov_outcome outcome;
    } cases[] = {
        {400,
         "{\"error_code\":\"BAD_VALUE\",\"error_messages\":[\"Bad value: "
         "order_lines[0].total_amount\"],\"correlation_id\":\"66782175-ae05-44fc-9eb3-"
         "eeceadbad271\"}",
         "BAD_VALUE", "order_lines[0].total_amount", PR_FAILED},
        {403,
         "{\"error_code\":\"CANCEL_NOT_ALLOWED\",\"error_messages\":[\"Order has previous "
         "captures. Cancel not possible\"],\"correlation_id\":\"c-1\"}",
         "CANCEL_NOT_ALLOWED", "previous captures", PR_FAILED},
        {503,
         "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"error_messages\":[],"
         "\"correlation_id\":\"c-2\"}",
         "TEMPORARILY_UNAVAILABLE", "c-2", PR_UNKNOWN},
        {404, "{\"error_code\":\"NOT_FOUND\",\"error_message\":\"Invalid authorization token\"}",
         "NOT_FOUND", "Invalid authorization token", PR_FAILED},
        {502, "<html>Bad gateway</html>", "HTTP_502", "HTTP 502", PR_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prov_result r = {0};
        assert_int_equal(
            klarna_parse_error(cases[i].status, cases[i].body, strlen(cases[i].body), &A, &r),
            K_OK);
        assert_string_equal(r.provider_code, cases[i].code);
        assert_non_null(strstr(r.failure_message, cases[i].msg));
        assert_int_equal(r.outcome, cases[i].outcome);
        assert_int_equal(r.retryable, cases[i].outcome == PR_UNKNOWN);
    }
}

static void test_notice(void **state)
{
    (void)state;
    const char *body = "{\"event_id\":\"e1\",\"session\":{\"session_id\":\"hpp-1\","
                       "\"status\":\"COMPLETED\"}}";
    prov_inbound in = {.method = "POST",
                       .path = "/klarna/notify",
                       .query = "attempt=att_9&token=t",
                       .body = body,
                       .body_len = strlen(body)};
    prov_notice n;
    assert_int_equal(klarna_provider.notice(&kacct, &in, &A, &n), K_OK);
    assert_string_equal(n.attempt_id, "att_9");
    assert_string_equal(n.provider_ref, "hpp-1");
    assert_int_equal(n.result.outcome, PR_UNKNOWN);
    assert_int_equal(n.ack_status, 200);
    const char *fr = "{\"order_id\":\"o-1\",\"event_type\":\"FRAUD_RISK_ACCEPTED\"}";
    in.body = fr;
    in.body_len = strlen(fr);
    assert_int_equal(klarna_provider.notice(&kacct, &in, &A, &n), K_OK);
    assert_string_equal(n.provider_ref, "o-1");
    in.body = "not json";
    in.body_len = 8;
    assert_int_equal(klarna_provider.notice(&kacct, &in, &A, &n), K_EINVAL);
    assert_int_equal(n.ack_status, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_parse_error_bodies),
        cmocka_unit_test(test_notice),
        cmocka_unit_test(test_paynow_happy),
        cmocka_unit_test(test_paynow_wrong_login),
        cmocka_unit_test(test_paynow_technical),
        cmocka_unit_test(test_paynow_three_wrong_tans),
        cmocka_unit_test(test_paynow_decoupled),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_paylater_outcomes),
        cmocka_unit_test(test_paylater_pending),
        cmocka_unit_test(test_capture_refund_rules),
        cmocka_unit_test(test_faults_create_order),
        cmocka_unit_test(test_faults_429_and_timeout),
        cmocka_unit_test(test_validation_and_auth),
        cmocka_unit_test(test_extension_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
