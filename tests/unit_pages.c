/*
 * unit_pages.c - every page of a workspace zeroed in turn (as a data file
 * cut short and grown again leaves a page, or a disk that lost a write):
 * every call of the library then gives 0 or one of its own codes, with a
 * message, never LMDB's code or an errno unmapped.
 *
 * A workspace with every view and some of each kind of event is made
 * once; then, for each page of its data file, a child process gets a copy
 * of the file with that page zeroed, opens it and makes every kind of
 * call (reads, queries, verify, rebuild, a write).  LMDB keeps no
 * checksums: a zeroed page is usually MDB_CORRUPTED or MDB_PAGE_NOTFOUND
 * where it is read, but one that a cursor steps onto fails LMDB's
 * assertion that it is a leaf (SIGABRT after "mdb.c:N: Assertion"): a
 * child stopped so is counted and let be (tests/e2e_cli.c checks what the
 * command line says then).  A child that got a code outside 0 and
 * TL_EINVALID to TL_EAGAIN, or an error without a message, exits 3 and
 * names the call; any other end (a crash in tasklog's code, a sanitizer's
 * report) fails the test too.
 * (Before 0.3.20, MDB_CORRUPTED passed through tl_log_read, the folds,
 * the timeline, the notifications and a rebuild's switch unmapped.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tasklog.h"
#include "tasklog_projections.h"

static char base[64];

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static tl_db *open_at(const char *dir, tl_err *err, int *rc)
{
	size_t n;
	tl_db *db = NULL;
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	o.views = tl_views_all(&n);
	o.views_len = n;
	*rc = tl_db_open(dir, &o, &db, err);
	return *rc ? NULL : db;
}

static void must(int rc, const tl_err *err, const char *what)
{
	cr_assert_eq(rc, 0, "%s: %d %s", what, rc, err->message);
}

/* The workspace: members alice and bob, tasks on three leads, assigned,
 * updated, completed, tagged, deleted, a notification read. */
static void make_workspace(const char *dir, char first_id[37])
{
	tl_err err = { 0 };
	int rc;
	tl_db *db = open_at(dir, &err, &rc);
	must(rc, &err, "open");
	tl_init_opts io = { .now_ms = INT64_C(1772442000000) };
	must(tl_db_init(db, &io, &err), &err, "init");
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	const char *names[] = { "alice", "bob" };
	for (int i = 0; i < 2; i++) {
		tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s(names[i]),
			     .name = tl_s(names[i]) };
		must(tl_exec(db, &ctx, &m, 1, NULL, &err), &err, "member");
	}
	tl_slice tag = tl_s("vip");
	char note[24] = ""; /* task 2's creation: alice's notification */
	for (int i = 0; i < 60; i++) {
		char title[32], link[16], id[37];
		snprintf(title, sizeof title, "task %d with a longer title",
			 i);
		snprintf(link, sizeof link, "lead:%d", i % 3);
		snprintf(id, sizeof id, "0190a000-0000-7000-8000-%012x", i);
		if (i == 0)
			memcpy(first_id, id, 37);
		tl_cmd c[4] = {
			{ .kind = TL_TASK_ADD, .id = tl_s(id),
			  .title = tl_s(title), .link = tl_s(link),
			  .due = tl_s(i % 2 ? "+2d" : "2026-03-10"),
			  .assignee = tl_s(names[i % 2]) },
			{ .kind = TL_TASK_UPDATE, .id = tl_s(id),
			  .notes = tl_s("some notes") },
			{ .kind = TL_TASK_TAG, .id = tl_s(id), .tags = &tag,
			  .tags_len = 1 },
			{ .kind = i % 5 ? TL_TASK_COMPLETE : TL_TASK_DELETE,
			  .id = tl_s(id) },
		};
		size_t n = i % 4 ? 3 : 4;
		tl_result res[4];
		must(tl_exec(db, &ctx, c, n, res, &err), &err, "tasks");
		if (i == 2)
			snprintf(note, sizeof note, "%llu",
				 (unsigned long long)res[0].seq);
		for (size_t k = 0; k < n; k++)
			tl_result_release(&res[k]);
	}
	tl_slice nid = tl_s(note);
	tl_cmd r = { .kind = TL_NOTIFICATIONS_READ, .id = tl_s("alice"),
		     .ids = &nid, .ids_len = 1 };
	must(tl_exec(db, &ctx, &r, 1, NULL, &err), &err, "read");
	tl_db_close(db);
}

static int keep_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)arg, (void)doc, (void)len;
	return 0;
}

static int keep_event(void *arg, const tl_event *ev)
{
	(void)arg, (void)ev;
	return 0;
}

static void no_problem(void *arg, const char *p)
{
	(void)arg, (void)p;
}

/* 0 or a tasklog code with a message; else the child says which call and
 * exits 3. */
static void check(int rc, const tl_err *err, const char *what)
{
	if (rc > 0 && (!strcmp(what, "verify") ||
		       !strcmp(what, "verify_log")))
		return; /* problems found: their number */
	if (rc == 0 || (rc >= TL_EAGAIN && rc < 0 && err->message[0]))
		return;
	fprintf(stderr, "%s: code %d (%s), message '%s'\n", what, rc,
		tl_code_name(rc), err->message);
	_exit(3);
}

