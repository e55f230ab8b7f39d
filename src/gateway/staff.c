/*
 * staff.c - staff accounts, sign-in, sessions, the audit chain and the back
 * office's reads (staff.h). Every change is one store_write closure; sign-in
 * failures are counted in the same closure that reads the user, so the
 * lock-out holds however many requests race.
 */
#include "staff.h"
#include "gw_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../base/buf.h"
#include "../base/clock.h"
#include "../base/crypto.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../base/totp.h"

/* ---- roles: one table ---- */

#define NO_LIMIT INT64_MAX

static const staff_role staff_role_table[] = {
    {"admin",
     STAFF_VIEW | STAFF_ACT | STAFF_REFUND | STAFF_AUDIT | STAFF_DEV | STAFF_USERS | STAFF_SECRETS |
         STAFF_SETTINGS | STAFF_REPORTS,
     100000},
    {"operations", STAFF_VIEW | STAFF_ACT | STAFF_REFUND | STAFF_SECRETS, 20000},
    {"finance", STAFF_VIEW | STAFF_REFUND | STAFF_AUDIT | STAFF_SECRETS | STAFF_REPORTS, 50000},
    {"developer", STAFF_VIEW | STAFF_DEV, 0},
    {"read_only", STAFF_VIEW, 0},
};

const staff_role *staff_role_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < K_ARRAY_LEN(staff_role_table); i++)
        if (strcmp(staff_role_table[i].name, name) == 0)
            return &staff_role_table[i];
    return NULL;
}

size_t staff_roles(const staff_role **out)
{
    *out = staff_role_table;
    return K_ARRAY_LEN(staff_role_table);
}

/* ---- small helpers ---- */

static void st_err(gw_err *err, gw_why why, const char *param, const char *msg)
{
    gw_err_set(err, why, param, "%s", msg);
}

static void st_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* n random characters from an alphabet without look-alikes (no 0/O, 1/l/I). */
static k_status st_random_text(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t raw[64];
    K_ASSERT(n < sizeof raw);
    if (crypto_random(raw, n) != K_OK)
        return K_ERR;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)]; /* 56 symbols: bias < 1/4 bit */
    out[n] = '\0';
    return K_OK;
}

static bool st_email_ok(const char *e)
{
    if (e == NULL || strlen(e) < 3 || strlen(e) > LIMIT_EMAIL_MAX)
        return false;
    const char *at = strchr(e, '@');
    if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return false;
    for (const char *p = e; *p != '\0'; p++)
        if (*p <= ' ' || *p == '<' || *p == '>' || *p == '"')
            return false;
    return true;
}

static char *st_lower(arena *a, const char *s)
{
    char *c = arena_strdup(a, s);
    for (char *p = c; p != NULL && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return c;
}

/* ---- accounts ---- */

typedef struct {
    store_staff u;
    const char *merchant_id; /* NULL = the only one */
    const staff_session *by; /* the admin creating it (audited with it), NULL = the CLI */
    const char *reason;
    arena *a;
} create_job;

static k_status audit_fn(store_tx *tx, void *arg);

static k_status create_fn(store_tx *tx, void *arg)
{
    create_job *j = arg;
    if (j->merchant_id == NULL) {
        k_status ks = store_merchant_only(tx, j->a, &j->merchant_id);
        if (ks != K_OK)
            return ks == K_ECONFLICT ? K_EINVAL : ks;
    } else {
        store_merchant m;
        k_status ks = store_merchant_get(tx, j->merchant_id, j->a, &m);
        if (ks != K_OK)
            return ks;
    }
    j->u.merchant_id = j->merchant_id;
    k_status ks = store_staff_insert(tx, &j->u);
    if (ks != K_OK || j->by == NULL)
        return ks;
    char *after = arena_printf(j->a, "{\"email\":\"%s\",\"role\":\"%s\"}", j->u.email,
                               j->u.role); /* e-mail checked: no quote or control character */
    staff_audit_entry e = {
        .action = "staff.create", .object_id = j->u.id, .after_json = after, .reason = j->reason};
    return staff_audit_in_tx(tx, j->by, &e);
}

/* Mints the password (unless given) and the TOTP secret of a new user. */
static k_status create_secrets(const char *password, arena *a, staff_new *out, char *pw_hash,
                               char *secret_b32)
{
    if (password == NULL) {
        char *gen = arena_alloc(a, 24);
        if (gen == NULL || st_random_text(gen, 20) != K_OK)
            return K_ERR;
        password = gen;
    }
    uint8_t secret[TOTP_SECRET_LEN];
    if (crypto_random(secret, sizeof secret) != K_OK)
        return K_ERR;
    totp_b32_encode(secret, sizeof secret, secret_b32, TOTP_SECRET_B32);
    if (crypto_password_hash(password, pw_hash) != K_OK)
        return K_ERR;
    out->password = password;
    out->totp_secret = arena_strdup(a, secret_b32);
    return K_OK;
}

static k_status user_create(gw *g, const staff_session *by, const char *reason,
                            const char *merchant_id, const char *email, const char *role,
                            const char *password, arena *a, staff_new *out, gw_err *err);

k_status staff_user_create(gw *g, const char *merchant_id, const char *email, const char *role,
                           const char *password, arena *a, staff_new *out, gw_err *err)
{
    return user_create(g, NULL, NULL, merchant_id, email, role, password, a, out, err);
}

k_status staff_user_add(gw *g, const staff_session *by, const char *email, const char *role,
                        const char *reason, arena *a, staff_new *out, gw_err *err)
{
    K_ASSERT(by != NULL);
    if (!staff_can(by, STAFF_USERS)) {
        st_err(err, GW_WHY_FORBIDDEN, "role", "Only an admin may manage staff accounts.");
        return K_EINVAL;
    }
    return user_create(g, by, reason, by->merchant_id, email, role, NULL, a, out, err);
}

static k_status user_create(gw *g, const staff_session *by, const char *reason,
                            const char *merchant_id, const char *email, const char *role,
                            const char *password, arena *a, staff_new *out, gw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!st_email_ok(email)) {
        st_err(err, GW_WHY_PARAM_INVALID, "email",
               "Give the person's e-mail address (name@example.com).");
        return K_EINVAL;
    }
    if (staff_role_find(role) == NULL) {
        st_err(err, GW_WHY_PARAM_INVALID, "role",
               "The role must be one of admin, operations, finance, developer, read_only.");
        return K_EINVAL;
    }
    if (password != NULL &&
        (strlen(password) < LIMIT_BO_PASSWORD_MIN || strlen(password) > LIMIT_BO_PASSWORD_MAX)) {
        st_err(err, GW_WHY_PARAM_INVALID, "password", "A password needs 12 to 128 characters.");
        return K_EINVAL;
    }
    char pw_hash[128], secret_b32[TOTP_SECRET_B32], id[LIMIT_ID_MAX];
    if (create_secrets(password, a, out, pw_hash, secret_b32) != K_OK) {
        st_err(err, GW_WHY_STORAGE, NULL, "Could not mint the account's secrets.");
        return K_ERR;
    }
    id_new(id, "stf_");
    char *lower = st_lower(a, email);
    create_job j = {.u = {.id = id,
                          .email = lower,
                          .role = role,
                          .pw_hash = pw_hash,
                          .totp_secret = secret_b32,
                          .recovery = "[]",
                          .created_ms = clock_now_ms()},
                    .merchant_id = merchant_id,
                    .by = by,
                    .reason = reason,
                    .a = a};
    k_status ks = store_write(gw_store(g), create_fn, &j);
    if (ks == K_ECONFLICT) {
        st_err(err, GW_WHY_ALREADY_EXISTS, "email",
               "A staff user with this e-mail address exists already.");
    } else if (ks == K_EINVAL) {
        st_err(err, GW_WHY_PARAM_INVALID, "merchant",
               "There are several merchants: name one with --merchant.");
    } else if (ks == K_ENOTFOUND) {
        st_err(err, GW_WHY_NOT_FOUND, "merchant",
               "No such merchant (create one with kassa merchant create).");
    } else if (ks != K_OK) {
        st_err(err, GW_WHY_STORAGE, NULL, "The user could not be stored.");
    }
    if (ks != K_OK)
        return ks;
    out->id = arena_strdup(a, id);
    out->totp_uri = arena_printf(
        a, "otpauth://totp/Kassa:%s?secret=%s&issuer=Kassa&digits=6&period=30", lower, secret_b32);
    return K_OK;
}

