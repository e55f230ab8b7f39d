/*
 * codec.c - the gateway's records as stored documents (JSON text in the
 * store's objects table) and back. The internal document is Kassa's own shape,
 * not a dialect's: each dialect renders it (api/stripe/render.c ...).
 * Absent optional fields read back as NULL; jansson trees held by a record are
 * released with the arena it was read into.
 */
#include <string.h>
#include "gw_int.h"
#include "../base/crypto.h"

static void json_decref_cb(void *p)
{
    json_decref((json_t *)p);
}

json_t *gw_keep(arena *a, json_t *j)
{
    if (j == NULL)
        return NULL;
    json_incref(j);
    arena_defer(a, json_decref_cb, j);
    return j;
}

const char *gw_jstr(json_t *o, const char *key, arena *a)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    return arena_strndup(a, json_string_value(v), json_string_length(v));
}

int64_t gw_jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, json_string(v));
}

static void put_int(json_t *o, const char *key, int64_t v)
{
    json_object_set_new(o, key, json_integer(v));
}

static void put_json(json_t *o, const char *key, json_t *v, bool array)
{
    if (v != NULL)
        json_object_set(o, key, v);
    else
        json_object_set_new(o, key, array ? json_array() : json_object());
}

static json_t *keep_or_new(arena *a, json_t *doc, const char *key, bool array)
{
    json_t *v = json_object_get(doc, key);
    if (v == NULL || (array ? !json_is_array(v) : !json_is_object(v))) {
        v = array ? json_array() : json_object();
        arena_defer(a, json_decref_cb, v);
        return v;
    }
    return gw_keep(a, v);
}

static void copy_id(char *dst, const char *src)
{
    snprintf(dst, LIMIT_ID_MAX, "%s", src != NULL ? src : "");
}

json_t *gw_payment_to_json(const gw_payment *p)
{
    json_t *o = json_object();
    put_str(o, "id", p->id);
    put_str(o, "merchant_id", p->merchant_id);
    put_str(o, "status", pay_state_name(p->m.state));
    put_int(o, "amount", p->m.amount);
    put_int(o, "authorized", p->m.authorized);
    put_int(o, "captured", p->m.captured);
    put_int(o, "released", p->m.released);
    put_int(o, "refunded", p->m.refunded);
    put_int(o, "refund_pending", p->m.refund_pending);
    put_int(o, "capture_pending", p->capture_pending);
    put_int(o, "reconcile_at", p->reconcile_at);
    put_str(o, "currency", p->currency);
    json_object_set_new(o, "manual_capture", json_boolean(p->manual_capture));
    put_int(o, "created", p->created);
    put_int(o, "canceled_at", p->canceled_at);
    put_int(o, "auth_expires_at", p->auth_expires_at);
    put_int(o, "auth_created_at", p->auth_created_at);
    put_int(o, "auth_warned", p->auth_warned);
    put_int(o, "attempt_expires_at", p->attempt_expires_at);
    put_str(o, "client_secret", p->client_secret);
    put_str(o, "description", p->description);
    put_str(o, "return_url", p->return_url);
    put_str(o, "method_type", p->method_type);
    put_json(o, "method_types", p->method_types, true);
    put_json(o, "metadata", p->metadata, false);
    put_json(o, "lines", p->lines, true);
    put_json(o, "captures_open", p->captures_open, true);
    put_str(o, "email", p->email);
    put_str(o, "country", p->country);
    put_str(o, "name", p->name);
    put_str(o, "locale", p->locale);
    put_str(o, "cancellation_reason", p->cancellation_reason);
    put_str(o, "latest_attempt", p->latest_attempt);
    put_str(o, "provider_ref", p->provider_ref);
    put_str(o, "order_ref", p->order_ref);
    put_str(o, "next_action_url", p->next_action_url);
    put_str(o, "qr_text", p->qr_text);
    put_str(o, "last_error_code", p->last_error_code);
    put_str(o, "last_error_message", p->last_error_message);
    put_str(o, "last_error_type", p->last_error_type);
    put_str(o, "checkout_session", p->checkout_session);
    put_str(o, "channel", p->channel);
    put_str(o, "external_id", p->external_id);
    put_str(o, "callback_url", p->callback_url);
    put_str(o, "method_detail", p->method_detail);
    put_int(o, "amount_initial", p->amount_initial);
    put_str(o, "currency_initial", p->currency_initial);
    put_int(o, "rate_e9", p->rate_e9);
    return o;
}

