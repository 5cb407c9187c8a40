/*
 * bench_views.c - tasklog with all its projections (views) against SQLite
 * with the tables, indexes and queries a competent developer would write
 * for the same views, in the same run:
 *
 *   1. ingest   durable task.add events with every view updated inline,
 *               into a workspace that already holds `big` tasks, batches
 *               of 10,000 (one durable commit each);
 *   2. rebuild  of every view from a log of `log` events (tl_rebuild)
 *               against SQLite re-creating its derived indexes and tables;
 *               Beside them, the floor of any design that keeps these
 *               views as B-trees in LMDB: bare LMDB with the least the
 *               issue's indexes need (see "the floor" below);
 *   3. queries  `task list --assignee X --sort due --limit 50` and a
 *               timeline page (50 entries; also with its upcoming part),
 *               p50/p99 in microseconds, warm and in-process, at three
 *               workspace sizes.
 *
 * The workload is deterministic: task i is the same for both systems (20
 * members, 70 % assigned, titles of 20-60 bytes, 10 types, statuses 60 %
 * todo / 10 in progress / 5 on hold / 20 completed / 5 cancelled, links to
 * records of 4 entity types, 10 % of them to a few "hot" records with
 * about 200 tasks each, due times over +-60 days, 10 % without one, a tag
 * on a third).  Preloads (and the updates that fill the log up to `log`
 * events) run with durability off (TL_OPEN_NOSYNC, SQLite
 * synchronous=OFF) and are not measured; everything measured runs durable.
 *
 * Usage: bench_views [--quick] [--runs R] [--rebuild-runs R] [--scale F]
 *                    [--dir DIR] [--out FILE] [--only ingest|rebuild|query]
 *                    [--no-sqlite] [--no-tasklog] [--no-floor]
 *                    [--views LIST] [--keep]
 *   --quick      small sizes, one run: a smoke test (figures mean little)
 *   --runs R     ingest runs (default 3; medians reported)
 *   --rebuild-runs R  rebuild runs (default 2: each takes minutes)
 *   --scale F    multiply the big workspace, ingest, log and records by F
 *   --dir D      where the databases go (default bench/data); deleted at
 *                the end unless --keep
 *   --out F      write the markdown section (without markers) to F
 *   --only P     run only part P (for profiling; no --out then)
 *   --no-sqlite, --no-tasklog, --no-floor  skip one system (for
 *                profiling)
 *   --views L    open tasklog with only the views named in L, comma-
 *                separated (`none`: none; for measuring what each
 *                costs: no --out then)
 * Exit status 0 when every run succeeded (goals met or not), 1 on error.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

#include "tasklog_projections.h"
#include "tasklog.h"
#include "util.h"

/* Goals of the issue. */
#define GOAL_INGEST_RATE 100000.0
#define GOAL_INGEST_VS_SQLITE 3.0
#define GOAL_REBUILD_RATE 500000.0
#define GOAL_P99_US 100.0
#define GOAL_FLAT 1.5 /* largest p99 of the sizes / smallest ... */
#define GOAL_FLAT_US 10.0 /* ... or within this many µs: below that the
			   * ratio measures timer and scheduler noise */

#define MAXRUNS 9
#define N_MEMBERS 20
#define PAGE 50
#define MAP_SIZE ((uint64_t)48 << 30)

enum { SYS_TL, SYS_SQ, NSYS };
static const char *const sys_name[NSYS] = { "tasklog", "SQLite" };
/* The _FIX kinds are the timeline's two pages again, over the same
 * FIXED_RECORDS hot records at every size (the records 0 .. 4: about 200
 * tasks each, 125 at 10,000 tasks, where there are 8 hot records; full
 * pages everywhere): the same working set, so that what grows is only the
 * data outside the pages. */
enum { Q_LIST, Q_TIMELINE, Q_TIMELINE_UP, Q_TIMELINE_FIX, Q_TIMELINE_UP_FIX,
       NQ };
#define FIXED_RECORDS 5
static const char *const q_name[NQ] = {
	"task list --assignee X --sort due --limit 50",
	"timeline RECORD (history page, 50 entries)",
	"timeline RECORD first page (50 upcoming tasks + history page)",
	"timeline RECORD history page, the same 5 records at every size",
	"timeline RECORD first page, the same 5 records at every size"
};

static bool q_upcoming(int k)
{
	return k == Q_TIMELINE_UP || k == Q_TIMELINE_UP_FIX;
}

static const char *const members[N_MEMBERS] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "yvonne"
};
static const char *const type_tok[10] = {
	"call", "email", "message", "meeting", "chat",
	"proposal", "note", "task", "follow_up", "demo"
};
static const char *const status_tok[5] = {
	"todo", "in_progress", "on_hold", "completed", "cancelled"
};
static const char *const entity_tok[4] = {
	"contact", "lead", "account", "opportunity"
};
static const char *const tags[5] = { "hot", "renewal", "q3", "vip",
				     "follow-up" };
static tl_slice tag_sl[5];

/* ---- configuration ------------------------------------------------------ */

typedef struct config {
	bool quick, keep, do_ingest, do_rebuild, do_query;
	bool sys[NSYS];
	bool floor;        /* the ingest's LMDB floor too */
	int runs;          /* ingest runs */
	int rebuild_runs;
	size_t big;        /* tasks preloaded into the big workspace */
	size_t ingest;     /* task.add events measured per ingest run */
	size_t batch;      /* events per commit */
	size_t log;        /* events in the log that is rebuilt */
	size_t sizes[3];   /* workspace sizes for queries; sizes[2] = big */
	size_t queries;    /* measured queries per kind and size */
	size_t records;    /* records tasks link to (besides the hot ones) */
} config;

static config cfg;
static const char *data_dir = "bench/data";
static int64_t base_ms; /* "now" of the workload: due times spread around it */

/* ---- small helpers ---------------------------------------------------- */


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAXRUNS];
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static const char *fmt_int(double v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%.0f", v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i && tmp[i - 1] != '-' && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static const char *fmt_bytes(double v, char *buf)
{
	if (v >= 10e9)
		sprintf(buf, "%.1f GB", v / 1e9);
	else if (v >= 10e6)
		sprintf(buf, "%.0f MB", v / 1e6);
	else if (v >= 10e3)
		sprintf(buf, "%.1f KB", v / 1e3);
	else
		sprintf(buf, "%.0f B", v);
	return buf;
}

/* The 1-minute load average: other processes running besides us. */
static double loadavg(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double v = -1;
	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static double load_start, load_mid, load_end;

/* ---- the workload ------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

typedef struct rng {
	uint64_t s;
} rng;

static uint32_t below(rng *r, uint32_t n)
{
	r->s = mix64(r->s);
	return (uint32_t)((r->s >> 32) % n);
}

/* One task.add, the same for both systems. */
typedef struct spec {
	char title[64];
	int type, status, assignee, link_type, tag; /* assignee, tag: -1 none */
	uint32_t link_id;
	bool has_due;
	int64_t due;
} spec;

/* Records: number rn -> "ENTITY:ID" with ENTITY = rn % 4, ID = rn / 4 + 1.
 * The hot records are numbers 0 .. hot-1. */
static int record_text(size_t rn, char *buf, size_t cap)
{
	return snprintf(buf, cap, "%s:%zu", entity_tok[rn % 4], rn / 4 + 1);
}

static size_t hot_records(size_t n)
{
	size_t h = n / 2000;
	return h < 8 ? 8 : h;
}

static void gen_title(rng *r, char *t, size_t cap)
{
	int len = bench_title(t, cap, below(r, 10), below(r, 12),
			      below(r, 8));
	if (len > 60)
		len = 60;
	while (len < 20)
		len += snprintf(t + len, cap - (size_t)len, " #%u",
				1000 + below(r, 9000));
	if (len > 60)
		len = 60;
	while (len > 0 && t[len - 1] == ' ')
		len--;
	t[len] = 0;
}

static void gen_spec(uint64_t i, size_t hot, spec *s)
{
	rng r = { i * 0x2545f4914f6cdd1dull ^ 0x5bd1e9955bd1e995ull };
	uint32_t u;
	size_t rn;

	gen_title(&r, s->title, sizeof s->title);
	s->type = (int)below(&r, 10);
	u = below(&r, 100);
	s->status = u < 60 ? 0 : u < 70 ? 1 : u < 75 ? 2 : u < 95 ? 3 : 4;
	s->assignee = below(&r, 100) < 70 ? (int)below(&r, N_MEMBERS) : -1;
	if (below(&r, 10) == 0)
		rn = below(&r, (uint32_t)hot);
	else
		rn = below(&r, (uint32_t)cfg.records);
	s->link_type = (int)(rn % 4);
	s->link_id = (uint32_t)(rn / 4 + 1);
	s->has_due = below(&r, 10) != 0;
	/* +-60 days around base_ms, on quarter hours */
	s->due = base_ms + ((int64_t)below(&r, 120 * 96) - 60 * 96) * 900000;
	s->tag = below(&r, 3) == 0 ? (int)below(&r, 5) : -1;
}

/* One change to an existing task, for filling the log up to `log`. */
enum { U_DUE, U_TITLE, U_ASSIGN, U_STATUS, U_COMPLETE };
typedef struct upd {
	size_t task; /* index of a preloaded task */
	int kind, member, status;
	int64_t due;
	char title[64];
} upd;

static void gen_upd(uint64_t j, size_t ntasks, upd *u)
{
	rng r = { j * 0x9e3779b97f4a7c15ull ^ 0x1234567887654321ull };
	uint32_t k = below(&r, 100);
	u->task = below(&r, (uint32_t)ntasks);
	u->kind = k < 30 ? U_DUE : k < 40 ? U_TITLE : k < 65 ? U_ASSIGN
		: k < 85 ? U_STATUS : U_COMPLETE;
	u->member = (int)below(&r, N_MEMBERS);
	u->status = below(&r, 5) < 3 ? 1 : 2;
	u->due = base_ms + ((int64_t)below(&r, 120 * 96) - 60 * 96) * 900000;
	gen_title(&r, u->title, sizeof u->title);
}

/* ---- tasklog ------------------------------------------------------------- */

typedef struct cmdbuf {
	spec s;
	char link[32], due[40];
} cmdbuf;

static void make_cmd(cmdbuf *b, tl_cmd *c)
{
	const spec *s = &b->s;
	memset(c, 0, sizeof *c);
	c->kind = TL_TASK_ADD;
	c->title = tl_s(s->title);
	c->type = tl_s(type_tok[s->type]);
	if (s->status)
		c->status = tl_s(status_tok[s->status]);
	snprintf(b->link, sizeof b->link, "%s:%u", entity_tok[s->link_type],
		 s->link_id);
	c->link = tl_s(b->link);
	if (s->has_due) {
		tl_time_format(s->due, b->due);
		c->due = tl_s(b->due);
	}
	if (s->assignee >= 0)
		c->assignee = tl_s(members[s->assignee]);
	if (s->tag >= 0) {
		c->tags = &tag_sl[s->tag];
		c->tags_len = 1;
	}
}

/* --views LIST: the views tasklog is opened with (NULL: all). */
static const char *views_arg;

/* Whether view `name` is in --views (a comma-separated list; "none":
 * none of them). */
static bool view_wanted(const char *name)
{
	if (!views_arg)
		return true;
	size_t n = strlen(name);
	for (const char *p = views_arg; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, name, n))
			return true;
		p += len + (end != NULL);
	}
	return false;
}

/* The last seq tasklog appended (from the results of tl_exec). */
static uint64_t tl_seq;

static tl_db *tl_open(const char *dir, bool nosync)
{
	size_t na, nv = 0;
	const tl_view *const *all = tl_views_all(&na);
	static const tl_view *pick[16];
	for (size_t i = 0; i < na && i < 16; i++)
		if (view_wanted(tl_view_name(all[i])))
			pick[nv++] = all[i];
	const tl_view *const *views = pick;
	tl_open_opts o = { .flags = TL_OPEN_CREATE |
				    (nosync ? TL_OPEN_NOSYNC : 0),
			   .map_size = MAP_SIZE,
			   .views = views,
			   .views_len = nv };
	tl_db *db;
	tl_err err = { 0 };
	if (tl_db_open(dir, &o, &db, &err))
		die("tl_db_open %s: %s", dir, err.message);
	return db;
}

static void tl_exec_batch(tl_db *db, const tl_cmd *cmds, size_t n,
			  tl_result *res, uint8_t (*ids)[16])
{
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	if (tl_exec(db, &ctx, cmds, n, res, &err))
		die("tl_exec (command %d): %s: %s [%s]", err.index,
		    tl_code_name(err.code), err.message, err.field);
	for (size_t i = 0; i < n; i++) {
		if (res[i].appended && res[i].seq > tl_seq)
			tl_seq = res[i].seq;
		if (ids) {
			/* The task's "id" from its document. */
			msgpack_unpacked u;
			bool found = false;
			msgpack_unpacked_init(&u);
			if (msgpack_unpack_next(&u, (const char *)res[i].doc,
						res[i].doc_len, NULL) ==
				    MSGPACK_UNPACK_SUCCESS &&
			    u.data.type == MSGPACK_OBJECT_MAP) {
				msgpack_object_map *m = &u.data.via.map;
				for (uint32_t k = 0; k < m->size && !found; k++) {
					msgpack_object *key = &m->ptr[k].key,
						       *val = &m->ptr[k].val;
					if (key->type == MSGPACK_OBJECT_STR &&
					    key->via.str.size == 2 &&
					    !memcmp(key->via.str.ptr, "id", 2) &&
					    val->type == MSGPACK_OBJECT_STR)
						found = tl_uuid_parse(
							(tl_slice){ val->via.str.ptr,
								    val->via.str.size },
							ids[i]);
				}
			}
			msgpack_unpacked_destroy(&u);
			if (!found)
				die("no id in a task document");
		}
		tl_result_release(&res[i]);
	}
}

