/*
 * fuzz_import_cli.c - libFuzzer target: `tasklog import`'s reading of
 * its input (tools/import.c): JSON Lines and msgpack records, as tasks
 * to add and commands to run, or as events packed back into their
 * stored bytes.
 *
 * Input layout:
 *
 *   byte 0     bit 0: events (else tasks); bit 1: msgpack (else JSON
 *              Lines); bit 2: --batch 2 (a commit every two records);
 *              bit 3, with bits 0 and 1: fix the chain (the harness
 *              writes into each record of 40 bytes or more the hash
 *              that chains it to the one before, so that mutated events
 *              pass the hash check and reach the checks after it);
 *              bit 4: every batch of commands hashes its chain on a
 *              second thread (tl_chain_min 1; else from 64 commands);
 *              bit 5: --check first (then the import itself, without
 *              --batch, must do what the check said: refuse with the
 *              same error, or append the events it said, after a check
 *              that appended nothing);
 *              bit 6: the views' deferred writes go to sorted runs on
 *              disk between every two requests (tl_defer_mem 1; else
 *              past 64 MiB, which no input reaches), so that the merge
 *              of runs at commit meets what mutated records make
 *   then       the file, as import reads it
 *
 * Tasks go to a workspace with a first admin and a member "alice";
 * events to one that is not initialised (so that a whole log makes it).
 * An import must succeed, after which tl_verify finds nothing, or fail
 * with an error that names its record when it is one's, having appended
 * only the batches it says it committed.  Each input starts from the same
 * workspaces (copied from pristine ones after a run that wrote), so that
 * a crash reproduces from its input alone.
 *
 *   build-fuzz/fuzz_import_cli CRASH-FILE   reproduces one input
 *   FUZZ_VERBOSE=1 ...                      says how each input ended
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "json.h"
#include "internal.h"
#include "tasklog_projections.h"
#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tl_db *db[2]; /* 0: tasks, 1: events */
static tl_open_opts opts;
static char root[64], work[2][96], pristine[2][96];

const char fuzz_name[] = "fuzz_import_cli";

static void reset(int k)
{
	char from[128], to[128];
	tl_err err;
	tl_db_close(db[k]);
	db[k] = NULL;
	snprintf(from, sizeof from, "%s/data.mdb", pristine[k]);
	snprintf(to, sizeof to, "%s/data.mdb", work[k]);
	copy_file(from, to);
	if (tl_db_open(work[k], &opts, &db[k], &err))
		die("open", &err);
}

static void cleanup(void)
{
	char cmd[128];
	for (int k = 0; k < 2; k++) {
		tl_db_close(db[k]);
		db[k] = NULL;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "fuzz_import_cli: could not remove %s\n", root);
}

static void setup(void)
{
	tl_err err;
	mpjson_init();
	snprintf(root, sizeof root, "/tmp/tasklog-fuzz-cli-%ld",
		 (long)getpid());
	if (mkdir(root, 0700) && errno != EEXIST)
		die(root, NULL);
	opts.flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC;
	opts.views = tl_views_all(&opts.views_len);
	for (int k = 0; k < 2; k++) {
		snprintf(work[k], sizeof work[k], "%s/work%d", root, k);
		snprintf(pristine[k], sizeof pristine[k], "%s/pristine%d", root,
			 k);
		if (tl_db_open(pristine[k], &opts, &db[k], &err))
			die("create", &err);
		if (k == 0) {
			tl_init_opts io = { .tz = "Europe/Berlin",
					    .now_ms = 1772442000000 };
			tl_cmd alice = { .kind = TL_MEMBER_ADD,
					 .id = tl_s("alice"),
					 .name = tl_s("Alice") };
			tl_ctx ctx = { .now_ms = 1772442000000 };
			if (tl_db_init(db[k], &io, &err) ||
			    tl_exec(db[k], &ctx, &alice, 1, NULL, &err))
				die("init", &err);
		}
		tl_db_close(db[k]);
		db[k] = NULL;
		if (mkdir(work[k], 0700) && errno != EEXIST)
			die(work[k], NULL);
		reset(k);
	}
	atexit(cleanup);
}

