/*
 * favicon.c - the icon's bytes (see favicon.h): a rounded square in Kassa's
 * accent colour with a white "K".
 */
#include "favicon.h"

static const char svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">"
    "<rect width=\"32\" height=\"32\" rx=\"7\" fill=\"#3730a3\"/>"
    "<path d=\"M10 7h4v7.2L20.4 7h4.8l-7 7.6L25.6 25h-4.9l-5.3-7.6-1.4 1.5V25h-4z\" "
    "fill=\"#fff\"/></svg>\n";

const char *favicon_svg(size_t *len)
{
    if (len != NULL)
        *len = sizeof svg - 1;
    return svg;
}
