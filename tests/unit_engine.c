/*
 * unit_engine.c - Criterion tests of the engine API: commands, the fold,
 * validation, batches, expected versions, idempotency, the event codec,
 * the hash chain and verify, map growth, as-of reads, group commit and
 * members.
 *
 * Every test gets its own workspace, a fresh directory under /tmp opened
 * with tl_db_open and initialised with tl_db_init at time T0, removed again
 * by the fixture's fini.  Commands are driven through tl_exec with tl_cmd
 * structs and an explicit ctx.now_ms, so event times are known exactly.
 * Result documents and event data are decoded here with msgpack-c, not
 * with the engine's own helpers.  A few white-box tests include internal.h
 * (tl_event_decode, tl_event_hash) and edit the LMDB environment directly
 * to tamper with stored records.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw; PATH_MAX in internal.h */
#endif
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>
#include <sodium.h>

#include "internal.h"
#include "testutil.h"

#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00.000Z */
#define SEC INT64_C(1000)
#define DAY (INT64_C(86400) * SEC)
#define DUE1 INT64_C(1772359200000) /* 2026-03-01T10:00:00.000Z */

/* ---- workspace ---------------------------------------------------------- */

static char ws_dir[64];
static uint64_t ws_map;
static tl_db *db;

static void db_open_or_die(void)
{
	tl_err err = { 0 };
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .map_size = ws_map };
	int rc = tl_db_open(ws_dir, &o, &db, &err);
	cr_assert_eq(rc, 0, "tl_db_open(%s): %d %s: %s", ws_dir, rc, err.field,
		     err.message);
}

static void db_close(void)
{
	tl_db_close(db);
	db = NULL;
}

static void ws_make(uint64_t map_size)
{
	snprintf(ws_dir, sizeof ws_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(ws_dir), "mkdtemp failed");
	ws_map = map_size;
	db_open_or_die();
	tl_init_opts io = { .now_ms = T0 };
	tl_err err = { 0 };
	int rc = tl_db_init(db, &io, &err);
	cr_assert_eq(rc, 0, "tl_db_init: %d %s: %s", rc, err.field,
		     err.message);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void ws_setup(void)
{
	ws_make(0);
}

static void ws_teardown(void)
{
	if (db)
		db_close();
	if (ws_dir[0])
		nftw(ws_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ws_dir[0] = 0;
}

static void ws_reopen(void)
{
	db_close();
	db_open_or_die();
}

/* ---- msgpack documents ------------------------------------------------- */

/* A parsed document.  msgpack-c refers to the input bytes for strings, so
 * those must outlive the doc; doc_take hands them over to it. */
typedef struct doc {
	msgpack_unpacked u;
	const msgpack_object *o;
	void *own;
} doc;

static void doc_parse(doc *d, const void *p, size_t n)
{
	size_t off = 0;
	d->own = NULL;
	msgpack_unpacked_init(&d->u);
	cr_assert_not_null(p, "no document");
	cr_assert_eq(msgpack_unpack_next(&d->u, p, n, &off),
		     MSGPACK_UNPACK_SUCCESS, "document does not decode");
	cr_assert_eq(off, n, "trailing bytes after the document");
	d->o = &d->u.data;
}

static void doc_take(doc *d, void *p, size_t n)
{
	doc_parse(d, p, n);
	d->own = p;
}

static void doc_free(doc *d)
{
	msgpack_unpacked_destroy(&d->u);
	free(d->own);
	d->own = NULL;
}

static const char *ostr(const msgpack_object *o, char *buf, size_t cap)
{
	if (!o)
		snprintf(buf, cap, "<absent>");
	else if (o->type == MSGPACK_OBJECT_STR)
		snprintf(buf, cap, "%.*s", (int)o->via.str.size,
			 o->via.str.ptr);
	else if (o->type == MSGPACK_OBJECT_NIL)
		snprintf(buf, cap, "<nil>");
	else
		snprintf(buf, cap, "<msgpack type %d>", (int)o->type);
	return buf;
}

static bool obj_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *fld_opt(const msgpack_object *m, const char *k)
{
	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (obj_is(&m->via.map.ptr[i].key, k))
			return &m->via.map.ptr[i].val;
	return NULL;
}

static const msgpack_object *fld_at(int line, const msgpack_object *m,
				    const char *k)
{
	cr_assert(m && m->type == MSGPACK_OBJECT_MAP,
		  "line %d: looking for '%s' in a non-map", line, k);
	const msgpack_object *o = fld_opt(m, k);
	cr_assert_not_null(o, "line %d: no field '%s'", line, k);
	return o;
}

static void expect_str_at(int line, const msgpack_object *m, const char *k,
			  const char *want)
{
	char buf[300];
	const msgpack_object *o = fld_at(line, m, k);
	if (!want) {
		cr_assert_eq(o->type, MSGPACK_OBJECT_NIL,
			     "line %d: '%s' is %s, expected nil", line, k,
			     ostr(o, buf, sizeof buf));
		return;
	}
	cr_assert(obj_is(o, want), "line %d: '%s' is '%s', expected '%s'",
		  line, k, ostr(o, buf, sizeof buf), want);
}

static void expect_uint_at(int line, const msgpack_object *m, const char *k,
			   uint64_t want)
{
	const msgpack_object *o = fld_at(line, m, k);
	cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER,
		     "line %d: '%s' is not an unsigned integer", line, k);
	cr_assert_eq(o->via.u64, want, "line %d: '%s' is %llu, expected %llu",
		     line, k, (unsigned long long)o->via.u64,
		     (unsigned long long)want);
}

static int64_t obj_time_at(int line, const msgpack_object *o, const char *k)
{
	msgpack_timestamp ts = { 0 }; /* (gcc -O1 takes cr_assert to return) */
	cr_assert(msgpack_object_to_timestamp(o, &ts),
		  "line %d: '%s' is not a msgpack timestamp (type %d)", line,
		  k, (int)o->type);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_time_at(int line, const msgpack_object *m, const char *k,
			   int64_t want)
{
	int64_t got = obj_time_at(line, fld_at(line, m, k), k);
	cr_assert_eq(got, want, "line %d: '%s' is %lld, expected %lld", line,
		     k, (long long)got, (long long)want);
}

static void expect_nil_at(int line, const msgpack_object *m, const char *k)
{
	char buf[300];
	const msgpack_object *o = fld_at(line, m, k);
	cr_assert_eq(o->type, MSGPACK_OBJECT_NIL,
		     "line %d: '%s' is %s, expected nil", line, k,
		     ostr(o, buf, sizeof buf));
}

static void expect_bool_at(int line, const msgpack_object *m, const char *k,
			   bool want)
{
	const msgpack_object *o = fld_at(line, m, k);
	cr_assert_eq(o->type, MSGPACK_OBJECT_BOOLEAN,
		     "line %d: '%s' is not a boolean", line, k);
	cr_assert_eq(o->via.boolean, want, "line %d: '%s' is %d, expected %d",
		     line, k, o->via.boolean, want);
}

/* The array k holds exactly the strings want[0..n), in any order. */
static void expect_set_at(int line, const msgpack_object *m, const char *k,
			  const char *const *want, size_t n)
{
	const msgpack_object *o = fld_at(line, m, k);
	cr_assert_eq(o->type, MSGPACK_OBJECT_ARRAY,
		     "line %d: '%s' is not an array", line, k);
	cr_assert_eq(o->via.array.size, n, "line %d: '%s' has %u items, expected %zu",
		     line, k, o->via.array.size, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (uint32_t j = 0; j < o->via.array.size && !found; j++)
			found = obj_is(&o->via.array.ptr[j], want[i]);
		cr_assert(found, "line %d: '%s' lacks '%s'", line, k, want[i]);
	}
}

/* The map k has exactly n entries. */
static void expect_map_size_at(int line, const msgpack_object *m,
			       const char *k, uint32_t n)
{
	const msgpack_object *o = k ? fld_at(line, m, k) : m;
	cr_assert_eq(o->type, MSGPACK_OBJECT_MAP, "line %d: '%s' is not a map",
		     line, k ? k : "document");
	cr_assert_eq(o->via.map.size, n, "line %d: '%s' has %u entries, expected %u",
		     line, k ? k : "document", o->via.map.size, n);
}

#define FLD(m, k) fld_at(__LINE__, m, k)
#define EXPECT_STR(m, k, w) expect_str_at(__LINE__, m, k, w)
#define EXPECT_UINT(m, k, w) expect_uint_at(__LINE__, m, k, w)
#define EXPECT_TIME(m, k, w) expect_time_at(__LINE__, m, k, w)
#define EXPECT_NIL(m, k) expect_nil_at(__LINE__, m, k)
#define EXPECT_BOOL(m, k, w) expect_bool_at(__LINE__, m, k, w)
#define EXPECT_SET(m, k, ...)                                               \
	do {                                                                \
		static const char *const set_[] = { __VA_ARGS__ };          \
		expect_set_at(__LINE__, m, k, set_,                         \
			      sizeof set_ / sizeof set_[0]);                \
	} while (0)
#define EXPECT_EMPTY(m, k) expect_set_at(__LINE__, m, k, NULL, 0)
#define EXPECT_MAP_SIZE(m, k, n) expect_map_size_at(__LINE__, m, k, n)

static void copy_str(const msgpack_object *o, char *buf, size_t cap)
{
	cr_assert(o && o->type == MSGPACK_OBJECT_STR && o->via.str.size < cap,
		  "not a short string");
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = 0;
}

/* ---- commands ---------------------------------------------------------- */

static tl_ctx at(int64_t ms)
{
	return (tl_ctx){ .now_ms = ms };
}

static tl_ctx as_at(const char *actor, int64_t ms)
{
	return (tl_ctx){ .actor = actor, .now_ms = ms };
}

static tl_cmd add_cmd(const char *title)
{
	return (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s(title),
			 .link = tl_s("lead:42") };
}

static tl_cmd on(tl_cmd_kind kind, const char *id)
{
	return (tl_cmd){ .kind = kind, .id = tl_s(id) };
}

/* A tag or untag command (kind) on task id for the one tag *tag, which
 * must outlive the command. */
static tl_cmd on_tag(tl_cmd_kind kind, const char *id, const tl_slice *tag)
{
	return (tl_cmd){ .kind = kind, .id = tl_s(id), .tags = tag,
			 .tags_len = 1 };
}

static uint64_t nevents(void)
{
	tl_stats st;
	tl_err err = { 0 };
	int rc = tl_db_stats(db, NULL, &st, &err);
	cr_assert_eq(rc, 0, "tl_db_stats: %s", err.message);
	cr_assert_eq(st.events, st.last_seq, "events %llu but last seq %llu",
		     (unsigned long long)st.events,
		     (unsigned long long)st.last_seq);
	return st.events;
}

static void exec_ok_at(int line, const tl_ctx *ctx, const tl_cmd *c,
		       size_t n, tl_result *res)
{
	tl_err err = { 0 };
	int rc = tl_exec(db, ctx, c, n, res, &err);
	cr_assert_eq(rc, 0, "line %d: tl_exec failed: %s (%d) at %d, %s: %s",
		     line, tl_code_name(rc), rc, err.index, err.field,
		     err.message);
}
#define EXEC_OK(ctx, c, n, res) exec_ok_at(__LINE__, ctx, c, n, res)

/* Run one command, assert success, parse its result document into d. */
static void run1_at(int line, tl_ctx ctx, tl_cmd c, tl_result *res, doc *d)
{
	exec_ok_at(line, &ctx, &c, 1, res);
	cr_assert_not_null(res->doc, "line %d: no result document", line);
	if (d)
		doc_parse(d, res->doc, res->doc_len);
}
#define RUN1(ctx, res, d, ...) run1_at(__LINE__, ctx, __VA_ARGS__, res, d)

/* Add a task titled `title` at time now; its id into id. */
static uint64_t add_task(int64_t now, const char *title, char id[37])
{
	tl_result res;
	doc d;
	RUN1(at(now), &res, &d, add_cmd(title));
	cr_assert(res.appended);
	copy_str(FLD(d.o, "id"), id, 37);
	uint64_t seq = res.seq;
	doc_free(&d);
	tl_result_release(&res);
	return seq;
}

static void add_member(const char *id, const char *role, int crm)
{
	tl_result res;
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id), .name = tl_s(id),
		     .role = tl_s(role), .crm_access = crm };
	RUN1(at(T0 + SEC), &res, NULL, c);
	cr_assert(res.appended);
	tl_result_release(&res);
}

/* The current document of a task. */
static void get_task(const char *id, doc *d, uint8_t **raw, size_t *len)
{
	uint8_t *p = NULL;
	size_t n = 0;
	tl_err err = { 0 };
	int rc = tl_task_get(db, NULL, tl_s(id), &p, &n, &err);
	cr_assert_eq(rc, 0, "tl_task_get(%s): %s: %s", id, err.field,
		     err.message);
	if (raw) {
		*raw = p;
		*len = n;
		if (d)
			doc_parse(d, p, n);
	} else if (d) {
		doc_take(d, p, n);
	} else {
		free(p);
	}
}

/* A command that must fail with `code` naming `field` at batch position
 * `index`, appending nothing. */
static void reject_at(int line, const tl_ctx *ctx, const tl_cmd *c, size_t n,
		      int code, const char *field, int index)
{
	tl_result res[8];
	tl_err err;
	tl_ctx dflt = at(T0 + 100 * SEC);
	cr_assert(n <= 8);
	uint64_t before = nevents();
	memset(&err, 0, sizeof err);
	err.index = 99;
	memset(res, 0x5a, sizeof res);
	int rc = tl_exec(db, ctx ? ctx : &dflt, c, n, res, &err);
	cr_assert_eq(rc, code, "line %d: expected %s, got %s (%d): %s: %s",
		     line, tl_code_name(code), tl_code_name(rc), rc, err.field,
		     err.message);
	cr_assert_eq(err.code, code, "line %d: err.code %d", line, err.code);
	cr_assert_str_eq(err.field, field,
			 "line %d: err.field is '%s', expected '%s' (%s)", line,
			 err.field, field, err.message);
	cr_assert_neq(err.message[0], 0, "line %d: empty message", line);
	cr_assert_eq(err.index, index, "line %d: err.index %d, expected %d",
		     line, err.index, index);
	cr_assert_eq(nevents(), before, "line %d: the log grew", line);
	for (size_t i = 0; i < n; i++)
		cr_assert_null(res[i].doc, "line %d: result %zu kept a doc",
			       line, i);
}
#define REJECT(code, field, ...)                                            \
	do {                                                                \
		tl_cmd c_ = __VA_ARGS__;                                    \
		reject_at(__LINE__, NULL, &c_, 1, code, field, 0);          \
	} while (0)
#define REJECT_AS(actor, code, field, ...)                                  \
	do {                                                                \
		tl_ctx x_ = as_at(actor, T0 + 100 * SEC);                   \
		tl_cmd c_ = __VA_ARGS__;                                    \
		reject_at(__LINE__, &x_, &c_, 1, code, field,               \
			  !strcmp(field, "as") ? -1 : 0);                  \
	} while (0)

/* ---- the log ------------------------------------------------------------ */

/* An event as tl_log_read gave it, copied out of the callback. */
typedef struct rec {
	uint64_t seq;
	char id[37];
	char type[64];
	char stream[160];
	uint32_t version;
	int64_t at;
	char actor_id[80];
	char actor_kind[16];
	uint32_t schema;
	uint8_t *data;
	size_t data_len;
	uint8_t hash[32];
	uint8_t *raw;
	size_t raw_len;
} rec;

typedef struct recs {
	rec *v;
	size_t n, cap;
} recs;

static void slice_copy(char *dst, size_t cap, tl_slice s)
{
	cr_assert(s.p && s.len < cap, "slice too long");
	memcpy(dst, s.p, s.len);
	dst[s.len] = 0;
}

static int collect(void *arg, const tl_event *ev)
{
	recs *r = arg;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = realloc(r->v, r->cap * sizeof *r->v);
		cr_assert_not_null(r->v);
	}
	rec *e = &r->v[r->n++];
	memset(e, 0, sizeof *e);
	e->seq = ev->seq;
	memcpy(e->id, ev->id, 37);
	slice_copy(e->type, sizeof e->type, ev->type);
	slice_copy(e->stream, sizeof e->stream, ev->stream);
	e->version = ev->version;
	e->at = ev->at_ms;
	slice_copy(e->actor_id, sizeof e->actor_id, ev->actor_id);
	slice_copy(e->actor_kind, sizeof e->actor_kind, ev->actor_kind);
	e->schema = ev->schema;
	e->data = malloc(ev->data_len);
	memcpy(e->data, ev->data, ev->data_len);
	e->data_len = ev->data_len;
	memcpy(e->hash, ev->hash, 32);
	e->raw = malloc(ev->raw_len);
	memcpy(e->raw, ev->raw, ev->raw_len);
	e->raw_len = ev->raw_len;
	return 0;
}

static void recs_free(recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].data);
		free(r->v[i].raw);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

static void read_log(recs *r, uint64_t from, const char *stream)
{
	tl_err err = { 0 };
	memset(r, 0, sizeof *r);
	int rc = tl_log_read(db, NULL, from, 0, tl_s(stream), collect, r, &err);
	cr_assert_eq(rc, 0, "tl_log_read: %s: %s", err.field, err.message);
}

/* The event with this seq. */
static rec *read_event(recs *r, uint64_t seq)
{
	tl_err err = { 0 };
	memset(r, 0, sizeof *r);
	int rc = tl_log_read(db, NULL, seq, 1, (tl_slice){ 0 }, collect, r,
			     &err);
	cr_assert_eq(rc, 0, "tl_log_read: %s", err.message);
	cr_assert_eq(r->n, 1, "no event %llu", (unsigned long long)seq);
	cr_assert_eq(r->v[0].seq, seq);
	return &r->v[0];
}

static bool is_uuid_v7(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash != (s[i] == '-'))
			return false;
		if (!dash && !((s[i] >= '0' && s[i] <= '9') ||
			       (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[14] == '7' && strchr("89ab", s[19]);
}

static void check_envelope_at(int line, const rec *e, uint64_t seq,
			      const char *type, const char *stream,
			      uint32_t version, int64_t when,
			      const char *actor, const char *kind)
{
	cr_assert_eq(e->seq, seq, "line %d: seq %llu, expected %llu", line,
		     (unsigned long long)e->seq, (unsigned long long)seq);
	cr_assert(is_uuid_v7(e->id), "line %d: event id '%s' is not a UUIDv7",
		  line, e->id);
	cr_assert_str_eq(e->type, type, "line %d: type", line);
	cr_assert_str_eq(e->stream, stream, "line %d: stream", line);
	cr_assert_eq(e->version, version, "line %d: version %u, expected %u",
		     line, e->version, version);
	cr_assert_eq(e->at, when, "line %d: at %lld, expected %lld", line,
		     (long long)e->at, (long long)when);
	cr_assert_str_eq(e->actor_id, actor, "line %d: actor id", line);
	cr_assert_str_eq(e->actor_kind, kind, "line %d: actor kind", line);
	cr_assert_eq(e->schema, TL_SCHEMA_VERSION, "line %d: schema %u", line,
		     e->schema);
}
#define CHECK_ENVELOPE(e, ...) check_envelope_at(__LINE__, e, __VA_ARGS__)

/* tl_event_decode of the stored bytes gives what tl_log_read gave, and an
 * independent msgpack-c decode agrees with both. */
static void check_round_trip(const rec *e)
{
	tl_event ev;
	msgpack_zone zone;
	msgpack_sbuffer scratch;
	msgpack_zone_init(&zone, 1024);
	msgpack_sbuffer_init(&scratch);
	int rc = tl_event_decode(e->raw, e->raw_len, &ev, &zone, &scratch);
	cr_assert_eq(rc, 0, "event %llu does not decode",
		     (unsigned long long)e->seq);
	cr_assert_eq(ev.seq, e->seq);
	cr_assert_str_eq(ev.id, e->id);
	cr_assert(tl_slice_eq(ev.type, e->type));
	cr_assert(tl_slice_eq(ev.stream, e->stream));
	cr_assert_eq(ev.version, e->version);
	cr_assert_eq(ev.at_ms, e->at);
	cr_assert(tl_slice_eq(ev.actor_id, e->actor_id));
	cr_assert(tl_slice_eq(ev.actor_kind, e->actor_kind));
	cr_assert_eq(ev.schema, e->schema);
	cr_assert_eq(ev.data_len, e->data_len);
	cr_assert_arr_eq(ev.data, e->data, e->data_len);
	cr_assert_arr_eq(ev.hash, e->hash, 32);
	cr_assert(ev.raw == e->raw && ev.raw_len == e->raw_len);
	msgpack_sbuffer_destroy(&scratch);
	msgpack_zone_destroy(&zone);

	/* The record: a map of 10 keys in the documented order. */
	static const char *const keys[10] = { "seq", "id", "type",
		"stream", "version", "at", "actor", "schema", "data", "hash" };
	doc d;
	char buf[64];
	doc_parse(&d, e->raw, e->raw_len);
	cr_assert_eq(d.o->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(d.o->via.map.size, 10);
	for (int i = 0; i < 10; i++)
		cr_assert(obj_is(&d.o->via.map.ptr[i].key, keys[i]),
			  "key %d is '%s', expected '%s'", i,
			  ostr(&d.o->via.map.ptr[i].key, buf, sizeof buf),
			  keys[i]);
	EXPECT_UINT(d.o, "seq", e->seq);
	EXPECT_STR(d.o, "id", e->id);
	EXPECT_STR(d.o, "type", e->type);
	EXPECT_STR(d.o, "stream", e->stream);
	EXPECT_UINT(d.o, "version", e->version);
	EXPECT_TIME(d.o, "at", e->at);
	EXPECT_MAP_SIZE(d.o, "actor", 2);
	EXPECT_STR(FLD(d.o, "actor"), "id", e->actor_id);
	EXPECT_STR(FLD(d.o, "actor"), "kind", e->actor_kind);
	EXPECT_UINT(d.o, "schema", 2);
	cr_assert_eq(FLD(d.o, "data")->type, MSGPACK_OBJECT_MAP);
	const msgpack_object *h = FLD(d.o, "hash");
	cr_assert_eq(h->type, MSGPACK_OBJECT_BIN);
	cr_assert_eq(h->via.bin.size, 32);
	cr_assert_arr_eq(h->via.bin.ptr, e->hash, 32);
	doc_free(&d);

	/* The data the callback got is the data inside the record. */
	doc dd;
	doc_parse(&dd, e->data, e->data_len);
	cr_assert_eq(dd.o->type, MSGPACK_OBJECT_MAP);
	doc_free(&dd);
}

/* ---- verify ----------------------------------------------------------- */

/* verify of this file's workspace (testutil.c) */
static int verify(tu_problems *p)
{
	return tu_verify(db, p);
}

static void expect_clean_at(int line)
{
	tu_problems p;
	int n = verify(&p);
	cr_assert_eq(n, 0, "line %d: verify found %d problems, first: %s", line,
		     n, p.first);
}
#define EXPECT_CLEAN() expect_clean_at(__LINE__)

/* ---- raw LMDB access (the workspace must be closed) ------------------- */

typedef struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
} raw;

static void raw_begin(raw *r, const char *name)
{
	unsigned flags = strcmp(name, "streams") ? 0
						 : MDB_DUPSORT | MDB_DUPFIXED;
	cr_assert_null(db, "close the workspace first");
	cr_assert_eq(mdb_env_create(&r->env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(r->env, 128), 0);
	cr_assert_eq(mdb_env_open(r->env, ws_dir, 0, 0666), 0);
	cr_assert_eq(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	cr_assert_eq(mdb_dbi_open(r->txn, name, flags, &r->dbi), 0);
}

static void raw_commit(raw *r)
{
	cr_assert_eq(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* A malloc'd copy of a stored value. */
static uint8_t *raw_fetch(const char *name, const void *key, size_t klen,
			  size_t *len)
{
	raw r;
	MDB_val k = { klen, (void *)key }, v;
	raw_begin(&r, name);
	cr_assert_eq(mdb_get(r.txn, r.dbi, &k, &v), 0, "no such record in %s",
		     name);
	uint8_t *p = malloc(v.mv_size);
	memcpy(p, v.mv_data, v.mv_size);
	*len = v.mv_size;
	mdb_txn_abort(r.txn);
	mdb_env_close(r.env);
	return p;
}

static void raw_store(const char *name, const void *key, size_t klen,
		      const void *val, size_t len)
{
	raw r;
	MDB_val k = { klen, (void *)key }, v = { len, (void *)val };
	raw_begin(&r, name);
	cr_assert_eq(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	raw_commit(&r);
}

static void raw_delete(const char *name, const void *key, size_t klen)
{
	raw r;
	MDB_val k = { klen, (void *)key };
	raw_begin(&r, name);
	cr_assert_eq(mdb_del(r.txn, r.dbi, &k, NULL), 0);
	raw_commit(&r);
}

static size_t find_bytes(const uint8_t *hay, size_t n, const void *needle,
			 size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return i;
	cr_assert_fail("bytes not found in the record");
	return 0;
}

/* Flip a byte of event seq at pos, then check that verify reports it;
 * restore and check that verify is clean again. */
static void flip_reported_at(int line, uint64_t seq, size_t pos, uint8_t mask)
{
	uint8_t key[8];
	size_t len;
	tl_put_be64(key, seq);
	db_close();
	uint8_t *orig = raw_fetch("events", key, 8, &len);
	cr_assert_lt(pos, len);
	uint8_t *bad = malloc(len);
	memcpy(bad, orig, len);
	bad[pos] ^= mask;
	raw_store("events", key, 8, bad, len);
	db_open_or_die();
	tu_problems p;
	int n = verify(&p);
	cr_assert_gt(n, 0,
		     "line %d: flipping byte %zu of %zu (0x%02x ^ 0x%02x) of event %llu went unnoticed",
		     line, pos, len, orig[pos], mask, (unsigned long long)seq);
	db_close();
	raw_store("events", key, 8, orig, len);
	db_open_or_die();
	free(orig);
	free(bad);
}
#define FLIP_REPORTED(seq, pos, mask) flip_reported_at(__LINE__, seq, pos, mask)

/* ======================================================================= */
/* codec: every event type goes in through a command and comes back out.   */
/* ======================================================================= */

TestSuite(codec, .init = ws_setup, .fini = ws_teardown);

Test(codec, workspace_initialized_round_trips)
{
	recs r;
	rec *e = read_event(&r, 1);
	CHECK_ENVELOPE(e, 1, "workspace.initialized", "workspace", 1, T0,
		       TL_SYSTEM_USER, "system");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 4);
	EXPECT_UINT(d.o, "format", TL_FORMAT_VERSION);
	EXPECT_STR(d.o, "tz", "UTC");
	EXPECT_STR(d.o, "week_start", "monday");
	EXPECT_STR(d.o, "admin", "admin");
	doc_free(&d);
	recs_free(&r);
}

Test(codec, member_added_round_trips)
{
	recs r;
	/* The first admin, added by init on behalf of the system user. */
	rec *e = read_event(&r, 2);
	CHECK_ENVELOPE(e, 2, "member.added", "member:admin", 1, T0,
		       TL_SYSTEM_USER, "system");
	check_round_trip(e);
	recs_free(&r);

	tl_result res;
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s("bob"),
		     .name = tl_s("Bob Builder"), .role = tl_s("member") };
	RUN1(at(T0 + 5 * SEC), &res, NULL, c);
	cr_assert_eq(res.seq, 3);
	tl_result_release(&res);
	e = read_event(&r, 3);
	CHECK_ENVELOPE(e, 3, "member.added", "member:bob", 1, T0 + 5 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 5);
	EXPECT_STR(d.o, "id", "bob");
	EXPECT_STR(d.o, "name", "Bob Builder");
	EXPECT_STR(d.o, "role", "member");
	EXPECT_BOOL(d.o, "crm_access", true);
	EXPECT_STR(d.o, "kind", "user");
	doc_free(&d);
	recs_free(&r);
}

Test(codec, member_updated_round_trips)
{
	add_member("bob", "member", 0);
	tl_result res;
	tl_cmd c = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		     .name = tl_s("Robert"), .role = tl_s("admin") };
	RUN1(at(T0 + 7 * SEC), &res, NULL, c);
	cr_assert(res.appended);
	uint64_t seq = res.seq;
	tl_result_release(&res);
	recs r;
	rec *e = read_event(&r, seq);
	CHECK_ENVELOPE(e, seq, "member.updated", "member:bob", 2, T0 + 7 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	EXPECT_MAP_SIZE(d.o, "changes", 2);
	EXPECT_STR(FLD(d.o, "changes"), "name", "Robert");
	EXPECT_STR(FLD(d.o, "changes"), "role", "admin");
	EXPECT_MAP_SIZE(d.o, "previous", 2);
	EXPECT_STR(FLD(d.o, "previous"), "name", "bob");
	EXPECT_STR(FLD(d.o, "previous"), "role", "member");
	doc_free(&d);
	recs_free(&r);

	/* A third change of the same stream gets version 3. */
	tl_cmd c2 = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		      .crm_access = -1 };
	RUN1(at(T0 + 8 * SEC), &res, NULL, c2);
	e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, seq + 1, "member.updated", "member:bob", 3,
		       T0 + 8 * SEC, "admin", "user");
	doc_parse(&d, e->data, e->data_len);
	EXPECT_BOOL(FLD(d.o, "changes"), "crm_access", false);
	EXPECT_BOOL(FLD(d.o, "previous"), "crm_access", true);
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_created_round_trips_with_every_field)
{
	add_member("bob", "member", 0);
	static const tl_slice tags[] = { { "vip", 3 }, { "q1", 2 },
					 { "vip", 3 } };
	tl_cmd c = {
		.kind = TL_TASK_ADD,
		.title = tl_s("Call Dana about the renewal"),
		.type = tl_s("call"),
		.status = tl_s("in_progress"),
		.due = tl_s("2026-03-01T10:00:00Z"),
		.assignee = tl_s("bob"),
		.notes = tl_s("line one\nline two"),
		.link = tl_s("contact:c-17"),
		.tags = tags,
		.tags_len = 3,
	};
	tl_result res;
	doc t;
	RUN1(at(T0 + 10 * SEC), &res, &t, c);
	char id[37];
	copy_str(FLD(t.o, "id"), id, sizeof id);
	cr_assert(is_uuid_v7(id), "generated task id '%s' is not a UUIDv7", id);

	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.created", id, 1, T0 + 10 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 10);
	EXPECT_STR(d.o, "title", "Call Dana about the renewal");
	EXPECT_STR(d.o, "type", "call");
	EXPECT_STR(d.o, "status", "in_progress");
	EXPECT_TIME(d.o, "due_at", DUE1);
	EXPECT_STR(d.o, "assignee", "bob");
	EXPECT_STR(d.o, "notes", "line one\nline two");
	EXPECT_MAP_SIZE(d.o, "link", 2);
	EXPECT_STR(FLD(d.o, "link"), "type", "contact");
	EXPECT_STR(FLD(d.o, "link"), "id", "c-17");
	EXPECT_NIL(d.o, "pipeline");
	EXPECT_NIL(d.o, "stage");
	EXPECT_SET(d.o, "tags", "vip", "q1");
	doc_free(&d);
	recs_free(&r);
	doc_free(&t);
	tl_result_release(&res);
}

Test(codec, task_created_round_trips_with_defaults)
{
	char id[37];
	uint64_t seq = add_task(T0 + 3 * SEC, "Minimal", id);
	recs r;
	rec *e = read_event(&r, seq);
	CHECK_ENVELOPE(e, seq, "task.created", id, 1, T0 + 3 * SEC, "admin",
		       "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_STR(d.o, "title", "Minimal");
	EXPECT_STR(d.o, "type", "task");
	EXPECT_STR(d.o, "status", "todo");
	EXPECT_NIL(d.o, "due_at");
	EXPECT_NIL(d.o, "assignee");
	EXPECT_NIL(d.o, "notes");
	EXPECT_STR(FLD(d.o, "link"), "type", "lead");
	EXPECT_STR(FLD(d.o, "link"), "id", "42");
	EXPECT_EMPTY(d.o, "tags");
	doc_free(&d);
	recs_free(&r);
}

Test(codec, task_updated_round_trips_with_changes_and_previous)
{
	char id[37];
	add_task(T0 + SEC, "Old title", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("New title");
	c.type = tl_s("task"); /* unchanged: not in the event */
	c.due = tl_s("2026-03-01T10:00:00Z");
	c.notes = tl_s("n");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.updated", id, 2, T0 + 2 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	const msgpack_object *ch = FLD(d.o, "changes");
	const msgpack_object *pv = FLD(d.o, "previous");
	EXPECT_MAP_SIZE(ch, NULL, 3);
	EXPECT_STR(ch, "title", "New title");
	EXPECT_TIME(ch, "due_at", DUE1);
	EXPECT_STR(ch, "notes", "n");
	EXPECT_MAP_SIZE(pv, NULL, 3);
	EXPECT_STR(pv, "title", "Old title");
	EXPECT_NIL(pv, "due_at");
	EXPECT_NIL(pv, "notes");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);

	/* --no-due: the change is to nil. */
	tl_cmd c2 = on(TL_TASK_UPDATE, id);
	c2.no_due = true;
	c2.type = tl_s("demo");
	RUN1(at(T0 + 3 * SEC), &res, NULL, c2);
	e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.updated", id, 3, T0 + 3 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, "changes", 2);
	EXPECT_NIL(FLD(d.o, "changes"), "due_at");
	EXPECT_STR(FLD(d.o, "changes"), "type", "demo");
	EXPECT_TIME(FLD(d.o, "previous"), "due_at", DUE1);
	EXPECT_STR(FLD(d.o, "previous"), "type", "task");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_assigned_round_trips_for_assign_and_unassign)
{
	char id[37];
	add_member("bob", "member", 0);
	add_task(T0 + SEC, "Assign me", id);
	tl_cmd c = on(TL_TASK_ASSIGN, id);
	c.assignee = tl_s("bob");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.assigned", id, 2, T0 + 2 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	EXPECT_STR(d.o, "assignee", "bob");
	EXPECT_NIL(d.o, "previous");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);

	tl_cmd u = on(TL_TASK_ASSIGN, id);
	u.unassign = true;
	RUN1(at(T0 + 3 * SEC), &res, NULL, u);
	e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.assigned", id, 3, T0 + 3 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc_parse(&d, e->data, e->data_len);
	EXPECT_NIL(d.o, "assignee");
	EXPECT_STR(d.o, "previous", "bob");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_status_changed_round_trips)
{
	char id[37];
	add_task(T0 + SEC, "Status", id);
	tl_cmd c = on(TL_TASK_STATUS, id);
	c.status = tl_s("on_hold");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.status_changed", id, 2, T0 + 2 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	EXPECT_STR(d.o, "status", "on_hold");
	EXPECT_STR(d.o, "previous", "todo");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_completed_round_trips_from_complete_and_from_status)
{
	char id[37], id2[37];
	add_task(T0 + SEC, "Complete", id);
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.completed", id, 2, T0 + 2 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	EXPECT_STR(d.o, "status", "completed");
	EXPECT_STR(d.o, "previous", "todo");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);

	/* `status completed` is a completion too, never status_changed. */
	add_task(T0 + 3 * SEC, "Complete by status", id2);
	tl_cmd c = on(TL_TASK_STATUS, id2);
	c.status = tl_s("completed");
	RUN1(at(T0 + 4 * SEC), &res, NULL, c);
	e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.completed", id2, 2, T0 + 4 * SEC,
		       "admin", "user");
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_tagged_and_untagged_round_trip)
{
	char id[37];
	add_task(T0 + SEC, "Tags", id);
	static const tl_slice tag = { "hot", 3 };
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, on_tag(TL_TASK_TAG, id, &tag));
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.tagged", id, 2, T0 + 2 * SEC, "admin",
		       "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 1);
	EXPECT_STR(d.o, "tag", "hot");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);

	RUN1(at(T0 + 3 * SEC), &res, NULL, on_tag(TL_TASK_UNTAG, id, &tag));
	e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.untagged", id, 3, T0 + 3 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 1);
	EXPECT_STR(d.o, "tag", "hot");
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

