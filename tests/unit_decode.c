/*
 * unit_decode.c - the event decoder's one-pass reader (engine/codec.c)
 * against a reference built on msgpack_unpack (the decoder it replaced,
 * kept here): for hand-made records in every encoding msgpack allows for
 * each envelope field, and for many thousands of random mutations of
 * them, both accept the same records and read the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include "internal.h"

/* ---- the reference: the envelope read with msgpack_unpack ----------- */

static int ref_decode(const uint8_t *raw, size_t len, tl_event *ev,
		      msgpack_zone *zone)
{
	static const char *const keys[10] = {
		"seq", "id", "type", "stream", "version",
		"at", "actor", "schema", "data", "hash"
	};
	msgpack_object o;
	size_t off = 1;

	memset(ev, 0, sizeof *ev);
	if (len < 40 || raw[0] != 0x8a || !tl_mp_fits(raw, len))
		return TL_ESTORAGE;
	for (int i = 0; i < 10; i++) {
		if (msgpack_unpack((const char *)raw, len, &off, zone, &o) !=
			    MSGPACK_UNPACK_EXTRA_BYTES ||
		    !tl_obj_is_str(&o, keys[i]))
			return TL_ESTORAGE;
		size_t val_off = off;
		msgpack_unpack_return r = msgpack_unpack(
			(const char *)raw, len, &off, zone, &o);
		if (r != MSGPACK_UNPACK_SUCCESS &&
		    r != MSGPACK_UNPACK_EXTRA_BYTES)
			return TL_ESTORAGE;
		switch (i) {
		case 0:
			if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				return TL_ESTORAGE;
			ev->seq = o.via.u64;
			break;
		case 1:
			if (o.type != MSGPACK_OBJECT_STR || o.via.str.size != 36)
				return TL_ESTORAGE;
			memcpy(ev->id, o.via.str.ptr, 36);
			break;
		case 2:
			if (!(ev->type = tl_obj_slice(&o)).p)
				return TL_ESTORAGE;
			break;
		case 3:
			if (!(ev->stream = tl_obj_slice(&o)).p)
				return TL_ESTORAGE;
			break;
		case 4:
			if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    o.via.u64 > UINT32_MAX)
				return TL_ESTORAGE;
			ev->version = (uint32_t)o.via.u64;
			break;
		case 5:
			if (!tl_obj_time(&o, &ev->at_ms))
				return TL_ESTORAGE;
			break;
		case 6:
			ev->actor_id = tl_obj_slice(tl_map_get(&o, "id"));
			ev->actor_kind = tl_obj_slice(tl_map_get(&o, "kind"));
			if (!ev->actor_id.p || !ev->actor_kind.p)
				return TL_ESTORAGE;
			break;
		case 7:
			if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    o.via.u64 > 1000)
				return TL_ESTORAGE;
			ev->schema = (uint32_t)o.via.u64;
			break;
		case 8:
			if (o.type != MSGPACK_OBJECT_MAP)
				return TL_ESTORAGE;
			ev->data = raw + val_off;
			ev->data_len = off - val_off;
			break;
		case 9:
			if (o.type != MSGPACK_OBJECT_BIN ||
			    o.via.bin.size != TL_HASH_LEN || off != len)
				return TL_ESTORAGE;
			memcpy(ev->hash, o.via.bin.ptr, TL_HASH_LEN);
			break;
		}
	}
	if (ev->schema < 1 || ev->schema > TL_SCHEMA_VERSION)
		return TL_ESTORAGE;
	/* upcasting a v1 task.created needs a scratch buffer: none here */
	if (ev->schema == 1 && tl_slice_eq(ev->type, "task.created"))
		return TL_ESTORAGE;
	return 0;
}

/* ---- records in varied encodings ----------------------------------- */

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void s(const char *v, int form) /* form: 0 fix, 1 str8, 2 str16 */
{
	size_t n = strlen(v);
	if (form == 0 || n >= 32) {
		msgpack_pack_str(&pk, n);
	} else if (form == 1) {
		uint8_t h[2] = { 0xd9, (uint8_t)n };
		msgpack_sbuffer_write(&sb, (const char *)h, 2);
	} else {
		uint8_t h[3] = { 0xda, 0, (uint8_t)n };
		msgpack_sbuffer_write(&sb, (const char *)h, 3);
	}
	msgpack_sbuffer_write(&sb, v, n);
}

static void u(uint64_t v, int form) /* 0 packer's, 1 uint64, 2 int64 */
{
	uint8_t h[9] = { form == 1 ? 0xcf : 0xd3 };
	if (form == 0) {
		msgpack_pack_uint64(&pk, v);
		return;
	}
	for (int i = 0; i < 8; i++)
		h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	msgpack_sbuffer_write(&sb, (const char *)h, 9);
}

