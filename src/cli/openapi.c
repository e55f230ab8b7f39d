/*
 * openapi.c - builds the OpenAPI 3.1 document (openapi.h) from the route
 * table the server runs with. The route table says which operations exist,
 * their method, path, path parameters and authentication; OA_DOCS below says
 * what each takes and answers. A route missing from OA_DOCS still appears
 * (marked x-kassa-undocumented) and a row with no route is reported, so the
 * test that compares them (tests/e2e/openapi.test.js) fails when either side
 * moves alone; the same test checks each documented parameter against the
 * handler's own list of known parameters by sending it.
 *
 * Parameters are a small notation, one token per parameter:
 *   name:type     type = string | integer | boolean | object | string[] | object[]
 *   name!:type    required
 *   name:a|b|c    a string with these values
 * GET parameters go in the query; POST ones in the body (form-encoded for the
 * Stripe dialect, JSON for ECommPay's Gate and Data API).
 */
#include "openapi.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../limits.h"

typedef enum { OB_NONE, OB_FORM, OB_JSON } oa_body;
typedef enum { OA_JSON, OA_HTML, OA_CSS, OA_JS, OA_REDIRECT, OA_TEXT } oa_answer;

typedef struct {
    const char *method;
    const char *pattern;
    const char *tag;
    const char *summary;
    oa_body body;
    oa_answer answer;
    const char *params;
} oa_doc;

#define LIST_Q "limit:integer starting_after:string ending_before:string created:object"
#define PI_P                                                                                       \
    "amount:integer currency:string payment_method_types:string[] "                                \
    "capture_method:automatic|manual confirm:boolean description:string metadata:object "          \
    "return_url:string payment_method_data:object payment_method_options:object "                  \
    "receipt_email:string customer:string statement_descriptor:string "                            \
    "statement_descriptor_suffix:string shipping:object automatic_payment_methods:object "         \
    "confirmation_method:string payment_method:string use_stripe_sdk:boolean "                     \
    "order_lines:object[] setup_future_usage:string error_on_requires_action:boolean "             \
    "off_session:boolean mandate_data:object"
#define WE_P                                                                                       \
    "url:string enabled_events:string[] description:string metadata:object disabled:boolean "      \
    "api_version:string connect:boolean"
/* A report's parameters[...] (Stripe's nesting), each named: the handler knows exactly these. */
#define REP_P                                                                                      \
    "parameters[interval_start]:integer parameters[interval_end]:integer "                         \
    "parameters[timezone]:string parameters[currency]:string parameters[columns]:string[] "        \
    "parameters[format]:csv|xlsx parameters[delimiter]:string parameters[bom]:boolean "            \
    "parameters[payment_method_type]:string"
#define ECP_GATE "general!:object payment:object customer:object return_url:object"

