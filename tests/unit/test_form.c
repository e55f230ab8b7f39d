/*
 * test_form.c - form/JSON body decoding and the typed param readers (base/form.c).
 *
 * Table-driven: each case is a body and either the tree it must decode to, or
 * the status, param and message it must fail with. The first rows are the
 * bodies the official stripe-node client sends (reference/probes/
 * stripe-client-probe.out.txt); every limit in limits.h that form.c enforces is
 * hit at the boundary and one past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/form.h"

typedef struct {
    const char *name;
    const char *body;
    const char *want_json; /* NULL: decoding must fail */
    k_status want_status;
    const char *want_param;   /* exact, when failing */
    const char *want_message; /* substring, when failing */
} form_case;

static const form_case form_cases[] = {
    /* stripe-node 23.1.0 bodies, as recorded by the probe */
    {"stripe create",
     "amount=2500&currency=eur&payment_method_types[0]=klarna&capture_method=automatic&"
     "description=Order%20%231002&metadata[order_id]=1002&metadata[note%20key]=a%26b%3Dc",
     "{\"amount\":\"2500\",\"currency\":\"eur\",\"payment_method_types\":[\"klarna\"],"
     "\"capture_method\":\"automatic\",\"description\":\"Order #1002\","
     "\"metadata\":{\"order_id\":\"1002\",\"note key\":\"a&b=c\"}}",
     K_OK, NULL, NULL},
    {"stripe confirm",
     "payment_method_data[type]=klarna&payment_method_data[billing_details][email]=customer%"
     "40email.de&payment_method_data[billing_details][address][country]=DE&return_url=http%3A%"
     "2F%2F127.0.0.1%3A8080%2Freturn",
     "{\"payment_method_data\":{\"type\":\"klarna\",\"billing_details\":{\"email\":"
     "\"customer@email.de\",\"address\":{\"country\":\"DE\"}}},"
     "\"return_url\":\"http://127.0.0.1:8080/return\"}",
     K_OK, NULL, NULL},
    {"stripe retrieve query", "expand[0]=latest_charge", "{\"expand\":[\"latest_charge\"]}", K_OK,
     NULL, NULL},
    {"stripe refund", "payment_intent=pi_mock1&amount=500&reason=requested_by_customer",
     "{\"payment_intent\":\"pi_mock1\",\"amount\":\"500\",\"reason\":\"requested_by_customer\"}",
     K_OK, NULL, NULL},

    /* accepted shapes */
    {"empty body", "", "{}", K_OK, NULL, NULL},
    {"indexed array", "a[0]=x&a[1]=y", "{\"a\":[\"x\",\"y\"]}", K_OK, NULL, NULL},
    {"curl append", "a[]=x&a[]=y", "{\"a\":[\"x\",\"y\"]}", K_OK, NULL, NULL},
    {"escaped append", "a%5B%5D=x&a%5b%5d=y", "{\"a\":[\"x\",\"y\"]}", K_OK, NULL, NULL},
    {"escaped index", "a%5B0%5D=x", "{\"a\":[\"x\"]}", K_OK, NULL, NULL},
    {"append then index", "a[]=x&a[1]=y", "{\"a\":[\"x\",\"y\"]}", K_OK, NULL, NULL},
    {"plus is space", "description=Order+%231002&k+1=v",
     "{\"description\":\"Order #1002\",\"k 1\":\"v\"}", K_OK, NULL, NULL},
    {"escaped plus stays", "a=1%2B1", "{\"a\":\"1+1\"}", K_OK, NULL, NULL},
    {"empty value unsets", "description=&metadata[x]=",
     "{\"description\":\"\",\"metadata\":{\"x\":\"\"}}", K_OK, NULL, NULL},
    {"no equals sign", "flag", "{\"flag\":\"\"}", K_OK, NULL, NULL},
    {"equals inside value", "a=b=c", "{\"a\":\"b=c\"}", K_OK, NULL, NULL},
    {"empty pairs skipped", "&a=1&&b=2&", "{\"a\":\"1\",\"b\":\"2\"}", K_OK, NULL, NULL},
    {"utf-8 value", "name=K%C3%B6ln", "{\"name\":\"K\xc3\xb6ln\"}", K_OK, NULL, NULL},
    {"order lines",
     "order_lines[0][name]=A&order_lines[0][quantity]=1&order_lines[1][name]=B&"
     "order_lines[0][tax][rate]=19",
     "{\"order_lines\":[{\"name\":\"A\",\"quantity\":\"1\",\"tax\":{\"rate\":\"19\"}},"
     "{\"name\":\"B\"}]}",
     K_OK, NULL, NULL},
    {"append objects rack style", "a[][x]=1&a[][y]=2&a[][x]=3",
     "{\"a\":[{\"x\":\"1\",\"y\":\"2\"},{\"x\":\"3\"}]}", K_OK, NULL, NULL},
    {"digit key in object", "metadata[a]=1&metadata[7]=2",
     "{\"metadata\":{\"a\":\"1\",\"7\":\"2\"}}", K_OK, NULL, NULL},
    {"leading zero is a name", "a[01]=x", "{\"a\":{\"01\":\"x\"}}", K_OK, NULL, NULL},
    {"a scalar given twice is refused", "amount=1&amount=2", NULL, K_EINVAL, "amount",
     "given more than once"},
    {"same index replaces", "a[0]=x&a[0]=y", "{\"a\":[\"y\"]}", K_OK, NULL, NULL},
    {"array of arrays", "a[0][0]=x&a[0][1]=y&a[1][0]=z", "{\"a\":[[\"x\",\"y\"],[\"z\"]]}", K_OK,
     NULL, NULL},
    {"nesting at the limit", "a[b][c][d][e][f][g][h][i]=x",
     "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":\"x\"}}}}}}}}}", K_OK, NULL,
     NULL},
    {"index just below the limit", "a[999]=x", NULL, K_EINVAL, "a[999]",
     "Invalid array index in a[999]: expected 0"},

    /* malformed */
    {"gap in indices", "payment_method_types[0]=a&payment_method_types[5]=b", NULL, K_EINVAL,
     "payment_method_types[5]", "Invalid array index in payment_method_types[5]: expected 1"},
    {"first index not 0", "a[1]=x", NULL, K_EINVAL, "a[1]",
     "Invalid array index in a[1]: expected 0"},
    {"out of order", "a[1]=x&a[0]=y", NULL, K_EINVAL, "a[1]", "expected 0"},
    {"scalar then nested", "a=1&a[b]=2", NULL, K_EINVAL, "a[b]", "mixes a value"},
    {"nested then scalar", "a[b]=2&a=1", NULL, K_EINVAL, "a", "mixes a value"},
    {"index then scalar", "a[0][x]=1&a[0]=2", NULL, K_EINVAL, "a[0]", "mixes a value"},
    {"name into array", "a[0]=x&a[b]=y", NULL, K_EINVAL, "a[b]",
     "Invalid array index in a[b]: expected 1"},
    {"append into object", "a[x]=1&a[]=2", NULL, K_EINVAL, "a[]", "[] used on an object"},
    {"empty name", "=x", NULL, K_EINVAL, "", "Invalid parameter name"},
    {"bracket first", "[a]=x", NULL, K_EINVAL, "[a]", "Invalid parameter name"},
    {"unclosed bracket", "a[b=x", NULL, K_EINVAL, "a[b", "Invalid parameter name"},
    {"text after bracket", "a[b]c=x", NULL, K_EINVAL, "a[b]c", "Invalid parameter name"},
    {"stray close", "a]=x", NULL, K_EINVAL, "a]", "Invalid parameter name"},
    {"bracket in bracket", "a[b[c]]=x", NULL, K_EINVAL, "a[b[c]]", "Invalid parameter name"},
    {"bad escape in value", "a=%zz", NULL, K_EINVAL, "a", "Invalid percent-encoding"},
    {"short escape in value", "a=%4", NULL, K_EINVAL, "a", "Invalid percent-encoding"},
    {"bad escape in key", "a%=1", NULL, K_EINVAL, "a%", "Invalid percent-encoding"},
    {"nul in value", "a=x%00y", NULL, K_EINVAL, "a", "Invalid percent-encoding"},
    {"nul in key", "a%00b=1", NULL, K_EINVAL, "a%00b", "Invalid percent-encoding"},
    {"value not utf-8", "a=%FF", NULL, K_EINVAL, "a", "not UTF-8"},
    {"key not utf-8", "a%FF=1", NULL, K_EINVAL, "a\xff", "not UTF-8"},

    /* limits that fit in a literal */
    {"nesting past the limit", "a[b][c][d][e][f][g][h][i][j]=x", NULL, K_ETOOBIG,
     "a[b][c][d][e][f][g][h][i][j]", "nested too deeply"},
    {"index at the limit", "a[1000]=x", NULL, K_ETOOBIG, "a[1000]",
     "Array index too large in a[1000]"},
    {"huge index", "a[99999999999999999999]=x", NULL, K_ETOOBIG, "a[99999999999999999999]",
     "Array index too large"},
};