static void t(int64_t ms, int form) /* 0 packer's, 1 ext8 of 12 bytes */
{
	msgpack_timestamp ts = { ms / 1000, (uint32_t)(ms % 1000) * 1000000u };
	if (form == 0) {
		msgpack_pack_timestamp(&pk, &ts);
		return;
	}
	uint8_t h[15] = { 0xc7, 12, 0xff };
	for (int i = 0; i < 4; i++)
		h[3 + i] = (uint8_t)(ts.tv_nsec >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		h[7 + i] = (uint8_t)((uint64_t)ts.tv_sec >> (56 - 8 * i));
	msgpack_sbuffer_write(&sb, (const char *)h, 15);
}

/* The event id record() writes (tests of other lengths change it). */
static const char *rec_id = "0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";

static void record(int v)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 10);
	s("seq", 0); u(12345 + (uint64_t)v, v % 3);
	s("id", v & 1); s(rec_id, v % 3);
	s("type", 0); s(v & 2 ? "task.created" : "task.tagged", v % 3);
	s("stream", 0); s("0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a7", 0);
	s("version", 0); u(3, (v + 1) % 3);
	s("at", 0);
	t(v & 4 ? 1700000000123 : 4102444800000 + v, (v >> 3) & 1);
	s("actor", 0);
	switch (v % 4) {
	case 0:
		msgpack_pack_map(&pk, 2);
		s("id", 0); s("alice", 1); s("kind", 0); s("user", 0);
		break;
	case 1: /* reordered, an extra key, a non-string key */
		msgpack_pack_map(&pk, 4);
		msgpack_pack_int(&pk, 7); msgpack_pack_nil(&pk);
		s("kind", 0); s("system", 2);
		s("x", 0); msgpack_pack_array(&pk, 0);
		s("id", 1); s("parsa-assistant", 0);
		break;
	case 2: /* a repeated key: the first counts */
		msgpack_pack_map(&pk, 3);
		s("id", 0); s("bob", 0); s("id", 0); msgpack_pack_int(&pk, 1);
		s("kind", 0); s("user", 0);
		break;
	default: /* map16 header */
		msgpack_sbuffer_write(&sb, "\xde\x00\x02", 3);
		s("id", 0); s("carol", 0); s("kind", 0); s("user", 1);
	}
	s("schema", 0); u(2, v % 3);
	s("data", 0);
	msgpack_pack_map(&pk, 2);
	s("tag", 0); s("vip", 0);
	s("deep", 0); msgpack_pack_array(&pk, 1); msgpack_pack_map(&pk, 0);
	s("hash", 0);
	uint8_t hash[TL_HASH_LEN];
	for (int i = 0; i < TL_HASH_LEN; i++)
		hash[i] = (uint8_t)(i * 7 + v);
	if (v & 16) {
		msgpack_sbuffer_write(&sb, "\xc5\x00\x20", 3);
		msgpack_sbuffer_write(&sb, (const char *)hash, TL_HASH_LEN);
	} else if (v & 32) { /* bin 32: msgpack allows it, so do we */
		msgpack_sbuffer_write(&sb, "\xc6\x00\x00\x00\x20", 5);
		msgpack_sbuffer_write(&sb, (const char *)hash, TL_HASH_LEN);
	} else {
		msgpack_pack_bin(&pk, TL_HASH_LEN);
		msgpack_pack_bin_body(&pk, hash, TL_HASH_LEN);
	}
}

/* Both decoders on a copy of raw in a buffer of exactly len bytes, so
 * that a read past the end is caught by the sanitizers. Returns whether
 * they accepted it. */
static bool same(const uint8_t *in, size_t len, const char *what)
{
	uint8_t *raw = malloc(len ? len : 1);
	cr_assert_not_null(raw);
	memcpy(raw, in, len);
	tl_event a, b;
	msgpack_zone za, zb;
	msgpack_zone_init(&za, 1024);
	msgpack_zone_init(&zb, 1024);
	int ra = tl_event_decode(raw, len, &a, &za, NULL);
	int rb = ref_decode(raw, len, &b, &zb);
	cr_assert_eq(ra == 0, rb == 0, "%s: decoder %d, reference %d", what,
		     ra, rb);
	if (ra == 0) {
		cr_assert(a.seq == b.seq && a.version == b.version &&
			  a.at_ms == b.at_ms && a.schema == b.schema, "%s",
			  what);
		cr_assert(!memcmp(a.id, b.id, 36), "%s: id", what);
		cr_assert(tl_slices_eq(a.type, b.type) &&
			  tl_slices_eq(a.stream, b.stream) &&
			  tl_slices_eq(a.actor_id, b.actor_id) &&
			  tl_slices_eq(a.actor_kind, b.actor_kind),
			  "%s: strings", what);
		cr_assert(a.data == b.data && a.data_len == b.data_len,
			  "%s: data", what);
		cr_assert(!memcmp(a.hash, b.hash, TL_HASH_LEN), "%s: hash",
			  what);
	}
	msgpack_zone_destroy(&za);
	msgpack_zone_destroy(&zb);
	free(raw);
	return ra == 0;
}

