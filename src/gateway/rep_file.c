/*
 * rep_file.c - the two file writers behind one row interface.
 *
 * CSV (base/csv.c): RFC 4180, UTF-8 with an optional BOM, the plan's
 * separator; rows go through a 64 KiB buffer to the file, so memory stays
 * constant whatever the row count. Amounts are written as integers (minor
 * units) and as decimal strings; instants as ISO 8601 with the offset of the
 * run's time zone at that instant.
 *
 * XLSX (libxlsxwriter in constant_memory mode: each row is written out as
 * soon as the next begins): numbers are numbers, instants are Excel dates in
 * the run's local time with a date format, decimals carry a number format of
 * the currency's exponent. A sheet holds at most LIMIT_XLSX_SHEET_ROWS rows;
 * past that a new sheet starts with the header again (no row cap). Text
 * cells are strings, which a spreadsheet never evaluates, so no guard.
 *
 * Files are written as PATH.part, fsync'ed, then renamed: a file that exists
 * under its name is complete.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <xlsxwriter.h>
#include "rep_int.h"
#include "../base/csv.h"
#include "../base/crypto.h"
#include "../base/log.h"

#define SINK_FLUSH_BYTES (64 * 1024)

struct rep_sink {
    const rep_plan *plan;
    char *path, *part;
    FILE *f;
    bool own_f;
    buf b;
    csv_w w;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *f_time, *f_dec[5], *f_head;
    uint32_t row; /* next row in the current sheet */
    int sheets;
};

static void rate_text(int64_t rate_e9, char *out, size_t cap)
{
    snprintf(out, cap, "%lld.%09lld", (long long)(rate_e9 / 1000000000),
             (long long)(rate_e9 % 1000000000));
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '0' && out[n - 2] != '.')
        out[--n] = '\0';
}

static void dec_text(int64_t minor, uint8_t exp, char *out, size_t cap)
{
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    K_ASSERT(exp <= 4);
    uint64_t p = 1;
    for (uint8_t i = 0; i < exp; i++)
        p *= 10;
    if (exp == 0)
        snprintf(out, cap, "%s%llu", minor < 0 ? "-" : "", (unsigned long long)mag);
    else
        snprintf(out, cap, "%s%llu.%0*llu", minor < 0 ? "-" : "", (unsigned long long)(mag / p),
                 (int)(exp & 7), (unsigned long long)(mag % p));
}

/* ---- CSV ---- */

/* UTF-8 to a legacy charset, in place (never longer): a code point the charset
 * lacks, or a malformed sequence, becomes '?'. The buffer holds whole rows, so
 * no sequence is cut. */
static void to_charset(buf *b, rep_charset cs)
{
    uint32_t top = cs == REP_LATIN1 ? 0xFF : 0x7F;
    const unsigned char *p = (const unsigned char *)b->data;
    size_t n = b->len, o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;
        unsigned char c = p[i];
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            len = 4;
        } else {
            cp = UINT32_MAX;
            len = 1;
        }
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n || (p[i + k] & 0xC0) != 0x80) {
                cp = UINT32_MAX;
                len = k;
                break;
            }
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        b->data[o++] = cp <= top ? (char)cp : '?';
        i += len;
    }
    b->len = o;
}

static k_status csv_flush(rep_sink *s)
{
    if (s->b.len == 0)
        return K_OK;
    if (s->plan->type->charset != REP_UTF8)
        to_charset(&s->b, s->plan->type->charset);
    size_t n = fwrite(s->b.data, 1, s->b.len, s->f);
    bool ok = n == s->b.len;
    buf_reset(&s->b);
    return ok ? K_OK : K_EIO;
}

static void csv_header(rep_sink *s)
{
    for (size_t i = 0; i < s->plan->nsel; i++)
        csv_raw(&s->w, s->plan->type->columns[s->plan->sel[i]].name);
    csv_end_row(&s->w);
}

