/*
 * demo.c - the sandbox demo shop at /demo: a few products, a cart kept in a
 * signed cookie, and a checkout that goes through Kassa's own public HTTP API
 * exactly as a merchant's shop would (POST /v1/checkout/sessions with the
 * sandbox secret key, then 303 to the session's hosted page). The order page
 * reads the session and its payment intent back over the API and lists the
 * webhook events the shop received for it (demo_start registers the endpoint).
 *
 * Only served when the server runs in sandbox mode. The shop's own pages are
 * in English: it plays the merchant, not Kassa.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../api.h"
#include "../../base/clock.h"
#include "../../base/httpc.h"
#include "../../base/ids.h"
#include "../../base/log.h"
#include "../../domain/money.h"
#include "../checkout/web.h"
#include "demo_int.h"

#define DEMO_COOKIE     "kassa_demo_cart"
#define DEMO_COOKIE_MAX 512 /* 16 lines of "nn:nn-" plus the MAC */
#define DEMO_SECRET_MAX 128
#define DEMO_BANNER                                                                                \
    "Sandbox — test data: pay with Demo Bank, any username and PIN, TAN 12345. Pay later: "      \
    "customer@email.de is approved, customer+denied@email.de is refused, any 6-digit code "        \
    "except 999999 passes."

typedef struct {
    const char *name;
    const char *blurb;
    int64_t price; /* EUR cents */
} demo_product;

static const demo_product products[] = {
    {"Kassa coffee mug", "Stoneware, 330 ml, dishwasher safe.", 1234},
    {"Organic cotton T-shirt", "Unisex fit, screen-printed in Berlin.", 2490},
    {"Dotted notebook A5", "120 pages of thick, fountain-pen-friendly paper.", 890},
    {"Sticker pack", "Six weatherproof vinyl stickers.", 350},
};

/* The webhook endpoint's secret (set by demo_start). */
static pthread_mutex_t secret_mu = PTHREAD_MUTEX_INITIALIZER;
static char hook_secret[DEMO_SECRET_MAX];

/* ---- calls to Kassa's own API ---- */

static void json_release(void *p)
{
    json_decref((json_t *)p);
}

/* One API call with the sandbox key; *out is the JSON answer (arena-released). */
static k_status api_call(const api_ctx *c, const char *method, const char *path, const char *body,
                         arena *a, long *status, json_t **out)
{
    K_ASSERT(c->sandbox_secret_key != NULL);
    *out = NULL;
    *status = 0;
    httpc_req rq = {
        .method = method,
        .url = arena_printf(a, "%s%s", c->public_url, path),
        .headers = {arena_printf(a, "Authorization: Bearer %s", c->sandbox_secret_key),
                    "Content-Type: application/x-www-form-urlencoded", NULL},
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
    };
    if (rq.url == NULL || rq.headers[0] == NULL) {
        return K_ENOMEM;
    }
    httpc_resp rs;
    memset(&rs, 0, sizeof rs);
    k_status st = httpc_do(&rq, &rs);
    if (st == K_OK) {
        *status = rs.status;
        json_error_t jerr;
        *out = json_loadb(rs.body.data != NULL ? rs.body.data : "", rs.body.len, 0, &jerr);
        if (*out == NULL) {
            st = K_EINVAL;
        } else if (arena_defer(a, json_release, *out) != K_OK) {
            *out = NULL;
            st = K_ENOMEM;
        }
    }
    httpc_resp_free(&rs);
    return st;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The API's error message, for the developer looking at the demo. */
static const char *api_message(json_t *ans)
{
    const char *m = jstr(json_object_get(ans, "error"), "message");
    return m[0] != '\0' ? m : "the API gave no answer";
}

/* Appends unless an earlier append failed (first failure kept). */
static void acc(k_status *st, k_status r)
{
    if (*st == K_OK) {
        *st = r;
    }
}

/* ---- demo_start: the shop's webhook endpoint ---- */

static void set_secret(const char *s)
{
    pthread_mutex_lock(&secret_mu);
    snprintf(hook_secret, sizeof hook_secret, "%s", s);
    pthread_mutex_unlock(&secret_mu);
}

/* Finds an endpoint with url among the listed ones; *secret set when listed. */
static json_t *find_endpoint(json_t *list, const char *url)
{
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(list, "data"), i, ep)
    {
        if (strcmp(jstr(ep, "url"), url) == 0) {
            return ep;
        }
    }
    return NULL;
}

