/*
 * bo_payment.c - one payment: its summary, order lines, one timeline (journal
 * operations, events and their webhook deliveries, staff actions) and the
 * actions its state allows. An action is a POST with a confirmation box, the
 * CSRF token and a fresh idempotency key; the handler translates it onto the
 * gateway's use case (capture, cancel, extend, edit, refund, resend, sync) as
 * the Stripe dialect does, audits it with before and after, and answers 303
 * back to the page, which every open browser refreshes from the live stream.
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/clock.h"
#include "../../base/crypto.h"
#include "../../base/log.h"
#include "../../domain/money.h"

/* ---- the actions table ---- */

typedef struct bo_action bo_action;
typedef k_status (*bo_act_fn)(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem,
                              gw_err *err);

struct bo_action {
    const char *name;  /* the URL's :action and the audit's "payment.<name>" */
    unsigned perm;     /* what the role needs */
    const char *label; /* English; bo_t translates */
    bo_act_fn fn;
    bool record_is_refund; /* the use case answers a gw_refund (else the payment) */
};

/* What a failed action tells the page: which action, and why. */
typedef struct {
    const char *action;
    const char *param;
    const char *message;
} bo_notice;

static void payment_page(bo_req *r, int status, const gw_payment *p, const bo_notice *n);

static const char *pay_snapshot_in(arena *a, const gw_payment *p)
{
    json_t *o =
        json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "status", pay_state_name(p->m.state), "amount",
                  (json_int_t)p->m.amount, "captured", (json_int_t)p->m.captured, "refunded",
                  (json_int_t)p->m.refunded, "released", (json_int_t)p->m.released,
                  "auth_expires_at", (json_int_t)p->auth_expires_at);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = arena_strdup(a, s != NULL ? s : "{}");
    free(s);
    return copy;
}

/* staff_audit_hook.after_of: the state after, from what the use case answered
 * inside its transaction (a refund for the refund actions, else the payment). */
static const char *after_of_payment(void *ctx, const void *record, arena *a)
{
    (void)ctx;
    return pay_snapshot_in(a, record);
}

static const char *after_of_refund(void *ctx, const void *record, arena *a)
{
    (void)ctx;
    const gw_refund *rf = record;
    json_t *o = json_pack("{s:s,s:I,s:s}", "refund", rf->id, "amount", (json_int_t)rf->amount,
                          "status", rf->status != NULL ? rf->status : "");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = arena_strdup(a, s != NULL ? s : "{}");
    free(s);
    return copy;
}

static const char *bo_pay_snapshot(bo_req *r, const gw_payment *p)
{
    return pay_snapshot_in(r->req->arena, p);
}

static char *bo_idem_render(gw_idem *self, const void *record, arena *a)
{
    (void)self;
    (void)record;
    return arena_strdup(a, "{\"backoffice\":true}");
}

static bool bo_parse_money(bo_req *r, const char *field, const gw_payment *p, int64_t *out)
{
    const currency_info *cur = currency_find(p->currency);
    const char *v = bo_f(r, field);
    return cur != NULL && v != NULL && money_parse_decimal(v, cur, out) == K_OK && *out > 0;
}

static k_status act_capture(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem,
                            gw_err *err)
{
    (void)a;
    gw_payment out;
    return gw_pi_capture(r->api->g, r->s.merchant_id, p->id, 0, true, NULL, idem, r->req->arena,
                         &out, err);
}

static k_status act_capture_amount(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem,
                                   gw_err *err)
{
    (void)a;
    int64_t amount = 0;
    if (!bo_parse_money(r, "amount", p, &amount)) {
        snprintf(err->param, sizeof err->param, "amount");
        snprintf(err->message, sizeof err->message, "%s", T(r, "Give an amount such as 25.00."));
        err->why = GW_WHY_PARAM_INVALID;
        return K_EINVAL;
    }
    bool final = bo_f(r, "final") != NULL;
    gw_payment out;
    return gw_pi_capture(r->api->g, r->s.merchant_id, p->id, amount, final, NULL, idem,
                         r->req->arena, &out, err);
}

static bool line_is_shipping(json_t *l)
{
    const char *t = json_string_value(json_object_get(l, "type"));
    return t != NULL && strcmp(t, "shipping_fee") == 0;
}

static k_status act_capture_lines(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem,
                                  gw_err *err)
{
    (void)a;
    json_t *chosen = json_array();
    arena_defer(r->req->arena, (void (*)(void *))json_decref, chosen);
    size_t i, goods = 0;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        char key[32];
        snprintf(key, sizeof key, "line_%zu", i);
        if (!line_is_shipping(l))
            goods++;
        if (!line_is_shipping(l) && bo_f(r, key) != NULL)
            json_array_append(chosen, l);
    }
    if (json_array_size(chosen) == 0) {
        snprintf(err->param, sizeof err->param, "lines");
        snprintf(err->message, sizeof err->message, "%s", T(r, "Choose the lines that shipped."));
        err->why = GW_WHY_PARAM_INVALID;
        return K_EINVAL;
    }
    /* Everything shipped: a final capture; otherwise the rest stays capturable
     * ("partially activated"). The gateway adds the whole shipping fee to the
     * first capture. */
    bool final = json_array_size(chosen) == goods;
    gw_payment out;
    return gw_pi_capture(r->api->g, r->s.merchant_id, p->id, 0, final, chosen, idem, r->req->arena,
                         &out, err);
}

