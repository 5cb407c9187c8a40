/*
 * reads.c - the notifications each member has read, for `notifications
 * read`, which appends only the ids that were unread (since 0.3.13).
 *
 * Up to 0.3.49 that command found earlier reads by walking the member's
 * stream back to the oldest id given, decoding each event: a backlog
 * marked read one id at a time, oldest first, took time quadratic in the
 * reads (40,000 of them: 334 s, a scale review).  Since 0.3.50 the reads
 * are marked in `meta`, in the transaction of the command that looks at
 * them:
 *
 *   "nread:" MEMBER                -> u32 BE: the version of the stream
 *                                     "member:MEMBER" up to which its
 *                                     notification.read events are marked
 *   "nread:" MEMBER 0x00 SEQ       -> empty: notification SEQ (u64 BE) is
 *                                     named by one of those events
 *
 * (member ids hold no 0x00, so a member's marks follow its own first key
 * and come before any other member's).  The marks are caught up from the
 * stream whenever they are behind it: a workspace of an earlier release
 * (no marks) costs one walk of each member's stream at its first read,
 * and so do reads appended by an earlier release or by `import --events`
 * since.  Marks ahead of the stream (which no write makes) are dropped and
 * made again.  They are derived state, like the task documents: `verify`
 * compares them with the log, and `tasklog rebuild` of every view drops
 * them all (made again at each member's next read), which repairs any
 * damage.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PRE "nread:"
#define PRE_LEN 6
#define KEY_MAX (PRE_LEN + TL_MEMBER_ID_MAX + 1 + 8)

static size_t through_key(const char *member, uint8_t *k)
{
	size_t n = strlen(member);
	memcpy(k, PRE, PRE_LEN);
	memcpy(k + PRE_LEN, member, n);
	return PRE_LEN + n;
}

static size_t mark_key(const char *member, uint64_t seq, uint8_t *k)
{
	size_t n = through_key(member, k);
	k[n] = 0;
	tl_put_be64(k + n + 1, seq);
	return n + 9;
}

/* The last version of the member's stream (0: none). */
static int stream_last(MDB_txn *txn, tl_db *db, const char *member,
		       uint32_t *last)
{
	uint8_t sk[TL_STREAM_KEY_MAX];
	MDB_val k = { tl_member_stream_key(tl_s(member), sk), sk };
	MDB_val v;
	MDB_cursor *c;
	uint64_t seq;
	int rc = mdb_cursor_open(txn, db->streams, &c);
	if (rc)
		return rc;
	*last = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (!rc)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP);
	if (!rc && !tl_stream_val(&v, last, &seq))
		rc = MDB_CORRUPTED;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The member's stream from version `from` to `to`, through fn with the
 * ids of each notification.read event and its seq (the others are passed
 * over).  An id at or past the read's own seq was no notification then:
 * import --events took such reads up to 0.3.44, and the view passes
 * them over, as fn must (else one that becomes the member's notification
 * later would read as read, and stay unread in the view for good). */
typedef int (*ids_fn)(void *arg, const msgpack_object *ids, uint64_t at);

static int walk_reads(MDB_txn *txn, tl_db *db, const char *member,
		      uint32_t from, uint32_t to, ids_fn fn, void *arg,
		      tl_err *err)
{
	uint8_t sk[TL_STREAM_KEY_MAX], dv[TL_STREAM_VAL] = { 0 };
	MDB_val k = { tl_member_stream_key(tl_s(member), sk), sk };
	MDB_val v = { sizeof dv, dv };
	msgpack_zone zone;
	MDB_cursor *c;
	int rc;

	if (from > to)
		return 0;
	tl_put_be32(dv, from);
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	if ((rc = mdb_cursor_open(txn, db->streams, &c))) {
		msgpack_zone_destroy(&zone);
		return tl_mdb_err(err, rc, "cursor");
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		uint32_t ver;
		uint64_t seq;
		uint8_t kb[8];
		tl_event ev;
		msgpack_object d;
		size_t off = 0;
		if (!tl_stream_val(&v, &ver, &seq)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (ver > to)
			break;
		tl_put_be64(kb, seq);
		MDB_val ek = { 8, kb }, evv;
		if ((rc = mdb_get(txn, db->events, &ek, &evv))) {
			if (rc == MDB_NOTFOUND) /* the index names it */
				rc = MDB_CORRUPTED;
			break;
		}
		msgpack_zone_clear(&zone);
		if (tl_event_decode(evv.mv_data, evv.mv_size, &ev, &zone,
				    NULL) ||
		    (tl_slice_eq(ev.type, "notification.read") &&
		     tl_mp_unpack(ev.data, ev.data_len, &off, &zone, &d) !=
			     MSGPACK_UNPACK_SUCCESS)) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"cannot read event %llu",
					(unsigned long long)seq);
			break;
		}
		if (!tl_slice_eq(ev.type, "notification.read"))
			continue;
		const msgpack_object *ids = tl_map_get(&d, "ids");
		if (ids && ids->type == MSGPACK_OBJECT_ARRAY &&
		    (rc = fn(arg, ids, seq)))
			break;
	}
	mdb_cursor_close(c);
	msgpack_zone_destroy(&zone);
	if (rc == MDB_NOTFOUND)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "read stream") : rc;
}

