/*
 * rep_types.c - the report types, each a column table and a way to fill a
 * row from what the store gives:
 *   payments.itemized.1    one row per payment created in the interval (its
 *                          money as the fold of its journal);
 *   operations.itemized.1  one row per money operation in the interval (the
 *                          ledger: authorisation, sale, capture, refund,
 *                          cancel, release, expiry, failed attempts), with the
 *                          signed effect on the balance;
 *   settlement.summary.1   one row per local day and currency: gross,
 *                          refunds, net, authorised, released, expired;
 *   payline.transactions.1 the ledger shaped as Payline's transactions file;
 *   payline.payments.1     what was remitted (captures and refunds), shaped
 *                          as Payline's payments ("Discount") file.
 * Every row is read from ONE read snapshot (a single store_read), page by
 * page with a keyset cursor, so a file's totals equal the journal's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rep_int.h"
#include "../domain/money.h"
#include "../base/log.h"

/* ---- columns ---- */

enum {
    P_ID,
    P_CREATED,
    P_STATUS,
    P_CURRENCY,
    P_AMOUNT_MINOR,
    P_AMOUNT,
    P_AUTH_MINOR,
    P_CAPTURED_MINOR,
    P_CAPTURED,
    P_REFUNDED_MINOR,
    P_REFUNDED,
    P_RELEASED_MINOR,
    P_NET_MINOR,
    P_NET,
    P_CAPTURE_METHOD,
    P_METHOD,
    P_METHOD_DETAIL,
    P_CHANNEL,
    P_DESCRIPTION,
    P_NAME,
    P_EMAIL,
    P_COUNTRY,
    P_EXTERNAL_ID,
    P_CURRENCY_INITIAL,
    P_AMOUNT_INITIAL_MINOR,
    P_RATE,
    P_CANCEL_REASON,
    P_LAST_ERROR,
    P__COUNT
};

static const rep_column PAY_COLS[P__COUNT] = {
    [P_ID] = {"payment_intent_id", REP_CODE, true},
    [P_CREATED] = {"created", REP_TIME, true},
    [P_STATUS] = {"status", REP_CODE, true},
    [P_CURRENCY] = {"currency", REP_CODE, true},
    [P_AMOUNT_MINOR] = {"amount_minor", REP_INT, true},
    [P_AMOUNT] = {"amount", REP_DEC, true},
    [P_AUTH_MINOR] = {"amount_authorized_minor", REP_INT, true},
    [P_CAPTURED_MINOR] = {"amount_captured_minor", REP_INT, true},
    [P_CAPTURED] = {"amount_captured", REP_DEC, true},
    [P_REFUNDED_MINOR] = {"amount_refunded_minor", REP_INT, true},
    [P_REFUNDED] = {"amount_refunded", REP_DEC, true},
    [P_RELEASED_MINOR] = {"amount_released_minor", REP_INT, true},
    [P_NET_MINOR] = {"net_minor", REP_INT, true},
    [P_NET] = {"net", REP_DEC, true},
    [P_CAPTURE_METHOD] = {"capture_method", REP_CODE, false},
    [P_METHOD] = {"payment_method_type", REP_CODE, true},
    [P_METHOD_DETAIL] = {"payment_method_detail", REP_CODE, false},
    [P_CHANNEL] = {"channel", REP_CODE, false},
    [P_DESCRIPTION] = {"description", REP_TEXT, true},
    [P_NAME] = {"customer_name", REP_TEXT, true},
    [P_EMAIL] = {"customer_email", REP_TEXT, true},
    [P_COUNTRY] = {"customer_country", REP_CODE, false},
    [P_EXTERNAL_ID] = {"merchant_reference", REP_TEXT, false},
    [P_CURRENCY_INITIAL] = {"currency_initial", REP_CODE, false},
    [P_AMOUNT_INITIAL_MINOR] = {"amount_initial_minor", REP_INT, false},
    [P_RATE] = {"exchange_rate", REP_RATE, true},
    [P_CANCEL_REASON] = {"cancellation_reason", REP_CODE, false},
    [P_LAST_ERROR] = {"last_error_code", REP_CODE, false},
};

