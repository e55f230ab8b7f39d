/*
 * jsonw.h - writes JSON text straight into a buf, for the hot answers (a
 * PaymentIntent, a page of them, an event): building a jansson tree only to
 * serialise it again was a third of a read's CPU (bench/RESULTS.md).
 *
 * Members are written in order; the writer puts the commas. key is the member
 * name inside an object and NULL inside an array or at the top. Strings must be
 * UTF-8 (everything Kassa stores came through jansson, which checks); they are
 * escaped as jansson escapes them. The first failure (buf over its maximum)
 * sticks in jw_status and later calls do nothing.
 */
#ifndef KASSA_JSONW_H
#define KASSA_JSONW_H

#include <jansson.h>

#include "buf.h"
#include "common.h"

#define JSONW_DEPTH_MAX 32

typedef struct {
    buf *out;
    int depth;
    bool first[JSONW_DEPTH_MAX]; /* the next member at this depth is the first */
    k_status status;
} jsonw;

void jw_init(jsonw *w, buf *out);
void jw_obj(jsonw *w, const char *key);                /* { */
void jw_obj_end(jsonw *w);                             /* } */
void jw_arr(jsonw *w, const char *key);                /* [ */
void jw_arr_end(jsonw *w);                             /* ] */
void jw_str(jsonw *w, const char *key, const char *v); /* NULL writes null */
void jw_int(jsonw *w, const char *key, int64_t v);
void jw_bool(jsonw *w, const char *key, bool v);
void jw_null(jsonw *w, const char *key);
/* A jansson value as it is (NULL writes null). */
void jw_json(jsonw *w, const char *key, const json_t *v);
/* JSON text that is already valid, as a value. */
void jw_raw(jsonw *w, const char *key, const char *json, size_t len);
k_status jw_status(const jsonw *w);

#endif
