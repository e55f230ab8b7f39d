/*
 * cli_reports.c - the operator's report commands (main.c dispatches here):
 *   kassa export --merchant ACCT --report TYPE --from WHEN --to WHEN
 *                [--format csv|xlsx] [--tz ZONE] [--columns a,b] [--currency C]
 *                [--delimiter ';'] [--no-bom] [--db PATH] > FILE
 *   kassa report schedule create --merchant ACCT --report TYPE --frequency daily|weekly|monthly
 *                [--at HH:MM] [--weekday 1-7] [--monthday 1-28] [--tz ZONE] [--format F]
 *                [--folder DIR] [--url URL] [--email ADDR]... [--db PATH]
 *   kassa report schedule list|delete --merchant ACCT [ID] [--db PATH]
 * WHEN is YYYY-MM-DD (local midnight in --tz), YYYY-MM-DDTHH:MM (local) or
 * unix seconds. The export streams rows straight to stdout from one read
 * snapshot, with a progress bar on stderr when stderr is a terminal; it may run
 * while the server runs (SQLite WAL readers never wait for the writer).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reports.h"
#include "../base/clock.h"
#include "../base/tz.h"
#include "../gateway/reports.h"
#include "../store/store.h"

typedef struct {
    const char *db, *merchant, *report, *from, *to, *format, *zone, *columns, *currency;
    const char *delimiter, *frequency, *at, *weekday, *monthday, *folder, *url, *files_dir;
    const char *emails[LIMIT_REPORT_RECIPIENTS_MAX];
    size_t nemails;
    bool no_bom, help;
    const char *positional;
} opts;

static bool parse(int argc, char **argv, opts *o, const char *cmd)
{
    memset(o, 0, sizeof(*o));
    o->db = getenv("KASSA_DB") != NULL ? getenv("KASSA_DB") : "var/kassa.db";
    struct {
        const char *flag;
        const char **dst;
    } map[] = {{"--db", &o->db},
               {"--merchant", &o->merchant},
               {"--report", &o->report},
               {"--from", &o->from},
               {"--to", &o->to},
               {"--format", &o->format},
               {"--tz", &o->zone},
               {"--columns", &o->columns},
               {"--currency", &o->currency},
               {"--delimiter", &o->delimiter},
               {"--frequency", &o->frequency},
               {"--at", &o->at},
               {"--weekday", &o->weekday},
               {"--monthday", &o->monthday},
               {"--folder", &o->folder},
               {"--url", &o->url},
               {"--files-dir", &o->files_dir}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = true;
            continue;
        }
        if (strcmp(a, "--no-bom") == 0) {
            o->no_bom = true;
            continue;
        }
        if (strcmp(a, "--email") == 0 && i + 1 < argc) {
            if (o->nemails == LIMIT_REPORT_RECIPIENTS_MAX) {
                fprintf(stderr, "kassa %s: at most %d --email\n", cmd, LIMIT_REPORT_RECIPIENTS_MAX);
                return false;
            }
            o->emails[o->nemails++] = argv[++i];
            continue;
        }
        bool done = false;
        for (size_t k = 0; k < K_ARRAY_LEN(map) && !done; k++) {
            if (strcmp(a, map[k].flag) != 0)
                continue;
            if (i + 1 >= argc) {
                fprintf(stderr, "kassa %s: option '%s' needs a value\n", cmd, a);
                return false;
            }
            *map[k].dst = argv[++i];
            done = true;
        }
        if (done)
            continue;
        if (a[0] != '-' && o->positional == NULL) {
            o->positional = a;
            continue;
        }
        fprintf(stderr, "kassa %s: unknown option '%s' (see kassa %s --help)\n", cmd, a, cmd);
        return false;
    }
    return true;
}

/* YYYY-MM-DD[THH:MM[:SS]] local in z, or unix seconds. */
static bool parse_when(const char *s, const tz *z, int64_t *out)
{
    int y, m, d, hh = 0, mm = 0, ss = 0;
    char tail = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &m, &d, &hh, &mm, &ss, &tail) >= 5 ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3) {
        if (tail != 0 || m < 1 || m > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 59)
            return false;
        *out = tz_to_utc(z, tz_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss);
        return true;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < 0)
        return false;
    *out = v;
    return true;
}

typedef struct {
    int64_t last_ms;
} bar;