static k_status act_cancel(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    gw_payment out;
    return gw_pi_cancel(r->api->g, r->s.merchant_id, p->id, "requested_by_customer", idem,
                        r->req->arena, &out, err);
}

static k_status act_extend(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    gw_payment out;
    return gw_pi_extend(r->api->g, r->s.merchant_id, p->id, idem, r->req->arena, &out, err);
}

static k_status act_refund(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    int64_t amount = 0;
    bool full = bo_f(r, "amount") == NULL;
    if (!full && !bo_parse_money(r, "amount", p, &amount)) {
        snprintf(err->param, sizeof err->param, "amount");
        snprintf(err->message, sizeof err->message, "%s",
                 T(r, "Give an amount such as 25.00, or leave it empty to refund everything."));
        err->why = GW_WHY_PARAM_INVALID;
        return K_EINVAL;
    }
    int64_t asked = full ? p->m.captured - p->m.refunded - p->m.refund_pending : amount;
    if (asked > r->s.refund_reauth_above &&
        !staff_reauth(r->api->g, &r->s, bo_f(r, "reauth"), r->req->arena)) {
        snprintf(err->param, sizeof err->param, "reauth");
        snprintf(err->message, sizeof err->message, "%s",
                 T(r, "Refunds this large need your password or a current authentication code."));
        err->why = GW_WHY_FORBIDDEN;
        return K_EINVAL;
    }
    gw_refund_params rp = {.payment_id = p->id, .amount = full ? 0 : amount};
    gw_refund out;
    return gw_refund_create(r->api->g, r->s.merchant_id, &rp, idem, r->req->arena, &out, err);
}

/* Refund by lines: the quantities chosen per order line; the gateway computes
 * the amount from them (and sends the lines to Klarna). */
static k_status act_refund_lines(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem,
                                 gw_err *err)
{
    (void)a;
    json_t *chosen = json_array();
    arena_defer(r->req->arena, (void (*)(void *))json_decref, chosen);
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        char key[32];
        snprintf(key, sizeof key, "rqty_%zu", i);
        const char *v = bo_f(r, key);
        char *end = NULL;
        long long q = v != NULL ? strtoll(v, &end, 10) : 0;
        if (v != NULL && (*end != '\0' || q < 0 || q > 100000)) {
            snprintf(err->param, sizeof err->param, "%s", key);
            snprintf(err->message, sizeof err->message, "%s",
                     T(r, "Give a whole quantity (0 removes the line)."));
            err->why = GW_WHY_PARAM_INVALID;
            return K_EINVAL;
        }
        if (q > 0)
            json_array_append_new(
                chosen, json_pack("{s:I,s:I}", "line", (json_int_t)i, "quantity", (json_int_t)q));
    }
    int64_t amount = 0;
    if (gw_refund_lines_amount(p, chosen, r->req->arena, &amount, NULL, err) != K_OK)
        return K_EINVAL;
    if (amount > r->s.refund_reauth_above &&
        !staff_reauth(r->api->g, &r->s, bo_f(r, "reauth"), r->req->arena)) {
        snprintf(err->param, sizeof err->param, "reauth");
        snprintf(err->message, sizeof err->message, "%s",
                 T(r, "Refunds this large need your password or a current authentication code."));
        err->why = GW_WHY_FORBIDDEN;
        return K_EINVAL;
    }
    gw_refund_params rp = {.payment_id = p->id, .lines = chosen};
    gw_refund out;
    return gw_refund_create(r->api->g, r->s.merchant_id, &rp, idem, r->req->arena, &out, err);
}

static k_status act_resend(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    (void)idem;
    gw_payment out;
    return gw_pi_resend(r->api->g, r->s.merchant_id, p->id, r->req->arena, &out, err);
}

static k_status act_sync(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    (void)idem;
    gw_payment out;
    return gw_pi_sync(r->api->g, r->s.merchant_id, p->id, r->req->arena, &out, err);
}

