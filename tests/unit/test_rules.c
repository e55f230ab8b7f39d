/*
 * test_rules.c - method rules as data: the built-in defaults, every kind of
 * refusal with its message, conversions to the limit currency, the listing the
 * hosted page shows, overrides, and parse errors naming their line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "domain/money.h"
#include "domain/rules.h"

static int setup(void **state)
{
    static rules_table t;
    rules_init_default(&t);
    *state = &t;
    return 0;
}

static void expect_ok(const rules_table *t, const char *method, const char *cur,
                      const char *country, int64_t amount)
{
    rule_refusal why;
    rule_param p = rules_check(t, method, cur, country, amount, &why);
    if (p != RULE_OK)
        fail_msg("%s %s %s %lld refused: %s", method, cur, country ? country : "-",
                 (long long)amount, why.message);
}

static void expect_refusal(const rules_table *t, const char *method, const char *cur,
                           const char *country, int64_t amount, rule_param param,
                           const char *message)
{
    rule_refusal why;
    assert_int_equal(rules_check(t, method, cur, country, amount, &why), param);
    assert_int_equal(why.param, param);
    assert_string_equal(why.message, message);
}

static void test_defaults(void **state)
{
    const rules_table *t = *state;
    const rule_method *now = rules_method_find(t, "klarna_pay_now");
    const rule_method *later = rules_method_find(t, "klarna_pay_later");
    const rule_method *generic = rules_method_find(t, "klarna");
    const rule_method *ali = rules_method_find(t, "alipay");
    assert_non_null(now);
    assert_non_null(later);
    assert_non_null(generic);
    assert_non_null(ali);
    assert_null(rules_method_find(t, "sofort"));
    assert_null(rules_method_find(t, NULL));

    assert_string_equal(now->provider, "klarna");
    assert_string_equal(now->label, "Klarna Pay Now");
    assert_int_equal(now->min_amount, 100);
    assert_int_equal(now->max_amount, 500000);
    assert_string_equal(now->limit_currency, "EUR");
    assert_int_equal(now->attempt_ttl_s, 48 * 3600);
    assert_false(now->manual_capture);
    assert_int_equal(now->currencies_len, 3);
    assert_int_equal(now->countries_len, 9);

    assert_true(later->manual_capture);
    assert_true(later->local_currency);
    assert_int_equal(later->auth_ttl_s, 28 * 86400);
    assert_int_equal(later->auth_max_s, 180 * 86400);
    assert_int_equal(later->max_amount, 1000000);
    assert_true(generic->manual_capture);

    assert_string_equal(ali->provider, "alipay");
    assert_int_equal(ali->attempt_ttl_s, 14 * 60);
    assert_string_equal(ali->limit_currency, "USD");
    assert_int_equal(ali->min_amount, 1);
    assert_int_equal(ali->max_amount, 1000000);
    assert_true(ali->any_country);
    assert_int_equal(ali->currencies_len, 14);
    assert_true(ali->enabled);
}

static void test_accepts(void **state)
{
    const rules_table *t = *state;
    expect_ok(t, "klarna_pay_now", "EUR", "DE", 100);
    expect_ok(t, "klarna_pay_now", "EUR", "DE", 500000);
    expect_ok(t, "klarna_pay_now", "eur", "de", 2500);
    expect_ok(t, "klarna_pay_now", "GBP", "GB", 10000);
    expect_ok(t, "klarna_pay_now", "PLN", "PL", 10000);
    expect_ok(t, "klarna_pay_now", "EUR", NULL, 2500); /* country not known yet */
    expect_ok(t, "klarna_pay_later", "SEK", "SE", 50000);
    expect_ok(t, "klarna_pay_later", "EUR", "FI", 50000);
    expect_ok(t, "klarna", "USD", "US", 50000);
    expect_ok(t, "alipay", "CNY", "CN", 100);
    expect_ok(t, "alipay", "JPY", "JP", 5000);
    expect_ok(t, "alipay", "USD", "", 1);
    expect_ok(t, "alipay", "USD", "US", 1000000);
}