k_status demo_start(api_ctx *ctx)
{
    if (ctx == NULL || !ctx->sandbox || ctx->sandbox_secret_key == NULL) {
        return K_OK;
    }
    K_ASSERT(ctx->public_url != NULL);
    k_status st = httpc_init();
    if (st != K_OK) {
        return st;
    }
    arena a;
    arena_init(&a, 4 * 1024 * 1024);
    const char *url = arena_printf(&a, "%s/demo/webhook", ctx->public_url);
    long status;
    json_t *ans;
    st = api_call(ctx, "GET", "/v1/webhook_endpoints?limit=100", NULL, &a, &status, &ans);
    json_t *ep = st == K_OK && status == 200 ? find_endpoint(ans, url) : NULL;
    if (ep != NULL && jstr(ep, "secret")[0] != '\0') {
        set_secret(jstr(ep, "secret"));
        log_info("demo shop: reusing webhook endpoint '%s'", jstr(ep, "id"));
        arena_release(&a);
        return K_OK;
    }
    if (ep != NULL) { /* listed without its secret: replace it with one we know */
        const char *del = arena_printf(&a, "/v1/webhook_endpoints/%s", jstr(ep, "id"));
        json_t *ignored;
        (void)api_call(ctx, "DELETE", del, NULL, &a, &status, &ignored);
    }
    buf body;
    buf_init(&body, LIMIT_URL_MAX * 4);
    st = K_OK;
    acc(&st, buf_append_str(&body, "url="));
    acc(&st, buf_append_urlenc(&body, url));
    acc(&st, buf_append_str(&body, "&enabled_events[0]=%2A&description=Kassa%20demo%20shop"));
    if (st == K_OK) {
        st = api_call(ctx, "POST", "/v1/webhook_endpoints", body.data, &a, &status, &ans);
    }
    buf_free(&body);
    if (st != K_OK || status != 200 || jstr(ans, "secret")[0] == '\0') {
        log_error("demo shop: could not register its webhook endpoint: %s (HTTP %ld): %s",
                  k_status_str(st), status, st == K_OK ? api_message(ans) : "");
        arena_release(&a);
        return st != K_OK ? st : K_ERR;
    }
    set_secret(jstr(ans, "secret"));
    log_info("demo shop: webhook endpoint '%s' registered", jstr(ans, "id"));
    arena_release(&a);
    return K_OK;
}

/* ---- cart ---- */

static size_t cart_read(http_req *req, demo_line *lines)
{
    return demo_cart_decode(http_req_cookie(req, DEMO_COOKIE), K_ARRAY_LEN(products), lines,
                            LIMIT_DEMO_CART_LINES_MAX);
}

static void cart_write(http_req *req, http_resp *resp, const demo_line *lines, size_t n)
{
    char v[DEMO_COOKIE_MAX];
    demo_cart_encode(lines, n, v, sizeof v);
    http_resp_header(
        req, resp, "Set-Cookie",
        arena_printf(req->arena, "%s=%s; Path=/demo; HttpOnly; SameSite=Lax", DEMO_COOKIE, v));
}

static int64_t cart_total(const demo_line *lines, size_t n)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t line = 0;
        bool mul_ok = money_mul(products[lines[i].product].price, lines[i].qty, &line);
        K_ASSERT(mul_ok); /* 99 x a few euros */
        bool add_ok = money_add(total, line, &total);
        K_ASSERT(add_ok);
    }
    return total;
}

