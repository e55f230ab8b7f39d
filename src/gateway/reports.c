/*
 * reports.c - report runs, their files, operator exports and the report
 * worker (see reports.h).
 *
 * A run is created pending, with its job, in one transaction (with the
 * idempotent answer). The worker claims due jobs with a lease
 * (store_job_claim): a node that dies mid-run leaves a lease that runs out,
 * and the next claimer computes the run again; only the first to finish
 * writes the result (the run is read back and must still be pending), so a
 * run has exactly one file. The file is written and fsync'ed before the
 * transaction that points the run at it, its event included, commits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rep_int.h"
#include "../base/clock.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../domain/money.h"

#define WORKER_IDLE_MS 250
#define RUN_RETRY_S    60 /* a run that failed on I/O (disk full) is tried again after this */
#define RUN_TRIES      3

/* ---- lifecycle ---- */

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

/* mkdir -p: each missing folder of path, mode 0700. */
static bool mkdir_p(const char *path)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return false;
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

k_status rep_open(rep_service **out, gw *g, const rep_config *cfg)
{
    K_ASSERT(out != NULL && g != NULL && cfg != NULL);
    K_ASSERT(cfg->files_dir != NULL && cfg->files_dir[0] != '\0');
    rep_service *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return K_ENOMEM;
    r->g = g;
    r->st = gw_store(g);
    r->files_dir = strdup(cfg->files_dir);
    r->smtp_url = dup_or_null(cfg->smtp_url);
    r->smtp_from = dup_or_null(cfg->smtp_from);
    r->rates_since_s = clock_now_s(); /* the gateway read its rule set just before */
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (r->files_dir == NULL || !mkdir_p(r->files_dir)) {
        log_error("reports: cannot create the files folder '%s'", cfg->files_dir);
        rep_close(r);
        return K_EIO;
    }
    *out = r;
    return K_OK;
}

void rep_close(rep_service *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->files_dir);
    free(r->smtp_url);
    free(r->smtp_from);
    free(r);
}

static void wake(rep_service *r)
{
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- parameters ---- */

k_status rep_data_available(rep_service *r, const char *merchant_id, int64_t *start, int64_t *end,
                            gw_err *err)
{
    (void)r;
    (void)merchant_id;
    (void)err;
    /* Everything from 2020 on (earlier instants hold nothing: Kassa was not
     * there), up to the current second. */
    *start = 1577836800;
    *end = clock_now_s();
    return K_OK;
}

static bool check_columns(const rep_type *t, json_t *cols, gw_err *err)
{
    if (cols == NULL)
        return true;
    if (json_array_size(cols) > LIMIT_REPORT_COLUMNS_MAX) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[columns]",
                   "At most %d columns may be asked for.", LIMIT_REPORT_COLUMNS_MAX);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
    {
        const char *name = json_string_value(v);
        bool known = false;
        for (size_t c = 0; name != NULL && c < t->ncolumns && !known; c++)
            known = strcmp(t->columns[c].name, name) == 0;
        for (size_t k = 0; known && k < i; k++)
            known = strcmp(json_string_value(json_array_get(cols, k)), name) != 0;
        if (!known) {
            char param[64];
            snprintf(param, sizeof(param), "parameters[columns][%zu]", i);
            gw_err_set(err, GW_WHY_PARAM_INVALID, param,
                       "Column '%s' is not a column of report type %s (or is asked twice).",
                       name != NULL ? name : "", t->id);
            return false;
        }
    }
    return true;
}

static bool check_format(rep_params *p, gw_err *err)
{
    if (p->format == NULL)
        p->format = "csv";
    if (strcmp(p->format, "csv") != 0 && strcmp(p->format, "xlsx") != 0) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[format]",
                   "format must be csv or xlsx, not '%s'.", p->format);
        return false;
    }
    if (p->delimiter != NULL && strcmp(p->delimiter, ",") != 0 && strcmp(p->delimiter, ";") != 0) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[delimiter]",
                   "delimiter must be ',' or ';'.");
        return false;
    }
    if (p->bom < 0)
        p->bom = 1;
    return true;
}

