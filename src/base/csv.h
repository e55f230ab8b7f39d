/*
 * csv.h - RFC 4180 CSV fields and rows appended to a buf: CRLF line ends,
 * fields quoted when they hold the separator, a quote, CR or LF (quotes
 * doubled), UTF-8 passed through, ',' or ';' as separator.
 *
 * Formula-injection guard (OWASP ASVS 5 V1.2.10): a text cell that starts with
 * '=', '+', '-', '@', tab or CR gets a leading "'" so a spreadsheet shows it
 * as text instead of running it. Only csv_text guards: numbers Kassa writes
 * itself (csv_int, csv_raw for decimal amounts and codes) are left as they are,
 * so a refund of -12.50 stays a number.
 */
#ifndef KASSA_CSV_H
#define KASSA_CSV_H

#include "buf.h"

#define CSV_BOM "\xEF\xBB\xBF" /* UTF-8 byte order mark: lets Excel read the file as UTF-8 */

typedef struct {
    buf *out;
    char sep;
    int col;     /* fields written in the current row */
    k_status st; /* sticky: the first failure (buf over its maximum) */
} csv_w;

void csv_init(csv_w *w, buf *out, char sep);
void csv_text(csv_w *w, const char *s); /* customer or free text: guarded; NULL = empty */
void csv_raw(csv_w *w, const char *s);  /* text Kassa produced (codes, decimals): not guarded */
void csv_int(csv_w *w, int64_t v);
void csv_end_row(csv_w *w);
/* Does the guard apply to s? (exposed for the XLSX writer and tests) */
bool csv_needs_guard(const char *s);

#endif