/* The edited lines: each kept line with its new quantity, plus an optional new one. */
static k_status edit_lines_of(bo_req *r, gw_payment *p, json_t *lines, gw_err *err)
{
    const currency_info *cur = currency_find(p->currency);
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        char key[32];
        snprintf(key, sizeof key, "qty_%zu", i);
        const char *v = bo_f(r, key);
        char *end = NULL;
        long long qty = v != NULL ? strtoll(v, &end, 10) : -1;
        if (v == NULL || *end != '\0' || qty < 0 || qty > 100000) {
            snprintf(err->param, sizeof err->param, "%s", key);
            snprintf(err->message, sizeof err->message, "%s",
                     T(r, "Give a whole quantity (0 removes the line)."));
            return K_EINVAL;
        }
        if (qty == 0)
            continue;
        json_t *c = json_deep_copy(l);
        int64_t unit = json_integer_value(json_object_get(c, "unit_price")), total = 0;
        if (!money_mul(unit, qty, &total)) {
            json_decref(c);
            return K_EINVAL;
        }
        json_object_set_new(c, "quantity", json_integer(qty));
        json_object_set_new(c, "total_amount", json_integer(total));
        json_object_del(c, "total_discount_amount");
        json_array_append_new(lines, c);
    }
    const char *name = bo_f(r, "new_name");
    int64_t unit = 0;
    if (name != NULL) {
        if (cur == NULL || bo_f(r, "new_price") == NULL ||
            money_parse_decimal(bo_f(r, "new_price"), cur, &unit) != K_OK || unit <= 0) {
            snprintf(err->param, sizeof err->param, "new_price");
            snprintf(err->message, sizeof err->message, "%s",
                     T(r, "Give an amount such as 25.00."));
            return K_EINVAL;
        }
        json_array_append_new(lines,
                              json_pack("{s:s,s:i,s:I,s:I,s:i,s:s}", "name", name, "quantity", 1,
                                        "unit_price", (json_int_t)unit, "total_amount",
                                        (json_int_t)unit, "tax_rate", 0, "type", "physical"));
    }
    return K_OK;
}

static k_status act_edit(bo_req *r, const bo_action *a, gw_payment *p, gw_idem *idem, gw_err *err)
{
    (void)a;
    json_t *lines = json_array();
    arena_defer(r->req->arena, (void (*)(void *))json_decref, lines);
    if (edit_lines_of(r, p, lines, err) != K_OK) {
        err->why = GW_WHY_PARAM_INVALID;
        return K_EINVAL;
    }
    gw_payment out;
    return gw_pi_edit(r->api->g, r->s.merchant_id, p->id, lines, idem, r->req->arena, &out, err);
}

static const bo_action bo_actions[] = {
    {"capture", STAFF_ACT, "Capture in full", act_capture, false},
    {"capture_lines", STAFF_ACT, "Capture the shipped lines", act_capture_lines, false},
    {"capture_amount", STAFF_ACT, "Capture an amount", act_capture_amount, false},
    {"cancel", STAFF_ACT, "Cancel the reservation", act_cancel, false},
    {"release", STAFF_ACT, "Release the remainder", act_cancel, false},
    {"extend", STAFF_ACT, "Extend the authorisation", act_extend, false},
    {"edit_lines", STAFF_ACT, "Change the order lines", act_edit, false},
    {"resend", STAFF_ACT, "Resend payment instructions", act_resend, false},
    {"sync", STAFF_ACT, "Check status with the provider", act_sync, false},
    {"refund", STAFF_REFUND, "Refund", act_refund, true},
    {"refund_lines", STAFF_REFUND, "Refund order lines", act_refund_lines, true},
};

static const bo_action *action_find(const char *name)
{
    for (size_t i = 0; i < K_ARRAY_LEN(bo_actions); i++)
        if (strcmp(bo_actions[i].name, name) == 0)
            return &bo_actions[i];
    return NULL;
}

/* Which actions the state allows (the gateway has the last word either way). */
static bool action_shown(const char *name, const gw_payment *p)
{
    bool auth = p->m.state == PS_REQUIRES_CAPTURE;
    bool has_lines = json_array_size(p->lines) > 0;
    bool klarna = p->method_type != NULL && strncmp(p->method_type, "klarna", 6) == 0;
    if (strcmp(name, "capture") == 0 || strcmp(name, "capture_amount") == 0)
        return auth;
    if (strcmp(name, "capture_lines") == 0 || strcmp(name, "edit_lines") == 0)
        return auth && has_lines;
    if (strcmp(name, "cancel") == 0)
        return pay_transition(p->m.state, OP_CANCEL) >= 0 && p->m.captured == 0;
    if (strcmp(name, "release") == 0)
        return auth && p->m.captured > 0;
    if (strcmp(name, "extend") == 0)
        return auth && klarna;
    if (strcmp(name, "refund") == 0)
        return p->m.captured - p->m.refunded - p->m.refund_pending > 0;
    if (strcmp(name, "refund_lines") == 0)
        return p->m.captured - p->m.refunded - p->m.refund_pending > 0 && has_lines;
    if (strcmp(name, "resend") == 0)
        return klarna && p->m.captured > 0;
    return strcmp(name, "sync") == 0 && p->latest_attempt != NULL;
}

/* ---- running an action ---- */

/* The reason typed, at most LIMIT_BO_REASON_MAX bytes (arena copy). */
static const char *bo_reason(bo_req *r)
{
    const char *reason = bo_f(r, "reason");
    if (reason != NULL && strlen(reason) > LIMIT_BO_REASON_MAX) /* may cut UTF-8: display only */
        return arena_printf(r->req->arena, "%.*s", LIMIT_BO_REASON_MAX, reason);
    return reason;
}

