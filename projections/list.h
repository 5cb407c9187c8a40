/*
 * list.h - the key layout of the `tasks` view, shared by the view itself
 * (list.c, which keeps the keys) and its queries (query.c, which reads
 * them).  Private to projections/.
 *
 * One LMDB database "idx", no DUPSORT, fixed 26-byte keys and 28-byte
 * values:
 *
 *   dim (1) | dimval (8) | sort (1) | sortval (8, BE) | tiebreak (8, BE)
 *     -> task id (16) | due (8, BE: tl_key_time, no due TL_LIST_NO_DUE)
 *        | status (1) | type (1) | link type (1) | reserved (1, 0)
 *
 * The value carries what the filters other than assignee and record
 * check, so that a scan rejects candidates without their documents.  In
 * M's due range ("covered") the task's stored document follows (unless
 * over 1 KiB): those listings read no document by id.
 *
 * A task has at most one key per (dim, sort) in S, M or D, and K, and
 * one per tag and sort in G.
 * See docs/format.md, "View `tasks`", for the dimensions and sorts.
 */
#ifndef TL_LIST_H
#define TL_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "keys.h"
#include "tasklog_view.h"

#define TL_LIST_KEY_LEN 26
#define TL_LIST_VAL_LEN 28
#define TL_LIST_PREFIX_LEN 10 /* dim | dimval | sort */
#define TL_LIST_NO_DUE UINT64_MAX /* sortval of a task without a due date */
#define TL_LIST_TYPES 10   /* entries of tl_type_tokens */
#define TL_LIST_ENTITIES 4 /* entries of tl_entity_tokens */
#define TL_LIST_TAGS_MAX 64 /* tags of a task that commands make (the
			       engine's limit; a release before 0.3.6 took
			       more, and G holds every one) */

/* Dimensions.  M holds active (todo, in_progress, on_hold) tasks, and D
 * (since version 9) the completed and cancelled ones, under the member's
 * hash with its low three bits the status index, as G's; R holds both,
 * active ones in one range, done ones in a range per status (timeline
 * version 8); S, K and G hold every task that is not deleted (G a task with
 * tags, under each of them and its status, since version 8).  K's values are a
 * status and a kind (task type and entity type), so that a filter on
 * types lists the tasks of the statuses asked for from their own ranges.
 * (Version 2 had E, entity type, and T, task type, with 4 keys per active
 * task; versions 3 to 5 had neither, and filtered S or M ranges on the
 * value, whose pages grew with the tasks of other kinds; version 6 has K,
 * both in one, 2 keys per task.)
 *
 * R, the record dimension, is kept by the `timeline` view (version 4):
 * its active tasks' created and updated ranges (updated since timeline
 * version 8) and its done tasks' ranges of every sort in the database
 * "entries" beside the record's history, so that a change to a task
 * rewrites one page of its record there, and its active tasks' due
 * range, covered (each value followed by the task's document, as M's),
 * in a database "due" of its own, so that the timeline's upcoming part
 * reads no document by id and the documents do not spread the history
 * over more pages.  All with the keys
 *
 *   record hash (8) | class (1) | sort (1) | sortval (8) | tiebreak (8)
 *     -> the same 28-byte value (in "due", then the document)
 *
 * where class is 0 for the active tasks and the status index (3
 * completed, 4 cancelled) for done ones (history entries in "entries"
 * are record hash (8) | ~seq (8), whose byte 8 is 0xff for any seq below
 * 2^56, and at least 0xf0 for any below 2^60, so that the history walk
 * starts past the index at 0x10).  Its prefix is also 10
 * bytes, sortval and tiebreak at the same offsets: the scan treats both
 * alike. */
enum {
	TL_DIM_STATUS = 'S',   /* status index */
	TL_DIM_ASSIGNEE = 'M', /* tl_list_hash(member id), "" = unassigned */
	TL_DIM_DONE = 'D',     /* tl_list_tag(that hash, status): M's done */
	TL_DIM_KIND = 'K',     /* tl_list_kind(status, type, entity type) */
	TL_DIM_TAG = 'G',      /* tl_list_tag(tag, status), one per tag */
	TL_DIM_RECORD = 'R'    /* tl_list_hash("type:id"), in `timeline` */
};

