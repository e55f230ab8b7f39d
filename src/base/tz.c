/*
 * tz.c - TZif reader (RFC 8536) and the POSIX TZ rule of its footer.
 *
 * A zone is read once: the version 2+ block (64-bit transition times) when
 * present, else the version 1 block, plus the footer rule ("CET-1CEST,M3.5.0,
 * M10.5.0/3") for instants after the last transition. Parsed zones are kept
 * in a small table guarded by a mutex only while loading; a loaded zone is
 * never changed, so readers on any thread use it without a lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tz.h"
#include "../limits.h"

typedef struct {
    int32_t utoff;
    bool isdst;
} tz_type;

/* A POSIX rule date: Mm.w.d (kind 'M'), Jn (kind 'J', 1..365 without Feb 29)
 * or n (kind 'n', 0..365 with Feb 29), plus the local time of the change. */
typedef struct {
    char kind;
    int month, week, wday, day;
    int32_t time_s;
} tz_rule_date;

typedef struct {
    bool present;
    int32_t std_off, dst_off; /* seconds east */
    bool has_dst;
    tz_rule_date start, end;
} tz_rule;

struct tz {
    char name[LIMIT_TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans; /* ascending unix seconds */
    uint8_t *idx;   /* type in force from trans[i] */
    tz_type types[256];
    size_t ntypes;
    tz_rule rule;
};

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;
static tz *tz_cache[LIMIT_TZ_ZONES_MAX];
static size_t tz_ncache;
static tz tz_utc = {.name = "UTC", .ntypes = 1};

/* ---- calendar ---- */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    K_ASSERT(m >= 1 && m <= 12);
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
    int64_t w = (days + 3) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ---- the footer rule ---- */

static const char *rule_name(const char *s)
{
    if (*s == '<') {
        const char *e = strchr(s, '>');
        return e != NULL ? e + 1 : NULL;
    }
    const char *p = s;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL on error. */
static const char *rule_hms(const char *s, int32_t *out)
{
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*s < '0' || *s > '9')
            return i == 0 ? NULL : s;
        int n = 0;
        while (*s >= '0' && *s <= '9' && n <= 999)
            n = n * 10 + (*s++ - '0');
        v[i] = n;
        if (*s != ':' || i == 2)
            break;
        s++;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return s;
}

static const char *rule_num(const char *s, int *out)
{
    if (*s < '0' || *s > '9')
        return NULL;
    int n = 0;
    while (*s >= '0' && *s <= '9' && n <= 9999)
        n = n * 10 + (*s++ - '0');
    *out = n;
    return s;
}

static const char *rule_date(const char *s, tz_rule_date *d)
{
    d->time_s = 7200;
    if (*s == 'M') {
        d->kind = 'M';
        s = rule_num(s + 1, &d->month);
        if (s == NULL || *s != '.' || (s = rule_num(s + 1, &d->week)) == NULL || *s != '.' ||
            (s = rule_num(s + 1, &d->wday)) == NULL)
            return NULL;
        if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->wday > 6)
            return NULL;
    } else {
        d->kind = *s == 'J' ? 'J' : 'n';
        s = rule_num(*s == 'J' ? s + 1 : s, &d->day);
        if (s == NULL || d->day > 365)
            return NULL;
    }
    if (*s == '/')
        s = rule_hms(s + 1, &d->time_s);
    return s;
}

/* Parses "STDoff[DST[off][,start[/t],end[/t]]]"; false when not understood. */
static bool rule_parse(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof(*r));
    int32_t west;
    if ((s = rule_name(s)) == NULL || (s = rule_hms(s, &west)) == NULL)
        return false;
    r->std_off = -west;
    r->present = true;
    if (*s == '\0')
        return true;
    if ((s = rule_name(s)) == NULL)
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if ((s = rule_hms(s, &west)) == NULL)
            return false;
        r->dst_off = -west;
    }
    if (*s == '\0') { /* no rule given: POSIX's default is the US rule */
        r->start = (tz_rule_date){'M', 3, 2, 0, 0, 7200};
        r->end = (tz_rule_date){'M', 11, 1, 0, 0, 7200};
        return true;
    }
    if (*s != ',' || (s = rule_date(s + 1, &r->start)) == NULL || *s != ',' ||
        (s = rule_date(s + 1, &r->end)) == NULL)
        return false;
    return *s == '\0';
}

