/*
 * unit_bulk_audit.c - tests a mutation audit of engine/bulk.c (a
 * rebuild's write buffer, the "sink": puts sorted in memory, spilled to
 * sorted runs past tl_rebuild_mem, merged and written with MDB_APPEND)
 * found missing: each fails on one mutant that the other tests let pass,
 * and passes on the code as it is.
 *
 * Every test gets a fresh directory under /tmp, removed by the fixture's
 * fini: most open a bare LMDB environment there (also the sink's spill
 * directory) and drive a sink directly; the last ones make a workspace
 * there (tl_db_open) and rebuild it.  Globals a test changes
 * (tl_rebuild_mem, tl_sink_txn_bytes, RLIMIT_FSIZE, ...) are set back;
 * Criterion runs each test in a process of its own anyway.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* readlink; PATH_MAX in internal.h */
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lmdb.h>

#include "internal.h"
#include "tasklog_projections.h"
#include "testutil.h"

static char *dir;
static MDB_env *env;

static void setup(void)
{
	dir = tu_tmpdir();
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, (size_t)256 << 20), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_NOSYNC, 0644), 0);
}

static void teardown(void)
{
	mdb_env_close(env);
	cr_assert_eq(tu_rmrf(dir), 0);
	free(dir);
	dir = NULL;
}

static MDB_dbi db_open(MDB_txn *txn, const char *name, unsigned flags)
{
	MDB_dbi dbi;
	cr_assert_eq(mdb_dbi_open(txn, name, MDB_CREATE | flags, &dbi), 0);
	return dbi;
}

static void put(MDB_txn *txn, MDB_dbi dbi, const char *k, const char *v)
{
	MDB_val key = { strlen(k), (void *)k }, val = { strlen(v), (void *)v };
	cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
}

/* The database's entries as "k=v,k=v,", in key order. */
static void dump(MDB_txn *txn, MDB_dbi dbi, char *out, size_t n)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t o = 0;
	out[0] = '\0';
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int w = snprintf(out + o, n - o, "%.*s=%.*s,", (int)k.mv_size,
				 (char *)k.mv_data, (int)v.mv_size,
				 (char *)v.mv_data);
		cr_assert(w > 0 && (size_t)w < n - o);
		o += (size_t)w;
	}
	mdb_cursor_close(c);
}

static void sink_put(tl_sink *s, const char *k, const char *v)
{
	cr_assert_eq(tl_sink_put(s, 0, k, strlen(k), v, strlen(v)), 0);
}

/* Mutant: sink_op refuses klen >= TL_KEY_MAX (was > TL_KEY_MAX).  A key
 * of LMDB's maximum size, 511 bytes, is taken and written. */
Test(bulk_audit, a_key_of_the_maximum_size_is_written, .init = setup,
     .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	uint8_t k[TL_KEY_MAX];
	memset(k, 'k', sizeof k);
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	cr_assert_eq(tl_sink_put(s, 0, k, sizeof k, "v", 1), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	MDB_val key = { sizeof k, k }, val;
	cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0);
	cr_assert_eq(val.mv_size, 1);
	mdb_txn_abort(txn);
	tl_sink_free(s);
}

/* Mutant: sink_op takes a deletion in an MDB_DUPSORT database (the
 * `del && MDB_DUPSORT` refusal dropped).  A deletion there would remove
 * every value of the key, which the merge (one operation per key
 * outside MDB_DUPSORT only) cannot order against the puts: refused. */
Test(bulk_audit, a_deletion_in_a_dupsort_database_is_refused,
     .init = setup, .fini = teardown)
{
	unsigned flags[2] = { MDB_DUPSORT, 0 };
	tl_sink *s = tl_sink_new("t", flags, 2);
	cr_assert(s);
	cr_assert_eq(tl_sink_put(s, 0, "k", 1, "v", 1), 0);
	cr_assert_eq(tl_sink_del(s, 0, "k", 1), TL_EINVALID);
	cr_assert_eq(tl_sink_del(s, 1, "k", 1), 0);
	tl_sink_free(s);
}

/* Mutant: sink_op doubles the arena's capacity once (`if`) instead of
 * until the record fits (`while`): a first put of 1 MiB would overrun
 * a 128 KiB arena.  The sink then holds at least the bytes put, and
 * writes them back. */
