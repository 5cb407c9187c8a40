/*
 * e2e_backup.c - end-to-end tests of `tasklog backup`: the real binary on
 * a temporary workspace.  A copy must be a workspace that verifies clean
 * and answers as the original did at that moment, also when another
 * process writes meanwhile; a refused or failed backup leaves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "testutil.h"

#define T0 "2026-03-02T09:00:00Z"

static char *ws, *tmp;

static void setup(void)
{
	ws = tu_tmpdir();
	tmp = tu_tmpdir();
	DO("init", "--now", T0, "--tz", "Europe/Berlin");
	DO("member", "add", "alice", "--name", "Alice A");
}

static void teardown(void)
{
	tu_rmrf(ws);
	tu_rmrf(tmp);
	free(ws);
	free(tmp);
}

TestSuite(backup_cli, .init = setup, .fini = teardown);

/* tmp/name, malloc'd. */
static char *under_tmp(const char *name)
{
	char *p;
	cr_assert(asprintf(&p, "%s/%s", tmp, name) > 0);
	return p;
}

static long long file_size(const char *dir)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/data.mdb", dir);
	cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
	return (long long)st.st_size;
}

/* Some of every kind of event: tasks assigned (a notification), changed,
 * completed, tagged, deleted; a notification read. */
static void fill(int tasks)
{
	char title[32];
	for (int i = 0; i < tasks; i++) {
		snprintf(title, sizeof title, "Task %d", i);
		const char *add[] = { "--now", T0, "task", "add", "--title",
				      title, "--link", "lead:42", "--due",
				      "+2d", "--assignee", "alice", "--tag",
				      "vip", NULL };
		char *id = tu_cli_id(ws, add);
		if (i % 3 == 1)
			DO("--now", T0, "task", "complete", id);
		if (i % 5 == 2)
			DO("--now", T0, "task", "delete", id);
		free(id);
	}
	tu_run r;
	OK(&r, "--as", "alice", "notifications", "--unread");
	const json_t *first = json_array_get(json_object_get(r.json, "items"),
					     0);
	char nid[24];
	snprintf(nid, sizeof nid, "%lld", tu_int(first, "id"));
	tu_run_release(&r);
	DO("--as", "alice", "notifications", "read", nid);
}

/* The same command's stdout in both workspaces. */
static void same_answer(const char *a, const char *b, const char *const *w)
{
	tu_run ra, rb;
	cr_assert_eq(tu_cli_argv(&ra, a, w), 0);
	cr_assert_eq(tu_cli_argv(&rb, b, w), 0);
	cr_assert(ra.status == 0 && rb.status == 0, "%s: %s / %s", w[0],
		  ra.err, rb.err);
	char what[128] = "";
	for (size_t i = 0; w[i]; i++)
		snprintf(what + strlen(what), sizeof what - strlen(what),
			 "%s%s", i ? " " : "", w[i]);
	cr_assert_str_eq(ra.out, rb.out, "`%s` differs", what);
	tu_run_release(&ra);
	tu_run_release(&rb);
}

static void verifies(const char *dir)
{
	tu_run r;
	cr_assert_eq(tu_cli(&r, dir, "verify", NULL), 0);
	cr_assert_eq(r.status, 0, "verify %s: %s %s", dir, r.out, r.err);
	cr_assert(json_is_true(json_object_get(r.json, "ok")));
	tu_run_release(&r);
}

