/*
 * import.h - `tasklog import`: tasks to add and task commands to run, or
 * events as `export` writes them, from JSON Lines or msgpack into a
 * workspace (import.c).  The CLI
 * reads the input and prints the outcome; this splits the input into
 * records, turns them into commands or event records, and runs them.
 */
#ifndef TL_TOOLS_IMPORT_H
#define TL_TOOLS_IMPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasklog.h"

/* A record longer than this is refused: a task's longest text is its
 * notes (64 KiB), and an event holds no more. */
#define IMPORT_RECORD_MAX (1024 * 1024)

struct import_out;

typedef struct import_opts {
	bool events;    /* records are events as stored, not tasks to add */
	bool msgpack;   /* a sequence of msgpack maps; else JSON Lines */
	uint64_t batch; /* records per durable commit; 0: all in one */
	bool check;     /* all in one transaction, given up at its end:
			   nothing appended (ready still called) */
	const tl_ctx *ctx;
	/* Whether ctx's actor must be an admin (a workspace with members):
	 * checked once every record's form is, which comes first. */
	bool need_admin;
	/* With events: the workspace is not initialised (no settings), so
	 * the log must begin with its events 1 and 2, which init makes. */
	bool fresh;
	/* Called just before the last commit with what *out will hold
	 * after it; an error it returns gives the transaction up. */
	int (*ready)(void *arg, const struct import_out *out, tl_err *err);
	void *arg;
	/* Called, when set, as records run: done of total (after each
	 * chunk of tasks and commands, each batch of events). */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
	/* Called, when set, as the last commit makes the views' writes:
	 * bytes done of total (tl_txn_commit_progress), with progress_arg. */
	tl_commit_progress_fn commit_progress;
	/* When set and non-zero (a signal's number, set by its handler), no
	 * batch begins after the one running: the import returns 0 with
	 * out->committed short of out->records. */
	volatile sig_atomic_t *stop;
} import_opts;

typedef struct import_out {
	uint64_t records;   /* records the input holds (when it parsed) */
	uint64_t commands;  /* of those, commands ({"method", "params"});
			       the others are tasks to add */
	uint64_t committed; /* records made durable: all of them on success,
			       those of the batches before a failure */
	uint64_t events;    /* events those appended */
	uint64_t first_seq, last_seq; /* the seqs of those; 0 when none */
	uint64_t views_bytes; /* of the views' entries those wrote
				 (tl_txn_commit_progress's totals) */
	uint64_t where;     /* the record a failure is about: its line (JSON
			       Lines) or its number (msgpack), from 1; 0 when
			       the failure is no record's */
	uint64_t reading;   /* the record being read, while it is (for an
			       allocator that cannot return a failure) */
} import_out;

/* Import in[0..len).  Every record is read and checked for its form
 * first; then they run, all in one durable transaction, or in batches
 * of o->batch records, each its own.  An error names the failing record
 * in out->where (its message begins "line N: " or "record N: "); what
 * batches before it committed is in *out. */
int import_run(tl_db *db, const uint8_t *in, size_t len,
	       const import_opts *o, import_out *out, tl_err *err);

/* The first step of import_run alone: every record read and checked for
 * its form, nothing looked up or written (before a new workspace's files
 * are made for an import --events, which a malformed input must not
 * leave behind).  Errors as import_run's. */
int import_check(const uint8_t *in, size_t len, const import_opts *o,
		 import_out *out, tl_err *err);

/* import_check keeping what it read for import_run_job, so that an input
 * checked before its workspace is made is not read twice (300,000 events
 * of JSON Lines: 3 s each).  *job is NULL after an error. */
typedef struct import_job import_job;
int import_prepare(const uint8_t *in, size_t len, const import_opts *o,
		   import_out *out, import_job **job, tl_err *err);
/* import_run of a prepared input (o of the same events and msgpack as
 * the preparation's; in must still be there); once. */
int import_run_job(tl_db *db, import_job *job, const import_opts *o,
		   import_out *out, tl_err *err);
void import_job_free(import_job *job);

#endif
