/*
 * read.c - reading the log: a page of the log or of one stream, a task now
 * or as of a past time, statistics, and verify, which proves that the log
 * was not altered and that every stored state is the fold of the log.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

int tl_event_raw(tl_db *db, MDB_txn *txn, uint64_t seq, MDB_val *v,
		 tl_err *err)
{
	uint8_t kb[8];
	tl_put_be64(kb, seq);
	MDB_val k = { 8, kb };
	int rc = mdb_get(txn, db->events, &k, v);
	if (rc == MDB_NOTFOUND)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "event %llu is missing",
				  (unsigned long long)seq);
	if (rc)
		return tl_mdb_err(err, rc, "read event");
	if (!tl_event_val_fits(db, v))
		return tl_event_val_damaged(err, seq, v);
	return 0;
}

/* Read the event with this seq; decoded into ev (slices valid while txn
 * lives and scratch is untouched). */
static int event_get(tl_db *db, MDB_txn *txn, uint64_t seq, tl_event *ev,
		     msgpack_zone *zone, msgpack_sbuffer *scratch,
		     tl_err *err)
{
	MDB_val v;
	int rc = tl_event_raw(db, txn, seq, &v, err);
	if (rc)
		return rc;
	errno = 0; /* the decoder fails alike for damage and no memory */
	if (tl_event_decode(v.mv_data, v.mv_size, ev, zone, scratch))
		return errno == ENOMEM ? tl_err_oom(err)
				       : tl_err_set(err, TL_ESTORAGE, "storage",
						    "event %llu is corrupt",
						    (unsigned long long)seq);
	if (ev->seq != seq)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "event %llu is corrupt",
				  (unsigned long long)seq);
	return 0;
}

/* A streams value of another size, or out of version order. */
static int bad_stream_val(tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "damaged stream index entry");
}

/* Whether tl_log_read steps on: not stopped, and short of its limit. */
static inline bool read_on(int stop, size_t limit, size_t n)
{
	return !stop && (!limit || n < limit);
}

/* Position a cursor on a stream's first index entry. */
static int stream_first(tl_db *db, MDB_cursor *c, tl_slice stream,
			uint8_t *sk, MDB_val *k, MDB_val *v)
{
	k->mv_size = tl_stream_key(stream, sk);
	k->mv_data = sk;
	return mdb_cursor_get(c, k, v, MDB_SET_KEY);
}

