/*
 * view.c - the engine's side of the projection interface: view
 * generations, how far each view holds the log, applying events inside
 * the append transaction, and opening the views of a workspace (a stale
 * one is rebuilt before it serves).  Rebuilds are in rebuild.c, the
 * check of views against a fresh rebuild in view_verify.c; view_int.h is
 * what the three share.
 *
 * Storage.  View NAME at generation G keeps its databases as LMDB named
 * databases "v.NAME.G.DB".  meta "view:NAME" holds 8 bytes: the view's
 * code version (u32 BE) and its serving generation G (u32 BE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_int.h"

/* ---- names and handles ------------------------------------------------ */

static void db_name(char *buf, size_t cap, const tl_view *v, uint32_t gen,
		    size_t i)
{
	snprintf(buf, cap, "v.%s.%u.%s", v->name, gen, v->dbs[i]);
}

static void meta_key(char *buf, size_t cap, const tl_view *v)
{
	snprintf(buf, cap, "view:%s", v->name);
}

bool tl_view_meta_read(tl_db *db, MDB_txn *txn, const tl_view *v,
		       uint32_t *version, uint32_t *gen)
{
	char key[80];
	MDB_val val;
	meta_key(key, sizeof key, v);
	if (tl_meta_get(db, txn, key, &val) || val.mv_size != 8)
		return false;
	*version = tl_get_be32(val.mv_data);
	*gen = tl_get_be32((uint8_t *)val.mv_data + 4);
	return true;
}

int tl_view_meta_write(tl_db *db, MDB_txn *txn, const tl_view *v,
		       uint32_t version, uint32_t gen)
{
	char key[80];
	uint8_t b[8];
	meta_key(key, sizeof key, v);
	tl_put_be32(b, version);
	tl_put_be32(b + 4, gen);
	MDB_val k = { strlen(key), key }, val = { 8, b };
	return mdb_put(txn, db->meta, &k, &val, 0);
}

