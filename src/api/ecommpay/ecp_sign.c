/*
 * ecp_sign.c - ECommPay's signature algorithm (see ecp_sign.h): the
 * canonical string, HMAC-SHA512 signing, constant-time verification, and the
 * Payment Page query decoding it is verified on.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ecp_sign.h"
#include "../../base/form.h"
#include "../../limits.h"

/* A JavaScript array index: "0" or digits without a leading zero, below 2^32-1. */
static bool js_index(const char *k, uint64_t *out)
{
    size_t n = strlen(k);
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v >= 4294967295ULL)
        return false;
    *out = v;
    return true;
}

/* Next UTF-16 code unit of a UTF-8 string; *pend holds a pending low
 * surrogate. Malformed bytes compare as themselves. */
static unsigned utf16_next(const unsigned char **s, unsigned *pend)
{
    if (*pend != 0) {
        unsigned u = *pend;
        *pend = 0;
        return u;
    }
    const unsigned char *p = *s;
    unsigned c = p[0];
    size_t len = 1;
    if (c >= 0xF0 && p[1] && p[2] && p[3]) {
        c = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
        len = 4;
    } else if (c >= 0xE0 && p[1] && p[2]) {
        c = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        len = 3;
    } else if (c >= 0xC0 && p[1]) {
        c = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        len = 2;
    }
    *s = p + len;
    if (c >= 0x10000) {
        c -= 0x10000;
        *pend = 0xDC00 + (c & 0x3FF);
        return 0xD800 + (c >> 10);
    }
    return c;
}

static int utf16_cmp(const char *a, const char *b)
{
    const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
    unsigned qa = 0, qb = 0;
    while ((*pa || qa) && (*pb || qb)) {
        unsigned ua = utf16_next(&pa, &qa), ub = utf16_next(&pb, &qb);
        if (ua != ub)
            return ua < ub ? -1 : 1;
    }
    bool ea = !*pa && !qa, eb = !*pb && !qb;
    return ea && eb ? 0 : ea ? -1 : 1;
}

/* Object.keys().sort() re-inserted into an object: integer keys first in
 * numeric order, then the others in UTF-16 order. */
static int key_cmp(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    uint64_t ia, ib;
    bool na = js_index(a, &ia), nb = js_index(b, &ib);
    if (na && nb)
        return ia < ib ? -1 : ia > ib;
    if (na != nb)
        return na ? -1 : 1;
    return utf16_cmp(a, b);
}

void ecp_js_number(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, "%sInfinity", v < 0 ? "-" : "");
        return;
    }
    if (v == 0) {
        snprintf(out, cap, "0");
        return;
    }
    /* Shortest digits that read back as v. */
    char e[40];
    for (int p = 0; p < 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p, v);
        if (strtod(e, NULL) == v)
            break;
    }
    const char *s = e;
    bool neg = *s == '-';
    if (neg)
        s++;
    char digits[24];
    size_t k = 0;
    for (; *s && *s != 'e' && k < sizeof(digits) - 1; s++)
        if (*s != '.')
            digits[k++] = *s;
    digits[k] = '\0';
    long x = *s == 'e' ? strtol(s + 1, NULL, 10) : 0;
    long n = x + 1; /* value = 0.digits * 10^n */
    buf b;
    buf_init(&b, 64);
    if (neg)
        buf_append_str(&b, "-");
    if ((long)k <= n && n <= 21) {
        buf_append_str(&b, digits);
        for (long i = (long)k; i < n; i++)
            buf_append_str(&b, "0");
    } else if (0 < n && n <= 21) {
        buf_append(&b, digits, (size_t)n);
        buf_append_str(&b, ".");
        buf_append_str(&b, digits + n);
    } else if (-6 < n && n <= 0) {
        buf_append_str(&b, "0.");
        for (long i = 0; i < -n; i++)
            buf_append_str(&b, "0");
        buf_append_str(&b, digits);
    } else {
        buf_append(&b, digits, 1);
        if (k > 1) {
            buf_append_str(&b, ".");
            buf_append_str(&b, digits + 1);
        }
        buf_printf(&b, "e%c%ld", n - 1 < 0 ? '-' : '+', labs(n - 1));
    }
    snprintf(out, cap, "%.*s", (int)b.len, b.data != NULL ? b.data : "");
    buf_free(&b);
}

