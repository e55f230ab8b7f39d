/*
 * rep_int.h - shared by the report files of the gateway (reports.c: runs,
 * files and the worker; rep_types.c: the report types and their rows;
 * rep_file.c: CSV and XLSX writers; rep_send.c: deliveries; analytics.c).
 */
#ifndef KASSA_REP_INT_H
#define KASSA_REP_INT_H

#include <pthread.h>
#include "reports.h"
#include "gw_int.h"
#include "../base/tz.h"

struct rep_service {
    gw *g;
    store *st;
    char *files_dir;
    char *smtp_url, *smtp_from;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t rates_since_s; /* the rule set's exchange rates are in force since (unix s) */
};

/* One cell of a row; what it means is the column's kind. */
typedef struct {
    const char *s; /* REP_TEXT, REP_CODE */
    int64_t i;     /* REP_INT, REP_DEC (minor units), REP_TIME (unix ms), REP_RATE (x 10^9) */
    uint8_t exp;   /* REP_DEC: the currency's exponent */
    bool set;      /* false = empty cell */
} rep_cell;

/* A checked request turned into what the writers need. */
typedef struct {
    const rep_type *type;
    int sel[LIMIT_REPORT_COLUMNS_MAX]; /* column indexes, in the requested order */
    size_t nsel;
    const tz *zone;
    char sep;
    bool bom;
    bool xlsx;
    int64_t from_s, to_s;
    char currency[4]; /* lower-case filter, "" = all */
    const char *method;
    bool has_pay;
    rep_pay_filter pay;
    int64_t sheet_rows; /* XLSX rows per sheet before a new one; 0 = LIMIT_XLSX_SHEET_ROWS (tests
                           set fewer to see the rollover without writing a million rows) */
} rep_plan;

k_status rep_plan_make(const rep_params *p, rep_plan *out);

/* ---- writers (rep_file.c) ---- */
typedef struct rep_sink rep_sink;
/* Opens a writer into path (written as path.part, renamed on close) or, for
 * CSV only, into stream. */
k_status rep_sink_open(rep_sink **out, const rep_plan *plan, const char *path, FILE *stream);
k_status rep_sink_row(rep_sink *s, const rep_cell *cells);
/* Finishes the file durably (fsync, rename). Frees s either way. */
k_status rep_sink_close(rep_sink *s);
void rep_sink_abort(rep_sink *s);
/* sha256 hex and size of a file on disk. */
k_status rep_file_digest(const char *path, char hex[65], int64_t *size);

/* ---- rows (rep_types.c) ---- */
/* Streams the plan's rows from one read snapshot into sink. */
k_status rep_generate(rep_service *r, const char *merchant_id, const rep_plan *plan, rep_sink *sink,
                      rep_progress_fn progress, void *ctx, int64_t *rows);

/* Writes a report into a new file of the merchant's folder and fills its file
 * document (not yet stored); filename NULL = one made from the type and id. */
k_status rep_make_file(rep_service *r, const char *merchant_id, const rep_params *p,
                       const char *filename, const char *purpose, arena *a, json_t **file,
                       int64_t *rows);
/* A schedule's job came due: make the period's file, queue its deliveries and
 * the next firing (rep_sched.c). */
k_status rep_schedule_fire(rep_service *r, const store_job *job, arena *a);

/* ---- deliveries (rep_send.c) ---- */
/* Sends one delivery job (body: {"file": ..., "channel": ..., ...}); false + an error
 * text (arena) when it failed and may be retried. */
bool rep_send(rep_service *r, const store_job *job, arena *a, const char **error);

#endif