/* The child: every kind of call on the damaged copy in dir. */
static void calls(const char *dir, const char *id)
{
	tl_err err = { 0 };
	int rc;
	tl_db *db = open_at(dir, &err, &rc);
	check(rc, &err, "open");
	if (!db)
		_exit(0);
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	char next[TL_CURSOR_MAX];
	tl_stats st;
	uint8_t *doc;
	size_t len;

#define CALL(what, expr)                                                       \
	do {                                                                   \
		memset(&err, 0, sizeof err);                                   \
		check((expr), &err, what);                                     \
	} while (0)

	CALL("stats", tl_db_stats(db, &ctx, &st, &err));
	tl_slice who = tl_s("alice"), tag = tl_s("vip");
	tl_list_query q = { .assignees = &who, .assignees_len = 1,
			    .sort = tl_s("due"), .limit = 50 };
	CALL("task list", tl_task_list(db, &ctx, &q, keep_doc, NULL, next,
				       &err));
	tl_list_query qt = { .tags = &tag, .tags_len = 1, .limit = 50 };
	CALL("task list --tag", tl_task_list(db, &ctx, &qt, keep_doc, NULL,
					     next, &err));
	CALL("upcoming", tl_upcoming(db, &ctx, who, 30, 50, (tl_slice){ 0 },
				     keep_doc, NULL, next, &err));
	CALL("timeline", tl_timeline(db, &ctx, tl_s("lead:1"), 50,
				     (tl_slice){ 0 }, keep_doc, keep_doc, NULL,
				     next, &err));
	CALL("notifications", tl_notifications(db, &ctx, who, false, 50,
					       (tl_slice){ 0 }, keep_doc, NULL,
					       next, &err));
	CALL("log", tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				NULL, &err));
	CALL("log of a task", tl_log_read(db, &ctx, 1, 0, tl_s(id),
					  keep_event, NULL, &err));
	doc = NULL;
	CALL("task get", tl_task_get(db, &ctx, tl_s(id), &doc, &len, &err));
	free(doc);
	doc = NULL;
	CALL("task as of", tl_task_as_of(db, &ctx, tl_s(id),
					 INT64_C(1772442000000), &doc, &len,
					 &err));
	free(doc);
	CALL("member list", tl_member_list(db, &ctx, keep_doc, NULL, &err));
	doc = NULL;
	CALL("member get", tl_member_get(db, &ctx, who, &doc, &len, &err));
	free(doc);
	CALL("verify_log", tl_verify_log(db, &ctx, no_problem, NULL, &err));
	CALL("verify", tl_verify(db, &ctx, no_problem, NULL, &err));
	tl_cmd c[2] = { { .kind = TL_TASK_ADD, .title = tl_s("new"),
			  .link = tl_s("lead:1"), .assignee = tl_s("bob") },
			{ .kind = TL_TASK_UPDATE, .id = tl_s(id),
			  .title = tl_s("renamed") } };
	CALL("exec", tl_exec(db, &ctx, c, 2, NULL, &err));
	CALL("rebuild", tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err));
#undef CALL
	tl_db_close(db);
	_exit(0);
}

static void write_copy(const char *dir, const uint8_t *file, size_t size,
		       size_t page, size_t psize)
{
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, file, size), (ssize_t)size);
	static uint8_t zero[65536];
	cr_assert_eq(pwrite(fd, zero, psize, (off_t)(page * psize)),
		     (ssize_t)psize);
	close(fd);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
}

Test(pages, every_page_zeroed_gives_tasklog_codes_from_every_call,
     .timeout = 600)
{
	char ws[96], copy[96], path[128], id[37];
	snprintf(base, sizeof base, "/tmp/tasklog-pages-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(ws, sizeof ws, "%s/ws", base);
	snprintf(copy, sizeof copy, "%s/copy", base);
	cr_assert_eq(mkdir(ws, 0700), 0);
	cr_assert_eq(mkdir(copy, 0700), 0);
	make_workspace(ws, id);

	snprintf(path, sizeof path, "%s/data.mdb", ws);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	size_t size = (size_t)ftell(f);
	rewind(f);
	uint8_t *file = malloc(size);
	cr_assert_not_null(file);
	cr_assert_eq(fread(file, 1, size, f), size);
	fclose(f);
	size_t psize = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = size / psize, crashed = 0, bad = 0;
	cr_assert_gt(pages, 20, "a workspace of %zu pages", pages);

	for (size_t p = 0; p < pages; p++) {
		write_copy(copy, file, size, p, psize);
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			dup2(fds[1], 2);
			calls(copy, id);
		}
		close(fds[1]);
		char said[512] = "";
		ssize_t n = read(fds[0], said, sizeof said - 1);
		said[n > 0 ? n : 0] = 0;
		close(fds[0]);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
			cr_log_error("page %zu of %zu zeroed: %s", p, pages,
				     said);
			bad++;
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
			   strstr(said, "mdb.c:")) {
			crashed++; /* one of LMDB's assertions */
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			for (char *q = said; *q; q++)
				if (*q == '\n')
					*q = ' ';
			cr_log_error("page %zu of %zu zeroed: the calls ended "
				     "with status %d: %s", p, pages, st, said);
			bad++;
		}
	}
	cr_log_info("%zu pages zeroed in turn: %zu stopped by LMDB's "
		    "assertions", pages, crashed);
	cr_assert_eq(bad, 0, "%zu pages gave a code that is not tasklog's, "
		     "or another crash", bad);
	free(file);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
