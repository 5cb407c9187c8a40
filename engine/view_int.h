/*
 * view_int.h - what view.c, rebuild.c and view_verify.c share; private to
 * engine/.  (internal.h declares the rest of the engine's view functions,
 * those the append path calls.)
 */
#ifndef TL_VIEW_INT_H
#define TL_VIEW_INT_H

#include "internal.h"

/* The generation a verify builds to compare, then drops. */
#define TMP_GEN 0xffffffffu

/* ---- generations (view.c) ---- */

/* meta "view:NAME": the stored code version and serving generation;
 * false when absent or malformed. */
bool tl_view_meta_read(tl_db *db, MDB_txn *txn, const tl_view *v,
		       uint32_t *version, uint32_t *gen);
int tl_view_meta_write(tl_db *db, MDB_txn *txn, const tl_view *v,
		       uint32_t version, uint32_t gen);
/* Open generation gen's databases into dbi[] (extra: MDB_CREATE or 0);
 * an LMDB code. */
int tl_view_gen_open(MDB_txn *txn, const tl_view *v, uint32_t gen,
		     unsigned extra, MDB_dbi *dbi);
/* Drop generation gen, or (others) every generation but gen. */
int tl_view_gens_drop(MDB_txn *txn, const tl_view *v, uint32_t gen,
		      bool others);
bool tl_view_gen_exists(MDB_txn *txn, const tl_view *v, uint32_t gen);
bool tl_view_serves(tl_db *db, MDB_txn *txn, const tl_view *v);
int tl_views_refresh(tl_db *db, tl_err *err);
/* The last seq view v holds, and setting it. */
uint64_t tl_view_seq(tl_db *db, MDB_txn *txn, const tl_view *v);
int tl_view_seq_put(tl_db *db, MDB_txn *txn, const tl_view *v,
		    uint64_t seq);
bool tl_view_behind(tl_db *db, MDB_txn *txn, const tl_view *v,
		    uint64_t head);

/* ---- replay and rebuild (rebuild.c) ---- */

/* Tasks in a dense array (loaded in that order) found through an
 * open-addressing table of ids: a probe touches 24 bytes, not a task.
 * tl_id_slot: an id's first slot in a table of cap (a power of two)
 * slots, from all 16 bytes (ids need not be UUIDv7). */
size_t tl_id_slot(const uint8_t id[16], size_t cap);
typedef struct map_slot {
	uint8_t id[16];
	uint32_t idx; /* index into tasks + 1; 0 = empty */
} map_slot;

typedef struct task_map {
	map_slot *slots;
	size_t cap;         /* slots, a power of two */
	tl_task *tasks;     /* a new one is zeroed: version 0 until folded
			       (its id may be all zero: the nil UUID) */
	size_t len, tcap;
} task_map;

typedef struct replay {
	tl_db *db;
	const size_t *which;  /* indexes into db->views */
	size_t which_len;
	MDB_dbi (*dbi)[TL_VIEW_DBS_MAX]; /* target handles, per which[] */
	tl_sink **sinks;      /* per which[]: the bulk writer, or NULL */
	void **states;        /* per which[]: bulk_begin()'s, or NULL */
	bool bulk;            /* sorted bulk mode (until bulk_finish) */
	task_map tasks;
	msgpack_zone zone;
	bool zone_ok;         /* zone initialised: replay_free destroys it */
	msgpack_sbuffer scratch;
	uint64_t next;        /* next seq to replay */
	uint64_t total;
	build_progress prog;
	uint64_t wtotal;      /* bytes the write phase wrote (prog.written) */
} replay;

/*
 * Builders of a generation other than the serving one (rebuilds, verify's
 * temporary one) take the workspace's build lock, so that two processes
 * never fill the same generation: a flock on data.mdb (LMDB takes none on
 * it; its own locks are in lock.mdb), and first one on DIR/build.lock,
 * which is all that releases 0.3.0 to 0.3.3 took, when that file can be
 * opened (a directory that is not writable and a workspace made before
 * build.lock existed cannot make it).  Always in this order.  The kernel
 * releases both when a process dies.  (A release before 0.3.4 that can
 * make build.lock beside one of this release that could not is the one
 * pair not kept apart: they lock different files.)
 */
typedef struct build_lk {
	int fd[2]; /* build.lock (-1: none), data.mdb */
	tl_db *db; /* whose building flag it holds, once locked */
} build_lk;

/* A replay of the views which[0..n) (indexes into db->views); prog may
 * be NULL.  Nonzero when out of memory (tl_replay_free it anyway). */
int tl_replay_init(replay *r, tl_db *db, const size_t *which, size_t n,
		   const build_progress *prog);
void tl_replay_free(replay *r);
/* Fill generation gen of r's views from the whole log; on success *out is
 * the open write transaction holding the last chunk. */
int tl_replay_build_gen(replay *r, uint32_t gen, MDB_txn **out, tl_err *err);
/* Drop r's target generation in txn. */
int tl_replay_targets_drop(replay *r, MDB_txn *txn, tl_err *err);
/* The workspace's build lock (build_lk above). */
int tl_build_lock(tl_db *db, build_lk *lk, tl_err *err);
void tl_build_unlock(build_lk *lk);
/* Rebuild the views which[0..n) that do not serve as the code needs. */
int tl_rebuild_stale(tl_db *db, const size_t *which, size_t n, tl_err *err);

#endif
