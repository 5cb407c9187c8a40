/*
 * query.c - `task list` and `upcoming`: queries over the `tasks` view
 * (key layout in list.h and list.c).
 *
 * A query runs in three steps.  (1) Validate every argument without
 * looking anything up.  (2) Begin a reader (actor, clock, zone), resolve
 * what needs it (assignees, `me`, relative and local times).  (3) Plan and
 * scan: pick one leading dimension that has the requested sort, open its
 * key ranges for each value of it (the values of one filter OR; an
 * assignee or a record has a range for its active tasks and one per done
 * status asked for), merge the
 * ranges by (sortval, tiebreak), check what the index value tells, then
 * load the candidate's document and check every filter on it, until the
 * page is full.
 *
 * The leading dimension, most selective first: record R, assignee M,
 * tag G (one range per tag and status asked for, any number of them since
 * 0.3.39; a task with two of the tags is in two ranges at the
 * same position, and listed once), kind K (the statuses, task types and
 * entity types asked for, one range per combination, when a type or
 * entity type filter leaves at most KIND_RANGES_MAX of them), else
 * status S (the given statuses, or the three active ones).  R and M
 * hold active tasks, in one range per record or member; done ones are
 * in a range per record and status (R, timeline view 8) or per member
 * and status (D, tasks view 9): a record or assignee filter leads with
 * the ranges of the statuses asked for, whatever they are.  Beside a
 * leading M (or D), R (since 0.3.50) or G, the ranges of G (tags) and K (types,
 * entity types) that the other filters make hold every task that passes
 * them, at the same positions: once the leading ranges have passed over
 * tl_list_also_after entries, they are walked in step with them (a
 * leapfrog join: each side jumps to the other's position), and only the
 * positions all sides hold are candidates.  When the assignees lead and
 * a tag or type filter could (since 0.3.40), both walks take turns and
 * the first to end the page makes it (scan).  Each index value carries the
 * task's due, status, type and link type, so candidates failing those
 * filters are rejected without their documents.  With the due sort, a
 * due filter with bounds becomes the bounds of every range: a page then
 * costs what it holds, whatever lies outside the window.  Under the other
 * sorts the window is read from the same ranges' due sort first (below,
 * "a due window under another sort"), for the same reason.
 *
 * Paging is by position: the cursor is (sort, sortval, tiebreak) of the
 * last task returned, and the next page starts strictly after it in every
 * range.  A task that has not moved is returned exactly once however the
 * others change between pages; a task that moved shows where it is now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "doc.h"
#include "list.h"
#include "tasklog_projections.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000
#define DEFAULT_DAYS 7
#define MAX_DAYS 36600        /* a century: keeps now + days in range */
#define MS_PER_DAY INT64_C(86400000)
#define CURSOR_BYTES 17       /* sort | sortval | tiebreak */
#define LIST_CURSOR 'l'
#define UPCOMING_CURSOR 'u'
#define N_TYPES TL_LIST_TYPES
#define N_STATUSES TL_LIST_STATUSES
#define N_ENTITIES TL_LIST_ENTITIES
#define KIND_RANGES_MAX 40 /* K leads for up to this many (status, type,
			      entity) ranges: among the active statuses 3
			      types, or 1 entity type */
#define TAG_RANGES_MAX 40 /* G goes beside M for up to this many (tag,
			      status) ranges: 13 tags among the active
			      statuses */
#define ASSIGNEE_RANGES_MAX 64 /* a search merges the M due ranges of up
				  to this many assignees (unassigned one) */
#define ALSO_MAX 2 /* dimensions beside the leading one: G and K */
#define ALSO_RANGES_MAX 40 /* ranges of one: TAG_ or KIND_RANGES_MAX */
#define REACH_STEPS 8 /* steps along a range before a seek to a position */
#define MAX_TAGS 64    /* --tag values of one query, OR-combined */
/* G leads for any number of them: every (tag, status) range.  A merge of
 * 320 ranges costs a compare per range and entry; the statuses' ranges,
 * the fallback, read every task's document (until 0.3.39, past 40
 * ranges: 2.3 s at a million tasks for 14 tags that no task had). */
#define TAG_LEAD_RANGES_MAX (MAX_TAGS * N_STATUSES)
#define TAG_MAX 64     /* bytes of a tag, as a task's */
#define MAX_SEARCHES 8 /* --search values of one query, OR-combined */
#define SEARCH_MAX 256 /* bytes of one */
#define SEARCH_WORDS 16 /* words of one, each of which a task must hold */
#define FOLD_START 512 /* code points a fold buffer starts with */

/* ---- what a query asks for ---------------------------------------------- */

enum due_kind { DUE_ANY, DUE_NONE, DUE_RANGE };
#define MAX_DUES 16 /* --due values of one query, OR-combined */

/* One --due value: no due date, or a due date in [lo, hi). */
typedef struct due_window {
	enum due_kind kind;
	bool has_lo, has_hi;
	int64_t lo, hi;
	bool active; /* overdue: active tasks only */
} due_window;
enum automation { AUTO_HIDE, AUTO_INCLUDE, AUTO_ONLY };

/* --search: a task passes when its title or notes hold every word of one
 * of them; word k of search j is cp[wo[j][k] ..][0 .. wn[j][k]), folded
 * (tl_text_fold). */
struct searches {
	int32_t *cp;
	uint32_t wo[MAX_SEARCHES][SEARCH_WORDS], wn[MAX_SEARCHES][SEARCH_WORDS];
	size_t words[MAX_SEARCHES];
	size_t n;
};

typedef struct plan {
	/* filters: a task is listed when it passes all of them */
	bool statuses_given, status[N_STATUSES];
	bool types_given, type[N_TYPES];
	bool entities_given, entity[N_ENTITIES];
	bool has_record;
	bool records_open; /* the timeline view, which keeps dimension R */
	int record_type;
	tl_slice record_id;
	tl_slice *assignees; /* resolved: member id, "" = unassigned */
	size_t assignees_len;
	const tl_slice *tags; /* a task passes with any of them */
	size_t tags_len;
	struct searches *srch; /* --search, or NULL: kept out of the plan,
				  which every query clears */
	due_window dues[MAX_DUES]; /* a task passes when one of them holds */
	size_t dues_len;           /* 0: any due date, or none */
	enum automation automation;
	/* order and page */
	char sort;
	size_t limit;
	bool has_cursor;
	uint64_t cur_sv, cur_tb;
	char cursor_kind;
	/* the scan: the leading filter's dimension (TL_DIM_ASSIGNEE for M
	 * and D ranges), and its ranges, each a dimension, a class (R's:
	 * 0 active, else a done status) and a value */
	char dim;
	struct lead {
		char dim;
		int cls;
		uint64_t val;
	} *leads;
	size_t leads_len;
	/* Dimensions beside the leading one whose ranges hold every task the
	 * filters let pass (G for the tags, K for the types and entity
	 * types): a candidate of the leading ranges is one only when each of
	 * them holds its position too.  Their ranges, merged alike, are
	 * walked in step with the leading ones, each jumping to the other's
	 * position (a leapfrog join), so that a page of `--assignee X --tag
	 * T` reads X's tasks near T's instead of all of X's. */
	struct also {
		char dim;
		uint64_t vals[ALSO_RANGES_MAX];
		size_t len;
	} also[ALSO_MAX];
	size_t also_len;
	uint64_t sv_lo, sv_hi; /* sortval bounds, inclusive */
	struct span {
		uint64_t lo, hi;
	} spans[MAX_DUES]; /* the due windows in due sortvals (inclusive),
			      ascending, overlaps merged, empty ones left out */
	size_t spans_len;
	struct span dspans[MAX_DUES]; /* the same for the ranges of done
					 tasks: without `overdue`, which
					 holds active tasks only */
	size_t dspans_len;
	bool empty;            /* the bounds hold nothing */
	uint64_t budget;       /* entries a scan may read, 0: no bound */
} plan;

static void plan_release(plan *p)
{
	free(p->assignees);
	free(p->leads);
	if (p->srch)
		free(p->srch->cp);
	free(p->srch);
}

/* A buffer of folded code points, grown as texts need. */
typedef struct fold_buf {
	int32_t *p;
	size_t cap;
} fold_buf;

/* Fold s into b: the number of code points, -1 when s is not UTF-8, -2
 * when memory ran out (errno ENOMEM). */
static ptrdiff_t fold_into(tl_slice s, fold_buf *b)
{
	for (;;) {
		if (!b->p) {
			size_t cap = b->cap > FOLD_START ? b->cap : FOLD_START;
			if (!(b->p = malloc(cap * sizeof *b->p)))
				return -2;
			b->cap = cap;
		}
		ptrdiff_t n = tl_text_fold(s, b->p, b->cap);
		if (n < 0 || (size_t)n <= b->cap)
			return n;
		free(b->p);
		b->p = NULL;
		b->cap = (size_t)n;
	}
}

/* What cuts a search into words: a space (any Unicode space: folding
 * lumps them into U+0020) or a line or paragraph separator. */
static bool is_word_break(int32_t cp)
{
	return cp == ' ' || cp == 0x2028 || cp == 0x2029;
}

/* The --search values, folded and cut into words. */
static int check_searches(const tl_list_query *q, plan *p, tl_err *err)
{
	fold_buf b = { NULL, 0 };
	size_t used = 0, cap = 0;
	char qb[64];
	int rc = 0;

	if (!q->searches_len)
		return 0;
	if (q->searches_len > MAX_SEARCHES)
		return tl_err_set(err, TL_EINVALID, "search",
				  "at most %d searches in a query",
				  MAX_SEARCHES);
	struct searches *sr = p->srch = calloc(1, sizeof *p->srch);
	if (!sr)
		return tl_err_oom(err);
	for (size_t j = 0; j < q->searches_len && !rc; j++) {
		tl_slice s = q->searches[j];
		if ((rc = tl_check_text(s, "search", 1, SEARCH_MAX, false,
					err)))
			break;
		ptrdiff_t n = fold_into(s, &b); /* UTF-8: a count, or -2 */
		if (n < 0) {
			rc = tl_err_oom(err);
			break;
		}
		if (used + (size_t)n > cap) {
			size_t ncap = (used + (size_t)n) * 2;
			int32_t *np = realloc(sr->cp, ncap * sizeof *np);
			if (!np) {
				rc = tl_err_oom(err);
				break;
			}
			sr->cp = np;
			cap = ncap;
		}
		size_t w = 0;
		for (size_t i = 0; i < (size_t)n;) {
			while (i < (size_t)n && is_word_break(b.p[i]))
				i++;
			size_t start = i;
			while (i < (size_t)n && !is_word_break(b.p[i]))
				i++;
			if (i == start)
				break;
			if (w == SEARCH_WORDS) {
				rc = tl_err_set(err, TL_EINVALID, "search",
						"'%s' has more than %d words",
						tl_quote(s, qb, sizeof qb),
						SEARCH_WORDS);
				break;
			}
			memcpy(sr->cp + used, b.p + start,
			       (i - start) * sizeof *b.p);
			sr->wo[j][w] = (uint32_t)used;
			sr->wn[j][w] = (uint32_t)(i - start);
			used += i - start;
			w++;
		}
		if (!rc && !w)
			rc = tl_err_set(err, TL_EINVALID, "search",
					"'%s' has nothing to search for",
					tl_quote(s, qb, sizeof qb));
		sr->words[j] = w;
	}
	free(b.p);
	if (!rc)
		sr->n = q->searches_len;
	return rc;
}

