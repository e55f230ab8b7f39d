/*
 * form.c - request bodies and query strings into one jansson tree (see form.h).
 *
 * Form bodies use Stripe's bracket notation. Each pair is handled on its own:
 * the key is percent-decoded, split into segments (base, then one per [..]),
 * and the tree is walked segment by segment with a loop, never recursion.
 * Numeric segments index arrays and must be dense ("a[1]" before "a[0]" names
 * the index expected); "[]" appends (reusing the last object element when the
 * rest of the key is new in it, as Rack does for "a[][x]=1&a[][y]=2"). A digit
 * segment inside an existing object is an ordinary key (metadata[123]).
 *
 * JSON bodies are parsed by jansson and then walked with an explicit stack of
 * at most LIMIT_NESTING_MAX frames to enforce the same limits.
 */
#include "form.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON object's key or a form key segment. */
typedef struct {
    const char *p;
    size_t len;
} form_seg;

typedef enum { SEG_NAME, SEG_INDEX, SEG_APPEND } form_seg_kind;

#define FORM_SEGS_MAX         (LIMIT_NESTING_MAX + 1) /* base + bracket groups */
#define FORM_INDEX_DIGITS_MAX 9                       /* more digits are always past the limit */

/* ------------------------------------------------------------------ errors */

/* Bounded copy that always terminates (no truncation warnings, no overflow). */
static void form_copy(char *out, size_t cap, const char *s, size_t n)
{
    K_ASSERT(cap > 0);
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
}

