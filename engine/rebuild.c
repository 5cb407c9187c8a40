/*
 * rebuild.c - rebuilding views from the log.
 *
 * A rebuild fills generation G+1 of the views it rebuilds from the log in
 * chunks of committed write transactions while G keeps serving (writers
 * keep applying to G).  The last chunk runs in the transaction that
 * switches: it replays the events appended meanwhile, points meta at G+1
 * and drops G.  Readers see G or G+1, never a half-built view.  Replay
 * folds tasks in memory (a hash table of task states) so that every view
 * sees the same before/after states as it did on append, and marks the
 * context `rebuilding` so that no side effect runs twice.  Views that
 * promise it (TL_VIEW_BLIND, a load function) are built in bulk: their
 * writes collected, sorted and appended (bulk.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "view_int.h"

/* Events per committed chunk of a rebuild (tests make it small). */
uint64_t tl_rebuild_chunk = 50000;
/* Chunks of at least this many events are decoded in a second thread
 * (tests make it 1). */
uint64_t tl_rebuild_ahead_min = 8192;
void (*tl_rebuild_hook)(void *arg);
void *tl_rebuild_hook_arg;
void (*tl_rebuild_idle_hook)(void *arg);
void (*tl_rebuild_second_hook)(void *arg);

/* ---- the in-memory fold used by replay (task_map: view_int.h) ---------- */

/* Whether a task of the map has been folded from at least one event. */
static bool folded(const tl_task *t)
{
	return t->version != 0;
}

/* The slot of a task id in a table of cap slots (a power of two).  Both
 * halves of the id, mixed: ids need not be UUIDv7, whose bytes 8-15 are
 * random.  A UUIDv1 of one host has the same bytes 8-15 in every id, and
 * ids made by a counter differ in a few bytes: hashed on bytes 8-15
 * alone, such ids (imported, or given with --id) shared a few slots, and
 * a rebuild's fold took time quadratic in the tasks (a minute for
 * 160,000 UUIDv1 tasks, 2 s for random ones). */
size_t tl_id_slot(const uint8_t id[16], size_t cap)
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ b;
	h ^= h >> 31; /* splitmix64's finaliser */
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (size_t)h & (cap - 1);
}

static map_slot *map_probe(map_slot *slots, size_t cap, const uint8_t id[16])
{
	size_t j = tl_id_slot(id, cap);
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
static int log_missing(uint64_t seq, tl_err *err)
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
	r->prog.read(r->prog.arg, done, r->total);
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
		__builtin_prefetch(&m->slots[tl_id_slot(p->id, m->cap)]);
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
	if (tl_thread_start(&th, ahead_run, &a)) {
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
				rc = log_missing(r->next, err);
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
			if (r->prog.read && (p->seq & 0x3fff) == 0)
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
			rc = log_missing(r->next, err);
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
		if (r->prog.read && (seq & 0x3fff) == 0)
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
		int rc = r->next == 1 ? tl_view_gens_drop(txn, v, gen, false) : 0;
		if (!rc)
			rc = tl_view_gen_open(txn, v, gen, MDB_CREATE, r->dbi[i]);
		if (rc)
			return tl_mdb_err(err, rc, "create view generation");
	}
	return 0;
}

int tl_replay_targets_drop(replay *r, MDB_txn *txn, tl_err *err)
{
	for (size_t i = 0; i < r->which_len; i++)
		for (size_t j = 0; j < r->db->views[r->which[i]]->dbs_len; j++) {
			int rc = mdb_drop(txn, r->dbi[i][j], 1);
			if (rc)
				return tl_mdb_err(err, rc, "drop view");
		}
	return 0;
}

int tl_replay_init(replay *r, tl_db *db, const size_t *which, size_t n,
		   const build_progress *prog)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	r->which = which;
	r->which_len = n;
	r->next = 1;
	if (prog)
		r->prog = *prog;
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
		tl_sink_spill_dir(r->sinks[i], db->fsdir);
		if (v->bulk_begin && !(r->states[i] = v->bulk_begin()))
			return TL_ESTORAGE;
	}
	return 0;
}

