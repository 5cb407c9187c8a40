/*
 * time.c - parsing, formatting and calendar arithmetic of times.
 *
 * A time is an int64 count of milliseconds since 1970-01-01T00:00:00Z.
 * Users type times as RFC 3339 (with an offset), as a date (midnight in the
 * workspace's zone) or relative to now; the engine prints them as
 * RFC 3339 UTC with milliseconds.
 *
 * UTC arithmetic is done here with integers, so that it never depends on
 * the process's TZ.  Zone rules come from the system time-zone database
 * through the C library: the zone is selected by setting TZ for the
 * duration of one call and restoring it afterwards.  TZ is process-global,
 * so those calls are serialised by zone_lock; code elsewhere in the
 * process that reads local time while one of them runs may see our zone.
 *
 * A local day starts at the first instant whose wall-clock time is at or
 * after its midnight.  That is midnight itself on most days; the end of the
 * gap when the clocks jump over midnight (Asia/Beirut, historical
 * America/Sao_Paulo); the first of the two midnights when they fall back
 * over it.  Days are therefore 23, 24 or 25 hours long, or other lengths
 * in stranger zones.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* tm_gmtoff, setenv, strnlen */
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tasklog.h"

#define SEC_PER_DAY 86400
#define MS_PER_SEC 1000
#define MS_PER_DAY ((int64_t)SEC_PER_DAY * MS_PER_SEC)

/* Accepted input: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z,
 * the range whose RFC 3339 form has a four-digit year. */
#define TIME_MIN_MS 0
#define TIME_MAX_MS (INT64_C(2932897) * MS_PER_DAY - 1)

/* Ranges are computed for times of years 1..9999, which keeps every
 * intermediate value far from overflow and inside what localtime_r takes. */
#define RANGE_MIN_MS (INT64_C(-719162) * MS_PER_DAY)
#define RANGE_MAX_MS TIME_MAX_MS

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
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

bool tl_tz_valid(const char *tz)
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
	/* Files of the directory that are zones but not places: the
	 * machine's own (differs between machines), the default rules, a
	 * placeholder, and the leap-second ("right/") variants, which count
	 * time differently from every other zone. */
	if (!strcmp(tz, "localtime") || !strcmp(tz, "posixrules") ||
	    !strcmp(tz, "Factory") || !strncmp(tz, "right/", 6))
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

/* A zone selected for the duration of one call. */
struct zone {
	bool utc;    /* plain arithmetic, TZ untouched */
	bool had_tz; /* TZ was set before we changed it */
	char *saved; /* its value then */
};

static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

/* Select tz; TL_EINVALID when it names no zone. */
static int zone_enter(struct zone *z, const char *tz)
{
	char spec[TZ_NAME_MAX + 2];
	const char *prev;

	z->utc = !tz || strcmp(tz, "UTC") == 0;
	z->had_tz = false;
	z->saved = NULL;
	if (z->utc)
		return 0;
	if (!tl_tz_valid(tz))
		return TL_EINVALID;

	pthread_mutex_lock(&zone_lock);
	prev = getenv("TZ");
	if (prev) {
		z->saved = strdup(prev);
		if (!z->saved)
			goto fail;
		z->had_tz = true;
	}
	/* A leading colon makes the C library read a file, never a rule. */
	snprintf(spec, sizeof(spec), ":%s", tz);
	if (setenv("TZ", spec, 1) != 0)
		goto fail;
	tzset();
	return 0;
fail:
	free(z->saved);
	z->saved = NULL;
	pthread_mutex_unlock(&zone_lock);
	return TL_ESTORAGE;
}