static int cart_items(const demo_line *lines, size_t n)
{
    int items = 0;
    for (size_t i = 0; i < n; i++) {
        items += lines[i].qty;
    }
    return items;
}

/* Reads a product index / quantity from a form value. */
static int form_int(json_t *f, const char *key, int lo, int hi, int dflt)
{
    const char *s = web_str(f, key);
    if (s == NULL || s[0] == '\0') {
        return dflt;
    }
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == NULL || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    return (int)v;
}

/* ---- pages ---- */

static bool sandbox_only(api_ctx *c, http_req *req, http_resp *resp)
{
    if (c->sandbox && c->sandbox_secret_key != NULL) {
        return true;
    }
    static const char msg[] = "The demo shop runs only in sandbox mode.\n";
    http_resp_set(resp, 404, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    return false;
}

static void money_s(int64_t amount, char *out, size_t cap)
{
    pages_money(amount, "eur", LANG_EN, out, cap);
}

static void shop_head(pages_out *o, const char *title, const demo_line *lines, size_t n)
{
    pages_raw(o, "<div class=\"shop-head\"><h1>");
    pages_text(o, title);
    pages_raw(o, "</h1>");
    pages_fmt(o, "<a class=\"btn inline secondary\" href=\"/demo/cart\">Cart (%d)</a></div>\n",
              cart_items(lines, n));
}

static void shop_get(http_req *req, http_resp *resp, void *ctx)
{
    if (!sandbox_only(ctx, req, resp)) {
        return;
    }
    demo_line lines[LIMIT_DEMO_CART_LINES_MAX];
    size_t n = cart_read(req, lines);
    pages_out o = web_html(req, resp, 200);
    pages_begin(&o, LANG_EN, "Demo shop", 0, DEMO_BANNER, true);
    shop_head(&o, "Kassa demo shop", lines, n);
    pages_raw(&o, "<ul class=\"products\">\n");
    for (size_t i = 0; i < K_ARRAY_LEN(products); i++) {
        char price[64];
        money_s(products[i].price, price, sizeof price);
        pages_fmt(&o, "<li class=\"product\"><h2 id=\"p%zu\">", i);
        pages_text(&o, products[i].name);
        pages_raw(&o, "</h2><p>");
        pages_text(&o, products[i].blurb);
        pages_raw(&o, "</p><p class=\"price\">");
        pages_text(&o, price);
        pages_fmt(&o,
                  "</p><form method=\"post\" action=\"/demo/cart/add\">"
                  "<input type=\"hidden\" name=\"product\" value=\"%zu\">"
                  "<button type=\"submit\" class=\"btn inline\" aria-describedby=\"p%zu\">"
                  "Add to cart</button></form></li>\n",
                  i, i);
    }
    pages_raw(&o, "</ul>\n");
    pages_end(&o, LANG_EN, NULL);
    web_finish(resp, &o);
}

static void cart_add(http_req *req, http_resp *resp, void *ctx)
{
    if (!sandbox_only(ctx, req, resp)) {
        return;
    }
    json_t *f = web_form(req);
    int prod = form_int(f, "product", 0, (int)K_ARRAY_LEN(products) - 1, -1);
    int qty = form_int(f, "quantity", 1, LIMIT_DEMO_QTY_MAX, 1);
    demo_line lines[LIMIT_DEMO_CART_LINES_MAX];
    size_t n = cart_read(req, lines);
    if (prod >= 0 && qty > 0) {
        size_t i = 0;
        while (i < n && lines[i].product != prod) {
            i++;
        }
        if (i == n && n < LIMIT_DEMO_CART_LINES_MAX) {
            lines[n++] = (demo_line){prod, 0};
        }
        if (i < n) {
            int q = lines[i].qty + qty;
            lines[i].qty = q > LIMIT_DEMO_QTY_MAX ? LIMIT_DEMO_QTY_MAX : q;
        }
        cart_write(req, resp, lines, n);
    }
    http_resp_redirect(req, resp, "/demo/cart");
}

static void cart_update(http_req *req, http_resp *resp, void *ctx)
{
    if (!sandbox_only(ctx, req, resp)) {
        return;
    }
    json_t *f = web_form(req);
    demo_line lines[LIMIT_DEMO_CART_LINES_MAX];
    size_t n = cart_read(req, lines);
    int remove = form_int(f, "remove", 0, (int)K_ARRAY_LEN(products) - 1, -1);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "qty_%d", lines[i].product);
        int q = form_int(f, key, 0, LIMIT_DEMO_QTY_MAX, lines[i].qty);
        if (q > 0 && lines[i].product != remove) {
            lines[kept++] = (demo_line){lines[i].product, q};
        }
    }
    cart_write(req, resp, lines, kept);
    http_resp_redirect(req, resp, "/demo/cart");
}