/* ---- the audit chain ---- */

static void st_hash_field(buf *b, const char *v)
{
    /* length-prefixed, so no two different rows hash the same bytes */
    if (v == NULL)
        buf_append_str(b, "-1:");
    else
        buf_printf(b, "%zu:%s", strlen(v), v);
    buf_append_str(b, "|");
}

void staff_audit_hash(const store_audit *r, char out[65])
{
    buf b;
    buf_init(&b, 0);
    st_hash_field(&b, r->prev_hash);
    st_hash_field(&b, r->merchant_id);
    buf_printf(&b, "%lld|", (long long)r->at_ms);
    st_hash_field(&b, r->staff_id);
    st_hash_field(&b, r->staff_email);
    st_hash_field(&b, r->addr);
    st_hash_field(&b, r->action);
    st_hash_field(&b, r->object_id);
    st_hash_field(&b, r->before_json);
    st_hash_field(&b, r->after_json);
    st_hash_field(&b, r->reason);
    st_hash_field(&b, r->outcome);
    K_ASSERT(b.data != NULL);
    crypto_sha256_hex(b.data, b.len, out);
    buf_free(&b);
}

static k_status audit_fn(store_tx *tx, void *arg)
{
    store_audit *r = arg;
    char prev[65], hash[65];
    k_status ks = store_audit_last_hash(tx, r->merchant_id, prev);
    if (ks != K_OK)
        return ks;
    r->prev_hash = prev;
    staff_audit_hash(r, hash);
    r->hash = hash;
    ks = store_audit_append(tx, r);
    r->prev_hash = r->hash = NULL; /* they pointed at this frame */
    return ks;
}

k_status staff_audit(gw *g, const staff_session *s, const char *merchant_id, const char *email,
                     const char *addr, const staff_audit_entry *e)
{
    K_ASSERT(e->action != NULL);
    K_ASSERT(s != NULL || merchant_id != NULL);
    store_audit r = {.merchant_id = s != NULL ? s->merchant_id : merchant_id,
                     .at_ms = clock_now_ms(),
                     .staff_id = s != NULL ? s->id : NULL,
                     .staff_email = s != NULL ? s->email : email,
                     .addr = addr,
                     .action = e->action,
                     .object_id = e->object_id,
                     .before_json = e->before_json,
                     .after_json = e->after_json,
                     .reason = e->reason,
                     .outcome = e->outcome != NULL ? e->outcome : "ok"};
    k_status ks = store_write(gw_store(g), audit_fn, &r);
    if (ks == K_ECONFLICT) /* another node appended beside us: chain onto its row */
        ks = store_write(gw_store(g), audit_fn, &r);
    if (ks != K_OK)
        log_error("audit: the row for '%s' could not be written: %s", e->action, k_status_str(ks));
    return ks;
}

/* gw_idem.in_tx: the audit row of a staff action, appended in the action's own
 * transaction. The chain's previous hash is read inside it, so the row follows
 * whatever committed before; a conflict with a row another node appended at
 * the same moment aborts the action's transaction (it is then refused, and
 * the refusal is audited on its own). */
static k_status st_audit_in_tx(gw_idem *self, store_tx *tx, const void *record, arena *a)
{
    staff_audit_hook *h = self->in_tx_ctx;
    K_ASSERT(h != NULL && h->s != NULL && h->e.action != NULL);
    const char *after = h->after_of != NULL ? h->after_of(h->after_ctx, record, a) : NULL;
    store_audit r = {.merchant_id = h->s->merchant_id,
                     .at_ms = clock_now_ms(),
                     .staff_id = h->s->id,
                     .staff_email = h->s->email,
                     .addr = h->s->addr,
                     .action = h->e.action,
                     .object_id = h->e.object_id,
                     .before_json = h->e.before_json,
                     .after_json = after != NULL ? after : h->e.after_json,
                     .reason = h->e.reason,
                     .outcome = h->e.outcome != NULL ? h->e.outcome : "ok"};
    k_status ks = audit_fn(tx, &r);
    if (ks == K_OK)
        h->written = true;
    return ks;
}