/* ---- argument validation --------------------------------------------- */

static int token_index(const char *const *table, int n, tl_slice s)
{
	for (int i = 0; s.p && i < n; i++)
		if (strlen(table[i]) == s.len && !memcmp(table[i], s.p, s.len))
			return i;
	return -1;
}

static bool slice_is(tl_slice s, const char *lit)
{
	return s.p && strlen(lit) == s.len && !memcmp(s.p, lit, s.len);
}

static int bad_token(tl_err *err, const char *field, tl_slice s,
		     const char *const *table, int n)
{
	char q[64], list[200] = "";
	for (int i = 0; i < n; i++) {
		strcat(list, i ? ", " : "");
		strcat(list, table[i]);
	}
	return tl_err_set(err, TL_EINVALID, field,
			  "unknown value '%s' (one of: %s)",
			  tl_quote(s, q, sizeof q), list);
}

/* Each value of a repeated enum filter into set[]. */
static int check_enums(const tl_slice *v, size_t n, const char *field,
		       const char *const *table, int count, bool *given,
		       bool *set, tl_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int k = token_index(table, count, v[i]);
		if (k < 0)
			return bad_token(err, field, v[i], table, count);
		set[k] = true;
	}
	*given = n > 0;
	return 0;
}

/* A record "TYPE:ID", checked as a task's link is. */
static int check_record(tl_slice s, plan *p, tl_err *err)
{
	int rc = tl_record_parse(s, "record", &p->record_type, &p->record_id,
				 err);
	if (rc)
		return rc;
	p->has_record = true;
	return 0;
}

/* Split "FROM..TO" at its "..": either side may be empty (open). */
static bool split_range(tl_slice s, tl_slice *from, tl_slice *to)
{
	for (size_t i = 0; s.p && i + 1 < s.len; i++) {
		if (s.p[i] == '.' && s.p[i + 1] == '.') {
			*from = (tl_slice){ s.p, i };
			*to = (tl_slice){ s.p + i + 2, s.len - i - 2 };
			return true;
		}
	}
	return false;
}

/* Parse one due window in r's zone and clock.  Called twice: first
 * before any look-up with the clock and zone of the context alone
 * (`final` false: the syntax), then with the reader's. */
static int parse_due(tl_slice s, due_window *p, const tl_reader *r,
		     bool final, tl_err *err)
{
	char q[64];
	tl_slice from, to;
	int64_t now = r->now_ms;
	const char *tz = r->tz;
	int rc;

	*p = (due_window){ .kind = DUE_RANGE };
	if (slice_is(s, "none")) {
		p->kind = DUE_NONE;
		return 0;
	}
	if (slice_is(s, "overdue")) {
		p->has_hi = true;
		p->hi = now;
		p->active = true;
		return 0;
	}
	if (slice_is(s, "today") || slice_is(s, "week")) {
		p->has_lo = p->has_hi = true;
		if (!final)
			return 0;
		rc = s.len == 5 ? tl_day_range(now, tz, &p->lo, &p->hi)
				: tl_week_range(now, tz, r->week_start, &p->lo,
						&p->hi);
		return rc ? tl_err_set(err, TL_EINVALID, "due",
				       "cannot compute '%.8s' in zone %s for now",
				       s.p, tz)
			  : 0;
	}
	if (!split_range(s, &from, &to) || (!from.len && !to.len))
		return tl_err_set(err, TL_EINVALID, "due",
				  "'%s' is not overdue, today, week, none or "
				  "FROM..TO",
				  tl_quote(s, q, sizeof q));
	if (from.len) {
		p->has_lo = true;
		if ((rc = tl_time_parse(from, now, tz, "due", &p->lo, err)))
			return rc;
	}
	if (to.len) {
		p->has_hi = true;
		if ((rc = tl_time_parse(to, now, tz, "due", &p->hi, err)))
			return rc;
	}
	if (final && p->has_lo && p->has_hi && p->hi <= p->lo)
		return tl_err_set(err, TL_EINVALID, "due",
				  "'%s': the end must be after the start",
				  tl_quote(s, q, sizeof q));
	return 0;
}

/* Every due window of q (its `due`, then its `dues`) into p. */
static int parse_dues(const tl_list_query *q, plan *p, const tl_reader *r,
		      bool final, tl_err *err)
{
	int rc;
	p->dues_len = 0;
	if (q->dues_len && !q->dues)
		return tl_err_set(err, TL_EINVALID, "due",
				  "dues_len %zu without dues", q->dues_len);
	for (size_t i = 0; i < q->dues_len + 1; i++) {
		tl_slice s = i ? q->dues[i - 1] : q->due;
		if (!s.p)
			continue;
		if (p->dues_len == MAX_DUES)
			return tl_err_set(err, TL_EINVALID, "due",
					  "at most %d due windows", MAX_DUES);
		if ((rc = parse_due(s, &p->dues[p->dues_len++], r, final,
				    err)))
			return rc;
	}
	return 0;
}

static int check_limit(size_t limit, plan *p, tl_err *err)
{
	if (limit > MAX_LIMIT)
		return tl_err_set(err, TL_EINVALID, "limit",
				  "%zu is more than %d", limit, MAX_LIMIT);
	p->limit = limit ? limit : DEFAULT_LIMIT;
	return 0;
}

static int check_cursor(tl_slice s, char kind, plan *p, tl_err *err)
{
	uint8_t b[CURSOR_BYTES];
	char q[64];

	p->cursor_kind = kind;
	if (!s.p || !s.len)
		return 0; /* the first page */
	if (!tl_cursor_decode(s, kind, b, sizeof b) || b[0] != p->sort)
		return tl_err_set(err, TL_EINVALID, "cursor",
				  "'%s' is not a cursor of this listing "
				  "(and sort order)",
				  tl_quote(s, q, sizeof q));
	p->has_cursor = true;
	p->cur_sv = tl_key_get_u64(b + 1);
	p->cur_tb = tl_key_get_u64(b + 9);
	return 0;
}

/* Step 1 of `task list`: everything that needs no look-up. */
static int check_list(const tl_ctx *ctx, const tl_list_query *q, plan *p,
		      tl_err *err)
{
	tl_reader pre = { .week_start = 1 };
	char qb[64];
	int rc;

	/* A count without its array (since 0.3.51; it crashed before). */
	const struct {
		const tl_slice *a;
		size_t n;
		const char *field;
	} arrays[] = {
		{ q->assignees, q->assignees_len, "assignee" },
		{ q->statuses, q->statuses_len, "status" },
		{ q->entity_types, q->entity_types_len, "entity_type" },
		{ q->types, q->types_len, "type" },
		{ q->dues, q->dues_len, "due" },
		{ q->tags, q->tags_len, "tag" },
		{ q->searches, q->searches_len, "search" },
	};
	for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
		if (arrays[i].n && !arrays[i].a)
			return tl_err_set(err, TL_EINVALID, arrays[i].field,
					  "%zu values without their array",
					  arrays[i].n);
	if ((rc = check_enums(q->statuses, q->statuses_len, "status",
			      tl_status_tokens, N_STATUSES,
			      &p->statuses_given, p->status, err)) ||
	    (rc = check_enums(q->types, q->types_len, "type", tl_type_tokens,
			      N_TYPES, &p->types_given, p->type, err)) ||
	    (rc = check_enums(q->entity_types, q->entity_types_len,
			      "entity_type", tl_entity_tokens, N_ENTITIES,
			      &p->entities_given, p->entity, err)))
		return rc;
	if (q->record.p && (rc = check_record(q->record, p, err)))
		return rc;
	if (q->tags_len > MAX_TAGS)
		return tl_err_set(err, TL_EINVALID, "tag",
				  "at most %d tags in a query", MAX_TAGS);
	for (size_t i = 0; i < q->tags_len; i++) {
		tl_slice t = q->tags[i];
		if (!t.p || !t.len || t.len > TAG_MAX ||
		    !tl_utf8_valid(t.p, t.len))
			return tl_err_set(err, TL_EINVALID, "tag",
					  "'%s' is not a tag (1..%d bytes of "
					  "UTF-8)",
					  tl_quote(t, qb, sizeof qb), TAG_MAX);
	}
	p->tags = q->tags;
	p->tags_len = q->tags_len;
	if ((rc = check_searches(q, p, err)))
		return rc;
	for (size_t i = 0; i < q->assignees_len; i++) {
		tl_slice a = q->assignees[i];
		if (!a.p || !tl_member_id_valid(a))
			return tl_err_set(err, TL_EINVALID, "assignee",
					  "'%s' is not a member id, me or "
					  "unassigned",
					  tl_quote(a, qb, sizeof qb));
		/* Known without a look-up: named, or as `me` of the
		 * acting member given. */
		if (slice_is(a, TL_SYSTEM_USER) ||
		    (slice_is(a, "me") && ctx && ctx->actor &&
		     !strcmp(ctx->actor, TL_SYSTEM_USER)))
			return tl_err_set(err, TL_EINVALID, "assignee",
					  "'%s' is the system user, never an assignee",
					  TL_SYSTEM_USER);
	}
	/* Times are checked in the context's zone (the workspace's needs a
	 * look-up, and gives the same syntax) and clock. */
	pre.now_ms = ctx && ctx->now_ms ? ctx->now_ms : tl_time_now();
	snprintf(pre.tz, sizeof pre.tz, "%s",
		 ctx && ctx->tz && strlen(ctx->tz) < sizeof pre.tz ? ctx->tz
								   : "UTC");
	if ((rc = parse_dues(q, p, &pre, false, err)))
		return rc;
	p->automation = AUTO_HIDE;
	if (q->automation.p) {
		static const char *const modes[] = { "hide", "include",
						     "only" };
		int k = token_index(modes, 3, q->automation);
		if (k < 0)
			return bad_token(err, "automation", q->automation,
					 modes, 3);
		p->automation = (enum automation)k;
	}
	p->sort = TL_SORT_DUE;
	if (q->sort.p) {
		static const char *const sorts[] = { "due", "created",
						     "updated" };
		static const char letters[] = { TL_SORT_DUE, TL_SORT_CREATED,
						TL_SORT_UPDATED };
		int k = token_index(sorts, 3, q->sort);
		if (k < 0)
			return bad_token(err, "sort", q->sort, sorts, 3);
		p->sort = letters[k];
	}
	if ((rc = check_limit(q->limit, p, err)))
		return rc;
	return check_cursor(q->cursor, LIST_CURSOR, p, err);
}

