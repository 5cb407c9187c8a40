/*
 * e2e_crash.c - kill -9 at a random moment loses no acknowledged write.
 *
 * CRASH_ROUNDS times (default 20) a child process opens one workspace
 * through the library and appends batches of 1..100 task.created commands
 * in a loop (from 64 on, a batch hashes its chain on a second thread:
 * engine/chain.c); after each tl_exec returns it writes the acknowledged
 * seqs to a pipe (one write(2) of at most 800 bytes: atomic).  The parent kills it
 * with SIGKILL after 5..60 ms, reopens the workspace, and checks that every
 * acknowledged seq is in the log as a task.created event, that the log's
 * seqs are contiguous from 1, and that tl_verify finds no problem.  The
 * workspace is kept across rounds so the log grows and every round starts
 * from the state a crash left.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tasklog_projections.h"
#include "tasklog.h"
#include "testutil.h"

#define BATCH_MAX 100

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: append until killed.  Never returns. */
static void writer(const char *dir, int fd, unsigned seed)
{
	tl_open_opts oo = { .flags = TL_OPEN_CREATE };
	tl_init_opts io = { 0 };
	tl_ctx ctx = { 0 };
	tl_cmd cmds[BATCH_MAX];
	tl_result res[BATCH_MAX];
	char titles[BATCH_MAX][48], links[BATCH_MAX][32];
	uint64_t seqs[BATCH_MAX];
	tl_db *db;
	tl_err err;
	int rc;

	alarm(30); /* in case the parent is gone */
	oo.views = tl_views_all(&oo.views_len);
	if (tl_db_open(dir, &oo, &db, &err))
		_exit(3);
	if (!tl_db_initialized(db) && tl_db_init(db, &io, &err))
		_exit(4);
	for (unsigned batch = 0;; batch++) {
		size_t n = 1 + (size_t)rand_r(&seed) % BATCH_MAX;

		memset(cmds, 0, sizeof cmds);
		memset(res, 0, sizeof res);
		for (size_t i = 0; i < n; i++) {
			snprintf(titles[i], sizeof titles[i],
				 "crash %u batch %u item %zu", seed, batch, i);
			snprintf(links[i], sizeof links[i], "lead:%u",
				 (unsigned)rand_r(&seed) % 1000);
			cmds[i].kind = TL_TASK_ADD;
			cmds[i].title = tl_s(titles[i]);
			cmds[i].link = tl_s(links[i]);
		}
		do {
			rc = tl_exec(db, &ctx, cmds, n, res, &err);
		} while (rc == TL_EAGAIN);
		if (rc)
			_exit(5);
		for (size_t i = 0; i < n; i++) {
			seqs[i] = res[i].seq;
			tl_result_release(&res[i]);
		}
		/* Acknowledged: durable before this write. */
		if (write(fd, seqs, n * sizeof seqs[0]) !=
		    (ssize_t)(n * sizeof seqs[0]))
			_exit(6);
	}
}

struct acked {
	uint64_t *seq;
	size_t len, cap;
	size_t partial; /* bytes of an incomplete seq carried over */
	uint8_t carry[8];
};

static void acked_take(struct acked *a, const uint8_t *p, size_t n)
{
	while (n) {
		size_t k = 8 - a->partial < n ? 8 - a->partial : n;
		memcpy(a->carry + a->partial, p, k);
		a->partial += k;
		p += k;
		n -= k;
		if (a->partial == 8) {
			if (a->len == a->cap) {
				a->cap = a->cap ? a->cap * 2 : 1024;
				a->seq = realloc(a->seq,
						 a->cap * sizeof *a->seq);
				cr_assert(a->seq);
			}
			memcpy(&a->seq[a->len++], a->carry, 8);
			a->partial = 0;
		}
	}
}

/* Read the pipe until EOF, or until deadline (ms, monotonic) if >= 0. */
static void drain(int fd, struct acked *a, int64_t deadline)
{
	uint8_t buf[4096];

	for (;;) {
		int wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();
			if (left <= 0)
				return;
			wait = (int)left;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = poll(&p, 1, wait);
		if (rc < 0 && errno == EINTR)
			continue;
		cr_assert(rc >= 0, "poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		cr_assert(n >= 0, "read: %s", strerror(errno));
		if (n == 0)
			return;
		acked_take(a, buf, (size_t)n);
	}
}

struct logscan {
	uint64_t next;      /* the seq expected next */
	bool *task_created; /* by seq */
	size_t cap;
};

static int scan_event(void *arg, const tl_event *ev)
{
	struct logscan *s = arg;
	static const char tc[] = "task.created";

	cr_assert_eq(ev->seq, s->next, "log seq %llu where %llu was expected",
		     (unsigned long long)ev->seq, (unsigned long long)s->next);
	s->next++;
	if (ev->seq >= s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap <= ev->seq)
			cap *= 2;
		s->task_created = realloc(s->task_created,
					  cap * sizeof *s->task_created);
		cr_assert(s->task_created);
		memset(s->task_created + s->cap, 0,
		       (cap - s->cap) * sizeof *s->task_created);
		s->cap = cap;
	}
	s->task_created[ev->seq] = ev->type.len == sizeof tc - 1 &&
				   !memcmp(ev->type.p, tc, sizeof tc - 1);
	return 0;
}

