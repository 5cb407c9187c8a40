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
#include <stdlib.h>
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
	tl_mp_pack_time(pk, ms);
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
	return tl_mp_time_ms(o, ms);
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
	tl_packer tp;
	msgpack_sbuffer_clear(out);
	msgpack_packer *pk = tl_packer_init(&tp, out);
	msgpack_pack_map(pk, data->via.map.size);
	for (uint32_t i = 0; i < data->via.map.size; i++) {
		const msgpack_object_kv *kv = &data->via.map.ptr[i];
		if (tl_obj_is_str(&kv->key, "owner"))
			tl_pack_cstr(pk, "assignee");
		else
			msgpack_pack_object(pk, kv->key);
		msgpack_pack_object(pk, kv->val);
	}
	return tp.failed ? -1 : 0;
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
bool tl_mp_fits(const uint8_t *raw, size_t len)
{
	size_t off = 0;
	return mp_skip(raw, len, &off, MP_DEPTH + 1);
}

bool tl_mp_skip(const void *data, size_t len, size_t *off)
{
	return *off <= len && mp_skip(data, len, off, MP_DEPTH);
}

msgpack_unpack_return tl_mp_unpack(const void *data, size_t len, size_t *off,
				   msgpack_zone *zone, msgpack_object *out)
{
	size_t end = *off;
	if (end > len || !mp_skip(data, len, &end, MP_DEPTH))
		return MSGPACK_UNPACK_PARSE_ERROR;
	return msgpack_unpack(data, len, off, zone, out);
}

/* ---- a one-pass reader for event envelopes ------------------------------
 * Reads the envelope's fields in place, as msgpack_unpack would type them
 * (a non-negative signed integer is a positive integer, a timestamp is ext
 * type -1 of 4, 8 or 12 bytes in any ext encoding), without building
 * objects: 19 msgpack_unpack calls per event were a fifth of a rebuild's
 * scan. */
typedef tl_rd rd;

static bool rd_be(rd *r, size_t w, uint64_t *out)
{
	uint64_t v = 0;
	if ((size_t)(r->end - r->p) < w)
		return false;
	for (size_t i = 0; i < w; i++)
		v = v << 8 | *r->p++;
	*out = v;
	return true;
}

static bool rd_str(rd *r, tl_slice *s)
{
	uint64_t n;
	if (r->p >= r->end)
		return false;
	uint8_t c = *r->p++;
	if ((c & 0xe0) == 0xa0)
		n = c & 31;
	else if (c < 0xd9 || c > 0xdb || !rd_be(r, (size_t)1 << (c - 0xd9), &n))
		return false;
	if ((uint64_t)(r->end - r->p) < n)
		return false;
	s->p = n ? (const char *)r->p : "";
	s->len = (size_t)n;
	r->p += n;
	return true;
}

/* The key k (n bytes, under 32) as a fixstr: how the writer packs every
 * envelope key.  Any other encoding of the same text is read by rd_str. */
static bool rd_key_n(rd *r, const char *k, size_t n)
{
	tl_slice s;
	if ((size_t)(r->end - r->p) > n && *r->p == (0xa0 | n) &&
	    !memcmp(r->p + 1, k, n)) {
		r->p += n + 1;
		return true;
	}
	return rd_str(r, &s) && s.len == n && !memcmp(s.p, k, n);
}
#define rd_key(r, lit) rd_key_n((r), (lit), sizeof(lit) - 1)

static bool rd_uint(rd *r, uint64_t *v)
{
	if (r->p >= r->end)
		return false;
	uint8_t c = *r->p++;
	if (c <= 0x7f) {
		*v = c;
		return true;
	}
	if (c >= 0xcc && c <= 0xcf)
		return rd_be(r, (size_t)1 << (c - 0xcc), v);
	if (c < 0xd0 || c > 0xd3)
		return false;
	int bits = 8 << (c - 0xd0);
	if (!rd_be(r, (size_t)bits / 8, v))
		return false;
	/* signed: only a value >= 0 unpacks as a positive integer */
	return bits == 64 ? *v >> 63 == 0 : (*v >> (bits - 1) & 1) == 0;
}