void staff_audit_attach(staff_audit_hook *h, gw_idem *idem)
{
    K_ASSERT(h != NULL && idem != NULL);
    h->written = false;
    idem->in_tx = st_audit_in_tx;
    idem->in_tx_ctx = h;
}

k_status staff_audit_in_tx(store_tx *tx, const staff_session *s, const staff_audit_entry *e)
{
    K_ASSERT(s != NULL && e->action != NULL);
    store_audit r = {.merchant_id = s->merchant_id,
                     .at_ms = clock_now_ms(),
                     .staff_id = s->id,
                     .staff_email = s->email,
                     .addr = s->addr,
                     .action = e->action,
                     .object_id = e->object_id,
                     .before_json = e->before_json,
                     .after_json = e->after_json,
                     .reason = e->reason,
                     .outcome = e->outcome != NULL ? e->outcome : "ok"};
    return audit_fn(tx, &r);
}

typedef struct {
    const char *merchant_id;
    staff_verify *out;
    arena *a;
} verify_job;

/* The last hash seen per merchant while walking: a few merchants in practice. */
typedef struct {
    char merchant[LIMIT_ID_MAX];
    char hash[65];
} verify_tip;

static bool verify_row(const store_audit *r, verify_tip *tips, size_t *ntips, staff_verify *out)
{
    size_t i = 0;
    while (i < *ntips && strcmp(tips[i].merchant, r->merchant_id) != 0)
        i++;
    if (i == *ntips) {
        if (*ntips == 64) {
            snprintf(out->why, sizeof out->why, "more than 64 merchants: verify one at a time");
            return false;
        }
        snprintf(tips[i].merchant, sizeof tips[i].merchant, "%s", r->merchant_id);
        snprintf(tips[i].hash, sizeof tips[i].hash, "%s", STORE_AUDIT_GENESIS);
        (*ntips)++;
    }
    if (strcmp(r->prev_hash, tips[i].hash) != 0) {
        snprintf(out->why, sizeof out->why,
                 "row %lld does not follow the row before it (a row was removed or edited)",
                 (long long)r->seq);
        return false;
    }
    char want[65];
    staff_audit_hash(r, want);
    if (strcmp(want, r->hash) != 0) {
        snprintf(out->why, sizeof out->why, "row %lld was changed after it was written",
                 (long long)r->seq);
        return false;
    }
    snprintf(tips[i].hash, sizeof tips[i].hash, "%s", r->hash);
    return true;
}

static k_status verify_fn(store_tx *tx, void *arg)
{
    verify_job *j = arg;
    static _Thread_local verify_tip tips[64];
    size_t ntips = 0;
    int64_t after = 0;
    for (;;) {
        store_audit *rows;
        size_t n;
        k_status ks = store_audit_scan(tx, j->merchant_id, after, LIMIT_BO_AUDIT_VERIFY_BATCH, j->a,
                                       &rows, &n);
        if (ks != K_OK)
            return ks;
        for (size_t i = 0; i < n; i++) {
            if (!verify_row(&rows[i], tips, &ntips, j->out)) {
                j->out->bad_seq = rows[i].seq;
                return K_OK;
            }
            j->out->rows++;
            after = rows[i].seq;
        }
        arena_release(j->a);
        if (n < LIMIT_BO_AUDIT_VERIFY_BATCH)
            return K_OK;
    }
}

k_status staff_audit_verify(gw *g, const char *merchant_id, staff_verify *out)
{
    memset(out, 0, sizeof *out);
    arena a;
    arena_init(&a, 0);
    verify_job j = {merchant_id, out, &a};
    k_status ks = store_read(gw_store(g), verify_fn, &j);
    arena_release(&a);
    return ks;
}

typedef struct {
    const char *merchant_id;
    const store_audit_q *q;
    arena *a;
    store_audit **out;
    size_t *n;
    bool *has_more;
} audit_list_job;

static k_status audit_list_fn(store_tx *tx, void *arg)
{
    audit_list_job *j = arg;
    return store_audit_list(tx, j->merchant_id, j->q, j->a, j->out, j->n, j->has_more);
}

k_status staff_audit_list(gw *g, const char *merchant_id, const store_audit_q *q, arena *a,
                          store_audit **out, size_t *n, bool *has_more)
{
    audit_list_job j = {merchant_id, q, a, out, n, has_more};
    return store_read(gw_store(g), audit_list_fn, &j);
}

/* ---- sessions ---- */

void staff_csrf_token(const char *token, char out[65])
{
    K_ASSERT(token != NULL);
    static const char label[] = "kassa-csrf";
    crypto_hmac_sha256_hex(token, strlen(token), label, sizeof label - 1, out);
}

bool staff_csrf_ok(const char *token, const char *csrf)
{
    if (token == NULL || csrf == NULL || strlen(csrf) != 64)
        return false;
    char want[65];
    staff_csrf_token(token, want);
    return crypto_eq(want, csrf, 64);
}

static void st_token_hash(const char *token, char out[65])
{
    crypto_sha256_hex(token, strlen(token), out);
}

