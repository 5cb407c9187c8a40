/*
 * e2e_export.c - end-to-end tests of `tasklog export`: the log as JSON
 * Lines, each line the event `log --json` prints, streamed to the
 * standard output; a failed write is an error, never a silent short file.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tasklog_projections.h"
#include "tasklog.h"
#include "testutil.h"

#define T0 "2026-03-02T09:00:00Z"

static char *ws;

static void setup(void)
{
	ws = tu_tmpdir();
	DO("init", "--now", T0);
	DO("member", "add", "alice", "--name", "Alice A");
	DO("member", "add", "nora", "--name", "No Access", "--no-crm-access");
}

static void teardown(void)
{
	tu_rmrf(ws);
	free(ws);
}

TestSuite(export_cli, .init = setup, .fini = teardown);

/* A task with an event of most kinds; its id, malloc'd. */
static char *busy_task(const char *title)
{
	const char *add[] = { "--now", T0, "task", "add", "--title", title,
			      "--link", "lead:42", "--due", "+2d", NULL };
	char *id = tu_cli_id(ws, add);
	DO("task", "assign", id, "alice");
	DO("task", "tag", id, "vip");
	DO("task", "update", id, "--title", "Renamed");
	DO("task", "status", id, "in_progress");
	DO("task", "complete", id);
	return id;
}

/* The lines of out, each parsed; *n of them. */
static json_t **lines_of(const char *out, size_t *n)
{
	size_t cap = 16;
	json_t **v = malloc(cap * sizeof *v);
	cr_assert(v);
	*n = 0;
	for (const char *p = out; *p;) {
		const char *e = strchr(p, '\n');
		cr_assert(e, "the last line has no newline: %s", p);
		json_error_t je;
		json_t *j = json_loadb(p, (size_t)(e - p), 0, &je);
		cr_assert(j, "line %zu is not JSON: %s", *n + 1, je.text);
		if (*n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof *v);
			cr_assert(v);
		}
		v[(*n)++] = j;
		p = e + 1;
	}
	return v;
}

static void free_lines(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
}

/* export's lines equal log --json's items for the same selection. */
static void same_as_log(const char *const *exp, const char *const *log,
			size_t want)
{
	tu_run re, rl;
	cr_assert_eq(tu_cli_text(&re, ws, exp[0], exp[1], exp[2], exp[3],
				 exp[4], NULL),
		     0);
	cr_assert_eq(re.status, 0, "%s", re.err);
	cr_assert_eq(re.err_len, 0, "%s", re.err);
	cr_assert_eq(tu_cli_argv(&rl, ws, log), 0);
	cr_assert_eq(rl.status, 0, "%s", rl.err);
	json_t *items = json_object_get(rl.json, "items");
	size_t n;
	json_t **v = lines_of(re.out, &n);
	cr_assert_eq(n, want, "%zu lines, wanted %zu", n, want);
	cr_assert_eq(json_array_size(items), n);
	for (size_t i = 0; i < n; i++)
		cr_assert(json_equal(v[i], json_array_get(items, i)),
			  "line %zu differs from log's item", i + 1);
	free_lines(v, n);
	tu_run_release(&re);
	tu_run_release(&rl);
}

Test(export_cli, prints_every_event_as_log_does_one_per_line)
{
	char *a = busy_task("First"), *b = busy_task("Second");
	DO("task", "delete", b);
	long long events = tu_stat(ws, "events");

	const char *all[] = { "export", NULL, NULL, NULL, NULL };
	const char *log_all[] = { "log", "--limit", "1000", NULL };
	same_as_log(all, log_all, (size_t)events);

	const char *from[] = { "export", "--from", "5", NULL, NULL };
	const char *log_from[] = { "log", "--from", "5", "--limit", "1000",
				   NULL };
	same_as_log(from, log_from, (size_t)events - 4);

	const char *one[] = { "export", "--stream", a + 28, NULL, NULL };
	const char *log_one[] = { "log", "--stream", a, "--limit", "1000",
				  NULL };
	same_as_log(one, log_one, 6);

	const char *past[] = { "export", "--from", "100000", NULL, NULL };
	const char *log_past[] = { "log", "--from", "100000", NULL };
	same_as_log(past, log_past, 0);
	free(a);
	free(b);
}

/* Bigger than any page, and lines longer than export's 64 KiB buffer
 * (notes of 65,000 bytes): all of it, in order, each line whole. */
Test(export_cli, streams_a_log_longer_than_a_page)
{
	char title[32];
	char *notes = malloc(65001);
	cr_assert(notes);
	memset(notes, 'n', 65000);
	notes[65000] = 0;
	for (int i = 0; i < 3; i++) {
		const char *add[] = { "task", "add", "--title", "Long notes",
				      "--link", "lead:1", "--notes", notes,
				      NULL };
		free(tu_cli_id(ws, add));
	}
	free(notes);
	for (int i = 0; i < 120; i++) {
		snprintf(title, sizeof title, "Task %d", i);
		const char *add[] = { "task", "add", "--title", title,
				      "--link", "lead:1", NULL };
		free(tu_cli_id(ws, add));
	}
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "export", NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	size_t n;
	json_t **v = lines_of(r.out, &n);
	cr_assert_eq((long long)n, tu_stat(ws, "events"));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tu_int(v[i], "seq"), (long long)i + 1);
	free_lines(v, n);
	tu_run_release(&r);
}