static void test_refusals(void **state)
{
    const rules_table *t = *state;
    expect_refusal(t, "sofort", "EUR", "DE", 100, RULE_E_METHOD, "unknown payment method 'sofort'");
    expect_refusal(t, "klarna_pay_now", "USD", "DE", 100, RULE_E_CURRENCY,
                   "Klarna Pay Now does not support currency USD");
    expect_refusal(t, "klarna_pay_now", "XYZ", "DE", 100, RULE_E_CURRENCY,
                   "unknown currency 'XYZ'");
    expect_refusal(t, "klarna_pay_now", "EUR", "FR", 100, RULE_E_COUNTRY,
                   "Klarna Pay Now is not available in country FR");
    expect_refusal(t, "klarna_pay_now", "EUR", "D1", 100, RULE_E_COUNTRY, "unknown country 'D1'");
    expect_refusal(t, "klarna_pay_later", "EUR", "SE", 5000, RULE_E_CURRENCY,
                   "Klarna Pay Later in country SE requires currency SEK (EUR given)");
    expect_refusal(t, "klarna", "GBP", "DE", 5000, RULE_E_CURRENCY,
                   "Klarna in country DE requires currency EUR (GBP given)");
    expect_refusal(t, "klarna_pay_later", "EUR", "JP", 5000, RULE_E_COUNTRY,
                   "Klarna Pay Later is not available in country JP");
    expect_refusal(t, "alipay", "SEK", "SE", 5000, RULE_E_CURRENCY,
                   "Alipay+ does not support currency SEK");
    expect_refusal(t, "klarna_pay_now", "EUR", "DE", 0, RULE_E_AMOUNT, "amount must be positive");
    expect_refusal(t, "klarna_pay_now", "EUR", "DE", 99, RULE_E_AMOUNT,
                   "amount must be at least 1.00 EUR (0.99 EUR given)");
    expect_refusal(t, "klarna_pay_now", "EUR", "DE", 500001, RULE_E_AMOUNT,
                   "amount must be at most 5000.00 EUR (5000.01 EUR given)");
}

