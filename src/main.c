/*
 * main.c - the kassa command: serve, sim, migrate, merchant create, version.
 *
 * Configuration is one table (name, type, bounds, default, env variable,
 * help), filled from defaults, then a config file, then KASSA_* environment
 * variables, then command-line flags, and validated once at start: an unknown
 * key or a value out of range is a clear start-up error.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/api.h"
#include "cli/reports.h"
#include "gateway/reports.h"
#include "gateway/keys.h"
#include "gateway/settings.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/httpc.h"
#include "base/log.h"
#include "providers/provider.h"
#include "sim/sim.h"
#include "base/crashpoint.h"
#include "cli/backup.h"
#include "cli/listen.h"
#include "cli/openapi.h"
#include "cli/ops_metrics.h"
#include "cli/service.h"
#include "cli/staff.h"
#include "cli/keys.h"
#include "server/http.h"
#include "store/store.h"

#define KASSA_VERSION    "0.1.0"
#define CONFIG_VALUE_MAX 512
#define CONFIG_FILE_MAX  (64 * 1024)

/* ---- the configuration table ---- */

typedef enum { C_STR, C_INT, C_BOOL } ctype;

typedef struct {
    char listen[CONFIG_VALUE_MAX];
    char db[CONFIG_VALUE_MAX];
    char sim_listen[CONFIG_VALUE_MAX];
    char sim_url[CONFIG_VALUE_MAX];
    char public_url[CONFIG_VALUE_MAX];
    char rules_file[CONFIG_VALUE_MAX];
    char key_file[CONFIG_VALUE_MAX];
    char log_level[16];
    int64_t workers;
    int64_t io_threads;
    int64_t auth_warn_days;
    int64_t attempt_ttl_s;
    int64_t session_ttl_s;
    int64_t klarna_rate_per_min;
    int64_t test_clock;
    int64_t sandbox;
    int64_t dev_allow_loopback;
    int64_t rate_limit_per_s, rate_limit_burst, auth_fail_per_min, auth_fail_burst;
    int64_t connections_per_ip, head_deadline_s, queue_max, queue_wait_ms;
    char backup_dir[CONFIG_VALUE_MAX];
    int64_t backup_interval_s;
    int64_t backup_keep;
    char files_dir[CONFIG_VALUE_MAX];
    char smtp_url[CONFIG_VALUE_MAX];
    char smtp_from[CONFIG_VALUE_MAX];
} config;

typedef struct {
    const char *name;
    ctype type;
    int64_t min, max;
    const char *def;
    size_t offset;
    size_t size;
    const char *help;
} config_key;

#define S(f) offsetof(config, f), sizeof(((config *)0)->f)
static const config_key KEYS[] = {
    {"listen", C_STR, 0, 0, "127.0.0.1:8080", S(listen),
     "HOST:PORT of the API and pages (port 0: any)"},
    {"db", C_STR, 0, 0, "var/kassa.db", S(db),
     "SQLite database file, or a postgresql://user@host:port/db URL"},
    {"sim_listen", C_STR, 0, 0, "127.0.0.1:8081", S(sim_listen),
     "HOST:PORT of the provider simulators, or 'off'"},
    {"sim_url", C_STR, 0, 0, "", S(sim_url),
     "base URL of simulators running elsewhere (`kassa sim`); needs sim_listen off"},
    {"public_url", C_STR, 0, 0, "", S(public_url),
     "base URL customers' browsers reach Kassa at (default http://LISTEN)"},
    {"rules_file", C_STR, 0, 0, "", S(rules_file), "method rules override file (see docs/api.md)"},
    {"key_file", C_STR, 0, 0, "", S(key_file),
     "the server key (created 0600 on first start; default: kassa.key beside the database)"},
    {"log_level", C_STR, 0, 0, "info", S(log_level), "debug, info, warn or error"},
    {"workers", C_INT, 1, LIMIT_HTTP_WORKERS_MAX, "64", S(workers),
     "threads for requests that write or call a provider (on SQLite, reads are answered "
     "on the I/O threads)"},
    {"io_threads", C_INT, 1, 16, "2", S(io_threads), "HTTP I/O threads"},
    {"auth_warn_days", C_INT, 0, 60, "3", S(auth_warn_days),
     "days before an authorisation expires that payment_intent.authorization_expiring is sent"},
    {"attempt_ttl_s", C_INT, 0, 30 * 86400, "0", S(attempt_ttl_s),
     "override of the methods' attempt expiry (0: per method, Klarna 48 h)"},
    {"session_ttl_s", C_INT, 1800, 86400, "86400", S(session_ttl_s), "checkout session lifetime"},
    {"klarna_rate_per_min", C_INT, 0, 1000000, "360", S(klarna_rate_per_min),
     "Klarna-backed calls per merchant and minute, as Klarna limits them (0: no limit)"},
    {"test_clock", C_BOOL, 0, 1, "0", S(test_clock),
     "enable POST /_test/clock/advance (sandbox and tests only)"},
    {"sandbox", C_BOOL, 0, 1, "0", S(sandbox),
     "create a sandbox merchant on first start, print its keys, serve the demo shop"},
    /* security (docs/security.md) */
    {"dev_allow_loopback", C_BOOL, 0, 1, "0", S(dev_allow_loopback),
     "let webhook, callback and delivery URLs reach loopback (development; --sandbox sets it)"},
    {"rate_limit_per_s", C_INT, 0, 1000000, "1000", S(rate_limit_per_s),
     "requests a second one merchant may make (0: no limit); past it 429 + Retry-After"},
    {"rate_limit_burst", C_INT, 1, 1000000, "2000", S(rate_limit_burst),
     "requests one merchant may make at once above its rate"},
    {"auth_fail_per_min", C_INT, 0, 60000000, "60", S(auth_fail_per_min),
     "failed authentications a minute one address may make after its burst (0: no limit)"},
    {"auth_fail_burst", C_INT, 1, 1000000, "20", S(auth_fail_burst),
     "failed authentications one address may make at once; past it 429 until refilled"},
    {"connections_per_ip", C_INT, 1, LIMIT_HTTP_PER_IP_MAX, "256", S(connections_per_ip),
     "open connections from one client address"},
    {"head_deadline_s", C_INT, 1, LIMIT_HTTP_HEAD_DEADLINE_S, "30", S(head_deadline_s),
     "seconds a client has to send a whole request head before it is disconnected"},
    {"queue_max", C_INT, 1, LIMIT_HTTP_QUEUE_MAX, "4096", S(queue_max),
     "requests waiting for a worker; more are answered 503 + Retry-After at once"},
    {"queue_wait_ms", C_INT, 1, LIMIT_HTTP_QUEUE_WAIT_MAX_MS, LIMIT_STR(LIMIT_HTTP_QUEUE_WAIT_MS),
     S(queue_wait_ms),
     "milliseconds a request may wait for a worker; past it 503 + Retry-After, nothing done"},
    {"backup_dir", C_STR, 0, 0, "", S(backup_dir),
     "directory of periodic verified backups (SQLite; empty: off; see kassa backup)"},
    {"backup_interval_s", C_INT, 1, 7 * 86400, "86400", S(backup_interval_s),
     "seconds between periodic backups"},
    {"backup_keep", C_INT, 1, LIMIT_BACKUP_KEEP_MAX, "7", S(backup_keep),
     "periodic backups kept (the oldest are removed)"},
    {"files_dir", C_STR, 0, 0, "", S(files_dir),
     "folder of report files (default: 'files' beside the SQLite database, else var/files)"},
    {"smtp_url", C_STR, 0, 0, "", S(smtp_url),
     "SMTP relay for scheduled reports by e-mail, e.g. smtp://127.0.0.1:25 (STARTTLS if offered)"},
    {"smtp_from", C_STR, 0, 0, "", S(smtp_from), "sender address of scheduled report e-mails"},
};
#undef S