struct marker {
	MDB_txn *txn;
	tl_db *db;
	const char *member;
	tl_err *err;
};

static int put_mark(MDB_txn *txn, tl_db *db, const char *member,
		    uint64_t seq, tl_err *err)
{
	uint8_t key[KEY_MAX];
	MDB_val k = { mark_key(member, seq, key), key }, v = { 0, "" };
	int rc = mdb_put(txn, db->meta, &k, &v, 0);
	return rc ? tl_mdb_err(err, rc, "mark read") : 0;
}

static int put_marks(void *arg, const msgpack_object *ids, uint64_t at)
{
	struct marker *m = arg;
	int rc = 0;
	for (uint32_t i = 0; !rc && i < ids->via.array.size; i++) {
		const msgpack_object *o = &ids->via.array.ptr[i];
		if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    o->via.u64 < at)
			rc = put_mark(m->txn, m->db, m->member, o->via.u64,
				      m->err);
	}
	return rc;
}

static int put_through(MDB_txn *txn, tl_db *db, const char *member,
		       uint32_t version, tl_err *err)
{
	uint8_t key[KEY_MAX], b[4];
	tl_put_be32(b, version);
	MDB_val k = { through_key(member, key), key }, v = { 4, b };
	int rc = mdb_put(txn, db->meta, &k, &v, 0);
	return rc ? tl_mdb_err(err, rc, "mark read") : 0;
}

/* Delete every key of meta that begins with key[0..n), seeking again
 * after each delete.  0 or an LMDB code. */
static int drop_prefix(MDB_txn *txn, tl_db *db, const uint8_t *key,
		       size_t n)
{
	MDB_val k, v;
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, db->meta, &c);
	if (rc)
		return rc;
	for (;;) {
		k.mv_size = n;
		k.mv_data = (void *)key;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)))
			break;
		if (k.mv_size < n || memcmp(k.mv_data, key, n))
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int tl_reads_drop_all(tl_db *db, MDB_txn *txn)
{
	return drop_prefix(txn, db, (const uint8_t *)PRE, PRE_LEN);
}

int tl_reads_catch_up(tl_txn *t, const char *member, uint32_t *version,
		      tl_err *err)
{
	uint8_t key[KEY_MAX];
	uint32_t last, done = 0;
	MDB_val k = { through_key(member, key), key }, v;
	int rc;

	if ((rc = stream_last(t->cur, t->db, member, &last)))
		return tl_mdb_err(err, rc, "read stream");
	*version = last;
	rc = mdb_get(t->cur, t->db->meta, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read marks");
	if (!rc) /* a damaged one: made again */
		done = v.mv_size == 4 ? tl_get_be32(v.mv_data) : UINT32_MAX;
	if (done == last)
		return 0;
	if (done > last) { /* the member's marks, not its first key */
		size_t n = through_key(member, key);
		key[n++] = 0;
		if ((rc = drop_prefix(t->cur, t->db, key, n)))
			return tl_mdb_err(err, rc, "drop read marks");
		done = 0;
	}
	struct marker m = { t->cur, t->db, member, err };
	if ((rc = walk_reads(t->cur, t->db, member, done + 1, last, put_marks,
			     &m, err)))
		return rc;
	return put_through(t->cur, t->db, member, last, err);
}

int tl_reads_marked(tl_txn *t, const char *member, uint64_t seq,
		    bool *marked, tl_err *err)
{
	uint8_t key[KEY_MAX];
	MDB_val k = { mark_key(member, seq, key), key }, v;
	int rc = mdb_get(t->cur, t->db->meta, &k, &v);
	*marked = rc == 0;
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read marks");
	return 0;
}

int tl_reads_mark(tl_txn *t, const char *member, const uint64_t *seqs,
		  size_t n, uint32_t version, tl_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = put_mark(t->cur, t->db, member, seqs[i], err);
		if (rc)
			return rc;
	}
	return put_through(t->cur, t->db, member, version, err);
}

/* ---- verify ----------------------------------------------------------- */

struct seqs {
	uint64_t *v;
	size_t n, cap;
	bool failed;
};

