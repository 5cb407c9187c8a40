/*
 * unit_upcast.c - event schema evolution: a log written by the old writer
 * in schema 1 (tests/fixtures/log-v1.msgpack, made by gen_log.c) imports,
 * folds and rebuilds to exactly the states and views that the same log in
 * today's shape (log-v2.msgpack) gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "testutil.h"

#include "internal.h"
#include "tasklog_projections.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif


static tl_db *open_ws(char *dir)
{
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	tl_db *db;
	tl_err err;
	o.views = tl_views_all(&o.views_len);
	cr_assert(mkdtemp(dir));
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	return db;
}

static void rm_ws(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static tl_db *import_file(const char *path, char *dir, tu_records *r)
{
	tl_db *db = open_ws(dir);
	tl_err err;
	tu_load_records(path, r);
	cr_assert_gt(r->n, 10);
	int rc = tl_log_import(db, r->rec, r->len, r->n, &err);
	cr_assert_eq(rc, 0, "import %s: %s: %s", path, err.field, err.message);
	return db;
}

static void no_problem(void *arg, const char *p)
{
	(void)arg;
	cr_log_error("verify: %s", p);
}

/* Compare every database of every view of a and b, entry by entry. */
static void same_views(tl_db *a, tl_db *b)
{
	MDB_txn *ta, *tb;
	cr_assert_eq(mdb_txn_begin(a->env, NULL, MDB_RDONLY, &ta), 0);
	cr_assert_eq(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &tb), 0);
	for (size_t i = 0; i < a->views_len; i++) {
		const tl_view *v = a->views[i];
		const MDB_dbi *da = tl_view_dbis(a, v->name);
		const MDB_dbi *db = tl_view_dbis(b, v->name);
		cr_assert(da && db);
		for (size_t j = 0; j < v->dbs_len; j++) {
			MDB_cursor *ca, *cb;
			MDB_val ka, va, kb, vb;
			size_t n = 0;
			cr_assert_eq(mdb_cursor_open(ta, da[j], &ca), 0);
			cr_assert_eq(mdb_cursor_open(tb, db[j], &cb), 0);
			int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
			int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
			while (ra == 0 && rb == 0) {
				cr_assert_eq(ka.mv_size, kb.mv_size);
				cr_assert_eq(memcmp(ka.mv_data, kb.mv_data,
						    ka.mv_size), 0,
					     "view %s.%s differs at entry %zu",
					     v->name, v->dbs[j], n);
				cr_assert_eq(va.mv_size, vb.mv_size);
				cr_assert_eq(memcmp(va.mv_data, vb.mv_data,
						    va.mv_size), 0);
				n++;
				ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
				rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
			}
			cr_assert_eq(ra, MDB_NOTFOUND, "view %s.%s: extra",
				     v->name, v->dbs[j]);
			cr_assert_eq(rb, MDB_NOTFOUND, "view %s.%s: missing",
				     v->name, v->dbs[j]);
			mdb_cursor_close(ca);
			mdb_cursor_close(cb);
		}
	}
	mdb_txn_abort(ta);
	mdb_txn_abort(tb);
}

static const char *const ids[] = {
	"0190a000-0000-7000-8000-000000000001",
	"0190a000-0000-7000-8000-000000000002",
	"0190a000-0000-7000-8000-000000000003",
	"0190a000-0000-7000-8000-000000000004",
};

