/*
 * sim_index.c - the simulators' hash index (see sim_index.h).
 */
#include "sim_index.h"

#include <stdlib.h>
#include <string.h>

#define IX_EMPTY 0u
#define IX_DEAD  1u

/* FNV-1a over k1, a separator and k2, kept off the two reserved values. */
static uint64_t ix_hash(const char *k1, const char *k2)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = k1; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0x1fu) * 1099511628211ull;
    for (const char *p = k2 ? k2 : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h > IX_DEAD ? h : h + 2;
}

k_status sim_index_init(sim_index *ix, size_t objects)
{
    K_ASSERT(ix != NULL);
    K_ASSERT(objects > 0 && objects <= UINT32_MAX / 4);
    memset(ix, 0, sizeof(*ix));
    size_t cap = 16;
    while (cap < objects * 2)
        cap *= 2;
    ix->hash = calloc(cap, sizeof(*ix->hash));
    ix->slot = calloc(cap, sizeof(*ix->slot));
    ix->spare_hash = calloc(cap / 2, sizeof(*ix->spare_hash));
    ix->spare_slot = calloc(cap / 2, sizeof(*ix->spare_slot));
    if (ix->hash == NULL || ix->slot == NULL || ix->spare_hash == NULL || ix->spare_slot == NULL) {
        sim_index_free(ix);
        return K_ENOMEM;
    }
    ix->cap = cap;
    return K_OK;
}

void sim_index_free(sim_index *ix)
{
    free(ix->hash);
    free(ix->slot);
    free(ix->spare_hash);
    free(ix->spare_slot);
    memset(ix, 0, sizeof(*ix));
}

void sim_index_clear(sim_index *ix)
{
    memset(ix->hash, 0, ix->cap * sizeof(*ix->hash));
    ix->used = ix->dead = 0;
}

static void ix_insert(sim_index *ix, uint64_t h, uint32_t slot)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (ix->hash[i] == IX_EMPTY || ix->hash[i] == IX_DEAD) {
            if (ix->hash[i] == IX_DEAD)
                ix->dead--;
            ix->hash[i] = h;
            ix->slot[i] = slot;
            ix->used++;
            return;
        }
    }
}

/* Drops the tombstones: the live (hash, slot) pairs are copied aside, the
 * table emptied and the pairs inserted again. */
static void ix_rebuild(sim_index *ix)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->hash[i] > IX_DEAD) {
            K_ASSERT(n < ix->cap / 2);
            ix->spare_hash[n] = ix->hash[i];
            ix->spare_slot[n] = ix->slot[i];
            n++;
        }
    K_ASSERT(n == ix->used);
    memset(ix->hash, 0, ix->cap * sizeof(*ix->hash));
    ix->used = ix->dead = 0;
    for (size_t i = 0; i < n; i++)
        ix_insert(ix, ix->spare_hash[i], ix->spare_slot[i]);
}

void sim_index_put(sim_index *ix, const char *k1, const char *k2, uint32_t slot)
{
    K_ASSERT(k1 != NULL);
    K_ASSERT(ix->used < ix->cap / 2); /* at most one live key per table slot */
    if (ix->used + ix->dead + 1 > ix->cap - ix->cap / 4)
        ix_rebuild(ix);
    ix_insert(ix, ix_hash(k1, k2), slot);
}

void sim_index_del(sim_index *ix, const char *k1, const char *k2, uint32_t slot)
{
    if (k1 == NULL || k1[0] == '\0')
        return;
    uint64_t h = ix_hash(k1, k2);
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask; ix->hash[i] != IX_EMPTY; i = (i + 1) & mask) {
        if (ix->hash[i] == h && ix->slot[i] == slot) {
            ix->hash[i] = IX_DEAD;
            ix->used--;
            ix->dead++;
            return;
        }
    }
}

int64_t sim_index_get(const sim_index *ix, const char *k1, const char *k2, sim_index_match match,
                      const void *ctx)
{
    if (k1 == NULL || k1[0] == '\0')
        return -1;
    uint64_t h = ix_hash(k1, k2);
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask; ix->hash[i] != IX_EMPTY; i = (i + 1) & mask)
        if (ix->hash[i] == h && match(ctx, ix->slot[i], k1, k2))
            return ix->slot[i];
    return -1;
}
