/*
 * fuzz_import.c - libFuzzer target: tl_log_import of foreign records.
 *
 * One workspace (with every view) is made in /tmp at the first call and
 * kept open.  Input layout:
 *
 *   byte 0     bits 0-2: n - 1, the number of records (1..8) that follow;
 *              bit 3: fix the chain: the harness writes the right hash
 *              into each record's last 32 bytes (the hash field of a
 *              well-formed record), so that mutated records get past the
 *              hash check and reach the fold and the views;
 *              bits 4-7: p, how many records of tests/fixtures/
 *              log-v2.msgpack (fixture_v2.h) go first, unchanged, to give
 *              the fuzzed records a workspace, members and tasks to act on.
 *   then       n big-endian 16-bit record lengths, then the records back
 *              to back (the last ones cut short or empty when the input
 *              ends early).
 *
 * The p + n records go to one tl_log_import call, each in a buffer of
 * its own exact size (so ASan sees any read past a record).  The import
 * must succeed, or fail with an error that names a field and the failing
 * record, leaving the log as it was.  After a success the workspace is
 * verified (tl_verify, which also reads every view) and then put back to
 * its pristine, empty state, so that every input runs against the same
 * state and a crash reproduces from its input alone.
 *
 *   build-fuzz/fuzz_import CRASH-FILE     reproduces one input
 *   FUZZ_VERBOSE=1 build-fuzz/fuzz_import FILE...   prints each outcome
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "tasklog_projections.h"
#include "fuzz_ws.h"
#include "fixture_v2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIX_MAX 16

static tl_db *db;
static tl_open_opts opts;
static char root[64], work[96], pristine[96];
static const uint8_t *fix_rec[FIX_MAX];
static size_t fix_len[FIX_MAX], fix_n;
static bool verbose; /* FUZZ_VERBOSE=1: print each import's outcome */

const char fuzz_name[] = "fuzz_import";

static void cleanup(void)
{
	char cmd[128];
	tl_db_close(db);
	db = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "fuzz_import: could not remove %s\n", root);
}

/* Reopen the work workspace as a copy of the pristine one. */
static void reset(void)
{
	char from[128], to[128];
	tl_err err;
	tl_db_close(db);
	db = NULL;
	snprintf(from, sizeof from, "%s/data.mdb", pristine);
	snprintf(to, sizeof to, "%s/data.mdb", work);
	copy_file(from, to);
	if (tl_db_open(work, &opts, &db, &err))
		die("open", &err);
}

static void setup(void)
{
	tl_err err;
	snprintf(root, sizeof root, "/tmp/tasklog-fuzz-%ld", (long)getpid());
	snprintf(work, sizeof work, "%s/work", root);
	snprintf(pristine, sizeof pristine, "%s/pristine", root);
	if (mkdir(root, 0700) && errno != EEXIST)
		die(root, NULL);
	opts.flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC;
	opts.views = tl_views_all(&opts.views_len);
	/* An empty workspace with its views: the pristine state. */
	if (tl_db_open(pristine, &opts, &db, &err))
		die("create", &err);
	tl_db_close(db);
	db = NULL;
	if (mkdir(work, 0700) && errno != EEXIST)
		die(work, NULL);
	atexit(cleanup);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	reset();

	msgpack_zone zone;
	msgpack_object o;
	size_t off = 0;
	msgpack_zone_init(&zone, 4096);
	while (off < sizeof fixture_v2 && fix_n < FIX_MAX) {
		size_t start = off;
		msgpack_unpack_return r = msgpack_unpack(
			(const char *)fixture_v2, sizeof fixture_v2, &off,
			&zone, &o);
		if (r != MSGPACK_UNPACK_SUCCESS &&
		    r != MSGPACK_UNPACK_EXTRA_BYTES)
			die("fixture", NULL);
		fix_rec[fix_n] = fixture_v2 + start;
		fix_len[fix_n++] = off - start;
	}
	msgpack_zone_destroy(&zone);
}

static uint64_t head_seq(uint8_t hash[TL_HASH_LEN])
{
	MDB_txn *txn;
	uint64_t seq;
	tl_err err;
	if (tl_read_begin(db, &txn, &err) ||
	    tl_log_head(db, txn, &seq, hash, &err))
		die("head", &err);
	mdb_txn_abort(txn);
	return seq;
}

/* A problem tl_verify finds after an accepted import is a bug (an import
 * must not leave states that differ from the fold): printed, then abort()
 * so that libFuzzer keeps the input as a crash and `make fuzz` fails. */
static void on_problem(void *arg, const char *problem)
{
	(void)arg;
	fprintf(stderr, "fuzz_import: verify: %s\n", problem);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *recs[FIX_MAX + 8];
	size_t lens[FIX_MAX + 8];
	uint8_t *own[8] = { 0 };
	uint8_t prev[TL_HASH_LEN];
	tl_err err;

	if (!db)
		setup();
	if (size < 1)
		return -1;
	size_t n = (size_t)(data[0] & 7) + 1;
	bool fix = data[0] & 8;
	size_t p = (size_t)(data[0] >> 4);
	if (p > fix_n)
		p = fix_n;
	size_t pos = 1 + 2 * n;

	uint64_t seq0 = head_seq(prev);
	for (size_t i = 0; i < p; i++) {
		recs[i] = fix_rec[i];
		lens[i] = fix_len[i];
		memcpy(prev, fix_rec[i] + fix_len[i] - TL_HASH_LEN,
		       TL_HASH_LEN);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		if (2 + 2 * i < size)
			len = (size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i];
		if (pos > size)
			pos = size;
		if (len > size - pos)
			len = size - pos;
		/* An exact-size copy even when empty: malloc(0) may be NULL. */
		own[i] = malloc(len ? len : 1);
		if (!own[i])
			abort();
		memcpy(own[i], data + pos, len);
		pos += len;
		if (fix && len >= 40) {
			tl_event_hash(prev, own[i], len,
				      own[i] + len - TL_HASH_LEN);
			memcpy(prev, own[i] + len - TL_HASH_LEN,
			       TL_HASH_LEN);
		}
		recs[p + i] = own[i];
		lens[p + i] = len;
	}

	memset(&err, 0, sizeof err);
	int rc = tl_log_import(db, recs, lens, p + n, &err);
	if (verbose)
		fprintf(stderr, "fuzz_import: %zu+%zu records: %s%s%s (record %d)\n",
			p, n, rc ? err.field : "ok", rc ? ": " : "",
			rc ? err.message : "", rc ? err.index : -1);
	if (rc) {
		/* A clear error naming the field and the record... */
		if (rc != err.code || !err.field[0] || !err.message[0] ||
		    err.index < 0 || (size_t)err.index >= p + n)
			die("error without field or index", &err);
		if (!tl_utf8_valid(err.message, strlen(err.message)))
			die("message is not UTF-8", &err);
		/* ...and nothing appended. */
		if (head_seq(prev) != seq0)
			die("failed import appended", &err);
	} else {
		if (head_seq(prev) != seq0 + p + n)
			die("import appended the wrong count", &err);
		tl_ctx ctx = { 0 };
		tl_verify(db, &ctx, on_problem, NULL, &err);
		reset();
	}
	for (size_t i = 0; i < n; i++)
		free(own[i]);
	return 0;
}
