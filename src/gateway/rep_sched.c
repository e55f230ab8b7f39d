/*
 * rep_sched.c - report schedules: daily, weekly or monthly at a local time in
 * an IANA zone, for any report type and filter, delivered to a folder, a URL
 * and/or e-mail recipients.
 *
 * A schedule is a "report_schedule" document plus ONE pending job of kind
 * "schedule" due at its next firing. Firing computes the file for the period
 * that just ended (daily: the previous local day; weekly: the 7 local days
 * before; monthly: the previous calendar month), then in one transaction
 * records the file, bumps the schedule's sequence number, adds one delivery
 * job per destination and the job of the next firing. So a file is produced
 * for every period, empty or not, numbered without gaps; a missed firing
 * (the server was down) runs as soon as it is back.
 *
 * File names: kassa_<report>_<merchant>_<yyyymmdd>_<seq>.<ext>, yyyymmdd the
 * first local day of the period, seq the schedule's running number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "rep_int.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/ids.h"
#include "../base/log.h"

static const char *const FREQS[] = {"daily", "weekly", "monthly"};

/* The first firing strictly after `after` (unix s). */
static int64_t next_fire(const tz *z, const char *freq, int hour, int minute, int weekday,
                         int monthday, int64_t after)
{
    tz_fields f;
    tz_local(z, after, &f);
    int64_t day = tz_days_from_civil(f.year, f.month, f.day);
    for (int k = 0; k < 70; k++, day++) {
        int64_t y;
        int m, d;
        tz_civil_from_days(day, &y, &m, &d);
        bool match = strcmp(freq, "daily") == 0 ||
                     (strcmp(freq, "weekly") == 0 && tz_weekday(day) + 1 == weekday) ||
                     (strcmp(freq, "monthly") == 0 && d == monthday);
        if (!match)
            continue;
        int64_t at = tz_to_utc(z, day * 86400 + hour * 3600 + minute * 60);
        if (at > after)
            return at;
    }
    K_ASSERT(!"a firing within 70 days");
    return after;
}

/* The period a firing at `at` reports on: [*from, *to), local midnights. */
static void period_of(const tz *z, const char *freq, int64_t at, int64_t *from, int64_t *to)
{
    tz_fields f;
    tz_local(z, at, &f);
    int64_t today = tz_days_from_civil(f.year, f.month, f.day);
    int64_t start_day;
    if (strcmp(freq, "daily") == 0)
        start_day = today - 1;
    else if (strcmp(freq, "weekly") == 0)
        start_day = today - 7;
    else {
        int64_t py = f.month == 1 ? f.year - 1 : f.year;
        int pm = f.month == 1 ? 12 : f.month - 1;
        start_day = tz_days_from_civil(py, pm, 1);
        today = tz_days_from_civil(f.year, f.month, 1);
    }
    *from = tz_to_utc(z, start_day * 86400);
    *to = tz_to_utc(z, today * 86400);
}

static bool bad(gw_err *err, const char *param, const char *msg)
{
    gw_err_set(err, GW_WHY_PARAM_INVALID, param, "%s", msg);
    return false;
}

static bool check_destinations(rep_service *r, const rep_schedule_params *p, gw_err *err)
{
    struct stat st;
    if (p->folder == NULL && p->url == NULL &&
        (p->emails == NULL || json_array_size(p->emails) == 0))
        return bad(err, "folder", "A schedule needs at least one of folder, url or emails[].");
    if (p->folder != NULL &&
        (p->folder[0] != '/' || stat(p->folder, &st) != 0 || !S_ISDIR(st.st_mode)))
        return bad(err, "folder", "folder must be an absolute path of an existing directory.");
    if (p->url != NULL && strncmp(p->url, "http://", 7) != 0 && strncmp(p->url, "https://", 8) != 0)
        return bad(err, "url", "url must be an http:// or https:// URL.");
    if (p->emails != NULL && json_array_size(p->emails) > LIMIT_REPORT_RECIPIENTS_MAX)
        return bad(err, "emails", "At most 10 e-mail recipients.");
    size_t i;
    json_t *v;
    json_array_foreach(p->emails, i, v)
    {
        const char *e = json_string_value(v);
        if (e == NULL || strchr(e, '@') == NULL || strlen(e) > LIMIT_EMAIL_MAX ||
            strpbrk(e, "<>\r\n,; ") != NULL) {
            char param[32];
            snprintf(param, sizeof(param), "emails[%zu]", i);
            return bad(err, param, "Not an e-mail address.");
        }
    }
    if (p->emails != NULL && json_array_size(p->emails) > 0 && r->smtp_url == NULL)
        return bad(err, "emails", "E-mail delivery needs an SMTP relay (smtp_url in the config).");
    return true;
}

