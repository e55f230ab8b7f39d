/*
 * pages.h - the hosted pages' templates: C functions that write HTML into a
 * buffer (everything from outside escaped with buf_append_html), the one
 * stylesheet served at /assets/kassa.css, and the pure decisions behind them
 * (which outcome a session shows, which friendly reason an error code maps to).
 *
 * No I/O and no gateway calls: the handlers (checkout.c, demo.c) fetch the
 * records and hand them here, so the templates are unit-testable. Pages use no
 * JavaScript, no inline styles and no external resources (CSP default-src
 * 'self'); every input has a <label>, the html element carries lang.
 */
#ifndef KASSA_CHECKOUT_PAGES_H
#define KASSA_CHECKOUT_PAGES_H

#include "../../base/buf.h"
#include "../../gateway/gateway.h"
#include "i18n.h"

/* Writes into b and remembers the first failure (a limit), so a page is
 * either complete or reported as K_ETOOBIG: never silently truncated. */
typedef struct {
    buf *b;
    k_status st;
} pages_out;

void pages_raw(pages_out *o, const char *s);  /* trusted markup */
void pages_text(pages_out *o, const char *s); /* escaped; NULL = "" */
void pages_fmt(pages_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes tmpl with its "{}" replaced by value, both HTML-escaped. */
void pages_fill(pages_out *o, const char *tmpl, const char *value);

/* Page shell. refresh_s > 0 adds <meta http-equiv=refresh>. banner: a sandbox
 * note shown above the page (escaped), NULL = none. wide: the shop layout. */
void pages_begin(pages_out *o, i18n_lang lang, const char *title, int refresh_s, const char *banner,
                 bool wide);
/* Closes the page; with switch_path set (Kassa's own pages), adds the
 * "Secure payment by Kassa" line and the language switcher linking to
 * switch_path?locale=xx. The demo shop passes NULL. */
void pages_end(pages_out *o, i18n_lang lang, const char *switch_path);

/* Amount in the locale's format ("12,34 €"). Unknown currency -> "1234 XYZ". */
void pages_money(int64_t amount, const char *currency, i18n_lang lang, char *out, size_t cap);

/* The stylesheet (static storage). */
const char *pages_css(size_t *len);

/* The customer's side of an HTTP(S) or same-site URL: true for "http://",
 * "https://" and "/x" (not "//x"); anything else is never put in an href. */
bool pages_url_ok(const char *url);
/* url with every "{CHECKOUT_SESSION_ID}" replaced by cs_id, into out (raw, unescaped). */
k_status pages_subst_session(buf *out, const char *url, const char *cs_id);

/* The merchant's name (and logo when set) with the test-mode badge, at the top
 * of every page a customer sees on Kassa. brand NULL or without a name: the
 * badge alone. */
void pages_merchant(pages_out *o, i18n_lang lang, const gw_brand *brand);
/* The stylesheet of a merchant's button colours (6 lower-case hex digits each,
 * what pages_merchant links to): its length in out, 0 when a colour is not one. */
size_t pages_brand_css(const char *accent, const char *text, char *out, size_t cap);
/* A date (unix s) in the language's numeric form: 2.1.2027 (de, fi), 02/01/2027
 * (en, fr), 2027-01-02 (sv). */
void pages_date(int64_t unix_s, i18n_lang lang, char *out, size_t cap);

/* ---- the Checkout Session page ---- */
typedef struct {
    i18n_lang lang;
    const gw_session *s;
    const gw_brand *brand;               /* the merchant, NULL = unknown */
    const char *const *method_countries; /* per method: its countries "DE FR ..." (script hint) */
    const char *const *methods;          /* what gw_session_methods offered */
    size_t nmethods;
    const char *method; /* selected values; NULL = defaults */
    const char *email;
    const char *country;
    const char *error;       /* localized message shown with role=alert; NULL = none */
    const char *error_field; /* "email", "country", "method" or NULL */
} pages_pay_view;

void pages_pay(pages_out *o, const pages_pay_view *v);
/* Label key of a method name; -1 when the name is unknown (shown as is). */
int pages_method_label(const char *method);
/* A method's label and hint keys (hint T__COUNT: none); false when unknown. */
bool pages_method_keys(const char *method, i18n_key *label, i18n_key *hint);

/* ---- the result page ---- */
typedef enum {
    PAGES_OPEN,       /* nothing decided yet: show the payment form */
    PAGES_PAID,       /* succeeded or authorised */
    PAGES_PROCESSING, /* the provider has not decided: refresh */
    PAGES_FAILED,     /* last attempt failed: try again */
    PAGES_CANCELED,   /* payment canceled or session expired */
} pages_outcome;

/* What to show for a session and its payment (p may be NULL when unknown). */
pages_outcome pages_outcome_of(const gw_session *s, const gw_payment *p);
/* Friendly reason for a Stripe-style failure code (NULL = generic). */
i18n_key pages_reason(const char *last_error_code);
/* The result page of a session; p may be NULL. */
void pages_done(pages_out *o, i18n_lang lang, const gw_session *s, const gw_payment *p);
/* Pay Later's days to pay (Klarna: invoice in 30 days, instalments every 30 days). */
#define PAGES_PAY_LATER_DAYS 30
/* A simple page: title, body and an optional link button (link NULL = none). */
void pages_message(pages_out *o, i18n_lang lang, i18n_key title, i18n_key body, const char *link,
                   i18n_key link_text);

#endif
