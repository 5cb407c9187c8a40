/*
 * unit_chain_backup_audit.c - tests a mutation audit of engine/chain.c (a
 * big batch's hash chain on a second thread) and engine/backup.c (the
 * online copy of a workspace) found missing: each fails on one mutant
 * that the other tests let pass, and passes on the code as it is.
 *
 * chain_audit: the batch size from which the thread hashes (what a view
 * sees of an appended event's hash), the queue's bound of bytes counted
 * exactly through tl_chain_syncs, the chunks a sync frees (malloc's
 * mapped bytes, sampled by a view), and the waits of a replay inside the
 * batch.  backup_audit: the directories a backup refuses and how (also
 * one it cannot read, and a copy it cannot read back, by an
 * RLIMIT_NOFILE that leaves one descriptor), the bound of a path's
 * length, and the files and directories fsync'd: this file defines
 * fsync for the unit binary (the library's calls link to it), which
 * records the paths while a test asks and is the system call otherwise.
 *
 * Every test gets a fresh workspace under /tmp, removed by the fixture's
 * fini.  Globals a test changes (tl_chain_min, tl_chain_queue_max) are set
 * back; Criterion runs each test in a process of its own anyway.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* PATH_MAX in internal.h */
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00.000Z */

static char *dir;
static tl_db *db;

/* A workspace with these views (none when n is 0), initialised at T0,
 * and member alice. */
static void open_ws(const tl_view *const *views, size_t n)
{
	tl_err err = { 0 };
	dir = tu_tmpdir();
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .views = views, .views_len = n };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	tl_init_opts io = { .now_ms = T0 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
	tl_cmd m = { .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
		     .name = tl_s("Alice"), .role = tl_s("member"),
		     .crm_access = 1 };
	tl_ctx ctx = { .now_ms = T0 };
	cr_assert_eq(tl_exec(db, &ctx, &m, 1, NULL, &err), 0, "%s",
		     err.message);
}

static void setup(void)
{
	open_ws(NULL, 0);
}

static void teardown(void)
{
	if (db)
		tl_db_close(db);
	db = NULL;
	tu_rmrf(dir);
	free(dir);
	dir = NULL;
}

static uint64_t head(void)
{
	tl_ctx admin = { 0 };
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, &admin, &st, &err), 0, "%s",
		     err.message);
	return st.last_seq;
}

static void verifies(tl_db *d)
{
	tl_ctx admin = { 0 };
	tl_err err = { 0 };
	cr_assert_eq(tl_verify_log(d, &admin, NULL, NULL, &err), 0, "%s",
		     err.message);
}

/* n task.add commands alike: the same title and link, no assignee (so
 * their events have the same size and read nothing of the log). */
static tl_cmd *adds(size_t n)
{
	tl_cmd *c = calloc(n, sizeof *c);
	cr_assert(c);
	for (size_t i = 0; i < n; i++)
		c[i] = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("t"),
				 .link = tl_s("lead:1") };
	return c;
}

/* ==== chain_audit ======================================================== */

static unsigned hash_zero, hash_set;

static int hash_apply(const tl_view_ctx *vc, const tl_event *ev,
		      const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)before, (void)after, (void)err;
	static const uint8_t zero[TL_HASH_LEN];
	if (vc->rebuilding)
		return 0;
	if (memcmp(ev->hash, zero, TL_HASH_LEN))
		hash_set++;
	else
		hash_zero++;
	return 0;
}

static const char *const hash_dbs[] = { "hash" };
static const unsigned hash_flags[] = { 0 };
static tl_view hash_view = { .name = "hash", .version = 1,
			     .dbs = hash_dbs, .db_flags = hash_flags,
			     .dbs_len = 1, .apply = hash_apply };

static void hash_view_setup(void)
{
	const tl_view *v[] = { &hash_view };
	open_ws(v, 1);
}

/* tasklog_view.h: "in a batch whose chain is hashed on a second thread
 * (64 commands or more) an appended ev has no hash yet".  63 commands
 * hash inline, 64 on the thread. */
