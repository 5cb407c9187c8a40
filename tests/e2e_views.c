/*
 * e2e_views.c - end-to-end tests of `tasklog timeline`, `tasklog
 * notifications` and `tasklog rebuild`: the real binary ($TASKLOG_BIN) on
 * a temporary workspace, --json output checked field by field, errors by
 * exit status and the field named on stderr, people's output by its
 * width.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <lmdb.h>

#include "tasklog_projections.h"
#include "testutil.h"

#define T0 "2026-03-02T09:00:00Z" /* a Monday */
#define T1 "2026-03-02T10:00:00Z"
#define T2 "2026-03-02T11:00:00Z"
#define LATER "2026-03-03T09:00:00Z"

static char *ws;

/* Add a task as `as` at T0; its id, malloc'd. */
static char *add(const char *as, const char *title, const char *link,
		 const char *due, const char *assignee)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = "--now";
	argv[n++] = T0;
	argv[n++] = "--as";
	argv[n++] = as;
	argv[n++] = "task";
	argv[n++] = "add";
	argv[n++] = "--title";
	argv[n++] = title;
	argv[n++] = "--link";
	argv[n++] = link;
	if (due) {
		argv[n++] = "--due";
		argv[n++] = due;
	}
	if (assignee) {
		argv[n++] = "--assignee";
		argv[n++] = assignee;
	}
	argv[n] = NULL;
	return tu_cli_id(ws, argv);
}

static void setup(void)
{
	ws = tu_tmpdir();
	DO("init", "--now", T0);
	DO("member", "add", "alice", "--name", "Alice A");
	DO("member", "add", "bob", "--name", "Bob B");
}

static void teardown(void)
{
	tu_rmrf(ws);
	free(ws);
}

TestSuite(timeline_cli, .init = setup, .fini = teardown);
TestSuite(notifications_cli, .init = setup, .fini = teardown);
TestSuite(rebuild_cli, .init = setup, .fini = teardown);

/* ---- timeline ---------------------------------------------------------- */

Test(timeline_cli, prints_upcoming_then_history_newest_first)
{
	tu_run r;
	char *a = add("admin", "Call Bob", "lead:42", "2026-03-05T10:00:00Z",
		      "alice");
	char *b = add("admin", "Overdue", "lead:42", "2026-03-01T10:00:00Z",
		      NULL);
	char *c = add("admin", "No due", "lead:42", NULL, NULL);
	free(add("admin", "Elsewhere", "lead:43", "2026-03-04T10:00:00Z",
		 NULL));
	OK(&r, "--now", T1, "--as", "bob", "task", "assign", a, "bob");
	tu_run_release(&r);
	OK(&r, "--now", T2, "task", "complete", c);
	tu_run_release(&r);

	OK(&r, "--now", LATER, "timeline", "lead:42");
	json_t *up = json_object_get(r.json, "upcoming");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(up), 2, "%s", r.out);
	cr_expect_str_eq(tu_str(json_array_get(up, 0), "id"), b);
	cr_expect_str_eq(tu_str(json_array_get(up, 1), "id"), a);
	cr_expect_str_eq(tu_str(json_array_get(up, 1), "assignee"), "bob");
	cr_assert_eq(json_array_size(items), 5, "%s", r.out);
	json_t *first = json_array_get(items, 0);
	cr_expect_str_eq(tu_str(first, "event"), "task.completed");
	cr_expect_str_eq(tu_str(first, "summary"), "Completed");
	cr_expect_str_eq(tu_str(first, "task"), c);
	cr_expect_str_eq(tu_str(first, "at"), "2026-03-02T11:00:00.000Z");
	cr_expect_str_eq(tu_str(json_object_get(first, "actor"), "id"),
			 "admin");
	cr_expect_str_eq(tu_str(json_object_get(first, "actor"), "kind"),
			 "user");
	json_t *second = json_array_get(items, 1);
	cr_expect_str_eq(tu_str(second, "summary"),
			 "Assigned to bob (was alice)");
	cr_expect_str_eq(tu_str(json_object_get(second, "actor"), "id"),
			 "bob");
	cr_expect_str_eq(tu_str(json_array_get(items, 4), "summary"),
			 "Created task \"Call Bob\" due "
			 "2026-03-05 10:00 UTC, assigned to alice");
	cr_expect(json_is_null(json_object_get(r.json, "next_cursor")),
		  "%s", r.out);
	tu_run_release(&r);
	free(a);
	free(b);
	free(c);
}

/* The record's upcoming tasks, --limit a page (since 0.3.50; 0.3.37 to
 * 0.3.49 gave every one, which a record of 500,000 open tasks made a
 * page of 15 s and 2 GB), soonest first, paged by --upcoming-cursor. */
Test(timeline_cli, pages_the_upcoming_tasks)
{
	char path[512], line[160];
	snprintf(path, sizeof path, "%s.jsonl", ws);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	for (int i = 59; i >= 0; i--) { /* made latest-due first */
		snprintf(line, sizeof line,
			 "{\"title\": \"U%02d\", \"link\": \"lead:9\", "
			 "\"due_at\": \"2026-04-01T%02d:%02d:00Z\"}\n",
			 i, i / 6, i % 6 * 10);
		cr_assert(fputs(line, f) >= 0);
	}
	cr_assert_eq(fclose(f), 0);
	tu_run r;
	OK(&r, "--now", T0, "import", path);
	tu_run_release(&r);
	remove(path);

	OK(&r, "--now", LATER, "timeline", "lead:9", "--limit", "25");
	json_t *up = json_object_get(r.json, "upcoming");
	cr_assert_eq(json_array_size(up), 25, "%zu upcoming",
		     json_array_size(up));
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 25);
	cr_expect(tu_str(r.json, "next_cursor"));
	const char *c = tu_str(r.json, "upcoming_next_cursor");
	cr_assert(c, "%s", r.out);
	char cursor[128];
	snprintf(cursor, sizeof cursor, "%s", c);
	size_t n = 0;
	for (size_t i = 0; i < 25; i++, n++) {
		char want[8];
		snprintf(want, sizeof want, "U%02zu", n);
		cr_expect_str_eq(tu_str(json_array_get(up, i), "title"), want);
	}
	tu_run_release(&r);

	/* For people: the line that gives the cursor. */
	cr_assert_eq(tu_cli_text(&r, ws, "--now", LATER, "timeline", "lead:9",
				 "--limit", "25", NULL), 0);
	cr_expect(strstr(r.out, "more upcoming: --upcoming-cursor r"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "History"), "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", LATER, "timeline", "lead:9",
				 "--limit", "25", "--upcoming-cursor", cursor,
				 NULL), 0);
	cr_expect(strstr(r.out, "Upcoming\n"), "%s", r.out);
	cr_expect(!strstr(r.out, "History"), "%s", r.out);
	tu_run_release(&r);

	/* The cursor alone: the upcoming tasks alone, to the end. */
	for (int pages = 0; cursor[0]; pages++) {
		cr_assert_lt(pages, 2);
		OK(&r, "--now", LATER, "timeline", "lead:9", "--limit", "25",
		   "--upcoming-cursor", cursor);
		up = json_object_get(r.json, "upcoming");
		cr_expect_eq(json_array_size(json_object_get(r.json, "items")),
			     0);
		cr_expect(json_is_null(json_object_get(r.json,
						       "next_cursor")));
		for (size_t i = 0; i < json_array_size(up); i++, n++) {
			char want[8];
			snprintf(want, sizeof want, "U%02zu", n);
			cr_expect_str_eq(tu_str(json_array_get(up, i), "title"),
					 want);
		}
		c = tu_str(r.json, "upcoming_next_cursor");
		snprintf(cursor, sizeof cursor, "%s", c ? c : "");
		tu_run_release(&r);
	}
	cr_expect_eq(n, 60);

	/* A history cursor is not an upcoming one. */
	OK(&r, "timeline", "lead:9", "--limit", "1");
	snprintf(cursor, sizeof cursor, "%s", tu_str(r.json, "next_cursor"));
	tu_run_release(&r);
	EXPECT(&r, 1, "timeline", "lead:9", "--upcoming-cursor", cursor);
	cr_expect(tu_err_names(&r, "upcoming_cursor"), "%s", r.err);
	tu_run_release(&r);
}

