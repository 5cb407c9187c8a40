/*
 * codec.c - msgpack helpers and the decoding of stored event records,
 * including the upcasting of older event schemas to the current one.
 *
 * Schema history (the "schema" field of every event):
 *   1  task.created named the assignee "owner".
 *   2  task.created names it "assignee" (current).
 * An upcaster turns an older data map into the current shape on read, so
 * everything above this file sees only the current shape.
 */
#include <string.h>

#include "internal.h"

void tl_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void tl_pack_cstr(msgpack_packer *pk, const char *s)
{
	tl_pack_str(pk, s, strlen(s));
}

void tl_pack_slice_or_nil(msgpack_packer *pk, tl_slice s)
{
	if (s.p)
		tl_pack_str(pk, s.p, s.len);
	else
		msgpack_pack_nil(pk);
}

void tl_pack_time(msgpack_packer *pk, int64_t ms)
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

void tl_pack_time_or_nil(msgpack_packer *pk, bool has, int64_t ms)
{
	if (has)
		tl_pack_time(pk, ms);
	else
		msgpack_pack_nil(pk);
}

bool tl_obj_time(const msgpack_object *o, int64_t *ms)
{
	msgpack_timestamp ts;
	if (!o || !msgpack_object_to_timestamp(o, &ts))
		return false;
	/* A 12-byte timestamp has 64 bits of seconds (and 32 of nsec): more
	 * than fit in int64 ms. */
	if (ts.tv_sec > INT64_MAX / 1000 - 5 || ts.tv_sec < INT64_MIN / 1000)
		return false;
	*ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return true;
}

