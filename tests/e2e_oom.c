/*
 * e2e_oom.c - the `tasklog` binary with the k-th allocation failing, for
 * every k in turn until a run meets none (tests/failalloc.c, preloaded):
 * every allocation of the process once main() has begun, the CLI's,
 * jansson's, the library's, LMDB's, msgpack-c's and the C library's.
 *
 * A run must never die of a signal.  A reading command answers exactly as
 * without the fault, or exits 5 saying "out of memory"; a writing one
 * appends its event and exits 0, or exits 5 saying "out of memory" and
 * appends nothing.
 *
 * The library is $TL_FAILALLOC, else build/tests/failalloc.so.  Under a
 * sanitizer the binary's runtime owns malloc: the tests are skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "testutil.h"

#if defined(TL_SANITIZER) || defined(__SANITIZE_ADDRESS__) || \
	defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

static char *ws, *home;
static char report[256];
static char big[40]; /* a task whose notes make every output long */
static const char *now = "2026-11-20T09:00:00Z";

static void setup(void)
{
	tu_run r;
	/* every test skips itself there; Criterion's skip runs no fini, so
	 * a workspace made here would be left in /tmp */
	if (UNDER_SANITIZER)
		return;
	ws = home = tu_tmpdir();
	snprintf(report, sizeof report, "%s.report", ws);
	DO("init", "--tz", "Europe/Berlin", "--now", now);
	DO("member", "add", "alice", "--name", "Alice", "--now", now);
	for (int i = 0; i < 3; i++) {
		OK(&r, "task", "add", "--title", "Call Dana", "--type", "call",
		   "--link", "lead:1", "--assignee", "alice", "--due", "+2d",
		   "--tag", "vip", "--now", now);
		tu_run_release(&r);
	}
	/* Notes of 24 KB in 600 lines: outputs past the first 16 KB of a
	 * growing buffer, so that its growth fails too. */
	static char notes[600 * 40 + 1];
	for (int i = 0; i < 600; i++)
		snprintf(notes + 40 * i, 41, "%-39.39s\n",
			 "line of the offer's notes, to be read");
	OK(&r, "task", "add", "--title", "Send the offer", "--link", "lead:1",
	   "--notes", notes, "--now", now);
	snprintf(big, sizeof big, "%s", tu_str(r.json, "id"));
	tu_run_release(&r);
}

static void teardown(void)
{
	if (!home)
		return;
	/* ws itself may point at a test's fresh workspace, below home */
	tu_rmrf(home);
	unlink(report);
	free(home);
}

static const char *lib(void)
{
	const char *p = getenv("TL_FAILALLOC");
	return p && p[0] ? p : "build/tests/failalloc.so";
}

/* Run the words with the k-th fault of the kind VAR names
 * (TL_FAIL_ALLOC: an allocation failing; TL_FULL_PUT: a put finding the
 * map full) (k 0: none); *hit says whether the fault was met. */
static void run_faulting(tu_run *r, const char *var, long k,
			 const char *const words[], bool *hit)
{
	char preload[300], at[48], rep[300];
	snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib());
	snprintf(at, sizeof at, "%s=%ld", var, k);
	snprintf(rep, sizeof rep, "TL_FAIL_REPORT=%s", report);
	const char *env[] = { preload, at, rep, NULL };
	const char *argv[40];
	size_t n = 0;
	argv[n++] = "--db";
	argv[n++] = ws;
	for (size_t i = 0; words[i]; i++) {
		cr_assert_lt(n, 38);
		argv[n++] = words[i];
	}
	argv[n] = NULL;
	unlink(report);
	tu_opts o = { .env = env };
	cr_assert_eq(tu_exec(r, &o, argv), 0, "cannot run %s", tu_bin());
	char line[64] = "";
	FILE *f = fopen(report, "r");
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = 0;
		fclose(f);
	}
	cr_assert(r->status >= 128 || line[0],
		  "k = %ld: exit %d and no report from %s", k, r->status,
		  lib());
	*hit = !strncmp(line, "hit", 3);
}

/* Run the words with the k-th allocation failing (k 0: none). */
static void run_failing(tu_run *r, long k, const char *const words[],
			bool *hit)
{
	run_faulting(r, "TL_FAIL_ALLOC", k, words, hit);
}