k_status rep_params_check(rep_service *r, const char *merchant_id, rep_params *p, gw_err *err)
{
    const rep_type *t = rep_type_find(p->report_type);
    if (p->report_type == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "report_type",
                   "Missing required param: report_type.");
        return K_EINVAL;
    }
    if (t == NULL) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "report_type", "No such report type: '%s'.",
                   p->report_type);
        return K_EINVAL;
    }
    if (p->has_pay && strcmp(t->id, "payments.itemized.1") != 0) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "report_type",
                   "A saved view's filters apply to payments.itemized.1 only.");
        return K_EINVAL;
    }
    if (p->timezone == NULL)
        p->timezone = "UTC";
    const tz *z;
    if (tz_load(p->timezone, &z) != K_OK) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[timezone]",
                   "'%s' is not a time zone of the IANA database (e.g. Europe/Berlin).",
                   p->timezone);
        return K_EINVAL;
    }
    int64_t avail_start, avail_end;
    rep_data_available(r, merchant_id, &avail_start, &avail_end, err);
    if (!check_columns(t, p->columns, err) || !check_format(p, err))
        return K_EINVAL;
    if (!p->has_end)
        p->interval_end = avail_end;
    if (!p->has_start) /* the longest interval one run may cover, ending at interval_end */
        p->interval_start = p->interval_end - LIMIT_REPORT_INTERVAL_S > avail_start
                                ? p->interval_end - LIMIT_REPORT_INTERVAL_S
                                : avail_start;
    if (p->interval_end <= p->interval_start) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[interval_end]",
                   "interval_end (%lld) must be after interval_start (%lld).",
                   (long long)p->interval_end, (long long)p->interval_start);
        return K_EINVAL;
    }
    if (p->interval_start < avail_start) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[interval_start]",
                   "interval_start must be at least data_available_start (%lld).",
                   (long long)avail_start);
        return K_EINVAL;
    }
    if (p->interval_end - p->interval_start > LIMIT_REPORT_INTERVAL_S) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[interval_end]",
                   "One run covers at most %lld days.",
                   (long long)(LIMIT_REPORT_INTERVAL_S / 86400));
        return K_EINVAL;
    }
    if (p->currency != NULL && currency_find(p->currency) == NULL) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "parameters[currency]", "Invalid currency: %s.",
                   p->currency);
        return K_EINVAL;
    }
    return K_OK;
}

/* The parameters as stored on a run (and read back by the worker). */
static json_t *params_json(const rep_params *p)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:b}", "interval_start", (json_int_t)p->interval_start,
                          "interval_end", (json_int_t)p->interval_end, "timezone", p->timezone,
                          "format", p->format, "bom", p->bom != 0);
    if (p->currency != NULL) {
        char lower[4];
        currency_lower(p->currency, lower);
        json_object_set_new(o, "currency", json_string(lower));
    }
    if (p->method != NULL)
        json_object_set_new(o, "payment_method_type", json_string(p->method));
    if (p->columns != NULL)
        json_object_set(o, "columns", p->columns);
    if (p->delimiter != NULL)
        json_object_set_new(o, "delimiter", json_string(p->delimiter));
    if (p->has_pay) { /* a saved view's filters (Kassa extension, from the back office) */
        const rep_pay_filter *f = &p->pay;
        json_t *v = json_pack("{s:I,s:I}", "amount_gte", (json_int_t)f->amount_gte, "amount_lte",
                              (json_int_t)f->amount_lte);
        const char *keys[] = {"status", "channel", "country", "email", "order_ref", "any_id"};
        const char *vals[] = {f->status, f->channel, f->country, f->email, f->order_ref, f->any_id};
        for (size_t i = 0; i < K_ARRAY_LEN(keys); i++)
            if (vals[i] != NULL)
                json_object_set_new(v, keys[i], json_string(vals[i]));
        json_object_set_new(o, "kassa_view_filter", v);
    }
    return o;
}