static void zone_leave(struct zone *z)
{
	if (z->utc)
		return;
	if (z->had_tz)
		setenv("TZ", z->saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(z->saved);
	z->saved = NULL;
	pthread_mutex_unlock(&zone_lock);
}

/* Seconds to add to UTC to get the wall clock at instant t (seconds). */
static int64_t zone_offset(const struct zone *z, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (z->utc)
		return 0;
	/* Cannot fail for the years 1..9999 we limit ourselves to. */
	if (!localtime_r(&tt, &tm))
		return 0;
	return tm.tm_gmtoff;
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
	struct zone z;
	int rc;

	if (t < RANGE_MIN_MS || t > RANGE_MAX_MS)
		return TL_EINVALID;
	rc = zone_enter(&z, tz);
	if (rc)
		return rc;
	s = floor_div(t, MS_PER_SEC);
	zone_span(&z, zone_day(&z, s), 1, s, &a, &b);
	zone_leave(&z);
	*start = a * MS_PER_SEC;
	*end = b * MS_PER_SEC;
	return 0;
}

int tl_week_range(int64_t t, const char *tz, int week_start, int64_t *start,
		  int64_t *end)
{
	int64_t s, day, a, b;
	struct zone z;
	int wday, rc;

	/* Any tm_wday works; the engine uses 1 (Monday) and 0 (Sunday). */
	if (week_start < 0 || week_start > 6)
		return TL_EINVALID;
	if (t < RANGE_MIN_MS || t > RANGE_MAX_MS)
		return TL_EINVALID;
	rc = zone_enter(&z, tz);
	if (rc)
		return rc;
	s = floor_div(t, MS_PER_SEC);
	day = zone_day(&z, s);
	wday = (int)(day + 4 - floor_div(day + 4, 7) * 7); /* 1970-01-01: Thu */
	day -= (wday - week_start + 7) % 7;
	zone_span(&z, day, 7, s, &a, &b);
	zone_leave(&z);
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
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	*days = days_from_civil(y, m, d);
	return true;
}

/* The part after the date: THH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static bool scan_rfc3339_time(struct scan *s, int64_t days, int64_t *out)
{
	int h, mi, sec, ms = 0, oh = 0, om = 0, scale = 100, sign = 0;
	int64_t secs;

	if (!(scan_char(s, 'T') || scan_char(s, 't')))
		return false;
	if (!scan_fixed(s, 2, &h) || !scan_char(s, ':') ||
	    !scan_fixed(s, 2, &mi) || !scan_char(s, ':') ||
	    !scan_fixed(s, 2, &sec))
		return false;
	/* No leap seconds: a time kept in ms since the epoch has no :60. */
	if (h > 23 || mi > 59 || sec > 59)
		return false;
	if (scan_char(s, '.')) {
		if (!scan_digit(s))
			return false;
		/* milliseconds are kept, finer digits dropped */
		while (scan_digit(s)) {
			ms += (s->p[s->pos++] - '0') * scale;
			scale /= 10;
		}
	}
	if (scan_char(s, 'Z') || scan_char(s, 'z'))
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

/* +3d, -2h, +30m, +10s, +1w from now_ms; false also on overflow. */
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

		if (n > (INT64_MAX - digit) / 10)
			return false;
		n = n * 10 + digit;
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
	if (n > INT64_MAX / unit)
		return false;
	delta = n * unit;
	if (neg ? now_ms < INT64_MIN + delta : now_ms > INT64_MAX - delta)
		return false;
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
			  why ? why : "(expected RFC 3339, YYYY-MM-DD or "
				      "+3d/-2h/+30m)");
}

int tl_time_parse(tl_slice text, int64_t now_ms, const char *tz,
		  const char *field, int64_t *out, tl_err *err)
{
	struct scan s = { text.p, text.p ? text.len : 0, 0 };
	int64_t ms = 0, days;
	bool ok;

	if (s.len > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
		ok = scan_relative(&s, now_ms, &ms);
	} else if (s.len == 10) {
		struct zone z;
		int rc;

		ok = scan_date(&s, &days);
		if (!ok)
			return bad_time(err, field, text, NULL);
		rc = zone_enter(&z, tz);
		if (rc) {
			char quoted[208];

			quote_value(tl_s(tz), quoted, sizeof(quoted));
			return tl_err_set(err, rc, "tz", "%s '%s'",
					  rc == TL_EINVALID ?
					  "unknown time zone" :
					  "cannot select time zone", quoted);
		}
		ms = zone_day_start(&z, days) * MS_PER_SEC;
		zone_leave(&z);
	} else {
		ok = scan_date(&s, &days) && scan_rfc3339_time(&s, days, &ms);
	}
	if (!ok)
		return bad_time(err, field, text, NULL);
	if (ms < TIME_MIN_MS || ms > TIME_MAX_MS)
		return bad_time(err, field, text,
				"is out of range (years 1970 to 9999 UTC)");
	*out = ms;
	return 0;
}
