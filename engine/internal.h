/*
 * internal.h - private declarations shared by the engine's own files.
 * Nothing outside engine/ includes this.
 */
#ifndef TL_INTERNAL_H
#define TL_INTERNAL_H

#include <lmdb.h>
#include <msgpack.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "tasklog.h"
#include "tasklog_view.h"
#include "tasklog_msgpack.h"

#define TL_HASH_LEN 32
#define TL_TITLE_MAX 500
#define TL_NOTES_MAX 65536
#define TL_LINK_ID_MAX 128
#define TL_TAG_MAX 64
#define TL_TAGS_MAX 64
#define TL_MEMBER_ID_MAX 64
#define TL_NAME_MAX 200
#define TL_IDEM_MAX 256
#define TL_IDEM_FP_LEN 16 /* bytes of an idempotent request's fingerprint */
#define TL_NAME_FIELD_MAX 64 /* pipeline and stage ids */

/* ---- enums and their tokens ---------------------------------------- */

enum { TL_TYPE_COUNT = 10, TL_STATUS_COUNT = 5, TL_ENTITY_COUNT = 4 };
enum tl_status { TL_ST_TODO, TL_ST_IN_PROGRESS, TL_ST_ON_HOLD,
		 TL_ST_COMPLETED, TL_ST_CANCELLED };

extern const char *const tl_type_tokens[TL_TYPE_COUNT];
extern const char *const tl_status_tokens[TL_STATUS_COUNT];
extern const char *const tl_entity_tokens[TL_ENTITY_COUNT];
/* Index of s in the table, or -1. */
int tl_token_find(const char *const *table, int n, tl_slice s);
/* 0, or TL_EINVALID naming field when id cannot be given to a new
 * member: "me" and "unassigned" are words of the task filters, which
 * could not name a member so called. */
int tl_member_id_unreserved(tl_slice id, const char *field, tl_err *err);

static inline bool tl_status_active(int st)
{
	return st == TL_ST_TODO || st == TL_ST_IN_PROGRESS || st == TL_ST_ON_HOLD;
}

/* ---- the process (proc.c) ----------------------------------------- */

/* Once per process: libsodium's initialisation and the fork handlers
 * that hold the mutexes below across fork(); cheap after the first call.
 * False when libsodium could not initialise. */
bool tl_proc_init(void);
/* pthread_create of a thread that blocks every signal (proc.c): 0 or
 * non-zero when no thread was started. */
int tl_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);
extern pthread_mutex_t tl_open_mu;  /* store.c: workspaces open */
extern pthread_mutex_t tl_zones_mu; /* time.c: time zones read */
extern pthread_mutex_t tl_uuid_mu;  /* text.c: the last UUIDv7 made */
/* In a child after fork(), tl_uuid_mu held: forget the parent's random
 * bytes. */
void tl_uuid_forked(void);
/* The time zones this process has read and keeps (time.c; tests). */
size_t tl_zones_kept(void);

/* A time zone as a workspace may hold it: what tl_tz_valid() accepts,
 * and also what 0.3.2 and earlier accepted at init (names with an empty
 * part, posix/Factory), which must keep working (time.c). */
bool tl_tz_stored_ok(const char *tz);

/* ---- the store ------------------------------------------------------ */

/* A rebuild's progress (each may be NULL; both take arg): read, events of
 * the log read of its head; written, bytes of the views' sorted entries
 * written of those to write, told once that total can be estimated
 * (every view that loads from final states has given an estimate) and
 * last once the new views serve.
 * tl_rebuild_steps makes steps 1 and 2 of them (rebuild.c). */
typedef struct build_progress {
	tl_progress_fn read, written;
	void *arg;
} build_progress;
/* tl_rebuild_steps's callback, and the build_progress that tells it. */
typedef struct tl_steps {
	tl_rebuild_progress_fn fn;
	void *arg;
	tl_rebuild_step at;
} tl_steps;
build_progress tl_steps_progress(tl_steps *st);

/* This process's handles on a view's serving generation. */
typedef struct tl_view_state {
	uint32_t gen, version;
	bool ready;
	uint32_t absent_gen; /* the serving generation named in meta has no
				databases (damaged meta): not ready, not stale */
	MDB_dbi dbi[TL_VIEW_DBS_MAX];
	tl_sink *defer; /* TL_VIEW_BLIND: the write txn's puts, until commit */
	bool behind;    /* lacks later events of the log, so does not serve
			   (tl_views_check; a writable handle rebuilds it) */
} tl_view_state;

struct tl_db {
	MDB_env *env;
	MDB_dbi events, streams, tasks, idem, members, meta;
	MDB_dbi main; /* LMDB's main database: the names, and tl.counts */
	unsigned flags;
	char dir[PATH_MAX];
	const tl_view *const *views;
	size_t views_len;
	tl_view_state *vstate; /* one per view */
	size_t views_snap;     /* the read snapshot (LMDB txn id) at which
				  every view was last found serving and whole
				  (tl_views_check); 0: none */
	bool txn_open;         /* a tl_txn of this handle is open */
	tl_txn *txn;           /* that tl_txn, aborted by tl_db_close */
	bool building;         /* a rebuild or verify's build is running */
	bool writer_held;      /* ...and calls progress inside its write txn */
	build_progress open_prog; /* of the rebuild an open runs */
	/* Views (bits of views[] indexes) that the open found stale and
	 * that were rebuilt from the log (by it or by another process
	 * whose build it waited for) into generation open_rebuilt_gen[i]
	 * when the log's head was open_rebuilt_head: the handle's first
	 * tl_rebuild leaves them be while all of that still holds. */
	uint64_t open_rebuilt;
	uint64_t open_rebuilt_head;
	uint32_t open_rebuilt_gen[64];
	bool map_lost;         /* LMDB failed to map after a resize */
	size_t psize;          /* LMDB's page size (0: not known) */
	atomic_bool copying;   /* a backup's copy runs with a thread that
				  calls back: the map stays (a remap under
				  LMDB's copy crashes it) */
	MDB_txn *probe;        /* no_read_held's read transaction, kept
				  reset between writes (store.c) */
	/* Where its files are reached: dir, or for root the directory held
	 * open (dirfd) as "/proc/self/fd/N" (store.c, root_dir). */
	char fsdir[PATH_MAX];
	int dirfd;
	/* the registry of workspaces open in this process (store.c) */
	dev_t dev;
	ino_t ino;
	pid_t pid;
	struct tl_db *next_open;
};

