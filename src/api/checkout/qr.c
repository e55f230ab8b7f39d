/*
 * qr.c - the hosted Alipay+ page (see qr.h).
 *
 * GET /pay/qr/:attempt           the page: QR + amount + countdown (computer),
 *                                or the wallet list (phone; ?view= overrides)
 * GET /pay/qr/:attempt/status    {status, expires_at, now, next}; ?sync=1 asks
 *                                the provider first (the page does so every 5th poll)
 * GET /pay/qr.js, /pay/qr.css    the page's script and styles (CSP: 'self' only)
 *
 * The attempt id is the capability, as on /pay/return. The page never decides
 * anything: the gateway's state (moved by the signed notification, by the
 * polls' inquiry, or by expiry) is what sends the customer on. The wallet
 * list is Alipay+'s own data (through gw_wallets: which wallets take which
 * currency); the links open the simulator's (or Antom's) code URL with the
 * wallet chosen.
 */
#include "qr.h"
#include "web.h"
#include "../api.h"
#include "../../base/clock.h"

#include <qrencode.h>
#include <stdio.h>
#include <string.h>

#define QR_QUIET      4 /* modules of white around the code (ISO 18004) */
#define QR_SYNC_EVERY 5 /* the page's fallback inquiry: every 5th poll */

k_status qr_svg(const char *text, buf *out)
{
    K_ASSERT(text != NULL && out != NULL);
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (q == NULL)
        return K_EINVAL;
    K_ASSERT(q->width > 0);
    int n = q->width + 2 * QR_QUIET;
    k_status st =
        buf_printf(out,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                   "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">"
                   "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                   n, n, n, n);
    for (int y = 0; st == K_OK && y < q->width; y++) {
        for (int x = 0; st == K_OK && x < q->width; x++) {
            if (!(q->data[y * q->width + x] & 1))
                continue;
            int run = 1;
            while (x + run < q->width && (q->data[y * q->width + x + run] & 1))
                run++;
            st = buf_printf(out, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
            x += run - 1;
        }
    }
    if (st == K_OK)
        st = buf_append_str(out, "\"/></svg>");
    QRcode_free(q);
    return st;
}

static const char *status_name(const gw_payment *p)
{
    return pay_state_name(p->m.state);
}

/* Where the customer goes once the page is done: /pay/return syncs and
 * sends the browser to the shop (or the checkout session's result page). */
static const char *next_url(http_req *req, const char *attempt)
{
    return arena_printf(req->arena, "/pay/return/%s?result=done", attempt);
}

static bool page_open(const gw_payment *p, const char *attempt)
{
    return p->m.state == PS_REQUIRES_ACTION && p->qr_text != NULL && p->latest_attempt != NULL &&
           strcmp(p->latest_attempt, attempt) == 0;
}

static void wallet_list(pages_out *o, http_req *req, const gw_payment *p)
{
    gw_wallet w[LIMIT_WALLETS_MAX];
    size_t n = gw_wallets(p->currency, w, LIMIT_WALLETS_MAX);
    pages_raw(o, "<section id=\"wallets\" aria-labelledby=\"wallets-h\">"
                 "<h2 id=\"wallets-h\">Choose your wallet</h2><ul class=\"qr-wallets\">");
    char sep = strchr(p->qr_text, '?') ? '&' : '?';
    for (size_t i = 0; i < n; i++) {
        const char *href =
            arena_printf(req->arena, "%s%cwallet=%s&return=1", p->qr_text, sep, w[i].code);
        pages_fmt(o, "<li><a class=\"qr-wallet\" data-wallet=\"%s\" href=\"", w[i].code);
        pages_text(o, href);
        pages_raw(o, "\">");
        pages_text(o, w[i].name);
        pages_raw(o, "</a></li>");
    }
    pages_raw(o, "</ul></section>");
}

static void qr_block(pages_out *o, http_req *req, const gw_payment *p)
{
    buf svg;
    buf_init(&svg, 256 * 1024);
    k_status st = qr_svg(p->qr_text, &svg);
    pages_raw(o, "<section id=\"qr\" aria-labelledby=\"qr-h\">"
                 "<h2 id=\"qr-h\">Scan with your wallet app</h2><figure class=\"qr-code\">");
    if (st == K_OK)
        pages_raw(o, svg.data);
    pages_raw(o, "<figcaption>AlipayHK, Alipay, GCash, DANA, Touch 'n Go, TrueMoney, KakaoPay "
                 "and other Alipay+ wallets</figcaption></figure></section>");
    buf_free(&svg);
    (void)req;
}

static void page_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    const char *attempt = req->params[0];
    json_t *q = web_query(req);
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof err);
    i18n_lang lang = web_lang(req, q, NULL, NULL);
    if (gw_attempt_payment(c->g, attempt, false, req->arena, &p, &err) != K_OK) {
        pages_out o = web_html(req, resp, 404);
        pages_message(&o, lang, T_NOTFOUND_TITLE, T_NOTFOUND_BODY, NULL, T_NOTFOUND_TITLE);
        web_finish(resp, &o);
        return;
    }
    if (!page_open(&p, attempt)) {
        http_resp_redirect(req, resp, next_url(req, attempt));
        return;
    }
    const char *view = web_str(q, "view");
    bool phone =
        view != NULL ? strcmp(view, "wallets") == 0 : strcmp(web_terminal(req), "WAP") == 0;
    char money[64];
    pages_money(p.m.amount, p.currency, lang, money, sizeof money);
    int64_t now = clock_now_s();
    int64_t left = p.attempt_expires_at > now ? p.attempt_expires_at - now : 0;
    pages_out o = web_html(req, resp, 200);
    pages_begin(&o, lang, "Alipay+", 0, NULL, false);
    pages_raw(&o, "<link rel=\"stylesheet\" href=\"/pay/qr.css\">");
    gw_brand brand;
    pages_merchant(&o, lang,
                   gw_merchant_brand(c->g, p.merchant_id, req->arena, &brand) == K_OK ? &brand
                                                                                      : NULL);
    pages_fmt(&o, "<div id=\"alipay\" data-status-url=\"/pay/qr/%s/status\" data-next=\"", attempt);
    pages_text(&o, next_url(req, attempt));
    pages_fmt(&o, "\" data-left=\"%lld\" data-view=\"%s\">", (long long)left,
              phone ? "wallets" : "qr");
    pages_raw(&o, "<h1>Pay with Alipay+</h1><p class=\"qr-amount\" data-amount>");
    pages_text(&o, money);
    pages_raw(&o, "</p>");
    if (p.description != NULL) {
        pages_raw(&o, "<p class=\"qr-desc\">");
        pages_text(&o, p.description);
        pages_raw(&o, "</p>");
    }
    pages_fmt(&o,
              "<p class=\"qr-timer\">Time left: <span id=\"countdown\" role=\"timer\">"
              "%lld:%02lld</span></p>",
              (long long)(left / 60), (long long)(left % 60));
    const char *self = arena_printf(req->arena, "/pay/qr/%s", attempt);
    if (phone) {
        wallet_list(&o, req, &p);
        pages_fmt(&o, "<p><a href=\"%s?view=qr\">Show the QR code instead</a></p>", self);
    } else {
        qr_block(&o, req, &p);
        pages_raw(&o, "<p class=\"qr-steps\">Open your wallet app, scan the code and confirm "
                      "the payment in the app. This page moves on by itself.</p>");
        pages_fmt(&o,
                  "<p><a href=\"%s?view=wallets\">Paying on this phone? Choose your "
                  "wallet</a></p>",
                  self);
    }
    pages_raw(&o, "<p id=\"qr-state\" role=\"status\" aria-live=\"polite\"></p></div>"
                  "<script src=\"/pay/qr.js\" defer></script>");
    if (p.checkout_session != NULL) {
        /* Back to the method choice; choosing there closes this QR code's payment. */
        pages_fmt(&o, "<p class=\"center\"><a class=\"btn secondary\" href=\"/c/pay/%s\">",
                  p.checkout_session);
        pages_text(&o, i18n_t(lang, T_CHOOSE_OTHER));
        pages_raw(&o, "</a></p>");
    } else {
        /* A bare PaymentIntent or an ECommPay Payment Page: cancelling closes the
         * payment at Alipay+ and goes back to the shop (return_url with
         * redirect_status=failed; merchant_fail_url / merchant_return_url). */
        pages_fmt(&o,
                  "<form class=\"center\" method=\"post\" action=\"/pay/qr/%s/cancel\">"
                  "<button type=\"submit\" class=\"btn secondary\">",
                  attempt);
        pages_text(&o, i18n_t(lang, T_CANCEL));
        pages_raw(&o, "</button></form>");
    }
    pages_end(&o, lang, self);
    web_finish(resp, &o);
}

