/*
 * tasklog_msgpack.h - a direct msgpack writer for documents that are
 * written often: the engine's task document and event envelope, and views'
 * entries.  Reserve the most a document can take once, then write bytes
 * through a pointer, without a callback per header and body.  The
 * encodings are msgpack-c's (smallest form of every integer, string and
 * container header, timestamps as ext -1 of 4, 8 or 12 bytes), so the bytes
 * equal what msgpack-c's packer makes (tests/unit_writer.c).
 *
 *   uint8_t *p = tl_w_begin(sb, bound);  (NULL: out of memory)
 *   p = tl_w_map(p, 2); p = TL_WK(p, "id"); p = tl_w_str(p, s, n); ...
 *   tl_w_end(sb, p);
 *
 * or, with a buffer of at least `bound` bytes of one's own, p = buf and
 * the length p - buf at the end.
 */
#ifndef TASKLOG_MSGPACK_H
#define TASKLOG_MSGPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "tasklog.h" /* tl_slice */

/* What the shared library exports: the functions of the public headers
 * (the library is built with -fvisibility=hidden). */
#ifndef TL_API
#define TL_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

static inline uint8_t *tl_w_begin(msgpack_sbuffer *sb, size_t bound)
{
	if (sb->alloc - sb->size < bound) {
		size_t n = sb->alloc ? sb->alloc : 256;
		if (bound > (SIZE_MAX >> 2) - sb->size)
			return NULL; /* the doubling below would overflow */
		while (n - sb->size < bound)
			n *= 2;
		char *d = (char *)realloc(sb->data, n);
		if (!d)
			return NULL;
		sb->data = d;
		sb->alloc = n;
	}
	return (uint8_t *)sb->data + sb->size;
}

static inline void tl_w_end(msgpack_sbuffer *sb, const uint8_t *p)
{
	sb->size = (size_t)(p - (const uint8_t *)sb->data);
}

static inline uint8_t *tl_w_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* Most a string of n bytes takes, header included. */
#define TL_W_STR(n) ((size_t)(n) + 5)
#define TL_W_TIME 15

static inline uint8_t *tl_w_str(uint8_t *p, const char *s, size_t n)
{
	if (n < 32)
		*p++ = (uint8_t)(0xa0 | n);
	else if (n < 256)
		*p++ = 0xd9, *p++ = (uint8_t)n;
	else if (n < 65536)
		*p++ = 0xda, p = tl_w_be(p, n, 2);
	else
		*p++ = 0xdb, p = tl_w_be(p, n, 4);
	if (n)
		memcpy(p, s, n);
	return p + n;
}
#define TL_WK(p, lit) tl_w_str((p), (lit), sizeof(lit) - 1)

static inline uint8_t *tl_w_cstr(uint8_t *p, const char *s)
{
	return tl_w_str(p, s, strlen(s));
}

static inline uint8_t *tl_w_map(uint8_t *p, uint32_t n)
{
	if (n < 16)
		*p++ = (uint8_t)(0x80 | n);
	else if (n < 65536)
		*p++ = 0xde, p = tl_w_be(p, n, 2);
	else
		*p++ = 0xdf, p = tl_w_be(p, n, 4);
	return p;
}

static inline uint8_t *tl_w_array(uint8_t *p, uint32_t n)
{
	if (n < 16)
		*p++ = (uint8_t)(0x90 | n);
	else if (n < 65536)
		*p++ = 0xdc, p = tl_w_be(p, n, 2);
	else
		*p++ = 0xdd, p = tl_w_be(p, n, 4);
	return p;
}

static inline uint8_t *tl_w_u64(uint8_t *p, uint64_t v)
{
	if (v < 128)
		*p++ = (uint8_t)v;
	else if (v < 256)
		*p++ = 0xcc, *p++ = (uint8_t)v;
	else if (v < 65536)
		*p++ = 0xcd, p = tl_w_be(p, v, 2);
	else if (v < (UINT64_C(1) << 32))
		*p++ = 0xce, p = tl_w_be(p, v, 4);
	else
		*p++ = 0xcf, p = tl_w_be(p, v, 8);
	return p;
}

