/*
 * unit_time_text_audit.c - tests a mutation audit of engine/time.c (time
 * input, output, zones, day and week ranges) and of the search folding
 * of engine/text.c (tl_text_fold, is_accent, tl_text_holds) with the
 * search's word cutting (projections/query.c) found missing: each fails
 * on one mutant that the other tests let pass, and passes on the code as
 * it is.
 *
 * Nothing here depends on the date or on the process's TZ: zones are
 * named in each call and read from the system database (tzdata), at
 * historical instants that the database no longer changes.  The search
 * tests at the end make a workspace under /tmp (tu_tmpdir), removed by
 * their fini.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tasklog.h"
#include "tasklog_projections.h"
#include "testutil.h"

/* ---- time ----------------------------------------------------------------- */

#define DAY_MS INT64_C(86400000)
#define YEAR1_MS INT64_C(-62135596800000) /* 0001-01-01T00:00:00Z */
#define YEAR0_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00Z */
#define END_MS INT64_C(253402300799999)   /* 9999-12-31T23:59:59.999Z */

static void expect_format(int64_t ms, const char *want)
{
	char buf[48];
	tl_time_format(ms, buf);
	cr_assert_str_eq(buf, want, "%lld", (long long)ms);
}

static int64_t parse_in(const char *text, const char *tz)
{
	tl_err err = { .index = -1 };
	int64_t v = -1;
	cr_assert_eq(tl_time_parse(tl_s(text), 0, tz, "due", &v, &err), 0,
		     "'%s' in %s: %s", text, tz, err.message);
	return v;
}

/* Africa/Monrovia kept -0:44:30 until 1972-01-07T00:44:30Z, then UTC: the
 * change falls inside a step of the search for a wall time (30 min from
 * a wall time 26 h back), so a wall time of the old offset just before
 * it is found in the stretch before the change, not after it.  Mutants:
 * zone_first_instant without `if (wall - prev_off < cut) return ...`, or
 * returning the change itself there. */