static void check_case(const form_case *c, json_t *got, const param_err *err)
{
    if (c->want_json != NULL) {
        if (got == NULL)
            fail_msg("%s: decoding failed: %s (%s)", c->name, err->message, err->param);
        json_error_t jerr;
        json_t *want = json_loads(c->want_json, 0, &jerr);
        if (want == NULL)
            fail_msg("%s: bad expected JSON: %s", c->name, jerr.text);
        if (!json_equal(want, got)) {
            char *s = json_dumps(got, JSON_COMPACT);
            print_error("%s: got %s\n", c->name, s);
            free(s);
            fail_msg("%s: tree differs", c->name);
        }
        json_decref(want);
        return;
    }
    if (got != NULL)
        fail_msg("%s: decoded but must fail", c->name);
    if (err->status != c->want_status)
        fail_msg("%s: status %d, want %d", c->name, err->status, c->want_status);
    if (strcmp(err->param, c->want_param) != 0)
        fail_msg("%s: param '%s', want '%s'", c->name, err->param, c->want_param);
    if (strstr(err->message, c->want_message) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", c->name, err->message, c->want_message);
}

static void test_form_table(void **state)
{
    (void)state;
    assert_true(K_ARRAY_LEN(form_cases) >= 30);
    for (size_t i = 0; i < K_ARRAY_LEN(form_cases); i++) {
        const form_case *c = &form_cases[i];
        param_err err;
        memset(&err, 0, sizeof(err));
        json_t *got = form_decode(c->body, strlen(c->body), &err);
        check_case(c, got, &err);
        json_decref(got);
    }
}

/* Decodes b and expects failure with status st and param prefix. */
static void expect_fail(buf *b, k_status st, const char *param_prefix, const char *msg)
{
    param_err err;
    memset(&err, 0, sizeof(err));
    json_t *j = form_decode(b->data, b->len, &err);
    assert_null(j);
    assert_int_equal(err.status, st);
    assert_memory_equal(err.param, param_prefix, strlen(param_prefix));
    assert_non_null(strstr(err.message, msg));
}

static json_t *expect_ok(buf *b)
{
    param_err err;
    memset(&err, 0, sizeof(err));
    json_t *j = form_decode(b->data, b->len, &err);
    if (j == NULL)
        fail_msg("decode failed: %s", err.message);
    return j;
}

static void test_form_param_count(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < LIMIT_PARAMS_MAX; i++)
        assert_int_equal(buf_printf(&b, "%sk%d=v", i ? "&" : "", i), K_OK);
    json_t *j = expect_ok(&b);
    assert_int_equal(json_object_size(j), LIMIT_PARAMS_MAX);
    json_decref(j);
    assert_int_equal(buf_append_str(&b, "&one=more"), K_OK);
    expect_fail(&b, K_ETOOBIG, "", "Too many parameters");
    buf_free(&b);
}

