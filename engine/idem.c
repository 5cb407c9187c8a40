/*
 * idem.c - forgetting old idempotency keys (tl_idem_prune, since 0.3.47).
 *
 * A workspace keeps every idempotency record until it is pruned: for as
 * long as it holds a key, a retry under it returns the first result.  A
 * client that gives every request a key of its own grows the `idem`
 * database by about a hundred bytes a request, without end; an operator
 * prunes the records of requests made before a time, after which a retry
 * under such a key runs as a new request.
 *
 * When a request was made is read from its record and the log (format.md,
 * the `idem` database):
 *   'F', and a record of 0.2 (no tag): its first run appended the events
 *       up to seq, the last of them at the time event seq says ("at");
 *   'N': its first run changed nothing, and seq is its target's last
 *       event then: the run came after event seq and before the target's
 *       next event.  With such a next event dated before the cutoff, the
 *       run was before the cutoff too.  Without one, its time is unknown
 *       and the record is kept (a retry would find the target as the run
 *       left it).
 * The records are read, and deleted, in write transactions of PRUNE_CHUNK
 * records, each durable, so that other writers wait for one chunk at the
 * most; a prune stopped midway has pruned the chunks it committed, and
 * runs again from the start.
 */
#include <string.h>

#include "internal.h"

/* Records read per transaction. */
#define PRUNE_CHUNK 10000
/* LMDB's largest key, and more than any key tasklog stores (TL_IDEM_MAX) */
#define KEY_MAX 512

/* Event seq into *ev, decoded as stored (its "at" and version are what
 * is asked). */
static int event_at(tl_db *db, MDB_txn *txn, uint64_t seq, tl_event *ev,
		    tl_err *err)
{
	MDB_val v;
	int rc = tl_event_raw(db, txn, seq, &v, err);
	if (rc)
		return rc;
	if (tl_event_decode_stored(v.mv_data, v.mv_size, ev) ||
	    ev->seq != seq)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "event %llu is corrupt",
				  (unsigned long long)seq);
	return 0;
}

/* The record v: *prune when its request was made before before_ms,
 * *unknown when it may have been but its time cannot be told (kept). */
static int judge(tl_db *db, MDB_txn *txn, const MDB_val *v,
		 int64_t before_ms, bool *prune, bool *unknown, tl_err *err)
{
	const uint8_t *p = v->mv_data;
	*prune = *unknown = false;
	bool tagged = v->mv_size >= 9 && (p[8] == 'F' || p[8] == 'N');
	if (v->mv_size < 9 || (tagged && v->mv_size < 9 + TL_IDEM_FP_LEN + 2))
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "corrupt idempotency record");
	uint64_t seq = tl_get_be64(p);
	/* the target's stream key: after the tag and fingerprint, or (0.2)
	 * right after seq */
	size_t off = tagged ? 9 + TL_IDEM_FP_LEN : 8;
	MDB_val skv = { v->mv_size - off, (void *)(p + off) }, sv;
	uint8_t own[TL_STREAM_KEY_MAX];
	tl_event ev;
	int rc = event_at(db, txn, seq, &ev, err);
	if (rc)
		return rc;
	if (ev.stream.len > TL_STREAM_KEY_MAX - 1 ||
	    tl_stream_key(ev.stream, own) != skv.mv_size ||
	    memcmp(own, skv.mv_data, skv.mv_size))
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "idempotency record names event %llu, of "
				  "another stream",
				  (unsigned long long)seq);
	if (p[8] != 'N' || ev.at_ms >= before_ms) {
		/* its run appended event seq, or (N) came after it */
		*prune = p[8] != 'N' && ev.at_ms < before_ms;
		return 0;
	}
	/* The target's event after seq: its stream's next version. */
	uint8_t want[TL_STREAM_VAL];
	uint32_t ver;
	uint64_t next;
	MDB_cursor *c;
	if (ev.version == UINT32_MAX) { /* no version after it */
		*unknown = true;
		return 0;
	}
	tl_put_be32(want, ev.version + 1);
	memset(want + 4, 0, 8);
	sv = (MDB_val){ sizeof want, want };
	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	rc = mdb_cursor_get(c, &skv, &sv, MDB_GET_BOTH_RANGE);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*unknown = true;
		return 0;
	}
	if (rc)
		return tl_mdb_err(err, rc, "read streams");
	if (!tl_stream_val(&sv, &ver, &next) || next <= seq)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "damaged stream index entry");
	if ((rc = event_at(db, txn, next, &ev, err)))
		return rc;
	*prune = ev.at_ms < before_ms;
	return 0;
}

/* A storage error of the record of key k names the key (verify does). */
static void name_key(tl_err *err, const MDB_val *k)
{
	char q[64];
	if (!err || err->code != TL_ESTORAGE)
		return;
	size_t n = strlen(err->message);
	snprintf(err->message + n, sizeof err->message - n,
		 " (idempotency key '%s')",
		 tl_quote((tl_slice){ k->mv_data, k->mv_size }, q, sizeof q));
}

