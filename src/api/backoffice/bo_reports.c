/*
 * bo_reports.c - the reports page (/dashboard/reports): the analytics figures
 * (gateway/analytics.c through rep_analytics) as tables and charts, in buckets
 * from 15 minutes to a month in a time zone, per currency or converted to one
 * currency at the rule set's rates (rate and date shown), beside the previous
 * period; the figures behind every chart as CSV; report runs (CSV/XLSX through
 * the report writers) for the page's filter, and report schedules (list,
 * create, delete) through the same gateway functions as /v1/kassa/report_schedules.
 *
 * Every chart is drawn by static/reports.js from the table beside it, so the
 * picture, the table and the CSV are one grid (grid_*): the CSV is written
 * from the same cells. Chart.js is Debian's libjs-chart.js, read once at start
 * (bo_chartjs_load); without it the page says so and shows the tables.
 */
#include "bo_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/clock.h"
#include "../../base/crypto.h"
#include "../../base/csv.h"
#include "../../base/form.h"
#include "../../base/log.h"
#include "../../base/tz.h"
#include "../../domain/money.h"
#include "../../gateway/reports.h"

/* ---- Chart.js, found at start ---- */

#define CHARTJS_PATH "/usr/share/javascript/chart.js/chart.min.js"

static char *chartjs;
static size_t chartjs_len;
static pthread_once_t chartjs_once = PTHREAD_ONCE_INIT;

static void chartjs_read(void)
{
    FILE *f = fopen(CHARTJS_PATH, "rb");
    if (f == NULL) {
        log_warn("backoffice: %s is missing (Debian package libjs-chart.js): the reports page "
                 "shows its tables without charts",
                 CHARTJS_PATH);
        return;
    }
    buf b;
    buf_init(&b, 4u << 20);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (buf_append(&b, tmp, n) != K_OK)
            break;
    bool ok = !ferror(f) && feof(f);
    fclose(f);
    if (!ok || b.len == 0) {
        log_warn("backoffice: cannot read %s: the reports page shows its tables only",
                 CHARTJS_PATH);
        buf_free(&b);
        return;
    }
    chartjs_len = b.len;
    chartjs = b.data; /* kept for the process's life */
}

void bo_chartjs_load(void)
{
    pthread_once(&chartjs_once, chartjs_read);
}

void bo_chartjs_serve(bo_req *r)
{
    bo_chartjs_load();
    if (chartjs == NULL) {
        http_resp_set(r->resp, 404, "text/plain; charset=utf-8", "chart.js is not installed\n", 26);
        return;
    }
    http_resp_set(r->resp, 200, "text/javascript; charset=utf-8", chartjs, chartjs_len);
    http_resp_header(r->req, r->resp, "Cache-Control", "public, max-age=300");
}

/* ---- the filter ---- */

typedef struct {
    const char *from, *to; /* YYYY-MM-DD, local days, both included */
    const char *zone, *bucket, *currency, *convert;
    bool compare, zone_auto;
    int64_t start, end; /* unix s, [start, end) */
    const char *bad, *bad_msg;
} rfilter;

static bool day_parse(const char *s, int64_t *days)
{
    int y, m, d;
    char tail;
    if (s == NULL || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31 || y < 1970 || y > 9999)
        return false;
    *days = tz_days_from_civil(y, m, d);
    return true;
}

static const char *day_text(bo_req *r, int64_t days)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(days, &y, &m, &d);
    return arena_printf(r->req->arena, "%04lld-%02d-%02d", (long long)y, m, d);
}

static void filter_parse(bo_req *r, rfilter *f)
{
    memset(f, 0, sizeof *f);
    f->zone = bo_q(r, "zone");
    f->zone_auto = f->zone == NULL;
    if (f->zone == NULL)
        f->zone = "UTC";
    f->bucket = bo_q(r, "bucket") != NULL ? bo_q(r, "bucket") : "day";
    f->currency = bo_q(r, "currency");
    f->convert = bo_q(r, "convert");
    /* the form sends "compare" when ticked and "shown" always: absent both = first visit */
    f->compare = bo_q(r, "compare") != NULL || bo_q(r, "shown") == NULL;
    const tz *z;
    if (tz_load(f->zone, &z) != K_OK) {
        f->bad = "zone";
        f->bad_msg = T(r, "Give a time zone such as Europe/Berlin.");
        tz_load("UTC", &z);
    }
    tz_fields now;
    tz_local(z, clock_now_s(), &now);
    int64_t today = tz_days_from_civil(now.year, now.month, now.day);
    int64_t d0 = today - 6, d1 = today;
    f->from = bo_q(r, "from");
    f->to = bo_q(r, "to");
    if (f->from != NULL && !day_parse(f->from, &d0) && f->bad == NULL) {
        f->bad = "from";
        f->bad_msg = T(r, "Give a date such as 2026-12-01.");
    }
    if (f->to != NULL && !day_parse(f->to, &d1) && f->bad == NULL) {
        f->bad = "to";
        f->bad_msg = T(r, "Give a date such as 2026-12-01.");
    }
    if (f->bad == NULL && d1 < d0) {
        f->bad = "to";
        f->bad_msg = T(r, "The last day must not be before the first.");
    }
    f->from = day_text(r, d0);
    f->to = day_text(r, d1);
    f->start = tz_to_utc(z, d0 * 86400);
    f->end = tz_to_utc(z, (d1 + 1) * 86400);
}

/* The page's query string (for links: CSV of a chart, back after a POST). */
static const char *filter_query(bo_req *r, const rfilter *f)
{
    buf b;
    buf_init(&b, 4096);
    const char *pairs[][2] = {{"from", f->from},         {"to", f->to},
                              {"zone", f->zone},         {"bucket", f->bucket},
                              {"currency", f->currency}, {"convert", f->convert}};
    for (size_t i = 0; i < K_ARRAY_LEN(pairs); i++) {
        if (pairs[i][1] == NULL)
            continue;
        if (b.len > 0)
            buf_append(&b, "&", 1);
        buf_append(&b, pairs[i][0], strlen(pairs[i][0]));
        buf_append(&b, "=", 1);
        buf_append_urlenc(&b, pairs[i][1]);
    }
    buf_append_str(&b, f->compare ? "&compare=1&shown=1" : "&shown=1");
    const char *s = arena_strdup(r->req->arena, b.data != NULL ? b.data : "");
    buf_free(&b);
    return s;
}

/* ---- grids: one table, one chart, one CSV ---- */

typedef enum { G_TEXT, G_MONEY, G_INT, G_SHARE, G_CHANGE } gkind;

typedef struct {
    const char *s; /* G_TEXT */
    int64_t v;     /* G_MONEY (minor units), G_INT */
    double d;      /* G_SHARE, G_CHANGE */
    bool null;
} gcell;

#define GRID_COLS 10

typedef struct {
    const char *id;    /* "volume-eur": the CSV's chart= */
    const char *title; /* translated */
    const char *type;  /* Chart.js type, NULL = table only */
    const char *series;
    const char *currency;                      /* G_MONEY cells' currency (lower-case) */
    const char *money_col_currency[GRID_COLS]; /* per column, overrides currency */
    size_t ncols, nrows, cap;
    const char *heads[GRID_COLS];
    gkind kinds[GRID_COLS];
    gcell *cells;
} grid;

