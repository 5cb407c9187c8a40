/*
 * view.c - the engine's side of the projection interface: view
 * generations, applying events inside the append transaction, rebuilding
 * a view from the log, and checking a view against a fresh rebuild.
 *
 * Storage.  View NAME at generation G keeps its databases as LMDB named
 * databases "v.NAME.G.DB".  meta "view:NAME" holds 8 bytes: the view's
 * code version (u32 BE) and its serving generation G (u32 BE).
 *
 * Rebuild.  A rebuild fills generation G+1 from the log in chunks of
 * committed write transactions while G keeps serving (writers keep
 * applying to G).  The last chunk runs in the transaction that switches:
 * it replays the events appended meanwhile, points meta at G+1 and drops
 * G.  Readers see G or G+1, never a half-built view.  Replay folds tasks
 * in memory (a hash table of task states) so that every view sees the
 * same before/after states as it did on append, and marks the context
 * `rebuilding` so that no side effect runs twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "internal.h"

/* Events per committed chunk of a rebuild (tests make it small). */
uint64_t tl_rebuild_chunk = 50000;
/* Chunks of at least this many events are decoded in a second thread
 * (tests make it 1). */
uint64_t tl_rebuild_ahead_min = 8192;
void (*tl_rebuild_hook)(void *arg);
void *tl_rebuild_hook_arg;
void (*tl_rebuild_idle_hook)(void *arg);
#define TMP_GEN 0xffffffffu

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

