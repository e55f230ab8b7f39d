/*
 * checkout.c - the customer-facing routes: the Checkout Session page
 * (GET/POST /c/pay/:id), its result page (/c/done/:id), the way back from a
 * provider's page (/pay/return/:attempt), provider callbacks
 * (/providers/:provider/notify/:attempt) and the stylesheet.
 *
 * No merchant key: the unguessable cs_ id is the capability, as in Stripe
 * Checkout. Handlers translate HTTP onto gateway use cases (gw_session_find,
 * gw_session_pay, gw_attempt_return, gw_provider_notice) and hand records to
 * the templates in pages.c; they hold no business rules of their own.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../api.h"
#include "../../base/clock.h"
#include "../../base/favicon.h"
#include "../../base/ids.h"
#include "../../base/log.h"
#include "web.h"

/* ---- small helpers ---- */

static void send_message(http_req *req, http_resp *resp, int status, i18n_lang lang, i18n_key title,
                         i18n_key body, const char *link)
{
    pages_out o = web_html(req, resp, status);
    pages_begin(&o, lang, i18n_t(lang, title), 0, NULL, false);
    pages_message(&o, lang, title, body, link, T_BACK_TO_SHOP);
    /* The language switcher reloads the page: fine for /c/ pages, not for a
     * provider return (it would run the return again). */
    pages_end(&o, lang, strncmp(req->path, "/c/", 3) == 0 ? req->path : NULL);
    web_finish(resp, &o);
}

/* Loads the session behind :id; answers 404 itself when there is none. */
static bool load_session(api_ctx *c, http_req *req, http_resp *resp, json_t *params, gw_session *s,
                         char merchant_id[LIMIT_ID_MAX])
{
    const char *id = req->nparams > 0 ? req->params[0] : "";
    gw_err err;
    memset(&err, 0, sizeof err);
    if (id_valid(id, "cs_") &&
        gw_session_find(c->g, id, req->arena, s, merchant_id, &err) == K_OK) {
        return true;
    }
    i18n_lang lang = web_lang(req, params, NULL, NULL);
    send_message(req, resp, 404, lang, T_NOTFOUND_TITLE, T_NOTFOUND_BODY, NULL);
    return false;
}

/* The intent behind a session; NULL when it cannot be read (logged). */
static gw_payment *load_payment(api_ctx *c, http_req *req, const gw_session *s,
                                const char *merchant_id)
{
    if (s->payment_id == NULL || s->payment_id[0] == '\0') {
        return NULL;
    }
    gw_payment *p = arena_alloc(req->arena, sizeof *p);
    gw_err err;
    memset(&err, 0, sizeof err);
    if (p == NULL || gw_pi_get(c->g, merchant_id, s->payment_id, req->arena, p, &err) != K_OK) {
        log_warn("checkout: payment '%s' of session '%s' unreadable: %s", s->payment_id, s->id,
                 err.message);
        return NULL;
    }
    return p;
}

/* The merchant behind a session, for the page header (NULL when unreadable). */
static const gw_brand *load_brand(api_ctx *c, http_req *req, const char *merchant_id)
{
    gw_brand *b = arena_alloc(req->arena, sizeof *b);
    if (b == NULL || gw_merchant_brand(c->g, merchant_id, req->arena, b) != K_OK) {
        return NULL;
    }
    return b;
}

static void send_done(http_req *req, http_resp *resp, i18n_lang lang, const gw_session *s,
                      const gw_payment *p, const gw_brand *brand)
{
    pages_outcome oc = pages_outcome_of(s, p);
    bool expired = s->status != NULL && strcmp(s->status, "expired") == 0;
    pages_out o = web_html(req, resp, oc == PAGES_CANCELED && expired ? 410 : 200);
    i18n_key title = T_FAILED_TITLE;
    if (oc == PAGES_PAID) {
        title = T_PAID_TITLE;
    } else if (oc == PAGES_PROCESSING) {
        title = T_PROCESSING_TITLE;
    } else if (oc == PAGES_CANCELED) {
        title = expired ? T_EXPIRED_TITLE : T_CANCELED_TITLE;
    }
    pages_begin(&o, lang, i18n_t(lang, title), oc == PAGES_PROCESSING ? 2 : 0, NULL, false);
    pages_merchant(&o, lang, brand);
    pages_done(&o, lang, s, p);
    pages_end(&o, lang, req->path);
    web_finish(resp, &o);
}