typedef struct {
    buf *out;
    buf path;
    bool drop_signature;
    bool first;
} canon;

static k_status emit_leaf(canon *c, json_t *v)
{
    char num[40] = "";
    const char *s = num;
    size_t n;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        n = strlen(num);
        break;
    case JSON_REAL:
        ecp_js_number(json_real_value(v), num, sizeof(num));
        n = strlen(num);
        break;
    case JSON_TRUE:
        s = "1";
        n = 1;
        break;
    case JSON_FALSE:
        s = "0";
        n = 1;
        break;
    default: /* null */
        n = 0;
        break;
    }
    k_status st = c->first ? K_OK : buf_append(c->out, ";", 1);
    c->first = false;
    if (st == K_OK)
        st = buf_append(c->out, c->path.data, c->path.len);
    if (st == K_OK)
        st = buf_append(c->out, ":", 1);
    if (st == K_OK && n > 0)
        st = buf_append(c->out, s, n);
    return st;
}

static k_status walk(canon *c, json_t *node, int depth);

/* One member: path grows by ":key" (or "key" at the root) for the child. */
static k_status walk_member(canon *c, const char *key, json_t *v, int depth)
{
    size_t keep = c->path.len;
    k_status st = keep > 0 ? buf_append(&c->path, ":", 1) : K_OK;
    if (st == K_OK)
        st = buf_append_str(&c->path, key);
    if (st == K_OK)
        st = json_is_object(v) || json_is_array(v) ? walk(c, v, depth + 1) : emit_leaf(c, v);
    c->path.len = keep;
    return st;
}

static k_status walk_object(canon *c, json_t *node, int depth)
{
    size_t n = json_object_size(node);
    if (n == 0)
        return K_OK;
    if (n > LIMIT_PARAMS_MAX)
        return K_ETOOBIG;
    const char **keys = malloc(n * sizeof(*keys));
    if (keys == NULL)
        return K_ENOMEM;
    size_t m = 0;
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v)
    {
        if (strcmp(k, "frame_mode") == 0 || (c->drop_signature && strcmp(k, "signature") == 0))
            continue;
        keys[m++] = k;
    }
    qsort(keys, m, sizeof(*keys), key_cmp);
    k_status st = K_OK;
    for (size_t i = 0; st == K_OK && i < m; i++)
        st = walk_member(c, keys[i], json_object_get(node, keys[i]), depth);
    free(keys);
    return st;
}

static k_status walk(canon *c, json_t *node, int depth)
{
    if (depth > LIMIT_NESTING_MAX)
        return K_ETOOBIG;
    if (json_is_object(node))
        return walk_object(c, node, depth);
    K_ASSERT(json_is_array(node));
    k_status st = K_OK;
    for (size_t i = 0; st == K_OK && i < json_array_size(node); i++) {
        char idx[24];
        snprintf(idx, sizeof(idx), "%zu", i);
        st = walk_member(c, idx, json_array_get(node, i), depth);
    }
    return st;
}

k_status ecp_canon(json_t *params, bool drop_signature, buf *out)
{
    K_ASSERT(out != NULL);
    if (!json_is_object(params) && !json_is_array(params))
        return K_EINVAL;
    canon c = {.out = out, .drop_signature = drop_signature, .first = true};
    buf_init(&c.path, LIMIT_PARAM_KEY_MAX * (LIMIT_NESTING_MAX + 1));
    k_status st = walk(&c, params, 0);
    buf_free(&c.path);
    return st;
}

