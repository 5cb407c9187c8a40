/*
 * task.c - the task model: enums and their tokens, text rules, the task
 * document codec and the fold, the one place that says what each task
 * event does to a task.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const tl_type_tokens[TL_TYPE_COUNT] = {
	"call", "email", "message", "meeting", "chat",
	"proposal", "note", "task", "follow_up", "demo"
};
const char *const tl_status_tokens[TL_STATUS_COUNT] = {
	"todo", "in_progress", "on_hold", "completed", "cancelled"
};
const char *const tl_entity_tokens[TL_ENTITY_COUNT] = {
	"contact", "lead", "account", "opportunity"
};

int tl_token_find(const char *const *table, int n, tl_slice s)
{
	if (!s.p)
		return -1;
	for (int i = 0; i < n; i++)
		if (tl_slice_eq(s, table[i]))
			return i;
	return -1;
}

/* Quote a value for a message: printable ASCII kept, the rest as \xNN,
 * long values cut. */
static const char *quote(tl_slice s, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < s.len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			static const char hx[] = "0123456789abcdef";
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hx[c >> 4];
			buf[o++] = hx[c & 15];
		}
		if (o >= 40 && i + 1 < s.len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
	}
	buf[o] = 0;
	return buf;
}

const char *tl_quote(tl_slice s, char *buf, size_t cap)
{
	return quote(s, buf, cap);
}

