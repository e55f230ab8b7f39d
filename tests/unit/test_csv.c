/*
 * test_csv.c - RFC 4180 quoting, CRLF rows, separators, UTF-8 passed through,
 * and the formula-injection guard on text cells only (a table of cases).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/csv.h"

static void test_cases(void **state)
{
    static const struct {
        const char *in;
        char sep;
        bool text;
        const char *out;
    } cases[] = {
        {"plain", ',', true, "plain"},
        {"a,b", ',', true, "\"a,b\""},
        {"a,b", ';', true, "a,b"},
        {"a;b", ';', true, "\"a;b\""},
        {"say \"hi\"", ',', true, "\"say \"\"hi\"\"\""},
        {"two\nlines", ',', true, "\"two\nlines\""},
        {"cr\rhere", ',', true, "\"cr\rhere\""},
        {"=HYPERLINK(\"http://x\")", ',', true, "\"'=HYPERLINK(\"\"http://x\"\")\""},
        {"=1+2", ',', true, "'=1+2"},
        {"+46 70", ',', true, "'+46 70"},
        {"-5", ',', true, "'-5"},
        {"@SUM(A1)", ',', true, "'@SUM(A1)"},
        {"\tTab", ',', true, "'\tTab"},
        {"\rCR", ',', true, "\"'\rCR\""},
        {"-12.50", ',', false, "-12.50"},
        {"Åsa Öberg", ',', true, "Åsa Öberg"},
        {"", ',', true, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf b;
        buf_init(&b, 1024);
        csv_w w;
        csv_init(&w, &b, cases[i].sep);
        if (cases[i].text)
            csv_text(&w, cases[i].in);
        else
            csv_raw(&w, cases[i].in);
        assert_int_equal(w.st, K_OK);
        assert_int_equal(b.len, strlen(cases[i].out));
        if (memcmp(b.data, cases[i].out, b.len) != 0)
            fail_msg("case %zu: got [%.*s] want [%s]", i, (int)b.len, b.data, cases[i].out);
        buf_free(&b);
    }
    (void)state;
}

static void test_rows(void **state)
{
    buf b;
    buf_init(&b, 1024);
    csv_w w;
    csv_init(&w, &b, ';');
    csv_raw(&w, "id");
    csv_raw(&w, "amount");
    csv_text(&w, NULL);
    csv_end_row(&w);
    csv_text(&w, "pi_1");
    csv_int(&w, -1250);
    csv_text(&w, "x");
    csv_end_row(&w);
    const char want[] = "id;amount;\r\npi_1;-1250;x\r\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
    (void)state;
}

static void test_limit(void **state)
{
    buf b;
    buf_init(&b, 8);
    csv_w w;
    csv_init(&w, &b, ',');
    csv_text(&w, "this is longer than eight");
    assert_int_equal(w.st, K_ETOOBIG);
    csv_end_row(&w);
    assert_int_equal(w.st, K_ETOOBIG); /* sticky */
    buf_free(&b);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases), cmocka_unit_test(test_rows),
                                       cmocka_unit_test(test_limit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