/* The methods to offer for country (falls back to any country when none fit). */
static void offered_methods(api_ctx *c, http_req *req, const gw_session *s, const char *country,
                            const char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (gw_session_methods(c->g, s, country, req->arena, names, n) != K_OK || *n == 0) {
        *names = NULL;
        *n = 0;
        if (gw_session_methods(c->g, s, NULL, req->arena, names, n) != K_OK) {
            *names = NULL;
            *n = 0;
        }
    }
}

/* For each method, the offered billing countries where the rules take it
 * ("AT DE NL"), so the page can follow the country select. */
static const char **method_countries(api_ctx *c, http_req *req, const gw_session *s,
                                     const char *const *names, size_t n)
{
    buf *lists = arena_alloc(req->arena, n * sizeof *lists);
    const char **out = arena_alloc(req->arena, n * sizeof *out);
    if (n == 0 || lists == NULL || out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        buf_init(&lists[i], 4 * i18n_country_count() + 1);
    }
    for (size_t k = 0; k < i18n_country_count(); k++) {
        const char **here;
        size_t nh = 0;
        if (gw_session_methods(c->g, s, i18n_country_code(k), req->arena, &here, &nh) != K_OK) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < nh; j++) {
                if (strcmp(names[i], here[j]) == 0) {
                    buf_printf(&lists[i], "%s%s", lists[i].len > 0 ? " " : "",
                               i18n_country_code(k));
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] =
            arena_strndup(req->arena, lists[i].data != NULL ? lists[i].data : "", lists[i].len);
        buf_free(&lists[i]);
    }
    return out;
}

/* "AT DE" without the codes in "DE FR": the countries where Klarna is not offered whole. */
static const char *countries_minus(http_req *req, const char *list, const char *minus)
{
    buf out;
    buf_init(&out, strlen(list) + 1);
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, " ");
        bool taken = false;
        for (const char *q = minus; *q != '\0' && !taken;) {
            size_t m = strcspn(q, " ");
            taken = m == n && strncmp(p, q, n) == 0;
            q += m + (q[m] == ' ');
        }
        if (!taken) {
            buf_printf(&out, "%s%.*s", out.len > 0 ? " " : "", (int)n, p);
        }
        p += n + (p[n] == ' ');
    }
    const char *r = arena_strndup(req->arena, out.data != NULL ? out.data : "", out.len);
    buf_free(&out);
    return r;
}

/* One Klarna entry, as Stripe Checkout shows it: where the session takes Klarna
 * with every category, the customer picks Pay now or Pay later on Klarna's page,
 * so the single-category entries are offered only in the countries Klarna's
 * whole entry does not reach (and left out when none are left). A form posted
 * with one of them is still taken. Returns the new count; names and lists are
 * compacted in place. */
static size_t one_klarna(http_req *req, const char **names, const char **lists, size_t n)
{
    const char *whole = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "klarna") == 0) {
            whole = lists[i];
        }
    }
    if (whole == NULL) {
        return n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool part =
            strcmp(names[i], "klarna_pay_now") == 0 || strcmp(names[i], "klarna_pay_later") == 0;
        const char *left = part ? countries_minus(req, lists[i], whole) : lists[i];
        if (left == NULL || left[0] != '\0') {
            names[m] = names[i];
            lists[m] = left;
            m++;
        }
    }
    return m;
}