Test(export_cli, refuses_bad_arguments_and_members_without_access)
{
	tu_run r;
	EXPECT(&r, 1, "export", "--from", "x");
	cr_assert(tu_err_names(&r, "from"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "--stream", "nonsense");
	cr_assert(tu_err_names(&r, "stream"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "--limit", "5");
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "extra");
	tu_run_release(&r);
	EXPECT(&r, 4, "--as", "nora", "export");
	cr_assert_eq(r.out_len, strlen(r.out));
	cr_assert_null(strstr(r.out, "\"seq\""), "printed events: %s", r.out);
	tu_run_release(&r);
}

/* A write that fails (a full disk) is exit 5 naming the standard output,
 * in one line (with --json, before 0.3.20, a second one said that the
 * error document could not be written either); so is a closed one. */
Test(export_cli, a_failed_write_is_an_error)
{
	const char *const full[] = {
		"exec \"$0\" --db \"$1\" export >/dev/full",
		"exec \"$0\" --db \"$1\" export --json >/dev/full",
		"exec \"$0\" --db \"$1\" --json export >/dev/full",
		("exec \"$0\" --db \"$1\" --json export --format msgpack "
		 ">/dev/full"),
	};
	const char *closed = "exec \"$0\" --db \"$1\" export >&-";
	const char *const c2[] = { "-c", closed, tu_bin(), ws, NULL };
	tu_opts o = { .bin = "/bin/sh" };
	tu_run r;

	for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
		const char *const f2[] = { "-c", full[i], tu_bin(), ws, NULL };
		cr_assert_eq(tu_exec(&r, &o, f2), 0);
		cr_assert_eq(r.status, 5, "%s: exit %d: %s", full[i], r.status,
			     r.err);
		cr_assert(tu_err_names(&r, "writing the standard output"),
			  "%s: %s", full[i], r.err);
		tu_run_release(&r);
	}
	cr_assert_eq(tu_exec(&r, &o, c2), 0);
	cr_assert_eq(r.status, 5, "exit %d: %s", r.status, r.err);
	cr_assert(tu_err_names(&r, "standard output is closed"), "%s", r.err);
	tu_run_release(&r);
}

/* One read transaction: while another process appends, the export is the
 * log up to one commit, every seq once, in order, equal to the log.  On a
 * loaded machine the writer may not commit during one export (8 runs of 30
 * beside two other jobs): the export is run again, up to 20 times, until
 * one had a commit made while it ran; each is checked. */
Test(export_cli, is_the_log_as_of_its_start_while_another_process_writes,
     .timeout = 120)
{
	int pid = tu_writer_start(ws);
	long long before = 0, after = 0;
	for (int round = 0; round < 20 && after == before; round++) {
		before = tu_stat(ws, "last_seq");
		tu_run r;
		cr_assert_eq(tu_cli_text(&r, ws, "export", NULL), 0);
		after = tu_stat(ws, "last_seq");
		cr_assert_eq(r.status, 0, "%s", r.err);
		size_t n;
		json_t **v = lines_of(r.out, &n);
		cr_assert(before <= (long long)n && (long long)n <= after,
			  "%zu events, the log at %lld..%lld", n, before,
			  after);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(tu_int(v[i], "seq"), (long long)i + 1);
		char from[24];
		snprintf(from, sizeof from, "%zu", n);
		tu_run l;
		OK(&l, "log", "--from", from, "--limit", "1");
		cr_assert(json_equal(v[n - 1],
				     json_array_get(json_object_get(l.json,
								    "items"),
						    0)),
			  "the last line is not the log's event %zu", n);
		tu_run_release(&l);
		free_lines(v, n);
		tu_run_release(&r);
	}
	tu_writer_stop(pid);
	cr_assert_gt(after, before, "nothing was written during 20 exports");
}

/* Events of an older schema are exported as stored (schema 1 and its
 * shape, the hash over those bytes), as `log` prints them. */
