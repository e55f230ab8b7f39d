/*
 * cli_staff.c - the back office's commands: `kassa user create` (a staff
 * account: JSON with its id, the generated password and the TOTP otpauth://
 * URI, each shown once) and `kassa audit verify` (walks the audit log's hash
 * chain). main.c dispatches here; the work is the gateway's (gateway/staff.h).
 * Also the sandbox admin that `kassa serve --sandbox` prints in its banner.
 */
#include "staff.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/crypto.h"
#include "../gateway/staff.h"

typedef struct {
    const char *db, *email, *role, *merchant, *password, *key_file;
    bool help;
} cli_flags;

static bool cli_parse(int argc, char **argv, cli_flags *f, const char *const *allowed)
{
    const char *env_db = getenv("KASSA_DB");
    f->db = env_db != NULL && env_db[0] != '\0' ? env_db : "var/kassa.db";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            f->help = true;
            continue;
        }
        bool ok = false;
        for (size_t k = 0; allowed[k] != NULL; k++)
            ok |= strncmp(a, "--", 2) == 0 && strcmp(a + 2, allowed[k]) == 0;
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "kassa: %s '%s' (see --help)\n",
                    ok ? "missing value after" : "unknown option", a);
            return false;
        }
        const char *v = argv[++i];
        const char **slot = strcmp(a, "--db") == 0         ? &f->db
                            : strcmp(a, "--email") == 0    ? &f->email
                            : strcmp(a, "--role") == 0     ? &f->role
                            : strcmp(a, "--merchant") == 0 ? &f->merchant
                            : strcmp(a, "--key-file") == 0 ? &f->key_file
                                                           : &f->password;
        *slot = v;
    }
    return true;
}

int cli_key_load(const char *key_file, const char *db)
{
    char path[1100];
    const char *home = getenv("HOME");
    if (key_file != NULL && key_file[0] != '\0') {
        snprintf(path, sizeof(path), "%s", key_file);
    } else if (strstr(db, "://") == NULL) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s", db);
        snprintf(path, sizeof(path), "%s/kassa.key", dirname(dir));
    } else if (home != NULL && home[0] != '\0' && strlen(home) < 1024) {
        snprintf(path, sizeof(path), "%s/.config", home);
        mkdir(path, 0700); /* may exist */
        snprintf(path, sizeof(path), "%s/.config/kassa", home);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "kassa: cannot create '%s': %s\n", path, strerror(errno));
            return 1;
        }
        snprintf(path, sizeof(path), "%s/.config/kassa/kassa.key", home);
    } else {
        fprintf(stderr, "kassa: set key_file (no HOME for the default key file)\n");
        return 1;
    }
    if (crypto_keyfile_load(path) != K_OK) {
        fprintf(stderr, "kassa: cannot use the key file '%s' (see the log above)\n", path);
        return 1;
    }
    return 0;
}

static int cli_open(const char *db, const char *key_file, store **st, gw **g)
{
    if (strstr(db, "://") == NULL) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", db);
        char *d = dirname(dir);
        if (strcmp(d, ".") != 0 && mkdir(d, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "kassa: cannot create '%s': %s\n", d, strerror(errno));
            return 1;
        }
    }
    if (cli_key_load(key_file, db) != 0) /* the TOTP secrets are sealed with the server's key */
        return 1;
    if (store_open(st, db) != K_OK) {
        fprintf(stderr, "kassa: cannot open the database '%s' (see the log above)\n", db);
        return 1;
    }
    gw_config gc = {.public_url = "http://127.0.0.1"};
    if (gw_open(g, *st, &gc) != K_OK) {
        store_close(*st);
        return 1;
    }
    return 0;
}

static void cli_print_user(FILE *out, const char *email_typed, const char *role, const staff_new *u)
{
    char email[LIMIT_EMAIL_MAX + 1];
    snprintf(email, sizeof email, "%s", email_typed);
    for (char *p = email; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a'); /* as stored: addresses compare without case */
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", u->id, "email", email, "role", role,
                  "password", u->password, "totp_secret", u->totp_secret, "totp_uri", u->totp_uri);
    char *s = json_dumps(o, JSON_COMPACT);
    fprintf(out, "%s\n", s);
    free(s);
    json_decref(o);
}

static const char cli_user_help[] =
    "kassa user create --email EMAIL --role admin|operations|finance|developer|read_only\n"
    "                  [--merchant acct_...] [--db PATH] [--key-file PATH]\n"
    "Creates a back-office staff user and prints, as one JSON object, its id, a generated\n"
    "password and the TOTP secret (also as an otpauth:// URI for an authenticator app).\n"
    "Both are shown once. --merchant is needed only when the database holds several.\n"
    "The TOTP secret is stored sealed with the server's key file (--key-file, default\n"
    "kassa.key beside the SQLite database, ~/.config/kassa/kassa.key with PostgreSQL).\n";

