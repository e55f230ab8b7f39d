/*
 * staff.h - the back office's use cases for the people behind the shop: staff
 * accounts and their roles, sign-in (password, then a TOTP code or a recovery
 * code), server-side sessions with idle and absolute timeouts, CSRF tokens,
 * re-authentication, the hash-chained audit log and its verification, saved
 * views, and the read-only searches the payments list needs.
 *
 * Roles are one table (staff_roles in staff.c): what each may see and do, and
 * the refund amount above which it must re-authenticate. The back office
 * (api/backoffice) asks staff_can() before showing or running an action; the
 * payment actions themselves are the gateway's ordinary use cases.
 *
 * Secrets: passwords are stored as libsodium argon2id strings; session tokens
 * and recovery codes only as their SHA-256; the TOTP secret, needed to compute
 * codes, sealed with the server's key (the store seals and opens it). Every sign-in (good or bad)
 * and every staff action is an audit row; the row's hash covers the previous row's hash, so an
 * edited or removed row breaks the chain that staff_audit_verify() walks.
 */
#ifndef KASSA_STAFF_H
#define KASSA_STAFF_H

#include "gateway.h"
#include "../store/store_staff.h"

/* What a role may do. */
typedef enum {
    STAFF_VIEW = 1u << 0,      /* payments, their timeline */
    STAFF_ACT = 1u << 1,       /* capture, cancel, release, extend, edit lines, resend, sync */
    STAFF_REFUND = 1u << 2,    /* refunds (re-authentication above the role's limit) */
    STAFF_AUDIT = 1u << 3,     /* the audit log */
    STAFF_DEV = 1u << 4,       /* API keys and webhook endpoints */
    STAFF_USERS = 1u << 5,     /* staff accounts */
    STAFF_SECRETS = 1u << 6,   /* customer e-mail addresses and provider references in full */
    STAFF_SETTINGS = 1u << 10, /* change the merchant's settings (methods, credentials, branding) */
    STAFF_REPORTS = 1u << 7,   /* report files (exports) and report schedules */
} staff_perm;

typedef struct {
    const char *name;
    unsigned perms;
    int64_t refund_reauth_above; /* minor units; refunds above need password or code again */
} staff_role;

/* The role named so, or NULL. */
const staff_role *staff_role_find(const char *name);
/* Every role, in the order the help text lists them. */
size_t staff_roles(const staff_role **out);

typedef struct {
    const char *id, *merchant_id, *email;
    const staff_role *role;
    const char *token_hash;      /* the session's */
    const char *token;           /* the cookie's token: set by staff_signin_code only (a new one) */
    int64_t refund_reauth_above; /* the person's own limit, else the role's (minor units) */
    char csrf[65];               /* the token every change must carry */
    const char *addr;
} staff_session;

static inline bool staff_can(const staff_session *s, staff_perm p)
{
    return s != NULL && s->role != NULL && (s->role->perms & (unsigned)p) != 0;
}

/* ---- accounts ---- */
typedef struct {
    const char *id;
    const char *password;    /* generated, shown once */
    const char *totp_secret; /* base32 */
    const char *totp_uri;    /* otpauth://totp/Kassa:EMAIL?secret=...&issuer=Kassa */
} staff_new;

/* Creates a staff user of merchant_id (NULL = the only merchant). password NULL
 * = generate one. Fails with err (param "email", "role", "password" or "merchant")
 * and creates nothing on bad input or a taken e-mail. */
k_status staff_user_create(gw *g, const char *merchant_id, const char *email, const char *role,
                           const char *password, arena *a, staff_new *out, gw_err *err);

/* An admin adds a person to the merchant of by (password generated, shown once,
 * like the CLI's); the account and its audit row are one transaction. */
k_status staff_user_add(gw *g, const staff_session *by, const char *email, const char *role,
                        const char *reason, arena *a, staff_new *out, gw_err *err);
/* The merchant's staff (admins only), by e-mail. */
k_status staff_user_list(gw *g, const staff_session *by, arena *a, store_staff **out, size_t *n);

typedef struct {
    const char *role;     /* NULL = unchanged */
    int64_t refund_limit; /* minor units; -1 = the role's; -2 = unchanged */
    int disabled;         /* 1 disable, 0 enable, -1 unchanged */
    const char *reason;
} staff_change;
/* Changes a person's role, refund limit or disabled flag, audited in the same
 * transaction; a change of role or a disabled account ends their sessions.
 * The last admin who is not disabled cannot lose the role or be disabled
 * (GW_WHY_WRONG_STATE, K_ECONFLICT; audited as refused). */
k_status staff_user_change(gw *g, const staff_session *by, const char *user_id,
                           const staff_change *c, arena *a, gw_err *err);
/* A new TOTP secret for a person who lost their authenticator (out: totp_secret
 * and totp_uri, shown once); their sessions end and new recovery codes are
 * shown at their next sign-in. */
k_status staff_user_reset_2fa(gw *g, const staff_session *by, const char *user_id,
                              const char *reason, arena *a, staff_new *out, gw_err *err);

