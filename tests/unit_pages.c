/*
 * unit_pages.c - every page of a workspace damaged in turn, as a data file
 * cut short and grown again (a zeroed page) or a lost write of a child
 * page (each child of each branch in turn pointing past the end of the
 * file) leaves it: every call
 * of the library then gives an error with one of its own codes and a
 * message, or the answer the undamaged workspace gives; never LMDB's
 * code or an errno unmapped, never success with less.
 *
 * A workspace with every view, some of each kind of event, 300 members
 * and no stored task counts (as releases before 0.3.16 left it: stats
 * counts the tasks) is made once, and every read is made on an
 * undamaged copy for its answer (the number of documents or events and
 * a hash of their bytes).  Then, for each page, a child process gets a
 * copy of the file with that page damaged, opens it and makes every
 * read, verify, a write and a rebuild.  LMDB keeps no checksums: a
 * damaged page is usually MDB_CORRUPTED or MDB_PAGE_NOTFOUND where it is
 * read, but a zeroed one that a cursor steps onto fails LMDB's assertion
 * that it is a leaf (SIGABRT after "mdb.c:N: Assertion"): a child
 * stopped so is counted and let be (tests/e2e_cli.c checks what the
 * command line says then).  A child that got a code other than 0 and
 * TL_ESTORAGE (every call succeeds on the undamaged copy: not found or
 * invalid would misname the damage, LMDB's code or an errno is not
 * tasklog's), an error without a message, or success with another answer
 * exits 3 and names the call; any other end (a crash in
 * tasklog's code, a sanitizer's report) fails the test too.  (Before
 * 0.3.20, MDB_CORRUPTED passed through tl_log_read, the timeline and the
 * notifications unmapped, and stats and member list took LMDB's error
 * for the end of the tasks or members: success with less.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
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
#include <lmdb.h>

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
	/* members over many pages */
	enum { MEMBERS = 300 };
	tl_cmd *m = calloc(MEMBERS, sizeof *m);
	char (*mid)[24] = calloc(MEMBERS, sizeof *mid);
	cr_assert(m && mid);
	for (int i = 0; i < MEMBERS; i++) {
		snprintf(mid[i], sizeof mid[i], "member%03d", i);
		m[i] = (tl_cmd){ .kind = TL_MEMBER_ADD, .id = tl_s(mid[i]),
				 .name = tl_s("A member with a long name") };
	}
	must(tl_exec(db, &ctx, m, MEMBERS, NULL, &err), &err, "members");
	free(m);
	free(mid);
	/* a task of a member whose record is pages away from the actor's */
	tl_cmd far = { .kind = TL_TASK_ADD, .title = tl_s("far away"),
		       .link = tl_s("lead:1"), .due = tl_s("+1d"),
		       .assignee = tl_s("member299") };
	must(tl_exec(db, &ctx, &far, 1, NULL, &err), &err, "far task");
	tl_db_close(db);

	/* no task counts stored, as releases before 0.3.16 left them: stats
	 * counts the tasks database */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_val k = { 9, "tl.counts" };
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	cr_assert_eq(mdb_del(txn, main_dbi, &k, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* What a read gave: the number of documents or events and a hash of
 * their bytes. */
typedef struct answer {
	uint64_t n, h;
} answer;

static void digest(answer *a, const void *p, size_t len)
{
	const uint8_t *b = p;
	a->n++;
	for (size_t i = 0; i < len; i++)
		a->h = (a->h ^ b[i]) * UINT64_C(0x100000001b3);
}

static int keep_doc(void *arg, const uint8_t *doc, size_t len)
{
	digest(arg, doc, len);
	return 0;
}

static int keep_event(void *arg, const tl_event *ev)
{
	digest(arg, ev->raw, ev->raw_len);
	return 0;
}

static void no_problem(void *arg, const char *p)
{
	(void)arg, (void)p;
}

/* 0, or a storage error with a message: every call succeeds on the
 * undamaged copy, so any other error (not found, invalid) would misname
 * the damage; else the child says which call and exits 3. */
static void check(int rc, const tl_err *err, const char *what)
{
	if (rc == 0 || (rc == TL_ESTORAGE && err->message[0]))
		return;
	fprintf(stderr, "%s: code %d (%s), message '%s'\n", what, rc,
		tl_code_name(rc), err->message);
	_exit(3);
}

enum { READS = 19 };
static const char *const read_name[READS] = {
	"stats", "task list", "task list --tag", "upcoming", "timeline",
	"notifications", "log", "log of a task", "task get", "task as of",
	"member list", "member get", "task list --record --sort created",
	"task list --status completed --sort updated",
	"task list --due week --entity-type lead", "task list --search",
	"task list --assignee member299", "upcoming of member299",
	"notifications of member299",
};

/* Every kind of read on db: each one's code and answer. */
static void reads(tl_db *db, const char *id, int rc[READS],
		  answer a[READS], tl_err err[READS])
{
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	char next[TL_CURSOR_MAX];
	tl_slice who = tl_s("alice"), tag = tl_s("vip");
	tl_list_query q = { .assignees = &who, .assignees_len = 1,
			    .sort = tl_s("due"), .limit = 50 };
	tl_list_query qt = { .tags = &tag, .tags_len = 1, .limit = 50 };
	tl_stats st;
	uint8_t *doc = NULL;
	size_t len = 0;
	memset(a, 0, READS * sizeof *a);
	memset(err, 0, READS * sizeof *err);

	if (!(rc[0] = tl_db_stats(db, &ctx, &st, &err[0]))) {
		uint64_t f[] = { st.events, st.members, st.tasks, st.active,
				 st.last_seq };
		digest(&a[0], f, sizeof f);
	}
	rc[1] = tl_task_list(db, &ctx, &q, keep_doc, &a[1], next, &err[1]);
	rc[2] = tl_task_list(db, &ctx, &qt, keep_doc, &a[2], next, &err[2]);
	rc[3] = tl_upcoming(db, &ctx, who, 30, 50, (tl_slice){ 0 }, keep_doc,
			    &a[3], next, &err[3]);
	rc[4] = tl_timeline(db, &ctx, tl_s("lead:1"), 50, (tl_slice){ 0 },
			    keep_doc, keep_doc, &a[4], next, &err[4]);
	rc[5] = tl_notifications(db, &ctx, who, false, 50, (tl_slice){ 0 },
				 keep_doc, &a[5], next, &err[5]);
	rc[6] = tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, keep_event, &a[6],
			    &err[6]);
	rc[7] = tl_log_read(db, &ctx, 1, 0, tl_s(id), keep_event, &a[7],
			    &err[7]);
	if (!(rc[8] = tl_task_get(db, &ctx, tl_s(id), &doc, &len, &err[8])))
		digest(&a[8], doc, len);
	free(doc);
	doc = NULL;
	if (!(rc[9] = tl_task_as_of(db, &ctx, tl_s(id),
				    INT64_C(1772442000000) + 1000, &doc, &len,
				    &err[9])))
		digest(&a[9], doc, len);
	free(doc);
	doc = NULL;
	rc[10] = tl_member_list(db, &ctx, keep_doc, &a[10], &err[10]);
	if (!(rc[11] = tl_member_get(db, &ctx, who, &doc, &len, &err[11])))
		digest(&a[11], doc, len);
	free(doc);
	tl_slice done = tl_s("completed"), lead = tl_s("lead"),
		 words = tl_s("longer title");
	tl_list_query qr = { .record = tl_s("lead:2"), .sort = tl_s("created"),
			     .limit = 1000 };
	tl_list_query qs = { .statuses = &done, .statuses_len = 1,
			     .sort = tl_s("updated"), .limit = 1000 };
	tl_list_query qd = { .due = tl_s("week"), .entity_types = &lead,
			     .entity_types_len = 1, .limit = 1000 };
	tl_list_query qw = { .searches = &words, .searches_len = 1,
			     .limit = 1000 };
	rc[12] = tl_task_list(db, &ctx, &qr, keep_doc, &a[12], next, &err[12]);
	rc[13] = tl_task_list(db, &ctx, &qs, keep_doc, &a[13], next, &err[13]);
	rc[14] = tl_task_list(db, &ctx, &qd, keep_doc, &a[14], next, &err[14]);
	rc[15] = tl_task_list(db, &ctx, &qw, keep_doc, &a[15], next, &err[15]);
	tl_slice far = tl_s("member299");
	tl_list_query qf = { .assignees = &far, .assignees_len = 1 };
	rc[16] = tl_task_list(db, &ctx, &qf, keep_doc, &a[16], next, &err[16]);
	rc[17] = tl_upcoming(db, &ctx, far, 30, 50, (tl_slice){ 0 }, keep_doc,
			     &a[17], next, &err[17]);
	rc[18] = tl_notifications(db, &ctx, far, false, 50, (tl_slice){ 0 },
				  keep_doc, &a[18], next, &err[18]);
}

/* The child: every kind of call on the damaged copy in dir.  A read that
 * succeeds must give the undamaged workspace's answer (ref): success
 * with less (a walk that took LMDB's error for the end) is wrong. */
static void calls(const char *dir, const char *id, const answer ref[READS])
{
	tl_err err = { 0 }, errs[READS];
	int rc, rcs[READS];
	answer a[READS];
	tl_db *db = open_at(dir, &err, &rc);
	check(rc, &err, "open");
	if (!db)
		_exit(0);
	reads(db, id, rcs, a, errs);
	for (int i = 0; i < READS; i++) {
		check(rcs[i], &errs[i], read_name[i]);
		if (rcs[i] == 0 && (a[i].n != ref[i].n || a[i].h != ref[i].h)) {
			fprintf(stderr, "%s: success, with another answer "
				"(%llu items, %llu before the damage)\n",
				read_name[i], (unsigned long long)a[i].n,
				(unsigned long long)ref[i].n);
			_exit(3);
		}
	}
	/* verify: the problems it finds are its answer (> 0) */
	tl_ctx ctx = { .now_ms = INT64_C(1772442000000) };
	rc = tl_verify_log(db, &ctx, no_problem, NULL, &err);
	check(rc > 0 ? 0 : rc, &err, "verify_log");
	memset(&err, 0, sizeof err);
	rc = tl_verify(db, &ctx, no_problem, NULL, &err);
	check(rc > 0 ? 0 : rc, &err, "verify");
	tl_cmd c[2] = { { .kind = TL_TASK_ADD, .title = tl_s("new"),
			  .link = tl_s("lead:1"), .assignee = tl_s("bob") },
			{ .kind = TL_TASK_UPDATE, /* task 3: not deleted */
			  .id = tl_s("0190a000-0000-7000-8000-000000000003"),
			  .title = tl_s("renamed") } };
	memset(&err, 0, sizeof err);
	check(tl_exec(db, &ctx, c, 2, NULL, &err), &err, "exec");
	memset(&err, 0, sizeof err);
	check(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err), &err,
	      "rebuild");
	tl_db_close(db);
	_exit(0);
}

