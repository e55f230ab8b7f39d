/*
 * test_refusals.c - the gateway's reasons (gw_why) through each face's one
 * table: every reason has a row in Stripe's (api/stripe/errors.c), ECommPay's
 * (api/ecommpay/codes.c) and the hosted page's (api/checkout/refusal.c), and
 * the rows the wire depends on say what the e2e tests and the official
 * clients expect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "api/checkout/web.h"
#include "api/ecommpay/ecp_int.h"
#include "api/stripe/stripe_int.h"

static gw_err err_of(gw_why why, const char *param, const char *decline)
{
    gw_err e;
    memset(&e, 0, sizeof(e));
    e.why = why;
    snprintf(e.param, sizeof(e.param), "%s", param != NULL ? param : "");
    snprintf(e.message, sizeof(e.message), "why %d", (int)why);
    e.decline = decline;
    return e;
}

static const char *field(json_t *body, const char *key)
{
    return json_string_value(json_object_get(json_object_get(body, "error"), key));
}

static void test_every_reason_has_a_row(void **state)
{
    (void)state;
    for (int w = GW_WHY_NONE + 1; w < GW_WHY__COUNT; w++) {
        gw_err e = err_of((gw_why)w, NULL, "payment_method_customer_decline");
        int status = stripe_error_status(&e);
        assert_true(status >= 400 && status < 600);
        json_t *body = stripe_error_body(&e);
        assert_non_null(field(body, "type"));
        assert_string_equal(field(body, "message"), e.message);
        json_decref(body);
        ecp_fail f;
        ecp_fail_of(&e, false, &f);
        assert_true(f.http == 400 || f.http == 500);
        assert_non_null(f.code);
        ecp_fail_of(&e, true, &f);
        assert_non_null(f.code);
        assert_true(web_refusal_status(&e) >= 400);
        assert_true(strcmp(gw_why_name((gw_why)w), "none") != 0);
    }
}

static void test_stripe_rows(void **state)
{
    (void)state;
    static const struct {
        gw_why why;
        int status;
        const char *type, *code;
    } rows[] = {
        {GW_WHY_NOT_FOUND, 404, "invalid_request_error", "resource_missing"},
        {GW_WHY_PARAM_MISSING, 400, "invalid_request_error", "parameter_missing"},
        {GW_WHY_AMOUNT_TOO_LARGE, 400, "invalid_request_error", "amount_too_large"},
        {GW_WHY_ALREADY_REFUNDED, 400, "invalid_request_error", "charge_already_refunded"},
        {GW_WHY_WRONG_STATE, 400, "invalid_request_error", "payment_intent_unexpected_state"},
        {GW_WHY_IN_PROGRESS, 409, "invalid_request_error", "payment_intent_unexpected_state"},
        {GW_WHY_IDEM_MISMATCH, 400, "idempotency_error", NULL},
        {GW_WHY_IDEM_IN_USE, 409, "idempotency_error", "idempotency_key_in_use"},
        {GW_WHY_PROVIDER_UNAVAILABLE, 502, "api_error", "provider_unavailable"},
        {GW_WHY_BUSY, 503, "api_error", "rate_limit"},
        {GW_WHY_RATE_LIMITED, 400, "invalid_request_error", "rate_limit"},
        {GW_WHY_STORAGE, 500, "api_error", NULL},
        {GW_WHY_STORAGE_FULL, 503, "api_error", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gw_err e = err_of(rows[i].why, "amount", NULL);
        assert_int_equal(stripe_error_status(&e), rows[i].status);
        json_t *body = stripe_error_body(&e);
        assert_string_equal(field(body, "type"), rows[i].type);
        if (rows[i].code != NULL)
            assert_string_equal(field(body, "code"), rows[i].code);
        else
            assert_null(field(body, "code"));
        assert_string_equal(field(body, "param"), "amount");
        json_decref(body);
    }
    /* A decline is a card_error whose code is the payment's failure code. */
    gw_err d = err_of(GW_WHY_DECLINED, NULL, "payment_method_customer_decline");
    json_t *body = stripe_error_body(&d);
    assert_int_equal(stripe_error_status(&d), 402);
    assert_string_equal(field(body, "type"), "card_error");
    assert_string_equal(field(body, "code"), "payment_method_customer_decline");
    assert_null(field(body, "param"));
    json_decref(body);
}

static void test_ecommpay_rows(void **state)
{
    (void)state;
    ecp_fail f;
    gw_err e = err_of(GW_WHY_AMOUNT_TOO_LARGE, "amount", NULL);
    ecp_fail_of(&e, true, &f);
    assert_int_equal(f.http, 400);
    assert_string_equal(f.code, "3283");
    assert_string_equal(f.message, "Refund amount more than init amount");
    ecp_fail_of(&e, false, &f);
    assert_string_equal(f.code, "2004");
    assert_string_equal(f.message, e.message); /* the gateway's own words */
    e = err_of(GW_WHY_ALREADY_REFUNDED, NULL, NULL);
    ecp_fail_of(&e, true, &f);
    assert_string_equal(f.code, "3283");
    e = err_of(GW_WHY_WRONG_STATE, NULL, NULL);
    ecp_fail_of(&e, true, &f);
    assert_string_equal(f.code, "3060");
    e = err_of(GW_WHY_ALREADY_EXISTS, "payment_id", NULL);
    ecp_fail_of(&e, false, &f);
    assert_string_equal(f.code, "3041");
    e = err_of(GW_WHY_STORAGE, NULL, NULL);
    ecp_fail_of(&e, false, &f);
    assert_int_equal(f.http, 500);
    assert_string_equal(f.code, "20000");
}

static void test_page_rows(void **state)
{
    (void)state;
    const char *fld = "x";
    gw_err e = err_of(GW_WHY_METHOD_UNAVAILABLE, "currency", NULL);
    assert_int_equal(web_refusal_reason(&e, &fld), T_R_NOT_AVAILABLE);
    assert_string_equal(fld, "method");
    e = err_of(GW_WHY_DECLINED, NULL, "payment_method_customer_decline");
    assert_int_equal(web_refusal_status(&e), 402);
    assert_int_equal(web_refusal_reason(&e, &fld), T_R_CUSTOMER_DECLINE);
    assert_null(fld);
    e = err_of(GW_WHY_BUSY, NULL, NULL);
    assert_int_equal(web_refusal_status(&e), 503);
    assert_int_equal(web_refusal_reason(&e, &fld), T_E_BUSY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_reason_has_a_row),
        cmocka_unit_test(test_stripe_rows),
        cmocka_unit_test(test_ecommpay_rows),
        cmocka_unit_test(test_page_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