static void grid_init(bo_req *r, grid *g, const char *id, const char *title, const char *type,
                      const char *series, const char *currency)
{
    memset(g, 0, sizeof *g);
    g->id = id;
    g->title = title;
    g->type = type;
    g->series = series;
    g->currency = currency;
    (void)r;
}

static void grid_col(grid *g, const char *head, gkind k)
{
    K_ASSERT(g->ncols < GRID_COLS);
    g->heads[g->ncols] = head;
    g->kinds[g->ncols++] = k;
}

static gcell *grid_row(bo_req *r, grid *g)
{
    if (g->nrows == g->cap) {
        size_t cap = g->cap == 0 ? 16 : g->cap * 2;
        gcell *c = arena_alloc(r->req->arena, cap * g->ncols * sizeof(gcell));
        if (c == NULL)
            return NULL;
        if (g->nrows > 0)
            memcpy(c, g->cells, g->nrows * g->ncols * sizeof(gcell));
        g->cells = c;
        g->cap = cap;
    }
    gcell *row = &g->cells[g->nrows++ * g->ncols];
    memset(row, 0, g->ncols * sizeof(gcell));
    return row;
}

static int64_t jint(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static gcell c_money(json_t *o, const char *k)
{
    return (gcell){.v = jint(o, k), .null = o == NULL};
}

static gcell c_real(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return (gcell){.d = json_number_value(v), .null = !json_is_number(v)};
}

/* One currency's (or the converted) figures. */
typedef struct {
    const char *code;          /* lower-case */
    json_t *totals, *previous; /* previous NULL without compare */
    json_t *change;
    json_t **buckets;    /* figures per bucket */
    json_t *bucket_list; /* the answer's buckets[] (start_local) */
} block;

static void grid_summary(bo_req *r, grid *g, const block *b, bool compare)
{
    grid_init(r, g, arena_printf(r->req->arena, "summary-%s", b->code), T(r, "Summary"), NULL, NULL,
              b->code);
    grid_col(g, T(r, "Figure"), G_TEXT);
    grid_col(g, T(r, "This period"), G_MONEY);
    if (compare) {
        grid_col(g, T(r, "Previous period"), G_MONEY);
        grid_col(g, T(r, "Change"), G_CHANGE);
    }
    static const struct {
        const char *key, *label;
        bool money;
        const char *change;
    } rows[] = {
        {"gross", "Gross volume", true, "gross"},
        {"net", "Net volume", true, "net"},
        {"refunds", "Refunds", true, "refunds"},
        {"captured", "Captured", true, NULL},
        {"authorized", "Authorised", true, NULL},
        {"released", "Released", true, NULL},
        {"expired", "Lost to expired authorisations", true, NULL},
        {"sales_count", "Sales", false, NULL},
        {"captures_count", "Captures", false, NULL},
        {"refunds_count", "Refunds (count)", false, NULL},
        {"successful_attempts", "Successful attempts", false, "successful_attempts"},
        {"failed_attempts", "Failed attempts", false, NULL},
        {"success_rate", "Success rate", false, NULL},
    };
    for (size_t i = 0; i < K_ARRAY_LEN(rows); i++) {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        c[0].s = T(r, rows[i].label);
        bool rate = strcmp(rows[i].key, "success_rate") == 0;
        /* the column kind is money; counts and the rate say so per cell */
        c[1] = rate ? c_real(b->totals, rows[i].key) : c_money(b->totals, rows[i].key);
        c[1].s = rows[i].money ? NULL : (rate ? "share" : "int");
        if (compare) {
            c[2] = rate ? c_real(b->previous, rows[i].key) : c_money(b->previous, rows[i].key);
            c[2].s = c[1].s;
            if (rows[i].change != NULL)
                c[3] = c_real(b->change, rows[i].change);
            else
                c[3].null = true;
        }
    }
}

static const char *bucket_label(bo_req *r, json_t *bk)
{
    const char *iso = json_string_value(json_object_get(bk, "start_local"));
    if (iso == NULL)
        return "";
    /* "2026-12-01T09:15:00+01:00" -> "2026-12-01 09:15" */
    return arena_printf(r->req->arena, "%.10s %.5s", iso, strlen(iso) > 11 ? iso + 11 : "");
}

static void grid_volume(bo_req *r, grid *g, const block *b)
{
    grid_init(r, g, arena_printf(r->req->arena, "volume-%s", b->code), T(r, "Volume"), "bar",
              "1,2,3", b->code);
    grid_col(g, T(r, "From"), G_TEXT);
    grid_col(g, T(r, "Gross volume"), G_MONEY);
    grid_col(g, T(r, "Net volume"), G_MONEY);
    grid_col(g, T(r, "Refunds"), G_MONEY);
    grid_col(g, T(r, "Captured"), G_MONEY);
    grid_col(g, T(r, "Lost to expired authorisations"), G_MONEY);
    size_t n = json_array_size(b->bucket_list);
    for (size_t i = 0; i < n; i++) {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        json_t *f = b->buckets[i];
        c[0].s = bucket_label(r, json_array_get(b->bucket_list, i));
        c[1] = c_money(f, "gross");
        c[2] = c_money(f, "net");
        c[3] = c_money(f, "refunds");
        c[4] = c_money(f, "captured");
        c[5] = c_money(f, "expired");
    }
}

static void grid_attempts(bo_req *r, grid *g, const block *b)
{
    grid_init(r, g, arena_printf(r->req->arena, "attempts-%s", b->code), T(r, "Attempts"), "bar",
              "1,2", b->code);
    grid_col(g, T(r, "From"), G_TEXT);
    grid_col(g, T(r, "Successful attempts"), G_INT);
    grid_col(g, T(r, "Failed attempts"), G_INT);
    grid_col(g, T(r, "Success rate"), G_SHARE);
    size_t n = json_array_size(b->bucket_list);
    for (size_t i = 0; i < n; i++) {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        json_t *f = b->buckets[i];
        c[0].s = bucket_label(r, json_array_get(b->bucket_list, i));
        c[1] = c_money(f, "successful_attempts");
        c[2] = c_money(f, "failed_attempts");
        c[3] = c_real(f, "success_rate");
    }
}

static const char *code_upper(bo_req *r, const char *cur)
{
    char *u = arena_alloc(r->req->arena, 4);
    if (u == NULL || cur == NULL)
        return cur;
    currency_upper(cur, u);
    return u;
}

static void grid_reasons(bo_req *r, grid *g, json_t *an)
{
    grid_init(r, g, "reasons", T(r, "Failure reasons"), "bar", "1", NULL);
    grid_col(g, T(r, "Reason"), G_TEXT);
    grid_col(g, T(r, "Failed attempts"), G_INT);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(an, "failure_reasons"), i, x)
    {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        c[0].s = json_string_value(json_object_get(x, "code"));
        c[1].v = jint(x, "count");
    }
}

