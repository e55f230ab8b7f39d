/*
 * test_alipay.c - the Antom / Alipay+ connector against the Alipay+ simulator
 * over real HTTP: signatures checked both ways (requests by the simulator,
 * answers and notifications by the connector), per-merchant keys, the wallet
 * PIN and each result code path, expiry with the clock, cancel, refunds
 * (REFUND_AMOUNT_EXCEED, idempotent refundRequestId), a forged answer and a
 * tampered notification refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/httpc.h"
#include "providers/alipay.h"
#include "sim/alipay_sim.h"
#include "providers/provider.h"
#include "sim/sim_server.h"

static sim_server *srv;
static char base[128], hook[160];
static prov_account ap_acct;
static arena A;

/* ------------------------------------------- a merchant's notify endpoint */

static pthread_mutex_t hk_mu = PTHREAD_MUTEX_INITIALIZER;
static int hk_count, hk_ok;
static char hk_body[4096], hk_cid[128], hk_time[64], hk_sig[1024];
static prov_notice hk_last;

typedef struct {
    const char *cid, *time, *sig;
} hk_headers;

static const char *hk_header(void *ctx, const char *name)
{
    hk_headers *h = ctx;
    if (strcmp(name, "Client-Id") == 0)
        return h->cid;
    if (strcmp(name, "Request-Time") == 0)
        return h->time;
    if (strcmp(name, "Signature") == 0)
        return h->sig;
    return NULL;
}

static k_status hk_notice(const char *body, size_t len, const hk_headers *h, arena *a,
                          prov_notice *out)
{
    prov_inbound in = {.method = "POST",
                       .path = "/hook/n",
                       .query = "",
                       .body = body,
                       .body_len = len,
                       .header = hk_header,
                       .header_ctx = (void *)h};
    return alipay_provider.notice(&ap_acct, &in, a, out);
}

/* Verifies with the connector and acknowledges, as Kassa's notify route does. */
static void hk_handle(void *ctx, const sim_request *req, sim_response *r)
{
    (void)ctx;
    hk_headers h = {sim_request_header(req, "Client-Id"), sim_request_header(req, "Request-Time"),
                    sim_request_header(req, "Signature")};
    arena a;
    arena_init(&a, 0);
    prov_notice n;
    k_status st = hk_notice(req->body, req->body_len, &h, &a, &n);
    pthread_mutex_lock(&hk_mu);
    hk_count++;
    if (st == K_OK) {
        hk_ok++;
        hk_last = n;
        hk_last.provider_ref = NULL;
        hk_last.attempt_id = NULL;
        hk_last.result.provider_code = NULL;
        hk_last.result.failure_code = NULL;
        hk_last.result.failure_message = NULL;
        hk_last.result.provider_ref = NULL;
        hk_last.result.op_ref = NULL;
        hk_last.result.method_detail = NULL;
        hk_last.ack_body = NULL;
        snprintf(hk_body, sizeof hk_body, "%.*s", (int)req->body_len, req->body);
        snprintf(hk_cid, sizeof hk_cid, "%s", h.cid ? h.cid : "");
        snprintf(hk_time, sizeof hk_time, "%s", h.time ? h.time : "");
        snprintf(hk_sig, sizeof hk_sig, "%s", h.sig ? h.sig : "");
    }
    pthread_mutex_unlock(&hk_mu);
    r->status = st == K_OK ? n.ack_status : 401;
    r->content_type = "application/json";
    buf_append_str(&r->body, st == K_OK ? n.ack_body : "{}");
    arena_release(&a);
}

static int hk_wait(int count)
{
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&hk_mu);
        int c = hk_ok;
        pthread_mutex_unlock(&hk_mu);
        if (c >= count)
            return c;
        usleep(50 * 1000);
    }
    return -1;
}

/* ---------------------------------------------------------------- helpers */