static void csv_cell(rep_sink *s, const rep_column *col, const rep_cell *c)
{
    char tmp[64];
    if (!c->set) {
        csv_raw(&s->w, NULL);
        return;
    }
    switch (col->kind) {
    case REP_TEXT:
        csv_text(&s->w, c->s);
        break;
    case REP_CODE:
        csv_raw(&s->w, c->s);
        break;
    case REP_INT:
        csv_int(&s->w, c->i);
        break;
    case REP_DEC:
        dec_text(c->i, c->exp, tmp, sizeof(tmp));
        csv_raw(&s->w, tmp);
        break;
    case REP_TIME:
        tz_format_iso(s->plan->zone, c->i, false, tmp);
        csv_raw(&s->w, tmp);
        break;
    case REP_RATE:
        rate_text(c->i, tmp, sizeof(tmp));
        csv_raw(&s->w, tmp);
        break;
    }
}

/* ---- XLSX ---- */

static k_status xlsx_sheet(rep_sink *s)
{
    char name[32];
    snprintf(name, sizeof(name), "%s %d", s->plan->type->file_slug, ++s->sheets);
    name[31] = '\0';
    s->ws = workbook_add_worksheet(s->wb, name);
    if (s->ws == NULL)
        return K_EIO;
    for (size_t i = 0; i < s->plan->nsel; i++) {
        const rep_column *col = &s->plan->type->columns[s->plan->sel[i]];
        worksheet_write_string(s->ws, 0, (lxw_col_t)i, col->name, s->f_head);
        double width = col->kind == REP_TIME ? 20 : col->kind == REP_TEXT ? 28 : 14;
        worksheet_set_column(s->ws, (lxw_col_t)i, (lxw_col_t)i, width, NULL);
    }
    s->row = 1;
    return K_OK;
}

static double excel_local(const tz *z, int64_t utc_ms)
{
    int64_t s = utc_ms >= 0 ? utc_ms / 1000 : -((-utc_ms + 999) / 1000);
    int32_t off = tz_offset(z, s);
    /* Excel's serial day 25569 is 1970-01-01 */
    return 25569.0 + (double)(s + off) / 86400.0 + (double)(utc_ms - s * 1000) / 86400000.0;
}

static k_status xlsx_row(rep_sink *s, const rep_cell *cells)
{
    int64_t per_sheet = s->plan->sheet_rows > 0 ? s->plan->sheet_rows : LIMIT_XLSX_SHEET_ROWS;
    if ((int64_t)s->row > per_sheet && xlsx_sheet(s) != K_OK)
        return K_EIO;
    lxw_row_t r = s->row++;
    for (size_t i = 0; i < s->plan->nsel; i++) {
        int ci = s->plan->sel[i];
        const rep_column *col = &s->plan->type->columns[ci];
        const rep_cell *c = &cells[ci];
        lxw_col_t x = (lxw_col_t)i;
        lxw_error e = LXW_NO_ERROR;
        if (!c->set)
            continue;
        switch (col->kind) {
        case REP_TEXT:
        case REP_CODE:
            if (c->s != NULL && c->s[0] != '\0')
                e = worksheet_write_string(s->ws, r, x, c->s, NULL);
            break;
        case REP_INT:
            e = worksheet_write_number(s->ws, r, x, (double)c->i, NULL);
            break;
        case REP_DEC: {
            double v = (double)c->i;
            for (uint8_t k = 0; k < c->exp; k++)
                v /= 10.0;
            e = worksheet_write_number(s->ws, r, x, v, s->f_dec[c->exp < 5 ? c->exp : 4]);
            break;
        }
        case REP_TIME:
            e = worksheet_write_number(s->ws, r, x, excel_local(s->plan->zone, c->i), s->f_time);
            break;
        case REP_RATE:
            e = worksheet_write_number(s->ws, r, x, (double)c->i / 1e9, NULL);
            break;
        }
        if (e != LXW_NO_ERROR) {
            log_error("reports: xlsx cell: %s", lxw_strerror(e));
            return K_EIO;
        }
    }
    return K_OK;
}

static k_status xlsx_open(rep_sink *s)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", s->part);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = dir};
    s->wb = workbook_new_opt(s->part, &opt);
    if (s->wb == NULL)
        return K_EIO;
    s->f_time = workbook_add_format(s->wb);
    format_set_num_format(s->f_time, "yyyy-mm-dd hh:mm:ss");
    static const char *const dec_fmt[5] = {"0", "0.0", "0.00", "0.000", "0.0000"};
    for (int i = 0; i < 5; i++) {
        s->f_dec[i] = workbook_add_format(s->wb);
        format_set_num_format(s->f_dec[i], dec_fmt[i]);
    }
    s->f_head = workbook_add_format(s->wb);
    format_set_bold(s->f_head);
    return xlsx_sheet(s);
}