static void grid_methods(bo_req *r, grid *g, json_t *an)
{
    grid_init(r, g, "methods", T(r, "Payment methods and wallets"), "doughnut", "1", NULL);
    grid_col(g, T(r, "Method"), G_TEXT);
    grid_col(g, T(r, "Payments"), G_INT);
    grid_col(g, T(r, "Currency"), G_TEXT);
    grid_col(g, T(r, "Amount"), G_MONEY);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(an, "payment_methods"), i, x)
    {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        const char *cur = json_string_value(json_object_get(x, "currency"));
        c[0].s = json_string_value(json_object_get(x, "payment_method_type"));
        c[1].v = jint(x, "count");
        c[2].s = code_upper(r, cur);
        c[3].v = jint(x, "amount");
        c[3].s = cur; /* a money cell's own currency */
    }
}

static void grid_currencies(bo_req *r, grid *g, json_t *an)
{
    grid_init(r, g, "currencies", T(r, "Currency mix"), "doughnut", "1", NULL);
    grid_col(g, T(r, "Currency"), G_TEXT);
    grid_col(g, T(r, "Successful attempts"), G_INT);
    grid_col(g, T(r, "Gross volume"), G_MONEY);
    grid_col(g, T(r, "Net volume"), G_MONEY);
    const char *k;
    json_t *f;
    json_object_foreach(json_object_get(an, "totals"), k, f)
    {
        gcell *c = grid_row(r, g);
        if (c == NULL)
            return;
        c[0].s = code_upper(r, k);
        c[1].v = jint(f, "successful_attempts");
        c[2].v = jint(f, "gross");
        c[2].s = k;
        c[3].v = jint(f, "net");
        c[3].s = k;
    }
}

/* ---- cells as text ---- */

static const char *money_cur(const grid *g, const gcell *c)
{
    /* in G_MONEY columns, s names the cell's currency, or "int"/"share" (summary rows) */
    if (c->s != NULL && strcmp(c->s, "int") != 0 && strcmp(c->s, "share") != 0)
        return c->s;
    return g->currency;
}

static gkind cell_kind(const grid *g, size_t col, const gcell *c)
{
    gkind k = g->kinds[col];
    if (k == G_MONEY && c->s != NULL && strcmp(c->s, "int") == 0)
        return G_INT;
    if (k == G_MONEY && c->s != NULL && strcmp(c->s, "share") == 0)
        return G_SHARE;
    return k;
}

static void cell_html(bo_req *r, const grid *g, size_t col, const gcell *c)
{
    gkind k = cell_kind(g, col, c);
    if (k == G_TEXT) {
        bo_raw(r, col == 0 ? "<th scope=\"row\">" : "<td>");
        bo_esc(r, c->s != NULL ? c->s : "");
        bo_raw(r, col == 0 ? "</th>" : "</td>");
        return;
    }
    if (c->null) {
        bo_raw(r, "<td class=\"num\" data-v=\"\">–</td>");
        return;
    }
    if (k == G_MONEY) {
        const char *cur = money_cur(g, c);
        const currency_info *ci = currency_find(cur);
        int scale = 1;
        for (int i = 0; ci != NULL && i < ci->exponent; i++)
            scale *= 10;
        bo_fmt(r, "<td class=\"num\" data-v=\"%lld\" data-scale=\"%d\">", (long long)c->v, scale);
        bo_money(r, c->v, cur);
        bo_raw(r, "</td>");
    } else if (k == G_INT) {
        bo_fmt(r, "<td class=\"num\" data-v=\"%lld\">%lld</td>", (long long)c->v, (long long)c->v);
    } else {
        bo_fmt(r, "<td class=\"num\" data-v=\"%.6f\">%s%.1f %%</td>", c->d,
               k == G_CHANGE && c->d > 0 ? "+" : "", c->d * 100.0);
    }
}

static void cell_csv(csv_w *w, const grid *g, size_t col, const gcell *c)
{
    gkind k = cell_kind(g, col, c);
    if (k == G_TEXT) {
        csv_text(w, c->s);
    } else if (c->null) {
        csv_raw(w, "");
    } else if (k == G_MONEY) {
        const currency_info *ci = currency_find(money_cur(g, c));
        char dec[48];
        if (ci != NULL)
            money_decimal(c->v, ci, dec, sizeof dec);
        else
            snprintf(dec, sizeof dec, "%lld", (long long)c->v);
        csv_raw(w, dec);
    } else if (k == G_INT) {
        csv_int(w, c->v);
    } else {
        char d[32];
        snprintf(d, sizeof d, "%.6f", c->d);
        csv_raw(w, d);
    }
}

static void grid_figure(bo_req *r, const grid *g, const char *query)
{
    bool chart = g->type != NULL && chartjs != NULL && g->nrows > 0;
    bo_fmt(r, "<figure class=\"chart\" id=\"fig-%s\"", g->id);
    if (chart)
        bo_fmt(r, " data-type=\"%s\" data-series=\"%s\"", g->type, g->series);
    bo_raw(r, "><figcaption><h3>");
    bo_esc(r, g->title);
    if (g->currency != NULL) {
        char up[4];
        currency_upper(g->currency, up);
        bo_fmt(r, " · %s", up);
    }
    bo_raw(r, "</h3></figcaption>");
    if (chart) {
        bo_raw(r, "<div class=\"canvas\"><canvas role=\"img\"");
        bo_attr(r, "aria-label", arena_printf(r->req->arena, "%s: %s", T(r, "Chart"), g->title));
        bo_fmt(r, "></canvas></div>");
    }
    bool fold = chart && g->nrows > 8; /* long bucket lists: the chart first, the rows on demand */
    if (fold)
        bo_fmt(r, "<details class=\"rows\"><summary>%s (%zu)</summary>",
               T(r, "The figures behind the chart"), g->nrows);
    bo_fmt(r, "<div class=\"scroll\"><table class=\"list\" id=\"t-%s\"><thead><tr>", g->id);
    for (size_t c = 0; c < g->ncols; c++) {
        bo_raw(r, "<th scope=\"col\">");
        bo_esc(r, g->heads[c]);
        bo_raw(r, "</th>");
    }
    bo_raw(r, "</tr></thead><tbody>");
    for (size_t i = 0; i < g->nrows; i++) {
        bo_raw(r, "<tr>");
        for (size_t c = 0; c < g->ncols; c++)
            cell_html(r, g, c, &g->cells[i * g->ncols + c]);
        bo_raw(r, "</tr>");
    }
    if (g->nrows == 0)
        bo_fmt(r, "<tr><td colspan=\"%zu\">%s</td></tr>", g->ncols,
               T(r, "Nothing in this period."));
    bo_raw(r, "</tbody></table></div>");
    if (fold)
        bo_raw(r, "</details>");
    bo_fmt(r,
           "<p><a class=\"csv\" download href=\"/dashboard/reports/"
           "figures.csv?chart=%s&amp;",
           g->id);
    bo_esc(r, query);
    bo_fmt(r, "\">%s</a></p></figure>", T(r, "Download these figures (CSV)"));
}

/* ---- analytics into grids ---- */

