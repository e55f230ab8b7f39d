/*
 * i18n.h - every string a customer reads on Kassa's hosted pages, in English,
 * German, French, Finnish and Swedish, plus how the page's language is chosen:
 * an explicit locale (the Checkout Session's `locale`, `?locale=`, ECommPay's
 * `language_code`) wins, else the browser's Accept-Language (q-values
 * honoured), else English. Country names for the billing-country select live
 * here too, with each country's own currency (to preselect a sensible one).
 * Pure: no I/O, no allocation.
 */
#ifndef KASSA_CHECKOUT_I18N_H
#define KASSA_CHECKOUT_I18N_H

#include "../../base/common.h"

typedef enum { LANG_EN, LANG_DE, LANG_FR, LANG_FI, LANG_SV, LANG__COUNT } i18n_lang;

/* Message keys. Texts may hold one "{}" placeholder (see pages_fill). */
typedef enum {
    T_CHECKOUT_TITLE,
    T_ORDER_SUMMARY,
    T_COL_ITEM,
    T_COL_QTY,
    T_COL_UNIT,
    T_COL_TOTAL,
    T_TOTAL,
    T_PAYMENT_METHOD,
    T_M_KLARNA_PAY_NOW,
    T_M_KLARNA_PAY_LATER,
    T_M_KLARNA,
    T_M_KLARNA_HINT,
    T_M_ALIPAY,
    T_M_ALIPAY_HINT,
    T_EMAIL,
    T_EMAIL_HINT,
    T_COUNTRY,
    T_PAY_BUTTON, /* "Pay {}" */
    T_CANCEL,
    T_REDIRECT_NOTE,
    T_EXPIRED_TITLE,
    T_EXPIRED_BODY,
    T_NOTFOUND_TITLE,
    T_NOTFOUND_BODY,
    T_ERROR_TITLE,
    T_ERROR_BODY,
    T_BACK_TO_SHOP,
    T_PAID_TITLE,
    T_PAID_BODY, /* "... {} ..." amount */
    T_ORDER_REF,
    T_AMOUNT,
    T_FAILED_TITLE,
    T_TRY_AGAIN,
    T_PROCESSING_TITLE,
    T_PROCESSING_BODY,
    T_CHECK_NOW,
    T_CANCELED_TITLE,
    T_R_CUSTOMER_DECLINE,
    T_R_PROVIDER_DECLINE,
    T_R_EXPIRED,
    T_R_NOT_AVAILABLE,
    T_R_CANCELED,
    T_R_GENERIC,
    T_E_EMAIL,
    T_E_COUNTRY,
    T_E_METHOD,
    T_E_BUSY,
    T_LANGUAGE,
    T_PAID_BY,
    T_R_AUTH_FAILED,
    T_TEST_MODE,
    T_PAID_LATER_BODY,       /* "... {} ..." amount */
    T_PAID_INSTALMENTS_BODY, /* "... {} ..." amount */
    T_DUE_BY,
    T_INSTALMENTS,
    T_E_NOT_IN_COUNTRY, /* "... {} ..." country name */
    T_CHOOSE_OTHER,
    T_PAYING,
    T__COUNT
} i18n_key;

/* "en", "de", "fr", "fi", "sv". */
const char *i18n_code(i18n_lang lang);
/* The language's own name ("Deutsch"), for the language switcher. */
const char *i18n_native_name(i18n_lang lang);

/* Reads "de", "de-DE", "de_AT", "DE" ...; false for "auto", "", NULL or an
 * unsupported language. region (3 bytes) receives an upper-case alpha-2
 * region when the tag has one, else "". region may be NULL. */
bool i18n_parse(const char *locale, i18n_lang *out, char *region);

/* Best supported language of an Accept-Language header: highest q wins, ties
 * go to the earlier entry, q=0 entries are never chosen, "*" is ignored.
 * false when nothing supported is acceptable. region as in i18n_parse. */
bool i18n_accept(const char *accept_language, i18n_lang *out, char *region);

/* The page's language: the first of explicit[0..n) that parses, else
 * Accept-Language, else English. region gets the region of the tag that won
 * (may be NULL). */
i18n_lang i18n_pick(const char *const *explicit_locales, size_t n, const char *accept_language,
                    char *region);

/* The text of key in lang (never NULL, never empty). */
const char *i18n_t(i18n_lang lang, i18n_key key);

/* Countries the hosted page offers for the billing country, in display order. */
size_t i18n_country_count(void);
const char *i18n_country_code(size_t i);                 /* "DE" */
const char *i18n_country_currency(size_t i);             /* "EUR" */
const char *i18n_country_name(i18n_lang lang, size_t i); /* "Deutschland" */
/* Index of an alpha-2 code (case-insensitive), -1 when not offered. */
int i18n_country_find(const char *code);

/* The country to preselect: the locale's region when offered and its currency
 * matches, else the language's home country when its currency matches, else
 * the first offered country using currency, else the language's home country.
 * currency may be NULL (no currency preference). Returns an alpha-2 code. */
const char *i18n_default_country(i18n_lang lang, const char *region, const char *currency);

#endif