/* The copy in dir: file with one page damaged by mode (ZERO: zeroed;
 * ORPHAN: child number `child` of a branch page pointing past the end of
 * the file, as a lost write of that child leaves it; false when the page
 * is not a branch or has no such child), or as it is (page SIZE_MAX). */
enum { ZERO, ORPHAN };
static bool write_copy(const char *dir, const uint8_t *file, size_t size,
		       size_t page, size_t psize, int mode, size_t child)
{
	static uint8_t buf[65536];
	cr_assert_leq(psize, sizeof buf);
	if (page != SIZE_MAX) {
		memcpy(buf, file + page * psize, psize);
		uint16_t flags, lower, off;
		memcpy(&flags, buf + 10, 2); /* LMDB's page header */
		memcpy(&lower, buf + 12, 2);
		if (mode == ZERO) {
			memset(buf, 0, psize);
		} else if (page < 2 || !(flags & 1) || lower < 18 ||
			   lower > psize || 16 + 2 * child >= lower) {
			return false; /* a meta page, not a branch, no child */
		} else {
			memcpy(&off, buf + 16 + 2 * child, 2); /* its node */
			if ((size_t)off + 4 > psize)
				return false;
			static const uint8_t far[4] = { 0xff, 0xff, 0xff,
							0x0f };
			memcpy(buf + off, far, 4); /* its pgno's low bytes */
		}
	}
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, file, size), (ssize_t)size);
	if (page != SIZE_MAX)
		cr_assert_eq(pwrite(fd, buf, psize, (off_t)(page * psize)),
			     (ssize_t)psize);
	close(fd);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	return true;
}

