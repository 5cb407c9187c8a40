/*
 * bench_append.c - durable appends of task.add commands.
 *
 * For each batch size B (1, 100, 10,000) and each of R runs, in the same
 * process and interleaved so that drift of a noisy machine hits all three
 * alike:
 *
 *   tasklog  N task.add commands through tl_exec, B per call: one durable
 *            LMDB transaction (fsync at commit) per batch.  A fresh
 *            workspace per run, default open options.
 *   sqlite   the same N events as rows of
 *            events(seq INTEGER PRIMARY KEY, stream BLOB, type TEXT,
 *            data BLOB), data = the exact msgpack record tasklog stored
 *            (captured from its log after the first run), WAL,
 *            synchronous=FULL, one prepared INSERT, BEGIN/COMMIT per batch.
 *   lmdb     bare LMDB: N 200-byte values under 8-byte big-endian keys
 *            with MDB_APPEND, one durable mdb_txn_commit per batch.  The
 *            ceiling for any log on LMDB.
 *   layout   LMDB with tasklog's storage layout and no engine work: per
 *            event the three puts tasklog makes (events, streams index,
 *            tasks) with values of the sizes tasklog wrote, in the same
 *            named databases, with mdb_put as the engine calls it.  The
 *            ceiling of the engine's layout: tasklog minus this is engine
 *            CPU, this minus bare LMDB is the layout's price.
 *
 * Reported: the median of the runs, events/s = N / wall time of the append
 * loop (open, init and setup excluded).  Also CPU time per event and bytes
 * written per event (wchar of /proc/self/io), which tell whether a figure
 * is bound by the CPU or by the disk.
 *
 * Usage: bench_append [--quick] [--runs R] [--scale F] [--dir DIR]
 *                     [--out FILE]
 *   --quick   small N, one run: a smoke test (the figures mean little)
 *   --runs R  runs per configuration (default 3; the median is reported)
 *   --scale F multiply every N by F (e.g. 0.1 or 2)
 *   --dir D   where the throwaway databases go (default bench/data)
 *   --out F   write the markdown section (without markers) to F
 *   --only S  run only system S (tasklog, sqlite, lmdb, layout) and
 *   --batch B only batch size B: for profiling; no table, no --out
 * Exit status: 0 when every run succeeded (goals met or not), 1 on error.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>
#include <sqlite3.h>

#include "tasklog.h"
#include "util.h"

enum { NB = 3, POOL = 10000, MAXRUNS = 15 };
static const size_t batch_sizes[NB] = { 1, 100, 10000 };
/* Events per run: each tasklog run takes a few seconds on the reference
 * machine class (2 vCPU KVM, virtio disk). */
static const size_t default_n[NB] = { 20000, 200000, 1000000 };
static const size_t quick_n[NB] = { 300, 3000, 20000 };

/* Goals of the issue. */
#define GOAL_B10K_RATE 500000.0
#define GOAL_B10K_VS_SQLITE 2.0
#define GOAL_B1_VS_LMDB 0.80

enum sys { SYS_TASKLOG, SYS_SQLITE, SYS_LMDB, SYS_LAYOUT, NSYS };
static const char *const sys_name[NSYS] = { "tasklog", "SQLite",
					    "bare LMDB", "LMDB layout" };

typedef struct sample {
	double wall;       /* s */
	double cpu;        /* s, user + sys */
	uint64_t written;  /* bytes handed to write(2) and co. (wchar) */
	uint64_t file;     /* size of the data files afterwards */
} sample;

typedef struct cell {
	size_t n;
	int runs;
	sample s[MAXRUNS];
	double med_rate;   /* events/s, median run */
	double min_rate, max_rate;
	double cpu_us;     /* CPU µs per event, median run */
	double wbytes;     /* bytes written per event, median run */
	double fbytes;     /* file bytes per event, median run */
} cell;

static cell cells[NB][NSYS];

/* The events tasklog stored, for SQLite: one contiguous buffer. */
typedef struct captured {
	uint8_t *buf;
	size_t len, cap;
	size_t *off;       /* n + 1 offsets */
	uint8_t (*stream)[16];
	size_t n, want;
} captured;

static const char *data_dir = "bench/data";

/* Mean sizes of what tasklog stored per task.add, for the layout run
 * (measured in the first tasklog run; these defaults otherwise). */
static double mean_event = 372, mean_doc = 420;
static bool sizes_measured;

/* ---- small helpers --------------------------------------------------- */


/* xorshift64*: deterministic workload. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* ---- the workload: POOL task.add commands, cycled -------------------- */

typedef struct cmd_text {
	char title[64];
	char link[24];
	char due[32];
} cmd_text;

static tl_cmd pool[POOL];
static cmd_text pool_text[POOL];
static tl_slice tag_slices[5];
static const char *const tags[5] = { "hot", "renewal", "q3", "vip",
				     "follow-up" };

