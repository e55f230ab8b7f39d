/*
 * web.h - what the page handlers (hosted pages, demo shop) share on top of
 * server/http.h: security headers for HTML answers (CSP default-src 'self',
 * no referrer, no caching, no framing), form and query decoding into trees the
 * request arena releases, and the page language of a request.
 */
#ifndef KASSA_CHECKOUT_WEB_H
#define KASSA_CHECKOUT_WEB_H

#include <jansson.h>
#include "../../server/http.h"
#include "pages.h"

/* Starts an HTML answer: status, content type, security headers; returns a
 * pages_out writing into resp->body. */
pages_out web_html(http_req *req, http_resp *resp, int status);
/* Finishes an HTML answer: a page past a limit becomes a plain 500. */
void web_finish(http_resp *resp, const pages_out *o);

/* The query string / form body as a tree (released with the request arena);
 * an empty object when absent or malformed (pages never fail on junk). */
json_t *web_query(http_req *req);
json_t *web_form(http_req *req);
/* String value of key in a decoded tree; NULL when absent or not a string. */
const char *web_str(json_t *o, const char *key);

/* The request's language: ?locale= or form "locale" first, then `preferred`
 * (the session's locale, may be NULL), then Accept-Language, else English.
 * region (3 bytes, may be NULL) gets the winning tag's region. */
i18n_lang web_lang(http_req *req, json_t *params, const char *preferred, char *region);

/* A gateway refusal on a page (refusal.c, one table): the HTTP status, and
 * the sentence for the customer with the form field at fault (NULL = none). */
int web_refusal_status(const gw_err *e);
i18n_key web_refusal_reason(const gw_err *e, const char **field);

/* "WAP" for phones (User-Agent says Mobile/Android/iPhone), else "WEB". */
const char *web_terminal(http_req *req);

#endif
