/*
 * notifications.c - the `notifications` view: each member's in-app
 * notifications, and the tl_notifications query.
 *
 * A notification is derived, not sent: assigning a task to a member (in
 * task.created or task.assigned) by someone other than that member gives
 * them one, whose id is the seq of that event.  notification.read events
 * mark some read; task.deleted takes all of a task's away.
 *
 * Storage:
 *
 *   "inbox"   key   = tl_key_hash(member)   8 bytes
 *                   | state                 1 byte: 0 unread, 1 read
 *                   | ~seq, big-endian      8 bytes
 *             value = msgpack map {"id": seq, "member", "at", "task",
 *                                  "kind": "assigned", "by", "read"}
 *   "bytask"  key   = task id (16 bytes) | seq (8 bytes, big-endian)
 *             value = member id
 *
 * A member's inbox is one key range with the unread ones first, newest
 * first within each state: listing is one cursor walk from the page's
 * start, and "unread only" stops at the first read one.  Marking read
 * moves an entry from state 0 to 1.  "bytask" finds a deleted task's
 * notifications without scanning inboxes.  The value repeats the member
 * so that a query can tell hash collisions apart.
 */
#include <stdio.h>
#include <string.h>

#include "doc.h"
#include "keys.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

#define INBOX 0
#define BYTASK 1
#define INBOX_KEY 17
#define BYTASK_KEY 24
#define LIMIT_MAX 1000
#define MEMBER_MAX 64

enum { UNREAD = 0, READ = 1 };

static void inbox_key(uint8_t key[INBOX_KEY], tl_slice member, int state,
		      uint64_t seq)
{
	tl_key_hash(member, key);
	key[8] = (uint8_t)state;
	tl_key_u64(key + 9, ~seq);
}

/* The stored document of a notification into sb; 0 or TL_ESTORAGE. */
static int pack_notification(msgpack_sbuffer *sb, uint64_t seq,
			     tl_slice member, int64_t at, const char *task,
			     tl_slice by, bool read, tl_err *err)
{
	tl_packer tp;
	msgpack_sbuffer_clear(sb);
	msgpack_packer *pk = tl_packer_init(&tp, sb);
	msgpack_pack_map(pk, 7);
	tl_doc_cstr(pk, "id");
	msgpack_pack_uint64(pk, seq);
	tl_doc_cstr(pk, "member");
	tl_doc_str(pk, member.p, member.len);
	tl_doc_cstr(pk, "at");
	tl_doc_time(pk, at);
	tl_doc_cstr(pk, "task");
	tl_doc_cstr(pk, task);
	tl_doc_cstr(pk, "kind");
	tl_doc_cstr(pk, "assigned");
	tl_doc_cstr(pk, "by");
	tl_doc_str(pk, by.p, by.len);
	tl_doc_cstr(pk, "read");
	if (read)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	return tp.failed ? tl_err_oom(err)
			 : 0;
}

/* ---- the view ------------------------------------------------------------ */

static int put(const tl_view_ctx *vc, int db, const void *k, size_t klen,
	       const void *v, size_t vlen, tl_err *err)
{
	MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
	int rc = mdb_put(vc->txn, vc->dbi[db], &key, &val, 0);
	return rc ? tl_doc_mdb_err(err, rc, "notification") : 0;
}