static const oa_doc OA_DOCS[] = {
    /* Stripe-compatible: PaymentIntents */
    {"POST", "/v1/payment_intents", "PaymentIntents", "Create a payment intent", OB_FORM, OA_JSON,
     "amount!:integer currency!:string payment_method_types:string[] "
     "capture_method:automatic|manual confirm:boolean description:string metadata:object "
     "return_url:string payment_method_data:object payment_method_options:object "
     "receipt_email:string customer:string statement_descriptor:string "
     "statement_descriptor_suffix:string shipping:object automatic_payment_methods:object "
     "confirmation_method:string payment_method:string use_stripe_sdk:boolean "
     "order_lines:object[] setup_future_usage:string error_on_requires_action:boolean "
     "off_session:boolean mandate_data:object"},
    {"GET", "/v1/payment_intents", "PaymentIntents", "List payment intents, newest first", OB_NONE,
     OA_JSON, LIST_Q " customer:string"},
    {"GET", "/v1/payment_intents/:id", "PaymentIntents", "Retrieve a payment intent", OB_NONE,
     OA_JSON, "client_secret:string"},
    {"POST", "/v1/payment_intents/:id", "PaymentIntents", "Update a payment intent", OB_FORM,
     OA_JSON, PI_P},
    {"POST", "/v1/payment_intents/:id/confirm", "PaymentIntents",
     "Confirm: start the attempt with the provider (redirect or QR code)", OB_FORM, OA_JSON, PI_P},
    {"POST", "/v1/payment_intents/:id/capture", "PaymentIntents",
     "Capture an authorised amount (Klarna: activate the order)", OB_FORM, OA_JSON,
     "amount_to_capture:integer final_capture:boolean metadata:object order_lines:object[] "
     "statement_descriptor:string statement_descriptor_suffix:string"},
    {"POST", "/v1/payment_intents/:id/cancel", "PaymentIntents", "Cancel a payment intent", OB_FORM,
     OA_JSON, "cancellation_reason:duplicate|fraudulent|requested_by_customer|abandoned"},
    {"POST", "/v1/payment_intents/:id/sync", "Kassa extensions",
     "Ask the provider for the payment's state now", OB_NONE, OA_JSON, ""},
    {"GET", "/v1/payment_intents/:id/journal", "Kassa extensions",
     "The payment's journal of operations, oldest first", OB_NONE, OA_JSON, ""},
    {"POST", "/v1/payment_intents/:id/extend_authorization", "Kassa extensions",
     "Extend a Klarna authorisation", OB_NONE, OA_JSON, ""},
    {"POST", "/v1/payment_intents/:id/order", "Kassa extensions",
     "Edit the order lines of an authorised Klarna order (new risk decision)", OB_FORM, OA_JSON,
     "order_lines!:object[]"},
    {"POST", "/v1/payment_intents/:id/resend_instructions", "Kassa extensions",
     "Resend Klarna's payment instructions to the customer", OB_NONE, OA_JSON, ""},
    /* Refunds */
    {"POST", "/v1/refunds", "Refunds", "Refund a captured payment (whole or part)", OB_FORM,
     OA_JSON,
     "payment_intent:string charge:string amount:integer "
     "reason:duplicate|fraudulent|requested_by_customer metadata:object "
     "instructions_email:string"},
    {"GET", "/v1/refunds", "Refunds", "List refunds, newest first", OB_NONE, OA_JSON,
     LIST_Q " payment_intent:string charge:string"},
    {"GET", "/v1/refunds/:id", "Refunds", "Retrieve a refund", OB_NONE, OA_JSON, ""},
    {"GET", "/v1/kassa/branding", "Kassa extensions", "The logo the hosted pages show", OB_NONE,
     OA_JSON, ""},
    {"POST", "/v1/kassa/branding", "Kassa extensions",
     "Set the logo the hosted pages show (https URL; empty removes it)", OB_FORM, OA_JSON,
     "logo_url:string"},
    /* Reporting (Stripe's reporting API) and Kassa's report extensions */
    {"POST", "/v1/reporting/report_runs", "Reporting",
     "Start a report run (a file, made in the "
     "background)",
     OB_FORM, OA_JSON, "report_type!:string " REP_P},
    {"GET", "/v1/reporting/report_runs", "Reporting", "List report runs, newest first", OB_NONE,
     OA_JSON, LIST_Q},
    {"GET", "/v1/reporting/report_runs/:id", "Reporting", "Retrieve a report run", OB_NONE, OA_JSON,
     ""},
    {"GET", "/v1/reporting/report_types", "Reporting", "List the report types", OB_NONE, OA_JSON,
     ""},
    {"GET", "/v1/reporting/report_types/:id", "Reporting", "Retrieve a report type", OB_NONE,
     OA_JSON, ""},
    {"GET", "/v1/files/:id", "Reporting", "Retrieve a file object (a report's result)", OB_NONE,
     OA_JSON, ""},
    {"GET", "/v1/files/:id/contents", "Reporting", "Download a file (CSV or XLSX)", OB_NONE,
     OA_TEXT, ""},
    {"POST", "/v1/kassa/report_schedules", "Kassa extensions",
     "Schedule a report daily, weekly or monthly to a folder, a URL or e-mail", OB_FORM, OA_JSON,
     "report_type!:string frequency!:daily|weekly|monthly hour:integer minute:integer "
     "weekday:integer monthday:integer start_at:integer folder:string url:string "
     "emails:string[] " REP_P},
    {"GET", "/v1/kassa/report_schedules", "Kassa extensions", "List report schedules", OB_NONE,
     OA_JSON, "limit:integer starting_after:string ending_before:string"},
    {"GET", "/v1/kassa/report_schedules/:id", "Kassa extensions", "Retrieve a report schedule",
     OB_NONE, OA_JSON, ""},
    {"DELETE", "/v1/kassa/report_schedules/:id", "Kassa extensions", "Delete a report schedule",
     OB_NONE, OA_JSON, ""},
    {"GET", "/v1/kassa/report_schedules/:id/deliveries", "Kassa extensions",
     "A schedule's files and their deliveries", OB_NONE, OA_JSON, ""},
    {"GET", "/v1/kassa/analytics", "Kassa extensions",
     "Volumes, counts, success rate and mixes in buckets, compared with the period before", OB_NONE,
     OA_JSON,
     "interval_start:integer interval_end:integer timezone:string bucket:string currency:string "
     "compare:boolean convert_to:string"},
    /* Events and webhooks */
    {"GET", "/v1/events", "Events", "List events, newest first", OB_NONE, OA_JSON,
     LIST_Q " type:string types:string[] delivery_success:boolean"},
    {"GET", "/v1/events/:id", "Events", "Retrieve an event", OB_NONE, OA_JSON, ""},
    {"POST", "/v1/events/:id/resend", "Kassa extensions", "Deliver an event again to its endpoints",
     OB_NONE, OA_JSON, ""},
    {"GET", "/v1/events/:id/deliveries", "Kassa extensions",
     "An event's webhook deliveries and their attempts", OB_NONE, OA_JSON, ""},
    {"POST", "/v1/webhook_endpoints", "Webhook endpoints", "Create a webhook endpoint", OB_FORM,
     OA_JSON,
     "url!:string enabled_events!:string[] description:string metadata:object "
     "disabled:boolean api_version:string connect:boolean"},
    {"GET", "/v1/webhook_endpoints", "Webhook endpoints", "List webhook endpoints", OB_NONE,
     OA_JSON, LIST_Q " customer:string"},
    {"GET", "/v1/webhook_endpoints/:id", "Webhook endpoints", "Retrieve a webhook endpoint",
     OB_NONE, OA_JSON, ""},
    {"POST", "/v1/webhook_endpoints/:id", "Webhook endpoints", "Update a webhook endpoint", OB_FORM,
     OA_JSON, WE_P},
    {"DELETE", "/v1/webhook_endpoints/:id", "Webhook endpoints", "Delete a webhook endpoint",
     OB_NONE, OA_JSON, ""},
    /* Checkout Sessions */
    {"POST", "/v1/checkout/sessions", "Checkout Sessions",
     "Create a checkout session (hosted page with method choice)", OB_FORM, OA_JSON,
     "line_items:object[] mode:payment success_url!:string cancel_url:string "
     "locale:auto|en|de|fr|fi|sv customer_email:string client_reference_id:string "
     "payment_method_types:string[] metadata:object payment_intent_data:object "
     "expires_at:integer currency:string ui_mode:string submit_type:string "
     "billing_address_collection:string"},
    {"GET", "/v1/checkout/sessions", "Checkout Sessions", "List checkout sessions", OB_NONE,
     OA_JSON, LIST_Q " payment_intent:string status:string"},
    {"GET", "/v1/checkout/sessions/:id", "Checkout Sessions", "Retrieve a checkout session",
     OB_NONE, OA_JSON, ""},
    {"GET", "/v1/checkout/sessions/:id/line_items", "Checkout Sessions",
     "List a checkout session's line items", OB_NONE, OA_JSON,
     "limit:integer starting_after:string ending_before:string"},
    {"POST", "/v1/checkout/sessions/:id/expire", "Checkout Sessions", "Expire a checkout session",
     OB_NONE, OA_JSON, ""},
    {"POST", "/_test/clock/advance", "Test clock",
     "Move Kassa's clock forward (only with test_clock on; never in production)", OB_FORM, OA_JSON,
     "seconds!:integer"},
    /* Hosted pages */
    {"GET", "/c/pay/:id", "Hosted pages", "Checkout page: the customer picks a method", OB_NONE,
     OA_HTML, ""},
    {"POST", "/c/pay/:id", "Hosted pages", "Checkout page: the chosen method", OB_FORM, OA_REDIRECT,
     "method:string email:string country:string"},
    {"GET", "/c/done/:id", "Hosted pages", "Checkout result page", OB_NONE, OA_HTML, ""},
    {"GET", "/pay/return/:attempt", "Hosted pages",
     "Where the provider sends the customer back; redirects to the shop", OB_NONE, OA_REDIRECT, ""},
    {"POST", "/providers/:provider/notify/:attempt", "Provider callbacks",
     "A provider's notification about an attempt (signed by the provider)", OB_JSON, OA_JSON, ""},
    {"GET", "/assets/kassa.css", "Hosted pages", "Style sheet of the hosted pages", OB_NONE, OA_CSS,
     ""},
    {"GET", "/assets/brand.css", "Hosted pages",
     "Style sheet of a merchant's button colours (a=rrggbb, t=rrggbb)", OB_NONE, OA_CSS, ""},
    {"GET", "/pay/qr.js", "Hosted pages", "Script of the QR code page (polls the status)", OB_NONE,
     OA_JS, ""},
    {"GET", "/pay/qr.css", "Hosted pages", "Style sheet of the QR code page", OB_NONE, OA_CSS, ""},
    {"GET", "/assets/kassa.js", "Hosted pages",
     "Script of the checkout page (the method list follows the country; a busy Pay button)",
     OB_NONE, OA_JS, ""},
    {"GET", "/favicon.ico", "Hosted pages", "The icon browsers ask for", OB_NONE, OA_TEXT, ""},
    {"GET", "/pay/qr/:attempt", "Hosted pages", "Alipay+ QR code page", OB_NONE, OA_HTML, ""},
    {"GET", "/pay/qr/:attempt/status", "Hosted pages", "Status of a QR code attempt", OB_NONE,
     OA_JSON, ""},
    {"POST", "/pay/qr/:attempt/cancel", "Hosted pages",
     "The customer cancels a QR code payment (closed at Alipay+); back to the shop", OB_FORM,
     OA_REDIRECT, ""},
    /* The staff's back office (pages; a session cookie and a CSRF token on every change) */
    {"GET", "/dashboard", "Back office", "The back office (sends to the payments list)", OB_NONE,
     OA_REDIRECT, ""},
    {"GET", "/dashboard/signin", "Back office", "Sign-in page: e-mail and password", OB_NONE,
     OA_HTML, ""},
    {"POST", "/dashboard/signin", "Back office", "Sign in: e-mail and password", OB_FORM,
     OA_REDIRECT, "email!:string password!:string"},
    {"GET", "/dashboard/signin/code", "Back office", "Sign-in page: the authentication code",
     OB_NONE, OA_HTML, ""},
    {"POST", "/dashboard/signin/code", "Back office",
     "Sign in: the 6-digit code or a recovery code", OB_FORM, OA_REDIRECT, "code!:string"},
    {"POST", "/dashboard/signout", "Back office", "Sign out", OB_FORM, OA_REDIRECT, ""},
    {"GET", "/dashboard/static/bo.css", "Back office", "Style sheet of the back office", OB_NONE,
     OA_CSS, ""},
    {"GET", "/dashboard/static/bo.js", "Back office", "Script of the back office (live list)",
     OB_NONE, OA_JS, ""},
    {"GET", "/dashboard/payments", "Back office", "Payments list with filters and saved views",
     OB_NONE, OA_HTML, ""},
    {"GET", "/dashboard/payments/rows", "Back office", "More rows of the payments list (keyset)",
     OB_NONE, OA_HTML, ""},
    {"GET", "/dashboard/live", "Back office",
     "Server-sent events of payments created or changed (resumes with Last-Event-ID)", OB_NONE,
     OA_TEXT, ""},
    {"GET", "/dashboard/payments/:id", "Back office", "A payment: timeline, lines and actions",
     OB_NONE, OA_HTML, ""},
    {"POST", "/dashboard/payments/:id/:action", "Back office",
     "An action on a payment (capture, refund, cancel, extend, edit, resend, sync ...)", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/views", "Back office", "Save the list's filters as a named view", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/views/:id/delete", "Back office", "Delete a saved view", OB_FORM,
     OA_REDIRECT, ""},
    {"GET", "/dashboard/audit", "Back office", "The audit log", OB_NONE, OA_HTML, ""},
    {"GET", "/dashboard/developers", "Back office",
     "Developers: API keys, webhook endpoints and events, the ECommPay callback URL", OB_NONE,
     OA_HTML, ""},
    {"GET", "/dashboard/developers/requests", "Back office",
     "The recent API requests, filtered by status, method, path and key", OB_NONE, OA_HTML, ""},
    {"POST", "/dashboard/developers/keys", "Back office",
     "Create a secret key (password or code again; the key shown once)", OB_FORM, OA_HTML, ""},
    {"POST", "/dashboard/developers/live", "Back office",
     "Create the live twin of the account (password or code again; its first live key shown "
     "once)",
     OB_FORM, OA_HTML, ""},
    {"POST", "/dashboard/mode", "Back office",
     "The Test/Live switch: which account's data the pages show (staff and roles are shared)",
     OB_FORM, OA_REDIRECT, ""},
    {"POST", "/dashboard/developers/keys/:id/:what", "Back office",
     "Roll a key with an overlap, or revoke it (password or code again)", OB_FORM, OA_HTML, ""},
    {"POST", "/dashboard/developers/endpoints", "Back office", "Add a webhook endpoint", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/developers/endpoints/:id/:what", "Back office",
     "Disable, enable or delete a webhook endpoint, or roll its signing secret", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/developers/events/:id/resend", "Back office", "Send an event again",
     OB_FORM, OA_REDIRECT, ""},
    {"GET", "/dashboard/staff", "Back office", "Staff accounts (admins)", OB_NONE, OA_HTML, ""},
    {"POST", "/dashboard/staff", "Back office",
     "Add a staff account (its password and otpauth:// URI shown once)", OB_FORM, OA_HTML,
     "email!:string role!:string reason:string"},
    {"POST", "/dashboard/staff/:id/:what", "Back office",
     "Change a staff account: role and refund limit, disable, enable, reset 2FA", OB_FORM,
     OA_REDIRECT, "role:string refund_limit:string reason:string confirm:string"},
    {"POST", "/dashboard/developers/replay", "Back office",
     "Send every undelivered event again, or the deliveries of events matching a filter", OB_FORM,
     OA_REDIRECT, ""},
    {"GET", "/dashboard/settings", "Back office",
     "Settings: methods shown or hidden, provider credentials, branding, expiry periods", OB_NONE,
     OA_HTML, ""},
    {"GET", "/dashboard/settings/preview", "Back office",
     "Preview of the hosted checkout page with the branding in the query", OB_NONE, OA_HTML, ""},
    {"POST", "/dashboard/settings/methods", "Back office",
     "Hide or publish a payment method for a currency and country", OB_FORM, OA_REDIRECT,
     "method!:string currency!:string country!:string action!:string"},
    {"POST", "/dashboard/settings/credentials", "Back office",
     "Set a provider's credentials (re-authentication required)", OB_FORM, OA_REDIRECT,
     "provider!:string reauth!:string"},
    {"POST", "/dashboard/settings/branding", "Back office",
     "Set the hosted pages' shop name, logo and button colours", OB_FORM, OA_REDIRECT, ""},
    {"POST", "/dashboard/settings/expiry", "Back office",
     "Set the authorisation, attempt and checkout session periods", OB_FORM, OA_REDIRECT, ""},
    {"GET", "/dashboard/static/reports.js", "Back office",
     "Script of the reports page (draws the charts from the tables)", OB_NONE, OA_JS, ""},
    {"GET", "/dashboard/static/chart.js", "Back office",
     "Chart.js from Debian's libjs-chart.js, read at start (404 when not installed)", OB_NONE,
     OA_JS, ""},
    {"GET", "/dashboard/reports", "Back office",
     "Reports: analytics in buckets, per currency or converted, with the previous period", OB_NONE,
     OA_HTML, ""},
    {"GET", "/dashboard/reports/figures.csv", "Back office",
     "The figures behind one chart of the reports page, as CSV", OB_NONE, OA_TEXT, ""},
    {"POST", "/dashboard/reports/runs", "Back office",
     "Make a report file (CSV or XLSX) of the reports page's filter", OB_FORM, OA_REDIRECT, ""},
    {"GET", "/dashboard/reports/files/:id", "Back office", "Download a report file", OB_NONE,
     OA_TEXT, ""},
    {"POST", "/dashboard/reports/views/:id/export", "Back office",
     "Export a saved view of the payments list (payments.itemized.1, its filters)", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/reports/schedules", "Back office", "Create a report schedule", OB_FORM,
     OA_REDIRECT, ""},
    {"POST", "/dashboard/reports/schedules/:id/delete", "Back office", "Delete a report schedule",
     OB_FORM, OA_REDIRECT, ""},
    /* The sandbox demo shop */
    {"GET", "/demo", "Demo shop", "The sandbox demo shop", OB_NONE, OA_HTML, ""},
    {"GET", "/demo/cart", "Demo shop", "The demo shop's cart", OB_NONE, OA_HTML, ""},
    {"POST", "/demo/cart/add", "Demo shop", "Add a product to the cart", OB_FORM, OA_REDIRECT,
     "product!:string"},
    {"POST", "/demo/cart/update", "Demo shop", "Change the cart's quantities", OB_FORM, OA_REDIRECT,
     ""},
    {"POST", "/demo/checkout", "Demo shop", "Pay the cart through Kassa", OB_FORM, OA_REDIRECT, ""},
    {"GET", "/demo/order/:id", "Demo shop", "A demo order and its payment", OB_NONE, OA_HTML, ""},
    {"POST", "/demo/webhook", "Demo shop", "The demo shop's own webhook endpoint", OB_JSON, OA_JSON,
     ""},
    /* ECommPay-compatible */
    {"GET", "/payment", "ECommPay", "Payment Page (signed query: project_id, payment_id, ...)",
     OB_NONE, OA_HTML,
     "project_id!:integer payment_id!:string payment_amount!:integer payment_currency!:string "
     "signature!:string force_payment_method:string language_code:string customer_id:string "
     "customer_email:string customer_country:string redirect_success_url:string "
     "redirect_fail_url:string"},
    {"POST", "/payment/choose", "ECommPay", "Payment Page: the chosen method", OB_FORM, OA_REDIRECT,
     ""},
    {"GET", "/payment/result", "ECommPay", "Payment Page result", OB_NONE, OA_HTML, ""},
    {"POST", "/v2/payment/online-banking/:method/sale", "ECommPay",
     "Gate: an online-banking sale (answer at once, then callbacks)", OB_JSON, OA_JSON, ECP_GATE},
    {"POST", "/v2/payment/online-banking/:method/refund", "ECommPay", "Gate: refund a sale",
     OB_JSON, OA_JSON, ECP_GATE},
    {"POST", "/v2/payment/refund", "ECommPay", "Gate: refund a sale", OB_JSON, OA_JSON, ECP_GATE},
    {"POST", "/v2/payment/status", "ECommPay", "Gate: a payment's status", OB_JSON, OA_JSON,
     "general!:object"},
    {"POST", "/operations/get", "ECommPay", "Data API: operations in an interval", OB_JSON, OA_JSON,
     "project_id!:integer signature!:string interval!:object type:string[] status:string[] "
     "limit:integer offset:integer"},
    {"GET", "/v1/kassa/ecommpay/settings", "Kassa extensions",
     "The merchant's ECommPay project id and callback URL", OB_NONE, OA_JSON, ""},
    {"POST", "/v1/kassa/ecommpay/settings", "Kassa extensions",
     "Set the merchant's ECommPay callback URL", OB_FORM, OA_JSON, "callback_url:string"},
    /* The server itself */
    {"GET", "/healthz", "Operations", "Liveness: answers while the server runs", OB_NONE, OA_JSON,
     ""},
    {"GET", "/metrics", "Operations", "Prometheus metrics (text format 0.0.4)", OB_NONE, OA_TEXT,
     ""},
    {"GET", "/openapi.json", "Operations", "This document", OB_NONE, OA_JSON, ""},
};