typedef struct {
    json_t *an;
    block blocks[LIMIT_RULE_CURRENCIES_MAX];
    size_t nblocks;
    grid grids[3 * LIMIT_RULE_CURRENCIES_MAX + 3];
    size_t ngrids;
} figures_set;

static bool block_fill(bo_req *r, block *b, const char *code, json_t *totals, json_t *previous,
                       json_t *change, json_t *bucket_list, json_t *conv_buckets)
{
    b->code = code;
    b->totals = totals;
    b->previous = previous;
    b->change = change;
    b->bucket_list = bucket_list;
    size_t n = json_array_size(bucket_list);
    b->buckets = arena_alloc(r->req->arena, (n > 0 ? n : 1) * sizeof(json_t *));
    if (b->buckets == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        b->buckets[i] =
            conv_buckets != NULL
                ? json_array_get(conv_buckets, i)
                : json_object_get(json_object_get(json_array_get(bucket_list, i), "by_currency"),
                                  code);
    return true;
}

static k_status figures_make(bo_req *r, const rfilter *f, figures_set *fs, gw_err *err)
{
    memset(fs, 0, sizeof *fs);
    rep_analytics_params p = {.interval_start = f->start,
                              .interval_end = f->end,
                              .timezone = f->zone,
                              .bucket = f->bucket,
                              .currency = f->currency,
                              .compare = f->compare,
                              .convert_to = f->convert};
    k_status st = rep_analytics(r->api->reports, r->s.merchant_id, &p, r->req->arena, &fs->an, err);
    if (st != K_OK)
        return st;
    json_t *buckets = json_object_get(fs->an, "buckets");
    json_t *conv = json_object_get(fs->an, "converted");
    if (conv != NULL) {
        if (!block_fill(r, &fs->blocks[0], json_string_value(json_object_get(conv, "currency")),
                        json_object_get(conv, "totals"), json_object_get(conv, "previous_totals"),
                        json_object_get(conv, "change"), buckets, json_object_get(conv, "buckets")))
            return K_ENOMEM;
        fs->nblocks = 1;
    } else {
        const char *k;
        json_t *t;
        json_t *prev = json_object_get(json_object_get(fs->an, "previous"), "totals");
        json_t *change = json_object_get(fs->an, "change");
        json_object_foreach(json_object_get(fs->an, "totals"), k, t)
        {
            if (fs->nblocks == K_ARRAY_LEN(fs->blocks))
                break;
            json_t *pt = json_object_get(prev, k);
            if (f->compare && pt == NULL)
                pt = json_object(); /* nothing in that currency before: zeros */
            if (pt != NULL && json_object_get(prev, k) == NULL)
                arena_defer(r->req->arena, (void (*)(void *))json_decref, pt);
            if (!block_fill(r, &fs->blocks[fs->nblocks++], k, t, f->compare ? pt : NULL,
                            json_object_get(change, k), buckets, NULL))
                return K_ENOMEM;
        }
    }
    for (size_t i = 0; i < fs->nblocks; i++) {
        grid_summary(r, &fs->grids[fs->ngrids++], &fs->blocks[i], f->compare);
        grid_volume(r, &fs->grids[fs->ngrids++], &fs->blocks[i]);
        grid_attempts(r, &fs->grids[fs->ngrids++], &fs->blocks[i]);
    }
    grid_reasons(r, &fs->grids[fs->ngrids++], fs->an);
    grid_methods(r, &fs->grids[fs->ngrids++], fs->an);
    grid_currencies(r, &fs->grids[fs->ngrids++], fs->an);
    return K_OK;
}

/* ---- the page ---- */

static void field(bo_req *r, const rfilter *f, const char *name, const char *label,
                  const char *type, const char *value, const char *extra)
{
    bool bad = f->bad != NULL && strcmp(f->bad, name) == 0;
    bo_fmt(r,
           "<div class=\"field\"><label for=\"r-%s\">%s</label><input id=\"r-%s\" name=\"%s\" "
           "type=\"%s\"%s",
           name, label, name, name, type, extra != NULL ? extra : "");
    bo_attr(r, "value", value != NULL ? value : "");
    if (bad)
        bo_fmt(r, " aria-invalid=\"true\" aria-describedby=\"r-%s-err\"", name);
    bo_raw(r, ">");
    if (bad) {
        bo_fmt(r, "<p class=\"err\" id=\"r-%s-err\">", name);
        bo_esc(r, f->bad_msg);
        bo_raw(r, "</p>");
    }
    bo_raw(r, "</div>");
}

static void filter_form(bo_req *r, const rfilter *f)
{
    bo_fmt(r,
           "<form class=\"filters\" method=\"get\" action=\"/dashboard/reports\" aria-label=\"%s\">"
           "<input type=\"hidden\" name=\"shown\" value=\"1\"><div class=\"grid\">",
           T(r, "Period and figures"));
    field(r, f, "from", T(r, "First day"), "date", f->from, NULL);
    field(r, f, "to", T(r, "Last day"), "date", f->to, NULL);
    field(r, f, "zone", T(r, "Time zone"), "text", f->zone,
          f->zone_auto ? " data-auto=\"1\" autocomplete=\"off\"" : " autocomplete=\"off\"");
    bo_fmt(r,
           "<div class=\"field\"><label for=\"r-bucket\">%s</label><select id=\"r-bucket\" "
           "name=\"bucket\">",
           T(r, "Bucket"));
    static const char *const buckets[][2] = {
        {"15m", "15 minutes"}, {"30m", "30 minutes"}, {"1h", "1 hour"},  {"4h", "4 hours"},
        {"day", "Day"},        {"week", "Week"},      {"month", "Month"}};
    for (size_t i = 0; i < K_ARRAY_LEN(buckets); i++)
        bo_fmt(r, "<option value=\"%s\"%s>%s</option>", buckets[i][0],
               strcmp(buckets[i][0], f->bucket) == 0 ? " selected" : "", T(r, buckets[i][1]));
    bo_raw(r, "</select></div>");
    field(r, f, "currency", T(r, "Only this currency"), "text", f->currency,
          " maxlength=\"3\" autocomplete=\"off\"");
    field(r, f, "convert", T(r, "Convert to currency"), "text", f->convert,
          " maxlength=\"3\" autocomplete=\"off\"");
    bo_fmt(r,
           "<div class=\"field check\"><input id=\"r-compare\" name=\"compare\" type=\"checkbox\" "
           "value=\"1\"%s><label for=\"r-compare\">%s</label></div></div>",
           f->compare ? " checked" : "", T(r, "Compare with the previous period"));
    bo_fmt(r, "<div class=\"actions\"><button type=\"submit\">%s</button></div></form>",
           T(r, "Show"));
}

static void rates_note(bo_req *r, json_t *conv)
{
    if (conv == NULL)
        return;
    const char *since = json_string_value(json_object_get(conv, "rates_since_local"));
    char to[4];
    currency_upper(json_string_value(json_object_get(conv, "currency")), to);
    bo_fmt(r,
           "<section class=\"banner new\" id=\"rates\" aria-labelledby=\"rates-h\"><h2 "
           "id=\"rates-h\">%s %s</h2><p>%s <time>",
           T(r, "Converted to"), to, T(r, "At the rule set's exchange rates, in force since"));
    bo_esc(r, since != NULL ? arena_printf(r->req->arena, "%.10s %.5s", since,
                                           strlen(since) > 11 ? since + 11 : "")
                            : "");
    bo_raw(r, "</time>:</p><ul>");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(conv, "rates"), i, x)
    {
        char from[4];
        currency_upper(json_string_value(json_object_get(x, "from")), from);
        bo_fmt(r, "<li class=\"rate\">1 %s = ", from);
        bo_esc(r, json_string_value(json_object_get(x, "rate")));
        bo_fmt(r, " %s</li>", to);
    }
    bo_raw(r, "</ul></section>");
}