static bool st_token_ok(const char *token)
{
    if (token == NULL || strlen(token) != 64)
        return false;
    for (const char *p = token; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* ---- sign-in ---- */

typedef enum { SI_OK, SI_BAD, SI_LOCKED, SI_UNKNOWN, SI_DISABLED } si_result;

typedef struct {
    const char *email, *password, *addr;
    char token_hash[65];
    si_result result;
    store_staff u;
    arena *a;
} pw_job;

/* Counts a failure; locks the account at LIMIT_BO_FAILS_BEFORE_LOCK. */
static void st_fail(store_staff *u, int64_t now)
{
    u->failed++;
    if (u->failed >= LIMIT_BO_FAILS_BEFORE_LOCK) {
        u->locked_until_ms = now + LIMIT_BO_LOCK_MS;
        u->failed = 0;
    }
}

static k_status pw_fn(store_tx *tx, void *arg)
{
    pw_job *j = arg;
    k_status ks = store_staff_by_email(tx, j->email, j->a, &j->u);
    if (ks == K_ENOTFOUND) {
        j->result = SI_UNKNOWN;
        return K_OK;
    }
    if (ks != K_OK)
        return ks;
    int64_t now = clock_now_ms();
    if (j->u.locked_until_ms > now) {
        j->result = SI_LOCKED;
        return K_OK;
    }
    if (j->u.disabled) { /* answered as a wrong password: nothing tells the account exists */
        j->result = SI_DISABLED;
        return K_OK;
    }
    if (!crypto_password_verify(j->u.pw_hash, j->password)) {
        j->result = SI_BAD;
        st_fail(&j->u, now);
        return store_staff_update_auth(tx, &j->u);
    }
    j->result = SI_OK;
    store_staff_session s = {.token_hash = j->token_hash,
                             .merchant_id = j->u.merchant_id,
                             .user_id = j->u.id,
                             .stage = "password",
                             .created_ms = now,
                             .last_ms = now,
                             .addr = j->addr};
    return store_session_insert(tx, &s);
}

static void signin_refused(gw *g, const pw_job *j, const char *why)
{
    if (j->result != SI_UNKNOWN) {
        staff_audit_entry e = {.action = "signin", .object_id = j->u.id, .outcome = why};
        staff_audit(g, NULL, j->u.merchant_id, j->u.email, j->addr, &e);
    } else {
        log_warn("backoffice: sign-in for an unknown e-mail from %s", j->addr);
    }
    st_sleep_ms(LIMIT_BO_FAIL_DELAY_MS);
}

k_status staff_signin_password(gw *g, const char *email, const char *password, const char *addr,
                               arena *a, const char **token, gw_err *err)
{
    if (email == NULL || email[0] == '\0') {
        st_err(err, GW_WHY_PARAM_INVALID, "email", "Enter your e-mail address.");
        return K_EINVAL;
    }
    if (password == NULL || password[0] == '\0' || strlen(password) > LIMIT_BO_PASSWORD_MAX) {
        st_err(err, GW_WHY_PARAM_INVALID, "password", "Enter your password.");
        return K_EINVAL;
    }
    uint8_t raw[32];
    char *tok = arena_alloc(a, 65);
    if (tok == NULL || crypto_random(raw, sizeof raw) != K_OK)
        return K_ERR;
    crypto_hex(raw, sizeof raw, tok);
    pw_job j = {.email = st_lower(a, email), .password = password, .addr = addr, .a = a};
    st_token_hash(tok, j.token_hash);
    k_status ks = store_write(gw_store(g), pw_fn, &j);
    if (ks != K_OK) {
        st_err(err, GW_WHY_BUSY, NULL,
               "Signing in is not possible just now; try again in a moment.");
        return ks;
    }
    if (j.result == SI_LOCKED) {
        signin_refused(g, &j, "refused: locked");
        st_err(err, GW_WHY_UNAUTHENTICATED, "email",
               "Too many failed attempts: this account is locked for 15 minutes.");
        return K_ECONFLICT;
    }
    if (j.result != SI_OK) {
        signin_refused(g, &j,
                       j.result == SI_DISABLED ? "refused: disabled" : "refused: wrong password");
        st_err(err, GW_WHY_UNAUTHENTICATED, "password",
               "The e-mail address or the password is not right.");
        return K_ECONFLICT;
    }
    *token = tok;
    return K_OK;
}

typedef struct {
    const char *code, *addr;
    char token_hash[65];
    char new_token_hash[65]; /* the signed-in session's: the pending one is replaced */
    si_result result;
    store_staff u;
    store_staff_session s;
    const char **recovery; /* new codes to show */
    bool used_recovery;
    arena *a;
} code_job;

/* A recovery code typed: removes it from the unused list when it is there. */
static bool st_use_recovery(code_job *j)
{
    json_t *list = json_loads(j->u.recovery != NULL ? j->u.recovery : "[]", 0, NULL);
    char h[65];
    crypto_sha256_hex(j->code, strlen(j->code), h);
    size_t i;
    json_t *v;
    bool hit = false;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (!hit && s != NULL && strlen(s) == 64 && crypto_eq(s, h, 64)) {
            json_array_remove(list, i);
            hit = true;
            break;
        }
    }
    if (hit) {
        char *text = json_dumps(list, JSON_COMPACT);
        j->u.recovery = arena_strdup(j->a, text != NULL ? text : "[]");
        free(text);
    }
    json_decref(list);
    return hit;
}

/* The codes shown once after the first sign-in; their hashes replace the list. */
static k_status st_mint_recovery(code_job *j)
{
    j->recovery = arena_alloc(j->a, (LIMIT_BO_RECOVERY_CODES + 1) * sizeof(char *));
    json_t *list = json_array();
    if (j->recovery == NULL || list == NULL)
        return K_ENOMEM;
    for (int i = 0; i < LIMIT_BO_RECOVERY_CODES; i++) {
        char *c = arena_alloc(j->a, 16), h[65];
        if (c == NULL || st_random_text(c, 11) != K_OK) {
            json_decref(list);
            return K_ERR;
        }
        c[5] = '-';
        crypto_sha256_hex(c, strlen(c), h);
        json_array_append_new(list, json_string(h));
        j->recovery[i] = c;
    }
    char *text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    j->u.recovery = arena_strdup(j->a, text != NULL ? text : "[]");
    free(text);
    j->u.recovery_shown = true;
    return K_OK;
}

static bool st_code_ok(code_job *j, int64_t now)
{
    uint8_t key[64];
    long klen = totp_b32_decode(j->u.totp_secret, key, sizeof key);
    int64_t step = 0;
    if (klen > 0 && totp_check(key, (size_t)klen, j->code, now / 1000, LIMIT_BO_TOTP_WINDOW,
                               j->u.totp_last_step, &step)) {
        j->u.totp_last_step = step;
        return true;
    }
    j->used_recovery = strlen(j->code) == 11 && st_use_recovery(j);
    return j->used_recovery;
}

static k_status code_fn(store_tx *tx, void *arg)
{
    code_job *j = arg;
    int64_t now = clock_now_ms();
    k_status ks = store_session_get(tx, j->token_hash, j->a, &j->s);
    if (ks == K_ENOTFOUND || (ks == K_OK && (strcmp(j->s.stage, "password") != 0 ||
                                             now - j->s.created_ms > LIMIT_BO_PENDING_MS))) {
        j->result = SI_UNKNOWN;
        return K_OK;
    }
    if (ks == K_OK)
        ks = store_staff_get(tx, j->s.merchant_id, j->s.user_id, j->a, &j->u);
    if (ks != K_OK)
        return ks;
    if (j->u.locked_until_ms > now) {
        j->result = SI_LOCKED;
        return store_session_delete(tx, j->token_hash);
    }
    if (!st_code_ok(j, now)) {
        j->result = SI_BAD;
        st_fail(&j->u, now);
        return store_staff_update_auth(tx, &j->u);
    }
    j->result = SI_OK;
    j->u.failed = 0;
    if (!j->u.recovery_shown && (ks = st_mint_recovery(j)) != K_OK)
        return ks;
    ks = store_staff_update_auth(tx, &j->u);
    if (ks != K_OK)
        return ks;
    /* A new token for the signed-in session (no session fixation): the password step's
     * token, which may have been seen or set by someone else, stops working here. */
    if ((ks = store_session_delete(tx, j->token_hash)) != K_OK)
        return ks;
    store_staff_session full = {.token_hash = j->new_token_hash,
                                .merchant_id = j->u.merchant_id,
                                .user_id = j->u.id,
                                .stage = "full",
                                .created_ms = now,
                                .last_ms = now,
                                .addr = j->addr};
    return store_session_insert(tx, &full);
}

static void st_fill_session(staff_session *out, const code_job *j, const char *token,
                            const char *addr, arena *a)
{
    *out = (staff_session){.id = j->u.id,
                           .merchant_id = j->u.merchant_id,
                           .email = j->u.email,
                           .role = staff_role_find(j->u.role),
                           .token_hash = arena_strdup(a, j->new_token_hash),
                           .token = token,
                           .addr = addr};
    if (out->role != NULL)
        out->refund_reauth_above =
            j->u.refund_limit >= 0 ? j->u.refund_limit : out->role->refund_reauth_above;
    staff_csrf_token(token, out->csrf);
}

k_status staff_signin_code(gw *g, const char *token, const char *code, const char *addr, arena *a,
                           staff_session *out, const char *const **recovery, gw_err *err)
{
    *recovery = NULL;
    if (!st_token_ok(token)) {
        st_err(err, GW_WHY_UNAUTHENTICATED, "code",
               "Your sign-in has expired: start again with your password.");
        return K_ENOTFOUND;
    }
    if (code == NULL || code[0] == '\0' || strlen(code) > 16) {
        st_err(err, GW_WHY_PARAM_INVALID, "code",
               "Enter the 6-digit code from your authenticator app.");
        return K_EINVAL;
    }
    uint8_t raw[32];
    char *fresh = arena_alloc(a, 65);
    if (fresh == NULL || crypto_random(raw, sizeof raw) != K_OK)
        return K_ERR;
    crypto_hex(raw, sizeof raw, fresh);
    code_job j = {.code = code, .addr = addr, .a = a};
    st_token_hash(token, j.token_hash);
    st_token_hash(fresh, j.new_token_hash);
    k_status ks = store_write(gw_store(g), code_fn, &j);
    if (ks != K_OK) {
        st_err(err, GW_WHY_BUSY, NULL,
               "Signing in is not possible just now; try again in a moment.");
        return ks;
    }
    if (j.result == SI_UNKNOWN) {
        st_err(err, GW_WHY_UNAUTHENTICATED, "code",
               "Your sign-in has expired: start again with your password.");
        return K_ENOTFOUND;
    }
    if (j.result != SI_OK) {
        bool locked = j.result == SI_LOCKED;
        staff_audit_entry e = {.action = "signin",
                               .object_id = j.u.id,
                               .outcome = locked ? "refused: locked" : "refused: wrong code"};
        staff_audit(g, NULL, j.u.merchant_id, j.u.email, addr, &e);
        st_sleep_ms(LIMIT_BO_FAIL_DELAY_MS);
        st_err(err, GW_WHY_UNAUTHENTICATED, "code",
               locked ? "Too many failed attempts: this account is locked for 15 minutes."
                      : "That code is not right (or was used already). Try the next one.");
        return K_ECONFLICT;
    }
    st_fill_session(out, &j, fresh, addr, a);
    staff_audit_entry e = {.action = "signin",
                           .object_id = j.u.id,
                           .outcome = j.used_recovery ? "ok (recovery code)" : "ok"};
    staff_audit(g, out, NULL, NULL, addr, &e);
    if (j.recovery != NULL)
        *recovery = j.recovery;
    return K_OK;
}

typedef struct {
    char token_hash[65];
    store_staff_session s;
    store_staff u;
    bool valid;
    bool touch;
    arena *a;
} check_job;

static k_status check_read_fn(store_tx *tx, void *arg)
{
    check_job *j = arg;
    k_status ks = store_session_get(tx, j->token_hash, j->a, &j->s);
    if (ks == K_ENOTFOUND)
        return K_OK;
    if (ks == K_OK)
        ks = store_staff_get(tx, j->s.merchant_id, j->s.user_id, j->a, &j->u);
    if (ks != K_OK)
        return ks == K_ENOTFOUND ? K_OK : ks;
    int64_t now = clock_now_ms();
    j->valid = strcmp(j->s.stage, "full") == 0 && !j->u.disabled &&
               now - j->s.last_ms <= LIMIT_BO_SESSION_IDLE_MS &&
               now - j->s.created_ms <= LIMIT_BO_SESSION_ABSOLUTE_MS;
    j->touch = j->valid && now - j->s.last_ms > LIMIT_BO_SESSION_TOUCH_MS;
    return K_OK;
}

static k_status check_touch_fn(store_tx *tx, void *arg)
{
    check_job *j = arg;
    return store_session_touch(tx, j->token_hash, "full", clock_now_ms());
}

k_status staff_session_check(gw *g, const char *token, const char *addr, arena *a,
                             staff_session *out)
{
    if (!st_token_ok(token))
        return K_ENOTFOUND;
    check_job j = {.a = a};
    st_token_hash(token, j.token_hash);
    k_status ks = store_read(gw_store(g), check_read_fn, &j);
    if (ks != K_OK)
        return ks;
    if (!j.valid)
        return K_ENOTFOUND;
    if (j.touch && store_write(gw_store(g), check_touch_fn, &j) != K_OK)
        log_warn("backoffice: the session's last use could not be recorded");
    *out = (staff_session){.id = j.u.id,
                           .merchant_id = j.u.merchant_id,
                           .email = j.u.email,
                           .role = staff_role_find(j.u.role),
                           .token_hash = arena_strdup(a, j.token_hash),
                           .addr = addr};
    staff_csrf_token(token, out->csrf);
    if (out->role == NULL)
        return K_ENOTFOUND;
    out->refund_reauth_above =
        j.u.refund_limit >= 0 ? j.u.refund_limit : out->role->refund_reauth_above;
    return K_OK;
}

static k_status signout_fn(store_tx *tx, void *arg)
{
    return store_session_delete(tx, arg);
}

k_status staff_signout(gw *g, const staff_session *s)
{
    staff_audit_entry e = {.action = "signout", .object_id = s->id};
    staff_audit(g, s, NULL, NULL, s->addr, &e);
    return store_write(gw_store(g), signout_fn, (void *)s->token_hash);
}

typedef struct {
    const staff_session *s;
    const char *secret;
    bool ok;
    store_staff u;
    arena *a;
} reauth_job;

static k_status reauth_fn(store_tx *tx, void *arg)
{
    reauth_job *j = arg;
    k_status ks = store_staff_get(tx, j->s->merchant_id, j->s->id, j->a, &j->u);
    if (ks != K_OK)
        return ks;
    int64_t now = clock_now_ms();
    if (j->u.locked_until_ms > now)
        return K_OK;
    uint8_t key[64];
    long klen = totp_b32_decode(j->u.totp_secret, key, sizeof key);
    int64_t step = 0;
    if (klen > 0 && totp_check(key, (size_t)klen, j->secret, now / 1000, LIMIT_BO_TOTP_WINDOW,
                               j->u.totp_last_step, &step)) {
        j->ok = true;
        j->u.totp_last_step = step;
    } else {
        j->ok = crypto_password_verify(j->u.pw_hash, j->secret);
    }
    if (j->ok)
        j->u.failed = 0;
    else
        st_fail(&j->u, now);
    return store_staff_update_auth(tx, &j->u);
}

bool staff_reauth(gw *g, const staff_session *s, const char *secret, arena *a)
{
    if (secret == NULL || secret[0] == '\0' || strlen(secret) > LIMIT_BO_PASSWORD_MAX)
        return false;
    reauth_job j = {.s = s, .secret = secret, .a = a};
    if (store_write(gw_store(g), reauth_fn, &j) != K_OK)
        return false;
    if (!j.ok)
        st_sleep_ms(LIMIT_BO_FAIL_DELAY_MS);
    return j.ok;
}

/* ---- the staff page: an admin manages the merchant's accounts ---- */

typedef struct {
    const staff_session *by;
    const char *merchant_id;
    arena *a;
    store_staff **list;
    size_t *n;
} list_job;

static k_status list_fn(store_tx *tx, void *arg)
{
    list_job *j = arg;
    return store_staff_list(tx, j->merchant_id, LIMIT_BO_STAFF_MAX, j->a, j->list, j->n);
}

k_status staff_user_list(gw *g, const staff_session *by, arena *a, store_staff **out, size_t *n)
{
    *n = 0;
    if (!staff_can(by, STAFF_USERS))
        return K_EINVAL;
    list_job j = {.by = by, .merchant_id = by->merchant_id, .a = a, .list = out, .n = n};
    return store_read(gw_store(g), list_fn, &j);
}

typedef struct {
    const staff_session *by;
    const char *user_id;
    const staff_change *c;
    const char *new_secret; /* reset 2FA: the new base32 secret */
    store_staff u;
    const char *refusal; /* set when the rules refuse (nothing written) */
    const char *refused_param;
    arena *a;
} change_job;

static char *user_state_json(arena *a, const store_staff *u)
{
    return arena_printf(a, "{\"role\":\"%s\",\"refund_limit\":%lld,\"disabled\":%s}", u->role,
                        (long long)u->refund_limit, u->disabled ? "true" : "false");
}

static k_status change_fn(store_tx *tx, void *arg)
{
    change_job *j = arg;
    k_status ks = store_staff_get(tx, j->by->merchant_id, j->user_id, j->a, &j->u);
    if (ks != K_OK)
        return ks;
    const char *before = user_state_json(j->a, &j->u);
    store_staff next = j->u;
    const staff_change *c = j->c;
    if (c != NULL && c->role != NULL)
        next.role = c->role;
    if (c != NULL && c->refund_limit >= -1)
        next.refund_limit = c->refund_limit;
    if (c != NULL && c->disabled >= 0)
        next.disabled = c->disabled != 0;
    bool was_admin = strcmp(j->u.role, "admin") == 0 && !j->u.disabled;
    bool is_admin = strcmp(next.role, "admin") == 0 && !next.disabled;
    if (was_admin && !is_admin) {
        /* counted in the transaction that changes it: two admins demoting each other
         * at once cannot both pass (one writer) */
        int64_t admins = 0;
        if ((ks = store_staff_count_admins(tx, j->by->merchant_id, &admins)) != K_OK)
            return ks;
        if (admins <= 1) {
            j->refusal = "This is the last admin: make another person admin first.";
            j->refused_param = c != NULL && c->disabled > 0 ? "disabled" : "role";
            return K_OK;
        }
    }
    const char *action = "staff.change";
    if (j->new_secret != NULL) {
        action = "staff.reset_2fa";
        ks = store_staff_set_totp(tx, j->by->merchant_id, j->user_id, j->new_secret);
    } else {
        ks = store_staff_update_admin(tx, &next);
    }
    if (ks != K_OK)
        return ks;
    /* a change of role, a disabled account or a new secret ends the person's sessions */
    bool ends = j->new_secret != NULL || next.disabled || strcmp(next.role, j->u.role) != 0;
    if (ends && (ks = store_session_delete_user(tx, j->by->merchant_id, j->user_id)) != K_OK)
        return ks;
    staff_audit_entry e = {.action = action,
                           .object_id = j->user_id,
                           .before_json = before,
                           .after_json =
                               j->new_secret != NULL ? before : user_state_json(j->a, &next),
                           .reason = c != NULL ? c->reason : NULL};
    return staff_audit_in_tx(tx, j->by, &e);
}

static k_status change_run(gw *g, change_job *j, const char *action, gw_err *err)
{
    k_status ks = store_write(gw_store(g), change_fn, j);
    const char *outcome = NULL;
    if (ks == K_ENOTFOUND) {
        st_err(err, GW_WHY_NOT_FOUND, "user", "There is no such staff user.");
        outcome = "refused: no such user";
    } else if (ks != K_OK) {
        st_err(err, GW_WHY_STORAGE, NULL, "The change could not be stored; nothing was changed.");
        outcome = "refused: storage";
    } else if (j->refusal != NULL) {
        st_err(err, GW_WHY_WRONG_STATE, j->refused_param, j->refusal);
        outcome = "refused: last admin";
        ks = K_ECONFLICT;
    }
    if (outcome != NULL) { /* nothing changed: the refusal's row on its own */
        staff_audit_entry e = {.action = action,
                               .object_id = j->user_id,
                               .reason = j->c != NULL ? j->c->reason : NULL,
                               .outcome = outcome};
        staff_audit(g, j->by, NULL, NULL, j->by->addr, &e);
    }
    return ks;
}

k_status staff_user_change(gw *g, const staff_session *by, const char *user_id,
                           const staff_change *c, arena *a, gw_err *err)
{
    K_ASSERT(by != NULL && c != NULL);
    if (!staff_can(by, STAFF_USERS)) {
        st_err(err, GW_WHY_FORBIDDEN, "role", "Only an admin may manage staff accounts.");
        return K_EINVAL;
    }
    if (c->role != NULL && staff_role_find(c->role) == NULL) {
        st_err(err, GW_WHY_PARAM_INVALID, "role",
               "The role must be one of admin, operations, finance, developer, read_only.");
        return K_EINVAL;
    }
    if (c->refund_limit < -2 || c->refund_limit > LIMIT_AMOUNT_MAX) {
        st_err(err, GW_WHY_PARAM_INVALID, "refund_limit",
               "Give the refund limit as an amount such as 250.00, or leave it empty.");
        return K_EINVAL;
    }
    if (user_id == NULL || user_id[0] == '\0') {
        st_err(err, GW_WHY_NOT_FOUND, "user", "There is no such staff user.");
        return K_ENOTFOUND;
    }
    change_job j = {.by = by, .user_id = user_id, .c = c, .a = a};
    return change_run(g, &j, "staff.change", err);
}

k_status staff_user_reset_2fa(gw *g, const staff_session *by, const char *user_id,
                              const char *reason, arena *a, staff_new *out, gw_err *err)
{
    K_ASSERT(by != NULL);
    memset(out, 0, sizeof *out);
    if (!staff_can(by, STAFF_USERS)) {
        st_err(err, GW_WHY_FORBIDDEN, "role", "Only an admin may manage staff accounts.");
        return K_EINVAL;
    }
    uint8_t secret[TOTP_SECRET_LEN];
    char b32[TOTP_SECRET_B32];
    if (crypto_random(secret, sizeof secret) != K_OK) {
        st_err(err, GW_WHY_STORAGE, NULL, "Could not mint the account's secrets.");
        return K_ERR;
    }
    totp_b32_encode(secret, sizeof secret, b32, TOTP_SECRET_B32);
    staff_change keep = {.refund_limit = -2, .disabled = -1, .reason = reason};
    change_job j = {.by = by, .user_id = user_id, .c = &keep, .new_secret = b32, .a = a};
    k_status ks = change_run(g, &j, "staff.reset_2fa", err);
    if (ks != K_OK)
        return ks;
    out->id = j.u.id;
    out->totp_secret = arena_strdup(a, b32);
    out->totp_uri = arena_printf(
        a, "otpauth://totp/Kassa:%s?secret=%s&issuer=Kassa&digits=6&period=30", j.u.email, b32);
    return K_OK;
}

/* ---- saved views ---- */

typedef struct {
    store_view v;
    const char *id;
    arena *a;
    store_view **out;
    size_t *n;
} view_job;

static k_status view_put_fn(store_tx *tx, void *arg)
{
    return store_view_put(tx, &((view_job *)arg)->v);
}

k_status staff_view_save(gw *g, const staff_session *s, const char *name, const char *query,
                         gw_err *err)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 80) {
        st_err(err, GW_WHY_PARAM_INVALID, "view_name",
               "Give the view a name (at most 80 characters).");
        return K_EINVAL;
    }
    if (query == NULL || strlen(query) > 2000) {
        st_err(err, GW_WHY_PARAM_INVALID, "view_name", "These filters are too long to save.");
        return K_EINVAL;
    }
    char id[LIMIT_ID_MAX];
    id_new(id, "view_");
    view_job j = {.v = {.merchant_id = s->merchant_id,
                        .id = id,
                        .user_id = s->id,
                        .name = name,
                        .query = query,
                        .created_ms = clock_now_ms()}};
    k_status ks = store_write(gw_store(g), view_put_fn, &j);
    if (ks != K_OK)
        st_err(err, GW_WHY_BUSY, NULL, "The view could not be saved.");
    return ks;
}

