/*
 * payment.c - the payment state machine: names, THE transition table, and the
 * fold of one journal entry into a payment's money (see payment.h).
 *
 * The table says which operation is allowed in which state and where it goes.
 * pay_apply looks the pair up, then runs the operation's money effect (one
 * small function per operation, chosen from a second table). The effects check
 * amounts and resolve the few rows that depend on them: a capture that leaves
 * nothing capturable, an adjust down to what is captured, and cancel/expire of
 * a partly captured authorisation all end in succeeded instead of the table's
 * entry. Every refusal leaves the payment unchanged. Pure: no I/O.
 */
#include "payment.h"

#include "money.h"

#include <string.h>

static const char *const state_names[PS__COUNT] = {
    [PS_REQUIRES_PAYMENT_METHOD] = "requires_payment_method",
    [PS_REQUIRES_CONFIRMATION] = "requires_confirmation",
    [PS_REQUIRES_ACTION] = "requires_action",
    [PS_PROCESSING] = "processing",
    [PS_REQUIRES_CAPTURE] = "requires_capture",
    [PS_SUCCEEDED] = "succeeded",
    [PS_CANCELED] = "canceled",
};

static const char *const op_names[OP__COUNT] = {
    [OP_CREATE] = "create",
    [OP_UPDATE] = "update",
    [OP_ATTACH] = "attach",
    [OP_DETACH] = "detach",
    [OP_ACTION] = "action",
    [OP_PROCESS] = "process",
    [OP_AUTHORIZE] = "authorize",
    [OP_SALE] = "sale",
    [OP_FAIL] = "fail",
    [OP_CAPTURE] = "capture",
    [OP_RELEASE] = "release",
    [OP_CANCEL] = "cancel",
    [OP_EXPIRE] = "expire",
    [OP_EXTEND] = "extend",
    [OP_ADJUST] = "adjust",
    [OP_REFUND] = "refund",
    [OP_REFUND_SETTLE] = "refund_settle",
    [OP_REFUND_FAIL] = "refund_fail",
};

/* Short names so the table below reads as a grid. */
enum {
    NO = -1,
    RPM = PS_REQUIRES_PAYMENT_METHOD,
    RCF = PS_REQUIRES_CONFIRMATION,
    RAC = PS_REQUIRES_ACTION,
    PRC = PS_PROCESSING,
    RCP = PS_REQUIRES_CAPTURE,
    SUC = PS_SUCCEEDED,
    CAN = PS_CANCELED,
};

_Static_assert(OP__COUNT == 18 && PS__COUNT == 7, "the grid below names every state and op");

/* THE transition table: transitions[state][op] = next state, NO = refused.
 * Columns in pay_op order. In requires_capture, CAP, CAN, EXP and ADJ are
 * resolved by amounts in pay_apply (see the top comment). */
/* clang-format off */
static const signed char transitions[PS__COUNT][OP__COUNT] = {
    /*       CRE UPD ATT DET ACT PRO AUT SAL FAI CAP REL CAN EXP EXT ADJ REF RSE RFA */
    [RPM] = {RPM,RPM,RCF, NO,RAC, NO, NO, NO, NO, NO, NO,CAN, NO, NO, NO, NO, NO, NO},
    [RCF] = { NO,RCF,RCF,RPM,RAC,PRC,RCP,SUC,RPM, NO, NO,CAN, NO, NO, NO, NO, NO, NO},
    [RAC] = { NO,RAC, NO, NO, NO,PRC,RCP,SUC,RPM, NO, NO,CAN, NO, NO, NO, NO, NO, NO},
    [PRC] = { NO, NO, NO, NO, NO, NO,RCP,SUC,RPM, NO, NO,CAN, NO, NO, NO, NO, NO, NO},
    [RCP] = { NO, NO, NO, NO, NO, NO, NO, NO, NO,RCP,SUC,CAN,CAN,RCP,RCP,RCP,RCP,RCP},
    [SUC] = { NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,SUC,SUC,SUC},
    [CAN] = { NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
};
/* clang-format on */

const char *pay_state_name(pay_state s)
{
    K_ASSERT((unsigned)s < PS__COUNT);
    return state_names[s];
}

const char *pay_op_name(pay_op op)
{
    K_ASSERT((unsigned)op < OP__COUNT);
    return op_names[op];
}

int pay_op_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < OP__COUNT; i++)
        if (strcmp(op_names[i], name) == 0)
            return i;
    return -1;
}

int pay_state_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < PS__COUNT; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

