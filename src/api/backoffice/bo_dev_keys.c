/*
 * bo_dev_keys.c - the API keys on the developers' page (role developer or
 * admin): the merchant's keys with their mode, last four characters, creation,
 * last use and state; create one (the key shown once), roll one with an
 * overlap (the old key keeps working until the chosen expiry) and revoke one
 * at once. Every change asks for the person's password or a current
 * authentication code again and is audited. The work is the gateway's
 * (gw_key_*).
 */
#include "bo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/clock.h"
#include "../../gateway/keys.h"

/* The overlaps a roll offers (seconds), as Stripe's dashboard does. */
static const struct {
    int64_t s;
    const char *label;
} key_overlaps[] = {
    {0, "Now"},
    {3600, "In 1 hour"},
    {86400, "In 24 hours"},
    {604800, "In 7 days"},
};

static void reauth_field(bo_req *r, const char *id_suffix)
{
    bo_fmt(r,
           "<label for=\"reauth-%s\">%s</label><input id=\"reauth-%s\" name=\"reauth\" "
           "type=\"password\" autocomplete=\"current-password\" required>",
           id_suffix, T(r, "Password or authentication code"), id_suffix);
}

static void key_row(bo_req *r, const gw_key *k, int64_t now_ms)
{
    const char *state = gw_key_state(k, now_ms);
    bo_fmt(r, "<tr data-key=\"%s\" data-state=\"%s\"><td>", k->id, state);
    bo_esc(r, k->name);
    bo_fmt(r, "<br><code>%s</code></td><td><code>sk_%s_…", k->id, k->mode);
    bo_esc(r, k->last4[0] != '\0' ? k->last4 : "????");
    bo_fmt(r, "</code></td><td>%s</td><td>", T(r, k->mode));
    bo_time(r, k->created_ms / 1000);
    bo_raw(r, "</td><td>");
    if (k->last_used_ms > 0)
        bo_time(r, k->last_used_ms / 1000);
    else
        bo_raw(r, T(r, "never"));
    bo_raw(r, "</td><td>");
    if (strcmp(state, "expiring") == 0) {
        bo_fmt(r, "%s ", T(r, "works until"));
        bo_time(r, k->expires_ms / 1000);
    } else {
        bo_raw(r, T(r, state));
    }
    bo_raw(r, "</td><td>");
    if (strcmp(state, "active") == 0 || strcmp(state, "expiring") == 0) {
        bo_fmt(r,
               "<details><summary>%s</summary><form method=\"post\" class=\"stack\" "
               "action=\"/dashboard/developers/keys/%s/roll\">",
               T(r, "Roll or revoke…"), k->id);
        bo_csrf_field(r);
        bo_idem_field(r);
        bo_fmt(r, "<label for=\"overlap-%s\">%s</label><select id=\"overlap-%s\" name=\"overlap\">",
               k->id, T(r, "The old key stops working"), k->id);
        for (size_t i = 0; i < K_ARRAY_LEN(key_overlaps); i++)
            bo_fmt(r, "<option value=\"%lld\"%s>%s</option>", (long long)key_overlaps[i].s,
                   i == 2 ? " selected" : "", T(r, key_overlaps[i].label));
        bo_raw(r, "</select>");
        char *sfx = arena_printf(r->req->arena, "roll-%s", k->id);
        reauth_field(r, sfx);
        bo_fmt(r, "<button type=\"submit\" class=\"small\">%s</button></form>",
               T(r, "Roll the key"));
        bo_fmt(r,
               "<form method=\"post\" class=\"stack\" "
               "action=\"/dashboard/developers/keys/%s/revoke\">",
               k->id);
        bo_csrf_field(r);
        sfx = arena_printf(r->req->arena, "revoke-%s", k->id);
        reauth_field(r, sfx);
        bo_fmt(r, "<button type=\"submit\" class=\"small\">%s</button></form></details>",
               T(r, "Revoke now"));
    }
    bo_raw(r, "</td></tr>");
}

void bo_dev_keys_section(bo_req *r)
{
    gw_key *ks = NULL;
    size_t n = 0;
    if (gw_key_list(r->api->g, r->s.merchant_id, r->req->arena, &ks, &n) != K_OK)
        n = 0;
    int64_t now = clock_now_ms();
    bo_fmt(
        r,
        "<section aria-labelledby=\"keys-h\"><h2 id=\"keys-h\">%s</h2>"
        "<p class=\"hint\">%s</p><div class=\"scroll\">"
        "<table class=\"list wide\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
        T(r, "API keys"),
        r->live ? T(r, "Live mode: these keys make real payments with the live account's own "
                       "provider credentials; they never reach a simulator.")
                : T(r, "Test mode: these keys and every payment made with them are test data; no "
                       "real money moves."),
        T(r, "Name"), T(r, "Key"), T(r, "Mode"), T(r, "Created"), T(r, "Last used"), T(r, "Status"),
        T(r, "Actions"));
    for (size_t i = 0; i < n; i++)
        key_row(r, &ks[i], now);
    if (n == 0)
        bo_fmt(r, "<tr><td colspan=\"7\">%s</td></tr>", T(r, "No keys yet."));
    bo_raw(r, "</tbody></table></div>");
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/developers/keys\" class=\"card\">");
    bo_csrf_field(r);
    bo_idem_field(r);
    bo_fmt(r,
           "<h3>%s</h3><label for=\"key-name\">%s</label><input id=\"key-name\" name=\"name\" "
           "required maxlength=\"%d\" placeholder=\"%s\">",
           T(r, "Create a secret key"), T(r, "Name"), GW_KEY_NAME_MAX, T(r, "e.g. shop server"));
    reauth_field(r, "create");
    bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, "Create key"));
    if (r->live_id == NULL) {
        bo_raw(r, "<form method=\"post\" action=\"/dashboard/developers/live\" class=\"card\">");
        bo_csrf_field(r);
        bo_fmt(r, "<h3>%s</h3><p class=\"hint\">%s</p>", T(r, "Live mode"),
               T(r, "The live account is a twin of this one with its own keys, data and provider "
                    "credentials; staff and roles are shared. Live payments need the live "
                    "account's provider credentials and base URL."));
        reauth_field(r, "live");
        bo_fmt(r, "<button type=\"submit\">%s</button></form>", T(r, "Create the live account"));
    }
    bo_raw(r, "</section>");
}

