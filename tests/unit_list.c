/*
 * unit_list.c - tests of the `tasks` view and its queries, tl_task_list
 * and tl_upcoming.
 *
 * Each test opens a fresh workspace with every view.  Tasks are named by
 * their titles, and a listing is compared as the string of its titles in
 * order ("a b c"), so that an expectation reads like the list it wants.
 * Local-calendar tests pick the days on which the clocks change, with the
 * boundaries computed independently (Python zoneinfo).  The randomized
 * test drives thousands of commands and compares every query shape, paged
 * with small limits, against a model computed from tl_task_get.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdint.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "list.h"
#include "tasklog_projections.h"
#include "tasklog.h"
#include "tasklog_view.h"

#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00Z, a Monday */
#define MIN INT64_C(60000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static char dir[64];
static tl_db *db;
static int64_t clock_ms = T0; /* the time commands run at */
static uint64_t ws_map_size;     /* of a new workspace; 0: the default */

/* ---- workspace -------------------------------------------------------- */

static void ws_open(void)
{
	tl_err err = { 0 };
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .map_size = ws_map_size };

	o.views = tl_views_all(&n);
	o.views_len = n;
	int rc = tl_db_open(dir, &o, &db, &err);
	cr_assert_eq(rc, 0, "tl_db_open: %s", err.message);
}

static void exec_ok(const char *actor, tl_cmd *c, tl_result *keep)
{
	tl_ctx ctx = { .actor = actor, .now_ms = clock_ms };
	tl_result res = { 0 };
	tl_err err = { 0 };
	int rc = tl_exec(db, &ctx, c, 1, &res, &err);

	cr_assert_eq(rc, 0, "command %d: %s: %s", c->kind, err.field,
		     err.message);
	if (keep)
		*keep = res;
	else
		tl_result_release(&res);
}

static void member(const char *id, const char *role, int crm)
{
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id), .name = tl_s(id),
		     .role = tl_s(role), .crm_access = crm };
	exec_ok(NULL, &c, NULL);
}

static void member_crm(const char *id, int crm)
{
	tl_cmd c = { .kind = TL_MEMBER_UPDATE, .id = tl_s(id),
		     .crm_access = crm };
	exec_ok(NULL, &c, NULL);
}

/* A workspace in zone tz (NULL: UTC) with weeks starting on week_start,
 * admin "admin", members alice, bob, dave, an admin root, and carol
 * without CRM access. */
static void ws_create(const char *tz, const char *week_start)
{
	tl_err err = { 0 };

	snprintf(dir, sizeof dir, "/tmp/tasklog-list-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	ws_open();
	tl_init_opts io = { .tz = tz, .week_start = week_start,
			    .now_ms = T0 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "init: %s", err.message);
	clock_ms = T0;
	member("alice", "member", 1);
	member("bob", "member", 1);
	member("dave", "member", 1);
	member("root", "admin", 1);
	member("carol", "member", -1);
}

static void setup(void)
{
	ws_create(NULL, NULL);
}

static int rm_one(const char *p, const struct stat *s, int f,
		  struct FTW *w)
{
	(void)s, (void)f, (void)w;
	return remove(p);
}

static void teardown(void)
{
	if (db)
		tl_db_close(db);
	db = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int verify(void)
{
	tl_err err = { 0 };
	int n = tl_verify(db, NULL, NULL, NULL, &err);
	cr_assert_geq(n, 0, "verify: %s", err.message);
	return n;
}

/* ---- commands ---------------------------------------------------------- */

typedef struct add_opts {
	const char *title, *link, *type, *due, *assignee, *status;
	int64_t due_ms; /* used when due is NULL and this is non-zero */
} add_opts;

static char ids[512][37]; /* by title: "t<n>" or any title, see id_of */
static char titles[512][64];
static size_t n_ids;

static const char *id_of(const char *title)
{
	for (size_t i = 0; i < n_ids; i++)
		if (!strcmp(titles[i], title))
			return ids[i];
	cr_assert_fail("no task titled %s", title);
	return NULL;
}

static const char *add_task(const add_opts *o)
{
	char due[32];
	tl_result res;
	tl_task t;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(o->title),
		     .link = tl_s(o->link ? o->link : "lead:1"),
		     .type = tl_s(o->type), .due = tl_s(o->due),
		     .assignee = tl_s(o->assignee), .status = tl_s(o->status) };

	if (!o->due && o->due_ms) {
		tl_time_format(o->due_ms, due);
		c.due = tl_s(due);
	}
	exec_ok(NULL, &c, &res);
	cr_assert_eq(tl_task_decode(res.doc, res.doc_len, &t), 0);
	cr_assert_lt(n_ids, 512);
	tl_uuid_format(t.id, ids[n_ids]);
	snprintf(titles[n_ids], sizeof titles[n_ids], "%s", o->title);
	tl_task_release(&t);
	tl_result_release(&res);
	return ids[n_ids++];
}
#define ADD(...) add_task(&(add_opts){ __VA_ARGS__ })

static void update(const char *title, tl_cmd c)
{
	c.id = tl_s(id_of(title));
	exec_ok(NULL, &c, NULL);
}
#define UPDATE(title, ...) \
	update(title, (tl_cmd){ .kind = TL_TASK_UPDATE, __VA_ARGS__ })

static void assign(const char *title, const char *who)
{
	update(title, (tl_cmd){ .kind = TL_TASK_ASSIGN,
				.assignee = tl_s(who), .unassign = !who });
}

static void set_status(const char *title, const char *st)
{
	update(title, (tl_cmd){ .kind = TL_TASK_STATUS, .status = tl_s(st) });
}

static void simple(const char *title, tl_cmd_kind kind)
{
	update(title, (tl_cmd){ .kind = kind });
}

/* ---- queries ------------------------------------------------------------- */

#define MANY 16
typedef struct lq {
	const char *assignee[MANY], *status[MANY], *entity[MANY], *type[MANY];
	const char *tag[MANY];
	const char *search[MANY];
	const char *record, *due, *automation, *sort, *cursor;
	const char *due2; /* a second due window, OR-combined (dues) */
	size_t limit;
	const char *as, *tz;
	int64_t now; /* 0: clock_ms */
} lq;

typedef struct page {
	char text[8192]; /* titles, space-separated */
	char ids[1024][37];
	size_t n;
	char next[TL_CURSOR_MAX];
	int rc;
	tl_err err;
} page;

static int collect(void *arg, const uint8_t *doc, size_t len)
{
	page *pg = arg;
	tl_task t;

	cr_assert_eq(tl_task_decode(doc, len, &t), 0, "undecodable task");
	cr_assert_lt(pg->n, 1024);
	tl_uuid_format(t.id, pg->ids[pg->n++]);
	size_t o = strlen(pg->text);
	snprintf(pg->text + o, sizeof pg->text - o, "%s%s", o ? " " : "",
		 t.title);
	tl_task_release(&t);
	return 0;
}

static size_t slices(const char *const *v, tl_slice *out)
{
	size_t n = 0;
	while (n < MANY && v[n]) {
		out[n] = tl_s(v[n]);
		n++;
	}
	return n;
}

static void run_list(const lq *q, page *pg)
{
	tl_slice a[MANY], s[MANY], e[MANY], t[MANY], g[MANY], sr[MANY];
	tl_slice d2 = tl_s(q->due2);
	tl_list_query tq = {
		.dues = q->due2 ? &d2 : NULL, .dues_len = q->due2 ? 1 : 0,
		.assignees = a, .assignees_len = slices(q->assignee, a),
		.statuses = s, .statuses_len = slices(q->status, s),
		.entity_types = e, .entity_types_len = slices(q->entity, e),
		.types = t, .types_len = slices(q->type, t),
		.record = tl_s(q->record), .due = tl_s(q->due),
		.automation = tl_s(q->automation), .sort = tl_s(q->sort),
		.limit = q->limit, .cursor = tl_s(q->cursor),
		.tags = g, .tags_len = slices(q->tag, g),
		.searches = sr, .searches_len = slices(q->search, sr),
	};
	tl_ctx ctx = { .actor = q->as, .tz = q->tz,
		       .now_ms = q->now ? q->now : clock_ms };

	memset(pg, 0, sizeof *pg);
	pg->rc = tl_task_list(db, &ctx, &tq, collect, pg, pg->next, &pg->err);
}

static page pg_static;

/* The titles of one page, in order; fails the test on an error. */
static const char *list(const lq *q)
{
	run_list(q, &pg_static);
	cr_assert_eq(pg_static.rc, 0, "list: %d %s: %s", pg_static.rc,
		     pg_static.err.field, pg_static.err.message);
	return pg_static.text;
}
#define LIST(...) list(&(lq){ __VA_ARGS__ })

/* Every page with the given limit, joined. */
static const char *list_all(lq q, size_t limit)
{
	static char all[16384];
	static char cursor[TL_CURSOR_MAX];
	page *pg = malloc(sizeof *pg);

	all[0] = 0;
	q.limit = limit;
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 1000, "paging does not end");
		run_list(&q, pg);
		cr_assert_eq(pg->rc, 0, "list: %s: %s", pg->err.field,
			     pg->err.message);
		cr_assert_leq(pg->n, limit);
		if (pg->n) {
			size_t o = strlen(all);
			snprintf(all + o, sizeof all - o, "%s%s", o ? " " : "",
				 pg->text);
		}
		if (!pg->next[0])
			break;
		cr_assert_gt(pg->n, 0, "an empty page with a next cursor");
		snprintf(cursor, sizeof cursor, "%s", pg->next);
		q.cursor = cursor;
	}
	free(pg);
	return all;
}
#define LIST_ALL(limit, ...) list_all((lq){ __VA_ARGS__ }, limit)

/* The query fails with code, naming field. */
static void list_fails(const lq *q, int code, const char *field)
{
	page *pg = malloc(sizeof *pg);
	run_list(q, pg);
	cr_assert_eq(pg->rc, code, "wanted %d naming %s, got %d (%s: %s)",
		     code, field, pg->rc, pg->err.field, pg->err.message);
	cr_assert_str_eq(pg->err.field, field, "message: %s",
			 pg->err.message);
	cr_assert_eq(pg->n, 0, "failed but listed tasks");
	cr_assert_str_eq(pg->next, "");
	free(pg);
}
#define LIST_FAILS(code, field, ...) list_fails(&(lq){ __VA_ARGS__ }, code, field)

typedef struct uq {
	const char *member, *as, *cursor;
	int days;
	size_t limit;
	int64_t now;
} uq;

static void run_upcoming(const uq *q, page *pg)
{
	tl_ctx ctx = { .actor = q->as, .now_ms = q->now ? q->now : clock_ms };
	memset(pg, 0, sizeof *pg);
	pg->rc = tl_upcoming(db, &ctx, tl_s(q->member), q->days, q->limit,
			     tl_s(q->cursor), collect, pg, pg->next, &pg->err);
}

static const char *upcoming(const uq *q)
{
	run_upcoming(q, &pg_static);
	cr_assert_eq(pg_static.rc, 0, "upcoming: %s: %s", pg_static.err.field,
		     pg_static.err.message);
	return pg_static.text;
}
#define UPCOMING(...) upcoming(&(uq){ __VA_ARGS__ })

/* The query fails with code, naming field (any field when NULL). */
static void upcoming_fails(const uq *q, int code, const char *field)
{
	page *pg = malloc(sizeof *pg);
	run_upcoming(q, pg);
	cr_assert_eq(pg->rc, code, "wanted %d, got %d (%s: %s)", code, pg->rc,
		     pg->err.field, pg->err.message);
	if (field)
		cr_assert_str_eq(pg->err.field, field, "message: %s",
				 pg->err.message);
	free(pg);
}
#define UPCOMING_FAILS(code, field, ...) \
	upcoming_fails(&(uq){ __VA_ARGS__ }, code, field)

TestSuite(list, .init = setup, .fini = teardown);
TestSuite(list_weeks, .fini = teardown);
TestSuite(upcoming, .init = setup, .fini = teardown);

/* ---- filters -------------------------------------------------------------- */

static int no_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)arg, (void)doc, (void)len;
	return 0;
}

/* A count without its array names the filter, TL_EINVALID (since 0.3.51;
 * it crashed). */
Test(list, a_count_without_its_array_is_invalid)
{
	static const char *const fields[] = { "assignee", "status",
					      "entity_type", "type", "due",
					      "tag", "search" };
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		tl_list_query q = { 0 };
		size_t *lens[] = { &q.assignees_len, &q.statuses_len,
				   &q.entity_types_len, &q.types_len,
				   &q.dues_len, &q.tags_len, &q.searches_len };
		*lens[i] = 1;
		char next[TL_CURSOR_MAX];
		tl_err err = { 0 };
		tl_ctx ctx = { .actor = "alice", .now_ms = clock_ms };
		cr_assert_eq(tl_task_list(db, &ctx, &q, no_doc, NULL, next,
					  &err),
			     TL_EINVALID, "%s", fields[i]);
		cr_assert_str_eq(err.field, fields[i]);
	}
}

Test(list, is_empty_in_a_new_workspace)
{
	cr_assert_str_eq(LIST(), "");
	cr_assert_str_eq(pg_static.next, "");
}

Test(list, shows_active_tasks_by_default)
{
	ADD(.title = "a");
	ADD(.title = "b", .status = "in_progress");
	ADD(.title = "c", .status = "on_hold");
	ADD(.title = "d", .status = "completed");
	ADD(.title = "e", .status = "cancelled");
	cr_assert_str_eq(LIST(), "a b c");
}

Test(list, filters_by_status_and_ors_its_values)
{
	ADD(.title = "a");
	ADD(.title = "b", .status = "in_progress");
	ADD(.title = "c", .status = "on_hold");
	ADD(.title = "d", .status = "completed");
	ADD(.title = "e", .status = "cancelled");
	cr_assert_str_eq(LIST(.status = { "todo" }), "a");
	cr_assert_str_eq(LIST(.status = { "completed" }), "d");
	cr_assert_str_eq(LIST(.status = { "cancelled", "todo" }), "a e");
	cr_assert_str_eq(LIST(.status = { "completed", "cancelled",
					   "on_hold" }),
			 "c d e");
	cr_assert_str_eq(LIST(.status = { "todo", "todo" }), "a");
}

Test(list, filters_by_assignee_me_and_unassigned)
{
	ADD(.title = "a", .assignee = "alice");
	ADD(.title = "b", .assignee = "bob");
	ADD(.title = "c");
	ADD(.title = "d", .assignee = "admin");
	ADD(.title = "e", .assignee = "alice", .status = "completed");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "a");
	cr_assert_str_eq(LIST(.assignee = { "unassigned" }), "c");
	cr_assert_str_eq(LIST(.assignee = { "me" }), "d");
	cr_assert_str_eq(LIST(.assignee = { "me" }, .as = "bob"), "b");
	cr_assert_str_eq(LIST(.assignee = { "alice", "unassigned" }), "a c");
	cr_assert_str_eq(LIST(.assignee = { "alice", "alice", "me" }),
			 "a d");
	cr_assert_str_eq(LIST(.assignee = { "alice" },
			      .status = { "completed", "todo" }),
			 "a e");
	cr_assert_str_eq(LIST(.assignee = { "dave" }), "");
	/* A member who lost CRM access keeps the tasks assigned before:
	 * an admin finds them to hand them over; so does upcoming. */
	ADD(.title = "f", .assignee = "dave", .due = "+1d");
	member_crm("dave", -1);
	cr_assert_str_eq(LIST(.assignee = { "dave" }), "f");
	cr_assert_str_eq(UPCOMING(.member = "dave"), "f");
	cr_assert_str_eq(LIST(.assignee = { "carol" }), "");
}

/* The last event of the log, as stored (malloc'd copy). */
static int keep_last(void *arg, const tl_event *ev)
{
	tl_slice *out = arg;
	free((void *)out->p);
	out->p = malloc(ev->raw_len);
	cr_assert_not_null(out->p);
	memcpy((void *)out->p, ev->raw, ev->raw_len);
	out->len = ev->raw_len;
	return 0;
}

/* "me" is the actor, whatever its id.  Since 0.3.7 no command makes a
 * member called "unassigned" (the filters' word), but a workspace of an
 * older release may hold one, and its log imports: such a member lists
 * its own tasks with "me", and "unassigned" still means no assignee.
 * The member.added of "unassignex" is made into one of "unassigned",
 * with the next seq and its chain hash, as an older release wrote it. */
Test(list, me_is_the_actor_even_when_its_id_is_unassigned)
{
	tl_err err = { 0 };
	tl_slice rec = { 0 };
	member("unassignex", "member", 1);
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, keep_last,
				 &rec, &err),
		     0, "%s", err.message);
	uint8_t *r = malloc(rec.len), prev[TL_HASH_LEN];
	memcpy(r, rec.p, rec.len);
	memcpy(prev, r + rec.len - TL_HASH_LEN, TL_HASH_LEN);
	/* {"seq": N, ...}: N a positive fixint here */
	cr_assert(r[1] == 0xa3 && !memcmp(r + 2, "seq", 3) && r[5] < 0x7f);
	r[5]++;
	int renamed = 0;
	for (size_t i = 0; i + 10 <= rec.len; i++)
		if (!memcmp(r + i, "unassignex", 10)) {
			r[i + 9] = 'd';
			renamed++;
		}
	cr_assert_geq(renamed, 2); /* the stream and the member id */
	tl_event_hash(prev, r, rec.len, r + rec.len - TL_HASH_LEN);
	const uint8_t *recs[1] = { r };
	cr_assert_eq(tl_log_import(db, recs, &rec.len, 1, &err), 0, "%s",
		     err.message);
	free(r);
	free((void *)rec.p);

	ADD(.title = "mine", .assignee = "unassigned");
	ADD(.title = "nobodys");
	cr_assert_str_eq(LIST(.assignee = { "me" }, .as = "unassigned"),
			 "mine");
	cr_assert_str_eq(LIST(.assignee = { "unassigned" }), "nobodys");
}

Test(list, filters_by_type)
{
	ADD(.title = "a", .type = "call");
	ADD(.title = "b", .type = "email");
	ADD(.title = "c");
	ADD(.title = "d", .type = "call", .status = "cancelled");
	cr_assert_str_eq(LIST(.type = { "call" }), "a");
	cr_assert_str_eq(LIST(.type = { "task", "email" }), "b c");
	cr_assert_str_eq(LIST(.type = { "call" }, .status = { "cancelled" }),
			 "d");
	cr_assert_str_eq(LIST(.type = { "demo" }), "");
}

/* A type or entity type filter walks the ranges of its kinds (K), not
 * every task of the statuses asked for: 300 calls on leads due every 10
 * minutes from T0 (50 hours), and 3 demos on contacts due a day after
 * T0, among them; a page of demos costs the same as if they were alone,
 * in any status. */
static void add_calls_and_demos(void)
{
	for (int i = 0; i < 300; i++) {
		char title[16], link[16];
		snprintf(title, sizeof title, "c%d", i);
		snprintf(link, sizeof link, "lead:%d", i);
		ADD(.title = title, .type = "call", .link = link,
		    .due_ms = T0 + (int64_t)i * 600000);
		if (i % 100 == 99) {
			snprintf(title, sizeof title, "d%d", i / 100);
			ADD(.title = title, .type = "demo",
			    .link = "contact:1", .due_ms = T0 + 86400000);
		}
	}
}

/* The titles of a page, and the index entries it read. */
static const char *list_counted(const lq *q, uint64_t *read)
{
	tl_list_entries_read = 0;
	const char *t = list(q);
	*read = tl_list_entries_read;
	return t;
}

/* Case i: query q lists want, reading at most `most` index entries. */
static void page_costs(size_t i, const lq *q, const char *want, uint64_t most)
{
	uint64_t read;
	cr_assert_str_eq(list_counted(q, &read), want, "case %zu", i);
	cr_assert_leq(read, most, "case %zu read %llu entries, at most %llu",
		      i, (unsigned long long)read, (unsigned long long)most);
}

