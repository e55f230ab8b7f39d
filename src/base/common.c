/*
 * common.c - status names, the assertion failure path, and counted-string helpers
 * shared by every module (see common.h).
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *k_status_str(k_status st)
{
    switch (st) {
    case K_OK:
        return "ok";
    case K_ERR:
        return "error";
    case K_ENOMEM:
        return "out of memory";
    case K_ETOOBIG:
        return "too big";
    case K_EINVAL:
        return "invalid";
    case K_ENOTFOUND:
        return "not found";
    case K_ECONFLICT:
        return "conflict";
    case K_EIO:
        return "i/o error";
    case K_ETIMEOUT:
        return "timeout";
    case K_EBUSY:
        return "busy";
    case K_ENOSPC:
        return "storage full";
    }
    return "unknown status";
}

void k_assert_fail(const char *expr, const char *file, int line)
{
    /* No allocation, no logging machinery: the process state is already suspect. */
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"assertion failed: %s at %s:%d\"}\n", expr, file,
            line);
    fflush(stderr);
    abort();
}

k_str k_str_c(const char *s)
{
    if (s == NULL)
        return (k_str){"", 0};
    return (k_str){s, strlen(s)};
}

bool k_str_eq(k_str a, k_str b)
{
    if (a.len != b.len)
        return false;
    if (a.len == 0)
        return true;
    return memcmp(a.ptr, b.ptr, a.len) == 0;
}

bool k_str_eq_c(k_str a, const char *b)
{
    return k_str_eq(a, k_str_c(b));
}