static void *field(config *c, const config_key *k)
{
    return (char *)c + k->offset;
}

/* Sets one key from text; returns an error message or NULL. */
static const char *config_set(config *c, const config_key *k, const char *v, char *err, size_t cap)
{
    if (k->type == C_STR) {
        if (strlen(v) >= k->size) {
            snprintf(err, cap, "'%s' is too long (at most %zu characters)", k->name, k->size - 1);
            return err;
        }
        memcpy(field(c, k), v, strlen(v) + 1);
        return NULL;
    }
    int64_t n;
    if (k->type == C_BOOL) {
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
            strcmp(v, "on") == 0)
            n = 1;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
                 strcmp(v, "off") == 0)
            n = 0;
        else {
            snprintf(err, cap, "'%s' must be true or false, not '%s'", k->name, v);
            return err;
        }
    } else {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || n < k->min || n > k->max) {
            snprintf(err, cap, "'%s' must be a whole number from %lld to %lld, not '%s'", k->name,
                     (long long)k->min, (long long)k->max, v);
            return err;
        }
    }
    *(int64_t *)field(c, k) = n;
    return NULL;
}

static const config_key *config_find(const char *name)
{
    for (size_t i = 0; i < K_ARRAY_LEN(KEYS); i++)
        if (strcmp(KEYS[i].name, name) == 0)
            return &KEYS[i];
    return NULL;
}

static bool config_defaults(config *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (size_t i = 0; i < K_ARRAY_LEN(KEYS); i++)
        if (config_set(c, &KEYS[i], KEYS[i].def, err, sizeof(err)) != NULL)
            return false;
    return true;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "key = value" lines, '#' comments. */
static bool config_file(config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "kassa: cannot open config file '%s': %s\n", path, strerror(errno));
        return false;
    }
    char line[CONFIG_VALUE_MAX + 128];
    int no = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f) != NULL) {
        no++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            fprintf(stderr, "kassa: %s:%d: expected 'key = value'\n", path, no);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const config_key *k = config_find(key);
        char err[256];
        if (k == NULL) {
            fprintf(stderr, "kassa: %s:%d: unknown configuration key '%s'\n", path, no, key);
            ok = false;
        } else if (config_set(c, k, val, err, sizeof(err)) != NULL) {
            fprintf(stderr, "kassa: %s:%d: %s\n", path, no, err);
            ok = false;
        }
    }
    fclose(f);
    return ok;
}

static bool config_env(config *c)
{
    for (size_t i = 0; i < K_ARRAY_LEN(KEYS); i++) {
        char name[64] = "KASSA_";
        for (size_t k = 0; KEYS[i].name[k] && k < 50; k++)
            name[6 + k] =
                (char)(KEYS[i].name[k] >= 'a' && KEYS[i].name[k] <= 'z' ? KEYS[i].name[k] - 32
                                                                        : KEYS[i].name[k]);
        const char *v = getenv(name);
        char err[256];
        if (v != NULL && config_set(c, &KEYS[i], v, err, sizeof(err)) != NULL) {
            fprintf(stderr, "kassa: environment %s: %s\n", name, err);
            return false;
        }
    }
    return true;
}

static void config_help(FILE *out)
{
    fprintf(out, "\nConfiguration (config file 'key = value', env KASSA_<KEY>, or --key VALUE):\n");
    for (size_t i = 0; i < K_ARRAY_LEN(KEYS); i++)
        fprintf(out, "  %-16s %s (default: %s)\n", KEYS[i].name, KEYS[i].help,
                KEYS[i].def[0] ? KEYS[i].def : "none");
}

/* Parses HOST:PORT. */
static bool parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= cap)
        return false;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)p;
    return true;
}

