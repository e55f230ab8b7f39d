/*
 * money.h - money as int64_t minor units with its ISO 4217 currency beside it.
 *
 * Never floating point. Every sum is checked for overflow (money_add/money_sub
 * return false instead of wrapping). Currency exponents come from one table
 * (zero-decimal JPY/KRW/HUF... and three-decimal BHD/KWD/JOD/OMR/TND/IQD/LYD).
 * Conversion uses a configured rate given as a decimal string ("0.88"), held as
 * an integer scaled by 10^9, with ONE rounding rule: round half to even
 * (banker's rounding) on the final minor unit. Pure: no I/O.
 */
#ifndef KASSA_MONEY_H
#define KASSA_MONEY_H

#include "../base/common.h"

#define RATE_SCALE 1000000000LL /* rates are held as rate * 10^9 */

typedef struct {
    char code[4];     /* upper-case ISO 4217, e.g. "EUR" */
    uint16_t numeric; /* ISO numeric, e.g. 978 */
    uint8_t exponent; /* minor unit digits: 2 for EUR, 0 for JPY, 3 for KWD */
} currency_info;

/* Looks up a code case-insensitively ("eur" or "EUR"); NULL when unknown. */
const currency_info *currency_find(const char *code);
/* Lower-cases a 3-letter code into out[4] (Stripe writes currencies lower-case). */
void currency_lower(const char *code, char out[4]);
void currency_upper(const char *code, char out[4]);

bool money_add(int64_t a, int64_t b, int64_t *out); /* false on overflow */
bool money_sub(int64_t a, int64_t b, int64_t *out);
bool money_mul(int64_t a, int64_t b, int64_t *out);

/* Parses a decimal rate "0.88", "1", "1.0850" (<= 9 decimals, > 0) into rate*10^9. */
k_status money_rate_parse(const char *s, int64_t *rate_e9);
/* Converts amount (minor units of `from`) to minor units of `to` at rate_e9
 * (units of `to` per unit of `from`), rounding half to even. K_ETOOBIG on overflow. */
k_status money_convert(int64_t amount, const currency_info *from, const currency_info *to,
                       int64_t rate_e9, int64_t *out);

/* Decimal text of an amount: 123456 EUR -> "1234.56"; JPY -> "123456"; KWD 1234 -> "1.234".
 * Writes into out (cap bytes). For ECommPay-style major amounts and reports. */
void money_decimal(int64_t amount, const currency_info *cur, char *out, size_t cap);
/* Parses "1234.56" (major units, no exponent notation) into minor units of cur. */
k_status money_parse_decimal(const char *s, const currency_info *cur, int64_t *out);

/* Formats for a locale ("en", "de", "fr", "fi", "sv"; others fall back to en):
 * en "€1,234.56", de "1.234,56 €", fr "1 234,56 €" (narrow nbsp), fi/sv "1 234,56 €".
 * Symbols for EUR € GBP £ USD $ SEK/NOK/DKK kr PLN zł CHF CHF, else the code. */
void money_format(int64_t amount, const currency_info *cur, const char *locale, char *out,
                  size_t cap);

#endif
