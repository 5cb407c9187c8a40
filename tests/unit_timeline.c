/*
 * unit_timeline.c - Criterion tests of the `timeline` view and the
 * tl_timeline query: one entry per task event, newest first, with time,
 * actor, task and a summary per kind of event; a deleted task's deletion;
 * the record's upcoming tasks in front of the first page; paging; bad
 * arguments; a rebuild giving the same bytes as appending did; verify
 * catching a tampered view.
 *
 * Each test has its own workspace (viewtest.h) opened with every view.
 */
#include "viewtest.h"
#include "tasklog_view.h"

TestSuite(timeline, .init = vt_setup, .fini = vt_teardown);

/* One page of a timeline. */
typedef struct page {
	vt_docs up, items;
	char next[TL_CURSOR_MAX];
} page;

static int up_fn(void *arg, const uint8_t *doc, size_t len)
{
	return vt_collect(&((page *)arg)->up, doc, len);
}

static int item_fn(void *arg, const uint8_t *doc, size_t len)
{
	return vt_collect(&((page *)arg)->items, doc, len);
}

static int timeline_at(int64_t now, const char *record, size_t limit,
		       const char *cursor, page *p, tl_err *err)
{
	tl_ctx ctx = { .now_ms = now };
	memset(err, 0, sizeof *err);
	return tl_timeline(vt_db, &ctx, tl_s(record), limit, tl_s(cursor),
			   up_fn, item_fn, p, p->next, err);
}

static page *timeline(const char *record, size_t limit, const char *cursor)
{
	page *p = calloc(1, sizeof *p);
	tl_err err;
	int rc = timeline_at(VT_T0 + VT_DAY, record, limit, cursor, p, &err);
	cr_assert_eq(rc, 0, "tl_timeline(%s): %d %s: %s", record, rc,
		     err.field, err.message);
	return p;
}

static void page_free(page *p)
{
	vt_docs_free(&p->up);
	vt_docs_free(&p->items);
	free(p);
}

static void expect_invalid(const char *record, size_t limit,
			   const char *cursor, const char *field)
{
	page *p = calloc(1, sizeof *p);
	tl_err err;
	int rc = timeline_at(VT_T0, record, limit, cursor, p, &err);
	cr_assert_eq(rc, TL_EINVALID, "%s: %d, wanted invalid", record, rc);
	cr_assert_str_eq(err.field, field, "%s: field %s", record, err.field);
	cr_assert_eq(p->items.n + p->up.n, 0);
	page_free(p);
}

Test(timeline, lists_every_event_newest_first_with_a_summary_per_kind)
{
	int64_t t = VT_T0;
	tl_result res;
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Call Bob"),
		       .type = tl_s("call"), .link = tl_s("lead:42"),
		       .due = tl_s("2026-12-01T10:00:00Z"),
		       .assignee = tl_s("alice") };
	vt_exec(NULL, t + 1 * VT_MIN, &add, &res);
	vt_doc task = { res.doc, res.doc_len };
	char id[37];
	snprintf(id, sizeof id, "%s", vt_str(&task, "id"));
	tl_result_release(&res);

	tl_cmd up1 = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		       .title = tl_s("Call Robert"),
		       .due = tl_s("2026-12-02T10:00:30.250Z") };
	vt_exec(NULL, t + 2 * VT_MIN, &up1, NULL);
	tl_cmd up2 = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		       .notes = tl_s("ask about pricing") };
	vt_exec(NULL, t + 3 * VT_MIN, &up2, NULL);
	tl_cmd up3 = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		       .type = tl_s("email"), .no_due = true };
	vt_exec(NULL, t + 4 * VT_MIN, &up3, NULL);
	vt_assign("alice", t + 5 * VT_MIN, id, "bob");
	vt_assign(NULL, t + 6 * VT_MIN, id, NULL);
	vt_assign(NULL, t + 7 * VT_MIN, id, "alice");
	vt_status(NULL, t + 8 * VT_MIN, id, "in_progress");
	vt_simple(NULL, t + 9 * VT_MIN, TL_TASK_COMPLETE, id);
	vt_status(NULL, t + 10 * VT_MIN, id, "cancelled");
	vt_status(NULL, t + 11 * VT_MIN, id, "todo");
	vt_status(NULL, t + 12 * VT_MIN, id, "cancelled");
	vt_tag(NULL, t + 13 * VT_MIN, TL_TASK_TAG, id, "vip");
	vt_tag(NULL, t + 14 * VT_MIN, TL_TASK_UNTAG, id, "vip");
	vt_simple("bob", t + 15 * VT_MIN, TL_TASK_DELETE, id);

	static const struct {
		const char *event, *actor, *summary;
	} want[] = {
		{ "task.created", "admin",
		  "Created call \"Call Bob\" due 2026-12-01 10:00 UTC, "
		  "assigned to alice" },
		{ "task.updated", "admin",
		  "Changed title from \"Call Bob\" to \"Call Robert\"; due from "
		  "2026-12-01 10:00 UTC to 2026-12-02 10:00:30 UTC" },
		{ "task.updated", "admin", "Changed notes (added)" },
		{ "task.updated", "admin",
		  "Changed type from call to email; due from "
		  "2026-12-02 10:00:30 UTC to none" },
		{ "task.assigned", "alice", "Assigned to bob (was alice)" },
		{ "task.assigned", "admin", "Unassigned (was bob)" },
		{ "task.assigned", "admin", "Assigned to alice" },
		{ "task.status_changed", "admin",
		  "Status To Do \xe2\x86\x92 In Progress" },
		{ "task.completed", "admin", "Completed" },
		/* from one closed status to another: not a reopening */
		{ "task.status_changed", "admin",
		  "Status Completed \xe2\x86\x92 Cancelled" },
		{ "task.status_changed", "admin", "Reopened (To Do)" },
		{ "task.status_changed", "admin",
		  "Status To Do \xe2\x86\x92 Cancelled" },
		{ "task.tagged", "admin", "Tagged vip" },
		{ "task.untagged", "admin", "Untagged vip" },
		{ "task.deleted", "bob", "Deleted" },
	};
	size_t n = sizeof want / sizeof want[0];

	page *p = timeline("lead:42", 0, NULL);
	cr_assert_eq(p->items.n, n, "%zu items", p->items.n);
	cr_assert_str_eq(p->next, "");
	for (size_t i = 0; i < n; i++) {
		const vt_doc *d = &p->items.d[n - 1 - i]; /* newest first */
		char at[40];
		tl_time_format(t + (int64_t)(i + 1) * VT_MIN, at);
		cr_expect_str_eq(vt_str(d, "event"), want[i].event, "[%zu]", i);
		cr_expect_str_eq(vt_str(d, "summary"), want[i].summary,
				 "[%zu]", i);
		cr_expect_str_eq(vt_str(d, "actor.id"), want[i].actor, "[%zu]",
				 i);
		cr_expect_str_eq(vt_str(d, "actor.kind"), "user");
		cr_expect_str_eq(vt_str(d, "task"), id);
		cr_expect_str_eq(vt_str(d, "at"), at, "[%zu]", i);
		cr_expect_eq(vt_keys(d), 5, "[%zu]: the JSON shape's 5 keys", i);
	}
	/* The deleted task is gone from upcoming, its history stays. */
	cr_expect_eq(p->up.n, 0);
	page_free(p);
	cr_assert_eq(vt_verify(), 0);
}

Test(timeline, shows_only_the_record_s_own_tasks)
{
	vt_add(NULL, VT_T0 + 1, "A", "lead:42", NULL, NULL);
	vt_add(NULL, VT_T0 + 2, "B", "lead:420", NULL, NULL);
	vt_add(NULL, VT_T0 + 3, "C", "contact:42", NULL, NULL);
	vt_add(NULL, VT_T0 + 4, "D", "lead:42", NULL, NULL);

	page *p = timeline("lead:42", 0, NULL);
	cr_assert_eq(p->items.n, 2);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created task \"D\"");
	cr_expect_str_eq(vt_str(&p->items.d[1], "summary"),
			 "Created task \"A\"");
	page_free(p);
	p = timeline("contact:42", 0, NULL);
	cr_assert_eq(p->items.n, 1);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created task \"C\"");
	page_free(p);
	p = timeline("account:42", 0, NULL);
	cr_expect_eq(p->items.n + p->up.n, 0);
	cr_expect_str_eq(p->next, "");
	page_free(p);
}

