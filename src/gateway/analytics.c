/*
 * analytics.c - the figures behind the back office's charts, from the same
 * ledger the reports read: gross and net volume, refunds, captures,
 * authorisations, successful and failed attempts (success rate), failure
 * reasons, payment method and currency mix, value released and lost to
 * expired authorisations; per currency, in buckets from 15 minutes to a month
 * in a time zone, with the previous period of the same length beside it.
 *
 * The store sums the journal per 15-minute UTC slot (store_ledger_groups, paged
 * by slot: its rollup, kept by triggers in every write's transaction, for the
 * whole slots, the journal for the partial slots at the interval's ends). Every bucket boundary
 * inside the interval is a local 15-minute mark, which is a UTC 15-minute mark in every zone whose
 * offset is a multiple of 15 minutes (all zones in use today), so each slot
 * falls in exactly one bucket and the buckets add up to the totals, which are
 * the export's totals for the same interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rep_int.h"
#include "../domain/money.h"

#define SLOT_MS (15 * 60 * 1000)

typedef struct {
    int64_t gross, refunds, refunds_count, captures, captures_count, sales_count;
    int64_t authorized, authorized_count, successes, failures, released, expired;
} figures;

typedef struct {
    char code[4];
    figures total;
    figures *bucket; /* nbuckets */
} cur_figs;

typedef struct {
    char code[64];
    int64_t count;
} reason;

typedef struct {
    char method[64];
    char currency[4];
    int64_t count, amount;
} method_mix;

typedef struct {
    int64_t *bounds; /* nbuckets + 1 instants (unix s) */
    size_t nbuckets;
    cur_figs cur[LIMIT_RULE_CURRENCIES_MAX];
    size_t ncur;
    reason reasons[64];
    size_t nreasons;
    method_mix methods[128];
    size_t nmethods;
    const char *currency; /* filter, lower-case, NULL = all */
    arena *a;
} tally;

static const struct {
    const char *name;
    int64_t seconds; /* 0 = calendar: day, week, month */
} BUCKETS[] = {{"15m", 900}, {"30m", 1800}, {"1h", 3600}, {"4h", 14400},
               {"day", 0},   {"week", 0},   {"month", 0}};

/* Bucket boundaries: local marks from the local floor of start, clipped. */
static k_status make_bounds(tally *t, const tz *z, const char *bucket, int64_t start, int64_t end)
{
    int64_t step = -1;
    for (size_t i = 0; i < K_ARRAY_LEN(BUCKETS); i++)
        if (strcmp(BUCKETS[i].name, bucket) == 0)
            step = BUCKETS[i].seconds;
    if (step < 0)
        return K_EINVAL;
    size_t cap = LIMIT_ANALYTICS_BUCKETS_MAX + 2;
    t->bounds = arena_alloc(t->a, cap * sizeof(int64_t));
    if (t->bounds == NULL)
        return K_ENOMEM;
    tz_fields f;
    tz_local(z, start, &f);
    int64_t day = tz_days_from_civil(f.year, f.month, f.day);
    int64_t b;
    if (step > 0) { /* floor to the step in local wall time, then step in real time */
        int64_t sod = (int64_t)f.hour * 3600 + f.minute * 60 + f.second;
        b = tz_to_utc(z, day * 86400 + sod / step * step);
    } else if (strcmp(bucket, "day") == 0) {
        b = tz_to_utc(z, day * 86400);
    } else if (strcmp(bucket, "week") == 0) {
        day -= tz_weekday(day);
        b = tz_to_utc(z, day * 86400);
    } else {
        day = tz_days_from_civil(f.year, f.month, 1);
        b = tz_to_utc(z, day * 86400);
    }
    size_t n = 0;
    t->bounds[n++] = start;
    while (b < end) {
        if (b > start) {
            if (n >= cap - 1)
                return K_ETOOBIG;
            t->bounds[n++] = b;
        }
        if (step > 0) {
            b += step;
        } else if (strcmp(bucket, "day") == 0) {
            day += 1;
            b = tz_to_utc(z, day * 86400);
        } else if (strcmp(bucket, "week") == 0) {
            day += 7;
            b = tz_to_utc(z, day * 86400);
        } else {
            int64_t y;
            int m, d;
            tz_civil_from_days(day, &y, &m, &d);
            day = tz_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
            b = tz_to_utc(z, day * 86400);
        }
    }
    t->bounds[n] = end;
    t->nbuckets = n;
    return K_OK;
}