static bool check_when(const rep_schedule_params *p, gw_err *err)
{
    bool known = false;
    for (size_t i = 0; p->frequency != NULL && i < K_ARRAY_LEN(FREQS); i++)
        known |= strcmp(FREQS[i], p->frequency) == 0;
    if (!known)
        return bad(err, "frequency", "frequency must be daily, weekly or monthly.");
    if (p->hour < 0 || p->hour > 23)
        return bad(err, "hour", "hour must be 0 to 23.");
    if (p->minute < 0 || p->minute > 59)
        return bad(err, "minute", "minute must be 0 to 59.");
    if (strcmp(p->frequency, "weekly") == 0 && (p->weekday < 1 || p->weekday > 7))
        return bad(err, "weekday", "weekday must be 1 (Monday) to 7 (Sunday).");
    if (strcmp(p->frequency, "monthly") == 0 && (p->monthday < 1 || p->monthday > 28))
        return bad(err, "monthday", "monthday must be 1 to 28.");
    if (p->start_at != 0 && p->start_at < clock_now_s())
        return bad(err, "start_at", "start_at is in the past.");
    return true;
}

typedef struct {
    const char *merchant_id;
    json_t *doc;
    gw_idem *idem;
    arena *a;
    int64_t first_ms;
} sched_new_job;

static k_status put_doc(store_tx *tx, const char *merchant_id, const char *kind, json_t *doc,
                        int32_t version, const char *status)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    if (body == NULL)
        return K_ENOMEM;
    store_obj o = {.merchant_id = merchant_id,
                   .id = json_string_value(json_object_get(doc, "id")),
                   .kind = kind,
                   .status = status,
                   .created = json_integer_value(json_object_get(doc, "created")),
                   .version = version,
                   .body = body};
    k_status st = store_obj_put(tx, &o);
    free(body);
    return st;
}

static k_status add_job(store_tx *tx, const char *merchant_id, const char *kind, const char *ref,
                        int64_t at_ms, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    int64_t now = clock_now_ms();
    store_job j = {.merchant_id = merchant_id,
                   .kind = kind,
                   .ref_id = ref,
                   .state = "pending",
                   .next_at_ms = at_ms,
                   .body = text,
                   .created_ms = now,
                   .updated_ms = now};
    k_status st = store_job_add(tx, &j);
    free(text);
    return st;
}

static k_status sched_new_fn(store_tx *tx, void *arg)
{
    sched_new_job *j = arg;
    store_list_q q = {.limit = LIMIT_REPORT_SCHEDULES_MAX, .status = "active"};
    store_obj *objs;
    size_t n;
    bool more;
    k_status st = store_obj_list(tx, j->merchant_id, "report_schedule", &q, j->a, &objs, &n, &more);
    if (st == K_OK && n >= LIMIT_REPORT_SCHEDULES_MAX)
        return K_ETOOBIG;
    if (st == K_OK)
        st = put_doc(tx, j->merchant_id, "report_schedule", j->doc, 0, "active");
    if (st == K_OK)
        st = add_job(tx, j->merchant_id, "schedule",
                     json_string_value(json_object_get(j->doc, "id")), j->first_ms, NULL);
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, j->doc, j->a);
    return st;
}