/* mdb_env_set_mapsize on the open env, probing a new size first so that
 * a failed remap leaves the map as it was (not probed: size 0, adopting
 * another process's size; a remap that fails then marks db->map_lost);
 * 0 or an LMDB/errno code (ENOMEM when the address space is short). */
int tl_env_resize(tl_db *db, size_t size);
/* The bytes of the file's pages in use (0 when it cannot say). */
uint64_t tl_map_used(tl_db *db);
/* The pages on LMDB's free list as txn sees it; 0 or an LMDB code. */
int tl_free_pages(MDB_txn *txn, uint64_t *pages);
/* How often a backup's progress looks at the copy's size (ms; tests make
 * it short). */
extern long tl_backup_tick_ms;
/* Set on the backup's own thread while it adopts a map another process
 * grew, between copies: tl_env_resize goes on then. */
extern _Thread_local bool tl_backup_adopting;
/* Grow the map, doubling it, until bytes more fit past the pages in use
 * (not past 64 TiB): 0 or an errno, the map as it was then.  With no
 * transaction of this process open (tl_db_reserve, a rebuild). */
int tl_map_room(tl_db *db, uint64_t bytes);

/* TL_EINVALID when a tl_txn of db is open: a call that needs LMDB's
 * writer lock would otherwise wait for it for ever. */
int tl_no_txn_open(tl_db *db, tl_err *err);
/* TL_EINVALID "db" when called from a rebuild's progress callback made
 * while the rebuild holds LMDB's writer lock: anything that takes that
 * lock would wait for it for ever. */
int tl_no_writer_held(tl_db *db, tl_err *err);

/* Views: create/rebuild on open; is this process's handle set current? */
int tl_views_open(tl_db *db, tl_err *err);
/* Record in meta "views_seq" (the mark of releases before 0.3.4) that
 * the views hold every event up to seq. */
int tl_views_mark(tl_db *db, MDB_txn *txn, uint64_t seq);
/* Mark the views as holding events first..last, appended by this handle,
 * if they held every event before first. */
int tl_views_advance(tl_db *db, MDB_txn *txn, uint64_t first, uint64_t last);
/* Whether the views must be brought to the serving generations (or, for
 * a writable handle, rebuilt) before txn reads or writes them: *stale.
 * read: txn is a read transaction (whose snapshot may be remembered). */
int tl_views_check(tl_db *db, MDB_txn *txn, bool read, bool *stale);
int tl_views_sync(tl_db *db, tl_err *err);
/* Every view against a rebuild of its own (view_verify.c): the number of
 * differences said through fn, or a negative code.  built (may be NULL):
 * the rebuild's progress; compared (called with built->arg): entries of
 * the rebuilt views compared of their total. */
int tl_verify_views(tl_db *db, tl_problem_fn fn, void *arg,
		    const build_progress *built, tl_progress_fn compared,
		    tl_err *err);
/* Deferred view writes of the open write txn (TL_VIEW_BLIND views):
 * written sorted at commit, marked and rolled back around nested txns,
 * dropped when the txn ends. */
int tl_views_flush(tl_txn *t, tl_commit_progress_fn progress, void *arg,
		   tl_err *err);
/* Between nested transactions (none open), each view's deferred writes
 * that hold more than tl_defer_mem bytes of memory go to a sorted run in
 * a temporary file of the workspace, which the commit's tl_views_flush
 * merges: a transaction of millions of commands (an import of as many
 * tasks in one) then holds at most that much of them in memory, where it
 * held all of them.  0 or TL_ESTORAGE; after a failure a sink is half
 * spilled, and the transaction must be aborted. */
#define TL_DEFER_MEM ((size_t)64 << 20)
extern size_t tl_defer_mem; /* TL_DEFER_MEM; tests make it small */
int tl_views_spill_early(tl_db *db, tl_err *err);
void tl_views_defer_mark(tl_db *db);
void tl_views_defer_rollback(tl_db *db);
void tl_views_defer_reset(tl_db *db);
void tl_views_close(tl_db *db);
extern uint64_t tl_rebuild_chunk; /* events per rebuild chunk */
extern uint64_t tl_rebuild_ahead_min; /* chunks decoded in a second thread */
extern size_t tl_rebuild_finish_min; /* tasks loaded in a second thread */
extern bool tl_rebuild_room; /* false: no room made before (tests) */
/* Tests: called when a rebuild has loaded the log up to the head it saw,
 * before the switching transaction (which applies later events). */
extern void (*tl_rebuild_hook)(void *arg);
extern void *tl_rebuild_hook_arg;
/* Tests: called by a backup between its checks (the actor's, which
 * adopts a map grown elsewhere, and the directory's) and its copy. */
extern void (*tl_backup_hook)(void *arg);
extern void *tl_backup_hook_arg;
/* Tests: called by a backup when its copy is whole, in place and synced,
 * before it reads it back (the same arg). */
