/*
 * settings.c - a merchant's settings (settings.h): the hidden methods, the
 * provider credentials, the hosted pages' branding and the expiry periods,
 * kept in the merchant row's settings object:
 *
 *   {"methods_hidden": [{"method":"klarna_pay_later","currency":"SEK","country":"SE"}],
 *    "providers": {"klarna": {"username":"...","password":"enc1:...","password_last4":"..."}},
 *    "branding": {"shop_name":"...","logo_url":"https://...","accent":"#0b5fff",
 *                 "accent_text":"#ffffff"},
 *    "expiry": {"auth_days":7,"attempt_minutes":60,"session_minutes":120}}
 *
 * What the gateway's use cases read from it (gw_int.h): gw_method_hidden (the
 * method checks and every method list), gw_auth_ttl / gw_attempt_ttl /
 * gw_session_ttl (new payments' lifetimes), and gw_account's credentials
 * (gateway.c), which open the sealed secret only when a connector needs it.
 */
#include "settings.h"
#include "gw_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/crypto.h"
#include "../domain/money.h"

#define ANY "*"

/* ---- reading ---- */

typedef struct {
    const char *id;
    arena *a;
    store_merchant m;
} set_read;

static k_status set_read_fn(store_tx *tx, void *arg)
{
    set_read *r = arg;
    return store_merchant_get(tx, r->id, r->a, &r->m);
}

/* The settings object of a merchant row (arena-owned; an empty object when none). */
static json_t *settings_of(const store_merchant *m, arena *a)
{
    json_t *s = json_loads(m->settings != NULL ? m->settings : "{}", 0, NULL);
    if (!json_is_object(s)) {
        json_decref(s);
        s = json_object();
    }
    gw_keep(a, s);
    json_decref(s); /* gw_keep holds the reference */
    return s;
}

json_t *gw_settings_load(gw *g, const char *merchant_id, arena *a)
{
    set_read r = {.id = merchant_id, .a = a};
    if (store_read(g->st, set_read_fn, &r) != K_OK)
        return NULL;
    return settings_of(&r.m, a);
}

k_status gw_settings_load_tx(store_tx *tx, const char *merchant_id, arena *a, json_t **out)
{
    store_merchant m;
    k_status st = store_merchant_get(tx, merchant_id, a, &m);
    *out = st == K_OK ? settings_of(&m, a) : NULL;
    return st;
}

/* ---- hidden methods ---- */

static bool code_eq(const char *pattern, const char *code)
{
    return pattern != NULL && (strcmp(pattern, ANY) == 0 || strcmp(pattern, code) == 0);
}

/* Does a hidden entry cover (method, cur, ctry)? ctry "*" asks for an entry
 * hiding the method in every country. */
static bool hidden_entry(json_t *list, const char *method, const char *cur, const char *ctry)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *em = json_string_value(json_object_get(e, "method"));
        const char *ec = json_string_value(json_object_get(e, "currency"));
        const char *et = json_string_value(json_object_get(e, "country"));
        if (em == NULL || strcmp(em, method) != 0 || !code_eq(ec, cur) || et == NULL)
            continue;
        if (strcmp(ctry, ANY) == 0 ? strcmp(et, ANY) == 0 : code_eq(et, ctry))
            return true;
    }
    return false;
}

bool gw_method_hidden(gw *g, json_t *settings, const char *method, const char *currency,
                      const char *country)
{
    json_t *list = json_object_get(settings, "methods_hidden");
    const rule_method *m = rules_method_find(&g->rules, method);
    if (json_array_size(list) == 0 || m == NULL || currency == NULL)
        return false;
    char cur[4];
    currency_upper(currency, cur);
    if (country != NULL && country[0] != '\0') {
        char c[3] = {0};
        for (int k = 0; k < 2 && country[k]; k++)
            c[k] = (char)(country[k] >= 'a' && country[k] <= 'z' ? country[k] - 32 : country[k]);
        return hidden_entry(list, method, cur, c);
    }
    /* Country not known yet: hidden when hidden in every country the method
     * serves in this currency (SEK with Klarna is Sweden alone). */
    if (hidden_entry(list, method, cur, ANY))
        return true;
    if (m->any_country)
        return false;
    bool served = false;
    for (size_t i = 0; i < m->countries_len; i++) {
        rule_refusal why;
        rule_param rp = rules_check(&g->rules, method, cur, m->countries[i], 1, &why);
        if (rp == RULE_E_COUNTRY || rp == RULE_E_CURRENCY || rp == RULE_E_METHOD)
            continue;
        served = true;
        if (!hidden_entry(list, method, cur, m->countries[i]))
            return false;
    }
    return served;
}