Test(bulk_audit, a_first_put_larger_than_twice_the_arena_fits,
     .init = setup, .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	size_t big = (size_t)1 << 20;
	uint8_t *v = malloc(big);
	cr_assert(v);
	for (size_t i = 0; i < big; i++)
		v[i] = (uint8_t)(i * 13 + 1);
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	cr_assert_eq(tl_sink_put(s, 0, "big", 3, v, big), 0);
	cr_assert_geq(tl_sink_held(s), big + 3, "%zu bytes held",
		      tl_sink_held(s));
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	MDB_val key = { 3, "big" }, val;
	cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0);
	cr_assert_eq(val.mv_size, big);
	cr_assert_eq(memcmp(val.mv_data, v, big), 0);
	mdb_txn_abort(txn);
	tl_sink_free(s);
	free(v);
}

/* Mutant: a put does not mark the database unsorted (`d->sorted =
 * false` dropped from sink_op).  Puts after tl_sink_sort (the rebuild
 * sorts in a second thread) must be sorted again before the write: else
 * they go out of order with MDB_APPEND and the write fails. */
Test(bulk_audit, puts_after_a_sort_are_sorted_again, .init = setup,
     .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	char out[256];
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	sink_put(s, "d", "4");
	sink_put(s, "b", "2");
	cr_assert_eq(tl_sink_sort(s), 0);
	sink_put(s, "c", "3");
	sink_put(s, "a", "1");
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	dump(txn, dbi, out, sizeof out);
	cr_assert_str_eq(out, "a=1,b=2,c=3,d=4,");
	mdb_txn_abort(txn);
	tl_sink_free(s);
}

/* Mutant: view_write spills any sink past tl_rebuild_mem, not only a
 * rebuild's (`vc->rebuilding &&` dropped).  The append path's sinks
 * (TL_VIEW_BLIND views) are rolled back with tl_sink_mark/rollback when
 * a nested transaction aborts, which cannot take back a spilled run:
 * they never spill, and a rolled back put is not written. */
Test(bulk_audit, an_append_sink_never_spills_and_rolls_back,
     .init = setup, .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	char out[256];
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	tl_rebuild_mem = 1;
	unsigned long spills = atomic_load(&tl_sink_spills);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	tl_view_ctx vc = { NULL, txn, &dbi, false, "t", s, NULL, NULL, 0 };
	cr_assert_eq(tl_view_put(&vc, 0, "a", 1, "1", 1, &err), 0, "%s",
		     err.message);
	tl_sink_mark(s);
	cr_assert_eq(tl_view_put(&vc, 0, "b", 1, "2", 1, &err), 0, "%s",
		     err.message);
	tl_sink_rollback(s);
	cr_assert_eq(atomic_load(&tl_sink_spills), spills);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	dump(txn, dbi, out, sizeof out);
	cr_assert_str_eq(out, "a=1,");
	mdb_txn_abort(txn);
	tl_sink_free(s);
	tl_rebuild_mem = (size_t)256 << 20;
}

/* Mutant: tl_sink_rollback leaves s->bytes as it was (the restore of
 * mark.bytes dropped).  Rolled back to an empty mark, the sink is empty
 * again (tl_views_flush then skips it). */
Test(bulk_audit, a_rollback_to_an_empty_mark_leaves_the_sink_empty,
     .init = setup, .fini = teardown)
{
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	cr_assert(tl_sink_empty(s));
	tl_sink_mark(s);
	sink_put(s, "a", "1");
	cr_assert_not(tl_sink_empty(s));
	tl_sink_rollback(s);
	cr_assert(tl_sink_empty(s));
	tl_sink_free(s);
}

/* Mutant: tl_sink_empty looks at memory alone (`&& s->fsize == 0`
 * dropped).  A sink whose operations all went to a sorted run is not
 * empty; its write empties it. */
Test(bulk_audit, a_sink_spilled_whole_is_not_empty, .init = setup,
     .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	char out[256];
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	sink_put(s, "a", "1");
	cr_assert_eq(tl_sink_spill(s, &err), 0, "%s", err.message);
	cr_assert_not(tl_sink_empty(s));
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	cr_assert(tl_sink_empty(s));
	dump(txn, dbi, out, sizeof out);
	cr_assert_str_eq(out, "a=1,");
	mdb_txn_abort(txn);
	tl_sink_free(s);
}

/* Mutant: tl_sink_new refuses ndbs >= TL_VIEW_DBS_MAX (was >).  A view
 * of the most databases allowed gets a sink; one more is refused. */