/* A failed run: exit 5 saying "out of memory", and nothing else. */
static void expect_oom(const tu_run *r, long k, const char *what)
{
	cr_assert_lt(r->status, 128,
		     "%s, allocation %ld failing: killed by signal %d\n"
		     "stderr: %s", what, k, r->status - 128, r->err);
	cr_assert_eq(r->status, 5,
		     "%s, allocation %ld failing: exit %d\nstdout: %s\n"
		     "stderr: %s", what, k, r->status, r->out, r->err);
	cr_assert(strstr(r->err, "out of memory"),
		  "%s, allocation %ld failing: stderr: %s", what, k, r->err);
	/* and nothing else: not damage first (a review saw task show
	 * --history --json say "undecodable record" before it, 0.3.50) */
	cr_assert(!strstr(r->err, "undecodable"),
		  "%s, allocation %ld failing: stderr: %s", what, k, r->err);
}

/* What a failed export printed: whole lines, each a JSON document (with
 * --json the last one the error). */
static void whole_lines(const tu_run *r, long k, const char *what)
{
	const char *p = r->out;
	for (int line = 1; *p; line++) {
		const char *e = strchr(p, '\n');
		cr_assert(e, "%s, allocation %ld failing: a line cut short: %s",
			  what, k, p);
		json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
		cr_assert(j, "%s, allocation %ld failing: line %d is not JSON: "
			  "%.*s", what, k, line, (int)(e - p), p);
		json_decref(j);
		p = e + 1;
	}
}

/* Every allocation of a reading command failing in turn. */
static long sweep_read(const char *const words[], const char *what)
{
	tu_run want, r;
	bool hit;
	run_failing(&want, 0, words, &hit);
	cr_assert_eq(want.status, 0, "%s: exit %d: %s", what, want.status,
		     want.err);
	long k;
	for (k = 1;; k++) {
		run_failing(&r, k, words, &hit);
		if (r.status != 0) {
			expect_oom(&r, k, what);
			if (strstr(what, "export")) /* it streams */
				whole_lines(&r, k, what);
		} else {
			cr_assert(r.out_len == want.out_len &&
					  !memcmp(r.out, want.out, r.out_len),
				  "%s, allocation %ld failing: exit 0 with "
				  "another output:\n%s\nwanted:\n%s",
				  what, k, r.out, want.out);
		}
		tu_run_release(&r);
		if (!hit)
			break;
	}
	tu_run_release(&want);
	return k - 1;
}

TestSuite(oom, .init = setup, .fini = teardown);

Test(oom, every_allocation_failing_in_reading_commands)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	tu_run r;
	OK(&r, "task", "list", "--now", now);
	const char *id = tu_str(json_array_get(json_object_get(r.json,
							       "items"), 0),
				"id");
	cr_assert(id);
	char task[40];
	snprintf(task, sizeof task, "%s", id);
	tu_run_release(&r);

	const char *const list_json[] = { "--json", "--now", now, "task",
					  "list", NULL };
	const char *const list_text[] = { "--now", now, "task", "list",
					  "--sort", "updated", NULL };
	const char *const show[] = { "--json", "--now", now, "task", "show",
				     task, "--history", NULL };
	const char *const timeline[] = { "--json", "--now", now, "timeline",
					 "lead:1", NULL };
	const char *const upcoming[] = { "--now", now, "--as", "alice",
					 "upcoming", NULL };
	const char *const notes[] = { "--json", "--now", now, "--as",
				      "alice", "notifications", NULL };
	const char *const log[] = { "--json", "log", NULL };
	const char *const export[] = { "export", NULL };
	const char *const export_json[] = { "--json", "export", NULL };
	const char *const export_actor[] = { "export", "--actor", "admin",
					     "--since", "2020-01-01", NULL };
	const char *const show_text[] = { "--now", now, "task", "show", task,
					  "--history", NULL };
	const char *const timeline_text[] = { "--now", now, "timeline",
					      "lead:1", NULL };
	const char *const members[] = { "member", "list", NULL };
	const char *const stats[] = { "--json", "stats", NULL };
	const char *const verify[] = { "--json", "verify", NULL };
	struct {
		const char *const *words;
		const char *what;
	} cmds[] = {
		{ list_json, "task list --json" },
		{ list_text, "task list" },
		{ show, "task show --history" },
		{ timeline, "timeline" },
		{ upcoming, "upcoming" },
		{ notes, "notifications" },
		{ log, "log" },
		{ export, "export" },
		{ export_json, "export --json" },
		{ export_actor, "export --actor --since" },
		{ show_text, "task show --history (people)" },
		{ timeline_text, "timeline (people)" },
		{ members, "member list" },
		{ stats, "stats" },
		{ verify, "verify" },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		long n = sweep_read(cmds[i].words, cmds[i].what);
		cr_assert_gt(n, 10, "%s: only %ld allocations", cmds[i].what,
			     n);
	}
}