Test(timeline_cli, pages_with_limit_and_cursor)
{
	tu_run r;
	char *id = add("admin", "T", "account:acme", NULL, NULL);
	const char *tags[] = { "a", "b", "c", "d" };
	for (int i = 0; i < 4; i++) {
		OK(&r, "task", "tag", id, tags[i]);
		tu_run_release(&r);
	}
	OK(&r, "timeline", "account:acme", "--limit", "3");
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 3);
	cr_expect_str_eq(tu_str(json_array_get(json_object_get(r.json,
							       "items"), 0),
				"summary"),
			 "Tagged d");
	const char *cur = tu_str(r.json, "next_cursor");
	cr_assert(cur, "no next_cursor: %s", r.out);
	char *cursor = strdup(cur);
	tu_run_release(&r);

	OK(&r, "timeline", "account:acme", "--limit", "3", "--cursor", cursor);
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 2, "%s", r.out);
	cr_expect_str_eq(tu_str(json_array_get(items, 0), "summary"),
			 "Tagged a");
	cr_expect_str_eq(tu_str(json_array_get(items, 1), "event"),
			 "task.created");
	cr_expect(json_is_null(json_object_get(r.json, "next_cursor")));
	cr_expect_eq(json_array_size(json_object_get(r.json, "upcoming")), 0);
	tu_run_release(&r);
	free(cursor);
	free(id);
}

Test(timeline_cli, rejects_a_bad_record_limit_or_cursor)
{
	tu_run r;
	EXPECT(&r, 1, "timeline", "person:1");
	cr_expect(tu_err_names(&r, "record"), "%s", r.err);
	cr_expect_str_eq(tu_str(json_object_get(r.json, "error"), "code"),
			 "invalid");
	tu_run_release(&r);
	EXPECT(&r, 1, "timeline", "lead");
	cr_expect(tu_err_names(&r, "record"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "timeline", "lead:1", "--limit", "1001");
	/* the library's bound; the pointer to export is log's alone */
	cr_expect_str_eq(r.err, "tasklog: limit: 1001 is more than 1000\n");
	tu_run_release(&r);
	EXPECT(&r, 1, "timeline", "lead:1", "--cursor", "nope");
	cr_expect(tu_err_names(&r, "cursor"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "timeline");
	tu_run_release(&r);
	EXPECT(&r, 4, "--as", "nobody", "timeline", "lead:1");
	tu_run_release(&r);
}

/* The cursor of a table's "next page: --cursor C" line, into cursor
 * (128 bytes). */
static void next_page_cursor(const char *out, char *cursor)
{
	const char *at = strstr(out, "next page: --cursor ");
	cr_assert_not_null(at, "%s", out);
	cr_assert_eq(sscanf(at, "next page: --cursor %127s", cursor), 1);
}

Test(timeline_cli, prints_columns_for_people)
{
	tu_run r;
	char title[300];
	memset(title, 'w', sizeof title - 1);
	title[sizeof title - 1] = 0;
	char *id = add("admin", title, "lead:9", "2026-03-05T10:00:00Z",
		       "alice");
	OK(&r, "task", "status", id, "in_progress");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "timeline", "lead:9",
				 NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tu_check_width(r.out);
	cr_expect(strstr(r.out, "In Progress") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "2026-03-05") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "Created task") != NULL, "%s", r.out);
	tu_run_release(&r);
	/* A page that is not the last says how to get the next one, with a
	 * cursor that does. */
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "timeline", "lead:9",
				 "--limit", "1", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char cursor[128];
	next_page_cursor(r.out, cursor);
	tu_run_release(&r);
	OK(&r, "timeline", "lead:9", "--limit", "1", "--cursor", cursor);
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_str_eq(tu_str(json_array_get(items, 0), "event"),
			 "task.created");
	tu_run_release(&r);
	free(id);
}

/* A summary's due times are written in the zone of the reader: --tz, else
 * the workspace's; a workspace of timeline view 5 (which wrote them in
 * UTC) is rebuilt at its first open. */
static void set_view_version(const char *name, uint32_t ver);
static MDB_txn *raw_begin(MDB_env **env, const char *name, MDB_dbi *dbi);
static void raw_commit(MDB_env *env, MDB_txn *txn);

/* Open the timeline view's database `which` ("entries", "due") of the
 * generation that meta (open in txn as dbi meta) names. */
static void timeline_db(MDB_txn *txn, MDB_dbi meta, const char *which,
			MDB_dbi *dbi)
{
	MDB_val k = { 13, "view:timeline" }, v;
	cr_assert_eq(mdb_get(txn, meta, &k, &v), 0);
	const uint8_t *g = (const uint8_t *)v.mv_data + 4;
	char name[64];
	snprintf(name, sizeof name, "v.timeline.%u.%s",
		 (unsigned)g[0] << 24 | (unsigned)g[1] << 16 |
			 (unsigned)g[2] << 8 | g[3],
		 which);
	cr_assert_eq(mdb_dbi_open(txn, name, 0, dbi), 0, "%s", name);
}

/* Turn the newest history entry of the workspace's timeline (its only
 * one) back into the shape of view version 5: no times in front of it,
 * its summary's text `summary` (times written in, in UTC). */
static void entry_as_v5(const char *summary)
{
	MDB_env *env;
	MDB_dbi meta, dbi;
	MDB_cursor *c;
	MDB_txn *txn = raw_begin(&env, "meta", &meta);
	MDB_val k, v;
	timeline_db(txn, meta, "entries", &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
	const uint8_t *p = v.mv_data;
	size_t rec = 1 + (p[0] & 0x1f); /* "lead:3", a fixstr */
	cr_assert_eq(p[rec], 0xc4, "no times in front of the entry");
	size_t hl = p[rec + 1], slen = (size_t)p[rec + 2] << 8 | p[rec + 3];
	size_t map = rec + 2 + hl, head = v.mv_size - map - slen - 1;
	cr_assert_lt(slen, 32, "a fixstr summary");
	size_t n = strlen(summary);
	uint8_t buf[512];
	cr_assert_lt(rec + head + 1 + n, sizeof buf);
	memcpy(buf, p, rec);
	memcpy(buf + rec, p + map, head); /* the map up to its summary */
	buf[rec + head] = (uint8_t)(0xd9);
	buf[rec + head + 1] = (uint8_t)n;
	memcpy(buf + rec + head + 2, summary, n);
	MDB_val nv = { rec + head + 2 + n, buf };
	cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	raw_commit(env, txn);
}

Test(timeline_cli, writes_summary_times_in_the_reader_s_zone)
{
	tu_run r;
	free(add("admin", "Call", "lead:3", "2026-03-05T10:00:00Z", NULL));
	/* a workspace of view 5: rebuilt at its first open */
	entry_as_v5("Created task \"Call\" due 2026-03-05 10:00 UTC");
	OK(&r, "--tz", "Europe/Berlin", "timeline", "lead:3");
	cr_assert_str_eq(tu_str(json_array_get(json_object_get(r.json, "items"),
					       0), "summary"),
			 "Created task \"Call\" due 2026-03-05 10:00 UTC",
			 "the view 5 entry is read as it is");
	tu_run_release(&r);
	set_view_version("timeline", 5);

	OK(&r, "--tz", "Europe/Berlin", "timeline", "lead:3");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_str_eq(tu_str(json_array_get(items, 0), "summary"),
			 "Created task \"Call\" due 2026-03-05 11:00 +01:00");
	tu_run_release(&r);
	OK(&r, "timeline", "lead:3");
	cr_expect_str_eq(tu_str(json_array_get(json_object_get(r.json, "items"),
					       0), "summary"),
			 "Created task \"Call\" due 2026-03-05 10:00 UTC");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--tz", "America/Los_Angeles",
				 "timeline", "lead:3", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "AT (Los_Angeles)") &&
			  strstr(r.out, "due 2026-03-05 02:00 -08"),
		  "%s", r.out);
	tu_run_release(&r);
	OK(&r, "verify");
	tu_run_release(&r);
}