void tl_replay_free(replay *r)
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
		int rc = tl_env_begin(r->db, 0, &txn);
		if (rc)
			return tl_mdb_err(err, rc, "begin rebuild");
		if ((rc = tl_log_head(r->db, txn, &head, NULL, err)) ||
		    (rc = targets_open(r, txn, gen, err)))
			goto fail;
		if (first) {
			r->total = head;
			/* begun (an empty log: only the last call, (0, 0)
			 * out of the transaction, where a write may go) */
			if (r->prog.read && head)
				progress_in_txn(r, 0);
		}
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
			rc = log_missing(r->next, err);
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
 * A load needs no transaction: a sink that passes tl_rebuild_mem bytes
 * spills a sorted run to disk, whichever thread fills it, and its write
 * merges the runs.  bulk_end() runs here (its view may need the
 * transaction).  Writing order between views does not matter: each
 * writes its own databases. */

size_t tl_rebuild_finish_min = 4096; /* tasks: fewer, no second thread */

enum {
	F_NONE,      /* no sink: nothing to do */
	F_LOAD,      /* load() to run */
	F_SORT,      /* loaded: to sort */
	F_SORTED,    /* to write */
	F_BUSY,      /* a thread works on it */
	F_DONE
};

/* A load without the transaction, as it told its progress (every 4096
 * tasks): the bytes its sink held when it had loaded that many tasks. */
typedef struct fin_at {
	bool on;
	size_t tasks;
	uint64_t bytes;
} fin_at;

typedef struct finish {
	replay *r;
	int *st;          /* per which[]: F_NONE ... F_DONE */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;        /* this thread failed: the second one stops */
	int rc;           /* the second thread's failure, with err */
	tl_err err;
	/* The writes' progress (r->prog.written, renew only): bytes
	 * written, of them those of sinks written whole, and the loads that
	 * run without the transaction as last counted (fin_total); the
	 * sink being written and its bytes before (as each of its databases
	 * is written its own count drops to 0). */
	uint64_t wdone, wwhole;
	size_t writing;
	uint64_t writing_bytes;
	fin_at *at;       /* per which[] */
} finish;

/* Run view i's load(); with no txn (the second thread, or this one
 * without the transaction) stop when told to quit. */
static int fin_load(finish *f, size_t i, MDB_txn *txn, tl_err *err)
{
	replay *r = f->r;
	const tl_view *v = r->db->views[r->which[i]];
	tl_view_ctx vc = { r->db, txn, r->dbi[i], true, v->name,
			   r->sinks[i], r->states[i], NULL, 0 };
	int rc = 0;

	for (size_t j = 0; !rc && j < r->tasks.len; j++) {
		if (!txn && !(j & 4095)) {
			pthread_mutex_lock(&f->mu);
			bool quit = f->quit;
			f->at[i] = (fin_at){ true, j,
					     tl_sink_pending(r->sinks[i]) };
			pthread_mutex_unlock(&f->mu);
			if (quit)
				break;
		}
		const tl_task *t = &r->tasks.tasks[j];
		if (folded(t))
			rc = v->load(&vc, t, err);
	}
	if (!txn) {
		pthread_mutex_lock(&f->mu);
		f->at[i].on = false;
		pthread_mutex_unlock(&f->mu);
	}
	return rc;
}

/* The first job in state st, or SIZE_MAX; called locked. */
static size_t fin_find(const finish *f, int st)
{
	for (size_t i = 0; i < f->r->which_len; i++)
		if (f->st[i] == st)
			return i;
	return SIZE_MAX;
}

/* The bytes to write, in *total, called locked: what the sinks written
 * whole held, what the one being written held before, what each other
 * one holds, or, while a load fills it without the transaction, what it
 * held at its last count scaled to every task (a sort, which may run
 * meanwhile, changes none of these).  Exact once every load is done;
 * false (nothing told) while a load has not given an estimate yet (not
 * begun, or before its first 4096 tasks). */