/* ---- runs (exports) and schedules ---- */

static const char *const REPORT_TYPES[] = {"payments.itemized.1", "operations.itemized.1",
                                           "settlement.summary.1", "payline.transactions.1",
                                           "payline.payments.1"};

static void type_select(bo_req *r, const char *id)
{
    bo_fmt(r, "<label for=\"%s\">%s</label><select id=\"%s\" name=\"report_type\">", id,
           T(r, "Report"), id);
    for (size_t i = 0; i < K_ARRAY_LEN(REPORT_TYPES); i++)
        bo_fmt(r, "<option>%s</option>", REPORT_TYPES[i]);
    bo_raw(r, "</select>");
}

static void format_select(bo_req *r, const char *id)
{
    bo_fmt(r,
           "<label for=\"%s\">%s</label><select id=\"%s\" name=\"format\"><option value=\"csv\">"
           "CSV</option><option value=\"xlsx\">XLSX</option></select>",
           id, T(r, "Format"), id);
}

static void runs_box(bo_req *r, const rfilter *f, const char *query)
{
    bo_fmt(r, "<section class=\"card\" aria-labelledby=\"runs-h\"><h2 id=\"runs-h\">%s</h2>",
           T(r, "Exports"));
    bo_fmt(r, "<p class=\"hint\">%s</p>",
           T(r, "A file of this period, time zone and currency filter, written by the report "
                "writers: its totals are the figures above."));
    if (staff_can(&r->s, STAFF_REPORTS)) {
        bo_raw(r, "<form method=\"post\" action=\"/dashboard/reports/runs\" class=\"row\">");
        bo_csrf_field(r);
        bo_idem_field(r);
        bo_raw(r, "<input type=\"hidden\" name=\"back\"");
        bo_attr(r, "value", query);
        bo_raw(r, ">");
        type_select(r, "run-type");
        format_select(r, "run-format");
        bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, "Make the file"));
    }
    store_view *vs = NULL;
    size_t nv = 0;
    if (staff_can(&r->s, STAFF_REPORTS) &&
        staff_view_list(r->api->g, &r->s, r->req->arena, &vs, &nv) == K_OK && nv > 0) {
        bo_fmt(r, "<h3>%s</h3><ul class=\"views\" id=\"view-exports\">",
               T(r, "Saved views of the payments list"));
        for (size_t i = 0; i < nv; i++) {
            bo_raw(r, "<li><form method=\"post\" class=\"row\" action=\"/dashboard/reports/views/");
            bo_esc(r, vs[i].id);
            bo_raw(r, "/export\">");
            bo_csrf_field(r);
            bo_idem_field(r);
            bo_raw(r, "<input type=\"hidden\" name=\"back\"");
            bo_attr(r, "value", query);
            bo_raw(r, "><a");
            bo_attr(r, "href", arena_printf(r->req->arena, "/dashboard/payments?%s", vs[i].query));
            bo_raw(r, ">");
            bo_esc(r, vs[i].name);
            bo_raw(r, "</a> ");
            char *fid = arena_printf(r->req->arena, "view-format-%zu", i);
            bo_fmt(r,
                   "<label class=\"sr\" for=\"%s\">%s</label><select id=\"%s\" name=\"format\">"
                   "<option value=\"csv\">CSV</option><option value=\"xlsx\">XLSX</option>"
                   "</select>",
                   fid, T(r, "Format"), fid);
            bo_fmt(r, "<button type=\"submit\"");
            bo_attr(r, "aria-label",
                    arena_printf(r->req->arena, "%s: %s", T(r, "Export the view"), vs[i].name));
            bo_fmt(r, ">%s</button></form></li>", T(r, "Export the view"));
        }
        bo_raw(r, "</ul>");
    }
    store_list_q q = {.limit = 5};
    json_t **runs;
    size_t n = 0;
    bool more;
    gw_err err;
    if (rep_run_list(r->api->reports, r->s.merchant_id, &q, r->req->arena, &runs, &n, &more,
                     &err) == K_OK &&
        n > 0) {
        bo_fmt(r,
               "<div class=\"scroll\"><table class=\"list\" id=\"runs\"><thead><tr><th "
               "scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th><th "
               "scope=\"col\">%s</th></tr></thead><tbody>",
               T(r, "Report"), T(r, "Created"), T(r, "State"), T(r, "File"));
        for (size_t i = 0; i < n; i++) {
            json_t *run = runs[i];
            const char *status = json_string_value(json_object_get(run, "status"));
            bo_raw(r, "<tr><td>");
            bo_esc(r, json_string_value(json_object_get(run, "report_type")));
            bo_raw(r, "</td><td>");
            bo_time(r, jint(run, "created"));
            bo_raw(r, "</td><td class=\"run-status\">");
            bo_esc(r, status != NULL ? T(r, status) : "");
            bo_raw(r, "</td><td>");
            json_t *file = json_object_get(run, "result");
            const char *fid = json_string_value(json_object_get(file, "id"));
            if (fid != NULL && staff_can(&r->s, STAFF_REPORTS)) {
                bo_raw(r, "<a class=\"file\" download href=\"/dashboard/reports/files/");
                bo_esc(r, fid);
                bo_raw(r, "\">");
                bo_esc(r, json_string_value(json_object_get(file, "filename")));
                bo_raw(r, "</a>");
            } else {
                bo_raw(r, "–");
            }
            bo_raw(r, "</td></tr>");
        }
        bo_raw(r, "</tbody></table></div>");
    }
    (void)f;
    bo_raw(r, "</section>");
}