static void form_err(param_err *err, k_status st, const char *param, size_t param_len,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void form_err(param_err *err, k_status st, const char *param, size_t param_len,
                     const char *fmt, ...)
{
    K_ASSERT(st == K_EINVAL || st == K_ETOOBIG);
    if (err == NULL)
        return;
    err->status = st;
    form_copy(err->param, sizeof(err->param), param != NULL ? param : "",
              param != NULL ? param_len : 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ unescape */

static int form_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Returns the decoded length, -1 for a bad escape, -2 when out (cap) is too small. */
static long form_unescape_int(const char *s, size_t len, char *out, size_t cap, bool plus_space)
{
    K_ASSERT(out != NULL);
    K_ASSERT(cap > 0);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = form_hexval(s[i + 1]);
            int lo = form_hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -2;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

long form_unescape(const char *s, size_t len, char *out, size_t cap, bool plus_space)
{
    long n = form_unescape_int(s, len, out, cap, plus_space);
    return n < 0 ? -1 : n;
}

/* ------------------------------------------------------------------ form keys */

/* Splits a decoded key into segments. Returns K_OK, or fills err. */
static k_status form_split_key(const char *key, size_t len, form_seg *segs, size_t *nseg,
                               param_err *err)
{
    size_t i = 0;
    while (i < len && key[i] != '[' && key[i] != ']')
        i++;
    if (i == 0 || (i < len && key[i] == ']')) {
        form_err(err, K_EINVAL, key, len, "Invalid parameter name: %.200s", key);
        return K_EINVAL;
    }
    size_t n = 0;
    segs[n++] = (form_seg){key, i};
    while (i < len) {
        if (key[i] != '[') {
            form_err(err, K_EINVAL, key, len, "Invalid parameter name: %.200s", key);
            return K_EINVAL;
        }
        size_t start = ++i;
        while (i < len && key[i] != ']' && key[i] != '[')
            i++;
        if (i >= len || key[i] != ']') {
            form_err(err, K_EINVAL, key, len, "Invalid parameter name: %.200s", key);
            return K_EINVAL;
        }
        if (n >= FORM_SEGS_MAX) {
            form_err(err, K_ETOOBIG, key, len,
                     "Parameter nested too deeply: %.200s (at most %d levels)", key,
                     LIMIT_NESTING_MAX);
            return K_ETOOBIG;
        }
        segs[n++] = (form_seg){key + start, i - start};
        i++;
    }
    *nseg = n;
    return K_OK;
}

/* Kind of a segment that addresses an array; *index set for SEG_INDEX.
 * Leading zeros ("01") are not indices. Huge indices are reported as such. */
static form_seg_kind form_seg_kind_of(form_seg s, size_t *index)
{
    if (s.len == 0)
        return SEG_APPEND;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return SEG_NAME;
    }
    if (s.len > 1 && s.p[0] == '0')
        return SEG_NAME;
    size_t v = 0;
    for (size_t i = 0; i < s.len && i < FORM_INDEX_DIGITS_MAX + 1; i++)
        v = v * 10 + (size_t)(s.p[i] - '0');
    *index = s.len > FORM_INDEX_DIGITS_MAX ? SIZE_MAX : v;
    return SEG_INDEX;
}

/* A new container for the segment that will address it. */
static json_t *form_new_container(form_seg next)
{
    size_t idx = 0;
    return form_seg_kind_of(next, &idx) == SEG_NAME ? json_object() : json_array();
}

/* True when segs[0..n) already names something inside node (Rack's reuse test). */
static bool form_path_exists(json_t *node, const form_seg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t idx = 0;
        if (json_is_object(node) && segs[i].len > 0) {
            node = json_object_getn(node, segs[i].p, segs[i].len);
        } else if (json_is_array(node) && form_seg_kind_of(segs[i], &idx) == SEG_INDEX) {
            node = json_array_get(node, idx);
        } else {
            return json_is_array(node); /* "[]" into an array always appends */
        }
        if (node == NULL)
            return false;
    }
    return true;
}

typedef struct {
    const char *key; /* whole decoded key, for messages */
    size_t key_len;
    const form_seg *segs;
    size_t nseg;
    json_t *value; /* stolen on success */
    param_err *err;
} form_put;

static k_status form_conflict(form_put *fp)
{
    form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
             "Invalid parameter %.200s: mixes a value with nested parameters", fp->key);
    return K_EINVAL;
}

/* One step into an object: returns the next container or NULL (done or error in *st). */
static json_t *form_step_object(form_put *fp, json_t *cur, size_t i, k_status *st)
{
    form_seg s = fp->segs[i];
    bool last = i + 1 == fp->nseg;
    if (s.len == 0) {
        form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                 "Invalid parameter %.200s: [] used on an object", fp->key);
        *st = K_EINVAL;
        return NULL;
    }
    json_t *child = json_object_getn(cur, s.p, s.len);
    if (last) {
        if (child != NULL && (json_is_object(child) || json_is_array(child))) {
            *st = form_conflict(fp);
            return NULL;
        }
        if (child != NULL) { /* amount=1&amount=2: which one was meant? */
            form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                     "Invalid parameter %.200s: given more than once", fp->key);
            *st = K_EINVAL;
            return NULL;
        }
        if (json_object_setn_new(cur, s.p, s.len, fp->value) != 0) {
            fp->value = NULL; /* jansson consumed it even on failure */
            form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                     "Invalid parameter name (not UTF-8): %.200s", fp->key);
            *st = K_EINVAL;
            return NULL;
        }
        fp->value = NULL;
        *st = K_OK;
        return NULL;
    }
    if (child == NULL) {
        child = form_new_container(fp->segs[i + 1]);
        if (child == NULL || json_object_setn_new(cur, s.p, s.len, child) != 0) {
            form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                     "Invalid parameter name (not UTF-8): %.200s", fp->key);
            *st = K_EINVAL;
            return NULL;
        }
        return child;
    }
    if (!json_is_object(child) && !json_is_array(child)) {
        *st = form_conflict(fp);
        return NULL;
    }
    return child;
}

/* Appends v (stolen) to array a, within the index limit. */
static k_status form_array_push(form_put *fp, json_t *a, json_t *v)
{
    if (json_array_size(a) >= LIMIT_ARRAY_INDEX_MAX) {
        json_decref(v);
        form_err(fp->err, K_ETOOBIG, fp->key, fp->key_len,
                 "Too many array elements in %.200s (at most %d)", fp->key, LIMIT_ARRAY_INDEX_MAX);
        return K_ETOOBIG;
    }
    if (v == NULL || json_array_append_new(a, v) != 0)
        return K_ENOMEM;
    return K_OK;
}