extern void (*tl_backup_read_hook)(void *arg);
/* Tests: called when a rebuild has given up its write transaction to
 * sort, load or wait (writers of other processes go on meanwhile); arg
 * points to the phase: 's', 'l' or 'w'. */
extern void (*tl_rebuild_idle_hook)(void *arg);
/* Tests: called by a rebuild's second thread when it has taken a job and
 * before it runs it; arg points to the job: 'l' (a load) or 's' (a
 * sort). */
extern void (*tl_rebuild_second_hook)(void *arg);

/* A rebuild's sorted bulk writer (bulk.c). */
#define TL_KEY_MAX 511 /* LMDB's default maximum key size */
extern size_t tl_rebuild_mem; /* bytes a sink holds before it spills */
extern size_t tl_sort_cached; /* items a radix pass sorts in cache (tests) */
/* Address space reserved for each of a sink's buffers (bulk.c; tests make
 * it small, 0 turns reserving off). */
extern size_t tl_sink_reserve;
tl_sink *tl_sink_new(const char *name, const unsigned *flags, size_t ndbs);
void tl_sink_free(tl_sink *s);
/* Empty it, keeping a database's buffers for reuse when they hold up to
 * tl_sink_keep bytes (16 MiB; tests make it small). */
extern size_t tl_sink_keep;
/* A sink's on_write is told at least every tl_sink_tell bytes written
 * (1 MiB; tests make it small). */
extern size_t tl_sink_tell;
/* A database whose entries are at most its operations over this is
 * written anew, densely (bulk.c; 1; 0 turns it off, for tests). */
extern size_t tl_sink_rewrite_min;
void tl_sink_reset(tl_sink *s);
/* The bytes of buffers it holds (its capacity, not its contents). */
size_t tl_sink_held(const tl_sink *s);
/* The bytes of its records and their items in memory (not spilled). */
size_t tl_sink_bytes(const tl_sink *s);
bool tl_sink_empty(const tl_sink *s);
/* Remember the fill, and go back to it (a nested transaction aborted).
 * For the append path's sinks, which spill only between nested
 * transactions (tl_views_spill_early), before the mark: a run spilled
 * between the two is not taken back. */
void tl_sink_mark(tl_sink *s);
void tl_sink_rollback(tl_sink *s);
int tl_sink_put(tl_sink *s, size_t db, const void *k, size_t klen,
		const void *v, size_t vlen);
/* A deletion (not for MDB_DUPSORT databases). */
int tl_sink_del(tl_sink *s, size_t db, const void *k, size_t klen);
/* Where its sorted runs are spilled: the workspace (NULL: $TMPDIR, else
 * /tmp); dir must outlive the sink. */
void tl_sink_spill_dir(tl_sink *s, const char *dir);
/* Sort what it holds and write it to its spill file as a sorted run per
 * database, emptying its memory (a rebuild's sink past tl_rebuild_mem);
 * tl_sink_write merges the runs.  tl_sink_spills counts the calls (tests). */
int tl_sink_spill(tl_sink *s, tl_err *err);
extern atomic_ulong tl_sink_spills;
extern bool tl_spill_named; /* tests: no O_TMPFILE, a name unlinked at once */
/* Sort now (e.g. in another thread); the sink is not shared meanwhile. */
int tl_sink_sort(tl_sink *s);
/* Write the sink's operations in key order into *txn and empty it; when
 * renew is set (db given), commit *txn and begin a new
 * one every TL_SINK_TXN_BYTES of writes (LMDB keeps a transaction's
 * dirty pages in a sorted list: it stays short). */
#define TL_SINK_TXN_BYTES (64u << 20)
extern size_t tl_sink_txn_bytes; /* TL_SINK_TXN_BYTES; tests make it small */
int tl_sink_write(tl_sink *s, tl_db *db, MDB_txn **txn, bool renew,
		  const MDB_dbi *dbi, tl_err *err);
/* The bytes of records it holds to write, in memory and in sorted runs:
 * what tl_sink_write goes through.  Not while another thread fills it. */
uint64_t tl_sink_pending(const tl_sink *s);
/* tl_sink_write tells fn (NULL: nothing) the bytes of records it goes
 * through, every megabyte or so, from inside the write transaction; at the
 * end of each database the rest, so that the calls add up to
 * tl_sink_pending as it was. */
void tl_sink_on_write(tl_sink *s, void (*fn)(void *arg, uint64_t bytes),
		      void *arg);
/* Puts written so far with MDB_APPEND and without (key not past the last). */
void tl_sink_counts(const tl_sink *s, size_t *appended, size_t *inserted);

/* A write transaction plus what appends need to know. */
typedef struct tl_chain tl_chain; /* chain.c */

struct tl_txn {
	tl_db *db;
	uint64_t owner;      /* tl_thread_id() of the thread that began it:
				LMDB's writer lock is that thread's
				(tl_txn_on_its_thread) */
	MDB_txn *txn;        /* the outer transaction */
	MDB_txn *cur;        /* the transaction appends go to (maybe nested) */
	uint64_t next_seq;   /* seq of the next event */
	uint64_t first_seq;  /* next_seq when the txn began */
	int64_t d_tasks, d_active; /* changes to the counts at commit */
	uint8_t prev_hash[TL_HASH_LEN];
	const uint8_t *after_doc; /* during tl_views_apply of a task event: */
	size_t after_doc_len;     /* the document that will be stored */
	msgpack_sbuffer ev;  /* scratch: event bytes */
	msgpack_sbuffer doc; /* scratch: task/member document */
	msgpack_sbuffer data;/* scratch: event data */
	msgpack_zone zone;   /* scratch: decoding */
	bool need_grow;      /* map full: grow when aborted */
	bool all_or_nothing; /* tl_txn_all_or_nothing: no nested txns */
	bool broken;         /* a request failed in it, or a view's writes
				were half spilled: abort only */
	bool request_failed; /* broken by a request (all or nothing): a
				later call is the caller's misuse */
	/* Cursors kept for the appends of one (possibly nested) txn. */
	MDB_txn *cursors_of;
	MDB_cursor *c_events, *c_streams, *c_tasks;
	tl_chain *chain;     /* a batch's events waiting for their hashes */
	/* The block the running batch copies its results' documents into
	 * (exec.c), and whether the caller wants none. */
	struct tl_doc_block *docs;
	size_t docs_cmds;    /* the batch's commands */
	bool no_docs;
};

