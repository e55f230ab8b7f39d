/*
 * test_payment.c - the payment state machine: every (state, op) pair against
 * an expected table written out here independently of payment.c, then money
 * sequences (partial captures, cancel after capture, refunds, adjust,
 * overflow attempts), with pay_check on every result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "domain/payment.h"

/* The allowed pairs, as the brief states them. Everything not listed is refused.
 * `table` is the table's entry; `applied` the state pay_apply reaches from the
 * sample money below (differs where amounts decide). */
static const struct {
    pay_state from;
    pay_op op;
    pay_state table;
    pay_state applied;
} allowed[] = {
    {PS_REQUIRES_PAYMENT_METHOD, OP_CREATE, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_REQUIRES_PAYMENT_METHOD, OP_UPDATE, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_REQUIRES_PAYMENT_METHOD, OP_ATTACH, PS_REQUIRES_CONFIRMATION, PS_REQUIRES_CONFIRMATION},
    {PS_REQUIRES_PAYMENT_METHOD, OP_ACTION, PS_REQUIRES_ACTION, PS_REQUIRES_ACTION},
    {PS_REQUIRES_PAYMENT_METHOD, OP_CANCEL, PS_CANCELED, PS_CANCELED},

    {PS_REQUIRES_CONFIRMATION, OP_UPDATE, PS_REQUIRES_CONFIRMATION, PS_REQUIRES_CONFIRMATION},
    {PS_REQUIRES_CONFIRMATION, OP_ATTACH, PS_REQUIRES_CONFIRMATION, PS_REQUIRES_CONFIRMATION},
    {PS_REQUIRES_CONFIRMATION, OP_DETACH, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_REQUIRES_CONFIRMATION, OP_ACTION, PS_REQUIRES_ACTION, PS_REQUIRES_ACTION},
    {PS_REQUIRES_CONFIRMATION, OP_PROCESS, PS_PROCESSING, PS_PROCESSING},
    {PS_REQUIRES_CONFIRMATION, OP_AUTHORIZE, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CONFIRMATION, OP_SALE, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_REQUIRES_CONFIRMATION, OP_FAIL, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_REQUIRES_CONFIRMATION, OP_CANCEL, PS_CANCELED, PS_CANCELED},

    {PS_REQUIRES_ACTION, OP_UPDATE, PS_REQUIRES_ACTION, PS_REQUIRES_ACTION},
    {PS_REQUIRES_ACTION, OP_PROCESS, PS_PROCESSING, PS_PROCESSING},
    {PS_REQUIRES_ACTION, OP_AUTHORIZE, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_ACTION, OP_SALE, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_REQUIRES_ACTION, OP_FAIL, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_REQUIRES_ACTION, OP_CANCEL, PS_CANCELED, PS_CANCELED},

    {PS_PROCESSING, OP_AUTHORIZE, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_PROCESSING, OP_SALE, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_PROCESSING, OP_FAIL, PS_REQUIRES_PAYMENT_METHOD, PS_REQUIRES_PAYMENT_METHOD},
    {PS_PROCESSING, OP_CANCEL, PS_CANCELED, PS_CANCELED},

    {PS_REQUIRES_CAPTURE, OP_CAPTURE, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CAPTURE, OP_RELEASE, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_REQUIRES_CAPTURE, OP_CANCEL, PS_CANCELED, PS_SUCCEEDED},
    {PS_REQUIRES_CAPTURE, OP_EXPIRE, PS_CANCELED, PS_SUCCEEDED},
    {PS_REQUIRES_CAPTURE, OP_EXTEND, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CAPTURE, OP_ADJUST, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CAPTURE, OP_REFUND, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CAPTURE, OP_REFUND_SETTLE, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},
    {PS_REQUIRES_CAPTURE, OP_REFUND_FAIL, PS_REQUIRES_CAPTURE, PS_REQUIRES_CAPTURE},

    {PS_SUCCEEDED, OP_REFUND, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_SUCCEEDED, OP_REFUND_SETTLE, PS_SUCCEEDED, PS_SUCCEEDED},
    {PS_SUCCEEDED, OP_REFUND_FAIL, PS_SUCCEEDED, PS_SUCCEEDED},
};

static int expected_next(pay_state s, pay_op op, bool applied)
{
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (allowed[i].from == s && allowed[i].op == op)
            return applied ? (int)allowed[i].applied : (int)allowed[i].table;
    return -1;
}

/* A valid money sample in each state: 10.00 asked; in requires_capture 4.00 of
 * 10.00 captured with 1.00 refund pending; in succeeded all captured. */
