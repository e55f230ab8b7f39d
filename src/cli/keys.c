/*
 * keys.c - `kassa key create|roll|revoke|list` (keys.h).
 */
#include "keys.h"

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/clock.h"
#include "../base/crypto.h"
#include "../gateway/keys.h"
#include "../gateway/staff.h"
#include "../store/store_staff.h"

static const char cli_key_help[] =
    "kassa key list [--merchant acct_...] [--db PATH] [--key_file PATH]\n"
    "kassa key create --name NAME [--merchant acct_...] [--db PATH]\n"
    "kassa key roll --id key_... [--overlap SECONDS] [--merchant acct_...] [--db PATH]\n"
    "kassa key revoke --id key_... [--merchant acct_...] [--db PATH]\n"
    "A merchant's secret API keys. create and roll print the new key once (JSON); roll keeps\n"
    "the old key working for --overlap seconds (default 86400, at most 604800; 0 = it stops\n"
    "now); revoke stops a key at once. Every key is a test key (sk_test_...). Each change is\n"
    "an audit row (by \"cli\"). --merchant is needed only when the database holds several.\n";

typedef struct {
    const char *db, *merchant, *name, *id, *overlap, *key_file;
} key_flags;

static bool key_parse(int argc, char **argv, key_flags *f, bool *help)
{
    const char *env_db = getenv("KASSA_DB");
    f->db = env_db != NULL && env_db[0] != '\0' ? env_db : "var/kassa.db";
    const char *env_kf = getenv("KASSA_KEY_FILE");
    f->key_file = env_kf != NULL && env_kf[0] != '\0' ? env_kf : NULL;
    static const char *const names[] = {"--db", "--merchant", "--name",
                                        "--id", "--overlap",  "--key_file"};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *help = true;
            continue;
        }
        const char **slots[] = {&f->db, &f->merchant, &f->name, &f->id, &f->overlap, &f->key_file};
        size_t k = 0;
        while (k < K_ARRAY_LEN(names) && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == K_ARRAY_LEN(names) || i + 1 >= argc) {
            fprintf(stderr, "kassa key: %s '%s' (see --help)\n",
                    k == K_ARRAY_LEN(names) ? "unknown option" : "missing value after", argv[i]);
            return false;
        }
        *slots[k] = argv[++i];
    }
    return true;
}

typedef struct {
    arena *a;
    const char *id;
} only_job;

static k_status only_fn(store_tx *tx, void *arg)
{
    only_job *j = arg;
    return store_merchant_only(tx, j->a, &j->id);
}

static void key_print(const gw_key *k)
{
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "id", k->id, "name", k->name, "mode", k->mode,
        "kind", k->kind, "last4", k->last4, "created", (json_int_t)(k->created_ms / 1000),
        "expires_at", (json_int_t)(k->expires_ms / 1000), "revoked_at",
        (json_int_t)(k->revoked_ms / 1000), "last_used", (json_int_t)(k->last_used_ms / 1000),
        "state", gw_key_state(k, clock_now_ms()));
    if (k->secret != NULL)
        json_object_set_new(o, "secret_key", json_string(k->secret));
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

static int key_run(gw *g, store *st, const char *verb, const key_flags *f, arena *a)
{
    const char *merchant = f->merchant;
    if (merchant == NULL) {
        only_job j = {.a = a};
        k_status ks = store_read(st, only_fn, &j);
        if (ks != K_OK) {
            fprintf(stderr, "kassa key: %s\n",
                    ks == K_ECONFLICT ? "--merchant: the database holds several merchants"
                                      : "no merchant in this database");
            return 2;
        }
        merchant = j.id;
    }
    if (strcmp(verb, "list") == 0) {
        gw_key *ks;
        size_t n;
        if (gw_key_list(g, merchant, a, &ks, &n) != K_OK)
            return 1;
        for (size_t i = 0; i < n; i++)
            key_print(&ks[i]);
        return 0;
    }
    gw_key k;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status ks;
    if (strcmp(verb, "create") == 0) {
        ks = gw_key_create(g, merchant, "test", f->name, NULL, a, &k, &err);
    } else if (f->id == NULL) {
        fprintf(stderr, "kassa key %s: --id is required\n", verb);
        return 2;
    } else if (strcmp(verb, "roll") == 0) {
        char *end = NULL;
        long long ov = f->overlap != NULL ? strtoll(f->overlap, &end, 10) : 86400;
        if (f->overlap != NULL && (end == f->overlap || *end != '\0'))
            ov = -1;
        ks = gw_key_roll(g, merchant, f->id, ov, NULL, a, &k, &err);
    } else {
        ks = gw_key_revoke(g, merchant, f->id, a, &k, &err);
    }
    char *action = arena_printf(a, "key.%s", verb);
    staff_audit_entry e = {.action = action,
                           .object_id = ks == K_OK ? k.id : f->id,
                           .outcome =
                               ks == K_OK ? "ok" : arena_printf(a, "refused: %s", err.message)};
    staff_audit(g, NULL, merchant, "cli", NULL, &e);
    if (ks != K_OK) {
        fprintf(stderr, "kassa key %s: %s%s%s%s\n", verb, err.param[0] ? "--" : "", err.param,
                err.param[0] ? ": " : "", err.message);
        return err.why == GW_WHY_STORAGE || err.why == GW_WHY_BUSY ? 1 : 2;
    }
    key_print(&k);
    return 0;
}

/* The server's key file (the keyed hashes need its pepper): key_file, or
 * kassa.key beside the SQLite database, or ~/.config/kassa/kassa.key with
 * PostgreSQL, as `kassa serve` finds it. */
static int key_file_load(const key_flags *f)
{
    char path[1200];
    const char *home = getenv("HOME");
    if (f->key_file != NULL) {
        snprintf(path, sizeof path, "%s", f->key_file);
    } else if (strstr(f->db, "://") == NULL) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", f->db);
        snprintf(path, sizeof path, "%s/kassa.key", dirname(dir));
    } else if (home != NULL && home[0] != '\0' && strlen(home) < 1000) {
        snprintf(path, sizeof path, "%s/.config/kassa/kassa.key", home);
    } else {
        fprintf(stderr, "kassa key: set --key_file (no HOME for the default key file)\n");
        return 1;
    }
    if (crypto_keyfile_load(path) != K_OK) {
        fprintf(stderr, "kassa: cannot use the key file '%s' (see the log above)\n", path);
        return 1;
    }
    return 0;
}

int cli_key(int argc, char **argv)
{
    static const char *const verbs[] = {"list", "create", "roll", "revoke"};
    bool known = false;
    for (size_t i = 0; argc >= 2 && i < K_ARRAY_LEN(verbs); i++)
        known |= strcmp(argv[1], verbs[i]) == 0;
    if (!known) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(cli_key_help, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    key_flags f = {0};
    bool help = false;
    if (!key_parse(argc - 2, argv + 2, &f, &help))
        return 2;
    if (help) {
        fputs(cli_key_help, stdout);
        return 0;
    }
    if (key_file_load(&f) != 0)
        return 1;
    store *st;
    if (store_open(&st, f.db) != K_OK) {
        fprintf(stderr, "kassa: cannot open the database '%s' (see the log above)\n", f.db);
        return 1;
    }
    gw_config gc = {.public_url = "http://127.0.0.1"};
    gw *g;
    if (gw_open(&g, st, &gc) != K_OK) {
        store_close(st);
        return 1;
    }
    arena a;
    arena_init(&a, 0);
    int rc = key_run(g, st, argv[1], &f, &a);
    arena_release(&a);
    gw_close(g);
    store_close(st);
    return rc;
}