/* ---- paymentpage-sdk-php's SignatureHandler (src/SignatureHandler.php) ----
 * Every leaf flattened to its whole path, each key's ':' doubled, the path
 * prefix left off when it is PHP-falsy ("" or "0"); the flattened map then
 * sorted once by PHP's ksort(SORT_NATURAL) (strnatcmp, stable for ties). */

static bool nat_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool nat_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Left-aligned digit runs (one starts with '0'): the first difference wins. */
static int nat_left(const unsigned char **a, const unsigned char *ae, const unsigned char **b,
                    const unsigned char *be)
{
    for (;; (*a)++, (*b)++) {
        bool da = *a < ae && nat_digit(**a), db = *b < be && nat_digit(**b);
        if (!da && !db)
            return 0;
        if (!da)
            return -1;
        if (!db)
            return 1;
        if (**a != **b)
            return **a < **b ? -1 : 1;
    }
}

/* Right-aligned digit runs: the longer run wins, else the first difference. */
static int nat_right(const unsigned char **a, const unsigned char *ae, const unsigned char **b,
                     const unsigned char *be)
{
    int bias = 0;
    for (;; (*a)++, (*b)++) {
        bool da = *a < ae && nat_digit(**a), db = *b < be && nat_digit(**b);
        if (!da && !db)
            return bias;
        if (!da)
            return -1;
        if (!db)
            return 1;
        if (bias == 0 && **a != **b)
            bias = **a < **b ? -1 : 1;
    }
}

int ecp_natcmp(const char *as, size_t an, const char *bs, size_t bn)
{
    if (an == 0 || bn == 0)
        return an == bn ? 0 : an > bn ? 1 : -1;
    const unsigned char *a = (const unsigned char *)as, *b = (const unsigned char *)bs;
    const unsigned char *ae = a + an, *be = b + bn;
    bool leading = true;
    for (;;) {
        if (leading) {
            while (*a == '0' && a + 1 < ae && nat_digit(a[1]))
                a++;
            while (*b == '0' && b + 1 < be && nat_digit(b[1]))
                b++;
            leading = false;
        }
        while (a < ae && nat_space(*a))
            a++;
        while (b < be && nat_space(*b))
            b++;
        unsigned ca = a < ae ? *a : 0, cb = b < be ? *b : 0;
        if (nat_digit((unsigned char)ca) && nat_digit((unsigned char)cb)) {
            int r = (ca == '0' || cb == '0') ? nat_left(&a, ae, &b, be) : nat_right(&a, ae, &b, be);
            if (r != 0)
                return r;
            if (a == ae && b == be)
                return 0;
            if (a == ae)
                return -1;
            if (b == be)
                return 1;
            ca = *a;
            cb = *b;
        }
        if (ca != cb)
            return ca < cb ? -1 : 1;
        a++;
        b++;
        if (a >= ae && b >= be)
            return 0;
        if (a >= ae)
            return -1;
        if (b >= be)
            return 1;
    }
}

/* PHP 8's (string) of a float: precision 14, "1.0E+25" style exponents. */
static void php_number(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NAN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, "%sINF", v < 0 ? "-" : "");
        return;
    }
    char g[32];
    snprintf(g, sizeof(g), "%.14G", v);
    char *e = strchr(g, 'E');
    if (e == NULL) {
        snprintf(out, cap, "%s", g);
        return;
    }
    *e = '\0';
    const char *x = e + 1;
    char sign = *x == '-' ? '-' : '+';
    if (*x == '-' || *x == '+')
        x++;
    while (*x == '0' && x[1] != '\0')
        x++;
    snprintf(out, cap, "%s%sE%c%s", g, strchr(g, '.') != NULL ? "" : ".0", sign, x);
}

typedef struct {
    size_t path_off, path_len, val_off, val_len;
} php_leaf;

typedef struct {
    buf text; /* every path and value, back to back */
    php_leaf *leaves;
    size_t n, cap;
    bool drop_signature;
} php_canon;