static void same_workspace(const char *a, const char *b)
{
	static const char *const counts[] = { "events", "tasks", "active",
					      "members", "last_seq" };
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
		cr_assert_eq(tu_stat(a, counts[i]), tu_stat(b, counts[i]),
			     "%s differ", counts[i]);
	/* (not map_size and map_used: a compact copy is smaller) */
	static const char *const cmds[][8] = {
		{ "log", "--from", "1", "--limit", "1000", NULL },
		{ "--now", T0, "task", "list", "--status", "completed", NULL },
		{ "--now", T0, "task", "list", NULL },
		{ "--now", T0, "timeline", "lead:42", NULL },
		{ "--now", T0, "notifications", "--member", "alice", NULL },
		{ "member", "list", NULL },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		same_answer(a, b, cmds[i]);
}

Test(backup_cli, copies_a_workspace_that_answers_as_the_original)
{
	fill(12);
	char *to = under_tmp("copy");
	long long events = tu_stat(ws, "events");
	tu_run r;
	OK(&r, "backup", to);
	cr_assert_str_eq(tu_str(r.json, "dir"), to);
	cr_assert_eq(tu_int(r.json, "events"), events);
	cr_assert_eq(tu_int(r.json, "last_seq"), events);
	cr_assert_eq(tu_int(r.json, "bytes"), file_size(to));
	cr_assert(json_is_false(json_object_get(r.json, "compact")));
	tu_run_release(&r);
	char lock[600]; /* the copy's read-back leaves no lock.mdb behind */
	snprintf(lock, sizeof lock, "%s/lock.mdb", to);
	struct stat st;
	cr_assert_eq(stat(lock, &st), -1, "%s is left", lock);
	verifies(to);
	same_workspace(ws, to);

	/* A workspace of its own: writing to one leaves the other. */
	const char *add[] = { "task", "add", "--title", "Only in the copy",
			      "--link", "lead:7", NULL };
	free(tu_cli_id(to, add));
	cr_assert_eq(tu_stat(to, "events"), events + 1);
	cr_assert_eq(tu_stat(ws, "events"), events);

	/* For people: what was copied, and where. */
	char *to2 = under_tmp("copy2");
	cr_assert_eq(tu_cli_text(&r, ws, "backup", to2, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char want[600];
	snprintf(want, sizeof want, "copied %lld events (up to seq %lld) into "
		 "%s/data.mdb: ", events, events, to2);
	cr_assert(!strncmp(r.out, want, strlen(want)), "%s", r.out);
	/* in MiB, as stats says sizes */
	size_t n = strlen(r.out);
	cr_assert(n > 5 && !strcmp(r.out + n - 5, " MiB\n"), "%s", r.out);
	tu_run_release(&r);
	free(to2);
	free(to);
}

/* A directory given with a slash at its end is said without it, for
 * people: "b/" names b/data.mdb, and its size in MiB to a tenth (a
 * mutation audit: neither was tried). */
Test(backup_cli, a_directory_with_a_trailing_slash_is_said_once)
{
	char *to = under_tmp("slash");
	char given[600], want[700];
	snprintf(given, sizeof given, "%s/", to);
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "backup", given, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(want, sizeof want, ") into %s/data.mdb: %.1f MiB\n", to,
		 (double)file_size(to) / (1024.0 * 1024.0));
	cr_assert(strstr(r.out, want), "%s", r.out);
	tu_run_release(&r);
	verifies(to);
	free(to);
}

/* On a terminal (script(1) gives one) a backup draws a bar in MiB of the
 * copy on stderr, its last line the copy's size; without one nothing. */
Test(backup_cli, a_progress_bar_on_a_terminal)
{
	if (system("command -v script >/dev/null 2>&1") != 0)
		cr_skip_test("no script(1) to give the command a terminal");
	fill(20);
	static const char *const how[] = { "", "--compact" };
	for (int i = 0; i < 2; i++) {
		char *to = under_tmp(i ? "bar-compact" : "bar");
		char cmd[2048], want[128];
		snprintf(cmd, sizeof cmd,
			 "script -qec \"'%s' --db '%s' backup %s '%s'\" "
			 "/dev/null",
			 tu_bin(), ws, how[i], to);
		const char *const argv[] = { "-c", cmd, NULL };
		tu_opts o = { .bin = "/bin/sh" };
		tu_run r;
		cr_assert_eq(tu_exec(&r, &o, argv), 0);
		cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
		double mib = (double)file_size(to) / (1024.0 * 1024.0);
		cr_assert(strstr(r.out, "[..........] 0% 0.0/"), "%s", r.out);
		snprintf(want, sizeof want, "100%% %.1f/%.1f MiB in ", mib,
			 mib);
		cr_assert(strstr(r.out, want), "want %s: %s", want, r.out);
		snprintf(want, sizeof want, "data.mdb: %.1f MiB", mib);
		cr_assert(strstr(r.out, want), "want %s: %s", want, r.out);
		tu_run_release(&r);
		verifies(to);
		free(to);
	}
	/* not a terminal: the outcome alone */
	char *to = under_tmp("no-bar");
	tu_run r;
	cr_assert_eq(tu_cli_text(&r, ws, "backup", to, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(r.err[0], 0, "%s", r.err);
	tu_run_release(&r);
	free(to);
}

/* A rebuild frees the old generation's pages: a compacting copy leaves
 * them out, and holds the same. */
Test(backup_cli, compact_copy_leaves_out_free_pages)
{
	fill(40);
	DO("rebuild");
	DO("rebuild");
	char *plain = under_tmp("plain"), *small = under_tmp("small");
	tu_run r;
	OK(&r, "backup", plain);
	tu_run_release(&r);
	OK(&r, "backup", small, "--compact");
	cr_assert(json_is_true(json_object_get(r.json, "compact")));
	cr_assert_eq(tu_int(r.json, "bytes"), file_size(small));
	tu_run_release(&r);
	cr_assert_eq(file_size(plain), file_size(ws));
	cr_assert_lt(file_size(small), file_size(plain),
		     "compact %lld, plain %lld", file_size(small),
		     file_size(plain));
	/* stats says how much a compact copy leaves out */
	cr_assert_eq(tu_stat(ws, "file_size"), file_size(ws));
	cr_assert_eq(tu_stat(small, "file_size"), file_size(small));
	long long freed = tu_stat(ws, "file_free");
	cr_assert_gt(freed, 0, "two rebuilds freed nothing");
	cr_assert_lt(tu_stat(small, "file_free"), freed);
	verifies(plain);
	verifies(small);
	same_workspace(ws, small);
	free(plain);
	free(small);
}

/* An empty directory is used as it is. */
Test(backup_cli, into_an_empty_directory)
{
	char *to = under_tmp("empty");
	cr_assert_eq(mkdir(to, 0700), 0);
	tu_run r;
	OK(&r, "backup", to);
	tu_run_release(&r);
	verifies(to);
	struct stat st;
	cr_assert_eq(stat(to, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "the directory was replaced");
	free(to);
}

/* The copy is as open as the workspace, never more: the directory made
 * for it and the copy in it get the bits of the workspace's directory and
 * data.mdb whatever the umask, a copy into a directory that was there
 * data.mdb's bits narrowed by the umask (as cp makes a file); both get
 * the workspace's group where the caller may give it, and its owner when
 * root makes them (a root cron job's copy of a service user's
 * workspace).  Until 0.3.54 the umask made them: under umask 0 a 640
 * workspace's copy was readable by everyone, and under 022 a group's 660
 * workspace's copy refused the group's other writers. */
static void like_workspace(const char *copy, const char *name,
			   mode_t mode, bool root, unsigned uid)
{
	char p[600];
	struct stat st;
	snprintf(p, sizeof p, "%s%s", copy, name);
	cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(st.st_mode & 07777, mode, "%s: %o, wanted %o", p,
		     (unsigned)(st.st_mode & 07777), (unsigned)mode);
	if (root)
		cr_assert(st.st_uid == uid && st.st_gid == 4242,
			  "%s: %u:%u", p, (unsigned)st.st_uid,
			  (unsigned)st.st_gid);
	else
		cr_assert_eq(st.st_uid, geteuid());
}

Test(backup_cli, the_copy_keeps_the_workspaces_owner_group_and_mode)
{
	bool root = geteuid() == 0;
	char p[512];
	snprintf(p, sizeof p, "%s/data.mdb", ws);
	cr_assert_eq(chmod(p, 0640), 0);
	cr_assert_eq(chmod(ws, 02750), 0);
	if (root) { /* (root opens only a directory of its own) */
		cr_assert_eq(chown(p, 65534, 4242), 0);
		cr_assert_eq(chown(ws, 0, 4242), 0);
	}
	static const mode_t masks[] = { 0, 077, 022 };
	for (size_t i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "copy%zu", i);
		char *to = under_tmp(name);
		mode_t was = umask(masks[i]);
		tu_run r;
		if (i == 1)
			OK(&r, "backup", to, "--compact");
		else
			OK(&r, "backup", to);
		tu_run_release(&r);
		umask(was);
		like_workspace(to, "/data.mdb", 0640, root, 65534);
		like_workspace(to, "", 02750, root, 0);
		verifies(to);
		free(to);
	}
	/* A directory that was there is left as it was, and the umask
	 * narrows the copy in it: the directory may be more open than the
	 * workspace's. */
	for (size_t i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "there%zu", i);
		char *to = under_tmp(name);
		cr_assert_eq(mkdir(to, 0711), 0);
		cr_assert_eq(chmod(to, 0711), 0);
		mode_t was = umask(masks[i]);
		tu_run r;
		OK(&r, "backup", to);
		tu_run_release(&r);
		umask(was);
		like_workspace(to, "/data.mdb", 0640 & ~masks[i], root, 65534);
		struct stat st;
		cr_assert_eq(stat(to, &st), 0);
		cr_assert_eq(st.st_mode & 07777, 0711);
		free(to);
	}
}

/* Refused before anything is made: nothing appears, nothing changes. */
Test(backup_cli, refuses_what_it_cannot_copy_into)
{
	tu_run r;
	long long events = tu_stat(ws, "events");
	char *full = under_tmp("full"), *file = under_tmp("file"),
	     *orphan = under_tmp("missing/copy"), *denied = under_tmp("d");
	char keep[600];
	cr_assert_eq(mkdir(full, 0755), 0);
	snprintf(keep, sizeof keep, "%s/keep", full);
	FILE *f = fopen(keep, "w");
	cr_assert(f && fputs("mine\n", f) >= 0 && fclose(f) == 0);
	f = fopen(file, "w");
	cr_assert(f && fclose(f) == 0);

	EXPECT(&r, 1, "backup", full);
	cr_assert(tu_err_names(&r, "dir") && strstr(r.err, "not empty"),
		  "%s", r.err);
	cr_assert_str_eq(tu_str(json_object_get(r.json, "error"), "code"),
			 "invalid");
	tu_run_release(&r);
	EXPECT(&r, 1, "backup", file);
	cr_assert(tu_err_names(&r, "dir") && strstr(r.err, "not a directory"),
		  "%s", r.err);
	tu_run_release(&r);
	/* A killed backup's leftover: said as such, and kept. */
	char *left = under_tmp("left"), partial[600];
	cr_assert_eq(mkdir(left, 0755), 0);
	snprintf(partial, sizeof partial, "%s/data.mdb.partial", left);
	f = fopen(partial, "w");
	cr_assert(f && fputs("half a copy", f) >= 0 && fclose(f) == 0);
	EXPECT(&r, 1, "backup", left);
	cr_assert(tu_err_names(&r, "dir") &&
		  strstr(r.err, "holds only data.mdb.partial, of a backup "
				"that did not finish"),
		  "%s", r.err);
	tu_run_release(&r);
	struct stat kept;
	cr_assert_eq(stat(partial, &kept), 0);
	free(left);
	EXPECT(&r, 1, "backup", orphan);
	cr_assert(tu_err_names(&r, "dir") && strstr(r.err, "parent"), "%s",
		  r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "backup", ws); /* the workspace itself */
	cr_assert(tu_err_names(&r, "dir"), "%s", r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "backup");
	tu_run_release(&r);
	EXPECT(&r, 1, "backup", "a", "b");
	tu_run_release(&r);
	EXPECT(&r, 1, "backup", denied, "--unknown");
	tu_run_release(&r);

	/* Admins only: a copy holds every task and member. */
	EXPECT(&r, 4, "--as", "alice", "backup", denied);
	cr_assert(tu_err_names(&r, "as"), "%s", r.err);
	tu_run_release(&r);
	/* but DIR is an argument, checked first (since 0.3.51): a missing
	 * parent or a file is exit 1 for a non-admin too */
	EXPECT(&r, 1, "--as", "alice", "backup", orphan);
	cr_assert(tu_err_names(&r, "dir") && strstr(r.err, "parent"), "%s",
		  r.err);
	tu_run_release(&r);
	EXPECT(&r, 1, "--as", "alice", "backup", file);
	cr_assert(tu_err_names(&r, "dir") && strstr(r.err, "not a directory"),
		  "%s", r.err);
	tu_run_release(&r);
	/* a file named with a slash after it, a link to nothing, a name
	 * too long: said as such, for admins too */
	char slashed[700], *dangling = under_tmp("dangling"), longname[700];
	snprintf(slashed, sizeof slashed, "%s/", file);
	cr_assert_eq(symlink("nowhere", dangling), 0);
	snprintf(longname, sizeof longname, "%s/%0300d", full, 0);
	const char *odd[] = { slashed, dangling, longname };
	for (size_t i = 0; i < 3; i++)
		for (int admin = 0; admin < 2; admin++) {
			EXPECT(&r, 1, "--as", admin ? "admin" : "alice",
			       "backup", odd[i]);
			cr_assert(tu_err_names(&r, "dir") &&
					  (i == 2 ? strstr(r.err, "too long")
						  : strstr(r.err,
							   "exists and is not "
							   "a directory")),
				  "%s", r.err);
			tu_run_release(&r);
		}
	free(dangling);

	struct stat st;
	cr_assert_eq(stat(denied, &st), -1, "a refused backup made %s",
		     denied);
	char probe[600];
	snprintf(probe, sizeof probe, "%s/data.mdb", full);
	cr_assert_eq(stat(probe, &st), -1);
	snprintf(probe, sizeof probe, "%s/missing", tmp);
	cr_assert_eq(stat(probe, &st), -1);
	cr_assert_eq(tu_stat(ws, "events"), events);
	free(full);
	free(file);
	free(orphan);
	free(denied);
}

/* A backup that Ctrl-C (or SIGTERM) ends removes its partial copy and
 * the directory it made, as a failure does (since 0.3.54: the partial
 * file stayed, and the next backup into the directory refused it).  The
 * signal is sent once the copy has begun writing; a copy done before
 * that is tried again, in a new directory. */
Test(backup_cli, a_backup_ended_by_a_signal_leaves_nothing, .timeout = 120)
{
	char in[600];
	snprintf(in, sizeof in, "%s/tasks.jsonl", tmp);
	tu_write_tasks(in, 20000, 2000, "Imported");
	DO("import", in);
	static const int sigs[] = { SIGINT, SIGTERM };
	for (size_t s = 0; s < 2; s++) {
		bool caught = false;
		for (int tries = 0; tries < 5 && !caught; tries++) {
			char name[32], partial[700];
			snprintf(name, sizeof name, "sig%zu-%d", s, tries);
			char *to = under_tmp(name);
			snprintf(partial, sizeof partial,
				 "%s/data.mdb.partial", to);
			const char *argv[] = { "--db", ws, "backup", to,
					       NULL };
			pid_t pid = tu_spawn(argv, sigs[s], NULL);
			struct stat st;
			for (int i = 0; i < 20000; i++) { /* 20 s */
				if (stat(partial, &st) == 0 && st.st_size > 0)
					break;
				if (waitpid(pid, NULL, WNOHANG) == pid) {
					pid = 0; /* done before */
					break;
				}
				usleep(1000);
			}
			if (pid) {
				kill(pid, sigs[s]);
				int status;
				cr_assert_eq(waitpid(pid, &status, 0), pid);
				caught = WIFSIGNALED(status) &&
					 WTERMSIG(status) == sigs[s];
				if (caught)
					cr_assert_neq(stat(to, &st), 0,
						      "%s is left", to);
			}
			free(to);
		}
		cr_assert(caught, "no backup was caught by signal %d",
			  sigs[s]);
	}
}

/* A data file cut short (its last pages gone: a partial copy or restore)
 * is refused with a storage error, never copied as it is: LMDB's plain
 * copy stops at the file's end, and before 0.3.32 a file cut past the
 * pages that opening it reads was "copied" into a copy that failed later.
 * Each cut of 1 to 4 pages is refused; the cut of the last page alone,
 * whose page an import's commit writes last and an open does not read,
 * by the size check, the others by the read that meets the cut. */
Test(backup_cli, refuses_a_data_file_cut_short)
{
	char in[600], data[600], keep[600];
	snprintf(in, sizeof in, "%s/tasks.jsonl", tmp);
	FILE *f = fopen(in, "w");
	cr_assert(f);
	for (int i = 0; i < 50; i++)
		fprintf(f, "{\"title\":\"Imported %d\",\"link\":\"lead:%d\","
			   "\"assignee\":\"alice\"}\n", i, i % 7);
	cr_assert_eq(fclose(f), 0);
	DO("import", in);
	snprintf(data, sizeof data, "%s/data.mdb", ws);
	snprintf(keep, sizeof keep, "%s/whole.mdb", tmp);
	long long size = file_size(ws);
	cr_assert_eq(link(data, keep), 0, "%s", strerror(errno));
	int checked = 0;
	for (int pages = 1; pages <= 4; pages++) {
		unlink(data);
		char cmd[1300];
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", keep, data);
		cr_assert_eq(system(cmd), 0);
		cr_assert_eq(truncate(data, size - 4096 * pages), 0, "%s",
			     strerror(errno));
		char *to = under_tmp("copy");
		tu_run r;
		EXPECT(&r, 5, "backup", to);
		cr_assert(tu_err_names(&r, "storage"), "%s", r.err);
		cr_assert_str_eq(tu_str(json_object_get(r.json, "error"),
					"code"),
				 "storage");
		if (strstr(r.err, "pages in use end at") &&
		    strstr(r.err, "cut short"))
			checked++;
		tu_run_release(&r);
		struct stat st;
		cr_assert_eq(stat(to, &st), -1, "a refused backup made %s",
			     to);
		free(to);
	}
	cr_assert_eq(checked, 1, "the cut of the last page alone meets the "
				 "size check");
}

/* ---- while another process writes ------------------------------------- */

/* The event at seq in dir, as `log --json` prints it (its hash covers
 * every event before it). */
static char *event_at(const char *dir, long long seq)
{
	char from[24];
	snprintf(from, sizeof from, "%lld", seq);
	tu_run r;
	cr_assert_eq(tu_cli(&r, dir, "log", "--from", from, "--limit", "1",
			    NULL),
		     0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	json_t *ev = json_array_get(json_object_get(r.json, "items"), 0);
	cr_assert(ev, "no event %lld in %s", seq, dir);
	char *s = json_dumps(ev, JSON_SORT_KEYS);
	tu_run_release(&r);
	return s;
}

Test(backup_cli, takes_one_moment_while_another_process_writes,
     .timeout = 120)
{
	pid_t pid = tu_writer_start(ws);

	char *to = under_tmp("live"), *to2 = under_tmp("live-compact");
	long long before = tu_stat(ws, "last_seq");
	tu_run r, r2;
	OK(&r, "backup", to);
	OK(&r2, "backup", to2, "--compact");
	long long after = tu_stat(ws, "last_seq");
	tu_writer_stop(pid);

	long long got = tu_int(r.json, "last_seq"),
		  got2 = tu_int(r2.json, "last_seq");
	cr_assert(before <= got && got <= got2 && got2 <= after,
		  "copies end at %lld and %lld, the log at %lld..%lld", got,
		  got2, before, after);
	cr_assert_eq(tu_int(r.json, "events"), got);
	cr_assert_gt(after, before, "nothing was written meanwhile");
	tu_run_release(&r);
	tu_run_release(&r2);
	verifies(to);
	verifies(to2);
	/* Each copy is the log up to one commit: its last event is the
	 * original's (the same hash, so the same events before it). */
	const char *copies[] = { to, to2 };
	long long ends[] = { got, got2 };
	for (int i = 0; i < 2; i++) {
		char *mine = event_at(copies[i], ends[i]),
		     *theirs = event_at(ws, ends[i]);
		cr_assert_str_eq(mine, theirs);
		free(mine);
		free(theirs);
	}
	free(to);
	free(to2);
}