int tl_log_read(tl_db *db, const tl_ctx *ctx, uint64_t from, size_t limit,
		tl_slice stream, tl_event_fn fn, void *arg, tl_err *err)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	tl_member actor;
	msgpack_zone zone;
	msgpack_sbuffer scratch;
	tl_event ev;
	uint8_t sk[TL_STREAM_KEY_MAX], kb[8];
	size_t n = 0;
	int rc, stop = 0;

	if (!fn)
		return tl_err_set(err, TL_EINVALID, "fn", "no callback given");
	/* A stream is a task id (any case: streams hold the canonical
	 * text), member:ID or workspace. */
	char sid[37], q[64];
	uint8_t bin[16];
	tl_id_suffix sx;
	bool is_short = false;
	if (stream.p && (rc = tl_check_text(stream, "stream", 1,
					    TL_STREAM_KEY_MAX - 1, false,
					    err)))
		return rc;
	if (stream.p && tl_uuid_parse(stream, bin)) {
		tl_uuid_format(bin, sid);
		stream = (tl_slice){ sid, 36 };
	} else if (stream.p && tl_id_suffix_parse(stream, &sx)) {
		is_short = true; /* the end of a task id, resolved below */
	} else if (stream.p && !tl_slice_eq(stream, "workspace") &&
		   !(stream.len > 7 && !memcmp(stream.p, "member:", 7) &&
		     tl_member_id_valid((tl_slice){ stream.p + 7,
						    stream.len - 7 }))) {
		return tl_err_set(err, TL_EINVALID, "stream",
				  "'%s' is not a stream (a task id or its end, member:ID or workspace)",
				  tl_quote(stream, q, sizeof q));
	}
	if (!msgpack_zone_init(&zone, 4096))
		return tl_err_oom(err);
	msgpack_sbuffer_init(&scratch);
	if ((rc = tl_read_as(db, ctx, &txn, &actor, &zone, err)))
		goto out_free;
	if (is_short) {
		if ((rc = tl_task_find_suffix(db, txn, true, &sx, stream,
					       "stream", bin, err)))
			goto out_txn;
		tl_uuid_format(bin, sid);
		stream = (tl_slice){ sid, 36 };
	}
	if ((rc = mdb_cursor_open(txn, stream.p ? db->streams : db->events,
				  &c))) {
		rc = tl_mdb_err(err, rc, "cursor");
		goto out_txn;
	}
	if (stream.p) {
		uint32_t ver, want = 1; /* a stream's versions: 1, 2, ... */
		uint64_t last = 0;      /* ...at seqs that grow with them */
		rc = stream_first(db, c, stream, sk, &k, &v);
		/* No step past the last event given: a damaged page after
		 * it is not this read's (MDB_NOTFOUND ends the loop). */
		for (; rc == 0; rc = read_on(stop, limit, n)
					     ? mdb_cursor_get(c, &k, &v,
							      MDB_NEXT_DUP)
					     : MDB_NOTFOUND) {
			uint64_t seq;
			if (!tl_stream_val(&v, &ver, &seq) || ver != want++ ||
			    seq <= last) {
				rc = bad_stream_val(err);
				break;
			}
			last = seq;
			if (seq < from)
				continue;
			if ((rc = event_get(db, txn, seq, &ev, &zone, &scratch,
					    err)))
				break;
			stop = fn(arg, &ev);
			n++;
			msgpack_zone_clear(&zone);
		}
	} else {
		tl_put_be64(kb, from);
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		for (; rc == 0; rc = read_on(stop, limit, n)
					     ? mdb_cursor_get(c, &k, &v, MDB_NEXT)
					     : MDB_NOTFOUND) {
			if (!tl_event_val_fits(db, &v)) {
				rc = tl_event_val_damaged(
					err, tl_get_be64(k.mv_data), &v);
				break;
			}
			errno = 0;
			if (tl_event_decode(v.mv_data, v.mv_size, &ev, &zone,
					    &scratch)) {
				rc = errno == ENOMEM ? tl_err_oom(err) :
				     tl_err_set(err, TL_ESTORAGE, "storage",
						"event %llu is corrupt",
						(unsigned long long)tl_get_be64(
							k.mv_data));
				break;
			}
			stop = fn(arg, &ev);
			n++;
			msgpack_zone_clear(&zone);
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = stop;
	else if (tl_is_mdb_rc(rc))
		rc = tl_mdb_err(err, rc, "read log");
	mdb_cursor_close(c);
out_txn:
	mdb_txn_abort(txn);
out_free:
	msgpack_sbuffer_destroy(&scratch);
	msgpack_zone_destroy(&zone);
	return rc;
}

/* Each event of a stream in version order, up to max_seq, decoded into
 * zone (cleared before each when `clear`), handed to fn; its non-zero
 * return ends the walk and is returned.  0 at the stream's end; a
 * cursor's LMDB code as it is. */
typedef int (*stream_fn)(void *arg, const tl_event *ev, uint64_t seq,
			 msgpack_zone *zone, tl_err *err);

static int stream_walk(tl_db *db, MDB_txn *txn, MDB_cursor *c,
		       tl_slice stream, uint64_t max_seq, msgpack_zone *zone,
		       bool clear, msgpack_sbuffer *scratch, stream_fn fn,
		       void *arg, tl_err *err)
{
	uint8_t sk[TL_STREAM_KEY_MAX];
	MDB_val k, v;
	tl_event ev;
	uint32_t ver, want = 1;
	uint64_t last = 0;
	int rc;

	/* Versions 1, 2, ... at seqs that grow with them (an index that
	 * says otherwise is damage: an as-of cut at an earlier seq would
	 * say the task did not exist then). */
	for (rc = stream_first(db, c, stream, sk, &k, &v); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		uint64_t seq;
		if (!tl_stream_val(&v, &ver, &seq) || ver != want++ ||
		    seq <= last)
			return bad_stream_val(err);
		last = seq;
		if (seq > max_seq)
			return 0;
		if (clear)
			msgpack_zone_clear(zone);
		if ((rc = event_get(db, txn, seq, &ev, zone, scratch, err)) ||
		    (rc = fn(arg, &ev, seq, zone, err)))
			return rc;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* as_of_cut's walk: the seq of the last version made by max_at. */
struct cut {
	int64_t max_at;
	uint64_t seq;
};

static int cut_at(void *arg, const tl_event *ev, uint64_t seq,
		  msgpack_zone *zone, tl_err *err)
{
	struct cut *k = arg;
	(void)zone, (void)err;
	if (ev->at_ms <= k->max_at)
		k->seq = seq;
	return 0;
}

/* The seq of the last version of a stream (up to max_seq) made at or
 * before max_at, in *cut; 0 when there is none.  The state as of a time
 * is the prefix of the stream up to there: times need not grow with
 * versions (--now, a clock stepping back), and a version made by that
 * time was appended after every version before it, whatever their own
 * times say; folding only the versions whose times pass would make a
 * state the task never had.  Each event is decoded into a zone of its
 * own, cleared before the next. */
static int as_of_cut(tl_db *db, MDB_txn *txn, MDB_cursor *c,
		     tl_slice stream, uint64_t max_seq, int64_t max_at,
		     uint64_t *cut, msgpack_sbuffer *scratch, tl_err *err)
{
	struct cut k = { max_at, 0 };
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 4096))
		return tl_err_oom(err);
	int rc = stream_walk(db, txn, c, stream, max_seq, &zone, true, scratch,
			     cut_at, &k, err);
	msgpack_zone_destroy(&zone);
	*cut = k.seq;
	return rc;
}

/* tl_task_fold_until's walk: each event folded into the task. */
struct fold {
	tl_task *t;
	bool any;
};

static int fold_one(void *arg, const tl_event *ev, uint64_t seq,
		    msgpack_zone *zone, tl_err *err)
{
	struct fold *f = arg;
	errno = 0;
	if (tl_task_fold(f->t, ev, zone))
		return errno == ENOMEM
			       ? tl_err_oom(err)
			       : tl_err_set(err, TL_ESTORAGE, "storage",
					    "cannot fold event %llu",
					    (unsigned long long)seq);
	f->any = true;
	return 0;
}

int tl_task_fold_until(tl_db *db, MDB_txn *txn, const uint8_t id[16],
		       uint64_t max_seq, int64_t max_at, tl_task *t,
		       msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	char idtext[37];
	msgpack_sbuffer scratch;
	struct fold f = { t, false };
	int rc;

	memset(t, 0, sizeof *t);
	tl_uuid_format(id, idtext);
	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	msgpack_sbuffer_init(&scratch);
	tl_slice stream = { idtext, 36 };
	rc = 0;
	if (max_at != INT64_MAX) {
		rc = as_of_cut(db, txn, c, stream, max_seq, max_at, &max_seq,
			       &scratch, err);
		if (rc == 0 && max_seq == 0)
			rc = MDB_NOTFOUND; /* made after max_at: none */
	}
	if (rc == 0)
		rc = stream_walk(db, txn, c, stream, max_seq, zone, false,
				 &scratch, fold_one, &f, err);
	bool any = f.any;
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&scratch);
	if ((rc == MDB_NOTFOUND || rc == 0) && !any) {
		/* err filled as every failure fills it (verify reads it) */
		rc = tl_err_set(err, TL_ENOTFOUND, "id",
				"task %s has no events", idtext);
	} else if (rc == MDB_NOTFOUND) {
		rc = 0;
	} else if (tl_is_mdb_rc(rc)) {
		rc = tl_mdb_err(err, rc, "read stream");
	}
	if (rc)
		tl_task_release(t);
	return rc;
}

/* A fold that failed for want of memory says nothing about the data:
 * verify stops with that error instead of reporting damage.  Such errors
 * end in "out of memory" (tl_err_oom; tl_mdb_err's "WHAT: out of
 * memory" for LMDB's ENOMEM). */
static bool out_of_memory(const tl_err *e)
{
	static const char oom[] = "out of memory";
	size_t n = strlen(e->message);
	return e->code == TL_ESTORAGE && n >= sizeof oom - 1 &&
	       !strcmp(e->message + n - (sizeof oom - 1), oom);
}