static int del(const tl_view_ctx *vc, int db, const void *k, size_t klen,
	       tl_err *err)
{
	MDB_val key = { klen, (void *)k };
	int rc = mdb_del(vc->txn, vc->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? tl_doc_mdb_err(err, rc, "notification") : 0;
}

/* task.created or task.assigned gave the task to after->assignee. */
static int on_assigned(const tl_view_ctx *vc, const tl_event *ev,
		       const tl_task *after, tl_err *err)
{
	tl_slice member = tl_s(after->assignee);
	uint8_t ik[INBOX_KEY], bk[BYTASK_KEY];
	msgpack_sbuffer sb;
	char task[37];
	int rc;

	if (!member.p || tl_doc_slice_eq(member, ev->actor_id))
		return 0; /* unassigned, or assigned to oneself */
	tl_uuid_format(after->id, task);
	inbox_key(ik, member, UNREAD, ev->seq);
	memcpy(bk, after->id, 16);
	tl_key_u64(bk + 16, ev->seq);
	msgpack_sbuffer_init(&sb);
	rc = pack_notification(&sb, ev->seq, member, ev->at_ms, task,
			       ev->actor_id, false, err);
	if (!rc)
		rc = put(vc, INBOX, ik, sizeof ik, sb.data, sb.size, err);
	msgpack_sbuffer_destroy(&sb);
	if (!rc)
		rc = put(vc, BYTASK, bk, sizeof bk, member.p, member.len, err);
	/* Nothing is sent from here: this runs inside the append
	 * transaction, whose request may still fail and be rolled back, and
	 * again in every rebuild and verify.  Live delivery belongs after
	 * the commit, to the events of tl_txn_seqs()'s range. */
	return rc;
}

/* task.deleted: the task's notifications go, read or not. */
static int on_deleted(const tl_view_ctx *vc, const tl_task *after,
		      tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(vc->txn, vc->dbi[BYTASK], &c)))
		return tl_doc_mdb_err(err, rc, "notification");
	/* Seek again after each delete: the cursor's position after a
	 * delete is not worth relying on. */
	for (;;) {
		uint8_t ik[INBOX_KEY];
		k.mv_size = 16;
		k.mv_data = (void *)after->id;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)))
			break;
		if (k.mv_size != BYTASK_KEY || memcmp(k.mv_data, after->id, 16))
			break;
		uint64_t seq = tl_key_get_u64((uint8_t *)k.mv_data + 16);
		/* A copy: v points into a page the writes below may move. */
		char mb[MEMBER_MAX];
		tl_slice member = { mb, v.mv_size < sizeof mb ? v.mv_size
							     : sizeof mb };
		memcpy(mb, v.mv_data, member.len);
		for (int st = UNREAD; st <= READ && !rc; st++) {
			inbox_key(ik, member, st, seq);
			rc = del(vc, INBOX, ik, sizeof ik, err);
		}
		if (rc)
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND || rc == 0)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_doc_mdb_err(err, rc, "notification") : rc;
}

/* Move notification seq of member from unread to read, if it is there. */
static int mark_read(const tl_view_ctx *vc, tl_slice member, uint64_t seq,
		     msgpack_sbuffer *sb, tl_err *err)
{
	uint8_t ik[INBOX_KEY];
	MDB_val k = { INBOX_KEY, ik }, v;
	msgpack_zone zone;
	msgpack_object d;
	size_t off = 0;
	int64_t at;
	int rc;

	inbox_key(ik, member, UNREAD, seq);
	rc = mdb_get(vc->txn, vc->dbi[INBOX], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0; /* already read, deleted, or never there */
	if (rc)
		return tl_doc_mdb_err(err, rc, "notification");
	if (!msgpack_zone_init(&zone, 512))
		return tl_err_oom(err);
	int u = tl_mp_unpack(v.mv_data, v.mv_size, &off, &zone, &d);
	if (u != MSGPACK_UNPACK_SUCCESS ||
	    !tl_doc_get_time(tl_doc_get(&d, "at"), &at)) {
		msgpack_zone_destroy(&zone);
		return u == MSGPACK_UNPACK_NOMEM_ERROR
			       ? tl_err_oom(err)
			       : tl_err_set(err, TL_ESTORAGE, "storage",
					    "corrupt notification %llu",
					    (unsigned long long)seq);
	}
	tl_slice stored = tl_doc_slice(tl_doc_get(&d, "member"));
	tl_slice task = tl_doc_slice(tl_doc_get(&d, "task"));
	tl_slice by = tl_doc_slice(tl_doc_get(&d, "by"));
	char tid[37];
	if (!tl_doc_slice_eq(stored, member) || !by.p || task.len != 36) {
		msgpack_zone_destroy(&zone);
		return 0; /* another member's with the same hash */
	}
	memcpy(tid, task.p, 36);
	tid[36] = 0;
	rc = pack_notification(sb, seq, member, at, tid, by, true, err);
	msgpack_zone_destroy(&zone);
	if (rc || (rc = del(vc, INBOX, ik, sizeof ik, err)))
		return rc;
	ik[8] = READ;
	return put(vc, INBOX, ik, sizeof ik, sb->data, sb->size, err);
}

typedef int (*mark_fn)(const tl_view_ctx *vc, tl_slice member,
		       uint64_t seq, msgpack_sbuffer *sb, tl_err *err);

/* notification.read {member, ids}: mark(member, id) for each id. */
static int on_read(const tl_view_ctx *vc, const tl_event *ev, mark_fn mark,
		   tl_err *err)
{
	msgpack_zone zone;
	msgpack_sbuffer sb;
	msgpack_object d;
	size_t off = 0;
	int rc = 0;

	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	msgpack_sbuffer_init(&sb);
	int u = msgpack_unpack((const char *)ev->data, ev->data_len, &off,
			       &zone, &d);
	if (u != MSGPACK_UNPACK_SUCCESS) {
		rc = u == MSGPACK_UNPACK_NOMEM_ERROR
			     ? tl_err_oom(err)
			     : tl_err_set(err, TL_ESTORAGE, "storage",
					  "event %llu: undecodable data",
					  (unsigned long long)ev->seq);
		goto out;
	}
	tl_slice member = tl_doc_slice(tl_doc_get(&d, "member"));
	const msgpack_object *ids = tl_doc_get(&d, "ids");
	if (!member.p || !ids || ids->type != MSGPACK_OBJECT_ARRAY) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"event %llu: no member or ids",
				(unsigned long long)ev->seq);
		goto out;
	}
	for (uint32_t i = 0; i < ids->via.array.size && !rc; i++) {
		const msgpack_object *o = &ids->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		rc = mark(vc, member, o->via.u64, &sb, err);
	}