/* Out of memory is said once, wherever the allocation failed: exit 5,
 * one line on stderr, and on stdout nothing for people or, with --json,
 * the error document alone (docs/cli.md).  The main's own paths are
 * the ones checked here: its output stream that cannot be made (before
 * the words are parsed: --json is looked for in them), and an error
 * line already said by the command before its output was found short
 * (said again, a mutation audit found, went unnoticed: expect_oom looks
 * for the words, not for one line); a run that succeeds prints what it
 * prints without the fault.  Until 0.3.37 the stream's failure
 * printed no document with --json.  Export's msgpack records get no
 * document whatever fails, as for its other errors. */
Test(oom, every_allocation_failing_is_one_line_and_with_json_one_document)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	/* member list's JSON is made by jansson, whose failure is found
	 * after the command said its error; the table of tasks has times in
	 * the workspace's zone (read before the command runs, its failure
	 * the command's error, not "times in UTC") and its filter is an
	 * option that may be repeated (its list allocated) */
	const char *const json[] = { "--json", "member", "list", NULL };
	const char *const text[] = { "--now", now, "task", "list",
				     "--assignee", "alice", NULL };
	const char *const msgpack[] = { "--json", "export", "--format",
					"msgpack", NULL };
	const char *const *const cmds[] = { json, text, msgpack };
	for (int i = 0; i < 3; i++) {
		long failed = 0, k;
		bool hit = true;
		tu_run want;
		run_failing(&want, 0, cmds[i], &hit);
		cr_assert_eq(want.status, 0, "%s", want.err);
		hit = true;
		/* the msgpack export: its first 60 allocations, the output
		 * stream's among them */
		for (k = 1; hit && (i < 2 || k <= 60); k++) {
			tu_run r;
			run_failing(&r, k, cmds[i], &hit);
			if (r.status == 0) {
				cr_assert(r.out_len == want.out_len &&
						  !memcmp(r.out, want.out,
							  r.out_len),
					  "%s, allocation %ld failing: exit 0 "
					  "with another output:\n%s",
					  cmds[i][1], k, r.out);
				tu_run_release(&r);
				continue;
			}
			failed++;
			expect_oom(&r, k, cmds[i][1]);
			cr_assert(tu_err_names(&r, "out of memory"),
				  "%s, allocation %ld failing: not one line: "
				  "%s", cmds[i][1], k, r.err);
			if (i == 0) {
				json_t *e = json_object_get(r.json, "error");
				const char *m = tu_str(e, "message");
				cr_assert(m && strstr(m, "out of memory"),
					  "allocation %ld failing: stdout: %s",
					  k, r.out);
				cr_assert_str_eq(tu_str(e, "code"), "storage");
				cr_assert_str_eq(tu_str(e, "field"), "storage");
				cr_assert_eq(strchr(r.out, '\n') + 1,
					     r.out + r.out_len,
					     "allocation %ld failing: more "
					     "than the document: %s", k, r.out);
			} else if (i == 1) {
				cr_assert_eq(r.out_len, 0,
					     "allocation %ld failing: stdout: "
					     "%s", k, r.out);
			} else {
				cr_assert(!memmem(r.out, r.out_len, "{\"error\"",
						  8),
					  "allocation %ld failing: a JSON "
					  "document among msgpack records",
					  k);
			}
			tu_run_release(&r);
		}
		cr_assert_gt(failed, i < 2 ? 10 : 3, "%s: %ld failures",
			     cmds[i][1], failed);
		tu_run_release(&want);
	}
}

/* The shape of an output: its JSON members' names, or its number of
 * lines. */
static void shape(const tu_run *r, char *out, size_t cap)
{
	const char *key;
	json_t *v;
	size_t n = 0, lines = 0;
	out[0] = 0;
	if (!r->json) {
		for (size_t i = 0; i < r->out_len; i++)
			lines += r->out[i] == '\n';
		snprintf(out, cap, "%zu lines", lines);
		return;
	}
	json_object_foreach(r->json, key, v)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s,",
				      key);
}

/* Every allocation of a command that appends `appends` events failing in
 * turn; then verify is clean.  A success must print what one without a
 * fault prints, as far as its shape goes (the values differ: "%K" in
 * words is a value of its own in each run, "v0", "v1", ..., so that every
 * run changes something). */