static bool rd_time(rd *r, int64_t *ms)
{
	uint64_t n = 0;
	if (r->p >= r->end)
		return false;
	uint8_t c = *r->p++;
	if (c >= 0xd4 && c <= 0xd8)
		n = (uint64_t)1 << (c - 0xd4);
	else if (c < 0xc7 || c > 0xc9 || !rd_be(r, (size_t)1 << (c - 0xc7), &n))
		return false;
	if ((uint64_t)(r->end - r->p) < n + 1 || *r->p++ != 0xff)
		return false;
	int64_t sec;
	uint64_t nsec = 0, d = 0;
	const uint8_t *b = r->p;
	r->p += n;
	rd t = { b, b + n };
	if (n == 4) {
		rd_be(&t, 4, &d);
		sec = (int64_t)d;
		nsec = 0;
	} else if (n == 8) {
		rd_be(&t, 8, &d);
		nsec = d >> 34;
		sec = (int64_t)(d & UINT64_C(0x3ffffffff));
	} else if (n == 12) {
		rd_be(&t, 4, &nsec);
		rd_be(&t, 8, &d);
		sec = (int64_t)d;
	} else {
		return false;
	}
	/* as tl_obj_time */
	if (nsec >= 1000000000 || sec > INT64_MAX / 1000 - 5 ||
	    sec < INT64_MIN / 1000)
		return false;
	*ms = sec * 1000 + (int64_t)(nsec / 1000000);
	return true;
}

/* Whether raw[0..len), well-formed (tl_mp_fits), is every object of it
 * in the form the engine writes: NULL, or what is not, and *at the
 * offset of that object.  The form: each integer, string, binary, array
 * and map in its shortest encoding (a non-negative integer as an
 * unsigned one), as msgpack-c's packer and the direct writer both write
 * them; a time as ext -1 of 4, 8 or 12 bytes as tl_w_time writes it,
 * whole milliseconds; no float, no other ext; no string with a NUL.
 * What JSON Lines gives back by `import` is in this form, so a record
 * that passes exports and imports again to the same bytes (and hash). */
const char *tl_mp_unwritten(const uint8_t *raw, size_t len, size_t *at)
{
	size_t off = 0, need = 1;
	while (need) {
		need--;
		*at = off;
		if (off >= len)
			return "cut short";
		uint8_t c = raw[off++];
		uint64_t n = 0;
		size_t w = 0;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 ||
		    c == 0xc3)
			continue;
		if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
			need += c <= 0x8f ? 2 * (size_t)(c & 15) : c & 15;
			continue;
		}
		if (c >= 0xa0 && c <= 0xbf) {
			n = c & 31;
		} else if (c >= 0xcc && c <= 0xd3) {
			w = (size_t)1 << ((c - 0xcc) & 3);
			if (len - off < w)
				return "cut short";
			for (size_t i = 0; i < w; i++)
				n = n << 8 | raw[off++];
			if (c <= 0xcf) { /* unsigned: not one a shorter holds */
				if (n < (c == 0xcc ? 128 : (uint64_t)1
						       << (4 << (c - 0xcc))))
					return "an integer not in its shortest "
					       "form";
				continue;
			}
			/* signed: negative, and below what a shorter holds */
			unsigned bits = (unsigned)(8 * w);
			int64_t v = bits == 64 ? (int64_t)n
				    : (int64_t)(n << (64 - bits)) >>
					      (64 - bits);
			int64_t lo = bits == 8 ? -32
				     : -((int64_t)1 << (bits / 2 - 1));
			if (v >= lo)
				return "an integer not in its shortest form";
			continue;
		} else {
			switch (c) {
			case 0xd9: case 0xc4: w = 1; break;
			case 0xda: case 0xc5: case 0xdc: case 0xde: w = 2; break;
			case 0xdb: case 0xc6: case 0xdd: case 0xdf: w = 4; break;
			case 0xd6: case 0xd7: case 0xc7: break;
			case 0xca: case 0xcb:
				return "a float (no event holds one)";
			default:
				return "an ext that is no time";
			}
			if (len - off < w)
				return "cut short";
			for (size_t i = 0; i < w; i++)
				n = n << 8 | raw[off++];
		}
		switch (c) {
		case 0xdc: case 0xdd: case 0xde: case 0xdf:
			if (n < (c == 0xdc || c == 0xde ? 16 : 65536))
				return "an array or map header not in its "
				       "shortest form";
			need += (size_t)(c >= 0xde ? 2 * n : n);
			if (need > len - off)
				return "cut short";
			continue;
		case 0xd6: case 0xd7: case 0xc7: {
			rd r = { raw + *at, raw + len };
			int64_t ms;
			uint8_t want[16];
			if (!rd_time(&r, &ms))
				return "an ext that is no time";
			size_t got = (size_t)(r.p - (raw + *at));
			if ((size_t)(tl_w_time(want, ms) - want) != got ||
			    memcmp(want, raw + *at, got))
				return "a time not as the engine writes it "
				       "(whole milliseconds, its shortest "
				       "form)";
			off = *at + got;
			continue;
		}
		case 0xd9: case 0xda: case 0xdb:
			if (n < (c == 0xd9 ? 32 : c == 0xda ? 256 : 65536))
				return "a string not in its shortest form";
			break;
		case 0xc5: case 0xc6:
			if (n < (c == 0xc5 ? 256 : 65536))
				return "a binary not in its shortest form";
			break;
		}
		if (len - off < n)
			return "cut short";
		if (c != 0xc4 && c != 0xc5 && c != 0xc6 &&
		    memchr(raw + off, 0, (size_t)n))
			return "a string with a NUL byte";
		off += (size_t)n;
	}
	*at = off;
	return off == len ? NULL : "bytes after the record";
}