Test(list, a_type_or_entity_type_page_reads_only_its_kinds)
{
	add_calls_and_demos();
	/* The entries read: the page's and one past the end of each range
	 * (one per status asked for and type and entity type they leave:
	 * a type among the active statuses 12, an entity type 30). */
	static const struct {
		lq q;
		const char *want;
		uint64_t ranges;
	} cases[] = {
		{ { .type = { "demo" } }, "d0 d1 d2", 12 },
		{ { .type = { "demo" }, .sort = "created" }, "d2 d1 d0", 12 },
		{ { .type = { "demo" }, .sort = "updated" }, "d2 d1 d0", 12 },
		{ { .entity = { "contact" }, .sort = "updated" }, "d2 d1 d0",
		  30 },
		{ { .entity = { "contact" } }, "d0 d1 d2", 30 },
		{ { .type = { "demo" }, .entity = { "contact" } }, "d0 d1 d2",
		  3 },
		{ { .type = { "demo", "meeting", "chat" } }, "d0 d1 d2", 36 },
		{ { .type = { "demo" }, .status = { "todo" } }, "d0 d1 d2", 4 },
		{ { .type = { "demo" }, .due = "+1d.." }, "d0 d1 d2", 12 },
		{ { .type = { "demo" }, .status = { "todo", "completed" } },
		  "d0 d1 d2", 8 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		page_costs(i, &cases[i].q, cases[i].want, 3 + cases[i].ranges);

	/* Without K (too many ranges) S leads: the same tasks, after a
	 * walk of the calls. */
	uint64_t read;
	cr_assert_str_eq(list_counted(&(lq){ .type = { "demo", "meeting",
						       "chat", "note" },
					     .sort = "updated" },
				      &read),
			 "d2 d1 d0");
	cr_assert_geq(read, 300);
	cr_assert_str_eq(LIST(.type = { "demo", "meeting", "chat", "note" }),
			 "d0 d1 d2");
	cr_assert_str_eq(LIST(.entity = { "contact", "account" }), "d0 d1 d2");
	cr_assert_eq(verify(), 0);
}

static void tag(const char *title, const char *t)
{
	tl_slice v = tl_s(t);
	update(title, (tl_cmd){ .kind = TL_TASK_TAG, .tags = &v,
				.tags_len = 1 });
}

static void untag(const char *title, const char *t)
{
	tl_slice v = tl_s(t);
	update(title, (tl_cmd){ .kind = TL_TASK_UNTAG, .tags = &v,
				.tags_len = 1 });
}

/* Under the created or updated sort a due window bounds no range of that
 * sort, but the leading ranges' due sort holds it (0.3.28): the page
 * reads the window's entries, a bounded walk in the order asked for, and
 * makes the page from the window when that walk does not end; what lies
 * outside the window costs nothing.  c144 and the three demos are due at
 * T0 + 1 day, among 303 tasks. */
Test(list, a_due_window_under_another_sort_reads_the_window)
{
	add_calls_and_demos();
	tl_list_window_way(3);
	/* as if the workspace were large: no first walk, which would read
	 * all 303 tasks here */
	tl_list_walk_first = 0;
	uint64_t ratio = tl_list_walk_ratio;
	static const char *const window =
		"2026-03-03T09:00:00Z..2026-03-03T09:00:01Z";
	static const struct {
		lq q;
		const char *want;
		uint64_t ranges, kept;
	} cases[] = {
		{ { .due = window, .sort = "created" }, "d2 d1 c144 d0", 3, 4 },
		{ { .due = window, .sort = "updated" }, "d2 d1 c144 d0", 3, 4 },
		{ { .due = window, .sort = "created", .type = { "demo" } },
		  "d2 d1 d0", 12, 3 },
		{ { .due = window, .sort = "updated", .record = "lead:144" },
		  "c144", 1, 1 },
		{ { .due = window, .due2 = "2026-03-04T10:40:00Z..2026-03-04T10:41:00Z",
		    .sort = "created", .status = { "todo", "completed" } },
		  "d2 c298 d1 c144 d0", 2, 5 },
		/* empty windows: a seek per range */
		{ { .due = "2026-03-10..2026-03-11", .sort = "updated" }, "", 3,
		  0 },
		{ { .due = "none", .sort = "created" }, "", 3, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* the window and one past the end of each range, then at
		 * most the walk's budget and one entry past it */
		page_costs(i, &cases[i].q, cases[i].want,
			   cases[i].ranges + cases[i].kept +
				   (cases[i].kept ? ratio * cases[i].kept + 1
						  : 0));
		/* the same tasks a page at a time, and by the walk alone */
		lq one = cases[i].q;
		cr_assert_str_eq(list_all(one, 1), cases[i].want, "case %zu", i);
		for (unsigned way = 0; way < 4; way++) {
			tl_list_window_way(way);
			cr_assert_str_eq(list_all(one, 1), cases[i].want,
					 "case %zu way %u", i, way);
		}
		tl_list_window_way(3);
		tl_list_walk_first = 0;
	}

	/* A task under two of the tags asked for is in two ranges: listed
	 * once, by each way. */
	tag("c144", "vip");
	tag("c144", "hot");
	tag("d1", "hot");
	for (unsigned way = 0; way < 4; way++) {
		tl_list_window_way(way);
		lq t = { .due = window, .sort = "updated",
			 .tag = { "vip", "hot" } };
		cr_assert_str_eq(list_all(t, 1), "d1 c144", "way %u", way);
		cr_assert_str_eq(list_all(t, 5), "d1 c144", "way %u", way);
	}
	tl_list_window_way(3);
	tl_list_walk_first = 0;

	/* Taken alone, the walk in creation order passes the calls that
	 * lie outside the window; the page from the window does not. */
	uint64_t read;
	const lq q = { .due = window, .sort = "created", .limit = 2 };
	tl_list_window_way(0);
	cr_assert_str_eq(list_counted(&q, &read), "d2 d1");
	cr_assert_geq(read, 100);
	tl_list_window_way(2);
	cr_assert_str_eq(list_counted(&q, &read), "d2 d1");
	cr_assert_leq(read, 3 + 4);
	/* A first walk that the window fills ends the page there. */
	tl_list_window_way(3);
	cr_assert_str_eq(list_counted(&(lq){ .due = window, .sort = "created",
					    .limit = 1 },
				      &read),
			 "d2");
	cr_assert_leq(read, 3 + 64 + 2, "read %llu", (unsigned long long)read);
	/* A window wider than tl_list_window_max: the walk. */
	tl_list_walk_first = 0;
	tl_list_window_max = 8;
	cr_assert_str_eq(list_counted(&(lq){ .due = "2026-03-02..2026-03-05",
					    .sort = "created", .limit = 2 },
				      &read),
			 "d2 c299");
	cr_assert_leq(read, 3 + 9 + 3);
	tl_list_window_way(3);
}

/* A wide window (past tl_list_window_max) whose tasks a search rejects:
 * the walk in the order asked for would pass every task of the ranges
 * (before 0.3.39 it did: a scale audit found `--search X --due today
 * --sort created` reading 753,684 entries at a million tasks); now it
 * walks 32 entries (here 2) per entry of the window read, then reads 8
 * times as much of the window, and makes the page from the window once
 * read whole.  c0..c39 are due in the window, the oldest of 303 tasks,
 * so the walk in creation order reaches them last. */
Test(list, a_wide_window_that_a_search_empties_does_not_walk_every_task)
{
	add_calls_and_demos();
	static const char *const window =
		"2026-03-02T09:00:00Z..2026-03-02T15:40:00Z";
	static const struct {
		const char *search, *want;
	} cases[] = {
		{ "zz", "" },
		{ "c3", "c39 c38 c37 c36 c35 c34 c33 c32 c31 c30 c3" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int sort = 0; sort < 2; sort++) {
			lq q = { .due = window,
				 .sort = sort ? "updated" : "created",
				 .search = { cases[i].search } };
			uint64_t read;
			tl_list_window_way(0); /* the walk alone */
			cr_assert_str_eq(list(&q), cases[i].want);
			cr_assert_geq(tl_list_entries_read, 300);
			tl_list_window_way(3);
			tl_list_walk_first = 0;
			tl_list_window_max = 8;
			tl_list_walk_ratio = 2;
			cr_assert_str_eq(list_counted(&q, &read), cases[i].want,
					 "case %zu", i);
			/* 9 of the window, a walk of 16, 40 of the window and
			 * one past each range's end, a walk of 80 */
			cr_assert_leq(read, 9 + 16 + 40 + 3 + 80 + 3,
				      "case %zu sort %d read %llu", i, sort,
				      (unsigned long long)read);
			/* paged, the same */
			cr_assert_str_eq(list_all(q, 3), cases[i].want);
		}
	}
	tl_list_window_way(3);
}

/* Under the due sort several due windows are read window by window: a
 * page seeks past what lies between them (0.3.28; before, the scan
 * walked from the first window's start to the last one's end). */
Test(list, due_windows_apart_read_only_themselves)
{
	add_calls_and_demos();
	ADD(.title = "u0");
	ADD(.title = "u1", .type = "demo");
	ADD(.title = "edge", .type = "email",
	    .due = "2026-03-02T09:04:59.999Z");
	static const struct {
		lq q;
		const char *want;
		uint64_t most;
	} cases[] = {
		/* c0, edge (at the window's last millisecond) and the
		 * undated: 3 ranges, each a seek to none */
		{ { .due = "2026-03-02T09:00:00Z..2026-03-02T09:05:00Z",
		    .due2 = "none" },
		  "c0 edge u0 u1", 3 * 3 + 4 },
		{ { .due = "none",
		    .due2 = "2026-03-03T09:00:00Z..2026-03-03T09:00:01Z" },
		  "d0 c144 d1 d2 u0 u1", 3 * 3 + 6 },
		{ { .due = "none", .due2 = "2026-03-02T09:00:00Z..2026-03-02T09:05:00Z",
		    .type = { "demo" } },
		  "u1", 12 * 3 + 1 },
		/* overlapping windows are one */
		{ { .due = "2026-03-02T09:00:00Z..2026-03-02T09:15:00Z",
		    .due2 = "2026-03-02T09:05:00Z..2026-03-02T09:25:00Z" },
		  "c0 edge c1 c2", 3 * 2 + 4 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		page_costs(i, &cases[i].q, cases[i].want, cases[i].most);
		cr_assert_str_eq(list_all(cases[i].q, 1), cases[i].want,
				 "case %zu", i);
	}
}

/* `overdue` lets active tasks alone pass: a range of done tasks reads
 * nothing of it, under every sort (0.3.28; before, a completed range
 * was walked through the window, each task rejected on its value). */
Test(list, an_overdue_window_reads_no_done_task)
{
	ADD(.title = "late", .due_ms = T0 - 3600000);
	for (int i = 0; i < 150; i++) {
		char title[16];
		snprintf(title, sizeof title, "k%d", i);
		ADD(.title = title, .status = "completed",
		    .due_ms = T0 - 86400000); /* yesterday */
	}
	ADD(.title = "fresh");
	tl_list_walk_first = 0; /* as if the workspace were large */
	static const struct {
		lq q;
		const char *want;
		uint64_t most;
	} cases[] = {
		/* the todo range's one entry and one past it; the walk's
		 * budget (32 for the entry kept) and one past it */
		{ { .status = { "todo", "completed" }, .due = "overdue",
		    .sort = "created" },
		  "late", 2 + 32 + 1 },
		{ { .status = { "todo", "completed" }, .due = "overdue",
		    .sort = "updated" },
		  "late", 2 + 32 + 1 },
		{ { .status = { "todo", "completed" }, .due = "overdue" },
		  "late", 3 },
		{ { .status = { "completed", "cancelled" }, .due = "overdue" },
		  "", 0 }, /* no range of these has a window: nothing read */
		{ { .status = { "completed" }, .due = "overdue",
		    .sort = "created" },
		  "", 0 },
		/* today holds done tasks too: the completed range reads that
		 * window alone */
		{ { .status = { "todo", "completed" }, .due = "overdue",
		    .due2 = "today" },
		  "late", 4 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		page_costs(i, &cases[i].q, cases[i].want, cases[i].most);
		for (unsigned way = 0; way < 4; way++) {
			tl_list_window_way(way);
			cr_assert_str_eq(list_all(cases[i].q, 1), cases[i].want,
					 "case %zu way %u", i, way);
		}
		tl_list_window_way(3);
		tl_list_walk_first = 0;
	}
	tl_list_window_way(3);
	/* nor with the first walk of a created sort's page, whose ranges all
	 * hold done tasks (a review, 0.3.29: it walked 151 entries, up to
	 * 1,024 in a large workspace, before it found no window) */
	for (unsigned s = 0; s < 3; s++)
		page_costs(s,
			   &(lq){ .status = { "completed" }, .due = "overdue",
				  .sort = s == 0 ? "created"
					  : s == 1 ? "updated"
						   : "due" },
			   "", 0);
	/* the done tasks are there, in a window that lets them pass */
	cr_assert_str_eq(list_all((lq){ .status = { "completed" },
					.due = "..2026-03-02T08:00:00Z",
					.sort = "created" },
				  200),
			 "k149 k148 k147 k146 k145 k144 k143 k142 k141 k140 "
			 "k139 k138 k137 k136 k135 k134 k133 k132 k131 k130 "
			 "k129 k128 k127 k126 k125 k124 k123 k122 k121 k120 "
			 "k119 k118 k117 k116 k115 k114 k113 k112 k111 k110 "
			 "k109 k108 k107 k106 k105 k104 k103 k102 k101 k100 "
			 "k99 k98 k97 k96 k95 k94 k93 k92 k91 k90 k89 k88 k87 "
			 "k86 k85 k84 k83 k82 k81 k80 k79 k78 k77 k76 k75 k74 "
			 "k73 k72 k71 k70 k69 k68 k67 k66 k65 k64 k63 k62 k61 "
			 "k60 k59 k58 k57 k56 k55 k54 k53 k52 k51 k50 k49 k48 "
			 "k47 k46 k45 k44 k43 k42 k41 k40 k39 k38 k37 k36 k35 "
			 "k34 k33 k32 k31 k30 k29 k28 k27 k26 k25 k24 k23 k22 "
			 "k21 k20 k19 k18 k17 k16 k15 k14 k13 k12 k11 k10 k9 "
			 "k8 k7 k6 k5 k4 k3 k2 k1 k0");
}

/* So does a tag's range of cancelled tasks: its dimval's low bits are
 * the status (4, cancelled), and no overdue window is walked in it. */
Test(list, an_overdue_window_reads_no_cancelled_task_of_a_tag)
{
	ADD(.title = "late", .due_ms = T0 - 3600000);
	tag("late", "vip");
	for (int i = 0; i < 40; i++) {
		char title[16];
		snprintf(title, sizeof title, "x%d", i);
		ADD(.title = title, .due_ms = T0 - 86400000);
		tag(title, "vip");
		set_status(title, "cancelled");
	}
	tl_list_walk_first = 0; /* as if the workspace were large */
	for (unsigned s = 0; s < 3; s++) {
		const char *sort = s == 0 ? "due" : s == 1 ? "created"
							  : "updated";
		page_costs(s,
			   &(lq){ .tag = { "vip" }, .status = { "cancelled" },
				  .due = "overdue", .sort = sort },
			   "", 0);
		/* the todo range's entry and one past it, one of the
		 * cancelled range (no window of it: it ends there); under
		 * the other sorts the walk's 32 for the entry kept */
		page_costs(s,
			   &(lq){ .tag = { "vip" },
				  .status = { "todo", "cancelled" },
				  .due = "overdue", .sort = sort },
			   "late", s ? 3 + 32 + 1 : 3);
	}
	/* they are there, in a window that lets them pass */
	cr_assert_str_eq(list_all((lq){ .tag = { "vip" },
					.status = { "cancelled" },
					.due = "..-12h" },
				  50),
			 "x0 x1 x2 x3 x4 x5 x6 x7 x8 x9 x10 x11 x12 x13 x14 "
			 "x15 x16 x17 x18 x19 x20 x21 x22 x23 x24 x25 x26 x27 "
			 "x28 x29 x30 x31 x32 x33 x34 x35 x36 x37 x38 x39");
}

/* --tag reads the tags' own ranges (G, one per tag and status asked
 * for): a page of three tagged tasks among 303 reads those three and
 * one past the end of each range, under every sort, in any status; a
 * task with two of the tags asked for is listed once, on every page. */
Test(list, a_tag_page_reads_only_its_ranges)
{
	add_calls_and_demos();
	static const char *const tagged[][2] = {
		{ "c5", "vip" }, { "c150", "vip" }, { "c150", "hot" },
		{ "d2", "vip" }, { "c7", "hot" },
	};
	for (size_t i = 0; i < 5; i++) {
		clock_ms += 60000; /* updated: c7, d2, c150, c5 */
		tag(tagged[i][0], tagged[i][1]);
	}
	static const struct {
		lq q;
		const char *want;
		uint64_t most;
	} cases[] = {
		{ { .tag = { "vip" } }, "c5 d2 c150", 3 + 3 },
		{ { .tag = { "vip" }, .sort = "created" }, "d2 c150 c5", 3 + 3 },
		{ { .tag = { "vip" }, .sort = "updated" }, "d2 c150 c5", 3 + 3 },
		{ { .tag = { "hot" } }, "c7 c150", 2 + 3 },
		/* c150 in both tags' ranges: once */
		{ { .tag = { "vip", "hot" } }, "c5 c7 d2 c150", 5 + 6 },
		{ { .tag = { "vip", "hot" }, .sort = "updated" },
		  "c7 d2 c150 c5", 5 + 6 },
		{ { .tag = { "vip" }, .type = { "demo" } }, "d2", 3 + 3 },
		{ { .tag = { "vip" }, .status = { "todo" } }, "c5 d2 c150",
		  3 + 1 },
		{ { .tag = { "nobody" } }, "", 3 },
		/* past 40 (tag, status) ranges G still leads (0.3.39; before,
		 * the statuses' ranges did, reading every document): 14 tags
		 * among the active statuses, 9 among all five */
		{ { .tag = { "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8",
			     "n9", "n10", "n11", "n12", "n13", "vip" } },
		  "c5 d2 c150", 3 + 14 * 3 },
		{ { .tag = { "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8",
			     "vip" },
		    .status = { "todo", "in_progress", "on_hold", "completed",
				"cancelled" },
		    .sort = "created" },
		  "d2 c150 c5", 3 + 9 * 5 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t read;
		const char *got = list_counted(&cases[i].q, &read);
		cr_assert_str_eq(got, cases[i].want, "case %zu: %s", i, got);
		cr_assert_leq(read, cases[i].most,
			      "case %zu read %llu entries", i,
			      (unsigned long long)read);
	}
	/* pages of one: every task once, c150 included */
	cr_assert_str_eq(LIST_ALL(1, .tag = { "vip", "hot" }),
			 "c5 c7 d2 c150");
	cr_assert_str_eq(LIST_ALL(1, .tag = { "hot", "vip" },
				  .sort = "created"),
			 "d2 c150 c7 c5");
	/* done, on hold, untagged, deleted: each moves its keys */
	simple("c5", TL_TASK_COMPLETE);
	set_status("c150", "on_hold");
	uint64_t read;
	cr_assert_str_eq(list_counted(&(lq){ .tag = { "vip" },
					     .status = { "completed" } },
				      &read),
			 "c5");
	cr_assert_leq(read, 1 + 1);
	cr_assert_str_eq(LIST(.tag = { "vip" }), "d2 c150");
	untag("c150", "vip");
	cr_assert_str_eq(LIST(.tag = { "vip" }), "d2");
	cr_assert_str_eq(LIST(.tag = { "hot" }), "c7 c150");
	simple("c7", TL_TASK_DELETE);
	cr_assert_str_eq(LIST(.tag = { "hot" }), "c150");
	/* a tag's case is its own: "VIP" is another tag */
	cr_assert_str_eq(LIST(.tag = { "VIP" }), "");
	/* 14 tags make 42 ranges: G leads all the same (before 0.3.39 S
	 * did, after a walk of the others), and the moves above show. */
	lq many = { .tag = { "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8",
			     "t9", "t10", "t11", "t12", "t13", "vip" } };
	cr_assert_str_eq(list_counted(&many, &read), "d2");
	cr_assert_leq(read, 1 + 14 * 3);
	many.tag[13] = "hot";
	cr_assert_str_eq(list_counted(&many, &read), "c150");
	cr_assert_leq(read, 1 + 14 * 3);
	cr_assert_eq(verify(), 0);
}

/* 300 calls c0..c299 due 10 minutes apart, and after each hundredth a
 * demo d0..d2 due a day after T0: of the assignee (NULL: none), linked to
 * call_link and demo_link (NULL: the default link). */
static void calls_then_demos(const char *assignee, const char *call_link,
			     const char *demo_link)
{
	for (int i = 0; i < 300; i++) {
		char title[16];
		snprintf(title, sizeof title, "c%d", i);
		ADD(.title = title, .type = "call", .assignee = assignee,
		    .link = call_link, .due_ms = T0 + (int64_t)i * 600000);
		if (i % 100 == 99) {
			snprintf(title, sizeof title, "d%d", i / 100);
			ADD(.title = title, .type = "demo", .assignee = assignee,
			    .link = demo_link, .due_ms = T0 + 86400000);
		}
	}
}

/* Pages of a rare tag or kind beside a leading range: each lists what it
 * wants reading at most 100 entries, and at least alone_min with the
 * walk in step held off (tl_list_also_after past every entry). */
typedef struct near_case {
	lq q;
	const char *want;
} near_case;

static void check_near(const near_case *cases, size_t n, uint64_t alone_min)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t read;
		const char *got = list_counted(&cases[i].q, &read);
		cr_assert_str_eq(got, cases[i].want, "case %zu: %s", i, got);
		cr_assert_leq(read, 100, "case %zu read %llu entries", i,
			      (unsigned long long)read);
		tl_list_also_after = UINT_MAX;
		got = list_counted(&cases[i].q, &read);
		tl_list_also_after = 32;
		cr_assert_str_eq(got, cases[i].want, "case %zu alone: %s", i,
				 got);
		cr_assert_geq(read, alone_min, "case %zu alone", i);
	}
}

/* An assignee's page of a rare tag or kind reads the assignee's range
 * near the tag's or kind's ranges (a leapfrog over both), not all of the
 * assignee's tasks: alice holds 300 calls and 3 demos, three of them
 * tagged; after 32 entries passed over, the scan walks the tag's or
 * kinds' ranges too.  Without that (tl_list_also_after past every
 * entry) the same page reads all 303. */
Test(list, an_assignees_page_of_a_rare_tag_or_kind_reads_near_it)
{
	calls_then_demos("alice", NULL, "contact:1");
	ADD(.title = "b0", .type = "demo", .assignee = "bob");
	clock_ms += 60000;
	tag("c250", "vip");
	clock_ms += 60000;
	tag("d1", "vip");
	clock_ms += 60000;
	tag("c40", "vip");
	tag("b0", "vip");
	static const near_case cases[] = {
		{ { .assignee = { "alice" }, .tag = { "vip" } }, "c40 d1 c250" },
		{ { .assignee = { "alice" }, .tag = { "vip" },
		    .sort = "updated" }, "c40 d1 c250" },
		{ { .assignee = { "alice" }, .tag = { "vip" },
		    .sort = "created" }, "c250 d1 c40" },
		{ { .assignee = { "alice" }, .type = { "demo" } }, "d0 d1 d2" },
		{ { .assignee = { "alice" }, .entity = { "contact" },
		    .sort = "created" }, "d2 d1 d0" },
		{ { .assignee = { "alice" }, .type = { "demo" },
		    .tag = { "vip" } }, "d1" },
		{ { .assignee = { "alice", "bob" }, .tag = { "vip" } },
		  "c40 d1 c250 b0" },
		{ { .assignee = { "alice" }, .tag = { "none" } }, "" },
	};
	check_near(cases, sizeof cases / sizeof cases[0], 300);
	/* pages of one, and a page the leading range fills first */
	cr_assert_str_eq(LIST_ALL(1, .assignee = { "alice" }, .tag = { "vip" }),
			 "c40 d1 c250");
	cr_assert_str_eq(LIST_ALL(2, .assignee = { "alice" },
				  .type = { "demo" }, .sort = "updated"),
			 "d1 d2 d0");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .type = { "call" },
			      .limit = 2),
			 "c0 c1");
	cr_assert_eq(verify(), 0);
}

/* The same beside a record's ranges (since 0.3.50; a scale review: a
 * record of 500,000 tasks and a tag none had walked them all for an empty
 * page): lead:7 holds 300 calls and 3 demos, some done, three tagged. */
Test(list, a_records_page_of_a_rare_tag_or_kind_reads_near_it)
{
	calls_then_demos(NULL, "lead:7", "lead:7");
	ADD(.title = "o0", .type = "demo", .link = "lead:8");
	clock_ms += 60000;
	tag("c250", "vip");
	clock_ms += 60000;
	tag("d1", "vip");
	clock_ms += 60000;
	tag("c40", "vip");
	tag("o0", "vip");
	for (int i = 100; i < 200; i++) {
		char title[16];
		snprintf(title, sizeof title, "c%d", i);
		update(title, (tl_cmd){ .kind = TL_TASK_COMPLETE });
	}
	tag("c150", "vip");
	static const near_case cases[] = {
		{ { .record = "lead:7", .tag = { "vip" } }, "c40 d1 c250" },
		{ { .record = "lead:7", .tag = { "vip" }, .sort = "updated" },
		  "c40 d1 c250" },
		{ { .record = "lead:7", .tag = { "vip" }, .sort = "created" },
		  "c250 d1 c40" },
		{ { .record = "lead:7", .type = { "demo" } }, "d0 d1 d2" },
		{ { .record = "lead:7", .type = { "demo" }, .tag = { "vip" } },
		  "d1" },
		{ { .record = "lead:7", .tag = { "vip" },
		    .status = { "completed" } }, "c150" },
		{ { .record = "lead:7", .tag = { "none" } }, "" },
		{ { .record = "lead:7", .entity = { "contact" } }, "" },
	};
	check_near(cases, sizeof cases / sizeof cases[0], 100);
	cr_assert_str_eq(LIST_ALL(1, .record = "lead:7", .tag = { "vip" }),
			 "c40 d1 c250");
	cr_assert_eq(verify(), 0);
}

/* Several assignees with a tag and a type that each hold many tasks, few
 * of theirs (0.3.40; a scale audit: five assignees, a tag, a type and
 * on_hold read 83,728 entries at a million tasks): the assignees' ranges
 * lead, the tag's and the kinds' are walked beside them, and at each
 * position of the tag or the type every assignee's range moves.  The
 * tag's range, leading with the kinds' beside it, moves one range a
 * step: when the assignees' walk has not ended its page after
 * tl_list_lead_first entries, the two take turns, and the first to end
 * makes the page.  alice, bob, dave and the unassigned hold 100 calls
 * each, three of them on hold and vip; root holds 20 on-hold vip emails
 * and 20 on-hold calls, due among them. */
Test(list, several_assignees_with_a_tag_and_a_type_let_the_tag_lead)
{
	char title[16];
	static const char *const who[] = { "alice", "bob", "dave", NULL };
	for (int i = 0; i < 400; i++) {
		snprintf(title, sizeof title, "c%d", i);
		ADD(.title = title, .type = "call", .assignee = who[i % 4],
		    .due_ms = T0 + (int64_t)i * 60000);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(title, sizeof title, "r%d", i);
		ADD(.title = title, .type = i % 2 ? "call" : "email",
		    .assignee = "root", .status = "on_hold",
		    .due_ms = T0 + (int64_t)i * 600000 + 30000);
		if (i % 2 == 0)
			tag(title, "vip");
	}
	static const char *const match[] = { "c41", "c120", "c203" };
	for (int i = 0; i < 3; i++) {
		set_status(match[i], "on_hold");
		tag(match[i], "vip");
	}
	const lq q = { .assignee = { "alice", "bob", "dave", "unassigned" },
		       .tag = { "vip" }, .type = { "call" },
		       .status = { "on_hold" } };
	/* as if the workspace were large: the turns start at 64 entries */
	uint64_t alone, both;
	tl_list_lead_way(0);
	cr_assert_str_eq(list_counted(&q, &alone), "c41 c120 c203");
	tl_list_lead_first = 64;
	tl_list_lead_turn = 32;
	cr_assert_str_eq(list_counted(&q, &both), "c41 c120 c203");
	cr_assert_geq(alone, 400, "the assignees' walk read %llu",
		      (unsigned long long)alone);
	cr_assert_leq(both, 250, "the turns read %llu",
		      (unsigned long long)both);
	/* turns of any length (a review: one past the largest work count
	 * wrapped, and neither walk went on) */
	tl_list_lead_first = 0;
	tl_list_lead_turn = UINT64_MAX;
	cr_assert_str_eq(LIST_ALL(1, .assignee = { "alice", "bob", "dave",
						   "unassigned" },
				  .tag = { "vip" }, .type = { "call" },
				  .status = { "on_hold" }),
			 "c41 c120 c203");
	tl_list_lead_first = 64;
	tl_list_lead_turn = 32;
	/* One assignee's one range moves a step or a seek at each position,
	 * where the tag's walk reads a document: no turns. */
	const lq alices = { .assignee = { "alice" }, .tag = { "vip" },
			    .type = { "call" }, .status = { "on_hold" } };
	uint64_t docs = tl_list_docs_read;
	cr_assert_str_eq(list_counted(&alices, &both), "c120");
	cr_assert_eq(tl_list_docs_read - docs, 0,
		     "alice's covered range alone: %llu documents read",
		     (unsigned long long)(tl_list_docs_read - docs));
	/* each sort, and pages of one made by either walk, each page's
	 * cursor serving the other */
	static const char *const sorts[] = { "due", "created", "updated" };
	static const char *const want[] = { "c41 c120 c203", "c203 c120 c41",
					    "c203 c120 c41" };
	for (size_t i = 0; i < 3; i++)
		for (unsigned way = 0; way < 4; way++) {
			lq one = q;
			one.sort = sorts[i];
			tl_list_lead_way(way);
			cr_assert_str_eq(list_all(one, 1), want[i],
					 "sort %s way %u", sorts[i], way);
			cr_assert_str_eq(list_all(one, 2), want[i],
					 "sort %s way %u", sorts[i], way);
		}
	tl_list_lead_way(3);
	cr_assert_eq(verify(), 0);
}

/* Tasks of a kind in a rare status, or done, are found in their own
 * ranges too: not by a walk of the common statuses' tasks of that kind
 * (an on_hold call costs what S's on_hold range costs, as before K), nor
 * of every completed task. */
Test(list, a_kind_in_a_rare_or_done_status_reads_only_its_ranges)
{
	add_calls_and_demos();
	for (int i = 0; i < 300; i += 3) {
		char title[16];
		snprintf(title, sizeof title, "c%d", i);
		simple(title, TL_TASK_COMPLETE);
	}
	set_status("c299", "on_hold");
	simple("d1", TL_TASK_COMPLETE);
	uint64_t read;
	cr_assert_str_eq(list_counted(&(lq){ .type = { "call" },
					     .status = { "on_hold" } },
				      &read),
			 "c299");
	cr_assert_leq(read, 1 + 4);
	cr_assert_str_eq(list_counted(&(lq){ .type = { "demo" },
					     .status = { "completed" } },
				      &read),
			 "d1");
	cr_assert_leq(read, 1 + 4);
	cr_assert_str_eq(list_counted(&(lq){ .entity = { "contact" },
					     .status = { "completed",
							 "todo" } },
				      &read),
			 "d0 d1 d2");
	cr_assert_leq(read, 3 + 2 * 10);
	cr_assert_str_eq(LIST(.type = { "demo" }), "d0 d2");
	cr_assert_str_eq(LIST(.type = { "demo" }, .sort = "created",
			      .status = { "completed", "todo" }),
			 "d2 d1 d0");
	UPDATE("d2", .type = tl_s("call"));
	cr_assert_str_eq(LIST(.type = { "demo" }), "d0");
	cr_assert_str_eq(LIST(.type = { "call" }, .entity = { "contact" }),
			 "d2");
	simple("d0", TL_TASK_DELETE);
	cr_assert_str_eq(LIST(.type = { "demo" },
			      .status = { "todo", "completed" }),
			 "d1");
	cr_assert_eq(verify(), 0);
}

/* An assignee's or a record's tasks in a done status, or a record's in
 * update order, are their own ranges (D, tasks view 9; R's done and
 * updated ranges, timeline view 8): a page of them among 300 completed
 * calls reads itself and one entry past each range.  (Before, such a page
 * walked every completed task, or every active one, reading a document
 * for each: 2 s at a million tasks, found by a scale audit.) */
Test(list, a_done_page_of_an_assignee_or_record_reads_only_its_ranges)
{
	add_calls_and_demos();
	for (int i = 0; i < 300; i++) {
		char title[16];
		snprintf(title, sizeof title, "c%d", i);
		simple(title, TL_TASK_COMPLETE);
	}
	ADD(.title = "x0", .assignee = "alice", .link = "contact:1",
	    .due_ms = T0 + 2 * 86400000);
	ADD(.title = "x1", .assignee = "alice", .link = "contact:1",
	    .due_ms = T0 + 3 * 86400000, .status = "completed");
	ADD(.title = "x2", .link = "contact:1", .due_ms = T0 + 4 * 86400000,
	    .status = "cancelled");
	static const struct {
		lq q;
		const char *want;
		uint64_t ranges;
	} cases[] = {
		{ { .assignee = { "alice" }, .status = { "completed" } }, "x1",
		  1 },
		{ { .assignee = { "alice" }, .status = { "completed", "todo" } },
		  "x0 x1", 2 },
		{ { .assignee = { "alice" }, .status = { "completed" },
		    .sort = "updated" },
		  "x1", 1 },
		{ { .assignee = { "unassigned" }, .status = { "cancelled" } },
		  "x2", 1 },
		{ { .record = "contact:1", .status = { "completed" } }, "x1", 1 },
		{ { .record = "contact:1", .status = { "cancelled", "todo" } },
		  "d0 d1 d2 x0 x2", 2 },
		{ { .record = "contact:1", .sort = "updated" }, "x0 d2 d1 d0",
		  1 },
		{ { .record = "contact:1", .sort = "created",
		    .status = { "completed", "cancelled" } },
		  "x2 x1", 2 },
		{ { .record = "lead:7", .status = { "completed" },
		    .sort = "updated" },
		  "c7", 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t read;
		cr_assert_str_eq(list_counted(&cases[i].q, &read),
				 cases[i].want, "case %zu", i);
		size_t listed = 1;
		for (const char *c = cases[i].want; *c; c++)
			listed += *c == ' ';
		cr_assert_leq(read, listed + cases[i].ranges,
			      "case %zu read %llu entries", i,
			      (unsigned long long)read);
	}
	/* reopened, deleted: each leaves its ranges */
	set_status("x1", "todo");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .status = { "completed" }),
			 "");
	cr_assert_str_eq(LIST(.record = "contact:1", .status = { "completed" }),
			 "");
	cr_assert_str_eq(LIST(.record = "contact:1", .sort = "updated"),
			 "x1 x0 d2 d1 d0");
	simple("x2", TL_TASK_DELETE);
	cr_assert_str_eq(LIST(.record = "contact:1", .status = { "cancelled" }),
			 "");
	cr_assert_eq(verify(), 0);
}

Test(list, filters_by_entity_type_and_record)
{
	ADD(.title = "a", .link = "lead:1");
	ADD(.title = "b", .link = "lead:2");
	ADD(.title = "c", .link = "contact:1");
	ADD(.title = "d", .link = "account:1");
	ADD(.title = "e", .link = "lead:1", .status = "completed");
	ADD(.title = "f", .link = "opportunity:lead:1");
	cr_assert_str_eq(LIST(.entity = { "lead" }), "a b");
	cr_assert_str_eq(LIST(.entity = { "contact", "account" }), "c d");
	cr_assert_str_eq(LIST(.record = "lead:1"), "a");
	cr_assert_str_eq(LIST(.record = "contact:1"), "c");
	cr_assert_str_eq(LIST(.record = "opportunity:lead:1"), "f");
	cr_assert_str_eq(LIST(.record = "lead:1",
			      .status = { "completed", "todo" }),
			 "a e");
	cr_assert_str_eq(LIST(.record = "lead:1", .entity = { "contact" }), "");
	cr_assert_str_eq(LIST(.record = "lead:3"), "");
}

/* Opened with the tasks view alone (no timeline, whose R ranges lead a
 * record's list): the record filter is checked on each task, its type
 * and id, also beside an assignee's ranges. */
Test(list, filters_by_record_without_the_timeline_view)
{
	ADD(.title = "a", .link = "lead:1", .assignee = "alice");
	ADD(.title = "b", .link = "lead:2", .assignee = "alice");
	ADD(.title = "c", .link = "contact:1", .assignee = "alice");
	ADD(.title = "d", .link = "lead:1");
	ADD(.title = "e", .link = "lead:1", .assignee = "alice",
	    .status = "completed");
	tl_db_close(db);
	size_t n;
	const tl_view *const *all = tl_views_all(&n);
	const tl_view *tasks_only[1] = { NULL };
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tl_view_name(all[i]), "tasks"))
			tasks_only[0] = all[i];
	cr_assert(tasks_only[0]);
	tl_open_opts o = { .flags = TL_OPEN_NOSYNC, .views = tasks_only,
			   .views_len = 1 };
	tl_err err = { 0 };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_null(tl_view_dbis(db, "timeline"));
	for (unsigned s = 0; s < 3; s++) {
		const char *sort = s == 0 ? "due" : s == 1 ? "created"
							  : "updated";
		cr_assert_str_eq(LIST(.record = "lead:1", .sort = sort),
				 s ? "d a" : "a d", "%s", sort);
		cr_assert_str_eq(LIST(.record = "contact:1", .sort = sort),
				 "c", "%s", sort);
		cr_assert_str_eq(LIST(.record = "lead:1",
				      .assignee = { "alice" }, .sort = sort),
				 "a", "%s", sort);
		cr_assert_str_eq(LIST(.record = "contact:1",
				      .assignee = { "alice" }, .sort = sort),
				 "c", "%s", sort);
		cr_assert_str_eq(LIST(.record = "lead:1",
				      .assignee = { "alice" },
				      .status = { "todo", "completed" },
				      .sort = sort),
				 s ? "e a" : "a e", "%s", sort);
		cr_assert_str_eq(LIST(.record = "account:1",
				      .assignee = { "alice" }, .sort = sort),
				 "", "%s", sort);
	}
}

