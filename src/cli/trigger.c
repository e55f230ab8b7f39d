/*
 * trigger.c - `kassa trigger EVENT`: makes a Kassa emit EVENT for the key's
 * merchant in test mode, like `stripe trigger`. It does what a shop and its
 * customer would do, over HTTP only: create and confirm a payment through the
 * merchant API, then walk the Klarna simulator's pages (method, bank, login,
 * TAN; or option, e-mail, one-time code) the way a browser would, following
 * redirects back through Kassa, and waits until the payment settles. Nothing
 * is faked inside Kassa: the event comes from the same code path a real
 * payment takes, which is the point of triggering it.
 *
 * The simulator's test data decide the outcome (docs/simulators.md): login
 * "single" goes straight to the TAN, TAN 12345 passes, customer@email.de is
 * approved for Pay Later and customer+denied@email.de refused.
 */
#include "listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../limits.h"
#include "apiclient.h"

#define TR_STEPS_MAX      20    /* pages of one simulator walk */
#define TR_REDIRECTS_MAX  10    /* redirects followed from one page */
#define TR_SETTLE_MS      15000 /* a payment leaves requires_action/processing within this */
#define TR_URL_MAX        (LIMIT_URL_MAX * 2)
#define TR_RETURN_URL     "http://127.0.0.1:9/kassa-trigger-return" /* never fetched */
#define TR_RETURN_URL_ENC "http%3A%2F%2F127.0.0.1%3A9%2Fkassa-trigger-return"

typedef struct {
    cli_api api;
} trig;

/* How a customer answers the simulator's steps. */
typedef struct {
    const char *category; /* pay_now, pay_later */
    const char *email;
} tr_walk_plan;

/* ---- small HTML and URL helpers (the simulator's own pages only) ---- */

