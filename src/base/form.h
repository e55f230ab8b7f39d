/*
 * form.h - decode application/x-www-form-urlencoded bodies and query strings
 * with Stripe's bracket notation into a jansson tree, and read typed params.
 *
 *   amount=2500&metadata[order_id]=1002&payment_method_types[0]=klarna
 *   payment_method_types[]=klarna   (curl style, %5B%5D too; '+' is a space)
 *   -> {"amount":"2500","metadata":{"order_id":"1002"},"payment_method_types":["klarna"]}
 *
 * Leaf values stay strings. Numeric indices build arrays and must arrive in order
 * (0,1,2...; gaps or out-of-order indices are an error naming the key). A key
 * both scalar and nested ("a=1&a[b]=2") is an error. JSON bodies decode to the
 * same shape (numbers stay numbers), so the param readers below serve both.
 * Limits: LIMIT_PARAMS_MAX, LIMIT_PARAM_KEY_MAX, LIMIT_PARAM_VALUE_MAX,
 * LIMIT_NESTING_MAX, LIMIT_ARRAY_INDEX_MAX. No recursion on input.
 */
#ifndef KASSA_FORM_H
#define KASSA_FORM_H

#include "common.h"
#include "../limits.h"
#include <jansson.h>

/* Why decoding or reading a parameter failed: which parameter and why, ready
 * for Stripe's error object (param, message). */
typedef struct {
    k_status status; /* K_EINVAL or K_ETOOBIG */
    char param[LIMIT_PARAM_KEY_MAX];
    char message[256];
} param_err;

/* Decodes body[0..len) into a new object (caller json_decref's). On failure
 * returns NULL and fills err. An empty body gives an empty object. */
json_t *form_decode(const char *body, size_t len, param_err *err);

/* Decodes a JSON body (object at the top, depth <= LIMIT_NESTING_MAX). */
json_t *form_decode_json(const char *body, size_t len, param_err *err);

/* Percent-decodes s[0..len) into out (cap bytes incl. NUL); '+' -> ' ' when plus_space.
 * Returns decoded length or -1 on bad escapes / overflow. */
long form_unescape(const char *s, size_t len, char *out, size_t cap, bool plus_space);

/* Typed readers. `path` is a dotted path into the tree ("metadata.order_id",
 * "payment_method_data.billing_details.email"); `name` in errors is written in
 * bracket form as Stripe does ("payment_method_data[billing_details][email]").
 * Return K_OK and set *out; K_ENOTFOUND when absent (err untouched); K_EINVAL
 * with err filled when present but malformed. Strings "" count as present. */
k_status param_str(json_t *root, const char *path, const char **out, size_t max_len,
                   param_err *err);
k_status param_int64(json_t *root, const char *path, int64_t *out, int64_t min, int64_t max,
                     param_err *err);
k_status param_bool(json_t *root, const char *path, bool *out, param_err *err); /* true/false */
k_status param_enum(json_t *root, const char *path, const char *const *allowed, int *out,
                    param_err *err); /* index into NULL-terminated allowed[] */
/* Object or array node at path (NULL when absent). */
json_t *param_node(json_t *root, const char *path);

/* Marks known top-level keys; returns the first key of root not in known[]
 * (NULL-terminated), for Stripe's "Received unknown parameter: x". */
const char *param_first_unknown(json_t *root, const char *const *known);

/* Writes the bracket form of a dotted path: "a.b.0" -> "a[b][0]". */
void param_bracket_name(const char *path, char *out, size_t cap);

#endif