Test(codec, task_deleted_round_trips_with_empty_data)
{
	char id[37];
	add_task(T0 + SEC, "Delete me", id);
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_DELETE, id));
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.deleted", id, 2, T0 + 2 * SEC,
		       "admin", "user");
	check_round_trip(e);
	doc d;
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 0);
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
}

static uint64_t notified_bob(char idtext[24]);
static tl_cmd bob_reads_under(char idtext[24], tl_slice ids[1],
			      const char *key, tl_result *first);

Test(codec, notification_read_round_trips)
{
	char idtext[24];
	uint64_t nseq = notified_bob(idtext);
	tl_slice ids[1] = { tl_s(idtext) };
	tl_cmd c = { .kind = TL_NOTIFICATIONS_READ, .ids = ids, .ids_len = 1 };
	tl_result res;
	doc d;
	RUN1(as_at("bob", T0 + 3 * SEC), &res, &d, c);
	cr_assert(res.appended);
	EXPECT_STR(d.o, "member", "bob");
	doc_free(&d);
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "notification.read", "member:bob", 2,
		       T0 + 3 * SEC, "bob", "user");
	check_round_trip(e);
	doc_parse(&d, e->data, e->data_len);
	EXPECT_MAP_SIZE(d.o, NULL, 2);
	EXPECT_STR(d.o, "member", "bob");
	const msgpack_object *a = FLD(d.o, "ids");
	cr_assert_eq(a->type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(a->via.array.size, 1);
	cr_assert_eq(a->via.array.ptr[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	cr_assert_eq(a->via.array.ptr[0].via.u64, nseq);
	doc_free(&d);
	recs_free(&r);
	tl_result_release(&res);
	EXPECT_CLEAN();
}

Test(codec, every_event_of_a_mixed_log_decodes_and_chains)
{
	char id[37];
	add_member("bob", "member", 0);
	add_task(T0 + SEC, "Mixed", id);
	tl_cmd c = on(TL_TASK_ASSIGN, id);
	c.assignee = tl_s("bob");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	tl_result_release(&res);
	RUN1(at(T0 + 3 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);

	recs r;
	read_log(&r, 1, NULL);
	cr_assert_eq(r.n, nevents());
	uint8_t prev[32] = { 0 }, h[32];
	for (size_t i = 0; i < r.n; i++) {
		cr_assert_eq(r.v[i].seq, i + 1, "seq gap at %zu", i);
		check_round_trip(&r.v[i]);
		/* The hash is BLAKE2b(prev || canonical form). */
		tl_event_hash(prev, r.v[i].raw, r.v[i].raw_len, h);
		cr_assert_arr_eq(h, r.v[i].hash, 32, "event %zu: chain broken",
				 i + 1);
		cr_assert_arr_eq(r.v[i].raw + r.v[i].raw_len - 32, h, 32);
		memcpy(prev, h, 32);
		/* Ids are distinct. */
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(r.v[i].id, r.v[j].id);
	}
	recs_free(&r);

	/* A stream read gives that stream's events, versions 1, 2, 3. */
	read_log(&r, 1, id);
	cr_assert_eq(r.n, 3);
	for (size_t i = 0; i < r.n; i++) {
		cr_assert_str_eq(r.v[i].stream, id);
		cr_assert_eq(r.v[i].version, i + 1);
	}
	recs_free(&r);
}

Test(codec, log_read_pages_from_a_seq_with_a_limit)
{
	char id[37];
	for (int i = 0; i < 5; i++)
		add_task(T0 + SEC, "Page", id);
	recs r;
	tl_err err = { 0 };
	memset(&r, 0, sizeof r);
	cr_assert_eq(tl_log_read(db, NULL, 3, 2, (tl_slice){ 0 }, collect, &r,
				 &err), 0);
	cr_assert_eq(r.n, 2);
	cr_assert_eq(r.v[0].seq, 3);
	cr_assert_eq(r.v[1].seq, 4);
	recs_free(&r);
	read_log(&r, 6, NULL);
	cr_assert_eq(r.n, 2); /* 7 events: 2 from init, 5 tasks */
	recs_free(&r);
}

/* A stream is a task id (in any case), member:ID or workspace; anything
 * else is refused, naming the field, not read as an empty stream. */
Test(codec, log_read_checks_the_stream)
{
	char id[37], upper[37];
	add_task(T0 + SEC, "Stream", id);
	for (int i = 0; i < 37; i++)
		upper[i] = (char)toupper((unsigned char)id[i]);
	recs r;
	read_log(&r, 1, upper);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.v[0].stream, id);
	recs_free(&r);
	read_log(&r, 1, "workspace");
	cr_assert_geq(r.n, 1);
	recs_free(&r);
	read_log(&r, 1, "member:admin");
	cr_assert_geq(r.n, 1);
	recs_free(&r);
	read_log(&r, 1, "01890a5d-ac96-774b-bcce-b302099a8057"); /* no task */
	cr_assert_eq(r.n, 0);
	recs_free(&r);
	const char *bad[] = { "bogus", "member:", "member:Bob", "Workspace",
			      "01890a5d-ac96-774b-bcce-b302099a805",
			      "task:01890a5d-ac96-774b-bcce-b302099a8057" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		tl_err err = { 0 };
		memset(&r, 0, sizeof r);
		cr_expect_eq(tl_log_read(db, NULL, 1, 0, tl_s(bad[i]), collect,
					 &r, &err),
			     TL_EINVALID, "%s", bad[i]);
		cr_expect_str_eq(err.field, "stream", "%s", bad[i]);
		cr_expect_eq(r.n, 0);
		recs_free(&r);
	}
}

/* ======================================================================= */
/* fold: what each command does to the task.                              */
/* ======================================================================= */

TestSuite(fold, .init = ws_setup, .fini = ws_teardown);

Test(fold, new_task_has_the_documented_defaults)
{
	tl_result res;
	doc d;
	RUN1(at(T0 + 5 * SEC), &res, &d, add_cmd("Defaults"));
	cr_assert(res.appended);
	cr_assert_eq(res.seq, 3);
	EXPECT_STR(d.o, "title", "Defaults");
	EXPECT_STR(d.o, "type", "task");
	EXPECT_STR(d.o, "status", "todo");
	EXPECT_NIL(d.o, "due_at");
	EXPECT_NIL(d.o, "assignee");
	EXPECT_NIL(d.o, "notes");
	EXPECT_STR(FLD(d.o, "link"), "type", "lead");
	EXPECT_STR(FLD(d.o, "link"), "id", "42");
	EXPECT_TIME(d.o, "created_at", T0 + 5 * SEC);
	EXPECT_TIME(d.o, "updated_at", T0 + 5 * SEC);
	EXPECT_STR(FLD(d.o, "created_by"), "id", "admin");
	EXPECT_STR(FLD(d.o, "created_by"), "kind", "user");
	EXPECT_NIL(d.o, "completed_at");
	EXPECT_NIL(d.o, "pipeline");
	EXPECT_NIL(d.o, "stage");
	EXPECT_EMPTY(d.o, "tags");
	EXPECT_NIL(d.o, "automation");
	EXPECT_UINT(d.o, "version", 1);
	EXPECT_BOOL(d.o, "deleted", false);
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);

	/* The stored task is the result document, byte for byte. */
	uint8_t *p;
	size_t n;
	get_task(id, NULL, &p, &n);
	cr_assert_eq(n, res.doc_len);
	cr_assert_arr_eq(p, res.doc, n);
	free(p);
	tl_result_release(&res);
}

Test(fold, every_command_folds_into_the_task_in_turn)
{
	char id[37];
	tl_result res;
	doc d;
	add_member("bob", "member", 0);
	add_task(T0 + 10 * SEC, "Walk", id);

	tl_cmd up = on(TL_TASK_UPDATE, id);
	up.title = tl_s("Walk the dog");
	up.type = tl_s("meeting");
	up.due = tl_s("+3d");
	up.notes = tl_s("leash");
	RUN1(at(T0 + 20 * SEC), &res, &d, up);
	EXPECT_STR(d.o, "title", "Walk the dog");
	EXPECT_STR(d.o, "type", "meeting");
	EXPECT_TIME(d.o, "due_at", T0 + 20 * SEC + 3 * DAY);
	EXPECT_STR(d.o, "notes", "leash");
	EXPECT_UINT(d.o, "version", 2);
	EXPECT_TIME(d.o, "created_at", T0 + 10 * SEC);
	EXPECT_TIME(d.o, "updated_at", T0 + 20 * SEC);
	doc_free(&d);
	tl_result_release(&res);

	tl_cmd as = on(TL_TASK_ASSIGN, id);
	as.assignee = tl_s("bob");
	RUN1(at(T0 + 30 * SEC), &res, &d, as);
	EXPECT_STR(d.o, "assignee", "bob");
	EXPECT_UINT(d.o, "version", 3);
	EXPECT_TIME(d.o, "updated_at", T0 + 30 * SEC);
	doc_free(&d);
	tl_result_release(&res);

	tl_cmd st = on(TL_TASK_STATUS, id);
	st.status = tl_s("in_progress");
	RUN1(at(T0 + 40 * SEC), &res, &d, st);
	EXPECT_STR(d.o, "status", "in_progress");
	EXPECT_NIL(d.o, "completed_at");
	EXPECT_UINT(d.o, "version", 4);
	doc_free(&d);
	tl_result_release(&res);

	RUN1(at(T0 + 50 * SEC), &res, &d, on(TL_TASK_COMPLETE, id));
	EXPECT_STR(d.o, "status", "completed");
	EXPECT_TIME(d.o, "completed_at", T0 + 50 * SEC);
	EXPECT_UINT(d.o, "version", 5);
	doc_free(&d);
	tl_result_release(&res);

	/* Reopening with `status todo` clears completed_at. */
	st.status = tl_s("todo");
	RUN1(at(T0 + 60 * SEC), &res, &d, st);
	EXPECT_STR(d.o, "status", "todo");
	EXPECT_NIL(d.o, "completed_at");
	EXPECT_UINT(d.o, "version", 6);
	doc_free(&d);
	tl_result_release(&res);

	static const tl_slice a = { "a", 1 }, b = { "b", 1 };
	RUN1(at(T0 + 70 * SEC), &res, NULL, on_tag(TL_TASK_TAG, id, &a));
	tl_result_release(&res);
	RUN1(at(T0 + 71 * SEC), &res, &d, on_tag(TL_TASK_TAG, id, &b));
	EXPECT_SET(d.o, "tags", "a", "b");
	EXPECT_UINT(d.o, "version", 8);
	doc_free(&d);
	tl_result_release(&res);
	RUN1(at(T0 + 72 * SEC), &res, &d, on_tag(TL_TASK_UNTAG, id, &a));
	EXPECT_SET(d.o, "tags", "b");
	EXPECT_UINT(d.o, "version", 9);
	EXPECT_TIME(d.o, "updated_at", T0 + 72 * SEC);
	doc_free(&d);
	tl_result_release(&res);

	tl_cmd un = on(TL_TASK_ASSIGN, id);
	un.unassign = true;
	RUN1(at(T0 + 80 * SEC), &res, &d, un);
	EXPECT_NIL(d.o, "assignee");
	EXPECT_UINT(d.o, "version", 10);
	doc_free(&d);
	tl_result_release(&res);

	RUN1(at(T0 + 90 * SEC), &res, &d, on(TL_TASK_DELETE, id));
	EXPECT_BOOL(d.o, "deleted", true);
	EXPECT_UINT(d.o, "version", 11);
	EXPECT_TIME(d.o, "updated_at", T0 + 90 * SEC);
	/* Deleting keeps every other field. */
	EXPECT_STR(d.o, "title", "Walk the dog");
	EXPECT_SET(d.o, "tags", "b");
	EXPECT_TIME(d.o, "created_at", T0 + 10 * SEC);
	EXPECT_STR(FLD(d.o, "created_by"), "id", "admin");
	doc_free(&d);

	/* The stored document is the last result, and a fresh fold of the
	 * log (as of now) agrees with it. */
	uint8_t *p, *q;
	size_t n, m;
	get_task(id, NULL, &p, &n);
	cr_assert_eq(n, res.doc_len);
	cr_assert_arr_eq(p, res.doc, n);
	tl_err err = { 0 };
	cr_assert_eq(tl_task_as_of(db, NULL, tl_s(id), T0 + 1000 * SEC, &q, &m,
				   &err), 0);
	cr_assert_eq(m, n);
	cr_assert_arr_eq(q, p, n);
	free(p);
	free(q);
	tl_result_release(&res);
	EXPECT_CLEAN();
}

Test(fold, task_created_completed_has_completed_at)
{
	tl_cmd c = add_cmd("Born done");
	c.status = tl_s("completed");
	tl_result res;
	doc d;
	RUN1(at(T0 + 4 * SEC), &res, &d, c);
	EXPECT_STR(d.o, "status", "completed");
	EXPECT_TIME(d.o, "completed_at", T0 + 4 * SEC);
	doc_free(&d);
	tl_result_release(&res);
}

Test(fold, cancelling_a_completed_task_clears_completed_at)
{
	char id[37];
	tl_result res;
	doc d;
	add_task(T0 + SEC, "Cancel", id);
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);
	tl_cmd c = on(TL_TASK_STATUS, id);
	c.status = tl_s("cancelled");
	RUN1(at(T0 + 3 * SEC), &res, &d, c);
	EXPECT_STR(d.o, "status", "cancelled");
	EXPECT_NIL(d.o, "completed_at");
	doc_free(&d);
	tl_result_release(&res);
	/* Completing again sets the new time. */
	RUN1(at(T0 + 9 * SEC), &res, &d, on(TL_TASK_COMPLETE, id));
	EXPECT_TIME(d.o, "completed_at", T0 + 9 * SEC);
	doc_free(&d);
	tl_result_release(&res);
}

/* task reopen: a completed or cancelled task gets todo (or the status
 * given) in a task.status_changed event, completed_at cleared; an open
 * task is left as it is and nothing is appended. */
Test(fold, reopen_opens_a_closed_task_and_leaves_an_open_one)
{
	char id[37];
	tl_result res;
	doc d;
	add_task(T0 + SEC, "Reopen", id);
	uint64_t events = nevents();
	RUN1(at(T0 + 2 * SEC), &res, &d, on(TL_TASK_REOPEN, id));
	cr_expect(!res.appended, "an open task was reopened");
	EXPECT_STR(d.o, "status", "todo");
	doc_free(&d);
	tl_result_release(&res);
	cr_expect_eq(nevents(), events);

	RUN1(at(T0 + 3 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);
	RUN1(at(T0 + 4 * SEC), &res, &d, on(TL_TASK_REOPEN, id));
	cr_expect(res.appended);
	EXPECT_STR(d.o, "status", "todo");
	EXPECT_NIL(d.o, "completed_at");
	doc_free(&d);
	recs r;
	rec *e = read_event(&r, res.seq);
	cr_expect_str_eq(e->type, "task.status_changed");
	recs_free(&r);
	tl_result_release(&res);

	tl_cmd cancel = on(TL_TASK_STATUS, id);
	cancel.status = tl_s("cancelled");
	RUN1(at(T0 + 5 * SEC), &res, NULL, cancel);
	tl_result_release(&res);
	tl_cmd hold = on(TL_TASK_REOPEN, id);
	hold.status = tl_s("on_hold");
	RUN1(at(T0 + 6 * SEC), &res, &d, hold);
	EXPECT_STR(d.o, "status", "on_hold");
	doc_free(&d);
	tl_result_release(&res);
	/* open: even with another status, left as it is */
	hold.status = tl_s("in_progress");
	events = nevents();
	RUN1(at(T0 + 7 * SEC), &res, &d, hold);
	EXPECT_STR(d.o, "status", "on_hold");
	doc_free(&d);
	tl_result_release(&res);
	cr_expect_eq(nevents(), events);

	/* only an open status, checked before the task is looked up */
	tl_cmd bad = on(TL_TASK_REOPEN, "00000000-0000-7000-8000-000000000001");
	bad.status = tl_s("completed");
	REJECT(TL_EINVALID, "status", bad);
	bad.status = tl_s("done");
	REJECT(TL_EINVALID, "status", bad);
	tl_cmd titled = on(TL_TASK_REOPEN, id);
	titled.title = tl_s("x");
	REJECT(TL_EINVALID, "title", titled);
	EXPECT_CLEAN();
}

Test(fold, tags_are_a_set)
{
	static const tl_slice tags[] = { { "x", 1 }, { "y", 1 }, { "x", 1 },
					 { "y", 1 } };
	tl_cmd c = add_cmd("Tags");
	c.tags = tags;
	c.tags_len = 4;
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	EXPECT_SET(d.o, "tags", "x", "y");
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);
	tl_result_release(&res);

	/* Untagging removes the tag; tagging it again adds it once. */
	tl_cmd u = on_tag(TL_TASK_UNTAG, id, &tags[0]);
	RUN1(at(T0 + 2 * SEC), &res, &d, u);
	EXPECT_SET(d.o, "tags", "y");
	doc_free(&d);
	tl_result_release(&res);
	u.kind = TL_TASK_TAG;
	RUN1(at(T0 + 3 * SEC), &res, &d, u);
	EXPECT_SET(d.o, "tags", "x", "y");
	doc_free(&d);
	tl_result_release(&res);
	EXPECT_CLEAN();
}

Test(fold, deleted_task_is_still_readable_but_refuses_changes)
{
	char id[37];
	tl_result res;
	add_task(T0 + SEC, "Gone", id);
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_DELETE, id));
	tl_result_release(&res);
	doc d;
	get_task(id, &d, NULL, NULL);
	EXPECT_BOOL(d.o, "deleted", true);
	EXPECT_STR(d.o, "title", "Gone");
	doc_free(&d);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("Back");
	REJECT(TL_ENOTFOUND, "id", c);
	REJECT(TL_ENOTFOUND, "id", on(TL_TASK_DELETE, id));
	REJECT(TL_ENOTFOUND, "id", on(TL_TASK_COMPLETE, id));

	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.tasks, 0);
	cr_assert_eq(st.active, 0);
}

Test(fold, created_by_is_the_system_user_when_parsa_assistant_acts)
{
	tl_result res;
	doc d;
	RUN1(as_at(TL_SYSTEM_USER, T0 + SEC), &res, &d, add_cmd("Automated"));
	EXPECT_STR(FLD(d.o, "created_by"), "id", TL_SYSTEM_USER);
	EXPECT_STR(FLD(d.o, "created_by"), "kind", "system");
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);
	recs r;
	rec *e = read_event(&r, res.seq);
	CHECK_ENVELOPE(e, res.seq, "task.created", id, 1, T0 + SEC,
		       TL_SYSTEM_USER, "system");
	recs_free(&r);
	tl_result_release(&res);

	/* A later change by a user does not change created_by. */
	RUN1(at(T0 + 2 * SEC), &res, &d, on(TL_TASK_COMPLETE, id));
	EXPECT_STR(FLD(d.o, "created_by"), "id", TL_SYSTEM_USER);
	EXPECT_STR(FLD(d.o, "created_by"), "kind", "system");
	doc_free(&d);
	tl_result_release(&res);
}

Test(fold, created_by_is_the_member_who_acted)
{
	add_member("carol", "member", 0);
	tl_result res;
	doc d;
	RUN1(as_at("carol", T0 + SEC), &res, &d, add_cmd("Mine"));
	EXPECT_STR(FLD(d.o, "created_by"), "id", "carol");
	EXPECT_STR(FLD(d.o, "created_by"), "kind", "user");
	doc_free(&d);
	tl_result_release(&res);
}

Test(fold, client_supplied_id_is_kept_in_lowercase)
{
	tl_cmd c = add_cmd("Given id");
	c.id = tl_s("0190A0B0-C0D0-7E0F-8A0B-0C0D0E0F1011");
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	EXPECT_STR(d.o, "id", "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011");
	doc_free(&d);
	tl_result_release(&res);
	get_task("0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011", &d, NULL, NULL);
	EXPECT_STR(d.o, "title", "Given id");
	doc_free(&d);
	/* The same id again is a conflict. */
	c.title = tl_s("Again");
	REJECT(TL_ECONFLICT, "id", c);
}

Test(fold, date_due_is_midnight_in_the_workspace_zone)
{
	tl_cmd c = add_cmd("Dated");
	c.due = tl_s("2026-03-01");
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	EXPECT_TIME(d.o, "due_at", DUE1 - 10 * 3600 * SEC);
	doc_free(&d);
	tl_result_release(&res);
}

Test(fold, stats_count_live_and_active_tasks)
{
	char a[37], b[37], c[37];
	tl_result res;
	add_task(T0 + SEC, "A", a);
	add_task(T0 + SEC, "B", b);
	add_task(T0 + SEC, "C", c);
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_COMPLETE, a));
	tl_result_release(&res);
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_DELETE, b));
	tl_result_release(&res);
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.events, 7);
	cr_assert_eq(st.last_seq, 7);
	cr_assert_eq(st.tasks, 2);
	cr_assert_eq(st.active, 1);
	cr_assert_eq(st.members, 1);
}

/* ======================================================================= */
/* noop: a command that changes nothing appends nothing.                  */
/* ======================================================================= */

TestSuite(noop, .init = ws_setup, .fini = ws_teardown);

/* c (on task id) must leave the log and the task as they are, and return
 * the task unchanged. */
static void noop_at(int line, const char *id, tl_cmd c)
{
	uint8_t *before;
	size_t n;
	get_task(id, NULL, &before, &n);
	uint64_t events = nevents();
	tl_result res;
	tl_ctx ctx = at(T0 + 500 * SEC);
	exec_ok_at(line, &ctx, &c, 1, &res);
	cr_assert(!res.appended, "line %d: appended", line);
	cr_assert_eq(res.seq, 0, "line %d: seq %llu", line,
		     (unsigned long long)res.seq);
	cr_assert_eq(nevents(), events, "line %d: the log grew", line);
	cr_assert_not_null(res.doc, "line %d: no document", line);
	cr_assert_eq(res.doc_len, n, "line %d: the task changed", line);
	cr_assert_arr_eq(res.doc, before, n, "line %d: the task changed",
			 line);
	uint8_t *after;
	size_t m;
	get_task(id, NULL, &after, &m);
	cr_assert(m == n && !memcmp(after, before, n),
		  "line %d: the stored task changed", line);
	free(before);
	free(after);
	tl_result_release(&res);
}
#define NOOP(id, ...) noop_at(__LINE__, id, __VA_ARGS__)

/* A task with title "Same", type call, due DUE1, notes "n", assignee bob,
 * status in_progress, tag "t". */
static void busy_task(char id[37])
{
	add_member("bob", "member", 0);
	static const tl_slice tag = { "t", 1 };
	tl_cmd c = add_cmd("Same");
	c.type = tl_s("call");
	c.due = tl_s("2026-03-01T10:00:00Z");
	c.notes = tl_s("n");
	c.assignee = tl_s("bob");
	c.status = tl_s("in_progress");
	c.tags = &tag;
	c.tags_len = 1;
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	copy_str(FLD(d.o, "id"), id, 37);
	doc_free(&d);
	tl_result_release(&res);
}