Test(chain_audit, a_batch_of_64_commands_hashes_on_the_thread_63_inline,
     .init = hash_view_setup, .fini = teardown)
{
	cr_assert_eq(tl_chain_min, 64);
	tl_cmd *c = adds(64);
	tl_ctx ctx = { .now_ms = T0 + 1000 };
	tl_err err = { 0 };
	unsigned long started = tl_chain_started;
	hash_zero = hash_set = 0;
	cr_assert_eq(tl_exec(db, &ctx, c, 63, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 0, "63 used the thread");
	cr_assert_eq(hash_set, 63, "set %u, zero %u", hash_set, hash_zero);
	cr_assert_eq(hash_zero, 0);
	hash_zero = hash_set = 0;
	cr_assert_eq(tl_exec(db, &ctx, c, 64, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 1, "64 hashed inline");
	cr_assert_eq(hash_zero, 64, "set %u, zero %u", hash_set, hash_zero);
	verifies(db);
	free(c);
}

typedef struct sizes {
	uint64_t from;
	size_t len, n, other;
} sizes;

static int raw_size(void *arg, const tl_event *ev)
{
	sizes *s = arg;
	if (ev->seq < s->from)
		return 0;
	if (!s->n++)
		s->len = ev->raw_len;
	else if (ev->raw_len != s->len)
		s->other++;
	return 0;
}

/* The bytes one event of adds() takes in the queue (chain.c's rec_size:
 * a 16-byte header, the record rounded up to 8), from one added first. */
static size_t queued_size(void)
{
	tl_cmd *c = adds(4);
	tl_ctx ctx = { .now_ms = T0 + 1000 }, admin = { 0 };
	tl_err err = { 0 };
	sizes s = { .from = head() + 1 };
	cr_assert_eq(tl_exec(db, &ctx, c, 4, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_read(db, &admin, s.from, 0, (tl_slice){ 0 },
				 raw_size, &s, &err),
		     0, "%s", err.message);
	cr_assert_eq(s.n, 4);
	cr_assert_eq(s.other, 0, "events of adds() differ in size");
	free(c);
	return 16 + ((s.len + 7) & ~(size_t)7);
}

/* A batch of n adds() with the queue bound at max bytes: the syncs it
 * made (each stores the queue). */
static unsigned long syncs_of_batch(size_t n, size_t max)
{
	tl_cmd *c = adds(n);
	tl_ctx ctx = { .now_ms = T0 + 2000 };
	tl_err err = { 0 };
	uint64_t before = head();
	unsigned long started = tl_chain_started, syncs = tl_chain_syncs;
	tl_chain_queue_max = max;
	int rc = tl_exec(db, &ctx, c, n, NULL, &err);
	tl_chain_queue_max = (size_t)64 << 20;
	cr_assert_eq(rc, 0, "%s", err.message);
	cr_assert_eq(tl_chain_started - started, 1);
	cr_assert_eq(head(), before + n);
	free(c);
	return tl_chain_syncs - syncs;
}

/* The queue is stored once it holds its bound of bytes (not more than
 * it), and counted from empty again after each sync.  Bound of one
 * event: a sync before each push but the first, then the end's: n.  Of
 * two events: before pushes 3, 5, ..., 99, then the end's: 50. */
Test(chain_audit, the_queue_is_stored_when_it_holds_its_bound_exactly,
     .init = setup, .fini = teardown)
{
	size_t one = queued_size();
	cr_assert_eq(syncs_of_batch(100, one), 100);
	cr_assert_eq(syncs_of_batch(100, 2 * one), 50);
	/* a byte less than two events: as for one */
	cr_assert_eq(syncs_of_batch(100, 2 * one - 1), 50);
	cr_assert_eq(syncs_of_batch(100, one + 1), 50);
	cr_assert_eq(syncs_of_batch(100, one - 1), 100);
	verifies(db);
}

/* A replay of the request of the batch's very first event (still
 * queued: nothing of the batch is stored yet) waits for it; a second
 * replay of it, once it is stored, does not wait again.  A replay that
 * stores the whole queue (its request is the one before it, the batch's
 * last) leaves the end of the batch nothing to wait for. */
Test(chain_audit, a_replay_waits_only_for_an_event_still_queued,
     .init = setup, .fini = teardown)
{
	enum { N = 100 };
	tl_cmd *c = adds(N);
	tl_result *res = calloc(N, sizeof *res);
	tl_ctx ctx = { .now_ms = T0 + 1000 };
	tl_err err = { 0 };
	cr_assert(res);
	c[0].idempotency_key = tl_s("first");
	c[1] = c[0];
	c[70] = c[0];
	c[N - 2].idempotency_key = tl_s("last");
	c[N - 1] = c[N - 2];
	uint64_t before = head();
	unsigned long syncs = tl_chain_syncs, started = tl_chain_started;
	cr_assert_eq(tl_exec(db, &ctx, c, N, res, &err), 0, "%d %s: %s",
		     err.index, err.field, err.message);
	cr_assert_eq(tl_chain_started - started, 1);
	/* the waits at 1 and at N - 1; none at the end */
	cr_assert_eq(tl_chain_syncs - syncs, 2);
	cr_assert_eq(head(), before + N - 3);
	cr_assert(res[0].appended && !res[1].appended && !res[70].appended);
	cr_assert_eq(res[0].seq, before + 1);
	cr_assert_eq(res[1].seq, res[0].seq);
	cr_assert_eq(res[70].seq, res[0].seq);
	cr_assert_eq(res[1].doc_len, res[0].doc_len);
	cr_assert(!memcmp(res[1].doc, res[0].doc, res[0].doc_len));
	cr_assert(!memcmp(res[70].doc, res[0].doc, res[0].doc_len));
	cr_assert(res[N - 2].appended && !res[N - 1].appended);
	cr_assert_eq(res[N - 1].seq, before + N - 3);
	for (size_t i = 0; i < N; i++)
		tl_result_release(&res[i]);
	verifies(db);
	free(res);
	free(c);
}

/* The bytes malloc has mapped, at its most during a batch: sampled at
 * each event a view applies (the batch's own thread). */
static size_t mapped_peak;

static int peak_apply(const tl_view_ctx *vc, const tl_event *ev,
		      const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)vc, (void)ev, (void)before, (void)after, (void)err;
	struct mallinfo2 mi = mallinfo2();
	if (mi.hblkhd > mapped_peak)
		mapped_peak = mi.hblkhd;
	return 0;
}

static const char *const peak_dbs[] = { "peak" };
static tl_view peak_view = { .name = "peak", .version = 1,
			     .dbs = peak_dbs, .db_flags = hash_flags,
			     .dbs_len = 1, .apply = peak_apply };

static void peak_view_setup(void)
{
	const tl_view *v[] = { &peak_view };
	open_ws(v, 1);
}

/* A sync frees the chunks it stored: a batch whose queue is synced at
 * each MiB holds about two chunks of 1 MiB at a time (the one synced
 * and the next), not its whole queue (some 6.5 MiB here).  Chunks are
 * mapped: every allocation from 256 KiB on is (M_MMAP_THRESHOLD, which
 * also stops glibc from raising that bound when one is freed). */
Test(chain_audit, a_sync_frees_the_chunks_it_stored,
     .init = peak_view_setup, .fini = teardown)
{
#ifdef TL_SANITIZER
	teardown(); /* Criterion's skip runs no fini */
	cr_skip_test("the sanitizer's allocator keeps its own books");
#else
	enum { N = 200 };
	static char notes[32 << 10];
	memset(notes, 'n', sizeof notes);
	cr_assert_eq(mallopt(M_MMAP_THRESHOLD, 256 << 10), 1);
	cr_assert_eq(tl_chain_chunk, (size_t)1 << 20);
	tl_cmd *c = adds(N);
	for (size_t i = 0; i < N; i++)
		c[i].notes = (tl_slice){ notes, sizeof notes };
	tl_ctx ctx = { .now_ms = T0 + 1000 };
	tl_err err = { 0 };
	/* a first batch grows what any batch keeps */
	cr_assert_eq(tl_exec(db, &ctx, c, N, NULL, &err), 0, "%s",
		     err.message);
	tl_chain_queue_max = (size_t)1 << 20;
	unsigned long syncs = tl_chain_syncs;
	size_t base = mallinfo2().hblkhd;
	mapped_peak = base;
	int rc = tl_exec(db, &ctx, c, N, NULL, &err);
	tl_chain_queue_max = (size_t)64 << 20;
	cr_assert_eq(rc, 0, "%s", err.message);
	cr_assert_geq(tl_chain_syncs - syncs, 6);
	cr_assert_leq(mapped_peak - base, (size_t)3 << 20,
		      "%zu bytes mapped during the batch",
		      mapped_peak - base);
	verifies(db);
	free(c);
#endif
}

/* ==== backup_audit ======================================================= */

/* The paths fsync'd while recording (as /proc/self/fd names them), in
 * order.  This definition of fsync is the unit binary's (the library's
 * calls link to it): outside a recording it is the system call alone. */
static bool recording;
static char synced[16][PATH_MAX];
static size_t nsynced;

int fsync(int fd)
{
	if (recording && nsynced < 16) {
		char link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, synced[nsynced], PATH_MAX - 1);
		synced[nsynced][n > 0 ? n : 0] = '\0';
		nsynced++;
	}
	return (int)syscall(SYS_fsync, fd);
}

static tl_ctx admin_ctx(void)
{
	return (tl_ctx){ .now_ms = T0 + 1000 };
}

/* dir/name, into out. */
static void under(char *out, size_t n, const char *name)
{
	cr_assert_lt((size_t)snprintf(out, n, "%s/%s", dir, name), n);
}

static void make_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f && fputs(text, f) >= 0 && fclose(f) == 0, "%s", path);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* A backup into to refused as code, field, with a message holding what
 * (and not not, when given). */
