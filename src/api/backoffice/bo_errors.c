/*
 * bo_errors.c - the gateway's reasons (gw_why) as the back office answers
 * them: one table from reason to the HTTP status of the page that shows the
 * message (the message itself is the gateway's, shown beside its field).
 */
#include "bo_int.h"

static const int ROWS[] = {
    [GW_WHY_NONE] = 500,
    [GW_WHY_NOT_FOUND] = 404,
    [GW_WHY_PARAM_MISSING] = 400,
    [GW_WHY_PARAM_INVALID] = 400,
    [GW_WHY_PARAM_EMPTY] = 400,
    [GW_WHY_PARAM_UNACCEPTED] = 400,
    [GW_WHY_PARAM_OUT_OF_RANGE] = 400,
    [GW_WHY_URL_INVALID] = 400,
    [GW_WHY_AMOUNT_TOO_SMALL] = 400,
    [GW_WHY_AMOUNT_TOO_LARGE] = 400,
    [GW_WHY_ALREADY_REFUNDED] = 400,
    [GW_WHY_WRONG_STATE] = 409,
    [GW_WHY_IN_PROGRESS] = 409,
    [GW_WHY_SESSION_CLOSED] = 409,
    [GW_WHY_AUTH_EXPIRED] = 409,
    [GW_WHY_EXTENSION_LIMIT] = 409,
    [GW_WHY_METHOD_INVALID] = 400,
    [GW_WHY_METHOD_UNAVAILABLE] = 400,
    [GW_WHY_ALREADY_EXISTS] = 409,
    [GW_WHY_TOO_MANY] = 400,
    [GW_WHY_DECLINED] = 402,
    [GW_WHY_PROVIDER_REFUSED] = 402,
    [GW_WHY_CAPTURE_FAILED] = 402,
    [GW_WHY_CANCEL_FAILED] = 402,
    [GW_WHY_PROVIDER_UNAVAILABLE] = 502,
    [GW_WHY_CALLBACK_REFUSED] = 400,
    [GW_WHY_UNAUTHENTICATED] = 401,
    [GW_WHY_FORBIDDEN] = 403,
    [GW_WHY_IDEM_MISMATCH] = 400,
    [GW_WHY_IDEM_IN_USE] = 409,
    [GW_WHY_BUSY] = 503,
    [GW_WHY_RATE_LIMITED] = 429,
    [GW_WHY_CONFLICT] = 409,
    [GW_WHY_STORAGE] = 500,
    [GW_WHY_STORAGE_FULL] = 503,
};
_Static_assert(sizeof(ROWS) / sizeof(ROWS[0]) == GW_WHY__COUNT, "a status for every reason");

int bo_status(const gw_err *e)
{
    K_ASSERT(e->why >= 0);
    K_ASSERT(e->why < GW_WHY__COUNT);
    return ROWS[e->why] != 0 ? ROWS[e->why] : 500;
}
