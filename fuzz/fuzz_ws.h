/*
 * fuzz_ws.h - what the fuzz targets that run against a workspace share:
 * dying with a message (abort(), so that libFuzzer keeps the input), and
 * copying a pristine workspace's file over the one a run wrote to.
 */
#ifndef TL_FUZZ_WS_H
#define TL_FUZZ_WS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tasklog.h"

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

#endif
