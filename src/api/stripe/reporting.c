/*
 * reporting.c - Stripe's reporting API and Kassa's report extensions, in the
 * Stripe dialect:
 *   POST /v1/reporting/report_runs        report_type, parameters[interval_start|
 *                                         interval_end|timezone|currency|columns][]
 *                                         (+ Kassa: parameters[format|delimiter|bom|
 *                                         payment_method_type])
 *   GET  /v1/reporting/report_runs[/:id]  list (starting_after, limit) and retrieve
 *   GET  /v1/reporting/report_types[/:id] default_columns, data_available_start|end
 *   GET  /v1/files/:id, /v1/files/:id/contents (the secret key fetches the bytes)
 *   /v1/kassa/report_schedules[/:id[/deliveries]]   schedules (create, list, get, delete)
 *   GET  /v1/kassa/analytics              the figures behind the back office's charts
 * Each handler decodes, calls one rep_* function and renders; errors use
 * Stripe's error object with the parameter named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stripe_int.h"
#include "../../gateway/reports.h"

typedef struct {
    api_ctx *ctx;
    http_req *r;
    http_resp *resp;
    json_t *params;
    const char *merchant;
    gw_idem idem;
    char fingerprint[65];
} rcall;

static void json_free_cb(void *p)
{
    json_decref(p);
}

static void send(rcall *c, int status, json_t *obj)
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

static void send_doc(rcall *c, json_t *borrowed)
{
    send(c, 200, json_incref(borrowed));
}

static void send_error(rcall *c, int status, const char *type, const char *code, const char *param,
                       const char *msg)
{
    json_t *e = json_pack("{s:s,s:s}", "type", type != NULL ? type : "invalid_request_error",
                          "message", msg);
    if (code != NULL) {
        json_object_set_new(e, "code", json_string(code));
        json_object_set_new(e, "doc_url",
                            json_sprintf("https://docs.stripe.com/error-codes/%s", code));
    }
    if (param != NULL && param[0] != '\0')
        json_object_set_new(e, "param", json_string(param));
    send(c, status, json_pack("{s:o}", "error", e));
}

static void send_gw(rcall *c, const gw_err *e)
{
    send(c, stripe_error_status(e), stripe_error_body(e));
}

static void send_pe(rcall *c, const param_err *pe)
{
    send_error(c, 400, "invalid_request_error", "parameter_invalid", pe->param, pe->message);
}

static bool begin(rcall *c, void *ctx, http_req *r, http_resp *resp, const char *const *known)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->r = r;
    c->resp = resp;
    c->merchant = r->principal;
    param_err pe;
    memset(&pe, 0, sizeof(pe));
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0;
    const char *ct = http_req_header(r, "Content-Type");
    if (get)
        c->params = form_decode(r->query, strlen(r->query), &pe);
    else if (ct != NULL && strstr(ct, "application/json") != NULL)
        c->params = form_decode_json(r->body, r->body_len, &pe);
    else
        c->params = form_decode(r->body, r->body_len, &pe);
    if (c->params == NULL) {
        send_pe(c, &pe);
        return false;
    }
    arena_defer(r->arena, json_free_cb, c->params);
    const char *k;
    json_t *v;
    json_object_foreach(c->params, k, v)
    {
        bool ok = strcmp(k, "expand") == 0;
        for (size_t i = 0; !ok && known[i] != NULL; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            char msg[LIMIT_PARAM_KEY_MAX + 64];
            snprintf(msg, sizeof(msg), "Received unknown parameter: %s", k);
            send_error(c, 400, "invalid_request_error", "parameter_unknown", k, msg);
            return false;
        }
    }
    return true;
}

static char *idem_render(gw_idem *self, const void *record, arena *a)
{
    char *s = json_dumps((json_t *)record, JSON_COMPACT);
    char *copy = s != NULL ? arena_strdup(a, s) : NULL;
    free(s);
    (void)self;
    return copy;
}

/* Idempotency-Key before the work; false when the answer was sent. */
static bool idem_start(rcall *c)
{
    const char *key = http_req_header(c->r, "Idempotency-Key");
    if (key == NULL)
        return true;
    if (strlen(key) == 0 || strlen(key) > LIMIT_IDEMPOTENCY_KEY_MAX) {
        send_error(c, 400, "invalid_request_error", "idempotency_key_invalid", NULL,
                   "Idempotency-Key must be 1 to 255 characters long.");
        return false;
    }
    if (stripe_fingerprint(c->r->method, c->r->path, c->params, c->fingerprint) != K_OK) {
        send_error(c, 500, "api_error", NULL, NULL, "out of memory");
        return false;
    }
    c->idem = (gw_idem){.key = key, .fingerprint = c->fingerprint, .render = idem_render};
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = gw_idem_begin(c->ctx->g, c->merchant, &c->idem, c->r->arena, &err);
    if (st == K_OK && c->idem.replayed) {
        http_resp_set(c->resp, c->idem.replay_status, "application/json", c->idem.replay_body,
                      strlen(c->idem.replay_body));
        http_resp_header(c->r, c->resp, "Idempotent-Replayed", "true");
        c->idem.key = NULL;
        return false;
    }
    if (st != K_ENOTFOUND) {
        c->idem.key = NULL;
        send_gw(c, &err);
        return false;
    }
    return true;
}

