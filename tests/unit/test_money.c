/*
 * test_money.c - currencies, checked arithmetic, rates, conversion (half to
 * even, exponent differences), decimal text and per-locale formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "domain/money.h"

static const currency_info *cur(const char *code)
{
    const currency_info *c = currency_find(code);
    assert_non_null(c);
    return c;
}

static void test_exponents(void **state)
{
    static const char *zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                 "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char *three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
    static const char *two[] = {"EUR", "USD", "GBP", "SEK", "PLN", "CHF", "HUF", "TWD", "CNY",
                                "IDR", "AUD", "HKD", "MXN", "RON", "CZK", "NOK", "DKK"};
    for (size_t i = 0; i < sizeof zero / sizeof *zero; i++)
        assert_int_equal(cur(zero[i])->exponent, 0);
    for (size_t i = 0; i < sizeof three / sizeof *three; i++)
        assert_int_equal(cur(three[i])->exponent, 3);
    for (size_t i = 0; i < sizeof two / sizeof *two; i++)
        assert_int_equal(cur(two[i])->exponent, 2);
    assert_int_equal(cur("CLF")->exponent, 4);
    assert_int_equal(cur("EUR")->numeric, 978);
    assert_int_equal(cur("JPY")->numeric, 392);
    assert_int_equal(cur("KWD")->numeric, 414);
    assert_int_equal(cur("USD")->numeric, 840);
}

static void test_find(void **state)
{
    assert_ptr_equal(currency_find("eur"), currency_find("EUR"));
    assert_ptr_equal(currency_find("Sek"), currency_find("SEK"));
    assert_string_equal(currency_find("gbp")->code, "GBP");
    assert_null(currency_find("XYZ"));
    assert_null(currency_find("EU"));
    assert_null(currency_find("EURO"));
    assert_null(currency_find(""));
    assert_null(currency_find(NULL));
    assert_null(currency_find("XAU")); /* metals have no minor unit */
    /* first and last of the table are found (binary search edges) */
    assert_non_null(currency_find("AED"));
    assert_non_null(currency_find("ZWG"));

    char out[4];
    currency_lower("EUR", out);
    assert_string_equal(out, "eur");
    currency_upper("sek", out);
    assert_string_equal(out, "SEK");
}

static void test_arith(void **state)
{
    int64_t r = 0;
    assert_true(money_add(1, 2, &r));
    assert_int_equal(r, 3);
    assert_false(money_add(INT64_MAX, 1, &r));
    assert_false(money_add(INT64_MIN, -1, &r));
    assert_true(money_sub(5, 7, &r));
    assert_int_equal(r, -2);
    assert_false(money_sub(INT64_MIN, 1, &r));
    assert_false(money_sub(0, INT64_MIN, &r));
    assert_true(money_mul(123456789, 1000, &r));
    assert_int_equal(r, 123456789000LL);
    assert_false(money_mul(INT64_MAX / 2 + 1, 2, &r));
    assert_false(money_mul(-1, INT64_MIN, &r));
}

static void test_rate_parse(void **state)
{
    int64_t r = 0;
    assert_int_equal(money_rate_parse("0.88", &r), K_OK);
    assert_int_equal(r, 880000000);
    assert_int_equal(money_rate_parse("1", &r), K_OK);
    assert_int_equal(r, RATE_SCALE);
    assert_int_equal(money_rate_parse("1.0850", &r), K_OK);
    assert_int_equal(r, 1085000000);
    assert_int_equal(money_rate_parse("0.000000001", &r), K_OK);
    assert_int_equal(r, 1);
    assert_int_equal(money_rate_parse("151.25", &r), K_OK);
    assert_int_equal(r, 151250000000LL);
    assert_int_equal(money_rate_parse("0.1234567890", &r), K_OK); /* trailing zero is exact */
    assert_int_equal(r, 123456789);

    static const char *bad[] = {"",    "0",   "0.0", "-1", "+1",  "1.",           ".5",
                                "1,5", "1e3", " 1",  "1 ", "abc", "0.0000000001", "1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = 42;
        assert_int_not_equal(money_rate_parse(bad[i], &r), K_OK);
        assert_int_equal(r, 42);
    }
    assert_int_not_equal(money_rate_parse(NULL, &r), K_OK);
    assert_int_equal(money_rate_parse("99999999999", &r), K_ETOOBIG);
}

