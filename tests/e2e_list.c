/*
 * e2e_list.c - end-to-end tests of `tasklog task list` and `tasklog
 * upcoming`: the real binary ($TASKLOG_BIN) on a temporary workspace,
 * --json output checked as the list of titles it holds, paging by
 * following next_cursor, errors by exit status and the field named on
 * stderr, and people's output by its columns and its width.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "testutil.h"

#define T0 "2026-03-02T09:00:00Z" /* a Monday */

static char *ws;

static void setup(void)
{
	ws = tu_tmpdir();
	DO("--now", T0, "init");
	DO("--now", T0, "member", "add", "alice", "--name", "Alice");
	DO("--now", T0, "member", "add", "bob", "--name", "Bob");
	DO("--now", T0, "member", "add", "carol", "--name", "Carol",
	   "--no-crm-access");
}

static void teardown(void)
{
	tu_rmrf(ws);
	free(ws);
}

TestSuite(list_cli, .init = setup, .fini = teardown);
TestSuite(upcoming_cli, .init = setup, .fini = teardown);

/* Add a task at T0: `task add --title TITLE ARGS...`. */
#define ADD(title, ...) DO("--now", T0, "task", "add", "--title", title, \
			   "--link", "lead:1", ##__VA_ARGS__)

/* Add a task at T0 (`task add --title TITLE --link LINK ARGS...`): its
 * id, malloc'd. */
