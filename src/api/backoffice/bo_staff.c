/*
 * bo_staff.c - the staff page (admins only): the merchant's staff accounts,
 * adding one (the generated password and the otpauth:// URI shown once, as
 * `kassa user create` prints them), changing a person's role and refund
 * limit, disabling and enabling an account, and resetting its two-factor
 * authentication. The rules (the last admin keeps the role, sessions end on a
 * change, the audit row in the change's own transaction) are staff.c's.
 */
#include "bo_int.h"

#include <stdio.h>
#include <string.h>

#include "../../domain/money.h"

/* The refund limit typed as an amount with two decimals ("250.00"); empty = the
 * role's (-1). false when it is not an amount. */
static bool limit_parse(const char *v, int64_t *out)
{
    if (v == NULL) {
        *out = -1;
        return true;
    }
    const currency_info *two = currency_find("eur"); /* two decimals, like the roles' table */
    return two != NULL && money_parse_decimal(v, two, out) == K_OK && *out >= 0;
}

static void limit_text(char *out, size_t cap, int64_t minor)
{
    if (minor < 0)
        out[0] = '\0';
    else
        snprintf(out, cap, "%lld.%02lld", (long long)(minor / 100), (long long)(minor % 100));
}

static void role_select(bo_req *r, const char *id, const char *current)
{
    const staff_role *roles;
    size_t n = staff_roles(&roles);
    bo_fmt(r, "<select id=\"%s\" name=\"role\">", id);
    for (size_t i = 0; i < n; i++) {
        bo_fmt(r, "<option value=\"%s\"%s>%s</option>", roles[i].name,
               current != NULL && strcmp(current, roles[i].name) == 0 ? " selected" : "",
               T(r, roles[i].name));
    }
    bo_raw(r, "</select>");
}

static void user_row(bo_req *r, const store_staff *u)
{
    const staff_role *role = staff_role_find(u->role);
    char lim[32], dflt[32];
    limit_text(lim, sizeof lim, u->refund_limit);
    limit_text(dflt, sizeof dflt, role != NULL ? role->refund_reauth_above : 0);
    bo_fmt(r, "<tr data-user=\"%s\" data-state=\"%s\"><th scope=\"row\">", u->id,
           u->disabled ? "disabled" : "active");
    bo_esc(r, u->email);
    bo_fmt(r, "</th><td>%s</td><td>", u->disabled ? T(r, "disabled") : T(r, "active"));
    bo_time(r, u->created_ms / 1000);
    bo_raw(r, "</td><td>");
    /* role and refund limit */
    bo_fmt(r, "<form method=\"post\" class=\"staff-change\" action=\"/dashboard/staff/%s/change\">",
           u->id);
    bo_csrf_field(r);
    bo_fmt(r, "<label for=\"role-%s\">%s</label>", u->id, T(r, "Role"));
    char rid[64];
    snprintf(rid, sizeof rid, "role-%s", u->id);
    role_select(r, rid, u->role);
    bo_fmt(r, "<label for=\"limit-%s\">%s</label>", u->id,
           T(r, "Refunds above this amount ask for the password again (empty: the role's)"));
    bo_fmt(r, "<input id=\"limit-%s\" name=\"refund_limit\" inputmode=\"decimal\"", u->id);
    bo_attr(r, "value", lim);
    bo_attr(r, "placeholder", dflt);
    bo_raw(r, ">");
    bo_fmt(r, "<label for=\"reason-%s\">%s</label><input id=\"reason-%s\" name=\"reason\">", u->id,
           T(r, "Reason (kept in the audit log)"), u->id);
    bo_fmt(r, "<p><button type=\"submit\" class=\"small\">%s</button></p></form>", T(r, "Save"));
    /* disable / enable */
    bo_fmt(r, "<form method=\"post\" class=\"inline\" action=\"/dashboard/staff/%s/%s\">", u->id,
           u->disabled ? "enable" : "disable");
    bo_csrf_field(r);
    bo_fmt(r, "<button type=\"submit\" class=\"small\" aria-label=\"%s ",
           u->disabled ? T(r, "Enable") : T(r, "Disable"));
    bo_esc(r, u->email);
    bo_fmt(r, "\">%s</button></form>", u->disabled ? T(r, "Enable") : T(r, "Disable"));
    /* reset 2FA, confirmed */
    bo_fmt(r, "<form method=\"post\" action=\"/dashboard/staff/%s/reset_2fa\">", u->id);
    bo_csrf_field(r);
    bo_fmt(r,
           "<p class=\"check\"><input type=\"checkbox\" id=\"confirm-%s\" name=\"confirm\" "
           "value=\"1\" required><label for=\"confirm-%s\">%s</label></p>",
           u->id, u->id, T(r, "I confirm"));
    bo_fmt(r, "<button type=\"submit\" class=\"small\" aria-label=\"%s ",
           T(r, "Reset two-factor authentication"));
    bo_esc(r, u->email);
    bo_fmt(r, "\">%s</button></form></td></tr>", T(r, "Reset two-factor authentication"));
}

