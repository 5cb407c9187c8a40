/*
 * unit_time.c - tests of time input, output and local-calendar ranges.
 *
 * Zone tests use the system tz database (package tzdata) and pick days on
 * which the clocks change, as those are where local-midnight arithmetic
 * goes wrong.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* 2026-12-01T10:00:00Z, checked against date(1) */
#define NOW INT64_C(1796119200000)

static int64_t parse_in(const char *text, const char *tz)
{
	tl_err err = { .index = -1 };
	int64_t v = -1;
	int rc = tl_time_parse(tl_s(text), NOW, tz, "due", &v, &err);

	cr_assert_eq(rc, 0, "'%s' in %s: %s", text, tz ? tz : "UTC",
		     err.message);
	return v;
}

static int64_t parse(const char *text)
{
	return parse_in(text, NULL);
}

static void expect_format(int64_t ms, const char *want)
{
	char buf[32];

	tl_time_format(ms, buf);
	cr_assert_str_eq(buf, want, "%lld", (long long)ms);
}

/* text parses to the instant whose formatted form is want */
static void expect_parse(const char *text, const char *tz, const char *want)
{
	expect_format(parse_in(text, tz), want);
}

static void expect_invalid(const char *text)
{
	tl_err err = { .index = -1 };
	int64_t v = 42;
	int rc = tl_time_parse(tl_s(text), NOW, NULL, "due", &v, &err);

	cr_assert_eq(rc, TL_EINVALID, "'%s' was accepted", text);
	cr_assert_eq(err.code, TL_EINVALID);
	cr_assert_str_eq(err.field, "due");
	cr_assert_eq(v, 42, "'%s': out written on failure", text);
}

static void expect_day(const char *tz, const char *t, const char *start,
		       const char *end)
{
	int64_t a = 0, b = 0;

	cr_assert_eq(tl_day_range(parse(t), tz, &a, &b), 0);
	expect_format(a, start);
	expect_format(b, end);
}

static void expect_week(const char *tz, int week_start, const char *t,
			const char *start, const char *end)
{
	int64_t a = 0, b = 0;

	cr_assert_eq(tl_week_range(parse(t), tz, week_start, &a, &b), 0);
	expect_format(a, start);
	expect_format(b, end);
}

static int64_t day_hours(const char *tz, const char *t)
{
	int64_t a = 0, b = 0;

	cr_assert_eq(tl_day_range(parse(t), tz, &a, &b), 0);
	return (b - a) / 3600000;
}

/* ---- RFC 3339 ----------------------------------------------------------- */

