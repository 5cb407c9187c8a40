/*
 * unit_verify_audit.c - tests from the mutation audit of
 * engine/view_verify.c (tl_verify_views: every view rebuilt into a
 * temporary generation and compared with the stored one) and
 * engine/pages.c (tl_pages_check: LMDB's file below the records, every
 * page reached once, none on the free list).  Each test guards behaviour
 * that a one-line change of one of those files broke while every other
 * test still passed; the comment of each says which.
 *
 * Every test gets its own workspace under /tmp and removes it.  The views
 * are checked with a view of this file ("aud": a key per task title in
 * one database, a key per task id in another), whose stored databases
 * are changed with LMDB directly.  The pages are checked on a workspace
 * with every view, a branch page or more per tree, big values (overflow
 * pages), a stream of duplicates of its own tree (LEAF2 pages) and a
 * long free list (a rebuild frees a generation), damaged by hand in its
 * data file, in the layout of LMDB 0.9 that pages.c reads, and opened
 * read-only without views (nothing but the check reads the damage).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lmdb.h>

#include "internal.h"
#include "view_int.h"
#include "tasklog_projections.h"
#include "testutil.h"

static char *dir;
static const tl_ctx admin = { .actor = "admin" };

static void mkws(void)
{
	dir = tu_tmpdir();
}

static void rmws(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
	free(dir);
	dir = NULL;
}

TestSuite(verify_audit, .init = mkws, .fini = rmws, .timeout = 300);

/* ---- the view "aud" ------------------------------------------------------ */

/* Database 0 ("bytitle"): key the task's title, value the title;
 * database 1 ("byid"): key the task's id, value the title. */
static int aud_apply(const tl_view_ctx *vc, const tl_event *ev,
		     const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)ev, (void)before;
	if (!after)
		return 0;
	size_t n = strlen(after->title);
	int rc = tl_view_put(vc, 0, after->title, n, after->title, n, err);
	if (!rc)
		rc = tl_view_put(vc, 1, after->id, 16, after->title, n, err);
	return rc;
}

static const char *const aud_dbs[] = { "bytitle", "byid" };
static const unsigned aud_flags[] = { 0, 0 };
static tl_view aud_view = {
	.name = "aud",
	.version = 1,
	.dbs = aud_dbs,
	.db_flags = aud_flags,
	.dbs_len = 2,
	.apply = aud_apply,
};
static const tl_view *const with_aud[] = { &aud_view };

static tl_db *open_with(const tl_view *const *views, size_t n,
			unsigned flags)
{
	tl_open_opts o = { .flags = flags, .views = views, .views_len = n };
	tl_db *db;
	tl_err err;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	return db;
}

static void add_task(tl_db *db, const char *title, const char *notes)
{
	tl_err err;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
		     .link = tl_s("lead:1"), .notes = tl_s(notes) };
	if (!notes)
		c.notes = (tl_slice){ NULL, 0 };
	cr_assert_eq(tl_exec(db, &admin, &c, 1, NULL, &err), 0, "%s",
		     err.message);
}

#define LONG_TITLE "a title of fifty bytes, past the forty hex shows.."

/* A workspace with the aud view and tasks titled "ab", "abc" (a key that
 * is the other's prefix) and LONG_TITLE (50 bytes). */
static tl_db *aud_ws(void)
{
	tl_err err;
	tl_db *db = open_with(with_aud, 1, TL_OPEN_CREATE);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	add_task(db, "ab", NULL);
	add_task(db, "abc", NULL);
	add_task(db, LONG_TITLE, NULL);
	cr_assert_eq(strlen(LONG_TITLE), 50);
	return db;
}