/* ---- building blocks ---- */

static const oa_doc *oa_find(const http_route *r)
{
    for (size_t i = 0; i < K_ARRAY_LEN(OA_DOCS); i++)
        if (strcmp(OA_DOCS[i].method, r->method) == 0 &&
            strcmp(OA_DOCS[i].pattern, r->pattern) == 0)
            return &OA_DOCS[i];
    return NULL;
}

/* "/v1/payment_intents/:id" -> "/v1/payment_intents/{id}" (a trailing * -> {rest}). */
static void oa_path(const char *pattern, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0' && o + 8 < cap;) {
        bool seg = p == pattern || p[-1] == '/';
        if (seg && *p == ':') {
            size_t n = strcspn(p + 1, "/");
            o += (size_t)snprintf(out + o, cap - o, "{%.*s}", (int)n, p + 1);
            p += 1 + n;
        } else if (seg && *p == '*') {
            o += (size_t)snprintf(out + o, cap - o, "{rest}");
            p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static json_t *oa_schema(const char *type)
{
    if (strcmp(type, "string[]") == 0 || strcmp(type, "object[]") == 0)
        return json_pack("{s:s,s:{s:s}}", "type", "array", "items", "type",
                         type[0] == 's' ? "string" : "object");
    if (strcmp(type, "string") == 0 || strcmp(type, "integer") == 0 ||
        strcmp(type, "boolean") == 0 || strcmp(type, "object") == 0)
        return json_pack("{s:s}", "type", type);
    json_t *values = json_array();
    for (const char *p = type; *p != '\0';) {
        size_t n = strcspn(p, "|");
        json_array_append_new(values, json_stringn(p, n));
        p += n + (p[n] == '|' ? 1 : 0);
    }
    return json_pack("{s:s,s:o}", "type", "string", "enum", values);
}

/* Calls fn for each "name[!]:type" token of spec. */
static void oa_each_param(const char *spec,
                          void (*fn)(const char *name, bool req, json_t *schema, void *ctx),
                          void *ctx)
{
    const char *p = spec;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        char tok[512];
        snprintf(tok, sizeof(tok), "%.*s", (int)(n < sizeof(tok) ? n : sizeof(tok) - 1), p);
        char *colon = strchr(tok, ':');
        K_ASSERT(colon != NULL); /* a row of OA_DOCS without a type */
        *colon = '\0';
        size_t len = strlen(tok);
        bool req = len > 0 && tok[len - 1] == '!';
        if (req)
            tok[len - 1] = '\0';
        fn(tok, req, oa_schema(colon + 1), ctx);
        p += n;
    }
}

static void oa_add_query(const char *name, bool req, json_t *schema, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "query",
                                         "required", req, "schema", schema));
}

