/*
 * time.c - parsing, formatting and calendar arithmetic of times.
 *
 * A time is an int64 count of milliseconds since 1970-01-01T00:00:00Z.
 * Users type times as RFC 3339 (with an offset), as a date (midnight in the
 * workspace's zone) or relative to now; the engine prints them as
 * RFC 3339 UTC with milliseconds.
 *
 * UTC arithmetic is done here with integers, so that it never depends on
 * the process's TZ.  Zone rules come from the system time-zone database,
 * its TZif files read here (below), not through the C library, which
 * would select a zone only by changing the process's TZ.
 *
 * A local day starts at the first instant whose wall-clock time is at or
 * after its midnight.  That is midnight itself on most days; the end of the
 * gap when the clocks jump over midnight (Asia/Beirut, historical
 * America/Sao_Paulo); the first of the two midnights when they fall back
 * over it.  Days are therefore 23, 24 or 25 hours long, or other lengths
 * in stranger zones.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strnlen */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SEC_PER_DAY 86400
#define MS_PER_SEC 1000
#define MS_PER_DAY ((int64_t)SEC_PER_DAY * MS_PER_SEC)

/* Accepted input: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z,
 * the range whose RFC 3339 form has a four-digit year. */
#define TIME_MIN_MS 0
#define TIME_MAX_MS (INT64_C(2932897) * MS_PER_DAY - 1)

/* Ranges are computed for times of years 1..9999, which keeps every
 * intermediate value far from overflow. */
#define RANGE_MIN_MS (INT64_C(-719162) * MS_PER_DAY)
#define RANGE_MAX_MS TIME_MAX_MS

#define ZONEINFO_DIR "/usr/share/zoneinfo/"

bool tl_time_in_range(int64_t ms)
{
	return ms >= TIME_MIN_MS && ms <= TIME_MAX_MS;
}
#define TZ_NAME_MAX 255

/* ---- integer calendar --------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
 * Years are counted from March so that the leap day is the last day of
 * its year; then the days before a month are a linear function of it.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	/* days from 0000-03-01 to 1970-01-01 */
	const int64_t epoch = 719468;
	int64_t mar_year = m <= 2 ? y - 1 : y;
	int mar_month = m <= 2 ? m + 9 : m - 3; /* March = 0 */
	int64_t year_days;

	year_days = 365 * mar_year + floor_div(mar_year, 4) -
		    floor_div(mar_year, 100) + floor_div(mar_year, 400);
	return year_days + (153 * mar_month + 2) / 5 + d - 1 - epoch;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	/* 400 Gregorian years repeat exactly, and are 146097 days */
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t rest = z - era * 146097;
	int64_t cent, quad, year, doy;
	int mar_month;

	/*
	 * Counted from March, the leap day ends its year, so the longer
	 * century (36525 days) and the longer year (366) are the last ones
	 * of their cycle: dividing overshoots only on their final day.
	 */
	cent = rest / 36524;
	if (cent > 3)
		cent = 3;
	rest -= cent * 36524;
	quad = rest / 1461;
	rest -= quad * 1461;
	year = rest / 365;
	if (year > 3)
		year = 3;
	doy = rest - year * 365;

	mar_month = (int)((5 * doy + 2) / 153);
	*d = (int)(doy - (153 * mar_month + 2) / 5 + 1);
	*m = mar_month < 10 ? mar_month + 3 : mar_month - 9;
	*y = era * 400 + cent * 100 + quad * 4 + year + (*m <= 2);
}

/* ---- zones -------------------------------------------------------------- */

/* A name of the zone database that can be read: letters, digits and
 * "/_+-", nothing out of the directory, a TZif file.  strict: also one
 * spelling per zone and only places (what new input may name); not
 * strict: what 0.3.2 and earlier stored, which must keep working. */