bool gw_method_offered(gw *g, const char *merchant_id, const char *method, const char *currency,
                       const char *country, int64_t amount)
{
    arena a;
    arena_init(&a, 0);
    char cur[4];
    currency_upper(currency, cur);
    rule_refusal why;
    bool ok = rules_check(&g->rules, method, cur, country, amount, &why) == RULE_OK;
    const rule_method *m = rules_method_find(&g->rules, method);
    ok = ok && m != NULL && m->enabled;
    if (ok) {
        json_t *s = gw_settings_load(g, merchant_id, &a);
        ok = s != NULL && !gw_method_hidden(g, s, method, cur, country);
    }
    arena_release(&a);
    return ok;
}

/* ---- expiry periods ---- */

static int64_t expiry_of(json_t *settings, const char *key)
{
    json_t *v = json_object_get(json_object_get(settings, "expiry"), key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int64_t gw_auth_ttl(json_t *settings, const rule_method *rm)
{
    int64_t days = expiry_of(settings, "auth_days");
    if (days > 0)
        return days * 86400;
    return rm != NULL && rm->auth_ttl_s > 0 ? rm->auth_ttl_s : 28 * 86400;
}

bool gw_auth_ttl_set(json_t *settings)
{
    return expiry_of(settings, "auth_days") > 0;
}

int64_t gw_attempt_ttl(gw *g, json_t *settings, const rule_method *rm)
{
    K_ASSERT(rm != NULL);
    int64_t min = expiry_of(settings, "attempt_minutes");
    int64_t ttl = g->cfg.attempt_ttl_s > 0 ? g->cfg.attempt_ttl_s : rm->attempt_ttl_s;
    /* Never longer than the provider keeps the session (the rule's lifetime). */
    if (min > 0 && min * 60 < ttl)
        ttl = min * 60;
    return ttl;
}

int64_t gw_session_ttl(gw *g, json_t *settings)
{
    int64_t min = expiry_of(settings, "session_minutes");
    return min > 0 ? min * 60 : g->cfg.session_ttl_s;
}

bool gw_merchant_test_mode(gw *g, const char *merchant_id)
{
    if (gw_merchant_is_live(merchant_id))
        return false;
    arena a;
    arena_init(&a, 0);
    json_t *s = gw_settings_load(g, merchant_id, &a);
    bool test = true;
    const char *name;
    json_t *acct;
    json_object_foreach(json_object_get(s, "providers"), name, acct)
    {
        test &= json_string_value(json_object_get(acct, "base_url")) == NULL;
    }
    arena_release(&a);
    return test;
}

/* ---- the view ---- */

static const char *const PROVIDERS[] = {"klarna", "alipay"};
_Static_assert(K_ARRAY_LEN(PROVIDERS) == 2, "gw_settings_view.creds has a slot per provider");

k_status gw_settings_get(gw *g, const char *merchant_id, arena *a, gw_settings_view *out)
{
    K_ASSERT(g != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    json_t *s = gw_settings_load(g, merchant_id, a);
    if (s == NULL)
        return K_ENOTFOUND;
    json_t *list = json_object_get(s, "methods_hidden");
    size_t n = json_array_size(list);
    out->hidden = n > 0 ? arena_alloc(a, n * sizeof *out->hidden) : NULL;
    for (size_t i = 0; i < n && out->hidden != NULL; i++) {
        json_t *e = json_array_get(list, i);
        out->hidden[out->nhidden++] = (gw_hidden){
            gw_jstr(e, "method", a), gw_jstr(e, "currency", a), gw_jstr(e, "country", a)};
    }
    for (size_t i = 0; i < K_ARRAY_LEN(PROVIDERS); i++) {
        json_t *p = json_object_get(json_object_get(s, "providers"), PROVIDERS[i]);
        gw_creds_view *c = &out->creds[i];
        c->provider = PROVIDERS[i];
        c->username = gw_jstr(p, "username", a);
        c->secret_last4 = gw_jstr(p, "secret_last4", a);
        c->public_key_set = json_is_string(json_object_get(p, "public_key"));
    }
    json_t *b = json_object_get(s, "branding");
    out->brand = (gw_branding){gw_jstr(b, "shop_name", a), gw_jstr(b, "logo_url", a),
                               gw_jstr(b, "accent", a), gw_jstr(b, "accent_text", a)};
    out->expiry = (gw_expiry){expiry_of(s, "auth_days"), expiry_of(s, "attempt_minutes"),
                              expiry_of(s, "session_minutes")};
    return K_OK;
}

/* ---- changing: one read-modify-write in the store's writer ---- */

typedef k_status (*set_edit_fn)(json_t *settings, void *ctx, gw_err *err);

typedef struct {
    const char *id;
    const char *section; /* the key whose before/after the audit row shows */
    set_edit_fn edit;
    void *ctx;
    arena *a;
    gw_err *err;
    char *before, *after;
} set_job;

/* A copy of section for the audit log: secrets at rest never leave. */
static char *audit_text(json_t *settings, const char *section, arena *a)
{
    json_t *v = json_deep_copy(json_object_get(settings, section));
    if (v == NULL)
        return arena_strdup(a, "null");
    const char *key;
    json_t *p;
    json_object_foreach(v, key, p)
    {
        if (json_is_object(p)) {
            json_object_del(p, "password");
            json_object_del(p, "private_key");
            if (json_object_get(p, "public_key") != NULL)
                json_object_set_new(p, "public_key", json_string("(set)"));
        }
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    char *out = arena_strdup(a, t != NULL ? t : "null");
    free(t);
    return out;
}

static k_status set_edit_tx(store_tx *tx, void *arg)
{
    set_job *j = arg;
    store_merchant m;
    k_status st = store_merchant_get(tx, j->id, j->a, &m);
    if (st != K_OK)
        return st;
    json_t *s = json_loads(m.settings != NULL ? m.settings : "{}", 0, NULL);
    if (!json_is_object(s)) {
        json_decref(s);
        s = json_object();
    }
    j->before = audit_text(s, j->section, j->a);
    st = j->edit(s, j->ctx, j->err);
    if (st == K_OK) {
        j->after = audit_text(s, j->section, j->a);
        char *text = json_dumps(s, JSON_COMPACT);
        if (text == NULL) {
            st = K_ENOMEM;
        } else {
            m.settings = arena_strdup(j->a, text);
            free(text);
            st = store_merchant_put(tx, &m);
        }
    }
    json_decref(s);
    return st;
}

static k_status set_edit(gw *g, const char *merchant_id, const char *section, set_edit_fn edit,
                         void *ctx, arena *a, const char **before, const char **after, gw_err *err)
{
    err->why = GW_WHY_NONE;
    set_job j = {
        .id = merchant_id, .section = section, .edit = edit, .ctx = ctx, .a = a, .err = err};
    k_status st = store_write(g->st, set_edit_tx, &j);
    if (st != K_OK)
        return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, "merchant", merchant_id);
    *before = j.before;
    *after = j.after;
    return K_OK;
}

/* ---- methods ---- */

typedef struct {
    const char *method;
    char cur[4], ctry[3];
    bool hide;
} method_edit;

static bool str_is(json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL && strcmp(v, want) == 0;
}

static k_status method_edit_fn(json_t *s, void *ctx, gw_err *err)
{
    (void)err;
    method_edit *e = ctx;
    json_t *list = json_object_get(s, "methods_hidden");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(s, "methods_hidden", list);
    }
    for (size_t i = json_array_size(list); i-- > 0;) {
        json_t *x = json_array_get(list, i);
        if (str_is(x, "method", e->method) && str_is(x, "currency", e->cur) &&
            str_is(x, "country", e->ctry))
            json_array_remove(list, i);
    }
    if (e->hide) {
        if (json_array_size(list) >= LIMIT_SETTINGS_HIDDEN_MAX) {
            gw_err_set(err, GW_WHY_TOO_MANY, "method",
                       "At most %d hidden combinations; publish one first.",
                       LIMIT_SETTINGS_HIDDEN_MAX);
            return K_EINVAL;
        }
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "method", e->method, "currency",
                                              e->cur, "country", e->ctry));
    }
    return K_OK;
}

