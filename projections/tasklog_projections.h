/*
 * tasklog_projections.h - the views of the log and their queries: the
 * contract the tools and the server use.  Each view is one file of
 * projections/ that implements tl_view (tasklog_view.h); tl_views_all()
 * lists them.
 *
 * Query results are handed out as msgpack documents in the JSON shapes of
 * the command line's --json output (docs/cli.md) through tl_doc_fn
 * callbacks (valid during the call).
 */
#ifndef TASKLOG_PROJECTIONS_H
#define TASKLOG_PROJECTIONS_H

#include "tasklog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every view, for tl_open_opts.views. */
TL_API const tl_view *const *tl_views_all(size_t *len);
/* The name of a view ("tasks", "timeline", ...), as tl_rebuild takes it. */
TL_API const char *tl_view_name(const tl_view *v);

#define TL_CURSOR_MAX 96 /* room for an opaque cursor, NUL included */

/* `task list`.  Text as typed by the user; all validated here.  Several
 * values of one filter OR-combine; filters AND-combine. */
typedef struct tl_list_query {
	const tl_slice *assignees;  /* member id, "me" or "unassigned"; never
				       the system user (TL_EINVALID) */
	size_t assignees_len;
	const tl_slice *statuses;   /* none: active statuses only */
	size_t statuses_len;
	const tl_slice *entity_types;
	size_t entity_types_len;
	tl_slice record;            /* "TYPE:ID" */
	const tl_slice *types;
	size_t types_len;
	tl_slice due;               /* overdue|today|week|none|FROM..TO */
	tl_slice automation;        /* hide (default) | include | only */
	tl_slice sort;              /* due (default) | created | updated */
	size_t limit;               /* 0 = 50 */
	tl_slice cursor;            /* from a previous page's next_cursor */
	const tl_slice *dues;       /* more due windows: a task passes when */
	size_t dues_len;            /* it is in one of them or in `due` (at
				       most 16 in all) */
	const tl_slice *tags;       /* tasks with any of these tags (at most
				       64; no index: checked on documents) */
	size_t tags_len;
	const tl_slice *searches;   /* tasks whose title or notes hold every
				       word of one of these (at most 8, each
				       1..256 bytes of UTF-8 and at most 16
				       words), compared folded (tl_text_fold:
				       "resume" finds "Résumé"); no index */
	size_t searches_len;
} tl_list_query;

/* Calls fn for each task of the page, in order (the stored task document,
 * valid during the call; a non-zero return stops the page and is
 * returned as it is, err untouched, and next_cursor is then "": a stopped
 * page gives no cursor to go on from, so ask for the limit wanted
 * instead); next_cursor receives the cursor of the next page or "" when
 * this page is the last.  An empty cursor is the first page.  Every
 * argument is checked before anything is looked up: TL_EINVALID names
 * "status", "type", "entity_type", "record", "assignee", "due", "tag",
 * "search", "automation", "sort", "limit" (at most 1000) or "cursor"
 * (malformed, or of another sort or query).  Paging is by position: a task that does not
 * change between pages is listed exactly once. */
TL_API int tl_task_list(tl_db *db, const tl_ctx *ctx, const tl_list_query *q,
		 tl_doc_fn fn, void *arg, char next_cursor[TL_CURSOR_MAX],
		 tl_err *err);

/* A member's active tasks due in [now, now + days), soonest first.
 * member: NULL or "me" = the actor, "unassigned" = the tasks no one holds
 * (for any member); any member's for any member with CRM access (since
 * 0.3.51; before, another member's needed an admin: TL_EFORBIDDEN
 * "member"); an unknown one is TL_ENOTFOUND "member", the system user
 * (named, or as the actor) TL_EINVALID "member".
 * days <= 0: 7, at most 36600 (TL_EINVALID "days"); limit and cursor as
 * for tl_task_list, with cursors of their own. */
TL_API int tl_upcoming(tl_db *db, const tl_ctx *ctx, tl_slice member, int days,
		size_t limit, tl_slice cursor, tl_doc_fn fn, void *arg,
		char next_cursor[TL_CURSOR_MAX], tl_err *err);

/* A record's timeline: its upcoming active tasks with a due date (overdue
 * included, soonest first, every one of them whatever limit is: a
 * callback that wants fewer returns nonzero, which ends the call) through
 * upcoming_fn on the first page only, and its history entries {at, actor,
 * task, event, summary}, newest first, limit of them (0: 50; at most
 * 1000) per page, through item_fn.  Either callback may be NULL.  Every
 * upcoming task costs a call: a record of many open tasks is better read
 * with tl_timeline_page, which pages them. */
TL_API int tl_timeline(tl_db *db, const tl_ctx *ctx, tl_slice record,
		size_t limit, tl_slice cursor, tl_doc_fn upcoming_fn,
		tl_doc_fn item_fn, void *arg,
		char next_cursor[TL_CURSOR_MAX], tl_err *err);

/* A page of a record's timeline with its upcoming tasks paged as its
 * history is (since 0.3.50; what `tasklog timeline` shows). */
typedef struct tl_timeline_query {
	tl_slice record;          /* "TYPE:ID" */
	size_t limit;             /* per list: 0 = 50, at most 1000 */
	tl_slice cursor;          /* the history's next page */
	tl_slice upcoming_cursor; /* the upcoming tasks' next page */
} tl_timeline_query;

/* Neither cursor: the first page of both lists, at most limit upcoming
 * tasks and limit history entries.  A cursor given: the next page of its
 * list, and nothing of a list whose cursor is not given.  next_cursor and
 * upcoming_next (either may be the buffer its cursor is in) receive each
 * list's cursor of the next page, or "" when this page holds its last
 * entry or it was not read.  A page reads its own entries and one more,
 * whatever the record holds besides.  Paging is by position, as for
 * tl_task_list: a task that does not change between pages is listed
 * once.  TL_EINVALID names "record", "limit", "cursor" or
 * "upcoming_cursor". */
TL_API int tl_timeline_page(tl_db *db, const tl_ctx *ctx,
		     const tl_timeline_query *q, tl_doc_fn upcoming_fn,
		     tl_doc_fn item_fn, void *arg,
		     char next_cursor[TL_CURSOR_MAX],
		     char upcoming_next[TL_CURSOR_MAX], tl_err *err);

/* A member's notifications, unread first, newest first within each. */
TL_API int tl_notifications(tl_db *db, const tl_ctx *ctx, tl_slice member,
		     bool unread_only, size_t limit, tl_slice cursor,
		     tl_doc_fn fn, void *arg,
		     char next_cursor[TL_CURSOR_MAX], tl_err *err);

#ifdef __cplusplus
}
#endif
#endif