/* What a value says of its task. */
typedef struct tl_list_facets {
	const uint8_t *id; /* 16 bytes, in the value */
	uint64_t due;      /* tl_key_time(due_at), TL_LIST_NO_DUE: none */
	int status, type, link_type;
} tl_list_facets;
void tl_list_value(uint8_t v[TL_LIST_VAL_LEN], const tl_task *t);
void tl_list_facets_of(const uint8_t v[TL_LIST_VAL_LEN], tl_list_facets *f);

/* Sorts: (sortval, tiebreak) ascending is the order of the listing. */
enum {
	TL_SORT_DUE = 'd',     /* due (no due last), then creation order */
	TL_SORT_CREATED = 'c', /* newest first */
	TL_SORT_UPDATED = 'u'  /* most recently updated first */
};

/* Index entries the scans of the calling thread have read (query.c): what
 * a page cost, for tests. */
extern _Thread_local uint64_t tl_list_entries_read
	__attribute__((visibility("hidden")));
/* Task documents the scans of the calling thread have read by id, their
 * entries not covered (query.c): for tests. */
extern _Thread_local uint64_t tl_list_docs_read
	__attribute__((visibility("hidden")));
/* Leading entries a scan passes over before it walks the ranges of the
 * other indexed filters beside them (query.c; 32): tests set 0, so that
 * every scan that can walks them. */
extern _Thread_local unsigned tl_list_also_after
	__attribute__((visibility("hidden")));

/* A due window under the created or updated sort (query.c, "a due window
 * under another sort"): the walk in that order may first read
 * tl_list_walk_first entries (1,024); then, when the window's due ranges
 * hold at most tl_list_window_max entries (2,048), tl_list_walk_ratio
 * (32) entries per entry of the window, before the page is made from the
 * window's tasks, sorted.  Tests set the last two to 0 to take one way or
 * the other. */
extern _Thread_local uint64_t tl_list_walk_first
	__attribute__((visibility("hidden")));
extern _Thread_local size_t tl_list_window_max
	__attribute__((visibility("hidden")));
extern _Thread_local unsigned tl_list_walk_ratio
	__attribute__((visibility("hidden")));
#define TL_LIST_WALK_FIRST 1024
#define TL_LIST_WINDOW_MAX 2048
#define TL_LIST_WALK_RATIO 32
/* For tests: the ways to such a page.  0 the walk alone; 1 short walks
 * and a window wide past 8 entries, so that the bounded walks and the
 * window's tasks sorted take turns; 2 the window's tasks at once; 3 (or
 * any other) the defaults. */
static inline void tl_list_window_way(unsigned way)
{
	tl_list_walk_first = way == 1 ? 8 : TL_LIST_WALK_FIRST;
	tl_list_window_max = way == 0   ? 0
			     : way == 1 ? 8
					: TL_LIST_WINDOW_MAX;
	tl_list_walk_ratio = way == 2 ? 0 : way == 1 ? 1 : TL_LIST_WALK_RATIO;
}

/* A page that two assignee ranges or more lead (several assignees, or one
 * in active and done statuses) and a tag or type filter could lead too
 * (query.c, scan): the assignees' walk goes alone for tl_list_lead_first
 * units of work (2,048: an entry 1, a seek 8 more, a document read by id
 * 24), then the two walks take turns of tl_list_lead_turn units (256)
 * until one ends the page.
 * UINT64_MAX: the assignees' walk alone.  For tests: tl_list_lead_way. */
extern _Thread_local uint64_t tl_list_lead_first
	__attribute__((visibility("hidden")));
extern _Thread_local uint64_t tl_list_lead_turn
	__attribute__((visibility("hidden")));
#define TL_LIST_LEAD_FIRST 2048
#define TL_LIST_LEAD_TURN 256
/* For tests: 0 the assignees' walk alone; 1 both walks from the first
 * entry, in turns of one entry; 2 turns of 3 entries after 5; 3 (or any
 * other) the defaults. */
static inline void tl_list_lead_way(unsigned way)
{
	tl_list_lead_first = way == 0   ? UINT64_MAX
			     : way == 1 ? 0
			     : way == 2 ? 5
					: TL_LIST_LEAD_FIRST;
	tl_list_lead_turn = way == 1 ? 1 : way == 2 ? 3 : TL_LIST_LEAD_TURN;
}