/* Step 2: the assignees, with `me` and `unassigned` resolved. */
static int resolve_assignees(const tl_list_query *q, const tl_reader *r,
			     plan *p, tl_err *err)
{
	char qb[64];

	if (!q->assignees_len)
		return 0;
	p->assignees = calloc(q->assignees_len, sizeof *p->assignees);
	if (!p->assignees)
		return tl_err_oom(err);
	for (size_t i = 0; i < q->assignees_len; i++) {
		tl_slice a = q->assignees[i];
		bool me = slice_is(a, "me");
		if (me)
			a = tl_s(r->actor);
		if (slice_is(a, TL_SYSTEM_USER)) /* named, or as `me` */
			return tl_err_set(err, TL_EINVALID, "assignee",
					  "'%s' is the system user, never an assignee",
					  TL_SYSTEM_USER);
		if (slice_is(a, "unassigned") && !me)
			a = (tl_slice){ "", 0 };
		else if (!me) {
			int rc = tl_member_find(r->db, r->txn, a, err);
			if (rc == TL_ENOTFOUND)
				return tl_err_set(err, TL_EINVALID, "assignee",
						  "no member '%s'",
						  tl_quote(a, qb, sizeof qb));
			if (rc)
				return rc;
		}
		p->assignees[p->assignees_len++] = a;
	}
	return 0;
}

/* ---- the plan -------------------------------------------------------- */

static int mdb_fail(tl_err *err, int rc);

static void add_val(uint64_t *vals, size_t *len, uint64_t v)
{
	for (size_t i = 0; i < *len; i++)
		if (vals[i] == v)
			return; /* one range per value (hashes may collide) */
	vals[(*len)++] = v;
}

/* One leading range more, unless the plan holds it (hashes may collide). */
static void add_lead(plan *p, char dim, int cls, uint64_t v)
{
	for (size_t i = 0; i < p->leads_len; i++)
		if (p->leads[i].dim == dim && p->leads[i].cls == cls &&
		    p->leads[i].val == v)
			return;
	p->leads[p->leads_len++] = (struct lead){ dim, cls, v };
}

/* Whether the status filter (without one: the active statuses) lets
 * tasks of this status pass: the statuses of S's, K's and G's ranges. */
static bool status_wanted(const plan *p, int status)
{
	return p->statuses_given ? p->status[status]
				 : tl_list_status_active(status);
}

/* Whether the status filter lets a task of an active status pass (none
 * given: yes). */
static bool any_active_wanted(const plan *p)
{
	for (int s = 0; s < N_STATUSES; s++)
		if (tl_list_status_active(s) && status_wanted(p, s))
			return true;
	return false;
}

/* Whether K's range (status, type, entity) holds tasks that the filters
 * on status (without one: the active statuses), type and entity type let
 * pass: K's ranges answer those three filters exactly. */
static bool kind_wanted(const plan *p, int status, int type, int entity)
{
	return status_wanted(p, status) &&
	       (!p->types_given || p->type[type]) &&
	       (!p->entities_given || p->entity[entity]);
}

/* The number of K ranges the filters leave. */
static size_t kind_ranges(const plan *p)
{
	size_t n = 0;
	for (int s = 0; s < N_STATUSES; s++)
		for (int t = 0; t < N_TYPES; t++)
			for (int e = 0; e < N_ENTITIES; e++)
				n += kind_wanted(p, s, t, e);
	return n;
}

/* The number of G ranges the filters leave: one per tag and status. */
static size_t tag_ranges(const plan *p)
{
	size_t n = 0;
	for (int s = 0; s < N_STATUSES; s++)
		n += status_wanted(p, s);
	return n * p->tags_len;
}

/* Whether G's ranges can hold the tasks of the tag filter, and K's those
 * of the type and entity type filters, under the sort asked for. */
static bool tags_indexed(const plan *p)
{
	return p->tags_len && tag_ranges(p) <= TAG_RANGES_MAX &&
	       tl_list_has_sort(TL_DIM_TAG, p->sort);
}

/* Whether G's ranges lead: any number of tags. */
static bool tags_lead(const plan *p)
{
	return p->tags_len && tag_ranges(p) <= TAG_LEAD_RANGES_MAX &&
	       tl_list_has_sort(TL_DIM_TAG, p->sort);
}

static bool kinds_indexed(const plan *p)
{
	return (p->types_given || p->entities_given) &&
	       kind_ranges(p) <= KIND_RANGES_MAX &&
	       tl_list_has_sort(TL_DIM_KIND, p->sort);
}

/* The ranges of G (dim TL_DIM_TAG) or K (TL_DIM_KIND) for the filters,
 * into vals (room for TAG_LEAD_RANGES_MAX or KIND_RANGES_MAX). */
static void dim_ranges(const plan *p, char dim, uint64_t *vals, size_t *len)
{
	if (dim == TL_DIM_TAG) {
		for (size_t i = 0; i < p->tags_len; i++) {
			uint64_t h = tl_list_hash(p->tags[i]);
			for (int st = 0; st < N_STATUSES; st++)
				if (status_wanted(p, st))
					add_val(vals, len, tl_list_tag(h, st));
		}
		return;
	}
	for (int st = 0; st < N_STATUSES; st++)
		for (int t = 0; t < N_TYPES; t++)
			for (int e = 0; e < N_ENTITIES; e++)
				if (kind_wanted(p, st, t, e))
					add_val(vals, len,
						tl_list_kind(st, t, e));
}

/* Beside the assignees', the record's or the tags' ranges: the tags' and
 * the kinds' ranges that hold every task the filters let pass (the
 * statuses' lead only when no other can).  Beside the record's since
 * 0.3.50: a record of 500,000 tasks and a tag none of them had walked
 * them all for an empty page (0.23-0.46 s; a scale review). */
static void plan_also(plan *p)
{
	static const char dims[ALSO_MAX] = { TL_DIM_TAG, TL_DIM_KIND };
	_Static_assert(TAG_RANGES_MAX <= ALSO_RANGES_MAX &&
			       KIND_RANGES_MAX <= ALSO_RANGES_MAX,
		       "room for the ranges of either");
	p->also_len = 0;
	if (p->dim != TL_DIM_ASSIGNEE && p->dim != TL_DIM_RECORD &&
	    p->dim != TL_DIM_TAG)
		return;
	for (int i = 0; i < ALSO_MAX; i++) {
		if (dims[i] == p->dim ||
		    !(dims[i] == TL_DIM_TAG ? tags_indexed(p)
					    : kinds_indexed(p)))
			continue;
		struct also *a = &p->also[p->also_len++];
		a->dim = dims[i];
		a->len = 0;
		dim_ranges(p, a->dim, a->vals, &a->len);
	}
}

/* A due window as a span of due sortvals, inclusive: false when it
 * holds none. */
static bool due_span(const due_window *w, struct span *sp)
{
	uint64_t wl = 0, wh = TL_LIST_NO_DUE - 1;
	if (w->kind == DUE_NONE) {
		sp->lo = sp->hi = TL_LIST_NO_DUE;
		return true;
	}
	if (w->has_lo)
		wl = tl_key_time(w->lo);
	if (w->has_hi) {
		uint64_t e = tl_key_time(w->hi);
		if (e == 0)
			return false;
		if (e - 1 < wh)
			wh = e - 1;
	}
	sp->lo = wl;
	sp->hi = wh;
	return wl <= wh;
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The spans of the due windows (of those that let done tasks pass, when
 * `done`) into sp, ascending, overlaps merged: their number. */
static size_t make_spans(const plan *p, bool done, struct span *sp)
{
	size_t n = 0, m = 0;
	for (size_t i = 0; i < p->dues_len; i++)
		if (!(done && p->dues[i].active) && due_span(&p->dues[i], &sp[n]))
			n++;
	qsort(sp, n, sizeof *sp, span_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && sp[i].lo <= sp[m - 1].hi) {
			if (sp[i].hi > sp[m - 1].hi)
				sp[m - 1].hi = sp[i].hi;
		} else {
			sp[m++] = sp[i];
		}
	}
	return m;
}

/* Whether a leading range holds done tasks only (and so none that an
 * `overdue` window lets pass): D's, R's of a done class, and S's, K's
 * and G's of a done status.  M's and R's class 0 hold active ones. */
static bool lead_done(const struct lead *l)
{
	switch (l->dim) {
	case TL_DIM_DONE:
		return true;
	case TL_DIM_RECORD:
		return l->cls != 0;
	case TL_DIM_STATUS:
		return !tl_list_status_active((int)l->val);
	case TL_DIM_KIND:
		return !tl_list_status_active(
			(int)(l->val / (N_TYPES * N_ENTITIES)));
	case TL_DIM_TAG:
		return !tl_list_status_active((int)(l->val & 7));
	default:
		return false;
	}
}

/*
 * A search among the active tasks with no indexed filter to lead it
 * reads every candidate's document: from S's ranges each one by id, a
 * B-tree look-up that misses the CPU's caches in a large workspace
 * (about 2.5 µs of the 4.5 µs an entry cost at a million tasks).  Under
 * the due sort the assignees' M ranges hold the same tasks (every active
 * task is in its assignee's, or in the unassigned one), in the same order
 * (due, then created_seq), each entry covered with the task's document:
 * merged, they read the documents in key order instead.  The ranges are
 * found in the index itself (one seek per assignee, so a task's assignee
 * need not be looked up among the members); past ASSIGNEE_RANGES_MAX
 * of them the merge (a linear minimum per step) would cost more than it
 * saves, and S leads.  0 (*n of them into vals, *many when there are
 * more), or an LMDB error.
 */
static int assignee_ranges(const tl_reader *r, uint64_t *vals, size_t *n,
			   bool *many)
{
	const MDB_dbi *dbi = tl_view_dbis(r->db, "tasks");
	uint8_t key[TL_LIST_PREFIX_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*n = 0;
	*many = false;
	if (!dbi) {
		*many = true; /* no view: S's fallback reports it */
		return 0;
	}
	if ((rc = mdb_cursor_open(r->txn, dbi[0], &c)))
		return rc;
	uint64_t h = 0;
	for (;;) {
		tl_list_prefix(key, TL_DIM_ASSIGNEE, h, TL_SORT_DUE);
		k = (MDB_val){ 1 + 8, key }; /* dim | hash: any sort */
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (!rc && (k.mv_size < 9 ||
				     ((uint8_t *)k.mv_data)[0] !=
					     TL_DIM_ASSIGNEE))) {
			rc = 0; /* past the last assignee */
			break;
		}
		if (rc)
			break;
		if (*n == ASSIGNEE_RANGES_MAX) {
			*many = true;
			break;
		}
		h = tl_key_get_u64((uint8_t *)k.mv_data + 1);
		vals[(*n)++] = h;
		if (h == UINT64_MAX)
			break;
		h++;
	}
	mdb_cursor_close(c);
	return rc;
}

/* Whether a search may lead with the assignees' ranges (above): the due
 * sort, and exactly the active statuses (the ranges hold each of them:
 * `--status on_hold` alone would walk every other active task, past a
 * full page too, where S walks its own range). */
static bool search_by_assignees(const plan *p)
{
	if (!p->srch || p->sort != TL_SORT_DUE)
		return false;
	for (int st = 0; st < N_STATUSES; st++)
		if (status_wanted(p, st) != tl_list_status_active(st))
			return false;
	return true;
}