static void oa_add_prop(const char *name, bool req, json_t *schema, void *ctx)
{
    json_t *obj = ctx;
    json_object_set_new(json_object_get(obj, "properties"), name, schema);
    if (req)
        json_array_append_new(json_object_get(obj, "required"), json_string(name));
}

static json_t *oa_parameters(const http_route *r, const oa_doc *d)
{
    json_t *params = json_array();
    for (const char *p = r->pattern; (p = strpbrk(p, ":*")) != NULL; p++) {
        if (p[-1] != '/')
            continue;
        size_t n = *p == '*' ? 0 : strcspn(p + 1, "/");
        json_t *name = n > 0 ? json_stringn(p + 1, n) : json_string("rest");
        json_array_append_new(params, json_pack("{s:o,s:s,s:b,s:{s:s}}", "name", name, "in", "path",
                                                "required", 1, "schema", "type", "string"));
    }
    if (d != NULL && d->body == OB_NONE && strcmp(r->method, "GET") == 0)
        oa_each_param(d->params, oa_add_query, params);
    return params;
}

static json_t *oa_request_body(const oa_doc *d)
{
    json_t *schema = json_pack("{s:s,s:o,s:o}", "type", "object", "properties", json_object(),
                               "required", json_array());
    oa_each_param(d->params, oa_add_prop, schema);
    if (json_array_size(json_object_get(schema, "required")) == 0)
        json_object_del(schema, "required");
    const char *ctype =
        d->body == OB_JSON ? "application/json" : "application/x-www-form-urlencoded";
    return json_pack("{s:b,s:{s:{s:o}}}", "required", d->params[0] != '\0', "content", ctype,
                     "schema", schema);
}