/* Step over one object nested at most depth containers deep. */
static bool rd_skip(rd *r, int depth)
{
	size_t off = 0;
	if (!mp_skip(r->p, (size_t)(r->end - r->p), &off, depth))
		return false;
	r->p += off;
	return true;
}


/* ---- the reader for other code (internal.h) -------------------------- */

/* Step over one value with at most depth nested containers: strings,
 * nil, booleans, integers and timestamps (every value of event data but
 * maps and arrays) without mp_skip's bookkeeping. */
static bool rd_skip_value(rd *r, int depth)
{
	uint64_t n;
	if (r->p >= r->end)
		return false;
	uint8_t c = *r->p;
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
		r->p++;
		return true;
	}
	if ((c & 0xe0) == 0xa0) {
		r->p++;
		n = c & 31;
	} else if (c >= 0xd9 && c <= 0xdb) {
		r->p++;
		if (!rd_be(r, (size_t)1 << (c - 0xd9), &n))
			return false;
	} else if (c == 0xd6 || c == 0xd7) { /* fixext 4, 8: type + data */
		r->p++;
		n = c == 0xd6 ? 5 : 9;
	} else {
		return rd_skip(r, depth);
	}
	if (n > (uint64_t)(r->end - r->p))
		return false;
	r->p += n;
	return true;
}

bool tl_rd_str(tl_rd *r, tl_slice *s)
{
	return rd_str(r, s);
}

bool tl_rd_time(tl_rd *r, int64_t *ms)
{
	return rd_time(r, ms);
}

bool tl_rd_skip(tl_rd *r, int depth)
{
	return rd_skip(r, depth);
}

bool tl_rd_array(tl_rd *r, uint32_t *n)
{
	uint64_t v;
	if (r->p >= r->end)
		return false;
	uint8_t c = *r->p++;
	if ((c & 0xf0) == 0x90)
		v = c & 15;
	else if (c < 0xdc || c > 0xdd || !rd_be(r, c == 0xdc ? 2 : 4, &v))
		return false;
	/* every item takes at least a byte */
	if (v > (uint64_t)(r->end - r->p))
		return false;
	*n = (uint32_t)v;
	return true;
}

