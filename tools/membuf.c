/*
 * membuf.c - a FILE that writes into memory and says when it could not.
 *
 * The command line builds a command's whole output in memory and prints
 * it only once it is complete (see main): a reader then sees either the
 * whole answer or an error, never a part of one.  glibc 2.36's
 * open_memstream cannot serve: it cuts the text when it cannot grow and
 * tells no one (neither ferror nor fclose), and its fclose may free the
 * text when its last realloc fails.  This one, over fopencookie, records
 * the failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "membuf.h"

static bool text_nomem;

bool membuf_nomem(void)
{
	return text_nomem;
}

void membuf_nomem_clear(void)
{
	text_nomem = false;
}

static ssize_t membuf_write(void *cookie, const char *buf, size_t n)
{
	membuf *m = cookie;
	if (m->failed)
		return 0;
	if (n >= m->cap - m->len) { /* room for a NUL as well */
		size_t cap = m->cap ? m->cap : 4096;
		while (n >= cap - m->len && cap <= SIZE_MAX / 2)
			cap *= 2;
		char *p = n < cap - m->len ? realloc(m->p, cap) : NULL;
		if (!p) {
			m->failed = text_nomem = true;
			return 0;
		}
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return (ssize_t)n;
}

FILE *membuf_open(membuf *m)
{
	cookie_io_functions_t io = { .write = membuf_write };
	*m = (membuf){ 0 };
	FILE *f = fopencookie(m, "w", io);
	if (!f)
		m->failed = text_nomem = true;
	return f;
}

bool membuf_close(FILE *f, membuf *m)
{
	bool ok = f && fclose(f) == 0 && !m->failed;
	if (ok && m->p)
		m->p[m->len] = 0;
	if (!ok) {
		free(m->p);
		*m = (membuf){ .failed = true };
		text_nomem = true;
	}
	return ok;
}