Test(decode, every_encoding_reads_as_msgpack_unpack_reads_it)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int v = 0; v < 64; v++) {
		record(v);
		tl_event ev;
		msgpack_zone z;
		msgpack_zone_init(&z, 1024);
		cr_assert_eq(tl_event_decode((const uint8_t *)sb.data, sb.size,
					     &ev, &z, NULL), 0,
			     "variant %d rejected", v);
		msgpack_zone_destroy(&z);
		same((const uint8_t *)sb.data, sb.size, "variant");
	}
	msgpack_sbuffer_destroy(&sb);
}

/* An event id is a UUID's 36 characters: one more or one less is no
 * event, whatever its encoding (neither is cut or padded). */
Test(decode, an_id_of_another_length_is_refused)
{
	static const char *const ids[] = {
		"0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6x",
		"0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a",
	};
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int i = 0; i < 2; i++)
		for (int v = 0; v < 6; v++) {
			rec_id = ids[i];
			record(v);
			cr_assert(!same((const uint8_t *)sb.data, sb.size,
					"id length"),
				  "an id of %zu characters", strlen(ids[i]));
		}
	rec_id = "0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
	msgpack_sbuffer_destroy(&sb);
}

Test(decode, random_mutations_are_judged_alike)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	uint8_t buf[1024];
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int v = 0; v < 32; v++) {
		record(v);
		for (int m = 0; m < 3000; m++) {
			size_t len = sb.size;
			memcpy(buf, sb.data, len);
			int edits = 1 + m % 3;
			for (int e = 0; e < edits; e++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				size_t at = (size_t)(x >> 8) % len;
				switch (x % 4) {
				case 0: buf[at] ^= (uint8_t)(1u << (x >> 40) % 8); break;
				case 1: buf[at] = (uint8_t)(x >> 48); break;
				case 2: len = at + 1; break; /* truncate */
				default: /* insert a byte */
					if (len < sizeof buf) {
						memmove(buf + at + 1, buf + at, len - at);
						buf[at] = (uint8_t)(x >> 32);
						len++;
					}
				}
			}
			same(buf, len, "mutation");
		}
	}
	msgpack_sbuffer_destroy(&sb);
}

/* Nesting at and past msgpack_unpack's limit, in the actor map (an extra
 * key's value) and in the data map. */
Test(decode, nesting_limits_are_judged_alike)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int where = 0; where < 2; where++)
		for (int depth = 28; depth <= 36; depth++) {
			msgpack_sbuffer_clear(&sb);
			msgpack_pack_map(&pk, 10);
			s("seq", 0); u(1, 0);
			s("id", 0); s("0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6", 0);
			s("type", 0); s("task.deleted", 0);
			s("stream", 0); s("0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a7", 0);
			s("version", 0); u(2, 0);
			s("at", 0); t(1700000000123, 0);
			s("actor", 0);
			msgpack_pack_map(&pk, where == 0 ? 3 : 2);
			s("id", 0); s("alice", 0); s("kind", 0); s("user", 0);
			if (where == 0) {
				s("deep", 0);
				for (int i = 0; i < depth; i++)
					msgpack_pack_array(&pk, 1);
				msgpack_pack_nil(&pk);
			}
			s("schema", 0); u(2, 0);
			s("data", 0);
			msgpack_pack_map(&pk, where == 1 ? 1 : 0);
			if (where == 1) {
				s("deep", 0);
				for (int i = 0; i < depth; i++)
					msgpack_pack_array(&pk, 1);
				msgpack_pack_nil(&pk);
			}
			s("hash", 0);
			uint8_t hash[TL_HASH_LEN] = { 0 };
			msgpack_pack_bin(&pk, TL_HASH_LEN);
			msgpack_pack_bin_body(&pk, hash, TL_HASH_LEN);
			/* 31 containers below the actor map or in the
			 * data map (with it: 32) are msgpack_unpack's most */
			cr_assert_eq(same((const uint8_t *)sb.data, sb.size,
					  "nesting"),
				     depth <= 31, "depth %d in %s", depth,
				     where ? "data" : "actor");
		}
	msgpack_sbuffer_destroy(&sb);
}

