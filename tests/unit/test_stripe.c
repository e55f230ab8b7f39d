/*
 * test_stripe.c - the Stripe dialect's pure parts: the idempotency fingerprint
 * (same request in any key order or encoding -> same; any change -> different)
 * and the webhook delivery's Stripe-Signature (t=<ts>,v1=<HMAC-SHA256 of
 * "<ts>.<body>" with the endpoint secret>), checked against crypto directly
 * and against the pinned vector of the official client's probe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "api/stripe/stripe_int.h"
#include "base/crypto.h"

static void fp(const char *method, const char *path, const char *form, char out[65])
{
    param_err err;
    json_t *p = form_decode(form, strlen(form), &err);
    assert_non_null(p);
    assert_int_equal(stripe_fingerprint(method, path, p, out), K_OK);
    json_decref(p);
}

static void test_fingerprint_order_and_encoding(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    fp("POST", "/v1/payment_intents", "amount=2500&currency=eur&metadata[x]=1", a);
    fp("POST", "/v1/payment_intents", "metadata[x]=1&currency=eur&amount=2500", b);
    assert_string_equal(a, b);
    param_err err;
    const char *js = "{\"currency\":\"eur\",\"metadata\":{\"x\":\"1\"},\"amount\":\"2500\"}";
    json_t *p = form_decode_json(js, strlen(js), &err);
    assert_non_null(p);
    assert_int_equal(stripe_fingerprint("POST", "/v1/payment_intents", p, c), K_OK);
    json_decref(p);
    assert_string_equal(a, c);
    assert_int_equal(strlen(a), 64);
}

static void test_fingerprint_changes(void **state)
{
    (void)state;
    char base[65], other[65];
    fp("POST", "/v1/payment_intents", "amount=2500&currency=eur", base);
    const char *variants[][3] = {
        {"POST", "/v1/payment_intents", "amount=2501&currency=eur"},
        {"POST", "/v1/payment_intents", "amount=2500&currency=usd"},
        {"POST", "/v1/payment_intents", "amount=2500&currency=eur&description=x"},
        {"POST", "/v1/refunds", "amount=2500&currency=eur"},
        {"GET", "/v1/payment_intents", "amount=2500&currency=eur"},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        fp(variants[i][0], variants[i][1], variants[i][2], other);
        assert_string_not_equal(base, other);
    }
}

static void test_delivery_signature(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 0);
    gw_event ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.id, sizeof(ev.id), "evt_test");
    ev.type = "payment_intent.created";
    ev.created = 1700000000;
    ev.object_kind = "unknown";
    ev.object = json_pack("{s:s}", "id", "x_1");
    gw_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    ep.url = "http://127.0.0.1:9/hook";
    ep.secret = "whsec_test_secret";
    gw_delivery_req req;
    memset(&req, 0, sizeof(req));
    assert_int_equal(stripe_format_delivery(&ev, &ep, 1700000000, &a, &req), K_OK);
    assert_string_equal(req.url, ep.url);
    char *msg = arena_printf(&a, "1700000000.%s", req.body);
    char hex[SHA256_HEX_LEN];
    crypto_hmac_sha256_hex(ep.secret, strlen(ep.secret), msg, strlen(msg), hex);
    char *want = arena_printf(&a, "Stripe-Signature: t=1700000000,v1=%s", hex);
    bool found = false;
    for (int i = 0; i < 8 && req.headers[i] != NULL; i++)
        found |= strcmp(req.headers[i], want) == 0;
    assert_true(found);
    json_t *body = json_loads(req.body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "id")), "evt_test");
    assert_string_equal(json_string_value(json_object_get(body, "object")), "event");
    assert_string_equal(json_string_value(json_object_get(body, "type")), ev.type);
    json_decref(body);
    json_decref(ev.object);
    arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_order_and_encoding),
        cmocka_unit_test(test_fingerprint_changes),
        cmocka_unit_test(test_delivery_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
