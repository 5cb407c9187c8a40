/*
 * unit_procs.c - one workspace used by several processes at once (forked
 * children here): a map grown by one process is adopted by the others and
 * kept in the file, opening does not wait for another process's writer,
 * a long-lived handle follows any number of rebuilds made elsewhere, and
 * verify grows a full map instead of failing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "internal.h"
#include "view_int.h"
#include "tasklog_projections.h"
#include "testutil.h"

static char dir[64];

static void mkws(void)
{
	snprintf(dir, sizeof dir, "/tmp/tl-procs-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void rmws(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* In a child: no Criterion asserts (they would report from the child). */
static tl_db *open_ws(size_t map_size)
{
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .views = tl_views_all(&n),
			   .map_size = map_size };
	o.views_len = n;
	tl_db *db;
	tl_err err;
	if (tl_db_open(dir, &o, &db, &err))
		return NULL;
	return db;
}

/* n tasks with notes of `notes` bytes; 0 or the failing code. */
static int add_tasks(tl_db *db, int n, size_t notes)
{
	tl_ctx ctx = { .actor = "admin" };
	tl_err err;
	char *text = malloc(notes + 1);
	memset(text, 'n', notes);
	text[notes] = 0;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("A task"),
			     .link = tl_s("lead:1"),
			     .notes = (tl_slice){ text, notes } };
		tl_result r;
		/* a full map: grown, then the whole transaction again */
		while ((rc = tl_exec(db, &ctx, &c, 1, &r, &err)) == TL_EAGAIN)
			;
		if (!rc)
			tl_result_release(&r);
	}
	free(text);
	return rc;
}

static size_t map_size(tl_db *db)
{
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	return info.me_mapsize;
}

/* A new initialised workspace, every view, this process's handle. */
static tl_db *new_ws(size_t map)
{
	tl_err err;
	tl_db *db = open_ws(map);
	cr_assert_not_null(db);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	return db;
}

static int count_fn(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	++*(int *)arg;
	return 0;
}

static int list_all(tl_db *db, int *n)
{
	tl_ctx ctx = { .actor = "admin" };
	tl_list_query q = { .limit = 1000 };
	char next[TL_CURSOR_MAX];
	tl_err err;
	*n = 0;
	return tl_task_list(db, &ctx, &q, count_fn, n, next, &err);
}

static _Noreturn void child_exit(int rc)
{
	_exit(rc ? 1 : 0);
}

static void run_child(void (*fn)(void))
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		fn();
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
}

/* Past the 64 MiB a new workspace starts with: 1,150 tasks of 60 kB
 * notes, 50 per transaction, without fsync (a test's data). */
static void grow_child(void)
{
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_NOSYNC, .views = tl_views_all(&n) };
	o.views_len = n;
	tl_db *db;
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	if (tl_db_open(dir, &o, &db, &err))
		child_exit(1);
	static char text[60000];
	memset(text, 'n', sizeof text);
	tl_cmd c[50];
	tl_result r[50];
	for (int i = 0; i < 50; i++)
		c[i] = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("A task"),
				 .link = tl_s("lead:1"),
				 .notes = (tl_slice){ text, sizeof text } };
	int rc = 0;
	for (int b = 0; b < 23 && !rc; b++) {
		while ((rc = tl_exec(db, &ctx, c, 50, r, &err)) == TL_EAGAIN)
			;
		for (int i = 0; !rc && i < 50; i++)
			tl_result_release(&r[i]);
	}
	tl_db_close(db);
	child_exit(rc);
}

/* The parent keeps its handle open while a child fills the map past the
 * size the parent mapped; the parent's next reads and writes adopt the
 * grown map (LMDB's MDB_MAP_RESIZED), and a process opened later starts
 * at the grown size, not at the pages in use. */