static void refused(const char *to, int code, const char *field,
		    const char *what, const char *not)
{
	tl_ctx ctx = admin_ctx();
	tl_err err = { 0 };
	int rc = tl_db_backup(db, &ctx, to, 0, NULL, &err);
	cr_assert_eq(rc, code, "%s: %d, wanted %d: %s", to, rc, code,
		     err.message);
	cr_assert_str_eq(err.field, field, "%s", err.message);
	cr_assert(strstr(err.message, what), "%s", err.message);
	cr_assert(!not || !strstr(err.message, not), "%s", err.message);
}

/* A parent that is a file (ENOTDIR), as a missing one: invalid, saying
 * that the parent must exist; nothing made. */
Test(backup_audit, a_parent_that_is_a_file_is_invalid_and_said,
     .init = setup, .fini = teardown)
{
	char file[128], to[160];
	under(file, sizeof file, "plain");
	make_file(file, "not a directory\n");
	snprintf(to, sizeof to, "%s/copy", file);
	refused(to, TL_EINVALID, "dir", "its parent must exist", NULL);
}

/* A directory that cannot be made for another reason than its parent
 * (here a parent that is a loop of links, ELOOP) is a storage failure; a
 * name longer than NAME_MAX is an argument's fault, invalid (since
 * 0.3.51, storage before). */