static void schedules_box(bo_req *r, const char *query, const gw_err *sched_err)
{
    bo_fmt(r, "<section class=\"card\" aria-labelledby=\"sched-h\"><h2 id=\"sched-h\">%s</h2>",
           T(r, "Schedules"));
    store_list_q q = {.limit = 50};
    json_t **docs;
    size_t n = 0;
    bool more;
    gw_err err;
    if (rep_schedule_list(r->api->reports, r->s.merchant_id, &q, r->req->arena, &docs, &n, &more,
                          &err) != K_OK)
        n = 0;
    size_t live = 0; /* a deleted schedule stays readable through the API, not listed here */
    for (size_t i = 0; i < n; i++) {
        const char *status = json_string_value(json_object_get(docs[i], "status"));
        if (status == NULL || strcmp(status, "deleted") != 0)
            docs[live++] = docs[i];
    }
    n = live;
    if (n == 0)
        bo_fmt(r, "<p>%s</p>", T(r, "No schedules yet."));
    else {
        bo_fmt(r,
               "<div class=\"scroll\"><table class=\"list\" id=\"schedules\"><thead><tr><th "
               "scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th><th "
               "scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
               T(r, "Report"), T(r, "When"), T(r, "Time zone"), T(r, "Delivered to"),
               T(r, "Action"));
        for (size_t i = 0; i < n; i++) {
            json_t *s = docs[i];
            const char *id = json_string_value(json_object_get(s, "id"));
            bo_raw(r, "<tr><td>");
            bo_esc(r, json_string_value(json_object_get(s, "report_type")));
            bo_raw(r, "</td><td>");
            const char *freq = json_string_value(json_object_get(s, "frequency"));
            bo_esc(r, freq != NULL ? T(r, freq) : "");
            bo_fmt(r, " %02lld:%02lld</td><td>", (long long)jint(s, "hour"),
                   (long long)jint(s, "minute"));
            bo_esc(r, json_string_value(
                          json_object_get(json_object_get(s, "parameters"), "timezone")));
            bo_raw(r, "</td><td>");
            const char *folder = json_string_value(json_object_get(s, "folder"));
            const char *url = json_string_value(json_object_get(s, "url"));
            bo_esc(r, folder != NULL ? folder : (url != NULL ? url : "e-mail"));
            bo_raw(r, "</td><td>");
            if (staff_can(&r->s, STAFF_REPORTS) && id != NULL) {
                bo_raw(r, "<form class=\"inline\" method=\"post\" action=\"/dashboard/reports/"
                          "schedules/");
                bo_esc(r, id);
                bo_raw(r, "/delete\">");
                bo_csrf_field(r);
                bo_raw(r, "<input type=\"hidden\" name=\"back\"");
                bo_attr(r, "value", query);
                bo_fmt(r, "><button type=\"submit\" class=\"link\"");
                bo_attr(r, "aria-label", arena_printf(r->req->arena, "%s %s", T(r, "Delete"), id));
                bo_fmt(r, ">%s</button></form>", T(r, "Delete"));
            }
            bo_raw(r, "</td></tr>");
        }
        bo_raw(r, "</tbody></table></div>");
    }
    if (staff_can(&r->s, STAFF_REPORTS)) {
        bo_fmt(r, "<h3>%s</h3>", T(r, "New schedule"));
        if (sched_err != NULL) {
            bo_raw(r, "<p class=\"err\" role=\"alert\" id=\"sched-err\">");
            bo_esc(r, sched_err->param);
            bo_raw(r, ": ");
            bo_esc(r, sched_err->message);
            bo_raw(r, "</p>");
        }
        bo_raw(r, "<form method=\"post\" action=\"/dashboard/reports/schedules\" "
                  "class=\"sched\"><div class=\"grid\">");
        bo_csrf_field(r);
        bo_idem_field(r);
        bo_raw(r, "<input type=\"hidden\" name=\"back\"");
        bo_attr(r, "value", query);
        bo_raw(r, "><div class=\"field\">");
        type_select(r, "s-type");
        bo_fmt(r,
               "</div><div class=\"field\"><label for=\"s-frequency\">%s</label><select "
               "id=\"s-frequency\" name=\"frequency\"><option value=\"daily\">%s</option>"
               "<option value=\"weekly\">%s</option><option value=\"monthly\">%s</option>"
               "</select></div>",
               T(r, "Frequency"), T(r, "daily"), T(r, "weekly"), T(r, "monthly"));
        bo_fmt(r,
               "<div class=\"field\"><label for=\"s-at\">%s</label><input id=\"s-at\" name=\"at\" "
               "type=\"time\" value=\"06:00\" required></div>",
               T(r, "At (local time)"));
        bo_fmt(r,
               "<div class=\"field\"><label for=\"s-zone\">%s</label><input id=\"s-zone\" "
               "name=\"zone\" value=\"UTC\" autocomplete=\"off\" required></div>",
               T(r, "Time zone"));
        bo_raw(r, "<div class=\"field\">");
        format_select(r, "s-format");
        bo_fmt(r,
               "</div><div class=\"field\"><label for=\"s-folder\">%s</label><input "
               "id=\"s-folder\" name=\"folder\" autocomplete=\"off\"></div>",
               T(r, "Folder on the server"));
        bo_fmt(r,
               "<div class=\"field\"><label for=\"s-email\">%s</label><input id=\"s-email\" "
               "name=\"email\" type=\"email\" autocomplete=\"off\"></div></div>",
               T(r, "E-mail address"));
        bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, "Create the schedule"));
    }
    bo_raw(r, "</section>");
}

static void reports_page(bo_req *r, const gw_err *sched_err)
{
    rfilter f;
    filter_parse(r, &f);
    const char *query = filter_query(r, &f);
    figures_set fs;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st = K_EINVAL;
    if (f.bad == NULL)
        st = figures_make(r, &f, &fs, &err);
    bo_html_start(r, f.bad != NULL ? 400 : (st == K_OK ? 200 : bo_status(&err)));
    bo_page_begin(r, T(r, "Reports"), "reports");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Reports"));
    if (chartjs == NULL)
        bo_fmt(r, "<p class=\"banner bad\" role=\"note\" id=\"nocharts\">%s</p>",
               T(r, "Charts are off: Chart.js (Debian package libjs-chart.js) is not installed on "
                    "the server. The tables below hold every figure."));
    filter_form(r, &f);
    if (st != K_OK && f.bad == NULL) {
        bo_raw(r, "<p class=\"banner bad\" role=\"alert\" id=\"an-err\">");
        bo_esc(r, err.param);
        bo_raw(r, ": ");
        bo_esc(r, T(r, err.message));
        bo_raw(r, "</p>");
    }
    if (st == K_OK) {
        rates_note(r, json_object_get(fs.an, "converted"));
        if (f.compare) {
            json_t *prev = json_object_get(fs.an, "previous");
            bo_fmt(r, "<p class=\"hint\" id=\"previous\">%s ", T(r, "Previous period:"));
            bo_time(r, jint(prev, "interval_start"));
            bo_raw(r, " – ");
            bo_time(r, jint(prev, "interval_end"));
            bo_raw(r, "</p>");
        }
        size_t per = 3;
        for (size_t b = 0; b < fs.nblocks; b++) {
            char up[4];
            currency_upper(fs.blocks[b].code, up);
            bo_fmt(r, "<section class=\"cur\" aria-labelledby=\"cur-%s\"><h2 id=\"cur-%s\">%s</h2>",
                   fs.blocks[b].code, fs.blocks[b].code, up);
            for (size_t i = 0; i < per; i++)
                grid_figure(r, &fs.grids[b * per + i], query);
            bo_raw(r, "</section>");
        }
        if (fs.nblocks == 0)
            bo_fmt(r, "<p id=\"empty\">%s</p>", T(r, "Nothing in this period."));
        bo_fmt(r, "<section class=\"mix\" aria-labelledby=\"mix-h\"><h2 id=\"mix-h\">%s</h2>",
               T(r, "Mix"));
        for (size_t i = fs.nblocks * per; i < fs.ngrids; i++)
            grid_figure(r, &fs.grids[i], query);
        bo_raw(r, "</section>");
    }
    runs_box(r, &f, query);
    schedules_box(r, query, sched_err);
    if (chartjs != NULL)
        bo_raw(r, "<script src=\"/dashboard/static/chart.js\" defer></script>");
    bo_raw(r, "<script src=\"/dashboard/static/reports.js\" defer></script>");
    bo_page_end(r);
    bo_finish(r);
}

