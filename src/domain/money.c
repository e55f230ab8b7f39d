/*
 * money.c - ISO 4217 currencies, overflow-checked arithmetic on minor units,
 * exchange-rate parsing and conversion, and money as text (see money.h).
 *
 * Pure: no I/O, no clock, no locale from the environment. One rounding rule
 * for every conversion: round half to even on the final minor unit, computed
 * exactly in 128-bit integers. Text output goes into caller buffers; a buffer
 * too small for a 64-bit amount is a programmer error (K_ASSERT), because
 * truncated money text must never reach a customer.
 */
#include "money.h"

#include <stdio.h>
#include <string.h>

/* ISO 4217 list of active codes with a minor unit (funds included, metals and
 * the X-codes without a minor unit left out), sorted by code. Exponents as ISO
 * publishes them: HUF and TWD are 2 (even though their coins are gone). */
static const currency_info currencies[] = {
    {"AED", 784, 2}, {"AFN", 971, 2}, {"ALL", 8, 2},   {"AMD", 51, 2},  {"ANG", 532, 2},
    {"AOA", 973, 2}, {"ARS", 32, 2},  {"AUD", 36, 2},  {"AWG", 533, 2}, {"AZN", 944, 2},
    {"BAM", 977, 2}, {"BBD", 52, 2},  {"BDT", 50, 2},  {"BGN", 975, 2}, {"BHD", 48, 3},
    {"BIF", 108, 0}, {"BMD", 60, 2},  {"BND", 96, 2},  {"BOB", 68, 2},  {"BOV", 984, 2},
    {"BRL", 986, 2}, {"BSD", 44, 2},  {"BTN", 64, 2},  {"BWP", 72, 2},  {"BYN", 933, 2},
    {"BZD", 84, 2},  {"CAD", 124, 2}, {"CDF", 976, 2}, {"CHE", 947, 2}, {"CHF", 756, 2},
    {"CHW", 948, 2}, {"CLF", 990, 4}, {"CLP", 152, 0}, {"CNY", 156, 2}, {"COP", 170, 2},
    {"COU", 970, 2}, {"CRC", 188, 2}, {"CUC", 931, 2}, {"CUP", 192, 2}, {"CVE", 132, 2},
    {"CZK", 203, 2}, {"DJF", 262, 0}, {"DKK", 208, 2}, {"DOP", 214, 2}, {"DZD", 12, 2},
    {"EGP", 818, 2}, {"ERN", 232, 2}, {"ETB", 230, 2}, {"EUR", 978, 2}, {"FJD", 242, 2},
    {"FKP", 238, 2}, {"GBP", 826, 2}, {"GEL", 981, 2}, {"GHS", 936, 2}, {"GIP", 292, 2},
    {"GMD", 270, 2}, {"GNF", 324, 0}, {"GTQ", 320, 2}, {"GYD", 328, 2}, {"HKD", 344, 2},
    {"HNL", 340, 2}, {"HTG", 332, 2}, {"HUF", 348, 2}, {"IDR", 360, 2}, {"ILS", 376, 2},
    {"INR", 356, 2}, {"IQD", 368, 3}, {"IRR", 364, 2}, {"ISK", 352, 0}, {"JMD", 388, 2},
    {"JOD", 400, 3}, {"JPY", 392, 0}, {"KES", 404, 2}, {"KGS", 417, 2}, {"KHR", 116, 2},
    {"KMF", 174, 0}, {"KPW", 408, 2}, {"KRW", 410, 0}, {"KWD", 414, 3}, {"KYD", 136, 2},
    {"KZT", 398, 2}, {"LAK", 418, 2}, {"LBP", 422, 2}, {"LKR", 144, 2}, {"LRD", 430, 2},
    {"LSL", 426, 2}, {"LYD", 434, 3}, {"MAD", 504, 2}, {"MDL", 498, 2}, {"MGA", 969, 2},
    {"MKD", 807, 2}, {"MMK", 104, 2}, {"MNT", 496, 2}, {"MOP", 446, 2}, {"MRU", 929, 2},
    {"MUR", 480, 2}, {"MVR", 462, 2}, {"MWK", 454, 2}, {"MXN", 484, 2}, {"MXV", 979, 2},
    {"MYR", 458, 2}, {"MZN", 943, 2}, {"NAD", 516, 2}, {"NGN", 566, 2}, {"NIO", 558, 2},
    {"NOK", 578, 2}, {"NPR", 524, 2}, {"NZD", 554, 2}, {"OMR", 512, 3}, {"PAB", 590, 2},
    {"PEN", 604, 2}, {"PGK", 598, 2}, {"PHP", 608, 2}, {"PKR", 586, 2}, {"PLN", 985, 2},
    {"PYG", 600, 0}, {"QAR", 634, 2}, {"RON", 946, 2}, {"RSD", 941, 2}, {"RUB", 643, 2},
    {"RWF", 646, 0}, {"SAR", 682, 2}, {"SBD", 90, 2},  {"SCR", 690, 2}, {"SDG", 938, 2},
    {"SEK", 752, 2}, {"SGD", 702, 2}, {"SHP", 654, 2}, {"SLE", 925, 2}, {"SOS", 706, 2},
    {"SRD", 968, 2}, {"SSP", 728, 2}, {"STN", 930, 2}, {"SVC", 222, 2}, {"SYP", 760, 2},
    {"SZL", 748, 2}, {"THB", 764, 2}, {"TJS", 972, 2}, {"TMT", 934, 2}, {"TND", 788, 3},
    {"TOP", 776, 2}, {"TRY", 949, 2}, {"TTD", 780, 2}, {"TWD", 901, 2}, {"TZS", 834, 2},
    {"UAH", 980, 2}, {"UGX", 800, 0}, {"USD", 840, 2}, {"USN", 997, 2}, {"UYI", 940, 0},
    {"UYU", 858, 2}, {"UYW", 927, 4}, {"UZS", 860, 2}, {"VED", 926, 2}, {"VES", 928, 2},
    {"VND", 704, 0}, {"VUV", 548, 0}, {"WST", 882, 2}, {"XAF", 950, 0}, {"XCD", 951, 2},
    {"XCG", 532, 2}, {"XOF", 952, 0}, {"XPF", 953, 0}, {"YER", 886, 2}, {"ZAR", 710, 2},
    {"ZMW", 967, 2}, {"ZWG", 924, 2},
};