Test(backup_audit, a_directory_that_cannot_be_made_otherwise_is_storage,
     .init = setup, .fini = teardown)
{
	char name[300], to[400], loop[128];
	memset(name, 'n', 300 - 1);
	name[300 - 1] = '\0';
	under(to, sizeof to, name);
	refused(to, TL_EINVALID, "dir", "too long", "parent");
	cr_assert(!exists(to));
	under(loop, sizeof loop, "loop");
	cr_assert_eq(symlink(loop, loop), 0);
	snprintf(to, sizeof to, "%s/copy", loop);
	refused(to, TL_ESTORAGE, "dir", "cannot make", "parent");
}

/* Only a directory holding data.mdb.partial alone is said to hold a
 * backup's leftover; beside another file, or a data.mdb (a finished
 * copy) alone, it is a directory that is not empty; the files stay. */
Test(backup_audit, only_a_partial_file_alone_is_said_to_be_a_leftover,
     .init = setup, .fini = teardown)
{
	char a[128], b[128], p[200];
	under(a, sizeof a, "partial-and-more");
	cr_assert_eq(mkdir(a, 0755), 0);
	snprintf(p, sizeof p, "%s/data.mdb.partial", a);
	make_file(p, "half a copy");
	snprintf(p, sizeof p, "%s/notes.txt", a);
	make_file(p, "mine");
	refused(a, TL_EINVALID, "dir", "is not empty", "holds only");
	cr_assert(exists(p));

	under(b, sizeof b, "finished");
	cr_assert_eq(mkdir(b, 0755), 0);
	snprintf(p, sizeof p, "%s/data.mdb", b);
	make_file(p, "a whole copy");
	refused(b, TL_EINVALID, "dir", "is not empty", "holds only");
	cr_assert(exists(p));

	/* and alone: said so */
	snprintf(p, sizeof p, "%s/data.mdb.partial", a);
	char other[200];
	snprintf(other, sizeof other, "%s/notes.txt", a);
	cr_assert_eq(unlink(other), 0);
	refused(a, TL_EINVALID, "dir", "holds only data.mdb.partial", NULL);
	cr_assert(exists(p));
}

/* A directory whose copy's path (DIR/data.mdb.partial) would be exactly
 * PATH_MAX bytes, its terminating NUL left out, is too long, although
 * its parent exists and the directory could be made. */