enum {
    L_ID,
    L_PAYMENT,
    L_CREATED,
    L_OPERATION,
    L_STATUS,
    L_CURRENCY,
    L_AMOUNT_MINOR,
    L_AMOUNT,
    L_EFFECT_MINOR,
    L_EFFECT,
    L_CODE,
    L_MESSAGE,
    L_PROVIDER_REF,
    L_OBJECT,
    L_METHOD,
    L__COUNT
};

static const rep_column OPS_COLS[L__COUNT] = {
    [L_ID] = {"operation_id", REP_CODE, true},
    [L_PAYMENT] = {"payment_intent_id", REP_CODE, true},
    [L_CREATED] = {"created", REP_TIME, true},
    [L_OPERATION] = {"operation", REP_CODE, true},
    [L_STATUS] = {"status", REP_CODE, true},
    [L_CURRENCY] = {"currency", REP_CODE, true},
    [L_AMOUNT_MINOR] = {"amount_minor", REP_INT, true},
    [L_AMOUNT] = {"amount", REP_DEC, true},
    [L_EFFECT_MINOR] = {"balance_effect_minor", REP_INT, true},
    [L_EFFECT] = {"balance_effect", REP_DEC, true},
    [L_CODE] = {"code", REP_CODE, true},
    [L_MESSAGE] = {"message", REP_TEXT, false},
    [L_PROVIDER_REF] = {"provider_reference", REP_CODE, false},
    [L_OBJECT] = {"related_object", REP_CODE, true},
    [L_METHOD] = {"payment_method_type", REP_CODE, true},
};

enum {
    S_DATE,
    S_CURRENCY,
    S_CAPTURES,
    S_GROSS_MINOR,
    S_GROSS,
    S_REFUNDS,
    S_REFUNDS_MINOR,
    S_REFUNDS_DEC,
    S_NET_MINOR,
    S_NET,
    S_AUTH_MINOR,
    S_RELEASED_MINOR,
    S_EXPIRED_MINOR,
    S_FAILED,
    S__COUNT
};

static const rep_column SUM_COLS[S__COUNT] = {
    [S_DATE] = {"date", REP_CODE, true},
    [S_CURRENCY] = {"currency", REP_CODE, true},
    [S_CAPTURES] = {"captures_count", REP_INT, true},
    [S_GROSS_MINOR] = {"gross_minor", REP_INT, true},
    [S_GROSS] = {"gross", REP_DEC, true},
    [S_REFUNDS] = {"refunds_count", REP_INT, true},
    [S_REFUNDS_MINOR] = {"refunds_minor", REP_INT, true},
    [S_REFUNDS_DEC] = {"refunds", REP_DEC, true},
    [S_NET_MINOR] = {"net_minor", REP_INT, true},
    [S_NET] = {"net", REP_DEC, true},
    [S_AUTH_MINOR] = {"authorized_minor", REP_INT, true},
    [S_RELEASED_MINOR] = {"released_minor", REP_INT, true},
    [S_EXPIRED_MINOR] = {"expired_minor", REP_INT, true},
    [S_FAILED] = {"failed_attempts", REP_INT, true},
};

enum {
    T_ID,
    T_ORDER,
    T_DATE,
    T_TYPE,
    T_AMOUNT,
    T_CURRENCY,
    T_STATUS,
    T_RETURN,
    T_MEAN,
    T_CONTRACT,
    T__COUNT
};

static const rep_column PLT_COLS[T__COUNT] = {
    [T_ID] = {"TRANSACTION_ID", REP_CODE, true},
    [T_ORDER] = {"ORDER_REF", REP_CODE, true},
    [T_DATE] = {"TRANSACTION_DATE", REP_CODE, true},
    [T_TYPE] = {"TYPE", REP_CODE, true},
    [T_AMOUNT] = {"AMOUNT", REP_INT, true},
    [T_CURRENCY] = {"CURRENCY", REP_INT, true},
    [T_STATUS] = {"STATUS", REP_CODE, true},
    [T_RETURN] = {"RETURN_CODE", REP_CODE, true},
    [T_MEAN] = {"PAYMENT_MEAN", REP_CODE, true},
    [T_CONTRACT] = {"CONTRACT_NUMBER", REP_CODE, true},
};

