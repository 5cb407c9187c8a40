/*
 * list.c - the `tasks` view: the indexes behind `task list` and
 * `upcoming` (queries in query.c).
 *
 * Format.  One database "idx" (no DUPSORT) of fixed 26-byte keys
 *
 *   dim (1) | dimval (8) | sort (1) | sortval (8, BE) | tiebreak (8, BE)
 *
 * whose value (28 bytes) is the task id and what the filters check: due,
 * status, type and link type (list.h).  Dimensions:
 *
 *   'S'  status                      dimval status index; every task that
 *                                    is not deleted, of any status
 *   'M'  assignee                    dimval tl_list_hash(member id);
 *                                    unassigned: tl_list_hash("")
 *   'D'  assignee of a done task     dimval tl_list_tag(M's dimval,
 *                                    status): completed and cancelled
 *                                    tasks (version 9)
 *   'K'  kind: status, task type     dimval (status * 10 + type index) *
 *        and entity type             4 + entity type index (200 values);
 *                                    every task that is not deleted
 *   'G'  tag and status              dimval tl_list_tag(hash of the tag,
 *                                    status), one per tag of the task;
 *                                    every task not deleted (version 8)
 *
 * and the record dimension R (tl_list_hash("type:id"), sorts d, c and u),
 * which the `timeline` view keeps in its own databases (list.h).
 * M holds active tasks only (todo, in_progress, on_hold): what the lists
 * show without a status filter; D holds the others, a range per member
 * and done status, so that `--assignee X --status completed` reads X's
 * completed tasks and not every completed task (version 8 had no D, and
 * such a page walked S's completed range, reading a document per entry).
 * A task is in M or in D, never both: 3 keys either way.  K holds
 * every task under its status, so that a type filter finds the tasks of
 * a kind in the statuses asked for without walking those of the others:
 * done tasks are the most numerous in a long-lived workspace, and a rare
 * status (on hold) must not cost a walk of the common ones.
 * Sorts, each (sortval, tiebreak) ascending in listing order:
 *
 *   'd'  due       tl_key_time(due_at), no due date = UINT64_MAX;
 *                  tiebreak created_seq (creation order)
 *   'c'  created   ~tl_key_time(created_at), tiebreak ~created_seq
 *   'u'  updated   ~tl_key_time(updated_at), tiebreak ~created_seq
 *
 * Invariant: a task that is not deleted has exactly the entries of
 * task_keys() for its current state, and no other key names it.  Every
 * key is unique because created_seq is (G's keys of two tags whose
 * dimvals are equal are one key, made once).  Newest-first sorts use
 * complemented values so that new tasks go to the front of their ranges:
 * appends cluster on few pages (see LIMITS.md of the shared spec).  The due sorts are
 * what lands at random places: S's and M's (or D's) here, and R's in the
 * timeline's databases, and K's (one more random page per event that
 * moves a task's due key, the price of type and entity type filters whose
 * pages do not grow with the tasks of other kinds), and G's, one per tag
 * (the price of a tag filter that reads its own ranges).  An updated key moves
 * with every event of its task, from a random place to the front of its
 * range: a random delete per event for each dimension keeping "u".
 *
 * There is no "all active" dimension: it would repeat S's keys for the
 * three active statuses, which the planner merges instead.  K is one
 * dimension for both task type and entity type: a filter on one of them
 * merges the ranges of its values combined with every value of the other
 * and with the statuses asked for (12 ranges for a type among the three
 * active statuses, 30 for an entity type), for 3 keys per task (2
 * before version 7 gave it the updated sort), where one dimension each
 * took 4 (view version 2).
 *
 * Which sorts each dimension keeps is the table below: adding a sort to a
 * dimension is a one-line change plus a version bump (the view rebuilds).
 */
#include <stdlib.h>
#include <msgpack.h>
#include <string.h>

#include "list.h"

#define VIEW_VERSION 9
#define KEYS_FIXED 9 /* S, M or D, and K x 3 sorts */
#define KEYS_MAX (KEYS_FIXED + 3 * TL_LIST_TAGS_MAX) /* and G's, on the stack */
#define COVER_MAX 1024 /* documents up to this size go into M's due range */

static const struct dim_sorts {
	char dim;
	const char *sorts;
} dim_sorts[] = {
	{ TL_DIM_STATUS, "dcu" },
	{ TL_DIM_ASSIGNEE, "dcu" }, /* "d" covered */
	{ TL_DIM_DONE, "dcu" }, /* since version 9 */
	{ TL_DIM_KIND, "dcu" }, /* "u" since version 7 */
	{ TL_DIM_TAG, "dcu" }, /* since version 8; one dimval per tag */
};
#define N_DIMS (sizeof dim_sorts / sizeof dim_sorts[0])

