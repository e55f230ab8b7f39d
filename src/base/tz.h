/*
 * tz.h - IANA time zones read from the system's tz database (TZif files under
 * /usr/share/zoneinfo, or $TZDIR), without touching the process's TZ.
 *
 * Why not localtime_r: it answers for the process's one TZ; switching TZ per
 * request (setenv + tzset) races every other thread. Here each zone is parsed
 * once into an immutable table (transitions + the footer's POSIX rule for
 * times past the table) and cached for the life of the process, so lookups
 * from any thread need no lock. Reports, schedules and analytics use it to
 * print offsets and to find local midnights across daylight-saving changes.
 */
#ifndef KASSA_TZ_H
#define KASSA_TZ_H

#include "common.h"

typedef struct tz tz;

/* Loads (or finds in the cache) a zone by IANA name: "Europe/Berlin", "UTC".
 * K_EINVAL for a malformed name (absolute, "..", odd characters), K_ENOTFOUND
 * when the database has no such zone or the file is not TZif. The zone lives
 * until exit; never free it. */
k_status tz_load(const char *name, const tz **out);
const char *tz_name(const tz *z);

/* Seconds east of UTC in force at utc_s. */
int32_t tz_offset(const tz *z, int64_t utc_s);
/* The instant a local wall-clock time names. Ambiguous (clocks went back):
 * the earlier instant. Skipped (clocks went forward): read with the offset in
 * force before the gap, so 02:30 on a spring-forward night is 03:30 after it. */
int64_t tz_to_utc(const tz *z, int64_t local_s);

/* Proleptic Gregorian calendar helpers (days since 1970-01-01). */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday */
int tz_weekday(int64_t days);

/* ISO 8601 with the zone's offset: "2026-03-29T03:00:00+02:00"; with_ms adds
 * ".123". out needs TZ_ISO_MAX bytes. */
#define TZ_ISO_MAX 40
void tz_format_iso(const tz *z, int64_t utc_ms, bool with_ms, char out[TZ_ISO_MAX]);
/* Local calendar fields at utc_s. */
typedef struct {
    int64_t year;
    int month, day, hour, minute, second;
    int32_t offset_s;
} tz_fields;
void tz_local(const tz *z, int64_t utc_s, tz_fields *out);

#endif