/* Put (v non-NULL) or delete key k in the stored aud database j. */
static void aud_change(tl_db *db, int j, const void *k, size_t kn,
		       const void *v, size_t vn)
{
	MDB_txn *txn;
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };
	const MDB_dbi *dbi = tl_view_dbis(db, "aud");
	cr_assert_not_null(dbi);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	if (v)
		cr_assert_eq(mdb_put(txn, dbi[j], &key, &val, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, dbi[j], &key, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* The first key of stored aud database j, copied into key (16 bytes at
 * most); its length. */
static size_t aud_first_key(tl_db *db, int j, uint8_t key[16])
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, tl_view_dbis(db, "aud")[j], &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	cr_assert_leq(k.mv_size, 16);
	memcpy(key, k.mv_data, k.mv_size);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return k.mv_size;
}

/* Every problem of a verify, one per line. */
typedef struct problems {
	int n;
	char text[4096];
} problems;

static void keep(void *arg, const char *p)
{
	problems *ps = arg;
	size_t used = strlen(ps->text);
	ps->n++;
	snprintf(ps->text + used, sizeof ps->text - used, "%s\n", p);
}

/* tl_verify into *ps: it ran, and returned as many problems as it
 * told. */
static int verify(tl_db *db, problems *ps)
{
	tl_err err = { 0 };
	memset(ps, 0, sizeof *ps);
	int rc = tl_verify(db, &admin, keep, ps, &err);
	cr_assert_geq(rc, 0, "verify: %d %s", rc, err.message);
	cr_assert_eq(rc, ps->n, "verify returned %d but told %d:\n%s", rc,
		     ps->n, ps->text);
	return rc;
}

static void hex(char *out, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", ((const uint8_t *)p)[i]);
}

/* view_verify.c:24 (hex: "..." after a key cut at 40 bytes dropped) and
 * :19 (keys cut at 20 bytes): a key of 50 bytes is named by its first 40
 * bytes and "...". */
Test(verify_audit, a_long_key_is_named_by_40_bytes_and_an_ellipsis)
{
	tl_db *db = aud_ws();
	problems ps;
	char h[128], want[256];
	aud_change(db, 0, LONG_TITLE, 50, NULL, 0);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	hex(h, LONG_TITLE, 40);
	snprintf(want, sizeof want,
		 "view aud.bytitle: key %s... is missing from the stored "
		 "view\n",
		 h);
	cr_assert_str_eq(ps.text, want);
	tl_db_close(db);
}

/* view_verify.c:79-80 (the tie-break of keys of which one is the other's
 * prefix dropped, or reversed): "ab" gone from the stored view beside
 * "abc" is one key missing, and "abc" is compared as itself. */
Test(verify_audit, a_key_that_prefixes_another_is_a_key_of_its_own)
{
	tl_db *db = aud_ws();
	problems ps;
	aud_change(db, 0, "ab", 2, NULL, 0);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	cr_assert_str_eq(ps.text, "view aud.bytitle: key 6162 is missing "
				  "from the stored view\n");
	/* and "abc" extra beside a stored "ab" */
	tl_err err;
	cr_assert_eq(tl_rebuild(db, &admin, NULL, 0, NULL, NULL, &err), 0,
		     "%s", err.message);
	aud_change(db, 0, "abcd", 4, "abcd", 4);
	aud_change(db, 0, "abc", 3, NULL, 0);
	cr_assert_eq(verify(db, &ps), 2, "%s", ps.text);
	cr_assert_str_eq(ps.text,
			 "view aud.bytitle: key 616263 is missing from the "
			 "stored view\n"
			 "view aud.bytitle: stored key 61626364 is not in a "
			 "rebuild\n");
	tl_db_close(db);
}

/* view_verify.c:85-87 (values of which one is the other's prefix taken
 * for equal) and :94 (a different value told but not counted): a stored
 * value cut short is a different value, counted once. */
Test(verify_audit, a_value_cut_short_is_a_different_value)
{
	tl_db *db = aud_ws();
	problems ps;
	aud_change(db, 0, "abc", 3, "ab", 2);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	cr_assert_str_eq(ps.text, "view aud.bytitle: key 616263 has a "
				  "different value than a rebuild gives\n");
	/* and one longer than the rebuild's */
	aud_change(db, 0, "abc", 3, "abcd", 4);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	tl_db_close(db);
}

/* view_verify.c:219 (the last database of a view not compared) and :229
 * (a database's differences replacing the count of the ones before it,
 * problems = d): differences in both databases of a view are all told
 * and all counted. */
Test(verify_audit, every_database_of_a_view_is_compared_and_counted)
{
	tl_db *db = aud_ws();
	problems ps;
	uint8_t id[16];
	char h[40], want[400];
	cr_assert_eq(aud_first_key(db, 1, id), 16);
	aud_change(db, 1, id, 16, NULL, 0);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	hex(h, id, 16);
	snprintf(want, sizeof want,
		 "view aud.byid: key %s is missing from the stored view\n", h);
	cr_assert_str_eq(ps.text, want);
	/* two in the first database, one in the second: three */
	aud_change(db, 0, "ab", 2, NULL, 0);
	aud_change(db, 0, "zz", 2, "zz", 2);
	cr_assert_eq(verify(db, &ps), 3, "%s", ps.text);
	tl_db_close(db);
}

/* view_verify.c:198 (a view past the log's head taken for one behind it,
 * `!=` for `<`): a view whose mark is past the head is compared, not
 * said to lack events; here it is whole, so verify finds its content
 * equal to a rebuild. */
Test(verify_audit, a_view_past_the_head_is_compared)
{
	tl_db *db = aud_ws();
	problems ps;
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	uint64_t head = tl_view_seq(db, txn, &aud_view);
	cr_assert_gt(head, 0);
	cr_assert_eq(tl_view_seq_put(db, txn, &aud_view, head + 5), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	verify(db, &ps);
	cr_assert_null(strstr(ps.text, "not compared"), "%s", ps.text);
	/* compared: a difference is found */
	aud_change(db, 0, "ab", 2, NULL, 0);
	verify(db, &ps);
	cr_assert(strstr(ps.text, "view aud.bytitle: key 6162 is missing"),
		  "%s", ps.text);
	tl_db_close(db);
}

/* view_verify.c:182 (a serving generation that cannot be opened taken
 * for an error, `og != 0` for `og == ENOMEM`) and :189 (the problem not
 * counted): a view whose databases are gone under an open handle is a
 * problem, told and counted, and verify goes on. */
Test(verify_audit, a_view_without_its_databases_is_a_problem)
{
	tl_db *db = aud_ws();
	problems ps;
	MDB_txn *txn;
	const MDB_dbi *dbi = tl_view_dbis(db, "aud");
	cr_assert_not_null(dbi);
	MDB_dbi d0 = dbi[0], d1 = dbi[1];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_drop(txn, d0, 1), 0);
	cr_assert_eq(mdb_drop(txn, d1, 1), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(verify(db, &ps), 1, "%s", ps.text);
	cr_assert_str_eq(ps.text, "view aud: no serving generation\n");
	tl_db_close(db);
}

/* Calls of tl_verify_progress between a step's 0 and its total, and the
 * totals told. */
typedef struct told {
	int between[9];
	uint64_t first_total[9];
	bool total_moved[9];
} told;

static void tell(void *arg, const tl_verify_step *s)
{
	told *t = arg;
	if (s->step < 1 || s->step > 8)
		return;
	if (!s->done && !t->first_total[s->step])
		t->first_total[s->step] = s->total;
	else if (s->total != t->first_total[s->step])
		t->total_moved[s->step] = true;
	if (s->done && s->done < s->total)
		t->between[s->step]++;
}

/* view_verify.c:42 (the comparison told every 65,536 entries, not
 * 16,384), pages.c:117 (the pages told every 65,536) and :118 (told of a
 * total one short): a workspace of some 18,000 pages and 18,000 view
 * entries (under 65,536 of each) is told between 0 and the total in
 * both steps, the pages always of the same total. */
Test(verify_audit, progress_is_told_every_16384_pages_and_entries,
     .timeout = 600)
{
	tl_err err;
	tl_db *db = open_with(with_aud, 1, TL_OPEN_CREATE | TL_OPEN_NOSYNC);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	enum { N = 9000, BATCH = 1000 };
	static char notes[2101];
	memset(notes, 'n', 2100); /* past LMDB's 2,040: a page of its own */
	tl_cmd *c = calloc(BATCH, sizeof *c);
	char (*title)[16] = calloc(BATCH, sizeof *title);
	cr_assert(c && title);
	for (int b = 0; b < N / BATCH; b++) {
		for (int i = 0; i < BATCH; i++) {
			snprintf(title[i], sizeof title[i], "T%d",
				 b * BATCH + i);
			c[i] = (tl_cmd){ .kind = TL_TASK_ADD,
					 .title = tl_s(title[i]),
					 .link = tl_s("lead:1"),
					 .notes = tl_s(notes) };
		}
		cr_assert_eq(tl_exec(db, &admin, c, BATCH, NULL, &err), 0,
			     "%s", err.message);
	}
	free(c);
	free(title);
	told t = { 0 };
	problems ps = { 0 };
	cr_assert_eq(tl_verify_progress(db, &admin, 0, keep, &ps, tell, &t,
					&err),
		     0, "%s %s", err.message, ps.text);
	cr_assert_geq(t.first_total[7], 16384);
	cr_assert_lt(t.first_total[7], 65536);
	cr_assert_geq(t.between[7], 1, "entries: none told between");
	cr_assert_geq(t.first_total[1], 16384);
	cr_assert_lt(t.first_total[1], 65536);
	cr_assert_geq(t.between[1], 1, "pages: none told between");
	cr_assert_not(t.total_moved[1], "pages: the total moved");
	tl_db_close(db);
}

/* view_verify.c:363 (a verify whose rebuild fills the map not growing
 * it, and returning TL_EAGAIN) and :247 (an error of a pass returned as
 * its count of problems, 0, so that the views were not compared): a
 * workspace of a small map, 92 % used,
 * verifies clean; its map has grown for the rebuild.  (Without
 * tl_rebuild_room, which makes room before a build, so that the build
 * fills the map.) */
Test(verify_audit, a_verify_that_fills_the_map_grows_it)
{
	tl_err err;
	size_t nv;
	const tl_view *const *all = tl_views_all(&nv);
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .views = all, .views_len = nv,
			   .map_size = 1 << 20 };
	tl_db *db;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	tl_stats st = { 0 };
	int n = 0;
	for (; n < 20000; n++) {
		char title[32];
		snprintf(title, sizeof title, "Task %d", n);
		add_task(db, title, NULL);
		cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s",
			     err.message);
		if (n > 100 && st.map_used * 100 > st.map_size * 92)
			break; /* more than 92 % used */
	}
	cr_assert_lt(n, 20000, "the map stays under 92 %% used");
	uint64_t before = st.map_size;
	problems ps;
	tl_rebuild_room = false;
	int rc = verify(db, &ps);
	tl_rebuild_room = true;
	cr_assert_eq(rc, 0, "%s", ps.text);
	cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s",
		     err.message);
	cr_assert_gt(st.map_size, before, "the rebuild fit: not a test");
	tl_db_close(db);
}

