/*
 * member.c - workspace members: the member document, look-ups, the acting
 * member and its permissions.  The system user "parsa-assistant" is not
 * stored: it exists in every workspace by definition.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int tl_read_begin(tl_db *db, MDB_txn **txn, tl_err *err);

static const tl_member system_user = {
	.id = TL_SYSTEM_USER,
	.name = TL_SYSTEM_USER_NAME,
	.admin = true,
	.crm_access = true,
	.system = true,
};

bool tl_member_id_valid(tl_slice id)
{
	if (!id.p || id.len < 1 || id.len > TL_MEMBER_ID_MAX)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		char c = id.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int tl_member_ref_check(tl_slice id, const char *field, tl_err *err)
{
	char q[64];
	if (!tl_member_id_valid(id))
		return tl_err_set(err, TL_EINVALID, field,
				  "'%s' is not a member id",
				  tl_quote(id, q, sizeof q));
	if (tl_slice_eq(id, "unassigned") || tl_slice_eq(id, "-"))
		return tl_err_set(err, TL_EINVALID, field,
				  "'%.*s' means no assignee, whom no "
				  "notification is for",
				  (int)id.len, id.p);
	return 0;
}

int tl_member_id_unreserved(tl_slice id, const char *field, tl_err *err)
{
	const char *means = tl_slice_eq(id, "me") ? "the acting member"
			    : tl_slice_eq(id, "unassigned")
				    ? "tasks without an assignee"
				    : NULL;
	if (tl_slice_eq(id, "-")) /* tables print "-" for no one */
		return tl_err_set(err, TL_EINVALID, field,
				  "'-' cannot be a member id: tables show it "
				  "for no assignee");
	if (!means)
		return 0;
	return tl_err_set(err, TL_EINVALID, field,
			  "'%.*s' cannot be a member id: it means %s in "
			  "filters",
			  (int)id.len, id.p, means);
}

void tl_member_pack(msgpack_packer *pk, const tl_member *m)
{
	msgpack_pack_map(pk, 5);
	TL_KEY(pk, "id");
	tl_pack_cstr(pk, m->id);
	TL_KEY(pk, "name");
	tl_pack_cstr(pk, m->name);
	TL_KEY(pk, "role");
	tl_pack_cstr(pk, m->admin ? "admin" : "member");
	TL_KEY(pk, "crm_access");
	if (m->crm_access)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	TL_KEY(pk, "kind");
	tl_pack_cstr(pk, m->system ? "system" : "user");
}

static int member_unpack(const void *doc, size_t len, tl_member *m,
			 msgpack_zone *zone)
{
	msgpack_object o;
	size_t off = 0;
	memset(m, 0, sizeof *m);
	if (tl_mp_unpack(doc, len, &off, zone, &o) != MSGPACK_UNPACK_SUCCESS)
		return TL_ESTORAGE;
	tl_slice id = tl_obj_slice(tl_map_get(&o, "id"));
	tl_slice name = tl_obj_slice(tl_map_get(&o, "name"));
	const msgpack_object *crm = tl_map_get(&o, "crm_access");
	const msgpack_object *role = tl_map_get(&o, "role");
	/* A role neither word names is damage, not "not an admin". */
	if (!id.p || id.len > TL_MEMBER_ID_MAX || !name.p ||
	    name.len > TL_NAME_MAX || !crm ||
	    crm->type != MSGPACK_OBJECT_BOOLEAN ||
	    !(tl_obj_is_str(role, "admin") || tl_obj_is_str(role, "member")))
		return TL_ESTORAGE;
	memcpy(m->id, id.p, id.len);
	memcpy(m->name, name.p, name.len);
	m->admin = tl_obj_is_str(role, "admin");
	m->crm_access = crm->via.boolean;
	return 0;
}