int tl_check_text(tl_slice s, const char *field, size_t min, size_t max,
		  bool allow_newlines, tl_err *err)
{
	char q[64];
	if (!s.p || s.len < min) {
		if (min <= 1)
			return tl_err_set(err, TL_EINVALID, field,
					  "must not be empty");
		return tl_err_set(err, TL_EINVALID, field,
				  "must be at least %zu bytes", min);
	}
	if (s.len > max)
		return tl_err_set(err, TL_EINVALID, field,
				  "is %zu bytes, at most %zu allowed", s.len,
				  max);
	if (!tl_utf8_valid(s.p, s.len))
		return tl_err_set(err, TL_EINVALID, field,
				  "is not valid UTF-8: '%s'",
				  quote(s, q, sizeof q));
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		bool ctl = c < 0x20 || c == 0x7f;
		/* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
		if (c == 0xc2 && i + 1 < s.len &&
		    (unsigned char)s.p[i + 1] < 0xa0)
			ctl = true;
		if (ctl && allow_newlines && (c == '\n' || c == '\t' ||
					      c == '\r'))
			ctl = false;
		if (ctl)
			return tl_err_set(err, TL_EINVALID, field,
					  "contains a control character: '%s'",
					  quote(s, q, sizeof q));
	}
	return 0;
}

/* ---- task struct ----------------------------------------------------- */

void tl_task_release(tl_task *t)
{
	if (!t)
		return;
	free(t->title);
	free(t->assignee);
	free(t->notes);
	free(t->link_id);
	free(t->created_by);
	free(t->pipeline);
	free(t->stage);
	for (size_t i = 0; i < t->tags_len; i++)
		free(t->tags[i]);
	free(t->tags);
	memset(t, 0, sizeof *t);
}

static char *dup_slice(tl_slice s)
{
	if (!s.p)
		return NULL;
	char *p = malloc(s.len + 1);
	if (p) {
		memcpy(p, s.p, s.len);
		p[s.len] = 0;
	}
	return p;
}

static char *dup_str(const char *s)
{
	return s ? dup_slice(tl_s(s)) : NULL;
}

/* Replace *dst with a copy of s (NULL p clears). */
static int set_str(char **dst, tl_slice s)
{
	char *p = dup_slice(s);
	if (s.p && !p)
		return TL_ESTORAGE;
	free(*dst);
	*dst = p;
	return 0;
}

/* Copy *src; a failed copy is released, never half made. */
static bool copy_str(char **dst, const char *src)
{
	*dst = dup_str(src);
	return !src || *dst;
}

int tl_task_copy(tl_task *dst, const tl_task *src)
{
	bool ok = true;
	*dst = *src;
	dst->tags = NULL;
	dst->tags_len = 0;
	ok &= copy_str(&dst->title, src->title);
	ok &= copy_str(&dst->assignee, src->assignee);
	ok &= copy_str(&dst->notes, src->notes);
	ok &= copy_str(&dst->link_id, src->link_id);
	ok &= copy_str(&dst->created_by, src->created_by);
	ok &= copy_str(&dst->pipeline, src->pipeline);
	ok &= copy_str(&dst->stage, src->stage);
	if (ok && src->tags_len) {
		dst->tags = calloc(src->tags_len, sizeof *dst->tags);
		ok = dst->tags != NULL;
		for (size_t i = 0; ok && i < src->tags_len; i++) {
			ok = copy_str(&dst->tags[i], src->tags[i]);
			dst->tags_len = i + 1;
		}
	}
	if (!ok) {
		tl_task_release(dst);
		return TL_ESTORAGE;
	}
	return 0;
}

bool tl_task_has_tag(const tl_task *t, tl_slice tag)
{
	for (size_t i = 0; i < t->tags_len; i++)
		if (tl_slice_eq(tag, t->tags[i]))
			return true;
	return false;
}

static int tag_add(tl_task *t, tl_slice tag)
{
	if (tl_task_has_tag(t, tag))
		return 0;
	char **n = realloc(t->tags, (t->tags_len + 1) * sizeof *n);
	if (!n)
		return TL_ESTORAGE;
	t->tags = n;
	if (!(n[t->tags_len] = dup_slice(tag)))
		return TL_ESTORAGE;
	t->tags_len++;
	return 0;
}

static void tag_remove(tl_task *t, tl_slice tag)
{
	for (size_t i = 0; i < t->tags_len; i++) {
		if (tl_slice_eq(tag, t->tags[i])) {
			free(t->tags[i]);
			memmove(t->tags + i, t->tags + i + 1,
				(t->tags_len - i - 1) * sizeof *t->tags);
			t->tags_len--;
			return;
		}
	}
}

/* ---- document codec -------------------------------------------------- */

bool tl_task_encode(const tl_task *t, msgpack_sbuffer *sb)
{
	msgpack_sbuffer_clear(sb);
	return tl_task_pack(sb, t);
}

static size_t opt_len(const char *s)
{
	return s ? strlen(s) : 0;
}

static uint8_t *w_opt(uint8_t *p, const char *s, size_t n)
{
	return s ? tl_w_str(p, s, n) : tl_w_nil(p);
}

bool tl_task_pack(msgpack_sbuffer *sb, const tl_task *t)
{
	char id[37];
	size_t title = opt_len(t->title), assignee = opt_len(t->assignee),
	       notes = opt_len(t->notes), link_id = opt_len(t->link_id),
	       by = opt_len(t->created_by), pipeline = opt_len(t->pipeline),
	       stage = opt_len(t->stage), tags = 0;
	for (size_t i = 0; i < t->tags_len; i++)
		tags += TL_W_STR(strlen(t->tags[i]));
	/* Keys and fixed fields take under 400 bytes. */
	size_t bound = 512 + TL_W_STR(title) + TL_W_STR(assignee) +
		       TL_W_STR(notes) + TL_W_STR(link_id) + TL_W_STR(by) +
		       TL_W_STR(pipeline) + TL_W_STR(stage) + tags;
	uint8_t *p = tl_w_begin(sb, bound);
	if (!p)
		return false;
	tl_uuid_format(t->id, id);
	p = tl_w_map(p, 19);
	p = TL_WK(p, "id");
	p = tl_w_str(p, id, 36);
	p = TL_WK(p, "title");
	p = w_opt(p, t->title, title);
	p = TL_WK(p, "type");
	p = tl_w_cstr(p, tl_type_tokens[t->type]);
	p = TL_WK(p, "status");
	p = tl_w_cstr(p, tl_status_tokens[t->status]);
	p = TL_WK(p, "due_at");
	p = tl_w_time_or_nil(p, t->has_due, t->due_at);
	p = TL_WK(p, "assignee");
	p = w_opt(p, t->assignee, assignee);
	p = TL_WK(p, "notes");
	p = w_opt(p, t->notes, notes);
	p = TL_WK(p, "link");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "type");
	p = tl_w_cstr(p, tl_entity_tokens[t->link_type]);
	p = TL_WK(p, "id");
	p = w_opt(p, t->link_id, link_id);
	p = TL_WK(p, "created_at");
	p = tl_w_time(p, t->created_at);
	p = TL_WK(p, "created_by");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "id");
	p = w_opt(p, t->created_by, by);
	p = TL_WK(p, "kind");
	p = t->created_by_system ? TL_WK(p, "system") : TL_WK(p, "user");
	p = TL_WK(p, "updated_at");
	p = tl_w_time(p, t->updated_at);
	p = TL_WK(p, "completed_at");
	p = tl_w_time_or_nil(p, t->has_completed, t->completed_at);
	p = TL_WK(p, "pipeline");
	p = w_opt(p, t->pipeline, pipeline);
	p = TL_WK(p, "stage");
	p = w_opt(p, t->stage, stage);
	p = TL_WK(p, "tags");
	p = tl_w_array(p, (uint32_t)t->tags_len);
	for (size_t i = 0; i < t->tags_len; i++)
		p = tl_w_cstr(p, t->tags[i]);
	p = TL_WK(p, "automation");
	p = tl_w_nil(p);
	p = TL_WK(p, "version");
	p = tl_w_u64(p, t->version);
	p = TL_WK(p, "deleted");
	p = tl_w_bool(p, t->deleted);
	p = TL_WK(p, "created_seq");
	p = tl_w_u64(p, t->created_seq);
	tl_w_end(sb, p);
	return true;
}