static bool fin_total(const finish *f, uint64_t *total)
{
	const replay *r = f->r;
	uint64_t n = f->wwhole;
	for (size_t i = 0; i < r->which_len; i++) {
		const fin_at *a = &f->at[i];
		if (!r->sinks[i] || f->st[i] == F_DONE)
			continue;
		if (f->st[i] == F_LOAD || (a->on && !a->tasks))
			return false;
		if (i == f->writing)
			n += f->writing_bytes;
		else if (!a->on)
			n += tl_sink_pending(r->sinks[i]);
		else
			n += (uint64_t)((double)a->bytes * (double)r->tasks.len /
					(double)a->tasks);
	}
	*total = n;
	return true;
}

/* The writes' progress, told from this thread, inside the write
 * transaction (or about to take it again): no write from the callback.
 * Not told before the total can be estimated. */
static void fin_tell(finish *f)
{
	replay *r = f->r;
	uint64_t total;
	pthread_mutex_lock(&f->mu);
	bool known = fin_total(f, &total);
	pthread_mutex_unlock(&f->mu);
	if (!known)
		return;
	/* done == total is the last call's alone, once the views serve:
	 * every byte written before the switch (or an estimate short of
	 * done) is not told (before 0.3.51 the last call came twice, and a
	 * callback could not tell which one allowed writes). */
	if (total <= f->wdone)
		return;
	r->db->writer_held = true;
	r->prog.written(r->prog.arg, f->wdone, total);
	r->db->writer_held = false;
}

/* tl_sink_write's on_write: bytes gone through. */
static void fin_wrote(void *arg, uint64_t bytes)
{
	finish *f = arg;
	f->wdone += bytes;
	fin_tell(f);
}

/* Called locked, as load i is taken without the transaction: a load
 * that has not counted yet (fin_total tells nothing meanwhile).  Before,
 * until the load's first count, its sink's few bytes were counted as all
 * it would hold, and a total told then grew later. */
static void fin_loading(finish *f, size_t i)
{
	f->at[i] = (fin_at){ true, 0, 0 };
}

/* Tests: the second thread has taken a job ('l', 's'). */
static void fin_second_look(char job)
{
	if (tl_rebuild_second_hook)
		tl_rebuild_second_hook(&job);
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
			f->st[i] = F_BUSY;
			fin_loading(f, i);
			pthread_mutex_unlock(&f->mu);
			fin_second_look('l');
			rc = fin_load(f, i, NULL, &err);
			next = F_SORT;
		} else if ((i = fin_find(f, F_SORT)) != SIZE_MAX) {
			f->st[i] = F_BUSY;
			pthread_mutex_unlock(&f->mu);
			fin_second_look('s');
			rc = tl_sink_sort(f->r->sinks[i])
				     ? tl_err_oom(&err)
				     : 0;
			next = F_SORTED;
		} else {
			break;
		}
		pthread_mutex_lock(&f->mu);
		f->st[i] = next;
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
 * it: sorting, loading (spilling past the memory bound) and waiting for
 * the second thread take seconds at a million tasks, and writers of other
 * processes wait for as long as it is open.  A transaction given up is
 * committed, never aborted: the databases it opened or created stay open
 * only so.
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
	finish f = { .r = r, .writing = SIZE_MAX };
	pthread_t th;
	bool threaded = false;
	int rc = 0;

	size_t nv = r->which_len ? r->which_len : 1;
	if (!(f.st = calloc(nv, sizeof *f.st)) ||
	    !(f.at = calloc(nv, sizeof *f.at))) {
		free(f.st);
		return tl_err_oom(err);
	}
	for (size_t i = 0; i < r->which_len; i++) {
		const tl_view *v = r->db->views[r->which[i]];
		/* A view with bulk_begin loads (if it does) and ends here,
		 * below: its bulk_end may need the transaction. */
		f.st[i] = !r->sinks[i]    ? F_NONE
			      : v->bulk_begin ? F_BUSY
			      : v->load       ? F_LOAD
					      : F_SORT;
	}
	bool tell = renew && r->prog.written;
	for (size_t i = 0; tell && i < r->which_len; i++)
		if (r->sinks[i])
			tl_sink_on_write(r->sinks[i], fin_wrote, &f);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	if (r->tasks.len >= tl_rebuild_finish_min)
		threaded = tl_thread_start(&th, fin_run, &f) == 0;

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
		f.st[i] = F_SORT;
		pthread_cond_broadcast(&f.cv);
		pthread_mutex_unlock(&f.mu);
	}

	if (tell) /* the writes begin */
		fin_tell(&f);
	/* Write what is sorted; else load, sort; else wait for the second
	 * thread. */
	bool waiting = false; /* since the last job; the txn given up */
	pthread_mutex_lock(&f.mu);
	while (!rc && !f.rc) {
		size_t i;
		int st;
		if ((i = fin_find(&f, F_SORTED)) != SIZE_MAX)
			st = F_SORTED;
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
		f.st[i] = F_BUSY;
		if (st == F_SORTED) {
			f.writing = i;
			f.writing_bytes = tl_sink_pending(r->sinks[i]);
		} else if (st == F_LOAD && renew) {
			fin_loading(&f, i);
		}
		waiting = false;
		pthread_mutex_unlock(&f.mu);
		int next = F_DONE;
		if (st == F_SORTED) {
			if (!(rc = fin_txn_take(r, txn, err)))
				rc = tl_sink_write(r->sinks[i], r->db, txn,
						   renew, r->dbi[i], err);
			pthread_mutex_lock(&f.mu);
			f.wwhole = f.wdone;
			f.writing = SIZE_MAX;
			pthread_mutex_unlock(&f.mu);
		} else if (st == F_LOAD && renew) {
			/* As the second thread does: without the
			 * transaction. */
			if (!(rc = fin_idle(txn, err))) {
				fin_look('l');
				rc = fin_load(&f, i, NULL, err);
			}
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
		f.st[i] = next;
	}
	if (rc)
		f.quit = true;
	pthread_mutex_unlock(&f.mu);
	if (threaded)
		pthread_join(th, NULL);
	if (!rc && f.rc) {
		tl_err_pass(err, &f.err);
		rc = f.rc;
	}
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	free(f.st);
	free(f.at);
	for (size_t i = 0; tell && i < r->which_len; i++)
		if (r->sinks[i])
			tl_sink_on_write(r->sinks[i], NULL, NULL);
	if (tell)
		r->wtotal = f.wdone;
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
	if (tl_rebuild_room) /* as it was if that fails */
		(void)tl_map_room(db, tl_map_used(db));
}