/* Each page of the workspace damaged by mode in turn, every call on it
 * in a child. */
static void damage_each_page(int mode)
{
	static const char *const how[] = { "zeroed", "orphaning a child" };
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
	size_t pages = size / psize, damaged = 0, crashed = 0, bad = 0;
	cr_assert_gt(pages, 20, "a workspace of %zu pages", pages);

	/* the answers of the undamaged workspace, from a copy of it */
	write_copy(copy, file, size, SIZE_MAX, psize, mode, 0);
	answer ref[READS];
	int rcs[READS];
	tl_err errs[READS], err;
	int rc;
	tl_db *db = open_at(copy, &err, &rc);
	must(rc, &err, "open the copy");
	reads(db, id, rcs, ref, errs);
	tl_db_close(db);
	for (int i = 0; i < READS; i++) {
		must(rcs[i], &errs[i], read_name[i]);
		cr_assert_gt(ref[i].n, 0, "%s: no answer", read_name[i]);
	}

	for (size_t p = 0, child = 0; p < pages;
	     mode == ORPHAN ? child++ : p++) {
		if (!write_copy(copy, file, size, p, psize, mode, child)) {
			if (mode == ORPHAN) { /* the next page's children */
				p++;
				child = SIZE_MAX; /* 0 after the step */
			}
			continue;
		}
		damaged++;
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			dup2(fds[1], 2);
			calls(copy, id, ref);
		}
		close(fds[1]);
		char said[512] = "";
		ssize_t n = read(fds[0], said, sizeof said - 1);
		said[n > 0 ? n : 0] = 0;
		close(fds[0]);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
			cr_log_error("page %zu of %zu %s: %s", p, pages,
				     how[mode], said);
			bad++;
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
			   strstr(said, "mdb.c:")) {
			crashed++; /* one of LMDB's assertions */
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			for (char *q = said; *q; q++)
				if (*q == '\n')
					*q = ' ';
			cr_log_error("page %zu of %zu %s: the calls ended "
				     "with status %d: %s", p, pages, how[mode],
				     st, said);
			bad++;
		}
	}
	cr_log_info("%zu pages (or branches' children) of %zu %s in turn: "
		    "%zu stopped by LMDB's assertions", damaged, pages,
		    how[mode], crashed);
	cr_assert_gt(damaged, mode == ZERO ? 100 : 50);
	cr_assert_eq(bad, 0, "%zu pages gave a code that is not tasklog's, "
		     "a wrong answer, or another crash", bad);
	free(file);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

