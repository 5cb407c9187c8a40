/*
 * view_verify.c - checking the stored views against a fresh rebuild.
 *
 * tl_verify_views rebuilds every view from the log into a temporary
 * generation (TMP_GEN), compares each of its databases with the serving
 * one key by key, reports the first differences, and drops the temporary
 * generation, in one write transaction under the build lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_int.h"

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char h[] = "0123456789abcdef";
	size_t m = n > 40 ? 40 : n;
	for (size_t i = 0; i < m; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	strcpy(out + 2 * m, n > m ? "..." : "");
}

static void report(tl_problem_fn fn, void *arg, const char *msg)
{
	if (fn)
		fn(arg, msg);
}

/* Entries of the rebuilt views compared, of their total. */
typedef struct compared {
	tl_progress_fn fn;
	void *arg;
	uint64_t done, total;
} compared;

static void compared_one(compared *cp)
{
	if (cp->fn && (++cp->done & 0x3fff) == 0)
		cp->fn(cp->arg, cp->done, cp->total);
}

/* Compare two databases entry by entry; report the first differences.
 * Returns their number, or a negative code (err) when the databases could
 * not be read through for want of memory or by an I/O error: nothing
 * compared is no "ok".  A page LMDB finds damaged is a difference. */
static int compare_db(MDB_txn *txn, MDB_dbi a, MDB_dbi b, const char *what,
		      tl_problem_fn fn, void *arg, compared *cp, tl_err *err)
{
	MDB_cursor *ca, *cb;
	MDB_val ka, va, kb, vb;
	int problems = 0, rc;
	char msg[400], h1[96], h2[96];

	if ((rc = mdb_cursor_open(txn, a, &ca)))
		return tl_mdb_err(err, rc, "compare view");
	if ((rc = mdb_cursor_open(txn, b, &cb))) {
		mdb_cursor_close(ca);
		return tl_mdb_err(err, rc, "compare view");
	}
	int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
	int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
	while ((ra == 0 || rb == 0) && problems < 5) {
		int c;
		if ((ra && ra != MDB_NOTFOUND) || (rb && rb != MDB_NOTFOUND))
			break; /* a read that failed: not an end */
		if (ra)
			c = 1;
		else if (rb)
			c = -1;
		else {
			size_t n = ka.mv_size < kb.mv_size ? ka.mv_size
							   : kb.mv_size;
			c = memcmp(ka.mv_data, kb.mv_data, n);
			if (!c)
				c = (ka.mv_size > kb.mv_size) -
				    (ka.mv_size < kb.mv_size);
			if (!c) {
				size_t m = va.mv_size < vb.mv_size ? va.mv_size
								   : vb.mv_size;
				int d = memcmp(va.mv_data, vb.mv_data, m);
				if (!d)
					d = (va.mv_size > vb.mv_size) -
					    (va.mv_size < vb.mv_size);
				if (d) {
					hex(h1, ka.mv_data, ka.mv_size);
					snprintf(msg, sizeof msg,
						 "view %s: key %s has a different value than a rebuild gives",
						 what, h1);
					report(fn, arg, msg);
					problems++;
				}
				/* DUPSORT dbs: a value mismatch above is
				 * also a missing/extra dup; stepping both
				 * keeps going. */
				ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
				rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
				compared_one(cp);
				continue;
			}
		}
		if (c < 0) {
			hex(h1, ka.mv_data, ka.mv_size);
			snprintf(msg, sizeof msg,
				 "view %s: stored key %s is not in a rebuild",
				 what, h1);
			ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
		} else {
			hex(h2, kb.mv_data, kb.mv_size);
			snprintf(msg, sizeof msg,
				 "view %s: key %s is missing from the stored view",
				 what, h2);
			rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
			compared_one(cp);
		}
		report(fn, arg, msg);
		problems++;
	}
	mdb_cursor_close(ca);
	mdb_cursor_close(cb);
	rc = ra && ra != MDB_NOTFOUND ? ra : rb && rb != MDB_NOTFOUND ? rb : 0;
	if (rc == ENOMEM || rc == EIO)
		return tl_mdb_err(err, rc, "compare view");
	if (rc) {
		snprintf(msg, sizeof msg, "view %s: the %s view cannot be read "
			 "through: %s", what, rc == ra ? "stored" : "rebuilt",
			 mdb_strerror(rc));
		report(fn, arg, msg);
		problems++;
	}
	return problems;
}

