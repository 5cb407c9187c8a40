/*
 * unit_writer.c - the direct msgpack writer (tl_w_*, engine/internal.h)
 * against msgpack-c's packer: for every value at and around each size
 * boundary, the same bytes.  Stored documents and events are written by
 * the one and read by code built for the other.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include "internal.h"

typedef struct pair {
	msgpack_sbuffer a, b; /* packer, writer */
	msgpack_packer pk;
} pair;

static void pair_init(pair *x)
{
	msgpack_sbuffer_init(&x->a);
	msgpack_sbuffer_init(&x->b);
	msgpack_packer_init(&x->pk, &x->a, msgpack_sbuffer_write);
}

static void pair_check(pair *x, const char *what)
{
	cr_assert_eq(x->a.size, x->b.size, "%s: %zu bytes, not %zu", what,
		     x->b.size, x->a.size);
	cr_assert_eq(memcmp(x->a.data, x->b.data, x->a.size), 0,
		     "%s: other bytes", what);
	msgpack_sbuffer_destroy(&x->a);
	msgpack_sbuffer_destroy(&x->b);
}

static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536, 70000 };

Test(writer, strings)
{
	char *s = malloc(70000);
	memset(s, 'x', 70000);
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		pair x;
		pair_init(&x);
		msgpack_pack_str(&x.pk, lens[i]);
		msgpack_pack_str_body(&x.pk, s, lens[i]);
		uint8_t *p = tl_w_begin(&x.b, TL_W_STR(lens[i]));
		tl_w_end(&x.b, tl_w_str(p, s, lens[i]));
		pair_check(&x, "string");
	}
	free(s);
}

Test(writer, integers_maps_arrays_and_constants)
{
	static const uint64_t v[] = {
		0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295u,
		4294967296u, UINT64_MAX
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		pair x;
		pair_init(&x);
		msgpack_pack_uint64(&x.pk, v[i]);
		if (v[i] <= UINT32_MAX) {
			msgpack_pack_map(&x.pk, (uint32_t)v[i]);
			msgpack_pack_array(&x.pk, (uint32_t)v[i]);
		}
		uint8_t *p = tl_w_begin(&x.b, 32);
		p = tl_w_u64(p, v[i]);
		if (v[i] <= UINT32_MAX) {
			p = tl_w_map(p, (uint32_t)v[i]);
			p = tl_w_array(p, (uint32_t)v[i]);
		}
		tl_w_end(&x.b, p);
		pair_check(&x, "integer");
	}
	pair x;
	pair_init(&x);
	msgpack_pack_nil(&x.pk);
	msgpack_pack_true(&x.pk);
	msgpack_pack_false(&x.pk);
	uint8_t h[32] = { 1, 2, 3 };
	msgpack_pack_bin(&x.pk, 32);
	msgpack_pack_bin_body(&x.pk, h, 32);
	uint8_t *p = tl_w_begin(&x.b, 64);
	p = tl_w_nil(p);
	p = tl_w_bool(p, true);
	p = tl_w_bool(p, false);
	p = tl_w_bin(p, h, 32);
	tl_w_end(&x.b, p);
	pair_check(&x, "constants");
}

Test(writer, timestamps)
{
	static const int64_t ms[] = {
		0, 1, 999, 1000, -1, -1000, -1001, 1795886923451,
		INT64_C(4294967295000), INT64_C(4294967296000),
		INT64_C(17179869183999), INT64_C(17179869184000),
		INT64_C(253402300799999), INT64_C(-62135596800000)
	};
	for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
		pair x;
		pair_init(&x);
		tl_pack_time(&x.pk, ms[i]);
		uint8_t *p = tl_w_begin(&x.b, TL_W_TIME);
		tl_w_end(&x.b, tl_w_time(p, ms[i]));
		pair_check(&x, "timestamp");
	}
}

Test(writer, appends_after_what_the_buffer_holds)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_write(&sb, "abc", 3);
	for (int i = 0; i < 1000; i++) {
		uint8_t *p = tl_w_begin(&sb, TL_W_STR(5));
		cr_assert_not_null(p);
		tl_w_end(&sb, tl_w_str(p, "hello", 5));
	}
	cr_assert_eq(sb.size, 3 + 1000 * 6);
	cr_assert_eq(memcmp(sb.data, "abc\xa5hello\xa5", 10), 0);
	msgpack_sbuffer_destroy(&sb);
}
