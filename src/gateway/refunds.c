/*
 * refunds.c - refunds: full, partial, several, never above what was captured.
 *
 * Phase A (one write) reserves the amount as refund_pending through the
 * transition table, so concurrent refunds cannot together exceed what was
 * captured; the provider is asked; phase B (one write) settles or releases the
 * reservation. Refunds always go back to the original method (the provider of
 * the payment's attempt).
 *
 * Kassa may die between A and B, with the provider's answer lost. So phase A
 * also claims the request's idempotency key for this refund and gives the
 * refund a time at which the scheduler asks the provider again; the provider's
 * idempotency key is the refund's id. A retry with the same key then carries
 * this refund on (gw_idem.resume_id) and the scheduler settles it even when
 * nobody retries: a refund is never begun twice and never left pending.
 */
#include <stdio.h>
#include <string.h>
#include "gw_int.h"
#include "../base/clock.h"
#include "../base/crashpoint.h"
#include "../base/ids.h"
#include "../base/log.h"
#include "../domain/money.h"

#define REFUND_RETRY_S 60 /* a refund the provider did not confirm is asked again after */
/* A begun refund is asked about after this if its request never came back
 * (Kassa died during the provider call): by then the live call is long over. */
#define REFUND_BEGUN_RETRY_S LIMIT_IDEMPOTENCY_LEASE_S

typedef struct {
    gw *g;
    const char *merchant_id;
    const gw_refund_params *in;
    gw_idem *idem;
    arena *a;
    gw_payment p;
    gw_refund *r;
    gw_err *err;
    bool ok;
    bool unknown; /* no answer from the provider: stays pending, retried later */
    const char *op_ref;
    const char *failure;
} refund_job;

static json_t *charge_doc(const gw_payment *p)
{
    json_t *doc = gw_payment_to_json(p);
    json_object_set_new(doc, "charge_of", json_string(p->id));
    return doc;
}

static k_status emit_refund(store_tx *tx, const gw_refund *r, const char *type)
{
    json_t *doc = gw_refund_to_json(r);
    k_status st = gw_emit(tx, r->merchant_id, type, "refund", r->id, doc);
    json_decref(doc);
    return st;
}

/* Another node claimed the key between our look-up and our write. */
static void idem_taken(gw_err *err, const gw_idem *idem)
{
    gw_err_set(err, GW_WHY_IDEM_IN_USE, NULL,
               "There is currently another in-progress request using this Idempotency Key: "
               "%s. Please try again later.",
               idem->key);
}

/* ---- refunds of order lines ---- */

#define REFUNDED_QTY "refunded_quantity" /* kept on each order line of the payment */

k_status gw_refund_lines_amount(const gw_payment *p, json_t *lines, arena *a, int64_t *amount,
                                json_t **out, gw_err *err)
{
    *amount = 0;
    if (out != NULL)
        *out = NULL;
    if (!json_is_array(lines) || json_array_size(lines) == 0 ||
        json_array_size(lines) > LIMIT_ORDER_LINES_MAX) {
        gw_err_set(err, GW_WHY_PARAM_EMPTY, "lines", "Choose the lines to refund.");
        return K_EINVAL;
    }
    json_t *sent = json_array();
    arena_defer(a, (void (*)(void *))json_decref, sent);
    size_t i;
    json_t *want;
    json_array_foreach(lines, i, want)
    {
        json_t *ix = json_object_get(want, "line"), *qv = json_object_get(want, "quantity");
        json_t *l =
            json_is_integer(ix) ? json_array_get(p->lines, (size_t)json_integer_value(ix)) : NULL;
        if (l == NULL || json_integer_value(ix) < 0) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, "lines", "lines[%zu]: no such order line.", i);
            return K_EINVAL;
        }
        int64_t qty = json_integer_value(l != NULL ? json_object_get(l, "quantity") : NULL);
        int64_t done = gw_jint(l, REFUNDED_QTY);
        int64_t q = json_is_integer(qv) ? json_integer_value(qv) : 0;
        for (size_t k = 0; k < i; k++) /* the same line named twice counts twice */
            if (json_equal(json_object_get(json_array_get(lines, k), "line"), ix))
                done += gw_jint(json_array_get(lines, k), "quantity");
        if (q < 1 || qty < 1 || q > qty - done) {
            gw_err_set(err, GW_WHY_AMOUNT_TOO_LARGE, "lines",
                       "lines[%zu]: %lld of this line can still be refunded.", i,
                       (long long)(qty - done > 0 ? qty - done : 0));
            return K_EINVAL;
        }
        /* the line's share: all of its total for its whole quantity, else pro rata */
        int64_t total = gw_jint(l, "total_amount"), unit = gw_jint(l, "unit_price");
        int64_t part = q == qty ? total : total * q / qty, gross = 0;
        if (part < 0 || !money_mul(unit, q, &gross) || !money_add(*amount, part, amount)) {
            gw_err_set(err, GW_WHY_PARAM_INVALID, "lines", "lines[%zu]: not refundable.", i);
            return K_EINVAL;
        }
        json_t *o =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name",
                      json_string_value(json_object_get(l, "name")) ?: "Item", "quantity",
                      (json_int_t)q, "unit_price", (json_int_t)unit, "tax_rate",
                      (json_int_t)gw_jint(l, "tax_rate"), "total_amount", (json_int_t)part,
                      "total_tax_amount", (json_int_t)(gw_jint(l, "total_tax_amount") * q / qty));
        if (gross != part) /* Klarna's arithmetic: quantity x unit price - discount = total */
            json_object_set_new(o, "total_discount_amount", json_integer(gross - part));
        const char *keys[] = {"type", "reference"};
        for (size_t k = 0; k < 2; k++)
            if (json_is_string(json_object_get(l, keys[k])))
                json_object_set(o, keys[k], json_object_get(l, keys[k]));
        json_object_set_new(o, "line", json_integer(json_integer_value(ix)));
        json_array_append_new(sent, o);
    }
    if (*amount < 1) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_SMALL, "lines", "These lines come to nothing.");
        return K_EINVAL;
    }
    if (out != NULL)
        *out = sent;
    return K_OK;
}