/* ---- stored documents: tl_mp_unpack ------------------------------------ */

/* Damaged documents are refused before msgpack_unpack allocates what a
 * header claims (an array32 header of 5 bytes asks for 96 GiB of objects),
 * or nests deeper than it can; good ones read as msgpack_unpack reads
 * them, from any offset. */
Test(decode, stored_documents_are_checked_before_msgpack_allocates)
{
	msgpack_zone zone;
	msgpack_object o;
	size_t off;
	msgpack_zone_init(&zone, 1024);

	static const uint8_t huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 1 };
	static const uint8_t huge_map[] = { 0x81, 0xa1, 'k', 0xdf, 0xff, 0xff,
					    0xff, 0xff, 1, 2 };
	static const uint8_t huge_str[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t truncated[] = { 0x82, 0xa1, 'a', 1, 0xa1 };
	const struct { const uint8_t *p; size_t n; } bad[] = {
		{ huge_array, sizeof huge_array }, { huge_map, sizeof huge_map },
		{ huge_str, sizeof huge_str }, { truncated, sizeof truncated },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		off = 0;
		cr_assert_eq(tl_mp_unpack(bad[i].p, bad[i].n, &off, &zone, &o),
			     MSGPACK_UNPACK_PARSE_ERROR, "case %zu", i);
		cr_assert_eq(off, 0);
	}

	/* nesting: 32 arrays deep is msgpack-c's limit, 33 is refused */
	uint8_t deep[40];
	for (int depth = 31; depth <= 33; depth++) {
		memset(deep, 0x91, (size_t)depth);
		deep[depth] = 0x07;
		off = 0;
		msgpack_unpack_return want = depth <= 32
						     ? MSGPACK_UNPACK_SUCCESS
						     : MSGPACK_UNPACK_PARSE_ERROR;
		cr_assert_eq(tl_mp_unpack(deep, (size_t)depth + 1, &off, &zone,
					  &o),
			     want, "depth %d", depth);
	}

	/* good: two objects read one after the other */
	static const uint8_t two[] = { 0x82, 0xa1, 'a', 1, 0xa1, 'b', 0x92,
				       2, 3, 0xa2, 'h', 'i' };
	off = 0;
	cr_assert_eq(tl_mp_unpack(two, sizeof two, &off, &zone, &o),
		     MSGPACK_UNPACK_EXTRA_BYTES);
	cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(o.via.map.size, 2);
	cr_assert_eq(off, 9);
	cr_assert_eq(tl_mp_unpack(two, sizeof two, &off, &zone, &o),
		     MSGPACK_UNPACK_SUCCESS);
	cr_assert_eq(o.type, MSGPACK_OBJECT_STR);
	off = sizeof two + 1;
	cr_assert_eq(tl_mp_unpack(two, sizeof two, &off, &zone, &o),
		     MSGPACK_UNPACK_PARSE_ERROR);
	msgpack_zone_destroy(&zone);
}

/* What import takes: every object in the form the engine writes (each in
 * its shortest encoding, times as tl_w_time writes them, no float, no
 * NUL in a string), so that the record's JSON export packs again to the
 * same bytes.  A walk-through imported a time of 4 bytes' worth in 12,
 * and one with nanoseconds below the millisecond: their export did not
 * import again. */