/* Day (days since epoch) the rule date falls on in year y. */
static int64_t rule_day(const tz_rule_date *d, int64_t y)
{
    if (d->kind == 'J') {
        int64_t day = tz_days_from_civil(y, 1, 1) + d->day - 1;
        return day + (is_leap(y) && d->day >= 60 ? 1 : 0);
    }
    if (d->kind == 'n')
        return tz_days_from_civil(y, 1, 1) + d->day;
    int64_t first = tz_days_from_civil(y, d->month, 1);
    /* tz_weekday: Monday 0; POSIX d: Sunday 0 */
    int wd_first = (tz_weekday(first) + 1) % 7;
    int64_t day = first + (d->wday - wd_first + 7) % 7 + (int64_t)(d->week - 1) * 7;
    int next_m = d->month == 12 ? 1 : d->month + 1;
    int64_t next = tz_days_from_civil(d->month == 12 ? y + 1 : y, next_m, 1);
    while (day >= next) /* week 5 = the last such weekday */
        day -= 7;
    return day;
}

static int32_t rule_offset(const tz_rule *r, int64_t utc_s)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y;
    int m, d;
    tz_civil_from_days(floor_div(utc_s + r->std_off, 86400), &y, &m, &d);
    /* start is given in standard local time, end in daylight local time */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time_s - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time_s - r->dst_off;
    bool dst = start < end ? (utc_s >= start && utc_s < end) : !(utc_s >= end && utc_s < start);
    return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool tzif_header(const uint8_t *p, size_t len, tzif_counts *c, char *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->type >= 1 && c->type <= 256 && c->time <= LIMIT_TZ_TRANSITIONS_MAX;
}

static size_t tzif_block_len(const tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Reads one data block (tsize 4 or 8 bytes per time) into z. */
static bool tzif_block(tz *z, const uint8_t *p, const tzif_counts *c, size_t tsize)
{
    z->ntrans = c->time;
    z->trans = calloc(c->time + 1, sizeof(int64_t));
    z->idx = calloc(c->time + 1, 1);
    if (z->trans == NULL || z->idx == NULL)
        return false;
    for (uint32_t i = 0; i < c->time; i++)
        z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int64_t)(int32_t)be32(p + i * 4);
    const uint8_t *ix = p + (size_t)c->time * tsize;
    for (uint32_t i = 0; i < c->time; i++) {
        if (ix[i] >= c->type)
            return false;
        z->idx[i] = ix[i];
    }
    const uint8_t *ty = ix + c->time;
    z->ntypes = c->type;
    for (uint32_t i = 0; i < c->type; i++) {
        z->types[i].utoff = (int32_t)be32(ty + i * 6);
        z->types[i].isdst = ty[i * 6 + 4] != 0;
    }
    return true;
}

static bool tzif_parse(tz *z, const uint8_t *p, size_t len)
{
    tzif_counts c;
    char version;
    if (!tzif_header(p, len, &c, &version))
        return false;
    size_t v1 = 44 + tzif_block_len(&c, 4);
    if (v1 > len)
        return false;
    if (version < '2')
        return tzif_block(z, p + 44, &c, 4);
    const uint8_t *h2 = p + v1;
    tzif_counts c2;
    char v2;
    if (!tzif_header(h2, len - v1, &c2, &v2))
        return false;
    size_t blk = tzif_block_len(&c2, 8);
    if (v1 + 44 + blk > len || !tzif_block(z, h2 + 44, &c2, 8))
        return false;
    const char *foot = (const char *)h2 + 44 + blk;
    size_t rest = len - (v1 + 44 + blk);
    if (rest >= 2 && foot[0] == '\n') {
        char rule[128];
        size_t n = 0;
        while (n + 1 < rest && n < sizeof(rule) - 1 && foot[1 + n] != '\n')
            n++;
        memcpy(rule, foot + 1, n);
        rule[n] = '\0';
        if (n > 0 && !rule_parse(rule, &z->rule))
            z->rule.present = false; /* unknown rule form: the table's last type holds */
    }
    return true;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > LIMIT_TZ_NAME_MAX || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' || ch == '+';
        if (!ok)
            return false;
    }
    return true;
}

static void tz_free(tz *z)
{
    free(z->trans);
    free(z->idx);
    free(z);
}