/* Step 3a: the leading dimension and its ranges.  Dimensions in order of
 * preference: the record (a few tasks), the assignees, the tags (with
 * the statuses asked for; since 0.3.39 for any number of tags),
 * the kinds (status, type and entity type) when a type or entity type
 * filter leaves at most KIND_RANGES_MAX of their 200 ranges, else the
 * statuses, which hold every task and keep every sort; but a search
 * that the statuses would lead, under the due sort among active tasks,
 * the assignees (assignee_ranges). */
static void plan_bounds(plan *p);

static int plan_scan(plan *p, const tl_reader *r, tl_err *err)
{
	/* an assignee's M range and a D range per done status; or up to
	 * KIND_RANGES_MAX of K or TAG_LEAD_RANGES_MAX of G; or a search's
	 * ASSIGNEE_RANGES_MAX */
	size_t cap = 3 * p->assignees_len + KIND_RANGES_MAX + TAG_LEAD_RANGES_MAX +
		     ASSIGNEE_RANGES_MAX;
	char s = p->sort;
	uint64_t vals[KIND_RANGES_MAX + TAG_LEAD_RANGES_MAX +
		      ASSIGNEE_RANGES_MAX];
	size_t nvals = 0;
	bool many = true;
	int rc = 0;

	p->records_open = tl_view_dbis(r->db, "timeline") != NULL;
	p->leads = calloc(cap, sizeof *p->leads);
	if (!p->leads)
		return tl_err_oom(err);
	if (p->has_record && p->records_open &&
	    tl_list_has_sort(TL_DIM_RECORD, s)) {
		uint64_t h = tl_list_record_hash(p->record_type, p->record_id);
		p->dim = TL_DIM_RECORD;
		if (any_active_wanted(p))
			add_lead(p, TL_DIM_RECORD, 0, h);
		for (int st = 0; st < N_STATUSES; st++)
			if (!tl_list_status_active(st) && status_wanted(p, st))
				add_lead(p, TL_DIM_RECORD, st, h);
	} else if (p->assignees_len && tl_list_has_sort(TL_DIM_ASSIGNEE, s) &&
		   tl_list_has_sort(TL_DIM_DONE, s)) {
		bool active = any_active_wanted(p);
		p->dim = TL_DIM_ASSIGNEE;
		for (size_t i = 0; i < p->assignees_len; i++) {
			uint64_t h = tl_list_hash(p->assignees[i]);
			if (active)
				add_lead(p, TL_DIM_ASSIGNEE, 0, h);
			for (int st = 0; st < N_STATUSES; st++)
				if (!tl_list_status_active(st) &&
				    status_wanted(p, st))
					add_lead(p, TL_DIM_DONE, 0,
						 tl_list_tag(h, st));
		}
	} else if (tags_lead(p) || kinds_indexed(p)) {
		p->dim = tags_lead(p) ? TL_DIM_TAG : TL_DIM_KIND;
		dim_ranges(p, p->dim, vals, &nvals);
		for (size_t i = 0; i < nvals; i++)
			add_lead(p, p->dim, 0, vals[i]);
	} else if (search_by_assignees(p) &&
		   !(rc = assignee_ranges(r, vals, &nvals, &many)) && !many) {
		p->dim = TL_DIM_ASSIGNEE; /* none: no active task */
		for (size_t i = 0; i < nvals; i++)
			add_lead(p, TL_DIM_ASSIGNEE, 0, vals[i]);
	} else {
		/* S keeps every sort: the fallback of every plan, and without
		 * a status filter the merge of the three active statuses (an
		 * "all active" dimension would repeat those keys). */
		if (rc)
			return mdb_fail(err, rc);
		p->dim = TL_DIM_STATUS;
		for (int i = 0; i < N_STATUSES; i++)
			if (status_wanted(p, i))
				add_lead(p, TL_DIM_STATUS, 0, (uint64_t)i);
	}
	plan_also(p);
	plan_bounds(p);
	return 0;
}

/* The plan's bounds: its due windows as spans of sortvals, and whether
 * they hold nothing. */
static void plan_bounds(plan *p)
{
	char s = p->sort;

	/* The due windows as spans of due sortvals; under the due sort
	 * their bounds are those of sortval, from the earliest start to the
	 * latest end, and a range seeks past what lies between spans
	 * (range_settle). */
	p->sv_lo = 0;
	p->sv_hi = UINT64_MAX;
	p->spans_len = p->dspans_len = 0;
	if (p->dues_len) {
		size_t n = p->spans_len = make_spans(p, false, p->spans);
		p->dspans_len = make_spans(p, true, p->dspans);
		bool active = false; /* a leading range of active tasks */
		for (size_t i = 0; i < p->leads_len; i++)
			active |= !lead_done(&p->leads[i]);
		if (!n || (!active && !p->dspans_len))
			p->empty = true; /* every window holds nothing (for
					    done tasks: overdue alone) */
		else if (s == TL_SORT_DUE) {
			p->sv_lo = p->spans[0].lo;
			p->sv_hi = p->spans[n - 1].hi;
		}
	}
	if (p->sv_lo > p->sv_hi)
		p->empty = true;
	/* Queue rows are kept out of this view (they will have the queue's
	 * own; tl_task_pack writes `automation` nil): `only` lists nothing
	 * here, at once, where a walk would read every task the other
	 * filters let pass to find none (0.3.39; a scale audit: 750,000
	 * documents at a million tasks). */
	if (p->automation == AUTO_ONLY)
		p->empty = true;
}

/* ---- candidates ------------------------------------------------------ */

/* The fields of a task document that the filters look at. */
typedef struct cand {
	int status, type, link_type;
	bool has_due, deleted, automation;
	int64_t due;
	tl_slice assignee, link_id, title, notes;
	tl_rd tags; /* at an array of str, or p NULL */
} cand;

/* The string a reader is at, or a NULL slice (another type). */
static tl_slice rd_str_or_null(tl_rd r)
{
	tl_slice s;
	return r.p && tl_rd_str(&r, &s) ? s : (tl_slice){ NULL, 0 };
}

/* Decode what the filters need from a stored task document (the JSON
 * shape of a task; see tl_task_pack) in one pass, building no objects
 * (msgpack_unpack and the check before it were 30 % of a search's time
 * at a million tasks, 0.3.29).  Slices point into the document.  Returns
 * false when the document is not a task: not one well-formed map (nested
 * at most as msgpack_unpack allows, nothing after it), or without a
 * status, type or link of its own.  A key given twice (only damage makes
 * one) counts by its first value, as the engine's own decoding reads
 * it. */
static bool cand_decode(const MDB_val *doc, cand *c)
{
	/* in the order tl_task_pack writes them, which tl_rd_pick tries
	 * first */
	enum { TITLE, TYPE, STATUS, DUE, ASSIGNEE, NOTES, LINK, TAGS,
	       AUTOMATION, DELETED, NKEYS };
	static const char *const keys[NKEYS] = {
		"title", "type", "status", "due_at",	 "assignee",
		"notes", "link", "tags",   "automation", "deleted"
	};
	static const char *const link_keys[2] = { "type", "id" };
	tl_rd r = { doc->mv_data, (const uint8_t *)doc->mv_data + doc->mv_size };
	tl_rd v[NKEYS], lv[2];

	memset(c, 0, sizeof *c);
	c->status = c->type = c->link_type = -1;
	if (!tl_rd_pick(&r, TL_MP_DEPTH, keys, NKEYS, v) || r.p != r.end)
		return false;
	c->status = token_index(tl_status_tokens, N_STATUSES,
				rd_str_or_null(v[STATUS]));
	c->type = token_index(tl_type_tokens, N_TYPES, rd_str_or_null(v[TYPE]));
	if (v[DUE].p && !tl_rd_nil(&v[DUE])) {
		if (!tl_rd_time(&v[DUE], &c->due))
			return false;
		c->has_due = true;
	}
	c->assignee = rd_str_or_null(v[ASSIGNEE]);
	if (!c->assignee.p)
		c->assignee = (tl_slice){ "", 0 };
	if (!tl_rd_at_map(&v[LINK]) ||
	    !tl_rd_pick(&v[LINK], TL_MP_DEPTH - 1, link_keys, 2, lv))
		return false;
	c->link_type = token_index(tl_entity_tokens, N_ENTITIES,
				   rd_str_or_null(lv[0]));
	c->link_id = rd_str_or_null(lv[1]);
	c->deleted = v[DELETED].p && *v[DELETED].p == 0xc3; /* true */
	c->automation = v[AUTOMATION].p && !tl_rd_nil(&v[AUTOMATION]);
	if (tl_rd_at_array(&v[TAGS]))
		c->tags = v[TAGS];
	c->title = rd_str_or_null(v[TITLE]);
	c->notes = rd_str_or_null(v[NOTES]);
	return c->status >= 0 && c->type >= 0 && c->link_type >= 0 &&
	       c->link_id.p;
}

static bool slice_eq(tl_slice a, tl_slice b)
{
	return a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len));
}

/* The filters an index value can answer: status, type, link type, due.
 * A candidate failing them is rejected without its document. */
static bool facets_match(const plan *p, const tl_list_facets *f)
{
	if (f->status >= N_STATUSES || f->type >= N_TYPES ||
	    f->link_type >= N_ENTITIES)
		return true; /* let the document decide (and report) */
	if (p->statuses_given ? !p->status[f->status]
			      : !tl_list_status_active(f->status))
		return false;
	if (p->types_given && !p->type[f->type])
		return false;
	if (p->entities_given && !p->entity[f->link_type])
		return false;
	if (p->has_record && f->link_type != p->record_type)
		return false;
	bool has_due = f->due != TL_LIST_NO_DUE;
	if (!p->dues_len)
		return true;
	for (size_t i = 0; i < p->dues_len; i++) {
		const due_window *w = &p->dues[i];
		if (w->kind == DUE_NONE ? !has_due
					: has_due &&
						  !(w->has_lo &&
						    f->due < tl_key_time(w->lo)) &&
						  !(w->has_hi &&
						    f->due >= tl_key_time(w->hi)) &&
						  !(w->active &&
						    !tl_list_status_active(
							    f->status)))
			return true;
	}
	return false;
}

/* Whether the task has one of the tags the query names. */
static bool has_tag(const plan *p, const cand *c)
{
	tl_rd r = c->tags;
	uint32_t n;
	if (!r.p || !tl_rd_array(&r, &n))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		tl_slice t;
		tl_rd at = r;
		if (!tl_rd_str(&r, &t)) { /* not a tag: step over it */
			r = at;
			if (!tl_rd_skip(&r, TL_MP_DEPTH))
				return false;
			continue;
		}
		for (size_t j = 0; j < p->tags_len; j++)
			if (slice_eq(t, p->tags[j]))
				return true;
	}
	return false;
}

/* Whether the title or notes hold every word of one of the searches: 1,
 * 0, or -1 (a text that is not UTF-8, or memory ran out: errno says). */