Test(procs, a_map_grown_by_another_process_is_adopted_and_kept,
     .init = mkws, .fini = rmws)
{
	tl_db *db = new_ws(1 << 20);
	size_t before = map_size(db);
	run_child(grow_child);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 1000); /* a page's most */
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	size_t adopted = map_size(db);
	cr_assert_gt(adopted, before);
	tl_db_close(db);

	db = open_ws(0);
	cr_assert_not_null(db);
	cr_assert_geq(map_size(db), adopted, "reopened at %zu, stored %zu",
		      map_size(db), adopted);
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	cr_assert_gt(info.me_mapsize, (info.me_last_pgno + 1) * 4096,
		     "the map is no larger than the pages in use");
	tl_db_close(db);
}

static void grow_now(void *arg)
{
	(void)arg;
	run_child(grow_child);
}

/* Two backups into one new directory at once: the second to create its
 * copy's file is refused as for a directory that is not empty (invalid),
 * not as a storage failure, and leaves the other's file be. */
static char racing_partial[128];

static void other_backup_begins(void *arg)
{
	(void)arg;
	int fd = open(racing_partial, O_WRONLY | O_CREAT | O_EXCL, 0666);
	cr_assert_geq(fd, 0);
	close(fd);
}

/* A backup into `to` during which hook runs (as another backup into it
 * would) is refused as invalid, field dir, saying why. */
static void backup_refused(tl_db *db, const char *to, void (*hook)(void *),
			   const char *why)
{
	tl_ctx ctx = { .actor = "admin" };
	tl_err err;
	tl_backup_hook = hook;
	int rc = tl_db_backup(db, &ctx, to, 0, NULL, &err);
	tl_backup_hook = NULL;
	cr_assert_eq(rc, TL_EINVALID, "%d: %s", rc, err.message);
	cr_assert_str_eq(err.field, "dir");
	cr_assert(strstr(err.message, why), "%s", err.message);
}

Test(procs, a_backup_racing_another_into_one_directory_is_refused,
     .init = mkws, .fini = rmws)
{
	tl_db *db = new_ws(1 << 20);
	char to[96];
	snprintf(to, sizeof to, "%s/copy", dir);
	snprintf(racing_partial, sizeof racing_partial,
		 "%s/data.mdb.partial", to);
	backup_refused(db, to, other_backup_begins,
		       "another backup began writing into it");
	struct stat st;
	cr_assert_eq(stat(racing_partial, &st), 0, "the other's file kept");
	tl_db_close(db);
}

/* The other backup copies and renames its file into place first: this
 * one's copy is refused at its rename, and the other's data.mdb stays. */
static char racing_final[128];

static void other_backup_finishes(void *arg)
{
	(void)arg;
	FILE *f = fopen(racing_final, "wx");
	cr_assert(f && fputs("the other copy", f) >= 0 && fclose(f) == 0);
}

Test(procs, a_backup_finishing_second_into_one_directory_is_refused,
     .init = mkws, .fini = rmws)
{
	tl_db *db = new_ws(1 << 20);
	char to[96], partial[160], got[32] = "";
	snprintf(to, sizeof to, "%s/copy", dir);
	snprintf(racing_final, sizeof racing_final, "%s/data.mdb", to);
	snprintf(partial, sizeof partial, "%s/data.mdb.partial", to);
	backup_refused(db, to, other_backup_finishes,
		       "another backup finished into it first");
	FILE *f = fopen(racing_final, "r");
	cr_assert(f && fgets(got, sizeof got, f));
	fclose(f);
	cr_assert_str_eq(got, "the other copy");
	struct stat st;
	cr_assert_eq(stat(partial, &st), -1, "its own partial file removed");
	tl_db_close(db);
}

/* A backup whose map another process grows between its checks and its
 * copy: LMDB's copy finds the map resized, and the backup adopts it and
 * copies again, into an emptied file. */