/* Record texts of 32 bytes and more are stored as msgpack str 8 in an
 * entry (shorter ones as fixstr): a UUID-form id, as CRMs use, and the
 * longest id allowed, whose hash is shared by no other record here. */
Test(timeline, reads_records_whose_ids_are_long)
{
	char big[12 + 1 + 128 + 1];
	memset(big, 0, sizeof big);
	memcpy(big, "opportunity:", 12);
	memset(big + 12, 'x', 128);
	const char *uuid = "contact:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

	vt_add(NULL, VT_T0 + 1, "A", uuid, "2026-03-05T10:00:00Z", NULL);
	vt_add(NULL, VT_T0 + 2, "B", big, NULL, NULL);
	vt_add(NULL, VT_T0 + 3, "C", uuid, NULL, NULL);
	vt_add(NULL, VT_T0 + 4, "D", "contact:0193a1b2", NULL, NULL);

	page *p = timeline(uuid, 0, NULL);
	cr_assert_eq(p->items.n, 2);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created task \"C\"");
	cr_expect_str_eq(vt_str(&p->items.d[1], "summary"),
			 "Created task \"A\" due 2026-03-05 10:00 UTC");
	cr_assert_eq(p->up.n, 1);
	cr_expect_str_eq(vt_str(&p->up.d[0], "title"), "A");
	page_free(p);
	p = timeline(big, 0, NULL);
	cr_assert_eq(p->items.n, 1);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created task \"B\"");
	page_free(p);
	big[12 + 127] = 'y'; /* one byte off: another record */
	p = timeline(big, 0, NULL);
	cr_expect_eq(p->items.n + p->up.n, 0);
	page_free(p);
	cr_expect_eq(vt_verify(), 0);
}

Test(timeline, names_the_system_user_and_what_a_creation_set)
{
	tl_slice tags[2] = { tl_s("vip"), tl_s("q3") };
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Follow up"),
		       .type = tl_s("follow_up"), .status = tl_s("on_hold"),
		       .link = tl_s("opportunity:9"), .tags = tags,
		       .tags_len = 2 };
	vt_exec(TL_SYSTEM_USER, VT_T0, &add, NULL);

	page *p = timeline("opportunity:9", 0, NULL);
	cr_assert_eq(p->items.n, 1);
	cr_expect_str_eq(vt_str(&p->items.d[0], "actor.id"), TL_SYSTEM_USER);
	cr_expect_str_eq(vt_str(&p->items.d[0], "actor.kind"), "system");
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created follow-up \"Follow up\", status On Hold, "
			 "tagged vip, q3");
	page_free(p);
	/* every status but To Do is said, In Progress (the first) too */
	tl_cmd busy = { .kind = TL_TASK_ADD, .title = tl_s("Busy"),
			.status = tl_s("in_progress"),
			.link = tl_s("opportunity:10") };
	vt_exec(NULL, VT_T0 + 1, &busy, NULL);
	p = timeline("opportunity:10", 0, NULL);
	cr_assert_eq(p->items.n, 1);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"),
			 "Created task \"Busy\", status In Progress");
	page_free(p);
}

/* Every task type has its word in a summary, the last (demo) too. */
Test(timeline, names_every_type_in_words)
{
	static const char *const types[][2] = {
		{ "call", "call" }, { "email", "email" },
		{ "message", "message" }, { "meeting", "meeting" },
		{ "chat", "chat" }, { "proposal", "proposal" },
		{ "note", "note" }, { "task", "task" },
		{ "follow_up", "follow-up" }, { "demo", "demo" },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char record[16], want[64];
		snprintf(record, sizeof record, "lead:%zu", 90 + i);
		tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("T"),
			       .type = tl_s(types[i][0]),
			       .link = tl_s(record) };
		vt_exec(NULL, VT_T0, &add, NULL);
		snprintf(want, sizeof want, "Created %s \"T\"", types[i][1]);
		page *p = timeline(record, 0, NULL);
		cr_assert_eq(p->items.n, 1);
		cr_expect_str_eq(vt_str(&p->items.d[0], "summary"), want);
		page_free(p);
	}
}

Test(timeline, cuts_a_long_title_in_a_summary)
{
	char title[501];
	memset(title, 'x', 500);
	title[500] = 0;
	title[98] = '\xc3'; /* an "é" across the cut at 100 bytes */
	title[99] = '\xa9';
	title[100] = '\xc3';
	title[101] = '\xa9';
	vt_add(NULL, VT_T0, title, "lead:1", NULL, NULL);
	page *p = timeline("lead:1", 0, NULL);
	cr_assert_eq(p->items.n, 1);
	const char *s = vt_str(&p->items.d[0], "summary");
	cr_expect(strlen(s) < 130, "summary of %zu bytes", strlen(s));
	cr_expect(tl_utf8_valid(s, strlen(s)), "cut inside a character");
	cr_expect(strstr(s, "...\"") != NULL, "%s", s);
	page_free(p);
}

/* A title is cut between characters as a reader sees them: a letter
 * keeps its accent, an emoji sequence stays whole (a walk-through: "e"
 * and U+0301 repeated was cut between the two, to "e..."). */
Test(timeline, cuts_a_title_between_whole_characters)
{
	static const struct {
		const char *unit; /* repeated to pass the cut */
		size_t kept;      /* bytes of the title the summary keeps */
	} cases[] = {
		{ "e\xcc\x81", 99 },   /* e + combining acute: 3 bytes */
		/* woman, ZWJ, woman, ZWJ, girl: 18 bytes */
		{ "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa9"
		  "\xe2\x80\x8d\xf0\x9f\x91\xa7", 90 },
		{ "\xed\x95\x9c", 99 },   /* a Hangul syllable, 3 bytes */
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		char title[500] = "", record[32], want[200];
		while (strlen(title) + strlen(cases[c].unit) < 300)
			strcat(title, cases[c].unit);
		snprintf(record, sizeof record, "lead:%zu", 70 + c);
		vt_add(NULL, VT_T0, title, record, NULL, NULL);
		snprintf(want, sizeof want, "Created task \"%.*s...\"",
			 (int)cases[c].kept, title);
		page *p = timeline(record, 0, NULL);
		cr_assert_eq(p->items.n, 1);
		cr_expect_str_eq(vt_str(&p->items.d[0], "summary"), want,
				 "case %zu", c);
		page_free(p);
	}
	cr_expect_eq(vt_verify(), 0);
}

/* The summary of record's newest entry read in zone tz. */
static char *summary_in(const char *record, const char *tz)
{
	page *p = calloc(1, sizeof *p);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_DAY, .tz = tz };
	tl_err err = { 0 };
	int rc = tl_timeline(vt_db, &ctx, tl_s(record), 1, tl_s(NULL),
			     up_fn, item_fn, p, p->next, &err);
	cr_assert_eq(rc, 0, "%s: %d %s", tz, rc, err.message);
	cr_assert_eq(p->items.n, 1);
	cr_expect_eq(vt_keys(&p->items.d[0]), 5, "the JSON shape's 5 keys");
	char *s = strdup(vt_str(&p->items.d[0], "summary"));
	page_free(p);
	return s;
}

/* The summary of the only entry of a record whose one task has the
 * title given. */
static void expect_title_summary(const char *record, const char *title,
				 const char *want)
{
	vt_add(NULL, VT_T0, title, record, NULL, NULL);
	page *p = timeline(record, 0, NULL);
	cr_assert_eq(p->items.n, 1);
	cr_expect_str_eq(vt_str(&p->items.d[0], "summary"), want, "%s: %s",
			 record, vt_str(&p->items.d[0], "summary"));
	page_free(p);
}

/* The cut of a title at TITLE_SHOWN (100) bytes, at its edges: a title of
 * exactly 100 bytes is whole, a longer one keeps 100 when a character
 * starts there, and so does one cluster longer than 100 bytes (a letter
 * and 67 marks of 3 bytes), cut between code points. */
Test(timeline, cuts_a_title_exactly_at_its_edges)
{
	char title[300], want[400];
	memset(title, 'x', 100);
	title[100] = 0;
	snprintf(want, sizeof want, "Created task \"%s\"", title);
	expect_title_summary("lead:81", title, want);

	memset(title, 'x', 150);
	title[150] = 0;
	snprintf(want, sizeof want, "Created task \"%.100s...\"", title);
	expect_title_summary("lead:82", title, want);

	title[0] = 'e';
	for (int i = 0; i < 67; i++) /* U+20D0, combining: 3 bytes */
		memcpy(title + 1 + 3 * i, "\xe2\x83\x90", 3);
	title[202] = 0;
	snprintf(want, sizeof want, "Created task \"%.100s...\"", title);
	expect_title_summary("lead:83", title, want);
}

