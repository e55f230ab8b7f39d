/*
 * rules.h - what each payment method accepts, as data: currencies, countries,
 * the country's-own-currency rule, minimum and maximum amounts in a limit
 * currency, expiry periods, manual capture; plus the exchange rates used to
 * compare an amount with those limits. Pure: no I/O.
 *
 * The table is loaded from text (format at the top of rules.c): rules_init_default()
 * compiles in the sandbox defaults; the caller reads an optional override file
 * and hands its text to rules_load(), whose lines replace the defaults with the
 * same key. rules_check() says whether one method takes (currency, country,
 * amount) and, if not, which parameter is wrong and why, in words a merchant
 * can act on; rules_available() lists the methods the hosted page may offer.
 */
#ifndef KASSA_RULES_H
#define KASSA_RULES_H

#include "../base/common.h"
#include "../limits.h"

#define RULE_NAME_MAX  32 /* "klarna_pay_later" and room to spare, NUL included */
#define RULE_LABEL_MAX 48 /* "Klarna Pay Later": used in refusal messages */

typedef struct {
    char name[RULE_NAME_MAX];     /* "klarna_pay_now", "klarna_pay_later", "klarna", "alipay" */
    char provider[RULE_NAME_MAX]; /* "klarna", "alipay" */
    char label[RULE_LABEL_MAX];   /* "Klarna Pay Now" */
    bool enabled;                 /* false: hidden and refused (merchant unpublished it) */
    bool any_currency;            /* currencies=* */
    char currencies[LIMIT_RULE_CURRENCIES_MAX][4]; /* upper-case ISO 4217 */
    size_t currencies_len;
    bool any_country;                            /* countries=* */
    char countries[LIMIT_RULE_COUNTRIES_MAX][3]; /* upper-case ISO 3166 alpha-2 */
    size_t countries_len;
    bool local_currency;    /* currency must be the purchase country's own (Klarna) */
    char limit_currency[4]; /* min/max are in this currency; others are converted */
    int64_t min_amount;     /* minor units of limit_currency, >= 1 */
    int64_t max_amount;     /* minor units of limit_currency, >= min_amount */
    int64_t attempt_ttl_s;  /* an unfinished attempt (redirect, QR) expires after this */
    int64_t auth_ttl_s;     /* an authorisation expires after this unless extended (0: none) */
    int64_t auth_max_s;     /* extensions never reach past creation + this */
    bool manual_capture;    /* authorise now, capture later is supported */
} rule_method;

typedef struct {
    char from[4], to[4];
    int64_t rate_e9; /* 1 `from` = rate_e9 / 10^9 `to` (see money.h RATE_SCALE) */
} rule_rate;

typedef struct {
    char country[3];
    char currency[4];
} rule_local;

typedef struct {
    rule_method methods[LIMIT_RULE_METHODS_MAX];
    size_t methods_len;
    rule_rate rates[LIMIT_RULE_RATES_MAX];
    size_t rates_len;
    rule_local locals[LIMIT_RULE_LOCALS_MAX]; /* a country's own currency */
    size_t locals_len;
} rules_table;

/* Which parameter a refusal is about (maps to Stripe's error `param`). */
typedef enum {
    RULE_OK = 0,
    RULE_E_METHOD,   /* unknown or disabled method */
    RULE_E_CURRENCY, /* currency not accepted (or no rate to compare it) */
    RULE_E_COUNTRY,  /* country not served, or currency not the country's own */
    RULE_E_AMOUNT,   /* below the minimum or above the maximum */
} rule_param;

typedef struct {
    rule_param param;
    char message[LIMIT_RULE_MESSAGE_MAX]; /* "Klarna Pay Now does not support currency USD" */
} rule_refusal;

/* The compiled-in sandbox defaults, in the text format. */
const char *rules_default_text(void);

/* Empties the table. */
void rules_init(rules_table *t);
/* rules_init + rules_load(rules_default_text()); the defaults always parse. */
void rules_init_default(rules_table *t);

/* Adds the lines of `text` (len bytes, need not be NUL-terminated) to t: a
 * method, rate or country line replaces the one with the same key. All or
 * nothing: on error t is unchanged and err (LIMIT_RULE_MESSAGE_MAX bytes)
 * says "line N: ..." naming the first bad line. K_EINVAL on a bad line,
 * K_ETOOBIG past a limit from limits.h. */
k_status rules_load(rules_table *t, const char *text, size_t len, char *err);

/* The method named `name` (exact, lower-case), enabled or not; NULL when unknown. */
const rule_method *rules_method_find(const rules_table *t, const char *name);

/* Rate from -> to as rate * 10^9: 1 when equal, else a configured rate, else
 * the inverse of the reverse rate, else through one common currency (derived
 * rates are rounded half to even to 9 decimals). K_ENOTFOUND when none. */
k_status rules_rate(const rules_table *t, const char *from, const char *to, int64_t *rate_e9);

/* Does `method` take `amount` minor units of `currency` from `country`?
 * country may be NULL or "" when not known yet: country checks are then left
 * for later (the gateway checks again before the provider is called).
 * Returns RULE_OK, or the parameter at fault with why->message filled in. */
rule_param rules_check(const rules_table *t, const char *method, const char *currency,
                       const char *country, int64_t amount, rule_refusal *why);

/* The enabled methods that take (currency, country, amount), in table order:
 * up to cap pointers into t are written to out; returns how many match
 * (which may exceed cap). */
size_t rules_available(const rules_table *t, const char *currency, const char *country,
                       int64_t amount, const rule_method **out, size_t cap);

#endif