enum {
    D_RECORD,
    D_MERCHANT,
    D_MEAN,
    D_ID,
    D_ORDER,
    D_DATE,
    D_AMOUNT,
    D_CURRENCY,
    D_SIGN,
    D__COUNT
};

static const rep_column PLP_COLS[D__COUNT] = {
    [D_RECORD] = {"RECORD_TYPE", REP_CODE, true}, [D_MERCHANT] = {"MERCHANT", REP_CODE, true},
    [D_MEAN] = {"PAYMENT_MEAN", REP_CODE, true},  [D_ID] = {"TRANSACTION_ID", REP_CODE, true},
    [D_ORDER] = {"ORDER_REF", REP_CODE, true},    [D_DATE] = {"REMITTANCE_DATE", REP_CODE, true},
    [D_AMOUNT] = {"AMOUNT", REP_INT, true},       [D_CURRENCY] = {"CURRENCY", REP_INT, true},
    [D_SIGN] = {"DEBIT_CREDIT", REP_CODE, true},
};

static const rep_type TYPE_PAYMENTS = {
    "payments.itemized.1", "Payments, one row each", "payments", PAY_COLS, P__COUNT, ',', REP_UTF8};
static const rep_type TYPE_OPS = {"operations.itemized.1",
                                  "Ledger: one row per operation",
                                  "operations",
                                  OPS_COLS,
                                  L__COUNT,
                                  ',',
                                  REP_UTF8};
static const rep_type TYPE_SUMMARY = {"settlement.summary.1",
                                      "Settlement summary per day and currency",
                                      "settlement",
                                      SUM_COLS,
                                      S__COUNT,
                                      ',',
                                      REP_UTF8};
static const rep_type TYPE_PLT = {"payline.transactions.1",
                                  "Payline transactions file",
                                  "payline_transactions",
                                  PLT_COLS,
                                  T__COUNT,
                                  ';',
                                  REP_LATIN1}; /* Payline's transactions file is ISO-8859-1 */
static const rep_type TYPE_PLP = {"payline.payments.1",
                                  "Payline payments file (remitted)",
                                  "payline_payments",
                                  PLP_COLS,
                                  D__COUNT,
                                  ';',
                                  REP_ASCII}; /* its payments file in CSV is ASCII */

static const rep_type *const TYPES[] = {&TYPE_PAYMENTS, &TYPE_OPS, &TYPE_SUMMARY, &TYPE_PLT,
                                        &TYPE_PLP};

_Static_assert(P__COUNT <= LIMIT_REPORT_COLUMNS_MAX, "payments columns fit a plan");
_Static_assert(L__COUNT <= LIMIT_REPORT_COLUMNS_MAX, "ledger columns fit a plan");
_Static_assert(T__COUNT <= LIMIT_REPORT_COLUMNS_MAX && D__COUNT <= LIMIT_REPORT_COLUMNS_MAX,
               "Payline columns fit a row");

size_t rep_types(const rep_type *const **out)
{
    *out = TYPES;
    return K_ARRAY_LEN(TYPES);
}

const rep_type *rep_type_find(const char *id)
{
    for (size_t i = 0; id != NULL && i < K_ARRAY_LEN(TYPES); i++)
        if (strcmp(TYPES[i]->id, id) == 0)
            return TYPES[i];
    return NULL;
}

/* ---- the ledger's words ---- */

typedef struct {
    const char *kind;    /* journal kind */
    const char *name;    /* the ledger report's operation name */
    const char *payline; /* Payline transaction type */
    int sign;            /* effect on the balance when succeeded: +1, -1 or 0 */
} ledger_kind;

static const ledger_kind LEDGER[] = {
    {"authorize", "authorisation", "AUTHOR", 0},
    {"sale", "sale", "AUTHOR+CAPTURE", 1},
    {"capture", "capture", "CAPTURE", 1},
    {"refund", "refund_request", "REFUND_REQUEST", 0},
    {"refund_settle", "refund", "REFUND", -1},
    {"refund_fail", "refund_failed", "REFUND", 0},
    {"cancel", "cancel", "RESET", 0},
    {"release", "release", "RESET", 0},
    {"expire", "expiry", "RESET", 0},
    {"fail", "failed_attempt", "AUTHOR", 0},
};