/* "*" or two/three ASCII letters, upper-cased into out. */
static bool code_norm(const char *in, size_t len, char *out)
{
    if (in != NULL && strcmp(in, ANY) == 0) {
        memcpy(out, ANY, 2);
        return true;
    }
    if (in == NULL || strlen(in) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 32) : in[i];
        if (c < 'A' || c > 'Z')
            return false;
        out[i] = c;
    }
    out[len] = '\0';
    return true;
}

k_status gw_settings_method_set(gw *g, const char *merchant_id, const char *method,
                                const char *currency, const char *country, bool hide, arena *a,
                                const char **before, const char **after, gw_err *err)
{
    method_edit e = {.method = method, .hide = hide};
    const rule_method *m = method != NULL ? rules_method_find(&g->rules, method) : NULL;
    if (m == NULL) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "method", "Choose one of the payment methods.");
        return K_EINVAL;
    }
    if (!code_norm(currency, 3, e.cur) ||
        (strcmp(e.cur, ANY) != 0 && currency_find(e.cur) == NULL)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "currency",
                   "The currency must be a three-letter ISO 4217 code (SEK) or * for every "
                   "currency.");
        return K_EINVAL;
    }
    if (!code_norm(country, 2, e.ctry)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "country",
                   "The country must be a two-letter ISO 3166 code (SE) or * for every country.");
        return K_EINVAL;
    }
    return set_edit(g, merchant_id, "methods_hidden", method_edit_fn, &e, a, before, after, err);
}