/* ---- commands ---- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "kassa %s - a self-hosted payment gateway (Klarna, Alipay+) with Stripe- and "
        "ECommPay-compatible APIs\n\n"
        "Usage:\n"
        "  kassa serve [--listen HOST:PORT] [--db PATH] [--sim-listen HOST:PORT|off]\n"
        "              [--sim-url URL] [--config FILE] [--public-url URL] [--sandbox]\n"
        "  kassa sim [--listen HOST:PORT]      the provider simulators alone\n"
        "  kassa migrate [--db PATH]\n"
        "  kassa merchant create --name NAME [--db PATH]\n"
        "  kassa merchant live ACCT [--db PATH]\n"
        "  kassa merchant provider ACCT --provider P --username U --secret S --base-url URL\n"
        "  kassa backup --to FILE [--db PATH]\n"
        "  kassa restore --from FILE [--db PATH]\n"
        "  kassa listen --forward-to URL [--events TYPES] [--api-base URL] --api-key KEY\n"
        "  kassa trigger EVENT [--api-base URL] --api-key KEY\n"
        "  kassa openapi [--routes]\n"
        "  kassa export --merchant ACCT --report TYPE --from WHEN --to WHEN > FILE\n"
        "  kassa report schedule create|list|delete ...\n"
        "  kassa user create --email EMAIL --role ROLE [--merchant ID] [--db PATH]\n"
        "  kassa audit verify [--merchant ID] [--db PATH]\n"
        "  kassa key list|create|roll|revoke [--name N] [--id key_...] [--overlap S] [--db PATH]\n"
        "  kassa version\n"
        "  kassa COMMAND --help\n",
        KASSA_VERSION);
}

/* Applies --key value flags (dashes or underscores) and --config. argv[0] is
 * the command. Returns false with a message printed on error. */
static bool parse_flags(int argc, char **argv, config *c, const char **name, bool *help,
                        const char *const *allowed)
{
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[i + 1];
    if (!config_defaults(c) || (config_path != NULL && !config_file(c, config_path)) ||
        !config_env(c))
        return false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "kassa %s: unexpected argument '%s'\n", argv[0], a);
            return false;
        }
        char key[64];
        snprintf(key, sizeof(key), "%s", a + 2);
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        bool ok = false;
        for (size_t k = 0; allowed[k] != NULL; k++)
            ok |= strcmp(allowed[k], key) == 0;
        if (!ok) {
            fprintf(stderr, "kassa %s: unknown option '%s' (see kassa %s --help)\n", argv[0], a,
                    argv[0]);
            return false;
        }
        const config_key *ck = config_find(key);
        if (ck != NULL && ck->type == C_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-')) {
            *(int64_t *)field(c, ck) = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kassa %s: option '%s' needs a value\n", argv[0], a);
            return false;
        }
        const char *v = argv[++i];
        if (strcmp(key, "config") == 0)
            continue;
        if (strcmp(key, "name") == 0) {
            *name = v;
            continue;
        }
        char err[256];
        if (config_set(c, ck, v, err, sizeof(err)) != NULL) {
            fprintf(stderr, "kassa %s: %s\n", argv[0], err);
            return false;
        }
    }
    return true;
}

/* The SQLite file is created 0600 before SQLite opens it (its -wal and -shm
 * files take the database's mode); an existing one readable by others is
 * reported. */
static int db_file_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return close(fd) == 0 ? 0 : 1;
    struct stat sb;
    if (errno != EEXIST || stat(path, &sb) != 0) {
        fprintf(stderr, "kassa: cannot create '%s': %s\n", path, strerror(errno));
        return 1;
    }
    if ((sb.st_mode & 077) != 0)
        log_warn("database '%s' is readable by others (mode %03o); chmod 600 it", path,
                 (unsigned)(sb.st_mode & 0777));
    return 0;
}

/* The key file: key_file, or kassa.key beside the SQLite database, or
 * ~/.config/kassa/kassa.key with PostgreSQL (cli_key_load). */
static int load_key(const config *c)
{
    return cli_key_load(c->key_file, c->db);
}

static int open_store(const config *c, store **st)
{
    if (strstr(c->db, "://") == NULL) {
        char dir[CONFIG_VALUE_MAX];
        snprintf(dir, sizeof(dir), "%s", c->db);
        char *d = dirname(dir);
        if (strcmp(d, ".") != 0 && mkdir(d, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "kassa: cannot create '%s': %s\n", d, strerror(errno));
            return 1;
        }
        if (db_file_private(c->db) != 0)
            return 1;
    }
    if (load_key(c) != 0)
        return 1;
    if (store_open(st, c->db) != K_OK) {
        fprintf(stderr, "kassa: cannot open the database '%s' (see the log above)\n", c->db);
        return 1;
    }
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    static const char *const allowed[] = {"db", "config", "key_file", NULL};
    config c;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(argc, argv, &c, &name, &help, allowed))
        return 2;
    if (help) {
        printf("kassa migrate [--db PATH]: create the database or bring its schema up to date.\n");
        return 0;
    }
    store *st;
    if (open_store(&c, &st) != 0)
        return 1;
    printf("{\"db\":\"%s\",\"schema_version\":%d}\n", c.db, store_schema_version(st));
    store_close(st);
    return 0;
}

static void print_merchant(FILE *out, const gw_merchant_keys *k)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", k->id, "name", k->name, "secret_key",
                          k->secret_key, "publishable_key", k->publishable_key, "ecp_project_id",
                          (json_int_t)k->ecp_project_id, "ecp_secret", k->ecp_secret);
    char *s = json_dumps(o, JSON_COMPACT);
    fprintf(out, "%s\n", s);
    free(s);
    json_decref(o);
}

#define MERCHANT_LIVE_USAGE                                                                        \
    "kassa merchant live ACCT [--db PATH]\n"                                                       \
    "Creates (or shows) the live twin of the test account ACCT: a merchant account of its own\n"   \
    "(id ACCT_live) whose keys are sk_live_/pk_live_ and whose payments render livemode true.\n"   \
    "Prints its id, its first live secret key (shown once, only when created) and publishable\n"   \
    "key as one JSON object. Live payments never go to a simulator: give the twin its provider\n"  \
    "credentials and base URL with kassa merchant provider.\n"