static long http(const char *method, const char *url, const char *ctype, const char *body,
                 char *out, size_t cap)
{
    httpc_req req = {.method = method,
                     .url = url,
                     .body = body,
                     .body_len = body ? strlen(body) : 0,
                     .timeout_ms = 5000};
    char h[128];
    if (ctype) {
        snprintf(h, sizeof h, "Content-Type: %s", ctype);
        req.headers[0] = h;
    }
    httpc_resp resp;
    assert_int_equal(httpc_do(&req, &resp), K_OK);
    long st = resp.status;
    if (out)
        snprintf(out, cap, "%.*s", (int)resp.body.len, resp.body.data ? resp.body.data : "");
    httpc_resp_free(&resp);
    return st;
}

static void start(int64_t amount, const char *currency, const char *attempt, prov_result *out)
{
    prov_start in = {.payment_id = "pi_test",
                     .attempt_id = attempt,
                     .method = "alipay",
                     .currency = currency,
                     .amount = amount,
                     .description = "Two mugs",
                     .terminal = "WEB",
                     .success_url = "http://127.0.0.1:9/pay/return/x",
                     .notify_url = hook,
                     .expires_at = clock_now_s() + 14 * 60};
    assert_int_equal(alipay_provider.start(&ap_acct, &in, &A, out), K_OK);
}

/* paymentId from the QR text ".../qr/<paymentId>". */
static const char *pid_of(const prov_result *r)
{
    assert_non_null(r->qr_text);
    const char *p = strstr(r->qr_text, "/qr/");
    assert_non_null(p);
    return p + 4;
}

static long pin(const char *pid, const char *wallet, const char *value, char *page, size_t cap)
{
    char url[512], form[64];
    snprintf(url, sizeof url, "%s/wallet/%s/pay/%s", base, wallet, pid);
    snprintf(form, sizeof form, "pin=%s", value);
    return http("POST", url, "application/x-www-form-urlencoded", form, page, cap);
}

static void sync_ref(const char *pid, prov_result *out)
{
    prov_ref ref = {.provider_ref = pid, .attempt_id = "x"};
    assert_int_equal(alipay_provider.sync(&ap_acct, &ref, &A, out), K_OK);
}

static void keypair(char **priv, char **pub)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b1, k, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(PEM_write_bio_PUBKEY(b2, k), 1);
    char *p1, *p2;
    long n1 = BIO_get_mem_data(b1, &p1), n2 = BIO_get_mem_data(b2, &p2);
    *priv = strndup(p1, (size_t)n1);
    *pub = strndup(p2, (size_t)n2);
    BIO_free(b1);
    BIO_free(b2);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), K_OK);
    assert_int_equal(httpc_init(), K_OK);
    assert_int_equal(sim_server_start(&srv, "127.0.0.1", 0), K_OK);
    assert_int_equal(alipay_sim_register(srv), K_OK);
    assert_int_equal(sim_server_register(srv, "/hook", hk_handle, NULL, NULL), K_OK);
    snprintf(base, sizeof base, "%s/alipay", sim_server_url(srv));
    /* the simulator is reached over HTTP only: the connector asks it for the sandbox keys */
    assert_int_equal(alipay_sandbox_fetch(base), K_OK);
    snprintf(hook, sizeof hook, "%s/hook/n", sim_server_url(srv));
    ap_acct = (prov_account){
        .provider = "alipay", .base_url = base, .username = "M1", .merchant_name = "Test shop"};
    alipay_set_timeout_ms(5000);
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

/* ------------------------------------------------------------------ tests */