/* The person's password or code again; false (page sent, audited) when wrong. */
static bool key_reauth(bo_req *r, const char *action, const char *id)
{
    if (staff_reauth(r->api->g, &r->s, bo_f(r, "reauth"), r->req->arena))
        return true;
    bo_audit_action(r, action, id, NULL, NULL, "refused: re-authentication failed");
    bo_dev_render(r, 403,
                  T(r, "Enter your password or a current authentication code again to change "
                       "API keys; nothing was changed."),
                  NULL, NULL);
    return false;
}

static const char *key_after(bo_req *r, const gw_key *k)
{
    return arena_printf(r->req->arena,
                        "{\"id\":\"%s\",\"mode\":\"%s\",\"last4\":\"%s\",\"expires_ms\":%lld,"
                        "\"revoked_ms\":%lld}",
                        k->id, k->mode, k->last4, (long long)k->expires_ms,
                        (long long)k->revoked_ms);
}

static void key_refused(bo_req *r, const char *action, const char *id, const gw_err *err)
{
    bo_audit_action(r, action, id, NULL, NULL,
                    arena_printf(r->req->arena, "refused: %s", err->message));
    bo_dev_render(r, bo_status(err), err->message, NULL, NULL);
}

static void key_shown(bo_req *r, const char *note, const gw_key *k)
{
    if (k->replayed) {
        bo_dev_render(r, 200,
                      T(r, "Already done: this form was sent before. The key was shown then."),
                      NULL, NULL);
        return;
    }
    bo_dev_render(r, 200, note, T(r, "Secret key"), k->secret);
}

void bo_dev_key_create(bo_req *r)
{
    if (!key_reauth(r, "key.create", NULL))
        return;
    gw_key k;
    gw_err err;
    memset(&err, 0, sizeof err);
    if (gw_key_create(r->api->g, r->s.merchant_id, r->live ? "live" : "test", bo_f(r, "name"),
                      bo_f(r, "idem"), r->req->arena, &k, &err) != K_OK) {
        key_refused(r, "key.create", NULL, &err);
        return;
    }
    bo_audit_action(r, "key.create", k.id, NULL, key_after(r, &k), "ok");
    key_shown(r, T(r, "Key created."), &k);
}

void bo_dev_key_change(bo_req *r)
{
    const char *id = r->req->params[0], *what = r->req->params[1];
    bool roll = strcmp(what, "roll") == 0;
    if (!roll && strcmp(what, "revoke") != 0) {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such action."),
                   "/dashboard/developers");
        return;
    }
    const char *action = roll ? "key.roll" : "key.revoke";
    if (!key_reauth(r, action, id))
        return;
    gw_key k;
    gw_err err;
    memset(&err, 0, sizeof err);
    k_status st;
    if (roll) {
        const char *ov = bo_f(r, "overlap");
        char *end = NULL;
        long long s = ov != NULL ? strtoll(ov, &end, 10) : -1;
        if (ov == NULL || end == ov || *end != '\0')
            s = -1;
        st = gw_key_roll(r->api->g, r->s.merchant_id, id, s, bo_f(r, "idem"), r->req->arena, &k,
                         &err);
    } else {
        st = gw_key_revoke(r->api->g, r->s.merchant_id, id, r->req->arena, &k, &err);
    }
    if (st != K_OK) {
        key_refused(r, action, id, &err);
        return;
    }
    bo_audit_action(r, action, id, NULL, key_after(r, &k), "ok");
    if (roll)
        key_shown(r, T(r, "Key rolled: use the new key; the old one works until the time shown."),
                  &k);
    else
        bo_dev_render(r, 200, T(r, "Key revoked: it no longer works."), NULL, NULL);
}

/* The live twin of the person's (test) account, created by an admin; its first
 * live key is shown once. */
void bo_dev_live_create(bo_req *r)
{
    if (!key_reauth(r, "live.create", NULL))
        return;
    gw_merchant_keys k;
    bool created = false;
    if (gw_merchant_live_twin(r->api->g, r->test_id, r->req->arena, &k, &created) != K_OK) {
        bo_audit_action(r, "live.create", NULL, NULL, NULL, "refused: not stored");
        bo_dev_render(r, 500, T(r, "The live account could not be created; nothing was changed."),
                      NULL, NULL);
        return;
    }
    r->live_id = k.id;
    bo_audit_action(r, "live.create", k.id, NULL,
                    arena_printf(r->req->arena, "{\"id\":\"%s\",\"mode\":\"live\"}", k.id),
                    created ? "ok" : "ok: existed");
    if (!created) {
        bo_dev_render(r, 200, T(r, "The live account exists already."), NULL, NULL);
        return;
    }
    bo_dev_render(r, 200,
                  T(r, "Live account created. Switch to Live data in the header to see it."),
                  T(r, "Secret key"), k.secret_key);
}