/* The widest line of s, in terminal columns. */
static size_t widest(const char *s)
{
	size_t w = 0;
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t c = tu_columns(p, n);
		w = c > w ? c : w;
		p += n + (nl != NULL);
	}
	return w;
}

/* Tables are as wide as $COLUMNS (else the terminal stdout is), never
 * under 80: a wide terminal shows a whole summary. */
Test(timeline_cli, tables_take_the_width_of_columns)
{
	char title[61];
	memset(title, 't', 60);
	title[60] = 0;
	free(add("admin", title, "lead:4", "2026-03-05T10:00:00Z", "alice"));
	static const struct {
		const char *env;
		size_t widest;
	} cases[] = {
		{ "COLUMNS=160", 154 }, /* the whole summary: 35 + 119 */
		/* past a long: as wide as tables go (80 before 0.3.51) */
		{ "COLUMNS=99999999999999999999", 154 },
		{ "COLUMNS=100", 100 },
		{ "COLUMNS=40", 80 },
		{ "COLUMNS=wide", 80 },
		{ "COLUMNS", 80 }, /* unset: a pipe is 80 wide */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *env[] = { cases[i].env, NULL };
		tu_opts o = { .env = env };
		tu_run r;
		cr_assert_eq(tu_exec(&r, &o,
				     (const char *[]){ "--db", ws, "--now", T0,
						       "timeline", "lead:4",
						       NULL }),
			     0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_expect_eq(widest(r.out), cases[i].widest, "%s: %zu wide:\n%s",
			     cases[i].env, widest(r.out), r.out);
		bool whole = strstr(r.out, "due 2026-03-05 10:00 UTC, assigned "
					   "to alice\n") != NULL;
		cr_expect_eq(whole, i < 2, "%s:\n%s", cases[i].env, r.out);
		tu_run_release(&r);
	}
}

/* Without $COLUMNS, a terminal's width (script(1) gives one, stty sets
 * its size); a terminal under 80 columns still gets 80. */
Test(timeline_cli, tables_take_the_width_of_the_terminal)
{
	if (system("command -v script >/dev/null 2>&1") != 0)
		cr_skip_test("no script(1) to give the command a terminal");
	char title[61];
	memset(title, 't', 60);
	title[60] = 0;
	free(add("admin", title, "lead:5", "2026-03-05T10:00:00Z", "alice"));
	for (int wide = 0; wide < 2; wide++) {
		char cmd[2048];
		snprintf(cmd, sizeof cmd,
			 "script -qec \"stty cols %d rows 40; '%s' --db '%s' "
			 "--now %s timeline lead:5\" /dev/null",
			 wide ? 160 : 60, tu_bin(), ws, T0);
		const char *const argv[] = { "-c", cmd, NULL };
		tu_opts o = { .bin = "/bin/sh" };
		tu_run r;
		cr_assert_eq(tu_exec(&r, &o, argv), 0);
		cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
		bool whole = strstr(r.out, "due 2026-03-05 10:00 UTC, assigned "
					   "to alice\r\n") != NULL;
		cr_expect_eq(whole, wide, "%s", r.out);
		/* the line ends are the terminal's \r\n */
		size_t w = widest(r.out);
		cr_expect_eq(w, wide ? 155 : 81, "%zu wide:\n%s", w, r.out);
		tu_run_release(&r);
	}
}

/* Two long actor ids that 80 columns cut alike are whole in a wider
 * table, and so is a long assignee in the task table. */
Test(timeline_cli, a_wide_table_shows_whole_actor_ids)
{
	DO("member", "add", "sales.team.north.1", "--name", "N1");
	DO("member", "add", "sales.team.north.2", "--name", "N2");
	char *id = add("sales.team.north.1", "T", "lead:6", "+1d",
		       "sales.team.north.2");
	DO("--as", "sales.team.north.2", "task", "tag", id, "x");
	for (int wide = 0; wide < 2; wide++) {
		const char *env[] = { wide ? "COLUMNS=120" : "COLUMNS", NULL };
		tu_opts o = { .env = env };
		tu_run r;
		cr_assert_eq(tu_exec(&r, &o,
				     (const char *[]){ "--db", ws, "timeline",
						       "lead:6", NULL }),
			     0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		bool whole = strstr(r.out, "sales.team.north.1 ") &&
			     strstr(r.out, "sales.team.north.2 ");
		cr_expect_eq(whole, wide, "%s", r.out);
		/* the Upcoming table: the assignee */
		whole = strstr(r.out, "  sales.team.north.2  T\n") != NULL;
		cr_expect_eq(whole, wide, "%s", r.out);
		tu_run_release(&r);
	}
	free(id);
}

/* ---- notifications ----------------------------------------------------- */

Test(notifications_cli, lists_marks_read_and_lists_unread)
{
	tu_run r;
	char *a = add("admin", "A", "lead:1", NULL, "alice");
	char *b = add("bob", "B", "lead:1", NULL, "alice");
	free(add("alice", "Mine", "lead:1", NULL, "alice"));

	OK(&r, "--as", "alice", "notifications");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 2, "%s", r.out);
	json_t *n0 = json_array_get(items, 0);
	cr_expect_str_eq(tu_str(n0, "task"), b);
	cr_expect_str_eq(tu_str(n0, "by"), "bob");
	cr_expect_str_eq(tu_str(n0, "member"), "alice");
	cr_expect_str_eq(tu_str(n0, "kind"), "assigned");
	cr_expect(json_is_false(json_object_get(n0, "read")));
	cr_expect(json_is_integer(json_object_get(n0, "id")));
	cr_expect(json_is_null(json_object_get(r.json, "next_cursor")));
	long long id0 = tu_int(n0, "id");
	long long id1 = tu_int(json_array_get(items, 1), "id");
	tu_run_release(&r);

	char ids[24];
	snprintf(ids, sizeof ids, "%lld", id1);
	/* an id given twice is read once */
	OK(&r, "--as", "alice", "notifications", "read", ids, ids);
	cr_expect_str_eq(tu_str(r.json, "member"), "alice");
	json_t *got = json_object_get(r.json, "ids");
	cr_assert_eq(json_array_size(got), 1, "%s", r.out);
	cr_expect_eq(json_integer_value(json_array_get(got, 0)), id1);
	tu_run_release(&r);
	/* Read again: the same answer, and nothing appended. */
	long long events = tu_stat(ws, "events");
	OK(&r, "--as", "alice", "notifications", "read", ids);
	got = json_object_get(r.json, "ids");
	cr_assert_eq(json_array_size(got), 1, "%s", r.out);
	cr_expect_eq(json_integer_value(json_array_get(got, 0)), id1);
	tu_run_release(&r);
	cr_expect_eq(tu_stat(ws, "events"), events);

	OK(&r, "--as", "alice", "notifications", "--unread");
	items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_eq(tu_int(json_array_get(items, 0), "id"), id0);
	tu_run_release(&r);

	/* An admin reads anyone's; unread first, then read. */
	OK(&r, "notifications", "--member", "alice", "--limit", "1");
	items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_eq(tu_int(json_array_get(items, 0), "id"), id0);
	char *cursor = strdup(tu_str(r.json, "next_cursor"));
	tu_run_release(&r);
	OK(&r, "notifications", "--member", "alice", "--cursor", cursor);
	items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_eq(tu_int(json_array_get(items, 0), "id"), id1);
	cr_expect(json_is_true(json_object_get(json_array_get(items, 0),
					       "read")));
	tu_run_release(&r);

	/* Deleting a task takes its notifications away. */
	OK(&r, "task", "delete", a);
	tu_run_release(&r);
	OK(&r, "--as", "alice", "notifications");
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 1);
	tu_run_release(&r);
	free(cursor);
	free(a);
	free(b);
}