/* One step into an array; same contract as form_step_object. */
static json_t *form_step_array(form_put *fp, json_t *cur, size_t i, k_status *st)
{
    form_seg s = fp->segs[i];
    bool last = i + 1 == fp->nseg;
    size_t size = json_array_size(cur);
    size_t idx = 0;
    form_seg_kind kind = form_seg_kind_of(s, &idx);
    if (kind == SEG_NAME) {
        form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                 "Invalid array index in %.200s: expected %zu", fp->key, size);
        *st = K_EINVAL;
        return NULL;
    }
    if (kind == SEG_INDEX && idx >= LIMIT_ARRAY_INDEX_MAX) {
        form_err(fp->err, K_ETOOBIG, fp->key, fp->key_len,
                 "Array index too large in %.200s (at most %d)", fp->key,
                 LIMIT_ARRAY_INDEX_MAX - 1);
        *st = K_ETOOBIG;
        return NULL;
    }
    if (kind == SEG_INDEX && idx > size) {
        form_err(fp->err, K_EINVAL, fp->key, fp->key_len,
                 "Invalid array index in %.200s: expected %zu", fp->key, size);
        *st = K_EINVAL;
        return NULL;
    }
    if (kind == SEG_INDEX && idx < size) {
        json_t *child = json_array_get(cur, idx);
        bool is_container = json_is_object(child) || json_is_array(child);
        if (last == is_container) {
            *st = form_conflict(fp);
            return NULL;
        }
        if (!last)
            return child;
        json_array_set_new(cur, idx, fp->value);
        fp->value = NULL;
        *st = K_OK;
        return NULL;
    }
    /* Appending: idx == size, or "[]". */
    if (last) {
        *st = form_array_push(fp, cur, fp->value);
        fp->value = NULL;
        return NULL;
    }
    if (kind == SEG_APPEND && size > 0) {
        json_t *tail = json_array_get(cur, size - 1);
        if (json_is_object(tail) && !form_path_exists(tail, fp->segs + i + 1, fp->nseg - i - 1))
            return tail;
    }
    json_t *child = form_new_container(fp->segs[i + 1]);
    *st = form_array_push(fp, cur, json_incref(child));
    json_decref(child);
    return *st == K_OK ? child : NULL;
}

/* Places fp->value at the key's position in root. */
static k_status form_put_value(json_t *root, form_put *fp)
{
    json_t *cur = root;
    for (size_t i = 0; i < fp->nseg; i++) {
        k_status st = K_OK;
        json_t *next = json_is_object(cur) ? form_step_object(fp, cur, i, &st)
                                           : form_step_array(fp, cur, i, &st);
        if (next == NULL)
            return st;
        cur = next;
    }
    K_ASSERT(0 && "the last segment always stores the value");
    return K_ERR;
}

/* ------------------------------------------------------------------ form body */

static k_status form_decode_pair(json_t *root, const char *pair, size_t len, char *scratch,
                                 size_t scratch_cap, param_err *err)
{
    const char *eq = memchr(pair, '=', len);
    size_t klen = eq != NULL ? (size_t)(eq - pair) : len;
    const char *raw_val = eq != NULL ? eq + 1 : pair + len;
    size_t vlen = eq != NULL ? len - klen - 1 : 0;

    char key[LIMIT_PARAM_KEY_MAX + 1];
    long kn = form_unescape_int(pair, klen, key, sizeof(key), true);
    if (kn == -2) {
        form_err(err, K_ETOOBIG, pair, klen, "Parameter name too long (at most %d bytes)",
                 LIMIT_PARAM_KEY_MAX);
        return K_ETOOBIG;
    }
    if (kn < 0 || memchr(key, '\0', (size_t)kn) != NULL) {
        form_err(err, K_EINVAL, pair, klen, "Invalid percent-encoding in parameter name");
        return K_EINVAL;
    }
    form_seg segs[FORM_SEGS_MAX];
    size_t nseg = 0;
    k_status st = form_split_key(key, (size_t)kn, segs, &nseg, err);
    if (st != K_OK)
        return st;

    K_ASSERT(scratch_cap > LIMIT_PARAM_VALUE_MAX);
    long vn = form_unescape_int(raw_val, vlen, scratch, LIMIT_PARAM_VALUE_MAX + 1, true);
    if (vn == -2) {
        form_err(err, K_ETOOBIG, key, (size_t)kn, "Value too long for %.200s (at most %d bytes)",
                 key, LIMIT_PARAM_VALUE_MAX);
        return K_ETOOBIG;
    }
    if (vn < 0 || memchr(scratch, '\0', (size_t)vn) != NULL) {
        form_err(err, K_EINVAL, key, (size_t)kn, "Invalid percent-encoding in value for %.200s",
                 key);
        return K_EINVAL;
    }
    json_t *value = json_stringn(scratch, (size_t)vn);
    if (value == NULL) {
        form_err(err, K_EINVAL, key, (size_t)kn, "Invalid value for %.200s: not UTF-8", key);
        return K_EINVAL;
    }
    form_put fp = {key, (size_t)kn, segs, nseg, value, err};
    st = form_put_value(root, &fp);
    json_decref(fp.value); /* NULL when stored */
    return st;
}