static void send_form(api_ctx *c, http_req *req, http_resp *resp, int status, pages_pay_view *v)
{
    const char *country = v->country;
    if (i18n_country_find(country) < 0) {
        char region[3] = "";
        json_t *q = web_query(req);
        (void)web_lang(req, q, v->s->locale, region);
        country = i18n_default_country(v->lang, region, v->s->currency);
        v->country = country;
    }
    const char **names;
    size_t here = 0;
    offered_methods(c, req, v->s, country, &names, &here);
    /* Every method the session takes, each with its countries: the page shows
     * those of the selected country and follows the country select. */
    if (gw_session_methods(c->g, v->s, NULL, req->arena, &names, &v->nmethods) != K_OK) {
        v->nmethods = 0;
    }
    const char **lists = method_countries(c, req, v->s, names, v->nmethods);
    if (lists != NULL) {
        v->nmethods = one_klarna(req, names, lists, v->nmethods);
    }
    v->methods = names;
    v->method_countries = lists;
    if (here == 0 && v->error == NULL) {
        v->error = i18n_t(v->lang, T_R_NOT_AVAILABLE);
    }
    pages_out o = web_html(req, resp, status);
    pages_begin(&o, v->lang, i18n_t(v->lang, T_CHECKOUT_TITLE), 0, NULL, false);
    pages_pay(&o, v);
    pages_end(&o, v->lang, req->path);
    web_finish(resp, &o);
}

/* The customer was sent to the provider and has not finished there: the
 * payment waits for them (requires_action), not for the provider. */
static bool left_provider(const gw_payment *p)
{
    return p != NULL && p->m.state == PS_REQUIRES_ACTION;
}

/* ---- GET /c/pay/:id ---- */

static void pay_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *q = web_query(req);
    gw_session s;
    char mid[LIMIT_ID_MAX];
    if (!load_session(c, req, resp, q, &s, mid)) {
        return;
    }
    i18n_lang lang = web_lang(req, q, s.locale, NULL);
    gw_payment *p = load_payment(c, req, &s, mid);
    pages_outcome oc = pages_outcome_of(&s, p);
    bool open = s.status != NULL && strcmp(s.status, "open") == 0;
    if (!open || oc == PAGES_PAID || oc == PAGES_CANCELED ||
        (oc == PAGES_PROCESSING && !left_provider(p))) {
        send_done(req, resp, lang, &s, p, load_brand(c, req, mid));
        return;
    }
    /* Back from the provider's page (or its QR page) before finishing: the
     * method choice again, with what was chosen; paying closes that attempt. */
    pages_pay_view v = {.lang = lang, .s = &s, .brand = load_brand(c, req, mid)};
    if (left_provider(p)) {
        v.method = p->method_type;
        v.email = p->email;
        v.country = p->country;
    }
    send_form(c, req, resp, 200, &v);
}

/* ---- POST /c/pay/:id ---- */

/* A plausible address: one '@', something on both sides, a dot after it, no spaces. */
static bool email_plausible(const char *e)
{
    if (e == NULL || e[0] == '\0' || strlen(e) > LIMIT_EMAIL_MAX) {
        return false;
    }
    const char *at = strchr(e, '@');
    if (at == NULL || at == e || strchr(at + 1, '@') != NULL || strchr(at, '.') == NULL) {
        return false;
    }
    for (const char *p = e; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"') {
            return false;
        }
    }
    return at[1] != '.' && e[strlen(e) - 1] != '.';
}