/* The id of the first notification alice's listing shows, as text. */
static void alices_first_notification(char id[24])
{
	tu_run r;
	OK(&r, "--as", "alice", "notifications");
	snprintf(id, 24, "%lld",
		 tu_int(json_array_get(json_object_get(r.json, "items"), 0),
			"id"));
	tu_run_release(&r);
}

/* notifications read refuses the listing's --cursor, and says which
 * word is missing when no ID is given (a mutation audit: neither was
 * tried; the engine's own message does not say where to look). */
Test(notifications_cli, read_refuses_a_cursor_and_wants_an_id)
{
	tu_run r;
	char *a = add("admin", "A", "lead:1", NULL, "alice");
	char ids[24];
	alices_first_notification(ids);
	long long events = tu_stat(ws, "events");
	EXPECT(&r, 1, "--as", "alice", "notifications", "read", ids,
	       "--cursor", "x");
	cr_assert_str_eq(r.err, "tasklog: --cursor: is not taken by "
				"notifications read\n");
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "read");
	cr_assert_str_eq(r.err, "tasklog: ids: missing notification ID: see "
				"tasklog notifications --help\n");
	tu_run_release(&r);
	cr_assert_eq(tu_stat(ws, "events"), events);
	free(a);
}

/* notifications read marks every id given, in the order given, and
 * leaves the others unread (a mutation audit: the tests read one id,
 * or one id twice, so a loop stopping one short went unseen). */
Test(notifications_cli, read_marks_every_id_given)
{
	tu_run r;
	free(add("admin", "A", "lead:1", NULL, "alice"));
	free(add("admin", "B", "lead:1", NULL, "alice"));
	free(add("admin", "C", "lead:1", NULL, "alice"));
	long long id[3];
	OK(&r, "--as", "alice", "notifications");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 3, "%s", r.out);
	for (size_t i = 0; i < 3; i++)
		id[i] = tu_int(json_array_get(items, i), "id");
	tu_run_release(&r);

	char a[24], b[24];
	snprintf(a, sizeof a, "%lld", id[2]);
	snprintf(b, sizeof b, "%lld", id[0]);
	OK(&r, "--as", "alice", "notifications", "read", a, b);
	json_t *got = json_object_get(r.json, "ids");
	cr_assert_eq(json_array_size(got), 2, "%s", r.out);
	cr_expect_eq(json_integer_value(json_array_get(got, 0)), id[2]);
	cr_expect_eq(json_integer_value(json_array_get(got, 1)), id[0]);
	tu_run_release(&r);

	OK(&r, "--as", "alice", "notifications", "--unread");
	items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", r.out);
	cr_expect_eq(tu_int(json_array_get(items, 0), "id"), id[1]);
	tu_run_release(&r);
}

/* notifications read --idempotency-key: a repeat answers the same and
 * appends nothing; another request under the key is a conflict, which
 * says so when the first changed nothing; the listing takes no key. */
Test(notifications_cli, read_under_a_key_replays_and_conflicts)
{
	tu_run r;
	free(add("admin", "A", "lead:1", NULL, "alice"));
	free(add("admin", "B", "lead:1", NULL, "alice"));
	OK(&r, "--as", "alice", "notifications");
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 2, "%s", r.out);
	char a[24], b[24];
	snprintf(a, sizeof a, "%lld", tu_int(json_array_get(items, 0), "id"));
	snprintf(b, sizeof b, "%lld", tu_int(json_array_get(items, 1), "id"));
	tu_run_release(&r);

	long long events = tu_stat(ws, "events");
	OK(&r, "--as", "alice", "notifications", "read", a,
	   "--idempotency-key", "k1");
	tu_run_release(&r);
	cr_assert_eq(tu_stat(ws, "events"), events + 1, "the first read");
	OK(&r, "--as", "alice", "notifications", "read", a,
	   "--idempotency-key", "k1");
	json_t *got = json_object_get(r.json, "ids");
	cr_assert_eq(json_array_size(got), 1, "%s", r.out);
	cr_expect_eq(json_integer_value(json_array_get(got, 0)), atoll(a));
	tu_run_release(&r);
	cr_expect_eq(tu_stat(ws, "events"), events + 1, "a replay appended");
	EXPECT(&r, 3, "--as", "alice", "notifications", "read", b,
	       "--idempotency-key", "k1");
	cr_expect(strstr(r.err, "(seq "), "%s", r.err);
	tu_run_release(&r);

	/* a read of what is read changes nothing, and keeps its key */
	OK(&r, "--as", "alice", "notifications", "read", a,
	   "--idempotency-key", "k2");
	tu_run_release(&r);
	EXPECT(&r, 3, "--as", "alice", "notifications", "read", b,
	       "--idempotency-key", "k2");
	cr_expect(strstr(r.err, "changed nothing"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "--idempotency-key",
	       "k1");
	tu_run_release(&r);
	cr_expect_eq(tu_stat(ws, "events"), events + 1);
	/* b is still unread */
	OK(&r, "--as", "alice", "notifications", "--unread");
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 1);
	tu_run_release(&r);
}

/* For people: a table with each task's title, cut to fit 80 columns and
 * escaped; JSON keeps the documented fields only. */