bool tl_list_has_sort(char dim, char sort)
{
	if (dim == TL_DIM_RECORD)
		return strchr(TL_LIST_RECORD_SORTS, sort) != NULL;
	for (size_t i = 0; i < N_DIMS; i++)
		if (dim_sorts[i].dim == dim)
			return strchr(dim_sorts[i].sorts, sort) != NULL;
	return false;
}

bool tl_list_status_active(int status)
{
	if (status < 0 || status >= 5)
		return false;
	const char *s = tl_status_tokens[status];
	return strcmp(s, "completed") && strcmp(s, "cancelled");
}

uint64_t tl_list_hash(tl_slice s)
{
	uint8_t h[8];
	tl_key_hash(s, h);
	return tl_key_get_u64(h);
}

uint64_t tl_list_record_hash(int link_type, tl_slice id)
{
	char stack[256], *buf = stack;
	const char *type = tl_entity_tokens[link_type];
	size_t tl = strlen(type), n = tl + 1 + id.len;
	uint64_t h;

	if (n > sizeof stack && !(buf = malloc(n)))
		return 0; /* unreachable for stored links (at most 128 bytes) */
	memcpy(buf, type, tl);
	buf[tl] = ':';
	if (id.len)
		memcpy(buf + tl + 1, id.p, id.len);
	h = tl_list_hash((tl_slice){ buf, n });
	if (buf != stack)
		free(buf);
	return h;
}

void tl_list_sortval(const tl_task *t, char sort, uint64_t *sortval,
		     uint64_t *tiebreak)
{
	switch (sort) {
	case TL_SORT_DUE:
		*sortval = t->has_due ? tl_key_time(t->due_at) : TL_LIST_NO_DUE;
		*tiebreak = t->created_seq;
		break;
	case TL_SORT_CREATED:
		*sortval = ~tl_key_time(t->created_at);
		*tiebreak = ~t->created_seq;
		break;
	default:
		*sortval = ~tl_key_time(t->updated_at);
		*tiebreak = ~t->created_seq;
		break;
	}
}

void tl_list_prefix(uint8_t prefix[TL_LIST_PREFIX_LEN], char dim,
		    uint64_t dimval, char sort)
{
	prefix[0] = (uint8_t)dim;
	tl_key_u64(prefix + 1, dimval);
	prefix[9] = (uint8_t)sort;
}

void tl_list_key(uint8_t key[TL_LIST_KEY_LEN], char dim, uint64_t dimval,
		 char sort, uint64_t sortval, uint64_t tiebreak)
{
	tl_list_prefix(key, dim, dimval, sort);
	tl_key_u64(key + 10, sortval);
	tl_key_u64(key + 18, tiebreak);
}

void tl_list_record_prefix(uint8_t prefix[TL_LIST_PREFIX_LEN],
			   uint64_t rechash, int cls, char sort)
{
	tl_key_u64(prefix, rechash);
	prefix[8] = (uint8_t)cls;
	prefix[9] = (uint8_t)sort;
}

size_t tl_list_record_key(const tl_task *t, char sort,
			  uint8_t key[TL_LIST_KEY_LEN], size_t *db)
{
	uint64_t sv, tb;
	if (!t || t->deleted)
		return 0;
	int cls = tl_list_status_active(t->status) ? 0 : t->status;
	*db = tl_list_record_db(cls, sort);
	tl_list_sortval(t, sort, &sv, &tb);
	tl_list_record_prefix(key, tl_list_record_hash(t->link_type,
						       tl_s(t->link_id)),
			      cls, sort);
	tl_key_u64(key + 10, sv);
	tl_key_u64(key + 18, tb);
	return 1;
}

/* The dimval of task t in dim, or false when t has no key there. */
static bool task_dimval(const tl_task *t, char dim, uint64_t *v)
{
	bool active = tl_list_status_active(t->status);

	switch (dim) {
	case TL_DIM_STATUS:
		*v = (uint64_t)t->status;
		return true;
	case TL_DIM_ASSIGNEE:
		*v = tl_list_hash(tl_s(t->assignee ? t->assignee : ""));
		return active;
	case TL_DIM_DONE:
		*v = tl_list_tag(tl_list_hash(tl_s(t->assignee ? t->assignee
							       : "")),
				 t->status);
		return !active;
	case TL_DIM_KIND:
		*v = tl_list_kind(t->status, t->type, t->link_type);
		return true;
	}
	return false;
}