/* ---- credentials ---- */

typedef struct {
    const char *pname, *username, *secret, *public_key;
    char sealed[CRYPTO_SEALED_MAX];
    char last4[5];
} creds_edit;

static k_status creds_edit_fn(json_t *s, void *ctx, gw_err *err)
{
    (void)err;
    creds_edit *e = ctx;
    json_t *provs = json_object_get(s, "providers");
    if (!json_is_object(provs)) {
        provs = json_object();
        json_object_set_new(s, "providers", provs);
    }
    if (e->username != NULL && e->username[0] == '\0') {
        json_object_del(provs, e->pname);
        return K_OK;
    }
    json_t *p = json_object_get(provs, e->pname);
    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(provs, e->pname, p);
    }
    if (e->username != NULL)
        json_object_set_new(p, "username", json_string(e->username));
    if (e->sealed[0] != '\0') {
        const char *key = strcmp(e->pname, "klarna") == 0 ? "password" : "private_key";
        json_object_set_new(p, key, json_string(e->sealed));
        json_object_set_new(p, "secret_last4", json_string(e->last4));
    }
    if (e->public_key != NULL && e->public_key[0] != '\0')
        json_object_set_new(p, "public_key", json_string(e->public_key));
    return K_OK;
}

static bool printable(const char *s, bool newlines)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && !(newlines && (*s == '\n' || *s == '\r')))
            return false;
    return true;
}

k_status gw_settings_creds_set(gw *g, const char *merchant_id, const char *pname,
                               const char *username, const char *secret, const char *public_key,
                               arena *a, const char **before, const char **after, gw_err *err)
{
    creds_edit e = {.pname = pname, .username = username, .public_key = public_key};
    bool klarna = pname != NULL && strcmp(pname, "klarna") == 0;
    if (!klarna && (pname == NULL || strcmp(pname, "alipay") != 0)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "provider", "The provider is klarna or alipay.");
        return K_EINVAL;
    }
    if (username != NULL && (strlen(username) > LIMIT_SETTINGS_USERNAME_MAX ||
                             !printable(username, false) || strchr(username, ':') != NULL)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "username",
                   "The username has at most %d characters, none of them a colon or a control "
                   "character.",
                   LIMIT_SETTINGS_USERNAME_MAX);
        return K_EINVAL;
    }
    bool has_secret = secret != NULL && secret[0] != '\0';
    if (has_secret && (strlen(secret) < 4 || strlen(secret) > CRYPTO_SEAL_PLAIN_MAX ||
                       !printable(secret, !klarna))) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "secret", "The %s has 4 to %d characters.",
                   klarna ? "password" : "private key", CRYPTO_SEAL_PLAIN_MAX);
        return K_EINVAL;
    }
    if (public_key != NULL && public_key[0] != '\0' &&
        (klarna || strlen(public_key) > LIMIT_SETTINGS_PUBKEY_MAX ||
         !printable(public_key, true))) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "public_key",
                   "Only Alipay+ takes a public key (PEM, at most %d characters).",
                   LIMIT_SETTINGS_PUBKEY_MAX);
        return K_EINVAL;
    }
    bool removing = username != NULL && username[0] == '\0';
    if (!removing && has_secret && username == NULL) {
        json_t *s = gw_settings_load(g, merchant_id, a);
        if (gw_jstr(json_object_get(json_object_get(s, "providers"), pname), "username", a) ==
            NULL) {
            gw_err_set(err, GW_WHY_PARAM_MISSING, "username", "Give the username with the secret.");
            return K_EINVAL;
        }
    }
    if (!removing && has_secret) {
        size_t n = strlen(secret);
        /* The last 4 characters (a PEM key ends in "-----": its last 4 say nothing, but they
         * say nothing secret either). */
        snprintf(e.last4, sizeof e.last4, "%s", secret + n - 4);
        if (crypto_seal(secret, e.sealed) != K_OK) {
            gw_err_set(err, GW_WHY_STORAGE, NULL, "The secret could not be sealed.");
            return K_ERR;
        }
    }
    return set_edit(g, merchant_id, "providers", creds_edit_fn, &e, a, before, after, err);
}