#define ADD_ID(title, link, ...) \
	tu_cli_id(ws, (const char *const[]){ "--now", T0, "task", "add", \
					     "--title", title, "--link", \
					     link, ##__VA_ARGS__, NULL })

/* The titles of r's items, space-separated (static buffer). */
static const char *titles(const tu_run *r)
{
	static char buf[4096];
	const json_t *items = json_object_get(r->json, "items"), *t;
	size_t i;

	cr_assert(json_is_array(items), "no items: %s", r->out);
	buf[0] = 0;
	json_array_foreach(items, i, t) {
		size_t o = strlen(buf);
		snprintf(buf + o, sizeof buf - o, "%s%s", i ? " " : "",
			 tu_str(t, "title"));
	}
	return buf;
}

/* The next_cursor of r: NULL when it is JSON null. */
static const char *next_cursor(const tu_run *r)
{
	const json_t *c = json_object_get(r->json, "next_cursor");
	cr_assert(c, "no next_cursor: %s", r->out);
	cr_assert(json_is_null(c) || json_is_string(c));
	return json_string_value(c);
}

/* `task list ARGS...` at T0: the titles listed. */
#define LIST(...) list_titles((const char *const[]){ __VA_ARGS__, NULL })
static const char *list_titles(const char *const *args)
{
	const char *argv[64] = { "--now", T0, "task", "list" };
	size_t n = 4;
	tu_run r;
	static char out[4096];

	for (size_t i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(tu_cli_argv(&r, ws, argv), 0);
	cr_assert_eq(r.status, 0, "task list: exit %d: %s", r.status, r.err);
	snprintf(out, sizeof out, "%s", titles(&r));
	tu_run_release(&r);
	return out;
}

/* `CMD ARGS...` fails with exit code, one stderr line naming field, and
 * an error document. */
#define FAILS(code, field, ...) \
	fails(code, field, (const char *const[]){ __VA_ARGS__, NULL })
static void fails(int code, const char *field, const char *const *args)
{
	const char *argv[64] = { "--now", T0 };
	size_t n = 2;
	tu_run r;

	for (size_t i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(tu_cli_argv(&r, ws, argv), 0);
	cr_assert_eq(r.status, code, "%s %s: exit %d, wanted %d: %s", args[0],
		     args[1] ? args[1] : "", r.status, code, r.err);
	cr_assert(tu_err_names(&r, field), "stderr should name %s: %s", field,
		  r.err);
	cr_assert(json_is_object(json_object_get(r.json, "error")), "%s",
		  r.out);
	tu_run_release(&r);
}

/* ---- task list ------------------------------------------------------- */

Test(list_cli, prints_items_and_a_null_cursor)
{
	tu_run r;

	OK(&r, "task", "list");
	cr_assert_str_eq(titles(&r), "");
	cr_assert_null(next_cursor(&r));
	tu_run_release(&r);

	ADD("first", "--due", "2026-03-03T10:00:00Z", "--assignee", "alice",
	    "--type", "call");
	OK(&r, "task", "list");
	const json_t *t = json_array_get(json_object_get(r.json, "items"), 0);
	cr_assert_str_eq(tu_str(t, "title"), "first");
	cr_assert_str_eq(tu_str(t, "status"), "todo");
	cr_assert_str_eq(tu_str(t, "type"), "call");
	cr_assert_str_eq(tu_str(t, "assignee"), "alice");
	cr_assert_str_eq(tu_str(t, "due_at"), "2026-03-03T10:00:00.000Z");
	cr_assert_str_eq(tu_str(json_object_get(t, "link"), "type"), "lead");
	cr_assert_eq(tu_int(t, "version"), 1);
	cr_assert_null(next_cursor(&r));
	tu_run_release(&r);
}

Test(list_cli, filters_with_repeated_options)
{
	ADD("a", "--assignee", "alice", "--type", "call");
	ADD("b", "--assignee", "bob", "--type", "email", "--status",
	    "in_progress");
	ADD("c", "--type", "follow_up", "--status", "completed");
	DO("--now", T0, "task", "add", "--title", "d", "--link", "contact:9",
	   "--assignee", "alice");
	cr_assert_str_eq(LIST(NULL), "a b d");
	cr_assert_str_eq(LIST("--status", "completed"), "c");
	cr_assert_str_eq(LIST("--status", "completed", "--status", "todo"),
			 "a c d");
	cr_assert_str_eq(LIST("--assignee", "alice"), "a d");
	cr_assert_str_eq(LIST("--assignee", "bob", "--assignee",
			      "unassigned", "--status", "completed",
			      "--status", "in_progress"),
			 "b c");
	cr_assert_str_eq(LIST("--assignee", "me", "--as", "bob"), "b");
	cr_assert_str_eq(LIST("--type", "call", "--type", "email"), "a b");
	cr_assert_str_eq(LIST("--entity-type", "contact"), "d");
	cr_assert_str_eq(LIST("--entity-type", "contact", "--entity-type",
			      "lead"),
			 "a b d");
	cr_assert_str_eq(LIST("--record", "contact:9"), "d");
	cr_assert_str_eq(LIST("--record", "lead:1", "--assignee", "alice"),
			 "a");
	/* an assignee's or a record's done tasks, and a record's update
	 * order, from their own ranges (0.3.27) */
	cr_assert_str_eq(LIST("--record", "lead:1", "--status", "completed"),
			 "c");
	cr_assert_str_eq(LIST("--record", "contact:9", "--status",
			      "completed"),
			 "");
	cr_assert_str_eq(LIST("--assignee", "unassigned", "--status",
			      "completed"),
			 "c");
	cr_assert_str_eq(LIST("--assignee", "alice", "--status", "completed",
			      "--status", "todo", "--sort", "created"),
			 "d a");
	cr_assert_str_eq(LIST("--record", "lead:1", "--sort", "updated"),
			 "b a");
	cr_assert_str_eq(LIST("--automation", "include"), "a b d");
	cr_assert_str_eq(LIST("--automation", "only"), "");
}

/* `task list` for people with the environment's COLUMNS set to cols
 * ("COLUMNS" alone: unset), into r. */
static void list_at_width(tu_run *r, const char *cols)
{
	const char *env[] = { cols, NULL };
	tu_opts o = { .env = env };
	cr_assert_eq(tu_exec(r, &o,
			     (const char *[]){ "--db", ws, "--now", T0, "task",
					       "list", NULL }),
		     0);
	cr_assert_eq(r->status, 0, "%s", r->err);
}

/* In a table of 100 columns or more, a RECORD column before the title;
 * none in 80, and none in a timeline's upcoming tasks (one record). */
Test(list_cli, a_wide_table_names_each_record)
{
	DO("--now", T0, "task", "add", "--title", "Call", "--link",
	   "opportunity:acme-2027", "--due", "+1d");
	static const char *const widths[] = { "COLUMNS", "COLUMNS=99",
					      "COLUMNS=140" };
	/* at 100, a long record is cut to leave the title its 20 */
	DO("--now", T0, "task", "add", "--title", "Long", "--link",
	   "opportunity:0065g00000AbCdEfGH", "--due", "+2d", "--status",
	   "in_progress", "--type", "follow_up");
	tu_run r100;
	list_at_width(&r100, "COLUMNS=100");
	cr_expect(strstr(r100.out, "  RECORD  ") &&
			  strstr(r100.out, "  opportunity:006\xe2\x80\xa6  Long\n"),
		  "%s", r100.out);
	for (const char *p = r100.out; *p;) {
		size_t n = strcspn(p, "\n");
		cr_expect_leq(tu_columns(p, n), 100, "%.*s", (int)n, p);
		p += n + (p[n] != 0);
	}
	tu_run_release(&r100);
	for (int i = 0; i < 3; i++) {
		const char *env[] = { widths[i], NULL };
		tu_opts o = { .env = env };
		tu_run r;
		list_at_width(&r, widths[i]);
		bool shown = strstr(r.out, "  RECORD  ") &&
			     strstr(r.out, "  opportunity:acme-2027  ");
		cr_expect_eq(shown, i == 2, "%s:\n%s", widths[i], r.out);
		tu_run_release(&r);
		cr_assert_eq(tu_exec(&r, &o,
				     (const char *[]){ "--db", ws, "--now", T0,
						       "timeline",
						       "opportunity:acme-2027",
						       NULL }),
			     0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_expect(!strstr(r.out, "RECORD"), "%s", r.out);
		tu_run_release(&r);
	}
}

/* A walk-through's table: a member id of 64 characters took up to 64
 * columns in 90 to 150 and left the title 9 (and no record); short
 * records alone (none of 12 characters) dropped the RECORD column.  Now
 * the assignee takes a third of what a table has past 80, and a record
 * column that fits whole is kept. */
Test(list_cli, a_long_member_id_leaves_the_title_and_the_record_room)
{
	char id[65];
	memset(id, 'm', 64);
	id[64] = 0;
	DO("member", "add", id, "--name", "Long Id");
	DO("--now", T0, "task", "add", "--title",
	   "Call Dana about the renewal of the contract", "--link", "lead:42",
	   "--assignee", id, "--due", "+1d");
	static const char *const widths[] = { "COLUMNS=100", "COLUMNS=120",
					      "COLUMNS=150" };
	for (int i = 0; i < 3; i++) {
		tu_run r;
		list_at_width(&r, widths[i]);
		cr_expect(strstr(r.out, "  RECORD  ") &&
				  strstr(r.out, "  lead:42  Call Dana about "
						"the renewal"),
			  "%s:\n%s", widths[i], r.out);
		if (i)
			cr_expect(strstr(r.out, "the renewal of the contra"),
				  "%s:\n%s", widths[i], r.out);
		for (const char *p = r.out; *p;) {
			size_t n = strcspn(p, "\n");
			cr_expect_leq(tu_columns(p, n), 100 + 25 * (size_t)i,
				      "%.*s", (int)n, p);
			p += n + (p[n] != 0);
		}
		tu_run_release(&r);
	}
}

/* --tag: tasks with any of the tags given, ANDed with the rest. */
Test(list_cli, filters_by_tag)
{
	ADD("a", "--tag", "vip", "--assignee", "alice");
	ADD("b", "--tag", "q3", "--tag", "vip");
	ADD("c", "--tag", "q3", "--status", "completed");
	ADD("d");
	cr_assert_str_eq(LIST("--tag", "vip"), "a b");
	cr_assert_str_eq(LIST("--tag", "q3"), "b");
	cr_assert_str_eq(LIST("--tag", "q3", "--status", "completed"), "c");
	cr_assert_str_eq(LIST("--tag", "vip", "--tag", "q3", "--status",
			      "todo", "--status", "completed"),
			 "a b c");
	cr_assert_str_eq(LIST("--tag", "vip", "--assignee", "alice"), "a");
	cr_assert_str_eq(LIST("--tag", "VIP"), ""); /* tags are exact */
	FAILS(1, "tag", "task", "list", "--tag", "");
}

/* --search: every word of one of the texts, in the title or the notes,
 * in any case and with or without accents. */
Test(list_cli, searches_titles_and_notes)
{
	ADD("Call_Dana_about_the_R\xc3\xa9sum\xc3\xa9", "--assignee", "alice");
	ADD("Renewal", "--notes", "ask DANA for the final quote");
	ADD("Lunch");
	cr_assert_str_eq(LIST("--search", "dana"),
			 "Call_Dana_about_the_R\xc3\xa9sum\xc3\xa9 Renewal");
	cr_assert_str_eq(LIST("--search", "DANA  quote"), "Renewal");
	cr_assert_str_eq(LIST("--search", "resume", "--search", "lunch"),
			 "Call_Dana_about_the_R\xc3\xa9sum\xc3\xa9 Lunch");
	cr_assert_str_eq(LIST("--search", "dana", "--assignee", "alice"),
			 "Call_Dana_about_the_R\xc3\xa9sum\xc3\xa9");
	cr_assert_str_eq(LIST("--search", "nobody"), "");
	FAILS(1, "search", "task", "list", "--search", " ");
	FAILS(1, "search", "task", "list", "--search", "a\x01");
}

Test(list_cli, filters_by_due_in_the_zone)
{
	ADD("late_sunday_utc", "--due", "2026-03-01T23:30:00Z");
	ADD("monday", "--due", "2026-03-02T12:00:00Z");
	ADD("past", "--due", "2026-02-20");
	ADD("none");
	cr_assert_str_eq(LIST("--due", "today"), "monday");
	/* In Berlin, 23:30 UTC on Sunday is already Monday. */
	cr_assert_str_eq(LIST("--due", "today", "--tz", "Europe/Berlin"),
			 "late_sunday_utc monday");
	cr_assert_str_eq(LIST("--due", "overdue"), "past late_sunday_utc");
	cr_assert_str_eq(LIST("--due", "none"), "none");
	cr_assert_str_eq(LIST("--due", "week"), "monday");
	cr_assert_str_eq(LIST("--due", "2026-03-01..2026-03-02"),
			 "late_sunday_utc");
	cr_assert_str_eq(LIST("--due", "-11d..+1d"),
			 "past late_sunday_utc monday");
	/* repeated: one of them */
	cr_assert_str_eq(LIST("--due", "overdue", "--due", "today"),
			 "past late_sunday_utc monday");
	cr_assert_str_eq(LIST("--due", "none", "--due", "2026-02-21.."),
			 "late_sunday_utc monday none");
	cr_assert_str_eq(LIST("--due", "none", "--due", "..2026-02-21"),
			 "past none");
	/* newest first within the windows (0.3.28: read from the windows'
	 * due ranges, not by a walk past the rest) */
	cr_assert_str_eq(LIST("--due", "-11d..+1d", "--sort", "created"),
			 "past monday late_sunday_utc");
	cr_assert_str_eq(LIST("--due", "none", "--due", "overdue", "--sort",
			      "updated"),
			 "none past late_sunday_utc");
	cr_assert_str_eq(LIST("--due", "2026-03-05..", "--sort", "created"),
			 "");
}

Test(list_cli, sorts_by_due_created_and_updated)
{
	DO("--now", "2026-03-02T09:00:00Z", "task", "add", "--title", "a",
	   "--link", "lead:1", "--due", "2026-03-05");
	DO("--now", "2026-03-02T09:01:00Z", "task", "add", "--title", "b",
	   "--link", "lead:1");
	DO("--now", "2026-03-02T09:02:00Z", "task", "add", "--title", "c",
	   "--link", "lead:1", "--due", "2026-03-04");
	cr_assert_str_eq(LIST(NULL), "c a b");
	cr_assert_str_eq(LIST("--sort", "due"), "c a b");
	cr_assert_str_eq(LIST("--sort", "created"), "c b a");
	tu_run r;
	OK(&r, "--now", "2026-03-02T09:03:00Z", "task", "list");
	const char *a_id = tu_str(json_array_get(json_object_get(r.json,
								  "items"),
						 1),
				  "id");
	char id[40];
	snprintf(id, sizeof id, "%s", a_id);
	tu_run_release(&r);
	DO("--now", "2026-03-02T09:04:00Z", "task", "tag", id, "hot");
	cr_assert_str_eq(LIST("--sort", "updated"), "a c b");
}

Test(list_cli, pages_through_everything_with_the_cursor)
{
	char cursor[128] = "";
	char all[512] = "";
	for (int i = 0; i < 7; i++) {
		char title[8], due[32];
		snprintf(title, sizeof title, "t%d", i);
		snprintf(due, sizeof due, "2026-03-0%dT10:00:00Z", 3 + i / 2);
		ADD(title, "--due", due);
	}
	for (int page = 0;; page++) {
		tu_run r;
		cr_assert_lt(page, 10);
		if (cursor[0])
			OK(&r, "task", "list", "--limit", "3", "--cursor",
			   cursor);
		else
			OK(&r, "task", "list", "--limit", "3");
		size_t o = strlen(all);
		snprintf(all + o, sizeof all - o, "%s%s", o ? " " : "",
			 titles(&r));
		const char *c = next_cursor(&r);
		snprintf(cursor, sizeof cursor, "%s", c ? c : "");
		tu_run_release(&r);
		if (!cursor[0])
			break;
	}
	cr_assert_str_eq(all, "t0 t1 t2 t3 t4 t5 t6");
}

Test(list_cli, rejects_bad_arguments_naming_the_field)
{
	ADD("a");
	FAILS(1, "status", "task", "list", "--status", "done");
	FAILS(1, "type", "task", "list", "--type", "visit");
	FAILS(1, "entity_type", "task", "list", "--entity-type", "person");
	FAILS(1, "record", "task", "list", "--record", "lead");
	FAILS(1, "assignee", "task", "list", "--assignee", "ghost");
	FAILS(1, "due", "task", "list", "--due", "soon");
	FAILS(1, "due", "task", "list", "--due", "+2d..+1d");
	FAILS(1, "automation", "task", "list", "--automation", "all");
	FAILS(1, "sort", "task", "list", "--sort", "title");
	FAILS(1, "limit", "task", "list", "--limit", "0");
	FAILS(1, "limit", "task", "list", "--limit", "ten");
	FAILS(1, "limit", "task", "list", "--limit", "1001");
	FAILS(1, "cursor", "task", "list", "--cursor", "nonsense");
	FAILS(1, "cursor", "task", "list", "--cursor", "");
	FAILS(1, "cursor", "timeline", "lead:1", "--cursor", "");
	/* the form of an id is an argument: checked before the actor */
	FAILS(1, "assignee", "task", "list", "--assignee", "BAD", "--as",
	      "carol");
	FAILS(1, "as", "task", "list", "--as", "BAD");
	FAILS(1, "as", "task", "list", "--as", "");
	FAILS(1, "--record", "task", "list", "--record", "lead:1", "--record",
	      "lead:2");
	FAILS(1, "--title", "task", "list", "--title", "x");
	FAILS(4, "as", "task", "list", "--as", "carol");
	FAILS(4, "as", "task", "list", "--as", "ghost");
}

Test(list_cli, refuses_a_cursor_of_another_sort)
{
	tu_run r;
	ADD("a");
	ADD("b");
	OK(&r, "task", "list", "--limit", "1");
	char c[128];
	snprintf(c, sizeof c, "%s", next_cursor(&r));
	tu_run_release(&r);
	cr_assert_str_eq(LIST("--cursor", c), "b");
	FAILS(1, "cursor", "task", "list", "--cursor", c, "--sort", "created");
	FAILS(1, "cursor", "upcoming", "--cursor", c);
}

/* ---- people's output ---------------------------------------------------- */

Test(list_cli, prints_aligned_columns_for_people)
{
	tu_run r;
	const char *long_title =
		"A very long title that goes on and on, well past the width "
		"of any terminal anyone still uses — ünïcödé included";
	ADD(long_title, "--type", "follow_up", "--assignee", "alice",
	    "--due", "2026-03-03T10:30:00Z", "--status", "in_progress");
	ADD("short", "--type", "call");

	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(tu_check_width(r.out), 3, "%s", r.out);
	/* Header, then one line per task; columns start where the header's
	 * do. */
	char *l1 = strchr(r.out, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
	cr_assert(!strncmp(r.out, "ID ", 3), "%s", r.out);
	const char *cols[] = { "DUE", "STATUS", "TYPE", "ASSIGNEE", "TITLE" };
	const char *vals1[] = { "2026-03-03 10:30", "In Progress",
				"Follow Up", "alice", "A very long" };
	const char *vals2[] = { "-", "To Do", "Call", "-", "short" };
	for (int i = 0; i < 5; i++) {
		const char *h = strstr(r.out, cols[i]);
		cr_assert(h && h < l1, "no column %s: %s", cols[i], r.out);
		size_t at = (size_t)(h - r.out);
		cr_assert(!strncmp(l1 + at, vals1[i], strlen(vals1[i])),
			  "column %s of line 1: %s", cols[i], l1);
		cr_assert(!strncmp(l2 + at, vals2[i], strlen(vals2[i])),
			  "column %s of line 2: %s", cols[i], l2);
	}
	/* The long title is cut with an ellipsis. */
	char *nl = strchr(l1, '\n');
	cr_assert(nl - l1 > 3 && !strncmp(nl - 3, "\xe2\x80\xa6", 3),
		  "no ellipsis: %s", l1);
	/* The id column holds the last 8 characters of the id. */
	tu_run j;
	OK(&j, "--now", T0, "task", "list");
	const char *id = tu_str(json_array_get(json_object_get(j.json, "items"),
					       0),
				"id");
	cr_assert(!strncmp(l1, id + strlen(id) - 8, 8) && l1[8] == ' ',
		  "%s / %s", l1, id);
	tu_run_release(&j);
	tu_run_release(&r);
}

/* Wide characters take two columns: titles of CJK text and emoji are cut
 * to fit, and every column still starts where its header does. */
/* In each row of a task table, the title (found by its first bytes)
 * starts at the column of the header's TITLE. */
static void expect_titles_aligned(const char *out, const char *const *firsts,
				  int n)
{
	const char *title = strstr(out, "TITLE");
	cr_assert_not_null(title, "%s", out);
	size_t at = tu_columns(out, (size_t)(title - out));
	for (int i = 0; i < n; i++) {
		const char *t = strstr(out, firsts[i]);
		cr_assert_not_null(t, "%s", out);
		const char *bol = t;
		while (bol > out && bol[-1] != '\n')
			bol--;
		cr_assert_eq(tu_columns(bol, (size_t)(t - bol)), at,
			     "row %d: %s", i, out);
	}
}

/* An assignee column is at most 12 wide: a longer id is cut with an
 * ellipsis, and the title keeps the room that is left of 80 columns. */
Test(list_cli, a_long_assignee_is_cut_to_its_column)
{
	tu_run r;
	DO("member", "add", "abcdefghijklmnop", "--name", "Long");
	ADD("t", "--assignee", "abcdefghijklmnop");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "abcdefghijk\xe2\x80\xa6  t\n"), "%s",
		  r.out);
	const char *title = strstr(r.out, "TITLE");
	cr_assert_not_null(title);
	cr_assert_eq(tu_columns(r.out, (size_t)(title - r.out)), 56, "%s",
		     r.out);
	tu_run_release(&r);
}

/* A time whose wall clock in the zone would pass year 9999 is written
 * in UTC, and says so under a heading that names the zone (a
 * walk-through: the UTC time stood unmarked under "DUE (Kiritimati)");
 * a zone that is UTC by another name adds nothing. */
Test(list_cli, a_time_past_year_9999_on_the_wall_says_utc)
{
	tu_run r;
	ADD("late", "--due", "9999-12-31T12:00:00Z");
	ADD("early", "--due", "9999-12-30T12:00:00Z");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz",
				 "Pacific/Kiritimati", "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "DUE (Kiritimati)"), "%s", r.out);
	cr_assert(strstr(r.out, "  9999-12-31 02:00      To Do"), "%s", r.out);
	cr_assert(strstr(r.out, "  9999-12-31 12:00 UTC  To Do"), "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz", "Etc/UTC", "task",
				 "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "  9999-12-31 12:00  To Do"), "%s", r.out);
	cr_assert_null(strstr(r.out, " UTC "), "%s", r.out);
	tu_run_release(&r);
}

Test(list_cli, wide_characters_keep_the_columns_aligned)
{
	tu_run r;
	ADD("\xe4\xb8\xad\xe6\x96\x87\xe6\xa0\x87\xe9\xa2\x98 "
	    "\xe5\xbe\x88\xe9\x95\xbf\xe5\xbe\x88\xe9\x95\xbf"
	    "\xe5\xbe\x88\xe9\x95\xbf\xe5\xbe\x88\xe9\x95\xbf"
	    "\xe5\xbe\x88\xe9\x95\xbf\xe5\xbe\x88\xe9\x95\xbf"
	    "\xe5\xbe\x88\xe9\x95\xbf\xe5\xbe\x88\xe9\x95\xbf",
	    "--assignee", "alice");
	ADD("\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e"
	    "\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e"
	    "\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e"
	    "\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e"
	    "\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e\xf0\x9f\x93\x9e",
	    "--assignee", "alice");
	ADD("plain");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(tu_check_width(r.out), 4, "%s", r.out);
	const char *firsts[] = { "\xe4\xb8\xad", "\xf0\x9f\x93\x9e",
				 "plain" };
	expect_titles_aligned(r.out, firsts, 3);
	/* The wide ones were cut: they end in an ellipsis. */
	cr_assert(strstr(r.out, "\xe2\x80\xa6\n"), "%s", r.out);
	tu_run_release(&r);
}

/* Titles of "x", then 0 to 2 "y"s (which move the cut along), then 40
 * times one of the units in[] (at most 11 bytes), listed in a table:
 * each row's title must be x, y's, whole units as tables show them
 * (shown[]), then the ellipsis. */
static void cut_units_whole(const char *const *in, const char *const *shown,
			    int n)
{
	char title[512];
	for (int u = 0; u < n; u++)
		for (int pad = 0; pad < 3; pad++) {
			snprintf(title, sizeof title, "x%.*s", pad, "yy");
			for (int i = 0; i < 40; i++)
				strcat(title, in[u]);
			ADD(title);
		}
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	int rows = 0;
	for (const char *p = strstr(r.out, "  x"); p; p = strstr(p, "  x")) {
		const char *row = p += 2;
		rows++;
		while (*p == 'x' || *p == 'y')
			p++;
		int u = 0;
		while (u < n && strncmp(p, shown[u], strlen(shown[u])))
			u++;
		cr_assert_lt(u, n, "no unit: %s", row);
		while (!strncmp(p, shown[u], strlen(shown[u])))
			p += strlen(shown[u]);
		cr_assert(!strncmp(p, "\xe2\x80\xa6\n", 4),
			  "cut inside a unit: %s", row);
	}
	cr_assert_eq(rows, 3 * n, "%s", r.out);
	tu_run_release(&r);
}

/* A title cut to fit its column is cut between the characters a
 * terminal would act on, never inside one's escapes ("\xe2\x8" would
 * read as other bytes, "\xe2\x80" as half a character). */
Test(list_cli, a_cut_title_keeps_its_escapes_whole)
{
	cut_units_whole((const char *const[]){ "\xe2\x80\xae" },
			(const char *const[]){ "\\xe2\\x80\\xae" }, 1);
}

/* A title cut to fit its column is cut between characters as a reader
 * sees them: a flag's two regional indicators, a letter and its accent,
 * an emoji sequence joined by U+200D stay together or go together (a
 * walk-through saw a lone half of a flag before the ellipsis). */
Test(list_cli, a_cut_title_keeps_its_graphemes_whole)
{
	static const char *const unit[] = {
		"\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa", /* a flag: D E */
		"e\xcc\x81",                         /* e and U+0301 */
		"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", /* woman, ZWJ, laptop */
	};
	cut_units_whole(unit, unit, 3);
}

/* A title may hold a bidirectional override (U+202E), which a terminal
 * would act on, reversing the rest of the line: tables show it escaped,
 * as errors and `task show` do, and stay aligned; JSON keeps it. */
Test(list_cli, bidirectional_overrides_are_escaped_in_tables)
{
	tu_run r;
	ADD("abc\xe2\x80\xae" "fed", "--assignee", "alice");
	ADD("plain", "--assignee", "alice");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "\xe2\x80\xae"), "%s", r.out);
	cr_assert(strstr(r.out, "abc\\xe2\\x80\\xaefed"), "%s", r.out);
	const char *firsts[] = { "abc\\xe2", "plain" };
	expect_titles_aligned(r.out, firsts, 2);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "timeline", "lead:1",
				 NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "\xe2\x80\xae"), "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli(&r, ws, "--now", T0, "task", "list", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\xe2\x80\xae"), "JSON keeps the text: %s",
		  r.out);
	tu_run_release(&r);
}