/* strdup of this binary, which libtasklog.a's calls bind to: as the C
 * library's, but the strdup_fail_at-th call once armed fails. */
static long strdup_calls, strdup_fail_at;

char *strdup(const char *s)
{
	if (strdup_fail_at && ++strdup_calls == strdup_fail_at)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	return p ? memcpy(p, s, n) : NULL;
}

/* view_verify.c:355 (a problem that could not be held for want of memory
 * dropped, and verify's count kept): each strdup of a verify that finds
 * two differences failing in turn, verify either fails or tells both,
 * as many as it returns. */
Test(verify_audit, a_problem_that_cannot_be_held_is_an_error)
{
	tl_db *db = aud_ws();
	aud_change(db, 0, "ab", 2, NULL, 0);
	aud_change(db, 0, "zz", 2, "zz", 2);
	int failed = 0;
	long k;
	for (k = 1; k < 10000; k++) {
		problems ps = { 0 };
		tl_err err = { 0 };
		strdup_calls = 0;
		strdup_fail_at = k;
		int rc = tl_verify(db, &admin, keep, &ps, &err);
		bool hit = strdup_calls >= k;
		strdup_fail_at = 0;
		if (!hit) {
			cr_assert_eq(rc, 2, "%s", ps.text);
			break;
		}
		if (rc < 0) {
			failed++;
			continue;
		}
		cr_assert_eq(rc, ps.n, "strdup %ld failing: %d returned, %d "
				       "told:\n%s",
			     k, rc, ps.n, ps.text);
		cr_assert_eq(rc, 2, "strdup %ld failing:\n%s", k, ps.text);
	}
	cr_assert_lt(k, 10000);
	cr_assert_geq(failed, 2, "the two problems' copies failed");
	tl_db_close(db);
}

/* ---- pages ---------------------------------------------------------------- */

#define PS 4096
#define NODE_BIG 0x01
#define NODE_SUB 0x02
#define PG_BRANCH 0x01
#define PG_LEAF 0x02
#define PG_OVERFLOW 0x04
#define PG_LEAF2 0x20

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	memcpy(&v, p, n);
	return v;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	memcpy(p, &v, n);
}

/* The data file in memory. */
typedef struct rawf {
	uint8_t *b;
	size_t len;
	uint8_t *meta; /* the last commit's MDB_meta */
	uint64_t last_pg;
} rawf;

static void data_path(char *path, size_t n)
{
	snprintf(path, n, "%s/data.mdb", dir);
}

static void raw_load(rawf *f)
{
	char path[128];
	data_path(path, sizeof path);
	FILE *fp = fopen(path, "rb");
	cr_assert(fp);
	cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
	f->len = (size_t)ftell(fp);
	cr_assert_eq(fseek(fp, 0, SEEK_SET), 0);
	f->b = malloc(f->len);
	cr_assert(f->b);
	cr_assert_eq(fread(f->b, 1, f->len, fp), f->len);
	fclose(fp);
	uint8_t *m0 = f->b + 16, *m1 = f->b + PS + 16;
	f->meta = le(m0 + 128, 8) > le(m1 + 128, 8) ? m0 : m1;
	f->last_pg = le(f->meta + 120, 8);
}

