/*
 * qr.h - the hosted Alipay+ page: GET /pay/qr/:attempt shows the payment's
 * QR code (libqrencode, inline SVG) with the amount and a countdown on a
 * computer, the wallets for the order currency on a phone; it polls
 * GET /pay/qr/:attempt/status and moves on to /pay/return/:attempt (and so to
 * the shop) by itself once the payment is decided. The route table is
 * qr_routes() (declared in api.h); the Antom notifications use the generic
 * POST /providers/:provider/notify/:attempt of checkout.c.
 */
#ifndef KASSA_CHECKOUT_QR_H
#define KASSA_CHECKOUT_QR_H

#include "../../base/buf.h"

/* Writes text as a QR code in SVG (error correction M, 4-module quiet zone)
 * into out. K_EINVAL when the text cannot be encoded, K_ETOOBIG past out's max. */
k_status qr_svg(const char *text, buf *out);

#endif