Test(list_cli, tells_people_how_to_get_the_next_page)
{
	tu_run r;
	ADD("a");
	ADD("b");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list",
				 "--limit", "1", NULL),
		     0);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "--cursor l"), "%s", r.out);
	tu_check_width(r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_null(strstr(r.out, "--cursor"), "%s", r.out);
	tu_run_release(&r);
}

/* ---- upcoming --------------------------------------------------------- */

Test(upcoming_cli, lists_the_members_next_days)
{
	tu_run r;
	ADD("soon", "--assignee", "alice", "--due", "+1h");
	ADD("later", "--assignee", "alice", "--due", "+8d");
	ADD("past", "--assignee", "alice", "--due", "-1h");
	ADD("bobs", "--assignee", "bob", "--due", "+2h");
	ADD("mine", "--assignee", "admin", "--due", "+3h");
	OK(&r, "--now", T0, "upcoming", "--as", "alice");
	cr_assert_str_eq(titles(&r), "soon");
	cr_assert_null(next_cursor(&r));
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--as", "alice", "--days", "9");
	cr_assert_str_eq(titles(&r), "soon later");
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming");
	cr_assert_str_eq(titles(&r), "mine");
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--member", "bob");
	cr_assert_str_eq(titles(&r), "bobs");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "upcoming", "--member",
				 "alice", NULL),
		     0);
	cr_assert_eq(tu_check_width(r.out), 2, "%s", r.out);
	cr_assert(strstr(r.out, "soon"));
	tu_run_release(&r);
}