static long f_size_of_data(void)
{
	char path[128];
	struct stat st;
	data_path(path, sizeof path);
	cr_assert_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

static void raw_save(const rawf *f)
{
	char path[128];
	data_path(path, sizeof path);
	FILE *fp = fopen(path, "r+b");
	cr_assert(fp);
	cr_assert_eq(fwrite(f->b, 1, f->len, fp), f->len);
	cr_assert_eq(fclose(fp), 0);
}

static uint8_t *page(const rawf *f, uint64_t pg)
{
	cr_assert_lt(pg * PS, f->len, "page %llu past the file",
		     (unsigned long long)pg);
	return f->b + pg * PS;
}

static uint64_t free_root(const rawf *f)
{
	return le(f->meta + 24 + 40, 8);
}

static uint64_t main_root(const rawf *f)
{
	return le(f->meta + 24 + 48 + 40, 8);
}

/* Call fn for each node of each leaf page of the tree at root. */
typedef void leaf_fn(rawf *f, uint8_t *pg, uint8_t *node, void *arg);

static void leaves(rawf *f, uint64_t root, leaf_fn *fn, void *arg)
{
	uint8_t *p = page(f, root);
	unsigned flags = (unsigned)le(p + 10, 2);
	size_t n = (le(p + 12, 2) - 16) / 2;
	if (flags & PG_LEAF2)
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t *node = p + le(p + 16 + 2 * i, 2);
		if (flags & PG_BRANCH)
			leaves(f, le(node, 6), fn, arg);
		else
			fn(f, p, node, arg);
	}
}

/* A free-list record: its count and page numbers, in the file. */
typedef struct idl {
	uint8_t *ids; /* ids[0]: the count */
	size_t size;  /* bytes */
} idl;

typedef struct idls {
	idl rec[256];
	size_t n;
} idls;

static void note_idl(rawf *f, uint8_t *p, uint8_t *node, void *arg)
{
	(void)p;
	idls *l = arg;
	size_t size = le(node, 2) | le(node + 2, 2) << 16;
	uint8_t *data = node + 8 + le(node + 6, 2);
	if (le(node + 4, 2) & NODE_BIG)
		data = page(f, le(data, 8)) + 16;
	cr_assert_lt(l->n, 256);
	l->rec[l->n++] = (idl){ data, size };
}

/* The free list's records, and a map of the free pages (1 each). */
static void free_list(rawf *f, idls *l, uint8_t *is_free)
{
	l->n = 0;
	if (free_root(f) != UINT64_MAX)
		leaves(f, free_root(f), note_idl, l);
	for (size_t r = 0; r < l->n; r++) {
		uint64_t n = le(l->rec[r].ids, 8);
		cr_assert_leq((n + 1) * 8, l->rec[r].size);
		for (uint64_t i = 1; i <= n; i++) {
			uint64_t pg = le(l->rec[r].ids + 8 * i, 8);
			cr_assert_leq(pg, f->last_pg);
			is_free[pg] = 1;
		}
	}
}

/* The named databases of the main one: names and roots. */
typedef struct named {
	char name[64][64];
	uint8_t *rec[64]; /* its MDB_db in the file */
	size_t n;
} named;

static void note_named(rawf *f, uint8_t *p, uint8_t *node, void *arg)
{
	(void)f, (void)p;
	named *d = arg;
	if (!(le(node + 4, 2) & NODE_SUB))
		return;
	size_t ks = le(node + 6, 2);
	cr_assert_lt(d->n, 64);
	snprintf(d->name[d->n], 64, "%.*s", (int)ks, (char *)node + 8);
	d->rec[d->n++] = node + 8 + ks;
}

static void named_dbs(rawf *f, named *d)
{
	d->n = 0;
	leaves(f, main_root(f), note_named, d);
	cr_assert_gt(d->n, 4);
}

static uint64_t db_root(const uint8_t *rec)
{
	return le(rec + 40, 8);
}

/* A workspace with every view: 150 tasks (branch pages), two of notes
 * of 9,000 bytes (three overflow pages each), a task of 320 updates (a
 * stream of duplicates in a tree of its own), the views rebuilt once
 * (a long free list).  Closed. */
static void pages_ws(void)
{
	tl_err err;
	size_t nv;
	const tl_view *const *all = tl_views_all(&nv);
	tl_db *db = open_with(all, nv, TL_OPEN_CREATE | TL_OPEN_NOSYNC);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	static char big[9001];
	memset(big, 'n', 9000);
	char title[32];
	for (int i = 0; i < 150; i++) {
		snprintf(title, sizeof title, "Task %d", i);
		add_task(db, title, i == 40 || i == 90 ? big : NULL);
	}
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("Busy"),
		     .link = tl_s("lead:2") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0, "%s",
		     err.message);
	msgpack_zone z;
	msgpack_object o;
	size_t off = 0;
	msgpack_zone_init(&z, 1024);
	cr_assert_eq(msgpack_unpack((const char *)r.doc, r.doc_len, &off, &z,
				    &o),
		     MSGPACK_UNPACK_SUCCESS);
	tl_slice id = tl_obj_slice(tl_map_get(&o, "id"));
	char busy[37];
	cr_assert_eq(id.len, 36);
	memcpy(busy, id.p, 36);
	busy[36] = 0;
	msgpack_zone_destroy(&z);
	tl_result_release(&r);
	for (int i = 0; i < 320; i++) {
		char notes[16];
		snprintf(notes, sizeof notes, "n%d", i);
		tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(busy),
			     .notes = tl_s(notes) };
		cr_assert_eq(tl_exec(db, &admin, &u, 1, NULL, &err), 0, "%s",
			     err.message);
	}
	add_task(db, "Last", NULL);
	cr_assert_eq(tl_rebuild(db, &admin, NULL, 0, NULL, NULL, &err), 0,
		     "%s", err.message);
	add_task(db, "After the rebuild", NULL);
	tl_db_close(db);
}

/* What tl_pages_check said. */
typedef struct said {
	int n;
	char line[32][300];
} said;

static void say_fn(void *arg, const char *fmt, ...)
{
	said *s = arg;
	va_list ap;
	va_start(ap, fmt);
	if (s->n < 32)
		vsnprintf(s->line[s->n], sizeof s->line[0], fmt, ap);
	va_end(ap);
	s->n++;
}

/* tl_pages_check of the workspace as its file is now (opened read-only,
 * without views); its return, what it said into *s. */
static int pages_check(said *s)
{
	tl_err err = { 0 };
	memset(s, 0, sizeof *s);
	tl_db *db = open_with(NULL, 0, TL_OPEN_RDONLY);
	int rc = tl_pages_check(db, say_fn, s, NULL, NULL, &err);
	tl_db_close(db);
	cr_assert_geq(rc, 0, "pages: %d %s", rc, err.message);
	return rc;
}