static long sweep_write(const char *const words[], const char *what,
			long long appends)
{
	long long after;
	long long before = tu_stat(ws, "events");
	char want[2048] = "", got[2048];
	long k;
	for (k = 0;; k++, before = after) {
		const char *w[40];
		char v[32];
		snprintf(v, sizeof v, "v%ld", k);
		size_t n;
		for (n = 0; words[n]; n++) {
			cr_assert_lt(n, 39);
			w[n] = strcmp(words[n], "%K") ? words[n] : v;
		}
		w[n] = NULL;
		tu_run r;
		bool hit;
		run_failing(&r, k, w, &hit);
		after = tu_stat(ws, "events");
		if (r.status != 0) {
			expect_oom(&r, k, what);
			/* no record's fault (0.3.43: an import's said "line
			 * 3: view tasks: out of memory") */
			cr_assert(!strstr(r.err, "storage: line ") &&
					  !strstr(r.err, "storage: record "),
				  "%s, allocation %ld failing: %s", what, k,
				  r.err);
			cr_assert_eq(after, before,
				     "%s, allocation %ld failing: failed, yet "
				     "appended", what, k);
		} else {
			shape(&r, got, sizeof got);
			if (k == 0)
				memcpy(want, got, sizeof want);
			cr_assert_str_eq(got, want, "%s, allocation %ld "
					 "failing: printed %s, wanted %s\n%s",
					 what, k, got, want, r.out);
			cr_assert_eq(after, before + appends,
				     "%s, allocation %ld failing: exit 0 with "
				     "%lld events appended", what, k,
				     after - before);
		}
		cr_assert(k || r.status == 0, "%s: exit %d: %s", what,
			  r.status, r.err);
		tu_run_release(&r);
		if (k && !hit)
			break;
	}
	tu_run r;
	OK(&r, "verify");
	tu_run_release(&r);
	return k - 1;
}

Test(oom, every_allocation_failing_in_a_task_add_appends_nothing)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	const char *const add[] = { "--json", "--now", now, "task", "add",
				    "--title", "Demo", "--type", "demo",
				    "--link", "account:7", "--assignee",
				    "alice", "--due",
				    "2026-12-01T10:00:00+01:00",
				    "--tag", "q4", NULL };
	long n = sweep_write(add, "task add", 1);
	cr_assert_gt(n, 100);
}

Test(oom, every_allocation_failing_in_an_update_appends_nothing)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	tu_run r;
	OK(&r, "task", "list", "--now", now);
	char task[40];
	snprintf(task, sizeof task, "%s",
		 tu_str(json_array_get(json_object_get(r.json, "items"), 0),
			"id"));
	tu_run_release(&r);
	const char *const update[] = { "--json", "--now", now, "task",
				       "update", task, "--title", "%K",
				       "--notes", "%K", NULL };
	const char *const member[] = { "--json", "--now", now, "member",
				       "add", "bob", "--name", "Bob", NULL };
	cr_assert_gt(sweep_write(update, "task update", 1), 100);
	/* as a table of 600 lines of notes: past a buffer's first 16 KB */
	const char *const update_text[] = { "--now", now, "task", "update",
					    big, "--title", "%K", NULL };
	cr_assert_gt(sweep_write(update_text, "task update (text)", 1), 100);
	/* the first success adds bob; later runs are refused (conflict)
	 * before they append: only the runs up to it count */
	long k;
	for (k = 1;; k++) {
		long long before = tu_stat(ws, "events");
		bool hit;
		run_failing(&r, k, member, &hit);
		long long after = tu_stat(ws, "events");
		if (r.status == 0) {
			cr_assert_eq(after, before + 1, "member add, "
				     "allocation %ld failing", k);
			tu_run_release(&r);
			break;
		}
		expect_oom(&r, k, "member add");
		cr_assert_eq(after, before, "member add, allocation %ld "
			     "failing: failed, yet appended", k);
		tu_run_release(&r);
		cr_assert(hit, "member add failed without a fault");
	}
	/* a token: made and printed, or out of memory; never an event */
	const char *const token[] = { "--json", "member", "token", "bob",
				      NULL };
	long long events = tu_stat(ws, "events");
	for (k = 1;; k++) {
		bool hit;
		run_failing(&r, k, token, &hit);
		if (r.status)
			expect_oom(&r, k, "member token");
		else
			cr_assert(r.json && strlen(tu_str(r.json, "token")) ==
						    67,
				  "member token, allocation %ld failing: %s",
				  k, r.out);
		tu_run_release(&r);
		if (!hit)
			break;
	}
	cr_assert_gt(k, 10);
	cr_assert_eq(tu_stat(ws, "events"), events);
	OK(&r, "verify");
	cr_assert(json_is_true(json_object_get(r.json, "ok")), "%s", r.out);
	tu_run_release(&r);
}