static int found(const plan *p, const cand *c, fold_buf fb[2])
{
	ptrdiff_t nt = fold_into(c->title, &fb[0]);
	ptrdiff_t nn = c->notes.p ? fold_into(c->notes, &fb[1]) : 0;
	if (nt < 0 || nn < 0)
		return -1;
	const struct searches *sr = p->srch;
	for (size_t j = 0; j < sr->n; j++) {
		size_t k;
		for (k = 0; k < sr->words[j]; k++) {
			const int32_t *w = sr->cp + sr->wo[j][k];
			size_t wn = sr->wn[j][k];
			if (!tl_text_holds(fb[0].p, (size_t)nt, w, wn) &&
			    !(nn && tl_text_holds(fb[1].p, (size_t)nn, w, wn)))
				break;
		}
		if (k == sr->words[j])
			return 1;
	}
	return 0;
}

/* Every filter, checked on the document: the leading dimension only
 * narrows where to look.  What an index value also tells is checked by
 * facets_match, the rest (texts, automation) here: 1 listed, 0 not, -1
 * an undecodable text (errno ENOMEM: memory ran out). */
static int matches(const plan *p, const cand *c, fold_buf fb[2])
{
	tl_list_facets f = { NULL,
			     c->has_due ? tl_key_time(c->due) : TL_LIST_NO_DUE,
			     c->status, c->type, c->link_type };
	if (c->deleted || !facets_match(p, &f))
		return false;
	if (p->has_record && !slice_eq(c->link_id, p->record_id))
		return false;
	if (p->assignees_len) {
		size_t i;
		for (i = 0; i < p->assignees_len; i++)
			if (slice_eq(c->assignee, p->assignees[i]))
				break;
		if (i == p->assignees_len)
			return false;
	}
	if (p->tags_len && !has_tag(p, c))
		return false;
	/* Queue rows carry `automation`; none exist yet, so `only` lists
	 * nothing and `hide`/`include` list the same tasks. */
	if (p->automation == AUTO_HIDE && c->automation)
		return false;
	if (p->automation == AUTO_ONLY && !c->automation)
		return false;
	return p->srch ? found(p, c, fb) : 1;
}

/* ---- the scan --------------------------------------------------------- */

/* One key range: dim | dimval | sort, sortval within the plan's bounds. */
typedef struct range {
	MDB_cursor *c;
	uint8_t prefix[TL_LIST_PREFIX_LEN];
	bool live; /* positioned on a key of the range */
	bool done; /* a leading range of done tasks (lead_done) */
	uint64_t sv, tb;
	tl_list_facets f; /* of the entry */
	MDB_val doc;      /* the document, in a covered entry; else empty */
} range;

_Thread_local uint64_t tl_list_entries_read;
_Thread_local uint64_t tl_list_docs_read;
static _Thread_local uint64_t list_seeks; /* seeks from a B-tree's root */
_Thread_local unsigned tl_list_also_after = 32;

/* Take the cursor's current entry (rc from mdb_cursor_get) if it is in
 * the range. */
static int range_take(range *g, const plan *p, int rc, MDB_val *k,
		      MDB_val *v)
{
	g->live = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	tl_list_entries_read++;
	if (k->mv_size != TL_LIST_KEY_LEN ||
	    memcmp(k->mv_data, g->prefix, TL_LIST_PREFIX_LEN))
		return 0;
	if (v->mv_size < TL_LIST_VAL_LEN)
		return MDB_CORRUPTED;
	g->doc.mv_size = v->mv_size - TL_LIST_VAL_LEN;
	g->doc.mv_data = g->doc.mv_size
				 ? (uint8_t *)v->mv_data + TL_LIST_VAL_LEN
				 : NULL;
	g->sv = tl_key_get_u64((uint8_t *)k->mv_data + 10);
	g->tb = tl_key_get_u64((uint8_t *)k->mv_data + 18);
	/* read when the merge comes back to this range: a search merging
	 * the assignees' covered ranges at a million tasks took about 15 %
	 * less CPU */
	tl_doc_prefetch_next(k);
	tl_list_facets_of(v->mv_data, &g->f);
	g->live = g->sv <= p->sv_hi;
	return 0;
}

/* Position g on its first key at or after (sv, tb), strictly after it
 * when `after`: range_seek, without stepping over a gap. */
static int range_seek_at(range *g, const plan *p, uint64_t sv, uint64_t tb,
			 bool after)
{
	uint8_t key[TL_LIST_KEY_LEN];
	MDB_val k = { TL_LIST_KEY_LEN, key }, v;
	int rc;

	memcpy(key, g->prefix, TL_LIST_PREFIX_LEN);
	tl_key_u64(key + 10, sv);
	tl_key_u64(key + 18, tb);
	list_seeks++;
	rc = mdb_cursor_get(g->c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && after && k.mv_size == TL_LIST_KEY_LEN &&
	    !memcmp(k.mv_data, key, TL_LIST_KEY_LEN))
		rc = mdb_cursor_get(g->c, &k, &v, MDB_NEXT);
	return range_take(g, p, rc, &k, &v);
}

/* Under the due sort with due windows, a position between two of them
 * holds no candidate: seek on to the next window's start, so that `--due
 * overdue --due none` does not walk every task due later; a range of
 * done tasks skips the `overdue` windows, which let none of them pass. */
static int range_settle(range *g, const plan *p)
{
	const struct span *sp = g->done ? p->dspans : p->spans;
	size_t n = g->done ? p->dspans_len : p->spans_len;
	int rc = 0;
	if (p->sort != TL_SORT_DUE || !p->dues_len)
		return 0;
	while (!rc && g->live) {
		size_t i = 0;
		while (i < n && sp[i].hi < g->sv)
			i++;
		if (i == n)
			g->live = false; /* past the last window */
		else if (g->sv < sp[i].lo)
			rc = range_seek_at(g, p, sp[i].lo, 0, false);
		else
			break; /* in window i */
	}
	return rc;
}

static int range_seek(range *g, const plan *p, uint64_t sv, uint64_t tb,
		      bool after)
{
	int rc = range_seek_at(g, p, sv, tb, after);
	return rc ? rc : range_settle(g, p);
}

static int range_next(range *g, const plan *p)
{
	MDB_val k, v;
	int rc = range_take(g, p, mdb_cursor_get(g->c, &k, &v, MDB_NEXT), &k,
			    &v);
	return rc ? rc : range_settle(g, p);
}

/* The live range with the smallest position, or NULL. */
static range *range_min(range *g, size_t n)
{
	range *m = NULL;
	for (size_t i = 0; i < n; i++)
		if (g[i].live && (!m || g[i].sv < m->sv ||
				  (g[i].sv == m->sv && g[i].tb < m->tb)))
			m = &g[i];
	return m;
}

/* Whether g's position is before (sv, tb). */
static bool range_before(const range *g, uint64_t sv, uint64_t tb)
{
	return g->sv < sv || (g->sv == sv && g->tb < tb);
}

/* Move each range of g to its first position at or after (sv, tb): a few
 * steps first, since the position sought is often near, then a seek from
 * the root. */
static int ranges_reach(range *g, size_t n, const plan *p, uint64_t sv,
			uint64_t tb)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		for (int s = 0; !rc && g[i].live && range_before(&g[i], sv, tb);
		     s++)
			rc = s < REACH_STEPS ? range_next(&g[i], p)
					     : range_seek(&g[i], p, sv, tb,
							  false);
	return rc;
}

/* Open the ranges beside the leading ones (p->also, into ga, the i-th
 * set's from ga_at[i]) in db, each at its first position at or after
 * (sv, tb).  Returns 0 or an LMDB error (the cursors opened stay in ga
 * to be closed). */
static int also_open(MDB_txn *txn, MDB_dbi db, const plan *p, range *ga,
		     const size_t *ga_at, uint64_t sv, uint64_t tb)
{
	int rc = 0;
	for (size_t j = 0; j < p->also_len && !rc; j++)
		for (size_t i = 0; i < p->also[j].len && !rc; i++) {
			range *a = &ga[ga_at[j] + i];
			if ((rc = mdb_cursor_open(txn, db, &a->c)))
				break;
			tl_list_prefix(a->prefix, p->also[j].dim,
				       p->also[j].vals[i], p->sort);
			rc = range_seek(a, p, sv, tb, false);
		}
	return rc;
}

/* Whether every set of ranges beside the leading ones (p->also, ranges
 * ga, the i-th set's from ga_at[i]) holds position (sv, tb): *held 1
 * yes; 0 no, and far is the furthest position one of them went on to
 * (the leading ranges hold no candidate before it); -1 one of them is at
 * its end (nor do they after it).  Returns 0 or an LMDB error. */
static int also_hold(const plan *p, range *ga, const size_t *ga_at,
		     uint64_t sv, uint64_t tb, int *held, uint64_t far[2])
{
	*held = 1;
	for (size_t i = 0; i < p->also_len; i++) {
		range *g = ga + ga_at[i];
		size_t n = ga_at[i + 1] - ga_at[i];
		int rc = ranges_reach(g, n, p, sv, tb);
		if (rc)
			return rc;
		range *m = range_min(g, n);
		if (!m) {
			*held = -1;
			return 0;
		}
		if (m->sv == sv && m->tb == tb)
			continue;
		if (*held == 1 || m->sv > far[0] ||
		    (m->sv == far[0] && m->tb > far[1])) {
			far[0] = m->sv;
			far[1] = m->tb;
		}
		*held = 0;
	}
	return 0;
}

/* Open g on leading range l under sort: its cursor in the view's database
 * that holds it (dbi: the tasks view's, or the timeline's for R), its
 * prefix, whether it holds done tasks.  0 or mdb_cursor_open's code. */
static int lead_open(const tl_reader *r, const MDB_dbi *dbi,
		     const struct lead *l, char sort, range *g)
{
	bool rec = l->dim == TL_DIM_RECORD;
	int rc = mdb_cursor_open(
		r->txn, dbi[rec ? tl_list_record_db(l->cls, sort) : 0], &g->c);
	if (rc)
		return rc;
	if (rec)
		tl_list_record_prefix(g->prefix, l->val, l->cls, sort);
	else
		tl_list_prefix(g->prefix, l->dim, l->val, sort);
	g->done = lead_done(l);
	return 0;
}

static int mdb_fail(tl_err *err, int rc)
{
	if (rc == MDB_NOTFOUND)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "view tasks names a task that does not "
				  "exist");
	return tl_err_set(err, TL_ESTORAGE, "storage", "view tasks: %s",
			  rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
}

/* Step 3b: merge the ranges, check each candidate, call fn for a page.
 * next_cursor: the position of the last task returned, when a match is
 * known (or, after a bounded look-ahead, may be) to follow.  Returns 0, a
 * TL_E* code, or fn's non-zero answer (which stops the page). */
/*
 * The fast check.  When the leading dimension is the assignee or the record
 * and no other filter is given, the range already holds only active tasks
 * that are not deleted, of the hashed value: all that is left to check is
 * the value itself (two values may share a hash).  That takes the document's
 * first fields only, read one object at a time, instead of decoding it whole
 * (which was half the time of a page).
 */
