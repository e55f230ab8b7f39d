/*
 * stripe.c - the Stripe-compatible merchant API: routes, authentication,
 * parameter decoding (form bracket notation or JSON), idempotency keys,
 * pagination and Stripe's error object. Every handler translates its request
 * into one gateway call and renders the result; no business rule lives here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stripe_int.h"
#include "../../base/clock.h"
#include "../../base/crypto.h"
#include "../../base/log.h"
#include "../../gateway/keys.h"
#include "../../gateway/reqlog.h"

/* ---- request plumbing ---- */

/* Writes a record's answer (an object, key NULL) for the idempotency store. */
typedef void (*record_render)(jsonw *w, const void *record);

typedef struct {
    api_ctx *ctx;
    http_req *r;
    http_resp *resp;
    json_t *params;
    const char *merchant;
    gw_idem idem;
    record_render render;
    char fingerprint[SHA256_HEX_LEN];
} call;

static void send_json(call *c, int status, json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (body == NULL) {
        http_resp_set(c->resp, 500, "application/json",
                      "{\"error\":{\"type\":\"api_error\",\"message\":\"out of memory\"}}", 57);
        return;
    }
    http_resp_set(c->resp, status, "application/json", body, strlen(body));
    free(body);
}

/* Answers with JSON written straight into the response body (jsonw.h). */
static void send_begin(call *c, jsonw *w)
{
    buf_reset(&c->resp->body);
    jw_init(w, &c->resp->body);
}

static void send_end(call *c, jsonw *w, int status)
{
    if (jw_status(w) != K_OK) {
        static const char err[] = "{\"error\":{\"type\":\"api_error\","
                                  "\"message\":\"Response too large.\"}}";
        http_resp_set(c->resp, 500, "application/json", err, sizeof(err) - 1);
        return;
    }
    c->resp->status = status;
    c->resp->content_type = "application/json";
}

/* A list's envelope around data written between the two calls. */
static void list_begin(jsonw *w, const char *url, bool has_more)
{
    jw_obj(w, NULL);
    jw_str(w, "object", "list");
    jw_str(w, "url", url);
    jw_bool(w, "has_more", has_more);
    jw_arr(w, "data");
}

static void list_end(jsonw *w)
{
    jw_arr_end(w);
    jw_obj_end(w);
}

static void send_gw_err(call *c, const gw_err *e)
{
    int status = stripe_error_status(e);
    send_json(c, status, stripe_error_body(e));
    if (status == 503) /* busy or storage full: nothing was done, come back */
        http_resp_header(c->r, c->resp, "Retry-After", LIMIT_RETRY_AFTER_S_TEXT);
}

static void send_param_err(call *c, const param_err *pe)
{
    int status = pe->status == K_ETOOBIG ? 400 : 400;
    const char *code =
        strstr(pe->message, "integer") != NULL ? "parameter_invalid_integer" : "parameter_invalid";
    send_json(c, status, stripe_error_obj("invalid_request_error", code, pe->param, pe->message));
}

static void send_err(call *c, int status, const char *code, const char *param, const char *msg)
{
    send_json(c, status, stripe_error_obj("invalid_request_error", code, param, msg));
}

static void json_free_cb(void *p)
{
    json_decref((json_t *)p);
}

static bool is_json_body(const http_req *r)
{
    const char *ct = http_req_header(r, "Content-Type");
    return ct != NULL && strstr(ct, "application/json") != NULL;
}

/* Decodes the parameters and refuses unknown ones. known[] is NULL-terminated;
 * "expand" is always accepted. */
static bool begin(call *c, void *ctx, http_req *r, http_resp *resp, const char *const *known)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->r = r;
    c->resp = resp;
    c->merchant = r->principal;
    param_err pe;
    memset(&pe, 0, sizeof(pe));
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0;
    if (get)
        c->params = form_decode(r->query, strlen(r->query), &pe);
    else if (is_json_body(r))
        c->params = form_decode_json(r->body, r->body_len, &pe);
    else
        c->params = form_decode(r->body, r->body_len, &pe);
    if (c->params == NULL) {
        send_param_err(c, &pe);
        return false;
    }
    arena_defer(r->arena, json_free_cb, c->params);
    if (known != NULL) {
        const char *unknown = NULL;
        const char *k;
        json_t *v;
        json_object_foreach(c->params, k, v)
        {
            bool ok = strcmp(k, "expand") == 0;
            for (size_t i = 0; !ok && known[i] != NULL; i++)
                ok = strcmp(k, known[i]) == 0;
            if (!ok) {
                unknown = k;
                break;
            }
        }
        if (unknown != NULL) {
            char msg[LIMIT_PARAM_KEY_MAX + 64];
            snprintf(msg, sizeof(msg), "Received unknown parameter: %s", unknown);
            send_err(c, 400, "parameter_unknown", unknown, msg);
            return false;
        }
    }
    return true;
}

/* sha256 hex of "METHOD PATH\n" + the parameters as canonical JSON (keys
 * sorted), so the same request in another key order or encoding (form or
 * JSON) has the same fingerprint and any other change a different one. */
k_status stripe_fingerprint(const char *method, const char *path, json_t *params,
                            char out[SHA256_HEX_LEN])
{
    char *canon = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (canon == NULL)
        return K_ENOMEM;
    buf b;
    buf_init(&b, 0);
    k_status st = buf_printf(&b, "%s %s\n%s", method, path, canon);
    free(canon);
    if (st == K_OK)
        crypto_sha256_hex(b.data, b.len, out);
    buf_free(&b);
    return st;
}

static char *idem_render(gw_idem *self, const void *record, arena *a)
{
    call *c = self->ctx;
    buf b;
    buf_init(&b, LIMIT_RESPONSE_MAX);
    jsonw w;
    jw_init(&w, &b);
    c->render(&w, record);
    char *copy = jw_status(&w) == K_OK ? arena_strndup(a, b.data, b.len) : NULL;
    buf_free(&b);
    return copy;
}

/* Idempotency-Key handling before the work. false when the answer was sent
 * (replay or error). With no key, c->idem.key stays NULL. */
static bool idem_start(call *c, record_render render)
{
    c->render = render;
    const char *key = http_req_header(c->r, "Idempotency-Key");
    if (key == NULL || strcmp(c->r->method, "POST") != 0)
        return true;
    if (strlen(key) == 0 || strlen(key) > LIMIT_IDEMPOTENCY_KEY_MAX) {
        send_err(c, 400, "idempotency_key_invalid", NULL,
                 "Idempotency-Key must be 1 to 255 characters long.");
        return false;
    }
    if (stripe_fingerprint(c->r->method, c->r->path, c->params, c->fingerprint) != K_OK) {
        send_err(c, 500, NULL, NULL, "out of memory");
        return false;
    }
    c->idem.key = key;
    c->idem.fingerprint = c->fingerprint;
    c->idem.render = idem_render;
    c->idem.ctx = c;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_idem_begin(c->ctx->g, c->merchant, &c->idem, c->r->arena, &err);
    if (st == K_OK && c->idem.replayed) {
        http_resp_set(c->resp, c->idem.replay_status, "application/json", c->idem.replay_body,
                      strlen(c->idem.replay_body));
        http_resp_header(c->r, c->resp, "Idempotent-Replayed", "true");
        http_resp_header(c->r, c->resp, "Idempotency-Key", key);
        c->idem.key = NULL;
        return false;
    }
    if (st != K_ENOTFOUND) {
        c->idem.key = NULL;
        send_gw_err(c, &err);
        return false;
    }
    http_resp_header(c->r, c->resp, "Idempotency-Key", key);
    return true;
}