/* Fold a member event into m (zeroed for member.added). */
int tl_member_fold(tl_member *m, const msgpack_object *d, bool added)
{
	const msgpack_object *src = added ? d : tl_map_get(d, "changes");
	if (!src)
		return TL_ESTORAGE;
	tl_slice id = tl_obj_slice(tl_map_get(src, "id"));
	tl_slice name = tl_obj_slice(tl_map_get(src, "name"));
	const msgpack_object *role = tl_map_get(src, "role");
	const msgpack_object *crm = tl_map_get(src, "crm_access");
	if (added) {
		if (!tl_member_id_valid(id) || !name.p || !role || !crm)
			return TL_ESTORAGE;
		memcpy(m->id, id.p, id.len);
	}
	if (name.p) {
		if (name.len > TL_NAME_MAX)
			return TL_ESTORAGE;
		memset(m->name, 0, sizeof m->name);
		memcpy(m->name, name.p, name.len);
	}
	if (role)
		m->admin = tl_obj_is_str(role, "admin");
	if (crm) {
		if (crm->type != MSGPACK_OBJECT_BOOLEAN)
			return TL_ESTORAGE;
		m->crm_access = crm->via.boolean;
	}
	return 0;
}

size_t tl_member_stream_key(tl_slice id, uint8_t out[TL_STREAM_KEY_MAX])
{
	char stream[8 + TL_MEMBER_ID_MAX];
	int n = snprintf(stream, sizeof stream, "member:%.*s",
			 (int)(id.len > TL_MEMBER_ID_MAX ? TL_MEMBER_ID_MAX
							 : id.len),
			 id.p ? id.p : "");
	return tl_stream_key((tl_slice){ stream, (size_t)n }, out);
}

/* TL_ENOTFOUND, err filled as every failure fills it (verify reads the
 * error it is given: left as it was, it read a stack's leftovers). */
static int no_events(tl_slice id, tl_err *err)
{
	char q[88];
	return tl_err_set(err, TL_ENOTFOUND, "id", "member %s has no events",
			  tl_quote_max(id, 64, q, sizeof q));
}

int tl_member_fold_until(tl_db *db, MDB_txn *txn, tl_slice id,
			 uint64_t max_seq, tl_member *m, msgpack_zone *zone,
			 tl_err *err)
{
	uint8_t sk[TL_STREAM_KEY_MAX], kb[8];
	MDB_cursor *c;
	MDB_val k, v, ek, ev;
	msgpack_sbuffer scratch;
	bool any = false;
	int rc;

	memset(m, 0, sizeof *m);
	if (!tl_member_id_valid(id))
		return no_events(id, err);
	k.mv_size = tl_member_stream_key(id, sk);
	k.mv_data = sk;
	if ((rc = mdb_cursor_open(txn, db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	msgpack_sbuffer_init(&scratch);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		uint64_t seq;
		if (!tl_stream_val(&v, NULL, &seq)) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"damaged stream index entry");
			break;
		}
		tl_event e;
		msgpack_object d;
		size_t off = 0;
		if (seq > max_seq)
			break;
		tl_put_be64(kb, seq);
		ek = (MDB_val){ 8, kb };
		errno = 0; /* the decoders fail alike for damage and
			      no memory */
		if (mdb_get(txn, db->events, &ek, &ev) ||
		    tl_event_decode(ev.mv_data, ev.mv_size, &e, zone,
				    &scratch) ||
		    msgpack_unpack((const char *)e.data, e.data_len, &off,
				   zone, &d) != MSGPACK_UNPACK_SUCCESS) {
			rc = errno == ENOMEM
				     ? tl_err_oom(err)
				     : tl_err_set(err, TL_ESTORAGE, "storage",
						  "member event %llu is unreadable",
						  (unsigned long long)seq);
			break;
		}
		bool added = tl_slice_eq(e.type, "member.added");
		if (!added && !tl_slice_eq(e.type, "member.updated"))
			continue; /* notification.read and the like */
		errno = 0;
		if (tl_member_fold(m, &d, added)) {
			rc = errno == ENOMEM ? tl_err_oom(err) :
			     tl_err_set(err, TL_ESTORAGE, "storage",
					"member event %llu cannot be folded",
					(unsigned long long)seq);
			break;
		}
		any = true;
	}
	mdb_cursor_close(c);
	msgpack_sbuffer_destroy(&scratch);
	if (rc == MDB_NOTFOUND || rc == 0)
		return any ? 0 : no_events(id, err);
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "read member stream") : rc;
}

