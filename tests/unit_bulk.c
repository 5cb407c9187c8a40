/*
 * unit_bulk.c - the rebuild's sorted bulk writer (engine/bulk.c) against
 * plain mdb_put: the same puts, in the same order, through a sink into one
 * database and directly into another, must leave equal databases.  Keys
 * are chosen to reach every path of the sort: many of them (radix passes),
 * long shared prefixes (recursion at depth 8, 16, ...), keys that are
 * prefixes of others and keys with trailing zero bytes (length order), and
 * the same key put twice (the later value wins).  Large runs are split on
 * their leading bytes before they are radix sorted (tl_sort_cached): the
 * tests lower that bound to split many times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include "internal.h"

static char dir[64];
static MDB_env *env;
static uint64_t seed = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed % n);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/tl-bulk-XXXXXX");
	cr_assert(mkdtemp(dir));
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_NOSYNC, 0644), 0);
}

static void teardown(void)
{
	char cmd[128];
	mdb_env_close(env);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A key of 1 to 40 bytes from a small alphabet with a zero byte, over a
 * few shared prefixes of 0 to 24 bytes. */
static bool hashed; /* keys as the views make them: 8-byte hash first */

static size_t rand_key(uint8_t *k)
{
	if (hashed) {
		/* A hash of one of 20,000 records, then a short tail. */
		uint64_t x = rnd(20000) * 0x9e3779b97f4a7c15ull;
		x ^= x >> 29;
		for (int i = 0; i < 8; i++, x >>= 8)
			k[i] = (uint8_t)x;
		size_t n = 8 + rnd(9);
		for (size_t i = 8; i < n; i++)
			k[i] = (uint8_t)rnd(3);
		return n;
	}
	static const uint8_t prefix[24] = "tasklog-bulk-sort-prefix";
	size_t p = rnd(4) * 8, n = p + rnd(17);
	if (n == 0)
		n = 1;
	memcpy(k, prefix, p < n ? p : n);
	for (size_t i = p; i < n; i++)
		k[i] = (uint8_t)"\0abc\xff"[rnd(5)];
	return n;
}

static void compare(MDB_txn *txn, MDB_dbi a, MDB_dbi b, size_t *entries)
{
	MDB_cursor *ca, *cb;
	MDB_val ka, va, kb, vb;
	int ra, rb;
	*entries = 0;
	cr_assert_eq(mdb_cursor_open(txn, a, &ca), 0);
	cr_assert_eq(mdb_cursor_open(txn, b, &cb), 0);
	for (ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST),
	    rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
	     ra == 0 && rb == 0;
	     ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT),
	    rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT)) {
		cr_assert_eq(ka.mv_size, kb.mv_size, "entry %zu", *entries);
		cr_assert_eq(memcmp(ka.mv_data, kb.mv_data, ka.mv_size), 0,
			     "entry %zu", *entries);
		cr_assert_eq(va.mv_size, vb.mv_size, "entry %zu", *entries);
		cr_assert_eq(memcmp(va.mv_data, vb.mv_data, va.mv_size), 0,
			     "entry %zu", *entries);
		(*entries)++;
	}
	cr_assert_eq(ra, MDB_NOTFOUND);
	cr_assert_eq(rb, MDB_NOTFOUND, "the sink wrote fewer entries");
	mdb_cursor_close(ca);
	mdb_cursor_close(cb);
}

/* n random puts through a sink spilling a sorted run every `mem` bytes,
 * and directly; returns how many the sink wrote with plain puts (not
 * appends). */
static size_t run(size_t n, size_t mem)
{
	MDB_txn *txn;
	MDB_dbi direct, bulk;
	tl_err err;
	tl_sink *s = tl_sink_new("test", NULL, 1);
	cr_assert(s);
	tl_rebuild_mem = mem;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "direct", MDB_CREATE, &direct), 0);
	cr_assert_eq(mdb_dbi_open(txn, "bulk", MDB_CREATE, &bulk), 0);
	tl_view_ctx vc = { NULL, txn, &bulk, true, "test", s, NULL, NULL, 0 };
	for (size_t i = 0; i < n; i++) {
		uint8_t k[40];
		char v[32];
		size_t kl = rand_key(k);
		int vl = snprintf(v, sizeof v, "value %zu", i);
		MDB_val key = { kl, k }, val = { (size_t)vl, v };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(tl_view_put(&vc, 0, k, kl, v, (size_t)vl, &err),
			     0, "%s", err.message);
	}
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &bulk, &err), 0, "%s",
		     err.message);
	size_t entries;
	compare(txn, direct, bulk, &entries);
	cr_assert_gt(entries, n / 4, "keys should mostly differ");
	cr_assert_lt(entries, n, "some keys should repeat");
	size_t appended, inserted;
	tl_sink_counts(s, &appended, &inserted);
	/* Runs spilled past the bound are merged: each key written once. */
	cr_assert_eq(appended + inserted, entries);
	mdb_txn_abort(txn);
	tl_sink_free(s);
	return inserted;
}