Test(noop, update_to_the_same_values_appends_nothing)
{
	char id[37];
	busy_task(id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("Same");
	NOOP(id, c);
	c.type = tl_s("call");
	c.due = tl_s("2026-03-01T11:00:00+01:00"); /* the same instant */
	c.notes = tl_s("n");
	NOOP(id, c);
}

Test(noop, no_due_on_a_task_without_due_appends_nothing)
{
	char id[37];
	add_task(T0 + SEC, "No due", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.no_due = true;
	NOOP(id, c);
}

Test(noop, same_status_appends_nothing)
{
	char id[37];
	busy_task(id);
	tl_cmd c = on(TL_TASK_STATUS, id);
	c.status = tl_s("in_progress");
	NOOP(id, c);
}

Test(noop, completing_a_completed_task_appends_nothing)
{
	char id[37];
	tl_result res;
	add_task(T0 + SEC, "Done", id);
	RUN1(at(T0 + 2 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);
	NOOP(id, on(TL_TASK_COMPLETE, id));
	tl_cmd c = on(TL_TASK_STATUS, id);
	c.status = tl_s("completed");
	NOOP(id, c);
}

Test(noop, assigning_to_the_current_assignee_appends_nothing)
{
	char id[37];
	busy_task(id);
	tl_cmd c = on(TL_TASK_ASSIGN, id);
	c.assignee = tl_s("bob");
	NOOP(id, c);
}

Test(noop, unassigning_an_unassigned_task_appends_nothing)
{
	char id[37];
	add_task(T0 + SEC, "Nobody", id);
	tl_cmd c = on(TL_TASK_ASSIGN, id);
	c.unassign = true;
	NOOP(id, c);
}

Test(noop, tagging_with_a_present_tag_appends_nothing)
{
	char id[37];
	busy_task(id);
	static const tl_slice tag = { "t", 1 };
	NOOP(id, on_tag(TL_TASK_TAG, id, &tag));
}

Test(noop, untagging_an_absent_tag_appends_nothing)
{
	char id[37];
	busy_task(id);
	static const tl_slice tag = { "absent", 6 };
	NOOP(id, on_tag(TL_TASK_UNTAG, id, &tag));
}

Test(noop, no_op_in_a_batch_appends_only_the_real_changes)
{
	char id[37];
	busy_task(id);
	tl_cmd c[2] = { on(TL_TASK_STATUS, id), on(TL_TASK_STATUS, id) };
	c[0].status = tl_s("in_progress"); /* no-op */
	c[1].status = tl_s("on_hold");
	uint64_t before = nevents();
	tl_result res[2];
	tl_ctx ctx = at(T0 + 9 * SEC);
	EXEC_OK(&ctx, c, 2, res);
	cr_assert(!res[0].appended);
	cr_assert_eq(res[0].seq, 0);
	cr_assert(res[1].appended);
	cr_assert_eq(res[1].seq, before + 1);
	cr_assert_eq(nevents(), before + 1);
	tl_result_release(&res[0]);
	tl_result_release(&res[1]);
}

/* ======================================================================= */
/* validate: every rule rejects with the right code and field, and nothing */
/* is appended.                                                            */
/* ======================================================================= */

TestSuite(validate, .init = ws_setup, .fini = ws_teardown);

static char *repeat(char ch, size_t n)
{
	char *p = malloc(n + 1);
	memset(p, ch, n);
	p[n] = 0;
	return p;
}

static tl_cmd add_with_title(tl_slice title)
{
	tl_cmd c = add_cmd("x");
	c.title = title;
	return c;
}

Test(validate, empty_or_missing_title_is_rejected)
{
	REJECT(TL_EINVALID, "title", add_cmd(""));
	REJECT(TL_EINVALID, "title", add_cmd(NULL));
	char id[37];
	add_task(T0 + SEC, "Has title", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("");
	REJECT(TL_EINVALID, "title", c);
}

Test(validate, blank_title_name_tag_or_link_id_is_rejected)
{
	static const char *const blanks[] = {
		" ", "   ", "\xc2\xa0", " \xe3\x80\x80 ", "\xe2\x80\x83",
		"\xe2\x80\xaf\xe2\x81\x9f\xe1\x9a\x80",
		/* since 0.3.42, what shows nothing: the byte order mark, a
		 * zero-width space, a soft hyphen and a space, a Hangul
		 * filler, a word joiner and a variation selector */
		"\xef\xbb\xbf", "\xe2\x80\x8b", "\xc2\xad ", "\xe3\x85\xa4",
		"\xe2\x81\xa0\xef\xb8\x8f",
	};
	char id[37];
	add_task(T0 + SEC, "Has title", id);
	for (size_t i = 0; i < sizeof blanks / sizeof *blanks; i++) {
		REJECT(TL_EINVALID, "title", add_cmd(blanks[i]));
		tl_cmd c = on(TL_TASK_UPDATE, id);
		c.title = tl_s(blanks[i]);
		REJECT(TL_EINVALID, "title", c);
		c = add_cmd("x");
		c.link = tl_s(i % 2 ? "lead: " : "lead:\xc2\xa0");
		REJECT(TL_EINVALID, "link.id", c);
		c = on(TL_TASK_TAG, id);
		tl_slice tag = tl_s(blanks[i]);
		c.tags = &tag;
		c.tags_len = 1;
		REJECT(TL_EINVALID, "tag", c);
	}
	/* a link id with spaces at its ends would be another record */
	tl_cmd l = add_cmd("x");
	l.link = tl_s("lead:42 ");
	REJECT(TL_EINVALID, "link.id", l);
	l.link = tl_s("lead: 42");
	REJECT(TL_EINVALID, "link.id", l);
	l.link = tl_s("lead:42\xc2\xa0");
	REJECT(TL_EINVALID, "link.id", l);
	l.link = tl_s("lead:\xe3\x80\x80" "42");
	REJECT(TL_EINVALID, "link.id", l);
	REJECT(TL_EINVALID, "title", add_cmd("\xe2\x80\xa8"));
	/* a blank tag an older release let in can still be removed: an
	 * untag of one the task lacks is no change, not an error */
	{
		tl_slice sp = tl_s(" ");
		tl_cmd u = on_tag(TL_TASK_UNTAG, id, &sp);
		tl_ctx ux = at(T0 + 2 * SEC);
		tl_result ur;
		EXEC_OK(&ux, &u, 1, &ur);
		cr_assert(!ur.appended);
		tl_result_release(&ur);
	}
	/* spaces around text, and characters that only look alike, are
	 * fine; notes may be blank */
	add_task(T0 + SEC, "  padded  ", id);
	/* a character that shows, among ones that do not */
	add_task(T0 + SEC, "\xe2\x80\x8b" "a\xef\xbb\xbf", id);
	add_task(T0 + SEC, "\xd8\x80", id); /* U+0600 shows: not ignorable */
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.notes = tl_s("   ");
	tl_ctx x = at(T0 + 2 * SEC);
	tl_result res;
	EXEC_OK(&x, &c, 1, &res);
	tl_result_release(&res);
}

Test(validate, title_of_501_bytes_is_rejected_and_500_accepted)
{
	char *t = repeat('a', 501);
	REJECT(TL_EINVALID, "title", add_cmd(t));
	t[500] = 0;
	char id[37];
	add_task(T0 + SEC, t, id);
	free(t);
	/* 500 bytes of two-byte characters are fine; one more is not. */
	char *u = malloc(503);
	for (int i = 0; i < 250; i++)
		memcpy(u + 2 * i, "\xc3\xa9", 2);
	u[500] = 0;
	add_task(T0 + SEC, u, id);
	memcpy(u + 500, "\xc3\xa9", 3);
	REJECT(TL_EINVALID, "title", add_cmd(u));
	free(u);
}

Test(validate, title_with_invalid_utf8_is_rejected)
{
	REJECT(TL_EINVALID, "title", add_cmd("bad \xff byte"));
	REJECT(TL_EINVALID, "title", add_cmd("truncated \xc3"));
	REJECT(TL_EINVALID, "title", add_cmd("overlong \xc0\xaf"));
	REJECT(TL_EINVALID, "title", add_cmd("surrogate \xed\xa0\x80"));
	REJECT(TL_EINVALID, "title", add_cmd("past max \xf4\x90\x80\x80"));
	REJECT(TL_EINVALID, "title", add_cmd("\x80 lone continuation"));
}

/* Bytes that begin like a space (E2 80, as U+2000..U+200A do) but are no
 * UTF-8 are said to be that, not "blank" (before 0.3.20 the blank check
 * ran first and read E2 80 41 as a space). */
Test(validate, invalid_utf8_that_begins_like_a_space_is_said_to_be_invalid)
{
	static const char *const bad[] = { "\xe2\x80\x41", "\xe2\x80",
					   " \xe2\x80\x20", "\xe3\x80" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		tl_cmd c = add_cmd(bad[i]);
		tl_ctx x = at(T0 + SEC);
		tl_err err = { 0 };
		cr_assert_eq(tl_exec(db, &x, &c, 1, NULL, &err), TL_EINVALID);
		cr_assert_str_eq(err.field, "title");
		cr_assert(strstr(err.message, "UTF-8"), "%zu: %s", i,
			  err.message);
	}
}

Test(validate, title_with_a_control_character_is_rejected)
{
	REJECT(TL_EINVALID, "title", add_cmd("bell\x07"));
	REJECT(TL_EINVALID, "title", add_cmd("two\nlines"));
	REJECT(TL_EINVALID, "title", add_cmd("tab\there"));
	REJECT(TL_EINVALID, "title", add_cmd("del\x7f"));
	REJECT(TL_EINVALID, "title", add_with_title((tl_slice){ "nul\0x", 5 }));
}

Test(validate, title_with_a_c1_control_character_is_rejected)
{
	REJECT(TL_EINVALID, "title", add_cmd("next line \xc2\x85 here"));
	REJECT(TL_EINVALID, "title", add_cmd("\xc2\x80"));
	REJECT(TL_EINVALID, "title", add_cmd("\xc2\x9f"));
	/* U+00A0 (no-break space) is the first character after C1. */
	char id[37];
	add_task(T0 + SEC, "nbsp\xc2\xa0ok", id);
}

Test(validate, unknown_type_is_rejected)
{
	tl_cmd c = add_cmd("Typed");
	c.type = tl_s("phone");
	REJECT(TL_EINVALID, "type", c);
	c.type = tl_s("CALL");
	REJECT(TL_EINVALID, "type", c);
	c.type = tl_s("");
	REJECT(TL_EINVALID, "type", c);
	char id[37];
	add_task(T0 + SEC, "Typed", id);
	tl_cmd u = on(TL_TASK_UPDATE, id);
	u.type = tl_s("follow-up");
	REJECT(TL_EINVALID, "type", u);
}

Test(validate, unknown_status_is_rejected)
{
	tl_cmd c = add_cmd("Status");
	c.status = tl_s("done");
	REJECT(TL_EINVALID, "status", c);
	char id[37];
	add_task(T0 + SEC, "Status", id);
	tl_cmd s = on(TL_TASK_STATUS, id);
	s.status = tl_s("in progress");
	REJECT(TL_EINVALID, "status", s);
	s.status = tl_s(NULL);
	REJECT(TL_EINVALID, "status", s);
}

Test(validate, unknown_link_entity_type_is_rejected)
{
	tl_cmd c = add_cmd("Link");
	c.link = tl_s("deal:42");
	REJECT(TL_EINVALID, "link.type", c);
	c.link = tl_s("Lead:42");
	REJECT(TL_EINVALID, "link.type", c);
}

Test(validate, malformed_link_is_rejected)
{
	tl_cmd c = add_cmd("Link");
	c.link = tl_s("lead");
	REJECT(TL_EINVALID, "link", c);
	c.link = tl_s(":42");
	REJECT(TL_EINVALID, "link", c);
	c.link = tl_s("");
	REJECT(TL_EINVALID, "link", c);
	c.link = tl_s(NULL);
	REJECT(TL_EINVALID, "link", c);
	c.link = tl_s("lead:");
	REJECT(TL_EINVALID, "link.id", c);
	c.link = tl_s("lead:4\x01" "2");
	REJECT(TL_EINVALID, "link.id", c);
	c.link = tl_s("lead:\xff");
	REJECT(TL_EINVALID, "link.id", c);
}

Test(validate, link_id_of_129_bytes_is_rejected_and_128_accepted)
{
	char link[5 + 130];
	memcpy(link, "lead:", 5);
	memset(link + 5, '7', 129);
	link[5 + 129] = 0;
	tl_cmd c = add_cmd("Long link");
	c.link = tl_s(link);
	REJECT(TL_EINVALID, "link.id", c);
	link[5 + 128] = 0;
	c.link = tl_s(link);
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	EXPECT_STR(FLD(d.o, "link"), "id", link + 5);
	doc_free(&d);
	tl_result_release(&res);
}

Test(validate, unknown_assignee_is_rejected_as_invalid)
{
	tl_cmd c = add_cmd("Assign");
	c.assignee = tl_s("nobody");
	REJECT(TL_EINVALID, "assignee", c);
	char id[37];
	add_task(T0 + SEC, "Assign", id);
	tl_cmd a = on(TL_TASK_ASSIGN, id);
	a.assignee = tl_s("nobody");
	REJECT(TL_EINVALID, "assignee", a);
	a.assignee = tl_s("Not An Id");
	REJECT(TL_EINVALID, "assignee", a);
	a.assignee = tl_s(NULL);
	REJECT(TL_EINVALID, "assignee", a); /* neither member nor unassign */
	a.assignee = tl_s("admin");
	a.unassign = true;
	REJECT(TL_EINVALID, "assignee", a); /* both */
}

Test(validate, assignee_without_crm_access_is_rejected)
{
	add_member("dave", "member", -1);
	tl_cmd c = add_cmd("Assign");
	c.assignee = tl_s("dave");
	REJECT(TL_EINVALID, "assignee", c);
	char id[37];
	add_task(T0 + SEC, "Assign", id);
	tl_cmd a = on(TL_TASK_ASSIGN, id);
	a.assignee = tl_s("dave");
	REJECT(TL_EINVALID, "assignee", a);
}

Test(validate, system_user_cannot_be_the_assignee)
{
	tl_cmd c = add_cmd("Assign");
	c.assignee = tl_s(TL_SYSTEM_USER);
	REJECT(TL_EINVALID, "assignee", c);
	char id[37];
	add_task(T0 + SEC, "Assign", id);
	tl_cmd a = on(TL_TASK_ASSIGN, id);
	a.assignee = tl_s(TL_SYSTEM_USER);
	REJECT(TL_EINVALID, "assignee", a);
}

Test(validate, invalid_due_is_rejected)
{
	static const char *const bad[] = {
		"tomorrow", "2026-02-30", "2026-13-01", "2026-03-01T25:00:00Z",
		"+3x", "+", "", "2026-03-01T10:00:0", "2026-03-01T10",
		"0000-01-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tl_cmd c = add_cmd("Due");
		c.due = tl_s(bad[i]);
		reject_at(__LINE__, NULL, &c, 1, TL_EINVALID, "due", 0);
	}
	char id[37];
	add_task(T0 + SEC, "Due", id);
	tl_cmd u = on(TL_TASK_UPDATE, id);
	u.due = tl_s("soon");
	REJECT(TL_EINVALID, "due", u);
	u.due = tl_s("+1d");
	u.no_due = true;
	REJECT(TL_EINVALID, "due", u); /* both */
}

Test(validate, notes_of_65537_bytes_are_rejected_and_65536_accepted)
{
	char *n = repeat('n', 65537);
	tl_cmd c = add_cmd("Notes");
	c.notes = tl_s(n);
	REJECT(TL_EINVALID, "notes", c);
	n[65536] = 0;
	c.notes = tl_s(n);
	tl_result res;
	RUN1(at(T0 + SEC), &res, NULL, c);
	tl_result_release(&res);
	/* Notes are any UTF-8 (SPEC 1): text pasted from elsewhere keeps
	 * its line breaks, tabs, form feeds, escape sequences, C1 controls
	 * (the CLI escapes them on display). */
	c.notes = tl_s("a\nb\tc\r\n\x0c\x1b[31m\x7f\xc2\x85");
	RUN1(at(T0 + SEC), &res, NULL, c);
	cr_assert(memmem(res.doc, res.doc_len, "\x1b[31m\x7f\xc2\x85", 8));
	tl_result_release(&res);
	/* ... but no NUL, which would cut them, and nothing that is not
	 * UTF-8. */
	c.notes = (tl_slice){ "a\0b", 3 };
	REJECT(TL_EINVALID, "notes", c);
	c.notes = tl_s("bad \xfe");
	REJECT(TL_EINVALID, "notes", c);
	/* The title keeps the rule of no control characters. */
	c = add_cmd("Title \x1b[31m");
	REJECT(TL_EINVALID, "title", c);
	free(n);
}

Test(validate, tag_longer_than_64_bytes_is_rejected)
{
	char *t = repeat('t', 65);
	tl_slice tag = tl_s(t);
	tl_cmd c = add_cmd("Tag");
	c.tags = &tag;
	c.tags_len = 1;
	REJECT(TL_EINVALID, "tag", c);
	char id[37];
	add_task(T0 + SEC, "Tag", id);
	tl_cmd g = on_tag(TL_TASK_TAG, id, &tag);
	REJECT(TL_EINVALID, "tag", g);
	t[64] = 0;
	tag = tl_s(t);
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, g);
	tl_result_release(&res);
	tag = tl_s("");
	REJECT(TL_EINVALID, "tag", g);
	g.tags_len = 0;
	REJECT(TL_EINVALID, "tag", g);
	free(t);
}

Test(validate, invalid_member_id_is_rejected)
{
	static const char *const bad[] = { "Bob", "", "a b", "bob!", "ünï" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(bad[i]),
			     .name = tl_s("Someone") };
		reject_at(__LINE__, NULL, &c, 1, TL_EINVALID, "id", 0);
	}
	char *longid = repeat('m', 65);
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(longid),
		     .name = tl_s("Long") };
	REJECT(TL_EINVALID, "id", c);
	longid[64] = 0;
	c.id = tl_s(longid);
	tl_result res;
	RUN1(at(T0 + SEC), &res, NULL, c);
	tl_result_release(&res);
	free(longid);
}

Test(validate, invalid_role_is_rejected)
{
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s("eve"),
		     .name = tl_s("Eve"), .role = tl_s("owner") };
	REJECT(TL_EINVALID, "role", c);
	c.role = tl_s("Admin");
	REJECT(TL_EINVALID, "role", c);
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin"),
		     .role = tl_s("superuser") };
	REJECT(TL_EINVALID, "role", u);
}

Test(validate, member_name_is_required_and_checked)
{
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s("eve") };
	REJECT(TL_EINVALID, "name", c);
	c.name = tl_s("");
	REJECT(TL_EINVALID, "name", c);
	c.name = tl_s("Eve\x01");
	REJECT(TL_EINVALID, "name", c);
	c.name = tl_s("\xe3\x85\xa4"); /* a Hangul filler: shows nothing */
	REJECT(TL_EINVALID, "name", c);
	char *n = repeat('e', 201);
	c.name = tl_s(n);
	REJECT(TL_EINVALID, "name", c);
	free(n);
}

Test(validate, unknown_task_id_is_not_found)
{
	static const char *const ghost = "01890a5d-ac96-774b-bcce-b302099a8057";
	tl_cmd u = on(TL_TASK_UPDATE, ghost);
	u.title = tl_s("Ghost");
	REJECT(TL_ENOTFOUND, "id", u);
	tl_cmd s = on(TL_TASK_STATUS, ghost);
	s.status = tl_s("on_hold");
	REJECT(TL_ENOTFOUND, "id", s);
	REJECT(TL_ENOTFOUND, "id", on(TL_TASK_COMPLETE, ghost));
	REJECT(TL_ENOTFOUND, "id", on(TL_TASK_DELETE, ghost));
	static const tl_slice tag = { "t", 1 };
	REJECT(TL_ENOTFOUND, "id", on_tag(TL_TASK_TAG, ghost, &tag));
	tl_cmd a = on(TL_TASK_ASSIGN, ghost);
	a.unassign = true;
	REJECT(TL_ENOTFOUND, "id", a);

	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	cr_assert_eq(tl_task_get(db, NULL, tl_s(ghost), &p, &n, &err),
		     TL_ENOTFOUND);
	cr_assert_str_eq(err.field, "id");
	cr_assert_null(p);
}

Test(validate, malformed_task_id_is_invalid)
{
	static const char *const bad[] = {
		"42", "", "01890a5d-ac96-774b-bcce-b302099a805",
		"01890a5d-ac96-774b-bcce-b302099a80577",
		"01890a5dxac96-774b-bcce-b302099a8057",
		"g1890a5d-ac96-774b-bcce-b302099a8057",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tl_cmd c = on(TL_TASK_COMPLETE, bad[i]);
		reject_at(__LINE__, NULL, &c, 1, TL_EINVALID, "id", 0);
	}
	REJECT(TL_EINVALID, "id", on(TL_TASK_DELETE, NULL));
	tl_cmd a = add_cmd("Bad client id");
	a.id = tl_s("not-a-uuid");
	REJECT(TL_EINVALID, "id", a);

	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	cr_assert_eq(tl_task_get(db, NULL, tl_s("42"), &p, &n, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
}

/* The end of a task id, as the tables print it, stands for the task. */
Test(validate, the_end_of_a_task_id_stands_for_the_task)
{
	char id[37], other[37];
	add_task(T0 + SEC, "Mine", id);
	add_task(T0 + 2 * SEC, "Other", other);
	const char *end8 = id + 28, *end12 = id + 24, *end17 = id + 19;

	tl_cmd s = on(TL_TASK_STATUS, end8);
	s.status = tl_s("in_progress");
	tl_result res;
	doc d;
	RUN1(at(T0 + 3 * SEC), &res, &d, s);
	EXPECT_STR(d.o, "id", id);
	EXPECT_STR(d.o, "status", "in_progress");
	doc_free(&d);
	tl_result_release(&res);
	/* dashes where the id has them; any case */
	char upper[24];
	for (size_t i = 0; i < 17; i++)
		upper[i] = (char)toupper((unsigned char)end17[i]);
	upper[17] = 0;
	RUN1(at(T0 + 4 * SEC), &res, &d, on(TL_TASK_COMPLETE, upper));
	EXPECT_STR(d.o, "id", id);
	doc_free(&d);
	tl_result_release(&res);
	get_task(end12, &d, NULL, NULL);
	EXPECT_STR(d.o, "id", id);
	EXPECT_STR(d.o, "status", "completed");
	doc_free(&d);
	/* the other task was not touched */
	get_task(other, &d, NULL, NULL);
	EXPECT_STR(d.o, "status", "todo");
	doc_free(&d);
	/* its log by the end of its id */
	recs r;
	read_log(&r, 1, end8);
	cr_assert_eq(r.n, 3);
	for (size_t i = 0; i < r.n; i++)
		cr_assert_str_eq(r.v[i].stream, id);
	recs_free(&r);
}

Test(validate, the_end_of_a_task_id_must_name_one_task)
{
	char id[37];
	add_task(T0 + SEC, "Mine", id);
	/* two tasks whose ids end alike (ids given by a client) */
	static const char *const twins[] = {
		"01890a5d-ac96-774b-bcce-b30209abcdef",
		"01890a5e-ac96-774b-bcce-b30209abcdef",
	};
	for (size_t i = 0; i < 2; i++) {
		tl_result res;
		tl_cmd a = add_cmd("Twin");
		a.id = tl_s(twins[i]);
		RUN1(at(T0 + 2 * SEC), &res, NULL, a);
		tl_result_release(&res);
	}
	REJECT(TL_EINVALID, "id", on(TL_TASK_COMPLETE, "abcdef"));
	REJECT(TL_EINVALID, "id", on(TL_TASK_DELETE, "09abcdef"));
	/* more of it tells them apart */
	tl_result res;
	doc d;
	RUN1(at(T0 + 3 * SEC), &res, &d,
	     on(TL_TASK_COMPLETE, "e-ac96-774b-bcce-b30209abcdef"));
	EXPECT_STR(d.o, "id", twins[1]);
	doc_free(&d);
	tl_result_release(&res);
	/* none: not found; nothing appended (REJECT checks) */
	REJECT(TL_ENOTFOUND, "id", on(TL_TASK_COMPLETE, "000000"));
	tl_cmd u = on(TL_TASK_UPDATE, "123456");
	u.title = tl_s("x");
	REJECT(TL_ENOTFOUND, "id", u);
	/* arguments first: a bad status before the unknown end */
	tl_cmd s = on(TL_TASK_STATUS, "000000");
	s.status = tl_s("bogus");
	REJECT(TL_EINVALID, "status", s);

	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	cr_assert_eq(tl_task_get(db, NULL, tl_s("abcdef"), &p, &n, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
	cr_assert(strstr(err.message, twins[0]) && strstr(err.message, twins[1]),
		  "%s", err.message);
	cr_assert_eq(tl_task_get(db, NULL, tl_s("000000"), &p, &n, &err),
		     TL_ENOTFOUND);
	cr_assert_str_eq(err.field, "id");
	recs r = { 0 };
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, tl_s("000000"), collect, &r,
				 &err),
		     TL_ENOTFOUND);
	cr_assert_str_eq(err.field, "stream");
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, tl_s("abcdef"), collect, &r,
				 &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "stream");
	cr_assert_eq(r.n, 0);
	cr_assert_null(p);
}

/* In a batch, the end of an id finds a task added earlier in the same
 * transaction. */
Test(validate, the_end_of_an_id_finds_a_task_of_the_same_batch)
{
	tl_cmd c[2] = { add_cmd("New"), on(TL_TASK_COMPLETE, "b30209abcdef") };
	c[0].id = tl_s("01890a5d-ac96-774b-bcce-b30209abcdef");
	tl_result res[2];
	EXEC_OK(&(tl_ctx){ .now_ms = T0 + SEC }, c, 2, res);
	doc d;
	doc_parse(&d, res[1].doc, res[1].doc_len);
	EXPECT_STR(d.o, "id", "01890a5d-ac96-774b-bcce-b30209abcdef");
	EXPECT_STR(d.o, "status", "completed");
	doc_free(&d);
	tl_result_release(&res[0]);
	tl_result_release(&res[1]);
}

/* An idempotency key belongs to the request as written: its retry with
 * the same end of id replays (even once that end names two tasks), with
 * the whole id it is another request. */
Test(validate, an_idempotency_key_keeps_the_id_as_written)
{
	tl_result res;
	tl_cmd a = add_cmd("One");
	a.id = tl_s("01890a5d-ac96-774b-bcce-b30209abcdef");
	RUN1(at(T0 + SEC), &res, NULL, a);
	tl_result_release(&res);
	tl_cmd c = on(TL_TASK_COMPLETE, "09abcdef");
	c.idempotency_key = tl_s("k1");
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	uint64_t seq = res.seq;
	tl_result_release(&res);
	a.id = tl_s("01890a5e-ac96-774b-bcce-b30209abcdef");
	RUN1(at(T0 + 3 * SEC), &res, NULL, a);
	tl_result_release(&res);
	uint64_t before = nevents();
	RUN1(at(T0 + 4 * SEC), &res, NULL, c);
	cr_assert(!res.appended);
	cr_assert_eq(res.seq, seq);
	tl_result_release(&res);
	cr_assert_eq(nevents(), before);
	c.id = tl_s("01890a5d-ac96-774b-bcce-b30209abcdef");
	REJECT(TL_ECONFLICT, "idempotency_key", c);
}

Test(validate, what_is_not_the_end_of_a_task_id_is_invalid)
{
	char id[37];
	add_task(T0 + SEC, "Mine", id);
	static const char *const bad[] = {
		"abcde",               /* 5 hex digits */
		"e-ac96",              /* 5 hex digits */
		"b3020-9abcdef",       /* a dash where the id has none */
		"bccb302099abcdef",    /* none where it has one */
		"b302099abcdeg",       /* not hex */
		"b302099abcde ",
		"-b302099abcdef",      /* a leading dash */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tl_cmd c = on(TL_TASK_COMPLETE, bad[i]);
		reject_at(__LINE__, NULL, &c, 1, TL_EINVALID, "id", 0);
	}
	/* task.add's own id is a whole UUID */
	tl_cmd a = add_cmd("Short id");
	a.id = tl_s(id + 28);
	REJECT(TL_EINVALID, "id", a);
}

Test(validate, arguments_are_validated_before_the_task_is_looked_up)
{
	/* Unknown task and a bad title: the title is reported (exit 1),
	 * not the missing task. */
	tl_cmd u = on(TL_TASK_UPDATE, "01890a5d-ac96-774b-bcce-b302099a8057");
	u.title = tl_s("");
	REJECT(TL_EINVALID, "title", u);
	tl_cmd a = on(TL_TASK_ASSIGN, "01890a5d-ac96-774b-bcce-b302099a8057");
	a.assignee = tl_s("BAD ID");
	REJECT(TL_EINVALID, "assignee", a);
}

static int no_doc(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

Test(validate, member_without_crm_access_may_do_nothing)
{
	char id[37];
	add_task(T0 + SEC, "Mine", id);
	add_member("dave", "member", -1);
	REJECT_AS("dave", TL_EFORBIDDEN, "as", add_cmd("Sneaky"));
	REJECT_AS("dave", TL_EFORBIDDEN, "as", on(TL_TASK_COMPLETE, id));
	add_member("root2", "admin", -1);
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("x"),
		     .name = tl_s("X") };
	REJECT_AS("root2", TL_EFORBIDDEN, "as", m);

	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	tl_ctx ctx = as_at("dave", 0);
	cr_assert_eq(tl_task_get(db, &ctx, tl_s(id), &p, &n, &err),
		     TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	/* every read of the library, not only those the CLI makes */
	cr_assert_eq(tl_member_get(db, &ctx, tl_s("admin"), &p, &n, &err),
		     TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	cr_assert_eq(tl_task_as_of(db, &ctx, tl_s(id), T0 + 2 * SEC, &p, &n,
				   &err),
		     TL_EFORBIDDEN);
	tl_stats st;
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), TL_EFORBIDDEN);
	recs r = { 0 };
	cr_assert_eq(tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, collect,
				 &r, &err),
		     TL_EFORBIDDEN);
	cr_assert_eq(tl_member_list(db, &ctx, no_doc, NULL, &err),
		     TL_EFORBIDDEN);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
}

/* Member commands have no version to expect: a library caller that sets
 * one is told so (the command line has no such option for them). */
Test(validate, member_commands_refuse_an_expected_version)
{
	add_member("bob", "member", 0);
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		     .name = tl_s("B"), .has_expect_version = true,
		     .expect_version = 1 };
	REJECT(TL_EINVALID, "expect_version", u);
	tl_cmd a = { .kind = TL_MEMBER_ADD, .id = tl_s("kim"),
		     .name = tl_s("Kim"), .has_expect_version = true };
	REJECT(TL_EINVALID, "expect_version", a);
}

Test(validate, non_admin_may_not_manage_members)
{
	add_member("carol", "member", 0);
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("x"),
		     .name = tl_s("X") };
	tl_ctx ctx = as_at("carol", T0 + 100 * SEC);
	reject_at(__LINE__, &ctx, &m, 1, TL_EFORBIDDEN, "as", 0);
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("carol"),
		     .role = tl_s("admin") };
	reject_at(__LINE__, &ctx, &u, 1, TL_EFORBIDDEN, "as", 0);
	/* A member still works on tasks. */
	tl_result res;
	RUN1(as_at("carol", T0 + SEC), &res, NULL, add_cmd("Allowed"));
	tl_result_release(&res);
}

Test(validate, unknown_actor_is_forbidden)
{
	REJECT_AS("mallory", TL_EFORBIDDEN, "as", add_cmd("Who"));
	tl_stats st;
	tl_err err = { 0 };
	tl_ctx ctx = as_at("mallory", 0);
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), TL_EFORBIDDEN);
}

/* What is not a member id at all is a bad argument, found without a
 * look-up: invalid (exit 1), not forbidden. */