static int pack_task_doc(const tl_task *t, uint8_t **doc, size_t *len,
			 tl_err *err)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	if (!tl_task_pack(&sb, t)) {
		msgpack_sbuffer_destroy(&sb);
		return tl_err_oom(err);
	}
	*len = sb.size;
	*doc = (uint8_t *)msgpack_sbuffer_release(&sb);
	return *doc ? 0 : tl_err_oom(err);
}

/* Shared prologue of the task readers: the id argument, then the actor. */
static int task_read(tl_db *db, const tl_ctx *ctx, tl_slice id,
		     int64_t as_of, bool fold, uint8_t **doc, size_t *len,
		     tl_err *err)
{
	MDB_txn *txn;
	tl_member actor;
	msgpack_zone zone;
	uint8_t bin[16];
	char q[64];
	tl_task t;
	int rc;

	tl_id_suffix sx;
	bool is_short;

	if ((rc = tl_task_ref_parse(id, bin, &sx, &is_short, err)))
		return rc;
	if (!msgpack_zone_init(&zone, 4096))
		return tl_err_oom(err);
	if ((rc = tl_read_as(db, ctx, &txn, &actor, &zone, err)))
		goto out;
	if (is_short &&
	    (rc = tl_task_find_suffix(db, txn, true, &sx, id, "id",
					       bin, err))) {
		mdb_txn_abort(txn);
		goto out;
	}
	bool later = false; /* a task made after as_of */
	if (fold) {
		rc = tl_task_fold_until(db, txn, bin, UINT64_MAX, as_of, &t,
					&zone, err);
		MDB_val v;
		later = rc == TL_ENOTFOUND && !tl_task_doc(db, txn, bin, &v);
	} else {
		rc = tl_task_load(db, txn, bin, &t, &zone, err);
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND || rc == TL_ENOTFOUND) {
		tl_uuid_format(bin, q);
		rc = tl_err_set(err, TL_ENOTFOUND, "id",
				later ? "task %s did not exist at that time"
				      : "no task %s", q);
	}
	if (rc)
		goto out;
	rc = pack_task_doc(&t, doc, len, err);
	tl_task_release(&t);
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int tl_task_get(tl_db *db, const tl_ctx *ctx, tl_slice id, uint8_t **doc,
		size_t *len, tl_err *err)
{
	return task_read(db, ctx, id, 0, false, doc, len, err);
}

int tl_task_as_of(tl_db *db, const tl_ctx *ctx, tl_slice id,
		  int64_t as_of_ms, uint8_t **doc, size_t *len, tl_err *err)
{
	return task_read(db, ctx, id, as_of_ms, true, doc, len, err);
}

int tl_db_stats(tl_db *db, const tl_ctx *ctx, tl_stats *out, tl_err *err)
{
	MDB_txn *txn;
	MDB_stat st;
	MDB_envinfo info;
	tl_member actor;
	msgpack_zone zone;
	int rc;

	memset(out, 0, sizeof *out);
	if (!msgpack_zone_init(&zone, 4096))
		return tl_err_oom(err);
	if ((rc = tl_read_as(db, ctx, &txn, &actor, &zone, err)))
		goto out;
	if ((rc = mdb_stat(txn, db->events, &st))) {
		rc = tl_mdb_err(err, rc, "events");
		goto out_txn;
	}
	out->events = st.ms_entries;
	if ((rc = mdb_stat(txn, db->members, &st))) {
		rc = tl_mdb_err(err, rc, "members");
		goto out_txn;
	}
	out->members = st.ms_entries;
	if ((rc = tl_log_head(db, txn, &out->last_seq, NULL, err)))
		goto out_txn;
	if (!tl_counts_get(db, txn, &out->tasks, &out->active) &&
	    (rc = tl_counts_scan(db, txn, &out->tasks, &out->active, err)))
		goto out_txn;
	mdb_env_info(db->env, &info);
	mdb_env_stat(db->env, &st);
	out->map_size = info.me_mapsize;
	out->map_used = (info.me_last_pgno + 1) * (uint64_t)st.ms_psize;
out_txn:
	mdb_txn_abort(txn);
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int tl_free_pages(MDB_txn *txn, uint64_t *pages)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*pages = 0;
	/* LMDB's free list (database 0): each record lists pages freed by
	 * one transaction, its first word their count. */
	if ((rc = mdb_cursor_open(txn, 0, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		if (v.mv_size >= sizeof(size_t))
			*pages += *(const size_t *)v.mv_data;
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int tl_db_space(tl_db *db, const tl_ctx *ctx, uint64_t *file_bytes,
		uint64_t *free_bytes, tl_err *err)
{
	MDB_txn *txn;
	MDB_envinfo info;
	MDB_stat st;
	tl_member actor;
	char path[PATH_MAX + 16];
	struct stat fs;
	uint64_t pages = 0;
	int rc;

	*file_bytes = *free_bytes = 0;
	snprintf(path, sizeof path, "%s/data.mdb", db->fsdir);
	if ((rc = tl_read_actor(db, ctx, &txn, &actor, err)))
		return rc;
	rc = tl_free_pages(txn, &pages);
	mdb_txn_abort(txn);
	if (rc)
		return tl_mdb_err(err, rc, "read the free list");
	if (stat(path, &fs) != 0)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s/data.mdb: %s", db->dir,
				  strerror(errno));
	mdb_env_info(db->env, &info);
	mdb_env_stat(db->env, &st);
	uint64_t used = (info.me_last_pgno + 1) * (uint64_t)st.ms_psize;
	*file_bytes = (uint64_t)fs.st_size;
	*free_bytes = pages * st.ms_psize +
		      (*file_bytes > used ? *file_bytes - used : 0);
	if (*free_bytes > *file_bytes)
		*free_bytes = *file_bytes;
	return 0;
}

/* ---- verify ------------------------------------------------------------ */

typedef struct verifier {
	tl_problem_fn fn;
	void *arg;
	int problems;
	tl_verify_progress_fn progress;
	void *progress_arg;
	tl_verify_step at; /* the step told last */
	bool first_damaged; /* event 1 (the settings) does not check */
} verifier;

/* A step begins: told with done 0. */
static void step_begin(verifier *vf, int step, const char *what,
		       const char *unit, uint64_t total)
{
	vf->at.step = step;
	vf->at.what = what;
	vf->at.unit = unit;
	vf->at.done = 0;
	vf->at.total = total;
	if (vf->progress)
		vf->progress(vf->progress_arg, &vf->at);
}

/* One more of the step's units checked: told now and then. */
static void step_one(verifier *vf)
{
	if (vf->progress && (++vf->at.done & 0x3fff) == 0 &&
	    vf->at.done < vf->at.total)
		vf->progress(vf->progress_arg, &vf->at);
}

/* The step's progress in a callback's terms (pages, and the views'
 * rebuild and comparison): begins the step at its first call. */
static void step_at(verifier *vf, int step, const char *what,
		    const char *unit, uint64_t done, uint64_t total)
{
	if (vf->at.step != step)
		step_begin(vf, step, what, unit, total);
	vf->at.done = done;
	/* a rebuild's total is the head when it began; it goes on to
	 * the events appended meanwhile */
	vf->at.total = total > done ? total : done;
	if (vf->progress && done)
		vf->progress(vf->progress_arg, &vf->at);
}

static void step_end(verifier *vf)
{
	vf->at.done = vf->at.total;
	if (vf->progress)
		vf->progress(vf->progress_arg, &vf->at);
}

static void pages_walked(void *arg, uint64_t done, uint64_t total)
{
	step_at(arg, 1, "the file's pages", "pages", done, total);
}

static void views_built(void *arg, uint64_t done, uint64_t total)
{
	step_at(arg, 5, "rebuilding the views: reading the log", "events",
		done, total);
}

static void views_written(void *arg, uint64_t done, uint64_t total)
{
	step_at(arg, 6, "rebuilding the views: writing them", "bytes", done,
		total);
}

static void views_compared(void *arg, uint64_t done, uint64_t total)
{
	step_at(arg, 7, "comparing the views", "entries", done, total);
}

/* A database's entries, for a step's total (0 when it cannot say). */
static uint64_t entries(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat st;
	return mdb_stat(txn, dbi, &st) ? 0 : st.ms_entries;
}

static void vproblem(verifier *vf, const char *fmt, va_list ap)
{
	char buf[400];
	vsnprintf(buf, sizeof buf, fmt, ap);
	vf->problems++;
	if (vf->fn && vf->problems <= 1000)
		vf->fn(vf->arg, buf);
}

static void problem(verifier *vf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(verifier *vf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(vf, fmt, ap);
	va_end(ap);
}

/* A problem said as one line by another module (tokens, read marks). */
static void line_problem(void *arg, const char *what)
{
	problem(arg, "%s", what);
}

/* Every stored member equals the fold of its stream. */
static int verify_members(tl_db *db, MDB_txn *txn, verifier *vf,
			  msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	msgpack_sbuffer sb;
	int rc;

	if ((rc = mdb_cursor_open(txn, db->members, &c)))
		return tl_mdb_err(err, rc, "cursor");
	msgpack_sbuffer_init(&sb);
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		tl_slice id = { k.mv_data, k.mv_size };
		tl_member m;
		tl_err e;
		if (tl_member_fold_until(db, txn, id, UINT64_MAX, &m, zone,
					 &e)) {
			if (out_of_memory(&e)) {
				rc = tl_err_oom(err);
				break;
			}
			char q[88];
			problem(vf, "member %s: no events fold into it",
				tl_quote_max(id, 64, q, sizeof q));
			continue;
		}
		msgpack_sbuffer_clear(&sb);
		tl_packer tp;
		tl_member_pack(tl_packer_init(&tp, &sb), &m);
		if (tp.failed) {
			rc = tl_err_oom(err);
			break;
		}
		if (sb.size != v.mv_size || memcmp(sb.data, v.mv_data, sb.size))
			problem(vf, "member %s: stored record differs from the fold of its events",
				m.id);
		msgpack_zone_clear(zone);
	}
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&sb);
	if (rc == MDB_NOTFOUND)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "read members") : rc;
}

/* Every member stream of the log has its stored member. */
static int verify_member_streams(tl_db *db, MDB_txn *txn, verifier *vf,
				 tl_err *err)
{
	static const char pre[] = "Smember:";
	const size_t pn = sizeof pre - 1;
	MDB_cursor *c;
	MDB_val k = { pn, (void *)pre }, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
		if (k.mv_size < pn || memcmp(k.mv_data, pre, pn))
			break;
		if (k.mv_size == pn)
			continue; /* "member:" and no id: not a member */
		MDB_val mk = { k.mv_size - pn, (uint8_t *)k.mv_data + pn }, mv;
		char q[88];
		if ((rc = mdb_get(txn, db->members, &mk, &mv)) == MDB_NOTFOUND)
			problem(vf, "member %s: in the log, not stored",
				tl_quote_max((tl_slice){ (const char *)
								 mk.mv_data,
							 mk.mv_size },
					     64, q, sizeof q));
		else if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0
					     : tl_mdb_err(err, rc, "read streams");
}

/* The settings stored are event 1's, byte for byte: init and import store
 * both, and no command changes them (since 0.3.26: a zone, week start or
 * first admin changed in meta alone read dates in another zone, or ran
 * every command without --as as another member).  An event 1 that cannot
 * be read or does not check is the chain's check's to name, and a setting
 * named already (bad: a bit per key) is not named again. */
static void settings_of_log(tl_db *db, MDB_txn *txn, verifier *vf,
			    msgpack_zone *zone, unsigned bad)
{
	static const char *const keys[] = { "tz", "week_start", "admin" };
	uint8_t kb[8];
	tl_put_be64(kb, 1);
	MDB_val k = { 8, kb }, v;
	tl_event ev;
	msgpack_object d;
	size_t off = 0;
	if (vf->first_damaged || mdb_get(txn, db->events, &k, &v) ||
	    !tl_event_val_fits(db, &v) ||
	    tl_event_decode(v.mv_data, v.mv_size, &ev, zone, NULL) ||
	    !tl_slice_eq(ev.type, "workspace.initialized") ||
	    msgpack_unpack((const char *)ev.data, ev.data_len, &off, zone,
			   &d) != MSGPACK_UNPACK_SUCCESS)
		return;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		tl_slice logged = tl_obj_slice(tl_map_get(&d, keys[i]));
		char q1[80], q2[80];
		if (!logged.p || bad & 1u << i ||
		    tl_meta_get(db, txn, keys[i], &v))
			continue; /* named by the checks of each */
		tl_slice stored = { v.mv_data, v.mv_size };
		if (stored.len != logged.len ||
		    memcmp(stored.p, logged.p, logged.len))
			problem(vf, "meta: %s '%s' is not the log's '%s' (event "
				"1, the settings init made)",
				keys[i], tl_quote(stored, q1, sizeof q1),
				tl_quote(logged, q2, sizeof q2));
	}
}

/* The settings init stored: the format this code reads, a known zone, a
 * week start, and a first admin who is a member (members are never
 * removed; the role may have changed since), as event 1 holds them. */
static void verify_meta(tl_db *db, MDB_txn *txn, verifier *vf,
			msgpack_zone *zone)
{
	MDB_val v;
	char buf[80];
	unsigned bad = 0; /* settings named: tz 1, week_start 2, admin 4 */
	if (tl_meta_get(db, txn, "format", &v) || v.mv_size != 4 ||
	    tl_get_be32(v.mv_data) != TL_FORMAT_VERSION)
		problem(vf, "meta: format is not %d", TL_FORMAT_VERSION);
	if (tl_meta_get(db, txn, "tz", &v) || v.mv_size >= sizeof buf) {
		problem(vf, "meta: no time zone");
		bad |= 1;
	} else {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = 0;
		if (!tl_tz_stored_ok(buf)) {
			char q[88];
			problem(vf, "meta: time zone '%s' is not in this host's time-zone database",
				tl_quote_max(tl_s(buf), 64, q, sizeof q));
			bad |= 1;
		}
	}
	if (tl_meta_get(db, txn, "week_start", &v) ||
	    !((v.mv_size == 6 && !memcmp(v.mv_data, "monday", 6)) ||
	      (v.mv_size == 6 && !memcmp(v.mv_data, "sunday", 6)))) {
		problem(vf, "meta: week start is neither monday nor sunday");
		bad |= 2;
	}
	tl_member m;
	tl_err e;
	int lr = 0;
	bad |= 4; /* unless it is the member named */
	char q[88];
	if (tl_meta_get(db, txn, "admin", &v))
		problem(vf, "meta: no first admin");
	else if ((lr = tl_member_load(db, txn,
				      (tl_slice){ v.mv_data, v.mv_size }, &m,
				      zone, &e)) == TL_ESTORAGE &&
		 out_of_memory(&e))
		problem(vf, "meta: the first admin not checked: out of memory");
	else if (lr)
		problem(vf, "meta: the first admin '%s' is not a member",
			tl_quote_max((tl_slice){ (const char *)v.mv_data,
						 v.mv_size },
				     64, q, sizeof q));
	else
		bad &= ~4u;
	settings_of_log(db, txn, vf, zone, bad);
}

/* Each idempotency record names the last event of its first run, or of
 * its target when that run changed nothing (seq 8 BE, then 'F', or 'N'
 * since 0.3.3 for a run that changed nothing, and the 16-byte request
 * fingerprint since 0.3, then the stream key of its target): that event
 * exists and is of that stream. */
static int verify_idem(tl_db *db, MDB_txn *txn, verifier *vf,
		       msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	msgpack_sbuffer scratch;
	int rc;

	if ((rc = mdb_cursor_open(txn, db->idem, &c)))
		return tl_mdb_err(err, rc, "cursor");
	msgpack_sbuffer_init(&scratch);
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		char kq[88]; /* the key quoted, cut at a character (0.3.51) */
		const char *kn = tl_quote_max(
			(tl_slice){ (const char *)k.mv_data, k.mv_size }, 64, kq,
			sizeof kq);
		const uint8_t *p = v.mv_data;
		size_t n = v.mv_size;
		bool fp = n >= 9 && (p[8] == 'F' || p[8] == 'N');
		if (n < 9 || (fp && n < 8 + 1 + TL_IDEM_FP_LEN + 1)) {
			problem(vf, "idempotency key %s: record of %zu bytes",
				kn, n);
			continue;
		}
		if (!fp && p[8] != 'T' && p[8] != 'S') {
			/* after the seq: 'F' or 'N' and a fingerprint, or
			 * (0.2) a stream key, which begins 'T' or 'S' */
			problem(vf, "idempotency key %s: record of an "
				    "unknown kind (byte 0x%02x after its seq)",
				kn, p[8]);
			continue;
		}
		uint64_t seq = tl_get_be64(p);
		size_t at = fp ? 8 + 1 + TL_IDEM_FP_LEN : 8;
		tl_event ev;
		tl_err e;
		if (event_get(db, txn, seq, &ev, zone, &scratch, &e)) {
			if (out_of_memory(&e)) { /* not the data's */
				tl_err_pass(err, &e);
				rc = TL_ESTORAGE;
				break;
			}
			problem(vf, "idempotency key %s: %s", kn, e.message);
			continue;
		}
		uint8_t sk[TL_STREAM_KEY_MAX];
		size_t skn = tl_stream_key(ev.stream, sk);
		if (skn != n - at || memcmp(sk, p + at, skn))
			problem(vf, "idempotency key %s: event %llu is of another stream",
				kn,
				(unsigned long long)seq);
		msgpack_zone_clear(zone);
	}
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&scratch);
	if (rc == TL_ESTORAGE)
		return rc;
	return rc == MDB_NOTFOUND ? 0 : tl_mdb_err(err, rc, "read idempotency");
}