Test(notifications_cli, the_table_shows_each_tasks_title)
{
	tu_run r;
	char *a = add("admin", "Call Dana about the renewal of the whole "
			       "account, every seat, before the end of the year",
		      "lead:1", NULL, "alice");
	char *b = add("bob", "Ring \xe2\x80\xaered", "lead:2", NULL, "alice");

	cr_assert_eq(tu_cli_text(&r, ws, "--as", "alice", "notifications",
				 NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tu_check_width(r.out);
	cr_assert(strstr(r.out, "TASK      TITLE\n"), "%s", r.out);
	const char *la = strstr(r.out, a + 28), *lb = strstr(r.out, b + 28);
	cr_assert(la && lb, "%s", r.out);
	cr_assert(!strncmp(la + 10, "Call Dana about the renewal", 27), "%s",
		  r.out);
	cr_assert(strstr(la, "\xe2\x80\xa6\n"), "not cut: %s", r.out);
	cr_assert(!strncmp(lb + 10, "Ring \\xe2\\x80\\xaered\n", 21), "%s",
		  r.out);
	cr_assert_null(strstr(r.out, "\xe2\x80\xae"), "%s", r.out);
	tu_run_release(&r);

	OK(&r, "--as", "alice", "notifications");
	json_t *n0 = json_array_get(json_object_get(r.json, "items"), 0);
	cr_assert_null(json_object_get(n0, "title"), "%s", r.out);
	tu_run_release(&r);
	free(a);
	free(b);
}

Test(notifications_cli, read_errors_name_the_field_and_append_nothing)
{
	tu_run r;
	free(add("admin", "A", "lead:1", NULL, "alice"));
	char id[24];
	alices_first_notification(id);
	long long before = tu_stat(ws, "events");

	EXPECT(&r, 2, "--as", "alice", "notifications", "read", "999");
	cr_expect(tu_err_names(&r, "ids"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 4, "--as", "bob", "notifications", "read", id, "--member",
	       "alice");
	cr_expect(tu_err_names(&r, "member"), "%s", r.err);
	cr_expect_str_eq(tu_str(json_object_get(r.json, "error"), "code"),
			 "forbidden");
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "read", "x1");
	cr_expect(tu_err_names(&r, "ids"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "read");
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "read", id,
	       "--unread");
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "notifications", "unread");
	tu_run_release(&r);
	cr_expect_eq(tu_stat(ws, "events"), before, "something was appended");

	EXPECT(&r, 4, "--as", "bob", "notifications", "--member", "alice");
	cr_expect(tu_err_names(&r, "member"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 2, "notifications", "--member", "nobody");
	cr_expect(tu_err_names(&r, "member"), "%s", r.err);
	tu_run_release(&r);
	/* words that name no one are no member's id: invalid, as "ME" is,
	 * not an unknown member */
	const char *no_one[] = { "unassigned", "-", "ME" };
	for (size_t i = 0; i < sizeof no_one / sizeof *no_one; i++) {
		EXPECT(&r, 1, "notifications", "--member", no_one[i]);
		cr_expect(tu_err_names(&r, "member"), "%s", r.err);
		tu_run_release(&r);
		EXPECT(&r, 1, "notifications", "read", id, "--member",
		       no_one[i]);
		cr_expect(tu_err_names(&r, "member"), "%s", r.err);
		tu_run_release(&r);
	}
	/* the system user, never assigned, has none: an empty list (asked
	 * for by an admin or by itself), and alice's id is not its own */
	OK(&r, "notifications", "--member", "parsa-assistant");
	cr_expect(json_is_array(json_object_get(r.json, "items")) &&
			  !json_array_size(json_object_get(r.json, "items")),
		  "%s", r.out);
	tu_run_release(&r);
	OK(&r, "--as", "parsa-assistant", "notifications");
	cr_expect(json_is_array(json_object_get(r.json, "items")) &&
			  !json_array_size(json_object_get(r.json, "items")),
		  "%s", r.out);
	tu_run_release(&r);
	EXPECT(&r, 2, "notifications", "read", id, "--member",
	       "parsa-assistant");
	cr_expect(tu_err_names(&r, "ids"), "%s", r.err);
	tu_run_release(&r);
	cr_expect_eq(tu_stat(ws, "events"), before, "something was appended");
}

Test(notifications_cli, prints_columns_for_people)
{
	tu_run r;
	free(add("admin", "A", "lead:1", NULL, "alice"));
	free(add("bob", "B", "lead:1", NULL, "alice"));
	cr_assert_eq(tu_cli_text(&r, ws, "--as", "alice", "notifications",
				 NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tu_check_width(r.out);
	cr_expect(strstr(r.out, "bob") != NULL, "%s", r.out);
	cr_expect_null(strstr(r.out, "next page"), "%s", r.out);
	tu_run_release(&r);
	/* a page that is not the last says how to get the next one */
	cr_assert_eq(tu_cli_text(&r, ws, "--as", "alice", "notifications",
				 "--limit", "1", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char cursor[128];
	next_page_cursor(r.out, cursor);
	tu_run_release(&r);
	OK(&r, "--as", "alice", "notifications", "--limit", "1", "--cursor",
	   cursor);
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1,
		     "%s", r.out);
	cr_expect_str_eq(tu_str(json_array_get(json_object_get(r.json,
							       "items"), 0),
				"by"),
			 "admin");
	long long id0 = tu_int(json_array_get(json_object_get(r.json,
							      "items"), 0),
			       "id");
	tu_run_release(&r);
	/* marking read says whose and which, ascending, each once */
	OK(&r, "--as", "alice", "notifications");
	long long id1 = tu_int(json_array_get(json_object_get(r.json,
							      "items"), 0),
			       "id");
	tu_run_release(&r);
	char a[24], b[24], want[96];
	snprintf(a, sizeof a, "%lld", id0);
	snprintf(b, sizeof b, "%lld", id1);
	snprintf(want, sizeof want, "marked read for alice: %lld %lld\n",
		 id0 < id1 ? id0 : id1, id0 < id1 ? id1 : id0);
	cr_assert_eq(tu_cli_text(&r, ws, "--as", "alice", "notifications",
				 "read", b, a, b, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_str_eq(r.out, want);
	tu_run_release(&r);
}

/* The BY column is an actor id, as the ACTOR columns: cut at 16 columns
 * in 80, whole in a wider table (an audit: it was cut at 20 whatever
 * the width). */
Test(notifications_cli, by_is_cut_as_actor_ids_are)
{
	DO("member", "add", "sales.team.north.assistant.1", "--name", "N1");
	free(add("sales.team.north.assistant.1", "T", "lead:6", NULL,
		 "alice"));
	for (int wide = 0; wide < 2; wide++) {
		const char *env[] = { wide ? "COLUMNS=120" : "COLUMNS", NULL };
		tu_opts o = { .env = env };
		tu_run r;
		cr_assert_eq(tu_exec(&r, &o,
				     (const char *[]){ "--db", ws, "--as",
						       "alice", "notifications",
						       NULL }),
			     0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		/* cut: 15 characters and an ellipsis (UTF-8) */
		const char *want = wide ? "  sales.team.north.assistant.1  "
					: "  sales.team.nort\xe2\x80\xa6  ";
		cr_expect(strstr(r.out, want) != NULL, "%s", r.out);
		tu_run_release(&r);
	}
}

/* ---- rebuild ----------------------------------------------------------- */

/* rebuild --help names the views --projection takes: this build's, and
 * the engine's own, ids, after them (an audit: nothing read the list). */
Test(rebuild_cli, help_names_every_view_and_ids_last)
{
	tu_run r;
	cr_assert_eq(tu_exec(&r, NULL,
			     (const char *[]){ "rebuild", "--help", NULL }),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char want[256] = "\nviews:";
	size_t n;
	const tl_view *const *v = tl_views_all(&n);
	for (size_t i = 0; i < n; i++) {
		strcat(want, " ");
		strcat(want, tl_view_name(v[i]));
	}
	strcat(want, " ids\n");
	cr_assert(strstr(r.out, want), "%s", r.out);
	tu_run_release(&r);
}

Test(rebuild_cli, rebuilds_all_or_the_named_views)
{
	tu_run r;
	char *a = add("admin", "A", "lead:1", "+1d", "alice");
	OK(&r, "task", "complete", a);
	tu_run_release(&r);
	OK(&r, "timeline", "lead:1");
	char *before = strdup(r.out);
	tu_run_release(&r);

	OK(&r, "rebuild");
	cr_expect(json_is_true(json_object_get(r.json, "ok")));
	json_t *names = json_object_get(r.json, "rebuilt");
	size_t nviews;
	tl_views_all(&nviews);
	/* the projections, and the engine's own view after them */
	cr_expect_eq(json_array_size(names), nviews + 1, "%s", r.out);
	cr_expect_str_eq(json_string_value(json_array_get(names, nviews)),
			 "ids");
	cr_expect_str_eq(r.err, "", "no progress bar without a terminal");
	tu_run_release(&r);

	OK(&r, "rebuild", "--projection", "timeline", "--projection",
	   "notifications");
	names = json_object_get(r.json, "rebuilt");
	cr_assert_eq(json_array_size(names), 2, "%s", r.out);
	cr_expect_str_eq(json_string_value(json_array_get(names, 0)),
			 "timeline");
	cr_expect_str_eq(json_string_value(json_array_get(names, 1)),
			 "notifications");
	tu_run_release(&r);
	/* a view named twice is rebuilt and named once */
	OK(&r, "rebuild", "--projection", "tasks", "--projection", "tasks");
	names = json_object_get(r.json, "rebuilt");
	cr_assert_eq(json_array_size(names), 1, "%s", r.out);
	cr_expect_str_eq(json_string_value(json_array_get(names, 0)), "tasks");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "rebuild", "--projection", "tasks",
				 "--projection", "tasks", NULL), 0);
	cr_expect_str_eq(r.out, "rebuilt tasks\n");
	tu_run_release(&r);

	OK(&r, "timeline", "lead:1");
	cr_expect_str_eq(r.out, before, "a rebuild changed the timeline");
	tu_run_release(&r);
	OK(&r, "verify");
	cr_expect(json_is_true(json_object_get(r.json, "ok")), "%s", r.out);
	tu_run_release(&r);
	free(before);
	free(a);
}

/* Views named more than once are each named once, in the order first
 * given, a repeat that is not the last one too; for people, separated by
 * commas (a mutation audit: only a view named twice in a row was tried,
 * and only one name for people). */
Test(rebuild_cli, names_each_view_once_in_the_order_given)
{
	tu_run r;
	OK(&r, "rebuild", "--projection", "timeline", "--projection", "tasks",
	   "--projection", "timeline");
	json_t *names = json_object_get(r.json, "rebuilt");
	cr_assert_eq(json_array_size(names), 2, "%s", r.out);
	cr_expect_str_eq(json_string_value(json_array_get(names, 0)),
			 "timeline");
	cr_expect_str_eq(json_string_value(json_array_get(names, 1)), "tasks");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "rebuild", "--projection", "timeline",
				 "--projection", "tasks", "--projection",
				 "timeline", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect_str_eq(r.out, "rebuilt timeline, tasks\n");
	tu_run_release(&r);
}

Test(rebuild_cli, refuses_unknown_views_and_members)
{
	tu_run r;
	EXPECT(&r, 1, "rebuild", "--projection", "nope");
	cr_expect(tu_err_names(&r, "projection"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "rebuild", "--projection", "");
	cr_expect(tu_err_names(&r, "projection"), "%s", r.err);
	cr_expect(strstr(r.err, "must not be empty") != NULL, "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 4, "--as", "alice", "rebuild");
	tu_run_release(&r);
}

/* Move event `seq` of the workspace's log to seq `to`, with LMDB alone:
 * a gap, as a damaged disk or tool could leave it. */
/* The workspace with LMDB alone: a write transaction on database name;
 * raw_commit ends it and closes the environment. */
static MDB_txn *raw_begin(MDB_env **env, const char *name, MDB_dbi *dbi)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_env_create(env), 0);
	mdb_env_set_maxdbs(*env, 128);
	cr_assert_eq(mdb_env_open(*env, ws, 0, 0666), 0);
	cr_assert_eq(mdb_txn_begin(*env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, name, 0, dbi), 0);
	return txn;
}

static void raw_commit(MDB_env *env, MDB_txn *txn)
{
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void move_event(uint64_t seq, uint64_t to)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8], tb[8];
	for (int i = 0; i < 8; i++) {
		kb[i] = (uint8_t)(seq >> (56 - 8 * i));
		tb[i] = (uint8_t)(to >> (56 - 8 * i));
	}
	MDB_val k = { 8, kb }, t = { 8, tb }, v;
	txn = raw_begin(&env, "events", &dbi);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	void *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	MDB_val nv = { v.mv_size, copy };
	cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
	cr_assert_eq(mdb_put(txn, dbi, &t, &nv, 0), 0);
	raw_commit(env, txn);
	free(copy);
}

/* Replace the first byte of a record of database `name` with one that
 * msgpack never uses, with LMDB alone: the record of event `seq` in
 * `events` (seq > 0), else the database's first record. */
static void spoil(const char *name, uint64_t seq)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	uint8_t kb[8];
	for (int i = 0; i < 8; i++)
		kb[i] = (uint8_t)(seq >> (56 - 8 * i));
	MDB_val k = { 8, kb }, v;
	txn = raw_begin(&env, name, &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, seq ? MDB_SET_KEY : MDB_FIRST),
		     0);
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[0] = 0xc1;
	MDB_val nv = { v.mv_size, copy };
	cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	raw_commit(env, txn);
	free(copy);
}

/* Two tasks on lead:1; the number of events in the log then. */
static size_t two_tasks(void)
{
	tu_run r;
	free(add("admin", "One", "lead:1", NULL, NULL));
	free(add("admin", "Two", "lead:1", NULL, NULL));
	OK(&r, "log");
	size_t n = json_array_size(json_object_get(r.json, "items"));
	tu_run_release(&r);
	return n;
}

/* verify found problems: exit 5, the list (ok false), no error
 * document; the list. */
static json_t *verify_problems(tu_run *r)
{
	EXPECT(r, 5, "verify");
	json_t *p = json_object_get(r->json, "problems");
	cr_assert(json_is_false(json_object_get(r->json, "ok")), "%s", r->out);
	cr_assert_null(json_object_get(r->json, "error"), "%s", r->out);
	cr_assert(json_array_size(p) > 0, "%s", r->out);
	return p;
}

/* The acting admin's own stored record damaged: verify's check fails
 * before it lists any problem; that failure is its answer, in its shape
 * ({ok: false, problems: ["storage: ..."]}, exit 5), with the error's
 * line on stderr. */
/* Make the stored version of view `name` one less than the code's, with
 * LMDB alone, as a workspace of the release before a change of the view
 * has it: the next open rebuilds the view. */
static void age_view(const char *name)
{
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn = raw_begin(&env, "meta", &dbi);
	char key[64];
	snprintf(key, sizeof key, "view:%s", name);
	MDB_val k = { strlen(key), key }, v;
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8);
	uint8_t nv[8];
	memcpy(nv, v.mv_data, 8);
	cr_assert(nv[3] > 0);
	nv[3]--; /* the version: u32 BE, then the generation */
	MDB_val w = { 8, nv };
	cr_assert_eq(mdb_put(txn, dbi, &k, &w, 0), 0);
	raw_commit(env, txn);
}

/* `tasklog --db WS ARGS` with a terminal (script(1)) for its stderr,
 * which script puts into r->out with stdout; it must exit 0.  Skips the
 * test where there is no script(1). */
static void run_on_terminal(tu_run *r, const char *args)
{
	if (system("command -v script >/dev/null 2>&1") != 0)
		cr_skip_test("no script(1) to give the command a terminal");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "script -qec \"'%s' --db '%s' %s\" /dev/null",
		 tu_bin(), ws, args);
	const char *const argv[] = { "-c", cmd, NULL };
	tu_opts o = { .bin = "/bin/sh" };
	cr_assert_eq(tu_exec(r, &o, argv), 0);
	cr_assert_eq(r->status, 0, "%s%s", r->out, r->err);
}

/* The first open after an upgrade that changed a view rebuilds it from the
 * log before it answers: on a terminal it says so, with a bar; without
 * one it says nothing (its output is another program's input). */
Test(rebuild_cli, an_open_that_rebuilds_a_view_says_so_on_a_terminal)
{
	free(add("admin", "Call Dana", "lead:1", "+1d", "alice"));
	free(add("admin", "Send deck", "lead:2", NULL, NULL));
	static const char line[] =
		"tasklog: bringing the views up to date before answering "
		"(a rebuild from the log, or a wait for another's)";
	for (int round = 0; round < 2; round++) {
		if (round == 0)
			age_view("tasks");
		tu_run r;
		run_on_terminal(&r, "task list");
		/* script(1) puts stderr on the terminal, with stdout */
		cr_expect_eq(strstr(r.out, line) != NULL, round == 0, "%s",
			     r.out);
		cr_expect_eq(strstr(r.out, "] 100% 6/6 events in ") != NULL,
			     round == 0, "%s", r.out);
		cr_expect(strstr(r.out, "Call Dana") &&
			  strstr(r.out, "Send deck"), "%s", r.out);
		tu_run_release(&r);
	}
	age_view("tasks");
	tu_run r;
	OK(&r, "task", "list");
	cr_expect_str_eq(r.err, "", "nothing said without a terminal");
	cr_expect_eq(json_array_size(json_object_get(r.json, "items")), 2);
	tu_run_release(&r);
	OK(&r, "verify");
	cr_expect(json_is_true(json_object_get(r.json, "ok")), "%s", r.out);
	tu_run_release(&r);
}

/* `rebuild` as the first command after an upgrade that changed a view:
 * the open rebuilds it, and the command does not do it again. */
Test(rebuild_cli, rebuild_after_an_upgrade_rebuilds_once)
{
	free(add("admin", "Call Dana", "lead:1", "+1d", "alice"));
	age_view("tasks");
	tu_run r;
	run_on_terminal(&r, "rebuild --projection tasks");
	const char *bar = strstr(r.out, " events in ");
	cr_expect(strstr(r.out, "tasklog: bringing the views up to date"),
		  "%s", r.out);
	cr_expect(bar && !strstr(bar + 1, " events in "),
		  "one rebuild's bar: %s", r.out);
	cr_expect(strstr(r.out, "rebuilt tasks"), "%s", r.out);
	tu_run_release(&r);
	OK(&r, "verify");
	cr_expect(json_is_true(json_object_get(r.json, "ok")), "%s", r.out);
	tu_run_release(&r);
}

/* verify on a terminal shows a bar for each of its steps, then how long
 * they took; without one it says nothing on stderr. */
Test(rebuild_cli, verify_shows_its_steps_on_a_terminal)
{
	free(add("admin", "Call Dana", "lead:1", "+1d", "alice"));
	static const char *const steps[] = {
		"(verify 1/7: the file's pages)",
		"(verify 2/7: the hash chain)",
		"(verify 3/7: the stream index)",
		"(verify 4/7: the task states)",
		"(verify 5/7: rebuilding the views: reading the log)",
		"(verify 6/7: rebuilding the views: writing them)",
		"(verify 7/7: comparing the views)",
	};
	for (int views = 1; views >= 0; views--) {
		tu_run r;
		run_on_terminal(&r, views ? "verify" : "verify --no-views");
		const char *at = r.out;
		for (size_t i = 0; i < (views ? 7u : 4u); i++) {
			char step[80];
			snprintf(step, sizeof step, "%s", steps[i]);
			if (!views) /* "verify 1/4: ..." */
				step[10] = '4';
			const char *p = strstr(at, step);
			cr_expect(p, "step %zu (%s) in order: %s", i + 1, step,
				  r.out);
			at = p ? p : at;
		}
		cr_expect(strstr(r.out, views ? "] verify: 7 steps in "
					      : "] verify: 4 steps in "),
			  "%s", r.out);
		cr_expect(strstr(r.out, "ok (head "), "%s", r.out);
		tu_run_release(&r);
	}
	tu_run r;
	run_on_terminal(&r, "verify --replay");
	cr_expect(strstr(r.out, "(verify 7/8: comparing the views)") &&
			  strstr(r.out, "(verify 8/8: replaying the log)") &&
			  strstr(r.out, "] verify: 8 steps in "),
		  "%s", r.out);
	tu_run_release(&r);
	/* the fifth step without the views: no rebuild's ", writing" */
	run_on_terminal(&r, "verify --no-views --replay");
	cr_expect(strstr(r.out, "(verify 5/5: replaying the log)") &&
			  !strstr(r.out, "writing") &&
			  strstr(r.out, "] verify: 5 steps in "),
		  "%s", r.out);
	tu_run_release(&r);
	OK(&r, "verify");
	cr_expect_str_eq(r.err, "", "nothing said without a terminal");
	tu_run_release(&r);
}

Test(rebuild_cli, verify_answers_a_storage_failure_before_any_problem)
{
	tu_run r;
	two_tasks();
	spoil("members", 0); /* "admin", the first key */
	json_t *p = verify_problems(&r);
	cr_assert_eq(json_array_size(p), 1, "%s", r.out);
	cr_assert(!strncmp(json_string_value(json_array_get(p, 0)),
			   "storage: member admin", 21),
		  "%s", r.out);
	cr_assert(tu_err_names(&r, "storage"), "%s", r.err);
	/* the head could not be read: none is named (a mutation audit) */
	cr_assert_null(json_object_get(r.json, "head"), "%s", r.out);
	tu_run_release(&r);
}

/* An event in the middle of the log damaged while the views are current
 * (no rebuild at open): verify's answer is the list of problems, the log
 * checks' findings first and the views' failed rebuild among them, not a
 * storage error that hides them. */
Test(rebuild_cli, verify_lists_problems_when_the_views_cannot_be_rebuilt)
{
	tu_run r;
	two_tasks();
	free(add("admin", "Three", "lead:1", NULL, NULL));
	spoil("events", 4);
	verify_problems(&r);
	cr_assert(strstr(r.out, "event 4: cannot be decoded"), "%s", r.out);
	cr_assert(strstr(r.out, "views: not compared"), "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "verify", NULL), 0);
	cr_assert_eq(r.status, 5);
	cr_assert(strstr(r.out, "event 4: cannot be decoded"), "%s", r.out);
	tu_run_release(&r);
}

/* An export that fails both ways: the read stops at a damaged event, then
 * the flush of the lines before it meets a full disk.  The error says
 * both, the write first (exit 5; a mutation audit found it untested). */
Test(rebuild_cli, an_export_that_cannot_read_nor_write_says_both)
{
	tu_run r;
	two_tasks();
	free(add("admin", "Three", "lead:1", NULL, NULL));
	spoil("events", 4);
	const char *const sh[] = { "-c", "exec \"$0\" --db \"$1\" export "
				   ">/dev/full", tu_bin(), ws, NULL };
	tu_opts o = { .bin = "/bin/sh" };
	cr_assert_eq(tu_exec(&r, &o, sh), 0);
	cr_assert_eq(r.status, 5, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.err, "tasklog: export: writing the standard "
				"output: No space left on device (and reading "
				"the log: event 4 is corrupt)\n");
	tu_run_release(&r);
}

/* A damaged task record: verify's answer is the list of problems, and
 * when a later check cannot go on, why it stopped is the last of them,
 * not an error document that drops what was found. */
Test(rebuild_cli, verify_keeps_its_problems_when_it_stops)
{
	tu_run r;
	two_tasks();
	spoil("tasks", 0);
	json_t *p = verify_problems(&r);
	cr_assert_geq(json_array_size(p), 2, "%s", r.out);
	cr_assert(strstr(json_string_value(json_array_get(p, 0)),
			 "stored state differs"), "%s", r.out);
	cr_assert_str_eq(json_string_value(json_array_get(
				 p, json_array_size(p) - 1)),
			 "verify stopped: storage: corrupt task record");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "verify", NULL), 0);
	cr_assert_eq(r.status, 5);
	cr_assert(strstr(r.out, "stored state differs"), "%s", r.out);
	cr_assert(strstr(r.out, "verify stopped: storage: corrupt task record\n"),
		  "%s", r.out);
	tu_run_release(&r);
}

/* Bytes after every document of the timeline's covered due range, with
 * LMDB alone: documents that the engine hands on and the command line
 * cannot convert.  Said as damage under the field storage, with the way
 * out (0.3.26: "timeline: undecodable record", no field). */
Test(rebuild_cli, a_view_document_that_cannot_be_read_says_what_repairs_it)
{
	tu_run r;
	free(add("admin", "Call", "lead:1", "2026-03-05T10:00:00Z", NULL));
	MDB_env *env;
	MDB_dbi meta, dbi;
	MDB_cursor *c;
	MDB_val k, v;
	MDB_txn *txn = raw_begin(&env, "meta", &meta);
	timeline_db(txn, meta, "due", &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	int n = 0;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
		uint8_t buf[4096];
		cr_assert_lt(v.mv_size + 3, sizeof buf);
		memcpy(buf, v.mv_data, v.mv_size);
		memcpy(buf + v.mv_size, "\x93\x01\x02", 3);
		MDB_val nv = { v.mv_size + 3, buf };
		cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	}
	mdb_cursor_close(c);
	raw_commit(env, txn);
	cr_assert_gt(n, 0, "the task is in the record's due range");
	EXPECT(&r, 5, "timeline", "lead:1");
	cr_assert(tu_err_names(&r, "storage"), "%s", r.err);
	cr_assert_str_eq(r.err, "tasklog: storage: undecodable record (damage: "
				"tasklog verify names it; a view's is "
				"repaired by tasklog rebuild)\n");
	tu_run_release(&r);
	OK(&r, "rebuild");
	tu_run_release(&r);
	OK(&r, "timeline", "lead:1");
	tu_run_release(&r);
}

/* Store version ver for view name in meta (its generation kept). */
static void set_view_version(const char *name, uint32_t ver)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char key[64];
	snprintf(key, sizeof key, "view:%s", name);
	MDB_val k = { strlen(key), key }, v;
	txn = raw_begin(&env, "meta", &dbi);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8);
	uint8_t b[8];
	memcpy(b, v.mv_data, 8);
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(ver >> (24 - 8 * i));
	MDB_val nv = { 8, b };
	cr_assert_eq(mdb_put(txn, dbi, &k, &nv, 0), 0);
	raw_commit(env, txn);
}

