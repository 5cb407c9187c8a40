/*
 * fuzz_ws.h - what the fuzz targets that run against a workspace share:
 * dying with a message (abort(), so that libFuzzer keeps the input),
 * copying a pristine workspace's file over the one a run wrote to, and
 * making workspaces to query and finding a listed task among those made.
 */
#ifndef TL_FUZZ_WS_H
#define TL_FUZZ_WS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasklog.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* The target's name, for its messages: each target defines it. */
extern const char fuzz_name[];

_Noreturn static inline void die(const char *what, const tl_err *err)
{
	fprintf(stderr, "%s: %s: %s\n", fuzz_name, what,
		err ? err->message : "");
	abort();
}

static inline void copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY), out;
	ssize_t n;
	if (in < 0 || (out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		die("copy", NULL);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("copy", NULL);
	close(in);
	close(out);
}

/* Workspaces with every view, initialised, each in
 * /tmp/tasklog-fuzz-TAG-PID (removed at exit), for the targets that query
 * ones made once: up to FUZZ_WS_MAX of them, each with its own TAG. */
#define FUZZ_WS_MAX 4
static tl_db *fuzz_dbs[FUZZ_WS_MAX];
static char fuzz_roots[FUZZ_WS_MAX][64];
static size_t fuzz_ws_n;

static inline void fuzz_ws_remove(void)
{
	char cmd[96];
	for (size_t i = 0; i < fuzz_ws_n; i++) {
		tl_db_close(fuzz_dbs[i]);
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_roots[i]);
		if (system(cmd))
			fprintf(stderr, "%s: could not remove %s\n", fuzz_name,
				fuzz_roots[i]);
	}
}

/* A number in [0, n) from the generator *lcg (a workspace made the
 * same at every start, so that inputs reproduce). */
static inline uint32_t fuzz_rnd(uint32_t *lcg, uint32_t n)
{
	*lcg = *lcg * 1103515245u + 12345u;
	return (*lcg >> 8) % n;
}

/* ms as RFC 3339 in UTC, to the second, for --now and --due. */
static inline void fuzz_iso(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static inline tl_db *fuzz_ws_create(const char *tag)
{
	tl_open_opts opts = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	tl_init_opts init = { 0 };
	tl_err err;
	size_t i = fuzz_ws_n;
	if (i == FUZZ_WS_MAX)
		die("too many workspaces", NULL);
	opts.views = tl_views_all(&opts.views_len);
	snprintf(fuzz_roots[i], sizeof fuzz_roots[i],
		 "/tmp/tasklog-fuzz-%s-%ld", tag, (long)getpid());
	if (tl_db_open(fuzz_roots[i], &opts, &fuzz_dbs[i], &err) ||
	    tl_db_init(fuzz_dbs[i], &init, &err))
		die("create", &err);
	if (!fuzz_ws_n++)
		atexit(fuzz_ws_remove);
	return fuzz_dbs[i];
}

/* The index in ids[0..n) of the task a listing gave (its stored
 * document); dies when it is none of them. */
static inline size_t fuzz_task_index(const uint8_t *doc, size_t len,
				     char (*ids)[37], size_t n)
{
	tl_task t;
	char id[37];
	if (tl_task_decode(doc, len, &t))
		die("decode", NULL);
	tl_uuid_format(t.id, id);
	tl_task_release(&t);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(id, ids[i]))
			return i;
	die("a task of no one's", NULL);
}

#endif