static void tr_host_of(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

/* Everything but the shop: the walk goes on through Kassa, its hosted pages and the simulator
 * (wherever they are) until it is sent to the return URL, which nothing serves. */
static bool tr_ours(const trig *t, const char *url)
{
    char h[256], shop[256];
    tr_host_of(url, h, sizeof(h));
    tr_host_of(TR_RETURN_URL, shop, sizeof(shop));
    return strcmp(h, shop) != 0;
}

/* A relative Location or action resolved against the page's URL. */
static void tr_resolve(const char *base, const char *ref, char *out, size_t cap)
{
    if (strstr(ref, "://") != NULL) {
        snprintf(out, cap, "%s", ref);
        return;
    }
    const char *p = strstr(base, "://");
    size_t origin = p != NULL ? (size_t)(p + 3 - base) + strcspn(p + 3, "/?#") : 0;
    snprintf(out, cap, "%.*s%s", (int)origin, base, ref);
}

/* The value of attribute `name="` after `from`, &amp; unescaped; false when absent. */
static bool tr_attr(const char *from, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=\"", name);
    const char *p = strstr(from, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    size_t o = 0;
    while (*p != '\0' && *p != '"' && o + 1 < cap) {
        if (strncmp(p, "&amp;", 5) == 0) {
            out[o++] = '&';
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return *p == '"';
}

/* ---- one page visit ---- */

typedef struct {
    char url[TR_URL_MAX]; /* where we are */
    long status;
    char *html; /* malloc'd body of the last 200 page, NULL when we left */
    bool left;  /* redirected outside Kassa and the simulator: the walk is over */
} tr_page;

/* GET (or POST form) url, following redirects while they stay on our hosts. */
static bool tr_visit(trig *t, tr_page *pg, const char *url, const char *form)
{
    free(pg->html);
    pg->html = NULL;
    snprintf(pg->url, sizeof(pg->url), "%s", url);
    if (!tr_ours(t, url)) { /* a page's link back to the shop */
        pg->left = true;
        return true;
    }
    for (int n = 0; n <= TR_REDIRECTS_MAX; n++) {
        httpc_req req = {.method = form != NULL && n == 0 ? "POST" : "GET",
                         .url = pg->url,
                         .headers = {"Content-Type: application/x-www-form-urlencoded",
                                     "User-Agent: kassa-trigger", NULL},
                         .body = n == 0 ? form : NULL,
                         .body_len = form != NULL && n == 0 ? strlen(form) : 0};
        httpc_resp resp;
        k_status st = httpc_do(&req, &resp);
        pg->status = resp.status;
        char loc[TR_URL_MAX];
        bool redirect = resp.status >= 300 && resp.status < 400 &&
                        httpc_resp_header(&resp, "Location", loc, sizeof(loc));
        if (st != K_OK || resp.status == 0) {
            fprintf(stderr, "kassa trigger: cannot reach %s: %s\n", pg->url, resp.error);
            httpc_resp_free(&resp);
            return false;
        }
        if (!redirect) {
            pg->html = buf_detach(&resp.body, NULL);
            httpc_resp_free(&resp);
            return pg->html != NULL;
        }
        httpc_resp_free(&resp);
        char next[TR_URL_MAX];
        tr_resolve(pg->url, loc, next, sizeof(next));
        snprintf(pg->url, sizeof(pg->url), "%s", next);
        if (!tr_ours(t, next)) {
            pg->left = true;
            return true;
        }
    }
    fprintf(stderr, "kassa trigger: more than %d redirects from %s\n", TR_REDIRECTS_MAX, url);
    return false;
}

/* The answer to one step of the simulator's form, as a form body. */
static bool tr_answer(const tr_walk_plan *w, const char *step, const char *html, buf *form)
{
    char account[128] = "";
    buf_printf(form, "step=");
    buf_append_urlenc(form, step);
    buf_append_str(form, "&action=next");
    if (strcmp(step, "method") == 0)
        buf_printf(form, "&category=%s", w->category);
    else if (strcmp(step, "bank") == 0)
        buf_append_str(form, "&bank=de");
    else if (strcmp(step, "login") == 0)
        buf_append_str(form, "&username=single&pin=1234"); /* "single": one account, no choice */
    else if (strcmp(step, "account") == 0 &&
             tr_attr(strstr(html, "name=\"account\""), "value", account, sizeof(account))) {
        buf_append_str(form, "&account=");
        buf_append_urlenc(form, account);
    } else if (strcmp(step, "tan") == 0)
        buf_append_str(form, "&tan=12345");
    else if (strcmp(step, "option") == 0)
        buf_append_str(form, "&option=pay_in_30");
    else if (strcmp(step, "email") == 0) {
        buf_append_str(form, "&email=");
        buf_append_urlenc(form, w->email);
    } else if (strcmp(step, "otp") == 0)
        buf_append_str(form, "&code=123456");
    else if (strcmp(step, "decoupled") == 0)
        sleep(3); /* the bank app confirms after a moment */
    else {
        fprintf(stderr, "kassa trigger: the simulator asks an unknown step '%s'\n", step);
        return false;
    }
    return true;
}

/* Walks the simulator's pages from the intent's redirect until the customer
 * is sent back to the shop (or, after a refusal, follows the final page's link
 * back through Kassa). */
static bool tr_walk(trig *t, const char *start, const tr_walk_plan *w)
{
    tr_page pg = {.html = NULL};
    bool ok = tr_visit(t, &pg, start, NULL);
    for (int steps = 0; ok && !pg.left && steps < TR_STEPS_MAX; steps++) {
        const char *step_at = pg.status == 200 ? strstr(pg.html, "name=\"step\"") : NULL;
        char step[32], action[TR_URL_MAX], link[TR_URL_MAX], next[TR_URL_MAX];
        const char *checkout = pg.status == 200 ? strstr(pg.html, "action=\"/c/pay/") : NULL;
        if (step_at == NULL && checkout != NULL) {
            /* Kassa's hosted checkout page: the method, e-mail and country of a customer. */
            ok = tr_attr(checkout, "action", action, sizeof(action));
            buf form;
            buf_init(&form, LIMIT_PAGE_FORM_MAX);
            buf_printf(&form, "method=klarna&country=DE&locale=en&email=");
            buf_append_urlenc(&form, w->email);
            if (ok) {
                tr_resolve(pg.url, action, next, sizeof(next));
                ok = tr_visit(t, &pg, next, form.data);
            }
            buf_free(&form);
            continue;
        }
        if (step_at == NULL) {
            const char *btn = pg.status == 200 ? strstr(pg.html, "class=\"btn\"") : NULL;
            if (btn == NULL || !tr_attr(btn, "href", link, sizeof(link))) {
                fprintf(stderr, "kassa trigger: %s answered %ld without a form or a way back\n",
                        pg.url, pg.status);
                ok = false;
                break;
            }
            tr_resolve(pg.url, link, next, sizeof(next));
            ok = tr_visit(t, &pg, next, NULL);
            continue;
        }
        /* The form holding this step: its action is the last one before the input. */
        const char *form_at = NULL;
        for (const char *p = strstr(pg.html, "<form"); p != NULL && p < step_at;
             p = strstr(p + 1, "<form"))
            form_at = p;
        ok = form_at != NULL && tr_attr(step_at, "value", step, sizeof(step)) &&
             tr_attr(form_at, "action", action, sizeof(action));
        buf form;
        buf_init(&form, LIMIT_PAGE_FORM_MAX);
        ok = ok && tr_answer(w, step, pg.html, &form);
        if (ok) {
            tr_resolve(pg.url, action, next, sizeof(next));
            ok = tr_visit(t, &pg, next, form.data);
        }
        buf_free(&form);
    }
    free(pg.html);
    if (ok && !pg.left)
        fprintf(stderr, "kassa trigger: the simulator did not send the customer back\n");
    return ok && pg.left;
}

/* ---- the API calls ---- */

/* A 200 answer's JSON, or NULL with Kassa's error printed. */
static json_t *tr_api(trig *t, const char *method, const char *path, const char *form)
{
    long status;
    json_t *j = cli_api_call(&t->api, method, path, form, &status);
    if (j != NULL && status != 200) {
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        fprintf(stderr, "kassa trigger: %s %s answered %ld: %s\n", method, path, status,
                m != NULL ? m : "(no message)");
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *tr_s(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

static json_t *tr_create(trig *t, const char *type, bool manual)
{
    char form[256];
    snprintf(form, sizeof(form),
             "amount=2500&currency=eur&payment_method_types%%5B%%5D=%s&description=kassa+trigger%s",
             type, manual ? "&capture_method=manual" : "");
    return tr_api(t, "POST", "/v1/payment_intents", form);
}

static json_t *tr_confirm(trig *t, const char *id, const char *type, const char *email)
{
    buf form;
    buf_init(&form, 4096);
    buf_printf(&form, "payment_method_data%%5Btype%%5D=%s", type);
    buf_append_str(&form, "&payment_method_data%5Bbilling_details%5D%5Bemail%5D=");
    buf_append_urlenc(&form, email);
    buf_append_str(&form, "&payment_method_data%5Bbilling_details%5D%5Baddress%5D%5Bcountry%5D=DE"
                          "&return_url=");
    buf_append_urlenc(&form, TR_RETURN_URL);
    char path[64 + LIMIT_ID_MAX];
    snprintf(path, sizeof(path), "/v1/payment_intents/%s/confirm", id);
    json_t *j = tr_api(t, "POST", path, form.data);
    buf_free(&form);
    return j;
}

/* Polls the intent until it leaves requires_action and processing. */
static json_t *tr_settled(trig *t, const char *id)
{
    char path[64 + LIMIT_ID_MAX];
    snprintf(path, sizeof(path), "/v1/payment_intents/%s", id);
    for (int waited = 0; waited <= TR_SETTLE_MS; waited += 100) {
        json_t *pi = tr_api(t, "GET", path, NULL);
        if (pi == NULL)
            return NULL;
        const char *st = tr_s(pi, "status");
        if (strcmp(st, "requires_action") != 0 && strcmp(st, "processing") != 0)
            return pi;
        json_decref(pi);
        usleep(100 * 1000);
    }
    fprintf(stderr, "kassa trigger: %s did not settle within %d ms\n", id, TR_SETTLE_MS);
    return NULL;
}

/* Create, confirm, walk the simulator, wait: the intent as it settled. */
static json_t *tr_pay(trig *t, const char *type, bool manual, const tr_walk_plan *w)
{
    json_t *pi = tr_create(t, type, manual);
    if (pi == NULL)
        return NULL;
    json_t *c = tr_confirm(t, tr_s(pi, "id"), type, w->email);
    json_decref(pi);
    if (c == NULL)
        return NULL;
    const char *start = json_string_value(json_object_get(
        json_object_get(json_object_get(c, "next_action"), "redirect_to_url"), "url"));
    json_t *done = NULL;
    if (start == NULL)
        fprintf(stderr, "kassa trigger: the confirmed intent has no redirect (status %s)\n",
                tr_s(c, "status"));
    else if (tr_walk(t, start, w))
        done = tr_settled(t, tr_s(c, "id"));
    json_decref(c);
    return done;
}

/* ---- the events ---- */

typedef enum {
    TR_CREATE,
    TR_CANCEL,
    TR_CONFIRM,
    TR_PAY_NOW,
    TR_AUTHORIZE,
    TR_DENY,
    TR_REFUND,
    TR_CHECKOUT
} tr_how;

typedef struct {
    const char *event;
    tr_how how;
    const char *what; /* for --help */
} tr_def;

static const tr_def TR_EVENTS[] = {
    {"payment_intent.created", TR_CREATE, "a Klarna payment intent is created"},
    {"payment_intent.canceled", TR_CANCEL, "created, then canceled"},
    {"payment_intent.requires_action", TR_CONFIRM, "confirmed: the customer must go to Klarna"},
    {"payment_intent.succeeded", TR_PAY_NOW, "paid with Klarna Pay Now in the simulator"},
    {"payment_intent.amount_capturable_updated", TR_AUTHORIZE,
     "authorised with Klarna Pay Later (manual capture) in the simulator"},
    {"payment_intent.payment_failed", TR_DENY,
     "refused by Klarna Pay Later in the simulator (customer+denied@email.de)"},
    {"charge.refunded", TR_REFUND, "paid with Pay Now, then refunded in full"},
    {"refund.created", TR_REFUND, "paid with Pay Now, then refunded in full"},
    {"checkout.session.completed", TR_CHECKOUT,
     "a checkout session paid on Kassa's hosted page with Klarna Pay Now"},
};

/* A checkout session paid through Kassa's hosted page and the simulator; prints
 * the session once it is complete. */
static int tr_checkout(trig *t)
{
    static const tr_walk_plan now = {"pay_now", "customer@email.de"};
    json_t *cs =
        tr_api(t, "POST", "/v1/checkout/sessions",
               "mode=payment&payment_method_types%5B%5D=klarna"
               "&line_items%5B0%5D%5Bquantity%5D=1"
               "&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur"
               "&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=2500"
               "&line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=kassa+trigger"
               "&success_url=" TR_RETURN_URL_ENC);
    if (cs == NULL)
        return 1;
    char path[64 + LIMIT_ID_MAX];
    snprintf(path, sizeof(path), "/v1/checkout/sessions/%s", tr_s(cs, "id"));
    bool walked = tr_walk(t, tr_s(cs, "url"), &now);
    json_decref(cs);
    json_t *done = NULL;
    for (int waited = 0; walked && waited <= TR_SETTLE_MS && done == NULL; waited += 100) {
        json_t *s = tr_api(t, "GET", path, NULL);
        if (s == NULL)
            return 1;
        if (strcmp(tr_s(s, "status"), "complete") == 0)
            done = s;
        else {
            json_decref(s);
            usleep(100 * 1000);
        }
    }
    if (done == NULL) {
        fprintf(stderr, "kassa trigger: the checkout session did not complete\n");
        return 1;
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:s}", "event", "checkout.session.completed",
                            "checkout_session", tr_s(done, "id"), "payment_intent",
                            tr_s(done, "payment_intent"), "status", tr_s(done, "status"));
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
    json_decref(done);
    return 0;
}

static int tr_run(trig *t, const tr_def *d)
{
    static const tr_walk_plan now = {"pay_now", "customer@email.de"};
    static const tr_walk_plan later = {"pay_later", "customer@email.de"};
    static const tr_walk_plan denied = {"pay_later", "customer+denied@email.de"};
    json_t *pi = NULL;
    json_t *extra = NULL;
    if (d->how == TR_CHECKOUT)
        return tr_checkout(t);
    if (d->how == TR_CREATE || d->how == TR_CANCEL || d->how == TR_CONFIRM)
        pi = tr_create(t, "klarna", false);
    else if (d->how == TR_PAY_NOW || d->how == TR_REFUND)
        pi = tr_pay(t, "klarna", false, &now);
    else
        pi = tr_pay(t, "klarna_pay_later", true, d->how == TR_DENY ? &denied : &later);
    if (pi == NULL)
        return 1;
    char path[64 + LIMIT_ID_MAX];
    json_t *after = NULL;
    if (d->how == TR_CANCEL) {
        snprintf(path, sizeof(path), "/v1/payment_intents/%s/cancel", tr_s(pi, "id"));
        after = tr_api(t, "POST", path, "");
    } else if (d->how == TR_CONFIRM) {
        after = tr_confirm(t, tr_s(pi, "id"), "klarna", "customer@email.de");
    } else if (d->how == TR_REFUND) {
        char form[64 + LIMIT_ID_MAX];
        snprintf(form, sizeof(form), "payment_intent=%s", tr_s(pi, "id"));
        extra = tr_api(t, "POST", "/v1/refunds", form);
        after = extra != NULL ? json_incref(pi) : NULL;
    } else {
        after = json_incref(pi);
    }
    json_decref(pi);
    if (after == NULL)
        return 1;
    json_t *out = json_pack("{s:s,s:s,s:s}", "event", d->event, "payment_intent", tr_s(after, "id"),
                            "status", tr_s(after, "status"));
    if (extra != NULL)
        json_object_set_new(out, "refund", json_string(tr_s(extra, "id")));
    char *s = json_dumps(out, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(out);
    json_decref(after);
    json_decref(extra);
    return 0;
}

static void tr_usage(FILE *out)
{
    fprintf(out,
            "kassa trigger EVENT [--api-base URL] --api-key sk_...\n"
            "Makes Kassa emit EVENT for the key's merchant, in test mode, by doing what a shop\n"
            "and its customer would (the simulator's pages are walked over HTTP). Events:\n");
    for (size_t i = 0; i < K_ARRAY_LEN(TR_EVENTS); i++)
        fprintf(out, "  %-42s %s\n", TR_EVENTS[i].event, TR_EVENTS[i].what);
}

int cli_trigger(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            tr_usage(stdout);
            return 0;
        }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "kassa trigger: which EVENT? (see kassa trigger --help)\n");
        return 2;
    }
    const tr_def *d = NULL;
    for (size_t i = 0; i < K_ARRAY_LEN(TR_EVENTS) && d == NULL; i++)
        if (strcmp(TR_EVENTS[i].event, argv[1]) == 0)
            d = &TR_EVENTS[i];
    if (d == NULL) {
        fprintf(stderr, "kassa trigger: unknown event '%s'; nothing was created. Events:\n",
                argv[1]);
        tr_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i += 2)
        if ((strcmp(argv[i], "--api-base") != 0 && strcmp(argv[i], "--api-key") != 0) ||
            i + 1 >= argc) {
            fprintf(stderr, "kassa trigger: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    trig t = {.api = {.cmd = "trigger"}};
    if (!cli_api_from_args(&t.api, argc - 1, argv + 1))
        return 2;
    if (httpc_init() != K_OK)
        return 1;
    /* The key first, with a read: a refused key creates nothing. */
    long status;
    json_t *probe = cli_api_call(&t.api, "GET", "/v1/events?limit=1", NULL, &status);
    int rc = probe == NULL ? (status == 401 ? 2 : 1) : tr_run(&t, d);
    json_decref(probe);
    httpc_shutdown();
    return rc;
}