/* The summary of a new task on record titled title_len 'T's with ntags
 * tags of 64 bytes (the longest), no due date. */
static char *tagged_summary(const char *record, size_t title_len,
			    size_t ntags)
{
	char title[128], tagbuf[64][65];
	tl_slice tags[64];
	memset(title, 'T', title_len);
	title[title_len] = 0;
	for (size_t i = 0; i < ntags; i++) {
		memset(tagbuf[i], 'a' + i % 26, 64);
		tagbuf[i][64] = 0;
		tagbuf[i][0] = (char)('0' + i % 10);
		tagbuf[i][1] = (char)('0' + i / 10);
		tags[i] = tl_s(tagbuf[i]);
	}
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s(title),
		       .link = tl_s(record), .tags = tags, .tags_len = ntags };
	vt_exec(NULL, VT_T0, &add, NULL);
	return summary_in(record, "UTC");
}

/* A summary without times fills its 1,020 bytes of text to the byte:
 * one that ends there is whole; a longer one is cut there, "..." after
 * it (1,023 bytes). */
Test(timeline, a_summary_fills_its_room_to_the_byte)
{
	/* "Created task " and the title in quotes (13 + 76), ", tagged "
	 * and a tag (9 + 64), then 13 times ", " and a tag (66): 1,020 */
	char *s = tagged_summary("lead:84", 74, 14);
	size_t n = strlen(s);
	cr_expect_eq(n, 1020, "summary of %zu bytes", n);
	cr_expect(strcmp(s + n - 3, "..."), "%s", s + n - 10);
	free(s);

	s = tagged_summary("lead:85", 74, 64);
	n = strlen(s);
	cr_expect_eq(n, 1023, "summary of %zu bytes", n);
	cr_expect(!strcmp(s + n - 3, "..."), "%s", s + n - 10);
	free(s);
}

/* A task "Call" on record, due at due: its id into id. */
static void add_call(const char *record, const char *due, char id[37])
{
	tl_result res;
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Call"),
		       .link = tl_s(record), .due = tl_s(due) };
	vt_exec(NULL, VT_T0, &add, &res);
	vt_doc task = { res.doc, res.doc_len };
	snprintf(id, 37, "%s", vt_str(&task, "id"));
	tl_result_release(&res);
}

Test(timeline, writes_the_times_of_a_summary_in_the_reader_s_zone)
{
	char id[37];
	add_call("lead:7", "2026-12-01T10:00:00Z", id);
	/* Winter to summer time in Berlin, with seconds. */
	tl_cmd up = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		      .due = tl_s("2027-07-01T10:00:30Z") };

	vt_exec(NULL, VT_T0 + 1, &up, NULL);

	static const struct {
		const char *tz, *want;
	} cases[] = {
		{ "Europe/Berlin", "Changed due from 2026-12-01 11:00 +01:00 "
				   "to 2027-07-01 12:00:30 +02:00" },
		{ "Asia/Kathmandu", "Changed due from 2026-12-01 15:45 +05:45 "
				    "to 2027-07-01 15:45:30 +05:45" },
		{ "America/Los_Angeles", "Changed due from 2026-12-01 02:00 "
					 "-08:00 to 2027-07-01 03:00:30 -07:00" },
		{ "UTC", "Changed due from 2026-12-01 10:00 UTC "
			 "to 2027-07-01 10:00:30 UTC" },
		{ NULL, "Changed due from 2026-12-01 10:00 UTC " /* workspace */
			"to 2027-07-01 10:00:30 UTC" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = summary_in("lead:7", cases[i].tz);
		cr_expect_str_eq(s, cases[i].want, "%s", cases[i].tz);
		free(s);
	}

	/* What is stored does not depend on who read it: a rebuild writes
	 * the same bytes. */
	cr_assert_eq(vt_verify(), 0);
}

/* A stored summary of 32 bytes and more has a str 8 header: the times
 * go into one of exactly 32 (the title of 12 bytes, the time last). */
Test(timeline, writes_times_into_a_summary_of_32_bytes)
{
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Call Bob now"),
		       .link = tl_s("lead:13"),
		       .due = tl_s("2026-12-01T10:00:00Z") };
	vt_exec(NULL, VT_T0, &add, NULL);
	char *s = summary_in("lead:13", "Europe/Berlin");
	cr_expect_str_eq(s, "Created task \"Call Bob now\" due 2026-12-01 "
			    "11:00 +01:00");
	free(s);
}

/* A due time moved by less than a second does not read "from X to X". */
Test(timeline, a_change_under_a_second_shows_the_milliseconds)
{
	char id[37];
	add_call("lead:9", "2026-12-01T10:00:30Z", id);
	tl_cmd up = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		      .due = tl_s("2026-12-01T10:00:30.250Z") };
	vt_exec(NULL, VT_T0 + 1, &up, NULL);
	char *s = summary_in("lead:9", "Asia/Kathmandu");
	cr_expect_str_eq(s, "Changed due from 2026-12-01 15:45:30.000 +05:45 "
			    "to 2026-12-01 15:45:30.250 +05:45");
	free(s);
	/* a second apart: to the second again */
	up.due = tl_s("2026-12-01T10:00:31.250Z");
	vt_exec(NULL, VT_T0 + 2, &up, NULL);
	s = summary_in("lead:9", "UTC");
	cr_expect_str_eq(s, "Changed due from 2026-12-01 10:00:30 UTC "
			    "to 2026-12-01 10:00:31 UTC");
	free(s);
	cr_assert_eq(vt_verify(), 0);
}

Test(timeline, cuts_a_long_summary_after_its_time)
{
	enum { TAGS = 64, TAG = 64 }; /* the most tags, the longest tag */
	char tagbuf[TAGS][TAG + 1];
	tl_slice tags[TAGS];
	for (int i = 0; i < TAGS; i++) {
		memset(tagbuf[i], 'a' + i % 26, TAG);
		tagbuf[i][TAG] = 0;
		tagbuf[i][0] = (char)('0' + i % 10);
		tagbuf[i][1] = (char)('0' + i / 10);
		tags[i] = tl_s(tagbuf[i]);
	}
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Tagged"),
		       .link = tl_s("lead:8"), .due = tl_s("2026-12-01T10:00:00Z"),
		       .tags = tags, .tags_len = TAGS };
	vt_exec(NULL, VT_T0, &add, NULL);
	char *s = summary_in("lead:8", "Asia/Kathmandu");
	size_t n = strlen(s);
	cr_expect(n > 900 && n < 1024, "summary of %zu bytes", n);
	cr_expect(!strncmp(s, "Created task \"Tagged\" due 2026-12-01 15:45 "
			      "+05:45, tagged ", 54), "%.80s", s);
	cr_expect(!strcmp(s + n - 3, "..."), "%s", s + n - 10);
	free(s);
}

Test(timeline, puts_upcoming_active_tasks_with_a_due_date_first_soonest_first)
{
	/* The query's clock is VT_T0 + 1 day: 2026-03-03T09:00Z. */
	const char *later = vt_add(NULL, VT_T0, "later", "lead:7",
				   "2026-03-20T09:00:00Z", NULL);
	char later_id[37];
	snprintf(later_id, sizeof later_id, "%s", later);
	char overdue[37], soon[37], done[37], gone[37];
	snprintf(overdue, 37, "%s",
		 vt_add(NULL, VT_T0, "overdue", "lead:7",
			"2026-03-01T09:00:00Z", "alice"));
	snprintf(soon, 37, "%s",
		 vt_add(NULL, VT_T0, "soon", "lead:7", "2026-03-04T09:00:00Z",
			NULL));
	vt_add(NULL, VT_T0, "no due", "lead:7", NULL, NULL);
	snprintf(done, 37, "%s",
		 vt_add(NULL, VT_T0, "done", "lead:7", "2026-03-05T09:00:00Z",
			NULL));
	vt_simple(NULL, VT_T0, TL_TASK_COMPLETE, done);
	snprintf(gone, 37, "%s",
		 vt_add(NULL, VT_T0, "gone", "lead:7", "2026-03-06T09:00:00Z",
			NULL));
	vt_simple(NULL, VT_T0, TL_TASK_DELETE, gone);
	vt_add(NULL, VT_T0, "elsewhere", "lead:8", "2026-03-03T09:00:00Z",
	       NULL);
	char held[37];
	snprintf(held, 37, "%s",
		 vt_add(NULL, VT_T0, "held", "lead:7", "2026-03-10T09:00:00Z",
			NULL));
	vt_status(NULL, VT_T0, held, "on_hold");

	page *p = timeline("lead:7", 2, NULL);
	cr_assert_eq(p->up.n, 4, "%zu upcoming", p->up.n);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), overdue);
	cr_expect_str_eq(vt_str(&p->up.d[1], "id"), soon);
	cr_expect_str_eq(vt_str(&p->up.d[2], "id"), held);
	cr_expect_str_eq(vt_str(&p->up.d[3], "id"), later_id);
	cr_expect_str_eq(vt_str(&p->up.d[0], "title"), "overdue");
	cr_expect_str_eq(vt_str(&p->up.d[0], "assignee"), "alice");
	cr_expect_str_eq(vt_str(&p->up.d[0], "link.id"), "7");
	cr_expect_eq(p->items.n, 2);
	cr_assert_neq(p->next[0], 0);

	/* Later pages hold history only. */
	page *q = timeline("lead:7", 2, p->next);
	cr_expect_eq(q->up.n, 0);
	cr_expect_eq(q->items.n, 2);
	page_free(q);
	page_free(p);
}