const char *pay_refusal_message(pay_refusal r)
{
    switch (r) {
    case PAY_OK:
        return "ok";
    case PAY_E_STATE:
        return "operation not allowed in the payment's current state";
    case PAY_E_AMOUNT:
        return "amount must be positive, within the payment's amount and at most the maximum";
    case PAY_E_OVER_CAPTURE:
        return "amount to capture is greater than the amount capturable";
    case PAY_E_OVER_REFUND:
        return "refund amount is greater than the amount still refundable";
    case PAY_E_NO_CHARGE:
        return "nothing has been captured, so there is nothing to refund";
    case PAY_E_ADJUST:
        return "new authorised amount is below the amount already captured";
    }
    return "unknown refusal";
}

int pay_transition(pay_state s, pay_op op)
{
    K_ASSERT((unsigned)s < PS__COUNT);
    K_ASSERT((unsigned)op < OP__COUNT);
    return transitions[s][op];
}

/* Amount of a new intent, update, authorisation or adjustment. */
static bool amount_ok(int64_t amount)
{
    return amount >= 1 && amount <= LIMIT_AMOUNT_MAX;
}

/* Releases what is still capturable; the state is already requires_capture's
 * successor, so compute from the fields. */
static pay_refusal release_rest(pay_money *m)
{
    int64_t rest = m->authorized - m->captured - m->released;
    return money_add(m->released, rest, &m->released) ? PAY_OK : PAY_E_AMOUNT;
}

/* Money that only exists once something was authorised. */
static bool money_untouched(const pay_money *m)
{
    return m->authorized == 0 && m->captured == 0 && m->released == 0 && m->refunded == 0 &&
           m->refund_pending == 0;
}

/* ---- effects: `m` is a copy already carrying the table's next state ---- */

/* ATTACH, DETACH, ACTION, PROCESS, FAIL, EXTEND: only the state moves (a failed
 * attempt leaves the money as it was: all zero before authorisation). */
static pay_refusal eff_none(pay_money *m, const pay_entry *e)
{
    return PAY_OK;
}

static pay_refusal eff_create(pay_money *m, const pay_entry *e)
{
    if (m->amount != 0 || !money_untouched(m))
        return PAY_E_STATE; /* only a payment that does not exist yet is created */
    if (!amount_ok(e->amount))
        return PAY_E_AMOUNT;
    m->amount = e->amount;
    return PAY_OK;
}

static pay_refusal eff_update(pay_money *m, const pay_entry *e)
{
    if (!amount_ok(e->amount))
        return PAY_E_AMOUNT;
    m->amount = e->amount;
    return PAY_OK;
}

/* AUTHORIZE and SALE: an attempt ended with `amount` authorised. */
static pay_refusal eff_authorize(pay_money *m, const pay_entry *e)
{
    if (e->amount < 1 || e->amount > m->amount)
        return PAY_E_AMOUNT;
    m->authorized = e->amount;
    return PAY_OK;
}

static pay_refusal eff_sale(pay_money *m, const pay_entry *e)
{
    pay_refusal r = eff_authorize(m, e);
    if (r == PAY_OK)
        m->captured = e->amount;
    return r;
}

static pay_refusal eff_capture(pay_money *m, const pay_entry *e)
{
    int64_t capturable = m->authorized - m->captured - m->released;
    if (e->amount <= 0)
        return PAY_E_AMOUNT;
    if (e->amount > capturable)
        return PAY_E_OVER_CAPTURE;
    if (!money_add(m->captured, e->amount, &m->captured))
        return PAY_E_AMOUNT;
    if (e->final && release_rest(m) != PAY_OK)
        return PAY_E_AMOUNT;
    if (m->authorized - m->captured - m->released == 0)
        m->state = PS_SUCCEEDED;
    return PAY_OK;
}

static pay_refusal eff_release(pay_money *m, const pay_entry *e)
{
    if (m->captured == 0)
        return PAY_E_STATE; /* nothing captured: that is a cancel */
    return release_rest(m);
}

/* CANCEL and EXPIRE: void what is left; a partly captured payment succeeded. */
static pay_refusal eff_cancel(pay_money *m, const pay_entry *e)
{
    pay_refusal r = release_rest(m);
    if (r == PAY_OK && m->captured > 0)
        m->state = PS_SUCCEEDED;
    return r;
}

static pay_refusal eff_adjust(pay_money *m, const pay_entry *e)
{
    if (!amount_ok(e->amount))
        return PAY_E_AMOUNT;
    if (e->amount < m->captured)
        return PAY_E_ADJUST;
    m->authorized = e->amount;
    m->amount = e->amount;
    if (m->authorized - m->captured - m->released == 0)
        m->state = PS_SUCCEEDED; /* adjusted down to what is captured: done */
    return PAY_OK;
}