/* Field readers of a decoded document: o is the field's value (NULL when
 * the document lacks it, which is an error). */
static int get_str(const msgpack_object *o, char **out, bool nullable)
{
	if (!o)
		return TL_ESTORAGE;
	if (o->type == MSGPACK_OBJECT_NIL && nullable)
		return 0;
	tl_slice s = tl_obj_slice(o);
	if (!s.p)
		return TL_ESTORAGE;
	*out = dup_slice(s);
	return *out ? 0 : TL_ESTORAGE;
}

static int get_time(const msgpack_object *o, bool *has, int64_t *out)
{
	if (!o)
		return TL_ESTORAGE;
	if (o->type == MSGPACK_OBJECT_NIL && has) {
		*has = false;
		return 0;
	}
	if (!tl_obj_time(o, out))
		return TL_ESTORAGE;
	if (has)
		*has = true;
	return 0;
}

static int get_u64(const msgpack_object *o, uint64_t *out)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return TL_ESTORAGE;
	*out = o->via.u64;
	return 0;
}

static int get_enum(const msgpack_object *o, const char *const *table, int n,
		    int *out)
{
	*out = tl_token_find(table, n, tl_obj_slice(o));
	return *out < 0 ? TL_ESTORAGE : 0;
}

int tl_task_unpack(const uint8_t *doc, size_t len, tl_task *t,
		   msgpack_zone *zone)
{
	/* The fields of tl_task_pack, picked in one pass over the map. */
	enum { ID, TITLE, TYPE, STATUS, DUE, ASSIGNEE, NOTES, LINK, CREATED,
	       BY, UPDATED, COMPLETED, PIPELINE, STAGE, TAGS, VERSION, DELETED,
	       SEQ, N_FIELDS };
	static const char *const keys[N_FIELDS] = {
		"id", "title", "type", "status", "due_at", "assignee", "notes",
		"link", "created_at", "created_by", "updated_at",
		"completed_at", "pipeline", "stage", "tags", "version",
		"deleted", "created_seq"
	};
	static const char *const link_keys[2] = { "type", "id" };
	static const char *const by_keys[2] = { "id", "kind" };
	const msgpack_object *f[N_FIELDS], *l[2], *b[2];
	msgpack_object m;
	size_t off = 0;
	memset(t, 0, sizeof *t);
	if (msgpack_unpack((const char *)doc, len, &off, zone, &m) !=
	    MSGPACK_UNPACK_SUCCESS || m.type != MSGPACK_OBJECT_MAP)
		return TL_ESTORAGE;
	tl_map_pick(&m, keys, N_FIELDS, f);
	tl_map_pick(f[LINK], link_keys, 2, l);
	tl_map_pick(f[BY], by_keys, 2, b);
	const msgpack_object *tags = f[TAGS], *del = f[DELETED];
	int rc = 0;
	if (!tl_uuid_parse(tl_obj_slice(f[ID]), t->id))
		rc = TL_ESTORAGE;
	if (!rc) rc = get_str(f[TITLE], &t->title, false);
	if (!rc) rc = get_enum(f[TYPE], tl_type_tokens, TL_TYPE_COUNT,
			       &t->type);
	if (!rc) rc = get_enum(f[STATUS], tl_status_tokens, TL_STATUS_COUNT,
			       &t->status);
	if (!rc) rc = get_time(f[DUE], &t->has_due, &t->due_at);
	if (!rc) rc = get_str(f[ASSIGNEE], &t->assignee, true);
	if (!rc) rc = get_str(f[NOTES], &t->notes, true);
	if (!rc) rc = get_enum(l[0], tl_entity_tokens, TL_ENTITY_COUNT,
			       &t->link_type);
	if (!rc) rc = get_str(l[1], &t->link_id, false);
	if (!rc) rc = get_time(f[CREATED], NULL, &t->created_at);
	if (!rc) rc = get_str(b[0], &t->created_by, false);
	if (!rc) t->created_by_system = tl_obj_is_str(b[1], "system");
	if (!rc) rc = get_time(f[UPDATED], NULL, &t->updated_at);
	if (!rc) rc = get_time(f[COMPLETED], &t->has_completed,
			       &t->completed_at);
	if (!rc) rc = get_str(f[PIPELINE], &t->pipeline, true);
	if (!rc) rc = get_str(f[STAGE], &t->stage, true);
	if (!rc) rc = get_u64(f[VERSION], &t->version);
	if (!rc) rc = get_u64(f[SEQ], &t->created_seq);
	if (!rc && (!tags || tags->type != MSGPACK_OBJECT_ARRAY))
		rc = TL_ESTORAGE;
	for (uint32_t i = 0; !rc && i < tags->via.array.size; i++) {
		tl_slice s = tl_obj_slice(&tags->via.array.ptr[i]);
		rc = s.p ? tag_add(t, s) : TL_ESTORAGE;
	}
	if (!rc && (!del || del->type != MSGPACK_OBJECT_BOOLEAN))
		rc = TL_ESTORAGE;
	if (!rc)
		t->deleted = del->via.boolean;
	if (rc)
		tl_task_release(t);
	return rc;
}