static void idem_end(rcall *c)
{
    if (c->idem.key != NULL)
        gw_idem_end(c->ctx->g, c->merchant, &c->idem);
}

static gw_idem *idem_of(rcall *c)
{
    return c->idem.key != NULL ? &c->idem : NULL;
}

static bool p_str(rcall *c, const char *path, const char **out, size_t max)
{
    param_err pe;
    k_status st = param_str(c->params, path, out, max, &pe);
    if (st == K_ENOTFOUND) {
        *out = NULL;
        return true;
    }
    if (st != K_OK)
        send_pe(c, &pe);
    return st == K_OK;
}

static bool p_int(rcall *c, const char *path, int64_t *out, bool *has, int64_t min, int64_t max)
{
    param_err pe;
    k_status st = param_int64(c->params, path, out, min, max, &pe);
    *has = st == K_OK;
    if (st == K_OK || st == K_ENOTFOUND)
        return true;
    send_error(c, 400, "invalid_request_error", "parameter_invalid_integer", pe.param, pe.message);
    return false;
}

static bool p_bool(rcall *c, const char *path, int *out)
{
    param_err pe;
    bool b;
    k_status st = param_bool(c->params, path, &b, &pe);
    if (st == K_ENOTFOUND)
        return true;
    if (st != K_OK) {
        send_pe(c, &pe);
        return false;
    }
    *out = b ? 1 : 0;
    return true;
}

/* An array of strings at key (or one string); NULL when absent. */
static bool p_strings(rcall *c, const char *key, const char *name, json_t **out)
{
    json_t *a = param_node(c->params, key);
    *out = NULL;
    if (a == NULL)
        return true;
    if (json_is_string(a)) {
        *out = json_pack("[O]", a);
        arena_defer(c->r->arena, json_free_cb, *out);
        return true;
    }
    bool ok = json_is_array(a);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) ok = ok && json_is_string(v);
    if (!ok) {
        send_error(c, 400, "invalid_request_error", "parameter_invalid", name,
                   "This must be an array of strings.");
        return false;
    }
    *out = a;
    return true;
}

static bool list_q(rcall *c, store_list_q *q)
{
    memset(q, 0, sizeof(*q));
    int64_t limit = LIMIT_LIST_PAGE_DEFAULT;
    bool has;
    if (!p_int(c, "limit", &limit, &has, 1, LIMIT_LIST_PAGE_MAX))
        return false;
    q->limit = (int)limit;
    return p_str(c, "starting_after", &q->starting_after, LIMIT_ID_MAX) &&
           p_str(c, "ending_before", &q->ending_before, LIMIT_ID_MAX);
}

