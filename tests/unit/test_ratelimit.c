/*
 * test_ratelimit.c - the token buckets of src/server/ratelimit.c: burst, refill
 * on a given clock, Retry-After, independent keys, a table full of other keys
 * (bounded memory, the oldest bucket replaced), and the "off" limiter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "server/ratelimit.h"
#include "limits.h"

static void test_burst_then_refill(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(60 * 10, 5); /* 10/s, burst 5 */
    assert_non_null(rl);
    int64_t wait = -1;
    for (int i = 0; i < 5; i++)
        assert_true(rl_take(rl, "m1", 1000, &wait));
    assert_false(rl_take(rl, "m1", 1000, &wait));
    assert_int_equal(wait, 1);
    assert_false(rl_peek(rl, "m1", 1050, &wait)); /* half a token */
    assert_true(rl_peek(rl, "m1", 1100, &wait));  /* one token after 100 ms */
    assert_true(rl_take(rl, "m1", 1100, &wait));
    assert_false(rl_take(rl, "m1", 1100, &wait));
    assert_true(rl_take(rl, "other", 1100, &wait)); /* its own bucket */
    /* a long pause refills to the burst, not beyond */
    int n = 0;
    while (rl_take(rl, "m1", 1000000, &wait))
        n++;
    assert_int_equal(n, 5);
    rl_free(rl);
}

static void test_slow_refill_retry_after(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(6, 2); /* 6 a minute: one every 10 s */
    int64_t wait = 0;
    assert_true(rl_take(rl, "1.2.3.4", 0, &wait));
    assert_true(rl_take(rl, "1.2.3.4", 0, &wait));
    assert_false(rl_take(rl, "1.2.3.4", 0, &wait));
    assert_int_equal(wait, 10);
    assert_false(rl_peek(rl, "1.2.3.4", 9999, &wait));
    assert_int_equal(wait, 1);
    assert_true(rl_peek(rl, "1.2.3.4", 10000, &wait));
    rl_free(rl);
}

static void test_table_bounded(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(60, 1);
    int64_t wait;
    assert_true(rl_take(rl, "victim", 0, &wait));
    assert_false(rl_take(rl, "victim", 0, &wait));
    /* far more keys than the table holds: memory stays fixed, no crash */
    char key[32];
    for (int i = 0; i < 4 * LIMIT_RATELIMIT_KEYS_MAX; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(rl_take(rl, key, 1 + i / 1000, &wait));
    }
    /* the victim was the oldest entry and may have been replaced: it starts full again */
    (void)rl_take(rl, "victim", 100, &wait);
    rl_free(rl);
}

static void test_off(void **state)
{
    (void)state;
    assert_null(rl_new(0, 10));
    assert_null(rl_new(10, 0));
    int64_t wait = 7;
    for (int i = 0; i < 1000; i++)
        assert_true(rl_take(NULL, "m", 0, &wait));
    assert_int_equal(wait, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_slow_refill_retry_after),
        cmocka_unit_test(test_table_bounded),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