static void seqs_add(struct seqs *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		uint64_t *v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			s->failed = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static int add_ids(void *arg, const msgpack_object *ids, uint64_t at)
{
	struct seqs *s = arg;
	for (uint32_t i = 0; i < ids->via.array.size; i++)
		if (ids->via.array.ptr[i].type ==
			    MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    ids->via.array.ptr[i].via.u64 < at)
			seqs_add(s, ids->via.array.ptr[i].via.u64);
	return s->failed ? TL_ESTORAGE : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One member's marks (the keys after its first, gathered in marks)
 * against its stream's reads up to version `through`. */
static int verify_member(MDB_txn *txn, tl_db *db, const char *member,
			 uint32_t through, struct seqs *marks,
			 void (*fn)(void *arg, const char *problem),
			 void *arg, tl_err *err)
{
	struct seqs log = { 0 };
	char msg[200];
	uint32_t last;
	int rc = stream_last(txn, db, member, &last);
	if (rc)
		return tl_mdb_err(err, rc, "read stream");
	if (through > last) {
		snprintf(msg, sizeof msg,
			 "read marks of %.64s: through version %u of its "
			 "stream, which has %u",
			 member, through, last);
		fn(arg, msg);
		return 0;
	}
	if ((rc = walk_reads(txn, db, member, 1, through, add_ids, &log,
			     err))) {
		free(log.v);
		return rc == TL_ESTORAGE && log.failed ? tl_err_oom(err) : rc;
	}
	if (log.n) /* log.v is NULL without reads: qsort's is nonnull */
		qsort(log.v, log.n, sizeof *log.v, cmp_u64);
	size_t i = 0, j = 0, missing = 0, extra = 0;
	uint64_t first_missing = 0, first_extra = 0;
	while (i < log.n || j < marks->n) {
		if (i < log.n && i > 0 && log.v[i] == log.v[i - 1]) {
			i++; /* named by two reads (before 0.3.13) */
		} else if (j < marks->n &&
			   (i == log.n || marks->v[j] < log.v[i])) {
			if (!extra++)
				first_extra = marks->v[j];
			j++;
		} else if (i < log.n &&
			   (j == marks->n || log.v[i] < marks->v[j])) {
			if (!missing++)
				first_missing = log.v[i];
			i++;
		} else {
			i++, j++;
		}
	}
	free(log.v);
	if (missing) {
		snprintf(msg, sizeof msg,
			 "read marks of %.64s: %zu notifications its reads "
			 "name are not marked (the first: %llu)",
			 member, missing, (unsigned long long)first_missing);
		fn(arg, msg);
	}
	if (extra) {
		snprintf(msg, sizeof msg,
			 "read marks of %.64s: %zu notifications are marked "
			 "read that no read of it names (the first: %llu)",
			 member, extra, (unsigned long long)first_extra);
		fn(arg, msg);
	}
	return 0;
}

int tl_reads_verify(tl_db *db, MDB_txn *txn,
		    void (*fn)(void *arg, const char *problem), void *arg,
		    tl_err *err)
{
	MDB_cursor *c;
	MDB_val k = { PRE_LEN, PRE }, v;
	struct seqs marks = { 0 };
	char member[TL_MEMBER_ID_MAX + 1] = "", msg[200];
	uint32_t through = 0;
	bool open = false; /* a member's first key was met */
	int rc = mdb_cursor_open(txn, db->meta, &c);
	if (rc)
		return tl_mdb_err(err, rc, "cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		bool ours = !rc && k.mv_size > PRE_LEN &&
			    !memcmp(k.mv_data, PRE, PRE_LEN);
		const uint8_t *rest = ours ? (uint8_t *)k.mv_data + PRE_LEN
					   : NULL;
		size_t rn = ours ? k.mv_size - PRE_LEN : 0;
		const uint8_t *nul = ours ? memchr(rest, 0, rn) : NULL;
		size_t mlen = nul ? (size_t)(nul - rest) : rn;
		bool same = open && ours && mlen == strlen(member) &&
			    !memcmp(rest, member, mlen);
		if (nul && same && rn == mlen + 9) {
			seqs_add(&marks, tl_get_be64(nul + 1));
			if (marks.failed) {
				rc = tl_err_oom(err);
				break;
			}
			continue;
		}
		/* The member before is whole: check it. */
		if (open) {
			int r = verify_member(txn, db, member, through, &marks,
					      fn, arg, err);
			if (r) {
				rc = r;
				break;
			}
		}
		open = false;
		marks.n = 0;
		if (!ours)
			break;
		if (nul || mlen > TL_MEMBER_ID_MAX || v.mv_size != 4) {
			snprintf(msg, sizeof msg,
				 "read marks: a key of %zu bytes that is no "
				 "member's first key or mark (or a first key "
				 "whose value is not 4 bytes)",
				 k.mv_size);
			fn(arg, msg);
			continue;
		}
		memcpy(member, rest, mlen);
		member[mlen] = 0;
		through = tl_get_be32(v.mv_data);
		open = true;
	}
	mdb_cursor_close(c);
	free(marks.v);
	if (rc == MDB_NOTFOUND || rc == 0)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "read meta") : rc;
}