/* A rebuild rewrites the views only: it succeeds or leaves them as they
 * were, and verify is clean either way. */
Test(oom, every_allocation_failing_in_a_rebuild_keeps_the_views)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	const char *const rebuild[] = { "--json", "rebuild", NULL };
	long k;
	for (k = 1;; k++) {
		tu_run r, v;
		bool hit;
		run_failing(&r, k, rebuild, &hit);
		if (r.status != 0)
			expect_oom(&r, k, "rebuild");
		OK(&v, "verify");
		cr_assert(json_is_true(json_object_get(v.json, "ok")),
			  "rebuild, allocation %ld failing: %s", k, v.out);
		tu_run_release(&v);
		tu_run_release(&r);
		if (!hit)
			break;
	}
	cr_assert_gt(k, 50, "only %ld allocations", k - 1);
}

/* init: exit 0 with the workspace made (its output, or a line saying it
 * could not be printed), or exit 5 "out of memory" with nothing made that
 * a second init would not complete. */
Test(oom, every_allocation_failing_in_an_init_leaves_a_workspace_or_none)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char *saved = ws;
	char fresh[300];
	long k;
	for (k = 1;; k++) {
		snprintf(fresh, sizeof fresh, "%s/w%ld", saved, k);
		ws = fresh; /* run_failing and OK use ws */
		const char *const init[] = { "--json", "init", "--tz",
					     "Europe/Berlin", NULL };
		tu_run r;
		bool hit;
		run_failing(&r, k, init, &hit);
		if (r.status != 0) {
			expect_oom(&r, k, "init");
			tu_run r2;
			OK(&r2, "init", "--tz", "Europe/Berlin");
			tu_run_release(&r2);
		} else if (strstr(r.err, "done, but its result could not "
				  "be printed")) {
			/* said once, why (the reason, not the code's name
			 * "storage": a mutation audit), and nothing half
			 * printed */
			cr_assert(tu_err_names(&r, "done, but"),
				  "init, allocation %ld failing: stderr %s", k,
				  r.err);
			cr_assert(strstr(r.err, "printed: ") &&
					  strstr(r.err, "out of memory\n"),
				  "init, allocation %ld failing: stderr %s", k,
				  r.err);
			cr_assert_eq(r.out_len, 0, "init, allocation %ld "
				     "failing: stdout %s", k, r.out);
		} else {
			cr_assert(r.json && json_is_true(json_object_get(
						     r.json, "ok")),
				  "init, allocation %ld failing: exit 0, "
				  "stdout %s, stderr %s", k, r.out, r.err);
		}
		tu_run_release(&r);
		tu_run v;
		OK(&v, "verify");
		cr_assert(json_is_true(json_object_get(v.json, "ok")),
			  "init, allocation %ld failing: %s", k, v.out);
		tu_run_release(&v);
		if (!hit)
			break;
	}
	ws = saved;
	cr_assert_gt(k, 50, "only %ld allocations", k - 1);
}

/* An input file beside the workspace, ws + SUFFIX, holding TEXT. */
static void write_input(char *path, size_t cap, const char *suffix,
			const char *text)
{
	snprintf(path, cap, "%s%s", ws, suffix);
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(oom, every_allocation_failing_in_a_task_import_appends_nothing)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char path[300];
	write_input(path, sizeof path, ".tasks.jsonl",
		    "{\"title\": \"Call\", \"link\": {\"type\": \"lead\", \"id\": "
		    "\"1\"}, \"assignee\": \"alice\", \"due_at\": \"+2d\", "
		    "\"tags\": [\"a\", \"b\"]}\n"
		    "{\"title\": \"Mail\", \"link\": \"contact:2\", \"status\": "
		    "\"completed\", \"notes\": \"n\"}\n"
		    "{\"method\": \"task.add\", \"params\": {\"title\": \"Meet\", "
		    "\"link\": \"account:3\", \"tag\": \"c\", "
		    "\"expect_version\": 0}}\n");
	const char *const words[] = { "--json", "--now", now, "import", path,
				      NULL };
	long n = sweep_write(words, "import", 3);
	remove(path);
	cr_assert_gt(n, 100);
}