/* The first leaf page of the tree at pg. */
static uint64_t first_leaf(rawf *f, uint64_t pg)
{
	for (;;) {
		uint8_t *p = page(f, pg);
		unsigned flags = (unsigned)le(p + 10, 2);
		if (!(flags & PG_BRANCH))
			return pg;
		pg = le(p + le(p + 16, 2), 6);
	}
}

/* A leaf page of a view's database, and that database's name. */
static uint64_t a_view_leaf(rawf *f, named *d, const char **name)
{
	named_dbs(f, d);
	for (size_t i = 0; i < d->n; i++) {
		uint64_t root = db_root(d->rec[i]);
		if (strncmp(d->name[i], "v.", 2) || root == UINT64_MAX)
			continue;
		uint64_t pg = first_leaf(f, root);
		uint8_t *p = page(f, pg);
		if ((le(p + 10, 2) & (PG_LEAF | PG_LEAF2)) == PG_LEAF &&
		    le(p + 12, 2) > 16) {
			*name = d->name[i];
			return pg;
		}
	}
	cr_assert_fail("no view database with a leaf");
	return 0;
}

/* pages.c:95 (`>=` for `>`: the last page in use taken as past it),
 * :152 (an overflow page past a value's own marked), :207 (LEAF2 pages
 * walked as nodes), :323 (a free list's count read as a page): the
 * undamaged workspace has no problem of its pages. */
Test(verify_audit, an_undamaged_file_has_no_problem_of_its_pages)
{
	pages_ws();
	said s;
	cr_assert_eq(pages_check(&s), 0, "%s", s.line[0]);
}

/* pages.c:209-210 (the last or the first node of each page skipped),
 * :152 (the second overflow page of a value not marked), :166 (overflow
 * pages not walked), :176-177 (named databases not walked), :306 (the
 * main database not walked), :217 (branch and leaf swapped): every page
 * in use is reached.  Each of them put on the free list in turn, as many
 * at a time as the free list has places, is named. */
Test(verify_audit, every_page_in_use_on_the_free_list_is_named)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint8_t *orig = malloc(f.len);
	cr_assert(orig);
	memcpy(orig, f.b, f.len);
	uint8_t *is_free = calloc(f.last_pg + 1, 1);
	idls *l = calloc(1, sizeof *l);
	cr_assert(is_free && l);
	free_list(&f, l, is_free);
	/* the places of the free list */
	uint8_t **slot = NULL;
	size_t slots = 0;
	for (size_t r = 0; r < l->n; r++) {
		uint64_t n = le(l->rec[r].ids, 8);
		slot = realloc(slot, (slots + n) * sizeof *slot);
		cr_assert(slot);
		for (uint64_t i = 1; i <= n; i++)
			slot[slots++] = l->rec[r].ids + 8 * i;
	}
	uint64_t *live = calloc(f.last_pg + 1, sizeof *live);
	size_t nlive = 0;
	for (uint64_t pg = 2; pg <= f.last_pg; pg++)
		if (!is_free[pg])
			live[nlive++] = pg;
	cr_assert_geq(slots, 20, "a free list of %zu pages", slots);
	cr_assert_gt(nlive, 30);
	for (size_t at = 0; at < nlive; at += slots) {
		size_t k = nlive - at < slots ? nlive - at : slots;
		memcpy(f.b, orig, f.len);
		for (size_t i = 0; i < k; i++)
			put_le(slot[i], live[at + i], 8);
		raw_save(&f);
		said s;
		int got = pages_check(&s);
		cr_assert_eq(got, (int)k,
			     "pages %llu..%llu on the free list: %d named: %s",
			     (unsigned long long)live[at],
			     (unsigned long long)live[at + k - 1], got,
			     s.line[0]);
		for (int i = 0; i < s.n && i < 20; i++)
			cr_assert(strstr(s.line[i], "is on the free list"),
				  "%s", s.line[i]);
	}
	memcpy(f.b, orig, f.len);
	raw_save(&f);
	free(slot);
	free(live);
	free(l);
	free(is_free);
	free(orig);
	free(f.b);
}

/* pages.c:84 (19 problems said instead of 20) and :368 (19 passed on):
 * 25 pages in use on the free list are 25 problems, the first 20 said
 * one by one; verify tells the 5 others in a line of their own. */
Test(verify_audit, twenty_page_problems_are_said_and_the_rest_counted)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint8_t *is_free = calloc(f.last_pg + 1, 1);
	idls *l = calloc(1, sizeof *l);
	cr_assert(is_free && l);
	free_list(&f, l, is_free);
	size_t put = 0;
	uint64_t pg = 2;
	for (size_t r = 0; r < l->n && put < 25; r++) {
		uint64_t n = le(l->rec[r].ids, 8);
		for (uint64_t i = 1; i <= n && put < 25; i++) {
			while (is_free[pg])
				pg++;
			cr_assert_leq(pg, f.last_pg);
			put_le(l->rec[r].ids + 8 * i, pg++, 8);
			put++;
		}
	}
	cr_assert_eq(put, 25);
	raw_save(&f);
	said s;
	cr_assert_eq(pages_check(&s), 25);
	cr_assert_eq(s.n, 20, "said one by one: %d", s.n);
	/* verify: 20 lines, then one of the rest */
	tl_db *db = open_with(NULL, 0, TL_OPEN_RDONLY);
	problems ps = { 0 };
	tl_err err;
	int rc = tl_verify_log(db, &admin, keep, &ps, &err);
	cr_assert(rc >= 25 || rc == TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(ps.text, "pages: and 5 more problems of the file's "
				  "pages\n"),
		  "%s", ps.text);
	int lines = 0;
	for (const char *p = ps.text; (p = strstr(p, "is on the free list"));
	     p++)
		lines++;
	cr_assert_eq(lines, 20, "%s", ps.text);
	tl_db_close(db);
	free(l);
	free(is_free);
	free(f.b);
}

/* pages.c:109 (a page reached twice not seen), :116 (the tree that
 * reached a page first not noted), :175 (a named database named as the
 * main one), :309 (the free list walked as the main database): a named
 * database whose root is another's is named, both by name. */