json_t *form_decode(const char *body, size_t len, param_err *err)
{
    K_ASSERT(body != NULL || len == 0);
    json_t *root = json_object();
    if (root == NULL)
        return NULL;
    char *scratch = malloc(LIMIT_PARAM_VALUE_MAX + 1);
    if (scratch == NULL) {
        json_decref(root);
        return NULL;
    }
    size_t count = 0;
    size_t i = 0;
    k_status st = K_OK;
    while (i < len && st == K_OK) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - body) : len;
        if (end > i) { /* empty pairs ("a=1&&b=2", trailing &) are skipped */
            if (++count > LIMIT_PARAMS_MAX) {
                form_err(err, K_ETOOBIG, NULL, 0, "Too many parameters (at most %d)",
                         LIMIT_PARAMS_MAX);
                st = K_ETOOBIG;
                break;
            }
            st = form_decode_pair(root, body + i, end - i, scratch, LIMIT_PARAM_VALUE_MAX + 1, err);
        }
        i = end + 1;
    }
    free(scratch);
    if (st != K_OK) {
        if (st == K_ENOMEM)
            form_err(err, K_ETOOBIG, NULL, 0, "Out of memory decoding parameters");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------ JSON body */

typedef struct {
    json_t *node;
    void *iter;      /* objects: next member */
    size_t index;    /* arrays: next element */
    const char *key; /* the child being visited: object key ... */
    size_t key_len;
    size_t child_index; /* ... or array index */
} form_frame;

/* Bracket name of the child currently visited at frames[0..n). */
static void form_frames_name(const form_frame *frames, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t d = 0; d < n && o + 1 < cap; d++) {
        char seg[64];
        const char *p = frames[d].key;
        size_t plen = frames[d].key_len;
        if (json_is_array(frames[d].node)) {
            int w = snprintf(seg, sizeof(seg), "%zu", frames[d].child_index);
            p = seg;
            plen = w > 0 ? (size_t)w : 0;
        }
        if (d > 0 && o + 1 < cap)
            out[o++] = '[';
        size_t take = plen < cap - 1 - o ? plen : cap - 1 - o;
        memcpy(out + o, p, take);
        o += take;
        if (d > 0 && o + 1 < cap)
            out[o++] = ']';
    }
    out[o] = '\0';
}

/* Next child of the top frame, or NULL when the frame is exhausted. */
static json_t *form_frame_next(form_frame *f)
{
    if (json_is_object(f->node)) {
        if (f->iter == NULL)
            return NULL;
        f->key = json_object_iter_key(f->iter);
        f->key_len = strlen(f->key);
        json_t *v = json_object_iter_value(f->iter);
        f->iter = json_object_iter_next(f->node, f->iter);
        return v;
    }
    if (f->index >= json_array_size(f->node))
        return NULL;
    f->child_index = f->index;
    return json_array_get(f->node, f->index++);
}

static form_frame form_frame_of(json_t *node)
{
    form_frame f = {node, NULL, 0, "", 0, 0};
    if (json_is_object(node))
        f.iter = json_object_iter(node);
    return f;
}