static k_status view_list_fn(store_tx *tx, void *arg)
{
    view_job *j = arg;
    return store_view_list(tx, j->v.merchant_id, j->v.user_id, j->a, j->out, j->n);
}

k_status staff_view_list(gw *g, const staff_session *s, arena *a, store_view **out, size_t *n)
{
    view_job j = {
        .v = {.merchant_id = s->merchant_id, .user_id = s->id}, .a = a, .out = out, .n = n};
    return store_read(gw_store(g), view_list_fn, &j);
}

static k_status view_del_fn(store_tx *tx, void *arg)
{
    view_job *j = arg;
    return store_view_delete(tx, j->v.merchant_id, j->v.user_id, j->id);
}

k_status staff_view_delete(gw *g, const staff_session *s, const char *id)
{
    view_job j = {.v = {.merchant_id = s->merchant_id, .user_id = s->id}, .id = id};
    return store_write(gw_store(g), view_del_fn, &j);
}

/* ---- reads for the payments list ---- */

static k_status st_payments_of(store_obj *objs, size_t n, arena *a, gw_payment **out)
{
    gw_payment *ps = arena_alloc(a, (n > 0 ? n : 1) * sizeof *ps);
    if (ps == NULL)
        return K_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *doc = json_loads(objs[i].body, 0, NULL);
        if (doc == NULL || arena_defer(a, (void (*)(void *))json_decref, doc) != K_OK)
            return K_EIO;
        k_status ks = gw_payment_from_json(doc, a, &ps[i]);
        if (ks != K_OK)
            return ks;
        ps[i].version = objs[i].version;
    }
    *out = ps;
    return K_OK;
}

