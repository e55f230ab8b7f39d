/*
 * api.h - what every api/ module shares: the context handlers receive, and
 * each module's route table. main composes the tables into one server.
 */
#ifndef KASSA_API_H
#define KASSA_API_H

#include "../gateway/gateway.h"
#include "../server/http.h"

typedef struct {
    gw *g;
    const char *public_url;         /* "http://127.0.0.1:8080" */
    const char *sim_url;            /* simulators' base URL or NULL */
    bool sandbox;                   /* demo shop and sandbox helpers on */
    const char *sandbox_secret_key; /* the demo shop's key (sandbox only), NULL otherwise */
    bool test_clock;                /* /_test/clock/advance on */
    struct rep_service *reports;    /* report runs, files, schedules (gateway/reports.h) */
} api_ctx;

/* Each returns its routes (static storage) and their count. */
size_t stripe_routes(const http_route **out);
size_t checkout_routes(const http_route **out);
/* checkout/qr.c: the Alipay+ QR code and wallet page */
size_t qr_routes(const http_route **out);
size_t demo_routes(const http_route **out);
size_t ecommpay_routes(const http_route **out);
/* stripe/reporting.c: report runs and types, files, schedules, analytics */
size_t reporting_routes(const http_route **out);
size_t backoffice_routes(const http_route **out); /* backoffice/: the staff's /dashboard */

/* Stripe dialect hooks main installs in the server and gateway. */
const char *stripe_auth(http_req *req, http_resp *resp, http_auth kind, void *ctx);
void stripe_error_page(http_req *req, http_resp *resp, int status, const char *code,
                       const char *message, void *ctx);
/* The request log's hook (gateway/reqlog.h): http_config.on_done. */
void stripe_request_done(const http_req *req, const http_resp *resp, int status, int64_t dur_us,
                         void *ctx);
void stripe_install(gw *g);   /* registers the webhook formatter */
void ecommpay_install(gw *g); /* registers the ECommPay callback formatter */
/* The demo shop registers its own webhook endpoint once the server listens. */
k_status demo_start(api_ctx *ctx);

#endif