int tl_replay_build_gen(replay *r, uint32_t gen, MDB_txn **out, tl_err *err)
{
	MDB_txn *txn;
	int rc;

	make_room(r->db);
	if ((rc = replay_chunks(r, gen, err)))
		return rc;
	if (r->prog.read && r->next > 1) /* scanned: now sort and write */
		r->prog.read(r->prog.arg, r->next - 1, r->next - 1);
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
	char q[88];
	for (size_t k = 0; k < n; k++) {
		size_t i;
		if (!names[k] || !names[k][0])
			return tl_err_set(err, TL_EINVALID, "projection",
					  "must not be empty");
		for (i = 0; i < db->views_len; i++)
			if (!strcmp(db->views[i]->name, names[k]))
				break;
		if (i == db->views_len)
			return tl_err_set(err, TL_EINVALID, "projection",
					  "unknown projection '%s'",
					  tl_quote_max(tl_s(names[k]), 64, q,
						       sizeof q));
		bool dup = false;
		for (size_t j = 0; j < *len; j++)
			dup |= which[j] == i;
		if (!dup)
			which[(*len)++] = i;
	}
	return 0;
}

static int rebuild_locked(tl_db *db, const size_t *which, size_t n,
			  const build_progress *prog, tl_err *err)
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
	if (tl_replay_init(&r, db, which, n, prog)) {
		tl_replay_free(&r);
		return tl_err_oom(err);
	}
	/* The new generation: one past the serving one (read now; a switch
	 * by another process meanwhile is caught in the final txn). */
	MDB_txn *txn;
	if ((rc = tl_read_begin(db, &txn, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint32_t ver, gen;
		gens[i] = tl_view_meta_read(db, txn, db->views[which[i]], &ver, &gen)
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
	if ((rc = tl_replay_build_gen(&r, gens[0], &txn, err)))
		goto out;
	/* Handles of a generation another process switched away from and
	 * dropped (this handle had not refreshed since): closed once this
	 * transaction is over, or a handle that rebuilds now and then would
	 * run out of LMDB's handles. */
	for (size_t i = 0; !rc && i < n; i++) {
		const tl_view *v = db->views[which[i]];
		tl_view_state *s = &db->vstate[which[i]];
		db->views_snap = 0; /* the states change */
		if (s->ready && s->gen != gens[0]) {
			/* Dropped by another process: close its handles after
			 * the commit.  (The drop below closes those of a
			 * generation it drops.) */
			if (!tl_view_gen_exists(txn, v, s->gen))
				for (size_t j = 0; j < v->dbs_len; j++)
					gone[ngone++] = s->dbi[j];
			s->ready = false;
		}
		/* Every other generation goes: the one that served, and any
		 * that damage or an interrupted switch stranded. */
		if ((rc = tl_view_gens_drop(txn, v, gens[0], true))) {
			rc = tl_mdb_err(err, rc, "drop view");
			break;
		}
		if ((rc = tl_view_meta_write(db, txn, v, v->version, gens[0])))
			rc = tl_mdb_err(err, rc, "switch view");
	}
	/* The rebuilt views hold the whole log now; when they are all of
	 * them, the mark of earlier releases says so too. */
	for (size_t i = 0; !rc && i < n; i++) /* (0 for an empty log) */
		if ((rc = tl_view_seq_put(db, txn, db->views[which[i]],
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
		if ((rc = tl_counts_put(db, txn, tasks, active,
					r.next - 1)))
			rc = tl_mdb_err(err, rc, "store counts");
	}
	if (rc)
		goto fail;
	if ((rc = mdb_txn_commit(txn))) {
		rc = tl_mdb_err(err, rc, "commit switch");
		goto out;
	}
	/* Switched: the last step is over. */
	if (r.prog.written)
		r.prog.written(r.prog.arg, r.wtotal, r.wtotal);
	else if (r.prog.read)
		r.prog.read(r.prog.arg, r.total, r.total);
	for (size_t i = 0; i < ngone; i++)
		mdb_dbi_close(db->env, gone[i]);
	ngone = 0;
	rc = tl_views_refresh(db, err);
	goto out;
fail:
	mdb_txn_abort(txn);
out:
	for (size_t i = 0; i < ngone; i++)
		mdb_dbi_close(db->env, gone[i]);
	tl_replay_free(&r);
	return rc;
}

static int lock_fd(int fd, const char *path, tl_err *err)
{
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "cannot lock %s: %s", path,
					  strerror(errno));
	return 0;
}

void tl_build_unlock(build_lk *lk)
{
	for (int i = 0; i < 2; i++) /* closing releases the flock */
		if (lk->fd[i] >= 0)
			close(lk->fd[i]);
	lk->fd[0] = lk->fd[1] = -1;
	if (lk->db)
		lk->db->building = false;
	lk->db = NULL;
}

int tl_build_lock(tl_db *db, build_lk *lk, tl_err *err)
{
	char path[PATH_MAX + 16], said[PATH_MAX + 16]; /* reached, told */
	int rc;
	lk->fd[0] = lk->fd[1] = -1;
	lk->db = NULL;
	/* A second build through the same handle (from a rebuild's progress
	 * callback) would wait for ever on its own flock. */
	if (db->building)
		return tl_err_set(err, TL_EINVALID, "db",
				  "a rebuild or verify of this handle is "
				  "running (called from its callback?)");
	snprintf(path, sizeof path, "%s/build.lock", db->fsdir);
	snprintf(said, sizeof said, "%s/build.lock", db->dir);
	/* Not through a link: one planted in a directory shared by a group
	 * made the open create, or open, the file linked to, wherever the
	 * process may write (until 0.3.54).  A link there is as a directory
	 * that takes no build.lock: data.mdb's lock alone keeps builds apart. */
	lk->fd[0] = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			 0666);
	if (lk->fd[0] < 0 && errno != ELOOP) /* flock needs no write access */
		lk->fd[0] = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (lk->fd[0] < 0 && errno != EACCES && errno != EPERM &&
	    errno != EROFS && errno != ENOENT && errno != ELOOP)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "cannot open %s: %s", said, strerror(errno));
	if (lk->fd[0] >= 0 && (rc = lock_fd(lk->fd[0], said, err)))
		goto fail;
	snprintf(path, sizeof path, "%s/data.mdb", db->fsdir);
	snprintf(said, sizeof said, "%s/data.mdb", db->dir);
	lk->fd[1] = open(path, O_RDONLY | O_CLOEXEC);
	if (lk->fd[1] < 0) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"cannot open %s: %s", said, strerror(errno));
		goto fail;
	}
	if ((rc = lock_fd(lk->fd[1], said, err)))
		goto fail;
	db->building = true;
	lk->db = db;
	return 0;