static inline uint8_t *tl_w_nil(uint8_t *p)
{
	*p++ = 0xc0;
	return p;
}

static inline uint8_t *tl_w_bool(uint8_t *p, bool b)
{
	*p++ = b ? 0xc3 : 0xc2;
	return p;
}

static inline uint8_t *tl_w_bin(uint8_t *p, const void *b, size_t n)
{
	/* Only short binaries here (hashes): bin 8. */
	*p++ = 0xc4;
	*p++ = (uint8_t)n;
	memcpy(p, b, n);
	return p + n;
}

/* A time in ms as msgpack_pack_timestamp writes it. */
static inline uint8_t *tl_w_time(uint8_t *p, int64_t ms)
{
	int64_t sec = ms / 1000, rem = ms % 1000;
	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	uint32_t nsec = (uint32_t)rem * 1000000u;
	if (((uint64_t)sec >> 34) == 0) {
		uint64_t d = (uint64_t)nsec << 34 | (uint64_t)sec;
		if ((d & UINT64_C(0xffffffff00000000)) == 0) {
			*p++ = 0xd6, *p++ = 0xff;
			return tl_w_be(p, d, 4);
		}
		*p++ = 0xd7, *p++ = 0xff;
		return tl_w_be(p, d, 8);
	}
	*p++ = 0xc7, *p++ = 12, *p++ = 0xff;
	p = tl_w_be(p, nsec, 4);
	return tl_w_be(p, (uint64_t)sec, 8);
}

static inline uint8_t *tl_w_time_or_nil(uint8_t *p, bool has, int64_t ms)
{
	return has ? tl_w_time(p, ms) : tl_w_nil(p);
}

/*
 * msgpack-c's packer into a msgpack_sbuffer that remembers a failed write.
 * msgpack-c reports an allocation failure per write and goes on with the
 * next one, so a document packed without checking every call could lose
 * a string in its middle and still be stored.  Here, once a write fails
 * every later one fails too: pack, then check failed once.
 *
 *	tl_packer tp;
 *	msgpack_packer *pk = tl_packer_init(&tp, &sb);
 *	msgpack_pack_map(pk, 2); ...
 *	if (tp.failed) -> out of memory; sb holds a partial document
 */
typedef struct tl_packer {
	msgpack_packer pk;
	msgpack_sbuffer *sb;
	bool failed;
} tl_packer;

static inline int tl_packer_write(void *data, const char *buf, size_t len)
{
	tl_packer *tp = (tl_packer *)data;
	msgpack_sbuffer *sb = tp->sb;
	if (tp->failed)
		return -1;
	if (sb->alloc - sb->size < len) {
		if (msgpack_sbuffer_write(sb, buf, len)) {
			tp->failed = true;
			return -1;
		}
		return 0;
	}
	/* Most writes are 1..9 bytes: a byte loop beats a call to memcpy. */
	char *d = sb->data + sb->size;
	if (len <= 16)
		for (size_t i = 0; i < len; i++)
			d[i] = buf[i];
	else
		memcpy(d, buf, len);
	sb->size += len;
	return 0;
}

/* Pack into sb from its current end; returns the packer to use. */
static inline msgpack_packer *tl_packer_init(tl_packer *tp,
					     msgpack_sbuffer *sb)
{
	tp->sb = sb;
	tp->failed = false;
	msgpack_packer_init(&tp->pk, tp, tl_packer_write);
	return &tp->pk;
}

/* Milliseconds since the epoch as the msgpack timestamp every stored
 * document and event holds (msgpack-c picks its 4-, 8- or 12-byte form). */