static json_t *oa_responses(const http_route *r, const oa_doc *d)
{
    static const char *const ctypes[] = {
        [OA_JSON] = "application/json",     [OA_HTML] = "text/html",     [OA_CSS] = "text/css",
        [OA_JS] = "application/javascript", [OA_REDIRECT] = "text/html", [OA_TEXT] = "text/plain"};
    oa_answer a = d != NULL ? d->answer : OA_JSON;
    json_t *res = json_object();
    if (a == OA_REDIRECT) {
        json_object_set_new(res, "200",
                            json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
                                      "The page again, saying what to correct", "content",
                                      "text/html", "schema", "type", "string"));
        json_object_set_new(res, "303",
                            json_pack("{s:s,s:{s:{s:s,s:{s:s}}}}", "description",
                                      "See Other: where the customer goes next", "headers",
                                      "Location", "description", "The next page", "schema", "type",
                                      "string"));
    } else {
        json_t *schema = a == OA_JSON ? json_pack("{s:s}", "type", "object")
                                      : json_pack("{s:s}", "type", "string");
        json_object_set_new(res, "200",
                            json_pack("{s:s,s:{s:{s:o}}}", "description", "OK", "content",
                                      ctypes[a], "schema", schema));
    }
    bool stripe = strncmp(r->pattern, "/v1/", 4) == 0 || strncmp(r->pattern, "/_test/", 7) == 0;
    json_object_set_new(res, "4XX",
                        stripe ? json_pack("{s:s}", "$ref", "#/components/responses/Error")
                               : json_pack("{s:s}", "description", "Refused: the answer says why"));
    return res;
}