Test(bulk, one_sorted_run_equals_direct_puts, .init = setup,
     .fini = teardown)
{
	/* Sorted right, every put of a single run into an empty database
	 * is an append. */
	cr_assert_eq(run(200000, (size_t)1 << 30), 0);
}

Test(bulk, many_runs_equal_direct_puts, .init = setup, .fini = teardown)
{
	/* A run spilled every ~1,300 puts: merged, every put is still an
	 * append (before 0.3.21 later runs were put among earlier keys). */
	unsigned long spills = atomic_load(&tl_sink_spills);
	cr_assert_eq(run(50000, 64 * 1024), 0);
	cr_assert_gt(atomic_load(&tl_sink_spills) - spills, 30);
	hashed = true;
	cr_assert_eq(run(50000, 64 * 1024), 0);
	hashed = false;
}

Test(bulk, small_runs_sort_by_comparison, .init = setup, .fini = teardown)
{
	cr_assert_eq(run(900, (size_t)1 << 30), 0);
	cr_assert_eq(run(3000, 2048), 0);
	cr_assert_eq(run(500, 1), 0); /* a run per put */
}

Test(bulk, bad_puts_are_refused, .init = setup, .fini = teardown)
{
	tl_sink *s = tl_sink_new("test", NULL, 1);
	uint8_t big[TL_KEY_MAX + 1] = { 0 };
	cr_assert_eq(tl_sink_put(s, 0, big, 0, "v", 1), TL_EINVALID);
	cr_assert_eq(tl_sink_put(s, 0, big, sizeof big, "v", 1), TL_EINVALID);
	cr_assert_eq(tl_sink_put(s, 1, big, 8, "v", 1), TL_EINVALID);
	cr_assert_eq(tl_sink_put(s, 0, big, 8, "v", 1), 0);
	tl_sink_free(s);
}

/* The buffers: in reserved address space, past it onto the heap, and on
 * the heap alone (as where a reservation fails): the same writes. */
Test(bulk, every_kind_of_buffer_writes_the_same, .init = setup,
     .fini = teardown)
{
	size_t keep = tl_sink_reserve;
	tl_sink_reserve = 256 * 1024; /* outgrown after ~5,000 puts */
	cr_assert_eq(run(60000, (size_t)1 << 30), 0);
	cr_assert_eq(run(50000, 64 * 1024), 0); /* spilled, reserved again */
	tl_sink_reserve = 0;
	cr_assert_eq(run(60000, (size_t)1 << 30), 0);
	tl_sink_reserve = (size_t)1 << 62; /* no such reservation: the heap */
	cr_assert_eq(run(60000, (size_t)1 << 30), 0);
	tl_sink_reserve = keep;
}

Test(bulk, split_runs_equal_direct_puts, .init = setup, .fini = teardown)
{
	/* Runs over tl_sort_cached items are split byte by byte first:
	 * force many levels of splits, on both kinds of keys. */
	size_t keep = tl_sort_cached;
	tl_sort_cached = 40;
	cr_assert_eq(run(60000, (size_t)1 << 30), 0);
	hashed = true;
	cr_assert_eq(run(60000, (size_t)1 << 30), 0);
	tl_sort_cached = keep;
	cr_assert_eq(run(300000, (size_t)1 << 30), 0);
	hashed = false;
}

/* Puts and deletions through a sink spilling every `mem` bytes, and the
 * same directly, into two databases that already hold the same `pre`
 * keys: a deletion in a later run cancels a put of an earlier one, a put
 * after a deletion stands, and keys of the database before are deleted
 * or replaced in place. */