#define MERCHANT_PROVIDER_USAGE                                                                    \
    "kassa merchant provider ACCT --provider klarna|alipay --username U --secret S\n"              \
    "                             --base-url URL [--db PATH]\n"                                    \
    "Sets a merchant account's provider credentials (the secret sealed at rest) and the\n"         \
    "provider's base URL (its real endpoint; a live account needs one). The secret is read from\n" \
    "--secret or, when that is '-', from standard input.\n"

/* Takes "--flag VALUE" out of argv (so parse_flags sees the rest); NULL when absent. */
static const char *take_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i + 1 < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            const char *v = argv[i + 1];
            for (int k = i; k + 2 < *argc; k++)
                argv[k] = argv[k + 2];
            *argc -= 2;
            return v;
        }
    return NULL;
}

static int merchant_open(int argc, char **argv, const char *usage, store **st, gw **g)
{
    static const char *const allowed[] = {"db", "config", "key_file", NULL};
    config c;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(argc, argv, &c, &name, &help, allowed))
        return 2;
    if (help) {
        printf("%s", usage);
        return 0;
    }
    if (open_store(&c, st) != 0)
        return 1;
    gw_config gc = {.public_url = "http://127.0.0.1"};
    if (gw_open(g, *st, &gc) != K_OK) {
        store_close(*st);
        return 1;
    }
    return -1;
}

static int cmd_merchant_live(int argc, char **argv)
{
    const char *acct = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;
    if (acct != NULL) {
        argv++;
        argc--;
    }
    store *st;
    gw *g;
    int rc = merchant_open(argc, argv, MERCHANT_LIVE_USAGE, &st, &g);
    if (rc >= 0)
        return rc;
    rc = 1;
    arena a;
    arena_init(&a, 0);
    gw_merchant_keys k;
    bool created = false;
    k_status ks = acct != NULL ? gw_merchant_live_twin(g, acct, &a, &k, &created) : K_ENOTFOUND;
    if (ks == K_OK) {
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:s,s:b}", "id", k.id, "test_id", acct, "name",
                      k.name, "mode", "live", "secret_key",
                      k.secret_key != NULL ? json_string(k.secret_key) : json_null(),
                      "publishable_key", k.publishable_key, "ecp_project_id",
                      (json_int_t)k.ecp_project_id, "ecp_secret", k.ecp_secret, "created", created);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        rc = 0;
    } else if (ks == K_ENOTFOUND) {
        fprintf(stderr, "kassa merchant live: ACCT must be an existing test account id\n");
        rc = 2;
    } else {
        fprintf(stderr, "kassa merchant live: could not store the live account\n");
    }
    arena_release(&a);
    gw_close(g);
    store_close(st);
    return rc;
}

static int cmd_merchant_provider(int argc, char **argv)
{
    const char *acct = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;
    if (acct != NULL) {
        argv++;
        argc--;
    }
    const char *pname = take_flag(&argc, argv, "--provider");
    const char *user = take_flag(&argc, argv, "--username");
    const char *secret = take_flag(&argc, argv, "--secret");
    const char *url = take_flag(&argc, argv, "--base-url");
    store *st;
    gw *g;
    int rc = merchant_open(argc, argv, MERCHANT_PROVIDER_USAGE, &st, &g);
    if (rc >= 0)
        return rc;
    char line[1024];
    if (secret != NULL && strcmp(secret, "-") == 0) {
        secret = fgets(line, sizeof line, stdin) != NULL ? line : "";
        line[strcspn(line, "\r\n")] = '\0';
    }
    arena a;
    arena_init(&a, 0);
    gw_err err = {0};
    const char *before, *after;
    rc = 2;
    if (acct == NULL || pname == NULL || user == NULL || secret == NULL || url == NULL)
        fprintf(stderr, "kassa merchant provider: ACCT, --provider, --username, --secret and "
                        "--base-url are required (see --help)\n");
    else if (gw_settings_creds_set(g, acct, pname, user, secret, NULL, &a, &before, &after, &err) !=
                 K_OK ||
             gw_settings_base_url_set(g, acct, pname, url, &a, &before, &after, &err) != K_OK)
        fprintf(stderr, "kassa merchant provider: %s: %s\n",
                err.param[0] != '\0' ? err.param : "merchant", err.message);
    else {
        printf("{\"id\":\"%s\",\"provider\":\"%s\",\"base_url_set\":true}\n", acct, pname);
        rc = 0;
    }
    explicit_bzero(line, sizeof line);
    arena_release(&a);
    gw_close(g);
    store_close(st);
    return rc;
}

static int cmd_merchant(int argc, char **argv)
{
    static const char *const allowed[] = {"db", "config", "name", "key_file", NULL};
    if (argc >= 2 && strcmp(argv[1], "live") == 0)
        return cmd_merchant_live(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "provider") == 0)
        return cmd_merchant_provider(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("kassa merchant create --name NAME [--db PATH]\n%s%s", MERCHANT_LIVE_USAGE,
                   MERCHANT_PROVIDER_USAGE);
            return 0;
        }
        fprintf(stderr, "kassa merchant: expected 'create', 'live' or 'provider' (see kassa "
                        "merchant --help)\n");
        return 2;
    }
    config c;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(argc - 1, argv + 1, &c, &name, &help, allowed))
        return 2;
    if (help) {
        printf("kassa merchant create --name NAME [--db PATH]\n"
               "Creates a merchant and prints its id, secret key (shown once), publishable key,\n"
               "and the ECommPay-style project id and secret, as one JSON object.\n");
        return 0;
    }
    if (name == NULL || name[0] == '\0' || strlen(name) > 120) {
        fprintf(stderr, "kassa merchant create: --name NAME is required (1-120 characters)\n");
        return 2;
    }
    store *st;
    if (open_store(&c, &st) != 0)
        return 1;
    gw *g;
    gw_config gc = {.public_url = "http://127.0.0.1"};
    arena a;
    arena_init(&a, 0);
    gw_merchant_keys keys;
    int rc = 1;
    if (gw_open(&g, st, &gc) == K_OK) {
        if (gw_merchant_create(g, name, &a, &keys) == K_OK) {
            print_merchant(stdout, &keys);
            rc = 0;
        } else {
            fprintf(stderr, "kassa merchant create: could not store the merchant\n");
        }
        gw_close(g);
    }
    arena_release(&a);
    store_close(st);
    return rc;
}

