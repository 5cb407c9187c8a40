/*
 * import.c - appending event records that were made elsewhere: a log
 * written by another workspace or an older release.  Each record must be
 * the next one of this log (its seq follows the head and its hash chains
 * to the head's hash); it is stored byte for byte and folded into the task,
 * member and meta states and every view, exactly as an append would.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A fold's own code for a record of the workspace that could not be
 * read (damaged, or LMDB failed; err says so): a storage error, not one
 * of the event's, which bare TL_ESTORAGE from a fold is. */
#define STORE_FAILED (-100000)

/* The code of a write into the workspace (a view's apply, a put) made
 * once the event was checked and folded: its TL_ESTORAGE is the
 * workspace's (a damaged view record, LMDB failing), not the event's;
 * err says what.  Other codes (a full map's TL_EAGAIN) are kept. */
static int stored(int rc)
{
	return rc == TL_ESTORAGE ? STORE_FAILED : rc;
}

/* An imported event whose state no command makes: e's field and message
 * under the event's seq and type ("event 11 (task.tagged): tag ..."). */
static int state_refused(const tl_event *ev, const tl_err *e, tl_err *err)
{
	char q[64];
	return tl_err_set(err, TL_EINVALID, e->field, "event %llu (%s): %s %s",
			  (unsigned long long)ev->seq,
			  tl_quote(ev->type, q, sizeof q), e->field, e->message);
}

/* Whether value v of member field key is what m holds. */
static bool member_holds(const msgpack_object *v, const char *key,
			 const tl_member *m)
{
	if (!strcmp(key, "name")) {
		tl_slice s = tl_obj_slice(v);
		return s.p && tl_slice_eq(s, m->name);
	}
	if (!strcmp(key, "role"))
		return tl_obj_is_str(v, m->admin ? "admin" : "member");
	return v->type == MSGPACK_OBJECT_BOOLEAN &&
	       v->via.boolean == m->crm_access;
}

/* A member event must be one the member commands could have made: its
 * name as they check it, a role of "admin" or "member", not the system
 * user, and an admin with CRM access left (the first admin is added as
 * one, and no change takes the last one's role or access): else every
 * admin command of the imported workspace is refused. */
static int check_member_state(tl_txn *t, const tl_event *ev,
			      const msgpack_object *d, bool added,
			      const tl_member *before, const tl_member *m,
			      tl_err *err)
{
	const msgpack_object *src = added ? d : tl_map_get(d, "changes");
	const msgpack_object *role = tl_map_get(src, "role");
	tl_err e = { 0 };
	int rc = 0;
	if (!strcmp(m->id, TL_SYSTEM_USER))
		rc = tl_err_set(&e, TL_EINVALID, "id",
				"'%s' is the system user", TL_SYSTEM_USER);
	else if ((added || tl_map_get(src, "name")) && !m->name[0])
		rc = tl_err_set(&e, TL_EINVALID, "name", "must not be empty");
	else if (added || tl_map_get(src, "name"))
		/* a name of spaces alone, which releases before 0.3.11
		 * took, is taken */
		rc = tl_check_text(tl_s(m->name), "name", 0, TL_NAME_MAX,
				   false, &e);
	if (!rc && role && !tl_obj_is_str(role, "admin") &&
	    !tl_obj_is_str(role, "member"))
		rc = tl_err_set(&e, TL_EINVALID, "role",
				"must be admin or member");
	/* An update's every field a change, and its previous values the
	 * member's (since 0.3.23; as member update has written them since
	 * the first release). */
	const msgpack_object *maps[2] = { src, tl_map_get(d, "previous") };
	for (int i = 0; !rc && !added && i < 2; i++) {
		const msgpack_object *o = maps[i];
		for (uint32_t j = 0; !rc && o && o->type == MSGPACK_OBJECT_MAP &&
				     j < o->via.map.size; j++) {
			const msgpack_object *k = &o->via.map.ptr[j].key,
					     *v = &o->via.map.ptr[j].val;
			const char *key = tl_obj_is_str(k, "name") ? "name"
					  : tl_obj_is_str(k, "role") ? "role"
								     : "crm_access";
			if (member_holds(v, key, before) != !i)
				continue;
			rc = i ? tl_err_set(&e, TL_EINVALID, "previous",
					    "is not the member's %s before it",
					    key)
			       : tl_err_set(&e, TL_EINVALID, key,
					    "is what the member held: a "
					    "command that changes nothing "
					    "appends nothing");
		}
	}
	if (!rc && ev->seq == 2 && !(m->admin && m->crm_access))
		rc = tl_err_set(&e, TL_EINVALID,
				m->admin ? "crm_access" : "role",
				"the first admin is added as an admin with "
				"CRM access (as init does)");
	if (!rc && !added && before->admin && before->crm_access &&
	    !(m->admin && m->crm_access)) {
		int others = tl_member_other_admins(t->db, t->cur, m->id,
						    &t->zone, err);
		if (others < 0) /* the workspace's members: err says */
			return STORE_FAILED;
		if (others == 0)
			rc = tl_err_set(&e, TL_EINVALID,
					m->admin ? "crm_access" : "role",
					"'%s' is the last admin with CRM "
					"access",
					m->id);
	}
	return rc ? state_refused(ev, &e, err) : 0;
}

static int import_member(tl_txn *t, const tl_event *ev,
			 const msgpack_object *d, tl_err *err)
{
	tl_member m;
	int rc;
	bool added = tl_slice_eq(ev->type, "member.added");
	if (added) {
		memset(&m, 0, sizeof m);
	} else {
		if (ev->stream.len < 8)
			return TL_ESTORAGE;
		tl_slice id = { ev->stream.p + 7, ev->stream.len - 7 };
		if ((rc = tl_member_load(t->db, t->cur, id, &m, &t->zone,
					 err)))
			/* no such member: the record's fault */
			return rc == TL_ENOTFOUND ? TL_ESTORAGE : STORE_FAILED;
	}
	tl_member before = m;
	if (tl_member_fold(&m, d, added))
		return TL_ESTORAGE;
	if ((rc = check_member_state(t, ev, d, added, &before, &m, err)))
		return rc;
	tl_packer tp;
	msgpack_sbuffer_clear(&t->doc);
	tl_member_pack(tl_packer_init(&tp, &t->doc), &m);
	if (tp.failed)
		return tl_err_oom(err);
	MDB_val k = { strlen(m.id), m.id }, v = { t->doc.size, t->doc.data };
	if ((rc = mdb_put(t->cur, t->db->members, &k, &v, 0)))
		return stored(tl_mdb_err(err, rc, "store member"));
	return stored(tl_views_apply(t, ev, NULL, NULL, err));
}