static void tl_setup(tl_db *db)
{
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	tl_cmd m[N_MEMBERS];
	tl_result r[N_MEMBERS];
	char names[N_MEMBERS][40];
	tl_seq = 0; /* a fresh workspace */
	if (tl_db_init(db, NULL, &err))
		die("tl_db_init: %s", err.message);
	for (int i = 0; i < N_MEMBERS; i++) {
		snprintf(names[i], sizeof names[i], "%c%s Example",
			 members[i][0] - 32, members[i] + 1);
		m[i] = (tl_cmd){ .kind = TL_MEMBER_ADD, .id = tl_s(members[i]),
				 .name = tl_s(names[i]),
				 .role = tl_s("member") };
	}
	if (tl_exec(db, &ctx, m, N_MEMBERS, r, &err))
		die("member add: %s", err.message);
	for (int i = 0; i < N_MEMBERS; i++) {
		if (r[i].seq > tl_seq)
			tl_seq = r[i].seq;
		tl_result_release(&r[i]);
	}
}

/* Add tasks [from, from + n) in batches; ids (when given) receives each
 * task's id at index i - from. */
static void tl_add_range(tl_db *db, size_t from, size_t n, size_t hot,
			 uint8_t (*ids)[16])
{
	cmdbuf *b = xmalloc(cfg.batch * sizeof *b);
	tl_cmd *c = xmalloc(cfg.batch * sizeof *c);
	tl_result *res = xmalloc(cfg.batch * sizeof *res);
	for (size_t done = 0; done < n;) {
		size_t k = n - done < cfg.batch ? n - done : cfg.batch;
		for (size_t i = 0; i < k; i++) {
			gen_spec(from + done + i, hot, &b[i].s);
			make_cmd(&b[i], &c[i]);
		}
		tl_exec_batch(db, c, k, res, ids ? ids + done : NULL);
		done += k;
	}
	free(b);
	free(c);
	free(res);
}

/* Changes to preloaded tasks until the log holds `target` events. */
/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void tl_fill_log(tl_db *db, const uint8_t (*ids)[16], size_t ntasks,
			uint64_t target)
{
	char (*idtext)[37] = xmalloc(cfg.batch * sizeof *idtext);
	char (*due)[40] = xmalloc(cfg.batch * sizeof *due);
	upd *u = xmalloc(cfg.batch * sizeof *u);
	tl_cmd *c = xmalloc(cfg.batch * sizeof *c);
	tl_result *res = xmalloc(cfg.batch * sizeof *res);
	uint64_t j = 0;
	/* (Not tl_db_stats: it decodes every task.) */
	while (tl_seq < target) {
		size_t k = target - tl_seq < cfg.batch
				   ? (size_t)(target - tl_seq) : cfg.batch;
		for (size_t i = 0; i < k; i++, j++) {
			gen_upd(j, ntasks, &u[i]);
			tl_uuid_format(ids[u[i].task], idtext[i]);
			memset(&c[i], 0, sizeof c[i]);
			c[i].id = (tl_slice){ idtext[i], 36 };
			switch (u[i].kind) {
			case U_DUE:
				c[i].kind = TL_TASK_UPDATE;
				tl_time_format(u[i].due, due[i]);
				c[i].due = tl_s(due[i]);
				break;
			case U_TITLE:
				c[i].kind = TL_TASK_UPDATE;
				c[i].title = tl_s(u[i].title);
				break;
			case U_ASSIGN:
				c[i].kind = TL_TASK_ASSIGN;
				c[i].assignee = tl_s(members[u[i].member]);
				break;
			case U_STATUS:
				c[i].kind = TL_TASK_STATUS;
				c[i].status = tl_s(status_tok[u[i].status]);
				break;
			default:
				c[i].kind = TL_TASK_COMPLETE;
				break;
			}
		}
		tl_exec_batch(db, c, k, res, NULL);
	}
	free(idtext);
	free(due);
	free(u);
	free(c);
	free(res);
}

/* ---- SQLite ----------------------------------------------------------- */

static const char *const sq_schema[] = {
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, stream BLOB NOT NULL, "
	"type TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, "
	"data TEXT NOT NULL)",
	"CREATE TABLE tasks(id BLOB PRIMARY KEY, title TEXT NOT NULL, "
	"type TEXT NOT NULL, status TEXT NOT NULL, due_at INTEGER, "
	"assignee TEXT, link_type TEXT NOT NULL, link_id TEXT NOT NULL, "
	"created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, "
	"created_seq INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, "
	"doc BLOB NOT NULL, rev BLOB NOT NULL)",
	"CREATE TABLE timeline(record TEXT NOT NULL, seq INTEGER NOT NULL, "
	"at INTEGER NOT NULL, actor TEXT NOT NULL, task BLOB NOT NULL, "
	"event TEXT NOT NULL, summary TEXT NOT NULL)",
	"CREATE TABLE notifications(member TEXT NOT NULL, seq INTEGER NOT NULL, "
	"task BLOB NOT NULL, read INTEGER NOT NULL, at INTEGER NOT NULL, "
	"by TEXT NOT NULL)",
	/* what `task list --tag` reads (tasklog's dimension G) */
	("CREATE TABLE task_tags(tag TEXT NOT NULL, task BLOB NOT NULL, "
	 "PRIMARY KEY(tag, task)) WITHOUT ROWID"),
};

/* The derived indexes: the "views" of SQLite. */
#define ACTIVE "status IN ('todo','in_progress','on_hold') AND deleted = 0"
static const char *const sq_task_index_drop[] = {
	"DROP INDEX tasks_assignee", "DROP INDEX tasks_link",
	"DROP INDEX tasks_due", "DROP INDEX tasks_status",
	"DROP INDEX tasks_type", "DROP INDEX tasks_rev"
};
static const char *const sq_task_index[] = {
	/* `due_at IS NULL` in the key lets the index deliver ORDER BY
	 * due_at IS NULL, due_at, created_seq (no due date last) without a
	 * sort; the partial index holds active tasks only. */
	"CREATE INDEX tasks_assignee ON tasks(assignee, due_at IS NULL, "
	"due_at, created_seq) WHERE " ACTIVE,
	"CREATE INDEX tasks_link ON tasks(link_type, link_id, due_at)",
	"CREATE INDEX tasks_due ON tasks(due_at)",
	"CREATE INDEX tasks_status ON tasks(status, due_at)",
	"CREATE INDEX tasks_type ON tasks(type, due_at)",
	/* a task found by the end of its id (tasklog's view ids): the id's
	 * hex digits from the last, as tasklog keys them */
	"CREATE INDEX tasks_rev ON tasks(rev)",
};
#define SQ_TASK_INDEXES (sizeof sq_task_index / sizeof *sq_task_index)
#define SQ_TIMELINE_INDEX \
	"CREATE INDEX timeline_record ON timeline(record, seq DESC)"
#define SQ_NOTIF_INDEX \
	"CREATE INDEX notifications_member ON notifications(member, read, seq)"

#define SQ_LIST                                                          \
	"SELECT doc FROM tasks WHERE assignee = ?1 AND " ACTIVE            \
	" ORDER BY due_at IS NULL, due_at, created_seq LIMIT 50"
#define SQ_TIMELINE                                                      \
	"SELECT at, actor, task, event, summary FROM timeline "            \
	"WHERE record = ?1 ORDER BY seq DESC LIMIT 50"
#define SQ_UPCOMING                                                      \
	"SELECT doc FROM tasks WHERE link_type = ?1 AND link_id = ?2 AND "  \
	ACTIVE " AND due_at IS NOT NULL ORDER BY due_at, created_seq LIMIT 50"

typedef struct sq {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *ins_ev, *ins_task, *ins_tl, *ins_nt,
		*ins_tag, *upd_task, *list, *timeline, *upcoming;
	uint64_t seq;
	msgpack_sbuffer sb;
} sq;

static void sq_exec(sqlite3 *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("sqlite: %s: %s", sql, msg ? msg : "?");
}

static sqlite3_stmt *sq_prep(sqlite3 *s, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK)
		die("sqlite prepare %s: %s", sql, sqlite3_errmsg(s));
	return st;
}

static void sq_done(sq *q, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("sqlite %s: %s", what, sqlite3_errmsg(q->db));
	sqlite3_reset(st);
}

static void sq_sync(sq *q, bool durable)
{
	sq_exec(q->db, durable ? "PRAGMA synchronous=FULL"
			       : "PRAGMA synchronous=OFF");
}

static void sq_open(sq *q, const char *dir, bool create, bool durable)
{
	char path[4200];
	memset(q, 0, sizeof *q);
	mkdir_p(dir);
	snprintf(path, sizeof path, "%s/tasks.db", dir);
	if (sqlite3_open(path, &q->db) != SQLITE_OK)
		die("sqlite open %s: %s", path, sqlite3_errmsg(q->db));
	sqlite3_stmt *jm = sq_prep(q->db, "PRAGMA journal_mode=WAL");
	if (sqlite3_step(jm) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(jm, 0), "wal") != 0)
		die("sqlite: cannot switch to WAL");
	sqlite3_finalize(jm);
	sq_sync(q, durable);
	sq_exec(q->db, "PRAGMA cache_size=-262144"); /* 256 MiB */
	if (create) {
		for (size_t i = 0; i < sizeof sq_schema / sizeof *sq_schema; i++)
			sq_exec(q->db, sq_schema[i]);
		for (size_t i = 0; i < SQ_TASK_INDEXES; i++)
			sq_exec(q->db, sq_task_index[i]);
		sq_exec(q->db, SQ_TIMELINE_INDEX);
		sq_exec(q->db, SQ_NOTIF_INDEX);
	}
	q->begin = sq_prep(q->db, "BEGIN");
	q->commit = sq_prep(q->db, "COMMIT");
	q->ins_ev = sq_prep(q->db, "INSERT INTO events(seq, stream, type, at, "
				   "actor, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
	q->ins_task = sq_prep(q->db,
		"INSERT INTO tasks(id, title, type, status, due_at, assignee, "
		"link_type, link_id, created_at, updated_at, created_seq, "
		"deleted, doc, rev) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		"?9, ?10, 0, ?11, ?12)");
	q->ins_tl = sq_prep(q->db, "INSERT INTO timeline(record, seq, at, "
				   "actor, task, event, summary) "
				   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	q->ins_tag = sq_prep(q->db, "INSERT INTO task_tags(tag, task) "
				    "VALUES(?1, ?2)");
	q->ins_nt = sq_prep(q->db, "INSERT INTO notifications(member, seq, "
				   "task, read, at, by) "
				   "VALUES(?1, ?2, ?3, 0, ?4, ?5)");
	q->upd_task = sq_prep(q->db,
		"UPDATE tasks SET title = coalesce(?2, title), "
		"due_at = CASE WHEN ?3 IS NULL THEN due_at ELSE ?3 END, "
		"assignee = coalesce(?4, assignee), "
		"status = coalesce(?5, status), updated_at = ?6 WHERE id = ?1");
	q->list = sq_prep(q->db, SQ_LIST);
	q->timeline = sq_prep(q->db, SQ_TIMELINE);
	q->upcoming = sq_prep(q->db, SQ_UPCOMING);
	sqlite3_stmt *mx = sq_prep(q->db, "SELECT coalesce(max(seq), 0) "
					  "FROM events");
	if (sqlite3_step(mx) != SQLITE_ROW)
		die("sqlite max(seq): %s", sqlite3_errmsg(q->db));
	q->seq = (uint64_t)sqlite3_column_int64(mx, 0);
	sqlite3_finalize(mx);
	msgpack_sbuffer_init(&q->sb);
}

static void sq_close(sq *q)
{
	sqlite3_stmt *all[] = { q->begin, q->commit, q->ins_ev, q->ins_task,
				q->ins_tl, q->ins_nt, q->ins_tag, q->upd_task,
				q->list, q->timeline, q->upcoming };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		sqlite3_finalize(all[i]);
	if (sqlite3_close(q->db) != SQLITE_OK)
		die("sqlite close: %s", sqlite3_errmsg(q->db));
	msgpack_sbuffer_destroy(&q->sb);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* The task document: the same fields tasklog stores (times as ints). */
static void sq_pack_doc(sq *q, const spec *s, const char *idtext,
			const char *link_id, int64_t now, uint64_t seq)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(&q->sb);
	msgpack_packer_init(&pk, &q->sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 19);
	pk_str(&pk, "id");
	pk_str(&pk, idtext);
	pk_str(&pk, "title");
	pk_str(&pk, s->title);
	pk_str(&pk, "type");
	pk_str(&pk, type_tok[s->type]);
	pk_str(&pk, "status");
	pk_str(&pk, status_tok[s->status]);
	pk_str(&pk, "due_at");
	if (s->has_due)
		msgpack_pack_int64(&pk, s->due);
	else
		msgpack_pack_nil(&pk);
	pk_str(&pk, "assignee");
	if (s->assignee >= 0)
		pk_str(&pk, members[s->assignee]);
	else
		msgpack_pack_nil(&pk);
	pk_str(&pk, "notes");
	msgpack_pack_nil(&pk);
	pk_str(&pk, "link");
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "type");
	pk_str(&pk, entity_tok[s->link_type]);
	pk_str(&pk, "id");
	pk_str(&pk, link_id);
	pk_str(&pk, "created_at");
	msgpack_pack_int64(&pk, now);
	pk_str(&pk, "created_by");
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "id");
	pk_str(&pk, "admin");
	pk_str(&pk, "kind");
	pk_str(&pk, "user");
	pk_str(&pk, "updated_at");
	msgpack_pack_int64(&pk, now);
	pk_str(&pk, "completed_at");
	if (s->status == 3)
		msgpack_pack_int64(&pk, now);
	else
		msgpack_pack_nil(&pk);
	pk_str(&pk, "pipeline");
	msgpack_pack_nil(&pk);
	pk_str(&pk, "stage");
	msgpack_pack_nil(&pk);
	pk_str(&pk, "tags");
	msgpack_pack_array(&pk, s->tag >= 0 ? 1 : 0);
	if (s->tag >= 0)
		pk_str(&pk, tags[s->tag]);
	pk_str(&pk, "automation");
	msgpack_pack_nil(&pk);
	pk_str(&pk, "version");
	msgpack_pack_uint64(&pk, 1);
	pk_str(&pk, "deleted");
	msgpack_pack_false(&pk);
	pk_str(&pk, "created_seq");
	msgpack_pack_uint64(&pk, seq);
}