Test(procs, a_backup_adopts_a_map_grown_meanwhile, .init = mkws,
     .fini = rmws)
{
	tl_db *db = new_ws(1 << 20);
	size_t before = map_size(db);
	char to[96];
	snprintf(to, sizeof to, "%s/copy", dir);
	tl_ctx ctx = { .actor = "admin" };
	tl_backup_info b;
	tl_stats st;
	tl_err err;
	tl_backup_hook = grow_now;
	int rc = tl_db_backup(db, &ctx, to, 0, &b, &err);
	tl_backup_hook = NULL;
	cr_assert_eq(rc, 0, "%s", err.message);
	cr_assert_gt(map_size(db), before, "the map did not grow");
	cr_assert_eq(tl_db_stats(db, &ctx, &st, &err), 0);
	cr_assert_eq(b.events, st.events);
	cr_assert_gt(b.events, 1150);
	tl_db_close(db);

	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(to, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_verify_log(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

static int hold_fd[2], go_fd[2];

static void writer_child(void)
{
	alarm(20); /* a read that waited for it would wait this long */
	tl_db *db = open_ws(0);
	tl_txn *t;
	tl_err err;
	char c;
	if (!db || tl_txn_begin(db, &t, &err))
		child_exit(1);
	/* holds LMDB's writer lock until told to go */
	if (write(hold_fd[1], "x", 1) != 1 || read(go_fd[0], &c, 1) != 1)
		child_exit(1);
	tl_txn_abort(t);
	tl_db_close(db);
	child_exit(0);
}

/* Opening a workspace and reading it while another process holds a write
 * transaction does not wait for that writer: the child still holds it
 * when the parent is done. */
Test(procs, opening_and_reading_do_not_wait_for_a_writer, .init = mkws,
     .fini = rmws)
{
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 3, 10), 0);
	tl_db_close(db);

	cr_assert_eq(pipe(hold_fd), 0);
	cr_assert_eq(pipe(go_fd), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		writer_child();
	char c;
	cr_assert_eq(read(hold_fd[0], &c, 1), 1);
	db = open_ws(0);
	cr_assert_not_null(db);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 3);
	tl_db_close(db);
	int st;
	cr_assert_eq(waitpid(pid, &st, WNOHANG), 0,
		     "the read waited for the writer to finish");
	cr_assert_eq(write(go_fd[1], "x", 1), 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 2; i++) {
		close(hold_fd[i]);
		close(go_fd[i]);
	}
}

/* A process that reads, so holds a slot of the table of readers: it says
 * so on ready_fd, then holds it until a byte comes on release_fd (20 s
 * at most: a test that failed on the way releases none). */
static int ready_fd[2], release_fd[2];

static void reader_child(void)
{
	alarm(20);
	tl_db *db = open_ws(0);
	int n;
	char c;
	if (!db || list_all(db, &n) || write(ready_fd[1], "r", 1) != 1 ||
	    read(release_fd[0], &c, 1) != 1)
		child_exit(1);
	tl_db_close(db);
	child_exit(0);
}

/* A process that lets one reader go `ms` from now. */
static pid_t release_later(int ms)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		usleep((useconds_t)ms * 1000);
		child_exit(write(release_fd[1], "x", 1) == 1 ? 0 : 1);
	}
	return pid;
}

/* Every slot of the table of readers taken (4 here, 1024 by default; a
 * process holds one from its first read until it closes the workspace,
 * so a few hundred commands at once filled 256 and failed): a read waits
 * for one to be freed instead of failing; one that waits in vain says
 * why. */