static void cart_rows(pages_out *o, const demo_line *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const demo_product *p = &products[lines[i].product];
        char unit[64], total[64];
        money_s(p->price, unit, sizeof unit);
        money_s(p->price * lines[i].qty, total, sizeof total);
        pages_raw(o, "<tr><td>");
        pages_text(o, p->name);
        pages_fmt(o, "</td><td class=\"num\"><label class=\"sr-only\" for=\"q%d\">Quantity of ",
                  lines[i].product);
        pages_text(o, p->name);
        pages_fmt(o,
                  "</label><input type=\"number\" id=\"q%d\" name=\"qty_%d\" min=\"0\" "
                  "max=\"%d\" value=\"%d\" inputmode=\"numeric\"></td><td class=\"num\">",
                  lines[i].product, lines[i].product, LIMIT_DEMO_QTY_MAX, lines[i].qty);
        pages_text(o, unit);
        pages_raw(o, "</td><td class=\"num\">");
        pages_text(o, total);
        pages_fmt(o,
                  "</td><td><button type=\"submit\" class=\"btn inline secondary\" name=\"remove\" "
                  "value=\"%d\" aria-label=\"Remove ",
                  lines[i].product);
        pages_text(o, p->name);
        pages_raw(o, "\">Remove</button></td></tr>\n");
    }
}

static void cart_get(http_req *req, http_resp *resp, void *ctx)
{
    if (!sandbox_only(ctx, req, resp)) {
        return;
    }
    demo_line lines[LIMIT_DEMO_CART_LINES_MAX];
    size_t n = cart_read(req, lines);
    pages_out o = web_html(req, resp, 200);
    pages_begin(&o, LANG_EN, "Your cart", 0, DEMO_BANNER, true);
    shop_head(&o, "Your cart", lines, n);
    if (n == 0) {
        pages_raw(&o, "<p>Your cart is empty.</p>\n"
                      "<p><a class=\"link\" href=\"/demo\">Continue shopping</a></p>\n");
    } else {
        char total[64];
        money_s(cart_total(lines, n), total, sizeof total);
        pages_raw(
            &o, "<form method=\"post\" action=\"/demo/cart/update\">\n<table class=\"lines cart\">"
                "<thead><tr><th scope=\"col\">Item</th><th scope=\"col\" class=\"num\">Qty"
                "</th><th scope=\"col\" class=\"num\">Unit price</th><th scope=\"col\" "
                "class=\"num\">Line total</th><th scope=\"col\"><span class=\"sr-only\">"
                "Actions</span></th></tr></thead>\n<tbody>\n");
        cart_rows(&o, lines, n);
        pages_raw(&o, "</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"3\">Total</th>"
                      "<td class=\"num\" id=\"total\">");
        pages_text(&o, total);
        pages_raw(&o, "</td><td></td></tr></tfoot></table>\n"
                      "<button type=\"submit\" class=\"btn secondary\">Update quantities</button>"
                      "</form>\n<form method=\"post\" action=\"/demo/checkout\">"
                      "<button type=\"submit\" class=\"btn\">Checkout</button></form>\n"
                      "<p class=\"center\"><a class=\"link\" href=\"/demo\">Continue shopping</a>"
                      "</p>\n");
    }
    pages_end(&o, LANG_EN, NULL);
    web_finish(resp, &o);
}