static size_t bucket_of(const tally *t, int64_t s)
{
    size_t lo = 0, hi = t->nbuckets; /* last bound <= s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->bounds[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static cur_figs *cur_get(tally *t, const char *code)
{
    for (size_t i = 0; i < t->ncur; i++)
        if (strcmp(t->cur[i].code, code) == 0)
            return &t->cur[i];
    if (t->ncur == K_ARRAY_LEN(t->cur))
        return NULL;
    cur_figs *c = &t->cur[t->ncur];
    c->bucket = arena_alloc(t->a, (t->nbuckets > 0 ? t->nbuckets : 1) * sizeof(figures));
    if (c->bucket == NULL)
        return NULL;
    snprintf(c->code, sizeof(c->code), "%s", code);
    t->ncur++;
    return c;
}

static void add_figures(figures *f, const store_ledger_group *g)
{
    bool ok = g->status != NULL && strcmp(g->status, "succeeded") == 0;
    const char *k = g->kind;
    if (ok && strcmp(k, "sale") == 0) {
        f->gross += g->amount;
        f->sales_count += g->count;
        f->successes += g->count;
        f->authorized += g->amount;
        f->authorized_count += g->count;
    } else if (ok && strcmp(k, "capture") == 0) {
        f->gross += g->amount;
        f->captures += g->amount;
        f->captures_count += g->count;
    } else if (ok && strcmp(k, "authorize") == 0) {
        f->authorized += g->amount;
        f->authorized_count += g->count;
        f->successes += g->count;
    } else if (ok && strcmp(k, "refund_settle") == 0) {
        f->refunds += g->amount;
        f->refunds_count += g->count;
    } else if (ok && (strcmp(k, "release") == 0 || strcmp(k, "cancel") == 0)) {
        f->released += g->amount;
    } else if (ok && strcmp(k, "expire") == 0) {
        f->released += g->amount;
        f->expired += g->amount;
    } else if (strcmp(k, "fail") == 0) {
        f->failures += g->count;
    }
}

static void add_reason(tally *t, const store_ledger_group *g)
{
    const char *code = g->code != NULL ? g->code : "unknown";
    for (size_t i = 0; i < t->nreasons; i++)
        if (strcmp(t->reasons[i].code, code) == 0) {
            t->reasons[i].count += g->count;
            return;
        }
    if (t->nreasons < K_ARRAY_LEN(t->reasons)) {
        snprintf(t->reasons[t->nreasons].code, sizeof(t->reasons[0].code), "%s", code);
        t->reasons[t->nreasons++].count = g->count;
    }
}

static void add_method(tally *t, const store_ledger_group *g)
{
    const char *m = g->method != NULL ? g->method : "none";
    for (size_t i = 0; i < t->nmethods; i++)
        if (strcmp(t->methods[i].method, m) == 0 &&
            strcmp(t->methods[i].currency, g->currency) == 0) {
            t->methods[i].count += g->count;
            t->methods[i].amount += g->amount;
            return;
        }
    if (t->nmethods < K_ARRAY_LEN(t->methods)) {
        method_mix *x = &t->methods[t->nmethods++];
        snprintf(x->method, sizeof(x->method), "%s", m);
        snprintf(x->currency, sizeof(x->currency), "%s", g->currency);
        x->count = g->count;
        x->amount = g->amount;
    }
}

static k_status add_group(tally *t, const store_ledger_group *g, int64_t from_s)
{
    if (g->currency == NULL || (t->currency != NULL && strcmp(t->currency, g->currency) != 0))
        return K_OK;
    cur_figs *c = cur_get(t, g->currency);
    if (c == NULL)
        return K_ETOOBIG;
    int64_t at = g->slot * (SLOT_MS / 1000);
    size_t b = bucket_of(t, at > from_s ? at : from_s);
    add_figures(&c->total, g);
    add_figures(&c->bucket[b], g);
    bool ok = g->status != NULL && strcmp(g->status, "succeeded") == 0;
    if (strcmp(g->kind, "fail") == 0)
        add_reason(t, g);
    if (ok && (strcmp(g->kind, "sale") == 0 || strcmp(g->kind, "authorize") == 0))
        add_method(t, g);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    int64_t from_s, to_s;
    tally *t;
    k_status st;
} tally_job;

static k_status tally_fn(store_tx *tx, void *arg)
{
    tally_job *j = arg;
    int64_t from_ms = j->from_s * 1000, to_ms = j->to_s * 1000;
    for (;;) {
        arena page;
        arena_init(&page, 0);
        store_ledger_group *g;
        size_t n;
        k_status st = store_ledger_groups(tx, j->merchant_id, from_ms, to_ms, SLOT_MS,
                                          LIMIT_STORE_ROWS_MAX, &page, &g, &n);
        if (st != K_OK) {
            arena_release(&page);
            return st;
        }
        bool full = n == LIMIT_STORE_ROWS_MAX;
        /* a full page may have cut its last slot: leave that slot to the next page */
        int64_t cut = full ? g[n - 1].slot : INT64_MAX;
        for (size_t i = 0; i < n && g[i].slot < cut; i++) {
            st = add_group(j->t, &g[i], j->from_s);
            if (st != K_OK) {
                arena_release(&page);
                return st;
            }
        }
        arena_release(&page);
        if (!full)
            return K_OK;
        if (cut * SLOT_MS <= from_ms) /* one slot alone holds more groups than a page */
            return K_ETOOBIG;
        from_ms = cut * SLOT_MS;
    }
}

