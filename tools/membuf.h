/*
 * membuf.h - a FILE that writes into memory and remembers a failed
 * allocation (membuf.c).
 */
#ifndef TL_TOOLS_MEMBUF_H
#define TL_TOOLS_MEMBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct membuf {
	char *p; /* NUL-terminated once membuf_close() says true */
	size_t len, cap;
	bool failed;
} membuf;

/* A FILE whose writes go to m (emptied first); NULL, m failed, when out
 * of memory. */
FILE *membuf_open(membuf *m);

/* Close f (NULL-safe): true when m holds all that was written to it,
 * NUL-terminated (m->p may then still be NULL: nothing was written; the
 * caller frees m->p).  Else m is emptied and false returned. */
bool membuf_close(FILE *f, membuf *m);

/* True once any membuf of the process failed to grow: text built since
 * may be short and must not be printed. */
bool membuf_nomem(void);
/* Forget a failure once every text built before it is gone. */
void membuf_nomem_clear(void);

#endif