Test(validate, an_actor_that_is_no_member_id_is_invalid)
{
	REJECT_AS("Not Valid", TL_EINVALID, "as", add_cmd("Who"));
	REJECT_AS("", TL_EINVALID, "as", add_cmd("Who"));
	tl_stats st;
	tl_err err = { 0 };
	tl_ctx ctx = as_at("MALLORY", 0);
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "as");
}

Test(validate, update_without_any_field_is_rejected)
{
	char id[37];
	add_task(T0 + SEC, "Nothing", id);
	REJECT(TL_EINVALID, "", on(TL_TASK_UPDATE, id)); /* no field to name */
	tl_cmd m = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin") };
	REJECT(TL_EINVALID, "", m);
}

Test(validate, pipeline_and_stage_are_unknown_while_none_exist)
{
	tl_cmd c = add_cmd("Piped");
	c.pipeline = tl_s("sales");
	REJECT(TL_EINVALID, "pipeline", c);
	c.pipeline = tl_s(NULL);
	c.stage = tl_s("won");
	REJECT(TL_EINVALID, "stage", c);
}

Test(validate, bad_idempotency_key_is_rejected)
{
	tl_cmd c = add_cmd("Keyed");
	c.idempotency_key = tl_s("");
	REJECT(TL_EINVALID, "idempotency_key", c);
	char *k = repeat('k', 257);
	c.idempotency_key = tl_s(k);
	REJECT(TL_EINVALID, "idempotency_key", c);
	c.idempotency_key = tl_s("key\x01");
	REJECT(TL_EINVALID, "idempotency_key", c);
	/* 256 bytes, the most (cli.md), is taken */
	k[256] = 0;
	c.idempotency_key = tl_s(k);
	tl_ctx x = as_at("admin", T0 + 100 * SEC);
	tl_result res;
	EXEC_OK(&x, &c, 1, &res);
	tl_result_release(&res);
	free(k);
}

/* A field a command does not take is refused, not ignored. */
Test(validate, a_command_refuses_the_fields_it_does_not_take)
{
	char id[37];
	add_task(T0 + SEC, "Taken", id);
	tl_slice one = tl_s("one"), two[2] = { tl_s("a"), tl_s("b") };
	tl_cmd c = on(TL_TASK_COMPLETE, id);
	c.title = tl_s("x");
	REJECT(TL_EINVALID, "title", c);
	c = on(TL_TASK_STATUS, id);
	c.status = tl_s("todo");
	c.due = tl_s("+1d");
	REJECT(TL_EINVALID, "due", c);
	c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("x");
	c.status = tl_s("completed");
	REJECT(TL_EINVALID, "status", c);
	c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("x");
	c.link = tl_s("lead:2");
	REJECT(TL_EINVALID, "link", c);
	c = on(TL_TASK_DELETE, id);
	c.no_due = true;
	REJECT(TL_EINVALID, "due", c);
	c = on_tag(TL_TASK_DELETE, id, &one);
	REJECT(TL_EINVALID, "tag", c);
	c = on(TL_TASK_TAG, id);
	c.tags = two;
	c.tags_len = 2;
	REJECT(TL_EINVALID, "tag", c);
	c.kind = TL_TASK_UNTAG;
	REJECT(TL_EINVALID, "tag", c);
}

/* Every field a task command does not take, on every such command: each
 * is refused naming the field (a field quietly dropped would make the
 * caller believe it was set), and nothing is appended. */
Test(validate, every_command_refuses_every_field_it_does_not_take)
{
	char id[37];
	add_task(T0 + SEC, "Taken", id);
	tl_slice tag = tl_s("t");
	static const tl_cmd_kind kinds[] = {
		TL_TASK_UPDATE, TL_TASK_ASSIGN, TL_TASK_STATUS,
		TL_TASK_COMPLETE, TL_TASK_TAG, TL_TASK_UNTAG, TL_TASK_DELETE
	};
	enum { TITLE, TYPE, DUE, NOTES, STATUS, ASSIGNEE, LINK, NO_DUE, TAGS,
	       NFIELDS };
	static const char *const field[NFIELDS] = {
		"title", "type", "due", "notes", "status", "assignee", "link",
		"due", "tag"
	};
	int refused = 0;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		/* the command's own arguments, and which fields they are */
		tl_cmd own = on(kinds[k], id);
		unsigned owns = 0;
		switch (kinds[k]) {
		case TL_TASK_UPDATE:
			own.title = tl_s("x");
			owns = 1u << TITLE | 1u << TYPE | 1u << DUE |
			       1u << NOTES | 1u << NO_DUE;
			break;
		case TL_TASK_ASSIGN:
			own.assignee = tl_s("admin");
			owns = 1u << ASSIGNEE;
			break;
		case TL_TASK_STATUS:
			own.status = tl_s("on_hold");
			owns = 1u << STATUS;
			break;
		case TL_TASK_TAG:
		case TL_TASK_UNTAG:
			own.tags = &tag;
			own.tags_len = 1;
			owns = 1u << TAGS;
			break;
		default:
			break;
		}
		for (int f = 0; f < NFIELDS; f++) {
			if (owns & 1u << f)
				continue;
			tl_cmd c = own;
			switch (f) {
			case TITLE: c.title = tl_s("x"); break;
			case TYPE: c.type = tl_s("call"); break;
			case DUE: c.due = tl_s("+1d"); break;
			case NOTES: c.notes = tl_s("n"); break;
			case STATUS: c.status = tl_s("todo"); break;
			case ASSIGNEE: c.assignee = tl_s("admin"); break;
			case LINK: c.link = tl_s("lead:2"); break;
			case NO_DUE: c.no_due = true; break;
			case TAGS: c.tags = &tag; c.tags_len = 1; break;
			}
			reject_at(__LINE__, NULL, &c, 1, TL_EINVALID, field[f],
				  0);
			refused++;
		}
	}
	cr_assert_eq(refused, 7 * 9 - 5 - 1 - 1 - 2);
}

/* Untagging removes the tag wherever it is in the list: the last one,
 * the only one, the first one. */
Test(fold, untag_removes_the_last_the_only_and_the_first_tag)
{
	tl_slice ab[2] = { tl_s("a"), tl_s("b") };
	tl_cmd c = add_cmd("Tags");
	c.tags = ab;
	c.tags_len = 2;
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);
	tl_result_release(&res);
	const char *want[] = { "a", "" };
	for (int i = 0; i < 2; i++) { /* b (the last), then a (the only) */
		RUN1(at(T0 + (2 + i) * SEC), &res, &d,
		     on_tag(TL_TASK_UNTAG, id, &ab[1 - i]));
		cr_assert(res.appended);
		const msgpack_object *tags = FLD(d.o, "tags");
		cr_assert_eq(tags->via.array.size, (uint32_t)(1 - i));
		if (!i)
			cr_assert(tags->via.array.ptr[0].via.str.size == 1 &&
				  !memcmp(tags->via.array.ptr[0].via.str.ptr,
					  want[0], 1));
		doc_free(&d);
		tl_result_release(&res);
	}
	/* the first of two */
	RUN1(at(T0 + 4 * SEC), &res, NULL, on_tag(TL_TASK_TAG, id, &ab[0]));
	tl_result_release(&res);
	RUN1(at(T0 + 5 * SEC), &res, NULL, on_tag(TL_TASK_TAG, id, &ab[1]));
	tl_result_release(&res);
	RUN1(at(T0 + 6 * SEC), &res, &d, on_tag(TL_TASK_UNTAG, id, &ab[0]));
	const msgpack_object *tags = FLD(d.o, "tags");
	cr_assert_eq(tags->via.array.size, 1);
	cr_assert(!memcmp(tags->via.array.ptr[0].via.str.ptr, "b", 1));
	doc_free(&d);
	tl_result_release(&res);
	/* and the stored state agrees with a fold of the log */
	tl_err err;
	cr_assert_eq(tl_verify(db, NULL, NULL, NULL, &err), 0, "%s",
		     err.message);
}

/* 64 distinct tags are the most a task takes, from task add or task tag;
 * the 65th is refused, not dropped. */
Test(validate, sixty_five_tags_are_rejected_and_sixty_four_accepted)
{
	char text[65][8];
	tl_slice tags[65];
	for (int i = 0; i < 65; i++) {
		snprintf(text[i], sizeof text[i], "t%d", i);
		tags[i] = tl_s(text[i]);
	}
	tl_cmd c = add_cmd("Many tags");
	c.tags = tags;
	c.tags_len = 65;
	REJECT(TL_EINVALID, "tag", c);
	c.tags_len = 64;
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	cr_assert_eq(FLD(d.o, "tags")->via.array.size, 64);
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);
	tl_result_release(&res);
	/* task tag cannot take it past 64 either; a tag it holds is a
	 * no-op, and after an untag there is room again. */
	tl_cmd g = on_tag(TL_TASK_TAG, id, &tags[64]);
	REJECT(TL_EINVALID, "tag", g);
	g.tags = &tags[3];
	RUN1(at(T0 + 2 * SEC), &res, NULL, g);
	cr_assert(!res.appended);
	tl_result_release(&res);
	tl_cmd u = on_tag(TL_TASK_UNTAG, id, &tags[3]);
	RUN1(at(T0 + 3 * SEC), &res, NULL, u);
	tl_result_release(&res);
	g.tags = &tags[64];
	RUN1(at(T0 + 4 * SEC), &res, NULL, g);
	cr_assert(res.appended);
	tl_result_release(&res);
}

/* The limit counts different tags: tags are a set, so 64 of them each
 * given twice (and in another order under the same idempotency key) are
 * a task of 64 tags, the same request; a 65th different one is refused. */
Test(validate, a_repeated_tag_counts_once_against_the_limit)
{
	char text[65][8];
	tl_slice tags[130], back[130];
	for (int i = 0; i < 65; i++)
		snprintf(text[i], sizeof text[i], "t%d", i);
	for (int i = 0; i < 128; i++) {
		tags[i] = tl_s(text[i % 64]);
		back[127 - i] = tags[i];
	}
	tl_cmd c = add_cmd("Tags given twice");
	c.tags = tags;
	c.tags_len = 128;
	c.idempotency_key = tl_s("twice");
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, c);
	cr_assert(res.appended);
	cr_assert_eq(FLD(d.o, "tags")->via.array.size, 64);
	uint64_t seq = res.seq;
	doc_free(&d);
	tl_result_release(&res);
	c.tags = back;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	cr_assert(!res.appended);
	cr_assert_eq(res.seq, seq);
	tl_result_release(&res);
	/* 64 different ones and a 65th among repeats: refused */
	tags[128] = tl_s(text[64]);
	tags[129] = tl_s(text[0]);
	c.tags = tags;
	c.tags_len = 130;
	c.idempotency_key = (tl_slice){ 0 };
	REJECT(TL_EINVALID, "tag", c);
}

/* A due time of the epoch itself is a due time (0 ms is not "none"). */
Test(validate, a_due_time_at_the_epoch_is_set_on_a_task_without_one)
{
	char id[37];
	add_task(T0 + SEC, "Epoch", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.due = tl_s("1970-01-01T00:00:00Z");
	tl_result res;
	doc d;
	RUN1(at(T0 + 2 * SEC), &res, &d, c);
	cr_assert(res.appended);
	EXPECT_TIME(d.o, "due_at", 0);
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
	tl_result_release(&res);
}

/* A batch that takes CRM access from a member refuses, later in the same
 * batch, to assign her a task (the assignee check is not cached across
 * the change). */
Test(validate, an_assignee_who_lost_crm_access_earlier_in_the_batch_is_refused)
{
	char t1[37], t2[37];
	add_member("al", "member", 1);
	add_task(T0 + SEC, "One", t1);
	add_task(T0 + SEC, "Two", t2);
	tl_cmd batch[3] = { on(TL_TASK_ASSIGN, t1),
			    { .kind = TL_MEMBER_UPDATE, .id = tl_s("al"),
			      .crm_access = -1 },
			    on(TL_TASK_ASSIGN, t2) };
	batch[0].assignee = tl_s("al");
	batch[2].assignee = tl_s("al");
	reject_at(__LINE__, NULL, batch, 3, TL_EINVALID, "assignee", 2);
}

/* Assigning a task to the member it already has is no change (SPEC
 * §1), even once that member lost CRM access: a retry must not fail.
 * Another member without access is refused all the same. */
Test(validate, reassigning_the_same_member_who_lost_access_is_a_no_op)
{
	char t1[37];
	add_member("al", "member", 1);
	add_member("bo", "member", 1);
	add_task(T0 + SEC, "One", t1);
	tl_cmd a = on(TL_TASK_ASSIGN, t1);
	a.assignee = tl_s("al");
	tl_result res;
	tl_err err = { 0 };
	cr_assert_eq(tl_exec(db, &(tl_ctx){ .now_ms = T0 + 2 * SEC }, &a, 1,
			     &res, &err), 0, "%s", err.message);
	tl_result_release(&res);
	tl_cmd revoke[2] = { { .kind = TL_MEMBER_UPDATE, .id = tl_s("al"),
			       .crm_access = -1 },
			     { .kind = TL_MEMBER_UPDATE, .id = tl_s("bo"),
			       .crm_access = -1 } };
	cr_assert_eq(tl_exec(db, &(tl_ctx){ .now_ms = T0 + 3 * SEC }, revoke,
			     2, NULL, &err), 0, "%s", err.message);
	uint64_t before = nevents();
	cr_assert_eq(tl_exec(db, &(tl_ctx){ .now_ms = T0 + 4 * SEC }, &a, 1,
			     &res, &err), 0, "%s", err.message);
	cr_assert(!res.appended);
	tl_result_release(&res);
	cr_assert_eq(nevents(), before);
	tl_cmd b = on(TL_TASK_ASSIGN, t1);
	b.assignee = tl_s("bo");
	REJECT(TL_EINVALID, "assignee", b);
}

Test(validate, unknown_command_kind_is_rejected)
{
	tl_cmd c = { .kind = (tl_cmd_kind)99 };
	REJECT(TL_EINVALID, "command", c);
}

Test(validate, unknown_time_zone_in_ctx_is_rejected)
{
	tl_ctx ctx = { .now_ms = T0, .tz = "Mars/Olympus" };
	tl_cmd c = add_cmd("Zoned");
	tl_result res;
	tl_err err = { 0 };
	uint64_t before = nevents();
	cr_assert_eq(tl_exec(db, &ctx, &c, 1, &res, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
	cr_assert_eq(nevents(), before);
}

/* ======================================================================= */
/* batch: all or nothing.                                                  */
/* ======================================================================= */

TestSuite(batch, .init = ws_setup, .fini = ws_teardown);

Test(batch, invalid_third_command_appends_nothing_and_names_index_2)
{
	tl_cmd c[3] = { add_cmd("One"), add_cmd("Two"), add_cmd("") };
	reject_at(__LINE__, NULL, c, 3, TL_EINVALID, "title", 2);
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.tasks, 0);
}

Test(batch, failing_batch_leaves_no_trace_of_its_earlier_commands)
{
	static const char *const tid = "01890a5d-ac96-774b-bcce-b302099a8057";
	tl_cmd c[3] = { add_cmd("With id"), on(TL_TASK_COMPLETE, tid),
			on(TL_TASK_STATUS, tid) };
	c[0].id = tl_s(tid);
	c[0].idempotency_key = tl_s("batch-key");
	c[2].status = tl_s("bogus");
	reject_at(__LINE__, NULL, c, 3, TL_EINVALID, "status", 2);
	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	cr_assert_eq(tl_task_get(db, NULL, tl_s(tid), &p, &n, &err),
		     TL_ENOTFOUND);
	/* Neither the task nor the idempotency key survived: the same
	 * batch minus the bad command works and appends. */
	tl_result res[2];
	tl_ctx ctx = at(T0 + SEC);
	EXEC_OK(&ctx, c, 2, res);
	cr_assert(res[0].appended && res[1].appended);
	tl_result_release(&res[0]);
	tl_result_release(&res[1]);
	EXPECT_CLEAN();
}

Test(batch, later_commands_see_earlier_ones_and_seqs_are_consecutive)
{
	static const char *const tid = "01890a5d-ac96-774b-bcce-b302099a8057";
	tl_cmd c[3] = { add_cmd("First"), on(TL_TASK_UPDATE, tid),
			on(TL_TASK_COMPLETE, tid) };
	c[0].id = tl_s(tid);
	c[1].title = tl_s("Renamed");
	uint64_t before = nevents();
	tl_result res[3];
	tl_ctx ctx = at(T0 + SEC);
	EXEC_OK(&ctx, c, 3, res);
	for (int i = 0; i < 3; i++) {
		cr_assert(res[i].appended);
		cr_assert_eq(res[i].seq, before + 1 + (uint64_t)i);
	}
	doc d;
	doc_parse(&d, res[2].doc, res[2].doc_len);
	EXPECT_STR(d.o, "title", "Renamed");
	EXPECT_STR(d.o, "status", "completed");
	EXPECT_UINT(d.o, "version", 3);
	doc_free(&d);
	for (int i = 0; i < 3; i++)
		tl_result_release(&res[i]);
	EXPECT_CLEAN();
}

/* The results of a batch share blocks of documents (exec.c): each one
 * stays whole until it is released, whatever order and thread the others
 * are released in; a document bigger than a block has its own. */
#define SHARED_N 300
static tl_result shared_res[SHARED_N];

static void *release_evens(void *arg)
{
	(void)arg;
	for (int i = 0; i < SHARED_N; i += 2)
		tl_result_release(&shared_res[i]);
	return NULL;
}

Test(batch, results_documents_outlive_each_other_in_any_order)
{
	static char titles[SHARED_N][16];
	tl_cmd c[SHARED_N];
	char *notes = malloc(TL_NOTES_MAX);
	cr_assert_not_null(notes);
	memset(notes, 'n', TL_NOTES_MAX);
	for (int i = 0; i < SHARED_N; i++) {
		snprintf(titles[i], sizeof titles[i], "Shared %03d", i);
		c[i] = add_cmd(titles[i]);
	}
	c[151].notes = (tl_slice){ notes, TL_NOTES_MAX };
	tl_ctx ctx = at(T0 + SEC);
	EXEC_OK(&ctx, c, SHARED_N, shared_res);
	free(notes);
	cr_assert_gt(shared_res[151].doc_len, TL_NOTES_MAX);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, release_evens, NULL), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	for (int i = SHARED_N - 1; i >= 0; i -= 2) {
		cr_assert_null(shared_res[i - 1].doc);
		doc d;
		doc_parse(&d, shared_res[i].doc, shared_res[i].doc_len);
		EXPECT_STR(d.o, "title", titles[i]);
		const msgpack_object *n = fld_opt(d.o, "notes");
		char got[32]; /* room for "<msgpack type N>" */
		if (i == 151) { /* the whole 64 KiB of them */
			cr_assert(n && n->type == MSGPACK_OBJECT_STR &&
					  n->via.str.size == TL_NOTES_MAX,
				  "notes of 151: %s", ostr(n, got, sizeof got));
			for (size_t k = 0; k < TL_NOTES_MAX; k++)
				cr_assert_eq(n->via.str.ptr[k], 'n', "at %zu",
					     k);
		} else {
			ostr(n, got, sizeof got);
			cr_assert_str_eq(got, "<nil>", "notes of %d: %s", i,
					 got);
		}
		doc_free(&d);
		tl_result_release(&shared_res[i]);
		cr_assert_null(shared_res[i].doc);
	}
	EXPECT_CLEAN();
}

Test(batch, conflict_in_the_middle_appends_nothing)
{
	char id[37];
	add_task(T0 + SEC, "Versioned", id);
	tl_cmd c[3] = { add_cmd("New"), on(TL_TASK_UPDATE, id),
			add_cmd("Later") };
	c[1].title = tl_s("Changed");
	c[1].has_expect_version = true;
	c[1].expect_version = 7;
	reject_at(__LINE__, NULL, c, 3, TL_ECONFLICT, "expect_version", 1);
}

/* ======================================================================= */
/* version: expected versions.                                             */
/* ======================================================================= */

TestSuite(version, .init = ws_setup, .fini = ws_teardown);

Test(version, update_with_the_current_version_succeeds)
{
	char id[37];
	add_task(T0 + SEC, "V1", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("V2");
	c.has_expect_version = true;
	c.expect_version = 1;
	tl_result res;
	doc d;
	RUN1(at(T0 + 2 * SEC), &res, &d, c);
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
	tl_result_release(&res);
	tl_cmd s = on(TL_TASK_COMPLETE, id);
	s.has_expect_version = true;
	s.expect_version = 2;
	RUN1(at(T0 + 3 * SEC), &res, &d, s);
	EXPECT_UINT(d.o, "version", 3);
	doc_free(&d);
	tl_result_release(&res);
}

Test(version, update_rejects_stale_expected_version)
{
	char id[37];
	add_task(T0 + SEC, "V1", id);
	tl_cmd c = on(TL_TASK_UPDATE, id);
	c.title = tl_s("V2");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	tl_result_release(&res);
	c.title = tl_s("V3");
	c.has_expect_version = true;
	c.expect_version = 1;
	REJECT(TL_ECONFLICT, "expect_version", c);
	c.expect_version = 3;
	REJECT(TL_ECONFLICT, "expect_version", c);
	c.expect_version = 0;
	REJECT(TL_ECONFLICT, "expect_version", c);
	doc d;
	get_task(id, &d, NULL, NULL);
	EXPECT_STR(d.o, "title", "V2");
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
}

Test(version, every_change_command_checks_the_expected_version)
{
	char id[37];
	add_member("bob", "member", 0);
	add_task(T0 + SEC, "V1", id);
	static const tl_slice tag = { "t", 1 };
	tl_cmd cmds[6] = { on(TL_TASK_ASSIGN, id), on(TL_TASK_STATUS, id),
			   on(TL_TASK_COMPLETE, id), on(TL_TASK_TAG, id),
			   on(TL_TASK_UNTAG, id), on(TL_TASK_DELETE, id) };
	cmds[0].assignee = tl_s("bob");
	cmds[1].status = tl_s("on_hold");
	cmds[3].tags = cmds[4].tags = &tag;
	cmds[3].tags_len = cmds[4].tags_len = 1;
	for (int i = 0; i < 6; i++) {
		cmds[i].has_expect_version = true;
		cmds[i].expect_version = 5;
		reject_at(__LINE__, NULL, &cmds[i], 1, TL_ECONFLICT,
			  "expect_version", 0);
	}
}

Test(version, add_with_a_nonzero_expected_version_conflicts)
{
	tl_cmd c = add_cmd("New");
	c.has_expect_version = true;
	c.expect_version = 1;
	REJECT(TL_ECONFLICT, "expect_version", c);
	c.expect_version = 0;
	tl_result res;
	RUN1(at(T0 + SEC), &res, NULL, c);
	cr_assert(res.appended);
	tl_result_release(&res);
}

/* ======================================================================= */
/* idempotency: a repeat returns the first result and appends nothing.     */
/* ======================================================================= */

TestSuite(idempotency, .init = ws_setup, .fini = ws_teardown);

static tl_cmd keyed_add(const char *title, const char *key)
{
	tl_cmd c = add_cmd(title);
	c.idempotency_key = tl_s(key);
	return c;
}

/* b replayed a: nothing appended since `events`, the same seq and the
 * same document. */
#define EXPECT_REPLAY(a, b, events) expect_replay_at(__LINE__, a, b, events)
static void expect_replay_at(int line, const tl_result *a, const tl_result *b,
			     uint64_t events)
{
	cr_assert(!b->appended, "line %d: appended", line);
	cr_assert_eq(b->seq, a->seq, "line %d: another seq", line);
	cr_assert_eq(nevents(), events, "line %d: the log grew", line);
	cr_assert_eq(b->doc_len, a->doc_len, "line %d", line);
	cr_assert_arr_eq(b->doc, a->doc, a->doc_len, "line %d", line);
}

/* EXPECT_REPLAY, and b's document has field = want at version; then both
 * results are released. */
#define EXPECT_REPLAY_DOC(a, b, events, field, want, version) \
	expect_replay_doc_at(__LINE__, a, b, events, field, want, version)
static void expect_replay_doc_at(int line, tl_result *a, tl_result *b,
				 uint64_t events, const char *field,
				 const char *want, uint64_t version)
{
	doc d;
	expect_replay_at(line, a, b, events);
	doc_parse(&d, b->doc, b->doc_len);
	expect_str_at(line, d.o, field, want);
	expect_uint_at(line, d.o, "version", version);
	doc_free(&d);
	tl_result_release(a);
	tl_result_release(b);
}

Test(idempotency, repeated_add_returns_the_same_task_and_seq)
{
	tl_result a, b;
	doc da, dbb;
	RUN1(at(T0 + SEC), &a, &da, keyed_add("Once", "k-1"));
	cr_assert(a.appended);
	uint64_t events = nevents();
	RUN1(at(T0 + 9 * SEC), &b, &dbb, keyed_add("Once", "k-1"));
	cr_assert(!b.appended);
	cr_assert_eq(b.seq, a.seq);
	cr_assert_eq(nevents(), events);
	char ia[37], ib[37];
	copy_str(FLD(da.o, "id"), ia, sizeof ia);
	copy_str(FLD(dbb.o, "id"), ib, sizeof ib);
	cr_assert_str_eq(ia, ib);
	cr_assert_eq(a.doc_len, b.doc_len);
	cr_assert_arr_eq(a.doc, b.doc, a.doc_len);
	doc_free(&da);
	doc_free(&dbb);
	tl_result_release(&b);

	/* The same key with other arguments is another request: a
	 * conflict, and nothing is appended. */
	REJECT(TL_ECONFLICT, "idempotency_key", keyed_add("Different", "k-1"));
	cr_assert_eq(nevents(), events);

	/* Another key is another task. */
	RUN1(at(T0 + 10 * SEC), &b, NULL, keyed_add("Once", "k-2"));
	cr_assert(b.appended);
	cr_assert_eq(b.seq, a.seq + 1);
	tl_result_release(&b);
	tl_result_release(&a);
}

/* A key names one request: the same command kind, target, arguments and
 * actor.  Anything else under it is refused, whatever it would do. */
Test(idempotency, a_key_used_for_another_request_is_a_conflict)
{
	char id1[37], id2[37];
	add_member("al", "member", 1);
	tl_result a;
	doc d;
	RUN1(at(T0 + SEC), &a, &d, keyed_add("One", "k"));
	copy_str(FLD(d.o, "id"), id1, sizeof id1);
	doc_free(&d);
	tl_result_release(&a);
	add_task(T0 + 2 * SEC, "Two", id2);
	uint64_t events = nevents();

	tl_cmd del = on(TL_TASK_DELETE, id2); /* another kind and task */
	del.idempotency_key = tl_s("k");
	REJECT(TL_ECONFLICT, "idempotency_key", del);
	tl_cmd upd = on(TL_TASK_UPDATE, /* an unknown task */
			"01a230d5-1280-7536-96a8-58636b92e0b8");
	upd.title = tl_s("x");
	upd.idempotency_key = tl_s("k");
	REJECT(TL_ECONFLICT, "idempotency_key", upd);
	REJECT_AS("al", TL_ECONFLICT, "idempotency_key", /* another actor */
		  keyed_add("One", "k"));
	tl_cmd due = keyed_add("One", "k"); /* one more field */
	due.due = tl_s("+3d");
	REJECT(TL_ECONFLICT, "idempotency_key", due);
	tl_cmd nodue = keyed_add("One", "k"); /* a flag */
	nodue.no_due = true;
	REJECT(TL_ECONFLICT, "idempotency_key", nodue);
	tl_slice tag = tl_s("vip");
	tl_cmd tagged = keyed_add("One", "k"); /* a tag */
	tagged.tags = &tag;
	tagged.tags_len = 1;
	REJECT(TL_ECONFLICT, "idempotency_key", tagged);
	tl_cmd member = { .kind = TL_MEMBER_ADD, .id = tl_s("bo"),
			  .name = tl_s("Bo"), .idempotency_key = tl_s("k") };
	REJECT(TL_ECONFLICT, "idempotency_key", member);
	cr_assert_eq(nevents(), events);

	/* The task delete was not made; the same request still replays. */
	RUN1(at(T0 + 9 * SEC), &a, &d, keyed_add("One", "k"));
	cr_assert(!a.appended);
	char again[37];
	copy_str(FLD(d.o, "id"), again, sizeof again);
	cr_assert_str_eq(again, id1);
	doc_free(&d);
	tl_result_release(&a);
	get_task(id2, &d, NULL, NULL);
	EXPECT_BOOL(d.o, "deleted", false);
	doc_free(&d);
}

/* Records stored before requests had fingerprints (seq | stream key)
 * still replay, for any request under their key. */
Test(idempotency, a_record_without_fingerprint_still_replays)
{
	tl_result a, b;
	RUN1(at(T0 + SEC), &a, NULL, keyed_add("Old", "old-key"));
	MDB_txn *txn;
	MDB_val k = { 7, "old-key" }, v;
	uint8_t old[64];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8 + 1 + TL_IDEM_FP_LEN + 17);
	cr_assert_eq(((uint8_t *)v.mv_data)[8], 'F');
	memcpy(old, v.mv_data, 8);
	memcpy(old + 8, (uint8_t *)v.mv_data + 8 + 1 + TL_IDEM_FP_LEN, 17);
	v = (MDB_val){ 8 + 17, old };
	cr_assert_eq(mdb_put(txn, db->idem, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	uint64_t events = nevents();
	RUN1(at(T0 + 2 * SEC), &b, NULL, keyed_add("Other", "old-key"));
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&a);
	tl_result_release(&b);
}

/* The fingerprints of records that 0.3.0 builds before c90a713 stored
 * (format.md), computed here from that description: with the zone given
 * for the request (tz, NULL: a slice marked absent), or (no_zone) with no
 * zone at all. */
static void fp_put(crypto_generichash_state *st, tl_slice sl)
{
	uint8_t b[8];
	tl_put_be64(b, sl.p ? sl.len : UINT64_MAX);
	crypto_generichash_update(st, b, 8);
	if (sl.p && sl.len)
		crypto_generichash_update(st, (const uint8_t *)sl.p, sl.len);
}

static void fp_num(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];
	tl_put_be64(b, v);
	crypto_generichash_update(st, b, 8);
}

/* c's fingerprint by the definition keyed `key` ("tasklog-idem-1", or
 * "tasklog-idem-2" of 0.3.17: then zone is absent without a due date),
 * the tags and ids as given. */
static void fp_def(const char *key, const char *actor, bool no_zone,
		   tl_slice zone, const tl_cmd *c, uint8_t out[TL_IDEM_FP_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, (const uint8_t *)key, 14, TL_IDEM_FP_LEN);
	fp_put(&st, tl_s(actor));
	if (!no_zone)
		fp_put(&st, zone);
	fp_num(&st, (uint64_t)c->kind);
	const tl_slice f[] = { c->id,     c->title,    c->type, c->status,
			       c->notes,  c->link,     c->due,  c->assignee,
			       c->pipeline, c->stage,  c->name, c->role };
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		fp_put(&st, f[i]);
	fp_num(&st, (uint64_t)c->no_due << 1 | (uint64_t)c->unassign);
	fp_num(&st, (uint64_t)(int64_t)c->crm_access);
	fp_num(&st, c->tags_len);
	for (size_t i = 0; i < c->tags_len; i++)
		fp_put(&st, c->tags[i]);
	fp_num(&st, c->ids_len);
	for (size_t i = 0; i < c->ids_len; i++)
		fp_put(&st, c->ids[i]);
	fp_num(&st, c->has_expect_version);
	fp_num(&st, c->has_expect_version ? c->expect_version : 0);
	crypto_generichash_final(&st, out, TL_IDEM_FP_LEN);
}

static void legacy_fp(const char *actor, bool no_zone, const char *tz,
		      const tl_cmd *c, uint8_t out[TL_IDEM_FP_LEN])
{
	fp_def("tasklog-idem-1", actor, no_zone, tl_s(tz), c, out);
}

/* Rewrite the record of idempotency key `key` (of kind 'F' or 'N') with
 * fingerprint fp.  Returns whether that was the fingerprint stored. */
static bool refingerprint_as(const char *key, char kind,
			     const uint8_t fp[TL_IDEM_FP_LEN])
{
	MDB_txn *txn;
	MDB_val k = { strlen(key), (void *)key }, v;
	uint8_t stored[128];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &k, &v), 0);
	cr_assert_eq(((uint8_t *)v.mv_data)[8], kind);
	cr_assert_leq(v.mv_size, sizeof stored);
	cr_assert_geq(v.mv_size, 9 + TL_IDEM_FP_LEN);
	memcpy(stored, v.mv_data, v.mv_size);
	memcpy(stored + 9, fp, TL_IDEM_FP_LEN);
	bool same = !memcmp(stored + 9, (uint8_t *)v.mv_data + 9,
			    TL_IDEM_FP_LEN);
	v.mv_data = stored;
	cr_assert_eq(mdb_put(txn, db->idem, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	return same;
}

/* The same with c's fingerprint by legacy_fp's definition, as an earlier
 * release made it. */
static bool refingerprint(const char *key, char kind, bool no_zone,
			  const char *tz, const tl_cmd *c)
{
	uint8_t fp[TL_IDEM_FP_LEN];
	legacy_fp("admin", no_zone, tz, c, fp);
	return refingerprint_as(key, kind, fp);
}

/* The same for notifications read: a record without fingerprint answers
 * any request under its key with the first result, the event's ids, and
 * checks nothing of the new request. */
Test(idempotency, a_read_record_without_fingerprint_replays_the_first_read)
{
	char idtext[24];
	tl_slice ids[1];
	tl_result a, b;
	tl_cmd rd = bob_reads_under(idtext, ids, "old-read", &a);
	MDB_txn *txn;
	MDB_val k = { 8, "old-read" }, v;
	uint8_t old[128];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &k, &v), 0);
	cr_assert_eq(((uint8_t *)v.mv_data)[8], 'F');
	size_t sk = v.mv_size - 8 - 1 - TL_IDEM_FP_LEN; /* the stream key */
	cr_assert_leq(8 + sk, sizeof old);
	memcpy(old, v.mv_data, 8);
	memcpy(old + 8, (uint8_t *)v.mv_data + 8 + 1 + TL_IDEM_FP_LEN, sk);
	v = (MDB_val){ 8 + sk, old };
	cr_assert_eq(mdb_put(txn, db->idem, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	uint64_t events = nevents();
	tl_slice other[1] = { tl_s("999") };
	rd.ids = other;
	RUN1(as_at("bob", T0 + 4 * SEC), &b, NULL, rd);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&a);
	tl_result_release(&b);
}