static const char *jstr(json_t *o, const char *key, arena *a)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? arena_strdup(a, v) : NULL;
}

/* The sandbox merchant: created on first start, its keys kept beside the db
 * (mode 0600) so later starts print them again. */
static bool sandbox_merchant(gw *g, const config *c, arena *a, gw_merchant_keys *k)
{
    char dir[CONFIG_VALUE_MAX];
    snprintf(dir, sizeof(dir), "%s", c->db);
    char *path = arena_printf(a, "%s/sandbox.json", dirname(dir));
    json_t *saved = json_load_file(path, 0, NULL);
    if (saved != NULL) {
        k->id = jstr(saved, "id", a);
        k->name = jstr(saved, "name", a);
        k->secret_key = jstr(saved, "secret_key", a);
        k->publishable_key = jstr(saved, "publishable_key", a);
        k->ecp_secret = jstr(saved, "ecp_secret", a);
        k->ecp_project_id = json_integer_value(json_object_get(saved, "ecp_project_id"));
        json_decref(saved);
        const char *mid;
        if (k->secret_key != NULL && gw_merchant_auth(g, k->secret_key, a, &mid) == K_OK)
            return true;
    }
    if (gw_merchant_create(g, "Kassa demo shop", a, k) != K_OK)
        return false;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fchmod(fileno(f), 0600);
    print_merchant(f, k);
    fclose(f);
    return true;
}

static void print_sandbox(const api_ctx *ctx, const gw_merchant_keys *k, const char *sim_url,
                          const cli_sandbox_staff *staff)
{
    printf("\n  Kassa is running (sandbox).\n\n"
           "  Demo shop:        %s/demo   <- open this and buy something\n"
           "  Merchant API:     %s/v1     (Stripe-compatible)\n"
           "  Simulators:       %s\n\n"
           "  Test keys (also in var/sandbox.json):\n"
           "    secret key       %s\n"
           "    publishable key  %s\n"
           "    ECommPay project %lld, secret %s\n\n"
           "  Klarna Pay Now test data: Demo Bank, any username, any password, TAN 12345\n"
           "  Klarna Pay Later: customer@email.de approves, customer+denied@email.de refuses,\n"
           "                    any 6-digit code passes, 999999 fails\n\n"
           "  Try:  curl %s/v1/payment_intents -u %s: -d amount=2500 -d currency=eur \\\n"
           "          -d 'payment_method_types[]=klarna'\n\n",
           ctx->public_url, ctx->public_url, sim_url != NULL ? sim_url : "off", k->secret_key,
           k->publishable_key, (long long)k->ecp_project_id, k->ecp_secret, ctx->public_url,
           k->secret_key);
    if (staff->email != NULL)
        printf("  Back office:      %s/dashboard\n"
               "    e-mail %s, password %s\n"
               "    TOTP secret %s (add it to an authenticator app; also in "
               "var/sandbox-staff.json)\n\n",
               ctx->public_url, staff->email, staff->password, staff->totp_secret);
    fflush(stdout);
}

static log_level parse_level(const char *s)
{
    return strcmp(s, "debug") == 0   ? LOG_DEBUG
           : strcmp(s, "warn") == 0  ? LOG_WARN
           : strcmp(s, "error") == 0 ? LOG_ERROR
                                     : LOG_INFO;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *s = malloc(CONFIG_FILE_MAX + 1);
    size_t n = s != NULL ? fread(s, 1, CONFIG_FILE_MAX, f) : 0;
    fclose(f);
    if (s != NULL)
        s[n] = '\0';
    return s;
}

typedef struct {
    store *st;
    gw *g;
    rep_service *reports;
    sim_server *sim;
    http_server *http;
    char *rules;
} running;

static void stop_all(running *r)
{
    if (r->http != NULL)
        http_server_stop(r->http);
    rep_close(r->reports);
    if (r->g != NULL)
        gw_close(r->g);
    if (r->sim != NULL)
        sim_server_stop(r->sim);
    httpc_shutdown();
    if (r->st != NULL)
        store_close(r->st);
    free(r->rules);
}

static void collect_store(buf *out, void *ctx)
{
    store_stats s;
    store_get_stats(ctx, &s);
    buf_printf(out,
               "# HELP kassa_store_commits_total Group commits.\n"
               "# TYPE kassa_store_commits_total counter\nkassa_store_commits_total %llu\n"
               "# HELP kassa_store_jobs_total Write jobs run by the writer.\n"
               "# TYPE kassa_store_jobs_total counter\nkassa_store_jobs_total %llu\n"
               "# HELP kassa_store_jobs_failed_total Write jobs rolled back.\n"
               "# TYPE kassa_store_jobs_failed_total counter\nkassa_store_jobs_failed_total %llu\n"
               "# HELP kassa_store_jobs_late_total Creates refused 503 (not run) past their "
               "queue_wait_ms in the writer's queue.\n"
               "# TYPE kassa_store_jobs_late_total counter\nkassa_store_jobs_late_total %llu\n"
               "# HELP kassa_store_batch_max Largest group commit so far.\n"
               "# TYPE kassa_store_batch_max gauge\nkassa_store_batch_max %llu\n"
               "# HELP kassa_store_queue_depth Write jobs waiting for the writer.\n"
               "# TYPE kassa_store_queue_depth gauge\nkassa_store_queue_depth %llu\n"
               "# HELP kassa_store_checkpoints_total SQLite WAL checkpoints run.\n"
               "# TYPE kassa_store_checkpoints_total counter\nkassa_store_checkpoints_total %llu\n",
               (unsigned long long)s.commits, (unsigned long long)s.jobs,
               (unsigned long long)s.jobs_failed, (unsigned long long)s.jobs_late,
               (unsigned long long)s.batch_max, (unsigned long long)s.queue_depth,
               (unsigned long long)s.checkpoints);
}

