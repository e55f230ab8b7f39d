/*
 * crashpoint.h - named points where a test can make Kassa die as kill -9
 * would, to prove that every step of a payment's life survives a crash
 * (tests/e2e/crash_points.test.js). Armed only when the test clock is on and
 * KASSA_CRASH_AT_FILE names a file holding "NAME N": the Nth time the point
 * NAME is passed, the file is removed (so the restarted process runs on) and
 * the process sends itself SIGKILL. Unarmed, a point costs one load.
 */
#ifndef KASSA_CRASHPOINT_H
#define KASSA_CRASHPOINT_H

#include <stdbool.h>

/* Reads KASSA_CRASH_AT_FILE once; true when a point was armed. */
bool crash_points_arm(void);
void crash_point(const char *name);

#endif
