/*
 * unit_json.c - the command line's msgpack-to-JSON conversion
 * (tools/json.c), value by value: what `tasklog --json` prints for every
 * msgpack shape a stored document or an imported event's data can hold,
 * including those no engine document has (negative and huge integers,
 * floats, NaN, invalid UTF-8, other extension types, keys that are not
 * strings, nesting past the limit), and documents that are not one value.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <msgpack.h>

#include "../tools/json.h"

/* The JSON text of one msgpack value packed by fill(). */
typedef void (*fill_fn)(msgpack_packer *pk);

static char *text_of(fill_fn fill)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fill(&pk);
	json_t *v = mpjson_from_doc((const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	cr_assert(v, "not converted");
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	cr_assert(s);
	return s;
}

#define EXPECT_JSON(fill, want)                                            \
	do {                                                               \
		char *got_ = text_of(fill);                                \
		cr_expect_str_eq(got_, (want));                            \
		free(got_);                                                \
	} while (0)

static void str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void f_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void f_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void f_zero(msgpack_packer *pk) { msgpack_pack_uint64(pk, 0); }
static void f_i64max(msgpack_packer *pk) { msgpack_pack_uint64(pk, INT64_MAX); }
static void f_u64max(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void f_minus1(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void f_i64min(msgpack_packer *pk) { msgpack_pack_int64(pk, INT64_MIN); }
static void f_half(msgpack_packer *pk) { msgpack_pack_double(pk, 1.5); }
static void f_float(msgpack_packer *pk) { msgpack_pack_float(pk, 0.25f); }
static void f_nan(msgpack_packer *pk) { msgpack_pack_double(pk, NAN); }
static void f_inf(msgpack_packer *pk) { msgpack_pack_double(pk, -INFINITY); }

Test(json, scalars)
{
	EXPECT_JSON(f_nil, "null");
	EXPECT_JSON(f_true, "true");
	EXPECT_JSON(f_zero, "0");
	EXPECT_JSON(f_i64max, "9223372036854775807");
	/* past int64: a JSON number all the same, as a double */
	EXPECT_JSON(f_u64max, "1.8446744073709552e19");
	EXPECT_JSON(f_minus1, "-1");
	EXPECT_JSON(f_i64min, "-9223372036854775808");
	EXPECT_JSON(f_half, "1.5");
	EXPECT_JSON(f_float, "0.25");
	/* JSON has neither: null */
	EXPECT_JSON(f_nan, "null");
	EXPECT_JSON(f_inf, "null");
}

static void f_utf8(msgpack_packer *pk) { str(pk, "h\xc3\xa9llo \xe2\x86\x92", 10); }
static void f_bad(msgpack_packer *pk) { str(pk, "a\xff" "b", 3); }
static void f_overlong(msgpack_packer *pk) { str(pk, "\xc0\xaf", 2); }
static void f_surrogate(msgpack_packer *pk) { str(pk, "\xed\xa0\x80", 3); }
static void f_cut(msgpack_packer *pk) { str(pk, "x\xe2\x82", 3); }
static void f_past(msgpack_packer *pk) { str(pk, "\xf4\x90\x80\x80", 4); }
static void f_ctl(msgpack_packer *pk) { str(pk, "a\"\\\n\x01", 5); }

Test(json, strings_keep_utf8_and_replace_what_is_not)
{
	EXPECT_JSON(f_utf8, "\"h\xc3\xa9llo \xe2\x86\x92\"");
	/* each byte that starts no valid sequence: one U+FFFD */
	EXPECT_JSON(f_bad, "\"a\xef\xbf\xbd" "b\"");
	EXPECT_JSON(f_overlong, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	EXPECT_JSON(f_surrogate,
		    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	EXPECT_JSON(f_cut, "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
	EXPECT_JSON(f_past, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\"");
	EXPECT_JSON(f_ctl, "\"a\\\"\\\\\\n\\u0001\"");
	/* an empty string, as msgpack-c gives it: no pointer */
	json_t *e = mpjson_string(NULL, 0);
	cr_assert(json_is_string(e) && !strcmp(json_string_value(e), ""));
	json_decref(e);
	static const uint8_t empty_key[] = { 0x81, 0xa0, 0xa0 }; /* {"": ""} */
	json_t *m = mpjson_from_doc(empty_key, sizeof empty_key);
	cr_assert(m, "an empty key or value is no failure");
	cr_assert_str_eq(json_string_value(json_object_get(m, "")), "");
	json_decref(m);
}

static void f_bin(msgpack_packer *pk)
{
	msgpack_pack_bin(pk, 3);
	msgpack_pack_bin_body(pk, "\x00\xab\xff", 3);
}

static void f_epoch(msgpack_packer *pk)
{
	msgpack_timestamp ts = { .tv_sec = 0, .tv_nsec = 123000000 };
	msgpack_pack_timestamp(pk, &ts);
}

static void f_before(msgpack_packer *pk)
{
	msgpack_timestamp ts = { .tv_sec = -1, .tv_nsec = 500000000 };
	msgpack_pack_timestamp(pk, &ts);
}

static void f_ext(msgpack_packer *pk)
{
	msgpack_pack_ext(pk, 2, 5);
	msgpack_pack_ext_body(pk, "\x01\x02", 2);
}

Test(json, bytes_times_and_other_extensions)
{
	EXPECT_JSON(f_bin, "\"00abff\"");
	EXPECT_JSON(f_epoch, "\"1970-01-01T00:00:00.123Z\"");
	EXPECT_JSON(f_before, "\"1969-12-31T23:59:59.500Z\"");
	/* not part of the contract: its bytes */
	EXPECT_JSON(f_ext, "\"0102\"");
}

static void f_keys(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	str(pk, "name", 4);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 7);
	msgpack_pack_true(pk);
	msgpack_pack_true(pk);
	msgpack_pack_nil(pk);
	msgpack_pack_nil(pk);
	msgpack_pack_int64(pk, -2);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 2);
	str(pk, "pair", 4);
	str(pk, "k\xff", 2);
	msgpack_pack_array(pk, 0);
}

Test(json, map_keys_that_are_not_strings_are_their_json_text)
{
	EXPECT_JSON(f_keys, "{\"name\":1,\"7\":true,\"true\":null,"
			    "\"null\":-2,\"[1,2]\":\"pair\","
			    "\"k\xef\xbf\xbd\":[]}");
}

static void f_deep(msgpack_packer *pk)
{
	for (int i = 0; i < 40; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_uint64(pk, 42);
}

/* msgpack_unpack itself stops at 32 open containers, so a document
 * nested deeper is refused whole; an object built by hand (as a caller
 * of mpjson_from_object may) is cut to null past 64 levels. */
Test(json, nesting_past_the_limits)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	f_deep(&pk);
	cr_expect_null(mpjson_from_doc((const uint8_t *)sb.data, sb.size));
	msgpack_sbuffer_destroy(&sb);

	msgpack_object o[71];
	for (int i = 0; i < 70; i++) {
		o[i].type = MSGPACK_OBJECT_ARRAY;
		o[i].via.array.size = 1;
		o[i].via.array.ptr = &o[i + 1];
	}
	o[70].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	o[70].via.u64 = 42;
	json_t *v = mpjson_from_object(&o[0]);
	cr_assert(v);
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	cr_assert(s);
	/* depths 0..64 are arrays; the value at depth 65 is cut to null */
	size_t open = strspn(s, "[");
	cr_expect_eq(open, 65, "%zu levels: %s", open, s);
	cr_expect(!strncmp(s + open, "null]", 5), "%s", s);
	free(s);
}

Test(json, documents_that_are_not_one_value)
{
	static const uint8_t two[] = { 0x01, 0x02 };     /* 1 then 2 */
	static const uint8_t cut[] = { 0x92, 0x01 };     /* [1, ... */
	static const uint8_t claim[] = { 0xdb, 0xff, 0xff, 0xff, 0xff };
	errno = ENOMEM;
	cr_expect_null(mpjson_from_doc(two, sizeof two));
	cr_expect_eq(errno, 0, "trailing bytes are no want of memory");
	cr_expect_null(mpjson_from_doc(cut, sizeof cut));
	cr_expect_eq(errno, 0);
	/* a string header claiming 4 GiB in 5 bytes: refused, not
	 * allocated */
	cr_expect_null(mpjson_from_doc(claim, sizeof claim));
	cr_expect_eq(errno, 0);
	cr_expect_null(mpjson_from_doc(NULL, 0));
	cr_expect_not(mpjson_nomem());
}

Test(json, print_is_compact_one_line_utf8_as_is)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert(f);
	json_t *v = json_pack("{s:s,s:[i,b,n]}", "t", "\xc3\xa9", "a", 1, 0);
	cr_assert(v);
	cr_expect_eq(mpjson_print(f, v), 0);
	json_decref(v);
	cr_assert_eq(fclose(f), 0);
	cr_expect_str_eq(buf, "{\"t\":\"\xc3\xa9\",\"a\":[1,false,null]}\n");
	free(buf);
}

/* The first and last value of each length of UTF-8, and those around
 * the surrogates, are kept as they are; a surrogate's last, a lead byte
 * whose next byte continues no sequence, and a value past U+10FFFF are
 * replaced (found by a mutation audit of tools/json.c). */
Test(json, strings_at_the_edges_of_each_utf8_form)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "\xc2\x80", "\xc2\x80" },                 /* U+0080 */
		{ "\xdf\xbf", "\xdf\xbf" },                 /* U+07FF */
		{ "\xe0\xa0\x80", "\xe0\xa0\x80" },         /* U+0800 */
		{ "\xed\x9f\xbf", "\xed\x9f\xbf" },         /* U+D7FF */
		{ "\xee\x80\x80", "\xee\x80\x80" },         /* U+E000 */
		{ "\xef\xbf\xbf", "\xef\xbf\xbf" },         /* U+FFFF */
		{ "\xf0\x90\x80\x80", "\xf0\x90\x80\x80" }, /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" }, /* U+10FFFF */
		/* U+DFFF, the last surrogate: each byte replaced */
		{ "\xed\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* a lead byte, then another lead byte and its follower */
		{ "\xc3\xc3\xa9", "\xef\xbf\xbd\xc3\xa9" },
		/* past U+10FFFF by a lead byte of its own */
		{ "\xf5\x80\x80\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *v = mpjson_string(cases[i].in, strlen(cases[i].in));
		cr_assert(json_is_string(v), "case %zu", i);
		cr_expect_str_eq(json_string_value(v), cases[i].want,
				 "case %zu", i);
		json_decref(v);
	}
}