Test(bulk_audit, a_sink_takes_the_most_databases_a_view_has,
     .init = setup, .fini = teardown)
{
	tl_sink *s = tl_sink_new("t", NULL, TL_VIEW_DBS_MAX);
	cr_assert(s);
	cr_assert_eq(tl_sink_put(s, TL_VIEW_DBS_MAX - 1, "k", 1, "v", 1), 0);
	cr_assert_eq(tl_sink_put(s, TL_VIEW_DBS_MAX, "k", 1, "v", 1),
		     TL_EINVALID);
	tl_sink_free(s);
	cr_assert_null(tl_sink_new("t", NULL, TL_VIEW_DBS_MAX + 1));
}

/* The spill file of a sink: the one descriptor of this process open on
 * a deleted file in dir. */
static int spill_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;
	cr_assert(d);
	while ((e = readdir(d))) {
		char p[300], t[PATH_MAX];
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(p, t, sizeof t - 1);
		if (n <= 0)
			continue;
		t[n] = '\0';
		if (!strncmp(t, dir, strlen(dir)) && strstr(t, "(deleted)")) {
			cr_assert_eq(found, -1, "two spill files");
			found = atoi(e->d_name);
		}
	}
	closedir(d);
	cr_assert_geq(found, 0, "no spill file");
	return found;
}

/* Mutants: write_db ignores a failed read of its runs (`if (g.err)
 * return run_err(...)` dropped), and run_fill takes a read that returns
 * no bytes for a success (`return r < 0 ? errno : EIO` made `return
 * 0`).  A spill file cut short under the sink (a full or failing disk,
 * another process) makes the write fail as a storage error, the view
 * not silently missing its records or written from stale bytes. */
Test(bulk_audit, a_spill_file_cut_short_fails_the_write, .init = setup,
     .fini = teardown)
{
	MDB_txn *txn;
	tl_err err = { 0 };
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	for (int i = 0; i < 2000; i++) {
		char k[16], v[32];
		snprintf(k, sizeof k, "key%06d", i);
		snprintf(v, sizeof v, "value of key %d", i);
		sink_put(s, k, v);
	}
	cr_assert_eq(tl_sink_spill(s, &err), 0, "%s", err.message);
	sink_put(s, "key001000x", "in memory");
	int fd = spill_fd();
	off_t size = lseek(fd, 0, SEEK_END);
	cr_assert_gt(size, 40000);
	cr_assert_eq(ftruncate(fd, size / 2 + 3), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	int rc = tl_sink_write(s, NULL, &txn, false, &dbi, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "rc %d", rc);
	cr_assert(strstr(err.message, "reading its sorted runs"), "%s",
		  err.message);
	mdb_txn_abort(txn);
	tl_sink_free(s);
}

/* Mutant: buf_grow maps a reservation of tl_sink_reserve bytes for a
 * first buffer larger than it (`ncap <= r` dropped), and the record is
 * copied past the mapping's end.  A first put larger than the
 * reservation goes on the heap, whole. */
Test(bulk_audit, a_first_put_larger_than_the_reservation_goes_whole,
     .init = setup, .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	size_t big = (size_t)4 << 20;
	uint8_t *v = malloc(big);
	cr_assert(v);
	for (size_t i = 0; i < big; i++)
		v[i] = (uint8_t)(i * 7 + 3);
	tl_sink_reserve = 64 * 1024;
	tl_sink *s = tl_sink_new("t", NULL, 1);
	cr_assert(s);
	cr_assert_eq(tl_sink_put(s, 0, "big", 3, v, big), 0);
	sink_put(s, "a", "1");
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "bulk", 0);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &dbi, &err), 0, "%s",
		     err.message);
	MDB_val key = { 3, "big" }, val;
	cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0);
	cr_assert_eq(val.mv_size, big);
	for (size_t i = 0; i < big; i++)
		cr_assert_eq(((uint8_t *)val.mv_data)[i], (uint8_t)(i * 7 + 3),
			     "byte %zu", i);
	mdb_txn_abort(txn);
	tl_sink_free(s);
	free(v);
	tl_sink_reserve = (size_t)4 << 30;
}

/* Mutant: view_write without a sink fails a deletion of an absent key
 * (`!(del && rc == MDB_NOTFOUND)` dropped).  tl_view_del is documented
 * for absent keys too: directly as through a sink. */