static void make_pool(void)
{
	static const char *const types[] = {
		"call", "email", "message", "meeting", "chat",
		"proposal", "note", "task", "follow_up", "demo"
	};
	static const char *const rel[] = { "+3d", "+1d", "+1w", "+4h",
					   "+30m", "+2d" };
	for (size_t i = 0; i < 5; i++)
		tag_slices[i] = tl_s(tags[i]);
	for (size_t i = 0; i < POOL; i++) {
		cmd_text *t = &pool_text[i];
		tl_cmd *c = &pool[i];
		int len = bench_title(t->title, sizeof t->title, rnd(10),
				      rnd(12), rnd(8));
		if (len > 60)
			len = 60;
		while (len < 30)
			len += snprintf(t->title + len, sizeof t->title - len,
					" #%u", 1000 + rnd(9000));
		if (len > 60)
			len = 60;
		while (len > 0 && t->title[len - 1] == ' ')
			len--;
		t->title[len] = 0;
		snprintf(t->link, sizeof t->link, "lead:%u", 1 + rnd(50000));
		if (rnd(2))
			snprintf(t->due, sizeof t->due, "%s", rel[rnd(6)]);
		else if (rnd(2))
			snprintf(t->due, sizeof t->due,
				 "2026-%02u-%02uT%02u:%02u:00Z", 1 + rnd(12),
				 1 + rnd(28), 8 + rnd(10), rnd(4) * 15);
		else
			snprintf(t->due, sizeof t->due,
				 "2026-%02u-%02uT%02u:30:00+02:00",
				 1 + rnd(12), 1 + rnd(28), 8 + rnd(10));
		memset(c, 0, sizeof *c);
		c->kind = TL_TASK_ADD;
		c->title = tl_s(t->title);
		c->type = tl_s(types[rnd(10)]);
		c->link = tl_s(t->link);
		c->due = tl_s(t->due);
		if (i % 2 == 0)
			c->assignee = tl_s("alice");
		if (rnd(3) == 0) {
			c->tags = &tag_slices[rnd(5)];
			c->tags_len = 1;
		}
	}
}

/* ---- tasklog -------------------------------------------------------- */

static int capture_fn(void *arg, const tl_event *ev)
{
	captured *cap = arg;
	static const char created[] = "task.created";
	if (ev->type.len != sizeof created - 1 ||
	    memcmp(ev->type.p, created, ev->type.len) != 0)
		return 0;
	if (cap->n >= cap->want)
		return 1;
	if (cap->len + ev->raw_len > cap->cap) {
		size_t nc = cap->cap ? cap->cap * 2 : 1 << 20;
		while (nc < cap->len + ev->raw_len)
			nc *= 2;
		cap->buf = realloc(cap->buf, nc);
		if (!cap->buf)
			die("out of memory capturing events");
		cap->cap = nc;
	}
	memcpy(cap->buf + cap->len, ev->raw, ev->raw_len);
	if (!tl_uuid_parse(ev->stream, cap->stream[cap->n]))
		memset(cap->stream[cap->n], 0, 16);
	cap->off[cap->n] = cap->len;
	cap->len += ev->raw_len;
	cap->n++;
	cap->off[cap->n] = cap->len;
	return 0;
}

static void run_tasklog(size_t b, size_t n, sample *out, captured *cap)
{
	char dir[4096];
	tl_db *db;
	tl_err err = { 0 };
	snprintf(dir, sizeof dir, "%s/tasklog-b%zu", data_dir, b);
	rm_rf(dir);
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	if (tl_db_open(dir, &o, &db, &err))
		die("tl_db_open %s: %s", dir, err.message);
	if (tl_db_init(db, NULL, &err))
		die("tl_db_init: %s", err.message);
	tl_ctx ctx = { 0 };
	tl_cmd alice = { .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
			 .name = tl_s("Alice Example"), .role = tl_s("member") };
	tl_result r1;
	if (tl_exec(db, &ctx, &alice, 1, &r1, &err))
		die("member add: %s", err.message);
	tl_result_release(&r1);

	tl_result *res = xmalloc(b * sizeof *res);
	uint64_t doc_bytes = 0;
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += b) {
		const tl_cmd *cmds = &pool[done % POOL];
		if (tl_exec(db, &ctx, cmds, b, res, &err))
			die("tl_exec (batch %zu, at %zu): %s: %s [%s]", b, done,
			    tl_code_name(err.code), err.message, err.field);
		for (size_t i = 0; i < b; i++) {
			doc_bytes += res[i].doc_len;
			tl_result_release(&res[i]);
		}
	}
	out->wall = now_s() - t0;
	if (!sizes_measured)
		mean_doc = (double)doc_bytes / (double)n;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	free(res);

	char path[4200];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	out->file = file_size(path);
	if (cap && cap->n < cap->want &&
	    tl_log_read(db, &ctx, 1, 0, (tl_slice){ NULL, 0 }, capture_fn,
			cap, &err) < 0)
		die("tl_log_read: %s", err.message);
	if (!sizes_measured) {
		/* The mean event size, from the first 1000 task events. */
		captured c = { 0 };
		size_t off[1001];
		uint8_t st[1000][16];
		c.off = off;
		c.stream = st;
		c.want = n < 1000 ? n : 1000;
		if (tl_log_read(db, &ctx, 1, 0, (tl_slice){ NULL, 0 },
				capture_fn, &c, &err) < 0)
			die("tl_log_read: %s", err.message);
		if (c.n)
			mean_event = (double)c.len / (double)c.n;
		free(c.buf);
		sizes_measured = true;
	}
	tl_db_close(db);
	rm_rf(dir);
}