/* ---- the fold -------------------------------------------------------- */

/* Set a nullable string field from a data entry (nil clears). */
static int fold_str(char **dst, const msgpack_object *o, bool nullable)
{
	if (!o)
		return 0;
	if (o->type == MSGPACK_OBJECT_NIL && nullable)
		return set_str(dst, (tl_slice){ NULL, 0 });
	tl_slice s = tl_obj_slice(o);
	return s.p ? set_str(dst, s) : TL_ESTORAGE;
}

static int fold_due(tl_task *t, const msgpack_object *o)
{
	if (!o)
		return 0;
	if (o->type == MSGPACK_OBJECT_NIL) {
		t->has_due = false;
		t->due_at = 0;
		return 0;
	}
	t->has_due = true;
	return tl_obj_time(o, &t->due_at) ? 0 : TL_ESTORAGE;
}

static int fold_enum(int *dst, const msgpack_object *o,
		     const char *const *table, int n)
{
	if (!o)
		return 0;
	int v = tl_token_find(table, n, tl_obj_slice(o));
	if (v < 0)
		return TL_ESTORAGE;
	*dst = v;
	return 0;
}

static void set_status(tl_task *t, int status, int64_t at)
{
	if (status == TL_ST_COMPLETED && t->status != TL_ST_COMPLETED) {
		t->has_completed = true;
		t->completed_at = at;
	} else if (status != TL_ST_COMPLETED) {
		t->has_completed = false;
		t->completed_at = 0;
	}
	t->status = status;
}

static int fold_created(tl_task *t, const tl_event *ev,
			const msgpack_object *d)
{
	static const char *const keys[] = {
		"title", "type", "status", "due_at", "assignee", "notes",
		"link", "pipeline", "stage", "tags"
	};
	static const char *const link_keys[] = { "type", "id" };
	const msgpack_object *f[10], *l[2];
	int rc, status = TL_ST_TODO;
	tl_map_pick(d, keys, 10, f);
	tl_map_pick(f[6], link_keys, 2, l);
	const msgpack_object *tags = f[9];
	if (!tl_uuid_parse(ev->stream, t->id) || !f[6])
		return TL_ESTORAGE;
	t->type = 7; /* "task" */
	if ((rc = fold_str(&t->title, f[0], false)) ||
	    (rc = fold_enum(&t->type, f[1], tl_type_tokens, TL_TYPE_COUNT)) ||
	    (rc = fold_enum(&status, f[2], tl_status_tokens,
			    TL_STATUS_COUNT)) ||
	    (rc = fold_due(t, f[3])) ||
	    (rc = fold_str(&t->assignee, f[4], true)) ||
	    (rc = fold_str(&t->notes, f[5], true)) ||
	    (rc = fold_enum(&t->link_type, l[0], tl_entity_tokens,
			    TL_ENTITY_COUNT)) ||
	    (rc = fold_str(&t->link_id, l[1], false)) ||
	    (rc = fold_str(&t->pipeline, f[7], true)) ||
	    (rc = fold_str(&t->stage, f[8], true)) ||
	    (rc = set_str(&t->created_by, ev->actor_id)))
		return rc;
	if (!t->title || !t->link_id)
		return TL_ESTORAGE;
	if (tags && tags->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < tags->via.array.size; i++) {
			tl_slice s = tl_obj_slice(&tags->via.array.ptr[i]);
			if (!s.p || (rc = tag_add(t, s)))
				return s.p ? rc : TL_ESTORAGE;
		}
	t->created_by_system = tl_slice_eq(ev->actor_kind, "system");
	t->created_at = ev->at_ms;
	t->created_seq = ev->seq;
	t->status = TL_ST_TODO;
	set_status(t, status, ev->at_ms);
	return 0;
}