Test(list, combines_filters_with_and)
{
	ADD(.title = "a", .assignee = "alice", .type = "call",
	    .link = "lead:1");
	ADD(.title = "b", .assignee = "alice", .type = "email",
	    .link = "lead:1");
	ADD(.title = "c", .assignee = "bob", .type = "call", .link = "lead:1");
	ADD(.title = "d", .assignee = "alice", .type = "call",
	    .link = "contact:1");
	ADD(.title = "e", .assignee = "alice", .type = "call",
	    .link = "lead:1", .status = "on_hold");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .type = { "call" }),
			 "a d e");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .type = { "call" },
			      .entity = { "lead" }),
			 "a e");
	cr_assert_str_eq(LIST(.assignee = { "alice", "bob" },
			      .type = { "call" }, .record = "lead:1",
			      .status = { "todo" }),
			 "a c");
	cr_assert_str_eq(LIST(.type = { "call" }, .entity = { "lead" },
			      .status = { "todo", "on_hold" }),
			 "a c e");
}

Test(list, filters_by_due_window)
{
	clock_ms = T0;
	ADD(.title = "past", .due_ms = T0 - DAY);
	ADD(.title = "minute_ago", .due_ms = T0 - MIN);
	ADD(.title = "now", .due_ms = T0);
	ADD(.title = "tonight", .due_ms = T0 + 14 * HOUR + 59 * MIN);
	ADD(.title = "tomorrow", .due_ms = T0 + 15 * HOUR);
	ADD(.title = "sunday", .due_ms = T0 + 6 * DAY);
	ADD(.title = "next_week", .due_ms = T0 + 7 * DAY);
	ADD(.title = "none");
	ADD(.title = "done_past", .due_ms = T0 - DAY, .status = "completed");
	/* T0 is Monday 09:00 UTC: today is [T0-9h, T0+15h). */
	cr_assert_str_eq(LIST(.due = "overdue"), "past minute_ago");
	cr_assert_str_eq(LIST(.due = "overdue",
			      .status = { "completed", "todo" }),
			 "past minute_ago");
	cr_assert_str_eq(LIST(.due = "today"), "minute_ago now tonight");
	cr_assert_str_eq(LIST(.due = "week"),
			 "minute_ago now tonight tomorrow sunday");
	cr_assert_str_eq(LIST(.due = "none"), "none");
	cr_assert_str_eq(LIST(.due = "2026-03-01..2026-03-03"),
			 "past minute_ago now tonight");
	cr_assert_str_eq(LIST(.due = "2026-03-02T09:00:00Z..+15h"),
			 "now tonight");
	cr_assert_str_eq(LIST(.due = "-1m..2026-03-02T09:00:00.001Z"),
			 "minute_ago now");
	cr_assert_str_eq(LIST(.due = "+6d.."), "sunday next_week");
	cr_assert_str_eq(LIST(.due = "..2026-03-02"), "past");
	cr_assert_str_eq(LIST(.due = "2026-03-01..2026-03-03",
			      .status = { "completed" }),
			 "done_past");
	/* The window under every sort, not only due. */
	cr_assert_str_eq(LIST(.due = "today", .sort = "created"),
			 "tonight now minute_ago");
	cr_assert_str_eq(LIST(.due = "none", .sort = "updated"), "none");
	/* Overdue moves with the clock. */
	cr_assert_str_eq(LIST(.due = "overdue", .now = T0 + 1),
			 "past minute_ago now");
}

/* Several due windows OR-combine: overdue or today, none or a range,
 * windows apart from each other (the scan's bounds span them), under
 * every sort and across pages. */
Test(list, due_windows_or_combine)
{
	clock_ms = T0;
	ADD(.title = "past", .due_ms = T0 - DAY);
	ADD(.title = "now", .due_ms = T0);
	ADD(.title = "tomorrow", .due_ms = T0 + 15 * HOUR);
	ADD(.title = "sunday", .due_ms = T0 + 6 * DAY);
	ADD(.title = "next_week", .due_ms = T0 + 7 * DAY);
	ADD(.title = "none");
	ADD(.title = "done_past", .due_ms = T0 - DAY, .status = "completed");
	cr_assert_str_eq(LIST(.due = "overdue", .due2 = "today"), "past now");
	cr_assert_str_eq(LIST(.due = "today", .due2 = "overdue"), "past now");
	cr_assert_str_eq(LIST(.due = "none", .due2 = "+6d.."),
			 "sunday next_week none");
	cr_assert_str_eq(LIST(.due = "..-12h", .due2 = "+144h..+145h"),
			 "past sunday");
	cr_assert_str_eq(LIST(.due = "..-12h", .due2 = "+144h..+145h",
			      .sort = "created"),
			 "sunday past");
	/* overdue keeps to active tasks; a range beside it does not */
	cr_assert_str_eq(LIST(.due = "overdue", .due2 = "..-12h",
			      .status = { "completed", "todo" }),
			 "past done_past");
	cr_assert_str_eq(LIST_ALL(1, .due = "none", .due2 = "overdue"),
			 "past none");
	/* a window that holds nothing leaves the others' */
	cr_assert_str_eq(LIST(.due = "..1970-01-01", .due2 = "today"), "now");
	/* at most 16, and dues_len needs dues */
	tl_slice many[16];
	for (int i = 0; i < 16; i++)
		many[i] = tl_s("today");
	tl_list_query q = { .due = tl_s("none"), .dues = many, .dues_len = 16 };
	page pg;
	memset(&pg, 0, sizeof pg);
	cr_assert_eq(tl_task_list(db, &(tl_ctx){ .now_ms = T0 }, &q, collect,
				  &pg, pg.next, &pg.err),
		     TL_EINVALID);
	cr_assert_str_eq(pg.err.field, "due");
	q.due = (tl_slice){ 0 };
	memset(&pg, 0, sizeof pg);
	cr_assert_eq(tl_task_list(db, &(tl_ctx){ .now_ms = T0 }, &q, collect,
				  &pg, pg.next, &pg.err),
		     0, "%s", pg.err.message);
	q.dues = NULL;
	cr_assert_eq(tl_task_list(db, &(tl_ctx){ .now_ms = T0 }, &q, collect,
				  &pg, pg.next, &pg.err),
		     TL_EINVALID);
}

/* A window of one millisecond holds the task due at its start, under
 * every sort: its span of due sortvals is one value, its bounds equal. */
Test(list, a_window_of_one_millisecond_lists_the_task_due_in_it)
{
	ADD(.title = "before", .due = "2026-03-03T09:59:59.999Z");
	ADD(.title = "at", .due = "2026-03-03T10:00:00.000Z");
	ADD(.title = "after", .due = "2026-03-03T10:00:00.001Z");
	const char *ms = "2026-03-03T10:00:00.000Z..2026-03-03T10:00:00.001Z";
	cr_assert_str_eq(LIST(.due = ms), "at");
	cr_assert_str_eq(LIST(.due = ms, .sort = "created"), "at");
	cr_assert_str_eq(LIST(.due = ms, .sort = "updated"), "at");
	cr_assert_str_eq(LIST(.due = ms, .assignee = { "unassigned" }), "at");
	cr_assert_str_eq(LIST(.due = "none", .due2 = ms), "at");
}