static bool meta_read(tl_db *db, MDB_txn *txn, const tl_view *v,
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

static int meta_write(tl_db *db, MDB_txn *txn, const tl_view *v,
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

static int open_gen(MDB_txn *txn, const tl_view *v, uint32_t gen,
		    unsigned extra, MDB_dbi *dbi)
{
	char name[160];
	for (size_t i = 0; i < v->dbs_len; i++) {
		db_name(name, sizeof name, v, gen, i);
		int rc = mdb_dbi_open(txn, name, v->db_flags[i] | extra,
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
static int drop_gens(MDB_txn *txn, const tl_view *v, uint32_t gen,
		     bool others)
{
	char prefix[96], names[16][160];
	size_t n, plen;
	MDB_dbi main_dbi, d;
	MDB_cursor *c;
	MDB_val k, val;
	int rc;

	if (others)
		snprintf(prefix, sizeof prefix, "v.%s.", v->name);
	else
		snprintf(prefix, sizeof prefix, "v.%s.%u.", v->name, gen);
	plen = strlen(prefix);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)))
		return rc;
	do {
		n = 0;
		if ((rc = mdb_cursor_open(txn, main_dbi, &c)))
			return rc;
		k.mv_size = plen;
		k.mv_data = prefix;
		for (rc = mdb_cursor_get(c, &k, &val, MDB_SET_RANGE);
		     rc == 0 && n < sizeof names / sizeof *names;
		     rc = mdb_cursor_get(c, &k, &val, MDB_NEXT)) {
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
				break;
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
			rc = mdb_dbi_open(txn, names[i], 0, &d);
			if (rc == MDB_INCOMPATIBLE)
				continue; /* a key of the main database */
			if (rc || (rc = mdb_drop(txn, d, 1)))
				return rc;
		}
	} while (n == sizeof names / sizeof *names);
	return 0;
}

/* Whether every database of generation gen of view v exists. */
static bool gen_exists(MDB_txn *txn, const tl_view *v, uint32_t gen)
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
static bool view_serves(tl_db *db, MDB_txn *txn, const tl_view *v)
{
	uint32_t ver, gen;
	return meta_read(db, txn, v, &ver, &gen) && ver == v->version &&
	       gen_exists(txn, v, gen);
}

/* Bring this process's handles to the serving generations (another
 * process may have switched them). */
static int views_refresh(tl_db *db, tl_err *err)
{
	tl_view_state next[64];
	MDB_txn *txn;
	int rc = tl_read_begin(db, &txn, err);
	if (rc)
		return rc;
	/* The new states are staged: handles opened by a transaction that
	 * aborts are gone, and LMDB hands their numbers out again. */
	for (size_t i = 0; i < db->views_len; i++) {
		tl_view_state *s = &next[i];
		uint32_t ver, gen;
		*s = db->vstate[i];
		if (!meta_read(db, txn, db->views[i], &ver, &gen)) {
			s->ready = false;
			continue;
		}
		if (ver != db->views[i]->version &&
		    (db->flags & TL_OPEN_RDONLY)) {
			/* A layout the code may not read, and a read-only
			 * handle cannot rebuild it: absent (its queries say
			 * to rebuild), as if it had no generation. */
			s->ready = false;
			s->absent_gen = gen;
			continue;
		}
		if (s->ready && s->gen == gen)
			continue;
		if ((rc = open_gen(txn, db->views[i], gen, 0, s->dbi))) {
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
		if (s->ready && (!next[i].ready || next[i].gen != s->gen))
			for (size_t j = 0; j < db->views[i]->dbs_len; j++)
				if (s->dbi[j] != next[i].dbi[j])
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

static uint64_t view_seq(tl_db *db, MDB_txn *txn, const tl_view *v)
{
	char key[64];
	MDB_val val;
	view_seq_key(key, sizeof key, v);
	if (tl_meta_get(db, txn, key, &val) || val.mv_size != 8)
		return views_seq(db, txn);
	return tl_get_be64(val.mv_data);
}

static int view_seq_put(tl_db *db, MDB_txn *txn, const tl_view *v,
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
static bool view_behind(tl_db *db, MDB_txn *txn, const tl_view *v,
			uint64_t head)
{
	return head > 0 && view_seq(db, txn, v) != head;
}

int tl_views_mark(tl_db *db, MDB_txn *txn, uint64_t seq)
{
	uint8_t b[8];
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
		if (view_seq(db, txn, db->views[i]) == first - 1)
			rc = view_seq_put(db, txn, db->views[i], last);
	if (!rc && views_seq(db, txn) == first - 1)
		rc = tl_views_mark(db, txn, last);
	return rc;
}

int tl_views_check(tl_db *db, MDB_txn *txn, bool *stale)
{
	*stale = false;
	/* A read-only handle cannot bring a view behind the log up to date:
	 * it does not serve (its answers would leave events out) until a
	 * writable open or rebuild elsewhere does. */
	if (db->flags & TL_OPEN_RDONLY) {
		uint64_t head;
		uint8_t hash[TL_HASH_LEN];
		tl_err e;
		bool known = !tl_log_head(db, txn, &head, hash, &e);
		for (size_t i = 0; i < db->views_len; i++)
			db->vstate[i].behind =
				!known || view_behind(db, txn, db->views[i], head);
	}
	for (size_t i = 0; i < db->views_len; i++) {
		uint32_t ver, gen;
		const tl_view_state *s = &db->vstate[i];
		/* A view with no generation stored (a read-only handle does
		 * not create it) is not stale but absent: its queries say so,
		 * the other views serve. */
		bool has = meta_read(db, txn, db->views[i], &ver, &gen);
		if (has ? (s->ready ? gen != s->gen : gen != s->absent_gen)
			: s->ready) {
			*stale = true;
			return 0;
		}
	}
	return 0;
}

int tl_views_sync(tl_db *db, tl_err *err)
{
	return views_refresh(db, err);
}

const MDB_dbi *tl_view_dbis(tl_db *db, const char *name)
{
	for (size_t i = 0; i < db->views_len; i++)
		if (!strcmp(db->views[i]->name, name) &&
		    db->vstate[i].ready && !db->vstate[i].behind)
			return db->vstate[i].dbi;
	return NULL;
}

/* ---- apply on append -------------------------------------------------- */

int tl_views_apply(tl_txn *t, const tl_event *ev, const tl_task *before,
		   const tl_task *after, tl_err *err)
{
	for (size_t i = 0; i < t->db->views_len; i++) {
		const tl_view *v = t->db->views[i];
		tl_view_state *vs = &t->db->vstate[i];
		if ((v->flags & TL_VIEW_BLIND) && !vs->defer)
			vs->defer = tl_sink_new(v->name, v->db_flags,
						v->dbs_len); /* NULL: direct */
		tl_view_ctx vc = { t->db, t->cur, vs->dbi, false, v->name,
				   (v->flags & TL_VIEW_BLIND) ? vs->defer : NULL,
				   NULL, t->after_doc, t->after_doc_len };
		int rc = v->apply(&vc, ev, before, after, err);
		if (rc)
			return rc;
	}
	return 0;
}

int tl_views_flush(tl_txn *t, tl_err *err)
{
	for (size_t i = 0; i < t->db->views_len; i++) {
		tl_view_state *vs = &t->db->vstate[i];
		if (!vs->defer || tl_sink_empty(vs->defer))
			continue;
		int rc = tl_sink_write(vs->defer, t->db, &t->txn, false,
				       vs->dbi, err);
		if (rc)
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

/* ---- the in-memory fold used by replay -------------------------------- */

/* Tasks in a dense array (loaded in that order) found through an
 * open-addressing table of ids: a probe touches 24 bytes, not a task. */
typedef struct map_slot {
	uint8_t id[16];
	uint32_t idx; /* index into tasks + 1; 0 = empty */
} map_slot;

typedef struct task_map {
	map_slot *slots;
	size_t cap;         /* slots, a power of two */
	tl_task *tasks;     /* a new one is zeroed: version 0 until folded
			       (its id may be all zero: the nil UUID) */
	size_t len, tcap;
} task_map;

/* Whether a task of the map has been folded from at least one event. */
static bool folded(const tl_task *t)
{
	return t->version != 0;
}

/* UUIDv7: bytes 8-15 are random (but for the variant bits). */
static size_t id_hash(const uint8_t id[16], size_t cap)
{
	uint64_t h;
	memcpy(&h, id + 8, 8);
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32 ^ h) & (cap - 1);
}

static map_slot *map_probe(map_slot *slots, size_t cap, const uint8_t id[16])
{
	size_t j = id_hash(id, cap);
	while (slots[j].idx && memcmp(slots[j].id, id, 16))
		j = (j + 1) & (cap - 1);
	return &slots[j];
}

static tl_task *map_find(task_map *m, const uint8_t id[16], bool create)
{
	if (create && (m->len + 1) * 4 > m->cap * 3) {
		size_t ncap = m->cap ? m->cap * 2 : 4096;
		map_slot *ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return NULL;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].idx)
				*map_probe(ns, ncap, m->slots[i].id) =
					m->slots[i];
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	if (!m->cap)
		return NULL;
	map_slot *sl = map_probe(m->slots, m->cap, id);
	if (sl->idx)
		return &m->tasks[sl->idx - 1];
	if (!create || m->len >= UINT32_MAX - 1)
		return NULL;
	if (m->len == m->tcap) {
		size_t ncap = m->tcap ? m->tcap * 2 : 4096;
		tl_task *nt = realloc(m->tasks, ncap * sizeof *nt);
		if (!nt)
			return NULL;
		m->tasks = nt;
		m->tcap = ncap;
	}
	memset(&m->tasks[m->len], 0, sizeof *m->tasks);
	memcpy(sl->id, id, 16);
	sl->idx = (uint32_t)++m->len;
	return &m->tasks[m->len - 1];
}

static void map_free(task_map *m)
{
	for (size_t i = 0; i < m->len; i++)
		tl_task_release(&m->tasks[i]); /* a zeroed one holds nothing */
	free(m->slots);
	free(m->tasks);
	memset(m, 0, sizeof *m);
}

/* ---- replay ------------------------------------------------------------- */

typedef struct replay {
	tl_db *db;
	const size_t *which;  /* indexes into db->views */
	size_t which_len;
	MDB_dbi (*dbi)[TL_VIEW_DBS_MAX]; /* target handles, per which[] */
	tl_sink **sinks;      /* per which[]: the bulk writer, or NULL */
	void **states;        /* per which[]: bulk_begin()'s, or NULL */
	bool bulk;            /* sorted bulk mode (until bulk_finish) */
	task_map tasks;
	msgpack_zone zone;
	bool zone_ok;         /* zone initialised: replay_free destroys it */
	msgpack_sbuffer scratch;
	uint64_t next;        /* next seq to replay */
	uint64_t total;
	tl_progress_fn progress;
	void *arg;
} replay;

/* ---- decoding ahead ------------------------------------------------------
 * A rebuild's scan spends about half its time decoding events (the
 * envelope, the data as a typed change, the task id).  For long ranges a
 * second thread does that, a batch at a time, in its own read transaction
 * (the events up to the range's end are committed, so it sees them all),
 * while this thread folds and applies them in log order.  The reader keeps
 * its transaction open until every batch has been consumed: the decoded
 * events point into its snapshot of the map. */

#define AHEAD_BATCH 256    /* events per batch */
#define AHEAD_BATCHES 8    /* batches in flight */

typedef struct pre_ev {
	uint64_t seq;      /* of the key */
	int rc;            /* PRE_* */
	tl_event ev;
	tl_change ch;      /* task events */
	uint8_t id[16];    /* task events */
} pre_ev;

enum { PRE_OK, PRE_CORRUPT, PRE_NOT_UUID, PRE_NO_CHANGE, PRE_NOT_TASK,
       PRE_NOMEM };

typedef struct ahead_batch {
	pre_ev ev[AHEAD_BATCH];
	size_t n;
	bool last;          /* no event after these (or the reader failed) */
	msgpack_zone zone;  /* tags and upcast data of the batch */
} ahead_batch;

typedef struct ahead {
	MDB_env *env;
	MDB_dbi events;
	uint64_t from, end;
	ahead_batch *b;     /* AHEAD_BATCHES of them */
	size_t filled, taken;
	bool done;          /* the consumer needs no more batches */
	bool no_txn;        /* the reader could not begin (e.g. no reader
			       slot left): nothing was read */
	int rc;             /* the reader's LMDB error */
	pthread_mutex_t mu;
	pthread_cond_t cv;
} ahead;

/* The seq of an events key; a key of another size (a damaged log) gives
 * UINT64_MAX, which no replay expects. */
static uint64_t key_seq(const MDB_val *k)
{
	return k->mv_size == 8 ? tl_get_be64(k->mv_data) : UINT64_MAX;
}

/* The log must hold every seq from 1 to its head; a replay that finds
 * another one than the next (or none) stops here, on any window size. */
static int missing(uint64_t seq, tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "the log has no event %llu (damaged log)",
			  (unsigned long long)seq);
}

static int corrupt(uint64_t seq, tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage", "event %llu is corrupt",
			  (unsigned long long)seq);
}

static bool is_task_event(const tl_event *ev)
{
	return ev->type.len > 5 && !memcmp(ev->type.p, "task.", 5);
}

/* Decode the event at raw into p, its data and tags in zone. */
static void pre_decode(pre_ev *p, uint64_t seq, const MDB_val *v,
		       msgpack_zone *zone, msgpack_sbuffer *scratch)
{
	p->seq = seq;
	p->rc = PRE_OK;
	/* The decoders return the same failure for bad bytes and for an
	 * allocation that failed: malloc's errno tells them apart. */
	errno = 0;
	if (tl_event_decode(v->mv_data, v->mv_size, &p->ev, zone, scratch)) {
		p->rc = errno == ENOMEM ? PRE_NOMEM : PRE_CORRUPT;
		return;
	}
	if (p->ev.seq != seq) {
		p->rc = PRE_CORRUPT;
		return;
	}
	if (p->ev.data == (const uint8_t *)scratch->data) {
		/* upcast into scratch: keep a copy with the batch */
		uint8_t *d = msgpack_zone_malloc(zone, p->ev.data_len);
		if (!d) {
			p->rc = PRE_NOMEM;
			return;
		}
		memcpy(d, p->ev.data, p->ev.data_len);
		p->ev.data = d;
	}
	if (!is_task_event(&p->ev))
		p->rc = PRE_NOT_TASK;
	else if (!tl_uuid_parse(p->ev.stream, p->id))
		p->rc = PRE_NOT_UUID;
	else if ((errno = 0, tl_change_decode(&p->ev, &p->ch, zone)))
		p->rc = errno == ENOMEM ? PRE_NOMEM : PRE_NO_CHANGE;
}

static void *ahead_run(void *arg)
{
	ahead *a = arg;
	MDB_txn *txn = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t kb[8];
	msgpack_sbuffer scratch;
	bool more = true;
	int rc;

	msgpack_sbuffer_init(&scratch);
	tl_put_be64(kb, a->from);
	k = (MDB_val){ 8, kb };
	if ((rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn)) ||
	    (rc = mdb_cursor_open(txn, a->events, &c)))
		more = false, a->no_txn = true;
	else if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) ==
		 MDB_NOTFOUND)
		more = false, rc = 0;
	else if (rc)
		more = false;
	for (bool last = false; !last;) {
		pthread_mutex_lock(&a->mu);
		while (a->filled - a->taken == AHEAD_BATCHES && !a->done)
			pthread_cond_wait(&a->cv, &a->mu);
		bool done = a->done;
		pthread_mutex_unlock(&a->mu);
		if (done)
			break;
		ahead_batch *b = &a->b[a->filled % AHEAD_BATCHES];
		msgpack_zone_clear(&b->zone);
		b->n = 0;
		while (more && b->n < AHEAD_BATCH) {
			uint64_t seq = key_seq(&k);
			if (seq > a->end) {
				more = false;
				break;
			}
			pre_decode(&b->ev[b->n++], seq, &v, &b->zone, &scratch);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			if (rc) {
				more = false;
				rc = rc == MDB_NOTFOUND ? 0 : rc;
			}
		}
		last = b->last = !more;
		pthread_mutex_lock(&a->mu);
		if (last)
			a->rc = rc;
		a->filled++;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	/* The consumer reads the batches' events out of this snapshot. */
	pthread_mutex_lock(&a->mu);
	while (!a->done)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	if (c)
		mdb_cursor_close(c);
	if (txn)
		mdb_txn_abort(txn);
	msgpack_sbuffer_destroy(&scratch);
	return NULL;
}

/* Progress reported from inside the scan's write transaction: a write
 * through the handle from the callback would wait for LMDB's writer lock
 * for ever, so tl_txn_begin refuses it meanwhile. */
static void progress_in_txn(replay *r, uint64_t done)
{
	r->db->writer_held = true;
	r->progress(r->arg, done, r->total);
	r->db->writer_held = false;
}

/* Fold ev into its task and hand it to the views; pre: what the reader
 * thread decoded of it, or NULL to decode here. */
static int replay_event(replay *r, MDB_txn *txn, const tl_event *ev,
			const pre_ev *pre, tl_err *err)
{
	tl_task before, *slot = NULL;
	bool have_before = false, is_task = is_task_event(ev);
	int rc = 0;

	if (is_task) {
		uint8_t id[16];
		if (pre ? pre->rc == PRE_NOT_UUID : !tl_uuid_parse(ev->stream, id))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "event %llu: task stream is not a UUID",
					  (unsigned long long)ev->seq);
		if (pre)
			memcpy(id, pre->id, 16);
		slot = map_find(&r->tasks, id, true);
		if (!slot)
			return tl_err_oom(err);
		if (folded(slot)) {
			if (tl_task_copy(&before, slot))
				return tl_err_oom(err);
			have_before = true;
		}
		errno = 0;
		if (pre ? pre->rc != PRE_OK || tl_task_apply(slot, ev, &pre->ch)
			: tl_task_fold(slot, ev, &r->zone) != 0) {
			/* an allocation that failed is no damage of the log */
			rc = (pre && pre->rc == PRE_NOMEM) || errno == ENOMEM
				     ? tl_err_oom(err)
				     : tl_err_set(err, TL_ESTORAGE, "storage",
						  "event %llu cannot be folded",
						  (unsigned long long)ev->seq);
			goto out;
		}
	}
	for (size_t i = 0; i < r->which_len; i++) {
		const tl_view *v = r->db->views[r->which[i]];
		if (r->bulk && v->load && !(v->flags & TL_VIEW_LOAD_AND_APPLY))
			continue; /* loaded from the final states instead */
		tl_view_ctx vc = { r->db, txn, r->dbi[i], true, v->name,
				   r->bulk ? r->sinks[i] : NULL,
				   r->bulk ? r->states[i] : NULL, NULL, 0 };
		if ((rc = v->apply(&vc, ev, have_before ? &before : NULL, slot,
				   err)))
			break;
	}
out:
	if (have_before)
		tl_task_release(&before);
	return rc;
}

/* replay_ahead could not start its thread or transaction. */
#define AHEAD_INLINE 0x7ffe0001 /* no TL_E*, errno or LMDB code */

/* replay_range with the decoding in a second thread; AHEAD_INLINE (and
 * nothing replayed) when it cannot have one. */
/* The fold touches, per task event, the task's map slot, its state and
 * its strings: three dependent cache misses at a million tasks.  The
 * batch says which tasks come next, so ask for them early, a stage at a
 * time: the slot 12 events ahead, the state (the slot now cached) 8
 * ahead, the strings (the state now cached) 4 ahead.  Reads go to the
 * map as it is at that moment; a prefetch never faults. */
enum { PF_SLOT = 12, PF_TASK = 8, PF_MEM = 4 };

static void prefetch_task(const task_map *m, const pre_ev *p, int stage)
{
	if (p->rc != PRE_OK || !m->cap)
		return;
	if (stage == PF_SLOT) {
		__builtin_prefetch(&m->slots[id_hash(p->id, m->cap)]);
		return;
	}
	const map_slot *sl = map_probe(m->slots, m->cap, p->id);
	if (!sl->idx)
		return; /* a new task */
	const tl_task *t = &m->tasks[sl->idx - 1];
	if (stage == PF_TASK) {
		__builtin_prefetch(t);
		__builtin_prefetch((const char *)t + 64);
		__builtin_prefetch((const char *)t + 128);
	} else if (t->mem_) {
		__builtin_prefetch(t->mem_);
	}
}

static int replay_ahead(replay *r, MDB_txn *txn, uint64_t end, tl_err *err)
{
	ahead a = { .env = r->db->env, .events = r->db->events,
		    .from = r->next, .end = end };
	pthread_t th;
	int rc = 0;

	if (!(a.b = calloc(AHEAD_BATCHES, sizeof *a.b)))
		return tl_err_oom(err);
	size_t zones = 0;
	while (zones < AHEAD_BATCHES &&
	       msgpack_zone_init(&a.b[zones].zone, 4096))
		zones++;
	if (zones < AHEAD_BATCHES) {
		while (zones)
			msgpack_zone_destroy(&a.b[--zones].zone);
		free(a.b);
		return tl_err_oom(err);
	}
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	if (pthread_create(&th, NULL, ahead_run, &a)) {
		rc = AHEAD_INLINE; /* no thread: decode here */
		goto out;
	}
	for (bool last = false; !last && !rc;) {
		pthread_mutex_lock(&a.mu);
		while (a.taken == a.filled)
			pthread_cond_wait(&a.cv, &a.mu);
		pthread_mutex_unlock(&a.mu);
		ahead_batch *b = &a.b[a.taken % AHEAD_BATCHES];
		for (size_t i = 0; i < b->n && !rc; i++) {
			const pre_ev *p = &b->ev[i];
			if (i + PF_SLOT < b->n)
				prefetch_task(&r->tasks, &b->ev[i + PF_SLOT],
					      PF_SLOT);
			if (i + PF_TASK < b->n)
				prefetch_task(&r->tasks, &b->ev[i + PF_TASK],
					      PF_TASK);
			if (i + PF_MEM < b->n)
				prefetch_task(&r->tasks, &b->ev[i + PF_MEM],
					      PF_MEM);
			if (p->seq != r->next) {
				rc = missing(r->next, err);
				break;
			}
			if (p->rc == PRE_CORRUPT || p->rc == PRE_NOMEM) {
				rc = p->rc == PRE_NOMEM
					     ? tl_err_oom(err)
					     : corrupt(p->seq, err);
				break;
			}
			if ((rc = replay_event(r, txn, &p->ev, p, err)))
				break;
			r->next = p->seq + 1;
			if (r->progress && (p->seq & 0x3fff) == 0)
				progress_in_txn(r, p->seq);
		}
		last = b->last;
		pthread_mutex_lock(&a.mu);
		a.taken++;
		if (last && !rc && a.no_txn)
			rc = AHEAD_INLINE; /* nothing read: decode here */
		else if (last && !rc && a.rc)
			rc = tl_mdb_err(err, a.rc, "replay");
		pthread_cond_broadcast(&a.cv);
		pthread_mutex_unlock(&a.mu);
	}
	pthread_mutex_lock(&a.mu);
	a.done = true;
	pthread_cond_broadcast(&a.cv);
	pthread_mutex_unlock(&a.mu);
	pthread_join(th, NULL);
out:
	for (size_t i = 0; i < AHEAD_BATCHES; i++)
		msgpack_zone_destroy(&a.b[i].zone);
	free(a.b);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cv);
	return rc;
}