/* The upcoming part holds every active task of the record with a due
 * date (INTERFACE.md sets no limit), soonest first, whatever the page's
 * limit; a callback can stop it.  (Up to 0.3.36 it held 50 at most and
 * said nothing of the others.) */
static int take_three(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	return ++*(int *)arg == 3;
}

Test(timeline, shows_every_upcoming_task)
{
	char first[37];
	for (int i = 0; i < 130; i++) {
		char due[32];
		snprintf(due, sizeof due, "2026-04-%02dT%02d:00:00Z",
			 1 + i / 24, i % 24);
		const char *id = vt_add(NULL, VT_T0, "t", "lead:11", due, NULL);
		if (!i)
			snprintf(first, sizeof first, "%s", id);
	}
	page *p = timeline("lead:11", 1, NULL);
	cr_expect_eq(p->up.n, 130, "%zu upcoming", p->up.n);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), first);
	for (size_t i = 1; i < p->up.n; i++)
		cr_expect_lt(strcmp(vt_str(&p->up.d[i - 1], "due_at"),
				    vt_str(&p->up.d[i], "due_at")), 0);
	cr_expect_str_eq(vt_str(&p->up.d[129], "due_at"),
			 "2026-04-06T09:00:00.000Z");
	cr_expect_eq(p->items.n, 1);
	page_free(p);
	/* a callback that returns nonzero ends the call there */
	int seen = 0;
	char next[TL_CURSOR_MAX];
	tl_err err = { 0 };
	tl_ctx ctx = { .now_ms = VT_T0 + VT_DAY };
	cr_expect_eq(tl_timeline(vt_db, &ctx, tl_s("lead:11"), 1,
				 (tl_slice){ 0 }, take_three, NULL, &seen,
				 next, &err), 1);
	cr_expect_eq(seen, 3);
}

/* A page of tl_timeline_page: both cursors (NULL: not given). */
static page *paged(const char *record, size_t limit, const char *cursor,
		   const char *up_cursor, char up_next[TL_CURSOR_MAX])
{
	page *p = calloc(1, sizeof *p);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_DAY };
	tl_timeline_query q = { .record = tl_s(record), .limit = limit,
				.cursor = tl_s(cursor),
				.upcoming_cursor = tl_s(up_cursor) };
	tl_err err = { 0 };
	int rc = tl_timeline_page(vt_db, &ctx, &q, up_fn, item_fn, p, p->next,
				  up_next, &err);
	cr_assert_eq(rc, 0, "tl_timeline_page: %d %s: %s", rc, err.field,
		     err.message);
	return p;
}

/* tl_timeline_page hands out at most limit upcoming tasks a page (a
 * record of 500,000 open tasks took 15 s and 2 GB for one page when
 * every one came), and pages them by position: a task that does not
 * change between pages is listed once, one moved before the cursor is
 * not listed again, one added after it is. */
Test(timeline, pages_the_upcoming_tasks_by_position)
{
	char ids[130][37], due[32];
	for (int i = 0; i < 130; i++) {
		snprintf(due, sizeof due, "2026-04-%02dT%02d:00:00Z",
			 1 + i / 24, i % 24);
		snprintf(ids[i], 37, "%s",
			 vt_add(NULL, VT_T0, "t", "lead:11", due, NULL));
	}
	vt_add(NULL, VT_T0, "other", "lead:12", "2026-04-01T00:30:00Z", NULL);
	vt_add(NULL, VT_T0, "no due", "lead:11", NULL, NULL);

	char up_next[TL_CURSOR_MAX];
	page *p = paged("lead:11", 50, NULL, NULL, up_next);
	cr_assert_eq(p->up.n, 50);
	for (size_t i = 0; i < 50; i++)
		cr_expect_str_eq(vt_str(&p->up.d[i], "id"), ids[i]);
	cr_expect_eq(p->items.n, 50, "the history's first page too");
	cr_expect_neq(p->next[0], 0);
	cr_assert_eq(up_next[0], 'r', "%s", up_next);
	page_free(p);

	/* Between pages: one listed completed, one not yet listed moved
	 * before the cursor, one added after it. */
	vt_simple(NULL, VT_T0 + 1, TL_TASK_COMPLETE, ids[3]);
	tl_cmd mv = { .kind = TL_TASK_UPDATE, .id = tl_s(ids[100]),
		      .due = tl_s("2026-03-01T00:00:00Z") };
	vt_exec(NULL, VT_T0 + 2, &mv, NULL);
	char late[37];
	snprintf(late, sizeof late, "%s",
		 vt_add(NULL, VT_T0 + 3, "late", "lead:11",
			"2026-05-01T00:00:00Z", NULL));

	/* The upcoming cursor alone: that list alone, in the same buffer. */
	size_t seen = 50, pages = 1;
	bool late_seen = false;
	while (up_next[0]) {
		p = paged("lead:11", 50, NULL, up_next, up_next);
		cr_assert_eq(p->items.n, 0);
		cr_assert_eq(p->next[0], 0);
		for (size_t i = 0; i < p->up.n; i++) {
			const char *id = vt_str(&p->up.d[i], "id");
			if (!strcmp(id, late)) {
				late_seen = true;
				continue;
			}
			seen += seen == 100; /* ids[100] moved away */
			cr_assert_lt(seen, 130);
			cr_expect_str_eq(id, ids[seen], "at %zu", seen);
			seen++;
		}
		pages++;
		page_free(p);
	}
	cr_expect_eq(seen, 130);
	cr_expect(late_seen);
	cr_expect_eq(pages, 3);

	/* A page of one reads no further than it must: its cursor is
	 * there, and the last page has none. */
	p = paged("lead:11", 1, NULL, NULL, up_next);
	cr_expect_eq(p->up.n, 1);
	cr_expect_neq(up_next[0], 0);
	page_free(p);
	p = paged("lead:12", 1, NULL, NULL, up_next);
	cr_expect_eq(p->up.n, 1);
	cr_expect_eq(up_next[0], 0, "one upcoming task: no next page");
	page_free(p);

	/* The history's cursor alone gives no upcoming task. */
	p = paged("lead:11", 2, NULL, NULL, up_next);
	char hist[TL_CURSOR_MAX];
	snprintf(hist, sizeof hist, "%s", p->next);
	page_free(p);
	p = paged("lead:11", 2, hist, NULL, up_next);
	cr_expect_eq(p->up.n, 0);
	cr_expect_eq(up_next[0], 0);
	cr_expect_eq(p->items.n, 2);
	page_free(p);
}