Test(export_cli, keeps_older_events_as_stored)
{
	char dir[] = "/tmp/tasklog-e2e-v1-XXXXXX";
	cr_assert(mkdtemp(dir));
	tl_open_opts o = { 0 };
	o.views = tl_views_all(&o.views_len);
	tl_db *db;
	tl_err err;
	tu_records f;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	tu_load_records("tests/fixtures/log-v1.msgpack", &f);
	cr_assert_eq(tl_log_import(db, f.rec, f.len, f.n, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
	free(f.buf);

	tu_run re, rl;
	cr_assert_eq(tu_cli_text(&re, dir, "export", NULL), 0);
	cr_assert_eq(re.status, 0, "%s", re.err);
	cr_assert_eq(tu_cli(&rl, dir, "log", "--limit", "1000", NULL), 0);
	cr_assert_eq(rl.status, 0, "%s", rl.err);
	size_t n, old = 0;
	json_t **v = lines_of(re.out, &n);
	json_t *items = json_object_get(rl.json, "items");
	cr_assert_eq(n, f.n);
	cr_assert_eq(json_array_size(items), n);
	for (size_t i = 0; i < n; i++) {
		cr_assert(json_equal(v[i], json_array_get(items, i)),
			  "line %zu", i + 1);
		old += tu_int(v[i], "schema") == 1;
	}
	cr_assert_gt(old, 10, "only %zu events of schema 1", old);
	free_lines(v, n);
	tu_run_release(&re);
	tu_run_release(&rl);
	tu_rmrf(dir);
}

/* The lines of `export` with extra words, each parsed; *n of them. */
static json_t **export_lines(size_t *n, const char *a, const char *b,
			     const char *c2, const char *d)
{
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "export", a, b, c2, d, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	json_t **v = lines_of(r.out, n);
	tu_run_release(&r);
	return v;
}

/* Filters AND-combine; each keeps exactly the events of the whole export
 * that it names: by the member who made them, by "at". */
Test(export_cli, filters_by_actor_and_time)
{
	const char *days[] = { "2026-03-03T10:00:00Z", "2026-03-04T10:00:00Z",
			       "2026-03-05T10:00:00Z" };
	for (int i = 0; i < 3; i++) {
		const char *add[] = { "--now", days[i], "--as",
				      i == 1 ? "admin" : "alice", "task",
				      "add", "--title", "t", "--link",
				      "lead:5", NULL };
		free(tu_cli_id(ws, add));
	}
	size_t n, k;
	json_t **all = export_lines(&n, NULL, NULL, NULL, NULL);
	const char *since = "2026-03-04T00:00:00Z", *until = "2026-03-05";
	int64_t lo = 0, hi = 0;
	tl_err err;
	cr_assert_eq(tl_time_parse(tl_s(since), 0, "UTC", "since", &lo, &err),
		     0);
	cr_assert_eq(tl_time_parse(tl_s(until), 0, "UTC", "until", &hi, &err),
		     0);
	struct {
		const char *w[4];
	} cases[] = {
		{ { "--actor", "alice", NULL, NULL } },
		{ { "--since", since, "--until", until } },
		{ { "--actor", "alice", "--since", since } },
	};
	for (size_t c = 0; c < 3; c++) {
		json_t **got = export_lines(&k, cases[c].w[0], cases[c].w[1],
					    cases[c].w[2], cases[c].w[3]);
		size_t want = 0;
		for (size_t i = 0; i < n; i++) {
			const char *actor = tu_str(
				json_object_get(all[i], "actor"), "id");
			int64_t at;
			cr_assert_eq(tl_time_parse(tl_s(tu_str(all[i], "at")),
						   0, "UTC", "at", &at, &err),
				     0);
			bool by_alice = !strcmp(actor, "alice");
			bool in = at >= lo && at < hi, after = at >= lo;
			bool keep = c == 0 ? by_alice
				  : c == 1 ? in
					   : by_alice && after;
			if (!keep)
				continue;
			cr_assert_lt(want, k, "case %zu: too few lines", c);
			cr_assert(json_equal(got[want], all[i]),
				  "case %zu: line %zu", c, want + 1);
			want++;
		}
		cr_assert_eq(k, want, "case %zu: %zu lines, wanted %zu", c, k,
			     want);
		cr_assert_gt(k, 0, "case %zu: nothing kept", c);
		free_lines(got, k);
	}
	free_lines(all, n);

	/* the system's own events (the workspace and its first admin) */
	json_t **sys = export_lines(&k, "--actor", "parsa-assistant", NULL,
				    NULL);
	cr_assert_geq(k, 2);
	for (size_t i = 0; i < k; i++)
		cr_assert_str_eq(tu_str(json_object_get(sys[i], "actor"), "id"),
				 "parsa-assistant");
	free_lines(sys, k);

	/* "me": the acting member, as --member me and --assignee me (a
	 * walk-through: "no member 'me'") */
	tu_run mine;
	cr_assert_eq(tu_cli_text(&mine, ws, "--as", "alice", "export",
				 "--actor", "me", NULL),
		     0);
	cr_assert_eq(mine.status, 0, "%s", mine.err);
	json_t **by_alice = export_lines(&k, "--actor", "alice", NULL, NULL);
	size_t lines = 0;
	for (const char *p = mine.out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, k, "--actor me as alice: alice's events");
	cr_assert(k > 0 && strstr(mine.out, "\"actor\":{\"id\":\"alice\""),
		  "%s", mine.out);
	free_lines(by_alice, k);
	tu_run_release(&mine);

	tu_run r;
	EXPECT(&r, 1, "export", "--actor", "bob");
	cr_assert(tu_err_names(&r, "actor"), "%s", r.err);
	tu_run_release(&r);
	/* arguments before look-ups: a malformed id before an unknown --as */
	EXPECT(&r, 1, "--as", "zed", "export", "--actor", "Bad Id");
	cr_assert(tu_err_names(&r, "actor"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "--since", "2026-03-05", "--until",
	       "2026-03-04");
	cr_assert(tu_err_names(&r, "until"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "--since", "soon");
	cr_assert(tu_err_names(&r, "since"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "export", "--until", "2026-13-01");
	cr_assert(tu_err_names(&r, "until"), "%s", r.err);
	tu_run_release(&r);
}

/* ---- export --follow ---------------------------------------------------- */

typedef struct follower {
	pid_t pid;
	int out; /* its standard output, read here */
	char buf[65536];
	size_t len;
} follower;

/* Start `tasklog --db ws export --follow ARGS...`. */
static void follow_start(follower *f, const char *const *args)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	f->len = 0;
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		const char *a[16] = { tu_bin(), "--db", ws, "export",
				      "--follow" };
		size_t n = 5;
		for (size_t i = 0; args && args[i] && n < 15; i++)
			a[n++] = args[i];
		a[n] = NULL;
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(tu_bin(), (char *const *)a);
		_exit(127);
	}
	close(p[1]);
	f->out = p[0];
}

/* Read until the follower has printed `lines` lines in all, or 10 s. */
static size_t follow_read(follower *f, size_t lines)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		size_t n = 0;
		for (size_t i = 0; i < f->len; i++)
			n += f->buf[i] == '\n';
		if (n >= lines)
			return n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 +
			  (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > 10000)
			return n;
		struct pollfd p = { f->out, POLLIN, 0 };
		if (poll(&p, 1, 100) > 0) {
			ssize_t k = read(f->out, f->buf + f->len,
					 sizeof f->buf - 1 - f->len);
			if (k <= 0)
				return n;
			f->len += (size_t)k;
			f->buf[f->len] = 0;
		}
	}
}

/* Stop it with sig; its wait status. */
static int follow_stop(follower *f, int sig)
{
	int status;
	if (sig)
		kill(f->pid, sig);
	cr_assert_eq(waitpid(f->pid, &status, 0), f->pid);
	close(f->out);
	return status;
}

/* export --follow prints the log, then each event as it is committed,
 * filtered as the export is, whole lines, until SIGINT or SIGTERM (exit
 * 0); what it printed is what export prints of the log. */
Test(export_cli, follow_prints_events_as_they_are_committed, .timeout = 60)
{
	long long head = tu_stat(ws, "last_seq");
	follower f;
	follow_start(&f, NULL);
	cr_assert_eq(follow_read(&f, (size_t)head), (size_t)head, "%s", f.buf);
	char *a = busy_task("Followed"); /* 6 events */
	cr_assert_eq(follow_read(&f, (size_t)head + 6), (size_t)head + 6,
		     "%s", f.buf);
	DO("task", "add", "--title", "One more", "--link", "lead:1");
	cr_assert_eq(follow_read(&f, (size_t)head + 7), (size_t)head + 7,
		     "%s", f.buf);
	int st = follow_stop(&f, SIGINT);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "export", NULL), 0);
	cr_assert_str_eq(f.buf, r.out);
	tu_run_release(&r);

	/* filtered: one stream from a seq, and a member's events */
	char from[24];
	snprintf(from, sizeof from, "%lld", head + 3);
	follow_start(&f, (const char *const[]){ "--stream", a, "--from", from,
						NULL });
	cr_assert_eq(follow_read(&f, 4), 4, "%s", f.buf); /* versions 3..6 */
	DO("task", "reopen", a);
	DO("--as", "alice", "task", "add", "--title", "Other", "--link",
	   "lead:1");
	DO("task", "delete", a);
	cr_assert_eq(follow_read(&f, 6), 6, "%s", f.buf);
	st = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	size_t n;
	json_t **v = lines_of(f.buf, &n);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(tu_str(v[i], "stream"), a);
		cr_assert_eq(tu_int(v[i], "version"), (long long)i + 3);
	}
	cr_assert_str_eq(tu_str(v[5], "type"), "task.deleted");
	free_lines(v, n);
	follow_start(&f, (const char *const[]){ "--actor", "alice", NULL });
	cr_assert_eq(follow_read(&f, 1), 1, "%s", f.buf);
	DO("task", "add", "--title", "By admin", "--link", "lead:1");
	DO("--as", "alice", "task", "add", "--title", "By alice", "--link",
	   "lead:1");
	cr_assert_eq(follow_read(&f, 2), 2, "%s", f.buf);
	follow_stop(&f, SIGINT);
	v = lines_of(f.buf, &n);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(tu_str(json_object_get(v[1], "data"), "title"),
			 "By alice");
	free_lines(v, n);
	free(a);
}