/* Replay events [r->next, end] (end 0 = to the head) into txn. */
static int replay_range(replay *r, MDB_txn *txn, uint64_t end, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[8];
	tl_event ev;
	int rc;

	if (r->bulk && end && end >= r->next &&
	    end - r->next + 1 >= tl_rebuild_ahead_min &&
	    (rc = replay_ahead(r, txn, end, err)) != AHEAD_INLINE)
		return rc;

	if ((rc = mdb_cursor_open(txn, r->db->events, &c)))
		return tl_mdb_err(err, rc, "cursor");
	tl_put_be64(kb, r->next);
	k.mv_size = 8;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint64_t seq = key_seq(&k);
		if (end && seq > end)
			break;
		if (seq != r->next) {
			rc = missing(r->next, err);
			break;
		}
		errno = 0;
		if (tl_event_decode(v.mv_data, v.mv_size, &ev, &r->zone,
				    &r->scratch)) {
			rc = errno == ENOMEM ? tl_err_oom(err)
					     : corrupt(seq, err);
			break;
		}
		if (ev.seq != seq) {
			rc = corrupt(seq, err);
			break;
		}
		if ((rc = replay_event(r, txn, &ev, NULL, err)))
			break;
		msgpack_zone_clear(&r->zone);
		r->next = seq + 1;
		if (r->progress && (seq & 0x3fff) == 0)
			progress_in_txn(r, seq);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND || rc == 0)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "replay") : rc;
}