/* Counts (sign +1) or gives back (-1, the provider refused) the refunded
 * quantities of r's lines on p's order lines. */
static void lines_refunded(gw_payment *p, json_t *lines, int sign)
{
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        json_t *line = json_array_get(p->lines, (size_t)gw_jint(l, "line"));
        if (line == NULL)
            continue;
        int64_t n = gw_jint(line, REFUNDED_QTY) + sign * gw_jint(l, "quantity");
        json_object_set_new(line, REFUNDED_QTY, json_integer(n > 0 ? n : 0));
    }
}

static k_status refund_begin_fn(store_tx *tx, void *arg)
{
    refund_job *j = arg;
    gw_payment *p = &j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->in->payment_id, j->a, p);
    if (st != K_OK)
        return gw_err_store(j->err, st, "payment_intent", j->in->payment_id);
    if (p->m.captured == 0) {
        gw_err_set(j->err, GW_WHY_WRONG_STATE, "payment_intent",
                   "This PaymentIntent does not have a successful charge to "
                   "refund.");
        return K_ECONFLICT;
    }
    int64_t left = pay_refundable(&p->m);
    if (left == 0) {
        gw_err_set(j->err, GW_WHY_ALREADY_REFUNDED, "payment_intent",
                   "Charge for PaymentIntent %s has already been refunded.", p->id);
        return K_ECONFLICT;
    }
    int64_t amount = j->in->amount > 0 ? j->in->amount : left;
    json_t *lines = NULL;
    if (j->in->lines != NULL &&
        gw_refund_lines_amount(p, j->in->lines, j->a, &amount, &lines, j->err) != K_OK)
        return K_EINVAL;
    gw_refund *r = j->r;
    memset(r, 0, sizeof(*r));
    r->lines = lines;
    id_new(r->id, "re_");
    r->reason = j->in->reason;
    gw_act act = {.op = OP_REFUND, .amount = amount, .message = r->reason, .ref_id = r->id};
    st = amount > left ? K_EREFUSED : gw_act_apply(tx, p, &act);
    if (st == K_EREFUSED) {
        gw_err_set(j->err, GW_WHY_AMOUNT_TOO_LARGE, "amount",
                   "Refund amount (%lld) is greater than the amount that can still be refunded "
                   "(%lld).",
                   (long long)amount, (long long)left);
        return K_EINVAL;
    }
    if (st != K_OK)
        return st;
    r->merchant_id = j->merchant_id;
    r->payment_id = p->id;
    r->amount = amount;
    snprintf(r->currency, sizeof(r->currency), "%s", p->currency);
    r->status = "pending";
    r->callback_url = p->callback_url;
    r->payment_external_id = p->external_id;
    r->payment_amount = p->m.captured;
    r->payment_refunded = p->m.refunded;
    r->external_id = j->in->external_id;
    r->metadata = gw_metadata_apply(NULL, j->in->metadata);
    arena_defer(j->a, (void (*)(void *))json_decref, r->metadata);
    r->created = clock_now_s();
    r->retry_at = r->created + REFUND_BEGUN_RETRY_S;
    if (r->lines != NULL)
        lines_refunded(p, r->lines, +1);
    st = gw_save_refund(tx, r);
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = emit_refund(tx, r, "refund.created");
    if (st == K_OK)
        st = gw_idem_claim_in_tx(tx, j->merchant_id, j->idem, r->id);
    if (st == K_EIDEM_TAKEN)
        idem_taken(j->err, j->idem);
    return st;
}

