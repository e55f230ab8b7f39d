/*
 * webhook.c - how a Stripe-dialect webhook delivery looks on the wire: the
 * event rendered as Stripe's Event object, POSTed as JSON with
 *   Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * exactly as the official client's constructEvent verifies it (the secret is
 * used as given, "whsec_" included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stripe_int.h"
#include "../../base/crypto.h"

k_status stripe_format_delivery(const gw_event *ev, const gw_endpoint *ep, int64_t now_s, arena *a,
                                gw_delivery_req *out)
{
    buf b;
    buf_init(&b, LIMIT_RESPONSE_MAX);
    jsonw w;
    jw_init(&w, &b);
    stripe_write_event(&w, NULL, ev, a);
    out->body = jw_status(&w) == K_OK ? arena_strndup(a, b.data, b.len) : NULL;
    out->body_len = b.len;
    buf_free(&b);
    if (out->body == NULL)
        return K_ENOMEM;
    char *signed_msg = arena_printf(a, "%lld.%s", (long long)now_s, out->body);
    if (signed_msg == NULL)
        return K_ENOMEM;
    char hex[SHA256_HEX_LEN];
    crypto_hmac_sha256_hex(ep->secret, strlen(ep->secret), signed_msg, strlen(signed_msg), hex);
    out->url = ep->url;
    out->headers[0] = "Content-Type: application/json; charset=utf-8";
    /* During a secret's roll overlap both signatures go, the new one first (as Stripe does). */
    char old_hex[SHA256_HEX_LEN] = "";
    if (ep->old_secret != NULL && now_s < ep->old_secret_until)
        crypto_hmac_sha256_hex(ep->old_secret, strlen(ep->old_secret), signed_msg,
                               strlen(signed_msg), old_hex);
    out->headers[1] = arena_printf(a, "Stripe-Signature: t=%lld,v1=%s%s%s", (long long)now_s, hex,
                                   old_hex[0] != '\0' ? ",v1=" : "", old_hex);
    out->headers[2] = "User-Agent: Kassa/1.0 (+webhooks)";
    out->headers[3] = NULL;
    return out->headers[1] != NULL ? K_OK : K_ENOMEM;
}
