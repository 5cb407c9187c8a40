/*
 * replay.c - verify --replay: the log, as stored, imported again into a
 * workspace of its own, through every check of `import --events`.
 *
 * verify checks each event alone (its form, its chain, its stream) and the
 * states against a fold of the log, but a fold takes what it is given: an
 * event that assigns a task to a member who is none or lacks CRM access
 * then, or whose `previous` is not what the task held, folds as well as
 * any.  Those are the checks of `import --events` that need the state
 * each event met.  The replay runs them: the events in order, in chunks,
 * into a new workspace in a temporary directory (no views, no fsync:
 * nothing there is kept), stopping at the first event refused, which is
 * the one problem it reports.  The directory and its files are removed
 * as soon as the copy is open (LMDB keeps its descriptors and its map; the
 * kernel frees the files at the close, or when the process dies: a killed
 * replay leaves nothing behind).  The log is read in one read transaction,
 * a snapshot: the pages that writers free meanwhile are reused only after
 * it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define REPLAY_TRIES 8 /* a full map grown and the chunk run again */

_Thread_local size_t tl_replay_chunk = 4096;
_Thread_local uint64_t tl_replay_map;

/* The directory for the copy: $TMPDIR, else /tmp. */
static int replay_dir(char *dir, size_t cap, tl_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char q[224];
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, cap, "%s/tasklog-replay-XXXXXX", tmp) >= cap)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "replay: cannot make a directory in $TMPDIR "
				  "'%s': too long a name",
				  tl_quote(tl_s(tmp), q, sizeof q));
	if (!mkdtemp(dir)) {
		int e = errno;
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "replay: cannot make a directory in "
				  "$TMPDIR '%s': %s",
				  tl_quote_max(tl_s(tmp), 200, q, sizeof q),
				  strerror(e));
	}
	return 0;
}

/* Remove the copy: LMDB's two files, then the directory. */
static void replay_remove(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[4200];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Import recs[0..n) into copy in one transaction, again while its map
 * grows.  0, or the code of the refusal or failure (in e). */
static int replay_chunk(tl_db *copy, const uint8_t *const *recs,
			const size_t *lens, size_t n, tl_err *e)
{
	int rc = 0;
	for (int tries = 0; tries < REPLAY_TRIES; tries++) {
		tl_txn *txn;
		if ((rc = tl_txn_begin(copy, &txn, e)))
			return rc;
		rc = tl_txn_import(txn, recs, lens, n, e);
		if (rc) {
			tl_txn_abort(txn); /* grows a full map */
			if (rc == TL_EAGAIN)
				continue;
			return rc;
		}
		rc = tl_txn_commit(txn, e);
		if (rc != TL_EAGAIN)
			return rc;
	}
	return tl_err_set(e, TL_ESTORAGE, "storage",
			  "the copy's map is full, and growing it did not "
			  "make room");
}

/* An error of the copy, said to be the copy's (a full $TMPDIR is not the
 * workspace's disk). */
static int copy_failed(const char *dir, const tl_err *e, tl_err *err)
{
	int code = e->code ? e->code : TL_ESTORAGE;
	char q[224];
	return tl_err_set(err, code, "storage",
			  "replay: the copy in %s: %s",
			  tl_quote_max(tl_s(dir), 200, q, sizeof q),
			  e->message);
}

int tl_replay_log(tl_db *db, tl_problem_fn fn, void *arg,
		  void (*at)(void *arg, uint64_t done), void *at_arg,
		  tl_err *err)
{
	/* a new log's first commit holds events 1 and 2 together */
	size_t chunk = tl_replay_chunk > 2 ? tl_replay_chunk : 2;
	const uint8_t **recs = malloc(chunk * sizeof *recs);
	size_t *lens = malloc(chunk * sizeof *lens);
	char dir[4096];
	tl_db *copy = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint64_t done = 0;
	int rc, found = 0;
	bool removed = false;

	if (!recs || !lens) {
		free(recs);
		free(lens);
		return tl_err_oom(err);
	}
	if ((rc = replay_dir(dir, sizeof dir, err))) {
		free(recs);
		free(lens);
		return rc;
	}
	/* The copy's map from the start as large as the workspace's file:
	 * the log and the states fit, without a chunk run again each time
	 * it doubles. */
	MDB_envinfo info;
	MDB_stat st;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .map_size = tl_replay_map };
	if (!o.map_size && !mdb_env_info(db->env, &info) &&
	    !mdb_env_stat(db->env, &st))
		o.map_size = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	tl_err e = { 0 };
	if ((rc = tl_db_open(dir, &o, &copy, &e))) {
		rc = copy_failed(dir, &e, err);
		goto out;
	}
	replay_remove(dir); /* open, the copy needs no name */
	removed = true;    /* nor is the name ours any more */
	if ((rc = tl_read_begin(db, &txn, err)))
		goto out;
	if ((rc = mdb_cursor_open(txn, db->events, &cur))) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage", "replay: %s",
				mdb_strerror(rc));
		goto out;
	}
	MDB_val k, v;
	int op = MDB_FIRST;
	for (;;) {
		size_t n = 0;
		int mrc = 0;
		bool damaged = false;
		while (n < chunk &&
		       !(mrc = mdb_cursor_get(cur, &k, &v, op))) {
			op = MDB_NEXT;
			if ((damaged = !tl_event_val_fits(db, &v)))
				break;
			recs[n] = v.mv_data;
			lens[n++] = v.mv_size;
		}
		if (damaged) {
			rc = tl_event_val_damaged(err, k.mv_size == 8
						  ? tl_get_be64(k.mv_data)
						  : 0, &v);
			break;
		}
		if (mrc && mrc != MDB_NOTFOUND) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"replay: %s", mdb_strerror(mrc));
			break;
		}
		if (!n)
			break;
		memset(&e, 0, sizeof e);
		rc = replay_chunk(copy, recs, lens, n, &e);
		if (rc == TL_EINVALID) {
			char line[sizeof e.message + sizeof e.field + 96];
			snprintf(line, sizeof line,
				 "replay: %s (field %s): import --events "
				 "refuses it, so no command made this log",
				 e.message, e.field);
			if (fn)
				fn(arg, line);
			found = 1;
			rc = 0;
			break;
		}
		if (rc) {
			rc = copy_failed(dir, &e, err);
			break;
		}
		done += n;
		if (at)
			at(at_arg, done);
		if (mrc == MDB_NOTFOUND)
			break;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (copy)
		tl_db_close(copy);
	if (!removed) /* a copy that failed to open, half made */
		replay_remove(dir);
	free(recs);
	free(lens);
	return rc ? rc : found;
}
