/*
 * tasklog_view.h - the contract between the engine and its projections.
 *
 * A view (projection) is a named, versioned set of LMDB databases that the
 * engine keeps equal to a fold of the log.  The engine calls apply() for
 * every event inside the append transaction, so a reader never sees an
 * event without its views, and calls it again for every event of the log
 * when the view is rebuilt (with rebuilding set: no side effects then).
 * A view that writes only through tl_view_put/tl_view_del and never reads
 * its databases says TL_VIEW_BLIND: its writes are then collected in a
 * sink and made sorted by key, at commit or at the end of a rebuild.  A
 * view whose content follows from each task's current state alone also
 * gives load(), which a rebuild calls once per task instead of apply()
 * per event.  The engine knows the list of views it was opened with and
 * nothing of their insides.
 */
#ifndef TASKLOG_VIEW_H
#define TASKLOG_VIEW_H

#include <errno.h>
#include <lmdb.h>
#include "tasklog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The state of one task: what the fold of its events gives.  Its strings
 * live in one block the task owns (mem_): read them, but do not free or
 * replace them one by one; tl_task_release frees the whole task. */
typedef struct tl_task {
	uint8_t id[16];
	char *title;
	int type;
	int status;
	bool has_due;
	int64_t due_at;
	char *assignee;   /* NULL = unassigned */
	char *notes;      /* NULL = none */
	int link_type;
	char *link_id;
	int64_t created_at;
	char *created_by;
	bool created_by_system;
	int64_t updated_at;
	bool has_completed;
	int64_t completed_at;
	char *pipeline, *stage;
	char **tags;
	size_t tags_len;
	uint64_t version;
	uint64_t created_seq;
	bool deleted;
	/* private to engine/task.c: the block the strings above live in,
	 * and the room of tags */
	char *mem_;
	size_t mem_len_, mem_cap_, tags_cap_;
} tl_task;

#define TL_VIEW_DBS_MAX 8

/* True when rc is an LMDB or system error rather than 0 or a TL_E* code:
 * LMDB's own codes are large negative numbers (MDB_KEYEXIST, -30799, up
 * to MDB_LAST_ERRCODE), errno values positive.  (Before 0.3.20 only
 * MDB_KEYEXIST itself counted, so MDB_CORRUPTED and the others passed
 * through unmapped: "unknown" instead of a storage error.) */
static inline bool tl_is_mdb_rc(int rc)
{
	return rc > 0 || rc < TL_EAGAIN;
}

/* Big-endian 8-byte fields, which sort as unsigned numbers do (the
 * compiler makes each one byte-swapped store or load). */
static inline void tl_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}
static inline uint64_t tl_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Fill err for an allocation that failed: code TL_ESTORAGE, field
 * "storage", message "out of memory"; returns TL_ESTORAGE. */
static inline int tl_err_oom(tl_err *err)
{
	return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
}

/* A stored record could not be decoded: damage, or an allocation of the
 * decoder that failed.  Decoders fail alike for both, so set errno to 0
 * before the decode; malloc's ENOMEM then says which.  Fills err with
 * "out of memory" or with what (a fixed text); returns TL_ESTORAGE. */
static inline int tl_err_undecodable(tl_err *err, const char *what)
{
	return errno == ENOMEM ? tl_err_oom(err)
			       : tl_err_set(err, TL_ESTORAGE, "storage", "%s",
					    what);
}

/* A rebuild's buffer of puts, sorted and appended in bulk (bulk.c). */
typedef struct tl_sink tl_sink;

/* What apply() and load() work in. */
typedef struct tl_view_ctx {
	tl_db *db;
	MDB_txn *txn;
	const MDB_dbi *dbi; /* the view's databases, in the order of dbs[] */
	bool rebuilding;    /* replaying the log: no side effects */
	const char *name;   /* the view's, for errors */
	tl_sink *sink;      /* non-NULL: tl_view_put buffers (rebuilds) */
	void *state;        /* a rebuild's bulk_begin() state, or NULL */
	const uint8_t *doc; /* the task's stored document after the event, */
	size_t doc_len;     /* when the engine has it (appends); else NULL */
} tl_view_ctx;

/* Put key -> value into database db (index into dbs[]) of the view:
 * directly, or into the rebuild's sink.  Returns 0, TL_EAGAIN (map full:
 * the engine grows it and reruns) or TL_ESTORAGE, with err set. */
TL_API int tl_view_put(const tl_view_ctx *vc, size_t db, const void *k, size_t klen,
		const void *v, size_t vlen, tl_err *err);

/* Delete key from database db (absent: fine), directly or into the sink
 * (not for MDB_DUPSORT databases). */