static int import_workspace(tl_txn *t, const tl_event *ev,
			    const msgpack_object *d, tl_err *err)
{
	static const char *const keys[] = { "tz", "week_start", "admin" };
	uint8_t fmt[4];
	tl_put_be32(fmt, TL_FORMAT_VERSION);
	MDB_val k = { 6, "format" }, v = { 4, fmt };
	int rc = mdb_put(t->cur, t->db->meta, &k, &v, 0);
	for (size_t i = 0; !rc && i < 3; i++) {
		tl_slice s = tl_obj_slice(tl_map_get(d, keys[i]));
		/* What init would have stored. */
		if (!s.p || (i == 0 && (!s.len || s.len >= 64 ||
					memchr(s.p, 0, s.len))) ||
		    (i == 1 && !tl_slice_eq(s, "monday") &&
		     !tl_slice_eq(s, "sunday")) ||
		    (i == 2 && !tl_member_id_valid(s)))
			return TL_ESTORAGE;
		char tz[64], q[80];
		if (i == 0) {
			memcpy(tz, s.p, s.len);
			tz[s.len] = 0;
		}
		/* A zone this host lacks (a name made up, or one a newer
		 * tzdata has): the workspace could read no date, and
		 * verify calls it damage (a fuzzer found it taken). */
		if (i == 0 && !tl_tz_stored_ok(tz))
			return tl_err_set(err, TL_EINVALID, "tz",
					  "event %llu: time zone '%s' is not "
					  "in this host's time-zone database",
					  (unsigned long long)ev->seq,
					  tl_quote(s, q, sizeof q));
		k = (MDB_val){ strlen(keys[i]), (void *)keys[i] };
		v = (MDB_val){ s.len, (void *)s.p };
		rc = mdb_put(t->cur, t->db->meta, &k, &v, 0);
	}
	if (rc)
		return stored(tl_mdb_err(err, rc, "store meta"));
	return stored(tl_views_apply(t, ev, NULL, NULL, err));
}

/* The state an imported task event folds into must be one the commands
 * could have made (their checks, as lenient as the oldest release's: a
 * tag of spaces alone, more than 64 tags, were once taken): else its views, `export` and a
 * second import of that export disagree with it. */
static int check_task_state(const tl_task *t, const tl_event *ev,
			    tl_err *err)
{
	tl_err e = { 0 };
	int rc = 0;
	if (!t->title || !*t->title)
		rc = tl_err_set(&e, TL_EINVALID, "title", "must not be empty");
	else
		rc = tl_check_text(tl_s(t->title), "title", 0, TL_TITLE_MAX,
				   false, &e);
	if (!rc && t->notes)
		rc = tl_check_text(tl_s(t->notes), "notes", 0, TL_NOTES_MAX,
				   true, &e);
	/* No more than TL_TAGS_MAX tags is the commands' rule since 0.3.6;
	 * releases before it took any number, and their workspaces, upgraded
	 * in place, keep and list such tasks: so their logs import too. */
	for (size_t i = 0; !rc && i < t->tags_len; i++)
		rc = !*t->tags[i] ? tl_err_set(&e, TL_EINVALID, "tag",
					       "must not be empty")
				  : tl_check_text(tl_s(t->tags[i]), "tag", 0,
						  TL_TAG_MAX, false, &e);
	if (!rc && t->has_due && !tl_time_in_range(t->due_at))
		rc = tl_err_set(&e, TL_EINVALID, "due",
				"is out of range (years 1970 to 9999 UTC)");
	if (!rc && t->assignee && !tl_member_id_valid(tl_s(t->assignee)))
		rc = tl_err_set(&e, TL_EINVALID, "assignee",
				"is not a member id");
	return rc ? state_refused(ev, &e, err) : 0;
}

/* Whether stored value o (a string, or nil for NULL) is s. */
static bool obj_is(const msgpack_object *o, const char *s)
{
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return !s;
	tl_slice v = tl_obj_slice(o);
	return s && v.p && tl_slice_eq(v, s);
}

/* Whether a "previous" value o is what the task held of field key. */
static bool held(const msgpack_object *o, const char *key,
		 const tl_task *b)
{
	if (!strcmp(key, "title"))
		return obj_is(o, b->title);
	if (!strcmp(key, "notes"))
		return obj_is(o, b->notes);
	if (!strcmp(key, "type"))
		return obj_is(o, tl_type_tokens[b->type]);
	if (!strcmp(key, "assignee"))
		return obj_is(o, b->assignee);
	if (!strcmp(key, "status"))
		return obj_is(o, tl_status_tokens[b->status]);
	int64_t ms;
	if (!strcmp(key, "due_at"))
		return o->type == MSGPACK_OBJECT_NIL
			       ? !b->has_due
			       : b->has_due && tl_mp_time_ms(o, &ms) &&
					 ms == b->due_at;
	return false;
}

/* Key k of an update's map as a C string (check_shape saw that it is
 * one of its fields), false when it is none. */
static bool update_key(const msgpack_object *k, char key[8])
{
	tl_slice ks = tl_obj_slice(k);
	if (!ks.p || ks.len >= 8)
		return false;
	memcpy(key, ks.p, ks.len);
	key[ks.len] = 0;
	return true;
}

/* A task event that changes what the task holds, as every command's
 * (none appends an event that changes nothing, since the first
 * release); and a status change that is not a completion, which is
 * task.completed's (since 0.3.23). */
static int check_task_noop(const tl_event *ev, const msgpack_object *d,
			   const tl_task *b, tl_err *e)
{
	static const char noop[] = "is what the task held: a command that "
				   "changes nothing appends nothing";
	const msgpack_object *st = tl_map_get(d, "status");
	if (tl_slice_eq(ev->type, "task.assigned") &&
	    held(tl_map_get(d, "assignee"), "assignee", b))
		return tl_err_set(e, TL_EINVALID, "assignee", noop);
	if (tl_slice_eq(ev->type, "task.status_changed") &&
	    tl_obj_is_str(st, "completed"))
		return tl_err_set(e, TL_EINVALID, "status",
				  "is completed, which task.completed "
				  "sets");
	if (tl_slice_eq(ev->type, "task.completed") &&
	    !tl_obj_is_str(st, "completed"))
		return tl_err_set(e, TL_EINVALID, "status",
				  "is not completed");
	if ((tl_slice_eq(ev->type, "task.status_changed") ||
	     tl_slice_eq(ev->type, "task.completed")) &&
	    held(st, "status", b))
		return tl_err_set(e, TL_EINVALID, "status", noop);
	bool tag = tl_slice_eq(ev->type, "task.tagged");
	if (tag || tl_slice_eq(ev->type, "task.untagged")) {
		tl_slice t = tl_obj_slice(tl_map_get(d, "tag"));
		if (t.p && tl_task_has_tag(b, t) == tag)
			return tl_err_set(e, TL_EINVALID, "tag",
					  tag ? "is one the task held: a "
						"command that changes nothing "
						"appends nothing"
					      : "is not one the task held: a "
						"command that changes nothing "
						"appends nothing");
	}
	const msgpack_object *ch = tl_map_get(d, "changes");
	if (tl_slice_eq(ev->type, "task.updated") && ch &&
	    ch->type == MSGPACK_OBJECT_MAP)
		for (uint32_t j = 0; j < ch->via.map.size; j++) {
			char key[8];
			if (update_key(&ch->via.map.ptr[j].key, key) &&
			    held(&ch->via.map.ptr[j].val, key, b))
				return tl_err_set(e, TL_EINVALID,
						  !strcmp(key, "due_at") ? "due"
									 : key,
						  noop);
		}
	return 0;
}