Test(list, refuses_automation_only_rows_until_there_are_some)
{
	ADD(.title = "a", .assignee = "alice");
	cr_assert_str_eq(LIST(.automation = "hide"), "a");
	cr_assert_str_eq(LIST(.automation = "include"), "a");
	cr_assert_str_eq(LIST(.automation = "only"), "");
	/* also where the assignee's covered range serves the list */
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .automation = "only"),
			 "");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "created",
			      .automation = "only"),
			 "");
	/* and without reading the tasks it cannot list */
	for (int i = 0; i < 40; i++)
		ADD(.title = "b", .assignee = i % 2 ? "alice" : NULL);
	static const lq only[] = {
		{ .automation = "only" },
		{ .automation = "only", .sort = "created" },
		{ .automation = "only", .assignee = { "alice" } },
		{ .automation = "only", .status = { "todo", "completed" } },
	};
	for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
		uint64_t read;
		cr_assert_str_eq(list_counted(&only[i], &read), "");
		cr_assert_eq(read, 0, "case %zu read %llu entries", i,
			     (unsigned long long)read);
	}
}

/* A record id may hold any printable text, a no-break space included. */
Test(list, a_record_id_with_a_no_break_space_lists_its_tasks)
{
	ADD(.title = "nb", .link = "lead:a\xc2\xa0" "b");
	ADD(.title = "other", .link = "lead:a b");
	cr_assert_str_eq(LIST(.record = "lead:a\xc2\xa0" "b"), "nb");
}

/* Many values of one filter OR-combine: forty assignees at once. */
Test(list, forty_assignees_at_once)
{
	enum { N = 40 };
	char names[N][8];
	tl_slice who[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "m%d", i);
		member(names[i], "member", 1);
		ADD(.title = names[i], .assignee = names[i]);
		who[i] = tl_s(names[i]);
	}
	ADD(.title = "alices", .assignee = "alice");
	tl_list_query q = { .assignees = who, .assignees_len = N,
			    .limit = 100 };
	tl_ctx ctx = { .now_ms = clock_ms };
	page *pg = calloc(1, sizeof *pg);
	pg->rc = tl_task_list(db, &ctx, &q, collect, pg, pg->next, &pg->err);
	cr_assert_eq(pg->rc, 0, "%s: %s", pg->err.field, pg->err.message);
	cr_assert_eq(pg->n, N, "%s", pg->text);
	cr_assert_null(strstr(pg->text, "alices"));
	cr_assert_str_eq(pg->next, "");
	free(pg);
}

/* The look-ahead that decides whether another page follows checks every
 * filter: no cursor to an empty page. */
Test(list, the_last_page_of_a_filtered_list_has_no_cursor)
{
	ADD(.title = "al", .assignee = "alice", .status = "completed",
	    .link = "lead:1");
	ADD(.title = "bo", .assignee = "bob", .status = "completed",
	    .link = "lead:2");
	cr_assert_str_eq(LIST(.status = { "completed" },
			      .assignee = { "alice" }, .limit = 1),
			 "al");
	cr_assert_str_eq(pg_static.next, "", "a cursor to an empty page");
	cr_assert_str_eq(LIST(.status = { "completed" }, .record = "lead:1",
			      .limit = 1),
			 "al");
	cr_assert_str_eq(pg_static.next, "", "a cursor to an empty page");
	/* and a cursor when there is more */
	cr_assert_str_eq(LIST(.status = { "completed" }, .limit = 1), "al");
	cr_assert_str_neq(pg_static.next, "");
}

/* ---- sorts ------------------------------------------------------------------- */

Test(list, sorts_by_due_with_ties_in_creation_order_and_no_due_last)
{
	clock_ms = T0;
	ADD(.title = "n1");
	ADD(.title = "b1", .due_ms = T0 + 2 * HOUR);
	ADD(.title = "a", .due_ms = T0 + HOUR);
	ADD(.title = "n2");
	ADD(.title = "b2", .due_ms = T0 + 2 * HOUR);
	ADD(.title = "early", .due_ms = T0 - 100 * DAY);
	ADD(.title = "b3", .due_ms = T0 + 2 * HOUR);
	cr_assert_str_eq(LIST(), "early a b1 b2 b3 n1 n2");
	cr_assert_str_eq(LIST(.sort = "due"), "early a b1 b2 b3 n1 n2");
	cr_assert_str_eq(LIST_ALL(1), "early a b1 b2 b3 n1 n2");
	cr_assert_str_eq(LIST_ALL(2, .sort = "due"),
			 "early a b1 b2 b3 n1 n2");
}

Test(list, sorts_by_created_newest_first_with_ties_by_creation)
{
	clock_ms = T0;
	ADD(.title = "a");
	ADD(.title = "b"); /* same millisecond as a */
	clock_ms = T0 + MIN;
	ADD(.title = "c");
	clock_ms = T0 - HOUR; /* a clock that went back */
	ADD(.title = "d");
	cr_assert_str_eq(LIST(.sort = "created"), "c b a d");
	cr_assert_str_eq(LIST_ALL(1, .sort = "created"), "c b a d");
}

Test(list, sorts_by_updated_newest_first)
{
	clock_ms = T0;
	ADD(.title = "a");
	ADD(.title = "b");
	ADD(.title = "c");
	cr_assert_str_eq(LIST(.sort = "updated"), "c b a");
	clock_ms = T0 + MIN;
	UPDATE("a", .title = tl_s("a")); /* unchanged: appends nothing */
	cr_assert_str_eq(LIST(.sort = "updated"), "c b a");
	UPDATE("a", .notes = tl_s("note"));
	cr_assert_str_eq(LIST(.sort = "updated"), "a c b");
	clock_ms = T0 + 2 * MIN;
	update("b", (tl_cmd){ .kind = TL_TASK_TAG,
			      .tags = (tl_slice[]){ tl_s("x") },
			      .tags_len = 1 });
	cr_assert_str_eq(LIST(.sort = "updated"), "b a c");
	cr_assert_str_eq(LIST(.sort = "updated", .assignee = { "unassigned" }),
			 "b a c");
	cr_assert_str_eq(LIST(.sort = "updated", .status = { "todo" }),
			 "b a c");
	/* Dimensions without the updated sort: the planner falls back. */
	cr_assert_str_eq(LIST(.sort = "updated", .type = { "task" }),
			 "b a c");
	cr_assert_str_eq(LIST(.sort = "updated", .record = "lead:1"),
			 "b a c");
	cr_assert_str_eq(LIST(.sort = "updated", .entity = { "lead" }),
			 "b a c");
	cr_assert_str_eq(LIST_ALL(2, .sort = "updated", .record = "lead:1"),
			 "b a c");
}

/* ---- the view follows every kind of event ---------------------------------- */

Test(list, follows_every_kind_of_event)
{
	clock_ms = T0;
	ADD(.title = "x", .due_ms = T0 + HOUR, .assignee = "alice",
	    .type = "call", .link = "lead:1");
	ADD(.title = "y", .due_ms = T0 + 2 * HOUR);
	cr_assert_str_eq(LIST(), "x y");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "x");

	/* title and notes: same place everywhere */
	clock_ms += MIN;
	UPDATE("x", .title = tl_s("x2"));
	snprintf(titles[0], sizeof titles[0], "x2");
	cr_assert_str_eq(LIST(), "x2 y");
	cr_assert_str_eq(LIST(.sort = "updated"), "x2 y");

	/* type */
	UPDATE("x2", .type = tl_s("email"));
	cr_assert_str_eq(LIST(.type = { "call" }), "");
	cr_assert_str_eq(LIST(.type = { "email" }), "x2");

	/* due, then none */
	UPDATE("x2", .due = tl_s("2026-03-02T12:00:00Z"));
	cr_assert_str_eq(LIST(), "y x2");
	cr_assert_str_eq(LIST(.due = "none"), "");
	UPDATE("x2", .no_due = true);
	cr_assert_str_eq(LIST(), "y x2");
	cr_assert_str_eq(LIST(.due = "none"), "x2");
	cr_assert_str_eq(LIST(.due = "today"), "y");
	UPDATE("x2", .due = tl_s("2026-03-02T09:30:00Z"));
	cr_assert_str_eq(LIST(), "x2 y");

	/* assign, reassign, unassign */
	assign("x2", "bob");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "");
	cr_assert_str_eq(LIST(.assignee = { "bob" }), "x2");
	assign("x2", NULL);
	cr_assert_str_eq(LIST(.assignee = { "bob" }), "");
	cr_assert_str_eq(LIST(.assignee = { "unassigned" }), "x2 y");
	assign("y", "alice");
	cr_assert_str_eq(LIST(.assignee = { "unassigned" }), "x2");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "y");

	/* status: still active, then not */
	set_status("x2", "on_hold");
	cr_assert_str_eq(LIST(), "x2 y");
	cr_assert_str_eq(LIST(.status = { "on_hold" }), "x2");
	cr_assert_str_eq(LIST(.status = { "todo" }), "y");
	set_status("x2", "cancelled");
	cr_assert_str_eq(LIST(), "y");
	cr_assert_str_eq(LIST(.record = "lead:1"), "y");
	cr_assert_str_eq(LIST(.status = { "cancelled" }), "x2");
	cr_assert_str_eq(LIST(.status = { "cancelled" }, .record = "lead:1"),
			 "x2");

	/* complete, reopen */
	simple("y", TL_TASK_COMPLETE);
	cr_assert_str_eq(LIST(), "");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "");
	cr_assert_str_eq(LIST(.status = { "completed" }), "y");
	set_status("y", "todo");
	cr_assert_str_eq(LIST(), "y");
	cr_assert_str_eq(LIST(.assignee = { "alice" }), "y");
	cr_assert_str_eq(LIST(.status = { "completed" }), "");
	set_status("x2", "in_progress");
	cr_assert_str_eq(LIST(), "x2 y");

	/* tags change no filter */
	clock_ms += MIN;
	update("y", (tl_cmd){ .kind = TL_TASK_TAG,
			      .tags = (tl_slice[]){ tl_s("hot") },
			      .tags_len = 1 });
	cr_assert_str_eq(LIST(), "x2 y");
	cr_assert_str_eq(LIST(.sort = "updated"), "y x2");
	update("y", (tl_cmd){ .kind = TL_TASK_UNTAG,
			      .tags = (tl_slice[]){ tl_s("hot") },
			      .tags_len = 1 });
	cr_assert_str_eq(LIST(), "x2 y");

	/* delete: gone from every listing, of every status */
	simple("x2", TL_TASK_DELETE);
	cr_assert_str_eq(LIST(), "y");
	cr_assert_str_eq(LIST(.status = { "in_progress" }), "");
	cr_assert_str_eq(LIST(.sort = "created"), "y");
	cr_assert_str_eq(LIST(.sort = "updated"), "y");
	cr_assert_str_eq(LIST(.record = "lead:1"), "y");
	simple("y", TL_TASK_COMPLETE);
	simple("y", TL_TASK_DELETE);
	cr_assert_str_eq(LIST(.status = { "completed" }), "");
	cr_assert_eq(verify(), 0);
}

/* The number of keys in the view (white box). */
static size_t view_keys(void)
{
	tl_reader r;
	tl_err err = { 0 };
	MDB_stat st;
	cr_assert_eq(tl_reader_begin(db, NULL, &r, &err), 0);
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	cr_assert_not_null(dbi);
	cr_assert_eq(mdb_stat(r.txn, dbi[0], &st), 0);
	tl_reader_end(&r);
	return st.ms_entries;
}

/* How many keys of the view hold the 8 bytes pat (white box); of
 * dimension dim alone (its first byte, the 8 bytes its dimval) when dim
 * is not 0. */
static size_t dim_keys_holding(char dim, const uint8_t pat[8]);

static size_t keys_holding(const uint8_t pat[8])
{
	return dim_keys_holding(0, pat);
}

static size_t dim_keys_holding(char dim, const uint8_t pat[8])
{
	tl_reader r;
	tl_err err = { 0 };
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	cr_assert_eq(tl_reader_begin(db, NULL, &r, &err), 0);
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	cr_assert_eq(mdb_cursor_open(r.txn, dbi[0], &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (dim)
			n += ((uint8_t *)k.mv_data)[0] == (uint8_t)dim &&
			     !memcmp((uint8_t *)k.mv_data + 1, pat, 8);
		else
			for (size_t i = 0; i + 8 <= k.mv_size; i++)
				if (!memcmp((uint8_t *)k.mv_data + i, pat, 8)) {
					n++;
					break;
				}
	mdb_cursor_close(c);
	tl_reader_end(&r);
	return n;
}

/* A due time is stored as format.md says: big-endian, sign bit flipped
 * (so that times before 1970 would sort first), in the due keys of S,
 * M and K.  A change of the encoding is a change of the view's version. */
Test(list, due_keys_hold_the_time_big_endian_with_the_sign_bit_flipped)
{
	ADD(.title = "a", .assignee = "alice", .due = "2026-03-02T00:00:00Z");
	int64_t ms = 1772409600000; /* 2026-03-02T00:00:00Z */
	uint8_t flipped[8], plain[8];
	tl_put_be64(flipped, (uint64_t)ms ^ 0x8000000000000000ull);
	tl_put_be64(plain, (uint64_t)ms);
	cr_assert_eq(keys_holding(flipped), 3, "the due keys of S, M and K");
	cr_assert_eq(keys_holding(plain), 0);
}

Test(list, keeps_every_task_in_s_k_and_m_or_d)
{
	/* Active: S, M and K with three sorts each: 9 keys (and R's three
	 * in the timeline view).  Completed or cancelled: S, D (the
	 * assignee's done range of that status, view 9) and K, 9 keys too.
	 * Deleted: none. */
	ADD(.title = "a", .assignee = "alice", .type = "demo",
	    .link = "contact:9");
	cr_assert_eq(view_keys(), 9);
	uint8_t kind[8], done[8], m[8], d_alice[8], d_nobody[8];
	uint64_t alice = tl_list_hash(tl_s("alice"));
	tl_put_be64(kind, 9 * 4 + 0); /* active, demo, contact */
	tl_put_be64(done, 3 * 40 + 9 * 4 + 0); /* completed, demo, contact */
	tl_put_be64(m, alice);
	tl_put_be64(d_alice, tl_list_tag(alice, 3));
	tl_put_be64(d_nobody, tl_list_tag(tl_list_hash(tl_s("")), 4));
	cr_assert_eq(keys_holding(kind), 3, "K's due, created, updated keys");
	cr_assert_eq(dim_keys_holding('M', m), 3, "M's");
	cr_assert_eq(keys_holding(d_alice), 0);
	simple("a", TL_TASK_COMPLETE);
	cr_assert_eq(view_keys(), 9);
	cr_assert_eq(keys_holding(kind), 0);
	cr_assert_eq(keys_holding(done), 3);
	cr_assert_eq(keys_holding(m), 0);
	cr_assert_eq(dim_keys_holding('D', d_alice), 3,
		     "D's, under alice, completed");
	ADD(.title = "b", .status = "completed");
	cr_assert_eq(view_keys(), 18);
	simple("a", TL_TASK_DELETE);
	cr_assert_eq(keys_holding(done), 0);
	cr_assert_eq(keys_holding(d_alice), 0);
	cr_assert_eq(view_keys(), 9);
	set_status("b", "todo");
	cr_assert_eq(view_keys(), 9);
	set_status("b", "cancelled");
	cr_assert_eq(view_keys(), 9);
	cr_assert_eq(dim_keys_holding('D', d_nobody), 3,
		     "D's, unassigned, cancelled");
	simple("b", TL_TASK_DELETE);
	cr_assert_eq(view_keys(), 0);
	/* G: three keys per tag, in any status */
	ADD(.title = "g");
	tag("g", "vip");
	tag("g", "hot");
	cr_assert_eq(view_keys(), 9 + 6);
	simple("g", TL_TASK_COMPLETE);
	cr_assert_eq(view_keys(), 9 + 6);
	untag("g", "hot");
	cr_assert_eq(view_keys(), 9 + 3);
	simple("g", TL_TASK_DELETE);
	cr_assert_eq(view_keys(), 0);
	cr_assert_eq(verify(), 0);
}

Test(list, survives_a_rebuild_and_a_reopen)
{
	tl_err err = { 0 };
	clock_ms = T0;
	for (int i = 0; i < 40; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%02d", i);
		ADD(.title = t, .due_ms = T0 + (i % 7) * HOUR,
		    .assignee = i % 3 ? "alice" : NULL,
		    .status = i % 5 ? NULL : "completed");
		clock_ms += i % 2 ? MIN : 0;
	}
	char before[4][8192];
	snprintf(before[0], 8192, "%s", LIST());
	snprintf(before[1], 8192, "%s", LIST(.sort = "created"));
	snprintf(before[2], 8192, "%s",
		 LIST(.assignee = { "alice" }, .status = { "completed" }));
	snprintf(before[3], 8192, "%s", LIST(.sort = "updated", .limit = 7));
	tl_ctx ctx = { .now_ms = clock_ms };
	cr_assert_eq(tl_rebuild(db, &ctx, (const char *[]){ "tasks" }, 1,
				NULL, NULL, &err),
		     0, "rebuild: %s", err.message);
	cr_assert_str_eq(LIST(), before[0]);
	cr_assert_str_eq(LIST(.sort = "created"), before[1]);
	tl_db_close(db);
	ws_open();
	cr_assert_str_eq(LIST(.assignee = { "alice" },
			      .status = { "completed" }),
			 before[2]);
	cr_assert_str_eq(LIST(.sort = "updated", .limit = 7), before[3]);
	cr_assert_eq(verify(), 0);
}

/* ---- paging ----------------------------------------------------------------- */

Test(list, pages_through_everything_without_duplicates)
{
	char want[8192] = "";
	clock_ms = T0;
	for (int i = 0; i < 25; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%02d", i);
		ADD(.title = t, .due_ms = i < 20 ? T0 + (i / 3) * HOUR : 0);
		size_t o = strlen(want);
		snprintf(want + o, sizeof want - o, "%s%s", o ? " " : "", t);
	}
	for (size_t limit = 1; limit <= 26; limit++)
		cr_assert_str_eq(LIST_ALL(limit), want, "limit %zu", limit);
	/* A page that ends exactly at the end has no next cursor. */
	LIST(.limit = 25);
	cr_assert_str_eq(pg_static.next, "");
	LIST(.limit = 24);
	cr_assert_neq(pg_static.next[0], 0);
}

/* Run q into pg, then point q at the page after it, keeping that page's
 * cursor in cursor[TL_CURSOR_MAX].  The titles listed. */
static const char *next_page(lq *q, page *pg, char *cursor)
{
	run_list(q, pg);
	cr_assert_eq(pg->rc, 0, "list: %s: %s", pg->err.field,
		     pg->err.message);
	snprintf(cursor, TL_CURSOR_MAX, "%s", pg->next);
	q->cursor = cursor;
	return pg->text;
}

/* Page through `sort` with limit 4 while changing tasks between pages:
 * tasks that did not move are listed exactly once. */
Test(list, pages_stay_consistent_while_tasks_change)
{
	page *pg = malloc(sizeof *pg);
	char cursor[TL_CURSOR_MAX];
	clock_ms = T0;
	for (int i = 0; i < 20; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%02d", i);
		ADD(.title = t, .due_ms = T0 + i * HOUR);
	}
	lq q = { .limit = 4 };
	cr_assert_str_eq(next_page(&q, pg, cursor), "t00 t01 t02 t03");

	/* Before the cursor: not listed on later pages.  After it: listed. */
	ADD(.title = "early", .due_ms = T0 - HOUR);
	ADD(.title = "tie03", .due_ms = T0 + 3 * HOUR); /* after t03: newer */
	ADD(.title = "late", .due_ms = T0 + 100 * HOUR);
	/* A listed task changes but stays before the cursor... */
	UPDATE("t01", .title = tl_s("t01"), .notes = tl_s("n"));
	/* ...and one moves past it: it shows again, where it is now. */
	UPDATE("t02", .due = tl_s("2026-03-02T19:30:00Z")); /* T0+10.5h */
	/* An unlisted task completes: it leaves. */
	simple("t05", TL_TASK_COMPLETE);
	/* One not yet listed moves earlier than the cursor: skipped. */
	UPDATE("t08", .due = tl_s("2026-03-01"));

	cr_assert_str_eq(next_page(&q, pg, cursor), "tie03 t04 t06 t07");
	set_status("t04", "on_hold"); /* listed; stays in place */
	ADD(.title = "t06b", .due_ms = T0 + 6 * HOUR); /* before cursor */
	cr_assert_str_eq(next_page(&q, pg, cursor), "t09 t10 t02 t11");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t12 t13 t14 t15");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t16 t17 t18 t19");
	cr_assert_str_eq(next_page(&q, pg, cursor), "late");
	cr_assert_str_eq(pg->next, "");
	free(pg);
}

Test(list, pages_by_created_and_updated_while_tasks_change)
{
	page *pg = malloc(sizeof *pg);
	char cursor[TL_CURSOR_MAX];
	clock_ms = T0;
	for (int i = 0; i < 10; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%d", i);
		ADD(.title = t);
		clock_ms += MIN;
	}
	lq q = { .limit = 3, .sort = "created" };
	cr_assert_str_eq(next_page(&q, pg, cursor), "t9 t8 t7");
	ADD(.title = "new"); /* newest: before the cursor */
	UPDATE("t5", .title = tl_s("t5"), .notes = tl_s("x"));
	cr_assert_str_eq(next_page(&q, pg, cursor), "t6 t5 t4");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t3 t2 t1");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t0");
	cr_assert_str_eq(pg->next, "");

	/* updated: a change moves a task to the front, before the cursor */
	q = (lq){ .limit = 3, .sort = "updated" };
	cr_assert_str_eq(next_page(&q, pg, cursor), "new t5 t9");
	clock_ms += MIN;
	UPDATE("t9", .notes = tl_s("again")); /* listed: not again */
	UPDATE("t2", .notes = tl_s("moved")); /* moved ahead: skipped */
	cr_assert_str_eq(next_page(&q, pg, cursor), "t8 t7 t6");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t4 t3 t1");
	cr_assert_str_eq(next_page(&q, pg, cursor), "t0");
	free(pg);
}