void bo_audit_action(bo_req *r, const char *action, const char *object_id, const char *before,
                     const char *after, const char *outcome)
{
    const char *reason = bo_reason(r);
    staff_audit_entry e = {.action = action,
                           .object_id = object_id,
                           .before_json = before,
                           .after_json = after,
                           .reason = reason,
                           .outcome = outcome};
    staff_audit(r->api->g, &r->s, NULL, NULL, r->req->remote_addr, &e);
}

static bool idem_key_ok(const char *k)
{
    if (k == NULL || strlen(k) != 32)
        return false;
    for (const char *p = k; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* The form's fingerprint: action, payment and every field but the CSRF token. */
static void idem_fingerprint(bo_req *r, const bo_action *a, const gw_payment *p, char out[65])
{
    json_t *copy = json_copy(r->form);
    json_object_del(copy, "csrf");
    json_object_set_new(copy, "_action", json_string(a->name));
    json_object_set_new(copy, "_payment", json_string(p->id));
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    crypto_sha256_hex(s != NULL ? s : "", s != NULL ? strlen(s) : 0, out);
    free(s);
}

static void action_refused(bo_req *r, const bo_action *a, gw_payment *p, const gw_err *err)
{
    char *outcome = arena_printf(r->req->arena, "refused: %s", err->message);
    bo_audit_action(r, arena_printf(r->req->arena, "payment.%s", a->name), p->id,
                    bo_pay_snapshot(r, p), NULL, outcome);
    bo_notice n = {a->name, err->param, err->message};
    int status = bo_status(err);
    payment_page(r, status, p, &n);
}

/* resend and sync take no key of their own: the key is kept here around them. */
static bool action_takes_idem(const bo_action *a)
{
    return a->fn != act_resend && a->fn != act_sync;
}

static void action_run(bo_req *r, const bo_action *a, gw_payment *p)
{
    char fp[65];
    idem_fingerprint(r, a, p, fp);
    gw_idem idem = {.key = arena_printf(r->req->arena, "bo:%s:%s", r->s.id, bo_f(r, "idem")),
                    .fingerprint = fp,
                    .render = bo_idem_render};
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status ks = gw_idem_begin(r->api->g, r->s.merchant_id, &idem, r->req->arena, &err);
    if (ks == K_OK && idem.replayed) {
        char *to = arena_printf(r->req->arena, "/dashboard/payments/%s?done=%s&replayed=1", p->id,
                                a->name);
        http_resp_redirect(r->req, r->resp, to);
        return;
    }
    if (ks != K_ENOTFOUND) {
        action_refused(r, a, p, &err);
        return;
    }
    const char *before = bo_pay_snapshot(r, p);
    /* The audit row goes in with the action's own change (one transaction). */
    staff_audit_hook audit = {.s = &r->s,
                              .e = {.action = arena_printf(r->req->arena, "payment.%s", a->name),
                                    .object_id = p->id,
                                    .before_json = before,
                                    .reason = bo_reason(r)},
                              .after_of = a->record_is_refund ? after_of_refund : after_of_payment};
    staff_audit_attach(&audit, &idem);
    ks = a->fn(r, a, p, action_takes_idem(a) ? &idem : NULL, &err);
    if (ks == K_OK && !action_takes_idem(a))
        gw_idem_store_error(r->api->g, r->s.merchant_id, &idem, 200, "{\"backoffice\":true}");
    gw_idem_end(r->api->g, r->s.merchant_id, &idem);
    if (ks != K_OK) {
        action_refused(r, a, p, &err);
        return;
    }
    if (!audit.written) {
        /* resend and sync take no idempotency record of their own in the gateway:
         * their row follows the answer, in its own transaction */
        gw_payment after;
        gw_err e2;
        const char *after_s = NULL;
        if (gw_pi_get(r->api->g, r->s.merchant_id, p->id, r->req->arena, &after, &e2) == K_OK)
            after_s = bo_pay_snapshot(r, &after);
        bo_audit_action(r, audit.e.action, p->id, before, after_s, "ok");
    }
    http_resp_redirect(
        r->req, r->resp,
        arena_printf(r->req->arena, "/dashboard/payments/%s?done=%s", p->id, a->name));
}

static bool load_payment(bo_req *r, gw_payment *p)
{
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *id = r->req->params[0];
    if (gw_pi_get(r->api->g, r->s.merchant_id, id, r->req->arena, p, &err) == K_OK)
        return true;
    bo_message(r, 404, T(r, "Not found"), T(r, "There is no such payment."), "/dashboard/payments");
    return false;
}

void bo_payment_action(bo_req *r)
{
    const bo_action *a = action_find(r->req->params[1]);
    if (a == NULL) {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such action."),
                   "/dashboard/payments");
        return;
    }
    gw_payment p;
    if (!load_payment(r, &p))
        return;
    if (!staff_can(&r->s, (staff_perm)a->perm)) {
        bo_audit_action(r, arena_printf(r->req->arena, "payment.%s", a->name), p.id, NULL, NULL,
                        "refused: role");
        bo_message(r, 403, T(r, "Not allowed"),
                   T(r, "Your role may not do this. Nothing was changed."),
                   arena_printf(r->req->arena, "/dashboard/payments/%s", p.id));
        return;
    }
    if (bo_f(r, "confirm") == NULL) {
        bo_notice n = {a->name, "confirm", T(r, "Tick the box to confirm.")};
        payment_page(r, 400, &p, &n);
        return;
    }
    if (!idem_key_ok(bo_f(r, "idem"))) {
        bo_notice n = {a->name, "idem", T(r, "This form is stale: reload the page.")};
        payment_page(r, 400, &p, &n);
        return;
    }
    action_run(r, a, &p);
}

/* ---- the page ---- */

static void dl_item(bo_req *r, const char *term, const char *value)
{
    bo_fmt(r, "<div><dt>%s</dt><dd>", term);
    bo_esc(r, value != NULL && value[0] != '\0' ? value : "–");
    bo_raw(r, "</dd></div>");
}

static void dl_money(bo_req *r, const char *term, int64_t v, const char *currency)
{
    bo_fmt(r, "<div><dt>%s</dt><dd>", term);
    bo_money(r, v, currency);
    bo_raw(r, "</dd></div>");
}

static void summary(bo_req *r, const gw_payment *p)
{
    bo_raw(r, "<section id=\"summary\" data-live-part aria-labelledby=\"sum-h\">");
    bo_fmt(r, "<h2 id=\"sum-h\">%s <span class=\"st st-%s\">%s</span></h2><dl class=\"facts\">",
           T(r, "Summary"), pay_state_name(p->m.state),
           bo_status_label(r, pay_state_name(p->m.state)));
    dl_money(r, T(r, "Amount"), p->m.amount, p->currency);
    dl_money(r, T(r, "Authorised"), p->m.authorized, p->currency);
    dl_money(r, T(r, "Captured"), p->m.captured, p->currency);
    dl_money(r, T(r, "Refunded"), p->m.refunded, p->currency);
    dl_money(r, T(r, "Released"), p->m.released, p->currency);
    dl_item(r, T(r, "Method"), p->method_type);
    dl_item(r, T(r, "Dialect"), p->channel);
    bo_fmt(r, "<div><dt>%s</dt><dd>", T(r, "Customer"));
    if (p->email != NULL && !staff_can(&r->s, STAFF_SECRETS))
        bo_raw(r, "•••");
    else
        bo_esc(r, p->email != NULL ? p->email : "–");
    bo_raw(r, "</dd></div>");
    dl_item(r, T(r, "Country"), p->country);
    dl_item(r, T(r, "Klarna order id"), p->order_ref);
    dl_item(r, T(r, "Provider reference"), p->provider_ref);
    dl_item(r, T(r, "Shop's payment id"), p->external_id);
    bo_fmt(r, "<div><dt>%s</dt><dd>", T(r, "Created"));
    bo_time(r, p->created);
    bo_fmt(r, "</dd></div><div><dt>%s</dt><dd id=\"expires\">", T(r, "Authorisation expires"));
    bo_time(r, p->auth_expires_at);
    bo_raw(r, "</dd></div></dl></section>");
}

static void lines_table(bo_req *r, const gw_payment *p)
{
    if (json_array_size(p->lines) == 0)
        return;
    bo_fmt(r,
           "<section aria-labelledby=\"lines-h\"><h2 id=\"lines-h\">%s</h2><div class=\"scroll\">"
           "<table class=\"list\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
           "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
           T(r, "Order lines"), T(r, "Item"), T(r, "Quantity"), T(r, "Unit price"), T(r, "Total"));
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        bo_raw(r, "<tr><td>");
        bo_esc(r, json_string_value(json_object_get(l, "name")));
        bo_fmt(r, "</td><td class=\"num\">%lld</td><td class=\"num\">",
               (long long)json_integer_value(json_object_get(l, "quantity")));
        bo_money(r, json_integer_value(json_object_get(l, "unit_price")), p->currency);
        bo_raw(r, "</td><td class=\"num\">");
        bo_money(r, json_integer_value(json_object_get(l, "total_amount")), p->currency);
        bo_raw(r, "</td></tr>");
    }
    bo_raw(r, "</tbody></table></div></section>");
}