static pay_refusal eff_refund(pay_money *m, const pay_entry *e)
{
    if (m->captured == 0)
        return PAY_E_NO_CHARGE;
    if (e->amount <= 0)
        return PAY_E_AMOUNT;
    if (e->amount > pay_refundable(m))
        return PAY_E_OVER_REFUND;
    return money_add(m->refund_pending, e->amount, &m->refund_pending) ? PAY_OK : PAY_E_AMOUNT;
}

/* REFUND_SETTLE and REFUND_FAIL take `amount` out of what is pending. */
static pay_refusal take_pending(pay_money *m, int64_t amount)
{
    if (amount <= 0)
        return PAY_E_AMOUNT;
    if (amount > m->refund_pending)
        return PAY_E_OVER_REFUND;
    return money_sub(m->refund_pending, amount, &m->refund_pending) ? PAY_OK : PAY_E_AMOUNT;
}

static pay_refusal eff_refund_settle(pay_money *m, const pay_entry *e)
{
    pay_refusal r = take_pending(m, e->amount);
    if (r != PAY_OK)
        return r;
    return money_add(m->refunded, e->amount, &m->refunded) ? PAY_OK : PAY_E_AMOUNT;
}

static pay_refusal eff_refund_fail(pay_money *m, const pay_entry *e)
{
    return take_pending(m, e->amount);
}

typedef pay_refusal (*pay_effect)(pay_money *m, const pay_entry *e);

static const pay_effect effects[OP__COUNT] = {
    [OP_CREATE] = eff_create,
    [OP_UPDATE] = eff_update,
    [OP_ATTACH] = eff_none,
    [OP_DETACH] = eff_none,
    [OP_ACTION] = eff_none,
    [OP_PROCESS] = eff_none,
    [OP_AUTHORIZE] = eff_authorize,
    [OP_SALE] = eff_sale,
    [OP_FAIL] = eff_none,
    [OP_CAPTURE] = eff_capture,
    [OP_RELEASE] = eff_release,
    [OP_CANCEL] = eff_cancel,
    [OP_EXPIRE] = eff_cancel,
    [OP_EXTEND] = eff_none,
    [OP_ADJUST] = eff_adjust,
    [OP_REFUND] = eff_refund,
    [OP_REFUND_SETTLE] = eff_refund_settle,
    [OP_REFUND_FAIL] = eff_refund_fail,
};

pay_refusal pay_apply(pay_money *m, const pay_entry *e)
{
    K_ASSERT(m != NULL && e != NULL);
    K_ASSERT((unsigned)e->op < OP__COUNT);
    K_ASSERT(pay_check(m));
    int next = pay_transition(m->state, e->op);
    if (next == NO)
        return PAY_E_STATE;
    pay_money n = *m;
    n.state = (pay_state)next;
    pay_refusal r = effects[e->op](&n, e);
    if (r != PAY_OK)
        return r;
    K_ASSERT(pay_check(&n));
    *m = n;
    return PAY_OK;
}

/* What each state implies about the money, beyond the general invariants. */
static bool state_consistent(const pay_money *m)
{
    int64_t capturable = m->authorized - m->captured - m->released;
    switch (m->state) {
    case PS_REQUIRES_PAYMENT_METHOD:
    case PS_REQUIRES_CONFIRMATION:
    case PS_REQUIRES_ACTION:
    case PS_PROCESSING:
        return money_untouched(m);
    case PS_REQUIRES_CAPTURE:
        return m->released == 0 && capturable > 0;
    case PS_SUCCEEDED:
        return m->captured > 0 && capturable == 0;
    case PS_CANCELED:
        return m->captured == 0 && capturable == 0;
    case PS__COUNT:
        break;
    }
    return false;
}

bool pay_check(const pay_money *m)
{
    K_ASSERT(m != NULL);
    if ((unsigned)m->state >= PS__COUNT)
        return false;
    if (m->amount < 0 || m->authorized < 0 || m->captured < 0 || m->released < 0 ||
        m->refunded < 0 || m->refund_pending < 0)
        return false;
    if (m->amount > LIMIT_AMOUNT_MAX || m->authorized > m->amount)
        return false;
    if (m->captured > m->authorized || m->released > m->authorized - m->captured)
        return false; /* captured <= authorized, captured + released <= authorized */
    if (m->refunded > m->captured || m->refund_pending > m->captured - m->refunded)
        return false; /* refunded + refund_pending <= captured */
    return state_consistent(m);
}