k_status gw_payment_from_json(json_t *doc, arena *a, gw_payment *p)
{
    memset(p, 0, sizeof(*p));
    if (!json_is_object(doc))
        return K_EINVAL;
    copy_id(p->id, json_string_value(json_object_get(doc, "id")));
    copy_id(p->merchant_id, json_string_value(json_object_get(doc, "merchant_id")));
    int st = pay_state_from_name(json_string_value(json_object_get(doc, "status")));
    if (st < 0)
        return K_EINVAL;
    p->m.state = (pay_state)st;
    p->m.amount = gw_jint(doc, "amount");
    p->m.authorized = gw_jint(doc, "authorized");
    p->m.captured = gw_jint(doc, "captured");
    p->m.released = gw_jint(doc, "released");
    p->m.refunded = gw_jint(doc, "refunded");
    p->m.refund_pending = gw_jint(doc, "refund_pending");
    p->capture_pending = gw_jint(doc, "capture_pending");
    p->reconcile_at = gw_jint(doc, "reconcile_at");
    snprintf(p->currency, sizeof(p->currency), "%s",
             json_string_value(json_object_get(doc, "currency")) ?: "");
    p->manual_capture = json_is_true(json_object_get(doc, "manual_capture"));
    p->created = gw_jint(doc, "created");
    p->canceled_at = gw_jint(doc, "canceled_at");
    p->auth_expires_at = gw_jint(doc, "auth_expires_at");
    p->auth_created_at = gw_jint(doc, "auth_created_at");
    p->auth_warned = gw_jint(doc, "auth_warned");
    p->attempt_expires_at = gw_jint(doc, "attempt_expires_at");
    p->client_secret = gw_jstr(doc, "client_secret", a);
    p->description = gw_jstr(doc, "description", a);
    p->return_url = gw_jstr(doc, "return_url", a);
    p->method_type = gw_jstr(doc, "method_type", a);
    p->method_types = keep_or_new(a, doc, "method_types", true);
    p->metadata = keep_or_new(a, doc, "metadata", false);
    p->lines = keep_or_new(a, doc, "lines", true);
    p->captures_open = keep_or_new(a, doc, "captures_open", true);
    p->email = gw_jstr(doc, "email", a);
    p->country = gw_jstr(doc, "country", a);
    p->name = gw_jstr(doc, "name", a);
    p->locale = gw_jstr(doc, "locale", a);
    p->cancellation_reason = gw_jstr(doc, "cancellation_reason", a);
    p->latest_attempt = gw_jstr(doc, "latest_attempt", a);
    p->provider_ref = gw_jstr(doc, "provider_ref", a);
    p->order_ref = gw_jstr(doc, "order_ref", a);
    p->next_action_url = gw_jstr(doc, "next_action_url", a);
    p->qr_text = gw_jstr(doc, "qr_text", a);
    p->last_error_code = gw_jstr(doc, "last_error_code", a);
    p->last_error_message = gw_jstr(doc, "last_error_message", a);
    p->last_error_type = gw_jstr(doc, "last_error_type", a);
    p->checkout_session = gw_jstr(doc, "checkout_session", a);
    p->channel = gw_jstr(doc, "channel", a);
    p->external_id = gw_jstr(doc, "external_id", a);
    p->callback_url = gw_jstr(doc, "callback_url", a);
    p->method_detail = gw_jstr(doc, "method_detail", a);
    p->amount_initial = gw_jint(doc, "amount_initial");
    p->currency_initial = gw_jstr(doc, "currency_initial", a);
    p->rate_e9 = gw_jint(doc, "rate_e9");
    return pay_check(&p->m) ? K_OK : K_EINVAL;
}

json_t *gw_refund_to_json(const gw_refund *r)
{
    json_t *o = json_object();
    put_str(o, "id", r->id);
    put_str(o, "merchant_id", r->merchant_id);
    put_str(o, "payment_id", r->payment_id);
    put_int(o, "amount", r->amount);
    put_str(o, "currency", r->currency);
    put_str(o, "status", r->status);
    put_str(o, "reason", r->reason);
    put_str(o, "failure_reason", r->failure_reason);
    put_str(o, "provider_ref", r->provider_ref);
    put_str(o, "callback_url", r->callback_url);
    put_int(o, "retry_at", r->retry_at);
    put_str(o, "external_id", r->external_id);
    put_str(o, "payment_external_id", r->payment_external_id);
    put_int(o, "payment_amount", r->payment_amount);
    put_int(o, "payment_refunded", r->payment_refunded);
    put_json(o, "metadata", r->metadata, false);
    if (r->lines != NULL)
        json_object_set(o, "lines", r->lines);
    put_int(o, "created", r->created);
    return o;
}