static pay_money sample(pay_state s)
{
    pay_money m = {.state = s, .amount = 1000};
    if (s == PS_REQUIRES_CAPTURE)
        m = (pay_money){s, 1000, 1000, 400, 0, 0, 100};
    if (s == PS_SUCCEEDED)
        m = (pay_money){s, 1000, 1000, 1000, 0, 0, 100};
    if (s == PS_REQUIRES_PAYMENT_METHOD)
        m.amount = 0; /* not created yet, so CREATE is allowed */
    assert_true(pay_check(&m));
    return m;
}

static pay_entry sample_entry(pay_op op)
{
    static const int64_t amounts[OP__COUNT] = {
        [OP_CREATE] = 500, [OP_UPDATE] = 900,       [OP_AUTHORIZE] = 800,
        [OP_SALE] = 800,   [OP_CAPTURE] = 100,      [OP_ADJUST] = 900,
        [OP_REFUND] = 50,  [OP_REFUND_SETTLE] = 50, [OP_REFUND_FAIL] = 50,
    };
    return (pay_entry){.op = op, .amount = amounts[op], .final = false};
}

static void test_table_every_pair(void **state)
{
    int allowed_count = 0;
    for (int s = 0; s < PS__COUNT; s++) {
        for (int op = 0; op < OP__COUNT; op++) {
            int want = expected_next((pay_state)s, (pay_op)op, false);
            int got = pay_transition((pay_state)s, (pay_op)op);
            if (got != want)
                fail_msg("table[%s][%s] = %d, want %d", pay_state_name((pay_state)s),
                         pay_op_name((pay_op)op), got, want);
            allowed_count += want >= 0;

            pay_money m = sample((pay_state)s);
            /* RPM sample is uncreated: ops other than CREATE/UPDATE/CANCEL need an amount */
            if (s == PS_REQUIRES_PAYMENT_METHOD && op != OP_CREATE)
                m.amount = 1000;
            pay_money before = m;
            pay_entry e = sample_entry((pay_op)op);
            pay_refusal r = pay_apply(&m, &e);
            assert_true(pay_check(&m));
            if (want < 0) {
                if (r != PAY_E_STATE)
                    fail_msg("%s in %s: refusal %d, want PAY_E_STATE", pay_op_name((pay_op)op),
                             pay_state_name((pay_state)s), r);
                assert_memory_equal(&m, &before, sizeof m);
            } else {
                if (r != PAY_OK)
                    fail_msg("%s in %s refused: %s", pay_op_name((pay_op)op),
                             pay_state_name((pay_state)s), pay_refusal_message(r));
                assert_int_equal(m.state, expected_next((pay_state)s, (pay_op)op, true));
            }
        }
    }
    assert_int_equal(allowed_count, (int)(sizeof allowed / sizeof *allowed));
}

static void test_names(void **state)
{
    for (int s = 0; s < PS__COUNT; s++)
        assert_int_equal(pay_state_from_name(pay_state_name((pay_state)s)), s);
    for (int op = 0; op < OP__COUNT; op++)
        assert_int_equal(pay_op_from_name(pay_op_name((pay_op)op)), op);
    assert_string_equal(pay_state_name(PS_REQUIRES_PAYMENT_METHOD), "requires_payment_method");
    assert_string_equal(pay_state_name(PS_REQUIRES_CAPTURE), "requires_capture");
    assert_string_equal(pay_op_name(OP_REFUND_SETTLE), "refund_settle");
    assert_int_equal(pay_op_from_name("nope"), -1);
    assert_int_equal(pay_op_from_name(NULL), -1);
    assert_int_equal(pay_state_from_name("Succeeded"), -1);
    for (int r = PAY_OK; r <= PAY_E_ADJUST; r++)
        assert_true(strlen(pay_refusal_message((pay_refusal)r)) > 0);
}

/* ---- sequences ---- */

static void ok(pay_money *m, pay_op op, int64_t amount, bool final)
{
    pay_entry e = {op, amount, final};
    pay_refusal r = pay_apply(m, &e);
    if (r != PAY_OK)
        fail_msg("%s(%lld) in %s refused: %s", pay_op_name(op), (long long)amount,
                 pay_state_name(m->state), pay_refusal_message(r));
    assert_true(pay_check(m));
}

static void refused(pay_money *m, pay_op op, int64_t amount, bool final, pay_refusal want)
{
    pay_money before = *m;
    pay_entry e = {op, amount, final};
    assert_int_equal(pay_apply(m, &e), want);
    assert_memory_equal(m, &before, sizeof before);
    assert_true(pay_check(m));
}