static json_t *figures_json(const figures *f)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "gross", (json_int_t)f->gross,
        "refunds", (json_int_t)f->refunds, "net", (json_int_t)(f->gross - f->refunds),
        "refunds_count", (json_int_t)f->refunds_count, "captured", (json_int_t)f->captures,
        "captures_count", (json_int_t)f->captures_count, "sales_count", (json_int_t)f->sales_count,
        "authorized", (json_int_t)f->authorized, "authorizations_count",
        (json_int_t)f->authorized_count, "successful_attempts", (json_int_t)f->successes,
        "failed_attempts", (json_int_t)f->failures, "released", (json_int_t)f->released, "expired",
        (json_int_t)f->expired);
    int64_t tries = f->successes + f->failures;
    if (tries > 0)
        json_object_set_new(o, "success_rate", json_real((double)f->successes / (double)tries));
    else
        json_object_set_new(o, "success_rate", json_null());
    return o;
}

static k_status run_tally(rep_service *r, const char *merchant_id, const tz *z, const char *bucket,
                          const char *currency, int64_t from, int64_t to, arena *a, tally *t)
{
    memset(t, 0, sizeof(*t));
    t->a = a;
    t->currency = currency;
    k_status st = make_bounds(t, z, bucket, from, to);
    if (st != K_OK)
        return st;
    tally_job j = {merchant_id, from, to, t, K_OK};
    return store_read(r->st, tally_fn, &j);
}

static json_t *totals_json(const tally *t)
{
    json_t *o = json_object();
    for (size_t i = 0; i < t->ncur; i++)
        json_object_set_new(o, t->cur[i].code, figures_json(&t->cur[i].total));
    return o;
}