typedef struct {
    const char *pname, *base_url;
} url_edit;

static k_status url_edit_fn(json_t *s, void *ctx, gw_err *err)
{
    url_edit *e = ctx;
    json_t *p = json_object_get(json_object_get(s, "providers"), e->pname);
    if (!json_is_object(p)) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "username",
                   "Set the %s credentials before the provider's base URL.", e->pname);
        return K_EINVAL;
    }
    if (e->base_url[0] == '\0')
        json_object_del(p, "base_url");
    else
        json_object_set_new(p, "base_url", json_string(e->base_url));
    return K_OK;
}

k_status gw_settings_base_url_set(gw *g, const char *merchant_id, const char *pname,
                                  const char *base_url, arena *a, const char **before,
                                  const char **after, gw_err *err)
{
    if (pname == NULL || (strcmp(pname, "klarna") != 0 && strcmp(pname, "alipay") != 0)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "provider", "The provider is klarna or alipay.");
        return K_EINVAL;
    }
    bool http = base_url != NULL &&
                (strncmp(base_url, "https://", 8) == 0 || strncmp(base_url, "http://", 7) == 0);
    if (base_url == NULL || (base_url[0] != '\0' && !http) || strlen(base_url) > 2048 ||
        !printable(base_url, false) || strchr(base_url, ' ') != NULL) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "base_url",
                   "The base URL is an http(s) URL of at most 2048 characters without spaces, or "
                   "empty to go back to the simulator (test mode only).");
        return K_EINVAL;
    }
    url_edit e = {.pname = pname, .base_url = base_url};
    return set_edit(g, merchant_id, "providers", url_edit_fn, &e, a, before, after, err);
}

/* ---- branding ---- */

static bool hex_colour(const char *s, int rgb[3])
{
    if (s == NULL || strlen(s) != 7 || s[0] != '#')
        return false;
    for (int i = 0; i < 3; i++) {
        int v = 0;
        for (int k = 1; k <= 2; k++) {
            char c = s[1 + 2 * i + (k - 1)];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        rgb[i] = v;
    }
    return true;
}

/* WCAG 2.x relative luminance. */
static double luminance(const int rgb[3])
{
    double l[3];
    for (int i = 0; i < 3; i++) {
        double c = rgb[i] / 255.0;
        l[i] = c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}

int gw_contrast_x100(const char *hex_a, const char *hex_b)
{
    int a[3], b[3];
    if (!hex_colour(hex_a, a) || !hex_colour(hex_b, b))
        return -1;
    double la = luminance(a), lb = luminance(b);
    double hi = la > lb ? la : lb, lo = la > lb ? lb : la;
    return (int)floor((hi + 0.05) / (lo + 0.05) * 100.0);
}

static bool logo_ok(const char *url)
{
    return strncmp(url, "https://", 8) == 0 && strlen(url) > 8 && strlen(url) <= LIMIT_URL_MAX &&
           strpbrk(url, " \"'<>\\()") == NULL && printable(url, false);
}

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

k_status gw_settings_brand_check(const gw_branding *b, gw_err *err)
{
    if (set(b->shop_name) &&
        (strlen(b->shop_name) > LIMIT_SETTINGS_SHOP_NAME_MAX || !printable(b->shop_name, false))) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "shop_name",
                   "The shop name has at most %d characters.", LIMIT_SETTINGS_SHOP_NAME_MAX);
        return K_EINVAL;
    }
    if (set(b->logo_url) && !logo_ok(b->logo_url)) {
        gw_err_set(err, GW_WHY_URL_INVALID, "logo_url",
                   "The logo URL must start with https:// and have no spaces, quotes or "
                   "brackets.");
        return K_EINVAL;
    }
    int rgb[3];
    if (set(b->accent) && !hex_colour(b->accent, rgb)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "accent",
                   "The button colour must be a hex colour like #0b5fff.");
        return K_EINVAL;
    }
    if (set(b->accent_text) && !hex_colour(b->accent_text, rgb)) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "accent_text",
                   "The button text colour must be a hex colour like #ffffff.");
        return K_EINVAL;
    }
    if (set(b->accent) != set(b->accent_text)) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, set(b->accent) ? "accent_text" : "accent",
                   "Give both colours of the button, or neither.");
        return K_EINVAL;
    }
    int ratio = set(b->accent) ? gw_contrast_x100(b->accent, b->accent_text) : 2100;
    if (ratio < 450) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "accent_text",
                   "The button text has a contrast of %d.%02d:1 with the button colour; WCAG AA "
                   "needs at least 4.5:1. Choose a darker or lighter colour.",
                   ratio / 100, ratio % 100);
        return K_EINVAL;
    }
    return K_OK;
}