/* ---- SQLite --------------------------------------------------------- */

static void sq_exec(sqlite3 *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("sqlite: %s: %s", sql, msg ? msg : "?");
}

static void run_sqlite(size_t b, size_t n, sample *out, const captured *cap)
{
	char dir[4096], path[4200], wal[4300];
	sqlite3 *s;
	sqlite3_stmt *ins, *begin, *commit;
	snprintf(dir, sizeof dir, "%s/sqlite-b%zu", data_dir, b);
	rm_rf(dir);
	mkdir_p(dir);
	snprintf(path, sizeof path, "%s/events.db", dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (sqlite3_open(path, &s) != SQLITE_OK)
		die("sqlite open %s: %s", path, sqlite3_errmsg(s));
	sqlite3_stmt *jm;
	if (sqlite3_prepare_v2(s, "PRAGMA journal_mode=WAL", -1, &jm, NULL) ||
	    sqlite3_step(jm) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(jm, 0), "wal") != 0)
		die("sqlite: cannot switch to WAL");
	sqlite3_finalize(jm);
	sq_exec(s, "PRAGMA synchronous=FULL");
	sq_exec(s, "CREATE TABLE events(seq INTEGER PRIMARY KEY, "
		   "stream BLOB, type TEXT, data BLOB)");
	if (sqlite3_prepare_v2(s, "INSERT INTO events(seq, stream, type, data) "
				  "VALUES(?1, ?2, ?3, ?4)", -1, &ins, NULL) ||
	    sqlite3_prepare_v2(s, "BEGIN", -1, &begin, NULL) ||
	    sqlite3_prepare_v2(s, "COMMIT", -1, &commit, NULL))
		die("sqlite prepare: %s", sqlite3_errmsg(s));

	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += b) {
		if (sqlite3_step(begin) != SQLITE_DONE)
			die("sqlite BEGIN: %s", sqlite3_errmsg(s));
		sqlite3_reset(begin);
		for (size_t i = done; i < done + b; i++) {
			size_t k = i % cap->n;
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)(i + 1));
			sqlite3_bind_blob(ins, 2, cap->stream[k], 16,
					  SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, "task.created", 12,
					  SQLITE_STATIC);
			sqlite3_bind_blob(ins, 4, cap->buf + cap->off[k],
					  (int)(cap->off[k + 1] - cap->off[k]),
					  SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				die("sqlite INSERT: %s", sqlite3_errmsg(s));
			sqlite3_reset(ins);
		}
		if (sqlite3_step(commit) != SQLITE_DONE)
			die("sqlite COMMIT: %s", sqlite3_errmsg(s));
		sqlite3_reset(commit);
	}
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->file = file_size(path) + file_size(wal);
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(s);
	rm_rf(dir);
}

/* ---- bare LMDB ---------------------------------------------------------- */

static void mdb_check(int rc, const char *what)
{
	if (rc)
		die("lmdb %s: %s", what, mdb_strerror(rc));
}

static void run_lmdb(size_t b, size_t n, sample *out)
{
	char dir[4096], path[4200];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t val[200];
	snprintf(dir, sizeof dir, "%s/lmdb-b%zu", data_dir, b);
	rm_rf(dir);
	mkdir_p(dir);
	for (size_t i = 0; i < sizeof val; i++)
		val[i] = (uint8_t)rnd(256);
	mdb_check(mdb_env_create(&env), "env create");
	mdb_check(mdb_env_set_mapsize(env, (size_t)8 << 30), "mapsize");
	mdb_check(mdb_env_open(env, dir, 0, 0644), "env open");
	mdb_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
	mdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi open");
	mdb_check(mdb_txn_commit(txn), "commit");

	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += b) {
		mdb_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
		for (size_t i = done; i < done + b; i++) {
			uint8_t kb[8];
			uint64_t seq = i + 1;
			for (int j = 7; j >= 0; j--, seq >>= 8)
				kb[j] = (uint8_t)seq;
			memcpy(val, kb, 8); /* values differ */
			MDB_val k = { 8, kb }, v = { sizeof val, val };
			mdb_check(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "put");
		}
		mdb_check(mdb_txn_commit(txn), "commit");
	}
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	out->file = file_size(path);
	mdb_env_close(env);
	rm_rf(dir);
}

/* ---- LMDB with tasklog's layout ------------------------------------------- */