/* ---- sign-in ---- */
/* Step 1: e-mail and password. On success *token (64 hex, arena-owned) is a
 * session that still needs the code. A failure waits LIMIT_BO_FAIL_DELAY_MS,
 * counts towards the lock-out and is audited; err says what to show (never
 * which of e-mail or password was wrong). */
k_status staff_signin_password(gw *g, const char *email, const char *password, const char *addr,
                               arena *a, const char **token, gw_err *err);
/* Step 2: the 6-digit code (or a recovery code). On success the pending
 * session is replaced by a signed-in one with a new token (out->token: the
 * cookie to set; the step-1 token no longer works); *recovery is NULL or, after the first sign-in,
 * the recovery codes to show once (NULL-terminated). */
k_status staff_signin_code(gw *g, const char *token, const char *code, const char *addr, arena *a,
                           staff_session *out, const char *const **recovery, gw_err *err);
/* The signed-in session behind a cookie's token: K_ENOTFOUND when none, ended,
 * pending its code, idle too long or past its absolute lifetime. */
k_status staff_session_check(gw *g, const char *token, const char *addr, arena *a,
                             staff_session *out);
k_status staff_signout(gw *g, const staff_session *s);
/* Password or current TOTP code of the signed-in person again (refunds above
 * the role's limit). A failure counts like a failed sign-in. */
bool staff_reauth(gw *g, const staff_session *s, const char *secret, arena *a);

/* CSRF token of a session token: HMAC-SHA256(token, "kassa-csrf"), hex. */
void staff_csrf_token(const char *token, char out[65]);
bool staff_csrf_ok(const char *token, const char *csrf);

/* ---- the audit log ---- */
typedef struct {
    const char *action, *object_id, *before_json, *after_json, *reason, *outcome;
} staff_audit_entry;
/* Appends one row for the person in s (or, with s NULL, for merchant_id and
 * email: a failed sign-in). */
k_status staff_audit(gw *g, const staff_session *s, const char *merchant_id, const char *email,
                     const char *addr, const staff_audit_entry *e);
/* An action's audit row written in the action's own transaction: fill s and e
 * (outcome NULL = "ok"), attach it to the idempotency record the action is
 * called with; the gateway appends the row where it stores the success
 * answer, with after_of(after_ctx, record) as the state after when given
 * (record: what the use case answers, a gw_payment or a gw_refund). written
 * tells whether the row went in with the action; an action that failed
 * wrote nothing and its refusal is audited with staff_audit(). */
typedef struct {
    const staff_session *s;
    staff_audit_entry e;
    const char *(*after_of)(void *after_ctx, const void *record, arena *a);
    void *after_ctx;
    bool written; /* out */
} staff_audit_hook;
void staff_audit_attach(staff_audit_hook *h, gw_idem *idem);
/* Appends the person's row inside a write transaction the caller runs (the
 * staff accounts' own changes: the change and its row in one transaction). */
k_status staff_audit_in_tx(store_tx *tx, const staff_session *s, const staff_audit_entry *e);
/* The row's hash over its fields and the previous hash (out: 65 bytes). */
void staff_audit_hash(const store_audit *r, char out[65]);

typedef struct {
    int64_t rows;    /* rows checked */
    int64_t bad_seq; /* first row that breaks the chain, 0 = none */
    char why[160];
} staff_verify;
/* Walks the chain of merchant_id (NULL = every merchant), oldest first. */
k_status staff_audit_verify(gw *g, const char *merchant_id, staff_verify *out);
k_status staff_audit_list(gw *g, const char *merchant_id, const store_audit_q *q, arena *a,
                          store_audit **out, size_t *n, bool *has_more);

/* ---- saved views ---- */
k_status staff_view_save(gw *g, const staff_session *s, const char *name, const char *query,
                         gw_err *err);
k_status staff_view_list(gw *g, const staff_session *s, arena *a, store_view **out, size_t *n);
k_status staff_view_delete(gw *g, const staff_session *s, const char *id);

/* ---- reads for the payments list ---- */
/* seqs[i] is out[i]'s list position (the keyset cursor). */
k_status staff_pay_search(gw *g, const char *merchant_id, const store_pay_q *q, arena *a,
                          gw_payment **out, int64_t **seqs, size_t *n, bool *has_more);
k_status staff_pay_totals(gw *g, const char *merchant_id, const store_pay_q *q, arena *a,
                          store_pay_total **out, size_t *n);
k_status staff_pay_expiring(gw *g, const char *merchant_id, int64_t until_s, arena *a,
                            gw_payment **out, size_t *n);
k_status staff_ops_after(gw *g, const char *merchant_id, const char *payment_id, int64_t after_seq,
                         arena *a, store_op **out, size_t *n);
k_status staff_op_last_seq(gw *g, const char *merchant_id, int64_t *out);
/* What gw_pi_extend would set the authorisation's expiry to now, and the latest
 * it can ever reach (the method's rule: 180 days after creation for Klarna). */
void staff_extend_preview(gw *g, const gw_payment *p, int64_t *new_expiry, int64_t *ceiling);

#endif