/* ---- the interface ---- */

k_status rep_sink_open(rep_sink **out, const rep_plan *plan, const char *path, FILE *stream)
{
    K_ASSERT(out != NULL && plan != NULL);
    K_ASSERT((path != NULL) != (stream != NULL));
    K_ASSERT(stream == NULL || !plan->xlsx); /* XLSX needs a file it can seek in */
    rep_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return K_ENOMEM;
    s->plan = plan;
    buf_init(&s->b, 4 * SINK_FLUSH_BYTES + LIMIT_HTTP_BODY_MAX);
    k_status st = K_OK;
    if (path != NULL) {
        s->path = strdup(path);
        size_t n = strlen(path) + 8;
        s->part = malloc(n);
        if (s->path == NULL || s->part == NULL) {
            rep_sink_abort(s);
            return K_ENOMEM;
        }
        snprintf(s->part, n, "%s.part", path);
    }
    if (plan->xlsx) {
        st = xlsx_open(s);
    } else {
        s->f = stream != NULL ? stream : fopen(s->part, "wb");
        s->own_f = stream == NULL;
        if (s->f == NULL)
            st = K_EIO;
        if (st == K_OK) {
            csv_init(&s->w, &s->b, plan->sep);
            if (plan->bom)
                buf_append(&s->b, CSV_BOM, 3);
            csv_header(s);
        }
    }
    if (st != K_OK) {
        log_error("reports: cannot write '%s'", path != NULL ? path : "(stream)");
        rep_sink_abort(s);
        return st;
    }
    *out = s;
    return K_OK;
}

k_status rep_sink_row(rep_sink *s, const rep_cell *cells)
{
    if (s->plan->xlsx)
        return xlsx_row(s, cells);
    for (size_t i = 0; i < s->plan->nsel; i++) {
        int ci = s->plan->sel[i];
        csv_cell(s, &s->plan->type->columns[ci], &cells[ci]);
    }
    csv_end_row(&s->w);
    if (s->w.st != K_OK)
        return s->w.st;
    return s->b.len >= SINK_FLUSH_BYTES ? csv_flush(s) : K_OK;
}

static void sink_free(rep_sink *s)
{
    buf_free(&s->b);
    free(s->path);
    free(s->part);
    free(s);
}

void rep_sink_abort(rep_sink *s)
{
    if (s == NULL)
        return;
    if (s->wb != NULL)
        workbook_close(s->wb);
    if (s->f != NULL && s->own_f)
        fclose(s->f);
    if (s->part != NULL)
        unlink(s->part);
    sink_free(s);
}

static k_status sync_rename(const char *part, const char *path)
{
    int fd = open(part, O_RDONLY);
    if (fd < 0)
        return K_EIO;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok && rename(part, path) == 0 ? K_OK : K_EIO;
}

k_status rep_sink_close(rep_sink *s)
{
    k_status st = K_OK;
    if (s->plan->xlsx) {
        lxw_error e = workbook_close(s->wb);
        s->wb = NULL;
        if (e != LXW_NO_ERROR) {
            log_error("reports: xlsx '%s': %s", s->path, lxw_strerror(e));
            st = K_EIO;
        }
    } else {
        if (s->w.st != K_OK)
            st = s->w.st;
        if (st == K_OK)
            st = csv_flush(s);
        if (st == K_OK && fflush(s->f) != 0)
            st = K_EIO;
        if (s->own_f && fclose(s->f) != 0)
            st = K_EIO;
        s->f = NULL;
    }
    if (st == K_OK && s->path != NULL)
        st = sync_rename(s->part, s->path);
    if (st != K_OK && s->part != NULL)
        unlink(s->part);
    sink_free(s);
    return st;
}

k_status rep_file_digest(const char *path, char hex[65], int64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return K_ENOTFOUND;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return K_ENOMEM;
    }
    static _Thread_local uint8_t chunk[64 * 1024];
    int64_t total = 0;
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        EVP_DigestUpdate(ctx, chunk, n);
        total += (int64_t)n;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    K_ASSERT(mdlen == 32);
    crypto_hex(md, 32, hex);
    *size = total;
    return err ? K_EIO : K_OK;
}