static bool fast_plan(const plan *p)
{
	if (p->statuses_given || p->types_given || p->entities_given ||
	    p->dues_len || p->tags_len || p->srch ||
	    p->automation == AUTO_ONLY)
		return false;
	if (p->dim == TL_DIM_ASSIGNEE)
		return p->assignees_len && !p->has_record;
	if (p->dim == TL_DIM_RECORD)
		return p->has_record && !p->assignees_len;
	return false;
}

/* The fast check of one candidate: 1 listed, 0 not, -1 malformed. */
static int fast_match(const plan *p, const MDB_val *doc)
{
	if (p->dim == TL_DIM_ASSIGNEE) {
		tl_rd v;
		if (!tl_doc_find(doc, "assignee", &v))
			return -1;
		tl_slice a = rd_str_or_null(v);
		if (!a.p)
			a = (tl_slice){ "", 0 };
		for (size_t i = 0; i < p->assignees_len; i++)
			if (slice_eq(a, p->assignees[i]))
				return 1;
		return 0;
	}
	int type;
	tl_slice id;
	if (!tl_doc_link(doc, &type, &id))
		return -1;
	return type == p->record_type && slice_eq(id, p->record_id);
}

/* Whether facets_match says all the document would: no filter on text
 * (assignee, record) other than the leading dimension's own value, whose
 * hash the range already matched (64 bits; 61 in D, whose low 3 bits are
 * the status: two members sharing the rest is as unlikely, and costs at
 * most a cursor to an empty page), and no tag or automation filter. */
static bool facets_exact(const plan *p)
{
	return (!p->assignees_len || p->dim == TL_DIM_ASSIGNEE) &&
	       (!p->has_record || p->dim == TL_DIM_RECORD) &&
	       !p->tags_len && !p->srch && p->automation != AUTO_ONLY;
}

/* The cursor of a page whose last task is at (sv, tb). */
static void page_cursor(const plan *p, uint64_t sv, uint64_t tb,
			char next_cursor[TL_CURSOR_MAX])
{
	uint8_t b[CURSOR_BYTES];
	b[0] = (uint8_t)p->sort;
	tl_key_u64(b + 1, sv);
	tl_key_u64(b + 9, tb);
	tl_cursor_encode(p->cursor_kind, b, sizeof b, next_cursor,
			 TL_CURSOR_MAX);
}

/* What two walks that take turns (scan) count as their work: an index
 * entry read 1, a seek from a B-tree's root SEEK_STEPS more (as
 * REACH_STEPS: a seek costs about 8 cursor steps), a document read by id
 * DOC_STEPS (a B-tree look-up that misses the CPU's caches and a decode:
 * about 1 µs at a million tasks, 20 to 25 steps of a walk). */
#define SEEK_STEPS 8
#define DOC_STEPS 24

static uint64_t walk_work(void)
{
	return tl_list_entries_read + SEEK_STEPS * list_seeks +
	       DOC_STEPS * tl_list_docs_read;
}

/* The work at which a turn of n more ends. */
static uint64_t work_after(uint64_t n)
{
	uint64_t now = walk_work();
	return now + n < now ? UINT64_MAX : now + n;
}

/* One walk of a plan's ranges (step 3b), which can stop at a bound and go
 * on later from where it stopped: scan's, or either of the two that take
 * turns there. */
typedef struct walk {
	const plan *p;
	MDB_txn *txn;
	tl_db *db;
	MDB_dbi idx; /* the database of the ranges beside the leading ones
			(the tasks view's, also beside a record's) */
	bool no_also; /* the tasks view is not there to hold them */
	range *g, *ga; /* the leading ranges, and those beside them */
	size_t ga_at[ALSO_MAX + 1];
	size_t n, returned, extra, budget, passed;
	bool fast, exact, also_on;
	bool more;  /* a match is known, or may be, to follow the page */
	bool ended; /* the walk is over: its page is whole, or an error */
	bool seen;
	uint64_t last_sv, last_tb, seen_sv, seen_tb;
	fold_buf fb[2]; /* title, notes */
	int mrc;        /* an LMDB error */
} walk;

/* Open a walk of plan p's ranges in the view's database dbi, each at the
 * plan's lower bound or just past its cursor.  Returns 0 (an LMDB error
 * in w->mrc, the walk ended) or TL_EOOM (nothing to close). */
static int walk_open(walk *w, const tl_reader *r, const plan *p,
		     const MDB_dbi *dbi, tl_err *err)
{
	memset(w, 0, sizeof *w);
	w->p = p;
	w->txn = r->txn;
	w->db = r->db;
	w->idx = dbi[0];
	if (p->dim == TL_DIM_RECORD && p->also_len) {
		const MDB_dbi *t = tl_view_dbis(r->db, "tasks");
		if (t)
			w->idx = t[0];
		else
			w->no_also = true; /* the record's ranges alone */
	}
	w->n = p->leads_len;
	w->budget = p->limit > 64 ? p->limit : 64;
	w->fast = fast_plan(p);
	w->exact = facets_exact(p);
	if (p->empty || !w->n) {
		w->ended = true;
		return 0;
	}
	for (size_t i = 0; i < p->also_len; i++)
		w->ga_at[i + 1] = w->ga_at[i] + p->also[i].len;
	w->g = calloc(w->n + w->ga_at[p->also_len], sizeof *w->g);
	if (!w->g) {
		w->ended = true;
		return tl_err_oom(err);
	}
	w->ga = w->g + w->n;

	uint64_t sv = p->sv_lo, tb = 0;
	bool after = false;
	if (p->has_cursor && p->cur_sv >= sv) {
		sv = p->cur_sv;
		tb = p->cur_tb;
		after = true;
	}
	for (size_t i = 0; i < w->n && !w->mrc; i++) {
		if (!(w->mrc = lead_open(r, dbi, &p->leads[i], p->sort,
					 &w->g[i])))
			w->mrc = range_seek(&w->g[i], p, sv, tb, after);
	}
	if (w->mrc)
		w->ended = true;
	return 0;
}

/* A candidate passed over: past a whole page, after budget of them the
 * walk stops looking (a match may follow: the next page will see) and
 * ends.  Whether it ended. */
static bool walk_passed(walk *w)
{
	w->passed++;
	if (w->returned < w->p->limit || ++w->extra < w->budget)
		return false;
	w->more = true;
	w->ended = true;
	return true;
}

/* Walk on, checking each candidate and giving the matches to fn, until
 * the page is whole (w->ended) or, before an entry, more than `entries`
 * index entries were read by this thread, or more than `work` of
 * walk_work's.  Returns 0, a TL_E* code or fn's
 * non-zero answer (the walk ended). */
static int walk_run(walk *w, uint64_t entries, uint64_t work, tl_doc_fn fn,
		    void *arg, tl_err *err)
{
	const plan *p = w->p;
	range *g = w->g;
	size_t n = w->n;
	int rc = 0;

	/* The ranges of the dimensions beside the leading one are walked
	 * once the leading ranges have passed over tl_list_also_after
	 * entries (32): a page the leading ones fill at once (few tasks, or
	 * most of them listed) does not pay for their seeks. */
	for (range *m; !w->ended;) {
		if (w->mrc || rc || !(m = range_min(g, n))) {
			w->ended = true;
			break;
		}
		if (tl_list_entries_read > entries ||
		    (work != UINT64_MAX && walk_work() > work))
			break; /* the caller says when to go on */
		MDB_val doc;
		cand c;
		/* The same position twice is the same task (tiebreaks are
		 * unique per task) in two ranges: under two of its tags. */
		if (w->seen && m->sv == w->seen_sv && m->tb == w->seen_tb) {
			w->mrc = range_next(m, p);
			continue;
		}
		if (p->also_len && !w->also_on && !w->no_also &&
		    w->passed >= tl_list_also_after) {
			w->also_on = true;
			if ((w->mrc = also_open(w->txn, w->idx, p, w->ga,
						w->ga_at, m->sv, m->tb)))
				continue;
		}
		if (w->also_on) {
			uint64_t far[2] = { 0, 0 };
			int held;
			if ((w->mrc = also_hold(p, w->ga, w->ga_at, m->sv, m->tb,
						&held, far)))
				continue;
			if (held < 0) {
				w->ended = true; /* no candidate is left */
				break;
			}
			if (!held) {
				w->mrc = ranges_reach(g, n, p, far[0], far[1]);
				continue;
			}
		}
		w->seen = true;
		w->seen_sv = m->sv;
		w->seen_tb = m->tb;
		if (!facets_match(p, &m->f)) {
			if (walk_passed(w))
				break;
			w->mrc = range_next(m, p);
			continue;
		}
		if (w->returned == p->limit && w->exact) {
			w->more = true; /* the value tells all: a match follows */
			w->ended = true;
			break;
		}
		if (m->doc.mv_size)
			doc = m->doc; /* a covered entry */
		else if (tl_list_docs_read++,
			 (w->mrc = tl_task_doc(w->db, w->txn, m->f.id, &doc)))
			continue;
		errno = 0;
		int ok = w->fast ? fast_match(p, &doc)
				 : cand_decode(&doc, &c)
					   ? matches(p, &c, w->fb)
					   : -1;
		if (ok < 0) {
			rc = tl_err_undecodable(err, "corrupt task record");
			continue;
		}
		if (ok) {
			if (w->returned == p->limit) {
				w->more = true;
				w->ended = true;
				break;
			}
			rc = fn(arg, doc.mv_data, doc.mv_size);
			w->returned++;
			w->last_sv = m->sv;
			w->last_tb = m->tb;
		} else if (walk_passed(w)) {
			break;
		}
		w->mrc = range_next(m, p);
	}
	if (!rc && w->mrc)
		rc = mdb_fail(err, w->mrc);
	return rc;
}

/* Close a walk's cursors and free what it holds. */
static void walk_close(walk *w)
{
	size_t all = w->n + w->ga_at[w->p ? w->p->also_len : 0];
	for (size_t i = 0; w->g && i < all; i++)
		if (w->g[i].c)
			mdb_cursor_close(w->g[i].c);
	free(w->g);
	free(w->fb[0].p);
	free(w->fb[1].p);
	w->g = NULL;
}

/* A walk's page, held back: at most a page of documents, which stay
 * valid as long as the reader. */
typedef struct held {
	MDB_val *d;
	size_t n;
} held;

static int hold_doc(void *arg, const uint8_t *doc, size_t len)
{
	held *h = arg;
	h->d[h->n++] = (MDB_val){ len, (void *)doc };
	return 0;
}