/* --stream given as the end of a task id is the task the follower found
 * at its start: a task added later whose id ends alike neither stops it
 * (a walk-through: exit 1, "ends more than one task id") nor joins it. */
/* A follower of --stream `stream`, naming task a (added here): a task
 * `other` added later whose id `stream` would also name neither stops
 * it nor joins it; a's next event is its second line. */
static void follow_keeps_the_named_task(const char *a, const char *stream,
					const char *other)
{
	DO("task", "add", "--title", "A", "--link", "lead:1", "--id", a);
	follower f;
	follow_start(&f, (const char *const[]){ "--stream", stream, NULL });
	cr_assert_eq(follow_read(&f, 1), 1, "%s", f.buf);
	DO("task", "add", "--title", "B", "--link", "lead:1", "--id", other);
	DO("task", "tag", a, "kept");
	cr_assert_eq(follow_read(&f, 2), 2, "%s", f.buf);
	int st = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	size_t n;
	json_t **v = lines_of(f.buf, &n);
	cr_assert_eq(n, 2, "%s", f.buf);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(tu_str(v[i], "stream"), a);
	cr_assert_str_eq(tu_str(v[1], "type"), "task.tagged");
	free_lines(v, n);
}

Test(export_cli, follow_keeps_the_task_its_short_stream_named, .timeout = 60)
{
	follow_keeps_the_named_task("44444444-4444-4444-8444-0000aa77bb01",
				    "aa77bb01",
				    "55555555-5555-4555-8555-0000aa77bb01");
}

/* A follower whose reader goes away while it writes (its snapshot fills
 * the pipe) ends with exit 0, not killed by SIGPIPE (a review: exit 141
 * when the reader left during a burst), and so does one stopped by
 * SIGINT while it writes: between two events, its lines whole. */
Test(export_cli, follow_ends_cleanly_when_its_reader_goes_mid_write,
     .timeout = 60)
{
	char file[600];
	snprintf(file, sizeof file, "%s.tasks.jsonl", ws);
	FILE *in = fopen(file, "w");
	cr_assert(in);
	for (int i = 0; i < 400; i++)
		fprintf(in, "{\"title\": \"A task with a title long enough "
			    "%d\", \"link\": \"lead:%d\"}\n", i, i);
	cr_assert_eq(fclose(in), 0);
	DO("import", file);
	remove(file);
	for (int sig = 0; sig < 2; sig++) {
		follower f;
		follow_start(&f, NULL);
		cr_assert_geq(follow_read(&f, 3), 3); /* the pipe fills */
		int status;
		if (sig) {
			kill(f.pid, SIGINT);
			/* what it wrote ends with a whole line */
			char chunk[4096], last = 0;
			ssize_t k;
			while ((k = read(f.out, chunk, sizeof chunk)) > 0)
				last = chunk[k - 1];
			cr_assert_eq(last, '\n');
			status = follow_stop(&f, 0);
		} else {
			close(f.out);
			cr_assert_eq(waitpid(f.pid, &status, 0), f.pid);
		}
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "status %#x", status);
	}
}

/* A follower whose reader went away ends at once, exit 0, also while no
 * event comes to write. */
