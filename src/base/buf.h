/*
 * buf.h - growable byte buffer with a maximum fixed at init (curl dynbuf).
 *
 * Appends past the maximum fail with K_ETOOBIG and leave the buffer unchanged,
 * so a caller can report the limit instead of truncating silently. The data is
 * always NUL-terminated for convenience (len excludes the NUL).
 */
#ifndef KASSA_BUF_H
#define KASSA_BUF_H

#include "common.h"
#include <stdarg.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} buf;

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
void buf_reset(buf *b); /* len = 0, keeps memory */
k_status buf_append(buf *b, const void *p, size_t n);
k_status buf_append_str(buf *b, const char *s);
k_status buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
k_status buf_vprintf(buf *b, const char *fmt, va_list ap);
char *buf_detach(buf *b, size_t *len); /* caller frees; buffer emptied */

/* HTML-escape s (& < > " ') into b. */
k_status buf_append_html(buf *b, const char *s);
/* Percent-encode s as encodeURIComponent does, into b. */
k_status buf_append_urlenc(buf *b, const char *s);

#endif