/* Commands that change a task (the big one) and a member and change
 * them back: each run appends the same ten events. */
static void write_toggles(const char *path)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	static const char *const cmds[] = {
		"\"task.tag\", \"params\": {\"id\": \"%s\", \"tag\": \"x\"}",
		"\"task.untag\", \"params\": {\"id\": \"%s\", \"tag\": \"x\"}",
		"\"task.status\", \"params\": {\"id\": \"%s\", \"status\": "
		"\"in_progress\", \"idempotency_key\": null}",
		"\"task.status\", \"params\": {\"id\": \"%s\", \"status\": "
		"\"todo\"}",
		"\"task.assign\", \"params\": {\"id\": \"%s\", \"assignee\": "
		"\"alice\"}",
		"\"task.assign\", \"params\": {\"id\": \"%s\", \"unassign\": "
		"true}",
		"\"task.update\", \"params\": {\"id\": \"%s\", \"due\": \"+1d\", "
		"\"title\": \"Send it\"}",
		"\"task.update\", \"params\": {\"id\": \"%s\", \"no_due\": true, "
		"\"title\": \"Send the offer\"}",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		fputs("{\"method\": ", f);
		fprintf(f, cmds[i], big);
		fputs("}\n", f);
	}
	fputs("{\"method\": \"member.update\", \"params\": {\"id\": \"alice\", "
	      "\"name\": \"A\"}}\n"
	      "{\"method\": \"member.update\", \"params\": {\"id\": \"alice\", "
	      "\"name\": \"Alice\", \"role\": \"member\"}}\n",
	      f);
	cr_assert_eq(fclose(f), 0);
}

Test(oom, every_allocation_failing_in_an_import_of_commands_appends_nothing)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char path[300];
	snprintf(path, sizeof path, "%s.commands.jsonl", ws);
	write_toggles(path);
	const char *const words[] = { "--json", "--now", now, "import", path,
				      NULL };
	long n = sweep_write(words, "import of commands", 10);
	cr_assert_gt(n, 100);

	/* the same as msgpack: {"method": "task.tag", "params": {"id": big,
	 * "tag": "m", "due"...}} would be refused; tag and untag, with a
	 * link object in a task.add */
	unsigned char mp[512];
	size_t len = 0;
	for (int untag = 0; untag < 2; untag++) {
		static const unsigned char m[] = { 0x82, 0xa6, 'm', 'e', 't',
						   'h', 'o', 'd' };
		memcpy(mp + len, m, sizeof m);
		len += sizeof m;
		const char *name = untag ? "task.untag" : "task.tag";
		mp[len++] = (unsigned char)(0xa0 | strlen(name));
		memcpy(mp + len, name, strlen(name));
		len += strlen(name);
		static const unsigned char p[] = { 0xa6, 'p', 'a', 'r', 'a', 'm',
						   's', 0x82, 0xa2, 'i', 'd',
						   0xd9, 36 };
		memcpy(mp + len, p, sizeof p);
		len += sizeof p;
		memcpy(mp + len, big, 36);
		len += 36;
		static const unsigned char t[] = { 0xa3, 't', 'a', 'g', 0xa1,
						   'm' };
		memcpy(mp + len, t, sizeof t);
		len += sizeof t;
	}
	static const unsigned char add[] = {
		0x82, 0xa6, 'm', 'e', 't', 'h', 'o', 'd', 0xa8, 't', 'a', 's',
		'k', '.', 'a', 'd', 'd', 0xa6, 'p', 'a', 'r', 'a', 'm', 's',
		0x82, 0xa5, 't', 'i', 't', 'l', 'e', 0xa1, 'a', 0xa4, 'l', 'i',
		'n', 'k', 0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'l', 'e', 'a',
		'd', 0xa2, 'i', 'd', 0xa1, '5',
	};
	memcpy(mp + len, add, sizeof add);
	len += sizeof add;
	remove(path); /* the JSON Lines file */
	snprintf(path, sizeof path, "%s.commands.mp", ws);
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	cr_assert_eq(fwrite(mp, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	const char *const mwords[] = { "--json", "--now", now, "import",
				       "--format", "msgpack", path, NULL };
	n = sweep_write(mwords, "import of msgpack commands", 3);
	remove(path);
	cr_assert_gt(n, 50);
}

/* With --batch 1 a failure keeps the batches before it, and says so:
 * exactly the events it names were appended (the parser's allocations
 * among the failures, which end the process at once). */
Test(oom, every_allocation_failing_in_a_batched_import_says_what_it_kept)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char path[300];
	snprintf(path, sizeof path, "%s.commands.jsonl", ws);
	write_toggles(path);
	const char *const words[] = { "--json", "--now", now, "import",
				      "--batch", "1", path, NULL };
	long k, kept = 0;
	for (k = 1;; k++) {
		long long before = tu_stat(ws, "events");
		tu_run r;
		bool hit;
		run_failing(&r, k, words, &hit);
		long long after = tu_stat(ws, "events");
		if (!hit) {
			cr_assert_eq(r.status, 0, "%s", r.err);
			tu_run_release(&r);
			break;
		}
		if (r.status == 0) { /* the failure was absorbed */
			tu_run_release(&r);
			continue;
		}
		expect_oom(&r, k, "import --batch 1");
		json_t *e = json_object_get(r.json, "error");
		if (!e) { /* before the output could be buffered: the line */
			cr_assert_eq(after, before, "allocation %ld: %s", k,
				     r.err);
			tu_run_release(&r);
			continue;
		}
		const char *msg = tu_str(e, "message");
		const char *seq = strstr(msg, ": seq ");
		json_t *imported = json_object_get(e, "imported");
		/* (a batch of a command that changed nothing appends none:
		 * an earlier run may have left the task as it makes it) */
		if (!imported || !seq) {
			cr_assert_eq(after, before,
				     "allocation %ld: %s (%lld appended)", k,
				     msg, after - before);
		} else {
			long long a, b;
			cr_assert(seq && sscanf(seq, ": seq %lld..%lld", &a, &b) == 2,
				  "allocation %ld: %s", k, msg);
			cr_assert_eq(a, before + 1, "allocation %ld: %s", k, msg);
			cr_assert_eq(b, after, "allocation %ld: %s", k, msg);
			kept++;
		}
		tu_run_release(&r);
	}
	remove(path);
	cr_assert_gt(k, 100);
	cr_assert_gt(kept, 10, "no failure after a first batch");
	tu_run v;
	OK(&v, "verify");
	cr_assert(json_is_true(json_object_get(v.json, "ok")), "%s", v.out);
	tu_run_release(&v);
}