Test(export_cli, follow_ends_when_its_reader_goes, .timeout = 60)
{
	follower f;
	follow_start(&f, NULL);
	cr_assert_geq(follow_read(&f, 2), 2);
	close(f.out);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int status;
	pid_t w;
	while ((w = waitpid(f.pid, &status, WNOHANG)) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt(t.tv_sec - t0.tv_sec, 10,
			     "the follower is still running");
		struct timespec nap = { 0, 10000000 };
		nanosleep(&nap, NULL);
	}
	cr_assert_eq(w, f.pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
}

/* ---- found by a mutation audit of tools/cmd_transfer.c ------------------ */

/* [since, until): an event at --since itself is kept, one at --until is
 * not, and an --until equal to --since is refused (field until). */
Test(export_cli, since_is_inclusive_and_until_exclusive)
{
	const char *days[] = { "2026-03-03T10:00:00Z",
			       "2026-03-04T10:00:00Z" };
	for (int i = 0; i < 2; i++) {
		const char *add[] = { "--now", days[i], "task", "add",
				      "--title", "t", "--link", "lead:5",
				      NULL };
		free(tu_cli_id(ws, add));
	}
	size_t n;
	json_t **v = export_lines(&n, "--since", days[0], "--until", days[1]);
	cr_assert_eq(n, 1, "%zu events in [since, until)", n);
	cr_assert_str_eq(tu_str(v[0], "at"), "2026-03-03T10:00:00.000Z");
	free_lines(v, n);
	tu_run r;
	EXPECT(&r, 1, "export", "--since", days[0], "--until", days[0]);
	cr_assert(tu_err_names(&r, "until"), "%s", r.err);
	cr_assert(strstr(r.err, "must be after --since"), "%s", r.err);
	tu_run_release(&r);
}

/* Wait until the follower pid watches data.mdb (it makes its inotify
 * descriptor once it has read the log as it was), at most 10 s; the
 * descriptor's number. */
static int follow_wait_watching(pid_t pid)
{
	char dir[64], link[80], target[64];
	for (int tries = 0; tries < 1000; tries++) {
		snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
		for (int fd = 3; fd < 16; fd++) {
			snprintf(link, sizeof link, "%s/%d", dir, fd);
			ssize_t k = readlink(link, target, sizeof target - 1);
			if (k <= 0)
				continue;
			target[k] = 0;
			if (strstr(target, "inotify"))
				return fd;
		}
		struct timespec nap = { 0, 10000000 };
		nanosleep(&nap, NULL);
	}
	cr_assert_fail("the follower does not watch the workspace");
	return -1;
}

/* A follower from a seq past the end of the log (a consumer restarted
 * with the seq after its last line) goes on from that seq: it does not
 * start the log over from seq 1. */
Test(export_cli, follow_from_past_the_end_starts_there, .timeout = 60)
{
	long long head = tu_stat(ws, "last_seq");
	char from[24];
	snprintf(from, sizeof from, "%lld", head + 1);
	follower f;
	follow_start(&f, (const char *const[]){ "--from", from, NULL });
	follow_wait_watching(f.pid);
	DO("task", "add", "--title", "Next", "--link", "lead:1");
	cr_assert_geq(follow_read(&f, 1), 1, "%s", f.buf);
	int st = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	size_t n;
	json_t **v = lines_of(f.buf, &n);
	cr_assert_eq(n, 1, "%s", f.buf);
	cr_assert_eq(tu_int(v[0], "seq"), head + 1, "%s", f.buf);
	free_lines(v, n);
}

/* --format msgpack refuses a terminal: exit 1, field format, nothing
 * binary written to it. */
Test(export_cli, msgpack_refuses_a_terminal)
{
	if (system("command -v script >/dev/null 2>&1") != 0)
		cr_skip_test("no script(1) to give the command a terminal");
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "script -qec \"'%s' --db '%s' export --format msgpack\" "
		 "/dev/null",
		 tu_bin(), ws);
	const char *const argv[] = { "-c", cmd, NULL };
	tu_opts o = { .bin = "/bin/sh" };
	tu_run r;
	cr_assert_eq(tu_exec(&r, &o, argv), 0);
	cr_assert_eq(r.status, 1, "exit %d: %s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "tasklog: format: msgpack is binary"), "%s",
		  r.out);
	tu_run_release(&r);
}

/* With --format msgpack an error goes to stderr alone, also with --json:
 * a document on stdout would be read as one more record. */
Test(export_cli, msgpack_errors_print_no_document)
{
	tu_run r;
	EXPECT(&r, 1, "export", "--format", "msgpack", "--actor", "ghost");
	cr_assert(tu_err_names(&r, "actor"), "%s", r.err);
	cr_assert_eq(r.out_len, 0, "%s", r.out);
	tu_run_release(&r);
	/* nor for an error in the words themselves, which the command line
	 * finds while it parses them (until the twenty-fourth mutation
	 * audit these printed the document: --json was looked for in the
	 * words, the format not); --format=msgpack alike, and given before
	 * the command */
	const char *const *const parse[] = {
		(const char *const[]){ "export", "--format", "msgpack",
				       "--bogus", NULL },
		(const char *const[]){ "export", "--format=msgpack", "--limit",
				       "0", NULL },
		(const char *const[]){ "--format", "msgpack", "export", NULL },
	};
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(tu_cli_argv(&r, ws, parse[i]), 0);
		cr_assert_eq(r.status, 1, "%s", r.err);
		cr_assert(!strncmp(r.err, "tasklog: ", 9), "%s", r.err);
		cr_assert_eq(r.out_len, 0, "%s", r.out);
		tu_run_release(&r);
	}
	/* another command's usage error with --json is a document still */
	EXPECT(&r, 1, "log", "--bogus");
	cr_assert(json_is_object(json_object_get(r.json, "error")), "%s",
		  r.out);
	tu_run_release(&r);
}

/* ---- found by a mutation audit of --follow (audit 23) ------------------- */

/* Start `tasklog --db ws export --follow ARGS...` with out as its
 * standard output and err (or -1: the test's) as its standard error;
 * its pid.  nofile > 0: with no descriptor past 2 inherited, and that
 * RLIMIT_NOFILE. */