static bool tz_name_ok(const char *tz, bool strict)
{
	char path[sizeof(ZONEINFO_DIR) + TZ_NAME_MAX];
	char magic[4];
	struct stat st;
	size_t len, i;
	bool ok;
	int fd;

	if (!tz)
		return false;
	if (strcmp(tz, "UTC") == 0)
		return true;
	len = strnlen(tz, TZ_NAME_MAX + 1);
	if (len == 0 || len > TZ_NAME_MAX || tz[0] == '/' || strstr(tz, ".."))
		return false;
	/* One spelling per zone: no empty part ("Europe//Berlin", a
	 * trailing '/'). */
	if (strict && (tz[len - 1] == '/' || strstr(tz, "//")))
		return false;
	/* Files of the directory that are zones but not places (under any
	 * directory when strict: "posix/Factory"): the machine's own
	 * (differs between machines), the default rules, a placeholder; and
	 * the leap-second ("right/") variants, which count time differently
	 * from every other zone. */
	const char *last = strict ? strrchr(tz, '/') : NULL;
	last = last ? last + 1 : tz;
	if (!strcmp(last, "localtime") || !strcmp(last, "posixrules") ||
	    !strcmp(last, "Factory") || !strncmp(tz, "right/", 6))
		return false;
	for (i = 0; i < len; i++) {
		char c = tz[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' ||
		      c == '+' || c == '-'))
			return false;
	}
	memcpy(path, ZONEINFO_DIR, sizeof(ZONEINFO_DIR) - 1);
	memcpy(path + sizeof(ZONEINFO_DIR) - 1, tz, len + 1);

	/*
	 * The directory also holds data files that are not zones
	 * ("leapseconds"); the C library would silently read such a name as
	 * UTC, so insist on the TZif magic.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	     read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	     memcmp(magic, "TZif", sizeof(magic)) == 0;
	close(fd);
	return ok;
}

bool tl_tz_valid(const char *tz)
{
	return tz_name_ok(tz, true);
}

bool tl_tz_stored_ok(const char *tz)
{
	return tz_name_ok(tz, false);
}

/* ---- the zone database, read directly ----------------------------------
 *
 * A zone is read from its TZif file (RFC 8536) in the system database:
 * its transitions (instant, offset after it) and, for instants after the
 * last one, the POSIX TZ rule of its footer ("CET-1CEST,M3.5.0,M10.5.0/3").
 * The C library reads the same files, but selects a zone only through the
 * process's TZ; reading them here keeps no global state.  Zones are read
 * once per process and kept (a few KiB each); the cache is locked, a zone
 * is never changed after it is read.
 */

/* A date of a POSIX rule: Jn (1..365, no Feb 29), n (0..365) or
 * Mm.w.d, and the local time of day (seconds, may be < 0 or > 24 h). */
struct rule_date {
	char kind; /* 'J', 'n' or 'M' */
	int n, m, w, d;
	int32_t secs;
};

struct zone {
	const char *name;
	struct zone *next;
	bool utc;
	size_t n;              /* transitions */
	int64_t *at;           /* their instants (s), ascending */
	int32_t *off;          /* the offset (s east of UTC) from each on */
	int32_t off0;          /* before the first: time type 0 */
	bool rule;             /* a footer rule, after the last transition */
	bool rule_dst;
	int32_t std_off, dst_off;
	struct rule_date start, end;
};

static const struct zone utc_zone = { .name = "UTC", .utc = true };
pthread_mutex_t tl_zones_mu = PTHREAD_MUTEX_INITIALIZER; /* proc.c */
static struct zone *zones; /* read so far */

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t get_be64s(const unsigned char *p)
{
	return (int64_t)((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
}

/* [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536's extension). */
static bool rule_hms(const char **pp, bool sign_ok, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, part[3] = { 0, 0, 0 }, k = 0;

	if (sign_ok && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	for (;;) {
		int v = 0, digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 3) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits || (k == 0 && v > 167) || (k > 0 && v > 59))
			return false;
		part[k++] = v;
		if (k == 3 || *p != ':')
			break;
		p++;
	}
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*pp = p;
	return true;
}

/* A zone abbreviation: <...> or three or more letters. */
static bool rule_name(const char **pp)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '<') {
		while (*++p && *p != '>')
			n++;
		if (*p != '>' || n < 1)
			return false;
		*pp = p + 1;
		return true;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
		p++;
		n++;
	}
	*pp = p;
	return n >= 3;
}

static bool rule_date(const char **pp, struct rule_date *r)
{
	const char *p = *pp;

	r->secs = 2 * 3600;
	if (*p == 'M') {
		int *f[3] = { &r->m, &r->w, &r->d };
		r->kind = 'M';
		for (int i = 0; i < 3; i++) {
			int digits = 0;
			p++; /* 'M', then each '.' */
			*f[i] = 0;
			while (*p >= '0' && *p <= '9' && digits < 2) {
				*f[i] = *f[i] * 10 + (*p++ - '0');
				digits++;
			}
			if (!digits || (i < 2 && *p != '.'))
				return false;
		}
		if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 ||
		    r->d < 0 || r->d > 6)
			return false;
	} else {
		r->kind = 'n';
		if (*p == 'J') {
			r->kind = 'J';
			p++;
		}
		int digits = 0;
		r->n = 0;
		while (*p >= '0' && *p <= '9' && digits < 3) {
			r->n = r->n * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits ||
		    (r->kind == 'J' ? r->n < 1 || r->n > 365 : r->n > 365))
			return false;
	}
	if (*p == '/' && (p++, !rule_hms(&p, true, &r->secs)))
		return false;
	*pp = p;
	return true;
}