k_status rep_schedule_create(rep_service *r, const char *merchant_id, const rep_schedule_params *p,
                             gw_idem *idem, arena *a, json_t **out, gw_err *err)
{
    rep_params rp = {.report_type = p->report_type,
                     .timezone = p->timezone,
                     .currency = p->currency,
                     .method = p->method,
                     .columns = p->columns,
                     .format = p->format,
                     .delimiter = p->delimiter,
                     .bom = p->bom};
    if (rep_params_check(r, merchant_id, &rp, err) != K_OK || !check_when(p, err) ||
        !check_destinations(r, p, err))
        return K_EINVAL;
    const tz *z;
    K_ASSERT(tz_load(rp.timezone, &z) == K_OK);
    int64_t base = p->start_at != 0 ? p->start_at - 1 : clock_now_s();
    int64_t first = next_fire(z, p->frequency, p->hour, p->minute, p->weekday, p->monthday, base);
    char id[LIMIT_ID_MAX], secret[LIMIT_ID_MAX];
    id_new(id, "rsch_");
    id_new(secret, "whsec_");
    json_t *params = json_pack("{s:s,s:s,s:b}", "timezone", rp.timezone, "format", rp.format, "bom",
                               rp.bom != 0);
    if (rp.currency != NULL)
        json_object_set_new(params, "currency", json_string(rp.currency));
    if (rp.method != NULL)
        json_object_set_new(params, "payment_method_type", json_string(rp.method));
    if (rp.columns != NULL)
        json_object_set(params, "columns", rp.columns);
    if (rp.delimiter != NULL)
        json_object_set_new(params, "delimiter", json_string(rp.delimiter));
    json_t *dest =
        json_pack("{s:s?,s:s?,s:O?}", "folder", p->folder, "url", p->url, "emails", p->emails);
    json_t *doc =
        json_pack("{s:s,s:s,s:I,s:s,s:s,s:i,s:i,s:i,s:i,s:s,s:o,s:o,s:s,s:I,s:I,s:n}", "id", id,
                  "object", "kassa.report_schedule", "created", (json_int_t)clock_now_s(),
                  "report_type", rp.report_type, "frequency", p->frequency, "hour", p->hour,
                  "minute", p->minute, "weekday", p->weekday, "monthday", p->monthday, "status",
                  "active", "parameters", params, "destinations", dest, "signing_secret", secret,
                  "next_run_at", (json_int_t)first, "files_made", (json_int_t)0, "last_file");
    *out = gw_keep(a, doc);
    json_decref(doc);
    sched_new_job j = {merchant_id, *out, idem, a, first * 1000};
    k_status st = store_write(r->st, sched_new_fn, &j);
    if (st == K_ETOOBIG) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, NULL, "A merchant keeps at most %d schedules.",
                   LIMIT_REPORT_SCHEDULES_MAX);
        return st;
    }
    return st != K_OK ? gw_err_store(err, st, "report schedule", id) : K_OK;
}

typedef struct {
    const char *merchant_id, *id;
    arena *a;
    json_t *doc;
    int32_t version;
    bool deleted;
} sched_get_job;

static k_status sched_load(store_tx *tx, sched_get_job *j)
{
    store_obj o;
    k_status st = store_obj_get(tx, j->merchant_id, "report_schedule", j->id, j->a, &o);
    if (st != K_OK)
        return st;
    json_t *d = json_loads(o.body, 0, NULL);
    if (d == NULL)
        return K_EIO;
    j->doc = gw_keep(j->a, d);
    json_decref(d);
    j->version = o.version;
    return K_OK;
}

static k_status sched_get_fn(store_tx *tx, void *arg)
{
    return sched_load(tx, arg);
}

k_status rep_schedule_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                          json_t **out, gw_err *err)
{
    sched_get_job j = {merchant_id, id, a, NULL, 0, false};
    k_status st = store_read(r->st, sched_get_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "report schedule", id);
    *out = j.doc;
    return K_OK;
}

k_status rep_schedule_list(rep_service *r, const char *merchant_id, const store_list_q *q, arena *a,
                           json_t ***out, size_t *n, bool *has_more, gw_err *err)
{
    return gw_list_docs(r->g, merchant_id, "report_schedule", q, a, out, n, has_more, err);
}

static k_status sched_delete_fn(store_tx *tx, void *arg)
{
    sched_get_job *j = arg;
    k_status st = sched_load(tx, j);
    if (st != K_OK)
        return st;
    json_object_set_new(j->doc, "status", json_string("deleted"));
    json_object_set_new(j->doc, "next_run_at", json_null());
    st = put_doc(tx, j->merchant_id, "report_schedule", j->doc, j->version, "deleted");
    store_job *jobs;
    size_t n;
    if (st == K_OK)
        st = store_job_list(tx, j->merchant_id, j->id, j->a, &jobs, &n);
    for (size_t i = 0; st == K_OK && i < n; i++) {
        if (strcmp(jobs[i].kind, "schedule") != 0 || strcmp(jobs[i].state, "pending") != 0)
            continue;
        jobs[i].state = "canceled";
        jobs[i].updated_ms = clock_now_ms();
        st = store_job_update(tx, &jobs[i]);
    }
    return st;
}