static pay_money authorized(int64_t amount)
{
    pay_money m = {0};
    ok(&m, OP_CREATE, amount, false);
    ok(&m, OP_ATTACH, 0, false);
    ok(&m, OP_ACTION, 0, false);
    ok(&m, OP_AUTHORIZE, amount, false);
    assert_int_equal(m.state, PS_REQUIRES_CAPTURE);
    assert_int_equal(pay_capturable(&m), amount);
    return m;
}

static void test_create_and_attempts(void **state)
{
    pay_money m = {0};
    refused(&m, OP_CREATE, 0, false, PAY_E_AMOUNT);
    refused(&m, OP_CREATE, -1, false, PAY_E_AMOUNT);
    refused(&m, OP_CREATE, LIMIT_AMOUNT_MAX + 1, false, PAY_E_AMOUNT);
    ok(&m, OP_CREATE, LIMIT_AMOUNT_MAX, false);
    refused(&m, OP_CREATE, 100, false, PAY_E_STATE); /* only once */
    ok(&m, OP_UPDATE, 2500, false);
    assert_int_equal(m.amount, 2500);
    refused(&m, OP_UPDATE, 0, false, PAY_E_AMOUNT);
    refused(&m, OP_UPDATE, INT64_MAX, false, PAY_E_AMOUNT);
    refused(&m, OP_DETACH, 0, false, PAY_E_STATE);
    ok(&m, OP_ATTACH, 0, false);
    ok(&m, OP_DETACH, 0, false);
    assert_int_equal(m.state, PS_REQUIRES_PAYMENT_METHOD);
    ok(&m, OP_ATTACH, 0, false);
    ok(&m, OP_ACTION, 0, false);
    ok(&m, OP_UPDATE, 2000, false);
    assert_int_equal(m.state, PS_REQUIRES_ACTION);
    ok(&m, OP_FAIL, 0, false); /* customer declined: back to choosing */
    assert_int_equal(m.state, PS_REQUIRES_PAYMENT_METHOD);
    assert_int_equal(m.amount, 2000);
    assert_int_equal(m.authorized, 0);
    ok(&m, OP_ACTION, 0, false);
    ok(&m, OP_PROCESS, 0, false);
    refused(&m, OP_AUTHORIZE, 2001, false, PAY_E_AMOUNT); /* above the intent */
    refused(&m, OP_SALE, 0, false, PAY_E_AMOUNT);
    ok(&m, OP_SALE, 2000, false);
    assert_int_equal(m.state, PS_SUCCEEDED);
    assert_int_equal(m.captured, 2000);
    assert_int_equal(m.authorized, 2000);
    assert_int_equal(pay_refundable(&m), 2000);
}

static void test_partial_captures_then_final(void **state)
{
    pay_money m = authorized(10000);
    refused(&m, OP_CAPTURE, 0, false, PAY_E_AMOUNT);
    refused(&m, OP_CAPTURE, -5, false, PAY_E_AMOUNT);
    refused(&m, OP_CAPTURE, 10001, false, PAY_E_OVER_CAPTURE);
    refused(&m, OP_RELEASE, 0, false, PAY_E_STATE); /* nothing captured yet: cancel instead */
    ok(&m, OP_CAPTURE, 3000, false);
    assert_int_equal(m.state, PS_REQUIRES_CAPTURE);
    assert_int_equal(pay_capturable(&m), 7000);
    ok(&m, OP_EXTEND, 0, false);
    ok(&m, OP_CAPTURE, 2000, false);
    refused(&m, OP_CAPTURE, 5001, false, PAY_E_OVER_CAPTURE);
    ok(&m, OP_CAPTURE, 1000, true); /* final: the remaining 4000 released */
    assert_int_equal(m.state, PS_SUCCEEDED);
    assert_int_equal(m.captured, 6000);
    assert_int_equal(m.released, 4000);
    assert_int_equal(pay_capturable(&m), 0);
    refused(&m, OP_CAPTURE, 1, false, PAY_E_STATE);
    refused(&m, OP_CANCEL, 0, false, PAY_E_STATE);
    refused(&m, OP_EXTEND, 0, false, PAY_E_STATE);

    /* capturing exactly the rest ends in succeeded without `final` */
    pay_money n = authorized(500);
    ok(&n, OP_CAPTURE, 200, false);
    ok(&n, OP_CAPTURE, 300, false);
    assert_int_equal(n.state, PS_SUCCEEDED);
    assert_int_equal(n.released, 0);

    /* release after a partial capture */
    pay_money r = authorized(500);
    ok(&r, OP_CAPTURE, 200, false);
    ok(&r, OP_RELEASE, 0, false);
    assert_int_equal(r.state, PS_SUCCEEDED);
    assert_int_equal(r.released, 300);
}

