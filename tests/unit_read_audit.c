/*
 * unit_read_audit.c - tests from the mutation audit of engine/read.c (the
 * read side: the log from a position, a stream's events, a task as of a
 * past time, the readers' answers to damaged stores).  Each test guards
 * behaviour that a one-line change of read.c broke while every other test
 * still passed; the comment of each says which.
 *
 * Every test gets its own workspace (no views: these reads do not use
 * them), initialised at T0; commands run with a fixed ctx.now_ms so that
 * event times are known exactly.  Damage is made with LMDB directly, as
 * unit_damage.c does.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"

#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00.000Z */
#define SEC INT64_C(1000)

static char dir[64];
static tl_db *db;

static void setup(void)
{
	tl_err err;
	snprintf(dir, sizeof dir, "/tmp/tl-read-audit-XXXXXX");
	cr_assert(mkdtemp(dir));
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	tl_init_opts io = { .now_ms = T0 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
}

static void teardown(void)
{
	tl_db_close(db);
	db = NULL;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(read_audit, .init = setup, .fini = teardown);

/* Run one command at `now` as the first admin; the seq of its last event,
 * and the task's id into id (when given). */
static uint64_t run_at(int64_t now, tl_cmd c, char id[37])
{
	tl_ctx ctx = { .now_ms = now };
	tl_result r;
	tl_err err;
	cr_assert_eq(tl_exec(db, &ctx, &c, 1, &r, &err), 0, "%s: %s",
		     err.field, err.message);
	if (id) {
		msgpack_zone z;
		msgpack_object o;
		size_t off = 0;
		msgpack_zone_init(&z, 1024);
		cr_assert_eq(msgpack_unpack((const char *)r.doc, r.doc_len,
					    &off, &z, &o),
			     MSGPACK_UNPACK_SUCCESS);
		tl_slice s = tl_obj_slice(tl_map_get(&o, "id"));
		cr_assert_eq(s.len, 36);
		memcpy(id, s.p, 36);
		id[36] = 0;
		msgpack_zone_destroy(&z);
	}
	uint64_t seq = r.seq;
	tl_result_release(&r);
	return seq;
}

/* A task added at `now`; its id into id, its event's seq returned. */
static uint64_t add_task(int64_t now, const char *title, char id[37])
{
	return run_at(now, (tl_cmd){ .kind = TL_TASK_ADD,
				     .title = tl_s(title),
				     .link = tl_s("lead:1") },
		      id);
}

/* The event stored under seq (malloc'd copy) and its size. */
static void *raw_event(uint64_t seq, size_t *len)
{
	MDB_txn *txn;
	uint8_t kb[8];
	tl_put_be64(kb, seq);
	MDB_val k = { 8, kb }, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->events, &k, &v), 0, "no event %llu",
		     (unsigned long long)seq);
	void *p = malloc(v.mv_size);
	cr_assert_not_null(p);
	memcpy(p, v.mv_data, v.mv_size);
	*len = v.mv_size;
	mdb_txn_abort(txn);
	return p;
}