Test(verify_audit, a_page_reached_by_two_databases_names_both)
{
	pages_ws();
	rawf f;
	named d;
	raw_load(&f);
	named_dbs(&f, &d);
	size_t a = d.n, b = d.n;
	for (size_t i = 0; i < d.n; i++) {
		if (db_root(d.rec[i]) == UINT64_MAX ||
		    strncmp(d.name[i], "v.", 2))
			continue;
		if (a == d.n)
			a = i;
		else {
			b = i;
			break;
		}
	}
	cr_assert_lt(b, d.n, "two views' databases");
	uint64_t root = db_root(d.rec[a]);
	put_le(d.rec[b] + 40, root, 8);
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: page %llu is reached twice (by database '%s' and "
		 "database '%s')",
		 (unsigned long long)root, d.name[a], d.name[b]);
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

/* A tree page of a view's database damaged in its header by change(),
 * said as exactly fmt (formatted with the page, the database's name and
 * the page again). */
static void damaged_header(void (*change)(uint8_t *p), const char *fmt)
{
	pages_ws();
	rawf f;
	named d;
	const char *name;
	raw_load(&f);
	uint64_t pg = a_view_leaf(&f, &d, &name);
	change(page(&f, pg));
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want, fmt, (unsigned long long)pg, name,
		 (unsigned long long)pg);
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

static void number_changed(uint8_t *p)
{
	put_le(p, le(p, 8) + 1, 8);
}

/* pages.c:199 (a page's own number not checked): a leaf that says it is
 * another page is named. */
Test(verify_audit, a_page_of_another_number_is_named)
{
	/* the number printed is the page's own plus one */
	pages_ws();
	rawf f;
	named d;
	const char *name;
	raw_load(&f);
	uint64_t pg = a_view_leaf(&f, &d, &name);
	number_changed(page(&f, pg));
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: page %llu of database '%s' is not a page of its "
		 "tree (number %llu, flags 0x2)",
		 (unsigned long long)pg, name, (unsigned long long)pg + 1);
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

static void lower_in_header(uint8_t *p)
{
	put_le(p + 12, 8, 2);
}

static void upper_past_page(uint8_t *p)
{
	put_le(p + 14, PS + 8, 2);
}

static void no_kind(uint8_t *p)
{
	put_le(p + 10, 0, 2);
}

static void node_below_upper(uint8_t *p)
{
	put_le(p + 16, le(p + 14, 2) - 2, 2);
}

/* pages.c:199 (lower under the header not checked): named as not a page
 * of its tree. */
Test(verify_audit, a_lower_bound_inside_the_header_is_named)
{
	damaged_header(lower_in_header,
		       "pages: page %llu of database '%s' is not a page of its "
		       "tree (number %llu, flags 0x2)");
}

/* pages.c:200 (upper past the page not checked). */
Test(verify_audit, an_upper_bound_past_the_page_is_named)
{
	damaged_header(upper_past_page,
		       "pages: page %llu of database '%s' is not a page of its "
		       "tree (number %llu, flags 0x2)");
}

/* pages.c:200 (a page neither branch nor leaf not checked). */
Test(verify_audit, a_page_of_no_kind_is_named)
{
	damaged_header(no_kind,
		       "pages: page %llu of database '%s' is not a page of its "
		       "tree (number %llu, flags 0x0)");
}

/* pages.c:212 (a node's offset under the page's upper bound not
 * checked). */
Test(verify_audit, a_node_in_the_free_space_of_its_page_is_named)
{
	damaged_header(node_below_upper,
		       "pages: page %llu of database '%s' has a node outside it");
}

/* The first node of a big value (F_BIGDATA) in a named database other
 * than events: its overflow page, and the database's name. */
typedef struct big {
	uint64_t pg;
	char name[64];
	const char *in;
} big;

static void note_big(rawf *f, uint8_t *p, uint8_t *node, void *arg)
{
	(void)p;
	big *b = arg;
	if (!b->pg && (le(node + 4, 2) & NODE_BIG))
		b->pg = le(node + 8 + le(node + 6, 2), 8);
}

static uint64_t a_big_value(rawf *f, char name[64])
{
	named d;
	named_dbs(f, &d);
	for (size_t i = 0; i < d.n; i++) {
		uint64_t root = db_root(d.rec[i]);
		if (root == UINT64_MAX || !strcmp(d.name[i], "events"))
			continue;
		big b = { 0 };
		leaves(f, root, note_big, &b);
		if (b.pg) {
			snprintf(name, 64, "%s", d.name[i]);
			return b.pg;
		}
	}
	cr_assert_fail("no big value");
	return 0;
}

/* pages.c:146: an overflow page whose header is not an overflow page's
 * (its flag, :146's first test dropped; its number, the second) is
 * named. */
Test(verify_audit, an_overflow_page_that_is_not_one_is_named)
{
	pages_ws();
	rawf f;
	char name[64], want[300];
	raw_load(&f);
	uint8_t *orig = malloc(f.len);
	cr_assert(orig);
	memcpy(orig, f.b, f.len);
	uint64_t pg = a_big_value(&f, name);
	uint8_t *p = page(&f, pg);
	cr_assert(le(p + 10, 2) & PG_OVERFLOW);
	cr_assert_geq(le(p + 12, 4), 3, "9,000 bytes: three pages");
	snprintf(want, sizeof want,
		 "pages: page %llu of database '%s' is not the overflow page "
		 "its node says",
		 (unsigned long long)pg, name);
	for (int i = 0; i < 3; i++) {
		memcpy(f.b, orig, f.len);
		if (i == 0)
			put_le(p + 10, PG_LEAF, 2); /* not an overflow page */
		else if (i == 1)
			put_le(p, pg + 1, 8); /* another page's number */
		else
			put_le(p + 12, 0, 4); /* of no pages */
		raw_save(&f);
		said s;
		cr_assert_eq(pages_check(&s), 1, "%d: %s", i, s.line[0]);
		cr_assert_str_eq(s.line[0], want, "%d", i);
	}
	free(orig);
	free(f.b);
}

/* Not a mutant: a bug the audit found.  A meta page (0 or 1) on the
 * free list, which LMDB would hand out and then abort on (`root > 1`),
 * and a page the list names twice, which two writes could take, are
 * named (pages.c before 0.3.36 said nothing of either). */
Test(verify_audit, a_meta_page_or_a_page_named_twice_on_the_free_list_is_named)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint8_t *is_free = calloc(f.last_pg + 1, 1);
	idls *l = calloc(1, sizeof *l);
	cr_assert(is_free && l);
	free_list(&f, l, is_free);
	uint8_t *slot[4];
	size_t slots = 0;
	for (size_t r = 0; r < l->n && slots < 4; r++) {
		uint64_t n = le(l->rec[r].ids, 8);
		for (uint64_t i = 1; i <= n && slots < 4; i++)
			slot[slots++] = l->rec[r].ids + 8 * i;
	}
	cr_assert_eq(slots, 4, "a free list of %zu pages", slots);
	put_le(slot[0], 1, 8);
	put_le(slot[1], 0, 8);
	put_le(slot[3], le(slot[2], 8), 8);
	uint64_t twice = le(slot[2], 8);
	raw_save(&f);
	said s;
	int got = pages_check(&s);
	cr_assert_eq(got, 3, "%d problems: %s", got, s.line[0]);
	char want[96];
	int meta = 0, dup = 0;
	snprintf(want, sizeof want, "names page %llu twice",
		 (unsigned long long)twice);
	for (int i = 0; i < s.n; i++) {
		meta += strstr(s.line[i], "a meta page") != NULL;
		dup += strstr(s.line[i], want) != NULL;
	}
	cr_assert_eq(meta, 2, "%s | %s", s.line[0], s.line[1]);
	cr_assert_eq(dup, 1, "%s", s.line[2]);
	free(l);
	free(is_free);
	free(f.b);
}