static const ledger_kind *ledger_find(const char *kind)
{
    for (size_t i = 0; i < K_ARRAY_LEN(LEDGER); i++)
        if (strcmp(LEDGER[i].kind, kind) == 0)
            return &LEDGER[i];
    return NULL; /* create, update, attach ...: no money, not in the ledger */
}

static bool succeeded(const store_op *op)
{
    return strcmp(op->status, "succeeded") == 0;
}

/* ---- plans ---- */

k_status rep_plan_make(const rep_params *p, rep_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->type = rep_type_find(p->report_type);
    K_ASSERT(out->type != NULL); /* checked by rep_params_check */
    K_ASSERT(tz_load(p->timezone != NULL ? p->timezone : "UTC", &out->zone) == K_OK);
    if (p->columns != NULL && json_array_size(p->columns) > 0) {
        size_t i;
        json_t *v;
        json_array_foreach(p->columns, i, v)
        {
            const char *name = json_string_value(v);
            for (size_t c = 0; name != NULL && c < out->type->ncolumns; c++)
                if (strcmp(out->type->columns[c].name, name) == 0)
                    out->sel[out->nsel++] = (int)c;
        }
        K_ASSERT(out->nsel == json_array_size(p->columns));
    } else {
        for (size_t c = 0; c < out->type->ncolumns; c++)
            if (out->type->columns[c].by_default)
                out->sel[out->nsel++] = (int)c;
    }
    out->sep = p->delimiter != NULL ? p->delimiter[0] : out->type->default_sep;
    out->bom = p->bom != 0 && out->type->charset == REP_UTF8; /* a BOM is UTF-8's alone */
    out->xlsx = p->format != NULL && strcmp(p->format, "xlsx") == 0;
    out->from_s = p->interval_start;
    out->to_s = p->interval_end;
    if (p->currency != NULL)
        currency_lower(p->currency, out->currency);
    out->method = p->method;
    out->has_pay = p->has_pay;
    out->pay = p->pay;
    return K_OK;
}

/* ---- filling rows ---- */

typedef struct {
    rep_service *r;
    const char *merchant_id;
    const rep_plan *plan;
    rep_sink *sink;
    rep_progress_fn progress;
    void *ctx;
    int64_t rows;
    int64_t last_progress_ms;
    k_status st;
} gen_job;

static uint8_t exp_of(const char *currency)
{
    const currency_info *c = currency != NULL ? currency_find(currency) : NULL;
    return c != NULL ? c->exponent : 2;
}

static void cell_str(rep_cell *c, const char *s)
{
    c->s = s;
    c->set = s != NULL;
}

static void cell_int(rep_cell *c, int64_t v)
{
    c->i = v;
    c->set = true;
}

static void cell_dec(rep_cell *c, int64_t v, uint8_t exp)
{
    c->i = v;
    c->exp = exp;
    c->set = true;
}

static const char *upper(const char *cur, arena *a)
{
    char u[4] = "";
    if (cur == NULL)
        return NULL;
    currency_upper(cur, u);
    return arena_strdup(a, u);
}

static void progress(gen_job *j, int64_t at_s)
{
    if (j->progress == NULL)
        return;
    int64_t span = j->plan->to_s - j->plan->from_s;
    double f = span > 0 ? (double)(at_s - j->plan->from_s) / (double)span : 1.0;
    j->progress(j->ctx, j->rows, f < 0 ? 0 : f > 1 ? 1 : f);
}

static bool keep_currency(const rep_plan *plan, const char *cur)
{
    return plan->currency[0] == '\0' || (cur != NULL && strcmp(plan->currency, cur) == 0);
}

static bool keep_method(const rep_plan *plan, const char *method)
{
    return plan->method == NULL || (method != NULL && strcmp(plan->method, method) == 0);
}

static bool same(const char *want, const char *have, bool nocase)
{
    return want == NULL ||
           (have != NULL && (nocase ? strcasecmp(want, have) : strcmp(want, have)) == 0);
}