/* Run fn in a transaction nested in t (tl_txn_exec's and tl_txn_import's
 * way): when it fails, t is as before it (seqs, hash, counts, the views'
 * deferred writes), and TL_EAGAIN marks t to be given up.
 * *commit_failed says the nested commit was what failed. */
int tl_txn_nested(tl_txn *t, int (*fn)(tl_txn *t, void *arg, tl_err *err),
		  void *arg, bool *commit_failed, tl_err *err);

/* LMDB's file below the records (pages.c): every page the B-trees of the
 * last commit reach is inside the file, reached once, and not on the free
 * list.  Each problem through fn (the first 20); returns their number, or
 * a negative error.  progress (may be NULL): pages reached of the pages
 * in use, now and then during the walk (a walk run again starts at 0). */
int tl_pages_check(tl_db *db, void (*fn)(void *arg, const char *fmt, ...),
		   void *arg, tl_progress_fn progress, void *progress_arg,
		   tl_err *err);

/* verify --replay (replay.c): the log, as stored, imported again into a
 * new workspace in a temporary directory ($TMPDIR, else /tmp; removed
 * after) through every check of import --events, those that need the
 * state each event met included.  The first event refused is passed to fn
 * as a problem.  at (may be NULL): events replayed so far, after each
 * chunk.  Returns the number of problems (0 or 1) or a negative code. */
int tl_replay_log(tl_db *db, tl_problem_fn fn, void *arg,
		  void (*at)(void *arg, uint64_t done), void *at_arg,
		  tl_err *err);
/* Events per transaction of the replay's copy (4,096), and the copy's
 * first map size (0: the workspace's file size): tests set them low. */
extern _Thread_local size_t tl_replay_chunk
	__attribute__((visibility("hidden")));
extern _Thread_local uint64_t tl_replay_map
	__attribute__((visibility("hidden")));

/* The error of a transaction that is broken (t->broken): a request
 * failed in it (all or nothing) or its views' writes failed; then says
 * what becomes of it ("abort it", "it was aborted"). */
int tl_txn_broken_err(const tl_txn *t, const char *then, tl_err *err);
/* Open dir read-only without LMDB's lock.mdb (MDB_NOLOCK): a backup's
 * copy that no other process uses, read back without making a file in
 * a directory that may be another user's (backup.c).  shown: the name
 * its messages give it (NULL: dir). */
int tl_db_open_private(const char *dir, const char *shown, tl_db **out,
		       tl_err *err);
/* "/proc/self/fd/N" for descriptor fd into out, true when it reaches the
 * file of st (false without /proc): a path that names what fd holds,
 * not whatever its name names now (store.c). */
#define TL_FD_PATH_MAX 32
bool tl_fd_path(int fd, const struct stat *st, char out[TL_FD_PATH_MAX]);
/* A directory root alone may change: root's, writable by neither group
 * nor others (what root opens and backs up into, since 0.3.54). */
bool tl_root_alone(const struct stat *st);
/* A number of the calling thread that no other thread of the process
 * has had or will have (pthread_t values are reused once a thread ends). */
uint64_t tl_thread_id(void);
/* 0 when called on the thread that began t, else TL_EINVALID "txn". */
int tl_txn_on_its_thread(const tl_txn *t, tl_err *err);
/* A cursor on dbi in t->cur into *slot, opened once per transaction: 0 or
 * mdb_cursor_open's code (*slot NULL then). */
int tl_txn_cursor(tl_txn *t, MDB_dbi dbi, MDB_cursor **slot);

/* Top-level transactions, read or write (adopting a map grown by another
 * process; waiting up to tl_readers_wait_ms for a slot in a full table
 * of readers; a write refused as TL_MDB_STALE_TABLE below). */
int tl_env_begin(tl_db *db, unsigned flags, MDB_txn **txn); /* LMDB rc */
/* tl_env_begin's refusal of a write transaction that LMDB numbered from
 * a table of readers (lock.mdb) behind the data file's last commit (an
 * open that failed after it set lock.mdb up leaves it at 0): committed,
 * it would build on an older meta page and lose commits.  Outside
 * LMDB's codes (-30799..-30780); tl_mdb_err says it. */
#define TL_MDB_STALE_TABLE (-30700)
/* Slots in LMDB's table of readers (lock.mdb) of a workspace whose lock
 * file this process makes: one per process (or thread) that reads while
 * it has the workspace open.  Tests set fewer. */
extern unsigned tl_max_readers;
/* How long a read waits for a slot when every one is taken. */
extern unsigned tl_readers_wait_ms;
/* After an intermediate commit of a long job (a rebuild's chunks and
 * sorted writes): let a writer of another process that waits for LMDB's
 * writer lock take it before the job takes it again.  The lock is not
 * fair: the job would win nearly every time and starve such writers for
 * the whole job. */
void tl_writer_yield(void);
int tl_read_begin(tl_db *db, MDB_txn **txn, tl_err *err);