/*
 * The other plan of a page that the assignees lead.  Several assignees
 * with a tag or a type that holds few of their tasks: the assignees'
 * ranges lead, the tag's and kind's are walked in step beside them (a
 * leapfrog join), and each jump moves every assignee's range; five
 * assignees with a tag, a type and `on_hold` read 62,139 entries (8-10
 * ms) at a million tasks, where the turns read 14,839 and 248 documents
 * (1.1 ms; benchmarks.md).  A tag or type with many tasks of its own and
 * few of theirs: the other way round.  Which holds fewer, neither
 * index says (LMDB counts no range), so both walks take turns (scan), and
 * the first to end its page makes it.  The other plan: the tags' ranges
 * lead, else the kinds', the assignees checked on each document.
 * One range of one assignee moves a step or a seek per position of the
 * others, where the other plan reads a document (about 24 steps): it
 * never reads much less, so the turns are for two ranges or more (several
 * assignees, or one in active and done statuses), where every one of them
 * moves.  other_dim says which leads it (0: no other plan), plan_other
 * makes it into o (0, or -1 out of memory; its leads to free).
 */
static char other_dim(const plan *p)
{
	if (p->dim != TL_DIM_ASSIGNEE || p->leads_len < 2 || p->empty ||
	    tl_list_lead_first == UINT64_MAX)
		return 0;
	return tags_lead(p)	 ? TL_DIM_TAG
	       : kinds_indexed(p) ? TL_DIM_KIND
				  : 0;
}

static int plan_other(const plan *p, char dim, plan *o)
{
	uint64_t vals[TAG_LEAD_RANGES_MAX > KIND_RANGES_MAX
			      ? TAG_LEAD_RANGES_MAX
			      : KIND_RANGES_MAX];
	size_t nvals = 0;
	*o = *p;
	o->dim = dim;
	o->leads_len = 0;
	if (!(o->leads = calloc(sizeof vals / sizeof vals[0],
				sizeof *o->leads)))
		return -1;
	dim_ranges(o, dim, vals, &nvals);
	for (size_t i = 0; i < nvals; i++)
		add_lead(o, dim, 0, vals[i]);
	plan_also(o);
	plan_bounds(o);
	return 0;
}

_Thread_local uint64_t tl_list_lead_first = TL_LIST_LEAD_FIRST;
_Thread_local uint64_t tl_list_lead_turn = TL_LIST_LEAD_TURN;

/*
 * Step 3b: merge the ranges, check each candidate, give a page to fn.
 * next_cursor: the position of the last task returned, when a match is
 * known (or, after a bounded look-ahead, may be) to follow.  With
 * p->budget, at most that many entries are read: past it *over, the page
 * not whole (fn may have been given part of it: held_walk holds it
 * back).  Returns 0, a TL_E* code, or fn's non-zero
 * answer (which stops the page).
 *
 * When the assignees lead and another plan can (other_dim), the leading
 * walk goes alone for tl_list_lead_first units of work (2,048, as
 * walk_work counts: a seek 9, a document read by id 24), the page held
 * back; when it has not ended, the other walk starts, and the two take
 * turns of tl_list_lead_turn units (256), each from where it stopped, until one ends its page: that page
 * is given to fn.  A page costs at most about twice what the cheaper walk
 * costs, plus the first walk alone.  Either walk starts from the cursor,
 * a position in the sort that both keep, so a page made by either
 * continues one made by the other.
 */
static int scan(const tl_reader *r, const plan *p, tl_doc_fn fn, void *arg,
		char next_cursor[TL_CURSOR_MAX], bool *over, tl_err *err)
{
	const MDB_dbi *dbi = tl_view_dbis(
		r->db, p->dim == TL_DIM_RECORD ? "timeline" : "tasks");
	uint64_t end = p->budget && tl_list_entries_read + p->budget >
					    tl_list_entries_read
			       ? tl_list_entries_read + p->budget
			       : UINT64_MAX;
	walk w[2];
	held h[2] = { { NULL, 0 }, { NULL, 0 } };
	plan o = { .leads = NULL };
	char other = other_dim(p);
	int rc, win = -1;

	next_cursor[0] = 0;
	if (!dbi)
		return tl_view_unavailable(r->db, "tasks", err);
	if (other && (!(h[0].d = calloc(p->limit + 1, sizeof *h[0].d)) ||
		      !(h[1].d = calloc(p->limit + 1, sizeof *h[1].d)))) {
		free(h[0].d);
		return tl_err_oom(err);
	}
	if ((rc = walk_open(&w[0], r, p, dbi, err)))
		goto out;
	if (!other) {
		rc = walk_run(&w[0], end, UINT64_MAX, fn, arg, err);
		win = w[0].ended ? 0 : -1;
		walk_close(&w[0]);
		goto out;
	}
	uint64_t turn = tl_list_lead_turn ? tl_list_lead_turn : 1;
	rc = walk_run(&w[0], end, work_after(tl_list_lead_first), hold_doc,
		      &h[0], err);
	if (!rc && w[0].ended)
		win = 0;
	if (!rc && win < 0 && tl_list_entries_read <= end) {
		/* the other walk's opening seeks are part of its first turn */
		uint64_t limit = work_after(turn);
		if (plan_other(p, other, &o))
			rc = tl_err_oom(err);
		else if (!(rc = walk_open(&w[1], r, &o, dbi, err))) {
			/* A walk that fails (a damaged entry or document
			 * that it alone meets) leaves the page to the other,
			 * which would have made it alone: the error stands
			 * when both fail. */
			bool failed[2] = { false, false };
			for (int k = 1; tl_list_entries_read <= end;) {
				int wrc = walk_run(&w[k], end, limit, hold_doc,
						   &h[k], err);
				if (wrc) {
					failed[k] = true;
					if (failed[k ^ 1]) {
						rc = wrc;
						break;
					}
				} else if (w[k].ended) {
					win = k;
					break;
				}
				if (!failed[k ^ 1])
					k ^= 1;
				limit = work_after(turn);
			}
			walk_close(&w[1]);
		}
	}
	walk_close(&w[0]);
	for (size_t i = 0; !rc && win >= 0 && i < h[win].n; i++)
		if ((rc = fn(arg, h[win].d[i].mv_data, h[win].d[i].mv_size)))
			win = -1; /* as a walk stopped by fn: no cursor */
out:
	if (!rc && win >= 0 && w[win].more)
		page_cursor(p, w[win].last_sv, w[win].last_tb, next_cursor);
	if (!rc && win < 0 && over)
		*over = true; /* past the budget: the caller takes another
				 way */
	free(h[0].d);
	free(h[1].d);
	free(o.leads);
	return rc;
}

/* ---- a due window under another sort --------------------------------- */

/*
 * Under the created or updated sort a due window bounds no range: the walk
 * in that order rejects what lies outside the window on the index value,
 * about 80 ns an entry, and a narrow window among many tasks cost a walk
 * past all of them (67-75 ms for an empty window among 700,000 active
 * tasks, before 0.3.28).  The leading ranges' due sort holds the window as
 * one key range each, so a page can also be made from there: the window's
 * entries, their documents read for the time of the sort, sorted.  Which
 * way is cheaper depends on what neither knows beforehand: how many tasks
 * the window holds, and how far the walk must go to fill the page.  So:
 *
 *   1. Walk in the order asked for, as before, for at most
 *      tl_list_walk_first entries (1,024), the page held back: when the
 *      window holds many of the ranges' tasks the walk ends within them,
 *      and that is the page.
 *   2. Walk the window's spans of the ranges' due sort, keeping the
 *      entries whose value passes the filters, up to tl_list_window_max
 *      entries read (2,048).  Past that the window is wide, its tasks
 *      usually dense enough in the walk: walk for 32 entries per entry
 *      read there; when that does not end the page (a filter only the
 *      documents answer, a search, rejects most of the window), read 8
 *      times as much of the window, and so on, until the window is read
 *      whole or a walk ends the page (before 0.3.39 the walk of a wide
 *      window was unbounded: a search in `--due today` under `--sort
 *      created` walked every active task).  None kept: the page is
 *      empty.
 *   3. Walk again, for at most tl_list_walk_ratio entries per entry kept
 *      (32: a document read by id and decoded costs 15-20 cursor steps
 *      in a warm process, 25-37 in a command's fresh one), when that is
 *      more than step 1's: when the walk ends within them, that is the page.
 *   4. Else make the page from the entries kept: their documents read, the
 *      time of the sort taken from each, sorted by (sortval, tiebreak) as
 *      that sort's keys are, past the cursor, every filter checked on the
 *      document.
 *
 * Steps 3 and 4 bound each other: when the window is not wide, a page
 * costs at most about twice the cheaper of the two ways (step 3's budget
 * is what step 4 costs), plus steps 1 and 2's few thousand entries,
 * whatever lies outside the window; a wide one costs at most about
 * twice what the walk to the page's end or the whole window costs, times
 * 32 for the window.  Its tasks are the walk's.  tl_list_walk_ratio 0 (for tests) skips
 * both walks; tl_list_window_max 0 makes every window wide.
 */
_Thread_local uint64_t tl_list_walk_first = TL_LIST_WALK_FIRST;
_Thread_local size_t tl_list_window_max = TL_LIST_WINDOW_MAX;
_Thread_local unsigned tl_list_walk_ratio = TL_LIST_WALK_RATIO;

/* An entry of the window: its task's position under the sort asked for
 * (step 4; its due sort's tiebreak before), its document (a covered
 * entry's, else read by id in step 4) and its id. */
typedef struct went {
	uint64_t sv, tb;
	MDB_val doc;
	const uint8_t *id;
} went;

typedef struct wlist {
	went *e;
	size_t n, cap;
} wlist;

/* Step 2: the entries of the leading ranges' due sort within the windows
 * whose value passes the filters, into w; *wide when more than max
 * entries were read.  Returns 0 or an LMDB error. */
static int window_collect(const tl_reader *r, const plan *p,
			  const MDB_dbi *dbi, size_t max, wlist *w, bool *wide)
{
	plan pd = *p; /* the due sort, a window's bounds, no settling */
	uint64_t read0 = tl_list_entries_read;
	int rc = 0;

	pd.sort = TL_SORT_DUE;
	pd.dues_len = 0; /* one window at a time, below */
	for (size_t i = 0, j = 0; i < p->leads_len && !rc && !*wide;) {
		const struct lead *l = &p->leads[i];
		bool done = lead_done(l);
		const struct span *sp = done ? p->dspans : p->spans;
		size_t nsp = done ? p->dspans_len : p->spans_len;
		if (j >= nsp) { /* the next range, from its first window */
			i++;
			j = 0;
			continue;
		}
		range g;
		memset(&g, 0, sizeof g);
		pd.sv_lo = sp[j].lo;
		pd.sv_hi = sp[j].hi;
		j++;
		if ((rc = lead_open(r, dbi, l, TL_SORT_DUE, &g)))
			break;
		for (rc = range_seek(&g, &pd, pd.sv_lo, 0, false);
		     !rc && g.live; rc = range_next(&g, &pd)) {
			if (tl_list_entries_read - read0 > max) {
				*wide = true;
				break;
			}
			if (!facets_match(p, &g.f))
				continue;
			if (w->n == w->cap) {
				size_t cap = w->cap ? 2 * w->cap : 64;
				went *e = realloc(w->e, cap * sizeof *e);
				if (!e) {
					rc = ENOMEM;
					break;
				}
				w->e = e;
				w->cap = cap;
			}
			w->e[w->n++] = (went){ 0, g.tb, g.doc, g.f.id };
		}
		mdb_cursor_close(g.c);
	}
	return rc;
}