static void test_form_key_length(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < LIMIT_PARAM_KEY_MAX; i++)
        assert_int_equal(buf_append(&b, "k", 1), K_OK);
    assert_int_equal(buf_append_str(&b, "=v"), K_OK);
    json_t *j = expect_ok(&b);
    json_decref(j);
    buf_reset(&b);
    for (int i = 0; i <= LIMIT_PARAM_KEY_MAX; i++)
        assert_int_equal(buf_append(&b, "%6B", 3), K_OK); /* escaped: decoded length counts */
    assert_int_equal(buf_append_str(&b, "=v"), K_OK);
    expect_fail(&b, K_ETOOBIG, "%6B%6B", "Parameter name too long");
    buf_free(&b);
}

static void test_form_value_length(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_str(&b, "description="), K_OK);
    for (int i = 0; i < LIMIT_PARAM_VALUE_MAX; i++)
        assert_int_equal(buf_append(&b, "x", 1), K_OK);
    json_t *j = expect_ok(&b);
    assert_int_equal(json_string_length(json_object_get(j, "description")), LIMIT_PARAM_VALUE_MAX);
    json_decref(j);
    assert_int_equal(buf_append(&b, "x", 1), K_OK);
    expect_fail(&b, K_ETOOBIG, "description", "Value too long for description");
    buf_free(&b);
}