static void idem_finish(call *c)
{
    if (c->idem.key != NULL)
        gw_idem_end(c->ctx->g, c->merchant, &c->idem);
}

static gw_idem *idem_of(call *c)
{
    return c->idem.key != NULL ? &c->idem : NULL;
}

/* ---- typed parameters ---- */

static bool p_str(call *c, const char *path, const char **out, size_t max)
{
    param_err pe;
    k_status st = param_str(c->params, path, out, max, &pe);
    if (st == K_ENOTFOUND) {
        *out = NULL;
        return true;
    }
    if (st != K_OK) {
        send_param_err(c, &pe);
        return false;
    }
    return true;
}

static bool p_int(call *c, const char *path, int64_t *out, bool *has, int64_t min, int64_t max)
{
    param_err pe;
    k_status st = param_int64(c->params, path, out, min, max, &pe);
    *has = st == K_OK;
    if (st == K_OK || st == K_ENOTFOUND)
        return true;
    send_json(c, 400,
              stripe_error_obj("invalid_request_error", "parameter_invalid_integer", pe.param,
                               pe.message));
    return false;
}

static bool p_bool(call *c, const char *path, int *out)
{
    param_err pe;
    bool b;
    k_status st = param_bool(c->params, path, &b, &pe);
    if (st == K_ENOTFOUND)
        return true;
    if (st != K_OK) {
        send_param_err(c, &pe);
        return false;
    }
    *out = b ? 1 : 0;
    return true;
}

static bool p_enum(call *c, const char *path, const char *const *allowed, int *out)
{
    param_err pe;
    k_status st = param_enum(c->params, path, allowed, out, &pe);
    if (st == K_ENOTFOUND)
        return true;
    if (st != K_OK) {
        send_param_err(c, &pe);
        return false;
    }
    return true;
}

/* metadata: up to 50 string values, keys <= 40, values <= 500; "" unsets. */
static bool p_metadata(call *c, json_t **out)
{
    json_t *m = json_object_get(c->params, "metadata");
    *out = NULL;
    if (m == NULL)
        return true;
    if (json_is_string(m) && json_string_length(m) == 0) {
        *out = json_pack("{s:s}", GW_METADATA_CLEAR, ""); /* metadata= clears it all */
        arena_defer(c->r->arena, json_free_cb, *out);
        return true;
    }
    if (!json_is_object(m) || json_object_size(m) > LIMIT_METADATA_KEYS_MAX) {
        send_err(c, 400, "parameter_invalid", "metadata",
                 "metadata must be a hash of at most 50 keys with string values.");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        char name[LIMIT_PARAM_KEY_MAX];
        snprintf(name, sizeof(name), "metadata[%s]", k);
        if (strlen(k) > LIMIT_METADATA_KEY_MAX) {
            send_err(c, 400, "parameter_invalid", name,
                     "Metadata keys can be at most 40 characters long.");
            return false;
        }
        if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            json_object_set_new(m, k, json_string(s != NULL ? s : ""));
            free(s);
            v = json_object_get(m, k);
        }
        if (!json_is_string(v) || json_string_length(v) > LIMIT_METADATA_VALUE_MAX) {
            send_err(c, 400, "parameter_invalid", name,
                     "Metadata values must be strings of at most 500 characters.");
            return false;
        }
    }
    *out = m;
    return true;
}

static bool p_str_array(call *c, const char *key, json_t **out)
{
    json_t *a = json_object_get(c->params, key);
    *out = NULL;
    if (a == NULL)
        return true;
    /* key= is how stripe-go, -java and -php send an explicitly empty list: unset. */
    if (json_is_string(a) && json_string_length(a) == 0)
        return true;
    if (json_is_string(a)) { /* curl users write key=value without brackets */
        *out = json_pack("[O]", a);
        arena_defer(c->r->arena, json_free_cb, *out);
        return true;
    }
    size_t i;
    json_t *v;
    bool ok = json_is_array(a);
    json_array_foreach(a, i, v) ok = ok && json_is_string(v);
    if (!ok) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s must be an array of strings.", key);
        send_err(c, 400, "parameter_invalid", key, msg);
        return false;
    }
    *out = a;
    return true;
}

/* Kassa extension: order_lines[i][name|quantity|unit_price|tax_rate|total_amount|type|reference] */
static bool p_lines(call *c, const char *key, json_t **out)
{
    json_t *a = json_object_get(c->params, key);
    *out = NULL;
    if (a == NULL)
        return true;
    if (!json_is_array(a) || json_array_size(a) > LIMIT_ORDER_LINES_MAX) {
        send_err(c, 400, "parameter_invalid", key, "order_lines must be an array of lines.");
        return false;
    }
    json_t *lines = json_array();
    arena_defer(c->r->arena, json_free_cb, lines);
    size_t i;
    json_t *l;
    json_array_foreach(a, i, l)
    {
        char base[64];
        snprintf(base, sizeof(base), "%s.%zu", key, i);
        const char *name = json_string_value(json_object_get(l, "name"));
        int64_t qty = 1, unit = 0, tax = 0, total = 0, disc = 0;
        bool h1, h2, h3, h4, h5;
        char path[96];
#define LINE_INT(field, var, has, min, max)                                                        \
    snprintf(path, sizeof(path), "%s.%s", base, field);                                            \
    if (!p_int(c, path, &var, &has, min, max))                                                     \
        return false;
        LINE_INT("quantity", qty, h1, 0, 1000000)
        LINE_INT("unit_price", unit, h2, -200000000, 200000000)
        LINE_INT("tax_rate", tax, h3, 0, 10000)
        LINE_INT("total_amount", total, h4, -200000000, 200000000)
        LINE_INT("total_discount_amount", disc, h5, 0, 200000000)
#undef LINE_INT
        if (name == NULL || name[0] == '\0' || strlen(name) > LIMIT_LINE_NAME_MAX || !h2) {
            char p[96];
            snprintf(p, sizeof(p), "%s[%zu]", key, i);
            send_err(c, 400, "parameter_invalid", p,
                     "Each order line needs a name (1-255 characters) and a unit_price.");
            return false;
        }
        if (!h1)
            qty = 1;
        if (!h4)
            total = qty * unit - disc;
        int64_t tax_amount = tax > 0 ? total - total * 10000 / (10000 + tax) : 0;
        const char *type = json_string_value(json_object_get(l, "type"));
        const char *ref = json_string_value(json_object_get(l, "reference"));
        json_array_append_new(lines, json_pack("{s:s,s:s?,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "type",
                                               type != NULL ? type : "physical", "reference", ref,
                                               "name", name, "quantity", (json_int_t)qty,
                                               "unit_price", (json_int_t)unit, "tax_rate",
                                               (json_int_t)tax, "total_amount", (json_int_t)total,
                                               "total_tax_amount", (json_int_t)tax_amount,
                                               "total_discount_amount", (json_int_t)disc));
    }
    *out = lines;
    return true;
}