static void params_from_json(json_t *o, const char *type, rep_params *p)
{
    memset(p, 0, sizeof(*p));
    p->report_type = type;
    p->interval_start = json_integer_value(json_object_get(o, "interval_start"));
    p->interval_end = json_integer_value(json_object_get(o, "interval_end"));
    p->has_start = p->has_end = true;
    p->timezone = json_string_value(json_object_get(o, "timezone"));
    p->currency = json_string_value(json_object_get(o, "currency"));
    p->method = json_string_value(json_object_get(o, "payment_method_type"));
    p->columns = json_object_get(o, "columns");
    p->format = json_string_value(json_object_get(o, "format"));
    p->delimiter = json_string_value(json_object_get(o, "delimiter"));
    p->bom = json_is_false(json_object_get(o, "bom")) ? 0 : 1;
    json_t *v = json_object_get(o, "kassa_view_filter");
    if (v != NULL) {
        p->has_pay = true;
        p->pay = (rep_pay_filter){
            .status = json_string_value(json_object_get(v, "status")),
            .channel = json_string_value(json_object_get(v, "channel")),
            .country = json_string_value(json_object_get(v, "country")),
            .email = json_string_value(json_object_get(v, "email")),
            .order_ref = json_string_value(json_object_get(v, "order_ref")),
            .any_id = json_string_value(json_object_get(v, "any_id")),
            .amount_gte = json_integer_value(json_object_get(v, "amount_gte")),
            .amount_lte = json_integer_value(json_object_get(v, "amount_lte")),
        };
    }
}

/* ---- documents ---- */

static k_status doc_put(store_tx *tx, const char *merchant_id, const char *kind, json_t *doc,
                        int32_t version, const char *status, int64_t created)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    if (body == NULL)
        return K_ENOMEM;
    store_obj o = {.merchant_id = merchant_id,
                   .id = json_string_value(json_object_get(doc, "id")),
                   .kind = kind,
                   .status = status,
                   .created = created,
                   .version = version,
                   .body = body};
    k_status st = store_obj_put(tx, &o);
    free(body);
    return st;
}

static k_status doc_get(store_tx *tx, const char *merchant_id, const char *kind, const char *id,
                        arena *a, json_t **doc, int32_t *version)
{
    store_obj o;
    k_status st = store_obj_get(tx, merchant_id, kind, id, a, &o);
    if (st != K_OK)
        return st;
    json_t *j = json_loads(o.body, 0, NULL);
    if (j == NULL)
        return K_EIO;
    *doc = gw_keep(a, j);
    json_decref(j);
    if (version != NULL)
        *version = o.version;
    return K_OK;
}

/* ---- runs ---- */

typedef struct {
    rep_service *r;
    const char *merchant_id;
    json_t *run;
    gw_idem *idem;
    arena *a;
} run_new_job;

static k_status run_new_fn(store_tx *tx, void *arg)
{
    run_new_job *j = arg;
    int64_t now = clock_now_s();
    k_status st = doc_put(tx, j->merchant_id, "reporting.report_run", j->run, 0, "pending", now);
    if (st != K_OK)
        return st;
    int64_t now_ms = clock_now_ms();
    store_job job = {.merchant_id = j->merchant_id,
                     .kind = "run",
                     .ref_id = json_string_value(json_object_get(j->run, "id")),
                     .state = "pending",
                     .next_at_ms = now_ms,
                     .created_ms = now_ms,
                     .updated_ms = now_ms};
    st = store_job_add(tx, &job);
    if (st != K_OK)
        return st;
    return gw_idem_store_in_tx(tx, j->merchant_id, j->idem, j->run, j->a);
}