static void test_form_index_dense_to_limit(void **state)
{
    (void)state;
    /* Dense indices up to what both the parameter and the index limits allow,
     * then a gap. */
    enum {
        N = (LIMIT_PARAMS_MAX < LIMIT_ARRAY_INDEX_MAX ? LIMIT_PARAMS_MAX : LIMIT_ARRAY_INDEX_MAX) -
            10
    };
    _Static_assert(N > 300, "the test reads element 300");
    buf b;
    buf_init(&b, 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(buf_printf(&b, "%sa[%d]=%d", i ? "&" : "", i, i), K_OK);
    json_t *j = expect_ok(&b);
    json_t *a = json_object_get(j, "a");
    assert_int_equal(json_array_size(a), N);
    assert_string_equal(json_string_value(json_array_get(a, 300)), "300");
    json_decref(j);
    char gap[32], msg[160];
    snprintf(gap, sizeof(gap), "a[%d]", N + 5); /* a gap, still below the index limit */
    snprintf(msg, sizeof(msg), "Invalid array index in %s: expected %d", gap, N);
    assert_int_equal(buf_printf(&b, "&%s=x", gap), K_OK);
    expect_fail(&b, K_EINVAL, gap, msg);
    buf_free(&b);
}

static json_t *json_ok(const char *body)
{
    param_err err;
    memset(&err, 0, sizeof(err));
    json_t *j = form_decode_json(body, strlen(body), &err);
    if (j == NULL)
        fail_msg("JSON decode failed: %s", err.message);
    return j;
}

static void json_fail(const char *body, size_t len, k_status st, const char *param, const char *msg)
{
    param_err err;
    memset(&err, 0, sizeof(err));
    json_t *j = form_decode_json(body, len, &err);
    assert_null(j);
    assert_int_equal(err.status, st);
    assert_string_equal(err.param, param);
    if (strstr(err.message, msg) == NULL)
        fail_msg("message '%s' lacks '%s'", err.message, msg);
}

static void test_json_decode(void **state)
{
    (void)state;
    json_t *j = json_ok("{\"amount\":2500,\"capture\":true,\"metadata\":{\"a\":\"b\"}}");
    assert_int_equal(json_integer_value(json_object_get(j, "amount")), 2500);
    json_decref(j);
    j = json_ok("");
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);

    json_fail("[1,2]", 5, K_EINVAL, "", "top level must be an object");
    json_fail("\"x\"", 3, K_EINVAL, "", "Invalid JSON body");
    json_fail("{\"a\":", 5, K_EINVAL, "", "Invalid JSON body");
    json_fail("{\"a\":1,\"a\":2}", 13, K_EINVAL, "", "Invalid JSON body");
    json_fail("{\"a\":\"x\\u0000y\"}", 16, K_EINVAL, "", "Invalid JSON body");

    /* depth: eight containers below the top object pass, nine do not */
    const char *ok8 = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":[{\"h\":1}]}}}}}}}";
    j = json_ok(ok8);
    json_decref(j);
    const char *deep9 = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":[{\"h\":[1]}]}}}}}}}";
    json_fail(deep9, strlen(deep9), K_ETOOBIG, "a[b][c][d][e][f][g][0][h]", "nested too deeply");

    /* pathological nesting is refused without blowing the stack */
    buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_str(&b, "{\"a\":"), K_OK);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(buf_append(&b, "[", 1), K_OK);
    json_fail(b.data, b.len, K_EINVAL, "", "Invalid JSON body");

    /* long string, long key, long array */
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "{\"m\":{\"k\":\""), K_OK);
    for (int i = 0; i <= LIMIT_PARAM_VALUE_MAX; i++)
        assert_int_equal(buf_append(&b, "x", 1), K_OK);
    assert_int_equal(buf_append_str(&b, "\"}}"), K_OK);
    json_fail(b.data, b.len, K_ETOOBIG, "m[k]", "Value too long for m[k]");

    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "{\"a\":["), K_OK);
    for (int i = 0; i < LIMIT_ARRAY_INDEX_MAX; i++)
        assert_int_equal(buf_append_str(&b, i ? ",0" : "0"), K_OK);
    assert_int_equal(buf_append_str(&b, "]}"), K_OK);
    j = json_ok(b.data);
    json_decref(j);
    b.len -= 2;
    assert_int_equal(buf_append_str(&b, ",0]}"), K_OK);
    json_fail(b.data, b.len, K_ETOOBIG, "a", "Too many array elements in a");

    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "{\"x\":{\""), K_OK);
    for (int i = 0; i <= LIMIT_PARAM_KEY_MAX; i++)
        assert_int_equal(buf_append(&b, "k", 1), K_OK);
    assert_int_equal(buf_append_str(&b, "\":1}}"), K_OK);
    param_err err;
    assert_null(form_decode_json(b.data, b.len, &err));
    assert_int_equal(err.status, K_ETOOBIG);
    assert_memory_equal(err.param, "x[kkkk", 6);
    assert_int_equal(strlen(err.param), LIMIT_PARAM_KEY_MAX - 1);
    assert_non_null(strstr(err.message, "Parameter name too long"));
    buf_free(&b);
}