Test(backup_audit, a_copy_path_of_exactly_path_max_bytes_is_too_long,
     .init = setup, .fini = teardown)
{
	static char to[PATH_MAX + 1];
	size_t want = PATH_MAX - strlen("/data.mdb.partial");
	size_t n = (size_t)snprintf(to, sizeof to, "%s", dir);
	/* parents of 200 bytes each, made, while room is left for the
	 * last name (1..255 bytes) */
	while (want - n > 256) {
		to[n++] = '/';
		memset(to + n, 'p', 200);
		n += 200;
		to[n] = '\0';
		cr_assert_eq(mkdir(to, 0755), 0, "%s", strerror(errno));
	}
	to[n++] = '/';
	memset(to + n, 'c', want - n);
	n = want;
	to[n] = '\0';
	cr_assert_eq(strlen(to) + strlen("/data.mdb.partial"), PATH_MAX);
	refused(to, TL_EINVALID, "dir", "path too long", NULL);
	cr_assert(!exists(to), "a refused backup made its directory");
	/* a byte shorter, the copy is made */
	to[n - 1] = '\0';
	tl_ctx ctx = admin_ctx();
	tl_err err = { 0 };
	int rc = tl_db_backup(db, &ctx, to, 0, NULL, &err);
	cr_assert(exists(to), "%d %s", rc, err.message);
}

/* A backup that made its directory syncs the copy's file, then the
 * directory, then the directory holding it, whatever the form of the
 * path (relative, with a directory before it, with slashes doubled or
 * after it); into an existing empty directory, the copy and that
 * directory alone. */
static void backup_synced(const char *to, const char *const want[],
			  size_t n)
{
	tl_ctx ctx = admin_ctx();
	tl_backup_info b;
	tl_err err = { 0 };
	nsynced = 0;
	recording = true;
	int rc = tl_db_backup(db, &ctx, to, 0, &b, &err);
	recording = false;
	cr_assert_eq(rc, 0, "%s: %s", to, err.message);
	cr_assert_eq(b.last_seq, head());
	cr_assert_eq(nsynced, n, "%s: %zu syncs, wanted %zu (first %s)", to,
		     nsynced, n, nsynced ? synced[0] : "");
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(synced[i], want[i], "%s: sync %zu", to, i);
}

Test(backup_audit, a_new_directory_and_its_parent_are_synced,
     .init = setup, .fini = teardown)
{
	char sub[128];
	under(sub, sizeof sub, "sub");
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(chdir(dir), 0);
	static const char *const forms[][2] = {
		{ "rel", "" },             /* parent "." */
		{ "sub/inner", "/sub" },   /* parent "sub" */
		{ "sub/slashed//", "/sub" },
		{ "sub//doubled", "/sub" },
	};
	for (size_t i = 0; i < 4; i++) {
		const char *to = forms[i][0];
		char d[200], part[240], parent[200];
		size_t n = strlen(to);
		while (n > 1 && to[n - 1] == '/')
			n--;
		snprintf(d, sizeof d, "%s/%.*s", dir, (int)n, to);
		/* as the kernel names it: no doubled slashes */
		char *s;
		while ((s = strstr(d, "//")))
			memmove(s, s + 1, strlen(s));
		snprintf(part, sizeof part, "%s/data.mdb.partial", d);
		snprintf(parent, sizeof parent, "%s%s", dir, forms[i][1]);
		const char *want[] = { part, d, parent };
		backup_synced(to, want, 3);
	}
	/* an existing empty directory: not its parent */
	char empty[128], part[200];
	under(empty, sizeof empty, "empty");
	cr_assert_eq(mkdir(empty, 0755), 0);
	snprintf(part, sizeof part, "%s/data.mdb.partial", empty);
	const char *want[] = { part, empty };
	backup_synced(empty, want, 2);
}

/* A directory made directly under the root: the directory holding it
 * is "/" itself, not ".", however the path is written ("/name",
 * "//name", "/name/").  Needs to write in "/" (the CI runs as root):
 * skipped where that is refused. */
static char at_root[64];

static void root_teardown(void)
{
	if (at_root[0])
		tu_rmrf(at_root);
	at_root[0] = '\0';
	teardown();
}

