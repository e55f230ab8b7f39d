/*
 * reports.h - reporting use cases: report types, report runs computed in the
 * background into files, schedules that deliver a file every day, week or
 * month, operator exports, and the analytics figures. Every face (Stripe's
 * reporting API, the ECommPay Data API, the CLI, the back office) reads the
 * same ledger through these functions.
 *
 * Files are written to cfg.files_dir (one folder per merchant) and described
 * by a "file" document; a run is a "reporting.report_run" document. The work
 * is a durable job (store_job): a run survives a restart and is resumed by
 * whichever node claims its job next. Every file is streamed page by page
 * (LIMIT_REPORT_PAGE_ROWS) from one read snapshot, so memory is constant, no
 * row cap applies, and its totals equal the journal's at that snapshot.
 */
#ifndef KASSA_REPORTS_H
#define KASSA_REPORTS_H

#include <stdio.h>
#include <jansson.h>
#include "gateway.h"

typedef struct rep_service rep_service;

typedef struct {
    const char *files_dir; /* report files live here (created when missing) */
    const char *smtp_url;  /* "smtp://relay:25": scheduled e-mail; NULL or "" = none */
    const char *smtp_from; /* envelope and From: address */
} rep_config;

k_status rep_open(rep_service **out, gw *g, const rep_config *cfg);
/* Starts the report worker thread (runs, schedules, deliveries). */
k_status rep_start(rep_service *r);
void rep_close(rep_service *r); /* stops the worker; NULL is fine */

/* ---- report types ---- */
typedef enum {
    REP_TEXT, /* free or customer text: guarded against formula injection in CSV */
    REP_CODE, /* text Kassa produced: ids, codes, names */
    REP_INT,  /* integer (minor units, counts) */
    REP_DEC,  /* an amount as a decimal of its currency (cell.i minor units, cell.exp) */
    REP_TIME, /* an instant (cell.i unix ms) in the run's time zone */
    REP_RATE, /* an exchange rate (cell.i = rate * 10^9) */
} rep_col_kind;

typedef struct {
    const char *name;
    rep_col_kind kind;
    bool by_default;
} rep_column;

/* The bytes of a CSV file: UTF-8 (with a BOM by default), or a legacy 8-bit
 * charset for a preset whose reader expects it; characters the charset lacks
 * are written as '?' (visibly replaced, never dropped). */
typedef enum { REP_UTF8 = 0, REP_LATIN1, REP_ASCII } rep_charset;

typedef struct rep_type rep_type;
struct rep_type {
    const char *id;        /* "payments.itemized.1" */
    const char *name;      /* human title */
    const char *file_slug; /* "payments": in file names */
    const rep_column *columns;
    size_t ncolumns;
    char default_sep; /* ',' or ';' (Payline) */
    rep_charset charset;
};
size_t rep_types(const rep_type *const **out);
const rep_type *rep_type_find(const char *id);
/* The merchant's data range: from its creation to now (unix s). */
k_status rep_data_available(rep_service *r, const char *merchant_id, int64_t *start, int64_t *end,
                            gw_err *err);

/* ---- what a run, an export or a schedule asks for ---- */
/* The back office payments list's filters beyond currency and method (a saved
 * view), for payments.itemized.1: the same meaning as the list's search
 * (store_pay_search): status, channel, order_ref exact; country and e-mail
 * without regard to case; any_id one of the payment's id, external id, order
 * reference or provider reference; amount bounds in minor units (-1 = none). */
typedef struct {
    const char *status, *channel, *country, *email, *order_ref, *any_id;
    int64_t amount_gte, amount_lte;
} rep_pay_filter;

typedef struct {
    const char *report_type;
    int64_t interval_start, interval_end; /* unix s, [start, end) */
    bool has_start, has_end;
    const char *timezone;  /* IANA; NULL = "UTC" */
    const char *currency;  /* filter, NULL = all */
    const char *method;    /* filter on payment_method_type, NULL = all */
    json_t *columns;       /* borrowed array of names; NULL = the type's defaults */
    const char *format;    /* "csv" (default) or "xlsx" */
    const char *delimiter; /* "," or ";"; NULL = the type's */
    int bom;               /* -1 = default (on), 0, 1 */
    bool has_pay;          /* pay holds a saved view's filters (payments.itemized.1 only) */
    rep_pay_filter pay;
} rep_params;