/* Open the target databases of generation gen of each view; emptied when
 * the replay starts (leftovers of an interrupted rebuild). */
static int targets_open(replay *r, MDB_txn *txn, uint32_t gen, tl_err *err)
{
	for (size_t i = 0; i < r->which_len; i++) {
		const tl_view *v = r->db->views[r->which[i]];
		int rc = r->next == 1 ? drop_gens(txn, v, gen, false) : 0;
		if (!rc)
			rc = open_gen(txn, v, gen, MDB_CREATE, r->dbi[i]);
		if (rc)
			return tl_mdb_err(err, rc, "create view generation");
	}
	return 0;
}

static int targets_drop(replay *r, MDB_txn *txn, tl_err *err)
{
	for (size_t i = 0; i < r->which_len; i++)
		for (size_t j = 0; j < r->db->views[r->which[i]]->dbs_len; j++) {
			int rc = mdb_drop(txn, r->dbi[i][j], 1);
			if (rc)
				return tl_mdb_err(err, rc, "drop view");
		}
	return 0;
}

static int replay_init(replay *r, tl_db *db, const size_t *which, size_t n,
		       tl_progress_fn progress, void *arg)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	r->which = which;
	r->which_len = n;
	r->next = 1;
	r->progress = progress;
	r->arg = arg;
	r->dbi = calloc(n ? n : 1, sizeof *r->dbi);
	r->sinks = calloc(n ? n : 1, sizeof *r->sinks);
	r->states = calloc(n ? n : 1, sizeof *r->states);
	r->zone_ok = msgpack_zone_init(&r->zone, 8192);
	msgpack_sbuffer_init(&r->scratch);
	if (!r->dbi || !r->sinks || !r->states || !r->zone_ok)
		return TL_ESTORAGE;
	/* Bulk mode: views that are loaded from final states or only put
	 * write through sinks; the others apply directly meanwhile. */
	r->bulk = true;
	for (size_t i = 0; i < n; i++) {
		const tl_view *v = db->views[which[i]];
		if (!v->load && !(v->flags & TL_VIEW_BLIND) && !v->bulk_begin)
			continue;
		if (!(r->sinks[i] = tl_sink_new(v->name, v->db_flags,
						v->dbs_len)))
			return TL_ESTORAGE;
		if (v->bulk_begin && !(r->states[i] = v->bulk_begin()))
			return TL_ESTORAGE;
	}
	return 0;
}

static void replay_free(replay *r)
{
	map_free(&r->tasks);
	for (size_t i = 0; r->sinks && i < r->which_len; i++)
		tl_sink_free(r->sinks[i]);
	for (size_t i = 0; r->states && i < r->which_len; i++)
		if (r->states[i])
			r->db->views[r->which[i]]->bulk_free(r->states[i]);
	free(r->sinks);
	free(r->states);
	free(r->dbi);
	if (r->zone_ok)
		msgpack_zone_destroy(&r->zone);
	msgpack_sbuffer_destroy(&r->scratch);
}