/* `unassigned`: the tasks no one holds, due soon; any member may see
 * them, as `task list --assignee unassigned` shows them. */
Test(upcoming_cli, unassigned_lists_the_tasks_no_one_holds)
{
	tu_run r;
	ADD("free soon", "--due", "+1h");
	ADD("free later", "--due", "+9d");
	ADD("held", "--assignee", "alice", "--due", "+2h");
	OK(&r, "--now", T0, "upcoming", "--member", "unassigned", "--as",
	   "alice");
	cr_assert_str_eq(titles(&r), "free soon");
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--member", "unassigned", "--days",
	   "10");
	cr_assert_str_eq(titles(&r), "free soon free later");
	tu_run_release(&r);
}

Test(upcoming_cli, pages_with_the_cursor)
{
	tu_run r;
	ADD("a", "--assignee", "alice", "--due", "+1h");
	ADD("b", "--assignee", "alice", "--due", "+2h");
	ADD("c", "--assignee", "alice", "--due", "+3h");
	OK(&r, "--now", T0, "upcoming", "--member", "alice", "--limit", "2");
	cr_assert_str_eq(titles(&r), "a b");
	char c[128];
	snprintf(c, sizeof c, "%s", next_cursor(&r));
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--member", "alice", "--limit", "2",
	   "--cursor", c);
	cr_assert_str_eq(titles(&r), "c");
	cr_assert_null(next_cursor(&r));
	tu_run_release(&r);
}

