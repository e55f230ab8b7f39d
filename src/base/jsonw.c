/*
 * jsonw.c - JSON text writer onto a buf (see jsonw.h).
 */
#include "jsonw.h"

#include <stdio.h>
#include <string.h>

void jw_init(jsonw *w, buf *out)
{
    K_ASSERT(w != NULL && out != NULL);
    w->out = out;
    w->depth = 0;
    w->first[0] = true;
    w->status = K_OK;
}

static void jw_put(jsonw *w, const void *p, size_t n)
{
    if (w->status == K_OK)
        w->status = buf_append(w->out, p, n);
}

/* The string escaped as jansson does without flags: ", \\ and controls; UTF-8 as is. */
static void jw_quoted(jsonw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jw_put(w, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_put(w, run, (size_t)(p - run));
        run = p + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }
        jw_put(w, esc, n);
    }
    jw_put(w, run, strlen(run));
    jw_put(w, "\"", 1);
}

/* The comma and the key before a value. */
static void jw_member(jsonw *w, const char *key)
{
    K_ASSERT(w->depth >= 0 && w->depth < JSONW_DEPTH_MAX);
    if (!w->first[w->depth])
        jw_put(w, ",", 1);
    w->first[w->depth] = false;
    if (key != NULL) {
        jw_quoted(w, key);
        jw_put(w, ":", 1);
    }
}

static void jw_open(jsonw *w, const char *key, char c)
{
    jw_member(w, key);
    jw_put(w, &c, 1);
    K_ASSERT(w->depth + 1 < JSONW_DEPTH_MAX);
    w->depth++;
    w->first[w->depth] = true;
}

static void jw_close(jsonw *w, char c)
{
    K_ASSERT(w->depth > 0);
    w->depth--;
    jw_put(w, &c, 1);
}

void jw_obj(jsonw *w, const char *key)
{
    jw_open(w, key, '{');
}

void jw_obj_end(jsonw *w)
{
    jw_close(w, '}');
}

void jw_arr(jsonw *w, const char *key)
{
    jw_open(w, key, '[');
}

void jw_arr_end(jsonw *w)
{
    jw_close(w, ']');
}

void jw_str(jsonw *w, const char *key, const char *v)
{
    if (v == NULL) {
        jw_null(w, key);
        return;
    }
    jw_member(w, key);
    jw_quoted(w, v);
}

void jw_int(jsonw *w, const char *key, int64_t v)
{
    jw_member(w, key);
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    jw_put(w, num, (size_t)n);
}

void jw_bool(jsonw *w, const char *key, bool v)
{
    jw_member(w, key);
    if (v)
        jw_put(w, "true", 4);
    else
        jw_put(w, "false", 5);
}

void jw_null(jsonw *w, const char *key)
{
    jw_member(w, key);
    jw_put(w, "null", 4);
}

static int jw_dump_cb(const char *p, size_t n, void *ctx)
{
    jsonw *w = ctx;
    jw_put(w, p, n);
    return w->status == K_OK ? 0 : -1;
}

void jw_json(jsonw *w, const char *key, const json_t *v)
{
    if (v == NULL) {
        jw_null(w, key);
        return;
    }
    jw_member(w, key);
    if (json_dump_callback(v, jw_dump_cb, w, JSON_COMPACT | JSON_ENCODE_ANY) != 0 &&
        w->status == K_OK)
        w->status = K_ENOMEM;
}

void jw_raw(jsonw *w, const char *key, const char *json, size_t len)
{
    jw_member(w, key);
    jw_put(w, json, len);
}

k_status jw_status(const jsonw *w)
{
    return w->status;
}