/* Map an LMDB error into a tl error (TL_EAGAIN for a full map). */
int tl_mdb_err(tl_err *err, int rc, const char *what);
/* What EFBIG means to a user, for every write's message (since 0.3.51). */
#define TL_EFBIG_HINT "the file would pass this process's file size limit: ulimit -f"

/* mdb_dbi_open, but MDB_CORRUPTED for a database whose record names a
 * meta page (0 or 1) as its root: LMDB asserts, aborting the process, at
 * the first search of such a tree, which only damage makes (pages.c). */
int tl_dbi_open(MDB_txn *txn, const char *name, unsigned flags,
		MDB_dbi *dbi);

/* At open (pages.c): a storage error when the meta page LMDB reads names
 * page 0 or 1 as the root of the free list or the main database. */
int tl_pages_roots_check(tl_db *db, tl_err *err);

/* Grow the map after MDB_MAP_FULL (no transaction may be open). */
int tl_db_grow(tl_db *db, tl_err *err);
/* The map's size now (0 when the map was lost). */
size_t tl_db_map_size(tl_db *db);
/* After a transaction that found the map full: grow it unless it is
 * larger than `before` already (tl_txn_abort of a transaction that a
 * request found full grows it, and so does tl_txn_commit), so that one
 * full map doubles it once.  A growth that failed there left it at
 * `before`: this one then reports why. */
int tl_db_grow_from(tl_db *db, size_t before, tl_err *err);

int tl_meta_get(tl_db *db, MDB_txn *txn, const char *key, MDB_val *val);

/* Big-endian helpers for keys (tl_put_be64 and tl_get_be64 are in
 * tasklog_view.h, for the views too). */
