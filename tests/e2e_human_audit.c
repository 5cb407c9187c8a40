/*
 * e2e_human_audit.c - end-to-end tests of the people's output
 * (tools/human.c) that a mutation audit found missing: labels, the
 * task's tags and creator, the escaping of notes, time headings and
 * offsets in other zones, and the caps of columns (assignee, member id,
 * notification BY) at given widths.  Each runs the real binary with
 * --now and a fixed COLUMNS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "testutil.h"

#define T0 "2026-03-02T09:00:00Z"

static char *ws;

static void setup(void)
{
	ws = tu_tmpdir();
	DO("--now", T0, "init");
	DO("--now", T0, "member", "add", "alice", "--name", "Alice");
}

static void teardown(void)
{
	tu_rmrf(ws);
	free(ws);
}

TestSuite(human_audit, .init = setup, .fini = teardown);

/* Run `tasklog --db ws --now T0 ARGS...` for people with COLUMNS=cols
 * ("COLUMNS" alone: unset) into r; it must exit 0. */
#define HUMAN(r, cols, ...) human_run((r), (cols), \
	(const char *const[]){ __VA_ARGS__, NULL })
static void human_run(tu_run *r, const char *cols, const char *const *args)
{
	const char *argv[32] = { "--db", ws, "--now", T0 };
	size_t n = 4;
	const char *env[] = { cols, NULL };
	tu_opts o = { .env = env };

	for (; *args; args++) {
		cr_assert_lt(n, 31);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	cr_assert_eq(tu_exec(r, &o, argv), 0, "cannot run %s", tu_bin());
	cr_assert_eq(r->status, 0, "stdout: %s\nstderr: %s", r->out, r->err);
}

/* A workspace of its own in zone tz (replaces ws). */
static void rezone(const char *tz)
{
	tu_rmrf(ws);
	free(ws);
	ws = tu_tmpdir();
	DO("--now", T0, "init", "--tz", tz);
}

/* "On Hold" is the label of on_hold. */
Test(human_audit, on_hold_reads_on_hold)
{
	tu_run r;
	DO("--now", T0, "task", "add", "--title", "Held", "--link", "lead:1",
	   "--status", "on_hold");
	HUMAN(&r, "COLUMNS", "task", "list");
	cr_expect(strstr(r.out, "  On Hold  Task  "), "%s", r.out);
	tu_run_release(&r);
}

/* A task's tags joined by ", ", and its creator marked "(system)" when
 * it is the system user. */
Test(human_audit, show_joins_tags_and_marks_the_system_creator)
{
	tu_run r;
	DO("--now", T0, "--as", "parsa-assistant", "task", "add", "--title",
	   "Sys", "--link", "lead:1", "--tag", "aa", "--tag", "bb");
	HUMAN(&r, "COLUMNS", "task", "list");
	tu_run_release(&r);
	OK(&r, "--now", T0, "task", "list");
	const char *id = tu_str(json_array_get(json_object_get(r.json, "items"),
					       0), "id");
	cr_assert(id, "%s", r.out);
	char *tid = strdup(id);
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS", "task", "show", tid);
	cr_expect(strstr(r.out, "\nTags        aa, bb\n"), "%s", r.out);
	cr_expect(strstr(r.out, " by parsa-assistant (system)\n"), "%s",
		  r.out);
	tu_run_release(&r);
	free(tid);
}

/* A C1 control in the notes (U+009F, the last of them) is escaped. */
Test(human_audit, notes_escape_the_last_c1_control)
{
	tu_run r;
	OK(&r, "--now", T0, "task", "add", "--title", "N", "--link", "lead:1",
	   "--notes", "x\xc2\x9fy");
	char *id = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS", "task", "show", id);
	cr_expect(strstr(r.out, "    x\\xc2\\x9fy\n"), "%s", r.out);
	cr_expect(!strstr(r.out, "\xc2\x9f"), "%s", r.out);
	tu_run_release(&r);
	free(id);
}

/* A zone name of exactly 14 characters is named whole in the heading. */
Test(human_audit, a_zone_name_of_14_characters_is_whole)
{
	tu_run r;
	rezone("Asia/Kathmandu");
	DO("--now", T0, "task", "add", "--title", "K", "--link", "lead:1");
	HUMAN(&r, "COLUMNS", "task", "list");
	cr_expect(strstr(r.out, "DUE (Asia/Kathmandu)  STATUS"), "%s", r.out);
	tu_run_release(&r);
}

/* A zone west of UTC shows its repeated hour's offset, "-04:00". */
Test(human_audit, a_repeated_hour_west_of_utc_has_its_offset)
{
	tu_run r;
	rezone("America/New_York");
	DO("--now", T0, "task", "add", "--title", "Fall", "--link", "lead:1",
	   "--due", "2026-11-01T05:30:00Z");
	HUMAN(&r, "COLUMNS", "task", "list");
	cr_expect(strstr(r.out, "  2026-11-01 01:30 -04:00  "), "%s", r.out);
	tu_run_release(&r);
}

/* Code points the C library gives no width (unassigned, U+0378) take
 * one column each: a long title of them is cut to the table. */
Test(human_audit, unassigned_code_points_take_a_column)
{
	tu_run r;
	char title[1 + 2 * 70 + 1];
	title[0] = 'x';
	for (int i = 0; i < 70; i++)
		memcpy(title + 1 + 2 * i, "\xcd\xb8", 2);
	title[sizeof title - 1] = 0;
	DO("--now", T0, "task", "add", "--title", title, "--link", "lead:1");
	HUMAN(&r, "COLUMNS", "task", "list");
	cr_expect(strstr(r.out, "\xe2\x80\xa6\n"), "not cut: %s", r.out);
	cr_expect_eq(tu_check_width(r.out), 2, "%s", r.out);
	tu_run_release(&r);
}

/* From 236 columns on the ASSIGNEE column holds a whole 64-character
 * member id. */
Test(human_audit, a_wide_table_shows_a_whole_64_character_assignee)
{
	tu_run r;
	char id[65], cell[70];
	memset(id, 'm', 64);
	id[64] = 0;
	DO("member", "add", id, "--name", "Long");
	DO("--now", T0, "task", "add", "--title", "T", "--link", "lead:1",
	   "--assignee", id);
	HUMAN(&r, "COLUMNS=300", "task", "list");
	snprintf(cell, sizeof cell, "  %s  ", id);
	cr_expect(strstr(r.out, cell), "%s", r.out);
	tu_run_release(&r);
}

/* A due time with its offset (a repeated hour) leaves the assignee that
 * much less: in 110 columns 22 less 4 (23 past the heading's 19), 18. */
Test(human_audit, an_offset_in_the_due_column_narrows_the_assignee)
{
	tu_run r;
	rezone("Europe/Berlin");
	const char *id = "abcdefghijklmnopqrstuvwxyz0123";
	DO("member", "add", id, "--name", "Long");
	DO("--now", T0, "task", "add", "--title", "T", "--link", "lead:1",
	   "--assignee", id, "--due", "2026-10-25T00:30:00Z");
	HUMAN(&r, "COLUMNS=110", "task", "list");
	cr_expect(strstr(r.out, "2026-10-25 02:30 +02:00"), "%s", r.out);
	cr_expect(strstr(r.out, "  abcdefghijklmnopq\xe2\x80\xa6  "), "%s",
		  r.out);
	tu_run_release(&r);
}

/* In 80 columns the member table's ID column is 32 wide. */
Test(human_audit, member_ids_are_cut_to_32_columns_in_80)
{
	tu_run r;
	char id[41];
	memset(id, 'q', 40);
	id[40] = 0;
	DO("member", "add", id, "--name", "Q");
	HUMAN(&r, "COLUMNS", "member", "list");
	char want[64];
	snprintf(want, sizeof want, "%.31s\xe2\x80\xa6  Q ", id);
	cr_expect(strstr(r.out, want), "%s", r.out);
	tu_run_release(&r);
}

/* The notifications' BY column is cut at 16 columns in 80, as ACTOR. */
Test(human_audit, notification_by_is_cut_at_16_columns_in_80)
{
	tu_run r;
	const char *by = "abcdefghijklmnopq"; /* 17 */
	DO("member", "add", by, "--name", "By");
	DO("--now", T0, "--as", by, "task", "add", "--title", "For Alice",
	   "--link", "lead:1", "--assignee", "alice");
	HUMAN(&r, "COLUMNS", "notifications", "--member", "alice");
	cr_expect(strstr(r.out, "  abcdefghijklmno\xe2\x80\xa6  "), "%s",
		  r.out);
	cr_expect(strstr(r.out, "For Alice\n"), "%s", r.out);
	tu_run_release(&r);
}

/* A task's keys in a column of 12, "-" for no tags, "Deleted yes" once
 * it is deleted. */
Test(human_audit, show_aligns_its_keys_and_says_deleted)
{
	tu_run r;
	OK(&r, "--now", T0, "task", "add", "--title", "Gone", "--link",
	   "lead:1");
	char *id = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS", "task", "show", id);
	cr_expect(strstr(r.out, "\nTitle       Gone\n"), "%s", r.out);
	cr_expect(strstr(r.out, "\nTags        -\n"), "%s", r.out);
	cr_expect(!strstr(r.out, "Deleted"), "%s", r.out);
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS", "task", "delete", id);
	cr_expect(strstr(r.out, "\nDeleted     yes\n"), "%s", r.out);
	tu_run_release(&r);
	free(id);
}

/* A member for people: "CRM access  yes" or "no". */
Test(human_audit, a_member_shows_its_crm_access)
{
	tu_run r;
	HUMAN(&r, "COLUMNS", "member", "update", "alice", "--name", "Al");
	cr_expect(strstr(r.out, "\nCRM access  yes\n"), "%s", r.out);
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS", "member", "update", "alice", "--no-crm-access");
	cr_expect(strstr(r.out, "\nCRM access  no\n"), "%s", r.out);
	tu_run_release(&r);
}

/* The log for people: the seq right-aligned in 6 columns. */
Test(human_audit, the_log_right_aligns_seq_in_six)
{
	tu_run r;
	HUMAN(&r, "COLUMNS", "log");
	cr_expect(!strncmp(r.out, "     1  2026-03-02T09:00:00.000Z  "
			   "workspace.initialized ",
			   strlen("     1  2026-03-02T09:00:00.000Z  "
				  "workspace.initialized ")),
		  "%s", r.out);
	tu_run_release(&r);
}

/* The escapes of one character (U+202E: "\xe2\x80\xae", 12 columns) are
 * cut as one: in a title of 29 columns (81 wide), where 20 letters and
 * two of its three escapes would fit, the letters then the ellipsis. */
Test(human_audit, a_cut_keeps_an_escaped_character_whole)
{
	tu_run r;
	DO("--now", T0, "task", "add", "--title",
	   "aaaaaaaaaaaaaaaaaaaa\xe2\x80\xae" "bbbbbbbbbbbb", "--link",
	   "lead:1");
	HUMAN(&r, "COLUMNS=81", "task", "list");
	cr_expect(strstr(r.out, "  aaaaaaaaaaaaaaaaaaaa\xe2\x80\xa6\n"), "%s",
		  r.out);
	tu_run_release(&r);
}

/* A list in a history's WHAT is joined by commas: "tags a,b". */
Test(human_audit, history_joins_a_list_with_commas)
{
	tu_run r;
	OK(&r, "--now", T0, "task", "add", "--title", "H", "--link", "lead:1",
	   "--tag", "a", "--tag", "b");
	char *id = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS=200", "task", "show", id, "--history");
	cr_expect(strstr(r.out, ", tags a,b\n"), "%s", r.out);
	tu_run_release(&r);
	free(id);
}

/* A notification marked read says "read", one not yet "new". */
Test(human_audit, a_read_notification_says_read)
{
	tu_run r;
	DO("--now", T0, "task", "add", "--title", "N1", "--link", "lead:1",
	   "--assignee", "alice");
	DO("--now", T0, "task", "add", "--title", "N2", "--link", "lead:1",
	   "--assignee", "alice");
	OK(&r, "--as", "alice", "notifications");
	long long first =
		tu_int(json_array_get(json_object_get(r.json, "items"), 0),
		       "id");
	tu_run_release(&r);
	char ids[24];
	snprintf(ids, sizeof ids, "%lld", first);
	DO("--as", "alice", "notifications", "read", ids);
	HUMAN(&r, "COLUMNS", "--as", "alice", "notifications");
	cr_expect(strstr(r.out, "  read   "), "%s", r.out);
	cr_expect(strstr(r.out, "  new    "), "%s", r.out);
	tu_run_release(&r);
}

/* A history quotes notes as it quotes titles, and leaves out what a new
 * task leaves unset (no tags: no "tags"). */
Test(human_audit, history_quotes_notes_and_skips_empty_lists)
{
	tu_run r;
	OK(&r, "--now", T0, "task", "add", "--title", "H", "--link", "lead:1",
	   "--notes", "hello");
	char *id = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS=300", "task", "show", id, "--history");
	cr_expect(strstr(r.out, "notes \"hello\""), "%s", r.out);
	cr_expect(!strstr(r.out, "tags"), "%s", r.out);
	tu_run_release(&r);
	free(id);
}

/* In 80 columns, a due column with an offset (23, 7 past New_York's
 * heading) leaves the assignee its least, 8. */
Test(human_audit, the_assignee_keeps_8_columns_beside_an_offset)
{
	tu_run r;
	rezone("America/New_York");
	DO("member", "add", "abcdefghijkl", "--name", "L");
	DO("--now", T0, "task", "add", "--title", "Fall", "--link", "lead:1",
	   "--due", "2026-11-01T05:30:00Z", "--assignee", "abcdefghijkl");
	HUMAN(&r, "COLUMNS", "task", "list");
	cr_expect(strstr(r.out, " -04:00  To Do   Task  abcdefg\xe2\x80\xa6  "),
		  "%s", r.out);
	tu_run_release(&r);
}

/* From 128 columns on the ACTOR column holds a whole 64-character
 * member id. */
Test(human_audit, a_wide_history_shows_a_whole_64_character_actor)
{
	tu_run r;
	char id[65], cell[80];
	memset(id, 'm', 64);
	id[64] = 0;
	DO("member", "add", id, "--name", "Long");
	OK(&r, "--now", T0, "--as", id, "task", "add", "--title", "T",
	   "--link", "lead:1");
	char *tid = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	HUMAN(&r, "COLUMNS=200", "task", "show", tid, "--history");
	snprintf(cell, sizeof cell, "  %s  created: ", id);
	cr_expect(strstr(r.out, cell), "%s", r.out);
	tu_run_release(&r);
	free(tid);
}

/* A change of due whose new time only is past year 9999 on the zone's
 * clock writes that time in UTC, and says so. */
Test(human_audit, a_change_to_past_9999_says_utc)
{
	tu_run r;
	rezone("Europe/Berlin");
	OK(&r, "--now", T0, "task", "add", "--title", "X", "--link", "lead:1",
	   "--due", "2026-03-05T10:00:00Z");
	char *id = strdup(tu_str(r.json, "id"));
	tu_run_release(&r);
	DO("--now", T0, "task", "update", id, "--due", "9999-12-31T23:30:00Z");
	HUMAN(&r, "COLUMNS=200", "task", "show", id, "--history");
	cr_expect(strstr(r.out, "updated: due 2026-03-05 11:00 +01:00 "
				"\xe2\x86\x92 9999-12-31 23:30 UTC\n"),
		  "%s", r.out);
	tu_run_release(&r);
	free(id);
}