static k_status php_leaf_add(php_canon *c, size_t path_off, size_t path_len, json_t *v)
{
    char num[64] = "";
    const char *s = num;
    size_t n = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        n = strlen(num);
        break;
    case JSON_REAL:
        php_number(json_real_value(v), num, sizeof(num));
        n = strlen(num);
        break;
    case JSON_TRUE:
        s = "1";
        n = 1;
        break;
    case JSON_FALSE:
        s = "0";
        n = 1;
        break;
    default: /* null */
        break;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 32 : c->cap * 2;
        if (cap > LIMIT_PARAMS_MAX * 4)
            return K_ETOOBIG;
        php_leaf *l = realloc(c->leaves, cap * sizeof(*l));
        if (l == NULL)
            return K_ENOMEM;
        c->leaves = l;
        c->cap = cap;
    }
    size_t val_off = c->text.len;
    k_status st = n > 0 ? buf_append(&c->text, s, n) : K_OK;
    if (st == K_OK)
        c->leaves[c->n++] = (php_leaf){path_off, path_len, val_off, n};
    return st;
}

/* The child's path: prefix (when PHP reads it as true) ':' then key with ':' doubled. */
static k_status php_walk(php_canon *c, json_t *node, size_t pre_off, size_t pre_len, int depth);

static k_status php_member(php_canon *c, const char *key, json_t *v, size_t pre_off, size_t pre_len,
                           int depth)
{
    if (strcmp(key, "frame_mode") == 0 || (c->drop_signature && strcmp(key, "signature") == 0))
        return K_OK;
    size_t off = c->text.len;
    bool has_prefix = pre_len > 0 && !(pre_len == 1 && c->text.data[pre_off] == '0');
    k_status st = K_OK;
    if (has_prefix) {
        /* Copied first: an append may move the buffer the prefix lives in. */
        char *pre = malloc(pre_len);
        if (pre == NULL)
            return K_ENOMEM;
        memcpy(pre, c->text.data + pre_off, pre_len);
        st = buf_append(&c->text, pre, pre_len);
        free(pre);
        if (st == K_OK)
            st = buf_append(&c->text, ":", 1);
    }
    for (const char *p = key; st == K_OK && *p != '\0'; p++)
        st = buf_append(&c->text, *p == ':' ? "::" : p, *p == ':' ? 2 : 1);
    if (st != K_OK)
        return st;
    size_t len = c->text.len - off;
    if (json_is_object(v) || json_is_array(v))
        return php_walk(c, v, off, len, depth + 1);
    return php_leaf_add(c, off, len, v);
}

static k_status php_walk(php_canon *c, json_t *node, size_t pre_off, size_t pre_len, int depth)
{
    if (depth > LIMIT_NESTING_MAX)
        return K_ETOOBIG;
    k_status st = K_OK;
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v)
        {
            if (st == K_OK)
                st = php_member(c, k, v, pre_off, pre_len, depth);
        }
        return st;
    }
    for (size_t i = 0; st == K_OK && i < json_array_size(node); i++) {
        char idx[24];
        snprintf(idx, sizeof(idx), "%zu", i);
        st = php_member(c, idx, json_array_get(node, i), pre_off, pre_len, depth);
    }
    return st;
}

/* Stable merge sort of the leaves by natural order of their paths. */
static void php_sort(php_canon *c, php_leaf *tmp, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return;
    size_t mid = lo + (hi - lo) / 2;
    php_sort(c, tmp, lo, mid);
    php_sort(c, tmp, mid, hi);
    size_t i = lo, j = mid, k = lo;
    const char *t = c->text.data;
    while (i < mid && j < hi) {
        const php_leaf *a = &c->leaves[i], *b = &c->leaves[j];
        bool take_b = ecp_natcmp(t + a->path_off, a->path_len, t + b->path_off, b->path_len) > 0;
        tmp[k++] = take_b ? c->leaves[j++] : c->leaves[i++];
    }
    while (i < mid)
        tmp[k++] = c->leaves[i++];
    while (j < hi)
        tmp[k++] = c->leaves[j++];
    memcpy(c->leaves + lo, tmp + lo, (hi - lo) * sizeof(*tmp));
}

