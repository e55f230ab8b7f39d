/*
 * refusal.c - the gateway's reasons (gw_why) in the customer's words: one
 * table from reason to the page's HTTP status and the sentence shown above
 * the form (a key into i18n.c). A decline takes its sentence from the
 * provider's reason instead (pages_reason).
 */
#include "web.h"

typedef struct {
    int status;
    i18n_key reason;
} refusal_row;

static const refusal_row ROWS[] = {
    [GW_WHY_NONE] = {500, T_R_GENERIC},
    [GW_WHY_NOT_FOUND] = {404, T_R_GENERIC},
    [GW_WHY_PARAM_MISSING] = {400, T_R_GENERIC},
    [GW_WHY_PARAM_INVALID] = {400, T_R_GENERIC},
    [GW_WHY_PARAM_EMPTY] = {400, T_R_GENERIC},
    [GW_WHY_PARAM_UNACCEPTED] = {400, T_R_GENERIC},
    [GW_WHY_PARAM_OUT_OF_RANGE] = {400, T_R_GENERIC},
    [GW_WHY_URL_INVALID] = {400, T_R_GENERIC},
    [GW_WHY_AMOUNT_TOO_SMALL] = {400, T_R_GENERIC},
    [GW_WHY_AMOUNT_TOO_LARGE] = {400, T_R_GENERIC},
    [GW_WHY_ALREADY_REFUNDED] = {400, T_R_GENERIC},
    [GW_WHY_WRONG_STATE] = {400, T_R_GENERIC},
    [GW_WHY_IN_PROGRESS] = {409, T_R_GENERIC},
    [GW_WHY_SESSION_CLOSED] = {400, T_R_GENERIC},
    [GW_WHY_AUTH_EXPIRED] = {400, T_R_GENERIC},
    [GW_WHY_EXTENSION_LIMIT] = {400, T_R_GENERIC},
    [GW_WHY_METHOD_INVALID] = {400, T_R_GENERIC},
    [GW_WHY_METHOD_UNAVAILABLE] = {400, T_R_NOT_AVAILABLE},
    [GW_WHY_ALREADY_EXISTS] = {400, T_R_GENERIC},
    [GW_WHY_TOO_MANY] = {400, T_R_GENERIC},
    [GW_WHY_DECLINED] = {402, T_R_GENERIC},
    [GW_WHY_PROVIDER_REFUSED] = {402, T_R_GENERIC},
    [GW_WHY_CAPTURE_FAILED] = {402, T_R_GENERIC},
    [GW_WHY_CANCEL_FAILED] = {402, T_R_GENERIC},
    [GW_WHY_PROVIDER_UNAVAILABLE] = {502, T_R_GENERIC},
    [GW_WHY_CALLBACK_REFUSED] = {400, T_R_GENERIC},
    [GW_WHY_UNAUTHENTICATED] = {401, T_R_GENERIC},
    [GW_WHY_FORBIDDEN] = {403, T_R_GENERIC},
    [GW_WHY_IDEM_MISMATCH] = {400, T_R_GENERIC},
    [GW_WHY_IDEM_IN_USE] = {409, T_E_BUSY},
    [GW_WHY_BUSY] = {503, T_E_BUSY},
    [GW_WHY_RATE_LIMITED] = {429, T_E_BUSY},
    [GW_WHY_CONFLICT] = {409, T_R_GENERIC},
    [GW_WHY_STORAGE] = {500, T_R_GENERIC},
    [GW_WHY_STORAGE_FULL] = {503, T_E_BUSY},
};
_Static_assert(K_ARRAY_LEN(ROWS) == GW_WHY__COUNT, "one page row per gateway reason");

static const refusal_row *row_of(gw_why why)
{
    K_ASSERT(why >= GW_WHY_NONE);
    K_ASSERT(why < GW_WHY__COUNT);
    return &ROWS[why];
}

int web_refusal_status(const gw_err *e)
{
    return row_of(e->why)->status;
}

i18n_key web_refusal_reason(const gw_err *e, const char **field)
{
    i18n_key k = e->why == GW_WHY_DECLINED ? pages_reason(e->decline) : row_of(e->why)->reason;
    *field = k == T_R_NOT_AVAILABLE ? "method" : NULL;
    return k;
}