void bo_reports_page(bo_req *r)
{
    bo_chartjs_load();
    reports_page(r, NULL);
}

void bo_reports_csv(bo_req *r)
{
    rfilter f;
    filter_parse(r, &f);
    const char *chart = bo_q(r, "chart");
    figures_set fs;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (f.bad != NULL) {
        bo_message(r, 400, T(r, "Not possible"), f.bad_msg, "/dashboard/reports");
        return;
    }
    if (figures_make(r, &f, &fs, &err) != K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not possible"), T(r, err.message),
                   "/dashboard/reports");
        return;
    }
    const grid *g = NULL;
    for (size_t i = 0; chart != NULL && i < fs.ngrids; i++)
        if (strcmp(fs.grids[i].id, chart) == 0)
            g = &fs.grids[i];
    if (g == NULL) {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such chart on this page."),
                   "/dashboard/reports");
        return;
    }
    buf *out = &r->resp->body;
    buf_append(out, "\xEF\xBB\xBF", 3); /* BOM: Excel reads UTF-8 */
    csv_w w;
    csv_init(&w, out, ',');
    for (size_t c = 0; c < g->ncols; c++)
        csv_raw(&w, g->heads[c]);
    csv_end_row(&w);
    for (size_t i = 0; i < g->nrows; i++) {
        for (size_t c = 0; c < g->ncols; c++)
            cell_csv(&w, g, c, &g->cells[i * g->ncols + c]);
        csv_end_row(&w);
    }
    r->resp->status = w.st == K_OK ? 200 : 500;
    r->resp->content_type = "text/csv; charset=utf-8";
    http_resp_header(r->req, r->resp, "Content-Disposition",
                     arena_printf(r->req->arena, "attachment; filename=\"kassa_%s_%s_%s.csv\"",
                                  g->id, f.from, f.to));
}

/* ---- changes: a run, a schedule ---- */

static char *bo_rep_render(gw_idem *self, const void *record, arena *a)
{
    (void)self;
    (void)record;
    return arena_strdup(a, "{\"backoffice\":true}");
}

static void form_fingerprint(bo_req *r, const char *what, char out[65])
{
    json_t *copy = json_copy(r->form);
    json_object_del(copy, "csrf");
    json_object_set_new(copy, "_what", json_string(what));
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    crypto_sha256_hex(s != NULL ? s : "", s != NULL ? strlen(s) : 0, out);
    free(s);
}

/* Back to the page with the filters it had (a relative query of our own form). */
static void back(bo_req *r, const char *extra)
{
    const char *q = bo_f(r, "back");
    if (q != NULL && (strchr(q, '\n') != NULL || strchr(q, '\r') != NULL || q[0] == '/'))
        q = NULL;
    http_resp_redirect(r->req, r->resp,
                       arena_printf(r->req->arena, "/dashboard/reports?%s%s%s#%s",
                                    q != NULL ? q : "", q != NULL ? "&" : "", extra,
                                    strncmp(extra, "done=run", 8) == 0 ? "runs-h" : "sched-h"));
}

void bo_reports_run(bo_req *r)
{
    /* the page's filter comes back in "back": read it like the page does */
    json_t *saved = r->query;
    const char *bq = bo_f(r, "back");
    param_err perr;
    json_t *q = form_decode(bq != NULL ? bq : "", bq != NULL ? strlen(bq) : 0, &perr);
    if (q != NULL) {
        arena_defer(r->req->arena, (void (*)(void *))json_decref, q);
        r->query = q;
    }
    rfilter f;
    filter_parse(r, &f);
    r->query = saved;
    rep_params p = {.report_type = bo_f(r, "report_type"),
                    .interval_start = f.start,
                    .interval_end = f.end,
                    .has_start = true,
                    .has_end = true,
                    .timezone = f.zone,
                    .currency = f.currency,
                    .format = bo_f(r, "format"),
                    .bom = -1};
    char fp[65];
    form_fingerprint(r, "run", fp);
    gw_idem idem = {.key = arena_printf(r->req->arena, "bo:%s:%s", r->s.id, bo_f(r, "idem")),
                    .fingerprint = fp,
                    .render = bo_rep_render};
    gw_err err;
    memset(&err, 0, sizeof err);
    json_t *run = NULL;
    k_status ks = f.bad != NULL ? K_EINVAL : K_OK;
    if (ks != K_OK) {
        err.why = GW_WHY_PARAM_INVALID;
        snprintf(err.param, sizeof err.param, "%s", f.bad);
        snprintf(err.message, sizeof err.message, "%s", f.bad_msg);
    }
    if (ks == K_OK)
        ks =
            rep_run_create(r->api->reports, r->s.merchant_id, &p, &idem, r->req->arena, &run, &err);
    const char *id = run != NULL ? json_string_value(json_object_get(run, "id")) : NULL;
    bo_audit_action(r, "report.run", id != NULL ? id : "-", NULL, NULL,
                    ks == K_OK ? "ok" : arena_printf(r->req->arena, "refused: %s", err.message));
    if (ks != K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not possible"), T(r, err.message),
                   "/dashboard/reports");
        return;
    }
    back(r, "done=run");
}

/* A saved view's query as the payments list reads it (bo_payments.c filter_parse). */
static bool view_params(bo_req *r, const char *query, const char *zone, rep_params *p,
                        const char **bad)
{
    param_err perr;
    json_t *q = form_decode(query, strlen(query), &perr);
    if (q == NULL)
        q = json_object();
    arena_defer(r->req->arena, (void (*)(void *))json_decref, q);
    json_t *saved = r->query;
    r->query = q;
    p->report_type = "payments.itemized.1";
    p->timezone = zone;
    p->currency = bo_q(r, "currency");
    p->method = bo_q(r, "method");
    p->bom = -1;
    p->has_pay = true;
    p->pay = (rep_pay_filter){.status = bo_q(r, "status"),
                              .channel = bo_q(r, "channel"),
                              .country = bo_q(r, "country"),
                              .email = bo_q(r, "email"),
                              .order_ref = bo_q(r, "order"),
                              .any_id = bo_q(r, "q"),
                              .amount_gte = -1,
                              .amount_lte = -1};
    int tz_min = bo_tz_offset_min(r);
    int64_t d = 0;
    *bad = NULL;
    if (bo_q(r, "from") != NULL) {
        if (!day_parse(bo_q(r, "from"), &d))
            *bad = "from";
        p->interval_start = d * 86400 - (int64_t)tz_min * 60;
        p->has_start = true;
    }
    if (bo_q(r, "to") != NULL) {
        if (!day_parse(bo_q(r, "to"), &d))
            *bad = "to";
        p->interval_end = (d + 1) * 86400 - (int64_t)tz_min * 60;
        p->has_end = true;
    }
    const char *amounts[] = {"amount_min", "amount_max"};
    int64_t *outs[] = {&p->pay.amount_gte, &p->pay.amount_lte};
    const currency_info *cur = currency_find(p->currency != NULL ? p->currency : "eur");
    for (size_t i = 0; i < 2; i++)
        if (bo_q(r, amounts[i]) != NULL &&
            (cur == NULL || money_parse_decimal(bo_q(r, amounts[i]), cur, outs[i]) != K_OK))
            *bad = amounts[i];
    r->query = saved;
    return *bad == NULL;
}