/* Checks one visited child against the limits; frames[0..depth) lead to it. */
static k_status form_json_check(const form_frame *frames, size_t depth, json_t *v, param_err *err)
{
    char name[LIMIT_PARAM_KEY_MAX];
    const form_frame *top = &frames[depth - 1];
    if (json_is_object(top->node) && top->key_len > LIMIT_PARAM_KEY_MAX) {
        form_frames_name(frames, depth, name, sizeof(name));
        form_err(err, K_ETOOBIG, name, strlen(name), "Parameter name too long (at most %d bytes)",
                 LIMIT_PARAM_KEY_MAX);
        return K_ETOOBIG;
    }
    const char *what = NULL;
    int limit = 0;
    if (json_is_string(v) && json_string_length(v) > LIMIT_PARAM_VALUE_MAX) {
        what = "Value too long for";
        limit = LIMIT_PARAM_VALUE_MAX;
    } else if (json_is_array(v) && json_array_size(v) > LIMIT_ARRAY_INDEX_MAX) {
        what = "Too many array elements in";
        limit = LIMIT_ARRAY_INDEX_MAX;
    } else if ((json_is_array(v) || json_is_object(v)) && depth + 1 > LIMIT_NESTING_MAX + 1) {
        what = "Parameter nested too deeply:";
        limit = LIMIT_NESTING_MAX;
    }
    if (what == NULL)
        return K_OK;
    form_frames_name(frames, depth, name, sizeof(name));
    form_err(err, K_ETOOBIG, name, strlen(name), "%s %.200s (at most %d)", what, name, limit);
    return K_ETOOBIG;
}

/* Walks the tree with an explicit stack (depth <= LIMIT_NESTING_MAX). */
static k_status form_json_limits(json_t *root, param_err *err)
{
    form_frame frames[LIMIT_NESTING_MAX + 1];
    size_t depth = 1;
    frames[0] = form_frame_of(root);
    while (depth > 0) {
        json_t *v = form_frame_next(&frames[depth - 1]);
        if (v == NULL) {
            depth--;
            continue;
        }
        k_status st = form_json_check(frames, depth, v, err);
        if (st != K_OK)
            return st;
        if (json_is_object(v) || json_is_array(v)) {
            K_ASSERT(depth < K_ARRAY_LEN(frames));
            frames[depth++] = form_frame_of(v);
        }
    }
    return K_OK;
}

json_t *form_decode_json(const char *body, size_t len, param_err *err)
{
    K_ASSERT(body != NULL || len == 0);
    if (len == 0)
        return json_object();
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        form_err(err, K_EINVAL, NULL, 0, "Invalid JSON body: %.150s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        form_err(err, K_EINVAL, NULL, 0, "Invalid JSON body: the top level must be an object");
        json_decref(root);
        return NULL;
    }
    if (form_json_limits(root, err) != K_OK) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------ readers */

void param_bracket_name(const char *path, char *out, size_t cap)
{
    K_ASSERT(path != NULL);
    K_ASSERT(out != NULL && cap > 0);
    size_t o = 0;
    bool first = true;
    const char *p = path;
    while (o + 1 < cap) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (!first)
            out[o++] = '[';
        size_t take = o + 1 < cap ? (n < cap - 1 - o ? n : cap - 1 - o) : 0;
        memcpy(out + o, p, take);
        o += take;
        if (!first && o + 1 < cap)
            out[o++] = ']';
        if (dot == NULL)
            break;
        first = false;
        p = dot + 1;
    }
    out[o] = '\0';
}