static void send_list(rcall *c, const char *url, json_t **docs, size_t n, bool more)
{
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(data, docs[i]);
    send(c, 200,
         json_pack("{s:s,s:s,s:b,s:o}", "object", "list", "url", url, "has_more", more, "data",
                   data));
}

/* ---- report types ---- */

static json_t *type_obj(rcall *c, const rep_type *t)
{
    int64_t start = 0, end = 0;
    gw_err err;
    rep_data_available(c->ctx->reports, c->merchant, &start, &end, &err);
    json_t *cols = json_array();
    for (size_t i = 0; i < t->ncolumns; i++)
        if (t->columns[i].by_default)
            json_array_append_new(cols, json_string(t->columns[i].name));
    json_t *all = json_array();
    for (size_t i = 0; i < t->ncolumns; i++)
        json_array_append_new(all, json_string(t->columns[i].name));
    return json_pack("{s:s,s:s,s:I,s:I,s:o,s:b,s:s,s:I,s:i,s:{s:o,s:[ss],s:s}}", "id", t->id,
                     "object", "reporting.report_type", "data_available_start", (json_int_t)start,
                     "data_available_end", (json_int_t)end, "default_columns", cols, "livemode", 0,
                     "name", t->name, "updated", (json_int_t)start, "version", 1, "kassa",
                     "columns", all, "formats", "csv", "xlsx", "default_delimiter",
                     t->default_sep == ';' ? ";" : ",");
}

static void h_types(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    const rep_type *const *types;
    size_t n = rep_types(&types);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, type_obj(&c, types[i]));
    send(&c, 200,
         json_pack("{s:s,s:s,s:b,s:o}", "object", "list", "url", "/v1/reporting/report_types",
                   "has_more", 0, "data", data));
}

static void h_type(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    const rep_type *t = rep_type_find(r->params[0]);
    if (t == NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "No such report type: '%.100s'", r->params[0]);
        send_error(&c, 404, "invalid_request_error", "resource_missing", "id", msg);
        return;
    }
    send(&c, 200, type_obj(&c, t));
}

/* ---- runs ---- */

static bool run_params(rcall *c, rep_params *p)
{
    memset(p, 0, sizeof(*p));
    p->bom = -1;
    static const char *const known[] = {"interval_start",
                                        "interval_end",
                                        "timezone",
                                        "currency",
                                        "columns",
                                        "format",
                                        "delimiter",
                                        "bom",
                                        "payment_method_type",
                                        NULL};
    json_t *params = json_object_get(c->params, "parameters");
    if (params != NULL && !json_is_object(params)) {
        send_error(c, 400, "invalid_request_error", "parameter_invalid", "parameters",
                   "parameters must be a hash.");
        return false;
    }
    const char *unknown = params != NULL ? param_first_unknown(params, known) : NULL;
    if (unknown != NULL) {
        char name[LIMIT_PARAM_KEY_MAX], msg[LIMIT_PARAM_KEY_MAX + 64];
        snprintf(name, sizeof(name), "parameters[%.200s]", unknown);
        snprintf(msg, sizeof(msg), "Received unknown parameter: %s", name);
        send_error(c, 400, "invalid_request_error", "parameter_unknown", name, msg);
        return false;
    }
    return p_str(c, "report_type", &p->report_type, 128) &&
           p_int(c, "parameters.interval_start", &p->interval_start, &p->has_start, 0,
                 INT64_MAX / 4) &&
           p_int(c, "parameters.interval_end", &p->interval_end, &p->has_end, 0, INT64_MAX / 4) &&
           p_str(c, "parameters.timezone", &p->timezone, LIMIT_TZ_NAME_MAX) &&
           p_str(c, "parameters.currency", &p->currency, 3) &&
           p_str(c, "parameters.payment_method_type", &p->method, 64) &&
           p_str(c, "parameters.format", &p->format, 8) &&
           p_str(c, "parameters.delimiter", &p->delimiter, 1) &&
           p_bool(c, "parameters.bom", &p->bom) &&
           p_strings(c, "parameters.columns", "parameters[columns]", &p->columns);
}