/* Records of earlier builds (another fingerprint) still replay for their
 * request, and only for it: of the first 0.3.0 builds, and (case 2) of
 * 0.3.0 to 0.3.16, whose definition the first differs from since 0.3.17
 * (the tags a set, the zone only beside a due date). */
Test(idempotency, records_of_earlier_0_3_0_builds_replay_their_request)
{
	static const struct {
		const char *key, *tz;
		bool no_zone, as_now;
	} cases[] = {
		{ "k-none", NULL, true, false },    /* f550d98: no zone */
		{ "k-absent", NULL, false, false }, /* 5bbc30b: none given */
		/* 5bbc30b with a zone given: what c90a713 to 0.3.16 made
		 * too; not 0.3.17's */
		{ "k-given", "Asia/Tokyo", false, false }
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		tl_ctx ctx = at(T0 + SEC);
		ctx.tz = cases[i].tz;
		tl_cmd c = keyed_add("Legacy", cases[i].key);
		c.due = tl_s("2026-12-01");
		tl_result a, b;
		RUN1(ctx, &a, NULL, c);
		cr_assert_eq(refingerprint(cases[i].key, 'F', cases[i].no_zone,
					   cases[i].tz, &c),
			     cases[i].as_now, "case %zu", i);
		uint64_t events = nevents();
		ctx.now_ms = T0 + 2 * SEC;
		RUN1(ctx, &b, NULL, c);
		EXPECT_REPLAY(&a, &b, events);
		tl_result_release(&a);
		tl_result_release(&b);
		tl_cmd other = c;
		other.title = tl_s("Other");
		REJECT(TL_ECONFLICT, "idempotency_key", other);
		cr_assert_eq(nevents(), events);
	}
}

/* Since 0.3.17 a retry need not give the tags in the same order (they
 * are a set: a client builds them from an unordered collection), nor the
 * same zone for a command without a due date, which reads none (found by
 * a walk-through: both were conflicts).  A due date under another zone
 * is another instant: still a conflict.  And an 'N' record (the request
 * changed nothing) of 0.3.16's definition replays too. */
/* Since 0.3.18 the ids of a `notifications read` are a set in the
 * fingerprint too (a walk-through: `read 4 5` retried as `read 5 4` or
 * `read 4 5 5` under its key was a conflict, though the command reads
 * them as a set); another set is still a conflict, and a record of
 * 0.3.17 (its ids as given) replays its request. */
Test(idempotency, a_read_retried_with_its_ids_in_another_order_replays)
{
	add_member("bob", "member", 0);
	char t1[24], t2[24];
	for (int i = 0; i < 2; i++) {
		tl_cmd c = add_cmd("For bob");
		c.assignee = tl_s("bob");
		tl_result res;
		RUN1(at(T0 + SEC), &res, NULL, c);
		snprintf(i ? t2 : t1, 24, "%llu", (unsigned long long)res.seq);
		tl_result_release(&res);
	}
	tl_slice ab[2] = { tl_s(t1), tl_s(t2) },
		 bab[3] = { tl_s(t2), tl_s(t1), tl_s(t2) };
	tl_cmd rd = { .kind = TL_NOTIFICATIONS_READ, .id = tl_s("bob"),
		      .ids = ab, .ids_len = 2,
		      .idempotency_key = tl_s("r1") };
	tl_result a, b;
	RUN1(at(T0 + 2 * SEC), &a, NULL, rd);
	cr_assert(a.appended);
	uint64_t events = nevents();
	tl_cmd again = rd;
	again.ids = bab;
	again.ids_len = 3; /* t2, t1, t2: the same set */
	RUN1(at(T0 + 3 * SEC), &b, NULL, again);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&b);
	again.ids_len = 1; /* t2 alone: another request */
	REJECT(TL_ECONFLICT, "idempotency_key", again);
	tl_result_release(&a);

	/* a record of 0.3.17: t2, t1 as given */
	tl_slice ba[2] = { tl_s(t2), tl_s(t1) };
	tl_cmd old = rd;
	old.ids = ba;
	old.idempotency_key = tl_s("r2");
	RUN1(at(T0 + 4 * SEC), &a, NULL, old);
	cr_assert_not(a.appended, "read already");
	uint8_t fp[TL_IDEM_FP_LEN];
	fp_def("tasklog-idem-2", "admin", false, (tl_slice){ NULL, 0 }, &old,
	       fp);
	cr_assert_not(refingerprint_as("r2", 'N', fp), "0.3.18 hashes a set");
	events = nevents();
	RUN1(at(T0 + 5 * SEC), &b, NULL, old);
	cr_assert_eq(nevents(), events);
	cr_assert_not(b.appended);
	tl_result_release(&b);
	tl_result_release(&a);
}

Test(idempotency, a_retry_may_order_tags_and_name_zones_as_it_likes)
{
	tl_slice xy[2] = { tl_s("x"), tl_s("y") }, yx[3] = { tl_s("y"),
							     tl_s("x"),
							     tl_s("y") };
	tl_cmd c = keyed_add("Tagged", "k-tags");
	c.tags = xy;
	c.tags_len = 2;
	tl_result a, b;
	doc d;
	RUN1(at(T0 + SEC), &a, &d, c);
	char id[37];
	copy_str(FLD(d.o, "id"), id, sizeof id);
	doc_free(&d);
	uint64_t events = nevents();
	tl_cmd again = c;
	again.tags = yx;
	again.tags_len = 3; /* y, x, y: the same set */
	RUN1(at(T0 + 2 * SEC), &b, NULL, again);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&b);
	again.tags_len = 1; /* y alone: another request */
	REJECT(TL_ECONFLICT, "idempotency_key", again);

	/* complete under Tokyo, retried under Berlin and under none */
	tl_result_release(&a);
	tl_cmd done = { .kind = TL_TASK_COMPLETE, .id = tl_s(id),
			.idempotency_key = tl_s("k-done") };
	tl_ctx tokyo = at(T0 + 3 * SEC), berlin = at(T0 + 4 * SEC);
	tokyo.tz = "Asia/Tokyo";
	berlin.tz = "Europe/Berlin";
	RUN1(tokyo, &a, NULL, done);
	events = nevents();
	RUN1(berlin, &b, NULL, done);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&b);
	RUN1(at(T0 + 5 * SEC), &b, NULL, done);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&a);
	tl_result_release(&b);

	/* a due date read in Tokyo, retried in Berlin: not the same */
	tl_cmd due = keyed_add("Due", "k-due");
	due.due = tl_s("2026-12-01 10:00");
	RUN1(tokyo, &a, NULL, due);
	tl_result_release(&a);
	tl_err err;
	tl_result r;
	cr_assert_eq(tl_exec(db, &berlin, &due, 1, &r, &err), TL_ECONFLICT);
	cr_assert_str_eq(err.field, "idempotency_key");

	/* completing it again changes nothing: an 'N' record; made over
	 * with 0.3.16's fingerprint (the zone always, here Tokyo's), it
	 * replays for the same request */
	tl_cmd again_done = done;
	again_done.idempotency_key = tl_s("k-none-changed");
	RUN1(tokyo, &a, NULL, again_done);
	cr_assert(!a.appended);
	refingerprint("k-none-changed", 'N', false, "Asia/Tokyo", &again_done);
	events = nevents();
	RUN1(tokyo, &b, NULL, again_done);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&a);
	tl_result_release(&b);
	/* under Berlin it matches neither definition: 0.3.16's hashed the
	 * zone */
	cr_assert_eq(tl_exec(db, &berlin, &again_done, 1, &r, &err),
		     TL_ECONFLICT, "%s", err.message);
}

Test(idempotency, repeat_after_reopening_returns_the_first_result)
{
	tl_result a, b;
	RUN1(at(T0 + SEC), &a, NULL, keyed_add("Durable", "reopen-key"));
	ws_reopen();
	uint64_t events = nevents();
	RUN1(at(T0 + 2 * SEC), &b, NULL, keyed_add("Durable", "reopen-key"));
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&a);
	tl_result_release(&b);
}

Test(idempotency, repeat_within_one_batch_returns_the_first_command_result)
{
	tl_cmd c[3] = { keyed_add("Batch", "same"), keyed_add("Batch", "same"),
			add_cmd("Unkeyed") };
	uint64_t before = nevents();
	tl_result res[3];
	tl_ctx ctx = at(T0 + SEC);
	EXEC_OK(&ctx, c, 3, res);
	cr_assert(res[0].appended);
	cr_assert(!res[1].appended);
	cr_assert_eq(res[1].seq, res[0].seq);
	cr_assert_eq(res[1].doc_len, res[0].doc_len);
	cr_assert_arr_eq(res[1].doc, res[0].doc, res[0].doc_len);
	cr_assert(res[2].appended);
	cr_assert_eq(res[2].seq, res[0].seq + 1);
	cr_assert_eq(nevents(), before + 2);
	for (int i = 0; i < 3; i++)
		tl_result_release(&res[i]);
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.tasks, 2);
}

/* A key used for another request by an earlier command of the same
 * batch: the conflict names no seq, since the batch's failure takes that
 * command's event back (until 0.3.54 "(seq 6)", a seq the next write then
 * got for something else); one used by a committed batch names its seq. */
Test(idempotency, a_key_used_earlier_in_the_failing_batch_names_no_seq)
{
	tl_cmd c[2] = { keyed_add("First", "K3"), keyed_add("Second", "K3") };
	uint64_t before = nevents();
	tl_ctx ctx = at(T0 + SEC);
	tl_err err = { 0 };
	cr_assert_eq(tl_exec(db, &ctx, c, 2, NULL, &err), TL_ECONFLICT);
	cr_assert_eq(err.index, 1);
	cr_assert_str_eq(err.field, "idempotency_key");
	cr_assert_str_eq(err.message, "key 'K3' was used by an earlier command "
				      "of this batch for another request");
	cr_assert_eq(nevents(), before);
	tl_result r;
	cr_assert_eq(tl_exec(db, &ctx, &c[0], 1, &r, &err), 0, "%s",
		     err.message);
	uint64_t seq = r.seq;
	tl_result_release(&r);
	cr_assert_eq(tl_exec(db, &ctx, &c[1], 1, NULL, &err), TL_ECONFLICT);
	char want[96];
	snprintf(want, sizeof want,
		 "key 'K3' was used for another request (seq %llu)",
		 (unsigned long long)seq);
	cr_assert_str_eq(err.message, want);
}

Test(idempotency, repeat_of_a_change_returns_the_task_as_the_first_run_left_it)
{
	char id[37];
	add_task(T0 + SEC, "Keyed change", id);
	tl_cmd s = on(TL_TASK_STATUS, id);
	s.status = tl_s("in_progress");
	s.idempotency_key = tl_s("status-1");
	tl_result a, b, c;
	RUN1(at(T0 + 2 * SEC), &a, NULL, s);
	cr_assert(a.appended);
	RUN1(at(T0 + 3 * SEC), &c, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&c);
	uint64_t events = nevents();
	RUN1(at(T0 + 4 * SEC), &b, NULL, s);
	EXPECT_REPLAY_DOC(&a, &b, events, "status", "in_progress", 2);
}

/* A request under a key that changed nothing keeps the key: its retry
 * (after someone else changed the task) returns the task as it was and
 * appends nothing, and another request under the key is a conflict. */
Test(idempotency, a_request_that_changed_nothing_keeps_its_key)
{
	char id[37];
	add_task(T0 + SEC, "A", id);
	tl_cmd same = on(TL_TASK_UPDATE, id);
	same.title = tl_s("A");
	same.idempotency_key = tl_s("retry1");
	tl_result a, b, c;
	uint64_t events = nevents();
	RUN1(at(T0 + 2 * SEC), &a, NULL, same);
	cr_assert(!a.appended);
	cr_assert_eq(a.seq, 0);
	cr_assert_eq(nevents(), events);
	tl_cmd other = on(TL_TASK_UPDATE, id);
	other.title = tl_s("B");
	RUN1(at(T0 + 3 * SEC), &c, NULL, other);
	tl_result_release(&c);
	events = nevents();
	RUN1(at(T0 + 4 * SEC), &b, NULL, same);
	EXPECT_REPLAY_DOC(&a, &b, events, "title", "A", 1);
	doc d;
	get_task(id, &d, NULL, NULL);
	EXPECT_STR(d.o, "title", "B"); /* the other change stands */
	doc_free(&d);

	/* A tag already there, then another tag under the same key. */
	tl_slice x = tl_s("x"), y = tl_s("y");
	tl_cmd tag = on(TL_TASK_TAG, id);
	tag.tags = &x;
	tag.tags_len = 1;
	RUN1(at(T0 + 5 * SEC), &c, NULL, tag);
	tl_result_release(&c);
	tag.idempotency_key = tl_s("t1");
	RUN1(at(T0 + 6 * SEC), &c, NULL, tag);
	cr_assert(!c.appended);
	tl_result_release(&c);
	tl_cmd tag_y = tag;
	tag_y.tags = &y;
	events = nevents();
	REJECT(TL_ECONFLICT, "idempotency_key", tag_y);
	cr_assert_eq(nevents(), events);
	RUN1(at(T0 + 7 * SEC), &c, NULL, tag); /* the retry still replays */
	cr_assert(!c.appended);
	tl_result_release(&c);

	/* A member update that changes nothing, the same way. */
	tl_cmd mu = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin"),
		      .role = tl_s("admin"), .idempotency_key = tl_s("m1") };
	RUN1(at(T0 + 8 * SEC), &c, NULL, mu);
	cr_assert(!c.appended);
	tl_result_release(&c);
	tl_cmd mu2 = mu;
	mu2.role = (tl_slice){ 0 };
	mu2.name = tl_s("Renamed");
	REJECT(TL_ECONFLICT, "idempotency_key", mu2);
	EXPECT_CLEAN();
}

/* The retry of a request that changed nothing answers the target as it
 * was when that request ran: after its earlier changes (the record names
 * the target's last event then, not its first), before later ones. */
Test(idempotency, a_request_that_changed_nothing_replays_the_target_as_it_was)
{
	char id[37];
	add_task(T0 + SEC, "A", id);
	tl_cmd to_b = on(TL_TASK_UPDATE, id);
	to_b.title = tl_s("B");
	tl_result a, b, c;
	RUN1(at(T0 + 2 * SEC), &c, NULL, to_b);
	tl_result_release(&c);
	tl_cmd same = to_b; /* B again: changes nothing */
	same.idempotency_key = tl_s("noop-after-change");
	RUN1(at(T0 + 3 * SEC), &a, NULL, same);
	cr_assert(!a.appended);
	tl_cmd to_c = on(TL_TASK_UPDATE, id);
	to_c.title = tl_s("C");
	RUN1(at(T0 + 4 * SEC), &c, NULL, to_c);
	tl_result_release(&c);
	uint64_t events = nevents();
	RUN1(at(T0 + 5 * SEC), &b, NULL, same);
	EXPECT_REPLAY_DOC(&a, &b, events, "title", "B", 2);

	/* A member the same way: renamed, then an update that changes
	 * nothing, then renamed again. */
	tl_cmd add = { .kind = TL_MEMBER_ADD, .id = tl_s("frank"),
		       .name = tl_s("Frank") };
	RUN1(at(T0 + 6 * SEC), &c, NULL, add);
	tl_result_release(&c);
	tl_cmd ren = { .kind = TL_MEMBER_UPDATE, .id = tl_s("frank"),
		       .name = tl_s("Franklin") };
	RUN1(at(T0 + 7 * SEC), &c, NULL, ren);
	tl_result_release(&c);
	tl_cmd msame = ren;
	msame.idempotency_key = tl_s("m-noop-after-change");
	RUN1(at(T0 + 8 * SEC), &a, NULL, msame);
	cr_assert(!a.appended);
	tl_cmd ren2 = ren;
	ren2.name = tl_s("Frankie");
	RUN1(at(T0 + 9 * SEC), &c, NULL, ren2);
	tl_result_release(&c);
	events = nevents();
	RUN1(at(T0 + 10 * SEC), &b, NULL, msame);
	EXPECT_REPLAY(&a, &b, events);
	doc d;
	doc_parse(&d, b.doc, b.doc_len);
	EXPECT_STR(d.o, "name", "Franklin");
	doc_free(&d);
	tl_result_release(&a);
	tl_result_release(&b);
	EXPECT_CLEAN();
}

Test(idempotency, repeated_member_add_returns_the_first_result)
{
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("frank"),
		     .name = tl_s("Frank"), .idempotency_key = tl_s("m-1") };
	tl_result a, b, c;
	RUN1(at(T0 + SEC), &a, NULL, m);
	cr_assert(a.appended);
	uint64_t events = nevents();
	RUN1(at(T0 + 2 * SEC), &b, NULL, m);
	EXPECT_REPLAY(&a, &b, events);
	tl_result_release(&b);

	/* After a later rename, the repeat still answers what the first
	 * run answered. */
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("frank"),
		     .name = tl_s("Franklin") };
	RUN1(at(T0 + 3 * SEC), &c, NULL, u);
	tl_result_release(&c);
	RUN1(at(T0 + 4 * SEC), &b, NULL, m);
	cr_assert(!b.appended);
	cr_assert_eq(b.seq, a.seq);
	doc d;
	bool same = b.doc_len == a.doc_len && !memcmp(b.doc, a.doc, a.doc_len);
	char name[64];
	doc_parse(&d, b.doc, b.doc_len);
	ostr(fld_opt(d.o, "name"), name, sizeof name);
	doc_free(&d);
	tl_result_release(&a);
	tl_result_release(&b);
	cr_assert(same, "the repeat answered name '%s', the first run 'Frank'",
		  name);
}

/* bob, and a task assigned to him by admin: its task.created event is a
 * notification of bob's; its seq as text into idtext. */
static uint64_t notified_bob(char idtext[24])
{
	add_member("bob", "member", 0);
	tl_cmd c = add_cmd("For bob");
	c.assignee = tl_s("bob");
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, c);
	uint64_t seq = res.seq;
	tl_result_release(&res);
	snprintf(idtext, 24, "%llu", (unsigned long long)seq);
	return seq;
}

/* bob reads his notification (notified_bob) under key, appending: the
 * command (ids[0] names the notification, idtext its text), its result
 * in *first. */
static tl_cmd bob_reads_under(char idtext[24], tl_slice ids[1],
			      const char *key, tl_result *first)
{
	notified_bob(idtext);
	ids[0] = tl_s(idtext);
	tl_cmd rd = { .kind = TL_NOTIFICATIONS_READ, .ids = ids, .ids_len = 1,
		      .idempotency_key = tl_s(key) };
	RUN1(as_at("bob", T0 + 3 * SEC), first, NULL, rd);
	cr_assert(first->appended);
	return rd;
}

/* The system user marking a member's notifications read is recorded as
 * the system, as its task events are. */
Test(fold, notifications_read_by_the_system_user_is_of_kind_system)
{
	char idtext[24];
	notified_bob(idtext);
	tl_slice ids[1] = { tl_s(idtext) };
	tl_cmd c = { .kind = TL_NOTIFICATIONS_READ, .id = tl_s("bob"),
		     .ids = ids, .ids_len = 1 };
	tl_result res;
	RUN1(as_at(TL_SYSTEM_USER, T0 + 3 * SEC), &res, NULL, c);
	recs r;
	rec *e = read_event(&r, res.seq);
	cr_assert_str_eq(e->type, "notification.read");
	cr_assert_str_eq(e->actor_id, TL_SYSTEM_USER);
	cr_assert_str_eq(e->actor_kind, "system");
	recs_free(&r);
	tl_result_release(&res);
}

Test(idempotency, repeated_notifications_read_returns_the_first_result)
{
	char idtext[24];
	tl_slice ids[1];
	tl_result a, b;
	tl_cmd r = bob_reads_under(idtext, ids, "read-1", &a);
	uint64_t events = nevents();
	RUN1(as_at("bob", T0 + 4 * SEC), &b, NULL, r);
	cr_assert(!b.appended);
	cr_assert_eq(b.seq, a.seq);
	cr_assert_eq(nevents(), events);
	bool same = b.doc_len == a.doc_len && !memcmp(b.doc, a.doc, a.doc_len);
	doc d;
	doc_parse(&d, b.doc, b.doc_len);
	bool has_ids = fld_opt(d.o, "ids") != NULL;
	bool has_kind = fld_opt(d.o, "kind") != NULL;
	doc_free(&d);
	tl_result_release(&a);
	tl_result_release(&b);
	cr_assert(same,
		  "the repeat answered another document (has ids: %d, has member kind: %d)",
		  has_ids, has_kind);
}

/* A member update that changed nothing, made when the member's last
 * event was a notification.read: its retry answers the member as it was,
 * not that event's data. */
Test(idempotency, an_unchanged_member_update_after_a_read_replays_the_member)
{
	char idtext[24];
	notified_bob(idtext);
	tl_slice ids[1] = { tl_s(idtext) };
	tl_cmd rd = { .kind = TL_NOTIFICATIONS_READ, .ids = ids, .ids_len = 1 };
	tl_result a, b;
	RUN1(as_at("bob", T0 + 3 * SEC), &a, NULL, rd);
	tl_result_release(&a);
	tl_cmd same = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
			.role = tl_s("member"),
			.idempotency_key = tl_s("bob-noop") };
	RUN1(at(T0 + 4 * SEC), &a, NULL, same);
	cr_assert(!a.appended);
	uint64_t events = nevents();
	RUN1(at(T0 + 5 * SEC), &b, NULL, same);
	EXPECT_REPLAY(&a, &b, events);
	doc d;
	doc_parse(&d, b.doc, b.doc_len);
	EXPECT_STR(d.o, "id", "bob");
	EXPECT_STR(d.o, "role", "member");
	doc_free(&d);
	tl_result_release(&a);
	tl_result_release(&b);
	EXPECT_CLEAN();
}

/* The fingerprint covers every part of a request: each of these differs
 * from the first request under its key in one part only. */
Test(idempotency, a_request_differing_in_any_one_part_is_a_conflict)
{
	char id[37];
	add_task(T0 + SEC, "Base", id);
	tl_result a;
	uint64_t events;

	/* Notes absent, then given empty (which clears them). */
	tl_cmd upd = on(TL_TASK_UPDATE, id);
	upd.title = tl_s("Y");
	upd.idempotency_key = tl_s("k-notes");
	RUN1(at(T0 + 2 * SEC), &a, NULL, upd);
	tl_result_release(&a);
	tl_cmd empty_notes = upd;
	empty_notes.notes = tl_s("");
	REJECT(TL_ECONFLICT, "idempotency_key", empty_notes);

	/* The zone a date is read in. */
	tl_cmd dated = keyed_add("Dated", "k-zone");
	dated.due = tl_s("2026-04-01");
	RUN1(at(T0 + 3 * SEC), &a, NULL, dated);
	tl_result_release(&a);
	tl_ctx berlin = at(T0 + 4 * SEC);
	berlin.tz = "Europe/Berlin";
	reject_at(__LINE__, &berlin, &dated, 1, TL_ECONFLICT,
		  "idempotency_key", 0);

	/* The tags' text. */
	tl_slice ta = tl_s("a"), tb = tl_s("b");
	tl_cmd tag_a = keyed_add("Tagged", "k-tags");
	tag_a.tags = &ta;
	tag_a.tags_len = 1;
	RUN1(at(T0 + 5 * SEC), &a, NULL, tag_a);
	tl_result_release(&a);
	tl_cmd tag_b = tag_a;
	tag_b.tags = &tb;
	REJECT(TL_ECONFLICT, "idempotency_key", tag_b);

	/* The expected version, and whether one is given. */
	char v[37];
	add_task(T0 + 6 * SEC, "Versioned", v);
	tl_cmd exp1 = on(TL_TASK_UPDATE, v);
	exp1.title = tl_s("V2");
	exp1.has_expect_version = true;
	exp1.expect_version = 1;
	exp1.idempotency_key = tl_s("k-version");
	RUN1(at(T0 + 7 * SEC), &a, NULL, exp1);
	tl_result_release(&a);
	tl_cmd exp2 = exp1;
	exp2.expect_version = 2;
	REJECT(TL_ECONFLICT, "idempotency_key", exp2);
	tl_cmd new0 = keyed_add("New", "k-expect");
	new0.has_expect_version = true;
	RUN1(at(T0 + 8 * SEC), &a, NULL, new0);
	tl_result_release(&a);
	REJECT(TL_ECONFLICT, "idempotency_key", keyed_add("New", "k-expect"));

	/* A member's CRM access. */
	tl_cmd carol = { .kind = TL_MEMBER_ADD, .id = tl_s("carol"),
			 .name = tl_s("Carol"),
			 .idempotency_key = tl_s("k-member") };
	RUN1(at(T0 + 9 * SEC), &a, NULL, carol);
	tl_result_release(&a);
	tl_cmd no_crm = carol;
	no_crm.crm_access = -1;
	REJECT(TL_ECONFLICT, "idempotency_key", no_crm);

	/* The notification ids. */
	char n1[24], n2[24];
	notified_bob(n1);
	tl_cmd second = add_cmd("For bob too");
	second.assignee = tl_s("bob");
	RUN1(at(T0 + 10 * SEC), &a, NULL, second);
	snprintf(n2, sizeof n2, "%llu", (unsigned long long)a.seq);
	tl_result_release(&a);
	tl_slice i1 = tl_s(n1), i2 = tl_s(n2);
	tl_cmd read1 = { .kind = TL_NOTIFICATIONS_READ, .ids = &i1,
			 .ids_len = 1, .idempotency_key = tl_s("k-read") };
	RUN1(as_at("bob", T0 + 11 * SEC), &a, NULL, read1);
	tl_result_release(&a);
	tl_cmd read2 = read1;
	read2.ids = &i2;
	REJECT_AS("bob", TL_ECONFLICT, "idempotency_key", read2);

	/* Each first request still replays. */
	events = nevents();
	RUN1(at(T0 + 12 * SEC), &a, NULL, upd);
	cr_assert(!a.appended);
	tl_result_release(&a);
	cr_assert_eq(nevents(), events);
}

Test(idempotency, invalid_repeat_is_still_rejected)
{
	/* Arguments are validated before the key is looked up. */
	tl_result a;
	RUN1(at(T0 + SEC), &a, NULL, keyed_add("Valid", "k"));
	tl_result_release(&a);
	tl_cmd c = keyed_add("", "k");
	REJECT(TL_EINVALID, "title", c);
}