fail:
	tl_build_unlock(lk);
	return rc;
}

static int rebuild_views(tl_db *db, const size_t *which, size_t n,
			 const build_progress *prog, tl_err *err)
{
	if (n == 0)
		return 0;
	build_lk lk;
	int rc = tl_build_lock(db, &lk, err);
	if (rc)
		return rc;
	rc = rebuild_locked(db, which, n, prog, err);
	tl_build_unlock(&lk);
	return rc;
}

/* An open's rebuild of the views it found stale: under the build lock,
 * those still stale only.  Several processes that open an upgraded
 * workspace at once would otherwise each rebuild the views in turn; the
 * first one does, the others find them current when the lock is theirs. */
int tl_rebuild_stale(tl_db *db, const size_t *which, size_t n,
		     tl_err *err)
{
	size_t still[64], m = 0;
	MDB_txn *txn;
	uint64_t head;
	build_lk lk;
	int rc = tl_build_lock(db, &lk, err);

	if (rc)
		return rc;
	if ((rc = tl_read_begin(db, &txn, err)))
		goto out;
	if ((rc = tl_log_head(db, txn, &head, NULL, err))) {
		mdb_txn_abort(txn);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const tl_view *v = db->views[which[i]];
		if (tl_view_behind(db, txn, v, head) || !tl_view_serves(db, txn, v))
			still[m++] = which[i];
	}
	mdb_txn_abort(txn);
	rc = m ? rebuild_locked(db, still, m, &db->open_prog, err) : 0;
	tl_err e; /* a head not read: nothing marked, no failure */
	if (!rc && !tl_read_begin(db, &txn, &e)) {
		if (!tl_log_head(db, txn, &head, NULL, &e))
			for (size_t i = 0; i < n; i++) {
				const tl_view *v = db->views[which[i]];
				uint32_t ver, gen;
				if (!tl_view_serves(db, txn, v) ||
				    tl_view_behind(db, txn, v, head) ||
				    !tl_view_meta_read(db, txn, v, &ver, &gen))
					continue;
				db->open_rebuilt |= (uint64_t)1 << which[i];
				db->open_rebuilt_gen[which[i]] = gen;
				db->open_rebuilt_head = head;
			}
		mdb_txn_abort(txn);
	}
out:
	tl_build_unlock(&lk);
	return rc;
}