static void test_convert(void **state)
{
    int64_t out = 0;
    /* the seed's example: 1.00 USD at 0.88 is 0.88 EUR */
    assert_int_equal(money_convert(100, cur("USD"), cur("EUR"), 880000000, &out), K_OK);
    assert_int_equal(out, 88);
    /* identity */
    assert_int_equal(money_convert(123456, cur("EUR"), cur("EUR"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 123456);
    /* exponent up: 1.00 EUR at 160 JPY/EUR = 160 JPY; exponent down: 1000 JPY at 0.0059 */
    assert_int_equal(money_convert(100, cur("EUR"), cur("JPY"), 160 * RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 160);
    assert_int_equal(money_convert(1000, cur("JPY"), cur("EUR"), 5900000, &out), K_OK);
    assert_int_equal(out, 590);
    /* to three decimals: 1.00 EUR at 0.33 KWD = 0.330 KWD */
    assert_int_equal(money_convert(100, cur("EUR"), cur("KWD"), 330000000, &out), K_OK);
    assert_int_equal(out, 330);
    /* from three decimals down to zero: 1.500 KWD at 1 = 2 (1.5 -> 2, even) */
    assert_int_equal(money_convert(1500, cur("KWD"), cur("JPY"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 2);
    assert_int_equal(money_convert(2500, cur("KWD"), cur("JPY"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 2);
}

static void test_convert_half_even(void **state)
{
    int64_t out = 0;
    /* rate 0.5: exact halves round to the even neighbour */
    static const struct {
        int64_t in, want;
    } halves[] = {{1, 0}, {3, 2}, {5, 2}, {7, 4}, {9, 4}, {11, 6}, {-1, 0}, {-3, -2}, {-5, -2}};
    for (size_t i = 0; i < sizeof halves / sizeof *halves; i++) {
        assert_int_equal(money_convert(halves[i].in, cur("EUR"), cur("EUR"), RATE_SCALE / 2, &out),
                         K_OK);
        assert_int_equal(out, halves[i].want);
    }
    /* not a tie: 0.500000001 rounds up, 0.499999999 down */
    assert_int_equal(money_convert(1, cur("EUR"), cur("EUR"), 500000001, &out), K_OK);
    assert_int_equal(out, 1);
    assert_int_equal(money_convert(1, cur("EUR"), cur("EUR"), 499999999, &out), K_OK);
    assert_int_equal(out, 0);
    /* ties from an exponent difference: 250 (2.50 EUR) -> JPY at 1 = 2; 350 -> 4 */
    assert_int_equal(money_convert(250, cur("EUR"), cur("JPY"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 2);
    assert_int_equal(money_convert(350, cur("EUR"), cur("JPY"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, 4);
    assert_int_equal(money_convert(-350, cur("EUR"), cur("JPY"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, -4);
    /* 0.125 rate on 4 minor -> 0.5 -> 0; on 12 -> 1.5 -> 2 */
    assert_int_equal(money_convert(4, cur("USD"), cur("EUR"), 125000000, &out), K_OK);
    assert_int_equal(out, 0);
    assert_int_equal(money_convert(12, cur("USD"), cur("EUR"), 125000000, &out), K_OK);
    assert_int_equal(out, 2);
}

static void test_convert_limits(void **state)
{
    int64_t out = 7;
    /* intermediate beyond 64 bits is exact: INT64_MAX at 1.0 stays */
    assert_int_equal(money_convert(INT64_MAX, cur("EUR"), cur("EUR"), RATE_SCALE, &out), K_OK);
    assert_int_equal(out, INT64_MAX);
    out = 7;
    assert_int_equal(money_convert(INT64_MAX, cur("EUR"), cur("EUR"), 2 * RATE_SCALE, &out),
                     K_ETOOBIG);
    assert_int_equal(out, 7);
    assert_int_equal(money_convert(INT64_MAX, cur("JPY"), cur("CLF"), INT64_MAX, &out), K_ETOOBIG);
    assert_int_equal(money_convert(INT64_MIN, cur("EUR"), cur("EUR"), 2 * RATE_SCALE, &out),
                     K_ETOOBIG);
    assert_int_equal(money_convert(100, cur("EUR"), cur("USD"), 0, &out), K_EINVAL);
    assert_int_equal(money_convert(100, cur("EUR"), cur("USD"), -5, &out), K_EINVAL);
    assert_int_equal(out, 7);
}

static void test_decimal(void **state)
{
    char b[32];
    money_decimal(123456, cur("EUR"), b, sizeof b);
    assert_string_equal(b, "1234.56");
    money_decimal(123456, cur("JPY"), b, sizeof b);
    assert_string_equal(b, "123456");
    money_decimal(1234, cur("KWD"), b, sizeof b);
    assert_string_equal(b, "1.234");
    money_decimal(5, cur("EUR"), b, sizeof b);
    assert_string_equal(b, "0.05");
    money_decimal(0, cur("EUR"), b, sizeof b);
    assert_string_equal(b, "0.00");
    money_decimal(-5, cur("EUR"), b, sizeof b);
    assert_string_equal(b, "-0.05");
    money_decimal(INT64_MIN, cur("EUR"), b, sizeof b);
    assert_string_equal(b, "-92233720368547758.08");
    money_decimal(12345, cur("CLF"), b, sizeof b);
    assert_string_equal(b, "1.2345");
}

static void test_parse_decimal(void **state)
{
    int64_t v = 0;
    assert_int_equal(money_parse_decimal("1234.56", cur("EUR"), &v), K_OK);
    assert_int_equal(v, 123456);
    assert_int_equal(money_parse_decimal("1234.5", cur("EUR"), &v), K_OK);
    assert_int_equal(v, 123450);
    assert_int_equal(money_parse_decimal("12", cur("EUR"), &v), K_OK);
    assert_int_equal(v, 1200);
    assert_int_equal(money_parse_decimal("0.01", cur("EUR"), &v), K_OK);
    assert_int_equal(v, 1);
    assert_int_equal(money_parse_decimal("123456", cur("JPY"), &v), K_OK);
    assert_int_equal(v, 123456);
    assert_int_equal(money_parse_decimal("100.00", cur("JPY"), &v), K_OK); /* zeros are exact */
    assert_int_equal(v, 100);
    assert_int_equal(money_parse_decimal("1.234", cur("KWD"), &v), K_OK);
    assert_int_equal(v, 1234);
    assert_int_equal(money_parse_decimal("-5.10", cur("EUR"), &v), K_OK);
    assert_int_equal(v, -510);

    static const char *bad[] = {"",   "1.", ".5",  "1.234", "1,00", "1e2", "+1",
                                " 1", "1 ", "--1", "1.2.3", "abc",  "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 99;
        assert_int_not_equal(money_parse_decimal(bad[i], cur("EUR"), &v), K_OK);
        assert_int_equal(v, 99);
    }
    assert_int_not_equal(money_parse_decimal("1.5", cur("JPY"), &v), K_OK); /* no rounding */
    assert_int_equal(money_parse_decimal("92233720368547758.08", cur("EUR"), &v), K_ETOOBIG);
    assert_int_equal(money_parse_decimal("92233720368547758.07", cur("EUR"), &v), K_OK);
    assert_int_equal(v, INT64_MAX);

    /* round trip */
    static const int64_t amounts[] = {0, 1, 99, 100, 123456, 999999999999LL, -42};
    for (size_t i = 0; i < sizeof amounts / sizeof *amounts; i++) {
        char b[32];
        money_decimal(amounts[i], cur("KWD"), b, sizeof b);
        assert_int_equal(money_parse_decimal(b, cur("KWD"), &v), K_OK);
        assert_int_equal(v, amounts[i]);
    }
}

#define NBSP  "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"

static void test_format(void **state)
{
    static const struct {
        int64_t amount;
        const char *code, *locale, *want;
    } cases[] = {
        {123456, "EUR", "en",
         "\xe2\x82\xac"
         "1,234.56"},
        {123456, "EUR", "de", "1.234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "fr", "1" NNBSP "234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "fi", "1" NBSP "234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "sv", "1" NBSP "234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "xx",
         "\xe2\x82\xac"
         "1,234.56"}, /* fallback en */
        {123456, "EUR", NULL,
         "\xe2\x82\xac"
         "1,234.56"},
        {123456, "EUR", "de-DE", "1.234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "FR_fr", "1" NNBSP "234,56" NBSP "\xe2\x82\xac"},
        {123456, "EUR", "fra",
         "\xe2\x82\xac"
         "1,234.56"}, /* not "fr" */
        {-123456, "EUR", "en",
         "-\xe2\x82\xac"
         "1,234.56"},
        {-123456, "EUR", "de", "-1.234,56" NBSP "\xe2\x82\xac"},
        {5, "GBP", "en",
         "\xc2\xa3"
         "0.05"},
        {99999, "USD", "en", "$999.99"},
        {123456789, "USD", "en", "$1,234,567.89"},
        {100000000, "USD", "de", "1.000.000,00" NBSP "$"},
        {123456, "SEK", "sv", "1" NBSP "234,56" NBSP "kr"},
        {123456, "SEK", "en", "kr" NBSP "1,234.56"},
        {123456, "PLN", "de", "1.234,56" NBSP "z\xc5\x82"},
        {123456, "CHF", "en", "CHF" NBSP "1,234.56"},
        {123456, "JPY", "en", "JPY" NBSP "123,456"},
        {1234567, "KWD", "fr", "1" NNBSP "234,567" NBSP "KWD"},
        {0, "EUR", "en",
         "\xe2\x82\xac"
         "0.00"},
        {100, "EUR", "fi", "1,00" NBSP "\xe2\x82\xac"},
        {INT64_MIN, "JPY", "en", "-JPY" NBSP "9,223,372,036,854,775,808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char b[96];
        money_format(cases[i].amount, cur(cases[i].code), cases[i].locale, b, sizeof b);
        assert_string_equal(b, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exponents),      cmocka_unit_test(test_find),
        cmocka_unit_test(test_arith),          cmocka_unit_test(test_rate_parse),
        cmocka_unit_test(test_convert),        cmocka_unit_test(test_convert_half_even),
        cmocka_unit_test(test_convert_limits), cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_parse_decimal),  cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
