/*
 * openapi.h - the OpenAPI 3.1 document of everything Kassa serves (openapi.c):
 * generated from the route table the server is started with, plus a table of
 * what each operation takes (its parameters, body kind, answer kind). Served at
 * /openapi.json, printed by `kassa openapi`, committed as docs/openapi.json.
 */
#ifndef KASSA_CLI_OPENAPI_H
#define KASSA_CLI_OPENAPI_H

#include <stdio.h>

#include "../server/http.h"

/* The document for these routes, as indented JSON text (malloc'd, caller
 * frees). *undocumented receives the number of routes the parameter table does
 * not describe and *unused the number of table rows no route has; both are
 * printed to err when not NULL. */
char *openapi_document(const http_route *routes, size_t n, const char *version, int *undocumented,
                       int *unused, FILE *err);

/* The /openapi.json route (one row); openapi_serve_set() gives it the
 * document to answer with (kept for the life of the process). */
size_t openapi_routes(const http_route **out);
void openapi_serve_set(char *document);

#endif