int tl_member_load(tl_db *db, MDB_txn *txn, tl_slice id, tl_member *m,
		   msgpack_zone *zone, tl_err *err)
{
	if (tl_slice_eq(id, TL_SYSTEM_USER)) {
		*m = system_user;
		return 0;
	}
	if (!tl_member_id_valid(id))
		return TL_ENOTFOUND;
	MDB_val k = { id.len, (void *)id.p }, v;
	int rc = mdb_get(txn, db->members, &k, &v);
	if (rc == MDB_NOTFOUND)
		return TL_ENOTFOUND;
	if (rc)
		return tl_mdb_err(err, rc, "read member");
	errno = 0;
	if (member_unpack(v.mv_data, v.mv_size, m, zone))
		return errno == ENOMEM
			       ? tl_err_oom(err)
			       : tl_err_set(err, TL_ESTORAGE, "storage",
					    "corrupt member record '%.*s'",
					    (int)id.len, id.p);
	return 0;
}

int tl_member_other_admins(tl_db *db, MDB_txn *txn, const char *except,
			   msgpack_zone *zone, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	tl_member m;
	int n = 0, rc;
	if ((rc = mdb_cursor_open(txn, db->members, &c)))
		return tl_mdb_err(err, rc, "cursor");
	for (int op = MDB_FIRST;
	     (rc = mdb_cursor_get(c, &k, &v, op)) == 0; op = MDB_NEXT) {
		tl_slice id = { k.mv_data, k.mv_size };
		if (tl_slice_eq(id, except))
			continue;
		int lr = tl_member_load(db, txn, id, &m, zone, err);
		if (lr == TL_ENOTFOUND)
			continue;
		if (lr) {
			n = lr;
			break;
		}
		n += m.admin && m.crm_access;
	}
	mdb_cursor_close(c);
	if (n >= 0 && rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read members");
	return n;
}

int tl_actor_resolve(tl_db *db, MDB_txn *txn, const tl_ctx *ctx,
		     tl_member *actor, msgpack_zone *zone, tl_err *err)
{
	char admin[TL_MEMBER_ID_MAX + 1];
	tl_slice id;
	if (ctx && ctx->actor) {
		id = tl_s(ctx->actor);
		if (!tl_member_id_valid(id)) { /* an argument, not a look-up */
			char q[64];
			return tl_err_set(err, TL_EINVALID, "as",
					  "'%s' is not a member id",
					  tl_quote(id, q, sizeof q));
		}
	} else {
		MDB_val v;
		if (tl_meta_get(db, txn, "admin", &v) ||
		    v.mv_size > TL_MEMBER_ID_MAX) {
			if (tl_meta_get(db, txn, "format", &v) == 0)
				return tl_err_set(err, TL_ESTORAGE, "storage",
						  "the workspace's first admin is missing (damaged settings?)");
			return tl_err_set(err, TL_ENOTFOUND, "db",
					  "workspace '%s' is not initialised (run tasklog init)",
					  db->dir);
		}
		memcpy(admin, v.mv_data, v.mv_size);
		admin[v.mv_size] = 0;
		id = tl_s(admin);
	}
	int rc = tl_member_load(db, txn, id, actor, zone, err);
	char q[88];
	if (rc == TL_ENOTFOUND && !(ctx && ctx->actor)) /* never deleted */
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "the workspace's first admin '%s' is not a member (damaged settings?)",
				  tl_quote_max(id, 64, q, sizeof q));
	if (rc == TL_ENOTFOUND)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "unknown member '%s'",
				  tl_quote_max(id, 64, q, sizeof q));
	if (rc)
		return rc;
	if (!actor->crm_access)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "member '%s' has no CRM access", actor->id);
	return 0;
}