/* ---- the timeline: one list, oldest first, from three sources ---- */

typedef struct {
    int64_t at_ms;
    const char *kind; /* "op", "event", "staff" */
    const char *title;
    const char *detail;
    const char *state; /* succeeded / failed / ok / refused ... */
} tl_item;

static int tl_cmp(const void *a, const void *b)
{
    const tl_item *x = a, *y = b;
    return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms ? 1 : 0;
}

static const char *deliveries_text(bo_req *r, const char *event_id)
{
    json_t *ds = NULL;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_deliveries(r->api->g, r->s.merchant_id, event_id, r->req->arena, &ds, &err) !=
            K_OK ||
        json_array_size(ds) == 0)
        return NULL;
    buf b;
    buf_init(&b, 4096);
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d)
    {
        json_t *log = json_object_get(d, "attempts_log");
        json_t *last = json_array_get(log, json_array_size(log) - 1);
        buf_printf(&b, "%s%s → %s, %lld %s, HTTP %lld", i > 0 ? "; " : "",
                   json_string_value(json_object_get(d, "endpoint")),
                   json_string_value(json_object_get(d, "state")),
                   (long long)json_integer_value(json_object_get(d, "attempts")), T(r, "attempts"),
                   (long long)json_integer_value(json_object_get(d, "last_status")));
        if (last != NULL)
            buf_printf(&b, ", %lld ms",
                       (long long)json_integer_value(json_object_get(last, "latency_ms")));
    }
    char *s = arena_strndup(r->req->arena, b.data != NULL ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

static size_t tl_ops(bo_req *r, const gw_payment *p, tl_item *items, size_t cap)
{
    store_op *ops;
    size_t n = 0, k = 0;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_pi_journal(r->api->g, r->s.merchant_id, p->id, r->req->arena, &ops, &n, &err) != K_OK)
        return 0;
    const currency_info *cur = currency_find(p->currency);
    for (size_t i = 0; i < n && k < cap; i++) {
        char amount[64] = "";
        if (ops[i].amount > 0 && cur != NULL)
            money_format(ops[i].amount, cur, r->locale, amount, sizeof amount);
        items[k++] =
            (tl_item){.at_ms = ops[i].created_ms,
                      .kind = "op",
                      .title = arena_printf(r->req->arena, "%s %s", T(r, ops[i].kind), amount),
                      .detail = ops[i].message,
                      .state = ops[i].status};
    }
    return k;
}