/* POST /pay/qr/:attempt/cancel: the customer gives up on the QR code. The
 * payment is closed at Alipay+ and failed (gw_attempt_abandon), then the
 * browser goes where /pay/return sends it. When Alipay+ would not close it
 * (paid meanwhile, say), the page shows it again and moves on by itself. */
static void cancel_post(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    const char *attempt = req->params[0];
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st = gw_attempt_abandon(c->g, attempt, req->arena, &err);
    if (st == K_ENOTFOUND || err.why == GW_WHY_NOT_FOUND) {
        i18n_lang lang = web_lang(req, web_query(req), NULL, NULL);
        pages_out o = web_html(req, resp, 404);
        pages_message(&o, lang, T_NOTFOUND_TITLE, T_NOTFOUND_BODY, NULL, T_NOTFOUND_TITLE);
        web_finish(resp, &o);
        return;
    }
    http_resp_redirect(req, resp,
                       st == K_OK
                           ? arena_printf(req->arena, "/pay/return/%s?result=cancel", attempt)
                           : arena_printf(req->arena, "/pay/qr/%s", attempt));
}

static void status_get(http_req *req, http_resp *resp, void *ctx)
{
    api_ctx *c = ctx;
    const char *attempt = req->params[0];
    json_t *q = web_query(req);
    const char *sync = web_str(q, "sync");
    gw_payment p;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st = gw_attempt_payment(c->g, attempt, sync != NULL && strcmp(sync, "1") == 0,
                                     req->arena, &p, &err);
    http_resp_header(req, resp, "Cache-Control", "no-store");
    if (st != K_OK) {
        const char *nf = "{\"error\":\"resource_missing\"}\n";
        http_resp_set(resp, 404, "application/json", nf, strlen(nf));
        return;
    }
    bool open = page_open(&p, attempt);
    json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:s}", "status", status_name(&p), "open", open,
                          "expires_at", (json_int_t)p.attempt_expires_at, "now",
                          (json_int_t)clock_now_s(), "next", next_url(req, attempt));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    http_resp_set(resp, 200, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

static const char qr_js[] =
    "'use strict';\n"
    "(function () {\n"
    "  var root = document.getElementById('alipay');\n"
    "  if (!root) return;\n"
    "  var left = parseInt(root.getAttribute('data-left'), 10) || 0;\n"
    "  var start = Date.now();\n"
    "  var timer = document.getElementById('countdown');\n"
    "  var state = document.getElementById('qr-state');\n"
    "  var polls = 0, done = false;\n"
    "  function tick() {\n"
    "    var s = Math.max(0, left - Math.floor((Date.now() - start) / 1000));\n"
    "    var m = Math.floor(s / 60), r = s % 60;\n"
    "    timer.textContent = m + ':' + (r < 10 ? '0' : '') + r;\n"
    "  }\n"
    "  function go(next) {\n"
    "    if (done) return;\n"
    "    done = true;\n"
    "    state.textContent = 'Payment received, taking you back to the shop\\u2026';\n"
    "    window.location.assign(next);\n"
    "  }\n"
    "  function poll() {\n"
    "    if (done) return;\n"
    "    polls++;\n"
    "    var url = root.getAttribute('data-status-url') + (polls % "
    "5"
    " === 0 ? '?sync=1' : '');\n"
    "    fetch(url, { cache: 'no-store', credentials: 'same-origin' })\n"
    "      .then(function (r) { return r.json(); })\n"
    "      .then(function (j) {\n"
    "        if (!j.open) go(j.next || root.getAttribute('data-next'));\n"
    "        else if (j.expires_at) { left = j.expires_at - j.now; start = Date.now(); }\n"
    "      })\n"
    "      .catch(function () {})\n"
    "      .then(function () { if (!done) setTimeout(poll, 1000); });\n"
    "  }\n"
    "  tick();\n"
    "  setInterval(tick, 1000);\n"
    "  setTimeout(poll, 1000);\n"
    "})();\n";
_Static_assert(QR_SYNC_EVERY == 5, "qr.js polls with sync=1 every 5th time");

static const char qr_css[] =
    ".qr-code{margin:1rem auto;max-width:280px;text-align:center}"
    ".qr-code svg{width:100%;height:auto;display:block;background:#fff}"
    ".qr-code figcaption{font-size:.85rem;color:#555;margin-top:.5rem}"
    ".qr-amount{font-size:1.8rem;font-weight:700;margin:.25rem 0}"
    ".qr-timer{font-variant-numeric:tabular-nums}"
    ".qr-wallets{list-style:none;padding:0}"
    ".qr-wallet{display:block;padding:.9rem 1rem;margin:.5rem 0;border:1px solid #ccd;"
    "border-radius:.5rem;text-decoration:none}";

static void static_get(http_req *req, http_resp *resp, const char *type, const char *body, size_t n)
{
    http_resp_set(resp, 200, type, body, n);
    http_resp_header(req, resp, "Cache-Control", "public, max-age=3600");
    http_resp_header(req, resp, "X-Content-Type-Options", "nosniff");
}

static void js_get(http_req *req, http_resp *resp, void *ctx)
{
    (void)ctx;
    static_get(req, resp, "text/javascript; charset=utf-8", qr_js, sizeof qr_js - 1);
}

static void css_get(http_req *req, http_resp *resp, void *ctx)
{
    (void)ctx;
    static_get(req, resp, "text/css; charset=utf-8", qr_css, sizeof qr_css - 1);
}

static const http_route routes[] = {
    {"GET", "/pay/qr.js", js_get, AUTH_NONE, 0, "qr_js", 0},
    {"GET", "/pay/qr.css", css_get, AUTH_NONE, 0, "qr_css", 0},
    {"GET", "/pay/qr/:attempt", page_get, AUTH_NONE, 0, "qr_page", 0},
    {"GET", "/pay/qr/:attempt/status", status_get, AUTH_NONE, 0, "qr_status", 0},
    {"POST", "/pay/qr/:attempt/cancel", cancel_post, AUTH_NONE, LIMIT_PAGE_FORM_MAX, "qr_cancel",
     HTTP_SAME_ORIGIN},
};

size_t qr_routes(const http_route **out)
{
    K_ASSERT(out != NULL);
    *out = routes;
    return K_ARRAY_LEN(routes);
}
