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
 * check, so that a scan rejects candidates without their documents.
 *
 * A task has at most one key per (dim, sort): one value per dimension.
 * See docs/format.md, "View `tasks`", for the dimensions and sorts.
 */
#ifndef TL_LIST_H
#define TL_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "keys.h"

#define TL_LIST_KEY_LEN 26
#define TL_LIST_VAL_LEN 28
#define TL_LIST_PREFIX_LEN 10 /* dim | dimval | sort */
#define TL_LIST_NO_DUE UINT64_MAX /* sortval of a task without a due date */

/* Dimensions.  M and R hold active (todo, in_progress, on_hold) tasks
 * only; S holds every task that is not deleted.  (Version 2 also had E,
 * entity type, and T, task type: 4 and 10 values, which an S or M range
 * filtered on the value serves nearly as well, for 4 fewer keys per
 * task, 2 of them at random places.) */
enum {
	TL_DIM_STATUS = 'S',   /* status index */
	TL_DIM_ASSIGNEE = 'M', /* tl_list_hash(member id), "" = unassigned */
	TL_DIM_RECORD = 'R'    /* tl_list_hash("type:id") */
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

/* Whether dimension dim keeps keys for sort. */
bool tl_list_has_sort(char dim, char sort);

/* Whether a status index is active (todo, in_progress, on_hold). */
bool tl_list_status_active(int status);

/* The dimval of a hashed value (member id; "" for unassigned). */
uint64_t tl_list_hash(tl_slice s);
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

#endif