/* A saved view's filters, as the payments list applies them (store_pay_search). */
static bool keep_pay(const rep_plan *plan, const gw_payment *p)
{
    if (!plan->has_pay)
        return true;
    const rep_pay_filter *f = &plan->pay;
    if (!same(f->status, pay_state_name(p->m.state), false) ||
        !same(f->channel, p->channel, false) || !same(f->order_ref, p->order_ref, false) ||
        !same(f->country, p->country, true) || !same(f->email, p->email, true))
        return false;
    if ((f->amount_gte >= 0 && p->m.amount < f->amount_gte) ||
        (f->amount_lte >= 0 && p->m.amount > f->amount_lte))
        return false;
    const char *id = f->any_id;
    return id == NULL || same(id, p->id, false) || same(id, p->external_id, false) ||
           same(id, p->order_ref, false) || same(id, p->provider_ref, false);
}

static void fill_payment(const gw_payment *p, arena *a, rep_cell *c)
{
    uint8_t e = exp_of(p->currency);
    int64_t net = p->m.captured - p->m.refunded;
    K_ASSERT(p->m.captured <= p->m.authorized);
    K_ASSERT(p->m.refunded <= p->m.captured);
    cell_str(&c[P_ID], p->id);
    cell_int(&c[P_CREATED], p->created * 1000);
    cell_str(&c[P_STATUS], pay_state_name(p->m.state));
    cell_str(&c[P_CURRENCY], upper(p->currency, a));
    cell_int(&c[P_AMOUNT_MINOR], p->m.amount);
    cell_dec(&c[P_AMOUNT], p->m.amount, e);
    cell_int(&c[P_AUTH_MINOR], p->m.authorized);
    cell_int(&c[P_CAPTURED_MINOR], p->m.captured);
    cell_dec(&c[P_CAPTURED], p->m.captured, e);
    cell_int(&c[P_REFUNDED_MINOR], p->m.refunded);
    cell_dec(&c[P_REFUNDED], p->m.refunded, e);
    cell_int(&c[P_RELEASED_MINOR], p->m.released);
    cell_int(&c[P_NET_MINOR], net);
    cell_dec(&c[P_NET], net, e);
    cell_str(&c[P_CAPTURE_METHOD], p->manual_capture ? "manual" : "automatic");
    cell_str(&c[P_METHOD], p->method_type);
    cell_str(&c[P_METHOD_DETAIL], p->method_detail);
    cell_str(&c[P_CHANNEL], p->channel);
    cell_str(&c[P_DESCRIPTION], p->description);
    cell_str(&c[P_NAME], p->name);
    cell_str(&c[P_EMAIL], p->email);
    cell_str(&c[P_COUNTRY], p->country);
    cell_str(&c[P_EXTERNAL_ID], p->external_id);
    if (p->rate_e9 > 0) {
        cell_str(&c[P_CURRENCY_INITIAL], upper(p->currency_initial, a));
        cell_int(&c[P_AMOUNT_INITIAL_MINOR], p->amount_initial);
        cell_int(&c[P_RATE], p->rate_e9);
    }
    cell_str(&c[P_CANCEL_REASON], p->cancellation_reason);
    cell_str(&c[P_LAST_ERROR], p->last_error_code);
}

static k_status gen_payments(store_tx *tx, gen_job *j)
{
    int64_t after_c = j->plan->from_s, after_s = 0;
    for (;;) {
        arena a;
        arena_init(&a, 0);
        store_obj *objs;
        size_t n;
        k_status st =
            store_obj_scan(tx, j->merchant_id, "payment_intent", j->plan->from_s, j->plan->to_s,
                           after_c, after_s, LIMIT_REPORT_PAGE_ROWS, &a, &objs, &n);
        for (size_t i = 0; st == K_OK && i < n; i++) {
            json_t *doc = json_loads(objs[i].body, 0, NULL);
            gw_payment p;
            if (doc == NULL || gw_payment_from_json(doc, &a, &p) != K_OK) {
                json_decref(doc);
                log_error("reports: payment '%s' does not decode", objs[i].id);
                st = K_EIO;
                break;
            }
            json_decref(doc);
            after_c = objs[i].created;
            after_s = objs[i].seq;
            if (!keep_currency(j->plan, p.currency) || !keep_method(j->plan, p.method_type) ||
                !keep_pay(j->plan, &p))
                continue;
            rep_cell cells[P__COUNT];
            memset(cells, 0, sizeof(cells));
            fill_payment(&p, &a, cells);
            st = rep_sink_row(j->sink, cells);
            j->rows++;
        }
        if (st == K_OK)
            progress(j, after_c);
        arena_release(&a);
        if (st != K_OK || n < LIMIT_REPORT_PAGE_ROWS)
            return st;
    }
}