Test(backup_audit, a_new_directory_under_the_root_syncs_the_root,
     .init = setup, .fini = root_teardown)
{
	if (access("/", W_OK) != 0) {
		root_teardown(); /* Criterion's skip runs no fini */
		cr_skip_test("needs to write in /");
	}
	cr_assert_eq(chdir(dir), 0); /* "." is not "/" */
	snprintf(at_root, sizeof at_root, "/tasklog-backup-audit-%ld",
		 (long)getpid());
	char part[96];
	snprintf(part, sizeof part, "%s/data.mdb.partial", at_root);
	const char *want[] = { part, at_root, "/" };
	char forms[3][80];
	snprintf(forms[0], sizeof forms[0], "%s", at_root);
	snprintf(forms[1], sizeof forms[1], "/%s", at_root);
	snprintf(forms[2], sizeof forms[2], "%s/", at_root);
	for (size_t i = 0; i < 3; i++) {
		backup_synced(forms[i], want, 3);
		cr_assert_eq(tu_rmrf(at_root), 0);
	}
}

/* An RLIMIT_NOFILE that leaves this process one descriptor free: the
 * backup's own files (the copy, its directory) are opened one at a time,
 * and opening the copy to read it back, which takes two, fails. */
static void one_fd_free(struct rlimit *was)
{
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, was), 0);
	rlim_t lim = 0;
	size_t free_below = 0;
	for (int fd = 0; fd < 4096; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    ++free_below == 2) {
			lim = (rlim_t)fd; /* the first free fd past the first */
			break;
		}
	}
	cr_assert_gt(lim, 0);
	struct rlimit r = { lim, was->rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0, "%s", strerror(errno));
}

/* A copy made whole that cannot be read back: the failure says that the
 * copy is whole (with the reading's code), and leaves it; without an
 * err, the code alone.  No descriptor is left for the reading: the copy's
 * own is held to the end (its mode is given last, since 0.3.54), so the
 * limit is lowered once the copy is in place (tl_backup_read_hook). */
static void no_fd_left(void *arg)
{
	(void)arg;
	struct rlimit r;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	rlim_t lim = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			lim = (rlim_t)fd; /* the first free one: none */
			break;
		}
	r.rlim_cur = lim;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0, "%s", strerror(errno));
}

Test(backup_audit, a_copy_that_cannot_be_read_back_is_said_whole_and_kept,
     .init = setup, .fini = teardown)
{
	char to[128], to2[128], data[160];
	under(to, sizeof to, "copy");
	under(to2, sizeof to2, "copy2");
	tl_ctx ctx = admin_ctx();
	tl_err err = { 0 };
	struct rlimit was;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	tl_backup_read_hook = no_fd_left;
	int rc = tl_db_backup(db, &ctx, to, 0, NULL, &err);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	int rc2 = tl_db_backup(db, &ctx, to2, 0, NULL, NULL);
	tl_backup_read_hook = NULL;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	cr_assert_neq(rc, 0, "read back with no descriptor");
	cr_assert_eq(rc2, rc);
	cr_assert_str_eq(err.field, "storage");
	cr_assert(strstr(err.message, "is whole, but reading it back failed"),
		  "%s", err.message);
	snprintf(data, sizeof data, "%s/data.mdb", to);
	cr_assert(exists(data));
	snprintf(data, sizeof data, "%s/data.mdb.partial", to);
	cr_assert(!exists(data));
	/* and whole: it opens */
	tl_db *copy;
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(to, &o, &copy, &err), 0, "%s", err.message);
	verifies(copy);
	tl_db_close(copy);
}

/* An empty directory name is asked for, not tried as a path. */
Test(backup_audit, an_empty_directory_name_is_asked_for, .init = setup,
     .fini = teardown)
{
	refused("", TL_EINVALID, "dir", "give the directory to copy into",
		NULL);
}

/* A directory that exists but cannot be read (here: no descriptor left
 * to open it) is a storage failure, said as such. */
Test(backup_audit, a_directory_that_cannot_be_read_is_storage,
     .init = setup, .fini = teardown)
{
	char to[128];
	under(to, sizeof to, "unreadable");
	cr_assert_eq(mkdir(to, 0755), 0);
	struct rlimit was;
	one_fd_free(&was);
	int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(spare, 0);
	tl_ctx ctx = admin_ctx();
	tl_err err = { 0 };
	int rc = tl_db_backup(db, &ctx, to, 0, NULL, &err);
	close(spare);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	cr_assert_eq(rc, TL_ESTORAGE, "%d: %s", rc, err.message);
	cr_assert_str_eq(err.field, "dir");
	cr_assert(strstr(err.message, "cannot read"), "%s", err.message);
	cr_assert(exists(to), "the directory was removed");
}