/* Whether dimension dim keeps keys for sort. */
bool tl_list_has_sort(char dim, char sort);

/* Whether a status index is active (todo, in_progress, on_hold). */
bool tl_list_status_active(int status);

#define TL_LIST_STATUSES 5 /* entries of tl_status_tokens */

/* The dimval in K of a status, a task type and an entity type (token
 * indexes): status * 40 + type * 4 + entity type. */
static inline uint64_t tl_list_kind(int status, int type, int link_type)
{
	return ((uint64_t)status * TL_LIST_TYPES + (uint64_t)type) *
		       TL_LIST_ENTITIES +
	       (uint64_t)link_type;
}

/* The dimval of a hashed value (member id; "" for unassigned). */
uint64_t tl_list_hash(tl_slice s);
/* The dimval in G of a tag and a status: the tag's hash with its low
 * three bits the status index. */
_Static_assert(TL_LIST_STATUSES <= 8 && TL_LIST_STATUSES < 0x10,
	       "a status index fits the low 3 bits of G's and D's dimvals, "
	       "and R's class byte stays below the history's 0x10");
static inline uint64_t tl_list_tag(uint64_t tag_hash, int status)
{
	return (tag_hash & ~(uint64_t)7) | (uint64_t)status;
}
/* The dimval of record "TYPE:ID" (type an index of tl_entity_tokens). */
uint64_t tl_list_record_hash(int link_type, tl_slice id);

/* The sort position of a task. */
void tl_list_sortval(const tl_task *t, char sort, uint64_t *sortval,
		     uint64_t *tiebreak);

/* Build the prefix of a range (dim | dimval | sort), or a whole key. */
void tl_list_prefix(uint8_t prefix[TL_LIST_PREFIX_LEN], char dim,
		    uint64_t dimval, char sort);
void tl_list_key(uint8_t key[TL_LIST_KEY_LEN], char dim, uint64_t dimval,
		 char sort, uint64_t sortval, uint64_t tiebreak);
/* The prefix of a record's range (in the timeline view's database) of
 * class cls (0: active tasks; else a done status's index). */
void tl_list_record_prefix(uint8_t prefix[TL_LIST_PREFIX_LEN],
			   uint64_t rechash, int cls, char sort);

/* The sorts of the record dimension ("u" since timeline version 8), and
 * the timeline view's database that holds each range: the active tasks'
 * due range is "due", covered; every other is in "entries". */
#define TL_LIST_RECORD_SORTS "dcu"
enum { TL_TIMELINE_ENTRIES = 0, TL_TIMELINE_DUE = 1 };
static inline size_t tl_list_record_db(int cls, char sort)
{
	return !cls && sort == TL_SORT_DUE ? TL_TIMELINE_DUE
					   : TL_TIMELINE_ENTRIES;
}

/* Task t's key in its record's range of sort `sort`, and the database
 * that holds it (tl_list_record_db): 1, or 0 when t is NULL or
 * deleted. */
size_t tl_list_record_key(const tl_task *t, char sort,
			  uint8_t key[TL_LIST_KEY_LEN], size_t *db);

/* Whether key is in a covered range: its value carries the task's stored
 * document after the 28 bytes (up to 1 KiB; larger ones are fetched by
 * id), so that a listing of the range reads no document by id. */
typedef bool (*tl_list_covered_fn)(const uint8_t *key);

/* Bring database db of the view from entries old (of task before) to cur
 * (of task after): delete keys that go, put those that come, rewrite the
 * rest when the value changes, and rewrite covered entries always (every
 * event changes the document). */
int tl_list_update(const tl_view_ctx *vc, size_t db, const tl_task *before,
		   uint8_t old[][TL_LIST_KEY_LEN], size_t n_old,
		   const tl_task *after, uint8_t cur[][TL_LIST_KEY_LEN],
		   size_t n_cur, tl_list_covered_fn covered, tl_err *err);
/* Put the entries keys[0..n) of task t (a rebuild's load). */
int tl_list_load(const tl_view_ctx *vc, size_t db, const tl_task *t,
		 uint8_t keys[][TL_LIST_KEY_LEN], size_t n,
		 tl_list_covered_fn covered, tl_err *err);

#endif