/* Resolve the actor in a fresh read transaction: the common prologue of
 * every read command.  On success *txn is open. */
int tl_read_as(tl_db *db, const tl_ctx *ctx, MDB_txn **txn,
	       tl_member *actor, msgpack_zone *zone, tl_err *err)
{
	int rc = tl_read_begin(db, txn, err);
	if (rc)
		return rc;
	rc = tl_actor_resolve(db, *txn, ctx, actor, zone, err);
	if (rc)
		mdb_txn_abort(*txn);
	return rc;
}

int tl_read_actor(tl_db *db, const tl_ctx *ctx, MDB_txn **txn,
		  tl_member *actor, tl_err *err)
{
	msgpack_zone zone;
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	int rc = tl_read_as(db, ctx, txn, actor, &zone, err);
	msgpack_zone_destroy(&zone);
	return rc;
}

int tl_need_admin(tl_db *db, const tl_ctx *ctx, const char *what,
		  tl_err *err)
{
	MDB_txn *txn;
	tl_member actor;
	int rc = tl_read_actor(db, ctx, &txn, &actor, err);
	if (rc)
		return rc;
	mdb_txn_abort(txn);
	if (!actor.admin)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "%s is for admins; '%s' is not one", what,
				  actor.id);
	return 0;
}

int tl_member_find(tl_db *db, MDB_txn *txn, tl_slice id, tl_err *err)
{
	/* Its record is there: whether it decodes is not asked (a damaged
	 * one is verify's to report; the member's tasks stay listable). */
	if (tl_slice_eq(id, TL_SYSTEM_USER))
		return 0;
	if (!id.len || id.len > TL_MEMBER_ID_MAX)
		return TL_ENOTFOUND;
	MDB_val k = { id.len, (void *)id.p }, v;
	int rc = mdb_get(txn, db->members, &k, &v);
	if (rc == MDB_NOTFOUND)
		return TL_ENOTFOUND;
	return rc ? tl_mdb_err(err, rc, "read member") : 0;
}

bool tl_member_exists(tl_db *db, MDB_txn *txn, tl_slice id)
{
	return tl_member_find(db, txn, id, NULL) == 0;
}

int tl_reader_begin(tl_db *db, const tl_ctx *ctx, tl_reader *r,
		    tl_err *err)
{
	msgpack_zone zone;
	tl_member actor;
	MDB_val v;
	int rc;

	memset(r, 0, sizeof *r);
	r->db = db;
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	for (int tries = 0;; tries++) {
		if ((rc = tl_read_as(db, ctx, &r->txn, &actor, &zone, err))) {
			r->txn = NULL; /* ended: tl_reader_end does nothing */
			goto out;
		}
		bool stale = false;
		tl_views_check(db, r->txn, true, &stale);
		if (!stale)
			break;
		mdb_txn_abort(r->txn);
		r->txn = NULL;
		if (tries == 3) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"views switched by rebuilds, or left behind by appends without them, in other processes again and again; try again");
			goto out;
		}
		if ((rc = tl_views_sync(db, err)))
			goto out;
	}
	snprintf(r->actor, sizeof r->actor, "%s", actor.id);
	r->admin = actor.admin;
	r->now_ms = ctx && ctx->now_ms ? ctx->now_ms : tl_time_now();
	if (!tl_time_in_range(r->now_ms)) { /* windows are counted from it */
		mdb_txn_abort(r->txn);
		r->txn = NULL;
		rc = tl_err_set(err, TL_EINVALID, "now",
				"%lld ms is not in the years 1970 to 9999 UTC",
				(long long)r->now_ms);
		goto out;
	}
	r->week_start = 1;
	snprintf(r->tz, sizeof r->tz, "UTC");
	if (ctx && ctx->tz) {
		if (!tl_tz_valid(ctx->tz)) {
			char q[88];
			mdb_txn_abort(r->txn);
			r->txn = NULL;
			rc = tl_err_set(err, TL_EINVALID, "tz",
					"unknown time zone '%s'",
					tl_quote_max(tl_s(ctx->tz), 64, q,
						     sizeof q));
			goto out;
		}
		snprintf(r->tz, sizeof r->tz, "%s", ctx->tz);
	} else if (tl_meta_get(db, r->txn, "tz", &v) == 0 &&
		   v.mv_size < sizeof r->tz) {
		memcpy(r->tz, v.mv_data, v.mv_size);
		r->tz[v.mv_size] = 0;
	}
	if (tl_meta_get(db, r->txn, "week_start", &v) == 0)
		r->week_start = !(v.mv_size == 6 &&
				  !memcmp(v.mv_data, "sunday", 6));
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