/* One task.add, as an application on SQLite does it: an id, the event
 * (data as JSON, so that SQL can read it), the task row with its
 * document, a timeline row with its summary, a notification when
 * assigned.  Titles are generated without characters JSON must escape. */
static void sq_add(sq *q, const spec *s, int64_t now, uint8_t id_out[16])
{
	uint8_t id[16];
	char idtext[37], link_id[16], record[48], due[40], json[512],
		summary[256];
	uint64_t seq = ++q->seq;
	int n;

	tl_uuid_v7(now, id);
	tl_uuid_format(id, idtext);
	snprintf(link_id, sizeof link_id, "%u", s->link_id);
	snprintf(record, sizeof record, "%s:%u", entity_tok[s->link_type],
		 s->link_id);
	char due_js[24] = "null", asg_js[40] = "null", tag_js[24] = "";
	if (s->has_due)
		snprintf(due_js, sizeof due_js, "%lld", (long long)s->due);
	if (s->assignee >= 0)
		snprintf(asg_js, sizeof asg_js, "\"%s\"", members[s->assignee]);
	if (s->tag >= 0)
		snprintf(tag_js, sizeof tag_js, "\"%s\"", tags[s->tag]);
	n = snprintf(json, sizeof json,
		     "{\"title\":\"%s\",\"type\":\"%s\",\"status\":\"%s\","
		     "\"due_at\":%s,\"assignee\":%s,\"notes\":null,"
		     "\"link\":{\"type\":\"%s\",\"id\":\"%s\"},"
		     "\"pipeline\":null,\"stage\":null,\"tags\":[%s]}",
		     s->title, type_tok[s->type], status_tok[s->status], due_js,
		     asg_js, entity_tok[s->link_type], link_id, tag_js);
	int m = snprintf(summary, sizeof summary, "Created %s \"%s\"",
			 type_tok[s->type], s->title);
	if (s->has_due) {
		tl_time_format(s->due, due);
		m += snprintf(summary + m, sizeof summary - (size_t)m,
			      " due %s", due);
	}
	if (s->assignee >= 0)
		m += snprintf(summary + m, sizeof summary - (size_t)m,
			      ", assigned to %s", members[s->assignee]);
	if (s->status)
		m += snprintf(summary + m, sizeof summary - (size_t)m,
			      ", status %s", status_tok[s->status]);
	if (s->tag >= 0)
		m += snprintf(summary + m, sizeof summary - (size_t)m,
			      ", tagged %s", tags[s->tag]);
	sq_pack_doc(q, s, idtext, link_id, now, seq);

	sqlite3_stmt *e = q->ins_ev;
	sqlite3_bind_int64(e, 1, (sqlite3_int64)seq);
	sqlite3_bind_blob(e, 2, id, 16, SQLITE_STATIC);
	sqlite3_bind_text(e, 3, "task.created", 12, SQLITE_STATIC);
	sqlite3_bind_int64(e, 4, now);
	sqlite3_bind_text(e, 5, "admin", 5, SQLITE_STATIC);
	sqlite3_bind_text(e, 6, json, n, SQLITE_STATIC);
	sq_done(q, e, "INSERT event");

	sqlite3_stmt *t = q->ins_task;
	sqlite3_bind_blob(t, 1, id, 16, SQLITE_STATIC);
	sqlite3_bind_text(t, 2, s->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(t, 3, type_tok[s->type], -1, SQLITE_STATIC);
	sqlite3_bind_text(t, 4, status_tok[s->status], -1, SQLITE_STATIC);
	if (s->has_due)
		sqlite3_bind_int64(t, 5, s->due);
	else
		sqlite3_bind_null(t, 5);
	if (s->assignee >= 0)
		sqlite3_bind_text(t, 6, members[s->assignee], -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(t, 6);
	sqlite3_bind_text(t, 7, entity_tok[s->link_type], -1, SQLITE_STATIC);
	sqlite3_bind_text(t, 8, link_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(t, 9, now);
	sqlite3_bind_int64(t, 10, (sqlite3_int64)seq);
	sqlite3_bind_blob(t, 11, q->sb.data, (int)q->sb.size, SQLITE_STATIC);
	uint8_t rev[16];
	for (int i = 0; i < 16; i++)
		rev[i] = (uint8_t)(id[15 - i] << 4 | id[15 - i] >> 4);
	sqlite3_bind_blob(t, 12, rev, 16, SQLITE_STATIC);
	sq_done(q, t, "INSERT task");

	sqlite3_stmt *l = q->ins_tl;
	sqlite3_bind_text(l, 1, record, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(l, 3, now);
	sqlite3_bind_text(l, 4, "admin", 5, SQLITE_STATIC);
	sqlite3_bind_blob(l, 5, id, 16, SQLITE_STATIC);
	sqlite3_bind_text(l, 6, "task.created", 12, SQLITE_STATIC);
	sqlite3_bind_text(l, 7, summary, m, SQLITE_STATIC);
	sq_done(q, l, "INSERT timeline");

	if (s->tag >= 0) {
		sqlite3_stmt *tg = q->ins_tag;
		sqlite3_bind_text(tg, 1, tags[s->tag], -1, SQLITE_STATIC);
		sqlite3_bind_blob(tg, 2, id, 16, SQLITE_STATIC);
		sq_done(q, tg, "INSERT tag");
	}
	if (s->assignee >= 0) {
		sqlite3_stmt *nt = q->ins_nt;
		sqlite3_bind_text(nt, 1, members[s->assignee], -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(nt, 2, (sqlite3_int64)seq);
		sqlite3_bind_blob(nt, 3, id, 16, SQLITE_STATIC);
		sqlite3_bind_int64(nt, 4, now);
		sqlite3_bind_text(nt, 5, "admin", 5, SQLITE_STATIC);
		sq_done(q, nt, "INSERT notification");
	}
	if (id_out)
		memcpy(id_out, id, 16);
}

static void sq_add_range(sq *q, size_t from, size_t n, size_t hot,
			 uint8_t (*ids)[16])
{
	spec s;
	for (size_t done = 0; done < n;) {
		size_t k = n - done < cfg.batch ? n - done : cfg.batch;
		int64_t now = tl_time_now();
		sq_done(q, q->begin, "BEGIN");
		for (size_t i = 0; i < k; i++) {
			gen_spec(from + done + i, hot, &s);
			sq_add(q, &s, now, ids ? ids[done + i] : NULL);
		}
		sq_done(q, q->commit, "COMMIT");
		done += k;
	}
}

/* The same changes as tl_fill_log, as an application on SQLite makes
 * them (not measured): event, task row, timeline row, notification. */
/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void sq_fill_log(sq *q, const uint8_t (*ids)[16], size_t ntasks,
			size_t hot, uint64_t target)
{
	uint64_t j = 0;
	upd u;
	spec s;
	char json[256], summary[256], record[48], due[40];
	while (q->seq < target) {
		int64_t now = tl_time_now();
		sq_done(q, q->begin, "BEGIN");
		for (size_t i = 0; i < cfg.batch && q->seq < target; i++, j++) {
			const char *type;
			int n, m;
			uint64_t seq = ++q->seq;
			gen_upd(j, ntasks, &u);
			gen_spec(u.task, hot, &s);
			record_text((size_t)(s.link_id - 1) * 4 +
					    (size_t)s.link_type,
				    record, sizeof record);
			sqlite3_stmt *t = q->upd_task;
			sqlite3_bind_blob(t, 1, ids[u.task], 16, SQLITE_STATIC);
			for (int p = 2; p <= 5; p++)
				sqlite3_bind_null(t, p);
			sqlite3_bind_int64(t, 6, now);
			switch (u.kind) {
			case U_DUE:
				type = "task.updated";
				n = snprintf(json, sizeof json,
					     "{\"changes\":{\"due_at\":%lld}}",
					     (long long)u.due);
				tl_time_format(u.due, due);
				m = snprintf(summary, sizeof summary,
					     "Changed due to %s", due);
				sqlite3_bind_int64(t, 3, u.due);
				break;
			case U_TITLE:
				type = "task.updated";
				n = snprintf(json, sizeof json,
					     "{\"changes\":{\"title\":\"%s\"}}",
					     u.title);
				m = snprintf(summary, sizeof summary,
					     "Changed title to \"%s\"", u.title);
				sqlite3_bind_text(t, 2, u.title, -1,
						  SQLITE_STATIC);
				break;
			case U_ASSIGN:
				type = "task.assigned";
				n = snprintf(json, sizeof json,
					     "{\"assignee\":\"%s\"}",
					     members[u.member]);
				m = snprintf(summary, sizeof summary,
					     "Assigned to %s", members[u.member]);
				sqlite3_bind_text(t, 4, members[u.member], -1,
						  SQLITE_STATIC);
				break;
			case U_STATUS:
				type = "task.status_changed";
				n = snprintf(json, sizeof json,
					     "{\"status\":\"%s\"}",
					     status_tok[u.status]);
				m = snprintf(summary, sizeof summary,
					     "Status \xe2\x86\x92 %s",
					     status_tok[u.status]);
				sqlite3_bind_text(t, 5, status_tok[u.status],
						  -1, SQLITE_STATIC);
				break;
			default:
				type = "task.completed";
				n = snprintf(json, sizeof json,
					     "{\"status\":\"completed\"}");
				m = snprintf(summary, sizeof summary,
					     "Completed");
				sqlite3_bind_text(t, 5, "completed", -1,
						  SQLITE_STATIC);
				break;
			}
			sq_done(q, t, "UPDATE task");
			sqlite3_stmt *e = q->ins_ev;
			sqlite3_bind_int64(e, 1, (sqlite3_int64)seq);
			sqlite3_bind_blob(e, 2, ids[u.task], 16, SQLITE_STATIC);
			sqlite3_bind_text(e, 3, type, -1, SQLITE_STATIC);
			sqlite3_bind_int64(e, 4, now);
			sqlite3_bind_text(e, 5, "admin", 5, SQLITE_STATIC);
			sqlite3_bind_text(e, 6, json, n, SQLITE_STATIC);
			sq_done(q, e, "INSERT event");
			sqlite3_stmt *l = q->ins_tl;
			sqlite3_bind_text(l, 1, record, -1, SQLITE_STATIC);
			sqlite3_bind_int64(l, 2, (sqlite3_int64)seq);
			sqlite3_bind_int64(l, 3, now);
			sqlite3_bind_text(l, 4, "admin", 5, SQLITE_STATIC);
			sqlite3_bind_blob(l, 5, ids[u.task], 16, SQLITE_STATIC);
			sqlite3_bind_text(l, 6, type, -1, SQLITE_STATIC);
			sqlite3_bind_text(l, 7, summary, m, SQLITE_STATIC);
			sq_done(q, l, "INSERT timeline");
			if (u.kind == U_ASSIGN) {
				sqlite3_stmt *nt = q->ins_nt;
				sqlite3_bind_text(nt, 1, members[u.member], -1,
						  SQLITE_STATIC);
				sqlite3_bind_int64(nt, 2, (sqlite3_int64)seq);
				sqlite3_bind_blob(nt, 3, ids[u.task], 16,
						  SQLITE_STATIC);
				sqlite3_bind_int64(nt, 4, now);
				sqlite3_bind_text(nt, 5, "admin", 5,
						  SQLITE_STATIC);
				sq_done(q, nt, "INSERT notification");
			}
		}
		sq_done(q, q->commit, "COMMIT");
	}
}

/* SQLite's closest equivalent of rebuilding every view: re-create the
 * derived indexes of tasks, and the timeline and notifications tables with
 * their indexes from the events, in one durable transaction, then
 * checkpoint the WAL into the database. */
static const char *const sq_rebuild_sql[] = {
	"DELETE FROM timeline",
	"DROP INDEX timeline_record",
	"INSERT INTO timeline(record, seq, at, actor, task, event, summary) "
	"SELECT t.link_type || ':' || t.link_id, e.seq, e.at, e.actor, "
	"e.stream, e.type, CASE e.type "
	"WHEN 'task.created' THEN 'Created ' || json_extract(e.data, '$.type') "
	"|| ' \"' || json_extract(e.data, '$.title') || '\"' || coalesce(' due ' "
	"|| strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(e.data, '$.due_at') "
	"/ 1000.0, 'unixepoch'), '') || coalesce(', assigned to ' || "
	"json_extract(e.data, '$.assignee'), '') "
	"WHEN 'task.updated' THEN CASE WHEN json_extract(e.data, "
	"'$.changes.due_at') IS NOT NULL THEN 'Changed due to ' || "
	"strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(e.data, "
	"'$.changes.due_at') / 1000.0, 'unixepoch') ELSE 'Changed title to \"' "
	"|| json_extract(e.data, '$.changes.title') || '\"' END "
	"WHEN 'task.assigned' THEN 'Assigned to ' || json_extract(e.data, "
	"'$.assignee') "
	"WHEN 'task.status_changed' THEN 'Status \xe2\x86\x92 ' || "
	"json_extract(e.data, '$.status') "
	"WHEN 'task.completed' THEN 'Completed' ELSE e.type END "
	"FROM events e JOIN tasks t ON t.id = e.stream "
	"WHERE e.type LIKE 'task.%' ORDER BY e.seq",
	SQ_TIMELINE_INDEX,
	"DELETE FROM notifications",
	"DROP INDEX notifications_member",
	"INSERT INTO notifications(member, seq, task, read, at, by) "
	"SELECT json_extract(data, '$.assignee'), seq, stream, 0, at, actor "
	"FROM events WHERE type IN ('task.created', 'task.assigned') AND "
	"json_extract(data, '$.assignee') IS NOT NULL AND "
	"json_extract(data, '$.assignee') <> actor ORDER BY seq",
	SQ_NOTIF_INDEX,
	/* the tags: those of task.created, as this benchmark tags tasks */
	"DELETE FROM task_tags",
	"INSERT INTO task_tags(tag, task) SELECT j.value, e.stream FROM "
	"events e, json_each(e.data, '$.tags') j WHERE e.type = "
	"'task.created' ORDER BY 1, 2",
};

static void sq_rebuild(sq *q)
{
	sq_exec(q->db, "BEGIN");
	for (size_t i = 0; i < SQ_TASK_INDEXES; i++)
		sq_exec(q->db, sq_task_index_drop[i]);
	for (size_t i = 0; i < SQ_TASK_INDEXES; i++)
		sq_exec(q->db, sq_task_index[i]);
	for (size_t i = 0; i < sizeof sq_rebuild_sql / sizeof *sq_rebuild_sql;
	     i++)
		sq_exec(q->db, sq_rebuild_sql[i]);
	sq_exec(q->db, "COMMIT");
	sq_exec(q->db, "PRAGMA wal_checkpoint(TRUNCATE)");
}

/* The query plan of a statement, one line per step, into buf. */
static void sq_plan(sq *q, const char *sql, char *buf, size_t cap)
{
	char ex[1024];
	size_t o = 0;
	snprintf(ex, sizeof ex, "EXPLAIN QUERY PLAN %s", sql);
	sqlite3_stmt *st = sq_prep(q->db, ex);
	buf[0] = 0;
	while (sqlite3_step(st) == SQLITE_ROW && o + 4 < cap) {
		const char *d = (const char *)sqlite3_column_text(st, 3);
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "; " : "",
				      d ? d : "?");
	}
	sqlite3_finalize(st);
}

static uint64_t sq_files(const char *dir)
{
	char p[4200];
	uint64_t n = 0;
	snprintf(p, sizeof p, "%s/tasks.db", dir);
	n += file_size(p);
	snprintf(p, sizeof p, "%s/tasks.db-wal", dir);
	n += file_size(p);
	return n;
}

static uint64_t tl_files(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/data.mdb", dir);
	return file_size(p);
}

/* ---- queries ---------------------------------------------------------- */

typedef struct acc {
	size_t n;
	uint64_t sum;
} acc;

static int acc_doc(void *arg, const uint8_t *doc, size_t len)
{
	acc *a = arg;
	a->n++;
	a->sum += len + (len ? doc[len - 1] : 0);
	return 0;
}

static void sq_touch_col(sqlite3_stmt *st, int col, acc *a)
{
	int len = sqlite3_column_bytes(st, col);
	const uint8_t *p = sqlite3_column_blob(st, col);
	a->sum += (uint64_t)len + (p && len ? p[len - 1] : 0);
}

typedef struct qres {
	double p50, p99;
	double rows; /* mean rows per query */
	bool done;
} qres;

static qres qr[3][NQ][NSYS];
static char plan_list[512], plan_timeline[512], plan_upcoming[512];
static size_t q_hot[3];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define Q_ROUNDS 5

static int cmp_p99(const void *a, const void *b)
{
	double x = ((const qres *)a)->p99, y = ((const qres *)b)->p99;
	return (x > y) - (x < y);
}

static void pct(uint64_t *v, size_t n, size_t rows, qres *out)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i99 = (n * 99 + 99) / 100;
	out->p50 = (double)v[n / 2] / 1000.0;
	out->p99 = (double)v[(i99 ? i99 : 1) - 1] / 1000.0;
	out->rows = (double)rows / (double)n;
	out->done = true;
}

/* One query of kind k, X = member index or hot record number; returns
 * the rows seen. */
/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static size_t tl_query(tl_db *db, int k, size_t x)
{
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	char next[TL_CURSOR_MAX], rec[48];
	acc a = { 0, 0 };
	int rc;
	if (k == Q_LIST) {
		tl_slice who = tl_s(members[x]);
		tl_list_query q = { .assignees = &who, .assignees_len = 1,
				    .sort = tl_s("due"), .limit = PAGE };
		rc = tl_task_list(db, &ctx, &q, acc_doc, &a, next, &err);
	} else {
		char up_next[TL_CURSOR_MAX];
		record_text(x, rec, sizeof rec);
		tl_timeline_query tq = { .record = tl_s(rec), .limit = PAGE };
		rc = tl_timeline_page(db, &ctx, &tq,
				      q_upcoming(k) ? acc_doc : NULL, acc_doc,
				      &a, next, up_next, &err);
	}
	if (rc < 0)
		die("tasklog query: %s", err.message);
	return a.n;
}

static size_t sq_query(sq *q, int k, size_t x)
{
	acc a = { 0, 0 };
	char rec[48], id[24];
	int rc;
	if (k == Q_LIST) {
		sqlite3_stmt *st = q->list;
		sqlite3_bind_text(st, 1, members[x], -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			sq_touch_col(st, 0, &a);
			a.n++;
		}
		if (rc != SQLITE_DONE)
			die("sqlite list: %s", sqlite3_errmsg(q->db));
		sqlite3_reset(st);
		return a.n;
	}
	if (q_upcoming(k)) {
		sqlite3_stmt *st = q->upcoming;
		snprintf(id, sizeof id, "%zu", x / 4 + 1);
		sqlite3_bind_text(st, 1, entity_tok[x % 4], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			sq_touch_col(st, 0, &a);
			a.n++;
		}
		if (rc != SQLITE_DONE)
			die("sqlite upcoming: %s", sqlite3_errmsg(q->db));
		sqlite3_reset(st);
	}
	record_text(x, rec, sizeof rec);
	sqlite3_stmt *st = q->timeline;
	sqlite3_bind_text(st, 1, rec, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.sum += (uint64_t)sqlite3_column_int64(st, 0);
		for (int c = 1; c < 5; c++)
			sq_touch_col(st, c, &a);
		a.n++;
	}
	if (rc != SQLITE_DONE)
		die("sqlite timeline: %s", sqlite3_errmsg(q->db));
	sqlite3_reset(st);
	return a.n;
}

/* Measure every query kind on one system at size index si: the whole set
 * once to warm up, then each query timed. */
/* The workspaces the queries run on, one per size, open together so that
 * the sizes are measured in turns (see query_all). */
static tl_db *q_tl[3];
static sq q_small[2];  /* the SQLite databases of the two small sizes */
static sq *q_sq[3];    /* NULL: not open */

/* The X of query i of kind k at size si: a member, or a hot record. */
static size_t query_x(int si, int k, size_t i)
{
	rng r = { 0xabcdefull + (uint64_t)k * 7919 + i * 104729 };
	if (k == Q_LIST)
		return below(&r, N_MEMBERS);
	if (k == Q_TIMELINE_FIX || k == Q_TIMELINE_UP_FIX)
		return below(&r, (uint32_t)(q_hot[si] < FIXED_RECORDS
						    ? q_hot[si]
						    : FIXED_RECORDS));
	return below(&r, (uint32_t)q_hot[si]);
}

static size_t query_one(int si, int sys, int k, size_t x)
{
	return sys == SYS_TL ? tl_query(q_tl[si], k, x)
			     : sq_query(q_sq[si], k, x);
}

/* One round of every kind at size si: the queries once untimed (warm:
 * the other sizes ran in between), then timed. */
static void query_round(int si, int sys, qres out[NQ], uint64_t *lat)
{
	size_t n = cfg.queries;
	for (int k = 0; k < NQ; k++) {
		size_t rows = 0;
		for (size_t i = 0; i < n; i++)
			(void)query_one(si, sys, k, query_x(si, k, i));
		for (size_t i = 0; i < n; i++) {
			size_t x = query_x(si, k, i);
			uint64_t t0 = now_ns();
			rows += query_one(si, sys, k, x);
			lat[i] = now_ns() - t0;
		}
		pct(lat, n, rows, &out[k]);
	}
}

/* The host's own stalls: time taken from a running thread by others than
 * the queries (on the VMs measured so far, about 50 µs every millisecond:
 * the hypervisor's timer).  A page that runs T µs meets one with a
 * probability of about T / (the interval), so past 1 % its p99 is the
 * page plus a stall, whatever the page does.  Measured twice: a loop of
 * fixed work timed as a query is, at two lengths, and the clock read in
 * a tight loop, whose gaps are the stalls. */
#define STALL_MIN_NS 10000u /* a gap of the clock loop that counts */
#define STALL_SPIN_MS 300u
#define STALL_LOOPS 20000

typedef struct stall_probe {
	double us[2];             /* the fixed loops' p50 lengths */
	double p99[2];            /* and their p99s */
	size_t gaps;              /* stalls seen in STALL_SPIN_MS */
	double len_p50, len_p99;  /* their lengths, µs */
	double every_p50;         /* µs from one stall's start to the next */
	bool done;
} stall_probe;

static stall_probe host_stalls;

/* Spin about `iters` rounds of work the compiler cannot drop. */
__attribute__((noinline)) static uint64_t spin_work(uint64_t iters)
{
	volatile uint64_t x = 1;
	for (uint64_t i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + i;
	return x;
}

static void probe_stalls(stall_probe *s)
{
	static const double want_us[2] = { 5.0, 25.0 };
	uint64_t *lat = xmalloc(STALL_LOOPS * sizeof *lat);
	/* Calibrate: rounds per µs, from the fastest of a few tries. */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 50; i++) {
		uint64_t t0 = now_ns();
		(void)spin_work(100000);
		uint64_t d = now_ns() - t0;
		best = d < best ? d : best;
	}
	double per_us = 100000.0 * 1000.0 / (double)(best ? best : 1);
	for (int w = 0; w < 2; w++) {
		uint64_t iters = (uint64_t)(want_us[w] * per_us);
		qres r;
		for (size_t i = 0; i < STALL_LOOPS; i++) {
			uint64_t t0 = now_ns();
			(void)spin_work(iters);
			lat[i] = now_ns() - t0;
		}
		pct(lat, STALL_LOOPS, 0, &r);
		s->us[w] = r.p50;
		s->p99[w] = r.p99;
	}
	/* The clock loop: each gap over STALL_MIN_NS, its start and length. */
	size_t cap = STALL_LOOPS / 2, n = 0;
	uint64_t *len = lat, *start = lat + cap;
	uint64_t prev = now_ns(), end = prev + STALL_SPIN_MS * 1000000ull;
	for (uint64_t t = prev; t < end; prev = t) {
		t = now_ns();
		if (t - prev > STALL_MIN_NS && n < cap) {
			len[n] = t - prev;
			start[n++] = prev;
		}
	}
	s->gaps = n;
	if (n > 1) {
		for (size_t i = 0; i + 1 < n; i++)
			start[i] = start[i + 1] - start[i];
		qsort(start, n - 1, sizeof *start, cmp_u64);
		s->every_p50 = (double)start[(n - 1) / 2] / 1000.0;
	}
	if (n) {
		qsort(len, n, sizeof *len, cmp_u64);
		s->len_p50 = (double)len[n / 2] / 1000.0;
		s->len_p99 = (double)len[(n * 99 + 99) / 100 - 1] / 1000.0;
	}
	s->done = true;
	free(lat);
}

/* Every size's queries in Q_ROUNDS rounds taking the sizes in turns (10k,
 * 100k, 1M, 10k, ...), each warmed right before it is timed, so that a
 * spell of noise from other guests of the machine falls on every size
 * alike; the round with the median p99 is reported. */
static void query_all(void)
{
	static qres rounds[3][NSYS][Q_ROUNDS][NQ];
	uint64_t *lat = xmalloc(cfg.queries * sizeof *lat);
	sync(); /* the preloads' writeback finishes before we measure */
	for (int rd = 0; rd < Q_ROUNDS; rd++)
		for (int si = 0; si < 3; si++)
			for (int sys = 0; sys < NSYS; sys++)
				if (sys == SYS_TL ? q_tl[si] != NULL
						  : q_sq[si] != NULL)
					query_round(si, sys, rounds[si][sys][rd],
						    lat);
	for (int si = 0; si < 3; si++)
		for (int sys = 0; sys < NSYS; sys++) {
			if (sys == SYS_TL ? !q_tl[si] : !q_sq[si])
				continue;
			for (int k = 0; k < NQ; k++) {
				qres r[Q_ROUNDS];
				for (int rd = 0; rd < Q_ROUNDS; rd++)
					r[rd] = rounds[si][sys][rd][k];
				qsort(r, Q_ROUNDS, sizeof *r, cmp_p99);
				qr[si][k][sys] = r[Q_ROUNDS / 2];
				note("  %zu tasks %-8s %-48s p50 %7.1f us  p99 "
				     "%7.1f us  rows %.1f",
				     cfg.sizes[si], sys_name[sys], q_name[k],
				     qr[si][k][sys].p50, qr[si][k][sys].p99,
				     qr[si][k][sys].rows);
			}
		}
	free(lat);
	probe_stalls(&host_stalls);
	note("  host stalls: loops of %.1f / %.1f us p99 %.1f / %.1f us; "
	     "%zu gaps over %u us in %u ms, median %.1f us, every %.0f us",
	     host_stalls.us[0], host_stalls.us[1], host_stalls.p99[0],
	     host_stalls.p99[1], host_stalls.gaps, STALL_MIN_NS / 1000,
	     STALL_SPIN_MS, host_stalls.len_p50, host_stalls.every_p50);
}

/* Build workspaces of n tasks for both systems (durability off), reopen
 * them durable and measure the queries. */
static void query_size(int si, size_t n)
{
	char dir[4096];
	size_t hot = hot_records(n);
	q_hot[si] = hot;
	note("building the %zu-task workspaces (%zu hot records)", n, hot);
	if (cfg.sys[SYS_TL]) {
		snprintf(dir, sizeof dir, "%s/views-tl-%zu", data_dir, n);
		rm_rf(dir);
		tl_db *db = tl_open(dir, true);
		tl_setup(db);
		tl_add_range(db, 0, n, hot, NULL);
		tl_db_close(db);
		q_tl[si] = tl_open(dir, false);
	}
	if (cfg.sys[SYS_SQ]) {
		snprintf(dir, sizeof dir, "%s/views-sq-%zu", data_dir, n);
		rm_rf(dir);
		sq_open(&q_small[si], dir, true, false);
		sq_add_range(&q_small[si], 0, n, hot, NULL);
		sq_close(&q_small[si]);
		sq_open(&q_small[si], dir, false, true);
		q_sq[si] = &q_small[si];
	}
}

/* Close and remove the small workspaces once the queries ran. */
static void query_done(void)
{
	char dir[4096];
	for (int si = 0; si < 2; si++) {
		if (q_tl[si]) {
			tl_db_close(q_tl[si]);
			q_tl[si] = NULL;
			snprintf(dir, sizeof dir, "%s/views-tl-%zu", data_dir,
				 cfg.sizes[si]);
			if (!cfg.keep)
				rm_rf(dir);
		}
		if (q_sq[si]) {
			sq_close(q_sq[si]);
			q_sq[si] = NULL;
			snprintf(dir, sizeof dir, "%s/views-sq-%zu", data_dir,
				 cfg.sizes[si]);
			if (!cfg.keep)
				rm_rf(dir);
		}
	}
	q_tl[2] = NULL;
	q_sq[2] = NULL;
}

/* ---- ingest and rebuild ------------------------------------------------ */

typedef struct sample {
	double wall, cpu;
	uint64_t written;
	uint64_t n;
} sample;

static sample ing[MAXRUNS][NSYS], reb[MAXRUNS][NSYS];
static int ing_runs, reb_runs;
static double preload_s[NSYS], fill_s[NSYS];
static uint64_t big_file[NSYS], log_events[NSYS];
static uint64_t start_tasks[MAXRUNS];

/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void ingest_tl(tl_db *db, size_t from, size_t hot, sample *out)
{
	size_t n = cfg.ingest;
	cmdbuf *b = xmalloc(n * sizeof *b);
	tl_cmd *c = xmalloc(n * sizeof *c);
	tl_result *res = xmalloc(cfg.batch * sizeof *res);
	for (size_t i = 0; i < n; i++) {
		gen_spec(from + i, hot, &b[i].s);
		make_cmd(&b[i], &c[i]);
	}
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += cfg.batch) {
		size_t k = n - done < cfg.batch ? n - done : cfg.batch;
		tl_exec_batch(db, c + done, k, res, NULL);
	}
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->n = n;
	free(b);
	free(c);
	free(res);
}

/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void ingest_sq(sq *q, size_t from, size_t hot, sample *out)
{
	size_t n = cfg.ingest;
	spec *s = xmalloc(n * sizeof *s);
	for (size_t i = 0; i < n; i++)
		gen_spec(from + i, hot, &s[i]);
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	for (size_t done = 0; done < n; done += cfg.batch) {
		size_t k = n - done < cfg.batch ? n - done : cfg.batch;
		int64_t now = tl_time_now();
		sq_done(q, q->begin, "BEGIN");
		for (size_t i = 0; i < k; i++)
			sq_add(q, &s[done + i], now, NULL);
		sq_done(q, q->commit, "COMMIT");
	}
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->n = n;
	free(s);
}

/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void rebuild_tl(tl_db *db, sample *out)
{
	tl_ctx ctx = { 0 };
	tl_err err = { 0 };
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	if (tl_rebuild(db, &ctx, NULL, 0, NULL, NULL, &err))
		die("tl_rebuild: %s", err.message);
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->n = tl_seq;
}

/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void rebuild_sq(sq *q, sample *out)
{
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	sq_rebuild(q);
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->n = q->seq;
}

/* ---- the floor: bare LMDB with the least the views need ---------
 *
 * What any design that keeps the views issue 3 names as B-trees in one
 * LMDB environment writes at the least per task.add, measured in the same
 * run as tasklog's ingest: the event record appended under its seq, the
 * task's document under a time-ordered id (appended), and one entry in
 * each of four indexes, as dense as LMDB packs entries: fixed-size
 * duplicates of one key (MDB_DUPSORT | MDB_DUPFIXED: the entries sorted
 * in pages of their own, without a node header each), of the fewest
 * bytes that still sort as the views need:
 *
 *   assignee  hash(member or "") 8 | due 8 | seq 8   active tasks only
 *   due       due 8 | seq 8                           active tasks only
 *   record    hash(TYPE:ID) 8 | seq 8                 the per-entity index
 *   timeline  hash(TYPE:ID) 8 | ~seq 8                the record's history
 *                                                     (its lines read from
 *                                                     the events)
 *
 * Nothing else: no status, type or tag index, no documents covered by an
 * index, no notifications, no id index, no stream index, no validation or
 * encoding (fixed bytes of tasklog's sizes).  A design with these four
 * indexes as B-trees cannot ingest faster than this; a goal above it
 * needs keys that cluster (which random due dates and records do not) or
 * writes kept out of the B-trees until merged (a log-structured merge). */

#define FLOOR_EVENT 320 /* bytes: about tasklog's task.created record */
#define FLOOR_DOC 280   /* its task document */

typedef struct floor_db {
	MDB_env *env;
	MDB_dbi events, tasks, idx[4];
	uint64_t seq;
} floor_db;

static sample ing_floor[MAXRUNS];
static double preload_floor;

static void fl_ok(int rc, const char *what)
{
	if (rc)
		die("floor: %s: %s", what, mdb_strerror(rc));
}

static void floor_open(floor_db *f, const char *dir, bool durable)
{
	static const char *const names[4] = { "assignee", "due", "record",
					      "timeline" };
	MDB_txn *txn;
	mkdir_p(dir);
	fl_ok(mdb_env_create(&f->env), "env");
	fl_ok(mdb_env_set_maxdbs(f->env, 8), "maxdbs");
	fl_ok(mdb_env_set_mapsize(f->env, (size_t)16 << 30), "mapsize");
	fl_ok(mdb_env_open(f->env, dir, durable ? 0 : MDB_NOSYNC, 0644),
	      "open");
	fl_ok(mdb_txn_begin(f->env, NULL, 0, &txn), "begin");
	fl_ok(mdb_dbi_open(txn, "events", MDB_CREATE, &f->events), "events");
	fl_ok(mdb_dbi_open(txn, "tasks", MDB_CREATE, &f->tasks), "tasks");
	for (int i = 0; i < 4; i++)
		fl_ok(mdb_dbi_open(txn, names[i],
				   MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
				   &f->idx[i]),
		      names[i]);
	fl_ok(mdb_txn_commit(txn), "commit");
}

static void floor_close(floor_db *f)
{
	mdb_env_close(f->env);
	f->env = NULL;
}

/* big-endian: keys that sort as the numbers do */
static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void floor_put(MDB_txn *txn, MDB_dbi db, const uint8_t *k, size_t kn,
		      const void *v, size_t vn, unsigned flags)
{
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };
	fl_ok(mdb_put(txn, db, &key, &val, flags), "put");
}

/* One entry of an index: a fixed-size duplicate of its one key. */
static void floor_index(MDB_txn *txn, MDB_dbi db, const uint8_t *e, size_t n)
{
	floor_put(txn, db, (const uint8_t *)"x", 1, e, n, 0);
}

static void floor_add(floor_db *f, MDB_txn *txn, const spec *s)
{
	static const uint8_t event[FLOOR_EVENT], doc[FLOOR_DOC];
	uint64_t seq = ++f->seq;
	uint64_t due = s->has_due ? (uint64_t)s->due : UINT64_MAX;
	uint64_t member = mix64((uint64_t)(s->assignee + 1));
	uint64_t record = mix64(((uint64_t)s->link_type << 32 | s->link_id) ^
				0x7265636f7264ull);
	uint8_t e[24], id[16];
	bool active = s->status < 3;

	put_be64(e, seq);
	floor_put(txn, f->events, e, 8, event, sizeof event, MDB_APPEND);
	put_be64(id, seq); /* time-ordered, as UUIDv7 ids are */
	put_be64(id + 8, mix64(seq));
	floor_put(txn, f->tasks, id, 16, doc, sizeof doc, MDB_APPEND);
	if (active) {
		put_be64(e, member);
		put_be64(e + 8, due);
		put_be64(e + 16, seq);
		floor_index(txn, f->idx[0], e, 24);
		put_be64(e, due);
		put_be64(e + 8, seq);
		floor_index(txn, f->idx[1], e, 16);
	}
	put_be64(e, record);
	put_be64(e + 8, seq);
	floor_index(txn, f->idx[2], e, 16);
	put_be64(e + 8, ~seq);
	floor_index(txn, f->idx[3], e, 16);
}

static void floor_range(floor_db *f, size_t from, size_t n, size_t hot,
			size_t batch)
{
	for (size_t done = 0; done < n; done += batch) {
		size_t k = n - done < batch ? n - done : batch;
		MDB_txn *txn;
		spec s;
		fl_ok(mdb_txn_begin(f->env, NULL, 0, &txn), "begin");
		for (size_t i = 0; i < k; i++) {
			gen_spec(from + done + i, hot, &s);
			floor_add(f, txn, &s);
		}
		fl_ok(mdb_txn_commit(txn), "commit");
	}
}

/* noinline: a name for profilers (callgrind --toggle-collect) */
__attribute__((noinline)) static void ingest_floor(floor_db *f, size_t from,
						   size_t hot, sample *out)
{
	uint64_t w0 = io_written();
	double c0 = cpu_s(), t0 = now_s();
	floor_range(f, from, cfg.ingest, hot, cfg.batch);
	out->wall = now_s() - t0;
	out->cpu = cpu_s() - c0;
	out->written = io_written() - w0;
	out->n = cfg.ingest;
}

/* The big workspace: preload, queries at its size, ingest runs, fill the
 * log, rebuild runs. */
static void big_runs(void)
{
	char tdir[4096], sdir[4096];
	size_t big = cfg.big, hot = hot_records(big);
	uint8_t (*tl_ids)[16] = xcalloc(big, 16), (*sq_ids)[16] = xcalloc(big, 16);
	tl_db *db = NULL;
	sq q;
	double t0;

	char fdir[4096];
	floor_db fl = { 0 };
	snprintf(tdir, sizeof tdir, "%s/views-tl-big", data_dir);
	snprintf(sdir, sizeof sdir, "%s/views-sq-big", data_dir);
	snprintf(fdir, sizeof fdir, "%s/views-floor-big", data_dir);
	q_hot[2] = hot;
	if (cfg.sys[SYS_TL]) {
		rm_rf(tdir);
		note("tasklog: preloading %zu tasks (TL_OPEN_NOSYNC)", big);
		db = tl_open(tdir, true);
		t0 = now_s();
		tl_setup(db);
		tl_add_range(db, 0, big, hot, tl_ids);
		preload_s[SYS_TL] = now_s() - t0;
		tl_db_close(db);
		note("  %.1f s", preload_s[SYS_TL]);
		db = tl_open(tdir, false);
	}
	if (cfg.sys[SYS_SQ]) {
		rm_rf(sdir);
		note("SQLite: preloading %zu tasks (synchronous=OFF)", big);
		sq_open(&q, sdir, true, false);
		t0 = now_s();
		sq_add_range(&q, 0, big, hot, sq_ids);
		preload_s[SYS_SQ] = now_s() - t0;
		sq_close(&q);
		note("  %.1f s", preload_s[SYS_SQ]);
		sq_open(&q, sdir, false, true);
	}

	if (cfg.floor && cfg.do_ingest) {
		rm_rf(fdir);
		note("LMDB floor: preloading %zu tasks (MDB_NOSYNC)", big);
		floor_open(&fl, fdir, false);
		t0 = now_s();
		floor_range(&fl, 0, big, hot, cfg.batch);
		preload_floor = now_s() - t0;
		floor_close(&fl);
		note("  %.1f s", preload_floor);
		floor_open(&fl, fdir, true);
		fl.seq = big;
	}

	if (cfg.do_query) {
		note("queries at %zu, %zu and %zu tasks, in turns",
		     cfg.sizes[0], cfg.sizes[1], big);
		q_hot[2] = hot;
		q_tl[2] = db;
		if (cfg.sys[SYS_SQ]) {
			sq_plan(&q, SQ_LIST, plan_list, sizeof plan_list);
			sq_plan(&q, SQ_TIMELINE, plan_timeline,
				sizeof plan_timeline);
			sq_plan(&q, SQ_UPCOMING, plan_upcoming,
				sizeof plan_upcoming);
			q_sq[2] = &q;
		}
		query_all();
		query_done();
	}

	load_mid = loadavg();
	size_t next = big;
	if (cfg.do_ingest || cfg.do_rebuild) {
		for (int r = 0; r < cfg.runs && cfg.do_ingest; r++) {
			start_tasks[r] = next;
			note("ingest run %d: %zu task.add into %zu tasks, "
			     "batches of %zu, durable", r + 1, cfg.ingest, next,
			     cfg.batch);
			/* Each run starts with the other's writeback done. */
			if (db) {
				sync();
				ingest_tl(db, next, hot, &ing[r][SYS_TL]);
				note("  tasklog %.0f ev/s",
				     (double)cfg.ingest / ing[r][SYS_TL].wall);
			}
			if (cfg.sys[SYS_SQ]) {
				sync();
				ingest_sq(&q, next, hot, &ing[r][SYS_SQ]);
				note("  SQLite  %.0f ev/s",
				     (double)cfg.ingest / ing[r][SYS_SQ].wall);
			}
			if (fl.env) {
				sync();
				ingest_floor(&fl, next, hot, &ing_floor[r]);
				note("  floor   %.0f ev/s",
				     (double)cfg.ingest / ing_floor[r].wall);
			}
			next += cfg.ingest;
			ing_runs = r + 1;
		}
	}

	if (cfg.do_rebuild) {
		note("filling the logs up to %zu events with changes "
		     "(durability off)", cfg.log);
		if (db) {
			tl_db_close(db);
			db = tl_open(tdir, true);
			t0 = now_s();
			double c0 = cpu_s();
			tl_fill_log(db, (const uint8_t (*)[16])tl_ids, big,
				    cfg.log);
			fill_s[SYS_TL] = now_s() - t0;
			note("  tasklog %.1f s, CPU %.1f s", fill_s[SYS_TL],
			     cpu_s() - c0);
			tl_db_close(db);
			db = tl_open(tdir, false);
			log_events[SYS_TL] = tl_seq;
		}
		if (cfg.sys[SYS_SQ]) {
			sq_sync(&q, false);
			t0 = now_s();
			double c0 = cpu_s();
			sq_fill_log(&q, (const uint8_t (*)[16])sq_ids, big, hot,
				    cfg.log);
			fill_s[SYS_SQ] = now_s() - t0;
			note("  SQLite  %.1f s, CPU %.1f s", fill_s[SYS_SQ],
			     cpu_s() - c0);
			sq_sync(&q, true);
			log_events[SYS_SQ] = q.seq;
		}
		for (int r = 0; r < cfg.rebuild_runs; r++) {
			note("rebuild run %d", r + 1);
			if (db) {
				sync();
				rebuild_tl(db, &reb[r][SYS_TL]);
				note("  tasklog %.1f s, %.0f ev/s",
				     reb[r][SYS_TL].wall,
				     (double)reb[r][SYS_TL].n /
					     reb[r][SYS_TL].wall);
			}
			if (cfg.sys[SYS_SQ]) {
				sync();
				rebuild_sq(&q, &reb[r][SYS_SQ]);
				note("  SQLite  %.1f s, %.0f ev/s",
				     reb[r][SYS_SQ].wall,
				     (double)reb[r][SYS_SQ].n /
					     reb[r][SYS_SQ].wall);
			}
			reb_runs = r + 1;
		}
	}
	if (db) {
		tl_db_close(db);
		big_file[SYS_TL] = tl_files(tdir);
		if (!cfg.keep)
			rm_rf(tdir);
	}
	if (cfg.sys[SYS_SQ]) {
		sq_close(&q);
		big_file[SYS_SQ] = sq_files(sdir);
		if (!cfg.keep)
			rm_rf(sdir);
	}
	if (fl.env) {
		floor_close(&fl);
		if (!cfg.keep)
			rm_rf(fdir);
	}
	free(tl_ids);
	free(sq_ids);
}

/* ---- report ------------------------------------------------------------- */

typedef struct stat3 {
	double med, lo, hi, cpu_us, wb;
} stat3;

static stat3 rate_stats(sample (*s)[NSYS], int runs, int sys)
{
	double rate[MAXRUNS], cpu[MAXRUNS], wb[MAXRUNS];
	stat3 r = { 0, 0, 0, 0, 0 };
	if (!runs)
		return r;
	for (int i = 0; i < runs; i++) {
		rate[i] = (double)s[i][sys].n / s[i][sys].wall;
		cpu[i] = s[i][sys].cpu * 1e6 / (double)s[i][sys].n;
		wb[i] = (double)s[i][sys].written / (double)s[i][sys].n;
	}
	r.med = median(rate, runs);
	r.cpu_us = median(cpu, runs);
	r.wb = median(wb, runs);
	r.lo = r.hi = rate[0];
	for (int i = 1; i < runs; i++) {
		if (rate[i] < r.lo)
			r.lo = rate[i];
		if (rate[i] > r.hi)
			r.hi = rate[i];
	}
	return r;
}

static void profile_notes(FILE *f);

static void stall_report(FILE *f, const stall_probe *s);

static void report(FILE *f)
{
	char a[40], b[40], c[40], d[40], e[40];
	bool both = cfg.sys[SYS_TL] && cfg.sys[SYS_SQ];

	fprintf(f, "## Views: ingest, rebuild and queries against SQLite "
		   "(bench/bench_views.c)\n\n");
	if (cfg.quick)
		fprintf(f, "**Smoke run (`--quick`): small sizes, one run; "
			   "these figures mean nothing.**\n\n");
	fprintf(f,
		"tasklog opened with every view (`opts.views = tl_views_all()`: "
		"`tasks`, `timeline`, `notifications`) against SQLite %s with the "
		"tables and indexes a developer would write for the same "
		"screens, in the same process and run. Workload, the same task "
		"by task for both: %d members; 70 %% of tasks assigned; titles "
		"of 20-60 bytes; 10 types; statuses 60 %% todo, 10 %% in "
		"progress, 5 %% on hold, 20 %% completed, 5 %% cancelled; links "
		"to %s records of 4 entity types, plus 10 %% of tasks on a few "
		"hot records (tasks/2,000 of them, about 200 tasks each); due "
		"times spread over +-60 days, 10 %% without one; a tag on a "
		"third.\n\n",
		sqlite3_libversion(), N_MEMBERS, fmt_int((double)cfg.records, a));
	fprintf(f,
		"- **tasklog**: `tl_exec` with `task.add` commands as typed "
		"(every field validated, due times parsed from RFC 3339), "
		"default `tl_db_open` (fsync at every commit), 48 GiB map.\n"
		"- **SQLite**: WAL, `synchronous=FULL`, 256 MiB page cache, "
		"prepared statements; "
		"`events(seq INTEGER PRIMARY KEY, stream BLOB, type, at, actor, "
		"data)` with `data` as JSON (so that SQL can read it), "
		"`tasks(id BLOB PRIMARY KEY, title, type, status, due_at, "
		"assignee, link_type, link_id, created_at, updated_at, "
		"created_seq, deleted, doc BLOB, rev BLOB)` (`doc` = the "
		"msgpack task document, 19 fields like tasklog's; `rev` = "
		"the id's hex digits from the last, since 0.3.41, when "
		"tasklog indexed them), "
		"`timeline(record, seq, at, actor, task, event, summary)`, "
		"`notifications(member, seq, task, read, at, by)`, "
		"`task_tags(tag, task, PRIMARY KEY(tag, task)) WITHOUT ROWID` "
		"(since 0.3.16, when tasklog indexed tags); indexes "
		"`tasks(assignee, due_at IS NULL, due_at, created_seq) WHERE "
		"status IN (active) AND deleted = 0`, `tasks(link_type, "
		"link_id, due_at)`, `tasks(due_at)`, `tasks(status, due_at)`, "
		"`tasks(type, due_at)`, `tasks(rev)`, "
		"`timeline(record, seq DESC)`, "
		"`notifications(member, read, seq)`. Per `task.add` the "
		"application makes a UUIDv7, the JSON event, the msgpack "
		"document and the summary line, and runs INSERT event, INSERT "
		"task, INSERT timeline row, INSERT tag when tagged, and "
		"INSERT notification when assigned (it gets the values pre-parsed and validates "
		"nothing).\n"
		"- **Preloads are not measured and run with durability off**: "
		"tasklog with `TL_OPEN_NOSYNC`, SQLite with "
		"`synchronous=OFF`, both in batches of %s. Each database is "
		"then closed and reopened durable for what is measured.\n\n",
		fmt_int((double)cfg.batch, b));

	/* ---- ingest ---- */
	if (ing_runs) {
		stat3 t = rate_stats(ing, ing_runs, SYS_TL),
		      s = rate_stats(ing, ing_runs, SYS_SQ);
		double ratio = both && s.med > 0 ? t.med / s.med : 0;
		bool pass = t.med >= GOAL_INGEST_RATE &&
			    ratio >= GOAL_INGEST_VS_SQLITE;
		fprintf(f, "### Durable ingest with every view inline\n\n");
		fprintf(f,
			"%d run%s of %s `task.add` events in batches of %s (one "
			"durable commit each) into the workspace that held %s "
			"tasks after the preload; run k starts where run k-1 "
			"ended (%s",
			ing_runs, ing_runs > 1 ? "s" : "",
			fmt_int((double)cfg.ingest, a),
			fmt_int((double)cfg.batch, b),
			fmt_int((double)cfg.big, c),
			fmt_int((double)start_tasks[0], d));
		for (int r = 1; r < ing_runs; r++)
			fprintf(f, ", %s", fmt_int((double)start_tasks[r], d));
		fprintf(f, " tasks at the start), tasklog and SQLite "
			   "alternating, each run after `sync()` (so that it does "
			   "not pay for the other's writeback). events/s = events "
			   "/ wall time of the append loop; the median run is "
			   "shown.\n\n");
		fprintf(f, "| system | median events/s | min - max | CPU "
			   "µs/event | written/event | tasklog / SQLite | "
			   "goal |\n|---|---:|---:|---:|---:|---:|---|\n");
		for (int sys = 0; sys < NSYS; sys++) {
			if (!cfg.sys[sys])
				continue;
			stat3 x = sys == SYS_TL ? t : s;
			fprintf(f, "| %s | %s | %s - %s | %.2f | %s | ",
				sys_name[sys], fmt_int(x.med, a),
				fmt_int(x.lo, b), fmt_int(x.hi, c), x.cpu_us,
				fmt_bytes(x.wb, d));
			if (sys == SYS_TL && both)
				fprintf(f, "%.2fx | %s: >= %s ev/s %s, >= %.0fx "
					   "SQLite %s |\n",
					ratio, pass ? "PASS" : "MISS",
					fmt_int(GOAL_INGEST_RATE, e),
					t.med >= GOAL_INGEST_RATE ? "yes" : "no",
					GOAL_INGEST_VS_SQLITE,
					ratio >= GOAL_INGEST_VS_SQLITE ? "yes"
								       : "no");
			else
				fprintf(f, " | |\n");
		}
		stat3 fl = { 0, 0, 0, 0, 0 };
		if (cfg.floor) {
			sample tmp[MAXRUNS][NSYS];
			for (int r = 0; r < ing_runs; r++)
				tmp[r][0] = ing_floor[r];
			fl = rate_stats(tmp, ing_runs, 0);
			char ratio_fl[40] = "";
			if (cfg.sys[SYS_TL] && fl.med > 0)
				snprintf(ratio_fl, sizeof ratio_fl,
					 "tasklog / floor %.2fx", t.med / fl.med);
			fprintf(f, "| LMDB floor (below) | %s | %s - %s | %.2f | "
				   "%s | %s | the goal's %s ev/s %s the "
				   "floor |\n",
				fmt_int(fl.med, a), fmt_int(fl.lo, b),
				fmt_int(fl.hi, c), fl.cpu_us, fmt_bytes(fl.wb, d),
				ratio_fl, fmt_int(GOAL_INGEST_RATE, e),
				GOAL_INGEST_RATE > fl.med ? "above" : "within");
		}
		if (cfg.floor)
			fprintf(f,
				"\n**The floor** (since 0.3.46) is bare LMDB "
				"doing the least that any design keeping the "
				"issue's views as B-trees in LMDB must do per "
				"`task.add`, in the same runs (preloaded with "
				"the same %s tasks, `MDB_NOSYNC`, in %.1f s; "
				"then durable): the event record (%d bytes) "
				"appended under its seq, the task document (%d "
				"bytes) under a time-ordered id, appended, and "
				"one entry in each of four indexes, as dense as "
				"LMDB packs them (fixed-size duplicates of one "
				"key, `MDB_DUPSORT | MDB_DUPFIXED`, without a "
				"node header each), of the fewest bytes that "
				"still sort as the views need: assignee hash | "
				"due | seq and due | seq (active tasks only), "
				"record hash | seq (the per-entity index), record "
				"hash | ~seq (the timeline, its lines read from "
				"the events).  No status, type, tag "
				"or id index, no covered documents, no "
				"notifications, no stream index, no validation "
				"or encoding.  Its random keys (due times over "
				"+-60 days, records drawn at random) land on "
				"leaf pages all over each tree, and each commit "
				"rewrites every leaf it touched: %s written per "
				"event.  An ingest goal above the floor is out "
				"of reach of any such design: it needs keys "
				"that cluster, which this workload's do not, or "
				"writes kept out of the B-trees and merged into "
				"them later (a log-structured merge).\n",
				fmt_int((double)cfg.big, a), preload_floor,
				FLOOR_EVENT, FLOOR_DOC, fmt_bytes(fl.wb, b));
		fprintf(f, "\nCPU = user + system time of the process per "
			   "event; written = bytes handed to write(2) per "
			   "event (`wchar`: LMDB page writes; SQLite WAL and "
			   "checkpoint writes).\n\n");
	}

	/* ---- rebuild ---- */
	if (reb_runs) {
		stat3 t = rate_stats(reb, reb_runs, SYS_TL),
		      s = rate_stats(reb, reb_runs, SYS_SQ);
		double ratio = both && s.med > 0 ? t.med / s.med : 0;
		fprintf(f, "### Rebuild of every view\n\n");
		fprintf(f,
			"The log of the big workspace: the preload, the ingest "
			"runs, then changes to preloaded tasks (30 %% due "
			"date, 10 %% title, 25 %% assign, 20 %% status, 15 %% "
			"complete; no-ops are not logged) made with durability "
			"off until it held %s events (tasklog: %s events, "
			"SQLite: %s rows in `events`). %d run%s each, "
			"alternating, each after `sync()`.\n\n",
			fmt_int((double)cfg.log, a),
			fmt_int((double)log_events[SYS_TL], b),
			fmt_int((double)log_events[SYS_SQ], c), reb_runs,
			reb_runs > 1 ? "s" : "");
		fprintf(f,
			"- **tasklog**: `tl_rebuild(all views)` on the workspace "
			"opened durable (no `TL_OPEN_NOSYNC`): scans the whole "
			"log, folding tasks in memory, into a new generation of "
			"`tasks`, `timeline`, `notifications` and `ids` (as "
			"`engine/rebuild.c` does it: the `tasks` entries and the "
			"records' task indexes of each task's final state, "
			"`timeline`'s history entries made per event and "
			"`notifications` kept in memory per assignment, all "
			"collected, sorted and appended with `MDB_APPEND`), "
			"then switches in a durable commit and drops the old "
			"generation.\n"
			"- **SQLite**, the closest equivalent: in one durable "
			"transaction DROP and CREATE the 6 indexes of `tasks`; "
			"`DELETE FROM timeline`, DROP its index, `INSERT INTO "
			"timeline SELECT` over `events JOIN tasks` (record from "
			"the task row, summaries made in SQL from the JSON "
			"data: simpler lines than tasklog's, and no "
			"before/after fold), CREATE its index; the same for "
			"`notifications` (`json_extract` of the assignee); "
			"COMMIT, then `wal_checkpoint(TRUNCATE)`. It does not "
			"re-fold `tasks` from `events` (the table is its "
			"state), so it does less than tasklog.\n\n");
		fprintf(f, "| system | events | median s | median events/s | "
			   "min - max events/s | written/event | tasklog / "
			   "SQLite | goal |\n"
			   "|---|---:|---:|---:|---:|---:|---:|---|\n");
		for (int sys = 0; sys < NSYS; sys++) {
			if (!cfg.sys[sys])
				continue;
			stat3 x = sys == SYS_TL ? t : s;
			double secs[MAXRUNS];
			for (int r = 0; r < reb_runs; r++)
				secs[r] = reb[r][sys].wall;
			fprintf(f, "| %s | %s | %.1f | %s | %s - %s | %s | ",
				sys_name[sys],
				fmt_int((double)reb[0][sys].n, a),
				median(secs, reb_runs), fmt_int(x.med, b),
				fmt_int(x.lo, c), fmt_int(x.hi, d),
				fmt_bytes(x.wb, e));
			if (sys == SYS_TL)
				fprintf(f, "%s | %s: >= %s ev/s |\n",
					both ? (sprintf(a, "%.2fx", ratio), a)
					     : "",
					x.med >= GOAL_REBUILD_RATE ? "PASS"
								   : "MISS",
					fmt_int(GOAL_REBUILD_RATE, b));
			else
				fprintf(f, " | |\n");
		}
		fprintf(f, "\n");
	}

	/* ---- queries ---- */
	if (cfg.do_query) {
		fprintf(f, "### Query latency\n\n");
		fprintf(f,
			"Warm, in-process, one query at a time, after `sync()` "
			"(so that the writeback of the preload does not run "
			"meanwhile): %s queries of "
			"each kind per size, each timed after the same %s ran "
			"untimed, in 5 rounds, the three sizes taking turns "
			"round by round; the round with the median p99 is shown (a "
			"spell of noise from other guests of this shared "
			"machine would otherwise decide a size); "
			"latency = wall time of the call (tasklog: "
			"`tl_task_list` / `tl_timeline` including its read "
			"transaction and actor check, documents handed to a "
			"callback; SQLite: bind, step through the rows reading "
			"every column, reset). X cycles over the %d members "
			"(each holds 70 %%/%d of the tasks); RECORD over the "
			"hot records (tasks/2,000 of them, at least 8; about "
			"200 tasks each, 125 at 10,000 tasks, so every page is "
			"full), or, in the rows \"the same 5 records\", over "
			"the hot records 0 to 4 at every size (the same "
			"working set, so that only the data outside the pages "
			"grows). Workspaces of %s and %s tasks are built for "
			"this (durability off), then reopened; %s is the big "
			"workspace right after its preload.\n\n",
			fmt_int((double)cfg.queries, a),
			fmt_int((double)cfg.queries, b), N_MEMBERS, N_MEMBERS,
			fmt_int((double)cfg.sizes[0], c),
			fmt_int((double)cfg.sizes[1], d),
			fmt_int((double)cfg.sizes[2], e));
		fprintf(f, "- tasklog: `task list`: `tl_list_query{assignees "
			   "= {X}, sort = \"due\", limit = 50}` (active "
			   "tasks); timeline: `tl_timeline_page(RECORD, "
			   "limit 50)` without, then with, its upcoming part "
			   "(`upcoming_fn`: at most 50 tasks, as `tasklog "
			   "timeline` shows since 0.3.50; up to 0.3.49 every "
			   "one, 133 to 188 rows).\n");
		fprintf(f, "- SQLite: `%s`; `%s`; with upcoming, first `%s`.\n",
			SQ_LIST, SQ_TIMELINE, SQ_UPCOMING);
		if (plan_list[0])
			fprintf(f, "- SQLite plans (at %s tasks): list: %s; "
				   "timeline: %s; upcoming: %s.\n",
				fmt_int((double)cfg.sizes[2], a), plan_list,
				plan_timeline, plan_upcoming);
		fprintf(f, "\n| query | tasks | rows | tasklog p50 µs | "
			   "tasklog p99 µs | SQLite p50 µs | SQLite p99 µs | "
			   "SQLite / tasklog p99 | goal |\n"
			   "|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
		for (int k = 0; k < NQ; k++) {
			double lo = 0, hi = 0;
			bool all_fast = true, have = false;
			for (int si = 0; si < 3; si++) {
				qres *t = &qr[si][k][SYS_TL];
				if (!t->done)
					continue;
				if (!have || t->p99 < lo)
					lo = t->p99;
				if (!have || t->p99 > hi)
					hi = t->p99;
				have = true;
				all_fast &= t->p99 < GOAL_P99_US;
			}
			double flat = have && lo > 0 ? hi / lo : 0;
			bool is_flat = have && (flat <= GOAL_FLAT ||
						hi - lo <= GOAL_FLAT_US);
			for (int si = 0; si < 3; si++) {
				qres *t = &qr[si][k][SYS_TL],
				     *s = &qr[si][k][SYS_SQ];
				fprintf(f, "| %s | %s | %.0f | ",
					si == 0 ? q_name[k] : "",
					fmt_int((double)cfg.sizes[si], a),
					t->done ? t->rows : s->rows);
				if (t->done)
					fprintf(f, "%.1f | %.1f | ", t->p50,
						t->p99);
				else
					fprintf(f, "- | - | ");
				if (s->done)
					fprintf(f, "%.1f | %.1f | ", s->p50,
						s->p99);
				else
					fprintf(f, "- | - | ");
				if (t->done && s->done)
					fprintf(f, "%.2fx | ", s->p99 / t->p99);
				else
					fprintf(f, "- | ");
				/* Every query, the timeline's first page
				 * (upcoming and history) too: the page a
				 * record's screen opens with. */
				if (si == 2 && have)
					fprintf(f, "%s: p99 < %.0f µs %s; "
						   "flat %s (p99 max/min %.2f, "
						   "max - min %.1f µs) |\n",
						all_fast && is_flat ? "PASS"
								    : "MISS",
						GOAL_P99_US,
						all_fast ? "yes" : "no",
						is_flat ? "yes" : "no", flat,
						hi - lo);
				else
					fprintf(f, " |\n");
			}
		}
		fprintf(f, "\nGoals: p99 under %.0f µs at every size, and "
			   "flat across sizes, taken here as: the largest p99 "
			   "of the three sizes at most %.1fx the smallest, or "
			   "at most %.0f µs above it (below that, the ratio "
			   "measures timer and scheduler noise).\n\n",
			GOAL_P99_US, GOAL_FLAT, GOAL_FLAT_US);
		if (host_stalls.done)
			stall_report(f, &host_stalls);
	}

	if (ing_runs || reb_runs) {
		fprintf(f, "Preload of the big workspace (%s tasks, durability "
			   "off, not a goal): tasklog %.1f s (%s tasks/s), "
			   "SQLite %.1f s (%s tasks/s). ",
			fmt_int((double)cfg.big, a), preload_s[SYS_TL],
			fmt_int(preload_s[SYS_TL] > 0
					? (double)cfg.big / preload_s[SYS_TL] : 0,
				b),
			preload_s[SYS_SQ],
			fmt_int(preload_s[SYS_SQ] > 0
					? (double)cfg.big / preload_s[SYS_SQ] : 0,
				c));
		if (reb_runs)
			fprintf(f, "Filling the log with changes: tasklog "
				   "%.1f s, SQLite %.1f s. ",
				fill_s[SYS_TL], fill_s[SYS_SQ]);
		fprintf(f, "Files at the end: tasklog %s, SQLite %s.\n",
			fmt_bytes((double)big_file[SYS_TL], a),
			fmt_bytes((double)big_file[SYS_SQ], b));
	}
	fprintf(f, "\nLoad average (1 min) at the start, after the "
		   "preloads and at the end of this run: %.2f, %.2f, %.2f "
		   "(on %ld CPUs; the benchmark's own is about 1, more "
		   "while its batches hash their chains on a second thread "
		   "or a rebuild runs its own; well above that, other "
		   "processes ran).\n\n",
		load_start, load_mid, load_end, sysconf(_SC_NPROCESSORS_ONLN));
	if (!cfg.quick)
		profile_notes(f);
}

/* What the host took from the queries, measured right after them. */
static void stall_report(FILE *f, const stall_probe *s)
{
	fprintf(f, "**The host's own stalls**, measured right after the "
		   "queries (`probe_stalls`): a loop of fixed work, timed "
		   "as a query is, %d times: %.1f µs at p50, %.1f at p99; "
		   "the same loop %.1f µs at p50, %.1f at p99.  Reading the "
		   "clock in a tight loop for %u ms saw %zu gaps over %u µs",
		STALL_LOOPS, s->us[0], s->p99[0], s->us[1], s->p99[1],
		STALL_SPIN_MS, s->gaps, STALL_MIN_NS / 1000);
	if (s->gaps > 1)
		fprintf(f, " (median %.1f µs, p99 %.1f; one about every "
			   "%.0f µs, median)",
			s->len_p50, s->len_p99, s->every_p50);
	else if (s->gaps == 1)
		fprintf(f, " (%.1f µs)", s->len_p50);
	fprintf(f, ": time the thread did not run, whatever it ran.  A "
		   "page that takes T µs meets such a stall with a "
		   "probability of about T over that interval; once that "
		   "passes 1 %%, the page's p99 is its own time plus a "
		   "stall, for both systems.\n\n");
}

/* Where the time goes: figures of this run, and the shares of profiles
 * taken when this benchmark was written (not re-measured by each run). */
static void profile_notes(FILE *f)
{
	char a[40], b[40];
	stat3 t = rate_stats(ing, ing_runs, SYS_TL),
	      r = rate_stats(reb, reb_runs, SYS_TL);

	fprintf(f, "### Where the time goes\n\n");
	fprintf(f,
		"Shares below are from profiles taken when this benchmark was "
		"last changed (engine at commits 6ae0f8f to ac38dc5; 2 vCPU), "
		"not re-measured by each run: `perf record --call-graph dwarf` "
		"of `bench_views --only ingest --scale 0.5` (samples under "
		"`ingest_tl` only) and of `tasklog rebuild` on the log of a "
		"`--scale 0.25` run (500,000 events); on-CPU time only. To "
		"refresh them, run the same.\n\n");
	if (ing_runs && cfg.sys[SYS_TL])
		fprintf(f,
			"- **Ingest** (this run: %.0f µs wall, %.0f µs CPU and %s "
			"written per event). On-CPU: the commit 41 %% (`pwrite` "
			"and `writev` of the dirty pages 21 %%, writeback inside "
			"`fdatasync` 17 %%), the views' writes made at commit, "
			"sorted by key, 29 %% (nearly all `mdb_cursor_put` into "
			"pages that are not yet dirty), collecting them and the "
			"`notifications` view's direct puts 10 %%, the log append "
			"5 %%, fold 3 %%, hashing 2.5 %%, packing 2 %%. The bytes "
			"written are the cause: per `task.add` the views put 9 "
			"keys in `tasks` (S, M (D for a done task, since view "
			"9) and K, the kind: status, type "
			"and entity type, with three sorts each, M's due "
			"entry with the task's document; K since view 6, its "
			"updated sort since view 7; and 3 more per tag, G since "
			"view 8, a third of these tasks having one; the "
			"created and updated sorts cluster at the front of their "
			"ranges, the due sorts (three, and G's) land at random places), in "
			"`timeline` one history entry and the record's created-"
			"and updated-order keys (a done task's three, since "
			"view 8) under the record's hash, so on one page, and "
			"an active task's covered due entry in `due` (another "
			"page of the "
			"record), and 2 notification entries that cluster per "
			"member and per task: about 5 random leaf pages per "
			"event (3 before timeline view 4, 4 before tasks view 6), which a "
			"batch of 10,000 events among a million tasks rarely "
			"shares, each rewritten whole (4 KiB) at the commit. "
			"SQLite pays the same for its 6 index entries per task "
			"(plus timeline and notification rows). 100,000 events/s "
			"is a budget of 10 µs and about 4 KiB of page writes per "
			"event at this disk's rate: one random page.\n",
			1e6 / t.med, t.cpu_us, fmt_bytes(t.wb, a));
	if (reb_runs && cfg.sys[SYS_TL])
		fprintf(f,
			"- **Rebuild** (this run: %.1f µs and %s written per "
			"event). Phases of `tasklog rebuild` on a workspace of "
			"2,000,000 events and 1,000,000 tasks made by this "
			"benchmark (timestamps added by hand at commit 7315d97; "
			"9.0 s in all): the scan 3.1 s on both cores (a second "
			"thread decodes events ahead of the fold, which folds "
			"tasks, makes `timeline` entries and their summaries and "
			"keeps the task map); then 5.5 s to load, sort and "
			"write the sinks. Loads (the `tasks` view's 0.7 s in "
			"the second thread; `timeline`'s record index 0.2 s and "
			"`notifications`' `bulk_end` 0.4 s on the first) and "
			"sorts (0.4 s on the first, 1.0 s on the second) now "
			"overlap with the writes, which stay on one thread (one "
			"LMDB write transaction): 4.4 s of sorted appends with "
			"`MDB_APPEND` (about 1.3 GB), of which 1.4 s is spent "
			"in the fdatasync of twenty 64 MiB durable commits. "
			"This run's workspace also holds the ingest runs' "
			"600,000 tasks, and its rebuild drops an old generation "
			"of the views.\n",
			r.med > 0 ? 1e6 / r.med : 0, fmt_bytes(r.wb, b));
	if (cfg.do_query && cfg.sys[SYS_TL])
		fprintf(f,
			"- **task list** (this run at %s tasks: p50 %.0f µs). "
			"The M due range of the assignee holds only its active "
			"tasks, soonest first, each entry carrying the task's "
			"document (the covered range), so a page of 50 is one "
			"cursor walk over about 50 entries and reads no document "
			"by id: the same work at every size. (Before the covered "
			"range, the 50 look-ups by id missed the CPU caches at a "
			"million tasks and made the p99 grow 2x from 10,000.) "
			"SQLite walks its partial index in order and reads 50 "
			"rows by rowid.\n"
			"- **timeline**. The history page is one cursor walk "
			"(this run at %s tasks: p50 %.1f µs, SQLite %.1f µs). "
			"Its upcoming part (timeline view 4) walks the record's "
			"covered due range, in a database of its own, whose "
			"entries carry the documents, and checks only each "
			"link field: no document is read by id (view 3 read "
			"up to 50 by id, and the first page took 86 µs p50 at "
			"a million tasks against 25 at ten thousand). What "
			"still grows with the workspace is the cache misses "
			"of more records' pages: the first rows cycle over "
			"tasks/2,000 hot records, so their working set grows "
			"with the workspace. Over the same 5 records at every "
			"size the first page took p99 %.1f / %.1f / %.1f µs "
			"and the history page %.1f / %.1f / %.1f µs: what is "
			"left is the data outside the page.\n\n",
			fmt_int((double)cfg.sizes[2], a),
			qr[2][Q_LIST][SYS_TL].p50, fmt_int((double)cfg.sizes[2], b),
			qr[2][Q_TIMELINE][SYS_TL].p50,
			qr[2][Q_TIMELINE][SYS_SQ].p50,
			qr[0][Q_TIMELINE_UP_FIX][SYS_TL].p99,
			qr[1][Q_TIMELINE_UP_FIX][SYS_TL].p99,
			qr[2][Q_TIMELINE_UP_FIX][SYS_TL].p99,
			qr[0][Q_TIMELINE_FIX][SYS_TL].p99,
			qr[1][Q_TIMELINE_FIX][SYS_TL].p99,
			qr[2][Q_TIMELINE_FIX][SYS_TL].p99);
	fprintf(f,
		"**What would move the figures** (not done here):\n\n"
		"1. *Ingest: take the random page writes out of the append "
		"transaction.* Each view's sorted deferred writes already go "
		"in at commit; the next step is to keep them in a small delta "
		"database per view (its pages stay few and dirty together) "
		"and merge the deltas into the main indexes in large sorted "
		"batches, with queries merging delta and main (a log-"
		"structured merge). One level does not pay at these sizes: "
		"the merge rewrites most main pages anyway; it needs levels "
		"growing about 10x each. Smaller steps: `MDB_DUPSORT | "
		"MDB_DUPFIXED` for S and M (fixed 44-byte duplicates under a "
		"10-byte key pack about 1.5x denser, about 20 %% fewer pages "
		"per batch for those ranges). Not `MDB_WRITEMAP`: it saves "
		"LMDB's page copies and `pwrite`s, but it allows no nested "
		"transaction (group commit runs one per request), and tried "
		"on this ingest (0.3.47, every transaction in one piece, "
		"`--scale 0.25`, 3 A/B pairs beside other work) it was slower "
		"in every pair, 14 to 47 %% (not analysed further).\n"
		"2. *Rebuild: the write phase.* The scan uses both cores "
		"(about 1.5 µs per event); loads and sorts overlap with the "
		"writes; the writes themselves (about 1.3 GB of sorted "
		"appends) are left on one thread, about 2.2 µs per event "
		"with their fsyncs. 500,000 events/s is 2 µs per event for "
		"all of it: it would need far fewer bytes written (fewer "
		"or smaller index entries: the covered range's documents, "
		"which keep `task list` flat, are about a fifth of them) "
		"and the scan overlapped with the writes of views that "
		"need no final state (`timeline`'s history).\n"
		"3. *The price of the timeline's covered due range* "
		"(view 4): an event of an active task also rewrites its "
		"record's page in `due`, about 3 KB more written per "
		"ingested event and 120 B more per rebuilt event; A/B "
		"runs against view 3 in the same hour: ingest 6-19 %% "
		"slower, rebuild 14 %% slower. Kept beside the history "
		"(view 3's first try) the documents made a history page "
		"at a million tasks twice as slow.\n"
		"4. *The price of the view `ids`* (0.3.41: a task found by "
		"the end of its id with one seek): one random leaf write "
		"per created task, 26.4 -> 29.3 KB written per ingested "
		"event in an A/B run; SQLite's `tasks(rev)` index pays "
		"its own. Its ids as fixed-size duplicates of one key "
		"(255 to a page instead of 156) would write about a "
		"third less of it.\n\n");
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: bench_views [--quick] [--runs R] "
			"[--rebuild-runs R] [--scale F] [--dir DIR] "
			"[--out FILE] [--only ingest|rebuild|query] "
			"[--no-sqlite] [--no-tasklog] [--no-floor] "
			"[--views LIST] [--keep]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *only = NULL;
	int runs = 0, rebuild_runs = 0;
	double scale = 1;

	cfg.sys[SYS_TL] = cfg.sys[SYS_SQ] = cfg.floor = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quick"))
			cfg.quick = true;
		else if (!strcmp(a, "--keep"))
			cfg.keep = true;
		else if (!strcmp(a, "--no-sqlite"))
			cfg.sys[SYS_SQ] = false;
		else if (!strcmp(a, "--no-tasklog"))
			cfg.sys[SYS_TL] = false;
		else if (!strcmp(a, "--no-floor"))
			cfg.floor = false;
		else if (!strcmp(a, "--views") && i + 1 < argc)
			views_arg = argv[++i];
		else if (!strcmp(a, "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(a, "--rebuild-runs") && i + 1 < argc)
			rebuild_runs = atoi(argv[++i]);
		else if (!strcmp(a, "--scale") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(a, "--dir") && i + 1 < argc)
			data_dir = argv[++i];
		else if (!strcmp(a, "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(a, "--only") && i + 1 < argc)
			only = argv[++i];
		else
			usage();
	}
	if (cfg.quick) {
		cfg.runs = 1;
		cfg.rebuild_runs = 1;
		cfg.big = 20000;
		cfg.ingest = 20000;
		cfg.batch = 10000;
		cfg.log = 60000;
		cfg.sizes[0] = 2000;
		cfg.sizes[1] = 5000;
		cfg.queries = 200;
		cfg.records = 4000;
	} else {
		cfg.runs = 3;
		cfg.rebuild_runs = 2;
		cfg.big = 1000000;
		cfg.ingest = 200000;
		cfg.batch = 10000;
		cfg.log = 2000000;
		cfg.sizes[0] = 10000;
		cfg.sizes[1] = 100000;
		cfg.queries = 2000;
		cfg.records = 200000;
	}
	if (scale <= 0 || scale > 10)
		die("--scale must be in (0, 10]");
	if (scale != 1) {
		cfg.big = (size_t)((double)cfg.big * scale);
		cfg.ingest = (size_t)((double)cfg.ingest * scale);
		cfg.log = (size_t)((double)cfg.log * scale);
		cfg.records = (size_t)((double)cfg.records * scale);
		for (int i = 0; i < 2; i++) {
			cfg.sizes[i] = (size_t)((double)cfg.sizes[i] * scale);
			if (cfg.sizes[i] < 1000)
				cfg.sizes[i] = 1000;
		}
		if (cfg.big < 1000 || cfg.ingest < 1 || cfg.records < 4)
			die("--scale %g is too small", scale);
	}
	cfg.sizes[2] = cfg.big;
	if (runs)
		cfg.runs = runs;
	if (rebuild_runs)
		cfg.rebuild_runs = rebuild_runs;
	if (cfg.runs < 1 || cfg.runs > MAXRUNS || cfg.rebuild_runs < 1 ||
	    cfg.rebuild_runs > MAXRUNS)
		die("--runs and --rebuild-runs must be 1..%d", MAXRUNS);
	cfg.do_ingest = cfg.do_rebuild = cfg.do_query = !only;
	if (only) {
		if (!strcmp(only, "ingest"))
			cfg.do_ingest = true;
		else if (!strcmp(only, "rebuild"))
			cfg.do_rebuild = true;
		else if (!strcmp(only, "query"))
			cfg.do_query = true;
		else
			usage();
	}
	for (int i = 0; i < 5; i++)
		tag_sl[i] = tl_s(tags[i]);
	base_ms = tl_time_now() / 3600000 * 3600000;
	mkdir_p(data_dir);

	double t0 = now_s();
	load_start = loadavg();
	if (views_arg && out)
		die("--views measures a part of tasklog: no --out with it");
	if (cfg.do_query)
		for (int si = 0; si < 2; si++)
			query_size(si, cfg.sizes[si]);
	big_runs();
	load_end = loadavg();
	note("total %.0f s", now_s() - t0);

	char *md = NULL;
	size_t mdlen = 0;
	FILE *mf = open_memstream(&md, &mdlen);
	if (!mf)
		die("open_memstream: %s", strerror(errno));
	report(mf);
	fclose(mf);
	fputs(md, stdout);
	if (out) {
		FILE *f = fopen(out, "w");
		if (!f || fputs(md, f) < 0 || fclose(f) != 0)
			die("cannot write %s", out);
	}
	free(md);
	return 0;
}