Test(upcast, v1_log_folds_and_rebuilds_to_the_same_views_as_v2)
{
	char d1[] = "/tmp/tl-upcast1-XXXXXX", d2[] = "/tmp/tl-upcast2-XXXXXX";
	tu_records r1, r2;
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *a = import_file(FIXTURES "/log-v1.msgpack", d1, &r1);
	tl_db *b = import_file(FIXTURES "/log-v2.msgpack", d2, &r2);

	cr_assert_eq(tl_verify(a, &ctx, no_problem, NULL, &err), 0);
	cr_assert_eq(tl_verify(b, &ctx, no_problem, NULL, &err), 0);
	for (size_t i = 0; i < 4; i++) {
		uint8_t *da, *db;
		size_t la, lb;
		cr_assert_eq(tl_task_get(a, &ctx, tl_s(ids[i]), &da, &la, &err),
			     0);
		cr_assert_eq(tl_task_get(b, &ctx, tl_s(ids[i]), &db, &lb, &err),
			     0);
		cr_assert_eq(la, lb);
		cr_assert_eq(memcmp(da, db, la), 0, "task %s differs", ids[i]);
		free(da);
		free(db);
	}
	same_views(a, b);

	/* A rebuild from the v1 log gives the same views again, decoding
	 * inline and in a second thread (upcast data kept with its batch). */
	cr_assert_eq(tl_rebuild(a, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	same_views(a, b);
	tl_rebuild_ahead_min = 1;
	cr_assert_eq(tl_rebuild(a, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_rebuild_ahead_min = 8192;
	same_views(a, b);
	cr_assert_eq(tl_verify(a, &ctx, no_problem, NULL, &err), 0);

	tl_db_close(a);
	tl_db_close(b);
	rm_ws(d1);
	rm_ws(d2);
	free(r1.buf);
	free(r2.buf);
}

struct seen {
	int schema1;
	bool owner, assignee;
};

static int check_event(void *arg, const tl_event *ev)
{
	struct seen *s = arg;
	if (!tl_slice_eq(ev->type, "task.created"))
		return 0;
	msgpack_zone zone;
	msgpack_object d;
	size_t off = 0;
	msgpack_zone_init(&zone, 1024);
	cr_assert_eq(msgpack_unpack((const char *)ev->data, ev->data_len, &off,
				    &zone, &d), MSGPACK_UNPACK_SUCCESS);
	s->schema1 += ev->schema == 1;
	s->owner |= tl_map_get(&d, "owner") != NULL;
	s->assignee |= tl_map_get(&d, "assignee") != NULL;
	msgpack_zone_destroy(&zone);
	return 0;
}

Test(upcast, v1_task_created_reads_in_the_current_shape)
{
	char d1[] = "/tmp/tl-upcast3-XXXXXX";
	tu_records r;
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *a = import_file(FIXTURES "/log-v1.msgpack", d1, &r);
	struct seen s = { 0 };
	cr_assert_eq(tl_log_read(a, &ctx, 1, 0, (tl_slice){ NULL, 0 },
				 check_event, &s, &err), 0);
	cr_assert_eq(s.schema1, 4, "schema stays as written");
	cr_assert(!s.owner, "no v1 field leaks past the upcaster");
	cr_assert(s.assignee);
	tl_db_close(a);
	rm_ws(d1);
	free(r.buf);
}

Test(upcast, import_rejects_a_record_that_does_not_chain)
{
	char d1[] = "/tmp/tl-upcast4-XXXXXX";
	tu_records r;
	tl_err err;
	tl_stats st;
	tl_db *a = open_ws(d1);
	tu_load_records(FIXTURES "/log-v1.msgpack", &r);
	/* Drop record 5: record 6 then neither has the right seq nor chains. */
	const uint8_t *recs[64];
	size_t lens[64], n = 0;
	for (size_t i = 0; i < r.n; i++)
		if (i != 5) {
			recs[n] = r.rec[i];
			lens[n++] = r.len[i];
		}
	cr_assert_eq(tl_log_import(a, recs, lens, n, &err), TL_EINVALID);
	cr_assert_eq(err.index, 5);
	cr_assert_str_eq(err.field, "seq");
	/* All or nothing: not even the good prefix was kept. */
	cr_assert(!tl_db_initialized(a));
	(void)st;
	tl_db_close(a);
	rm_ws(d1);
	free(r.buf);
}

/* The fixture with the first schema-1 task.created's key "owner" (as
 * "\xa5owner") replaced by key (a msgpack fixstr), the chain hashed
 * again from there; its index in *at.  Free the records' buffers with
 * free(out->buf). */
static void v1_with_key(const tu_records *r, const char *key,
			tu_records *out, size_t *at)
{
	static const uint8_t zero[TL_HASH_LEN];
	static const char owner[] = "\xa5owner";
	size_t klen = strlen(key), total = 0;
	*at = r->n;
	for (size_t i = 0; i < r->n; i++)
		total += r->len[i] + klen + 1;
	out->buf = malloc(total);
	cr_assert(out->buf);
	uint8_t *p = out->buf;
	out->n = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const uint8_t *o = NULL;
		for (size_t j = 0; *at == r->n && j + 6 <= r->len[i]; j++)
			if (!memcmp(r->rec[i] + j, owner, 6))
				o = r->rec[i] + j;
		if (o) {
			size_t head = (size_t)(o - r->rec[i]);
			*at = i;
			memcpy(p, r->rec[i], head);
			p[head] = (uint8_t)(0xa0 | klen);
			memcpy(p + head + 1, key, klen);
			memcpy(p + head + 1 + klen, o + 6,
			       r->len[i] - head - 6);
			out->len[i] = r->len[i] - 5 + klen;
		} else {
			memcpy(p, r->rec[i], r->len[i]);
			out->len[i] = r->len[i];
		}
		out->rec[i] = p;
		if (*at <= i) /* the chain from the changed record on */
			tl_event_hash(i ? out->rec[i - 1] + out->len[i - 1] -
						  TL_HASH_LEN
					: zero,
				      p, out->len[i],
				      p + out->len[i] - TL_HASH_LEN);
		p += out->len[i];
	}
	cr_assert_lt(*at, r->n, "the fixture has a schema-1 task.created");
}

/* A schema-1 task.created names its assignee "owner", as its writer did:
 * one that names it "assignee" (which the upcast took as today's shape)
 * or leaves it out is refused naming the key, and nothing is imported
 * (0.3.26). */
Test(upcast, import_refuses_a_v1_task_created_not_in_the_v1_shape)
{
	static const struct {
		const char *key, *field;
	} cases[] = { { "assignee", "assignee" }, { "ownex", "owner" } };
	tu_records r;
	tu_load_records(FIXTURES "/log-v1.msgpack", &r);
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		char d[] = "/tmp/tl-upcast-v1key-XXXXXX";
		tu_records bad;
		size_t at;
		tl_err err;
		v1_with_key(&r, cases[c].key, &bad, &at);
		tl_db *db = open_ws(d);
		cr_assert_eq(tl_log_import(db, bad.rec, bad.len, bad.n, &err),
			     TL_EINVALID, "%s", cases[c].key);
		cr_expect_str_eq(err.field, cases[c].field, "%s",
				 err.message);
		cr_expect_eq(err.index, (int)at);
		cr_expect(strstr(err.message, "schema"), "%s", err.message);
		cr_expect(!tl_db_initialized(db), "nothing imported");
		tl_db_close(db);
		rm_ws(d);
		free(bad.buf);
	}
	free(r.buf);
}

/* The nil UUID is refused as a new task's id, but a log from elsewhere may
 * still carry one: a rebuild must not take that task for an empty slot of
 * its task map (it did, and left the task out of every view). */
Test(upcast, a_task_with_the_nil_uuid_rebuilds)
{
	static const char nil[] = "00000000-0000-0000-0000-000000000000";
	static const uint8_t zero[TL_HASH_LEN];
	char d[] = "/tmp/tl-upcast-nil-XXXXXX";
	tu_records r;
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	size_t hits = 0;

	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	for (size_t i = 0; i < r.n; i++) {
		uint8_t *p = r.buf + (r.rec[i] - r.buf);
		for (size_t j = 0; j + 36 <= r.len[i]; j++)
			if (!memcmp(p + j, ids[0], 36)) {
				memcpy(p + j, nil, 36);
				hits++;
			}
		tl_event_hash(i ? r.rec[i - 1] + r.len[i - 1] - TL_HASH_LEN
				: zero,
			      p, r.len[i], p + r.len[i] - TL_HASH_LEN);
	}
	cr_assert_gt(hits, 1, "the fixture's first task has events");
	tl_db *db = open_ws(d);
	cr_assert_eq(tl_log_import(db, r.rec, r.len, r.n, &err), 0, "%s",
		     err.message);
	uint8_t *doc;
	size_t len;
	cr_assert_eq(tl_task_get(db, &ctx, tl_s(nil), &doc, &len, &err), 0,
		     "%s", err.message);
	free(doc);
	/* verify rebuilds every view and compares with the ones import
	 * kept; then a rebuild proper, and again */
	cr_assert_eq(tl_verify(db, &ctx, no_problem, NULL, &err), 0);
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_verify(db, &ctx, no_problem, NULL, &err), 0);
	tl_db_close(db);
	rm_ws(d);
	free(r.buf);
}