static void demo_error(http_req *req, http_resp *resp, int status, const char *what,
                       const char *detail)
{
    pages_out o = web_html(req, resp, status);
    pages_begin(&o, LANG_EN, "Demo shop error", 0, DEMO_BANNER, true);
    pages_raw(&o, "<h1>");
    pages_text(&o, what);
    pages_raw(&o, "</h1>\n<p class=\"alert\" role=\"alert\">");
    pages_text(&o, detail);
    pages_raw(&o, "</p>\n<p><a class=\"link\" href=\"/demo/cart\">Back to the cart</a></p>\n");
    pages_end(&o, LANG_EN, NULL);
    web_finish(resp, &o);
}

/* The Checkout Session request a shop sends, form-encoded with Stripe's brackets. */
static k_status session_body(const api_ctx *c, const demo_line *lines, size_t n, buf *b)
{
    char ref[LIMIT_ID_MAX];
    id_new_n(ref, "order_", 12);
    k_status st = K_OK;
    acc(&st, buf_printf(b, "mode=payment&client_reference_id=%s&success_url=", ref));
    acc(&st, buf_append_urlenc(b, c->public_url));
    acc(&st, buf_append_str(b, "%2Fdemo%2Forder%2F%7BCHECKOUT_SESSION_ID%7D&cancel_url="));
    acc(&st, buf_append_urlenc(b, c->public_url));
    acc(&st, buf_append_str(b, "%2Fdemo%2Fcart"));
    for (size_t i = 0; i < n; i++) {
        const demo_product *p = &products[lines[i].product];
        acc(&st, buf_printf(b,
                            "&line_items[%zu][price_data][currency]=eur"
                            "&line_items[%zu][price_data][unit_amount]=%lld"
                            "&line_items[%zu][quantity]=%d"
                            "&line_items[%zu][price_data][product_data][name]=",
                            i, i, (long long)p->price, i, lines[i].qty, i));
        acc(&st, buf_append_urlenc(b, p->name));
    }
    return st;
}

static void checkout_post(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    if (!sandbox_only(c, req, resp)) {
        return;
    }
    demo_line lines[LIMIT_DEMO_CART_LINES_MAX];
    size_t n = cart_read(req, lines);
    if (n == 0) {
        http_resp_redirect(req, resp, "/demo/cart");
        return;
    }
    buf body;
    buf_init(&body, LIMIT_PAGE_FORM_MAX);
    k_status st = session_body(c, lines, n, &body);
    long status = 0;
    json_t *ans = NULL;
    if (st == K_OK) {
        st = api_call(c, "POST", "/v1/checkout/sessions", body.data, req->arena, &status, &ans);
    }
    buf_free(&body);
    const char *url = jstr(ans, "url");
    if (st != K_OK || status != 200 || url[0] == '\0') {
        demo_error(req, resp, 502, "The checkout could not be started",
                   st != K_OK ? k_status_str(st) : api_message(ans));
        return;
    }
    http_resp_redirect(req, resp, url);
}

/* ---- the order page ---- */

static const char *final_event(const char *pi_status)
{
    if (strcmp(pi_status, "succeeded") == 0) {
        return "payment_intent.succeeded";
    }
    if (strcmp(pi_status, "requires_capture") == 0) {
        return "payment_intent.amount_capturable_updated";
    }
    if (strcmp(pi_status, "canceled") == 0) {
        return "payment_intent.canceled";
    }
    return NULL;
}

/* An event's time for people ("2 December 2026, 14:05:09 UTC") and for
 * machines (<time datetime>, RFC 3339). */