void tl_reader_end(tl_reader *r)
{
	if (r && r->txn) {
		mdb_txn_abort(r->txn);
		r->txn = NULL;
	}
}

_Static_assert(TL_MEMBER_CURSOR_MAX == TL_MEMBER_ID_MAX + 2,
	       "a members cursor: m, an id, NUL");

/* A members cursor: 'm' and the id of the last member of the page ("m"
 * alone: the system user, listed first).  0, or TL_EINVALID naming
 * "cursor".  An empty cursor is the first page (*after_system false). */
static int member_cursor(tl_slice cursor, bool *after_system, tl_slice *id,
			 tl_err *err)
{
	char q[64];

	*after_system = false;
	*id = (tl_slice){ NULL, 0 };
	if (!cursor.len)
		return 0;
	tl_slice rest = { cursor.p + 1, cursor.len - 1 };
	if (cursor.p[0] != TL_MEMBER_CURSOR ||
	    (rest.len && !tl_member_id_valid(rest)))
		return tl_err_set(err, TL_EINVALID, "cursor",
				  "'%s' is not a cursor of member list",
				  tl_quote(cursor, q, sizeof q));
	*after_system = true;
	*id = rest;
	return 0;
}

/* The system user, then the stored members in the order of their ids
 * from just past `after` (NULL: the first), at most limit of them; when
 * more follow, next_cursor (if not NULL) gets the cursor of the next
 * page, else "". */
static int member_walk(tl_db *db, const tl_ctx *ctx, size_t limit,
		       tl_slice cursor, tl_doc_fn fn, void *arg,
		       char *next_cursor, tl_err *err)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	tl_member actor;
	msgpack_zone zone;
	msgpack_sbuffer sb;
	bool skip_system;
	tl_slice after;
	size_t n = 0;
	char from[TL_MEMBER_ID_MAX]; /* the cursor's id: next_cursor may be
					the cursor's own buffer */

	int rc = member_cursor(cursor, &skip_system, &after, err);
	if (next_cursor)
		next_cursor[0] = 0;
	if (rc)
		return rc;
	if (!fn)
		return tl_err_set(err, TL_EINVALID, "fn", "no callback given");
	if (after.len) {
		memcpy(from, after.p, after.len);
		after.p = from;
	}
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	rc = tl_read_as(db, ctx, &txn, &actor, &zone, err);
	if (rc) {
		msgpack_zone_destroy(&zone);
		return rc;
	}
	msgpack_sbuffer_init(&sb);
	int stop = 0;
	if (!skip_system) {
		tl_packer tp;
		tl_member_pack(tl_packer_init(&tp, &sb), &system_user);
		stop = tp.failed ? tl_err_oom(err)
				 : fn(arg, (const uint8_t *)sb.data, sb.size);
		n++;
	}
	char last[TL_MEMBER_ID_MAX]; /* the id of the last member listed */
	size_t last_len = 0;
	if (!stop && (rc = mdb_cursor_open(txn, db->members, &c))) {
		stop = tl_mdb_err(err, rc, "cursor");
	} else if (!stop) {
		int op = MDB_FIRST;
		if (after.len) {
			k = (MDB_val){ after.len, (void *)after.p };
			op = MDB_SET_RANGE;
		}
		while (!stop && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
			op = MDB_NEXT;
			if (after.len && k.mv_size == after.len &&
			    !memcmp(k.mv_data, after.p, after.len))
				continue; /* the last of the page before */
			if (n == limit) { /* one more follows */
				if (next_cursor) {
					next_cursor[0] = TL_MEMBER_CURSOR;
					memcpy(next_cursor + 1, last,
					       last_len);
					next_cursor[1 + last_len] = 0;
				}
				break;
			}
			if (k.mv_size > sizeof last) { /* no member's id */
				stop = tl_err_set(err, TL_ESTORAGE, "storage",
						  "a member's key of %zu bytes",
						  k.mv_size);
				break;
			}
			memcpy(last, k.mv_data, k.mv_size);
			last_len = k.mv_size;
			stop = fn(arg, v.mv_data, v.mv_size);
			n++;
		}
		mdb_cursor_close(c);
		/* LMDB's error is not the end of the list */
		if (!stop && rc && rc != MDB_NOTFOUND)
			stop = tl_mdb_err(err, rc, "read members");
	}
	mdb_txn_abort(txn);
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
	if (stop && next_cursor)
		next_cursor[0] = 0;
	return stop;
}