static bool expand_has(call *c, const char *what)
{
    json_t *e = json_object_get(c->params, "expand");
    size_t i;
    json_t *v;
    json_array_foreach(e, i, v)
    {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, what) == 0)
            return true;
    }
    return false;
}

/* ---- payment intents ---- */

static void render_pi_rec(jsonw *w, const void *rec)
{
    stripe_write_pi(w, NULL, rec, false);
}

static void send_pi(call *c, const gw_payment *p)
{
    jsonw w;
    send_begin(c, &w);
    stripe_write_pi(&w, NULL, p, expand_has(c, "latest_charge"));
    send_end(c, &w, 200);
}

static void send_pi_err(call *c, const gw_err *e, const gw_payment *p, bool with_pi)
{
    if (stripe_error_status(e) == 402 && with_pi) {
        json_t *body = stripe_error_body(e);
        json_object_set_new(json_object_get(body, "error"), "payment_intent",
                            stripe_render_pi(p, false));
        send_json(c, 402, body);
        return;
    }
    send_gw_err(c, e);
}

static const char *const CAPTURE_METHODS[] = {"automatic", "automatic_async", "manual", NULL};

/* Parameters shared by create, update and confirm. */
static bool pi_params(call *c, gw_pi_params *p)
{
    memset(p, 0, sizeof(*p));
    p->capture_manual = -1;
    if (!p_int(c, "amount", &p->amount, &p->has_amount, INT64_MIN / 2, INT64_MAX / 2))
        return false;
    if (!p_str(c, "currency", &p->currency, 3 + 1))
        return false;
    p->has_currency = p->currency != NULL;
    int cm = -1;
    if (!p_enum(c, "capture_method", CAPTURE_METHODS, &cm))
        return false;
    int kcm = -1;
    static const char *const KCM[] = {"manual", NULL};
    if (!p_enum(c, "payment_method_options.klarna.capture_method", KCM, &kcm))
        return false;
    if (cm >= 0)
        p->capture_manual = cm == 2;
    if (kcm == 0)
        p->capture_manual = 1;
    if (!p_str_array(c, "payment_method_types", &p->method_types))
        return false;
    if (!p_str(c, "description", &p->description, LIMIT_DESCRIPTION_MAX))
        return false;
    if (!p_metadata(c, &p->metadata))
        return false;
    if (!p_lines(c, "order_lines", &p->lines))
        return false;
    if (!p_str(c, "return_url", &p->return_url, LIMIT_URL_MAX))
        return false;
    if (!p_str(c, "payment_method_data.type", &p->method_type, 32))
        return false;
    if (!p_str(c, "payment_method_data.billing_details.email", &p->email, LIMIT_EMAIL_MAX))
        return false;
    if (!p_str(c, "payment_method_data.billing_details.name", &p->name, 200))
        return false;
    if (!p_str(c, "payment_method_data.billing_details.address.country", &p->country, 3))
        return false;
    if (!p_str(c, "payment_method_options.klarna.preferred_locale", &p->locale, 16))
        return false;
    if (p->email == NULL && !p_str(c, "receipt_email", &p->email, LIMIT_EMAIL_MAX))
        return false;
    int confirm = 0;
    if (!p_bool(c, "confirm", &confirm))
        return false;
    p->confirm = confirm == 1;
    if (p->country != NULL && strlen(p->country) != 2) {
        send_err(c, 400, "parameter_invalid_string",
                 "payment_method_data[billing_details][address][country]",
                 "Country must be a two-letter ISO 3166-1 code.");
        return false;
    }
    if (p->return_url != NULL && strncmp(p->return_url, "http://", 7) != 0 &&
        strncmp(p->return_url, "https://", 8) != 0) {
        send_err(c, 400, "url_invalid", "return_url", "Not a valid URL: return_url.");
        return false;
    }
    json_t *pm = json_object_get(c->params, "payment_method");
    if (pm != NULL && !(json_is_string(pm) && json_string_length(pm) == 0)) {
        send_err(c, 400, "resource_missing", "payment_method",
                 "Kassa does not store PaymentMethods: pass payment_method_data[type] instead.");
        return false;
    }
    return true;
}

static const char *const PI_CREATE_KNOWN[] = {"amount",
                                              "currency",
                                              "payment_method_types",
                                              "capture_method",
                                              "confirm",
                                              "description",
                                              "metadata",
                                              "return_url",
                                              "payment_method_data",
                                              "payment_method_options",
                                              "receipt_email",
                                              "customer",
                                              "statement_descriptor",
                                              "statement_descriptor_suffix",
                                              "shipping",
                                              "automatic_payment_methods",
                                              "confirmation_method",
                                              "payment_method",
                                              "use_stripe_sdk",
                                              "order_lines",
                                              "setup_future_usage",
                                              "error_on_requires_action",
                                              "off_session",
                                              "mandate_data",
                                              NULL};

/* A create without confirm answers from the writer's completion: prepared
 * here, committed by the writer while the connection waits suspended (no
 * thread sleeps on it), answered by pi_create_answer. It lives in the
 * request's arena: the idempotency key's render reaches back into c. */
typedef struct {
    call c;
    gw_pi_params p;
    gw_payment out;
    gw_pi_pending *pending;
} pi_create_call;

static void pi_create_written(void *arg) /* the writer's thread */
{
    pi_create_call *pc = arg;
    http_resume(pc->c.r);
}

static void pi_create_answer(http_req *r, http_resp *resp, void *arg)
{
    pi_create_call *pc = arg;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_create_end(pc->c.ctx->g, pc->pending, &err);
    idem_finish(&pc->c);
    if (st != K_OK)
        send_pi_err(&pc->c, &err, &pc->out, false);
    else
        send_pi(&pc->c, &pc->out);
}