static void h_run_create(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    rep_params p;
    if (!begin(&c, ctx, r, resp, (const char *const[]){"report_type", "parameters", NULL}) ||
        !run_params(&c, &p) || !idem_start(&c))
        return;
    json_t *run;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (rep_run_create(c.ctx->reports, c.merchant, &p, idem_of(&c), r->arena, &run, &err) != K_OK)
        send_gw(&c, &err);
    else
        send_doc(&c, run);
    idem_end(&c);
}

static void h_run_get(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *run;
    gw_err err;
    if (rep_run_get(c.ctx->reports, c.merchant, r->params[0], r->arena, &run, &err) != K_OK)
        send_gw(&c, &err);
    else
        send_doc(&c, run);
}

static void h_run_list(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    store_list_q q;
    if (!begin(
            &c, ctx, r, resp,
            (const char *const[]){"limit", "starting_after", "ending_before", "created", NULL}) ||
        !list_q(&c, &q))
        return;
    json_t **runs;
    size_t n;
    bool more;
    gw_err err;
    if (rep_run_list(c.ctx->reports, c.merchant, &q, r->arena, &runs, &n, &more, &err) != K_OK)
        send_gw(&c, &err);
    else
        send_list(&c, "/v1/reporting/report_runs", runs, n, more);
}

/* ---- files ---- */

static json_t *file_obj(json_t *f)
{
    json_t *o = json_deep_copy(f);
    json_object_del(o, "sha256");
    json_object_del(o, "rows");
    json_object_set_new(o, "kassa",
                        json_pack("{s:O,s:O}", "sha256", json_object_get(f, "sha256"), "rows",
                                  json_object_get(f, "rows")));
    json_object_set_new(o, "links",
                        json_pack("{s:s,s:[],s:b,s:s}", "object", "list", "data", "has_more", 0,
                                  "url", "/v1/file_links"));
    return o;
}

static void h_file_get(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *f;
    const char *path;
    gw_err err;
    if (rep_file_get(c.ctx->reports, c.merchant, r->params[0], r->arena, &f, &path, &err) != K_OK)
        send_gw(&c, &err);
    else
        send(&c, 200, file_obj(f));
}

static void h_file_contents(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *f;
    const char *path;
    gw_err err;
    if (rep_file_get(c.ctx->reports, c.merchant, r->params[0], r->arena, &f, &path, &err) != K_OK) {
        send_gw(&c, &err);
        return;
    }
    const char *type = json_string_value(json_object_get(f, "type"));
    const char *charset = json_string_value(json_object_get(f, "charset"));
    if (charset == NULL)
        charset = "utf-8";
    const char *name = json_string_value(json_object_get(f, "filename"));
    resp->status = 200;
    resp->content_type = type != NULL && strcmp(type, "xlsx") == 0
                             ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                             : arena_printf(r->arena, "text/csv; charset=%s", charset);
    resp->file_path = path;
    http_resp_header(r, resp, "Content-Disposition",
                     arena_printf(r->arena, "attachment; filename=\"%s\"", name));
    http_resp_header(r, resp, "Kassa-Sha256", json_string_value(json_object_get(f, "sha256")));
}

/* ---- schedules (Kassa extension) ---- */