Test(procs, a_read_waits_for_a_slot_in_a_full_table_of_readers,
     .init = mkws, .fini = rmws)
{
	tl_max_readers = 4;
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 2, 10), 0);
	tl_db_close(db); /* lock.mdb keeps 4 slots */
	cr_assert_eq(pipe(ready_fd), 0);
	cr_assert_eq(pipe(release_fd), 0);
	pid_t kids[5];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		cr_assert_neq(kids[i], -1);
		if (kids[i] == 0)
			reader_child();
	}
	char c;
	for (int i = 0; i < 4; i++)
		cr_assert_eq(read(ready_fd[0], &c, 1), 1);

	/* full: this open's reads wait for a child to go, 300 ms after the
	 * clock is read (a child that held its slot for a time of its own
	 * could be gone before the last one was ready, on a slow machine) */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t releaser = release_later(300);
	db = open_ws(0);
	cr_assert_not_null(db);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_geq(waited, 0.1, "it waited (%.3f s)", waited);
	int rst;
	cr_assert_eq(waitpid(releaser, &rst, 0), releaser);
	cr_assert(WIFEXITED(rst) && WEXITSTATUS(rst) == 0);

	/* full again (this process and three children): a read that waits
	 * in vain fails with storage, saying why */
	int msg[2];
	cr_assert_eq(pipe(msg), 0);
	kids[4] = fork();
	cr_assert_neq(kids[4], -1);
	if (kids[4] == 0) {
		tl_readers_wait_ms = 200;
		size_t nv;
		tl_open_opts o = { .views = tl_views_all(&nv) };
		o.views_len = nv;
		tl_db *d;
		tl_err err;
		int rc = tl_db_open(dir, &o, &d, &err);
		if (rc == 0)
			child_exit(1);
		dprintf(msg[1], "%d %s: %s", rc, err.field, err.message);
		child_exit(0);
	}
	close(msg[1]);
	char said[600] = "";
	cr_assert_gt(read(msg[0], said, sizeof said - 1), 0);
	cr_assert(strstr(said, "-5 storage: ") == said, "%s", said);
	cr_assert(strstr(said, "table of readers stayed full for 0.2 s"),
		  "%s", said);
	close(msg[0]);
	tl_db_close(db);
	for (int i = 1; i < 4; i++)
		cr_assert_eq(write(release_fd[1], "x", 1), 1);
	for (int i = 0; i < 5; i++) {
		int st;
		cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d",
			  i);
	}
	tl_max_readers = 1024;
	for (int i = 0; i < 2; i++) {
		close(ready_fd[i]);
		close(release_fd[i]);
	}
}

/* A process that read and died (kill -9, _exit) without closing the
 * workspace leaves its slot in the table of readers, which pins the pages
 * of the snapshot it read (the file then grows) until someone frees it.
 * An open frees the slots of dead processes: here another process holds
 * the workspace open throughout, so that LMDB does not rebuild lock.mdb. */
static void hold_open_child(void)
{
	alarm(20);
	tl_db *db = open_ws(0);
	char c;
	if (!db || write(ready_fd[1], "h", 1) != 1 ||
	    read(release_fd[0], &c, 1) != 1)
		child_exit(1);
	tl_db_close(db);
	child_exit(0);
}

static void read_and_die_child(void)
{
	alarm(20);
	tl_db *db = open_ws(0);
	int n;
	child_exit(!db || list_all(db, &n)); /* the handle left open */
}

Test(procs, an_open_frees_the_reader_slots_of_dead_processes, .init = mkws,
     .fini = rmws)
{
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	tl_db_close(db);
	cr_assert_eq(pipe(ready_fd), 0);
	cr_assert_eq(pipe(release_fd), 0);
	pid_t holder = fork();
	cr_assert_neq(holder, -1);
	if (holder == 0)
		hold_open_child();
	char c;
	cr_assert_eq(read(ready_fd[0], &c, 1), 1);
	run_child(read_and_die_child);
	db = open_ws(0);
	cr_assert_not_null(db);
	int dead = -1;
	cr_assert_eq(mdb_reader_check(db->env, &dead), 0);
	cr_assert_eq(dead, 0, "%d slots of dead processes left", dead);
	tl_db_close(db);
	cr_assert_eq(write(release_fd[1], "x", 1), 1);
	int st;
	cr_assert_eq(waitpid(holder, &st, 0), holder);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 2; i++) {
		close(ready_fd[i]);
		close(release_fd[i]);
	}
}

static void rebuild_child(void)
{
	tl_db *db = open_ws(0);
	tl_ctx ctx = { .actor = "admin" };
	tl_err err;
	if (!db)
		child_exit(1);
	int rc = tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err);
	tl_db_close(db);
	child_exit(rc);
}

/* A handle that stays open (a server's) sees each of 80 rebuilds made by
 * other processes: it reads and writes the serving generation every time
 * (it kept every old generation's LMDB handle and ran out of them after
 * about 30, then confused views), every other round rebuilds itself
 * right after another process did (its handles of the generation that
 * process dropped leaked the same way), and verify is clean at the end. */