static size_t tl_events(bo_req *r, const gw_payment *p, tl_item *items, size_t cap)
{
    store_list_q q = {.parent_id = p->id, .limit = LIMIT_LIST_PAGE_MAX};
    gw_event *evs;
    size_t n = 0, k = 0;
    bool more;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_event_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &evs, &n, &more, &err) !=
        K_OK)
        return 0;
    for (size_t i = 0; i < n && k < cap; i++)
        /* events carry whole seconds: placed after the operations of their second */
        items[k++] = (tl_item){.at_ms = evs[i].created * 1000 + 999,
                               .kind = "event",
                               .title = evs[i].type,
                               .detail = deliveries_text(r, evs[i].id),
                               .state = "event"};
    return k;
}

static size_t tl_staff(bo_req *r, const gw_payment *p, tl_item *items, size_t cap)
{
    store_audit_q q = {.object_id = p->id, .limit = LIMIT_LIST_PAGE_MAX};
    store_audit *rows;
    size_t n = 0, k = 0;
    bool more;
    if (staff_audit_list(r->api->g, r->s.merchant_id, &q, r->req->arena, &rows, &n, &more) != K_OK)
        return 0;
    for (size_t i = 0; i < n && k < cap; i++)
        items[k++] = (tl_item){
            .at_ms = rows[i].at_ms,
            .kind = "staff",
            .title = arena_printf(r->req->arena, "%s: %s", rows[i].staff_email, rows[i].action),
            .detail = rows[i].reason,
            .state = strcmp(rows[i].outcome, "ok") == 0 ? "ok" : rows[i].outcome};
    return k;
}

static void timeline(bo_req *r, const gw_payment *p)
{
    enum { TL_MAX = 3 * LIMIT_LIST_PAGE_MAX };
    tl_item *items = arena_alloc(r->req->arena, TL_MAX * sizeof *items);
    if (items == NULL) {
        r->st = K_ENOMEM;
        return;
    }
    size_t n = tl_ops(r, p, items, TL_MAX);
    n += tl_events(r, p, items + n, TL_MAX - n);
    n += tl_staff(r, p, items + n, TL_MAX - n);
    qsort(items, n, sizeof *items, tl_cmp);
    bo_fmt(r,
           "<section id=\"timeline\" data-live-part aria-labelledby=\"tl-h\"><h2 id=\"tl-h\">%s"
           "</h2><ol class=\"timeline\">",
           T(r, "Timeline"));
    for (size_t i = 0; i < n; i++) {
        bo_fmt(r, "<li class=\"tl-%s\"><span class=\"when\">", items[i].kind);
        bo_time(r, items[i].at_ms / 1000);
        bo_fmt(r, "</span> <span class=\"tag\">%s</span> <strong>", T(r, items[i].kind));
        bo_esc(r, items[i].title);
        bo_raw(r, "</strong> <span class=\"muted\">");
        bo_esc(r, items[i].state);
        bo_raw(r, "</span>");
        if (items[i].detail != NULL && items[i].detail[0] != '\0') {
            bo_raw(r, "<br><span class=\"detail\">");
            bo_esc(r, items[i].detail);
            bo_raw(r, "</span>");
        }
        bo_raw(r, "</li>");
    }
    bo_raw(r, "</ol></section>");
}

/* ---- action forms ---- */

static void form_begin(bo_req *r, const gw_payment *p, const bo_action *a, const bo_notice *n)
{
    bo_fmt(r,
           "<form method=\"post\" class=\"action\" id=\"act-%s\" "
           "action=\"/dashboard/payments/%s/%s\"><h3>%s</h3>",
           a->name, p->id, a->name, T(r, a->label));
    bo_csrf_field(r);
    bo_idem_field(r);
    if (n != NULL && strcmp(n->action, a->name) == 0) {
        bo_fmt(r, "<p class=\"err\" role=\"alert\" id=\"err-%s\">", a->name);
        bo_esc(r, n->message);
        bo_raw(r, "</p>");
    }
}