Test(timeline, refuses_a_cursor_of_the_other_list)
{
	vt_add(NULL, VT_T0, "a", "lead:1", "2026-04-01T00:00:00Z", NULL);
	vt_add(NULL, VT_T0, "b", "lead:1", "2026-04-02T00:00:00Z", NULL);
	char up_next[TL_CURSOR_MAX];
	page *p = paged("lead:1", 1, NULL, NULL, up_next);
	char hist[TL_CURSOR_MAX];
	snprintf(hist, sizeof hist, "%s", p->next);
	cr_assert_neq(hist[0], 0);
	cr_assert_neq(up_next[0], 0);
	page_free(p);

	const struct {
		const char *cursor, *up, *field;
	} bad[] = {
		{ NULL, hist, "upcoming_cursor" },
		{ up_next, NULL, "cursor" },
		{ NULL, "r00", "upcoming_cursor" },
		{ NULL, "nope", "upcoming_cursor" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		page *b = calloc(1, sizeof *b);
		char un[TL_CURSOR_MAX];
		tl_timeline_query q = { .record = tl_s("lead:1"),
					.cursor = tl_s(bad[i].cursor),
					.upcoming_cursor = tl_s(bad[i].up) };
		tl_err err = { 0 };
		cr_expect_eq(tl_timeline_page(vt_db, NULL, &q, up_fn, item_fn,
					      b, b->next, un, &err),
			     TL_EINVALID, "case %zu", i);
		cr_expect_str_eq(err.field, bad[i].field, "case %zu", i);
		cr_expect_eq(b->up.n + b->items.n, 0);
		page_free(b);
	}
}

Test(timeline, pages_through_the_history_without_gaps_or_repeats)
{
	const char *id = vt_add(NULL, VT_T0, "t", "account:acme", NULL, NULL);
	char tid[37];
	snprintf(tid, sizeof tid, "%s", id);
	for (int i = 0; i < 6; i++)
		vt_tag(NULL, VT_T0 + i + 1, TL_TASK_TAG, tid,
		       (const char *[]){ "a", "b", "c", "d", "e", "f" }[i]);
	vt_add(NULL, VT_T0 + 10, "other", "account:acme2", NULL, NULL);

	page *all = timeline("account:acme", 0, NULL);
	cr_assert_eq(all->items.n, 7);
	cr_assert_str_eq(all->next, "");

	vt_docs got = { .n = 0 };
	char cursor[TL_CURSOR_MAX] = "";
	int pages = 0;
	do {
		page *p = timeline("account:acme", 3, cursor[0] ? cursor : NULL);
		cr_assert_leq(p->items.n, 3);
		for (size_t i = 0; i < p->items.n; i++)
			vt_collect(&got, p->items.d[i].p, p->items.d[i].len);
		snprintf(cursor, sizeof cursor, "%s", p->next);
		page_free(p);
		pages++;
	} while (cursor[0] && pages < 10);
	cr_expect_eq(pages, 3);
	cr_expect(vt_docs_equal(&got, &all->items), "pages differ from one "
						     "long page");
	vt_docs_free(&got);

	/* A full last page has no next page. */
	page *p = timeline("account:acme", 7, NULL);
	cr_expect_eq(p->items.n, 7);
	cr_expect_str_eq(p->next, "");
	page_free(p);
	page_free(all);
}

Test(timeline, rejects_bad_arguments_naming_the_field)
{
	char longid[200] = "lead:";
	memset(longid + 5, '1', 129);
	expect_invalid("", 0, NULL, "record");
	expect_invalid("lead", 0, NULL, "record");
	expect_invalid(":42", 0, NULL, "record");
	expect_invalid("lead:", 0, NULL, "record");
	expect_invalid("person:42", 0, NULL, "record");
	expect_invalid(longid, 0, NULL, "record");
	expect_invalid("lead:\xff", 0, NULL, "record");
	expect_invalid("lead:4\n2", 0, NULL, "record");
	expect_invalid("lead:4\x7f" "2", 0, NULL, "record");
	/* a C1 control (U+0085), refused as --link and task list refuse it */
	expect_invalid("lead:1\xc2\x85", 0, NULL, "record");
	expect_invalid("lead:42", 1001, NULL, "limit");
	expect_invalid("lead:42", 0, "zzz", "cursor");
	expect_invalid("lead:42", 0, "n0000000000000000000", "cursor");
	expect_invalid("lead:42", 0, "t00", "cursor");

	/* 128 bytes is fine. */
	longid[5 + 128] = 0;
	page *p = timeline(longid, 1000, NULL);
	page_free(p);
}

Test(timeline, quotes_a_bad_record_printably_in_its_message)
{
	page *p = calloc(1, sizeof *p);
	char rec[128] = "a";
	tl_err err;

	cr_assert_eq(timeline_at(VT_T0, "lea\nd", 0, NULL, p, &err),
		     TL_EINVALID);
	cr_assert(strstr(err.message, "'lea\\x0ad'"), "%s", err.message);
	/* Cut after 40 bytes, but never inside a character. */
	for (int i = 0; i < 40; i++)
		strcat(rec, "\xc3\xa9");
	cr_assert_eq(timeline_at(VT_T0, rec, 0, NULL, p, &err), TL_EINVALID);
	cr_assert(tl_utf8_valid(err.message, strlen(err.message)), "%s",
		  err.message);
	page_free(p);
}

Test(timeline, refuses_an_unknown_actor)
{
	page *p = calloc(1, sizeof *p);
	tl_ctx ctx = { .actor = "nobody" };
	tl_err err = { 0 };
	int rc = tl_timeline(vt_db, &ctx, tl_s("lead:1"), 0, tl_s(NULL),
			     up_fn, item_fn, p, p->next, &err);
	cr_expect_eq(rc, TL_EFORBIDDEN);
	page_free(p);
}

/* ---- rebuild and verify ----------------------------------------------- */

static void history_mix(void)
{
	char a[37], b[37];
	snprintf(a, 37, "%s",
		 vt_add(NULL, VT_T0, "A", "lead:1", "+2d", "alice"));
	snprintf(b, 37, "%s",
		 vt_add("alice", VT_T0 + 1, "B", "lead:1", "-1d", "bob"));
	vt_assign("bob", VT_T0 + 2, a, "bob");
	vt_simple(NULL, VT_T0 + 3, TL_TASK_COMPLETE, b);
	vt_tag(NULL, VT_T0 + 4, TL_TASK_TAG, a, "x");
	vt_add(NULL, VT_T0 + 5, "C", "contact:1", NULL, "alice");
	vt_simple(NULL, VT_T0 + 6, TL_TASK_DELETE, b);
}

Test(timeline, rebuild_gives_the_same_entries_as_appending)
{
	history_mix();
	page *before = timeline("lead:1", 0, NULL);
	cr_assert_eq(vt_verify(), 0);

	tl_err err = { 0 };
	const char *names[] = { "timeline" };
	int rc = tl_rebuild(vt_db, NULL, names, 1, NULL, NULL, &err);
	cr_assert_eq(rc, 0, "tl_rebuild: %s", err.message);
	page *after = timeline("lead:1", 0, NULL);
	cr_expect(vt_docs_equal(&before->items, &after->items));
	cr_expect(vt_docs_equal(&before->up, &after->up));
	cr_expect_eq(after->items.n, 6);
	cr_assert_eq(vt_verify(), 0);

	/* Everything rebuilt, then reopened: still the same. */
	rc = tl_rebuild(vt_db, NULL, NULL, 0, NULL, NULL, &err);
	cr_assert_eq(rc, 0, "tl_rebuild: %s", err.message);
	vt_close();
	vt_open();
	page *again = timeline("lead:1", 0, NULL);
	cr_expect(vt_docs_equal(&before->items, &again->items));
	cr_expect(vt_docs_equal(&before->up, &again->up));
	cr_assert_eq(vt_verify(), 0);
	page_free(before);
	page_free(after);
	page_free(again);
}

/* The workspace closed, a cursor at the last key of the timeline's
 * entries (its oldest history entry: the history sorts after the
 * records' task index, byte 8 being ~seq) and that key and value. */
static MDB_cursor *last_entry(MDB_env **env, MDB_txn **txn, MDB_val *k,
			      MDB_val *v)
{
	MDB_dbi dbi;
	MDB_cursor *c;
	if (vt_db)
		vt_close();
	vt_raw_open("timeline", "entries", env, txn, &dbi);
	cr_assert_eq(mdb_cursor_open(*txn, dbi, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, k, v, MDB_LAST), 0);
	return c;
}

/* Commit what was done at the cursor, and close. */
static void entry_done(MDB_env *env, MDB_txn *txn, MDB_cursor *c)
{
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(timeline, verify_finds_a_deleted_entry)
{
	history_mix();
	cr_assert_eq(vt_verify(), 0);
	vt_close();

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	vt_raw_open("timeline", "entries", &env, &txn, &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	cr_assert_eq(mdb_cursor_del(c, 0), 0);
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	vt_open();
	tl_err err = { 0 };
	int n = tl_verify(vt_db, NULL, vt_quiet, NULL, &err);
	cr_expect_gt(n, 0, "verify found %d problems", n);
}

Test(timeline, verify_finds_an_altered_summary)
{
	history_mix();

	MDB_env *env;
	MDB_txn *txn;
	MDB_val k, v;
	MDB_cursor *c = last_entry(&env, &txn, &k, &v);
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 1] ^= 1; /* the summary's last letter */
	MDB_val nv = { v.mv_size, copy };
	cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	free(copy);
	entry_done(env, txn, c);

	vt_open();
	tl_err err = { 0 };
	int n = tl_verify(vt_db, NULL, vt_quiet, NULL, &err);
	cr_expect_gt(n, 0, "verify found %d problems", n);
}

/* The stored value of the one history entry of a workspace with one task
 * event, into *out (malloc'd); the workspace is closed. */
static size_t only_entry(uint8_t **out)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_val k, v;
	MDB_cursor *c = last_entry(&env, &txn, &k, &v);
	*out = malloc(v.mv_size);
	memcpy(*out, v.mv_data, v.mv_size);
	entry_done(env, txn, c);
	return v.mv_size;
}

/* Put value as that entry's, then read the timeline: its return code. */
static int read_with_entry(const uint8_t *value, size_t n)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_val k, v;
	MDB_cursor *c = last_entry(&env, &txn, &k, &v);
	MDB_val nv = { n, (void *)value };
	cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	entry_done(env, txn, c);
	vt_open();
	page *p = calloc(1, sizeof *p);
	tl_err err;
	int rc = timeline_at(VT_T0 + VT_DAY, "lead:12", 0, NULL, p, &err);
	if (rc)
		cr_assert_str_eq(err.message, "corrupt timeline entry");
	page_free(p);
	vt_close();
	return rc;
}