static void h_sched_create(http_req *r, http_resp *resp, void *ctx)
{
    static const char *const known[] = {"report_type", "frequency", "hour",     "minute",
                                        "weekday",     "monthday",  "start_at", "parameters",
                                        "folder",      "url",       "emails",   NULL};
    rcall c;
    if (!begin(&c, ctx, r, resp, known))
        return;
    rep_params rp;
    rep_schedule_params p;
    memset(&p, 0, sizeof(p));
    int64_t hour = 6, minute = 0, weekday = 1, monthday = 1, start_at = 0;
    bool has;
    if (!run_params(&c, &rp) || !p_str(&c, "frequency", &p.frequency, 16) ||
        !p_int(&c, "hour", &hour, &has, -1000, 1000) ||
        !p_int(&c, "minute", &minute, &has, -1000, 1000) ||
        !p_int(&c, "weekday", &weekday, &has, -1000, 1000) ||
        !p_int(&c, "monthday", &monthday, &has, -1000, 1000) ||
        !p_int(&c, "start_at", &start_at, &has, 0, INT64_MAX / 4) ||
        !p_str(&c, "folder", &p.folder, 1024) || !p_str(&c, "url", &p.url, LIMIT_URL_MAX) ||
        !p_strings(&c, "emails", "emails", &p.emails))
        return;
    if (rp.has_start || rp.has_end) {
        send_error(&c, 400, "invalid_request_error", "parameter_invalid",
                   rp.has_start ? "parameters[interval_start]" : "parameters[interval_end]",
                   "A schedule reports on the period that just ended; it takes no interval.");
        return;
    }
    if (!idem_start(&c))
        return;
    p.report_type = rp.report_type;
    p.hour = (int)hour;
    p.minute = (int)minute;
    p.weekday = (int)weekday;
    p.monthday = (int)monthday;
    p.start_at = start_at;
    p.timezone = rp.timezone;
    p.currency = rp.currency;
    p.method = rp.method;
    p.columns = rp.columns;
    p.format = rp.format;
    p.delimiter = rp.delimiter;
    p.bom = rp.bom;
    json_t *out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (rep_schedule_create(c.ctx->reports, c.merchant, &p, idem_of(&c), r->arena, &out, &err) !=
        K_OK)
        send_gw(&c, &err);
    else
        send_doc(&c, out);
    idem_end(&c);
}

static void sched_hide_secret(json_t *s)
{
    json_object_del(s, "signing_secret");
}

static void h_sched_get(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *s;
    gw_err err;
    if (rep_schedule_get(c.ctx->reports, c.merchant, r->params[0], r->arena, &s, &err) != K_OK) {
        send_gw(&c, &err);
        return;
    }
    json_t *copy = json_deep_copy(s);
    sched_hide_secret(copy);
    send(&c, 200, copy);
}