/* The value at a dotted path, or NULL. JSON null counts as absent. */
static json_t *param_lookup(json_t *root, const char *path)
{
    K_ASSERT(path != NULL);
    json_t *node = root;
    const char *p = path;
    while (node != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (json_is_object(node)) {
            node = json_object_getn(node, p, n);
        } else if (json_is_array(node)) {
            form_seg s = {p, n};
            size_t idx = 0;
            node = form_seg_kind_of(s, &idx) == SEG_INDEX ? json_array_get(node, idx) : NULL;
        } else {
            node = NULL;
        }
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    return json_is_null(node) ? NULL : node;
}

static void param_fail(param_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void param_fail(param_err *err, const char *path, const char *fmt, ...)
{
    if (err == NULL)
        return;
    err->status = K_EINVAL;
    param_bracket_name(path, err->param, sizeof(err->param));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/* The value as short text for an error message (caller frees). */
static char *param_show(json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

k_status param_str(json_t *root, const char *path, const char **out, size_t max_len, param_err *err)
{
    K_ASSERT(out != NULL);
    json_t *v = param_lookup(root, path);
    if (v == NULL)
        return K_ENOTFOUND;
    if (!json_is_string(v)) {
        param_fail(err, path, "Invalid string: expected a string for %s", path);
        return K_EINVAL;
    }
    if (max_len > 0 && json_string_length(v) > max_len) {
        param_fail(err, path, "Invalid string: %.60s...; must be at most %zu characters",
                   json_string_value(v), max_len);
        return K_EINVAL;
    }
    *out = json_string_value(v);
    return K_OK;
}

/* Strict decimal: optional '-', digits only, no overflow. */
static bool param_parse_int64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg)
        s++;
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

k_status param_int64(json_t *root, const char *path, int64_t *out, int64_t min, int64_t max,
                     param_err *err)
{
    K_ASSERT(out != NULL);
    K_ASSERT(min <= max);
    json_t *v = param_lookup(root, path);
    if (v == NULL)
        return K_ENOTFOUND;
    int64_t n = 0;
    bool ok = false;
    if (json_is_integer(v)) {
        n = (int64_t)json_integer_value(v);
        ok = true;
    } else if (json_is_string(v)) {
        ok = param_parse_int64(json_string_value(v), &n);
    }
    if (!ok) {
        char *shown = param_show(v);
        param_fail(err, path, "Invalid integer: %.100s", shown != NULL ? shown : "?");
        free(shown);
        return K_EINVAL;
    }
    if (n < min) {
        param_fail(err, path, "This value must be greater than or equal to %lld.", (long long)min);
        return K_EINVAL;
    }
    if (n > max) {
        param_fail(err, path, "This value must be less than or equal to %lld.", (long long)max);
        return K_EINVAL;
    }
    *out = n;
    return K_OK;
}

k_status param_bool(json_t *root, const char *path, bool *out, param_err *err)
{
    K_ASSERT(out != NULL);
    json_t *v = param_lookup(root, path);
    if (v == NULL)
        return K_ENOTFOUND;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return K_OK;
    }
    /* "true"/"false" from stripe-node, -go, -java, -ruby, -php and curl; "True"/"False"
     * from stripe-python, which form-encodes str(bool). Stripe's v1 API takes both. */
    static const char *const yes[] = {"true", "True"};
    static const char *const no[] = {"false", "False"};
    for (size_t i = 0; json_is_string(v) && i < K_ARRAY_LEN(yes); i++) {
        if (strcmp(json_string_value(v), yes[i]) == 0) {
            *out = true;
            return K_OK;
        }
        if (strcmp(json_string_value(v), no[i]) == 0) {
            *out = false;
            return K_OK;
        }
    }
    char *shown = param_show(v);
    param_fail(err, path, "Invalid boolean: %.100s", shown != NULL ? shown : "?");
    free(shown);
    return K_EINVAL;
}

k_status param_enum(json_t *root, const char *path, const char *const *allowed, int *out,
                    param_err *err)
{
    K_ASSERT(allowed != NULL && allowed[0] != NULL);
    K_ASSERT(out != NULL);
    json_t *v = param_lookup(root, path);
    if (v == NULL)
        return K_ENOTFOUND;
    if (json_is_string(v)) {
        for (int i = 0; allowed[i] != NULL; i++) {
            if (strcmp(json_string_value(v), allowed[i]) == 0) {
                *out = i;
                return K_OK;
            }
        }
    }
    char name[LIMIT_PARAM_KEY_MAX];
    param_bracket_name(path, name, sizeof(name));
    char list[200];
    size_t o = 0;
    list[0] = '\0';
    for (int i = 0; allowed[i] != NULL && o < sizeof(list); i++) {
        const char *sep = i == 0 ? "" : allowed[i + 1] == NULL ? (i > 1 ? ", or " : " or ") : ", ";
        int w = snprintf(list + o, sizeof(list) - o, "%s%s", sep, allowed[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    param_fail(err, path, "Invalid %.100s: must be one of %s", name, list);
    return K_EINVAL;
}

json_t *param_node(json_t *root, const char *path)
{
    json_t *v = param_lookup(root, path);
    return json_is_object(v) || json_is_array(v) ? v : NULL;
}

const char *param_first_unknown(json_t *root, const char *const *known)
{
    K_ASSERT(known != NULL);
    if (!json_is_object(root))
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        (void)v;
        bool found = false;
        for (size_t i = 0; known[i] != NULL && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found)
            return key;
    }
    return NULL;
}