Test(time_audit, a_wall_time_just_before_the_change_of_an_odd_offset)
{
	char b[32];
	tl_time_format(parse_in("1972-01-06T23:50:00", "Africa/Monrovia"), b);
	cr_assert_str_eq(b, "1972-01-07T00:34:30.000Z");
	tl_time_format(parse_in("1972-01-06T23:59:59.250", "Africa/Monrovia"),
		       b);
	cr_assert_str_eq(b, "1972-01-07T00:44:29.250Z");
	/* the skipped local times, and the first after them */
	tl_time_format(parse_in("1972-01-07T00:00:00", "Africa/Monrovia"), b);
	cr_assert_str_eq(b, "1972-01-07T00:44:30.000Z");
	tl_time_format(parse_in("1972-01-07T00:50:00", "Africa/Monrovia"), b);
	cr_assert_str_eq(b, "1972-01-07T00:50:00.000Z");
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A version 1 TZif file (no footer) with two types, +1:00 and +2:00,
 * and one transition to the second at instant 1000 (s). */
static size_t tzif_one_change(uint8_t *b)
{
	memset(b, 0, 128);
	memcpy(b, "TZif", 4);
	put_be32(b + 20 + 3 * 4, 1); /* timecnt */
	put_be32(b + 20 + 4 * 4, 2); /* typecnt */
	put_be32(b + 20 + 5 * 4, 4); /* charcnt */
	uint8_t *p = b + 44;
	put_be32(p, 1000); /* the transition */
	p += 4;
	*p++ = 1; /* to type 1 */
	put_be32(p, 3600); /* type 0: +1:00, isdst 0, abbreviation 0 */
	p += 6;
	put_be32(p, 7200); /* type 1: +2:00 */
	p += 6;
	memcpy(p, "XYZ", 4);
	return (size_t)(p + 4 - b);
}

/* Without a footer rule, the offset after the last transition is that
 * transition's (RFC 8536 3.2 leaves it to the reader; the C library
 * does the same).  Mutant: zone_offset returning type 0's there. */
Test(time_audit, a_zone_without_a_footer_keeps_its_last_offset)
{
	uint8_t b[128];
	int64_t off = 0;
	size_t n = tzif_one_change(b);
	cr_assert_eq(tl_zone_parse(b, n, 999, &off), 0);
	cr_assert_eq(off, 3600);
	cr_assert_eq(tl_zone_parse(b, n, 1000, &off), 0);
	cr_assert_eq(off, 7200);
	cr_assert_eq(tl_zone_parse(b, n, INT64_C(4000000000), &off), 0);
	cr_assert_eq(off, 7200);
}

/* A version 2 TZif file of one type (UTC) and no transition, then the
 * footer rule. */
static size_t tzif_footer(uint8_t *b, const char *footer)
{
	memset(b, 0, 54);
	memcpy(b, "TZif2", 5);
	put_be32(b + 20 + 4 * 4, 1); /* typecnt */
	put_be32(b + 20 + 5 * 4, 4); /* charcnt */
	memcpy(b + 50, "XYZ", 4);
	memcpy(b + 54, b, 54); /* the 64-bit part: the same */
	size_t n = 108, fl = strlen(footer);
	b[n++] = '\n';
	memcpy(b + n, footer, fl);
	n += fl;
	b[n++] = '\n';
	return n;
}

/* POSIX's Jn counts no February 29: J60 is March 1 in every year.
 * Mutant: rule_day adding the leap day only from n > 60. */
Test(time_audit, julian_day_60_is_march_1_in_a_leap_year)
{
	uint8_t b[256];
	int64_t off = 0;
	size_t n = tzif_footer(b, "XXX-1YYY,J60/0,J300/0");
	/* 2028-02-29T12:00Z: standard time still */
	cr_assert_eq(tl_zone_parse(b, n, INT64_C(1835438400), &off), 0);
	cr_assert_eq(off, 3600);
	/* 2028-03-01T12:00Z: DST since the local midnight */
	cr_assert_eq(tl_zone_parse(b, n, INT64_C(1835524800), &off), 0);
	cr_assert_eq(off, 7200);
	/* and in a common year: 2027-03-01T12:00Z, 2027-02-28T12:00Z */
	cr_assert_eq(tl_zone_parse(b, n, INT64_C(1803902400), &off), 0);
	cr_assert_eq(off, 7200);
	cr_assert_eq(tl_zone_parse(b, n, INT64_C(1803816000), &off), 0);
	cr_assert_eq(off, 3600);
}

/* Day ranges are computed for years 1 to 9999: the first instant of
 * year 1 has one, the instant before it none.  Mutant: tl_day_range
 * refusing t <= its lower bound. */
Test(time_audit, the_day_range_of_the_first_instant_of_year_1)
{
	int64_t a = 0, b = 0;
	cr_assert_eq(tl_day_range(YEAR1_MS, NULL, &a, &b), 0);
	cr_assert_eq(a, YEAR1_MS);
	cr_assert_eq(b, YEAR1_MS + DAY_MS);
	cr_assert_eq(tl_day_range(YEAR1_MS - 1, NULL, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_day_range(END_MS, NULL, &a, &b), 0);
	cr_assert_eq(b, END_MS + 1);
	cr_assert_eq(tl_day_range(END_MS + 1, NULL, &a, &b), TL_EINVALID);
}

/* The same bounds for weeks: 9999-12-31 (a Friday) is in the week of
 * Monday 9999-12-27, which ends in year 10000; 0001-01-01 is a Monday.
 * Mutant: tl_week_range refusing t >= its upper bound. */
Test(time_audit, week_ranges_at_the_ends_of_the_calendar)
{
	int64_t a = 0, b = 0;
	cr_assert_eq(tl_week_range(END_MS, NULL, 1, &a, &b), 0);
	expect_format(a, "9999-12-27T00:00:00.000Z");
	cr_assert_eq(b, a + 7 * DAY_MS);
	cr_assert_eq(tl_week_range(END_MS, "Europe/Berlin", 0, &a, &b), 0);
	expect_format(a, "9999-12-25T23:00:00.000Z");
	cr_assert_eq(tl_week_range(END_MS + 1, NULL, 1, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_week_range(YEAR1_MS, NULL, 1, &a, &b), 0);
	cr_assert_eq(a, YEAR1_MS);
	cr_assert_eq(tl_week_range(YEAR1_MS - 1, NULL, 1, &a, &b),
		     TL_EINVALID);
	cr_assert_eq(tl_week_range(INT64_MIN, NULL, 1, &a, &b), TL_EINVALID);
	cr_assert_eq(tl_week_range(INT64_MAX, NULL, 1, &a, &b), TL_EINVALID);
}

/* Year 0 is printed with four digits like every year up to 9999.
 * Mutant: tl_time_format printing it as "0". */
Test(time_audit, year_0_has_four_digits)
{
	expect_format(YEAR0_MS, "0000-01-01T00:00:00.000Z");
	expect_format(YEAR0_MS + 366 * DAY_MS - 1,
		      "0000-12-31T23:59:59.999Z");
	expect_format(YEAR0_MS - 1, "-1-12-31T23:59:59.999Z");
}

/* A zone's wall clock is printed from 0000-01-01T00:00 on; before it,
 * the time in UTC.  Berlin's offset then is its local mean time,
 * +0:53:28.  Mutant: the lower bound excluding 0000-01-01T00:00 itself. */
Test(time_audit, a_wall_clock_of_year_0_in_a_zone)
{
	char b[48];
	int64_t lmt = 53 * 60 + 28;
	cr_assert_eq(tl_time_format_zone(YEAR0_MS - lmt * 1000,
					 "Europe/Berlin", b), 0);
	cr_assert_str_eq(b, "0000-01-01T00:00:00.000+00:53:28");
	cr_assert_eq(tl_time_format_zone(YEAR0_MS - lmt * 1000 - 1,
					 "Europe/Berlin", b), 0);
	cr_assert_str_eq(b, "-1-12-31T23:06:31.999Z");
	cr_assert_eq(tl_time_format_zone(END_MS - 3600000, "Europe/Berlin",
					 b), 0);
	cr_assert_str_eq(b, "9999-12-31T23:59:59.999+01:00");
}

/* An error quotes the first 48 bytes of the value, then "...".
 * Mutant: quote_value's bound of 47. */
Test(time_audit, an_error_quotes_48_bytes_of_the_value)
{
	char text[61], want[80];
	tl_err err = { .index = -1 };
	int64_t v;
	for (int i = 0; i < 60; i++)
		text[i] = (char)('a' + i % 26);
	text[60] = 0;
	cr_assert_eq(tl_time_parse(tl_s(text), 0, NULL, "due", &v, &err),
		     TL_EINVALID);
	snprintf(want, sizeof want, "'%.48s...'", text);
	cr_assert(strstr(err.message, want), "%s", err.message);
	text[48] = 0; /* 48 bytes: whole */
	cr_assert_eq(tl_time_parse(tl_s(text), 0, NULL, "due", &v, &err),
		     TL_EINVALID);
	snprintf(want, sizeof want, "'%s'", text);
	cr_assert(strstr(err.message, want), "%s", err.message);
}

/* A zone name is at most 255 bytes: a stored one of 255 (empty parts
 * make it long) is read, one of 256 is not.  Mutant: a bound of 256,
 * which also writes one byte past the path buffer. */
Test(time_audit, a_stored_zone_name_of_255_bytes_is_the_longest)
{
	char name[300];
	int64_t off = 0;
	size_t n;
	for (n = 255; n <= 256; n++) {
		memcpy(name, "Europe", 6);
		memset(name + 6, '/', n - 12);
		memcpy(name + n - 6, "Berlin", 7);
		cr_assert_eq(strlen(name), n);
		cr_assert_not(tl_tz_valid(name));
		if (n == 255) {
			cr_assert(tl_tz_stored_ok(name));
			cr_assert_eq(tl_zone_offset(name, 0, &off), 0);
			cr_assert_eq(off, 3600);
		} else {
			cr_assert_not(tl_tz_stored_ok(name));
			cr_assert_eq(tl_zone_offset(name, 0, &off),
				     TL_EINVALID);
		}
	}
}

/* ---- search folding ------------------------------------------------------- */

/* s folded must be the n code points of want. */
static void expect_fold(const char *s, const int32_t *want, size_t n)
{
	int32_t cp[64];
	ptrdiff_t got = tl_text_fold(tl_s(s), cp, 64);
	cr_assert_eq(got, (ptrdiff_t)n, "'%s': %td code points, not %zu", s,
		     got, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(cp[i], want[i], "'%s' [%zu]: U+%04X, not U+%04X",
			     s, i, (unsigned)cp[i], (unsigned)want[i]);
}
#define FOLDS(s, ...)                                                      \
	expect_fold(s, (const int32_t[]){ __VA_ARGS__ },                   \
		    sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t))

/* Whether text, folded, holds word, folded. */
static bool holds(const char *text, const char *word)
{
	int32_t t[64], w[64];
	ptrdiff_t n = tl_text_fold(tl_s(text), t, 64);
	ptrdiff_t m = tl_text_fold(tl_s(word), w, 64);
	cr_assert(n >= 0 && n <= 64 && m >= 0 && m <= 64);
	return tl_text_holds(t, (size_t)n, w, (size_t)m);
}

/* The overlays of the combining diacritical marks (U+0334..0338, class
 * 1) go as the block goes: struck-through text is found, and "≠" is
 * "=" with its long solidus overlay.  Mutant: the block ending at
 * U+0337. */
Test(fold_audit, struck_through_text_is_found)
{
	const char *struck = "s\xcc\xb6t\xcc\xb6r\xcc\xb6i\xcc\xb6k\xcc\xb6"
			     "e\xcc\xb6";
	FOLDS(struck, 's', 't', 'r', 'i', 'k', 'e');
	cr_assert(holds(struck, "strike"));
	FOLDS("\xe2\x89\xa0", '=');
	FOLDS("a\xcc\xb8", 'a');
}

/* U+1ABE COMBINING PARENTHESES OVERLAY, an enclosing mark (Me, class 0)
 * of the extended block, goes.  Mutant: the block ending at U+1ABD. */
Test(fold_audit, the_extended_blocks_enclosing_mark_is_dropped)
{
	FOLDS("a\xe1\xaa\xbe", 'a');
	cr_assert(holds("xa\xe1\xaa\xbey", "xay"));
}

/* The enclosing marks for symbols (U+20DD..20E4, Me, class 0) go: the
 * keycap "1️⃣" (1, VS16, U+20E3) is "1", a circled "a⃝" is "a".
 * Mutant: the block ending at U+20DC. */
Test(fold_audit, a_keycap_and_an_enclosing_circle_are_dropped)
{
	FOLDS("1\xef\xb8\x8f\xe2\x83\xa3", '1');
	FOLDS("a\xe2\x83\x9d", 'a');
	cr_assert(holds("room 1\xef\xb8\x8f\xe2\x83\xa3" "2\xef\xb8\x8f"
			"\xe2\x83\xa3", "12"));
}

/* Telugu's length marks (U+0C55, U+0C56: Mn, classes 84 and 91) make
 * another vowel and stay: "కై" (kai, U+0C48 = U+0C46 + U+0C56) is not
 * "కె" (ke).  Mutants: without the Telugu exception, or with it ending
 * at U+0C55. */
Test(fold_audit, telugu_vowel_length_marks_are_kept)
{
	FOLDS("\xe0\xb0\x95\xe0\xb1\x88", 0x0c15, 0x0c48);
	cr_assert_not(holds("\xe0\xb0\x95\xe0\xb1\x88",
			    "\xe0\xb0\x95\xe0\xb1\x86"));
	cr_assert(holds("\xe0\xb0\x95\xe0\xb1\x88",
			"\xe0\xb0\x95\xe0\xb1\x88"));
}

/* Lao (U+0EB8 u, class 118) and Tibetan (U+0F72 i, class 130) vowel
 * signs are spelled letters: ກຸ is no ກ, ཀི no ཀ.  Mutants: the
 * exception ending at U+0EFF (Tibetan) or U+0E7F (Lao too). */
Test(fold_audit, lao_and_tibetan_vowel_signs_are_kept)
{
	FOLDS("\xe0\xba\x81\xe0\xba\xb8", 0x0e81, 0x0eb8);
	cr_assert_not(holds("\xe0\xba\x81\xe0\xba\xb8", "\xe0\xba\x81"));
	FOLDS("\xe0\xbd\x80\xe0\xbd\xb2", 0x0f40, 0x0f72);
	cr_assert_not(holds("\xe0\xbd\x80\xe0\xbd\xb2", "\xe0\xbd\x80"));
	FOLDS("\xe0\xbd\x80\xe0\xbd\xb1", 0x0f40, 0x0f71);
}

/* A virama (class 9) is kept: क्ष (ksha) does not hold क (ka), which
 * goes on with the virama.  Mutant: marks of class 9 dropped too. */
Test(fold_audit, a_virama_is_kept)
{
	FOLDS("\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7", 0x0915, 0x094d, 0x0937);
	cr_assert_not(holds("\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7",
			    "\xe0\xa4\x95"));
	cr_assert(holds("\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7",
			"\xe0\xa4\xb7"));
}

/* Class 10, the lowest dropped, is Hebrew's sheva (U+05B0): "שְׁמוּאֵל"
 * is found by "שמואל".  Mutant: only classes of 11 or more dropped. */
Test(fold_audit, a_sheva_is_dropped)
{
	const char *shmuel = "\xd7\xa9\xd7\x81\xd6\xb0\xd7\x9e\xd7\x95\xd6\xbc"
			     "\xd7\x90\xd6\xb5\xd7\x9c";
	FOLDS(shmuel, 0x05e9, 0x05de, 0x05d5, 0x05d0, 0x05dc);
	cr_assert(holds(shmuel, "\xd7\xa9\xd7\x9e\xd7\x95\xd7\x90\xd7\x9c"));
	FOLDS("\xd7\xa9\xd6\xb0", 0x05e9);
}

/* The enclosing marks that folding keeps (Me, outside the blocks:
 * U+0488, U+0489, U+A670..A672) end no word: "a" is not in "a҉".
 * Mutant: is_mark without the enclosing marks. */
Test(fold_audit, a_word_is_not_found_before_a_kept_enclosing_mark)
{
	FOLDS("a\xd2\x89", 'a', 0x0489);
	cr_assert_not(holds("a\xd2\x89", "a"));
	cr_assert_not(holds("xa\xea\x99\xb0", "xa"));
	cr_assert(holds("a\xd2\x89 a", "a"));
}

/* A text whose decomposition exactly fills the room is folded in it:
 * "é" is 2 code points decomposed, 1 folded; "Résumé" 8 and 6.
 * Mutant: room exactly filled taken as too little (the count returned
 * without the accents dropped or the recomposition). */
Test(fold_audit, a_decomposition_that_fills_the_room_is_folded)
{
	int32_t cp[8];
	cr_assert_eq(tl_text_fold(tl_s("\xc3\xa9"), cp, 1), 2);
	cr_assert_eq(tl_text_fold(tl_s("\xc3\xa9"), cp, 2), 1);
	cr_assert_eq(cp[0], 'e');
	cr_assert_eq(tl_text_fold(tl_s("R\xc3\xa9sum\xc3\xa9"), cp, 7), 8);
	cr_assert_eq(tl_text_fold(tl_s("R\xc3\xa9sum\xc3\xa9"), cp, 8), 6);
	cr_assert_arr_eq(cp, ((int32_t[]){ 'r', 'e', 's', 'u', 'm', 'e' }),
			 6 * sizeof(int32_t));
}

/* What is left recomposes as NFC does, which leaves the composition
 * exclusions decomposed: the musical half note U+1D15E stays U+1D157
 * U+1D165.  Mutant: the recomposition without UTF8PROC_STABLE. */
Test(fold_audit, the_recomposition_is_nfc)
{
	FOLDS("\xf0\x9d\x85\x9e", 0x1d157, 0x1d165);
	FOLDS("\xea\xb0\x80", 0xac00); /* Hangul still composes */
}

/* ---- the search's words (projections/query.c) ------------------------- */

static char *wsdir;
static tl_db *db;

static void ws_setup(void)
{
	tl_err err = { 0 };
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	wsdir = tu_tmpdir();
	o.views = tl_views_all(&n);
	o.views_len = n;
	cr_assert_eq(tl_db_open(wsdir, &o, &db, &err), 0, "%s", err.message);
	tl_init_opts io = { .now_ms = INT64_C(1772442000000) };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
}

static void ws_teardown(void)
{
	if (db)
		tl_db_close(db);
	db = NULL;
	tu_rmrf(wsdir);
	free(wsdir);
	wsdir = NULL;
}

static void add(const char *title)
{
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
		     .link = tl_s("lead:1") };
	tl_result r = { 0 };
	tl_err err = { 0 };
	cr_assert_eq(tl_exec(db, &ctx, &c, 1, &r, &err), 0, "%s",
		     err.message);
	tl_result_release(&r);
}

static int count_one(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc, (void)len;
	++*(int *)arg;
	return 0;
}

/* The number of tasks the search finds; -1 when it is refused (field
 * search). */
static int found(const char *search)
{
	tl_slice s = tl_s(search);
	tl_list_query q = { .searches = &s, .searches_len = 1 };
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	char next[TL_CURSOR_MAX];
	tl_err err = { 0 };
	int n = 0;
	int rc = tl_task_list(db, &ctx, &q, count_one, &n, next, &err);
	if (rc) {
		cr_assert_eq(rc, TL_EINVALID, "%s", err.message);
		cr_assert_str_eq(err.field, "search");
		return -1;
	}
	return n;
}

/* A paragraph separator (U+2029) cuts words as a space and a line
 * separator do, also where it opens or repeats.  Mutants: is_word_break
 * without U+2029; the loop over the breaks between words taking only a
 * space. */
Test(fold_audit, a_paragraph_separator_cuts_words, .init = ws_setup,
     .fini = ws_teardown)
{
	add("Call Dana");
	add("Call Bob");
	cr_assert_eq(found("call"), 2);
	cr_assert_eq(found("call\xe2\x80\xa9" "dana"), 1);
	cr_assert_eq(found("\xe2\x80\xa9" "dana"), 1);
	cr_assert_eq(found("call\xe2\x80\xa8\xe2\x80\xa9" "bob"), 1);
	cr_assert_eq(found("call \xe2\x80\xa8zzz"), 0);
	cr_assert_eq(found("dana\xe2\x80\xa9zzz"), 0);
}

/* Breaks after the last word add no word: sixteen words and a space
 * are sixteen words, not seventeen.  Mutant: the cutting without its
 * `if (i == start) break;`. */
Test(fold_audit, breaks_after_the_last_word_add_none, .init = ws_setup,
     .fini = ws_teardown)
{
	add("a b c d e f g h i j k l m n o p");
	cr_assert_eq(found("a b c d e f g h i j k l m n o p "), 1);
	cr_assert_eq(found("a b c d e f g h i j k l m n o p\xc2\xa0\xe2\x80\xa8"),
		     1);
	cr_assert_eq(found("a b c d e f g h i j k l m n o p q"), -1);
}