/* ======================================================================= */
/* verify: the hash chain and the stored states.                           */
/* ======================================================================= */

TestSuite(verify, .init = ws_setup, .fini = ws_teardown);

/* Members, a few tasks and changes; returns the seq of a task.created
 * event in the middle of the log. */
static uint64_t some_history(char id[37])
{
	tl_result res;
	add_member("bob", "member", 0);
	char other[37];
	add_task(T0 + SEC, "Before", other);
	tl_cmd c = add_cmd("Tamper target title");
	c.notes = tl_s("some notes");
	c.assignee = tl_s("bob");
	doc d;
	RUN1(at(T0 + 2 * SEC), &res, &d, c);
	copy_str(FLD(d.o, "id"), id, 37);
	doc_free(&d);
	uint64_t seq = res.seq;
	tl_result_release(&res);
	RUN1(at(T0 + 3 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);
	add_task(T0 + 4 * SEC, "After", other);
	return seq;
}

Test(verify, clean_log_has_no_problems)
{
	EXPECT_CLEAN();
	char id[37];
	some_history(id);
	EXPECT_CLEAN();
	ws_reopen();
	EXPECT_CLEAN();
}

Test(verify, flipped_byte_in_event_data_is_reported)
{
	char id[37];
	uint64_t seq = some_history(id);
	recs r;
	rec *e = read_event(&r, seq);
	size_t title = find_bytes(e->raw, e->raw_len, "Tamper target", 13);
	size_t notes = find_bytes(e->raw, e->raw_len, "some notes", 10);
	size_t bob = find_bytes(e->raw, e->raw_len, "\xa3" "bob", 4);
	recs_free(&r);
	FLIP_REPORTED(seq, title + 3, 0x01);
	FLIP_REPORTED(seq, notes, 0x20);
	FLIP_REPORTED(seq, bob + 1, 0xff);
	EXPECT_CLEAN();
}

Test(verify, flipped_byte_in_the_hash_is_reported)
{
	char id[37];
	uint64_t seq = some_history(id);
	recs r;
	size_t len = read_event(&r, seq)->raw_len;
	recs_free(&r);
	FLIP_REPORTED(seq, len - 1, 0x01);
	FLIP_REPORTED(seq, len - 16, 0x80);
	FLIP_REPORTED(seq, len - 32, 0xff);
	/* The bin header and key of the hash entry, too. */
	FLIP_REPORTED(seq, len - 33, 0x01);
	FLIP_REPORTED(seq, len - 36, 0x01);
	/* The last event's hash: nothing after it to disagree. */
	uint64_t last = nevents();
	len = read_event(&r, last)->raw_len;
	recs_free(&r);
	FLIP_REPORTED(last, len - 5, 0x10);
	EXPECT_CLEAN();
}

Test(verify, flipped_byte_in_the_envelope_is_reported)
{
	char id[37];
	uint64_t seq = some_history(id);
	recs r;
	rec *e = read_event(&r, seq);
	size_t type = find_bytes(e->raw, e->raw_len, "task.created", 12);
	size_t stream = find_bytes(e->raw, e->raw_len, id, 36);
	size_t evid = find_bytes(e->raw, e->raw_len, e->id, 36);
	size_t atk = find_bytes(e->raw, e->raw_len, "\xa2" "at", 3);
	size_t actor = find_bytes(e->raw, e->raw_len, "\xa4" "user", 5);
	size_t schema = find_bytes(e->raw, e->raw_len, "\xa6" "schema", 7);
	recs_free(&r);
	FLIP_REPORTED(seq, 0, 0x01);       /* the map header */
	FLIP_REPORTED(seq, 5, 0x01);       /* the seq value */
	FLIP_REPORTED(seq, evid + 35, 0x01);
	FLIP_REPORTED(seq, type + 5, 0x01);
	FLIP_REPORTED(seq, stream + 35, 0x01);
	FLIP_REPORTED(seq, atk + 3 + 5, 0x01); /* inside the timestamp */
	FLIP_REPORTED(seq, actor + 1, 0x20);   /* "user" -> "User" */
	FLIP_REPORTED(seq, schema + 7, 0x03);  /* schema 2 -> 1 */
	EXPECT_CLEAN();
}

Test(verify, every_single_byte_flip_of_an_event_is_reported)
{
	char id[37];
	uint64_t seq = some_history(id);
	recs r;
	size_t len = read_event(&r, seq)->raw_len;
	recs_free(&r);
	for (size_t pos = 0; pos < len; pos++)
		FLIP_REPORTED(seq, pos, 0x01);
	EXPECT_CLEAN();
}

Test(verify, flipped_byte_in_the_first_event_is_reported)
{
	recs r;
	size_t len = read_event(&r, 1)->raw_len;
	recs_free(&r);
	for (size_t pos = 0; pos < len; pos += 7)
		FLIP_REPORTED(1, pos, 0x40);
}

Test(verify, tampered_task_record_is_reported)
{
	char id[37];
	uint8_t key[16];
	size_t len;
	some_history(id);
	cr_assert(tl_uuid_parse(tl_s(id), key));
	db_close();
	uint8_t *orig = raw_fetch("tasks", key, 16, &len);
	uint8_t *bad = malloc(len);
	memcpy(bad, orig, len);
	size_t t = find_bytes(bad, len, "Tamper target", 13);
	bad[t] = 'D'; /* "Damper target" */
	raw_store("tasks", key, 16, bad, len);
	db_open_or_die();
	tu_problems p;
	cr_assert_gt(verify(&p), 0, "an altered task title went unnoticed");
	cr_assert_not_null(strstr(p.first, id), "the problem names the task: %s",
			   p.first);
	db_close();

	/* A different status, the document otherwise well-formed. */
	memcpy(bad, orig, len);
	size_t s = find_bytes(bad, len, "\xa9" "completed", 10);
	memcpy(bad + s + 1, "cancelled", 9);
	raw_store("tasks", key, 16, bad, len);
	db_open_or_die();
	cr_assert_gt(verify(&p), 0, "an altered task status went unnoticed");
	db_close();

	/* The record removed. */
	raw_delete("tasks", key, 16);
	db_open_or_die();
	cr_assert_gt(verify(&p), 0, "a missing task record went unnoticed");
	db_close();

	raw_store("tasks", key, 16, orig, len);
	db_open_or_die();
	EXPECT_CLEAN();
	free(orig);
	free(bad);
}

Test(verify, removed_event_is_reported)
{
	char id[37];
	uint64_t seq = some_history(id);
	uint8_t key[8];
	size_t len;
	tl_put_be64(key, seq);
	db_close();
	uint8_t *orig = raw_fetch("events", key, 8, &len);
	raw_delete("events", key, 8);
	db_open_or_die();
	tu_problems p;
	cr_assert_gt(verify(&p), 0, "a removed event went unnoticed");
	db_close();
	raw_store("events", key, 8, orig, len);
	db_open_or_die();
	EXPECT_CLEAN();
	free(orig);
}

/* All the problems of a verify, one per line. */
static void all_problems(void *arg, const char *text)
{
	char *buf = arg;
	size_t n = strlen(buf);
	snprintf(buf + n, 4096 - n, "%s\n", text);
}

/* A stream index entry gone from the middle of a task's stream: the event
 * is not indexed, and the stream's versions skip one. */
Test(verify, a_missing_stream_index_entry_is_reported)
{
	char id[37];
	tl_result res;
	some_history(id); /* created, completed */
	tl_cmd c = on(TL_TASK_STATUS, id);
	c.status = tl_s("todo");
	RUN1(at(T0 + 5 * SEC), &res, NULL, c); /* version 3 */
	tl_result_release(&res);
	/* version 2's entry: 'T' + the id -> version (BE32) + seq (BE64) */
	uint8_t key[17] = { 'T' }, val[12];
	cr_assert(tl_uuid_parse(tl_s(id), key + 1));
	recs r;
	uint64_t seq2 = 0;
	for (uint64_t s = 1; s <= nevents(); s++) {
		rec *e = read_event(&r, s);
		if (e->version == 2 && !strcmp(e->stream, id))
			seq2 = s;
		recs_free(&r);
	}
	cr_assert_gt(seq2, 0);
	tl_put_be32(val, 2);
	tl_put_be64(val + 4, seq2);
	db_close();
	raw rw;
	raw_begin(&rw, "streams");
	MDB_val k = { sizeof key, key }, v = { sizeof val, val };
	cr_assert_eq(mdb_del(rw.txn, rw.dbi, &k, &v), 0);
	raw_commit(&rw);
	db_open_or_die();
	char buf[4096] = "";
	tl_err err;
	/* (and the task, whose fold walks the index, folds from nothing) */
	cr_assert_eq(tl_verify(db, NULL, all_problems, buf, &err), 3, "%s",
		     buf);
	cr_assert(strstr(buf, "version 2 is not indexed"), "%s", buf);
	cr_assert(strstr(buf, "version 3 where 2 was expected"), "%s", buf);
}

/* A record stored under one seq that says another, higher or lower: the
 * log check names both (the chain breaks there too). */
Test(verify, a_record_under_another_seq_is_named)
{
	char id[37];
	some_history(id);
	uint8_t key[8];
	size_t len;
	tl_put_be64(key, 3);
	db_close();
	uint8_t *orig = raw_fetch("events", key, 8, &len);
	cr_assert(orig[1] == 0xa3 && !memcmp(orig + 2, "seq", 3) &&
		  orig[5] == 3);
	const uint8_t says[] = { 4, 2 };
	for (int i = 0; i < 2; i++) {
		uint8_t *bad = malloc(len);
		memcpy(bad, orig, len);
		bad[5] = says[i];
		raw_store("events", key, 8, bad, len);
		free(bad);
		db_open_or_die();
		char buf[4096] = "", want[64];
		tl_err err;
		cr_assert_gt(tl_verify(db, NULL, all_problems, buf, &err), 0);
		snprintf(want, sizeof want, "event 3: records seq %d\n",
			 says[i]);
		cr_assert(strstr(buf, want), "%s", buf);
		db_close();
	}
	raw_store("events", key, 8, orig, len);
	free(orig);
	db_open_or_die();
	EXPECT_CLEAN();
}

/* The chain hash is BLAKE2b-256 over the previous hash, then the record
 * as stored but for its hash entry (the last 39 bytes: the key "hash", a
 * bin 8 header and 32 bytes), its map header (one more entry than that
 * record has) taken as 0x89: format.md's formula, computed here apart
 * from the engine, for every event of a log. */
Test(verify, the_chain_hash_is_the_documented_formula)
{
	char id[37];
	some_history(id);
	uint8_t prev[32] = { 0 };
	recs r;
	for (uint64_t s = 1; s <= nevents(); s++) {
		rec *e = read_event(&r, s);
		const uint8_t *bytes = e->raw;
		size_t len = e->raw_len;
		cr_assert_eq(bytes[0], 0x8a);
		cr_assert(!memcmp(bytes + len - 39, "\xa4hash\xc4\x20", 7));
		crypto_generichash_state st;
		uint8_t head = 0x89, want[32];
		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st, prev, 32);
		crypto_generichash_update(&st, &head, 1);
		crypto_generichash_update(&st, bytes + 1, len - 1 - 39);
		crypto_generichash_final(&st, want, 32);
		cr_assert(!memcmp(bytes + len - 32, want, 32), "event %llu",
			  (unsigned long long)s);
		memcpy(prev, want, 32);
		recs_free(&r);
	}
}

Test(verify, is_for_admins_only)
{
	add_member("carol", "member", 0);
	tl_ctx ctx = as_at("carol", 0);
	tl_err err = { 0 };
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
}

/* ======================================================================= */
/* growth: a full map is grown and the work rerun.                         */
/* ======================================================================= */

static void ws_setup_small(void)
{
	ws_make(1 << 20);
}

TestSuite(growth, .init = ws_setup_small, .fini = ws_teardown,
	  .timeout = 300);

Test(growth, batches_well_past_a_1mib_map_all_succeed)
{
	enum { BATCHES = 20, PER = 500 };
	char *notes = repeat('n', 1024);
	static char titles[PER][24];
	tl_cmd *c = calloc(PER, sizeof *c);
	tl_result *res = calloc(PER, sizeof *res);
	uint64_t seq = nevents();
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < PER; i++) {
			snprintf(titles[i], sizeof titles[i], "task %d.%d", b,
				 i);
			c[i] = add_cmd(titles[i]);
			c[i].notes = tl_s(notes);
		}
		tl_ctx ctx = at(T0 + (b + 1) * SEC);
		tl_err err;
		tl_err_set(&err, TL_ECONFLICT, "stale", "from before");
		int rc = tl_exec(db, &ctx, c, PER, res, &err);
		cr_assert_eq(rc, 0, "batch %d: %s: %s: %s", b, tl_code_name(rc),
			     err.field, err.message);
		/* no note left of the growth it recovered from */
		cr_assert_eq(err.code, 0, "%s: %s", err.field, err.message);
		cr_assert_str_eq(err.message, "");
		for (int i = 0; i < PER; i++) {
			cr_assert(res[i].appended);
			cr_assert_eq(res[i].seq, ++seq, "batch %d cmd %d", b,
				     i);
			tl_result_release(&res[i]);
		}
	}
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.events, 2 + BATCHES * PER);
	cr_assert_eq(st.tasks, BATCHES * PER);
	cr_assert_gt(st.map_size, 16u << 20, "map is %llu bytes",
		     (unsigned long long)st.map_size);
	cr_assert_leq(st.map_used, st.map_size);
	EXPECT_CLEAN();
	/* Reopened with the small initial size, it still takes writes. */
	ws_reopen();
	cr_assert_eq(nevents(), 2 + BATCHES * PER);
	for (int i = 0; i < PER; i++)
		c[i] = add_cmd("after reopening");
	tl_ctx ctx = at(T0 + 100 * SEC);
	EXEC_OK(&ctx, c, PER, res);
	for (int i = 0; i < PER; i++)
		tl_result_release(&res[i]);
	cr_assert_eq(nevents(), 2 + (BATCHES + 1) * PER);
	EXPECT_CLEAN();
	free(notes);
	free(c);
	free(res);
}

/*
 * A map that cannot grow for want of address space (ulimit -v): LMDB
 * unmaps before it maps at the new size, and left without a map the next
 * transaction crashed.  In a child under RLIMIT_AS a little above what it
 * uses, batches fill the map until its growth fails: that batch must fail
 * with "out of memory", and the handle must go on (reads, and writes that
 * fit) instead of crashing.  Not under ASan, whose shadow memory cannot
 * live under such a limit.
 */
#if !defined(__SANITIZE_ADDRESS__)
static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* In a forked child: its own handle of the workspace (LMDB's rule), and
 * RLIMIT_AS 12 MiB above what it uses now: room for a 1 MiB map to double
 * a few times only.  Exits 9 or 10 when that cannot be set up. */
static tl_db *child_under_as_limit(void)
{
	tl_db *own;
	tl_err err;
	if (tl_db_open(ws_dir, NULL, &own, &err))
		_exit(9);
	long kib = vm_size_kib();
	rlim_t lim = (rlim_t)(kib + 12 * 1024) * 1024;
	if (kib <= 0 || setrlimit(RLIMIT_AS, &(struct rlimit){ lim, lim }))
		_exit(10);
	return own;
}

/* The child exited 0, not of a signal. */
static void expect_child_ok(pid_t pid)
{
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died of signal %d",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "child exit %d",
		     WEXITSTATUS(status));
}
#endif

Test(growth, a_map_that_cannot_grow_fails_the_batch_and_keeps_the_handle)
{
#if defined(__SANITIZE_ADDRESS__)
	ws_teardown(); /* Criterion's skip runs no fini */
	cr_skip_test("RLIMIT_AS and ASan's shadow memory do not mix");
#else
	char *notes = repeat('m', 1024);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		db = child_under_as_limit();
		tl_cmd c[200];
		tl_result res[200];
		tl_err err = { 0 };
		int failed = 0;
		for (int b = 0; b < 200 && !failed; b++) {
			for (int i = 0; i < 200; i++) {
				c[i] = add_cmd("fill");
				c[i].notes = tl_s(notes);
			}
			tl_ctx ctx = at(T0 + (b + 1) * SEC);
			int rc = tl_exec(db, &ctx, c, 200, res, &err);
			if (rc == 0) {
				for (int i = 0; i < 200; i++)
					tl_result_release(&res[i]);
				continue;
			}
			if (rc != TL_ESTORAGE ||
			    !strstr(err.message, "out of memory"))
				_exit(12);
			failed = 1;
		}
		if (!failed)
			_exit(13); /* the limit never bit: nothing shown */
		tl_stats st;
		if (tl_db_stats(db, NULL, &st, &err))
			_exit(14);
		c[0] = add_cmd("small");
		tl_ctx ctx = at(T0 + 1000 * SEC);
		int rc = tl_exec(db, &ctx, c, 1, res, &err);
		if (rc == 0)
			tl_result_release(&res[0]);
		else if (rc != TL_ESTORAGE)
			_exit(15);
		_exit(0);
	}
	free(notes); /* the child's copy; freed before an assert can leave */
	expect_child_ok(pid);
	EXPECT_CLEAN();
#endif
}

/* tl_db_reserve past the address space a process may map: TL_ESTORAGE,
 * the map as it was, and the handle goes on (a write that fits). */
Test(growth, a_reserve_past_the_address_space_leaves_the_map_as_it_was)
{
#if defined(__SANITIZE_ADDRESS__)
	ws_teardown(); /* Criterion's skip runs no fini */
	cr_skip_test("RLIMIT_AS and ASan's shadow memory do not mix");
#else
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		db = child_under_as_limit();
		size_t was = tl_db_map_size(db);
		tl_err err = { 0 };
		/* 1 GiB: far past the 12 MiB the child may still map */
		int rc = tl_db_reserve(db, (uint64_t)1 << 30, &err);
		if (rc != TL_ESTORAGE || !strstr(err.message, "grow map"))
			_exit(11);
		if (tl_db_map_size(db) != was)
			_exit(12);
		tl_cmd c = add_cmd("after");
		tl_result res;
		tl_ctx ctx = at(T0 + SEC);
		if (tl_exec(db, &ctx, &c, 1, &res, &err))
			_exit(13);
		tl_result_release(&res);
		_exit(0);
	}
	expect_child_ok(pid);
	EXPECT_CLEAN();
#endif
}

/*
 * The other remap: another process grew the map, and this one adopts the
 * stored size (MDB_MAP_RESIZED) at its next transaction, unprobed.  A
 * child with its own handle under RLIMIT_AS waits while the parent grows
 * the map far past what the child may map; then every call of the child
 * must fail with "out of memory" (its handle is lost), again and again,
 * and never crash.  Not under ASan.
 */
Test(growth, a_map_grown_elsewhere_that_cannot_be_adopted_fails_cleanly)
{
#if defined(__SANITIZE_ADDRESS__)
	ws_teardown(); /* Criterion's skip runs no fini */
	cr_skip_test("RLIMIT_AS and ASan's shadow memory do not mix");
#else
	int go[2], ready[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(ready), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		tl_db *own;
		tl_err err;
		char b = 0;
		own = child_under_as_limit();
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(11);
		for (int round = 0; round < 2; round++) {
			tl_stats st;
			tl_cmd c = add_cmd("child");
			tl_ctx ctx = at(T0 + 5000 * SEC);
			if (tl_exec(own, &ctx, &c, 1, NULL, &err) != TL_ESTORAGE ||
			    !strstr(err.message, "out of memory"))
				_exit(12);
			if (tl_db_stats(own, NULL, &st, &err) != TL_ESTORAGE ||
			    !strstr(err.message, "out of memory"))
				_exit(13);
			if (tl_rebuild(own, NULL, NULL, 0, NULL, NULL, &err) !=
			    TL_ESTORAGE)
				_exit(14);
		}
		tl_db_close(own);
		_exit(0);
	}
	char b;
	cr_assert_eq(read(ready[0], &b, 1), 1, "the child did not start");
	/* grow the map to 64 MiB and more from here */
	char *notes = repeat('x', 4000);
	tl_cmd *c = calloc(500, sizeof *c);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 500; i++) {
			c[i] = add_cmd("grow");
			c[i].notes = tl_s(notes);
		}
		tl_ctx ctx = at(T0 + (round + 1) * SEC);
		EXEC_OK(&ctx, c, 500, NULL);
	}
	tl_stats st;
	tl_err err;
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_geq(st.map_size, 32u << 20, "map of %llu bytes",
		      (unsigned long long)st.map_size);
	cr_assert_eq(write(go[1], &b, 1), 1);
	expect_child_ok(pid);
	free(c);
	free(notes);
	EXPECT_CLEAN();
#endif
}

static uint64_t map_size_now(void)
{
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0, "%s", err.message);
	return st.map_size;
}

/* A full map doubles once, for commands (tl_exec) as for init: tl_db_init
 * grew it again after the abort of the transaction whose request found
 * it full had grown it (a review: 16 KiB became 64, then 128 KiB for 36
 * used). */
Test(growth, a_full_map_doubles_once)
{
	char *notes = repeat('n', 16 << 10);
	int growths = 0;
	for (int i = 0; i < 400 && growths < 3; i++) {
		uint64_t before = map_size_now();
		tl_cmd c = add_cmd("grows");
		c.notes = tl_s(notes);
		tl_ctx ctx = at(T0 + (i + 1) * SEC);
		EXEC_OK(&ctx, &c, 1, NULL);
		uint64_t after = map_size_now();
		cr_assert(after == before || after == 2 * before,
			  "command %d: the map went from %llu to %llu bytes", i,
			  (unsigned long long)before,
			  (unsigned long long)after);
		growths += after != before;
	}
	cr_assert_eq(growths, 3);
	free(notes);

	/* init into a map that its first commit fills */
	char dir[] = "/tmp/tasklog-unit-init-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	tl_db *small;
	tl_err err = { 0 };
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .map_size = 16 << 10 };
	cr_assert_eq(tl_db_open(dir, &o, &small, &err), 0, "%s", err.message);
	tl_init_opts io = { .now_ms = T0 };
	cr_assert_eq(tl_db_init(small, &io, &err), 0, "%s", err.message);
	tl_stats st;
	cr_assert_eq(tl_db_stats(small, NULL, &st, &err), 0, "%s",
		     err.message);
	/* doubled from 16 KiB until init fit, each full map once: a power
	 * of two no more than twice what it uses */
	cr_assert_eq(st.map_size & (st.map_size - 1), 0, "%llu",
		     (unsigned long long)st.map_size);
	cr_assert_gt(st.map_size, 16u << 10);
	cr_assert_leq(st.map_size, 2 * st.map_used, "%llu for %llu used",
		      (unsigned long long)st.map_size,
		      (unsigned long long)st.map_used);
	tl_db_close(small);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* n task.add commands of 1 KiB notes each (about 2 MiB for 2,000), and
 * room for their results; free all three after. */
static void notes_batch(int n, char **notes, tl_cmd **c, tl_result **res)
{
	*notes = repeat('g', 1024);
	*c = calloc((size_t)n, sizeof **c);
	*res = calloc((size_t)n, sizeof **res);
	cr_assert(*notes && *c && *res);
	for (int i = 0; i < n; i++) {
		(*c)[i] = add_cmd("grow");
		(*c)[i].notes = tl_s(*notes);
	}
}

Test(growth, group_commit_reports_again_and_a_rerun_succeeds)
{
	enum { PER = 2000 };
	char *notes;
	tl_cmd *c;
	tl_result *res;
	notes_batch(PER, &notes, &c, &res);
	tl_ctx ctx = at(T0 + SEC);
	int again = 0, rc;
	for (;;) {
		tl_txn *t;
		tl_err err = { 0 };
		cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
		rc = tl_txn_exec(t, &ctx, c, PER, res, &err);
		if (rc == TL_EAGAIN) {
			/* The transaction takes nothing more; abort or commit
			 * both end it and grow the map (in turns here). */
			tl_cmd one = add_cmd("one more");
			tl_result r1;
			cr_assert_eq(tl_txn_exec(t, &ctx, &one, 1, &r1, &err),
				     TL_EAGAIN);
			if (again % 2)
				tl_txn_abort(t);
			else
				cr_assert_eq(tl_txn_commit(t, &err), TL_EAGAIN);
			cr_assert_lt(++again, 20, "the map never grew enough");
			continue;
		}
		cr_assert_eq(rc, 0, "%s: %s", err.field, err.message);
		rc = tl_txn_commit(t, &err);
		if (rc == TL_EAGAIN) {
			for (int i = 0; i < PER; i++)
				tl_result_release(&res[i]);
			cr_assert_lt(++again, 20);
			continue;
		}
		cr_assert_eq(rc, 0, "commit: %s", err.message);
		break;
	}
	cr_assert_gt(again, 0, "a 2 MiB batch fit a 1 MiB map?");
	for (int i = 0; i < PER; i++) {
		cr_assert_eq(res[i].seq, 3 + (uint64_t)i);
		tl_result_release(&res[i]);
	}
	cr_assert_eq(nevents(), 2 + PER);
	EXPECT_CLEAN();
	free(notes);
	free(c);
	free(res);
}

/* tl_db_reserve (0.3.43): the map grown ahead of a big transaction, by
 * doubling, so that the transaction does not fill it and run again (the
 * test above, without it, runs again); nothing when it has the room,
 * nothing on a read-only handle; refused with a transaction open. */
Test(growth, reserve_makes_room_for_a_big_transaction_first)
{
	enum { PER = 2000 };
	tl_err err = { 0 };
	tl_stats st;
	tl_ctx ctx = at(T0 + SEC);
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), 0, "%s", err.message);
	uint64_t before = st.map_size;
	cr_assert_eq(before, 1 << 20);
	/* room there is: unchanged */
	cr_assert_eq(tl_db_reserve(db, 4096, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_map_size(db), before);
	/* 2 MiB of notes, with the pages around them: 8 MiB asked */
	cr_assert_eq(tl_db_reserve(db, (uint64_t)8 << 20, &err), 0, "%s",
		     err.message);
	size_t grown = tl_db_map_size(db);
	cr_assert_eq(grown, (size_t)16 << 20, "doubled to 16 MiB: %zu", grown);
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), 0);
	cr_assert_geq(st.map_size - st.map_used, (uint64_t)8 << 20);

	char *notes;
	tl_cmd *c;
	tl_result *res;
	notes_batch(PER, &notes, &c, &res);
	tl_txn *t;
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	cr_assert_eq(tl_db_reserve(db, (uint64_t)1 << 30, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert_eq(tl_txn_exec(t, &ctx, c, PER, res, &err), 0,
		     "ran at once: %s", err.message);
	cr_assert_eq(tl_txn_commit(t, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_map_size(db), grown, "not grown by a full map");
	for (int i = 0; i < PER; i++)
		tl_result_release(&res[i]);
	cr_assert_eq(nevents(), 2 + PER);
	EXPECT_CLEAN();

	/* read-only: nothing to write, nothing done */
	db_close();
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(ws_dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_reserve(db, (uint64_t)1 << 30, &err), 0);
	cr_assert_eq(tl_db_map_size(db), grown);
	free(notes);
	free(c);
	free(res);
}

/* From a read's callback tl_db_reserve is refused: growing the map would
 * remap the file under the read (before 0.3.51 it grew it, and the read
 * crashed when the callback returned). */
typedef struct reserve_in_read {
	size_t events, refused;
} reserve_in_read;

static int reserve_from_read(void *arg, const tl_event *ev)
{
	reserve_in_read *r = arg;
	tl_err e;
	(void)ev;
	r->events++;
	r->refused += tl_db_reserve(db, (uint64_t)1 << 30, &e) ==
			      TL_EINVALID &&
		      !strcmp(e.field, "db");
	return 0;
}

Test(growth, reserve_is_refused_from_a_reads_callback)
{
	tl_err err = { 0 };
	tl_ctx ctx = at(T0 + SEC);
	size_t before = tl_db_map_size(db);
	reserve_in_read r = { 0 };
	cr_assert_eq(tl_log_read(db, &ctx, 0, 0, (tl_slice){ 0 },
				 reserve_from_read, &r, &err),
		     0, "%s", err.message);
	cr_assert_eq(r.events, 2);
	cr_assert_eq(r.refused, 2);
	cr_assert_eq(tl_db_map_size(db), before);
	/* and once the read is over, it grows the map */
	cr_assert_eq(tl_db_reserve(db, (uint64_t)1 << 30, &err), 0, "%s",
		     err.message);
	cr_assert_gt(tl_db_map_size(db), before);
}

/* ======================================================================= */
/* as_of: the state of a task at a past time.                              */
/* ======================================================================= */

TestSuite(as_of, .init = ws_setup, .fini = ws_teardown);

static int as_of(const char *id, int64_t when, doc *d, tl_err *err)
{
	uint8_t *p = NULL;
	size_t n = 0;
	memset(err, 0, sizeof *err);
	int rc = tl_task_as_of(db, NULL, tl_s(id), when, &p, &n, err);
	if (rc == 0)
		doc_take(d, p, n);
	return rc;
}

Test(as_of, gives_the_state_at_an_intermediate_time)
{
	char id[37];
	tl_result res;
	add_task(T0 + 10 * SEC, "Original", id);
	tl_cmd u = on(TL_TASK_UPDATE, id);
	u.title = tl_s("Renamed");
	RUN1(at(T0 + 20 * SEC), &res, NULL, u);
	tl_result_release(&res);
	RUN1(at(T0 + 30 * SEC), &res, NULL, on(TL_TASK_COMPLETE, id));
	tl_result_release(&res);
	RUN1(at(T0 + 40 * SEC), &res, NULL, on(TL_TASK_DELETE, id));
	tl_result_release(&res);

	doc d;
	tl_err err;
	cr_assert_eq(as_of(id, T0 + 10 * SEC, &d, &err), 0, "%s", err.message);
	EXPECT_STR(d.o, "title", "Original");
	EXPECT_UINT(d.o, "version", 1);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 15 * SEC, &d, &err), 0);
	EXPECT_STR(d.o, "title", "Original");
	EXPECT_STR(d.o, "status", "todo");
	EXPECT_TIME(d.o, "updated_at", T0 + 10 * SEC);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 20 * SEC, &d, &err), 0);
	EXPECT_STR(d.o, "title", "Renamed");
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 35 * SEC, &d, &err), 0);
	EXPECT_STR(d.o, "status", "completed");
	EXPECT_TIME(d.o, "completed_at", T0 + 30 * SEC);
	EXPECT_BOOL(d.o, "deleted", false);
	EXPECT_UINT(d.o, "version", 3);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 40 * SEC, &d, &err), 0);
	EXPECT_BOOL(d.o, "deleted", true);
	EXPECT_UINT(d.o, "version", 4);
	doc_free(&d);
}