static void test_conversions(void **state)
{
    const rules_table *t = *state;
    /* GBP 0.85 * 1.17 = 0.9945 EUR -> 0.99 EUR: below Pay Now's minimum */
    expect_refusal(t, "klarna_pay_now", "GBP", "GB", 85, RULE_E_AMOUNT,
                   "amount must be at least 1.00 EUR (0.85 GBP given = 0.99 EUR at rate 1.17)");
    expect_ok(t, "klarna_pay_now", "GBP", "GB", 86); /* 1.0062 -> 1.01 EUR */
    /* 4274 GBP = 5000.58 EUR: above; 4273.50 GBP = 4999.995 -> 5000.00 (tie, even) */
    expect_refusal(t, "klarna_pay_now", "GBP", "GB", 427400, RULE_E_AMOUNT,
                   "amount must be at most 5000.00 EUR (4274.00 GBP given = 5000.58 EUR at rate "
                   "1.17)");
    expect_ok(t, "klarna_pay_now", "GBP", "GB", 427350);
    /* Pay Later, US in USD, limit 10000 EUR: 11363.64 USD = 10000.0032 EUR ok, .65 above */
    expect_ok(t, "klarna_pay_later", "USD", "US", 1136364);
    expect_refusal(t, "klarna_pay_later", "USD", "US", 1136400, RULE_E_AMOUNT,
                   "amount must be at most 10000.00 EUR (11364.00 USD given = 10000.32 EUR at "
                   "rate 0.88)");
    /* Alipay limits are in USD: EUR goes through the inverse of USD->EUR */
    int64_t r = 0;
    assert_int_equal(rules_rate(t, "EUR", "USD", &r), K_OK);
    assert_int_equal(r, 1136363636); /* 1 / 0.88 to 9 decimals, half even */
    assert_int_equal(rules_rate(t, "USD", "EUR", &r), K_OK);
    assert_int_equal(r, 880000000);
    assert_int_equal(rules_rate(t, "EUR", "EUR", &r), K_OK);
    assert_int_equal(r, RATE_SCALE);
    /* JPY -> USD through EUR: 0.0059 * 1.136363636 = 0.006704545 */
    assert_int_equal(rules_rate(t, "JPY", "USD", &r), K_OK);
    assert_int_equal(r, 6704545);
    assert_int_equal(rules_rate(t, "JPY", "VND", &r), K_ENOTFOUND);
    /* 1 JPY = 0.0067 USD -> 0.01 USD: the minimum; 1500000 JPY = 10056.82 USD: above */
    expect_ok(t, "alipay", "JPY", "JP", 1);
    expect_refusal(t, "alipay", "JPY", "JP", 1500000, RULE_E_AMOUNT,
                   "amount must be at most 10000.00 USD (1500000 JPY given = 10056.82 USD at "
                   "rate 0.006704545)");
    expect_refusal(t, "alipay", "EUR", "DE", 880001, RULE_E_AMOUNT,
                   "amount must be at most 10000.00 USD (8800.01 EUR given = 10000.01 USD at "
                   "rate 1.136363636)");
    /* the seed's example: USD 1.00 -> EUR 0.88 is below 1.00 EUR */
    rules_table u;
    char err[LIMIT_RULE_MESSAGE_MAX];
    rules_init_default(&u);
    const char *txt = "method name=usd_now provider=klarna label=\"Test\" currencies=USD "
                      "countries=* limit_currency=EUR min=1.00 max=10.00 attempt_ttl=1h\n";
    assert_int_equal(rules_load(&u, txt, strlen(txt), err), K_OK);
    expect_refusal(&u, "usd_now", "USD", "US", 100, RULE_E_AMOUNT,
                   "amount must be at least 1.00 EUR (1.00 USD given = 0.88 EUR at rate 0.88)");
}

static void test_available(void **state)
{
    const rules_table *t = *state;
    const rule_method *out[LIMIT_RULE_METHODS_MAX];
    size_t n = rules_available(t, "EUR", "DE", 2500, out, K_ARRAY_LEN(out));
    assert_int_equal(n, 4);
    assert_string_equal(out[0]->name, "klarna_pay_now");
    assert_string_equal(out[1]->name, "klarna_pay_later");
    assert_string_equal(out[2]->name, "klarna");
    assert_string_equal(out[3]->name, "alipay");

    n = rules_available(t, "SEK", "SE", 2500, out, K_ARRAY_LEN(out));
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->name, "klarna_pay_later");
    assert_string_equal(out[1]->name, "klarna");

    n = rules_available(t, "CNY", "CN", 2500, out, K_ARRAY_LEN(out));
    assert_int_equal(n, 1);
    assert_string_equal(out[0]->name, "alipay");

    n = rules_available(t, "EUR", "DE", 600000, out, K_ARRAY_LEN(out)); /* above Pay Now */
    assert_int_equal(n, 3);
    assert_string_equal(out[0]->name, "klarna_pay_later");

    n = rules_available(t, "EUR", "FR", 2500, out, K_ARRAY_LEN(out));
    assert_int_equal(n, 3); /* no Pay Now in FR */

    assert_int_equal(rules_available(t, "SEK", "JP", 2500, out, K_ARRAY_LEN(out)), 0);
    assert_int_equal(rules_available(t, "EUR", "DE", 0, out, K_ARRAY_LEN(out)), 0);
    /* cap smaller than the count: count still returned, only cap written */
    out[1] = NULL;
    assert_int_equal(rules_available(t, "EUR", "DE", 2500, out, 1), 4);
    assert_null(out[1]);
}