static void report_problem(void *arg, const char *problem)
{
	(void)arg;
	fprintf(stderr, "verify: %s\n", problem);
}

/* Reopen the workspace and check it against what was acknowledged. */
static void check_round(const char *dir, const struct acked *a, int round)
{
	tl_open_opts oo = { 0 };
	tl_ctx ctx = { 0 };
	struct logscan s = { .next = 1 };
	tl_db *db;
	tl_err err = { 0 };
	int rc;

	oo.views = tl_views_all(&oo.views_len);
	rc = tl_db_open(dir, &oo, &db, &err);
	cr_assert_eq(rc, 0, "round %d: reopen: %s: %s", round, err.field,
		     err.message);
	if (!tl_db_initialized(db)) {
		/* Killed before tl_db_init committed. */
		cr_assert_eq(a->len, 0, "round %d: acknowledged writes in an "
				       "uninitialised workspace", round);
		tl_db_close(db);
		return;
	}
	rc = tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, scan_event, &s,
			 &err);
	cr_assert_eq(rc, 0, "round %d: log read: %s: %s", round, err.field,
		     err.message);
	for (size_t i = 0; i < a->len; i++) {
		uint64_t q = a->seq[i];
		cr_assert(q > 0 && q < s.next,
			  "round %d: acknowledged seq %llu lost (log ends at "
			  "%llu)",
			  round, (unsigned long long)q,
			  (unsigned long long)(s.next - 1));
		cr_assert(s.task_created[q],
			  "round %d: seq %llu is not task.created", round,
			  (unsigned long long)q);
	}
	rc = tl_verify(db, &ctx, report_problem, NULL, &err);
	cr_assert_eq(rc, 0, "round %d: verify: %d (%s: %s)", round, rc,
		     err.field, err.message);
	tl_db_close(db);
	free(s.task_created);
}

Test(crash, kill_9_loses_no_acknowledged_write, .timeout = 900)
{
	const char *env = getenv("CRASH_ROUNDS");
	int rounds = env && atoi(env) > 0 ? atoi(env) : 20;
	char *dir = tu_tmpdir();
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct acked all = { 0 };
	size_t total = 0;

	fprintf(stderr, "crash: %d rounds, seed %u, %s\n", rounds, seed, dir);
	for (int round = 0; round < rounds; round++) {
		struct acked a = { 0 };
		int fds[2], st;
		pid_t pid;

		cr_assert_eq(pipe(fds), 0);
		fflush(NULL);
		pid = fork();
		cr_assert(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			writer(dir, fds[1], seed + (unsigned)round * 7919u);
		}
		close(fds[1]);
		/* Three rounds in four kill the writer a random moment after
		 * its first acknowledgement, so that a slow build (the
		 * sanitizers') still kills appends in flight; the fourth
		 * counts from the start, and may kill the open or the init. */
		if (round % 4) {
			int64_t give_up = mono_ms() + 30000;
			while (!a.len && mono_ms() < give_up)
				drain(fds[0], &a, mono_ms() + 10);
		}
		drain(fds[0], &a, mono_ms() + 5 + rand_r(&seed) % 56);
		kill(pid, SIGKILL);
		drain(fds[0], &a, -1);
		close(fds[0]);
		while (waitpid(pid, &st, 0) < 0)
			cr_assert_eq(errno, EINTR);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "round %d: writer ended by itself (status %d)",
			  round, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		cr_assert_eq(a.partial, 0, "round %d: torn pipe write", round);

		/* Every acknowledgement so far, not only this round's. */
		for (size_t i = 0; i < a.len; i++)
			acked_take(&all, (const uint8_t *)&a.seq[i], 8);
		total += a.len;
		check_round(dir, &all, round);
		free(a.seq);
	}
	fprintf(stderr, "crash: %zu acknowledged appends survived\n", total);
	cr_assert_gt(total, 0, "no append was acknowledged in %d rounds: the "
			       "test checked nothing", rounds);
	free(all.seq);
	tu_rmrf(dir);
	free(dir);
}

/* ---- kill -9 during a rebuild ------------------------------------------- */

extern uint64_t tl_rebuild_chunk; /* engine/rebuild.c: events per chunk */
extern size_t tl_rebuild_mem;     /* engine/bulk.c: bytes a sink holds
				     before it spills a sorted run */