k_status rep_schedule_delete(rep_service *r, const char *merchant_id, const char *id, arena *a,
                             json_t **out, gw_err *err)
{
    sched_get_job j = {merchant_id, id, a, NULL, 0, false};
    k_status st = store_write(r->st, sched_delete_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "report schedule", id);
    *out = j.doc;
    return K_OK;
}

typedef struct {
    const char *merchant_id, *id;
    arena *a;
    store_job *jobs;
    size_t n;
} sched_jobs_job;

static k_status sched_jobs_fn(store_tx *tx, void *arg)
{
    sched_jobs_job *j = arg;
    store_obj o;
    k_status st = store_obj_get(tx, j->merchant_id, "report_schedule", j->id, j->a, &o);
    return st != K_OK ? st : store_job_list(tx, j->merchant_id, j->id, j->a, &j->jobs, &j->n);
}

k_status rep_schedule_deliveries(rep_service *r, const char *merchant_id, const char *id, arena *a,
                                 json_t **out, gw_err *err)
{
    sched_jobs_job j = {merchant_id, id, a, NULL, 0};
    k_status st = store_read(r->st, sched_jobs_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "report schedule", id);
    json_t *list = json_array();
    for (size_t i = 0; i < j.n; i++) {
        const store_job *x = &j.jobs[i];
        if (strcmp(x->kind, "deliver") != 0)
            continue;
        json_t *b = x->body != NULL ? json_loads(x->body, 0, NULL) : json_object();
        json_object_del(b, "secret");
        json_array_append_new(
            list, json_pack("{s:I,s:s,s:i,s:I,s:s?,s:I,s:o}", "id", (json_int_t)x->id, "state",
                            x->state, "attempts", x->attempts, "next_attempt_at",
                            (json_int_t)(x->next_at_ms / 1000), "last_error", x->last_error,
                            "updated", (json_int_t)(x->updated_ms / 1000), "delivery", b));
    }
    *out = gw_keep(a, list);
    json_decref(list);
    return K_OK;
}

/* ---- firing ---- */

typedef struct {
    rep_service *r;
    const store_job *job;
    json_t *file;   /* made before the write */
    int64_t seq;    /* the number the file got */
    int64_t next_s; /* the next firing */
    arena *a;
    bool gone;
} fire_job;

static k_status add_delivery(store_tx *tx, fire_job *j, json_t *sched, const char *channel,
                             const char *target)
{
    json_t *b = json_pack(
        "{s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:O}", "channel", channel, "target", target, "file",
        json_object_get(j->file, "id"), "filename", json_object_get(j->file, "filename"), "type",
        json_object_get(j->file, "type"), "sha256", json_object_get(j->file, "sha256"), "size",
        json_object_get(j->file, "size"), "secret", json_object_get(sched, "signing_secret"));
    k_status st = add_job(tx, j->job->merchant_id, "deliver", j->job->ref_id, clock_now_ms(), b);
    json_decref(b);
    return st;
}

static k_status fire_fn(store_tx *tx, void *arg)
{
    fire_job *j = arg;
    sched_get_job g = {j->job->merchant_id, j->job->ref_id, j->a, NULL, 0, false};
    k_status st = sched_load(tx, &g);
    if (st != K_OK)
        return st;
    const char *status = json_string_value(json_object_get(g.doc, "status"));
    int64_t made = json_integer_value(json_object_get(g.doc, "files_made"));
    if (status == NULL || strcmp(status, "active") != 0 || made + 1 != j->seq) {
        j->gone = true; /* deleted meanwhile, or another node fired it first */
        store_job done = *j->job;
        done.state = "canceled";
        done.updated_ms = clock_now_ms();
        k_status ust = store_job_update(tx, &done);
        return ust == K_ENOTFOUND ? K_OK : ust;
    }
    st = put_doc(tx, j->job->merchant_id, "file", j->file, 0, NULL);
    json_object_set_new(g.doc, "files_made", json_integer(j->seq));
    json_object_set(g.doc, "last_file", json_object_get(j->file, "id"));
    json_object_set_new(g.doc, "next_run_at", json_integer(j->next_s));
    if (st == K_OK)
        st = put_doc(tx, j->job->merchant_id, "report_schedule", g.doc, g.version, "active");
    json_t *dest = json_object_get(g.doc, "destinations");
    const char *folder = json_string_value(json_object_get(dest, "folder"));
    const char *url = json_string_value(json_object_get(dest, "url"));
    if (st == K_OK && folder != NULL)
        st = add_delivery(tx, j, g.doc, "folder", folder);
    if (st == K_OK && url != NULL)
        st = add_delivery(tx, j, g.doc, "url", url);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(dest, "emails"), i, v)
    {
        if (st == K_OK)
            st = add_delivery(tx, j, g.doc, "email", json_string_value(v));
    }
    if (st == K_OK)
        st = add_job(tx, j->job->merchant_id, "schedule", j->job->ref_id, j->next_s * 1000, NULL);
    if (st != K_OK)
        return st;
    store_job done = *j->job;
    done.state = "done";
    done.attempts++;
    done.updated_ms = clock_now_ms();
    return store_job_update(tx, &done);
}

