/*
 * payment.h - the payment intent, its attempts and its journal of operations,
 * and the one transition table that says which operation is allowed in which
 * state. Pure: no I/O.
 *
 * A payment's money and status are a fold of its journal: pay_apply() takes the
 * current pay_money and one journal entry and returns the next pay_money, or a
 * refusal saying why. The gateway stores the folded snapshot next to the
 * journal; pay_check() states the invariants and is asserted before every write
 * and after every read:
 *
 *   0 <= captured <= authorized <= amount
 *   captured + released <= authorized
 *   refunded + refund_pending <= captured
 *   amount_capturable = authorized - captured - released   (in requires_capture)
 *   nothing moves after canceled; after succeeded only refunds move
 */
#ifndef KASSA_PAYMENT_H
#define KASSA_PAYMENT_H

#include "../base/common.h"
#include "../limits.h"

typedef enum {
    PS_REQUIRES_PAYMENT_METHOD,
    PS_REQUIRES_CONFIRMATION,
    PS_REQUIRES_ACTION,
    PS_PROCESSING,
    PS_REQUIRES_CAPTURE,
    PS_SUCCEEDED,
    PS_CANCELED,
    PS__COUNT
} pay_state;

/* Journal operations. Each is one row of the journal with its own id, amount,
 * status, code and message (see pay_entry). */
typedef enum {
    OP_CREATE,        /* amount asked for */
    OP_UPDATE,        /* amount or method changed before confirmation */
    OP_ATTACH,        /* a payment method chosen: -> requires_confirmation */
    OP_DETACH,        /* method removed (update without method) */
    OP_ACTION,        /* attempt started, customer must act (redirect/QR) */
    OP_PROCESS,       /* customer done, provider still deciding */
    OP_AUTHORIZE,     /* amount authorised, to be captured later (manual capture) */
    OP_SALE,          /* amount authorised and captured at once */
    OP_FAIL,          /* attempt failed or expired: back to requires_payment_method */
    OP_CAPTURE,       /* amount captured out of the authorisation */
    OP_RELEASE,       /* the uncaptured remainder released */
    OP_CANCEL,        /* intent canceled (voids an authorisation) */
    OP_EXPIRE,        /* authorisation expired: remainder released */
    OP_EXTEND,        /* authorisation extended: no money moves */
    OP_ADJUST,        /* authorised amount lowered/raised before full capture */
    OP_REFUND,        /* refund requested: amount pending */
    OP_REFUND_SETTLE, /* pending refund succeeded */
    OP_REFUND_FAIL,   /* pending refund failed: amount no longer pending */
    OP__COUNT
} pay_op;

/* Money and status of one payment: the fold of its journal. */
typedef struct {
    pay_state state;
    int64_t amount;         /* asked for (minor units) */
    int64_t authorized;     /* authorised by the provider */
    int64_t captured;       /* captured (received) */
    int64_t released;       /* authorised but released uncaptured */
    int64_t refunded;       /* refunds that succeeded */
    int64_t refund_pending; /* refunds under way */
} pay_money;

/* Why pay_apply refused. Each maps to a Stripe error code in the API layer. */
typedef enum {
    PAY_OK = 0,
    PAY_E_STATE,        /* operation not allowed in this state */
    PAY_E_AMOUNT,       /* amount <= 0 or above LIMIT_AMOUNT_MAX */
    PAY_E_OVER_CAPTURE, /* capture above what is capturable */
    PAY_E_OVER_REFUND,  /* refund above captured - refunded - pending */
    PAY_E_NO_CHARGE,    /* refund with nothing captured */
    PAY_E_ADJUST,       /* adjusted amount below what is captured */
} pay_refusal;

/* One journal entry as pay_apply sees it. `amount` means:
 * CREATE/UPDATE/ADJUST: the new amount; AUTHORIZE/SALE: amount authorised;
 * CAPTURE: amount captured; REFUND*: the refund's amount; `final` on CAPTURE
 * releases the remainder in the same step. Other ops ignore amount. */
typedef struct {
    pay_op op;
    int64_t amount;
    bool final;
} pay_entry;

const char *pay_state_name(pay_state s);   /* "requires_payment_method" ... */
const char *pay_op_name(pay_op op);        /* "create", "capture" ... */
int pay_op_from_name(const char *name);    /* -1 when unknown */
int pay_state_from_name(const char *name); /* -1 when unknown */
const char *pay_refusal_message(pay_refusal r);

/* The transition table: the state after `op` in `s`, or -1 when not allowed.
 * A few rows depend on amounts (capture that leaves nothing capturable ends in
 * succeeded; cancel after a partial capture ends in succeeded); pay_apply
 * resolves those, this returns the table's entry. */
int pay_transition(pay_state s, pay_op op);

/* Folds one entry into *m. On refusal *m is unchanged. */
pay_refusal pay_apply(pay_money *m, const pay_entry *e);

/* The invariants above; true when they hold. K_ASSERT(pay_check(&m)) at every commit. */
bool pay_check(const pay_money *m);

static inline int64_t pay_capturable(const pay_money *m)
{
    return m->state == PS_REQUIRES_CAPTURE ? m->authorized - m->captured - m->released : 0;
}
static inline int64_t pay_refundable(const pay_money *m)
{
    return m->captured - m->refunded - m->refund_pending;
}
static inline bool pay_terminal(pay_state s)
{
    return s == PS_SUCCEEDED || s == PS_CANCELED;
}

#endif