/* The times in front of an entry are read from storage: a damaged one is
 * a storage error, never a read past the entry. */
Test(timeline, a_damaged_times_header_is_a_storage_error)
{
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Call"),
		       .link = tl_s("lead:12"),
		       .due = tl_s("2026-12-01T10:00:00Z") };
	vt_exec(NULL, VT_T0, &add, NULL);
	uint8_t *good, *bad;
	size_t n = only_entry(&good);
	/* "lead:12" (a fixstr of 7), then the bin of the times */
	cr_assert_eq(good[8], 0xc4, "no times in front of the entry");
	cr_assert_eq(good[9], 12, "one time: 2 + 10 bytes");
	bad = malloc(n);
	static const struct {
		size_t at;
		uint8_t value;
	} damage[] = {
		{ 9, 11 },   /* not 2 + 10k bytes */
		{ 9, 22 },   /* two times, the second of the map's bytes */
		{ 9, 32 },   /* three times */
		{ 10, 0xff }, /* a summary longer than the entry */
		{ 11, 0 },   /* a summary shorter than what is stored */
		{ 12, 0xff }, /* a time's offset past the summary */
	};
	for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
		memcpy(bad, good, n);
		bad[damage[i].at] = damage[i].value;
		cr_expect_eq(read_with_entry(bad, n), TL_ESTORAGE, "[%zu]", i);
	}
	/* cut short anywhere (a header longer than what is left too) */
	for (size_t m = 9; m < n; m++)
		cr_expect_neq(read_with_entry(good, m), 0, "%zu bytes", m);
	/* any byte of the header changed: an error or an answer, no crash
	 * (the sanitizers' run checks the reads) */
	for (size_t i = 8; i < 22; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, good, n);
			bad[i] ^= (uint8_t)(1 << bit);
			int rc = read_with_entry(bad, n);
			cr_expect(rc == 0 || rc == TL_ESTORAGE, "%d", rc);
		}
	cr_expect_eq(read_with_entry(good, n), 0);
	free(good);
	free(bad);
}

/* ---- a random history ---------------------------------------------------- */

static const char *const records[] = { "lead:1", "lead:2", "contact:1",
				       "account:x", "opportunity:9" };
static const char *const actors[] = { NULL, "alice", "bob", "root",
				      TL_SYSTEM_USER };
static const char *const members[] = { "alice", "bob", "root", NULL };

static int notif_fn(void *arg, const uint8_t *doc, size_t len)
{
	return vt_collect(arg, doc, len);
}

/* Every timeline and inbox, in one list of documents. */
static void snapshot(vt_docs *out)
{
	tl_err err = { 0 };
	char next[TL_CURSOR_MAX];
	for (size_t i = 0; i < 5; i++) {
		int rc = tl_timeline(vt_db, &(tl_ctx){ .now_ms = VT_T0 },
				     tl_s(records[i]), 1000, tl_s(NULL),
				     notif_fn, notif_fn, out, next, &err);
		cr_assert_eq(rc, 0, "%s", err.message);
	}
	for (size_t i = 0; i < 3; i++) {
		int rc = tl_notifications(vt_db, NULL, tl_s(members[i]), false,
					  1000, tl_s(NULL), notif_fn, out,
					  next, &err);
		cr_assert_eq(rc, 0, "%s", err.message);
	}
}

Test(timeline, a_random_history_verifies_and_rebuilds_to_the_same_bytes)
{
	char ids[64][37];
	size_t n = 0;
	unsigned seed = 12345;
	uint64_t notes[256];
	size_t notes_len = 0;

	for (int step = 0; step < 400; step++) {
		int64_t now = VT_T0 + step * VT_MIN;
		const char *actor = actors[rand_r(&seed) % 5];
		const char *member = members[rand_r(&seed) % 4];
		int op = n ? (int)(rand_r(&seed) % 9) : 0;
		const char *id = n ? ids[rand_r(&seed) % n] : NULL;
		tl_slice tag = tl_s((const char *[]){ "a", "b" }[step & 1]);
		tl_cmd c = { .id = tl_s(id) };
		tl_result res = { 0 };
		tl_err err = { 0 };
		char due[16];
		snprintf(due, sizeof due, "%+dh",
			 (int)(rand_r(&seed) % 200) - 100);

		switch (op) {
		case 0:
			if (n == 64)
				continue;
			c = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("T"),
				      .link = tl_s(records[rand_r(&seed) % 5]),
				      .assignee = tl_s(member),
				      .due = tl_s(step % 3 ? due : NULL) };
			break;
		case 1:
			c.kind = TL_TASK_ASSIGN;
			c.assignee = tl_s(member);
			c.unassign = member == NULL;
			break;
		case 2:
			c.kind = TL_TASK_STATUS;
			c.status = tl_s((const char *[]){ "todo", "in_progress",
							  "on_hold", "cancelled" }
						[rand_r(&seed) % 4]);
			break;
		case 3:
			c.kind = TL_TASK_COMPLETE;
			break;
		case 4:
		case 5:
			c.kind = op == 4 ? TL_TASK_TAG : TL_TASK_UNTAG;
			c.tags = &tag;
			c.tags_len = 1;
			break;
		case 6:
			c.kind = TL_TASK_UPDATE;
			c.title = tl_s(step & 1 ? "T" : "U");
			c.due = tl_s(due);
			break;
		case 7:
			c.kind = rand_r(&seed) % 4 ? TL_TASK_ASSIGN
						   : TL_TASK_DELETE;
			c.assignee = tl_s("alice");
			break;
		default: {
			if (!notes_len)
				continue;
			char text[24];
			snprintf(text, sizeof text, "%llu",
				 (unsigned long long)notes[rand_r(&seed) %
							   notes_len]);
			tl_slice one = tl_s(text);
			c = (tl_cmd){ .kind = TL_NOTIFICATIONS_READ,
				      .ids = &one, .ids_len = 1 };
			/* Whoever it belongs to; most tries fail. */
			actor = members[rand_r(&seed) % 3];
			int rc = tl_exec(vt_db, &(tl_ctx){ .actor = actor,
							   .now_ms = now },
					 &c, 1, &res, &err);
			cr_assert(rc == 0 || rc == TL_ENOTFOUND,
				  "read: %d %s", rc, err.message);
			tl_result_release(&res);
			continue;
		}
		}
		int rc = tl_exec(vt_db, &(tl_ctx){ .actor = actor,
						   .now_ms = now },
				 &c, 1, &res, &err);
		cr_assert(rc == 0 || rc == TL_ENOTFOUND || rc == TL_EINVALID,
			  "step %d op %d: %d %s: %s", step, op, rc, err.field,
			  err.message);
		if (rc == 0 && op == 0) {
			vt_doc d = { res.doc, res.doc_len };
			snprintf(ids[n++], 37, "%s", vt_str(&d, "id"));
		}
		if (rc == 0 && res.appended && notes_len < 256 &&
		    (op == 0 || op == 1 || op == 7))
			notes[notes_len++] = res.seq;
		tl_result_release(&res);
	}
	cr_assert_eq(vt_verify(), 0);

	vt_docs *before = calloc(1, sizeof *before);
	vt_docs *after = calloc(1, sizeof *after);
	snapshot(before);
	cr_assert_gt(before->n, 100, "only %zu documents", before->n);
	tl_err err = { 0 };
	cr_assert_eq(tl_rebuild(vt_db, NULL, NULL, 0, NULL, NULL, &err), 0,
		     "%s", err.message);
	snapshot(after);
	cr_expect(vt_docs_equal(before, after), "a rebuild changed a view");
	cr_assert_eq(vt_verify(), 0);
	vt_docs_free(before);
	vt_docs_free(after);
	free(before);
	free(after);
}