/* Event times need not grow with versions (--now, a clock stepping
 * back).  The state as of a time is a prefix of the stream: up to its
 * last version made by then, with every version before it whatever its
 * time (a walk-through: folding only the events whose times passed gave
 * a state the task never had, under a version it had with another). */
Test(as_of, is_the_stream_up_to_its_last_version_made_by_then)
{
	char id[37];
	tl_result res;
	add_task(T0 + 10 * SEC, "Original", id);
	tl_cmd u = on(TL_TASK_UPDATE, id);
	u.notes = tl_s("set by version 2, dated later");
	RUN1(at(T0 + 30 * SEC), &res, NULL, u);
	tl_result_release(&res);
	u = on(TL_TASK_UPDATE, id);
	u.title = tl_s("Y");
	RUN1(at(T0 + 20 * SEC), &res, NULL, u);
	tl_result_release(&res);

	doc d;
	tl_err err;
	/* version 3 was made by then, so version 2 was too */
	cr_assert_eq(as_of(id, T0 + 25 * SEC, &d, &err), 0, "%s", err.message);
	EXPECT_STR(d.o, "title", "Y");
	EXPECT_STR(d.o, "notes", "set by version 2, dated later");
	EXPECT_UINT(d.o, "version", 3);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 15 * SEC, &d, &err), 0);
	EXPECT_STR(d.o, "title", "Original");
	EXPECT_NIL(d.o, "notes");
	EXPECT_UINT(d.o, "version", 1);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 30 * SEC, &d, &err), 0);
	EXPECT_STR(d.o, "title", "Y");
	EXPECT_UINT(d.o, "version", 3);
	doc_free(&d);
}