static void mixed(size_t n, size_t mem, size_t pre, unsigned flags)
{
	MDB_txn *txn;
	MDB_dbi direct, bulk;
	tl_err err;
	tl_sink *s = tl_sink_new("test", &flags, 1);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	tl_rebuild_mem = mem;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "direct", MDB_CREATE | flags, &direct),
		     0);
	cr_assert_eq(mdb_dbi_open(txn, "bulk", MDB_CREATE | flags, &bulk), 0);
	for (size_t i = 0; i < pre; i++) {
		uint8_t k[40];
		char v[32];
		MDB_val key = { rand_key(k), k };
		MDB_val val = { (size_t)snprintf(v, sizeof v, "old %zu", i % 7),
				v };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(mdb_put(txn, bulk, &key, &val, 0), 0);
	}
	tl_view_ctx vc = { NULL, txn, &bulk, true, "test", s, NULL, NULL, 0 };
	unsigned long spills = atomic_load(&tl_sink_spills);
	for (size_t i = 0; i < n; i++) {
		uint8_t k[40];
		char v[32];
		size_t kl = rand_key(k);
		MDB_val key = { kl, k };
		if (!(flags & MDB_DUPSORT) && rnd(3) == 0) {
			int rc = mdb_del(txn, direct, &key, NULL);
			cr_assert(rc == 0 || rc == MDB_NOTFOUND);
			cr_assert_eq(tl_view_del(&vc, 0, k, kl, &err), 0, "%s",
				     err.message);
			continue;
		}
		/* Few values per key: the same pair is put again too. */
		int vl = snprintf(v, sizeof v, "value %zu", i % 5);
		MDB_val val = { (size_t)vl, v };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(tl_view_put(&vc, 0, k, kl, v, (size_t)vl, &err),
			     0, "%s", err.message);
	}
	if (mem < (size_t)1 << 30)
		cr_assert_gt(atomic_load(&tl_sink_spills) - spills, 2);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &bulk, &err), 0, "%s",
		     err.message);
	cr_assert(tl_sink_empty(s));
	size_t entries;
	compare(txn, direct, bulk, &entries);
	cr_assert_gt(entries, 0);
	mdb_txn_abort(txn);
	tl_sink_free(s);
}

Test(bulk, deletions_across_runs_equal_direct_operations, .init = setup,
     .fini = teardown)
{
	mixed(30000, (size_t)1 << 30, 0, 0);
	mixed(30000, 32 * 1024, 0, 0);
	mixed(30000, 32 * 1024, 5000, 0);
	mixed(3000, 1, 500, 0);
	hashed = true;
	mixed(30000, 16 * 1024, 5000, 0);
	hashed = false;
}

Test(bulk, duplicates_across_runs_equal_direct_puts, .init = setup,
     .fini = teardown)
{
	mixed(30000, (size_t)1 << 30, 0, MDB_DUPSORT);
	mixed(30000, 32 * 1024, 0, MDB_DUPSORT);
	mixed(30000, 32 * 1024, 5000, MDB_DUPSORT);
	mixed(2000, 1, 300, MDB_DUPSORT);
}

/* The spill file has no name: nothing is left in the directory, during
 * or after; a directory that cannot take it falls back to $TMPDIR; where
 * O_TMPFILE is not to be had, a named file is unlinked at once. */
Test(bulk, spilled_runs_leave_no_file, .init = setup, .fini = teardown)
{
	MDB_txn *txn;
	MDB_dbi bulk;
	tl_err err;
	for (int where = 0; where < 3; where++) {
		tl_sink *s = tl_sink_new("test", NULL, 1);
		tl_sink_spill_dir(s, where == 1 ? "/nonexistent/tasklog" : dir);
		tl_spill_named = where == 2;
		tl_rebuild_mem = 4096;
		cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
		cr_assert_eq(mdb_dbi_open(txn, "bulk", MDB_CREATE, &bulk), 0);
		tl_view_ctx vc = { NULL, txn, &bulk, true, "t", s, NULL, NULL,
				   0 };
		for (size_t i = 0; i < 5000; i++) {
			uint8_t k[40];
			size_t kl = rand_key(k);
			cr_assert_eq(tl_view_put(&vc, 0, k, kl, "v", 1, &err), 0,
				     "%s", err.message);
		}
		/* The workspace holds LMDB's two files alone; where the
		 * file went instead, no such name either. */
		char cmd[200];
		if (where == 1)
			snprintf(cmd, sizeof cmd,
				 "test $(ls -A \"${TMPDIR:-/tmp}\" | grep -c "
				 "'^\\.tasklog-sort') -eq 0");
		else
			snprintf(cmd, sizeof cmd,
				 "test $(ls -A '%s' | wc -l) -eq 2", dir);
		cr_assert_eq(system(cmd), 0, "a spill file has a name");
		cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &bulk, &err), 0, "%s",
			     err.message);
		cr_assert_eq(system(cmd), 0);
		size_t appended, inserted;
		tl_sink_counts(s, &appended, &inserted);
		cr_assert_eq(inserted, 0);
		cr_assert_gt(appended, 1000);
		mdb_txn_abort(txn);
		tl_sink_free(s);
	}
	tl_spill_named = false;
}