/* Parse the footer rule into z; false when it is not one. */
static bool rule_parse(struct zone *z, const char *p)
{
	int32_t v;

	if (!rule_name(&p) || !rule_hms(&p, true, &v))
		return false;
	z->std_off = -v; /* POSIX counts west of UTC */
	z->rule = true;
	if (!*p)
		return true;
	if (!rule_name(&p))
		return false;
	z->rule_dst = true;
	z->dst_off = z->std_off + 3600;
	if (*p && *p != ',') {
		if (!rule_hms(&p, true, &v))
			return false;
		z->dst_off = -v;
	}
	if (*p != ',') /* DST without a rule: not in TZif footers */
		return false;
	p++;
	if (!rule_date(&p, &z->start) || *p++ != ',' ||
	    !rule_date(&p, &z->end))
		return false;
	return *p == 0;
}

/* Days since 1970-01-01 of rule date r in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
	if (r->kind == 'J')
		return days_from_civil(y, 1, 1) + r->n - 1 +
		       (is_leap(y) && r->n >= 60);
	if (r->kind == 'n')
		return days_from_civil(y, 1, 1) + r->n;
	int64_t first = days_from_civil(y, r->m, 1);
	int wday = (int)(first + 4 - floor_div(first + 4, 7) * 7); /* Thu */
	int day = 1 + (r->d - wday + 7) % 7 + (r->w - 1) * 7;
	while (day > days_in_month(y, r->m))
		day -= 7;
	return first + day - 1;
}

/* The offset of the footer rule at instant t (s): that of the last of
 * the rule's changes at or before t, among those of the year before,
 * this year and the next (a rule time may push a change over New Year;
 * "0/0,J365/25", DST all year, ends and starts again at one instant,
 * where the start wins). */
static int32_t rule_offset(const struct zone *z, int64_t t)
{
	int64_t y, when, best_when = 0;
	int m, d, best = -1;

	if (!z->rule_dst)
		return z->std_off;
	civil_from_days(floor_div(t + z->std_off, SEC_PER_DAY), &y, &m, &d);
	for (int64_t yy = y - 1; yy <= y + 1; yy++)
		for (int start = 0; start < 2; start++) {
			/* DST starts at a standard-time wall clock and ends
			 * at a DST one */
			const struct rule_date *r = start ? &z->start : &z->end;
			when = rule_day(r, yy) * SEC_PER_DAY + r->secs -
			       (start ? z->std_off : z->dst_off);
			if (when <= t && (best < 0 || when > best_when ||
					  (when == best_when && start))) {
				best = start;
				best_when = when;
			}
		}
	return best == 1 ? z->dst_off : z->std_off;
}

/* RFC 8536's range of a UTC offset; the day arithmetic above counts on
 * offsets within OFFSET_BOUND. */
static bool offset_ok(int64_t off)
{
	return off >= -89999 && off <= 93599;
}

/* Read a TZif file into z; false when it is not one we can use. */
static bool zone_read(struct zone *z, const unsigned char *b, size_t len)
{
	size_t cnt[6], o, body, i;
	int v2;

	if (len < 44 || memcmp(b, "TZif", 4))
		return false;
	v2 = b[4] >= '2';
	for (int pass = 0;; pass++) {
		for (i = 0; i < 6; i++)
			cnt[i] = get_be32(b + 20 + 4 * i);
		/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
		size_t tsz = v2 && pass ? 8 : 4;
		body = cnt[3] * tsz + cnt[3] + cnt[4] * 6 + cnt[5] +
		       cnt[2] * (tsz + 4) + cnt[1] + cnt[0];
		if (cnt[4] == 0 || cnt[4] > 256 || cnt[3] > 1000000 ||
		    len - 44 < body)
			return false;
		if (v2 && !pass) { /* skip the 32-bit data to the 64-bit */
			b += 44 + body;
			len -= 44 + body;
			if (len < 44 || memcmp(b, "TZif", 4))
				return false;
			continue;
		}
		break;
	}
	if (cnt[2]) /* leap seconds: a "right/" zone */
		return false;
	size_t tsz = v2 ? 8 : 4, n = cnt[3];
	const unsigned char *times = b + 44, *idx = times + n * tsz,
			    *types = idx + n;
	z->n = n;
	z->at = malloc((n ? n : 1) * sizeof *z->at);
	z->off = malloc((n ? n : 1) * sizeof *z->off);
	if (!z->at || !z->off)
		return false;
	for (i = 0; i < n; i++) {
		if (idx[i] >= cnt[4])
			return false;
		z->at[i] = tsz == 8 ? get_be64s(times + 8 * i)
				    : (int32_t)get_be32(times + 4 * i);
		z->off[i] = (int32_t)get_be32(types + 6 * idx[i]);
		if (i && z->at[i] <= z->at[i - 1])
			return false;
	}
	for (i = 0; i < cnt[4]; i++)
		if (!offset_ok((int32_t)get_be32(types + 6 * i)))
			return false;
	z->off0 = (int32_t)get_be32(types);
	/* the footer: "\n" TZ string "\n" after the 64-bit data (the
	 * last newline missing, the string runs to the end, as the C
	 * library reads it) */
	o = 44 + body;
	if (v2 && o < len && b[o] == '\n') {
		const unsigned char *nl = memchr(b + o + 1, '\n', len - o - 1);
		size_t fl = nl ? (size_t)(nl - (b + o + 1)) : len - o - 1;
		if (fl > 0) {
			char *foot = malloc(fl + 1);
			if (!foot)
				return false;
			memcpy(foot, b + o + 1, fl);
			foot[fl] = 0;
			bool ok = memchr(foot, 0, fl) == NULL &&
				  rule_parse(z, foot) &&
				  offset_ok(z->std_off) &&
				  (!z->rule_dst || offset_ok(z->dst_off));
			free(foot);
			if (!ok)
				return false;
		}
	}
	return true;
}