/* --sim-url: an http(s) base URL without a trailing slash, only with the
 * in-process simulators off (one place the connectors point at). */
static bool sim_url_ok(config *c, bool sim_on)
{
    size_t n = strlen(c->sim_url);
    if (n == 0)
        return true;
    if (sim_on) {
        fprintf(stderr, "kassa serve: --sim-url points the connectors at simulators elsewhere; "
                        "add --sim-listen off\n");
        return false;
    }
    while (n > 0 && c->sim_url[n - 1] == '/')
        c->sim_url[--n] = '\0';
    if ((strncmp(c->sim_url, "http://", 7) != 0 && strncmp(c->sim_url, "https://", 8) != 0) ||
        strchr(c->sim_url, '?') != NULL) {
        fprintf(stderr, "kassa serve: --sim-url must be an http:// or https:// URL, not '%s'\n",
                c->sim_url);
        return false;
    }
    return true;
}

/* SIGHUP: the configuration is read again (file, environment, the same
 * flags); log_level takes effect at once, any other changed key is named as
 * needing a restart (listeners, the database and the thread pools are fixed
 * for the life of the process). A configuration that no longer parses is
 * refused and the running one kept. */
static struct {
    int argc;
    char **argv;
    const char *const *allowed;
} serve_args;

static log_level parse_level(const char *s);

static bool log_level_valid(const char *s)
{
    return strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 || strcmp(s, "warn") == 0 ||
           strcmp(s, "error") == 0;
}

static void serve_reload(void *arg)
{
    config *cur = arg;
    config next;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(serve_args.argc, serve_args.argv, &next, &name, &help, serve_args.allowed)) {
        log_error("reload: the configuration is refused (see above); the running one is kept");
        return;
    }
    for (size_t i = 0; i < K_ARRAY_LEN(KEYS); i++) {
        const config_key *k = &KEYS[i];
        if (memcmp(field(cur, k), field(&next, k), k->size) == 0 ||
            strcmp(k->name, "log_level") == 0)
            continue;
        log_warn("reload: '%s' changed; it takes effect at the next restart", k->name);
    }
    if (!log_level_valid(next.log_level)) {
        log_error("reload: 'log_level' must be debug, info, warn or error, not '%s'; kept '%s'",
                  next.log_level, cur->log_level);
        return;
    }
    log_set_level(parse_level(next.log_level));
    memcpy(cur->log_level, next.log_level, sizeof(cur->log_level));
    log_warn("reload: log_level is '%s'", cur->log_level);
}

/* Every route of the server, in the router's order: the server's own first
 * when with_builtin (as http_server_start puts them), then each table. The
 * OpenAPI document is generated from this same list. */
#define ROUTES_MAX 256
static size_t collect_routes(http_route *routes, bool with_builtin)
{
    size_t n = 0;
    const http_route *part;
    size_t (*tables[])(const http_route **) = {http_server_builtin_routes,
                                               stripe_routes,
                                               checkout_routes,
                                               qr_routes,
                                               demo_routes,
                                               ecommpay_routes,
                                               reporting_routes,
                                               backoffice_routes,
                                               openapi_routes};
    for (size_t t = with_builtin ? 0 : 1; t < K_ARRAY_LEN(tables); t++) {
        size_t m = tables[t](&part);
        K_ASSERT(n + m <= ROUTES_MAX);
        memcpy(routes + n, part, m * sizeof(*part));
        n += m;
    }
    return n;
}

/* The server's request limits, counted in the store when every node shares it. */
static k_status shared_limit(void *ctx, const char *key, int64_t per_minute, int64_t burst,
                             bool take, bool *ok, int64_t *retry_after_ms)
{
    return store_limit_bucket(ctx, key, per_minute, burst, take, ok, retry_after_ms);
}

static void serve_openapi(const http_route *routes, size_t n)
{
    static http_route all[ROUTES_MAX];
    const http_route *builtin;
    size_t b = http_server_builtin_routes(&builtin);
    K_ASSERT(b + n <= ROUTES_MAX);
    memcpy(all, builtin, b * sizeof(*all));
    memcpy(all + b, routes, n * sizeof(*all));
    int undocumented, unused;
    openapi_serve_set(openapi_document(all, b + n, KASSA_VERSION, &undocumented, &unused, NULL));
}

/* kassa openapi: the document on stdout; exit 1 (the document still printed)
 * when a route and the parameter table disagree, naming them on stderr. */
static int cmd_openapi(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("kassa openapi [--routes]: prints the OpenAPI 3.1 document of the server's routes\n"
               "(the one served at /openapi.json and kept as docs/openapi.json); --routes lists\n"
               "the route table itself, one 'METHOD PATTERN' a line.\n");
        return 0;
    }
    static http_route routes[ROUTES_MAX];
    size_t n = collect_routes(routes, true);
    if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s %s\n", routes[i].method, routes[i].pattern);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "kassa openapi: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    int undocumented, unused;
    char *doc = openapi_document(routes, n, KASSA_VERSION, &undocumented, &unused, stderr);
    if (doc == NULL)
        return 1;
    printf("%s\n", doc);
    free(doc);
    return undocumented == 0 && unused == 0 ? 0 : 1;
}