static k_status tz_read(const char *name, tz **out)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] ? dir : "/usr/share/zoneinfo",
             name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return K_ENOTFOUND;
    uint8_t *data = malloc(LIMIT_TZ_FILE_MAX);
    size_t len = data != NULL ? fread(data, 1, LIMIT_TZ_FILE_MAX, f) : 0;
    fclose(f);
    tz *z = calloc(1, sizeof(*z));
    if (data == NULL || z == NULL) {
        free(data);
        free(z);
        return K_ENOMEM;
    }
    snprintf(z->name, sizeof(z->name), "%s", name);
    bool ok = len < LIMIT_TZ_FILE_MAX && tzif_parse(z, data, len);
    free(data);
    if (!ok) {
        tz_free(z);
        return K_ENOTFOUND;
    }
    *out = z;
    return K_OK;
}

k_status tz_load(const char *name, const tz **out)
{
    K_ASSERT(out != NULL);
    if (name == NULL || !name_ok(name))
        return K_EINVAL;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = &tz_utc;
        return K_OK;
    }
    pthread_mutex_lock(&tz_mu);
    for (size_t i = 0; i < tz_ncache; i++) {
        if (strcmp(tz_cache[i]->name, name) == 0) {
            *out = tz_cache[i];
            pthread_mutex_unlock(&tz_mu);
            return K_OK;
        }
    }
    k_status st = K_ETOOBIG;
    tz *z = NULL;
    if (tz_ncache < LIMIT_TZ_ZONES_MAX && (st = tz_read(name, &z)) == K_OK) {
        tz_cache[tz_ncache++] = z;
        *out = z;
    }
    pthread_mutex_unlock(&tz_mu);
    return st;
}

const char *tz_name(const tz *z)
{
    return z->name;
}

int32_t tz_offset(const tz *z, int64_t utc_s)
{
    K_ASSERT(z != NULL);
    if (z->ntypes == 0 || (z->ntrans == 0 && !z->rule.present))
        return z->ntypes > 0 ? z->types[0].utoff : 0;
    if (z->ntrans == 0 || utc_s < z->trans[0]) {
        for (size_t i = 0; i < z->ntypes; i++) /* before the table: the first standard type */
            if (!z->types[i].isdst)
                return z->types[i].utoff;
        return z->types[0].utoff;
    }
    if (utc_s >= z->trans[z->ntrans - 1] && z->rule.present)
        return rule_offset(&z->rule, utc_s);
    size_t lo = 0, hi = z->ntrans; /* last transition <= utc_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->types[z->idx[lo]].utoff;
}

int64_t tz_to_utc(const tz *z, int64_t local_s)
{
    int32_t before = tz_offset(z, local_s - 86400);
    int32_t after = tz_offset(z, local_s + 86400);
    int64_t ua = local_s - before, ub = local_s - after;
    bool va = tz_offset(z, ua) == before, vb = tz_offset(z, ub) == after;
    if (va && vb)
        return ua < ub ? ua : ub;
    if (va)
        return ua;
    if (vb)
        return ub;
    return ua; /* in the gap */
}

void tz_local(const tz *z, int64_t utc_s, tz_fields *out)
{
    int32_t off = tz_offset(z, utc_s);
    int64_t local = utc_s + off;
    int64_t days = floor_div(local, 86400);
    int64_t sod = local - days * 86400;
    tz_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(sod / 3600);
    out->minute = (int)(sod / 60 % 60);
    out->second = (int)(sod % 60);
    out->offset_s = off;
}

void tz_format_iso(const tz *z, int64_t utc_ms, bool with_ms, char out[TZ_ISO_MAX])
{
    int64_t s = floor_div(utc_ms, 1000);
    int ms = (int)(utc_ms - s * 1000);
    tz_fields f;
    tz_local(z, s, &f);
    int32_t off = f.offset_s < 0 ? -f.offset_s : f.offset_s;
    char frac[8] = "";
    if (with_ms)
        snprintf(frac, sizeof(frac), ".%03d", ms);
    snprintf(out, TZ_ISO_MAX, "%04lld-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", (long long)f.year,
             f.month, f.day, f.hour, f.minute, f.second, frac, f.offset_s < 0 ? '-' : '+',
             (int)(off / 3600), (int)(off / 60 % 60));
}
