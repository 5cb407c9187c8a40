/*
 * unit_scan_audit.c - tests a mutation audit of projections/query.c's
 * scan (0.3.40: walk_open, walk_run, walk_close, other_dim, plan_other
 * and the two walks that take turns) found missing: each fails on a
 * one-line change of that code that every other test let pass; the
 * comment of each says which.
 *
 * The fixture is unit_list.c's, cut to what these tests use: a fresh
 * workspace with every view, members alice, bob and root, tasks named by
 * their titles, a page compared as the string of its titles.  Damage is
 * made with LMDB directly, the workspace open, as unit_list.c's
 * a_walk_that_fails_in_turns_leaves_the_page_to_the_other does.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "keys.h"
#include "list.h"
#include "tasklog_projections.h"
#include "tasklog.h"
#include "tasklog_view.h"
#include "testutil.h"

#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00Z, a Monday */
#define MIN INT64_C(60000)

static char *dir;
static tl_db *db;

/* ---- workspace -------------------------------------------------------- */

static void exec_ok(tl_cmd *c, tl_result *keep)
{
	tl_ctx ctx = { .now_ms = T0 };
	tl_result res = { 0 };
	tl_err err = { 0 };
	int rc = tl_exec(db, &ctx, c, 1, &res, &err);

	cr_assert_eq(rc, 0, "command %d: %s: %s", c->kind, err.field,
		     err.message);
	if (keep)
		*keep = res;
	else
		tl_result_release(&res);
}

static void member(const char *id, const char *role)
{
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id), .name = tl_s(id),
		     .role = tl_s(role), .crm_access = 1 };
	exec_ok(&c, NULL);
}

static void setup(void)
{
	tl_err err = { 0 };
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };

	dir = tu_tmpdir();
	o.views = tl_views_all(&n);
	o.views_len = n;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "open: %s",
		     err.message);
	tl_init_opts io = { .now_ms = T0 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "init: %s", err.message);
	member("alice", "member");
	member("bob", "member");
	member("root", "admin");
	tl_list_lead_way(3);
}

static void teardown(void)
{
	tl_list_lead_way(3);
	if (db)
		tl_db_close(db);
	db = NULL;
	tu_rmrf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(scan_audit, .init = setup, .fini = teardown, .timeout = 30);

/* ---- tasks ------------------------------------------------------------- */

static char ids[512][37];
static char titles[512][64];
static size_t n_ids;

static const char *id_of(const char *title)
{
	for (size_t i = 0; i < n_ids; i++)
		if (!strcmp(titles[i], title))
			return ids[i];
	cr_assert_fail("no task titled %s", title);
	return NULL;
}

/* A task titled title, of type type (NULL: the default), held by who
 * (NULL: no one), due at due_ms. */
static void add(const char *title, const char *type, const char *who,
		int64_t due_ms)
{
	char due[32];
	tl_result res;
	tl_task t;
	tl_time_format(due_ms, due);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
		     .link = tl_s("lead:1"), .type = tl_s(type),
		     .due = tl_s(due), .assignee = tl_s(who) };

	exec_ok(&c, &res);
	cr_assert_eq(tl_task_decode(res.doc, res.doc_len, &t), 0);
	cr_assert_lt(n_ids, 512);
	tl_uuid_format(t.id, ids[n_ids]);
	snprintf(titles[n_ids], sizeof titles[n_ids], "%s", title);
	n_ids++;
	tl_task_release(&t);
	tl_result_release(&res);
}

static void tag(const char *title, const char *t)
{
	tl_slice v = tl_s(t);
	tl_cmd c = { .kind = TL_TASK_TAG, .id = tl_s(id_of(title)),
		     .tags = &v, .tags_len = 1 };
	exec_ok(&c, NULL);
}

/* ---- queries ------------------------------------------------------------- */

#define MANY 8
typedef struct lq {
	const char *assignee[MANY], *type[MANY], *tag[MANY], *search[MANY];
	const char *cursor;
	size_t limit;
} lq;

typedef struct page {
	char text[8192]; /* titles, space-separated */
	size_t n;
	char next[TL_CURSOR_MAX];
	int rc;
	tl_err err;
} page;