static inline void tl_mp_pack_time(msgpack_packer *pk, int64_t ms)
{
	msgpack_timestamp ts;
	int64_t sec = ms / 1000, rem = ms % 1000;
	if (rem < 0) {
		rem += 1000;
		sec--;
	}
	ts.tv_sec = sec;
	ts.tv_nsec = (uint32_t)rem * 1000000u;
	msgpack_pack_timestamp(pk, &ts);
}

/* A msgpack timestamp object as milliseconds since the epoch.  False when
 * o is not a timestamp, its nanoseconds are 10^9 or more (which the
 * msgpack spec forbids), or its 64-bit seconds (a damaged or foreign
 * document) do not fit in int64 milliseconds. */
static inline bool tl_mp_time_ms(const msgpack_object *o, int64_t *ms)
{
	msgpack_timestamp ts;
	if (!o || !msgpack_object_to_timestamp(o, &ts) ||
	    ts.tv_nsec >= 1000000000 ||
	    ts.tv_sec > INT64_MAX / 1000 - 5 || ts.tv_sec < INT64_MIN / 1000)
		return false;
	*ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return true;
}

/* A reader over msgpack bytes that builds no objects (engine/codec.c;
 * views read stored documents with it too).
 * Each call reads the object at p, bounds-checked against end, types it as
 * msgpack_unpack would, and moves p past it; false when the object there
 * is of another type, malformed or runs past end (p is then unspecified). */
typedef struct tl_rd {
	const uint8_t *p, *end;
} tl_rd;
TL_API bool tl_rd_str(tl_rd *r, tl_slice *s);
TL_API bool tl_rd_time(tl_rd *r, int64_t *ms); /* as tl_mp_time_ms */
/* msgpack_unpack's limit: containers nested in one object, itself too. */
#define TL_MP_DEPTH 32
TL_API bool tl_rd_skip(tl_rd *r, int depth);   /* any object, <= depth nested */
TL_API bool tl_rd_array(tl_rd *r, uint32_t *n); /* the header: n items follow */
/* r at a map (n <= 32 keys) with at most depth nested containers, itself
 * included: out[j] = a reader over the value of the first string key equal
 * to keys[j] (out[j].p NULL when absent; of a key given twice, the first); r
 * moves past the map. */
TL_API bool tl_rd_pick(tl_rd *r, int depth, const char *const *keys, size_t n,
		tl_rd *out);
/* r at such a map: *out = a reader over exactly the value of the first
 * string key equal to key, the entries before it and the value checked,
 * the rest not read (r is left after the value).  False when absent or
 * malformed. */
TL_API bool tl_rd_find(tl_rd *r, int depth, const char *key, tl_rd *out);
static inline bool tl_rd_nil(const tl_rd *r)
{
	return r->p < r->end && *r->p == 0xc0;
}
static inline bool tl_rd_at_map(const tl_rd *r)
{
	return r->p && r->p < r->end &&
	       ((*r->p & 0xf0) == 0x80 || *r->p == 0xde || *r->p == 0xdf);
}
static inline bool tl_rd_at_array(const tl_rd *r)
{
	return r->p && r->p < r->end &&
	       ((*r->p & 0xf0) == 0x90 || *r->p == 0xdc || *r->p == 0xdd);
}
/* msgpack_unpack of the object at data[*off..len) for bytes read from
 * storage: first checks that it is well formed, nests no deeper than
 * msgpack-c allows, and that no container claims more entries than the
 * bytes left could hold (msgpack_unpack allocates a container's entries
 * from its header before reading them: a damaged 5-byte header asks for
 * tens of GiB).  MSGPACK_UNPACK_PARSE_ERROR when it does not pass. */
TL_API msgpack_unpack_return tl_mp_unpack(const void *data, size_t len, size_t *off,
				   msgpack_zone *zone, msgpack_object *out);
/* Step *off over the object there with the same checks, building nothing;
 * false (and *off unchanged) when it does not pass. */
TL_API bool tl_mp_skip(const void *data, size_t len, size_t *off);

#ifdef __cplusplus
}
#endif

#endif