/* Values larger than a run's read buffer (256 KiB) and than the spill's
 * write buffer (1 MiB), among small ones, through many runs. */
Test(bulk, big_values_across_runs_equal_direct_puts, .init = setup,
     .fini = teardown)
{
	MDB_txn *txn;
	MDB_dbi direct, bulk;
	tl_err err;
	tl_sink *s = tl_sink_new("test", NULL, 1);
	tl_sink_spill_dir(s, dir);
	tl_rebuild_mem = 512 * 1024;
	size_t big = 1600 * 1024;
	uint8_t *v = malloc(big);
	cr_assert(v);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "direct", MDB_CREATE, &direct), 0);
	cr_assert_eq(mdb_dbi_open(txn, "bulk", MDB_CREATE, &bulk), 0);
	tl_view_ctx vc = { NULL, txn, &bulk, true, "test", s, NULL, NULL, 0 };
	unsigned long spills = atomic_load(&tl_sink_spills);
	for (size_t i = 0; i < 3000; i++) {
		uint8_t k[40];
		size_t kl = rand_key(k);
		size_t vl = i % 50 == 0 ? 200 * 1024 + rnd((uint32_t)big - 200 * 1024)
					: 1 + rnd(100);
		for (size_t j = 0; j < vl; j++)
			v[j] = (uint8_t)(i + j * 7);
		MDB_val key = { kl, k }, val = { vl, v };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(tl_view_put(&vc, 0, k, kl, v, vl, &err), 0, "%s",
			     err.message);
	}
	cr_assert_gt(atomic_load(&tl_sink_spills) - spills, 10);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &bulk, &err), 0, "%s",
		     err.message);
	size_t entries;
	compare(txn, direct, bulk, &entries);
	mdb_txn_abort(txn);
	tl_sink_free(s);
	free(v);
}

static uint64_t told_bytes;

static void tell_bytes(void *arg, uint64_t bytes)
{
	(void)arg;
	told_bytes += bytes;
}

/* A database written into holds `existing` entries (put before, in
 * random order, into it and into a twin); then `ops` puts and deletions
 * (new keys among the old, old keys put again, old and absent keys
 * deleted) go through a sink into it and directly into the twin, the
 * sink spilled to a sorted run every `spill_every` of them (0: never; as
 * a long transaction's deferred writes are between its requests).  Equal
 * after; returns its leaf pages, and the twin's in *direct_pages. */
