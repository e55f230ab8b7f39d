/*
 * rules.c - payment method rules as data: the text format, its parser, the
 * built-in sandbox defaults, rate lookup and the checks (see rules.h).
 *
 * Text format: one rule per line; a token starting with `#` starts a comment
 * to the end of the line; blank lines are ignored; CRLF is accepted; tokens
 * are separated by spaces or tabs. Lines:
 *
 *   country SE SEK             SE's own currency is SEK (for local_currency=yes)
 *   rate USD EUR 0.88          1 USD = 0.88 EUR (<= 9 decimals)
 *   method key=value ...       one payment method, keys below
 *
 * Method keys (required unless a default is given):
 *   name=klarna_pay_now        [a-z0-9_]; a later line with the same name replaces it
 *   provider=klarna            [a-z0-9_]
 *   label="Klarna Pay Now"     for messages; double quotes allow spaces
 *   currencies=EUR,GBP | *     ISO 4217 codes, or * for any
 *   countries=AT,DE | *        ISO 3166 alpha-2 codes, or * for any
 *   local_currency=yes|no      currency must be the country's own (default no)
 *   limit_currency=EUR         min and max are in this currency
 *   min=1.00 max=5000.00       major units of limit_currency
 *   attempt_ttl=48h            an unfinished attempt expires (units s, m, h, d)
 *   auth_ttl=28d auth_max=180d authorisation lifetime and its extension ceiling
 *                              (default 0; required > 0 with manual_capture=yes)
 *   manual_capture=yes|no      authorise now, capture later (default no)
 *   enabled=yes|no             no: hidden and refused (default yes)
 *
 * A load is checked as a whole: each listed currency must convert to the limit
 * currency, and with local_currency=yes each listed country needs a country
 * line. Errors name the line: "line 12: unknown key 'mx'".
 */
#include "rules.h"

#include "money.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Sandbox defaults. Limits from the seeds (ECommPay's Klarna page: 1.00 to
 * 5,000.00 EUR, EUR GBP PLN, nine countries) and providers.md §6 (Klarna's
 * country -> currency pairs, 28-day authorisations extendable to 180 days,
 * 48 h sessions; Alipay+ 14-minute expiry, USD 10,000 cap). The rates are
 * made-up but plausible sandbox values relative to EUR; production sets its
 * own in the override file. */
static const char default_text[] =
    "# Kassa built-in method rules (sandbox defaults)\n"
    "country AT EUR\ncountry AU AUD\ncountry BE EUR\ncountry CA CAD\ncountry CH CHF\n"
    "country CZ CZK\ncountry DE EUR\ncountry DK DKK\ncountry ES EUR\ncountry FI EUR\n"
    "country FR EUR\ncountry GB GBP\ncountry GR EUR\ncountry HU HUF\ncountry IE EUR\n"
    "country IT EUR\ncountry MX MXN\ncountry NL EUR\ncountry NO NOK\ncountry NZ NZD\n"
    "country PL PLN\ncountry PT EUR\ncountry RO RON\ncountry SE SEK\ncountry SK EUR\n"
    "country US USD\n"
    "# sandbox exchange rates: 1 X = r EUR\n"
    "rate USD EUR 0.88\nrate GBP EUR 1.17\nrate PLN EUR 0.23\nrate CHF EUR 1.06\n"
    "rate SEK EUR 0.088\nrate NOK EUR 0.085\nrate DKK EUR 0.134\nrate CZK EUR 0.04\n"
    "rate HUF EUR 0.0025\nrate RON EUR 0.2\nrate AUD EUR 0.58\nrate CAD EUR 0.64\n"
    "rate NZD EUR 0.53\nrate MXN EUR 0.047\nrate HKD EUR 0.113\nrate SGD EUR 0.68\n"
    "rate CNY EUR 0.122\nrate JPY EUR 0.0059\nrate KRW EUR 0.00064\nrate PHP EUR 0.0152\n"
    "rate IDR EUR 0.000054\nrate MYR EUR 0.2\nrate THB EUR 0.026\n"
    "method name=klarna_pay_now provider=klarna label=\"Klarna Pay Now\" currencies=EUR,GBP,PLN"
    " countries=AT,BE,CH,DE,ES,GB,IT,NL,PL limit_currency=EUR min=1.00 max=5000.00"
    " attempt_ttl=48h manual_capture=no\n"
    "method name=klarna_pay_later provider=klarna label=\"Klarna Pay Later\""
    " currencies=AUD,CAD,CHF,CZK,DKK,EUR,GBP,HUF,MXN,NOK,NZD,PLN,RON,SEK,USD"
    " countries=AT,AU,BE,CA,CH,CZ,DE,DK,ES,FI,FR,GB,GR,HU,IE,IT,MX,NL,NO,NZ,PL,PT,RO,SE,SK,US"
    " local_currency=yes limit_currency=EUR min=1.00 max=10000.00 attempt_ttl=48h"
    " auth_ttl=28d auth_max=180d manual_capture=yes\n"
    "method name=klarna provider=klarna label=\"Klarna\""
    " currencies=AUD,CAD,CHF,CZK,DKK,EUR,GBP,HUF,MXN,NOK,NZD,PLN,RON,SEK,USD"
    " countries=AT,AU,BE,CA,CH,CZ,DE,DK,ES,FI,FR,GB,GR,HU,IE,IT,MX,NL,NO,NZ,PL,PT,RO,SE,SK,US"
    " local_currency=yes limit_currency=EUR min=1.00 max=10000.00 attempt_ttl=48h"
    " auth_ttl=28d auth_max=180d manual_capture=yes\n"
    "method name=alipay provider=alipay label=\"Alipay+\""
    " currencies=EUR,GBP,CHF,USD,HKD,SGD,AUD,CNY,JPY,KRW,PHP,IDR,MYR,THB countries=*"
    " limit_currency=USD min=0.01 max=10000.00 attempt_ttl=14m manual_capture=no\n";