/* Without --days the window is [now, now + 7 days): a task due one
 * second before its end is in it, one due at its end is not; --days 7
 * says the same and --days 8 takes both (a mutation audit: the default
 * window's edge was not tried). */
Test(upcoming_cli, the_default_window_is_seven_days)
{
	tu_run r;
	ADD("edge", "--assignee", "alice", "--due", "2026-03-09T08:59:59Z");
	ADD("out", "--assignee", "alice", "--due", "2026-03-09T09:00:00Z");
	ADD("now", "--assignee", "alice", "--due", T0);
	OK(&r, "--now", T0, "upcoming", "--member", "alice");
	cr_assert_str_eq(titles(&r), "now edge");
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--member", "alice", "--days", "7");
	cr_assert_str_eq(titles(&r), "now edge");
	tu_run_release(&r);
	OK(&r, "--now", T0, "upcoming", "--member", "alice", "--days", "8");
	cr_assert_str_eq(titles(&r), "now edge out");
	tu_run_release(&r);
}

Test(upcoming_cli, is_any_members_for_every_member)
{
	/* as task list --assignee bob (before 0.3.51: exit 4, not admin) */
	tu_run r;
	ADD("bobs", "--assignee", "bob", "--due", "+1d");
	OK(&r, "--now", T0, "upcoming", "--as", "alice", "--member", "bob");
	cr_assert_str_eq(titles(&r), "bobs");
	tu_run_release(&r);
	FAILS(2, "member", "upcoming", "--member", "ghost");
	FAILS(2, "member", "upcoming", "--as", "alice", "--member", "ghost");
	/* the system user never holds a task (as for task list) */
	FAILS(1, "member", "upcoming", "--member", "parsa-assistant");
	FAILS(1, "assignee", "task", "list", "--assignee", "parsa-assistant");
	FAILS(1, "days", "upcoming", "--days", "0");
	FAILS(1, "days", "upcoming", "--days", "-1");
	FAILS(1, "days", "upcoming", "--days", "100000");
	FAILS(1, "days", "upcoming", "--days", "99999999999999999999");
	FAILS(1, "cursor", "upcoming", "--cursor", "u00");
	FAILS(1, "--status", "upcoming", "--status", "todo");
}