Test(list, pages_within_a_due_window_and_across_or_values)
{
	clock_ms = T0;
	for (int i = 0; i < 30; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%02d", i);
		ADD(.title = t, .due_ms = T0 + (i % 10) * 20 * MIN,
		    .assignee = i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : NULL,
		    .type = i % 2 ? "call" : "email");
	}
	/* today runs to T0+15h: every task; the window T0+1h..T0+2h holds
	 * the due times 60, 80, 100 min: i % 10 in 3, 4, 5. */
	const char *want = "t03 t13 t23 t04 t14 t24 t05 t15 t25";
	for (size_t limit = 1; limit <= 10; limit++)
		cr_assert_str_eq(LIST_ALL(limit, .due = "+1h..+2h"), want);
	want = "t13 t23 t04 t14 t05 t25";
	for (size_t limit = 1; limit <= 7; limit++)
		cr_assert_str_eq(LIST_ALL(limit, .due = "+1h..+2h",
					  .assignee = { "unassigned", "bob" }),
				 want, "limit %zu", limit);
	want = "t03 t13 t23 t05 t15 t25";
	for (size_t limit = 1; limit <= 7; limit++)
		cr_assert_str_eq(LIST_ALL(limit, .due = "+1h..+2h",
					  .type = { "call" }),
				 want, "limit %zu", limit);
}

Test(list, refuses_a_cursor_of_another_sort_or_listing)
{
	ADD(.title = "a");
	ADD(.title = "b");
	LIST(.limit = 1);
	char c[TL_CURSOR_MAX];
	snprintf(c, sizeof c, "%s", pg_static.next);
	cr_assert_eq(c[0], 'l');
	cr_assert_str_eq(LIST(.cursor = c), "b");
	LIST_FAILS(TL_EINVALID, "cursor", .cursor = c, .sort = "created");
	c[0] = 'u';
	LIST_FAILS(TL_EINVALID, "cursor", .cursor = c);
	LIST_FAILS(TL_EINVALID, "cursor", .cursor = "l00");
	LIST_FAILS(TL_EINVALID, "cursor", .cursor = "garbage");
	LIST_FAILS(TL_EINVALID, "cursor",
		   .cursor = "l64ZZ000000000000000000000000000000");
	/* An empty cursor is the first page. */
	cr_assert_str_eq(LIST(.cursor = ""), "a b");
}

/* ---- validation --------------------------------------------------------- */

Test(list, validates_every_argument_naming_the_field)
{
	ADD(.title = "a");
	LIST_FAILS(TL_EINVALID, "status", .status = { "done" });
	LIST_FAILS(TL_EINVALID, "status", .status = { "todo", "" });
	LIST_FAILS(TL_EINVALID, "type", .type = { "Call" });
	LIST_FAILS(TL_EINVALID, "entity_type", .entity = { "leads" });
	LIST_FAILS(TL_EINVALID, "record", .record = "lead");
	LIST_FAILS(TL_EINVALID, "record", .record = ":1");
	LIST_FAILS(TL_EINVALID, "record", .record = "lead:");
	LIST_FAILS(TL_EINVALID, "record", .record = "person:1");
	LIST_FAILS(TL_EINVALID, "record", .record = "lead:a\nb");
	LIST_FAILS(TL_EINVALID, "record", .record = "lead:\xff");
	LIST_FAILS(TL_EINVALID, "record", .record = "lead:a\x7f" "b");
	char id129[5 + 130];
	memcpy(id129, "lead:", 5);
	memset(id129 + 5, 'x', 129);
	id129[5 + 129] = 0;
	LIST_FAILS(TL_EINVALID, "record", .record = id129);
	id129[5 + 128] = 0; /* 128 bytes: a record id, of no task */
	cr_assert_str_eq(LIST(.record = id129), "");
	LIST_FAILS(TL_EINVALID, "record", .record = "");
	LIST_FAILS(TL_EINVALID, "assignee", .assignee = { "nobody" });
	LIST_FAILS(TL_EINVALID, "assignee", .assignee = { "" });
	LIST_FAILS(TL_EINVALID, "assignee", .assignee = { TL_SYSTEM_USER });
	LIST_FAILS(TL_EINVALID, "assignee", .as = TL_SYSTEM_USER,
		   .assignee = { "me" });
	LIST_FAILS(TL_EINVALID, "due", .due = "tomorrow");
	LIST_FAILS(TL_EINVALID, "due", .due = "");
	LIST_FAILS(TL_EINVALID, "due", .due = "..");
	LIST_FAILS(TL_EINVALID, "due", .due = "2026-13-01..");
	LIST_FAILS(TL_EINVALID, "due", .due = "+1d..-1d");
	LIST_FAILS(TL_EINVALID, "due", .due = "2026-03-02..2026-03-02");
	LIST_FAILS(TL_EINVALID, "tag", .tag = { "" });
	LIST_FAILS(TL_EINVALID, "tag", .tag = { "vip", "\xff" });
	char tag65[66];
	memset(tag65, 't', 65);
	tag65[65] = 0;
	LIST_FAILS(TL_EINVALID, "tag", .tag = { tag65 });
	tag65[64] = 0; /* 64 bytes: a tag, of no task */
	cr_assert_str_eq(LIST(.tag = { tag65 }), "");
	LIST_FAILS(TL_EINVALID, "search", .search = { "" });
	LIST_FAILS(TL_EINVALID, "search", .search = { "  \xc2\xa0 " });
	/* a soft hyphen alone: nothing to search for */
	LIST_FAILS(TL_EINVALID, "search", .search = { "\xc2\xad" });
	LIST_FAILS(TL_EINVALID, "search", .search = { "ok", "\xff" });
	LIST_FAILS(TL_EINVALID, "search", .search = { "a\tb" });
	LIST_FAILS(TL_EINVALID, "search", .search = { "a\xc2\x85" });
	LIST_FAILS(TL_EINVALID, "search",
		   .search = { "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17" });
	cr_assert_str_eq(LIST(.search = { "1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
					  "15 16" }),
			 "");
	tl_slice nine[9];
	for (int i = 0; i < 9; i++)
		nine[i] = tl_s("x");
	tl_list_query q9 = { .searches = nine, .searches_len = 9 };
	tl_err e9 = { 0 };
	char next9[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, NULL, &q9, collect, &pg_static, next9,
				  &e9),
		     TL_EINVALID);
	cr_assert_str_eq(e9.field, "search");
	q9.searches_len = 8;
	cr_assert_eq(tl_task_list(db, NULL, &q9, collect, &pg_static, next9,
				  &e9),
		     0, "%s", e9.message);
	char s257[258];
	memset(s257, 's', 257);
	s257[257] = 0;
	LIST_FAILS(TL_EINVALID, "search", .search = { s257 });
	s257[256] = 0;
	cr_assert_str_eq(LIST(.search = { s257 }), "");
	LIST_FAILS(TL_EINVALID, "automation", .automation = "show");
	LIST_FAILS(TL_EINVALID, "sort", .sort = "title");
	LIST_FAILS(TL_EINVALID, "limit", .limit = 1001);
	cr_assert_str_eq(LIST(.limit = 1000), "a");
	LIST_FAILS(TL_EINVALID, "tz", .tz = "Mars/Olympus");
}

/* At most 64 tags in a query: 64 pass (one of them the task's), 65 are
 * refused naming the field. */
Test(list, takes_at_most_sixty_four_tags)
{
	ADD(.title = "a");
	tag("a", "t63");
	static char names[65][8];
	tl_slice tags[65];
	for (int i = 0; i < 65; i++) {
		snprintf(names[i], sizeof names[i], "t%d", i);
		tags[i] = tl_s(names[i]);
	}
	tl_list_query q = { .tags = tags, .tags_len = 64 };
	page pg;
	memset(&pg, 0, sizeof pg);
	cr_assert_eq(tl_task_list(db, NULL, &q, collect, &pg, pg.next,
				  &pg.err),
		     0, "%s", pg.err.message);
	cr_assert_str_eq(pg.text, "a");
	q.tags_len = 65;
	memset(&pg, 0, sizeof pg);
	cr_assert_eq(tl_task_list(db, NULL, &q, collect, &pg, pg.next,
				  &pg.err),
		     TL_EINVALID);
	cr_assert_str_eq(pg.err.field, "tag");
	cr_assert_str_eq(pg.text, "");
}

/* A tag is not in an index value: a page decides whether another
 * follows from the documents, so the last match has no next cursor. */
Test(list, a_tag_query_gives_no_cursor_to_an_empty_page)
{
	ADD(.title = "a", .due = "2026-03-03T10:00:00Z");
	ADD(.title = "b", .due = "2026-03-04T10:00:00Z");
	ADD(.title = "c", .due = "2026-03-05T10:00:00Z");
	tl_slice vip = tl_s("vip");
	update("a", (tl_cmd){ .kind = TL_TASK_TAG, .tags = &vip,
			      .tags_len = 1 });
	page pg;
	run_list(&(lq){ .tag = { "vip" }, .limit = 1 }, &pg);
	cr_assert_eq(pg.rc, 0, "%s", pg.err.message);
	cr_assert_str_eq(pg.text, "a");
	cr_assert_str_eq(pg.next, "", "b and c have no tag: no next page");
	update("c", (tl_cmd){ .kind = TL_TASK_TAG, .tags = &vip,
			      .tags_len = 1 });
	run_list(&(lq){ .tag = { "vip" }, .limit = 1 }, &pg);
	cr_assert_neq(pg.next[0], 0, "c follows");
}

/* --search: every word in the title or the notes, compared folded (case,
 * accents, compatibility forms, look-alike spaces and dashes); repeated,
 * any of them; ANDed with the other filters, the assignee's fast path
 * included; a page ends without a cursor when no match follows. */
Test(list, search_finds_words_in_titles_and_notes_folded)
{
	ADD(.title = "Call Dana about the R\xc3\xa9sum\xc3\xa9",
	    .due = "2026-03-03T10:00:00Z", .assignee = "alice");
	ADD(.title = "\xef\xbc\xa1" "CME \xef\xac\x81nal offer",
	    .due = "2026-03-04T10:00:00Z", .assignee = "alice");
	ADD(.title = "Lunch", .due = "2026-03-05T10:00:00Z", .assignee = "bob");
	ADD(.title = "STRASSE", .due = "2026-03-06T10:00:00Z");
	update("Lunch", (tl_cmd){ .kind = TL_TASK_UPDATE,
				  .notes = tl_s("Bring the e\xe2\x80\x91mail\n"
						"of\xc2\xa0" "Dana") });

	cr_assert_str_eq(LIST(.search = { "dana" }),
			 "Call Dana about the R\xc3\xa9sum\xc3\xa9 Lunch");
	cr_assert_str_eq(LIST(.search = { "RESUME call" }),
			 "Call Dana about the R\xc3\xa9sum\xc3\xa9");
	cr_assert_str_eq(LIST(.search = { "resume lunch" }), "",
			 "words in two tasks are no match");
	cr_assert_str_eq(LIST(.search = { "acme final" }),
			 "\xef\xbc\xa1" "CME \xef\xac\x81nal offer");
	cr_assert_str_eq(LIST(.search = { "E-MAIL" }), "Lunch");
	cr_assert_str_eq(LIST(.search = { "stra\xc3\x9f" "e" }), "STRASSE");
	cr_assert_str_eq(LIST(.search = { "of dana" }), "Lunch",
			 "a word may sit in the notes, another in the title");
	cr_assert_str_eq(LIST(.search = { "lunch\xe2\x80\xa8" "dana" }),
			 "Lunch", "a line separator cuts words too");
	cr_assert_str_eq(LIST(.search = { "offer", "lunch" }),
			 "\xef\xbc\xa1" "CME \xef\xac\x81nal offer Lunch");
	/* with the assignee (whose fast check reads no title) */
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .search = { "dana" }),
			 "Call Dana about the R\xc3\xa9sum\xc3\xa9");
	cr_assert_str_eq(LIST(.assignee = { "bob" }, .search = { "offer" }), "");

	page pg;
	run_list(&(lq){ .search = { "dana" }, .limit = 1 }, &pg);
	cr_assert_eq(pg.rc, 0, "%s", pg.err.message);
	cr_assert_neq(pg.next[0], 0, "Lunch follows");
	char next[TL_CURSOR_MAX];
	memcpy(next, pg.next, sizeof next);
	run_list(&(lq){ .search = { "dana" }, .limit = 1, .cursor = next },
		 &pg);
	cr_assert_eq(pg.rc, 0, "%s", pg.err.message);
	cr_assert_str_eq(pg.text, "Lunch");
	cr_assert_str_eq(pg.next, "", "no match follows Lunch");
}

/* A search with no indexed filter to lead it, under the due sort and
 * among active tasks, merges the assignees' covered due ranges (0.3.29):
 * the same page as S's walk, no document read by id; under another sort,
 * with a done status, or past 64 assignees, S leads and reads them. */
Test(list, a_search_reads_the_assignees_covered_ranges)
{
	static const char *const who[] = { "alice", "bob", NULL };
	for (int i = 0; i < 12; i++) {
		char title[32], due[32];
		snprintf(title, sizeof title, "%s t%02d", i % 4 ? "Call" : "Mail",
			 i);
		snprintf(due, sizeof due, "2026-03-%02dT10:00:00Z", 3 + i % 5);
		ADD(.title = title, .due = i % 6 == 5 ? NULL : due,
		    .assignee = who[i % 3],
		    .status = i == 7 ? "in_progress" : i == 8 ? "completed"
							   : NULL);
	}
	const char *want = "Call t10 Call t01 Call t06 Call t02 Call t07 "
			   "Call t03 Call t09 Call t05 Call t11";
	tl_list_docs_read = 0;
	cr_assert_str_eq(list_all((lq){ .search = { "call" } }, 2), want);
	cr_assert_eq(tl_list_docs_read, 0, "read %llu by id",
		     (unsigned long long)tl_list_docs_read);
	cr_assert_str_eq(LIST(.search = { "call" }, .due = "none"),
			 "Call t05 Call t11");
	cr_assert_str_eq(list_all((lq){ .search = { "call" },
					.status = { "on_hold", "todo",
						    "in_progress" } },
				  4),
			 want);
	cr_assert_eq(tl_list_docs_read, 0);

	/* some of the active statuses: S's own ranges (the assignees'
	 * would walk the others', past a full page too: a review) */
	page pg;
	run_list(&(lq){ .search = { "call" }, .status = { "in_progress" },
			.limit = 1 },
		 &pg);
	cr_assert_str_eq(pg.text, "Call t07");
	cr_assert_str_eq(pg.next, "", "no match follows");
	cr_assert_gt(tl_list_docs_read, 0, "S leads with in_progress alone");

	cr_assert_str_eq(LIST(.search = { "call" }, .sort = "created"),
			 "Call t11 Call t10 Call t09 Call t07 Call t06 Call t05 "
			 "Call t03 Call t02 Call t01");
	cr_assert_gt(tl_list_docs_read, 0, "S leads under the created sort");
	tl_list_docs_read = 0;
	cr_assert_str_eq(LIST(.search = { "call" },
			      .status = { "todo", "completed" }),
			 "Call t10 Call t01 Call t06 Call t02 Call t03 "
			 "Call t09 Call t05 Call t11");
	cr_assert_gt(tl_list_docs_read, 0, "S leads with a done status");

	/* 64 assignees and the unassigned: too many ranges, S leads */
	for (int i = 0; i < 64; i++) {
		char id[16];
		snprintf(id, sizeof id, "m%02d", i);
		member(id, "member", 1);
		ADD(.title = "Mail", .assignee = id);
	}
	tl_list_docs_read = 0;
	cr_assert_str_eq(list_all((lq){ .search = { "call" } }, 2), want);
	cr_assert_gt(tl_list_docs_read, 0, "S leads past 64 assignees");
	cr_assert_eq(verify(), 0);
}

/* Notes of TL_NOTES_MAX bytes (65,536: one past what a str 16 holds, so
 * a str 32 in the document) are read in place like any other: the task
 * is listed by a search for a word at their end, from the assignee's
 * covered range and from the statuses' under another sort, and by the
 * assignee's list of a status. */
Test(list, a_search_reads_notes_of_the_largest_size)
{
	static char notes[65537];
	memset(notes, 'n', 65536);
	memcpy(notes + 65536 - 6, " zebra", 6);
	ADD(.title = "a", .assignee = "alice");
	ADD(.title = "b");
	UPDATE("a", .notes = tl_s(notes));
	cr_assert_str_eq(LIST(.search = { "zebra" }), "a");
	cr_assert_str_eq(LIST(.search = { "zebra" }, .sort = "created"), "a");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .status = { "todo" }),
			 "a");
}

Test(list, validates_arguments_before_looking_anything_up)
{
	/* An unknown actor is forbidden, but a bad argument is reported
	 * first; an unknown assignee needs the look-up. */
	LIST_FAILS(TL_EINVALID, "status", .status = { "x" }, .as = "ghost");
	LIST_FAILS(TL_EFORBIDDEN, "as", .as = "ghost");
	LIST_FAILS(TL_EFORBIDDEN, "as", .as = "carol");
	LIST_FAILS(TL_EFORBIDDEN, "as", .assignee = { "nobody" },
		   .as = "ghost");
	/* the system user as an assignee, named or as `me` of the acting
	 * member given, is known without a look-up: reported where the
	 * assignees are checked, before the sort, limit and cursor */
	LIST_FAILS(TL_EINVALID, "assignee", .assignee = { TL_SYSTEM_USER },
		   .sort = "title");
	LIST_FAILS(TL_EINVALID, "assignee", .as = TL_SYSTEM_USER,
		   .assignee = { "me" }, .sort = "title");
	LIST_FAILS(TL_EINVALID, "assignee", .as = TL_SYSTEM_USER,
		   .assignee = { "me" }, .cursor = "x");
}

Test(list, defaults_to_fifty_a_page)
{
	for (int i = 0; i < 55; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%02d", i);
		ADD(.title = t);
	}
	LIST();
	cr_assert_eq(pg_static.n, 50);
	cr_assert_neq(pg_static.next[0], 0);
}

/* ---- local calendars ------------------------------------------------------- */

static int64_t at(const char *rfc3339)
{
	int64_t ms;
	tl_err err = { 0 };
	cr_assert_eq(tl_time_parse(tl_s(rfc3339), T0, NULL, "t", &ms, &err),
		     0, "%s", rfc3339);
	return ms;
}

/* Tasks due 1 ms before, at, 1 ms before the end of, and at the end of
 * [start, end); with now inside, `due` lists exactly "in1 in2". */
static void expect_window(const char *tz, const char *due, const char *now,
			  const char *start, const char *end)
{
	char t[4][32];
	int64_t s = at(start), e = at(end);
	static int round;

	round++;
	snprintf(t[0], 32, "out%d_a", round);
	snprintf(t[1], 32, "in%d_a", round);
	snprintf(t[2], 32, "in%d_b", round);
	snprintf(t[3], 32, "out%d_b", round);
	const char *idv[4];
	idv[0] = ADD(.title = t[0], .due_ms = s - 1);
	idv[1] = ADD(.title = t[1], .due_ms = s);
	idv[2] = ADD(.title = t[2], .due_ms = e - 1);
	idv[3] = ADD(.title = t[3], .due_ms = e);
	char want[80];
	snprintf(want, sizeof want, "%s %s", t[1], t[2]);
	cr_assert_str_eq(LIST(.due = due, .tz = tz, .now = at(now)), want,
			 "%s %s at %s", due, tz ? tz : "(workspace)", now);
	/* The window does not depend on the sort. */
	snprintf(want, sizeof want, "%s %s", t[2], t[1]);
	cr_assert_str_eq(LIST(.due = due, .tz = tz, .now = at(now),
			      .sort = "created"),
			 want);
	/* Leave nothing behind for the next window. */
	for (int i = 0; i < 4; i++)
		exec_ok(NULL, &(tl_cmd){ .kind = TL_TASK_DELETE,
					 .id = tl_s(idv[i]) },
			NULL);
}