static pid_t follow_spawn_limited(int out, int err, unsigned nofile,
				  const char *const *args)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *a[16] = { tu_bin(), "--db", ws, "export",
				      "--follow" };
		size_t n = 5;
		for (size_t i = 0; args && args[i] && n < 15; i++)
			a[n++] = args[i];
		a[n] = NULL;
		dup2(out, STDOUT_FILENO);
		if (err >= 0)
			dup2(err, STDERR_FILENO);
		if (nofile) {
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
			struct rlimit rl = { nofile, nofile };
			if (setrlimit(RLIMIT_NOFILE, &rl))
				_exit(126);
		}
		execv(tu_bin(), (char *const *)a);
		_exit(127);
	}
	return pid;
}

static pid_t follow_spawn(int out, int err, const char *const *args)
{
	return follow_spawn_limited(out, err, 0, args);
}

/* Wait for pid to end, at most 10 s; its wait status. */
static int follow_wait_end(pid_t pid)
{
	int status;
	for (int tries = 0; tries < 1000; tries++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		cr_assert_geq(w, 0);
		if (w == pid)
			return status;
		struct timespec nap = { 0, 10000000 };
		nanosleep(&nap, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("the follower is still running after 10 s");
	return status;
}

/* The follower watches data.mdb itself for writes (IN_MODIFY: a commit
 * writes its pages, then its meta page), so it wakes at a commit rather
 * than at its next poll: its inotify descriptor holds a watch on that
 * file's inode. */
Test(export_cli, follow_watches_the_data_file_for_writes, .timeout = 60)
{
	follower f;
	follow_start(&f, NULL);
	int fd = follow_wait_watching(f.pid);
	char path[600], info[64], line[512];
	snprintf(path, sizeof path, "%s/data.mdb", ws);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	snprintf(info, sizeof info, "/proc/%d/fdinfo/%d", (int)f.pid, fd);
	FILE *in = fopen(info, "r");
	cr_assert(in, "%s", info);
	bool watched = false;
	while (fgets(line, sizeof line, in)) {
		const char *i = strstr(line, " ino:");
		const char *m = strstr(line, " mask:");
		unsigned long ino;
		unsigned mask;
		if (strncmp(line, "inotify ", 8) || !i || !m ||
		    sscanf(i, " ino:%lx", &ino) != 1 ||
		    sscanf(m, " mask:%x", &mask) != 1)
			continue;
		watched |= ino == (unsigned long)st.st_ino &&
			   (mask & IN_MODIFY);
	}
	fclose(in);
	int status = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
	cr_assert(watched, "no IN_MODIFY watch on %s's inode", path);
}

/* The CPU time pid has used, in clock ticks. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	const char *p = strrchr(text, ')'); /* past the command's name */
	cr_assert(p);
	unsigned long long utime, stime;
	/* fields 3..13, then utime (14) and stime (15) */
	cr_assert_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
				   "%*u %*u %llu %llu",
			    &utime, &stime),
		     2, "%s", text);
	return (long long)(utime + stime);
}

/* Between commits a follower sleeps: it drains what woke it and waits
 * again, rather than reading the log over and over.  Over 4 s without a
 * commit, after one, it uses less than 1 s of CPU time (a busy loop uses
 * close to all of it, which even a loaded machine gives it more than a
 * quarter of). */
Test(export_cli, follow_sleeps_between_commits, .timeout = 60)
{
	long long head = tu_stat(ws, "last_seq");
	follower f;
	follow_start(&f, NULL);
	follow_wait_watching(f.pid);
	DO("task", "add", "--title", "Wakes it", "--link", "lead:1");
	cr_assert_eq(follow_read(&f, (size_t)head + 1), (size_t)head + 1,
		     "%s", f.buf);
	long long before = cpu_ticks(f.pid);
	struct timespec idle = { 4, 0 };
	while (nanosleep(&idle, &idle))
		;
	long long used = cpu_ticks(f.pid) - before;
	int status = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
	cr_assert_lt(used, sysconf(_SC_CLK_TCK),
		     "%lld ticks of CPU time in 4 s without a commit", used);
}

/* A follower whose standard output fails (a full disk) ends with exit 5,
 * naming the standard output: when the log as it was cannot be written,
 * and when a later commit's event cannot (it does not wait for more). */
Test(export_cli, follow_ends_when_a_write_fails, .timeout = 60)
{
	int out = open("/dev/full", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(out, 0);
	char from[24];
	snprintf(from, sizeof from, "%lld", tu_stat(ws, "last_seq") + 1);
	for (int later = 0; later < 2; later++) {
		int err[2];
		cr_assert_eq(pipe(err), 0);
		pid_t pid = follow_spawn(out, err[1],
					 later ? (const char *const[]){
							 "--from", from, NULL }
					       : NULL);
		close(err[1]);
		if (later) {
			follow_wait_watching(pid);
			DO("task", "add", "--title", "Unwritable", "--link",
			   "lead:1");
		}
		int status = follow_wait_end(pid);
		char msg[1024];
		ssize_t k = read(err[0], msg, sizeof msg - 1);
		close(err[0]);
		msg[k > 0 ? k : 0] = 0;
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 5,
			  "status %#x: %s", status, msg);
		cr_assert(strstr(msg, "writing the standard output: No space "
				      "left on device"),
			  "%s", msg);
	}
	close(out);
}

/* A follower whose standard output is a socket ends, exit 0, when the
 * peer goes away while no event comes (the socket's POLLHUP, where a
 * pipe's reader gone is POLLERR). */
Test(export_cli, follow_ends_when_its_socket_peer_goes, .timeout = 60)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		     0);
	pid_t pid = follow_spawn(sv[1], -1, NULL);
	close(sv[1]);
	follow_wait_watching(pid);
	/* read what it wrote: a peer closed with data unread also sets
	 * the follower's socket an error (POLLERR) */
	char chunk[4096];
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	while (read(sv[0], chunk, sizeof chunk) > 0)
		;
	close(sv[0]);
	int status = follow_wait_end(pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
}