static inline void tl_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}
static inline uint32_t tl_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* An error kept aside (a local tl_err, another thread's) handed to the
 * caller's err, which may be NULL (tasklog.h: "when a tl_err is
 * passed"; before 0.3.52 five places wrote through a NULL one). */
static inline void tl_err_pass(tl_err *err, const tl_err *e)
{
	if (err)
		*err = *e;
}

/* A streams value: version (u32 BE) then seq (u64 BE).  False when the
 * value has another size: a damaged index, never read past its end. */
#define TL_STREAM_VAL 12
static inline bool tl_stream_val(const MDB_val *v, uint32_t *ver,
				 uint64_t *seq)
{
	if (v->mv_size != TL_STREAM_VAL)
		return false;
	if (ver)
		*ver = tl_get_be32(v->mv_data);
	*seq = tl_get_be64((const uint8_t *)v->mv_data + 4);
	return true;
}

static inline bool tl_slice_eq(tl_slice a, const char *s)
{
	size_t n = strlen(s);
	return a.p && a.len == n && memcmp(a.p, s, n) == 0;
}

static inline bool tl_slices_eq(tl_slice a, tl_slice b)
{
	return a.len == b.len && (!a.len || memcmp(a.p, b.p, a.len) == 0);
}

/* Stream keys: 'T' + 16-byte task id, or 'S' + stream text. */
#define TL_STREAM_KEY_MAX (1 + 128)
size_t tl_stream_key(tl_slice stream, uint8_t *out);
/* The stream key of "member:ID" (id of at most TL_MEMBER_ID_MAX bytes)
 * into out; its length. */
size_t tl_member_stream_key(tl_slice id, uint8_t out[TL_STREAM_KEY_MAX]);

/* ---- events --------------------------------------------------------- */

/* What an appended event says, before it has a seq. */
typedef struct tl_event_in {
	const char *type;
	tl_slice stream;       /* text form */
	uint32_t version;
	int64_t at_ms;
	tl_slice actor_id;
	bool actor_system;
	const uint8_t *data;   /* msgpack map */
	size_t data_len;
	const uint8_t *skey;   /* the stream key if known (else derived) */
	size_t skey_len;
	bool new_stream;       /* a stream made now (append to the index) */
} tl_event_in;

/* Append one event to the log inside txn (events + stream index), then
 * hand it to every view.  On success *out (if non-NULL) describes it. */
int tl_log_append(tl_txn *t, const tl_event_in *in, tl_event *out,
		  tl_err *err);

/* Decode a stored event record.  Upcasting of old schemas happens here:
 * data may then point into zone-owned memory of `scratch`. */
int tl_event_decode(const uint8_t *raw, size_t len, tl_event *ev,
		    msgpack_zone *zone, msgpack_sbuffer *scratch);
/* The same, with data as stored, not upcast (import checks the shape an
 * older schema was written in). */
int tl_event_decode_stored(const uint8_t *raw, size_t len, tl_event *ev);
/* The checks of `import --events` that need no state (import.c): ev's
 * stream and id, its time, its actor's form (kind system for the system
 * user alone), its record's form and its data's shape.  0, or
 * TL_EINVALID naming the field (TL_ESTORAGE when out of memory); verify
 * reports what import would refuse, so that a log it calls clean imports
 * again. */
int tl_event_check_written(const tl_event *ev, msgpack_zone *zone,
			   tl_err *err);

/* The first two fields of a stored event record, its seq and its id (as
 * stored: text), read without decoding the rest; false when the record
 * does not begin as an event does. */
bool tl_event_head(const uint8_t *raw, size_t len, uint64_t *seq,
		   tl_slice *id);

/* Whether ev's actor map is as every release writes it: the keys "id" and
 * "kind" alone, in that order.  The decoder takes the first of each and
 * steps over any other key: a log with a second "id" there named one
 * actor in the task's state and another in its JSON (0.3.48 imported it
 * and verified it clean). */
bool tl_event_actor_written(const tl_event *ev);

/* reads.c: the notifications each member has read, marked in meta and
 * caught up from the member's stream (`notifications read` appends the
 * unread ones only).  tl_reads_catch_up marks what the stream's reads
 * name up to its last event, whose version it gives; tl_reads_marked then says whether seq is
 * read; tl_reads_mark marks seqs, read by the event of the stream's
 * `version` just appended.  tl_reads_verify compares every member's
 * marks with its stream (problems through fn). */
int tl_reads_catch_up(tl_txn *t, const char *member, uint32_t *version,
		      tl_err *err);
int tl_reads_marked(tl_txn *t, const char *member, uint64_t seq,
		    bool *marked, tl_err *err);
int tl_reads_mark(tl_txn *t, const char *member, const uint64_t *seqs,
		  size_t n, uint32_t version, tl_err *err);
int tl_reads_verify(tl_db *db, MDB_txn *txn,
		    void (*fn)(void *arg, const char *problem), void *arg,
		    tl_err *err);
/* Drop every member's marks (a rebuild of every view does): made again
 * at each one's next read.  0 or an LMDB code. */
int tl_reads_drop_all(tl_db *db, MDB_txn *txn);

/* An event id and where it was seen (a seq, or an index of records). */
typedef struct tl_id_at {
	uint8_t id[16];
	uint64_t at;
} tl_id_at;
/* Sort a by id, then by at, and call dup for each entry whose id an
 * earlier entry (smaller at) holds, with that entry, up to max calls;
 * returns the number of such entries (every one, past max too). */
size_t tl_id_dups(tl_id_at *a, size_t n, size_t max,
		  void (*dup)(void *arg, const tl_id_at *first,
			      const tl_id_at *again),
		  void *arg);

/* Compute the chain hash of a stored record given the previous hash. */
void tl_event_hash(const uint8_t prev[TL_HASH_LEN], const uint8_t *raw,
		   size_t len, uint8_t out[TL_HASH_LEN]);

/* chain.c: a batch's hash chain on a second thread.  Batches of at least
 * tl_chain_min commands use it (tests set 1).  tl_chain_begin: false when
 * no thread could be had (the batch then hashes inline).  While t->chain
 * is set, tl_log_append queues a copy of each event (tl_chain_push: its
 * hash bytes zero, written by the thread) instead of storing it;
 * tl_chain_sync waits for the hashes and stores the queued events in
 * t->cur (whatever reads the log in the transaction calls it first);
 * tl_chain_end syncs and stops; tl_chain_discard stops and drops the
 * queue (a failed batch). */
extern size_t tl_chain_min;
extern size_t tl_chain_chunk; /* bytes of queue per allocation (1 MiB) */
extern size_t tl_chain_queue_max; /* bytes queued before a sync (64 MiB) */
extern atomic_ulong tl_chain_started; /* batches that used the thread */
extern atomic_ulong tl_chain_syncs;   /* waits for it that stored events */
bool tl_chain_begin(tl_txn *t);
int tl_chain_push(tl_txn *t, uint64_t seq, const uint8_t *raw, size_t len,
		  tl_err *err);
int tl_chain_sync(tl_txn *t, tl_err *err);
/* tl_chain_sync when an event at or before seq is still queued (a read
 * of the log up to seq). */
int tl_chain_sync_to(tl_txn *t, uint64_t seq, tl_err *err);
int tl_chain_end(tl_txn *t, tl_err *err);
void tl_chain_discard(tl_txn *t);

/* Highest seq and its hash, from the last record of the events db; hash
 * NULL: the seq alone, from the key (the record is not read, so that a
 * damaged one does not stop an open or a read of the views). */
int tl_log_head(tl_db *db, MDB_txn *txn, uint64_t *seq,
		uint8_t hash[TL_HASH_LEN], tl_err *err);

/* False when an events record v, as an LMDB read gave it, holds a size
 * past the pages that hold it: a damaged node, whose read would run past
 * the map (a fault) or into other pages.  A value larger than a leaf
 * holds must be in overflow pages, and fit them.  (A size damaged but
 * still within a leaf's room is left to the hash chain.) */
bool tl_event_val_fits(const tl_db *db, const MDB_val *v);
/* The storage error for such a record of event seq; returns TL_ESTORAGE. */
int tl_event_val_damaged(tl_err *err, uint64_t seq, const MDB_val *v);
/* The stored record of event seq into *v (read.c): TL_ESTORAGE when it is
 * missing or does not fit the pages that hold it. */
int tl_event_raw(tl_db *db, MDB_txn *txn, uint64_t seq, MDB_val *v,
		 tl_err *err);

/* ---- msgpack helpers ------------------------------------------------ */

/* msgpack-c's packer goes through tl_packer (tasklog_msgpack.h), which
 * remembers a failed write. */
/* The direct msgpack writer (tl_w_*) is in tasklog_msgpack.h. */

void tl_pack_str(msgpack_packer *pk, const char *s, size_t len);

/* Pack a string literal of under 32 bytes in one write (map keys, tokens):
 * the packer's per-call overhead was a third of an append's CPU. */
static inline void tl_pack_short(msgpack_packer *pk, const char *k, size_t n)
{
	char b[32];
	b[0] = (char)(0xa0 | n);
	memcpy(b + 1, k, n);
	pk->callback(pk->data, b, n + 1);
}
#define TL_KEY(pk, lit) tl_pack_short((pk), (lit), sizeof(lit) - 1)
void tl_pack_cstr(msgpack_packer *pk, const char *s);
void tl_pack_slice_or_nil(msgpack_packer *pk, tl_slice s);
void tl_pack_time(msgpack_packer *pk, int64_t ms);
void tl_pack_time_or_nil(msgpack_packer *pk, bool has, int64_t ms);
bool tl_obj_time(const msgpack_object *o, int64_t *ms);
/* Whether ms lies in the range times are taken in (time.c: 1970 to the
 * end of 9999 UTC, the RFC 3339 years). */
bool tl_time_in_range(int64_t ms);
bool tl_obj_is_str(const msgpack_object *o, const char *s);
tl_slice tl_obj_slice(const msgpack_object *o); /* str -> slice, else absent */
const msgpack_object *tl_map_get(const msgpack_object *map, const char *key);
/* True when raw[0..len) starts with one well-formed msgpack object whose
 * containers claim no more entries than the bytes left could hold, nested
 * at most 33 deep: safe to hand to msgpack_unpack. */
bool tl_mp_fits(const uint8_t *raw, size_t len);
/* NULL when every object of the record raw[0..len) is in the form the
 * engine writes (codec.c), else what is not, at offset *at. */
const char *tl_mp_unwritten(const uint8_t *raw, size_t len, size_t *at);
/* The direct reader (tl_rd_*) is in tasklog_msgpack.h. */
/* One pass over map: out[j] = the value of keys[j] or NULL (n <= 32). */
void tl_map_pick(const msgpack_object *map, const char *const *keys,
		 size_t n, const msgpack_object **out);

/* ---- the task model ------------------------------------------------- */


void tl_task_release(tl_task *t);
int tl_task_copy(tl_task *dst, const tl_task *src);
/* Encode a task as its document (the JSON shape plus "deleted" and
 * "created_seq") into pk. */
/* Append the stored document of t to sb (false: out of memory). */
bool tl_task_pack(msgpack_sbuffer *sb, const tl_task *t);
int tl_task_unpack(const uint8_t *doc, size_t len, tl_task *t,
		   msgpack_zone *zone);
/* A task event's data, typed: what the fold applies.  Commands fill one
 * beside the data they pack (exec.c), replays decode it from the stored
 * data (tl_change_decode), and tl_task_apply is the single definition of
 * what each event does to a task.  Slices point into the command or the
 * event; `set` says which fields the event carries (a nullable string
 * that is set with a NULL p is nil: cleared). */
enum {
	TL_EV_CREATED, TL_EV_UPDATED, TL_EV_ASSIGNED, TL_EV_STATUS_CHANGED,
	TL_EV_COMPLETED, TL_EV_TAGGED, TL_EV_UNTAGGED, TL_EV_DELETED,
	TL_EV_COUNT
};
enum {
	TL_CH_TITLE = 1 << 0, TL_CH_TYPE = 1 << 1, TL_CH_STATUS = 1 << 2,
	TL_CH_DUE = 1 << 3, TL_CH_ASSIGNEE = 1 << 4, TL_CH_NOTES = 1 << 5,
	TL_CH_LINK_TYPE = 1 << 6, TL_CH_LINK_ID = 1 << 7,
	TL_CH_PIPELINE = 1 << 8, TL_CH_STAGE = 1 << 9
};
typedef struct tl_change {
	int kind;               /* TL_EV_* */
	unsigned set;           /* TL_CH_* */
	uint8_t id[16];         /* task.created: the task's id */
	tl_slice title, assignee, notes, link_id, pipeline, stage;
	int type, status, link_type;
	bool has_due;
	int64_t due;
	tl_slice tag;           /* task.tagged, task.untagged */
	const tl_slice *tags;   /* task.created, in order */
	size_t tags_len;
} tl_change;
const char *tl_change_type(int kind); /* "task.created", ... */
/* Decode ev's data (already upcast) into ch; tags live in zone. */
int tl_change_decode(const tl_event *ev, tl_change *ch, msgpack_zone *zone);
/* Apply one task event to t (zeroed for task.created). */
int tl_task_apply(tl_task *t, const tl_event *ev, const tl_change *ch);
/* Append the event data of ch to sb (the stored shape, docs/events.md);
 * before: the task before the event (its values go in "previous"), NULL
 * for task.created.  False: out of memory or a change without it. */
bool tl_change_pack(msgpack_sbuffer *sb, const tl_change *ch,
		    const tl_task *before);
/* tl_change_decode + tl_task_apply. */
int tl_task_fold(tl_task *t, const tl_event *ev, msgpack_zone *zone);
bool tl_task_has_tag(const tl_task *t, tl_slice tag);

/* Fold a task's stream from the log, events with seq <= max_seq only,
 * and with max_at other than INT64_MAX, up to its last version made at
 * or before max_at (a prefix of the stream, whatever the times of the
 * versions before that one).  TL_ENOTFOUND (err filled, as for every
 * failure) when no event qualifies. */
int tl_task_fold_until(tl_db *db, MDB_txn *txn, const uint8_t id[16],
		       uint64_t max_seq, int64_t max_at, tl_task *t,
		       msgpack_zone *zone, tl_err *err);

/* Count a task's change into the txn's deltas of the counts (tasks not
 * deleted, and of those the active ones).  before: NULL for creation. */
void tl_counts_note(tl_txn *t, const tl_task *before, const tl_task *after);
/* The counts as of the log's head; false when none are stored for it (a
 * workspace from before them: count with tl_counts_scan). */
bool tl_counts_get(tl_db *db, MDB_txn *txn, uint64_t *tasks,
		   uint64_t *active);
/* Store the counts as of the log up to seq at (an LMDB code). */
int tl_counts_put(tl_db *db, MDB_txn *txn, uint64_t tasks, uint64_t active,
		  uint64_t at);
/* Count by scanning the tasks db. */
/* Whether the stored counts record is one no release writes (not 24
 * bytes, or of a seq past the log's head), said in buf (verify). */
bool tl_counts_odd(tl_db *db, MDB_txn *txn, char *buf, size_t cap);
int tl_counts_scan(tl_db *db, MDB_txn *txn, uint64_t *tasks,
		   uint64_t *active, tl_err *err);

/* The most ids one `notifications read` reads (every release's). */
#define TL_IDS_MAX 1000
/* Whether event seq, as t holds the log, is a notification of member (a
 * task.created or task.assigned that gave a task, not deleted since, to
 * member, by another actor): 0, TL_ENOTFOUND naming "ids", or a storage
 * error (exec.c). */
int tl_notification_check(tl_txn *t, tl_slice member, uint64_t seq,
			  tl_err *err);

/* Hand an appended event to every view of the workspace. */
int tl_views_apply(tl_txn *t, const tl_event *ev, const tl_task *before,
		   const tl_task *after, tl_err *err);

/* The end of a task id as people type it from a table: the last
 * characters of its 8-4-4-4-12 form (shorter than the whole, dashes where
 * that form has them, not starting with one), with at least 6 hex
 * digits. */
#define TL_ID_SUFFIX_MIN 6
typedef struct tl_id_suffix {
	uint8_t nib[32];
	size_t len;
} tl_id_suffix;
bool tl_id_suffix_parse(tl_slice text, tl_id_suffix *out);
bool tl_id_suffix_match(const tl_id_suffix *sx, const uint8_t id[16]);
/* The one task whose id ends in sx, into id; TL_ENOTFOUND (none) or
 * TL_EINVALID (two or more) naming `field`.  One seek in the ids view
 * (ids.c) when it holds the log (read: txn is a read, whose views are
 * checked first); else a scan of the streams database's task keys. */
int tl_task_find_suffix(tl_db *db, MDB_txn *txn, bool read,
			const tl_id_suffix *sx, tl_slice text,
			const char *field, uint8_t id[16], tl_err *err);
/* The ids in the ids view (ids.c) that end in sx: the first two (*found
 * 0, 1 or 2) in the order of its keys. */
int tl_ids_find(MDB_txn *txn, MDB_dbi dbi, const tl_id_suffix *sx,
		uint8_t ids[2][16], size_t *found, tl_err *err);
extern _Thread_local unsigned long tl_ids_seeks; /* tl_ids_find calls: tests */
/* A task id argument (field "id"): a whole UUID into id, or the end of
 * one into *sx with *is_short set, for tl_task_find_suffix once the other
 * arguments are checked; else TL_EINVALID. */
int tl_task_ref_parse(tl_slice s, uint8_t id[16], tl_id_suffix *sx,
		      bool *is_short, tl_err *err);
/* Read the task doc from the tasks db: 0, MDB_NOTFOUND or other. */
int tl_task_load(tl_db *db, MDB_txn *txn, const uint8_t id[16], tl_task *t,
		 msgpack_zone *zone, tl_err *err);

/* ---- members -------------------------------------------------------- */

typedef struct tl_member {
	char id[TL_MEMBER_ID_MAX + 1];
	char name[TL_NAME_MAX + 1];
	bool admin;
	bool crm_access;
	bool system;
} tl_member;

/* Look a member up (the system user included).  TL_ENOTFOUND if absent. */
int tl_member_load(tl_db *db, MDB_txn *txn, tl_slice id, tl_member *m,
		   msgpack_zone *zone, tl_err *err);
void tl_member_pack(msgpack_packer *pk, const tl_member *m);
/* Fold a member.added (added) or member.updated data map into m. */
int tl_member_fold(tl_member *m, const msgpack_object *d, bool added);
/* The member folded from its stream's events with seq <= max_seq;
 * TL_ENOTFOUND (err filled) when there are none. */
int tl_member_fold_until(tl_db *db, MDB_txn *txn, tl_slice id,
			 uint64_t max_seq, tl_member *m, msgpack_zone *zone,
			 tl_err *err);

/* The number of admins with CRM access but except (>= 0), or a negative
 * code (err) when the members could not all be read: never a count that
 * would refuse a change for a failure of its own. */
int tl_member_other_admins(tl_db *db, MDB_txn *txn, const char *except,
			   msgpack_zone *zone, tl_err *err);

/* A read transaction with the actor resolved and allowed. */
int tl_read_as(tl_db *db, const tl_ctx *ctx, MDB_txn **txn,
	       tl_member *actor, msgpack_zone *zone, tl_err *err);
/* The same with a zone of its own: the actor's fields are its arrays, so
 * they outlive it. */
int tl_read_actor(tl_db *db, const tl_ctx *ctx, MDB_txn **txn,
		  tl_member *actor, tl_err *err);

/* The tokens database (token.c): each record paired with its other
 * kind and of a member; each problem through fn.  0, or a storage
 * error. */
int tl_tokens_verify(tl_db *db, MDB_txn *txn,
		     void (*fn)(void *arg, const char *problem), void *arg,
		     tl_err *err);

/* Resolve ctx->actor (default: first admin) and check CRM access. */
int tl_actor_resolve(tl_db *db, MDB_txn *txn, const tl_ctx *ctx,
		     tl_member *actor, msgpack_zone *zone, tl_err *err);

/* ---- text validation ------------------------------------------------ */


/* tl_check_text is in tasklog_view.h (queries check their texts too). */

/* The UTC offset (seconds east) of zone tz at instant t (seconds), from
 * the zone's TZif file (time.c); TL_EINVALID when tz names no zone. */
int tl_zone_offset(const char *tz, int64_t t, int64_t *off);
/* The same from the bytes of a TZif file (fuzzing and tests). */
int tl_zone_parse(const uint8_t *buf, size_t len, int64_t t, int64_t *off);

#endif