/* Fill generation `gen` of the chosen views in chunked transactions up to
 * the head; the caller replays what was appended meanwhile in its own
 * transaction. */
static int replay_chunks(replay *r, uint32_t gen, tl_err *err)
{
	for (bool first = true;; first = false) {
		MDB_txn *txn;
		uint64_t head;
		uint8_t hash[TL_HASH_LEN];
		int rc = tl_env_begin(r->db, 0, &txn);
		if (rc)
			return tl_mdb_err(err, rc, "begin rebuild");
		if ((rc = tl_log_head(r->db, txn, &head, hash, err)) ||
		    (rc = targets_open(r, txn, gen, err)))
			goto fail;
		if (first)
			r->total = head;
		if (r->next > head) {
			mdb_txn_abort(txn);
			return 0; /* later events go in the final transaction */
		}
		uint64_t end = r->next + tl_rebuild_chunk - 1;
		if (end > head)
			end = head;
		if ((rc = replay_range(r, txn, end, err)))
			goto fail;
		if (r->next <= end) { /* the window held no event r->next */
			rc = missing(r->next, err);
			goto fail;
		}
		if ((rc = mdb_txn_commit(txn)))
			return tl_mdb_err(err, rc, "commit rebuild");
		tl_writer_yield();
		continue;
fail:
		mdb_txn_abort(txn);
		return rc;
	}
}

/* ---- finishing a bulk rebuild -------------------------------------------
 * After the scan, every view with a sink is loaded (load() once per task in
 * its final state, or bulk_end()), then its sink is sorted and written.
 * Writes go through the one LMDB write transaction, so only this thread
 * makes them; loads and sorts run in a second thread as well, so that one
 * view's sink is written while the next is still being loaded or sorted.
 * A load in the second thread has no transaction: it stops when its sink
 * holds tl_rebuild_mem bytes, and this thread finishes it, writing sorted
 * runs as it goes (as every load on this thread does).  bulk_end() runs
 * here (its view may need the transaction).  Writing order between views
 * does not matter: each writes its own databases. */

size_t tl_rebuild_finish_min = 4096; /* tasks: fewer, no second thread */
size_t tl_rebuild_handoffs; /* loads the second thread left at the bound */

enum {
	F_NONE,      /* no sink: nothing to do */
	F_LOAD,      /* load() to run (from job.at) */
	F_LOAD_HERE, /* load() to finish on this thread (sink at the bound) */
	F_SORT,      /* loaded: to sort */
	F_SORTED,    /* to write */
	F_BUSY,      /* a thread works on it */
	F_DONE
};

typedef struct fin_job {
	int st;
	size_t at; /* the next task of its load */
} fin_job;

typedef struct finish {
	replay *r;
	fin_job *job;     /* per which[] */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;        /* this thread failed: the second one stops */
	int rc;           /* the second thread's failure, with err */
	tl_err err;
} finish;

/* Run view i's load() from job.at on; with no txn (the second thread) stop
 * at the memory bound or when told to quit (job.at then short of the
 * end). */
static int fin_load(finish *f, size_t i, MDB_txn *txn, tl_err *err)
{
	replay *r = f->r;
	const tl_view *v = r->db->views[r->which[i]];
	tl_view_ctx vc = { r->db, txn, r->dbi[i], true, v->name,
			   r->sinks[i], r->states[i], NULL, 0 };
	size_t j = f->job[i].at;
	int rc = 0;

	for (; !rc && j < r->tasks.len; j++) {
		if (!txn) {
			if (tl_sink_bytes(r->sinks[i]) > tl_rebuild_mem)
				break;
			if (!(j & 4095)) {
				pthread_mutex_lock(&f->mu);
				bool quit = f->quit;
				pthread_mutex_unlock(&f->mu);
				if (quit)
					break;
			}
		}
		const tl_task *t = &r->tasks.tasks[j];
		if (folded(t))
			rc = v->load(&vc, t, err);
	}
	f->job[i].at = j;
	return rc;
}

/* The first job in state st, or SIZE_MAX; called locked. */
static size_t fin_find(const finish *f, int st)
{
	for (size_t i = 0; i < f->r->which_len; i++)
		if (f->job[i].st == st)
			return i;
	return SIZE_MAX;
}