static k_status refund_end_fn(store_tx *tx, void *arg)
{
    refund_job *j = arg;
    gw_payment *p = &j->p;
    k_status st = gw_load_payment(tx, j->merchant_id, j->r->payment_id, j->a, p);
    if (st == K_OK)
        st = gw_load_refund(tx, j->merchant_id, j->r->id, j->a, j->r);
    if (st != K_OK)
        return st;
    gw_refund *r = j->r;
    if (strcmp(r->status, "pending") != 0) /* settled meanwhile (by the scheduler) */
        return gw_idem_store_in_tx(tx, j->merchant_id, j->idem, r, j->a);
    if (j->unknown) {
        /* Still pending: the scheduler asks again with the same idempotency key. */
        r->retry_at = clock_now_s() + REFUND_RETRY_S;
        st = gw_save_refund(tx, r);
        return st == K_OK ? gw_idem_store_in_tx(tx, j->merchant_id, j->idem, r, j->a) : st;
    }
    r->failure_reason = j->ok ? NULL : (j->failure != NULL ? j->failure : "unknown");
    gw_act act = {.op = j->ok ? OP_REFUND_SETTLE : OP_REFUND_FAIL,
                  .amount = r->amount,
                  .message = r->failure_reason,
                  .provider_ref = j->op_ref,
                  .ref_id = r->id};
    st = gw_act_apply(tx, p, &act);
    K_ASSERT(st != K_EREFUSED); /* the pending amount was reserved in the begin write */
    if (st != K_OK)
        return st;
    r->status = j->ok ? "succeeded" : "failed";
    r->retry_at = 0;
    if (!j->ok && r->lines != NULL)
        lines_refunded(p, r->lines, -1); /* refusable again */
    r->payment_refunded = p->m.refunded;
    r->provider_ref = j->op_ref;
    st = gw_save_refund(tx, r);
    if (st == K_OK)
        st = gw_save_payment(tx, p);
    if (st == K_OK)
        st = emit_refund(tx, r, j->ok ? "refund.updated" : "refund.failed");
    if (st == K_OK && j->ok) {
        json_t *doc = charge_doc(p);
        st = gw_emit(tx, p->merchant_id, "charge.refunded", "charge", p->id, doc);
        json_decref(doc);
    }
    if (st == K_OK)
        st = gw_idem_store_in_tx(tx, j->merchant_id, j->idem, r, j->a);
    return st;
}

/* Asks the provider to refund j->r (idempotency key: the refund's id, so a
 * retry after no answer cannot refund twice) and fills j's outcome. */
static void refund_call(gw *g, refund_job *j)
{
    crash_point("refund.begun");
    arena *a = j->a;
    const provider *prov;
    prov_account acct;
    bool have_acct = gw_provider_of(g, &j->p, a, &prov, &acct) && prov->refund != NULL;
    prov_result res;
    memset(&res, 0, sizeof(res));
    k_status pst = K_ERR;
    prov_ref ref;
    gw_prov_ref_of(&j->p, a, &ref);
    ref.amount = j->r->amount;
    ref.idem_key = j->r->id;
    ref.description = j->r->reason;
    prov_line *plines = NULL;
    size_t nplines = 0;
    if (j->r->lines != NULL) /* by lines: Klarna's order_lines of the refund */
        gw_prov_lines(j->r->lines, a, &plines, &nplines);
    ref.lines = plines;
    ref.nlines = nplines;
    if (have_acct)
        pst = prov->refund(&acct, &ref, a, &res);
    j->unknown = pst == K_OK && res.outcome == PR_UNKNOWN;
    j->ok = pst == K_OK && res.outcome != PR_FAILED && !j->unknown;
    j->op_ref = res.op_ref;
    j->failure = res.provider_code != NULL ? res.provider_code : res.failure_message;
    crash_point("refund.answered");
    if (!j->ok)
        log_warn("refund '%s' %s by the provider: %s", j->r->id,
                 j->unknown ? "not confirmed" : "refused",
                 j->failure != NULL ? j->failure : "no answer");
}