/* One view that cannot be brought up to date (here: of an older version,
 * over an event that no longer decodes) does not take the others down:
 * reading commands answer read-only from the views that are current and
 * say so; that view's queries and every write fail. */
Test(rebuild_cli, a_view_that_cannot_be_rebuilt_leaves_the_others_serving)
{
	tu_run r;
	size_t n = two_tasks();
	set_view_version("timeline", 1);
	spoil("events", n);

	OK(&r, "task", "list");
	cr_assert(strstr(r.err, "answering read-only"), "%s", r.err);
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 2,
		     "%s", r.out);
	tu_run_release(&r);
	EXPECT(&r, 5, "timeline", "lead:1");
	tu_run_release(&r);
	EXPECT(&r, 5, "task", "add", "--title", "Three", "--link", "lead:1");
	tu_run_release(&r);
	EXPECT(&r, 5, "verify");
	cr_assert(strstr(r.out, "view timeline: not compared (read-only): "
				"stored version 1"),
		  "%s", r.out);
	tu_run_release(&r);
}

/* A gap in the log: commands fail with a storage error naming the missing
 * seq (the views cannot be rebuilt over it), and verify still opens the
 * log without the views and lists what is wrong with it. */
Test(rebuild_cli, a_damaged_log_is_named_and_verify_still_reports)
{
	tu_run r;
	size_t n = two_tasks();
	cr_assert_geq(n, 4);
	move_event(n, 1000000); /* the head moves: the views rebuild on open */

	EXPECT(&r, 5, "task", "list");
	cr_assert(strstr(r.err, "the log has no event"), "%s", r.err);
	/* the files can be written: the log is what stops a rebuild */
	cr_assert(strstr(r.err, "when the log replays: `tasklog verify` says"),
		  "%s", r.err);
	tu_run_release(&r);

	EXPECT(&r, 5, "verify");
	cr_assert(strstr(r.err, "reading the log read-only, without the "
				"views"),
		  "%s", r.err);
	cr_assert(!strstr(r.err, "a read-only handle cannot rebuild"), "%s", r.err);
	/* nor that its files cannot be written: they can, and the note of
	 * the fallback above says why it reads read-only (a mutation audit
	 * found both said) */
	cr_assert(!strstr(r.err, "cannot be written here"), "%s", r.err);
	json_t *p = json_object_get(r.json, "problems");
	cr_assert(json_array_size(p) > 0, "%s", r.out);
	cr_assert(strstr(r.out, "log: expected seq"), "%s", r.out);
	tu_run_release(&r);
}