/* tl_pages_check's problems, said as verify's own. */
static void page_problem(void *arg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(arg, fmt, ap);
	va_end(ap);
}

static void problem_count_add(verifier *vf, int n)
{
	vf->problems += n;
}

#define IDS_FIRST ((size_t)1 << 20) /* ids sized for at first, at most */

static void id_again(void *arg, const tl_id_at *first, const tl_id_at *again)
{
	char text[37];
	tl_uuid_format(again->id, text);
	problem(arg, "event %llu: id %s is event %llu's too (each event has "
		     "an id of its own)",
		(unsigned long long)again->at, text,
		(unsigned long long)first->at);
}

/* The hash chain, seq contiguity, envelope decoding; that every event
 * has its stream index entry and an id of its own. */
static int verify_chain(tl_db *db, MDB_txn *txn, verifier *vf,
			msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t prev[TL_HASH_LEN] = { 0 }, h[TL_HASH_LEN];
	uint8_t sk[TL_STREAM_KEY_MAX], sv[12];
	msgpack_sbuffer scratch;
	uint64_t expect = 1;
	tl_event ev;
	int rc;

	MDB_cursor *ic;
	if ((rc = mdb_cursor_open(txn, db->events, &c)))
		return tl_mdb_err(err, rc, "cursor");
	if ((rc = mdb_cursor_open(txn, db->streams, &ic))) {
		mdb_cursor_close(c);
		return tl_mdb_err(err, rc, "cursor");
	}
	msgpack_sbuffer_init(&scratch);
	/* every id with its seq (24 bytes an event), sorted at the end; the
	 * count LMDB stores sizes the array only up to a bound (damage may
	 * have made it anything), past which it doubles as events come */
	uint64_t n_events = entries(txn, db->events);
	size_t ids_len = 0, ids_cap = n_events < IDS_FIRST ? (size_t)n_events
							     : IDS_FIRST;
	tl_id_at *ids = malloc((ids_cap ? ids_cap : 1) * sizeof *ids);
	if (!ids)
		rc = ENOMEM;
	for (int op = MDB_FIRST;
	     ids && (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		step_one(vf);
		uint64_t seq = k.mv_size == 8 ? tl_get_be64(k.mv_data) : 0;
		if (seq != expect)
			problem(vf, "log: expected seq %llu, found %llu",
				(unsigned long long)expect,
				(unsigned long long)seq);
		expect = seq + 1;
		if (v.mv_size < 40) {
			problem(vf, "event %llu: record too short",
				(unsigned long long)seq);
			continue;
		}
		if (!tl_event_val_fits(db, &v)) {
			problem(vf, "event %llu: its record's size (%zu bytes) "
				    "runs past the pages that hold it",
				(unsigned long long)seq, v.mv_size);
			continue;
		}
		tl_event_hash(prev, v.mv_data, v.mv_size, h);
		const uint8_t *stored = (uint8_t *)v.mv_data + v.mv_size -
					TL_HASH_LEN;
		if (memcmp(h, stored, TL_HASH_LEN)) {
			problem(vf, "event %llu: hash mismatch (the event or the chain before it was altered)",
				(unsigned long long)seq);
			vf->first_damaged |= seq == 1;
		}
		memcpy(prev, stored, TL_HASH_LEN);
		errno = 0;
		if (tl_event_decode(v.mv_data, v.mv_size, &ev, zone,
				    &scratch)) {
			if (errno == ENOMEM) {
				rc = ENOMEM; /* below: "out of memory" */
				break;
			}
			problem(vf, "event %llu: cannot be decoded",
				(unsigned long long)seq);
			continue;
		}
		if (ev.seq != seq)
			problem(vf, "event %llu: records seq %llu",
				(unsigned long long)seq,
				(unsigned long long)ev.seq);
		if (ids_len == ids_cap) {
			size_t cap = ids_cap ? 2 * ids_cap : 1024;
			tl_id_at *m = cap > SIZE_MAX / sizeof *m
					      ? NULL
					      : realloc(ids, cap * sizeof *m);
			if (!m) {
				rc = ENOMEM;
				break;
			}
			ids = m;
			ids_cap = cap;
		}
		tl_err e;
		int wr;
		if (tl_uuid_parse((tl_slice){ ev.id, 36 }, ids[ids_len].id)) {
			ids[ids_len++].at = seq;
			/* what import refuses: a log called clean exports
			 * and imports again (since 0.3.26) */
			wr = tl_event_check_written(&ev, zone, &e);
			if (wr == TL_ESTORAGE) {
				rc = ENOMEM; /* below: "out of memory" */
				break;
			}
			if (wr)
				problem(vf, "%s; import --events would refuse "
					"it (field %s)",
					e.message, e.field);
		} else {
			char q[64];
			problem(vf, "event %llu: id '%s' is not a UUID",
				(unsigned long long)seq,
				tl_quote((tl_slice){ ev.id, 36 }, q, sizeof q));
		}
		MDB_val ik = { tl_stream_key(ev.stream, sk), sk };
		tl_put_be32(sv, ev.version);
		tl_put_be64(sv + 4, seq);
		MDB_val iv = { 12, sv };
		int ir = mdb_cursor_get(ic, &ik, &iv, MDB_GET_BOTH);
		if (ir == MDB_NOTFOUND)
			problem(vf, "event %llu: stream '%.*s' version %u is not indexed",
				(unsigned long long)seq,
				(int)ev.stream.len, ev.stream.p, ev.version);
		else if (ir)
			problem(vf, "event %llu: stream '%.*s' version %u: the index cannot be read (%s)",
				(unsigned long long)seq,
				(int)ev.stream.len, ev.stream.p, ev.version,
				mdb_strerror(ir));
		msgpack_zone_clear(zone);
	}
	mdb_cursor_close(ic);
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&scratch);
	if (rc == MDB_NOTFOUND)
		tl_id_dups(ids, ids_len, SIZE_MAX, id_again, vf);
	free(ids);
	return rc == MDB_NOTFOUND ? 0 : tl_mdb_err(err, rc, "read log");
}