int tl_view_gen_open(MDB_txn *txn, const tl_view *v, uint32_t gen,
		     unsigned extra, MDB_dbi *dbi)
{
	char name[160];
	for (size_t i = 0; i < v->dbs_len; i++) {
		db_name(name, sizeof name, v, gen, i);
		int rc = tl_dbi_open(txn, name, v->db_flags[i] | extra,
				     &dbi[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Drop databases of view v by name: those of generation gen, or (others
 * set) those of every generation but gen.  By name, found in LMDB's list
 * of named databases, so that a generation made by another version of the
 * view (which had other databases) goes whole, and so do generations
 * stranded by damage or by an interrupted switch. */
int tl_view_gens_drop(MDB_txn *txn, const tl_view *v, uint32_t gen,
		      bool others)
{
	char prefix[96], names[16][160], from[160];
	size_t n, plen, from_len;
	bool past = false; /* from is a name walked: start after it */
	MDB_dbi main_dbi, d;
	MDB_cursor *c;
	MDB_val k, val;
	int rc;

	if (others)
		snprintf(prefix, sizeof prefix, "v.%s.", v->name);
	else
		snprintf(prefix, sizeof prefix, "v.%s.%u.", v->name, gen);
	plen = from_len = strlen(prefix);
	memcpy(from, prefix, plen);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)))
		return rc;
	/* In passes of up to 16 names, each after the last name the one
	 * before it took: keys of the main database that are no database
	 * (damage) are passed over once, not taken again in every pass. */
	do {
		n = 0;
		if ((rc = mdb_cursor_open(txn, main_dbi, &c)))
			return rc;
		k.mv_size = from_len;
		k.mv_data = from;
		for (rc = mdb_cursor_get(c, &k, &val, MDB_SET_RANGE);
		     rc == 0 && n < sizeof names / sizeof *names;
		     rc = mdb_cursor_get(c, &k, &val, MDB_NEXT)) {
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
				break;
			if (past && k.mv_size == from_len &&
			    !memcmp(k.mv_data, from, from_len))
				continue;
			if (k.mv_size >= sizeof names[0])
				continue;
			char *end, name[160];
			memcpy(name, k.mv_data, k.mv_size);
			name[k.mv_size] = 0;
			if (others &&
			    strtoul(name + plen, &end, 10) == gen && *end == '.')
				continue; /* the one kept */
			memcpy(names[n++], name, k.mv_size + 1);
		}
		mdb_cursor_close(c);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		/* Dropped after the walk: a drop changes the list walked. */
		for (size_t i = 0; i < n; i++) {
			rc = tl_dbi_open(txn, names[i], 0, &d);
			if (rc == MDB_INCOMPATIBLE)
				continue; /* a key of the main database */
			if (rc || (rc = mdb_drop(txn, d, 1)))
				return rc;
		}
		if (n) {
			from_len = strlen(names[n - 1]);
			memcpy(from, names[n - 1], from_len);
			past = true;
		}
	} while (n == sizeof names / sizeof *names);
	return 0;
}

/* Whether every database of generation gen of view v exists. */
bool tl_view_gen_exists(MDB_txn *txn, const tl_view *v, uint32_t gen)
{
	MDB_dbi main_dbi;
	char name[160];
	if (mdb_dbi_open(txn, NULL, 0, &main_dbi))
		return false;
	for (size_t i = 0; i < v->dbs_len; i++) {
		db_name(name, sizeof name, v, gen, i);
		MDB_val k = { strlen(name), name }, val;
		if (mdb_get(txn, main_dbi, &k, &val))
			return false;
	}
	return true;
}

/* Whether view v serves as the code needs it: its meta names the code's
 * version and a generation whose databases exist. */
bool tl_view_serves(tl_db *db, MDB_txn *txn, const tl_view *v)
{
	uint32_t ver, gen;
	return tl_view_meta_read(db, txn, v, &ver, &gen) && ver == v->version &&
	       tl_view_gen_exists(txn, v, gen);
}

/* Bring this process's handles to the serving generations (another
 * process may have switched them). */
int tl_views_refresh(tl_db *db, tl_err *err)
{
	tl_view_state next[64];
	MDB_txn *txn;
	db->views_snap = 0; /* the states change */
	int rc = tl_read_begin(db, &txn, err);
	if (rc)
		return rc;
	/* The new states are staged: handles opened by a transaction that
	 * aborts are gone, and LMDB hands their numbers out again. */
	for (size_t i = 0; i < db->views_len; i++) {
		tl_view_state *s = &next[i];
		uint32_t ver, gen;
		*s = db->vstate[i];
		if (!tl_view_meta_read(db, txn, db->views[i], &ver, &gen)) {
			s->ready = false;
			continue;
		}
		if (ver != db->views[i]->version) {
			/* A layout the code may not read or write (another
			 * release's): absent, as if it had no generation.  A
			 * read-only handle's queries say to rebuild; a
			 * writable handle rebuilds it in its version before
			 * it writes or reads (tl_views_sync).  Before 0.3.35
			 * a writable handle opened it and applied its own
			 * version's writes to the other's layout. */
			s->ready = false;
			s->absent_gen = gen;
			continue;
		}
		if (s->ready && s->gen == gen)
			continue;
		if ((rc = tl_view_gen_open(txn, db->views[i], gen, 0, s->dbi))) {
			if (rc == MDB_NOTFOUND) {
				/* Its databases are gone (a damaged meta
				 * record): the view is absent, the others
				 * serve, and a rebuild makes it again. */
				s->ready = false;
				s->absent_gen = gen;
				continue;
			}
			mdb_txn_abort(txn);
			return tl_mdb_err(err, rc, "open view");
		}
		s->gen = gen;
		s->version = ver;
		s->ready = true;
	}
	/* Committing a read transaction keeps the handles it opened. */
	if ((rc = mdb_txn_commit(txn)))
		return tl_mdb_err(err, rc, "open view");
	/* Close the handles of generations that another process switched
	 * away from (and dropped), or a long-lived handle would run out of
	 * LMDB's handles after some dozens of rebuilds.  No transaction of
	 * this handle is open here.  (A rebuild in this process closed its
	 * old generation's handles itself, by dropping them: not ready.) */
	for (size_t i = 0; i < db->views_len; i++) {
		tl_view_state *s = &db->vstate[i];
		/* (A view that stops serving keeps its old numbers in its
		 * staged state: closed all the same.  Before 0.3.35 they
		 * were not, and a handle lost a generation's handles each
		 * time another release switched the view.) */
		if (s->ready && (!next[i].ready || next[i].gen != s->gen))
			for (size_t j = 0; j < db->views[i]->dbs_len; j++)
				if (!next[i].ready || s->dbi[j] != next[i].dbi[j])
					mdb_dbi_close(db->env, s->dbi[j]);
		*s = next[i];
	}
	return 0;
}

/* ---- how far each view holds the log -------------------------------------
 * meta "view_seq:NAME" (u64 BE): view NAME holds every event up to that
 * seq.  Each view has its own, so that a handle opened with some of the
 * views (or by a release that does not know one) leaves the others
 * behind, and the next open with them rebuilds just those.  A view with
 * none (a workspace from before 0.3.4) goes by "views_seq", the one mark
 * of the earlier releases, which is kept for them. */

/* The seq "views_seq" names, 0 when never recorded. */
static uint64_t views_seq(tl_db *db, MDB_txn *txn)
{
	MDB_val v;
	if (tl_meta_get(db, txn, "views_seq", &v) || v.mv_size != 8)
		return 0;
	return tl_get_be64(v.mv_data);
}

static void view_seq_key(char *key, size_t cap, const tl_view *v)
{
	snprintf(key, cap, "view_seq:%s", v->name);
}

uint64_t tl_view_seq(tl_db *db, MDB_txn *txn, const tl_view *v)
{
	char key[64];
	MDB_val val;
	view_seq_key(key, sizeof key, v);
	if (tl_meta_get(db, txn, key, &val) || val.mv_size != 8)
		return views_seq(db, txn);
	return tl_get_be64(val.mv_data);
}

int tl_view_seq_put(tl_db *db, MDB_txn *txn, const tl_view *v,
		    uint64_t seq)
{
	char key[64];
	uint8_t b[8];
	view_seq_key(key, sizeof key, v);
	tl_put_be64(b, seq);
	MDB_val k = { strlen(key), key }, val = { 8, b };
	return mdb_put(txn, db->meta, &k, &val, 0);
}

/* Whether view v lacks events of a log whose last seq is head. */
bool tl_view_behind(tl_db *db, MDB_txn *txn, const tl_view *v,
		    uint64_t head)
{
	return head > 0 && tl_view_seq(db, txn, v) != head;
}

/* Before the shared mark moves: every view of the workspace that goes by
 * it (no mark of its own: a workspace from before 0.3.4), which this
 * handle does not hold, gets a mark of its own where the shared one is,
 * so that the events appended without it leave it behind (a review: it
 * read as up to date, and served without them).  Names are gathered
 * before the puts, which would move a cursor over meta. */
static int pin_by_shared_mark(tl_db *db, MDB_txn *txn)
{
	char names[64][32 + 1]; /* names of 1..32 bytes */
	size_t n = 0;
	MDB_cursor *c;
	MDB_val k = { 5, "view:" }, v;
	int rc = mdb_cursor_open(txn, db->meta, &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < 64;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 5 || memcmp(k.mv_data, "view:", 5))
			break;
		size_t len = k.mv_size - 5;
		if (len == 0 || len > 32)
			continue; /* no name a view has */
		memcpy(names[n], (char *)k.mv_data + 5, len);
		names[n++][len] = 0;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	uint64_t at = views_seq(db, txn);
	for (size_t i = 0; i < n; i++) {
		char key[9 + 32 + 1];
		MDB_val val;
		size_t len = strlen(names[i]);
		memcpy(key, "view_seq:", 9);
		memcpy(key + 9, names[i], len + 1);
		if (tl_meta_get(db, txn, key, &val) != MDB_NOTFOUND)
			continue; /* a mark of its own (or a read error,
				     which the put below would meet too) */
		uint8_t b[8];
		tl_put_be64(b, at);
		MDB_val mk = { strlen(key), key }, mv = { 8, b };
		if ((rc = mdb_put(txn, db->meta, &mk, &mv, 0)))
			return rc;
	}
	return 0;
}

int tl_views_mark(tl_db *db, MDB_txn *txn, uint64_t seq)
{
	uint8_t b[8];
	int rc = pin_by_shared_mark(db, txn);
	if (rc)
		return rc;
	tl_put_be64(b, seq);
	MDB_val k = { 9, "views_seq" }, v = { 8, b };
	return mdb_put(txn, db->meta, &k, &v, 0);
}

int tl_views_advance(tl_db *db, MDB_txn *txn, uint64_t first, uint64_t last)
{
	/* Only from where each view was: events appended meanwhile by a
	 * handle without it are missing from it, and the mark left behind
	 * makes the next open with it rebuild it. */
	int rc = 0;
	for (size_t i = 0; !rc && i < db->views_len; i++)
		if (tl_view_seq(db, txn, db->views[i]) == first - 1)
			rc = tl_view_seq_put(db, txn, db->views[i], last);
	if (!rc && views_seq(db, txn) == first - 1)
		rc = tl_views_mark(db, txn, last);
	return rc;
}

/* Whether this handle may rebuild its views now: writable, and none of
 * its transactions open (a read inside its write transaction cannot wait
 * for the writer lock it holds). */
static bool can_catch_up(const tl_db *db)
{
	return !(db->flags & TL_OPEN_RDONLY) && !db->txn_open &&
	       !db->writer_held && !db->building;
}

int tl_views_check(tl_db *db, MDB_txn *txn, bool read, bool *stale)
{
	*stale = false;
	if (!db->views_len)
		return 0; /* nothing to check: no log head read either */
	/* Nothing committed since a read found every view serving and
	 * whole (LMDB's transaction ids are the environment's, every
	 * process's commits count): the same answer, without the gets. */
	size_t snap = read ? mdb_txn_id(txn) : 0;
	if (snap && snap == db->views_snap)
		return 0;
	/* A view behind the log (events appended by a handle opened
	 * without it) does not serve: checked here, at every transaction,
	 * as the head moves (one meta get per view).  A read-only handle
	 * cannot bring it up to date (its queries say to rebuild); a
	 * writable one rebuilds it (tl_views_sync), so that it neither
	 * serves without those events nor writes past them (before 0.3.35
	 * it did both until it was opened again). */
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	tl_err e;
	bool known = !tl_log_head(db, txn, &head, hash, &e);
	bool rebuild = false;
	for (size_t i = 0; i < db->views_len; i++) {
		tl_view_state *s = &db->vstate[i];
		/* A head that cannot be read (damage at the log's end): a
		 * rebuild would not get past it either, so a writable handle
		 * serves its views as they are (verify names the damage); a
		 * read-only one, which never serves a view it cannot check,
		 * does not. */
		s->behind = known ? tl_view_behind(db, txn, db->views[i], head)
				  : (db->flags & TL_OPEN_RDONLY) != 0;
		rebuild |= s->behind || !s->ready;
	}
	if (rebuild && can_catch_up(db)) {
		*stale = true;
		return 0;
	}
	db->views_snap = 0;
	for (size_t i = 0; i < db->views_len; i++) {
		uint32_t ver, gen;
		const tl_view_state *s = &db->vstate[i];
		/* A view with no generation stored (a read-only handle does
		 * not create it) is not stale but absent: its queries say so,
		 * the other views serve. */
		bool has = tl_view_meta_read(db, txn, db->views[i], &ver, &gen);
		if (has ? (s->ready ? gen != s->gen : gen != s->absent_gen)
			: s->ready) {
			*stale = true;
			return 0;
		}
	}
	if (snap && !rebuild)
		db->views_snap = snap;
	return 0;
}

/* Rebuild views which[0..n) where they do not serve as the code needs,
 * growing a map the build left full. */
static int rebuild_stale(tl_db *db, const size_t *which, size_t n,
			 tl_err *err)
{
	for (;;) {
		/* a plain growth: the build grows the map as it goes
		 * (make_room), and a map it left full needs more room than
		 * that (tl_db_grow_from would replay at the same size once
		 * more: a review) */
		int rc = tl_rebuild_stale(db, which, n, err);
		if (rc != TL_EAGAIN)
			return rc;
		if ((rc = tl_db_grow(db, err)))
			return rc;
	}
}

int tl_views_sync(tl_db *db, tl_err *err)
{
	int rc = tl_views_refresh(db, err);
	if (rc || !can_catch_up(db))
		return rc;
	/* A writable handle rebuilds, as its open would, the views that
	 * another process left behind the log or switched to another
	 * version: they may serve and take writes again only in the
	 * code's version and whole. */
	size_t which[64], n = 0;
	MDB_txn *txn;
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	tl_err e;
	if ((rc = tl_read_begin(db, &txn, err)))
		return rc;
	if (tl_log_head(db, txn, &head, hash, &e)) {
		/* damage at the log's end, which no rebuild gets past: the
		 * views serve as they are (tl_views_check) */
		mdb_txn_abort(txn);
		return 0;
	}
	for (size_t i = 0; i < db->views_len; i++)
		if (tl_view_behind(db, txn, db->views[i], head) ||
		    !tl_view_serves(db, txn, db->views[i]))
			which[n++] = i;
	mdb_txn_abort(txn);
	if (!n)
		return 0;
	rc = rebuild_stale(db, which, n, err);
	/* The marks by which the handle's first tl_rebuild leaves out what
	 * its open rebuilt are the open's alone: a rebuild asked for later
	 * rebuilds every view it names. */
	db->open_rebuilt = 0;
	return rc ? rc : tl_views_refresh(db, err);
}

const tl_view *const *tl_db_views(const tl_db *db, size_t *len)
{
	*len = db->views_len;
	return db->views;
}

const MDB_dbi *tl_view_dbis(tl_db *db, const char *name)
{
	for (size_t i = 0; i < db->views_len; i++)
		if (!strcmp(db->views[i]->name, name) &&
		    db->vstate[i].ready && !db->vstate[i].behind)
			return db->vstate[i].dbi;
	return NULL;
}

int tl_view_unavailable(tl_db *db, const char *name, tl_err *err)
{
	bool known = false;
	for (size_t i = 0; i < db->views_len; i++)
		known |= !strcmp(db->views[i]->name, name);
	if (!known)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "view %s is not open: open the workspace "
				  "with it (tl_views_all())",
				  name);
	if (db->flags & TL_OPEN_RDONLY)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "view %s is not up to date (this release "
				  "changed it, or events were added without "
				  "it), and a read-only handle cannot rebuild "
				  "it: open the workspace where its files "
				  "can be written (any command rebuilds it, "
				  "when the log replays: `tasklog verify` "
				  "says), or run `tasklog rebuild` there",
				  name);
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "view %s is not up to date: run `tasklog rebuild`",
			  name);
}