k_status ecp_canon_php(json_t *params, bool drop_signature, buf *out)
{
    K_ASSERT(out != NULL);
    if (!json_is_object(params) && !json_is_array(params))
        return K_EINVAL;
    php_canon c = {.drop_signature = drop_signature};
    buf_init(&c.text, LIMIT_HTTP_BODY_MAX * 4);
    k_status st = php_walk(&c, params, 0, 0, 0);
    php_leaf *tmp = st == K_OK && c.n > 0 ? malloc(c.n * sizeof(*tmp)) : NULL;
    if (st == K_OK && c.n > 0 && tmp == NULL)
        st = K_ENOMEM;
    if (st == K_OK && c.n > 0)
        php_sort(&c, tmp, 0, c.n);
    for (size_t i = 0; st == K_OK && i < c.n; i++) {
        const php_leaf *l = &c.leaves[i];
        if (i > 0)
            st = buf_append(out, ";", 1);
        if (st == K_OK)
            st = buf_append(out, c.text.data + l->path_off, l->path_len);
        if (st == K_OK)
            st = buf_append(out, ":", 1);
        if (st == K_OK && l->val_len > 0)
            st = buf_append(out, c.text.data + l->val_off, l->val_len);
    }
    free(tmp);
    free(c.leaves);
    buf_free(&c.text);
    return st;
}

static k_status sign_dropping(const char *secret, json_t *params, bool drop,
                              char out[SHA512_B64_LEN])
{
    K_ASSERT(secret != NULL);
    buf b;
    buf_init(&b, LIMIT_HTTP_BODY_MAX * 2);
    k_status st = ecp_canon(params, drop, &b);
    if (st == K_OK)
        crypto_hmac_sha512_b64(secret, strlen(secret), b.data != NULL ? b.data : "", b.len, out);
    buf_free(&b);
    return st;
}

k_status ecp_sign(const char *secret, json_t *params, char out[SHA512_B64_LEN])
{
    return sign_dropping(secret, params, true, out);
}

bool ecp_verify(const char *secret, json_t *params, const char *signature)
{
    if (signature == NULL || signature[0] == '\0' || secret == NULL)
        return false;
    char want[SHA512_B64_LEN];
    if (sign_dropping(secret, params, true, want) != K_OK)
        return false;
    size_t n = strlen(signature);
    /* Same length (always 88) before the constant-time comparison. */
    if (n == strlen(want) && crypto_eq(want, signature, n))
        return true;
    /* Signed by paymentpage-sdk-php, whose order differs in corner cases. */
    buf b;
    buf_init(&b, LIMIT_HTTP_BODY_MAX * 2);
    bool ok = ecp_canon_php(params, true, &b) == K_OK;
    if (ok)
        crypto_hmac_sha512_b64(secret, strlen(secret), b.data != NULL ? b.data : "", b.len, want);
    buf_free(&b);
    return ok && n == strlen(want) && crypto_eq(want, signature, n);
}