/* The second thread: loads, then sorts, while there are any. */
static void *fin_run(void *arg)
{
	finish *f = arg;
	tl_err err = { 0 };

	pthread_mutex_lock(&f->mu);
	while (!f->quit) {
		size_t i = fin_find(f, F_LOAD);
		int rc, next;
		if (i != SIZE_MAX) {
			f->job[i].st = F_BUSY;
			pthread_mutex_unlock(&f->mu);
			rc = fin_load(f, i, NULL, &err);
			next = f->job[i].at < f->r->tasks.len ? F_LOAD_HERE
							       : F_SORT;
		} else if ((i = fin_find(f, F_SORT)) != SIZE_MAX) {
			f->job[i].st = F_BUSY;
			pthread_mutex_unlock(&f->mu);
			rc = tl_sink_sort(f->r->sinks[i])
				     ? tl_err_oom(&err)
				     : 0;
			next = F_SORTED;
		} else {
			break;
		}
		pthread_mutex_lock(&f->mu);
		f->job[i].st = next;
		if (rc && !f->rc) {
			f->rc = rc;
			f->err = err;
		}
		pthread_cond_broadcast(&f->cv);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* With renew, bulk_finish holds the write transaction only while it uses
 * it: sorting, loading up to the memory bound and waiting for the second
 * thread take seconds at a million tasks, and writers of other processes
 * wait for as long as it is open.  A transaction given up is committed,
 * never aborted: the databases it opened or created stay open only so.
 * Tests look in whenever it has been given up (tl_rebuild_idle_hook). */
static int fin_idle(MDB_txn **txn, tl_err *err)
{
	if (!*txn)
		return 0;
	int rc = mdb_txn_commit(*txn);
	*txn = NULL;
	if (rc)
		return tl_mdb_err(err, rc, "commit rebuild");
	tl_writer_yield();
	return 0;
}

/* Tests: about to sort, load or wait (phase: 's', 'l', 'w') without the
 * transaction. */
static void fin_look(char phase)
{
	if (tl_rebuild_idle_hook)
		tl_rebuild_idle_hook(&phase);
}

static int fin_txn_take(replay *r, MDB_txn **txn, tl_err *err)
{
	if (*txn)
		return 0;
	int rc = tl_env_begin(r->db, 0, txn);
	if (rc) {
		*txn = NULL;
		return tl_mdb_err(err, rc, "begin rebuild");
	}
	return 0;
}

/* Leave bulk mode: load the views that load from final states (the tasks
 * as folded up to event r->next - 1), let the in-memory ones write, sort
 * every sink and write it into *txn (renewed as it fills when renew is
 * set; then also given up between writes, and NULL after a failure).
 * Later events apply directly. */
static int bulk_finish(replay *r, MDB_txn **txn, bool renew, tl_err *err)
{
	finish f = { .r = r };
	pthread_t th;
	bool threaded = false;
	int rc = 0;

	if (!(f.job = calloc(r->which_len ? r->which_len : 1, sizeof *f.job)))
		return tl_err_oom(err);
	for (size_t i = 0; i < r->which_len; i++) {
		const tl_view *v = r->db->views[r->which[i]];
		/* A view with bulk_begin loads (if it does) and ends here,
		 * below: its bulk_end may need the transaction. */
		f.job[i].st = !r->sinks[i]    ? F_NONE
			      : v->bulk_begin ? F_BUSY
			      : v->load       ? F_LOAD
					      : F_SORT;
	}
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	if (r->tasks.len >= tl_rebuild_finish_min)
		threaded = pthread_create(&th, NULL, fin_run, &f) == 0;

	for (size_t i = 0; !rc && i < r->which_len; i++) {
		const tl_view *v = r->db->views[r->which[i]];
		if (!r->sinks[i] || !v->bulk_begin)
			continue;
		tl_view_ctx vc = { r->db, *txn, r->dbi[i], true, v->name,
				   r->sinks[i], r->states[i], NULL, 0 };
		if (v->load)
			rc = fin_load(&f, i, *txn, err);
		if (!rc)
			rc = v->bulk_end(&vc, r->states[i], err);
		pthread_mutex_lock(&f.mu);
		f.job[i].st = F_SORT;
		pthread_cond_broadcast(&f.cv);
		pthread_mutex_unlock(&f.mu);
	}

	/* Write what is sorted; else finish a bounded load, load, sort;
	 * else wait for the second thread. */
	bool waiting = false; /* since the last job; the txn given up */
	pthread_mutex_lock(&f.mu);
	while (!rc && !f.rc) {
		size_t i;
		int st;
		if ((i = fin_find(&f, F_SORTED)) != SIZE_MAX)
			st = F_SORTED;
		else if ((i = fin_find(&f, F_LOAD_HERE)) != SIZE_MAX) {
			st = F_LOAD_HERE;
			tl_rebuild_handoffs++;
		}
		else if ((i = fin_find(&f, F_LOAD)) != SIZE_MAX)
			st = F_LOAD;
		else if ((i = fin_find(&f, F_SORT)) != SIZE_MAX)
			st = F_SORT;
		else if (fin_find(&f, F_BUSY) != SIZE_MAX) {
			if (renew && !waiting) { /* not held while waiting */
				pthread_mutex_unlock(&f.mu);
				if (!(rc = fin_idle(txn, err)))
					fin_look('w');
				pthread_mutex_lock(&f.mu);
				waiting = true;
				continue;
			}
			pthread_cond_wait(&f.cv, &f.mu);
			continue;
		} else
			break; /* all done */
		f.job[i].st = F_BUSY;
		waiting = false;
		pthread_mutex_unlock(&f.mu);
		int next = F_DONE;
		if (st == F_SORTED) {
			if (!(rc = fin_txn_take(r, txn, err)))
				rc = tl_sink_write(r->sinks[i], r->db, txn,
						   renew, r->dbi[i], err);
		} else if (st == F_LOAD && renew) {
			/* As the second thread does: without the
			 * transaction up to the memory bound, the rest (if
			 * any) with it, to write sorted runs. */
			if (!(rc = fin_idle(txn, err))) {
				fin_look('l');
				rc = fin_load(&f, i, NULL, err);
			}
			if (!rc && f.job[i].at < r->tasks.len &&
			    !(rc = fin_txn_take(r, txn, err)))
				rc = fin_load(&f, i, *txn, err);
			next = F_SORT;
		} else if (st != F_SORT) {
			if (!(rc = fin_txn_take(r, txn, err)))
				rc = fin_load(&f, i, *txn, err);
			next = F_SORT;
		} else {
			if (renew && !(rc = fin_idle(txn, err)))
				fin_look('s');
			if (!rc && tl_sink_sort(r->sinks[i]))
				rc = tl_err_oom(err);
			next = F_SORTED;
		}
		pthread_mutex_lock(&f.mu);
		f.job[i].st = next;
	}
	if (rc)
		f.quit = true;
	pthread_mutex_unlock(&f.mu);
	if (threaded)
		pthread_join(th, NULL);
	if (!rc && f.rc) {
		*err = f.err;
		rc = f.rc;
	}
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	free(f.job);
	if (!rc) /* the caller commits it */
		rc = fin_txn_take(r, txn, err);
	if (!rc)
		r->bulk = false;
	return rc;
}

/* Fill generation gen of the chosen views from the whole log.  On success
 * *out is the open write transaction that replayed the last events; the
 * caller switches (or compares) in it and commits or aborts it. */
/* A new generation is written in full before the one it replaces is
 * dropped: make room for one as big as the whole file first, so that the
 * build does not fill the map midway and start over from the scan (its
 * callers grow the map on TL_EAGAIN and run it again).  No transaction of
 * this process is open here, as LMDB requires; a failure leaves that
 * fallback. */
bool tl_rebuild_room = true;

static void make_room(tl_db *db)
{
	MDB_envinfo info;
	MDB_stat st;
	if (!tl_rebuild_room || db->map_lost || mdb_env_info(db->env, &info) ||
	    mdb_env_stat(db->env, &st))
		return;
	size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	size_t size = info.me_mapsize;
	while (size < 2 * used && size < SIZE_MAX / 2)
		size *= 2;
	if (size != info.me_mapsize)
		(void)tl_env_resize(db, size); /* as it was if it fails */
}

static int build_gen(replay *r, uint32_t gen, MDB_txn **out, tl_err *err)
{
	MDB_txn *txn;
	int rc;

	make_room(r->db);
	if ((rc = replay_chunks(r, gen, err)))
		return rc;
	if (r->progress && r->next > 1) /* scanned: now sort and write */
		r->progress(r->arg, r->next - 1, r->next - 1);
	if (r->next > 1) {
		/* Chunks were committed: the sorted writes get a transaction
		 * of their own, so that the switch stays short. */
		if ((rc = tl_env_begin(r->db, 0, &txn)))
			return tl_mdb_err(err, rc, "begin rebuild");
		if ((rc = targets_open(r, txn, gen, err)) ||
		    (rc = bulk_finish(r, &txn, true, err))) {
			if (txn)
				mdb_txn_abort(txn);
			return rc;
		}
		if ((rc = mdb_txn_commit(txn)))
			return tl_mdb_err(err, rc, "commit rebuild");
	}
	if (tl_rebuild_hook)
		tl_rebuild_hook(tl_rebuild_hook_arg);
	if ((rc = tl_env_begin(r->db, 0, &txn)))
		return tl_mdb_err(err, rc, "begin switch");
	if ((rc = targets_open(r, txn, gen, err)) ||
	    (rc = replay_range(r, txn, 0, err)) ||
	    (r->bulk && (rc = bulk_finish(r, &txn, false, err)))) {
		mdb_txn_abort(txn);
		return rc;
	}
	*out = txn;
	return 0;
}

/* ---- rebuild -------------------------------------------------------- */

static int find_views(tl_db *db, const char *const *names, size_t n,
		      size_t *which, size_t *len, tl_err *err)
{
	*len = 0;
	if (!n) {
		for (size_t i = 0; i < db->views_len; i++)
			which[(*len)++] = i;
		return 0;
	}
	for (size_t k = 0; k < n; k++) {
		size_t i;
		for (i = 0; i < db->views_len; i++)
			if (!strcmp(db->views[i]->name, names[k]))
				break;
		if (i == db->views_len)
			return tl_err_set(err, TL_EINVALID, "projection",
					  "unknown projection '%.64s'",
					  names[k]);
		bool dup = false;
		for (size_t j = 0; j < *len; j++)
			dup |= which[j] == i;
		if (!dup)
			which[(*len)++] = i;
	}
	return 0;
}

static int rebuild_locked(tl_db *db, const size_t *which, size_t n,
			  tl_progress_fn progress, void *arg, tl_err *err)
{
	MDB_dbi gone[64 * TL_VIEW_DBS_MAX];
	size_t ngone = 0;
	replay r;
	uint32_t gens[64] = { 0 };
	int rc;

	if (n == 0)
		return 0;
	if (n > 64)
		return tl_err_set(err, TL_EINVALID, "projection",
				  "too many projections");
	if (replay_init(&r, db, which, n, progress, arg)) {
		replay_free(&r);
		return tl_err_oom(err);
	}
	/* The new generation: one past the serving one (read now; a switch
	 * by another process meanwhile is caught in the final txn). */
	MDB_txn *txn;
	if ((rc = tl_read_begin(db, &txn, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint32_t ver, gen;
		gens[i] = meta_read(db, txn, db->views[which[i]], &ver, &gen)
				  ? gen + 1 : 1;
		if (gens[i] == TMP_GEN)
			gens[i] = 1;
	}
	mdb_txn_abort(txn);
	/* Views rebuilt together share one new generation number, past the
	 * serving generation of each. */
	for (size_t i = 1; i < n; i++)
		if (gens[i] > gens[0])
			gens[0] = gens[i];
	/* The switch: in the transaction that replayed the last events,
	 * point meta at the new generation and drop the old one. */
	if ((rc = build_gen(&r, gens[0], &txn, err)))
		goto out;
	/* Handles of a generation another process switched away from and
	 * dropped (this handle had not refreshed since): closed once this
	 * transaction is over, or a handle that rebuilds now and then would
	 * run out of LMDB's handles. */
	for (size_t i = 0; !rc && i < n; i++) {
		const tl_view *v = db->views[which[i]];
		tl_view_state *s = &db->vstate[which[i]];
		if (s->ready && s->gen != gens[0]) {
			/* Dropped by another process: close its handles after
			 * the commit.  (The drop below closes those of a
			 * generation it drops.) */
			if (!gen_exists(txn, v, s->gen))
				for (size_t j = 0; j < v->dbs_len; j++)
					gone[ngone++] = s->dbi[j];
			s->ready = false;
		}
		/* Every other generation goes: the one that served, and any
		 * that damage or an interrupted switch stranded. */
		if ((rc = drop_gens(txn, v, gens[0], true))) {
			rc = tl_mdb_err(err, rc, "drop view");
			break;
		}
		if ((rc = meta_write(db, txn, v, v->version, gens[0])))
			rc = tl_mdb_err(err, rc, "switch view");
	}
	/* The rebuilt views hold the whole log now; when they are all of
	 * them, the mark of earlier releases says so too. */
	for (size_t i = 0; !rc && r.next > 1 && i < n; i++)
		if ((rc = view_seq_put(db, txn, db->views[which[i]],
				       r.next - 1)))
			rc = tl_mdb_err(err, rc, "switch view");
	if (!rc && n == db->views_len && r.next > 1 &&
	    (rc = tl_views_mark(db, txn, r.next - 1)))
		rc = tl_mdb_err(err, rc, "switch view");
	/* The task counts are derived data too (stats reads them): stored
	 * again from the fold, which repairs counts that a writer which did
	 * not keep them (a release before them) left behind. */
	if (!rc) {
		uint64_t tasks = 0, active = 0;
		for (size_t j = 0; j < r.tasks.len; j++) {
			const tl_task *t = &r.tasks.tasks[j];
			if (folded(t) && !t->deleted) {
				tasks++;
				active += tl_status_active(t->status);
			}
		}
		if ((rc = tl_counts_put(db, txn, tasks, active)))
			rc = tl_mdb_err(err, rc, "store counts");
	}
	if (rc)
		goto fail;
	if ((rc = mdb_txn_commit(txn))) {
		rc = tl_mdb_err(err, rc, "commit switch");
		goto out;
	}
	if (progress)
		progress(arg, r.total, r.total);
	for (size_t i = 0; i < ngone; i++)
		mdb_dbi_close(db->env, gone[i]);
	ngone = 0;
	rc = views_refresh(db, err);
	goto out;
fail:
	mdb_txn_abort(txn);
out:
	for (size_t i = 0; i < ngone; i++)
		mdb_dbi_close(db->env, gone[i]);
	replay_free(&r);
	return rc;
}

/*
 * Builders of a generation other than the serving one (rebuilds, verify's
 * temporary one) take the workspace's build lock, so that two processes
 * never fill the same generation: a flock on data.mdb (LMDB takes none on
 * it; its own locks are in lock.mdb), and first one on DIR/build.lock,
 * which is all that releases 0.3.0 to 0.3.3 took, when that file can be
 * opened (a directory that is not writable and a workspace made before
 * build.lock existed cannot make it).  Always in this order.  The kernel
 * releases both when a process dies.  (A release before 0.3.4 that can
 * make build.lock beside one of this release that could not is the one
 * pair not kept apart: they lock different files.)
 */
typedef struct build_lk {
	int fd[2]; /* build.lock (-1: none), data.mdb */
	tl_db *db; /* whose building flag it holds, once locked */
} build_lk;

static int lock_fd(int fd, const char *path, tl_err *err)
{
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "cannot lock %s: %s", path,
					  strerror(errno));
	return 0;
}

static void build_unlock(build_lk *lk)
{
	for (int i = 0; i < 2; i++) /* closing releases the flock */
		if (lk->fd[i] >= 0)
			close(lk->fd[i]);
	lk->fd[0] = lk->fd[1] = -1;
	if (lk->db)
		lk->db->building = false;
	lk->db = NULL;
}

static int build_lock(tl_db *db, build_lk *lk, tl_err *err)
{
	char path[PATH_MAX + 16];
	int rc;
	lk->fd[0] = lk->fd[1] = -1;
	lk->db = NULL;
	/* A second build through the same handle (from a rebuild's progress
	 * callback) would wait for ever on its own flock. */
	if (db->building)
		return tl_err_set(err, TL_EINVALID, "db",
				  "a rebuild or verify of this handle is "
				  "running (called from its callback?)");
	snprintf(path, sizeof path, "%s/build.lock", db->dir);
	lk->fd[0] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (lk->fd[0] < 0) /* flock needs no write access */
		lk->fd[0] = open(path, O_RDONLY | O_CLOEXEC);
	if (lk->fd[0] < 0 && errno != EACCES && errno != EPERM &&
	    errno != EROFS && errno != ENOENT)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "cannot open %s: %s", path, strerror(errno));
	if (lk->fd[0] >= 0 && (rc = lock_fd(lk->fd[0], path, err)))
		goto fail;
	snprintf(path, sizeof path, "%s/data.mdb", db->dir);
	lk->fd[1] = open(path, O_RDONLY | O_CLOEXEC);
	if (lk->fd[1] < 0) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if ((rc = lock_fd(lk->fd[1], path, err)))
		goto fail;
	db->building = true;
	lk->db = db;
	return 0;
fail:
	build_unlock(lk);
	return rc;
}

static int rebuild_views(tl_db *db, const size_t *which, size_t n,
			 tl_progress_fn progress, void *arg, tl_err *err)
{
	if (n == 0)
		return 0;
	build_lk lk;
	int rc = build_lock(db, &lk, err);
	if (rc)
		return rc;
	rc = rebuild_locked(db, which, n, progress, arg, err);
	build_unlock(&lk);
	return rc;
}

/* An open's rebuild of the views it found stale: under the build lock,
 * those still stale only.  Several processes that open an upgraded
 * workspace at once would otherwise each rebuild the views in turn; the
 * first one does, the others find them current when the lock is theirs. */
static int rebuild_stale(tl_db *db, const size_t *which, size_t n,
			 tl_err *err)
{
	size_t still[64], m = 0;
	MDB_txn *txn;
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	build_lk lk;
	int rc = build_lock(db, &lk, err);

	if (rc)
		return rc;
	if ((rc = tl_read_begin(db, &txn, err)))
		goto out;
	if ((rc = tl_log_head(db, txn, &head, hash, err))) {
		mdb_txn_abort(txn);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const tl_view *v = db->views[which[i]];
		if (view_behind(db, txn, v, head) || !view_serves(db, txn, v))
			still[m++] = which[i];
	}
	mdb_txn_abort(txn);
	rc = m ? rebuild_locked(db, still, m, NULL, NULL, err) : 0;
out:
	build_unlock(&lk);
	return rc;
}

int tl_rebuild(tl_db *db, const tl_ctx *ctx, const char *const *names,
	       size_t n, tl_progress_fn progress, void *arg, tl_err *err)
{
	size_t which[64];
	size_t len;
	MDB_txn *txn;
	tl_member actor;
	msgpack_zone zone;
	int rc;

	/* The names first: arguments before look-ups. */
	if (n > 64)
		return tl_err_set(err, TL_EINVALID, "projection",
				  "too many projections");
	if ((rc = tl_no_txn_open(db, err)))
		return rc;
	if ((rc = find_views(db, names, n, which, &len, err)))
		return rc;
	if (db->flags & TL_OPEN_RDONLY)
		return tl_err_set(err, TL_EINVALID, "db",
				  "workspace opened read-only");
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	rc = tl_read_as(db, ctx, &txn, &actor, &zone, err);
	msgpack_zone_destroy(&zone);
	if (rc)
		return rc;
	mdb_txn_abort(txn);
	if (!actor.admin)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "rebuild is for admins; '%s' is not one",
				  actor.id);
	for (;;) {
		rc = rebuild_views(db, which, len, progress, arg, err);
		if (rc != TL_EAGAIN)
			return rc;
		if ((rc = tl_db_grow(db, err)))
			return rc;
	}
}

/* True when every view exists in the code's version and holds the whole
 * log: what tl_views_open checks again in its write transaction. */
static bool views_current(tl_db *db)
{
	MDB_txn *txn;
	uint64_t head;
	uint8_t hash[TL_HASH_LEN];
	tl_err e;
	bool ok = true;
	if (tl_read_begin(db, &txn, &e))
		return false;
	if (tl_log_head(db, txn, &head, hash, &e))
		ok = false;
	for (size_t i = 0; ok && i < db->views_len; i++)
		ok = !view_behind(db, txn, db->views[i], head) &&
		     view_serves(db, txn, db->views[i]);
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
		return views_refresh(db, err);
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
		if (!view_behind(db, txn, v, head) && view_serves(db, txn, v))
			continue;
		if (head == 0) {
			/* An empty log: the empty view is the right one, in
			 * a generation of its own (one of another version
			 * may have had other databases, or other flags on
			 * them), every other one dropped, as a rebuild's
			 * switch does. */
			MDB_dbi d[TL_VIEW_DBS_MAX];
			uint32_t ver, gen, g = 1;
			if (meta_read(db, txn, v, &ver, &gen) &&
			    gen + 1 != TMP_GEN && gen + 1 != 0)
				g = gen + 1;
			if ((rc = drop_gens(txn, v, g, true)) ||
			    (rc = drop_gens(txn, v, g, false)) ||
			    (rc = open_gen(txn, v, g, MDB_CREATE, d)) ||
			    (rc = meta_write(db, txn, v, v->version, g))) {
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
		for (;;) {
			rc = rebuild_stale(db, stale, n, err);
			if (rc != TL_EAGAIN)
				break;
			if ((rc = tl_db_grow(db, err)))
				break;
		}
		if (rc)
			return rc;
	}
	return views_refresh(db, err);
}

/* ---- verify ------------------------------------------------------------ */

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

/* Compare two databases entry by entry; report the first differences.
 * Returns their number, or a negative code (err) when the databases could
 * not be read through for want of memory or by an I/O error: nothing
 * compared is no "ok".  A page LMDB finds damaged is a difference. */
static int compare_db(MDB_txn *txn, MDB_dbi a, MDB_dbi b, const char *what,
		      tl_problem_fn fn, void *arg, tl_err *err)
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
	if ((rc = build_lock(db, &lock, err)))
		return rc;
	if (replay_init(&r, db, which, n, NULL, NULL)) {
		replay_free(&r);
		build_unlock(&lock);
		return tl_err_oom(err);
	}
	if ((rc = build_gen(&r, TMP_GEN, &txn, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const tl_view *v = db->views[i];
		uint32_t ver, gen;
		MDB_dbi cur[TL_VIEW_DBS_MAX];
		char what[120];
		int og = 0;
		if (!meta_read(db, txn, v, &ver, &gen) ||
		    (og = open_gen(txn, v, gen, 0, cur))) {
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
		}
		for (size_t j = 0; j < v->dbs_len && !rc; j++) {
			snprintf(what, sizeof what, "%s.%s", v->name,
				 v->dbs[j]);
			int d = compare_db(txn, cur[j], r.dbi[i][j], what, fn,
					   arg, err);
			if (d < 0)
				rc = d;
			else
				problems += d;
		}
		if (rc)
			break;
	}
	/* The temporary generation is dropped, never kept. */
	if (rc || (rc = targets_drop(&r, txn, err)))
		mdb_txn_abort(txn);
	else if ((rc = mdb_txn_commit(txn)))
		rc = tl_mdb_err(err, rc, "commit verify");
out:
	replay_free(&r);
	build_unlock(&lock);
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
		bool serves = view_serves(db, txn, v);
		if (serves && view_behind(db, txn, v, head))
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): it holds "
				 "the log up to seq %llu of %llu",
				 v->name,
				 (unsigned long long)view_seq(db, txn, v),
				 (unsigned long long)head);
		else if (serves)
			snprintf(what, sizeof what,
				 "view %s: not compared (read-only): comparing "
				 "builds the view anew, which needs write "
				 "access",
				 v->name);
		else if (meta_read(db, txn, v, &ver, &gen) &&
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
int tl_verify_views(tl_db *db, tl_problem_fn fn, void *arg, tl_err *err)
{
	if (db->flags & TL_OPEN_RDONLY)
		return verify_views_rdonly(db, fn, arg, err);
	for (;;) {
		held h = { 0 };
		int rc = verify_views_once(db, hold, &h, err);
		if (rc >= 0 && h.nomem)
			rc = tl_err_oom(err);
		if (rc >= 0)
			for (size_t i = 0; i < h.len; i++)
				report(fn, arg, h.msg[i]);
		held_free(&h);
		if (rc != TL_EAGAIN)
			return rc;
		if ((rc = tl_db_grow(db, err)))
			return rc;
	}
}