typedef struct {
    const char *merchant_id, *payment_id;
    const store_pay_q *q;
    int64_t num;
    arena *a;
    store_obj *objs;
    store_pay_total **totals;
    store_op **ops;
    size_t *n;
    bool *has_more;
} search_job;

static k_status search_fn(store_tx *tx, void *arg)
{
    search_job *j = arg;
    return store_pay_search(tx, j->merchant_id, j->q, j->a, &j->objs, j->n, j->has_more);
}

k_status staff_pay_search(gw *g, const char *merchant_id, const store_pay_q *q, arena *a,
                          gw_payment **out, int64_t **seqs, size_t *n, bool *has_more)
{
    search_job j = {.merchant_id = merchant_id, .q = q, .a = a, .n = n, .has_more = has_more};
    k_status ks = store_read(gw_store(g), search_fn, &j);
    if (ks != K_OK)
        return ks;
    *seqs = arena_alloc(a, (*n > 0 ? *n : 1) * sizeof(int64_t));
    if (*seqs == NULL)
        return K_ENOMEM;
    for (size_t i = 0; i < *n; i++)
        (*seqs)[i] = j.objs[i].seq;
    return st_payments_of(j.objs, *n, a, out);
}

static k_status totals_fn(store_tx *tx, void *arg)
{
    search_job *j = arg;
    return store_pay_totals(tx, j->merchant_id, j->q, LIMIT_BO_TOTALS_MAX, j->a, j->totals, j->n);
}