/* Over a damaged log, the commands that read the log say they read it
 * without the views, and those that answer from the views say so
 * (commands.c's OPEN_LOG and OPEN_READ; a mutation audit found the
 * commands' open modes untested but verify's). */
Test(rebuild_cli, over_a_damaged_log_each_reader_says_how_it_reads)
{
	tu_run r;
	size_t n = two_tasks();
	cr_assert_geq(n, 4);
	move_event(n, 1000000);
	char *dir = tu_tmpdir();
	const char *const log_readers[][3] = {
		{ "log" }, { "export" }, { "backup", dir },
	};
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(tu_cli_argv(&r, ws, log_readers[i]), 0);
		cr_assert_eq(r.status, 0, "%s: %s", log_readers[i][0], r.err);
		cr_assert(strstr(r.err, "; reading the log read-only, without "
					"the views\n"),
			  "%s: %s", log_readers[i][0], r.err);
		tu_run_release(&r);
	}
	/* stats answers from its views; timeline's is behind: exit 5 */
	const char *const view_readers[][3] = {
		{ "stats" }, { "timeline", "lead:1" },
	};
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(tu_cli_argv(&r, ws, view_readers[i]), 0);
		cr_assert_eq(r.status, i ? 5 : 0, "%s: %s", view_readers[i][0],
			     r.err);
		cr_assert(strstr(r.err, "; answering read-only, from the views "
					"that are current\n"),
			  "%s: %s", view_readers[i][0], r.err);
		tu_run_release(&r);
	}
	/* a token is a write: refused, with no read-only fallback */
	EXPECT(&r, 5, "member", "token", "alice");
	cr_assert(tu_err_names(&r, "the log has no event"), "%s", r.err);
	cr_assert(!strstr(r.err, "read-only"), "%s", r.err);
	tu_run_release(&r);
	/* notifications lists as a reader of the views does; `notifications
	 * read` marks, a write: no fallback (tasklog.c counts the listing
	 * alone among the reads, which a mutation audit found untested
	 * either way) */
	cr_assert_eq(tu_cli_argv(&r, ws, (const char *const[]){
					 "notifications", NULL }),
		     0);
	cr_assert(strstr(r.err, "; answering read-only, from the views "
				"that are current\n"),
		  "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 5, "notifications", "read", "01890a5d-ac96-774b-bcce-b302099a8057");
	cr_assert(tu_err_names(&r, "the log has no event"), "%s", r.err);
	tu_run_release(&r);
	tu_rmrf(dir);
	free(dir);
}