static void test_cancel_and_expire(void **state)
{
    pay_money m = authorized(1000);
    ok(&m, OP_CAPTURE, 400, false);
    ok(&m, OP_CANCEL, 0, false); /* partly captured: succeeded, rest released */
    assert_int_equal(m.state, PS_SUCCEEDED);
    assert_int_equal(m.captured, 400);
    assert_int_equal(m.released, 600);

    pay_money v = authorized(1000);
    ok(&v, OP_CANCEL, 0, false); /* void */
    assert_int_equal(v.state, PS_CANCELED);
    assert_int_equal(v.released, 1000);
    for (int op = 0; op < OP__COUNT; op++)
        refused(&v, (pay_op)op, 100, false, PAY_E_STATE); /* terminal for everything */

    pay_money x = authorized(1000);
    ok(&x, OP_EXPIRE, 0, false);
    assert_int_equal(x.state, PS_CANCELED);
    assert_int_equal(x.released, 1000);

    pay_money y = authorized(1000);
    ok(&y, OP_CAPTURE, 999, false);
    ok(&y, OP_EXPIRE, 0, false);
    assert_int_equal(y.state, PS_SUCCEEDED);
    assert_int_equal(y.released, 1);

    pay_money z = {0};
    ok(&z, OP_CREATE, 100, false);
    ok(&z, OP_CANCEL, 0, false);
    assert_int_equal(z.state, PS_CANCELED);
    assert_int_equal(z.released, 0);
}

static void test_refunds(void **state)
{
    pay_money m = authorized(1000);
    ok(&m, OP_CAPTURE, 600, true);
    assert_int_equal(m.state, PS_SUCCEEDED);
    refused(&m, OP_REFUND, 0, false, PAY_E_AMOUNT);
    refused(&m, OP_REFUND, 601, false, PAY_E_OVER_REFUND);
    ok(&m, OP_REFUND, 200, false);
    assert_int_equal(m.refund_pending, 200);
    assert_int_equal(pay_refundable(&m), 400);
    refused(&m, OP_REFUND, 401, false, PAY_E_OVER_REFUND); /* pending counts */
    ok(&m, OP_REFUND, 400, false);
    assert_int_equal(pay_refundable(&m), 0);
    refused(&m, OP_REFUND, 1, false, PAY_E_OVER_REFUND);
    refused(&m, OP_REFUND_SETTLE, 601, false, PAY_E_OVER_REFUND);
    refused(&m, OP_REFUND_SETTLE, 0, false, PAY_E_AMOUNT);
    ok(&m, OP_REFUND_SETTLE, 200, false);
    assert_int_equal(m.refunded, 200);
    assert_int_equal(m.refund_pending, 400);
    ok(&m, OP_REFUND_FAIL, 400, false); /* that one failed: refundable again */
    assert_int_equal(m.refund_pending, 0);
    assert_int_equal(m.refunded, 200);
    assert_int_equal(pay_refundable(&m), 400);
    refused(&m, OP_REFUND_FAIL, 1, false, PAY_E_OVER_REFUND);
    ok(&m, OP_REFUND, 400, false);
    ok(&m, OP_REFUND_SETTLE, 400, false);
    assert_int_equal(m.refunded, 600);
    assert_int_equal(m.state, PS_SUCCEEDED); /* refunds never change the state */
    refused(&m, OP_REFUND, 1, false, PAY_E_OVER_REFUND);

    /* in requires_capture: only what is captured is refundable */
    pay_money c = authorized(1000);
    refused(&c, OP_REFUND, 100, false, PAY_E_NO_CHARGE);
    ok(&c, OP_CAPTURE, 300, false);
    refused(&c, OP_REFUND, 301, false, PAY_E_OVER_REFUND);
    ok(&c, OP_REFUND, 300, false);
    assert_int_equal(c.state, PS_REQUIRES_CAPTURE);
    /* before any money moved the table refuses */
    pay_money n = {0};
    ok(&n, OP_CREATE, 100, false);
    refused(&n, OP_REFUND, 100, false, PAY_E_STATE);
}

