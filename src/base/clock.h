/*
 * clock.h - the one clock Kassa reads. Real time plus an offset that a sandbox
 * may move forward (POST /_test/clock/advance when test_clock is on), so tests
 * jump 48 hours or 28 days without sleeping. Thread-safe; never goes backwards.
 */
#ifndef KASSA_CLOCK_H
#define KASSA_CLOCK_H

#include "common.h"

int64_t clock_now_ms(void);        /* unix milliseconds, offset applied */
int64_t clock_now_s(void);         /* unix seconds, offset applied */
int64_t clock_mono_ms(void);       /* monotonic, for timeouts and latencies (no offset) */
void clock_advance_ms(int64_t ms); /* ms >= 0 */
/* The system's wall clock without the test offset (ids order rows by when
 * they were written); under clock_fake_start, the fake clock. */
int64_t clock_wall_ms(void);
int64_t clock_offset_ms(void);
/* Tests only (the deterministic simulation): from now on the clock stands
 * still at unix_ms and moves only by clock_advance_ms, the monotonic clock
 * with it. Never called by the server. */
void clock_fake_start(int64_t unix_ms);
/* ISO-8601 UTC "2025-01-02T10:00:05+0000" (ECommPay style) into out[32]. */
void clock_fmt_iso(int64_t unix_s, char out[32]);

#endif
