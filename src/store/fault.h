/*
 * fault.h - fault injection for tests (curl's torture tests, SQLite's
 * faultsim): a store can be told to fail its Nth operation inside a write, so
 * a test can show that every use case leaves nothing half-written whichever
 * step fails. Not used by the server; tests/unit/test_gateway.c drives it.
 */
#ifndef KASSA_STORE_FAULT_H
#define KASSA_STORE_FAULT_H

#include "store.h"

/* Puts the counting wrapper between s and its backend (before use; one
 * faulted store open at a time, the last installed). Every store_* call made inside a write counts
 * as one operation, and so does the end of each write closure (its commit). */
void store_fault_install(store *s);
/* Arms the wrapper: the nth operation from now fails with K_EIO, once
 * (n = 0 disarms). Resets the count. */
void store_fault_set(int64_t n);
/* What the armed operation fails with: K_EIO (the default) or K_ENOSPC (a
 * full disk). */
void store_fault_set_status(k_status why);
/* Operations counted since the last store_fault_set; whether the fault fired. */
int64_t store_fault_count(void);
bool store_fault_fired(void);
/* The writes run since the last store_fault_set: for each (at most cap, and at
 * most STORE_FAULT_WRITES_MAX are kept), the number of its first operation. */
#define STORE_FAULT_WRITES_MAX 16 /* a use case makes two or three writes */
size_t store_fault_writes(int64_t *first_op, size_t cap);

#endif