static void test_sign_verify(void **state)
{
    (void)state;
    char *priv, *pub, *priv2, *pub2;
    keypair(&priv, &pub);
    keypair(&priv2, &pub2);
    const char *body = "{\"a\":\"1\"}";
    const char *sig = alipay_sign(priv, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000000",
                                  body, strlen(body), &A);
    assert_non_null(sig);
    assert_non_null(strstr(sig, "algorithm=RSA256,keyVersion=1,signature="));
    assert_null(strchr(strstr(sig, "signature=") + 10, '+')); /* url-encoded */
    assert_true(alipay_verify(pub, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000000", body,
                              strlen(body), sig));
    assert_false(alipay_verify(pub, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000000",
                               "{\"a\":\"2\"}", 9, sig));
    assert_false(alipay_verify(pub, "POST", "/ams/api/v1/payments/refund", "C1", "1700000000000",
                               body, strlen(body), sig));
    assert_false(alipay_verify(pub, "POST", "/ams/api/v1/payments/pay", "C2", "1700000000000", body,
                               strlen(body), sig));
    assert_false(alipay_verify(pub, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000001", body,
                               strlen(body), sig));
    assert_false(alipay_verify(pub2, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000000",
                               body, strlen(body), sig));
    assert_false(alipay_verify(pub, "POST", "/ams/api/v1/payments/pay", "C1", "1700000000000", body,
                               strlen(body), NULL));
    free(priv);
    free(pub);
    free(priv2);
    free(pub2);
}

static void test_registry_and_wallets(void **state)
{
    (void)state;
    assert_ptr_equal(provider_find("alipay"), &alipay_provider);
    const alipay_wallet *w[16];
    assert_int_equal(alipay_wallets("HKD", w, 16), 1);
    assert_string_equal(w[0]->code, "ALIPAY_HK");
    assert_int_equal(alipay_wallets("PHP", w, 16), 1);
    assert_string_equal(w[0]->code, "GCASH");
    assert_int_equal(alipay_wallets("EUR", w, 16), 7);
}

static void test_pay_success_and_notify(void **state)
{
    (void)state;
    int before = hk_wait(0);
    prov_result r;
    start(1234, "EUR", "att_ok1", &r);
    assert_int_equal(r.outcome, PR_ACTION);
    assert_non_null(r.provider_ref);
    assert_non_null(r.redirect_url);
    assert_true(strncmp(r.qr_text, base, strlen(base)) == 0);
    assert_true(r.expires_at >= clock_now_s() + 14 * 60 - 2);
    const char *pid = pid_of(&r);
    assert_string_equal(pid, r.provider_ref);
    /* The same paymentRequestId again: the same payment, not a second one. */
    prov_result again;
    start(1234, "EUR", "att_ok1", &again);
    assert_string_equal(again.provider_ref, r.provider_ref);
    /* Other content under the same id: REPEAT_REQ_INCONSISTENT. */
    start(999, "EUR", "att_ok1", &again);
    assert_int_equal(again.outcome, PR_FAILED);
    assert_string_equal(again.provider_code, "REPEAT_REQ_INCONSISTENT");
    prov_result s;
    sync_ref(pid, &s);
    assert_int_equal(s.outcome, PR_ACTION);
    char page[8192];
    assert_int_equal(pin(pid, "GCASH", "123456", page, sizeof page), 200);
    assert_non_null(strstr(page, "Payment successful"));
    sync_ref(pid, &s);
    assert_int_equal(s.outcome, PR_CAPTURED);
    assert_int_equal(s.amount, 1234);
    assert_string_equal(s.method_detail, "GCASH");
    assert_true(hk_wait(before + 1) > before);
    pthread_mutex_lock(&hk_mu);
    assert_int_equal(hk_last.result.outcome, PR_CAPTURED);
    assert_int_equal(hk_last.ack_status, 200);
    char body[4096], cid[128], tm[64], sig[1024];
    snprintf(body, sizeof body, "%s", hk_body);
    snprintf(cid, sizeof cid, "%s", hk_cid);
    snprintf(tm, sizeof tm, "%s", hk_time);
    snprintf(sig, sizeof sig, "%s", hk_sig);
    pthread_mutex_unlock(&hk_mu);
    /* The same notification verifies again; a tampered one does not. */
    hk_headers h = {cid, tm, sig};
    prov_notice n;
    assert_int_equal(hk_notice(body, strlen(body), &h, &A, &n), K_OK);
    assert_string_equal(n.ack_body, ALIPAY_ACK);
    char *amt = strstr(body, "\"value\":\"1234\"");
    assert_non_null(amt);
    memcpy(amt, "\"value\":\"9234\"", 14);
    assert_int_equal(hk_notice(body, strlen(body), &h, &A, &n), K_EINVAL);
    assert_int_equal(n.ack_status, 401);
    hk_headers nosig = {cid, tm, NULL};
    assert_int_equal(hk_notice(body, strlen(body), &nosig, &A, &n), K_EINVAL);
}