static void h_sched_list(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    store_list_q q;
    if (!begin(&c, ctx, r, resp,
               (const char *const[]){"limit", "starting_after", "ending_before", NULL}) ||
        !list_q(&c, &q))
        return;
    json_t **docs;
    size_t n;
    bool more;
    gw_err err;
    if (rep_schedule_list(c.ctx->reports, c.merchant, &q, r->arena, &docs, &n, &more, &err) !=
        K_OK) {
        send_gw(&c, &err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sched_hide_secret(docs[i]);
    send_list(&c, "/v1/kassa/report_schedules", docs, n, more);
}

static void h_sched_delete(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *s;
    gw_err err;
    if (rep_schedule_delete(c.ctx->reports, c.merchant, r->params[0], r->arena, &s, &err) != K_OK) {
        send_gw(&c, &err);
        return;
    }
    send(&c, 200,
         json_pack("{s:O,s:s,s:b}", "id", json_object_get(s, "id"), "object",
                   "kassa.report_schedule", "deleted", 1));
}

static void h_sched_deliveries(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    if (!begin(&c, ctx, r, resp, (const char *const[]){NULL}))
        return;
    json_t *list;
    gw_err err;
    if (rep_schedule_deliveries(c.ctx->reports, c.merchant, r->params[0], r->arena, &list, &err) !=
        K_OK) {
        send_gw(&c, &err);
        return;
    }
    send(&c, 200,
         json_pack("{s:s,s:s,s:b,s:O}", "object", "list", "url",
                   arena_printf(r->arena, "/v1/kassa/report_schedules/%s/deliveries", r->params[0]),
                   "has_more", 0, "data", list));
}

/* ---- analytics (Kassa extension) ---- */

static void h_analytics(http_req *r, http_resp *resp, void *ctx)
{
    rcall c;
    static const char *const known[] = {"interval_start", "interval_end", "timezone",   "bucket",
                                        "currency",       "compare",      "convert_to", NULL};
    if (!begin(&c, ctx, r, resp, known))
        return;
    rep_analytics_params p;
    memset(&p, 0, sizeof(p));
    bool has_s, has_e;
    int compare = 0;
    if (!p_int(&c, "interval_start", &p.interval_start, &has_s, 0, INT64_MAX / 4) ||
        !p_int(&c, "interval_end", &p.interval_end, &has_e, 0, INT64_MAX / 4) ||
        !p_str(&c, "timezone", &p.timezone, LIMIT_TZ_NAME_MAX) ||
        !p_str(&c, "bucket", &p.bucket, 8) || !p_str(&c, "currency", &p.currency, 3) ||
        !p_str(&c, "convert_to", &p.convert_to, 3) || !p_bool(&c, "compare", &compare))
        return;
    if (!has_s || !has_e) {
        send_error(&c, 400, "invalid_request_error", "parameter_missing",
                   !has_s ? "interval_start" : "interval_end",
                   !has_s ? "Missing required param: interval_start."
                          : "Missing required param: interval_end.");
        return;
    }
    p.compare = compare == 1;
    json_t *out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (rep_analytics(c.ctx->reports, c.merchant, &p, r->arena, &out, &err) != K_OK)
        send_gw(&c, &err);
    else
        send_doc(&c, out);
}

#define SK AUTH_SECRET_KEY
static const http_route ROUTES[] = {
    {"POST", "/v1/reporting/report_runs", h_run_create, SK, 0, "report_run_create", 0},
    {"GET", "/v1/reporting/report_runs", h_run_list, SK, 0, "report_run_list", HTTP_INLINE},
    {"GET", "/v1/reporting/report_runs/:id", h_run_get, SK, 0, "report_run_get", HTTP_INLINE},
    {"GET", "/v1/reporting/report_types", h_types, SK, 0, "report_type_list", HTTP_INLINE},
    {"GET", "/v1/reporting/report_types/:id", h_type, SK, 0, "report_type_get", HTTP_INLINE},
    {"GET", "/v1/files/:id", h_file_get, SK, 0, "file_get", HTTP_INLINE},
    {"GET", "/v1/files/:id/contents", h_file_contents, SK, 0, "file_contents", HTTP_INLINE},
    {"POST", "/v1/kassa/report_schedules", h_sched_create, SK, 0, "report_schedule_create", 0},
    {"GET", "/v1/kassa/report_schedules", h_sched_list, SK, 0, "report_schedule_list", HTTP_INLINE},
    {"GET", "/v1/kassa/report_schedules/:id", h_sched_get, SK, 0, "report_schedule_get",
     HTTP_INLINE},
    {"DELETE", "/v1/kassa/report_schedules/:id", h_sched_delete, SK, 0, "report_schedule_delete",
     0},
    {"GET", "/v1/kassa/report_schedules/:id/deliveries", h_sched_deliveries, SK, 0,
     "report_schedule_deliveries", HTTP_INLINE},
    /* analytics reads a whole interval: a worker thread, never an I/O thread */
    {"GET", "/v1/kassa/analytics", h_analytics, SK, 0, "analytics", 0},
};

size_t reporting_routes(const http_route **out)
{
    *out = ROUTES;
    return K_ARRAY_LEN(ROUTES);
}