out:
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
	return rc;
}

static bool type_is(const tl_event *ev, const char *s)
{
	size_t n = strlen(s);
	return ev->type.len == n && !memcmp(ev->type.p, s, n);
}

/* ---- rebuilds: the inboxes in memory -----------------------------------
 *
 * Marking read and deleting read the view's own databases, so a rebuild
 * keeps the notifications in memory instead (bulk_begin): one record per
 * assignment, in seq order, so a read event finds its ids by binary
 * search; deletions in a list (task, seq).  At the end (bulk_end) every
 * record whose task was deleted after it is dropped (as on_deleted drops
 * them on append) and the others are written, as read or unread, through
 * the engine's sorted sink.
 */

typedef struct nrec {
	uint64_t seq;
	int64_t at;
	uint8_t task[16];
	size_t member, by; /* offsets of NUL-terminated strings in strs */
	size_t by_len;     /* by's length, as the event has it */
	bool read;
} nrec;

typedef struct nbulk {
	nrec *v;
	size_t n, cap;
	char *strs;
	size_t slen, scap;
	struct gone {
		uint8_t task[16];
		uint64_t seq;
	} *gone;
	size_t ngone, gcap;
} nbulk;

static void *bulk_begin(void)
{
	return calloc(1, sizeof(nbulk));
}

static void bulk_free(void *state)
{
	nbulk *b = state;
	free(b->v);
	free(b->strs);
	free(b->gone);
	free(b);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

static bool bulk_str(nbulk *b, tl_slice s, size_t *off)
{
	if (!grow((void **)&b->strs, &b->scap, b->slen + s.len + 1, 1))
		return false;
	*off = b->slen;
	if (s.len)
		memcpy(b->strs + b->slen, s.p, s.len);
	b->strs[b->slen + s.len] = 0;
	b->slen += s.len + 1;
	return true;
}

static int oom(tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "notifications: out of memory");
}

static int bulk_assigned(nbulk *b, const tl_event *ev, const tl_task *after,
			 tl_err *err)
{
	tl_slice member = tl_s(after->assignee);
	if (!member.p || tl_doc_slice_eq(member, ev->actor_id))
		return 0; /* as on_assigned */
	if (!grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v))
		return oom(err);
	nrec *r = &b->v[b->n];
	r->seq = ev->seq;
	r->at = ev->at_ms;
	memcpy(r->task, after->id, 16);
	r->read = false;
	if (!bulk_str(b, member, &r->member) ||
	    !bulk_str(b, ev->actor_id, &r->by))
		return oom(err);
	r->by_len = ev->actor_id.len;
	b->n++;
	return 0;
}

static int bulk_mark(const tl_view_ctx *vc, tl_slice member, uint64_t seq,
		     msgpack_sbuffer *sb, tl_err *err)
{
	nbulk *b = vc->state;
	size_t lo = 0, hi = b->n;
	(void)sb;
	(void)err;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->v[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->n && b->v[lo].seq == seq &&
	    tl_doc_slice_eq(tl_s(b->strs + b->v[lo].member), member))
		b->v[lo].read = true;
	return 0;
}