static json_t *oa_operation(const http_route *r, const oa_doc *d, const char *op_id)
{
    json_t *op = json_object();
    json_object_set_new(op, "operationId", json_string(op_id));
    json_object_set_new(op, "summary", json_string(d != NULL ? d->summary : r->name));
    json_object_set_new(op, "tags", json_pack("[s]", d != NULL ? d->tag : "Undocumented"));
    json_t *params = oa_parameters(r, d);
    if (json_array_size(params) > 0)
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (d != NULL && d->body != OB_NONE)
        json_object_set_new(op, "requestBody", oa_request_body(d));
    json_object_set_new(op, "responses", oa_responses(r, d));
    if (r->auth == AUTH_SECRET_KEY)
        json_object_set_new(op, "security",
                            json_pack("[{s:[]},{s:[]}]", "basicAuth", "bearerAuth"));
    else if (r->auth == AUTH_STAFF)
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "staffSession"));
    else
        json_object_set_new(op, "security", json_array());
    if (d == NULL)
        json_object_set_new(op, "x-kassa-undocumented", json_true());
    return op;
}

static json_t *oa_components(void)
{
    json_t *error_props = json_object();
    static const char *const fields[] = {"type", "code", "message", "param", "doc_url"};
    for (size_t i = 0; i < K_ARRAY_LEN(fields); i++)
        json_object_set_new(error_props, fields[i], json_pack("{s:s}", "type", "string"));
    json_t *c = json_pack(
        "{s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}},"
        "s:{s:{s:s,s:{s:{s:{s:s}}}}},"
        "s:{s:{s:s,s:[s],s:{s:{s:s,s:o}}}}}",
        "securitySchemes", "basicAuth", "type", "http", "scheme", "basic", "description",
        "The secret key sk_... as the user name, no password", "bearerAuth", "type", "http",
        "scheme", "bearer", "description", "The secret key sk_... as a bearer token",
        "staffSession", "type", "apiKey", "in", "cookie", "name", "kassa_staff", "responses",
        "Error", "description", "Stripe's error object", "content", "application/json", "schema",
        "$ref", "#/components/schemas/Error", "schemas", "Error", "type", "object", "required",
        "error", "properties", "error", "type", "object", "properties", error_props);
    K_ASSERT(c != NULL); /* the format above matches its arguments */
    return c;
}