/* Put the keys of dimension i (of dim_sorts) with dimval dv, unless
 * another of the task's values had the same dimval (two tags whose
 * hashes share all but their low bits: one key serves both). */
static size_t dim_keys(const tl_task *t, size_t i, uint64_t dv,
		       uint8_t keys[][TL_LIST_KEY_LEN], size_t n,
		       size_t first)
{
	uint8_t prefix[TL_LIST_PREFIX_LEN];
	const char *sorts = dim_sorts[i].sorts;

	tl_list_prefix(prefix, dim_sorts[i].dim, dv, sorts[0]);
	for (size_t j = first; j < n; j++)
		if (!memcmp(keys[j], prefix, TL_LIST_PREFIX_LEN))
			return n;
	for (const char *s = sorts; *s; s++) {
		uint64_t sv, tb;
		tl_list_sortval(t, *s, &sv, &tb);
		tl_list_key(keys[n++], dim_sorts[i].dim, dv, *s, sv, tb);
	}
	return n;
}

void tl_list_value(uint8_t v[TL_LIST_VAL_LEN], const tl_task *t)
{
	memcpy(v, t->id, 16);
	tl_key_u64(v + 16, t->has_due ? tl_key_time(t->due_at)
				      : TL_LIST_NO_DUE);
	v[24] = (uint8_t)t->status;
	v[25] = (uint8_t)t->type;
	v[26] = (uint8_t)t->link_type;
	v[27] = 0;
}

void tl_list_facets_of(const uint8_t v[TL_LIST_VAL_LEN], tl_list_facets *f)
{
	f->id = v;
	f->due = tl_key_get_u64(v + 16);
	f->status = v[24];
	f->type = v[25];
	f->link_type = v[26];
}

/* Every key of task t (none when NULL or deleted).  Automation queue rows
 * would be excluded here once they exist: they have a view of their own
 * (the queue) and `task list` shows them only with --automation. */
static size_t task_keys(const tl_task *t, uint8_t keys[][TL_LIST_KEY_LEN])
{
	size_t n = 0;

	if (!t || t->deleted)
		return 0;
	for (size_t i = 0; i < N_DIMS; i++) {
		uint64_t dv;
		if (dim_sorts[i].dim == TL_DIM_TAG) {
			size_t first = n;
			for (size_t j = 0; j < t->tags_len; j++)
				n = dim_keys(t, i,
					     tl_list_tag(tl_list_hash(tl_s(
								 t->tags[j])),
							 t->status),
					     keys, n, first);
		} else if (task_dimval(t, dim_sorts[i].dim, &dv)) {
			n = dim_keys(t, i, dv, keys, n, n);
		}
	}
	return n;
}

static bool key_in(const uint8_t *k, uint8_t set[][TL_LIST_KEY_LEN],
		   size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(k, set[i], TL_LIST_KEY_LEN))
			return true;
	return false;
}

static int view_nomem(tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "view tasks: out of memory");
}

/* Put t's covered entry: the 28-byte value, then its document (doc, or
 * encoded here when the engine gave none) unless that is over COVER_MAX
 * bytes, when readers fetch it by id. */