static void form_end(bo_req *r, const bo_action *a)
{
    bo_fmt(r,
           "<label for=\"reason-%s\">%s</label><input id=\"reason-%s\" name=\"reason\" "
           "maxlength=\"%d\">",
           a->name, T(r, "Reason (kept in the audit log)"), a->name, LIMIT_BO_REASON_MAX);
    bo_fmt(r,
           "<p class=\"check\"><input type=\"checkbox\" id=\"confirm-%s\" name=\"confirm\" "
           "value=\"yes\" required><label for=\"confirm-%s\">%s</label></p>",
           a->name, a->name, T(r, "I confirm this action"));
    bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, a->label));
}

static void form_lines(bo_req *r, const gw_payment *p)
{
    bo_fmt(r, "<fieldset><legend>%s</legend>", T(r, "Lines that shipped"));
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        if (line_is_shipping(l))
            continue;
        bo_fmt(r,
               "<p class=\"check\"><input type=\"checkbox\" id=\"cl-%zu\" name=\"line_%zu\" "
               "value=\"1\"><label for=\"cl-%zu\">",
               i, i, i);
        bo_esc(r, json_string_value(json_object_get(l, "name")));
        bo_raw(r, " (");
        bo_money(r, json_integer_value(json_object_get(l, "total_amount")), p->currency);
        bo_raw(r, ")</label></p>");
    }
    bo_fmt(r, "</fieldset><p class=\"hint\">%s</p>",
           T(r, "The whole shipping fee is captured with the first capture."));
}

static void form_amount(bo_req *r, const bo_action *a, const char *label, const bo_notice *n)
{
    bool bad = n != NULL && strcmp(n->action, a->name) == 0 && n->param != NULL &&
               strcmp(n->param, "amount") == 0;
    bo_fmt(r,
           "<label for=\"amount-%s\">%s</label><input id=\"amount-%s\" name=\"amount\" "
           "inputmode=\"decimal\" placeholder=\"0.00\"%s>",
           a->name, label, a->name, bad ? " aria-invalid=\"true\"" : "");
}

static void form_extend(bo_req *r, const gw_payment *p)
{
    int64_t next = 0, ceiling = 0;
    staff_extend_preview(r->api->g, p, &next, &ceiling);
    bo_fmt(r, "<p>%s ", T(r, "New expiry:"));
    bo_time(r, next);
    bo_fmt(r, ". %s ", T(r, "It can never run past"));
    bo_time(r, ceiling);
    bo_fmt(r, " (%s).</p>", T(r, "180 days after the payment was created"));
}

static void form_edit(bo_req *r, const gw_payment *p)
{
    bo_fmt(r, "<fieldset><legend>%s</legend>", T(r, "Quantities (0 removes a line)"));
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        bo_fmt(r, "<p><label for=\"qty-%zu\">", i);
        bo_esc(r, json_string_value(json_object_get(l, "name")));
        bo_fmt(r,
               "</label><input id=\"qty-%zu\" name=\"qty_%zu\" inputmode=\"numeric\" "
               "value=\"%lld\"></p>",
               i, i, (long long)json_integer_value(json_object_get(l, "quantity")));
    }
    bo_fmt(r,
           "</fieldset><fieldset><legend>%s</legend><label for=\"new-name\">%s</label>"
           "<input id=\"new-name\" name=\"new_name\"><label for=\"new-price\">%s</label>"
           "<input id=\"new-price\" name=\"new_price\" inputmode=\"decimal\" "
           "placeholder=\"0.00\"></fieldset><p class=\"hint\">%s</p>",
           T(r, "Add a line"), T(r, "Item"), T(r, "Unit price"),
           T(r, "A higher total needs Klarna's new decision; when Klarna refuses, nothing "
                "changes."));
}

static void form_reauth(bo_req *r, const gw_payment *p, const bo_action *a, const bo_notice *n)
{
    bool bad = n != NULL && strcmp(n->action, a->name) == 0 && n->param != NULL &&
               strcmp(n->param, "reauth") == 0;
    const char *id = strcmp(a->name, "refund") == 0 ? "reauth" : "reauth-lines";
    bo_fmt(r, "<label for=\"%s\">%s ", id, T(r, "Password or authentication code, needed above"));
    bo_money(r, r->s.refund_reauth_above, p->currency);
    bo_fmt(r,
           "</label><input id=\"%s\" name=\"reauth\" type=\"password\" "
           "autocomplete=\"current-password\"%s>",
           id, bad ? " aria-invalid=\"true\"" : "");
}

static void form_refund(bo_req *r, const gw_payment *p, const bo_action *a, const bo_notice *n)
{
    form_amount(r, a, T(r, "Amount (empty: everything refundable)"), n);
    form_reauth(r, p, a, n);
}