Test(procs, a_long_lived_handle_follows_rebuilds_elsewhere, .init = mkws,
     .fini = rmws)
{
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 2, 10), 0);
	for (int i = 0; i < 80; i++) {
		run_child(rebuild_child);
		if (i % 2)
			cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL,
						&err),
				     0, "round %d: %s", i, err.message);
		int n;
		cr_assert_eq(list_all(db, &n), 0, "round %d", i);
		cr_assert_eq(n, 3 + i - 1, "round %d: %d tasks", i, n);
		cr_assert_eq(add_tasks(db, 1, 10), 0, "round %d", i);
	}
	tl_db_close(db);
	db = open_ws(0);
	cr_assert_not_null(db);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

/* verify rebuilds every view into a temporary generation: on a map with
 * no room left it grows the map and goes on. */
Test(procs, verify_grows_a_full_map, .init = mkws, .fini = rmws)
{
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 300, 200), 0);
	/* the smallest map LMDB allows: the pages in use */
	cr_assert_eq(mdb_env_set_mapsize(db->env, 1), 0);
	size_t full = map_size(db);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_gt(map_size(db), full);
	tl_db_close(db);
}

static void add_without_views_child(void)
{
	tl_open_opts o = { 0 };
	tl_db *db;
	tl_err err;
	if (tl_db_open(dir, &o, &db, &err))
		child_exit(1);
	int rc = add_tasks(db, 1, 10);
	tl_db_close(db);
	child_exit(rc);
}

/* A handle without views appends while a handle with views stays open;
 * the latter's next append must not mark the views as holding the whole
 * log (they miss the other's event): the next open rebuilds them. */
Test(procs, views_are_not_marked_past_events_they_missed, .init = mkws,
     .fini = rmws)
{
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	run_child(add_without_views_child);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	tl_db_close(db);
	db = open_ws(0);
	cr_assert_not_null(db);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

/* A handle that stays open (a server's) while a handle without views
 * appends: its next read rebuilds the views left behind, so it lists the
 * other's task at once (before 0.3.35 it served without it until it was
 * opened again), and its next write goes into whole views, which verify
 * finds equal to the log without a reopen. */
Test(procs, a_long_lived_handle_rebuilds_views_left_behind, .init = mkws,
     .fini = rmws)
{
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	run_child(add_without_views_child);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 2, "the task added without views: %d listed", n);
	/* A rebuild asked for after that rebuilds (what an open rebuilt is
	 * left out of the first one; not what a read did). */
	uint32_t ver, gen, gen2;
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert(tl_view_meta_read(db, txn, tu_view("tasks"), &ver, &gen));
	mdb_txn_abort(txn);
	cr_assert_eq(tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert(tl_view_meta_read(db, txn, tu_view("tasks"), &ver, &gen2));
	mdb_txn_abort(txn);
	cr_assert_neq(gen2, gen, "not rebuilt");
	run_child(add_without_views_child);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 4, "%d listed", n);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

static void other_release_child(void)
{
	tl_open_opts o = { 0 };
	o.views = tu_views_of_another_release(&o.views_len);
	tl_db *db;
	tl_err err;
	if (tl_db_open(dir, &o, &db, &err))
		child_exit(1);
	int rc = add_tasks(db, 1, 10);
	tl_db_close(db);
	child_exit(rc);
}

/* The stored version of view `tasks`, and whether it was read. */
static bool tasks_version(tl_db *db, uint32_t *ver)
{
	uint32_t gen;
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	bool ok = tl_view_meta_read(db, txn, tu_view("tasks"), ver, &gen);
	mdb_txn_abort(txn);
	return ok;
}

/* Another release, whose `tasks` view has another version, opens the
 * workspace (rebuilding that view in its version) and appends while this
 * handle stays open: this handle's next write rebuilds the view in its
 * own version first, as an open would, instead of applying its writes to
 * the other release's layout (before 0.3.35 it did, and the stored
 * version stayed the other's); its next read does the same, 150 times
 * over. */
Test(procs, a_long_lived_handle_rebuilds_a_view_another_release_changed,
     .init = mkws, .fini = rmws)
{
	tl_err err;
	tl_ctx ctx = { .actor = "admin" };
	uint32_t mine = tu_view("tasks")->version, ver;
	tl_db *db = new_ws(0);
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	run_child(other_release_child);
	cr_assert(tasks_version(db, &ver));
	cr_assert_eq(ver, mine + 1, "the other release's open rebuilt it");
	cr_assert_eq(add_tasks(db, 1, 10), 0);
	cr_assert(tasks_version(db, &ver));
	cr_assert_eq(ver, mine, "written in version %u", ver);
	int n;
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 3, "%d listed", n);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	run_child(other_release_child);
	cr_assert_eq(list_all(db, &n), 0);
	cr_assert_eq(n, 4, "%d listed", n);
	cr_assert(tasks_version(db, &ver));
	cr_assert_eq(ver, mine, "read in version %u", ver);
	/* Many times over: each switch away closes the handles of the
	 * generation left (0.3.35's first try kept them, and the handle
	 * ran out of LMDB's after about a hundred). */
	for (int i = 0; i < 150; i++) {
		run_child(other_release_child);
		if (i % 2)
			cr_assert_eq(add_tasks(db, 1, 10), 0, "round %d", i);
		cr_assert_eq(list_all(db, &n), 0, "round %d", i);
		cr_assert_eq(n, 5 + i + (i + 1) / 2, "round %d: %d", i, n);
	}
	cr_assert(tasks_version(db, &ver));
	cr_assert_eq(ver, mine, "version %u", ver);
	cr_assert_eq(tl_verify(db, &ctx, NULL, NULL, &err), 0, "%s",
		     err.message);
	tl_db_close(db);
}