#define TOKENS_MAX 24 /* a method line has 15 keys at most */

const char *rules_default_text(void)
{
    return default_text;
}

void rules_init(rules_table *t)
{
    K_ASSERT(t != NULL);
    memset(t, 0, sizeof *t);
}

void rules_init_default(rules_table *t)
{
    char err[LIMIT_RULE_MESSAGE_MAX];
    rules_init(t);
    k_status st = rules_load(t, default_text, sizeof default_text - 1, err);
    K_ASSERT(st == K_OK);
}

/* ---------------------------------------------------------------- lookups */

static bool is_upper_code(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[n] == '\0';
}

/* "se" or "SE" -> "SE"; false unless two ASCII letters. */
static bool country_norm(const char *in, char out[3])
{
    if (in == NULL || strlen(in) != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        char ch = in[i];
        out[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    out[2] = '\0';
    return is_upper_code(out, 2);
}

const rule_method *rules_method_find(const rules_table *t, const char *name)
{
    K_ASSERT(t != NULL);
    for (size_t i = 0; name != NULL && i < t->methods_len; i++)
        if (strcmp(t->methods[i].name, name) == 0)
            return &t->methods[i];
    return NULL;
}

static const rule_local *local_find(const rules_table *t, const char *country)
{
    for (size_t i = 0; i < t->locals_len; i++)
        if (strcmp(t->locals[i].country, country) == 0)
            return &t->locals[i];
    return NULL;
}

static bool method_has_currency(const rule_method *m, const char *code)
{
    for (size_t i = 0; i < m->currencies_len; i++)
        if (strcmp(m->currencies[i], code) == 0)
            return true;
    return m->any_currency;
}

static bool method_has_country(const rule_method *m, const char *code)
{
    for (size_t i = 0; i < m->countries_len; i++)
        if (strcmp(m->countries[i], code) == 0)
            return true;
    return m->any_country;
}

/* round(a * b / d) half to even, exactly; false when it does not fit or is 0. */
static bool rate_muldiv(int64_t a, int64_t b, int64_t d, int64_t *out)
{
    K_ASSERT(a > 0 && b > 0 && d > 0);
    __int128 n = (__int128)a * b;
    __int128 q = n / d, r = n % d;
    if (r * 2 > d || (r * 2 == d && (q & 1) != 0))
        q++;
    if (q <= 0 || q > INT64_MAX)
        return false;
    *out = (int64_t)q;
    return true;
}

/* A configured rate from -> to, or the inverse of to -> from. */
static bool rate_leg(const rules_table *t, const char *from, const char *to, int64_t *rate_e9)
{
    for (size_t i = 0; i < t->rates_len; i++) {
        const rule_rate *r = &t->rates[i];
        if (strcmp(r->from, from) == 0 && strcmp(r->to, to) == 0) {
            *rate_e9 = r->rate_e9;
            return true;
        }
    }
    for (size_t i = 0; i < t->rates_len; i++) {
        const rule_rate *r = &t->rates[i];
        if (strcmp(r->from, to) == 0 && strcmp(r->to, from) == 0)
            return rate_muldiv(RATE_SCALE, RATE_SCALE, r->rate_e9, rate_e9);
    }
    return false;
}

k_status rules_rate(const rules_table *t, const char *from, const char *to, int64_t *rate_e9)
{
    K_ASSERT(t != NULL && from != NULL && to != NULL && rate_e9 != NULL);
    if (strcmp(from, to) == 0) {
        *rate_e9 = RATE_SCALE;
        return K_OK;
    }
    if (rate_leg(t, from, to, rate_e9))
        return K_OK;
    /* Through one currency that has a rate with `from` (first in table order). */
    for (size_t i = 0; i < t->rates_len; i++) {
        const rule_rate *r = &t->rates[i];
        const char *via = strcmp(r->from, from) == 0 ? r->to
                          : strcmp(r->to, from) == 0 ? r->from
                                                     : NULL;
        int64_t a = 0, b = 0;
        if (via != NULL && rate_leg(t, from, via, &a) && rate_leg(t, via, to, &b))
            return rate_muldiv(a, b, RATE_SCALE, rate_e9) ? K_OK : K_ETOOBIG;
    }
    return K_ENOTFOUND;
}

/* ----------------------------------------------------------------- checks */

static rule_param refuse(rule_refusal *why, rule_param p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rule_param refuse(rule_refusal *why, rule_param p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    why->param = p;
    return p;
}

/* rate_e9 as the shortest decimal: 880000000 -> "0.88", 10^9 -> "1". */
static void rate_text(int64_t rate_e9, char out[32])
{
    int n = snprintf(out, 32, "%lld.%09lld", (long long)(rate_e9 / RATE_SCALE),
                     (long long)(rate_e9 % RATE_SCALE));
    K_ASSERT(n > 0 && n < 32);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

/* Country checks; country is a normalised code. */
static rule_param check_country(const rules_table *t, const rule_method *m, const char *cur,
                                const char *country, rule_refusal *why)
{
    if (!method_has_country(m, country))
        return refuse(why, RULE_E_COUNTRY, "%s is not available in country %s", m->label, country);
    if (!m->local_currency)
        return RULE_OK;
    const rule_local *l = local_find(t, country);
    if (l == NULL)
        return refuse(why, RULE_E_COUNTRY,
                      "%s needs the local currency of country %s, and none is configured", m->label,
                      country);
    if (strcmp(l->currency, cur) != 0)
        return refuse(why, RULE_E_CURRENCY, "%s in country %s requires currency %s (%s given)",
                      m->label, country, l->currency, cur);
    return RULE_OK;
}

/* Amount against min/max after conversion to the limit currency. */
static rule_param check_amount(const rules_table *t, const rule_method *m, const currency_info *cur,
                               int64_t amount, rule_refusal *why)
{
    if (amount <= 0)
        return refuse(why, RULE_E_AMOUNT, "amount must be positive");
    const currency_info *lim = currency_find(m->limit_currency);
    K_ASSERT(lim != NULL);
    int64_t rate = 0, conv = 0;
    if (rules_rate(t, cur->code, lim->code, &rate) != K_OK)
        return refuse(why, RULE_E_CURRENCY, "no exchange rate from %s to %s for %s's limits",
                      cur->code, lim->code, m->label);
    if (money_convert(amount, cur, lim, rate, &conv) != K_OK)
        return refuse(why, RULE_E_AMOUNT, "amount is too large");
    if (conv >= m->min_amount && conv <= m->max_amount)
        return RULE_OK;

    char limit[32], given[32], converted[32], rtext[32], detail[128];
    money_decimal(conv < m->min_amount ? m->min_amount : m->max_amount, lim, limit, sizeof limit);
    money_decimal(amount, cur, given, sizeof given);
    if (cur == lim) {
        snprintf(detail, sizeof detail, "%s %s given", given, cur->code);
    } else {
        money_decimal(conv, lim, converted, sizeof converted);
        rate_text(rate, rtext);
        snprintf(detail, sizeof detail, "%s %s given = %s %s at rate %s", given, cur->code,
                 converted, lim->code, rtext);
    }
    return refuse(why, RULE_E_AMOUNT, "amount must be at %s %s %s (%s)",
                  conv < m->min_amount ? "least" : "most", limit, lim->code, detail);
}

static rule_param method_check(const rules_table *t, const rule_method *m, const char *currency,
                               const char *country, int64_t amount, rule_refusal *why)
{
    if (!m->enabled)
        return refuse(why, RULE_E_METHOD, "%s is not enabled", m->label);
    const currency_info *cur = currency_find(currency);
    if (cur == NULL)
        return refuse(why, RULE_E_CURRENCY, "unknown currency '%s'", currency ? currency : "");
    if (!method_has_currency(m, cur->code))
        return refuse(why, RULE_E_CURRENCY, "%s does not support currency %s", m->label, cur->code);
    if (country != NULL && country[0] != '\0') {
        char cc[3];
        if (!country_norm(country, cc))
            return refuse(why, RULE_E_COUNTRY, "unknown country '%s'", country);
        rule_param p = check_country(t, m, cur->code, cc, why);
        if (p != RULE_OK)
            return p;
    }
    return check_amount(t, m, cur, amount, why);
}

rule_param rules_check(const rules_table *t, const char *method, const char *currency,
                       const char *country, int64_t amount, rule_refusal *why)
{
    K_ASSERT(t != NULL && why != NULL);
    why->param = RULE_OK;
    why->message[0] = '\0';
    const rule_method *m = rules_method_find(t, method);
    if (m == NULL)
        return refuse(why, RULE_E_METHOD, "unknown payment method '%s'", method ? method : "");
    return method_check(t, m, currency, country, amount, why);
}

size_t rules_available(const rules_table *t, const char *currency, const char *country,
                       int64_t amount, const rule_method **out, size_t cap)
{
    K_ASSERT(t != NULL && (out != NULL || cap == 0));
    size_t n = 0;
    for (size_t i = 0; i < t->methods_len; i++) {
        rule_refusal why;
        if (method_check(t, &t->methods[i], currency, country, amount, &why) != RULE_OK)
            continue;
        if (n < cap)
            out[n] = &t->methods[i];
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- parsing */

typedef struct {
    rules_table *t; /* the working copy */
    int line;
    char *err;
    int method_line[LIMIT_RULE_METHODS_MAX]; /* where each method was (re)defined */
} parse_ctx;

static k_status parse_fail(parse_ctx *c, k_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static k_status parse_fail(parse_ctx *c, k_status st, const char *fmt, ...)
{
    /* line 0: a method from an earlier load broken by this one */
    int n = c->line > 0 ? snprintf(c->err, LIMIT_RULE_MESSAGE_MAX, "line %d: ", c->line)
                        : snprintf(c->err, LIMIT_RULE_MESSAGE_MAX, "earlier rules: ");
    K_ASSERT(n > 0 && n < LIMIT_RULE_MESSAGE_MAX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, (size_t)(LIMIT_RULE_MESSAGE_MAX - n), fmt, ap);
    va_end(ap);
    return st;
}

/* Copies a token into a C string of cap bytes; false when it does not fit. */
static bool tok_copy(k_str s, char *out, size_t cap)
{
    if (s.len >= cap)
        return false;
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

/* Splits a line into tokens; `#` outside quotes ends it. */
static k_status tokenize(parse_ctx *c, k_str line, k_str *tok, size_t *n)
{
    size_t i = 0;
    *n = 0;
    for (;;) {
        while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
            i++;
        if (i == line.len || line.ptr[i] == '#')
            return K_OK;
        if (*n == TOKENS_MAX)
            return parse_fail(c, K_ETOOBIG, "more than %d tokens", TOKENS_MAX);
        size_t start = i;
        bool quoted = false;
        while (i < line.len && (quoted || (line.ptr[i] != ' ' && line.ptr[i] != '\t'))) {
            if (line.ptr[i] == '"')
                quoted = !quoted;
            i++;
        }
        if (quoted)
            return parse_fail(c, K_EINVAL, "unterminated quote");
        tok[(*n)++] = (k_str){line.ptr + start, i - start};
    }
}

/* A method being parsed: the method plus the raw amounts (they need the
 * limit currency, which may come later on the line). */
typedef struct {
    rule_method m;
    char min_text[32];
    char max_text[32];
} method_draft;

typedef enum {
    KT_IDENT,
    KT_LABEL,
    KT_BOOL,
    KT_CURRENCIES,
    KT_COUNTRIES,
    KT_CURRENCY,
    KT_AMOUNT,
    KT_DURATION
} key_type;

typedef struct {
    const char *key;
    key_type type;
    size_t offset; /* into method_draft */
    bool required;
} method_key;

#define DRAFT(field) offsetof(method_draft, field)

static const method_key method_keys[] = {
    {"name", KT_IDENT, DRAFT(m.name), true},
    {"provider", KT_IDENT, DRAFT(m.provider), true},
    {"label", KT_LABEL, DRAFT(m.label), true},
    {"currencies", KT_CURRENCIES, DRAFT(m), true},
    {"countries", KT_COUNTRIES, DRAFT(m), true},
    {"local_currency", KT_BOOL, DRAFT(m.local_currency), false},
    {"limit_currency", KT_CURRENCY, DRAFT(m.limit_currency), true},
    {"min", KT_AMOUNT, DRAFT(min_text), true},
    {"max", KT_AMOUNT, DRAFT(max_text), true},
    {"attempt_ttl", KT_DURATION, DRAFT(m.attempt_ttl_s), true},
    {"auth_ttl", KT_DURATION, DRAFT(m.auth_ttl_s), false},
    {"auth_max", KT_DURATION, DRAFT(m.auth_max_s), false},
    {"manual_capture", KT_BOOL, DRAFT(m.manual_capture), false},
    {"enabled", KT_BOOL, DRAFT(m.enabled), false},
};

static k_status set_ident(parse_ctx *c, const char *key, k_str v, char *out)
{
    bool ok = v.len > 0 && tok_copy(v, out, RULE_NAME_MAX);
    for (size_t i = 0; ok && i < v.len; i++)
        ok = (v.ptr[i] >= 'a' && v.ptr[i] <= 'z') || (v.ptr[i] >= '0' && v.ptr[i] <= '9') ||
             v.ptr[i] == '_';
    if (!ok)
        return parse_fail(c, K_EINVAL, "%s must be 1 to %d of [a-z0-9_]", key, RULE_NAME_MAX - 1);
    return K_OK;
}

static k_status set_label(parse_ctx *c, k_str v, char *out)
{
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
        v = (k_str){v.ptr + 1, v.len - 2};
    bool ok = v.len > 0 && tok_copy(v, out, RULE_LABEL_MAX);
    for (size_t i = 0; ok && i < v.len; i++)
        ok = (unsigned char)v.ptr[i] >= 0x20 && v.ptr[i] != '"' && v.ptr[i] != 0x7f;
    if (!ok)
        return parse_fail(c, K_EINVAL, "label must be 1 to %d printable bytes", RULE_LABEL_MAX - 1);
    return K_OK;
}

static k_status set_bool(parse_ctx *c, const char *key, k_str v, bool *out)
{
    if (k_str_eq_c(v, "yes") || k_str_eq_c(v, "no")) {
        *out = k_str_eq_c(v, "yes");
        return K_OK;
    }
    return parse_fail(c, K_EINVAL, "%s must be yes or no, not '%.*s'", key, (int)v.len, v.ptr);
}

static k_status set_currency(parse_ctx *c, k_str v, char out[4])
{
    char code[4];
    const currency_info *ci = tok_copy(v, code, sizeof code) ? currency_find(code) : NULL;
    if (ci == NULL)
        return parse_fail(c, K_EINVAL, "unknown currency '%.*s'", (int)v.len, v.ptr);
    memcpy(out, ci->code, 4);
    return K_OK;
}

static k_status set_country(parse_ctx *c, k_str v, char out[3])
{
    char code[3];
    if (!tok_copy(v, code, sizeof code) || !country_norm(code, out))
        return parse_fail(c, K_EINVAL, "bad country code '%.*s'", (int)v.len, v.ptr);
    return K_OK;
}

/* "EUR,GBP" or "*" into the method's currency or country list. */
static k_status set_list(parse_ctx *c, k_str v, rule_method *m, bool currencies)
{
    if (k_str_eq_c(v, "*")) {
        *(currencies ? &m->any_currency : &m->any_country) = true;
        return K_OK;
    }
    size_t cap = currencies ? LIMIT_RULE_CURRENCIES_MAX : LIMIT_RULE_COUNTRIES_MAX;
    size_t *len = currencies ? &m->currencies_len : &m->countries_len;
    size_t start = 0;
    while (start <= v.len) {
        size_t end = start;
        while (end < v.len && v.ptr[end] != ',')
            end++;
        if (*len == cap)
            return parse_fail(c, K_ETOOBIG, "more than %zu %s", cap,
                              currencies ? "currencies" : "countries");
        k_str item = {v.ptr + start, end - start};
        k_status st = currencies ? set_currency(c, item, m->currencies[*len])
                                 : set_country(c, item, m->countries[*len]);
        if (st != K_OK)
            return st;
        (*len)++;
        start = end + 1;
    }
    return K_OK;
}

/* "48h", "14m", "28d", "90s", "0" into seconds. */
static k_status set_duration(parse_ctx *c, const char *key, k_str v, int64_t *out)
{
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    size_t digits = 0;
    int64_t n = 0, mult = 1;
    while (digits < v.len && v.ptr[digits] >= '0' && v.ptr[digits] <= '9') {
        if (!money_mul(n, 10, &n) || !money_add(n, v.ptr[digits] - '0', &n))
            return parse_fail(c, K_EINVAL, "%s is too large", key);
        digits++;
    }
    bool ok = digits > 0 && v.len - digits <= 1;
    if (ok && v.len - digits == 1) {
        ok = false;
        for (size_t i = 0; i < K_ARRAY_LEN(units); i++)
            if (units[i].unit == v.ptr[digits]) {
                mult = units[i].seconds;
                ok = true;
            }
    }
    if (!ok || !money_mul(n, mult, out))
        return parse_fail(c, K_EINVAL, "%s must be a number with unit s, m, h or d, not '%.*s'",
                          key, (int)v.len, v.ptr);
    return K_OK;
}

static k_status set_key(parse_ctx *c, const method_key *k, method_draft *d, k_str v)
{
    void *field = (char *)d + k->offset;
    switch (k->type) {
    case KT_IDENT:
        return set_ident(c, k->key, v, field);
    case KT_LABEL:
        return set_label(c, v, field);
    case KT_BOOL:
        return set_bool(c, k->key, v, field);
    case KT_CURRENCIES:
        return set_list(c, v, field, true);
    case KT_COUNTRIES:
        return set_list(c, v, field, false);
    case KT_CURRENCY:
        return set_currency(c, v, field);
    case KT_AMOUNT:
        if (!tok_copy(v, field, 32))
            return parse_fail(c, K_EINVAL, "%s is too long", k->key);
        return K_OK;
    case KT_DURATION:
        return set_duration(c, k->key, v, field);
    }
    return parse_fail(c, K_EINVAL, "bad key type");
}

/* Checks that need the whole line: amounts in the limit currency, ranges. */
static k_status draft_finish(parse_ctx *c, method_draft *d)
{
    rule_method *m = &d->m;
    const currency_info *lim = currency_find(m->limit_currency);
    K_ASSERT(lim != NULL);
    if (money_parse_decimal(d->min_text, lim, &m->min_amount) != K_OK)
        return parse_fail(c, K_EINVAL, "min '%s' is not an amount in %s", d->min_text, lim->code);
    if (money_parse_decimal(d->max_text, lim, &m->max_amount) != K_OK)
        return parse_fail(c, K_EINVAL, "max '%s' is not an amount in %s", d->max_text, lim->code);
    if (m->min_amount < 1 || m->max_amount < m->min_amount)
        return parse_fail(c, K_EINVAL, "need 0 < min <= max");
    if (m->attempt_ttl_s <= 0)
        return parse_fail(c, K_EINVAL, "attempt_ttl must be positive");
    if (m->auth_max_s < m->auth_ttl_s)
        return parse_fail(c, K_EINVAL, "auth_max must be at least auth_ttl");
    if (m->manual_capture && m->auth_ttl_s <= 0)
        return parse_fail(c, K_EINVAL, "manual_capture=yes needs auth_ttl");
    return K_OK;
}

static const method_key *method_key_find(k_str key)
{
    for (size_t i = 0; i < K_ARRAY_LEN(method_keys); i++)
        if (k_str_eq_c(key, method_keys[i].key))
            return &method_keys[i];
    return NULL;
}

static k_status parse_method(parse_ctx *c, const k_str *tok, size_t n)
{
    method_draft d;
    bool seen[K_ARRAY_LEN(method_keys)] = {false};
    memset(&d, 0, sizeof d);
    d.m.enabled = true;
    for (size_t i = 1; i < n; i++) {
        const char *eq = memchr(tok[i].ptr, '=', tok[i].len);
        if (eq == NULL)
            return parse_fail(c, K_EINVAL, "expected key=value, got '%.*s'", (int)tok[i].len,
                              tok[i].ptr);
        k_str key = {tok[i].ptr, (size_t)(eq - tok[i].ptr)};
        k_str val = {eq + 1, tok[i].len - key.len - 1};
        const method_key *k = method_key_find(key);
        if (k == NULL)
            return parse_fail(c, K_EINVAL, "unknown key '%.*s'", (int)key.len, key.ptr);
        if (seen[k - method_keys])
            return parse_fail(c, K_EINVAL, "key '%s' given twice", k->key);
        seen[k - method_keys] = true;
        k_status st = set_key(c, k, &d, val);
        if (st != K_OK)
            return st;
    }
    for (size_t i = 0; i < K_ARRAY_LEN(method_keys); i++)
        if (method_keys[i].required && !seen[i])
            return parse_fail(c, K_EINVAL, "missing key '%s'", method_keys[i].key);
    k_status st = draft_finish(c, &d);
    if (st != K_OK)
        return st;

    rules_table *t = c->t;
    size_t at = 0;
    while (at < t->methods_len && strcmp(t->methods[at].name, d.m.name) != 0)
        at++;
    if (at == LIMIT_RULE_METHODS_MAX)
        return parse_fail(c, K_ETOOBIG, "more than %d methods", LIMIT_RULE_METHODS_MAX);
    t->methods[at] = d.m;
    c->method_line[at] = c->line;
    if (at == t->methods_len)
        t->methods_len++;
    return K_OK;
}

static k_status parse_rate(parse_ctx *c, const k_str *tok, size_t n)
{
    rule_rate r;
    char text[32];
    if (n != 4)
        return parse_fail(c, K_EINVAL, "expected: rate FROM TO VALUE");
    k_status st = set_currency(c, tok[1], r.from);
    if (st == K_OK)
        st = set_currency(c, tok[2], r.to);
    if (st != K_OK)
        return st;
    if (strcmp(r.from, r.to) == 0)
        return parse_fail(c, K_EINVAL, "rate from %s to itself", r.from);
    if (!tok_copy(tok[3], text, sizeof text) || money_rate_parse(text, &r.rate_e9) != K_OK)
        return parse_fail(c, K_EINVAL, "bad rate '%.*s' (positive, at most 9 decimals)",
                          (int)tok[3].len, tok[3].ptr);
    rules_table *t = c->t;
    size_t at = 0;
    while (at < t->rates_len &&
           (strcmp(t->rates[at].from, r.from) != 0 || strcmp(t->rates[at].to, r.to) != 0))
        at++;
    if (at == LIMIT_RULE_RATES_MAX)
        return parse_fail(c, K_ETOOBIG, "more than %d rates", LIMIT_RULE_RATES_MAX);
    t->rates[at] = r;
    if (at == t->rates_len)
        t->rates_len++;
    return K_OK;
}

static k_status parse_country(parse_ctx *c, const k_str *tok, size_t n)
{
    rule_local l;
    if (n != 3)
        return parse_fail(c, K_EINVAL, "expected: country CC CURRENCY");
    k_status st = set_country(c, tok[1], l.country);
    if (st == K_OK)
        st = set_currency(c, tok[2], l.currency);
    if (st != K_OK)
        return st;
    rules_table *t = c->t;
    size_t at = 0;
    while (at < t->locals_len && strcmp(t->locals[at].country, l.country) != 0)
        at++;
    if (at == LIMIT_RULE_LOCALS_MAX)
        return parse_fail(c, K_ETOOBIG, "more than %d countries", LIMIT_RULE_LOCALS_MAX);
    t->locals[at] = l;
    if (at == t->locals_len)
        t->locals_len++;
    return K_OK;
}

static k_status parse_line(parse_ctx *c, k_str line)
{
    k_str tok[TOKENS_MAX];
    size_t n = 0;
    if (line.len > LIMIT_RULES_LINE_MAX)
        return parse_fail(c, K_ETOOBIG, "longer than %d bytes", LIMIT_RULES_LINE_MAX);
    for (size_t i = 0; i < line.len; i++)
        if ((unsigned char)line.ptr[i] < 0x20 && line.ptr[i] != '\t')
            return parse_fail(c, K_EINVAL, "control character 0x%02x", line.ptr[i]);
    k_status st = tokenize(c, line, tok, &n);
    if (st != K_OK || n == 0)
        return st;
    if (k_str_eq_c(tok[0], "method"))
        return parse_method(c, tok, n);
    if (k_str_eq_c(tok[0], "rate"))
        return parse_rate(c, tok, n);
    if (k_str_eq_c(tok[0], "country"))
        return parse_country(c, tok, n);
    return parse_fail(c, K_EINVAL, "unknown line '%.*s' (expected method, rate or country)",
                      (int)tok[0].len, tok[0].ptr);
}

/* Whole-table checks, reported on the method's line. */
static k_status validate_method(parse_ctx *c, size_t i)
{
    const rule_method *m = &c->t->methods[i];
    c->line = c->method_line[i];
    for (size_t k = 0; k < m->currencies_len; k++) {
        int64_t rate = 0;
        if (rules_rate(c->t, m->currencies[k], m->limit_currency, &rate) != K_OK)
            return parse_fail(c, K_EINVAL, "method '%s': no rate from %s to %s", m->name,
                              m->currencies[k], m->limit_currency);
    }
    for (size_t k = 0; m->local_currency && k < m->countries_len; k++) {
        const rule_local *l = local_find(c->t, m->countries[k]);
        if (l == NULL)
            return parse_fail(c, K_EINVAL, "method '%s': no 'country %s' line for local_currency",
                              m->name, m->countries[k]);
        if (!method_has_currency(m, l->currency))
            return parse_fail(c, K_EINVAL, "method '%s': %s's currency %s is not in currencies",
                              m->name, l->country, l->currency);
    }
    return K_OK;
}

k_status rules_load(rules_table *t, const char *text, size_t len, char *err)
{
    K_ASSERT(t != NULL && err != NULL && (text != NULL || len == 0));
    err[0] = '\0';
    if (len > LIMIT_RULES_TEXT_MAX) {
        snprintf(err, LIMIT_RULE_MESSAGE_MAX, "rules text larger than %d bytes",
                 LIMIT_RULES_TEXT_MAX);
        return K_ETOOBIG;
    }
    rules_table work = *t;
    parse_ctx c = {.t = &work, .line = 0, .err = err};
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        k_str line = {text + pos, end - pos};
        if (line.len > 0 && line.ptr[line.len - 1] == '\r')
            line.len--;
        c.line++;
        k_status st = parse_line(&c, line);
        if (st != K_OK)
            return st;
        pos = end + 1;
    }
    for (size_t i = 0; i < work.methods_len; i++) {
        k_status st = validate_method(&c, i);
        if (st != K_OK)
            return st;
    }
    *t = work;
    return K_OK;
}
