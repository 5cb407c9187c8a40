/*
 * human.h - the command line's output for people (human.c).
 *
 * Each function prints one JSON value made by json.c to stdout.  A `next`
 * cursor, when not empty, ends a table with "next page: --cursor ...".
 */
#ifndef TL_TOOLS_HUMAN_H
#define TL_TOOLS_HUMAN_H

#include <stdio.h>

#include <jansson.h>

/* s with control characters, bytes that are not UTF-8 and what a terminal
 * acts on escaped as \xNN, so that it stays on one line as it is. */
void put_clean(FILE *f, const char *s);
/* The same for the len bytes at s. */
void put_clean_n(FILE *f, const char *s, size_t len);

/* Show times on the wall clock of zone tz (an IANA name; NULL or "UTC":
 * UTC, the default). */
void human_zone(const char *tz);
/* Make tables cols wide (80 to 1000; 80, the default, for less). */
void human_width(long cols);

/* One document as "Key  value" lines. */
void human_task(const json_t *task);
void human_member(const json_t *member);
/* Events of the log, one line each: seq, at, type, stream, actor, in
 * columns as wide as their widest value. */
void human_events(const json_t *events);
/* A task's events as a table: SEQ, AT, ACTOR and WHAT each changed. */
void human_history(const json_t *events);
/* `notifications read`'s answer: "marked read for MEMBER: ID...". */
void human_marked(const json_t *result);

/* Tables that fit 80 columns, or the width human_width set. */
void human_task_table(const json_t *tasks, const char *next);
void human_member_table(const json_t *members);
void human_timeline(const json_t *upcoming, const char *upcoming_next,
		    const json_t *items, const char *next);
void human_notifications(const json_t *items, const char *next);

#endif