static void progress(void *ctx, int64_t rows, double fraction)
{
    bar *b = ctx;
    int64_t now = clock_mono_ms();
    if (fraction < 1.0 && now - b->last_ms < 100)
        return;
    b->last_ms = now;
    char line[64];
    int filled = (int)(fraction * 30);
    for (int i = 0; i < 30; i++)
        line[i] = i < filled ? '#' : '.';
    line[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %lld rows", line, (int)(fraction * 100), (long long)rows);
    if (fraction >= 1.0)
        fputc('\n', stderr);
}

typedef struct {
    store *st;
    gw *g;
    rep_service *r;
} env;

static int env_open(env *e, const opts *o)
{
    memset(e, 0, sizeof(*e));
    if (store_open(&e->st, o->db) != K_OK) {
        fprintf(stderr, "kassa: cannot open the database '%s'\n", o->db);
        return 1;
    }
    gw_config gc = {.public_url = "http://127.0.0.1"};
    if (gw_open(&e->g, e->st, &gc) != K_OK) {
        store_close(e->st);
        return 1;
    }
    char dir[600];
    if (o->files_dir != NULL)
        snprintf(dir, sizeof(dir), "%s", o->files_dir);
    else if (strstr(o->db, "://") == NULL) {
        snprintf(dir, sizeof(dir), "%s", o->db);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            snprintf(slash, sizeof(dir) - (size_t)(slash - dir), "/files");
        else
            snprintf(dir, sizeof(dir), "files");
    } else {
        snprintf(dir, sizeof(dir), "var/files");
    }
    rep_config rc = {.files_dir = dir};
    if (rep_open(&e->r, e->g, &rc) != K_OK) {
        gw_close(e->g);
        store_close(e->st);
        return 1;
    }
    return 0;
}

static void env_close(env *e)
{
    rep_close(e->r);
    gw_close(e->g);
    store_close(e->st);
}

static json_t *split_columns(const char *s)
{
    json_t *a = json_array();
    const char *p = s;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        p = comma != NULL ? comma + 1 : NULL;
    }
    return a;
}

/* main blocks SIGINT and SIGTERM for serve's sigwait; a CLI command takes them as
 * any command does (Ctrl-C stops an export). */
static void default_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int cli_export(int argc, char **argv)
{
    default_signals();
    opts o;
    if (!parse(argc, argv, &o, "export"))
        return 2;
    if (o.help) {
        printf("kassa export --merchant ACCT --report TYPE --from WHEN --to WHEN\n"
               "             [--format csv|xlsx] [--tz ZONE] [--columns a,b,...] [--currency C]\n"
               "             [--delimiter ';'] [--no-bom] [--db PATH] > FILE\n"
               "WHEN: YYYY-MM-DD (local midnight in --tz), YYYY-MM-DDTHH:MM or unix seconds.\n"
               "Types: payments.itemized.1 operations.itemized.1 settlement.summary.1\n"
               "       payline.transactions.1 payline.payments.1\n");
        return 0;
    }
    if (o.merchant == NULL || o.report == NULL || o.from == NULL || o.to == NULL) {
        fprintf(stderr, "kassa export: --merchant, --report, --from and --to are required\n");
        return 2;
    }
    const tz *z;
    const char *zone = o.zone != NULL ? o.zone : "UTC";
    if (tz_load(zone, &z) != K_OK) {
        fprintf(stderr, "kassa export: --tz '%s' is not an IANA time zone\n", zone);
        return 2;
    }
    rep_params p = {.report_type = o.report,
                    .has_start = true,
                    .has_end = true,
                    .timezone = zone,
                    .currency = o.currency,
                    .format = o.format,
                    .delimiter = o.delimiter,
                    .bom = o.no_bom ? 0 : -1};
    if (!parse_when(o.from, z, &p.interval_start) || !parse_when(o.to, z, &p.interval_end)) {
        fprintf(stderr, "kassa export: --from/--to must be YYYY-MM-DD, YYYY-MM-DDTHH:MM or unix "
                        "seconds\n");
        return 2;
    }
    json_t *cols = o.columns != NULL ? split_columns(o.columns) : NULL;
    p.columns = cols;
    env e;
    if (env_open(&e, &o) != 0) {
        json_decref(cols);
        return 1;
    }
    bar b = {0};
    int64_t rows = 0;
    gw_err err;
    memset(&err, 0, sizeof(err));
    int64_t t0 = clock_mono_ms();
    k_status st =
        rep_export(e.r, o.merchant, &p, stdout, isatty(2) ? progress : NULL, &b, &rows, &err);
    int rc = 0;
    if (st != K_OK) {
        fprintf(stderr, "kassa export: %s%s%s\n", err.param[0] ? err.param : "",
                err.param[0] ? ": " : "", err.message);
        rc = st == K_EINVAL ? 2 : 1;
    } else if (fflush(stdout) != 0) {
        fprintf(stderr, "kassa export: writing the output failed\n");
        rc = 1;
    } else {
        int64_t ms = clock_mono_ms() - t0;
        fprintf(stderr, "kassa export: %lld rows in %lld ms (%.0f rows/s)\n", (long long)rows,
                (long long)ms, ms > 0 ? (double)rows * 1000.0 / (double)ms : 0.0);
    }
    json_decref(cols);
    env_close(&e);
    return rc;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s != NULL ? s : "null");
    free(s);
}