static void run_layout(size_t b, size_t n, sample *out)
{
	char dir[4096], path[4200];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ev, st, ta, dummy;
	static const char *const other[] = { "idem", "members", "meta" };
	size_t evsz = (size_t)(mean_event + 0.5), docsz = (size_t)(mean_doc + 0.5);
	uint8_t *val = xmalloc(evsz > docsz ? evsz : docsz);
	snprintf(dir, sizeof dir, "%s/layout-b%zu", data_dir, b);
	rm_rf(dir);
	mkdir_p(dir);
	for (size_t i = 0; i < (evsz > docsz ? evsz : docsz); i++)
		val[i] = (uint8_t)rnd(256);
	/* As tl_db_open does, but with a map that needs no growing. */
	mdb_check(mdb_env_create(&env), "env create");
	mdb_check(mdb_env_set_maxdbs(env, 128), "maxdbs");
	mdb_check(mdb_env_set_mapsize(env, (size_t)8 << 30), "mapsize");
	mdb_check(mdb_env_open(env, dir, MDB_NORDAHEAD, 0644), "env open");
	mdb_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
	mdb_check(mdb_dbi_open(txn, "events", MDB_CREATE, &ev), "dbi open");
	mdb_check(mdb_dbi_open(txn, "streams",
			       MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &st),
		  "dbi open");
	mdb_check(mdb_dbi_open(txn, "tasks", MDB_CREATE, &ta), "dbi open");
	for (size_t i = 0; i < 3; i++)
		mdb_check(mdb_dbi_open(txn, other[i], MDB_CREATE, &dummy),
			  "dbi open");
	mdb_check(mdb_txn_commit(txn), "commit");

	/* Task ids: UUIDv7-like, increasing (ms, counter, random). */
	uint64_t ms = 0x0190000000000000ull >> 16;
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += b) {
		mdb_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
		for (size_t i = done; i < done + b; i++) {
			uint8_t kb[8], sk[17], sv[12];
			uint64_t seq = i + 1, hi = (ms + i / 64) << 16 |
						   0x7000 | (i % 64);
			for (int j = 7; j >= 0; j--, seq >>= 8)
				kb[j] = (uint8_t)seq;
			sk[0] = 'T';
			for (int j = 7; j >= 0; j--, hi >>= 8)
				sk[1 + j] = (uint8_t)hi;
			memcpy(sk + 9, val + (i % 64), 8);
			sk[9] = (uint8_t)(0x80 | (sk[9] & 0x3f));
			memcpy(val, kb, 8);
			MDB_val k = { 8, kb }, v = { evsz, val };
			mdb_check(mdb_put(txn, ev, &k, &v, MDB_APPEND), "put event");
			memset(sv, 0, 4);
			sv[3] = 1;
			memcpy(sv + 4, kb, 8);
			MDB_val skv = { 17, sk }, svv = { 12, sv };
			mdb_check(mdb_put(txn, st, &skv, &svv, MDB_NODUPDATA),
				  "put stream");
			MDB_val tk = { 16, sk + 1 }, tv = { docsz, val };
			mdb_check(mdb_put(txn, ta, &tk, &tv, MDB_APPEND),
				  "put task");
		}
		mdb_check(mdb_txn_commit(txn), "commit");
	}
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	out->file = file_size(path);
	mdb_env_close(env);
	free(val);
	rm_rf(dir);
}

/* ---- statistics and output -------------------------------------------- */

static int cmp_rate(const void *a, const void *b)
{
	const sample *x = a, *y = b;
	/* ascending wall time = descending rate */
	return (x->wall > y->wall) - (x->wall < y->wall);
}

static void summarize(cell *c)
{
	sample s[MAXRUNS];
	memcpy(s, c->s, sizeof s[0] * (size_t)c->runs);
	qsort(s, (size_t)c->runs, sizeof s[0], cmp_rate);
	const sample *m = &s[c->runs / 2];
	double n = (double)c->n;
	c->med_rate = n / m->wall;
	c->max_rate = n / s[0].wall;
	c->min_rate = n / s[c->runs - 1].wall;
	c->cpu_us = m->cpu / n * 1e6;
	c->wbytes = (double)m->written / n;
	c->fbytes = (double)m->file / n;
}

