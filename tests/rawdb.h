/*
 * rawdb.h - white-box helpers of the unit tests that look at a workspace
 * with LMDB alone (unit_damage.c, unit_rebuild.c).  static inline: each
 * test file takes what it uses.
 */
#ifndef TL_RAWDB_H
#define TL_RAWDB_H

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <lmdb.h>

/* The names of the named databases of view `view` in env, space-separated,
 * in LMDB's order (static buffer). */
static inline const char *raw_view_dbs(MDB_env *env, const char *view)
{
	static char out[1024];
	char prefix[64];
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_cursor *c;
	MDB_val k, v;
	snprintf(prefix, sizeof prefix, "v.%s.", view);
	out[0] = 0;
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	cr_assert_eq(mdb_cursor_open(txn, main_dbi, &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (k.mv_size > strlen(prefix) &&
		    !memcmp(k.mv_data, prefix, strlen(prefix)))
			snprintf(out + strlen(out), sizeof out - strlen(out),
				 "%s%.*s", out[0] ? " " : "", (int)k.mv_size,
				 (char *)k.mv_data);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return out;
}

#endif