static void test_override(void **state)
{
    rules_table t;
    char err[LIMIT_RULE_MESSAGE_MAX];
    rules_init_default(&t);
    const char *txt = "# merchant override\n"
                      "\n"
                      "rate USD EUR 0.5   # a cheap dollar\n"
                      "method name=alipay provider=alipay label=\"Alipay+\" currencies=USD\t"
                      "countries=CN,HK limit_currency=USD min=5.00 max=50.00 attempt_ttl=10m "
                      "enabled=yes\r\n"
                      "method name=klarna_pay_now provider=klarna label=\"Klarna Pay Now\" "
                      "currencies=EUR countries=DE limit_currency=EUR min=1 max=2 attempt_ttl=1d "
                      "enabled=no\n";
    assert_int_equal(rules_load(&t, txt, strlen(txt), err), K_OK);
    assert_string_equal(err, "");
    assert_int_equal(t.methods_len, 4); /* replaced, not added */
    const rule_method *ali = rules_method_find(&t, "alipay");
    assert_int_equal(ali->attempt_ttl_s, 600);
    assert_int_equal(ali->min_amount, 500);
    expect_refusal(&t, "alipay", "USD", "US", 1000, RULE_E_COUNTRY,
                   "Alipay+ is not available in country US");
    expect_ok(&t, "alipay", "USD", "HK", 1000);
    expect_refusal(&t, "klarna_pay_now", "EUR", "DE", 150, RULE_E_METHOD,
                   "Klarna Pay Now is not enabled");
    const rule_method *out[8];
    assert_int_equal(rules_available(&t, "EUR", "DE", 150, out, 8), 2); /* later + klarna */
    /* the overridden rate is used */
    int64_t r = 0;
    assert_int_equal(rules_rate(&t, "USD", "EUR", &r), K_OK);
    assert_int_equal(r, 500000000);
    expect_ok(&t, "klarna_pay_later", "USD", "US", 2000001); /* 10000.005 -> 10000.00 (even) */
    expect_refusal(&t, "klarna_pay_later", "USD", "US", 2000003, RULE_E_AMOUNT,
                   "amount must be at most 10000.00 EUR (20000.03 USD given = 10000.02 EUR at "
                   "rate 0.5)");
}

