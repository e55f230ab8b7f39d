/*
 * buf.c - growable byte buffer with a hard maximum (see buf.h, curl's dynbuf).
 *
 * Capacity doubles up to max+1 (the NUL). A failed append, whether past the
 * maximum or out of memory, leaves len and the bytes unchanged. Before the first
 * append data points at a shared empty string, so it is always a valid C string.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

static char buf_empty[1];

void buf_init(buf *b, size_t max)
{
    K_ASSERT(b != NULL);
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    b->max = max == 0 ? SIZE_MAX / 2 : max;
}

void buf_free(buf *b)
{
    K_ASSERT(b != NULL);
    if (b->cap > 0)
        free(b->data);
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b)
{
    K_ASSERT(b != NULL);
    b->len = 0;
    if (b->cap > 0)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. */
static k_status buf_reserve(buf *b, size_t n)
{
    K_ASSERT(b->len <= b->max);
    if (n > b->max - b->len)
        return K_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return K_OK;
    size_t ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (ncap < need && ncap <= SIZE_MAX / 4)
        ncap *= 2;
    if (ncap < need)
        ncap = need;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    K_ASSERT(ncap >= need);
    char *p = b->cap > 0 ? realloc(b->data, ncap) : malloc(ncap);
    if (p == NULL)
        return K_ENOMEM;
    if (b->cap == 0)
        p[0] = '\0';
    b->data = p;
    b->cap = ncap;
    return K_OK;
}

k_status buf_append(buf *b, const void *p, size_t n)
{
    K_ASSERT(b != NULL);
    K_ASSERT(p != NULL || n == 0);
    k_status st = buf_reserve(b, n);
    if (st != K_OK)
        return st;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return K_OK;
}

k_status buf_append_str(buf *b, const char *s)
{
    K_ASSERT(s != NULL);
    return buf_append(b, s, strlen(s));
}

/* buf.h declares no format attribute for the va_list form; clang wants one. */
k_status buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

k_status buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    K_ASSERT(b != NULL);
    K_ASSERT(fmt != NULL);
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return K_EINVAL;
    k_status st = buf_reserve(b, (size_t)n);
    if (st != K_OK)
        return st;
    int m = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    K_ASSERT(m == n);
    b->len += (size_t)n;
    return K_OK;
}

k_status buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    k_status st = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *buf_detach(buf *b, size_t *len)
{
    K_ASSERT(b != NULL);
    char *p = NULL;
    if (b->cap == 0) {
        p = malloc(1);
        if (p != NULL)
            p[0] = '\0';
    } else {
        p = b->data;
    }
    if (len != NULL)
        *len = p != NULL ? b->len : 0;
    if (p == NULL)
        return NULL; /* buffer kept as it was */
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* Undo a partial multi-part append so failures leave the buffer unchanged. */
static k_status buf_rollback(buf *b, size_t len, k_status st)
{
    b->len = len;
    if (b->cap > 0)
        b->data[len] = '\0';
    return st;
}

k_status buf_append_html(buf *b, const char *s)
{
    K_ASSERT(b != NULL);
    K_ASSERT(s != NULL);
    size_t start = b->len;
    const char *run = s;
    for (const char *c = s;; c++) {
        const char *rep = NULL;
        switch (*c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep == NULL && *c != '\0')
            continue;
        k_status st = buf_append(b, run, (size_t)(c - run));
        if (st == K_OK && rep != NULL)
            st = buf_append_str(b, rep);
        if (st != K_OK)
            return buf_rollback(b, start, st);
        if (*c == '\0')
            return K_OK;
        run = c + 1;
    }
}

static bool buf_url_unreserved(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-_.!~*'()", c) != NULL;
}

k_status buf_append_urlenc(buf *b, const char *s)
{
    K_ASSERT(b != NULL);
    K_ASSERT(s != NULL);
    static const char hex[] = "0123456789ABCDEF";
    size_t start = b->len;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        k_status st;
        if (buf_url_unreserved(*c)) {
            st = buf_append(b, c, 1);
        } else {
            char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            st = buf_append(b, esc, 3);
        }
        if (st != K_OK)
            return buf_rollback(b, start, st);
    }
    return K_OK;
}