/* Damage: put (v non-NULL) or delete the event under seq. */
static void damage_event(uint64_t seq, const void *v, size_t vn)
{
	MDB_txn *txn;
	uint8_t kb[8];
	tl_put_be64(kb, seq);
	MDB_val key = { 8, kb }, val = { vn, (void *)v };
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	if (v)
		cr_assert_eq(mdb_put(txn, db->events, &key, &val, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, db->events, &key, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* The seqs tl_log_read hands over, in order. */
typedef struct seqs {
	uint64_t v[64];
	size_t n;
	int stop_at; /* > 0: the callback returns this at that many events */
} seqs;

static int take(void *arg, const tl_event *ev)
{
	seqs *s = arg;
	cr_assert_lt(s->n, sizeof s->v / sizeof *s->v);
	s->v[s->n++] = ev->seq;
	return s->stop_at && (int)s->n == s->stop_at ? 7 : 0;
}

/* ---- damaged stores ---------------------------------------------------- */

/* A stream index entry whose event is gone is damage (TL_ESTORAGE), not
 * "not found": TL_ENOTFOUND tells the caller its task or stream does not
 * exist, and the CLI would say so with the exit code of a bad id.  The
 * mutant answered TL_ENOTFOUND from event_get. */
Test(read_audit, a_stream_event_gone_from_the_log_is_a_storage_error)
{
	char id[37];
	uint64_t seq = add_task(T0 + SEC, "Call", id);
	damage_event(seq, NULL, 0);
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, tl_s(id), take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert_str_eq(err.field, "storage");
	cr_assert(strstr(err.message, "missing"), "%s", err.message);
	cr_assert_eq(s.n, 0);
	uint8_t *doc = NULL;
	size_t len;
	rc = tl_task_as_of(db, NULL, tl_s(id), T0 + 2 * SEC, &doc, &len, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	free(doc);
}

/* An event stored under another seq's key (a copy, a bad restore) is not
 * handed over as that seq's event: a stream read names it corrupt.  The
 * mutant dropped event_get's check of the seq the event records. */
Test(read_audit, an_event_recording_another_seq_is_corrupt)
{
	char id[37];
	uint64_t seq = add_task(T0 + SEC, "Call", id);
	size_t n;
	void *first = raw_event(1, &n); /* workspace.initialized, seq 1 */
	damage_event(seq, first, n);
	free(first);
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, tl_s(id), take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(err.message, "corrupt"), "%s", err.message);
	cr_assert_eq(s.n, 0, "handed over event %llu",
		     (unsigned long long)s.v[0]);
}

/* An event in the log that does not decode is named corrupt, with its
 * seq: damage to restore from a backup, not a want of memory to retry.
 * The mutant told every decoding failure of tl_log_read as out of
 * memory. */
Test(read_audit, a_log_read_names_an_event_that_does_not_decode_corrupt)
{
	char id[37];
	uint64_t seq = add_task(T0 + SEC, "Call", id);
	uint8_t junk[48];
	memset(junk, 0xc1, sizeof junk); /* 0xc1: no msgpack type */
	damage_event(seq, junk, sizeof junk);
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	char want[64];
	snprintf(want, sizeof want, "event %llu is corrupt",
		 (unsigned long long)seq);
	cr_assert(strstr(err.message, want), "%s", err.message);
	cr_assert_eq(s.n, seq - 1, "the events before it are read");
}

/* Put, or (v NULL) delete, the stream index entry (ver, seq) of task id. */
static void damage_index(const char *id, uint32_t ver, uint64_t seq, bool put)
{
	MDB_txn *txn;
	uint8_t sk[TL_STREAM_KEY_MAX], sv[12];
	MDB_val k = { tl_stream_key(tl_s(id), sk), sk }, v = { 12, sv };
	tl_put_be32(sv, ver);
	tl_put_be64(sv + 4, seq);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	if (put)
		cr_assert_eq(mdb_put(txn, db->streams, &k, &v, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, db->streams, &k, &v), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* The stream of task id, read whole and as of T0 + 3 s: both say
 * "damaged stream index", a storage error. */
static void expect_damaged_index(const char *id)
{
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, tl_s(id), take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(err.message, "damaged stream index"), "%s",
		  err.message);
	uint8_t *doc = NULL;
	size_t len;
	err = (tl_err){ 0 };
	rc = tl_task_as_of(db, NULL, tl_s(id), T0 + 3 * SEC, &doc, &len, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(err.message, "damaged stream index"), "%s",
		  err.message);
	free(doc);
}

/* A task of two versions whose index says 1 and 3 (version 2 gone, its
 * event indexed as 3): reading the stream, or the task as of a time,
 * is a storage error, not a history with a version missing.  The
 * mutants dropped the version-order check of tl_log_read, compared
 * without it (ver < want), or dropped it in stream_walk. */
Test(read_audit, a_stream_index_with_a_version_missing_is_damage)
{
	char id[37];
	add_task(T0 + SEC, "Call", id);
	add_task(T0 + SEC, "Other", NULL);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		     .title = tl_s("Renamed") };
	uint64_t v2 = run_at(T0 + 2 * SEC, u, NULL);
	damage_index(id, 2, v2, false);
	damage_index(id, 3, v2, true);
	expect_damaged_index(id);
}

/* The same version indexed twice (1, 1: a repeated entry) is damage
 * too; the mutant `ver < want++` let a repeated version through. */
Test(read_audit, a_stream_index_with_a_version_twice_is_damage)
{
	char id[37];
	uint64_t v1 = add_task(T0 + SEC, "Call", id);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		     .title = tl_s("Renamed") };
	uint64_t v2 = run_at(T0 + 2 * SEC, u, NULL);
	damage_index(id, 2, v2, false);
	damage_index(id, 1, v2, true); /* sorts after (1, v1) */
	cr_assert_lt(v1, v2);
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, tl_s(id), take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	uint8_t *doc = NULL;
	size_t len;
	rc = tl_task_as_of(db, NULL, tl_s(id), T0 + 3 * SEC, &doc, &len, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	free(doc);
}

/* A task whose version 2 is indexed at a seq before version 1's (here
 * another task's event): damage too.  Before 0.3.35 the task as of a
 * later time was "not found" (the cut fell before version 1), and its
 * history named the other task's event as version 2. */
Test(read_audit, a_stream_index_whose_seqs_go_back_is_damage)
{
	char id[37];
	uint64_t other = add_task(T0 + SEC, "Other", NULL);
	add_task(T0 + SEC, "Call", id);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		     .title = tl_s("Renamed") };
	uint64_t v2 = run_at(T0 + 2 * SEC, u, NULL);
	damage_index(id, 2, v2, false);
	damage_index(id, 2, other, true);
	expect_damaged_index(id);
	tl_err err = { 0 };
	cr_assert_gt(tl_verify(db, NULL, NULL, NULL, &err), 0,
		     "verify finds the index");
}

/* A task stream whose index names an event that is no task event (here
 * a member.added after it): the fold fails, and says so ("cannot fold
 * event N"), not "out of memory"; verify reports it as a problem rather
 * than stopping with an error.  The mutant told every failure of the
 * fold as out of memory. */
Test(read_audit, a_task_stream_naming_another_kind_of_event_cannot_fold)
{
	char id[37];
	add_task(T0 + SEC, "Call", id);
	uint64_t m = run_at(T0 + 2 * SEC,
			    (tl_cmd){ .kind = TL_MEMBER_ADD,
				      .id = tl_s("alice"),
				      .name = tl_s("Alice") },
			    NULL);
	damage_index(id, 2, m, true);
	uint8_t *doc = NULL;
	size_t len;
	tl_err err = { 0 };
	int rc = tl_task_as_of(db, NULL, tl_s(id), T0 + 3 * SEC, &doc, &len,
			       &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	char want[64];
	snprintf(want, sizeof want, "cannot fold event %llu",
		 (unsigned long long)m);
	cr_assert(strstr(err.message, want), "%s", err.message);
	free(doc);
	err = (tl_err){ 0 };
	rc = tl_verify_log(db, NULL, NULL, NULL, &err);
	cr_assert_gt(rc, 0, "verify: %d %s", rc, err.message);
}

/* ---- the log from a position -------------------------------------------- */

/* A stream read from a position: the stream's events with seq >= from,
 * the one at from included, those before skipped (not ending the read),
 * at most limit of them.  The mutants read from after `from`, ignored
 * it, stopped at the first event before it, and ignored the limit of a
 * stream read. */
Test(read_audit, a_stream_read_starts_at_from_and_stops_at_its_limit)
{
	char id[37];
	uint64_t a = add_task(T0 + SEC, "Call", id);
	add_task(T0 + SEC, "Other", NULL);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		     .title = tl_s("B") };
	uint64_t b = run_at(T0 + 2 * SEC, u, NULL);
	add_task(T0 + SEC, "Other", NULL);
	u.title = tl_s("C");
	uint64_t c = run_at(T0 + 3 * SEC, u, NULL);
	tl_err err = { 0 };
	seqs s = { 0 };
	cr_assert_eq(tl_log_read(db, NULL, b, 0, tl_s(id), take, &s, &err), 0,
		     "%s", err.message);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.v[0], b);
	cr_assert_eq(s.v[1], c);
	s = (seqs){ 0 };
	cr_assert_eq(tl_log_read(db, NULL, b + 1, 0, tl_s(id), take, &s, &err),
		     0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.v[0], c);
	s = (seqs){ 0 };
	cr_assert_eq(tl_log_read(db, NULL, a, 2, tl_s(id), take, &s, &err), 0);
	cr_assert_eq(s.n, 2, "limit 2 gave %zu events", s.n);
	cr_assert_eq(s.v[0], a);
	cr_assert_eq(s.v[1], b);
	s = (seqs){ 0 };
	cr_assert_eq(tl_log_read(db, NULL, c + 1, 0, tl_s(id), take, &s, &err),
		     0);
	cr_assert_eq(s.n, 0);
}

/* From 0 is the whole log (seq >= 0), as from 1 is; the mutant looked
 * the position up exactly (MDB_SET) and read nothing from 0. */
Test(read_audit, a_log_read_from_zero_reads_from_the_first_event)
{
	add_task(T0 + SEC, "Call", NULL);
	tl_err err = { 0 };
	seqs s = { 0 };
	cr_assert_eq(tl_log_read(db, NULL, 0, 0, (tl_slice){ 0 }, take, &s,
				 &err), 0, "%s", err.message);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.v[0], 1);
	cr_assert_eq(s.v[2], 3);
}