Test(bulk_audit, a_direct_deletion_of_an_absent_key_is_fine,
     .init = setup, .fini = teardown)
{
	MDB_txn *txn;
	tl_err err;
	char out[256];
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi = db_open(txn, "direct", 0);
	put(txn, dbi, "a", "1");
	tl_view_ctx vc = { NULL, txn, &dbi, false, "t", NULL, NULL, NULL, 0 };
	cr_assert_eq(tl_view_del(&vc, 0, "b", 1, &err), 0, "%s", err.message);
	cr_assert_eq(tl_view_put(&vc, 0, "c", 1, "3", 1, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_view_del(&vc, 0, "a", 1, &err), 0, "%s", err.message);
	dump(txn, dbi, out, sizeof out);
	cr_assert_str_eq(out, "c=3,");
	mdb_txn_abort(txn);
}

/* ---- through a workspace ------------------------------------------------ */

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

static tl_db *ws_open(void)
{
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .views = tl_views_all(&n) };
	o.views_len = n;
	tl_db *db;
	tl_err err;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	tl_ctx ctx = { .actor = "admin" };
	for (int i = 0; i < 300; i++) {
		char title[32];
		snprintf(title, sizeof title, "Task %d", i);
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
			     .link = tl_s("lead:1") };
		tl_result r;
		cr_assert_eq(tl_exec(db, &ctx, &c, 1, &r, &err), 0, "%s",
			     err.message);
		tl_result_release(&r);
	}
	return db;
}

/* LMDB transactions committed by a rebuild of every view. */
static size_t rebuild_commits(tl_db *db)
{
	tl_ctx ctx = { .actor = "admin" };
	tl_err err;
	MDB_envinfo a, b;
	cr_assert_eq(mdb_env_info(db->env, &a), 0);
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(mdb_env_info(db->env, &b), 0);
	return b.me_last_txnid - a.me_last_txnid;
}

/* Mutants: write_db renews its transaction only when not asked to
 * (`renew &&` made `!renew &&`), and it does not start counting again
 * after a renewal (`since = 0` dropped).  The sorted writes of a
 * rebuild's own transaction are committed every tl_sink_txn_bytes (so
 * that its dirty pages stay few), not never and not at every record
 * past the first bound: with a bound four times smaller the rebuild
 * commits about four times more often, and the views still verify. */
Test(bulk_audit, a_rebuilds_sorted_writes_commit_every_bound_of_bytes,
     .init = mkws, .fini = rmws)
{
	tl_db *db = ws_open();
	tl_ctx ctx = { .actor = "admin" };
	tl_err err;
	size_t plain = rebuild_commits(db);
	tl_sink_txn_bytes = 16384;
	size_t c16 = rebuild_commits(db) - plain;
	tl_sink_txn_bytes = 4096;
	size_t c4 = rebuild_commits(db) - plain;
	tl_sink_txn_bytes = TL_SINK_TXN_BYTES;
	cr_assert_gt(c4, 10, "%zu more commits at 4 KiB", c4);
	cr_assert_gt(c4, 2 * c16, "%zu more commits at 4 KiB, %zu at 16 KiB",
		     c4, c16);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

/* Mutant: tl_sink_spill goes on to the next database after one failed
 * (`!rc &&` dropped from its loop), and that database's result (0 when
 * it holds nothing) hides the failure.  A spill that cannot write a
 * database's run (here: past RLIMIT_FSIZE, EFBIG) is reported, whatever
 * the databases after it hold. */
Test(bulk_audit, a_spill_failing_in_one_database_is_reported,
     .init = setup, .fini = teardown)
{
	tl_err err = { 0 };
	tl_sink *s = tl_sink_new("t", NULL, 2);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	for (int i = 0; i < 4000; i++) {
		char k[16];
		snprintf(k, sizeof k, "key%06d", i);
		sink_put(s, k, "a value of some bytes");
	}
	struct rlimit was, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	lim = was;
	lim.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = tl_sink_spill(s, &err);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	cr_assert_eq(rc, TL_ESTORAGE, "rc %d", rc);
	cr_assert(strstr(err.message, "writing a sorted run"), "%s",
		  err.message);
	/* the limit named (since 0.3.51) */
	cr_assert(strstr(err.message, "ulimit -f"), "%s", err.message);
	tl_sink_free(s);
}
