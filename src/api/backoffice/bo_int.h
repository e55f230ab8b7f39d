/*
 * bo_int.h - what the back office's files share (api/backoffice): the request
 * a handler receives, the generic checks every route passes first (bo.c), the
 * HTML writer (bo_html.c) and the translation table (bo_i18n.c).
 *
 * The back office is a third thin face beside the two merchant dialects: its
 * handlers translate forms onto gateway use cases (gateway.h, staff.h) and
 * hold no business rules. Which role may do what is staff.c's table.
 */
#ifndef KASSA_BO_INT_H
#define KASSA_BO_INT_H

#include <jansson.h>

#include "../api.h"
#include "../../gateway/staff.h"

typedef enum { BO_EN, BO_DE, BO_FR, BO_FI, BO_SV, BO_LANG__COUNT } bo_lang;

typedef struct {
    api_ctx *api;
    http_req *req;
    http_resp *resp;
    staff_session s; /* valid when signed_in; s.merchant_id is the live twin in live mode */
    bool signed_in;
    bool live;           /* the session's chosen mode is live (kassa_mode cookie) */
    const char *test_id; /* the staff's own (test) account; staff and roles live there */
    const char *live_id; /* its live twin, NULL while there is none */
    bo_lang lang;
    const char *locale; /* "en", "de" ... for money_format */
    json_t *query;      /* decoded query string (object) */
    json_t *form;       /* decoded POST body (object), empty for GET */
    const char *token;  /* the session cookie's token */
    buf *out;           /* resp->body */
    k_status st;        /* first write error of the page */
} bo_req;

typedef void (*bo_fn)(bo_req *r);

/* Route flags. */
#define BO_PUBLIC    1u /* no session needed (sign-in pages, static files) */
#define BO_RAW       2u /* the handler writes its own answer (static files, live updates) */
#define BO_IMG_HTTPS 4u /* the page may show https images (the branding preview's logo) */

typedef struct {
    bo_fn fn;
    unsigned perm; /* staff_perm bits the role must have; 0 = any signed-in person */
    unsigned flags;
} bo_spec;

/* Runs the generic checks (headers, Origin, session, role, CSRF) and then spec->fn. */
void bo_run(http_req *req, http_resp *resp, void *ctx, const bo_spec *spec);
/* The HTTP status a page answers a gateway refusal with (bo_errors.c, one table). */
int bo_status(const gw_err *e);

#define BO_ENTRY(name, fn, perm, flags)                                                            \
    static void name(http_req *q, http_resp *p, void *c)                                           \
    {                                                                                              \
        static const bo_spec spec = {fn, perm, flags};                                             \
        bo_run(q, p, c, &spec);                                                                    \
    }

/* ---- translation (bo_i18n.c) ---- */
/* The text of `en` (the English original is the key) in lang; en itself when untranslated. */
const char *bo_t(bo_lang lang, const char *en);
bo_lang bo_lang_pick(const char *explicit_code, const char *cookie, const char *accept_language);
const char *bo_lang_code(bo_lang lang);
/* Every English key of the table and how many languages lack it (tests). */
size_t bo_i18n_missing(bo_lang lang);

/* ---- HTML (bo_html.c) ---- */
#define T(r, en) bo_t((r)->lang, (en))
void bo_raw(bo_req *r, const char *s); /* trusted markup */
void bo_esc(bo_req *r, const char *s); /* text, escaped */
void bo_fmt(bo_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* trusted */
void bo_attr(bo_req *r, const char *name, const char *value); /* name="escaped" */
/* Page frame: <head>, the header with navigation, <main>. nav: the active item. */
void bo_page_begin(bo_req *r, const char *title, const char *nav);
void bo_page_end(bo_req *r);
/* An HTML answer with status; the body is written by the caller afterwards. */
void bo_html_start(bo_req *r, int status);
void bo_finish(bo_req *r);
/* A page with one message (refusals, errors) and a link back. */
void bo_message(bo_req *r, int status, const char *title, const char *text, const char *back);
/* The hidden CSRF field of every form. */
void bo_csrf_field(bo_req *r);
/* The hidden idempotency key of a form: fresh random per rendering. */
void bo_idem_field(bo_req *r);
/* Money for the page's locale. */
void bo_money(bo_req *r, int64_t amount, const char *currency);
/* Unix seconds as "YYYY-MM-DD HH:MM" shifted by the person's offset (minutes). */
void bo_time(bo_req *r, int64_t unix_s);
int bo_tz_offset_min(bo_req *r); /* from ?tz= or the kassa_tz cookie, -840..840 */
/* A query/form string value or NULL (empty strings are NULL). */
const char *bo_q(bo_req *r, const char *key);
const char *bo_f(bo_req *r, const char *key);
/* The status name as the person reads it. */
const char *bo_status_label(bo_req *r, const char *status);

/* ---- pages (bo_payments.c, bo_audit.c) ---- */
void bo_payments_list(bo_req *r);
void bo_payments_rows(bo_req *r);
void bo_live(bo_req *r);
void bo_payment_page(bo_req *r);
void bo_payment_action(bo_req *r);
void bo_view_save(bo_req *r);
void bo_view_delete(bo_req *r);
void bo_audit_page(bo_req *r);
void bo_dev_page(bo_req *r);
void bo_dev_endpoint_create(bo_req *r);
void bo_dev_endpoint_change(bo_req *r);
void bo_dev_event_resend(bo_req *r);
void bo_dev_replay(bo_req *r);
void bo_staff_page(bo_req *r);
void bo_staff_create(bo_req *r);
void bo_staff_change(bo_req *r);
/* The Settings page (bo_settings.c). */
void bo_settings_page(bo_req *r);
void bo_settings_preview(bo_req *r);
void bo_settings_methods(bo_req *r);
void bo_settings_credentials(bo_req *r);
void bo_settings_branding(bo_req *r);
void bo_settings_expiry(bo_req *r);
/* bo_reports.c: the reports page, its CSV figures, runs, files and schedules */
void bo_reports_page(bo_req *r);
void bo_reports_csv(bo_req *r);
void bo_reports_run(bo_req *r);
void bo_reports_file(bo_req *r);
void bo_reports_view_export(bo_req *r);
void bo_reports_schedule_create(bo_req *r);
void bo_reports_schedule_delete(bo_req *r);
void bo_chartjs_load(void);       /* Debian's Chart.js, read once (at start) */
void bo_chartjs_serve(bo_req *r); /* /dashboard/static/chart.js */
/* The developers' page with a note and, shown once, a secret under its title. */
void bo_dev_render(bo_req *r, int status, const char *note, const char *secret_title,
                   const char *secret);
void bo_dev_keys_section(bo_req *r); /* bo_dev_keys.c */
void bo_dev_key_create(bo_req *r);
void bo_dev_live_create(bo_req *r); /* POST /dashboard/developers/live: the live twin */
void bo_mode_set(bo_req *r);        /* POST /dashboard/mode: the Test/Live switch */
void bo_dev_key_change(bo_req *r);
void bo_dev_requests_page(bo_req *r); /* bo_dev_requests.c */

/* Audits one staff action on object_id with the result (outcome "ok" or "refused: ..."). */
void bo_audit_action(bo_req *r, const char *action, const char *object_id, const char *before,
                     const char *after, const char *outcome);

#endif