static void fill_ledger(const store_ledger_row *l, const ledger_kind *k, arena *a, rep_cell *c)
{
    uint8_t e = exp_of(l->currency);
    int64_t effect = succeeded(&l->op) ? k->sign * l->op.amount : 0;
    cell_str(&c[L_ID], l->op.id);
    cell_str(&c[L_PAYMENT], l->op.payment_id);
    cell_int(&c[L_CREATED], l->op.created_ms);
    cell_str(&c[L_OPERATION], k->name);
    cell_str(&c[L_STATUS], l->op.status);
    cell_str(&c[L_CURRENCY], upper(l->currency, a));
    cell_int(&c[L_AMOUNT_MINOR], l->op.amount);
    cell_dec(&c[L_AMOUNT], l->op.amount, e);
    cell_int(&c[L_EFFECT_MINOR], effect);
    cell_dec(&c[L_EFFECT], effect, e);
    cell_str(&c[L_CODE], l->op.code);
    cell_str(&c[L_MESSAGE], l->op.message);
    cell_str(&c[L_PROVIDER_REF], l->op.provider_ref);
    cell_str(&c[L_OBJECT], l->op.ref_id);
    cell_str(&c[L_METHOD], l->method);
}

static const char *mean_of(const char *method)
{
    if (method == NULL)
        return "";
    if (strncmp(method, "klarna", 6) == 0)
        return "KLARNA";
    if (strncmp(method, "alipay", 6) == 0)
        return "ALIPAYPLUS";
    return method;
}

static const char *payline_date(const tz *z, int64_t ms, bool with_ms, arena *a)
{
    tz_fields f;
    int64_t s = ms / 1000;
    tz_local(z, s, &f);
    if (with_ms) /* payments file: yyyy/MM/dd HH:mm:ss.SSS */
        return arena_printf(a, "%04lld/%02d/%02d %02d:%02d:%02d.%03d", (long long)f.year, f.month,
                            f.day, f.hour, f.minute, f.second, (int)(ms - s * 1000));
    return arena_printf(a, "%02d/%02d/%04lld %02d:%02d:%02d", f.day, f.month, (long long)f.year,
                        f.hour, f.minute, f.second);
}

static int64_t numeric_of(const char *currency)
{
    const currency_info *c = currency != NULL ? currency_find(currency) : NULL;
    return c != NULL ? c->numeric : 0;
}

static void fill_plt(const gen_job *j, const store_ledger_row *l, const ledger_kind *k, arena *a,
                     rep_cell *c)
{
    cell_str(&c[T_ID], l->op.id);
    cell_str(&c[T_ORDER], l->op.payment_id);
    cell_str(&c[T_DATE], payline_date(j->plan->zone, l->op.created_ms, false, a));
    cell_str(&c[T_TYPE], k->payline);
    cell_int(&c[T_AMOUNT], l->op.amount);
    cell_int(&c[T_CURRENCY], numeric_of(l->currency));
    cell_str(&c[T_STATUS], succeeded(&l->op) ? "OK" : "KO");
    cell_str(&c[T_RETURN], succeeded(&l->op) ? "00000" : (l->op.code != NULL ? l->op.code : ""));
    cell_str(&c[T_MEAN], mean_of(l->method));
    cell_str(&c[T_CONTRACT], j->merchant_id);
}

