/*
 * viewtest.h - helpers shared by the unit tests of the views
 * (unit_timeline.c, unit_notifications.c): a temporary workspace opened
 * with every view, commands through tl_exec at known times, query results
 * copied out of their callbacks, and fields read back with msgpack-c.
 *
 * Everything is static inline so that each test file takes what it uses.
 */
#ifndef TL_VIEWTEST_H
#define TL_VIEWTEST_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>

#include "tasklog_projections.h"
#include "tasklog.h"

#define VT_T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00.000Z */
#define VT_MIN INT64_C(60000)
#define VT_HOUR (60 * VT_MIN)
#define VT_DAY (24 * VT_HOUR)

static char vt_dir[64];
static tl_db *vt_db;

static inline void vt_open(void)
{
	tl_err err = { 0 };
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	o.views = tl_views_all(&n);
	o.views_len = n;
	int rc = tl_db_open(vt_dir, &o, &vt_db, &err);
	cr_assert_eq(rc, 0, "tl_db_open: %d %s: %s", rc, err.field,
		     err.message);
}

static inline void vt_close(void)
{
	tl_db_close(vt_db);
	vt_db = NULL;
}

/* Run one command as actor at time now; require success. */
static inline uint64_t vt_exec(const char *actor, int64_t now, tl_cmd *cmd,
			       tl_result *keep)
{
	tl_ctx ctx = { .actor = actor, .now_ms = now };
	tl_result res = { 0 };
	tl_err err = { 0 };
	int rc = tl_exec(vt_db, &ctx, cmd, 1, &res, &err);
	cr_assert_eq(rc, 0, "tl_exec kind %d as %s: %d %s: %s", cmd->kind,
		     actor ? actor : "(admin)", rc, err.field, err.message);
	uint64_t seq = res.seq;
	if (keep)
		*keep = res;
	else
		tl_result_release(&res);
	return seq;
}

/* Run one command expecting failure code; returns err. */
static inline tl_err vt_exec_fail(const char *actor, int64_t now,
				  tl_cmd *cmd, int code)
{
	tl_ctx ctx = { .actor = actor, .now_ms = now };
	tl_result res = { 0 };
	tl_err err = { 0 };
	int rc = tl_exec(vt_db, &ctx, cmd, 1, &res, &err);
	cr_assert_eq(rc, code, "tl_exec kind %d: %d, wanted %d (%s: %s)",
		     cmd->kind, rc, code, err.field, err.message);
	return err;
}

static inline void vt_member(const char *id, const char *role)
{
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id), .name = tl_s(id),
		     .role = tl_s(role), .crm_access = 1 };
	vt_exec(NULL, VT_T0, &c, NULL);
}

/* A workspace at VT_T0 with admin "admin", members alice and bob, and a
 * second admin "root". */
static inline void vt_setup(void)
{
	tl_err err = { 0 };
	snprintf(vt_dir, sizeof vt_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(vt_dir));
	vt_open();
	tl_init_opts io = { .now_ms = VT_T0 };
	int rc = tl_db_init(vt_db, &io, &err);
	cr_assert_eq(rc, 0, "tl_db_init: %s", err.message);
	vt_member("alice", "member");
	vt_member("bob", "member");
	vt_member("root", "admin");
}

static inline int vt_rm(const char *p, const struct stat *s, int f,
			struct FTW *w)
{
	(void)s, (void)f, (void)w;
	return remove(p);
}