Test(pages, every_page_zeroed_gives_an_error_or_the_answer, .timeout = 600)
{
	damage_each_page(ZERO);
}

Test(pages, every_branch_losing_a_child_gives_an_error_or_the_answer,
     .timeout = 600)
{
	damage_each_page(ORPHAN);
}

static int count_event(void *arg, const tl_event *ev)
{
	(void)ev;
	++*(size_t *)arg;
	return 0;
}

/* A read of the log with a limit stops at its last event: a damaged page
 * past it (the log's second child pointing past the end of the file) is
 * not its business (before 0.3.20 it stepped onto that page and failed);
 * one more event is. */
Test(pages, a_log_read_that_ends_before_a_damaged_page_answers)
{
	char ws[96], path[128], id[37];
	snprintf(base, sizeof base, "/tmp/tasklog-pages-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(ws, sizeof ws, "%s/ws", base);
	cr_assert_eq(mkdir(ws, 0700), 0);
	make_workspace(ws, id);

	/* the root of the log's tree: its MDB_db record in the main db */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_val k = { 6, "events" }, v;
	uint64_t root;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_open(env, ws, MDB_RDONLY, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	cr_assert_eq(mdb_get(txn, main_dbi, &k, &v), 0);
	cr_assert_eq(v.mv_size, 48);
	memcpy(&root, (const uint8_t *)v.mv_data + 40, 8);
	mdb_txn_abort(txn);
	mdb_env_close(env);

	/* its second child: the seq its first key holds, then orphaned */
	size_t psize = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t page[65536];
	snprintf(path, sizeof path, "%s/data.mdb", ws);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, page, psize, (off_t)(root * psize)),
		     (ssize_t)psize);
	uint16_t flags, lower, off, ksize;
	memcpy(&flags, page + 10, 2);
	memcpy(&lower, page + 12, 2);
	cr_assert(flags & 1, "the log's root is not a branch");
	cr_assert_geq(lower, 16 + 2 * 2, "the root has one child");
	memcpy(&off, page + 16 + 2, 2);
	memcpy(&ksize, page + off + 6, 2);
	cr_assert_eq(ksize, 8);
	uint64_t first = 0;
	for (int i = 0; i < 8; i++)
		first = first << 8 | page[off + 8 + i];
	cr_assert_gt(first, 2);
	static const uint8_t far[4] = { 0xff, 0xff, 0xff, 0x0f };
	memcpy(page + off, far, 4);
	cr_assert_eq(pwrite(fd, page, psize, (off_t)(root * psize)),
		     (ssize_t)psize);
	close(fd);
	snprintf(path, sizeof path, "%s/lock.mdb", ws);
	unlink(path);

	tl_err err = { 0 };
	int rc;
	tl_db *db = open_at(ws, &err, &rc);
	must(rc, &err, "open");
	tl_ctx ctx = { .actor = "admin" };
	size_t n = 0;
	rc = tl_log_read(db, &ctx, 1, (size_t)first - 1, (tl_slice){ 0 },
			 count_event, &n, &err);
	cr_assert_eq(rc, 0, "%d %s", rc, err.message);
	cr_assert_eq(n, first - 1);
	n = 0;
	memset(&err, 0, sizeof err);
	rc = tl_log_read(db, &ctx, 1, (size_t)first, (tl_slice){ 0 },
			 count_event, &n, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	tl_db_close(db);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