static json_t *buckets_json(const tally *t, const tz *z)
{
    json_t *arr = json_array();
    for (size_t b = 0; b < t->nbuckets; b++) {
        char iso[TZ_ISO_MAX];
        tz_format_iso(z, t->bounds[b] * 1000, false, iso);
        json_t *by = json_object();
        for (size_t i = 0; i < t->ncur; i++)
            json_object_set_new(by, t->cur[i].code, figures_json(&t->cur[i].bucket[b]));
        json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:o}", "start", (json_int_t)t->bounds[b],
                                             "end", (json_int_t)t->bounds[b + 1], "start_local",
                                             iso, "by_currency", by));
    }
    return arr;
}

static json_t *change_one(const figures *f, const figures *prev);

static json_t *change_json(const tally *now, const tally *before)
{
    json_t *o = json_object();
    for (size_t i = 0; i < now->ncur; i++) {
        figures prev = {0};
        for (size_t k = 0; k < before->ncur; k++)
            if (strcmp(before->cur[k].code, now->cur[i].code) == 0)
                prev = before->cur[k].total;
        json_object_set_new(o, now->cur[i].code, change_one(&now->cur[i].total, &prev));
    }
    return o;
}

/* ---- one currency: every figure converted at the rule set's rates ---- */

typedef struct {
    const currency_info *to;
    int64_t rate[LIMIT_RULE_CURRENCIES_MAX]; /* per now.cur[i] */
    figures total, prev_total;
    figures *bucket; /* nbuckets */
} converted;

static k_status conv_add(figures *dst, const figures *f, const currency_info *from,
                         const currency_info *to, int64_t rate)
{
    const int64_t *src[] = {&f->gross,      &f->refunds,  &f->captures,
                            &f->authorized, &f->released, &f->expired};
    int64_t *out[] = {&dst->gross,      &dst->refunds,  &dst->captures,
                      &dst->authorized, &dst->released, &dst->expired};
    for (size_t i = 0; i < K_ARRAY_LEN(src); i++) {
        int64_t v;
        if (money_convert(*src[i], from, to, rate, &v) != K_OK || !money_add(*out[i], v, out[i]))
            return K_ETOOBIG;
    }
    dst->refunds_count += f->refunds_count;
    dst->captures_count += f->captures_count;
    dst->sales_count += f->sales_count;
    dst->authorized_count += f->authorized_count;
    dst->successes += f->successes;
    dst->failures += f->failures;
    return K_OK;
}

static k_status rate_of(rep_service *r, const char *code, const currency_info *to, int64_t *rate,
                        const currency_info **from)
{
    *from = currency_find(code);
    if (*from == NULL)
        return K_ENOTFOUND;
    return rules_rate(&r->g->rules, (*from)->code, to->code, rate);
}

/* The buckets' converted figures add up to the converted totals: each bucket's
 * figures are converted per currency and the totals are their sums. */
static k_status convert_all(rep_service *r, const tally *now, const tally *before, bool compare,
                            converted *c, arena *a, gw_err *err)
{
    c->bucket = arena_alloc(a, (now->nbuckets > 0 ? now->nbuckets : 1) * sizeof(figures));
    if (c->bucket == NULL)
        return K_ENOMEM;
    memset(c->bucket, 0, (now->nbuckets > 0 ? now->nbuckets : 1) * sizeof(figures));
    for (size_t i = 0; i < now->ncur; i++) {
        const currency_info *from;
        if (rate_of(r, now->cur[i].code, c->to, &c->rate[i], &from) != K_OK) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, "convert_to",
                       "No exchange rate from %s to %s in the rule set.",
                       from != NULL ? from->code : now->cur[i].code, c->to->code);
            return K_EINVAL;
        }
        for (size_t b = 0; b < now->nbuckets; b++) {
            if (conv_add(&c->bucket[b], &now->cur[i].bucket[b], from, c->to, c->rate[i]) != K_OK ||
                conv_add(&c->total, &now->cur[i].bucket[b], from, c->to, c->rate[i]) != K_OK)
                goto big;
        }
    }
    for (size_t i = 0; compare && i < before->ncur; i++) {
        const currency_info *from;
        int64_t rate;
        if (rate_of(r, before->cur[i].code, c->to, &rate, &from) != K_OK) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, "convert_to",
                       "No exchange rate from %s to %s in the rule set.",
                       from != NULL ? from->code : before->cur[i].code, c->to->code);
            return K_EINVAL;
        }
        for (size_t b = 0; b < before->nbuckets; b++)
            if (conv_add(&c->prev_total, &before->cur[i].bucket[b], from, c->to, rate) != K_OK)
                goto big;
    }
    return K_OK;
