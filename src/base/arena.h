/*
 * arena.h - one arena per request and per job, freed in one call (nginx r->pool).
 *
 * Allocations are never freed one by one. The arena takes a byte maximum at init;
 * past it, allocation returns NULL and the caller answers "too big" cleanly.
 */
#ifndef KASSA_ARENA_H
#define KASSA_ARENA_H

#include "common.h"

typedef struct arena_block arena_block;
typedef struct arena_defer_node arena_defer_node;
typedef struct {
    arena_block *head;
    arena_defer_node *defers; /* run (newest first) by arena_release */
    size_t used_total;        /* bytes handed out, for the maximum */
    size_t max_total;         /* 0 = no maximum */
} arena;

void arena_init(arena *a, size_t max_total);
void arena_release(arena *a);                /* frees every block; arena reusable */
void *arena_alloc(arena *a, size_t n);       /* 16-byte aligned, zeroed; NULL past max */
char *arena_strdup(arena *a, const char *s); /* NULL in -> NULL out */
char *arena_strndup(arena *a, const char *s, size_t n);
/* Runs fn(p) when the arena is released (e.g. json_decref of a tree whose
 * strings records point into). K_ENOMEM when the node cannot be allocated
 * (fn is then run at once, so nothing leaks). */
k_status arena_defer(arena *a, void (*fn)(void *), void *p);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
