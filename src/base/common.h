/*
 * common.h - the few things every Kassa module shares: the status enum,
 * assertions that stay on in release builds, and counted strings.
 *
 * Operating errors are returned as negative k_status values; programmer errors
 * (broken invariants) crash through K_ASSERT with file and line.
 */
#ifndef KASSA_COMMON_H
#define KASSA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum {
    K_OK = 0,
    K_ERR = -1,       /* generic failure, already logged */
    K_ENOMEM = -2,    /* allocation failed */
    K_ETOOBIG = -3,   /* a limit from limits.h was exceeded */
    K_EINVAL = -4,    /* malformed input */
    K_ENOTFOUND = -5, /* no such object */
    K_ECONFLICT = -6, /* state or uniqueness conflict */
    K_EIO = -7,       /* storage or network I/O failed */
    K_ETIMEOUT = -8,  /* deadline passed */
    K_EBUSY = -9,     /* queue full, try later (503) */
    K_ENOSPC = -10,   /* storage full: nothing written, try later (503) */
} k_status;

const char *k_status_str(k_status st);

/* Assertions stay on in release builds (Redis serverAssert). One fact each. */
void k_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define K_ASSERT(e) ((e) ? (void)0 : k_assert_fail(#e, __FILE__, __LINE__))

/* Counted string: a view into bytes owned by someone else, not NUL-terminated. */
typedef struct {
    const char *ptr;
    size_t len;
} k_str;

#define K_STR(lit) ((k_str){(lit), sizeof(lit) - 1})
k_str k_str_c(const char *s); /* view of a NUL-terminated string (NULL -> empty) */
bool k_str_eq(k_str a, k_str b);
bool k_str_eq_c(k_str a, const char *b);

#define K_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