k_status staff_pay_totals(gw *g, const char *merchant_id, const store_pay_q *q, arena *a,
                          store_pay_total **out, size_t *n)
{
    search_job j = {.merchant_id = merchant_id, .q = q, .a = a, .totals = out, .n = n};
    return store_read(gw_store(g), totals_fn, &j);
}

static k_status expiring_fn(store_tx *tx, void *arg)
{
    search_job *j = arg;
    return store_pay_expiring(tx, j->merchant_id, j->num, LIMIT_BO_PAGE_ROWS, j->a, &j->objs, j->n);
}

k_status staff_pay_expiring(gw *g, const char *merchant_id, int64_t until_s, arena *a,
                            gw_payment **out, size_t *n)
{
    search_job j = {.merchant_id = merchant_id, .num = until_s, .a = a, .n = n};
    k_status ks = store_read(gw_store(g), expiring_fn, &j);
    return ks == K_OK ? st_payments_of(j.objs, *n, a, out) : ks;
}

static k_status ops_after_fn(store_tx *tx, void *arg)
{
    search_job *j = arg;
    return store_op_after(tx, j->merchant_id, j->payment_id, j->num, LIMIT_BO_LIVE_BATCH, j->a,
                          j->ops, j->n);
}

k_status staff_ops_after(gw *g, const char *merchant_id, const char *payment_id, int64_t after_seq,
                         arena *a, store_op **out, size_t *n)
{
    search_job j = {.merchant_id = merchant_id,
                    .payment_id = payment_id,
                    .num = after_seq,
                    .a = a,
                    .ops = out,
                    .n = n};
    return store_read(gw_store(g), ops_after_fn, &j);
}