/* pages.c:319 (a record of the free list that counts one page more than
 * it holds read past its end, `/ 8` for `/ 8 - 1`): named malformed. */
Test(verify_audit, a_free_list_record_counting_past_its_end_is_named)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint8_t *is_free = calloc(f.last_pg + 1, 1);
	idls *l = calloc(1, sizeof *l);
	cr_assert(is_free && l);
	free_list(&f, l, is_free);
	cr_assert_gt(l->n, 0);
	put_le(l->rec[0].ids, l->rec[0].size / 8, 8);
	raw_save(&f);
	said s;
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0],
			 "pages: a record of the free list is malformed");
	free(l);
	free(is_free);
	free(f.b);
}

/* pages.c:323 (`i = 0`: a record's count read as a page number): a
 * record that counts fewer pages than it has room for, its count the
 * number of a page in use, has no problem. */
Test(verify_audit, a_free_list_count_is_no_page)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint8_t *is_free = calloc(f.last_pg + 1, 1);
	idls *l = calloc(1, sizeof *l);
	cr_assert(is_free && l);
	free_list(&f, l, is_free);
	uint64_t used = 2;
	while (is_free[used])
		used++;
	size_t r = 0;
	for (size_t i = 1; i < l->n; i++)
		if (le(l->rec[i].ids, 8) > le(l->rec[r].ids, 8))
			r = i;
	cr_assert_geq(le(l->rec[r].ids, 8), used,
		      "a record of %llu pages, page %llu in use",
		      (unsigned long long)le(l->rec[r].ids, 8),
		      (unsigned long long)used);
	put_le(l->rec[r].ids, used, 8);
	raw_save(&f);
	said s;
	cr_assert_eq(pages_check(&s), 0, "%s", s.line[0]);
	free(l);
	free(is_free);
	free(f.b);
}

/* pages.c:338 (a free list LMDB cannot read not said): a root page of the
 * free list of no kind is named, and so is the list that cannot be
 * read. */
Test(verify_audit, a_free_list_that_cannot_be_read_is_named)
{
	pages_ws();
	rawf f;
	raw_load(&f);
	uint64_t root = free_root(&f);
	cr_assert_neq(root, UINT64_MAX);
	put_le(page(&f, root) + 10, 0, 2);
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: page %llu of the free list is not a page of its tree "
		 "(number %llu, flags 0x0)",
		 (unsigned long long)root, (unsigned long long)root);
	cr_assert_eq(pages_check(&s), 2, "%s\n%s", s.line[0], s.line[1]);
	cr_assert_str_eq(s.line[0], want);
	cr_assert(strstr(s.line[1], "pages: the free list cannot be read: "),
		  "%s", s.line[1]);
	free(f.b);
}

/* The main database's leaf node of named database `name`'s record. */
static uint8_t *named_node(rawf *f, named *d, size_t i)
{
	return d->rec[i] - 8 - strlen(d->name[i]);
}

/* pages.c:172 (a named database's record of another size than an
 * MDB_db's not checked): named, and its root not followed. */
Test(verify_audit, a_named_database_record_of_another_size_is_named)
{
	pages_ws();
	rawf f;
	named d;
	raw_load(&f);
	named_dbs(&f, &d);
	size_t i = 0;
	while (i < d.n && (strncmp(d.name[i], "v.", 2) ||
			   db_root(d.rec[i]) == UINT64_MAX))
		i++;
	cr_assert_lt(i, d.n);
	uint8_t *node = named_node(&f, &d, i);
	cr_assert_eq(le(node, 2), 48);
	put_le(node, 40, 2); /* 40 bytes: its root still inside the page */
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: page %llu of the main database holds a node that "
		 "does not fit it",
		 (unsigned long long)first_leaf(&f, main_root(&f)));
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

/* pages.c:178 (a leaf node whose value runs past its page not checked):
 * named. */
Test(verify_audit, a_value_past_its_page_is_named)
{
	pages_ws();
	rawf f;
	named d;
	const char *name;
	raw_load(&f);
	uint64_t pg = a_view_leaf(&f, &d, &name);
	uint8_t *p = page(&f, pg);
	uint8_t *node = p + le(p + 16, 2);
	cr_assert_eq(le(node + 4, 2) & (NODE_BIG | NODE_SUB), 0);
	put_le(node, PS, 2); /* a value of 4,096 bytes */
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: page %llu of database '%s' holds a node that does "
		 "not fit it",
		 (unsigned long long)pg, name);
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

/* pages.c:102 (`>` for `>=`: the page at the file's end read, past the
 * map): a tree whose root is the first page past the end of the file,
 * under the last page in use, is named, and nothing past the file is
 * read. */
