/*
 * unit_text.c - tests of UTF-8 validation, text folded for search, UUIDs
 * and the error record.
 *
 * The UTF-8 validator is checked by hand-picked cases of each rejection
 * class and then against a deliberately naive decoder over every sequence
 * of up to three bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "internal.h"

static bool valid(const char *bytes, size_t len)
{
	return tl_utf8_valid(bytes, len);
}

#define VALID(lit) valid(lit, sizeof(lit) - 1)

/* ---- UTF-8 -------------------------------------------------------------- */

Test(utf8, accepts_ascii_and_empty_text)
{
	cr_assert(VALID(""));
	cr_assert(VALID("hello, world"));
	cr_assert(valid(NULL, 0));
	cr_assert(VALID("a\0b"), "U+0000 is a character");
	cr_assert(VALID("\x7f"));
}

Test(utf8, accepts_every_sequence_length)
{
	cr_assert(VALID("\xc2\x80"));         /* U+0080 */
	cr_assert(VALID("caf\xc3\xa9"));      /* é */
	cr_assert(VALID("\xdf\xbf"));         /* U+07FF */
	cr_assert(VALID("\xe0\xa0\x80"));     /* U+0800 */
	cr_assert(VALID("\xe2\x82\xac"));     /* € */
	cr_assert(VALID("\xed\x9f\xbf"));     /* U+D7FF */
	cr_assert(VALID("\xee\x80\x80"));     /* U+E000 */
	cr_assert(VALID("\xef\xbf\xbf"));     /* U+FFFF */
	cr_assert(VALID("\xf0\x90\x80\x80")); /* U+10000 */
	cr_assert(VALID("\xf0\x9f\x98\x80")); /* an emoji */
	cr_assert(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
	cr_assert(VALID("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
}

Test(utf8, rejects_null_pointer_with_length)
{
	cr_assert_not(valid(NULL, 1));
}

Test(utf8, rejects_overlong_forms)
{
	cr_assert_not(VALID("\xc0\x80"));
	cr_assert_not(VALID("\xc0\xaf"));
	cr_assert_not(VALID("\xc1\xbf"));
	cr_assert_not(VALID("\xe0\x80\x80"));
	cr_assert_not(VALID("\xe0\x9f\xbf"));
	cr_assert_not(VALID("\xf0\x80\x80\x80"));
	cr_assert_not(VALID("\xf0\x8f\xbf\xbf"));
}

Test(utf8, rejects_surrogates)
{
	cr_assert_not(VALID("\xed\xa0\x80"));     /* U+D800 */
	cr_assert_not(VALID("\xed\xaf\xbf"));     /* U+DBFF */
	cr_assert_not(VALID("\xed\xb0\x80"));     /* U+DC00 */
	cr_assert_not(VALID("\xed\xbf\xbf"));     /* U+DFFF */
	cr_assert_not(VALID("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
}

Test(utf8, rejects_code_points_past_10ffff)
{
	cr_assert_not(VALID("\xf4\x90\x80\x80"));
	cr_assert_not(VALID("\xf5\x80\x80\x80"));
	cr_assert_not(VALID("\xf7\xbf\xbf\xbf"));
	cr_assert_not(VALID("\xf8\x88\x80\x80\x80"));
	cr_assert_not(VALID("\xfc\x84\x80\x80\x80\x80"));
	cr_assert_not(VALID("\xfe"));
	cr_assert_not(VALID("\xff"));
}

Test(utf8, rejects_truncated_sequences)
{
	cr_assert_not(VALID("\xc3"));
	cr_assert_not(VALID("\xe2\x82"));
	cr_assert_not(VALID("\xf0\x9f\x98"));
	cr_assert_not(VALID("abc\xe2\x82"));
	/* the length limits the check, not a NUL */
	cr_assert_not(valid("\xe2\x82\xac", 2));
	cr_assert(valid("\xe2\x82\xac" "x", 3));
}

Test(utf8, rejects_stray_and_missing_continuation_bytes)
{
	cr_assert_not(VALID("\x80"));
	cr_assert_not(VALID("\xbf"));
	cr_assert_not(VALID("a\x80z"));
	cr_assert_not(VALID("\xc3\x28"));
	cr_assert_not(VALID("\xe2\x28\xa1"));
	cr_assert_not(VALID("\xe2\x82\x28"));
	cr_assert_not(VALID("\xf0\x90\x28\xbc"));
	cr_assert_not(VALID("\xf0\x90\x80\x28"));
	cr_assert_not(VALID("\xc3\xa9\xa9"));
}

/*
 * A decoder written the obvious way, as the reference: read any
 * 1-6 byte pattern, then reject what RFC 3629 forbids by value.
 */
static bool reference_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need, k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

Test(utf8, agrees_with_a_naive_decoder_on_all_short_sequences)
{
	unsigned char b[3];
	unsigned a, c, d;

	for (a = 0; a < 256; a++) {
		b[0] = (unsigned char)a;
		cr_assert_eq(valid((char *)b, 1), reference_valid(b, 1), "%02x",
			     a);
		for (c = 0; c < 256; c++) {
			b[1] = (unsigned char)c;
			cr_assert_eq(valid((char *)b, 2), reference_valid(b, 2),
				     "%02x %02x", a, c);
			for (d = 0; d < 256; d++) {
				b[2] = (unsigned char)d;
				if (valid((char *)b, 3) !=
				    reference_valid(b, 3))
					cr_assert_fail("%02x %02x %02x", a, c,
						       d);
			}
		}
	}
}

Test(utf8, agrees_with_a_naive_decoder_on_four_byte_sequences)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	unsigned char b[4];
	int i;

	for (i = 0; i < 2000000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* bias towards lead bytes that start 4-byte sequences */
		b[0] = (unsigned char)(i & 1 ? 0xf0 | (x & 0x0f) : x);
		b[1] = (unsigned char)(x >> 8);
		b[2] = (unsigned char)(x >> 16);
		b[3] = (unsigned char)(x >> 24);
		/* and towards continuation bytes after it */
		if (i & 2)
			b[2] = (unsigned char)(0x80 | (b[2] & 0x3f));
		if (i & 4)
			b[3] = (unsigned char)(0x80 | (b[3] & 0x3f));
		if (valid((char *)b, 4) != reference_valid(b, 4))
			cr_assert_fail("%02x %02x %02x %02x", b[0], b[1], b[2],
				       b[3]);
	}
}

/* ---- UUID text ---------------------------------------------------------- */

static const uint8_t sample_id[16] = {
	0x01, 0x93, 0x7a, 0x5e, 0x4b, 0x2c, 0x7d, 0x8e,
	0x9f, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06
};
#define SAMPLE_TEXT "01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506"

Test(uuid, format_is_lowercase_canonical_text)
{
	char text[37];

	tl_uuid_format(sample_id, text);
	cr_assert_str_eq(text, SAMPLE_TEXT);
	memset(text, 'x', sizeof(text));
	tl_uuid_format((const uint8_t[16]){ 0 }, text);
	cr_assert_str_eq(text, "00000000-0000-0000-0000-000000000000");
}

Test(uuid, parse_reads_canonical_text)
{
	uint8_t id[16];

	cr_assert(tl_uuid_parse(tl_s(SAMPLE_TEXT), id));
	cr_assert_arr_eq(id, sample_id, 16);
}

Test(uuid, parse_accepts_uppercase_and_mixed_case)
{
	uint8_t id[16];

	cr_assert(tl_uuid_parse(tl_s("01937A5E-4B2C-7D8E-9FA0-B1C2D3E4F506"),
				id));
	cr_assert_arr_eq(id, sample_id, 16);
	memset(id, 0, sizeof(id));
	cr_assert(tl_uuid_parse(tl_s("01937a5E-4b2C-7D8e-9fA0-b1C2d3E4f506"),
				id));
	cr_assert_arr_eq(id, sample_id, 16);
}

Test(uuid, parse_and_format_round_trip)
{
	uint8_t id[16], back[16];
	char text[37];
	int i, j;

	for (i = 0; i < 1000; i++) {
		for (j = 0; j < 16; j++)
			id[j] = (uint8_t)(i * 31 + j * 17 + (i >> 3) * j);
		tl_uuid_format(id, text);
		cr_assert_eq(strlen(text), 36);
		cr_assert(tl_uuid_parse(tl_s(text), back), "%s", text);
		cr_assert_arr_eq(back, id, 16);
	}
}

static void expect_bad_uuid(const char *text, size_t len)
{
	uint8_t id[16];
	tl_slice s = { text, len };

	memset(id, 0xaa, sizeof(id));
	cr_assert_not(tl_uuid_parse(s, id), "'%.*s' accepted", (int)len,
		      text ? text : "");
	for (size_t i = 0; i < 16; i++)
		cr_assert_eq(id[i], 0xaa, "out written on failure");
}

#define BAD(lit) expect_bad_uuid(lit, sizeof(lit) - 1)

Test(uuid, parse_rejects_other_forms)
{
	BAD("");
	expect_bad_uuid(NULL, 0);
	expect_bad_uuid(NULL, 36);
	BAD("01937a5e4b2c7d8e9fa0b1c2d3e4f506");
	BAD("{01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506}");
	BAD("urn:uuid:01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506");
	BAD(" 01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506 ");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f50");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f5066");
}

Test(uuid, parse_rejects_misplaced_hyphens_and_non_hex)
{
	BAD("01937a5e4-b2c-7d8e-9fa0-b1c2d3e4f506");
	BAD("01937a5e-4b2c-7d8e-9fa0b-1c2d3e4f506");
	BAD("01937a5e_4b2c_7d8e_9fa0_b1c2d3e4f506");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f50g");
	BAD("g1937a5e-4b2c-7d8e-9fa0-b1c2d3e4f506");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f5 6");
	BAD("01937a5e-+b2c-7d8e-9fa0-b1c2d3e4f506");
	BAD("01937a5e-4b2c-7d8e-9fa0-b1c2d3e4f5\0" "6");
	BAD("------------------------------------");
}

/* ---- UUIDv7 ------------------------------------------------------------- */

static int64_t id_ms(const uint8_t id[16])
{
	int64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

static void expect_v7_bits(const uint8_t id[16])
{
	cr_assert_eq(id[6] >> 4, 7, "version");
	cr_assert_eq(id[8] >> 6, 2, "variant");
}

Test(uuid, v7_has_version_variant_and_timestamp)
{
	/* 2100-01-01T00:00:00Z: later than the real clock */
	const int64_t now = INT64_C(4102444800000);
	uint8_t id[16];
	char text[37];

	tl_uuid_v7(now, id);
	expect_v7_bits(id);
	cr_assert_eq(id_ms(id), now);
	tl_uuid_format(id, text);
	cr_assert_eq(text[14], '7');
	cr_assert(strchr("89ab", text[19]));
}

Test(uuid, v7_uses_the_wall_clock_without_a_time)
{
	int64_t before = tl_time_now(), after;
	uint8_t id[16];

	tl_uuid_v7(0, id);
	after = tl_time_now();
	expect_v7_bits(id);
	cr_assert_geq(id_ms(id), before);
	cr_assert_leq(id_ms(id), after);
}

Test(uuid, v7_increases_strictly_over_100000_calls)
{
	uint8_t prev[16], id[16];
	int64_t start = tl_time_now();
	int i;

	tl_uuid_v7(0, prev);
	for (i = 0; i < 100000; i++) {
		tl_uuid_v7(0, id);
		expect_v7_bits(id);
		if (memcmp(prev, id, 16) >= 0)
			cr_assert_fail("call %d not after the one before", i);
		memcpy(prev, id, 16);
	}
	/* the counter spills into later ms, but not far */
	cr_assert_lt(id_ms(id), tl_time_now() + 100000);
	cr_assert_geq(id_ms(id), start);
}

Test(uuid, v7_borrows_the_next_millisecond_when_the_counter_runs_out)
{
	const int64_t now = INT64_C(4102444800000);
	uint8_t prev[16], id[16];
	int i;

	tl_uuid_v7(now, prev);
	for (i = 0; i < 10000; i++) {
		tl_uuid_v7(now, id);
		cr_assert_gt(memcmp(id, prev, 16), 0, "call %d", i);
		memcpy(prev, id, 16);
	}
	/* at least 2048 ids fit in a millisecond, at most 4096 */
	cr_assert_geq(id_ms(id), now + 10000 / 4096);
	cr_assert_leq(id_ms(id), now + 10000 / 2048);
}

Test(uuid, v7_stays_ordered_when_the_clock_goes_back)
{
	const int64_t now = INT64_C(4102444800000);
	uint8_t a[16], b[16], c[16];

	tl_uuid_v7(now, a);
	tl_uuid_v7(now - 60000, b);
	tl_uuid_v7(now - 1, c);
	cr_assert_gt(memcmp(b, a, 16), 0);
	cr_assert_gt(memcmp(c, b, 16), 0);
	cr_assert_eq(id_ms(b), now);
	cr_assert_eq(id_ms(c), now);
	tl_uuid_v7(now + 5, a);
	cr_assert_eq(id_ms(a), now + 5);
}

Test(uuid, v7_ids_of_one_millisecond_differ_in_random_bits)
{
	const int64_t now = INT64_C(4102444800000);
	uint8_t a[16], b[16];

	tl_uuid_v7(now, a);
	tl_uuid_v7(now, b);
	/* 62 random bits each: equal tails would be a broken generator */
	cr_assert_neq(memcmp(a + 9, b + 9, 7), 0);
}

/* ---- the error record --------------------------------------------------- */

Test(err, code_names_match_the_interface)
{
	cr_assert_str_eq(tl_code_name(0), "ok");
	cr_assert_str_eq(tl_code_name(TL_EINVALID), "invalid");
	cr_assert_str_eq(tl_code_name(TL_ENOTFOUND), "not_found");
	cr_assert_str_eq(tl_code_name(TL_ECONFLICT), "conflict");
	cr_assert_str_eq(tl_code_name(TL_EFORBIDDEN), "forbidden");
	cr_assert_str_eq(tl_code_name(TL_ESTORAGE), "storage");
	cr_assert_str_eq(tl_code_name(TL_EUNAVAILABLE), "unavailable");
	cr_assert_str_eq(tl_code_name(TL_EAGAIN), "again");
	cr_assert_str_eq(tl_code_name(-99), "unknown");
}

Test(err, set_fills_code_field_and_message_and_clears_index)
{
	tl_err err = { .index = 4 }; /* left from an earlier batch */

	cr_assert_eq(tl_err_set(&err, TL_ENOTFOUND, "id", "no task '%s'",
				"abc"), TL_ENOTFOUND);
	cr_assert_eq(err.code, TL_ENOTFOUND);
	cr_assert_eq(err.index, -1);
	cr_assert_str_eq(err.field, "id");
	cr_assert_str_eq(err.message, "no task 'abc'");
}

Test(err, set_without_record_only_returns_the_code)
{
	cr_assert_eq(tl_err_set(NULL, TL_ECONFLICT, "v", "x %d", 1),
		     TL_ECONFLICT);
}

Test(err, set_truncates_long_fields_and_messages)
{
	char big[1000];
	tl_err err;

	memset(&err, 0x55, sizeof(err));
	memset(big, 'f', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tl_err_set(&err, TL_EINVALID, big, "%s", big);
	cr_assert_eq(strlen(err.field), sizeof(err.field) - 1);
	cr_assert_eq(strlen(err.message), sizeof(err.message) - 1);
	tl_err_set(&err, TL_EINVALID, NULL, "plain");
	cr_assert_str_eq(err.field, "");
	cr_assert_str_eq(err.message, "plain");
}

/* tl_check_text takes a word-at-a-time path for printable ASCII: every
 * byte value at every position of a 19-byte string (two words and a
 * tail) is judged as the byte-by-byte rules judge it. */
static bool text_ok_slow(const unsigned char *s, size_t n)
{
	if (!tl_utf8_valid((const char *)s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f ||
		    (s[i] == 0xc2 && i + 1 < n && s[i + 1] < 0xa0))
			return false;
	return true;
}

Test(text, check_text_judges_every_byte_at_every_position)
{
	unsigned char s[19];
	for (size_t pos = 0; pos < sizeof s; pos++)
		for (int b = 0; b < 256; b++) {
			memset(s, 'a', sizeof s);
			s[pos] = (unsigned char)b;
			tl_err err = { 0 };
			int rc = tl_check_text((tl_slice){ (const char *)s,
							   sizeof s },
					       "title", 1, 100, false, &err);
			cr_assert_eq(rc == 0, text_ok_slow(s, sizeof s),
				     "byte 0x%02x at %zu: rc %d", b, pos, rc);
		}
}

/* The table-driven parser: every byte value at every position. */
Test(uuid, parse_judges_every_byte_at_every_position)
{
	const char *good = "0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
	for (int pos = 0; pos < 36; pos++)
		for (int b = 0; b < 256; b++) {
			char s[36];
			uint8_t id[16];
			memcpy(s, good, 36);
			s[pos] = (char)b;
			bool hyphen = pos == 8 || pos == 13 || pos == 18 ||
				      pos == 23;
			bool hex = (b >= '0' && b <= '9') ||
				   (b >= 'a' && b <= 'f') ||
				   (b >= 'A' && b <= 'F');
			bool want = hyphen ? b == '-' : hex;
			cr_assert_eq(tl_uuid_parse((tl_slice){ s, 36 }, id),
				     want, "byte 0x%02x at %d", b, pos);
		}
}

/* ---- text folded for search --------------------------------------------- */

/* s folded, as UTF-8 (code points below U+0800 only), into out. */
static const char *folded(const char *s, char *out, size_t cap)
{
	int32_t cp[64];
	ptrdiff_t n = tl_text_fold(tl_s(s), cp, 64);
	size_t o = 0;
	cr_assert_geq(n, 0, "'%s' did not fold", s);
	cr_assert_leq(n, 64);
	for (ptrdiff_t i = 0; i < n && o + 3 < cap; i++) {
		cr_assert_lt(cp[i], 0x800);
		if (cp[i] < 0x80) {
			out[o++] = (char)cp[i];
		} else {
			out[o++] = (char)(0xc0 | (cp[i] >> 6));
			out[o++] = (char)(0x80 | (cp[i] & 0x3f));
		}
	}
	out[o] = 0;
	return out;
}

/* Text in ASCII alone folds without utf8proc (0.3.28): the same code
 * points as the whole path gives it.  A text with one letter more that
 * is not ASCII ("\xc3\xa9", which folds to "e" and composes with
 * nothing before it) takes the whole path: its fold must be the ASCII
 * fold and "e", for each of the 128 characters alone and for random
 * texts of them. */
Test(search_fold, ascii_folds_as_the_whole_path_does)
{
	int32_t fast[80], slow[80];
	char buf[80];
	srand(7);
	for (int t = 0; t < 128 + 2000; t++) {
		size_t n = t < 128 ? 1 : 1 + (size_t)rand() % 60;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(t < 128 ? t : rand() % 128);
		memcpy(buf + n, "\xc3\xa9", 2);
		ptrdiff_t f = tl_text_fold((tl_slice){ buf, n }, fast, 80);
		ptrdiff_t w = tl_text_fold((tl_slice){ buf, n + 2 }, slow, 80);
		cr_assert_eq(f, (ptrdiff_t)n, "text %d", t);
		cr_assert_eq(w, f + 1, "text %d: %td code points, not %td", t,
			     w, f + 1);
		cr_assert_eq(slow[f], 'e');
		cr_assert_arr_eq(fast, slow, (size_t)f * sizeof *fast,
				 "text %d (first byte 0x%02x)", t,
				 (unsigned char)buf[0]);
	}
	/* the room it asks for, as the whole path */
	cr_assert_eq(tl_text_fold(tl_s("ABCDEF"), fast, 3), 6);
	cr_assert_eq(tl_text_fold(tl_s(""), fast, 0), 0);
}

Test(search_fold, drops_case_accents_and_compatibility_forms)
{
	char b[256];
	cr_assert_str_eq(folded("R\xc3\xa9sum\xc3\xa9 DANA", b, sizeof b),
			 "resume dana");
	cr_assert_str_eq(folded("\xef\xac\x81nal", b, sizeof b), "final");
	cr_assert_str_eq(folded("\xef\xbc\xa1" "CME", b, sizeof b), "acme");
	cr_assert_str_eq(folded("Stra\xc3\x9f" "e", b, sizeof b), "strasse");
	/* e + combining acute, and the precomposed é: alike */
	cr_assert_str_eq(folded("Cafe\xcc\x81", b, sizeof b), "cafe");
	/* no-break space and non-breaking hyphen lumped, soft hyphen gone */
	cr_assert_str_eq(folded("e\xe2\x80\x91mail\xc2\xa0" "to"
				"\xc2\xad" "day", b, sizeof b),
			 "e-mail today");
	cr_assert_str_eq(folded("\xce\xa3\xce\x99\xce\xa3", b, sizeof b),
			 "\xcf\x83\xce\xb9\xcf\x83", "Greek capitals fold");
	cr_assert_str_eq(folded("", b, sizeof b), "");
	/* only the accents of Latin, Greek and Cyrillic letters go: a
	 * Japanese pa keeps its handakuten and composes again, so it is no
	 * ha; a half-width pa (two code points) folds to the same */
	int32_t pa[8], ha[8];
	cr_assert_eq(tl_text_fold(tl_s("\xe3\x83\x91"), pa, 8), 1);
	cr_assert_eq(pa[0], 0x30d1);
	cr_assert_eq(tl_text_fold(tl_s("\xef\xbe\x8a\xef\xbe\x9f"), pa, 8), 1);
	cr_assert_eq(pa[0], 0x30d1);
	cr_assert_eq(tl_text_fold(tl_s("\xe3\x83\x8f"), ha, 8), 1);
	cr_assert_eq(ha[0], 0x30cf);
	/* a Hangul syllable stays one */
	cr_assert_eq(tl_text_fold(tl_s("\xea\xb0\x95"), ha, 8), 1);
	cr_assert_eq(ha[0], 0xac15);
	cr_assert_str_eq(folded("\xd0\x99", b, sizeof b), "\xd0\xb8",
			 "Cyrillic letters lose their diacritics too");
}

Test(search_fold, says_how_much_room_and_refuses_what_is_not_utf8)
{
	int32_t cp[4];
	/* U+FDFA, one code point, decomposes into 18 */
	cr_assert_eq(tl_text_fold(tl_s("\xef\xb7\xba"), cp, 4), 18);
	int32_t big[18];
	cr_assert_eq(tl_text_fold(tl_s("\xef\xb7\xba"), big, 18), 18);
	cr_assert_eq(tl_text_fold(tl_s("ok\xff"), cp, 4), -1);
	cr_assert_eq(tl_text_fold(tl_s("\xed\xa0\x80"), cp, 4), -1,
		     "a surrogate");
	cr_assert_eq(tl_text_fold((tl_slice){ "a\0b", 3 }, cp, 4), 3,
		     "NUL is a code point");
}

/* A word is found where the text does not go on with a mark that makes
 * its last letter another: ka is not in ki (Devanagari), nor ha in pa. */
Test(search_fold, a_word_is_not_found_inside_a_letter)
{
	int32_t t[32], w[32];
	ptrdiff_t n, m;
#define HOLDS(text, word)                                                  \
	((n = tl_text_fold(tl_s(text), t, 32)) >= 0 &&                     \
	 (m = tl_text_fold(tl_s(word), w, 32)) >= 0 &&                     \
	 tl_text_holds(t, (size_t)n, w, (size_t)m))
	cr_assert(HOLDS("Caf\xc3\xa9 cr\xc3\xa8me", "creme"));
	cr_assert(HOLDS("Caf\xc3\xa9", "cafe"));
	/* क (ka) in कि (ki): no; in क का (ka kaa): the first one */
	cr_assert(!HOLDS("\xe0\xa4\x95\xe0\xa4\xbf", "\xe0\xa4\x95"));
	cr_assert(HOLDS("\xe0\xa4\x95\xe0\xa4\xbf \xe0\xa4\x95",
			"\xe0\xa4\x95"));
	cr_assert(HOLDS("\xe0\xa4\x95\xe0\xa4\xbf", "\xe0\xa4\x95\xe0\xa4\xbf"));
	/* ハ (ha) in パン (pan): no; 가 (ga) in 강남 (gangnam): no */
	cr_assert(!HOLDS("\xe3\x83\x91\xe3\x83\xb3", "\xe3\x83\x8f"));
	cr_assert(!HOLDS("\xea\xb0\x95\xeb\x82\xa8", "\xea\xb0\x80"));
	cr_assert(HOLDS("\xea\xb0\x95\xeb\x82\xa8", "\xea\xb0\x95"));
	/* Hebrew and Arabic vowel points are left out of a search */
	cr_assert(HOLDS("Call \xd7\xa9\xd7\x81\xd6\xb8\xd7\x9c\xd7\x95\xd6\xb9\xd7\x9d",
			"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"));
	cr_assert(HOLDS("\xd9\x83\xd9\x8e\xd8\xaa\xd9\x8e\xd8\xa8\xd9\x8e",
			"\xd9\x83\xd8\xaa\xd8\xa8"));
	/* a Thai vowel below is spelled: ko is not in ku */
	cr_assert(!HOLDS("\xe0\xb8\x81\xe0\xb8\xb8", "\xe0\xb8\x81"));
	cr_assert(HOLDS("abc", ""), "an empty word is everywhere");
	cr_assert(!HOLDS("ab", "abc"));
#undef HOLDS
}

/* ---- quoting for messages ------------------------------------------------- */

Test(quote, keeps_characters_and_escapes_what_a_terminal_acts_on)
{
	char q[64];
	cr_assert_str_eq(tl_quote(tl_s("bog\xc3\xbcs \xe3\x83\x91"), q, sizeof q),
			 "bog\xc3\xbcs \xe3\x83\x91");
	cr_assert_str_eq(tl_quote(tl_s("a\xff" "b\\c\t"), q, sizeof q),
			 "a\\xffb\\x5cc\\x09");
	cr_assert_str_eq(tl_quote(tl_s("x\xe2\x80\xaey\xc2\x9b"), q, sizeof q),
			 "x\\xe2\\x80\\xaey\\xc2\\x9b", "a bidi override, a CSI");
	cr_assert_str_eq(tl_quote(tl_s("\xc3"), q, sizeof q), "\\xc3",
			 "a character cut short");
	cr_assert_str_eq(tl_quote(tl_s("\xc2\xad|\xe2\x80\x8f"), q, sizeof q),
			 "\\xc2\\xad|\\xe2\\x80\\x8f", "soft hyphen, RLM");
	cr_assert_str_eq(tl_quote(tl_s("\xe2\x80\xa8|\xef\xbb\xbf"), q, sizeof q),
			 "\\xe2\\x80\\xa8|\\xef\\xbb\\xbf",
			 "line separator, BOM");
	/* a long value is cut after whole characters */
	char long_[200] = "";
	for (int i = 0; i < 60; i++)
		strcat(long_, "\xc3\xa9");
	tl_quote(tl_s(long_), q, 48);
	size_t n = strlen(q);
	cr_assert_lt(n, 48);
	cr_assert_eq(strcmp(q + n - 3, "..."), 0, "%s", q);
	cr_assert(tl_utf8_valid(q, n), "cut inside a character: %s", q);
	cr_assert_str_eq(tl_quote((tl_slice){ NULL, 0 }, q, sizeof q), "");
}

/* A cut falls between characters that begin a grapheme cluster, never
 * inside an escaped character or between a letter and its mark (since
 * 0.3.51: 'aaa\xc2...' cut a NEL in two, 'aaae...' lost its accent). */
Test(quote, cuts_between_clusters_and_whole_escapes)
{
	char q[64], in[80];
	memset(in, 'a', 38);
	strcpy(in + 38, "\xc2\x85z"); /* NEL, a C1 control, then more */
	cr_assert_str_eq(tl_quote(tl_s(in), q, sizeof q),
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\xc2\\x85...");
	memset(in, 'a', 39);
	strcpy(in + 39, "e\xcc\x81z"); /* e, a combining acute, z */
	cr_assert_str_eq(tl_quote(tl_s(in), q, sizeof q),
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae\xcc\x81...");
	memset(in, 'a', 37);
	/* two flags: each a pair of regional indicators */
	strcpy(in + 37, "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa"
			"\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5");
	cr_assert_str_eq(tl_quote(tl_s(in), q, sizeof q),
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa...");
	/* a mark right after an escape is escaped too (it would sit on the
	 * escape's last digit); after a letter it stays */
	cr_assert_str_eq(tl_quote(tl_s("x\xe2\x80\xae\xcc\x81y e\xcc\x81"), q,
				  sizeof q),
			 "x\\xe2\\x80\\xae\\xcc\\x81y e\xcc\x81");
	/* first in the value, it would sit on the quote before it */
	cr_assert_str_eq(tl_quote(tl_s("\xcc\x81start"), q, sizeof q),
			 "\\xcc\\x81start");
	/* tl_quote_max: the same, cut after about max bytes */
	char big[300];
	memset(big, 'b', 250);
	big[250] = 0;
	char w[240];
	tl_quote_max(tl_s(big), 200, w, sizeof w);
	cr_assert_eq(strlen(w), 203, "%s", w);
	cr_assert_eq(strcmp(w + 200, "..."), 0, "%s", w);
}

/* An error's field and message cut short keep whole characters (they are
 * printed in JSON; a fuzzing run met a field cut within one). */
Test(utf8, an_error_cut_short_keeps_whole_characters)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80" };
	for (size_t c = 0; c < 3; c++) {
		for (size_t shift = 0; shift < 4; shift++) {
			char text[1200] = "";
			memset(text, 'a', shift);
			text[shift] = 0;
			while (strlen(text) + 4 < sizeof text)
				strcat(text, chars[c]);
			tl_err err;
			tl_err_set(&err, TL_EINVALID, text, "%s", text);
			cr_assert(tl_utf8_valid(err.field, strlen(err.field)),
				  "char %zu shift %zu", c, shift);
			cr_assert(tl_utf8_valid(err.message,
						strlen(err.message)),
				  "char %zu shift %zu", c, shift);
			/* and not cut shorter than a character needs */
			cr_assert_geq(strlen(err.field),
				      sizeof err.field - 1 - 3);
			cr_assert_geq(strlen(err.message),
				      sizeof err.message - 1 - 3);
			cr_assert(!strncmp(err.field, text,
					   strlen(err.field)));
		}
	}
	/* short text is kept whole */
	tl_err err;
	tl_err_set(&err, TL_EINVALID, "t\xc3\xa9", "x\xc3\xa9");
	cr_assert_str_eq(err.field, "t\xc3\xa9");
	cr_assert_str_eq(err.message, "x\xc3\xa9");
}

/* ---- id suffixes --------------------------------------------------------
 * The end of a task id typed in place of the whole id (6 to 35
 * characters of the 8-4-4-4-12 form, dashes where that form has them).
 * A mutation audit of text.c found the first two rules untested. */

static const char *full_id = "0194f3a2-7b1c-7def-8a12-3456789abcde";

/* A suffix that starts with the form's dash is refused: on a command
 * line it reads as an option (`-3456789abcde`), so it is never an id. */
Test(id_suffix, a_suffix_starting_with_a_dash_is_refused)
{
	tl_id_suffix sx;
	cr_assert_not(tl_id_suffix_parse(tl_s(full_id + 23), &sx));
	cr_assert(tl_id_suffix_parse(tl_s(full_id + 24), &sx));
	cr_assert_eq(sx.len, 12);
	cr_assert_not(tl_id_suffix_parse(tl_s(full_id + 8), &sx));
	cr_assert(tl_id_suffix_parse(tl_s(full_id + 9), &sx));
}

/* 35 characters are the longest suffix; the 36 of a whole id are not a
 * suffix (tl_uuid_parse reads those), nor is anything longer or shorter
 * than 6 digits. */
Test(id_suffix, lengths_of_a_suffix)
{
	tl_id_suffix sx;
	cr_assert(tl_id_suffix_parse(tl_s(full_id + 1), &sx));
	cr_assert_eq(sx.len, 31);
	cr_assert_not(tl_id_suffix_parse(tl_s(full_id), &sx));
	cr_assert(tl_id_suffix_parse(tl_s(full_id + 30), &sx));
	cr_assert_eq(sx.len, TL_ID_SUFFIX_MIN);
	cr_assert_not(tl_id_suffix_parse(tl_s(full_id + 31), &sx));
	uint8_t id[16];
	cr_assert(tl_uuid_parse(tl_s(full_id), id));
	cr_assert(tl_id_suffix_parse(tl_s(full_id + 24), &sx));
	cr_assert(tl_id_suffix_match(&sx, id));
	id[15] ^= 1;
	cr_assert_not(tl_id_suffix_match(&sx, id));
}