/* ------------------------------------------------------------------ readers */

static json_t *tree(const char *form)
{
    param_err err;
    json_t *j = form_decode(form, strlen(form), &err);
    assert_non_null(j);
    return j;
}

static void test_param_int64(void **state)
{
    (void)state;
    json_t *j = tree("a=2500&neg=-5&f=25.0&e=1e3&sp=+25&empty=&big=99999999999999999999&"
                     "min=-9223372036854775808&over=9223372036854775808&plus=%2B5&hex=0x10");
    int64_t v = 0;
    param_err err;
    assert_int_equal(param_int64(j, "a", &v, 1, LIMIT_AMOUNT_MAX, &err), K_OK);
    assert_int_equal(v, 2500);
    assert_int_equal(param_int64(j, "min", &v, INT64_MIN, INT64_MAX, &err), K_OK);
    assert_true(v == INT64_MIN);

    static const struct {
        const char *path, *msg;
    } bad[] = {{"f", "Invalid integer: 25.0"},   {"e", "Invalid integer: 1e3"},
               {"sp", "Invalid integer:  25"},   {"empty", "Invalid integer: "},
               {"big", "Invalid integer: 9999"}, {"over", "Invalid integer: 9223"},
               {"plus", "Invalid integer: +5"},  {"hex", "Invalid integer: 0x10"}};
    for (size_t i = 0; i < K_ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(param_int64(j, bad[i].path, &v, INT64_MIN, INT64_MAX, &err), K_EINVAL);
        assert_int_equal(err.status, K_EINVAL);
        assert_string_equal(err.param, bad[i].path);
        if (strncmp(err.message, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("%s: message '%s'", bad[i].path, err.message);
    }
    assert_int_equal(param_int64(j, "neg", &v, 1, 100, &err), K_EINVAL);
    assert_string_equal(err.message, "This value must be greater than or equal to 1.");
    assert_int_equal(param_int64(j, "a", &v, 1, 100, &err), K_EINVAL);
    assert_string_equal(err.message, "This value must be less than or equal to 100.");
    v = 7;
    memset(&err, 0, sizeof(err));
    assert_int_equal(param_int64(j, "absent", &v, 0, 10, &err), K_ENOTFOUND);
    assert_int_equal(v, 7);
    assert_int_equal(err.message[0], '\0');
    json_decref(j);

    /* JSON bodies: numbers are numbers, reals are not integers */
    j = json_loads("{\"a\":2500,\"r\":25.0,\"b\":true,\"n\":null,\"d\":{\"x\":{\"y\":\"3\"}}}", 0,
                   NULL);
    assert_int_equal(param_int64(j, "a", &v, 1, 10000, &err), K_OK);
    assert_int_equal(v, 2500);
    assert_int_equal(param_int64(j, "r", &v, 1, 10000, &err), K_EINVAL);
    assert_string_equal(err.message, "Invalid integer: 25.0");
    assert_int_equal(param_int64(j, "b", &v, 0, 1, &err), K_EINVAL);
    assert_int_equal(param_int64(j, "n", &v, 0, 1, &err), K_ENOTFOUND);
    assert_int_equal(param_int64(j, "d.x.y", &v, 5, 10, &err), K_EINVAL);
    assert_string_equal(err.param, "d[x][y]");
    json_decref(j);
}

static void test_param_str_bool_enum(void **state)
{
    (void)state;
    json_t *j = tree("description=&name=abcdef&t=true&f=false&one=1&T=True&F=False&U=TRUE&"
                     "payment_method_types[0]=klarna&payment_method_data[billing_details][email]"
                     "=a%40b.de&capture_method=later");
    const char *s = NULL;
    param_err err;
    assert_int_equal(param_str(j, "description", &s, 100, &err), K_OK);
    assert_string_equal(s, "");
    assert_int_equal(param_str(j, "name", &s, 6, &err), K_OK);
    assert_int_equal(param_str(j, "name", &s, 5, &err), K_EINVAL);
    assert_non_null(strstr(err.message, "at most 5 characters"));
    assert_int_equal(param_str(j, "payment_method_types.0", &s, 0, &err), K_OK);
    assert_string_equal(s, "klarna");
    assert_int_equal(param_str(j, "payment_method_types.1", &s, 0, &err), K_ENOTFOUND);
    assert_int_equal(param_str(j, "payment_method_data.billing_details.email", &s, 0, &err), K_OK);
    assert_string_equal(s, "a@b.de");
    assert_int_equal(param_str(j, "payment_method_data.billing_details", &s, 0, &err), K_EINVAL);
    assert_string_equal(err.param, "payment_method_data[billing_details]");

    bool b = false;
    assert_int_equal(param_bool(j, "t", &b, &err), K_OK);
    assert_true(b);
    assert_int_equal(param_bool(j, "f", &b, &err), K_OK);
    assert_false(b);
    assert_int_equal(param_bool(j, "one", &b, &err), K_EINVAL);
    assert_string_equal(err.message, "Invalid boolean: 1");
    assert_int_equal(param_bool(j, "T", &b, &err), K_OK); /* stripe-python's str(True) */
    assert_true(b);
    assert_int_equal(param_bool(j, "F", &b, &err), K_OK);
    assert_false(b);
    assert_int_equal(param_bool(j, "U", &b, &err), K_EINVAL);
    assert_string_equal(err.message, "Invalid boolean: TRUE");
    assert_string_equal(err.param, "U");
    assert_int_equal(param_bool(j, "nope", &b, &err), K_ENOTFOUND);

    static const char *const methods[] = {"automatic", "automatic_async", "manual", NULL};
    int idx = -1;
    assert_int_equal(param_enum(j, "capture_method", methods, &idx, &err), K_EINVAL);
    assert_string_equal(err.param, "capture_method");
    assert_string_equal(err.message, "Invalid capture_method: must be one of automatic, "
                                     "automatic_async, or manual");
    json_decref(j);
    j = tree("capture_method=manual");
    assert_int_equal(param_enum(j, "capture_method", methods, &idx, &err), K_OK);
    assert_int_equal(idx, 2);
    json_decref(j);

    j = json_loads("{\"capture\":false,\"s\":5}", 0, NULL);
    assert_int_equal(param_bool(j, "capture", &b, &err), K_OK);
    assert_false(b);
    assert_int_equal(param_str(j, "s", &s, 0, &err), K_EINVAL);
    json_decref(j);
}

static void test_param_node_unknown_names(void **state)
{
    (void)state;
    json_t *j = tree("amount=1&metadata[a]=b&payment_method_types[]=klarna&bogus=1");
    assert_true(json_is_object(param_node(j, "metadata")));
    assert_true(json_is_array(param_node(j, "payment_method_types")));
    assert_null(param_node(j, "amount"));
    assert_null(param_node(j, "missing"));
    static const char *const known[] = {"amount", "metadata", "payment_method_types", NULL};
    const char *u = param_first_unknown(j, known);
    assert_non_null(u);
    assert_string_equal(u, "bogus");
    static const char *const all[] = {"amount", "metadata", "payment_method_types", "bogus", NULL};
    assert_null(param_first_unknown(j, all));
    json_decref(j);

    char out[LIMIT_PARAM_KEY_MAX];
    param_bracket_name("a.b.0", out, sizeof(out));
    assert_string_equal(out, "a[b][0]");
    param_bracket_name("amount", out, sizeof(out));
    assert_string_equal(out, "amount");
    char small[6];
    param_bracket_name("abc.def", small, sizeof(small));
    assert_string_equal(small, "abc[d");
}

static void test_form_unescape(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(form_unescape("a%20b+c", 7, out, sizeof(out), true), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(form_unescape("a%20b+c", 7, out, sizeof(out), false), 5);
    assert_string_equal(out, "a b+c");
    assert_int_equal(form_unescape("%2", 2, out, sizeof(out), true), -1);
    assert_int_equal(form_unescape("%g0", 3, out, sizeof(out), true), -1);
    assert_int_equal(form_unescape("abcd", 4, out, 4, true), -1); /* no room for NUL */
    assert_int_equal(form_unescape("abc", 3, out, 4, true), 3);
    assert_int_equal(form_unescape("", 0, out, 1, true), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_table),
        cmocka_unit_test(test_form_param_count),
        cmocka_unit_test(test_form_key_length),
        cmocka_unit_test(test_form_value_length),
        cmocka_unit_test(test_form_index_dense_to_limit),
        cmocka_unit_test(test_json_decode),
        cmocka_unit_test(test_param_int64),
        cmocka_unit_test(test_param_str_bool_enum),
        cmocka_unit_test(test_param_node_unknown_names),
        cmocka_unit_test(test_form_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