/* Every stream's versions are 1..n and point at events of that stream. */
static int verify_streams(tl_db *db, MDB_txn *txn, verifier *vf,
			  msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	msgpack_sbuffer scratch;
	uint32_t expect = 1;
	uint8_t last[TL_STREAM_KEY_MAX];
	size_t last_len = 0;
	tl_event ev;
	int rc;

	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	msgpack_sbuffer_init(&scratch);
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		step_one(vf);
		if (k.mv_size != last_len || memcmp(k.mv_data, last, last_len)) {
			last_len = k.mv_size < sizeof last ? k.mv_size : 0;
			memcpy(last, k.mv_data, last_len);
			expect = 1;
		}
		uint32_t ver;
		uint64_t seq;
		if (!tl_stream_val(&v, &ver, &seq)) {
			problem(vf, "stream index: a value of %zu bytes, not %d",
				v.mv_size, TL_STREAM_VAL);
			continue;
		}
		if (ver != expect)
			problem(vf, "stream index: version %u where %u was expected (seq %llu)",
				ver, expect, (unsigned long long)seq);
		expect = ver + 1;
		tl_err e;
		if (event_get(db, txn, seq, &ev, zone, &scratch, &e)) {
			if (out_of_memory(&e)) { /* not the data's */
				tl_err_pass(err, &e);
				rc = TL_ESTORAGE;
				break;
			}
			problem(vf, "stream index: %s", e.message);
			continue;
		}
		uint8_t sk[TL_STREAM_KEY_MAX];
		size_t n = tl_stream_key(ev.stream, sk);
		if (ev.version != ver || n != k.mv_size ||
		    memcmp(sk, k.mv_data, n))
			problem(vf, "stream index: seq %llu is '%.*s' v%u, indexed elsewhere",
				(unsigned long long)seq, (int)ev.stream.len,
				ev.stream.p, ev.version);
		msgpack_zone_clear(zone);
	}
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&scratch);
	if (rc == TL_ESTORAGE)
		return rc;
	return rc == MDB_NOTFOUND ? 0 : tl_mdb_err(err, rc, "read streams");
}

