/*
 * fuzz_pages.c - libFuzzer target: verify's walk of LMDB's file
 * (engine/pages.c, tl_pages_check) over a data file damaged byte by byte.
 *
 * The walk reads LMDB's pages through a map of its own and promises that
 * no damage makes it read outside the file, loop, recurse without end or
 * fail in any way but by naming what it found (pages.c's header).  The
 * unit tests damage whole pages (tests/unit_pages.c: every page zeroed,
 * every child of every branch pointing past the file); this target
 * writes arbitrary bytes at arbitrary places.
 *
 * A workspace with every view is made once: members, 120 tasks with
 * tags, notes and due dates, three with notes of 3 to 9 KB (overflow
 * pages in the log, the tasks and the views), one with 300 updates (its
 * stream index is a tree of duplicates of its own, with pages of fixed
 * size duplicates), then completed, reassigned and deleted tasks.  It is
 * copied with LMDB's compacting copy (tl_db_backup, TL_BACKUP_COMPACT),
 * which leaves the free list empty, and the copy opened read-only.  The
 * damage goes to pages 2 and after of the copy, never to its two meta
 * pages: the walk starts from the meta page LMDB reads, and LMDB's own
 * reads during the check (the meta page, the free list, empty here) then
 * touch no damaged page; a damaged meta page is LMDB's to refuse at open
 * (tl_pages_roots_check and the unit tests).
 *
 * Input: records of  page (2 bytes, LE) | offset (2, LE) | n (1) | n bytes
 * (n is the byte % 64 + 1; the last record takes what is left).  The
 * page is 2 + page % (pages - 2); with the offset's top bit set the
 * bytes go to the first 64 bytes of the page (its header and first node
 * offsets), else at offset % page size; bytes past the page's end are
 * dropped.  Each run first puts back the pages the last one damaged.
 *
 * What must hold: no crash, leak or undefined behaviour; the check
 * returns its problems' count (never an error: the meta page is whole),
 * tells at most 20 of them, each a line of its own words after
 * "pages: "; and a copy whose bytes are all as they were (the input
 * wrote the bytes already there) has no problem.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "tasklog.h"
#include "tasklog_projections.h"
#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char fuzz_name[] = "fuzz_pages";

#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00Z */
#define MAX_DAMAGED 4096

static tl_db *copy;        /* the compacted copy, read-only */
static int fd = -1;        /* its data.mdb, written by each run */
static uint8_t *pristine;  /* its bytes as made */
static size_t psize, npages;
static uint64_t damaged[MAX_DAMAGED]; /* pages the last run wrote */
static size_t ndamaged;
static uint32_t lcg = 4242;

static void run(tl_db *db, int64_t now, tl_cmd *c, tl_result *res)
{
	tl_ctx ctx = { .now_ms = now };
	tl_err err;
	if (tl_exec(db, &ctx, c, 1, res, &err))
		die("command", &err);
}

static void add_task(tl_db *db, int i, const char *notes, char id[37])
{
	static const char *const types[] = { "call", "email", "meeting",
					     "demo" };
	static const char *const links[] = { "lead:1", "contact:2",
					     "account:3", "opportunity:4" };
	static const char *const who[] = { "alice", "bob", "carol", NULL };
	static const char *const tags[] = { "hot", "q4", "renewal" };
	char title[32], due[32];
	tl_slice tg[3];
	size_t ntg = 0;
	for (int k = 0; k < 3; k++)
		if (!fuzz_rnd(&lcg, 3))
			tg[ntg++] = tl_s(tags[k]);
	snprintf(title, sizeof title, "task %d", i);
	fuzz_iso(T0 + (int64_t)fuzz_rnd(&lcg, 400) * 3600000, due, sizeof due);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
		     .type = tl_s(types[fuzz_rnd(&lcg, 4)]),
		     .link = tl_s(links[fuzz_rnd(&lcg, 4)]),
		     .assignee = tl_s(who[fuzz_rnd(&lcg, 4)]),
		     .due = fuzz_rnd(&lcg, 4) ? tl_s(due) : (tl_slice){ 0 },
		     .notes = notes ? tl_s(notes) : (tl_slice){ 0 },
		     .tags = tg, .tags_len = ntg };
	tl_result res = { 0 };
	tl_task t;
	run(db, T0 + i * 1000, &c, &res);
	if (tl_task_decode(res.doc, res.doc_len, &t))
		die("decode", NULL);
	tl_uuid_format(t.id, id);
	tl_task_release(&t);
	tl_result_release(&res);
}

static void close_copy(void)
{
	if (fd >= 0)
		close(fd);
	tl_db_close(copy);
	free(pristine);
}