/* tz with each run of '/' made one, into buf (TZ_NAME_MAX + 1 bytes);
 * false when longer.  "Europe//Paris" is the file "Europe/Paris", and
 * the not strict names (stored ones) allow it: read and kept under each
 * spelling, a caller passing ever new ones (a server, clients' zones)
 * grew the process without bound, 2.4 KB a spelling (until 0.3.54).
 * Under one name each, the zones kept are at most the database's files. */
static bool zone_name(const char *tz, char *buf)
{
	size_t n = 0;
	for (size_t i = 0; tz[i]; i++) {
		if (i == TZ_NAME_MAX) /* as long as tz_name_ok allows */
			return false;
		if (tz[i] != '/' || !n || buf[n - 1] != '/')
			buf[n++] = tz[i];
	}
	buf[n] = 0;
	return true;
}

/* The zone named tz, read once per process; NULL when it names none. */
static const struct zone *zone_get(const char *name)
{
	char path[sizeof(ZONEINFO_DIR) + TZ_NAME_MAX], tz[TZ_NAME_MAX + 1];
	struct zone *z;

	if (!name || strcmp(name, "UTC") == 0)
		return &utc_zone;
	if (!zone_name(name, tz))
		return NULL;
	tl_proc_init(); /* zones_mu held across fork() */
	pthread_mutex_lock(&tl_zones_mu);
	struct zone **pz = &zones;
	for (; (z = *pz); pz = &z->next)
		if (strcmp(z->name, tz) == 0) {
			*pz = z->next; /* to the front: the next look-up */
			z->next = zones;
			zones = z;
			break;
		}
	pthread_mutex_unlock(&tl_zones_mu);
	if (z)
		return z;
	if (!tl_tz_stored_ok(tz)) /* a stored zone: as it was accepted */
		return NULL;

	snprintf(path, sizeof path, "%s%s", ZONEINFO_DIR, tz);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf = NULL;
	bool ok = false;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size <= (1 << 20) && (buf = malloc((size_t)st.st_size)) &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size &&
	    (z = calloc(1, sizeof *z)) && (z->name = strdup(tz)))
		ok = zone_read(z, buf, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (!ok) {
		if (z) {
			free((void *)z->name);
			free(z->at);
			free(z->off);
			free(z);
		}
		return NULL;
	}
	/* Kept for the life of the process.  Two threads reading the same
	 * zone at once both add it; the first one found is used. */
	pthread_mutex_lock(&tl_zones_mu);
	z->next = zones;
	zones = z;
	pthread_mutex_unlock(&tl_zones_mu);
	return z;
}

size_t tl_zones_kept(void)
{
	size_t n = 0;
	tl_proc_init();
	pthread_mutex_lock(&tl_zones_mu);
	for (const struct zone *z = zones; z; z = z->next)
		n++;
	pthread_mutex_unlock(&tl_zones_mu);
	return n;
}