/* new_user: the account just made (password and URI shown once), or NULL. */
static void staff_page(bo_req *r, int status, const char *note, const gw_err *err,
                       const staff_new *shown, const char *shown_email)
{
    store_staff *us = NULL;
    size_t n = 0;
    if (staff_user_list(r->api->g, &r->s, r->req->arena, &us, &n) != K_OK)
        n = 0;
    bo_html_start(r, status);
    bo_page_begin(r, T(r, "Staff"), "staff");
    bo_fmt(r, "<h1>%s</h1>", T(r, "Staff"));
    if (note != NULL) {
        bo_fmt(r, "<p class=\"banner %s\" role=\"%s\">", status < 400 ? "ok" : "bad",
               status < 400 ? "status" : "alert");
        bo_esc(r, note);
        bo_raw(r, "</p>");
    }
    if (shown != NULL) {
        bo_fmt(r, "<section class=\"card\" role=\"alert\" id=\"shown-once\"><h2>%s</h2><p>%s</p>",
               T(r, "Shown only now"), T(r, "Give these to the person: they are shown only once."));
        bo_raw(r, "<dl class=\"summary\">");
        bo_fmt(r, "<div><dt>%s</dt><dd>", T(r, "E-mail address"));
        bo_esc(r, shown_email);
        bo_raw(r, "</dd></div>");
        if (shown->password != NULL) {
            bo_fmt(r, "<div><dt>%s</dt><dd><code id=\"shown-password\">", T(r, "Password"));
            bo_esc(r, shown->password);
            bo_raw(r, "</code></dd></div>");
        }
        bo_fmt(r, "<div><dt>%s</dt><dd><code id=\"shown-uri\">", T(r, "Authenticator app"));
        bo_esc(r, shown->totp_uri);
        bo_raw(r, "</code></dd></div></dl></section>");
    }
    bo_fmt(
        r,
        "<section aria-labelledby=\"staff-h\"><h2 id=\"staff-h\">%s</h2><div class=\"scroll\">"
        "<table class=\"list staff\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
        "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
        T(r, "Staff accounts"), T(r, "E-mail address"), T(r, "Status"), T(r, "Created"),
        T(r, "Actions"));
    for (size_t i = 0; i < n; i++)
        user_row(r, &us[i]);
    bo_raw(r, "</tbody></table></div></section>");
    bool bad_email = err != NULL && strcmp(err->param, "email") == 0;
    bo_raw(r, "<form method=\"post\" action=\"/dashboard/staff\" class=\"card\" novalidate>");
    bo_csrf_field(r);
    bo_fmt(r, "<h2>%s</h2><label for=\"new-email\">%s</label>", T(r, "Add a person"),
           T(r, "E-mail address"));
    bo_raw(r, "<input id=\"new-email\" name=\"email\" type=\"email\" required");
    if (bad_email)
        bo_raw(r, " aria-invalid=\"true\" aria-describedby=\"new-email-err\"");
    bo_raw(r, ">");
    if (bad_email) {
        bo_raw(r, "<p class=\"err\" id=\"new-email-err\">");
        bo_esc(r, T(r, err->message));
        bo_raw(r, "</p>");
    }
    bo_fmt(r, "<label for=\"new-role\">%s</label>", T(r, "Role"));
    role_select(r, "new-role", "read_only");
    bo_fmt(r, "<label for=\"new-reason\">%s</label><input id=\"new-reason\" name=\"reason\">",
           T(r, "Reason (kept in the audit log)"));
    bo_fmt(r, "<p><button type=\"submit\">%s</button></p></form>", T(r, "Add the person"));
    bo_page_end(r);
    bo_finish(r);
}