/* The handle's first tl_rebuild leaves out of which[] the views that
 * its open rebuilt from the log, when nothing has been appended since
 * and they still serve from that generation (another process, of
 * another release say, may have rebuilt them since without appending):
 * a rebuild now would make them again, entry for entry (`tasklog
 * rebuild` as the first command after an upgrade that changed a view
 * rebuilt it twice).  Later calls rebuild every view asked for. */
static int skip_rebuilt_on_open(tl_db *db, size_t *which, size_t *len,
				tl_err *err)
{
	MDB_txn *txn;
	uint64_t head, fresh = db->open_rebuilt;
	size_t m = 0;
	int rc;

	db->open_rebuilt = 0;
	if (!fresh)
		return 0;
	if ((rc = tl_read_begin(db, &txn, err)))
		return rc;
	if ((rc = tl_log_head(db, txn, &head, NULL, err)) ||
	    head != db->open_rebuilt_head) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (size_t i = 0; i < *len; i++) {
		const tl_view *v = db->views[which[i]];
		uint32_t ver, gen;
		bool same = (fresh >> which[i] & 1) &&
			    tl_view_serves(db, txn, v) &&
			    !tl_view_behind(db, txn, v, head) &&
			    tl_view_meta_read(db, txn, v, &ver, &gen) &&
			    gen == db->open_rebuilt_gen[which[i]];
		if (!same)
			which[m++] = which[i];
	}
	mdb_txn_abort(txn);
	*len = m;
	return 0;
}

