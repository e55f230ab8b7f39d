/*
 * test_tz.c - the TZif reader against glibc's own reading of the same files
 * (every 6 hours from 1970 to 2100 in zones with odd rules), the
 * daylight-saving nights of Europe/Berlin both ways, local-to-UTC through gaps
 * and overlaps, names that must be refused, and ISO 8601 output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/tz.h"

static const tz *zone(const char *name)
{
    const tz *z = NULL;
    assert_int_equal(tz_load(name, &z), K_OK);
    assert_non_null(z);
    return z;
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void test_berlin_dst(void **state)
{
    const tz *b = zone("Europe/Berlin");
    /* spring forward 2026-03-29 at 01:00 UTC, fall back 2026-10-25 at 01:00 UTC */
    assert_int_equal(tz_offset(b, utc(2026, 3, 29, 0, 59)), 3600);
    assert_int_equal(tz_offset(b, utc(2026, 3, 29, 1, 0)), 7200);
    assert_int_equal(tz_offset(b, utc(2026, 10, 25, 0, 59)), 7200);
    assert_int_equal(tz_offset(b, utc(2026, 10, 25, 1, 0)), 3600);
    /* beyond the table: the footer rule CET-1CEST,M3.5.0,M10.5.0/3 */
    assert_int_equal(tz_offset(b, utc(2090, 7, 1, 12, 0)), 7200);
    assert_int_equal(tz_offset(b, utc(2090, 12, 1, 12, 0)), 3600);
    /* the gap: 02:30 local does not exist, read as 03:30 CEST = 01:30 UTC */
    assert_int_equal(tz_to_utc(b, utc(2026, 3, 29, 2, 30)), utc(2026, 3, 29, 1, 30));
    /* the overlap: 02:30 local happens twice, the first is 00:30 UTC */
    assert_int_equal(tz_to_utc(b, utc(2026, 10, 25, 2, 30)), utc(2026, 10, 25, 0, 30));
    /* local midnights around the change: the day of 23 hours */
    int64_t d0 = tz_to_utc(b, utc(2026, 3, 29, 0, 0)), d1 = tz_to_utc(b, utc(2026, 3, 30, 0, 0));
    assert_int_equal(d1 - d0, 23 * 3600);
    int64_t o0 = tz_to_utc(b, utc(2026, 10, 25, 0, 0)), o1 = tz_to_utc(b, utc(2026, 10, 26, 0, 0));
    assert_int_equal(o1 - o0, 25 * 3600);
    (void)state;
}

static void test_iso(void **state)
{
    char s[TZ_ISO_MAX];
    tz_format_iso(zone("Europe/Berlin"), utc(2026, 3, 29, 1, 0) * 1000, false, s);
    assert_string_equal(s, "2026-03-29T03:00:00+02:00");
    tz_format_iso(zone("Europe/Berlin"), utc(2026, 3, 29, 0, 59) * 1000 + 5, true, s);
    assert_string_equal(s, "2026-03-29T01:59:00.005+01:00");
    tz_format_iso(zone("America/New_York"), utc(2026, 1, 1, 3, 0) * 1000, false, s);
    assert_string_equal(s, "2025-12-31T22:00:00-05:00");
    tz_format_iso(zone("Asia/Kathmandu"), 0, false, s);
    assert_string_equal(s, "1970-01-01T05:30:00+05:30");
    tz_format_iso(zone("UTC"), -1, true, s);
    assert_string_equal(s, "1969-12-31T23:59:59.999+00:00");
    (void)state;
}

/* Every 6 hours over 130 years, our offset equals glibc's tm_gmtoff. */
static void test_against_glibc(void **state)
{
    static const char *zones[] = {"Europe/Berlin",    "America/New_York", "Australia/Sydney",
                                  "Asia/Kathmandu",   "Pacific/Chatham",  "America/Sao_Paulo",
                                  "Europe/Stockholm", "Europe/London",    "Asia/Tokyo",
                                  "America/Santiago", "Pacific/Apia",     "Europe/Dublin"};
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++) {
        const tz *z = zone(zones[i]);
        setenv("TZ", zones[i], 1);
        tzset();
        for (int64_t t = utc(1970, 1, 1, 0, 0); t < utc(2100, 1, 1, 0, 0); t += 6 * 3600) {
            time_t tt = (time_t)t;
            struct tm tm;
            assert_non_null(localtime_r(&tt, &tm));
            if (tz_offset(z, t) != tm.tm_gmtoff)
                fail_msg("%s at %lld: ours %d, glibc %ld", zones[i], (long long)t, tz_offset(z, t),
                         tm.tm_gmtoff);
        }
    }
    unsetenv("TZ");
    (void)state;
}

static void test_names(void **state)
{
    const tz *z = NULL;
    assert_int_equal(tz_load("../../etc/passwd", &z), K_EINVAL);
    assert_int_equal(tz_load("/etc/localtime", &z), K_EINVAL);
    assert_int_equal(tz_load("Europe/Berlin;rm", &z), K_EINVAL);
    assert_int_equal(tz_load("", &z), K_EINVAL);
    assert_int_equal(tz_load("Mars/Olympus_Mons", &z), K_ENOTFOUND);
    assert_int_equal(tz_load("Europe", &z), K_ENOTFOUND);           /* a directory */
    assert_ptr_equal(zone("Europe/Berlin"), zone("Europe/Berlin")); /* cached once */
    assert_string_equal(tz_name(zone("Europe/Berlin")), "Europe/Berlin");
    assert_int_equal(tz_offset(zone("UTC"), 123456789), 0);
    (void)state;
}

static void test_calendar(void **state)
{
    for (int64_t d = -800000; d < 800000; d += 37) {
        int64_t y;
        int m, dd;
        tz_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(tz_days_from_civil(y, m, dd), d);
    }
    assert_int_equal(tz_weekday(0), 3);                               /* Thursday */
    assert_int_equal(tz_weekday(tz_days_from_civil(2026, 3, 29)), 6); /* Sunday */
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_berlin_dst),    cmocka_unit_test(test_iso),
        cmocka_unit_test(test_against_glibc), cmocka_unit_test(test_names),
        cmocka_unit_test(test_calendar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