/* Every stored task equals a fresh fold of its events, and every task
 * stream has a stored task. */
static int verify_tasks(tl_db *db, MDB_txn *txn, verifier *vf,
			msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	MDB_stat st;
	size_t task_streams = 0;
	uint8_t *doc = NULL; /* (gcc -O3 cannot tell) */
	size_t len = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, db->tasks, &c)))
		return tl_mdb_err(err, rc, "cursor");
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		char idtext[37] = "?";
		tl_task t;
		tl_err e;
		step_one(vf);
		if (k.mv_size != 16) {
			problem(vf, "tasks: key of %zu bytes", k.mv_size);
			continue;
		}
		tl_uuid_format(k.mv_data, idtext);
		if (tl_task_fold_until(db, txn, k.mv_data, UINT64_MAX,
				       INT64_MAX, &t, zone, &e)) {
			if (out_of_memory(&e)) {
				rc = tl_err_oom(err);
				break;
			}
			problem(vf, "task %s: no events fold into it", idtext);
			continue;
		}
		if ((rc = pack_task_doc(&t, &doc, &len, err))) {
			tl_task_release(&t); /* unchecked is no "ok" */
			break;
		}
		if (len != v.mv_size || memcmp(doc, v.mv_data, len))
			problem(vf, "task %s: stored state differs from the fold of its events",
				idtext);
		free(doc);
		tl_task_release(&t);
		msgpack_zone_clear(zone);
	}
	mdb_cursor_close(c);
	if (rc == TL_ESTORAGE)
		return rc;
	if (rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read tasks");
	/* Count task streams: each must have had its task checked above. */
	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT_NODUP)
		task_streams += k.mv_size == 17 &&
				((uint8_t *)k.mv_data)[0] == 'T';
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read streams");
	if ((rc = mdb_stat(txn, db->tasks, &st)))
		return tl_mdb_err(err, rc, "tasks");
	if (st.ms_entries != task_streams)
		problem(vf, "tasks: %zu stored, %zu task streams in the log",
			(size_t)st.ms_entries, task_streams);
	return 0;
}