big:
    gw_err_set(err, GW_WHY_PARAM_INVALID, "convert_to", "The converted sums do not fit.");
    return K_EINVAL;
}

static json_t *change_one(const figures *f, const figures *prev)
{
    json_t *c = json_object();
#define CHANGE(name, a_, b_)                                                                       \
    json_object_set_new(c, name,                                                                   \
                        (b_) != 0 ? json_real((double)((a_) - (b_)) / (double)(b_)) : json_null())
    CHANGE("gross", f->gross, prev->gross);
    CHANGE("net", f->gross - f->refunds, prev->gross - prev->refunds);
    CHANGE("refunds", f->refunds, prev->refunds);
    CHANGE("successful_attempts", f->successes, prev->successes);
#undef CHANGE
    return c;
}

static json_t *converted_json(rep_service *r, const converted *c, const tally *now, const tz *z,
                              bool compare)
{
    char cur[4];
    currency_lower(c->to->code, cur);
    json_t *rates = json_array();
    for (size_t i = 0; i < now->ncur; i++) {
        char dec[32];
        snprintf(dec, sizeof(dec), "%lld.%09lld", (long long)(c->rate[i] / 1000000000),
                 (long long)(c->rate[i] % 1000000000));
        for (size_t n = strlen(dec); n > 2 && dec[n - 1] == '0' && dec[n - 2] != '.'; n--)
            dec[n - 1] = '\0';
        json_array_append_new(rates,
                              json_pack("{s:s,s:s,s:I,s:s}", "from", now->cur[i].code, "to", cur,
                                        "rate_e9", (json_int_t)c->rate[i], "rate", dec));
    }
    char since[TZ_ISO_MAX];
    tz_format_iso(z, r->rates_since_s * 1000, false, since);
    json_t *b = json_array();
    for (size_t i = 0; i < now->nbuckets; i++)
        json_array_append_new(b, figures_json(&c->bucket[i]));
    json_t *o = json_pack("{s:s,s:o,s:I,s:s,s:o,s:o}", "currency", cur, "rates", rates,
                          "rates_since", (json_int_t)r->rates_since_s, "rates_since_local", since,
                          "totals", figures_json(&c->total), "buckets", b);
    if (compare) {
        json_object_set_new(o, "previous_totals", figures_json(&c->prev_total));
        json_object_set_new(o, "change", change_one(&c->total, &c->prev_total));
    }
    return o;
}

static bool check(const rep_analytics_params *p, const tz **z, gw_err *err)
{
    const char *bad = NULL, *msg = NULL;
    if (p->interval_end <= p->interval_start) {
        bad = "interval_end";
        msg = "interval_end must be after interval_start.";
    } else if (tz_load(p->timezone != NULL ? p->timezone : "UTC", z) != K_OK) {
        bad = "timezone";
        msg = "Not a time zone of the IANA database (e.g. Europe/Berlin).";
    } else if (p->currency != NULL && currency_find(p->currency) == NULL) {
        bad = "currency";
        msg = "Invalid currency.";
    } else if (p->convert_to != NULL && currency_find(p->convert_to) == NULL) {
        bad = "convert_to";
        msg = "Invalid currency.";
    }
    bool known = p->bucket == NULL;
    for (size_t i = 0; !known && i < K_ARRAY_LEN(BUCKETS); i++)
        known = strcmp(BUCKETS[i].name, p->bucket) == 0;
    if (bad == NULL && !known) {
        bad = "bucket";
        msg = "bucket must be one of 15m, 30m, 1h, 4h, day, week, month.";
    }
    if (bad != NULL)
        gw_err_set(err, GW_WHY_PARAM_INVALID, bad, "%s", msg);
    return bad == NULL;
}