/* A callback's non-zero return ends the read at once and is tl_log_read's
 * answer, for the log and for a stream.  The mutants read on after it,
 * or returned 0. */
Test(read_audit, a_callback_that_stops_ends_the_read_with_its_value)
{
	char id[37];
	add_task(T0 + SEC, "Call", id);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		     .title = tl_s("B") };
	run_at(T0 + 2 * SEC, u, NULL);
	u.title = tl_s("C");
	run_at(T0 + 3 * SEC, u, NULL);
	tl_err err = { 0 };
	seqs s = { .stop_at = 2 };
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, take, &s,
				 &err), 7);
	cr_assert_eq(s.n, 2);
	s = (seqs){ .stop_at = 2 };
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, tl_s(id), take, &s, &err), 7);
	cr_assert_eq(s.n, 2);
}

/* tl_log_read without a callback is the caller's error (TL_EINVALID
 * "fn"), found before anything is read; the mutant called NULL. */
Test(read_audit, a_log_read_without_a_callback_is_refused)
{
	add_task(T0 + SEC, "Call", NULL);
	tl_err err = { 0 };
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, NULL, NULL,
				 &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "fn");
}

/* An LMDB error under a log read (the log's root page zeroed, as a torn
 * write leaves it: MDB_CORRUPTED) is a TL_ESTORAGE error of the API, not
 * LMDB's own code, which no caller of tasklog.h knows.  The mutant
 * returned LMDB's code as it was. */
