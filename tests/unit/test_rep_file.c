/*
 * test_rep_file.c - the report writers (rep_file.c):
 * - XLSX sheet rollover: past the rows a sheet holds, a new sheet starts with
 *   the header again and no row is lost or doubled. The limit is injected
 *   (rep_plan.sheet_rows = 3) so the rollover is seen with 8 rows instead of
 *   1,048,576; the file is read back by a real reader, Debian's
 *   python3-openpyxl (as tests/e2e/reports.test.js does);
 * - charsets: Payline's transactions file is ISO-8859-1 and its payments file
 *   ASCII, without a BOM; a character the charset lacks is written as '?';
 *   the other reports stay UTF-8 with a BOM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/rep_int.h"

#define PYTHON "/usr/bin/python3"

static void write_rows(const char *path, int64_t per_sheet, int rows)
{
    rep_params p = {.report_type = "operations.itemized.1", .format = "xlsx", .bom = -1};
    rep_plan plan;
    assert_int_equal(rep_plan_make(&p, &plan), K_OK);
    plan.sheet_rows = per_sheet;
    rep_sink *s;
    assert_int_equal(rep_sink_open(&s, &plan, path, NULL), K_OK);
    const rep_type *t = plan.type;
    rep_cell *cells = calloc(t->ncolumns, sizeof(*cells));
    assert_non_null(cells);
    char text[32];
    for (int r = 0; r < rows; r++) {
        snprintf(text, sizeof text, "row-%d", r + 1);
        for (size_t c = 0; c < t->ncolumns; c++) {
            cells[c] = (rep_cell){.s = text, .i = r + 1, .exp = 2, .set = true};
            if (t->columns[c].kind == REP_TIME)
                cells[c].i = 1798761600000 + (int64_t)r * 1000;
        }
        assert_int_equal(rep_sink_row(s, cells), K_OK);
    }
    free(cells);
    assert_int_equal(rep_sink_close(s), K_OK);
}

/* "title rows first-header first-data last-data" per sheet, as openpyxl reads them. */
static char *read_back(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             PYTHON " -c 'import openpyxl,sys\n"
                    "wb=openpyxl.load_workbook(sys.argv[1],read_only=True)\n"
                    "for ws in wb.worksheets:\n"
                    " rows=list(ws.iter_rows(values_only=True))\n"
                    " print(len(rows)-1,rows[0][0],rows[1][1] if len(rows)>1 else None,"
                    "rows[-1][1])' '%s'",
             path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    return out;
}

static void test_rollover(void **state)
{
    (void)state;
    if (access(PYTHON, X_OK) != 0) {
        print_message("no %s: skipped\n", PYTHON);
        skip();
    }
    char dir[] = "/tmp/kassa-xlsx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/r.xlsx", dir);
    write_rows(path, 3, 8);
    /* the first column's name heads every sheet; 3 + 3 + 2 data rows, in order */
    const char *first = rep_type_find("operations.itemized.1")->columns[0].name;
    char want[512];
    snprintf(want, sizeof want, "3 %s row-1 row-3\n3 %s row-4 row-6\n2 %s row-7 row-8\n", first,
             first, first);
    assert_string_equal(read_back(path), want);
    /* exactly full: no empty sheet after it */
    write_rows(path, 4, 8);
    snprintf(want, sizeof want, "4 %s row-1 row-4\n4 %s row-5 row-8\n", first, first);
    assert_string_equal(read_back(path), want);
    unlink(path);
    rmdir(dir);
}

/* One CSV row of report_type whose every text cell is text; the bytes written. */
static char *csv_bytes(const char *report_type, const char *text, size_t *len)
{
    rep_params p = {.report_type = report_type, .format = "csv", .bom = -1};
    rep_plan plan;
    assert_int_equal(rep_plan_make(&p, &plan), K_OK);
    char *data = NULL;
    FILE *f = open_memstream(&data, len);
    assert_non_null(f);
    rep_sink *s;
    assert_int_equal(rep_sink_open(&s, &plan, NULL, f), K_OK);
    const rep_type *t = plan.type;
    rep_cell *cells = calloc(t->ncolumns, sizeof(*cells));
    assert_non_null(cells);
    for (size_t c = 0; c < t->ncolumns; c++)
        cells[c] = (rep_cell){.s = text, .i = 1798761600000, .exp = 2, .set = true};
    assert_int_equal(rep_sink_row(s, cells), K_OK);
    free(cells);
    assert_int_equal(rep_sink_close(s), K_OK);
    fclose(f);
    return data;
}

static void test_charsets(void **state)
{
    (void)state;
    const char *text = "\xC3\x85sa-\xE2\x82\xAC-ok"; /* "Åsa-€-ok" in UTF-8 */
    size_t n;
    char *latin = csv_bytes("payline.transactions.1", text, &n);
    assert_true(n > 3 && memcmp(latin, "TRANSACTION_ID;", 15) == 0); /* no BOM */
    assert_non_null(memmem(latin, n, "\xC5sa-?-ok", 8));             /* Å in Latin-1, € lacks */
    assert_null(memmem(latin, n, "\xC3\x85", 2));
    free(latin);
    char *ascii = csv_bytes("payline.payments.1", text, &n);
    assert_true(memcmp(ascii, "RECORD_TYPE;", 12) == 0);
    assert_non_null(memmem(ascii, n, "?sa-?-ok", 8));
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)ascii[i] < 0x80);
    free(ascii);
    char *utf8 = csv_bytes("operations.itemized.1", text, &n);
    assert_true(memcmp(utf8, "\xEF\xBB\xBF", 3) == 0); /* the BOM */
    assert_non_null(memmem(utf8, n, text, strlen(text)));
    free(utf8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rollover),
                                       cmocka_unit_test(test_charsets)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