int tl_member_list(tl_db *db, const tl_ctx *ctx, tl_doc_fn fn, void *arg,
		   tl_err *err)
{
	return member_walk(db, ctx, SIZE_MAX, (tl_slice){ NULL, 0 }, fn, arg,
			   NULL, err);
}

int tl_member_page(tl_db *db, const tl_ctx *ctx, size_t limit,
		   tl_slice cursor, tl_doc_fn fn, void *arg,
		   char next_cursor[TL_MEMBER_CURSOR_MAX], tl_err *err)
{
	if (limit > TL_MEMBER_PAGE_MAX) {
		/* not before the cursor is read: it may be this buffer */
		if (next_cursor)
			next_cursor[0] = 0;
		return tl_err_set(err, TL_EINVALID, "limit",
				  "%zu is more than %d", limit,
				  TL_MEMBER_PAGE_MAX);
	}
	return member_walk(db, ctx, limit ? limit : TL_MEMBER_PAGE_DEFAULT,
			   cursor, fn, arg, next_cursor, err);
}

int tl_member_get(tl_db *db, const tl_ctx *ctx, tl_slice id, uint8_t **doc,
		  size_t *len, tl_err *err)
{
	MDB_txn *txn;
	tl_member actor, m;
	msgpack_zone zone;
	msgpack_sbuffer sb;

	/* The argument first: a text that is no member id is TL_EINVALID,
	 * as for tl_task_get (before 0.3.51, TL_ENOTFOUND "no member"). */
	char q[64];
	if (!tl_member_id_valid(id))
		return tl_err_set(err, TL_EINVALID, "id",
				  "'%s' is not a member id",
				  tl_quote(id, q, sizeof q));
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	int rc = tl_read_as(db, ctx, &txn, &actor, &zone, err);
	if (rc)
		goto out;
	if (tl_slice_eq(id, "me")) /* reserved: no member's id */
		m = actor;
	else
		rc = tl_member_load(db, txn, id, &m, &zone, err);
	mdb_txn_abort(txn);
	if (rc == TL_ENOTFOUND)
		rc = tl_err_set(err, TL_ENOTFOUND, "id",
				"no member '%.*s'", (int)(id.len > 64 ? 64 : id.len),
				id.p ? id.p : "");
	if (rc)
		goto out;
	msgpack_sbuffer_init(&sb);
	tl_packer tp;
	tl_member_pack(tl_packer_init(&tp, &sb), &m);
	if (tp.failed) {
		msgpack_sbuffer_destroy(&sb);
		rc = tl_err_oom(err);
		goto out;
	}
	*len = sb.size;
	*doc = (uint8_t *)msgpack_sbuffer_release(&sb);
out:
	msgpack_zone_destroy(&zone);
	return rc;
}