Test(verify_audit, a_root_at_the_end_of_the_file_is_named_unread)
{
	pages_ws();
	rawf f;
	named d;
	raw_load(&f);
	uint64_t npages = f.len / PS;
	cr_assert_leq(f.last_pg, npages - 1 + 8);
	put_le(f.meta + 120, npages + 8, 8); /* pages left unwritten */
	named_dbs(&f, &d);
	size_t i = 0;
	while (i < d.n && (strncmp(d.name[i], "v.", 2) ||
			   db_root(d.rec[i]) == UINT64_MAX))
		i++;
	cr_assert_lt(i, d.n);
	put_le(d.rec[i] + 40, npages, 8);
	raw_save(&f);
	said s;
	char want[300];
	snprintf(want, sizeof want,
		 "pages: database '%s' reaches page %llu, past the end of the "
		 "file (%llu pages)",
		 d.name[i], (unsigned long long)npages,
		 (unsigned long long)npages);
	cr_assert_eq(pages_check(&s), 1, "%s", s.line[0]);
	cr_assert_str_eq(s.line[0], want);
	free(f.b);
}

/* pages.c:381 (an error of the check returned as its count of problems,
 * 0): the file that cannot be mapped (here: the address space is full)
 * is an error, not a clean file. */
Test(verify_audit, a_file_that_cannot_be_mapped_is_an_error)
{
	pages_ws();
	cr_assert_gt(f_size_of_data(), 512 * 1024);
#ifdef TL_SANITIZER
	rmws(); /* Criterion's skip runs no fini */
	cr_skip_test("a sanitizer's address space is not limited");
#else
	tl_db *db = open_with(NULL, 0, TL_OPEN_RDONLY);
	said s = { 0 };
	tl_err err = { 0 };
	/* the heap's room for the check's small allocations, given back */
	void *room = malloc(256 * 1024);
	cr_assert(room);
	memset(room, 1, 256 * 1024);
	free(room);
	struct rlimit was, now;
	cr_assert_eq(getrlimit(RLIMIT_AS, &was), 0);
	FILE *statm = fopen("/proc/self/statm", "r");
	unsigned long vm = 0;
	cr_assert(statm && fscanf(statm, "%lu", &vm) == 1);
	fclose(statm);
	now = was;
	now.rlim_cur = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + 512 * 1024;
	cr_assert_eq(setrlimit(RLIMIT_AS, &now), 0);
	int rc = tl_pages_check(db, say_fn, &s, NULL, NULL, &err);
	cr_assert_eq(setrlimit(RLIMIT_AS, &was), 0);
	cr_assert_lt(rc, 0, "%d problems", rc);
	cr_assert_str_eq(err.message, "pages: cannot map data.mdb");
	tl_db_close(db);
#endif
}

/* LMDB's table of readers saying commit 0, as an open that failed on
 * data.mdb after it set lock.mdb up (alone) left it for the processes
 * that joined meanwhile.  LMDB numbers a write transaction from that
 * table and builds it on meta page 0: committed, it rolled the log back
 * a commit or two (an acknowledged task gone once the processes closed).
 * A write is refused there, in this process and another, and nothing is
 * lost; the check of the pages says why at once (0.3.48: it tried 21
 * times, then "the workspace changed under every try"); once every
 * process has closed it, the next open sets the table anew. */
Test(verify_audit, a_reader_table_behind_the_file_refuses_writes)
{
	tl_err err;
	tl_db *db = open_with(NULL, 0, TL_OPEN_CREATE);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	add_task(db, "One", NULL);
	add_task(db, "Two", NULL);
	tl_stats st;
	cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s", err.message);
	uint64_t head = st.last_seq;
	MDB_envinfo info;
	cr_assert_eq(mdb_env_info(db->env, &info), 0);
	/* the last commit in the table (LMDB 0.9's MDB_txninfo: magic,
	 * format, the readers' mutex, then the txnid), checked first */
	char path[512];
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	size_t at = 8 + sizeof(pthread_mutex_t);
	uint8_t *lock = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			     fd, 0);
	cr_assert_neq(lock, MAP_FAILED);
	uint64_t txnid;
	memcpy(&txnid, lock + at, 8);
	if (txnid != (uint64_t)info.me_last_txnid) { /* another build */
		munmap(lock, 4096);
		tl_db_close(db);
		close(fd); /* after: its close drops the process's locks */
		cr_skip_test("lock.mdb is not laid out as this test knows");
	}
	memset(lock + at, 0, 8);

	pid_t pid = fork(); /* a writer of another process */
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		tl_open_opts o = { 0 };
		tl_db *w;
		tl_cmd cmd = { .kind = TL_TASK_ADD, .title = tl_s("Lost"),
			       .link = tl_s("lead:1") };
		if (tl_db_open(dir, &o, &w, &err))
			_exit(10);
		int rc = tl_exec(w, &admin, &cmd, 1, NULL, &err);
		_exit(rc != TL_ESTORAGE ? 11
		      : !strstr(err.message, "a write now would lose commits")
			      ? 12 : 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the other process's write: %d", status);
	tl_cmd cmd = { .kind = TL_TASK_ADD, .title = tl_s("Lost too"),
		       .link = tl_s("lead:1") };
	cr_assert_eq(tl_exec(db, &admin, &cmd, 1, NULL, &err), TL_ESTORAGE);
	cr_assert(strstr(err.message, "stop every process that has the "
				      "workspace open"), "%s", err.message);
	said s = { 0 };
	cr_assert_eq(tl_pages_check(db, say_fn, &s, NULL, NULL, &err),
		     TL_ESTORAGE);
	cr_assert(strstr(err.message, "pages: LMDB's table of readers "
				      "(lock.mdb) is behind"),
		  "%s", err.message);
	munmap(lock, 4096);
	tl_db_close(db);
	close(fd); /* after: its close drops the process's locks */

	db = open_with(NULL, 0, 0); /* alone: the table set anew */
	cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s", err.message);
	cr_assert_eq(st.last_seq, head);
	cr_assert_eq(st.tasks, 2);
	add_task(db, "Three", NULL);
	cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s", err.message);
	cr_assert_eq(st.last_seq, head + 1);
	tl_db_close(db);
}