json_t *ecp_query_decode(const char *query)
{
    json_t *o = json_object();
    const char *p = query != NULL ? query : "";
    size_t count = 0;
    char *key = malloc(LIMIT_PARAM_KEY_MAX + 1), *val = malloc(LIMIT_PARAM_VALUE_MAX + 1);
    bool ok = o != NULL && key != NULL && val != NULL;
    while (ok && *p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;
        if (len > 0) {
            long kn = form_unescape(p, klen, key, LIMIT_PARAM_KEY_MAX + 1, true);
            long vn = eq != NULL ? form_unescape(eq + 1, len - klen - 1, val,
                                                 LIMIT_PARAM_VALUE_MAX + 1, true)
                                 : 0;
            ok = kn > 0 && vn >= 0 && ++count <= LIMIT_PARAMS_MAX;
            if (ok) {
                val[vn] = '\0';
                json_t *s = json_stringn(val, (size_t)vn);
                ok = s != NULL && json_object_set_new(o, key, s) == 0;
            }
        }
        p += len + (amp != NULL ? 1 : 0);
    }
    free(key);
    free(val);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A Payment Page value as the SDKs signed it: "true"/"True" as 1, "false"/"False" as 0. */
static json_t *query_leaf(json_t *v)
{
    const char *s = json_string_value(v);
    if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0))
        return json_string("1");
    if (s != NULL && (strcmp(s, "false") == 0 || strcmp(s, "False") == 0))
        return json_string("0");
    return json_incref(v);
}

/* The number of bracket groups when key is "name[x][y]..." with non-empty
 * groups and nothing after them, else 0 (the key is taken literally). */
static size_t query_groups(const char *key)
{
    const char *p = strchr(key, '[');
    if (p == NULL || p == key)
        return 0;
    size_t n = 0;
    while (*p == '[') {
        size_t w = strcspn(p + 1, "[]");
        if (w == 0 || p[1 + w] != ']')
            return 0;
        n++;
        p += w + 2;
    }
    return *p == '\0' ? n : 0;
}

/* Splits "a[b][0][c]" into its segments (pointing into scratch, a copy).
 * Returns the count: 1 for a key taken literally, 0 past LIMIT_NESTING_MAX. */
static size_t query_segments(const char *key, char *scratch, size_t cap, const char **seg)
{
    snprintf(scratch, cap, "%s", key);
    seg[0] = scratch;
    size_t groups = query_groups(scratch);
    if (groups > LIMIT_NESTING_MAX)
        return 0;
    char *p = strchr(scratch, '[');
    for (size_t i = 1; i <= groups; i++) {
        char *close = strchr(p, ']');
        *p = '\0';
        *close = '\0';
        seg[i] = p + 1;
        p = close + 1;
    }
    return groups + 1;
}

/* Puts v (a new reference, stolen) at segs[0..n) inside root, making objects on
 * the way. false when a key is both a value and a parent ("a=1&a[b]=2"). */
static bool query_put(json_t *root, const char **segs, size_t n, json_t *v)
{
    json_t *node = root;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *child = json_object_get(node, segs[i]);
        if (child == NULL) {
            child = json_object();
            json_object_set_new(node, segs[i], child);
        }
        if (!json_is_object(child)) {
            json_decref(v);
            return false;
        }
        node = child;
    }
    if (json_object_get(node, segs[n - 1]) != NULL) {
        json_decref(v);
        return false;
    }
    return json_object_set_new(node, segs[n - 1], v) == 0;
}

/* Payment Page parameters nest the way the SDKs sign them: PHP's
 * http_build_query sends receipt_data[positions][0][amount]=2600 and
 * paymentpage-sdk-php signs it as receipt_data:positions:0:amount:2600, which
 * is the canonical string of {"receipt_data":{"positions":{"0":{"amount":..}}}}
 * (integer keys sort first and in order, as array indices do). */
bool ecp_verify_query(const char *secret, json_t *query)
{
    const char *sig = json_string_value(json_object_get(query, "signature"));
    json_t *copy = json_object();
    char scratch[LIMIT_PARAM_KEY_MAX + 1];
    const char *segs[LIMIT_NESTING_MAX + 1];
    bool ok = copy != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(query, k, v)
    {
        if (!ok || k[0] == '_' || strcmp(k, "signature") == 0)
            continue;
        size_t n = query_segments(k, scratch, sizeof(scratch), segs);
        ok = n > 0 && query_put(copy, segs, n, query_leaf(v));
    }
    ok = ok && ecp_verify(secret, copy, sig);
    json_decref(copy);
    return ok;
}