/* Payments file: what was remitted only (captures credit, refunds debit). */
static bool fill_plp(const gen_job *j, const store_ledger_row *l, const ledger_kind *k, arena *a,
                     rep_cell *c)
{
    if (k->sign == 0 || !succeeded(&l->op))
        return false;
    cell_str(&c[D_RECORD], k->sign > 0 ? "CAP" : "REF");
    cell_str(&c[D_MERCHANT], j->merchant_id);
    cell_str(&c[D_MEAN], mean_of(l->method));
    cell_str(&c[D_ID], l->op.id);
    cell_str(&c[D_ORDER], l->op.payment_id);
    cell_str(&c[D_DATE], payline_date(j->plan->zone, l->op.created_ms, true, a));
    cell_int(&c[D_AMOUNT], l->op.amount);
    cell_int(&c[D_CURRENCY], numeric_of(l->currency));
    cell_str(&c[D_SIGN], k->sign > 0 ? "C" : "D");
    return true;
}

/* ---- the settlement summary: sums per (local day, currency) ---- */

typedef struct {
    int64_t day; /* days since epoch, local */
    char currency[4];
    int64_t captures, gross, refunds, refunded, authorized, released, expired, failed;
} day_sum;

typedef struct {
    day_sum *v;
    size_t n, cap;
} day_sums;

static day_sum *day_get(day_sums *d, int64_t day, const char *cur)
{
    for (size_t i = d->n; i > 0; i--) /* the ledger runs in time: the match is near the end */
        if (d->v[i - 1].day == day && strcmp(d->v[i - 1].currency, cur) == 0)
            return &d->v[i - 1];
    if (d->n == d->cap) {
        size_t ncap = d->cap == 0 ? 64 : d->cap * 2;
        day_sum *g = realloc(d->v, ncap * sizeof(*g));
        if (g == NULL)
            return NULL;
        d->v = g;
        d->cap = ncap;
    }
    day_sum *s = &d->v[d->n++];
    memset(s, 0, sizeof(*s));
    s->day = day;
    snprintf(s->currency, sizeof(s->currency), "%s", cur);
    return s;
}

static bool day_add(day_sums *d, const tz *z, const store_ledger_row *l, const ledger_kind *k)
{
    int64_t s = l->op.created_ms / 1000;
    int64_t local = s + tz_offset(z, s);
    day_sum *t = day_get(d, local >= 0 ? local / 86400 : -((-local + 86399) / 86400),
                         l->currency != NULL ? l->currency : "");
    if (t == NULL)
        return false;
    bool ok = succeeded(&l->op);
    const char *kind = l->op.kind;
    int64_t amt = l->op.amount;
    if (ok && k->sign > 0) {
        t->captures++;
        t->gross += amt;
    } else if (ok && k->sign < 0) {
        t->refunds++;
        t->refunded += amt;
    }
    if (ok && (strcmp(kind, "authorize") == 0 || strcmp(kind, "sale") == 0))
        t->authorized += amt;
    if (ok && (strcmp(kind, "release") == 0 || strcmp(kind, "cancel") == 0 ||
               strcmp(kind, "expire") == 0))
        t->released += amt;
    if (ok && strcmp(kind, "expire") == 0)
        t->expired += amt;
    if (strcmp(kind, "fail") == 0)
        t->failed++;
    return true;
}

static int day_cmp(const void *a, const void *b)
{
    const day_sum *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return strcmp(x->currency, y->currency);
}

