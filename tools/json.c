/*
 * json.c - msgpack documents to JSON (see json.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>


#include "json.h"
#include "tasklog.h"
#include "tasklog_msgpack.h"

/* Documents are shallow; this only stops a corrupt record from exhausting
 * the stack. */
#define MPJSON_DEPTH_MAX 64

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when the bytes there
 * are not one (overlong forms, surrogates and values past U+10FFFF are
 * refused, as RFC 3629 says). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *mpjson_string(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, k;
	char *buf, *w;
	json_t *v;

	/* msgpack-c gives an empty string no pointer, which json_stringn
	 * takes for an error */
	if (!len)
		return json_string("");
	while (i < len && (k = utf8_seq_len(s + i, len - i)) != 0)
		i += k;
	if (i == len)
		return json_stringn(p, len);

	/* U+FFFD is 3 bytes: at most three times the input. */
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	w = buf;
	for (i = 0; i < len;) {
		k = utf8_seq_len(s + i, len - i);
		if (k) {
			memcpy(w, s + i, k);
			w += k;
			i += k;
		} else {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
		}
	}
	v = json_stringn(buf, (size_t)(w - buf));
	free(buf);
	return v;
}

static json_t *hex_string(const char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *buf = malloc(len * 2 + 1);
	json_t *v;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		buf[2 * i] = digits[(unsigned char)p[i] >> 4];
		buf[2 * i + 1] = digits[(unsigned char)p[i] & 15];
	}
	v = json_stringn(buf, len * 2);
	free(buf);
	return v;
}

static json_t *ext_value(const msgpack_object *o)
{
	int64_t ms;
	char buf[40];

	/* Seconds that do not fit in int64 milliseconds (a damaged document)
	 * are shown as bytes, like any other extension. */
	if (tl_mp_time_ms(o, &ms)) {
		tl_time_format(ms, buf);
		return json_string(buf);
	}
	/* No other extension type is part of the contract: show its bytes. */
	return hex_string(o->via.ext.ptr, o->via.ext.size);
}

/* The text a non-string map key is listed under. */
static char *key_text(const msgpack_object *k)
{
	json_t *v = mpjson_from_object(k);
	char *s;

	if (!v)
		return NULL;
	if (json_is_string(v))
		s = strdup(json_string_value(v));
	else
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

static json_t *convert(const msgpack_object *o, int depth);

static json_t *map_value(const msgpack_object *o, int depth)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		json_t *val = convert(&kv->val, depth + 1);
		json_t *key;
		int rc;

		if (!val)
			goto fail;
		if (kv->key.type == MSGPACK_OBJECT_STR) {
			key = mpjson_string(kv->key.via.str.ptr,
					    kv->key.via.str.size);
		} else {
			char *t = key_text(&kv->key);
			key = t ? mpjson_string(t, strlen(t)) : NULL;
			free(t);
		}
		if (!key) {
			json_decref(val);
			goto fail;
		}
		/* jansson keys are NUL-terminated: a key with an embedded
		 * NUL is cut there, which no engine document has. */
		rc = json_object_set_new(obj, json_string_value(key), val);
		json_decref(key);
		if (rc)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *array_value(const msgpack_object *o, int depth)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		json_t *v = convert(&o->via.array.ptr[i], depth + 1);
		if (!v || json_array_append_new(arr, v)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *convert(const msgpack_object *o, int depth)
{
	if (depth > MPJSON_DEPTH_MAX)
		return json_null();
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		/* JSON has no NaN or infinity: jansson refuses them. */
		json_t *v = json_real(o->via.f64);
		return v ? v : json_null();
	}
	case MSGPACK_OBJECT_STR:
		return mpjson_string(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return hex_string(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return ext_value(o);
	case MSGPACK_OBJECT_ARRAY:
		return array_value(o, depth);
	case MSGPACK_OBJECT_MAP:
		return map_value(o, depth);
	}
	return json_null();
}

json_t *mpjson_from_object(const msgpack_object *o)
{
	return convert(o, 0);
}

json_t *mpjson_from_doc(const uint8_t *doc, size_t len)
{
	msgpack_zone zone;
	msgpack_object o;
	size_t off = 0;
	json_t *v = NULL;

	errno = 0;
	if (!doc)
		return NULL;
	if (!msgpack_zone_init(&zone, 1024)) {
		errno = ENOMEM;
		return NULL;
	}
	int u = tl_mp_unpack(doc, len, &off, &zone, &o);
	if (u == MSGPACK_UNPACK_SUCCESS)
		v = convert(&o, 0); /* NULL with errno ENOMEM from malloc */
	else if (u == MSGPACK_UNPACK_NOMEM_ERROR)
		errno = ENOMEM;
	else
		errno = 0;
	msgpack_zone_destroy(&zone);
	return v;
}

static bool nomem;
static bool parsing;
static void (*parse_nomem)(void);

static void *checked_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p && parsing && parse_nomem)
		parse_nomem(); /* does not return */
	if (!p)
		nomem = true;
	return p;
}

void mpjson_init(void)
{
	json_set_alloc_funcs(checked_malloc, free);
}

bool mpjson_nomem(void)
{
	return nomem;
}

void mpjson_nomem_clear(void)
{
	nomem = false;
}

void mpjson_on_parse_nomem(void (*fn)(void))
{
	parse_nomem = fn;
}

json_t *mpjson_loadb(const char *buf, size_t len, size_t flags,
		     json_error_t *e)
{
	parsing = true;
	json_t *v = json_loadb(buf, len, flags, e);
	parsing = false;
	return v;
}

int mpjson_print(FILE *f, const json_t *v)
{
	if (json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY) ||
	    fputc('\n', f) == EOF)
		return -1;
	return 0;
}