k_status rep_run_create(rep_service *r, const char *merchant_id, const rep_params *in,
                        gw_idem *idem, arena *a, json_t **run, gw_err *err)
{
    rep_params p = *in;
    if (rep_params_check(r, merchant_id, &p, err) != K_OK)
        return K_EINVAL;
    char id[LIMIT_ID_MAX];
    id_new(id, "frr_");
    json_t *doc = json_pack(
        "{s:s,s:s,s:I,s:b,s:s,s:o,s:s,s:n,s:n,s:n}", "id", id, "object", "reporting.report_run",
        "created", (json_int_t)clock_now_s(), "livemode", 0, "report_type", p.report_type,
        "parameters", params_json(&p), "status", "pending", "result", "error", "succeeded_at");
    *run = gw_keep(a, doc);
    json_decref(doc);
    run_new_job j = {r, merchant_id, *run, idem, a};
    k_status st = store_write(r->st, run_new_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "report run", id);
    wake(r);
    return K_OK;
}

typedef struct {
    const char *merchant_id, *kind, *id;
    arena *a;
    json_t *doc;
} get_job;

static k_status get_fn(store_tx *tx, void *arg)
{
    get_job *j = arg;
    return doc_get(tx, j->merchant_id, j->kind, j->id, j->a, &j->doc, NULL);
}

k_status rep_run_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                     json_t **run, gw_err *err)
{
    get_job j = {merchant_id, "reporting.report_run", id, a, NULL};
    k_status st = store_read(r->st, get_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "report run", id);
    *run = j.doc;
    return K_OK;
}

k_status rep_run_list(rep_service *r, const char *merchant_id, const store_list_q *q, arena *a,
                      json_t ***runs, size_t *n, bool *has_more, gw_err *err)
{
    return gw_list_docs(r->g, merchant_id, "reporting.report_run", q, a, runs, n, has_more, err);
}

static const char *file_path(rep_service *r, const char *merchant_id, const char *file_id,
                             const char *ext, arena *a)
{
    return arena_printf(a, "%s/%s/%s.%s", r->files_dir, merchant_id, file_id, ext);
}

k_status rep_file_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                      json_t **file, const char **path, gw_err *err)
{
    get_job j = {merchant_id, "file", id, a, NULL};
    k_status st = store_read(r->st, get_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "file", id);
    *file = j.doc;
    const char *type = json_string_value(json_object_get(j.doc, "type"));
    *path = file_path(r, merchant_id, id, type != NULL ? type : "csv", a);
    return K_OK;
}

/* Writes a report into a new file of the merchant's folder; fills the file doc. */
k_status rep_make_file(rep_service *r, const char *merchant_id, const rep_params *p,
                       const char *filename, const char *purpose, arena *a, json_t **file,
                       int64_t *rows)
{
    rep_plan plan;
    rep_plan_make(p, &plan);
    char id[LIMIT_ID_MAX];
    id_new(id, "file_");
    const char *ext = plan.xlsx ? "xlsx" : "csv";
    const char *dir = arena_printf(a, "%s/%s", r->files_dir, merchant_id);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return K_EIO;
    const char *path = file_path(r, merchant_id, id, ext, a);
    rep_sink *sink;
    k_status st = rep_sink_open(&sink, &plan, path, NULL);
    if (st != K_OK)
        return st;
    st = rep_generate(r, merchant_id, &plan, sink, NULL, NULL, rows);
    if (st != K_OK) {
        rep_sink_abort(sink);
        return st;
    }
    if ((st = rep_sink_close(sink)) != K_OK)
        return st;
    char sha[65];
    int64_t size = 0;
    if ((st = rep_file_digest(path, sha, &size)) != K_OK)
        return st;
    const char *name =
        filename != NULL ? filename : arena_printf(a, "%s_%s.%s", plan.type->file_slug, id, ext);
    const char *url = arena_printf(a, "%s/v1/files/%s/contents", gw_cfg(r->g)->public_url, id);
    json_t *doc =
        json_pack("{s:s,s:s,s:I,s:n,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I}", "id", id, "object", "file",
                  "created", (json_int_t)clock_now_s(), "expires_at", "filename", name, "purpose",
                  purpose, "size", (json_int_t)size, "title", plan.type->name, "type", ext, "url",
                  url, "sha256", sha, "rows", (json_int_t)*rows);
    if (!plan.xlsx) { /* what the bytes are, for the Content-Type of a download */
        static const char *const CHARSETS[] = {"utf-8", "iso-8859-1", "us-ascii"};
        json_object_set_new(doc, "charset", json_string(CHARSETS[plan.type->charset]));
    }
    *file = gw_keep(a, doc);
    json_decref(doc);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *run_id;
    json_t *file; /* NULL when the run failed */
    const char *error;
    arena *a;
    bool lost; /* another worker finished the run first */
} run_done_job;