static k_status day_write(gen_job *j, day_sums *d)
{
    qsort(d->v, d->n, sizeof(*d->v), day_cmp);
    k_status st = K_OK;
    for (size_t i = 0; st == K_OK && i < d->n; i++) {
        arena a;
        arena_init(&a, 0);
        const day_sum *s = &d->v[i];
        int64_t y;
        int m, dd;
        tz_civil_from_days(s->day, &y, &m, &dd);
        uint8_t e = exp_of(s->currency);
        rep_cell c[S__COUNT];
        memset(c, 0, sizeof(c));
        cell_str(&c[S_DATE], arena_printf(&a, "%04lld-%02d-%02d", (long long)y, m, dd));
        cell_str(&c[S_CURRENCY], upper(s->currency, &a));
        cell_int(&c[S_CAPTURES], s->captures);
        cell_int(&c[S_GROSS_MINOR], s->gross);
        cell_dec(&c[S_GROSS], s->gross, e);
        cell_int(&c[S_REFUNDS], s->refunds);
        cell_int(&c[S_REFUNDS_MINOR], s->refunded);
        cell_dec(&c[S_REFUNDS_DEC], s->refunded, e);
        cell_int(&c[S_NET_MINOR], s->gross - s->refunded);
        cell_dec(&c[S_NET], s->gross - s->refunded, e);
        cell_int(&c[S_AUTH_MINOR], s->authorized);
        cell_int(&c[S_RELEASED_MINOR], s->released);
        cell_int(&c[S_EXPIRED_MINOR], s->expired);
        cell_int(&c[S_FAILED], s->failed);
        st = rep_sink_row(j->sink, c);
        j->rows++;
        arena_release(&a);
    }
    return st;
}

/* One ledger row into the sink (or the day sums). */
static k_status ledger_one(gen_job *j, const store_ledger_row *l, day_sums *days, arena *a)
{
    const ledger_kind *k = ledger_find(l->op.kind);
    if (k == NULL || !keep_currency(j->plan, l->currency) || !keep_method(j->plan, l->method))
        return K_OK;
    if (j->plan->type == &TYPE_SUMMARY)
        return day_add(days, j->plan->zone, l, k) ? K_OK : K_ENOMEM;
    rep_cell c[LIMIT_REPORT_COLUMNS_MAX];
    memset(c, 0, sizeof(c));
    if (j->plan->type == &TYPE_OPS)
        fill_ledger(l, k, a, c);
    else if (j->plan->type == &TYPE_PLT)
        fill_plt(j, l, k, a, c);
    else if (!fill_plp(j, l, k, a, c))
        return K_OK;
    j->rows++;
    return rep_sink_row(j->sink, c);
}

static k_status gen_ledger(store_tx *tx, gen_job *j)
{
    int64_t from_ms = j->plan->from_s * 1000, to_ms = j->plan->to_s * 1000;
    int64_t after_ms = from_ms, after_seq = 0;
    day_sums days = {0};
    k_status st = K_OK;
    for (;;) {
        arena a;
        arena_init(&a, 0);
        store_ledger_row *rows;
        size_t n;
        st = store_ledger_scan(tx, j->merchant_id, from_ms, to_ms, after_ms, after_seq,
                               LIMIT_REPORT_PAGE_ROWS, &a, &rows, &n);
        for (size_t i = 0; st == K_OK && i < n; i++) {
            after_ms = rows[i].op.created_ms;
            after_seq = rows[i].op.seq;
            st = ledger_one(j, &rows[i], &days, &a);
        }
        if (st == K_OK)
            progress(j, after_ms / 1000);
        arena_release(&a);
        if (st != K_OK || n < LIMIT_REPORT_PAGE_ROWS)
            break;
    }
    if (st == K_OK && j->plan->type == &TYPE_SUMMARY)
        st = day_write(j, &days);
    free(days.v);
    return st;
}

static k_status gen_fn(store_tx *tx, void *arg)
{
    gen_job *j = arg;
    j->st = j->plan->type == &TYPE_PAYMENTS ? gen_payments(tx, j) : gen_ledger(tx, j);
    return K_OK; /* the outcome is in j->st; the read itself succeeded */
}

k_status rep_generate(rep_service *r, const char *merchant_id, const rep_plan *plan, rep_sink *sink,
                      rep_progress_fn progress_fn, void *ctx, int64_t *rows)
{
    K_ASSERT(plan != NULL && plan->type != NULL);
    K_ASSERT(plan->from_s <= plan->to_s);
    gen_job j = {.r = r,
                 .merchant_id = merchant_id,
                 .plan = plan,
                 .sink = sink,
                 .progress = progress_fn,
                 .ctx = ctx,
                 .st = K_OK};
    k_status st = store_read(r->st, gen_fn, &j);
    if (st == K_OK)
        st = j.st;
    if (st == K_OK && progress_fn != NULL)
        progress_fn(ctx, j.rows, 1.0);
    *rows = j.rows;
    return st;
}