/* Seconds to add to UTC to get the wall clock at instant t (seconds). */
static int64_t zone_offset(const struct zone *z, int64_t t)
{
	size_t lo = 0, hi;

	if (z->utc)
		return 0;
	if (!z->n || t >= z->at[z->n - 1]) {
		if (z->rule)
			return rule_offset(z, t);
		return z->n ? z->off[z->n - 1] : z->off0;
	}
	if (t < z->at[0])
		return z->off0;
	hi = z->n - 1; /* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

int tl_zone_parse(const uint8_t *buf, size_t len, int64_t t, int64_t *off)
{
	struct zone z = { .name = "(bytes)" };
	bool ok = zone_read(&z, buf, len);
	if (ok)
		*off = zone_offset(&z, t);
	free(z.at);
	free(z.off);
	return ok ? 0 : TL_EINVALID;
}

int tl_zone_offset(const char *tz, int64_t t, int64_t *off)
{
	const struct zone *z = zone_get(tz);
	if (!z)
		return TL_EINVALID;
	*off = zone_offset(z, t);
	return 0;
}

/* The local date of instant t (seconds), as days since 1970-01-01. */
static int64_t zone_day(const struct zone *z, int64_t t)
{
	return floor_div(t + zone_offset(z, t), SEC_PER_DAY);
}

/* Longer than any UTC offset, and the sampling step of the search below:
 * shorter than the time between two transitions of any real zone. */
#define OFFSET_BOUND (26 * 3600)
#define SCAN_STEP 1800

/*
 * The first instant (seconds) at which the wall clock reads `wall` (seconds
 * since 1970-01-01 on the local calendar) or later.
 *
 * mktime is no help here: what it does with a wall time that falls in a
 * gap or in a repeated hour is up to the implementation.  Instead, walk
 * the instants around `wall` in steps, locate every offset change exactly
 * by bisection, and look in each stretch of constant offset in turn.
 */
static int64_t zone_first_instant(const struct zone *z, int64_t wall)
{
	int64_t prev, prev_off, t;

	if (z->utc)
		return wall;
	prev = wall - OFFSET_BOUND;
	prev_off = zone_offset(z, prev);
	/* Invariant: the wall clock at prev is before `wall`. */
	for (t = prev + SCAN_STEP; t <= wall + OFFSET_BOUND; t += SCAN_STEP) {
		int64_t off = zone_offset(z, t);
		int64_t cut = prev + 1; /* first second with offset `off` */

		if (off != prev_off) {
			int64_t lo = prev, hi = t;

			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;

				if (zone_offset(z, mid) == prev_off)
					lo = mid;
				else
					hi = mid;
			}
			cut = hi;
			/* (prev, cut) keeps the old offset */
			if (wall - prev_off < cut)
				return wall - prev_off;
		}
		/* [cut, t] has offset off */
		if (wall - off <= t)
			return wall - off > cut ? wall - off : cut;
		prev = t;
		prev_off = off;
	}
	return wall - zone_offset(z, wall); /* not reached with real zones */
}

static int64_t zone_day_start(const struct zone *z, int64_t day)
{
	return zone_first_instant(z, day * SEC_PER_DAY);
}

/*
 * [start, end) in seconds of `len` local days beginning with day `first`,
 * moved on by whole spans until it holds t.  The move matters only when
 * the clocks fall back over midnight into the day before, where t can lie
 * after the start of the day that follows its own date.
 */
static void zone_span(const struct zone *z, int64_t first, int len,
		      int64_t t, int64_t *start, int64_t *end)
{
	int64_t a = zone_day_start(z, first);
	int64_t b = zone_day_start(z, first + len);
	int i;

	for (i = 0; i < 3 && t >= b; i++) {
		first += len;
		a = b;
		b = zone_day_start(z, first + len);
	}
	*start = a;
	*end = b;
}

int tl_day_range(int64_t t, const char *tz, int64_t *start, int64_t *end)
{
	int64_t s, a, b;
	const struct zone *z;

	if (t < RANGE_MIN_MS || t > RANGE_MAX_MS)
		return TL_EINVALID;
	if (!(z = zone_get(tz)))
		return TL_EINVALID;
	s = floor_div(t, MS_PER_SEC);
	zone_span(z, zone_day(z, s), 1, s, &a, &b);
	*start = a * MS_PER_SEC;
	*end = b * MS_PER_SEC;
	return 0;
}

int tl_week_range(int64_t t, const char *tz, int week_start, int64_t *start,
		  int64_t *end)
{
	int64_t s, day, a, b;
	const struct zone *z;
	int wday;

	/* Any tm_wday works; the engine uses 1 (Monday) and 0 (Sunday). */
	if (week_start < 0 || week_start > 6)
		return TL_EINVALID;
	if (t < RANGE_MIN_MS || t > RANGE_MAX_MS)
		return TL_EINVALID;
	if (!(z = zone_get(tz)))
		return TL_EINVALID;
	s = floor_div(t, MS_PER_SEC);
	day = zone_day(z, s);
	wday = (int)(day + 4 - floor_div(day + 4, 7) * 7); /* 1970-01-01: Thu */
	day -= (wday - week_start + 7) % 7;
	zone_span(z, day, 7, s, &a, &b);
	*start = a * MS_PER_SEC;
	*end = b * MS_PER_SEC;
	return 0;
}

/* ---- the clock and output ----------------------------------------------- */

int64_t tl_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / 1000000;
}