/* One chunk: up to PRUNE_CHUNK records after last (from the first when
 * *started is false), each judged and, unless check, the old ones
 * deleted; counts into *out, *done when the database ends.  TL_EAGAIN:
 * the map is full (nothing of the chunk kept; its counts not added). */
static int prune_chunk(tl_db *db, int64_t before_ms, bool check,
		       uint8_t *last, size_t *last_len, bool *started,
		       bool *done, tl_prune_out *out, tl_err *err)
{
	tl_txn *t = NULL;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	tl_prune_out n = { 0 };
	bool end = false; /* the database ended in this chunk */
	int rc;

	if (check) {
		if ((rc = tl_read_begin(db, &txn, err)))
			return rc;
	} else {
		if ((rc = tl_txn_begin(db, &t, err)))
			return rc;
		txn = t->txn;
	}
	if ((rc = mdb_cursor_open(txn, db->idem, &c))) {
		rc = tl_mdb_err(err, rc, "cursor");
		goto out;
	}
	k = (MDB_val){ *last_len, last };
	rc = *started ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
		      : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	/* a key kept by the chunk before: go past it */
	if (!rc && *started && k.mv_size == *last_len &&
	    !memcmp(k.mv_data, last, *last_len))
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	for (size_t i = 0; !rc && i < PRUNE_CHUNK; i++) {
		bool prune, unknown;
		if (k.mv_size > KEY_MAX) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"an idempotency key of %zu bytes "
					"(the data file is damaged)",
					k.mv_size);
			break;
		}
		memcpy(last, k.mv_data, k.mv_size);
		*last_len = k.mv_size;
		if ((rc = judge(db, txn, &v, before_ms, &prune, &unknown,
				err))) {
			name_key(err, &k);
			break;
		}
		n.keys++;
		n.pruned += prune;
		n.unknown += unknown;
		if (prune && !check && (rc = mdb_cursor_del(c, 0))) {
			rc = tl_mdb_err(err, rc, "delete idempotency key");
			break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		end = true;
		rc = 0;
	} else if (tl_is_mdb_rc(rc)) {
		rc = tl_mdb_err(err, rc, "read idempotency keys");
	}
out:
	if (check) {
		mdb_txn_abort(txn);
	} else if (rc || !n.pruned) { /* nothing to keep */
		tl_txn_abort(t);
	} else {
		rc = tl_txn_commit(t, err);
	}
	if (!rc) { /* the chunk stands: on from its last key */
		*started = true;
		*done = end;
		out->keys += n.keys;
		out->pruned += n.pruned;
		out->unknown += n.unknown;
	}
	return rc;
}

int tl_idem_prune(tl_db *db, const tl_ctx *ctx, int64_t before_ms,
		  bool check, tl_prune_out *out, tl_err *err)
{
	uint8_t last[KEY_MAX], saved[KEY_MAX];
	size_t last_len = 0, saved_len;
	bool started = false, done = false;
	int rc;

	memset(out, 0, sizeof *out);
	if (!tl_time_in_range(before_ms))
		return tl_err_set(err, TL_EINVALID, "before",
				  "%lld ms is not in the years 1970 to 9999 "
				  "UTC",
				  (long long)before_ms);
	if ((rc = tl_need_admin(db, ctx, "idempotency prune", err)))
		return rc;
	if (!check && tl_db_read_only(db))
		return tl_err_set(err, TL_EINVALID, "db",
				  "workspace opened read-only");
	while (!done) {
		size_t map = tl_db_map_size(db);
		bool was_started = started;
		memcpy(saved, last, last_len);
		saved_len = last_len;
		rc = prune_chunk(db, before_ms, check, last, &last_len,
				 &started, &done, out, err);
		if (rc == TL_EAGAIN) { /* a full map: grown, the chunk again
					  (done, counts: set on success only) */
			memcpy(last, saved, saved_len);
			last_len = saved_len;
			started = was_started;
			if ((rc = tl_db_grow_from(db, map, err)))
				return rc;
			continue;
		}
		if (rc)
			return rc;
		if (!check && !done)
			tl_writer_yield();
	}
	return 0;
}

int tl_idem_keys(tl_db *db, const tl_ctx *ctx, uint64_t *keys, tl_err *err)
{
	MDB_txn *txn;
	MDB_stat st;
	tl_member actor;
	int rc;

	*keys = 0;
	if ((rc = tl_read_actor(db, ctx, &txn, &actor, err)))
		return rc;
	if ((rc = mdb_stat(txn, db->idem, &st)))
		rc = tl_mdb_err(err, rc, "idempotency keys");
	else
		*keys = st.ms_entries;
	mdb_txn_abort(txn);
	return rc;
}
