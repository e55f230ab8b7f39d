/*
 * log.c - JSON-lines logging to stderr (see log.h).
 *
 * Each line is built in memory and written with a single fwrite, so lines from
 * different threads never interleave. The message is JSON-escaped (control
 * characters as \u00XX, invalid UTF-8 as U+FFFD) so every line parses.
 */
#include "log.h"
#include "buf.h"
#include "../limits.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_LINE_MAX  (64 * 1024) /* longer messages are cut and marked, never dropped */
#define LOG_MSG_STACK 1024

static _Atomic int log_min_level = LOG_INFO;
static _Thread_local char log_req_id[LIMIT_ID_MAX];

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level min)
{
    K_ASSERT(min >= LOG_DEBUG && min <= LOG_ERROR);
    atomic_store(&log_min_level, (int)min);
}

void log_set_request_id(const char *id)
{
    if (id == NULL) {
        log_req_id[0] = '\0';
        return;
    }
    snprintf(log_req_id, sizeof(log_req_id), "%s", id);
}

const char *log_request_id(void)
{
    return log_req_id;
}

/* Length of a valid UTF-8 sequence at s[0..n), 0 when invalid. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends s[0..n) as the inside of a JSON string. */
static k_status log_escape(buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    k_status st = K_OK;
    for (size_t i = 0; i < n && st == K_OK;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            st = buf_append(b, e, 2);
        } else if (c == '\n') {
            st = buf_append(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7F) {
            st = buf_printf(b, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = log_utf8_len(p + i, n - i);
            if (len == 0) {
                st = buf_append(b, "\\ufffd", 6);
            } else {
                st = buf_append(b, p + i, len);
                i += len;
                continue;
            }
        } else {
            st = buf_append(b, &c, 1);
        }
        i++;
    }
    return st;
}

/* Starts a line with {"ts":"2025-01-02T10:00:05.123Z", */
static k_status log_begin(buf *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    return buf_printf(b, "{\"ts\":\"%s.%03ldZ\",", when, (long)(ts.tv_nsec / 1000000));
}

static void log_write(buf *b)
{
    fwrite(b->data, 1, b->len, stderr);
}

void log_msg(log_level lv, const char *fmt, ...)
{
    K_ASSERT(fmt != NULL);
    K_ASSERT(lv >= LOG_DEBUG && lv <= LOG_ERROR);
    if ((int)lv < atomic_load(&log_min_level))
        return;

    char stack[LOG_MSG_STACK];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf msg;
    buf_init(&msg, LOG_LINE_MAX);
    const char *text = stack;
    size_t text_len = (size_t)n;
    if ((size_t)n >= sizeof(stack)) {
        va_start(ap, fmt);
        k_status st = buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        text_len = st == K_OK ? msg.len : sizeof(stack) - 1;
        text = st == K_OK ? msg.data : stack;
    }

    buf line;
    buf_init(&line, LOG_LINE_MAX + 1024);
    k_status st = log_begin(&line);
    if (st == K_OK)
        st = buf_printf(&line, "\"level\":\"%s\",\"req\":\"", log_level_names[lv]);
    if (st == K_OK)
        st = log_escape(&line, log_req_id, strlen(log_req_id));
    if (st == K_OK)
        st = buf_append_str(&line, "\",\"msg\":\"");
    size_t before_msg = line.len;
    if (st == K_OK && log_escape(&line, text, text_len) != K_OK) {
        /* Escaping grew past the line maximum: keep what fits a marker. */
        line.len = before_msg;
        st = buf_append_str(&line, "(message too long to log)");
    }
    if (st == K_OK)
        st = buf_append_str(&line, "\"}\n");
    if (st == K_OK)
        log_write(&line);
    buf_free(&line);
    buf_free(&msg);
}

void log_json_line(const char *json_obj_without_braces)
{
    K_ASSERT(json_obj_without_braces != NULL);
    buf line;
    buf_init(&line, 0);
    k_status st = log_begin(&line);
    if (st == K_OK && json_obj_without_braces[0] == '\0')
        line.len--; /* no members: drop the comma after ts */
    if (st == K_OK)
        st = buf_append_str(&line, json_obj_without_braces);
    if (st == K_OK)
        st = buf_append_str(&line, "}\n");
    if (st == K_OK)
        log_write(&line);
    buf_free(&line);
}