/* A task event must be one the commands could have made of the task as
 * it was (since 0.3.17): none after its deletion; an assignee that is a
 * member with CRM access, not the system user; each "previous" value
 * (an update's, an assignment's, a status change's) what the task held,
 * which the history shows as where the change came from; and (since
 * 0.3.23) a change, check_task_noop.  An update's fields are among those
 * an update sets: check_shape. */
static int check_task_event(tl_txn *t, const tl_event *ev,
			    const msgpack_object *d, const tl_task *before,
			    tl_err *err)
{
	tl_err e = { 0 };
	char q[64];
	int rc = 0;

	if (before && before->deleted)
		return state_refused(ev, &(tl_err){ .field = "stream",
			.message = "the task was deleted before it: no "
				   "command changes a deleted task" }, err);
	const msgpack_object *prev = tl_map_get(d, "previous");
	const msgpack_object *a = tl_map_get(d, "assignee");
	bool assigns = tl_slice_eq(ev->type, "task.created") ||
		       tl_slice_eq(ev->type, "task.assigned");
	tl_slice as = assigns ? tl_obj_slice(a) : (tl_slice){ 0 };
	if (as.p) {
		tl_member m;
		rc = tl_member_load(t->db, t->cur, as, &m, &t->zone, &e);
		if (rc == TL_ENOTFOUND)
			rc = tl_err_set(&e, TL_EINVALID, "assignee",
					"unknown member '%s'",
					tl_quote(as, q, sizeof q));
		else if (!rc && m.system)
			rc = tl_err_set(&e, TL_EINVALID, "assignee",
					"'%s' is the system user, not a "
					"member", m.id);
		else if (!rc && !m.crm_access)
			rc = tl_err_set(&e, TL_EINVALID, "assignee",
					"member '%s' had no CRM access", m.id);
	}
	if (!rc && before && prev && prev->type != MSGPACK_OBJECT_MAP) {
		const char *key = tl_slice_eq(ev->type, "task.assigned")
					  ? "assignee"
				  : tl_slice_eq(ev->type, "task.status_changed") ||
					  tl_slice_eq(ev->type, "task.completed")
					  ? "status"
					  : NULL;
		if (key && !held(prev, key, before))
			rc = tl_err_set(&e, TL_EINVALID, "previous",
					"is not the task's %s before it", key);
	}
	if (!rc && before)
		rc = check_task_noop(ev, d, before, &e);
	/* an update's previous values (its fields: check_shape) */
	bool update = tl_slice_eq(ev->type, "task.updated");
	for (uint32_t j = 0; !rc && update && before &&
			     j < prev->via.map.size; j++) {
		char key[8];
		if (update_key(&prev->via.map.ptr[j].key, key) &&
		    !held(&prev->via.map.ptr[j].val, key, before))
			rc = tl_err_set(&e, TL_EINVALID, "previous",
					"is not the task's %s before it", key);
	}
	if (rc == TL_EINVALID)
		return state_refused(ev, &e, err);
	if (rc) /* the assignee's record could not be read: e says */
		tl_err_pass(err, &e);
	return rc ? STORE_FAILED : 0;
}

static int import_task(tl_txn *t, const tl_event *ev,
		       const msgpack_object *d, tl_err *err)
{
	uint8_t id[16];
	tl_task task, before;
	bool have_before = false;
	int rc;

	if (!tl_uuid_parse(ev->stream, id))
		return TL_ESTORAGE;
	rc = tl_task_load(t->db, t->cur, id, &task, &t->zone, err);
	/* A task's first event creates it, and only its first. */
	if ((rc == MDB_NOTFOUND) != tl_slice_eq(ev->type, "task.created")) {
		if (rc == 0)
			tl_task_release(&task);
		return rc && rc != MDB_NOTFOUND ? STORE_FAILED : TL_ESTORAGE;
	}
	if (rc == MDB_NOTFOUND)
		memset(&task, 0, sizeof task);
	else if (rc)
		return STORE_FAILED;
	else if (tl_task_copy(&before, &task) == 0)
		have_before = true;
	else {
		tl_task_release(&task);
		return tl_err_oom(err);
	}
	if ((rc = check_task_event(t, ev, d, have_before ? &before : NULL,
				   err)))
		goto out;
	if ((rc = tl_task_fold(&task, ev, &t->zone)) ||
	    task.version != ev->version) {
		rc = TL_ESTORAGE;
		goto out;
	}
	if ((rc = check_task_state(&task, ev, err)))
		goto out;
	tl_counts_note(t, have_before ? &before : NULL, &task);
	if ((rc = stored(tl_views_apply(t, ev, have_before ? &before : NULL,
					&task, err))))
		goto out;
	msgpack_sbuffer_clear(&t->doc);
	if (!tl_task_pack(&t->doc, &task)) {
		rc = tl_err_oom(err);
		goto out;
	}
	MDB_val k = { 16, id }, v = { t->doc.size, t->doc.data };
	if ((rc = mdb_put(t->cur, t->db->tasks, &k, &v, 0)))
		rc = stored(tl_mdb_err(err, rc, "store task"));
out:
	if (have_before)
		tl_task_release(&before);
	tl_task_release(&task);
	return rc;
}

/* ---- the shape of an event's data --------------------------------------
 * Each event type's data holds the keys that every release has written
 * for it, each of them once and no other (an event of schema 1 is
 * checked as upcast to the current shape): a key that no command writes
 * was folded by no one but shown by the history, and a key left out was
 * read as null (a task.created without its assignee made an unassigned
 * task).  Since 0.3.23. */

typedef struct shape {
	const char *type;
	const char *keys[10];
} shape;