/* A killed rebuild leaves no spill file: it had no name (O_TMPFILE). */
static void no_spill_left(const char *dir, int round)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	cr_assert(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		cr_assert(strncmp(e->d_name, ".tasklog-sort", 13),
			  "round %d: %s left in the workspace", round,
			  e->d_name);
	closedir(d);
}

static tl_db *open_views(const char *dir)
{
	tl_open_opts oo = { .flags = TL_OPEN_CREATE };
	tl_err err = { 0 };
	tl_db *db;
	oo.views = tl_views_all(&oo.views_len);
	int rc = tl_db_open(dir, &oo, &db, &err);
	cr_assert_eq(rc, 0, "open: %s: %s", err.field, err.message);
	return db;
}

static int count_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc, (void)len;
	(*(size_t *)arg)++;
	return 0;
}

/* What the views answer: alice's active tasks and lead:3's timeline. */
static void views_answer(tl_db *db, size_t out[2])
{
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	char next[TL_CURSOR_MAX];
	tl_slice alice = tl_s("alice");
	tl_list_query q = { .assignees = &alice, .assignees_len = 1,
			    .limit = 1000 };
	out[0] = out[1] = 0;
	cr_assert_eq(tl_task_list(db, &ctx, &q, count_doc, &out[0], next,
				  &err), 0, "%s", err.message);
	cr_assert_eq(tl_timeline(db, &ctx, tl_s("lead:3"), 1000,
				 (tl_slice){ 0 }, count_doc, count_doc,
				 &out[1], next, &err), 0, "%s", err.message);
}

/* A rebuild is killed at a random moment, again and again: the serving
 * generation stays whole (every query answers as before, verify finds the
 * views equal to the log), and the next rebuild completes. */
Test(crash, kill_9_during_a_rebuild_leaves_the_views_serving,
     .timeout = 600)
{
	const char *env = getenv("CRASH_ROUNDS");
	int rounds = env && atoi(env) > 0 ? atoi(env) : 20;
	char *dir = tu_tmpdir();
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	size_t want[2], got[2];

	tl_db *db = open_views(dir);
	tl_init_opts io = { 0 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
		     .name = tl_s("Alice") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &ctx, &m, 1, &r, &err), 0, "%s", err.message);
	tl_result_release(&r);
	enum { PER = 200, BATCHES = 20 };
	tl_cmd c[PER];
	tl_result res[PER];
	char links[PER][16];
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < PER; i++) {
			snprintf(links[i], sizeof links[i], "lead:%d", i % 37);
			c[i] = (tl_cmd){ .kind = TL_TASK_ADD,
					 .title = tl_s("a task for the crash"),
					 .link = tl_s(links[i]),
					 .assignee = tl_s(i % 3 ? "alice" : NULL),
					 .due = tl_s(i % 4 ? "+2d" : NULL) };
		}
		cr_assert_eq(tl_exec(db, &ctx, c, PER, res, &err), 0, "%s",
			     err.message);
		for (int i = 0; i < PER; i++)
			tl_result_release(&res[i]);
	}
	views_answer(db, want);
	tl_db_close(db);
	cr_assert_gt(want[0], 0);
	cr_assert_gt(want[1], 0);

	fprintf(stderr, "crash: %d rebuild rounds, seed %u\n", rounds, seed);
	for (int round = 0; round < rounds; round++) {
		fflush(NULL);
		pid_t pid = fork();
		cr_assert(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			alarm(30);
			tl_rebuild_chunk = 97; /* many commits to be killed in */
			tl_rebuild_mem = 64 * 1024;
			tl_db *cdb = open_views(dir);
			for (;;)
				if (tl_rebuild(cdb, &ctx, NULL, 0, NULL, NULL,
					       &err))
					_exit(3);
		}
		struct timespec ts = { 0, (long)(1 + rand_r(&seed) % 80) *
					      1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		while (waitpid(pid, &st, 0) < 0)
			cr_assert_eq(errno, EINTR);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "round %d: the rebuilding child ended by itself "
			  "(status %d)", round,
			  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		no_spill_left(dir, round);
		db = open_views(dir);
		views_answer(db, got);
		cr_assert_eq(got[0], want[0], "round %d: task list", round);
		cr_assert_eq(got[1], want[1], "round %d: timeline", round);
		cr_assert_eq(tl_verify(db, &ctx, report_problem, NULL, &err), 0,
			     "round %d: verify: %s", round, err.message);
		tl_db_close(db);
	}
	db = open_views(dir);
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	views_answer(db, got);
	cr_assert_eq(got[0], want[0]);
	cr_assert_eq(got[1], want[1]);
	cr_assert_eq(tl_verify(db, &ctx, report_problem, NULL, &err), 0);
	tl_db_close(db);
	tu_rmrf(dir);
	free(dir);
}
