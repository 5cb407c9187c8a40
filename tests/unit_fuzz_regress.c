/*
 * unit_fuzz_regress.c - inputs found by the fuzz targets (fuzz/, make
 * fuzz), kept as regression tests.  Each test names the target that found
 * the input and the fix.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "testutil.h"

#include "internal.h"
#include "tasklog_projections.h"

#define FIXTURES "tests/fixtures"


/* A malloc'd copy of record i, to patch. */
static uint8_t *copy_rec(const tu_records *r, size_t i)
{
	uint8_t *p = malloc(r->len[i]);
	cr_assert(p);
	memcpy(p, r->rec[i], r->len[i]);
	return p;
}

/* The offset of the first occurrence of s in p[0..len). */
static size_t find(const uint8_t *p, size_t len, const char *s, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(p + i, s, n))
			return i;
	cr_assert_fail("'%s' not in the record", s);
	return 0;
}

/* Write the chain hash after prev into the record's hash field. */
static void rehash(uint8_t *p, size_t len, const uint8_t *prev_rec,
		   size_t prev_len)
{
	tl_event_hash(prev_rec + prev_len - TL_HASH_LEN, p, len,
		      p + len - TL_HASH_LEN);
}

static tl_db *open_ws(char *dir)
{
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	tl_db *db;
	tl_err err;
	o.views = tl_views_all(&o.views_len);
	cr_assert(mkdtemp(dir));
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	return db;
}

static void rm_ws(tl_db *db, const char *dir)
{
	char cmd[300];
	tl_db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void problem(void *arg, const char *text)
{
	(void)arg;
	cr_log_error("verify: %s", text);
}

static uint64_t head(tl_db *db)
{
	MDB_txn *txn;
	uint64_t seq;
	uint8_t h[TL_HASH_LEN];
	cr_assert_eq(tl_read_begin(db, &txn, NULL), 0);
	cr_assert_eq(tl_log_head(db, txn, &seq, h, NULL), 0);
	mdb_txn_abort(txn);
	return seq;
}

/*
 * fuzz_decode, fuzz_import: a container header claiming 2^32 - 1 entries
 * made msgpack_unpack ask for 64 GiB before reading them (ASan: out of
 * memory; without ASan a huge, useless allocation).  Fixed in codec.c:
 * tl_event_decode refuses a record whose containers claim more entries
 * than it has bytes left.
 */
static const uint8_t huge_array[40] = {
	0x8a, 0xa3, 's', 'e', 'q', 0xdd, 0xff, 0xff, 0xff, 0xff,
	/* 30 bytes of nil */
	0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
	0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
	0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
};

Test(fuzz_regress, decode_refuses_counts_beyond_the_record)
{
	uint8_t rec[40];
	msgpack_zone zone;
	msgpack_sbuffer scratch;
	tl_event ev;

	msgpack_sbuffer_init(&scratch);
	msgpack_zone_init(&zone, 2048);
	cr_assert_eq(tl_event_decode(huge_array, sizeof huge_array, &ev,
				     &zone, &scratch), TL_ESTORAGE);
	msgpack_zone_destroy(&zone);

	/* 2^24 entries: an allocation that succeeds, 256 MiB of it.  (The
	 * mmapped bytes of glibc's malloc; under ASan this reads 0.) */
	memcpy(rec, huge_array, sizeof rec);
	rec[6] = 0x00;
	msgpack_zone_init(&zone, 2048);
	size_t before = mallinfo2().hblkhd;
	cr_assert_eq(tl_event_decode(rec, sizeof rec, &ev, &zone, &scratch),
		     TL_ESTORAGE);
	cr_assert_lt(mallinfo2().hblkhd, before + (1 << 20),
		     "decoding 40 bytes allocated %zu bytes",
		     mallinfo2().hblkhd - before);
	msgpack_zone_destroy(&zone);

	/* A well-formed record still decodes. */
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	msgpack_zone_init(&zone, 2048);
	for (size_t i = 0; i < r.n; i++)
		cr_assert_eq(tl_event_decode(r.rec[i], r.len[i], &ev, &zone,
					     &scratch), 0, "record %zu", i);
	msgpack_zone_destroy(&zone);
	msgpack_sbuffer_destroy(&scratch);
	free(r.buf);
}

Test(fuzz_regress, import_refuses_counts_beyond_the_record)
{
	char dir[] = "/tmp/tl-fuzzreg1-XXXXXX";
	tl_db *db = open_ws(dir);
	const uint8_t *recs[1] = { huge_array };
	size_t lens[1] = { sizeof huge_array };
	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 1, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "event");
	cr_assert_eq(err.index, 0);
	cr_assert_eq(head(db), 0);
	rm_ws(db, dir);
}

/*
 * fuzz_import: an "at" of 2^56 - 1 seconds as a 12-byte timestamp
 * overflowed int64 milliseconds in tl_obj_time (UBSan: signed integer
 * overflow).  Fixed in codec.c: tl_obj_time refuses seconds whose ms do
 * not fit.
 */
Test(fuzz_regress, decode_refuses_a_time_past_int64_ms)
{
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	/* Record 1 with its "at" (fixext 4) as a 12-byte timestamp. */
	size_t at = find(r.rec[0], r.len[0], "\xa2" "at" "\xd6\xff", 5) + 3;
	uint8_t rec[512];
	size_t len = 0;
	memcpy(rec, r.rec[0], at);
	len = at;
	static const uint8_t ts96[15] = {
		0xc7, 0x0c, 0xff, 0, 0, 0, 0,
		0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	memcpy(rec + len, ts96, sizeof ts96);
	len += sizeof ts96;
	memcpy(rec + len, r.rec[0] + at + 6, r.len[0] - at - 6);
	len += r.len[0] - at - 6;

	msgpack_zone zone;
	msgpack_sbuffer scratch;
	tl_event ev;
	msgpack_zone_init(&zone, 2048);
	msgpack_sbuffer_init(&scratch);
	cr_assert_eq(tl_event_decode(rec, len, &ev, &zone, &scratch),
		     TL_ESTORAGE);

	/* Seconds near the limit still decode. */
	static const uint8_t near[8] = {
		0x00, 0x20, 0xc4, 0x9b, 0xa5, 0xe3, 0x53, 0xf0
	};
	memcpy(rec + at + 7, near, sizeof near);
	cr_assert_eq(tl_event_decode(rec, len, &ev, &zone, &scratch), 0);
	cr_assert_eq(ev.at_ms, INT64_C(9223372036854768) * 1000);
	msgpack_zone_destroy(&zone);
	msgpack_sbuffer_destroy(&scratch);
	free(r.buf);
}

/*
 * fuzz_import: a "task." event whose type is not UTF-8 was refused with a
 * message that copied the type byte for byte.  Fixed in import.c: the
 * type is quoted (tl_quote) like every other foreign value (and unknown
 * types are now refused up front, field "type").
 */
Test(fuzz_regress, import_error_quotes_a_foreign_type)
{
	char dir[] = "/tmp/tl-fuzzreg2-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	/* Records 1..8, then record 9 (task.assigned) as "task.assig\xffed". */
	uint8_t *p = copy_rec(&r, 8);
	size_t t = find(p, r.len[8], "task.assigned", 13);
	p[t + 10] = 0xff;
	rehash(p, r.len[8], r.rec[7], r.len[7]);
	const uint8_t *recs[9];
	size_t lens[9];
	for (size_t i = 0; i < 8; i++) {
		recs[i] = r.rec[i];
		lens[i] = r.len[i];
	}
	recs[8] = p;
	lens[8] = r.len[8];

	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 9, &err), TL_EINVALID);
	cr_assert_eq(err.index, 8);
	cr_assert_str_eq(err.field, "type"); /* not a type this release folds */
	cr_assert(tl_utf8_valid(err.message, strlen(err.message)),
		  "message: %s", err.message);
	cr_assert(strstr(err.message, "task.assig\\xffed"), "message: %s",
		  err.message);
	cr_assert_eq(head(db), 0);
	free(p);
	free(r.buf);
	rm_ws(db, dir);
}

/*
 * fuzz_import: a task event other than task.created on a task that does
 * not exist was imported; the task's state had no id, and tl_verify's
 * replay then leaked it (LeakSanitizer) from a slot it took for empty.
 * Fixed in import.c: a task's first event must be task.created.
 */
Test(fuzz_regress, import_refuses_a_task_event_before_task_created)
{
	char dir[] = "/tmp/tl-fuzzreg3-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	/* Records 1..4 (workspace, members), then record 9 (task.assigned on
	 * a task created by record 6) as seq 5, version 1. */
	uint8_t *p = copy_rec(&r, 8);
	cr_assert_eq(p[5], 9, "seq as positive fixint");
	p[5] = 5;
	size_t v = find(p, r.len[8], "\xa7" "version", 8) + 8;
	cr_assert_eq(p[v], 2);
	p[v] = 1;
	rehash(p, r.len[8], r.rec[3], r.len[3]);
	const uint8_t *recs[5] = { r.rec[0], r.rec[1], r.rec[2], r.rec[3], p };
	size_t lens[5] = { r.len[0], r.len[1], r.len[2], r.len[3], r.len[8] };

	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 5, &err), TL_EINVALID);
	cr_assert_eq(err.index, 4);
	cr_assert_str_eq(err.field, "data");
	cr_assert_eq(head(db), 0);

	/* Without the bad record the rest imports and verifies. */
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_log_import(db, recs, lens, 4, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_verify(db, &ctx, problem, NULL, &err), 0);
	free(p);
	free(r.buf);
	rm_ws(db, dir);
}

/* The fixture's records 0..which in recs/lens, record `which` with the
 * first `from` replaced by to[0..n) and its chain hash fixed; *p holds
 * that copy (free it, and r->buf). */
typedef struct patched {
	tu_records r;
	uint8_t *p;
	const uint8_t *recs[64];
	size_t lens[64];
} patched;

static void patch(patched *x, const char *from, const char *to, size_t n,
		  size_t which)
{
	tu_load_records(FIXTURES "/log-v2.msgpack", &x->r);
	x->p = copy_rec(&x->r, which);
	size_t at = find(x->p, x->r.len[which], from, strlen(from));
	memcpy(x->p + at, to, n);
	rehash(x->p, x->r.len[which], x->r.rec[which - 1],
	       x->r.len[which - 1]);
	for (size_t i = 0; i <= which; i++) {
		x->recs[i] = i == which ? x->p : x->r.rec[i];
		x->lens[i] = x->r.len[i];
	}
}

/* Import refuses events on streams they do not belong to, unknown types,
 * and a second task.created: each would leave states verify rejects. */
static int import_patched(const char *from, const char *to, size_t which,
			  tl_err *err)
{
	char dir[] = "/tmp/tl-fuzzreg3-XXXXXX";
	tl_db *db = open_ws(dir);
	patched x;
	patch(&x, from, to, strlen(to), which);
	int rc = tl_log_import(db, x.recs, x.lens, which + 1, err);
	cr_assert_eq(head(db), 0, "nothing is appended");
	free(x.p);
	free(x.r.buf);
	rm_ws(db, dir);
	return rc;
}

Test(fuzz_regress, import_refuses_events_on_foreign_streams)
{
	tl_err err;
	/* record 2 is member.added of alice on "member:alice" */
	cr_assert_eq(import_patched("member:alice", "membar:alice", 2, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "type");
	/* record 8 is task.assigned on a task stream: an unknown type */
	cr_assert_eq(import_patched("task.assigned", "task.assignex", 8, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "type");
}

/* The workspace's settings are its stream's first event alone: a second
 * workspace.initialized (record 0 again as event 5, version 2 of its
 * stream, an id of its own) would set them anew.  Refused, field
 * "type"; nothing is appended. */
Test(fuzz_regress, import_refuses_a_second_workspace_initialized)
{
	char dir[] = "/tmp/tl-fuzzreg24-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	uint8_t *p = copy_rec(&r, 0);
	size_t n = r.len[0];
	size_t s = find(p, n, "\xa3seq", 4) + 4;
	cr_assert_eq(p[s], 1);
	p[s] = 5;
	memcpy(p + find(p, n, "9000-000000000001", 17) + 15, "99", 2);
	size_t v = find(p, n, "\xa7" "version", 8) + 8;
	cr_assert_eq(p[v], 1);
	p[v] = 2;
	rehash(p, n, r.rec[3], r.len[3]);
	const uint8_t *recs[5] = { r.rec[0], r.rec[1], r.rec[2], r.rec[3], p };
	size_t lens[5] = { r.len[0], r.len[1], r.len[2], r.len[3], n };
	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 5, &err), TL_EINVALID,
		     "%s", err.message);
	cr_assert_str_eq(err.field, "type", "%s", err.message);
	cr_assert(strstr(err.message, "event 5: type 'workspace.initialized' "
				      "on stream 'workspace' is not one"),
		  "%s", err.message);
	cr_assert_eq(err.index, 4);
	cr_assert_eq(head(db), 0);
	free(p);
	free(r.buf);
	rm_ws(db, dir);
}

