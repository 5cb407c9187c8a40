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

/* A hint that the entry after the cursor's, at key k, will be read soon:
 * LMDB fills a page's nodes from its end down, so a page filled in key
 * order (appends, a rebuild) holds the next key's node just below this
 * one.  It cannot fault; where the page was filled otherwise it is only
 * wasted.  Walks of covered entries, whose reads miss the CPU's caches
 * in a large workspace, overlap the next entry's misses with this one's
 * work. */
static inline void tl_doc_prefetch_next(const MDB_val *k)
{
	for (int i = 1; i <= 8; i++)
		__builtin_prefetch((const uint8_t *)k->mv_data - 64 * i);
}

/* A reader at the value of top-level key `key` of a stored document (a
 * map): one pass with the engine's direct reader up to it, building
 * nothing.  False when absent or malformed: the fields before it and the
 * value itself are checked whole (nested at most as msgpack_unpack
 * allows), the fields after it are not read.  A key given twice (only
 * damage makes one) is found first, as the engine's own decoding reads
 * it. */
static inline bool tl_doc_find(const MDB_val *doc, const char *key,
			       tl_rd *val)
{
	tl_rd r = { doc->mv_data,
		    (const uint8_t *)doc->mv_data + doc->mv_size };
	return tl_rd_find(&r, TL_MP_DEPTH, key, val);
}

/* The link of a stored task document: its entity index (into
 * tl_entity_tokens, -1 unknown) and id.  False when malformed.  Read in
 * place (0.3.29: stepping over each field with a checked skip, then
 * msgpack_unpack of the link, was a sixth of a timeline's first page). */
static inline bool tl_doc_link(const MDB_val *doc, int *type, tl_slice *id)
{
	static const char *const keys[2] = { "type", "id" };
	tl_rd r, v[2];
	tl_slice t;
	*type = -1;
	*id = (tl_slice){ NULL, 0 };
	if (!tl_doc_find(doc, "link", &r) || !tl_rd_at_map(&r) ||
	    !tl_rd_pick(&r, TL_MP_DEPTH - 1, keys, 2, v))
		return false;
	if (v[0].p && tl_rd_str(&v[0], &t))
		for (int e = 0; e < 4; e++)
			if (strlen(tl_entity_tokens[e]) == t.len &&
			    !memcmp(tl_entity_tokens[e], t.p, t.len))
				*type = e;
	if (v[1].p && !tl_rd_str(&v[1], id))
		*id = (tl_slice){ NULL, 0 };
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