/* 1234567 -> "1,234,567" */
static const char *fmt_int(double v, char *buf)
{
	char tmp[32];
	unsigned long long u = (unsigned long long)(v + 0.5);
	int len = snprintf(tmp, sizeof tmp, "%llu", u), o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static const char *fmt_bytes(double v, char *buf)
{
	if (v >= 10240)
		snprintf(buf, 32, "%.1f KB", v / 1024);
	else
		snprintf(buf, 32, "%.0f B", v);
	return buf;
}

typedef struct goal {
	const char *text;  /* "" when no goal for this batch size */
	bool pass;
} goal;

static goal goal_for(int bi, char *text, size_t cap)
{
	goal g = { "", true };
	const cell *t = &cells[bi][SYS_TASKLOG], *q = &cells[bi][SYS_SQLITE],
		   *l = &cells[bi][SYS_LMDB];
	if (batch_sizes[bi] == 10000) {
		bool a = t->med_rate >= GOAL_B10K_RATE;
		bool b = t->med_rate >= GOAL_B10K_VS_SQLITE * q->med_rate;
		g.pass = a && b;
		snprintf(text, cap, "%s: >= 500,000 ev/s %s, >= 2x SQLite %s",
			 g.pass ? "PASS" : "MISS", a ? "yes" : "no",
			 b ? "yes" : "no");
		g.text = text;
	} else if (batch_sizes[bi] == 1) {
		g.pass = t->med_rate >= GOAL_B1_VS_LMDB * l->med_rate;
		snprintf(text, cap, "%s: >= 0.80x bare LMDB",
			 g.pass ? "PASS" : "MISS");
		g.text = text;
	}
	return g;
}

static void print_table(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], gt[128];
	fprintf(f, "\n%5s %9s %12s %12s %7s %12s %7s %12s  %s\n", "batch", "N",
		"tasklog ev/s", "SQLite ev/s", "tl/SQL", "LMDB ev/s", "tl/LMDB",
		"layout ev/s", "goal");
	for (int bi = 0; bi < NB; bi++) {
		const cell *t = &cells[bi][SYS_TASKLOG], *q = &cells[bi][SYS_SQLITE],
			   *l = &cells[bi][SYS_LMDB], *y = &cells[bi][SYS_LAYOUT];
		goal g = goal_for(bi, gt, sizeof gt);
		fprintf(f, "%5zu %9s %12s %12s %6.2fx %12s %7.2f %12s  %s\n",
			batch_sizes[bi], fmt_int((double)t->n, a),
			fmt_int(t->med_rate, b), fmt_int(q->med_rate, c),
			t->med_rate / q->med_rate, fmt_int(l->med_rate, d),
			t->med_rate / l->med_rate, fmt_int(y->med_rate, e),
			*g.text ? g.text : "-");
	}
	fprintf(f, "\n%5s %-12s %12s %22s %10s %11s %11s %8s\n", "batch",
		"system", "median ev/s", "min - max ev/s", "CPU us/ev",
		"written/ev", "file/ev", "pg/commit");
	for (int bi = 0; bi < NB; bi++)
		for (int s = 0; s < NSYS; s++) {
			const cell *x = &cells[bi][s];
			char r[64];
			snprintf(r, sizeof r, "%s - %s", fmt_int(x->min_rate, a),
				 fmt_int(x->max_rate, b));
			fprintf(f, "%5zu %-12s %12s %22s %10.2f %11s %11s %8.1f\n",
				batch_sizes[bi], sys_name[s],
				fmt_int(x->med_rate, c), r, x->cpu_us,
				fmt_bytes(x->wbytes, d), fmt_bytes(x->fbytes, e),
				x->wbytes * (double)batch_sizes[bi] / 4096);
		}
}