/* tl_rd_pick, or with `first` tl_rd_find: stop at the first key found. */
static bool rd_pick(tl_rd *r, int depth, const char *const *keys, size_t n,
		    tl_rd *out, bool first)
{
	uint64_t pairs;
	size_t lens[32];
	if (n > 32 || r->p >= r->end || depth < 1)
		return false;
	for (size_t j = 0; j < n; j++) {
		out[j] = (tl_rd){ NULL, NULL };
		lens[j] = strlen(keys[j]);
	}
	uint8_t c = *r->p++;
	if ((c & 0xf0) == 0x80)
		pairs = c & 15;
	else if (c < 0xde || c > 0xdf || !rd_be(r, c == 0xde ? 2 : 4, &pairs))
		return false;
	if (pairs > (uint64_t)(r->end - r->p) / 2)
		return false;
	size_t guess = 0; /* keys usually come in the order asked for */
	for (uint64_t i = 0; i < pairs; i++) {
		tl_slice k;
		rd save = *r;
		size_t hit = n;
		if (rd_str(r, &k)) {
			if (guess < n && !out[guess].p &&
			    k.len == lens[guess] &&
			    !memcmp(k.p, keys[guess], k.len))
				hit = guess;
			for (size_t j = 0; j < n && hit == n; j++)
				if (!out[j].p && k.len == lens[j] &&
				    !memcmp(k.p, keys[j], k.len))
					hit = j;
		} else {
			*r = save; /* a key of another type: never picked */
			if (!rd_skip(r, depth - 1))
				return false;
		}
		const uint8_t *v = r->p;
		if (!rd_skip_value(r, depth - 1))
			return false;
		if (hit < n) {
			out[hit] = (tl_rd){ v, r->p };
			guess = hit + 1;
			if (first)
				return true;
		}
	}
	return !first;
}

bool tl_rd_pick(tl_rd *r, int depth, const char *const *keys, size_t n,
		tl_rd *out)
{
	return rd_pick(r, depth, keys, n, out, false);
}

bool tl_rd_find(tl_rd *r, int depth, const char *key, tl_rd *out)
{
	return rd_pick(r, depth, &key, 1, out, true);
}

/* The actor map: the first "id" and "kind", both strings, as tl_map_get
 * finds them; other keys are stepped over. */
static bool rd_actor(rd *r, tl_event *ev)
{
	static const char *const keys[] = { "id", "kind" };
	tl_rd v[2];
	return tl_rd_pick(r, MP_DEPTH, keys, 2, v) && v[0].p && v[1].p &&
	       rd_str(&v[0], &ev->actor_id) && rd_str(&v[1], &ev->actor_kind);
}

/* A record's first two fields, seq and id, read into r from its start;
 * r is left after them. */
static bool rd_head(rd *r, const uint8_t *raw, size_t len, uint64_t *seq,
		    tl_slice *id)
{
	if (len < 40 || raw[0] != 0x8a)
		return false;
	*r = (rd){ raw + 1, raw + len };
	return rd_key(r, "seq") && rd_uint(r, seq) && rd_key(r, "id") &&
	       rd_str(r, id);
}

bool tl_event_head(const uint8_t *raw, size_t len, uint64_t *seq,
		   tl_slice *id)
{
	rd r;
	return rd_head(&r, raw, len, seq, id);
}

/* The fields after the head, type to at, into ev, and the key "actor":
 * r is left at the actor map. */
static bool rd_to_actor(rd *r, tl_event *ev)
{
	uint64_t u;
	if (!rd_key(r, "type") || !rd_str(r, &ev->type) ||
	    !rd_key(r, "stream") || !rd_str(r, &ev->stream) ||
	    !rd_key(r, "version") || !rd_uint(r, &u) || u > UINT32_MAX)
		return false;
	ev->version = (uint32_t)u;
	return rd_key(r, "at") && rd_time(r, &ev->at_ms) && rd_key(r, "actor");
}

