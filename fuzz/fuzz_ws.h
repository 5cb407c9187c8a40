/*
 * fuzz_ws.h - what the fuzz targets that run against a workspace share:
 * dying with a message (abort(), so that libFuzzer keeps the input),
 * copying a pristine workspace's file over the one a run wrote to, and
 * making a workspace to query and finding a listed task among those made.
 */
#ifndef TL_FUZZ_WS_H
#define TL_FUZZ_WS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A workspace with every view, initialised, in /tmp/tasklog-fuzz-TAG-PID
 * (removed at exit), for the targets that query one made once. */
static tl_db *fuzz_db;
static char fuzz_root[64];

static inline void fuzz_ws_remove(void)
{
	char cmd[96];
	tl_db_close(fuzz_db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_root);
	if (system(cmd))
		fprintf(stderr, "%s: could not remove %s\n", fuzz_name,
			fuzz_root);
}

static inline tl_db *fuzz_ws_create(const char *tag)
{
	tl_open_opts opts = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC };
	tl_init_opts init = { 0 };
	tl_err err;
	opts.views = tl_views_all(&opts.views_len);
	snprintf(fuzz_root, sizeof fuzz_root, "/tmp/tasklog-fuzz-%s-%ld", tag,
		 (long)getpid());
	if (tl_db_open(fuzz_root, &opts, &fuzz_db, &err) ||
	    tl_db_init(fuzz_db, &init, &err))
		die("create", &err);
	atexit(fuzz_ws_remove);
	return fuzz_db;
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