/* The system user is known without a look-up: naming it is an argument
 * error (exit 1) even when the acting member would be refused (4) or the
 * task does not exist (2), as for every other bad argument. */
Test(upcoming_cli, the_system_user_is_an_argument_error_before_look_ups)
{
	long long before = tu_stat(ws, "events");
	DO("member", "add", "nocrm", "--name", "No CRM", "--no-crm-access");
	FAILS(1, "member", "--as", "nocrm", "upcoming", "--member",
	      "parsa-assistant");
	FAILS(1, "member", "--as", "parsa-assistant", "upcoming");
	FAILS(1, "assignee", "--as", "nocrm", "task", "list", "--assignee",
	      "parsa-assistant");
	FAILS(1, "assignee", "--as", "parsa-assistant", "task", "list",
	      "--assignee", "me");
	FAILS(1, "assignee", "--as", "nocrm", "task", "add", "--title", "x",
	      "--link", "lead:1", "--assignee", "parsa-assistant");
	FAILS(1, "assignee", "task", "assign",
	      "01890a5d-ac96-774b-bcce-b302099a8057", "parsa-assistant");
	/* the same commands with good arguments: the look-ups answer */
	FAILS(4, "as", "--as", "nocrm", "upcoming");
	FAILS(2, "id", "task", "assign",
	      "01890a5d-ac96-774b-bcce-b302099a8057", "alice");
	cr_assert_eq(tu_stat(ws, "events"), before + 1);
}