/* Powers of ten for exponents and rate scaling; index = power. */
static const int64_t pow10_table[] = {
    1LL,           10LL,           100LL,           1000LL,      10000LL,
    100000LL,      1000000LL,      10000000LL,      100000000LL, 1000000000LL,
    10000000000LL, 100000000000LL, 1000000000000LL,
};

#define EXPONENT_MAX 4 /* CLF and UYW; the table holds nothing above */

static int ascii_upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

const currency_info *currency_find(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return NULL;
    char up[4];
    currency_upper(code, up);
    size_t lo = 0, hi = K_ARRAY_LEN(currencies);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(currencies[mid].code, up);
        if (c == 0)
            return &currencies[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void currency_lower(const char *code, char out[4])
{
    K_ASSERT(code != NULL);
    size_t i = 0;
    for (; i < 3 && code[i] != '\0'; i++)
        out[i] = (char)ascii_lower((unsigned char)code[i]);
    out[i] = '\0';
}

void currency_upper(const char *code, char out[4])
{
    K_ASSERT(code != NULL);
    size_t i = 0;
    for (; i < 3 && code[i] != '\0'; i++)
        out[i] = (char)ascii_upper((unsigned char)code[i]);
    out[i] = '\0';
}

bool money_add(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

bool money_sub(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

bool money_mul(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Digits [s, s+n) as a non-negative integer; false on overflow. */
static bool parse_digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        K_ASSERT(is_digit(s[i]));
        if (!money_mul(v, 10, &v) || !money_add(v, s[i] - '0', &v))
            return false;
    }
    *out = v;
    return true;
}

/* Parses "<digits>[.<digits>]" into value * 10^scale. More than `scale`
 * fraction digits are accepted only when the extra ones are zeros (exact). */
static k_status parse_fixed(const char *s, int scale, int64_t *out)
{
    K_ASSERT(scale >= 0 && scale <= 9);
    size_t int_len = 0;
    while (is_digit(s[int_len]))
        int_len++;
    if (int_len == 0)
        return K_EINVAL;
    const char *frac = s + int_len;
    size_t frac_len = 0;
    if (*frac == '.') {
        frac++;
        while (is_digit(frac[frac_len]))
            frac_len++;
        if (frac_len == 0)
            return K_EINVAL;
    }
    if (frac[frac_len] != '\0')
        return K_EINVAL;
    for (size_t i = (size_t)scale; i < frac_len; i++)
        if (frac[i] != '0')
            return K_EINVAL;
    size_t used = frac_len < (size_t)scale ? frac_len : (size_t)scale;
    int64_t ip = 0, fp = 0, v = 0;
    if (!parse_digits(s, int_len, &ip) || !parse_digits(frac, used, &fp))
        return K_ETOOBIG;
    fp *= pow10_table[(size_t)scale - used];
    if (!money_mul(ip, pow10_table[scale], &v) || !money_add(v, fp, &v))
        return K_ETOOBIG;
    *out = v;
    return K_OK;
}

k_status money_rate_parse(const char *s, int64_t *rate_e9)
{
    K_ASSERT(rate_e9 != NULL);
    if (s == NULL)
        return K_EINVAL;
    int64_t v = 0;
    k_status st = parse_fixed(s, 9, &v);
    if (st != K_OK)
        return st;
    if (v <= 0)
        return K_EINVAL;
    *rate_e9 = v;
    return K_OK;
}

/* n / d rounded half to even; d > 0. Exact on the magnitude, sign reapplied. */
static __int128 div_half_even(__int128 n, __int128 d)
{
    K_ASSERT(d > 0);
    bool neg = n < 0;
    __int128 a = neg ? -n : n;
    __int128 q = a / d;
    __int128 r = a % d;
    if (r * 2 > d || (r * 2 == d && (q & 1) != 0))
        q++;
    return neg ? -q : q;
}

k_status money_convert(int64_t amount, const currency_info *from, const currency_info *to,
                       int64_t rate_e9, int64_t *out)
{
    K_ASSERT(from != NULL && to != NULL && out != NULL);
    K_ASSERT(from->exponent <= EXPONENT_MAX && to->exponent <= EXPONENT_MAX);
    if (rate_e9 <= 0)
        return K_EINVAL;
    /* result = amount * rate / 10^9 * 10^(to_exp - from_exp), one rounding at the end. */
    __int128 num = 0, den = RATE_SCALE;
    if (__builtin_mul_overflow((__int128)amount, (__int128)rate_e9, &num))
        return K_ETOOBIG;
    if (to->exponent >= from->exponent) {
        if (__builtin_mul_overflow(num, (__int128)pow10_table[to->exponent - from->exponent], &num))
            return K_ETOOBIG;
    } else {
        den *= pow10_table[from->exponent - to->exponent];
    }
    __int128 q = div_half_even(num, den);
    if (q > INT64_MAX || q < INT64_MIN)
        return K_ETOOBIG;
    *out = (int64_t)q;
    return K_OK;
}

/* Magnitude of an amount without overflow on INT64_MIN. */
static uint64_t magnitude(int64_t amount)
{
    return amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
}

void money_decimal(int64_t amount, const currency_info *cur, char *out, size_t cap)
{
    K_ASSERT(cur != NULL && out != NULL);
    K_ASSERT(cur->exponent <= EXPONENT_MAX);
    uint64_t mag = magnitude(amount);
    const char *sign = amount < 0 ? "-" : "";
    int n;
    if (cur->exponent == 0) {
        n = snprintf(out, cap, "%s%llu", sign, (unsigned long long)mag);
    } else {
        uint64_t p = (uint64_t)pow10_table[cur->exponent];
        n = snprintf(out, cap, "%s%llu.%0*llu", sign, (unsigned long long)(mag / p),
                     (int)cur->exponent, (unsigned long long)(mag % p));
    }
    K_ASSERT(n > 0 && (size_t)n < cap);
}

k_status money_parse_decimal(const char *s, const currency_info *cur, int64_t *out)
{
    K_ASSERT(cur != NULL && out != NULL);
    if (s == NULL)
        return K_EINVAL;
    bool neg = *s == '-';
    int64_t v = 0;
    k_status st = parse_fixed(neg ? s + 1 : s, cur->exponent, &v);
    if (st != K_OK)
        return st;
    *out = neg ? -v : v;
    return K_OK;
}

/* How each locale writes numbers and where the symbol goes. Separators are
 * UTF-8: fr groups with U+202F NARROW NO-BREAK SPACE, fi/sv with U+00A0; the
 * space between number and a trailing symbol is U+00A0 (as CLDR/Intl do). */
typedef struct {
    const char *name;
    const char *group;
    const char *decimal;
    bool symbol_after; /* "1.234,56 €" rather than "€1,234.56" */
} locale_format;

#define NBSP  "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"

static const locale_format locales[] = {
    {"en", ",", ".", false}, {"de", ".", ",", true},  {"fr", NNBSP, ",", true},
    {"fi", NBSP, ",", true}, {"sv", NBSP, ",", true},
};

typedef struct {
    const char *code;
    const char *symbol;
    bool glyph; /* a sign (€ £ $) written against the number in en; words get a space */
} currency_symbol;

static const currency_symbol symbols[] = {
    {"EUR", "\xe2\x82\xac", true}, {"GBP", "\xc2\xa3", true}, {"USD", "$", true},
    {"SEK", "kr", false},          {"NOK", "kr", false},      {"DKK", "kr", false},
    {"PLN", "z\xc5\x82", false},   {"CHF", "CHF", false},
};

/* "de", "de-DE", "de_AT", "DE" -> the de entry; anything else -> en. */
static const locale_format *locale_pick(const char *locale)
{
    if (locale != NULL && locale[0] != '\0' && locale[1] != '\0' &&
        (locale[2] == '\0' || locale[2] == '-' || locale[2] == '_')) {
        char lang[3] = {(char)ascii_lower((unsigned char)locale[0]),
                        (char)ascii_lower((unsigned char)locale[1]), '\0'};
        for (size_t i = 0; i < K_ARRAY_LEN(locales); i++)
            if (strcmp(locales[i].name, lang) == 0)
                return &locales[i];
    }
    return &locales[0];
}

static const currency_symbol *symbol_pick(const currency_info *cur)
{
    for (size_t i = 0; i < K_ARRAY_LEN(symbols); i++)
        if (strcmp(symbols[i].code, cur->code) == 0)
            return &symbols[i];
    return NULL;
}

/* Bounded writer: every append checks the room left (a miss is a programmer
 * error: the caller's buffer cannot hold a 64-bit amount). */
typedef struct {
    char *out;
    size_t cap;
    size_t len;
} text_writer;

static void tw_put(text_writer *w, const char *s)
{
    size_t n = strlen(s);
    K_ASSERT(w->len + n < w->cap);
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
}

/* Integer part with group separators every three digits. */
static void tw_put_grouped(text_writer *w, uint64_t v, const char *group)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    K_ASSERT(n > 0 && (size_t)n < sizeof digits);
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            tw_put(w, group);
        char one[2] = {digits[i], '\0'};
        tw_put(w, one);
    }
}

void money_format(int64_t amount, const currency_info *cur, const char *locale, char *out,
                  size_t cap)
{
    K_ASSERT(cur != NULL && out != NULL && cap > 0);
    K_ASSERT(cur->exponent <= EXPONENT_MAX);
    const locale_format *lf = locale_pick(locale);
    const currency_symbol *cs = symbol_pick(cur);
    const char *sym = cs != NULL ? cs->symbol : cur->code;
    bool glyph = cs != NULL && cs->glyph;
    uint64_t mag = magnitude(amount);
    uint64_t p = (uint64_t)pow10_table[cur->exponent];
    text_writer w = {out, cap, 0};
    out[0] = '\0';

    if (amount < 0)
        tw_put(&w, "-");
    if (!lf->symbol_after) {
        tw_put(&w, sym);
        if (!glyph)
            tw_put(&w, NBSP);
    }
    tw_put_grouped(&w, mag / p, lf->group);
    if (cur->exponent > 0) {
        char frac[8];
        int n = snprintf(frac, sizeof frac, "%0*llu", (int)cur->exponent,
                         (unsigned long long)(mag % p));
        K_ASSERT(n == (int)cur->exponent);
        tw_put(&w, lf->decimal);
        tw_put(&w, frac);
    }
    if (lf->symbol_after) {
        tw_put(&w, NBSP);
        tw_put(&w, sym);
    }
}