static int collect(void *arg, const uint8_t *doc, size_t len)
{
	page *pg = arg;
	tl_task t;

	cr_assert_eq(tl_task_decode(doc, len, &t), 0, "undecodable task");
	pg->n++;
	size_t o = strlen(pg->text);
	snprintf(pg->text + o, sizeof pg->text - o, "%s%s", o ? " " : "",
		 t.title);
	tl_task_release(&t);
	return 0;
}

static size_t slices(const char *const *v, tl_slice *out)
{
	size_t n = 0;
	while (n < MANY && v[n]) {
		out[n] = tl_s(v[n]);
		n++;
	}
	return n;
}

static void run_list(const lq *q, page *pg)
{
	tl_slice a[MANY], t[MANY], g[MANY], sr[MANY];
	tl_list_query tq = {
		.assignees = a, .assignees_len = slices(q->assignee, a),
		.types = t, .types_len = slices(q->type, t),
		.tags = g, .tags_len = slices(q->tag, g),
		.searches = sr, .searches_len = slices(q->search, sr),
		.limit = q->limit, .cursor = tl_s(q->cursor),
	};
	tl_ctx ctx = { .now_ms = T0 };

	memset(pg, 0, sizeof *pg);
	pg->rc = tl_task_list(db, &ctx, &tq, collect, pg, pg->next, &pg->err);
}

/* Every page with the given limit, joined. */
static const char *list_all(lq q, size_t limit)
{
	static char all[16384];
	static char cursor[TL_CURSOR_MAX];
	page *pg = malloc(sizeof *pg);

	cr_assert_not_null(pg);
	all[0] = 0;
	q.limit = limit;
	q.cursor = NULL;
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 1000, "paging does not end");
		run_list(&q, pg);
		cr_assert_eq(pg->rc, 0, "list: %s: %s", pg->err.field,
			     pg->err.message);
		cr_assert_leq(pg->n, limit);
		if (pg->n) {
			size_t o = strlen(all);
			snprintf(all + o, sizeof all - o, "%s%s", o ? " " : "",
				 pg->text);
		}
		if (!pg->next[0])
			break;
		cr_assert_gt(pg->n, 0, "an empty page with a next cursor");
		snprintf(cursor, sizeof cursor, "%s", pg->next);
		q.cursor = cursor;
	}
	free(pg);
	return all;
}

/* ---- damage ------------------------------------------------------------ */

/* A task id that no task has. */
static const uint8_t ghost[16] = { 0x6e, 0x6f, 0x6e, 0x65, 0x21, 0x21,
				   0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
				   0x21, 0x21, 0x21, 0x21 };

/* Put into the due range of (dim, val) an entry like its nth (0: the
 * first), at sortval sv and tiebreak tb (those of the nth plus one when
 * sv is UINT64_MAX), its value the nth's first TL_LIST_VAL_LEN bytes (no
 * document) with the task id `id`. */
