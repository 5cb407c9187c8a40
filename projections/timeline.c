/*
 * timeline.c - the `timeline` view: every event of every task linked to a
 * record, newest first, with a one-line summary for people, and the
 * record's task index (the record dimension of `task list`); and the
 * tl_timeline query, which puts the record's upcoming tasks in front of
 * its first page.
 *
 * Storage (version 8: 7 with the record's index of active tasks in
 * creation and due order only; 6 with titles cut between code points),
 * two databases.  "entries": two kinds of keys
 * under a record's hash:
 *
 *   history:
 *   key   = tl_key_hash("TYPE:ID" of the task's link)   8 bytes
 *         | ~seq of the event, big-endian              8 bytes
 *   value = msgpack str "TYPE:ID"
 *         [| msgpack bin: the times of the summary, below]
 *         | msgpack map {"at", "actor": {"id", "kind"}, "task", "event",
 *                        "summary"}
 *
 *   A summary that quotes times (a due date) is stored without them, and
 *   the bin in front of the entry says where each goes: the length of
 *   the stored summary (2 bytes, big-endian), then for each time (at most
 *   TIMES_MAX) its byte offset in it (2) and the time in ms (8, signed).
 *   The query writes the times in its reader's zone (version 6; 5 wrote
 *   them into the text in UTC) into the summary, the map's last value,
 *   by splicing bytes: no decoding.  Entries without times are handed
 *   out as they are stored.
 *
 *   the record's task index (list.h: the record dimension R): its
 *   active tasks in creation and update order (class 0x00, sorts c and
 *   u), its completed and cancelled ones in every order (class: the
 *   status index, 3 or 4; sorts d, c and u; version 8, before which R
 *   held active tasks only, in creation order here), before the history
 *   since byte 8 is below 0x10, the history's at least 0xf0:
 *   key   = tl_key_hash("TYPE:ID") | class | sort | sortval | tiebreak
 *   value = task id | due | status | type | link type | 0   (28 bytes)
 *
 * "due": the record's active tasks by due date (R, class 0x00, sort d),
 * covered: the same keys, each value followed by the task's stored
 * document (up to 1 KiB), so that the upcoming part of a timeline and
 * `task list --record X --sort due` read one key range and no document
 * by id.
 *
 * The created range beside the history puts a new task's index entry on
 * the page its history entry goes to.  The covered due range has its
 * own database: its documents beside the history spread a record's
 * history over more pages of a larger tree (a history page at a million
 * tasks read over twice as slow when version 3 tried it).
 *
 * A record's entries are one contiguous key range, newest first, so a page
 * costs one cursor walk of its own length whatever the size of the view.
 * The record text in front of the entry tells hash collisions apart; the
 * entry after it is handed to callers as it is stored, but for the times
 * that the query writes into a summary that quotes some.  A task's link
 * never changes, so each event goes to the record of the task after it.
 * An entry is made only from the event and the task states before and
 * after it: a rebuild writes the same bytes.
 */
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "doc.h"
#include "keys.h"
#include "list.h"
#include "tasklog_msgpack.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

#define ENTRIES TL_TIMELINE_ENTRIES
#define DUE TL_TIMELINE_DUE
#define KEY_LEN 16
/* Below every ~seq of a seq under 2^60, and above every key of the
 * index, whose byte 8 is a class (0, 3, 4) */
#define HISTORY_MIN (UINT64_C(0x10) << 56)
#define RECORD_MAX (12 + 1 + 128) /* "opportunity:" + 128-byte id */
#define LIMIT_MAX 1000
/* An upcoming page's cursor: the key tail of its last task, due |
 * created_seq (the record's hash and range prefix are the query's). */
#define UPCOMING_AFTER (TL_LIST_KEY_LEN - TL_LIST_PREFIX_LEN)
#define HISTORY_CURSOR 't'
#define UPCOMING_CURSOR 'r'
#define SUMMARY_MAX 1024
#define TITLE_SHOWN 100 /* bytes of a title quoted in a summary */
#define TIMES_MAX 2 /* times quoted in a summary: "due from X to Y" */
#define TIME_SHOWN TL_TIME_SHORT_MAX /* "2026-12-01 10:00:30 +05:45" */
/* Room for a time the query writes: both of a change may have their
 * milliseconds ("2026-12-01 10:00:30.250 +05:45"). */
#define TIME_SPLICED TL_TIME_EXACT_MAX
#define TIMES_HDR_MAX (2 + 2 + TIMES_MAX * 10) /* bin header, payload */

/* ---- summaries ----------------------------------------------------------- */