static void test_result_codes(void **state)
{
    (void)state;
    static const struct {
        int64_t amount;
        const char *code;
    } cases[] = {{1051, "USER_BALANCE_NOT_ENOUGH"}, {2052, "RISK_REJECT"}};
    for (size_t i = 0; i < 2; i++) {
        char att[32];
        snprintf(att, sizeof att, "att_rc%zu", i);
        prov_result r, s;
        start(cases[i].amount, "EUR", att, &r);
        assert_int_equal(r.outcome, PR_ACTION);
        assert_int_equal(pin(pid_of(&r), "ALIPAY_CN", "123456", NULL, 0), 200);
        sync_ref(r.provider_ref, &s);
        assert_int_equal(s.outcome, PR_FAILED);
        assert_string_equal(s.provider_code, cases[i].code);
        assert_string_equal(s.failure_code, "payment_method_provider_decline");
    }
    /* Three wrong PINs. */
    prov_result r, s;
    start(1000, "PHP", "att_pin", &r);
    char page[8192];
    assert_int_equal(pin(pid_of(&r), "GCASH", "000000", page, sizeof page), 400);
    assert_non_null(strstr(page, "2 tries left"));
    assert_int_equal(pin(pid_of(&r), "DANA", "123456", NULL, 0), 400); /* PHP: GCash only */
    assert_int_equal(pin(pid_of(&r), "GCASH", "000001", NULL, 0), 400);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_ACTION);
    assert_int_equal(pin(pid_of(&r), "GCASH", "000002", NULL, 0), 200);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.provider_code, "USER_PAYMENT_VERIFICATION_FAILED");
    assert_string_equal(s.failure_code, "payment_method_provider_decline");
    /* ...54: one UNKNOWN_EXCEPTION; the connector asks again with the same id. */
    start(1054, "EUR", "att_54", &r);
    assert_int_equal(r.outcome, PR_ACTION);
    assert_non_null(r.provider_ref);
}

static void test_pending_then_expiry(void **state)
{
    (void)state;
    prov_result r, s;
    start(1053, "EUR", "att_53", &r);
    assert_int_equal(pin(pid_of(&r), "KAKAOPAY", "123456", NULL, 0), 200);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_PROCESSING);
    prov_result u;
    start(1200, "EUR", "att_exp", &u);
    clock_advance_ms((14 * 60 + 1) * 1000LL);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.provider_code, "ORDER_IS_CLOSED");
    assert_string_equal(s.failure_code, "payment_intent_payment_attempt_expired");
    sync_ref(u.provider_ref, &s);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.provider_code, "ORDER_IS_CLOSED");
    /* A closed code can no longer be paid. */
    char page[8192];
    assert_int_equal(pin(pid_of(&u), "GCASH", "123456", page, sizeof page), 200);
    assert_non_null(strstr(page, "Payment failed"));
}