Test(decode, import_takes_only_the_form_the_engine_writes)
{
	uint8_t t[3][16];
	size_t tn[3];
	/* 2026-01-01: 4 bytes; with 250 ms: 8; in the year 9000: 12 */
	tn[0] = (size_t)(tl_w_time(t[0], INT64_C(1767225600000)) - t[0]);
	tn[1] = (size_t)(tl_w_time(t[1], INT64_C(1767225600250)) - t[1]);
	tn[2] = (size_t)(tl_w_time(t[2], INT64_C(221845392000000)) - t[2]);
	cr_assert_eq(tn[0], 6);
	cr_assert_eq(tn[1], 10);
	cr_assert_eq(tn[2], 15);
	static const struct {
		const char *bytes;
		size_t len;
		const char *why; /* NULL: taken */
	} cases[] = {
		{ "\x81\xa1" "a\x01", 4, NULL },
		{ "\x81\xa1" "a\xcc\x01", 5, "integer not in its shortest" },
		{ "\xcc\x80", 2, NULL },
		{ "\xcd\x00\xff", 3, "integer not in its shortest" },
		{ "\xcd\x01\x00", 3, NULL },
		{ "\xce\x00\x00\xff\xff", 5, "integer not in its shortest" },
		{ "\xcf\x00\x00\x00\x00\xff\xff\xff\xff", 9,
		  "integer not in its shortest" },
		{ "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9, NULL },
		{ "\xd0\xe0", 2, "integer not in its shortest" }, /* -32 */
		{ "\xd0\xdf", 2, NULL },                          /* -33 */
		{ "\xd0\x05", 2, "integer not in its shortest" }, /* 5 */
		{ "\xd1\xff\x80", 3, "integer not in its shortest" }, /* -128 */
		{ "\xd1\xff\x7f", 3, NULL },                          /* -129 */
		{ "\xd9\x03" "abc", 5, "string not in its shortest" },
		{ "\xa3" "a\0b", 4, "string with a NUL" },
		{ "\x81\xa2" "a\0\x01", 5, "string with a NUL" }, /* a key */
		{ "\xc4\x02\0\0", 4, NULL }, /* a hash may hold zeros */
		{ "\xc5\x00\x02\0\0", 5, "binary not in its shortest" },
		{ "\xdc\x00\x01\x01", 4, "array or map header" },
		{ "\xde\x00\x01\x01\x01", 5, "array or map header" },
		{ "\xca\0\0\0\0", 5, "a float" },
		{ "\xd4\x01\x00", 3, "an ext that is no time" },
		{ "\xd6\x01\0\0\0\0", 6, "an ext that is no time" },
		{ "\x01\x02", 2, "bytes after the record" },
		{ "\x92\x01", 2, "cut short" },
		/* 2026-01-01 in 8 and 12 bytes, and with 5 ns */
		{ "\xd7\xff\x00\x00\x00\x00\x69\x55\xb9\x00", 10,
		  "a time not as the engine writes it" },
		{ "\xc7\x0c\xff\0\0\0\0\0\0\0\0\x69\x55\xb9\x00", 15,
		  "a time not as the engine writes it" },
		{ "\xd7\xff\x00\x00\x00\x14\x69\x55\xb9\x00", 10,
		  "a time not as the engine writes it" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t at;
		const char *why = tl_mp_unwritten(
			(const uint8_t *)cases[i].bytes, cases[i].len, &at);
		if (!cases[i].why)
			cr_assert_null(why, "case %zu: %s at %zu", i, why, at);
		else
			cr_assert(why && strstr(why, cases[i].why),
				  "case %zu: %s", i, why ? why : "taken");
	}
	for (int i = 0; i < 3; i++) {
		size_t at;
		cr_assert_null(tl_mp_unwritten(t[i], tn[i], &at),
			       "time %d as written", i);
	}
	/* within a record: the offset of what is not */
	size_t at;
	cr_assert_not_null(tl_mp_unwritten(
		(const uint8_t *)"\x82\xa1" "a\x01\xa1" "b\xcd\x00\x05", 9,
		&at));
	cr_assert_eq(at, 6);
}

/* A timestamp's nanoseconds are below 10^9, in the 8-byte form (30
 * bits, which hold up to 1,073,741,823) and the 12-byte form alike, as
 * msgpack_unpack's tl_obj_time judges them: 999,999,999 reads, 10^9
 * does not (a mutation audit found nothing pinning the bound). */
Test(decode, a_time_has_fewer_than_a_billion_nanoseconds)
{
	for (uint32_t ns = 999999999u; ns <= 1000000000u; ns++) {
		uint8_t b8[10] = { 0xd7, 0xff }, b12[15] = { 0xc7, 12, 0xff };
		uint64_t d = (uint64_t)ns << 34 | 1700000000u;
		for (int i = 0; i < 8; i++)
			b8[2 + i] = (uint8_t)(d >> (56 - 8 * i));
		for (int i = 0; i < 4; i++)
			b12[3 + i] = (uint8_t)(ns >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			b12[7 + i] = (uint8_t)((uint64_t)1700000000u >>
					       (56 - 8 * i));
		tl_rd r8 = { b8, b8 + sizeof b8 }, r12 = { b12, b12 + sizeof b12 };
		int64_t ms8 = 0, ms12 = 0;
		bool ok = ns < 1000000000u;
		cr_assert_eq(tl_rd_time(&r8, &ms8), ok, "8 bytes, %u ns", ns);
		cr_assert_eq(tl_rd_time(&r12, &ms12), ok, "12 bytes, %u ns", ns);
		if (ok)
			cr_assert(ms8 == INT64_C(1700000000999) &&
				  ms12 == ms8, "%lld %lld", (long long)ms8,
				  (long long)ms12);
	}
}