/* A stored zone that this host's time-zone database lacks: what needs no
 * date works, and output for people is in UTC, said on stderr. */
Test(rebuild_cli, a_zone_the_host_lacks_gives_people_utc)
{
	tu_run r;
	free(add("admin", "Call", "lead:1", "2026-03-05T10:00:00Z", "alice"));
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn = raw_begin(&env, "meta", &dbi);
	MDB_val k = { 2, "tz" }, v = { 12, "Mars/Olympus" };
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	raw_commit(env, txn);

	cr_assert_eq(tu_cli_text(&r, ws, "task", "list", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "DUE (UTC)"), "%s", r.out);
	cr_assert(strstr(r.out, "2026-03-05 10:00"), "%s", r.out);
	cr_assert_str_eq(r.err, "tasklog: times in UTC: the workspace's time "
				"zone 'Mars/Olympus' is not in this host's "
				"time-zone database\n");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "member", "list", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tu_run_release(&r);
	OK(&r, "task", "list");
	cr_assert_str_eq(r.err, "");
	tu_run_release(&r);
	/* and so are the times of a timeline's summaries */
	OK(&r, "timeline", "lead:1");
	cr_expect_str_eq(tu_str(json_array_get(json_object_get(r.json, "items"),
					       0), "summary"),
			 "Created task \"Call\" due 2026-03-05 10:00 UTC, "
			 "assigned to alice");
	tu_run_release(&r);
	/* a date needs the zone: named */
	EXPECT(&r, 1, "task", "list", "--due", "today");
	tu_run_release(&r);
}