Test(as_of, before_creation_is_not_found)
{
	char id[37];
	add_task(T0 + 10 * SEC, "Late", id);
	doc d;
	tl_err err;
	cr_assert_eq(as_of(id, T0 + 10 * SEC - 1, &d, &err), TL_ENOTFOUND);
	cr_assert_str_eq(err.field, "id");
	cr_assert_eq(as_of(id, T0, &d, &err), TL_ENOTFOUND);
	cr_assert(strstr(err.message, "did not exist at that time"), "%s",
		  err.message);
	/* a task that never was is none, whatever the time (a
	 * walk-through: it was said to be made later) */
	cr_assert_eq(as_of("01890a5d-ac96-774b-bcce-b302099a8057", T0 + DAY, &d,
			   &err), TL_ENOTFOUND);
	cr_assert_str_eq(err.message,
			 "no task 01890a5d-ac96-774b-bcce-b302099a8057");
	cr_assert_eq(as_of("nope", T0 + DAY, &d, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
}

/* A change dated before the task's creation (a clock set back) was
 * made after it: as of its time the task exists, as that change left it;
 * before every version's time it does not. */
Test(as_of, a_change_dated_before_the_creation_shows_the_task_then)
{
	char id[37];
	tl_result res;
	add_task(T0 + 10 * SEC, "Late", id);
	tl_cmd u = on(TL_TASK_UPDATE, id);
	u.title = tl_s("Backdated");
	RUN1(at(T0 + 5 * SEC), &res, NULL, u);
	tl_result_release(&res);

	doc d;
	tl_err err;
	cr_assert_eq(as_of(id, T0 + 4 * SEC, &d, &err), TL_ENOTFOUND, "%s",
		     err.message);
	cr_assert_str_eq(err.field, "id");
	cr_assert(strstr(err.message, "did not exist at that time"), "%s",
		  err.message);
	cr_assert_eq(as_of(id, T0 + 7 * SEC, &d, &err), 0, "%s",
		     err.message);
	EXPECT_STR(d.o, "title", "Backdated");
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
	cr_assert_eq(as_of(id, T0 + 10 * SEC, &d, &err), 0, "%s",
		     err.message);
	EXPECT_STR(d.o, "title", "Backdated");
	EXPECT_UINT(d.o, "version", 2);
	doc_free(&d);
}

/* ======================================================================= */
/* txn: group commit.                                                      */
/* ======================================================================= */

TestSuite(txn, .init = ws_setup, .fini = ws_teardown);

Test(txn, a_handle_with_an_open_transaction_refuses_other_writes)
{
	tl_txn *t, *t2;
	tl_err err = { 0 };
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("Waits for no lock");
	tl_result r;
	uint64_t before = nevents();
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	/* Each would wait for ever for the writer lock t holds. */
	cr_assert_eq(tl_txn_begin(db, &t2, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert_eq(tl_exec(db, &ctx, &one, 1, &r, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err),
		     TL_EINVALID);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), TL_EINVALID);
	cr_assert_eq(tl_txn_exec(t, &ctx, &one, 1, &r, &err), 0, "%s",
		     err.message);
	tl_result_release(&r);
	/* Reads meanwhile see the last commit. */
	cr_assert_eq(nevents(), before);
	cr_assert_eq(tl_txn_commit(t, &err), 0, "%s", err.message);
	/* Ended: the handle writes again. */
	cr_assert_eq(tl_exec(db, &ctx, &one, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(nevents(), before + 2);
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_txn_abort(t);
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_txn_abort(t);
}

/* A transaction begun by one thread (a server's worker, say) and used by
 * another.  LMDB's writer lock is the first thread's: a commit or abort
 * by another returned as if done and left it held, and every writer of
 * every process then waited for as long as that thread lived (until
 * 0.3.54).  Now each call from another thread is refused, the
 * transaction left as it was, and its own thread ends it. */
struct owner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int step, rc;
	tl_txn *t;
	tl_err err;
};

static void owner_step(struct owner *o, int step)
{
	o->step = step;
	pthread_cond_broadcast(&o->cv);
	while (o->step == step)
		pthread_cond_wait(&o->cv, &o->mu);
}

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("Begun on its thread");
	tl_result r;
	pthread_mutex_lock(&o->mu);
	if (!(o->rc = tl_txn_begin(db, &o->t, &o->err)) &&
	    !(o->rc = tl_txn_exec(o->t, &ctx, &one, 1, &r, &o->err)))
		tl_result_release(&r);
	owner_step(o, 1); /* until the main thread says 2 */
	if (!o->rc)
		o->rc = tl_txn_commit(o->t, &o->err);
	o->step = 3;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

Test(txn, is_used_and_ended_only_by_the_thread_that_began_it)
{
	struct owner o = { .mu = PTHREAD_MUTEX_INITIALIZER,
			   .cv = PTHREAD_COND_INITIALIZER };
	uint64_t before = nevents();
	pthread_t th;
	pthread_mutex_lock(&o.mu);
	cr_assert_eq(pthread_create(&th, NULL, owner_thread, &o), 0);
	while (o.step != 1)
		pthread_cond_wait(&o.cv, &o.mu);
	cr_assert_eq(o.rc, 0, "%s", o.err.message);

	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("Not on its thread");
	tl_result r;
	tl_err err = { 0 };
	cr_assert_eq(tl_txn_exec(o.t, &ctx, &one, 1, &r, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert(strstr(err.message, "another thread"), "%s", err.message);
	const uint8_t *one_rec = (const uint8_t *)"x";
	size_t len = 1;
	cr_assert_eq(tl_txn_import(o.t, &one_rec, &len, 1, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert_eq(tl_txn_commit(o.t, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	tl_txn_abort(o.t); /* refused too: nothing it can say */
	/* Still open, on its thread: the handle's other writes are refused
	 * (they would wait for its lock), and nothing is appended yet. */
	cr_assert_eq(tl_exec(db, &ctx, &one, 1, NULL, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	cr_assert_eq(nevents(), before);

	owner_step(&o, 2);
	pthread_mutex_unlock(&o.mu);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(o.rc, 0, "%s", o.err.message);
	cr_assert_eq(nevents(), before + 1);
	/* The lock was given back: the next write does not wait. */
	cr_assert_eq(tl_exec(db, &ctx, &one, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(nevents(), before + 2);
}

/* A thread that ends with its transaction open: a thread started after
 * it may get its pthread_t again, and committed that transaction (LMDB's
 * lock had passed on at the first thread's end) over what was written
 * meanwhile, until 0.3.54.  Every thread is refused it; closing the handle
 * ends it, and the workspace writes on. */
static void *begin_and_end(void *arg)
{
	struct owner *o = arg;
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("Left open by its thread");
	tl_result r;
	if (!(o->rc = tl_txn_begin(db, &o->t, &o->err)) &&
	    !(o->rc = tl_txn_exec(o->t, &ctx, &one, 1, &r, &o->err)))
		tl_result_release(&r);
	return NULL;
}

static void *commit_it(void *arg)
{
	struct owner *o = arg;
	o->rc = tl_txn_commit(o->t, &o->err);
	return NULL;
}

Test(txn, one_left_open_by_a_thread_that_ended_is_no_other_threads)
{
	struct owner o = { .rc = -1 };
	uint64_t before = nevents();
	pthread_t a, b;
	cr_assert_eq(pthread_create(&a, NULL, begin_and_end, &o), 0);
	cr_assert_eq(pthread_join(a, NULL), 0);
	cr_assert_eq(o.rc, 0, "%s", o.err.message);
	for (int i = 0; i < 4; i++) { /* a few: pthread_t is often reused */
		o.rc = -1;
		cr_assert_eq(pthread_create(&b, NULL, commit_it, &o), 0);
		cr_assert_eq(pthread_join(b, NULL), 0);
		cr_assert_eq(o.rc, TL_EINVALID, "thread %d: %d", i, o.rc);
		cr_assert_str_eq(o.err.field, "txn");
	}
	cr_assert_eq(nevents(), before);
	ws_reopen(); /* tl_db_close ends it */
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("After the close");
	tl_err err = { 0 };
	cr_assert_eq(tl_exec(db, &ctx, &one, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(nevents(), before + 1);
}

Test(txn, an_error_after_a_batch_error_has_no_stale_index)
{
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd two[2] = { add_cmd("fine"), add_cmd("bad") };
	two[1].type = tl_s("fax");
	tl_result res[2];
	tl_err err = { 0 };
	cr_assert_eq(tl_exec(db, &ctx, two, 2, res, &err), TL_EINVALID);
	cr_assert_eq(err.index, 1);
	uint8_t *got;
	size_t len;
	cr_assert_eq(tl_task_get(db, &ctx, tl_s("not-a-uuid"), &got, &len,
				 &err),
		     TL_EINVALID);
	cr_assert_eq(err.index, -1);
}

Test(txn, failed_request_leaves_the_others_intact)
{
	uint64_t before = nevents();
	tl_txn *t;
	tl_err err = { 0 };
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_ctx ctx = at(T0 + SEC);

	tl_cmd one = add_cmd("First request");
	tl_result r1;
	cr_assert_eq(tl_txn_exec(t, &ctx, &one, 1, &r1, &err), 0, "%s",
		     err.message);
	cr_assert_eq(r1.seq, before + 1);

	/* Its first command appends before the second fails. */
	tl_cmd two[2] = { add_cmd("Doomed"), add_cmd("") };
	tl_result r2[2];
	memset(&err, 0, sizeof err);
	cr_assert_eq(tl_txn_exec(t, &ctx, two, 2, r2, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "title");
	cr_assert_eq(err.index, 1);
	cr_assert_null(r2[0].doc);

	tl_cmd three = add_cmd("Third request");
	tl_result r3;
	cr_assert_eq(tl_txn_exec(t, &ctx, &three, 1, &r3, &err), 0);
	cr_assert_eq(r3.seq, before + 2, "seq %llu: the failed request left a gap",
		     (unsigned long long)r3.seq);
	uint64_t first, end;
	tl_txn_seqs(t, &first, &end);
	cr_assert_eq(first, before + 1);
	cr_assert_eq(end, before + 3, "the failed request's event is in the range");
	cr_assert_eq(tl_txn_commit(t, &err), 0, "%s", err.message);

	cr_assert_eq(nevents(), before + 2);
	recs r;
	read_log(&r, before + 1, NULL);
	cr_assert_eq(r.n, 2);
	cr_assert_eq(r.v[0].seq, before + 1);
	cr_assert_eq(r.v[1].seq, before + 2);
	for (size_t i = 0; i < r.n; i++) {
		doc d;
		doc_parse(&d, r.v[i].data, r.v[i].data_len);
		EXPECT_STR(d.o, "title", i ? "Third request" : "First request");
		doc_free(&d);
	}
	recs_free(&r);
	EXPECT_CLEAN();
	tl_result_release(&r1);
	tl_result_release(&r3);
}

Test(txn, abort_discards_every_request)
{
	uint64_t before = nevents();
	tl_txn *t;
	tl_err err = { 0 };
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd one = add_cmd("Never");
	tl_result r1;
	cr_assert_eq(tl_txn_exec(t, &ctx, &one, 1, &r1, &err), 0);
	tl_result_release(&r1);
	tl_txn_abort(t);
	cr_assert_eq(nevents(), before);
	EXPECT_CLEAN();
}

Test(txn, requests_see_each_other_and_keys_repeat_across_them)
{
	tl_txn *t;
	tl_err err = { 0 };
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd a = keyed_add("Keyed", "gk");
	tl_result r1, r2;
	cr_assert_eq(tl_txn_exec(t, &ctx, &a, 1, &r1, &err), 0);
	cr_assert_eq(tl_txn_exec(t, &ctx, &a, 1, &r2, &err), 0);
	cr_assert(r1.appended && !r2.appended);
	cr_assert_eq(r1.seq, r2.seq);
	/* another request under the key: refused, the others kept */
	tl_cmd other = keyed_add("Other", "gk");
	tl_result r3;
	cr_assert_eq(tl_txn_exec(t, &ctx, &other, 1, &r3, &err),
		     TL_ECONFLICT);
	cr_assert_str_eq(err.field, "idempotency_key");
	cr_assert_eq(tl_txn_commit(t, &err), 0);
	tl_result_release(&r1);
	tl_result_release(&r2);
	EXPECT_CLEAN();
	tl_stats st;
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.tasks, 1);
}

/* The actor is looked up after the first command's arguments; a batch of
 * no command still checks it. */
Test(txn, an_empty_batch_still_checks_the_actor)
{
	tl_err err = { 0 };
	tl_ctx who = as_at("mallory", T0 + SEC);
	tl_result res[1];
	cr_assert_eq(tl_exec(db, &who, NULL, 0, res, &err), TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	tl_txn *t;
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	cr_assert_eq(tl_txn_exec(t, &who, NULL, 0, res, &err), TL_EFORBIDDEN);
	tl_txn_abort(t);
	tl_ctx ok = at(T0 + SEC);
	cr_assert_eq(tl_exec(db, &ok, NULL, 0, res, &err), 0);
}

Test(txn, error_before_any_command_has_index_minus_one)
{
	/* A tl_err reused across requests: the failing request is not a
	 * command of a batch, so err.index must say -1, as tl_exec does. */
	tl_txn *t;
	tl_err err = { 0 };
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd bad[3] = { add_cmd("a"), add_cmd("b"), add_cmd("") };
	tl_result res[3];
	cr_assert_eq(tl_txn_exec(t, &ctx, bad, 3, res, &err), TL_EINVALID);
	cr_assert_eq(err.index, 2);
	tl_ctx who = as_at("mallory", T0 + SEC);
	tl_cmd one = add_cmd("x");
	cr_assert_eq(tl_txn_exec(t, &who, &one, 1, res, &err), TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	tl_txn_abort(t);
	cr_assert_eq(err.index, -1,
		     "tl_txn_exec kept err.index %d from the previous request",
		     err.index);
}

/* ======================================================================= */
/* members                                                                 */
/* ======================================================================= */

TestSuite(members, .init = ws_setup, .fini = ws_teardown);

typedef struct docs {
	uint8_t *p[32];
	size_t n[32];
	size_t len;
} docs;

static int collect_doc(void *arg, const uint8_t *p, size_t n)
{
	docs *d = arg;
	cr_assert_lt(d->len, 32);
	d->p[d->len] = malloc(n);
	memcpy(d->p[d->len], p, n);
	d->n[d->len++] = n;
	return 0;
}

static void docs_free(docs *d)
{
	for (size_t i = 0; i < d->len; i++)
		free(d->p[i]);
	d->len = 0;
}

/* The member document with this id from a member list, parsed into out. */
static bool find_member(docs *list, const char *id, doc *out)
{
	for (size_t i = 0; i < list->len; i++) {
		doc d;
		doc_parse(&d, list->p[i], list->n[i]);
		if (obj_is(fld_opt(d.o, "id"), id)) {
			*out = d;
			out->o = &out->u.data;
			return true;
		}
		doc_free(&d);
	}
	return false;
}

static void member_doc(const char *id, doc *d)
{
	uint8_t *p = NULL;
	size_t n = 0;
	tl_err err = { 0 };
	cr_assert_eq(tl_member_get(db, NULL, tl_s(id), &p, &n, &err), 0,
		     "%s", err.message);
	doc_take(d, p, n);
}

static int stop_doc(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 7;
}

/* A page of members (0.3.42): limit 0 is 50; a cursor naming no member
 * goes on from where its id would sort; the last page gives no cursor;
 * a failing callback gives none either. */
Test(members, a_page_goes_on_where_the_cursor_s_id_sorts)
{
	docs list = { 0 };
	tl_err err = { 0 };
	char next[TL_MEMBER_CURSOR_MAX];

	add_member("bob", "member", 0);
	add_member("dan", "member", 0);
	cr_assert_eq(tl_member_page(db, NULL, 0, tl_s(""), collect_doc, &list,
				    next, &err),
		     0, "%s", err.message);
	cr_assert_eq(list.len, 4); /* system user, admin, bob, dan */
	cr_assert_str_eq(next, "");
	docs_free(&list);

	cr_assert_eq(tl_member_page(db, NULL, 1, tl_s("mb"), collect_doc,
				    &list, next, &err),
		     0, "%s", err.message);
	doc d;
	cr_assert_eq(list.len, 1);
	cr_assert(find_member(&list, "bob", &d));
	doc_free(&d);
	cr_assert_str_eq(next, "mbob");
	docs_free(&list);

	cr_assert_eq(tl_member_page(db, NULL, 2, tl_s(next), collect_doc,
				    &list, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(list.len, 1);
	cr_assert(find_member(&list, "dan", &d));
	doc_free(&d);
	cr_assert_str_eq(next, "");
	docs_free(&list);

	cr_assert_eq(tl_member_page(db, NULL, 1, tl_s(""), stop_doc, NULL,
				    next, &err),
		     7);
	cr_assert_str_eq(next, "");
	strcpy(next, "mjunk");
	cr_assert_eq(tl_member_page(db, NULL, TL_MEMBER_PAGE_MAX + 1, tl_s(""),
				    collect_doc, &list, next, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "limit");
	cr_assert_str_eq(next, ""); /* as after every failure */
	cr_assert_eq(tl_member_page(db, NULL, 1, tl_s("mbob!"), collect_doc,
				    &list, next, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "cursor");
	cr_assert_eq(list.len, 0);
}

Test(members, list_includes_the_system_user_and_the_first_admin)
{
	docs list = { 0 };
	tl_err err = { 0 };
	cr_assert_eq(tl_member_list(db, NULL, collect_doc, &list, &err), 0);
	cr_assert_eq(list.len, 2);
	doc d;
	cr_assert(find_member(&list, TL_SYSTEM_USER, &d));
	EXPECT_MAP_SIZE(d.o, NULL, 5);
	EXPECT_STR(d.o, "name", TL_SYSTEM_USER_NAME);
	EXPECT_STR(d.o, "kind", "system");
	EXPECT_STR(d.o, "role", "admin");
	EXPECT_BOOL(d.o, "crm_access", true);
	doc_free(&d);
	cr_assert(find_member(&list, "admin", &d));
	EXPECT_STR(d.o, "kind", "user");
	EXPECT_STR(d.o, "role", "admin");
	EXPECT_BOOL(d.o, "crm_access", true);
	doc_free(&d);
	docs_free(&list);

	add_member("bob", "member", 0);
	cr_assert_eq(tl_member_list(db, NULL, collect_doc, &list, &err), 0);
	cr_assert_eq(list.len, 3);
	cr_assert(find_member(&list, "bob", &d));
	EXPECT_STR(d.o, "role", "member");
	EXPECT_STR(d.o, "kind", "user");
	doc_free(&d);
	docs_free(&list);
}

Test(members, add_then_update_each_field)
{
	tl_cmd a = { .kind = TL_MEMBER_ADD, .id = tl_s("gina"),
		     .name = tl_s("Gina") };
	tl_result res;
	doc d;
	RUN1(at(T0 + SEC), &res, &d, a);
	EXPECT_STR(d.o, "id", "gina");
	EXPECT_STR(d.o, "name", "Gina");
	EXPECT_STR(d.o, "role", "member"); /* the default */
	EXPECT_BOOL(d.o, "crm_access", true); /* the default */
	EXPECT_STR(d.o, "kind", "user");
	doc_free(&d);
	tl_result_release(&res);

	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("gina"),
		     .name = tl_s("Gina G.") };
	RUN1(at(T0 + 2 * SEC), &res, &d, u);
	cr_assert(res.appended);
	EXPECT_STR(d.o, "name", "Gina G.");
	EXPECT_STR(d.o, "role", "member");
	doc_free(&d);
	tl_result_release(&res);

	u = (tl_cmd){ .kind = TL_MEMBER_UPDATE, .id = tl_s("gina"),
		      .role = tl_s("admin") };
	RUN1(at(T0 + 3 * SEC), &res, &d, u);
	EXPECT_STR(d.o, "role", "admin");
	doc_free(&d);
	tl_result_release(&res);

	u = (tl_cmd){ .kind = TL_MEMBER_UPDATE, .id = tl_s("gina"),
		      .crm_access = -1 };
	RUN1(at(T0 + 4 * SEC), &res, &d, u);
	EXPECT_BOOL(d.o, "crm_access", false);
	doc_free(&d);
	tl_result_release(&res);

	member_doc("gina", &d);
	EXPECT_STR(d.o, "name", "Gina G.");
	EXPECT_STR(d.o, "role", "admin");
	EXPECT_BOOL(d.o, "crm_access", false);
	doc_free(&d);

	recs r;
	read_log(&r, 1, "member:gina");
	cr_assert_eq(r.n, 4);
	for (size_t i = 0; i < r.n; i++) {
		cr_assert_eq(r.v[i].version, i + 1);
		cr_assert_str_eq(r.v[i].type, i ? "member.updated"
						 : "member.added");
	}
	recs_free(&r);

	/* She can no longer act. */
	REJECT_AS("gina", TL_EFORBIDDEN, "as", add_cmd("x"));
}

Test(members, update_to_the_same_values_appends_nothing)
{
	add_member("hal", "member", 0);
	uint64_t before = nevents();
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("hal"),
		     .name = tl_s("hal"), .role = tl_s("member"),
		     .crm_access = 1 };
	tl_result res;
	doc d;
	RUN1(at(T0 + 2 * SEC), &res, &d, u);
	cr_assert(!res.appended);
	cr_assert_eq(res.seq, 0);
	cr_assert_eq(nevents(), before);
	EXPECT_STR(d.o, "name", "hal");
	doc_free(&d);
	tl_result_release(&res);
}

Test(members, last_admin_cannot_lose_the_admin_role)
{
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin"),
		     .role = tl_s("member") };
	REJECT(TL_EINVALID, "role", u);
	tl_cmd c = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin"),
		     .crm_access = -1 };
	REJECT(TL_EINVALID, "crm_access", c);

	/* An admin without CRM access does not count. */
	add_member("ghost-admin", "admin", -1);
	REJECT(TL_EINVALID, "role", u);

	/* With a second admin the first may step down. */
	add_member("ivy", "admin", 0);
	tl_result res;
	doc d;
	RUN1(at(T0 + 5 * SEC), &res, &d, u);
	EXPECT_STR(d.o, "role", "member");
	doc_free(&d);
	tl_result_release(&res);
	/* ... and now ivy is the last one. */
	tl_cmd v = { .kind = TL_MEMBER_UPDATE, .id = tl_s("ivy"),
		     .role = tl_s("member") };
	tl_ctx ctx = as_at("ivy", T0 + 6 * SEC);
	reject_at(__LINE__, &ctx, &v, 1, TL_EINVALID, "role", 0);
}

/* A batch that takes its actor's CRM access or admin role away runs its
 * later commands as the member it made (a review found them run as the
 * actor was at the batch's start, so logs held a task added by a member
 * without access, and members added by one no longer an admin). */
Test(members, a_batch_sees_the_actor_it_changed)
{
	add_member("ivy", "admin", 0);
	uint64_t events = nevents();
	tl_ctx ctx = as_at("ivy", T0 + 5 * SEC);
	tl_result res[2];
	tl_err err;
	tl_cmd c[2] = { { .kind = TL_MEMBER_UPDATE, .id = tl_s("ivy"),
			  .crm_access = -1 },
			add_cmd("After") };
	cr_assert_eq(tl_exec(db, &ctx, c, 2, res, &err), TL_EFORBIDDEN, "%s",
		     err.message);
	cr_assert_eq(err.index, 1, "the command after, not the batch's actor");
	cr_assert_eq(nevents(), events);
	tl_cmd d[2] = { { .kind = TL_MEMBER_UPDATE, .id = tl_s("ivy"),
			  .role = tl_s("member") },
			{ .kind = TL_MEMBER_ADD, .id = tl_s("eve"),
			  .name = tl_s("Eve"), .role = tl_s("member") } };
	cr_assert_eq(tl_exec(db, &ctx, d, 2, res, &err), TL_EFORBIDDEN, "%s",
		     err.message);
	cr_assert_eq(err.index, 1);
	cr_assert_eq(nevents(), events);
	/* each alone, in order: the same answers */
	RUN1(ctx, &res[0], NULL, d[0]);
	tl_result_release(&res[0]);
	reject_at(__LINE__, &ctx, &d[1], 1, TL_EFORBIDDEN, "as", 0);
}

Test(members, duplicates_and_the_system_user_are_conflicts)
{
	add_member("jo", "member", 0);
	tl_cmd a = { .kind = TL_MEMBER_ADD, .id = tl_s("jo"),
		     .name = tl_s("Jo again") };
	REJECT(TL_ECONFLICT, "id", a);
	a.id = tl_s("admin");
	REJECT(TL_ECONFLICT, "id", a);
	a.id = tl_s(TL_SYSTEM_USER);
	REJECT(TL_ECONFLICT, "id", a);
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s(TL_SYSTEM_USER),
		     .name = tl_s("Someone else") };
	REJECT(TL_EFORBIDDEN, "id", u);
}

/* `task list --assignee me|unassigned` and `upcoming --member me` take
 * these words for the acting member and for no assignee: a member so
 * named could never be selected. */
Test(members, the_filter_words_me_and_unassigned_are_not_member_ids)
{
	tl_cmd a = { .kind = TL_MEMBER_ADD, .id = tl_s("me"),
		     .name = tl_s("Me") };
	REJECT(TL_EINVALID, "id", a);
	a.id = tl_s("unassigned");
	REJECT(TL_EINVALID, "id", a);
	a.id = tl_s("-"); /* what tables show for no assignee */
	REJECT(TL_EINVALID, "id", a);
	add_member("meg", "member", 0);     /* only the whole words */
	add_member("-x", "member", 0);
	add_member("unassigned2", "member", 0);
}

Test(members, updating_an_unknown_member_is_not_found)
{
	tl_cmd u = { .kind = TL_MEMBER_UPDATE, .id = tl_s("nobody"),
		     .name = tl_s("N") };
	REJECT(TL_ENOTFOUND, "id", u);
	uint8_t *p = NULL;
	size_t n;
	tl_err err = { 0 };
	cr_assert_eq(tl_member_get(db, NULL, tl_s("nobody"), &p, &n, &err),
		     TL_ENOTFOUND);
}

Test(members, system_user_may_add_members)
{
	tl_cmd a = { .kind = TL_MEMBER_ADD, .id = tl_s("kim"),
		     .name = tl_s("Kim") };
	tl_result res;
	RUN1(as_at(TL_SYSTEM_USER, T0 + SEC), &res, NULL, a);
	recs r;
	rec *e = read_event(&r, res.seq);
	cr_assert_str_eq(e->actor_id, TL_SYSTEM_USER);
	cr_assert_str_eq(e->actor_kind, "system");
	recs_free(&r);
	tl_result_release(&res);
}

/* ======================================================================= */
/* db: opening and initialising.                                           */
/* ======================================================================= */

TestSuite(db, .init = ws_setup, .fini = ws_teardown);

Test(db, init_twice_is_a_conflict)
{
	tl_err err = { 0 };
	cr_assert(tl_db_initialized(db));
	cr_assert_eq(tl_db_init(db, NULL, &err), TL_ECONFLICT);
	cr_assert_eq(nevents(), 2);
}

Test(db, settings_are_those_given_to_init)
{
	tl_settings s;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_settings(db, &s, &err), 0);
	cr_assert_str_eq(s.tz, "UTC");
	cr_assert_eq(s.week_start, 1);
	cr_assert_str_eq(s.admin, "admin");
}

Test(db, init_with_options_records_them)
{
	ws_teardown();
	snprintf(ws_dir, sizeof ws_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(ws_dir));
	ws_map = 0;
	db_open_or_die();
	cr_assert(!tl_db_initialized(db));
	tl_err err = { 0 };
	tl_init_opts bad = { .tz = "Nowhere/Land" };
	cr_assert_eq(tl_db_init(db, &bad, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
	/* The filters' words: a first admin so named could not be listed. */
	tl_init_opts me = { .admin = "me" }, un = { .admin = "unassigned" };
	cr_assert_eq(tl_db_init(db, &me, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "admin");
	cr_assert_eq(tl_db_init(db, &un, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "admin");
	/* a clock out of range, found by tl_init_check before anything is
	 * made (since 0.3.51) */
	tl_init_opts early = { .now_ms = -5 },
		     late = { .now_ms = (int64_t)253402300800000 }; /* 10000 */
	cr_assert_eq(tl_init_check(&early, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "now");
	cr_assert_eq(tl_init_check(&late, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "now");
	cr_assert_eq(tl_db_init(db, &late, &err), TL_EINVALID);
	cr_assert(!tl_db_initialized(db));
	tl_init_opts o = { .tz = "Europe/Berlin", .week_start = "sunday",
			   .admin = "boss", .now_ms = T0 + DAY };
	cr_assert_eq(tl_db_init(db, &o, &err), 0, "%s", err.message);
	tl_settings s;
	cr_assert_eq(tl_db_settings(db, &s, &err), 0);
	cr_assert_str_eq(s.tz, "Europe/Berlin");
	cr_assert_eq(s.week_start, 0);
	cr_assert_str_eq(s.admin, "boss");
	recs r;
	rec *e = read_event(&r, 2);
	CHECK_ENVELOPE(e, 2, "member.added", "member:boss", 1, T0 + DAY,
		       TL_SYSTEM_USER, "system");
	recs_free(&r);
	/* A date due is midnight in the workspace zone (UTC+1 in March). */
	tl_cmd c = add_cmd("Berlin");
	c.due = tl_s("2026-03-01");
	tl_result res;
	doc d;
	RUN1(at(T0 + DAY), &res, &d, c);
	EXPECT_TIME(d.o, "due_at", DUE1 - 11 * 3600 * SEC);
	EXPECT_STR(FLD(d.o, "created_by"), "id", "boss");
	doc_free(&d);
	tl_result_release(&res);
}

/* A count given with a NULL array is TL_EINVALID, as views_len without
 * views is (since 0.3.51: a command's tags or ids, a rebuild's names
 * crashed), and nothing is appended. */
Test(db, a_count_without_its_array_is_invalid)
{
	tl_err err = { 0 };
	tl_ctx ctx = at(T0 + SEC);
	tl_cmd c = add_cmd("tags");
	c.tags_len = 2;
	tl_result res;
	cr_assert_eq(tl_exec(db, &ctx, &c, 1, &res, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tag");
	tl_cmd rd = { .kind = TL_NOTIFICATIONS_READ, .ids_len = 1 };
	cr_assert_eq(tl_exec(db, &ctx, &rd, 1, &res, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "ids");
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 1, NULL, NULL, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "projection");
	cr_assert_eq(tl_exec(db, &ctx, NULL, 1, &res, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "cmds");
	cr_assert_eq(tl_log_import(db, NULL, NULL, 1, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "records");
	cr_assert_eq(nevents(), 2);
}

Test(db, read_only_workspace_refuses_writes)
{
	char id[37];
	add_task(T0 + SEC, "Existing", id);
	db_close();
	tl_err err = { 0 };
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(ws_dir, &o, &db, &err), 0, "%s", err.message);
	tl_cmd c = add_cmd("Refused");
	tl_result res;
	cr_assert_eq(tl_exec(db, NULL, &c, 1, &res, &err), TL_EINVALID);
	cr_assert_eq(nevents(), 3);
	doc d;
	get_task(id, &d, NULL, NULL);
	EXPECT_STR(d.o, "title", "Existing");
	doc_free(&d);
	EXPECT_CLEAN();
}

Test(db, missing_workspace_is_not_found_without_create)
{
	tl_db *other = NULL;
	tl_err err = { 0 };
	char path[96];
	snprintf(path, sizeof path, "%s/absent", ws_dir);
	cr_assert_eq(tl_db_open(path, NULL, &other, &err), TL_ENOTFOUND);
	cr_assert_null(other);
}

/* Arguments before anything is looked up or made; a read-only handle
 * (an auditor's) copies too. */
Test(db, backup_checks_its_arguments_then_copies_from_a_read_only_handle)
{
	char id[37], to[96], longer[5000];
	struct stat st;
	tl_backup_info b;
	tl_err err = { 0 };
	tl_ctx ctx = at(T0 + SEC);
	tl_txn *t;
	add_task(T0 + SEC, "Copied", id);
	snprintf(to, sizeof to, "%s/copy", ws_dir);
	memset(longer, 'a', sizeof longer - 1);
	longer[sizeof longer - 1] = 0;

	cr_assert_eq(tl_db_backup(db, &ctx, to, 1u << 5, &b, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "flags");
	cr_assert_eq(tl_db_backup(db, &ctx, NULL, 0, &b, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "dir");
	cr_assert_eq(tl_db_backup(db, &ctx, "", 0, &b, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "dir");
	cr_assert_eq(tl_db_backup(db, &ctx, longer, 0, &b, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "dir");
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	cr_assert_eq(tl_db_backup(db, &ctx, to, 0, &b, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "txn");
	tl_txn_abort(t);
	tl_ctx nobody = as_at("nobody", T0 + SEC);
	cr_assert_eq(tl_db_backup(db, &nobody, to, 0, &b, &err),
		     TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	cr_assert_eq(stat(to, &st), -1, "a refused backup made its directory");

	db_close();
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(ws_dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_backup(db, &ctx, to, TL_BACKUP_COMPACT, &b, &err),
		     0, "%s", err.message);
	cr_assert_eq(b.events, nevents());
	cr_assert_eq(b.last_seq, nevents());
	cr_assert_eq(stat(to, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));

	tl_db *copy;
	cr_assert_eq(tl_db_open(to, &o, &copy, &err), 0, "%s", err.message);
	uint8_t *d;
	size_t len;
	cr_assert_eq(tl_task_get(copy, &ctx, tl_s(id), &d, &len, &err), 0,
		     "%s", err.message);
	free(d);
	tl_db_close(copy);
}

/* tl_db_backup_progress's calls. */
typedef struct backup_told {
	size_t calls;
	uint64_t first_total, last_done, last_total;
	size_t at_total; /* calls with done == total: the last alone */
	size_t reserves, refused;
	bool back;
} backup_told;


static void see_backup(void *arg, uint64_t done, uint64_t total)
{
	backup_told *b = arg;
	/* while LMDB copies (the calls between the first and the last), a
	 * growth of the map would remap under the copy: refused */
	if (done && done < total) {
		tl_err e;
		b->reserves++;
		b->refused += tl_db_reserve(db, (uint64_t)8 << 30, &e) ==
				      TL_EINVALID &&
			      !strcmp(e.field, "db");
	}
	if (!b->calls++)
		b->first_total = total;
	else
		b->back |= done < b->last_done; /* the last may repeat it */
	b->at_total += done >= total;
	b->last_done = done;
	b->last_total = total;
}

/* A backup tells its copy's size: from 0 of the size expected (a plain
 * copy: the pages in use, exactly), growing, and last the copy's size
 * as done and total; a compact copy the same, its total an estimate. */
Test(db, backup_tells_the_bytes_it_has_copied)
{
	tl_err err = { 0 };
	tl_ctx ctx = at(T0 + SEC);
	char to[96];
	enum { N = 20000 }; /* a copy of some tens of MiB */
	tl_cmd *cmds = calloc(N, sizeof *cmds);
	cr_assert(cmds);
	for (int i = 0; i < N; i++)
		cmds[i] = add_cmd("Copied with a bar, a title long enough");
	cr_assert_eq(tl_exec(db, &ctx, cmds, N, NULL, &err), 0, "%s",
		     err.message);
	free(cmds);
	long was = tl_backup_tick_ms;
	tl_backup_tick_ms = 1;
	int seen_between = 0;
	for (int compact = 0; compact < 2; compact++) {
		backup_told told = { 0 };
		tl_backup_info b;
		snprintf(to, sizeof to, "%s/copy%d", ws_dir, compact);
		uint64_t used = tl_map_used(db);
		cr_assert_eq(tl_db_backup_progress(db, &ctx, to,
						   compact ? TL_BACKUP_COMPACT
							   : 0,
						   see_backup, &told, &b, &err),
			     0, "%s", err.message);
		cr_assert_geq(told.calls, 2);
		cr_assert_not(told.back, "done only grows");
		cr_assert_eq(told.at_total, 1, "all of it told once, last");
		cr_assert_eq(told.refused, told.reserves);
		seen_between += told.calls > 2;
		cr_assert_eq(told.last_done, b.bytes);
		cr_assert_eq(told.last_total, b.bytes);
		if (!compact)
			cr_assert_eq(told.first_total, used,
				     "a plain copy: the pages in use");
		else
			cr_assert(told.first_total > 0 &&
					  told.first_total <= used,
				  "%llu of %llu",
				  (unsigned long long)told.first_total,
				  (unsigned long long)used);
	}
	tl_backup_tick_ms = was;
	cr_log_info("backup progress: calls between the first and the last "
		    "in %d of 2 copies", seen_between);
	/* the guard itself, whatever the copy's speed showed of it */
	atomic_store(&db->copying, true);
	cr_assert_eq(tl_db_reserve(db, (uint64_t)8 << 30, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "db");
	atomic_store(&db->copying, false);
	cr_assert_eq(tl_db_reserve(db, 1 << 20, &err), 0, "%s", err.message);
	/* a refused one tells nothing */
	backup_told none = { 0 };
	tl_backup_info b;
	cr_assert_eq(tl_db_backup_progress(db, &ctx, to, 0, see_backup, &none,
					   &b, &err),
		     TL_EINVALID);
	cr_assert_eq(none.calls, 0);
}

/* ---- members' tokens ----------------------------------------------------- */

static void token_ok(const char *actor, const char *member, bool revoke,
		     char out[TL_TOKEN_LEN + 1], bool *had)
{
	tl_ctx ctx = as_at(actor, T0 + DAY);
	tl_err err = { 0 };
	int rc = tl_member_token(db, actor ? &ctx : NULL, tl_s(member), revoke,
				 out, had, &err);
	cr_assert_eq(rc, 0, "tl_member_token(%s): %d %s: %s", member, rc,
		     err.field, err.message);
}

#define token_of(token) tu_token_of(db, token)

Test(token, a_token_names_its_member_until_a_new_one_replaces_it,
     .init = ws_setup, .fini = ws_teardown)
{
	char t1[TL_TOKEN_LEN + 1], t2[TL_TOKEN_LEN + 1], t3[TL_TOKEN_LEN + 1];
	bool had = true;
	add_member("bob", "member", 1);
	add_member("carol", "member", 0); /* may hold one: SPEC's auth */
	uint64_t before = nevents();
	/* no token was ever made: none is one */
	cr_assert_str_eq(token_of("tl_0000000000000000000000000000000000000000000000000000000000000000"), "");
	token_ok(NULL, "bob", false, t1, &had);
	cr_assert(!had);
	cr_assert_eq(strlen(t1), TL_TOKEN_LEN);
	cr_assert(!strncmp(t1, "tl_", 3), "%s", t1);
	for (size_t i = 3; i < TL_TOKEN_LEN; i++)
		cr_assert(isxdigit((unsigned char)t1[i]) &&
				  !isupper((unsigned char)t1[i]),
			  "%s", t1);
	token_ok(NULL, "carol", false, t3, NULL);
	cr_assert_str_eq(token_of(t1), "bob");
	cr_assert_str_eq(token_of(t3), "carol");
	/* durable, and no event: a token is no fact of the log */
	ws_reopen();
	cr_assert_str_eq(token_of(t1), "bob");
	cr_assert_eq(nevents(), before);
	/* a new token replaces the old */
	token_ok(NULL, "bob", false, t2, &had);
	cr_assert(had);
	cr_assert_str_neq(t1, t2);
	cr_assert_str_eq(token_of(t1), "");
	cr_assert_str_eq(token_of(t2), "bob");
	/* text near a token is none */
	char near[TL_TOKEN_LEN + 2];
	snprintf(near, sizeof near, "%s", t2);
	near[5] = near[5] == 'a' ? 'b' : 'a';
	cr_assert_str_eq(token_of(near), "");
	snprintf(near, sizeof near, "%sa", t2);
	cr_assert_str_eq(token_of(near), "");
	cr_assert_str_eq(token_of(""), "");
	near[0] = 0;
	snprintf(near, sizeof near, "TL_%s", t2 + 3);
	cr_assert_str_eq(token_of(near), "");
	/* revoked: none; revoked again: nothing to revoke */
	token_ok(NULL, "bob", true, NULL, &had);
	cr_assert(had);
	cr_assert_str_eq(token_of(t2), "");
	token_ok(NULL, "bob", true, NULL, &had);
	cr_assert(!had);
	cr_assert_str_eq(token_of(t3), "carol");
	cr_assert_eq(nevents(), before);
	EXPECT_CLEAN();
}

Test(token, only_an_admin_makes_one_for_a_member, .init = ws_setup,
     .fini = ws_teardown)
{
	static const struct {
		const char *actor, *member;
		int rc;
		const char *field;
	} cases[] = {
		{ "bob", "bob", TL_EFORBIDDEN, "as" },    /* not an admin */
		{ "ann", "bob", TL_EFORBIDDEN, "as" },    /* no CRM access */
		{ NULL, "nobody", TL_ENOTFOUND, "id" },
		{ NULL, "parsa-assistant", TL_EINVALID, "id" },
		{ NULL, "Bob", TL_EINVALID, "id" },
		{ NULL, "", TL_EINVALID, "id" },
		/* an argument before the actor is looked up */
		{ "bob", "Bob", TL_EINVALID, "id" },
		{ "nobody", "bob", TL_EFORBIDDEN, "as" },
	};
	add_member("bob", "member", 1);
	add_member("ann", "admin", 1);
	add_member("keep", "admin", 1);
	tl_cmd off = { .kind = TL_MEMBER_UPDATE, .id = tl_s("ann"),
		       .crm_access = -1 };
	tl_result res;
	RUN1(at(T0 + 2 * SEC), &res, NULL, off);
	tl_result_release(&res);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		tl_ctx ctx = as_at(cases[i].actor, T0 + DAY);
		tl_err err = { 0 };
		char t[TL_TOKEN_LEN + 1] = "x";
		int rc = tl_member_token(db, cases[i].actor ? &ctx : NULL,
					 tl_s(cases[i].member), false, t, NULL,
					 &err);
		cr_assert_eq(rc, cases[i].rc, "case %zu: %d %s: %s", i, rc,
			     err.field, err.message);
		cr_assert_str_eq(err.field, cases[i].field, "case %zu: %s", i,
				 err.message);
	}
	EXPECT_CLEAN();
}

Test(token, verify_reports_a_token_record_out_of_its_pair,
     .init = ws_setup, .fini = ws_teardown)
{
	char t[TL_TOKEN_LEN + 1];
	add_member("bob", "member", 1);
	token_ok(NULL, "bob", false, t, NULL);
	EXPECT_CLEAN();
	/* bob's hash record dropped: his member record names nothing */
	uint8_t mk[4] = { 'm', 'b', 'o', 'b' };
	size_t len;
	db_close();
	uint8_t *hash = raw_fetch("tokens", mk, sizeof mk, &len);
	cr_assert_eq(len, 32);
	uint8_t hk[33] = { 'h' };
	memcpy(hk + 1, hash, 32);
	raw_delete("tokens", hk, sizeof hk);
	db_open_or_die();
	tu_problems p;
	cr_assert_eq(verify(&p), 1, "%s", p.first);
	cr_assert(strstr(p.first, "tokens:"), "%s", p.first);
	cr_assert_str_eq(token_of(t), "");
	/* and a hash record of no member */
	db_close();
	raw_store("tokens", hk, sizeof hk, "nobody", 6);
	db_open_or_die();
	cr_assert_eq(verify(&p), 2, "%s", p.first);
	/* a new token for bob drops his record and the one it named */
	token_ok(NULL, "bob", false, t, NULL);
	EXPECT_CLEAN();
	cr_assert_str_eq(token_of(t), "bob");
	free(hash);
}

/* A damaged pair names no one: a token whose member's record names
 * another hash is none, and a revoke or a new token leaves no record of
 * the member behind (a review: "revoked", and the token still named
 * bob). */
Test(token, a_damaged_pair_is_no_token_and_a_revoke_clears_it,
     .init = ws_setup, .fini = ws_teardown)
{
	char t[TL_TOKEN_LEN + 1];
	bool had;
	add_member("bob", "member", 1);
	for (int renew = 0; renew < 2; renew++) {
		token_ok(NULL, "bob", false, t, NULL);
		uint8_t mk[4] = { 'm', 'b', 'o', 'b' };
		size_t len;
		db_close();
		uint8_t *hash = raw_fetch("tokens", mk, sizeof mk, &len);
		cr_assert_eq(len, 32);
		hash[7] ^= 1;
		raw_store("tokens", mk, sizeof mk, hash, len);
		free(hash);
		db_open_or_die();
		cr_assert_str_eq(token_of(t), "");
		tu_problems p;
		/* each record of the pair, not named back */
		cr_assert_eq(verify(&p), 2, "%s", p.first);
		char t2[TL_TOKEN_LEN + 1];
		token_ok(NULL, "bob", renew ? false : true, renew ? t2 : NULL,
			 &had);
		cr_assert(had);
		EXPECT_CLEAN();
		cr_assert_str_eq(token_of(t), "");
		if (renew)
			cr_assert_str_eq(token_of(t2), "bob");
	}
	/* no buffer for a new token: an argument error */
	tl_err err = { 0 };
	cr_assert_eq(tl_member_token(db, NULL, tl_s("bob"), false, NULL, NULL,
				     &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "token");
}

/* A token whose member's record no longer reads lets no one in: a
 * storage error, as every command reading that member says (0.3.27: it
 * named the member, found by its key alone). */
Test(token, a_member_record_that_does_not_read_is_a_storage_error,
     .init = ws_setup, .fini = ws_teardown)
{
	char t[TL_TOKEN_LEN + 1], m[65];
	static const uint8_t junk[] = { 0xc1, 0x00, 0x07 };
	add_member("bob", "member", 1);
	token_ok(NULL, "bob", false, t, NULL);
	db_close();
	raw_store("members", "bob", 3, junk, sizeof junk);
	db_open_or_die();
	tl_err err = { 0 };
	int rc = tl_token_member(db, tl_s(t), m, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s: %s", rc, err.field, err.message);
	cr_assert(strstr(err.message, "corrupt member record 'bob'"), "%s",
		  err.message);
	cr_assert_str_eq(m, "");
}

/* ---- pruning idempotency keys (engine/idem.c) ---------------------------- */

TestSuite(idem_prune, .init = ws_setup, .fini = ws_teardown);

static uint64_t idem_keys(void)
{
	uint64_t n = 0;
	tl_err err = { 0 };
	int rc = tl_idem_keys(db, NULL, &n, &err);
	cr_assert_eq(rc, 0, "tl_idem_keys: %s", err.message);
	return n;
}

static tl_prune_out prune_ok(int64_t before, bool check)
{
	tl_prune_out o;
	tl_err err = { 0 };
	int rc = tl_idem_prune(db, NULL, before, check, &o, &err);
	cr_assert_eq(rc, 0, "tl_idem_prune: %d %s: %s", rc, err.field,
		     err.message);
	return o;
}

/* Whether a retry of keyed_add(title, key) at now appends (runs again). */
static bool keyed_add_appends(int64_t now, const char *title,
			      const char *key)
{
	tl_result r;
	RUN1(at(now), &r, NULL, keyed_add(title, key));
	bool appended = r.appended;
	tl_result_release(&r);
	return appended;
}

/* A request's time is its event's: the keys of requests before the
 * cutoff go, a retry under one runs again; the later ones replay. */
Test(idem_prune, forgets_the_keys_of_requests_before_the_cutoff)
{
	cr_assert(keyed_add_appends(T0 + DAY, "Old", "k-old"));
	cr_assert(keyed_add_appends(T0 + 20 * DAY, "New", "k-new"));
	cr_assert_eq(idem_keys(), 2);
	tl_prune_out o = prune_ok(T0 + 10 * DAY, true); /* a check first */
	cr_assert_eq(o.keys, 2);
	cr_assert_eq(o.pruned, 1);
	cr_assert_eq(o.unknown, 0);
	cr_assert_eq(idem_keys(), 2, "a check removed keys");
	uint64_t events = nevents();
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, 2);
	cr_assert_eq(o.pruned, 1);
	cr_assert_eq(idem_keys(), 1);
	cr_assert_eq(nevents(), events, "a prune appended");
	EXPECT_CLEAN();
	cr_assert(keyed_add_appends(T0 + 30 * DAY, "Old", "k-old"));
	cr_assert(!keyed_add_appends(T0 + 30 * DAY, "New", "k-new"));
	/* The cutoff is exclusive: a request at it stays. */
	o = prune_ok(T0 + 20 * DAY, false);
	cr_assert_eq(o.pruned, 0);
	o = prune_ok(T0 + 20 * DAY + 1, false);
	cr_assert_eq(o.pruned, 1);
	EXPECT_CLEAN();
}

/* A request that changed nothing was made before its target's next
 * event: pruned once that event is before the cutoff, kept (of unknown
 * time) while the target has none. */
Test(idem_prune, a_request_that_changed_nothing_goes_by_its_target_s_next_event)
{
	char id[37];
	tl_result r;
	add_task(T0 + SEC, "A", id);
	tl_cmd same = on(TL_TASK_UPDATE, id);
	same.title = tl_s("A");
	same.idempotency_key = tl_s("noop-1");
	RUN1(at(T0 + DAY), &r, NULL, same);
	cr_assert(!r.appended);
	tl_result_release(&r);
	/* a cutoff before the task's last event then: newer, not unknown */
	tl_prune_out o = prune_ok(T0 + 1, false);
	cr_assert_eq(o.pruned, 0);
	cr_assert_eq(o.unknown, 0);
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, 1);
	cr_assert_eq(o.pruned, 0);
	cr_assert_eq(o.unknown, 1);

	/* the task changes on day 2, then nothing again on day 3 (noop-2),
	 * and changes on day 15 */
	tl_cmd to_b = on(TL_TASK_UPDATE, id);
	to_b.title = tl_s("B");
	RUN1(at(T0 + 2 * DAY), &r, NULL, to_b);
	tl_result_release(&r);
	tl_cmd same_b = on(TL_TASK_UPDATE, id);
	same_b.title = tl_s("B");
	same_b.idempotency_key = tl_s("noop-2");
	RUN1(at(T0 + 3 * DAY), &r, NULL, same_b);
	cr_assert(!r.appended);
	tl_result_release(&r);
	tl_cmd to_c = on(TL_TASK_UPDATE, id);
	to_c.title = tl_s("C");
	RUN1(at(T0 + 15 * DAY), &r, NULL, to_c);
	tl_result_release(&r);

	/* the cutoff is exclusive: at the day-2 change, noop-1 stays */
	o = prune_ok(T0 + 2 * DAY, false);
	cr_assert_eq(o.keys, 2);
	cr_assert_eq(o.pruned, 0);
	o = prune_ok(T0 + 2 * DAY + 1, false);
	cr_assert_eq(o.pruned, 1, "noop-1, before the day-2 change");
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, 1);
	cr_assert_eq(o.pruned, 0);
	cr_assert_eq(o.unknown, 0);
	/* noop-2 stays: its target's next event (day 15) is after the
	 * cutoff; a retry replays the task as the request left it */
	RUN1(at(T0 + 16 * DAY), &r, NULL, same_b);
	cr_assert(!r.appended);
	cr_assert_eq(r.seq, 0);
	tl_result_release(&r);
	/* noop-1 is gone: its retry is a new request, which changes the
	 * title back to A */
	RUN1(at(T0 + 16 * DAY), &r, NULL, same);
	cr_assert(r.appended);
	tl_result_release(&r);
	o = prune_ok(T0 + 16 * DAY, false);
	cr_assert_eq(o.pruned, 1, "noop-2, before the day-15 change");
	cr_assert_eq(idem_keys(), 1, "noop-1 again, of day 16");
	EXPECT_CLEAN();
}

/* Member requests (a stream "member:ID"), and a record of 0.2 (no tag,
 * no fingerprint), go by the event they name. */
Test(idem_prune, member_requests_and_records_of_0_2_are_pruned_by_their_event)
{
	tl_result r;
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("bo"),
		     .name = tl_s("Bo"), .idempotency_key = tl_s("m-1") };
	RUN1(at(T0 + DAY), &r, NULL, m);
	tl_result_release(&r);
	tl_cmd same = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bo"),
			.name = tl_s("Bo"), .idempotency_key = tl_s("m-2") };
	RUN1(at(T0 + 2 * DAY), &r, NULL, same);
	cr_assert(!r.appended);
	tl_result_release(&r);
	cr_assert(keyed_add_appends(T0 + 3 * DAY, "Old", "old-key"));
	MDB_txn *txn;
	MDB_val k = { 7, "old-key" }, v;
	uint8_t old[64];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &k, &v), 0);
	memcpy(old, v.mv_data, 8);
	memcpy(old + 8, (uint8_t *)v.mv_data + 8 + 1 + TL_IDEM_FP_LEN, 17);
	v = (MDB_val){ 8 + 17, old };
	cr_assert_eq(mdb_put(txn, db->idem, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);

	tl_prune_out o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, 3);
	cr_assert_eq(o.pruned, 2, "m-1 and old-key");
	cr_assert_eq(o.unknown, 1, "m-2: bo has not changed since");
	/* the member changes: m-2 was before that */
	tl_cmd ren = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bo"),
		       .name = tl_s("Bob") };
	RUN1(at(T0 + 4 * DAY), &r, NULL, ren);
	tl_result_release(&r);
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.pruned, 1);
	cr_assert_eq(idem_keys(), 0);
	EXPECT_CLEAN();
}

/* Records are read in transactions of 10,000: more than two of them,
 * every other key pruned, at the chunks' edges too; what stays replays. */
Test(idem_prune, keys_past_one_transaction_are_all_judged, .timeout = 120)
{
	enum { N = 25003, BATCH = 1500 };
	static tl_cmd cmds[BATCH];
	static char keys[BATCH][16];
	for (size_t done = 0; done < N; done += BATCH) {
		size_t n = N - done < BATCH ? N - done : BATCH;
		/* a batch has one time: day 1 and day 20 by turns */
		for (size_t i = 0; i < n; i++) {
			snprintf(keys[i], sizeof keys[i], "k%06zu", done + i);
			cmds[i] = keyed_add("T", keys[i]);
		}
		tl_ctx x = at((done / BATCH) % 2 ? T0 + 20 * DAY : T0 + DAY);
		tl_err err = { 0 };
		cr_assert_eq(tl_exec(db, &x, cmds, n, NULL, &err), 0, "%s",
			     err.message);
	}
	cr_assert_eq(idem_keys(), N);
	/* so old and new keys take turns in key order by 1,500: the first
	 * chunk of 10,000 ends on an old key (k009999, deleted: the next
	 * chunk starts where it was), the second on a new one (k019999,
	 * kept: the next starts past it) */
	size_t old = 0;
	for (size_t done = 0; done < N; done += BATCH)
		if ((done / BATCH) % 2 == 0)
			old += N - done < BATCH ? N - done : BATCH;
	tl_prune_out o = prune_ok(T0 + 10 * DAY, true);
	cr_assert_eq(o.keys, N);
	cr_assert_eq(o.pruned, old);
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, N);
	cr_assert_eq(o.pruned, old);
	cr_assert_eq(idem_keys(), N - old);
	o = prune_ok(T0 + 10 * DAY, false);
	cr_assert_eq(o.keys, N - old);
	cr_assert_eq(o.pruned, 0);
	/* the keys at the chunks' edges, and at the ends */
	cr_assert(keyed_add_appends(T0 + 30 * DAY, "T", "k000000"));
	cr_assert(!keyed_add_appends(T0 + 30 * DAY, "T", "k001500"));
	cr_assert(keyed_add_appends(T0 + 30 * DAY, "T", "k009999"));
	cr_assert(keyed_add_appends(T0 + 30 * DAY, "T", "k010000"));
	cr_assert(!keyed_add_appends(T0 + 30 * DAY, "T", "k019999"));
	cr_assert(!keyed_add_appends(T0 + 30 * DAY, "T", "k020000"));
	cr_assert(keyed_add_appends(T0 + 30 * DAY, "T", "k025002"));
}

Test(idem_prune, refusals_change_nothing)
{
	cr_assert(keyed_add_appends(T0 + DAY, "Old", "k-old"));
	add_member("al", "member", 1);
	tl_prune_out o;
	tl_err err = { 0 };
	tl_ctx al = as_at("al", T0 + 9 * DAY);
	int rc = tl_idem_prune(db, &al, T0 + 10 * DAY, false, &o, &err);
	cr_assert_eq(rc, TL_EFORBIDDEN, "%d %s", rc, err.message);
	cr_assert_str_eq(err.field, "as");
	rc = tl_idem_prune(db, NULL, INT64_MIN, false, &o, &err);
	cr_assert_eq(rc, TL_EINVALID);
	cr_assert_str_eq(err.field, "before");
	cr_assert_eq(idem_keys(), 1);

	/* a damaged record is named, and stops the prune */
	MDB_txn *txn;
	MDB_val k = { 3, "bad" }, v = { 5, "12345" };
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->idem, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	rc = tl_idem_prune(db, NULL, T0 + 10 * DAY, false, &o, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(err.message, "key 'bad'"), "%s", err.message);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_del(txn, db->idem, &k, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);

	/* a record naming an event of another stream (another task's) */
	char other[37];
	uint64_t other_seq = add_task(T0 + 2 * DAY, "Other", other);
	MDB_val ok = { 5, "k-old" };
	uint8_t moved[128];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &ok, &v), 0);
	cr_assert(v.mv_size <= sizeof moved);
	memcpy(moved, v.mv_data, v.mv_size);
	tl_put_be64(moved, other_seq);
	MDB_val mk = { 5, "k-mov" }, mv = { v.mv_size, moved };
	cr_assert_eq(mdb_put(txn, db->idem, &mk, &mv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	rc = tl_idem_prune(db, NULL, T0 + 10 * DAY, false, &o, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(err.message, "of another stream"), "%s", err.message);
	cr_assert(strstr(err.message, "key 'k-mov'"), "%s", err.message);
	cr_assert_eq(idem_keys(), 2, "the prune stopped before any delete");
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_del(txn, db->idem, &mk, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);

	/* a read-only handle checks, and removes nothing */
	db_close();
	tl_open_opts ro = { .flags = TL_OPEN_RDONLY };
	tl_err e2 = { 0 };
	cr_assert_eq(tl_db_open(ws_dir, &ro, &db, &e2), 0, "%s", e2.message);
	rc = tl_idem_prune(db, NULL, T0 + 10 * DAY, false, &o, &err);
	cr_assert_eq(rc, TL_EINVALID);
	cr_assert_str_eq(err.field, "db");
	o = prune_ok(T0 + 10 * DAY, true);
	cr_assert_eq(o.keys, 1);
	cr_assert_eq(o.pruned, 1);
	cr_assert_eq(idem_keys(), 1);
}