TL_API int tl_view_del(const tl_view_ctx *vc, size_t db, const void *k, size_t klen,
		tl_err *err);

/* tl_view.flags: apply() only writes (tl_view_put, tl_view_del) and never
 * reads its databases, so that an append may collect its writes and make
 * them at commit, sorted by key (B-tree descents then share their pages
 * and stay in the CPU's caches), and a rebuild may collect them all, sort
 * them and append them in key order. */
#define TL_VIEW_BLIND 1u
/* tl_view.flags, for a view with load() that also derives entries from
 * events: a rebuild calls load() once per task and apply() for every event
 * (vc->rebuilding and vc->sink set), and apply() then leaves out what
 * load() writes. */
#define TL_VIEW_LOAD_AND_APPLY 2u

struct tl_view {
	const char *name;             /* 1..32 of [a-z0-9_-], unique */
	uint32_t version;             /* bump to force a rebuild */
	const char *const *dbs;       /* names of its databases (as name;
					 1..TL_VIEW_DBS_MAX of them) */
	const unsigned *db_flags;     /* MDB_DUPSORT etc., one per db */
	size_t dbs_len;
	/* Fold one event into the view.  before is the task before the event
	 * (NULL for task.created and non-task events), after the task after
	 * it (NULL for non-task events).  Return 0 or a TL_E* code, with
	 * err filled by tl_err_set (err may be NULL, when the library's
	 * caller passed none: tl_err_set takes it; so in load() and
	 * bulk_end()).  In a
	 * batch whose chain is hashed on a second thread (64 commands or
	 * more, engine/chain.c), an appended ev has no hash yet: ev->hash
	 * and the hash bytes of ev->raw are zero.  Otherwise both hold the
	 * event's hash. */
	int (*apply)(const tl_view_ctx *vc, const tl_event *ev,
		     const tl_task *before, const tl_task *after, tl_err *err);
	/* Optional, for fast rebuilds: when the view's content is a function
	 * of each task's current state alone, load() writes (tl_view_put
	 * only) what the view holds for one task.  A rebuild then folds the
	 * log first and calls load() once per task, deleted ones included,
	 * instead of apply() once per event; the puts are sorted and
	 * appended.  apply() still serves appends.  load() may run in a
	 * second thread, beside other views' loads and writes, with
	 * vc->txn NULL: it reads only the task and writes only with
	 * tl_view_put/tl_view_del.  (A view that also has bulk_begin()
	 * loads on the rebuilding thread, with the transaction, then
	 * ends.) */
	int (*load)(const tl_view_ctx *vc, const tl_task *task, tl_err *err);
	/* Optional, for a view that reads its own databases in apply() (so
	 * is not blind): a rebuild may give it memory of its own instead.
	 * bulk_begin() makes that state (NULL: out of memory); apply() then
	 * gets it in vc->state and keeps the view there, not in LMDB; at the
	 * end bulk_end() writes what it holds with tl_view_put (sorted and
	 * appended by the engine), and bulk_free() releases it. */
	void *(*bulk_begin)(void);
	int (*bulk_end)(const tl_view_ctx *vc, void *state, tl_err *err);
	void (*bulk_free)(void *state);
	unsigned flags; /* TL_VIEW_* */
};

/* ---- what views and their queries may use ------------------------------ */

/* A read transaction for a query: the actor resolved and allowed (CRM
 * access), and this process's view handles current. */
typedef struct tl_reader {
	tl_db *db;
	MDB_txn *txn;
	char actor[65];
	bool admin;
	int64_t now_ms;   /* ctx->now_ms or the wall clock */
	char tz[64];      /* ctx->tz or the workspace zone */
	int week_start;   /* 1 Monday, 0 Sunday */
} tl_reader;
/* On failure (an actor who may not read, an unknown ctx->tz, a
 * ctx->now_ms outside the years 1970 to 9999: TL_EINVALID, field "now")
 * nothing is held: r->txn is NULL, and tl_reader_end does nothing. */
TL_API int tl_reader_begin(tl_db *db, const tl_ctx *ctx, tl_reader *r,
		    tl_err *err);
TL_API void tl_reader_end(tl_reader *r);

/* The engine's own view (engine/ids.c): task ids by their last hex
 * digits, which finds a task by the end of its id with one seek.  Every
 * handle opened with views keeps it after them (since 0.3.41). */
TL_API extern const tl_view tl_view_ids;
/* The views db keeps: those it was opened with, then tl_view_ids; none
 * for a handle opened without views. */
TL_API const tl_view *const *tl_db_views(const tl_db *db, size_t *len);