static k_status brand_edit_fn(json_t *s, void *ctx, gw_err *err)
{
    (void)err;
    const gw_branding *b = ctx;
    json_t *o = json_object();
    if (set(b->shop_name))
        json_object_set_new(o, "shop_name", json_string(b->shop_name));
    if (set(b->logo_url))
        json_object_set_new(o, "logo_url", json_string(b->logo_url));
    if (set(b->accent)) {
        char a[8], t[8];
        for (int i = 0; i < 7; i++) { /* lower-case: one spelling per colour */
            a[i] = b->accent[i] >= 'A' && b->accent[i] <= 'F' ? (char)(b->accent[i] + 32)
                                                              : b->accent[i];
            t[i] = b->accent_text[i] >= 'A' && b->accent_text[i] <= 'F'
                       ? (char)(b->accent_text[i] + 32)
                       : b->accent_text[i];
        }
        a[7] = t[7] = '\0';
        json_object_set_new(o, "accent", json_string(a));
        json_object_set_new(o, "accent_text", json_string(t));
    }
    json_object_set_new(s, "branding", o);
    return K_OK;
}

k_status gw_settings_brand_set(gw *g, const char *merchant_id, const gw_branding *b, arena *a,
                               const char **before, const char **after, gw_err *err)
{
    if (gw_settings_brand_check(b, err) != K_OK)
        return K_EINVAL;
    return set_edit(g, merchant_id, "branding", brand_edit_fn, (void *)b, a, before, after, err);
}

/* ---- expiry ---- */

static k_status expiry_edit_fn(json_t *s, void *ctx, gw_err *err)
{
    (void)err;
    const gw_expiry *e = ctx;
    json_t *o = json_object();
    if (e->auth_days > 0)
        json_object_set_new(o, "auth_days", json_integer(e->auth_days));
    if (e->attempt_minutes > 0)
        json_object_set_new(o, "attempt_minutes", json_integer(e->attempt_minutes));
    if (e->session_minutes > 0)
        json_object_set_new(o, "session_minutes", json_integer(e->session_minutes));
    json_object_set_new(s, "expiry", o);
    return K_OK;
}

k_status gw_settings_expiry_set(gw *g, const char *merchant_id, const gw_expiry *e, arena *a,
                                const char **before, const char **after, gw_err *err)
{
    const rule_method *k = rules_method_find(&g->rules, "klarna_pay_later");
    int64_t auth_max = k != NULL && k->auth_max_s > 0 ? k->auth_max_s / 86400 : 180;
    int64_t attempt_max = k != NULL ? k->attempt_ttl_s / 60 : 48 * 60;
    if (e->auth_days < 0 || e->auth_days > auth_max) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "auth_days",
                   "The authorisation period is 1 to %lld days (Klarna's limit), or empty for "
                   "the provider's own (28 days).",
                   (long long)auth_max);
        return K_EINVAL;
    }
    if (e->attempt_minutes != 0 && (e->attempt_minutes < 5 || e->attempt_minutes > attempt_max)) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "attempt_minutes",
                   "An attempt lasts 5 to %lld minutes (Klarna keeps its session 48 hours), or "
                   "empty for the method's own.",
                   (long long)attempt_max);
        return K_EINVAL;
    }
    if (e->session_minutes != 0 && (e->session_minutes < 30 || e->session_minutes > 24 * 60)) {
        gw_err_set(err, GW_WHY_PARAM_OUT_OF_RANGE, "session_minutes",
                   "A checkout session lasts 30 to 1440 minutes (24 hours), or empty for the "
                   "default.");
        return K_EINVAL;
    }
    return set_edit(g, merchant_id, "expiry", expiry_edit_fn, (void *)e, a, before, after, err);
}