Test(list, today_and_week_in_berlin_across_both_clock_changes)
{
	/* 2026-03-29: 23 hours; 2026-10-25: 25 hours. */
	expect_window("Europe/Berlin", "today", "2026-03-29T12:00:00Z",
		      "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
	expect_window("Europe/Berlin", "today", "2026-03-28T23:00:00Z",
		      "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
	expect_window("Europe/Berlin", "today", "2026-10-25T22:59:59.999Z",
		      "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
	expect_window("Europe/Berlin", "week", "2026-03-29T12:00:00Z",
		      "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z");
	expect_window("Europe/Berlin", "week", "2026-10-25T12:00:00Z",
		      "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z");
	/* The workspace zone when the reader gives none. */
	expect_window(NULL, "today", "2026-03-29T12:00:00Z",
		      "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z");
}

Test(list, today_and_week_in_los_angeles_across_both_clock_changes)
{
	expect_window("America/Los_Angeles", "today", "2026-03-08T20:00:00Z",
		      "2026-03-08T08:00:00Z", "2026-03-09T07:00:00Z");
	expect_window("America/Los_Angeles", "today", "2026-11-01T07:00:00Z",
		      "2026-11-01T07:00:00Z", "2026-11-02T08:00:00Z");
	/* Monday weeks: 2026-03-02..09 local, the change on the Sunday. */
	expect_window("America/Los_Angeles", "week", "2026-03-08T20:00:00Z",
		      "2026-03-02T08:00:00Z", "2026-03-09T07:00:00Z");
	expect_window("America/Los_Angeles", "week", "2026-11-01T20:00:00Z",
		      "2026-10-26T07:00:00Z", "2026-11-02T08:00:00Z");
}

Test(list, today_and_week_in_auckland_across_both_clock_changes)
{
	expect_window("Pacific/Auckland", "today", "2026-04-05T00:00:00Z",
		      "2026-04-04T11:00:00Z", "2026-04-05T12:00:00Z");
	expect_window("Pacific/Auckland", "today", "2026-09-27T10:59:59Z",
		      "2026-09-26T12:00:00Z", "2026-09-27T11:00:00Z");
	expect_window("Pacific/Auckland", "week", "2026-04-05T00:00:00Z",
		      "2026-03-29T11:00:00Z", "2026-04-05T12:00:00Z");
	/* Monday 2026-04-06 local starts the next week. */
	expect_window("Pacific/Auckland", "week", "2026-04-05T12:00:00Z",
		      "2026-04-05T12:00:00Z", "2026-04-12T12:00:00Z");
}

Test(list_weeks, start_on_sunday_when_the_workspace_says_so)
{
	ws_create("Europe/Berlin", "sunday");
	/* Sunday 2026-03-29 starts its own week: to Sunday 2026-04-05. */
	expect_window(NULL, "week", "2026-03-29T12:00:00Z",
		      "2026-03-28T23:00:00Z", "2026-04-04T22:00:00Z");
	/* Saturday 2026-03-28 belongs to the week before. */
	expect_window(NULL, "week", "2026-03-28T12:00:00Z",
		      "2026-03-21T23:00:00Z", "2026-03-28T23:00:00Z");
	expect_window(NULL, "today", "2026-03-29T12:00:00Z",
		      "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
	/* A date in a range is local midnight in the reader's zone. */
	ADD(.title = "d", .due_ms = at("2026-03-28T23:30:00Z"));
	cr_assert_str_eq(LIST(.due = "2026-03-29..2026-03-30"), "d");
	cr_assert_str_eq(LIST(.due = "2026-03-29..2026-03-30", .tz = "UTC"),
			 "");
}

Test(list_weeks, start_on_monday_by_default)
{
	ws_create("Europe/Berlin", NULL);
	expect_window(NULL, "week", "2026-03-29T12:00:00Z",
		      "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z");
}

/* ---- upcoming ----------------------------------------------------------- */

Test(upcoming, lists_a_members_active_tasks_due_in_the_next_days)
{
	clock_ms = T0;
	ADD(.title = "overdue", .due_ms = T0 - 1, .assignee = "alice");
	ADD(.title = "now", .due_ms = T0, .assignee = "alice");
	ADD(.title = "d6", .due_ms = T0 + 6 * DAY, .assignee = "alice");
	ADD(.title = "d7", .due_ms = T0 + 7 * DAY - 1, .assignee = "alice");
	ADD(.title = "d7_end", .due_ms = T0 + 7 * DAY, .assignee = "alice");
	ADD(.title = "d1", .due_ms = T0 + DAY, .assignee = "alice");
	ADD(.title = "no_due", .assignee = "alice");
	ADD(.title = "bobs", .due_ms = T0 + HOUR, .assignee = "bob");
	ADD(.title = "nobodys", .due_ms = T0 + HOUR);
	ADD(.title = "done", .due_ms = T0 + HOUR, .assignee = "alice",
	    .status = "completed");
	ADD(.title = "held", .due_ms = T0 + 2 * HOUR, .assignee = "alice",
	    .status = "on_hold");
	cr_assert_str_eq(UPCOMING(.as = "alice"), "now held d1 d6 d7");
	cr_assert_str_eq(UPCOMING(.as = "alice", .member = "alice"),
			 "now held d1 d6 d7");
	cr_assert_str_eq(UPCOMING(.as = "alice", .member = "me"),
			 "now held d1 d6 d7");
	cr_assert_str_eq(UPCOMING(.as = "alice", .days = 1), "now held");
	cr_assert_str_eq(UPCOMING(.as = "alice", .days = 8),
			 "now held d1 d6 d7 d7_end");
	cr_assert_str_eq(UPCOMING(.as = "alice", .days = -3),
			 "now held d1 d6 d7");
	cr_assert_str_eq(UPCOMING(.member = "alice"), "now held d1 d6 d7");
	cr_assert_str_eq(UPCOMING(.member = "bob", .as = "root"), "bobs");
	cr_assert_str_eq(UPCOMING(), "");
	cr_assert_str_eq(UPCOMING(.as = "alice", .now = T0 + 1),
			 "held d1 d6 d7 d7_end");
}

Test(upcoming, pages_and_follows_changes)
{
	page *pg = malloc(sizeof *pg);
	char c[TL_CURSOR_MAX];
	clock_ms = T0;
	for (int i = 0; i < 9; i++) {
		char t[8];
		snprintf(t, sizeof t, "t%d", i);
		ADD(.title = t, .due_ms = T0 + (i / 2) * HOUR,
		    .assignee = "alice");
	}
	run_upcoming(&(uq){ .as = "alice", .limit = 4 }, pg);
	cr_assert_str_eq(pg->text, "t0 t1 t2 t3");
	snprintf(c, sizeof c, "%s", pg->next);
	cr_assert_eq(c[0], 'u');
	assign("t5", "bob");
	run_upcoming(&(uq){ .as = "alice", .limit = 4, .cursor = c }, pg);
	cr_assert_str_eq(pg->text, "t4 t6 t7 t8");
	cr_assert_str_eq(pg->next, "");
	/* A list cursor is not an upcoming cursor. */
	LIST(.limit = 1);
	run_upcoming(&(uq){ .as = "alice", .cursor = pg_static.next }, pg);
	cr_assert_eq(pg->rc, TL_EINVALID);
	cr_assert_str_eq(pg->err.field, "cursor");
	free(pg);
}

/* Members with CRM access see all tasks (SPEC), so any member's upcoming
 * tasks, as task list --assignee lists them (before 0.3.51 another
 * member's needed an admin). */
Test(upcoming, is_any_members_for_every_member)
{
	ADD(.title = "b1", .assignee = "bob", .due = "+1d");
	ADD(.title = "a1", .assignee = "alice", .due = "+2d");
	ADD(.title = "b0", .assignee = "bob", .due = "+1h");
	cr_assert_str_eq(UPCOMING(.as = "alice", .member = "bob"), "b0 b1");
	cr_assert_str_eq(UPCOMING(.as = "root", .member = "bob"), "b0 b1");
	cr_assert_str_eq(UPCOMING(.as = "bob", .member = "alice"), "a1");
	UPCOMING_FAILS(TL_ENOTFOUND, "member", .as = "root", .member = "ghost");
	UPCOMING_FAILS(TL_ENOTFOUND, "member", .as = "alice", .member = "ghost");
	UPCOMING_FAILS(TL_EFORBIDDEN, "as", .as = "carol");
	UPCOMING_FAILS(TL_EINVALID, "limit", .as = "alice", .limit = 5000);
	UPCOMING_FAILS(TL_EINVALID, "days", .as = "alice", .days = 100000);
	UPCOMING_FAILS(TL_EINVALID, "days", .as = "alice", .days = 36601);
	page *ok = malloc(sizeof *ok);
	run_upcoming(&(uq){ .as = "alice", .days = 36600 }, ok);
	cr_assert_eq(ok->rc, 0, "%s", ok->err.message);
	free(ok);
	UPCOMING_FAILS(TL_EINVALID, "member", .as = "alice", .member = "");
	UPCOMING_FAILS(TL_EINVALID, "member", .as = "root", .member = "Bob");
	UPCOMING_FAILS(TL_EINVALID, "cursor", .as = "alice", .cursor = "u12");
	/* The system user holds no task: named, as `me` or as the actor. */
	UPCOMING_FAILS(TL_EINVALID, "member", .as = "root",
		       .member = TL_SYSTEM_USER);
	UPCOMING_FAILS(TL_EINVALID, "member", .as = TL_SYSTEM_USER);
	UPCOMING_FAILS(TL_EINVALID, "member", .as = TL_SYSTEM_USER,
		       .member = "me");
}

/* ---- randomized: every query shape against a model ------------------------ */

#define R_TASKS_MAX 2048

static const char *const r_members[] = { "alice", "bob", "dave", "admin" };
static const char *const r_records[] = {
	"lead:1", "lead:2", "lead:3", "contact:1", "contact:2",
	"account:1", "opportunity:1", "opportunity:2", "lead:x:y"
};
static const char *const r_types[] = { "call", "email", "message", "meeting",
				       "chat", "proposal", "note", "task",
				       "follow_up", "demo" };
static const char *const r_statuses[] = { "todo", "in_progress", "on_hold",
					  "completed", "cancelled" };
/* Titles, each with how it folds: what a search looks for in it. */
static const char *const r_titles[][2] = {
	{ "r", "r" }, { "s", "s" }, { "Call Dána", "call dana" },
	{ "CALL dana", "call dana" }, { "\xef\xac\x81le R\xc3\xa9sum\xc3\xa9",
					   "file resume" },
	{ "send FILE", "send file" },
};
/* Searches, each with its words folded. */
static const char *const r_searches[][2] = {
	{ "dana", "dana" }, { "CALL", "call" }, { "r\xc3\xa9sum\xc3\xa9", "resume" },
	{ "fi", "fi" }, { "zzz", "zzz" }, { "call  Dana", "call dana" },
	{ "file send", "file send" }, { "E", "e" },
};
static const char *const r_entities[] = { "contact", "lead", "account",
					  "opportunity" };

typedef struct model {
	char id[R_TASKS_MAX][37];
	bool gone[R_TASKS_MAX]; /* deleted */
	size_t n;
	tl_task t[R_TASKS_MAX]; /* state read back */
} model;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

#define PICK(arr) (arr)[rnd(sizeof(arr) / sizeof((arr)[0]))]

static void rand_due(char *buf, tl_slice *out)
{
	int64_t d = clock_ms + ((int64_t)rnd(40 * 24) - 20 * 24) * HOUR +
		    (rnd(3) ? 0 : (int64_t)rnd(60) * MIN);
	tl_time_format(d, buf);
	*out = tl_s(buf);
}

/* One random command on the model's tasks; returns the index of the
 * task it changed, or SIZE_MAX when it added one or did nothing. */
static size_t rand_command(model *m)
{
	char due[32];
	tl_result res;
	uint32_t k = rnd(100);
	size_t i = m->n ? rnd((uint32_t)m->n) : 0;

	clock_ms += rnd(4) == 0 ? 0 : (int64_t)rnd(5) * MIN;
	if (m->n < 20 || k < 35 || (m->gone[i] && k < 90)) {
		if (m->n == R_TASKS_MAX)
			return SIZE_MAX;
		tl_cmd c = { .kind = TL_TASK_ADD,
			     .title = tl_s(PICK(r_titles)[0]),
			     .link = tl_s(PICK(r_records)) };
		if (rnd(4))
			c.type = tl_s(PICK(r_types));
		if (rnd(5))
			rand_due(due, &c.due);
		if (rnd(3))
			c.assignee = tl_s(PICK(r_members));
		if (!rnd(5))
			c.status = tl_s(PICK(r_statuses));
		exec_ok(NULL, &c, &res);
		tl_task t;
		cr_assert_eq(tl_task_decode(res.doc, res.doc_len, &t), 0);
		tl_uuid_format(t.id, m->id[m->n++]);
		tl_task_release(&t);
		tl_result_release(&res);
		return SIZE_MAX;
	}
	if (m->gone[i])
		return SIZE_MAX;
	tl_cmd c = { .id = tl_s(m->id[i]) };
	tl_slice tag = tl_s(rnd(2) ? "a" : "b");
	if (k < 50) {
		c.kind = TL_TASK_UPDATE;
		switch (rnd(4)) {
		case 0: rand_due(due, &c.due); break;
		case 1: c.no_due = true; break;
		case 2: c.type = tl_s(PICK(r_types)); break;
		default: c.title = tl_s(PICK(r_titles)[0]); break;
		}
	} else if (k < 65) {
		c.kind = TL_TASK_ASSIGN;
		if (rnd(4))
			c.assignee = tl_s(PICK(r_members));
		else
			c.unassign = true;
	} else if (k < 80) {
		c.kind = TL_TASK_STATUS;
		c.status = tl_s(PICK(r_statuses));
	} else if (k < 85) {
		c.kind = TL_TASK_COMPLETE;
	} else if (k < 90) {
		c.kind = rnd(2) ? TL_TASK_TAG : TL_TASK_UNTAG;
		c.tags = &tag;
		c.tags_len = 1;
	} else {
		c.kind = TL_TASK_DELETE;
		m->gone[i] = true;
	}
	exec_ok(NULL, &c, NULL);
	return i;
}

static void model_load(model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		uint8_t *doc;
		size_t len;
		tl_err err = { 0 };
		cr_assert_eq(tl_task_get(db, NULL, tl_s(m->id[i]), &doc, &len,
					 &err),
			     0);
		cr_assert_eq(tl_task_decode(doc, len, &m->t[i]), 0);
		cr_assert_eq(m->t[i].deleted, m->gone[i]);
		free(doc);
	}
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n; i++)
		tl_task_release(&m->t[i]);
}

static bool in_list(const char *const *v, const char *s)
{
	for (int i = 0; i < MANY && v[i]; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static bool is_active(int st)
{
	return st <= 2;
}

/* The model's answer: does task t belong to query q (read as `actor`,
 * in zone tz at `now`)? */
/* Is t due in the window `due`, range its FROM..TO? */
static bool due_in(const char *due, const tl_task *t, int64_t now,
		   const int64_t today[2], const int64_t week[2],
		   const int64_t range[2])
{
	if (!strcmp(due, "none"))
		return !t->has_due;
	if (!t->has_due)
		return false;
	if (!strcmp(due, "overdue"))
		return t->due_at < now && is_active(t->status);
	const int64_t *w = !strcmp(due, "today") ? today
			   : !strcmp(due, "week") ? week : range;
	return t->due_at >= w[0] && t->due_at < w[1];
}

static bool model_match(const lq *q, const tl_task *t, int64_t now,
			int64_t today[2], int64_t week[2], int64_t range[4])
{
	if (t->deleted)
		return false;
	if (q->status[0] ? !in_list(q->status, tl_status_tokens[t->status])
			 : !is_active(t->status))
		return false;
	if (q->type[0] && !in_list(q->type, tl_type_tokens[t->type]))
		return false;
	if (q->entity[0] &&
	    !in_list(q->entity, tl_entity_tokens[t->link_type]))
		return false;
	if (q->record) {
		char rec[256];
		snprintf(rec, sizeof rec, "%s:%s",
			 tl_entity_tokens[t->link_type], t->link_id);
		if (strcmp(rec, q->record))
			return false;
	}
	if (q->assignee[0]) {
		bool ok = false;
		for (int i = 0; i < MANY && q->assignee[i]; i++) {
			const char *a = q->assignee[i];
			if (!strcmp(a, "unassigned"))
				ok |= !t->assignee;
			else if (!strcmp(a, "me"))
				ok |= t->assignee &&
				      !strcmp(t->assignee, "admin");
			else
				ok |= t->assignee && !strcmp(t->assignee, a);
		}
		if (!ok)
			return false;
	}
	if (q->tag[0]) {
		bool ok = false;
		for (size_t i = 0; i < t->tags_len; i++)
			ok |= in_list(q->tag, t->tags[i]);
		if (!ok)
			return false;
	}
	if (q->search[0]) {
		const char *base = NULL;
		bool ok = false;
		for (size_t i = 0; i < sizeof r_titles / sizeof *r_titles; i++)
			if (!strcmp(r_titles[i][0], t->title))
				base = r_titles[i][1];
		cr_assert(base, "a title of no test's: %s", t->title);
		for (int i = 0; i < MANY && q->search[i]; i++) {
			const char *words = NULL;
			for (size_t j = 0;
			     j < sizeof r_searches / sizeof *r_searches; j++)
				if (!strcmp(r_searches[j][0], q->search[i]))
					words = r_searches[j][1];
			cr_assert(words);
			char w[64], *save = NULL;
			snprintf(w, sizeof w, "%s", words);
			bool all = true;
			for (char *x = strtok_r(w, " ", &save); x;
			     x = strtok_r(NULL, " ", &save))
				all &= strstr(base, x) != NULL;
			ok |= all;
		}
		if (!ok)
			return false;
	}
	if (q->due || q->due2)
		return (q->due && due_in(q->due, t, now, today, week, range)) ||
		       (q->due2 &&
			due_in(q->due2, t, now, today, week, range + 2));
	return true;
}

static int model_cmp_sort;
static const tl_task *model_cmp_base;
static int model_cmp(const void *a, const void *b)
{
	const tl_task *x = &model_cmp_base[*(const size_t *)a];
	const tl_task *y = &model_cmp_base[*(const size_t *)b];
	int64_t kx, ky;
	if (model_cmp_sort == 'd') {
		if (x->has_due != y->has_due)
			return x->has_due ? -1 : 1;
		if (x->has_due && x->due_at != y->due_at)
			return x->due_at < y->due_at ? -1 : 1;
		return x->created_seq < y->created_seq ? -1 : 1;
	}
	kx = model_cmp_sort == 'c' ? x->created_at : x->updated_at;
	ky = model_cmp_sort == 'c' ? y->created_at : y->updated_at;
	if (kx != ky)
		return kx > ky ? -1 : 1;
	return x->created_seq > y->created_seq ? -1 : 1;
}

/* Compare the paged listing of q with the model's. */
static void check_query(model *m, lq q, const char *what)
{
	static size_t order[R_TASKS_MAX];
	static char cursor[TL_CURSOR_MAX];
	static page pg;
	int64_t today[2], week[2], range[4] = { 0, 0, 0, 0 };
	const char *tz = q.tz ? q.tz : "UTC";
	size_t n = 0, got = 0;

	cr_assert_eq(tl_day_range(clock_ms, tz, &today[0], &today[1]), 0);
	cr_assert_eq(tl_week_range(clock_ms, tz, 1, &week[0], &week[1]), 0);
	for (int k = 0; k < 2; k++) {
		const char *d = k ? q.due2 : q.due;
		if (!d || !strstr(d, ".."))
			continue;
		char from[40], to[40];
		tl_err err;
		int64_t *rg = range + 2 * k;
		const char *dots = strstr(d, "..");
		snprintf(from, sizeof from, "%.*s", (int)(dots - d), d);
		snprintf(to, sizeof to, "%s", dots + 2);
		rg[0] = INT64_MIN;
		rg[1] = INT64_MAX;
		if (from[0])
			cr_assert_eq(tl_time_parse(tl_s(from), clock_ms, tz,
						   "d", &rg[0], &err), 0);
		if (to[0])
			cr_assert_eq(tl_time_parse(tl_s(to), clock_ms, tz, "d",
						   &rg[1], &err), 0);
	}
	for (size_t i = 0; i < m->n; i++)
		if (model_match(&q, &m->t[i], clock_ms, today, week, range))
			order[n++] = i;
	model_cmp_sort = q.sort ? q.sort[0] : 'd';
	model_cmp_base = m->t;
	qsort(order, n, sizeof *order, model_cmp);

	/* A due window under another sort has several ways to a page
	 * (tl_list_window_way), and so do the assignees with a tag or a type
	 * (tl_list_lead_way): each page takes the next, so that the cursors
	 * of each serve the others. */
	static unsigned turn, lead_turn;
	bool windowed = (q.due || q.due2) && q.sort && q.sort[0] != 'd';
	q.cursor = NULL;
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 2 * R_TASKS_MAX, "%s: paging does not end",
			     what);
		tl_list_window_way(windowed ? turn++ % 4 : 3);
		tl_list_lead_way(lead_turn++ % 4);
		run_list(&q, &pg);
		tl_list_window_way(3);
		tl_list_lead_way(3);
		cr_assert_eq(pg.rc, 0, "%s: %s: %s", what, pg.err.field,
			     pg.err.message);
		for (size_t j = 0; j < pg.n; j++, got++) {
			cr_assert_lt(got, n, "%s: more tasks than the model's "
				     "%zu", what, n);
			cr_assert_str_eq(pg.ids[j], m->id[order[got]],
					 "%s: task %zu of %zu differs", what,
					 got, n);
		}
		if (!pg.next[0])
			break;
		snprintf(cursor, sizeof cursor, "%s", pg.next);
		q.cursor = cursor;
	}
	cr_assert_eq(got, n, "%s: listed %zu of the model's %zu", what, got,
		     n);
}

static void fill(const char **dst, const char *const *src, size_t n_src,
		 uint32_t count)
{
	for (uint32_t i = 0; i < count && i < MANY; i++)
		dst[i] = src[rnd((uint32_t)n_src)];
}

static void check_all_shapes(model *m, int rounds)
{
	static const char *const sorts[] = { "due", "created", "updated" };
	static const char *const assignees[] = { "alice", "bob", "dave",
						 "admin", "me",
						 "unassigned" };
	static const char *const tags[] = { "a", "b", "z" }; /* z: none */
	static const char *const dues[] = { "overdue", "today", "week",
					    "none", "-3d..+2d",
					    "2026-03-01..2026-03-09",
					    "+1d..", "..-5d" };
	char what[64];

	model_load(m);
	/* Each filter alone, under each sort. */
	for (int s = 0; s < 3; s++) {
		const char *so = sorts[s];
		size_t lim = 1 + rnd(9);
		check_query(m, (lq){ .sort = so, .limit = lim }, "all");
		for (size_t i = 0; i < 6; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .assignee = { assignees[i] } },
				    assignees[i]);
		for (size_t i = 0; i < 5; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .status = { r_statuses[i] } },
				    r_statuses[i]);
		for (size_t i = 0; i < 10; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .type = { r_types[i] } },
				    r_types[i]);
		for (size_t i = 0; i < 4; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .entity = { r_entities[i] } },
				    r_entities[i]);
		for (size_t i = 0; i < 9; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .record = r_records[i] },
				    r_records[i]);
		for (size_t i = 0; i < 8; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .due = dues[i],
					     .tz = "Europe/Berlin" },
				    dues[i]);
		for (size_t i = 0; i < 3; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .tag = { tags[i] } },
				    tags[i]);
		for (size_t i = 0;
		     i < sizeof r_searches / sizeof *r_searches; i++)
			check_query(m, (lq){ .sort = so, .limit = lim,
					     .search = { r_searches[i][0] } },
				    r_searches[i][0]);
	}
	/* Random combinations. */
	for (int r = 0; r < rounds; r++) {
		lq q = { .sort = sorts[rnd(3)], .limit = 1 + rnd(12),
			 .tz = rnd(2) ? "America/Los_Angeles" : NULL };
		if (!rnd(3))
			fill(q.assignee, assignees, 6, 1 + rnd(3));
		if (!rnd(3))
			fill(q.status, r_statuses, 5, 1 + rnd(3));
		if (!rnd(4))
			fill(q.type, r_types, 10, 1 + rnd(4));
		if (!rnd(4))
			fill(q.entity, r_entities, 4, 1 + rnd(2));
		if (!rnd(5))
			q.record = PICK(r_records);
		if (!rnd(3))
			q.due = PICK(dues);
		if (q.due && !rnd(2))
			q.due2 = PICK(dues);
		if (!rnd(4))
			fill(q.tag, tags, 3, 1 + rnd(2));
		for (uint32_t i = 0, n = rnd(4) ? 0 : 1 + rnd(2); i < n; i++)
			q.search[i] = PICK(r_searches)[0];
		snprintf(what, sizeof what, "combination %d", r);
		check_query(m, q, what);
	}
	model_free(m);
}