static int schedule_create(env *e, const opts *o, arena *a)
{
    rep_schedule_params p = {.report_type = o->report,
                             .frequency = o->frequency,
                             .hour = 6,
                             .weekday = o->weekday != NULL ? (int)strtol(o->weekday, NULL, 10) : 1,
                             .monthday =
                                 o->monthday != NULL ? (int)strtol(o->monthday, NULL, 10) : 1,
                             .timezone = o->zone,
                             .currency = o->currency,
                             .format = o->format,
                             .delimiter = o->delimiter,
                             .bom = o->no_bom ? 0 : -1,
                             .folder = o->folder,
                             .url = o->url};
    if (o->at != NULL && sscanf(o->at, "%d:%d", &p.hour, &p.minute) != 2) {
        fprintf(stderr, "kassa report schedule: --at must be HH:MM\n");
        return 2;
    }
    json_t *emails = NULL;
    if (o->nemails > 0) {
        emails = json_array();
        for (size_t i = 0; i < o->nemails; i++)
            json_array_append_new(emails, json_string(o->emails[i]));
    }
    p.emails = emails;
    json_t *cols = o->columns != NULL ? split_columns(o->columns) : NULL;
    p.columns = cols;
    json_t *out;
    gw_err err;
    memset(&err, 0, sizeof(err));
    k_status st = rep_schedule_create(e->r, o->merchant, &p, NULL, a, &out, &err);
    json_decref(emails);
    json_decref(cols);
    if (st != K_OK) {
        fprintf(stderr, "kassa report schedule create: %s%s%s\n", err.param,
                err.param[0] ? ": " : "", err.message);
        return 2;
    }
    print_json(out);
    return 0;
}

int cli_report(int argc, char **argv)
{
    default_signals();
    bool help = argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
    if (help) {
        printf("kassa report schedule create|list|delete ...: report schedules (kassa report "
               "schedule --help for each)\n");
        return 0;
    }
    if (argc < 2 || strcmp(argv[0], "schedule") != 0) {
        fprintf(stderr, "kassa report: expected 'schedule create|list|delete' (see kassa report "
                        "schedule --help)\n");
        return 2;
    }
    const char *verb = argv[1];
    opts o;
    if (!parse(argc - 2, argv + 2, &o, "report schedule"))
        return 2;
    if (o.help || strcmp(verb, "--help") == 0) {
        printf("kassa report schedule create --merchant ACCT --report TYPE --frequency "
               "daily|weekly|monthly\n"
               "      [--at HH:MM] [--weekday 1-7] [--monthday 1-28] [--tz ZONE] [--format "
               "csv|xlsx]\n"
               "      [--folder DIR] [--url URL] [--email ADDR]... [--db PATH]\n"
               "kassa report schedule list --merchant ACCT [--db PATH]\n"
               "kassa report schedule delete --merchant ACCT ID [--db PATH]\n");
        return 0;
    }
    if (o.merchant == NULL) {
        fprintf(stderr, "kassa report schedule: --merchant ACCT is required\n");
        return 2;
    }
    env e;
    if (env_open(&e, &o) != 0)
        return 1;
    arena a;
    arena_init(&a, 0);
    int rc = 0;
    gw_err err;
    memset(&err, 0, sizeof(err));
    if (strcmp(verb, "create") == 0) {
        rc = schedule_create(&e, &o, &a);
    } else if (strcmp(verb, "list") == 0) {
        store_list_q q = {.limit = LIMIT_LIST_PAGE_MAX};
        json_t **docs;
        size_t n;
        bool more;
        if (rep_schedule_list(e.r, o.merchant, &q, &a, &docs, &n, &more, &err) != K_OK) {
            fprintf(stderr, "kassa report schedule list: %s\n", err.message);
            rc = 1;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            json_object_del(docs[i], "signing_secret");
            print_json(docs[i]);
        }
    } else if (strcmp(verb, "delete") == 0 && o.positional != NULL) {
        json_t *out;
        if (rep_schedule_delete(e.r, o.merchant, o.positional, &a, &out, &err) != K_OK) {
            fprintf(stderr, "kassa report schedule delete: %s\n", err.message);
            rc = 1;
        } else {
            printf("{\"id\":\"%s\",\"deleted\":true}\n", o.positional);
        }
    } else {
        fprintf(stderr, "kassa report schedule: expected create, list or delete ID\n");
        rc = 2;
    }
    arena_release(&a);
    env_close(&e);
    return rc;
}
