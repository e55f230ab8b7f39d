/*
 * test_dispatch.c - the webhook retry schedule (gw_delivery_next_ms): a
 * receiver that never answers is tried until three days after the event, the
 * last try on the horizon itself; one that is back after 60 hours gets its
 * event within the longest backoff; nothing is tried past the horizon.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "gateway/gw_int.h"

#define H_MS           (3600LL * 1000)
#define HORIZON_MS     ((int64_t)LIMIT_WEBHOOK_HORIZON_S * 1000)
#define BACKOFF_MAX_MS ((int64_t)LIMIT_WEBHOOK_BACKOFF_MAX_S * 1000)

/* Fails every attempt from `created`; returns the number of attempts made and
 * the time of the last one. */
static int32_t fail_forever(int64_t created, int64_t *last)
{
    int64_t now = created;
    int32_t attempts = 0;
    for (;;) {
        attempts++;
        *last = now;
        int64_t next = gw_delivery_next_ms(created, attempts, now);
        if (next == 0)
            return attempts;
        assert_true(next > now);
        assert_true(next <= created + HORIZON_MS);
        now = next;
    }
}

static void test_tries_for_three_days(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) { /* the jitter differs each round */
        int64_t created = 1700000000000LL + round * 7919;
        int64_t last = 0;
        int32_t attempts = fail_forever(created, &last);
        assert_int_equal(last, created + HORIZON_MS);
        assert_true(attempts >= 20);
        assert_true(attempts < LIMIT_WEBHOOK_ATTEMPTS_MAX);
        if (round == 0)
            printf("webhook schedule: %d attempts, the last %lld h after the event\n", attempts,
                   (long long)((last - created) / H_MS));
    }
}

/* The receiver is down for 60 h: the first attempt after that comes within the
 * longest backoff (+10 % jitter), well before the horizon. */
static void test_receiver_back_after_60h(void **state)
{
    (void)state;
    int64_t created = 1700000000000LL;
    int64_t back = created + 60 * H_MS;
    int64_t now = created;
    int32_t attempts = 0;
    while (now < back) {
        attempts++;
        int64_t next = gw_delivery_next_ms(created, attempts, now);
        assert_true(next != 0);
        now = next;
    }
    assert_true(now - back <= BACKOFF_MAX_MS + BACKOFF_MAX_MS / 10);
    assert_true(now <= created + HORIZON_MS);
}

static void test_nothing_past_the_horizon(void **state)
{
    (void)state;
    int64_t created = 1700000000000LL;
    assert_int_equal(gw_delivery_next_ms(created, 3, created + HORIZON_MS), 0);
    assert_int_equal(gw_delivery_next_ms(created, 3, created + HORIZON_MS + 1), 0);
    assert_int_equal(gw_delivery_next_ms(created, 1, created + HORIZON_MS - 1),
                     created + HORIZON_MS);
    assert_int_equal(gw_delivery_next_ms(created, LIMIT_WEBHOOK_ATTEMPTS_MAX, created), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tries_for_three_days),
        cmocka_unit_test(test_receiver_back_after_60h),
        cmocka_unit_test(test_nothing_past_the_horizon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