static k_status run_done_fn(store_tx *tx, void *arg)
{
    run_done_job *j = arg;
    json_t *run;
    int32_t version;
    k_status st =
        doc_get(tx, j->merchant_id, "reporting.report_run", j->run_id, j->a, &run, &version);
    if (st != K_OK)
        return st;
    const char *status = json_string_value(json_object_get(run, "status"));
    if (status == NULL || strcmp(status, "pending") != 0) {
        j->lost = true;
        return K_OK;
    }
    int64_t created = json_integer_value(json_object_get(run, "created"));
    if (j->file != NULL) {
        st = doc_put(tx, j->merchant_id, "file", j->file, 0, NULL, clock_now_s());
        if (st != K_OK)
            return st;
        json_object_set(run, "result", j->file);
        json_object_set_new(run, "status", json_string("succeeded"));
        json_object_set_new(run, "succeeded_at", json_integer(clock_now_s()));
    } else {
        json_object_set_new(run, "status", json_string("failed"));
        json_object_set_new(run, "error", json_string(j->error));
    }
    const char *now_status = json_string_value(json_object_get(run, "status"));
    st = doc_put(tx, j->merchant_id, "reporting.report_run", run, version, now_status, created);
    if (st != K_OK)
        return st;
    return gw_emit(tx, j->merchant_id,
                   j->file != NULL ? "reporting.report_run.succeeded"
                                   : "reporting.report_run.failed",
                   "reporting.report_run", j->run_id, run);
}

typedef struct {
    store_job job;
} job_update_arg;

static k_status job_update_fn(store_tx *tx, void *arg)
{
    job_update_arg *j = arg;
    return store_job_update(tx, &j->job);
}

static void job_finish(rep_service *r, const store_job *job, const char *state, int64_t next_at_ms,
                       const char *error)
{
    job_update_arg u = {*job};
    u.job.state = state;
    u.job.attempts = job->attempts + 1;
    u.job.next_at_ms = next_at_ms;
    u.job.last_error = error;
    u.job.updated_ms = clock_now_ms();
    if (store_write(r->st, job_update_fn, &u) != K_OK)
        log_warn("reports: job %lld could not be updated; it runs again after its lease",
                 (long long)job->id);
}