static void write_markdown(const char *path, int runs, bool quick,
			   double avg_event)
{
	FILE *f = fopen(path, "w");
	char a[32], b[32], c[32], d[32], e[32], g1[32], gt[128];
	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	int mj, mn, pt;
	mdb_version(&mj, &mn, &pt);

	fprintf(f, "## Durable appends of `task.add` (bench/bench_append.c)\n\n");
	if (quick)
		fprintf(f, "**Smoke run (`--quick`): small N, one run; these "
			   "figures are not meaningful.**\n\n");
	fprintf(f,
		"What runs, per batch size B, %d time%s each, interleaved "
		"(tasklog, SQLite, bare LMDB, LMDB layout, tasklog, ...), each "
		"in a fresh database that is deleted afterwards:\n\n", runs,
		runs == 1 ? "" : "s");
	fprintf(f,
		"- **tasklog**: N `task.add` commands through `tl_exec()`, B "
		"per call; each call is one durable LMDB transaction (default "
		"`tl_db_open`, no `TL_OPEN_NOSYNC`: fsync at every commit; "
		"64 MiB initial map, doubled when full; no views/projections "
		"registered). Commands are realistic: titles of 30-60 bytes, "
		"10 types, link `lead:<n>`, due `+3d`-style or RFC 3339 (with "
		"and without offset), assignee `alice` on half, one tag on a "
		"third. Every command is fully validated, appended (event + "
		"stream index), folded, and its task document stored (mean "
		"%.0f bytes) and returned; results are released. From 64 "
		"commands per call on (B = 100 and 10,000), the log's hash "
		"chain is computed on a second thread while the batch goes on "
		"(`engine/chain.c`, since 0.3.20); the CPU figures below count "
		"both threads.\n"
		"- **SQLite** %s: the same N events as rows of `events(seq "
		"INTEGER PRIMARY KEY, stream BLOB, type TEXT, data BLOB)` with "
		"`data` = the exact msgpack record tasklog stored (mean %.0f "
		"bytes) and `stream` the 16-byte task id, `journal_mode=WAL`, "
		"`synchronous=FULL`, one prepared INSERT, `BEGIN`/`COMMIT` per "
		"batch of B. No secondary index, no task state: a bare log.\n"
		"- **bare LMDB** %d.%d.%d: N 200-byte values under 8-byte "
		"big-endian keys with `MDB_APPEND` in the main database, one "
		"durable `mdb_txn_commit` per batch of B: the ceiling for a "
		"log on LMDB on this machine.\n"
		"- **LMDB layout**: tasklog's storage without the engine: per "
		"event the three `mdb_put`s tasklog makes (event with "
		"`MDB_APPEND`, stream index entry in the DUPSORT `streams` "
		"database, task document with `MDB_APPEND`) with values of "
		"the sizes tasklog wrote, in the same named databases. "
		"tasklog minus this is the engine's CPU; this minus bare LMDB "
		"is the price of the layout.\n\n",
		mean_doc, sqlite3_libversion(), avg_event, mj, mn, pt);
	fprintf(f, "events/s = N / wall time of the append loop (setup "
		   "excluded), median of the runs.\n\n");

	fprintf(f, "| batch | N | tasklog ev/s | SQLite ev/s | tasklog / "
		   "SQLite | bare LMDB ev/s | tasklog / LMDB | LMDB layout "
		   "ev/s | goal |\n");
	fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (int bi = 0; bi < NB; bi++) {
		const cell *t = &cells[bi][SYS_TASKLOG], *q = &cells[bi][SYS_SQLITE],
			   *l = &cells[bi][SYS_LMDB], *y = &cells[bi][SYS_LAYOUT];
		goal g = goal_for(bi, gt, sizeof gt);
		fprintf(f, "| %s | %s | %s | %s | %.2fx | %s | %.2f | %s | %s |\n",
			fmt_int((double)batch_sizes[bi], e),
			fmt_int((double)t->n, a), fmt_int(t->med_rate, b),
			fmt_int(q->med_rate, c), t->med_rate / q->med_rate,
			fmt_int(l->med_rate, d), t->med_rate / l->med_rate,
			fmt_int(y->med_rate, g1), *g.text ? g.text : "(no goal)");
	}
	fprintf(f, "\nGoals: at B = 10,000 at least 500,000 events/s and at "
		   "least 2x SQLite; at B = 1 at least 0.80x the bare LMDB "
		   "rate measured in the same run.\n\n");

	fprintf(f, "Detail: spread over the runs, CPU time (user + system) "
		   "per event, bytes written per event (`wchar` of "
		   "`/proc/self/io`: what the commits handed to `write` system "
		   "calls, i.e. LMDB's page and meta-page writes, SQLite's WAL "
		   "frames and checkpoints), file size per event at the end, "
		   "and the bytes written as 4 KiB pages per commit.\n\n");
	fprintf(f, "| batch | system | median ev/s | min - max ev/s | CPU "
		   "µs/event | written/event | file/event | pages/commit |\n");
	fprintf(f, "|---:|---|---:|---:|---:|---:|---:|---:|\n");
	for (int bi = 0; bi < NB; bi++)
		for (int s = 0; s < NSYS; s++) {
			const cell *x = &cells[bi][s];
			char wb[32], fb[32], lo[32], hi[32], md[32];
			fprintf(f, "| %s | %s | %s | %s - %s | %.2f | %s | %s | %.1f |\n",
				fmt_int((double)batch_sizes[bi], e), sys_name[s],
				fmt_int(x->med_rate, md), fmt_int(x->min_rate, lo),
				fmt_int(x->max_rate, hi), x->cpu_us,
				fmt_bytes(x->wbytes, wb), fmt_bytes(x->fbytes, fb),
				x->wbytes * (double)batch_sizes[bi] / 4096);
		}

	/* Runs disturbed by something else on the machine. */
	int noisy = 0;
	for (int bi = 0; bi < NB; bi++)
		for (int s = 0; s < NSYS; s++) {
			const cell *x = &cells[bi][s];
			if (x->runs > 1 && x->max_rate > 1.5 * x->min_rate) {
				fprintf(f, "%s%s at B = %s (%s - %s)",
					noisy++ ? ", " : "\n**Disturbed runs** "
					"(fastest over 1.5x the slowest; "
					"the disk is shared with other "
					"guests): ", sys_name[s],
					fmt_int((double)batch_sizes[bi], e),
					fmt_int(x->min_rate, a),
					fmt_int(x->max_rate, b));
			}
		}
	if (noisy)
		fprintf(f, ". Their medians are less reliable than the rest; "
			   "rerun when the machine is quiet.\n");

	/* Interpretation, from the figures. */
	const cell *t1 = &cells[0][SYS_TASKLOG], *q1 = &cells[0][SYS_SQLITE],
		   *l1 = &cells[0][SYS_LMDB], *y1 = &cells[0][SYS_LAYOUT];
	const cell *t2 = &cells[1][SYS_TASKLOG], *q2 = &cells[1][SYS_SQLITE],
		   *l2 = &cells[1][SYS_LMDB], *y2 = &cells[1][SYS_LAYOUT];
	const cell *t3 = &cells[2][SYS_TASKLOG], *q3 = &cells[2][SYS_SQLITE],
		   *l3 = &cells[2][SYS_LMDB], *y3 = &cells[2][SYS_LAYOUT];
	fprintf(f, "\n**What limits each figure.**\n\n");
	fprintf(f,
		"- *B = 1: pages written per durable commit.* An LMDB commit "
		"writes its dirty pages, fdatasyncs, then writes the meta page "
		"synchronously. Bare LMDB writes %.1f pages per commit and "
		"takes %.0f µs (%.0f µs CPU). tasklog's "
		"layout touches three B-trees in named databases (events, "
		"streams, tasks, plus the main database that holds their "
		"roots and LMDB's free list): %.1f pages per commit even "
		"without the engine (LMDB layout: %.0f µs per commit, %.2fx "
		"bare LMDB). tasklog writes %.1f pages, takes %.0f µs (%.0f "
		"µs CPU) and reaches %.0f%% of its layout's rate and %.0f%% "
		"of bare LMDB%s (the pages: the same as its layout's since "
		"0.3.16, which keeps the task counts in the main database; "
		"in `meta` they cost one page more per commit). SQLite "
		"appends %.1f pages of WAL frames per "
		"commit with one fsync (%.0f µs), so on this disk it beats "
		"LMDB's copy-on-write commit at B = 1.\n",
		l1->wbytes / 4096, 1e6 / l1->med_rate, l1->cpu_us,
		y1->wbytes / 4096, 1e6 / y1->med_rate,
		y1->med_rate / l1->med_rate, t1->wbytes / 4096,
		1e6 / t1->med_rate, t1->cpu_us,
		100.0 * t1->med_rate / y1->med_rate,
		100.0 * t1->med_rate / l1->med_rate,
		t1->med_rate >= GOAL_B1_VS_LMDB * l1->med_rate
			? ""
			: ": what is missing to the goal is the layout's, not "
			  "the engine's CPU",
		q1->wbytes / 4096, 1e6 / q1->med_rate);
	fprintf(f,
		"- *B = 100: mostly the CPU already.* The commit is shared by "
		"100 events; per event tasklog spends %.1f µs CPU of %.1f µs "
		"wall, the LMDB layout %.1f of %.1f, bare LMDB %.1f of %.1f, "
		"SQLite %.1f of %.1f.\n",
		t2->cpu_us, 1e6 / t2->med_rate, y2->cpu_us, 1e6 / y2->med_rate,
		l2->cpu_us, 1e6 / l2->med_rate, q2->cpu_us, 1e6 / q2->med_rate);
	fprintf(f,
		"- *B = 10,000: the CPU.* Commits are rare; per-event work is "
		"left. tasklog: %.2f µs CPU per event (both threads) of %.2f "
		"µs wall. The LMDB layout alone takes %.2f µs CPU of %.2f µs wall (%s "
		"ev/s): three `mdb_put`s that each search from the root, "
		"about %s written per event. So the engine itself spends "
		"about %.1f µs CPU per event: validation, time parsing, three "
		"msgpack encodings with the direct writer (event data, event "
		"envelope, task document), applying the typed change to the "
		"task (its strings copied), a BLAKE2b hash (the largest single "
		"cost, see the manual profile below; on the second thread, "
		"where it costs no wall time unless that thread falls "
		"behind), two UUIDv7 and their text, and a copy of the task "
		"document per result (into blocks the batch's results share, "
		"since 0.3.36). The goal of 500,000 ev/s is a budget of 2 µs per event, of "
		"which the layout already uses %.0f%%. Bare LMDB: %.2f µs "
		"CPU of %.2f µs; SQLite: %.2f µs CPU of %.2f µs (%s written "
		"per event: WAL frames, then checkpoints copying them into "
		"the database file).\n",
		t3->cpu_us, 1e6 / t3->med_rate, y3->cpu_us, 1e6 / y3->med_rate,
		fmt_int(y3->med_rate, a), fmt_bytes(y3->wbytes, b),
		t3->cpu_us - y3->cpu_us, 100.0 * (1e6 / y3->med_rate) / 2.0,
		l3->cpu_us, 1e6 / l3->med_rate, q3->cpu_us,
		1e6 / q3->med_rate, fmt_bytes(q3->wbytes, c));
	fprintf(f,
		"- *Not comparable one to one.* SQLite and bare LMDB store a "
		"byte string and nothing else: no validation, no stream index, "
		"no current task state, no hash chain. tasklog does all of "
		"that in the same transaction. The machine is noisy (see the "
		"min - max spread; write-heavy runs vary by 15-37%% on this "
		"machine class), so compare figures of the same run.\n");
	fclose(f);
}