static inline void vt_teardown(void)
{
	if (vt_db)
		vt_close();
	nftw(vt_dir, vt_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int64_t vt_time(const char *text)
{
	int64_t ms;
	tl_err err = { 0 };
	int rc = tl_time_parse(tl_s(text), VT_T0, NULL, "t", &ms, &err);
	cr_assert_eq(rc, 0, "time %s: %s", text, err.message);
	return ms;
}

/* ---- documents ------------------------------------------------------- */

/* A copied document. */
typedef struct vt_doc {
	uint8_t *p;
	size_t len;
} vt_doc;

/* Documents handed to a callback, in order. */
typedef struct vt_docs {
	vt_doc d[2048];
	size_t n;
} vt_docs;

static inline int vt_collect(void *arg, const uint8_t *doc, size_t len)
{
	vt_docs *k = arg;
	cr_assert_lt(k->n, 2048);
	k->d[k->n].p = malloc(len ? len : 1);
	memcpy(k->d[k->n].p, doc, len);
	k->d[k->n].len = len;
	k->n++;
	return 0;
}

static inline void vt_docs_free(vt_docs *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->d[i].p);
	k->n = 0;
}

/* Two lists hold the same bytes. */
static inline bool vt_docs_equal(const vt_docs *a, const vt_docs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->d[i].len != b->d[i].len ||
		    memcmp(a->d[i].p, b->d[i].p, a->d[i].len))
			return false;
	return true;
}

/* Look up a path of keys ("actor.id") in a document; the object is valid
 * while zone lives. */
static inline const msgpack_object *vt_get(const vt_doc *d,
					   msgpack_zone *zone,
					   const char *path)
{
	static msgpack_object root;
	size_t off = 0;
	if (msgpack_unpack((const char *)d->p, d->len, &off, zone, &root) !=
	    MSGPACK_UNPACK_SUCCESS)
		return NULL;
	const msgpack_object *o = &root;
	char key[64];
	while (*path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		path += n + (path[n] == '.');
		if (o->type != MSGPACK_OBJECT_MAP)
			return NULL;
		const msgpack_object *next = NULL;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (k->type == MSGPACK_OBJECT_STR &&
			    k->via.str.size == strlen(key) &&
			    !memcmp(k->via.str.ptr, key, strlen(key)))
				next = &o->via.map.ptr[i].val;
		}
		if (!next)
			return NULL;
		o = next;
	}
	return o;
}

/* The text at path in a static buffer ("<nil>" for nil, "<absent>"). */
static inline const char *vt_str(const vt_doc *d, const char *path)
{
	static char buf[4][2048];
	static int which;
	char *b = buf[which++ & 3];
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	const msgpack_object *o = vt_get(d, &zone, path);
	if (!o)
		snprintf(b, 2048, "<absent>");
	else if (o->type == MSGPACK_OBJECT_NIL)
		snprintf(b, 2048, "<nil>");
	else if (o->type == MSGPACK_OBJECT_STR)
		snprintf(b, 2048, "%.*s", (int)o->via.str.size,
			 o->via.str.ptr);
	else if (o->type == MSGPACK_OBJECT_BOOLEAN)
		snprintf(b, 2048, "%s", o->via.boolean ? "true" : "false");
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		snprintf(b, 2048, "%llu", (unsigned long long)o->via.u64);
	else if (o->type == MSGPACK_OBJECT_EXT) {
		msgpack_timestamp ts;
		if (msgpack_object_to_timestamp(o, &ts))
			tl_time_format(ts.tv_sec * 1000 +
					       ts.tv_nsec / 1000000, b);
		else
			snprintf(b, 2048, "<ext>");
	} else
		snprintf(b, 2048, "<type %d>", (int)o->type);
	msgpack_zone_destroy(&zone);
	return b;
}

static inline uint64_t vt_u64(const vt_doc *d, const char *path)
{
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	const msgpack_object *o = vt_get(d, &zone, path);
	uint64_t v = o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			     ? o->via.u64 : UINT64_MAX;
	msgpack_zone_destroy(&zone);
	return v;
}

/* The number of keys of the document's top-level map. */
static inline int vt_keys(const vt_doc *d)
{
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	const msgpack_object *o = vt_get(d, &zone, "");
	int n = o && o->type == MSGPACK_OBJECT_MAP ? (int)o->via.map.size : -1;
	msgpack_zone_destroy(&zone);
	return n;
}

/* ---- commands -------------------------------------------------------- */