static k_status last_seq_fn(store_tx *tx, void *arg)
{
    search_job *j = arg;
    return store_op_last_seq(tx, j->merchant_id, &j->num);
}

k_status staff_op_last_seq(gw *g, const char *merchant_id, int64_t *out)
{
    search_job j = {.merchant_id = merchant_id};
    k_status ks = store_read(gw_store(g), last_seq_fn, &j);
    *out = j.num;
    return ks;
}

void staff_extend_preview(gw *g, const gw_payment *p, int64_t *new_expiry, int64_t *ceiling)
{
    /* The same rule data the extension use case reads (orders.c); the provider may still answer
     * with a date of its own, which then wins. */
    const rule_method *rm = rules_method_find(&g->rules, p->method_type);
    arena a;
    arena_init(&a, 0);
    int64_t ttl = gw_auth_ttl(gw_settings_load(g, p->merchant_id, &a), rm);
    arena_release(&a);
    int64_t max = rm != NULL && rm->auth_max_s > 0 ? rm->auth_max_s : 180 * 86400;
    *ceiling = p->created + max;
    int64_t want = clock_now_s() + ttl;
    *new_expiry = want < *ceiling ? want : *ceiling;
    if (*new_expiry < p->auth_expires_at)
        *new_expiry = p->auth_expires_at;
}