static void h_pi_create(http_req *r, http_resp *resp, void *ctx)
{
    pi_create_call *pc = arena_alloc(r->arena, sizeof(*pc));
    if (pc == NULL) {
        http_resp_set(resp, 500, "application/json",
                      "{\"error\":{\"type\":\"api_error\",\"message\":\"out of memory\"}}", 57);
        return;
    }
    call *c = &pc->c;
    gw_pi_params *p = &pc->p;
    if (!begin(c, ctx, r, resp, PI_CREATE_KNOWN) || !pi_params(c, p))
        return;
    if (p->confirm && http_on_io_thread(r)) {
        http_to_worker(r); /* the provider call must not hold an I/O thread */
        return;
    }
    if (p->return_url != NULL && !p->confirm) {
        send_err(c, 400, "parameter_invalid", "return_url",
                 "return_url can only be used with confirm=true; pass it to confirm instead.");
        return;
    }
    if (!idem_start(c, render_pi_rec))
        return;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st;
    if (p->confirm) {
        st = gw_pi_create(c->ctx->g, c->merchant, p, idem_of(c), r->arena, &pc->out, &err);
    } else {
        st = gw_pi_create_prepare(c->ctx->g, c->merchant, p, idem_of(c), r->arena, &pc->out,
                                  &pc->pending, &err);
        if (st == K_OK) {
            http_defer(r, pi_create_answer, pc); /* before the writer can resume it */
            gw_pi_create_submit(c->ctx->g, pc->pending, pi_create_written, pc);
            return;
        }
    }
    idem_finish(c);
    if (st != K_OK)
        send_pi_err(c, &err, &pc->out, p->confirm);
    else
        send_pi(c, &pc->out);
}

