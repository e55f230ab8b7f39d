/*
 * csv.c - see csv.h. Fields go straight into the caller's buf; the caller
 * flushes the buf to its file between rows, so memory stays constant.
 */
#include <stdio.h>
#include <string.h>
#include "csv.h"

void csv_init(csv_w *w, buf *out, char sep)
{
    K_ASSERT(out != NULL);
    K_ASSERT(sep == ',' || sep == ';' || sep == '\t');
    w->out = out;
    w->sep = sep;
    w->col = 0;
    w->st = K_OK;
}

bool csv_needs_guard(const char *s)
{
    return s != NULL && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                         s[0] == '\r');
}

static void put(csv_w *w, const void *p, size_t n)
{
    if (w->st == K_OK)
        w->st = buf_append(w->out, p, n);
}

static void field(csv_w *w, const char *s, bool guard)
{
    if (w->col++ > 0)
        put(w, &w->sep, 1);
    if (s == NULL)
        return;
    bool pre = guard && csv_needs_guard(s);
    bool quote = false;
    for (const char *p = s; *p != '\0' && !quote; p++)
        quote = *p == w->sep || *p == '"' || *p == '\r' || *p == '\n';
    if (!quote) {
        if (pre)
            put(w, "'", 1);
        put(w, s, strlen(s));
        return;
    }
    put(w, "\"", 1);
    if (pre)
        put(w, "'", 1);
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"') {
            put(w, run, (size_t)(p - run + 1));
            put(w, "\"", 1);
            run = p + 1;
        }
    }
    put(w, run, strlen(run));
    put(w, "\"", 1);
}

void csv_text(csv_w *w, const char *s)
{
    field(w, s, true);
}

void csv_raw(csv_w *w, const char *s)
{
    field(w, s, false);
}

void csv_int(csv_w *w, int64_t v)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)v);
    field(w, n, false);
}

void csv_end_row(csv_w *w)
{
    put(w, "\r\n", 2);
    w->col = 0;
}