static bool method_offered(const char *m, const char *const *names, size_t n)
{
    for (size_t i = 0; m != NULL && i < n; i++) {
        if (strcmp(m, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* tmpl with its "{}" replaced by value (raw text; the page escapes it). */
static const char *fill(http_req *req, const char *tmpl, const char *value)
{
    const char *at = strstr(tmpl, "{}");
    if (at == NULL) {
        return tmpl;
    }
    return arena_printf(req->arena, "%.*s%s%s", (int)(at - tmpl), tmpl, value, at + 2);
}

/* Local checks before the gateway: localized messages, field named. */
static bool pay_validate(api_ctx *c, http_req *req, pages_pay_view *v)
{
    if (i18n_country_find(v->country) < 0) {
        v->error = i18n_t(v->lang, T_E_COUNTRY);
        v->error_field = "country";
        return false;
    }
    if (!email_plausible(v->email)) {
        v->error = i18n_t(v->lang, T_E_EMAIL);
        v->error_field = "email";
        return false;
    }
    const char **names;
    size_t n;
    offered_methods(c, req, v->s, v->country, &names, &n);
    if (v->method == NULL || v->method[0] == '\0') {
        v->error = i18n_t(v->lang, T_E_METHOD);
        v->error_field = "method";
        return false;
    }
    if (!method_offered(v->method, names, n)) {
        const char **any;
        size_t na = 0;
        bool elsewhere = gw_session_methods(c->g, v->s, NULL, req->arena, &any, &na) == K_OK &&
                         method_offered(v->method, any, na);
        v->error = elsewhere
                       ? fill(req, i18n_t(v->lang, T_E_NOT_IN_COUNTRY),
                              i18n_country_name(v->lang, (size_t)i18n_country_find(v->country)))
                       : i18n_t(v->lang, T_R_NOT_AVAILABLE);
        v->error_field = "method";
        return false;
    }
    return true;
}

/* The gateway's refusal in the customer's words. */
static void refusal_to_view(pages_pay_view *v, const gw_err *err)
{
    const char *param = err->param;
    if (strstr(param, "email") != NULL) {
        v->error = i18n_t(v->lang, T_E_EMAIL);
        v->error_field = "email";
    } else if (strstr(param, "country") != NULL) {
        v->error = i18n_t(v->lang, T_E_COUNTRY);
        v->error_field = "country";
    } else {
        v->error = i18n_t(v->lang, web_refusal_reason(err, &v->error_field));
    }
}

static bool same_text(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

/* Before paying with the choice in v: an open attempt with the same choice is
 * where the customer goes again (a second submit, or Back and the same method);
 * one with another choice is closed first. false when the answer was sent. */
static bool pay_reuse_or_reopen(api_ctx *c, http_req *req, http_resp *resp, const gw_session *s,
                                const char *mid, pages_pay_view *v)
{
    gw_payment *p = load_payment(c, req, s, mid);
    if (!left_provider(p)) {
        return true;
    }
    if (p->next_action_url != NULL && same_text(p->method_type, v->method) &&
        same_text(p->email, v->email) && same_text(p->country, v->country)) {
        http_resp_redirect(req, resp, p->next_action_url);
        return false;
    }
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_session_reopen(c->g, s->id, req->arena, &err) != K_OK) {
        log_info("checkout: session '%s' reopen refused: %s", s->id, err.message);
        v->error = i18n_t(v->lang, T_E_BUSY);
        send_form(c, req, resp, 409, v);
        return false;
    }
    return true;
}

/* A confirmation of this session is already talking to the provider (two
 * quick submits): wait for its page, bounded, and return where it leads. */
static const char *wait_for_attempt(api_ctx *c, http_req *req, const gw_session *s, const char *mid)
{
    int64_t until = clock_mono_ms() + LIMIT_PAGE_PAY_WAIT_MS;
    while (clock_mono_ms() < until) {
        gw_payment *p = load_payment(c, req, s, mid);
        if (p == NULL || p->m.state != PS_REQUIRES_CONFIRMATION) {
            return p != NULL && p->m.state == PS_REQUIRES_ACTION ? p->next_action_url : NULL;
        }
        struct timespec ts = {0, LIMIT_PAGE_PAY_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void pay_post(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *f = web_form(req);
    gw_session s;
    char mid[LIMIT_ID_MAX];
    if (!load_session(c, req, resp, f, &s, mid)) {
        return;
    }
    char region[3] = "";
    pages_pay_view v = {
        .lang = web_lang(req, f, s.locale, region),
        .s = &s,
        .method = web_str(f, "method"),
        .email = web_str(f, "email"),
        .country = web_str(f, "country"),
        .brand = load_brand(c, req, mid),
    };
    if (s.status == NULL || strcmp(s.status, "open") != 0) {
        http_resp_redirect(req, resp, arena_printf(req->arena, "/c/pay/%s", s.id));
        return;
    }
    if (!pay_validate(c, req, &v)) {
        send_form(c, req, resp, 400, &v);
        return;
    }
    char country[3] = {v.country[0], v.country[1], '\0'};
    country[0] = (char)(country[0] & ~0x20); /* upper-case ASCII letters */
    country[1] = (char)(country[1] & ~0x20);
    v.country = arena_strdup(req->arena, country);
    const char *locale = arena_printf(req->arena, "%s-%s", i18n_code(v.lang), country);
    const char *redirect = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (!pay_reuse_or_reopen(c, req, resp, &s, mid, &v)) {
        return;
    }
    k_status st = gw_session_pay(c->g, s.id, v.method, v.email, v.country, locale,
                                 web_terminal(req), req->arena, &redirect, &err);
    if (st == K_OK && redirect != NULL) {
        http_resp_redirect(req, resp, redirect);
        return;
    }
    if (web_refusal_status(&err) == 409 && (redirect = wait_for_attempt(c, req, &s, mid)) != NULL) {
        http_resp_redirect(req, resp, redirect); /* a second "Pay" follows the first */
        return;
    }
    log_info("checkout: session '%s' pay refused: %s (%s)", s.id, gw_why_name(err.why),
             err.message);
    gw_session again;
    gw_err err2;
    memset(&err2, 0, sizeof err2);
    if (gw_session_find(c->g, s.id, req->arena, &again, mid, &err2) == K_OK &&
        (again.status == NULL || strcmp(again.status, "open") != 0)) {
        http_resp_redirect(req, resp, arena_printf(req->arena, "/c/pay/%s", s.id));
        return;
    }
    refusal_to_view(&v, &err);
    send_form(c, req, resp, err.why != GW_WHY_NONE ? web_refusal_status(&err) : 400, &v);
}

/* ---- GET /c/done/:id ---- */

static void done_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *q = web_query(req);
    gw_session s;
    char mid[LIMIT_ID_MAX];
    if (!load_session(c, req, resp, q, &s, mid)) {
        return;
    }
    i18n_lang lang = web_lang(req, q, s.locale, NULL);
    gw_payment *p = load_payment(c, req, &s, mid);
    if ((pages_outcome_of(&s, p) == PAGES_OPEN && p != NULL &&
         (p->last_error_code == NULL || p->last_error_code[0] == '\0')) ||
        left_provider(p)) {
        /* Nothing tried yet: the form is where the customer belongs. */
        const char *loc = web_str(q, "locale");
        http_resp_redirect(
            req, resp,
            i18n_parse(loc, &lang, NULL)
                ? arena_printf(req->arena, "/c/pay/%s?locale=%s", s.id, i18n_code(lang))
                : arena_printf(req->arena, "/c/pay/%s", s.id));
        return;
    }
    send_done(req, resp, lang, &s, p, load_brand(c, req, mid));
}

/* ---- GET /pay/return/:attempt ---- */

static void return_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    json_t *q = web_query(req);
    const char *att = req->nparams > 0 ? req->params[0] : "";
    const char *result = web_str(q, "result");
    if (result != NULL && strcmp(result, "success") != 0 && strcmp(result, "cancel") != 0 &&
        strcmp(result, "failure") != 0) {
        result = NULL; /* unknown words: let the gateway read the provider */
    }
    const char *redirect = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st = gw_attempt_return(c->g, att, result, req->arena, &redirect, &err);
    gw_payment p;
    gw_err perr;
    memset(&perr, 0, sizeof perr);
    if (st == K_OK && gw_attempt_payment(c->g, att, false, req->arena, &p, &perr) == K_OK &&
        p.checkout_session == NULL && p.m.state == PS_REQUIRES_ACTION && p.qr_text != NULL &&
        p.latest_attempt != NULL && strcmp(p.latest_attempt, att) == 0) {
        /* Back from the wallet with the QR code's payment still open (a bare
         * PaymentIntent, a Payment Page): the QR page again, whose Cancel
         * closes it, rather than the shop told "processing". */
        http_resp_redirect(req, resp, arena_printf(req->arena, "/pay/qr/%s", att));
        return;
    }
    if (st == K_OK && redirect != NULL) {
        http_resp_redirect(req, resp, redirect);
        return;
    }
    log_warn("checkout: return for attempt '%s' failed: %s (%s)", att, k_status_str(st),
             err.message);
    i18n_lang lang = web_lang(req, q, NULL, NULL);
    if (st == K_ENOTFOUND || err.why == GW_WHY_NOT_FOUND) {
        send_message(req, resp, 404, lang, T_NOTFOUND_TITLE, T_NOTFOUND_BODY, NULL);
        return;
    }
    send_message(req, resp, 502, lang, T_ERROR_TITLE, T_ERROR_BODY, NULL);
}

/* ---- POST /providers/:provider/notify/:attempt ---- */

static const char *inbound_header(void *hctx, const char *name)
{
    return http_req_header((const http_req *)hctx, name);
}

static void notify_post(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    K_ASSERT(req->nparams >= 2);
    json_t *q = web_query(req);
    prov_inbound in = {
        .method = req->method,
        .path = req->path,
        .query = req->query,
        .body = req->body,
        .body_len = req->body_len,
        .header = inbound_header,
        .header_ctx = req,
    };
    int ack_status = 0;
    const char *ack_body = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st = gw_provider_notice(c->g, req->params[0], req->params[1], web_str(q, "token"), &in,
                                     req->arena, &ack_status, &ack_body, &err);
    if (st != K_OK) {
        log_warn("provider notice '%s' for '%s' refused: %s (%s)", req->params[0], req->params[1],
                 k_status_str(st), err.message);
        int status =
            err.why != GW_WHY_NONE ? web_refusal_status(&err) : (st == K_ENOTFOUND ? 404 : 400);
        const char *body =
            arena_printf(req->arena, "{\"error\":\"%s\"}\n",
                         err.why == GW_WHY_NOT_FOUND ? "resource_missing" : "notice_refused");
        http_resp_set(resp, status, "application/json", body, body != NULL ? strlen(body) : 0);
        return;
    }
    const char *b = ack_body != NULL ? ack_body : "";
    const char *type = b[0] == '{' ? "application/json" : "text/plain; charset=utf-8";
    http_resp_set(resp, ack_status > 0 ? ack_status : 200, type, b, strlen(b));
}

/* ---- GET /assets/kassa.css ---- */

static void css_get(http_req *req, http_resp *resp, void *ctx)
{
    size_t n;
    const char *css = pages_css(&n);
    http_resp_set(resp, 200, "text/css; charset=utf-8", css, n);
    http_resp_header(req, resp, "Cache-Control", "public, max-age=3600");
    http_resp_header(req, resp, "X-Content-Type-Options", "nosniff");
}

/* GET /assets/brand.css?a=rrggbb&t=rrggbb: the merchant's button colours. */
static void brand_css_get(http_req *req, http_resp *resp, void *ctx)
{
    (void)ctx;
    json_t *q = web_query(req);
    char css[256];
    size_t n = pages_brand_css(web_str(q, "a"), web_str(q, "t"), css, sizeof css);
    if (n == 0) {
        http_resp_set(resp, 400, "text/plain; charset=utf-8", "bad colour\n", 11);
        return;
    }
    http_resp_set(resp, 200, "text/css; charset=utf-8", css, n);
    http_resp_header(req, resp, "Cache-Control", "public, max-age=3600");
    http_resp_header(req, resp, "X-Content-Type-Options", "nosniff");
}

/* ---- GET /assets/kassa.js, /favicon.ico ---- */

/* Progressive enhancement of the payment form (it works without): the method
 * list follows the country select, and "Pay" says it is working and is not
 * sent twice. Same origin, so the pages' CSP (default-src 'self') allows it. */
static const char pay_js[] =
    "(function () {\n"
    "  var form = document.querySelector('form.pay');\n"
    "  if (!form) return;\n"
    "  var country = form.querySelector('#country');\n"
    "  var button = form.querySelector('button[type=submit]');\n"
    "  var label = button ? button.textContent : '';\n"
    "  function follow() {\n"
    "    var cc = ' ' + country.value + ' ', first = null, lost = false;\n"
    "    form.querySelectorAll('.option[data-countries]').forEach(function (o) {\n"
    "      var ok = (' ' + o.getAttribute('data-countries') + ' ').indexOf(cc) >= 0;\n"
    "      var r = o.querySelector('input');\n"
    "      o.hidden = !ok;\n"
    "      if (ok && !first) first = r;\n"
    "      if (!ok && r.checked) { r.checked = false; lost = true; }\n"
    "    });\n"
    "    if (lost && first) first.checked = true;\n"
    "  }\n"
    "  if (country) country.addEventListener('change', follow);\n"
    "  form.addEventListener('submit', function (e) {\n"
    "    if (form.getAttribute('data-sent')) { e.preventDefault(); return; }\n"
    "    form.setAttribute('data-sent', '1');\n"
    "    if (button) {\n"
    "      button.setAttribute('aria-busy', 'true');\n"
    "      button.textContent = form.getAttribute('data-paying');\n"
    "    }\n"
    "  });\n"
    "  window.addEventListener('pageshow', function () {\n"
    "    form.removeAttribute('data-sent');\n"
    "    if (button) { button.removeAttribute('aria-busy'); button.textContent = label; }\n"
    "  });\n"
    "})();\n";

static void js_get(http_req *req, http_resp *resp, void *ctx)
{
    http_resp_set(resp, 200, "text/javascript; charset=utf-8", pay_js, sizeof pay_js - 1);
    http_resp_header(req, resp, "Cache-Control", "public, max-age=3600");
    http_resp_header(req, resp, "X-Content-Type-Options", "nosniff");
}

static void favicon_get(http_req *req, http_resp *resp, void *ctx)
{
    size_t n;
    const char *icon = favicon_svg(&n);
    http_resp_set(resp, 200, FAVICON_CONTENT_TYPE, icon, n);
    http_resp_header(req, resp, "Cache-Control", "public, max-age=86400");
}

static const http_route routes[] = {
    {"GET", "/c/pay/:id", pay_get, AUTH_NONE, 0, "checkout_page", 0},
    {"POST", "/c/pay/:id", pay_post, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "checkout_pay",
     HTTP_SAME_ORIGIN},
    {"GET", "/c/done/:id", done_get, AUTH_NONE, 0, "checkout_done", 0},
    {"GET", "/pay/return/:attempt", return_get, AUTH_NONE, 0, "pay_return", 0},
    {"POST", "/providers/:provider/notify/:attempt", notify_post, AUTH_NONE, 0, "provider_notify",
     0},
    {"GET", "/assets/kassa.css", css_get, AUTH_NONE, 0, "assets", 0},
    {"GET", "/assets/brand.css", brand_css_get, AUTH_NONE, 0, "assets", 0},
    {"GET", "/assets/kassa.js", js_get, AUTH_NONE, 0, "assets", 0},
    {"GET", "/favicon.ico", favicon_get, AUTH_NONE, 0, "assets", 0},
};

size_t checkout_routes(const http_route **out)
{
    K_ASSERT(out != NULL);
    *out = routes;
    return K_ARRAY_LEN(routes);
}