/* Into a new workspace each time: it holds the whole log, or nothing. */
Test(oom, every_allocation_failing_in_an_event_import_imports_all_or_none)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char path[300], head[200] = "";
	snprintf(path, sizeof path, "%s.log.jsonl", ws);
	tu_run e, v;
	cr_assert_eq(tu_cli_text(&e, ws, "export", NULL), 0);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	cr_assert_eq(fwrite(e.out, 1, e.out_len, f), e.out_len);
	cr_assert_eq(fclose(f), 0);
	tu_run_release(&e);
	OK(&v, "verify");
	snprintf(head, sizeof head, "%s", json_dumps(json_object_get(v.json,
								     "head"),
						     JSON_COMPACT));
	tu_run_release(&v);

	char *saved = ws;
	char fresh[300];
	long k;
	for (k = 1;; k++) {
		snprintf(fresh, sizeof fresh, "%s/w%ld", saved, k);
		ws = fresh;
		const char *const words[] = { "--json", "import", path,
					      "--events", NULL };
		tu_run r;
		bool hit;
		run_failing(&r, k, words, &hit);
		tu_run s;
		CLI(&s, "stats");
		if (r.status != 0 && !strstr(r.err, "done, but")) {
			expect_oom(&r, k, "import --events");
			/* each names the field storage (audit 23: the copy
			 * of the records, with a field "" for one of them) */
			cr_assert(!strncmp(r.err, "tasklog: storage: ", 18),
				  "import --events, allocation %ld failing: "
				  "%s", k, r.err);
			cr_assert_eq(s.status, 2, "import --events, allocation "
				     "%ld failing: failed, yet the workspace "
				     "holds %s", k, s.out);
		} else {
			OK(&v, "verify");
			char *got = json_dumps(json_object_get(v.json, "head"),
					       JSON_COMPACT);
			cr_assert_str_eq(got, head, "import --events, "
					 "allocation %ld failing", k);
			free(got);
			tu_run_release(&v);
		}
		tu_run_release(&s);
		tu_run_release(&r);
		if (!hit)
			break;
	}
	ws = saved;
	remove(path);
	cr_assert_gt(k, 50, "only %ld allocations", k - 1);
}

