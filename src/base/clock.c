/*
 * clock.c - Kassa's single clock (see clock.h): CLOCK_REALTIME plus a test offset
 * that only moves forward, and CLOCK_MONOTONIC for durations.
 *
 * Both readings are clamped to the last value handed out (a lock-free compare and
 * swap), so callers never see time go backwards even if the system clock steps.
 */
#include "clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int64_t clock_offset;
static _Atomic int64_t clock_last_now;
static _Atomic int64_t clock_last_mono;
/* Test seam (clock_fake_start): 0 = the real clocks. Set only by the
 * deterministic simulation (tests/unit/test_simulation.c), before any thread. */
static _Atomic int64_t clock_fake_base;

static int64_t clock_read_ms(clockid_t id)
{
    int64_t fake = atomic_load(&clock_fake_base);
    if (fake != 0)
        return id == CLOCK_MONOTONIC ? fake + atomic_load(&clock_offset) : fake;
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    K_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns max(v, last) and records it, atomically. */
static int64_t clock_clamp(_Atomic int64_t *last, int64_t v)
{
    int64_t prev = atomic_load(last);
    while (v > prev) {
        if (atomic_compare_exchange_weak(last, &prev, v))
            return v;
    }
    return prev;
}

int64_t clock_now_ms(void)
{
    int64_t v = clock_read_ms(CLOCK_REALTIME) + atomic_load(&clock_offset);
    return clock_clamp(&clock_last_now, v);
}

int64_t clock_now_s(void)
{
    return clock_now_ms() / 1000;
}

int64_t clock_mono_ms(void)
{
    return clock_clamp(&clock_last_mono, clock_read_ms(CLOCK_MONOTONIC));
}

void clock_advance_ms(int64_t ms)
{
    K_ASSERT(ms >= 0);
    atomic_fetch_add(&clock_offset, ms);
}

int64_t clock_wall_ms(void)
{
    return clock_read_ms(CLOCK_REALTIME) +
           (atomic_load(&clock_fake_base) != 0 ? atomic_load(&clock_offset) : 0);
}

void clock_fake_start(int64_t unix_ms)
{
    K_ASSERT(unix_ms > 0);
    atomic_store(&clock_fake_base, unix_ms);
    atomic_store(&clock_offset, 0);
    atomic_store(&clock_last_now, 0);
    atomic_store(&clock_last_mono, 0);
}

int64_t clock_offset_ms(void)
{
    return atomic_load(&clock_offset);
}

void clock_fmt_iso(int64_t unix_s, char out[32])
{
    K_ASSERT(out != NULL);
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%S+0000", &tm) == 0) {
        snprintf(out, 32, "1970-01-01T00:00:00+0000");
    }
}