/* A read-only handle with a view the workspace does not hold yet (a newer
 * release's, say) serves the views it holds. */
Test(procs, a_read_only_handle_serves_without_a_missing_view, .init = mkws,
     .fini = rmws)
{
	tl_err err;
	size_t n;
	const tl_view *const *all = tl_views_all(&n);
	cr_assert_gt(n, 1);
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .views = all,
			   .views_len = n - 1 };
	tl_db *db;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_init(db, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(add_tasks(db, 2, 10), 0);
	tl_db_close(db);
	o = (tl_open_opts){ .flags = TL_OPEN_RDONLY, .views = all,
			    .views_len = n };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	int k;
	cr_assert_eq(list_all(db, &k), 0);
	cr_assert_eq(k, 2);
	tl_db_close(db);
}

/* LMDB allows one environment handle per process: a second open of the
 * same workspace, under any path, is refused while the first is open; a
 * forked child (a process of its own) may open it. */
Test(procs, a_workspace_opens_once_per_process, .init = mkws, .fini = rmws)
{
	tl_db *db = new_ws(0), *again;
	tl_open_opts o = { 0 };
	tl_err err;
	char other[96];
	snprintf(other, sizeof other, "%s/.", dir);
	cr_assert_eq(tl_db_open(dir, &o, &again, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "db");
	cr_assert_eq(tl_db_open(other, &o, &again, &err), TL_EINVALID);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		tl_db *child = open_ws(0);
		int n = -1;
		int ok = child && list_all(child, &n) == 0 && n == 0;
		if (child)
			tl_db_close(child);
		_exit(ok ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child could not open the workspace");
	tl_db_close(db);
	cr_assert_eq(tl_db_open(other, &o, &again, &err), 0, "%s",
		     err.message);
	tl_db_close(again);
}

static volatile int spin_stop;

/* Takes and releases each of the library's mutexes again and again:
 * opens a workspace that is open already (the registry's lock), makes
 * UUIDs (the last id's lock) and reads a date in a time zone (the zones'
 * lock). */
static void *spin_open(void *arg)
{
	(void)arg;
	tl_open_opts o = { 0 };
	tl_err err;
	tl_db *d;
	uint8_t id[16];
	int64_t t;
	while (!spin_stop) {
		if (tl_db_open(dir, &o, &d, &err) == 0)
			tl_db_close(d); /* cannot happen: it is open */
		tl_uuid_v7(0, id);
		tl_time_parse(tl_s("2026-03-29"), 0, "Europe/Berlin", "due",
			      &t, &err);
	}
	return NULL;
}

/* fork() while another thread holds one of the library's mutexes (or
 * libsodium's, which sodium_init() takes on every call) must not leave
 * the child's first call needing it waiting for ever: the child opens a
 * workspace, makes UUIDs and reads a date in a time zone (a child that
 * hangs is killed by its alarm and reported).  Not under a sanitizer:
 * GCC 12's ASan allocator takes no lock around fork(), so a child forked
 * while the other thread was inside malloc waits for ever in its first
 * free (seen in mdb_env_close, under load), which glibc's malloc, whose
 * fork handler takes its arenas' locks, never does. */
Test(procs, a_child_forked_beside_an_opening_thread_opens, .init = mkws,
     .fini = rmws)
{
#ifdef TL_SANITIZER
	rmws(); /* Criterion's skip runs no fini */
	cr_skip_test("the sanitizer's allocator is not fork-safe");
#endif
	tl_db *db = new_ws(0);
	char other[96];
	snprintf(other, sizeof other, "%s/other", dir);
	pthread_t th;
	spin_stop = 0;
	cr_assert_eq(pthread_create(&th, NULL, spin_open, NULL), 0);
	int hung = 0, failed = 0;
	for (int i = 0; i < 300 && !hung; i++) {
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			alarm(5);
			tl_open_opts o = { .flags = TL_OPEN_CREATE };
			tl_db *c;
			tl_err err;
			int rc = tl_db_open(other, &o, &c, &err);
			if (!rc)
				tl_db_close(c);
			uint8_t a[16], b[16];
			tl_uuid_v7(0, a);
			tl_uuid_v7(0, b);
			int64_t t;
			rc |= tl_time_parse(tl_s("2026-10-25"), 0,
					    "America/Los_Angeles", "due", &t,
					    &err);
			_exit(rc || memcmp(a, b, 16) >= 0 ? 1 : 0);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		hung += WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
		failed += WIFEXITED(status) && WEXITSTATUS(status) != 0;
	}
	spin_stop = 1;
	pthread_join(th, NULL);
	tl_db_close(db);
	cr_assert_eq(hung, 0, "a child hung in tl_db_open");
	cr_assert_eq(failed, 0, "%d children could not open", failed);
}

/* A thread writing batches of 300 (each hashed on a thread of the
 * batch's own) until told to stop. */
static tl_db *batch_db;

static void *batches(void *arg)
{
	(void)arg;
	tl_ctx ctx = { .actor = "admin" };
	static tl_cmd c[300];
	for (int i = 0; i < 300; i++)
		c[i] = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("A task"),
				 .link = tl_s("lead:1") };
	while (!spin_stop) {
		tl_err err;
		if (tl_exec(batch_db, &ctx, c, 300, NULL, &err) &&
		    err.code != TL_EAGAIN)
			break;
		usleep(2000);
	}
	return NULL;
}

/* A child forked while another thread of the parent runs a batch closes
 * the handle it inherited (as the header allows), opens the workspace
 * itself and writes.  Its close ended the parent's open transaction
 * until 0.3.54: it waited for ever for the batch's hash thread, which the
 * child does not have, or freed LMDB's pages twice (a few children in
 * 20 each time).  Not under a sanitizer (the allocator; see above). */
Test(procs, a_child_closes_a_handle_whose_batch_runs_in_the_parent,
     .init = mkws, .fini = rmws, .timeout = 120)
{
#ifdef TL_SANITIZER
	rmws(); /* Criterion's skip runs no fini */
	cr_skip_test("the sanitizer's allocator is not fork-safe");
#endif
	batch_db = new_ws(0);
	pthread_t th;
	spin_stop = 0;
	cr_assert_eq(pthread_create(&th, NULL, batches, NULL), 0);
	int hung = 0, failed = 0;
	for (int i = 0; i < 40; i++) {
		usleep(1000 + 500 * (i % 7));
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			alarm(10);
			tl_db_close(batch_db);
			tl_db *c = open_ws(0);
			tl_ctx ctx = { .actor = "admin" };
			tl_cmd one = { .kind = TL_TASK_ADD,
				       .title = tl_s("From the child"),
				       .link = tl_s("lead:2") };
			tl_err err;
			int rc = !c;
			while (!rc && (rc = tl_exec(c, &ctx, &one, 1, NULL,
						    &err)) == TL_EAGAIN)
				;
			if (c)
				tl_db_close(c);
			_exit(rc ? 1 : 0);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		hung += WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	spin_stop = 1;
	pthread_join(th, NULL);
	/* the parent's handle is whole: every child's task is there */
	tl_err err;
	cr_assert_eq(tl_verify(batch_db, &(tl_ctx){ .actor = "admin" }, NULL,
			       NULL, &err),
		     0, "%s", err.message);
	tl_db_close(batch_db);
	cr_assert_eq(hung, 0, "%d children hung", hung);
	cr_assert_eq(failed, 0, "%d children failed", failed);
}

/* A thread that holds one of the library's mutexes for a while, as the
 * library does briefly, then lets it go. */
struct holder {
	pthread_mutex_t *mu;
	atomic_int held, released; /* atomic: no race with the test's reads */
};

static void *hold_mutex(void *arg)
{
	struct holder *h = arg;
	pthread_mutex_lock(h->mu);
	atomic_store(&h->held, 1);
	usleep(200 * 1000);
	atomic_store(&h->released, 1);
	pthread_mutex_unlock(h->mu);
	return NULL;
}

/* fork() waits for each of the library's mutexes that another thread
 * holds (the prepare handler takes them all), so that neither the child
 * inherits it locked nor the parent's handler releases it under the
 * thread that holds it.  Each mutex in turn, named, not by chance. */
Test(procs, fork_waits_for_each_library_mutex_held_by_another_thread)
{
	static const struct {
		pthread_mutex_t *mu;
		const char *name;
	} mus[] = { { &tl_open_mu, "tl_open_mu" },
		    { &tl_zones_mu, "tl_zones_mu" },
		    { &tl_uuid_mu, "tl_uuid_mu" } };
	cr_assert(tl_proc_init());
	for (size_t i = 0; i < sizeof mus / sizeof mus[0]; i++) {
		struct holder h = { .mu = mus[i].mu };
		atomic_init(&h.held, 0);
		atomic_init(&h.released, 0);
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, hold_mutex, &h), 0);
		while (!atomic_load(&h.held))
			usleep(1000);
		pid_t pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			/* free here, taken by no one */
			int ok = pthread_mutex_trylock(mus[i].mu) == 0;
			_exit(ok ? 0 : 1);
		}
		int released = atomic_load(&h.released); /* when fork() returned */
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		pthread_join(th, NULL);
		cr_assert(released, "fork() did not wait for %s", mus[i].name);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "%s was locked in the child", mus[i].name);
	}
}

/* A child of fork() draws its own random bits: the parent's pool of
 * random bytes is forgotten, or parent and child would make the same
 * UUID in the same millisecond. */
Test(procs, a_forked_child_does_not_reuse_the_parents_random_bytes)
{
	const int64_t now = INT64_C(4102444800000);
	uint8_t first[16], mine[16], theirs[16];
	int fds[2];
	tl_uuid_v7(now, first); /* the pool filled, most of it left */
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		uint8_t id[16];
		tl_uuid_v7(now + 1, id);
		_exit(write(fds[1], id, 16) == 16 ? 0 : 1);
	}
	close(fds[1]);
	tl_uuid_v7(now + 1, mine);
	cr_assert_eq(read(fds[0], theirs, 16), 16);
	close(fds[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_neq(memcmp(mine, theirs, 16), 0,
		      "parent and child made the same UUID");
}

/* libsodium is initialised when the library is loaded, before any call:
 * a program's threads that fork while another one is inside the first
 * sodium_init() would leave the child waiting on its mutex for ever. */
Test(procs, libsodium_is_initialised_when_the_library_loads)
{
	cr_assert_eq(sodium_init(), 1, "not initialised before the first call");
}