/* verify refused its actor (rc, err): when the actor's stored record
 * differs from the fold of its stream, the refusal comes from damage,
 * which is what verify is for: say so (storage) instead. */
static int actor_damaged(tl_db *db, const tl_ctx *ctx, int rc, tl_err *err)
{
	MDB_txn *txn;
	MDB_val v;
	msgpack_zone zone;
	tl_member stored, folded;
	char id[TL_MEMBER_ID_MAX + 1];
	tl_err e;

	if (ctx && ctx->actor)
		snprintf(id, sizeof id, "%s", ctx->actor);
	if (tl_read_begin(db, &txn, &e))
		return rc;
	if (!(ctx && ctx->actor)) {
		if (tl_meta_get(db, txn, "admin", &v) ||
		    v.mv_size > TL_MEMBER_ID_MAX) {
			mdb_txn_abort(txn);
			return rc;
		}
		memcpy(id, v.mv_data, v.mv_size);
		id[v.mv_size] = 0;
	}
	if (!msgpack_zone_init(&zone, 1024)) {
		mdb_txn_abort(txn); /* cannot tell: the error as it was */
		return rc;
	}
	bool damaged =
		tl_member_fold_until(db, txn, tl_s(id), UINT64_MAX, &folded,
				     &zone, &e) == 0 &&
		(tl_member_load(db, txn, tl_s(id), &stored, &zone, &e) != 0 ||
		 stored.admin != folded.admin ||
		 stored.crm_access != folded.crm_access);
	msgpack_zone_destroy(&zone);
	mdb_txn_abort(txn);
	if (!damaged)
		return rc;
	if (!err) /* (its message was read through NULL before 0.3.52) */
		return TL_ESTORAGE;
	char why[sizeof err->message]; /* tl_err_set writes err->message */
	snprintf(why, sizeof why, "%s", err->message);
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "member %s: the stored record differs from the log (%s): verify as another admin, or restore the workspace",
			  id, why);
}

#define REPLAY_STEP "replaying the log"

static void replay_at(void *arg, uint64_t done)
{
	verifier *vf = arg;
	step_at(vf, vf->at.steps, REPLAY_STEP, "events", done, vf->at.total);
}

/* The last step with TL_VERIFY_REPLAY, when the others found nothing
 * (replay.c): the number of problems, or a negative code. */
static int replay_step(tl_db *db, verifier *vf, bool replay, uint64_t head,
		       tl_err *err)
{
	if (!replay || vf->problems)
		return vf->problems;
	step_begin(vf, vf->at.steps, REPLAY_STEP, "events", head);
	int rc = tl_replay_log(db, vf->fn, vf->arg, replay_at, vf, err);
	if (rc < 0)
		return rc;
	vf->problems += rc;
	if (!rc)
		step_end(vf);
	return vf->problems;
}