/* Each order line with how many of it may still be refunded. */
static void form_refund_lines(bo_req *r, const gw_payment *p, const bo_action *a,
                              const bo_notice *n)
{
    bo_fmt(r, "<fieldset><legend>%s</legend>", T(r, "Quantities to refund"));
    size_t i;
    json_t *l;
    json_array_foreach(p->lines, i, l)
    {
        long long qty = (long long)json_integer_value(json_object_get(l, "quantity"));
        long long left =
            qty - (long long)json_integer_value(json_object_get(l, "refunded_quantity"));
        char key[32];
        snprintf(key, sizeof key, "rqty_%zu", i);
        bool bad = n != NULL && strcmp(n->action, a->name) == 0 && n->param != NULL &&
                   strcmp(n->param, key) == 0;
        bo_fmt(r, "<p><label for=\"rqty-%zu\">", i);
        bo_esc(r, json_string_value(json_object_get(l, "name")));
        bo_raw(r, " (");
        bo_money(r, json_integer_value(json_object_get(l, "total_amount")), p->currency);
        bo_fmt(r, "; %s %lld)</label>", T(r, "refundable quantity"), left > 0 ? left : 0);
        bo_fmt(r,
               "<input id=\"rqty-%zu\" name=\"rqty_%zu\" type=\"number\" min=\"0\" "
               "max=\"%lld\" value=\"0\" inputmode=\"numeric\"%s%s></p>",
               i, i, left > 0 ? left : 0, left > 0 ? "" : " disabled",
               bad ? " aria-invalid=\"true\"" : "");
    }
    bo_fmt(r, "</fieldset><p class=\"hint\">%s</p>",
           T(r, "The amount is the lines' total; Klarna receives the lines."));
    form_reauth(r, p, a, n);
}

static void action_form(bo_req *r, const gw_payment *p, const bo_action *a, const bo_notice *n)
{
    form_begin(r, p, a, n);
    if (a->fn == act_capture_lines)
        form_lines(r, p);
    else if (a->fn == act_capture_amount) {
        form_amount(r, a, T(r, "Amount to capture"), n);
        bo_fmt(r,
               "<p class=\"check\"><input type=\"checkbox\" id=\"final-c\" name=\"final\" "
               "value=\"yes\"><label for=\"final-c\">%s</label></p>",
               T(r, "Last capture: release the rest"));
    } else if (a->fn == act_extend)
        form_extend(r, p);
    else if (a->fn == act_edit)
        form_edit(r, p);
    else if (a->fn == act_refund)
        form_refund(r, p, a, n);
    else if (a->fn == act_refund_lines)
        form_refund_lines(r, p, a, n);
    form_end(r, a);
}

static void actions(bo_req *r, const gw_payment *p, const bo_notice *n)
{
    bo_fmt(r,
           "<section id=\"actions\" data-live-part aria-labelledby=\"act-h\"><h2 id=\"act-h\">"
           "%s</h2>",
           T(r, "Actions"));
    size_t shown = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(bo_actions); i++) {
        const bo_action *a = &bo_actions[i];
        if (!staff_can(&r->s, (staff_perm)a->perm) || !action_shown(a->name, p))
            continue;
        action_form(r, p, a, n);
        shown++;
    }
    if (shown == 0)
        bo_fmt(r, "<p>%s</p>",
               staff_can(&r->s, STAFF_ACT) || staff_can(&r->s, STAFF_REFUND)
                   ? T(r, "Nothing can be done with this payment in its state.")
                   : T(r, "Your role may look but not act."));
    bo_raw(r, "</section>");
}

static void done_note(bo_req *r)
{
    const char *done = bo_q(r, "done");
    const bo_action *a = done != NULL ? action_find(done) : NULL;
    if (a == NULL)
        return;
    bo_fmt(r, "<p class=\"banner ok\" role=\"status\">%s: %s</p>", T(r, a->label),
           bo_q(r, "replayed") != NULL ? T(r, "already done (this form was sent before)")
                                       : T(r, "done"));
}

static void payment_page(bo_req *r, int status, const gw_payment *p, const bo_notice *n)
{
    int64_t last_op = 0;
    staff_op_last_seq(r->api->g, r->s.merchant_id, &last_op);
    bo_html_start(r, status);
    bo_page_begin(r, p->id, "payments");
    bo_fmt(r, "<p><a href=\"/dashboard/payments\">← %s</a></p><h1>%s <code>%s</code></h1>",
           T(r, "All payments"), T(r, "Payment"), p->id);
    done_note(r);
    bo_fmt(r, "<p class=\"sr\" aria-live=\"polite\" id=\"live-note\" data-label=\"%s\"></p>",
           T(r, "This payment changed; the page shows the new state."));
    bo_fmt(r, "<div id=\"payment\" data-live=\"/dashboard/live?payment=%s&amp;after=%lld\">", p->id,
           (long long)last_op);
    summary(r, p);
    lines_table(r, p);
    actions(r, p, n);
    timeline(r, p);
    bo_raw(r, "</div>");
    bo_page_end(r);
    bo_finish(r);
}

void bo_payment_page(bo_req *r)
{
    gw_payment p;
    if (load_payment(r, &p))
        payment_page(r, 200, &p, NULL);
}