bool tl_obj_is_str(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

tl_slice tl_obj_slice(const msgpack_object *o)
{
	tl_slice s = { NULL, 0 };
	if (o && o->type == MSGPACK_OBJECT_STR) {
		s.p = o->via.str.size ? o->via.str.ptr : "";
		s.len = o->via.str.size;
	}
	return s;
}

const msgpack_object *tl_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (tl_obj_is_str(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

void tl_map_pick(const msgpack_object *map, const char *const *keys,
		 size_t n, const msgpack_object **out)
{
	size_t lens[32];
	for (size_t j = 0; j < n; j++) {
		out[j] = NULL;
		lens[j] = strlen(keys[j]);
	}
	if (!map || map->type != MSGPACK_OBJECT_MAP || n > 32)
		return;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		for (size_t j = 0; j < n; j++)
			if (k->via.str.size == lens[j] && !out[j] &&
			    !memcmp(k->via.str.ptr, keys[j], lens[j])) {
				out[j] = &map->via.map.ptr[i].val;
				break;
			}
	}
}

/* Rewrite a v1 task.created data map: "owner" becomes "assignee". */
static int upcast_v1_created(const msgpack_object *data,
			     msgpack_sbuffer *out)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(out);
	msgpack_packer_init(&pk, out, tl_buf_write);
	msgpack_pack_map(&pk, data->via.map.size);
	for (uint32_t i = 0; i < data->via.map.size; i++) {
		const msgpack_object_kv *kv = &data->via.map.ptr[i];
		if (tl_obj_is_str(&kv->key, "owner"))
			tl_pack_cstr(&pk, "assignee");
		else
			msgpack_pack_object(&pk, kv->key);
		msgpack_pack_object(&pk, kv->val);
	}
	return 0;
}

/*
 * Step *off over one msgpack object of raw[0..len), checking that its
 * containers claim no more entries than there are bytes left to hold them
 * (msgpack_unpack allocates a container's entries from its header before
 * it reads them: an array32 header of 5 bytes asked for 64 GiB) and nest
 * at most max_depth deep (msgpack_unpack's own limit is MP_DEPTH open
 * containers).  False when the object is malformed or runs past len.
 */
#define MP_DEPTH 32
static bool mp_skip(const uint8_t *raw, size_t len, size_t *offp,
		    int max_depth)
{
	size_t off = *offp, need = 1; /* objects still to read */
	size_t left[MP_DEPTH + 2];    /* of each open level */
	int depth = 0;
	left[0] = 1;
	while (need) {
		while (left[depth] == 0)
			depth--; /* need > 0: some level has objects left */
		left[depth]--;
		if (off >= len)
			return false;
		uint8_t c = raw[off++];
		size_t w = 0;     /* bytes of the length or count field */
		size_t body = 0;  /* bytes after it */
		size_t items = 0; /* objects inside */
		bool count = false;
		need--;
		if (c <= 0x7f || c >= 0xe0)
			continue;
		if (c <= 0x8f)
			items = 2 * (size_t)(c & 15);
		else if (c <= 0x9f)
			items = c & 15;
		else if (c <= 0xbf)
			body = c & 31;
		else
			switch (c) {
			case 0xc0: case 0xc2: case 0xc3: break;
			case 0xcc: case 0xd0: body = 1; break;
			case 0xcd: case 0xd1: body = 2; break;
			case 0xca: case 0xce: case 0xd2: body = 4; break;
			case 0xcb: case 0xcf: case 0xd3: body = 8; break;
			case 0xd4: body = 2; break; /* fixext: type + data */
			case 0xd5: body = 3; break;
			case 0xd6: body = 5; break;
			case 0xd7: body = 9; break;
			case 0xd8: body = 17; break;
			case 0xc4: case 0xd9: w = 1; break; /* bin, str */
			case 0xc5: case 0xda: w = 2; break;
			case 0xc6: case 0xdb: w = 4; break;
			case 0xc7: w = 1; body = 1; break; /* ext: + type */
			case 0xc8: w = 2; body = 1; break;
			case 0xc9: w = 4; body = 1; break;
			case 0xdc: case 0xde: w = 2; count = true; break;
			case 0xdd: case 0xdf: w = 4; count = true; break;
			default: return false; /* 0xc1 */
			}
		if (len - off < w)
			return false;
		uint64_t n = 0;
		for (size_t i = 0; i < w; i++)
			n = n << 8 | raw[off++];
		if (!count)
			body += (size_t)n;
		else
			items = (size_t)(c >= 0xde ? 2 * n : n);
		if (len - off < body)
			return false;
		off += body;
		/* Every object still to read takes at least one byte. */
		if (items > len - off || need + items > len - off)
			return false;
		if (items) {
			if (depth >= max_depth)
				return false;
			left[++depth] = items;
		}
		need += items;
	}
	*offp = off;
	return true;
}

/* True when raw[0..len) starts with one well-formed msgpack object: an
 * event record, whose field values are each within MP_DEPTH. */
static bool counts_fit(const uint8_t *raw, size_t len)
{
	size_t off = 0;
	return mp_skip(raw, len, &off, MP_DEPTH + 1);
}

int tl_event_decode(const uint8_t *raw, size_t len, tl_event *ev,
		    msgpack_zone *zone, msgpack_sbuffer *scratch)
{
	static const char *const keys[10] = {
		"seq", "id", "type", "stream", "version",
		"at", "actor", "schema", "data", "hash"
	};
	msgpack_object o;
	size_t off = 1;
	msgpack_object data_copy;

	memset(ev, 0, sizeof *ev);
	if (len < 40 || raw[0] != 0x8a || !counts_fit(raw, len))
		return TL_ESTORAGE;
	ev->raw = raw;
	ev->raw_len = len;
	for (int i = 0; i < 10; i++) {
		if (msgpack_unpack((const char *)raw, len, &off, zone, &o) !=
		    MSGPACK_UNPACK_EXTRA_BYTES)
			return TL_ESTORAGE;
		if (!tl_obj_is_str(&o, keys[i]))
			return TL_ESTORAGE;
		size_t val_off = off;
		if (i == 8) {
			/* data: found, not decoded (the fold reads it). */
			if ((raw[off] & 0xf0) != 0x80 && raw[off] != 0xde &&
			    raw[off] != 0xdf)
				return TL_ESTORAGE; /* not a map */
			if (!mp_skip(raw, len, &off, MP_DEPTH))
				return TL_ESTORAGE;
			ev->data = raw + val_off;
			ev->data_len = off - val_off;
			continue;
		}
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
			ev->id[36] = 0;
			break;
		case 2:
			ev->type = tl_obj_slice(&o);
			if (!ev->type.p)
				return TL_ESTORAGE;
			break;
		case 3:
			ev->stream = tl_obj_slice(&o);
			if (!ev->stream.p)
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
	if (ev->schema == 1 && tl_slice_eq(ev->type, "task.created")) {
		size_t doff = 0;
		if (!scratch ||
		    msgpack_unpack((const char *)ev->data, ev->data_len, &doff,
				   zone, &data_copy) != MSGPACK_UNPACK_SUCCESS)
			return TL_ESTORAGE;
		upcast_v1_created(&data_copy, scratch);
		ev->data = (const uint8_t *)scratch->data;
		ev->data_len = scratch->size;
	}
	return 0;
}