static const shape shapes[] = {
	{ "task.created", { "title", "type", "status", "due_at", "assignee",
			    "notes", "link", "pipeline", "stage", "tags" } },
	{ "task.updated", { "changes", "previous" } },
	{ "task.assigned", { "assignee", "previous" } },
	{ "task.status_changed", { "status", "previous" } },
	{ "task.completed", { "status", "previous" } },
	{ "task.tagged", { "tag" } },
	{ "task.untagged", { "tag" } },
	{ "task.deleted", { NULL } },
	{ "member.added", { "id", "name", "role", "crm_access", "kind" } },
	{ "member.updated", { "changes", "previous" } },
	{ "notification.read", { "member", "ids" } },
	{ "workspace.initialized", { "format", "tz", "week_start", "admin" } },
};

/* The index of key k among keys[0..n), or -1. */
static int key_index(const msgpack_object *k, const char *const *keys,
		     size_t n)
{
	tl_slice ks = tl_obj_slice(k);
	for (size_t i = 0; ks.p && i < n; i++)
		if (tl_slice_eq(ks, keys[i]))
			return (int)i;
	return -1;
}

/* Map o (named what) holds keys among keys[0..n), each at most once, and
 * with all, every one of them; *seen gets a bit per key it holds. */
static int map_keys(const msgpack_object *o, const char *what,
		    const char *const *keys, size_t n, bool all,
		    unsigned *seen, tl_err *e)
{
	char q[64], field[32];
	*seen = 0;
	if (!o || o->type != MSGPACK_OBJECT_MAP)
		return tl_err_set(e, TL_EINVALID, what, "is not a map");
	for (uint32_t j = 0; j < o->via.map.size; j++) {
		const msgpack_object *k = &o->via.map.ptr[j].key;
		int i = key_index(k, keys, n);
		if (k->type != MSGPACK_OBJECT_STR)
			return tl_err_set(e, TL_EINVALID, what,
					  "holds a key that is not text");
		if (i < 0 || *seen & 1u << i)
			return tl_err_set(e, TL_EINVALID, what,
					  i < 0 ? "holds '%s', which no command "
						  "writes there"
						: "holds '%s' twice",
					  tl_quote(tl_obj_slice(k), q,
						   sizeof q));
		*seen |= 1u << i;
	}
	for (size_t i = 0; all && i < n; i++) {
		if (*seen & 1u << i)
			continue;
		/* a key of data by its name, one within by both: link.id */
		if (strcmp(what, "data"))
			snprintf(field, sizeof field, "%s.%s", what, keys[i]);
		else
			snprintf(field, sizeof field, "%s", keys[i]);
		return tl_err_set(e, TL_EINVALID, field,
				  "is missing (every release writes it)");
	}
	return 0;
}

/* changes and previous of an update: fields among keys, at least one,
 * the same fields in both. */
static int change_keys(const msgpack_object *d, const char *const *keys,
		       size_t n, tl_err *e)
{
	unsigned ch, prev;
	int rc;
	if ((rc = map_keys(tl_map_get(d, "changes"), "changes", keys, n,
			   false, &ch, e)) ||
	    (rc = map_keys(tl_map_get(d, "previous"), "previous", keys, n,
			   false, &prev, e)))
		return rc;
	if (!ch)
		return tl_err_set(e, TL_EINVALID, "changes",
				  "is empty: a command that changes nothing "
				  "appends nothing");
	if (ch != prev)
		return tl_err_set(e, TL_EINVALID, "previous",
				  "does not hold the fields of changes");
	return 0;
}

/* A task.created of schema 1 as its writer made it: the assignee under
 * "owner", never "assignee" (which the upcast would have made a second
 * one, or taken as the current shape's), since 0.3.26.  Its other keys
 * are checked as upcast. */
static int v1_created_keys(const tl_event *ev, tl_err *e, tl_err *err)
{
	tl_event stored;
	msgpack_zone zone;
	msgpack_object d;
	size_t off = 0;
	int rc = 0;

	/* decoded and unpacked once already, upcast: not seen to fail */
	if (tl_event_decode_stored(ev->raw, ev->raw_len, &stored))
		return tl_err_set(err, TL_EINVALID, "event", "is not an event");
	if (!msgpack_zone_init(&zone, 1024))
		return tl_err_oom(err);
	int u = msgpack_unpack((const char *)stored.data, stored.data_len,
			       &off, &zone, &d);
	if (u == MSGPACK_UNPACK_NOMEM_ERROR)
		rc = tl_err_oom(err);
	else if (u != MSGPACK_UNPACK_SUCCESS || d.type != MSGPACK_OBJECT_MAP)
		rc = tl_err_set(err, TL_EINVALID, "data", "is not a map");
	else if (tl_map_get(&d, "assignee"))
		rc = tl_err_set(e, TL_EINVALID, "assignee",
				"is a key of schema 2: schema 1 named the "
				"assignee 'owner'");
	else if (!tl_map_get(&d, "owner"))
		rc = tl_err_set(e, TL_EINVALID, "owner",
				"is missing (schema 1 wrote it)");
	msgpack_zone_destroy(&zone);
	return rc;
}

/* A task.created's link id as the first release's command checked it
 * (1..128 bytes of text, no control character), but for the spaces early
 * releases took at its ends or alone: else verify calls clean a log whose
 * export says another id ("\xff" as U+FFFD) and does not import again.
 * Not text at all is left to the fold (a corrupt event). */
static int check_link_id(const msgpack_object *id, tl_err *e)
{
	tl_slice s = tl_obj_slice(id);
	if (!s.p)
		return 0;
	if (!s.len)
		return tl_err_set(e, TL_EINVALID, "link.id",
				  "must not be empty");
	return tl_check_text(s, "link.id", 0, TL_LINK_ID_MAX, false, e);
}