static int gone_cmp(const void *pa, const void *pb)
{
	const struct gone *a = pa, *b = pb;
	int r = memcmp(a->task, b->task, 16);
	return r ? r : (a->seq > b->seq) - (a->seq < b->seq);
}

/* Whether task was deleted after event seq. */
static bool deleted_after(const nbulk *b, const uint8_t task[16],
			  uint64_t seq)
{
	size_t lo = 0, hi = b->ngone;
	while (lo < hi) { /* the first deletion of task past seq */
		size_t mid = lo + (hi - lo) / 2;
		int r = memcmp(b->gone[mid].task, task, 16);
		if (r < 0 || (r == 0 && b->gone[mid].seq <= seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->ngone && !memcmp(b->gone[lo].task, task, 16);
}

static int bulk_end(const tl_view_ctx *vc, void *state, tl_err *err)
{
	nbulk *b = state;
	msgpack_sbuffer sb;
	char task[37];
	int rc = 0;

	if (b->ngone)
		qsort(b->gone, b->ngone, sizeof *b->gone, gone_cmp);
	msgpack_sbuffer_init(&sb);
	for (size_t i = 0; i < b->n && !rc; i++) {
		const nrec *r = &b->v[i];
		if (deleted_after(b, r->task, r->seq))
			continue;
		tl_slice member = tl_s(b->strs + r->member);
		uint8_t ik[INBOX_KEY], bk[BYTASK_KEY];
		tl_uuid_format(r->task, task);
		inbox_key(ik, member, r->read ? READ : UNREAD, r->seq);
		memcpy(bk, r->task, 16);
		tl_key_u64(bk + 16, r->seq);
		rc = pack_notification(&sb, r->seq, member, r->at, task,
				       (tl_slice){ b->strs + r->by, r->by_len },
				       r->read, err);
		if (!rc)
			rc = tl_view_put(vc, INBOX, ik, sizeof ik, sb.data,
					 sb.size, err);
		if (!rc)
			rc = tl_view_put(vc, BYTASK, bk, sizeof bk, member.p,
					 member.len, err);
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int bulk_apply(const tl_view_ctx *vc, const tl_event *ev,
		      const tl_task *after, tl_err *err)
{
	nbulk *b = vc->state;
	if (after && (type_is(ev, "task.created") ||
		      type_is(ev, "task.assigned")))
		return bulk_assigned(b, ev, after, err);
	if (after && type_is(ev, "task.deleted")) {
		if (!grow((void **)&b->gone, &b->gcap, b->ngone + 1,
			  sizeof *b->gone))
			return oom(err);
		memcpy(b->gone[b->ngone].task, after->id, 16);
		b->gone[b->ngone++].seq = ev->seq;
		return 0;
	}
	if (type_is(ev, "notification.read"))
		return on_read(vc, ev, bulk_mark, err);
	return 0;
}

static int notifications_apply(const tl_view_ctx *vc, const tl_event *ev,
			       const tl_task *before, const tl_task *after,
			       tl_err *err)
{
	(void)before;
	if (vc->state)
		return bulk_apply(vc, ev, after, err);
	if (after && (type_is(ev, "task.created") ||
		      type_is(ev, "task.assigned")))
		return on_assigned(vc, ev, after, err);
	if (after && type_is(ev, "task.deleted"))
		return on_deleted(vc, after, err);
	if (type_is(ev, "notification.read"))
		return on_read(vc, ev, mark_read, err);
	return 0;
}

static const char *const notifications_dbs[] = { "inbox", "bytask" };
static const unsigned notifications_flags[] = { 0, 0 };

const tl_view tl_view_notifications = {
	.name = "notifications",
	.version = 1,
	.dbs = notifications_dbs,
	.db_flags = notifications_flags,
	.dbs_len = 2,
	.apply = notifications_apply,
	.bulk_begin = bulk_begin,
	.bulk_end = bulk_end,
	.bulk_free = bulk_free,
};

/* ---- the query ----------------------------------------------------------- */

/* 1 when an inbox entry is member's, 0 when it is another's that has the
 * same hash, -1 when it does not decode (a damaged view), -2 when memory
 * ran out. */
static int entry_is(const MDB_val *v, tl_slice member)
{
	msgpack_zone zone;
	msgpack_object d;
	size_t off = 0;
	int is = -1;
	if (!msgpack_zone_init(&zone, 512))
		return -2;
	int u = tl_mp_unpack(v->mv_data, v->mv_size, &off, &zone, &d);
	if (u == MSGPACK_UNPACK_SUCCESS) {
		tl_slice m = tl_doc_slice(tl_doc_get(&d, "member"));
		is = !m.p ? -1 : tl_doc_slice_eq(m, member);
	} else if (u == MSGPACK_UNPACK_NOMEM_ERROR) {
		is = -2;
	}
	msgpack_zone_destroy(&zone);
	return is;
}

static int inbox(tl_reader *rd, tl_slice member, bool unread_only,
		 size_t limit, bool has_cursor, const uint8_t cur[9],
		 tl_doc_fn fn, void *arg, char next_cursor[TL_CURSOR_MAX],
		 tl_err *err)
{
	const MDB_dbi *dbi = tl_view_dbis(rd->db, "notifications");
	uint8_t key[INBOX_KEY], last[9] = { 0 };
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	int rc, stop = 0;

	if (!dbi)
		return tl_view_unavailable(rd->db, "notifications", err);
	tl_key_hash(member, key);
	memset(key + 8, 0, 9);
	if (has_cursor)
		memcpy(key + 8, cur, 9);
	if ((rc = mdb_cursor_open(rd->txn, dbi[INBOX], &c)))
		return tl_doc_mdb_err(err, rc, "notifications");
	k.mv_size = INBOX_KEY;
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;
		if (k.mv_size != INBOX_KEY || memcmp(p, key, 8))
			break;
		if (unread_only && p[8] != UNREAD)
			break;
		if (has_cursor && memcmp(p + 8, cur, 9) <= 0)
			continue;
		int is = entry_is(&v, member);
		if (is < 0) {
			rc = is == -2
				     ? tl_err_oom(err)
				     : tl_err_set(err, TL_ESTORAGE, "storage",
						  "corrupt notification "
						  "entry");
			break;
		}
		if (!is)
			continue; /* another member with the same hash */
		if (n == limit) {
			tl_cursor_encode('n', last, 9, next_cursor,
					 TL_CURSOR_MAX);
			break;
		}
		stop = fn(arg, v.mv_data, v.mv_size);
		memcpy(last, p + 8, 9);
		n++;
	}
	mdb_cursor_close(c);
	if (rc == 0 || rc == MDB_NOTFOUND)
		return stop;
	return tl_is_mdb_rc(rc) ? tl_doc_mdb_err(err, rc, "notifications") : rc;
}

int tl_notifications(tl_db *db, const tl_ctx *ctx, tl_slice member,
		     bool unread_only, size_t limit, tl_slice cursor,
		     tl_doc_fn fn, void *arg,
		     char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	tl_cursor_copy cc;
	cursor = tl_doc_cursor_copy(cursor, &cc);
	bool has_cursor = cursor.p && cursor.len;
	uint8_t cur[9] = { 0 };
	tl_reader rd;
	int rc;

	next_cursor[0] = 0;
	if (member.p && (rc = tl_member_ref_check(member, "member", err)))
		return rc;
	if (limit == 0)
		limit = 50;
	if (limit > LIMIT_MAX)
		return tl_err_set(err, TL_EINVALID, "limit",
				  "%zu is more than %d", limit, LIMIT_MAX);
	if (has_cursor && (!tl_cursor_decode(cursor, 'n', cur, sizeof cur) ||
			   cur[0] > READ))
		return tl_err_set(err, TL_EINVALID, "cursor",
				  "not a cursor of notifications");
	if ((rc = tl_reader_begin(db, ctx, &rd, err)))
		return rc;
	/* no member, or `me` (no member's id: reserved), is the actor */
	if (!member.p || (member.len == 2 && !memcmp(member.p, "me", 2)))
		member = tl_s(rd.actor);
	bool own = member.len == strlen(rd.actor) &&
		   !memcmp(member.p, rd.actor, member.len);
	if (!own && !rd.admin)
		rc = tl_err_set(err, TL_EFORBIDDEN, "member",
				"only admins read other members' notifications");
	else if (!own &&
		 (rc = tl_member_find(db, rd.txn, member, err)) == TL_ENOTFOUND)
		rc = tl_err_set(err, TL_ENOTFOUND, "member", "no member '%.*s'",
				(int)member.len, member.p);
	else if (!rc)
		rc = inbox(&rd, member, unread_only, limit, has_cursor, cur, fn,
			   arg, next_cursor, err);
	tl_reader_end(&rd);
	return rc;
}