/* The scheduler: a pending refund whose provider call had no answer. */
k_status gw_refund_retry(gw *g, const char *merchant_id, const char *id, arena *a)
{
    gw_refund r;
    gw_err err;
    if (gw_refund_get(g, merchant_id, id, a, &r, &err) != K_OK || strcmp(r.status, "pending") != 0)
        return K_OK;
    refund_job j = {.g = g, .merchant_id = merchant_id, .a = a, .r = &r, .err = &err};
    if (gw_pi_get(g, merchant_id, r.payment_id, a, &j.p, &err) != K_OK)
        return K_ERR;
    refund_call(g, &j);
    k_status st = store_write(g->st, refund_end_fn, &j);
    gw_wake(g);
    return st;
}

k_status gw_refund_create(gw *g, const char *merchant_id, const gw_refund_params *in, gw_idem *idem,
                          arena *a, gw_refund *out, gw_err *err)
{
    if (in->payment_id == NULL) {
        gw_err_set(err, GW_WHY_PARAM_MISSING, "payment_intent",
                   "Missing required param: payment_intent.");
        return K_EINVAL;
    }
    if (in->amount < 0) {
        gw_err_set(err, GW_WHY_AMOUNT_TOO_SMALL, "amount", "Refund amount must be positive.");
        return K_EINVAL;
    }
    if (in->lines != NULL && in->amount != 0) {
        gw_err_set(err, GW_WHY_PARAM_INVALID, "amount",
                   "A refund of order lines takes its amount from the lines: give no amount.");
        return K_EINVAL;
    }
    if (gw_budget_take_for(g, merchant_id, in->payment_id, a, err) != K_OK)
        return K_EBUSY;
    err->why = GW_WHY_NONE;
    refund_job j = {
        .g = g, .merchant_id = merchant_id, .in = in, .idem = idem, .a = a, .r = out, .err = err};
    k_status st;
    if (idem != NULL && idem->resume_id != NULL) {
        /* The first request with this key began this refund and died. */
        st = gw_refund_get(g, merchant_id, idem->resume_id, a, out, err);
        if (st == K_OK)
            st = gw_pi_get(g, merchant_id, out->payment_id, a, &j.p, err);
        if (st != K_OK)
            return st;
        log_info("refund '%s': carried on for the retried request", out->id);
        if (strcmp(out->status, "pending") != 0) {
            st = store_write(g->st, refund_end_fn, &j);
            return st == K_OK ? K_OK : gw_err_store(err, st, "refund", out->id);
        }
    } else {
        st = store_write(g->st, refund_begin_fn, &j);
        if (st != K_OK)
            return err->why != GW_WHY_NONE ? st : gw_err_store(err, st, "refund", NULL);
    }

    refund_call(g, &j);
    st = store_write(g->st, refund_end_fn, &j);
    if (st != K_OK)
        return gw_err_store(err, st, "refund", out->id);
    gw_wake(g);
    return K_OK;
}

typedef struct {
    const char *merchant_id;
    const char *id;
    arena *a;
    gw_refund *out;
} refund_read;

static k_status refund_read_fn(store_tx *tx, void *arg)
{
    refund_read *r = arg;
    return gw_load_refund(tx, r->merchant_id, r->id, r->a, r->out);
}

k_status gw_refund_get(gw *g, const char *merchant_id, const char *id, arena *a, gw_refund *out,
                       gw_err *err)
{
    refund_read r = {merchant_id, id, a, out};
    return gw_err_store(err, store_read(g->st, refund_read_fn, &r), "refund", id);
}

k_status gw_refund_list(gw *g, const char *merchant_id, const store_list_q *q, arena *a,
                        gw_refund **out, size_t *n, bool *has_more, gw_err *err)
{
    json_t **docs;
    k_status st = gw_list_docs(g, merchant_id, "refund", q, a, &docs, n, has_more, err);
    if (st != K_OK)
        return st;
    *out = *n ? arena_alloc(a, *n * sizeof(gw_refund)) : NULL;
    for (size_t i = 0; i < *n; i++)
        gw_refund_from_json(docs[i], a, &(*out)[i]);
    return K_OK;
}