static int cmp_slice(const void *a, const void *b)
{
	const tl_slice *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A task.created's tags a set, as every release's command wrote them
 * (since 0.3.45; the fold kept a tag given twice twice).  0, TL_EINVALID
 * into e, or out of memory into err. */
static int tags_once(const msgpack_object *tags, tl_err *e, tl_err *err)
{
	uint32_t n = tags->via.array.size, k = 0;
	if (n < 2)
		return 0;
	tl_slice *v = malloc(n * sizeof *v);
	if (!v)
		return tl_err_oom(err);
	for (uint32_t i = 0; i < n; i++)
		if (tags->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
			v[k++] = tl_obj_slice(&tags->via.array.ptr[i]);
	qsort(v, k, sizeof *v, cmp_slice);
	int rc = 0;
	for (uint32_t i = 1; !rc && i < k; i++)
		if (!cmp_slice(&v[i - 1], &v[i])) {
			char q[64];
			rc = tl_err_set(e, TL_EINVALID, "tags",
					"holds '%s' twice: a task's tags are "
					"a set",
					tl_quote(v[i], q, sizeof q));
		}
	free(v);
	return rc;
}

/* ev's data in the shape every release writes for its type (see shapes),
 * within: task.created's link {type, id}, its tags an array, its
 * pipeline and stage null (no release has had pipelines); an update's
 * changes as change_keys says; a member added of kind user; the
 * workspace's format this one.  TL_EINVALID naming the field, or
 * TL_ESTORAGE with errno ENOMEM. */
static int check_shape(const tl_event *ev, const msgpack_object *d,
		       tl_err *err)
{
	static const char *const task_fields[] = { "title", "type", "due_at",
						   "notes" };
	static const char *const member_fields[] = { "name", "role",
						     "crm_access" };
	static const char *const link_keys[] = { "type", "id" };
	const shape *sh = NULL;
	for (size_t i = 0; i < sizeof shapes / sizeof *shapes && !sh; i++)
		if (tl_slice_eq(ev->type, shapes[i].type))
			sh = &shapes[i];
	if (!sh)
		return 0; /* check_stream refused it */
	size_t n = 0;
	while (n < 10 && sh->keys[n])
		n++;

	tl_err e = { 0 };
	unsigned seen;
	int rc = 0;
	if (ev->schema == 1 && tl_slice_eq(ev->type, "task.created") &&
	    (rc = v1_created_keys(ev, &e, err)) && !e.field[0])
		return rc; /* not the shape's: out of memory */
	if (!rc)
		rc = map_keys(d, "data", sh->keys, n, true, &seen, &e);
	if (!rc && tl_slice_eq(ev->type, "task.created")) {
		const msgpack_object *tags = tl_map_get(d, "tags");
		const msgpack_object *link = tl_map_get(d, "link");
		if (!(rc = map_keys(link, "link", link_keys, 2, true, &seen,
				    &e)))
			rc = check_link_id(tl_map_get(link, "id"), &e);
		if (!rc && tags->type != MSGPACK_OBJECT_ARRAY)
			rc = tl_err_set(&e, TL_EINVALID, "tags",
					"is not an array");
		if (!rc && (rc = tags_once(tags, &e, err)) &&
		    rc != TL_EINVALID)
			return rc; /* out of memory */
		for (int i = 0; !rc && i < 2; i++)
			if (tl_map_get(d, i ? "stage" : "pipeline")->type !=
			    MSGPACK_OBJECT_NIL)
				rc = tl_err_set(&e, TL_EINVALID,
						i ? "stage" : "pipeline",
						"is set, but no pipelines are "
						"defined");
	} else if (!rc && tl_slice_eq(ev->type, "task.updated")) {
		rc = change_keys(d, task_fields, 4, &e);
	} else if (!rc && (tl_slice_eq(ev->type, "task.assigned") ||
			   tl_slice_eq(ev->type, "task.status_changed") ||
			   tl_slice_eq(ev->type, "task.completed"))) {
		/* what the field held: text, or null for no assignee */
		const msgpack_object *p = tl_map_get(d, "previous");
		if (p->type != MSGPACK_OBJECT_STR &&
		    !(p->type == MSGPACK_OBJECT_NIL &&
		      tl_slice_eq(ev->type, "task.assigned")))
			rc = tl_err_set(&e, TL_EINVALID, "previous",
					"is not the value a field held");
	} else if (!rc && tl_slice_eq(ev->type, "member.updated")) {
		rc = change_keys(d, member_fields, 3, &e);
		/* the new values of their types (the fold passes over a
		 * name that is not text: a change of nothing) */
		const msgpack_object *ch = tl_map_get(d, "changes");
		for (uint32_t j = 0; !rc && j < ch->via.map.size; j++) {
			const msgpack_object *k = &ch->via.map.ptr[j].key,
					     *v = &ch->via.map.ptr[j].val;
			bool flag = tl_obj_is_str(k, "crm_access");
			if (flag ? v->type != MSGPACK_OBJECT_BOOLEAN
				 : v->type != MSGPACK_OBJECT_STR)
				rc = tl_err_set(&e, TL_EINVALID,
						flag ? "crm_access"
						: tl_obj_is_str(k, "name")
							? "name"
							: "role",
						flag ? "is not true or false"
						     : "is not text");
		}
	} else if (!rc && tl_slice_eq(ev->type, "member.added")) {
		if (!tl_obj_is_str(tl_map_get(d, "kind"), "user"))
			rc = tl_err_set(&e, TL_EINVALID, "kind",
					"is not 'user' (the system user is no "
					"event's)");
	} else if (!rc && tl_slice_eq(ev->type, "workspace.initialized")) {
		const msgpack_object *f = tl_map_get(d, "format");
		if (f->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    f->via.u64 != TL_FORMAT_VERSION)
			rc = tl_err_set(&e, TL_EINVALID, "format",
					"is not %d, the only format every "
					"release writes",
					TL_FORMAT_VERSION);
	}
	return rc ? state_refused(ev, &e, err) : 0;
}

/* The event types this release folds, and the streams they belong to:
 * task events on a task id, member and notification events on
 * "member:ID", the workspace's on "workspace". */
/* Whether text, which parsed as UUID id, is that id as tasklog writes
 * one: canonical and lowercase. */
static bool uuid_as_written(tl_slice text, const uint8_t id[16])
{
	char canon[37];
	tl_uuid_format(id, canon);
	return text.len == 36 && !memcmp(text.p, canon, 36);
}

/* notification.read's data d as the view reads it: a map with the
 * member the stream names and an array of ids (non-negative integers,
 * which the view marks).  TL_ESTORAGE when not (the event's fault: the
 * caller says so); an empty array, which the command has always
 * refused, named (since 0.3.23). */
static int check_read_data(const tl_event *ev, const msgpack_object *d,
			   tl_err *err)
{
	tl_slice member = tl_obj_slice(tl_map_get(d, "member"));
	const msgpack_object *ids = tl_map_get(d, "ids");
	bool ok = member.p && member.len == ev->stream.len - 7 &&
		  !memcmp(member.p, ev->stream.p + 7, member.len) && ids &&
		  ids->type == MSGPACK_OBJECT_ARRAY;
	for (uint32_t i = 0; ok && i < ids->via.array.size; i++)
		ok = ids->via.array.ptr[i].type ==
		     MSGPACK_OBJECT_POSITIVE_INTEGER;
	if (ok && !ids->via.array.size)
		return state_refused(ev, &(tl_err){ .field = "ids",
			.message = "is empty: a command that changes nothing "
				   "appends nothing" }, err);
	return ok ? 0 : TL_ESTORAGE;
}

/* notification.read's ids as the command reads them (since 0.3.45): at
 * most TL_IDS_MAX, each a notification of the member as the log stood
 * (tl_notification_check; the view marked what it found and passed over
 * the rest).  Not that each was unread, nor named once: releases before
 * 0.3.13 wrote every id given, read already or not, and the first ones
 * (before 7ddaf20, in 0.3.0's making) an id given twice twice. */
static int check_read_state(tl_txn *t, const tl_event *ev,
			    const msgpack_object *d, tl_err *err)
{
	const msgpack_object *ids = tl_map_get(d, "ids");
	tl_slice member = { ev->stream.p + 7, ev->stream.len - 7 };
	if (ids->via.array.size > TL_IDS_MAX)
		return state_refused(ev, &(tl_err){ .field = "ids",
			.message = "holds more than 1000: a command reads at "
				   "most 1000 at once" }, err);
	for (uint32_t i = 0; i < ids->via.array.size; i++) {
		tl_err e = { 0 };
		int rc = tl_notification_check(t, member,
					       ids->via.array.ptr[i].via.u64,
					       &e);
		if (rc == TL_ENOTFOUND)
			return state_refused(ev, &(tl_err){ .field = "ids",
				.message = "names an event that was no "
					   "notification of the member "
					   "then" }, err);
		if (rc) {
			tl_err_pass(err, &e);
			return STORE_FAILED;
		}
	}
	return 0;
}

static int check_stream(const tl_event *ev, tl_err *err)
{
	static const char *const task_types[] = {
		"task.created", "task.updated", "task.assigned",
		"task.status_changed", "task.completed", "task.tagged",
		"task.untagged", "task.deleted"
	};
	char q[64], qs[64];
	uint8_t id[16];
	bool ok = false, task = false;
	for (size_t i = 0; i < sizeof task_types / sizeof *task_types; i++)
		if (tl_slice_eq(ev->type, task_types[i]))
			ok = task = tl_uuid_parse(ev->stream, id);
	if (task && !uuid_as_written(ev->stream, id))
		/* as commands make a task's id: lowercase text (the nil
		 * UUID, which early releases took, is taken) */
		return tl_err_set(err, TL_EINVALID, "stream",
				  "event %llu: stream '%s' is not a task id "
				  "as tasklog writes one (lowercase hex)",
				  (unsigned long long)ev->seq,
				  tl_quote(ev->stream, qs, sizeof qs));
	if (tl_slice_eq(ev->type, "workspace.initialized"))
		ok = tl_slice_eq(ev->stream, "workspace") && ev->version == 1;
	if (tl_slice_eq(ev->type, "member.added") ||
	    tl_slice_eq(ev->type, "member.updated") ||
	    tl_slice_eq(ev->type, "notification.read"))
		ok = ev->stream.len > 7 && !memcmp(ev->stream.p, "member:", 7) &&
		     tl_member_id_valid((tl_slice){ ev->stream.p + 7,
						    ev->stream.len - 7 });
	if (ok && tl_slice_eq(ev->type, "member.added")) {
		/* The stream names the member the data adds. */
		msgpack_zone zone;
		msgpack_object d;
		size_t off = 0;
		if (!msgpack_zone_init(&zone, 1024))
			return tl_err_oom(err);
		int u = msgpack_unpack((const char *)ev->data, ev->data_len,
				       &off, &zone, &d);
		if (u == MSGPACK_UNPACK_NOMEM_ERROR) {
			msgpack_zone_destroy(&zone);
			return tl_err_oom(err);
		}
		ok = u == MSGPACK_UNPACK_SUCCESS;
		if (ok) {
			tl_slice id_s = tl_obj_slice(tl_map_get(&d, "id"));
			ok = id_s.p && id_s.len == ev->stream.len - 7 &&
			     !memcmp(id_s.p, ev->stream.p + 7, id_s.len) &&
			     ev->version == 1;
		}
		msgpack_zone_destroy(&zone);
	}
	if (!ok)
		return tl_err_set(err, TL_EINVALID, "type",
				  "event %llu: type '%s' on stream '%s' is not one this release folds",
				  (unsigned long long)ev->seq,
				  tl_quote(ev->type, q, sizeof q),
				  tl_quote(ev->stream, qs, sizeof qs));
	return 0;
}

/* The actor, as an append makes it: a member id (the system user's too)
 * of kind user or system (the views keep it as text, some as C strings:
 * a NUL in it made them differ from a rebuild), and (since 0.3.17) of
 * kind system exactly when it is the system user, and a
 * member at that point of the log, as every command's actor is, but for
 * init's two events, which make the first admin.  Not whether it had CRM
 * access then: releases before 0.3.17 ran a batch's commands as its
 * actor was at the batch's start, after one of them took that access
 * away, and their logs must import. */
/* Why ev's actor is not one a release wrote, seen without the state: a
 * member id of kind user, or the system user of kind system; or NULL. */
static const char *actor_form(const tl_event *ev)
{
	if (!tl_event_actor_written(ev))
		return "is not a map of \"id\" and \"kind\" alone, in that "
		       "order, as every release writes it";
	if (!tl_member_id_valid(ev->actor_id) ||
	    !(tl_slice_eq(ev->actor_kind, "user") ||
	      tl_slice_eq(ev->actor_kind, "system")))
		return "is not a member id of kind user or system";
	if (tl_slice_eq(ev->actor_kind, "system") !=
	    tl_slice_eq(ev->actor_id, TL_SYSTEM_USER))
		/* every release wrote kind system for the system user
		 * alone (a task it makes is "created by the system") */
		return tl_slice_eq(ev->actor_kind, "system")
			       ? "is of kind system, which only the system "
				 "user is"
			       : "is the system user, of kind system, not user";
	return NULL;
}

static int actor_refused(const tl_event *ev, const char *why, tl_err *err)
{
	char q[64];
	return tl_err_set(err, TL_EINVALID, "actor", "event %llu: actor '%s' %s",
			  (unsigned long long)ev->seq,
			  tl_quote(ev->actor_id, q, sizeof q), why);
}

static int check_actor(tl_txn *t, const tl_event *ev, tl_err *err)
{
	const char *why = actor_form(ev);
	tl_member m;
	tl_err e = { 0 };
	if (!why && ev->seq > 2) { /* init's two events: before members */
		int rc = tl_member_load(t->db, t->cur, ev->actor_id, &m,
					&t->zone, &e);
		if (rc == TL_ENOTFOUND)
			why = "is no member (a command's actor is one)";
		else if (rc) {
			tl_err_pass(err, &e);
			return rc;
		}
	}
	return why ? actor_refused(ev, why, err) : 0;
}

/* The event's id as tasklog writes one: a UUIDv7 (version 7, variant
 * 10) in lowercase text, as every release made them. */
static int check_event_id(const tl_event *ev, tl_err *err)
{
	uint8_t id[16];
	char q[64];
	tl_slice s = { ev->id, 36 };
	if (tl_uuid_parse(s, id) && uuid_as_written(s, id) &&
	    id[6] >> 4 == 7 && (id[8] & 0xc0) == 0x80)
		return 0;
	return tl_err_set(err, TL_EINVALID, "id",
			  "event %llu: id '%s' is not an event id as tasklog "
			  "writes one (a version 7 UUID in lowercase hex)",
			  (unsigned long long)ev->seq, tl_quote(s, q, sizeof q));
}

/* A record that repeats an earlier one's id: where, and whose. */
typedef struct repeat {
	size_t again, first; /* indexes of records; again == n: none */
} repeat;

static void repeat_seen(void *arg, const tl_id_at *first,
			const tl_id_at *again)
{
	repeat *r = arg;
	if (again->at < r->again) {
		r->again = (size_t)again->at;
		r->first = (size_t)first->at;
	}
}

/* The first record (in order) whose id an earlier record holds.  Records
 * that do not begin as events, or whose id is no UUID, are left to
 * import_one, which refuses them. */
static int find_repeat(const uint8_t *const *recs, const size_t *lens,
		       size_t n, repeat *out, tl_err *err)
{
	out->again = out->first = n;
	/* (a count without its arrays crashed before 0.3.51) */
	if (n && (!recs || !lens))
		return tl_err_set(err, TL_EINVALID, "records",
				  "%zu records without their arrays", n);
	if (n < 2)
		return 0;
	tl_id_at *a = malloc(n * sizeof *a);
	if (!a)
		return tl_err_oom(err);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		tl_slice id;
		if (tl_event_head(recs[i], lens[i], &seq, &id) &&
		    tl_uuid_parse(id, a[m].id))
			a[m++].at = i;
	}
	tl_id_dups(a, m, SIZE_MAX, repeat_seen, out);
	free(a);
	return 0;
}

static int repeat_err(const uint8_t *const *recs, const size_t *lens,
		      const repeat *r, tl_err *err)
{
	uint64_t seq = 0, first_seq = 0;
	tl_slice id = { "", 0 }, id1;
	char q[64];
	tl_event_head(recs[r->again], lens[r->again], &seq, &id);
	tl_event_head(recs[r->first], lens[r->first], &first_seq, &id1);
	return tl_err_set(err, TL_EINVALID, "id",
			  "event %llu: id '%s' is event %llu's too (each "
			  "event has an id of its own)",
			  (unsigned long long)seq, tl_quote(id, q, sizeof q),
			  (unsigned long long)first_seq);
}

int tl_import_ids_check(const uint8_t *const *recs, const size_t *lens,
			size_t n, tl_err *err)
{
	repeat r;
	int rc = find_repeat(recs, lens, n, &r, err);
	if (err)
		err->index = -1;
	if (rc || r.again == n)
		return rc;
	rc = repeat_err(recs, lens, &r, err);
	if (err) /* after tl_err_set, which clears it */
		err->index = (int)r.again;
	return rc;
}

/* An event whose data this release cannot fold. */
static int corrupt_data(const tl_event *ev, tl_err *err)
{
	char q[64]; /* the type is foreign text: quoted, not copied */
	return tl_err_set(err, TL_EINVALID, "data",
			  "event %llu (%s) has data this release cannot fold",
			  (unsigned long long)ev->seq,
			  tl_quote(ev->type, q, sizeof q));
}

static int check_time(const tl_event *ev, tl_err *err)
{
	if (tl_time_in_range(ev->at_ms))
		return 0;
	return tl_err_set(err, TL_EINVALID, "at",
			  "event %llu: its time is out of range (years 1970 "
			  "to 9999 UTC)",
			  (unsigned long long)ev->seq);
}

/* ev's record in the form the engine writes (else its JSON export packs
 * again to other bytes, which do not chain), and its data, unpacked into
 * *d (in zone), in the shape of its type. */
static int written_data(const tl_event *ev, msgpack_zone *zone,
			msgpack_object *d, tl_err *err)
{
	size_t at, off = 0;
	const char *form = tl_mp_unwritten(ev->raw, ev->raw_len, &at);
	if (form)
		return tl_err_set(err, TL_EINVALID, "event",
				  "event %llu holds %s (at byte %zu of its "
				  "record), which tasklog never writes: its "
				  "export would not import again",
				  (unsigned long long)ev->seq, form, at);
	int u = msgpack_unpack((const char *)ev->data, ev->data_len, &off,
			       zone, d);
	if (u == MSGPACK_UNPACK_NOMEM_ERROR)
		return tl_err_oom(err);
	if (u != MSGPACK_UNPACK_SUCCESS) /* the decoder saw a map */
		return corrupt_data(ev, err);
	return check_shape(ev, d, err);
}

int tl_event_check_written(const tl_event *ev, msgpack_zone *zone,
			   tl_err *err)
{
	msgpack_object d;
	int rc;
	const char *why = actor_form(ev);
	if ((rc = check_stream(ev, err)) || (rc = check_event_id(ev, err)) ||
	    (rc = check_time(ev, err)))
		return rc;
	if (why)
		return actor_refused(ev, why, err);
	return written_data(ev, zone, &d, err);
}

static int import_one(tl_txn *t, const uint8_t *raw, size_t len,
		      tl_err *err)
{
	tl_event ev;
	uint8_t h[TL_HASH_LEN];
	msgpack_sbuffer scratch;
	int rc;

	msgpack_sbuffer_init(&scratch);
	errno = 0; /* an older event's upcast allocates */
	if (tl_event_decode(raw, len, &ev, &t->zone, &scratch)) {
		rc = errno == ENOMEM
			     ? tl_err_oom(err)
			     : tl_err_set(err, TL_EINVALID, "event",
					  "not an event record (the log's "
					  "next one would be seq %llu)",
					  (unsigned long long)t->next_seq);
		goto out;
	}
	if (ev.seq != t->next_seq) {
		rc = tl_err_set(err, TL_EINVALID, "seq",
				"event has seq %llu, the log expects %llu",
				(unsigned long long)ev.seq,
				(unsigned long long)t->next_seq);
		goto out;
	}
	tl_event_hash(t->prev_hash, raw, len, h);
	if (memcmp(h, ev.hash, TL_HASH_LEN)) {
		rc = tl_err_set(err, TL_EINVALID, "hash",
				"event %llu does not chain to the log (altered or out of order)",
				(unsigned long long)ev.seq);
		goto out;
	}
	if ((rc = check_stream(&ev, err)) || (rc = check_event_id(&ev, err)))
		goto out;
	/* A log begins as init makes it: its settings, then its first
	 * admin.  Anything else would leave a workspace that every command
	 * calls damaged (settings without their admin, or no settings). */
	if (ev.seq == 1 && !tl_slice_eq(ev.type, "workspace.initialized")) {
		rc = tl_err_set(err, TL_EINVALID, "type",
				"event 1 must be workspace.initialized (a log "
				"begins with its workspace's settings)");
		goto out;
	}
	if (ev.seq == 2) {
		MDB_val ak;
		bool ok = tl_slice_eq(ev.type, "member.added") &&
			  tl_meta_get(t->db, t->cur, "admin", &ak) == 0 &&
			  ev.stream.len == 7 + ak.mv_size &&
			  !memcmp(ev.stream.p + 7, ak.mv_data, ak.mv_size);
		if (!ok) {
			rc = tl_err_set(err, TL_EINVALID, "type",
					"event 2 must add the first admin the "
					"settings name (as init does)");
			goto out;
		}
	}
	msgpack_object d; /* the data, read once for the checks and folds */
	if ((rc = check_time(&ev, err)) || (rc = check_actor(t, &ev, err)) ||
	    (rc = written_data(&ev, &t->zone, &d, err)))
		goto out;
	uint8_t kb[8], sk[TL_STREAM_KEY_MAX], sv[12];
	tl_put_be64(kb, ev.seq);
	MDB_val k = { 8, kb }, v = { len, (void *)raw };
	if ((rc = mdb_put(t->cur, t->db->events, &k, &v, MDB_APPEND))) {
		rc = tl_mdb_err(err, rc, "append event");
		goto out;
	}
	MDB_val skv = { tl_stream_key(ev.stream, sk), sk };
	tl_put_be32(sv, ev.version);
	tl_put_be64(sv + 4, ev.seq);
	MDB_val svv = { 12, sv };
	/* The version must be the stream's next one. */
	MDB_cursor *c;
	size_t count = 0;
	MDB_val probe = skv, pv;
	if ((rc = mdb_cursor_open(t->cur, t->db->streams, &c))) {
		rc = tl_mdb_err(err, rc, "cursor");
		goto out;
	}
	rc = mdb_cursor_get(c, &probe, &pv, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_count(c, &count);
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		rc = tl_mdb_err(err, rc, "count stream");
		goto out;
	}
	if (ev.version != count + 1) {
		rc = tl_err_set(err, TL_EINVALID, "version",
				"event %llu has stream version %u, expected %zu",
				(unsigned long long)ev.seq, ev.version,
				count + 1);
		goto out;
	}
	if ((rc = mdb_put(t->cur, t->db->streams, &skv, &svv, 0))) {
		rc = tl_mdb_err(err, rc, "append stream index");
		goto out;
	}
	/* The folds below fail alike for data they cannot fold and for an
	 * allocation that failed: malloc's errno tells them apart. */
	errno = 0;
	if (tl_slice_eq(ev.type, "workspace.initialized"))
		rc = import_workspace(t, &ev, &d, err);
	else if (tl_slice_eq(ev.type, "member.added") ||
		 tl_slice_eq(ev.type, "member.updated"))
		rc = import_member(t, &ev, &d, err);
	else if (ev.type.len > 5 && !memcmp(ev.type.p, "task.", 5))
		rc = import_task(t, &ev, &d, err);
	else if (!(rc = check_read_data(&ev, &d, err)) &&
		 !(rc = check_read_state(t, &ev, &d, err)))
		rc = stored(tl_views_apply(t, &ev, NULL, NULL, err));
	if (rc == STORE_FAILED)
		rc = TL_ESTORAGE; /* the workspace's record: err says which */
	else if (rc == TL_ESTORAGE && errno == ENOMEM)
		rc = tl_err_oom(err); /* not the record's fault: exit 5 */
	else if (rc == TL_ESTORAGE)
		rc = corrupt_data(&ev, err);
	if (!rc) {
		memcpy(t->prev_hash, h, TL_HASH_LEN);
		t->next_seq++;
	}
out:
	msgpack_sbuffer_destroy(&scratch);
	msgpack_zone_clear(&t->zone);
	return rc;
}

/* A log's first commit holds its settings and its first admin: a log
 * that ended at seq 1 would be a workspace every command calls damaged. */
static int whole_start(const tl_txn *t, size_t n, tl_err *err)
{
	if (t->next_seq != 2)
		return 0;
	int rc = tl_err_set(err, TL_EINVALID, "type",
			    "a log's first commit holds event 2 too, its "
			    "first admin (as init writes them)");
	if (err) /* after tl_err_set, which clears it */
		err->index = (int)n - 1;
	return rc;
}

int tl_log_import(tl_db *db, const uint8_t *const *recs, const size_t *lens,
		  size_t n, tl_err *err)
{
	repeat rep;
	int rc = find_repeat(recs, lens, n, &rep, err);
	if (err)
		err->index = -1;
	if (rc)
		return rc;
	for (;;) {
		tl_txn *t;
		size_t before = tl_db_map_size(db);
		rc = tl_txn_begin(db, &t, err);
		if (rc)
			return rc;
		for (size_t i = 0; i < n && !rc; i++) {
			rc = i == rep.again
				     ? repeat_err(recs, lens, &rep, err)
				     : import_one(t, recs[i], lens[i], err);
			if (rc && err)
				err->index = (int)i;
		}
		if (!rc && n)
			rc = whole_start(t, n, err);
		if (rc) {
			tl_txn_abort(t);
			if (rc == TL_EAGAIN &&
			    !(rc = tl_db_grow_from(db, before, err)))
				continue;
			return rc;
		}
		rc = tl_txn_commit(t, err);
		if (!rc && err) /* no note of a full map that was grown */
			*err = (tl_err){ .index = -1 };
		if (rc != TL_EAGAIN)
			return rc;
	}
}

struct import_args {
	const uint8_t *const *recs;
	const size_t *lens;
	size_t n;
};

static int import_nested(tl_txn *t, void *arg, tl_err *err)
{
	struct import_args *a = arg;
	repeat rep;
	int rc = find_repeat(a->recs, a->lens, a->n, &rep, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < a->n; i++) {
		rc = i == rep.again
			     ? repeat_err(a->recs, a->lens, &rep, err)
			     : import_one(t, a->recs[i], a->lens[i], err);
		if (rc) {
			if (err)
				err->index = (int)i;
			return rc;
		}
	}
	return a->n ? whole_start(t, a->n, err) : 0;
}

int tl_txn_import(tl_txn *t, const uint8_t *const *recs, const size_t *lens,
		  size_t n, tl_err *err)
{
	struct import_args a = { recs, lens, n };
	bool commit_failed;
	if (err)
		err->index = -1;
	return tl_txn_nested(t, import_nested, &a, &commit_failed, err);
}