k_status gw_refund_from_json(json_t *doc, arena *a, gw_refund *r)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(doc))
        return K_EINVAL;
    copy_id(r->id, json_string_value(json_object_get(doc, "id")));
    r->merchant_id = gw_jstr(doc, "merchant_id", a);
    r->payment_id = gw_jstr(doc, "payment_id", a);
    r->amount = gw_jint(doc, "amount");
    snprintf(r->currency, sizeof(r->currency), "%s",
             json_string_value(json_object_get(doc, "currency")) ?: "");
    r->status = gw_jstr(doc, "status", a);
    r->reason = gw_jstr(doc, "reason", a);
    r->failure_reason = gw_jstr(doc, "failure_reason", a);
    r->provider_ref = gw_jstr(doc, "provider_ref", a);
    r->callback_url = gw_jstr(doc, "callback_url", a);
    r->retry_at = gw_jint(doc, "retry_at");
    r->external_id = gw_jstr(doc, "external_id", a);
    r->payment_external_id = gw_jstr(doc, "payment_external_id", a);
    r->payment_amount = gw_jint(doc, "payment_amount");
    r->payment_refunded = gw_jint(doc, "payment_refunded");
    r->metadata = keep_or_new(a, doc, "metadata", false);
    json_t *lines = json_object_get(doc, "lines");
    r->lines = json_is_array(lines) ? gw_keep(a, lines) : NULL;
    r->created = gw_jint(doc, "created");
    return K_OK;
}

json_t *gw_session_to_json(const gw_session *s)
{
    json_t *o = json_object();
    put_str(o, "id", s->id);
    put_str(o, "merchant_id", s->merchant_id);
    put_str(o, "payment_id", s->payment_id);
    put_str(o, "status", s->status);
    put_str(o, "payment_status", s->payment_status);
    put_str(o, "success_url", s->success_url);
    put_str(o, "cancel_url", s->cancel_url);
    put_str(o, "locale", s->locale);
    put_str(o, "customer_email", s->customer_email);
    put_str(o, "client_reference_id", s->client_reference_id);
    put_int(o, "amount_total", s->amount_total);
    put_str(o, "currency", s->currency);
    put_json(o, "line_items", s->line_items, true);
    put_json(o, "method_types", s->method_types, true);
    put_json(o, "metadata", s->metadata, false);
    put_int(o, "created", s->created);
    put_int(o, "expires_at", s->expires_at);
    put_str(o, "url", s->url);
    return o;
}

k_status gw_session_from_json(json_t *doc, arena *a, gw_session *s)
{
    memset(s, 0, sizeof(*s));
    if (!json_is_object(doc))
        return K_EINVAL;
    copy_id(s->id, json_string_value(json_object_get(doc, "id")));
    s->merchant_id = gw_jstr(doc, "merchant_id", a);
    s->payment_id = gw_jstr(doc, "payment_id", a);
    s->status = gw_jstr(doc, "status", a);
    s->payment_status = gw_jstr(doc, "payment_status", a);
    s->success_url = gw_jstr(doc, "success_url", a);
    s->cancel_url = gw_jstr(doc, "cancel_url", a);
    s->locale = gw_jstr(doc, "locale", a);
    s->customer_email = gw_jstr(doc, "customer_email", a);
    s->client_reference_id = gw_jstr(doc, "client_reference_id", a);
    s->amount_total = gw_jint(doc, "amount_total");
    snprintf(s->currency, sizeof(s->currency), "%s",
             json_string_value(json_object_get(doc, "currency")) ?: "");
    s->line_items = keep_or_new(a, doc, "line_items", true);
    s->method_types = keep_or_new(a, doc, "method_types", true);
    s->metadata = keep_or_new(a, doc, "metadata", false);
    s->created = gw_jint(doc, "created");
    s->expires_at = gw_jint(doc, "expires_at");
    s->url = gw_jstr(doc, "url", a);
    return K_OK;
}

json_t *gw_attempt_to_json(const gw_attempt *t)
{
    json_t *o = json_object();
    put_str(o, "id", t->id);
    put_str(o, "merchant_id", t->merchant_id);
    put_str(o, "payment_id", t->payment_id);
    put_str(o, "provider", t->provider);
    put_str(o, "method", t->method);
    put_str(o, "status", t->status);
    put_str(o, "token", t->token);
    put_str(o, "provider_ref", t->provider_ref);
    put_str(o, "order_ref", t->order_ref);
    put_str(o, "failure_code", t->failure_code);
    put_int(o, "created", t->created);
    put_int(o, "expires_at", t->expires_at);
    return o;
}