static int verify_views_once(tl_db *db, tl_problem_fn fn, void *arg,
			     const build_progress *built, compared *cp,
			     tl_err *err)
{
	size_t which[64], n = db->views_len;
	replay r;
	MDB_txn *txn;
	int rc, problems = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		which[i] = i;
	build_lk lock;
	if ((rc = tl_build_lock(db, &lock, err)))
		return rc;
	if (tl_replay_init(&r, db, which, n, built)) {
		tl_replay_free(&r);
		tl_build_unlock(&lock);
		return tl_err_oom(err);
	}
	if ((rc = tl_replay_build_gen(&r, TMP_GEN, &txn, err)))
		goto out;
	/* Built: the writes' last call, done == total (the build tells
	 * none with every byte written, which a rebuild tells once its
	 * views serve). */
	if (built && built->written)
		built->written(built->arg, r.wtotal, r.wtotal);
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	if ((rc = tl_log_head(db, txn, &head, hash, err))) {
		mdb_txn_abort(txn);
		goto out;
	}
	cp->done = cp->total = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < db->views[i]->dbs_len; j++) {
			MDB_stat st;
			if (!mdb_stat(txn, r.dbi[i][j], &st))
				cp->total += st.ms_entries;
		}
	if (cp->fn)
		cp->fn(cp->arg, 0, cp->total);
	for (size_t i = 0; i < n; i++) {
		const tl_view *v = db->views[i];
		uint32_t ver, gen;
		MDB_dbi cur[TL_VIEW_DBS_MAX];
		char what[120];
		int og = 0;
		if (!tl_view_meta_read(db, txn, v, &ver, &gen) ||
		    (og = tl_view_gen_open(txn, v, gen, 0, cur))) {
			if (og == ENOMEM) {
				rc = tl_mdb_err(err, og, "open view");
				break;
			}
			snprintf(what, sizeof what,
				 "view %s: no serving generation", v->name);
			report(fn, arg, what);
			problems++;
			continue;
		}
		if (ver != v->version) {
			snprintf(what, sizeof what,
				 "view %s: stored version %u, code version %u",
				 v->name, ver, v->version);
			report(fn, arg, what);
			problems++;
		} else if (tl_view_seq(db, txn, v) < head) {
			/* Events appended since this handle's open by a
			 * process that opened the workspace without the
			 * views: the view lacks them, as documented, until
			 * the next open with it rebuilds it.  Not damage;
			 * not compared either.  (A view past the log's
			 * head is damage: compared.) */
			char behind[300];
			snprintf(behind, sizeof behind,
				 "view %s: not compared: it holds the log up "
				 "to seq %llu of %llu (events appended by a "
				 "process that opened the workspace without "
				 "its views; the next open with them rebuilds "
				 "it)",
				 v->name,
				 (unsigned long long)tl_view_seq(db, txn, v),
				 (unsigned long long)head);
			report(fn, arg, behind);
			problems++;
			continue;
		}
		for (size_t j = 0; j < v->dbs_len && !rc; j++) {
			snprintf(what, sizeof what, "%s.%s", v->name,
				 v->dbs[j]);
			uint64_t before = cp->done;
			MDB_stat st;
			int d = compare_db(txn, cur[j], r.dbi[i][j], what, fn,
					   arg, cp, err);
			if (d < 0)
				rc = d;
			else
				problems += d;
			/* compare_db stops after 5 differences */
			if (!mdb_stat(txn, r.dbi[i][j], &st))
				cp->done = before + st.ms_entries;
		}
		if (rc)
			break;
	}
	if (!rc && cp->fn)
		cp->fn(cp->arg, cp->total, cp->total);
	/* The temporary generation is dropped, never kept. */
	if (rc || (rc = tl_replay_targets_drop(&r, txn, err)))
		mdb_txn_abort(txn);
	else if ((rc = mdb_txn_commit(txn)))
		rc = tl_mdb_err(err, rc, "commit verify");