static int went_cmp(const void *a, const void *b)
{
	const went *x = a, *y = b;
	if (x->sv != y->sv)
		return x->sv < y->sv ? -1 : 1;
	return x->tb < y->tb ? -1 : x->tb > y->tb;
}

/* Step 4: the page from the window's entries.  Returns as scan. */
static int window_page(const tl_reader *r, const plan *p, wlist *w,
		       tl_doc_fn fn, void *arg,
		       char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	const char *field = p->sort == TL_SORT_CREATED ? "created_at"
						      : "updated_at";
	fold_buf fb[2] = { { NULL, 0 }, { NULL, 0 } };
	uint64_t last_sv = 0, last_tb = 0;
	size_t returned = 0;
	bool more = false;
	int rc = 0, mrc = 0;

	for (size_t i = 0; i < w->n && !rc && !mrc; i++) {
		went *e = &w->e[i];
		tl_rd v;
		int64_t ms;
		if (!e->doc.mv_size &&
		    (tl_list_docs_read++,
		     (mrc = tl_task_doc(r->db, r->txn, e->id, &e->doc))))
			break;
		if (!tl_doc_find(&e->doc, field, &v) || !tl_rd_time(&v, &ms)) {
			rc = tl_err_undecodable(err, "corrupt task record");
			break;
		}
		e->sv = ~tl_key_time(ms);
		e->tb = ~e->tb; /* created_seq, as the due sort has it */
	}
	if (!rc && !mrc && w->n) /* w->e is NULL without entries */
		qsort(w->e, w->n, sizeof *w->e, went_cmp);
	for (size_t i = 0; i < w->n && !rc && !mrc; i++) {
		const went *e = &w->e[i];
		cand c;
		/* the same task twice: under two of its tags */
		if (i && e->tb == w->e[i - 1].tb && e->sv == w->e[i - 1].sv)
			continue;
		if (p->has_cursor &&
		    (e->sv < p->cur_sv ||
		     (e->sv == p->cur_sv && e->tb <= p->cur_tb)))
			continue;
		errno = 0;
		int ok = cand_decode(&e->doc, &c) ? matches(p, &c, fb)
							 : -1;
		if (ok < 0) {
			rc = tl_err_undecodable(err, "corrupt task record");
			break;
		}
		if (!ok)
			continue;
		if (returned == p->limit) {
			more = true;
			break;
		}
		rc = fn(arg, e->doc.mv_data, e->doc.mv_size);
		returned++;
		last_sv = e->sv;
		last_tb = e->tb;
	}
	if (mrc)
		rc = mdb_fail(err, mrc);
	if (!rc && more)
		page_cursor(p, last_sv, last_tb, next_cursor);
	free(fb[0].p);
	free(fb[1].p);
	return rc;
}

/* A walk in the order asked for that reads at most budget entries, its
 * page held back: *done when it ended within them, and then the page is
 * given to fn as scan gives it.  Returns as scan. */
static int held_walk(const tl_reader *r, const plan *p, uint64_t budget,
		     tl_doc_fn fn, void *arg,
		     char next_cursor[TL_CURSOR_MAX], bool *done, tl_err *err)
{
	plan pb = *p;
	held h = { calloc(p->limit, sizeof *h.d), 0 };
	bool over = false;
	int rc;

	*done = false;
	if (!h.d)
		return tl_err_oom(err);
	pb.budget = budget;
	rc = scan(r, &pb, hold_doc, &h, next_cursor, &over, err);
	for (size_t i = 0; !rc && !over && i < h.n; i++)
		if ((rc = fn(arg, h.d[i].mv_data, h.d[i].mv_size)))
			next_cursor[0] = 0; /* as scan: no cursor */
	free(h.d);
	*done = rc || !over;
	if (!*done)
		next_cursor[0] = 0;
	return rc;
}

/* A page of `task list` with a due window under the created or updated
 * sort: steps 1 to 4 above. */
static int scan_due_window(const tl_reader *r, const plan *p, tl_doc_fn fn,
			   void *arg, char next_cursor[TL_CURSOR_MAX],
			   tl_err *err)
{
	const MDB_dbi *dbi = tl_view_dbis(
		r->db, p->dim == TL_DIM_RECORD ? "timeline" : "tasks");
	uint64_t first = tl_list_walk_ratio ? tl_list_walk_first : 0;
	wlist w = { NULL, 0, 0 };
	bool wide = false, done = false;
	int rc;

	next_cursor[0] = 0;
	if (!dbi || !p->leads_len || !p->spans_len)
		return scan(r, p, fn, arg, next_cursor, NULL, err);
	if (first && ((rc = held_walk(r, p, first, fn, arg, next_cursor, &done,
				      err)) ||
		      done))
		return rc;
	uint64_t walked = first;
	for (size_t max = tl_list_window_max;; max *= 8) {
		w.n = 0;
		wide = false;
		if ((rc = window_collect(r, p, dbi, max, &w, &wide))) {
			free(w.e);
			return rc == ENOMEM ? tl_err_oom(err)
					    : mdb_fail(err, rc);
		}
		if (!wide)
			break;
		/* wide: its tasks are dense in the walk, which finds the
		 * page in time, unless a filter that only documents answer
		 * (a search) rejects them: walk 32 entries per entry read,
		 * then read 8 times as much of the window, and so on */
		if (!max || !tl_list_walk_ratio || max > SIZE_MAX / 64) {
			free(w.e);
			return scan(r, p, fn, arg, next_cursor, NULL, err);
		}
		walked = (uint64_t)max * tl_list_walk_ratio;
		if ((rc = held_walk(r, p, walked, fn, arg, next_cursor, &done,
				    err)) ||
		    done) {
			free(w.e);
			return rc;
		}
	}
	if (!w.n) { /* the window lists nothing, nor does the walk */
		free(w.e);
		return 0;
	}
	uint64_t budget = (uint64_t)w.n * tl_list_walk_ratio;
	if (budget > walked &&
	    ((rc = held_walk(r, p, budget, fn, arg, next_cursor, &done, err)) ||
	     done)) {
		free(w.e);
		return rc;
	}
	rc = window_page(r, p, &w, fn, arg, next_cursor, err);
	free(w.e);
	return rc;
}

/* ---- the queries ------------------------------------------------------- */

int tl_task_list(tl_db *db, const tl_ctx *ctx, const tl_list_query *q,
		 tl_doc_fn fn, void *arg, char next_cursor[TL_CURSOR_MAX],
		 tl_err *err)
{
	plan p;
	tl_reader r;
	tl_cursor_copy cc;
	int rc;

	memset(&p, 0, sizeof p);
	tl_list_query qc = *q;
	qc.cursor = tl_doc_cursor_copy(q->cursor, &cc);
	q = &qc;
	next_cursor[0] = 0;
	/* check_list may have allocated (the searches' words) */
	if ((rc = check_list(ctx, q, &p, err)) ||
	    (rc = tl_reader_begin(db, ctx, &r, err))) {
		plan_release(&p);
		return rc;
	}
	if (!(rc = parse_dues(q, &p, &r, true, err)) &&
	    !(rc = resolve_assignees(q, &r, &p, err)) &&
	    !(rc = plan_scan(&p, &r, err)))
		rc = p.sort != TL_SORT_DUE && p.dues_len && !p.empty
			     ? scan_due_window(&r, &p, fn, arg, next_cursor, err)
			     : scan(&r, &p, fn, arg, next_cursor, NULL, err);
	tl_reader_end(&r);
	plan_release(&p);
	return rc;
}

int tl_upcoming(tl_db *db, const tl_ctx *ctx, tl_slice member, int days,
		size_t limit, tl_slice cursor, tl_doc_fn fn, void *arg,
		char next_cursor[TL_CURSOR_MAX], tl_err *err)
{
	plan p;
	tl_reader r;
	char qb[64];
	tl_cursor_copy cc;
	int rc;

	memset(&p, 0, sizeof p);
	cursor = tl_doc_cursor_copy(cursor, &cc);
	next_cursor[0] = 0;
	p.sort = TL_SORT_DUE;
	if (days <= 0)
		days = DEFAULT_DAYS;
	if (days > MAX_DAYS)
		return tl_err_set(err, TL_EINVALID, "days",
				  "must be at most %d (a century)", MAX_DAYS);
	if (member.p && !tl_member_id_valid(member))
		return tl_err_set(err, TL_EINVALID, "member",
				  "'%s' is not a member id",
				  tl_quote(member, qb, sizeof qb));
	if ((rc = check_limit(limit, &p, err)) ||
	    (rc = check_cursor(cursor, UPCOMING_CURSOR, &p, err)))
		return rc;
	/* The system user is known without a look-up: named, or as the
	 * acting member given (the default member, or `me`). */
	if (member.p && !slice_is(member, "me")
		    ? slice_is(member, TL_SYSTEM_USER)
		    : ctx && ctx->actor && !strcmp(ctx->actor, TL_SYSTEM_USER))
		return tl_err_set(err, TL_EINVALID, "member",
				  "'%s' is the system user, never an assignee",
				  TL_SYSTEM_USER);
	if ((rc = tl_reader_begin(db, ctx, &r, err)))
		return rc;

	bool named = member.p && !slice_is(member, "me");
	/* `unassigned`: the tasks no one holds, which every member may list
	 * (as task list --assignee unassigned). */
	bool nobody = named && slice_is(member, "unassigned");
	if (!named)
		member = tl_s(r.actor);
	/* Any member's, for every member with CRM access, who sees and
	 * edits all tasks (SPEC) and lists them with task list --assignee
	 * (before 0.3.51 another member's needed an admin). */
	if (nobody)
		member = tl_s("");
	if (slice_is(member, TL_SYSTEM_USER)) {
		/* as for task list --assignee, named or the actor: it never
		 * holds a task */
		rc = tl_err_set(err, TL_EINVALID, "member",
				"'%s' is the system user, never an assignee",
				TL_SYSTEM_USER);
		goto out;
	}
	if (!nobody &&
	    (rc = tl_member_find(db, r.txn, member, err)) == TL_ENOTFOUND) {
		rc = tl_err_set(err, TL_ENOTFOUND, "member",
				"no member '%s'",
				tl_quote(member, qb, sizeof qb));
		goto out;
	}
	if (rc)
		goto out;
	p.assignees = malloc(sizeof *p.assignees);
	if (!p.assignees) {
		rc = tl_err_oom(err);
		goto out;
	}
	p.assignees[0] = member;
	p.assignees_len = 1;
	p.dues[0] = (due_window){ .kind = DUE_RANGE, .has_lo = true,
				  .has_hi = true, .lo = r.now_ms,
				  .hi = r.now_ms + (int64_t)days * MS_PER_DAY };
	p.dues_len = 1;
	p.automation = AUTO_HIDE;
	if (!(rc = plan_scan(&p, &r, err)))
		rc = scan(&r, &p, fn, arg, next_cursor, NULL, err);
out:
	tl_reader_end(&r);
	plan_release(&p);
	return rc;
}