/*
 * A walk-through imported a title with a NUL inside (export showed all
 * of it, `task show` and the timeline what came before the NUL, and
 * verify called it clean) and a task stream in capitals (commands write
 * lowercase): both are refused, and nothing is appended.
 */
Test(fuzz_regress, import_refuses_a_nul_in_a_string_and_a_stream_in_capitals)
{
	char dir[] = "/tmp/tl-fuzzreg11-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	patched x;
	/* record 4 is task.created, "Call Dana about the renewal" */
	patch(&x, "Call Dana", "Call\0Dana", 9, 4);
	cr_assert_eq(tl_log_import(db, x.recs, x.lens, 5, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "event");
	cr_assert(strstr(err.message, "event 5 holds a string with a NUL "
				      "byte (at byte"),
		  "%s", err.message);
	cr_assert_eq(err.index, 4);
	cr_assert_eq(head(db), 0, "nothing is appended");
	free(x.p);
	free(x.r.buf);
	rm_ws(db, dir);
	cr_assert_eq(import_patched("0190a000-0000-7000-8000-000000000001",
				    "0190A000-0000-7000-8000-000000000001", 4,
				    &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "stream");
	cr_assert(strstr(err.message, "is not a task id as tasklog writes"),
		  "%s", err.message);
}

/*
 * A walk-through imported task events no command makes of the task as it
 * was, and verify called them clean: an assignee who is no member, an
 * update of a field an update does not set (the fold ignored it, the
 * history showed it), a "previous" value the task did not hold (the
 * history shows it as where the change came from), an actor who is no
 * member, an event after the task's deletion.  Each is refused, naming
 * the field, and nothing is appended.
 */
Test(fuzz_regress, import_refuses_task_events_no_command_makes_of_the_task)
{
	tl_err err;
	static const struct {
		const char *from, *to;
		size_t which;
		const char *field, *says;
	} cases[] = {
		/* 8: task.assigned to alice, by admin */
		{ "\xa8" "assignee\xa5" "alice", "\xa8" "assignee\xa5" "ghost", 8,
		  "assignee", "event 9 (task.assigned): assignee unknown member "
			      "'ghost'" },
		{ "\xa5" "admin", "\xa5" "ghost", 8, "actor",
		  "event 9: actor 'ghost' is no member" },
		/* its actor map in another order: the decoder found both
		 * keys, and up to 0.3.48 it was taken (unit_damage.c has a
		 * second "id", which the state and the JSON read apart) */
		{ "\x82\xa2id\xa5" "admin\xa4kind\xa4user",
		  "\x82\xa4kind\xa4user\xa2id\xa5" "admin", 8, "actor",
		  "event 9: actor 'admin' is not a map of \"id\" and \"kind\" "
		  "alone, in that order" },
		/* 4: task.created of task 0, assigned to alice */
		{ "\xa8" "assignee\xa5" "alice", "\xa8" "assignee\xa5" "ghost", 4,
		  "assignee", "event 5 (task.created): assignee unknown member "
			      "'ghost'" },
		/* 1: member.added of the first admin, by the system user */
		{ "parsa-assistant", "parsa-assistanx", 1, "actor",
		  "actor 'parsa-assistanx' is of kind system, which only the "
		  "system user is" },
		/* 9: task.status_changed to in_progress, previous todo */
		{ "\xa4todo", "\xa4" "done", 9, "previous",
		  "previous is not the task's status before it" },
		/* 12: task.updated of the title, and its previous title */
		{ "\xa5title", "\xa5stage", 12, "changes",
		  "changes holds 'stage', which no command writes there" },
		{ "Send the proposal", "Send the proposaX", 12, "previous",
		  "previous is not the task's title before it" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cr_assert_eq(import_patched(cases[i].from, cases[i].to,
					    cases[i].which, &err),
			     TL_EINVALID, "case %zu: %s", i, err.message);
		cr_assert_str_eq(err.field, cases[i].field, "case %zu: %s", i,
				 err.message);
		cr_assert(strstr(err.message, cases[i].says), "case %zu: %s",
			  i, err.message);
		cr_assert_eq(err.index, (int)cases[i].which);
	}

	/* after 13, task 4's deletion: record 10 (task 1 tagged, version 3)
	 * made task 4's, seq 15, version 3, with an id of its own */
	char dir[] = "/tmp/tl-fuzzreg12-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	cr_assert_geq(r.n, 14);
	uint8_t *p = copy_rec(&r, 10);
	size_t n = r.len[10];
	p[find(p, n, "-000000000001", 13) + 12] = '4';
	p[find(p, n, "\xa3seq", 4) + 4] = 15;
	memcpy(p + find(p, n, "9000-000000000011", 17) + 15, "15", 2);
	rehash(p, n, r.rec[13], r.len[13]);
	const uint8_t *recs[15];
	size_t lens[15];
	for (size_t i = 0; i < 14; i++) {
		recs[i] = r.rec[i];
		lens[i] = r.len[i];
	}
	recs[14] = p;
	lens[14] = n;
	cr_assert_eq(tl_log_import(db, recs, lens, 15, &err), TL_EINVALID,
		     "%s", err.message);
	cr_assert_str_eq(err.field, "stream", "%s", err.message);
	cr_assert(strstr(err.message, "the task was deleted before it"), "%s",
		  err.message);
	cr_assert_eq(err.index, 14);
	cr_assert_eq(head(db), 0);
	/* the 14 alone are taken */
	cr_assert_eq(tl_log_import(db, recs, lens, 14, &err), 0, "%s",
		     err.message);
	free(p);
	free(r.buf);
	rm_ws(db, dir);
}

/* ---- event data in the shape commands write (0.3.23) ---------------- */

static void pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A copy of record rec[0..len) with its data replaced by d (its hash not
 * made again), *nl bytes long. */
static uint8_t *with_data(const uint8_t *rec, size_t len,
			  const msgpack_sbuffer *d, size_t *nl)
{
	size_t at = find(rec, len, "\xa4" "data", 5) + 5;
	size_t tail = 5 + 2 + TL_HASH_LEN; /* "hash", bin 8 */
	*nl = at + d->size + tail;
	uint8_t *p = malloc(*nl);
	cr_assert(p);
	memcpy(p, rec, at);
	memcpy(p + at, d->data, d->size);
	memcpy(p + at + d->size, rec + len - tail, tail);
	return p;
}

/* A fixture log whose records which[0..n) have their data replaced by
 * data[i] (its hash and every later one's made again), imported into a
 * new workspace: tl_log_import's code, err, and nothing appended when it
 * refused. */
static int import_data(const size_t *which, msgpack_sbuffer *const *data,
		       size_t n, size_t count, tl_err *err)
{
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	cr_assert_leq(count, r.n);
	uint8_t *p[32] = { 0 };
	const uint8_t *recs[32];
	size_t lens[32];
	cr_assert_leq(count, 32);
	for (size_t i = 0; i < count; i++) {
		msgpack_sbuffer *d = NULL;
		for (size_t j = 0; j < n; j++)
			if (which[j] == i)
				d = data[j];
		size_t nl = r.len[i];
		if (d) {
			p[i] = with_data(r.rec[i], r.len[i], d, &nl);
		} else {
			p[i] = malloc(nl);
			cr_assert(p[i]);
			memcpy(p[i], r.rec[i], nl);
		}
		static const uint8_t genesis[TL_HASH_LEN]; /* before event 1 */
		if (i)
			rehash(p[i], nl, recs[i - 1], lens[i - 1]);
		else
			tl_event_hash(genesis, p[i], nl,
				      p[i] + nl - TL_HASH_LEN);
		recs[i] = p[i];
		lens[i] = nl;
	}
	char dir[] = "/tmp/tl-fuzzreg13-XXXXXX";
	tl_db *db = open_ws(dir);
	int rc = tl_log_import(db, recs, lens, count, err);
	if (rc)
		cr_assert_eq(head(db), 0, "nothing is appended");
	else
		cr_assert_eq(head(db), count);
	for (size_t i = 0; i < count; i++)
		free(p[i]);
	free(r.buf);
	rm_ws(db, dir);
	return rc;
}

/* task.created of the fixture's task 0 (record 4) with one change. */
enum { C_NO_ASSIGNEE, C_PIPELINE, C_TAGS_MAP, C_LINK_EXTRA, C_LINK_NO_ID,
       C_TAGGED_VIP, C_NO_TITLE, C_EMPTY_TAG, C_DUE_PAST_9999, C_AS_WRITTEN,
       C_LINK_ID_EMPTY, C_LINK_ID_LONG, C_LINK_ID_CONTROL, C_LINK_ID_NOT_UTF8,
       C_LINK_ID_SPACES };

/* The link id pack_created writes for how. */
static const char *created_link_id(int how)
{
	switch (how) {
	case C_LINK_ID_EMPTY: return "";
	case C_LINK_ID_LONG: /* 129 bytes, one past TL_LINK_ID_MAX */
		return "0123456789012345678901234567890123456789012345678901234567"
		       "8901234567890123456789012345678901234567890123456789012345"
		       "6789012345678";
	case C_LINK_ID_CONTROL: return "a\nb\x1b[31m";
	case C_LINK_ID_NOT_UTF8: return "\xff";
	case C_LINK_ID_SPACES: return " 42 "; /* early releases took it */
	default: return "42";
	}
}
static void pack_created(msgpack_packer *pk, int how)
{
	msgpack_pack_map(pk, how == C_NO_ASSIGNEE ? 9 : 10);
	pk_str(pk, "title");
	pk_str(pk, how == C_NO_TITLE ? "" : "Call Dana about the renewal");
	pk_str(pk, "type"); pk_str(pk, "call");
	pk_str(pk, "status"); pk_str(pk, "todo");
	pk_str(pk, "due_at");
	/* 253402300800: 10000-01-01T00:00:00Z */
	msgpack_timestamp t = { how == C_DUE_PAST_9999 ? 253402300800
						       : 1780300000, 0 };
	msgpack_pack_timestamp(pk, &t);
	if (how != C_NO_ASSIGNEE) {
		pk_str(pk, "assignee"); pk_str(pk, "alice");
	}
	pk_str(pk, "notes"); msgpack_pack_nil(pk);
	pk_str(pk, "link");
	msgpack_pack_map(pk, how == C_LINK_EXTRA	? 3
			     : how == C_LINK_NO_ID ? 1
						   : 2);
	pk_str(pk, "type"); pk_str(pk, "lead");
	if (how != C_LINK_NO_ID) {
		pk_str(pk, "id"); pk_str(pk, created_link_id(how));
	}
	if (how == C_LINK_EXTRA) {
		pk_str(pk, "name"); pk_str(pk, "Dana");
	}
	pk_str(pk, "pipeline");
	if (how == C_PIPELINE)
		pk_str(pk, "sales");
	else
		msgpack_pack_nil(pk);
	pk_str(pk, "stage"); msgpack_pack_nil(pk);
	pk_str(pk, "tags");
	if (how == C_TAGS_MAP) {
		msgpack_pack_map(pk, 0);
	} else if (how == C_TAGGED_VIP || how == C_EMPTY_TAG) {
		msgpack_pack_array(pk, 1);
		pk_str(pk, how == C_EMPTY_TAG ? "" : "vip");
	} else {
		msgpack_pack_array(pk, 0);
	}
}

/*
 * Two walk-throughs imported events whose data no command writes, and
 * verify called them clean: a key no command writes (the fold ignored it,
 * the history showed it: "tagged: tag vip, assignee bob"), a key left out
 * (task.created without its assignee made an unassigned task), a
 * pipeline, tags as a map, events that change nothing (an assignment to
 * the assignee, a status to the status, a tag the task has), a status
 * change to completed, a completion to another status, an update without
 * changes or with previous values for other fields.  Each is refused,
 * naming the field, and nothing is appended; the fixture as written is
 * taken.
 */
Test(fuzz_regress, import_refuses_event_data_no_command_writes)
{
	static const struct {
		size_t which;
		int created;           /* a C_* for record 4, or -1 */
		const char *json;      /* else the data, as msgpack below */
		const char *field, *says;
	} cases[] = {
		{ 10, -1, "tag=vip assignee=bob", "data",
		  "event 11 (task.tagged): data holds 'assignee', which no "
		  "command writes there" },
		{ 13, -1, "title=Gone", "data", "holds 'title'" },
		{ 10, -1, "tag=vip tag=vip", "data",
		  "event 11 (task.tagged): data holds 'tag' twice" },
		{ 4, C_NO_ASSIGNEE, NULL, "assignee",
		  "event 5 (task.created): assignee is missing" },
		{ 4, C_PIPELINE, NULL, "pipeline", "no pipelines are defined" },
		{ 4, C_TAGS_MAP, NULL, "tags", "is not an array" },
		{ 4, C_LINK_EXTRA, NULL, "link", "holds 'name'" },
		{ 4, C_LINK_NO_ID, NULL, "link.id", "link.id is missing" },
		/* states no command makes */
		{ 4, C_NO_TITLE, NULL, "title",
		  "event 5 (task.created): title must not be empty" },
		{ 4, C_EMPTY_TAG, NULL, "tag",
		  "event 5 (task.created): tag must not be empty" },
		{ 4, C_DUE_PAST_9999, NULL, "due", "due is out of range" },
		/* a link id no release's command took (verify called each
		 * clean, and export showed "\xff" as U+FFFD, whose import
		 * then broke the hash chain) */
		{ 4, C_LINK_ID_EMPTY, NULL, "link.id",
		  "event 5 (task.created): link.id must not be empty" },
		{ 4, C_LINK_ID_LONG, NULL, "link.id",
		  "link.id is 129 bytes, at most 128 allowed" },
		{ 4, C_LINK_ID_CONTROL, NULL, "link.id", "control character" },
		{ 4, C_LINK_ID_NOT_UTF8, NULL, "link.id", "is not valid UTF-8" },
		/* 9: task 0 from todo to in_progress */
		{ 9, -1, "status=completed previous=todo", "status",
		  "is completed, which task.completed sets" },
		{ 9, -1, "status=todo previous=todo", "status",
		  "is what the task held" },
		{ 9, -1, "status=in_progress previous{title=Call_Dana}",
		  "previous", "is not the value a field held" },
		/* null, an assignment's "no one", is no status */
		{ 9, -1, "status=in_progress previous=~", "previous",
		  "is not the value a field held" },
		/* 11: task 2 completed, from todo */
		{ 11, -1, "status=cancelled previous=todo", "status",
		  "is not completed" },
		/* 8: task 1 assigned to alice, from no one */
		{ 8, -1, "assignee=~ previous=~", "assignee",
		  "is what the task held" },
		{ 8, -1, "assignee=alice previous{}", "previous",
		  "is not the value a field held" },
		{ 8, -1, "assignee=parsa-assistant previous=~", "assignee",
		  "event 9 (task.assigned): assignee 'parsa-assistant' is the "
		  "system user, not a member" },
		/* 10 after a task 0 created with the tag */
		{ 10, C_TAGGED_VIP, NULL, "tag", "is one the task held" },
		/* 12: task 1's title changed */
		{ 12, -1, "changes{} previous{}", "changes", "is empty" },
		{ 12, -1, "changes{title=Send the proposal} "
			  "previous{title=Send the proposal}",
		  "title", "is what the task held" },
		{ 12, -1, "changes{title=X} previous{}", "previous",
		  "does not hold the fields of changes" },
		{ 12, -1, "changes{due_at@1780200000} previous{due_at@1780200000}",
		  "due", "event 13 (task.updated): due is what the task held" },
		/* 0: the workspace's settings; 3: bob added */
		{ 0, -1, "format#2 tz=Europe/Berlin week_start=monday admin=admin",
		  "format", "is not 1" },
		/* settings init would not have stored: the record's */
		{ 0, -1, "format#1 tz=Europe/Berlin week_start=friday admin=admin",
		  "data", "event 1 (workspace.initialized) has data this "
			  "release cannot fold" },
		{ 0, -1, "format#1 tz=Europe/Berlin week_start=monday admin=Ad_min",
		  "data", "has data this release cannot fold" },
		{ 0, -1, "format#1 tz=" /* 64 bytes, one past a zone's room */
			 "Europe/Berlin_Europe/Berlin_Europe/Berlin_Europe/Berlin_"
			 "Europe/B week_start=monday admin=admin",
		  "data", "has data this release cannot fold" },
		{ 3, -1, "id=bob name=Bob_Example role=member crm_access#t "
			 "kind=system", "kind", "is not 'user'" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		msgpack_sbuffer a, b;
		msgpack_packer pa, pb;
		msgpack_sbuffer_init(&a);
		msgpack_sbuffer_init(&b);
		msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
		msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
		size_t which[2];
		msgpack_sbuffer *data[2];
		size_t n = 0;
		if (cases[i].created >= 0) {
			pack_created(&pa, cases[i].created);
			which[n] = 4;
			data[n++] = &a;
		}
		if (cases[i].json) {
			/* "k=v" a string (~ nil, _ a space), "k#n" an integer or
			 * t (true), "k{...}" a map of one k=v or k@n (a time),
			 * space separated */
			msgpack_packer *pk = &pb;
			char buf[200], *save = NULL;
			snprintf(buf, sizeof buf, "%s", cases[i].json);
			/* count the top level's entries */
			size_t top = 0, depth = 0;
			for (const char *c = buf; *c; c++) {
				if (*c == '{')
					depth++;
				if (*c == '}')
					depth--;
				if (!depth && (c == buf || c[-1] == ' ') &&
				    *c != ' ')
					top++;
			}
			msgpack_pack_map(pk, top);
			for (char *w = strtok_r(buf, " ", &save); w;
			     w = strtok_r(NULL, " ", &save)) {
				char *open = strchr(w, '{'), *eq = strchr(w, '='),
				     *hash = strchr(w, '#');
				if (open && (!eq || open < eq)) {
					*open = 0;
					pk_str(pk, w);
					char *body = open + 1;
					if (*body == '}') {
						msgpack_pack_map(pk, 0);
						continue;
					}
					/* one entry, the rest of the words up to
					 * the closing brace */
					char inner[120];
					snprintf(inner, sizeof inner, "%s", body);
					while (!strchr(inner, '}')) {
						char *more = strtok_r(NULL, " ", &save);
						cr_assert(more);
						strncat(inner, " ",
							sizeof inner - strlen(inner) - 1);
						strncat(inner, more,
							sizeof inner - strlen(inner) - 1);
					}
					*strchr(inner, '}') = 0;
					/* k=v text, k@n a time of n seconds */
					char *ie = strpbrk(inner, "=@");
					cr_assert(ie);
					bool at = *ie == '@';
					*ie = 0;
					msgpack_pack_map(pk, 1);
					pk_str(pk, inner);
					if (at)
						msgpack_pack_timestamp(
							pk, &(msgpack_timestamp){
								atoll(ie + 1), 0 });
					else
						pk_str(pk, ie + 1);
				} else if (eq) {
					*eq = 0;
					pk_str(pk, w);
					for (char *u = eq + 1; *u; u++)
						if (*u == '_')
							*u = ' ';
					if (!strcmp(eq + 1, "~"))
						msgpack_pack_nil(pk);
					else
						pk_str(pk, eq + 1);
				} else {
					cr_assert(hash);
					*hash = 0;
					pk_str(pk, w);
					if (!strcmp(hash + 1, "t"))
						msgpack_pack_true(pk);
					else
						msgpack_pack_uint32(
							pk, (uint32_t)atoi(hash + 1));
				}
			}
			which[n] = cases[i].which;
			data[n++] = &b;
		}
		tl_err err;
		int rc = import_data(which, data, n, cases[i].which + 1, &err);
		cr_expect_eq(rc, TL_EINVALID, "case %zu: %d %s", i, rc,
			     err.message);
		if (rc == TL_EINVALID) {
			cr_expect_str_eq(err.field, cases[i].field,
					 "case %zu: %s", i, err.message);
			cr_expect(strstr(err.message, cases[i].says),
				  "case %zu: %s", i, err.message);
			cr_expect_eq(err.index, (int)cases[i].which,
				     "case %zu", i);
		}
		msgpack_sbuffer_destroy(&a);
		msgpack_sbuffer_destroy(&b);
	}
	/* The fixture as written, task 0's data packed again, is taken. */
	msgpack_sbuffer a;
	msgpack_packer pa;
	msgpack_sbuffer_init(&a);
	msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
	pack_created(&pa, C_AS_WRITTEN);
	msgpack_sbuffer *d = &a;
	tl_err err;
	cr_assert_eq(import_data((size_t[]){ 4 }, &d, 1, 14, &err), 0, "%s",
		     err.message);
	msgpack_sbuffer_destroy(&a);
	/* A link id with spaces at its ends, which early releases took: its
	 * log imports. */
	msgpack_sbuffer_init(&a);
	pack_created(&pa, C_LINK_ID_SPACES);
	cr_assert_eq(import_data((size_t[]){ 4 }, &d, 1, 14, &err), 0, "%s",
		     err.message);
	msgpack_sbuffer_destroy(&a);
	/* Settings naming "admi", then "admin" added: not the admin they
	 * name, though its id begins with that one. */
	msgpack_sbuffer_init(&a);
	msgpack_pack_map(&pa, 4);
	pk_str(&pa, "format"); msgpack_pack_uint32(&pa, 1);
	pk_str(&pa, "tz"); pk_str(&pa, "Europe/Berlin");
	pk_str(&pa, "week_start"); pk_str(&pa, "monday");
	pk_str(&pa, "admin"); pk_str(&pa, "admi");
	cr_assert_eq(import_data((size_t[]){ 0 }, &d, 1, 2, &err), TL_EINVALID,
		     "%s", err.message);
	cr_assert_str_eq(err.field, "type", "%s", err.message);
	cr_assert(strstr(err.message, "event 2 must add the first admin the "
				      "settings name"), "%s", err.message);
	cr_assert_eq(err.index, 1);
	msgpack_sbuffer_destroy(&a);
}

/*
 * An auditor's walk-through: import --events took events no command
 * makes (a tag with a control character or invalid UTF-8, an "at" past
 * year 9999, a timestamp's nanoseconds past 10^9), verify called them
 * clean, and the JSON export of that workspace could not be imported.
 * Fixed in import.c (the folded state is checked as commands check it,
 * the time's range) and in both timestamp decoders.
 */
Test(fuzz_regress, import_refuses_a_task_state_no_command_makes)
{
	tl_err err;
	/* record 10 is task.tagged, tag "vip" */
	cr_assert_eq(import_patched("\xa3vip", "\xa3v\x7fp", 10, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "tag");
	cr_assert(strstr(err.message, "event 11 (task.tagged): tag "),
		  "%s", err.message);
	cr_assert_eq(err.index, 10);
	cr_assert_eq(import_patched("\xa3vip", "\xa3\xc0\xafp", 10, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "tag");
}

/* Record 1 (member.added) with its "at" as a 12-byte timestamp of sec and
 * nsec, chained after record 0; imported after it. */
static int import_at(uint64_t sec, uint32_t nsec, tl_err *err)
{
	char dir[] = "/tmp/tl-fuzzreg4-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	size_t at = find(r.rec[1], r.len[1], "\xa2" "at" "\xd6\xff", 5) + 3;
	uint8_t rec[1024];
	cr_assert_lt(r.len[1] + 9, sizeof rec);
	size_t len = at;
	memcpy(rec, r.rec[1], at);
	uint8_t ts[15] = { 0xc7, 0x0c, 0xff };
	tl_put_be32(ts + 3, nsec);
	tl_put_be64(ts + 7, sec);
	memcpy(rec + len, ts, sizeof ts);
	len += sizeof ts;
	memcpy(rec + len, r.rec[1] + at + 6, r.len[1] - at - 6);
	len += r.len[1] - at - 6;
	rehash(rec, len, r.rec[0], r.len[0]);
	const uint8_t *recs[2] = { r.rec[0], rec };
	size_t lens[2] = { r.len[0], len };
	int rc = tl_log_import(db, recs, lens, 2, err);
	cr_assert_eq(head(db), rc ? 0 : 2);
	free(r.buf);
	rm_ws(db, dir);
	return rc;
}

Test(fuzz_regress, import_refuses_a_time_out_of_range)
{
	tl_err err;
	/* 2026-01-01T00:00:00Z as 12 bytes: in range, but tasklog writes it
	 * in 4 (since 0.3.17; its JSON export made 4 and did not chain) */
	cr_assert_eq(import_at(1767225600, 0, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "event");
	cr_assert(strstr(err.message, "event 2 holds a time not as the "
				      "engine writes it"), "%s", err.message);
	/* 10000-01-01T00:00:00Z: 12 bytes is its form, out of range */
	cr_assert_eq(import_at(253402300800, 0, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "at");
	cr_assert_eq(err.index, 1);
	/* nanoseconds of 10^9: no timestamp (the msgpack spec) */
	cr_assert_eq(import_at(1767225600, 1000000000, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "event");
}

/* A stored record whose data nests n containers deep (a map holding a
 * chain of arrays). */
static size_t deep_record(uint8_t *buf, size_t cap, int n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 10);
	tl_pack_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, 1);
	tl_pack_cstr(&pk, "id");
	tl_pack_cstr(&pk, "0190f0a0-0000-7000-8000-000000000001");
	tl_pack_cstr(&pk, "type");
	tl_pack_cstr(&pk, "member.added");
	tl_pack_cstr(&pk, "stream");
	tl_pack_cstr(&pk, "member:bob");
	tl_pack_cstr(&pk, "version");
	msgpack_pack_uint64(&pk, 1);
	tl_pack_cstr(&pk, "at");
	tl_pack_time(&pk, 1700000000000);
	tl_pack_cstr(&pk, "actor");
	msgpack_pack_map(&pk, 2);
	tl_pack_cstr(&pk, "id");
	tl_pack_cstr(&pk, "admin");
	tl_pack_cstr(&pk, "kind");
	tl_pack_cstr(&pk, "user");
	tl_pack_cstr(&pk, "schema");
	msgpack_pack_uint64(&pk, TL_SCHEMA_VERSION);
	tl_pack_cstr(&pk, "data");
	msgpack_pack_map(&pk, 1);
	tl_pack_cstr(&pk, "x");
	for (int i = 1; i < n; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	tl_pack_cstr(&pk, "hash");
	uint8_t h[TL_HASH_LEN] = { 0 };
	msgpack_pack_bin(&pk, TL_HASH_LEN);
	msgpack_pack_bin_body(&pk, h, TL_HASH_LEN);
	cr_assert_leq(sb.size, cap);
	memcpy(buf, sb.data, sb.size);
	size_t len = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return len;
}

/* The decoder steps over data without msgpack_unpack; it still refuses
 * what msgpack_unpack refused: more than 32 open containers. */
Test(fuzz_regress, event_data_nested_past_msgpack_s_limit_is_refused)
{
	uint8_t buf[512];
	msgpack_zone zone;
	msgpack_sbuffer scratch;
	tl_event ev;
	msgpack_zone_init(&zone, 1024);
	msgpack_sbuffer_init(&scratch);
	size_t len = deep_record(buf, sizeof buf, 32);
	cr_assert_eq(tl_event_decode(buf, len, &ev, &zone, &scratch), 0,
		     "32 levels decode");
	cr_assert_gt(ev.data_len, 32);
	len = deep_record(buf, sizeof buf, 33);
	cr_assert_eq(tl_event_decode(buf, len, &ev, &zone, &scratch),
		     TL_ESTORAGE, "33 levels are refused");
	msgpack_zone_destroy(&zone);
	msgpack_sbuffer_destroy(&scratch);
}

/* fuzz_import: a task.assigned whose actor id held a NUL ("ad\0in") was
 * imported; the notification it made kept the whole id, a rebuild kept
 * "ad" (its buffer held C strings), and verify saw the two differ.  Import
 * now refuses an actor that is not a member id; the rebuild keeps the
 * length anyway. */
Test(fuzz_regress, import_refuses_an_actor_that_is_no_member_id)
{
	char dir[] = "/tmp/tl-fuzzreg4-XXXXXX";
	tl_db *db = open_ws(dir);
	const size_t which = 8; /* task.assigned, by admin */
	patched x;
	patch(&x, "admin", "ad\0in", 5, which);
	tl_err err;
	cr_assert_eq(tl_log_import(db, x.recs, x.lens, which + 1, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "actor");
	cr_assert_eq(err.index, (int)which);
	/* an actor of a kind that is neither user nor system */
	patched y;
	patch(&y, "user", "robo", 4, which);
	cr_assert_eq(tl_log_import(db, y.recs, y.lens, which + 1, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "actor");
	free(y.p);
	free(y.r.buf);
	cr_assert_eq(head(db), 0, "nothing is appended");
	/* the records before it import, and verify clean */
	cr_assert_eq(tl_log_import(db, x.recs, x.lens, which, &err), 0, "%s",
		     err.message);
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_verify(db, &ctx, problem, NULL, &err), 0);
	free(x.p);
	free(x.r.buf);
	rm_ws(db, dir);
}

/* Records of one workspace's log, copied (the callback of tl_log_read). */
struct kept {
	uint8_t *p[16];
	size_t len[16];
	size_t n;
};

static int keep_event(void *arg, const tl_event *ev)
{
	struct kept *k = arg;
	cr_assert_lt(k->n, 16);
	k->p[k->n] = malloc(ev->raw_len);
	cr_assert_not_null(k->p[k->n]);
	memcpy(k->p[k->n], ev->raw, ev->raw_len);
	k->len[k->n++] = ev->raw_len;
	return 0;
}

static void kept_free(struct kept *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->p[i]);
	k->n = 0;
}

/* k's records imported into b are refused, TL_EINVALID, field at record
 * k->n - 1, with a message holding says (NULL: any); none imported. */
static void refused_at_last(tl_db *b, const struct kept *k,
			    const char *field, const char *says)
{
	tl_err err;
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)k->p, k->len,
				   k->n, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, field, "%s", err.message);
	cr_assert(!says || strstr(err.message, says), "%s", err.message);
	cr_assert_eq(err.index, (int)(k->n - 1));
	cr_assert(!tl_db_initialized(b), "part of the log was imported");
}

/* In workspace a, made now: bob added as "Bob" and renamed name; the
 * log's records into k. */
static void bob_renamed(tl_db *a, const char *name, struct kept *k)
{
	tl_err err;
	tl_init_opts io = { .now_ms = 1700000000000 };
	cr_assert_eq(tl_db_init(a, &io, &err), 0, "%s", err.message);
	tl_cmd cmds[2] = {
		{ .kind = TL_MEMBER_ADD, .id = tl_s("bob"),
		  .name = tl_s("Bob"), .crm_access = 1 },
		{ .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		  .name = tl_s(name) },
	};
	tl_ctx ctx = { .now_ms = 1700000001000 };
	cr_assert_eq(tl_exec(a, &ctx, cmds, 2, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_read(a, NULL, 1, 0, (tl_slice){ 0 }, keep_event,
				 k, &err),
		     0, "%s", err.message);
}

/* Import checks every stream's versions, members' too (a task's would
 * also fail its fold; a member's has none to fail): a member.updated
 * whose version skips one, chained correctly, is refused, field
 * "version", and nothing is imported. */
Test(fuzz_regress, import_refuses_a_member_event_out_of_version_order)
{
	char da[] = "/tmp/tl-fuzzreg5-XXXXXX", dbb[] = "/tmp/tl-fuzzreg6-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	struct kept k = { 0 };
	bob_renamed(a, "Bobby", &k);
	size_t last = k.n - 1;
	size_t v = find(k.p[last], k.len[last], "\xa7" "version", 8) + 8;
	cr_assert_eq(k.p[last][v], 2);
	k.p[last][v] = 3;
	rehash(k.p[last], k.len[last], k.p[last - 1], k.len[last - 1]);
	refused_at_last(b, &k, "version", NULL);
	/* one that repeats the version before it: refused alike */
	k.p[last][v] = 1;
	rehash(k.p[last], k.len[last], k.p[last - 1], k.len[last - 1]);
	refused_at_last(b, &k, "version", "has stream version 1, expected 2");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A member.updated as member update writes it: a change of each field
 * it names (none that changes nothing), the member's values before it
 * as its previous ones, and no field but name, role and crm_access
 * (since 0.3.23; the history showed what the fold ignored). */
Test(fuzz_regress, import_refuses_a_member_update_no_command_makes)
{
	static const struct {
		const char *from, *to, *field, *says;
	} cases[] = {
		{ "\xa3Rob", "\xa3" "Bob", "name", "is what the member held" },
		{ "\xa3" "Bob", "\xa3Tom", "previous",
		  "is not the member's name before it" },
		{ "\xa4name", "\xa4kind", "changes",
		  "holds 'kind', which no command writes there" },
		/* bytes for the name: the fold passed over it */
		{ "\xa3Rob", "\xc4\x02Ro", "name", "is not text" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char da[] = "/tmp/tl-fuzzreg14-XXXXXX",
		     dbb[] = "/tmp/tl-fuzzreg15-XXXXXX";
		tl_db *a = open_ws(da), *b = open_ws(dbb);
		tl_err err;
		struct kept k = { 0 };
		bob_renamed(a, "Rob", &k);
		size_t last = k.n - 1;
		/* as written it imports */
		if (i == 0) {
			char dc[] = "/tmp/tl-fuzzreg16-XXXXXX";
			tl_db *c = open_ws(dc);
			cr_assert_eq(tl_log_import(c, (const uint8_t *const *)k.p,
						   k.len, k.n, &err),
				     0, "%s", err.message);
			rm_ws(c, dc);
		}
		size_t at = find(k.p[last], k.len[last], cases[i].from,
				 strlen(cases[i].from));
		memcpy(k.p[last] + at, cases[i].to, strlen(cases[i].to));
		rehash(k.p[last], k.len[last], k.p[last - 1], k.len[last - 1]);
		cr_assert_eq(tl_log_import(b, (const uint8_t *const *)k.p,
					   k.len, k.n, &err),
			     TL_EINVALID, "case %zu", i);
		cr_expect_str_eq(err.field, cases[i].field, "case %zu: %s", i,
				 err.message);
		cr_expect(strstr(err.message, cases[i].says), "case %zu: %s",
			  i, err.message);
		cr_expect(strstr(err.message, "(member.updated)"), "%s",
			  err.message);
		cr_assert_eq(err.index, (int)last);
		cr_assert(!tl_db_initialized(b), "part of the log was imported");
		for (size_t j = 0; j < k.n; j++)
			free(k.p[j]);
		rm_ws(a, da);
		rm_ws(b, dbb);
	}
}

/* A's log: bob added, a task assigned to bob by the admin (bob's
 * notification, seq *note), the task retitled (seq *other), bob's read of
 * his notification last; its records into k. */
static void bob_read_his_notification(tl_db *a, struct kept *k,
				      uint64_t *note, uint64_t *other)
{
	tl_err err;
	tl_result res;
	bob_renamed(a, "Bob", k); /* a no-op rename: bob added, no event */
	kept_free(k);
	const char *id = "01890a5d-ac96-774b-bcce-b30209abcdef";
	tl_cmd add = { .kind = TL_TASK_ADD, .id = tl_s(id),
		       .title = tl_s("Call"), .link = tl_s("lead:1"),
		       .assignee = tl_s("bob") };
	tl_ctx ctx = { .now_ms = 1700000002000 };
	cr_assert_eq(tl_exec(a, &ctx, &add, 1, &res, &err), 0, "%s",
		     err.message);
	*note = res.seq;
	tl_cmd up = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
		      .title = tl_s("Call back") };
	tl_result_release(&res);
	cr_assert_eq(tl_exec(a, &ctx, &up, 1, &res, &err), 0, "%s",
		     err.message);
	*other = res.seq;
	tl_result_release(&res);
	char seq[24];
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)*note);
	tl_slice ids[1] = { tl_s(seq) };
	tl_cmd rd = { .kind = TL_NOTIFICATIONS_READ, .ids = ids,
		      .ids_len = 1 };
	tl_ctx bob = { .now_ms = 1700000003000, .actor = "bob" };
	cr_assert_eq(tl_exec(a, &bob, &rd, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_read(a, NULL, 1, 0, (tl_slice){ 0 }, keep_event,
				 k, &err),
		     0, "%s", err.message);
	size_t last = k->n - 1;
	cr_assert(find(k->p[last], k->len[last], "notification.read", 17));
}

/* k's last record with the ids of its notification.read replaced by
 * ids[0..n) and its hash made again. */
static void read_ids(struct kept *k, const uint64_t *ids, size_t n)
{
	msgpack_sbuffer d;
	msgpack_packer pk;
	size_t last = k->n - 1, nl;
	msgpack_sbuffer_init(&d);
	msgpack_packer_init(&pk, &d, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "member");
	pk_str(&pk, "bob");
	pk_str(&pk, "ids");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_uint64(&pk, ids[i]);
	uint8_t *p = with_data(k->p[last], k->len[last], &d, &nl);
	rehash(p, nl, k->p[last - 1], k->len[last - 1]);
	free(k->p[last]);
	k->p[last] = p;
	k->len[last] = nl;
	msgpack_sbuffer_destroy(&d);
}

/* A notification.read of no ids, which `notifications read` has always
 * refused, is refused by import too, field "ids" (since 0.3.23; a
 * walk-through imported one). */
Test(fuzz_regress, import_refuses_a_read_of_no_notifications)
{
	char da[] = "/tmp/tl-fuzzreg17-XXXXXX", dbb[] = "/tmp/tl-fuzzreg18-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	struct kept k = { 0 };
	uint64_t note, other;
	bob_read_his_notification(a, &k, &note, &other);
	read_ids(&k, NULL, 0); /* the same, ids [] */
	refused_at_last(b, &k, "ids", "(notification.read): ids is empty");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A notification.read names notifications of its member, at most 1000,
 * as the command reads them (since 0.3.45; a review forged reads of a
 * task.updated, of an event past the log and of 1001 ids, and import
 * and verify --replay took them).  An id named twice, or one read
 * already, is taken: the first releases and those before 0.3.13 wrote
 * such. */
Test(fuzz_regress, import_refuses_a_read_of_what_is_no_notification)
{
	char da[] = "/tmp/tl-fuzzreg40-XXXXXX";
	tl_db *a = open_ws(da);
	struct kept k = { 0 };
	uint64_t note, other;
	bob_read_his_notification(a, &k, &note, &other);
	uint64_t many[TL_IDS_MAX + 1];
	for (size_t i = 0; i <= TL_IDS_MAX; i++)
		many[i] = note;
	const struct {
		uint64_t ids[2];
		size_t n;
		bool ok;
	} cases[] = {
		{ { note, 0 }, 1, true },
		{ { note, note }, 2, true },      /* the first releases */
		{ { other, 0 }, 1, false },       /* a task.updated */
		{ { note, 999 }, 2, false },      /* past the log */
		{ { 1, 0 }, 1, false },           /* the settings */
		{ { 0, 0 }, 0, true },            /* TL_IDS_MAX: below */
		{ { 0, 0 }, 0, false },           /* TL_IDS_MAX + 1 */
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		char db_[] = "/tmp/tl-fuzzreg41-XXXXXX";
		tl_db *b = open_ws(db_);
		tl_err err;
		if (cases[c].n)
			read_ids(&k, cases[c].ids, cases[c].n);
		else
			read_ids(&k, many, TL_IDS_MAX + !cases[c].ok);
		int rc = tl_log_import(b, (const uint8_t *const *)k.p, k.len,
				       k.n, &err);
		if (cases[c].ok) {
			cr_assert_eq(rc, 0, "case %zu: %s", c, err.message);
			cr_assert_eq(head(b), k.n);
		} else {
			refused_at_last(b, &k, "ids",
					cases[c].n ? "no notification of the "
						     "member"
						   : "more than 1000");
		}
		rm_ws(b, db_);
	}
	kept_free(&k);
	rm_ws(a, da);
}

/* A notification of a task deleted before the read is none (the command
 * says not found): a forged read of it is refused. */
Test(fuzz_regress, import_refuses_a_read_of_a_deleted_tasks_notification)
{
	char da[] = "/tmp/tl-fuzzreg42-XXXXXX", dbb[] = "/tmp/tl-fuzzreg43-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	tl_err err;
	tl_result res;
	struct kept k = { 0 };
	bob_renamed(a, "Bob", &k);
	kept_free(&k);
	const char *id = "01890a5d-ac96-774b-bcce-b30209abcdef";
	tl_cmd add = { .kind = TL_TASK_ADD, .id = tl_s(id),
		       .title = tl_s("Call"), .link = tl_s("lead:1"),
		       .assignee = tl_s("bob") };
	tl_ctx ctx = { .now_ms = 1700000002000 };
	cr_assert_eq(tl_exec(a, &ctx, &add, 1, &res, &err), 0, "%s",
		     err.message);
	uint64_t note = res.seq;
	tl_cmd del = { .kind = TL_TASK_DELETE, .id = tl_s(id) };
	tl_result_release(&res);
	cr_assert_eq(tl_exec(a, &ctx, &del, 1, NULL, &err), 0, "%s",
		     err.message);
	/* a member event to forge into bob's read: bob renamed */
	tl_cmd ren = { .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		       .name = tl_s("Bobby") };
	cr_assert_eq(tl_exec(a, &ctx, &ren, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_read(a, NULL, 1, 0, (tl_slice){ 0 }, keep_event,
				 &k, &err),
		     0, "%s", err.message);
	/* the rename made bob's read of his notification: its type and
	 * data changed, version and stream kept */
	size_t last = k.n - 1;
	size_t at = find(k.p[last], k.len[last], "member.updated", 14);
	uint8_t *p = malloc(k.len[last] + 3);
	cr_assert(p);
	memcpy(p, k.p[last], at - 1);
	p[at - 1] = 0xa0 | 17;
	memcpy(p + at, "notification.read", 17);
	memcpy(p + at + 17, k.p[last] + at + 14, k.len[last] - at - 14);
	free(k.p[last]);
	k.p[last] = p;
	k.len[last] += 3;
	read_ids(&k, &note, 1);
	refused_at_last(b, &k, "ids", NULL);
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A task.created's tags are a set, as every release's command wrote
 * them: one that names a tag twice is refused, field "tags" (since
 * 0.3.45; a review imported one). */
Test(fuzz_regress, import_refuses_a_task_created_with_a_tag_twice)
{
	char da[] = "/tmp/tl-fuzzreg44-XXXXXX", dbb[] = "/tmp/tl-fuzzreg45-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	tl_err err;
	struct kept k = { 0 };
	bob_renamed(a, "Bob", &k);
	kept_free(&k);
	tl_slice tags[2] = { tl_s("vip"), tl_s("hot") };
	tl_cmd add = { .kind = TL_TASK_ADD, .title = tl_s("Call"),
		       .link = tl_s("lead:1"), .tags = tags, .tags_len = 2 };
	tl_ctx ctx = { .now_ms = 1700000002000 };
	cr_assert_eq(tl_exec(a, &ctx, &add, 1, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_read(a, NULL, 1, 0, (tl_slice){ 0 }, keep_event,
				 &k, &err),
		     0, "%s", err.message);
	size_t last = k.n - 1;
	size_t at = find(k.p[last], k.len[last], "\xa3" "hot", 4);
	memcpy(k.p[last] + at + 1, "vip", 3);
	rehash(k.p[last], k.len[last], k.p[last - 1], k.len[last - 1]);
	refused_at_last(b, &k, "tags", "holds 'vip' twice");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A log begins as init makes it: event 1 the settings, event 2 the first
 * admin they name.  A chained log that begins otherwise is refused:
 * imported, it would leave a workspace every command calls damaged. */
Test(fuzz_regress, a_log_begins_with_its_settings_and_first_admin)
{
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	/* the fixture's record 3 (task.created, seq 3) as seq 1 */
	uint8_t *t = copy_rec(&r, 2);
	cr_assert_eq(t[5], 3, "seq is not where this test expects it");
	t[5] = 1;
	tl_event_hash((const uint8_t[TL_HASH_LEN]){ 0 }, t, r.len[2],
		      t + r.len[2] - TL_HASH_LEN);
	char dir[] = "/tmp/tl-fuzzreg9-XXXXXX";
	tl_db *db = open_ws(dir);
	const uint8_t *recs[2] = { t };
	size_t lens[2] = { r.len[2] };
	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 1, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "type");
	cr_assert(strstr(err.message, "event 1 must be"), "%s", err.message);
	cr_assert_eq(head(db), 0);

	/* the settings, then that task as seq 2 */
	t[5] = 2;
	rehash(t, r.len[2], r.rec[0], r.len[0]);
	recs[0] = r.rec[0];
	lens[0] = r.len[0];
	recs[1] = t;
	lens[1] = r.len[2];
	cr_assert_eq(tl_log_import(db, recs, lens, 2, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "type");
	cr_assert_eq(err.index, 1);
	cr_assert(strstr(err.message, "event 2 must add the first admin"),
		  "%s", err.message);
	cr_assert_eq(head(db), 0);
	/* the settings alone: their admin must come in the same commit */
	cr_assert_eq(tl_log_import(db, recs, lens, 1, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "type");
	cr_assert(strstr(err.message, "first admin"), "%s", err.message);
	cr_assert_eq(head(db), 0);
	/* as init wrote it, it is taken */
	recs[1] = r.rec[1];
	lens[1] = r.len[1];
	cr_assert_eq(tl_log_import(db, recs, lens, 2, &err), 0, "%s",
		     err.message);
	rm_ws(db, dir);
	free(t);
	free(r.buf);
}

/*
 * fuzz_import: a log of its first event alone (the workspace's settings,
 * without event 2, its first admin) was refused with no record index:
 * the index was set before tl_err_set, which clears it.  Fixed in
 * import.c (whole_start): the index, the last record's, is set after.
 * Through tl_log_import and tl_txn_import alike.
 */
Test(fuzz_regress, import_of_the_first_event_alone_names_the_record)
{
	char dir[] = "/tmp/tl-fuzzreg7-XXXXXX";
	tl_db *db = open_ws(dir);
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	const uint8_t *recs[1] = { r.rec[0] };
	size_t lens[1] = { r.len[0] };

	tl_err err;
	cr_assert_eq(tl_log_import(db, recs, lens, 1, &err), TL_EINVALID);
	cr_assert_eq(err.index, 0);
	cr_assert_str_eq(err.field, "type");
	cr_assert(strstr(err.message, "first admin"), "%s", err.message);
	cr_assert_eq(head(db), 0);

	tl_txn *t;
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	cr_assert_eq(tl_txn_import(t, recs, lens, 1, &err), TL_EINVALID);
	cr_assert_eq(err.index, 0);
	cr_assert_str_eq(err.field, "type");
	tl_txn_abort(t);
	cr_assert_eq(head(db), 0);
	/* both, in one commit, are taken (the command line refuses fewer
	 * than two before it calls the engine, since 0.3.24: this is the
	 * engine's own check) */
	const uint8_t *both[2] = { r.rec[0], r.rec[1] };
	size_t both_lens[2] = { r.len[0], r.len[1] };
	cr_assert_eq(tl_log_import(db, both, both_lens, 2, &err), 0, "%s",
		     err.message);
	cr_assert_eq(head(db), 2);
	free(r.buf);
	rm_ws(db, dir);
}

/*
 * Member events too must be ones the member commands make: a name with
 * a control character or invalid UTF-8, a role other than admin or
 * member, the system user added, or a first admin without CRM access
 * were all taken, and the last made every admin command of the imported
 * workspace refused.
 */
Test(fuzz_regress, import_refuses_a_member_no_command_makes)
{
	tl_err err;
	/* record 2 adds alice, "Alice Example", role member */
	cr_assert_eq(import_patched("\xad" "Alice Example", "\xad" "Alice\x07" "Example",
				    2, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "name");
	cr_assert(strstr(err.message, "event 3 (member.added): name "),
		  "%s", err.message);
	cr_assert_eq(err.index, 2);
	cr_assert_eq(import_patched("\xad" "Alice Example", "\xad" "Alice\xc0xample",
				    2, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "name");
	/* a name of spaces alone, which releases before 0.3.11 took: taken */
	{
		char dir[] = "/tmp/tl-fuzzreg8-XXXXXX";
		tl_db *db = open_ws(dir);
		patched x;
		patch(&x, "\xad" "Alice Example", "\xad" "             ", 14, 2);
		cr_assert_eq(tl_log_import(db, x.recs, x.lens, 3, &err), 0,
			     "%s", err.message);
		cr_assert_eq(head(db), 3);
		free(x.p);
		free(x.r.buf);
		rm_ws(db, dir);
	}
	cr_assert_eq(import_patched("\xa6member", "\xa6mentor", 2, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "role");
	/* the system user is no member to add: record 2 made to add it */
	{
		char dir[] = "/tmp/tl-fuzzreg7-XXXXXX";
		tl_db *db = open_ws(dir);
		tu_records r;
		tu_load_records(FIXTURES "/log-v2.msgpack", &r);
		static const char *const from[2] = { "\xac" "member:alice",
						     "\xa5" "alice" };
		static const char *const to[2] = {
			"\xb6" "member:parsa-assistant", "\xaf" "parsa-assistant"
		};
		uint8_t rec[1024];
		size_t len = r.len[2];
		cr_assert_lt(len + 40, sizeof rec);
		memcpy(rec, r.rec[2], len);
		for (int i = 0; i < 2; i++) {
			size_t at = find(rec, len, from[i], strlen(from[i]));
			size_t nf = strlen(from[i]), nt = strlen(to[i]);
			memmove(rec + at + nt, rec + at + nf, len - at - nf);
			memcpy(rec + at, to[i], nt);
			len += nt - nf;
		}
		rehash(rec, len, r.rec[1], r.len[1]);
		const uint8_t *recs[3] = { r.rec[0], r.rec[1], rec };
		size_t lens[3] = { r.len[0], r.len[1], len };
		cr_assert_eq(tl_log_import(db, recs, lens, 3, &err), TL_EINVALID,
			     "%s", err.message);
		cr_assert_str_eq(err.field, "id");
		cr_assert(strstr(err.message, "is the system user"), "%s",
			  err.message);
		cr_assert_eq(head(db), 0);
		free(r.buf);
		rm_ws(db, dir);
	}
	/* record 1 adds the first admin: with CRM access, as init does */
	cr_assert_eq(import_patched("\xaa" "crm_access\xc3",
				    "\xaa" "crm_access\xc2", 1, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "crm_access");
	cr_assert_eq(err.index, 1);
}

/* A log made by the commands: init (admin), boss added as an admin,
 * then admin made a member; boss's record patched to have no CRM access
 * and the chain after it rehashed.  The last record then takes the last
 * admin with CRM access: refused. */
Test(fuzz_regress, import_refuses_taking_the_last_admin)
{
	char src[] = "/tmp/tl-fuzzreg5-XXXXXX", dst[] = "/tmp/tl-fuzzreg6-XXXXXX";
	tl_db *a = open_ws(src), *b;
	tl_err err;
	tl_cmd c[2] = { { .kind = TL_MEMBER_ADD }, { .kind = TL_MEMBER_UPDATE } };
	tl_result res[2];
	c[0].id = tl_s("boss");
	c[0].name = tl_s("The Boss");
	c[0].role = tl_s("admin");
	c[1].id = tl_s("admin");
	c[1].role = tl_s("member");
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_db_init(a, &(tl_init_opts){ .tz = "UTC" }, &err), 0,
		     "%s", err.message);
	cr_assert_eq(tl_exec(a, &ctx, c, 2, res, &err), 0, "%s", err.message);
	tl_result_release(&res[0]);
	tl_result_release(&res[1]);

	struct kept r = { .n = 0 };
	cr_assert_eq(tl_log_read(a, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				 &r, &err), 0, "%s", err.message);
	cr_assert_eq(r.n, 4);
	/* as written, with boss an admin with CRM access left: taken */
	{
		char dc[] = "/tmp/tl-fuzzreg17-XXXXXX";
		tl_db *whole = open_ws(dc);
		cr_assert_eq(tl_log_import(whole, (const uint8_t *const *)r.p,
					   r.len, r.n, &err),
			     0, "%s", err.message);
		cr_assert_eq(head(whole), 4);
		rm_ws(whole, dc);
	}
	/* record 2 adds boss: no CRM access, then the chain rehashed */
	size_t at = find(r.p[2], r.len[2], "\xaa" "crm_access\xc3", 12);
	r.p[2][at + 11] = 0xc2;
	for (size_t i = 2; i < r.n; i++)
		rehash(r.p[i], r.len[i], r.p[i - 1], r.len[i - 1]);
	b = open_ws(dst);
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)r.p, r.len, r.n,
				   &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "role", "%s", err.message);
	cr_assert_eq(err.index, 3);
	cr_assert(strstr(err.message, "'admin' is the last admin with CRM "
				      "access"), "%s", err.message);
	cr_assert_eq(head(b), 0, "nothing is appended");
	/* the first three are a workspace, with boss an admin without
	 * access: taken */
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)r.p, r.len, 3,
				   &err), 0, "%s", err.message);
	for (size_t i = 0; i < r.n; i++)
		free(r.p[i]);
	rm_ws(b, dst);
	rm_ws(a, src);
}

/* A member renamed to nothing, which member update refuses, is refused
 * by import too, field "name" (an empty name was taken when only a
 * member.added's name was checked for it). */
Test(fuzz_regress, import_refuses_a_member_renamed_to_nothing)
{
	char da[] = "/tmp/tl-fuzzreg18-XXXXXX", dbb[] = "/tmp/tl-fuzzreg19-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	struct kept k = { 0 };
	bob_renamed(a, "Rob", &k);
	size_t last = k.n - 1;
	uint8_t *p = k.p[last];
	/* changes{name: "Rob"} made changes{name: ""} */
	size_t at = find(p, k.len[last], "\xa3Rob", 4);
	memmove(p + at + 1, p + at + 4, k.len[last] - at - 4);
	p[at] = 0xa0;
	k.len[last] -= 3;
	rehash(p, k.len[last], k.p[last - 1], k.len[last - 1]);
	refused_at_last(b, &k, "name",
			"(member.updated): name must not be empty");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A member.updated of a member no event added (its stream renamed, the
 * first of that stream) is the record's fault: refused, field "data",
 * TL_EINVALID; no storage error of the workspace. */
Test(fuzz_regress, import_refuses_an_update_of_a_member_never_added)
{
	char da[] = "/tmp/tl-fuzzreg20-XXXXXX", dbb[] = "/tmp/tl-fuzzreg21-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	struct kept k = { 0 };
	bob_renamed(a, "Rob", &k);
	size_t last = k.n - 1;
	uint8_t *p = k.p[last];
	p[find(p, k.len[last], "member:bob", 10) + 9] = 'x';
	size_t v = find(p, k.len[last], "\xa7" "version", 8) + 8;
	cr_assert_eq(p[v], 2);
	p[v] = 1;
	rehash(p, k.len[last], k.p[last - 1], k.len[last - 1]);
	refused_at_last(b, &k, "data",
			"(member.updated) has data this release cannot fold");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}

/* A task made for a member without CRM access, which task add refuses
 * (a log of the commands, carol's record patched to have no access and
 * the chain after it rehashed): refused, field "assignee". */
Test(fuzz_regress, import_refuses_a_task_for_a_member_without_access)
{
	char src[] = "/tmp/tl-fuzzreg22-XXXXXX", dst[] = "/tmp/tl-fuzzreg23-XXXXXX";
	tl_db *a = open_ws(src), *b = open_ws(dst);
	tl_err err;
	tl_cmd c[2] = { { .kind = TL_MEMBER_ADD }, { .kind = TL_TASK_ADD } };
	c[0].id = tl_s("carol");
	c[0].name = tl_s("Carol");
	c[0].crm_access = 1;
	c[1].title = tl_s("Call Dana");
	c[1].assignee = tl_s("carol");
	c[1].link = tl_s("lead:42");
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_db_init(a, &(tl_init_opts){ .tz = "UTC" }, &err), 0,
		     "%s", err.message);
	cr_assert_eq(tl_exec(a, &ctx, c, 2, NULL, &err), 0, "%s", err.message);
	struct kept r = { .n = 0 };
	cr_assert_eq(tl_log_read(a, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				 &r, &err), 0, "%s", err.message);
	cr_assert_eq(r.n, 4);
	size_t at = find(r.p[2], r.len[2], "\xaa" "crm_access\xc3", 12);
	r.p[2][at + 11] = 0xc2;
	for (size_t i = 2; i < r.n; i++)
		rehash(r.p[i], r.len[i], r.p[i - 1], r.len[i - 1]);
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)r.p, r.len, r.n,
				   &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "assignee", "%s", err.message);
	cr_assert(strstr(err.message, "event 4 (task.created): assignee "
				      "member 'carol' had no CRM access"),
		  "%s", err.message);
	cr_assert_eq(err.index, 3);
	cr_assert_eq(head(b), 0, "nothing is appended");
	for (size_t i = 0; i < r.n; i++)
		free(r.p[i]);
	rm_ws(b, dst);
	rm_ws(a, src);
}

/* Only init's two events come before the members: the first event after
 * them (a task admin adds, its actor made "ghost") is refused, field
 * "actor". */
Test(fuzz_regress, import_refuses_a_non_member_actor_right_after_init)
{
	char src[] = "/tmp/tl-fuzzreg25-XXXXXX", dst[] = "/tmp/tl-fuzzreg26-XXXXXX";
	tl_db *a = open_ws(src), *b = open_ws(dst);
	tl_err err;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("Call Dana"),
		     .link = tl_s("lead:42") };
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_db_init(a, &(tl_init_opts){ .tz = "UTC" }, &err), 0,
		     "%s", err.message);
	cr_assert_eq(tl_exec(a, &ctx, &c, 1, NULL, &err), 0, "%s", err.message);
	struct kept r = { .n = 0 };
	cr_assert_eq(tl_log_read(a, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				 &r, &err), 0, "%s", err.message);
	cr_assert_eq(r.n, 3);
	memcpy(r.p[2] + find(r.p[2], r.len[2], "\xa5" "admin", 6) + 1, "ghost",
	       5);
	rehash(r.p[2], r.len[2], r.p[1], r.len[1]);
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)r.p, r.len, r.n,
				   &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "actor", "%s", err.message);
	cr_assert(strstr(err.message, "event 3: actor 'ghost' is no member"),
		  "%s", err.message);
	cr_assert_eq(err.index, 2);
	cr_assert_eq(head(b), 0, "nothing is appended");
	for (size_t i = 0; i < r.n; i++)
		free(r.p[i]);
	rm_ws(b, dst);
	rm_ws(a, src);
}

/* A copy of task.tagged record `src` (of the tag "t63") as the next
 * event after `prev`: tag `tag` (3 bytes), seq, version, its id's last
 * digit changed, rehashed.  malloc'd, *len its length. */
static uint8_t *next_tagged(const uint8_t *src, size_t n, const uint8_t *prev,
			    size_t prev_len, const char *tag, uint8_t seq,
			    uint8_t version, int k)
{
	uint8_t *p = malloc(n);
	cr_assert(p);
	memcpy(p, src, n);
	p[find(p, n, "\xa3t63", 4) + 1 + 2] = (uint8_t)tag[2];
	p[find(p, n, "\xa3seq", 4) + 4] = seq;
	p[find(p, n, "\xa7version", 8) + 8] = version;
	/* the k-th hex digit that is not the original id's last one */
	uint8_t *last = p + find(p, n, "\xa2id\xd9\x24", 5) + 5 + 35;
	const char *hex = "0123456789abcdef";
	for (const char *h = hex; *h; h++)
		if ((uint8_t)*h != *last && k-- == 0) {
			*last = (uint8_t)*h;
			break;
		}
	rehash(p, n, prev, prev_len);
	return p;
}

static int count_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	++*(size_t *)arg;
	return 0;
}

/*
 * A release before 0.3.6 took more than 64 tags on a task; `tasks` view
 * 8 (the tag dimension G) first kept the keys of 64 of them, so a task
 * of such a workspace upgraded in place was not listed under its 65th
 * tag (found by a review).  Here the log and the task's state get two
 * more tags by hand, as that release wrote them; the open rebuilds the
 * views (a rebuild's load), then a command on the task applies its
 * change (an append's apply): the task is listed under every tag, and
 * verify is clean.
 */
Test(fuzz_regress, a_task_with_more_than_64_tags_is_listed_under_each)
{
	char dir[] = "/tmp/tl-fuzzreg9-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	tl_ctx ctx = { .actor = "admin", .now_ms = 1767225600000 };
	tl_init_opts io = { .now_ms = 1767225600000 };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
	char names[64][4];
	tl_slice tg[64];
	for (int i = 0; i < 64; i++) {
		snprintf(names[i], sizeof names[i], "t%02d", i);
		tg[i] = tl_s(names[i]);
	}
	tl_cmd c[3] = {
		{ .kind = TL_TASK_ADD, .title = tl_s("many"),
		  .link = tl_s("lead:1"), .type = tl_s("call"), .tags = tg,
		  .tags_len = 64 },
		{ .kind = TL_TASK_UNTAG, .tags = &tg[63], .tags_len = 1 },
		{ .kind = TL_TASK_TAG, .tags = &tg[63], .tags_len = 1 },
	};
	tl_result res;
	tl_task t;
	char id[37];
	cr_assert_eq(tl_exec(db, &ctx, &c[0], 1, &res, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_task_decode(res.doc, res.doc_len, &t), 0);
	tl_uuid_format(t.id, id);
	uint8_t tid[16];
	memcpy(tid, t.id, 16);
	tl_task_release(&t);
	tl_result_release(&res);
	for (int i = 1; i < 3; i++) {
		c[i].id = tl_s(id);
		cr_assert_eq(tl_exec(db, &ctx, &c[i], 1, &res, &err), 0, "%s",
			     err.message);
		tl_result_release(&res);
	}
	struct kept r = { .n = 0 };
	cr_assert_eq(tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				 &r, &err), 0, "%s", err.message);
	cr_assert_eq(r.n, 5, "init, admin, created, untagged, tagged");
	tl_db_close(db);

	/* seqs 6 and 7, the task's versions 4 and 5: tags t64 and t65 */
	size_t n = r.len[4];
	uint8_t *e6 = next_tagged(r.p[4], n, r.p[4], n, "t64", 6, 4, 0);
	uint8_t *e7 = next_tagged(r.p[4], n, e6, n, "t65", 7, 5, 1);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ev, st, tk;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, 64 << 20), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "events", 0, &ev), 0);
	cr_assert_eq(mdb_dbi_open(txn, "streams", MDB_DUPSORT | MDB_DUPFIXED,
				  &st), 0);
	cr_assert_eq(mdb_dbi_open(txn, "tasks", 0, &tk), 0);
	const uint8_t *recs[2] = { e6, e7 };
	for (int i = 0; i < 2; i++) {
		uint8_t kb[8], sk[17], sv[12];
		tl_put_be64(kb, 6 + i);
		MDB_val k = { 8, kb }, v = { n, (void *)recs[i] };
		cr_assert_eq(mdb_put(txn, ev, &k, &v, MDB_APPEND), 0);
		sk[0] = 'T';
		memcpy(sk + 1, tid, 16);
		tl_put_be32(sv, 4 + i);
		tl_put_be64(sv + 4, 6 + i);
		MDB_val skv = { 17, sk }, svv = { 12, sv };
		cr_assert_eq(mdb_put(txn, st, &skv, &svv, 0), 0);
	}
	/* the task's state: its tags array (array 16) two longer, with
	 * t64 and t65 after t63, and its version 5 */
	MDB_val k = { 16, tid }, v;
	cr_assert_eq(mdb_get(txn, tk, &k, &v), 0);
	uint8_t doc[4096];
	size_t dl = v.mv_size;
	cr_assert_lt(dl + 8, sizeof doc);
	memcpy(doc, v.mv_data, dl);
	size_t a = find(doc, dl, "\xa4tags\xdc\x00\x40", 8);
	doc[a + 7] = 0x42;
	size_t end = find(doc, dl, "\xa3t63", 4) + 4;
	memmove(doc + end + 8, doc + end, dl - end);
	memcpy(doc + end, "\xa3t64\xa3t65", 8);
	dl += 8;
	doc[find(doc, dl, "\xa7version", 8) + 8] = 5;
	v = (MDB_val){ dl, doc };
	cr_assert_eq(mdb_put(txn, tk, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	/* the open rebuilds the views the events were appended without */
	tl_open_opts o = { .flags = TL_OPEN_NOSYNC };
	o.views = tl_views_all(&o.views_len);
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	static const char *const want[] = { "t00", "t63", "t64", "t65" };
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < 4; i++) {
			tl_slice q1 = tl_s(want[i]);
			tl_list_query q = { .tags = &q1, .tags_len = 1 };
			char next[TL_CURSOR_MAX];
			size_t found = 0;
			cr_assert_eq(tl_task_list(db, &ctx, &q, count_doc, &found,
						  next, &err),
				     0, "%s", err.message);
			cr_assert_eq(found, 1, "round %d: tag %s", round,
				     want[i]);
		}
		/* an append's apply on the task: its keys, 66 tags' worth,
		 * rewritten (a due date changes every value) */
		tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(id),
			     .due = tl_s(round ? "2026-03-04T10:00:00Z"
					       : "2026-03-03T10:00:00Z") };
		cr_assert_eq(tl_exec(db, &ctx, &u, 1, &res, &err), 0, "%s",
			     err.message);
		tl_result_release(&res);
	}
	cr_assert_eq(tl_verify(db, &ctx, problem, NULL, &err), 0, "%s",
		     err.message);

	/* The log, exported, imports elsewhere (`import --events` refused
	 * more than 64 tags before 0.3.17): the task is there with its 66
	 * tags, listed under the last, and verify is clean. */
	struct kept all = { .n = 0 };
	cr_assert_eq(tl_log_read(db, &ctx, 1, 0, (tl_slice){ 0 }, keep_event,
				 &all, &err), 0, "%s", err.message);
	cr_assert_eq(all.n, 9, "7 events and the 2 updates");
	char dir2[] = "/tmp/tl-fuzzreg10-XXXXXX";
	tl_db *b = open_ws(dir2);
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)all.p, all.len,
				   all.n, &err), 0, "%s: %s", err.field,
		     err.message);
	cr_assert_eq(head(b), 9);
	uint8_t *got;
	size_t got_len;
	cr_assert_eq(tl_task_get(b, &ctx, tl_s(id), &got, &got_len, &err), 0,
		     "%s", err.message);
	cr_assert_eq(tl_task_decode(got, got_len, &t), 0);
	cr_assert_eq(t.tags_len, 66);
	cr_assert_str_eq(t.tags[65], "t65");
	tl_task_release(&t);
	free(got);
	tl_slice q65 = tl_s("t65");
	tl_list_query q = { .tags = &q65, .tags_len = 1 };
	char next[TL_CURSOR_MAX];
	size_t found = 0;
	cr_assert_eq(tl_task_list(b, &ctx, &q, count_doc, &found, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(found, 1);
	cr_assert_eq(tl_verify(b, &ctx, problem, NULL, &err), 0, "%s",
		     err.message);
	for (size_t i = 0; i < all.n; i++)
		free(all.p[i]);
	rm_ws(b, dir2);

	free(e6);
	free(e7);
	for (size_t i = 0; i < r.n; i++)
		free(r.p[i]);
	rm_ws(db, dir);
}

/*
 * Releases before 0.3.17 ran a batch's commands as its actor was at the
 * batch's start, so their logs hold events by a member whose CRM access
 * an earlier event of the batch took away (found by a review: the first
 * actor check of 0.3.17 refused such exports).  Made here by swapping a
 * task.created by carol and the member.updated that takes her access
 * (two streams: their seqs and hashes change, no version does): the log
 * imports, and verify is clean.  An actor who is no member is refused.
 */
Test(fuzz_regress, import_takes_an_actor_whose_access_a_batch_took)
{
	char da[] = "/tmp/tl-fuzzreg13-XXXXXX", dbb[] = "/tmp/tl-fuzzreg14-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	tl_err err;
	tl_init_opts io = { .now_ms = 1767225600000 };
	cr_assert_eq(tl_db_init(a, &io, &err), 0, "%s", err.message);
	tl_ctx admin = { .actor = "admin", .now_ms = 1767225601000 };
	tl_ctx carol = { .actor = "carol", .now_ms = 1767225602000 };
	tl_cmd add = { .kind = TL_MEMBER_ADD, .id = tl_s("carol"),
		       .name = tl_s("Carol"), .role = tl_s("member") };
	tl_cmd task = { .kind = TL_TASK_ADD, .title = tl_s("By carol"),
			.link = tl_s("lead:1") };
	tl_cmd off = { .kind = TL_MEMBER_UPDATE, .id = tl_s("carol"),
		       .crm_access = -1 };
	tl_result res;
	cr_assert_eq(tl_exec(a, &admin, &add, 1, &res, &err), 0, "%s",
		     err.message);
	tl_result_release(&res);
	cr_assert_eq(tl_exec(a, &carol, &task, 1, &res, &err), 0, "%s",
		     err.message);
	tl_result_release(&res);
	cr_assert_eq(tl_exec(a, &admin, &off, 1, &res, &err), 0, "%s",
		     err.message);
	tl_result_release(&res);
	struct kept r = { .n = 0 };
	cr_assert_eq(tl_log_read(a, &admin, 1, 0, (tl_slice){ 0 }, keep_event,
				 &r, &err), 0, "%s", err.message);
	cr_assert_eq(r.n, 5, "init's two, carol, her task, her access");
	/* seq 4 becomes the update, seq 5 carol's task */
	uint8_t *t4 = r.p[3], *t5 = r.p[4];
	size_t l4 = r.len[3], l5 = r.len[4];
	t5[find(t5, l5, "\xa3seq", 4) + 4] = 4;
	t4[find(t4, l4, "\xa3seq", 4) + 4] = 5;
	rehash(t5, l5, r.p[2], r.len[2]);
	rehash(t4, l4, t5, l5);
	r.p[3] = t5;
	r.len[3] = l5;
	r.p[4] = t4;
	r.len[4] = l4;
	cr_assert_eq(tl_log_import(b, (const uint8_t *const *)r.p, r.len, 5,
				   &err),
		     0, "%s: %s", err.field, err.message);
	cr_assert_eq(head(b), 5);
	cr_assert_eq(tl_verify(b, &admin, problem, NULL, &err), 0, "%s",
		     err.message);
	for (size_t i = 0; i < r.n; i++)
		free(r.p[i]);
	rm_ws(b, dbb);
	rm_ws(a, da);
}

/* Problems verify reports, kept for the test to look at. */
typedef struct said {
	char text[4][300];
	int n;
} said;

static void keep(void *arg, const char *text)
{
	said *s = arg;
	if (s->n < 4)
		snprintf(s->text[s->n], sizeof s->text[0], "%s", text);
	s->n++;
}

/*
 * Event ids: an import took any 36 characters as an event's id, and one
 * event's id again for another, which an auditor or a subscriber keyed
 * by id then takes for the same event.  An id must be a version 7 UUID
 * in lowercase, as every release wrote them, and an import refuses an id
 * repeated among its records (field id, the later record named, nothing
 * appended); one repeating an event stored before the call is verify's
 * to report.
 */
Test(fuzz_regress, import_refuses_an_event_id_not_as_tasklog_writes_it)
{
	tl_err err;
	/* record 4 is task.created, event 5: its id ends in 5 */
	static const char *const bad[] = {
		"0190A000-0000-7000-9000-000000000005", /* capitals */
		"0190a000-0000-4000-9000-000000000005", /* version 4 */
		"0190a000-0000-7000-c000-000000000005", /* variant 110 */
		"0190a000-0000-7000-9000-00000000000g", /* no UUID */
		"0190a000+0000-7000-9000-000000000005",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_assert_eq(import_patched("0190a000-0000-7000-9000-000000000005",
					    bad[i], 4, &err),
			     TL_EINVALID, "%s", bad[i]);
		cr_assert_str_eq(err.field, "id", "%s: %s", bad[i],
				 err.message);
		cr_assert_eq(err.index, 4);
		cr_assert(strstr(err.message, "event 5: id '") &&
			  strstr(err.message, "is not an event id as tasklog "
					      "writes one"),
			  "%s", err.message);
	}
}

Test(fuzz_regress, import_refuses_an_event_id_repeated_in_the_records)
{
	char dir[] = "/tmp/tl-fuzzreg20-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	patched x;
	/* event 5 given event 3's id */
	patch(&x, "0190a000-0000-7000-9000-000000000005",
	      "0190a000-0000-7000-9000-000000000003", 36, 4);
	cr_assert_eq(tl_import_ids_check(x.recs, x.lens, 5, &err),
		     TL_EINVALID);
	cr_assert_eq(err.index, 4);
	cr_assert_str_eq(err.field, "id");
	cr_assert(strstr(err.message,
			 "event 5: id '0190a000-0000-7000-9000-000000000003' "
			 "is event 3's too"),
		  "%s", err.message);
	cr_assert_eq(tl_import_ids_check(x.recs, x.lens, 4, &err), 0);
	cr_assert_eq(err.index, -1);

	cr_assert_eq(tl_log_import(db, x.recs, x.lens, 5, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
	cr_assert_eq(err.index, 4);
	cr_assert(strstr(err.message, "is event 3's too"), "%s", err.message);
	cr_assert_eq(head(db), 0, "nothing is appended");

	/* as one request of a group commit: the transaction is as before */
	tl_txn *t;
	cr_assert_eq(tl_txn_begin(db, &t, &err), 0);
	cr_assert_eq(tl_txn_import(t, x.recs, x.lens, 5, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
	cr_assert_eq(err.index, 4);
	cr_assert_eq(tl_txn_import(t, x.recs, x.lens, 4, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_txn_commit(t, &err), 0, "%s", err.message);
	cr_assert_eq(head(db), 4);

	/* In a call of its own, the repeat is not looked for among the
	 * stored events; verify finds it. */
	cr_assert_eq(tl_log_import(db, x.recs + 4, x.lens + 4, 1, &err), 0,
		     "%s", err.message);
	cr_assert_eq(head(db), 5);
	said s = { 0 };
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_verify(db, &ctx, keep, &s, &err), 1, "%d: %s", s.n,
		     s.text[0]);
	cr_assert_str_eq(s.text[0],
			 "event 5: id 0190a000-0000-7000-9000-000000000003 is "
			 "event 3's too (each event has an id of its own)");
	free(x.p);
	free(x.r.buf);
	rm_ws(db, dir);
}

/* Two records, the second with the first's id: the fewest that can
 * repeat one, refused alike. */
Test(fuzz_regress, import_refuses_an_event_id_repeated_in_two_records)
{
	char dir[] = "/tmp/tl-fuzzreg27-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	patched x;
	/* event 5 given event 4's id */
	patch(&x, "0190a000-0000-7000-9000-000000000005",
	      "0190a000-0000-7000-9000-000000000004", 36, 4);
	cr_assert_eq(tl_import_ids_check(x.recs + 3, x.lens + 3, 2, &err),
		     TL_EINVALID);
	cr_assert_eq(err.index, 1);
	cr_assert_str_eq(err.field, "id");
	cr_assert_eq(tl_log_import(db, x.recs, x.lens, 3, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_log_import(db, x.recs + 3, x.lens + 3, 2, &err),
		     TL_EINVALID, "%s", err.message);
	cr_assert_str_eq(err.field, "id");
	cr_assert_eq(err.index, 1);
	cr_assert(strstr(err.message, "event 5: id "
				      "'0190a000-0000-7000-9000-000000000004' "
				      "is event 4's too"),
		  "%s", err.message);
	cr_assert_eq(head(db), 3, "nothing is appended");
	free(x.p);
	free(x.r.buf);
	rm_ws(db, dir);
}

/* Importing record `at` of r (the log holding those before it) is a
 * storage error whose message holds `says`, and appends nothing. */
static void import_is_storage_error(tl_db *db, const tu_records *r,
				    size_t at, const char *says)
{
	tl_err err;
	/* without an err too (it wrote through NULL: a static analyser) */
	cr_assert_eq(tl_log_import(db, r->rec + at, r->len + at, 1, NULL),
		     TL_ESTORAGE);
	cr_assert_eq(head(db), at);
	int rc = tl_log_import(db, r->rec + at, r->len + at, 1, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s: %s", rc, err.field,
		     err.message);
	cr_assert(strstr(err.message, says), "%s", err.message);
	cr_assert_eq(err.index, 0);
	cr_assert_eq(head(db), at);
}

/* A task record of the workspace that cannot be read, met by an import's
 * fold, was called the event's fault ("has data this release cannot
 * fold", exit 1): it is a storage error naming the record (a review). */
Test(fuzz_regress, import_over_a_damaged_task_record_is_a_storage_error)
{
	char dir[] = "/tmp/tl-fuzzreg21-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	cr_assert_eq(tl_log_import(db, r.rec, r.len, 8, &err), 0, "%s",
		     err.message);
	/* the task that record 8 (task.assigned) changes, made unreadable */
	uint8_t id[16];
	cr_assert(tl_uuid_parse(tl_s("0190a000-0000-7000-8000-000000000002"),
				id));
	MDB_txn *txn;
	MDB_val k = { 16, id }, v = { 4, "\xc1\xc1\xc1\xc1" }, good;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->tasks, &k, &good), 0);
	uint8_t *saved = malloc(good.mv_size);
	cr_assert(saved);
	memcpy(saved, good.mv_data, good.mv_size);
	good.mv_data = saved;
	MDB_val mk = { 5, "alice" }, agood;
	cr_assert_eq(mdb_get(txn, db->members, &mk, &agood), 0);
	uint8_t *asaved = malloc(agood.mv_size);
	cr_assert(asaved);
	memcpy(asaved, agood.mv_data, agood.mv_size);
	agood.mv_data = asaved;
	cr_assert_eq(mdb_put(txn, db->tasks, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	import_is_storage_error(db, &r, 8, "corrupt task record");

	/* the task record whole again, its assignee's made unreadable: the
	 * same (a review found this path left out) */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->tasks, &k, &good, 0), 0);
	cr_assert_eq(mdb_put(txn, db->members, &mk, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	import_is_storage_error(db, &r, 8, "corrupt member record 'alice'");

	/* alice's record whole again, the actor's made unreadable */
	tl_event ev;
	cr_assert_eq(tl_event_decode_stored(r.rec[8], r.len[8], &ev), 0);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	MDB_val mgood, ak = { ev.actor_id.len, (void *)ev.actor_id.p };
	cr_assert_eq(mdb_get(txn, db->members, &ak, &mgood), 0);
	uint8_t *msaved = malloc(mgood.mv_size);
	cr_assert(msaved);
	memcpy(msaved, mgood.mv_data, mgood.mv_size);
	mgood.mv_data = msaved;
	cr_assert_eq(mdb_txn_commit(txn), 0);
	char says[96];
	snprintf(says, sizeof says, "corrupt member record '%.*s'",
		 (int)ev.actor_id.len, ev.actor_id.p);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->members, &mk, &agood, 0), 0);
	cr_assert_eq(mdb_put(txn, db->members, &ak, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	import_is_storage_error(db, &r, 8, says);
	/* and the actor's whole again: the event imports */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, db->members, &ak, &mgood, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(tl_log_import(db, r.rec + 8, r.len + 8, 1, &err), 0,
		     "%s", err.message);
	free(msaved);
	free(asaved);
	free(saved);
	free(r.buf);
	rm_ws(db, dir);
}

/*
 * fuzz_import_cli (with its chain fixed by the harness): a log whose
 * settings name a time zone this host lacks ('Europe/Ber\x8ein') was
 * imported, and verify then called the workspace damaged (no date could
 * be read in it).  Import refuses it, field tz, nothing appended.
 */
Test(fuzz_regress, import_refuses_settings_in_a_zone_this_host_lacks)
{
	char dir[] = "/tmp/tl-fuzzreg22-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	tu_records r;
	tu_load_records(FIXTURES "/log-v2.msgpack", &r);
	static const char *const zones[] = { "Europe/Berlyn",
					     "Europe/Ber\x8ein" };
	for (size_t z = 0; z < 2; z++) {
		uint8_t *p = copy_rec(&r, 0);
		size_t at = find(p, r.len[0], "Europe/Berlin", 13);
		memcpy(p + at, zones[z], 13);
		static const uint8_t none[TL_HASH_LEN];
		tl_event_hash(none, p, r.len[0], p + r.len[0] - TL_HASH_LEN);
		const uint8_t *recs[2] = { p, r.rec[1] };
		size_t lens[2] = { r.len[0], r.len[1] };
		cr_assert_eq(tl_log_import(db, recs, lens, 2, &err),
			     TL_EINVALID, "%s", zones[z]);
		cr_assert_str_eq(err.field, "tz");
		cr_assert(strstr(err.message, "event 1: time zone 'Europe/Ber"),
			  "%s", err.message);
		cr_assert(strstr(err.message, "is not in this host's "
					      "time-zone database"),
			  "%s", err.message);
		cr_assert(tl_utf8_valid(err.message, strlen(err.message)));
		cr_assert_eq(err.index, 0);
		cr_assert_eq(head(db), 0);
		free(p);
	}
	free(r.buf);
	rm_ws(db, dir);
}

/* The raw records of db's log, copied. */
typedef struct raw_log {
	uint8_t *rec[16];
	size_t len[16];
	size_t n;
} raw_log;

static int keep_raw(void *arg, const tl_event *ev)
{
	raw_log *l = arg;
	cr_assert_lt(l->n, 16);
	l->rec[l->n] = malloc(ev->raw_len);
	cr_assert(l->rec[l->n]);
	memcpy(l->rec[l->n], ev->raw, ev->raw_len);
	l->len[l->n++] = ev->raw_len;
	return 0;
}

/* A log whose last event is bob's notification.read of the notification
 * of a task the admin assigned to him. */
static void log_with_a_read(raw_log *l)
{
	char dir[] = "/tmp/tl-fuzzreg25-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	tl_init_opts io = { .now_ms = INT64_C(1772442000000) };
	cr_assert_eq(tl_db_init(db, &io, &err), 0, "%s", err.message);
	tl_ctx admin = { .now_ms = io.now_ms };
	tl_cmd add_bob = { .kind = TL_MEMBER_ADD, .id = tl_s("bob"),
			   .name = tl_s("Bob") };
	cr_assert_eq(tl_exec(db, &admin, &add_bob, 1, NULL, &err), 0, "%s",
		     err.message);
	tl_cmd task = { .kind = TL_TASK_ADD, .title = tl_s("t"),
			.link = tl_s("lead:1"), .assignee = tl_s("bob") };
	cr_assert_eq(tl_exec(db, &admin, &task, 1, NULL, &err), 0, "%s",
		     err.message);
	tl_ctx bob = { .actor = "bob", .now_ms = io.now_ms };
	char id[24];
	snprintf(id, sizeof id, "%llu", (unsigned long long)head(db));
	tl_slice ids[1] = { tl_s(id) };
	tl_cmd read = { .kind = TL_NOTIFICATIONS_READ, .ids = ids,
			.ids_len = 1 };
	tl_result res;
	cr_assert_eq(tl_exec(db, &bob, &read, 1, &res, &err), 0, "%s",
		     err.message);
	cr_assert_gt(res.seq, 0, "nothing marked read");
	tl_result_release(&res);
	memset(l, 0, sizeof *l);
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, (tl_slice){ 0 }, keep_raw, l,
				 &err),
		     0, "%s", err.message);
	rm_ws(db, dir);
}

static void raw_log_free(raw_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->rec[i]);
}

/* A notification.read imported over a damaged entry of the workspace's
 * notifications view was called the event's fault ("has data this
 * release cannot fold", exit 1): it is a storage error (a review). */
Test(fuzz_regress, import_of_a_read_over_a_damaged_notification_is_a_storage_error)
{
	raw_log l;
	log_with_a_read(&l);
	char dir[] = "/tmp/tl-fuzzreg23-XXXXXX";
	tl_db *db = open_ws(dir);
	tl_err err;
	size_t n = l.n - 1;
	cr_assert_eq(tl_log_import(db, (const uint8_t *const *)l.rec, l.len,
				   n, &err),
		     0, "%s", err.message);
	/* every entry of bob's inbox made undecodable as a notification */
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	char name[64];
	int damaged = 0;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	for (unsigned g = 1; g < 8 && !damaged; g++) {
		snprintf(name, sizeof name, "v.notifications.%u.inbox", g);
		if (mdb_dbi_open(txn, name, 0, &dbi))
			continue;
		cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
		while (mdb_cursor_get(c, &k, &v, damaged ? MDB_NEXT
							 : MDB_FIRST) == 0) {
			MDB_val bad = { 1, "\x80" }; /* {} */
			cr_assert_eq(mdb_cursor_put(c, &k, &bad, MDB_CURRENT),
				     0);
			damaged++;
		}
		mdb_cursor_close(c);
	}
	cr_assert_gt(damaged, 0, "no inbox entry found");
	cr_assert_eq(mdb_txn_commit(txn), 0);
	int rc = tl_log_import(db, (const uint8_t *const *)l.rec + n,
			       l.len + n, 1, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s: %s", rc, err.field,
		     err.message);
	cr_assert(strstr(err.message, "corrupt notification"), "%s",
		  err.message);
	cr_assert_eq(head(db), n);
	raw_log_free(&l);
	rm_ws(db, dir);
}

/* notification.read's data is checked as the view reads it: the member
 * its stream names, and ids that are integers (the view passed over
 * other ids and marked the data's member). */
Test(fuzz_regress, import_refuses_a_read_of_another_member_or_odd_ids)
{
	raw_log l;
	log_with_a_read(&l);
	size_t n = l.n - 1;
	for (int bad = 0; bad < 2; bad++) {
		char dir[] = "/tmp/tl-fuzzreg24-XXXXXX";
		tl_db *db = open_ws(dir);
		tl_err err;
		uint8_t *p = malloc(l.len[n]);
		cr_assert(p);
		memcpy(p, l.rec[n], l.len[n]);
		if (bad == 0) { /* "member": "bob" -> "bax" */
			size_t at = find(p, l.len[n], "\xa6member\xa3" "bob",
					 11);
			memcpy(p + at + 8, "ax", 2);
		} else { /* "ids": [N] -> ["N"]-ish: a nil id */
			size_t at = find(p, l.len[n], "\xa3ids\x91", 5);
			p[at + 5] = 0xc0;
		}
		rehash(p, l.len[n], l.rec[n - 1], l.len[n - 1]);
		const uint8_t *recs[16];
		memcpy(recs, l.rec, n * sizeof *recs);
		recs[n] = p;
		int rc = tl_log_import(db, recs, l.len, n + 1, &err);
		cr_assert_eq(rc, TL_EINVALID, "%d %s: %s", rc, err.field,
			     err.message);
		cr_assert_str_eq(err.field, "data");
		cr_assert_eq(err.index, (int)n);
		cr_assert_eq(head(db), 0);
		free(p);
		rm_ws(db, dir);
	}
	raw_log_free(&l);
}

/* A member's crm_access that is not a boolean (a fixint 1 for true in a
 * member.added, 0 for false in a member.updated's changes; the chain
 * rehashed) is refused by import, and nothing is imported: the fold
 * keeps the members' records boolean (one of audit 10's unrun mutants:
 * the added's case fails when the fold takes any type). */
Test(fuzz_regress, import_refuses_a_crm_access_that_is_not_a_boolean)
{
	char da[] = "/tmp/tl-fuzzreg30-XXXXXX", dbb[] = "/tmp/tl-fuzzreg31-XXXXXX";
	tl_db *a = open_ws(da), *b = open_ws(dbb);
	tl_err err;
	tl_init_opts io = { .now_ms = 1700000000000 };
	cr_assert_eq(tl_db_init(a, &io, &err), 0, "%s", err.message);
	tl_cmd cmds[2] = {
		{ .kind = TL_MEMBER_ADD, .id = tl_s("bob"),
		  .name = tl_s("Bob"), .crm_access = 1 },
		{ .kind = TL_MEMBER_UPDATE, .id = tl_s("bob"),
		  .crm_access = -1 },
	};
	tl_ctx ctx = { .now_ms = 1700000001000 };
	cr_assert_eq(tl_exec(a, &ctx, cmds, 2, NULL, &err), 0, "%s",
		     err.message);
	struct kept k = { 0 };
	cr_assert_eq(tl_log_read(a, NULL, 1, 0, (tl_slice){ 0 }, keep_event,
				 &k, &err),
		     0, "%s", err.message);
	cr_assert_eq(k.n, 4);
	/* the update's change, false, made 0 */
	uint8_t *p = k.p[3];
	size_t at = find(p, k.len[3], "\xaa" "crm_access\xc2", 12);
	p[at + 11] = 0x00;
	rehash(p, k.len[3], k.p[2], k.len[2]);
	refused_at_last(b, &k, "crm_access",
			"(member.updated): crm_access is not true or false");
	/* the added's true made 1, the update dropped */
	free(k.p[3]);
	k.n = 3;
	p = k.p[2];
	at = find(p, k.len[2], "\xaa" "crm_access\xc3", 12);
	p[at + 11] = 0x01;
	rehash(p, k.len[2], k.p[1], k.len[1]);
	refused_at_last(b, &k, "data",
			"(member.added) has data this release cannot fold");
	kept_free(&k);
	rm_ws(a, da);
	rm_ws(b, dbb);
}