static void test_parse_errors(void **state)
{
    static const struct {
        const char *text;
        k_status st;
        const char *err;
    } cases[] = {
        {"rate USD EUR 0.88\nbogus line\n", K_EINVAL,
         "line 2: unknown line 'bogus' (expected method, rate or country)"},
        {"\n\n# c\nrate USD EUR\n", K_EINVAL, "line 4: expected: rate FROM TO VALUE"},
        {"rate USD XXX 1\n", K_EINVAL, "line 1: unknown currency 'XXX'"},
        {"rate USD USD 1\n", K_EINVAL, "line 1: rate from USD to itself"},
        {"rate USD EUR -1\n", K_EINVAL, "line 1: bad rate '-1' (positive, at most 9 decimals)"},
        {"rate USD EUR 0\n", K_EINVAL, "line 1: bad rate '0' (positive, at most 9 decimals)"},
        {"country SEX SEK\n", K_EINVAL, "line 1: bad country code 'SEX'"},
        {"country SE\n", K_EINVAL, "line 1: expected: country CC CURRENCY"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=1 max=2 attempt_ttl=1h colour=red\n",
         K_EINVAL, "line 1: unknown key 'colour'"},
        {"#\nmethod name=x provider=y label=\"X\" currencies=EUR countries=* "
         "limit_currency=EUR min=1 max=2\n",
         K_EINVAL, "line 2: missing key 'attempt_ttl'"},
        {"method name=x name=y\n", K_EINVAL, "line 1: key 'name' given twice"},
        {"method name=X\n", K_EINVAL, "line 1: name must be 1 to 31 of [a-z0-9_]"},
        {"method label=\"open\n", K_EINVAL, "line 1: unterminated quote"},
        {"method name=x provider=y label=\"X\" currencies=EUR,,GBP\n", K_EINVAL,
         "line 1: unknown currency ''"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=1.001 max=2 attempt_ttl=1h\n",
         K_EINVAL, "line 1: min '1.001' is not an amount in EUR"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=3 max=2 attempt_ttl=1h\n",
         K_EINVAL, "line 1: need 0 < min <= max"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=1 max=2 attempt_ttl=1w\n",
         K_EINVAL, "line 1: attempt_ttl must be a number with unit s, m, h or d, not '1w'"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=1 max=2 attempt_ttl=1h manual_capture=yes\n",
         K_EINVAL, "line 1: manual_capture=yes needs auth_ttl"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=* limit_currency=EUR "
         "min=1 max=2 attempt_ttl=1h manual_capture=maybe\n",
         K_EINVAL, "line 1: manual_capture must be yes or no, not 'maybe'"},
        {"\n\n\nmethod name=x provider=y label=\"X\" currencies=EUR,VND countries=* "
         "limit_currency=EUR min=1 max=2 attempt_ttl=1h\n",
         K_EINVAL, "line 4: method 'x': no rate from VND to EUR"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=DE,JP local_currency=yes "
         "limit_currency=EUR min=1 max=2 attempt_ttl=1h\n",
         K_EINVAL, "line 1: method 'x': no 'country JP' line for local_currency"},
        {"method name=x provider=y label=\"X\" currencies=EUR countries=DE,SE local_currency=yes "
         "limit_currency=EUR min=1 max=2 attempt_ttl=1h\n",
         K_EINVAL, "line 1: method 'x': SE's currency SEK is not in currencies"},
        {"rate USD EUR 0.88\x01\n", K_EINVAL, "line 1: control character 0x01"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rules_table t;
        char err[LIMIT_RULE_MESSAGE_MAX];
        rules_init_default(&t);
        rules_table before = t;
        k_status st = rules_load(&t, cases[i].text, strlen(cases[i].text), err);
        if (st != cases[i].st || strcmp(err, cases[i].err) != 0)
            fail_msg("case %zu: status %d, err '%s', want '%s'", i, st, err, cases[i].err);
        assert_memory_equal(&t, &before, sizeof t); /* all or nothing */
    }
}

static void test_limits(void **state)
{
    static char big[LIMIT_RULES_TEXT_MAX + 2];
    rules_table t;
    char err[LIMIT_RULE_MESSAGE_MAX];
    rules_init(&t);
    memset(big, '#', sizeof big - 1);
    assert_int_equal(rules_load(&t, big, sizeof big - 1, err), K_ETOOBIG);
    /* one line too long */
    memset(big, ' ', LIMIT_RULES_LINE_MAX + 1);
    big[LIMIT_RULES_LINE_MAX + 1] = '\n';
    assert_int_equal(rules_load(&t, big, LIMIT_RULES_LINE_MAX + 2, err), K_ETOOBIG);
    assert_string_equal(err, "line 1: longer than 1024 bytes");
    /* more methods than the table holds */
    char text[LIMIT_RULE_METHODS_MAX * 160 + 160];
    size_t len = 0;
    for (int i = 0; i <= LIMIT_RULE_METHODS_MAX; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "method name=m%d provider=p label=\"M\" currencies=EUR "
                                "countries=* limit_currency=EUR min=1 max=2 attempt_ttl=1h\n",
                                i);
    assert_int_equal(rules_load(&t, text, len, err), K_ETOOBIG);
    assert_string_equal(err, "line 17: more than 16 methods");
    assert_int_equal(t.methods_len, 0);
    /* empty text is fine and changes nothing */
    assert_int_equal(rules_load(&t, "", 0, err), K_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_accepts, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_conversions, setup),
        cmocka_unit_test_setup(test_available, setup),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