/* SIGINT during the log as it was stops it between two events: what is
 * printed is the lines written so far and the rest of the buffer that
 * was being written, not the whole log.  A second SIGINT has its
 * default action: a follower blocked on a pipe that nobody drains ends
 * at once. */
Test(export_cli, follow_stops_the_log_as_it_was_at_sigint, .timeout = 60)
{
	char file[600];
	snprintf(file, sizeof file, "%s.tasks.jsonl", ws);
	FILE *in = fopen(file, "w");
	cr_assert(in);
	for (int i = 0; i < 3000; i++)
		fprintf(in, "{\"title\": \"A task with a title long enough "
			    "to make the export of the log far larger than "
			    "a pipe and the follower's buffer together %d\", "
			    "\"link\": \"lead:%d\"}\n",
			i, i);
	cr_assert_eq(fclose(in), 0);
	DO("import", file);
	remove(file);
	long long head = tu_stat(ws, "last_seq");

	follower f;
	follow_start(&f, NULL);
	cr_assert_geq(follow_read(&f, 3), 3); /* it blocks on a full pipe */
	kill(f.pid, SIGINT);
	size_t lines = 0;
	char chunk[4096], last = 0;
	ssize_t k;
	for (size_t i = 0; i < f.len; i++)
		lines += f.buf[i] == '\n';
	while ((k = read(f.out, chunk, sizeof chunk)) > 0) {
		for (ssize_t i = 0; i < k; i++)
			lines += chunk[i] == '\n';
		last = chunk[k - 1];
	}
	int status = follow_stop(&f, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
	cr_assert_eq(last, '\n');
	cr_assert_lt(lines, (size_t)head, "%zu lines of %lld: not stopped",
		     lines, head);

	/* a second SIGINT once the first was handled (its handler is
	 * reset: SigCgt no longer holds it), the pipe never drained: full
	 * but for part of a page, with far more of the log to write */
	follow_start(&f, NULL);
	int full = fcntl(f.out, F_GETPIPE_SZ), queued = 0;
	cr_assert_gt(full, 0);
	full -= 4096;
	for (int tries = 0; tries < 1000 && queued < full; tries++) {
		struct timespec nap = { 0, 10000000 };
		nanosleep(&nap, NULL);
		cr_assert_eq(ioctl(f.out, FIONREAD, &queued), 0);
	}
	cr_assert_geq(queued, full, "the pipe holds %d of %d bytes", queued,
		      full);
	kill(f.pid, SIGINT);
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)f.pid);
	bool reset = false;
	for (int tries = 0; tries < 1000 && !reset; tries++) {
		FILE *st = fopen(path, "r");
		cr_assert(st);
		while (fgets(line, sizeof line, st)) {
			unsigned long long caught;
			if (sscanf(line, "SigCgt: %llx", &caught) == 1)
				reset = !(caught & (1ull << (SIGINT - 1)));
		}
		fclose(st);
		if (!reset) {
			struct timespec nap = { 0, 10000000 };
			nanosleep(&nap, NULL);
		}
	}
	if (reset)
		kill(f.pid, SIGINT);
	int st2 = follow_wait_end(f.pid);
	close(f.out);
	cr_assert(reset, "SIGINT's handler stays after the first one");
	cr_assert(WIFSIGNALED(st2) && WTERMSIG(st2) == SIGINT, "status %#x",
		  st2);
}

/* --stream as the end of a task id is resolved up to its longest, 35
 * characters: a task added later whose id differs in the first alone
 * neither stops the follower nor joins it. */
Test(export_cli, follow_keeps_the_task_its_35_character_stream_named,
     .timeout = 60)
{
	const char *a = "44444444-4444-4444-8444-0000aa77bb02";
	follow_keeps_the_named_task(a, a + 1,
				    "54444444-4444-4444-8444-0000aa77bb02");
}

/* Whether pid holds an inotify descriptor now. */
static bool follow_has_inotify(pid_t pid)
{
	char link[64], target[64];
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
		ssize_t k = readlink(link, target, sizeof target - 1);
		if (k <= 0)
			continue;
		target[k] = 0;
		if (strstr(target, "inotify"))
			return true;
	}
	return false;
}

/* Where inotify cannot watch (here: no descriptor left for it, under an
 * RLIMIT_NOFILE just below the one it took in a first run), a follower
 * polls the log every second instead: a commit's event is printed all
 * the same. */
Test(export_cli, follow_polls_where_inotify_cannot_watch, .timeout = 60)
{
	long long head = tu_stat(ws, "last_seq");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = follow_spawn_limited(p[1], -1, 1024, NULL);
	int first = follow_wait_watching(pid);
	kill(pid, SIGTERM);
	cr_assert_eq(follow_wait_end(pid), 0);
	close(p[0]);
	close(p[1]);

	follower f = { 0 };
	cr_assert_eq(pipe(p), 0);
	f.pid = follow_spawn_limited(p[1], -1, (unsigned)first, NULL);
	close(p[1]);
	f.out = p[0];
	cr_assert_eq(follow_read(&f, (size_t)head), (size_t)head, "%s", f.buf);
	DO("task", "add", "--title", "Polled", "--link", "lead:1");
	cr_assert_eq(follow_read(&f, (size_t)head + 1), (size_t)head + 1,
		     "%s", f.buf);
	bool watched = follow_has_inotify(f.pid);
	int st = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_not(watched, "the follower watched, under RLIMIT_NOFILE %d",
		      first);
	cr_assert(strstr(f.buf, "\"Polled\""), "%s", f.buf);
}