Test(list, agrees_with_a_model_over_random_commands)
{
	model *m = calloc(1, sizeof *m);
	clock_ms = T0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 1000; i++)
			rand_command(m);
		/* rounds 1 and 3: every scan with tag, type or entity type
		 * filters beside its leading ranges walks their ranges too */
		tl_list_also_after = round % 2 ? 0 : 32;
		check_all_shapes(m, 150);
	}
	tl_list_also_after = 32;
	cr_assert_eq(verify(), 0, "the view differs from a rebuild");
	/* Again through a rebuild in small chunks whose sorted writes go out
	 * in many runs: every bulk path against the incremental views. */
	tl_rebuild_chunk = 97;
	tl_rebuild_mem = 16 * 1024;
	cr_assert_eq(verify(), 0, "the view differs from a chunked rebuild");
	tl_rebuild_chunk = 50000;
	tl_rebuild_mem = (size_t)1 << 30;
	free(m);
}

/* Page through queries while random commands change random tasks between
 * pages: every task that matched at the start and was never touched is
 * listed exactly once, and no untouched task is listed twice. */
static void page_under_changes(model *m, lq q, const char *what)
{
	static bool touched[R_TASKS_MAX], matched[R_TASKS_MAX];
	static int seen[R_TASKS_MAX];
	static char cursor[TL_CURSOR_MAX];
	static page pg;
	int64_t today[2], week[2],
		range[4] = { INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX };
	size_t n0 = m->n;

	model_load(m);
	cr_assert_eq(tl_day_range(clock_ms, "UTC", &today[0], &today[1]), 0);
	cr_assert_eq(tl_week_range(clock_ms, "UTC", 1, &week[0], &week[1]), 0);
	for (size_t i = 0; i < m->n; i++) {
		matched[i] = model_match(&q, &m->t[i], clock_ms, today, week,
					 range);
		touched[i] = false;
		seen[i] = 0;
	}
	model_free(m);
	q.cursor = NULL;
	q.now = clock_ms; /* one clock for the whole walk: overdue holds */
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 4 * R_TASKS_MAX, "%s: no end", what);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, 0, "%s: %s", what, pg.err.message);
		for (size_t j = 0; j < pg.n; j++) {
			size_t i;
			for (i = 0; i < m->n; i++)
				if (!strcmp(m->id[i], pg.ids[j]))
					break;
			cr_assert_lt(i, m->n, "%s: unknown task listed", what);
			seen[i]++;
			cr_assert(touched[i] || i >= n0 || seen[i] == 1,
				  "%s: untouched task %s listed twice", what,
				  m->id[i]);
		}
		if (!pg.next[0])
			break;
		snprintf(cursor, sizeof cursor, "%s", pg.next);
		q.cursor = cursor;
		/* Change a few tasks: the commands touch what they pick. */
		for (int k = 0; k < 3; k++) {
			size_t i = rand_command(m);
			if (i != SIZE_MAX)
				touched[i] = true;
		}
	}
	for (size_t i = 0; i < n0; i++)
		if (matched[i] && !touched[i])
			cr_assert_eq(seen[i], 1,
				     "%s: untouched task %s listed %d times",
				     what, m->id[i], seen[i]);
}

/* An assignee's or a record's tasks in any set of statuses, led by their
 * active and done ranges together (M and D, R's classes; 0.3.27), with
 * tags, types and due windows beside them, and the leapfrog join from
 * the first entry in half the rounds: each query against the model, then
 * pages under random changes, and the view against a chunked rebuild
 * (written by a review of that change). */
Test(list, assignee_and_record_pages_in_any_status_agree_with_the_model)
{
	model *m = calloc(1, sizeof *m);
	clock_ms = T0;
	static const char *const sorts[] = { "due", "created", "updated" };
	static const char *const assignees[] = { "alice", "bob", "dave",
						 "admin", "me", "unassigned" };
	static const char *const tags[] = { "a", "b", "z" };
	unsigned also_after = tl_list_also_after;
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 500; i++)
			rand_command(m);
		tl_list_also_after = round % 2 ? 0 : also_after;
		model_load(m);
		for (int r = 0; r < 400; r++) {
			lq q = { .sort = sorts[rnd(3)], .limit = 1 + rnd(6) };
			if (rnd(2))
				fill(q.assignee, assignees, 6, 1 + rnd(3));
			else
				q.record = PICK(r_records);
			fill(q.status, r_statuses, 5, 1 + rnd(4));
			if (!rnd(3))
				fill(q.tag, tags, 3, 1 + rnd(2));
			if (!rnd(4))
				fill(q.type, r_types, 10, 1 + rnd(2));
			if (!rnd(4))
				q.due = rnd(2) ? "-3d..+2d" : "none";
			check_query(m, q, "any status");
		}
		model_free(m);
	}
	tl_list_also_after = also_after;
	page_under_changes(m, (lq){ .limit = 2,
				    .assignee = { "alice", "bob" },
				    .status = { "completed", "cancelled",
						"todo" },
				    .sort = "updated" },
			   "done assignees");
	page_under_changes(m, (lq){ .limit = 3, .record = "lead:1",
				    .status = { "completed", "on_hold",
						"cancelled" } },
			   "done record");
	page_under_changes(m, (lq){ .limit = 2, .record = "contact:1",
				    .sort = "updated" },
			   "record updated");
	cr_assert_eq(verify(), 0);
	uint64_t chunk = tl_rebuild_chunk;
	size_t mem = tl_rebuild_mem;
	tl_rebuild_chunk = 97;
	tl_rebuild_mem = 16 * 1024;
	cr_assert_eq(verify(), 0, "the view differs from a chunked rebuild");
	tl_rebuild_chunk = chunk;
	tl_rebuild_mem = mem;
	free(m);
}

Test(list, pages_without_duplicates_or_skips_under_random_changes)
{
	model *m = calloc(1, sizeof *m);
	clock_ms = T0;
	for (int i = 0; i < 400; i++)
		rand_command(m);
	page_under_changes(m, (lq){ .limit = 7 }, "due");
	page_under_changes(m, (lq){ .limit = 5, .sort = "created" },
			   "created");
	page_under_changes(m, (lq){ .limit = 6, .sort = "updated" },
			   "updated");
	page_under_changes(m, (lq){ .limit = 3, .assignee = { "alice", "bob" } },
			   "assignees");
	page_under_changes(m, (lq){ .limit = 4,
				    .status = { "todo", "completed" },
				    .sort = "updated" },
			   "statuses");
	page_under_changes(m, (lq){ .limit = 2, .due = "overdue" },
			   "overdue");
	page_under_changes(m, (lq){ .limit = 3, .type = { "call", "task" },
				    .sort = "created" },
			   "types");
	/* an assignee's range in step with the tags' and kinds' */
	tl_list_also_after = 0;
	page_under_changes(m, (lq){ .limit = 2, .assignee = { "alice", "bob" },
				    .tag = { "a" } },
			   "assignees and a tag");
	page_under_changes(m, (lq){ .limit = 3, .assignee = { "alice" },
				    .type = { "call", "task" },
				    .sort = "updated" },
			   "an assignee and types");
	page_under_changes(m, (lq){ .limit = 2, .tag = { "a", "b" },
				    .entity = { "lead" } },
			   "tags and an entity type");
	tl_list_also_after = 32;
	cr_assert_eq(verify(), 0);
	free(m);
}

/* M's due range carries each active task's document: every change to the
 * task shows there, and a document too big to carry is fetched by id. */
Test(list, the_covered_range_follows_every_change_of_the_document)
{
	static char notes[2001];
	clock_ms = T0;
	ADD(.title = "a", .assignee = "alice", .due_ms = T0 + HOUR);
	ADD(.title = "z", .assignee = "alice", .due_ms = T0 + 2 * HOUR);
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "a z");
	UPDATE("a", .title = tl_s("b"));
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "b z");
	memset(notes, 'n', sizeof notes - 1);
	UPDATE("a", .title = tl_s("c"), .notes = tl_s(notes));
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "c z");
	/* The record's due range (in the timeline view) follows too. */
	cr_assert_str_eq(LIST(.record = "lead:1", .sort = "due"), "c z");
	UPDATE("a", .title = tl_s("d"), .notes = tl_s("short"));
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "d z");
	cr_assert_str_eq(LIST(.record = "lead:1", .sort = "due"), "d z");
	UPDATE("a", .due = tl_s("2000-01-01T00:00:00Z"));
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "d z");
	UPDATE("z", .due = tl_s("1999-01-01T00:00:00Z"));
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "z d");
	cr_assert_str_eq(LIST(.record = "lead:1", .sort = "due"), "z d");
	assign("z", "bob");
	cr_assert_str_eq(LIST(.assignee = { "alice" }, .sort = "due"), "d");
	cr_assert_str_eq(LIST(.assignee = { "bob" }, .sort = "due"), "z");
	cr_assert_eq(verify(), 0);
}

/* ---- the library as a C user misuses it ------------------------------ */

TestSuite(api, .init = setup, .fini = teardown);

static uint64_t head_seq(void)
{
	tl_stats st;
	tl_err err;
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0, "%s", err.message);
	return st.last_seq;
}

static int ignore_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)arg;
	(void)doc;
	(void)len;
	return 0;
}

/* The obvious paging loop passes one buffer as the cursor and as the
 * next cursor: the cursor is read before the next one is written. */
Test(api, paging_with_one_buffer_for_both_cursors)
{
	for (int i = 0; i < 7; i++) {
		char t[8];
		snprintf(t, sizeof t, "p%d", i);
		ADD(.title = t, .due_ms = T0 + (i + 1) * 3600000);
	}
	char cur[TL_CURSOR_MAX] = "";
	char seen[8400] = "";
	tl_err err;
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 10, "paging does not end");
		tl_list_query q = { .limit = 3, .cursor = tl_s(cur) };
		page pg;
		memset(&pg, 0, sizeof pg);
		int rc = tl_task_list(db, NULL, &q, collect, &pg, cur, &err);
		cr_assert_eq(rc, 0, "%s: %s", err.field, err.message);
		size_t o = strlen(seen);
		snprintf(seen + o, sizeof seen - o, "%s%s", o ? " " : "",
			 pg.text);
		if (!cur[0])
			break;
	}
	cr_assert_str_eq(seen, "p0 p1 p2 p3 p4 p5 p6");
	/* the same for upcoming, timeline and notifications' buffers */
	tl_cmd a = { .kind = TL_TASK_ASSIGN, .id = tl_s(id_of("p0")),
		     .assignee = tl_s("alice") };
	exec_ok(NULL, &a, NULL);
	strcpy(cur, "");
	page pg;
	memset(&pg, 0, sizeof pg);
	cr_assert_eq(tl_timeline(db, NULL, tl_s("lead:1"), 2, tl_s(cur), NULL,
				 ignore_doc, &pg, cur, &err),
		     0, "%s", err.message);
	cr_assert(cur[0]);
	cr_assert_eq(tl_timeline(db, NULL, tl_s("lead:1"), 2, tl_s(cur), NULL,
				 ignore_doc, &pg, cur, &err),
		     0, "%s: %s", err.field, err.message);
	/* upcoming and notifications: three of alice's, a page of one */
	for (int i = 1; i < 3; i++) {
		char t[8];
		snprintf(t, sizeof t, "p%d", i);
		a.id = tl_s(id_of(t));
		exec_ok(NULL, &a, NULL);
	}
	for (int which = 0; which < 2; which++) {
		int pages = 0;
		strcpy(cur, "");
		do {
			cr_assert_lt(++pages, 5, "paging does not end");
			tl_ctx ctx = { .actor = "alice", .now_ms = clock_ms };
			int rc = which == 0
					 ? tl_upcoming(db, &ctx, tl_s("alice"), 0,
						       1, tl_s(cur), ignore_doc,
						       NULL, cur, &err)
					 : tl_notifications(db, &ctx,
							    tl_s("alice"),
							    false, 1,
							    tl_s(cur),
							    ignore_doc, NULL,
							    cur, &err);
			cr_assert_eq(rc, 0, "%s page %d: %s: %s",
				     which ? "notifications" : "upcoming",
				     pages, err.field, err.message);
		} while (cur[0]);
		cr_assert_geq(pages, 3, "%s: %d pages",
			      which ? "notifications" : "upcoming", pages);
	}
}

static int read_inside(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	tl_stats st;
	tl_err *e = arg;
	e->code = tl_db_stats(db, NULL, &st, e);
	return 0;
}

/* LMDB gives a thread one read at a time: a read started from inside a
 * read's callback is the caller's mistake, not damage (it was
 * TL_ESTORAGE, MDB_BAD_RSLOT). */
Test(api, a_read_inside_a_read_callback_is_invalid)
{
	ADD(.title = "r");
	tl_list_query q = { 0 };
	tl_err inner = { 0 }, err;
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, NULL, &q, read_inside, &inner, next,
				  &err),
		     0);
	cr_assert_eq(inner.code, TL_EINVALID, "%d %s", inner.code,
		     inner.message);
	cr_assert_str_eq(inner.field, "db");
}

/* A write from inside a read's callback: with its notes large enough
 * that a few fill the workspace's map, whose growth (or the adoption of
 * a map another process grew) would remap the file under the read. */
static int write_from_read(tl_err *e)
{
	static char notes[60000];
	memset(notes, 'n', sizeof notes - 1);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("w"),
		     .link = tl_s("lead:1"), .notes = tl_s(notes) };
	tl_result res;
	int rc = 0;
	for (int i = 0; i < 40 && !rc; i++) {
		rc = tl_exec(db, NULL, &c, 1, &res, e);
		if (!rc)
			tl_result_release(&res);
	}
	return rc;
}

static int write_inside_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	tl_err *e = arg;
	e->code = write_from_read(e);
	return 0;
}

static int write_inside_event(void *arg, const tl_event *ev)
{
	tl_err *e = arg;
	e->code = write_from_read(e);
	/* what the callback was given is still readable */
	e->index = ev->type.len == strlen("task.created") &&
		   !memcmp(ev->type.p, "task.created", ev->type.len);
	return 1;
}

/* A write from inside a read's callback is refused, naming the handle:
 * it crashed once the writes grew the map (a review). */
Test(api, a_write_inside_a_read_callback_is_invalid)
{
	tl_db_close(db);
	db = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	ws_map_size = 1 << 20; /* 1 MiB: the writes below grow it */
	ws_create(NULL, NULL);
	ws_map_size = 0;
	ADD(.title = "r");
	uint64_t head = head_seq();
	tl_list_query q = { 0 };
	tl_err inner = { 0 }, err;
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, NULL, &q, write_inside_doc, &inner,
				  next, &err),
		     0);
	cr_assert_eq(inner.code, TL_EINVALID, "%d %s", inner.code,
		     inner.message);
	cr_assert_str_eq(inner.field, "db");
	cr_assert_eq(head_seq(), head);

	inner = (tl_err){ 0 };
	uint64_t from = head;
	cr_assert_eq(tl_log_read(db, NULL, from, 0, (tl_slice){ 0 },
				 write_inside_event, &inner, &err),
		     1);
	cr_assert_eq(inner.code, TL_EINVALID, "%d %s", inner.code,
		     inner.message);
	cr_assert_str_eq(inner.field, "db");
	cr_assert_eq(inner.index, 1);
	cr_assert_eq(head_seq(), head);
	/* once the read is over, the same writes go in */
	cr_assert_eq(write_from_read(&err), 0, "%s", err.message);
	cr_assert_eq(head_seq(), head + 40);
	cr_assert_eq(verify(), 0);
}

/* The check for a read held (store.c) keeps LMDB's read transaction of
 * its probe between writes and renews it in the thread that writes: a
 * handle passed from thread to thread (one at a time) still writes, and
 * still refuses a write from a read's callback, in each thread, also
 * after the thread of its first write has ended. */
typedef struct thread_run {
	int write_rc, list_rc;
	tl_err write_err, inner;
} thread_run;

static void *thread_writes_then_reads(void *arg)
{
	thread_run *r = arg;
	tl_err err;
	r->write_rc = write_from_read(&r->write_err);
	if (r->write_rc)
		return NULL;
	tl_list_query q = { 0 };
	char next[TL_CURSOR_MAX];
	r->list_rc = tl_task_list(db, NULL, &q, write_inside_doc, &r->inner,
				  next, &err);
	return NULL;
}

Test(api, a_handle_passed_between_threads_checks_each_thread_s_reads)
{
	ADD(.title = "first, in the main thread");
	for (int i = 0; i < 3; i++) {
		uint64_t head = head_seq();
		thread_run r = { 0 };
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL,
					    thread_writes_then_reads, &r),
			     0);
		cr_assert_eq(pthread_join(th, NULL), 0);
		cr_assert_eq(r.write_rc, 0, "thread %d: %s", i,
			     r.write_err.message);
		cr_assert_eq(r.list_rc, 0, "thread %d", i);
		cr_assert_eq(r.inner.code, TL_EINVALID, "thread %d: %d %s", i,
			     r.inner.code, r.inner.message);
		cr_assert_str_eq(r.inner.field, "db");
		cr_assert_eq(head_seq(), head + 40);
	}
	ADD(.title = "last, in the main thread");
	cr_assert_eq(verify(), 0);
}

static void rebuild_inside(void *arg, uint64_t done, uint64_t total)
{
	(void)done;
	(void)total;
	tl_err *e = arg;
	if (e->index == -2)
		return; /* once */
	e->index = -2;
	e->code = tl_rebuild(db, NULL, NULL, 0, NULL, NULL, e);
}

/* A rebuild or verify started from a rebuild's progress callback waited
 * for ever on the handle's own build lock. */
Test(api, a_rebuild_inside_a_rebuild_callback_is_invalid)
{
	ADD(.title = "b");
	tl_err inner = { 0 }, err;
	cr_assert_eq(tl_rebuild(db, NULL, NULL, 0, rebuild_inside, &inner,
				&err),
		     0, "%s", err.message);
	cr_assert_eq(inner.code, TL_EINVALID, "%d %s", inner.code,
		     inner.message);
	cr_assert_str_eq(inner.field, "db");
	cr_assert_eq(verify(), 0);
}

typedef struct write_probe {
	int mid_rc, end_rc; /* tl_exec's code from the two kinds of call */
	int mid_calls, end_calls;
	int mid_backup_rc, end_backup_rc; /* tl_db_backup's (plain) */
	char mid_field[96];
} write_probe;

static void write_inside(void *arg, uint64_t done, uint64_t total)
{
	write_probe *w = arg;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("from progress"),
		     .link = tl_s("lead:2") };
	tl_ctx ctx = { .now_ms = clock_ms };
	tl_err e;
	int rc = tl_exec(db, &ctx, &c, 1, NULL, &e);
	if (done < total)
		w->mid_rc = rc, w->mid_calls++;
	else
		w->end_rc = rc, w->end_calls++;
	/* A plain copy takes LMDB's writer lock for the meta pages. */
	char to[96], cmd[128];
	snprintf(to, sizeof to, "%s/copy", dir);
	rc = tl_db_backup(db, &ctx, to, 0, NULL, &e);
	if (done < total) {
		w->mid_backup_rc = rc;
		snprintf(w->mid_field, sizeof w->mid_field, "%s", e.field);
	} else {
		w->end_backup_rc = rc;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", to);
	if (!rc && system(cmd) != 0)
		w->end_backup_rc = -100;
}

/* The scan reports progress inside its write transaction (every 16,384
 * events): a write from there waited for ever on LMDB's writer lock, as
 * did a plain backup (LMDB's copy takes that lock for the meta pages).
 * Both are refused; from the calls made outside it, both go through. */
Test(api, a_write_inside_a_rebuild_callback_never_hangs, .timeout = 120)
{
	enum { N = 17000, PER = 4250 };
	tl_cmd *c = calloc(PER, sizeof *c);
	for (int b = 0; b < N / PER; b++) {
		for (int i = 0; i < PER; i++)
			c[i] = (tl_cmd){ .kind = TL_TASK_ADD,
					 .title = tl_s("bulk"),
					 .link = tl_s("lead:3") };
		tl_ctx ctx = { .now_ms = clock_ms };
		tl_err err;
		cr_assert_eq(tl_exec(db, &ctx, c, PER, NULL, &err), 0, "%s",
			     err.message);
	}
	free(c);
	write_probe w = { 0 };
	tl_err err;
	cr_assert_eq(tl_rebuild(db, NULL, NULL, 0, write_inside, &w, &err), 0,
		     "%s", err.message);
	cr_assert_gt(w.mid_calls, 0, "no progress from inside the scan");
	cr_assert_eq(w.mid_rc, TL_EINVALID);
	cr_assert_eq(w.mid_backup_rc, TL_EINVALID);
	cr_assert_str_eq(w.mid_field, "db");
	cr_assert_eq(w.end_calls, 2);
	cr_assert_eq(w.end_rc, 0);
	cr_assert_eq(w.end_backup_rc, 0);
	cr_assert_eq(verify(), 0);
}

/* The views array handed to tl_db_open need not outlive the call. */
Test(api, the_views_array_is_copied)
{
	tl_db_close(db);
	size_t n;
	const tl_view *const *all = tl_views_all(&n);
	const tl_view **mine = malloc(n * sizeof *mine);
	memcpy(mine, all, n * sizeof *mine);
	tl_open_opts o = { .views = mine, .views_len = n };
	tl_err err;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	memset(mine, 0xa5, n * sizeof *mine);
	free(mine);
	ADD(.title = "after");
	cr_assert_str_eq(LIST(), "after");
}