static void h_pi_get(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"client_secret", NULL};
    call c;
    if (!begin(&c, ctx, r, resp, known))
        return;
    gw_payment out;
    gw_err err;
    if (gw_pi_get(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

static void h_pi_update(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    gw_pi_params p;
    if (!begin(&c, ctx, r, resp, PI_CREATE_KNOWN) || !pi_params(&c, &p))
        return;
    if (!idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        gw_pi_update(c.ctx->g, c.merchant, r->params[0], &p, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

static void h_pi_confirm(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    gw_pi_params p;
    if (!begin(&c, ctx, r, resp, PI_CREATE_KNOWN) || !pi_params(&c, &p))
        return;
    if (!idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    memset(&out, 0, sizeof(out));
    k_status st =
        gw_pi_confirm(c.ctx->g, c.merchant, r->params[0], &p, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_pi_err(&c, &err, &out, out.id[0] != '\0');
    else
        send_pi(&c, &out);
}

static void h_pi_capture(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"amount_to_capture",
                                        "final_capture",
                                        "metadata",
                                        "order_lines",
                                        "statement_descriptor",
                                        "statement_descriptor_suffix",
                                        NULL};
    call c;
    if (!begin(&c, ctx, r, resp, known))
        return;
    int64_t amount = 0;
    bool has = false;
    int final = 1;
    json_t *lines;
    if (!p_int(&c, "amount_to_capture", &amount, &has, 1, LIMIT_AMOUNT_MAX) ||
        !p_bool(&c, "final_capture", &final) || !p_lines(&c, "order_lines", &lines))
        return;
    if (!idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_pi_capture(c.ctx->g, c.merchant, r->params[0], has ? amount : 0, final == 1,
                                lines, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

static void h_pi_cancel(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"cancellation_reason", NULL};
    static const char *const reasons[] = {"duplicate", "fraudulent", "requested_by_customer",
                                          "abandoned", NULL};
    call c;
    if (!begin(&c, ctx, r, resp, known))
        return;
    int reason = -1;
    if (!p_enum(&c, "cancellation_reason", reasons, &reason))
        return;
    if (!idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        gw_pi_cancel(c.ctx->g, c.merchant, r->params[0], reason >= 0 ? reasons[reason] : NULL,
                     idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

/* Kassa extension: read the payment back from its provider now. */
static void h_pi_sync(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_payment out;
    gw_err err;
    if (gw_pi_sync(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

/* Kassa extension: extend an authorisation (Klarna's rule). */
static void h_pi_extend(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}) || !idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        gw_pi_extend(c.ctx->g, c.merchant, r->params[0], idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

/* Kassa extension: replace the order lines before full capture. */
static void h_pi_edit(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    json_t *lines;
    if (!begin(&c, ctx, r, resp, (const char *const[]){"order_lines", NULL}) ||
        !p_lines(&c, "order_lines", &lines) || !idem_start(&c, render_pi_rec))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        gw_pi_edit(c.ctx->g, c.merchant, r->params[0], lines, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

/* Kassa extension: send the customer the payment instructions again. */
static void h_pi_resend(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_payment out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_pi_resend(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_pi(&c, &out);
}

/* Kassa extension: the payment's journal of operations. */
static void h_pi_journal(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_payment p;
    gw_err err;
    store_op *ops;
    size_t n;
    if (gw_pi_get(c.ctx->g, c.merchant, r->params[0], r->arena, &p, &err) != K_OK ||
        gw_pi_journal(c.ctx->g, c.merchant, r->params[0], r->arena, &ops, &n, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            data, json_pack("{s:s,s:s,s:I,s:s,s:s?,s:s?,s:s?,s:s?,s:I}", "id", ops[i].id, "kind",
                            ops[i].kind, "amount", (json_int_t)ops[i].amount, "status",
                            ops[i].status, "code", ops[i].code, "message", ops[i].message,
                            "provider_ref", ops[i].provider_ref, "ref", ops[i].ref_id, "created",
                            (json_int_t)(ops[i].created_ms / 1000)));
    send_json(&c, 200,
              json_pack("{s:s,s:s,s:o,s:b}", "object", "list", "url",
                        arena_printf(r->arena, "/v1/payment_intents/%s/journal", p.id), "data",
                        data, "has_more", 0));
}

/* ---- lists ---- */

/* created=T (exactly T) or created[gte|gt|lte|lt]=T, unix seconds, as Stripe's
 * lists take them; any other key under created[] is named in the error. The
 * store reads 0 as unbounded, so bounds are kept at 1 second or more. */
static bool list_created(call *c, store_list_q *q)
{
    static const char *const ops[] = {"gte", "gt", "lte", "lt", NULL};
    json_t *node = json_object_get(c->params, "created");
    int64_t v;
    bool has;
    if (json_is_object(node)) {
        const char *unknown = param_first_unknown(node, ops);
        if (unknown != NULL) {
            char name[LIMIT_PARAM_KEY_MAX];
            snprintf(name, sizeof(name), "created[%.60s]", unknown);
            send_err(c, 400, "parameter_unknown", name,
                     "created takes an integer (unix seconds) or created[gte], created[gt], "
                     "created[lte], created[lt].");
            return false;
        }
    } else if (!p_int(c, "created", &v, &has, 1, INT64_MAX / 2)) {
        return false;
    } else if (has) {
        q->created_gte = q->created_lte = v;
        return true;
    }
    if (!p_int(c, "created.gte", &v, &has, 0, INT64_MAX / 2))
        return false;
    if (has)
        q->created_gte = v;
    if (!p_int(c, "created.gt", &v, &has, 0, INT64_MAX / 2))
        return false;
    if (has)
        q->created_gte = v + 1;
    if (!p_int(c, "created.lte", &v, &has, 1, INT64_MAX / 2))
        return false;
    if (has)
        q->created_lte = v;
    if (!p_int(c, "created.lt", &v, &has, 2, INT64_MAX / 2))
        return false;
    if (has)
        q->created_lte = v - 1;
    return true;
}

static bool list_query(call *c, store_list_q *q)
{
    memset(q, 0, sizeof(*q));
    int64_t limit = LIMIT_LIST_PAGE_DEFAULT;
    bool has;
    if (!p_int(c, "limit", &limit, &has, 1, LIMIT_LIST_PAGE_MAX))
        return false;
    q->limit = (int)limit;
    if (!p_str(c, "starting_after", &q->starting_after, LIMIT_ID_MAX) ||
        !p_str(c, "ending_before", &q->ending_before, LIMIT_ID_MAX))
        return false;
    if (q->starting_after != NULL && q->ending_before != NULL) {
        send_err(c, 400, "parameter_invalid", "ending_before",
                 "You may only specify one of these parameters: starting_after, ending_before.");
        return false;
    }
    return list_created(c, q);
}

static void send_list(call *c, const char *url, json_t *data, bool has_more)
{
    send_json(c, 200,
              json_pack("{s:s,s:s,s:b,s:o}", "object", "list", "url", url, "has_more", has_more,
                        "data", data));
}

static const char *const LIST_KNOWN[] = {"limit",   "starting_after", "ending_before",
                                         "created", "customer",       NULL};

static void h_pi_list(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, LIST_KNOWN) || !list_query(&c, &q))
        return;
    gw_payment *ps;
    size_t n;
    bool more;
    gw_err err;
    if (gw_pi_list(c.ctx->g, c.merchant, &q, r->arena, &ps, &n, &more, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    jsonw w;
    send_begin(&c, &w);
    list_begin(&w, "/v1/payment_intents", more);
    for (size_t i = 0; i < n; i++)
        stripe_write_pi(&w, NULL, &ps[i], false);
    list_end(&w);
    send_end(&c, &w, 200);
}

/* ---- refunds ---- */

static void render_refund_rec(jsonw *w, const void *rec)
{
    json_t *o = stripe_render_refund(rec);
    jw_json(w, NULL, o);
    json_decref(o);
}

static void h_refund_create(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {
        "payment_intent", "charge", "amount", "reason", "metadata", "instructions_email", NULL};
    static const char *const reasons[] = {"duplicate", "fraudulent", "requested_by_customer", NULL};
    call c;
    if (!begin(&c, ctx, r, resp, known))
        return;
    gw_refund_params p;
    memset(&p, 0, sizeof(p));
    bool has;
    const char *charge = NULL;
    int reason = -1;
    if (!p_str(&c, "payment_intent", &p.payment_id, LIMIT_ID_MAX) ||
        !p_str(&c, "charge", &charge, LIMIT_ID_MAX) ||
        !p_int(&c, "amount", &p.amount, &has, 1, LIMIT_AMOUNT_MAX) ||
        !p_enum(&c, "reason", reasons, &reason) || !p_metadata(&c, &p.metadata))
        return;
    if (p.payment_id == NULL && charge != NULL && strncmp(charge, "ch_", 3) == 0)
        p.payment_id = arena_printf(r->arena, "pi_%s", charge + 3);
    if (p.payment_id == NULL) {
        send_err(&c, 400, "parameter_missing", "payment_intent",
                 "Missing required param: payment_intent (or charge).");
        return;
    }
    p.reason = reason >= 0 ? reasons[reason] : NULL;
    if (!idem_start(&c, render_refund_rec))
        return;
    gw_refund out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_refund_create(c.ctx->g, c.merchant, &p, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_refund(&out));
}

static void h_refund_get(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_refund out;
    gw_err err;
    if (gw_refund_get(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_refund(&out));
}

static void h_refund_list(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {
        "limit", "starting_after", "ending_before", "created", "payment_intent", "charge", NULL};
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, known) || !list_query(&c, &q))
        return;
    if (!p_str(&c, "payment_intent", &q.parent_id, LIMIT_ID_MAX))
        return;
    gw_refund *rs;
    size_t n;
    bool more;
    gw_err err;
    if (gw_refund_list(c.ctx->g, c.merchant, &q, r->arena, &rs, &n, &more, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, stripe_render_refund(&rs[i]));
    send_list(&c, "/v1/refunds", data, more);
}

/* ---- events ---- */

static void send_event(call *c, const gw_event *ev)
{
    jsonw w;
    send_begin(c, &w);
    stripe_write_event(&w, NULL, ev, c->r->arena);
    send_end(c, &w, 200);
}

static void h_event_get(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_event ev;
    gw_err err;
    if (gw_event_get(c.ctx->g, c.merchant, r->params[0], r->arena, &ev, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_event(&c, &ev);
}

static void h_event_list(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"limit", "starting_after", "ending_before",    "created",
                                        "type",  "types",          "delivery_success", NULL};
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, known) || !list_query(&c, &q))
        return;
    const char *type;
    if (!p_str(&c, "type", &type, 128))
        return;
    if (type != NULL) {
        size_t len = strlen(type);
        q.type_prefix =
            len > 0 && type[len - 1] == '*' ? arena_strndup(r->arena, type, len - 1) : type;
    }
    gw_event *evs;
    size_t n;
    bool more;
    gw_err err;
    if (gw_event_list(c.ctx->g, c.merchant, &q, r->arena, &evs, &n, &more, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    jsonw w;
    send_begin(&c, &w);
    list_begin(&w, "/v1/events", more);
    for (size_t i = 0; i < n; i++) {
        if (type != NULL && type[strlen(type) - 1] != '*' && strcmp(evs[i].type, type) != 0)
            continue;
        stripe_write_event(&w, NULL, &evs[i], r->arena);
    }
    list_end(&w);
    send_end(&c, &w, 200);
}

static void h_event_resend(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_err err;
    memset(&err, 0, sizeof(err));
    gw_event ev;
    if (gw_event_resend(c.ctx->g, c.merchant, r->params[0], &err) != K_OK ||
        gw_event_get(c.ctx->g, c.merchant, r->params[0], r->arena, &ev, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_event(&c, &ev);
}

static void h_event_deliveries(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *list;
    gw_err err;
    if (gw_event_deliveries(c.ctx->g, c.merchant, r->params[0], r->arena, &list, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    send_list(&c, arena_printf(r->arena, "/v1/events/%s/deliveries", r->params[0]),
              json_incref(list), false);
}

/* ---- webhook endpoints ---- */

static void render_endpoint_new(jsonw *w, const void *rec)
{
    json_t *o = stripe_render_endpoint(rec, true);
    jw_json(w, NULL, o);
    json_decref(o);
}

static void render_endpoint_rec(jsonw *w, const void *rec)
{
    json_t *o = stripe_render_endpoint(rec, false);
    jw_json(w, NULL, o);
    json_decref(o);
}

static bool endpoint_params(call *c, gw_endpoint_params *p)
{
    memset(p, 0, sizeof(*p));
    p->disabled = -1;
    if (!p_str(c, "url", &p->url, LIMIT_URL_MAX) ||
        !p_str_array(c, "enabled_events", &p->enabled_events) ||
        !p_str(c, "description", &p->description, LIMIT_DESCRIPTION_MAX) ||
        !p_metadata(c, &p->metadata) || !p_bool(c, "disabled", &p->disabled) ||
        !p_str(c, "api_version", &p->api_version, 64))
        return false;
    return true;
}

static const char *const WE_KNOWN[] = {"url",      "enabled_events", "description", "metadata",
                                       "disabled", "api_version",    "connect",     NULL};

static void h_we_create(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    gw_endpoint_params p;
    if (!begin(&c, ctx, r, resp, WE_KNOWN) || !endpoint_params(&c, &p))
        return;
    if (!idem_start(&c, render_endpoint_new))
        return;
    gw_endpoint out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_endpoint_create(c.ctx->g, c.merchant, &p, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_endpoint(&out, true));
}

static void h_we_get(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_endpoint out;
    gw_err err;
    if (gw_endpoint_get(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_endpoint(&out, false));
}

static void h_we_update(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    gw_endpoint_params p;
    if (!begin(&c, ctx, r, resp, WE_KNOWN) || !endpoint_params(&c, &p))
        return;
    if (!idem_start(&c, render_endpoint_rec))
        return;
    gw_endpoint out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_endpoint_update(c.ctx->g, c.merchant, r->params[0], &p, idem_of(&c), r->arena,
                                     &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_endpoint(&out, false));
}

static void h_we_delete(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_endpoint out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (gw_endpoint_delete(c.ctx->g, c.merchant, r->params[0], NULL, r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_deleted(r->params[0], "webhook_endpoint"));
}

static void h_we_list(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, LIST_KNOWN) || !list_query(&c, &q))
        return;
    gw_endpoint *es;
    size_t n;
    bool more;
    gw_err err;
    if (gw_endpoint_list(c.ctx->g, c.merchant, &q, r->arena, &es, &n, &more, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, stripe_render_endpoint(&es[i], false));
    send_list(&c, "/v1/webhook_endpoints", data, more);
}

/* ---- checkout sessions ---- */

static void render_session_rec(jsonw *w, const void *rec)
{
    json_t *o = stripe_render_session(rec);
    jw_json(w, NULL, o);
    json_decref(o);
}

static const char *const CS_KNOWN[] = {"line_items",
                                       "mode",
                                       "success_url",
                                       "cancel_url",
                                       "locale",
                                       "customer_email",
                                       "client_reference_id",
                                       "payment_method_types",
                                       "metadata",
                                       "payment_intent_data",
                                       "expires_at",
                                       "currency",
                                       "ui_mode",
                                       "submit_type",
                                       "billing_address_collection",
                                       NULL};

/* price_data[unit_amount_decimal] as the clients write it (stripe-go FormatFloat 'f' -1:
 * "1299", "1299.5"; stripe-java BigDecimal#toString: "1299.00"): Kassa charges whole minor
 * units, so a value with a non-zero fraction is refused. Sets unit_amount from it. */
static bool p_unit_decimal(call *c, json_t *pd, size_t i)
{
    json_t *d = json_object_get(pd, "unit_amount_decimal");
    if (d == NULL)
        return true;
    char name[96];
    snprintf(name, sizeof(name), "line_items[%zu][price_data][unit_amount_decimal]", i);
    if (json_object_get(pd, "unit_amount") != NULL) {
        send_err(c, 400, "parameter_invalid", name,
                 "You may only specify one of these parameters: unit_amount, unit_amount_decimal.");
        return false;
    }
    char num[64];
    const char *s = json_string_value(d);
    if (json_is_integer(d)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(d));
        s = num;
    } else if (json_is_real(d)) {
        snprintf(num, sizeof(num), "%.12f", json_real_value(d));
        s = num;
    }
    int64_t v = 0;
    size_t n = 0, frac = 0;
    bool ok = s != NULL && s[0] != '\0', nonzero = false, dot = false;
    for (const char *q = s; ok && *q != '\0'; q++) {
        if (*q == '.' && !dot && n > 0) {
            dot = true;
        } else if (*q >= '0' && *q <= '9' && !dot) {
            ok = ++n <= 8;
            v = v * 10 + (*q - '0');
        } else if (*q >= '0' && *q <= '9') {
            ok = ++frac <= 12;
            nonzero = nonzero || *q != '0';
        } else {
            ok = false;
        }
    }
    if (!ok || (dot && frac == 0)) {
        send_err(c, 400, "parameter_invalid", name,
                 "unit_amount_decimal must be a decimal number of at most 8 digits before the "
                 "point and 12 after it.");
        return false;
    }
    if (nonzero) {
        send_err(c, 400, "parameter_invalid", name,
                 "Kassa charges whole minor units: unit_amount_decimal must not have a fractional "
                 "part (use unit_amount).");
        return false;
    }
    json_object_set_new(pd, "unit_amount", json_integer(v));
    json_object_del(pd, "unit_amount_decimal");
    return true;
}

static void h_cs_create(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const modes[] = {"payment", NULL};
    static const char *const locales[] = {"auto", "en", "de", "fr", "fi", "sv", NULL};
    call c;
    if (!begin(&c, ctx, r, resp, CS_KNOWN))
        return;
    gw_session_params p;
    memset(&p, 0, sizeof(p));
    p.capture_manual = -1;
    int mode = 0, locale = -1, cm = -1;
    bool has;
    if (!p_enum(&c, "mode", modes, &mode) || !p_enum(&c, "locale", locales, &locale) ||
        !p_str(&c, "success_url", &p.success_url, LIMIT_URL_MAX) ||
        !p_str(&c, "cancel_url", &p.cancel_url, LIMIT_URL_MAX) ||
        !p_str(&c, "customer_email", &p.customer_email, LIMIT_EMAIL_MAX) ||
        !p_str(&c, "client_reference_id", &p.client_reference_id, 200) ||
        !p_str(&c, "currency", &p.currency, 4) ||
        !p_str_array(&c, "payment_method_types", &p.method_types) || !p_metadata(&c, &p.metadata) ||
        !p_enum(&c, "payment_intent_data.capture_method", CAPTURE_METHODS, &cm) ||
        !p_int(&c, "expires_at", &p.expires_at, &has, 0, INT64_MAX / 2))
        return;
    p.locale = locale >= 0 ? locales[locale] : NULL;
    p.capture_manual = cm < 0 ? -1 : cm == 2;
    json_t *items = json_object_get(c.params, "line_items");
    if (items != NULL && !json_is_array(items)) {
        send_err(&c, 400, "parameter_invalid", "line_items", "line_items must be an array.");
        return;
    }
    /* Form bodies carry numbers as strings: make unit_amount and quantity integers. */
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        char path[96];
        int64_t v;
        bool h;
        snprintf(path, sizeof(path), "line_items.%zu.quantity", i);
        if (!p_int(&c, path, &v, &h, 1, 999999))
            return;
        if (h)
            json_object_set_new(it, "quantity", json_integer(v));
        json_t *pd = json_object_get(it, "price_data");
        if (json_is_object(pd) && !p_unit_decimal(&c, pd, i))
            return;
        snprintf(path, sizeof(path), "line_items.%zu.price_data.unit_amount", i);
        if (!p_int(&c, path, &v, &h, 0, 99999999))
            return;
        if (h)
            json_object_set_new(json_object_get(it, "price_data"), "unit_amount", json_integer(v));
    }
    p.line_items = items;
    if (!idem_start(&c, render_session_rec))
        return;
    gw_session out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_session_create(c.ctx->g, c.merchant, &p, idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_session(&out));
}

static void h_cs_get(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    gw_session out;
    gw_err err;
    if (gw_session_get(c.ctx->g, c.merchant, r->params[0], r->arena, &out, &err) != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_session(&out));
}

static void h_cs_list(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {
        "limit", "starting_after", "ending_before", "created", "payment_intent", "status", NULL};
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, known) || !list_query(&c, &q))
        return;
    if (!p_str(&c, "payment_intent", &q.parent_id, LIMIT_ID_MAX) ||
        !p_str(&c, "status", &q.status, 16))
        return;
    gw_session *ss;
    size_t n;
    bool more;
    gw_err err;
    if (gw_session_list(c.ctx->g, c.merchant, &q, r->arena, &ss, &n, &more, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, stripe_render_session(&ss[i]));
    send_list(&c, "/v1/checkout/sessions", data, more);
}

/* The session's line items as a list (stripe.checkout.sessions.listLineItems):
 * the items in the order the merchant gave them, paged with limit and
 * starting_after / ending_before (a line item id). */
static void h_cs_line_items(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"limit", "starting_after", "ending_before", NULL};
    call c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp, known) || !list_query(&c, &q))
        return;
    gw_session s;
    gw_err err;
    if (gw_session_get(c.ctx->g, c.merchant, r->params[0], r->arena, &s, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    size_t n = json_array_size(s.line_items);
    size_t from = 0, to = n;
    const char *cursor = q.starting_after != NULL ? q.starting_after : q.ending_before;
    if (cursor != NULL) {
        size_t at = n;
        for (size_t i = 0; i < n && at == n; i++) {
            char id[LIMIT_ID_MAX];
            stripe_line_item_id(&s, i, id);
            if (strcmp(id, cursor) == 0)
                at = i;
        }
        if (at == n) {
            send_err(&c, 400, "resource_missing",
                     q.starting_after != NULL ? "starting_after" : "ending_before",
                     "No such line item on this session.");
            return;
        }
        if (q.starting_after != NULL)
            from = at + 1;
        else
            to = at;
    }
    K_ASSERT(from <= to);
    K_ASSERT(q.limit > 0);
    if (to - from > (size_t)q.limit) {
        if (q.ending_before != NULL)
            from = to - (size_t)q.limit;
        else
            to = from + (size_t)q.limit;
    }
    bool more = q.ending_before != NULL ? from > 0 : to < n;
    json_t *data = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(data, stripe_render_line_item(&s, i));
    send_list(&c, arena_printf(r->arena, "/v1/checkout/sessions/%s/line_items", s.id), data, more);
}

static void h_cs_expire(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    if (!idem_start(&c, render_session_rec))
        return;
    gw_session out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st =
        gw_session_expire(c.ctx->g, c.merchant, r->params[0], idem_of(&c), r->arena, &out, &err);
    idem_finish(&c);
    if (st != K_OK)
        send_gw_err(&c, &err);
    else
        send_json(&c, 200, stripe_render_session(&out));
}

/* ---- Kassa extension: what the customer's pages show of the merchant ---- */

static void h_branding(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){"logo_url", NULL}))
        return;
    const char *logo = NULL;
    if (!p_str(&c, "logo_url", &logo, LIMIT_URL_MAX))
        return;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (strcmp(r->method, "POST") == 0 && logo != NULL &&
        gw_merchant_set_logo(c.ctx->g, c.merchant, logo, r->arena, &err) != K_OK) {
        send_gw_err(&c, &err);
        return;
    }
    gw_brand b;
    if (gw_merchant_brand(c.ctx->g, c.merchant, r->arena, &b) != K_OK) {
        send_err(&c, 500, NULL, NULL, "The merchant could not be read.");
        return;
    }
    send_json(&c, 200,
              json_pack("{s:s,s:s,s:o}", "object", "kassa.branding", "name", b.name ? b.name : "",
                        "logo_url", b.logo_url != NULL ? json_string(b.logo_url) : json_null()));
}

/* ---- sandbox: the test clock ---- */

static void h_clock_advance(http_req *r, http_resp *resp, void *ctx)
{
    call c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){"seconds", NULL}))
        return;
    if (!c.ctx->test_clock) {
        send_err(&c, 404, "resource_missing", NULL, "The test clock is not enabled.");
        return;
    }
    int64_t s = 0;
    bool has;
    if (!p_int(&c, "seconds", &s, &has, 0, 400LL * 86400))
        return;
    if (!has) {
        send_err(&c, 400, "parameter_missing", "seconds", "Missing required param: seconds.");
        return;
    }
    clock_advance_ms(s * 1000);
    gw_clock_jumped(c.ctx->g);
    gw_tick(c.ctx->g);
    log_info("test clock advanced by %lld s", (long long)s);
    send_json(&c, 200, json_pack("{s:I}", "now", (json_int_t)clock_now_s()));
}

/* ---- auth and errors ---- */

/* Bearer sk_... or Basic base64(sk_...:). The key itself is never logged. */
const char *stripe_auth(http_req *req, http_resp *resp, http_auth kind, void *ctx)
{
    api_ctx *c = ctx;
    const char *h = http_req_header(req, "Authorization");
    char key[LIMIT_ID_MAX + 8] = "";
    if (h != NULL && strncmp(h, "Bearer ", 7) == 0) {
        snprintf(key, sizeof(key), "%s", h + 7);
    } else if (h != NULL && strncmp(h, "Basic ", 6) == 0) {
        uint8_t raw[160];
        long n = crypto_b64_decode(h + 6, strlen(h + 6), raw, sizeof(raw) - 1);
        if (n > 0) {
            raw[n] = '\0';
            char *colon = strchr((char *)raw, ':');
            if (colon != NULL)
                *colon = '\0';
            snprintf(key, sizeof(key), "%.*s", (int)sizeof(key) - 1, (char *)raw);
        }
    }
    const char *merchant = NULL, *key_id = NULL;
    if (key[0] != '\0' && strncmp(key, "sk_", 3) == 0 &&
        gw_key_auth(c->g, key, req->arena, &merchant, &key_id) == K_OK) {
        req->credential = key_id; /* the request log names the key by its id */
        return merchant;
    }
    char msg[160];
    size_t len = strlen(key);
    if (key[0] == '\0')
        snprintf(msg, sizeof(msg),
                 "You did not provide an API key. Provide your secret key as a Bearer token "
                 "(Authorization: Bearer sk_test_...) or as the HTTP Basic user.");
    else
        snprintf(msg, sizeof(msg), "Invalid API Key provided: %.8s****%.4s", key,
                 len > 4 ? key + len - 4 : "");
    json_t *body = stripe_error_obj("invalid_request_error", NULL, NULL, msg);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_resp_set(resp, 401, "application/json", s, strlen(s));
    http_resp_header(req, resp, "WWW-Authenticate", "Bearer realm=\"Kassa\"");
    free(s);
    (void)kind;
    return NULL;
}

/* The request log's entry of a request authenticated with a secret key: the
 * error code read from a JSON error answer, never the body itself. */
void stripe_request_done(const http_req *req, const http_resp *resp, int status, int64_t dur_us,
                         void *ctx)
{
    api_ctx *c = ctx;
    char code[48] = "";
    if (status >= 400 && resp->body.len > 0 && resp->body.data[0] == '{') {
        json_t *doc = json_loadb(resp->body.data, resp->body.len, 0, NULL);
        json_t *e = json_object_get(doc, "error");
        const char *v = json_string_value(json_object_get(e != NULL ? e : doc, "code"));
        if (v == NULL && e != NULL)
            v = json_string_value(json_object_get(e, "type"));
        snprintf(code, sizeof code, "%s", v != NULL ? v : "");
        json_decref(doc);
    }
    gw_reqlog_entry en = {.merchant_id = req->principal,
                          .method = req->method,
                          .path = req->path,
                          .idem_key = http_req_header(req, "Idempotency-Key"),
                          .error_code = code,
                          .key_id = req->credential,
                          .request_id = req->request_id,
                          .status = status,
                          .dur_us = dur_us};
    gw_reqlog_note(c->g, &en);
}

void stripe_error_page(http_req *req, http_resp *resp, int status, const char *code,
                       const char *message, void *ctx)
{
    const char *type = status >= 500 ? "api_error" : "invalid_request_error";
    const char *c = code;
    if (status == 413)
        message = "The request body is too large (the limit is 256 KiB).";
    if (status == 404 && strncmp(req->path, "/v1/", 4) == 0)
        message = "Unrecognized request URL. Please see https://docs.stripe.com/api or Kassa's "
                  "docs/api.md.";
    json_t *body = stripe_error_obj(type, c, NULL, message);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_resp_set(resp, status, "application/json", s, strlen(s));
    free(s);
    (void)ctx;
}

void stripe_install(gw *g)
{
    gw_set_formatter(g, "stripe", stripe_format_delivery);
}

/* ---- the route table ---- */

#define SK AUTH_SECRET_KEY
static const http_route ROUTES[] = {
    {"POST", "/v1/payment_intents", h_pi_create, SK, 0, "pi_create", HTTP_INLINE | HTTP_DEFERS},
    {"GET", "/v1/payment_intents", h_pi_list, SK, 0, "pi_list", HTTP_INLINE},
    {"GET", "/v1/payment_intents/:id", h_pi_get, SK, 0, "pi_get", HTTP_INLINE},
    {"POST", "/v1/payment_intents/:id", h_pi_update, SK, 0, "pi_update", 0},
    {"POST", "/v1/payment_intents/:id/confirm", h_pi_confirm, SK, 0, "pi_confirm", 0},
    {"POST", "/v1/payment_intents/:id/capture", h_pi_capture, SK, 0, "pi_capture", 0},
    {"POST", "/v1/payment_intents/:id/cancel", h_pi_cancel, SK, 0, "pi_cancel", 0},
    {"POST", "/v1/payment_intents/:id/sync", h_pi_sync, SK, 0, "pi_sync", 0},
    {"GET", "/v1/payment_intents/:id/journal", h_pi_journal, SK, 0, "pi_journal", HTTP_INLINE},
    {"POST", "/v1/payment_intents/:id/extend_authorization", h_pi_extend, SK, 0, "pi_extend", 0},
    {"POST", "/v1/payment_intents/:id/order", h_pi_edit, SK, 0, "pi_edit", 0},
    {"POST", "/v1/payment_intents/:id/resend_instructions", h_pi_resend, SK, 0, "pi_resend", 0},
    {"POST", "/v1/refunds", h_refund_create, SK, 0, "refund_create", 0},
    {"GET", "/v1/refunds", h_refund_list, SK, 0, "refund_list", HTTP_INLINE},
    {"GET", "/v1/refunds/:id", h_refund_get, SK, 0, "refund_get", HTTP_INLINE},
    {"GET", "/v1/events", h_event_list, SK, 0, "event_list", HTTP_INLINE},
    {"GET", "/v1/events/:id", h_event_get, SK, 0, "event_get", HTTP_INLINE},
    {"POST", "/v1/events/:id/resend", h_event_resend, SK, 0, "event_resend", 0},
    {"GET", "/v1/events/:id/deliveries", h_event_deliveries, SK, 0, "event_deliveries",
     HTTP_INLINE},
    {"POST", "/v1/webhook_endpoints", h_we_create, SK, 0, "we_create", 0},
    {"GET", "/v1/webhook_endpoints", h_we_list, SK, 0, "we_list", HTTP_INLINE},
    {"GET", "/v1/webhook_endpoints/:id", h_we_get, SK, 0, "we_get", HTTP_INLINE},
    {"POST", "/v1/webhook_endpoints/:id", h_we_update, SK, 0, "we_update", 0},
    {"DELETE", "/v1/webhook_endpoints/:id", h_we_delete, SK, 0, "we_delete", 0},
    {"POST", "/v1/checkout/sessions", h_cs_create, SK, 0, "cs_create", 0},
    {"GET", "/v1/checkout/sessions", h_cs_list, SK, 0, "cs_list", HTTP_INLINE},
    {"GET", "/v1/checkout/sessions/:id", h_cs_get, SK, 0, "cs_get", HTTP_INLINE},
    {"POST", "/v1/checkout/sessions/:id/expire", h_cs_expire, SK, 0, "cs_expire", 0},
    {"GET", "/v1/checkout/sessions/:id/line_items", h_cs_line_items, SK, 0, "cs_line_items",
     HTTP_INLINE},
    {"GET", "/v1/kassa/branding", h_branding, SK, 0, "branding", HTTP_INLINE},
    {"POST", "/v1/kassa/branding", h_branding, SK, 0, "branding", 0},
    {"POST", "/_test/clock/advance", h_clock_advance, AUTH_NONE, 1024, "test_clock", 0},
};

size_t stripe_routes(const http_route **out)
{
    *out = ROUTES;
    return K_ARRAY_LEN(ROUTES);
}