static void setup(void)
{
	enum { N = 120 };
	static char ids[N][37];
	static char big[9001];
	tl_db *db = fuzz_ws_create("pages");
	tl_err err;
	const char *who[] = { "alice", "bob", "carol" };
	for (int m = 0; m < 3; m++) {
		tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(who[m]),
			     .name = tl_s(who[m]) };
		run(db, T0, &c, NULL);
	}
	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = (char)('a' + i % 26);
	for (int i = 0; i < N; i++) {
		const char *notes = NULL;
		if (i % 40 == 7) /* 3, 6 and 9 KB: overflow pages */
			big[3000 * (i / 40 + 1)] = 0, notes = big;
		else if (i % 3 == 0)
			notes = "call back after the demo";
		add_task(db, i, notes, ids[i]);
		if (notes == big)
			big[3000 * (i / 40 + 1)] = 'x';
	}
	for (int k = 0; k < 300; k++) { /* a stream of 300 versions */
		char title[32];
		snprintf(title, sizeof title, "renamed %d", k);
		tl_cmd c = { .kind = TL_TASK_UPDATE, .id = tl_s(ids[1]),
			     .title = tl_s(title) };
		run(db, T0 + 200000 + k * 1000, &c, NULL);
	}
	for (int i = 2; i < N; i += 5) {
		tl_cmd c = { .kind = TL_TASK_COMPLETE, .id = tl_s(ids[i]) };
		run(db, T0 + 600000 + i, &c, NULL);
		tl_cmd a = { .kind = TL_TASK_ASSIGN, .id = tl_s(ids[i + 1]),
			     .assignee = tl_s(who[i % 3]) };
		run(db, T0 + 600000 + i, &a, NULL);
		tl_cmd d = { .kind = TL_TASK_DELETE, .id = tl_s(ids[i + 2]) };
		run(db, T0 + 600000 + i, &d, NULL);
	}

	char dir[96], file[112];
	snprintf(dir, sizeof dir, "%s/copy", fuzz_roots[fuzz_ws_n - 1]);
	tl_ctx ctx = { .now_ms = T0 + 900000 };
	if (tl_db_backup(db, &ctx, dir, TL_BACKUP_COMPACT, NULL, &err))
		die("backup", &err);
	tl_open_opts opts = { .flags = TL_OPEN_RDONLY };
	opts.views = tl_views_all(&opts.views_len);
	if (tl_db_open(dir, &opts, &copy, &err))
		die("open the copy", &err);
	atexit(close_copy); /* runs before fuzz_ws_remove */

	snprintf(file, sizeof file, "%s/data.mdb", dir);
	struct stat st;
	psize = (size_t)sysconf(_SC_PAGESIZE);
	if ((fd = open(file, O_RDWR)) < 0 || fstat(fd, &st) ||
	    (size_t)st.st_size % psize || (size_t)st.st_size < 8 * psize)
		die("the copy's data.mdb", NULL);
	npages = (size_t)st.st_size / psize;
	if (!(pristine = malloc((size_t)st.st_size)) ||
	    pread(fd, pristine, (size_t)st.st_size, 0) != st.st_size)
		die("read the copy", NULL);
}

typedef struct said {
	int n;
} said;

static void on_problem(void *arg, const char *fmt, ...)
{
	said *s = arg;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (len <= 7 || strncmp(line, "pages: ", 7) != 0)
		die("a problem without words", NULL);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %s\n", fuzz_name, line);
	s->n++;
}

static void put_page(uint64_t pg, const uint8_t *bytes)
{
	if (pwrite(fd, bytes, psize, (off_t)(pg * psize)) != (ssize_t)psize)
		die("write a page", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t page[1 << 16];
	if (!copy)
		setup();
	for (size_t i = 0; i < ndamaged; i++)
		put_page(damaged[i], pristine + damaged[i] * psize);
	ndamaged = 0;

	bool changed = false;
	size_t at = 0;
	while (at + 5 <= size && ndamaged < MAX_DAMAGED) {
		uint64_t pg = 2 + (data[at] | (uint64_t)data[at + 1] << 8) %
					  (npages - 2);
		unsigned off = data[at + 2] | (unsigned)data[at + 3] << 8;
		size_t n = (size_t)data[at + 4] % 64 + 1;
		at += 5;
		if (n > size - at)
			n = size - at;
		off = off & 0x8000 ? off % 64 : off % (unsigned)psize;
		if (n > psize - off)
			n = psize - off;
		if (pread(fd, page, psize, (off_t)(pg * psize)) !=
		    (ssize_t)psize)
			die("read a page", NULL);
		memcpy(page + off, data + at, n);
		at += n;
		put_page(pg, page);
		damaged[ndamaged++] = pg;
		if (memcmp(page, pristine + pg * psize, psize))
			changed = true;
	}
	/* a page damaged twice is written back once per mention: harmless */

	said s = { 0 };
	tl_err err;
	int rc = tl_pages_check(copy, on_problem, &s, NULL, NULL, &err);
	if (rc < 0)
		die("the check failed", &err);
	if (s.n != (rc < 20 ? rc : 20))
		die("told another number of problems than it returned", NULL);
	if (!changed && rc)
		die("problems in an undamaged file", NULL);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %zu pages written, %d problems\n",
			fuzz_name, ndamaged, rc);
	return 0;
}
