/*
 * favicon.h - the one small icon both listeners (Kassa and the simulators)
 * answer /favicon.ico with, so a browser's automatic request is not a 404 (the
 * only console error on every page otherwise). An SVG: Chromium and Firefox
 * read /favicon.ico by its Content-Type, image/svg+xml.
 */
#ifndef KASSA_FAVICON_H
#define KASSA_FAVICON_H

#include <stddef.h>

#define FAVICON_CONTENT_TYPE "image/svg+xml"

/* The icon's bytes (static storage) and their length. */
const char *favicon_svg(size_t *len);

#endif