/* Write v as exactly n decimal digits. */
static char *put_digits(char *p, int64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

void tl_time_format(int64_t ms, char *buf)
{
	int64_t secs = floor_div(ms, MS_PER_SEC);
	int64_t days = floor_div(secs, SEC_PER_DAY);
	int64_t sod = secs - days * SEC_PER_DAY;
	/* not ms - secs * 1000, which overflows near INT64_MIN */
	int64_t frac = ms % MS_PER_SEC;
	int64_t y;
	char *p = buf;
	int m, d;

	if (frac < 0)
		frac += MS_PER_SEC;
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		p = put_digits(p, y, 4);
	else /* never parsed, but printable: at most 10 chars here */
		p += snprintf(p, 12, "%lld", (long long)y);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, frac, 3);
	*p++ = 'Z';
	*p = '\0';
}

int tl_time_format_zone(int64_t ms, const char *tz, char *buf)
{
	const struct zone *z;
	int64_t off, a;
	char *p;

	errno = 0;
	if (!(z = zone_get(tz))) {
		tl_time_format(ms, buf);
		return errno == ENOMEM ? TL_ESTORAGE : TL_EINVALID;
	}
	if (z->utc || ms > INT64_MAX / 2 || ms < INT64_MIN / 2) {
		tl_time_format(ms, buf);
		return 0;
	}
	off = zone_offset(z, floor_div(ms, MS_PER_SEC));
	if (ms + off * MS_PER_SEC > TIME_MAX_MS ||
	    ms + off * MS_PER_SEC < -62167219200000) { /* 0000-01-01 */
		tl_time_format(ms, buf); /* no 5-digit year on the wall */
		return 0;
	}
	tl_time_format(ms + off * MS_PER_SEC, buf); /* the wall clock */
	p = buf + strlen(buf) - 1; /* over its 'Z' */
	*p++ = off < 0 ? '-' : '+';
	a = off < 0 ? -off : off;
	p = put_digits(p, a / 3600, 2);
	*p++ = ':';
	p = put_digits(p, a / 60 % 60, 2);
	if (a % 60) { /* some zones' offsets until the 1970s */
		*p++ = ':';
		p = put_digits(p, a % 60, 2);
	}
	*p = '\0';
	return 0;
}

/* tl_time_format_short, or with exact to the millisecond
 * ("2026-12-01 10:00:30.250 UTC"; at most TL_TIME_EXACT_MAX bytes). */
static int format_short(int64_t ms, const char *tz, bool utc_suffix,
			bool exact, char *buf)
{
	char b[48]; /* 2026-12-01T10:00:00.000Z, ...000+01:00[:SS] */
	int rc = tl_time_format_zone(ms, tz, b);
	size_t n = strlen(b), max = exact ? TL_TIME_EXACT_MAX
					  : TL_TIME_SHORT_MAX;
	if (n < 24 || b[4] != '-' || b[10] != 'T' || n - 23 > 9) {
		/* a year past 9999: as it is */
		n = n < max - 1 ? n : max - 1;
		memcpy(buf, b, n);
		buf[n] = 0;
		return rc;
	}
	size_t k = exact ? 23 : memcmp(b + 16, ":00", 3) ? 19 : 16;
	memcpy(buf, b, k);
	buf[10] = ' ';
	if (b[23] == 'Z') {
		strcpy(buf + k, utc_suffix ? " UTC" : "");
	} else { /* k + 1 + 9 + 1 <= 34 */
		buf[k] = ' ';
		memcpy(buf + k + 1, b + 23, n - 23 + 1);
	}
	return rc;
}

int tl_time_format_short(int64_t ms, const char *tz, bool utc_suffix,
			 char *buf)
{
	return format_short(ms, tz, utc_suffix, false, buf);
}

int tl_time_format_pair(int64_t a, int64_t b, const char *tz,
			bool utc_suffix, char *abuf, char *bbuf)
{
	int ra = format_short(a, tz, utc_suffix, false, abuf);
	int rb = format_short(b, tz, utc_suffix, false, bbuf);
	if (a != b && !strcmp(abuf, bbuf)) {
		ra = format_short(a, tz, utc_suffix, true, abuf);
		rb = format_short(b, tz, utc_suffix, true, bbuf);
	}
	return ra == TL_ESTORAGE || rb == TL_ESTORAGE ? TL_ESTORAGE
						       : ra ? ra : rb;
}

/* ---- input -------------------------------------------------------------- */

/* A cursor over the text being parsed. */
struct scan {
	const char *p;
	size_t len, pos;
};

static bool scan_char(struct scan *s, char c)
{
	if (s->pos < s->len && s->p[s->pos] == c) {
		s->pos++;
		return true;
	}
	return false;
}