static void demo_when(int64_t unix_s, char iso[64], char *out, size_t cap)
{
    static const char *const months[12] = {"January",   "February", "March",    "April",
                                           "May",       "June",     "July",     "August",
                                           "September", "October",  "November", "December"};
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(iso, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(out, cap, "%d %s %d, %02d:%02d:%02d UTC", tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void order_events(pages_out *o, const demo_event *ev, size_t n)
{
    pages_raw(o, "<h2 id=\"hooks\">Webhook events received</h2>\n");
    if (n == 0) {
        pages_raw(o, "<p>No webhook events for this order yet.</p>\n");
        return;
    }
    pages_raw(o, "<table class=\"events\" aria-labelledby=\"hooks\"><thead><tr>"
                 "<th scope=\"col\">Type</th><th scope=\"col\">Time</th>"
                 "<th scope=\"col\">Event id</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        char iso[64], when[96];
        demo_when(ev[i].created, iso, when, sizeof when);
        pages_raw(o, "<tr><td>");
        pages_text(o, ev[i].type);
        pages_raw(o, "</td><td><time datetime=\"");
        pages_text(o, iso);
        pages_raw(o, "\">");
        pages_text(o, when);
        pages_raw(o, "</time>");
        pages_raw(o, "</td><td><code>");
        pages_text(o, ev[i].id);
        pages_raw(o, "</code></td></tr>\n");
    }
    pages_raw(o, "</tbody></table>\n");
}

static const char *badge_class(const char *pi_status)
{
    if (strcmp(pi_status, "succeeded") == 0 || strcmp(pi_status, "requires_capture") == 0) {
        return "ok";
    }
    if (strcmp(pi_status, "canceled") == 0 || strcmp(pi_status, "requires_payment_method") == 0) {
        return "bad";
    }
    return "";
}

static void order_body(pages_out *o, json_t *cs, json_t *pi, const demo_event *ev, size_t n)
{
    const char *pi_status = pi != NULL ? jstr(pi, "status") : "";
    bool paid = strcmp(jstr(cs, "payment_status"), "paid") == 0;
    char amount[64];
    money_s(json_integer_value(json_object_get(cs, "amount_total")), amount, sizeof amount);
    pages_raw(o, "<h1>");
    pages_text(o, paid ? "Thank you for your order" : "Your order");
    pages_raw(o, "</h1>\n<dl class=\"kv\"><dt>Order</dt><dd>");
    pages_text(o, jstr(cs, "client_reference_id"));
    pages_raw(o, "</dd><dt>Amount</dt><dd>");
    pages_text(o, amount);
    pages_raw(o, "</dd><dt>Payment</dt><dd><span class=\"badge ");
    pages_text(o, badge_class(pi_status));
    pages_raw(o, "\" id=\"payment-status\">");
    pages_text(o, paid ? "paid" : (pi_status[0] != '\0' ? pi_status : jstr(cs, "status")));
    pages_raw(o, "</span></dd><dt>Payment intent</dt><dd><code>");
    pages_text(o, pi != NULL ? jstr(pi, "id") : "");
    pages_raw(o, "</code></dd></dl>\n");
    const char *err = jstr(json_object_get(pi, "last_payment_error"), "message");
    if (!paid && err[0] != '\0') {
        pages_raw(o, "<p class=\"alert\" role=\"alert\">");
        pages_text(o, err);
        pages_raw(o, "</p>\n");
    }
    order_events(o, ev, n);
    pages_raw(o, "<p class=\"center\"><a class=\"link\" href=\"/demo\">Back to the shop</a></p>\n");
}

static void order_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    if (!sandbox_only(c, req, resp)) {
        return;
    }
    const char *cs_id = req->params[0];
    long status = 0;
    json_t *cs = NULL, *pi = NULL;
    k_status st = K_EINVAL;
    if (id_valid(cs_id, "cs_")) {
        st = api_call(c, "GET", arena_printf(req->arena, "/v1/checkout/sessions/%s", cs_id), NULL,
                      req->arena, &status, &cs);
    }
    if (st != K_OK || status != 200) {
        demo_error(req, resp, status == 404 || st == K_EINVAL ? 404 : 502, "Order not found",
                   cs != NULL ? api_message(cs) : "No such checkout session.");
        return;
    }
    const char *pi_id = jstr(cs, "payment_intent");
    if (pi_id[0] != '\0') {
        st = api_call(c, "GET", arena_printf(req->arena, "/v1/payment_intents/%s", pi_id), NULL,
                      req->arena, &status, &pi);
        if (st != K_OK || status != 200) {
            pi = NULL;
        }
    }
    demo_event ev[LIMIT_DEMO_EVENTS_MAX];
    size_t n = demo_log_find(pi_id, cs_id, ev, K_ARRAY_LEN(ev));
    const char *want = final_event(pi != NULL ? jstr(pi, "status") : "");
    bool done = want != NULL || strcmp(jstr(cs, "status"), "expired") == 0;
    for (size_t i = 0; want != NULL && i < n; i++) {
        want = strcmp(ev[i].type, want) == 0 ? NULL : want;
    }
    /* Refresh while the payment moves or its final webhook has not arrived. */
    bool refresh = !done || want != NULL;
    pages_out o = web_html(req, resp, 200);
    pages_begin(&o, LANG_EN, "Your order", refresh ? 2 : 0, DEMO_BANNER, true);
    order_body(&o, cs, pi, ev, n);
    pages_end(&o, LANG_EN, NULL);
    web_finish(resp, &o);
}

/* ---- POST /demo/webhook ---- */

static void webhook_post(http_req *req, http_resp *resp, void *ctx)
{
    if (!sandbox_only(ctx, req, resp)) {
        return;
    }
    char secret[DEMO_SECRET_MAX];
    pthread_mutex_lock(&secret_mu);
    memcpy(secret, hook_secret, sizeof secret);
    pthread_mutex_unlock(&secret_mu);
    static const char bad[] = "{\"error\":\"bad signature\"}\n";
    static const char bad_body[] = "{\"error\":\"not an event\"}\n";
    static const char ok[] = "{\"received\":true}\n";
    if (secret[0] == '\0' ||
        !demo_sig_verify(http_req_header(req, "Stripe-Signature"), req->body, req->body_len, secret,
                         clock_now_s(), DEMO_SIG_TOLERANCE_S)) {
        http_resp_set(resp, 400, "application/json", bad, sizeof bad - 1);
        return;
    }
    if (demo_log_add(req->body, req->body_len) != K_OK) {
        http_resp_set(resp, 400, "application/json", bad_body, sizeof bad_body - 1);
        return;
    }
    http_resp_set(resp, 200, "application/json", ok, sizeof ok - 1);
}

static const http_route routes[] = {
    {"GET", "/demo", shop_get, AUTH_NONE, 0, "demo_shop", 0},
    {"GET", "/demo/cart", cart_get, AUTH_NONE, 0, "demo_cart", 0},
    {"POST", "/demo/cart/add", cart_add, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "demo_cart_add",
     HTTP_SAME_ORIGIN},
    {"POST", "/demo/cart/update", cart_update, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "demo_cart_update",
     HTTP_SAME_ORIGIN},
    {"POST", "/demo/checkout", checkout_post, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "demo_checkout",
     HTTP_SAME_ORIGIN},
    {"GET", "/demo/order/:id", order_get, AUTH_NONE, 0, "demo_order", 0},
    {"POST", "/demo/webhook", webhook_post, AUTH_NONE, 0, "demo_webhook", 0},
};

size_t demo_routes(const http_route **out)
{
    K_ASSERT(out != NULL);
    *out = routes;
    return K_ARRAY_LEN(routes);
}