bool tl_event_actor_written(const tl_event *ev)
{
	rd r;
	tl_event e;
	uint64_t seq;
	tl_slice s;
	if (!rd_head(&r, ev->raw, ev->raw_len, &seq, &s) ||
	    !rd_to_actor(&r, &e))
		return false;
	return r.p < r.end && *r.p++ == 0x82 && rd_key(&r, "id") &&
	       rd_str(&r, &s) && rd_key(&r, "kind") && rd_str(&r, &s) &&
	       rd_key(&r, "schema");
}

/* tl_event_decode; with upcast false, data as stored. */
static int decode(const uint8_t *raw, size_t len, tl_event *ev,
		  msgpack_zone *zone, msgpack_sbuffer *scratch, bool upcast)
{
	msgpack_object data_copy;
	tl_slice s;
	uint64_t u, n;

	memset(ev, 0, sizeof *ev);
	/* Every field is read with its bounds checked and the data map is
	 * stepped over with its counts checked: no separate pass over the
	 * whole record. */
	ev->raw = raw;
	ev->raw_len = len;
	rd r;
	if (!rd_head(&r, raw, len, &ev->seq, &s) || s.len != 36)
		return TL_ESTORAGE;
	memcpy(ev->id, s.p, 36);
	ev->id[36] = 0;
	if (!rd_to_actor(&r, ev) || !rd_actor(&r, ev) ||
	    !rd_key(&r, "schema") || !rd_uint(&r, &u) || u > 1000)
		return TL_ESTORAGE;
	ev->schema = (uint32_t)u;
	/* data: found, not decoded (the fold reads it). */
	if (!rd_key(&r, "data") || !tl_rd_at_map(&r))
		return TL_ESTORAGE;
	ev->data = r.p;
	if (!rd_skip(&r, MP_DEPTH))
		return TL_ESTORAGE;
	ev->data_len = (size_t)(r.p - ev->data);
	if (!rd_key(&r, "hash") || r.p >= r.end || *r.p < 0xc4 ||
	    *r.p > 0xc6)
		return TL_ESTORAGE;
	uint8_t c = *r.p++;
	if (!rd_be(&r, (size_t)1 << (c - 0xc4), &n) || n != TL_HASH_LEN ||
	    (size_t)(r.end - r.p) != TL_HASH_LEN)
		return TL_ESTORAGE;
	memcpy(ev->hash, r.p, TL_HASH_LEN);

	if (ev->schema < 1 || ev->schema > TL_SCHEMA_VERSION)
		return TL_ESTORAGE;
	if (upcast && ev->schema == 1 &&
	    tl_slice_eq(ev->type, "task.created")) {
		size_t doff = 0;
		if (!scratch ||
		    msgpack_unpack((const char *)ev->data, ev->data_len, &doff,
				   zone, &data_copy) != MSGPACK_UNPACK_SUCCESS)
			return TL_ESTORAGE;
		if (upcast_v1_created(&data_copy, scratch))
			return TL_ESTORAGE;
		ev->data = (const uint8_t *)scratch->data;
		ev->data_len = scratch->size;
	}
	return 0;
}

int tl_event_decode(const uint8_t *raw, size_t len, tl_event *ev,
		    msgpack_zone *zone, msgpack_sbuffer *scratch)
{
	return decode(raw, len, ev, zone, scratch, true);
}

int tl_event_decode_stored(const uint8_t *raw, size_t len, tl_event *ev)
{
	return decode(raw, len, ev, NULL, NULL, false);
}

/* ---- event ids: unique in a log ------------------------------------------ */

static int id_at_cmp(const void *x, const void *y)
{
	const tl_id_at *a = x, *b = y;
	int c = memcmp(a->id, b->id, 16);
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

size_t tl_id_dups(tl_id_at *a, size_t n, size_t max,
		  void (*dup)(void *arg, const tl_id_at *first,
			      const tl_id_at *again),
		  void *arg)
{
	size_t found = 0;
	qsort(a, n, sizeof *a, id_at_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (memcmp(a[i].id, a[first].id, 16)) {
			first = i;
			continue;
		}
		if (found++ < max && dup)
			dup(arg, &a[first], &a[i]);
	}
	return found;
}