static bool scan_digit(const struct scan *s)
{
	return s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9';
}

/* Exactly n decimal digits. */
static bool scan_fixed(struct scan *s, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (!scan_digit(s))
			return false;
		v = v * 10 + (s->p[s->pos++] - '0');
	}
	*out = v;
	return true;
}

/* YYYY-MM-DD, as days since 1970-01-01. */
static bool scan_date(struct scan *s, int64_t *days)
{
	int y, m, d;

	if (!scan_fixed(s, 4, &y) || !scan_char(s, '-') ||
	    !scan_fixed(s, 2, &m) || !scan_char(s, '-') ||
	    !scan_fixed(s, 2, &d))
		return false;
	/* Any year here: the instant, not the local date, must be in range
	 * (1969-12-31T23:00:00-02:00 is 1970-01-01T01:00:00Z). */
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	*days = days_from_civil(y, m, d);
	return true;
}

/* The part after the date: THH:MM[:SS[.frac]] and then Z, +HH:MM or
 * -HH:MM (RFC 3339, which requires the seconds), or nothing: *local is
 * then set, and *out is the wall clock on the local calendar.  't' or ' '
 * may stand for 'T'. */
static bool scan_rfc3339_time(struct scan *s, int64_t days, int64_t *out,
			      bool *local)
{
	int h, mi, sec = 0, ms = 0, oh = 0, om = 0, scale = 100, sign = 0;
	bool has_sec;
	int64_t secs;

	/* RFC 3339 5.6 lets applications separate date and time by a
	 * space, for readability; 'T' and 'Z' may be lower case. */
	if (!(scan_char(s, 'T') || scan_char(s, 't') || scan_char(s, ' ')))
		return false;
	if (!scan_fixed(s, 2, &h) || !scan_char(s, ':') ||
	    !scan_fixed(s, 2, &mi))
		return false;
	has_sec = scan_char(s, ':');
	if (has_sec && !scan_fixed(s, 2, &sec))
		return false;
	/* No leap seconds: a time kept in ms since the epoch has no :60. */
	if (h > 23 || mi > 59 || sec > 59)
		return false;
	if (has_sec && scan_char(s, '.')) {
		if (!scan_digit(s))
			return false;
		/* milliseconds are kept, finer digits dropped */
		while (scan_digit(s)) {
			ms += (s->p[s->pos++] - '0') * scale;
			scale /= 10;
		}
	}
	*local = s->pos == s->len;
	if (*local)
		sign = 0;
	else if (!has_sec) /* RFC 3339 requires the seconds */
		return false;
	else if (scan_char(s, 'Z') || scan_char(s, 'z'))
		sign = 0;
	else if (scan_char(s, '+'))
		sign = 1;
	else if (scan_char(s, '-'))
		sign = -1;
	else
		return false;
	if (sign && (!scan_fixed(s, 2, &oh) || !scan_char(s, ':') ||
		     !scan_fixed(s, 2, &om) || oh > 23 || om > 59))
		return false;
	if (s->pos != s->len)
		return false;
	/* local time minus its offset is UTC */
	secs = days * SEC_PER_DAY + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	*out = secs * MS_PER_SEC + ms;
	return true;
}

/* +3d, -2h, +30m, +10s, +1w from now_ms.  One past the int64 range
 * saturates, so that the caller's range check says "out of range". */
static bool scan_relative(struct scan *s, int64_t now_ms, int64_t *out)
{
	int64_t n = 0, unit, delta;
	bool neg;

	if (scan_char(s, '+'))
		neg = false;
	else if (scan_char(s, '-'))
		neg = true;
	else
		return false;
	if (!scan_digit(s))
		return false;
	while (scan_digit(s)) {
		int digit = s->p[s->pos++] - '0';

		n = n > (INT64_MAX - digit) / 10 ? INT64_MAX
						 : n * 10 + digit;
	}
	if (s->pos + 1 != s->len)
		return false;
	switch (s->p[s->pos]) {
	case 's':
		unit = MS_PER_SEC;
		break;
	case 'm':
		unit = 60 * MS_PER_SEC;
		break;
	case 'h':
		unit = 3600 * MS_PER_SEC;
		break;
	case 'd':
		unit = MS_PER_DAY;
		break;
	case 'w':
		unit = 7 * MS_PER_DAY;
		break;
	default:
		return false;
	}
	delta = n > INT64_MAX / unit ? INT64_MAX : n * unit;
	if (neg ? now_ms < INT64_MIN + delta : now_ms > INT64_MAX - delta)
		*out = neg ? INT64_MIN : INT64_MAX;
	else
		*out = neg ? now_ms - delta : now_ms + delta;
	return true;
}