/* A line of text that is cut, at a UTF-8 character boundary, when full. */
typedef struct line {
	char buf[SUMMARY_MAX];
	size_t len;
	size_t ntimes; /* times[] to be written in at their offsets */
	struct {
		size_t at;
		int64_t ms;
	} times[TIMES_MAX];
	bool full;
	bool nomem; /* a summary that needed memory and found none */
} line;

/* Length of the longest prefix of p[0..n) that ends on a character
 * boundary and is at most max bytes. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Length of the longest prefix of p[0..n) that is at most max bytes and
 * ends between two characters as a reader sees them (grapheme clusters:
 * a letter with its accents, an emoji sequence; utf8proc's rules), so
 * that a cut does not drop a letter's accent or split an emoji (since
 * timeline view 7: a walk-through saw "e\u0301..." cut to "e...").  A
 * single cluster longer than max is cut at a character boundary. */
static size_t grapheme_cut(const char *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t i = 0, last = 0;
	utf8proc_int32_t prev = -1, cp, state = 0;
	while (i <= max && i < n) {
		utf8proc_ssize_t k = utf8proc_iterate(
			(const utf8proc_uint8_t *)p + i,
			(utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			break;
		if (prev >= 0 &&
		    utf8proc_grapheme_break_stateful(prev, cp, &state))
			last = i;
		prev = cp;
		i += (size_t)k;
	}
	return last ? last : utf8_cut(p, n, max);
}

/* Full: "..." in the 4 bytes that put keeps. */
static void cut(line *l)
{
	memcpy(l->buf + l->len, "...", 3);
	l->len += 3;
	l->full = true;
}

static void put(line *l, const char *p, size_t n)
{
	if (l->full)
		return;
	/* 4: "..." and NUL; and room for the times to come */
	size_t room = sizeof l->buf - 4 - l->len - l->ntimes * TIME_SHOWN;
	if (n > room) {
		n = grapheme_cut(p, n, room);
		memcpy(l->buf + l->len, p, n);
		l->len += n;
		cut(l);
		return;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static void puts_(line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A title in quotes, its first TITLE_SHOWN bytes. */
static void put_title(line *l, const char *t)
{
	size_t n = strlen(t), m = grapheme_cut(t, n, TITLE_SHOWN);
	puts_(l, "\"");
	put(l, t, m);
	puts_(l, m < n ? "...\"" : "\"");
}

/* A time quoted in a summary: not written here but marked, so that the
 * query writes it in its reader's zone (time_text). */
static void put_time(line *l, bool has, int64_t ms)
{
	if (!has) {
		puts_(l, "none");
		return;
	}
	if (l->full)
		return;
	if (l->ntimes == TIMES_MAX ||
	    sizeof l->buf - 4 - l->len - l->ntimes * TIME_SHOWN < TIME_SHOWN) {
		cut(l); /* no room, or more times than an entry holds */
		return;
	}
	l->times[l->ntimes].at = l->len;
	l->times[l->ntimes++].ms = ms;
}

/* The n times of a summary for people in zone tz (a zone of this host:
 * see history()), as much as is needed: "2026-12-01 10:00 UTC",
 * "2026-12-01 11:00:30 +01:00" (seconds when they have some; not the
 * milliseconds, which a relative due time such as +2d always has: the
 * event holds them), but the two of a change to the millisecond when
 * they differ by less than the text shows ("due from 10:00:30.250 UTC
 * to 10:00:30.500 UTC", not from X to X).  False when memory ran out
 * (reading the zone). */
static bool time_texts(const int64_t *ms, size_t n, const char *tz,
		       char out[][TIME_SPLICED])
{
	if (n == 2)
		return tl_time_format_pair(ms[0], ms[1], tz, true, out[0],
					   out[1]) != TL_ESTORAGE;
	for (size_t i = 0; i < n; i++)
		if (tl_time_format_short(ms[i], tz, true, out[i]) ==
		    TL_ESTORAGE)
			return false;
	return true;
}

/* Words for people: "call", "follow-up"; "To Do", "In Progress". */
static const char *const type_words[10] = {
	"call", "email", "message", "meeting", "chat",
	"proposal", "note", "task", "follow-up", "demo"
};
static const char *const status_words[5] = {
	"To Do", "In Progress", "On Hold", "Completed", "Cancelled"
};

static const char *type_word(int t)
{
	return t >= 0 && t < 10 ? type_words[t] : "task";
}

static const char *status_word(int s)
{
	return s >= 0 && s < 5 ? status_words[s] : "?";
}

static bool status_active(int s)
{
	return s >= 0 && s <= 2; /* todo, in_progress, on_hold */
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void sum_created(line *l, const tl_task *t)
{
	puts_(l, "Created ");
	puts_(l, type_word(t->type));
	puts_(l, " ");
	put_title(l, t->title ? t->title : "");
	if (t->has_due) {
		puts_(l, " due ");
		put_time(l, true, t->due_at);
	}
	if (t->assignee) {
		puts_(l, ", assigned to ");
		puts_(l, t->assignee);
	}
	if (t->status != 0) {
		puts_(l, ", status ");
		puts_(l, status_word(t->status));
	}
	for (size_t i = 0; i < t->tags_len; i++) {
		puts_(l, i ? ", " : ", tagged ");
		puts_(l, t->tags[i]);
	}
}

/* "Changed title from "A" to "B"; due from X to Y; notes". */
static void sum_updated(line *l, const tl_task *b, const tl_task *a)
{
	const char *sep = "Changed ";
	if (!str_same(b->title, a->title)) {
		puts_(l, sep);
		puts_(l, "title from ");
		put_title(l, b->title ? b->title : "");
		puts_(l, " to ");
		put_title(l, a->title ? a->title : "");
		sep = "; ";
	}
	if (b->type != a->type) {
		puts_(l, sep);
		puts_(l, "type from ");
		puts_(l, type_word(b->type));
		puts_(l, " to ");
		puts_(l, type_word(a->type));
		sep = "; ";
	}
	if (b->has_due != a->has_due ||
	    (a->has_due && b->due_at != a->due_at)) {
		puts_(l, sep);
		puts_(l, "due from ");
		put_time(l, b->has_due, b->due_at);
		puts_(l, " to ");
		put_time(l, a->has_due, a->due_at);
		sep = "; ";
	}
	if (!str_same(b->notes, a->notes)) {
		/* Notes may be long and span lines: named, not quoted. */
		puts_(l, sep);
		puts_(l, !b->notes ? "notes (added)"
			 : !a->notes ? "notes (removed)" : "notes");
		sep = "; ";
	}
	if (sep[0] == 'C')
		puts_(l, "Updated");
}

static void sum_assigned(line *l, const tl_task *b, const tl_task *a)
{
	if (a->assignee) {
		puts_(l, "Assigned to ");
		puts_(l, a->assignee);
		if (b->assignee) {
			puts_(l, " (was ");
			puts_(l, b->assignee);
			puts_(l, ")");
		}
	} else {
		puts_(l, "Unassigned");
		if (b->assignee) {
			puts_(l, " (was ");
			puts_(l, b->assignee);
			puts_(l, ")");
		}
	}
}

static void sum_status(line *l, const tl_task *b, const tl_task *a)
{
	if (!status_active(b->status) && status_active(a->status)) {
		puts_(l, "Reopened (");
		puts_(l, status_word(a->status));
		puts_(l, ")");
		return;
	}
	puts_(l, "Status ");
	puts_(l, status_word(b->status));
	puts_(l, " \xe2\x86\x92 "); /* U+2192 RIGHTWARDS ARROW */
	puts_(l, status_word(a->status));
}

/* The tag of a task.tagged/untagged event, from its data. */
static void sum_tag(line *l, const char *verb, const tl_event *ev)
{
	msgpack_zone zone;
	msgpack_object d;
	size_t off = 0;
	if (!msgpack_zone_init(&zone, 256)) {
		l->nomem = true;
		return;
	}
	puts_(l, verb);
	int u = msgpack_unpack((const char *)ev->data, ev->data_len, &off,
			       &zone, &d);
	if (u == MSGPACK_UNPACK_SUCCESS) {
		tl_slice tag = tl_doc_slice(tl_doc_get(&d, "tag"));
		if (tag.p) {
			puts_(l, " ");
			put(l, tag.p, tag.len);
		}
	} else if (u == MSGPACK_UNPACK_NOMEM_ERROR) {
		l->nomem = true;
	}
	msgpack_zone_destroy(&zone);
}

static bool type_is(const tl_event *ev, const char *s)
{
	size_t n = strlen(s);
	return ev->type.len == n && !memcmp(ev->type.p, s, n);
}

/* The one-line summary of a task event. */
static void summarize(line *l, const tl_event *ev, const tl_task *before,
		      const tl_task *after)
{
	if (type_is(ev, "task.created"))
		sum_created(l, after);
	else if (type_is(ev, "task.completed"))
		puts_(l, "Completed");
	else if (type_is(ev, "task.deleted"))
		puts_(l, "Deleted");
	else if (type_is(ev, "task.tagged"))
		sum_tag(l, "Tagged", ev);
	else if (type_is(ev, "task.untagged"))
		sum_tag(l, "Untagged", ev);
	else if (!before) /* every other event has a task before it */
		put(l, ev->type.p, ev->type.len);
	else if (type_is(ev, "task.updated"))
		sum_updated(l, before, after);
	else if (type_is(ev, "task.assigned"))
		sum_assigned(l, before, after);
	else if (type_is(ev, "task.status_changed"))
		sum_status(l, before, after);
	else
		put(l, ev->type.p, ev->type.len);
	l->buf[l->len] = 0;
}

/* ---- the view ------------------------------------------------------------ */

/* "TYPE:ID" of a task's link into buf; returns its length. */
static size_t record_text(const tl_task *t, char buf[RECORD_MAX + 1])
{
	const char *type = t->link_type >= 0 && t->link_type < 4
				   ? tl_entity_tokens[t->link_type] : "?";
	const char *id = t->link_id ? t->link_id : "";
	size_t n = 0;
	/* as snprintf "%s:%s" into RECORD_MAX + 1 bytes would, per event */
	for (const char *p = type; *p && n < RECORD_MAX; p++)
		buf[n++] = *p;
	if (n < RECORD_MAX)
		buf[n++] = ':';
	for (const char *p = id; *p && n < RECORD_MAX; p++)
		buf[n++] = *p;
	buf[n] = 0;
	return n;
}

/* Every entry of "due" carries its task's document. */
static bool all_covered(const uint8_t *key)
{
	(void)key;
	return true;
}

/* Bring the record's task index from task before to after: each sort's
 * range in its database (a task done or reopened leaves one database's
 * range for the other's under the due sort). */
static int record_update(const tl_view_ctx *vc, const tl_task *before,
			 const tl_task *after, tl_err *err)
{
	for (const char *s = TL_LIST_RECORD_SORTS; *s; s++) {
		uint8_t old[1][TL_LIST_KEY_LEN], cur[1][TL_LIST_KEY_LEN];
		size_t odb = 0, cdb = 0;
		size_t no = tl_list_record_key(before, *s, old[0], &odb);
		size_t nc = tl_list_record_key(after, *s, cur[0], &cdb);
		int rc = 0;
		if (no && nc && odb != cdb) {
			rc = tl_list_update(vc, odb, before, old, no, after,
					    cur, 0, NULL, err);
			no = 0;
		}
		size_t db = nc ? cdb : odb;
		if (!rc && (no || nc))
			rc = tl_list_update(vc, db, before, old, no, after, cur,
					    nc, db == TL_TIMELINE_DUE
							? all_covered
							: NULL,
					    err);
		if (rc)
			return rc;
	}
	return 0;
}

static int timeline_apply(const tl_view_ctx *vc, const tl_event *ev,
			  const tl_task *before, const tl_task *after,
			  tl_err *err)
{
	char record[RECORD_MAX + 1], id[37];
	uint8_t key[KEY_LEN];
	line l;
	int rc;

	if (!after || ev->type.len < 5 || memcmp(ev->type.p, "task.", 5))
		return 0; /* not a task event */
	/* The record's task index; a rebuild loads it from final states. */
	if (!(vc->rebuilding && vc->sink) && (rc = record_update(vc, before,
								 after, err)))
		return rc;
	size_t rlen = record_text(after, record);
	tl_key_hash((tl_slice){ record, rlen }, key);
	tl_key_u64(key + 8, ~ev->seq);

	l.len = 0;
	l.ntimes = 0;
	l.full = false;
	l.nomem = false;
	summarize(&l, ev, before, after);
	if (l.nomem)
		return tl_err_oom(err);
	tl_uuid_format(after->id, id);

	/* The entry, written directly (tasklog_msgpack.h): on the stack
	 * unless an actor id or event type is unusually long. */
	size_t bound = 96 + TL_W_STR(rlen) + TL_W_STR(ev->actor_id.len) +
		       TL_W_STR(ev->actor_kind.len) + TL_W_STR(36) +
		       TL_W_STR(ev->type.len) + TL_W_STR(l.len) +
		       TIMES_HDR_MAX;
	uint8_t small[1536], *buf = small;
	if (bound > sizeof small && !(buf = malloc(bound)))
		return tl_err_oom(err);
	uint8_t *p = tl_w_str(buf, record, rlen);
	if (l.ntimes) {
		uint8_t times[TIMES_HDR_MAX], *q = times;
		q = tl_w_be(q, l.len, 2);
		for (size_t i = 0; i < l.ntimes; i++) {
			q = tl_w_be(q, l.times[i].at, 2);
			q = tl_w_be(q, (uint64_t)l.times[i].ms, 8);
		}
		p = tl_w_bin(p, times, (size_t)(q - times));
	}
	p = tl_w_map(p, 5);
	p = TL_WK(p, "at");
	p = tl_w_time(p, ev->at_ms);
	p = TL_WK(p, "actor");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "id");
	p = tl_w_str(p, ev->actor_id.p, ev->actor_id.len);
	p = TL_WK(p, "kind");
	p = tl_w_str(p, ev->actor_kind.p, ev->actor_kind.len);
	p = TL_WK(p, "task");
	p = tl_w_str(p, id, 36);
	p = TL_WK(p, "event");
	p = tl_w_str(p, ev->type.p, ev->type.len);
	p = TL_WK(p, "summary");
	p = tl_w_str(p, l.buf, l.len); /* last: the query splices it */
	rc = tl_view_put(vc, ENTRIES, key, KEY_LEN, buf, (size_t)(p - buf),
			 err);
	if (buf != small)
		free(buf);
	return rc;
}

/* A rebuild's load: the record's task index entries of t's final state. */
static int timeline_load(const tl_view_ctx *vc, const tl_task *t, tl_err *err)
{
	for (const char *s = TL_LIST_RECORD_SORTS; *s; s++) {
		uint8_t key[1][TL_LIST_KEY_LEN];
		size_t db = 0;
		size_t n = tl_list_record_key(t, *s, key[0], &db);
		int rc = tl_list_load(vc, db, t, key, n,
				      db == TL_TIMELINE_DUE ? all_covered
							    : NULL,
				      err);
		if (rc)
			return rc;
	}
	return 0;
}

static const char *const timeline_dbs[] = { "entries", "due" };
static const unsigned timeline_flags[] = { 0, 0 };

const tl_view tl_view_timeline = {
	.name = "timeline",
	.version = 8,
	.dbs = timeline_dbs,
	.db_flags = timeline_flags,
	.dbs_len = 2,
	.apply = timeline_apply,
	.load = timeline_load,
	.flags = TL_VIEW_BLIND | TL_VIEW_LOAD_AND_APPLY,
};

/* ---- the query ----------------------------------------------------------- */

/* Check "TYPE:ID" as a link is checked: a known entity type, an id of
 * 1..128 bytes of UTF-8. */
static int record_check(tl_slice r, tl_err *err)
{
	int type;
	tl_slice id;
	return tl_record_parse(r, "record", &type, &id, err);
}

/* The record's active tasks with a due date, soonest first, from its
 * covered due range ("due"): hash(record) | 0x00 | 'd' | due |
 * created_seq -> task id | ... | document.  Tasks without a due date sort
 * last (UINT64_MAX): stop there.  At most limit of them (SIZE_MAX: every
 * one, tl_timeline's), after the key tail `after` (due | created_seq) when
 * after is non-NULL; next_cursor receives the cursor after the last one
 * when another follows, else "".  A page reads its own entries and one
 * more, whatever the record holds besides (before 0.3.50 the command line
 * gave every one: a record of 500,000 open tasks took 15 s and 2 GB for
 * a page of --limit 1). */
static int upcoming(tl_reader *rd, tl_slice record, size_t limit,
		    const uint8_t *after, tl_doc_fn fn, void *arg,
		    char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	const MDB_dbi *dbi = tl_view_dbis(rd->db, "timeline");
	uint8_t prefix[TL_LIST_PREFIX_LEN], h[8];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, stop = 0;

	if (!dbi)
		return tl_view_unavailable(rd->db, "timeline", err);
	tl_key_hash(record, h);
	tl_list_record_prefix(prefix, tl_key_get_u64(h), 0, TL_SORT_DUE);
	uint8_t key[TL_LIST_KEY_LEN], last[UPCOMING_AFTER];
	size_t n = 0;
	memcpy(key, prefix, sizeof prefix);
	if (after)
		memcpy(key + sizeof prefix, after, UPCOMING_AFTER);
	if ((rc = mdb_cursor_open(rd->txn, dbi[DUE], &c)))
		return tl_doc_mdb_err(err, rc, "upcoming");
	k.mv_size = after ? sizeof key : sizeof prefix;
	k.mv_data = key;
	/* The record text is TYPE:ID; compare a task's link with it. */
	const char *colon = memchr(record.p, ':', record.len);
	tl_slice rtype = { record.p, colon ? (size_t)(colon - record.p) : 0 };
	tl_slice rid = { colon ? colon + 1 : "",
			 colon ? record.len - rtype.len - 1 : 0 };
	/* The record's link as tl_task_pack writes it: a document whose link
	 * is these bytes links the record, and one compare says so (decoding
	 * the link of each document was two fifths of this walk at a million
	 * tasks).  Other bytes are decoded: another record, or another
	 * encoding of the same one. */
	uint8_t want[1 + 5 + TL_W_STR(12) + 3 + TL_W_STR(128)];
	uint8_t *w = tl_w_map(want, 2);
	w = TL_WK(w, "type");
	w = tl_w_str(w, rtype.p, rtype.len);
	w = TL_WK(w, "id");
	w = tl_w_str(w, rid.p, rid.len);
	size_t want_len = (size_t)(w - want);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		MDB_val doc;
		tl_list_facets f;
		if (k.mv_size != TL_LIST_KEY_LEN ||
		    memcmp(k.mv_data, prefix, sizeof prefix))
			break;
		tl_doc_prefetch_next(&k);
		if (tl_key_get_u64((uint8_t *)k.mv_data + 10) == UINT64_MAX)
			break; /* no due date from here on */
		if (after && !memcmp((uint8_t *)k.mv_data + sizeof prefix,
				     after, UPCOMING_AFTER))
			continue; /* the cursor's own task */
		if (v.mv_size < TL_LIST_VAL_LEN) {
			rc = MDB_CORRUPTED;
			break;
		}
		tl_list_facets_of(v.mv_data, &f);
		if (!status_active(f.status))
			continue; /* the index keeps active tasks only */
		if (f.link_type < 0 || f.link_type >= 4 ||
		    !tl_doc_slice_eq(tl_s(tl_entity_tokens[f.link_type]),
				     rtype))
			continue; /* another record with the same hash */
		if (v.mv_size > TL_LIST_VAL_LEN) {
			doc.mv_size = v.mv_size - TL_LIST_VAL_LEN;
			doc.mv_data = (uint8_t *)v.mv_data + TL_LIST_VAL_LEN;
		} else {
			int r = tl_task_doc(rd->db, rd->txn, f.id, &doc);
			if (r == MDB_NOTFOUND)
				continue;
			if (r) {
				rc = r;
				break;
			}
		}
		int type;
		tl_slice id;
		tl_rd lv;
		errno = 0;
		if (!tl_doc_find(&doc, "link", &lv) ||
		    (size_t)(lv.end - lv.p) != want_len ||
		    memcmp(lv.p, want, want_len)) {
			if (!tl_doc_link(&doc, &type, &id)) {
				rc = tl_err_undecodable(err,
							"corrupt task record");
				break;
			}
			if (type != f.link_type || !tl_doc_slice_eq(id, rid))
				continue; /* another record, same hash */
		}
		if (n == limit) {
			/* There is more: the next page starts after `last`. */
			tl_cursor_encode(UPCOMING_CURSOR, last, sizeof last,
					 next_cursor, TL_CURSOR_MAX);
			break;
		}
		stop = fn(arg, doc.mv_data, doc.mv_size);
		memcpy(last, (uint8_t *)k.mv_data + sizeof prefix, sizeof last);
		n++;
	}
	mdb_cursor_close(c);
	if (rc == 0 || rc == MDB_NOTFOUND)
		return stop;
	return tl_is_mdb_rc(rc) ? tl_doc_mdb_err(err, rc, "upcoming") : rc;
}

/* Split a stored entry into its record text and its entry document. */
static bool entry_split(const MDB_val *v, tl_slice *record,
			const uint8_t **doc, size_t *len)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size, hdr, slen;
	if (n < 1)
		return false;
	if ((p[0] & 0xe0) == 0xa0) { /* fixstr */
		hdr = 1;
		slen = p[0] & 0x1f;
	} else if (p[0] == 0xd9 && n >= 2) { /* str 8 */
		hdr = 2;
		slen = p[1];
	} else if (p[0] == 0xda && n >= 3) { /* str 16 */
		hdr = 3;
		slen = (size_t)p[1] << 8 | p[2];
	} else {
		return false;
	}
	if (hdr + slen >= n)
		return false;
	record->p = (const char *)p + hdr;
	record->len = slen;
	*doc = p + hdr + slen;
	*len = n - hdr - slen;
	return true;
}

/* Room for an entry and its summary's times (the map after the record
 * text is at most about 1.2 KiB: a summary of 1 KiB, ids of 64 and 36
 * bytes, an event type). */
#define ENTRY_MAP_MAX 2045 /* an entry's map, without its times */
#define ENTRY_OUT (ENTRY_MAP_MAX + 3 + TIMES_MAX * TIME_SPLICED)

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The entry at doc[0..*len), stored with the times of its summary in
 * front of it (a msgpack bin; see the top of this file), with those
 * times written into the summary in zone tz: into out, *doc and *len
 * pointed at it.  The summary is the map's last value, so this copies
 * the map up to it, then writes its text with the times spliced in. */
static int entry_finish(const uint8_t **doc, size_t *len, const char *tz,
			uint8_t out[ENTRY_OUT], tl_err *err)
{
	const uint8_t *d = *doc, *h;
	size_t n = *len, hl;
	if (n < 2 || d[0] != 0xc4 || (hl = d[1]) < 2 || (hl - 2) % 10 ||
	    (hl - 2) / 10 > TIMES_MAX || 2 + hl > n)
		goto corrupt;
	h = d + 2;
	const uint8_t *map = d + 2 + hl;
	size_t mlen = n - 2 - hl, slen = (size_t)get_be(h, 2);
	size_t shdr = slen < 32 ? 1 : slen < 256 ? 2 : 3;
	if (shdr + slen > mlen || mlen > ENTRY_MAP_MAX)
		goto corrupt;
	const uint8_t *str = map + mlen - slen - shdr; /* its header */
	if (shdr == 1 ? str[0] != (0xa0 | slen)
	    : shdr == 2 ? str[0] != 0xd9 || str[1] != slen
			: str[0] != 0xda || get_be(str + 1, 2) != slen)
		goto corrupt;
	const uint8_t *text = str + shdr;

	/* The summary with its times, after room for its header. */
	char *sum = (char *)out + (str - map) + 3;
	size_t at = 0, from = 0, nt = (hl - 2) / 10;
	int64_t ms[TIMES_MAX];
	char tx[TIMES_MAX][TIME_SPLICED];
	for (size_t i = 0; i < nt; i++)
		ms[i] = (int64_t)get_be(h + 4 + 10 * i, 8);
	if (!time_texts(ms, nt, tz, tx))
		return tl_err_oom(err);
	for (size_t i = 0; i < nt; i++) {
		size_t off = (size_t)get_be(h + 2 + 10 * i, 2);
		if (off < from || off > slen)
			goto corrupt;
		memcpy(sum + at, text + from, off - from);
		at += off - from;
		from = off;
		size_t w = strlen(tx[i]);
		memcpy(sum + at, tx[i], w);
		at += w;
	}
	memcpy(sum + at, text + from, slen - from);
	at += slen - from;

	/* The map before the summary, then the summary's header. */
	size_t head = (size_t)(str - map), nh = at < 32 ? 1 : at < 256 ? 2 : 3;
	uint8_t *o = (uint8_t *)sum - nh;
	memcpy(o - head, map, head);
	tl_w_be(o, nh == 1 ? 0xa0 | at : nh == 2 ? 0xd900 | at : 0xda0000 | at,
		(int)nh);
	*doc = o - head;
	*len = head + nh + at;
	return 0;
corrupt:
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "corrupt timeline entry");
}

/* The zone of a page's times: the reader's, or UTC when this host lacks
 * it (as the command line's output for people does), looked up once for
 * the page rather than failing to open its file at every time. */
static int page_zone(const tl_reader *rd, const char **tz, tl_err *err)
{
	char probe[48];
	int rc = tl_time_format_zone(0, rd->tz, probe);
	if (rc == TL_ESTORAGE)
		return tl_err_oom(err);
	*tz = rc ? "UTC" : rd->tz;
	return 0;
}

/* History entries of the record after the cursor, newest first. */
static int history(tl_reader *rd, tl_slice record, size_t limit,
		   bool has_cursor, uint64_t after_inv, tl_doc_fn fn,
		   void *arg, char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	const MDB_dbi *dbi = tl_view_dbis(rd->db, "timeline");
	uint8_t key[KEY_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	uint64_t last = 0;
	int rc, stop = 0;
	uint8_t out[ENTRY_OUT]; /* an entry whose summary quotes times */
	const char *tz = NULL;  /* their zone, looked up at the first */

	if (!dbi)
		return tl_view_unavailable(rd->db, "timeline", err);
	tl_key_hash(record, key);
	tl_key_u64(key + 8, has_cursor ? after_inv : HISTORY_MIN);
	if ((rc = mdb_cursor_open(rd->txn, dbi[ENTRIES], &c)))
		return tl_doc_mdb_err(err, rc, "timeline");
	k.mv_size = KEY_LEN;
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tl_slice rec;
		const uint8_t *doc;
		size_t len;
		if (k.mv_size != KEY_LEN || memcmp(k.mv_data, key, 8))
			break;
		tl_doc_prefetch_next(&k);
		uint64_t inv = tl_key_get_u64((uint8_t *)k.mv_data + 8);
		if (has_cursor && inv <= after_inv)
			continue;
		if (!entry_split(&v, &rec, &doc, &len)) {
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"corrupt timeline entry");
			break;
		}
		if (!tl_doc_slice_eq(rec, record))
			continue; /* another record with the same hash */
		if (n == limit) {
			/* There is more: the next page starts after `last`. */
			uint8_t cb[8];
			tl_key_u64(cb, last);
			tl_cursor_encode(HISTORY_CURSOR, cb, 8, next_cursor,
					 TL_CURSOR_MAX);
			break;
		}
		if (doc[0] == 0xc4) { /* bin: the times of its summary */
			if (!tz && (rc = page_zone(rd, &tz, err)))
				break;
			if ((rc = entry_finish(&doc, &len, tz, out, err)))
				break;
		}
		stop = fn(arg, doc, len);
		last = inv;
		n++;
	}
	mdb_cursor_close(c);
	if (rc == 0 || rc == MDB_NOTFOUND)
		return stop;
	return tl_is_mdb_rc(rc) ? tl_doc_mdb_err(err, rc, "timeline") : rc;
}

/* A page of the timeline; up_limit: the upcoming tasks' (0: limit's,
 * SIZE_MAX: every one), up_cursor: their cursor (NULL: not asked for), cursor: the
 * history's (NULL: not asked for; an empty one: the first page). */
static int timeline_page(tl_db *db, const tl_ctx *ctx, tl_slice record,
			 size_t limit, size_t up_limit, const tl_slice *cursor,
			 const tl_slice *up_cursor, tl_doc_fn upcoming_fn,
			 tl_doc_fn item_fn, void *arg,
			 char next_cursor[TL_CURSOR_MAX],
			 char up_next[TL_CURSOR_MAX], tl_err *err)
{
	tl_cursor_copy cc, uc;
	tl_slice hc = cursor ? tl_doc_cursor_copy(*cursor, &cc) : tl_s(NULL);
	tl_slice ucs = up_cursor ? tl_doc_cursor_copy(*up_cursor, &uc)
				 : tl_s(NULL);
	bool has_cursor = hc.p && hc.len, has_up = ucs.p && ucs.len;
	uint8_t cb[8] = { 0 }, ub[UPCOMING_AFTER];
	tl_reader rd;
	int rc;

	next_cursor[0] = 0;
	if (up_next)
		up_next[0] = 0;
	if ((rc = record_check(record, err)))
		return rc;
	if (limit == 0)
		limit = 50;
	if (limit > LIMIT_MAX)
		return tl_err_set(err, TL_EINVALID, "limit",
				  "%zu is more than %d", limit, LIMIT_MAX);
	if (!up_limit)
		up_limit = limit;
	if (has_cursor && !tl_cursor_decode(hc, HISTORY_CURSOR, cb, sizeof cb))
		return tl_err_set(err, TL_EINVALID, "cursor",
				  "not a cursor of this timeline");
	if (has_up &&
	    !tl_cursor_decode(ucs, UPCOMING_CURSOR, ub, sizeof ub))
		return tl_err_set(err, TL_EINVALID, "upcoming_cursor",
				  "not a cursor of a timeline's upcoming "
				  "tasks");
	if ((rc = tl_reader_begin(db, ctx, &rd, err)))
		return rc;
	char spare[TL_CURSOR_MAX];
	if (up_cursor && upcoming_fn)
		rc = upcoming(&rd, record, up_limit, has_up ? ub : NULL,
			      upcoming_fn, arg, up_next ? up_next : spare,
			      err);
	if (!rc && cursor && item_fn)
		rc = history(&rd, record, limit, has_cursor,
			     tl_key_get_u64(cb), item_fn, arg, next_cursor,
			     err);
	tl_reader_end(&rd);
	return rc;
}

int tl_timeline(tl_db *db, const tl_ctx *ctx, tl_slice record,
		size_t limit, tl_slice cursor, tl_doc_fn upcoming_fn,
		tl_doc_fn item_fn, void *arg,
		char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	bool first = !(cursor.p && cursor.len);
	return timeline_page(db, ctx, record, limit, SIZE_MAX, &cursor,
			     first ? &cursor : NULL, upcoming_fn, item_fn,
			     arg, next_cursor, NULL, err);
}

int tl_timeline_page(tl_db *db, const tl_ctx *ctx,
		     const tl_timeline_query *q, tl_doc_fn upcoming_fn,
		     tl_doc_fn item_fn, void *arg,
		     char next_cursor[TL_CURSOR_MAX],
		     char upcoming_next[TL_CURSOR_MAX], tl_err *err)
{
	bool hc = q->cursor.p && q->cursor.len;
	bool uc = q->upcoming_cursor.p && q->upcoming_cursor.len;
	bool first = !hc && !uc;
	return timeline_page(db, ctx, q->record, q->limit, 0,
			     first || hc ? &q->cursor : NULL,
			     first || uc ? &q->upcoming_cursor : NULL,
			     upcoming_fn, item_fn, arg, next_cursor,
			     upcoming_next, err);
}