static void test_cancel_and_refunds(void **state)
{
    (void)state;
    prov_result r, s;
    start(800, "EUR", "att_cx", &r);
    prov_ref ref = {.provider_ref = r.provider_ref, .attempt_id = "att_cx"};
    assert_int_equal(alipay_provider.cancel(&ap_acct, &ref, &A, &s), K_OK);
    assert_int_equal(s.outcome, PR_CANCELED);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_CANCELED);

    start(1000, "EUR", "att_rf", &r);
    assert_int_equal(pin(pid_of(&r), "TNG", "123456", NULL, 0), 200);
    prov_ref rf = {
        .provider_ref = r.provider_ref, .currency = "EUR", .amount = 400, .idem_key = "re_1"};
    assert_int_equal(alipay_provider.refund(&ap_acct, &rf, &A, &s), K_OK);
    assert_int_equal(s.outcome, PR_CAPTURED);
    assert_non_null(s.op_ref);
    const char *first = s.op_ref;
    assert_int_equal(alipay_provider.refund(&ap_acct, &rf, &A, &s), K_OK); /* same request id */
    assert_string_equal(s.op_ref, first);
    rf.idem_key = "re_2";
    rf.amount = 700;
    assert_int_equal(alipay_provider.refund(&ap_acct, &rf, &A, &s), K_OK);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.provider_code, "REFUND_AMOUNT_EXCEED");
    rf.idem_key = "re_3";
    rf.amount = 600;
    assert_int_equal(alipay_provider.refund(&ap_acct, &rf, &A, &s), K_OK);
    assert_int_equal(s.outcome, PR_CAPTURED);
    /* Past the cancel window (00:15 UTC+8 the next day) a paid payment cannot be cancelled. */
    clock_advance_ms(2LL * 86400 * 1000);
    ref.provider_ref = r.provider_ref;
    assert_int_equal(alipay_provider.cancel(&ap_acct, &ref, &A, &s), K_OK);
    assert_int_equal(s.outcome, PR_FAILED);
    assert_string_equal(s.provider_code, "CANCEL_WINDOW_EXCEED");
}

static void test_forged_answer_and_merchant_keys(void **state)
{
    (void)state;
    prov_result r, s;
    start(500, "EUR", "att_forge", &r);
    char url[256], out[4096];
    snprintf(url, sizeof url, "%s/_sim/fault", base);
    assert_int_equal(http("POST", url, "application/json",
                          "{\"endpoint\":\"inquiryPayment\",\"bad_signature\":true}", NULL, 0),
                     200);
    sync_ref(r.provider_ref, &s);
    assert_int_equal(s.outcome, PR_UNKNOWN);
    assert_string_equal(s.provider_code, "INVALID_SIGNATURE");
    sync_ref(r.provider_ref, &s); /* the fault was for one answer */
    assert_int_equal(s.outcome, PR_ACTION);

    /* A merchant with keys of its own: refused until the simulator knows its key. */
    snprintf(url, sizeof url, "%s/_sim/keys", base);
    assert_int_equal(http("GET", url, NULL, NULL, out, sizeof out), 200);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    char *antom_pub = strdup(json_string_value(json_object_get(j, "antomPublicKey")));
    json_decref(j);
    char *priv, *pub;
    keypair(&priv, &pub);
    prov_account own = {.provider = "alipay",
                        .base_url = base,
                        .username = "M2",
                        .private_key = priv,
                        .public_key = antom_pub};
    prov_start in = {.attempt_id = "att_own",
                     .method = "alipay",
                     .currency = "HKD",
                     .amount = 10000,
                     .success_url = "http://127.0.0.1:9/r",
                     .notify_url = hook};
    assert_int_equal(alipay_provider.start(&own, &in, &A, &r), K_OK);
    assert_int_equal(r.outcome, PR_FAILED);
    assert_string_equal(r.provider_code, "INVALID_SIGNATURE");
    json_t *reg = json_pack("{s:s, s:s}", "clientId", "M2", "publicKey", pub);
    char *body = json_dumps(reg, JSON_COMPACT);
    json_decref(reg);
    assert_int_equal(http("POST", url, "application/json", body, NULL, 0), 200);
    free(body);
    assert_int_equal(alipay_provider.start(&own, &in, &A, &r), K_OK);
    assert_int_equal(r.outcome, PR_ACTION);
    /* Configured keys that cannot be read never fall back to the sandbox's. */
    own.private_key = "/nonexistent/key.pem";
    assert_int_equal(alipay_provider.start(&own, &in, &A, &r), K_EINVAL);
    free(priv);
    free(pub);
    free(antom_pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_registry_and_wallets),
        cmocka_unit_test(test_pay_success_and_notify),
        cmocka_unit_test(test_result_codes),
        cmocka_unit_test(test_pending_then_expiry),
        cmocka_unit_test(test_cancel_and_refunds),
        cmocka_unit_test(test_forged_answer_and_merchant_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