/* ---- times for people, in the workspace's zone ------------------------ */

static void setup_berlin(void)
{
	ws = tu_tmpdir();
	DO("--now", T0, "init", "--tz", "Europe/Berlin", "--admin", "ana");
	DO("--now", T0, "member", "add", "bob", "--name", "Bob");
}

TestSuite(zone_cli, .init = setup_berlin, .fini = teardown);

/* The line of out that holds s (static buffer), or "". */
static const char *line_with(const char *out, const char *s)
{
	static char buf[512];
	const char *at = strstr(out, s), *bol, *eol;

	if (!at)
		return "";
	for (bol = at; bol > out && bol[-1] != '\n'; bol--)
		;
	eol = strchr(at, '\n');
	snprintf(buf, sizeof buf, "%.*s",
		 (int)(eol ? eol - bol : (ptrdiff_t)strlen(bol)), bol);
	return buf;
}

Test(zone_cli, a_date_and_time_without_offset_is_the_zones_wall_clock)
{
	tu_run r;

	static const struct {
		const char *tz, *due, *want;
	} cases[] = {
		{ NULL, "2026-03-03 10:30", "2026-03-03T09:30:00.000Z" },
		/* summer time, and 'T' for the space */
		{ NULL, "2026-07-01T10:30", "2026-07-01T08:30:00.000Z" },
		/* --tz reads it in another zone */
		{ "America/New_York", "2026-03-03 10:30",
		  "2026-03-03T15:30:00.000Z" },
		/* an offset still wins */
		{ NULL, "2026-03-03T10:30:00Z", "2026-03-03T10:30:00.000Z" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* without --tz: the workspace's zone */
		const char *argv[] = { "task", "add", "--title", "t", "--link",
				       "lead:1", "--due", cases[i].due,
				       "--tz", cases[i].tz, NULL };
		if (!cases[i].tz)
			argv[8] = NULL;
		cr_assert_eq(tu_cli_argv(&r, ws, argv), 0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert_str_eq(tu_str(r.json, "due_at"), cases[i].want, "%s",
				 cases[i].due);
		tu_run_release(&r);
	}
	/* the seconds are required with an offset, as RFC 3339 says */
	cr_assert_eq(tu_cli(&r, ws, "--now", T0, "task", "add", "--title", "x",
			    "--link", "lead:1", "--due", "2026-03-03T10:30Z",
			    NULL),
		     0);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "tasklog: due: time '2026-03-03T10:30Z' needs "
			    "its seconds before Z"),
		  "%s", r.err);
	tu_run_release(&r);
}

Test(zone_cli, tables_show_the_zones_wall_clock_and_name_it)
{
	tu_run r;

	DO("--now", T0, "task", "add", "--title", "call", "--link", "lead:7",
	   "--due", "2026-03-03T09:30:00Z", "--assignee", "bob");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	tu_check_width(r.out);
	cr_assert(strstr(line_with(r.out, "STATUS"), "DUE (Europe/Berlin)"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "call"), "2026-03-03 10:30"), "%s",
		  r.out);
	tu_run_release(&r);

	/* --tz for one call */
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz", "UTC", "task",
				 "list", NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "STATUS"), "DUE (UTC)"), "%s",
		  r.out);
	cr_assert(strstr(line_with(r.out, "call"), "2026-03-03 09:30"), "%s",
		  r.out);
	tu_run_release(&r);

	/* a long zone name: its last part, and the table still fits */
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz",
				 "America/Argentina/Buenos_Aires", "task",
				 "list", NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "STATUS"), "DUE (Buenos_Aires)"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "call"), "2026-03-03 06:30"), "%s",
		  r.out);
	tu_check_width(r.out);
	tu_run_release(&r);

	/* the timeline's history and the notifications: created at T0,
	 * 10:00 in Berlin */
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "timeline", "lead:7",
				 NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "ACTOR"), "AT (Europe/Berlin)"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "Created"), "2026-03-02 10:00"),
		  "%s", r.out);
	tu_check_width(r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--as", "bob",
				 "notifications", NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "STATE"), "AT (Europe/Berlin)"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "new"), "2026-03-02 10:00"), "%s",
		  r.out);
	tu_run_release(&r);
}

Test(zone_cli, a_task_and_the_log_show_full_times_with_their_offset)
{
	tu_run r;

	char *id = ADD_ID("call", "lead:7", "--due", "2026-07-01T09:30:00Z");

	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "show", id,
				 "--history", NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "Due"),
			 "2026-07-01T11:30:00.000+02:00"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "Created"),
			 "2026-03-02T10:00:00.000+01:00 by ana"),
		  "%s", r.out);
	/* the history's table: to the minute under the zone's heading */
	cr_assert(strstr(line_with(r.out, "ACTOR"), "AT (Europe/Berlin)"),
		  "%s", r.out);
	cr_assert(strstr(line_with(r.out, "created: "), "2026-03-02 10:00"),
		  "%s", r.out);
	tu_run_release(&r);
	/* JSON stays UTC */
	OK(&r, "--now", T0, "task", "show", id);
	cr_assert_str_eq(tu_str(r.json, "due_at"), "2026-07-01T09:30:00.000Z");
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "log", NULL), 0); /* Berlin */
	cr_assert(strstr(line_with(r.out, "task.created"),
			 "2026-03-02T10:00:00.000+01:00"),
		  "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--tz", "UTC", "log", NULL), 0);
	cr_assert(strstr(line_with(r.out, "task.created"),
			 "2026-03-02T09:00:00.000Z"),
		  "%s", r.out);
	tu_run_release(&r);
	free(id);
}

