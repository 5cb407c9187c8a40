/*
 * progress.h - progress bars on stderr (rebuild, import, verify, backup,
 * and the rebuild an open may run), redrawn in place at most ten times a
 * second.
 */
#ifndef TASKLOG_PROGRESS_H
#define TASKLOG_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tasklog.h"

struct progress {
	struct timespec start;
	bool shown;
	uint64_t total;
	const char *unit;  /* "events" (rebuild) or "records" (import) */
	bool bytes;        /* done and total are bytes, said in MiB (unit
			      "MiB", rate "MiB/s") */
	const char *rate;  /* "ev/s" or "rec/s" */
	const char *after; /* what runs once all are read: ", loading and
			      sorting the views" */
	const char *label; /* said last, always: " (verify 2/7: ...)" */
	double drawn;      /* seconds_since(start) when last drawn */
	uint64_t most;     /* the most done so far: a batch an import runs
			      again (its map grown) does not move it back */
	bool based;        /* the rate is counted from the first call */
	double base_secs;  /* that has done some: what came before it */
	uint64_t base_done;/* (reading an import's input) is not its */
};

/* A rebuild's two steps on one line (tl_rebuild_step): reading the log,
 * in events, then writing the views, in MiB; last, how long it all took.
 * open: the rebuild an open runs, whose first call says so. */
struct rebuild_bar {
	struct progress p;
	struct timespec start;
	bool open, started, shown;
	int step;
	uint64_t events, bytes; /* read (step 1), written (step 2) */
	char rate[24], label[64];
};

/* An import's two steps on one line: running the records (with every
 * commit but the last), then the last commit's writes of the views, in
 * MiB; last, how long it all took. */
struct import_bar {
	struct progress rec, views;
	bool writing;           /* the views' bar is the one shown */
	uint64_t bytes;         /* of the views written by all the commits
				   (import_out's views_bytes), for the end */
	char rate[24];
};

/* verify's steps on one line: each step's bar, then which step it is
 * and what it checks. */
struct verify_bar {
	struct progress p;
	struct timespec start;
	int step, steps;
	char rate[24], label[96];
};

/* The bars' clock: CLOCK_MONOTONIC, or *progress_frozen when a test
 * sets it (a rate or a time drawn then depends on no delay). */
extern const struct timespec *progress_frozen;
void progress_clock(struct timespec *t);
double seconds_since(const struct timespec *t0);
/* "[#####.....] 45% 1234567/2000000 events 512k ev/s ETA 3s" */
void show_progress(void *arg, uint64_t done, uint64_t total);
/* The signals that end a command (SIGINT, SIGTERM, SIGHUP, SIGQUIT, where
 * nothing else handles them) end a bar's line, then call cleanup (NULL:
 * none; async-signal-safe calls only), then kill the command as before.
 * Drawing a bar installs them too. */
void progress_catch_signals(void (*cleanup)(void));
/* fn for each of sigs[0..n) whose action is the default (one ignored,
 * or handled already, is left as it is). */
void catch_where_default(const int *sigs, size_t n, void (*fn)(int));
/* The bar's last line, or the line ended before an error is said. */
void end_progress(const struct progress *p, int rc);
/* A rebuild's steps (tl_rebuild_progress_fn); an open's first call
 * says why the command waits. */
void rebuild_progress(void *arg, const tl_rebuild_step *s);
/* Its last line: "[##########] 100% 2000000/2000000 events in 15.3 s
 * (1300 MiB of views written)", or the line ended before an error. */
void end_rebuild_progress(const struct rebuild_bar *b, int rc);
/* An import's bar: records run (import_opts.progress), the views written
 * (its commit_progress), and the last line: "[##########] 100%
 * 300000/300000 records in 5.4 s (120 MiB of views written)". */
void import_bar_start(struct import_bar *b, bool check);
void import_records(void *arg, uint64_t done, uint64_t total);
void import_views(void *arg, uint64_t done, uint64_t total);
void end_import_progress(const struct import_bar *b, int rc);
/* verify's steps (tl_verify_progress_fn) */
void verify_progress(void *arg, const tl_verify_step *s);
void end_verify_progress(const struct verify_bar *b, int rc);

#endif
