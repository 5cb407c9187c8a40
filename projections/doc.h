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

#include "tasklog.h"

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
	msgpack_timestamp ts;
	if (!o || !msgpack_object_to_timestamp(o, &ts))
		return false;
	*ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return true;
}

static inline bool tl_doc_slice_eq(tl_slice a, tl_slice b)
{
	return a.p && b.p && a.len == b.len && !memcmp(a.p, b.p, a.len);
}

/* An LMDB failure as a tl code: a full map is TL_EAGAIN, which makes the
 * engine grow the map and run the transaction again. */
static inline int tl_doc_mdb_err(tl_err *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return tl_err_set(err, TL_EAGAIN, "storage", "%s: map full",
				  what);
	return tl_err_set(err, TL_ESTORAGE, "storage", "%s: %s", what,
			  mdb_strerror(rc));
}

#endif
