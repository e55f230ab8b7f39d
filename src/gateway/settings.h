/*
 * settings.h - a merchant's own settings, the part the back office's Settings
 * page changes (gateway/settings.c): which payment methods are published or
 * hidden per currency and country, the provider credentials (sealed at rest,
 * shown back as their last 4 characters only), the hosted pages' branding
 * (shop name, logo, colours with a WCAG AA contrast check) and the expiry
 * periods of new payments.
 *
 * They live in the merchant row's settings object (one per merchant, the
 * store's `merchants.settings`), and every change is one store_write that
 * reads the object, applies the change and writes it back, so two changes at
 * once never lose each other. The rules are applied where the gateway checks
 * a method (intent.c, payments.c, sessions.c): a hidden method is refused and
 * left out of every method choice, through every face, from the next request
 * on (no restart).
 *
 * Each setter validates first: bad input fills err (the field in err->param)
 * and changes nothing. On success *before and *after (arena-owned JSON text,
 * secrets reduced to their last 4 characters) describe the change for the
 * audit log.
 */
#ifndef KASSA_GW_SETTINGS_H
#define KASSA_GW_SETTINGS_H

#include "gateway.h"

/* One hidden (method, currency, country) triple; "*" stands for any. */
typedef struct {
    const char *method;   /* "klarna_pay_later" */
    const char *currency; /* "SEK" or "*" */
    const char *country;  /* "SE" or "*" */
} gw_hidden;

/* A provider's credentials as the page may show them. */
typedef struct {
    const char *provider;     /* "klarna", "alipay" */
    const char *username;     /* Klarna API username, Alipay+ Client-Id; NULL = none set */
    const char *secret_last4; /* last 4 characters of the password / private key; NULL = none */
    bool public_key_set;      /* Alipay+: Antom's public key given */
} gw_creds_view;

typedef struct {
    const char *shop_name;   /* NULL = the merchant's name */
    const char *logo_url;    /* NULL = none */
    const char *accent;      /* "#RRGGBB" of the pay button, NULL = Kassa's */
    const char *accent_text; /* "#RRGGBB" of the button's text, NULL = Kassa's */
} gw_branding;

typedef struct {
    int64_t auth_days;       /* Klarna authorisation period, 0 = the provider's/rule's */
    int64_t attempt_minutes; /* an unfinished attempt expires after this, 0 = the rule's */
    int64_t session_minutes; /* a checkout session expires after this, 0 = configuration */
} gw_expiry;

typedef struct {
    gw_hidden *hidden;
    size_t nhidden;
    gw_creds_view creds[2]; /* klarna, alipay */
    gw_branding brand;
    gw_expiry expiry;
} gw_settings_view;

/* Every setting of merchant_id as the page shows it (arena-owned). */
k_status gw_settings_get(gw *g, const char *merchant_id, arena *a, gw_settings_view *out);

/* Hides (hide) or publishes again a method for currency and country (each an
 * ISO code or "*"). Unknown method, bad code: K_EINVAL. */
k_status gw_settings_method_set(gw *g, const char *merchant_id, const char *method,
                                const char *currency, const char *country, bool hide, arena *a,
                                const char **before, const char **after, gw_err *err);

/* Sets a provider's credentials: username (NULL = unchanged, "" = remove all
 * of the provider's credentials), secret (NULL or "" = unchanged), public key
 * (Alipay+ only; NULL or "" = unchanged). The secret is sealed (crypto_seal). */
k_status gw_settings_creds_set(gw *g, const char *merchant_id, const char *pname,
                               const char *username, const char *secret, const char *public_key,
                               arena *a, const char **before, const char **after, gw_err *err);

/* Sets (or with "" removes) the base URL of a provider's account: the real
 * provider's endpoint (a live account needs one; without one a test account
 * talks to the simulator). The credentials must be set first. */
k_status gw_settings_base_url_set(gw *g, const char *merchant_id, const char *pname,
                                  const char *base_url, arena *a, const char **before,
                                  const char **after, gw_err *err);

/* Validates branding as gw_settings_brand_set would, without storing it (the
 * preview). K_EINVAL with err on the first bad field. */
k_status gw_settings_brand_check(const gw_branding *b, gw_err *err);
/* Replaces the branding (NULL or "" fields are removed). */
k_status gw_settings_brand_set(gw *g, const char *merchant_id, const gw_branding *b, arena *a,
                               const char **before, const char **after, gw_err *err);

/* Replaces the expiry periods (0 = the default). Bounds: authorisation 1-180
 * days (Klarna), attempt 5 minutes to the method's own lifetime (Klarna's
 * session: 48 h), checkout session 30 minutes to 24 hours (Stripe's). */
k_status gw_settings_expiry_set(gw *g, const char *merchant_id, const gw_expiry *e, arena *a,
                                const char **before, const char **after, gw_err *err);

/* Is merchant_id in test mode: no provider account of its own points at a real
 * provider (every connector talks to the local simulators, so no real money
 * moves; Kassa's keys and objects are all test ones, livemode false)? */
bool gw_merchant_test_mode(gw *g, const char *merchant_id);

/* WCAG 2 contrast ratio of two "#RRGGBB" colours times 100 (450 = 4.5:1); -1 when either is
 * not such a colour. */
int gw_contrast_x100(const char *hex_a, const char *hex_b);

/* Is `method` offered for a payment of merchant_id in currency (any case) from
 * country (NULL = not known yet) for amount: the rules take it and the
 * merchant has not hidden it (the ECommPay Payment Page's choice). */
bool gw_method_offered(gw *g, const char *merchant_id, const char *method, const char *currency,
                       const char *country, int64_t amount);

#endif