static void do_run(rep_service *r, const store_job *job, arena *a)
{
    json_t *run;
    get_job g = {job->merchant_id, "reporting.report_run", job->ref_id, a, NULL};
    if (store_read(r->st, get_fn, &g) != K_OK) {
        job_finish(r, job, "failed", job->next_at_ms, "the run is gone");
        return;
    }
    run = g.doc;
    rep_params p;
    params_from_json(json_object_get(run, "parameters"),
                     json_string_value(json_object_get(run, "report_type")), &p);
    json_t *file = NULL;
    int64_t rows = 0;
    int64_t t0 = clock_mono_ms();
    k_status st =
        rep_type_find(p.report_type) == NULL
            ? K_EINVAL
            : rep_make_file(r, job->merchant_id, &p, NULL, "finance_report_run", a, &file, &rows);
    if (st != K_OK && st != K_EINVAL && job->attempts + 1 < RUN_TRIES) {
        job_finish(r, job, "pending", clock_now_ms() + RUN_RETRY_S * 1000, k_status_str(st));
        return;
    }
    run_done_job d = {job->merchant_id,
                      job->ref_id,
                      file,
                      st == K_OK ? NULL : "The report could not be written (see the server log).",
                      a,
                      false};
    k_status wst = store_write(r->st, run_done_fn, &d);
    if (wst != K_OK) {
        log_warn("reports: run '%s' finished but could not be recorded (%s); it runs again",
                 job->ref_id, k_status_str(wst));
        return; /* the lease runs out and the run is computed again */
    }
    if (d.lost && file != NULL) {
        const char *type = json_string_value(json_object_get(file, "type"));
        unlink(file_path(r, job->merchant_id, json_string_value(json_object_get(file, "id")), type,
                         a));
    }
    log_info("reports: run '%s' %s: %lld rows in %lld ms", job->ref_id,
             st == K_OK ? "succeeded" : "failed", (long long)rows,
             (long long)(clock_mono_ms() - t0));
    job_finish(r, job, "done", job->next_at_ms, st == K_OK ? NULL : k_status_str(st));
    gw_wake(r->g); /* the event's webhook deliveries */
}

/* ---- the worker ---- */

typedef struct {
    int64_t now_ms;
    arena *a;
    store_job *jobs;
    size_t n;
} claim_job;

static k_status claim_fn(store_tx *tx, void *arg)
{
    claim_job *c = arg;
    return store_job_claim(tx, c->now_ms, c->now_ms + LIMIT_REPORT_JOB_LEASE_MS,
                           LIMIT_REPORT_JOBS_PER_TICK, c->a, &c->jobs, &c->n);
}

static size_t worker_tick(rep_service *r)
{
    arena a;
    arena_init(&a, 0);
    claim_job c = {.now_ms = clock_now_ms(), .a = &a};
    size_t done = 0;
    if (store_write(r->st, claim_fn, &c) == K_OK) {
        for (size_t i = 0; i < c.n; i++) {
            const store_job *job = &c.jobs[i];
            if (strcmp(job->kind, "run") == 0) {
                do_run(r, job, &a);
            } else if (strcmp(job->kind, "schedule") == 0) {
                rep_schedule_fire(r, job, &a);
            } else if (strcmp(job->kind, "deliver") == 0) {
                const char *error = NULL;
                bool ok = rep_send(r, job, &a, &error);
                int tries = job->attempts + 1;
                int64_t backoff_s = (int64_t)30 << (tries < 10 ? tries : 10);
                if (backoff_s > LIMIT_REPORT_BACKOFF_MAX_S)
                    backoff_s = LIMIT_REPORT_BACKOFF_MAX_S;
                job_finish(r, job,
                           ok                                   ? "done"
                           : tries >= LIMIT_REPORT_JOB_ATTEMPTS ? "failed"
                                                                : "pending",
                           clock_now_ms() + backoff_s * 1000, error);
            } else {
                job_finish(r, job, "failed", job->next_at_ms, "unknown job kind");
            }
            done++;
        }
    }
    arena_release(&a);
    return done;
}