/* Create a task; returns its id (static buffer, copy it). */
static inline const char *vt_add(const char *actor, int64_t now,
				 const char *title, const char *link,
				 const char *due, const char *assignee)
{
	static char id[8][37];
	static int which;
	char *out = id[which++ & 7];
	tl_result res;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
		     .link = tl_s(link), .due = tl_s(due),
		     .assignee = tl_s(assignee) };
	vt_exec(actor, now, &c, &res);
	vt_doc d = { res.doc, res.doc_len };
	snprintf(out, 37, "%s", vt_str(&d, "id"));
	tl_result_release(&res);
	return out;
}

static inline uint64_t vt_assign(const char *actor, int64_t now,
				 const char *id, const char *member)
{
	tl_cmd c = { .kind = TL_TASK_ASSIGN, .id = tl_s(id),
		     .assignee = tl_s(member), .unassign = member == NULL };
	return vt_exec(actor, now, &c, NULL);
}

static inline uint64_t vt_simple(const char *actor, int64_t now,
				 tl_cmd_kind kind, const char *id)
{
	tl_cmd c = { .kind = kind, .id = tl_s(id) };
	return vt_exec(actor, now, &c, NULL);
}

static inline uint64_t vt_status(const char *actor, int64_t now,
				 const char *id, const char *status)
{
	tl_cmd c = { .kind = TL_TASK_STATUS, .id = tl_s(id),
		     .status = tl_s(status) };
	return vt_exec(actor, now, &c, NULL);
}

static inline uint64_t vt_tag(const char *actor, int64_t now, tl_cmd_kind k,
			      const char *id, const char *tag)
{
	tl_slice t = tl_s(tag);
	tl_cmd c = { .kind = k, .id = tl_s(id), .tags = &t, .tags_len = 1 };
	return vt_exec(actor, now, &c, NULL);
}

/* The number of events in the log. */
static inline uint64_t vt_events(void)
{
	tl_stats s;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(vt_db, NULL, &s, &err), 0);
	return s.events;
}

static inline void vt_no_problem(void *arg, const char *p)
{
	(void)arg;
	cr_log_error("verify: %s", p);
}

static inline int vt_verify(void)
{
	tl_err err = { 0 };
	int n = tl_verify(vt_db, NULL, vt_no_problem, NULL, &err);
	cr_assert_geq(n, 0, "tl_verify: %d %s", n, err.message);
	return n;
}

static inline void vt_quiet(void *arg, const char *p)
{
	(void)arg, (void)p;
}

/* ---- white box ------------------------------------------------------- */

/* Open the workspace's LMDB environment directly (the workspace closed),
 * a write transaction and the named database `name`. */
static inline void vt_raw_db(const char *name, MDB_env **env,
			     MDB_txn **txn, MDB_dbi *dbi)
{
	cr_assert_eq(mdb_env_create(env), 0);
	mdb_env_set_maxdbs(*env, 128);
	cr_assert_eq(mdb_env_open(*env, vt_dir, 0, 0664), 0);
	cr_assert_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
	cr_assert_eq(mdb_dbi_open(*txn, name, 0, dbi), 0, "no db %s", name);
}

/* vt_raw_db, then the serving database `db` of view `view`. */
static inline void vt_raw_open(const char *view, const char *db,
			       MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
	MDB_dbi meta;
	char key[64], name[128];
	vt_raw_db("meta", env, txn, &meta);
	snprintf(key, sizeof key, "view:%s", view);
	MDB_val k = { strlen(key), key }, v;
	cr_assert_eq(mdb_get(*txn, meta, &k, &v), 0, "no meta %s", key);
	cr_assert_eq(v.mv_size, 8);
	const uint8_t *p = v.mv_data;
	uint32_t gen = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
		       (uint32_t)p[6] << 8 | p[7];
	snprintf(name, sizeof name, "v.%s.%u.%s", view, gen, db);
	cr_assert_eq(mdb_dbi_open(*txn, name, 0, dbi), 0, "no db %s", name);
}

#endif
