/*
 * doc.h - small msgpack helpers for the views (private to projections/):
 * packing text and times the way the engine's documents have them
 * (text as msgpack str, times as msgpack timestamps, ext -1), reading
 * fields back, and mapping LMDB errors to tl codes.
 */
#ifndef TL_DOC_H
#define TL_DOC_H

#include <string.h>

#include <lmdb.h>
#include <msgpack.h>

#include "tasklog_msgpack.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

static inline void tl_doc_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

static inline void tl_doc_cstr(msgpack_packer *pk, const char *s)
{
	tl_doc_str(pk, s, strlen(s));
}

static inline void tl_doc_time(msgpack_packer *pk, int64_t ms)
{
	tl_mp_pack_time(pk, ms);
}

/* The value of key in a msgpack map, or NULL. */
static inline const msgpack_object *tl_doc_get(const msgpack_object *map,
					       const char *key)
{
	size_t n = strlen(key);
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    !memcmp(k->via.str.ptr, key, n))
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

/* A str object as a slice; p == NULL when o is absent or not a str. */
static inline tl_slice tl_doc_slice(const msgpack_object *o)
{
	tl_slice s = { NULL, 0 };
	if (o && o->type == MSGPACK_OBJECT_STR) {
		s.p = o->via.str.size ? o->via.str.ptr : "";
		s.len = o->via.str.size;
	}
	return s;
}

static inline bool tl_doc_get_time(const msgpack_object *o, int64_t *ms)
{
	return tl_mp_time_ms(o, ms);
}

static inline bool tl_doc_slice_eq(tl_slice a, tl_slice b)
{
	return a.p && b.p && a.len == b.len && !memcmp(a.p, b.p, a.len);
}

/* The value of top-level key `key` of a stored document (a map), stepping
 * over the entries before it.  False when absent or malformed. */
static inline bool tl_doc_field(const MDB_val *doc, const char *key,
				msgpack_zone *zone, msgpack_object *out)
{
	const uint8_t *b = doc->mv_data;
	size_t len = doc->mv_size, off, n, klen = strlen(key);
	if (len < 1)
		return false;
	if ((b[0] & 0xf0) == 0x80) {
		n = b[0] & 15;
		off = 1;
	} else if (b[0] == 0xde && len >= 3) {
		n = (size_t)b[1] << 8 | b[2];
		off = 3;
	} else {
		return false;
	}
	/* Keys are compared in place and the values before the wanted one
	 * stepped over (checked, not built); only its value is unpacked. */
	for (size_t i = 0; i < n; i++) {
		size_t kn = 0, at = 0;
		if (off < len && (b[off] & 0xe0) == 0xa0) {
			kn = b[off] & 31; /* fixstr: every key tasklog writes */
			at = off + 1;
		} else if (off + 1 < len && b[off] == 0xd9) {
			kn = b[off + 1];
			at = off + 2;
		}
		if (!tl_mp_skip(b, len, &off))
			return false;
		if (at && kn == klen && !memcmp(b + at, key, klen))
			return tl_mp_unpack(b, len, &off, zone, out) >=
			       MSGPACK_UNPACK_EXTRA_BYTES;
		if (!tl_mp_skip(b, len, &off))
			return false;
	}
	return false;
}

/* The link of a stored task document: its entity index (into
 * tl_entity_tokens, -1 unknown) and id.  False when malformed. */
static inline bool tl_doc_link(const MDB_val *doc, msgpack_zone *zone,
			       int *type, tl_slice *id)
{
	msgpack_object v;
	*type = -1;
	*id = (tl_slice){ NULL, 0 };
	if (!tl_doc_field(doc, "link", zone, &v) ||
	    v.type != MSGPACK_OBJECT_MAP)
		return false;
	for (uint32_t j = 0; j < v.via.map.size; j++) {
		const msgpack_object *lk = &v.via.map.ptr[j].key;
		tl_slice val = tl_doc_slice(&v.via.map.ptr[j].val);
		if (lk->type != MSGPACK_OBJECT_STR)
			continue;
		if (lk->via.str.size == 4 && !memcmp(lk->via.str.ptr, "type", 4)) {
			for (int t = 0; t < 4; t++)
				if (val.p && strlen(tl_entity_tokens[t]) == val.len &&
				    !memcmp(tl_entity_tokens[t], val.p, val.len))
					*type = t;
		} else if (lk->via.str.size == 2 &&
			   !memcmp(lk->via.str.ptr, "id", 2)) {
			*id = val;
		}
	}
	return true;
}

/* An LMDB failure as a tl code: a full map is TL_EAGAIN, which makes the
 * engine grow the map and run the transaction again. */
static inline int tl_doc_mdb_err(tl_err *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return tl_err_set(err, TL_EAGAIN, "storage", "%s: map full",
				  what);
	return tl_err_set(err, TL_ESTORAGE, "storage", "%s: %s", what,
			  rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
}

/* A page's cursor, copied before next_cursor is cleared: a caller may
 * pass the same buffer for both (the obvious paging loop).  One too long
 * to be a cursor (so not in such a buffer) is left as it is: its check
 * fails. */
typedef struct tl_cursor_copy {
	char b[TL_CURSOR_MAX];
} tl_cursor_copy;

static inline tl_slice tl_doc_cursor_copy(tl_slice cursor, tl_cursor_copy *c)
{
	if (!cursor.p || cursor.len >= sizeof c->b)
		return cursor;
	memcpy(c->b, cursor.p, cursor.len);
	return (tl_slice){ c->b, cursor.len };
}

#endif