/* Misuse is refused before anything is made or changed. */
Test(api, misuse_is_refused_and_changes_nothing)
{
	tl_err err;
	tl_db *other = NULL;
	char missing[128];
	snprintf(missing, sizeof missing, "%s/not-there", dir);
	tl_open_opts bad[] = {
		{ .flags = TL_OPEN_CREATE | TL_OPEN_RDONLY },
		{ .flags = TL_OPEN_CREATE | (1u << 9) },
		{ .flags = TL_OPEN_CREATE, .map_size = UINT64_MAX },
		{ .flags = TL_OPEN_CREATE,
		  .map_size = ((uint64_t)1 << 46) + 4096 },
		{ .flags = TL_OPEN_CREATE, .views_len = 2 },
	};
	const char *field[] = { "flags", "flags", "map_size", "map_size",
				"views" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(tl_db_open(missing, &bad[i], &other, &err),
			     TL_EINVALID, "case %zu", i);
		cr_assert_str_eq(err.field, field[i]);
		cr_assert_null(other);
		cr_assert_neq(access(missing, F_OK), 0, "case %zu made it", i);
	}
	uint64_t head = head_seq();
	char doc[64];
	tl_ctx past = { .now_ms = -5 };
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("x"),
		     .link = tl_s("lead:1") };
	cr_assert_eq(tl_exec(db, &past, &c, 1, NULL, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "now");
	uint8_t *d;
	size_t len;
	cr_assert_eq(tl_task_get(db, NULL, (tl_slice){ NULL, 36 }, &d, &len,
				 &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
	(void)doc;
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, NULL, NULL,
				 &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "fn");
	cr_assert_eq(tl_member_list(db, NULL, NULL, NULL, &err), TL_EINVALID);
	cr_assert_eq(head_seq(), head);
}

/* A transaction left open when the handle closes is aborted (no leak
 * under ASan, nothing of it kept). */
Test(api, close_aborts_an_open_transaction)
{
	tl_txn *t;
	tl_err err;
	uint64_t head = head_seq();
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("lost"),
		     .link = tl_s("lead:1") };
	tl_ctx ctx = { .now_ms = clock_ms };
	cr_assert_eq(tl_txn_exec(t, &ctx, &c, 1, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
	ws_open();
	cr_assert_eq(head_seq(), head);
}

/* The API took any now_ms above 0: a write at year 20000 made an event
 * that import refuses, and tl_upcoming's window overflowed (UBSan, a
 * review).  Writes and reads refuse a now outside 1970 to 9999 (field
 * now), and a reader that failed to begin holds nothing. */
Test(api, a_now_outside_the_years_of_times_is_refused)
{
	tl_err err;
	uint64_t head = head_seq();
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("x"),
		     .link = tl_s("lead:1") };
	const int64_t bad[] = { -5, INT64_C(253402300800000), INT64_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		tl_ctx at = { .now_ms = bad[i] };
		cr_assert_eq(tl_exec(db, &at, &c, 1, NULL, &err), TL_EINVALID);
		cr_assert_str_eq(err.field, "now");
		char next[TL_CURSOR_MAX];
		cr_assert_eq(tl_upcoming(db, &at, (tl_slice){ 0 }, 7, 10,
					 (tl_slice){ 0 }, NULL, NULL, next,
					 &err),
			     TL_EINVALID, "case %zu", i);
		cr_assert_str_eq(err.field, "now");
		tl_reader r;
		cr_assert_eq(tl_reader_begin(db, &at, &r, &err), TL_EINVALID);
		cr_assert_null(r.txn);
		tl_reader_end(&r); /* nothing to end */
	}
	cr_assert_eq(head_seq(), head, "nothing appended");
	/* the last millisecond of 9999 is a time */
	tl_ctx last = { .now_ms = INT64_C(253402300799999) };
	tl_reader r;
	cr_assert_eq(tl_reader_begin(db, &last, &r, &err), 0, "%s",
		     err.message);
	tl_reader_end(&r);
	/* an unknown zone, an actor who is none: nothing held */
	tl_ctx zone = { .tz = "Mars/Olympus" }, ghost = { .actor = "ghost" };
	cr_assert_eq(tl_reader_begin(db, &zone, &r, &err), TL_EINVALID);
	cr_assert_null(r.txn);
	tl_reader_end(&r);
	cr_assert_neq(tl_reader_begin(db, &ghost, &r, &err), 0);
	cr_assert_null(r.txn);
	tl_reader_end(&r);
}

/* ---- opening: paths, map sizes, files the engine did not make --------- */

/* A path under dir padded with names of 200 x's to exactly len bytes;
 * nothing is made. */
static void long_path(char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len + 1, "%s", dir);
	while (n < len) {
		buf[n++] = '/';
		for (size_t i = 0; i < 200 && n < len; i++)
			buf[n++] = 'x';
	}
	if (buf[len - 1] == '/')
		buf[len - 1] = 'y';
	buf[len] = 0;
}

/* A workspace path of PATH_MAX - 16 bytes or more is refused as the
 * caller's input (field db), one byte shorter is tried (here: not found).
 * The bound leaves room for "/data.mdb" and "/lock.mdb" in PATH_MAX. */
Test(api, a_workspace_path_of_path_max_less_16_bytes_is_refused)
{
	static char path[PATH_MAX + 1];
	tl_err err;
	tl_db *other = NULL;
	long_path(path, PATH_MAX - 16);
	cr_assert_eq(strlen(path), PATH_MAX - 16);
	cr_assert_eq(tl_db_open(path, NULL, &other, &err), TL_EINVALID, "%s",
		     err.message);
	cr_assert_str_eq(err.field, "db");
	cr_assert_null(other);
	long_path(path, PATH_MAX - 17);
	cr_assert_eq(tl_db_open(path, NULL, &other, &err), TL_ENOTFOUND, "%s",
		     err.message);
	cr_assert_null(other);
}

/* map_size: more than 64 TiB is refused, 64 TiB itself is not (the
 * interface's bound is inclusive).  Mapping it may still fail on a small
 * address space, as a storage error, never as the caller's map_size. */
Test(api, a_map_size_of_exactly_64_tib_is_not_refused)
{
	char sub[128];
	snprintf(sub, sizeof sub, "%s/big", dir);
	tl_open_opts o = { .flags = TL_OPEN_CREATE,
			   .map_size = (uint64_t)1 << 46 };
	tl_err err = { 0 };
	tl_db *big = NULL;
	int rc = tl_db_open(sub, &o, &big, &err);
	if (rc == 0) {
		cr_assert_geq(tl_db_map_size(big), (size_t)1 << 46);
		tl_db_close(big);
	} else {
		cr_assert_neq(rc, TL_EINVALID, "%s: %s", err.field,
			      err.message);
	}
}

/* An LMDB file with no database in it yet (an environment made, nothing
 * committed) opened read-only: not initialised (TL_ENOTFOUND), as an empty
 * directory is for a writable handle.  A read-only handle creates nothing,
 * so it must not try the write transaction that would create the
 * databases (refused by LMDB: a storage error). */
Test(api, an_empty_lmdb_file_opened_read_only_is_not_initialised)
{
	char sub[128];
	snprintf(sub, sizeof sub, "%s/empty", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, sub, 0, 0600), 0);
	mdb_env_close(env);
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	tl_err err = { 0 };
	tl_db *ro = NULL;
	cr_assert_eq(tl_db_open(sub, &o, &ro, &err), TL_ENOTFOUND, "%s",
		     err.message);
	cr_assert_null(ro);
}

/* A data.mdb of 0 bytes (an init that died before LMDB wrote its first
 * page, or a `touch`) is a new workspace: it starts at the default map of
 * 64 MiB like any other, not at LMDB's 1 MiB, the size a file that holds
 * one would have stored. */
Test(api, an_empty_data_file_starts_at_the_default_map)
{
	char sub[128], path[160];
	snprintf(sub, sizeof sub, "%s/zero", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(path, sizeof path, "%s/data.mdb", sub);
	FILE *f = fopen(path, "w");
	cr_assert(f && fclose(f) == 0);
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	tl_err err = { 0 };
	tl_db *z = NULL;
	cr_assert_eq(tl_db_open(sub, &o, &z, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_map_size(z), (size_t)64 << 20, "%zu",
		     tl_db_map_size(z));
	tl_db_close(z);
}

/* An existing workspace keeps the map size stored in its file (a commit
 * stores it); a map_size asked for at open grows it when larger, and
 * never shrinks it when smaller (every process's first write would find
 * the map full). */
Test(api, a_reopen_grows_the_map_to_a_larger_map_size_and_never_shrinks_it)
{
	size_t stored = tl_db_map_size(db);
	uint64_t head = head_seq();
	tl_db_close(db);
	db = NULL;
	size_t n;
	tl_open_opts o = { .views = tl_views_all(&n), .map_size = 2 * stored };
	o.views_len = n;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_geq(tl_db_map_size(db), 2 * stored);
	member("erin", "member", 1); /* a commit stores the size */
	tl_db_close(db);
	db = NULL;
	o.map_size = 1 << 20;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_geq(tl_db_map_size(db), 2 * stored);
	cr_assert_eq(head_seq(), head + 1);
}

/* A workspace made but not initialised: a command or a read acting as
 * the default actor (the first admin, whom init names) is told the
 * workspace is not initialised (TL_ENOTFOUND, field db), not a storage
 * error (one of audit 10's unrun mutants: the code swapped passed). */
Test(api, a_command_in_a_workspace_not_initialised_says_so)
{
	char sub[128];
	snprintf(sub, sizeof sub, "%s/uninit", dir);
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	tl_err err = { 0 };
	tl_db *u = NULL;
	cr_assert_eq(tl_db_open(sub, &o, &u, &err), 0, "%s", err.message);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("T"),
		     .link = tl_s("lead:1") };
	tl_result r;
	tl_ctx none = { 0 };
	cr_assert_eq(tl_exec(u, &none, &c, 1, &r, &err), TL_ENOTFOUND, "%s",
		     err.message);
	cr_assert_str_eq(err.field, "db");
	cr_assert(strstr(err.message, "is not initialised"), "%s",
		  err.message);
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(u, NULL, &(tl_list_query){ 0 }, ignore_doc,
				  NULL, next, &err),
		     TL_ENOTFOUND, "%s", err.message);
	cr_assert_str_eq(err.field, "db");
	tl_db_close(u);
}

/* ---- the turns under damage (the twenty-fifth mutation audit) --------- */

/* A task titled title, of type type, held by who (NULL: no one), due at
 * due_ms. */
static void add_due(const char *title, const char *type, const char *who,
		    int64_t due_ms)
{
	ADD(.title = title, .type = type, .assignee = who, .due_ms = due_ms);
}

/* A task id that no task has. */
static const uint8_t ghost[16] = { 0x6e, 0x6f, 0x6e, 0x65, 0x21, 0x21,
				   0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
				   0x21, 0x21, 0x21, 0x21 };

/* Put into the due range of (dim, val) an entry like its nth (0: the
 * first), at sortval sv and tiebreak tb (those of the nth plus one when
 * sv is UINT64_MAX), its value the nth's first TL_LIST_VAL_LEN bytes (no
 * document) with the task id `id`. */
static void put_like(char dim, uint64_t val, int nth, uint64_t sv,
		     uint64_t tb, const uint8_t id[16])
{
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	uint8_t key[TL_LIST_KEY_LEN], v[TL_LIST_VAL_LEN], pfx[TL_LIST_PREFIX_LEN];
	MDB_val k = { TL_LIST_PREFIX_LEN, pfx }, d;
	MDB_txn *txn;
	MDB_cursor *c;

	cr_assert_not_null(dbi);
	tl_list_prefix(pfx, dim, val, TL_SORT_DUE);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi[0], &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &d, MDB_SET_RANGE), 0);
	for (int i = 0; i < nth; i++)
		cr_assert_eq(mdb_cursor_get(c, &k, &d, MDB_NEXT), 0);
	cr_assert_eq(k.mv_size, TL_LIST_KEY_LEN);
	cr_assert_eq(memcmp(k.mv_data, pfx, TL_LIST_PREFIX_LEN), 0,
		     "the range holds fewer than %d entries", nth + 1);
	cr_assert_geq(d.mv_size, TL_LIST_VAL_LEN);
	memcpy(key, k.mv_data, TL_LIST_KEY_LEN);
	memcpy(v, d.mv_data, TL_LIST_VAL_LEN);
	mdb_cursor_close(c);
	if (sv == UINT64_MAX) {
		tl_key_u64(key + 18, tl_key_get_u64(key + 18) + 1);
	} else {
		tl_key_u64(key + 10, sv);
		tl_key_u64(key + 18, tb);
	}
	memcpy(v, id, 16);
	k = (MDB_val){ TL_LIST_KEY_LEN, key };
	d = (MDB_val){ TL_LIST_VAL_LEN, v };
	cr_assert_eq(mdb_put(txn, dbi[0], &k, &d, MDB_NOOVERWRITE), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A document under task id `id` in the engine's tasks database that no
 * decoder takes (0xc1 is no msgpack type). */
static void put_garbage_doc(const uint8_t id[16])
{
	static const uint8_t junk[] = { 0xc1, 0xc1, 0xc1, 0xc1 };
	MDB_val k = { 16, (void *)id }, d = { sizeof junk, (void *)junk };
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->tasks, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* 60 calls of alice's and bob's (c0, c2, ... alice's), due every 10
 * minutes from T0 + 10 min; c7, c27 and c47 tagged vip. */
static void calls_with_vips(void)
{
	static const char *const who[] = { "alice", "bob" };
	char title[16];
	for (int i = 0; i < 60; i++) {
		snprintf(title, sizeof title, "c%d", i);
		add_due(title, "call", who[i % 2], T0 + (int64_t)(i + 1) * 10 * MIN);
	}
	tag("c7", "vip");
	tag("c27", "vip");
	tag("c47", "vip");
}

/* G's range of the tag vip in the first status (the default one). */
static uint64_t vip_range(void)
{
	return tl_list_tag(tl_list_hash(tl_s("vip")), 0);
}

/* A walk that fails while taking turns (a damaged entry that it alone
 * meets) leaves the page to the other, which would have made it alone
 * (a review of 0.3.40: the turns made a page of a damaged view fail that
 * the assignees' walk made whole).  A key of the tag's range, first in
 * the due sort, names a task that does not exist: the tag's walk meets
 * it; the assignees' ranges do not hold it.  Alone, the tag's walk
 * fails. */
Test(list, a_walk_that_fails_in_turns_leaves_the_page_to_the_other)
{
	calls_with_vips();
	put_like(TL_DIM_TAG, vip_range(), 0, 0, 0, ghost);
	page pg;
	const lq both = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	for (unsigned way = 0; way < 4; way++) {
		tl_list_lead_way(way);
		cr_assert_str_eq(list(&both), "c7 c27 c47", "way %u", way);
		cr_assert_str_eq(list_all(both, 1), "c7 c27 c47", "way %u",
				 way);
	}
	tl_list_lead_way(3);
	run_list(&(lq){ .tag = { "vip" } }, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE);
	cr_assert(strstr(pg.err.message, "does not exist"), "%s",
		  pg.err.message);
}

/* The tag's walk fails in turns on a document that does not decode (an
 * entry first in the tag's range names a task whose stored document is
 * junk), not on an LMDB error as in a_walk_that_fails_in_turns_leaves_the_page_to_the_other: walk_run then
 * returns the error once and, called again, 0 with the walk ended.  The
 * page is the assignees' walk's.  Kills: in scan, `failed[k] = true`
 * dropped, and `if (!failed[k ^ 1]) k ^= 1` made unconditional (the
 * failed walk, run again, "ended its page": its empty page was given). */
Test(list, a_walk_failing_on_a_corrupt_document_in_turns_leaves_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_TAG, vip_range(), 0, 0, 0, ghost);
	put_garbage_doc(ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, 0, "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.text, "c7 c27 c47", "way %u", way);
		cr_assert_str_eq(list_all(q, 1), "c7 c27 c47", "way %u", way);
	}
	/* alone, the tag's walk fails */
	tl_list_lead_way(3);
	page pg;
	run_list(&(lq){ .tag = { "vip" } }, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
}

/* Both walks fail in turns, each on a damaged entry only it meets: the
 * tag's at its range's start, the assignees' at alice's fifth task (after
 * the turns begin, under ways 1 and 2).  The page fails (and ends).
 * Kills: in scan, the `break` after `rc = wrc` dropped (the two failed
 * walks were run for ever), and `rc = wrc` dropped (an empty page, no
 * error). */
Test(list, both_walks_failing_in_turns_fail_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_TAG, vip_range(), 0, 0, 0, ghost);
	put_like(TL_DIM_ASSIGNEE, tl_list_hash(tl_s("alice")), 4, UINT64_MAX,
		 0, ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, TL_ESTORAGE, "way %u: %d %s", way, pg.rc,
			     pg.err.message);
		cr_assert(strstr(pg.err.message, "does not exist"),
			  "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.next, "", "way %u", way);
	}
}

/* The assignees' walk fails before the turns begin (its first 2,048
 * units, the default way): the error stands, though the tag's walk would
 * have made the page; only a walk that fails in turns leaves the page to
 * the other (the commit's rule, and a page that fails or not whatever
 * way the turns take).  Kills: in scan, `!rc &&` dropped from the test
 * that starts the other walk (walk_open's 0 then cleared the first
 * walk's error, and the tag's walk made the page). */
Test(list, a_walk_failing_before_the_turns_fails_the_page)
{
	calls_with_vips();
	put_like(TL_DIM_ASSIGNEE, tl_list_hash(tl_s("alice")), 4, UINT64_MAX,
		 0, ghost);

	const lq q = { .assignee = { "alice", "bob" }, .tag = { "vip" } };
	page pg;
	tl_list_lead_way(3);
	run_list(&q, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
	tl_list_lead_way(0);
	run_list(&q, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: %s", pg.rc, pg.err.message);
	/* the tag's walk alone makes it */
	cr_assert_str_eq(list_all((lq){ .tag = { "vip" } }, 1), "c7 c27 c47");
}

/* A page that is whole, then more than 64 candidates whose documents a
 * search rejects, then a match: the look-ahead stops after 64 and gives
 * a cursor (a match may follow), and the next page finds it.  Kills: in
 * walk_run, `w->ended = true` dropped after the look-ahead past rejected
 * documents (the walk was not over, scan took it for a walk stopped at
 * its bound: no cursor, the page after lost). */
Test(list, a_look_ahead_past_rejected_documents_keeps_the_cursor)
{
	char title[16];
	add_due("alpha one", "call", "alice", T0 + 10 * MIN);
	for (int i = 0; i < 100; i++) {
		snprintf(title, sizeof title, "beta %d", i);
		add_due(title, "call", "alice", T0 + (int64_t)(i + 2) * 10 * MIN);
	}
	add_due("alpha two", "call", "alice", T0 + 2000 * MIN);

	const lq q = { .search = { "alpha" } };
	page pg;
	run_list(&(lq){ .search = { "alpha" }, .limit = 1 }, &pg);
	cr_assert_eq(pg.rc, 0, "%s", pg.err.message);
	cr_assert_str_eq(pg.text, "alpha one");
	cr_assert_neq(pg.next[0], 0, "no cursor after the look-ahead");
	cr_assert_str_eq(list_all(q, 1), "alpha one alpha two");
	const lq qa = { .assignee = { "alice" }, .search = { "alpha" } };
	cr_assert_str_eq(list_all(qa, 1), "alpha one alpha two");
}

/* A document that does not decode, then a match: the page fails, and the
 * match after does not clear the error.  Kills: in walk_run, `rc ||`
 * dropped from the test that ends the walk (the walk went on past the
 * error, and the next match's fn overwrote rc with 0). */
Test(list, a_corrupt_document_fails_the_page_though_matches_follow)
{
	char title[16];
	for (int i = 0; i < 10; i++) {
		snprintf(title, sizeof title, "c%d", i);
		add_due(title, "call", NULL, T0 + (int64_t)(i + 1) * 10 * MIN);
	}
	uint8_t id[16];
	cr_assert(tl_uuid_parse(tl_s(id_of("c4")), id));
	put_garbage_doc(id); /* c4's document, read by id from K's range */

	page pg;
	run_list(&(lq){ .type = { "call" } }, &pg);
	cr_assert_eq(pg.rc, TL_ESTORAGE, "%d: listed %s", pg.rc, pg.text);
	cr_assert(strstr(pg.err.message, "corrupt task record"), "%s",
		  pg.err.message);
	cr_assert_str_eq(pg.next, "");
}

/* Several assignees with a type (no tag): the other walk is the kinds'
 * (K leads), where the assignee is known only from the document: a
 * candidate past a whole page is not known to match, so the page of the
 * last match has no cursor.  alice's and bob's 60 emails come first in
 * their ranges, so that the kinds' walk ends its page first under way 1.
 * Kills: in plan_other, `o->dim = dim` dropped (the other plan kept the
 * assignees' dim, facets_exact took the K entry of root's call for a
 * match, and gave a cursor to an empty page). */
Test(list, the_kinds_walk_gives_no_cursor_past_the_last_match)
{
	static const char *const who[] = { "alice", "bob" };
	char title[16];
	for (int i = 0; i < 60; i++) {
		snprintf(title, sizeof title, "e%d", i);
		add_due(title, "email", who[i % 2], T0 + (int64_t)(i + 1) * MIN);
	}
	add_due("x1", "call", "alice", T0 + 100 * MIN);
	add_due("x2", "call", "root", T0 + 200 * MIN);

	const lq q = { .assignee = { "alice", "bob" }, .type = { "call" },
		       .limit = 1 };
	for (unsigned way = 0; way < 4; way++) {
		page pg;
		tl_list_lead_way(way);
		run_list(&q, &pg);
		cr_assert_eq(pg.rc, 0, "way %u: %s", way, pg.err.message);
		cr_assert_str_eq(pg.text, "x1", "way %u", way);
		cr_assert_str_eq(pg.next, "", "way %u: a cursor past x1", way);
	}
}