int tl_task_fold(tl_task *t, const tl_event *ev, msgpack_zone *zone)
{
	msgpack_object d;
	size_t off = 0;
	int rc = 0;
	if (msgpack_unpack((const char *)ev->data, ev->data_len, &off, zone,
			   &d) != MSGPACK_UNPACK_SUCCESS ||
	    d.type != MSGPACK_OBJECT_MAP)
		return TL_ESTORAGE;

	if (tl_slice_eq(ev->type, "task.created")) {
		rc = fold_created(t, ev, &d);
	} else if (tl_slice_eq(ev->type, "task.updated")) {
		const msgpack_object *c = tl_map_get(&d, "changes");
		if (!c)
			return TL_ESTORAGE;
		if ((rc = fold_str(&t->title, tl_map_get(c, "title"), false)) ||
		    (rc = fold_enum(&t->type, tl_map_get(c, "type"),
				    tl_type_tokens, TL_TYPE_COUNT)) ||
		    (rc = fold_due(t, tl_map_get(c, "due_at"))) ||
		    (rc = fold_str(&t->notes, tl_map_get(c, "notes"), true)))
			return rc;
	} else if (tl_slice_eq(ev->type, "task.assigned")) {
		const msgpack_object *a = tl_map_get(&d, "assignee");
		if (!a)
			return TL_ESTORAGE;
		rc = fold_str(&t->assignee, a, true);
	} else if (tl_slice_eq(ev->type, "task.status_changed")) {
		int st = -1;
		rc = fold_enum(&st, tl_map_get(&d, "status"), tl_status_tokens,
			       TL_STATUS_COUNT);
		if (!rc && st < 0)
			rc = TL_ESTORAGE;
		if (!rc)
			set_status(t, st, ev->at_ms);
	} else if (tl_slice_eq(ev->type, "task.completed")) {
		set_status(t, TL_ST_COMPLETED, ev->at_ms);
	} else if (tl_slice_eq(ev->type, "task.tagged")) {
		tl_slice s = tl_obj_slice(tl_map_get(&d, "tag"));
		rc = s.p ? tag_add(t, s) : TL_ESTORAGE;
	} else if (tl_slice_eq(ev->type, "task.untagged")) {
		tl_slice s = tl_obj_slice(tl_map_get(&d, "tag"));
		if (!s.p)
			return TL_ESTORAGE;
		tag_remove(t, s);
	} else if (tl_slice_eq(ev->type, "task.deleted")) {
		t->deleted = true;
	} else {
		return TL_ESTORAGE;
	}
	if (rc)
		return rc;
	t->updated_at = ev->at_ms;
	t->version = ev->version;
	return 0;
}

int tl_task_load(tl_db *db, MDB_txn *txn, const uint8_t id[16], tl_task *t,
		 msgpack_zone *zone, tl_err *err)
{
	MDB_val k = { 16, (void *)id }, v;
	int rc = mdb_get(txn, db->tasks, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MDB_NOTFOUND;
	if (rc)
		return tl_mdb_err(err, rc, "read task");
	if (tl_task_unpack(v.mv_data, v.mv_size, t, zone))
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "corrupt task record");
	return 0;
}

int tl_task_doc(tl_db *db, MDB_txn *txn, const uint8_t id[16], MDB_val *doc)
{
	MDB_val k = { 16, (void *)id };
	return mdb_get(txn, db->tasks, &k, doc);
}

int tl_task_decode(const void *doc, size_t len, tl_task *t)
{
	msgpack_zone zone;
	msgpack_zone_init(&zone, 2048);
	int rc = tl_task_unpack(doc, len, t, &zone);
	msgpack_zone_destroy(&zone);
	return rc;
}