static uint64_t head(tl_db *d)
{
	MDB_txn *txn;
	uint64_t seq;
	uint8_t hash[TL_HASH_LEN];
	tl_err err;
	if (tl_read_begin(d, &txn, &err) || tl_log_head(d, txn, &seq, hash, &err))
		die("head", &err);
	mdb_txn_abort(txn);
	return seq;
}

static void on_problem(void *arg, const char *problem)
{
	(void)arg;
	fprintf(stderr, "fuzz_import_cli: verify: %s\n", problem);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db[0])
		setup();
	if (size < 1)
		return -1;
	int k = data[0] & 1;
	import_opts o = { .events = k == 1,
			  .msgpack = data[0] & 2,
			  .batch = data[0] & 4 ? 2 : 0,
			  .check = data[0] & 32 };
	tl_ctx ctx = { .now_ms = 1772442000000 };
	o.ctx = &ctx;
	tl_chain_min = data[0] & 16 ? 1 : 64;
	tl_defer_mem = data[0] & 64 ? 1 : TL_DEFER_MEM;
	/* an exact-size copy, so that ASan sees a read past the input */
	uint8_t *in = malloc(size - 1 ? size - 1 : 1);
	if (!in)
		abort();
	memcpy(in, data + 1, size - 1);
	if ((data[0] & 11) == 11) { /* msgpack events, the chain fixed */
		uint8_t prev[TL_HASH_LEN] = { 0 }; /* a new log's */
		size_t off = 0;
		while (off < size - 1) {
			size_t at = off;
			if (!tl_mp_skip(in, size - 1, &off) || off <= at)
				break;
			size_t len = off - at;
			if (len < 40)
				continue;
			tl_event_hash(prev, in + at, len,
				      in + at + len - TL_HASH_LEN);
			memcpy(prev, in + at + len - TL_HASH_LEN,
			       TL_HASH_LEN);
		}
	}
	uint64_t before = head(db[k]);
	import_out out;
	tl_err err = { 0 };
	int rc = import_run(db[k], in, size - 1, &o, &out, &err);
	if (o.check) {
		import_out said = out;
		tl_err cerr = err;
		int crc = rc;
		if (head(db[k]) != before)
			die("a check appended", NULL);
		o.check = false;
		o.batch = 0;
		memset(&err, 0, sizeof err);
		rc = import_run(db[k], in, size - 1, &o, &out, &err);
		if (!crc != !rc || (rc && (strcmp(cerr.field, err.field) ||
					   strcmp(cerr.message, err.message))))
			die("the import did not do what its check said", &err);
		if (!rc && out.events != said.events)
			die("the import appended other than its check said",
			    NULL);
	}
	free(in);
	if (getenv("FUZZ_VERBOSE")) /* what an input reached */
		fprintf(stderr, "fuzz_import_cli: %s%s%s\n",
			rc ? err.field : "ok", rc ? ": " : "",
			rc ? err.message : "");
	uint64_t after = head(db[k]);
	if (rc) {
		if (rc == TL_EAGAIN || !err.message[0] ||
		    !tl_utf8_valid(err.message, strlen(err.message)))
			die("an error without a message", &err);
		if (out.where && !strstr(err.message, o.msgpack ? "record "
								: "line "))
			die("an error that does not name its record", &err);
		if (after != before + out.events)
			die("a failed import appended what it did not say",
			    &err);
	} else if (after != before + out.events) {
		die("the events appended are not those said", &err);
	}
	if (after != before) {
		if (tl_verify(db[k], NULL, on_problem, NULL, &err) < 0)
			die("verify", &err);
		reset(k);
	}
	return 0;
}