static void *worker_main(void *arg)
{
    rep_service *r = arg;
    log_set_request_id("reports");
    pthread_setname_np(pthread_self(), "reports");
    for (;;) {
        size_t done = worker_tick(r);
        pthread_mutex_lock(&r->mu);
        if (!r->stop && done == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += WORKER_IDLE_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
    }
    return NULL;
}

static k_status release_fn(store_tx *tx, void *arg)
{
    return store_job_release(tx, arg);
}

k_status rep_start(rep_service *r)
{
    K_ASSERT(!r->started);
    /* SQLite: this process is the file's one server, so a lease still running was a
     * crashed predecessor's: its work resumes now. (On PostgreSQL other nodes hold live
     * leases; theirs run out by themselves.) A job computed twice is harmless: a run
     * records only its first result, a schedule only its next number. */
    int64_t released = 0;
    if (store_reads_local(r->st) && store_write(r->st, release_fn, &released) == K_OK &&
        released > 0)
        log_info("reports: %lld report jobs of a previous run resume", (long long)released);
    if (pthread_create(&r->thread, NULL, worker_main, r) != 0)
        return K_ERR;
    r->started = true;
    return K_OK;
}

/* ---- pushes ---- */

typedef struct {
    const char *merchant_id;
    json_t *body;
    int64_t id;
} push_job;

static k_status push_fn(store_tx *tx, void *arg)
{
    push_job *j = arg;
    char *text = json_dumps(j->body, JSON_COMPACT);
    if (text == NULL)
        return K_ENOMEM;
    int64_t now = clock_now_ms();
    char ref[LIMIT_ID_MAX];
    id_new(ref, "push_");
    store_job job = {.merchant_id = j->merchant_id,
                     .kind = "deliver",
                     .ref_id = ref,
                     .state = "pending",
                     .next_at_ms = now,
                     .body = text,
                     .created_ms = now,
                     .updated_ms = now};
    k_status st = store_job_add(tx, &job);
    free(text);
    j->id = job.id;
    return st;
}

k_status rep_push(rep_service *r, const char *merchant_id, const char *url, const char *body,
                  int64_t *job_id, gw_err *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "delivery_url",
                   "delivery_url must be an http:// or https:// URL.");
        return K_EINVAL;
    }
    push_job j = {merchant_id,
                  json_pack("{s:s,s:s,s:s}", "channel", "push", "target", url, "document", body),
                  0};
    k_status st = store_write(r->st, push_fn, &j);
    json_decref(j.body);
    if (st != K_OK)
        return gw_err_store(err, st, "delivery", NULL);
    *job_id = j.id;
    wake(r);
    return K_OK;
}

/* ---- operator export ---- */

k_status rep_export(rep_service *r, const char *merchant_id, const rep_params *in, FILE *out,
                    rep_progress_fn progress, void *ctx, int64_t *rows, gw_err *err)
{
    rep_params p = *in;
    if (rep_params_check(r, merchant_id, &p, err) != K_OK)
        return K_EINVAL;
    rep_plan plan;
    rep_plan_make(&p, &plan);
    char tmp[600] = "";
    if (plan.xlsx) /* libxlsxwriter needs a file: write one, then copy it out */
        snprintf(tmp, sizeof(tmp), "%s/export-%d-%lld.xlsx", r->files_dir, (int)getpid(),
                 (long long)clock_mono_ms());
    rep_sink *sink;
    k_status st = rep_sink_open(&sink, &plan, plan.xlsx ? tmp : NULL, plan.xlsx ? NULL : out);
    if (st == K_OK) {
        st = rep_generate(r, merchant_id, &plan, sink, progress, ctx, rows);
        if (st == K_OK)
            st = rep_sink_close(sink);
        else
            rep_sink_abort(sink);
    }
    if (st == K_OK && plan.xlsx) {
        FILE *f = fopen(tmp, "rb");
        char chunk[64 * 1024];
        size_t n;
        while (f != NULL && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            if (fwrite(chunk, 1, n, out) != n)
                st = K_EIO;
        if (f == NULL)
            st = K_EIO;
        else
            fclose(f);
    }
    if (plan.xlsx)
        unlink(tmp);
    if (st != K_OK)
        gw_err_set(err, GW_WHY_STORAGE, NULL, "The export failed: %s.", k_status_str(st));
    return st;
}