k_status gw_attempt_from_json(json_t *doc, arena *a, gw_attempt *t)
{
    memset(t, 0, sizeof(*t));
    if (!json_is_object(doc))
        return K_EINVAL;
    copy_id(t->id, json_string_value(json_object_get(doc, "id")));
    t->merchant_id = gw_jstr(doc, "merchant_id", a);
    t->payment_id = gw_jstr(doc, "payment_id", a);
    t->provider = gw_jstr(doc, "provider", a);
    t->method = gw_jstr(doc, "method", a);
    t->status = gw_jstr(doc, "status", a);
    t->token = gw_jstr(doc, "token", a);
    t->provider_ref = gw_jstr(doc, "provider_ref", a);
    t->order_ref = gw_jstr(doc, "order_ref", a);
    t->failure_code = gw_jstr(doc, "failure_code", a);
    t->created = gw_jint(doc, "created");
    t->expires_at = gw_jint(doc, "expires_at");
    return K_OK;
}

json_t *gw_endpoint_to_json(const gw_endpoint *e)
{
    json_t *o = json_object();
    put_str(o, "id", e->id);
    put_str(o, "url", e->url);
    char box[CRYPTO_SEALED_MAX]; /* the signing secret is stored sealed */
    k_status sealed = e->secret != NULL ? crypto_seal(e->secret, box) : K_OK;
    K_ASSERT(sealed == K_OK); /* whsec_ secrets are ours, far below the seal's maximum */
    put_str(o, "secret", e->secret != NULL ? box : NULL);
    if (e->old_secret != NULL && e->old_secret_until > 0) {
        char old[CRYPTO_SEALED_MAX];
        sealed = crypto_seal(e->old_secret, old);
        K_ASSERT(sealed == K_OK);
        put_str(o, "old_secret", old);
        put_int(o, "old_secret_until", e->old_secret_until);
    }
    put_str(o, "roll_idem", e->roll_idem);
    put_str(o, "status", e->status);
    put_str(o, "description", e->description);
    put_json(o, "enabled_events", e->enabled_events, true);
    put_json(o, "metadata", e->metadata, false);
    put_str(o, "api_version", e->api_version);
    put_int(o, "created", e->created);
    return o;
}

k_status gw_endpoint_from_json(json_t *doc, arena *a, gw_endpoint *e)
{
    memset(e, 0, sizeof(*e));
    if (!json_is_object(doc))
        return K_EINVAL;
    copy_id(e->id, json_string_value(json_object_get(doc, "id")));
    e->url = gw_jstr(doc, "url", a);
    const char *stored = json_string_value(json_object_get(doc, "secret"));
    char plain[CRYPTO_SEAL_PLAIN_MAX + 1];
    if (stored != NULL && crypto_open(stored, plain, sizeof(plain)) != K_OK)
        return K_EIO; /* another key file, or a tampered row */
    e->secret = stored != NULL ? arena_strdup(a, plain) : NULL;
    const char *old = json_string_value(json_object_get(doc, "old_secret"));
    if (old != NULL) {
        if (crypto_open(old, plain, sizeof(plain)) != K_OK)
            return K_EIO;
        e->old_secret = arena_strdup(a, plain);
        e->old_secret_until = gw_jint(doc, "old_secret_until");
    }
    e->roll_idem = gw_jstr(doc, "roll_idem", a);
    e->status = gw_jstr(doc, "status", a);
    e->description = gw_jstr(doc, "description", a);
    e->enabled_events = keep_or_new(a, doc, "enabled_events", true);
    e->metadata = keep_or_new(a, doc, "metadata", false);
    e->api_version = gw_jstr(doc, "api_version", a);
    e->created = gw_jint(doc, "created");
    return K_OK;
}

/* base with changes applied: "" values remove keys, GW_METADATA_CLEAR starts
 * from empty. Returns a new reference. */
json_t *gw_metadata_apply(json_t *base, json_t *changes)
{
    bool clear = json_object_get(changes, GW_METADATA_CLEAR) != NULL;
    json_t *m = base != NULL && !clear ? json_deep_copy(base) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(changes, k, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(k, GW_METADATA_CLEAR) == 0)
            continue;
        if (s != NULL && s[0] == '\0')
            json_object_del(m, k);
        else
            json_object_set(m, k, v);
    }
    return m;
}

void gw_prov_lines(json_t *lines, arena *a, prov_line **out, size_t *n)
{
    size_t cnt = json_array_size(lines);
    *n = 0;
    *out = cnt ? arena_alloc(a, cnt * sizeof(prov_line)) : NULL;
    if (*out == NULL)
        return;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        prov_line *pl = &(*out)[(*n)++];
        pl->type = gw_jstr(l, "type", a);
        pl->reference = gw_jstr(l, "reference", a);
        pl->name = gw_jstr(l, "name", a);
        pl->quantity = gw_jint(l, "quantity");
        pl->unit_price = gw_jint(l, "unit_price");
        pl->tax_rate = gw_jint(l, "tax_rate");
        pl->total_amount = gw_jint(l, "total_amount");
        pl->total_tax_amount = gw_jint(l, "total_tax_amount");
        pl->total_discount_amount = gw_jint(l, "total_discount_amount");
    }
}