/* A follower whose reader stopped reading while no event came (a socket
 * whose peer shut its reading down: no POLLERR, no POLLHUP) ends at the
 * next event, whose write finds EPIPE: exit 0, as for a pipe's reader
 * gone mid-write. */
Test(export_cli, follow_ends_at_the_write_a_reader_refuses, .timeout = 60)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		     0);
	pid_t pid = follow_spawn(sv[1], -1, NULL);
	close(sv[1]);
	follow_wait_watching(pid);
	cr_assert_eq(shutdown(sv[0], SHUT_RD), 0);
	DO("task", "add", "--title", "Refused", "--link", "lead:1");
	int status = follow_wait_end(pid);
	close(sv[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "status %#x", status);
}

/* The reasons the command line's fatal-signal handler gives (tasklog.c's
 * on_fatal), by signal.  SIGSEGV and SIGABRT are the sanitizer's in its
 * build. */
static const struct {
	int sig;
	const char *why;
} fatal[] = {
	{ SIGBUS, "reading the workspace failed (SIGBUS): a file of it is "
		  "shorter than the pages it refers to" },
#ifndef TL_SANITIZER
	{ SIGSEGV, "reading the workspace crashed (SIGSEGV): its data file is "
		   "most likely damaged" },
	{ SIGABRT, "reading the workspace crashed (SIGABRT): its data file is "
		   "most likely damaged" },
#endif
};

/* A follower is a reading command with the workspace open for as long as
 * it runs: a fatal signal then (SIGBUS from the map, SIGSEGV or SIGABRT
 * from a damaged page) is the storage error, exit 5, its own reason on
 * one line, and with --json the error document as the last line, after
 * the events; for people no document.  A mutation audit found each
 * signal's reason, the exit status, the line and the document untested
 * here, the tests of damaged files reaching the handler only by chance
 * of the page cut or damaged. */
Test(export_cli, follow_ends_at_a_fatal_signal_with_a_storage_error,
     .timeout = 60)
{
	char err[600];
	snprintf(err, sizeof err, "%s.err", ws);
	long long head = tu_stat(ws, "last_seq");
	for (size_t i = 0; i < 2 * (sizeof fatal / sizeof fatal[0]); i++) {
		size_t s = i / 2;
		bool json = i % 2 == 0;
		int p[2], e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert_geq(e, 0);
		cr_assert_eq(pipe(p), 0);
		pid_t pid = follow_spawn(p[1], e,
					 (const char *const[]){
						 json ? "--json" : NULL, NULL });
		close(p[1]);
		close(e);
		follow_wait_watching(pid);
		kill(pid, fatal[s].sig);
		int st = follow_wait_end(pid);
		char out[65536];
		size_t len = 0;
		ssize_t k;
		while ((k = read(p[0], out + len, sizeof out - 1 - len)) > 0)
			len += (size_t)k;
		out[len] = 0;
		close(p[0]);
		FILE *f = fopen(err, "r");
		char line[1024] = "", more[8];
		cr_assert(f);
		cr_assert(fgets(line, sizeof line, f));
		cr_assert_not(fgets(more, sizeof more, f), "%s%s", line, more);
		fclose(f);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 5,
			  "signal %d: status %#x: %s", fatal[s].sig, st, line);
		char want[300];
		snprintf(want, sizeof want, "tasklog: storage: %s",
			 fatal[s].why);
		cr_assert(!strncmp(line, want, strlen(want)), "%s", line);
		size_t n;
		json_t **v = lines_of(out, &n);
		cr_assert_eq(n, (size_t)head + json, "%s", out);
		if (json) {
			json_t *doc = json_object_get(v[n - 1], "error");
			const char *m = tu_str(doc, "message");
			cr_assert(m && !strncmp(m, fatal[s].why,
						strlen(fatal[s].why)),
				  "%s", out);
			cr_assert_str_eq(tu_str(doc, "code"), "storage");
			cr_assert_str_eq(tu_str(doc, "field"), "storage");
		}
		free_lines(v, n);
	}
	unlink(err);
}

/* Descriptors 0 and 2 closed by the caller are opened on /dev/null
 * before anything else (tasklog.c's std_fds_open), 0 for reading and 2
 * for writing, so that no file of the workspace takes them; a closed
 * standard input does not make the output count as closed: the follower
 * prints the log.  Seen in a follower, which keeps them open while it
 * runs; a mutation audit found stderr's and stdin's reopening (and
 * their modes) untested (the tests closed stdin and stdout together). */
Test(export_cli, closed_standard_descriptors_are_dev_null, .timeout = 60)
{
	long long head = tu_stat(ws, "last_seq");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *a[] = { tu_bin(), "--db", ws, "export", "--follow",
				    NULL };
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		close(STDIN_FILENO);
		close(STDERR_FILENO);
		execv(tu_bin(), (char *const *)a);
		_exit(127);
	}
	close(p[1]);
	follow_wait_watching(pid);
	for (int fd = 0; fd <= 2; fd += 2) {
		char path[64], target[64] = "", info[512];
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
		ssize_t k = readlink(path, target, sizeof target - 1);
		target[k > 0 ? k : 0] = 0;
		cr_assert_str_eq(target, "/dev/null", "descriptor %d", fd);
		snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
		FILE *f = fopen(path, "r");
		cr_assert(f);
		size_t n = fread(info, 1, sizeof info - 1, f);
		info[n] = 0;
		fclose(f);
		const char *fl = strstr(info, "flags:");
		cr_assert(fl, "%s", info);
		unsigned long flags = strtoul(fl + 6, NULL, 8);
		cr_assert_eq(flags & O_ACCMODE, fd ? O_WRONLY : O_RDONLY,
			     "descriptor %d: %s", fd, info);
	}
	follower f = { .pid = pid, .out = p[0] };
	cr_assert_eq(follow_read(&f, (size_t)head), (size_t)head, "%s", f.buf);
	int st = follow_stop(&f, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