/*
 * Copy v into out for quoting in a message: at most about 48 bytes of it,
 * with control, non-ASCII, quote and backslash bytes escaped, so that a
 * message is always printable, one line and valid UTF-8.
 */
static void quote_value(tl_slice v, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = v.p ? v.len : 0, i, o = 0;

	for (i = 0; i < len && o + 8 < cap && i < 48; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c == '\'' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int bad_time(tl_err *err, const char *field, tl_slice text,
		    const char *why)
{
	char quoted[208];

	quote_value(text, quoted, sizeof(quoted));
	return tl_err_set(err, TL_EINVALID, field, "%s '%s' %s",
			  why ? "time" : "invalid time", quoted,
			  why ? why : "(expected RFC 3339, YYYY-MM-DD, "
				      "YYYY-MM-DD HH:MM or +3d/-2h/+30m)");
}

/* True for "YYYY-MM-DD[T ]HH:MM" followed by Z or an offset: RFC 3339
 * but for its seconds, which it requires. */
static bool lacks_seconds(tl_slice t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd";
	size_t n = sizeof shape - 1;
	if (t.len < n + 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t.p[i];
		if (shape[i] == 'd' ? c < '0' || c > '9'
		    : shape[i] == 'T' ? c != 'T' && c != 't' && c != ' '
				      : c != shape[i])
			return false;
	}
	tl_slice rest = { t.p + n, t.len - n };
	if (rest.len == 1)
		return rest.p[0] == 'Z' || rest.p[0] == 'z';
	if (rest.len != 6 || (rest.p[0] != '+' && rest.p[0] != '-') ||
	    rest.p[3] != ':')
		return false;
	for (size_t i = 1; i < 6; i++)
		if (i != 3 && (rest.p[i] < '0' || rest.p[i] > '9'))
			return false;
	return true;
}

/* True for text that begins with a date's shape, YYYY-MM-DD (then
 * nothing or a time), whose month or day does not exist. */
static bool not_a_day(tl_slice t)
{
	struct scan s = { t.p, 10, 0 };
	int64_t days;
	if (t.len < 10 || (t.len > 10 && t.p[10] != 'T' && t.p[10] != 't' &&
			   t.p[10] != ' '))
		return false;
	for (size_t i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? t.p[i] != '-'
				     : t.p[i] < '0' || t.p[i] > '9')
			return false;
	return !scan_date(&s, &days);
}

static int bad_zone(tl_err *err, const char *tz)
{
	char quoted[208];

	quote_value(tl_s(tz), quoted, sizeof(quoted));
	return tl_err_set(err, TL_EINVALID, "tz",
			  "time zone '%s' is not in this host's time-zone database",
			  quoted);
}

int tl_time_parse(tl_slice text, int64_t now_ms, const char *tz,
		  const char *field, int64_t *out, tl_err *err)
{
	struct scan s;
	const struct zone *z;
	int64_t ms = 0, days;
	bool ok, local = false;

	if (!text.p) /* absent, whatever its length says */
		text.len = 0;
	s = (struct scan){ text.p, text.len, 0 };

	if (s.len > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
		ok = scan_relative(&s, now_ms, &ms);
	} else if (s.len == 10) {
		ok = scan_date(&s, &days);
		if (!ok)
			return bad_time(err, field, text,
					not_a_day(text)
						? "is not a day of the calendar"
						: NULL);
		if (!(z = zone_get(tz)))
			return bad_zone(err, tz);
		ms = zone_day_start(z, days) * MS_PER_SEC;
	} else {
		ok = scan_date(&s, &days) &&
		     scan_rfc3339_time(&s, days, &ms, &local);
		if (ok && local) {
			/* A wall clock time in the zone: a time the clocks
			 * skip is the instant they skip to, a repeated one
			 * its first occurrence. */
			int64_t wall = floor_div(ms, MS_PER_SEC);
			int64_t frac = ms - wall * MS_PER_SEC;
			if (!(z = zone_get(tz)))
				return bad_zone(err, tz);
			int64_t t = zone_first_instant(z, wall);
			if (t + zone_offset(z, t) != wall)
				frac = 0; /* skipped: the instant itself */
			ms = t * MS_PER_SEC + frac;
		}
	}
	if (!ok && not_a_day(text))
		return bad_time(err, field, text,
				"is not a day of the calendar");
	if (!ok && lacks_seconds(text))
		return bad_time(err, field, text,
				"needs its seconds before Z or an offset "
				"(RFC 3339: 2026-12-01T10:00:00Z), or no Z "
				"for the zone's wall clock");
	if (!ok)
		return bad_time(err, field, text, NULL);
	if (ms < TIME_MIN_MS || ms > TIME_MAX_MS)
		return bad_time(err, field, text,
				"is out of range (years 1970 to 9999 UTC)");
	*out = ms;
	return 0;
}