Test(time, parse_accepts_rfc3339_in_utc)
{
	cr_assert_eq(parse("2026-12-01T10:00:00Z"), NOW);
	cr_assert_eq(parse("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
}

Test(time, parse_accepts_lowercase_t_and_z)
{
	cr_assert_eq(parse("2026-12-01t10:00:00z"), NOW);
	cr_assert_eq(parse("2026-12-01T10:00:00z"), NOW);
	cr_assert_eq(parse("2026-12-01t10:00:00Z"), NOW);
}

/* RFC 3339 5.6: a space may separate date and time, for readability. */
Test(time, parse_accepts_a_space_for_the_t)
{
	cr_assert_eq(parse("2026-12-01 10:00:00Z"), NOW);
	cr_assert_eq(parse("2026-12-01 12:00:00.250+02:00"), NOW + 250);
}

Test(time, parse_subtracts_positive_offsets)
{
	cr_assert_eq(parse("2026-12-01T12:00:00+02:00"), NOW);
	cr_assert_eq(parse("2026-12-01T23:45:00+13:45"), NOW);
}

Test(time, parse_adds_negative_offsets)
{
	cr_assert_eq(parse("2026-12-01T04:30:00-05:30"), NOW);
	cr_assert_eq(parse("2026-12-01T10:00:00-00:00"), NOW);
	cr_assert_eq(parse("2026-12-01T10:00:00+00:00"), NOW);
}

Test(time, parse_moves_across_midnight_and_year_by_offset)
{
	expect_parse("2026-12-31T23:30:00-01:00", NULL,
		     "2027-01-01T00:30:00.000Z");
	expect_parse("2027-01-01T00:30:00+01:00", NULL,
		     "2026-12-31T23:30:00.000Z");
}

Test(time, parse_keeps_milliseconds_and_truncates_finer_digits)
{
	cr_assert_eq(parse("2026-12-01T10:00:00.5Z"), NOW + 500);
	cr_assert_eq(parse("2026-12-01T10:00:00.05Z"), NOW + 50);
	cr_assert_eq(parse("2026-12-01T10:00:00.123Z"), NOW + 123);
	cr_assert_eq(parse("2026-12-01T10:00:00.123999999Z"), NOW + 123);
	cr_assert_eq(parse("2026-12-01T10:00:00.9999Z"), NOW + 999);
	cr_assert_eq(parse("2026-12-01T10:00:00.000000000000000000001Z"), NOW);
	cr_assert_eq(parse("2026-12-01T12:00:00.250+02:00"), NOW + 250);
}

Test(time, parse_accepts_leap_days_of_leap_years)
{
	expect_parse("2024-02-29T12:00:00Z", NULL, "2024-02-29T12:00:00.000Z");
	expect_parse("2000-02-29T12:00:00Z", NULL, "2000-02-29T12:00:00.000Z");
}

Test(time, parse_accepts_the_ends_of_the_range)
{
	cr_assert_eq(parse("1970-01-01T00:00:00.000Z"), 0);
	expect_parse("9999-12-31T23:59:59.999Z", NULL,
		     "9999-12-31T23:59:59.999Z");
	cr_assert_eq(parse("9999-12-31T23:59:59.999Z"),
		     INT64_C(253402300799999));
}

Test(time, parse_rejects_february_30)
{
	expect_invalid("2026-02-30T10:00:00Z");
	expect_invalid("2024-02-30");
}

Test(time, parse_rejects_february_29_of_common_years)
{
	expect_invalid("2026-02-29T10:00:00Z");
	expect_invalid("2100-02-29T10:00:00Z");
	expect_invalid("2026-02-29");
}

Test(time, parse_rejects_bad_months)
{
	expect_invalid("2026-13-01T10:00:00Z");
	expect_invalid("2026-00-01T10:00:00Z");
	expect_invalid("2026-13-01");
}

Test(time, parse_rejects_bad_days)
{
	expect_invalid("2026-04-31T10:00:00Z");
	expect_invalid("2026-01-32T10:00:00Z");
	expect_invalid("2026-01-00T10:00:00Z");
	expect_invalid("2026-06-31");
}

Test(time, parse_rejects_bad_hours_minutes_and_seconds)
{
	expect_invalid("2026-12-01T24:00:00Z");
	expect_invalid("2026-12-01T10:60:00Z");
	expect_invalid("2026-12-01T10:00:60Z");
	expect_invalid("2026-12-01T10:00:99Z");
}

Test(time, parse_rejects_bad_offsets)
{
	expect_invalid("2026-12-01T10:00:00+24:00");
	expect_invalid("2026-12-01T10:00:00+02:60");
	expect_invalid("2026-12-01T10:00:00+0200");
	expect_invalid("2026-12-01T10:00:00+02");
	expect_invalid("2026-12-01T10:00:00+2:00");
	expect_invalid("2026-12-01T10:00:00 +02:00");
}

/* Without an offset, a date and time is the wall clock of the zone. */
Test(time, parse_wall_clock_time_in_the_zone)
{
	expect_parse("2026-12-01T10:00:00", NULL, "2026-12-01T10:00:00.000Z");
	expect_parse("2026-12-01 10:00", NULL, "2026-12-01T10:00:00.000Z");
	expect_parse("2026-12-01t10:00:00.123", NULL,
		     "2026-12-01T10:00:00.123Z");
	expect_parse("2026-12-01 10:00", "Europe/Berlin",
		     "2026-12-01T09:00:00.000Z");
	expect_parse("2026-07-01 10:00:30", "Europe/Berlin",
		     "2026-07-01T08:00:30.000Z");
	expect_parse("2026-12-01 10:00", "America/Los_Angeles",
		     "2026-12-01T18:00:00.000Z");
	expect_parse("2026-12-01 10:00", "Pacific/Auckland",
		     "2026-11-30T21:00:00.000Z");
	expect_parse("2026-12-01 10:00", "Asia/Kolkata",
		     "2026-12-01T04:30:00.000Z");
}

/* A time the clocks skip is the instant they skip to; a time they repeat
 * is its first occurrence. */
Test(time, parse_wall_clock_time_across_dst)
{
	/* Berlin: 02:00 CET -> 03:00 CEST on 2026-03-29 */
	expect_parse("2026-03-29 02:30", "Europe/Berlin",
		     "2026-03-29T01:00:00.000Z");
	expect_parse("2026-03-29 01:59:59", "Europe/Berlin",
		     "2026-03-29T00:59:59.000Z");
	expect_parse("2026-03-29 03:00", "Europe/Berlin",
		     "2026-03-29T01:00:00.000Z");
	/* the skipped time's milliseconds go with it: 02:59:59.999 is not
	 * after 03:00:00.500 */
	expect_parse("2026-03-29 02:59:59.999", "Europe/Berlin",
		     "2026-03-29T01:00:00.000Z");
	expect_parse("2026-03-29 03:00:00.500", "Europe/Berlin",
		     "2026-03-29T01:00:00.500Z");
	expect_parse("2026-03-29 01:59:59.999", "Europe/Berlin",
		     "2026-03-29T00:59:59.999Z");
	expect_parse("2026-10-25 02:30:00.250", "Europe/Berlin",
		     "2026-10-25T00:30:00.250Z");
	/* 03:00 CEST -> 02:00 CET on 2026-10-25: 02:30 happens twice */
	expect_parse("2026-10-25 02:30", "Europe/Berlin",
		     "2026-10-25T00:30:00.000Z");
	expect_parse("2026-10-25 03:00", "Europe/Berlin",
		     "2026-10-25T02:00:00.000Z");
	/* Los Angeles: 2026-03-08 02:00 PST -> 03:00 PDT, 2026-11-01
	 * 02:00 PDT -> 01:00 PST */
	expect_parse("2026-03-08 02:30", "America/Los_Angeles",
		     "2026-03-08T10:00:00.000Z");
	expect_parse("2026-03-08T02:30:00.500", "America/Los_Angeles",
		     "2026-03-08T10:00:00.000Z");
	expect_parse("2026-11-01 01:30", "America/Los_Angeles",
		     "2026-11-01T08:30:00.000Z");
}

/* For people: to the minute or the second, the offset after a space. */
Test(time, format_short_for_people)
{
	static const struct {
		const char *t, *tz;
		bool utc;
		const char *want;
	} cases[] = {
		{ "2026-12-01T10:00:00.000Z", "UTC", true, "2026-12-01 10:00 UTC" },
		{ "2026-12-01T10:00:00.000Z", NULL, false, "2026-12-01 10:00" },
		{ "2026-12-01T10:00:30.250Z", "Europe/Berlin", true,
		  "2026-12-01 11:00:30 +01:00" },
		{ "2026-07-01T10:00:00.000Z", "America/Los_Angeles", false,
		  "2026-07-01 03:00 -07:00" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tl_err err = { .index = -1 };
		int64_t ms;
		char buf[TL_TIME_SHORT_MAX];
		cr_assert_eq(tl_time_parse(tl_s(cases[i].t), NOW, NULL, "t",
					   &ms, &err), 0);
		cr_assert_eq(tl_time_format_short(ms, cases[i].tz,
						  cases[i].utc, buf), 0);
		cr_expect_str_eq(buf, cases[i].want, "[%zu]", i);
	}
}

/* The two times of a change: as above, or both to the millisecond when
 * they would read the same but differ. */
Test(time, format_pair_shows_what_changed)
{
	static const struct {
		const char *a, *b, *tz;
		const char *want_a, *want_b;
	} cases[] = {
		/* a second or more apart: as tl_time_format_short */
		{ "2026-12-01T10:00:00.000Z", "2026-12-01T10:00:30.250Z", "UTC",
		  "2026-12-01 10:00 UTC", "2026-12-01 10:00:30 UTC" },
		{ "2026-12-01T10:00:00.000Z", "2026-12-01T10:00:00.000Z", "UTC",
		  "2026-12-01 10:00 UTC", "2026-12-01 10:00 UTC" },
		/* less apart than the text shows */
		{ "2026-12-01T10:00:30.000Z", "2026-12-01T10:00:30.250Z", "UTC",
		  "2026-12-01 10:00:30.000 UTC", "2026-12-01 10:00:30.250 UTC" },
		{ "2026-12-01T10:00:00.999Z", "2026-12-01T10:00:00.001Z",
		  "Asia/Kathmandu", "2026-12-01 15:45:00.999 +05:45",
		  "2026-12-01 15:45:00.001 +05:45" },
		/* a repeated hour's times differ by their offsets already */
		{ "2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z",
		  "Europe/Berlin", "2026-10-25 02:30 +02:00",
		  "2026-10-25 02:30 +01:00" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tl_err err = { .index = -1 };
		int64_t a, b;
		char abuf[TL_TIME_EXACT_MAX], bbuf[TL_TIME_EXACT_MAX];
		cr_assert_eq(tl_time_parse(tl_s(cases[i].a), NOW, NULL, "t",
					   &a, &err), 0);
		cr_assert_eq(tl_time_parse(tl_s(cases[i].b), NOW, NULL, "t",
					   &b, &err), 0);
		cr_assert_eq(tl_time_format_pair(a, b, cases[i].tz, true, abuf,
						 bbuf), 0);
		cr_expect_str_eq(abuf, cases[i].want_a, "[%zu]", i);
		cr_expect_str_eq(bbuf, cases[i].want_b, "[%zu]", i);
	}
	/* An offset with seconds (Amsterdam until 1937) fits the buffer. */
	char abuf[TL_TIME_EXACT_MAX], bbuf[TL_TIME_EXACT_MAX];
	int64_t old = INT64_C(-1577923200000); /* 1920-01-01T00:00:00Z */
	cr_assert_eq(tl_time_format_pair(old, old + 5, "Europe/Amsterdam",
					 true, abuf, bbuf), 0);
	cr_expect_str_eq(abuf, "1920-01-01 00:19:32.000 +00:19:32");
	cr_expect_str_eq(bbuf, "1920-01-01 00:19:32.005 +00:19:32");
}

/* text is refused, with a message that holds part. */
static void expect_message(const char *text, const char *part)
{
	tl_err err = { .index = -1 };
	int64_t v;
	expect_invalid(text);
	tl_time_parse(tl_s(text), NOW, NULL, "due", &v, &err);
	cr_expect(strstr(err.message, part), "%s: %s", text, err.message);
}

/* A date of the right shape that is no day: refused, saying so. */
Test(time, parse_names_a_day_that_does_not_exist)
{
	static const char *const bad[] = { "2026-02-30", "2025-02-29",
		"2026-13-01", "2026-04-31T10:00:00Z", "2026-00-10 10:00" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_message(bad[i], "is not a day of the calendar");
	/* a leap day is one */
	expect_parse("2028-02-29", NULL, "2028-02-29T00:00:00.000Z");
}

/* RFC 3339 but for its seconds: refused, saying what is missing. */
Test(time, parse_names_the_seconds_a_utc_time_lacks)
{
	static const char *const bad[] = { "2026-12-01T10:00Z",
		"2026-12-01 10:00z", "2026-12-01T10:00+01:00",
		"2026-12-01t10:00-08:00" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_message(bad[i], "needs its seconds before Z");
	/* other bad times keep the general message */
	static const char *const other[] = { "2026-12-01T10Z",
		"2026-12-01T10:00+xx:yy", "2026-12-01T10:00+0100" };
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		expect_message(other[i], "expected RFC 3339");
}

Test(time, parse_rejects_incomplete_times)
{
	expect_invalid("2026-12-01T10");
	expect_invalid("2026-12-01T10:0");
	expect_invalid("2026-12-01T10:00:0");
	expect_invalid("2026-12-01T10:00.5");
	expect_invalid("2026-12-01T24:00");
	expect_invalid("2026-12-01T10:60");
	expect_invalid("2026-12-01 10:00 ");
	expect_invalid("2026-12-01T10:00:00.");
}

Test(time, parse_wall_clock_time_needs_a_known_zone)
{
	tl_err err = { .index = -1 };
	int64_t v = 42;

	cr_assert_eq(tl_time_parse(tl_s("2026-12-01 10:00"), NOW,
				   "Nowhere/Atlantis", "due", &v, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
	cr_assert_eq(v, 42);
}

static void expect_zone_format(int64_t ms, const char *tz, const char *want)
{
	char buf[40];

	cr_assert_eq(tl_time_format_zone(ms, tz, buf), 0, "%s", tz);
	cr_assert_str_eq(buf, want, "%s", tz ? tz : "UTC");
}

Test(time, format_on_a_zone_wall_clock)
{
	int64_t winter = parse("2026-12-01T10:00:00.250Z");
	int64_t summer = parse("2026-07-01T10:00:00Z");
	char buf[40];

	expect_zone_format(winter, NULL, "2026-12-01T10:00:00.250Z");
	expect_zone_format(winter, "UTC", "2026-12-01T10:00:00.250Z");
	expect_zone_format(winter, "Europe/Berlin",
			   "2026-12-01T11:00:00.250+01:00");
	expect_zone_format(summer, "Europe/Berlin",
			   "2026-07-01T12:00:00.000+02:00");
	expect_zone_format(winter, "Europe/London",
			   "2026-12-01T10:00:00.250+00:00");
	expect_zone_format(winter, "America/St_Johns",
			   "2026-12-01T06:30:00.250-03:30");
	expect_zone_format(winter, "Pacific/Auckland",
			   "2026-12-01T23:00:00.250+13:00");
	/* the day before in UTC is the next day in Auckland */
	expect_zone_format(parse("2026-12-31T12:00:00Z"), "Pacific/Auckland",
			   "2027-01-01T01:00:00.000+13:00");
	/* Monrovia kept -00:44:30 until 1972 */
	expect_zone_format(parse("1971-06-01T12:00:00Z"), "Africa/Monrovia",
			   "1971-06-01T11:15:30.000-00:44:30");
	/* a wall clock past 9999 or before 0000: the UTC form */
	expect_zone_format(parse("9999-12-31T23:30:00Z"), "Europe/Berlin",
			   "9999-12-31T23:30:00.000Z");
	expect_zone_format(parse("9999-12-31T22:59:59.999Z"), "Europe/Berlin",
			   "9999-12-31T23:59:59.999+01:00");
	expect_zone_format(parse("9999-12-31T23:30:00Z"),
			   "America/Los_Angeles",
			   "9999-12-31T15:30:00.000-08:00");
	cr_assert_eq(tl_time_format_zone(winter, "Nowhere/Atlantis", buf),
		     TL_EINVALID);
	cr_assert_str_eq(buf, "2026-12-01T10:00:00.250Z");
}

/* What the formatter writes, the parser reads back: the wall clock with
 * its offset. */
Test(time, format_on_a_zone_round_trips)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland",
		"Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe",
	};
	char buf[40];

	for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++)
		for (int64_t t = parse("2026-01-01T00:00:00Z");
		     t < parse("2027-01-01T00:00:00Z");
		     t += 7 * 3600 * 1000 + 13 * 60 * 1000 + 17) {
			cr_assert_eq(tl_time_format_zone(t, zones[z], buf), 0);
			cr_assert_eq(parse(buf), t, "%s in %s", buf, zones[z]);
		}
}

Test(time, parse_rejects_empty_text)
{
	tl_slice none = { NULL, 0 };
	int64_t v = 42;

	expect_invalid("");
	cr_assert_eq(tl_time_parse(none, NOW, NULL, "due", &v, NULL),
		     TL_EINVALID);
	cr_assert_eq(v, 42);
	/* absent whatever its length says (tasklog.h: p NULL is absent):
	 * lengths of 10 and more reached a check that read p (a static
	 * analyser) */
	for (size_t len = 1; len <= 40; len++) {
		tl_err err;
		none.len = len;
		cr_assert_eq(tl_time_parse(none, NOW, "Europe/Berlin", "due",
					   &v, &err),
			     TL_EINVALID, "length %zu", len);
		cr_assert_str_eq(err.field, "due");
		cr_assert_eq(v, 42);
	}
}

Test(time, parse_rejects_garbage)
{
	expect_invalid("tomorrow");
	expect_invalid("2026/12/01");
	expect_invalid("2026-12-1");
	expect_invalid("26-12-01");
	expect_invalid("02026-12-01");
	expect_invalid(" 2026-12-01");
	expect_invalid("2026-12-01T10:00Z");
	expect_invalid("2026-12-01  10:00:00Z");
	expect_invalid("2026-12-01\t10:00:00Z");
	expect_invalid("2026-12-01T10:00:00.Z");
	expect_invalid("2026-12-01X10:00:00Z");
	expect_invalid("+");
	expect_invalid("-");
	expect_invalid("Z");
}

Test(time, parse_rejects_trailing_text)
{
	expect_invalid("2026-12-01T10:00:00Zx");
	expect_invalid("2026-12-01T10:00:00Z ");
	expect_invalid("2026-12-01T10:00:00+02:00:00");
	expect_invalid("2026-12-01 ");
	expect_invalid("2026-12-01x");
	expect_invalid("+3dx");
	expect_invalid("+3d ");
}

Test(time, parse_rejects_text_with_an_embedded_nul)
{
	tl_slice s = { "2026-12-01\0junk", 15 };
	int64_t v = 42;

	cr_assert_eq(tl_time_parse(s, NOW, NULL, "due", &v, NULL),
		     TL_EINVALID);
}

Test(time, parse_rejects_years_outside_1970_to_9999)
{
	expect_invalid("1969-12-31T23:59:59Z");
	expect_invalid("0000-01-01T00:00:00Z");
	expect_invalid("1969-12-31");
	/* the year is fine, the instant is not */
	expect_invalid("1970-01-01T00:30:00+01:00");
	expect_invalid("9999-12-31T23:30:00-01:00");
	/* the instant decides, not the local date: in range */
	int64_t v;
	tl_err err;
	cr_assert_eq(tl_time_parse(tl_s("1969-12-31T23:00:00-02:00"), NOW, NULL,
				   "due", &v, &err),
		     0, "%s", err.message);
	cr_assert_eq(v, 3600 * 1000);
	cr_assert_eq(tl_time_parse(tl_s("10000-01-01T00:00:00Z"), NOW, NULL,
				   "due", &v, &err),
		     TL_EINVALID);
}

/* ---- dates -------------------------------------------------------------- */

Test(time, parse_date_is_utc_midnight_without_zone)
{
	expect_parse("2026-12-01", NULL, "2026-12-01T00:00:00.000Z");
	expect_parse("2026-12-01", "UTC", "2026-12-01T00:00:00.000Z");
	expect_parse("1970-01-01", NULL, "1970-01-01T00:00:00.000Z");
}

Test(time, parse_date_is_local_midnight_in_zone)
{
	expect_parse("2026-12-01", "Europe/Berlin", "2026-11-30T23:00:00.000Z");
	expect_parse("2026-07-01", "Europe/Berlin", "2026-06-30T22:00:00.000Z");
	expect_parse("2026-07-01", "America/Los_Angeles",
		     "2026-07-01T07:00:00.000Z");
	expect_parse("2026-07-01", "Asia/Kolkata", "2026-06-30T18:30:00.000Z");
}

Test(time, parse_date_on_berlin_spring_forward_day)
{
	expect_parse("2026-03-29", "Europe/Berlin", "2026-03-28T23:00:00.000Z");
	expect_parse("2026-03-30", "Europe/Berlin", "2026-03-29T22:00:00.000Z");
}

Test(time, parse_date_without_midnight_takes_the_end_of_the_gap)
{
	/* 00:00 EET jumps to 01:00 EEST */
	expect_parse("2026-03-29", "Asia/Beirut", "2026-03-28T22:00:00.000Z");
	/* Brazil moved its clocks at midnight until 2019 */
	expect_parse("2018-11-04", "America/Sao_Paulo",
		     "2018-11-04T03:00:00.000Z");
	/* Samoa skipped 2011-12-30 altogether */
	expect_parse("2011-12-30", "Pacific/Apia", "2011-12-30T10:00:00.000Z");
	expect_parse("2011-12-31", "Pacific/Apia", "2011-12-30T10:00:00.000Z");
}

Test(time, parse_date_with_two_midnights_takes_the_first)
{
	/* 01:00 CDT falls back to 00:00 CST */
	expect_parse("2026-11-01", "America/Havana",
		     "2026-11-01T04:00:00.000Z");
}

Test(time, parse_date_rejects_unknown_zone)
{
	tl_err err = { .index = -1 };
	int64_t v = 42;

	cr_assert_eq(tl_time_parse(tl_s("2026-12-01"), NOW, "Nope/Zone", "due",
				   &v, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
	cr_assert(strstr(err.message, "'Nope/Zone'"), "%s", err.message);
	cr_assert_eq(v, 42);
}

Test(time, parse_ignores_zone_for_absolute_times)
{
	cr_assert_eq(parse_in("2026-12-01T10:00:00Z", "Europe/Berlin"), NOW);
	cr_assert_eq(parse_in("+1h", "Europe/Berlin"), NOW + 3600000);
}

/* ---- relative ----------------------------------------------------------- */

Test(time, parse_relative_adds_each_unit)
{
	cr_assert_eq(parse("+10s"), NOW + 10 * 1000);
	cr_assert_eq(parse("+30m"), NOW + 30 * 60000);
	cr_assert_eq(parse("+2h"), NOW + 2 * 3600000);
	cr_assert_eq(parse("+3d"), NOW + 3 * INT64_C(86400000));
	cr_assert_eq(parse("+1w"), NOW + 7 * INT64_C(86400000));
	cr_assert_eq(parse("+0d"), NOW);
	cr_assert_eq(parse("+007m"), NOW + 7 * 60000);
}

Test(time, parse_relative_subtracts_with_minus)
{
	cr_assert_eq(parse("-2h"), NOW - 2 * 3600000);
	cr_assert_eq(parse("-1w"), NOW - 7 * INT64_C(86400000));
}

Test(time, parse_relative_rejects_missing_sign)
{
	expect_invalid("3d");
	expect_invalid("30m");
}

Test(time, parse_relative_rejects_missing_digits_or_unit)
{
	expect_invalid("+d");
	expect_invalid("+3");
	expect_invalid("+3y");
	expect_invalid("+3D");
	expect_invalid("+1d2h");
	expect_invalid("++3d");
	expect_invalid("+-3d");
	expect_invalid("+3 d");
}

/* Past the int64 range or not, a time too far says so (0.3.25: past it,
 * the message was the one of a malformed time). */
static void expect_out_of_range(const char *text)
{
	tl_err err = { .index = -1 };
	int64_t v = 42;

	expect_invalid(text);
	tl_time_parse(tl_s(text), NOW, NULL, "due", &v, &err);
	cr_assert(strstr(err.message, "out of range"), "%s: %s", text,
		  err.message);
}

Test(time, parse_relative_rejects_overflow)
{
	expect_out_of_range("+99999999999999999999s");
	expect_out_of_range("+9223372036854775807w");
	expect_out_of_range("+15250284452w");
	expect_out_of_range("-9223372036854775807s");
	expect_out_of_range("-99999999999999999999999999d");
	/* no overflow, but past year 9999 */
	expect_out_of_range("+500000w");
}

Test(time, parse_relative_rejects_results_before_1970)
{
	tl_err err = { .index = -1 };
	int64_t v = 42;

	cr_assert_eq(tl_time_parse(tl_s("-1d"), 0, NULL, "due", &v, &err),
		     TL_EINVALID);
	cr_assert(strstr(err.message, "out of range"), "%s", err.message);
}

/* ---- messages ----------------------------------------------------------- */

Test(time, parse_error_names_field_and_quotes_value)
{
	tl_err err = { .index = 3 };
	int64_t v;

	cr_assert_eq(tl_time_parse(tl_s("tomorrow"), NOW, NULL, "due", &v,
				   &err), TL_EINVALID);
	cr_assert_eq(err.code, TL_EINVALID);
	cr_assert_eq(err.index, -1); /* not a batch's */
	cr_assert_str_eq(err.field, "due");
	cr_assert_str_eq(err.message,
			 "invalid time 'tomorrow' (expected RFC 3339, "
			 "YYYY-MM-DD, YYYY-MM-DD HH:MM or +3d/-2h/+30m)");
}

Test(time, parse_error_escapes_unprintable_bytes)
{
	tl_err err = { .index = -1 };
	int64_t v;
	size_t i;

	tl_time_parse(tl_s("\x01" "2026\n'\xff"), NOW, NULL, "due", &v, &err);
	cr_assert(strstr(err.message, "'\\x012026\\x0a\\'\\xff'"), "%s",
		  err.message);
	for (i = 0; err.message[i]; i++)
		cr_assert(err.message[i] >= 0x20 && err.message[i] < 0x7f);
}

Test(time, parse_error_truncates_long_values)
{
	char text[2000];
	tl_err err = { .index = -1 };
	int64_t v;

	memset(text, '9', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	tl_time_parse(tl_s(text), NOW, NULL, "due", &v, &err);
	cr_assert(strstr(err.message, "...' (expected"), "%s", err.message);
	cr_assert_lt(strlen(err.message), 200);
}

/* ---- output ------------------------------------------------------------- */

Test(time, format_prints_utc_with_milliseconds)
{
	expect_format(NOW, "2026-12-01T10:00:00.000Z");
	expect_format(NOW + 7, "2026-12-01T10:00:00.007Z");
	expect_format(0, "1970-01-01T00:00:00.000Z");
	expect_format(INT64_C(1000000000000), "2001-09-09T01:46:40.000Z");
	expect_format(INT64_C(951782400000), "2000-02-29T00:00:00.000Z");
	expect_format(INT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
}

Test(time, format_floors_negative_times)
{
	expect_format(-1, "1969-12-31T23:59:59.999Z");
	expect_format(-1500, "1969-12-31T23:59:58.500Z");
	expect_format(-86400000, "1969-12-31T00:00:00.000Z");
	expect_format(INT64_C(-62135596800000), "0001-01-01T00:00:00.000Z");
}

Test(time, format_survives_extreme_values)
{
	char buf[32];

	tl_time_format(INT64_MAX, buf);
	cr_assert_lt(strlen(buf), 32);
	cr_assert_str_eq(buf + strlen(buf) - 5, ".807Z");
	tl_time_format(INT64_MIN, buf);
	cr_assert_lt(strlen(buf), 32);
	cr_assert_eq(buf[0], '-');
	cr_assert_str_eq(buf + strlen(buf) - 5, ".192Z");
}

Test(time, format_and_parse_round_trip)
{
	uint64_t x = 88172645463325252u;
	char buf[32];
	int i;

	for (i = 0; i < 100000; i++) {
		int64_t ms, back = -1;

		/* xorshift: spread over the whole accepted range */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = (int64_t)(x % UINT64_C(253402300800000));
		tl_time_format(ms, buf);
		cr_assert_eq(tl_time_parse(tl_s(buf), 0, NULL, "t", &back,
					   NULL), 0, "%s", buf);
		cr_assert_eq(back, ms, "%s", buf);
	}
}

Test(time, now_is_close_to_time_of_day)
{
	int64_t now = tl_time_now();

	/* after this test was written, before the year 9999 */
	cr_assert_gt(now, INT64_C(1767225600000));
	cr_assert_lt(now, INT64_C(253402300799999));
}

/* ---- zones -------------------------------------------------------------- */

Test(tz, valid_accepts_database_names)
{
	cr_assert(tl_tz_valid("UTC"));
	cr_assert(tl_tz_valid("Europe/Berlin"));
	cr_assert(tl_tz_valid("America/Los_Angeles"));
	cr_assert(tl_tz_valid("America/Argentina/Buenos_Aires"));
	cr_assert(tl_tz_valid("Etc/GMT+5"));
	cr_assert(tl_tz_valid("Etc/GMT-14"));
	cr_assert(tl_tz_valid("Pacific/Auckland"));
}

Test(tz, valid_rejects_unknown_names)
{
	cr_assert_not(tl_tz_valid(NULL));
	cr_assert_not(tl_tz_valid(""));
	cr_assert_not(tl_tz_valid("Nope/Zone"));
	cr_assert_not(tl_tz_valid("Europe/Berlin "));
	cr_assert_not(tl_tz_valid("europe/berlin"));
	cr_assert_not(tl_tz_valid("CET-1CEST"));
	cr_assert_not(tl_tz_valid("Europe"));
	cr_assert_not(tl_tz_valid("Europe/"));
	/* files of the database that name no place */
	cr_assert_not(tl_tz_valid("localtime"));
	cr_assert_not(tl_tz_valid("posixrules"));
	cr_assert_not(tl_tz_valid("Factory"));
	cr_assert_not(tl_tz_valid("right/Europe/Berlin"));
	/* the same under another directory of the database */
	cr_assert_not(tl_tz_valid("posix/Factory"));
	cr_assert_not(tl_tz_valid("posix/posixrules"));
	cr_assert_not(tl_tz_valid("posix/localtime"));
	/* one spelling per zone */
	cr_assert_not(tl_tz_valid("Europe//Berlin"));
	cr_assert_not(tl_tz_valid("Europe/Berlin/"));
	cr_assert_not(tl_tz_valid("America//Argentina/Salta"));
}

Test(tz, valid_rejects_paths_out_of_the_database)
{
	cr_assert_not(tl_tz_valid("../etc/passwd"));
	cr_assert_not(tl_tz_valid("../../../etc/passwd"));
	cr_assert_not(tl_tz_valid("Europe/../../../etc/passwd"));
	cr_assert_not(tl_tz_valid("/etc/localtime"));
	cr_assert_not(tl_tz_valid("/usr/share/zoneinfo/Europe/Berlin"));
	cr_assert_not(tl_tz_valid(":Europe/Berlin"));
	cr_assert_not(tl_tz_valid("zone.tab"));
}

Test(tz, valid_rejects_data_files_that_are_no_zones)
{
	cr_assert_not(tl_tz_valid("leapseconds"));
}

Test(tz, valid_rejects_overlong_names)
{
	char name[400];

	memset(name, 'A', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_not(tl_tz_valid(name));
}

Test(tz, calls_restore_the_previous_tz)
{
	int64_t a, b, v;

	setenv("TZ", "America/New_York", 1);
	cr_assert_eq(tl_day_range(NOW, "Europe/Berlin", &a, &b), 0);
	cr_assert_eq(tl_week_range(NOW, "Asia/Tokyo", 1, &a, &b), 0);
	cr_assert_eq(tl_time_parse(tl_s("2026-12-01"), NOW, "Asia/Tokyo", "t",
				   &v, NULL), 0);
	cr_assert_str_eq(getenv("TZ"), "America/New_York");

	unsetenv("TZ");
	cr_assert_eq(tl_day_range(NOW, "Europe/Berlin", &a, &b), 0);
	cr_assert_null(getenv("TZ"));
}

/* ---- days --------------------------------------------------------------- */

Test(day, range_in_utc_is_the_calendar_day)
{
	expect_day(NULL, "2026-12-01T10:00:00Z", "2026-12-01T00:00:00.000Z",
		   "2026-12-02T00:00:00.000Z");
	expect_day("UTC", "2026-12-01T00:00:00Z", "2026-12-01T00:00:00.000Z",
		   "2026-12-02T00:00:00.000Z");
	expect_day("UTC", "2026-12-01T23:59:59.999Z",
		   "2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z");
}

Test(day, range_handles_times_before_1970)
{
	int64_t a, b;

	cr_assert_eq(tl_day_range(-1, NULL, &a, &b), 0);
	cr_assert_eq(a, -86400000);
	cr_assert_eq(b, 0);
	cr_assert_eq(tl_day_range(-1, "Europe/Berlin", &a, &b), 0);
	expect_format(a, "1969-12-31T23:00:00.000Z");
	expect_format(b, "1970-01-01T23:00:00.000Z");
}

Test(day, range_rejects_unknown_zone)
{
	int64_t a = 1, b = 2;

	cr_assert_eq(tl_day_range(NOW, "Nope/Zone", &a, &b), TL_EINVALID);
	cr_assert_eq(tl_day_range(NOW, "../etc/passwd", &a, &b), TL_EINVALID);
	cr_assert_eq(a, 1);
	cr_assert_eq(b, 2);
}

Test(day, range_rejects_times_out_of_the_calendar)
{
	int64_t a, b;

	cr_assert_eq(tl_day_range(INT64_MAX, NULL, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_day_range(INT64_MIN, "Europe/Berlin", &a, &b),
		     TL_EINVALID);
}

Test(day, berlin_spring_forward_day_is_23_hours)
{
	expect_day("Europe/Berlin", "2026-03-29T12:00:00Z",
		   "2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z");
	cr_assert_eq(day_hours("Europe/Berlin", "2026-03-28T23:00:00Z"), 23);
	cr_assert_eq(day_hours("Europe/Berlin", "2026-03-29T21:59:59.999Z"),
		     23);
	cr_assert_eq(day_hours("Europe/Berlin", "2026-03-29T22:00:00Z"), 24);
	cr_assert_eq(day_hours("Europe/Berlin", "2026-03-28T22:59:59Z"), 24);
}

Test(day, berlin_fall_back_day_is_25_hours)
{
	expect_day("Europe/Berlin", "2026-10-25T12:00:00Z",
		   "2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z");
	/* both 02:30s, CEST and CET, are in it */
	expect_day("Europe/Berlin", "2026-10-25T00:30:00Z",
		   "2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z");
	expect_day("Europe/Berlin", "2026-10-25T01:30:00Z",
		   "2026-10-24T22:00:00.000Z", "2026-10-25T23:00:00.000Z");
	cr_assert_eq(day_hours("Europe/Berlin", "2026-10-25T12:00:00Z"), 25);
}

Test(day, los_angeles_spring_forward_day_is_23_hours)
{
	expect_day("America/Los_Angeles", "2026-03-08T20:00:00Z",
		   "2026-03-08T08:00:00.000Z", "2026-03-09T07:00:00.000Z");
	cr_assert_eq(day_hours("America/Los_Angeles", "2026-03-08T09:59:59Z"),
		     23);
	cr_assert_eq(day_hours("America/Los_Angeles", "2026-03-08T10:00:00Z"),
		     23);
}

Test(day, los_angeles_fall_back_day_is_25_hours)
{
	expect_day("America/Los_Angeles", "2026-11-01T20:00:00Z",
		   "2026-11-01T07:00:00.000Z", "2026-11-02T08:00:00.000Z");
	cr_assert_eq(day_hours("America/Los_Angeles", "2026-11-01T08:30:00Z"),
		     25);
	cr_assert_eq(day_hours("America/Los_Angeles", "2026-11-01T09:30:00Z"),
		     25);
	/* the evening before is still an ordinary PDT day */
	expect_day("America/Los_Angeles", "2026-11-01T06:59:59Z",
		   "2026-10-31T07:00:00.000Z", "2026-11-01T07:00:00.000Z");
}

Test(day, auckland_days_start_before_utc_midnight)
{
	/* 23:00 NZDT on 1 December */
	expect_day("Pacific/Auckland", "2026-12-01T10:00:00Z",
		   "2026-11-30T11:00:00.000Z", "2026-12-01T11:00:00.000Z");
	/* an hour later it is 2 December there */
	expect_day("Pacific/Auckland", "2026-12-01T11:00:00Z",
		   "2026-12-01T11:00:00.000Z", "2026-12-02T11:00:00.000Z");
	expect_parse("2026-12-02", "Pacific/Auckland",
		     "2026-12-01T11:00:00.000Z");
}

Test(day, auckland_dst_days_are_25_and_23_hours)
{
	expect_day("Pacific/Auckland", "2026-04-05T00:00:00Z",
		   "2026-04-04T11:00:00.000Z", "2026-04-05T12:00:00.000Z");
	expect_day("Pacific/Auckland", "2026-09-27T00:00:00Z",
		   "2026-09-26T12:00:00.000Z", "2026-09-27T11:00:00.000Z");
}

Test(day, day_without_midnight_starts_at_the_end_of_the_gap)
{
	expect_day("Asia/Beirut", "2026-03-29T12:00:00Z",
		   "2026-03-28T22:00:00.000Z", "2026-03-29T21:00:00.000Z");
	expect_day("Asia/Beirut", "2026-03-28T21:59:59Z",
		   "2026-03-27T22:00:00.000Z", "2026-03-28T22:00:00.000Z");
}

Test(day, day_before_a_fall_back_over_midnight_keeps_its_repeated_hour)
{
	/* Beirut: 24:00 EEST becomes 23:00 EET on 24 October */
	expect_day("Asia/Beirut", "2026-10-24T21:30:00Z",
		   "2026-10-23T21:00:00.000Z", "2026-10-24T22:00:00.000Z");
	cr_assert_eq(day_hours("Asia/Beirut", "2026-10-24T12:00:00Z"), 25);
}

/* Milliseconds of a UTC wall time, also before 1970 (which the time
 * parser refuses as input; day ranges are computed for any instant). */
static int64_t utc_ms(int y, int mo, int d, int h, int mi, int sec)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	return (int64_t)timegm(&tm) * 1000;
}

/* Phoenix, 1 January 1944: 00:00:59 MWT became 23:01 MST of 31 December,
 * so the clocks fell back past midnight into the day before.  1 January
 * began at its first midnight (06:00Z) and holds the repeated stretch;
 * the days still tile: every instant is in the day found for it, and the
 * day before ends where this one begins. */
Test(day, a_fall_back_past_midnight_keeps_the_days_tiled)
{
	const int64_t jan1 = utc_ms(1944, 1, 1, 6, 0, 0),
		      jan2 = utc_ms(1944, 1, 2, 7, 0, 0),
		      dec31 = utc_ms(1943, 12, 31, 6, 0, 0);
	const struct {
		int64_t t, start, end;
	} want[] = {
		{ utc_ms(1944, 1, 1, 6, 30, 0), jan1, jan2 },
		{ utc_ms(1944, 1, 1, 6, 0, 30), jan1, jan2 },
		{ utc_ms(1944, 1, 1, 5, 59, 59), dec31, jan1 },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int64_t start, end;
		cr_assert_eq(tl_day_range(want[i].t, "America/Phoenix", &start,
					  &end),
			     0);
		cr_assert(start == want[i].start && end == want[i].end,
			  "%zu: [%lld, %lld)", i, (long long)start,
			  (long long)end);
		cr_assert(start <= want[i].t && want[i].t < end);
	}
}

Test(day, day_with_two_midnights_starts_at_the_first)
{
	/* Havana: 01:00 CDT becomes 00:00 CST on 1 November */
	expect_day("America/Havana", "2026-11-01T04:30:00Z",
		   "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z");
	expect_day("America/Havana", "2026-11-01T05:30:00Z",
		   "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z");
	expect_day("America/Havana", "2026-11-01T03:59:59Z",
		   "2026-10-31T04:00:00.000Z", "2026-11-01T04:00:00.000Z");
}

Test(day, skipped_samoa_day_has_no_length)
{
	expect_day("Pacific/Apia", "2011-12-30T09:59:59Z",
		   "2011-12-29T10:00:00.000Z", "2011-12-30T10:00:00.000Z");
	expect_day("Pacific/Apia", "2011-12-30T10:00:00Z",
		   "2011-12-30T10:00:00.000Z", "2011-12-31T10:00:00.000Z");
}

Test(day, consecutive_ranges_tile_the_year)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland",
		"Asia/Beirut", "America/Havana", "Australia/Lord_Howe",
		"Asia/Kolkata", "UTC"
	};
	size_t z;

	for (z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		int64_t t = parse("2026-01-01T00:00:00Z"), a, b, prev_end;
		int days;

		cr_assert_eq(tl_day_range(t, zones[z], &a, &b), 0);
		prev_end = b;
		for (days = 0; days < 366; days++) {
			cr_assert_eq(tl_day_range(prev_end, zones[z], &a, &b),
				     0);
			cr_assert_eq(a, prev_end, "%s day %d", zones[z], days);
			cr_assert_geq(b - a, 23 * 3600000, "%s", zones[z]);
			cr_assert_leq(b - a, 25 * 3600000, "%s", zones[z]);
			prev_end = b;
		}
	}
}

/* ---- weeks -------------------------------------------------------------- */

Test(week, range_in_utc_starts_monday_or_sunday)
{
	/* 2026-12-01 is a Tuesday */
	expect_week(NULL, 1, "2026-12-01T10:00:00Z",
		    "2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z");
	expect_week(NULL, 0, "2026-12-01T10:00:00Z",
		    "2026-11-29T00:00:00.000Z", "2026-12-06T00:00:00.000Z");
	/* the first day of the week is in it */
	expect_week(NULL, 1, "2026-11-30T00:00:00Z",
		    "2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z");
	expect_week(NULL, 0, "2026-11-29T00:00:00Z",
		    "2026-11-29T00:00:00.000Z", "2026-12-06T00:00:00.000Z");
	/* and the last one */
	expect_week(NULL, 1, "2026-12-06T23:59:59Z",
		    "2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z");
}

Test(week, range_handles_times_before_1970)
{
	/* 1970-01-01 was a Thursday */
	expect_format(0, "1970-01-01T00:00:00.000Z");
	{
		int64_t a, b;

		cr_assert_eq(tl_week_range(0, NULL, 1, &a, &b), 0);
		expect_format(a, "1969-12-29T00:00:00.000Z");
		expect_format(b, "1970-01-05T00:00:00.000Z");
	}
}

Test(week, berlin_week_with_spring_forward_is_167_hours)
{
	/* 2026-03-29 is the Sunday the clocks go forward */
	expect_week("Europe/Berlin", 1, "2026-03-29T12:00:00Z",
		    "2026-03-22T23:00:00.000Z", "2026-03-29T22:00:00.000Z");
	expect_week("Europe/Berlin", 0, "2026-03-29T12:00:00Z",
		    "2026-03-28T23:00:00.000Z", "2026-04-04T22:00:00.000Z");
	expect_week("Europe/Berlin", 0, "2026-03-28T12:00:00Z",
		    "2026-03-21T23:00:00.000Z", "2026-03-28T23:00:00.000Z");
}

Test(week, berlin_week_with_fall_back_is_169_hours)
{
	expect_week("Europe/Berlin", 1, "2026-10-25T12:00:00Z",
		    "2026-10-18T22:00:00.000Z", "2026-10-25T23:00:00.000Z");
	expect_week("Europe/Berlin", 0, "2026-10-25T12:00:00Z",
		    "2026-10-24T22:00:00.000Z", "2026-10-31T23:00:00.000Z");
}

Test(week, los_angeles_weeks_across_both_changes)
{
	expect_week("America/Los_Angeles", 1, "2026-03-08T20:00:00Z",
		    "2026-03-02T08:00:00.000Z", "2026-03-09T07:00:00.000Z");
	expect_week("America/Los_Angeles", 0, "2026-03-08T20:00:00Z",
		    "2026-03-08T08:00:00.000Z", "2026-03-15T07:00:00.000Z");
	expect_week("America/Los_Angeles", 1, "2026-11-01T12:00:00Z",
		    "2026-10-26T07:00:00.000Z", "2026-11-02T08:00:00.000Z");
	expect_week("America/Los_Angeles", 0, "2026-11-01T12:00:00Z",
		    "2026-11-01T07:00:00.000Z", "2026-11-08T08:00:00.000Z");
}

Test(week, range_uses_the_local_weekday)
{
	/* Monday 00:30 in Auckland is still Sunday in UTC */
	expect_week("Pacific/Auckland", 1, "2026-11-29T11:30:00Z",
		    "2026-11-29T11:00:00.000Z", "2026-12-06T11:00:00.000Z");
	expect_week(NULL, 1, "2026-11-29T11:30:00Z",
		    "2026-11-23T00:00:00.000Z", "2026-11-30T00:00:00.000Z");
}

Test(week, range_rejects_bad_week_start_and_zone)
{
	int64_t a = 1, b = 2;

	cr_assert_eq(tl_week_range(NOW, NULL, 7, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_week_range(NOW, NULL, -1, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_week_range(NOW, "Nope/Zone", 1, &a, &b), TL_EINVALID);
	cr_assert_eq(a, 1);
	cr_assert_eq(b, 2);
}

/* ---- the TZif reader against the C library ---------------------------------
 * time.c reads zone files itself (the C library would need TZ changed for
 * the whole process).  Every zone of zone1970.tab, at instants spread
 * over 1850-2200 (before the first transition of most zones, after the
 * last, where the POSIX footer rule applies) and on both sides of every
 * transition of 1970-2200, must have the offset glibc's localtime_r gives
 * from the same files. */

/* The C library's offset at t, TZ set to the zone beforehand. */
static int64_t libc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	cr_assert(localtime_r(&tt, &tm));
	return tm.tm_gmtoff;
}

static void same_offset(const char *tz, int64_t t, size_t *checked)
{
	int64_t mine;
	cr_assert_eq(tl_zone_offset(tz, t, &mine), 0, "%s", tz);
	int64_t libc = libc_offset(t);
	cr_assert_eq(mine, libc, "%s at %lld: %lld, the C library %lld", tz,
		     (long long)t, (long long)mine, (long long)libc);
	(*checked)++;
}

Test(tz, offsets_equal_the_c_librarys_for_every_zone)
{
	FILE *f = fopen("/usr/share/zoneinfo/zone1970.tab", "r");
	cr_assert(f, "no zone1970.tab (tzdata)");
	char line[512];
	size_t zones = 0, checked = 0;
	const int64_t from = 0, to = INT64_C(7258118400); /* 2200 */
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
		char *tab1 = strchr(line, '\t'), *tab2, *end;
		if (!tab1 || !(tab2 = strchr(tab1 + 1, '\t')))
			continue;
		char *tz = tab2 + 1;
		end = tz + strcspn(tz, "\t\n");
		*end = 0;
		zones++;
		char spec[300];
		snprintf(spec, sizeof spec, ":%s", tz);
		setenv("TZ", spec, 1);
		tzset();
		/* every 9 days and 7 hours: all hours, all weekdays; from
		 * 1850, before the first transition of most zones */
		for (int64_t t = INT64_C(-3786825600); t < to;
		     t += 9 * 86400 + 7 * 3600)
			same_offset(tz, t, &checked);
		/* each change of offset found by a daily walk, to the second */
		int64_t prev, cur;
		cr_assert_eq(tl_zone_offset(tz, from, &prev), 0);
		for (int64_t t = from + 86400; t < to; t += 86400) {
			cr_assert_eq(tl_zone_offset(tz, t, &cur), 0);
			if (cur == prev)
				continue;
			int64_t lo = t - 86400, hi = t, o;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				cr_assert_eq(tl_zone_offset(tz, mid, &o), 0);
				if (o == prev)
					lo = mid;
				else
					hi = mid;
			}
			same_offset(tz, lo, &checked);
			same_offset(tz, hi, &checked);
			prev = cur;
		}
	}
	fclose(f);
	unsetenv("TZ");
	tzset();
	cr_assert_gt(zones, 300, "only %zu zones", zones);
	cr_log_info("%zu offsets of %zu zones", checked, zones);
}

/* Zone arithmetic keeps no global state: another thread that reads local
 * time meanwhile never sees a zone of ours (the C library's way, TZ set
 * for each call, showed it). */
static atomic_int zone_loop_done;
static int zone_loop_failed; /* read after the join */

/* No cr_assert here: a failed one would jump out of this thread. */
static void *zone_loop(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		int64_t a, b;
		zone_loop_failed +=
			tl_day_range(NOW + i * INT64_C(3600000),
				     i % 2 ? "Pacific/Auckland"
					   : "America/Los_Angeles",
				     &a, &b) != 0;
	}
	atomic_store(&zone_loop_done, 1);
	return NULL;
}

Test(tz, zone_reads_leave_the_process_zone_alone)
{
	setenv("TZ", "UTC", 1);
	tzset();
	pthread_t th;
	atomic_store(&zone_loop_done, 0);
	zone_loop_failed = 0;
	cr_assert_eq(pthread_create(&th, NULL, zone_loop, NULL), 0);
	size_t seen = 0, bad = 0;
	while (!atomic_load(&zone_loop_done)) {
		time_t t = (time_t)(NOW / 1000);
		struct tm tm;
		cr_assert(localtime_r(&t, &tm));
		bad += tm.tm_gmtoff != 0;
		seen++;
	}
	pthread_join(th, NULL);
	unsetenv("TZ");
	tzset();
	cr_assert_eq(zone_loop_failed, 0, "tl_day_range failed %d times",
		     zone_loop_failed);
	cr_assert_eq(bad, 0, "%zu of %zu local times were not UTC", bad, seen);
}

/* A one-type TZif file (version 1) with UTC offset off. */
static size_t tzif_one(uint8_t *b, int32_t off)
{
	memset(b, 0, 44);
	memcpy(b, "TZif", 4);
	b[20 + 4 * 4 + 3] = 1; /* typecnt */
	b[20 + 5 * 4 + 3] = 4; /* charcnt */
	uint32_t u = (uint32_t)off;
	b[44] = (uint8_t)(u >> 24);
	b[45] = (uint8_t)(u >> 16);
	b[46] = (uint8_t)(u >> 8);
	b[47] = (uint8_t)u;
	b[48] = 0; /* isdst */
	b[49] = 0; /* desigidx */
	memcpy(b + 50, "XYZ", 4);
	return 54;
}

/* The reader refuses what it cannot use: offsets past RFC 8536's range
 * (found by fuzz_tzif), short or foreign files. */
Test(tz, tzif_reader_refuses_bad_files)
{
	uint8_t b[64];
	int64_t off;
	size_t n = tzif_one(b, 3600);
	cr_assert_eq(tl_zone_parse(b, n, 0, &off), 0);
	cr_assert_eq(off, 3600);
	n = tzif_one(b, 93600); /* 26 h */
	cr_assert_eq(tl_zone_parse(b, n, 0, &off), TL_EINVALID);
	n = tzif_one(b, -90000);
	cr_assert_eq(tl_zone_parse(b, n, 0, &off), TL_EINVALID);
	n = tzif_one(b, 3600);
	cr_assert_eq(tl_zone_parse(b, n - 1, 0, &off), TL_EINVALID);
	memcpy(b, "TZiX", 4);
	cr_assert_eq(tl_zone_parse(b, n, 0, &off), TL_EINVALID);
}

/* A version 2 TZif file without transitions: one type of offset off in
 * both headers' data, then the footer (without its last newline when nl
 * is false).  Returns its length. */
static size_t tzif_footer(uint8_t *b, size_t cap, int32_t off,
			  const char *footer, bool nl)
{
	size_t n = tzif_one(b, off), fl = strlen(footer);
	b[4] = '2';
	cr_assert_lt(2 * n + fl + 2, cap);
	memcpy(b + n, b, n); /* the 64-bit part: the same, no times */
	n *= 2;
	b[n++] = '\n';
	memcpy(b + n, footer, fl);
	n += fl;
	if (nl)
		b[n++] = '\n';
	return n;
}

static int64_t footer_offset(const char *footer, bool nl, int64_t t)
{
	uint8_t b[512];
	int64_t off;
	size_t n = tzif_footer(b, sizeof b, 0, footer, nl);
	cr_assert_eq(tl_zone_parse(b, n, t, &off), 0, "%s", footer);
	return off;
}

/* Footer rules the shipped files do not exercise (found by review):
 * changes that a rule time pushes over New Year, a footer without its
 * last newline, and a long one. */
Test(tz, footer_rules_of_every_shape)
{
	/* DST from day 0 at -1:00 (the evening before New Year) to day
	 * 300; 1976-01-01T02:30Z is in DST: -2 h, not -3 h */
	cr_assert_eq(footer_offset("XXX3YYY,0/-1,300", true,
				   INT64_C(189311400)), -7200);
	/* DST ends on day 365 at 25:00 DST, past New Year */
	cr_assert_eq(footer_offset("XXX-5YYY,365/25,100", true,
				   INT64_C(220906800)), 18000);
	/* DST all year: no hour of standard time at New Year */
	cr_assert_eq(footer_offset("EST5EDT,0/0,J365/25", true,
				   INT64_C(1767225600)), -4 * 3600);
	/* Berlin's rule, the last newline missing: winter and summer */
	cr_assert_eq(footer_offset("CET-1CEST,M3.5.0,M10.5.0/3", false,
				   INT64_C(1767225600)), 3600);
	cr_assert_eq(footer_offset("CET-1CEST,M3.5.0,M10.5.0/3", false,
				   INT64_C(1751328000)), 7200);
	/* southern: Auckland, January is summer */
	cr_assert_eq(footer_offset("NZST-12NZDT,M9.5.0,M4.1.0/3", true,
				   INT64_C(1767225600)), 13 * 3600);
	/* a footer of 143 characters */
	char longf[200] = "<";
	memset(longf + 1, 'A', 60);
	strcpy(longf + 61, ">-1<");
	memset(longf + 65, 'B', 60);
	strcpy(longf + 125, ">,M3.5.0,M10.5.0/3");
	cr_assert_eq(footer_offset(longf, true, INT64_C(1751328000)), 7200);
	/* not a rule: refused, not ignored */
	uint8_t b[512];
	int64_t off;
	size_t n = tzif_footer(b, sizeof b, 0, "CET-1CEST,M13.5.0,M10.5.0",
			       true);
	cr_assert_eq(tl_zone_parse(b, n, 0, &off), TL_EINVALID);
}

/* A zone given with empty parts ("Europe//Paris": a name a workspace of
 * 0.3.2 or earlier may hold) is the zone of the one spelling, read and
 * kept once: a process handed ever new spellings (a server, its clients'
 * zones) kept each (2.4 KB) until 0.3.54. */
Test(tz, spellings_of_one_zone_are_kept_once)
{
	char buf[40], want[40], name[128];
	cr_assert_eq(tl_time_format_zone(0, "Europe/Paris", want), 0);
	cr_assert_str_eq(want, "1970-01-01T01:00:00.000+01:00");
	size_t kept = tl_zones_kept();
	for (int i = 1; i < 64; i++) {
		int n = snprintf(name, sizeof name, "Europe");
		for (int j = 0; j < i % 16 + 1; j++)
			name[n++] = '/';
		snprintf(name + n, sizeof name - (size_t)n, "Paris");
		cr_assert_eq(tl_time_format_zone(0, name, buf), 0, "%s", name);
		cr_assert_str_eq(buf, want, "%s", name);
		int64_t s, e;
		cr_assert_eq(tl_week_range(0, name, 1, &s, &e), 0, "%s", name);
	}
	cr_assert_eq(tl_zones_kept(), kept);
	/* what the one spelling refuses stays refused */
	cr_assert_neq(tl_time_format_zone(0, "Europe/Paris/", buf), 0);
	cr_assert_neq(tl_time_format_zone(0, "Europe//Nowhere", buf), 0);
	cr_assert_neq(tl_time_format_zone(0, "//Europe/Paris", buf), 0);
	cr_assert_eq(tl_zones_kept(), kept);
	/* nor does a long name of slashes shrink under the length limit */
	memset(name, 0, sizeof name);
	char big[300];
	memset(big, '/', sizeof big);
	memcpy(big, "Europe", 6);
	memcpy(big + 290, "Paris", 6);
	cr_assert_neq(tl_time_format_zone(0, big, buf), 0);
}