/* The serving databases of a view (order of its dbs[]), or NULL. */
TL_API const MDB_dbi *tl_view_dbis(tl_db *db, const char *name);
/* The error of a query whose view `name` is not serving (tl_view_dbis
 * gave NULL): TL_ESTORAGE "storage", saying why and what to do (the view
 * was not opened; or it is behind the log or of another version, and a
 * read-only handle cannot rebuild it). */
TL_API int tl_view_unavailable(tl_db *db, const char *name, tl_err *err);

/* The stored document of a task: valid until the transaction ends.
 * Returns 0, MDB_NOTFOUND or an LMDB error. */
TL_API int tl_task_doc(tl_db *db, MDB_txn *txn, const uint8_t id[16], MDB_val *doc);
/* The stored document of task t, as the engine stores it, into sb (a
 * msgpack_sbuffer, cleared first).  False: out of memory. */
struct msgpack_sbuffer;
TL_API bool tl_task_encode(const tl_task *t, struct msgpack_sbuffer *sb);
/* Decode a task document (release with tl_task_release): 0, or
 * TL_ESTORAGE when doc is not one or, errno ENOMEM, memory ran out
 * (nothing to release then). */
TL_API int tl_task_decode(const void *doc, size_t len, tl_task *t);
TL_API void tl_task_release(tl_task *t);
/* The names of tl_task.type, .status and .link_type values. */
TL_API extern const char *const tl_type_tokens[10];
TL_API extern const char *const tl_status_tokens[5];
TL_API extern const char *const tl_entity_tokens[4];

/* A printable quotation of s for error messages, in buf (cap at least 48
 * bytes): printable ASCII and whole UTF-8 characters kept (but C1
 * controls, format characters such as bidirectional controls and the soft
 * hyphen, line or paragraph separators, and since 0.3.51 a combining mark
 * first or right after an escape), other bytes (a backslash too) as
 * \xNN, a character's bytes escaped together, cut
 * with "..." after about 40 bytes, never inside a character or its
 * escape, and (since 0.3.51) where room allows between grapheme
 * clusters, not between a letter and its marks.  Returns buf. */
TL_API const char *tl_quote(tl_slice s, char *buf, size_t cap);
/* tl_quote cutting after about max bytes instead of 40 (since 0.3.51);
 * cap at least max + 20. */
TL_API const char *tl_quote_max(tl_slice s, size_t max, char *buf,
				size_t cap);
/* 0 or TL_EINVALID naming field: valid UTF-8 of min..max bytes without
 * NUL and, unless any_control (notes: text pasted from anywhere, which
 * the CLI escapes on display), without control characters (C0, DEL,
 * C1); a text that is required (min > 0) and no notes is also more than
 * spaces and separators (Unicode Zs, Zl, Zp: U+0020, U+00A0,
 * U+2000..U+200A, U+2028, ...). */
TL_API int tl_check_text(tl_slice s, const char *field, size_t min,
			 size_t max, bool any_control, tl_err *err);
/* Whether id is a well-formed member id: 1 to 64 bytes of a-z, 0-9, '.',
 * '_' and '-'.  It says nothing of whether the member exists. */
TL_API bool tl_member_id_valid(tl_slice id);
/* 0 when id can name whose notifications (field): a well-formed member
 * id, or `me`; else TL_EINVALID, also for the words that name no one
 * ("unassigned", and "-" as tables print it), whose inbox there is not
 * (a member that a release before 0.3.6 let be so called reads theirs
 * with --as). */
TL_API int tl_member_ref_check(tl_slice id, const char *field, tl_err *err);

/* A record "TYPE:ID" as a task's link must be: TYPE one of
 * tl_entity_tokens (its index into *type), ID 1..128 bytes of UTF-8
 * without NUL or control characters (into *id, pointing into s).
 * TL_EINVALID otherwise, naming `field`, or for field "link" the part:
 * "link", "link.type" or "link.id". */
TL_API int tl_record_parse(tl_slice s, const char *field, int *type,
			   tl_slice *id, tl_err *err);
/* Whether a member exists, the system user and members without CRM
 * access included (tasks may still be assigned to one who lost it).
 * False also when its record cannot be read: tl_member_find tells. */
TL_API bool tl_member_exists(tl_db *db, MDB_txn *txn, tl_slice id);
/* The same: 0 when the member exists, TL_ENOTFOUND (err untouched) when
 * it does not, TL_ESTORAGE (err set) when the members cannot be read
 * (since 0.3.20). */
TL_API int tl_member_find(tl_db *db, MDB_txn *txn, tl_slice id,
			  tl_err *err);

#ifdef __cplusplus
}
#endif
#endif