static int verify(tl_db *db, const tl_ctx *ctx, tl_problem_fn fn, void *arg,
		  bool views, bool replay, tl_verify_progress_fn progress,
		  void *progress_arg, tl_err *err)
{
	MDB_txn *txn;
	tl_member actor;
	msgpack_zone zone;
	verifier vf = { .fn = fn, .arg = arg, .progress = progress,
			.progress_arg = progress_arg };
	MDB_envinfo info;
	int rc;

	if ((rc = tl_no_txn_open(db, err)))
		return rc;
	if (!msgpack_zone_init(&zone, 4096))
		return tl_err_oom(err);
	if ((rc = tl_read_as(db, ctx, &txn, &actor, &zone, err))) {
		if (rc == TL_EFORBIDDEN || rc == TL_ESTORAGE)
			rc = actor_damaged(db, ctx, rc, err);
		goto out;
	}
	if (!actor.admin) {
		rc = tl_err_set(err, TL_EFORBIDDEN, "as",
				"verify is for admins; '%s' is not one",
				actor.id);
		mdb_txn_abort(txn);
		rc = actor_damaged(db, ctx, rc, err);
		goto out;
	}
	/* First the file's structure, in a read transaction of its own: a
	 * page in use that the free list holds would be overwritten by the
	 * next write, the views' comparison below included. */
	mdb_txn_abort(txn);
	vf.at.steps = (views && db->views_len && !(db->flags & TL_OPEN_RDONLY)
			       ? 7
			       : 4) +
		      replay;
	step_begin(&vf, 1, "the file's pages", "pages",
		   mdb_env_info(db->env, &info) ? 0
						: (uint64_t)info.me_last_pgno + 1);
	int pages = tl_pages_check(db, page_problem, &vf,
				   progress ? pages_walked : NULL, &vf, err);
	if (pages < 0) {
		rc = pages;
		goto out;
	}
	if (pages > vf.problems) { /* counted once, as the others */
		int more = pages - vf.problems;
		problem(&vf, "pages: and %d more problems of the file's pages",
			more);
		vf.problems += more - 1;
	}
	bool overwrite = pages > 0;
	step_end(&vf);
	if ((rc = tl_read_as(db, ctx, &txn, &actor, &zone, err)))
		goto out;
	step_begin(&vf, 2, "the hash chain", "events", entries(txn, db->events));
	if (!(rc = verify_chain(db, txn, &vf, &zone, err))) {
		step_end(&vf);
		step_begin(&vf, 3, "the stream index", "entries",
			   entries(txn, db->streams));
		rc = verify_streams(db, txn, &vf, &zone, err);
	}
	if (!rc) {
		step_end(&vf);
		step_begin(&vf, 4, "the task states", "tasks",
			   entries(txn, db->tasks));
	}
	if (!rc && !(rc = verify_tasks(db, txn, &vf, &zone, err)) &&
	    !(rc = verify_members(db, txn, &vf, &zone, err)) &&
	    !(rc = verify_member_streams(db, txn, &vf, err)) &&
	    !(rc = verify_idem(db, txn, &vf, &zone, err)) &&
	    !(rc = tl_tokens_verify(db, txn, line_problem, &vf, err)) &&
	    !(rc = tl_reads_verify(db, txn, line_problem, &vf, err))) {
		verify_meta(db, txn, &vf, &zone);
		char odd[96];
		if (tl_counts_odd(db, txn, odd, sizeof odd))
			problem(&vf, "%s", odd);
		uint64_t st, sa, ct, ca;
		if (!(rc = tl_counts_scan(db, txn, &st, &sa, err)) &&
		    tl_counts_get(db, txn, &ct, &ca) && (st != ct || sa != ca))
			problem(&vf, "counts: %llu tasks (%llu active) stored, %llu (%llu) in the tasks",
				(unsigned long long)ct, (unsigned long long)ca,
				(unsigned long long)st, (unsigned long long)sa);
	}
	if (!rc)
		step_end(&vf);
	uint64_t head = entries(txn, db->events);
	mdb_txn_abort(txn);
	msgpack_zone_destroy(&zone);
	if (rc)
		return rc;
	if (!views)
		return replay_step(db, &vf, replay, head, err);
	if (overwrite) {
		problem(&vf, "views: not compared: comparing writes, and a "
			     "write may overwrite the pages above; `tasklog "
			     "backup DIR --compact` copies every tree without "
			     "the free list, a whole workspace to go on with");
		return vf.problems;
	}
	/* Views are compared with a rebuild of their own (write txns).  A
	 * damaged log (an event that does not decode, a gap) stops that
	 * rebuild: a problem of its own, after the problems the log checks
	 * found, not an error that would hide those.  When they found none,
	 * the log is sound and the failure is the environment's (memory, a
	 * write, the disk): an error, as anywhere else. */
	{
		tl_err e = { 0 };
		build_progress built = { views_built, views_written, &vf };
		if (vf.at.steps >= 7)
			step_begin(&vf, 5, "rebuilding the views: reading the log",
				   "events", head);
		rc = tl_verify_views(db, fn, arg, progress ? &built : NULL,
				     progress ? views_compared : NULL, &e);
		if (rc == TL_ESTORAGE && vf.problems > 0 && !out_of_memory(&e))
			problem(&vf, "views: not compared, a rebuild from the log failed: %s",
				e.message);
		else if (rc < 0) {
			tl_err_pass(err, &e);
			return rc;
		} else
			problem_count_add(&vf, rc);
	}
	return replay_step(db, &vf, replay, head, err);
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int tl_verify(tl_db *db, const tl_ctx *ctx, tl_problem_fn fn, void *arg,
	      tl_err *err)
{
	return verify(db, ctx, fn, arg, true, false, NULL, NULL, err);
}

int tl_verify_log(tl_db *db, const tl_ctx *ctx, tl_problem_fn fn, void *arg,
		  tl_err *err)
{
	return verify(db, ctx, fn, arg, false, false, NULL, NULL, err);
}

int tl_verify_progress(tl_db *db, const tl_ctx *ctx, unsigned flags,
		       tl_problem_fn fn, void *arg,
		       tl_verify_progress_fn progress, void *progress_arg,
		       tl_err *err)
{
	if (flags & ~(unsigned)(TL_VERIFY_NO_VIEWS | TL_VERIFY_REPLAY))
		return tl_err_set(err, TL_EINVALID, "flags",
				  "unknown verify flags 0x%x", flags);
	return verify(db, ctx, fn, arg, !(flags & TL_VERIFY_NO_VIEWS),
		      flags & TL_VERIFY_REPLAY, progress, progress_arg, err);
}