int cli_user(int argc, char **argv)
{
    static const char *const allowed[] = {"db", "email", "role", "merchant", "key-file", NULL};
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(cli_user_help, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    cli_flags f = {0};
    if (!cli_parse(argc - 2, argv + 2, &f, allowed))
        return 2;
    if (f.help) {
        fputs(cli_user_help, stdout);
        return 0;
    }
    store *st;
    gw *g;
    if (cli_open(f.db, f.key_file, &st, &g) != 0)
        return 1;
    arena a;
    arena_init(&a, 0);
    staff_new u;
    gw_err err;
    int rc = 0;
    if (staff_user_create(g, f.merchant, f.email, f.role, NULL, &a, &u, &err) != K_OK) {
        fprintf(stderr, "kassa user create: %s%s%s\n", err.param[0] ? "--" : "", err.param,
                err.param[0] ? ": " : "");
        fprintf(stderr, "  %s\n", err.message);
        rc = err.why == GW_WHY_STORAGE || err.why == GW_WHY_BUSY ? 1 : 2;
    } else {
        cli_print_user(stdout, f.email, f.role, &u);
    }
    arena_release(&a);
    gw_close(g);
    store_close(st);
    return rc;
}

int cli_audit(int argc, char **argv)
{
    static const char *const allowed[] = {"db", "merchant", "key-file", NULL};
    static const char help[] =
        "kassa audit verify [--merchant acct_...] [--db PATH] [--key-file PATH]\n"
        "Walks the audit log's hash chain; exits 0 when every row is as "
        "written, 1 when a row was\nchanged or removed (the first one is "
        "named).\n";
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        bool want = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(help, want ? stdout : stderr);
        return want ? 0 : 2;
    }
    cli_flags f = {0};
    if (!cli_parse(argc - 2, argv + 2, &f, allowed))
        return 2;
    if (f.help) {
        fputs(help, stdout);
        return 0;
    }
    store *st;
    gw *g;
    if (cli_open(f.db, f.key_file, &st, &g) != 0)
        return 1;
    staff_verify v;
    k_status ks = staff_audit_verify(g, f.merchant, &v);
    int rc = 0;
    if (ks != K_OK) {
        fprintf(stderr, "kassa audit verify: the log could not be read: %s\n", k_status_str(ks));
        rc = 1;
    } else if (v.bad_seq != 0) {
        printf("{\"ok\":false,\"rows_checked\":%lld,\"bad_row\":%lld,\"why\":\"%s\"}\n",
               (long long)v.rows, (long long)v.bad_seq, v.why);
        rc = 1;
    } else {
        printf("{\"ok\":true,\"rows_checked\":%lld}\n", (long long)v.rows);
    }
    gw_close(g);
    store_close(st);
    return rc;
}

bool cli_sandbox_admin(gw *g, const char *merchant_id, const char *path, arena *a,
                       cli_sandbox_staff *out)
{
    json_t *saved = json_load_file(path, 0, NULL);
    if (saved != NULL) {
        const char *e = json_string_value(json_object_get(saved, "email"));
        const char *p = json_string_value(json_object_get(saved, "password"));
        const char *s = json_string_value(json_object_get(saved, "totp_secret"));
        const char *m = json_string_value(json_object_get(saved, "merchant_id"));
        bool same = e != NULL && p != NULL && s != NULL && m != NULL && strcmp(m, merchant_id) == 0;
        if (same) {
            out->email = arena_strdup(a, e);
            out->password = arena_strdup(a, p);
            out->totp_secret = arena_strdup(a, s);
        }
        json_decref(saved);
        if (same)
            return true;
    }
    staff_new u;
    gw_err err;
    const char *email = "admin@sandbox.kassa.test";
    if (staff_user_create(g, merchant_id, email, "admin", NULL, a, &u, &err) != K_OK)
        return false;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "merchant_id", merchant_id, "email", email,
                          "password", u.password, "totp_secret", u.totp_secret);
    FILE *fp = fopen(path, "w");
    if (fp != NULL) {
        fchmod(fileno(fp), 0600);
        json_dumpf(o, fp, JSON_COMPACT);
        fclose(fp);
    }
    json_decref(o);
    out->email = email;
    out->password = u.password;
    out->totp_secret = u.totp_secret;
    return fp != NULL;
}