/* The read marks of `notifications read` are derived too: a rebuild of
 * every view (an operator's repair) drops them, in a transaction of its
 * own after the switch, and each member's are made again from the log at
 * their next read (reads.c). */
static int drop_reads(tl_db *db, tl_err *err)
{
	for (;;) {
		MDB_txn *txn;
		int rc = tl_env_begin(db, 0, &txn);
		if (rc)
			return tl_mdb_err(err, rc, "drop read marks");
		if ((rc = tl_reads_drop_all(db, txn)))
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
		if (rc != MDB_MAP_FULL)
			return rc ? tl_mdb_err(err, rc, "drop read marks") : 0;
		if ((rc = tl_db_grow(db, err)))
			return rc;
	}
}

static int rebuild(tl_db *db, const tl_ctx *ctx, const char *const *names,
		   size_t n, const build_progress *prog, tl_err *err)
{
	size_t which[64];
	size_t len;
	int rc;

	/* The names first: arguments before look-ups. */
	if (n > 64)
		return tl_err_set(err, TL_EINVALID, "projection",
				  "too many projections");
	if (n && !names) /* (it crashed before 0.3.51) */
		return tl_err_set(err, TL_EINVALID, "projection",
				  "%zu names without names", n);
	if ((rc = tl_no_txn_open(db, err)))
		return rc;
	if ((rc = find_views(db, names, n, which, &len, err)))
		return rc;
	if (db->flags & TL_OPEN_RDONLY)
		return tl_err_set(err, TL_EINVALID, "db",
				  "workspace opened read-only");
	if ((rc = tl_need_admin(db, ctx, "rebuild", err)))
		return rc;
	/* Every view asked for, before the open's rebuilds are left out
	 * (a review: the first rebuild after an upgrade that changed one
	 * view's version kept the marks). */
	bool every = len == db->views_len;
	if ((rc = skip_rebuilt_on_open(db, which, &len, err)))
		return rc;
	for (;;) {
		/* A plain growth: the build grows the map as it goes
		 * (make_room), and one it left full needs more room than
		 * that (tl_db_grow_from would replay at the same size once
		 * more: a review). */
		rc = rebuild_views(db, which, len, prog, err);
		if (rc != TL_EAGAIN)
			break;
		if ((rc = tl_db_grow(db, err)))
			return rc;
	}
	return rc || !every ? rc : drop_reads(db, err);
}

int tl_rebuild(tl_db *db, const tl_ctx *ctx, const char *const *names,
	       size_t n, tl_progress_fn progress, void *arg, tl_err *err)
{
	build_progress p = { progress, NULL, arg };
	return rebuild(db, ctx, names, n, &p, err);
}

/* ---- steps: a rebuild's progress as tl_rebuild_steps tells it ----------- */

static void step_tell(tl_steps *st, int step, const char *what,
		      const char *unit, uint64_t done, uint64_t total)
{
	st->at = (tl_rebuild_step){ step, 2, what, unit, done,
				    total > done ? total : done };
	st->fn(st->arg, &st->at);
}

static void tl_steps_read(void *arg, uint64_t done, uint64_t total)
{
	step_tell(arg, 1, "reading the log", "events", done, total);
}

static void tl_steps_written(void *arg, uint64_t done, uint64_t total)
{
	step_tell(arg, 2, "writing the views", "bytes", done, total);
}

build_progress tl_steps_progress(tl_steps *st)
{
	return (build_progress){ st->fn ? tl_steps_read : NULL,
				 st->fn ? tl_steps_written : NULL, st };
}

int tl_rebuild_steps(tl_db *db, const tl_ctx *ctx, const char *const *names,
		     size_t n, tl_rebuild_progress_fn progress, void *arg,
		     tl_err *err)
{
	tl_steps st = { progress, arg, { 0 } };
	build_progress p = tl_steps_progress(&st);
	return rebuild(db, ctx, names, n, &p, err);
}