static int put_cover(const tl_view_ctx *vc, size_t db, const uint8_t *key,
		     const tl_task *t, tl_err *err)
{
	uint8_t buf[TL_LIST_VAL_LEN + COVER_MAX];
	msgpack_sbuffer sb = { 0, NULL, 0 };
	const uint8_t *doc = vc->doc;
	size_t doc_len = vc->doc_len;
	int rc;

	if (!doc) {
		msgpack_sbuffer_init(&sb);
		if (!tl_task_encode(t, &sb)) {
			msgpack_sbuffer_destroy(&sb);
			return view_nomem(err);
		}
		doc = (const uint8_t *)sb.data;
		doc_len = sb.size;
	}
	tl_list_value(buf, t);
	if (doc_len > COVER_MAX)
		doc_len = 0;
	if (doc_len)
		memcpy(buf + TL_LIST_VAL_LEN, doc, doc_len);
	rc = tl_view_put(vc, db, key, TL_LIST_KEY_LEN, buf,
			 TL_LIST_VAL_LEN + doc_len, err);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int tl_list_update(const tl_view_ctx *vc, size_t db, const tl_task *before,
		   uint8_t old[][TL_LIST_KEY_LEN], size_t n_old,
		   const tl_task *after, uint8_t cur[][TL_LIST_KEY_LEN],
		   size_t n_cur, tl_list_covered_fn covered, tl_err *err)
{
	uint8_t oval[TL_LIST_VAL_LEN], nval[TL_LIST_VAL_LEN];
	int rc;

	if (n_old)
		tl_list_value(oval, before);
	if (n_cur)
		tl_list_value(nval, after);
	bool same_val = n_old && n_cur && !memcmp(oval, nval, sizeof nval);
	for (size_t i = 0; i < n_old; i++) {
		if (key_in(old[i], cur, n_cur))
			continue;
		if ((rc = tl_view_del(vc, db, old[i], TL_LIST_KEY_LEN, err)))
			return rc;
	}
	for (size_t i = 0; i < n_cur; i++) {
		if (covered && covered(cur[i])) {
			/* Every event changes the document. */
			if ((rc = put_cover(vc, db, cur[i], after, err)))
				return rc;
			continue;
		}
		if (same_val && key_in(cur[i], old, n_old))
			continue;
		if ((rc = tl_view_put(vc, db, cur[i], TL_LIST_KEY_LEN, nval,
				      sizeof nval, err)))
			return rc;
	}
	return 0;
}

int tl_list_load(const tl_view_ctx *vc, size_t db, const tl_task *t,
		 uint8_t keys[][TL_LIST_KEY_LEN], size_t n,
		 tl_list_covered_fn covered, tl_err *err)
{
	uint8_t val[TL_LIST_VAL_LEN];
	int rc;

	if (n)
		tl_list_value(val, t);
	for (size_t i = 0; i < n; i++) {
		if (covered && covered(keys[i]))
			rc = put_cover(vc, db, keys[i], t, err);
		else
			rc = tl_view_put(vc, db, keys[i], TL_LIST_KEY_LEN, val,
					 sizeof val, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* The covered range here: M's due sort (a member's active tasks, soonest
 * first, each with its document), so that the hottest listings (`task
 * list --assignee X --sort due`, `upcoming`) read one key range and no
 * document by id. */
static bool covered(const uint8_t *key)
{
	return key[0] == TL_DIM_ASSIGNEE && key[9] == TL_SORT_DUE;
}

typedef uint8_t list_key[TL_LIST_KEY_LEN];

/* Room for the keys of t: stack (KEYS_MAX keys) when they fit, as they
 * do for every task a command makes (at most TL_LIST_TAGS_MAX tags), else
 * malloc'd: a release before 0.3.6 took more tags, and their tasks are
 * indexed under every one.  NULL when out of memory. */
static list_key *keys_room(const tl_task *t, list_key *stack)
{
	size_t need = KEYS_FIXED + 3 * (t ? t->tags_len : 0);
	return need <= KEYS_MAX ? stack : malloc(need * sizeof(list_key));
}

/* Delete the keys of before that after lacks, put those after adds, and
 * rewrite all of them when the value changes (due, status, type): an
 * event that changes only notes writes only the 'u' keys (they move with
 * every event, as updated_at does) and the covered entry, whose document
 * changed; a tag or an untag also puts or deletes that tag's G keys. */
static int apply(const tl_view_ctx *vc, const tl_event *ev,
		 const tl_task *before, const tl_task *after, tl_err *err)
{
	list_key so[KEYS_MAX], sc[KEYS_MAX];
	list_key *old, *cur;
	int rc;

	(void)ev;
	if (!before && !after)
		return 0; /* not a task event */
	old = keys_room(before, so);
	cur = keys_room(after, sc);
	if (!old || !cur)
		rc = view_nomem(err);
	else
		rc = tl_list_update(vc, 0, before, old, task_keys(before, old),
				    after, cur, task_keys(after, cur),
				    covered, err);
	if (old != so)
		free(old);
	if (cur != sc)
		free(cur);
	return rc;
}

/* The entries of a task's current state: what a rebuild loads. */
static int load(const tl_view_ctx *vc, const tl_task *t, tl_err *err)
{
	list_key stack[KEYS_MAX];
	list_key *keys = keys_room(t, stack);
	int rc;

	if (!keys)
		return view_nomem(err);
	rc = tl_list_load(vc, 0, t, keys, task_keys(t, keys), covered, err);
	if (keys != stack)
		free(keys);
	return rc;
}

static const char *const dbs[] = { "idx" };
static const unsigned db_flags[] = { 0 };

const tl_view tl_view_tasks = {
	.name = "tasks",
	.version = VIEW_VERSION,
	.dbs = dbs,
	.db_flags = db_flags,
	.dbs_len = 1,
	.apply = apply,
	.load = load,
	.flags = TL_VIEW_BLIND,
};