out:
	tl_replay_free(&r);
	tl_build_unlock(&lock);
	return rc ? rc : problems;
}

/* Problems held back until a pass is over (compare_db reports at most 5
 * per database): a pass that fills the map is run again, and its
 * problems must not reach the caller twice. */
typedef struct held {
	char **msg;
	size_t len, cap;
	bool nomem;
} held;

static void hold(void *arg, const char *msg)
{
	held *h = arg;
	if (h->len == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		char **m = realloc(h->msg, cap * sizeof *m);
		if (!m) {
			h->nomem = true;
			return;
		}
		h->msg = m;
		h->cap = cap;
	}
	if (!(h->msg[h->len] = strdup(msg)))
		h->nomem = true;
	else
		h->len++;
}

static void held_free(held *h)
{
	for (size_t i = 0; i < h->len; i++)
		free(h->msg[i]);
	free(h->msg);
	*h = (held){ 0 };
}

/* A read-only handle cannot build the generation it would compare with:
 * every view is a problem, named with what it can tell without one (a
 * view that is not the code's version, lacks its generation or does not
 * hold the whole log), so that verify never calls unchecked views clean
 * (tasklog.h says so). */
static int verify_views_rdonly(tl_db *db, tl_problem_fn fn, void *arg,
			       tl_err *err)
{
	MDB_txn *txn;
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	char what[160];
	int rc, problems = 0;
	if ((rc = tl_read_begin(db, &txn, err)))
		return rc;
	if ((rc = tl_log_head(db, txn, &head, hash, err))) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* Every view is a problem: one that is current could be compared
	 * only by building it anew, which a read-only handle cannot; ok
	 * would claim what was not checked (tl_verify_log checks the rest
	 * alone). */
	for (size_t i = 0; i < db->views_len; i++) {
		const tl_view *v = db->views[i];
		uint32_t ver, gen;
		bool serves = tl_view_serves(db, txn, v);
		if (serves && tl_view_behind(db, txn, v, head))
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): it holds "
				 "the log up to seq %llu of %llu",
				 v->name,
				 (unsigned long long)tl_view_seq(db, txn, v),
				 (unsigned long long)head);
		else if (serves)
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): comparing "
				 "builds the view anew, which needs write "
				 "access",
				 v->name);
		else if (tl_view_meta_read(db, txn, v, &ver, &gen) &&
			 ver != v->version)
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): stored "
				 "version %u, code version %u",
				 v->name, ver, v->version);
		else
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): no "
				 "serving generation", v->name);
		report(fn, arg, what);
		problems++;
	}
	mdb_txn_abort(txn);
	return problems;
}

/* The rebuild into a temporary generation, or dropping it, may fill the
 * map: grow it and run again. */
int tl_verify_views(tl_db *db, tl_problem_fn fn, void *arg,
		    const build_progress *built, tl_progress_fn compared_fn,
		    tl_err *err)
{
	if (db->flags & TL_OPEN_RDONLY)
		return verify_views_rdonly(db, fn, arg, err);
	for (;;) {
		held h = { 0 };
		compared cp = { compared_fn, built ? built->arg : NULL, 0, 0 };
		int rc = verify_views_once(db, hold, &h, built, &cp, err);
		if (rc >= 0 && h.nomem)
			rc = tl_err_oom(err);
		if (rc >= 0)
			for (size_t i = 0; i < h.len; i++)
				report(fn, arg, h.msg[i]);
		held_free(&h);
		if (rc != TL_EAGAIN)
			return rc;
		if ((rc = tl_db_grow(db, err))) /* as tl_rebuild's loop */
			return rc;
	}
}

