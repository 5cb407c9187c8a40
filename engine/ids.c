/*
 * ids.c - the engine's own view, "ids": every task id keyed by its hex
 * digits read from the last one, so that the end of an id as people type
 * it from a table (tl_id_suffix: "3f9a1c", "8d-4e51c0a2f3b7") is the start
 * of keys, found with one seek instead of a read of every task id.
 *
 * Storage (view ids, database "rev"): key 16 bytes, the id's 32 hex digits
 * in reverse order, two to a byte (digit i of the key is digit 31 - i of
 * the id); value empty.  One entry per task ever created, deleted ones
 * included (their history stays readable by id).  The view is a fold of
 * the log like the projections (rebuilt, verified and caught up by the
 * same machinery, view.c), kept in every handle opened with views; a
 * handle without it, or a read that finds it behind the log, reads the
 * streams database's task keys instead (tl_task_find_suffix).
 */
#include <string.h>

#include "internal.h"

#define IDS_VERSION 1

_Thread_local unsigned long tl_ids_seeks; /* look-ups answered here: tests */

/* The reversal is its own inverse: key to id as id to key. */
static void reverse(const uint8_t in[16], uint8_t out[16])
{
	for (int i = 0; i < 16; i++) {
		uint8_t b = in[15 - i];
		out[i] = (uint8_t)(b << 4 | b >> 4);
	}
}

static int put(const tl_view_ctx *vc, const uint8_t id[16], tl_err *err)
{
	uint8_t key[16];
	reverse(id, key);
	return tl_view_put(vc, 0, key, sizeof key, "", 0, err);
}

/* A task's first event (no state before it, one after) adds its id.
 * Writes go straight into the transaction (not blind, though apply never
 * reads): a command later in the same batch may name the new task by the
 * end of its id. */
static int apply(const tl_view_ctx *vc, const tl_event *ev,
		 const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)ev;
	return !before && after ? put(vc, after->id, err) : 0;
}

static int load(const tl_view_ctx *vc, const tl_task *t, tl_err *err)
{
	return put(vc, t->id, err);
}

static const char *const dbs[] = { "rev" };
static const unsigned db_flags[] = { 0 };

const tl_view tl_view_ids = {
	.name = "ids",
	.version = IDS_VERSION,
	.dbs = dbs,
	.db_flags = db_flags,
	.dbs_len = 1,
	.apply = apply,
	.load = load,
};

int tl_ids_find(MDB_txn *txn, MDB_dbi dbi, const tl_id_suffix *sx,
		uint8_t ids[2][16], size_t *found, tl_err *err)
{
	uint8_t lo[16] = { 0 };
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*found = 0;
	tl_ids_seeks++;
	/* The suffix's digits from its last: the first of the keys that
	 * begin with them (an odd count ends in half a byte, and the other
	 * half 0 is the least). */
	for (size_t i = 0; i < sx->len; i++) {
		uint8_t n = sx->nib[sx->len - 1 - i];
		lo[i / 2] |= (uint8_t)(i % 2 ? n : n << 4);
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)))
		return tl_mdb_err(err, rc, "read view ids");
	k = (MDB_val){ sizeof lo, lo };
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     !rc && *found < 2; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t id[16];
		if (k.mv_size != 16) {
			mdb_cursor_close(cur);
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "view ids holds a key of %zu bytes, "
					  "not 16: run `tasklog rebuild "
					  "--projection ids`",
					  k.mv_size);
		}
		reverse(k.mv_data, id);
		if (!tl_id_suffix_match(sx, id))
			break; /* past the keys that begin so */
		memcpy(ids[(*found)++], id, 16);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read view ids");
	return 0;
}