k_status rep_schedule_fire(rep_service *r, const store_job *job, arena *a)
{
    sched_get_job g = {job->merchant_id, job->ref_id, a, NULL, 0, false};
    if (store_read(r->st, sched_get_fn, &g) != K_OK)
        return K_ENOTFOUND;
    json_t *s = g.doc;
    const char *state = json_string_value(json_object_get(s, "status"));
    if (state == NULL || strcmp(state, "active") != 0) { /* deleted: this firing is void */
        fire_job gone = {r, job, NULL, -1, 0, a, false};
        return store_write(r->st, fire_fn, &gone);
    }
    json_t *params = json_object_get(s, "parameters");
    const char *freq = json_string_value(json_object_get(s, "frequency"));
    const char *zone = json_string_value(json_object_get(params, "timezone"));
    const tz *z;
    if (freq == NULL || zone == NULL || tz_load(zone, &z) != K_OK)
        return K_EINVAL;
    int hour = (int)gw_jint(s, "hour"), minute = (int)gw_jint(s, "minute");
    int64_t at = job->next_at_ms / 1000;
    rep_params p = {.report_type = json_string_value(json_object_get(s, "report_type")),
                    .has_start = true,
                    .has_end = true,
                    .timezone = zone,
                    .currency = json_string_value(json_object_get(params, "currency")),
                    .method = json_string_value(json_object_get(params, "payment_method_type")),
                    .columns = json_object_get(params, "columns"),
                    .format = json_string_value(json_object_get(params, "format")),
                    .delimiter = json_string_value(json_object_get(params, "delimiter")),
                    .bom = json_is_false(json_object_get(params, "bom")) ? 0 : 1};
    period_of(z, freq, at, &p.interval_start, &p.interval_end);
    const rep_type *t = rep_type_find(p.report_type);
    int64_t seq = gw_jint(s, "files_made") + 1;
    tz_fields f;
    tz_local(z, p.interval_start, &f);
    const char *name =
        arena_printf(a, "kassa_%s_%s_%04lld%02d%02d_%06lld.%s", t != NULL ? t->file_slug : "report",
                     job->merchant_id, (long long)f.year, f.month, f.day, (long long)seq,
                     p.format != NULL && strcmp(p.format, "xlsx") == 0 ? "xlsx" : "csv");
    json_t *file = NULL;
    int64_t rows = 0;
    k_status st = t == NULL ? K_EINVAL
                            : rep_make_file(r, job->merchant_id, &p, name, "scheduled_report", a,
                                            &file, &rows);
    if (st != K_OK) {
        log_warn("reports: schedule '%s' could not make its file (%s); trying again later",
                 job->ref_id, k_status_str(st));
        return st; /* the lease runs out and the firing is tried again */
    }
    int64_t next = next_fire(z, freq, hour, minute, (int)gw_jint(s, "weekday"),
                             (int)gw_jint(s, "monthday"), at); /* missed periods catch up */
    fire_job j = {r, job, file, seq, next, a, false};
    st = store_write(r->st, fire_fn, &j);
    if (st == K_OK && !j.gone)
        log_info("reports: schedule '%s' made '%s' (%lld rows)", job->ref_id, name,
                 (long long)rows);
    return st;
}