static const char *const staff_notes[][2] = {
    {"changed", "Saved."},
    {"disabled", "The account is disabled and its sessions ended."},
    {"enabled", "The account is enabled again."},
};

void bo_staff_page(bo_req *r)
{
    const char *done = bo_q(r, "done");
    const char *note = NULL;
    for (size_t i = 0; done != NULL && i < K_ARRAY_LEN(staff_notes); i++)
        if (strcmp(staff_notes[i][0], done) == 0)
            note = T(r, staff_notes[i][1]);
    staff_page(r, 200, note, NULL, NULL, NULL);
}

void bo_staff_create(bo_req *r)
{
    staff_new u;
    gw_err err;
    memset(&err, 0, sizeof err);
    const char *email = bo_f(r, "email");
    if (staff_user_add(r->api->g, &r->s, email, bo_f(r, "role"), bo_f(r, "reason"), r->req->arena,
                       &u, &err) != K_OK) {
        bo_audit_action(r, "staff.create", NULL, NULL, NULL,
                        arena_printf(r->req->arena, "refused: %s", err.message));
        staff_page(r, bo_status(&err), T(r, err.message), &err, NULL, NULL);
        return;
    }
    staff_page(r, 200, T(r, "The person was added."), NULL, &u, email);
}

void bo_staff_change(bo_req *r)
{
    const char *id = r->req->params[0], *what = r->req->params[1];
    gw_err err;
    memset(&err, 0, sizeof err);
    staff_change c = {.refund_limit = -2, .disabled = -1, .reason = bo_f(r, "reason")};
    const char *done = "changed";
    if (strcmp(what, "reset_2fa") == 0) {
        if (bo_f(r, "confirm") == NULL) {
            staff_page(r, 400, T(r, "Tick the box to confirm."), NULL, NULL, NULL);
            return;
        }
        staff_new u;
        if (staff_user_reset_2fa(r->api->g, &r->s, id, c.reason, r->req->arena, &u, &err) != K_OK) {
            staff_page(r, bo_status(&err), T(r, err.message), &err, NULL, NULL);
            return;
        }
        store_staff *us = NULL;
        size_t n = 0;
        const char *email = "";
        if (staff_user_list(r->api->g, &r->s, r->req->arena, &us, &n) == K_OK)
            for (size_t i = 0; i < n; i++)
                if (strcmp(us[i].id, id) == 0)
                    email = us[i].email;
        staff_page(r, 200, T(r, "A new authenticator secret: the person's sessions ended."), NULL,
                   &u, email);
        return;
    }
    if (strcmp(what, "change") == 0) {
        c.role = bo_f(r, "role");
        if (!limit_parse(bo_f(r, "refund_limit"), &c.refund_limit)) {
            err.why = GW_WHY_PARAM_INVALID;
            snprintf(err.param, sizeof err.param, "refund_limit");
            snprintf(err.message, sizeof err.message, "%s",
                     "Give the refund limit as an amount such as 250.00, or leave it empty.");
            staff_page(r, 400, T(r, err.message), &err, NULL, NULL);
            return;
        }
    } else if (strcmp(what, "disable") == 0 || strcmp(what, "enable") == 0) {
        c.disabled = strcmp(what, "disable") == 0 ? 1 : 0;
        done = c.disabled ? "disabled" : "enabled";
    } else {
        bo_message(r, 404, T(r, "Not found"), T(r, "There is no such action."), "/dashboard/staff");
        return;
    }
    if (staff_user_change(r->api->g, &r->s, id, &c, r->req->arena, &err) != K_OK) {
        staff_page(r, bo_status(&err), T(r, err.message), &err, NULL, NULL);
        return;
    }
    http_resp_redirect(r->req, r->resp,
                       arena_printf(r->req->arena, "/dashboard/staff?done=%s", done));
}