/* ---- apply on append -------------------------------------------------- */

int tl_views_apply(tl_txn *t, const tl_event *ev, const tl_task *before,
		   const tl_task *after, tl_err *err)
{
	for (size_t i = 0; i < t->db->views_len; i++) {
		const tl_view *v = t->db->views[i];
		tl_view_state *vs = &t->db->vstate[i];
		/* (tl_txn_begin rebuilds a view that does not serve, or
		 * fails: never met, but its handles may be closed ones) */
		if (!vs->ready)
			return tl_view_unavailable(t->db, v->name, err);
		if ((v->flags & TL_VIEW_BLIND) && !vs->defer &&
		    (vs->defer = tl_sink_new(v->name, v->db_flags,
					     v->dbs_len))) /* NULL: direct */
			tl_sink_spill_dir(vs->defer, t->db->fsdir);
		tl_view_ctx vc = { t->db, t->cur, vs->dbi, false, v->name,
				   (v->flags & TL_VIEW_BLIND) ? vs->defer : NULL,
				   NULL, t->after_doc, t->after_doc_len };
		int rc = v->apply(&vc, ev, before, after, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* tl_txn_commit_progress's count: the sinks' bytes told so far. */
struct flush_told {
	tl_commit_progress_fn fn;
	void *arg;
	uint64_t done, total;
};

static void flush_wrote(void *arg, uint64_t bytes)
{
	struct flush_told *f = arg;
	f->done += bytes;
	/* a guard: a sink tells what it held (tl_sink_pending), no more */
	if (f->done > f->total)
		f->done = f->total;
	f->fn(f->arg, f->done, f->total);
}

int tl_views_flush(tl_txn *t, tl_commit_progress_fn progress, void *arg,
		   tl_err *err)
{
	struct flush_told f = { .fn = progress, .arg = arg };
	tl_db *db = t->db;
	int rc = 0;

	if (progress) {
		for (size_t i = 0; i < db->views_len; i++)
			if (db->vstate[i].defer)
				f.total += tl_sink_pending(db->vstate[i].defer);
		if (!f.total)
			progress = NULL;
		else
			progress(arg, 0, f.total);
	}
	for (size_t i = 0; i < db->views_len && !rc; i++) {
		tl_view_state *vs = &db->vstate[i];
		if (!vs->defer || tl_sink_empty(vs->defer))
			continue;
		if (progress)
			tl_sink_on_write(vs->defer, flush_wrote, &f);
		rc = tl_sink_write(vs->defer, db, &t->txn, false, vs->dbi,
				   err);
		tl_sink_on_write(vs->defer, NULL, NULL);
	}
	if (!rc && progress && f.done < f.total)
		progress(arg, f.total, f.total);
	return rc;
}

size_t tl_defer_mem = TL_DEFER_MEM;

int tl_views_spill_early(tl_db *db, tl_err *err)
{
	for (size_t i = 0; i < db->views_len; i++) {
		tl_sink *d = db->vstate[i].defer;
		int rc;
		if (d && tl_sink_bytes(d) > tl_defer_mem &&
		    (rc = tl_sink_spill(d, err)))
			return rc;
	}
	return 0;
}

void tl_views_defer_mark(tl_db *db)
{
	for (size_t i = 0; i < db->views_len && db->vstate; i++)
		if (db->vstate[i].defer)
			tl_sink_mark(db->vstate[i].defer);
}

void tl_views_defer_rollback(tl_db *db)
{
	for (size_t i = 0; i < db->views_len && db->vstate; i++)
		if (db->vstate[i].defer)
			tl_sink_rollback(db->vstate[i].defer);
}

void tl_views_defer_reset(tl_db *db)
{
	for (size_t i = 0; i < db->views_len && db->vstate; i++)
		if (db->vstate[i].defer)
			tl_sink_reset(db->vstate[i].defer);
}

void tl_views_close(tl_db *db)
{
	for (size_t i = 0; i < db->views_len && db->vstate; i++)
		tl_sink_free(db->vstate[i].defer);
	free(db->vstate);
	db->vstate = NULL;
}

/* ---- opening ------------------------------------------------------------ */

/* True when every view exists in the code's version and holds the whole
 * log: what tl_views_open checks again in its write transaction. */
static bool views_current(tl_db *db)
{
	MDB_txn *txn;
	uint64_t head;
	tl_err e;
	bool ok = true;
	if (tl_read_begin(db, &txn, &e))
		return false;
	if (tl_log_head(db, txn, &head, NULL, &e))
		ok = false;
	for (size_t i = 0; ok && i < db->views_len; i++)
		ok = !tl_view_behind(db, txn, db->views[i], head) &&
		     tl_view_serves(db, txn, db->views[i]);
	mdb_txn_abort(txn);
	return ok;
}

bool tl_db_views_current(tl_db *db)
{
	return !db->views_len || views_current(db);
}

/* A view's or database's name: 1..32 of [a-z0-9_-].  No dot: databases
 * are named v.NAME.GEN.DB, and generations are dropped by that prefix. */
static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static int views_check(tl_db *db, tl_err *err)
{
	for (size_t i = 0; i < db->views_len; i++) {
		const tl_view *v = db->views[i];
		if (!v || !name_ok(v->name) || !v->dbs_len ||
		    v->dbs_len > TL_VIEW_DBS_MAX || !v->dbs || !v->db_flags ||
		    !v->apply)
			return tl_err_set(err, TL_EINVALID, "views",
					  "view %zu: a name of 1..32 of [a-z0-9_-], 1..%d databases and apply() are needed",
					  i, TL_VIEW_DBS_MAX);
		for (size_t j = 0; j < v->dbs_len; j++)
			if (!name_ok(v->dbs[j]))
				return tl_err_set(err, TL_EINVALID, "views",
						  "view %s: database %zu needs a name of 1..32 of [a-z0-9_-]",
						  v->name, j);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(db->views[j]->name, v->name))
				return tl_err_set(err, TL_EINVALID, "views",
						  "view %s is given twice",
						  v->name);
	}
	return 0;
}

/* Create missing views and rebuild those whose stored version differs
 * from the code's, or whose serving generation has no databases: run when
 * a workspace is opened for writing. */
int tl_views_open(tl_db *db, tl_err *err)
{
	size_t stale[64], n = 0;
	MDB_txn *txn;
	int rc;

	if (!db->views_len)
		return 0;
	if (db->views_len > 64)
		return tl_err_set(err, TL_EINVALID, "views", "too many views");
	if ((rc = views_check(db, err)))
		return rc;
	db->vstate = calloc(db->views_len, sizeof *db->vstate);
	if (!db->vstate)
		return tl_err_oom(err);
	/* Nothing to create or rebuild (nearly every open): no write
	 * transaction, which would wait for another process's writer. */
	if ((db->flags & TL_OPEN_RDONLY) || views_current(db))
		return tl_views_refresh(db, err);
	if ((rc = tl_env_begin(db, 0, &txn)))
		return tl_mdb_err(err, rc, "begin");
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	if ((rc = tl_log_head(db, txn, &head, hash, err))) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* A view that lacks events (appended by a handle opened without
	 * it), of another version, or without its generation: rebuilt. */
	for (size_t i = 0; i < db->views_len; i++) {
		const tl_view *v = db->views[i];
		if (!tl_view_behind(db, txn, v, head) && tl_view_serves(db, txn, v))
			continue;
		if (head == 0) {
			/* An empty log: the empty view is the right one, in
			 * a generation of its own (one of another version
			 * may have had other databases, or other flags on
			 * them), every other one dropped, as a rebuild's
			 * switch does. */
			MDB_dbi d[TL_VIEW_DBS_MAX];
			uint32_t ver, gen, g = 1;
			if (tl_view_meta_read(db, txn, v, &ver, &gen) &&
			    gen + 1 != TMP_GEN && gen + 1 != 0)
				g = gen + 1;
			if ((rc = tl_view_gens_drop(txn, v, g, true)) ||
			    (rc = tl_view_gens_drop(txn, v, g, false)) ||
			    (rc = tl_view_gen_open(txn, v, g, MDB_CREATE, d)) ||
			    (rc = tl_view_meta_write(db, txn, v, v->version, g)) ||
			    /* a mark of its own, at 0: appends by a release
			     * without the view (which move only the marks of
			     * the views they hold, and the shared one) leave
			     * it behind, instead of it going by the shared
			     * one (a review of the view ids, 0.3.41) */
			    (rc = tl_view_seq_put(db, txn, v, 0))) {
				mdb_txn_abort(txn);
				return tl_mdb_err(err, rc, "create view");
			}
		} else {
			stale[n++] = i;
		}
	}
	if ((rc = mdb_txn_commit(txn)))
		return tl_mdb_err(err, rc, "commit");
	if (n) {
		/* Said before the build lock, which another process's
		 * rebuild of these views may hold a long time. */
		if (db->open_prog.read)
			db->open_prog.read(db->open_prog.arg, 0, head);
		if ((rc = rebuild_stale(db, stale, n, err)))
			return rc;
	}
	return tl_views_refresh(db, err);
}