static void put_like(char dim, uint64_t val, int nth, uint64_t sv,
		     uint64_t tb, const uint8_t id[16])
{
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	uint8_t key[TL_LIST_KEY_LEN], v[TL_LIST_VAL_LEN], pfx[TL_LIST_PREFIX_LEN];
	MDB_val k = { TL_LIST_PREFIX_LEN, pfx }, d;
	MDB_txn *txn;
	MDB_cursor *c;

	cr_assert_not_null(dbi);
	tl_list_prefix(pfx, dim, val, TL_SORT_DUE);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi[0], &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &d, MDB_SET_RANGE), 0);
	for (int i = 0; i < nth; i++)
		cr_assert_eq(mdb_cursor_get(c, &k, &d, MDB_NEXT), 0);
	cr_assert_eq(k.mv_size, TL_LIST_KEY_LEN);
	cr_assert_eq(memcmp(k.mv_data, pfx, TL_LIST_PREFIX_LEN), 0,
		     "the range holds fewer than %d entries", nth + 1);
	cr_assert_geq(d.mv_size, TL_LIST_VAL_LEN);
	memcpy(key, k.mv_data, TL_LIST_KEY_LEN);
	memcpy(v, d.mv_data, TL_LIST_VAL_LEN);
	mdb_cursor_close(c);
	if (sv == UINT64_MAX) {
		tl_key_u64(key + 18, tl_key_get_u64(key + 18) + 1);
	} else {
		tl_key_u64(key + 10, sv);
		tl_key_u64(key + 18, tb);
	}
	memcpy(v, id, 16);
	k = (MDB_val){ TL_LIST_KEY_LEN, key };
	d = (MDB_val){ TL_LIST_VAL_LEN, v };
	cr_assert_eq(mdb_put(txn, dbi[0], &k, &d, MDB_NOOVERWRITE), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A document under task id `id` in the engine's tasks database that no
 * decoder takes (0xc1 is no msgpack type). */
static void put_garbage_doc(const uint8_t id[16])
{
	static const uint8_t junk[] = { 0xc1, 0xc1, 0xc1, 0xc1 };
	MDB_val k = { 16, (void *)id }, d = { sizeof junk, (void *)junk };
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->tasks, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* 60 calls of alice's and bob's (c0, c2, ... alice's), due every 10
 * minutes from T0 + 10 min; c7, c27 and c47 tagged vip. */
static void calls_with_vips(void)
{
	static const char *const who[] = { "alice", "bob" };
	char title[16];
	for (int i = 0; i < 60; i++) {
		snprintf(title, sizeof title, "c%d", i);
		add(title, "call", who[i % 2], T0 + (int64_t)(i + 1) * 10 * MIN);
	}
	tag("c7", "vip");
	tag("c27", "vip");
	tag("c47", "vip");
}

static uint64_t vip_todo(void)
{
	return tl_list_tag(tl_list_hash(tl_s("vip")), 0);
}

/* ---- tests ------------------------------------------------------------- */

/* The tag's walk fails in turns on a document that does not decode (an
 * entry first in the tag's range names a task whose stored document is
 * junk), not on an LMDB error as in unit_list.c's test: walk_run then
 * returns the error once and, called again, 0 with the walk ended.  The
 * page is the assignees' walk's.  Kills: in scan, `failed[k] = true`
 * dropped, and `if (!failed[k ^ 1]) k ^= 1` made unconditional (the
 * failed walk, run again, "ended its page": its empty page was given). */
Test(scan_audit, a_walk_failing_on_a_corrupt_document_in_turns_leaves_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_TAG, vip_todo(), 0, 0, 0, ghost);
	put_garbage_doc(ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, 0, "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.text, "c7 c27 c47", "way %u", way);
		cr_assert_str_eq(list_all(q, 1), "c7 c27 c47", "way %u", way);
	}
	/* alone, the tag's walk fails */
	tl_list_lead_way(3);
	page pg;
	run_list(&(lq){ .tag = { "vip" } }, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
}

/* Both walks fail in turns, each on a damaged entry only it meets: the
 * tag's at its range's start, the assignees' at alice's fifth task (after
 * the turns begin, under ways 1 and 2).  The page fails (and ends).
 * Kills: in scan, the `break` after `rc = wrc` dropped (the two failed
 * walks were run for ever), and `rc = wrc` dropped (an empty page, no
 * error). */
Test(scan_audit, both_walks_failing_in_turns_fail_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_TAG, vip_todo(), 0, 0, 0, ghost);
	put_like(TL_DIM_ASSIGNEE, tl_list_hash(tl_s("alice")), 4, UINT64_MAX,
		 0, ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, TL_ESTORAGE, "way %u: %d %s", way, pg.rc,
			     pg.err.message);
		cr_assert(strstr(pg.err.message, "does not exist"),
			  "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.next, "", "way %u", way);
	}
}

/* The assignees' walk fails before the turns begin (its first 2,048
 * units, the default way): the error stands, though the tag's walk would
 * have made the page; only a walk that fails in turns leaves the page to
 * the other (the commit's rule, and a page that fails or not whatever
 * way the turns take).  Kills: in scan, `!rc &&` dropped from the test
 * that starts the other walk (walk_open's 0 then cleared the first
 * walk's error, and the tag's walk made the page). */
Test(scan_audit, a_walk_failing_before_the_turns_fails_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_ASSIGNEE, tl_list_hash(tl_s("alice")), 4, UINT64_MAX,
		 0, ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	page pg;
	tl_list_lead_way(3);
	run_list(&q, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
	tl_list_lead_way(0);
	run_list(&q, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
	/* the tag's walk alone makes it */
	cr_assert_str_eq(list_all((lq){ .tag = { "vip" } }, 1), "c7 c27 c47");
}

/* A page that is whole, then more than 64 candidates whose documents a
 * search rejects, then a match: the look-ahead stops after 64 and gives
 * a cursor (a match may follow), and the next page finds it.  Kills: in
 * walk_run, `w->ended = true` dropped after the look-ahead past rejected
 * documents (the walk was not over, scan took it for a walk stopped at
 * its bound: no cursor, the page after lost). */
Test(scan_audit, a_look_ahead_past_rejected_documents_keeps_the_cursor)
{
	char title[16];
	add("alpha one", "call", "alice", T0 + 10 * MIN);
	for (int i = 0; i < 100; i++) {
		snprintf(title, sizeof title, "beta %d", i);
		add(title, "call", "alice", T0 + (int64_t)(i + 2) * 10 * MIN);
	}
	add("alpha two", "call", "alice", T0 + 2000 * MIN);

	const lq q = { .search = { "alpha" } };
	page pg;
	run_list(&(lq){ .search = { "alpha" }, .limit = 1 }, &pg);
	cr_assert_eq(pg.rc, 0, "%s", pg.err.message);
	cr_assert_str_eq(pg.text, "alpha one");
	cr_assert_neq(pg.next[0], 0, "no cursor after the look-ahead");
	cr_assert_str_eq(list_all(q, 1), "alpha one alpha two");
	const lq qa = { .assignee = { "alice" }, .search = { "alpha" } };
	cr_assert_str_eq(list_all(qa, 1), "alpha one alpha two");
}

/* A document that does not decode, then a match: the page fails, and the
 * match after does not clear the error.  Kills: in walk_run, `rc ||`
 * dropped from the test that ends the walk (the walk went on past the
 * error, and the next match's fn overwrote rc with 0). */
Test(scan_audit, a_corrupt_document_fails_the_page_though_matches_follow)
{
	char title[16];
	for (int i = 0; i < 10; i++) {
		snprintf(title, sizeof title, "c%d", i);
		add(title, "call", NULL, T0 + (int64_t)(i + 1) * 10 * MIN);
	}
	uint8_t id[16];
	cr_assert(tl_uuid_parse(tl_s(id_of("c4")), id));
	put_garbage_doc(id); /* c4's document, read by id from K's range */

	page pg;
	run_list(&(lq){ .type = { "call" } }, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: listed %s", pg.rc, pg.text);
	cr_assert(strstr(pg.err.message, "corrupt task record"), "%s",
		  pg.err.message);
	cr_assert_str_eq(pg.next, "");
}

/* Several assignees with a type (no tag): the other walk is the kinds'
 * (K leads), where the assignee is known only from the document: a
 * candidate past a whole page is not known to match, so the page of the
 * last match has no cursor.  alice's and bob's 60 emails come first in
 * their ranges, so that the kinds' walk ends its page first under way 1.
 * Kills: in plan_other, `o->dim = dim` dropped (the other plan kept the
 * assignees' dim, facets_exact took the K entry of root's call for a
 * match, and gave a cursor to an empty page). */
Test(scan_audit, the_kinds_walk_gives_no_cursor_past_the_last_match)
{
	static const char *const who[] = { "alice", "bob" };
	char title[16];
	for (int i = 0; i < 60; i++) {
		snprintf(title, sizeof title, "e%d", i);
		add(title, "email", who[i % 2], T0 + (int64_t)(i + 1) * MIN);
	}
	add("x1", "call", "alice", T0 + 100 * MIN);
	add("x2", "call", "root", T0 + 200 * MIN);

	const lq q = { .assignee = { "alice", "bob" }, .type = { "call" },
		       .limit = 1 };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, 0, "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.text, "x1", "way %u", way);
		cr_assert_str_eq(pg.next, "", "way %u: a cursor past x1", way);
	}
}