static void test_adjust(void **state)
{
    pay_money m = authorized(1000);
    ok(&m, OP_ADJUST, 1500, false); /* raised: the intent follows */
    assert_int_equal(m.authorized, 1500);
    assert_int_equal(m.amount, 1500);
    assert_int_equal(pay_capturable(&m), 1500);
    ok(&m, OP_CAPTURE, 500, false);
    refused(&m, OP_ADJUST, 499, false, PAY_E_ADJUST);
    refused(&m, OP_ADJUST, 0, false, PAY_E_AMOUNT);
    refused(&m, OP_ADJUST, LIMIT_AMOUNT_MAX + 1, false, PAY_E_AMOUNT);
    ok(&m, OP_ADJUST, 800, false); /* lowered */
    assert_int_equal(m.amount, 800);
    assert_int_equal(pay_capturable(&m), 300);
    ok(&m, OP_ADJUST, 500, false); /* down to what is captured: nothing left, done */
    assert_int_equal(m.state, PS_SUCCEEDED);
    assert_int_equal(m.captured, 500);
    refused(&m, OP_ADJUST, 600, false, PAY_E_STATE);
}

static void test_overflow_attempts(void **state)
{
    pay_money m = authorized(LIMIT_AMOUNT_MAX);
    refused(&m, OP_CAPTURE, INT64_MAX, false, PAY_E_OVER_CAPTURE);
    refused(&m, OP_CAPTURE, INT64_MIN, false, PAY_E_AMOUNT);
    ok(&m, OP_CAPTURE, LIMIT_AMOUNT_MAX - 1, false);
    refused(&m, OP_CAPTURE, 2, false, PAY_E_OVER_CAPTURE);
    refused(&m, OP_REFUND, INT64_MAX, false, PAY_E_OVER_REFUND);
    refused(&m, OP_REFUND, INT64_MIN, false, PAY_E_AMOUNT);
    ok(&m, OP_REFUND, LIMIT_AMOUNT_MAX - 1, false);
    refused(&m, OP_REFUND_SETTLE, INT64_MAX, false, PAY_E_OVER_REFUND);
    refused(&m, OP_REFUND_FAIL, INT64_MIN, false, PAY_E_AMOUNT);
    refused(&m, OP_ADJUST, INT64_MAX, false, PAY_E_AMOUNT);
    ok(&m, OP_CAPTURE, 1, false);
    assert_int_equal(m.state, PS_SUCCEEDED);
    assert_int_equal(m.captured, LIMIT_AMOUNT_MAX);
}

static void test_check(void **state)
{
    pay_money good = {PS_REQUIRES_CAPTURE, 1000, 1000, 400, 0, 100, 200};
    assert_true(pay_check(&good));
    pay_money zero = {0};
    assert_true(pay_check(&zero));

    pay_money bad[] = {
        {PS_REQUIRES_CAPTURE, 1000, 1000, 1001, 0, 0, 0}, /* captured > authorized */
        {PS_REQUIRES_CAPTURE, 900, 1000, 0, 0, 0, 0},     /* authorized > amount */
        {PS_SUCCEEDED, 1000, 1000, 600, 500, 0, 0},       /* captured + released > auth */
        {PS_SUCCEEDED, 1000, 1000, 1000, 0, 600, 500},    /* refunds > captured */
        {PS_REQUIRES_CAPTURE, -1, 0, 0, 0, 0, 0},         /* negative */
        {PS_SUCCEEDED, 1000, 1000, 1000, 0, -1, 0},       /* negative refunded */
        {PS_REQUIRES_PAYMENT_METHOD, LIMIT_AMOUNT_MAX + 1, 0, 0, 0, 0, 0}, /* above max */
        {PS__COUNT, 0, 0, 0, 0, 0, 0},                                     /* no such state */
        {PS_REQUIRES_ACTION, 1000, 500, 0, 0, 0, 0},             /* money before authorisation */
        {PS_REQUIRES_CAPTURE, 1000, 1000, 1000, 0, 0, 0},        /* nothing capturable */
        {PS_SUCCEEDED, 1000, 1000, 500, 0, 0, 0},                /* still capturable */
        {PS_CANCELED, 1000, 1000, 500, 500, 0, 0},               /* canceled yet captured */
        {PS_REQUIRES_CAPTURE, INT64_MAX, INT64_MAX, 0, 0, 0, 0}, /* above max */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (pay_check(&bad[i]))
            fail_msg("bad[%zu] passed pay_check", i);
}

/* pay_apply asserts pay_check on entry: a broken snapshot must crash, not fold. */
static void test_assert_on_entry(void **state)
{
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(2);
        pay_money m = {PS_REQUIRES_CAPTURE, 1000, 1000, 2000, 0, 0, 0};
        pay_entry e = {OP_EXTEND, 0, false};
        pay_apply(&m, &e);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_every_pair),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_create_and_attempts),
        cmocka_unit_test(test_partial_captures_then_final),
        cmocka_unit_test(test_cancel_and_expire),
        cmocka_unit_test(test_refunds),
        cmocka_unit_test(test_adjust),
        cmocka_unit_test(test_overflow_attempts),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_assert_on_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