/* Validates p against the type, the merchant's data range and the tz database:
 * errors name the parameter ("parameters[interval_end]"). Fills defaults. */
k_status rep_params_check(rep_service *r, const char *merchant_id, rep_params *p, gw_err *err);

/* ---- runs and files (documents rendered by the dialect) ---- */
k_status rep_run_create(rep_service *r, const char *merchant_id, const rep_params *p, gw_idem *idem,
                        arena *a, json_t **run, gw_err *err);
k_status rep_run_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                     json_t **run, gw_err *err);
k_status rep_run_list(rep_service *r, const char *merchant_id, const store_list_q *q, arena *a,
                      json_t ***runs, size_t *n, bool *has_more, gw_err *err);
/* A file document and the path of its bytes on disk. */
k_status rep_file_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                      json_t **file, const char **path, gw_err *err);

/* ---- operator export (kassa export): the same rows straight into out ---- */
typedef void (*rep_progress_fn)(void *ctx, int64_t rows, double fraction);
k_status rep_export(rep_service *r, const char *merchant_id, const rep_params *p, FILE *out,
                    rep_progress_fn progress, void *ctx, int64_t *rows, gw_err *err);

/* ---- schedules ---- */
typedef struct {
    const char *report_type;
    const char *frequency; /* "daily", "weekly", "monthly" */
    int hour, minute;      /* local time of the run */
    int weekday;           /* weekly: 1 = Monday .. 7 = Sunday */
    int monthday;          /* monthly: 1..28 */
    int64_t start_at;      /* first run no earlier than this (unix s); 0 = now */
    const char *timezone;
    const char *currency, *method;
    json_t *columns;
    const char *format;
    const char *delimiter;
    int bom;
    const char *folder; /* deliver into this directory, NULL = no */
    const char *url;    /* POST the file here (signed), NULL = no */
    json_t *emails;     /* array of recipients, NULL = no */
} rep_schedule_params;
k_status rep_schedule_create(rep_service *r, const char *merchant_id, const rep_schedule_params *p,
                             gw_idem *idem, arena *a, json_t **out, gw_err *err);
k_status rep_schedule_get(rep_service *r, const char *merchant_id, const char *id, arena *a,
                          json_t **out, gw_err *err);
k_status rep_schedule_list(rep_service *r, const char *merchant_id, const store_list_q *q, arena *a,
                           json_t ***out, size_t *n, bool *has_more, gw_err *err);
k_status rep_schedule_delete(rep_service *r, const char *merchant_id, const char *id, arena *a,
                             json_t **out, gw_err *err);
/* Deliveries of a schedule's files, with their attempts, newest last. */
k_status rep_schedule_deliveries(rep_service *r, const char *merchant_id, const char *id, arena *a,
                                 json_t **out, gw_err *err);

/* ---- pushing a document to a URL (the ECommPay Data API's delivery_url) ----
 * Queues a durable job that POSTs body (JSON) to url, retried with backoff like
 * a scheduled delivery, recorded per attempt; *job_id says which. */
k_status rep_push(rep_service *r, const char *merchant_id, const char *url, const char *body,
                  int64_t *job_id, gw_err *err);

/* ---- analytics ---- */
typedef struct {
    int64_t interval_start, interval_end; /* unix s */
    const char *timezone;
    const char *bucket;     /* "15m", "30m", "1h", "4h", "day", "week", "month" */
    const char *currency;   /* NULL = all, per currency */
    bool compare;           /* also the previous period of the same length */
    const char *convert_to; /* also every figure converted to this currency, NULL = no */
} rep_analytics_params;
/* The figures as a JSON object (see docs/reports.md), arena-owned. */
k_status rep_analytics(rep_service *r, const char *merchant_id, const rep_analytics_params *p,
                       arena *a, json_t **out, gw_err *err);

#endif
