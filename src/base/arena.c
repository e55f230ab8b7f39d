/*
 * arena.c - region allocator for one request or one job (see arena.h).
 *
 * Memory comes in blocks of at least ARENA_BLOCK_SIZE bytes from calloc, so every
 * allocation is zeroed without extra work; an allocation larger than a quarter of
 * a block gets a block of its own (inserted behind the current one, so the space
 * left in the current block stays usable). Nothing is freed until arena_release.
 *
 * Each thread keeps up to ARENA_SPARE_MAX standard blocks that arena_release gave
 * back (zeroed again up to their high-water mark), so a request's arena costs no
 * malloc/free on a warm thread: freeing 16 KiB blocks per request made glibc
 * consolidate its free lists on every request (bench/RESULTS.md). The spares are
 * freed when their thread exits.
 */
#include "arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE (16 * 1024)
#define ARENA_ALIGN      16
#define ARENA_LARGE      (ARENA_BLOCK_SIZE / 4)
#define ARENA_SPARE_MAX  8 /* 128 KiB per thread at most */

struct arena_block {
    arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

_Static_assert(ARENA_BLOCK_SIZE % ARENA_ALIGN == 0, "block size keeps alignment");

void arena_init(arena *a, size_t max_total)
{
    K_ASSERT(a != NULL);
    a->head = NULL;
    a->defers = NULL;
    a->used_total = 0;
    a->max_total = max_total;
}

struct arena_defer_node {
    arena_defer_node *next;
    void (*fn)(void *);
    void *p;
};

k_status arena_defer(arena *a, void (*fn)(void *), void *p)
{
    K_ASSERT(a != NULL);
    K_ASSERT(fn != NULL);
    arena_defer_node *d = arena_alloc(a, sizeof(*d));
    if (d == NULL) {
        fn(p);
        return K_ENOMEM;
    }
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
    return K_OK;
}

/* ---- the thread's spare blocks ---- */

static _Thread_local arena_block *arena_spares;
static _Thread_local int arena_nspares;
static pthread_key_t arena_spare_key;
static pthread_once_t arena_spare_once = PTHREAD_ONCE_INIT;
static bool arena_spare_key_ok;
static _Thread_local bool arena_spare_registered; /* this thread's destructor is armed */

static void arena_spares_free(void *unused)
{
    (void)unused;
    while (arena_spares != NULL) {
        arena_block *b = arena_spares;
        arena_spares = b->next;
        free(b);
    }
    arena_nspares = 0;
    arena_spare_registered = false;
}

static void arena_spare_key_make(void)
{
    arena_spare_key_ok = pthread_key_create(&arena_spare_key, arena_spares_free) == 0;
}

/* Keeps a standard block for this thread's next arena; false when it should be freed. */
static bool arena_spare_put(arena_block *b)
{
    if (b->size != ARENA_BLOCK_SIZE || arena_nspares >= ARENA_SPARE_MAX)
        return false;
    if (!arena_spare_registered) {
        pthread_once(&arena_spare_once, arena_spare_key_make);
        /* the key's value only makes the destructor run at thread exit */
        if (!arena_spare_key_ok || pthread_setspecific(arena_spare_key, &arena_spares) != 0)
            return false;
        arena_spare_registered = true;
    }
    memset(b->data, 0, b->used); /* arena_alloc hands out zeroed memory */
    b->used = 0;
    b->next = arena_spares;
    arena_spares = b;
    arena_nspares++;
    return true;
}

static arena_block *arena_spare_take(void)
{
    arena_block *b = arena_spares;
    if (b == NULL)
        return NULL;
    arena_spares = b->next;
    arena_nspares--;
    b->next = NULL;
    K_ASSERT(b->used == 0 && b->size == ARENA_BLOCK_SIZE);
    return b;
}

void arena_release(arena *a)
{
    K_ASSERT(a != NULL);
    for (arena_defer_node *d = a->defers; d != NULL; d = d->next)
        d->fn(d->p);
    a->defers = NULL;
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        if (!arena_spare_put(b))
            free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

static arena_block *arena_block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(arena_block))
        return NULL;
    arena_block *b = calloc(1, sizeof(arena_block) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

/* A dedicated block for one large allocation, linked behind the head. */
static void *arena_alloc_large(arena *a, size_t n)
{
    arena_block *b = arena_block_new(n);
    if (b == NULL)
        return NULL;
    b->used = n;
    if (a->head == NULL) {
        a->head = b;
    } else {
        b->next = a->head->next;
        a->head->next = b;
    }
    return b->data;
}

void *arena_alloc(arena *a, size_t n)
{
    K_ASSERT(a != NULL);
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->max_total != 0 && (rounded > a->max_total || a->used_total > a->max_total - rounded))
        return NULL;

    void *p = NULL;
    if (rounded > ARENA_LARGE) {
        p = arena_alloc_large(a, rounded);
    } else {
        if (a->head == NULL || a->head->size - a->head->used < rounded) {
            arena_block *b = arena_spare_take();
            if (b == NULL)
                b = arena_block_new(ARENA_BLOCK_SIZE);
            if (b == NULL)
                return NULL;
            b->next = a->head;
            a->head = b;
        }
        p = a->head->data + a->head->used;
        a->head->used += rounded;
    }
    if (p == NULL)
        return NULL;
    a->used_total += rounded;
    K_ASSERT(((uintptr_t)p & (ARENA_ALIGN - 1)) == 0);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    if (n == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    K_ASSERT(fmt != NULL);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    int m = vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    K_ASSERT(m == n);
    return p;
}
