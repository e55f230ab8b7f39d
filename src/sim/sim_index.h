/*
 * sim_index.h - a hash index from string keys to slots of a simulator's
 * bounded table, so a lookup costs the same with 32k stored objects as with
 * ten (the tables are rings whose oldest entry is overwritten when full).
 *
 * Open addressing with linear probing over (hash, slot) pairs; the keys stay
 * in the objects themselves, so a lookup confirms a candidate through the
 * caller's match function and the index never copies a string. Deleting
 * leaves a tombstone; when tombstones fill a quarter of the table it is
 * rebuilt in place from the stored hashes. Not thread-safe: the simulator's
 * own mutex guards it with the table it indexes.
 */
#ifndef KASSA_SIM_INDEX_H
#define KASSA_SIM_INDEX_H

#include "../base/common.h"

typedef struct {
    uint64_t *hash;       /* 0: empty, 1: tombstone, else the key's hash (never 0 or 1) */
    uint32_t *slot;       /* the table slot of each entry */
    size_t cap;           /* a power of two, at least twice the table's size */
    size_t used;          /* live entries */
    size_t dead;          /* tombstones */
    uint64_t *spare_hash; /* rebuild scratch: the live pairs, at most cap / 2 */
    uint32_t *spare_slot;
} sim_index;

/* Does the object in `slot` have the key (k1, k2)? k2 may be NULL. */
typedef bool (*sim_index_match)(const void *ctx, uint32_t slot, const char *k1, const char *k2);

/* For a table of `objects` slots. K_ENOMEM when the arrays cannot be made. */
k_status sim_index_init(sim_index *ix, size_t objects);
void sim_index_free(sim_index *ix);
void sim_index_clear(sim_index *ix);

/* Adds (k1, k2) -> slot. A table never holds more live keys than slots per
 * kind of key, so the index cannot fill up (asserted). */
void sim_index_put(sim_index *ix, const char *k1, const char *k2, uint32_t slot);
/* Removes the entry (k1, k2) -> slot, if present (the slot is being reused). */
void sim_index_del(sim_index *ix, const char *k1, const char *k2, uint32_t slot);
/* The slot whose object matches (k1, k2), or -1. */
int64_t sim_index_get(const sim_index *ix, const char *k1, const char *k2, sim_index_match match,
                      const void *ctx);

#endif