static size_t into_existing_spilled(size_t existing, size_t ops,
				    size_t spill_every, size_t *direct_pages)
{
	MDB_txn *txn;
	MDB_dbi direct, bulk;
	tl_err err;
	tl_sink *s = tl_sink_new("test", NULL, 1);
	cr_assert(s);
	tl_sink_spill_dir(s, dir);
	tl_rebuild_mem = (size_t)1 << 30;
	hashed = true; /* keys spread over the whole range */
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "direct", MDB_CREATE, &direct), 0);
	cr_assert_eq(mdb_dbi_open(txn, "bulk", MDB_CREATE, &bulk), 0);
	uint8_t (*old)[40] = malloc(existing * sizeof *old);
	size_t *old_len = malloc(existing * sizeof *old_len);
	cr_assert(old && old_len);
	for (size_t i = 0; i < existing; i++) {
		old_len[i] = rand_key(old[i]);
		MDB_val key = { old_len[i], old[i] }, val = { 12, "an old value" };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(mdb_put(txn, bulk, &key, &val, 0), 0);
	}
	tl_view_ctx vc = { NULL, txn, &bulk, true, "test", s, NULL, NULL, 0 };
	for (size_t i = 0; i < ops; i++) {
		uint8_t k[40];
		char v[32];
		size_t kl;
		uint32_t what = rnd(10);
		if (spill_every && i && i % spill_every == 0)
			cr_assert_eq(tl_sink_spill(s, &err), 0, "%s",
				     err.message);
		if (what < 2 && existing) { /* an old key again, or gone */
			size_t j = rnd((uint32_t)existing);
			kl = old_len[j];
			memcpy(k, old[j], kl);
		} else {
			kl = rand_key(k);
		}
		MDB_val key = { kl, k };
		if (what == 1 || what == 9) { /* a deletion: old, or any */
			int rc = mdb_del(txn, direct, &key, NULL);
			cr_assert(rc == 0 || rc == MDB_NOTFOUND);
			cr_assert_eq(tl_view_del(&vc, 0, k, kl, &err), 0);
			continue;
		}
		int vl = snprintf(v, sizeof v, "value %zu", i);
		MDB_val val = { (size_t)vl, v };
		cr_assert_eq(mdb_put(txn, direct, &key, &val, 0), 0);
		cr_assert_eq(tl_view_put(&vc, 0, k, kl, v, (size_t)vl, &err),
			     0, "%s", err.message);
	}
	/* told as written: the sink's bytes, all of them and no more (not
	 * the entries a dense rewrite reads and writes again) */
	uint64_t pending = tl_sink_pending(s);
	size_t was_tell = tl_sink_tell;
	tl_sink_tell = 512;
	told_bytes = 0;
	tl_sink_on_write(s, tell_bytes, NULL);
	cr_assert_eq(tl_sink_write(s, NULL, &txn, false, &bulk, &err), 0, "%s",
		     err.message);
	tl_sink_tell = was_tell;
	cr_assert_eq(told_bytes, pending, "told %llu of %llu bytes",
		     (unsigned long long)told_bytes,
		     (unsigned long long)pending);
	size_t entries;
	compare(txn, direct, bulk, &entries);
	cr_assert_gt(entries, existing / 2);
	MDB_stat a, b;
	cr_assert_eq(mdb_stat(txn, direct, &a), 0);
	cr_assert_eq(mdb_stat(txn, bulk, &b), 0);
	cr_assert_eq(b.ms_entries, entries);
	*direct_pages = a.ms_leaf_pages;
	mdb_txn_abort(txn);
	tl_sink_free(s);
	free(old);
	free(old_len);
	hashed = false;
	return b.ms_leaf_pages;
}

static size_t into_existing(size_t existing, size_t ops, size_t *direct_pages)
{
	return into_existing_spilled(existing, ops, 0, direct_pages);
}

/* A batch of at least as many operations as the database has entries
 * rewrites it densely (tl_sink_rewrite_min): the same entries as direct
 * puts, in far fewer pages than sorted puts among its keys leave (LMDB
 * splits them in the middle: half full); a smaller batch goes in among
 * them, the same entries too. */
Test(bulk, a_batch_as_big_as_the_database_rewrites_it_densely,
     .init = setup, .fini = teardown)
{
	size_t direct, dense, sparse;
	dense = into_existing(20000, 40000, &direct);
	cr_assert_lt(dense * 10, direct * 8, "%zu leaf pages, direct %zu",
		     dense, direct);
	tl_sink_rewrite_min = 0; /* off: sorted puts among the keys */
	sparse = into_existing(20000, 40000, &direct);
	tl_sink_rewrite_min = 1;
	cr_assert_lt(dense * 10, sparse * 8, "%zu leaf pages, without %zu",
		     dense, sparse);
	(void)into_existing(40000, 20000, &direct); /* not rewritten */
	(void)into_existing(1, 1, &direct);
	(void)into_existing(0, 1000, &direct);
	/* Its operations partly in sorted runs (since 0.3.46 an append's
	 * are, past tl_defer_mem, between requests): counted with those in
	 * memory, and rewritten alike (before, runs turned the rewrite
	 * off: an import of 300,000 tasks into 10,000 took 1.24 GB, not
	 * 0.84). */
	dense = into_existing_spilled(20000, 40000, 7000, &direct);
	cr_assert_lt(dense * 10, direct * 8, "%zu leaf pages, direct %zu",
		     dense, direct);
	(void)into_existing_spilled(40000, 20000, 7000, &direct);
}