k_status rep_analytics(rep_service *r, const char *merchant_id, const rep_analytics_params *p,
                       arena *a, json_t **out, gw_err *err)
{
    const tz *z;
    if (!check(p, &z, err))
        return K_EINVAL;
    const char *bucket = p->bucket != NULL ? p->bucket : "day";
    char cur[4] = "";
    if (p->currency != NULL)
        currency_lower(p->currency, cur);
    tally now, before;
    k_status st = run_tally(r, merchant_id, z, bucket, cur[0] ? cur : NULL, p->interval_start,
                            p->interval_end, a, &now);
    int64_t len = p->interval_end - p->interval_start;
    if (st == K_OK && p->compare)
        st = run_tally(r, merchant_id, z, bucket, cur[0] ? cur : NULL, p->interval_start - len,
                       p->interval_start, a, &before);
    if (st == K_ETOOBIG) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "bucket",
                   "Too many buckets (at most %d): choose a coarser bucket or a shorter interval.",
                   LIMIT_ANALYTICS_BUCKETS_MAX);
        return st;
    }
    if (st != K_OK)
        return gw_err_store(err, st, "analytics", NULL);
    json_t *reasons = json_array();
    for (size_t i = 0; i < now.nreasons; i++)
        json_array_append_new(reasons, json_pack("{s:s,s:I}", "code", now.reasons[i].code, "count",
                                                 (json_int_t)now.reasons[i].count));
    json_t *methods = json_array();
    for (size_t i = 0; i < now.nmethods; i++)
        json_array_append_new(methods,
                              json_pack("{s:s,s:s,s:I,s:I}", "payment_method_type",
                                        now.methods[i].method, "currency", now.methods[i].currency,
                                        "count", (json_int_t)now.methods[i].count, "amount",
                                        (json_int_t)now.methods[i].amount));
    json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:o}", "object", "kassa.analytics",
                          "interval_start", (json_int_t)p->interval_start, "interval_end",
                          (json_int_t)p->interval_end, "timezone", tz_name(z), "bucket", bucket,
                          "totals", totals_json(&now), "buckets", buckets_json(&now, z),
                          "failure_reasons", reasons, "payment_methods", methods);
    if (p->compare) {
        json_object_set_new(o, "previous",
                            json_pack("{s:I,s:I,s:o}", "interval_start",
                                      (json_int_t)(p->interval_start - len), "interval_end",
                                      (json_int_t)p->interval_start, "totals",
                                      totals_json(&before)));
        json_object_set_new(o, "change", change_json(&now, &before));
    }
    if (p->convert_to != NULL) {
        converted *c = arena_alloc(a, sizeof(*c));
        if (c == NULL) {
            json_decref(o);
            return gw_err_store(err, K_ENOMEM, "analytics", NULL);
        }
        memset(c, 0, sizeof(*c));
        c->to = currency_find(p->convert_to);
        st = convert_all(r, &now, &before, p->compare, c, a, err);
        if (st != K_OK) {
            json_decref(o);
            return st == K_ENOMEM ? gw_err_store(err, st, "analytics", NULL) : st;
        }
        json_object_set_new(o, "converted", converted_json(r, c, &now, z, p->compare));
    }
    *out = gw_keep(a, o);
    json_decref(o);
    return K_OK;
}