static int serve(config *c)
{
    char host[256], sim_host[256];
    uint16_t port, sim_port = 0;
    if (!parse_listen(c->listen, host, sizeof(host), &port)) {
        fprintf(stderr, "kassa serve: --listen must be HOST:PORT, not '%s'\n", c->listen);
        return 2;
    }
    bool sim_on = strcmp(c->sim_listen, "off") != 0;
    if (sim_on && !parse_listen(c->sim_listen, sim_host, sizeof(sim_host), &sim_port)) {
        fprintf(stderr, "kassa serve: --sim-listen must be HOST:PORT or 'off', not '%s'\n",
                c->sim_listen);
        return 2;
    }
    if (!sim_url_ok(c, sim_on))
        return 2;
    if (strcmp(c->log_level, "debug") != 0 && strcmp(c->log_level, "info") != 0 &&
        strcmp(c->log_level, "warn") != 0 && strcmp(c->log_level, "error") != 0) {
        fprintf(stderr, "kassa serve: 'log_level' must be debug, info, warn or error, not '%s'\n",
                c->log_level);
        return 2;
    }
    log_set_level(parse_level(c->log_level));
    if (c->test_clock)
        crash_points_arm(); /* tests only: tests/e2e/crash_points.test.js */
    running r;
    memset(&r, 0, sizeof(r));
    if (c->rules_file[0] != '\0' && (r.rules = read_file(c->rules_file)) == NULL) {
        fprintf(stderr, "kassa serve: cannot read rules file '%s'\n", c->rules_file);
        return 1;
    }
    httpc_allow_loopback(c->dev_allow_loopback || c->sandbox);
    if (!backup_serve_lock(c->db) || open_store(c, &r.st) != 0 || httpc_init() != K_OK) {
        stop_all(&r);
        return 1;
    }
    if (sim_on && sim_start(&r.sim, sim_host, sim_port) != K_OK) {
        fprintf(stderr, "kassa serve: cannot start the simulators on %s\n", c->sim_listen);
        stop_all(&r);
        return 1;
    }
    const char *sim_url = sim_on ? sim_server_url(r.sim) : c->sim_url[0] ? c->sim_url : NULL;
    if (sim_url != NULL && provider_sandbox_attach(sim_url) != K_OK) {
        fprintf(stderr,
                "kassa serve: the simulators at %s did not answer (start `kassa sim` "
                "first?)\n",
                sim_url);
        stop_all(&r);
        return 1;
    }
    static api_ctx ctx;
    gw_config gc = {.public_url = c->public_url[0] ? c->public_url : NULL,
                    .sim_url = sim_url,
                    .rules_text = r.rules,
                    .attempt_ttl_s = c->attempt_ttl_s,
                    .session_ttl_s = c->session_ttl_s,
                    .auth_warn_days = c->auth_warn_days,
                    .klarna_per_min = c->klarna_rate_per_min,
                    .create_wait_ms = c->queue_wait_ms,
                    .test_clock = c->test_clock};
    /* The public URL needs the port, known once listening: start the server
     * with a gateway whose URL is set right after (before any request can
     * know the port). */
    if (gw_open(&r.g, r.st, &gc) != K_OK) {
        stop_all(&r);
        return 1;
    }
    stripe_install(r.g);
    ecommpay_install(r.g);
    char files_dir[CONFIG_VALUE_MAX + 16];
    if (c->files_dir[0] != '\0')
        snprintf(files_dir, sizeof(files_dir), "%s", c->files_dir);
    else if (strstr(c->db, "://") == NULL) {
        char dbdir[CONFIG_VALUE_MAX];
        snprintf(dbdir, sizeof(dbdir), "%s", c->db);
        snprintf(files_dir, sizeof(files_dir), "%s/files", dirname(dbdir));
    } else
        snprintf(files_dir, sizeof(files_dir), "var/files");
    rep_config rc = {.files_dir = files_dir, .smtp_url = c->smtp_url, .smtp_from = c->smtp_from};
    if (rep_open(&r.reports, r.g, &rc) != K_OK) {
        stop_all(&r);
        return 1;
    }
    ctx = (api_ctx){.g = r.g,
                    .sim_url = gc.sim_url,
                    .sandbox = c->sandbox,
                    .test_clock = c->test_clock,
                    .reports = r.reports};
    static http_route routes[ROUTES_MAX];
    size_t n = collect_routes(routes, false);
    serve_openapi(routes, n);
    http_config hc = {.host = host,
                      .port = port,
                      .io_threads = (int)c->io_threads,
                      .workers = (int)c->workers,
                      .auth = stripe_auth,
                      .auth_ctx = &ctx,
                      .error_fn = stripe_error_page,
                      .error_ctx = &ctx,
                      .on_done = stripe_request_done,
                      .on_done_ctx = &ctx,
                      .inline_reads = store_reads_local(r.st),
                      .queue_max = (int)c->queue_max,
                      .queue_wait_ms = (int)c->queue_wait_ms,
                      .rate_per_s = c->rate_limit_per_s,
                      .rate_burst = c->rate_limit_burst,
                      .auth_fail_per_min = c->auth_fail_per_min,
                      .auth_fail_burst = c->auth_fail_burst,
                      .limits_fn = store_limits_shared(r.st) ? shared_limit : NULL,
                      .limits_ctx = r.st,
                      .per_ip_connections = (int)c->connections_per_ip,
                      .head_deadline_s = (int)c->head_deadline_s,
                      .hsts = strncmp(c->public_url, "https://", 8) == 0};
    if (http_server_start(&r.http, &hc, routes, n, &ctx) != K_OK) {
        fprintf(stderr, "kassa serve: cannot listen on %s: %s\n", c->listen,
                errno ? strerror(errno) : "address unusable");
        stop_all(&r);
        return 1;
    }
    char url[CONFIG_VALUE_MAX + 32];
    if (c->public_url[0] != '\0')
        snprintf(url, sizeof(url), "%s", c->public_url);
    else
        snprintf(url, sizeof(url), "http://%s:%u", host, http_server_port(r.http));
    gw_set_public_url(r.g, url);
    ctx.public_url = gw_cfg(r.g)->public_url;
    metric_add_collector(collect_store, r.st);
    ops_metrics_install(r.st);

    arena a;
    arena_init(&a, 0);
    gw_merchant_keys keys;
    if (c->sandbox) {
        if (!sandbox_merchant(r.g, c, &a, &keys)) {
            fprintf(stderr, "kassa serve: cannot create the sandbox merchant\n");
            arena_release(&a);
            stop_all(&r);
            return 1;
        }
        ctx.sandbox_secret_key = keys.secret_key;
    }
    if (gw_start_workers(r.g) != K_OK || rep_start(r.reports) != K_OK ||
        !backup_schedule_start(c->db, c->backup_dir, c->backup_interval_s, c->backup_keep)) {
        arena_release(&a);
        stop_all(&r);
        return 1;
    }
    printf("kassa ready {\"url\":\"%s\",\"sim_url\":\"%s\"}\n", url,
           gc.sim_url != NULL ? gc.sim_url : "");
    fflush(stdout);
    if (c->sandbox) {
        if (demo_start(&ctx) != K_OK)
            log_warn("the demo shop could not register its webhook endpoint");
        cli_sandbox_staff staff = {0};
        char sdir[CONFIG_VALUE_MAX];
        snprintf(sdir, sizeof(sdir), "%s", c->db);
        if (!cli_sandbox_admin(
                r.g, keys.id, arena_printf(&a, "%s/sandbox-staff.json", dirname(sdir)), &a, &staff))
            log_warn("the sandbox's back-office admin could not be created");
        print_sandbox(&ctx, &keys, gc.sim_url, &staff);
    }
    log_info("kassa %s listening on %s (db '%s')", KASSA_VERSION, url, c->db);
    service_wait(serve_reload, (void *)c);
    log_info("shutting down: finishing requests in flight");
    backup_schedule_stop();
    stop_all(&r);
    arena_release(&a);
    log_info("stopped");
    return 0;
}