void bo_reports_view_export(bo_req *r)
{
    store_view *vs = NULL;
    size_t nv = 0;
    const store_view *v = NULL;
    if (staff_view_list(r->api->g, &r->s, r->req->arena, &vs, &nv) == K_OK)
        for (size_t i = 0; i < nv; i++)
            if (strcmp(vs[i].id, r->req->params[0]) == 0)
                v = &vs[i];
    if (v == NULL) {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such view."), "/dashboard/reports");
        return;
    }
    /* the page's time zone (from its filter, in "back") for the file's instants */
    const char *bq = bo_f(r, "back");
    param_err perr;
    json_t *bqo = form_decode(bq != NULL ? bq : "", bq != NULL ? strlen(bq) : 0, &perr);
    const char *zone = "UTC";
    if (bqo != NULL) {
        arena_defer(r->req->arena, (void (*)(void *))json_decref, bqo);
        const char *z = json_string_value(json_object_get(bqo, "zone"));
        if (z != NULL && z[0] != '\0')
            zone = z;
    }
    rep_params p;
    memset(&p, 0, sizeof p);
    const char *bad;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status ks = K_OK;
    if (!view_params(r, v->query, zone, &p, &bad)) {
        err.why = GW_WHY_PARAM_INVALID;
        snprintf(err.param, sizeof err.param, "%s", bad);
        snprintf(err.message, sizeof err.message, "The view's filter '%s' cannot be read.", bad);
        ks = K_EINVAL;
    }
    p.format = bo_f(r, "format");
    char fp[65];
    form_fingerprint(r, "view", fp);
    gw_idem idem = {.key = arena_printf(r->req->arena, "bo:%s:%s", r->s.id, bo_f(r, "idem")),
                    .fingerprint = fp,
                    .render = bo_rep_render};
    json_t *run = NULL;
    if (ks == K_OK)
        ks =
            rep_run_create(r->api->reports, r->s.merchant_id, &p, &idem, r->req->arena, &run, &err);
    const char *id = run != NULL ? json_string_value(json_object_get(run, "id")) : NULL;
    bo_audit_action(r, "report.view_export", id != NULL ? id : v->id, NULL, NULL,
                    ks == K_OK ? "ok" : arena_printf(r->req->arena, "refused: %s", err.message));
    if (ks != K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not possible"), T(r, err.message),
                   "/dashboard/reports");
        return;
    }
    back(r, "done=run");
}

void bo_reports_file(bo_req *r)
{
    json_t *f;
    const char *path;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (rep_file_get(r->api->reports, r->s.merchant_id, r->req->params[0], r->req->arena, &f, &path,
                     &err) != K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not found"), T(r, "There is no such file."),
                   "/dashboard/reports");
        return;
    }
    const char *type = json_string_value(json_object_get(f, "type"));
    const char *name = json_string_value(json_object_get(f, "filename"));
    r->resp->status = 200;
    r->resp->content_type =
        type != NULL && strcmp(type, "xlsx") == 0
            ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            : arena_printf(r->req->arena, "text/csv; charset=%s",
                           json_string_value(json_object_get(f, "charset")) != NULL
                               ? json_string_value(json_object_get(f, "charset"))
                               : "utf-8");
    r->resp->file_path = path;
    http_resp_header(r->req, r->resp, "Content-Disposition",
                     arena_printf(r->req->arena, "attachment; filename=\"%s\"", name));
}

void bo_reports_schedule_create(bo_req *r)
{
    int hour = -1, minute = -1;
    const char *at = bo_f(r, "at");
    char tail;
    if (at == NULL || sscanf(at, "%2d:%2d%c", &hour, &minute, &tail) != 2)
        hour = minute = -1;
    json_t *emails = NULL;
    if (bo_f(r, "email") != NULL) {
        emails = json_pack("[s]", bo_f(r, "email"));
        arena_defer(r->req->arena, (void (*)(void *))json_decref, emails);
    }
    rep_schedule_params p = {.report_type = bo_f(r, "report_type"),
                             .frequency = bo_f(r, "frequency"),
                             .hour = hour,
                             .minute = minute,
                             .weekday = 1,
                             .monthday = 1,
                             .timezone = bo_f(r, "zone"),
                             .format = bo_f(r, "format"),
                             .bom = -1,
                             .folder = bo_f(r, "folder"),
                             .emails = emails};
    char fp[65];
    form_fingerprint(r, "schedule", fp);
    gw_idem idem = {.key = arena_printf(r->req->arena, "bo:%s:%s", r->s.id, bo_f(r, "idem")),
                    .fingerprint = fp,
                    .render = bo_rep_render};
    gw_err err;
    memset(&err, 0, sizeof err);
    json_t *s = NULL;
    k_status ks =
        rep_schedule_create(r->api->reports, r->s.merchant_id, &p, &idem, r->req->arena, &s, &err);
    const char *id = s != NULL ? json_string_value(json_object_get(s, "id")) : NULL;
    bo_audit_action(r, "report.schedule_create", id != NULL ? id : "-", NULL, NULL,
                    ks == K_OK ? "ok" : arena_printf(r->req->arena, "refused: %s", err.message));
    if (ks != K_OK) {
        /* the page again, the reason beside the form; the filter from "back" */
        const char *bq = bo_f(r, "back");
        param_err perr;
        json_t *q = form_decode(bq != NULL ? bq : "", bq != NULL ? strlen(bq) : 0, &perr);
        if (q != NULL) {
            arena_defer(r->req->arena, (void (*)(void *))json_decref, q);
            r->query = q;
        }
        reports_page(r, &err);
        r->resp->status = bo_status(&err);
        return;
    }
    back(r, "done=schedule");
}

void bo_reports_schedule_delete(bo_req *r)
{
    json_t *s;
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *id = r->req->params[0];
    k_status ks =
        rep_schedule_delete(r->api->reports, r->s.merchant_id, id, r->req->arena, &s, &err);
    bo_audit_action(r, "report.schedule_delete", id, NULL, NULL,
                    ks == K_OK ? "ok" : arena_printf(r->req->arena, "refused: %s", err.message));
    if (ks != K_OK) {
        bo_message(r, bo_status(&err), T(r, "Not possible"), T(r, err.message),
                   "/dashboard/reports");
        return;
    }
    back(r, "done=deleted");
}