/* ---- the ids the tables print ----------------------------------------- */

/* The 8 characters a table prints for a task work in every command that
 * names one. */
Test(list_cli, the_short_id_of_a_table_names_the_task)
{
	tu_run r;
	char *id = ADD_ID("call", "lead:1");
	const char *s = id + 28;

	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list", NULL),
		     0);
	cr_assert(!strncmp(strchr(r.out, '\n') + 1, s, 8), "%s", r.out);
	tu_run_release(&r);

	OK(&r, "--now", T0, "task", "assign", s, "alice");
	cr_assert_str_eq(tu_str(r.json, "id"), id);
	cr_assert_str_eq(tu_str(r.json, "assignee"), "alice");
	tu_run_release(&r);
	OK(&r, "--now", T0, "task", "tag", s, "vip");
	tu_run_release(&r);
	OK(&r, "--now", T0, "task", "update", s, "--title", "call back");
	tu_run_release(&r);
	OK(&r, "--now", T0, "task", "complete", s);
	cr_assert_str_eq(tu_str(r.json, "status"), "completed");
	tu_run_release(&r);
	OK(&r, "--now", T0, "task", "show", s, "--history");
	cr_assert_str_eq(tu_str(json_object_get(r.json, "task"), "title"),
			 "call back");
	cr_assert_eq(json_array_size(json_object_get(r.json, "events")), 5);
	tu_run_release(&r);
	OK(&r, "log", "--stream", s);
	cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 5);
	tu_run_release(&r);

	/* no such task: exit 2, nothing appended */
	OK(&r, "stats");
	json_int_t events = json_integer_value(json_object_get(r.json,
							       "events"));
	tu_run_release(&r);
	cr_assert_eq(tu_cli(&r, ws, "--now", T0, "task", "complete",
			    "0123456789ab", NULL),
		     0);
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert_str_eq(r.err, "tasklog: id: no task id is or ends in "
				"'0123456789ab'\n");
	tu_run_release(&r);
	/* too short to tell: exit 1 */
	cr_assert_eq(tu_cli(&r, ws, "--now", T0, "task", "delete", "abc",
			    NULL),
		     0);
	cr_assert_eq(r.status, 1, "%s", r.err);
	tu_run_release(&r);
	OK(&r, "stats");
	cr_assert_eq(json_integer_value(json_object_get(r.json, "events")),
		     events);
	tu_run_release(&r);
	free(id);
}

/* The widest columns with zone names of 15 and 16 characters still fit 80
 * columns: a long name is shown by its last part. */
Test(zone_cli, tables_fit_80_columns_with_long_zone_names)
{
	tu_run r;
	DO("--now", T0, "member", "add", "abcdefghijklmnop", "--name", "X");
	DO("--now", T0, "task", "add", "--title",
	   "A rather long title that goes on and on", "--link", "contact:c1",
	   "--type", "follow_up", "--status", "in_progress", "--assignee",
	   "abcdefghijklmnop", "--due", "2026-03-03T10:00:00Z");
	static const char *const zones[] = {
		"America/New_York", "Australia/Sydney", "America/Chicago",
		"Europe/Brussels", "America/Argentina/ComodRivadavia",
	};
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz", zones[i],
					 "task", "list", NULL),
			     0);
		cr_assert_eq(r.status, 0, "%s", r.err);
		tu_check_width(r.out);
		tu_run_release(&r);
		cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz", zones[i],
					 "timeline", "contact:c1", NULL),
			     0);
		tu_check_width(r.out);
		tu_run_release(&r);
	}
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "--tz",
				 "America/New_York", "task", "list", NULL),
		     0);
	cr_assert(strstr(r.out, "DUE (New_York)"), "%s", r.out);
	tu_run_release(&r);
}

/* A due time whose wall clock would be in the year 10000 prints in UTC. */
Test(zone_cli, a_wall_clock_past_9999_prints_in_utc)
{
	tu_run r;
	char *id = ADD_ID("far", "lead:9", "--due", "9999-12-31T23:30:00Z");
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "show", id,
				 NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "Due"), "9999-12-31T23:30:00.000Z"),
		  "%s", r.out);
	tu_run_release(&r);
	cr_assert_eq(tu_cli_text(&r, ws, "--now", T0, "task", "list",
				 "--record", "lead:9", NULL),
		     0);
	cr_assert(strstr(line_with(r.out, "far"), "9999-12-31 23:30"), "%s",
		  r.out);
	tu_run_release(&r);
	free(id);
}

/* --as-of with the end of an id: the task as it was then. */
Test(list_cli, the_short_id_works_with_as_of)
{
	tu_run r;
	char *id = ADD_ID("first", "lead:1");
	DO("--now", "2026-03-02T10:00:00Z", "task", "update", id + 28,
	   "--title", "second");
	OK(&r, "task", "show", id + 28, "--as-of", "2026-03-02T09:30:00Z");
	cr_assert_str_eq(tu_str(r.json, "title"), "first");
	tu_run_release(&r);
	OK(&r, "task", "show", id + 24, "--as-of", "2026-03-02T10:30:00Z");
	cr_assert_str_eq(tu_str(r.json, "title"), "second");
	tu_run_release(&r);
	/* a leading dash is an option, never the end of an id */
	cr_assert_eq(tu_cli(&r, ws, "task", "show", "--", id + 23, NULL), 0);
	cr_assert_eq(r.status, 1, "%s", r.err);
	tu_run_release(&r);
	free(id);
}