Test(read_audit, an_lmdb_error_under_a_log_read_is_a_storage_error)
{
	for (int i = 0; i < 3; i++)
		add_task(T0 + SEC, "Call", NULL);
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_val k = { 6, "events" }, v;
	MDB_stat st;
	uint64_t root;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	cr_assert_eq(mdb_get(txn, main_dbi, &k, &v), 0);
	cr_assert_eq(v.mv_size, 48); /* LMDB's MDB_db: md_root at 40 */
	memcpy(&root, (const uint8_t *)v.mv_data + 40, 8);
	mdb_txn_abort(txn);
	cr_assert_eq(mdb_env_stat(db->env, &st), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	static uint8_t zero[65536];
	cr_assert_leq(st.ms_psize, sizeof zero);
	cr_assert_eq(pwrite(fd, zero, st.ms_psize,
			    (off_t)(root * st.ms_psize)),
		     (ssize_t)st.ms_psize);
	close(fd);
	seqs s = { 0 };
	tl_err err = { 0 };
	int rc = tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, take, &s, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert_str_eq(err.field, "storage");
}

/* ---- statistics and space ---------------------------------------------- */

/* map_used is the pages in use, 0 to the last one (the two meta pages
 * included), times the page size; the mutant left out the last page. */
Test(read_audit, stats_map_used_counts_every_page_up_to_the_last)
{
	add_task(T0 + SEC, "Call", NULL);
	tl_stats st;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0, "%s", err.message);
	MDB_envinfo info;
	MDB_stat ms;
	cr_assert_eq(mdb_env_info(db->env, &info), 0);
	cr_assert_eq(mdb_env_stat(db->env, &ms), 0);
	cr_assert_eq(st.map_used, (info.me_last_pgno + 1) * (uint64_t)ms.ms_psize,
		     "map_used %llu, last page %zu of %u bytes",
		     (unsigned long long)st.map_used, info.me_last_pgno,
		     ms.ms_psize);
	cr_assert_eq(st.map_size, info.me_mapsize);
}

/* The free space is every page of LMDB's free list (each record of it
 * lists the pages one transaction freed, its first word their count),
 * plus the file past its last page in use.  Many small commits leave
 * records of several pages each; the mutant counted one page a record. */
Test(read_audit, space_counts_every_page_of_the_free_list)
{
	for (int i = 0; i < 20; i++)
		add_task(T0 + SEC, "Call", NULL);
	uint64_t file, free_bytes;
	tl_err err = { 0 };
	cr_assert_eq(tl_db_space(db, NULL, &file, &free_bytes, &err), 0, "%s",
		     err.message);
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t pages = 0, records = 0;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, 0, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		cr_assert_geq(v.mv_size, sizeof(size_t));
		pages += *(const size_t *)v.mv_data;
		records++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	cr_assert_gt(pages, records, "the test needs records of > 1 page");
	MDB_envinfo info;
	MDB_stat ms;
	struct stat fs;
	cr_assert_eq(mdb_env_info(db->env, &info), 0);
	cr_assert_eq(mdb_env_stat(db->env, &ms), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	cr_assert_eq(stat(path, &fs), 0);
	uint64_t used = (info.me_last_pgno + 1) * (uint64_t)ms.ms_psize;
	cr_assert_eq(file, (uint64_t)fs.st_size);
	cr_assert_eq(free_bytes,
		     pages * ms.ms_psize +
			     ((uint64_t)fs.st_size > used ? fs.st_size - used
							  : 0));
}