/* ---- main ------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const char *out = NULL;
	bool quick = false;
	int runs = 0; /* default: 3, or 1 with --quick */
	double scale = 1.0;
	const char *only = NULL;
	long only_batch = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			data_dir = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			only_batch = atol(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--quick] [--runs R] [--scale F] "
				"[--dir DIR] [--out FILE] [--only tasklog|sqlite|lmdb|layout] "
				"[--batch 1|100|10000]\n", argv[0]);
			return 2;
		}
	}
	if (runs == 0)
		runs = quick ? 1 : 3;
	if (runs < 1 || runs > MAXRUNS || !(scale > 0))
		die("bad --runs or --scale");
	bool partial = only || only_batch;
	bool do_sys[NSYS] = { true, true, true, true };
	if (only) {
		do_sys[SYS_TASKLOG] = !strcmp(only, "tasklog");
		do_sys[SYS_SQLITE] = !strcmp(only, "sqlite");
		do_sys[SYS_LMDB] = !strcmp(only, "lmdb");
		do_sys[SYS_LAYOUT] = !strcmp(only, "layout");
		if (!do_sys[0] && !do_sys[1] && !do_sys[2] && !do_sys[3])
			die("--only takes tasklog, sqlite, lmdb or layout");
	}
	if (partial && out)
		die("--out needs the full set (no --only, no --batch)");

	make_pool();
	mkdir_p(data_dir);

	size_t nmax = 0;
	for (int bi = 0; bi < NB; bi++) {
		size_t b = batch_sizes[bi];
		size_t n = (size_t)((double)(quick ? quick_n[bi] : default_n[bi]) *
				    scale);
		n = (n + b - 1) / b * b; /* whole batches */
		if (n < b)
			n = b;
		for (int s = 0; s < NSYS; s++) {
			cells[bi][s].n = n;
			cells[bi][s].runs = runs;
		}
		if (n > nmax)
			nmax = n;
	}

	/* Events captured from tasklog's log for SQLite.  Once enough are
	 * kept, they are reused for every batch size. */
	captured cap = { 0 };
	cap.want = nmax;
	cap.off = xmalloc((nmax + 1) * sizeof *cap.off);
	cap.off[0] = 0;
	cap.stream = xmalloc(nmax * sizeof *cap.stream);

	printf("bench_append: durable task.add appends, %d run%s per "
	       "configuration%s\n", runs, runs == 1 ? "" : "s",
	       quick ? " (quick)" : "");
	printf("data in %s; LMDB %s, SQLite %s, msgpack-c %s\n", data_dir,
	       mdb_version(NULL, NULL, NULL), sqlite3_libversion(),
	       msgpack_version());
	fflush(stdout);

	/* Largest batch first: it captures the most events for SQLite. */
	for (int bi = NB - 1; bi >= 0; bi--) {
		size_t b = batch_sizes[bi];
		if (only_batch && (size_t)only_batch != b)
			continue;
		for (int r = 0; r < runs; r++) {
			sample *st = &cells[bi][SYS_TASKLOG].s[r];
			sample *sq = &cells[bi][SYS_SQLITE].s[r];
			sample *sl = &cells[bi][SYS_LMDB].s[r];
			sample *sy = &cells[bi][SYS_LAYOUT].s[r];
			size_t n = cells[bi][0].n;
			printf("  B=%-6zu N=%-8zu run %d:", b, n, r + 1);
			fflush(stdout);
			if (do_sys[SYS_TASKLOG] || do_sys[SYS_SQLITE]) {
				run_tasklog(b, n, st,
					    do_sys[SYS_SQLITE] && cap.n < cap.want
						    ? &cap : NULL);
				printf(" tasklog %9.0f ev/s", (double)n / st->wall);
				fflush(stdout);
			}
			if (do_sys[SYS_SQLITE]) {
				if (cap.n == 0)
					die("no task.created events captured");
				run_sqlite(b, n, sq, &cap);
				printf("  SQLite %9.0f ev/s", (double)n / sq->wall);
				fflush(stdout);
			}
			if (do_sys[SYS_LMDB]) {
				run_lmdb(b, n, sl);
				printf("  LMDB %9.0f ev/s", (double)n / sl->wall);
				fflush(stdout);
			}
			if (do_sys[SYS_LAYOUT]) {
				run_layout(b, n, sy);
				printf("  layout %9.0f ev/s", (double)n / sy->wall);
			}
			printf("\n");
			fflush(stdout);
		}
		if (!partial)
			for (int s = 0; s < NSYS; s++)
				summarize(&cells[bi][s]);
	}
	if (!partial)
		print_table(stdout);
	if (out)
		write_markdown(out, runs, quick,
			       (double)cap.len / (double)cap.n);
	free(cap.buf);
	free(cap.off);
	free(cap.stream);
	rmdir(data_dir);
	return 0;
}