/* A copy of the workspace's data file into DIR (made), so that each run
 * of a sweep starts from the same map: every full map met doubles the
 * size the file stores. */
static void copy_workspace(const char *dir)
{
	char from[300], to[300], buf[1 << 16];
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s: %s", dir,
		     strerror(errno));
	snprintf(from, sizeof from, "%s/data.mdb", ws);
	snprintf(to, sizeof to, "%s/data.mdb", dir);
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	cr_assert(in && out, "copy %s: %s", from, strerror(errno));
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n, "copy: %s",
			     strerror(errno));
	cr_assert(!ferror(in) && fclose(out) == 0, "copy: %s",
		  strerror(errno));
	fclose(in);
}

/* A full map met at each put of a write in turn, those of the views'
 * entries made at commit too: the CLI's transaction is given up, the map
 * grown, and the command run again: exit 0, one event, the map doubled,
 * verify clean. */
static void sweep_full_map(const char *const words[], const char *what)
{
	char *saved = ws;
	char fresh[300];
	tu_run want;
	bool hit;
	long k;
	snprintf(fresh, sizeof fresh, "%s/full0", saved);
	copy_workspace(fresh);
	ws = fresh;
	run_faulting(&want, "TL_FULL_PUT", 0, words, &hit);
	cr_assert_eq(want.status, 0, "%s: exit %d: %s", what, want.status,
		     want.err);
	long long map = tu_stat(ws, "map_size"), events = tu_stat(ws, "events");
	for (k = 1;; k++) {
		tu_run r, v;
		ws = saved;
		snprintf(fresh, sizeof fresh, "%s/full%ld", saved, k);
		copy_workspace(fresh);
		ws = fresh;
		run_faulting(&r, "TL_FULL_PUT", k, words, &hit);
		cr_assert_eq(r.status, 0, "%s, put %ld finding the map full: "
			     "exit %d\nstderr: %s", what, k, r.status, r.err);
		cr_assert(r.out_len == want.out_len &&
				  !memcmp(r.out, want.out, r.out_len),
			  "%s, put %ld finding the map full: printed %s, "
			  "wanted %s", what, k, r.out, want.out);
		cr_assert_eq(tu_stat(ws, "events"), events, "%s, put %ld "
			     "finding the map full", what, k);
		if (hit)
			cr_assert_eq(tu_stat(ws, "map_size"), 2 * map,
				     "%s, put %ld finding the map full", what,
				     k);
		OK(&v, "verify");
		cr_assert(json_is_true(json_object_get(v.json, "ok")),
			  "%s, put %ld finding the map full: %s", what, k,
			  v.out);
		tu_run_release(&v);
		tu_run_release(&r);
		tu_rmrf(fresh);
		if (!hit)
			break;
	}
	ws = saved;
	tu_run_release(&want);
	cr_assert_gt(k, 10, "%s: only %ld puts", what, k - 1);
}

Test(oom, a_full_map_at_every_put_of_a_task_add_is_grown_and_run_again)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	const char *const add[] = { "--json", "--now", now, "task", "add",
				    "--title", "Demo", "--type", "demo",
				    "--link", "account:7", "--assignee",
				    "alice", "--due",
				    "2026-12-01T10:00:00+01:00", "--tag", "q4",
				    "--id",
				    "0193a1b2-0000-7000-8000-000000000001",
				    NULL };
	sweep_full_map(add, "task add");
}

/* The same for an import in two commits: the batch that met the full map
 * runs again, the other is not repeated. */
Test(oom, a_full_map_at_every_put_of_an_import_is_grown_and_run_again)
{
	if (UNDER_SANITIZER)
		cr_skip_test("a sanitizer owns malloc");
	char path[300];
	write_input(path, sizeof path, ".full.jsonl",
		    "{\"title\": \"Call\", \"link\": \"lead:1\", \"assignee\": "
		    "\"alice\", \"due_at\": \"+2d\", \"tags\": [\"a\"]}\n"
		    "{\"title\": \"Mail\", \"link\": \"contact:2\", \"status\": "
		    "\"completed\"}\n"
		    "{\"title\": \"Meet\", \"link\": \"account:3\", \"type\": "
		    "\"meeting\", \"assignee\": \"alice\"}\n");
	const char *const words[] = { "--json", "--now", now, "import", path,
				      "--batch", "2", NULL };
	sweep_full_map(words, "import --batch 2");
	remove(path);
}