/* A task with a big document (notes of 3,000 bytes) in upcoming, and its
 * later changes. */
Test(timeline, upcoming_shows_a_task_with_a_big_document)
{
	static char notes[3001];
	memset(notes, 'n', sizeof notes - 1);
	char big[37];
	snprintf(big, 37, "%s",
		 vt_add(NULL, VT_T0, "big", "lead:9", "2026-03-04T09:00:00Z",
			NULL));
	vt_add(NULL, VT_T0, "small", "lead:9", "2026-03-05T09:00:00Z", NULL);
	tl_cmd c = { .kind = TL_TASK_UPDATE, .id = tl_s(big),
		     .notes = tl_s(notes), .title = tl_s("big, with notes") };
	vt_exec(NULL, VT_T0, &c, NULL);
	page *p = timeline("lead:9", 10, NULL);
	cr_assert_eq(p->up.n, 2, "%zu upcoming", p->up.n);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), big);
	cr_expect_str_eq(vt_str(&p->up.d[0], "title"), "big, with notes");
	cr_expect_str_eq(vt_str(&p->up.d[1], "title"), "small");
	page_free(p);
	cr_assert_eq(vt_verify(), 0);
}

/* Tasks "a" and "b" on record, due 2026-03-04 and 03-05 at 09:00Z; their
 * ids into a and b. */
static void add_a_and_b(const char *record, char a[37], char b[37])
{
	snprintf(a, 37, "%s",
		 vt_add(NULL, VT_T0, "a", record, "2026-03-04T09:00:00Z", NULL));
	snprintf(b, 37, "%s",
		 vt_add(NULL, VT_T0, "b", record, "2026-03-05T09:00:00Z", NULL));
}

/* The upcoming part reads documents from the record's covered due range:
 * every event of a task rewrites its entry there, whether or not it moves
 * the task in the range. */
Test(timeline, upcoming_follows_every_change_of_a_task)
{
	char a[37], b[37];
	add_a_and_b("lead:3", a, b);
	tl_cmd c = { .kind = TL_TASK_UPDATE, .id = tl_s(a),
		     .title = tl_s("a2"), .notes = tl_s("said yes") };
	vt_exec(NULL, VT_T0, &c, NULL);
	vt_tag(NULL, VT_T0, TL_TASK_TAG, a, "vip");
	vt_assign(NULL, VT_T0, a, "alice");
	vt_status(NULL, VT_T0, a, "in_progress");
	page *p = timeline("lead:3", 5, NULL);
	cr_assert_eq(p->up.n, 2, "%zu upcoming", p->up.n);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), a);
	cr_expect_str_eq(vt_str(&p->up.d[0], "title"), "a2");
	cr_expect_str_eq(vt_str(&p->up.d[0], "notes"), "said yes");
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	const msgpack_object *tags = vt_get(&p->up.d[0], &zone, "tags");
	cr_expect(tags && tags->type == MSGPACK_OBJECT_ARRAY &&
		  tags->via.array.size == 1 &&
		  tags->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
		  tags->via.array.ptr[0].via.str.size == 3 &&
		  !memcmp(tags->via.array.ptr[0].via.str.ptr, "vip", 3));
	msgpack_zone_destroy(&zone);
	cr_expect_str_eq(vt_str(&p->up.d[0], "assignee"), "alice");
	cr_expect_str_eq(vt_str(&p->up.d[0], "status"), "in_progress");
	cr_expect_eq(vt_u64(&p->up.d[0], "version"), 5);
	page_free(p);

	/* Moved past b, then out of the range (completed), then back. */
	c = (tl_cmd){ .kind = TL_TASK_UPDATE, .id = tl_s(a),
		      .due = tl_s("2026-03-06T09:00:00Z") };
	vt_exec(NULL, VT_T0, &c, NULL);
	p = timeline("lead:3", 5, NULL);
	cr_assert_eq(p->up.n, 2);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), b);
	cr_expect_str_eq(vt_str(&p->up.d[1], "id"), a);
	page_free(p);
	vt_simple(NULL, VT_T0, TL_TASK_COMPLETE, a);
	p = timeline("lead:3", 5, NULL);
	cr_assert_eq(p->up.n, 1);
	cr_expect_str_eq(vt_str(&p->up.d[0], "id"), b);
	page_free(p);
	vt_status(NULL, VT_T0, a, "todo");
	p = timeline("lead:3", 5, NULL);
	cr_assert_eq(p->up.n, 2);
	cr_expect_str_eq(vt_str(&p->up.d[1], "status"), "todo");
	cr_expect_str_eq(vt_str(&p->up.d[1], "completed_at"), "<nil>");
	page_free(p);
	cr_assert_eq(vt_verify(), 0);
}

/* Format: "due" holds each active task's entry with its document after
 * the 28-byte value, "entries" the history and the created and updated
 * ranges only. */
Test(timeline, the_due_range_carries_each_document)
{
	char a[37];
	snprintf(a, 37, "%s",
		 vt_add(NULL, VT_T0, "a", "lead:4", "2026-03-04T09:00:00Z",
			NULL));
	vt_add(NULL, VT_T0, "no due", "lead:4", NULL, NULL);
	vt_close();

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0, covered = 0;
	vt_raw_open("timeline", "due", &env, &txn, &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		n++;
		cr_expect_eq(k.mv_size, 26);
		cr_expect_eq(((uint8_t *)k.mv_data)[9], 'd');
		covered += v.mv_size > 28;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	cr_expect_eq(n, 2, "%zu entries in due", n);
	cr_expect_eq(covered, 2, "%zu with a document", covered);
	/* No due sort of active tasks in "entries" any more. */
	mdb_env_close(env);
	vt_raw_open("timeline", "entries", &env, &txn, &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	size_t due_keys = 0, entries = 0;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		entries++;
		due_keys += k.mv_size == 26 && ((uint8_t *)k.mv_data)[9] == 'd';
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	cr_expect_eq(due_keys, 0);
	cr_expect_eq(entries, 6,
		     "%zu entries: 2 history, 2 created, 2 updated", entries);
	vt_open();
}

static void index_classes(size_t due_active, size_t due_done,
			  size_t entries_active, size_t entries_done);

/* The record's task index: an active task's ranges are "due" (d) and
 * "entries" (c, u, class 0); a completed one leaves them for its
 * status's three ranges in "entries" (class 3); a deleted one has none
 * (timeline view 8: before, a done task had none either). */
Test(timeline, the_record_index_moves_done_tasks_to_their_status_ranges)
{
	char a[37], b[37];
	add_a_and_b("lead:6", a, b);
	vt_add(NULL, VT_T0, "c", "lead:6", "2026-03-06T09:00:00Z", NULL);
	vt_status(NULL, VT_T0 + VT_MIN, a, "completed");
	vt_simple(NULL, VT_T0 + VT_MIN, TL_TASK_DELETE, b);
	vt_close();
	/* c: d in "due", c and u in "entries"; a: d, c and u there */
	index_classes(1, 0, 2, 3);
	/* reopened, the task goes back: "due" again, and c, u */
	vt_open();
	vt_status(NULL, VT_T0 + 2 * VT_MIN, a, "todo");
	vt_close();
	index_classes(2, 0, 4, 0);
	vt_open();
	cr_assert_eq(vt_verify(), 0);
}

/* The record index entries (keys of 26 bytes) of class 0 and class 3 in
 * "due" and in "entries": they must be as many as given. */
static void index_classes(size_t due_active, size_t due_done,
			  size_t entries_active, size_t entries_done)
{
	static const char *const dbs[] = { "due", "entries" };
	const size_t want[2][2] = { { due_active, due_done },
				    { entries_active, entries_done } };
	for (int i = 0; i < 2; i++) {
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_cursor *c;
		MDB_val k, v;
		size_t active = 0, done = 0;
		vt_raw_open("timeline", dbs[i], &env, &txn, &dbi);
		cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
		for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 26)
				continue; /* a history entry */
			uint8_t cls = ((uint8_t *)k.mv_data)[8];
			cr_expect(cls == 0 || cls == 3, "class %u", cls);
			active += cls == 0;
			done += cls == 3;
		}
		mdb_cursor_close(c);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		cr_expect_eq(active, want[i][0], "%s: %zu active", dbs[i],
			     active);
		cr_expect_eq(done, want[i][1], "%s: %zu done", dbs[i], done);
	}
}