/* Commands of src/cli/ that need only the database: --db and --config are
 * resolved here through the configuration table, the command parses the rest. */
static int cmd_with_db(int argc, char **argv, int (*fn)(int, char **, const char *))
{
    static const char *const allowed[] = {"db", "config", NULL};
    char *pick[8] = {argv[0]};
    int n = 1;
    for (int i = 1; i + 1 < argc && n + 2 <= (int)K_ARRAY_LEN(pick); i++)
        if (strcmp(argv[i], "--db") == 0 || strcmp(argv[i], "--config") == 0) {
            pick[n++] = argv[i];
            pick[n++] = argv[++i];
        }
    config c;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(n, pick, &c, &name, &help, allowed))
        return 2;
    return fn(argc, argv, c.db);
}

static int cmd_serve(int argc, char **argv)
{
    /* one option a line, so adding one is a one-line change */
    /* clang-format off */
    static const char *const allowed[] = {"listen",
                                          "db",
                                          "sim_listen",
                                          "sim_url",
                                          "config",
                                          "public_url",
                                          "sandbox",
                                          "rules_file",
                                          "log_level",
                                          "workers",
                                          "io_threads",
                                          "auth_warn_days",
                                          "attempt_ttl_s",
                                          "session_ttl_s",
                                          "klarna_rate_per_min",
                                          "test_clock",
                                          "dev_allow_loopback",
                                          "rate_limit_per_s",
                                          "rate_limit_burst",
                                          "auth_fail_per_min",
                                          "auth_fail_burst",
                                          "connections_per_ip",
                                          "head_deadline_s",
                                          "queue_max",
                                          "queue_wait_ms",
                                          "key_file",
                                          "backup_dir",
                                          "backup_interval_s",
                                          "backup_keep",
                                          "files_dir",
                                          "smtp_url",
                                          "smtp_from",
                                          NULL};
    /* clang-format on */
    config c;
    bool help = false;
    const char *name = NULL;
    if (!parse_flags(argc, argv, &c, &name, &help, allowed))
        return 2;
    if (help) {
        usage(stdout);
        config_help(stdout);
        return 0;
    }
    serve_args.argc = argc;
    serve_args.argv = argv;
    serve_args.allowed = allowed;
    return serve(&c);
}

/* kassa sim [--listen HOST:PORT]: the simulators alone (src/sim/). --listen
 * defaults to sim_listen's value, so `kassa sim` listens where `serve` would
 * have started them. */
static int cmd_sim(int argc, char **argv)
{
    static const char *const allowed[] = {"listen", "sim_listen", "config", "log_level", NULL};
    config c;
    bool help = false;
    const char *name = NULL;
    bool listen_given = false;
    for (int i = 1; i < argc; i++)
        listen_given |= strcmp(argv[i], "--listen") == 0;
    if (!parse_flags(argc, argv, &c, &name, &help, allowed))
        return 2;
    if (help) {
        printf("kassa sim [--listen HOST:PORT] [--log-level LEVEL]: the Klarna and Alipay+\n"
               "simulators alone (default 127.0.0.1:8081; port 0 picks a free one). Point Kassa\n"
               "at them with: kassa serve --sim-url http://HOST:PORT --sim-listen off\n");
        return 0;
    }
    const char *listen = listen_given ? c.listen : c.sim_listen;
    char host[256];
    uint16_t port;
    if (!parse_listen(listen, host, sizeof(host), &port)) {
        fprintf(stderr, "kassa sim: --listen must be HOST:PORT, not '%s'\n", listen);
        return 2;
    }
    log_set_level(parse_level(c.log_level));
    return sim_run(host, port);
}

int main(int argc, char **argv)
{
    /* Signals are taken by sigwait in the main thread: block them before any
     * thread starts so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP); /* serve: reload (cli/service.c) */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (crypto_init() != K_OK) {
        fprintf(stderr, "kassa: crypto library failed to start\n");
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("kassa %s\n", KASSA_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "sim") == 0)
        return cmd_sim(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "merchant") == 0)
        return cmd_merchant(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0)
        return cmd_with_db(argc - 1, argv + 1, cli_backup);
    if (strcmp(cmd, "restore") == 0)
        return cmd_with_db(argc - 1, argv + 1, cli_restore);
    if (strcmp(cmd, "openapi") == 0)
        return cmd_openapi(argc - 1, argv + 1);
    if (strcmp(cmd, "listen") == 0)
        return cli_listen(argc - 1, argv + 1);
    if (strcmp(cmd, "trigger") == 0)
        return cli_trigger(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cli_export(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0)
        return cli_report(argc - 2, argv + 2);
    if (strcmp(cmd, "user") == 0)
        return cli_user(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return cli_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "key") == 0)
        return cli_key(argc - 1, argv + 1);
    fprintf(stderr, "kassa: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