char *openapi_document(const http_route *routes, size_t n, const char *version, int *undocumented,
                       int *unused, FILE *err)
{
    K_ASSERT(routes != NULL || n == 0);
    K_ASSERT(undocumented != NULL && unused != NULL);
    *undocumented = 0;
    *unused = 0;
    json_t *paths = json_object();
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++) {
        const http_route *r = &routes[i];
        const oa_doc *d = oa_find(r);
        if (d == NULL) {
            (*undocumented)++;
            if (err != NULL)
                fprintf(err, "openapi: route %s %s has no row in OA_DOCS (src/cli/openapi.c)\n",
                        r->method, r->pattern);
        }
        char path[512], lower[16], op_id[160];
        oa_path(r->pattern, path, sizeof(path));
        snprintf(lower, sizeof(lower), "%s", r->method);
        for (char *p = lower; *p != '\0'; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        snprintf(op_id, sizeof(op_id), "%s", r->name);
        if (json_object_get(ids, op_id) != NULL)
            snprintf(op_id, sizeof(op_id), "%s_%s_%zu", r->name, lower, i);
        json_object_set_new(ids, op_id, json_true());
        json_t *item = json_object_get(paths, path);
        if (item == NULL) {
            item = json_object();
            json_object_set_new(paths, path, item);
        }
        if (json_object_get(item, lower) == NULL) /* the first route in table order wins */
            json_object_set_new(item, lower, oa_operation(r, d, op_id));
    }
    for (size_t k = 0; k < K_ARRAY_LEN(OA_DOCS); k++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = strcmp(OA_DOCS[k].method, routes[i].method) == 0 &&
                   strcmp(OA_DOCS[k].pattern, routes[i].pattern) == 0;
        if (!used) {
            (*unused)++;
            if (err != NULL)
                fprintf(err, "openapi: OA_DOCS row %s %s matches no route\n", OA_DOCS[k].method,
                        OA_DOCS[k].pattern);
        }
    }
    json_decref(ids);
    json_t *components = oa_components();
    bool staff = false;
    for (size_t i = 0; i < n; i++)
        staff |= routes[i].auth == AUTH_STAFF;
    if (!staff)
        json_object_del(json_object_get(components, "securitySchemes"), "staffSession");
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s,s:{s:s,s:s}},s:[{s:s,s:s}],s:o,s:o}", "openapi", "3.1.0", "info",
        "title", "Kassa", "version", version, "description",
        "Kassa's HTTP interface: the Stripe-compatible merchant API (/v1) with Kassa's "
        "extensions, the ECommPay-compatible Gate, Payment Page and Data API, the hosted "
        "pages, the sandbox demo shop and the operations endpoints. Generated by `kassa "
        "openapi` from the server's route table.",
        "license", "name", "UNLICENSED", "identifier", "LicenseRef-UNLICENSED", "servers", "url",
        "http://127.0.0.1:8080", "description", "kassa serve with its default listen address",
        "paths", paths, "components", components);
    K_ASSERT(doc != NULL); /* the format above matches its arguments */
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    K_ASSERT(text == NULL || strlen(text) < LIMIT_OPENAPI_MAX);
    return text;
}

/* ---- /openapi.json ---- */

static char *oa_served;

void openapi_serve_set(char *document)
{
    K_ASSERT(oa_served == NULL);
    oa_served = document;
}

static void oa_get(http_req *req, http_resp *resp, void *ctx)
{
    const char *d = oa_served != NULL ? oa_served : "{}";
    http_resp_set(resp, 200, "application/json", d, strlen(d));
}

static const http_route oa_routes[] = {
    {"GET", "/openapi.json", oa_get, AUTH_NONE, 0, "openapi", HTTP_INLINE},
};

size_t openapi_routes(const http_route **out)
{
    *out = oa_routes;
    return K_ARRAY_LEN(oa_routes);
}