/* Change the first entry of the timeline's due range in place with
 * edit (its value, v.mv_size bytes; the handle closed meanwhile). */
static void edit_first_due(void (*edit)(uint8_t *v, size_t len,
					const void *arg),
			   const void *arg)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	vt_close();
	vt_raw_open("timeline", "due", &env, &txn, &dbi);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	cr_assert_gt(v.mv_size, 28, "a covered document");
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	edit(copy, v.mv_size, arg);
	MDB_val nv = { v.mv_size, copy };
	cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	free(copy);
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	vt_open();
}

static void flip_last(uint8_t *v, size_t len, const void *arg)
{
	(void)arg;
	v[len - 1] ^= 1; /* the document's last byte */
}

/* verify compares the documents of the covered range too. */
Test(timeline, verify_finds_an_altered_document_in_the_due_range)
{
	vt_add(NULL, VT_T0, "a", "lead:5", "2026-03-04T09:00:00Z", NULL);
	cr_assert_eq(vt_verify(), 0);
	edit_first_due(flip_last, NULL);
	tl_err err = { 0 };
	int n = tl_verify(vt_db, NULL, vt_quiet, NULL, &err);
	cr_expect_gt(n, 0, "verify found %d problems", n);
}

/* The n bytes from become to (as long), in place. */
typedef struct swap {
	const char *from, *to;
	size_t n;
} swap;

static void swap_bytes(uint8_t *v, size_t len, const void *arg)
{
	const swap *sw = arg;
	uint8_t *at = NULL;
	for (size_t i = 0; i + sw->n <= len && !at; i++)
		if (!memcmp(v + i, sw->from, sw->n))
			at = v + i;
	cr_assert(at, "the link in the covered document");
	memcpy(at, sw->to, sw->n);
}

static void edit_due_doc(const char *from, const char *to, size_t n)
{
	swap sw = { from, to, n };
	edit_first_due(swap_bytes, &sw);
}

/* The upcoming walk knows its record's link by the bytes tl_task_pack
 * writes for it, and decodes any other: a link stored with its keys the
 * other way round is the same record's, one naming another id is not
 * (its key's hash says lead:7 here, as a collision would). */
Test(timeline, upcoming_decodes_a_link_stored_otherwise)
{
	vt_add(NULL, VT_T0, "a", "lead:7", "2026-03-04T09:00:00Z", NULL);
	static const char canonical[] = "\x82\xa4type\xa4lead\xa2id\xa1" "7";
	static const char swapped[] = "\x82\xa2id\xa1" "7\xa4type\xa4lead";
	static const char other[] = "\x82\xa4type\xa4lead\xa2id\xa1" "8";
	size_t n = sizeof canonical - 1;

	page *p = timeline("lead:7", 50, NULL);
	cr_expect_eq(p->up.n, 1);
	page_free(p);

	edit_due_doc(canonical, swapped, n);
	p = timeline("lead:7", 50, NULL);
	cr_expect_eq(p->up.n, 1, "the same link in another order");
	page_free(p);

	edit_due_doc(swapped, other, n);
	p = timeline("lead:7", 50, NULL);
	cr_expect_eq(p->up.n, 0, "a document of lead:8 under lead:7's key");
	page_free(p);
}

/* meta as a release before 0.3.4 left it: the shared mark "views_seq"
 * alone, at the head, and no view a mark of its own; in a write
 * transaction of the raw environment, left open for the caller. */
static void only_the_shared_mark(MDB_env **env, MDB_txn **txn,
				 MDB_dbi *meta)
{
	vt_raw_db("meta", env, txn, meta);
	MDB_val k = { 14, "view_seq:tasks" }, v;
	cr_assert_eq(mdb_get(*txn, *meta, &k, &v), 0);
	uint8_t head[8];
	memcpy(head, v.mv_data, 8);
	const char *own[] = { "view_seq:tasks", "view_seq:timeline",
			      "view_seq:notifications" };
	for (int i = 0; i < 3; i++) {
		MDB_val ok = { strlen(own[i]), (void *)own[i] };
		cr_assert_eq(mdb_del(*txn, *meta, &ok, NULL), 0, "%s",
			     own[i]);
	}
	MDB_val sk = { 9, "views_seq" }, sv = { 8, head };
	cr_assert_eq(mdb_put(*txn, *meta, &sk, &sv, 0), 0);
}

/* A workspace from before 0.3.4 has one mark of how far the views hold
 * the log, "views_seq", and no view a mark of its own.  A handle opened
 * with some of the views moved that shared mark past the events it
 * appended without the others, which then read as up to date and
 * served without them (a review).  The views it leaves out now get a
 * mark of their own where the shared one was: the next open with them
 * rebuilds them. */
Test(timeline, views_a_handle_left_out_of_an_old_workspace_are_rebuilt)
{
	vt_add(NULL, VT_T0 + 1, "A", "lead:42", NULL, NULL);
	vt_close();
	/* as a release before 0.3.4 left it: the shared mark alone */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	only_the_shared_mark(&env, &txn, &meta);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	/* a handle with the tasks view alone appends two tasks */
	size_t n;
	const tl_view *const *all = tl_views_all(&n);
	const tl_view *tasks_only[1] = { NULL };
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i]->name, "tasks"))
			tasks_only[0] = all[i];
	cr_assert(tasks_only[0]);
	tl_open_opts o = { .views = tasks_only, .views_len = 1 };
	tl_err err;
	cr_assert_eq(tl_db_open(vt_dir, &o, &vt_db, &err), 0, "%s",
		     err.message);
	vt_add(NULL, VT_T0 + 2, "B", "lead:42", NULL, NULL);
	vt_add(NULL, VT_T0 + 3, "C", "lead:42", NULL, NULL);
	vt_close();

	vt_open(); /* every view: timeline and notifications rebuilt */
	page *p = timeline("lead:42", 0, NULL);
	cr_assert_eq(p->items.n, 3);
	page_free(p);
	cr_expect_eq(vt_verify(), 0);
}

/* A workspace from before 0.3.4 that was up to date: the shared mark
 * "views_seq" at the head, no view a mark of its own.  Every view goes by
 * the shared mark and holds the whole log: a read-only handle (which
 * cannot rebuild) serves them all, and a writable open rebuilds none. */
Test(timeline, an_old_workspace_s_shared_mark_at_the_head_serves_every_view)
{
	vt_add(NULL, VT_T0 + 1, "A", "lead:42", NULL, NULL);
	vt_close();
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	only_the_shared_mark(&env, &txn, &meta);
	MDB_val gk = { 13, "view:timeline" }, v;
	cr_assert_eq(mdb_get(txn, meta, &gk, &v), 0);
	uint8_t gen[8];
	memcpy(gen, v.mv_data, 8);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	size_t n;
	tl_open_opts ro = { .flags = TL_OPEN_RDONLY,
			    .views = tl_views_all(&n) };
	ro.views_len = n;
	tl_err err;
	cr_assert_eq(tl_db_open(vt_dir, &ro, &vt_db, &err), 0, "%s",
		     err.message);
	page *p = timeline("lead:42", 0, NULL);
	cr_assert_eq(p->items.n, 1);
	page_free(p);
	vt_close();

	vt_open();
	vt_close();
	vt_raw_db("meta", &env, &txn, &meta);
	cr_assert_eq(mdb_get(txn, meta, &gk, &v), 0);
	cr_assert(v.mv_size == 8 && !memcmp(v.mv_data, gen, 8),
		  "the timeline was rebuilt");
	mdb_txn_abort(txn);
	mdb_env_close(env);
	vt_open();
}
